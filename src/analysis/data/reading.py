"""Reading observation files and the registries beside them: bytes → a frame of strings.

CSV in UTF-8 (with or without BOM), GBK or GB18030, or .xlsx; every problem is a
:class:`~analysis.errors.Problem` located to its file, row and column. Nothing here interprets a
value: that is :mod:`analysis.data.validation`.
"""
from __future__ import annotations

import csv
import difflib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from charset_normalizer import from_bytes

from .. import paths as _paths
from ..errors import Problem
from ..numbers import normalize_text

REQUIRED = ["region", "year", "indicator", "measure", "value", "unit", "source", "quote"]
OPTIONAL = ["id", "entity", "base_year", "qualifier", "peer", "note"]
COLUMNS = REQUIRED + OPTIONAL

# Chinese headers analysts use in spreadsheets → column names.
HEADER_ALIASES = {
    "地区": "region", "区域": "region", "年份": "year", "年度": "year", "指标": "indicator",
    "度量": "measure", "口径": "measure", "类型": "measure", "数值": "value", "值": "value",
    "单位": "unit", "限定": "qualifier", "限定词": "qualifier", "来源": "source",
    "原文": "quote", "引文": "quote", "主体": "entity", "企业": "entity", "基期": "base_year",
    "比较范围": "peer", "备注": "note", "编号": "id",
}

ACCEPTED_ENCODINGS = "UTF-8 (with or without BOM), GBK or GB18030"


@dataclass
class ReadResult:
    frame: pd.DataFrame | None
    encoding: str
    problems: list[Problem] = field(default_factory=list)


def _short(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _decode(raw: bytes, name: str) -> tuple[str | None, str, list[Problem]]:
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        kind = "an .xlsx/.zip workbook" if raw.startswith(b"PK") else "binary content"
        return None, "", [Problem(name, None, None, f"a CSV text file in {ACCEPTED_ENCODINGS}",
                                  kind, "save it as CSV, or give the workbook an .xlsx name")]
    try:
        return raw.decode("utf-8-sig"), "UTF-8-BOM" if raw.startswith(b"\xef\xbb\xbf") else "UTF-8", []
    except UnicodeDecodeError as exc:
        utf8_error = exc
    best = from_bytes(raw).best()
    guess = best.encoding if best is not None else None
    # Chinese Excel saves GBK; GB18030 is its superset, so decode every GB-family guess with it.
    if guess and guess.replace("_", "").lower() in {"gb2312", "gbk", "gb18030", "hz", "cp936"}:
        try:
            return raw.decode("gb18030"), "GB18030" if guess.lower() == "gb18030" else "GBK", []
        except UnicodeDecodeError:
            pass
    found = f"bytes that are not valid UTF-8 (byte 0x{raw[utf8_error.start]:02x} at offset {utf8_error.start})"
    if guess:
        found += f" and look like {guess}"
    return None, "", [Problem(name, None, None, f"text in {ACCEPTED_ENCODINGS}", found,
                              "re-save the file as UTF-8 or GBK CSV")]


def _read_csv(path: Path) -> ReadResult:
    name = _short(path)
    raw = path.read_bytes()
    if not raw.strip():
        return ReadResult(None, "", [Problem(name, None, None, "a header row with columns " + ", ".join(REQUIRED), "an empty file")])
    text, encoding, problems = _decode(raw, name)
    if text is None:
        return ReadResult(None, "", problems)
    lines = text.splitlines()
    header_line = next((ln for ln in lines if ln.strip()), "")
    if "," not in header_line:
        for delim, label in ((";", "';'"), ("\t", "tabs"), ("|", "'|'"), ("，", "full-width '，'")):
            if delim in header_line:
                return ReadResult(None, encoding, [Problem(name, 1, None, "comma-separated columns", f"columns separated by {label}", "export the sheet as CSV (comma delimited)")])
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as exc:
        return ReadResult(None, encoding, [Problem(name, None, None, "well-formed CSV", str(exc))])
    rows_numbered = [(i + 1, r) for i, r in enumerate(rows)]
    header = rows_numbered[0][1]
    body = [(n, r) for n, r in rows_numbered[1:] if any(c.strip() for c in r)]
    width = len(header)
    problems = []
    good = []
    for n, r in body:
        if len(r) != width:
            problems.append(Problem(name, n, None, f"{width} fields like the header", f"{len(r)} fields", "check for an unquoted comma"))
        else:
            good.append((n, r))
    frame = pd.DataFrame([r for _, r in good], columns=header, dtype=object)
    frame.index = [n for n, _ in good]
    return ReadResult(frame, encoding, problems)


def _read_xlsx(path: Path) -> ReadResult:
    name = _short(path)
    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=str, engine="openpyxl", header=0)
    except Exception as exc:  # openpyxl raises many types (zipfile.BadZipFile, KeyError, ...) for broken files
        return ReadResult(None, "", [Problem(name, None, None, "an Excel .xlsx workbook", f"a file that cannot be read ({type(exc).__name__}: {exc})")])
    frame = frame.dropna(how="all")
    frame.index = frame.index + 2  # spreadsheet rows: header is row 1
    frame = frame.astype(object).where(frame.notna(), "")
    return ReadResult(frame, "xlsx", [])


def read_table(path: str | os.PathLike) -> ReadResult:
    """Read one observations file into a frame of strings indexed by spreadsheet row."""
    p = Path(path)
    if not p.is_file():
        return ReadResult(None, "", [Problem(_short(p), None, None, "an observations file (.csv or .xlsx)", "no such file")])
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(p)
    return _read_csv(p)


def _normalise_header(frame: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[Problem]]:
    problems = []
    renamed = {}
    for col in frame.columns:
        key = normalize_text(str(col)).lower().lstrip("\ufeff")
        key = HEADER_ALIASES.get(key, key)
        if key not in COLUMNS:
            near = difflib.get_close_matches(key, COLUMNS, n=1)
            problems.append(Problem(name, 1, str(col), "a known column (" + ", ".join(COLUMNS) + ")",
                                    f"unknown column {str(col)!r}", f"did you mean {near[0]!r}?" if near else ""))
        renamed[col] = key
    frame = frame.rename(columns=renamed)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        problems.append(Problem(name, 1, None, "columns " + ", ".join(REQUIRED),
                                "a header without " + ", ".join(missing)))
    return frame, problems


def load_sources(paths: list[Path]) -> pd.DataFrame:
    """The sources registries beside the data files, plus the project's own."""
    frames = []
    seen = set()
    for base in [*(p.parent for p in paths), *_paths.default_data_dirs()]:
        f = (base / "sources.csv").resolve()
        if f in seen or not f.is_file():
            continue
        seen.add(f)
        s = pd.read_csv(f, dtype=str, keep_default_na=False)
        s["registry"] = str(f)
        frames.append(s)
    if not frames:
        return pd.DataFrame(columns=["id", "title", "file", "sha256", "registry"])
    return pd.concat(frames, ignore_index=True).drop_duplicates("id")


def load_regions(paths: list[Path]) -> dict[str, dict]:
    """Parent regions from ``regions.csv`` files beside the data (region,parent)."""
    found: dict[str, dict] = {}
    for base in {p.parent for p in paths}:
        f = base / "regions.csv"
        if f.is_file():
            r = pd.read_csv(f, dtype=str, keep_default_na=False)
            if {"region", "parent"} <= set(r.columns):
                en = r["en"] if "en" in r.columns else [""] * len(r)
                found.update({a: {"parent": b, **({"en": e} if e else {})} for a, b, e in zip(r["region"], r["parent"], en)
                              if b or e})
    return found
