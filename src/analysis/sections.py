"""Report sections: each takes the report and its choices (which indicators, which chart) as
arguments, with defaults from the catalog, and displays tables, sentences and charts.

    sections.headline(rep)                                   # defaults from catalog.yaml (report: headline)
    sections.growth(rep, indicators=["auto_output", "nev_volume"], chart=False)

A section shows nothing when its data is missing. Sections are numbered (一、二、…), figures
and tables numbered and titled with their unit (图1　…（亿元）, 表1　…) and followed by their
资料来源 line. Words come from the message catalog, sentences from :mod:`analysis.narrative`,
charts from :mod:`analysis.charts`, HTML from the autoescaped templates in
``templates/sections.html.j2``. Caveats are numbered notes, each said once (:func:`notes`).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import charts, narrative
from .errors import UsageError
from .metrics import target_path
from .numbers import describe, display_scale, format_number
from .report import Report
from .request import FUTURE_MEASURES

HEADLINE_MEASURES = ("level", "growth", "cagr", "rank", "growth_rank", "streak", "share")


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


def _sentence(rep: Report, m) -> str:
    return narrative.metric_sentence(m, rep.observations, rep.catalog, rep.lang, note=rep.note)


def _value(rep: Report, m) -> str:
    return narrative.metric_value(m, rep.lang, rep.catalog)


def _unit(rep: Report, base_unit: str, magnitude: float) -> str:
    return display_scale(base_unit, magnitude, rep.lang)[0].strip()


def title_block(rep: Report, title: str | None = None) -> None:
    """Title, region, year, data date (from the sources; never today), generation date, data checksum."""
    msg, meta = rep.msg, rep.data.meta
    title = title or rep.request.title or msg("title", region=rep.place(rep.region), year=rep.year)
    dates = meta.get("data_dates") or []
    rows = [(msg("meta.region"), rep.place(rep.region)), (msg("meta.year"), str(rep.year)),
            (msg("meta.data_date"), msg.join(dates) if dates else msg("meta.data_date_unknown")),
            (msg("meta.generated"), meta.get("generated", "")),
            (msg("meta.data_file"), msg("meta.checksum", name=meta.get("data_file", ""),
                                        sha=str(meta.get("data_sha256", ""))[:12]))]
    rep.title_block(title, rows)


def findings(rep: Report, *, most: int = 5, ranks: int = 2) -> None:
    """要点: three to six sentences chosen by salience — first ranks (at most ``ranks``, growth ranks
    and streaks first), the largest level, the fastest growth, the growth a target or projection needs."""
    msg, lang = rep.msg, rep.lang
    own = rep.own[(rep.own["year"] == rep.year) & (rep.own["entity"] == "")]
    out: list[str] = []
    said: set[str] = set()
    for code in rep.catalog.report.get("headline") or []:     # the scale of the economy first
        rows = own[(own["indicator"] == code) & (own["measure"] == "level")]
        if len(rows):
            parts = narrative.indicator_parts(own[own["indicator"] == code], lang, rep.place)
            refs = "".join(dict.fromkeys(_contradicted(rep, i) for i in own.loc[own["indicator"] == code, "id"]))
            out.append(msg("prose.sentence", subject=rep.name(code), parts=narrative.parts_text(parts, lang) + refs))
            said.add(code)
            break
    firsts = own[own["measure"].isin(["rank", "growth_rank"]) & (own["value"] == 1) & ~own["indicator"].isin(said)]
    streaks = set(own.loc[own["measure"] == "streak", "indicator"])
    order = sorted(dict.fromkeys(firsts["indicator"]),
                   key=lambda c: (not (firsts.loc[firsts["indicator"] == c, "measure"] == "growth_rank").any(),
                                  c not in streaks))
    for code in order[:ranks]:
        rows = own[own["indicator"] == code]
        phrases = [p for p in (narrative._rank_phrase(rows, m, lang, rep.place)
                               for m in ("growth_rank", "rank")) if p]
        if phrases:
            refs = "".join(dict.fromkeys(_contradicted(rep, i) for i in rows["id"]))
            out.append(msg("prose.sentence", subject=rep.name(code), parts=narrative.parts_text(phrases, lang) + refs))
            said.add(code)
    money = own[(own["measure"] == "level") & (own["unit"] == "元")]
    industries = money[money["indicator"].isin([e["part"] for e in rep.catalog.metrics if e.get("kind") == "share"])]
    if len(industries):
        best = pd.DataFrame([narrative.narrowest(g) for _, g in industries.groupby("indicator", sort=False)]).reset_index(drop=True)
        top = best.loc[best["value"].idxmax()]
        others = best[best["indicator"] != top["indicator"]]
        if (others["upper"] <= top["lower"]).all():      # the largest only when no other could be larger
            g = own[(own["indicator"] == top["indicator"]) & (own["measure"] == "growth")]
            tail = msg("prose.growth_tail", figure=narrative.figure(narrative.narrowest(g), lang)) if len(g) else ""
            out.append(msg("prose.finding_largest", indicator=rep.name(top["indicator"]),
                           level=msg("prose.level_exact" if top["qualifier"] == "exact" else "prose.level_bound",
                                     figure=narrative.figure(top, lang)), growth=tail))
            said.add(top["indicator"])
    growth = own[(own["measure"] == "growth") & ~own["indicator"].isin(said)]
    if len(growth):
        top = growth.loc[growth["value"].idxmax()]
        fig = narrative.figure(top, lang)
        out.append(msg("prose.finding_fastest", indicator=rep.name(top["indicator"], mid=True), figure=fig,
                       growth=msg("prose.growth", figure=fig)))
    for _, m in _finite(_kinds(rep, ["required_growth"])).iterrows():
        if narrative.determined(m):
            out.append(msg("prose.finding_target", name=m[f"name_{lang}"], value=_value(rep, m)))
    out = out[:most]
    if len(out) >= 1:
        rep.heading(msg("sections.findings"), "sec-findings")
        rep.items(out, cls="findings")


def _contradicted(rep: Report, obs_id: str) -> str:
    """A note reference for a stated rank the data contradict (a ``stated-rank`` check that disagrees):
    the report repeats what the source says, and says where the data differ."""
    c = rep.checks
    disagree = np.flatnonzero(((c["check"] == "stated-rank") & (c["status"] == "disagree")).to_numpy(bool))
    stated = c["stated_ids"]
    hit = next((i for i in disagree if stated.iloc[i] is not None and obs_id in list(stated.iloc[i])), None)
    if hit is None:
        return ""
    r = c.iloc[hit]
    lo, hi = int(r["computed_lower"]), int(r["computed_upper"])
    computed = rep.msg("figures.rank", n=lo) if lo == hi else rep.msg("figures.rank_range", lo=lo, hi=hi)
    return rep.note([rep.msg("caveats.rank-contradicted", computed=computed, peer=rep.place(r["peer"]))])


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
    msg, lang = rep.msg, rep.lang
    rep.heading(msg("sections.headline"), "sec-headline")
    rep.paragraphs(narrative.headline(rep.observations, rep.catalog, rep.region, rep.year, lang,
                                      indicators or rep.catalog.report.get("headline"), place=rep.place,
                                      refs=lambda i: _contradicted(rep, i)))
    rep.table(_cols(rep, "indicator", "measure", "value", "id"),
              [[rep.name(r["indicator"]), narrative.measure_label(r, lang, rep.place),
                narrative.figure(r, lang) + _contradicted(rep, r["id"]), r["id"]] for _, r in region_rows.iterrows()],
              caption=msg("captions.headline"), source=rep.source_line(region_rows["id"]))
    rep.use(region_rows["id"])
    ent = own[own["entity"] != ""]
    if entities and len(ent):
        rep.table(_cols(rep, "entity", "indicator", "measure", "value", "id"),
                  [[rep.place(r["entity"]), rep.name(r["indicator"]), narrative.measure_label(r, lang, rep.place),
                    narrative.figure(r, lang), r["id"]] for _, r in ent.iterrows()],
                  caption=msg("captions.entities"), source=rep.source_line(ent["id"]))
        rep.use(ent["id"])


def structure(rep: Report, *, shares: list[str] | None = None, levels: list[str] | None = None,
              chart: bool = True) -> None:
    """Shares of the leading industries (sentences and a chart) and their output levels.

    Args:
        shares: metric codes of the shares (default: every share computed; shares of the parent region
            are in :func:`comparison`, unless named here).
        levels: indicator codes of the levels chart (default: the parts and wholes of the catalog's shares).
        chart: draw the charts.
    """
    shares = _known(rep, shares, "structure(shares=…)", metrics=True)
    levels = _known(rep, levels, "structure(levels=…)")
    s = _finite(_kinds(rep, ["share", "region_share"] if shares is not None else ["share"]))
    if shares is not None:
        s = s[s["metric"].isin(shares)]
    if s.empty:
        return
    msg = rep.msg
    rep.heading(msg("sections.structure"), "sec-structure")
    rep.paragraphs([_sentence(rep, m) for _, m in s.iterrows()])
    rep.use(s["inputs"])
    drawable = s[[narrative.determined(m) for _, m in s.iterrows()]]   # an undetermined share is no bar
    if chart and len(drawable):
        fig = charts.bounded_bars([m[f"name_{rep.lang}"] for _, m in drawable.iterrows()], list(drawable["value"]),
                                  list(drawable["lower"]), list(drawable["upper"]), title=None, credit=rep.credit, unit_label="%",
                                  source="", lang=rep.lang, suffix="%")
        rep.figure(fig, msg("charts.shares_title"), unit="%",
                   source=rep.source_line([i for ids in drawable["inputs"] for i in ids]))
    if levels is None:
        entries = [e for e in rep.catalog.metrics if e.get("kind") == "share"]
        levels = list(dict.fromkeys(c for e in entries for c in (e["part"], e["whole"])))
    own = rep.own
    lv = own[(own["measure"] == "level") & (own["entity"] == "") & own["indicator"].isin(levels) & (own["year"] == rep.year)]
    if chart and len(lv) and lv["indicator"].nunique() >= 2 and (lv["unit"] == "元").all():
        lv = pd.DataFrame([narrative.narrowest(g) for _, g in lv.groupby("indicator", sort=False)])
        unit = _unit(rep, "元", float(lv["value"].max()))
        scale = display_scale("元", float(lv["value"].max()), rep.lang)[1]
        exact = (lv["qualifier"] == "exact").to_numpy()
        fig = charts.bounded_bars([rep.name(c) for c in lv["indicator"]], list(lv["value"] / scale),
                                  list(np.where(exact, lv["value"], lv["lower"]) / scale),
                                  list(np.where(exact, lv["value"], lv["upper"]) / scale),
                                  title=None, credit=rep.credit, qualifiers=list(lv["qualifier"]), unit_label=unit, source="",
                                  lang=rep.lang, decimals=0)
        rep.figure(fig, msg("charts.output_title"), unit=unit, source=rep.source_line(lv["id"]))
        rep.use(lv["id"])


def growth(rep: Report, *, indicators: list[str] | None = None, chart: bool = True, bases: bool = True) -> None:
    """Stated growth rates (a chart) and what they imply: previous-year levels, computed growth (a
    nominal one named so), contributions to growth (noted when they use implied previous levels).

    Args:
        indicators: indicator codes (default: every indicator with a stated growth of the year).
        chart: draw the charts.
        bases: show the implied previous-year levels, computed growth and contributions.
    """
    indicators = _known(rep, indicators, "growth(indicators=…)")
    own, msg = rep.own, rep.msg
    g = own[(own["measure"] == "growth") & (own["entity"] == "") & (own["year"] == rep.year)]
    implied = _kinds(rep, ["implied_base", "implied_level", "growth"]) if bases else rep.metrics.iloc[0:0]
    implied = pd.concat([implied, _finite(_kinds(rep, ["contribution"]))]) if bases else implied
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
                                  title=None, credit=rep.credit, unit_label=msg("charts.growth_unit"), source="", lang=rep.lang, cap=cap,
                                  suffix="%", qualifiers=list(g["qualifier"]), note=_mixed_note(rep, g["indicator"]))
        rep.figure(fig, msg("charts.growth_title", year=rep.year), unit="%", source=rep.source_line(g["id"]))
    rep.use(g["id"])
    if len(implied):
        rep.paragraphs([_sentence(rep, m) for _, m in implied.iterrows()])
        rep.use(implied["inputs"])
        panels = []
        for _, m in implied[implied["kind"] == "implied_base"].iterrows():
            used = rep.observations[rep.observations["id"].isin(list(m["inputs"]))]
            lv = used[used["measure"] == "level"]
            if lv.empty or not narrative.determined(m):
                continue
            panels.append(dict(label=rep.name(m["indicator"]), unit=str(m["unit"]), base=m["value"], base_lo=m["lower"],
                               base_hi=m["upper"], level=float(lv["value"].iloc[0]), base_year=int(m["start_year"]),
                               year=rep.year, base_decimals=narrative.decimals_for(m, rep.lang),
                               level_decimals=narrative.stated_decimals(lv.iloc[0], rep.lang)))
        if panels and chart:
            fig = charts.base_and_level(panels[:4], title=None, credit=rep.credit, source="", lang=rep.lang)
            rep.figure(fig, msg("charts.bases_title"),
                       source=rep.source_line([i for ids in implied["inputs"] for i in ids]))


#: metrics that compare the region with its parent or its peers
COMPARED = ("rank", "region_share", "parent_gap")


def _hierarchy(rep: Report) -> tuple[str, list[str]]:
    """The region's parent and the regions ranked with it (:func:`analysis.metrics.kinds.rank_group`)."""
    from .metrics.kinds import parents_of, rank_group
    return rank_group(rep.region, parents_of(rep.observations.attrs.get("regions", {}), rep.catalog),
                      rep.observations["region"].astype(str))


def _compared_measure(rep: Report, ms: pd.DataFrame) -> list[str]:
    """The measure each comparison metric is about: that of the region's own figure among its inputs."""
    o = rep.observations
    own = dict(zip(o.loc[o["region"] == rep.region, "id"], o.loc[o["region"] == rep.region, "measure"]))
    return [next((own[i] for i in m["inputs"] if i in own), "") for _, m in ms.iterrows()]


def _figure_of(rep: Report, region: str, code: str, measure: str):
    """The figure of a region for the report year (its narrowest statement), or None."""
    rows = rep.rows_of(region, code, measure)
    return narrative.narrowest(rows) if len(rows) else None


def comparison(rep: Report, *, indicators: list[str] | None = None, charts: list[str] | None = None,
               chart: bool = True, most: int = 40) -> None:
    """The region against its parent and its peers: share of the parent (比重), growth against the
    parent's in percentage points, rank among the regions sharing the parent (with the size of the
    set and how many have data), a table, and a sorted bar chart of the peers with the region
    highlighted (the parent is never a bar). Shown only when the data hold the parent or peers.

    Args:
        indicators: indicator codes compared (default: ``report: comparison`` in the catalog, else its
            ``headline``, then every other indicator the data compare).
        charts: rank metric codes charted (``rank:ind_output_above`` by level,
            ``growth_rank:ind_va_above`` by growth; default: the first of each among ``indicators``).
        chart: draw the charts.
        most: at most this many bars (the top ones and the region).
    """
    indicators = _known(rep, indicators, "comparison(indicators=…)")
    charts = _known(rep, charts, "comparison(charts=…)", metrics=True)
    ms = _finite(_kinds(rep, COMPARED))
    ms = ms[ms["entity"] == ""]
    if ms.empty:
        return
    ms = ms.assign(measure=_compared_measure(rep, ms))
    if indicators is None:
        default = _known(rep, rep.catalog.report.get("comparison") or rep.catalog.report.get("headline") or [],
                         "catalog report.comparison")
        indicators = list(dict.fromkeys([*default, *ms["indicator"].astype(str)]))
    msg, lang, place = rep.msg, rep.lang, rep.place
    parent, members = _hierarchy(rep)
    word = narrative.members_word(members, lang, rep.observations.attrs.get("regions", {}))
    whole = narrative.whole_word(parent, lang, place) if parent else ""
    pname = place(parent) if parent else ""
    sentences, rows, ids, ranked = [], [], [], []
    for code in indicators:
        mi = ms[ms["indicator"] == code]
        parts = []
        for measure in ("level", "growth", "share"):
            mm = mi[mi["measure"] == measure]
            r = _figure_of(rep, rep.region, code, measure)
            if mm.empty or r is None:
                continue
            p = _figure_of(rep, parent, code, measure) if parent else None
            pfig = narrative.figure(p, lang) if p is not None else "–"
            if measure == "growth":
                parts.append(msg("prose.growth", figure=narrative.figure(r, lang)))
            elif measure == "share":
                parts.append(msg("comparison.stated_share", value=narrative.figure(r, lang)))
            else:
                parts.append(msg("prose.level_exact" if r["qualifier"] == "exact" else "prose.level_bound",
                                 figure=narrative.figure(r, lang)))
            share_cell = gap_cell = rank_cell = ""
            order = {"region_share": 0, "parent_gap": 0, "rank": 1}      # against the parent, then the rank
            for _, m in mm.iloc[np.argsort([order[k] for k in mm["kind"]], kind="stable")].iterrows():
                if m["kind"] == "region_share":
                    value = _value(rep, m)
                    parts.append(msg("comparison.share", whole=whole, value=value) + _refs(rep, m))
                    share_cell = value
                elif m["kind"] == "parent_gap":
                    parts.append(narrative.gap_words(m, lang, whole=whole, parent_figure=pfig) + _refs(rep, m))
                    gap_cell = _value(rep, m)
                else:
                    what = "rate" if measure == "level" and r["unit"] == "%" else measure
                    parts.append(narrative.peer_rank(m, lang, what=what, parent=pname, whole=whole, members=word))
                    rank_cell = narrative.rank_cell(m, lang)
                    ranked.append(m)
                ids += list(m["inputs"])
            rows.append([rep.name(code), narrative.measure_label(r, lang, place), narrative.figure(r, lang), pfig,
                         share_cell, gap_cell, rank_cell])
            ids += [r["id"]] + ([p["id"]] if p is not None else [])
        if parts:
            subject = msg("prose.opening", year=rep.year, region=place(rep.region)) + rep.name(code, mid=True) \
                if not sentences else rep.name(code)
            sentences.append(msg("prose.sentence", subject=subject, parts=narrative.parts_text(parts, lang)))
    if not rows:
        return
    rep.heading(msg("sections.comparison"), "sec-comparison")
    rep.paragraphs(sentences)
    group = msg("comparison.group", parent=pname, members=word) if parent else msg("comparison.group_nopeer")
    headers = [*_cols(rep, "indicator", "measure"), place(rep.region), pname,
               msg("comparison.column_share", parent=pname), msg("comparison.column_gap", parent=pname),
               msg("comparison.column_rank", group=group)]
    keep = [True, True, True, bool(parent), *(any(r[i] for r in rows) for i in (4, 5, 6))]
    rep.table([h for h, k in zip(headers, keep) if k], [[c for c, k in zip(r, keep) if k] for r in rows],
              caption=msg("comparison.caption", parent=pname, members=word) if parent else msg("comparison.caption_nopeer"),
              source=rep.source_line(ids))
    rep.use(ids)
    if not chart or not ranked:
        return
    ranked = pd.DataFrame(ranked)
    if charts is not None:
        chosen = ranked[ranked["metric"].astype(str).isin(charts)]
    else:      # the first indicator compared by level, the first by growth
        chosen = pd.concat([ranked[ranked["measure"] == k].head(1) for k in ("level", "growth")])
    for _, m in chosen.iterrows():
        _peer_chart(rep, m, parent=parent, members=members, word=word, most=most)


def _refs(rep: Report, m) -> str:
    """Note references for a comparison's caveats; bounds are in its words, and a difference of two
    growth rates at comparable prices needs no price caveat."""
    flags = [f for f in (list(m["flags"]) if m["flags"] is not None else [])
             if f not in ("lower-bound-input", "upper-bound-input", "comparable-prices")]
    texts = narrative.caveats(flags, rep.lang)
    return rep.note(texts) if texts else ""


def _peer_chart(rep: Report, m, *, parent: str, members: list[str], word: str, most: int) -> None:
    """Bars of the peers' figures, sorted as ranked, the region in the accent colour; the parent's
    figure a reference line (a rate) or a note (a level), never a bar."""
    msg, lang, place = rep.msg, rep.lang, rep.place
    code, measure = str(m["indicator"]), m["measure"]
    pool = rep.rows_of([r for r in dict.fromkeys(members) if r != parent], code, measure)
    from .metrics import best_observations
    pool = best_observations(pool) if len(pool) else pool
    if len(pool) < 2 or rep.region not in set(pool["region"]):
        return
    ind = rep.catalog.indicators.get(code)
    sign = -1.0 if ind is not None and ind.rank_first == "lowest" else 1.0
    pool = pool.assign(_key=pool["value"] * sign).sort_values("_key", ascending=False, kind="stable")
    notes = []
    if len(pool) > most:
        top = pool.head(most - 1)
        pool = pool if rep.region in set(top["region"]) else pd.concat([top, pool[pool["region"] == rep.region]])
        pool = pool.head(most)
        notes.append(msg("comparison.note_most", most=most - 1, region=place(rep.region)))
    unit = str(pool["unit"].iloc[0])
    name, scale = display_scale(unit, float(pool["value"].abs().max()), lang)
    exact = (pool["qualifier"] == "exact").to_numpy()
    p = _figure_of(rep, parent, code, measure) if parent else None
    rate = unit == "%"
    reference = label = None
    if p is not None and rate:
        reference, label = float(p["value"]), msg("comparison.reference", parent=place(parent),
                                                  figure=narrative.figure(p, lang))
    elif p is not None:
        notes.append(msg("comparison.note_parent", parent=place(parent), indicator=rep.name(code, mid=True),
                         figure=narrative.figure(p, lang)))
    n, k = m.get("peer_n"), m.get("peer_covered")
    if parent and not pd.isna(n) and not pd.isna(k) and int(k) < int(n):
        notes.append(msg("comparison.note_coverage", parent=place(parent), n=int(n), k=int(k), members=word))
    notes.insert(0, msg("comparison.note_highlight", region=place(rep.region)))
    decimals = max([narrative.stated_decimals(r, lang) for _, r in pool.iterrows()] + [0 if not rate else 1])
    regions = list(pool["region"])
    fig = charts.bounded_bars([place(r) for r in regions], list(pool["value"] / scale),
                              list(np.where(exact, pool["value"], pool["lower"]) / scale),
                              list(np.where(exact, pool["value"], pool["upper"]) / scale),
                              title=None, credit=rep.credit, qualifiers=list(pool["qualifier"]),
                              unit_label=msg("charts.growth_unit") if measure == "growth" else name.strip(),
                              source="", lang=lang, decimals=min(decimals, 2), suffix="%" if rate else "",
                              highlight=regions.index(rep.region), reference=reference, reference_label=label or "",
                              note=msg("comparison.note", text=msg("sentences.caveat_join").join(notes)))
    group = msg("comparison.group", parent=place(parent), members=word) if parent else msg("comparison.group_nopeer")
    ids = list(pool["id"]) + ([p["id"]] if p is not None else [])
    rep.figure(fig, msg(f"comparison.chart_{measure}", year=rep.year, group=group,
                        indicator=rep.name(code, mid=measure == "growth")),
               unit=name.strip(), source=rep.source_line(ids))
    rep.use(ids)


def _mixed_note(rep: Report, codes) -> str:
    """A note when one chart compares growth of different measures (产值, 产量, 增加值 at comparable prices)."""
    kinds = {(rep.catalog[c].dimension, rep.catalog[c].growth_basis) for c in set(codes) if c in rep.catalog.indicators}
    return rep.msg("charts.note_mixed_measures") if len(kinds) > 1 else ""


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
    msg, lang = rep.msg, rep.lang
    rep.heading(msg("sections.innovation"), "sec-innovation")
    said = set(rep.catalog.report.get("headline") or [])   # the key figures said these already
    rep.paragraphs(narrative.headline(rep.observations, rep.catalog, rep.region, rep.year, lang,
                                      [c for c in indicators if c in set(rows["indicator"]) and c not in said],
                                      place=rep.place))
    rep.paragraphs([_sentence(rep, m) for _, m in ms.iterrows()])
    rep.use(rows["id"])
    rep.use(ms["inputs"])
    rep.table(_cols(rep, "indicator", "value", "period"),
              [[m[f"name_{lang}"], _value(rep, m), _period(m)] for _, m in ms.iterrows()],
              caption=msg("captions.innovation"), source=rep.source_line([i for ids in ms["inputs"] for i in ids]))


def _period(m) -> str:
    a, b = int(m["start_year"]), int(m["end_year"])
    return str(a) if a == b else f"{a}–{b}"


def targets(rep: Report, *, chart: bool = True) -> None:
    """Targets and projections: the annual growth each needs, the gap, and the path to it."""
    ms = _finite(_kinds(rep, ["required_growth"]))
    if ms.empty:
        return
    msg = rep.msg
    rep.heading(msg("sections.targets"), "sec-targets")
    rep.paragraphs([_sentence(rep, m) for _, m in ms.iterrows()])
    gaps = _finite(_kinds(rep, ["target_gap"]))
    rep.paragraphs([msg("sentences.metric", name=m[f"name_{rep.lang}"], value=_value(rep, m))
                    for _, m in gaps.iterrows()])
    paths = target_path(ms, rep.observations)
    for _, m in ms.iterrows():
        used = rep.observations[rep.observations["id"].isin(list(m["inputs"]))]
        lv, tg = used[used["measure"] == "level"], used[used["measure"].isin(["target", "projection"])]
        rep.use(used["id"])
        if not chart or lv.empty or tg.empty:
            continue
        lv, tg = lv.iloc[0], tg.iloc[0]
        pth = paths[paths["metric"] == m["metric"]]
        flags = list(m["flags"]) if m["flags"] is not None else []
        caveat = msg("caveats.scope-mismatch", **narrative.scope_fields(m, rep.observations, rep.catalog, rep.lang)) \
            if "scope-mismatch" in flags else ""
        unit = _unit(rep, str(lv["unit"]), float(tg["value"]))
        fig = charts.target_path([int(y) for y in pth["year"]], list(pth["value"]),
                                 level_label=msg("charts.target_path_label", rate=format_number(m["value"], 1, rep.lang)),
                                 target_label=f"{rep.name(tg['indicator'])} {narrative.figure(tg, rep.lang)}",
                                 target_value=tg["value"], unit=str(lv["unit"]), title=None, credit=rep.credit, source="", caveat=caveat,
                                 lang=rep.lang, threshold=tg["qualifier"] in (">", "≥"),
                                 level_qualifier=str(lv["qualifier"]), target_qualifier=str(tg["qualifier"]))
        title = "charts.projection_title" if tg["measure"] == "projection" else "charts.target_title"
        rep.figure(fig, msg(title, indicator=rep.name(tg["indicator"], mid=True), start=int(m["start_year"]),
                            end=int(m["end_year"])), unit=unit, source=rep.source_line(used["id"]))


def _informative(rec: pd.DataFrame, obs: pd.DataFrame) -> pd.DataFrame:
    """Checks worth a reader's time: every recomputation, and a figure stated twice only when its
    statements disagree or neither contains the other (1900亿元 within 千亿级 tells nothing)."""
    keep = []
    for _, r in rec.iterrows():
        if r["check"] != "stated-twice" or r["status"] != "agree":
            keep.append(True)
            continue
        inside = (r["stated_lower"] >= r["computed_lower"] and r["stated_upper"] <= r["computed_upper"]) or \
                 (r["computed_lower"] >= r["stated_lower"] and r["computed_upper"] <= r["stated_upper"])
        keep.append(not inside)
    return rec[keep] if len(rec) else rec


def _missing(rep: Report) -> pd.DataFrame:
    """Metrics that could not be computed and that the report did not state or estimate otherwise."""
    missing = rep.metrics[~np.isfinite(rep.metrics["value"].astype(float))]
    own = rep.own[rep.own["year"] == rep.year]
    stated = set(own["indicator"])
    implied = set(_finite(_kinds(rep, ["implied_base", "implied_level", "implied_denominator"]))["indicator"].astype(str))
    keep = [not (str(m["indicator"]) in stated or str(m.get("reason_indicator", "")) in implied)
            for _, m in missing.iterrows()]
    return missing[keep] if len(missing) else missing


def _uncheckable_ranks(rec: pd.DataFrame) -> np.ndarray:
    """Stated ranks that cannot be checked and whose row would tell nothing: the peer set is unknown,
    or the data hold no member of it but the region (they are summed up in a sentence instead)."""
    if rec.empty:
        return np.zeros(0, bool)
    covered = rec["peer_covered"].astype("Float64").fillna(0).to_numpy(float)
    return ((rec["check"] == "stated-rank") & (rec["status"] == "cannot-check")).to_numpy(bool) & \
        (rec["peer_n"].isna().to_numpy(bool) | (covered <= 1))


def _ranks_summary(rep: Report, rows: pd.DataFrame) -> list[str]:
    """One sentence per peer set for the stated ranks :func:`_uncheckable_ranks` sets apart."""
    msg, o = rep.msg, rep.observations.set_index("id")
    out = []
    for (peer, unknown), g in rows.groupby([rows["peer"].astype(str), rows["peer_n"].isna()], sort=False):
        names = []
        for _, r in g.iterrows():
            stated = [i for i in r["stated_ids"] if i in o.index]
            measure = str(o.loc[stated[0], "measure"]) if stated else "rank"
            names.append(msg("numbering.with_unit", text=rep.name(r["indicator"], mid=True), unit=msg(f"measures.{measure}")))
        out.append(msg("checks.ranks-unknown" if unknown else "checks.ranks-alone", names=msg.join(names),
                       region=rep.place(rep.region), peer=rep.place(peer)))
    return out


def _denominator(rep: Report, metric: str) -> str:
    """The denominator of a catalog ratio, named (地区生产总值)."""
    entry = next((e for e in rep.catalog.metrics if e.get("code") == metric), {})
    return rep.name(entry["denominator"], mid=True) if entry.get("denominator") else ""


def _previous_year(rep: Report, rec: pd.DataFrame) -> list[str]:
    """A stated ratio that disagrees with the same year's denominator and agrees with the previous
    year's, explained: its denominator was presumably last year's."""
    msg, o = rep.msg, rep.observations.set_index("id")
    pair = rec[rec["check"].isin(["ratio-same-year", "ratio-previous-year"])]
    out = []
    for _, g in pair.groupby(["region", "year", "indicator"], sort=False, observed=True):
        same, prev = (g[g["check"] == c] for c in ("ratio-same-year", "ratio-previous-year"))
        if same.empty or prev.empty or not (same["status"] == "disagree").all() or not (prev["status"] == "agree").any():
            continue
        s, p = same.iloc[0], prev[prev["status"] == "agree"].iloc[0]
        stated = [i for i in s["stated_ids"] if i in o.index]
        if not stated:
            continue
        out.append(msg("checks.previous-year", indicator=rep.name(s["indicator"], mid=True),
                       stated=narrative.figure(o.loc[stated[0]], rep.lang), prev=int(p["denominator_year"]),
                       year=int(s["denominator_year"]), denominator=_denominator(rep, s["metric"])))
    return out


def _computed(rep: Report, r, o: pd.DataFrame) -> str:
    """The figure a stated one is checked against, in words: another statement, a rank among peers,
    or a recomputation (a growth from two money levels marked as at current prices)."""
    lang = rep.lang
    if r["check"] == "stated-twice":
        return rep.msg.join(narrative.figure(o.loc[i], lang) for i in r["computed_from"] if i in o.index)
    if not math.isfinite(r["computed"]):
        return "–"
    if r["check"] == "stated-rank":
        return narrative.rank_value({"lower": r["computed_lower"], "upper": r["computed_upper"], "peer_n": r["peer_n"],
                                     "peer_covered": r["peer_covered"]}, lang)
    text = describe(r["computed"], r["computed_lower"], r["computed_upper"], str(r["unit"]), lang=lang, decimals=2)
    if r["check"] == "growth-from-levels":
        m = rep.metrics[(rep.metrics["kind"] == "growth") & (rep.metrics["indicator"] == r["indicator"])
                        & (rep.metrics["year"] == r["year"])]
        if len(m) and narrative.nominal(m.iloc[0]):
            text = rep.msg("checks.nominal", value=text)
    return text


def _check_label(rep: Report, r) -> str:
    if r["check"] in ("ratio-same-year", "ratio-previous-year") and not pd.isna(r["denominator_year"]):
        return rep.msg("checks.ratio-year", year=int(r["denominator_year"]), denominator=_denominator(rep, r["metric"]))
    return rep.msg(f"checks.{r['check']}")


def checks(rep: Report) -> None:
    """Data checks: stated figures against another statement or their recomputation, and what could
    not be computed. A stated ratio that matches last year's denominator is explained in a sentence;
    stated ranks that cannot be checked for want of any peer's data are summed up in one."""
    rec, msg, lang = _informative(rep.checks, rep.observations), rep.msg, rep.lang
    missing = _missing(rep)
    if rec.empty and missing.empty:
        return
    rep.heading(msg("sections.checks"), "sec-checks")
    o = rep.observations.set_index("id")
    alone = _uncheckable_ranks(rec)
    rep.paragraphs([*_previous_year(rep, rec), *_ranks_summary(rep, rec[alone])])
    rep.use([i for ids in rec.loc[alone, "stated_ids"] for i in ids])
    rec = rec[~alone]
    rows = []
    for _, r in rec.iterrows():
        stated = [narrative.figure(o.loc[i], lang) for i in r["stated_ids"] if i in o.index]
        name = rep.name(r["indicator"])
        if r["check"] == "stated-rank" and len(stated):
            measure = str(o.loc[r["stated_ids"][0], "measure"])
            name = msg("numbering.with_unit", text=name, unit=msg(f"measures.{measure}"))
        rows.append([_check_label(rep, r), name, msg.join(stated), _computed(rep, r, o),
                     narrative.check_status(r, lang, rep.place), msg.join([*r["stated_ids"], *r["computed_from"]])])
        rep.use(r["stated_ids"])
        rep.use(r["computed_from"])
    rep.table(_cols(rep, "check", "indicator", "stated", "other", "status", "inputs"), rows, "checks",
              caption=msg("captions.checks"),
              source=rep.source_line([i for _, r in rec.iterrows() for i in [*r["stated_ids"], *r["computed_from"]]]))
    rep.items([msg("missing_item", name=m[f"name_{lang}"], reason=narrative.reason(m, rep.catalog, lang))
               for _, m in missing.iterrows()], head=msg("missing_head"))


def notes(rep: Report) -> None:
    """注释: the caveats the sections referenced (注1, 注2 …), each once."""
    if rep.notes:
        rep.heading(rep.msg("sections.notes"), "sec-notes")
        rep.items([rep.msg("numbering.note_item", n=i, text=t) for i, t in enumerate(rep.notes, 1)], cls="notes")


def methods(rep: Report) -> None:
    """How each metric is computed, and what each qualifier means for bounds."""
    msg, lang = rep.msg, rep.lang
    rep.heading(msg("sections.methods"), "sec-methods")
    seen = {}
    for _, m in rep.metrics.iterrows():
        seen.setdefault((m["formula_zh"], m["kind"]), [m[f"name_{lang}"], m[f"formula_{lang}"]])
    rep.table(_cols(rep, "indicator", "formula"), list(seen.values()), "methods", caption=msg("captions.methods"))
    settings = rep.catalog.settings
    bands = {"approx": format_number(100 * float(settings.get("approx_band", 0.05)), 0, lang),
             "near": format_number(100 * (1 - float(settings.get("near_band", 0.10))), 0, lang)}
    rep.paragraphs([msg("methods.intro")])
    rep.items([msg("methods.rule", word=msg(f"qualifier_words.{q}"), meaning=msg(f"qualifiers.{q}", **bands))
               for q in msg.get("qualifiers")], cls="rules")


def _stated(rep: Report, r) -> str:
    """A figure with the year and kind of a future claim (超过7000亿元（2027年预计）); others as stated."""
    fig = narrative.figure(r, rep.lang)
    if r["measure"] in FUTURE_MEASURES:
        return rep.msg("numbering.with_unit", text=fig, unit=narrative.measure_label(r, rep.lang, rep.place))
    return fig


def sources(rep: Report) -> None:
    """Every figure the report showed, with its verbatim quote, and the sources they come from."""
    msg = rep.msg
    rep.heading(msg("sections.sources"), "sec-sources")
    o = rep.observations
    used = o[o["id"].isin(rep.used_ids) | o["id"].isin(rep.own["id"])]
    # each figure credited to its own region and entity: a parent's or peer's figure the report used is
    # not the report region's
    rep.table(_cols(rep, "id", "region", "entity", "indicator", "value", "quote", "source"),
              [[r["id"], rep.place(r["region"]), rep.place(r["entity"]) if r["entity"] else "", rep.name(r["indicator"]),
                _stated(rep, r), r["quote"], r["source"]] for _, r in used.iterrows()], "sources",
              caption=msg("captions.sources_figures"))
    src = rep.sources[rep.sources["id"].isin(set(used["source"]))]
    rep.table([*_cols(rep, "id", "title", "publisher", "date"), "sha256"],
              [[s["id"], s.get("title", ""), s.get("publisher", ""), s.get("date", ""), (s.get("sha256", "") or "")[:16]]
               for _, s in src.iterrows()], "sources-list", caption=msg("captions.sources_list"))
