import csv
import hashlib
import io
import re

import pandas as pd
import pytest

from analysis.data import load_observations
from analysis.errors import DataError
from conftest import DATA, ROOT, SOURCE, run_cli

SHA = "8dbebc0603de3717962a47ede850d39e46096cd2f75f50344611651bb34b7b92"
HEADER = DATA.read_text(encoding="utf-8").splitlines()[0]


def test_snapshot_unchanged():
    assert hashlib.sha256(SOURCE.read_bytes()).hexdigest() == SHA
    sources = pd.read_csv(ROOT / "data" / "sources.csv", dtype=str)
    assert sources.loc[sources["id"] == "S000", "sha256"].item() == SHA


def test_shipped_data_is_valid(obs):
    assert len(obs) >= 40
    assert set(obs["region"]) == {"渝北区"}
    assert obs["quote"].str.len().min() > 0
    assert obs["id"].is_unique


def test_every_quote_occurs_in_source():
    text = re.sub(r"\s+", "", SOURCE.read_text(encoding="utf-8"))
    rows = list(csv.DictReader(io.StringIO(DATA.read_text(encoding="utf-8"))))
    missing = [r["id"] for r in rows if re.sub(r"\s+", "", r["quote"]) not in text]
    assert missing == []


def test_quote_across_line_break_is_found():
    """The source breaks 智能手 / 产业集群 over lines; a quote spanning it must still match."""
    raw = SOURCE.read_text(encoding="utf-8")
    assert "智能手产业集群" not in raw
    assert "智能手产业集群" in re.sub(r"\s+", "", raw)


def test_key_figures_normalised(obs):
    def one(ind, measure, entity=""):
        r = obs[(obs.indicator == ind) & (obs.measure == measure) & (obs.entity == entity) & (obs.qualifier != "≥")]
        assert len(r) == 1, (ind, measure)
        return r.iloc[0]
    out = one("ind_output_above", "level")
    assert (out.value, out.unit, out.qualifier, out.lower, out.upper) == (4e11, "元", ">", 4e11, float("inf"))
    nev = one("nev_volume", "growth")
    assert nev.value == pytest.approx(560) and nev.unit == "%"  # 增长5.6倍 = +560 %
    rd = one("rd_intensity", "level")
    assert (rd.lower, rd.upper) == pytest.approx((5.285, 5.295))
    low = one("low_altitude_firms", "level")
    assert (low.lower, low.upper) == (30, 40)  # 30余家
    assert one("ind_output", "projection").year == 2027   # 预计: a projection, not a target


def test_encodings_give_same_summary(tmp_path, cli):
    code, base, _ = cli("check-data", DATA)
    assert code == 0
    summary = base.split("\n", 1)[1]
    assert "57 observations" in summary or "observations — valid" in summary
    text = DATA.read_text(encoding="utf-8")
    for enc, label in (("gbk", "GB"), ("gb18030", "GB"), ("utf-8-sig", "UTF-8-BOM")):
        f = tmp_path / f"copy-{enc}.csv"
        f.write_bytes(text.encode(enc))
        code, out, err = cli("check-data", f)
        assert code == 0, err
        assert label in out.split("\n", 1)[0]
        assert out.split("\n", 1)[1] == summary


def test_xlsx_and_chinese_headers(tmp_path, cli):
    df = pd.read_csv(DATA, dtype=str, keep_default_na=False)
    df = df.rename(columns={"region": "地区", "year": "年份", "indicator": "指标", "value": "数值"})
    df.loc[df["指标"] == "rd_spending", "指标"] = "研发投入"  # 中文名 instead of the code
    f = tmp_path / "obs.xlsx"
    df.to_excel(f, index=False)
    code, out, err = cli("check-data", f)
    assert code == 0, err
    assert "(xlsx)" in out and "observations — valid" in out


def test_numbers_as_analysts_write_them(tmp_path):
    rows = [HEADER,
            "a1,某区,,2024,,ind_output_above,level,\"4,000\",亿元,,,X,q,",
            "a2,某区,,2023,,ind_output_above,level,３６００,亿元,,,X,q,",
            "a3,某区,,2024,,auto_output,level,超1900,亿元,,,X,q,",
            "a4,某区,,2024,,auto_output,growth,−3.5%,,,,X,q,",
            "a5,某区,,2024,,nev_volume,level,1.2万,辆,,,X,q,"]
    f = tmp_path / "obs.csv"
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "sources.csv").write_text("id,title,file,sha256\nX,test,,\n", encoding="utf-8")
    obs = load_observations(f).set_index("id")
    assert obs.loc["a1", "value"] == 4e11
    assert obs.loc["a2", "value"] == 3.6e11
    assert obs.loc["a3", "qualifier"] == ">"
    assert obs.loc["a4", "value"] == -3.5 and obs.loc["a4", "unit"] == "%"
    assert obs.loc["a5", "value"] == 12000 and obs.loc["a5", "unit"] == "辆"


def _body(**replace):
    """The shipped CSV with textual replacements applied."""
    text = DATA.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


R22 = "yb-022,渝北区,,2024,,rd_spending,level,129.2,亿元,exact,,S000,2024年，渝北研发投入达到129.2亿元,"


def _row(text, rid):
    lines = text.splitlines()
    return next(i + 1 for i, ln in enumerate(lines) if ln.startswith(rid + ","))


BAD_CASES = {
    # name: (bytes or text, expected message fragments, exit code)
    "empty file": (b"", ["found an empty file"], 1),
    "header only": (HEADER + "\n", ["found only the header"], 1),
    "bad encoding": ("region,year\n".encode() + "渝北区".encode("utf-16-le") + b"\xff\xfe\x80\x81,2024\n",
                     ["expected text in UTF-8 (with or without BOM), GBK or GB18030", "not valid UTF-8"], 1),
    "binary workbook named csv": (b"PK\x03\x04\x00\x00\x00\x00binary", ["expected a CSV text file", ".xlsx/.zip workbook"], 1),
    "semicolon delimiter": (DATA.read_text(encoding="utf-8").replace(",", ";"), [":1: expected comma-separated columns, found columns separated by ';'"], 1),
    "tab delimiter": (DATA.read_text(encoding="utf-8").replace(",", "\t"), ["found columns separated by tabs"], 1),
    "missing column": (DATA.read_text(encoding="utf-8").replace(",quote,", ",citation,", 1),
                       ["unknown column 'citation'", "expected columns region, year, indicator, measure, value, unit, source, quote, found a header without quote"], 1),
    "non-numeric value": (_body(**{",129.2,亿元,": ",abc,亿元,"}), [":value: expected a number", "found 'abc'"], 1),
    "unknown unit": (_body(**{",129.2,亿元,": ",129.2,亿美元,"}), [":unit: expected a known unit", "found '亿美元'", "did you mean '亿元'?"], 1),
    "unit of wrong dimension": (_body(**{",129.2,亿元,": ",129.2,万辆,"}), [":unit: expected a unit like 亿元 for a level of 研发投入", "found '万辆'"], 1),
    "unknown indicator": (_body(**{",rd_spending,level,129.2": ",rd_spendng,level,129.2"}), [":indicator: expected an indicator code", "found 'rd_spendng'", "did you mean rd_spending (研发投入)"], 1),
    "unknown measure": (_body(**{",rd_spending,level,129.2": ",rd_spending,levle,129.2"}), [":measure: expected one of level", "found 'levle'"], 1),
    "bad year": (_body(**{"yb-022,渝北区,,2024,": "yb-022,渝北区,,24,"}), [":year: expected a four-digit year", "found '24'"], 1),
    "empty quote": (_body(**{R22: R22.replace("2024年，渝北研发投入达到129.2亿元", "")}), [":quote: expected the verbatim quote stating the figure, found an empty cell"], 1),
    "quote not in source": (_body(**{"2024年，渝北研发投入达到129.2亿元": "研发投入达到130亿元"}), [":quote: expected a quote that occurs verbatim in the source text"], 1),
    "conflicting duplicate": (DATA.read_text(encoding="utf-8") + R22.replace("yb-022", "yb-099").replace(",129.2,", ",130.5,") + "\n",
                              [":value: expected the same figure as row", "found 130.5 亿元 here and 129.2 亿元 there"], 1),
    "duplicate id": (DATA.read_text(encoding="utf-8") + R22.replace("rd_spending,level", "rd_intensity,level").replace("129.2,亿元", "5.3,%") + "\n",
                     [":id: expected a unique id, found 'yb-022' again"], 1),
    "unknown qualifier": (_body(**{",129.2,亿元,exact,": ",129.2,亿元,大概,"}), [":qualifier: expected one of exact, >, ≥", "found '大概'"], 1),
    "qualifier clash": (_body(**{",129.2,亿元,exact,": ",超129.2,亿元,≤,"}), [":qualifier: expected the same qualifier as the value text"], 1),
    "unknown source": (_body(**{",exact,,S000,2024年，渝北研发": ",exact,,S999,2024年，渝北研发"}), [":source: expected a source id listed in sources.csv", "found 'S999'"], 1),
    "ragged row": (DATA.read_text(encoding="utf-8") + "yb-100,渝北区,2024\n", [": expected 14 fields like the header, found 3 fields"], 1),
    "base year after year": (_body(**{"yb-001,渝北区,,2024,2023,": "yb-001,渝北区,,2024,2025,"}), [":base_year: expected a year before the figure's year"], 1),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_malformed_files(case, tmp_path, cli):
    content, fragments, exit_code = BAD_CASES[case]
    f = tmp_path / "bad.csv"
    f.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    code, out, err = cli("check-data", f)
    assert code == exit_code
    assert "Traceback" not in err + out
    for frag in fragments:
        assert frag in err, f"{frag!r} not in {err!r}"
    assert str(f) in err  # names the file


def test_row_and_column_are_named(tmp_path, cli):
    text = _body(**{",129.2,亿元,": ",abc,亿元,"})
    f = tmp_path / "bad.csv"
    f.write_text(text, encoding="utf-8")
    code, _, err = cli("check-data", f)
    assert f"{f}:{_row(text, 'yb-022')}:value: expected a number" in err


def test_all_problems_are_collected(tmp_path, cli):
    text = _body(**{",129.2,亿元,": ",abc,亿元,", ",rd_intensity,level,5.29,%": ",rd_intensity,level,5.29,pct"})
    f = tmp_path / "bad.csv"
    f.write_text(text, encoding="utf-8")
    code, _, err = cli("check-data", f)
    assert code == 1 and "2 problems" in err


def test_broken_xlsx(tmp_path, cli):
    f = tmp_path / "bad.xlsx"
    f.write_bytes(b"not a zip")
    code, _, err = cli("check-data", f)
    assert code == 1 and "expected an Excel .xlsx workbook" in err


def test_missing_file_and_usage(cli, tmp_path):
    code, _, err = cli("check-data", tmp_path / "nope.csv")
    assert code == 1 and "no such file" in err
    with pytest.raises(SystemExit) as exc:
        cli("check-data", "--no-such-option")
    assert exc.value.code == 2


def test_console_script_no_traceback(tmp_path):
    ok = run_cli("check-data")
    assert ok.returncode == 0 and "observations — valid" in ok.stdout
    f = tmp_path / "bad.csv"
    f.write_text(_body(**{",129.2,亿元,": ",abc,亿元,"}), encoding="utf-8")
    bad = run_cli("check-data", "--data", f)
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr and ":value: expected a number" in bad.stderr
    dbg = run_cli("--debug", "check-data", f)
    assert "Traceback" in dbg.stderr
    assert run_cli("check-data", "--bogus").returncode == 2


def test_data_error_is_raised_in_api(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text(_body(**{",129.2,亿元,": ",abc,亿元,"}), encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_observations(f)
    (p,) = exc.value.problems
    assert (p.column, p.found) == ("value", "'abc'")


# --- sources.csv: read like the observations; check-data says which quotes it checked ---------------

ROW = "a1,某区,,2024,,ind_output_above,level,4000,亿元,,,X,规上工业总产值4000亿元,"


def _with_sources(tmp_path, sources, rows=(ROW,)):
    d = tmp_path / "d"
    d.mkdir(exist_ok=True)
    f = d / "obs.csv"
    f.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    (d / "sources.csv").write_bytes(sources if isinstance(sources, bytes) else sources.encode("utf-8"))
    return f


def test_quotes_checked_only_where_there_is_text(tmp_path, cli):
    code, out, _ = cli("check-data")
    assert code == 0 and re.search(r"source +S000 .* — 57 figures, quotes checked$", out, re.M)
    f = _with_sources(tmp_path, "id,title,file,sha256\nX,无快照的来源,,\n")
    code, out, err = cli("check-data", f)
    assert code == 0, err
    assert "X 无快照的来源 — 1 figures, quotes not checked (no source text)" in out
    assert "quotes checked" not in out


def test_quote_checked_against_a_snapshot_beside_the_data(tmp_path, cli):
    f = _with_sources(tmp_path, "id,title,file,sha256\nX,快照,raw/x.txt,\n")
    (f.parent / "raw").mkdir()
    (f.parent / "raw" / "x.txt").write_text("2024年，某区规上工业总产值4000亿元。", encoding="gb18030")
    code, out, err = cli("check-data", f)
    assert code == 0 and "X 快照 — 1 figures, quotes checked" in out, err
    (f.parent / "raw" / "x.txt").write_text("2024年，某区规上工业总产值4100亿元。", encoding="utf-8")
    code, _, err = cli("check-data", f)
    assert code == 1 and ":quote: expected a quote that occurs verbatim in the source text" in err


SOURCE_CASES = {
    "missing snapshot": ("id,title,file,sha256\nX,t,raw/missing.txt,\n",
                         ":2:file: expected a snapshot file that exists (relative to the folder of this sources.csv), "
                         "found no such file 'raw/missing.txt'"),
    "path outside the folder": ("id,title,file,sha256\nX,t,../../etc/passwd,\n",
                                ":2:file: expected a path inside {folder} (the folder of this sources.csv), "
                                "found '../../etc/passwd'"),
    "absolute path": ("id,title,file,sha256\nX,t,/etc/passwd,\n", ":2:file: expected a path inside"),
    "no id column": ("title,file\nt,\n", ":1: expected columns id, found a header without id"),
    "duplicate id": ("id,title,file\nX,t,\nX,u,\n", ":3:id: expected each source id once, found 'X' again (first at row 2)"),
    "empty id": ("id,title,file\n,t,\nX,t,\n", ":2:id: expected a source id, found an empty cell"),
    "unknown column": ("id,titel,file\nX,t,\n", ":1:titel: expected a known column (id, title, publisher, date, url, "
                       "file, sha256, note), found unknown column 'titel' (did you mean 'title'?)"),
    "binary": (b"PK\x03\x04\x00\x00\x00binary", ": expected a CSV text file"),
}


@pytest.mark.parametrize("case", list(SOURCE_CASES))
def test_bad_sources_file(case, tmp_path, cli):
    content, fragment = SOURCE_CASES[case]
    f = _with_sources(tmp_path, content)
    code, out, err = cli("check-data", f)
    assert code == 1 and "Traceback" not in out + err
    assert str(f.parent / "sources.csv") + fragment.format(folder=f.parent) in err, err


def test_gb18030_sources_file(tmp_path, cli):
    f = _with_sources(tmp_path, "id,title,publisher,file\nX,重庆市统计公报,重庆市统计局,\n".encode("gb18030"))
    code, out, err = cli("check-data", f)
    assert code == 0 and "X 重庆市统计公报 — 1 figures" in out, err



# --- quotes of a large file: whole clauses by a set look-up, the rest by one multi-pattern scan ------

def test_quotes_are_found_as_a_search_of_each_would_find_them():
    """Whole clauses, parts of a clause, quotes across a clause break, whitespace inside, characters
    outside the BMP, a quote inside another, repeated quotes, several sources: found exactly when
    ``quote in text`` (whitespace removed) says so."""
    import numpy as np

    from analysis.data.validation import _CLAUSE_BREAK, _quotes_found, _squash
    rng = np.random.default_rng(3)
    words = ["渝北", "规上工业", "产值", "增长", "5.6%", "𠀀𠀁", "汽车", "4000亿元", "第一"]
    texts = {s: _squash("，".join("".join(rng.choice(words, 3)) for _ in range(40)) + "。" +
                        "；".join("".join(rng.choice(words, 2)) for _ in range(20)))
             for s in ("A", "B")}
    quotes, sources = [], []
    for s, text in texts.items():
        clauses = [c for c in _CLAUSE_BREAK.split(text) if c]
        for c in clauses[:15]:
            quotes += [c, c[1:], c[:-1] + "汽", c[: len(c) // 2] + " " + c[len(c) // 2:]]
        starts = rng.integers(0, len(text) - 12, 30)
        quotes += [text[i:i + 12] for i in starts]                           # across breaks, often
        quotes += ["".join(rng.choice(words, 2)) for _ in range(30)]          # in the text or not
        quotes += [texts["B" if s == "A" else "A"][:10], "第一第一第一第一", "\u3000渝北"]
        sources += [s] * (len(quotes) - len(sources))
    quotes += quotes[:20]
    sources += sources[:20]
    found = _quotes_found(pd.Series(sources, dtype="str"), pd.Series(quotes, dtype="str"), texts)
    want = np.array([_squash(q) in texts[s] for s, q in zip(sources, quotes)])
    assert found.tolist() == want.tolist()
    assert want.any() and not want.all()
    assert any(w and _squash(q) not in _CLAUSE_BREAK.split(texts[s])         # some only the scan finds
               for s, q, w in zip(sources, quotes, want))
    from analysis.data.validation import _clauses
    for text in [*texts.values(), "", "。", "甲，，乙\n\n丙：", "a,b;c!d?e:f"]:
        assert _clauses(text).to_pylist() == _CLAUSE_BREAK.split(text)     # the Arrow split is the regex split


def test_control_characters_are_ascii_bytes():
    """The byte pre-check of check-data skips a column without a byte below 0x20 or 0x7F: every character
    the control-character patterns look for is one of those."""
    from analysis.data.reading import CONTROL, CONTROL_IN_TEXT
    for rx in (CONTROL, CONTROL_IN_TEXT):
        assert [c for c in range(0x110000) if rx.search(chr(c))] == [c for c in range(0x80) if rx.search(chr(c))]
        assert all(c < 0x20 or c == 0x7F for c in range(0x80) if rx.search(chr(c)))
