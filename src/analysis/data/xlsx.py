"""One sheet of an .xlsx workbook as rows of text: every cell as the spreadsheet shows it, bounded.

An .xlsx is a zip of XML parts. :mod:`analysis.data.reading` checks the zip's declared sizes
first (:data:`~analysis.limits.MAX_XLSX_UNCOMPRESSED_BYTES`, :data:`~analysis.limits.MAX_XLSX_RATIO`);
here the parts are streamed through expat, once:

- ``_rels/.rels`` and ``xl/_rels/workbook.xml.rels``: where the workbook, its sheets, shared
  strings and styles are;
- ``xl/workbook.xml``: the sheets' names, in order, and the date system (1900 or 1904);
- ``xl/styles.xml``: each cell style's number format (openpyxl's table of the built-in ones);
- ``xl/sharedStrings.xml``: the text of cells that share it (phonetic runs left out);
- the chosen sheet: its cells, rows and merged ranges.

Why by hand rather than through ``openpyxl.load_workbook(read_only=True)`` (which pandas uses):
measured on a 1.1 MB workbook of 8 000 rows × 14 columns, openpyxl took 4.3 s to hand over the
cells with their number formats, this reader 0.9 s; openpyxl's read-only rows are padded to the
sheet's declared width (a cell in column XFD makes every row 16 384 cells long) or cut at a width
given to it, so a cell far to the right is either a hang or silently lost — here every cell is seen
with its column and the work is bounded by the bytes of the sheet. A DOCTYPE (entity expansion)
is refused outright. openpyxl still supplies the table of built-in number formats, the test for
date formats and Excel's date serials.

Also seen here and refused by the reader: cells far right of the data
(:data:`~analysis.limits.MAX_DATA_COLUMNS`), more rows than :data:`~analysis.limits.MAX_DATA_ROWS`,
formulas saved without their value, and merged cells in the data rows (only the first cell of a
merged range holds the value; the others would read as empty).
"""
from __future__ import annotations

import math
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from xml.parsers import expat

from .. import limits

#: bytes of the parts read whole (relationships, workbook, styles): real ones have kilobytes
MAX_META_PART_BYTES = 16 * 2**20
_CHUNK = 1 << 20
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
#: the built-in number formats of Chinese Excel that show dates (27–36, 50–58) besides the common 14–22, 45–47
_LOCAL_DATE_IDS = set(range(27, 37)) | set(range(50, 59))


class WorkbookError(Exception):
    """Raised when a workbook cannot be read as data: ``expected``/``found`` word the message,
    ``row``/``column`` (a spreadsheet row and column letter) place it when they apply."""

    def __init__(self, expected: str, found: str, hint: str = "", row: int | None = None,
                 column: str | None = None):
        super().__init__(f"expected {expected}, found {found}")
        self.expected, self.found, self.hint, self.row, self.column = expected, found, hint, row, column


# ------------------------------------------------------------------ streaming XML, no DTD

def _refuse_dtd(*_args):
    raise WorkbookError("XML without a DOCTYPE (a workbook has none)", "a DOCTYPE declaration",
                        "entity declarations can expand a few bytes into gigabytes")


def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _stream(z: zipfile.ZipFile, member: str, start=None, end=None, chars=None, *, max_bytes: int | None = None) -> None:
    """Feed one part of the zip through expat with the given handlers (names without prefix)."""
    info = z.getinfo(member)
    if max_bytes is not None and info.file_size > max_bytes:
        raise WorkbookError(f"a part {member} of at most {max_bytes} bytes", f"{info.file_size} bytes")
    p = expat.ParserCreate()
    p.buffer_text = True
    p.StartDoctypeDeclHandler = _refuse_dtd
    p.EntityDeclHandler = _refuse_dtd
    if start:
        p.StartElementHandler = start
    if end:
        p.EndElementHandler = end
    if chars:
        p.CharacterDataHandler = chars
    try:
        with z.open(info) as f:
            while chunk := f.read(_CHUNK):
                p.Parse(chunk, False)
            p.Parse(b"", True)
    except expat.ExpatError as exc:
        raise WorkbookError(f"well-formed XML in {member}", f"{expat.errors.messages[exc.code]} at line {exc.lineno}")\
            from None


def _relationships(z: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Id → (type, target path inside the zip) of the relationships of ``part``."""
    folder, name = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    out: dict[str, tuple[str, str]] = {}
    if rels not in z.NameToInfo:
        return out

    def start(tag, attrs):
        if _local(tag) == "Relationship" and attrs.get("TargetMode") != "External":
            target = attrs.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            out[attrs.get("Id", "")] = (attrs.get("Type", "").rpartition("/")[2], path)
    _stream(z, rels, start, max_bytes=MAX_META_PART_BYTES)
    return out


# ------------------------------------------------------------------ the workbook

@dataclass
class Workbook:
    """What is needed to read a sheet: where each sheet is, the shared strings, the number format
    of each cell style, the date system."""

    zip: zipfile.ZipFile
    sheets: list[tuple[str, str, str]]      # (name, kind: worksheet/chartsheet/…, path in the zip)
    shared: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)     # cell style index → number format code
    dates: list[bool] = field(default_factory=list)      # cell style index → shows a date
    date1904: bool = False

    @property
    def names(self) -> list[str]:
        return [n for n, _, _ in self.sheets]


def open_workbook(z: zipfile.ZipFile) -> Workbook:
    """The workbook of an .xlsx zip (its sheets, shared strings and styles; no cell read yet).

    Raises:
        WorkbookError: a part is missing or not well-formed XML.
    """
    root = {t: p for t, p in _relationships(z, "").values()}
    book = root.get("officeDocument")
    if book is None or book not in z.NameToInfo:
        raise WorkbookError("an .xlsx workbook (a zip with xl/workbook.xml)", "a zip without a workbook part")
    rels = _relationships(z, book)
    sheets: list[tuple[str, str, str]] = []
    flags = {"date1904": False}

    def start(tag, attrs):
        local = _local(tag)
        if local == "sheet":
            rid = next((v for k, v in attrs.items() if _local(k) == "id" and k != "sheetId"), "")
            kind, path = rels.get(rid, ("", ""))
            sheets.append((attrs.get("name", ""), kind, path))
        elif local == "workbookPr":
            flags["date1904"] = attrs.get("date1904", "0").lower() in ("1", "true")
    _stream(z, book, start, max_bytes=MAX_META_PART_BYTES)
    wb = Workbook(z, sheets, date1904=flags["date1904"])
    by_type = {t: p for t, p in rels.values()}
    if by_type.get("sharedStrings") in z.NameToInfo:
        wb.shared = _shared_strings(z, by_type["sharedStrings"])
    if by_type.get("styles") in z.NameToInfo:
        wb.formats, wb.dates = _styles(z, by_type["styles"])
    return wb


def _shared_strings(z: zipfile.ZipFile, part: str) -> list[str]:
    """The shared strings: each ``<si>``'s text runs, phonetic guides (``<rPh>``) left out."""
    out: list[str] = []
    buf: list[str] = []
    state = {"text": False, "phonetic": 0}

    def start(tag, attrs):
        local = _local(tag)
        if local == "t" and not state["phonetic"]:
            state["text"] = True
        elif local == "rPh":
            state["phonetic"] += 1
        elif local == "si":
            buf.clear()

    def end(tag):
        local = _local(tag)
        if local == "t":
            state["text"] = False
        elif local == "rPh":
            state["phonetic"] -= 1
        elif local == "si":
            out.append("".join(buf))

    def chars(data):
        if state["text"]:
            buf.append(data)
    _stream(z, part, start, end, chars)
    return out


def _styles(z: zipfile.ZipFile, part: str) -> tuple[list[str], list[bool]]:
    """Each cell style's (``cellXfs``) number format code, and whether it shows a date."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
    custom: dict[int, str] = {}
    ids: list[int] = []
    state = {"xfs": False}

    def start(tag, attrs):
        local = _local(tag)
        if local == "numFmt":
            custom[_int(attrs.get("numFmtId"))] = attrs.get("formatCode", "General")
        elif local == "cellXfs":
            state["xfs"] = True
        elif local == "xf" and state["xfs"]:
            ids.append(_int(attrs.get("numFmtId")))

    def end(tag):
        if _local(tag) == "cellXfs":
            state["xfs"] = False
    _stream(z, part, start, end, max_bytes=MAX_META_PART_BYTES)
    formats, dates = [], []
    for i in ids:
        code = custom.get(i) or BUILTIN_FORMATS.get(i) or "General"
        formats.append(code)
        dates.append((i in _LOCAL_DATE_IDS and i not in custom) or _is_date(code, is_date_format))
    return formats, dates


def _is_date(code: str, is_date_format) -> bool:
    try:
        return bool(is_date_format(code))
    except (TypeError, ValueError, re.error):
        return False


def _int(text) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


# ------------------------------------------------------------------ a sheet

_REF = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


def column_letter(index: int) -> str:
    """1 → A, 27 → AA."""
    out = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


@dataclass
class Sheet:
    """The non-empty rows of a sheet: (spreadsheet row, {column index: text}), and its merged ranges."""

    rows: list[tuple[int, dict[int, str]]]
    merged: list[tuple[str, int, int]]        # (ref, first row, last row)
    formulas_without_value: list[tuple[int, int]]


def read_sheet(wb: Workbook, name: str) -> Sheet:
    """The cells of sheet ``name`` as the spreadsheet shows them (:func:`cell_text`).

    Raises:
        WorkbookError: a chart sheet, a part that is missing or broken, a non-empty cell right of
            column :data:`~analysis.limits.MAX_DATA_COLUMNS`, more than
            :data:`~analysis.limits.MAX_DATA_ROWS` rows.
    """
    kind, part = next((k, p) for n, k, p in wb.sheets if n == name)
    if kind != "worksheet":
        raise WorkbookError("a sheet of cells", f"{name!r}, a {kind or 'part that is not a worksheet'}")
    if part not in wb.zip.NameToInfo:
        raise WorkbookError(f"the part {part} of sheet {name!r}", "a workbook without it")
    rows: list[tuple[int, dict[int, str]]] = []
    merged: list[tuple[str, int, int]] = []
    no_value: list[tuple[int, int]] = []
    shared, formats, dates = wb.shared, wb.formats, wb.dates
    epoch = _epoch(wb.date1904)
    max_cols, max_rows = limits.MAX_DATA_COLUMNS, limits.MAX_DATA_ROWS
    st = {"row": 0, "col": 0, "type": "n", "style": 0, "f": False, "collect": False, "is": False, "rph": 0}
    cells: dict[int, str] = {}
    buf: list[str] = []

    def start(tag, attrs):
        local = _local(tag)
        if local == "c":
            ref = attrs.get("r")
            m = _REF.match(ref) if ref else None
            st["col"] = _column_index(m[1]) if m else st["col"] + 1
            st["type"] = attrs.get("t", "n")
            st["style"] = _int(attrs.get("s"))
            st["f"] = False
            buf.clear()
        elif local == "v":
            st["collect"] = True
        elif local == "t":
            st["collect"] = st["is"] and not st["rph"]
        elif local == "is":
            st["is"] = True
        elif local == "rPh":
            st["rph"] += 1
        elif local == "f":
            st["f"] = True
        elif local == "row":
            r = attrs.get("r")
            n = _int(r) if r else st["row"] + 1
            if n <= st["row"]:
                raise WorkbookError("rows in order", f"row {n} after row {st['row']}", row=n)
            st["row"], st["col"] = n, 0
            cells.clear()
        elif local == "mergeCell":
            ref = attrs.get("ref", "")
            first, _, last = ref.partition(":")
            a, b = _REF.match(first), _REF.match(last or first)
            if a and b:
                merged.append((ref, int(a[2]), int(b[2])))

    def end(tag):
        local = _local(tag)
        if local in ("v", "t"):
            st["collect"] = False
        elif local == "is":
            st["is"] = False
        elif local == "rPh":
            st["rph"] -= 1
        elif local == "c":
            raw = "".join(buf)
            t = st["type"]
            if raw == "" and t != "inlineStr":
                if st["f"]:
                    no_value.append((st["row"], st["col"]))
                return
            style = st["style"]
            if t == "s":
                i = _int(raw)
                text = shared[i] if 0 <= i < len(shared) else ""
                if not 0 <= i < len(shared):
                    raise WorkbookError("a shared string that exists", f"string number {raw!r} of {len(shared)}",
                                        row=st["row"], column=column_letter(st["col"]))
            elif t == "n":
                value = _number(raw)
                if isinstance(value, str):
                    text = value
                elif style < len(dates) and dates[style] and math.isfinite(value):
                    text = _date_text(value, epoch)
                else:
                    text = cell_text(value, formats[style] if style < len(formats) else "General")
            elif t == "b":
                text = "TRUE" if raw.strip() in ("1", "true") else "FALSE"
            else:                      # inlineStr, str (a formula's text), e (#DIV/0!), d (an ISO date)
                text = raw
            if text == "":
                return
            col = st["col"]
            if col > max_cols:
                raise WorkbookError(f"data in the first {max_cols} columns", f"a cell in column {column_letter(col)}",
                                    "delete what is right of the data", row=st["row"], column=column_letter(col))
            if col in cells:
                raise WorkbookError("each cell once", f"cell {column_letter(col)}{st['row']} twice", row=st["row"])
            cells[col] = text
        elif local == "row":
            if cells:
                rows.append((st["row"], dict(cells)))
                if len(rows) > max_rows + 1:
                    raise WorkbookError(f"at most {max_rows} data rows", "more", "split the data into several files")

    def chars(data):
        if st["collect"]:
            buf.append(data)
    _stream(wb.zip, part, start, end, chars)
    return Sheet(rows, merged, no_value)


def _number(raw: str) -> float | int | str:
    """A numeric cell's stored value; text that is not a number stays text (the validator says so)."""
    s = raw.strip()
    try:
        if re.fullmatch(r"[+-]?\d+", s):
            if len(s) > 400:            # Python converts at most 4 300 digits; any over 309 is infinite anyway
                return math.inf if not s.startswith("-") else -math.inf
            return int(s)
        return float(s)
    except ValueError:
        return raw


def _epoch(date1904: bool):
    from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900
    return CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900


def _date_text(value: float, epoch) -> str:
    """A date serial as the ISO date (and time when it has one) it shows."""
    from openpyxl.utils.datetime import from_excel
    try:
        d = from_excel(value, epoch)
    except (OverflowError, ValueError, TypeError):
        return f"#DATE({value})"
    return d.isoformat(sep=" ") if hasattr(d, "isoformat") else str(d)


# ------------------------------------------------------------------ numbers as the spreadsheet shows them

_QUOTED = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')   # literals, escapes, [colour]/[>=100], padding, fill
#: 15 significant digits (all Excel keeps); wide enough to write out any float in full
_EXCEL = Context(prec=15)
_WIDE = Context(prec=800, Emax=10**6, Emin=-10**6)


def _format_section(fmt: str, value: float) -> str:
    """The section of a number format that applies to ``value`` (positive;negative;zero;text)."""
    sections, buf, quoted = [], "", False
    for ch in fmt:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            sections.append(buf)
            buf = ""
        else:
            buf += ch
    sections.append(buf)
    if value < 0 and len(sections) > 1:
        return sections[1]
    if value == 0 and len(sections) > 2:
        return sections[2]
    return sections[0]


def cell_text(value, number_format: str | None) -> str:
    """A number as its spreadsheet shows it, as text for the validator.

    - a percent format (``0%``, ``0.0%``): the value ×100 and ``%`` — a cell showing 10% (stored 0.1)
      is read as ``10%``, never 0.1 %;
    - a fixed number of decimals (``0.0``, ``#,##0.00``): rounded to them, half away from zero as
      Excel rounds, so a stored 0.30000000000000004 shown as 0.3 is read as 0.3 with the precision
      it was published with; a format that shows thousands (``#,##0,``) divides as shown;
    - scientific (``0.00E+00``): rounded to the significant digits shown, written out in full;
    - General: 15 significant digits (all Excel keeps), so binary artefacts go;
    - not finite (what a 400-digit number becomes): ``inf``/``nan``, which the validator refuses
      with the cell's place.

    Text is itself; booleans are ``TRUE``/``FALSE``.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("-inf" if value < 0 else "inf")
    fmt = _QUOTED.sub("", _format_section(number_format or "General", value))
    if not fmt or fmt.lower().startswith("general") or not any(ch in fmt for ch in "0#?"):
        return _plain(_decimal(value))
    percent = "%" in fmt
    number = fmt.replace("%", "")
    sci = re.search(r"[eE][+-]", number)
    mantissa = number[:sci.start()] if sci else number
    decimals = len(re.findall(r"[0#?]", mantissa.split(".", 1)[1])) if "." in mantissa else 0
    d = _decimal(value)
    if percent:
        d = _WIDE.multiply(d, Decimal(100) ** fmt.count("%"))
    scale = len(re.search(r",*$", mantissa.split(".", 1)[0].rstrip()).group()) if not sci else 0
    if scale:
        d = _WIDE.divide(d, Decimal(1000) ** scale)
    if sci and d != 0:   # the significant digits shown, written out: 1.23E+05 → 123000
        step = Decimal(1).scaleb(d.adjusted() - decimals)
        text = _plain(_WIDE.multiply(_WIDE.divide(d, step).quantize(Decimal(1), rounding=ROUND_HALF_UP,
                                                                     context=_WIDE), step))
    elif sci:
        text = "0"
    else:
        text = format(d.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP, context=_WIDE), "f")
    return text + ("%" if percent else "")


def _decimal(value: int | float) -> Decimal:
    """The value with at most 15 significant digits (Excel keeps no more)."""
    return _EXCEL.plus(Decimal(value)) if isinstance(value, int) else Decimal(f"{value:.15g}")


def _plain(d: Decimal) -> str:
    """A decimal written out without exponent or trailing zeros after the point (4000, 0.3)."""
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
