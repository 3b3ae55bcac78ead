"""Report sections: what the notebook shows, composed from data, metrics, narrative and charts.

The notebook stays thin — it builds a :class:`Report` from its parameters and calls one method
per section. Each method displays HTML (every data-derived string escaped) and charts, and shows
nothing when its data is missing. Section headings are ``<h2 id=…>`` elements; the exporter
turns them into the table of contents.
"""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import charts, narrative
from .catalog import load_catalog
from .data import default_data_path, load_observations, load_sources
from .metrics import compute, reconcile, target_path


def input_ids(inputs) -> list[str]:
    """Stand-in until this module is adapted: metrics' ``inputs`` is a list of ids now (a str is one id)."""
    return [inputs] if isinstance(inputs, str) else list(inputs)
from .numbers import QUALIFIERS, QUALIFIERS_ZH, format_number

T = {  # UI strings: (zh, en)
    "title": ("{region}{year}年工业经济分析报告", "{region} Industrial Economy Report {year}"),
    "headline": ("核心指标", "Key figures"),
    "structure": ("产业结构", "Industrial structure"),
    "growth": ("增长", "Growth"),
    "innovation": ("创新投入", "Innovation"),
    "targets": ("目标跟踪", "Targets"),
    "checks": ("数据核对", "Data checks"),
    "methods": ("方法说明", "Methods"),
    "sources": ("数据来源", "Sources"),
    "entities": ("重点企业与项目", "Firms and projects"),
    "derived": ("推算指标", "Derived figures"),
    "indicator": ("指标", "Indicator"), "value": ("数值", "Value"), "period": ("时期", "Period"),
    "note": ("说明", "Note"), "entity": ("主体", "Entity"), "quote": ("原文", "Quote"), "source": ("来源", "Source"),
    "formula": ("计算方法", "Formula"), "inputs": ("所用数据", "Inputs"), "check": ("核对项", "Check"),
    "stated": ("公布值", "Stated"), "computed": ("计算值", "Computed"), "status": ("结论", "Result"),
    "agree": ("一致", "agrees"), "disagree": ("不一致", "disagrees"), "not computable": ("无法计算", "not computable"),
    "region": ("地区", "Region"), "year": ("年份", "Year"), "data_date": ("数据日期", "Data date"),
    "generated": ("生成日期", "Generated"), "data_file": ("数据文件", "Data file"),
    "source_line": ("来源：{sources}；{region}{year}年数据；制图：analysis", "Source: {sources}; {region} {year}; chart: analysis"),
    "id": ("编号", "ID"), "title_col": ("标题", "Title"), "publisher": ("发布者", "Publisher"), "date": ("日期", "Date"),
}


def t(key: str, lang: str, **kw) -> str:
    text = T[key][0 if lang == "zh" else 1]
    return text.format(**kw) if kw else text


def esc(x) -> str:
    return html.escape("" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x))


def table(headers: list[str], rows: list[list], cls: str = "") -> str:
    """An HTML table; every cell is escaped."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _display(html_text: str) -> None:
    from IPython.display import HTML, display
    display(HTML(html_text))


@dataclass
class Report:
    """Everything a report shows for one region and year."""

    region: str
    year: int
    lang: str = "zh"
    data: str = ""
    catalog_path: str = ""
    title: str = ""
    show: bool = True                 # False: compose without displaying (tests, scripts)
    obs: pd.DataFrame = field(init=False)
    metrics: pd.DataFrame = field(init=False)

    def __post_init__(self):
        self.year = int(self.year)
        self.catalog = load_catalog(self.catalog_path or None)
        self.data_path = Path(self.data) if self.data else default_data_path()
        self.obs = load_observations(self.data_path, catalog=self.catalog)
        everything = compute(self.obs, catalog=self.catalog)
        sel = (everything["region"] == self.region) & (everything["year"] == self.year)
        self.metrics = everything[sel].reset_index(drop=True)
        self.checks_frame = reconcile(self.obs, everything, catalog=self.catalog)
        self.checks_frame = self.checks_frame[self.checks_frame["region"] == self.region]
        self.sources_frame = load_sources([self.data_path])
        sel = (self.obs["region"] == self.region) & ((self.obs["year"] == self.year) |
                                                     (self.obs["measure"].isin(["target", "plan"]) & (self.obs["year"] > self.year)))
        self.own = self.obs[sel]
        self.used_ids: set[str] = set()
        self.html_parts: list[str] = []

    # ------------------------------------------------------------ helpers
    def _emit(self, text: str) -> None:
        self.html_parts.append(text)
        if self.show:
            _display(text)

    def _chart(self, fig, alt: str) -> None:
        data = base64.b64encode(charts.to_png(fig)).decode()
        self._emit(f'<figure class="chart"><img alt="{esc(alt)}" src="data:image/png;base64,{data}"/></figure>')

    def _h2(self, key: str) -> None:
        self._emit(f'<h2 id="sec-{key}">{esc(t(key, self.lang))}</h2>')

    def _p(self, sentences: list[str]) -> None:
        if sentences:
            self._emit("".join(f"<p>{esc(s)}</p>" for s in sentences))

    def _use(self, ids) -> None:
        for i in ids:
            self.used_ids.update(input_ids(i))

    def _source_line(self) -> str:
        titles = self.sources_frame.set_index("id")["title"].to_dict() if len(self.sources_frame) else {}
        used = sorted(set(self.own["source"]))
        names = "、".join(titles.get(s, s)[:18] for s in used) if self.lang == "zh" else "; ".join(titles.get(s, s)[:40] for s in used)
        return t("source_line", self.lang, sources=names, region=self.region, year=self.year)

    def _m(self, kinds) -> pd.DataFrame:
        return self.metrics[self.metrics["kind"].isin(kinds)]

    def _name(self, m) -> str:
        return m["name_zh"] if self.lang == "zh" else m["name_en"]

    # ------------------------------------------------------------ sections
    def title_block(self) -> None:
        title = self.title or t("title", self.lang, region=self.region, year=self.year)
        dates = [d for d in self.sources_frame.get("date", pd.Series(dtype=str)) if d] if len(self.sources_frame) else []
        used_sources = set(self.own["source"])
        if len(self.sources_frame):
            dates = [d for s, d in zip(self.sources_frame["id"], self.sources_frame.get("date", "")) if s in used_sources and d]
        data_date = "；".join(sorted(set(dates))) if dates else _dt.date.fromtimestamp(self.data_path.stat().st_mtime).isoformat()
        sha = hashlib.sha256(self.data_path.read_bytes()).hexdigest()[:12]
        rows = [(t("region", self.lang), self.region), (t("year", self.lang), str(self.year)),
                (t("data_date", self.lang), data_date), (t("generated", self.lang), _dt.date.today().isoformat()),
                (t("data_file", self.lang), f"{self.data_path.name} (sha256 {sha}…)")]
        meta = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
        self._emit(f'<header class="title-block"><h1 id="report-title">{esc(title)}</h1>'
                   f'<table class="meta">{meta}</table></header>')

    def headline(self) -> None:
        own = self.own[(self.own["year"] == self.year)]
        district = own[(own["entity"] == "") & own["measure"].isin(["level", "growth", "rank", "growth_rank", "streak", "share"])]
        if district.empty and self._m(["share", "implied_base", "implied_denominator", "ratio"]).empty:
            return
        self._h2("headline")
        cfg = self.catalog.report.get("headline")
        self._p(narrative.headline(self.obs, self.catalog, self.region, self.year, self.lang, cfg))
        rows = []
        for _, r in district.iterrows():
            rows.append([self.catalog.name(r["indicator"], self.lang), narrative.figure(r, self.lang),
                         _measure_label(r["measure"], self.lang), r["id"]])
        self._use(district["id"])
        if rows:
            self._emit(table([t("indicator", self.lang), t("value", self.lang), t("note", self.lang), t("id", self.lang)],
                             rows, "figures"))
        ent = own[own["entity"] != ""]
        if len(ent):
            self._emit(f"<h3>{esc(t('entities', self.lang))}</h3>")
            erows = [[r["entity"], self.catalog.name(r["indicator"], self.lang), narrative.figure(r, self.lang), r["id"]]
                     for _, r in ent.iterrows()]
            self._use(ent["id"])
            self._emit(table([t("entity", self.lang), t("indicator", self.lang), t("value", self.lang), t("id", self.lang)],
                             erows, "figures"))

    def structure(self) -> None:
        shares = self._m(["share", "region_share"])
        shares = shares[shares["value"].notna()]
        if shares.empty:
            return
        self._h2("structure")
        self._p([narrative.metric_sentence(m, self.obs, self.catalog, self.lang) for _, m in shares.iterrows()])
        self._use(shares["inputs"])
        drawable = shares[~((shares["lower"] <= 0) & ~pd.Series([math.isfinite(u) for u in shares["upper"]], index=shares.index))]
        if len(drawable):
            fig = charts.bounded_bars([self._name(m) for _, m in drawable.iterrows()], list(drawable["value"]),
                                      list(drawable["lower"]), list(drawable["upper"]),
                                      title=t("structure", self.lang) + ("（比重）" if self.lang == "zh" else " (shares)"),
                                      unit_label="%", source=self._source_line(), lang=self.lang, suffix="%")
            self._chart(fig, t("structure", self.lang))
        # levels of the parts and wholes of the shares
        parts = [e for e in self.catalog.metrics if e.get("kind") == "share"]
        codes = list(dict.fromkeys([c for e in parts for c in (e["part"], e["whole"])]))
        lv = self.own[(self.own["measure"] == "level") & (self.own["entity"] == "") & self.own["indicator"].isin(codes)
                      & (self.own["year"] == self.year)]
        lv = lv.loc[lv.groupby("indicator")["upper"].transform(lambda u: u - lv.loc[u.index, "lower"]).groupby(lv["indicator"]).idxmin()] if len(lv) else lv
        if len(lv) >= 2 and (lv["unit"] == "元").all():
            scale = 1e8 if self.lang == "zh" else 1e9
            exact = (lv["qualifier"] == "exact").to_numpy()
            fig = charts.bounded_bars([self.catalog.name(c, self.lang) for c in lv["indicator"]], list(lv["value"] / scale),
                                      list(np.where(exact, lv["value"], lv["lower"]) / scale),
                                      list(np.where(exact, lv["value"], lv["upper"]) / scale),
                                      title=("主要产业产值" if self.lang == "zh" else "Output of leading industries"),
                                      qualifiers=list(lv["qualifier"]),
                                      unit_label="亿元" if self.lang == "zh" else "bn yuan", source=self._source_line(),
                                      lang=self.lang, decimals=0)
            self._chart(fig, "output")
            self._use(lv["id"])

    def growth(self) -> None:
        g = self.own[(self.own["measure"] == "growth") & (self.own["entity"] == "") & (self.own["year"] == self.year)]
        bases = self._m(["implied_base", "implied_level", "growth"])
        if g.empty and bases.empty:
            return
        self._h2("growth")
        if len(g):
            labels = [self.catalog.name(c, self.lang) for c in g["indicator"]]
            small = [v for v in g["value"] if v <= 100]
            cap = max(100.0, max(small) * 1.3) if len(small) < len(g) and small else None
            exact = (g["qualifier"] == "exact").to_numpy()  # stated figures are drawn as stated, not as rounding ranges
            lo = list(np.where(exact, g["value"], g["lower"]))
            hi = list(np.where(exact, g["value"], g["upper"]))
            fig = charts.bounded_bars(labels, list(g["value"]), lo, hi,
                                      title=(f"{self.year}年主要指标增速" if self.lang == "zh" else f"Growth in {self.year}"),
                                      unit_label=("增速（%）" if self.lang == "zh" else "growth (%)"), source=self._source_line(),
                                      lang=self.lang, cap=cap, suffix="%", qualifiers=list(g["qualifier"]))
            self._chart(fig, "growth")
            self._use(g["id"])
        if len(bases):
            self._p([narrative.metric_sentence(m, self.obs, self.catalog, self.lang) for _, m in bases.iterrows()])
            self._use(bases["inputs"])
            panels = []
            for _, m in bases[bases["kind"] == "implied_base"].iterrows():
                lv = self.obs[self.obs["id"].isin(input_ids(m["inputs"]))]
                lv = lv[lv["measure"] == "level"]
                if lv.empty or not math.isfinite(m["value"]):
                    continue
                panels.append(dict(label=self.catalog.name(m["indicator"], self.lang), unit=str(m["unit"]),
                                   base=m["value"], base_lo=m["lower"], base_hi=m["upper"], level=float(lv["value"].iloc[0]),
                                   base_year=m["refers_to"], year=self.year))
            if panels:
                fig = charts.base_and_level(panels[:4], title=("由增速推算的上年水平" if self.lang == "zh"
                                                               else "Previous-year levels implied by growth"),
                                            source=self._source_line(), lang=self.lang)
                self._chart(fig, "implied bases")

    def innovation(self) -> None:
        codes = ["rd_spending", "rd_intensity", "rd_platforms", "new_tech_smes", "tech_competitiveness"]
        rows = self.own[self.own["indicator"].isin(codes) & (self.own["year"] == self.year) & (self.own["entity"] == "")]
        ms = self._m(["ratio", "implied_denominator"])
        if rows.empty and ms.empty:
            return
        self._h2("innovation")
        self._p(narrative.headline(self.obs, self.catalog, self.region, self.year, self.lang,
                                   [c for c in codes if c in set(rows["indicator"])]))
        self._p([narrative.metric_sentence(m, self.obs, self.catalog, self.lang) for _, m in ms.iterrows()
                 if math.isfinite(m["value"])])
        self._use(rows["id"])
        self._use(ms[ms["value"].notna()]["inputs"])
        trows = [[self._name(m), narrative.metric_value(m, self.lang), m["refers_to"]] for _, m in ms.iterrows()
                 if math.isfinite(m["value"])]
        if trows:
            self._emit(table([t("indicator", self.lang), t("value", self.lang), t("period", self.lang)], trows, "figures"))

    def targets(self) -> None:
        ms = self._m(["required_growth"])
        ms = ms[ms["value"].notna()]
        if ms.empty:
            return
        self._h2("targets")
        gaps = self._m(["target_gap"])
        self._p([narrative.metric_sentence(m, self.obs, self.catalog, self.lang) for _, m in ms.iterrows()])
        self._p([narrative.metric_sentence(m, self.obs, self.catalog, self.lang).split("。")[0] + ("。" if self.lang == "zh" else "")
                 for _, m in gaps.iterrows()])
        paths = target_path(ms, self.obs)
        for _, m in ms.iterrows():
            ids = input_ids(m["inputs"])
            used = self.obs[self.obs["id"].isin(ids)]
            lv, tg = used[used["measure"] == "level"].iloc[0], used[used["measure"] == "target"].iloc[0]
            y0, y1 = int(lv["year"]), int(tg["year"])
            pth = paths[paths["metric"] == m["metric"]]
            years, path = [int(y) for y in pth["year"]], list(pth["value"])
            caveat = " ".join(c for c in narrative.caveats(m["flags"], self.lang) if "口径" in c or "scope" in c)
            fig = charts.target_path(years, path, level_label=(f"按所需年均增速{format_number(m['value'], 1)}%的路径" if self.lang == "zh"
                                                               else f"path at the required {format_number(m['value'], 1)}% a year"),
                                     target_label=f"{self.catalog.name(tg['indicator'], self.lang)} {narrative.figure(tg, self.lang)}",
                                     target_value=tg["value"], unit=str(lv["unit"]),
                                     title=(f"{self.catalog.name(tg['indicator'], self.lang)}目标路径（{y0}—{y1}年）" if self.lang == "zh"
                                            else f"Path to the {self.catalog.name(tg['indicator'], 'en')} target, {y0}–{y1}"),
                                     source=self._source_line(), caveat=caveat, lang=self.lang,
                                     threshold=tg["qualifier"] in (">", "≥"))
            self._chart(fig, "target path")
            self._use(ids)

    def checks(self) -> None:
        rec = self.checks_frame
        flags = sorted({f for fl in self.metrics["flags"].astype(str) for f in fl.split(";") if f})
        if rec.empty and not flags and not self.metrics["value"].isna().any():
            return
        self._h2("checks")
        if len(rec):
            rows = []
            for _, r in rec.iterrows():
                unit = str(r["unit"])
                rows.append([_check_label(r["check"], self.lang), r["name_zh"] if self.lang == "zh" else self.catalog.name(r["indicator"], "en"),
                             narrative.describe(r["stated"], r["stated_lower"], r["stated_upper"], unit, lang=self.lang, decimals=2),
                             narrative.describe(r["computed"], r["computed_lower"], r["computed_upper"], unit, lang=self.lang, decimals=2)
                             if math.isfinite(r["computed"]) else "–",
                             t(r["status"], self.lang), r["inputs"]])
                self._use(str(r["inputs"]).replace(" vs ", ",").split(","))
            self._emit(table([t("check", self.lang), t("indicator", self.lang), t("stated", self.lang), t("computed", self.lang),
                              t("status", self.lang), t("inputs", self.lang)], rows, "checks"))
        missing = self.metrics[self.metrics["value"].isna()]
        if len(missing):
            head = "因缺少数据未能计算：" if self.lang == "zh" else "Not computed for lack of data:"
            self._emit(f"<p>{esc(head)}</p><ul class=\"caveats\">" + "".join(
                f"<li>{esc(self._name(m))}：{esc(narrative.reason(m['reason'], self.lang))}</li>" if self.lang == "zh" else
                f"<li>{esc(self._name(m))}: {esc(narrative.reason(m['reason'], self.lang))}</li>" for _, m in missing.iterrows()) + "</ul>")
        items = [narrative.CAVEATS[f][0 if self.lang == "zh" else 1] for f in flags if f in narrative.CAVEATS]
        if items:
            self._emit("<ul class=\"caveats\">" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>")

    def methods(self) -> None:
        self._h2("methods")
        seen = {}
        for _, m in self.metrics.iterrows():
            key = (m["formula_zh"], m["kind"])
            if key not in seen:
                seen[key] = [self._name(m), m["formula_zh"] if self.lang == "zh" else m["formula_en"]]
        if seen:
            self._emit(table([t("indicator", self.lang), t("formula", self.lang)], list(seen.values()), "methods"))
        rules = ([f"“{k}”：{v}" for k, v in QUALIFIERS_ZH.items()] if self.lang == "zh"
                 else [f"'{k}': {v}" for k, v in QUALIFIERS.items()])
        intro = ("公布数值按其限定词与末位精度转化为区间（如5.29%代表[5.285%, 5.295%]），推算值按区间运算给出上下限，并据此表述为“超过”“不超过”“约”。"
                 if self.lang == "zh" else
                 "Published figures become intervals from their qualifier and last digit (5.29% stands for [5.285%, 5.295%]); derived figures carry bounds by interval arithmetic and are worded 'more than', 'at most' or 'about' accordingly.")
        self._emit(f"<p>{esc(intro)}</p><ul class=\"rules\">" + "".join(f"<li>{esc(r)}</li>" for r in rules) + "</ul>")

    def sources(self) -> None:
        self._h2("sources")
        used = self.obs[self.obs["id"].isin(self.used_ids) | self.obs["id"].isin(self.own["id"])]
        rows = [[r["id"], r["entity"] or self.region, self.catalog.name(r["indicator"], self.lang), narrative.figure(r, self.lang),
                 r["quote"], r["source"]] for _, r in used.iterrows()]
        self._emit(table([t("id", self.lang), t("entity", self.lang), t("indicator", self.lang), t("value", self.lang),
                          t("quote", self.lang), t("source", self.lang)], rows, "sources"))
        src = self.sources_frame[self.sources_frame["id"].isin(set(used["source"]))]
        srows = [[s["id"], s.get("title", ""), s.get("publisher", ""), s.get("date", ""), (s.get("sha256", "") or "")[:16]]
                 for _, s in src.iterrows()]
        if srows:
            self._emit(table([t("id", self.lang), t("title_col", self.lang), t("publisher", self.lang), t("date", self.lang), "sha256"],
                             srows, "sources-list"))

    def all(self) -> None:
        """Every section in order (for scripts; the notebook calls them one per cell)."""
        for s in (self.title_block, self.headline, self.structure, self.growth, self.innovation, self.targets,
                  self.checks, self.methods, self.sources):
            s()


def _check_label(check: str, lang: str) -> str:
    """Reconciliation check names in the reader's language ("rd_intensity_computed (same year)" → 按同年分母重算)."""
    if lang != "zh":
        return check
    fixed = {"stated twice": "同一数值两次公布", "growth from levels": "增速与两年水平核对"}
    if check in fixed:
        return fixed[check]
    if check.endswith("(same year)"):
        return "比率按同年分母重算"
    if check.endswith("(previous year's denominator)"):
        return "比率按上年分母重算"
    return "比重按分子分母重算"


def _measure_label(measure: str, lang: str) -> str:
    zh = {"level": "总量", "growth": "增速", "rank": "位次", "growth_rank": "增速位次", "streak": "连续年数", "share": "占比",
          "target": "目标", "plan": "规划", "cagr": "复合增长率", "multiple": "倍数", "pp_change": "百分点变化"}
    en = {"level": "level", "growth": "growth", "rank": "rank", "growth_rank": "growth rank", "streak": "years running",
          "share": "share", "target": "target", "plan": "plan", "cagr": "CAGR", "multiple": "multiple", "pp_change": "pp change"}
    return (zh if lang == "zh" else en).get(measure, measure)
