"""analysis.data.reading and analysis.data.xlsx: regular files only, bounded sizes, workbooks read as
their spreadsheet shows them (percent, displayed precision, sheets), zip bombs refused before inflating."""
import csv
import os
import time

import pytest

from analysis import limits
from analysis.data import load_observations, read_table
from analysis.data.xlsx import cell_text
from analysis.errors import DataError
from conftest import DATA
from xlsxmake import SHEET, inline_row, parts, patched, sheet_xml, workbook, write_zip, zip_bomb

ROWS = list(csv.reader(DATA.open(encoding="utf-8")))
HEADER = ROWS[0]
V, U = HEADER.index("value"), HEADER.index("unit")


def problems(path) -> list[str]:
    with pytest.raises(DataError) as e:
        load_observations(path)
    return [str(p) for p in e.value.problems]


# ------------------------------------------------------------------ numbers as shown

@pytest.mark.parametrize("value, fmt, shown", [
    (0.1, "0%", "10%"), (0.105, "0.0%", "10.5%"), (0.07, "0.00%", "7.00%"), (0.5, "[Red]0.0%", "50.0%"),
    (0.30000000000000004, "General", "0.3"), (0.30000000000000004, "0.0", "0.3"), (0.1 + 0.2, "0.00", "0.30"),
    (0.25, "0.0", "0.3"), (-0.25, "0.0", "-0.3"),          # half away from zero, as Excel shows it
    (4000, "#,##0", "4000"), (4000.0, "General", "4000"), (5, "0.0", "5.0"), (4_000_000, "#,##0,", "4000"),
    (123456, "0.00E+00", "123000"), (0.0123456, "0.00E+00", "0.0123"), (1e20, "General", "100000000000000000000"),
    (1e-7, "General", "0.0000001"), (0, '#,##0;-#,##0;"-"', "0"), (-12.345, "#,##0.00_);(#,##0.00)", "-12.35"),
    (3.14159, '"约"0.0', "3.1"), (float("inf"), "General", "inf"), (float("nan"), "0.0", "nan"),
    (True, "General", "TRUE"), ("abc", "0%", "abc"),
])
def test_cell_text(value, fmt, shown):
    assert cell_text(value, fmt) == shown


def test_percent_cells_are_percent_and_precision_is_as_displayed(tmp_path):
    rows = [list(r) for r in ROWS]
    i = next(i for i, r in enumerate(rows) if r[U] == "%" and r[V] == "20")          # 增长超20%
    j = next(i for i, r in enumerate(rows) if r[U] == "%" and r[V] == "5.29")        # R&D intensity 5.29%
    rows[i][V], rows[j][V] = 0.2, 0.0529
    k = next(i for i, r in enumerate(rows) if r[U] == "亿元" and "." in r[V])
    shown = rows[k][V]
    rows[k][V] = float(shown) + 1e-13                                                # a binary artefact
    f = workbook(tmp_path / "pct.xlsx", rows, formats={(i + 1, V + 1): "0%", (j + 1, V + 1): "0.00%",
                                                      (k + 1, V + 1): "0." + "0" * len(shown.split(".")[1])})
    got, want = load_observations(f), load_observations(DATA)
    for c in ("value", "lower", "upper", "unit", "half_width"):
        assert got[c].tolist() == want[c].tolist(), c
    assert got.loc[i - 1, "value_stated"] == "20%" and got.loc[k - 1, "value_stated"] == shown


# ------------------------------------------------------------------ sheets

def test_several_sheets_need_a_name(tmp_path, cli):
    f = workbook(tmp_path / "two.xlsx", ROWS, sheets=["说明", "数据"])
    code, _, err = cli("check-data", f)
    assert code == 1 and "found 2 sheets: '说明', '数据'" in err and "two.xlsx#说明" in err
    code, out, err = cli("check-data", f"{f}#数据")
    assert code == 0 and "two.xlsx#数据 (xlsx)" in out
    code, _, err = cli("check-data", f"{f}#Sheet9")
    assert code == 1 and "expected a sheet named 'Sheet9', found the sheets '说明', '数据'" in err
    g = workbook(tmp_path / "named.xlsx", ROWS, sheets=["notes", "Observations"])
    assert len(load_observations(g)) == len(ROWS) - 1          # a sheet named observations is the default


def test_a_sheet_named_in_a_request_and_its_checksum(tmp_path):
    from analysis import manifest, paths
    from analysis.request import build
    f = workbook(tmp_path / "two.xlsx", ROWS, sheets=["a", "b"])
    r = build(region="渝北区", year=2024, data=f"{f}#b")
    assert r.data == f.parent.resolve() / "two.xlsx#b" and paths.data_file(r.data) == f.resolve()
    assert manifest.input_checksums(r)["data"] == manifest.sha256_file(f)


# ------------------------------------------------------------------ what a workbook may not hold

def test_cells_far_right_are_refused_quickly(tmp_path):
    """A cell in column XFD (and a dimension claiming A1:XFD1048576) is neither padded nor lost."""
    f = workbook(tmp_path / "wide.xlsx", ROWS[:3])
    xml = parts(f)[SHEET].decode()
    xml = xml.replace("</row></sheetData>", '<c r="XFD3" t="inlineStr"><is><t>x</t></is></c></row></sheetData>')
    xml = xml.replace('<dimension ref="A1:N3"/>', '<dimension ref="A1:XFD1048576"/>')
    g = patched(f, tmp_path / "wide2.xlsx", **{SHEET.replace("/", "__").replace(".xml", "_xml"): xml.encode()})
    t = time.perf_counter()
    found = problems(g)
    assert time.perf_counter() - t < 5
    assert found == [f"{g}:3:column XFD: expected data in the first 100 columns, found a cell in column XFD "
                     "(delete what is right of the data)"]


def test_merged_cells_and_formulas_without_value(tmp_path):
    f = workbook(tmp_path / "merged.xlsx", ROWS[:4], merge="B2:B3")
    assert any(":2: expected cells that are not merged, found the merged cells B2:B3" in p for p in problems(f))
    g = workbook(tmp_path / "formula.xlsx", ROWS[:3], formulas={"H2": "=10+10"})   # openpyxl saves no value
    assert any(":2:column H: expected a value, found a formula saved without its value" in p for p in problems(g))


def test_doctype_is_refused(tmp_path):
    f = workbook(tmp_path / "a.xlsx", ROWS[:2])
    laughs = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    members = parts(f)
    members[SHEET] = sheet_xml(inline_row(1, {"A": "&b;"}), doctype=laughs)
    g = write_zip(tmp_path / "laughs.xlsx", members)
    assert any("expected XML without a DOCTYPE" in p for p in problems(g))


def test_broken_parts(tmp_path):
    f = workbook(tmp_path / "a.xlsx", ROWS[:2])
    members = parts(f)
    members[SHEET] = members[SHEET][:200]
    assert any("expected well-formed XML in xl/worksheets/sheet1.xml" in p
               for p in problems(write_zip(tmp_path / "cut.xlsx", members)))
    members = parts(f)
    del members["xl/workbook.xml"]
    assert any("a zip without a workbook part" in p for p in problems(write_zip(tmp_path / "nobook.xlsx", members)))


# ------------------------------------------------------------------ zip bombs

def test_zip_bomb_is_refused_before_inflating(tmp_path):
    template = workbook(tmp_path / "t.xlsx", ROWS[:2])
    bomb = zip_bomb(tmp_path / "bomb.xlsx", template, mib=2048)
    assert bomb.stat().st_size < 4 * 2**20          # 2 GiB of sheet in a couple of megabytes
    t = time.perf_counter()
    found = problems(bomb)
    assert time.perf_counter() - t < 3
    assert found == [f"{bomb}: expected an .xlsx workbook of at most 256 MB ({limits.MAX_XLSX_UNCOMPRESSED_BYTES} bytes) "
                     "decompressed, found 2048 MB (2147499788 bytes) declared by its parts (save the data as CSV, or "
                     "split the workbook)"]


def test_zip_bomb_under_the_size_limit_is_refused_by_its_ratio(tmp_path):
    template = workbook(tmp_path / "t.xlsx", ROWS[:2])
    bomb = zip_bomb(tmp_path / "bomb.xlsx", template, mib=64)
    found = problems(bomb)
    assert found == [f"{bomb}: expected an .xlsx workbook whose parts inflate at most 100 times, found "
                     "xl/worksheets/sheet1.xml inflating 1008 times (66555 bytes to 64 MB (67108997 bytes)): a zip "
                     "bomb, not a spreadsheet"]


def test_zip_bomb_that_lies_about_its_size(tmp_path):
    """zipfile stops at the declared size, so a part that lies is a broken file, never a bomb."""
    template = workbook(tmp_path / "t.xlsx", ROWS[:2])
    bomb = zip_bomb(tmp_path / "liar.xlsx", template, mib=1024, declared=4096)
    t = time.perf_counter()
    found = problems(bomb)
    assert time.perf_counter() - t < 3
    assert found == [f"{bomb}: expected an Excel .xlsx workbook, found a file that cannot be read (BadZipFile: Bad "
                     "CRC-32 for file 'xl/worksheets/sheet1.xml')"]


# ------------------------------------------------------------------ regular files only

@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_fifo_folder_and_device_are_refused(tmp_path, suffix):
    fifo = tmp_path / f"pipe{suffix}"
    os.mkfifo(fifo)
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    t = time.perf_counter()
    assert problems(fifo) == [f"{fifo}: expected an {'Excel .xlsx workbook' if suffix == '.xlsx' else 'observations file (.csv or .xlsx)'}"
                              ", found a named pipe (FIFO)"]
    assert problems(folder)[0].endswith("found a folder")
    assert problems("/dev/zero")[0] == "/dev/zero: expected an observations file (.csv or .xlsx), found a device"
    assert time.perf_counter() - t < 5


def test_fifo_beside_the_data_is_refused(tmp_path):
    data = tmp_path / "obs.csv"
    data.write_text(DATA.read_text(encoding="utf-8"), encoding="utf-8")
    os.mkfifo(tmp_path / "sources.csv")
    assert any(p.endswith("sources.csv: expected a sources.csv file, found a named pipe (FIFO)") for p in problems(data))


# ------------------------------------------------------------------ sizes

def test_limits_of_size_rows_columns_and_cells(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_DATA_FILE_BYTES", 2000)
    big = tmp_path / "big.csv"
    big.write_text(DATA.read_text(encoding="utf-8"), encoding="utf-8")
    assert problems(big)[0].startswith(f"{big}: expected an observations file (.csv or .xlsx) of at most 2000 bytes, "
                                       f"found {big.stat().st_size} bytes")
    monkeypatch.setattr(limits, "MAX_DATA_FILE_BYTES", 10**9)
    monkeypatch.setattr(limits, "MAX_DATA_ROWS", 10)
    assert problems(big)[0] == f"{big}: expected at most 10 data rows, found more (split the data into several files)"
    monkeypatch.setattr(limits, "MAX_DATA_ROWS", 10**6)
    rows = [list(r) for r in ROWS[:3]]
    rows[2][HEADER.index("note")] = "长" * (limits.MAX_CELL_CHARS + 1)
    long = tmp_path / "long.csv"
    with long.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    assert problems(long) == [f"{long}:3:note: expected a cell of at most {limits.MAX_CELL_CHARS} characters, "
                              f"found {limits.MAX_CELL_CHARS + 1} characters"]
    huge = tmp_path / "huge.csv"
    rows[2][HEADER.index("note")] = "x" * 200_000          # over the csv module's own field limit
    with huge.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    assert problems(huge)[0].startswith(f"{huge}:3: expected cells of at most {limits.MAX_CELL_CHARS} characters")
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(HEADER + [f"x{i}" for i in range(100)]) + "\n", encoding="utf-8")
    assert problems(wide) == [f"{wide}:1: expected at most 100 columns, found 114 columns"]


def test_values_must_be_finite_and_plausible(tmp_path):
    rows = [list(r) for r in ROWS[:4]]
    rows[1][V] = "9" * 400                  # a float overflows to inf
    rows[2][V], rows[2][U] = "20000000", "亿元"  # 2×10¹⁵ 元
    f = tmp_path / "absurd.csv"
    with f.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    found = problems(f)
    assert f"{f}:2:value: expected a finite number, found '9999999999999999999999999999999999999999'… (400 characters), " \
           "too large to be a number" in found
    assert f"{f}:3:value: expected a figure of at most 1e+15 in its base unit (元, 辆, %, …), found '20000000' 亿元 " \
           "(check the value and its unit)" in found


def test_duplicated_column(tmp_path, cli):
    f = tmp_path / "dup.csv"
    f.write_text(",".join(HEADER + ["地区"]) + "\n" + ",".join(ROWS[1] + ["x"]) + "\n", encoding="utf-8")
    code, _, err = cli("check-data", f)
    assert code == 1 and f"{f}:1:地区: expected each column once, found '地区', the same column as 'region'" in err


def test_garbage_is_reported_fast_and_briefly(tmp_path):
    """Every row wrong in every column: difflib hints are bounded, the message lists 200 and counts the rest."""
    import random
    random.seed(3)
    f = tmp_path / "garbage.csv"
    with f.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for _ in range(3000):
            w.writerow(["".join(random.choice("abcdefgh工业区") for _ in range(8)) for _ in HEADER])
    t = time.perf_counter()
    with pytest.raises(DataError) as e:
        load_observations(f)
    assert time.perf_counter() - t < 20
    text = str(e.value)
    assert len(e.value.problems) > 3000 * 5 and text.count("\n") == limits.MAX_PROBLEMS_SHOWN + 1
    assert text.splitlines()[-1].startswith(f"  … and {len(e.value.problems) - limits.MAX_PROBLEMS_SHOWN} more (")


def test_read_table_reads_spreadsheet_rows(tmp_path):
    f = tmp_path / "blank.csv"
    f.write_text("\n\n" + "\n".join(",".join(r) for r in ROWS[:3]) + "\n\n", encoding="utf-8")
    res = read_table(f)
    assert list(res.frame.index) == [4, 5]
    assert [str(p) for p in res.problems] == [f"{f}:3: expected the header in the first row, found 2 blank lines before "
                                              "it (delete the blank lines)"]
