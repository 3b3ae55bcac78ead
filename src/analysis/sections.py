"""Report sections: each takes the report and its choices (which indicators, which chart) as
arguments, with defaults from the catalog, and displays tables, sentences and charts.

    sections.headline(rep)                                   # defaults from catalog.yaml (report: headline)
    sections.growth(rep, indicators=["auto_output", "nev_volume"], chart=False)

A section shows nothing when its data is missing. Words come from the message catalog,
sentences from :mod:`analysis.narrative`, charts from :mod:`analysis.charts`, HTML from the
autoescaped templates in ``templates/sections.html.j2``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import charts, narrative
from .metrics import target_path
from .numbers import describe, format_number
from .errors import UsageError
from .report import Report

HEADLINE_MEASURES = ("level", "growth", "rank", "growth_rank", "streak", "share")


def _kinds(rep: Report, kinds) -> pd.DataFrame:
    return rep.metrics[rep.metrics["kind"].isin(kinds)]


def _finite(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[np.isfinite(frame["value"].astype(float))]


def _known(rep: Report, codes, argument: str, *, metrics: bool = False):
    """A section's choice of indicators (or metrics), checked: a misspelt code is an error, not an empty section."""
    if codes is None:
        return None
    known = set(rep.metrics["metric"].astype(str)) | {e.get("code") for e in rep.catalog.metrics} if metrics \
        else set(rep.catalog.indicators)
    unknown = [c for c in codes if c not in known]
    if unknown:
        import difflib
        near = difflib.get_close_matches(str(unknown[0]), sorted(known), n=3)
        raise UsageError(f"{argument}: expected {'metric' if metrics else 'indicator'} codes of "
                         f"{rep.catalog.path.name}{' (did you mean ' + ', '.join(near) + '?)' if near else ''}, "
                         f"found {', '.join(map(repr, unknown))}")
    return list(codes)


def _cols(rep: Report, *keys: str) -> list[str]:
    return [rep.msg(f"columns.{k}") for k in keys]


def title_block(rep: Report, title: str | None = None) -> None:
    """Title, region, year, data date (from the sources; never today), generation date, data checksum."""
    msg, meta = rep.msg, rep.data.meta
    title = title or rep.request.title or msg("title", region=rep.region, year=rep.year)
    dates = meta.get("data_dates") or []
    rows = [(msg("meta.region"), rep.region), (msg("meta.year"), str(rep.year)),
            (msg("meta.data_date"), msg.join(dates) if dates else msg("meta.data_date_unknown")),
            (msg("meta.generated"), meta.get("generated", "")),
            (msg("meta.data_file"), msg("meta.checksum", name=meta.get("data_file", ""),
                                        sha=str(meta.get("data_sha256", ""))[:12]))]
    rep.title_block(title, rows)


def headline(rep: Report, *, indicators: list[str] | None = None, measures=HEADLINE_MEASURES,
             entities: bool = True) -> None:
    """Key figures: a sentence per headline indicator, the region's stated figures, firms and projects.

    Args:
        indicators: indicator codes of the sentences (default: ``report: headline`` in the catalog).
        measures: which measures of the region's own figures the table lists.
        entities: also list the figures of firms, plants and projects.
    """
    indicators = _known(rep, indicators, "headline(indicators=…)")
    own = rep.own[rep.own["year"] == rep.year]
    region_rows = own[(own["entity"] == "") & own["measure"].isin(measures)]
    if region_rows.empty and _kinds(rep, ["share", "implied_base", "implied_denominator", "ratio"]).empty:
        return
    rep.heading(rep.msg("sections.headline"), "sec-headline")
    rep.paragraphs(narrative.headline(rep.observations, rep.catalog, rep.region, rep.year, rep.lang,
                                      indicators or rep.catalog.report.get("headline")))
    rep.table(_cols(rep, "indicator", "value", "note", "id"),
              [[rep.name(r["indicator"]), narrative.figure(r, rep.lang), rep.msg(f"measures.{r['measure']}"), r["id"]]
               for _, r in region_rows.iterrows()])
    rep.use(region_rows["id"])
    ent = own[own["entity"] != ""]
    if entities and len(ent):
        rep.emit(f"<h3>{rep.msg('sections.entities')}</h3>")
        rep.table(_cols(rep, "entity", "indicator", "value", "id"),
                  [[r["entity"], rep.name(r["indicator"]), narrative.figure(r, rep.lang), r["id"]]
                   for _, r in ent.iterrows()])
        rep.use(ent["id"])


def structure(rep: Report, *, shares: list[str] | None = None, levels: list[str] | None = None,
              chart: bool = True) -> None:
    """Shares of the leading industries (sentences and a chart) and their output levels.

    Args:
        shares: metric codes of the shares (default: every share and regional share computed).
        levels: indicator codes of the levels chart (default: the parts and wholes of the catalog's shares).
        chart: draw the charts.
    """
    shares = _known(rep, shares, "structure(shares=…)", metrics=True)
    levels = _known(rep, levels, "structure(levels=…)")
    s = _finite(_kinds(rep, ["share", "region_share"]))
    if shares is not None:
        s = s[s["metric"].isin(shares)]
    if s.empty:
        return
    msg = rep.msg
    rep.heading(msg("sections.structure"), "sec-structure")
    rep.paragraphs([narrative.metric_sentence(m, rep.observations, rep.catalog, rep.lang) for _, m in s.iterrows()])
    rep.use(s["inputs"])
    drawable = s[~((s["lower"] <= 0) & ~np.isfinite(s["upper"].astype(float)))]   # an unbounded share is no bar
    if chart and len(drawable):
        fig = charts.bounded_bars([m[f"name_{rep.lang}"] for _, m in drawable.iterrows()], list(drawable["value"]),
                                  list(drawable["lower"]), list(drawable["upper"]), title=msg("charts.shares_title"),
                                  unit_label="%", source=rep.source_line(), lang=rep.lang, suffix="%")
        rep.figure(fig, msg("charts.shares_title"))
    if levels is None:
        entries = [e for e in rep.catalog.metrics if e.get("kind") == "share"]
        levels = list(dict.fromkeys(c for e in entries for c in (e["part"], e["whole"])))
    own = rep.own
    lv = own[(own["measure"] == "level") & (own["entity"] == "") & own["indicator"].isin(levels) & (own["year"] == rep.year)]
    if chart and len(lv) and lv["indicator"].nunique() >= 2 and (lv["unit"] == "元").all():
        lv = pd.DataFrame([narrative.narrowest(g) for _, g in lv.groupby("indicator", sort=False)])
        scale = float(msg.get("units", {})["元"][0][1])
        exact = (lv["qualifier"] == "exact").to_numpy()
        fig = charts.bounded_bars([rep.name(c) for c in lv["indicator"]], list(lv["value"] / scale),
                                  list(np.where(exact, lv["value"], lv["lower"]) / scale),
                                  list(np.where(exact, lv["value"], lv["upper"]) / scale),
                                  title=msg("charts.output_title"), qualifiers=list(lv["qualifier"]),
                                  unit_label=msg("charts.output_unit"), source=rep.source_line(), lang=rep.lang,
                                  decimals=0)
        rep.figure(fig, msg("charts.output_title"))
        rep.use(lv["id"])


def growth(rep: Report, *, indicators: list[str] | None = None, chart: bool = True, bases: bool = True) -> None:
    """Stated growth rates (a chart) and what they imply: previous-year levels, computed growth.

    Args:
        indicators: indicator codes (default: every indicator with a stated growth of the year).
        chart: draw the charts.
        bases: show the implied previous-year levels and computed growth.
    """
    indicators = _known(rep, indicators, "growth(indicators=…)")
    own, msg = rep.own, rep.msg
    g = own[(own["measure"] == "growth") & (own["entity"] == "") & (own["year"] == rep.year)]
    implied = _kinds(rep, ["implied_base", "implied_level", "growth"]) if bases else rep.metrics.iloc[0:0]
    if indicators is not None:
        g = g[g["indicator"].isin(indicators)]
        implied = implied[implied["indicator"].isin(indicators)]
    if (g.empty or not chart) and implied.empty:   # nothing to show: no bare heading
        return
    rep.heading(msg("sections.growth"), "sec-growth")
    if len(g) and chart:
        small = [v for v in g["value"] if v <= 100]
        cap = max(100.0, max(small) * 1.3) if len(small) < len(g) and small else None
        exact = (g["qualifier"] == "exact").to_numpy()  # stated figures are drawn as stated, not as rounding ranges
        fig = charts.bounded_bars([rep.name(c) for c in g["indicator"]], list(g["value"]),
                                  list(np.where(exact, g["value"], g["lower"])),
                                  list(np.where(exact, g["value"], g["upper"])),
                                  title=msg("charts.growth_title", year=rep.year), unit_label=msg("charts.growth_unit"),
                                  source=rep.source_line(), lang=rep.lang, cap=cap, suffix="%",
                                  qualifiers=list(g["qualifier"]))
        rep.figure(fig, msg("charts.growth_title", year=rep.year))
    rep.use(g["id"])
    if len(implied):
        rep.paragraphs([narrative.metric_sentence(m, rep.observations, rep.catalog, rep.lang)
                        for _, m in implied.iterrows()])
        rep.use(implied["inputs"])
        panels = []
        for _, m in implied[implied["kind"] == "implied_base"].iterrows():
            used = rep.observations[rep.observations["id"].isin(list(m["inputs"]))]
            lv = used[used["measure"] == "level"]
            if lv.empty or not math.isfinite(m["value"]):
                continue
            panels.append(dict(label=rep.name(m["indicator"]), unit=str(m["unit"]), base=m["value"], base_lo=m["lower"],
                               base_hi=m["upper"], level=float(lv["value"].iloc[0]), base_year=int(m["start_year"]),
                               year=rep.year))
        if panels and chart:
            fig = charts.base_and_level(panels[:4], title=msg("charts.bases_title"), source=rep.source_line(),
                                        lang=rep.lang)
            rep.figure(fig, msg("charts.bases_title"))


def innovation(rep: Report, *, indicators: list[str] | None = None) -> None:
    """R&D and innovation: stated figures, and intensities and implied denominators (ratio metrics).

    Args:
        indicators: indicator codes of the stated figures (default: ``report: innovation`` in the catalog).
    """
    indicators = _known(rep, indicators, "innovation(indicators=…)") or rep.catalog.report.get("innovation", [])
    own = rep.own
    rows = own[own["indicator"].isin(indicators) & (own["year"] == rep.year) & (own["entity"] == "")]
    ms = _finite(_kinds(rep, ["ratio", "implied_denominator"]))
    if rows.empty and ms.empty:
        return
    rep.heading(rep.msg("sections.innovation"), "sec-innovation")
    rep.paragraphs(narrative.headline(rep.observations, rep.catalog, rep.region, rep.year, rep.lang,
                                      [c for c in indicators if c in set(rows["indicator"])]))
    rep.paragraphs([narrative.metric_sentence(m, rep.observations, rep.catalog, rep.lang) for _, m in ms.iterrows()])
    rep.use(rows["id"])
    rep.use(ms["inputs"])
    rep.table(_cols(rep, "indicator", "value", "period"),
              [[m[f"name_{rep.lang}"], narrative.metric_value(m, rep.lang, rep.catalog), _period(m)]
               for _, m in ms.iterrows()])


def _period(m) -> str:
    a, b = int(m["start_year"]), int(m["end_year"])
    return str(a) if a == b else f"{a}–{b}"


def targets(rep: Report, *, chart: bool = True) -> None:
    """Targets: the annual growth each needs, the gap, and the path to it."""
    ms = _finite(_kinds(rep, ["required_growth"]))
    if ms.empty:
        return
    msg = rep.msg
    rep.heading(msg("sections.targets"), "sec-targets")
    rep.paragraphs([narrative.metric_sentence(m, rep.observations, rep.catalog, rep.lang) for _, m in ms.iterrows()])
    gaps = _finite(_kinds(rep, ["target_gap"]))
    rep.paragraphs([msg("sentences.metric", name=m[f"name_{rep.lang}"], value=narrative.metric_value(m, rep.lang))
                    for _, m in gaps.iterrows()])
    paths = target_path(ms, rep.observations)
    for _, m in ms.iterrows():
        used = rep.observations[rep.observations["id"].isin(list(m["inputs"]))]
        lv, tg = used[used["measure"] == "level"], used[used["measure"] == "target"]
        rep.use(used["id"])
        if not chart or lv.empty or tg.empty:
            continue
        lv, tg = lv.iloc[0], tg.iloc[0]
        pth = paths[paths["metric"] == m["metric"]]
        flags = list(m["flags"]) if m["flags"] is not None else []
        caveat = msg("caveats.scope-mismatch") if "scope-mismatch" in flags else ""
        fig = charts.target_path([int(y) for y in pth["year"]], list(pth["value"]),
                                 level_label=msg("charts.target_path_label", rate=format_number(m["value"], 1, rep.lang)),
                                 target_label=f"{rep.name(tg['indicator'])} {narrative.figure(tg, rep.lang)}",
                                 target_value=tg["value"], unit=str(lv["unit"]),
                                 title=msg("charts.target_title", indicator=rep.name(tg["indicator"]),
                                           start=int(m["start_year"]), end=int(m["end_year"])),
                                 source=rep.source_line(), caveat=caveat, lang=rep.lang,
                                 threshold=tg["qualifier"] in (">", "≥"))
        rep.figure(fig, msg("charts.target_title", indicator=rep.name(tg["indicator"]), start=int(m["start_year"]),
                            end=int(m["end_year"])))


def checks(rep: Report) -> None:
    """Data checks: stated figures against their recomputation, what could not be computed, caveats."""
    rec, msg, lang = rep.checks, rep.msg, rep.lang
    flags = sorted({f for fl in rep.metrics["flags"] if fl is not None for f in fl})
    missing = rep.metrics[~np.isfinite(rep.metrics["value"].astype(float))]
    if rec.empty and not flags and missing.empty:
        return
    rep.heading(msg("sections.checks"), "sec-checks")
    rows = []
    for _, r in rec.iterrows():
        unit = str(r["unit"])
        rows.append([msg(f"checks.{r['check']}"), rep.name(r["indicator"]),
                     describe(r["stated"], r["stated_lower"], r["stated_upper"], unit, lang=lang, decimals=2),
                     describe(r["computed"], r["computed_lower"], r["computed_upper"], unit, lang=lang,
                                        decimals=2) if math.isfinite(r["computed"]) else "–",
                     msg(f"status.{r['status']}"), msg.join([*r["stated_ids"], *r["computed_from"]])])
        rep.use(r["stated_ids"])
        rep.use(r["computed_from"])
    rep.table(_cols(rep, "check", "indicator", "stated", "computed", "status", "inputs"), rows, "checks")
    rep.items([msg("missing_item", name=m[f"name_{lang}"], reason=narrative.reason(m, rep.catalog, lang))
               for _, m in missing.iterrows()], head=msg("missing_head"))
    rep.items(narrative.caveats(flags, lang))


def methods(rep: Report) -> None:
    """How each metric is computed, and what each qualifier means for bounds."""
    msg, lang = rep.msg, rep.lang
    rep.heading(msg("sections.methods"), "sec-methods")
    seen = {}
    for _, m in rep.metrics.iterrows():
        seen.setdefault((m["formula_zh"], m["kind"]), [m[f"name_{lang}"], m[f"formula_{lang}"]])
    rep.table(_cols(rep, "indicator", "formula"), list(seen.values()), "methods")
    settings = rep.catalog.settings
    bands = {"approx": format_number(100 * float(settings.get("approx_band", 0.05)), 0, lang),
             "near": format_number(100 * (1 - float(settings.get("near_band", 0.10))), 0, lang)}
    rep.paragraphs([msg("methods.intro")])
    rep.items([msg("methods.rule", word=msg(f"qualifier_words.{q}"), meaning=msg(f"qualifiers.{q}", **bands))
               for q in msg.get("qualifiers")], cls="rules")


def sources(rep: Report) -> None:
    """Every figure the report showed, with its verbatim quote, and the sources they come from."""
    msg = rep.msg
    rep.heading(msg("sections.sources"), "sec-sources")
    o = rep.observations
    used = o[o["id"].isin(rep.used_ids) | o["id"].isin(rep.own["id"])]
    rep.table(_cols(rep, "id", "entity", "indicator", "value", "quote", "source"),
              [[r["id"], r["entity"] or r["region"], rep.name(r["indicator"]), narrative.figure(r, rep.lang), r["quote"],
                r["source"]] for _, r in used.iterrows()], "sources")
    src = rep.sources[rep.sources["id"].isin(set(used["source"]))]
    rep.table([*_cols(rep, "id", "title", "publisher", "date"), "sha256"],
              [[s["id"], s.get("title", ""), s.get("publisher", ""), s.get("date", ""), (s.get("sha256", "") or "")[:16]]
               for _, s in src.iterrows()], "sources-list")

