"""Derived metrics: shares, growth, implied bases, intensities, CAGR, targets, pp changes, ranks.

Every metric is declared in the catalog (``metrics:`` in ``data/catalog.yaml``) and computed
column-wise over the whole observations frame (merges on region/entity/year, no per-row Python),
so a panel of millions of observations takes seconds.

Each result carries ``lower``/``upper`` bounds by interval arithmetic: the function is evaluated
at every corner of its inputs' intervals (all the formulas here are monotone in each input, so
the corners hold the extremes). A derived figure from exact inputs therefore spans the published
rounding; one from a lower-bounded input (超4000) is open on the matching side.

    >>> from analysis.data import load_observations
    >>> m = compute(load_observations(), region="渝北区", year=2024)
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .catalog import Catalog, load_catalog
from .errors import CatalogError

IDX = ["region", "entity", "year"]
RESULT_COLUMNS = ["metric", "kind", "name_zh", "name_en", "region", "entity", "year", "refers_to",
                  "indicator", "value", "lower", "upper", "unit", "formula_zh", "formula_en",
                  "inputs", "flags", "reason"]
KINDS = ["share", "growth", "implied_base", "implied_level", "ratio", "implied_denominator", "cagr",
         "required_growth", "pp_change", "contribution", "rank", "region_share"]

# Names and formulas of kinds applied to every indicator ({zh}/{en}: the indicator's names).
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
    "rank": ("{zh}在数据中各地区的位次", "{en}: rank among the regions in the data",
             "按水平从高到低排序（并列取最小位次）", "ordered by level, highest first (ties share the best rank)"),
    "region_share": ("{zh}占上级地区比重", "{en}: share of the parent region",
                     "本地区水平 ÷ 上级地区水平 × 100%", "region's level ÷ parent region's level × 100%"),
    "share": ("{part}占{whole}比重", "{part_en} as a share of {whole_en}",
              "{part} ÷ {whole} × 100%", "{part_en} ÷ {whole_en} × 100%"),
    "ratio": ("{num}与{den}之比", "Ratio of {num_en} to {den_en}",
              "{num} ÷ {den} × {scale}", "{num_en} ÷ {den_en} × {scale}"),
    "implied_denominator": ("由{num}与{ratio}推算的{den}", "{den_en} implied by {num_en} and {ratio_en}",
                            "{num} ÷（{ratio} ÷ {scale}）", "{num_en} ÷ ({ratio_en} ÷ {scale})"),
    "required_growth": ("实现{target}目标所需年均增速", "Annual growth required to reach the {target_en} target",
                        "（目标值 ÷ 最新水平）^(1/剩余年数) − 1；目标为“突破/超过”时按门槛值计",
                        "(target ÷ latest level)^(1/years left) − 1; a 'more than' target counts at its threshold"),
    "target_gap": ("距{target}目标的差距", "Gap to the {target_en} target",
                   "目标值 − 最新水平", "target − latest level"),
    "contribution": ("{part}对{whole}增长的贡献", "Contribution of {part_en} to growth of {whole_en}",
                     "（部分本年 − 部分上年）÷ 整体上年 × 100（百分点）", "(part this year − part last year) ÷ whole last year × 100 (pp)"),
}


@dataclass
class _Piece:
    """One metric's results as parallel arrays, before they join the result frame."""

    metric: str
    kind: str
    keys: pd.DataFrame            # region, entity, year
    refers_to: object
    indicator: object
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    unit: object
    names: tuple[str, str, str, str]
    inputs: list[pd.Series]
    flags: object = ""
    reason: object = ""


def _corners(f: Callable, *intervals: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of f over the box of its inputs' intervals, f monotone in each input."""
    outs = []
    with np.errstate(all="ignore"):
        for bits in itertools.product((0, 1), repeat=len(intervals)):
            outs.append(np.asarray(f(*[iv[b] for iv, b in zip(intervals, bits)]), dtype=float))
    stack = np.vstack(outs)
    allnan = np.isnan(stack).all(axis=0)
    stack = np.where(np.isnan(stack), np.nan, stack)
    with np.errstate(all="ignore"):
        lo = np.where(allnan, np.nan, np.nanmin(np.where(allnan, 0, stack), axis=0))
        hi = np.where(allnan, np.nan, np.nanmax(np.where(allnan, 0, stack), axis=0))
    return lo, hi


def best_observations(obs: pd.DataFrame) -> pd.DataFrame:
    """One row per key: when a figure is stated twice, keep the narrowest and intersect bounds."""
    key = ["region", "entity", "year", "base_year", "indicator", "measure", "peer"]
    dup = obs.duplicated(key, keep=False)
    if not dup.any():
        return obs
    d = obs[dup].copy()
    d["_width"] = d["upper"] - d["lower"]
    d = d.sort_values("_width", kind="stable")
    g = d.groupby(key, dropna=False, sort=False)
    first = g.head(1).set_index(key)
    first["lower"] = g["lower"].max().reindex(first.index)
    first["upper"] = g["upper"].min().reindex(first.index)
    first["id"] = g["id"].agg("+".join).reindex(first.index)
    merged = first.reset_index().drop(columns="_width")
    return pd.concat([obs[~dup], merged[obs.columns]], ignore_index=True)


def _table(obs: pd.DataFrame, measure: str | list[str], indicators=None) -> pd.DataFrame:
    m = obs["measure"].isin([measure] if isinstance(measure, str) else measure)
    if indicators is not None:
        m &= obs["indicator"].isin(indicators)
    cols = IDX + ["indicator", "value", "lower", "upper", "id", "qualifier", "unit", "base_year"]
    return obs.loc[m, cols]


def _open_flags(*tables_with_suffix: tuple[pd.DataFrame, str]) -> np.ndarray:
    """Flags from the inputs' qualifiers: lower-bound-input, upper-bound-input, approximate-input."""
    n = len(tables_with_suffix[0][0])
    lb = np.zeros(n, bool)
    ub = np.zeros(n, bool)
    ap = np.zeros(n, bool)
    for t, s in tables_with_suffix:
        q = t[f"qualifier{s}"].to_numpy()
        lb |= np.isin(q, [">", "≥", "余"])
        ub |= np.isin(q, ["<", "≤", "近"])
        ap |= np.isin(q, ["≈", "近", "余"])
    out = np.full(n, "", dtype=object)
    for mask, name in ((lb, "lower-bound-input"), (ub, "upper-bound-input"), (ap, "approximate-input")):
        out = np.where(mask, np.where(out == "", name, out + ";" + name), out)
    return out


def _join_flags(*parts) -> np.ndarray:
    arrays = [np.broadcast_to(np.asarray(p, dtype=object), np.shape(parts[0]) if np.ndim(parts[0]) else (1,)) for p in parts]
    n = max(len(a) for a in arrays)
    out = np.full(n, "", dtype=object)
    for a in arrays:
        a = np.broadcast_to(a, (n,))
        has = a != ""
        out = np.where(has, np.where(out == "", a, out + ";" + a), out)
    return out


def _names(kind: str, entry: dict, catalog: Catalog, **fmt) -> tuple[str, str, str, str]:
    t = TEMPLATES[kind]
    try:
        zh, en, fzh, fen = (s.format(**fmt) for s in t)
    except KeyError:
        zh, en, fzh, fen = t
    return entry.get("zh", zh), entry.get("en", en), fzh, fen


def _ind_names(catalog: Catalog, code: str, prefix: str) -> dict:
    ind = catalog.indicators.get(code)
    return {prefix: ind.zh if ind else code, f"{prefix}_en": ind.en if ind else code}


def _scope_flag(catalog: Catalog, a: str, b: str) -> str:
    sa = catalog.indicators[a].scope if a in catalog.indicators else ""
    sb = catalog.indicators[b].scope if b in catalog.indicators else ""
    if a == b or (not sa and not sb):
        return ""
    if sa and sb and sa != sb:
        return "scope-mismatch"
    return "scope-unverified"


def _per_indicator(kind: str, table: pd.DataFrame, catalog: Catalog, entry: dict):
    """Names/formulas per indicator for kinds applied to all indicators (vectorised via a map)."""
    codes = table["indicator"].unique()
    names = {c: _names(kind, {}, catalog, zh=catalog.name(c, "zh"), en=catalog.name(c, "en")) for c in codes}
    return names


# ---------------------------------------------------------------- kinds

def _ratio_piece(metric, kind, num, den, catalog, entry, *, scale, unit, names, left=True):
    """num ÷ den × scale on matching region/entity/year; a missing or zero denominator → NaN + reason."""
    how = "left" if left else "inner"
    j = num.merge(den, on=IDX, how=how, suffixes=("_n", "_d"))
    v = j["value_n"].to_numpy(float)
    d = j["value_d"].to_numpy(float)
    reason = np.full(len(j), "", dtype=object)
    reason = np.where(np.isnan(d), f"no {names[4]} in the data for this region and year", reason)
    zero = ~np.isnan(d) & (j["lower_d"].to_numpy(float) <= 0)
    reason = np.where(zero & (d == 0), f"{names[4]} is zero", reason)
    reason = np.where(zero & (d < 0), f"{names[4]} is negative", reason)
    bad = reason != ""
    with np.errstate(all="ignore"):
        value = np.where(bad, np.nan, v / d * scale)
        lo, hi = _corners(lambda a, b: a / b * scale, (j["lower_n"].to_numpy(float), j["upper_n"].to_numpy(float)),
                          (j["lower_d"].to_numpy(float), j["upper_d"].to_numpy(float)))
    lo = np.where(bad, np.nan, lo)
    hi = np.where(bad, np.nan, hi)
    flags = _join_flags(_open_flags((j, "_n"), (j, "_d")), names[5])
    return _Piece(metric, kind, j[IDX], j["year"].astype(str).to_numpy(), j["indicator_n"].to_numpy(), value, lo, hi, unit,
                  names[:4], [j["id_n"], j["id_d"]], flags, reason)


def k_share(entry, obs, catalog):
    part, whole = entry["part"], entry["whole"]
    lv = _table(obs, "level")
    names = _names("share", entry, catalog, **_ind_names(catalog, part, "part"), **_ind_names(catalog, whole, "whole"))
    return [_ratio_piece(entry["code"], "share", lv[lv.indicator == part], lv[lv.indicator == whole][IDX + ["value", "lower", "upper", "id", "qualifier", "indicator"]],
                         catalog, entry, scale=100.0, unit="%",
                         names=(*names, catalog.name(whole), _scope_flag(catalog, part, whole)))]


def k_ratio(entry, obs, catalog):
    num, den, scale = entry["numerator"], entry["denominator"], float(entry.get("scale", 1))
    lv = _table(obs, "level")
    names = _names("ratio", entry, catalog, **_ind_names(catalog, num, "num"), **_ind_names(catalog, den, "den"), scale=f"{scale:g}")
    unit = entry.get("unit") or ("%" if scale == 100 else "")
    return [_ratio_piece(entry["code"], "ratio", lv[lv.indicator == num], lv[lv.indicator == den],
                         catalog, entry, scale=scale, unit=unit, names=(*names, catalog.name(den), ""))]


def k_implied_denominator(entry, obs, catalog):
    num, ratio, den = entry["numerator"], entry["ratio"], entry["denominator"]
    scale = float(entry.get("scale", 1))
    lv = _table(obs, "level")
    names = _names("implied_denominator", entry, catalog, **_ind_names(catalog, num, "num"),
                   **_ind_names(catalog, ratio, "ratio"), **_ind_names(catalog, den, "den"), scale=f"{scale:g}")
    # GDP implied = R&D ÷ (intensity / 100): the "denominator" of a ratio is num ÷ ratio × scale
    p = _ratio_piece(entry["code"], "implied_denominator", lv[lv.indicator == num], lv[lv.indicator == ratio],
                     catalog, entry, scale=scale, unit=catalog[num].unit and _base_unit(catalog, num),
                     names=(*names, catalog.name(ratio), ""))
    p.indicator = den
    return [p]


def _base_unit(catalog, code):
    from .numbers import unit_info
    return unit_info(catalog[code].unit)[0]


def _growth_table(obs):
    g = _table(obs, "growth")
    return g


def k_implied_base(entry, obs, catalog):
    lv, g = _table(obs, "level"), _growth_table(obs)
    j = lv.merge(g, on=IDX + ["indicator"], suffixes=("_l", "_g"))
    if j.empty:
        return []
    L = (j["lower_l"].to_numpy(float), j["upper_l"].to_numpy(float))
    G = (j["lower_g"].to_numpy(float), j["upper_g"].to_numpy(float))
    f = lambda l, g: l / (1 + g / 100)  # noqa: E731
    with np.errstate(all="ignore"):
        value = f(j["value_l"].to_numpy(float), j["value_g"].to_numpy(float))
    lo, hi = _corners(f, L, G)
    basis = j["indicator"].map(_growth_basis_map(catalog)).fillna("").to_numpy(object)
    flags = _join_flags(_open_flags((j, "_l"), (j, "_g")),
                        np.where(basis == "comparable", "comparable-prices", ""))
    names = _per_indicator("implied_base", j, catalog, entry)
    return [_piece_from_names(entry["code"], "implied_base", j, names, value, lo, hi,
                              j["unit_l"].to_numpy(object), [j["id_l"], j["id_g"]], flags,
                              refers_to=j["base_year_g"].astype("int64").astype(str).to_numpy())]


def _growth_basis_map(catalog: Catalog) -> dict[str, str]:
    return {c: ind.growth_basis for c, ind in catalog.indicators.items()}


def _piece_from_names(metric, kind, j, names, value, lo, hi, unit, inputs, flags, refers_to, reason=""):
    ind = j["indicator"].to_numpy(object)
    # per-indicator names are few: map through a small dict
    code = np.array([f"{metric}:{c}" for c in ind], dtype=object) if len(ind) < 50_000 else \
        (pd.Series(ind).map({c: f"{metric}:{c}" for c in names}).to_numpy(object))
    p = _Piece(metric, kind, j[IDX], refers_to, ind, value, lo, hi, unit, ("", "", "", ""), inputs, flags, reason)
    p.names_map = names  # type: ignore[attr-defined]
    p.codes = code  # type: ignore[attr-defined]
    return p


def k_implied_level(entry, obs, catalog):
    lv, g = _table(obs, "level"), _growth_table(obs)
    prev = lv.assign(year=lv["year"] + 1)
    j = g.merge(prev, on=IDX + ["indicator"], suffixes=("_g", "_b"))
    # only where the level itself is not stated
    have = lv.set_index(IDX + ["indicator"]).index
    j = j[~j.set_index(IDX + ["indicator"]).index.isin(have)]
    if j.empty:
        return []
    f = lambda b, g: b * (1 + g / 100)  # noqa: E731
    with np.errstate(all="ignore"):
        value = f(j["value_b"].to_numpy(float), j["value_g"].to_numpy(float))
    lo, hi = _corners(f, (j["lower_b"].to_numpy(float), j["upper_b"].to_numpy(float)),
                      (j["lower_g"].to_numpy(float), j["upper_g"].to_numpy(float)))
    basis = j["indicator"].map(_growth_basis_map(catalog)).fillna("").to_numpy(object)
    flags = _join_flags(_open_flags((j, "_b"), (j, "_g")), np.where(basis == "comparable", "comparable-prices", ""))
    names = _per_indicator("implied_level", j, catalog, entry)
    return [_piece_from_names(entry["code"], "implied_level", j, names, value, lo, hi, j["unit_b"].to_numpy(object),
                              [j["id_b"], j["id_g"]], flags, refers_to=j["year"].astype(str).to_numpy())]


def k_growth(entry, obs, catalog):
    lv = _table(obs, "level")
    prev = lv.assign(year=lv["year"] + 1)
    j = lv.merge(prev, on=IDX + ["indicator"], suffixes=("", "_0"))
    if j.empty:
        return []
    v1, v0 = j["value"].to_numpy(float), j["value_0"].to_numpy(float)
    f = lambda a, b: (a / b - 1) * 100  # noqa: E731
    with np.errstate(all="ignore"):
        value = f(v1, v0)
        lo, hi = _corners(f, (j["lower"].to_numpy(float), j["upper"].to_numpy(float)),
                          (j["lower_0"].to_numpy(float), j["upper_0"].to_numpy(float)))
    reason = np.where(v0 == 0, "previous level is zero", np.where(v0 < 0, "previous level is negative: growth is not meaningful", ""))
    bad = reason != ""
    value, lo, hi = (np.where(bad, np.nan, x) for x in (value, lo, hi))
    # rates (%) change in percentage points, not percent
    is_rate = j["unit"].to_numpy(object) == "%"
    keep = ~is_rate
    j = j[keep]
    names = _per_indicator("growth", j, catalog, entry)
    flags = _open_flags((j, ""), (j, "_0"))
    return [_piece_from_names(entry["code"], "growth", j, names, value[keep], lo[keep], hi[keep], "%",
                              [j["id_0"], j["id"]], flags, refers_to=(j["year_0"] if "year_0" in j else j["year"] - 1).astype(str).to_numpy() + "→" + j["year"].astype(str).to_numpy(),
                              reason=reason[keep])]


def k_pp_change(entry, obs, catalog):
    lv = _table(obs, "level")
    lv = lv[lv["unit"] == "%"]
    prev = lv.assign(year=lv["year"] + 1)
    j = lv.merge(prev, on=IDX + ["indicator"], suffixes=("", "_0"))
    if j.empty:
        return []
    f = lambda a, b: a - b  # noqa: E731
    value = f(j["value"].to_numpy(float), j["value_0"].to_numpy(float))
    lo, hi = _corners(f, (j["lower"].to_numpy(float), j["upper"].to_numpy(float)),
                      (j["lower_0"].to_numpy(float), j["upper_0"].to_numpy(float)))
    names = _per_indicator("pp_change", j, catalog, entry)
    return [_piece_from_names(entry["code"], "pp_change", j, names, value, lo, hi, "百分点", [j["id_0"], j["id"]],
                              _open_flags((j, ""), (j, "_0")),
                              refers_to=(j["year"] - 1).astype(str).to_numpy() + "→" + j["year"].astype(str).to_numpy())]


def k_cagr(entry, obs, catalog):
    lv = _table(obs, "level")
    g = lv.groupby(["region", "entity", "indicator"], sort=False)["year"]
    first = lv[lv["year"] == g.transform("min")]
    last = lv[lv["year"] == g.transform("max")]
    j = last.merge(first, on=["region", "entity", "indicator"], suffixes=("", "_0"))
    j = j[j["year"] - j["year_0"] >= 2]
    if j.empty:
        return []
    n = (j["year"] - j["year_0"]).to_numpy(float)
    f = lambda a, b: ((a / b) ** (1 / n) - 1) * 100  # noqa: E731
    with np.errstate(all="ignore"):
        value = f(j["value"].to_numpy(float), j["value_0"].to_numpy(float))
        lo, hi = _corners(f, (j["lower"].to_numpy(float), j["upper"].to_numpy(float)),
                          (j["lower_0"].to_numpy(float), j["upper_0"].to_numpy(float)))
    bad = j["value_0"].to_numpy(float) <= 0
    reason = np.where(bad, "first level is not positive", "")
    value, lo, hi = (np.where(bad, np.nan, x) for x in (value, lo, hi))
    names = _per_indicator("cagr", j, catalog, entry)
    return [_piece_from_names(entry["code"], "cagr", j, names, value, lo, hi, "%", [j["id_0"], j["id"]],
                              _open_flags((j, ""), (j, "_0")),
                              refers_to=j["year_0"].astype(str).to_numpy() + "→" + j["year"].astype(str).to_numpy(), reason=reason)]


def k_required_growth(entry, obs, catalog):
    target = entry["target"]
    levels = entry.get("level") or [target]
    levels = [levels] if isinstance(levels, str) else list(levels)
    tg = _table(obs, "target", [target])
    lv = _table(obs, "level", levels)
    if tg.empty or lv.empty:
        return []
    # latest level per region/entity, preferring the first indicator listed
    lv = lv.assign(_pref=lv["indicator"].map({c: i for i, c in enumerate(levels)}))
    lv = lv.sort_values(["year", "_pref"], ascending=[False, True]).drop_duplicates(["region", "entity"])
    j = tg.merge(lv, on=["region", "entity"], suffixes=("_t", "_l"))
    j = j[j["year_t"] > j["year_l"]]
    if j.empty:
        return []
    n = (j["year_t"] - j["year_l"]).to_numpy(float)
    # a 突破/超过 target is met by reaching its threshold: use the stated value, not [v, ∞)
    t_val = j["value_t"].to_numpy(float)
    thr = j["qualifier_t"].isin([">", "≥"]).to_numpy()
    t_lo = np.where(thr, t_val, j["lower_t"].to_numpy(float))
    t_hi = np.where(thr, t_val, j["upper_t"].to_numpy(float))
    L = (j["lower_l"].to_numpy(float), j["upper_l"].to_numpy(float))
    f = lambda t, lvl: ((t / lvl) ** (1 / n) - 1) * 100  # noqa: E731
    with np.errstate(all="ignore"):
        value = f(t_val, j["value_l"].to_numpy(float))
        lo, hi = _corners(f, (t_lo, t_hi), L)
    scope = np.array([_scope_flag(catalog, target, li) for li in j["indicator_l"]], dtype=object)
    lflags = _open_flags((j.assign(qualifier_x=np.where(thr, "exact", j["qualifier_t"])), "_x"), (j, "_l"))
    flags = _join_flags(lflags, np.where(thr, "target-threshold", ""), scope)
    keys = j.rename(columns={"year_l": "year"})
    keys = keys.assign(indicator=target)
    names = _names("required_growth", entry, catalog, **_ind_names(catalog, target, "target"))
    refers = j["year_l"].astype(str).to_numpy() + "→" + j["year_t"].astype(str).to_numpy()
    p1 = _Piece(entry["code"], "required_growth", keys[IDX], refers, target, value, lo, hi, "%", names,
                [j["id_l"], j["id_t"]], flags)
    gval = t_val - j["value_l"].to_numpy(float)
    glo, ghi = _corners(lambda t, lvl: t - lvl, (t_lo, t_hi), L)
    gnames = _names("target_gap", {}, catalog, **_ind_names(catalog, target, "target"))
    p2 = _Piece(entry["code"] + "_gap", "target_gap", keys[IDX], refers, target, gval, glo, ghi,
                j["unit_l"].to_numpy(object), gnames, [j["id_l"], j["id_t"]], flags)
    return [p1, p2]


def k_contribution(entry, obs, catalog):
    part, whole = entry["part"], entry["whole"]
    lv = _table(obs, "level")
    p = lv[lv.indicator == part]
    p0 = p.assign(year=p["year"] + 1)
    w0 = lv[lv.indicator == whole].assign(year=lambda d: d["year"] + 1)
    j = p.merge(p0, on=IDX, how="left", suffixes=("", "_p0")).merge(
        w0.rename(columns={c: c + "_w0" for c in w0.columns if c not in IDX}), on=IDX, how="left")
    if j.empty:
        return []
    names = _names("contribution", entry, catalog, **_ind_names(catalog, part, "part"), **_ind_names(catalog, whole, "whole"))
    f = lambda a, b, w: (a - b) / w * 100  # noqa: E731
    with np.errstate(all="ignore"):
        value = f(j["value"].to_numpy(float), j["value_p0"].to_numpy(float), j["value_w0"].to_numpy(float))
        lo, hi = _corners(f, (j["lower"].to_numpy(float), j["upper"].to_numpy(float)),
                          (j["lower_p0"].to_numpy(float), j["upper_p0"].to_numpy(float)),
                          (j["lower_w0"].to_numpy(float), j["upper_w0"].to_numpy(float)))
    reason = np.where(j["value_p0"].isna(), f"no previous-year {catalog.name(part)}",
                      np.where(j["value_w0"].isna(), f"no previous-year {catalog.name(whole)}",
                               np.where(j["value_w0"].to_numpy(float) <= 0, f"previous-year {catalog.name(whole)} is not positive", "")))
    bad = reason != ""
    value, lo, hi = (np.where(bad, np.nan, x) for x in (value, lo, hi))
    flags = _join_flags(_open_flags((j, ""), (j.fillna({"qualifier_p0": ""}), "_p0"), (j.fillna({"qualifier_w0": ""}), "_w0")),
                        _scope_flag(catalog, part, whole))
    return [_Piece(entry["code"], "contribution", j[IDX], (j["year"] - 1).astype(str).to_numpy() + "→" + j["year"].astype(str).to_numpy(),
                   part, value, lo, hi, "百分点", names, [j["id_p0"].fillna(""), j["id"], j["id_w0"].fillna("")], flags, reason)]


def k_rank(entry, obs, catalog):
    lv = _table(obs, "level")
    lv = lv[lv["entity"] == ""]
    counts = lv.groupby(["indicator", "year"], sort=False)["region"].transform("size")
    lv = lv[counts >= 2]
    if lv.empty:
        return []
    grp = lv.groupby(["indicator", "year"], sort=False)
    value = grp["value"].rank(ascending=False, method="min").to_numpy(float)
    # rank bounds from the figures' bounds (approximate: best case ranks the upper bound among
    # the others' upper bounds, worst case the lower bound among lower bounds)
    lo = np.minimum(value, grp["upper"].rank(ascending=False, method="min").to_numpy(float))
    hi = np.maximum(value, grp["lower"].rank(ascending=False, method="max").to_numpy(float))
    peers = grp["region"].transform("size").astype(int).astype(str).to_numpy(object)
    names = _per_indicator("rank", lv, catalog, entry)
    return [_piece_from_names(entry["code"], "rank", lv, names, value, lo, hi, "位", [lv["id"]],
                              np.char.add("peers=", peers.astype(str)).astype(object),
                              refers_to=lv["year"].astype(str).to_numpy())]


def k_region_share(entry, obs, catalog):
    regions = {**(_regions(catalog) or {}), **obs.attrs.get("regions", {})}
    parents = {r: (e or {}).get("parent") for r, e in regions.items()}
    parents = {k: v for k, v in parents.items() if v}
    if not parents:
        return []
    lv = _table(obs, "level")
    lv = lv[(lv["entity"] == "") & lv["region"].isin(list(parents))]
    lv = lv.assign(parent=lv["region"].map(parents))
    par = _table(obs, "level")
    par = par[par["entity"] == ""].rename(columns={"region": "parent"})
    j = lv.merge(par, on=["parent", "entity", "year", "indicator"], suffixes=("", "_p"))
    if j.empty:
        return []
    f = lambda a, b: a / b * 100  # noqa: E731
    with np.errstate(all="ignore"):
        value = f(j["value"].to_numpy(float), j["value_p"].to_numpy(float))
        lo, hi = _corners(f, (j["lower"].to_numpy(float), j["upper"].to_numpy(float)),
                          (j["lower_p"].to_numpy(float), j["upper_p"].to_numpy(float)))
    names = _per_indicator("region_share", j, catalog, entry)
    return [_piece_from_names(entry["code"], "region_share", j, names, value, lo, hi, "%", [j["id"], j["id_p"]],
                              _open_flags((j, ""), (j, "_p")), refers_to=j["year"].astype(str).to_numpy())]


def _regions(catalog: Catalog) -> dict:
    return catalog.regions


HANDLERS = {"share": k_share, "growth": k_growth, "implied_base": k_implied_base, "implied_level": k_implied_level,
            "ratio": k_ratio, "implied_denominator": k_implied_denominator, "cagr": k_cagr,
            "required_growth": k_required_growth, "pp_change": k_pp_change, "contribution": k_contribution,
            "rank": k_rank, "region_share": k_region_share}
REQUIRED_KEYS = {"share": ["part", "whole"], "ratio": ["numerator", "denominator"],
                 "implied_denominator": ["numerator", "ratio", "denominator"], "required_growth": ["target"],
                 "contribution": ["part", "whole"]}


def check_definitions(catalog: Catalog) -> list[dict]:
    """The catalog's metric entries, checked: known kind, required keys, known indicators."""
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
        for c in ([e["level"]] if isinstance(e.get("level"), str) else e.get("level") or []):
            if c not in catalog.indicators:
                problems.append(f"{where} ({e['code']}).level: expected an indicator code, found {c!r}")
    if problems:
        raise CatalogError("\n".join(problems))
    return catalog.metrics


def _assemble(pieces: list[_Piece]) -> pd.DataFrame:
    frames = []
    for p in pieces:
        n = len(p.value)
        if n == 0:
            continue
        inputs = p.inputs[0].fillna("").to_numpy(dtype=object)
        for extra in p.inputs[1:]:
            e = extra.fillna("").to_numpy(dtype=object)
            inputs = np.where(e == "", inputs, np.where(inputs == "", e, inputs + "," + e))
        if hasattr(p, "names_map"):
            codes = pd.Series(p.codes)
            nm = p.names_map
            ind = pd.Series(p.indicator)
            cols = {k: pd.Categorical(ind.map({c: v[i] for c, v in nm.items()})) for i, k in
                    enumerate(["name_zh", "name_en", "formula_zh", "formula_en"])}
            metric = pd.Categorical(codes)
        else:
            cols = {k: pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [v])
                    for k, v in zip(["name_zh", "name_en", "formula_zh", "formula_en"], p.names)}
            metric = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [p.metric])
        frame = pd.DataFrame({
            "metric": metric,
            "kind": pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), [p.kind]),
            **cols,
            "region": p.keys["region"].to_numpy(), "entity": p.keys["entity"].to_numpy(),
            "year": p.keys["year"].to_numpy(),
            "refers_to": np.broadcast_to(np.asarray(p.refers_to, dtype=object), (n,)),
            "indicator": np.broadcast_to(np.asarray(p.indicator, dtype=object), (n,)),
            "value": np.asarray(p.value, float), "lower": np.asarray(p.lower, float), "upper": np.asarray(p.upper, float),
            "unit": np.broadcast_to(np.asarray(p.unit, dtype=object), (n,)),
            "inputs": inputs,
            "flags": np.broadcast_to(np.asarray(p.flags, dtype=object), (n,)),
            "reason": np.broadcast_to(np.asarray(p.reason, dtype=object), (n,)),
        })
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    for c in ("metric", "name_zh", "name_en", "formula_zh", "formula_en", "kind", "unit", "flags", "refers_to", "indicator"):
        out[c] = out[c].astype("category")
    return out[RESULT_COLUMNS]


def compute(observations: pd.DataFrame, *, region: str | None = None, year: int | None = None,
            catalog: Catalog | None = None) -> pd.DataFrame:
    """Compute every metric declared in the catalog.

    Args:
        observations: frame from :func:`analysis.data.load_observations`.
        region, year: keep results for this region / year only (inputs from other regions and
            years are still used: growth needs last year, ranks need the peers).
        catalog: the catalog declaring the metrics (default: the project's).

    Returns:
        Tidy frame, one row per metric result: metric, kind, name_zh, name_en, region, entity,
        year, refers_to, indicator, value, lower, upper, unit (base unit), formula_zh,
        formula_en, inputs (observation ids), flags, reason (why a value is missing).
    """
    catalog = catalog or load_catalog()
    obs = best_observations(observations)
    obs = obs.assign(year=obs["year"].astype("int64"),
                     base_year=obs["base_year"].fillna(obs["year"] - 1).astype("int64"))
    pieces: list[_Piece] = []
    for entry in check_definitions(catalog):
        pieces += HANDLERS[entry["kind"]](entry, obs, catalog)
    out = _assemble(pieces)
    if region is not None:
        out = out[out["region"] == region]
    if year is not None:
        out = out[out["year"] == int(year)]
    return out.reset_index(drop=True)


def target_path(metrics: pd.DataFrame, observations: pd.DataFrame) -> pd.DataFrame:
    """Yearly path from the latest level to each target at the required growth (for charts)."""
    rows = []
    for _, r in metrics[metrics["kind"] == "required_growth"].iterrows():
        if not np.isfinite(r["value"]):
            continue
        y0, y1 = (int(x) for x in str(r["refers_to"]).split("→"))
        ids = r["inputs"].split(",")
        base = observations[observations["id"].isin(ids[:1])]
        if base.empty:
            continue
        b = float(base["value"].iloc[0])
        for y in range(y0, y1 + 1):
            rows.append({"metric": r["metric"], "region": r["region"], "year": y,
                         "value": b * (1 + r["value"] / 100) ** (y - y0)})
    return pd.DataFrame(rows, columns=["metric", "region", "year", "value"])


RECONCILE_COLUMNS = ["check", "region", "entity", "year", "indicator", "name_zh", "stated", "stated_lower",
                     "stated_upper", "computed", "computed_lower", "computed_upper", "difference", "unit",
                     "status", "inputs", "note"]


def reconcile(observations: pd.DataFrame, metrics: pd.DataFrame | None = None, *,
              catalog: Catalog | None = None) -> pd.DataFrame:
    """Stated figures against their recomputation from other figures.

    A stated figure and its recomputation *agree* when their intervals overlap: the stated one
    spans its published rounding (5.29 % → [5.285, 5.295]) or qualifier, the computed one the
    propagated bounds of its inputs. Disagreements are findings, not errors.

    Checks: the same figure stated twice; a stated growth against two stated levels; a stated
    ratio (R&D intensity) against numerator ÷ denominator, also with the denominator of the
    previous year (R&D figures are often a year late); a stated share against part ÷ whole.
    """
    catalog = catalog or load_catalog()
    if metrics is None:
        metrics = compute(observations, catalog=catalog)
    rows = []
    cols = ["region", "entity", "year", "indicator"]
    # 1. the same figure stated twice
    key = ["region", "entity", "year", "base_year", "indicator", "measure", "peer"]
    dup = observations[observations.duplicated(key, keep=False)]
    for _, g in dup.groupby(key, dropna=False, sort=False):
        a = g.iloc[0]
        for _, b in g.iloc[1:].iterrows():
            rows.append({"check": "stated twice", **{c: a[c] for c in cols},
                         "stated": a["value"], "stated_lower": a["lower"], "stated_upper": a["upper"],
                         "computed": b["value"], "computed_lower": b["lower"], "computed_upper": b["upper"],
                         "unit": a["unit"], "inputs": f"{a['id']},{b['id']}",
                         "note": f"{a['value_stated']}{a['unit_stated']} ({a['qualifier']}) vs {b['value_stated']}{b['unit_stated']} ({b['qualifier']})"})
    best = best_observations(observations)
    # 2. growth: computed from levels vs stated
    stated_g = best[best["measure"] == "growth"]
    comp_g = metrics[metrics["kind"] == "growth"]
    if len(stated_g) and len(comp_g):
        j = comp_g.merge(stated_g, on=cols, suffixes=("", "_s"))
        for _, r in j.iterrows():
            rows.append({"check": "growth from levels", **{c: r[c] for c in cols}, "stated": r["value_s"],
                         "stated_lower": r["lower_s"], "stated_upper": r["upper_s"], "computed": r["value"],
                         "computed_lower": r["lower"], "computed_upper": r["upper"], "unit": "%",
                         "inputs": f"{r['id']} vs {r['inputs']}", "note": ""})
    # 3. ratios declared with `reconciles:`; also against the previous year's denominator
    for e in catalog.metrics:
        if e.get("kind") != "ratio" or not e.get("reconciles"):
            continue
        target = e["reconciles"]
        stated = best[(best["indicator"] == target) & (best["measure"] == "level")]
        lv = best[best["measure"] == "level"]
        num = lv[lv["indicator"] == e["numerator"]]
        den = lv[lv["indicator"] == e["denominator"]]
        scale = float(e.get("scale", 1))
        for shift, label in ((0, "same year"), (1, "previous year's denominator")):
            d = den.assign(year=den["year"] + shift)
            j = stated.merge(num, on=["region", "entity", "year"], suffixes=("", "_n")).merge(
                d, on=["region", "entity", "year"], suffixes=("", "_d"))
            for _, r in j.iterrows():
                c = r["value_n"] / r["value_d"] * scale if r["value_d"] else np.nan
                lo, hi = _corners(lambda a, b: a / b * scale, (np.array([r["lower_n"]]), np.array([r["upper_n"]])),
                                  (np.array([r["lower_d"]]), np.array([r["upper_d"]])))
                rows.append({"check": f"{e['code']} ({label})", "region": r["region"], "entity": r["entity"],
                             "year": r["year"], "indicator": target, "stated": r["value"], "stated_lower": r["lower"],
                             "stated_upper": r["upper"], "computed": c, "computed_lower": lo[0], "computed_upper": hi[0],
                             "unit": r["unit"], "inputs": f"{r['id']} vs {r['id_n']},{r['id_d']}",
                             "note": "" if shift == 0 else "checks whether the stated ratio uses last year's denominator"})
    # 4. stated shares vs part ÷ whole
    for _, m in metrics[metrics["kind"] == "share"].iterrows():
        part = m["indicator"]
        st = best[(best["indicator"] == part) & (best["measure"] == "share") & (best["region"] == m["region"])
                  & (best["year"] == m["year"]) & (best["entity"] == m["entity"])]
        for _, r in st.iterrows():
            rows.append({"check": f"{m['metric']}", **{c: r[c] for c in cols}, "stated": r["value"],
                         "stated_lower": r["lower"], "stated_upper": r["upper"], "computed": m["value"],
                         "computed_lower": m["lower"], "computed_upper": m["upper"], "unit": "%",
                         "inputs": f"{r['id']} vs {m['inputs']}", "note": ""})
    out = pd.DataFrame(rows, columns=[c for c in RECONCILE_COLUMNS if c not in ("name_zh", "difference", "status")])
    if out.empty:
        return pd.DataFrame(columns=RECONCILE_COLUMNS)
    out["name_zh"] = out["indicator"].map(lambda c: catalog.name(c))
    out["difference"] = out["computed"] - out["stated"]
    overlap = (out["computed_lower"] <= out["stated_upper"]) & (out["computed_upper"] >= out["stated_lower"])
    out["status"] = np.where(out["computed"].isna(), "not computable", np.where(overlap, "agree", "disagree"))
    return out[RECONCILE_COLUMNS].reset_index(drop=True)
