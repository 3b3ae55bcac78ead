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
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
from charset_normalizer import from_bytes

from .. import limits
from .. import paths as _paths
from ..errors import Problem
from ..numbers import normalize_text
from .xlsx import Workbook, WorkbookError, column_letter, open_workbook, read_sheet

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
#: control characters: none in names and codes; tab and line breaks allowed in quotes and notes
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


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
    nul = raw.find(b"\x00", 0, 4096)
    if nul >= 0 and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        line = raw.count(b"\n", 0, nul) + 1
        kind = "an .xlsx/.zip workbook" if raw.startswith(b"PK") else f"binary content (a NUL byte in line {line})"
        return None, "", [Problem(name, None, None, f"a CSV text file in {ACCEPTED_ENCODINGS}",
                                  kind, "save it as CSV, or give the workbook an .xlsx name")]
    try:
        return raw.decode("utf-8-sig"), "UTF-8-BOM" if raw.startswith(b"\xef\xbb\xbf") else "UTF-8", []
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if raw.startswith(b"\xef\xbb\xbf"):   # says UTF-8, is not: a file pieced together from two encodings
        return None, "", [Problem(name, None, None, f"text in {ACCEPTED_ENCODINGS}",
                                  f"a UTF-8 byte-order mark followed by bytes that are not UTF-8 (byte "
                                  f"0x{raw[utf8_error.start]:02x} at offset {utf8_error.start})",
                                  "re-save the file as UTF-8 or GBK CSV")]
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


# ------------------------------------------------------------------ opening: regular files within bounds

def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "no regular file"


def open_regular(path: Path, name: str, what: str, max_bytes: int) -> tuple[BinaryIO | None, Problem | None]:
    """A regular file opened for reading, or the problem that keeps it from being read.

    Only regular files of at most ``max_bytes`` bytes pass: a FIFO given as data would block the
    reader until some writer appears (forever, under cron), a device may never end. The file is
    opened without blocking and checked again on the open descriptor, so one swapped for a FIFO
    between the two looks is refused too.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None, Problem(name, None, None, what, "no such file")
    except OSError as exc:
        return None, Problem(name, None, None, what, f"a file that cannot be read ({exc.strerror})")
    if not stat.S_ISREG(st.st_mode):
        return None, Problem(name, None, None, what, _kind_of(st.st_mode))
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        return None, Problem(name, None, None, what, f"a file that cannot be read ({exc.strerror})")
    f = os.fdopen(fd, "rb")
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        f.close()
        return None, Problem(name, None, None, what, _kind_of(st.st_mode))
    if st.st_size > max_bytes:
        f.close()
        return None, Problem(name, None, None, f"{what} of at most {_size(max_bytes)}",
                             f"{_size(st.st_size)}", "split it into several files" if max_bytes >= 2**20 else "")
    return f, None


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MB ({n} bytes)" if n >= 2**20 else f"{n} bytes"


def read_bounded(path: Path, name: str, what: str, max_bytes: int) -> tuple[bytes | None, Problem | None]:
    """The bytes of a regular file of at most ``max_bytes`` bytes (see :func:`open_regular`)."""
    f, problem = open_regular(path, name, what, max_bytes)
    if f is None:
        return None, problem
    try:
        with f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        return None, Problem(name, None, None, what, f"a file that cannot be read ({exc.strerror})")
    if len(data) > max_bytes:  # grew since it was looked at
        return None, Problem(name, None, None, f"{what} of at most {_size(max_bytes)}", "more")
    return data, None


# ------------------------------------------------------------------ CSV

#: a byte that ``bytes.strip()`` keeps (not ASCII whitespace)
_NOT_BLANK = re.compile(rb"[^ \t\n\r\x0b\x0c]")


def _read_csv(path: Path, required: list[str] = REQUIRED, what: str = "a CSV file") -> ReadResult:
    name = _short(path)
    raw, problem = read_bounded(path, name, what, limits.MAX_DATA_FILE_BYTES)
    if raw is None:
        return ReadResult(None, "", [problem])
    if _NOT_BLANK.search(raw) is None:   # only whitespace (raw.strip() would copy a file of 100 MB to say so)
        return ReadResult(None, "", [Problem(name, None, None, "a header row with columns " + ", ".join(required), "an empty file")])
    text, encoding, problems = _decode(raw, name)
    # the file's own bytes are the UTF-8 of the text (after a byte-order mark): the fast reader takes them
    # as they are (encoding a million rows again costs a pass and a copy); other encodings are dropped
    utf8 = (memoryview(raw)[3:] if encoding == "UTF-8-BOM" else raw) if encoding in ("UTF-8", "UTF-8-BOM") else None
    del raw
    if text is None:
        return ReadResult(None, "", problems)
    head = text[:65536].lstrip("\ufeff\r\n \t")
    header_line = head.split("\n", 1)[0]
    if "," not in header_line:
        for delim, label in ((";", "';'"), ("\t", "tabs"), ("|", "'|'"), ("，", "full-width '，'")):
            if delim in header_line:
                return ReadResult(None, encoding, [Problem(name, 1, None, "comma-separated columns", f"columns separated by {label}", "export the sheet as CSV (comma delimited)")])
    fast = _read_csv_fast(text, name, utf8)
    del utf8
    if fast is not None:
        return ReadResult(fast, encoding, problems + _long_cells(fast, name))
    reader = csv.reader(io.StringIO(text), strict=True)
    header: list[str] | None = None
    header_row = 0
    width = 0
    good, numbers = [], []
    n = rows = 0
    try:
        for n, r in enumerate(reader, start=1):
            if not any(c.strip() for c in r):   # blank rows (and blank lines before the header) are skipped
                continue
            if header is None:
                header, header_row, width = r, n, len(r)
                if width > limits.MAX_DATA_COLUMNS:
                    return ReadResult(None, encoding, [Problem(name, n, None, f"at most {limits.MAX_DATA_COLUMNS} columns",
                                                               f"{width} columns")])
                continue
            rows += 1
            if rows > limits.MAX_DATA_ROWS:
                return ReadResult(None, encoding, [Problem(name, None, None, f"at most {limits.MAX_DATA_ROWS} data rows",
                                                           "more", "split the data into several files")])
            if len(r) != width:
                problems.append(Problem(name, n, None, f"{width} fields like the header", f"{len(r)} fields",
                                        "check for an unquoted comma"))
                continue
            good.append(r)
            numbers.append(n)
    except csv.Error as exc:
        row = n + 1
        if "field larger than field limit" in str(exc):
            return ReadResult(None, encoding, [Problem(name, row, None, f"cells of at most {limits.MAX_CELL_CHARS} "
                                                       f"characters", f"one of more than {csv.field_size_limit()}")])
        return ReadResult(None, encoding, [Problem(name, row, None, "well-formed CSV", str(exc),
                                                   "a quote (\") opened in a cell is never closed" if "end of data" in str(exc) else "")])
    if header is None:
        return ReadResult(None, encoding, [Problem(name, None, None, "a header row with columns " + ", ".join(required),
                                                   "only blank lines")])
    if header_row != 1:
        problems.append(Problem(name, header_row, None, "the header in the first row", f"{header_row - 1} blank "
                                f"line{'s' if header_row > 2 else ''} before it", "delete the blank lines"))
    frame = pd.DataFrame(good, columns=header, dtype=object)
    frame.index = numbers
    return ReadResult(frame, encoding, problems + _long_cells(frame, name))


def _read_csv_fast(text: str, name: str, utf8=None) -> pd.DataFrame | None:
    """The frame of a plain CSV read by pandas' C parser (seconds for a million rows, where the csv
    module takes tens), or None when the file is not plain: quotes, NUL bytes, a blank or short row,
    a row with extra fields, too many rows, columns or characters in a cell. Those files go through
    the csv module, which locates every such problem to its row; for plain files both give the same
    frame (strings, index = row number with the header as row 1). ``utf8``: the text's UTF-8 bytes when
    the caller has them (the file's bytes)."""
    if '"' in text or "\x00" in text or ("\r" in text and "\r" in text.replace("\r\n", "\n")):
        return None
    end = text.find("\n")
    first = text if end < 0 else text[:end]
    if not first.strip() or not any(c.strip() for c in first.split(",")):
        return None
    import pyarrow as pa
    from pyarrow import csv as pa_csv
    if utf8 is None:
        buf = pa.py_buffer(text.rstrip("\n").encode("utf-8"))
    else:
        buf = pa.py_buffer(utf8)
        end = len(buf)
        while end and utf8[end - 1] == 10:    # trailing line breaks, as text.rstrip("\n")
            end -= 1
        buf = buf.slice(0, end)
    width = first.count(",") + 1
    names = [f"c{i}" for i in range(width)]
    # Arrow refuses a line with other than the header's number of fields (without quotes: its commas + 1);
    # a blank line becomes a row of empty cells, found below
    try:   # Arrow's reader: threads, and strings straight into the Arrow columns pandas uses (large_string:
        # pandas' own string type, so no conversion)
        table = pa_csv.read_csv(pa.BufferReader(buf), read_options=pa_csv.ReadOptions(column_names=names),
                                parse_options=pa_csv.ParseOptions(quote_char=False, ignore_empty_lines=False),
                                convert_options=pa_csv.ConvertOptions(column_types={c: pa.large_string() for c in names},
                                                                      strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, ValueError):
        return None
    del buf
    frame = table.to_pandas()
    del table
    if len(frame) < 2 or frame.shape[1] > limits.MAX_DATA_COLUMNS or len(frame) - 1 > limits.MAX_DATA_ROWS:
        return None
    if frame.isna().to_numpy().any():     # a short row or a blank line
        return None
    blank = np.arange(len(frame))          # rows whose cells so far are all empty (after stripping)
    for c in frame.columns:
        col = frame[c]
        if longest_cell(col) > csv.field_size_limit() and (col.str.len() > csv.field_size_limit()).any():
            return None
        if len(blank):                     # only the rows still blank are looked at (usually none after one column)
            blank = blank[(col.iloc[blank].str.strip() == "").to_numpy(bool)]
    if len(blank):                         # a row of empty cells: the csv path skips it and says so
        return None
    header = [str(x) for x in frame.iloc[0]]
    frame = frame.iloc[1:]
    frame.columns = header
    frame.index = range(2, len(frame) + 2)
    return frame


def arrow_chunks(col: pd.Series) -> list | None:
    """The Arrow string arrays behind a column of strings (no copy), or None when it is not Arrow-backed."""
    import pyarrow as pa
    if not isinstance(col.array, pd.arrays.ArrowExtensionArray):
        return None
    arr = pa.array(col.array)
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    return chunks if all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunks) else None


def longest_cell(col: pd.Series) -> float:
    """An upper bound of the characters of a column's longest cell: its UTF-8 bytes, read from the Arrow
    offsets without touching the text (infinite when the column is not Arrow strings)."""
    import pyarrow.compute as pc
    chunks = arrow_chunks(col)
    if chunks is None:
        return np.inf
    return max([pc.max(pc.binary_length(c)).as_py() or 0 for c in chunks] or [0])


def _long_cells(frame: pd.DataFrame, name: str) -> list[Problem]:
    """Cells longer than :data:`~analysis.limits.MAX_CELL_CHARS` (counted column by column)."""
    out = []
    for i in range(frame.shape[1]):
        col = frame.iloc[:, i]
        if longest_cell(col) <= limits.MAX_CELL_CHARS:
            continue
        lengths = col.str.len()
        for row in col.index[lengths.to_numpy(dtype=float, na_value=0) > limits.MAX_CELL_CHARS]:
            out.append(Problem(name, int(row), str(frame.columns[i]) or None,
                               f"a cell of at most {limits.MAX_CELL_CHARS} characters", f"{len(col[row])} characters"))
    return out


# ------------------------------------------------------------------ .xlsx

def _check_zip(z: zipfile.ZipFile, name: str) -> Problem | None:
    """The workbook's parts as its zip directory declares them, before any is decompressed."""
    infos = z.infolist()
    what = "an .xlsx workbook"
    if len(infos) > limits.MAX_XLSX_PARTS:
        return Problem(name, None, None, f"{what} of at most {limits.MAX_XLSX_PARTS} parts", f"{len(infos)} parts")
    total = sum(i.file_size for i in infos)
    if total > limits.MAX_XLSX_UNCOMPRESSED_BYTES:
        return Problem(name, None, None, f"{what} of at most {_size(limits.MAX_XLSX_UNCOMPRESSED_BYTES)} decompressed",
                       f"{_size(total)} declared by its parts", "save the data as CSV, or split the workbook")
    for i in infos:
        if i.file_size > limits.XLSX_RATIO_FROM_BYTES and i.file_size > limits.MAX_XLSX_RATIO * max(i.compress_size, 1):
            return Problem(name, None, None, f"{what} whose parts inflate at most {limits.MAX_XLSX_RATIO} times",
                           f"{i.filename} inflating {i.file_size // max(i.compress_size, 1)} times "
                           f"({_size(i.compress_size)} to {_size(i.file_size)}): a zip bomb, not a spreadsheet")
    return None


def _choose_sheet(wb: Workbook, name: str, sheet: str | None) -> tuple[str | None, Problem | None]:
    """The sheet named after ``#``, else the only sheet, else the one named ``observations``."""
    names = wb.names
    listed = ", ".join(repr(n) for n in names)
    if sheet is not None:
        if sheet not in names:
            return None, Problem(name, None, None, f"a sheet named {sheet!r}", f"the sheets {listed}")
        return sheet, None
    if len(names) == 1:
        return names[0], None
    chosen = next((n for n in names if n.strip().lower() == DEFAULT_SHEET), None)
    if chosen is None:
        return None, Problem(name, None, None, f"one sheet, or a sheet named {DEFAULT_SHEET!r}, or the sheet named "
                             f"after '#' ({name}#SHEET)", f"{len(names)} sheets: {listed}" if names else "no sheet",
                             f"name the one to read, e.g. {name}#{names[0]}" if names else "")
    return chosen, None


#: the sheet read from a workbook of several sheets when none is named
DEFAULT_SHEET = "observations"


def _read_xlsx(path: Path, sheet: str | None = None) -> ReadResult:
    name = _short(path) + (f"#{sheet}" if sheet else "")
    what = "an Excel .xlsx workbook"
    f, problem = open_regular(path, name, what, limits.MAX_XLSX_BYTES)
    if f is None:
        return ReadResult(None, "", [problem])
    with f:
        try:
            parts = _declared_parts(f)
            if parts is not None and parts > limits.MAX_XLSX_PARTS:   # before zipfile builds an object per part
                return ReadResult(None, "", [Problem(name, None, None, f"an .xlsx workbook of at most "
                                                     f"{limits.MAX_XLSX_PARTS} parts", f"{parts} parts")])
            with zipfile.ZipFile(f) as z:
                problem = _check_zip(z, name)
                if problem is not None:
                    return ReadResult(None, "", [problem])
                return _read_workbook(z, name, sheet)
        except WorkbookError as exc:
            column = f"column {exc.column}" if exc.column else None
            return ReadResult(None, "", [Problem(name, exc.row, column, exc.expected, exc.found, exc.hint)])
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError,
                KeyError, RuntimeError, zlib.error) as exc:
            # not a zip, a part that lies about its size (CRC), an unknown method, a password (RuntimeError)
            if isinstance(exc, RuntimeError) and "encrypted" in str(exc):
                return ReadResult(None, "", [Problem(name, None, None, what, "an encrypted one",
                                                     "save it without a password")])
            return ReadResult(None, "", [Problem(name, None, None, what,
                                                 f"a file that cannot be read ({type(exc).__name__}: {exc})")])


def _declared_parts(f: BinaryIO) -> int | None:
    """The number of parts the zip's end record declares (None when there is no such record)."""
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(max(0, size - 65_557))      # the end record (22 bytes) and a comment of at most 65 535 bytes
    tail = f.read()
    f.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 12:
        return None
    count = struct.unpack("<H", tail[at + 10:at + 12])[0]
    if count == 0xFFFF:                 # ZIP64: the count is in the ZIP64 end record
        at64 = tail.rfind(b"PK\x06\x06", 0, at)
        if at64 >= 0 and len(tail) >= at64 + 40:
            count = struct.unpack("<Q", tail[at64 + 32:at64 + 40])[0]
    return count


def _read_workbook(z: zipfile.ZipFile, name: str, sheet: str | None) -> ReadResult:
    """The chosen sheet's rows as text (:func:`analysis.data.xlsx.cell_text`), indexed by spreadsheet row."""
    wb = open_workbook(z)
    chosen, problem = _choose_sheet(wb, name, sheet)
    if chosen is None:
        return ReadResult(None, "", [problem])
    data = read_sheet(wb, chosen)
    if not data.rows:
        return ReadResult(None, "xlsx", [Problem(name, None, None, "a header row", f"an empty sheet {chosen!r}")])
    problems: list[Problem] = []
    header_row, header_cells = data.rows[0]
    width = max(header_cells)
    header = [header_cells.get(i, "") for i in range(1, width + 1)]
    if header_row != 1:
        problems.append(Problem(name, header_row, None, "the header in the first row",
                                f"{header_row - 1} blank row{'s' if header_row > 2 else ''} before it",
                                "delete the blank rows"))
    for ref, first, last in data.merged:
        if last > header_row:
            problems.append(Problem(name, max(first, header_row + 1), None, "cells that are not merged",
                                    f"the merged cells {ref}", "unmerge them and fill every cell: only the first "
                                    "cell of a merged range holds the value"))
    for row, col in data.formulas_without_value:
        problems.append(Problem(name, row, f"column {column_letter(col)}", "a value",
                                "a formula saved without its value", "open the workbook in Excel or LibreOffice and "
                                "save it, or paste the values"))
    good, numbers = [], []
    for n, cells in data.rows[1:]:
        beyond = [c for c in cells if c > width]
        if beyond:
            problems.append(Problem(name, n, None, f"cells only under the header's {width} columns",
                                    f"a cell in column {column_letter(min(beyond))}"))
            continue
        good.append([cells.get(i, "") for i in range(1, width + 1)])
        numbers.append(n)
    frame = pd.DataFrame(good, columns=header, dtype=object)
    frame.index = numbers
    return ReadResult(frame, "xlsx", problems + _long_cells(frame, name))


def read_table(path: str | os.PathLike, *, what: str = "an observations file (.csv or .xlsx)",
               required: list[str] = REQUIRED) -> ReadResult:
    """Read one observations file (or a registry: ``what`` and ``required`` word its messages) into a
    frame of strings indexed by spreadsheet row (the header is row 1).

    ``book.xlsx#Sheet2`` reads that sheet of a workbook (see :func:`analysis.paths.split_sheet`); a workbook of one
    sheet, or with a sheet named ``observations``, needs no name. Bounds (:mod:`analysis.limits`):
    regular files only, file size, data rows, columns, cell length, an .xlsx's decompressed size and
    compression ratio.
    """
    p, sheet = _paths.split_sheet(path)
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(p, sheet)
    return _read_csv(p, required, what)


def _normalise_header(frame: pd.DataFrame, name: str, columns: list[str] = COLUMNS, required: list[str] = REQUIRED,
                      aliases: dict[str, str] = HEADER_ALIASES) -> tuple[pd.DataFrame, list[Problem], bool]:
    """Column names as the code knows them (Chinese headers and case accepted); an unknown column is a
    problem with the nearest known name, a missing required one a problem of the header row, a known
    column written twice (``region`` and ``地区``) a problem naming both.

    Returns:
        the renamed frame, the problems, and whether the rows can be read at all (no required column
        missing, no known column twice).
    """
    problems = []
    renamed = []
    first: dict[str, str] = {}
    usable = True
    for col in frame.columns:
        key = normalize_text(str(col)).lower().lstrip("\ufeff")
        key = aliases.get(key, key)
        if key not in columns:
            near = difflib.get_close_matches(key, columns, n=1)
            problems.append(Problem(name, 1, str(col), "a known column (" + ", ".join(columns) + ")",
                                    f"unknown column {str(col)!r}", f"did you mean {near[0]!r}?" if near else ""))
        elif key in first:
            problems.append(Problem(name, 1, str(col), "each column once",
                                    f"{str(col)!r}, the same column as {first[key]!r}", "delete one of them"))
            usable = False
        else:
            first[key] = str(col)
        renamed.append(key)
    frame = frame.set_axis(renamed, axis=1)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        problems.append(Problem(name, 1, None, "columns " + ", ".join(required),
                                "a header without " + ", ".join(missing)))
        usable = False
    return frame, problems, usable


def read_registry(path: Path, *, columns: list[str], required: list[str],
                  aliases: dict[str, str]) -> tuple[pd.DataFrame | None, list[Problem]]:
    """A registry beside the data (``sources.csv``, ``regions.csv``): every known column present (empty
    when absent), cells stripped, index = spreadsheet row; None when the file cannot be used at all."""
    name = _short(path)
    res = read_table(path, what=f"a {path.name} file", required=required)
    if res.frame is None:
        return None, res.problems
    frame, problems, usable = _normalise_header(res.frame, name, columns, required, aliases)
    problems = res.problems + problems
    if not usable:
        return None, problems
    frame = frame.loc[:, [c in columns for c in frame.columns]]
    present = [c for c in columns if c in frame.columns]
    for c in columns:
        frame[c] = frame[c].fillna("").astype(str).str.strip() if c in frame.columns else ""
    frame = frame[columns]
    for c in present:
        rx = CONTROL_IN_TEXT if c in ("note", "title") else CONTROL
        for row, v in frame[c].items():
            if rx.search(v):
                problems.append(Problem(name, int(row), c, "text without control characters",
                                        f"{rx.search(v).group()!r} in {v[:40]!r}"))
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
        if os.path.lexists(f):   # a folder, FIFO or broken link of that name is reported by the reader
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
        kind = _kind_of(target.stat().st_mode) if target.exists() else "no such file"
        problems.append(Problem(_short(registry), int(row), "file", "a snapshot file that exists (relative to the folder "
                                "of this sources.csv)", f"{kind} {file!r}",
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
