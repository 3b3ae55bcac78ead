"""The kinds of metric: one handler per kind, its name and formula templates, its required keys.

Every metric is declared in the catalog (``metrics:`` in ``data/catalog.yaml``); an analyst adds
one by adding an entry. A handler computes its kind column-wise over the encoded panel and adds
its results to the accumulator (see :mod:`.engine`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalog import Catalog, load_catalog
from ..errors import CatalogError
from ..numbers import unit_info
from .engine import (COMP, CURRENT, IMPLIED, QUALS, REASON, SCOPE_MISMATCH, SCOPE_UNVERIFIED, THRESHOLD, Panel,
                     Results, best_observations, blank, corners, divide, empty_results)

# Names and formulas ({zh}/{en}: the indicator's names; {part}, {whole}, … for named metrics).
TEMPLATES = {
    "growth": ("{zh}增长率（由两年水平计算）", "{en}: year-on-year growth (computed)",
               "（本年水平 ÷ 上年水平 − 1）× 100%", "(level this year ÷ level last year − 1) × 100%"),
    "implied_base": ("{zh}上年水平（由增速推算）", "{en}: previous-year level implied by growth",
                     "本年水平 ÷（1 + 增速）；增长N倍按 ×(N+1) 计", "level ÷ (1 + growth); 'increased N times' counts as ×(N+1)"),
    "implied_level": ("{zh}本年水平（由上年水平与增速推算）", "{en}: level implied by last year's level and growth",
                      "上年水平 ×（1 + 增速）", "previous level × (1 + growth)"),
    "cagr": ("{zh}年均复合增长率", "{en}: compound annual growth rate",
             "（末年水平 ÷ 首年水平）^(1/年数) − 1", "(last level ÷ first level)^(1/years) − 1"),
    "pp_change": ("{zh}变化（百分点）", "{en}: change in percentage points",
                  "本年比率 − 上年比率", "rate this year − rate last year"),
    "parent_gap": ("{zh}增速与上级地区之差", "{en}: growth minus the parent region's growth",
                   "本地区增速 − 上级地区增速", "region's growth − parent region's growth"),
    "region_share": ("{zh}占上级地区比重", "{en}: share of the parent region",
                     "本地区水平 ÷ 上级地区水平 × 100%", "region's level ÷ parent region's level × 100%"),
    "share": ("{part}占{whole}比重", "{part_en} as a share of {whole_mid}",
              "{part} ÷ {whole} × 100%", "{part_en} ÷ {whole_mid} × 100%"),
    "ratio": ("{num}与{den}之比", "Ratio of {num_mid} to {den_mid}",
              "{num} ÷ {den} × {scale}", "{num_en} ÷ {den_mid} × {scale}"),
    "implied_denominator": ("由{num}与{ratio}推算的{den}", "{den_en} implied by {num_mid} and {ratio_mid}",
                            "{num} ÷（{ratio} ÷ {scale}）", "{num_en} ÷ ({ratio_mid} ÷ {scale})"),
    "required_growth": ("实现{target}目标所需年均增速", "Annual growth required to reach the {target_mid} target",
                        "（目标值 ÷ 最新水平）^(1/剩余年数) − 1；目标为“突破/超过”时按门槛值计",
                        "(target ÷ latest level)^(1/years left) − 1; a 'more than' target counts at its threshold"),
    "target_gap": ("距{target}目标的差距", "Gap to the {target_mid} target",
                   "目标值 − 最新水平", "target − latest level"),
    # a projection (预计) is not a target (目标): the same arithmetic, its own words
    "required_growth_projection": ("达到{target}预计值所需年均增速",
                                   "Annual growth required to reach the projected {target_mid}",
                                   "（预计值 ÷ 最新水平）^(1/剩余年数) − 1；预计“突破/超过”时按门槛值计",
                                   "(projection ÷ latest level)^(1/years left) − 1; a 'more than' projection counts at "
                                   "its threshold"),
    "target_gap_projection": ("距{target}预计值的差距", "Gap to the projected {target_mid}",
                              "预计值 − 最新水平", "projection − latest level"),
    "contribution": ("{part}对{whole}增长的贡献", "Contribution of {part_mid} to growth of {whole_mid}",
                     "（部分本年 − 部分上年）÷ 整体上年 × 100（百分点）",
                     "(part this year − part last year) ÷ whole last year × 100 (pp)"),
}


def _names(kind: str, entry: dict, **fmt) -> tuple[str, str, str, str]:
    zh, en, fzh, fen = (s.format(**fmt) for s in TEMPLATES[kind])
    return entry.get("zh", zh), entry.get("en", en), fzh, fen


def _ind_names(catalog: Catalog, code: str, prefix: str) -> dict:
    """An indicator's names for the templates: ``{x}`` (zh), ``{x_en}`` (as it opens a name) and
    ``{x_mid}`` (English mid-sentence: "the projected gross industrial output")."""
    from ..messages import messages
    ind = catalog.indicators.get(code)
    en = ind.en if ind else code
    return {prefix: ind.zh if ind else code, f"{prefix}_en": en, f"{prefix}_mid": messages("en").mid(en)}


def _scope_bits(catalog: Catalog, a: str, b: str, *, nested: bool = True) -> int:
    """Scope flags of comparing indicator ``a`` with ``b`` (scopes nest as the catalog's ``scopes:`` say).

    ``nested`` (a share or contribution: ``a`` a part of the whole ``b``): no flag when a's scope lies
    within b's (规上工业增加值 ÷ 地区生产总值); a mismatch when it does not (a part broader than its
    whole). Not nested (a target ``a`` and a level ``b``): a mismatch whenever the scopes differ.
    Unverified when only one of the two declares a scope."""
    sa = catalog.indicators[a].scope if a in catalog.indicators else ""
    sb = catalog.indicators[b].scope if b in catalog.indicators else ""
    if a == b or (not sa and not sb):
        return 0
    if not (sa and sb):
        return SCOPE_UNVERIFIED
    fits = catalog.scope_within(sa, sb) if nested else sa == sb
    return 0 if fits else SCOPE_MISMATCH


def _per_indicator_names(res: Results, entry: dict, kind: str) -> dict[str, int]:
    """Name ids for a kind applied to every indicator: one per indicator code."""
    cat = res.catalog
    return {code: res.name_id(f"{entry['code']}:{code}", kind,
                              *_names(kind, {}, zh=cat.name(code, "zh"), en=cat.name(code, "en")))
            for code in list(res.p.indicators)}


def _base_unit(catalog: Catalog, code: str) -> str:
    info = unit_info(catalog[code].unit)
    return info[0] if info else ""


# ---------------------------------------------------------------- kinds

def _ratio(res: Results, entry: dict, kind: str, num: str, den: str, scale: float, unit: str, names,
           extra_flags=0, indicator=None):
    """num ÷ den × scale; a missing, zero or negative denominator gives NaN and a reason."""
    p = res.p
    src = p.rows("level", num)
    dpos = p.find(src, "level", den)
    value, lo, hi, reason = divide(p.value[src], p.iv(src), p.val(dpos), p.iv(dpos), scale)
    res.add(name=res.name_id(entry["code"], kind, *names), rows=src, value=value, lower=lo, upper=hi, unit=unit,
            inputs=[src, dpos], flags=p.qflags(src, dpos) | extra_flags, reason=reason,
            reason_indicator=p.indicator_code(den), indicator=p.indicator_code(indicator) if indicator else None)


def k_share(res, entry):
    cat = res.catalog
    part, whole = entry["part"], entry["whole"]
    names = _names("share", entry, **_ind_names(cat, part, "part"), **_ind_names(cat, whole, "whole"))
    _ratio(res, entry, "share", part, whole, 100.0, "%", names, _scope_bits(cat, part, whole))


def k_ratio(res, entry):
    cat = res.catalog
    num, den, scale = entry["numerator"], entry["denominator"], float(entry.get("scale", 1))
    names = _names("ratio", entry, **_ind_names(cat, num, "num"), **_ind_names(cat, den, "den"), scale=f"{scale:g}")
    _ratio(res, entry, "ratio", num, den, scale, entry.get("unit") or ("%" if scale == 100 else ""), names)


def k_implied_denominator(res, entry):
    cat = res.catalog
    num, ratio, den = entry["numerator"], entry["ratio"], entry["denominator"]
    scale = float(entry.get("scale", 1))
    names = _names("implied_denominator", entry, **_ind_names(cat, num, "num"), **_ind_names(cat, ratio, "ratio"),
                   **_ind_names(cat, den, "den"), scale=f"{scale:g}")
    # GDP implied by R&D and intensity: R&D ÷ (intensity ÷ 100)
    _ratio(res, entry, "implied_denominator", num, ratio, scale, _base_unit(cat, num), names, indicator=den)


def k_growth(res, entry):
    p = res.p
    names = _per_indicator_names(res, entry, "growth")
    for code in p.indicators_with("level"):
        src = p.rows("level", code)
        src = src[~p.is_unit(src, "%")]  # rates change in percentage points (pp_change), not percent
        prev = p.find(src, "level", code, year_shift=-1)
        ok = prev >= 0
        src, prev = src[ok], prev[ok]
        if not len(src):
            continue
        v0 = p.value[prev]
        bad = v0 <= 0
        reason = (np.where(v0 == 0, REASON["zero-previous"], np.where(v0 < 0, REASON["negative-previous"], 0))
                  if bad.any() else 0)
        f = lambda a, b: (a / b - 1) * 100  # noqa: E731
        with np.errstate(all="ignore"):
            value = f(p.value[src], v0)
        lo, hi = corners(f, p.iv(src), p.iv(prev))
        # growth of two money levels is nominal (current prices); official growth of value added is real
        money = res.catalog.indicators.get(code) is not None and res.catalog.indicators[code].dimension == "money"
        value, lo, hi = blank(bad, value, lo, hi)
        res.add(name=names[code], rows=src, value=value, lower=lo, upper=hi, unit="%", inputs=[prev, src],
                flags=p.qflags(src, prev) | (CURRENT if money else 0),
                reason=reason, reason_indicator=p.indicator_code(code), start=p.year[prev])


def _comparable(res, code):
    ind = res.catalog.indicators.get(code)
    return COMP if ind is not None and ind.growth_basis == "comparable" else 0


def k_implied_base(res, entry):
    p = res.p
    names = _per_indicator_names(res, entry, "implied_base")
    for code in p.indicators_with("growth"):
        g = p.rows("growth", code)
        lv = p.find(g, "level", code)
        ok = lv >= 0
        g, lv = g[ok], lv[ok]
        if not len(g):
            continue
        f = lambda l, r: l / (1 + r / 100)  # noqa: E731
        with np.errstate(all="ignore"):
            value = f(p.value[lv], p.value[g])
        lo, hi = corners(f, p.iv(lv), p.iv(g))
        base_year = p.base_year[g]
        res.add(name=names[code], rows=lv, value=value, lower=lo, upper=hi, unit_of=lv, inputs=[lv, g],
                flags=p.qflags(lv, g) | _comparable(res, code), start=base_year, end=base_year)


def k_implied_level(res, entry):
    p = res.p
    names = _per_indicator_names(res, entry, "implied_level")
    for code in p.indicators_with("growth"):
        g = p.rows("growth", code)
        base = p.find(g, "level", code, year_shift=-1)
        stated = p.find(g, "level", code)
        ok = (base >= 0) & (stated < 0)  # only where the level itself is not stated
        g, base = g[ok], base[ok]
        if not len(g):
            continue
        f = lambda b, r: b * (1 + r / 100)  # noqa: E731
        value = f(p.value[base], p.value[g])
        lo, hi = corners(f, p.iv(base), p.iv(g))
        res.add(name=names[code], rows=g, value=value, lower=lo, upper=hi, unit_of=base, inputs=[base, g],
                flags=p.qflags(base, g) | _comparable(res, code))


def k_pp_change(res, entry):
    p = res.p
    names = _per_indicator_names(res, entry, "pp_change")
    for code in p.indicators_with("level"):
        src = p.rows("level", code)
        src = src[p.is_unit(src, "%")]
        prev = p.find(src, "level", code, year_shift=-1)
        ok = prev >= 0
        src, prev = src[ok], prev[ok]
        if not len(src):
            continue
        lo, hi = corners(lambda a, b: a - b, p.iv(src), p.iv(prev))
        res.add(name=names[code], rows=src, value=p.value[src] - p.value[prev], lower=lo, upper=hi, unit="百分点",
                inputs=[prev, src], flags=p.qflags(src, prev), start=p.year[prev])


def k_cagr(res, entry):
    p = res.p
    names = _per_indicator_names(res, entry, "cagr")
    for code in p.indicators_with("level"):
        pos = p.rows("level", code)
        if len(pos) < 2:
            continue
        series = p.key[pos] // p.Y             # region-entity (rows come sorted by key: by series, then year)
        first_i = np.r_[0, np.flatnonzero(series[1:] != series[:-1]) + 1]
        last_i = np.r_[first_i[1:] - 1, len(pos) - 1]
        first, last = pos[first_i], pos[last_i]
        n = (p.year[last] - p.year[first]).astype(float)
        ok = n >= 2
        first, last, n = first[ok], last[ok], n[ok]
        if not len(first):
            continue
        f = lambda a, b: ((a / b) ** (1 / n) - 1) * 100  # noqa: E731
        with np.errstate(all="ignore"):
            value = f(p.value[last], p.value[first])
        lo, hi = corners(f, p.iv(last), (np.maximum(p.lower[first], 0), p.upper[first]))
        bad = p.value[first] <= 0
        value, lo, hi = blank(bad, value, lo, hi)
        res.add(name=names[code], rows=last, value=value, lower=lo, upper=hi, unit="%", inputs=[first, last],
                flags=p.qflags(first, last),
                reason=np.where(bad, REASON["nonpositive-first"], 0), reason_indicator=p.indicator_code(code),
                start=p.year[first])


def k_required_growth(res, entry):
    """Annual growth from the latest level to a target (目标) — or to a projection (预计), named as one."""
    for measure in ("target", "projection"):
        _required_growth(res, entry, measure)


def _required_growth(res, entry, measure: str):
    p, cat = res.p, res.catalog
    target = entry["target"]
    levels = entry.get("level") or [target]
    levels = [levels] if isinstance(levels, str) else list(levels)
    tg = p.rows(measure, target)
    if not len(tg):
        return
    suffix = "" if measure == "target" else f"_{measure}"
    # the latest level of the first listed indicator that has one, per region/entity
    series_t = p.key[tg] // p.Y
    best_pos = np.full(len(tg), -1, np.int64)
    best_year = np.full(len(tg), -1, np.int64)
    for code in levels:
        lv = p.rows("level", code)
        if not len(lv):
            continue
        s = pd.DataFrame({"s": p.key[lv] // p.Y, "y": p.year[lv], "pos": lv}).sort_values("y").drop_duplicates("s", keep="last")
        idx = pd.Index(s["s"]).get_indexer(series_t)
        found = (idx >= 0) & (best_pos < 0)
        best_pos = np.where(found, s["pos"].to_numpy()[np.maximum(idx, 0)], best_pos)
        best_year = np.where(found, s["y"].to_numpy()[np.maximum(idx, 0)], best_year)
    ok = (best_pos >= 0) & (p.year[tg] > best_year)
    tg, lv = tg[ok], best_pos[ok]
    if not len(tg):
        return
    n = (p.year[tg] - p.year[lv]).astype(float)
    thr = np.isin(p.q[tg], [QUALS.index(">"), QUALS.index("≥")])
    t_val = p.value[tg]
    # a 突破/超过 target is met at its threshold: use the stated value, not [value, ∞)
    t_iv = (np.where(thr, t_val, p.lower[tg]), np.where(thr, t_val, p.upper[tg]))
    f = lambda t, lvl: ((t / lvl) ** (1 / n) - 1) * 100  # noqa: E731
    with np.errstate(all="ignore"):
        value = f(t_val, p.value[lv])
    lo, hi = corners(f, t_iv, p.iv(lv))
    scope = np.array([_scope_bits(cat, target, p.indicators[i], nested=False) for i in p.i[lv]], dtype=np.int64)
    flags = np.where(thr, THRESHOLD, p.qflags(tg)) | p.qflags(lv) | scope
    tcode = p.indicator_code(target)
    names = _names("required_growth" + suffix, entry if not suffix else {}, **_ind_names(cat, target, "target"))
    res.add(name=res.name_id(entry["code"] + suffix, "required_growth", *names), rows=lv, value=value, lower=lo, upper=hi,
            unit="%", inputs=[lv, tg], flags=flags, start=p.year[lv], end=p.year[tg], indicator=tcode)
    glo, ghi = corners(lambda t, lvl: t - lvl, t_iv, p.iv(lv))
    gnames = _names("target_gap" + suffix, {}, **_ind_names(cat, target, "target"))
    res.add(name=res.name_id(entry["code"] + suffix + "_gap", "target_gap", *gnames), rows=lv, value=t_val - p.value[lv],
            lower=glo, upper=ghi, unit_of=lv, inputs=[lv, tg], flags=flags, start=p.year[lv], end=p.year[tg],
            indicator=tcode)


def _previous_level(res, src: np.ndarray, code: str):
    """Last year's level of ``code`` for the rows ``src``: stated, else implied by this year's level and
    growth (level ÷ (1 + growth), with bounds). Returns (position of the stated level or of the growth
    used, position of this year's level used (or -1), value, (lower, upper), flags)."""
    p = res.p
    prev = p.find(src, "level", code, year_shift=-1)
    value, iv = p.val(prev), p.iv(prev)
    lv, g = p.find(src, "level", code), p.find(src, "growth", code)
    use = (prev < 0) & (lv >= 0) & (g >= 0)
    f = lambda l, r: l / (1 + r / 100)  # noqa: E731
    with np.errstate(all="ignore"):
        implied = f(p.val(lv), p.val(g))
    ilo, ihi = corners(f, p.iv(lv), p.iv(g))
    value = np.where(use, implied, value)
    iv = (np.where(use, ilo, iv[0]), np.where(use, ihi, iv[1]))
    flags = np.where(use, IMPLIED | p.qflags(lv, g) | _comparable(res, code), 0)
    return np.where(use, g, prev), np.where(use, lv, -1), value, iv, flags


def k_contribution(res, entry):
    """(part this year − part last year) ÷ whole last year × 100, in percentage points. Last year's
    levels are the stated ones, else those implied by this year's level and growth (flagged)."""
    p, cat = res.p, res.catalog
    part, whole = entry["part"], entry["whole"]
    src = p.rows("level", part)
    p0, _, p0v, p0iv, p0f = _previous_level(res, src, part)
    w0, w1, w0v, (wlo, whi), w0f = _previous_level(res, src, whole)
    reason = np.where(np.isnan(p0v), REASON["missing-previous-part"],
                      np.where(np.isnan(w0v), REASON["missing-previous-whole"],
                               np.where(wlo <= 0, REASON["nonpositive-previous-whole"], 0)))
    about = np.where(np.isnan(p0v), p.indicator_code(part), p.indicator_code(whole))
    bad = reason != 0
    f = lambda a, b, w: (a - b) / w * 100  # noqa: E731
    with np.errstate(all="ignore"):
        value = f(p.value[src], p0v, w0v)
    lo, hi = corners(f, p.iv(src), p0iv, (wlo, whi))
    names = _names("contribution", entry, **_ind_names(cat, part, "part"), **_ind_names(cat, whole, "whole"))
    res.add(name=res.name_id(entry["code"], "contribution", *names), rows=src, value=np.where(bad, np.nan, value),
            lower=np.where(bad, np.nan, lo), upper=np.where(bad, np.nan, hi), unit="百分点", inputs=[p0, src, w0, w1],
            flags=p.qflags(src, p0, w0) | p0f | w0f | _scope_bits(cat, part, whole), reason=reason,
            reason_indicator=about, start=p.year[src] - 1)


#: the measure a rank orders → the metric (and stated measure) of that rank
RANKED = {"level": "rank", "growth": "growth_rank", "share": "share_rank"}


def parents_of(obs_regions: dict, catalog: Catalog) -> dict[str, str]:
    """Region → parent region, from the hierarchy (``obs.attrs["regions"]`` from the ``regions.csv``
    files, the catalog's ``regions:`` below them)."""
    from ..data.regions import Hierarchy
    regions = Hierarchy(obs_regions, catalog).regions
    return {r: e["parent"] for r, e in regions.items() if e.get("parent")}


def rank_group(region: str, parents: dict[str, str], in_data) -> tuple[str, list[str]]:
    """The regions a region is ranked with, as :func:`k_rank` groups them: its parent and the parent's
    members (listed in the hierarchy); without a parent, ("", the regions of ``in_data`` that have none)."""
    parent = parents.get(region, "")
    if parent:
        return parent, [r for r, p in parents.items() if p == parent]
    return "", [r for r in dict.fromkeys(in_data) if r not in parents]


def _parents(res: Results) -> dict[str, str]:
    """The hierarchy's parents, built once per computation (ranks, shares and gaps of every indicator use them)."""
    if getattr(res, "_parents", None) is None:
        res._parents = parents_of(res.obs_regions, res.catalog)
    return res._parents


def _sortable(x: np.ndarray) -> np.ndarray:
    """float64 → int64 in the same order (integer sorts are much faster than float ones): the bits of
    a non-negative float already sort as integers; a negative one's other bits are flipped. −0.0
    counts as 0.0 and every NaN as one value above +inf (as ``np.unique`` orders them)."""
    x = x + 0.0                                   # −0.0 → +0.0
    bits = x.view(np.int64)
    out = bits ^ ((bits >> 63) & np.int64(0x7FFFFFFFFFFFFFFF))   # branch-free: np.where is 7× slower here
    nan = np.isnan(x)
    if nan.any():
        out[nan] = np.iinfo(np.int64).max
    return out


def _interval_ranks(group: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Within each group (dense codes 0…g−1), higher first: the point rank 1 + #(v_j > v_i), the best
    rank 1 + #(lo_j > hi_i) and the worst rank 1 + #(hi_j > lo_i, j ≠ i). No loop over groups.

    One dense code for every distinct value of v, lo and hi (one integer sort), so that (group, code)
    is one int64 key; each of the three key arrays sorted once; each count is then a search of the
    sorted queries in the sorted keys (sorted queries keep the search cache-friendly: random ones
    cost several times more on millions of rows).
    """
    n = len(v)
    if not n:
        return (np.empty(0, np.int64),) * 3
    bits = _sortable(np.concatenate([v, lo, hi]))
    order = np.argsort(bits)
    codes = bits[order]
    del bits
    step = np.empty(3 * n, bool)
    step[0] = False
    np.not_equal(codes[1:], codes[:-1], out=step[1:])
    del codes
    small = np.int32 if 3 * n < 2**31 else np.int64   # an int32 cumsum of the steps is 3× faster
    dense = np.empty(3 * n, small)
    dense[order] = np.cumsum(step, dtype=small)
    del order, step
    n_codes = int(dense.max()) + 1
    base = group.astype(np.int64) * n_codes
    keys = [base + dense[k * n:(k + 1) * n] for k in range(3)]        # value, lower, upper
    del dense, base
    if (int(group.max()) + 1) * n_codes * n < 2**63:   # (key, row) packs into an int64: a value sort
        packed = [np.sort(k * n + np.arange(n)) for k in keys]
        del keys
        keys, orders = zip(*(np.divmod(p, n) for p in packed))
        del packed
    else:
        orders = [np.argsort(k) for k in keys]
        keys = [k[o] for k, o in zip(keys, orders)]
    counts = np.bincount(group)
    group_end = np.repeat(np.cumsum(counts), counts)   # at each place of a sorted key array: its group's end

    def above(of: int, query: int) -> np.ndarray:   # per row: keys `of` in its group above its key `query`
        if of == query:   # the end of each run of equal keys, without a search
            last = np.empty(n, bool)
            last[-1] = True
            np.not_equal(keys[of][1:], keys[of][:-1], out=last[:-1])
            ends = np.flatnonzero(last)
            below = np.repeat(ends + 1, np.diff(ends, prepend=-1))
        else:
            below = np.searchsorted(keys[of], keys[query], "right")
        out = np.empty(n, np.int64)
        out[orders[query]] = group_end - below
        return out
    return 1 + above(0, 0), 1 + above(1, 2), 1 + above(2, 1) - (hi > lo)


def k_rank(res, entry):
    """Rank of each region among its peers — the regions sharing its parent, never the parent itself —
    by level, growth or share (``measures``), in the direction the indicator declares (``rank_first``).

    Interval ranks are consistent: best = 1 + the peers certainly above (their lower bound above its
    upper), worst = 1 + the peers possibly above (their upper bound above its lower). Each rank
    records its peer set (the parent), the set's size (the parent's members listed in the regions
    hierarchy, at least those with data) and how many members have data.
    """
    from ..messages import messages
    p, cat = res.p, res.catalog
    parents = _parents(res)
    listed = pd.Series(list(parents.values()), dtype=object).value_counts().to_dict() if parents else {}
    reg_parent = np.array([parents.get(r, "") for r in p.regions], dtype=object)
    par_code, par_uniq = pd.factorize(reg_parent)
    for name in par_uniq:
        if name and name not in res.peer_names:
            res.peer_names.append(name)
    peer_of_par = np.array([res.peer_names.index(x) if x else -1 for x in par_uniq] or [-1], dtype=np.int64)
    listed_of_par = np.array([listed.get(x, 0) for x in par_uniq] or [0], dtype=np.int64)
    sign_of_ind = np.array([-1.0 if (cat.indicators.get(c) and cat.indicators[c].rank_first == "lowest") else 1.0
                            for c in p.indicators] or [1.0])
    zh, en = messages("zh"), messages("en")
    blank = np.zeros(max(len(p.entities), 1), bool)
    blank[p.blank_entity] = True
    for measure in entry.get("measures") or ["level", "growth"]:
        metric = RANKED[measure]
        # one indicator at a time (its groups are its own): small arrays, sorted in cache
        for c in p.indicators_with(measure):
            pos = p.rows(measure, c)
            pos = pos[blank[p.e[pos]] & ~np.isnan(p.value[pos])]
            if len(pos) < 2:
                continue
            code = p.i[pos[0]]
            par = par_code[p.r[pos]]
            grp = par.astype(np.int64) * p.Y + (p.year[pos] - p.ymin)
            grp = pd.factorize(grp)[0]            # dense group codes (hashing, no sort)
            counts = np.bincount(grp)
            covered = counts[grp]
            keep = covered >= 2
            if not keep.all():
                pos, par, grp, covered = pos[keep], par[keep], grp[keep], covered[keep]
                if not len(pos):
                    continue
                grp = pd.factorize(grp)[0]
            if sign_of_ind[code] > 0:
                value, best, worst = _interval_ranks(grp, p.value[pos], p.lower[pos], p.upper[pos])
            else:
                value, best, worst = _interval_ranks(grp, -p.value[pos], -p.upper[pos], -p.lower[pos])
            first = "lowest" if sign_of_ind[code] < 0 else "highest"
            name = res.name_id(f"{metric}:{c}", "rank", zh(f"rank_names.{metric}", name=cat.name(c, "zh")),
                               en(f"rank_names.{metric}", name=cat.name(c, "en")), zh(f"rank_formulas.{first}"),
                               en(f"rank_formulas.{first}"))
            res.add(name=name, rows=pos, value=value, lower=best, upper=worst, unit="位", inputs=[pos],
                    flags=p.qflags(pos), peer=peer_of_par[par], peer_n=np.maximum(listed_of_par[par], covered),
                    peer_covered=covered)


def _parent_codes(res) -> np.ndarray:
    """Per region code of the panel: its parent's region code, -1 when the parent has no rows, -2 when
    the region has no parent (one look-up per region, not per row: an ``isin`` of the rows' names in
    the hierarchy of thousands of regions was seconds)."""
    if getattr(res, "_parent_codes", None) is None:
        p, parents = res.p, _parents(res)
        codes = pd.Index(p.regions).get_indexer([parents.get(r, "") for r in p.regions])
        res._parent_codes = np.where([r in parents for r in p.regions], codes, -2).astype(np.int64) \
            if len(p.regions) else np.empty(0, np.int64)
    return res._parent_codes


def _with_parent(res, measure: str, code: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (measure, code) of regions with a parent (blank entity), and the parent's row of the
    same measure, indicator and year (pairs where the parent has one)."""
    p = res.p
    parent_code = _parent_codes(res)
    pos = p.rows(measure, code)
    pos = pos[(parent_code[p.r[pos]] != -2) & np.isin(p.e[pos], p.blank_entity)]
    if not len(pos):
        return pos, pos
    par_r = parent_code[p.r[pos]]
    key = (np.maximum(par_r, 0).astype(np.int64) * p.E + p.e[pos]) * p.Y + (p.year[pos] - p.ymin)
    par = np.where(par_r >= 0, p.find(pos, measure, code, key=key), -1)
    ok = par >= 0
    return pos[ok], par[ok]


def k_parent_gap(res, entry):
    """A region's stated growth minus its parent's stated growth (same indicator and year), in pp."""
    p = res.p
    names = _per_indicator_names(res, entry, "parent_gap")
    for code in p.indicators_with("growth"):
        pos, par = _with_parent(res, "growth", code)
        if not len(pos):
            continue
        lo, hi = corners(lambda a, b: a - b, p.iv(pos), p.iv(par))
        res.add(name=names[code], rows=pos, value=p.value[pos] - p.value[par], lower=lo, upper=hi, unit="百分点",
                inputs=[pos, par], flags=p.qflags(pos, par) | _comparable(res, code))


def k_region_share(res, entry):
    """A region's level as a share of its parent's (same indicator and year)."""
    p = res.p
    names = _per_indicator_names(res, entry, "region_share")
    for code in p.indicators_with("level"):
        pos, par = _with_parent(res, "level", code)
        if not len(pos):
            continue
        f = lambda a, b: a / b * 100  # noqa: E731
        with np.errstate(all="ignore"):
            value = f(p.value[pos], p.value[par])
        lo, hi = corners(f, p.iv(pos), p.iv(par))
        res.add(name=names[code], rows=pos, value=value, lower=lo, upper=hi, unit="%", inputs=[pos, par],
                flags=p.qflags(pos, par))


HANDLERS = {"share": k_share, "growth": k_growth, "implied_base": k_implied_base, "implied_level": k_implied_level,
            "ratio": k_ratio, "implied_denominator": k_implied_denominator, "cagr": k_cagr,
            "required_growth": k_required_growth, "pp_change": k_pp_change, "contribution": k_contribution,
            "rank": k_rank, "region_share": k_region_share, "parent_gap": k_parent_gap}
REQUIRED_KEYS = {"share": ["part", "whole"], "ratio": ["numerator", "denominator"],
                 "implied_denominator": ["numerator", "ratio", "denominator"], "required_growth": ["target"],
                 "contribution": ["part", "whole"]}


def check_definitions(catalog: Catalog) -> list[dict]:
    """The catalog's metric entries, checked: known kind, required keys, known indicators.

    Raises:
        CatalogError: listing every bad entry as ``catalog.yaml: metrics[i] (code): expected …, found …``.
    """
    problems = []
    for i, e in enumerate(catalog.metrics):
        where = f"{catalog.path}: metrics[{i}]"
        if not isinstance(e, dict) or "code" not in e or "kind" not in e:
            problems.append(f"{where}: expected a mapping with code and kind, found {e!r}")
            continue
        if e["kind"] not in HANDLERS:
            problems.append(f"{where} ({e['code']}): expected kind one of {', '.join(HANDLERS)}, found {e['kind']!r}")
            continue
        for k in REQUIRED_KEYS.get(e["kind"], []):
            if k not in e:
                problems.append(f"{where} ({e['code']}): expected key {k!r} for kind {e['kind']}, found it missing")
        for k in ("part", "whole", "numerator", "denominator", "ratio", "target"):
            if k in e and e[k] not in catalog.indicators:
                problems.append(f"{where} ({e['code']}).{k}: expected an indicator code, found {e[k]!r}")
        if e["kind"] == "rank" and "measures" in e and (not isinstance(e["measures"], list)
                                                        or not set(e["measures"]) <= set(RANKED)):
            problems.append(f"{where} ({e['code']}).measures: expected a list of {', '.join(RANKED)}, "
                            f"found {e['measures']!r}")
        for c in ([e["level"]] if isinstance(e.get("level"), str) else e.get("level") or []):
            if c not in catalog.indicators:
                problems.append(f"{where} ({e['code']}).level: expected an indicator code, found {c!r}")
    if problems:
        raise CatalogError("\n".join(problems))
    return catalog.metrics


def compute(observations: pd.DataFrame, *, region: str | None = None, year: int | None = None,
            catalog: Catalog | None = None) -> pd.DataFrame:
    """Compute every metric declared in the catalog.

    Args:
        observations: frame from :func:`analysis.data.load_observations` (or ``make_observations``).
        region, year: keep results for this region / year (inputs from other regions and years
            are still used: growth needs last year, ranks need the peers).
        catalog: the catalog declaring the metrics (default: the project's).

    Returns:
        Tidy frame, one row per result (columns :data:`RESULT_COLUMNS`): metric, kind, name_zh,
        name_en, region, entity, year, start_year and end_year (the period the value refers to:
        the base year of an implied base, latest level → target year of a required growth, first →
        last year of a CAGR, previous year → year of a growth, pp or contribution change),
        indicator, value, lower, upper, unit (base unit), formula_zh, formula_en, inputs (list of
        the observation ids used; both of a figure stated twice), flags (list of :data:`FLAGS`
        codes), reason (a :data:`REASONS` code, "" when the value exists) and reason_indicator
        (the indicator the reason is about).

    Raises:
        CatalogError: a metric entry of the catalog is malformed (see :func:`check_definitions`).
    """
    catalog = catalog or load_catalog()
    entries = check_definitions(catalog)
    if observations.empty:
        return empty_results()
    panel = Panel(observations, catalog)
    if panel.has_duplicates:  # a figure stated twice: keep the narrowest, intersect bounds
        panel = Panel(best_observations(observations), catalog)
    res = Results(panel, catalog)
    res.obs_regions = observations.attrs.get("regions", {})
    for entry in entries:
        HANDLERS[entry["kind"]](res, entry)
    out = res.frame()
    if region is not None:
        out = out[out["region"] == region]
    if year is not None:
        out = out[out["year"] == int(year)]
    if region is not None or year is not None:
        out = out.reset_index(drop=True)
        for c in ("region", "entity", "metric"):
            out[c] = out[c].cat.remove_unused_categories()
    return out


def target_path(metrics: pd.DataFrame, observations: pd.DataFrame) -> pd.DataFrame:
    """Yearly path from the latest level to each target at the required growth (for charts).

    Args:
        metrics: results of :func:`compute`; its ``required_growth`` rows with a value are used.
        observations: the observations the metrics were computed from (for the starting level).

    Returns:
        metric, region, year, value: one row per year from ``start_year`` (the latest level) to
        ``end_year`` (the target year).
    """
    cols = ["metric", "region", "year", "value"]
    rg = metrics[(metrics["kind"] == "required_growth") & np.isfinite(metrics["value"].to_numpy(float))]
    if rg.empty:
        return pd.DataFrame(columns=cols)
    # the starting level: the first level among each result's inputs (a figure stated twice: its kept statement)
    used = rg["inputs"].explode()
    levels = observations.loc[observations["measure"] == "level", ["id", "value"]]
    base = (pd.DataFrame({"row": used.index, "id": used.to_numpy(object)})
            .merge(levels.rename(columns={"value": "base"}), on="id", how="inner", sort=False)
            .drop_duplicates("row").set_index("row")["base"])
    rg = rg.loc[base.index]
    span = (rg["end_year"] - rg["start_year"] + 1).to_numpy()
    at = np.repeat(np.arange(len(rg)), span)
    step = np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    growth = rg["value"].to_numpy(float)[at]
    return pd.DataFrame({"metric": rg["metric"].to_numpy(object)[at], "region": rg["region"].to_numpy(object)[at],
                         "year": rg["start_year"].to_numpy()[at] + step,
                         "value": base.to_numpy(float)[at] * (1 + growth / 100) ** step})
