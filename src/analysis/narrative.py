"""Narrative sentences generated from observations and metrics, in the report's language.

Sentences are plain text (templates escape them). Every word comes from the language's message
catalog (:mod:`analysis.messages`); bounds are worded for readers — 超过 / 不超过 / 约 ("more
than" / "at most" / "about") — and every caveat a flag carries is said.
"""
from __future__ import annotations

import math

import pandas as pd

from .catalog import Catalog
from .messages import messages
from .numbers import describe, display_scale, format_number


def caveats(flags, lang: str) -> list[str]:
    """Reader sentences for a metric's flag codes."""
    msg = messages(lang)
    return [msg(f"caveats.{f}") for f in (flags if flags is not None else []) if msg.get(f"caveats.{f}")]


def reason(m, catalog: Catalog, lang: str) -> str:
    """Why a metric has no value, from its reason code and the indicator it concerns."""
    msg = messages(lang)
    code = str(m.get("reason", "") or "missing")
    ind = str(m.get("reason_indicator", "") or "")
    return msg(f"reasons.{code}", indicator=catalog.name(ind, lang) if ind else "") if msg.get(f"reasons.{code}") \
        else msg("reasons.missing")


def stated_decimals(row, lang: str) -> int:
    """Decimals a stated figure was published with, in the reader's unit (129.2亿元 → 1; 5.29% → 2)."""
    _, factor = display_scale(str(row["unit"]), row["value"], lang)
    half = float(row.get("half_width", 0) or 0)
    if half > 0:
        return int(min(3, max(0, math.ceil(-math.log10(2 * half / factor) - 1e-9))))
    v = row["value"] / factor
    return 0 if float(v).is_integer() else 1


def figure(row, lang: str) -> str:
    """A stated figure as readers should read it (超过4,000亿元; 增长5.6倍 stays as stated in Chinese)."""
    msg = messages(lang)
    if row["measure"] in ("rank", "growth_rank"):
        return msg("figures.rank", n=int(row["value"]))
    if row["measure"] == "streak":
        return msg("figures.streak", n=int(row["value"]))
    if row["measure"] == "growth" and str(row.get("unit_stated", "")) == "倍":
        times = row["value"] / 100
        return msg("figures.times", times=format_number(times, 1, lang), multiple=format_number(times + 1, 1, lang),
                   percent=format_number(row["value"], 0, lang))
    dec = stated_decimals(row, lang)
    if row.get("qualifier", "") == "余":  # 30余家 reads as written: more than 30, fewer than 40
        name, factor = display_scale(str(row["unit"]), row["value"], lang)
        key = "figures.more_than_n_years" if row["unit"] == "年" else "figures.more_than_n"
        return msg(key, v=format_number(row["value"] / factor, dec, lang), unit=name,
                   hi=format_number(row["upper"] / factor, dec, lang))
    if row.get("qualifier", "") == "exact":  # a stated figure is shown as stated, not as its rounding interval
        return describe(row["value"], row["value"], row["value"], row["unit"], lang=lang, decimals=dec)
    return describe(row["value"], row["lower"], row["upper"], row["unit"], lang=lang, decimals=dec,
                    qualifier=row.get("qualifier", ""))


def metric_value(m, lang: str, catalog: Catalog | None = None, decimals: int = 1) -> str:
    """A derived figure worded with its bounds; a missing one with its reason."""
    msg = messages(lang)
    if not (isinstance(m["value"], float) and math.isfinite(m["value"])):
        text = reason(m, catalog, lang) if catalog is not None else msg("reasons.missing")
        return msg("reasons.missing") + msg("colon") + text
    if m["kind"] == "rank":
        return msg("figures.rank", n=int(m["value"]))
    return describe(m["value"], m["lower"], m["upper"], str(m["unit"]), lang=lang, decimals=decimals)


def narrowest(rows: pd.DataFrame) -> pd.Series:
    """The figure to state for rows of one indicator and measure: a figure stated twice as its
    narrowest statement with the bounds of all (:func:`analysis.metrics.best_observations`, the
    one home of that rule); of different figures (another peer set), the first."""
    from .metrics import best_observations
    return best_observations(rows).iloc[0]


def headline(obs: pd.DataFrame, catalog: Catalog, region: str, year: int, lang: str,
             indicators: list[str] | None = None) -> list[str]:
    """One sentence per indicator that has a figure for the region and year."""
    msg = messages(lang)
    sel = obs[(obs["region"] == region) & (obs["year"] == year) & (obs["entity"] == "")]
    codes = indicators or list(dict.fromkeys(sel["indicator"]))
    out = []
    for code in codes:
        rows = sel[sel["indicator"] == code]
        if rows.empty:
            continue
        parts = []
        for measure in ("level", "growth", "rank", "growth_rank"):
            r = rows[rows["measure"] == measure]
            if r.empty:
                continue
            r = narrowest(r)
            if measure in ("level", "growth"):
                parts.append(msg(f"sentences.{measure}", figure=figure(r, lang)))
            else:
                parts.append(msg(f"sentences.{measure}", n=int(r["value"]),
                                 peer=r["peer"] or msg("sentences.peer_default")))
        if parts:
            out.append(msg("sentences.headline", year=year, region=region, indicator=catalog.name(code, lang),
                           parts=msg("sep").join(parts)))
    return out


def metric_sentence(m, obs: pd.DataFrame, catalog: Catalog, lang: str) -> str:
    """One sentence explaining a derived metric with its inputs and caveats."""
    msg = messages(lang)
    v = metric_value(m, lang, catalog)
    used = obs[obs["id"].isin(list(m["inputs"]))]
    kind = m["kind"]
    levels, growths, targets = (used[used["measure"] == k] for k in ("level", "growth", "target"))
    if kind == "implied_base" and len(levels) and len(growths):
        lv, g = levels.iloc[0], growths.iloc[0]
        s = msg("sentences.implied_base", year=int(lv["year"]), indicator=catalog.name(lv["indicator"], lang),
                level=figure(lv, lang), growth=figure(g, lang), base_year=int(m["start_year"]), value=v)
    elif kind == "required_growth" and len(levels) and len(targets):
        lv, tg = levels.iloc[0], targets.iloc[0]
        s = msg("sentences.required_growth", start=int(m["start_year"]), end=int(m["end_year"]),
                level_indicator=catalog.name(lv["indicator"], lang), level=figure(lv, lang),
                target_indicator=catalog.name(tg["indicator"], lang), target=figure(tg, lang), value=v)
    else:
        s = msg("sentences.metric", name=m[f"name_{lang}"], value=v)
    flags = list(m["flags"]) if m["flags"] is not None else []
    extra = caveats(flags, lang)
    if kind == "required_growth" and "scope-mismatch" in flags:
        extra.insert(0, msg("caveats.scope-lower"))
    return msg("sentences.caveat_join").join([s, *extra])
