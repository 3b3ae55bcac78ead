"""Narrative sentences generated from observations and metrics, in Chinese or English.

Sentences are plain text (the report escapes them). Bounds are worded for readers: 超过 /
不超过 / 约 ("more than" / "at most" / "about"), and every caveat a flag carries is said.
"""
from __future__ import annotations

import math

import pandas as pd

from .catalog import Catalog
from .numbers import describe, format_number

CAVEATS = {
    "scope-mismatch": ("目标与起点指标口径不同（如工业总产值与规上工业总产值），仅作参考。",
                       "The target and the starting level cover different scopes (e.g. all industry vs. enterprises above designated size); indicative only."),
    "scope-unverified": ("来源未说明分子是否仅含规上企业，比重口径未经核实。",
                         "The source does not say whether the numerator covers only enterprises above designated size; the scope is unverified."),
    "comparable-prices": ("增速按可比价计算，推算的上年值为按本年价格计的上年规模，不等于上年名义值。",
                          "Growth is at comparable prices, so the implied previous-year figure is at this year's prices, not last year's nominal level."),
    "lower-bound-input": ("部分输入为下限（如“突破”“超过”），结果相应为上限或下限。",
                          "Some inputs are lower bounds (\"more than\"), so the result is bounded on one side."),
    "upper-bound-input": ("部分输入为上限（如“近”“不超过”）。", "Some inputs are upper bounds (\"nearly\", \"at most\")."),
    "approximate-input": ("部分输入为约数（如“约”“余”“成”）。", "Some inputs are approximate (\"about\", \"more than N\")."),
    "target-threshold": ("“突破/超过”类目标按其门槛值计算。", "A \"more than\" target is taken at its threshold."),
}


def caveats(flags: str, lang: str = "zh") -> list[str]:
    """Reader sentences for a metric's flags (';'-separated)."""
    out = []
    for f in str(flags or "").split(";"):
        if f in CAVEATS:
            out.append(CAVEATS[f][0 if lang == "zh" else 1])
    return out


def figure(row, lang: str = "zh", decimals: int = 1) -> str:
    """A stated figure as readers should read it (超过4,000亿元; 增长5.6倍 stays as stated in Chinese)."""
    if row["measure"] in ("rank", "growth_rank"):
        n = int(row["value"])
        return f"第{n}位" if lang == "zh" else f"No. {n}"
    if row["measure"] == "streak":
        n = int(row["value"])
        return f"连续{n}年" if lang == "zh" else f"{n} years running"
    if row["measure"] == "growth" and str(row.get("unit_stated", "")) == "倍":
        times = row["value"] / 100
        return (f"{format_number(times, 1)}倍（即为上年的{format_number(times + 1, 1)}倍）" if lang == "zh"
                else f"{format_number(times + 1, 1)}-fold (+{format_number(row['value'], 0)}%)")
    dec = stated_decimals(row, lang)
    if row.get("qualifier", "") == "余":  # 30余家 reads as written: more than 30, fewer than 40
        from .numbers import display_scale
        name, factor = display_scale(str(row["unit"]), row["value"], lang)
        v, hi = format_number(row["value"] / factor, dec), format_number(row["upper"] / factor, dec)
        if lang == "zh":
            return f"{v}{name}多" if name == "年" else f"{v}余{name}"
        return f"more than {v}{name} (under {hi}{name})"
    if row.get("qualifier", "") == "exact":  # a stated figure is shown as stated, not as its rounding interval
        return describe(row["value"], row["value"], row["value"], row["unit"], lang=lang, decimals=dec)
    return describe(row["value"], row["lower"], row["upper"], row["unit"], lang=lang, decimals=dec,
                    qualifier=row.get("qualifier", ""))


def reason(text: str, lang: str = "zh") -> str:
    """The zh or en half of a bilingual reason ("中文 / English")."""
    parts = str(text).split(" / ", 1)
    return parts[0] if lang == "zh" or len(parts) == 1 else parts[1]


def stated_decimals(row, lang: str = "zh") -> int:
    """Decimals a stated figure was published with, in the reader's unit (129.2亿元 → 1; 5.29% → 2)."""
    from .numbers import display_scale
    _, factor = display_scale(str(row["unit"]), row["value"], lang)
    half = float(row.get("half_width", 0) or 0)
    if half > 0:
        return int(min(3, max(0, math.ceil(-math.log10(2 * half / factor) - 1e-9))))
    v = row["value"] / factor
    return 0 if float(v).is_integer() else 1


def metric_value(m, lang: str = "zh", decimals: int = 1) -> str:
    if not (isinstance(m["value"], float) and math.isfinite(m["value"])):
        return ("缺失：" if lang == "zh" else "missing: ") + reason(m["reason"], lang)
    if m["kind"] == "rank":
        return f"第{int(m['value'])}位" if lang == "zh" else f"No. {int(m['value'])}"
    return describe(m["value"], m["lower"], m["upper"], str(m["unit"]), lang=lang, decimals=decimals)


def headline(obs: pd.DataFrame, catalog: Catalog, region: str, year: int, lang: str = "zh",
             indicators: list[str] | None = None) -> list[str]:
    """One sentence per headline indicator that has a figure for the region and year."""
    sel = obs[(obs["region"] == region) & (obs["year"] == year) & (obs["entity"] == "")]
    codes = indicators or list(dict.fromkeys(sel["indicator"]))
    out = []
    for code in codes:
        rows = sel[sel["indicator"] == code]
        if rows.empty:
            continue
        name = catalog.name(code, lang)
        parts = []
        for measure in ("level", "growth", "rank", "growth_rank"):
            r = rows[rows["measure"] == measure]
            if r.empty:
                continue
            r = r.loc[(r["upper"] - r["lower"]).idxmin()]
            if measure == "level":
                parts.append(("达到" if lang == "zh" else "reached ") + figure(r, lang))
            elif measure == "growth":
                parts.append(("增长" if lang == "zh" else "grew by ") + figure(r, lang))
            else:
                peer = r["peer"] or ("数据中各地区" if lang == "zh" else "regions in the data")
                what = "增速" if measure == "growth_rank" and lang == "zh" else ("growth " if measure == "growth_rank" else "")
                parts.append(f"{what}在{peer}中居第{int(r['value'])}位" if lang == "zh"
                             else f"{what}ranked No. {int(r['value'])} among {peer}")
        if parts:
            if lang == "zh":
                out.append(f"{year}年，{region}{name}" + "，".join(parts) + "。")
            else:
                out.append(f"In {year}, {name} in {region} " + ", ".join(parts) + ".")
    return out


def metric_sentence(m, obs: pd.DataFrame, catalog: Catalog, lang: str = "zh") -> str:
    """One sentence explaining a derived metric with its inputs and caveats."""
    v = metric_value(m, lang)
    from .metrics import input_ids
    used = obs[obs["id"].isin(input_ids(m["inputs"]))]
    kind = m["kind"]
    name = m["name_zh"] if lang == "zh" else m["name_en"]
    if kind == "implied_base" and len(used) >= 2:
        lv = used[used["measure"] == "level"].iloc[0]
        g = used[used["measure"] == "growth"].iloc[0]
        ind = catalog.name(lv["indicator"], lang)
        s = (f"按{int(lv['year'])}年{ind}{figure(lv, lang)}、增长{figure(g, lang)}推算，{m['refers_to']}年{ind}{v}。"
             if lang == "zh" else
             f"From {ind} of {figure(lv, lang)} in {int(lv['year'])} and growth of {figure(g, lang)}, the {m['refers_to']} level was {v}.")
    elif kind == "required_growth" and len(used) >= 2:
        lv = used[used["measure"] == "level"].iloc[0]
        tg = used[used["measure"] == "target"].iloc[0]
        y0, y1 = str(m["refers_to"]).split("→")
        s = (f"以{y0}年{catalog.name(lv['indicator'])}（{figure(lv, lang)}）为起点，到{y1}年实现{catalog.name(tg['indicator'])}"
             f"{figure(tg, lang)}的目标，年均需增长{v}。" if lang == "zh" else
             f"Starting from {catalog.name(lv['indicator'], 'en')} of {figure(lv, lang)} in {y0}, reaching the {y1} target of "
             f"{catalog.name(tg['indicator'], 'en')} ({figure(tg, lang)}) requires annual growth of {v}.")
    else:
        s = f"{name}：{v}。" if lang == "zh" else f"{name}: {v}."
    extra = caveats(m["flags"], lang)
    if kind == "required_growth" and "scope-mismatch" in str(m["flags"]):
        extra.insert(0, "由于全部工业总产值大于规上工业总产值，按全部工业口径所需增速应低于此值。" if lang == "zh" else
                     "As all-industry output exceeds output above designated size, the growth actually required is lower than this.")
    return s + ("".join(extra) if lang == "zh" else (" " + " ".join(extra) if extra else ""))
