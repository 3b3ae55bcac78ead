"""Display helpers: metrics with reader-worded values, and terminal tables aligned for CJK text."""
from __future__ import annotations

import numpy as np
import pandas as pd
from wcwidth import wcswidth

from .narrative import reason
from .numbers import describe

DISPLAY_COLUMNS = ["metric", "name_zh", "name_en", "region", "entity", "year", "refers_to", "value", "lower",
                   "upper", "unit", "display", "formula_zh", "formula_en", "inputs", "flags", "reason"]


def metrics_display(m: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """Add a ``display`` column (bounds worded for readers: 超过 / 不超过 / 约)."""
    out = m.copy()
    decimals = np.where(out["unit"].astype(str).isin(["%", "百分点"]), 1, 1)
    out["display"] = [
        (f"缺失：{reason(r, 'zh')}" if lang == "zh" else f"missing: {reason(r, 'en')}") if not np.isfinite(v) else describe(v, lo, hi, u, lang=lang, decimals=int(d))
        for v, lo, hi, u, r, d in zip(out["value"], out["lower"], out["upper"], out["unit"].astype(str), out["reason"], decimals)
    ]
    return out[DISPLAY_COLUMNS]


def _pad(text: str, width: int) -> str:
    w = wcswidth(text)
    return text + " " * (width - (w if w >= 0 else len(text)))


def render_table(rows: list[list[str]], headers: list[str], max_width: int = 48) -> str:
    """Rows as a terminal table; column widths count CJK characters as two cells."""
    def clip(s: str) -> str:
        s = "" if s in ("nan", "None") else str(s)
        if wcswidth(s) <= max_width:
            return s
        out = ""
        for ch in s:
            if wcswidth(out + ch + "…") > max_width:
                break
            out += ch
        return out + "…"
    rows = [[clip(c) for c in r] for r in rows]
    widths = [max([wcswidth(h)] + [wcswidth(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = "  ".join(_pad(h, w) for h, w in zip(headers, widths))
    sep = "  ".join("─" * w for w in widths)
    body = ["  ".join(_pad(c, w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join([line.rstrip(), sep, *body])
