"""The report as a notebook sees it: the frames of one request, and how sections show things.

    rep = open_report(region="渝北区", year=2024)     # in the notebook's first cell
    rep.metrics                                       # a DataFrame: change it, chart it
    sections.headline(rep, indicators=["auto_output"])

Run by ``analysis report``, the notebook gets a ``handover`` folder holding the frames the parent
process prepared; run by hand in JupyterLab, :func:`open_report` validates the parameters and
prepares the same frames through :func:`analysis.handover.prepare`. Either way nothing is loaded
or computed twice, and a bad parameter is a clear error in the first cell, never an empty report.

Sections display HTML with metadata that tells the exporter what they are (the title block, a
table-of-contents entry); an analyst's own cells (a DataFrame, a matplotlib figure) appear in
the exported report in place, in the report's style.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from . import charts
from .export import META_KEY  # the display metadata key the exporter reads
from .catalog import Catalog, load_catalog
from .handover import ReportData
from .messages import Messages, messages
from .request import FUTURE_MEASURES, NOTEBOOK_LABELS, ReportRequest



@lru_cache(maxsize=1)
def _blocks():
    """The Jinja macros of ``templates/sections.html.j2`` (autoescaped)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from .export import TEMPLATE_FILTERS, TEMPLATES
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]))
    env.filters.update(TEMPLATE_FILTERS)
    return env.get_template("sections.html.j2").module


@dataclass
class Report:
    """One report's frames, catalog and words, and the display helpers its sections use."""

    data: ReportData
    catalog: Catalog
    used_ids: set[str] = field(default_factory=set)
    show: bool = True                  # False: compose without displaying (scripts, tests)
    parts: list[tuple[str, dict]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"section": 0, "figure": 0, "table": 0})
    notes: list[str] = field(default_factory=list)   # caveats, each said once and referenced by number
    _rows: dict = field(default_factory=dict, repr=False, compare=False)   # see rows_of

    # ---------------------------------------------------------------- the frames
    @property
    def request(self) -> ReportRequest:
        return self.data.request

    @property
    def lang(self) -> str:
        return self.request.lang

    @property
    def msg(self) -> Messages:
        return messages(self.lang)

    @property
    def region(self) -> str:
        return self.request.region

    @property
    def year(self) -> int:
        return self.request.year

    @property
    def observations(self) -> pd.DataFrame:
        return self.data.observations

    @property
    def metrics(self) -> pd.DataFrame:
        return self.data.metrics

    @property
    def checks(self) -> pd.DataFrame:
        return self.data.checks

    @property
    def sources(self) -> pd.DataFrame:
        return self.data.sources

    @property
    def own(self) -> pd.DataFrame:
        """The region's figures of the report year, and its targets and plans for later years."""
        o = self.observations
        return o[(o["region"] == self.region) & ((o["year"] == self.year) |
                                                 (o["measure"].isin(FUTURE_MEASURES) & (o["year"] > self.year)))]

    def rows_of(self, regions, code: str, measure: str) -> pd.DataFrame:
        """The rows of a region (or of regions) for one indicator and measure of the report year, without
        an entity, in the data's order. Sections ask this hundreds of times for a region with peers; each
        boolean filter of the whole frame costs milliseconds, so the rows' positions are indexed once per
        observations frame (rebuilt when ``rep.data.observations`` is replaced or changes length)."""
        o = self.observations
        key = (id(o), len(o), self.year)
        if self._rows.get("key") != key:
            import numpy as np
            keep = ((o["entity"] == "") & (o["year"] == self.year)).to_numpy(dtype=bool, na_value=False)
            pos = np.flatnonzero(keep)
            index: dict[tuple, list[int]] = {}
            cols = [o[c].to_numpy(dtype=object)[pos] for c in ("region", "indicator", "measure")]
            for p, k in zip(pos.tolist(), zip(*cols)):
                index.setdefault(k, []).append(p)
            self._rows = {"key": key, "index": index}
        index = self._rows["index"]
        found = sorted(p for r in ([regions] if isinstance(regions, str) else regions)
                       for p in index.get((r, code, measure), ()))
        return o.iloc[found]

    def metrics_table(self) -> pd.DataFrame:
        """The metrics with their worded values: exactly what is published as ``…_metrics.csv``."""
        from .handover import published
        return published(self.data)["metrics"]

    def checks_table(self) -> pd.DataFrame:
        """The reconciliation: exactly what is published as ``…_checks.csv``."""
        return self.checks

    # ---------------------------------------------------------------- words
    def name(self, code: str, *, mid: bool = False) -> str:
        """An indicator's name in the report's language (``mid``: as it reads mid-sentence)."""
        name = self.catalog.name(code, self.lang)
        return self.msg.mid(name) if mid else name

    def place(self, text: str) -> str:
        """A region, peer set or entity in the report's language (the catalog's ``names``); those of
        the frames were worded when they were prepared (:func:`analysis.handover.display_names`)."""
        named = self.data.meta.get("names") or {}
        if text in named:
            return named[text]
        return self.catalog.display(text, self.lang, regions=self.observations.attrs.get("regions", {}))

    def source_line(self, ids=None) -> str:
        """The full 资料来源 line: 《title》, publisher, date of the sources of ``ids`` (default: the report's)."""
        o = self.observations
        used = set(o.loc[o["id"].isin(list(ids)), "source"]) if ids is not None else set(self.own["source"])
        items = []
        for _, s in self.sources[self.sources["id"].isin(used)].iterrows():
            text = self.msg("source.item", title=s.get("title", "") or s["id"])
            for key in ("publisher", "date"):
                if str(s.get(key, "") or "").strip():
                    text += self.msg(f"source.{key}", **{key: s[key]})
            items.append(text)
        if not items:
            return ""
        line = self.msg("source.line", sources=self.msg.join(items))
        return line[:-1] if len(line) > 1 and line[-2] in "。？！?!." and line[-1] in "。." else line   # 什么？. → 什么？

    def note(self, texts: list[str]) -> str:
        """Caveats as numbered notes (each said once); returns the reference to put where they apply (注3、4)."""
        for t in texts:
            if t not in self.notes:
                self.notes.append(t)
        return self.msg("numbering.note_ref",
                        n=self.msg("numbering.note_sep").join(str(self.notes.index(t) + 1) for t in texts))

    def use(self, ids) -> None:
        """Record observation ids a section shows (the sources section lists them)."""
        for i in ids:
            if isinstance(i, str):
                self.used_ids.add(i)
            elif i is not None:
                self.used_ids.update(map(str, i))

    # ---------------------------------------------------------------- display
    def emit(self, html: str, **meta) -> None:
        """Display a block of HTML; ``meta`` tells the exporter what it is (``toc``, ``role``)."""
        self.parts.append((str(html), meta))
        if self.show:
            from IPython.display import HTML, display
            display(HTML(str(html)), metadata={META_KEY: meta} if meta else None)

    def heading(self, text: str, id: str | None = None) -> None:
        """A numbered section heading (一、… in Chinese) with a table-of-contents entry (also for an
        analyst's own section)."""
        self.counts["section"] += 1
        n = self.counts["section"]
        numerals = self.msg.get("numbering.numerals")
        numbered = self.msg("numbering.section", n=numerals[n - 1] if n <= len(numerals) else n, text=text)
        anchor = id or f"sec-{n}"
        self.emit(_blocks().heading(anchor, numbered), toc={"id": anchor, "text": numbered})

    def caption(self, kind: str, text: str, unit: str = "") -> str:
        """The next figure or table number with its title and unit: 图1　…（亿元）."""
        self.counts[kind] += 1
        text = self.msg("numbering.with_unit", text=text, unit=unit) if unit else text
        return self.msg(f"numbering.{kind}", n=self.counts[kind], text=text)

    def paragraphs(self, sentences: list[str]) -> None:
        if sentences:
            self.emit(_blocks().paragraphs(sentences))

    def table(self, headers: list[str], rows: list[list], cls: str = "figures", *, caption: str = "",
              unit: str = "", source: str = "") -> None:
        """A numbered table (表N　caption), its unit line and its 资料来源 line."""
        if rows:
            self.emit(_blocks().table(headers, [["" if c is None else c for c in r] for r in rows], cls,
                                      caption=self.caption("table", caption) if caption else "",
                                      unit=self.msg("numbering.unit_line", unit=unit) if unit else "",
                                      source=source))

    def items(self, entries: list[str], cls: str = "caveats", head: str = "") -> None:
        if entries:
            self.emit(_blocks().items(entries, cls, head))

    @property
    def credit(self) -> str:
        """The organisation credited under charts (``report: credit`` in the catalog; none by default)."""
        return str(self.catalog.report.get("credit", "") or "")

    def figure(self, fig, caption: str = "", *, unit: str = "", source: str = "") -> None:
        """A numbered figure (图N　caption（unit）) at print resolution, with its 资料来源 line."""
        data = base64.b64encode(charts.to_png(fig)).decode()
        title = self.caption("figure", caption, unit) if caption else ""
        self.emit(_blocks().figure(data, title or caption, caption=title, source=source))

    def title_block(self, title: str, rows: list[tuple[str, str]]) -> None:
        self.emit(_blocks().title_block(title, rows), role="title", title=title)


def open_report(*, region: str, year, lang: str = "zh", data: str = "", catalog: str = "", title: str = "",
                handover: str = "", show: bool = True, **parameters) -> Report:
    """The report of a notebook's parameters.

    With ``handover`` (set by ``analysis report``): the frames the parent prepared. Without (run
    by hand): the parameters are validated as a request (relative paths against the project
    folder) and the frames are prepared here, through the same function.

    Raises:
        UsageError, AnalysisError, DataError: a clear message naming the parameter or data row.
    """
    from . import handover as ho
    if handover:
        rd = ho.read(handover)
    else:
        from .request import build
        req = build(region=region, year=year, lang=lang, data=data or None, catalog=catalog or None,
                    title=title, labels=dict(NOTEBOOK_LABELS))
        rd = ho.prepare(req)
    charts.setup()
    pd.set_option("display.max_rows", 500)
    pd.set_option("display.max_columns", 40)
    return Report(rd, rd.catalog if rd.catalog is not None else load_catalog(rd.request.catalog), show=show)
