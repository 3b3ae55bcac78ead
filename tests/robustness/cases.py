"""Bad inputs, generated: each case writes its files into a fresh folder and says how the CLI must
answer (exit code, what the message must name).

A case is a function ``build(tmp) -> Run`` registered under a class name with :func:`case`. The
groups: observation files (CSV cells, CSV files, workbooks), ``sources.csv``, ``regions.csv``,
catalogs, jobs files and report options. Files are small (a few rows of the shipped data, bombs
that are megabytes on disk) so that the whole suite runs in about a minute.
"""
from __future__ import annotations

import csv
import io
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from conftest import DATA, ROOT, SOURCE
from xlsxmake import SHEET, inline_row, parts, sheet_xml, workbook, write_zip, zip_bomb

from analysis import limits

BASE = list(csv.reader(DATA.open(encoding="utf-8")))
HEADER = BASE[0]
COL = {c: i for i, c in enumerate(HEADER)}
CATALOG = (ROOT / "data" / "catalog.yaml").read_text(encoding="utf-8")


@dataclass
class Run:
    """How to run a case and what its answer must hold."""

    args: list                     # after the command name
    command: str = "check-data"
    code: int = 1
    names: list[str] = field(default_factory=list)   # the message must contain each (file:row:column …)
    out: Path | None = None        # an output folder that must stay without report files
    limits: dict = field(default_factory=dict)       # analysis.limits values patched for this case
    seconds: float = 10.0


CASES: dict[str, tuple[str, object]] = {}


def case(group: str, name: str):
    def register(fn):
        key = f"{group}: {name}"
        assert key not in CASES, key
        CASES[key] = (group, fn)
        return fn
    return register


# ------------------------------------------------------------------ helpers

def rows(n: int | None = None) -> list[list[str]]:
    """The header and the first ``n`` data rows of the shipped data (all by default), as lists."""
    return [list(r) for r in (BASE if n is None else BASE[:n + 1])]


def row_of(unit: str | None = None, measure: str | None = None) -> int:
    """The first data row (1-based, header excluded) with this unit and/or measure."""
    return next(i for i, r in enumerate(BASE[1:], start=1)
                if (unit is None or r[COL["unit"]] == unit) and (measure is None or r[COL["measure"]] == measure))


def write_csv(path: Path, table: list[list[str]], encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(table)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def edited(tmp: Path, row: int, **cells) -> tuple[Path, str]:
    """The data with cells of one data row replaced; the file and ``obs.csv:ROW`` (its spreadsheet row)."""
    t = rows()
    for c, v in cells.items():
        t[row][COL[c]] = v
    return write_csv(tmp / "obs.csv", t), f"obs.csv:{row + 1}"


def _exact_level() -> int:
    """The first data row of an exact level (a second statement of it with another value conflicts)."""
    return next(i for i, r in enumerate(BASE[1:], start=1) if r[COL["measure"]] == "level"
                and r[COL["qualifier"]] in ("", "exact") and r[COL["entity"]] == "")


def data_copy(tmp: Path) -> Path:
    return Path(shutil.copy(DATA, tmp / "obs.csv"))


# ------------------------------------------------------------------ observation cells (CSV)

#: (class, data row chooser, cells to write, the column the message must name)
CELL_CASES = [
    ("value that is text", lambda: 1, {"value": "abc"}, "value"),
    ("value of 400 digits (inf as a float)", lambda: 1, {"value": "9" * 400}, "value"),
    ("value inf", lambda: 1, {"value": "inf"}, "value"),
    ("value nan", lambda: 1, {"value": "nan"}, "value"),
    ("value as a spreadsheet formula", lambda: 1, {"value": "=SUM(A1:A9)"}, "value"),
    ("value absurd in its base unit", lambda: row_of("亿元", "level"), {"value": "20000000"}, "value"),
    ("value a Chinese numeral of 500 digits", lambda: 1, {"value": "一" * 500}, "value"),
    ("negative count of firms", lambda: row_of("家", "level"), {"value": "-5"}, "value"),
    ("rank zero", lambda: row_of("位", "rank"), {"value": "0"}, "value"),
    ("unknown unit", lambda: 1, {"unit": "斤"}, "unit"),
    ("unit of the wrong dimension", lambda: row_of("亿元", "level"), {"unit": "万辆"}, "unit"),
    ("unit clashing with the value text", lambda: row_of("亿元", "level"), {"value": "30%"}, "unit"),
    ("unknown qualifier", lambda: 1, {"qualifier": "差不多吧"}, "qualifier"),
    ("qualifier clashing with the value text", lambda: row_of("亿元", "level"), {"value": "超4000", "qualifier": "近"},
     "qualifier"),
    ("observed figure of a future year", lambda: row_of("家", "level"), {"year": "2099"}, "year"),
    ("year out of range", lambda: 1, {"year": "2150"}, "year"),
    ("year as words", lambda: 1, {"year": "去年"}, "year"),
    ("base_year after the year", lambda: row_of("%", "growth"), {"base_year": "2030"}, "base_year"),
    ("unknown indicator", lambda: 1, {"indicator": "gpd_growht"}, "indicator"),
    ("unknown measure", lambda: 1, {"measure": "levle"}, "measure"),
    ("unknown source", lambda: 1, {"source": "S999"}, "source"),
    ("empty quote", lambda: 1, {"quote": ""}, "quote"),
    ("quote not in the source", lambda: 1, {"quote": "这句话在原文里没有"}, "quote"),
    ("empty region", lambda: 1, {"region": ""}, "region"),
    ("region of 10 000 characters", lambda: 1, {"region": "区" * 10_000}, "region"),
    ("entity of 200 characters", lambda: 1, {"entity": "企" * 200}, "entity"),
    ("NUL in a region name (past the first 4 KB)", lambda: len(BASE) - 1, {"region": "渝北\x00区"}, "region"),
    ("bell character in a quote", lambda: 1, {"quote": "规上工业\x07增加值"}, "quote"),
    ("duplicated id", lambda: 2, {"id": BASE[1][COL["id"]]}, "id"),
    ("conflicting duplicate figure", lambda: _exact_level() + 1,
     {c: BASE[_exact_level()][COL[c]] for c in HEADER if c not in ("id", "value", "quote")} | {"value": "1"}, "value"),
]

for _name, _row, _cells, _column in CELL_CASES:
    def _make(tmp, row=_row, cells=_cells, column=_column):
        f, at = edited(tmp, row(), **cells)
        return Run([f], names=[f"{at}:{column}"])
    case("data cell", _name)(_make)


@case("data cell", "bad value through the metrics command")
def _(tmp):
    f, at = edited(tmp, 1, value="9" * 400)
    return Run(["--data", f, "--region", "渝北区", "--year", "2024"], command="metrics", names=[f"{at}:value"])


# ------------------------------------------------------------------ observation files (CSV)

def _raw(name: str, data: bytes, *names: str):
    @case("data file", name)
    def _(tmp):
        f = tmp / "obs.csv"
        f.write_bytes(data)
        return Run([f], names=["obs.csv", *names])


_text = DATA.read_text(encoding="utf-8")
_raw("empty file", b"", "an empty file")
_raw("whitespace only", b"  \n\n\t\n", "an empty file")
_raw("header only", _text.splitlines()[0].encode() + b"\n", "only the header")
_rng = random.Random(1)
_raw("random binary", bytes(_rng.randrange(256) for _ in range(5000)), "binary content")
_raw("NUL byte in the second line", _text.replace("渝北区", "渝北\x00区", 1).encode(), "a NUL byte in line 2")
_raw("a PNG named .csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(2000), "binary content")
_raw("a workbook named .csv", b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(3000), ".xlsx/.zip workbook")
_raw("Latin-1 bytes", _text.encode("utf-8").replace("渝".encode(), b"\xe9\xff"), "not valid UTF-8")
_raw("UTF-16 with BOM", _text.encode("utf-16"), "obs.csv")
_raw("UTF-8 BOM then GBK bytes", b"\xef\xbb\xbf" + _text.encode("gbk"), "a UTF-8 byte-order mark followed by")
_raw("semicolon-separated", _text.replace(",", ";").encode(), "columns separated by ';'")
_raw("tab-separated", _text.replace(",", "\t").encode(), "columns separated by tabs")
_raw("unquoted comma (an extra field)", _text.replace("规上工业增加值增长超20%,", "规上工业增加值,增长超20%,", 1).encode(),
     "obs.csv:2:", "fields like the header")
_raw("quote never closed", (_text.rstrip("\n") + '\nx,"渝北区,unterminated\n').encode(), "well-formed CSV")
_raw("duplicated column", _text.replace(",note\n", ",region\n", 1).encode(), "obs.csv:1:region", "each column once")
_raw("the same column in Chinese and English", _text.replace(",note\n", ",地区\n", 1).encode(), "obs.csv:1:地区",
     "the same column as 'region'")
_raw("missing required column", "\n".join(",".join(r[:7] + r[8:]) for r in BASE).encode(), "obs.csv:1",
     "a header without value")
_raw("unknown column (a typo)", _text.replace(",quote,", ",qoute,", 1).encode(), "obs.csv:1:qoute", "did you mean 'quote'")
_raw("empty header cell (a trailing comma)", _text.replace(",note\n", ",note,\n", 1).replace("\n", ",\n").encode(),
     "obs.csv:1", "unknown column ''")
_raw("blank lines before the header", b"\n\n" + _text.encode(), "obs.csv:3", "the header in the first row")
_raw("more than 100 columns", (",".join(HEADER + [f"x{i}" for i in range(120)]) + "\n").encode(),
     "obs.csv:1", "at most 100 columns")


@case("data file", "cell longer than the cell limit")
def _(tmp):
    f, at = edited(tmp, 1, note="长" * (limits.MAX_CELL_CHARS + 1))
    return Run([f], names=[f"{at}:note", f"at most {limits.MAX_CELL_CHARS} characters"])


@case("data file", "cell longer than the csv module's field limit")
def _(tmp):
    f, at = edited(tmp, 3, note="x" * 200_000)
    return Run([f], names=[at, f"cells of at most {limits.MAX_CELL_CHARS} characters"])


@case("data file", "file over the size limit")
def _(tmp):
    return Run([data_copy(tmp)], names=["obs.csv", "of at most 1000 bytes"], limits={"MAX_DATA_FILE_BYTES": 1000})


@case("data file", "more rows than the row limit")
def _(tmp):
    return Run([data_copy(tmp)], names=["obs.csv", "at most 5 data rows"], limits={"MAX_DATA_ROWS": 5})


@case("data file", "a FIFO as --data")
def _(tmp):
    os.mkfifo(tmp / "obs.csv")
    return Run(["--data", tmp / "obs.csv"], names=["obs.csv", "a named pipe (FIFO)"])


@case("data file", "a folder as data")
def _(tmp):
    (tmp / "obs.csv").mkdir()
    return Run([tmp / "obs.csv"], names=["obs.csv", "found a folder"])


@case("data file", "a device as data")
def _(tmp):
    return Run(["/dev/zero"], names=["/dev/zero", "found a device"])


@case("data file", "no such file")
def _(tmp):
    return Run([tmp / "missing.csv"], names=["missing.csv", "no such file"])


# ------------------------------------------------------------------ workbooks

def _book(tmp: Path, table=None, **kw) -> Path:
    return workbook(tmp / "obs.xlsx", table if table is not None else rows(), **kw)


def _patched_sheet(tmp: Path, xml: bytes, table=None) -> Path:
    members = parts(_book(tmp, table))
    members[SHEET] = xml
    return write_zip(tmp / "obs.xlsx", members)


@case("workbook", "text file named .xlsx")
def _(tmp):
    (tmp / "obs.xlsx").write_text(_text, encoding="utf-8")
    return Run([tmp / "obs.xlsx"], names=["obs.xlsx", "BadZipFile"])


@case("workbook", "truncated workbook")
def _(tmp):
    f = _book(tmp)
    f.write_bytes(f.read_bytes()[:3000])
    return Run([f], names=["obs.xlsx", "expected an Excel .xlsx workbook"])


@case("workbook", "zip bomb (2 GiB declared)")
def _(tmp):
    bomb = zip_bomb(tmp / "bomb.xlsx", _book(tmp, rows(2)), mib=2048)
    return Run([bomb], names=["bomb.xlsx", "declared by its parts"], seconds=5)


@case("workbook", "zip bomb under the size limit (ratio)")
def _(tmp):
    bomb = zip_bomb(tmp / "bomb.xlsx", _book(tmp, rows(2)), mib=64)
    return Run([bomb], names=["bomb.xlsx", "a zip bomb"], seconds=5)


@case("workbook", "zip bomb that lies about its size")
def _(tmp):
    bomb = zip_bomb(tmp / "bomb.xlsx", _book(tmp, rows(2)), mib=1024, declared=5000)
    return Run([bomb], names=["bomb.xlsx", "Bad CRC-32"], seconds=5)


@case("workbook", "several sheets, none named")
def _(tmp):
    return Run([_book(tmp, sheets=["说明", "2024"])], names=["obs.xlsx", "found 2 sheets: '说明', '2024'"])


@case("workbook", "a sheet named after # that is not there")
def _(tmp):
    return Run([f"{_book(tmp)}#Sheet2"], names=["obs.xlsx#Sheet2", "expected a sheet named 'Sheet2'"])


@case("workbook", "empty sheet")
def _(tmp):
    return Run([_book(tmp, [])], names=["obs.xlsx", "an empty sheet"])


@case("workbook", "header only")
def _(tmp):
    return Run([_book(tmp, rows(0))], names=["obs.xlsx", "only the header"])


@case("workbook", "a cell in column XFD")
def _(tmp):
    xml = sheet_xml(inline_row(1, {"A": "region"}) + inline_row(2, {"A": "x", "XFD": "far away"}))
    return Run([_patched_sheet(tmp, xml)], names=["obs.xlsx:2:column XFD"])


@case("workbook", "merged cells in the data")
def _(tmp):
    return Run([_book(tmp, rows(4), merge="B3:B5")], names=["obs.xlsx:3", "the merged cells B3:B5"])


@case("workbook", "formula saved without its value")
def _(tmp):
    return Run([_book(tmp, rows(3), formulas={"H3": "=20*1"})], names=["obs.xlsx:3:column H", "a formula"])


@case("workbook", "entity declarations (billion laughs) in a sheet")
def _(tmp):
    dtd = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    return Run([_patched_sheet(tmp, sheet_xml(inline_row(1, {"A": "&b;"}), doctype=dtd))],
               names=["obs.xlsx", "XML without a DOCTYPE"])


@case("workbook", "percent cell where the unit is 亿元")
def _(tmp):
    r = row_of("亿元", "level")
    t = rows()
    t[r][COL["value"]] = 0.4
    return Run([_book(tmp, t, formats={(r + 1, COL["value"] + 1): "0%"})], names=[f"obs.xlsx:{r + 1}:unit"])


@case("workbook", "stored value 1e400 (inf)")
def _(tmp):
    xml = parts(_book(tmp, rows(2)))[SHEET].decode()
    cell = f'<c r="H2" t="inlineStr"><is><t>{BASE[1][COL["value"]]}</t></is></c>'
    assert cell in xml
    xml = xml.replace(cell, '<c r="H2"><v>1e400</v></c>')
    return Run([_patched_sheet(tmp, xml.encode(), rows(2))], names=["obs.xlsx:2:value"])


@case("workbook", "year as a date cell")
def _(tmp):
    t = rows(3)
    t[2][COL["year"]] = 2024
    return Run([_book(tmp, t, formats={(3, COL["year"] + 1): "yyyy-mm-dd"})], names=["obs.xlsx:3:year", "1905-07-16"])


@case("workbook", "boolean as a value")
def _(tmp):
    t = rows(3)
    t[2][COL["value"]] = True
    return Run([_book(tmp, t)], names=["obs.xlsx:3:value", "TRUE"])


@case("workbook", "error cell as a value")
def _(tmp):
    xml = parts(_book(tmp, rows(2)))[SHEET].decode()
    cell = f'<c r="H2" t="inlineStr"><is><t>{BASE[1][COL["value"]]}</t></is></c>'
    xml = xml.replace(cell, '<c r="H2" t="e"><v>#DIV/0!</v></c>')
    return Run([_patched_sheet(tmp, xml.encode(), rows(2))], names=["obs.xlsx:2:value", "#DIV/0!"])


@case("workbook", "shared string that does not exist")
def _(tmp):
    xml = sheet_xml(inline_row(1, {"A": "region"}) + '<row r="2"><c r="A2" t="s"><v>999</v></c></row>')
    return Run([_patched_sheet(tmp, xml)], names=["obs.xlsx:2:column A", "a shared string that exists"])


@case("workbook", "rows out of order")
def _(tmp):
    xml = sheet_xml(inline_row(3, {"A": "region"}) + inline_row(2, {"A": "x"}))
    return Run([_patched_sheet(tmp, xml)], names=["obs.xlsx:2", "rows in order"])


@case("workbook", "zip of 20 000 parts")
def _(tmp):
    import zipfile
    with zipfile.ZipFile(tmp / "obs.xlsx", "w") as z:
        for i in range(20_000):
            z.writestr(f"x/{i}", b"")
    return Run([tmp / "obs.xlsx"], names=["obs.xlsx", "at most 10000 parts, found 20000 parts"])


@case("workbook", "password-protected zip")
def _(tmp):
    data = bytearray((_book(tmp, rows(2))).read_bytes())
    at = 0
    while (at := data.find(b"PK\x01\x02", at)) >= 0:     # set the encrypted flag in every central record
        data[at + 8] |= 1
        at += 4
    (tmp / "obs.xlsx").write_bytes(bytes(data))
    return Run([tmp / "obs.xlsx"], names=["obs.xlsx", "found an encrypted one (save it without a password)"])


@case("workbook", "a FIFO named .xlsx")
def _(tmp):
    os.mkfifo(tmp / "obs.xlsx")
    return Run([tmp / "obs.xlsx"], names=["obs.xlsx", "a named pipe (FIFO)"])


# ------------------------------------------------------------------ sources.csv beside the data

def _beside(name: str, filename: str, content, *names: str, binary: bool = False):
    @case(filename, name)
    def _(tmp):
        data = data_copy(tmp)
        f = tmp / filename
        if callable(content):
            content(f)
        elif binary:
            f.write_bytes(content)
        else:
            f.write_text(content, encoding="utf-8")
        return Run([data], names=[filename, *names])


_SRC = "id,title,publisher,date,file,sha256,note,url\n"
_beside("no id column", "sources.csv", "title,publisher\nX,Y\n", "sources.csv:1", "a header without id")
_beside("binary", "sources.csv", bytes(range(256)) * 8, "binary content", binary=True)
_beside("not UTF-8 or GB", "sources.csv", (_SRC + "X1,é\n").encode("latin-1").replace(b"\xe9", b"\xe9\xff\xfe"),
        "not valid UTF-8", binary=True)
_beside("duplicated id", "sources.csv", _SRC + "X1,a,,,,,,\nX1,b,,,,,,\n", "sources.csv:3:id", "each source id once")
_beside("empty id", "sources.csv", _SRC + ",a,,,,,,\n", "sources.csv:2:id", "a source id")
_beside("file outside its folder", "sources.csv", _SRC + "X1,a,,,../../../../etc/passwd,,,\n", "sources.csv:2:file",
        "a path inside")
_beside("file that is a folder", "sources.csv", lambda f: (f.write_text(_SRC + "X1,a,,,raw,,,\n", encoding="utf-8"),
                                                          (f.parent / "raw").mkdir()), "sources.csv:2:file", "a folder")
_beside("a FIFO", "sources.csv", lambda f: os.mkfifo(f), "a named pipe (FIFO)")
_beside("duplicated column", "sources.csv", "id,title,id\nX1,a,b\n", "sources.csv:1:id", "each column once")
_beside("NUL in an id", "sources.csv", _SRC + "X\x001,a,,,,,,\n", "a NUL byte in line 2")
_beside("control character in an id", "sources.csv", _SRC + "X\x1b1,a,,,,,,\n", "sources.csv:2:id", "control characters")


@case("sources.csv", "snapshot changed since its checksum was recorded")
def _(tmp):
    data = data_copy(tmp)
    (tmp / "raw").mkdir()
    shutil.copy(SOURCE, tmp / "raw" / SOURCE.name)
    with (tmp / "raw" / SOURCE.name).open("a", encoding="utf-8") as f:
        f.write("改动")
    src = (ROOT / "data" / "sources.csv").read_text(encoding="utf-8")
    (tmp / "sources.csv").write_text(src, encoding="utf-8")
    return Run([data], names=[SOURCE.name, "the snapshot was changed"])


# ------------------------------------------------------------------ regions.csv beside the data

_REG = "region,parent,level,en,aliases,source\n"
_beside("parent cycle", "regions.csv", _REG + "甲区,乙区,区,,,\n乙区,甲区,区,,,\n", "regions.csv:2:parent", "a cycle")
_beside("own parent", "regions.csv", _REG + "甲区,甲区,区,,,\n", "regions.csv:2:parent", "other than the region itself")
_beside("duplicated region", "regions.csv", _REG + "甲区,重庆市,区,,,\n甲区,重庆市,区,,,\n", "regions.csv:3:region",
        "each region once")
_beside("alias that is another region", "regions.csv", _REG + "甲区,重庆市,区,,渝北区,\n", "regions.csv:2:aliases",
        "the name of another region")
_beside("alias of two regions", "regions.csv", _REG + "甲区,重庆市,区,,甲,\n乙区,重庆市,区,,甲,\n", "regions.csv:3:aliases",
        "also an alias of")
_beside("no parent column", "regions.csv", "region,level\n甲区,区\n", "regions.csv:1", "a header without parent")
_beside("bad encoding", "regions.csv", (_REG + "甲区,重庆市,区,,,\n").encode("utf-8").replace("甲".encode(), b"\xff\xfe"),
        "not valid UTF-8", binary=True)
_beside("empty level", "regions.csv", _REG + "甲区,重庆市,,,,\n", "regions.csv:2:level", "the region's level")
_beside("unknown source", "regions.csv", _REG + "甲区,重庆市,区,,,S404\n", "regions.csv:2:source", "a source id")
_beside("region name of 10 000 characters", "regions.csv", _REG + "区" * 10_000 + ",重庆市,区,,,\n", "regions.csv:2:region",
        "names of at most 100 characters")


# ------------------------------------------------------------------ catalogs

def _put(f, text) -> None:
    """Write a case's file: text, bytes, or a callable that makes it (a FIFO, a folder)."""
    if callable(text):
        text(f)
    elif isinstance(text, bytes):
        f.write_bytes(text)
    else:
        f.write_text(text, encoding="utf-8")


def _catalog(name: str, text, *names: str, code: int = 1, **kw):
    @case("catalog", name)
    def _(tmp):
        f = tmp / "catalog.yaml"
        _put(f, text)
        return Run([DATA, "--catalog", f], code=code, names=["catalog.yaml", *names], **kw)


_catalog("binary", bytes(range(256)) * 4, "expected UTF-8 text")
_catalog("a list at the top", "- a\n- b\n", "top level: expected a mapping")
_catalog("number where a text is expected", CATALOG.replace("zh: 规上工业总产值", "zh: 12", 1),
         "indicators.ind_output_above.zh: expected a text, found 12")
_catalog("unknown top key", CATALOG + "\nindicatorz: {}\n", "indicatorz")
_catalog("unknown indicator key", CATALOG.replace("    unit: 亿元\n", "    unti: 亿元\n    unit: 亿元\n", 1),
         "indicators.ind_output_above", "unti")
_catalog("python tag", "indicators: !!python/object/apply:os.system [echo]\n", "found the tag !!python/object/apply:os.system")
_catalog("binary tag", "indicators: {a: {zh: !!binary aGk=, en: a, unit: 元}}\n", "found the tag !!binary")
_catalog("billion laughs", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" +
         "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)) +
         "indicators: *i\n", "values with aliases expanded")
_catalog("deep nesting", "indicators: " + "[" * 5000 + "]" * 5000 + "\n", "levels of nesting")
_catalog("huge file", lambda f: f.write_text(CATALOG + "#" + "x" * limits.MAX_CATALOG_BYTES + "\n", encoding="utf-8"),
         "of at most 2000000 bytes")
_catalog("metric part given as a list", CATALOG.replace("    part: auto_output\n", "    part: [auto_output]\n", 1),
         "metrics[0].part: expected an indicator code, found ['auto_output']")
_catalog("metric measures given as a text", CATALOG.replace("measures: [level, growth, share]", "measures: level", 1),
         "measures: expected a list of measures")
_catalog("metric scale zero", CATALOG.replace("    scale: 100\n", "    scale: 0\n", 1), "scale: expected a positive number")
_catalog("key written twice", CATALOG.replace("settings:\n", "settings:\n  near_band: 0.1\n", 1), "'near_band' twice")
_catalog("unknown unit", CATALOG.replace("    unit: 亿元\n", "    unit: 斤\n", 1), "expected a known unit, found '斤'")
_catalog("scope cycle", CATALOG.replace("whole_economy: {zh: 全部经济活动, en: the whole economy}",
                                        "whole_economy: {zh: 全部经济活动, en: the whole economy, within: all_industry}"),
         "a cycle")
_catalog("a FIFO", lambda f: os.mkfifo(f), "no regular file")
_catalog("a folder", lambda f: f.mkdir(), "a folder")
_catalog("integer of 40 digits", CATALOG.replace("approx_band: 0.05", "approx_band: " + "9" * 40, 1), "40 digits")


# ------------------------------------------------------------------ jobs files and parameters

def _jobs(name: str, text, *names: str, code: int = 2, **kw):
    @case("jobs file", name)
    def _(tmp):
        f = tmp / "jobs.yaml"
        _put(f, text)
        return Run([f, "--out", tmp / "out"], command="batch", code=code, names=["jobs.yaml", *names],
                   out=tmp / "out", **kw)


_J = "jobs:\n  - {parameters: {region: 渝北区, year: 2024%s}%s}\n"
_jobs("code in a python tag", _J % (", title: !!python/object/apply:os.system ['touch x']", ""), "!!python/object/apply")
_jobs("code in an omap value", _J % (""", title: !!omap [{a: '"+str(__import__("os").system("touch x"))+"'}]""", ""),
      "found the tag !!omap")
_jobs("pairs value", _J % (", title: !!pairs [[a, b]]", ""), "found the tag !!pairs")
_jobs("binary value", _J % (", title: !!binary aGk=", ""), "found the tag !!binary")
_jobs("set value", _J % (", title: !!set {a}", ""), "found the tag !!set")
_jobs("timestamp tag", _J % (", title: !!timestamp 2024-01-01", ""), "found the tag !!timestamp")
_jobs("local tag", _J % (", title: !x y", ""), "found the tag !x")
_jobs("a date where the year goes", "jobs:\n  - {parameters: {region: 渝北区, year: 2024-01-01}}\n",
      "jobs[0].parameters.year: expected a four-digit year, found '2024-01-01'")
_jobs("a list where a title goes", _J % (", title: [a, b]", ""), "jobs[0].parameters.title: expected a string, found a list")
_jobs("a mapping where a region goes", "jobs:\n  - {parameters: {region: {a: 1}, year: 2024}}\n",
      "jobs[0].parameters.region: expected a region name, found a mapping")
_jobs("parameters as a list", "jobs:\n  - {parameters: [region, 渝北区]}\n", "jobs[0].parameters: expected a mapping")
_jobs("unknown parameter", _J % (", colour: red", ""), "jobs[0].parameters.colour")
_jobs("parameter name that is code", _J % (', "__import__(\'os\')": 1', ""), "jobs[0].parameters")
_jobs("title of 10 000 characters", _J % (", title: " + "长" * 10_000, ""), "at most 200 characters")
_jobs("region with a control character", 'jobs:\n  - {parameters: {region: "渝北\\u0000区", year: 2024}}\n',
      "without control characters")
_jobs("integer of 40 digits", "jobs:\n  - {parameters: {region: 渝北区, year: " + "9" * 40 + "}}\n", "40 digits")
_jobs("matrix of a million", "matrix: {region: [%s], year: [%s]}\n" % (", ".join(f"r{i}" for i in range(1000)),
                                                                         ", ".join(str(1100 + i) for i in range(1000))),
      "expected at most 10000 combinations, found 1000000")
_jobs("matrix of 10⁴ that all fail validation", "matrix: {region: [%s], year: [%s]}\n" % (
    ", ".join(f"r{i}" for i in range(100)), ", ".join(f"'{1900 + i}年'" for i in range(100))),
      "matrix[0].parameters.year: expected a four-digit year")
_jobs("anchors that multiply", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" +
      "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)) +
      "matrix: {region: *i, year: [2024]}\n", "values with aliases expanded")
_jobs("deep nesting", "jobs: " + "[" * 2000 + "]" * 2000 + "\n", "levels of nesting")
_jobs("key written twice", "jobs: []\njobs: []\n", "'jobs' twice")
_jobs("binary file", bytes(range(256)) * 4, "expected UTF-8 text")
_jobs("a FIFO", lambda f: os.mkfifo(f), "no regular file")
_jobs("over the size limit", lambda f: f.write_text("#" * (limits.MAX_JOBS_FILE_BYTES + 1), encoding="utf-8"),
      "of at most 1000000 bytes")
_jobs("data outside the project", _J % ("", ", data: ../../../../etc/passwd"), "jobs[0].data: expected a file inside")
_jobs("catalog outside the project", "defaults: {catalog: /etc/hostname}\n" + _J % ("", ""),
      "defaults.catalog: expected a file inside")
_jobs("notebook outside the notebook folders", _J % ("", ", notebook: ../../../../tmp/x.ipynb"), "jobs[0].notebook")
_jobs("data file that is a FIFO", lambda f: (os.mkfifo(f.parent / "d.csv"),
                                             f.write_text(_J % ("", ", data: d.csv"), encoding="utf-8")),
      "jobs[0].data: expected an observations file")


# ------------------------------------------------------------------ report options (refused before any kernel starts)

def _report(name: str, extra: list, *names: str, code: int = 2):
    @case("report options", name)
    def _(tmp):
        return Run(["--region", "渝北区", "--year", "2024", "--out", tmp / "out", "--format", "html", *extra],
                   command="report", code=code, names=list(names), out=tmp / "out")


_report("-p with a name that is code", ["-p", "__import__('os').system('x')", "1"], "-p")
_report("-p naming an own option", ["-p", "region", "x"], "-p region: region has its own option")
_report("-p unknown name", ["-p", "colour", "red"], "-p colour")
_report("year of five digits", ["--year", "20245"], "--year: expected a four-digit year")
_report("title of 10 000 characters", ["--title", "长" * 10_000], "--title", "at most 200 characters")
_report("region with a newline", ["--region", "渝北\n区"], "--region", "without control characters")
_report("data that is a folder", ["--data", "/tmp"], "--data")


@case("report options", "truncated notebook")
def _(tmp):
    nb = tmp / "cut.ipynb"
    nb.write_bytes((ROOT / "notebooks" / "industry_report.ipynb").read_bytes()[:3000])
    return Run(["--region", "渝北区", "--year", "2024", "--out", tmp / "out", "--notebook", nb], command="report",
               code=2, names=["cut.ipynb", "expected a Jupyter notebook"], out=tmp / "out")


@case("report options", "notebook whose kernelspec name is a number")
def _(tmp):
    import json
    nb = json.loads((ROOT / "notebooks" / "industry_report.ipynb").read_text(encoding="utf-8"))
    nb["metadata"]["kernelspec"] = {"name": 5, "display_name": "x", "language": "python"}
    (tmp / "ks.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return Run(["--region", "渝北区", "--year", "2024", "--out", tmp / "out", "--notebook", tmp / "ks.ipynb"],
               command="report", code=2, names=["ks.ipynb: metadata.kernelspec.name: expected a kernel name"],
               out=tmp / "out")


@case("report options", "notebook without a parameters cell")
def _(tmp):
    import json
    nb = json.loads((ROOT / "notebooks" / "industry_report.ipynb").read_text(encoding="utf-8"))
    for c in nb["cells"]:
        c["metadata"].pop("tags", None)
    (tmp / "plain.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return Run(["--region", "渝北区", "--year", "2024", "--out", tmp / "out", "--notebook", tmp / "plain.ipynb"],
               command="report", code=2, names=["plain.ipynb", "a cell tagged 'parameters'"], out=tmp / "out")
