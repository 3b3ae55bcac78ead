"""Narrative sentences generated from observations and metrics, in the report's language.

Sentences are plain text (templates escape them). Every word comes from the language's message
catalog (:mod:`analysis.messages`). A figure never says more than its source: bounds are worded
超过 / 不超过 / 约 ("more than" / "at most" / "about"), a one-sided result names the input that
is bounded, a result the published figures cannot pin down is said to be undetermined (and why),
and a derived figure is shown no more precisely than its inputs.
"""
from __future__ import annotations

import math
from typing import Callable

import pandas as pd

from .catalog import Catalog
from .messages import messages
from .numbers import describe, display_scale, format_number

#: an interval wider than this ratio (upper ÷ lower) does not inform: the figure is undetermined
TOO_WIDE = 2.0
#: units whose figures are whole counts in the reader's unit
COUNTS = ("辆", "家", "个", "条", "台", "台(套)", "人", "位", "年")


def caveats(flags, lang: str, **fields) -> list[str]:
    """Reader sentences for a metric's flag codes; ``fields`` fill them (the scopes a scope caveat
    names: :func:`scope_fields`)."""
    msg = messages(lang)
    return [msg(f"caveats.{f}", **fields) for f in (flags if flags is not None else []) if msg.get(f"caveats.{f}")]


def scope_fields(m, obs: pd.DataFrame, catalog: Catalog, lang: str) -> dict[str, str]:
    """What a scope caveat of metric ``m`` names: ``a`` and ``b`` (two indicators of different scopes,
    or the one without a declared scope and one with), ``target`` and ``level`` (a target or projection
    and its starting level), each with its scope (规上工业总产值（规模以上工业）) unless its name says it
    already; and ``direction`` (``lower``/``higher``: which way a target's broader or narrower scope
    biases the growth it needs, "" when neither lies within the other). From the metric's inputs and
    its catalog entry (part, whole, target), so a share missing its whole still names it."""
    msg = messages(lang)
    o = obs.set_index("id") if "id" in obs.columns else obs
    ids = [i for i in (list(m["inputs"]) if m.get("inputs") is not None else []) if i in o.index]
    rows = o.loc[ids] if ids else o.iloc[0:0]
    entry = next((e for e in sorted(catalog.metrics, key=lambda e: -len(str(e.get("code", ""))))
                  if str(m.get("metric", "")).startswith(str(e.get("code", "")))), {})
    codes = [c for c in dict.fromkeys([*rows["indicator"], *(entry.get(k) for k in ("part", "whole", "target"))])
             if isinstance(c, str) and c] or [str(m.get("indicator", ""))]
    scope = {c: catalog.indicators[c].scope if c in catalog.indicators else "" for c in codes}

    def named(c):
        name = msg.mid(catalog.name(c, lang))
        sc = catalog.scope_name(scope.get(c, ""), lang) if scope.get(c) else ""
        return msg("caveats.scoped", name=name, scope=sc) if sc and sc.lower() not in name.lower() else name
    declared = [c for c in codes if scope[c]]
    bare = [c for c in codes if not scope[c]]
    pair = next(((x, y) for i, x in enumerate(declared) for y in declared[i + 1:] if scope[x] != scope[y]), None)
    a, b = pair or ((bare or codes)[0], (declared or codes)[-1] if declared else codes[-1])
    measures = dict(zip(rows["indicator"], rows["measure"]))
    target = next((c for c, ms in measures.items() if ms in ("target", "projection")), entry.get("target") or a)
    level = next((c for c, ms in measures.items() if ms == "level" and c != target), b)
    st, sl = (catalog.indicators[c].scope if c in catalog.indicators else "" for c in (target, level))
    direction = ("lower" if catalog.scope_within(sl, st) else "higher" if catalog.scope_within(st, sl) else "") \
        if st and sl and st != sl else ""
    return {"a": named(a), "b": named(b), "target": named(target) if target in scope else msg.mid(catalog.name(target, lang)),
            "level": named(level) if level in scope else msg.mid(catalog.name(level, lang)), "direction": direction}


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
    """A stated figure as readers should read it (超过4000亿元; 增长5.6倍 stays as stated in Chinese)."""
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
    if row.get("qualifier", "") == "近":   # 近600亿元 reads as written (just below 600), not as a range about it
        name, factor = display_scale(str(row["unit"]), row["value"], lang)
        return msg("bounds.near", v=format_number(row["value"] / factor, dec, lang), unit=name)
    if row.get("qualifier", "") == "exact":  # a stated figure is shown as stated, not as its rounding interval
        return describe(row["value"], row["value"], row["value"], row["unit"], lang=lang, decimals=dec)
    return describe(row["value"], row["lower"], row["upper"], row["unit"], lang=lang, decimals=dec,
                    qualifier=row.get("qualifier", ""))


def measure_label(row, lang: str, place: Callable[[str], str] = str) -> str:
    """What a stated number is, in words: 总量, 比上年增长, 近3年年均复合增长率, 位次（重庆市区县）, 2027年预计 …"""
    msg = messages(lang)
    m = row["measure"]
    if m == "level" and row["unit"] == "%":
        return msg("measure_words.rate")
    if m == "cagr":
        n = int(row["year"]) - int(row["base_year"]) if pd.notna(row.get("base_year")) else 1
        return msg("measure_words.cagr", n=n)
    if m in ("rank", "growth_rank", "streak"):
        if not row.get("peer"):
            return msg("measure_words.rank_nopeer") if m == "rank" else msg(f"measures.{m}")
        return msg(f"measure_words.{m}", peer=place(row["peer"]))
    if m in ("target", "projection"):
        return msg(f"measure_words.{m}", year=int(row["year"]))
    return msg(f"measure_words.{m}") if msg.get(f"measure_words.{m}") else msg(f"measures.{m}")


def _open_low(lower: float, value: float) -> bool:
    return not math.isfinite(lower) or (lower <= 0 < value) or lower <= -100


def determined(m) -> bool:
    """Whether the published figures pin a derived figure down: not unbounded on both sides, not too wide."""
    lo, hi, v = float(m["lower"]), float(m["upper"]), float(m["value"])
    if not math.isfinite(v):
        return False
    if _open_low(lo, v) and not math.isfinite(hi):
        return False
    return not (math.isfinite(hi) and lo > 0 and hi / lo > TOO_WIDE)


def decimals_for(m, lang: str) -> int:
    """A derived figure's decimals: the coarsest last digit that still shows its interval (no finer
    than half its width: 2442亿元 from 5.29% and 129.2亿元, not 2442.3; 1226亿元 from 1900亿元, not
    1225.8); whole counts stay whole; a one-sided figure keeps one decimal."""
    _, factor = display_scale(str(m["unit"]), float(m["value"]) if math.isfinite(m["value"]) else 0.0, lang)
    if str(m["unit"]) in COUNTS and factor == 1:
        return 0
    if not math.isfinite(float(m["upper"])) or _open_low(float(m["lower"]), float(m["value"])):
        return 1
    half = (float(m["upper"]) - float(m["lower"])) / 2 / factor
    finest = 1 if str(m["unit"]) in ("%", "百分点") else 2     # a derived rate to 0.1 point at most
    return min(finest, next((d for d in range(4) if 10.0 ** -d <= half), 3)) if half > 0 else 1


def bounded_inputs(m, obs: pd.DataFrame, catalog: Catalog, lang: str) -> str:
    """The inputs that are published only as bounds, in words: 规上工业总产值仅公布为“超过4000亿元”; a
    figure of another region than the metric's names it (示例市规上工业总产值仅公布为…)."""
    msg = messages(lang)
    used = obs[obs["id"].isin(list(m["inputs"]))]
    whose = [c for c in ("region", "entity", "year", "indicator", "measure") if c in used.columns]
    figures = pd.MultiIndex.from_frame(used[whose].astype(str))
    exact = set(figures[(used["qualifier"] == "exact").to_numpy()])
    used = used[(used["qualifier"] != "exact").to_numpy() & ~figures.isin(list(exact))]
    regions = obs.attrs.get("regions", {})

    def named(r):
        name = msg.mid(catalog.name(r["indicator"], lang))
        own = r["region"] == m.get("region", r["region"]) and r.get("entity", "") == (m.get("entity", "") or "")
        return name if own else msg("prose.of_place", indicator=name,
                                    place=catalog.display(r.get("entity", "") or r["region"], lang, regions))
    return parts_text([msg("prose.only_bound", indicator=named(r), stated=figure(r, lang))
                       for _, r in used.drop_duplicates(whose).iterrows()], lang)


def metric_value(m, lang: str, catalog: Catalog | None = None) -> str:
    """A derived figure worded with its bounds at its inputs' precision; a missing one with its reason;
    one the published figures cannot pin down as undetermined."""
    msg = messages(lang)
    if not (isinstance(m["value"], float) and math.isfinite(m["value"])):
        text = reason(m, catalog, lang) if catalog is not None else msg("reasons.missing")
        return msg("reasons.missing") + msg("colon") + text
    if m["kind"] == "rank":
        return rank_value(m, lang)
    if not determined(m):
        return msg("prose.undetermined_short")
    lo, hi, v = float(m["lower"]), float(m["upper"]), float(m["value"])
    dec = decimals_for(m, lang)
    unit = str(m["unit"])
    _, factor = display_scale(unit, v, lang)
    if unit in COUNTS and factor == 1 and math.isfinite(hi) and not _open_low(lo, v) and (hi - lo) / 2 >= 10:
        step = 10.0 ** math.floor(math.log10((hi - lo) / 2))      # 34,848 (33,835–35,878) → about 35,000
        v, lo, hi = round(v / step) * step, math.floor(lo / step) * step, math.ceil(hi / step) * step
    if not math.isfinite(hi):          # known only from below: say the bound, not a central value
        return describe(lo, lo, math.inf, unit, lang=lang, decimals=dec)
    if _open_low(lo, v):
        return describe(hi, -math.inf, hi, unit, lang=lang, decimals=dec)
    return describe(v, lo, hi, unit, lang=lang, decimals=dec)


def nominal(m) -> bool:
    """Whether a computed growth is nominal: two money levels at current prices (flag ``current-prices``),
    unlike official growth of value added at comparable prices."""
    return "current-prices" in (list(m["flags"]) if m.get("flags") is not None else [])


def display_name(m, catalog: Catalog, lang: str) -> str:
    """A metric's name as sentences say it: a nominal growth is named nominal (按现价计算)."""
    if m["kind"] == "growth" and nominal(m):
        return messages(lang)("prose.nominal_growth", indicator=catalog.name(str(m["indicator"]), lang))
    return m[f"name_{lang}"]


def period_label(m, lang: str) -> str:
    """The period a metric refers to, from its start and end years: 2023年 / 2024–2027年."""
    a, b = int(m["start_year"]), int(m["end_year"])
    return messages(lang)("figures.year", year=a if a == b else f"{a}–{b}")


def rank_value(m, lang: str) -> str:
    """A computed rank: 第1位, or 第1至2位 when bounded inputs leave it open; the coverage of its peer
    set when not every member has data (（5个有数据/共7个）)."""
    msg = messages(lang)
    text = rank_text(m, lang)
    n, k = m.get("peer_n"), m.get("peer_covered")
    if n is not None and k is not None and not pd.isna(n) and not pd.isna(k) and int(k) < int(n):
        text += msg("figures.rank_coverage", k=int(k), n=int(n))
    return text


def check_status(r, lang: str, place=lambda x: x) -> str:
    """A check's conclusion in words; a rank that cannot be checked says why (the data cover k of n)."""
    msg = messages(lang)
    if r["status"] == "cannot-check":
        n, k = r.get("peer_n"), r.get("peer_covered")
        if n is None or pd.isna(n):
            return msg("status_detail.unknown_peer", peer=place(r.get("peer") or ""))
        return msg("status_detail.partial", peer=place(r.get("peer") or ""), n=int(n), k=int(k))
    return msg(f"status.{r['status']}")


def narrowest(rows: pd.DataFrame) -> pd.Series:
    """The figure to state for rows of one indicator and measure: a figure stated twice as its
    narrowest statement with the bounds of all (:func:`analysis.metrics.best_observations`, the
    one home of that rule); of different figures (another peer set), the first."""
    from .metrics import best_observations
    if len(rows) == 1:   # a figure stated once: its row, as best_observations gives it, without building a frame
        r = rows.iloc[0]
        return pd.Series([*r.to_list(), [str(r["id"])]], index=[*r.index, "ids"], dtype=object, name=0)
    return best_observations(rows).iloc[0]


def parts_text(parts: list[str], lang: str) -> str:
    """Clauses of one sentence: 达到1900亿元，增长55% / reached 190 bn yuan and grew by 55%."""
    msg = messages(lang)
    if len(parts) < 2:
        return "".join(parts)
    return msg("sep").join(parts[:-1]) + msg("and_last") + parts[-1]


def _rank_phrase(rows: pd.DataFrame, measure: str, lang: str, place) -> str | None:
    """规模居重庆市区县首位 / 连续7年居重庆市区县首位 / 增速居…第2位: a rank with its streak and peer set."""
    msg = messages(lang)
    r = rows[rows["measure"] == measure]
    if r.empty:
        return None
    r = narrowest(r)
    n, peer = int(r["value"]), place(r["peer"]) if r["peer"] else msg("sentences.peer_default")
    streak = rows[(rows["measure"] == "streak") & (rows["peer"] == r["peer"])]
    first = "_first" if n == 1 else ""
    if len(streak):
        key = "prose.streak" + first if measure == "rank" else "prose.growth_streak"
        return msg(key, n=n, k=int(narrowest(streak)["value"]), peer=peer)
    rate = measure == "rank" and (rows.loc[rows["measure"] == "level", "unit"] == "%").any()
    return msg(f"prose.{'rate_rank' if rate else measure}{first}", n=n, peer=peer)   # a rate has no 规模


def indicator_parts(rows: pd.DataFrame, lang: str, place) -> list[str]:
    """What the figures of one indicator say, each once: level, growth, rank and streak."""
    msg = messages(lang)
    parts = []
    for measure in ("level", "growth"):
        r = rows[rows["measure"] == measure]
        if len(r):
            r = narrowest(r)
            key = "prose.growth" if measure == "growth" else (
                "prose.level_exact" if r["qualifier"] == "exact" else "prose.level_bound")
            parts.append(msg(key, figure=figure(r, lang)))
    for measure in ("rank", "growth_rank"):
        phrase = _rank_phrase(rows, measure, lang, place)
        if phrase:
            parts.append(phrase)
    return parts


def headline(obs: pd.DataFrame, catalog: Catalog, region: str, year: int, lang: str,
             indicators: list[str] | None = None, place=str, refs: Callable[[str], str] | None = None) -> list[str]:
    """One sentence per indicator with figures for the region and year: level, growth, rank and streak
    together; the year and region said once, in the first sentence. ``refs(id)`` gives a note
    reference for a stated figure (a rank the data contradict), put after the sentence's figures."""
    msg = messages(lang)
    sel = obs[(obs["region"] == region) & (obs["year"] == year) & (obs["entity"] == "")]
    codes = indicators or list(dict.fromkeys(sel["indicator"]))
    out = []
    for code in codes:
        parts = indicator_parts(sel[sel["indicator"] == code], lang, place)
        if not parts:
            continue
        name = catalog.name(code, lang)
        subject = msg("prose.opening", year=year, region=place(region)) + msg.mid(name) if not out else name
        tail = "".join(dict.fromkeys(refs(i) for i in sel.loc[sel["indicator"] == code, "id"])) if refs else ""
        out.append(msg("prose.sentence", subject=subject, parts=parts_text(parts, lang) + tail))
    return out


def metric_sentence(m, obs: pd.DataFrame, catalog: Catalog, lang: str,
                    note: Callable[[list[str]], str] | None = None) -> str:
    """One sentence explaining a derived metric with its inputs; caveats become numbered notes
    (``note(texts)`` returns the reference, 注3、4) or, without ``note``, follow the sentence."""
    msg = messages(lang)
    name = display_name(m, catalog, lang)
    if math.isfinite(m["value"]) and not determined(m):
        s = msg("prose.undetermined", name=name, why=bounded_inputs(m, obs, catalog, lang))
        return s
    v = metric_value(m, lang, catalog)
    used = obs[obs["id"].isin(list(m["inputs"]))]
    kind = m["kind"]
    levels, growths = (used[used["measure"] == k] for k in ("level", "growth"))
    targets = used[used["measure"].isin(["target", "projection"])]
    one_sided = math.isfinite(m["value"]) and (not math.isfinite(m["upper"]) or _open_low(m["lower"], m["value"]))
    if kind == "implied_base" and len(levels) and len(growths):
        lv, g = levels.iloc[0], growths.iloc[0]
        s = msg("sentences.implied_base", year=int(lv["year"]), indicator=msg.mid(catalog.name(lv["indicator"], lang)),
                level=figure(lv, lang), growth=figure(g, lang), base_year=int(m["start_year"]), value=v)
    elif kind == "required_growth" and len(levels) and len(targets):
        lv, tg = levels.iloc[0], targets.iloc[0]
        s = msg(f"sentences.required_growth{'_projection' if tg['measure'] == 'projection' else ''}",
                start=int(m["start_year"]), end=int(m["end_year"]),
                level_indicator=msg.mid(catalog.name(lv["indicator"], lang)), level=figure(lv, lang),
                target_indicator=msg.mid(catalog.name(tg["indicator"], lang)), target=figure(tg, lang), value=v)
    elif one_sided and len(used[used["qualifier"] != "exact"]):
        s = msg("prose.one_sided", why=bounded_inputs(m, obs, catalog, lang), name=msg.mid(name), value=v)
    elif kind == "implied_denominator":      # the year it refers to (the previous one, when the ratio says so)
        s = msg("sentences.metric", name=msg("numbering.with_unit", text=name, unit=period_label(m, lang)), value=v)
    else:
        s = msg("sentences.metric", name=name, value=v)
    flags = [f for f in (list(m["flags"]) if m["flags"] is not None else [])
             if not (one_sided and f in ("lower-bound-input", "upper-bound-input"))]   # said in the sentence
    fields = scope_fields(m, obs, catalog, lang) if {"scope-mismatch", "scope-unverified"} & set(flags) else {}
    extra = caveats(flags, lang, **fields)
    if kind == "required_growth" and fields.get("direction"):   # which way the mismatch biases the growth
        extra.insert(0, msg(f"caveats.scope-{fields['direction']}", **fields))
    if note is not None and extra:
        refs = note(extra)
        return s[:-1] + refs + s[-1] if s[-1] in "。." else s + refs
    return msg("sentences.caveat_join").join([s, *extra])


# ------------------------------------------------------------------ comparison with the parent and peers
#: the last character of a region's name that says its administrative level (重庆市 → 全市)
ADMIN_LEVELS = "省市区县州盟"


def members_word(members, lang: str, regions: dict | None = None) -> str:
    """What a parent's members are called, from their level (``regions.csv``) or name: 区县 /
    "districts and counties" when both, 区 or 县 alone (自治县 is a 县), else 地区 / "regions"."""
    kinds = set()
    for r in members:
        level = str(((regions or {}).get(r) or {}).get("level", "") or r)
        kinds.add("区" if level.endswith("区") else "县" if level.endswith("县") else "other")
    key = "other" if "other" in kinds or not kinds else ("区县" if len(kinds) == 2 else next(iter(kinds)))
    return messages(lang)(f"comparison.members.{key}")


def whole_word(parent: str, lang: str, place: Callable[[str], str] = str) -> str:
    """The parent as a whole: 全市 (from its level) in Chinese, its name in English; its name when
    the level is not in it."""
    if parent and parent[-1] in ADMIN_LEVELS:
        return messages(lang)("comparison.whole", suffix=parent[-1], name=place(parent))
    return place(parent)


def rank_text(m, lang: str) -> str:
    """第1位, or 第1至2位 when bounded figures leave the rank open (No. 1 / No. 1 to 2)."""
    msg = messages(lang)
    lo, hi = int(m["lower"]), int(m["upper"])
    return msg("figures.rank", n=lo) if lo == hi else msg("figures.rank_range", lo=lo, hi=hi)


def peer_rank(m, lang: str, *, what: str, parent: str, whole: str, members: str) -> str:
    """A rank among peers with the size of the set and its coverage: 规模居全市6个区县第2至3位;
    在示例市有数据的5个区县（共6个）中居第1位; without a parent, among the regions in the data.

    Args:
        what: ``level``, ``growth``, ``share`` or ``rate`` (a level that is a rate: no 规模).
        parent, whole: the parent's name and the parent as a whole (:func:`whole_word`), in the report's language.
        members: what the members are called (:func:`members_word`).
    """
    msg = messages(lang)
    n, k = _count(m.get("peer_n")), _count(m.get("peer_covered"))
    fields = dict(what=msg(f"comparison.what.{what}"), rank=rank_text(m, lang), members=members, parent=parent,
                  whole=whole, n=n or k, k=k)
    if not parent:
        return msg("comparison.rank_nopeer", **{**fields, "n": k})
    return msg("comparison.rank_partial" if k < n else "comparison.rank_full", **fields)


def rank_cell(m, lang: str) -> str:
    """A rank in a table: 第2至3位（共6个）; 第1位（5个有数据/共6个）over part of the set."""
    msg = messages(lang)
    n, k = _count(m.get("peer_n")), _count(m.get("peer_covered"))
    if k < n:
        return rank_value(m, lang)
    return rank_text(m, lang) + msg("comparison.rank_of", n=k)


def _count(x) -> int:
    return 0 if x is None or pd.isna(x) else int(x)


def gap_words(m, lang: str, *, whole: str, parent_figure: str) -> str:
    """A growth against the parent's, in percentage points, worded with its bounds: 高于全市（7.5%）
    超过12.4个百分点; below, level, or either way when the bounds straddle zero (与全市（7.5%）相差
    −1至2个百分点，高低不能确定)."""
    msg = messages(lang)
    v, lo, hi = float(m["value"]), float(m["lower"]), float(m["upper"])
    if lo >= 0 and hi <= 0:
        return msg("comparison.equal", whole=whole, parent_figure=parent_figure)
    if lo >= 0 or hi <= 0:
        above = lo >= 0
        mm = dict(m) if above else {**dict(m), "value": -v, "lower": -hi, "upper": -lo}
        return msg(f"comparison.{'above' if above else 'below'}", whole=whole, parent_figure=parent_figure,
                   value=metric_value(pd.Series(mm), lang))
    dec = decimals_for(m, lang)
    unit = display_scale(str(m["unit"]), v, lang)[0]
    rng = msg("comparison.range", lo=format_number(lo, dec, lang) if math.isfinite(lo) else "−∞",
              hi=format_number(hi, dec, lang) if math.isfinite(hi) else "∞", unit=unit)
    return msg("comparison.straddle", whole=whole, parent_figure=parent_figure, range=rng)
