"""analysis.extract: documents → candidate observations → review → data; scored against gold."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from conftest import BIN, DATA, ROOT, SOURCE, run_cli

GOLD = ROOT / "tests" / "gold"
#: (document, gold file, source, options): the project's source and the hand transcriptions
TEXTS = {
    "S000": (SOURCE, DATA, {"region": "渝北区", "published": "2025-01"}),
    "G-LY": (GOLD / "raw" / "luyang_2024_gongbao.txt", GOLD / "luyang_2024.csv", {"region": "庐阳区", "published": "2025"}),
    "G-JB": (GOLD / "raw" / "jiangbei_2024_industry.txt", GOLD / "jiangbei_2024.csv",
             {"region": "江北区", "published": "2025-01-21"}),
    "G-JD": (GOLD / "raw" / "jiading_2024_economy.txt", GOLD / "jiading_2024.csv", {"region": "嘉定区", "published": "2025"}),
}


@pytest.fixture(scope="module")
def catalog():
    from analysis.catalog import load_catalog
    return load_catalog()


def figures(text: str, catalog, **kw) -> pd.DataFrame:
    """The candidates of a text (skipped numbers included), via a temporary file."""
    import tempfile
    from analysis.extract import extract
    kw.setdefault("region", "渝北区")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "t.txt"
        p.write_text(text, encoding="utf-8")
        return extract(p, catalog=catalog, **kw)


def first(text: str, catalog, **kw) -> dict:
    f = figures(text, catalog, **kw)
    f = f[f["status"] != "skipped"]
    assert len(f), f"no figure in {text!r}"
    return f.iloc[0].to_dict()


# -- the rules, one phrase each ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, measure, value, unit, qualifier", [
    ("2024年，全区规上工业增加值增长超20%。", "growth", "20", "%", ">"),
    ("新能源汽车产量增长5.6倍。", "growth", "5.6", "倍", "exact"),
    ("汽车产值是上年的1.5倍。", "multiple", "1.5", "倍", "exact"),
    ("工业产值翻一番。", "multiple", "2", "倍", "exact"),
    ("工业投资下降3.5%。", "growth", "-3.5", "%", "exact"),
    ("规上工业总产值突破4000亿元。", "level", "4000", "亿元", ">"),
    ("已集聚低空经济企业30余家。", "level", "30", "家", "余"),
    ("撬动各类战略投资额逾千亿元。", "level", "1000", "亿元", ">"),
    ("社会消费品零售总额约500亿元。", "level", "500", "亿元", "≈"),
    ("社会消费品零售总额500亿元左右。", "level", "500", "亿元", "≈"),
    ("研发投入不低于10亿元。", "level", "10", "亿元", "≥"),
    ("固定资产投资近百亿元。", "level", "100", "亿元", "近"),
    ("工业投资增长20%以上。", "growth", "20", "%", ">"),
    ("传音手机“渝北造”占比提升至六成。", "share", "6", "成", "≈"),
    ("本地配套率达到两成多。", "level", "2", "成", "余"),
    ("工业增加值占地区生产总值的比重为39.1%。", "share", "39.1", "%", "exact"),
    ("研发投入强度比上年提高0.7个百分点。", "pp_change", "0.7", "百分点", "exact"),
    ("城镇化率99.44%。", "level", "99.44", "%", "exact"),
    ("近3年复合增长率达到15%。", "cagr", "15", "%", "exact"),
    ("智能座舱域控制器年产能超过300万台(套)/年。", "level", "300", "万台(套)", ">"),
    ("通过全球领先的9000T压铸机。", "level", "9000", "T", "exact"),
    ("全年农林牧渔业总产值16,655万元。", "level", "16655", "万元", "exact"),
    ("公司仅用5年多的时间。", "level", "5", "年", "余"),
])
def test_measure_value_unit_qualifier(catalog, text, measure, value, unit, qualifier):
    row = first(text, catalog, year=2024)
    assert (row["measure"], row["value"], row["unit"], row["qualifier"]) == (measure, value, unit, qualifier), row["why"]


@pytest.mark.parametrize("text, rows", [
    ("规上工业增加值增长超20%、居全市第一。", [("growth", "20"), ("growth_rank", "1")]),
    ("数字经济核心产业增加值235.6亿元、增长36%，规模全市第一。", [("level", "235.6"), ("growth", "36"), ("rank", "1")]),
    ("研发投入强度达到5.29%、居全市第2位。", [("level", "5.29"), ("rank", "2")]),
    ("研发投入总量连续7年全市第一。", [("rank", "1"), ("streak", "7")]),
    ("规上工业增加值增长7.2%，位居中心城区前3位。", [("growth", "7.2"), ("growth_rank", "3")]),
    ("重大项目签约数位居全市前列。", []),                     # 前列 is not a rank
    ("科技是第一生产力，第一产业增加值1.03亿元。", [("level", "1.03")]),
    ("企业已跻身国内手术机器人行业第一梯队。", []),
])
def test_ranks_and_streaks(catalog, text, rows):
    f = figures(text, catalog, year=2024)
    f = f[f["status"] != "skipped"]
    assert list(zip(f["measure"], f["value"])) == rows, f["why"].tolist()


def test_rank_peers_and_what_is_ranked(catalog):
    f = figures("累计培育市级专精特新中小企业700家、国家级专精特新“小巨人”企业55家，均位列全市第一。", catalog, year=2024)
    ranks = f[f["measure"] == "rank"]
    assert list(ranks["indicator"]) == ["srdi_smes", "little_giants"]
    assert set(ranks["peer"]) == {"重庆市区县"}            # 全市 → the peer set of 渝北区's parent
    f = figures("规上工业增加值增长7.2%，位居中心城区前3位。", catalog, year=2024)
    rank = f[f["measure"] == "growth_rank"].iloc[0]
    assert (rank["indicator"], rank["qualifier"], rank["peer"]) == ("ind_va_above", "≤", "重庆市中心城区")


@pytest.mark.parametrize("text, measure, year", [
    ("预计到2027年全区工业总产值突破7000亿元。", "projection", "2027"),
    ("到2027年，全区工业总产值目标达到6000亿元。", "target", "2027"),
    ("预计未来五年撬动各类战略投资额逾千亿元。", "projection", "2029"),
    ("将新建1个世界级企业总部。", "plan", "2024"),
    ("2024年，渝北研发投入达到129.2亿元。", "level", "2024"),
])
def test_targets_projections_plans(catalog, text, measure, year):
    row = first(text, catalog, year=2024)
    assert (row["measure"], row["year"]) == (measure, year), row["why"]


def test_years_from_context_and_publication(catalog):
    assert first("去年全区地区生产总值1000亿元。", catalog, published="2025-03")["year"] == "2024"
    assert first("今年全区地区生产总值增长5%。", catalog, published="2025-03")["year"] == "2025"
    f = figures("2023年，地区生产总值1000亿元。\n规上工业增加值增长5%。", catalog, published="2025")
    assert list(f["year"]) == ["2023", "2023"]               # the year of the text so far
    assert first("规上工业增加值增长5%。", catalog, published="2025-01")["year"] == "2024"   # the year before publication
    row = first("战新产业比重较2023年提高2.0个百分点。", catalog, year=2024)
    assert (row["year"], row["base_year"], row["measure"]) == ("2024", "2023", "pp_change")   # 较2023年 compares


@pytest.mark.parametrize("text, why", [
    ("渝北区共招引50—100亿级项目3个。", "size class"),
    ("一季度开局良好(GDP增长5.9%)。", "part of the year"),
    ("合计拉动规模以上工业总产值增长5.7个百分点。", "contribution"),
    ("增加值同比增长7.2%，高于全国平均水平1.4个百分点。", "gap"),
    ("年末规模以上工业企业77户，比上年增加9户。", "absolute change"),
    ("销量稳居国内50万元以上豪华车型第一。", "size class"),
    ("营收超十亿元行业6个。", "size class"),
])
def test_numbers_that_are_not_figures(catalog, text, why):
    f = figures(text, catalog, year=2024)
    assert f[f["status"] == "skipped"]["why"].str.contains(why).any(), f[["value", "why"]].values.tolist()


@pytest.mark.parametrize("text", ["5G技术和工控物联网技术", "国产大飞机C919", "1x1双频并发WiFi6芯片", "用好“科创十条”政策",
                                  "首家也是唯一一家产业互联网公司", "一模两件压铸工艺", "2024年4月，签署协议", "入选2024重庆百强"])
def test_words_with_digits_are_not_figures(catalog, text):
    f = figures(text, catalog, year=2024)
    assert f[f["status"] != "skipped"].empty, f[["value", "unit"]].values.tolist()


def test_indicators_through_the_catalog(catalog):
    rows = figures("分别有29家、24家企业入选2024重庆百强企业名单、百强制造业企业名单。", catalog, year=2024)
    assert list(rows["indicator"]) == ["top100_enterprises", "top100_manufacturers"]     # 分别: paired in order
    assert first("全区规模以上工业企业实现营业收入212.4亿元。", catalog, year=2024)["indicator"] == "revenue_above"
    assert first("超1000台智能化设备。", catalog, year=2024)["indicator"] == "smart_equipment"   # a name after the figure
    f = figures("全区规模以上工业总产值1587.7亿元，增加值同比增长7.2%。", catalog, year=2024)
    assert list(f["indicator"]) == ["ind_output_above", "ind_va_above"]                   # 增加值 of the subject
    f = figures("三次产业结构为0.1:17.3:82.6。", catalog, year=2024)
    assert list(zip(f["indicator"], f["measure"], f["value"])) == [
        ("va_primary", "share", "0.1"), ("va_secondary", "share", "17.3"), ("va_tertiary", "share", "82.6")]
    f = figures("除了赋能汽车和电子两大千亿级主导产业。", catalog, year=2024)
    assert list(zip(f["indicator"], f["value"], f["unit"], f["qualifier"])) == [
        ("auto_output", "1000", "亿元", "≥"), ("electronics_output", "1000", "亿元", "≥")]


def test_a_government_work_report(catalog):
    """Targets of growth are held for review (observations have no measure for them); 新增 narrows."""
    f = figures("过去一年，全区地区生产总值增长6.5%，规上工业增加值增长10.2%。\n"
                "2025年主要预期目标是：地区生产总值增长6%左右，规上工业增加值增长8%以上。\n"
                "力争到2027年，规上工业总产值达到5000亿元，研发投入强度提高到4%，新增规上工业企业100家以上。\n"
                "全区进出口总额是上年的2.3倍。", catalog, published="2025-01")
    got = list(zip(f["year"], f["indicator"], f["measure"], f["value"], f["qualifier"], f["status"]))
    assert got == [("2024", "gdp", "growth", "6.5", "exact", "ready"),
                   ("2024", "ind_va_above", "growth", "10.2", "exact", "ready"),
                   ("2025", "gdp", "growth", "6", "≈", "review"),
                   ("2025", "ind_va_above", "growth", "8", ">", "review"),
                   ("2027", "ind_output_above", "target", "5000", "exact", "ready"),
                   ("2027", "rd_intensity", "target", "4", "exact", "ready"),
                   ("2027", "新增规上工业企业", "target", "100", ">", "review"),
                   ("2024", "trade", "multiple", "2.3", "exact", "ready")], f["why"].tolist()


def test_a_bulletin_with_per_mille_and_per_capita(catalog):
    f = figures("人均GDP为82565元，比上年增加6756元。自然增长率-0.59‰，比上年提高0.6个千分点。"
                "第一、二、三产业分别拉动经济增长0.1个、0.9个和2.4个百分点。", catalog, year=2024)
    live = f[f["status"] != "skipped"]
    assert list(zip(live["indicator"], live["value"], live["unit"])) == [
        ("人均GDP", "82565", "元"), ("自然增长率", "-0.59", "‰"), ("自然增长率", "0.6", "千分点")]
    assert (f["status"] == "skipped").sum() == 4          # an absolute change and three contributions


def test_unknown_indicator_is_never_guessed(catalog):
    row = first("全年粮食产量1587吨。", catalog, year=2024)
    assert row["indicator"] == "粮食产量" and row["status"] == "review"
    assert "not in the catalog" in row["why"]
    row = first("区属规上工业总产值2981.8亿元。", catalog, year=2024)       # a narrower indicator than the name
    assert row["indicator"] == "区属规上工业总产值" and row["status"] == "review"
    row = first("全年规上工业营收增长8%。", catalog, year=2024)
    assert row["indicator"] == "revenue_above"                               # an alias


def test_quotes_are_verbatim_clauses(catalog):
    text = SOURCE.read_text(encoding="utf-8")
    squashed = "".join(text.split())
    f = figures(text, catalog, published="2025-01")
    assert all(q and q in squashed for q in f["quote"])
    by_value = dict(zip(f["value"] + f["unit"], f["quote"]))
    assert by_value["55%"] == "实现汽车产值1900亿元，增长55%"       # the subject's clause joins the quote
    assert by_value["23万辆"] == "新能源汽车产量增长5.6倍，达到23万辆"


# -- documents ------------------------------------------------------------------------------------------------
def test_encodings_and_html(tmp_path, catalog):
    from analysis.extract import read_document
    (tmp_path / "g.txt").write_bytes("规上工业增加值增长5.2%。".encode("gb18030"))
    assert read_document(tmp_path / "g.txt").encoding in ("GBK", "GB18030")
    (tmp_path / "p.html").write_text("<html><head><script>var x = 5;</script><style>p{}</style></head><body>"
                                     "<h2>一、工业</h2><p>2024年，渝北研发投入达到<b>129.2</b>亿元，总量连续7年全市第一。</p>"
                                     "</body></html>", encoding="utf-8")
    from analysis.extract import extract
    f = extract(tmp_path / "p.html", region="渝北区", catalog=catalog)
    assert list(zip(f["measure"], f["value"])) == [("level", "129.2"), ("rank", "1"), ("streak", "7")]


def test_docx(tmp_path, catalog):
    docx = pytest.importorskip("docx")
    d = docx.Document()
    d.add_paragraph("2024年，渝北区规上工业总产值突破4000亿元。")
    d.save(tmp_path / "d.docx")
    from analysis.extract import extract
    f = extract(tmp_path / "d.docx", region="渝北区", catalog=catalog)
    assert list(zip(f["indicator"], f["value"], f["qualifier"])) == [("ind_output_above", "4000", ">")]


def test_pdf_text_layer(tmp_path, catalog):
    weasyprint = pytest.importorskip("weasyprint")
    from analysis.export import font_subset
    text = "2024年，渝北研发投入达到129.2亿元。"
    # the CJK font cut to the text's characters as reports embed it (~1 s; WeasyPrint cutting the whole
    # font itself takes ~8 s)
    font = tmp_path / "cjk.otf"
    font.write_bytes(font_subset(text))
    html = (f"<style>@font-face {{font-family: cjk; src: url('{font.as_uri()}')}} body {{font-family: cjk}}"
            f"</style><p>{text}</p>")
    weasyprint.HTML(string=html).write_pdf(tmp_path / "a.pdf")
    from analysis.extract import extract
    f = extract(tmp_path / "a.pdf", region="渝北区", catalog=catalog)
    assert list(zip(f["indicator"], f["value"])) == [("rd_spending", "129.2")]


def _blank_pdf(path: Path) -> None:
    from pypdf import PdfWriter
    w = PdfWriter()
    w.add_blank_page(width=595, height=842)
    with open(path, "wb") as f:
        w.write(f)


@pytest.mark.parametrize("name, content, code, words", [
    ("empty.txt", b"", 1, "empty file"),
    ("blank.txt", b"  \n\n ", 1, "without any"),
    ("binary.txt", bytes(range(256)) * 4, 1, "binary content"),
    ("scan.pdf", None, 1, "without text"),
    ("broken.pdf", b"%PDF-1.4 not really", 1, "cannot read"),
    ("sheet.xlsx", b"PK\x03\x04", 2, "expected a .txt, .html, .docx or .pdf"),
    ("missing.txt", ..., 1, "no such file"),
])
def test_bad_input(tmp_path, cli, name, content, code, words):
    p = tmp_path / name
    if content is None:
        _blank_pdf(p)
    elif content is not ...:
        p.write_bytes(content)
    got, out, err = cli("extract", p, "--region", "渝北区")
    assert got == code, err
    assert words in err and "Traceback" not in err and err.startswith("error: "), err


def test_region_needed_when_the_text_names_none(tmp_path, cli):
    (tmp_path / "t.txt").write_text("规上工业增加值增长5%。", encoding="utf-8")
    code, out, err = cli("extract", tmp_path / "t.txt")
    assert code == 2 and "--region" in err


# -- the command, as a new user runs it ---------------------------------------------------------------------
def test_extract_then_check_data(tmp_path):
    out = tmp_path / "x.csv"
    res = run_cli("extract", "data/raw/000_c8145b6dd64842e1.txt", "--region", "渝北区", "--published", "2025-01",
                  "--out", out)
    assert res.returncode == 0, res.stderr
    assert "x.review.csv" in res.stdout
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["id", "region", "entity", "year", "base_year", "indicator", "measure", "value", "unit",
                                   "qualifier", "peer", "source", "quote", "note"]
    assert set(frame["source"]) == {"S000"}                   # found from the snapshot's path in sources.csv
    review = pd.read_csv(tmp_path / "x.review.csv", dtype=str, keep_default_na=False)
    assert {"confidence", "why", "status"} <= set(review.columns) and len(review) > len(frame)
    check = run_cli("check-data", out)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "quotes checked" in check.stdout


def test_second_gold_text_through_the_command(tmp_path):
    """A gold text whose source is registered beside the output (tests/gold/sources.csv)."""
    work = tmp_path / "gold"
    shutil.copytree(GOLD, work)
    out = work / "y.csv"
    res = run_cli("extract", work / "raw" / "luyang_2024_gongbao.txt", "--published", "2025", "--out", out,
                  "--score", work / "luyang_2024.csv")
    assert res.returncode == 0, res.stderr
    assert "庐阳区" in res.stdout and "figure (value, unit, qualifier, measure)  1.00" in res.stdout
    check = run_cli("check-data", out)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("sid", list(TEXTS))
def test_scores_meet_the_targets(sid, catalog):
    from analysis.extract import extract
    from analysis.extract.score import read_gold, score
    doc, gold, opts = TEXTS[sid]
    s = score(extract(doc, source=sid, catalog=catalog, **opts), read_gold(gold, sid), catalog)
    assert s["figure"].recall >= 0.90 and s["figure"].precision >= 0.85, s
    assert s["indicator"].recall >= 0.80 and s["year"].recall >= 0.90, s


def test_score_counts(catalog):
    from analysis.extract.score import score
    gold = pd.DataFrame({"indicator": ["gdp", "粮食产量", "gdp"], "measure": ["level", "level", "growth"],
                         "value": ["1000", "1587", "5"], "unit": ["亿元", "吨", "%"], "qualifier": ["", "", ""],
                         "year": ["2024"] * 3, "quote": ["a", "b", "c"]})
    cands = pd.DataFrame({"indicator": ["gdp", "", "gdp", "ind_va"], "measure": ["level", "level", "growth", "level"],
                          "value": ["10000000", "1587", "5", "3"], "unit": ["万元", "吨", "%", "亿元"],
                          "qualifier": ["exact"] * 4, "year": ["2024", "2024", "2023", "2024"],
                          "quote": ["a", "b", "c", "d"], "status": ["ready"] * 4})
    s = score(cands, gold, catalog)
    assert (s["figure"].right, s["figure"].candidates, s["figure"].gold) == (3, 4, 3)   # 1000亿元 = 10000000万元
    assert s["indicator"].right == 3          # 粮食产量 is not in the catalog; leaving it unnamed is right
    assert s["year"].right == 2


def test_gold_files_are_verbatim_and_registered():
    from analysis.data.reading import read_sources
    sources, problems = read_sources([GOLD / "x.csv"])
    assert not problems
    gold_sources = sources[sources["registry"] == str((GOLD / "sources.csv").resolve())]
    assert set(gold_sources["id"]) == {"G-LY", "G-JB", "G-JD"}
    for _, s in gold_sources.iterrows():
        data = Path(s["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == s["sha256"], s["id"]
        text = "".join(data.decode("utf-8").split())
        gold = pd.read_csv(GOLD / {"G-LY": "luyang_2024.csv", "G-JB": "jiangbei_2024.csv",
                                   "G-JD": "jiading_2024.csv"}[s["id"]], dtype=str, keep_default_na=False)
        assert set(gold["source"]) == {s["id"]}
        missing = [q for q in gold["quote"] if "".join(q.split()) not in text]
        assert not missing, missing


# -- review ---------------------------------------------------------------------------------------------------
def test_terminal_review_appends_accepted_rows(tmp_path):
    obs = tmp_path / "obs.csv"
    shutil.copy(DATA, obs)
    before = obs.read_text(encoding="utf-8")
    # accept the first, reject the second, skip the third, edit and accept the fourth, then quit
    answers = "a\nr\ns\ne\nnote=checked by hand\n\na\nq\n"
    res = subprocess.run([str(BIN / "analysis"), "extract", "data/raw/000_c8145b6dd64842e1.txt", "--region", "渝北区",
                          "--published", "2025-01", "--review", "--append", str(obs)],
                         input=answers, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "appended 2 rows" in res.stdout and "1 rejected, 1 skipped" in res.stdout
    after = pd.read_csv(obs, dtype=str, keep_default_na=False)
    assert obs.read_text(encoding="utf-8").startswith(before)
    new = after.iloc[-2:]
    assert list(new["id"]) == ["yb-058", "yb-059"]
    assert new.iloc[1]["note"] == "checked by hand"
    assert run_cli("check-data", obs).returncode == 0


def test_append_keeps_the_file_when_a_row_is_invalid(tmp_path, catalog):
    from analysis.errors import DataError
    from analysis.extract.review import append
    obs = tmp_path / "obs.csv"
    shutil.copy(DATA, obs)
    before = obs.read_bytes()
    bad = pd.DataFrame([{"region": "渝北区", "year": "2024", "indicator": "粮食产量", "measure": "level", "value": "1587",
                         "unit": "吨", "source": "S000", "quote": "不在原文中"}])
    with pytest.raises(DataError):
        append(bad, obs, catalog=catalog)
    assert obs.read_bytes() == before


def test_notebook_review(tmp_path):
    pm = pytest.importorskip("papermill")
    obs = tmp_path / "obs.csv"
    shutil.copy(DATA, obs)
    n = len(obs.read_text(encoding="utf-8").splitlines())
    out = tmp_path / "review.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "review_extract.ipynb"), str(out), cwd=str(ROOT / "notebooks"),
                        parameters={"append_to": str(obs), "accept": "ex-001,ex-004", "write": True,
                                    "gold": "data/observations.csv"},
                        progress_bar=False, kernel_name="python3")
    assert len(obs.read_text(encoding="utf-8").splitlines()) == n + 2
    assert run_cli("check-data", obs).returncode == 0


def test_review_notebook_is_committed_without_outputs():
    import json
    nb = json.loads((ROOT / "notebooks" / "review_extract.ipynb").read_text(encoding="utf-8"))
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code")
    assert [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]


def test_runs_in_seconds():
    """The whole command on the article, imports included, in a fresh process (2 shared cores)."""
    import time
    t = time.perf_counter()
    res = run_cli("extract", "data/raw/000_c8145b6dd64842e1.txt", "--region", "渝北区", "--published", "2025-01")
    assert res.returncode == 0, res.stderr
    assert time.perf_counter() - t < 15
