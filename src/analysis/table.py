"""Display helpers: metrics with reader-worded values, and terminal tables aligned for CJK text."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from wcwidth import wcswidth

from .narrative import metric_value

DISPLAY_COLUMNS = ["metric", "name_zh", "name_en", "region", "entity", "year", "start_year", "end_year", "value",
                   "lower", "upper", "unit", "display", "formula_zh", "formula_en", "inputs", "flags", "reason",
                   "reason_indicator", "peer", "peer_n", "peer_covered"]


def metrics_display(m: pd.DataFrame, lang: str = "zh", catalog=None) -> pd.DataFrame:
    """Add a ``display`` column worded as the report words it (超过 / 不超过 / 约, 缺失：reason).

    The other columns keep their types (``inputs`` and ``flags`` stay lists); flatten them for
    text output with :func:`joined_lists`.
    """
    out = m.copy()
    out["display"] = [metric_value(r, lang, catalog) for r in out.to_dict("records")]
    return out[DISPLAY_COLUMNS]


def joined_lists(frame: pd.DataFrame, sep: str = ";") -> pd.DataFrame:
    """A copy with every list column joined into one string per row (for CSV and terminal output)."""
    out = frame.copy()
    for c in out.columns:
        dtype = out[c].dtype
        if isinstance(dtype, pd.ArrowDtype) and pa.types.is_list(dtype.pyarrow_dtype):
            joined = pc.binary_join(pa.array(out[c].array), sep).fill_null("")
            out[c] = pd.Series(pd.arrays.ArrowExtensionArray(joined), index=out.index)
    return out


#: what a spreadsheet reads as the start of a formula (OWASP, "CSV injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = r"[+-]?\d+(?:[.,]\d+)*%?"


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy in which no text cell can be read as a formula by a spreadsheet opening it as CSV.

    A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    (``=HYPERLINK("http://…")``, ``=1+1``, a region named so in the data) gets a leading ``'``,
    which spreadsheets show as text; a plain signed number written as text (``-3.5``, ``+12%``)
    cannot be a formula and is kept. Numeric columns are not touched. For ``.xlsx`` see
    :func:`write_xlsx`, which writes such cells as text instead.
    """
    out = frame.copy()
    for c in out.columns:
        col = out[c]
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            continue
        text = col.astype("string")
        risky = (text.str.startswith(FORMULA_START) & ~text.str.fullmatch(_PLAIN_NUMBER)).fillna(False).to_numpy(bool)
        if risky.any():
            fixed = col.astype(object).copy()
            fixed[risky] = "'" + text[risky].astype(object)
            out[c] = fixed
    return out


def write_xlsx(path, sheets: dict[str, pd.DataFrame]) -> None:
    """Frames as the sheets of one ``.xlsx``; every text cell is written as text, never as a formula
    (openpyxl turns a string starting with ``=`` into one)."""
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, frame in sheets.items():
            frame.to_excel(xl, index=False, sheet_name=name)
            for row in xl.sheets[name].iter_rows():
                for cell in row:
                    if cell.data_type == "f":
                        cell.data_type = "s"


def periods(start: pd.Series, end: pd.Series) -> np.ndarray:
    """Period labels from start and end years: "2023", or "2024→2027" when they differ."""
    s, e = start.astype(str).to_numpy(object), end.astype(str).to_numpy(object)
    return np.where(s == e, s, s + "→" + e)


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
