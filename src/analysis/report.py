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
from .catalog import Catalog, load_catalog
from .handover import ReportData
from .messages import Messages, messages
from .request import FUTURE_MEASURES, NOTEBOOK_LABELS, ReportRequest

#: display metadata key read by :mod:`analysis.export`
META_KEY = "analysis"


@lru_cache(maxsize=1)
def _blocks():
    """The Jinja macros of ``templates/sections.html.j2`` (autoescaped)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from .export import TEMPLATES
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("sections.html.j2").module


@dataclass
class Report:
    """One report's frames, catalog and words, and the display helpers its sections use."""

    data: ReportData
    catalog: Catalog
    used_ids: set[str] = field(default_factory=set)
    show: bool = True                  # False: compose without displaying (scripts, tests)
    parts: list[tuple[str, dict]] = field(default_factory=list)

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

    def metrics_table(self) -> pd.DataFrame:
        """The metrics with their worded values: exactly what is published as ``…_metrics.csv``."""
        from .handover import published
        return published(self.data)["metrics"]

    def checks_table(self) -> pd.DataFrame:
        """The reconciliation: exactly what is published as ``…_checks.csv``."""
        return self.checks

    # ---------------------------------------------------------------- words
    def name(self, code: str) -> str:
        """An indicator's name in the report's language."""
        return self.catalog.name(code, self.lang)

    def source_line(self) -> str:
        """资料来源 line of a chart: the titles of the sources the report's figures come from."""
        titles = dict(zip(self.sources["id"], self.sources["title"])) if len(self.sources) else {}
        names = [titles.get(s, s) for s in sorted(set(self.own["source"]))]
        return self.msg("charts.source_line", sources=self.msg.join(names))

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
        """A section heading with a table-of-contents entry (also for an analyst's own section)."""
        anchor = id or f"sec-{len([m for _, m in self.parts if 'toc' in m]) + 1}"
        self.emit(_blocks().heading(anchor, text), toc={"id": anchor, "text": text})

    def paragraphs(self, sentences: list[str]) -> None:
        if sentences:
            self.emit(_blocks().paragraphs(sentences))

    def table(self, headers: list[str], rows: list[list], cls: str = "figures") -> None:
        if rows:
            self.emit(_blocks().table(headers, [["" if c is None else c for c in r] for r in rows], cls))

    def items(self, entries: list[str], cls: str = "caveats", head: str = "") -> None:
        if entries:
            self.emit(_blocks().items(entries, cls, head))

    def figure(self, fig, alt: str = "") -> None:
        """A matplotlib figure at print resolution (closed afterwards)."""
        data = base64.b64encode(charts.to_png(fig)).decode()
        self.emit(_blocks().figure(data, alt))

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
    return Report(rd, load_catalog(rd.request.catalog), show=show)
