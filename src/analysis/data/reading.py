"""Reading observation files and the registries beside them: bytes → a frame of strings.

CSV in UTF-8 (with or without BOM), GBK or GB18030, or .xlsx; every problem is a
:class:`~analysis.errors.Problem` located to its file, row and column. Nothing here interprets a
value: that is :mod:`analysis.data.validation`. The registries beside the data — ``sources.csv``
here, ``regions.csv`` in :mod:`analysis.data.regions` — are read by the same reader (encodings,
header names with did-you-mean, spreadsheet row numbers).
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


def _gb_family(encoding: str) -> bool:
    return encoding.replace("_", "").lower() in {"gb2312", "gbk", "gb18030", "hz", "cp936"}


def _decode(raw: bytes, name: str) -> tuple[str | None, str, list[Problem]]:
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        kind = "an .xlsx/.zip workbook" if raw.startswith(b"PK") else "binary content"
        return None, "", [Problem(name, None, None, f"a CSV text file in {ACCEPTED_ENCODINGS}",
                                  kind, "save it as CSV, or give the workbook an .xlsx name")]
    try:
        return raw.decode("utf-8-sig"), "UTF-8-BOM" if raw.startswith(b"\xef\xbb\xbf") else "UTF-8", []
    except UnicodeDecodeError as exc:
        utf8_error = exc
    matches = from_bytes(raw)
    best = matches.best()
    guess = best.encoding if best is not None else None
    # Chinese Excel saves GBK; GB18030 is its superset, so decode every GB-family guess with it. A short
    # file of a few Chinese names reads as well in Korean cp949 as in GB: prefer GB when it fits as well.
    gb = next((m for m in matches if _gb_family(m.encoding)), None)
    if gb is not None and best is not None and gb.chaos <= best.chaos:
        guess = gb.encoding
    if guess and _gb_family(guess):
        try:
            return raw.decode("gb18030"), "GB18030" if guess.lower() == "gb18030" else "GBK", []
        except UnicodeDecodeError:
            pass
    found = f"bytes that are not valid UTF-8 (byte 0x{raw[utf8_error.start]:02x} at offset {utf8_error.start})"
    if guess:
        found += f" and look like {guess}"
    return None, "", [Problem(name, None, None, f"text in {ACCEPTED_ENCODINGS}", found,
                              "re-save the file as UTF-8 or GBK CSV")]


def _read_csv(path: Path, required: list[str] = REQUIRED) -> ReadResult:
    name = _short(path)
    raw = path.read_bytes()
    if not raw.strip():
        return ReadResult(None, "", [Problem(name, None, None, "a header row with columns " + ", ".join(required), "an empty file")])
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


def read_table(path: str | os.PathLike, *, what: str = "an observations file (.csv or .xlsx)",
               required: list[str] = REQUIRED) -> ReadResult:
    """Read one observations file (or a registry: ``what`` and ``required`` word its messages) into a
    frame of strings indexed by spreadsheet row (the header is row 1)."""
    p = Path(path)
    if not p.is_file():
        return ReadResult(None, "", [Problem(_short(p), None, None, what, "no such file")])
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(p)
    return _read_csv(p, required)


def _normalise_header(frame: pd.DataFrame, name: str, columns: list[str] = COLUMNS, required: list[str] = REQUIRED,
                      aliases: dict[str, str] = HEADER_ALIASES) -> tuple[pd.DataFrame, list[Problem]]:
    """Column names as the code knows them (Chinese headers and case accepted); an unknown column is a
    problem with the nearest known name, a missing required one a problem of the header row."""
    problems = []
    renamed = {}
    for col in frame.columns:
        key = normalize_text(str(col)).lower().lstrip("\ufeff")
        key = aliases.get(key, key)
        if key not in columns:
            near = difflib.get_close_matches(key, columns, n=1)
            problems.append(Problem(name, 1, str(col), "a known column (" + ", ".join(columns) + ")",
                                    f"unknown column {str(col)!r}", f"did you mean {near[0]!r}?" if near else ""))
        renamed[col] = key
    frame = frame.rename(columns=renamed)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        problems.append(Problem(name, 1, None, "columns " + ", ".join(required),
                                "a header without " + ", ".join(missing)))
    return frame, problems


def read_registry(path: Path, *, columns: list[str], required: list[str],
                  aliases: dict[str, str]) -> tuple[pd.DataFrame | None, list[Problem]]:
    """A registry beside the data (``sources.csv``, ``regions.csv``): every known column present (empty
    when absent), cells stripped, index = spreadsheet row; None when the file cannot be used at all."""
    name = _short(path)
    res = read_table(path, what=f"a {path.name} file", required=required)
    if res.frame is None:
        return None, res.problems
    frame, problems = _normalise_header(res.frame, name, columns, required, aliases)
    problems = res.problems + problems
    if any(p.row == 1 and p.column is None for p in problems):   # a required column is missing
        return None, problems
    frame = frame.loc[:, ~frame.columns.duplicated()]
    present = [c for c in columns if c in frame.columns]
    for c in columns:
        frame[c] = frame[c].fillna("").astype(str).str.strip() if c in frame.columns else ""
    frame = frame[columns]
    frame.attrs["present"] = present     # the columns the header named (the others are filled with "")
    return frame, problems


#: columns of ``sources.csv``: ``id`` required; ``file`` a snapshot relative to the folder of that sources.csv
SOURCE_COLUMNS = ["id", "title", "publisher", "date", "url", "file", "sha256", "note"]
SOURCE_REQUIRED = ["id"]
SOURCE_HEADER_ALIASES = {"编号": "id", "来源": "id", "标题": "title", "题名": "title", "发布者": "publisher",
                         "发布机构": "publisher", "日期": "date", "发布日期": "date", "网址": "url", "链接": "url",
                         "文件": "file", "快照": "file", "备注": "note", "说明": "note"}


def _registries(paths: list[Path], filename: str) -> list[Path]:
    """``filename`` beside each data file, then the project's own (data/): each once, those that exist."""
    out: dict[Path, None] = {}
    for base in [*(Path(p).parent for p in paths), *_paths.default_data_dirs()]:
        f = (base / filename)
        if f.is_file():
            out.setdefault(f.resolve(), None)
    return list(out)


def read_sources(paths: list[Path]) -> tuple[pd.DataFrame, list[Problem]]:
    """The sources registries beside the data files, plus the project's own, and every problem in them.

    A source listed beside the data overrides the project's row of the same id. Columns:
    :data:`SOURCE_COLUMNS`, ``registry`` (the sources.csv it comes from), ``row`` and ``path`` (the
    snapshot's absolute path, "" when the source has none). Problems: no ``id`` column, an empty or
    duplicated id, a ``file`` outside the folder of its sources.csv or that does not exist.
    """
    frames, problems = [], []
    for f in _registries(paths, "sources.csv"):
        name = _short(f)
        frame, pr = read_registry(f, columns=SOURCE_COLUMNS, required=SOURCE_REQUIRED, aliases=SOURCE_HEADER_ALIASES)
        problems += pr
        if frame is None:
            continue
        first: dict[str, int] = {}
        keep = []
        for row, sid in zip(frame.index, frame["id"]):
            if not sid:
                problems.append(Problem(name, int(row), "id", "a source id", "an empty cell"))
            elif sid in first:
                problems.append(Problem(name, int(row), "id", "each source id once",
                                        f"{sid!r} again (first at row {first[sid]})"))
            else:
                first[sid] = int(row)
                keep.append(row)
        frame = frame.loc[keep].copy()
        frame["path"] = [_snapshot(f, row, file, problems) for row, file in zip(frame.index, frame["file"])]
        frame["registry"] = str(f)
        frame["row"] = frame.index.astype(int)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=[*SOURCE_COLUMNS, "path", "registry", "row"]), problems
    return pd.concat(frames, ignore_index=True).drop_duplicates("id"), problems


def _snapshot(registry: Path, row, file: str, problems: list[Problem]) -> str:
    """The absolute path of a source's snapshot, which must lie inside the folder of its sources.csv."""
    if not file:
        return ""
    folder = registry.parent.resolve()
    target = (folder / file).resolve()
    if Path(file).is_absolute() or not target.is_relative_to(folder):
        problems.append(Problem(_short(registry), int(row), "file", f"a path inside {_short(folder) or '.'} (the folder of "
                                "this sources.csv)", repr(file), "copy the snapshot into that folder, e.g. raw/"))
        return ""
    if not target.is_file():
        problems.append(Problem(_short(registry), int(row), "file", "a snapshot file that exists (relative to the folder "
                                "of this sources.csv)", f"no such file {file!r}",
                                "correct the path, or leave file empty when there is no snapshot"))
        return ""
    return str(target)


def load_sources(paths: list[Path]) -> pd.DataFrame:
    """The sources registries (see :func:`read_sources`).

    Raises:
        DataError: listing every problem of the registries.
    """
    from ..errors import DataError
    frame, problems = read_sources(paths)
    if problems:
        raise DataError(problems)
    return frame
