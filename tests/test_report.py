"""The report end to end: papermill executes the real notebook, the real PDF is read back with pypdf."""
import hashlib
import json
import csv
import io
import re
import shutil

import pytest
from pypdf import PdfReader

from conftest import ROOT, SCRIPT, copy_report_folder, run_cli

CJK = re.compile(r"[\u4e00-\u9fff]")


def pdf_text(path):
    return "\n".join(page.extract_text() for page in PdfReader(str(path)).pages)


def fonts_embedded(path):
    """(font name, embedded?) for every font used on every page."""
    out = []
    for page in PdfReader(str(path)).pages:
        fonts = page["/Resources"].get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            desc = font.get("/FontDescriptor")
            if desc is None and "/DescendantFonts" in font:
                desc = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            desc = desc.get_object() if desc is not None else {}
            out.append((str(font.get("/BaseFont")), any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3"))))
    return out


@pytest.fixture
def default_report(yubei_zh):
    """渝北区 2024 zh, HTML and PDF (the session's shared run, conftest.yubei_zh): (folder, process)."""
    return yubei_zh


def test_default_report_files(default_report):
    """Each language's six files, side by side in the region's folder (the batch of conftest.example_batch
    writes both)."""
    folder, res = default_report
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(f"industry_report{lang}{end}" for lang in ("", "_en") for end in (
        ".html", ".ipynb", ".pdf", "_checks.csv", "_metrics.csv", "_metrics.xlsx"))
    assert "Traceback" not in res.stderr
    nb = json.loads((folder / "industry_report.ipynb").read_text(encoding="utf-8"))
    assert nb["metadata"]["papermill"]["parameters"]["region"] == "渝北区"


def test_pdf_figures_fonts_and_pages(default_report):
    folder, _ = default_report
    pdf = folder / "industry_report.pdf"
    text = pdf_text(pdf)
    flat = text.replace("\n", "")
    for figure in ["不超过47.5%", "超过4000亿元", "约2442亿元", "不超过20.5%", "129.2亿元", "5.29%", "约1226亿元",
                   "约3.5万辆", "约173.2亿元"]:
        assert figure in flat, figure
    # every figure keeps its meaning; nothing more than the data knows
    assert "电子产业产值占规上工业总产值比重无法由公布数据确定" in flat and "约25%" not in flat
    for words in ["近3年年均复合增长率", "预计到2027年工业总产值超过7000亿元", "连续7年居重庆市区县首位",
                  "一、要点", "二、核心指标", "图1", "表1", "资料来源：《"]:
        assert words in flat, words
    html = (folder / "industry_report.html").read_text(encoding="utf-8")
    cells = {re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", html)}   # text, not markup
    assert "位次（国内50万元以上豪华车型）" in cells and "连续年数（重庆市区县）" in cells
    assert "达到超过" not in flat and "2,442" not in flat
    assert "目录" in text and re.search(r"第\s*2\s*页\s*/\s*共", text) and "数据来源" in text
    fonts = fonts_embedded(pdf)
    assert fonts and all(emb for _, emb in fonts), fonts
    assert any("CJK" in name for name, _ in fonts)
    assert len(PdfReader(str(pdf)).pages) >= 5


@pytest.mark.parametrize("name", ["industry_report", "industry_report_en"])
def test_the_pdf_shows_the_charts_pixels_of_the_html(yubei_zh, name):
    """Every chart of the HTML is in the PDF with the same pixels, and its compressed rows went into the
    PDF as they are (analysis.export.pass_png_through): no chart decoded and compressed again."""
    import base64
    import numpy as np
    from PIL import Image
    from analysis.export import png_rows
    folder, _ = yubei_zh
    html = (folder / f"{name}.html").read_text(encoding="utf-8")
    pngs = [base64.b64decode(m) for m in re.findall(r'<img[^>]+src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]
    assert len(pngs) >= 4
    for data in pngs:
        assert Image.open(io.BytesIO(data)).mode == "RGB" and png_rows(data) is not None
    streams = {}                                        # the pages share one resource dictionary
    for page in PdfReader(str(folder / f"{name}.pdf")).pages:
        for ref in page["/Resources"].get("/XObject", {}).values():
            obj = ref.get_object()
            if obj.get("/Subtype") == "/Image":
                streams.setdefault(ref.idnum, obj)
    streams = [streams[k] for k in sorted(streams)]    # in the order they were written: the page's
    assert len(streams) == len(pngs)
    for data, obj in zip(pngs, streams):
        assert "/SMask" not in obj                       # opaque: no alpha stream
        assert obj._data == png_rows(data)              # the rows as they are
        shown = np.asarray(obj.decode_as_image())      # pypdf undoes the compression and the predictors
        assert (shown == np.asarray(Image.open(io.BytesIO(data)))).all()


def test_every_chinese_character_of_the_html_is_in_the_pdf(default_report):
    folder, _ = default_report
    html = (folder / "industry_report.html").read_text(encoding="utf-8")
    body = re.sub(r"<style.*?</style>|<[^>]+>", " ", html, flags=re.S)
    html_chars = set(CJK.findall(body))
    pdf_chars = set(CJK.findall(pdf_text(folder / "industry_report.pdf")))
    assert len(html_chars) > 200
    assert html_chars - pdf_chars == set()


def visible_text(html):
    """The text a reader sees in the HTML report: no head (style, title), no tags, entities decoded."""
    import html as h
    body = re.search(r"<body[^>]*>(.*)</body>", html, re.S).group(1)
    return h.unescape(re.sub(r"<[^>]+>", " ", body))


def test_every_character_of_the_html_copies_out_of_the_pdf(default_report):
    """Every glyph maps back to its text: dashes, ellipses, full-width punctuation included."""
    folder, _ = default_report
    html = visible_text((folder / "industry_report.html").read_text(encoding="utf-8"))
    pdf = pdf_text(folder / "industry_report.pdf")
    missing = {c for c in html if not c.isspace()} - set(pdf)
    assert missing == set(), sorted(missing)
    assert "50—100亿级" in html and "50—100亿级" in pdf.replace("\n", "")


def test_cover_has_no_running_header_or_page_number(default_report):
    folder, _ = default_report
    pages = [p.extract_text() for p in PdfReader(str(folder / "industry_report.pdf")).pages]
    assert "目录" in pages[0] and not re.search(r"页\s*/\s*共", pages[0])
    assert re.search(r"第\s*2\s*页\s*/\s*共", pages[1])
    assert pages[0].count("工业经济分析报告") == 1          # the title, not a running header above it


def test_html_self_contained_without_code(default_report):
    folder, _ = default_report
    html = (folder / "industry_report.html").read_text(encoding="utf-8")
    assert "from analysis" not in html and "report.headline()" not in html
    assert "In&nbsp;[" not in html and "input_area" not in html and "jp-InputArea" not in html
    assert html.count("data:image/png;base64,") >= 4
    assert "@font-face" in html and "data:font/otf;base64," in html
    assert re.search(r'<nav class="toc">.*?href="#sec-headline"', html, re.S)
    assert not re.search(r"""(src|href)=["']https?://""", html)
    # every element names the CJK font
    assert re.search(r'html, body, h1, h2, h3.*?font-family: "Noto Sans CJK SC"', html, re.S)


def test_metrics_files_agree_with_cli(default_report, cli):
    import pandas as pd
    folder, _ = default_report
    sheet = pd.read_excel(folder / "industry_report_metrics.xlsx").set_index("metric")
    code, out, _ = cli("metrics", "--region", "渝北区", "--year", "2024", "--format", "csv")
    import io
    cli_m = pd.read_csv(io.StringIO(out)).query("record == 'metric'").set_index("metric")
    assert sheet.loc["gdp_implied_by_rd", "value"] == pytest.approx(cli_m.loc["gdp_implied_by_rd", "value"])
    assert sheet.loc["share_auto_output", "display"] == cli_m.loc["share_auto_output", "display"] == "不超过47.5%"


def test_english_report(yubei_en):
    folder, res = yubei_en
    assert "Traceback" not in res.stderr
    pdf = folder / "industry_report_en.pdf"
    text = pdf_text(pdf)
    assert "Key figures" in text and "Contents" in text and "Page 2 of" in text
    flat = text.replace("\n", " ")
    assert "at most 47.5%" in flat and "Yubei District" in flat and "Figure 1." in flat and "Table 1." in flat
    assert "4,000" in flat or "400 bn yuan" in flat


def text_past_the_right_margin(path, margin_mm=18.0, tolerance_mm=2.5):
    """(page, mm past the margin, text) for each run of text that ends beyond the page's right margin.
    A run's end is its start (from the PDF's text and current transformation matrices) plus its
    width in the bundled font's advances at its size; the tolerance covers kerning and the table of
    contents' leader dots, which are spaced wider than the dots' advances."""
    from analysis.export import text_ems
    mm = 72 / 25.4
    found = []
    for no, page in enumerate(PdfReader(str(path)).pages, 1):
        right = float(page.mediabox.width) - margin_mm * mm

        def visit(text, cm, tm, font, size, no=no, right=right):
            if text.strip():
                x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
                end = x + size * (tm[0] * cm[0] + tm[1] * cm[2]) * text_ems(text.rstrip("\n"))
                if end > right + tolerance_mm * mm:
                    found.append((no, round((end - right) / mm, 1), text.strip()[:40]))
        page.extract_text(visitor_text=visit)
    return found


@pytest.mark.parametrize("name", ["industry_report.pdf", "industry_report_en.pdf"])
def test_printed_text_stays_inside_the_right_margin(yubei_zh, name):
    """Every table fits the text width in both languages: the Chinese table of quotes (seven columns of
    short terms, each kept on one line) once ran 7 mm past the margin (its 来源 column), which this finds."""
    pdf = yubei_zh[0] / name
    assert text_past_the_right_margin(pdf) == []
    assert len(text_past_the_right_margin(pdf, margin_mm=60)) > 20    # the measure does see long lines


def test_format_pdf_writes_the_pdf_alone(peer_reports):
    """--format pdf (the solo run of peer_reports): the PDF and the data files, no HTML."""
    folder = peer_reports["solo"].parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "industry_report.ipynb", "industry_report.pdf", "industry_report_checks.csv", "industry_report_metrics.csv",
        "industry_report_metrics.xlsx"]


def test_second_region_from_a_data_file_with_escaping(example_a):
    """A synthetic region (conftest.example_a); its first quote holds <script>, which must come out as text."""
    folder, res = example_a
    assert "Traceback" not in res.stderr
    html = (folder / "industry_report.html").read_text(encoding="utf-8")
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = pdf_text(folder / "industry_report.pdf")
    assert "示例区A" in text and "示例区A2024年工业经济分析报告" in text.replace("\n", "")
    assert "渝北区" not in text


def _failing_notebook(tmp_path):
    nb = json.loads((ROOT / "notebooks" / "industry_report.ipynb").read_text(encoding="utf-8"))
    nb["cells"].insert(4, {"cell_type": "code", "execution_count": None, "id": "boom", "metadata": {}, "outputs": [],
                           "source": ["raise ValueError('boom: a broken section')"]})
    (tmp_path / "broken").mkdir()
    path = tmp_path / "broken" / "industry_report.ipynb"   # same name: it would replace the earlier report
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    return path


def test_failing_notebook_keeps_earlier_report(tmp_path, yubei_zh):
    out = tmp_path / "out"
    folder = out / "渝北区" / "2024"    # an earlier HTML report: the shared one's files, its PDF left out
    copy_report_folder(yubei_zh[0], folder, skip={"industry_report.pdf"})
    before = hashlib.sha256((folder / "industry_report.html").read_bytes()).hexdigest()
    bad = run_cli("report", "--region", "渝北区", "--year", "2024", "--out", out, "--notebook", _failing_notebook(tmp_path))
    assert bad.returncode == 1
    assert "ValueError: boom: a broken section" in bad.stderr
    assert "failed in cell 5 (raise ValueError('boom: a broken section'))" in bad.stderr  # as the analyst counts
    assert "Traceback" not in bad.stderr
    failed = folder / "failed" / "industry_report.ipynb"
    assert failed.is_file() and "boom" in failed.read_text(encoding="utf-8")
    assert not (folder / "industry_report.pdf").exists()  # the failed run wrote no PDF
    assert hashlib.sha256((folder / "industry_report.html").read_bytes()).hexdigest() == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".staging")]


# The refused commands below run in this process (analysis.cli.main, as ``cli``): what is checked is
# the message, the exit code and that nothing was written, which a subprocess does not change. One
# refusal of each kind still goes through the console script: a -p name here (exit 2), a region the
# data lacks in test_run.test_a_request_failing_against_its_data_leaves_no_kernel (exit 1), argparse's
# own errors in test_run.test_bad_options_exit_2_naming_the_option_at_once.

def test_rejected_parameter_name(tmp_path, cli):
    res = run_cli("report", "--region", "渝北区", "--year", "2024", "--out", tmp_path, "-p", "a=1\nimport os", "1")
    assert res.returncode == 2
    assert "expected a parameter name of industry_report.ipynb" in res.stderr and "found 'a=1\\nimport os'" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "渝北区").exists()
    code, _, err = cli("report", "--region", "渝北区", "--year", "2024", "--out", tmp_path, "-p", "colour", "red")
    assert code == 2 and "found an unknown name 'colour'" in err


@pytest.mark.parametrize("name, says", [
    ("region", "region has its own option; use --region instead"), ("year", "year has its own option; use --year"),
    ("lang", "use --lang"), ("data", "use --data"), ("title", "use --title"),
    ("handover", "handover is set by analysis itself")])
def test_parameters_with_their_own_option_are_refused(tmp_path, cli, name, says):
    code, _, err = cli("report", "--region", "渝北区", "--year", "2024", "--out", tmp_path, "-p", name, "江北区")
    assert code == 2, err
    assert f"error: -p {name}: " in err and says in err
    assert "Traceback" not in err and not any(tmp_path.iterdir())


def test_a_target_year_is_not_a_report_year(tmp_path, cli):
    code, _, err = cli("report", "--region", "渝北区", "--year", "2027", "--out", tmp_path)
    assert code == 1
    assert "--year: expected a year with observed data for 渝北区 (2024), found 2027" in err
    assert "Traceback" not in err and not any(tmp_path.iterdir())


def test_help_notebook_lists_the_parameters_cell(cli):
    code, out, err = cli("report", "--help-notebook")
    assert code == 0, err
    assert "region" in out and "--region" in out and "地区 region, as written in the data" in out
    assert "报告年份" in out


def test_unknown_region_and_year(tmp_path, cli):
    code, _, err = cli("report", "--region", "江北区", "--year", "2024", "--out", tmp_path)
    assert code == 1 and "渝北区" in err and "found '江北区'" in err
    code, _, err = cli("report", "--region", "渝北区", "--year", "2023", "--out", tmp_path)
    assert code == 1 and "2024" in err
    assert "Traceback" not in err
    assert not (tmp_path / "江北区").exists()


def test_notebook_is_committed_without_outputs():
    nb = json.loads((ROOT / "notebooks" / "industry_report.ipynb").read_text(encoding="utf-8"))
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code")
    tags = [c["metadata"].get("tags", []) for c in nb["cells"]]
    assert sum("parameters" in t for t in tags) == 1


# ------------------------------------------------------------------------------ comparison with peers
#: a parent and six districts of two levels (区 and 县): levels of all six (two bounded by 超, one by
#: 近), growth of all six, GDP of four; the report region 乙区 states ranks (one agrees, one does not,
#: one cannot be checked) and a previous level (a nominal growth beside the real one)
PEERS = """id,region,entity,year,base_year,indicator,measure,value,unit,qualifier,peer,source,quote,note
s-01,示例市,,2024,,ind_output_above,level,30000,亿元,exact,,EX1,示例数据（合成）,
s-02,示例市,,2024,,ind_va_above,growth,7.5,%,exact,,EX1,示例数据（合成）,
s-03,示例市,,2024,,gdp,level,20000,亿元,exact,,EX1,示例数据（合成）,
s-10,甲区,,2024,,ind_output_above,level,4000,亿元,>,,EX1,示例数据（合成）,
s-11,乙区,,2024,,ind_output_above,level,3500,亿元,exact,,EX1,示例数据（合成）,
s-12,丙区,,2024,,ind_output_above,level,2700,亿元,>,,EX1,示例数据（合成）,
s-13,丁县,,2024,,ind_output_above,level,800,亿元,exact,,EX1,示例数据（合成）,
s-14,戊县,,2024,,ind_output_above,level,600,亿元,近,,EX1,示例数据（合成）,
s-15,己县,,2024,,ind_output_above,level,500,亿元,exact,,EX1,示例数据（合成）,
s-20,甲区,,2024,,ind_va_above,growth,9.5,%,exact,,EX1,示例数据（合成）,
s-21,乙区,,2024,,ind_va_above,growth,20,%,>,,EX1,示例数据（合成）,
s-22,丙区,,2024,,ind_va_above,growth,12,%,exact,,EX1,示例数据（合成）,
s-23,丁县,,2024,,ind_va_above,growth,15,%,exact,,EX1,示例数据（合成）,
s-24,戊县,,2024,,ind_va_above,growth,6,%,exact,,EX1,示例数据（合成）,
s-25,己县,,2024,,ind_va_above,growth,8,%,近,,EX1,示例数据（合成）,
s-30,甲区,,2024,,gdp,level,1800,亿元,exact,,EX1,示例数据（合成）,
s-31,乙区,,2024,,gdp,level,1500,亿元,exact,,EX1,示例数据（合成）,
s-32,丁县,,2024,,gdp,level,600,亿元,exact,,EX1,示例数据（合成）,
s-33,戊县,,2024,,gdp,level,400,亿元,exact,,EX1,示例数据（合成）,
s-40,乙区,,2023,,ind_output_above,level,3000,亿元,exact,,EX1,示例数据（合成）,
s-41,乙区,,2024,,ind_va_above,growth_rank,1,位,exact,示例市,EX1,示例数据（合成）,
s-42,乙区,,2024,,ind_output_above,rank,1,位,exact,示例市,EX1,示例数据（合成）,
s-43,乙区,,2024,,gdp,rank,2,位,exact,示例市,EX1,示例数据（合成）,
"""
REGIONS = """region,parent,en
示例市,,Example City
甲区,示例市,Jia District
乙区,示例市,Yi District
丙区,示例市,Bing District
丁县,示例市,Ding County
戊县,示例市,Wu County
己县,示例市,Ji County
"""
SOURCES = """id,title,publisher,date,file,sha256,note
EX1,合成示例数据（一个市及其六个区县，非真实统计）,,2026,,,made-up figures (analysis test suite)
"""


def write_peers(folder, *, solo=False):
    """The data set in ``folder``; ``solo``: only 乙区's rows and no regions.csv (no parent, no peers)."""
    folder.mkdir(parents=True)
    rows = PEERS.splitlines(keepends=True)
    if solo:
        rows = rows[:1] + [r for r in rows[1:] if ",乙区," in r]
    else:
        (folder / "regions.csv").write_text(REGIONS, encoding="utf-8")
    (folder / "obs.csv").write_text("".join(rows), encoding="utf-8")
    (folder / "sources.csv").write_text(SOURCES, encoding="utf-8")
    return folder / "obs.csv"


def pdf_images(path):
    """How many distinct images a PDF draws (WeasyPrint lists them in resources shared by every page)."""
    found = set()
    for page in PdfReader(str(path)).pages:
        xobjects = page["/Resources"].get("/XObject", {}).get_object()
        found |= {ref.idnum for ref in xobjects.values() if ref.get_object().get("/Subtype") == "/Image"}
    return len(found)


@pytest.fixture(scope="module")
def peer_reports(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("peers")
    data, solo = write_peers(tmp / "data"), write_peers(tmp / "solo", solo=True)
    for lang in ("zh", "en"):
        res = run_cli("report", "--region", "乙区", "--year", "2024", "--lang", lang, "--data", data, "--out", tmp / "out")
        assert res.returncode == 0, res.stderr
    res = run_cli("report", "--region", "乙区", "--year", "2024", "--data", solo, "--format", "pdf", "--out", tmp / "solo-out")
    assert res.returncode == 0, res.stderr
    return {"zh": tmp / "out" / "乙区" / "2024" / "industry_report.pdf",
            "en": tmp / "out" / "乙区" / "2024" / "industry_report_en.pdf",
            "solo": tmp / "solo-out" / "乙区" / "2024" / "industry_report.pdf", "data": data}


def test_comparison_section_in_chinese(peer_reports):
    pdf = peer_reports["zh"]
    flat = pdf_text(pdf).replace("\n", "")
    heads = re.findall(r"[一二三四五六七八九十]+、(增长|区域比较|数据核对)", flat)
    assert list(dict.fromkeys(heads)) == ["增长", "区域比较", "数据核对"]   # numbered, after the growth section
    for words in ["规上工业总产值达到3500亿元，占全市比重11.7%，规模居全市6个区县第2至3位",   # bounded peers: an interval
                  "高于全市（7.5%）超过12.4个百分点，增速居全市6个区县第1位",
                  "规模在示例市有数据的4个区县（共6个）中居第2位",                          # GDP of four of six
                  "与示例市及所辖区县比较", "第2位（4个有数据/共6个）", "资料来源：《合成示例数据"]:
        assert words in flat, words
    assert re.search(r"图\d+　?2024年示例市各区县规上工业总产值（亿元）", flat)
    assert re.search(r"图\d+　?2024年示例市各区县规上工业增加值增速（%）", flat)
    # the stated ranks: agree and disagree as rows, the partial one says why it cannot be checked
    assert "无法核对：数据仅覆盖示例市6个成员中的4个" in flat and "第2至3位" in flat
    assert "规上工业总产值名义增长率（按现价计算）" in flat       # a growth of two money levels, beside a real one
    assert pdf_images(pdf) == pdf_images(peer_reports["solo"]) + 2    # a chart by level and one by growth
    assert "区域比较" not in pdf_text(peer_reports["solo"])            # no parent, no peers: no section
    from test_lint import assert_clean
    assert_clean(pdf)
    assert_clean(pdf.with_suffix(".html"))


def test_comparison_section_in_english(peer_reports):
    pdf = peer_reports["en"]
    flat = re.sub(r"\s+", " ", pdf_text(pdf))
    assert re.search(r"\d+\. Comparison with peers", flat)
    for words in ["11.7% of Example City's total and ranked No. 2 to 3 by size of the 6 districts and counties of "
                  "Example City", "more than 12.4 pp above Example City's 7.5%",
                  "ranked No. 2 by size of the 4 districts and counties of Example City with data (of 6)",
                  "Comparison with Example City and its districts and counties", "nominal growth at current prices"]:
        assert words in flat, words
    assert re.search(r"Figure \d+\. Gross industrial output, enterprises above designated size of Example City's "
                     r"districts and counties, 2024 \(bn yuan\)", flat)
    body = flat.split("Comparison with peers")[-1].split("Sources")[0]
    assert not CJK.search(body.replace("合成示例数据（一个市及其六个区县，非真实统计）", ""))   # source titles aside
    from test_lint import assert_clean
    assert_clean(pdf)
    assert_clean(pdf.with_suffix(".html"))


def test_the_peer_chart_shows_the_peers_sorted_never_the_parent(peer_reports, monkeypatch):
    from analysis import charts, sections
    from analysis.report import open_report
    drawn = []

    def capture(labels, values, *args, **kw):
        drawn.append((labels, values, kw))
        return real(labels, values, *args, **kw)
    real = charts.bounded_bars
    monkeypatch.setattr(charts, "bounded_bars", capture)
    rep = open_report(region="乙区", year=2024, lang="en", data=str(peer_reports["data"]), show=False)
    sections.comparison(rep)
    (level, lv, lkw), (growth, gv, gkw) = drawn
    assert level == ["Jia District", "Yi District", "Bing District", "Ding County", "Wu County", "Ji County"]
    assert growth[0] == "Yi District" and gv == sorted(gv, reverse=True)
    assert "Example City" not in level + growth                       # the parent is never a bar
    assert lkw["highlight"] == 1 and gkw["highlight"] == 0
    assert gkw["reference"] == 7.5 and lkw["reference"] is None       # the parent's growth: a reference line
    assert lkw["qualifiers"][4] == "近" and lkw["qualifiers"][0] == ">"
    sections.comparison(rep, charts=["growth_rank:ind_va_above"], indicators=["ind_va_above"])
    assert len(drawn) == 3 and drawn[-1][0][0] == "Yi District"


def test_default_report_has_no_comparison_section(default_report):
    folder, _ = default_report
    html = (folder / "industry_report.html").read_text(encoding="utf-8")
    assert "sec-comparison" not in html and "区域比较" not in pdf_text(folder / "industry_report.pdf")
    flat = pdf_text(folder / "industry_report.pdf").replace("\n", "")
    # the stated ranks that cannot be checked are one sentence, not a row each
    assert re.search(r"以下公布的位次因.*而无法核对：规上工业增加值（增速位次）、", flat)
    assert "位次按同级地区数据重算" not in flat


def test_a_ratio_of_last_years_denominator_is_explained(tmp_path):
    """The shipped data plus two years of GDP: the stated R&D intensity (5.29%) is R&D ÷ the 2023 GDP."""
    d = tmp_path / "data"
    shutil.copytree(ROOT / "data" / "raw", d / "raw")
    obs = (ROOT / "data" / "observations.csv").read_text(encoding="utf-8").rstrip("\n") + "\n"
    obs += ("gx-001,渝北区,,2023,,gdp,level,2442,亿元,exact,,EX1,示例（合成）,\n"
            "gx-002,渝北区,,2024,,gdp,level,2600,亿元,exact,,EX1,示例（合成）,\n")
    (d / "obs.csv").write_text(obs, encoding="utf-8")
    shipped = list(csv.DictReader(io.StringIO((ROOT / "data" / "sources.csv").read_text(encoding="utf-8"))))
    text = io.StringIO()
    writer = csv.DictWriter(text, list(shipped[0]), restval="")
    writer.writeheader()
    writer.writerows([*shipped, *csv.DictReader(io.StringIO(SOURCES))])   # the registry's columns, whatever they are
    (d / "sources.csv").write_text(text.getvalue(), encoding="utf-8")
    res = run_cli("report", "--region", "渝北区", "--year", "2024", "--data", d / "obs.csv", "--out", tmp_path / "out")
    assert res.returncode == 0, res.stderr
    pdf = tmp_path / "out" / "渝北区" / "2024" / "industry_report.pdf"
    flat = pdf_text(pdf).replace("\n", "")
    assert ("公布的研发投入强度5.29%与按2023年地区生产总值计算的结果一致，与按2024年计算的结果不一致，"
            "推断系以上年地区生产总值为分母。") in flat
    assert "比率按2023年地区生产总值重算" in flat and "比率按2024年地区生产总值重算" in flat
    assert "推算的地区生产总值（2023年）：约2442亿元" in flat
    html = pdf.with_suffix(".html").read_text(encoding="utf-8")
    rows = [re.sub(r"<[^>]+>", "", r) for r in re.findall(r"<tr>(.*?)</tr>", html, re.S)]
    implied = [r for r in rows if "推算的地区生产总值" in r and "2442" in r]
    assert implied and all("2023" in r and "2024" not in r for r in implied)   # labelled with the year it matches
    assert "地区生产总值名义增长率（按现价计算）" in flat
    from test_lint import assert_clean
    assert_clean(pdf)
    assert_clean(pdf.with_suffix(".html"))


def test_a_stated_rank_the_data_contradict_gets_a_note_where_it_is_stated(tmp_path):
    from analysis import sections
    from analysis.report import open_report
    rep = open_report(region="乙区", year=2024, lang="zh", data=str(write_peers(tmp_path / "data")), show=False)
    c = rep.checks
    # the rule stated plainly: the first stated-rank check that disagrees and names the figure
    rule = {i: c[(c["check"] == "stated-rank") & (c["status"] == "disagree")
                 & c["stated_ids"].map(lambda ids: ids is not None and i in list(ids))] for i in rep.observations["id"]}
    refs = {i: sections._contradicted(rep, i) for i in rep.observations["id"]}
    assert {i for i, r in refs.items() if r} == {i for i, hit in rule.items() if len(hit)} == {"s-42"}
    row = rule["s-42"].iloc[0]
    assert (row["computed_lower"], row["computed_upper"]) == (2, 3)
    assert refs["s-42"] == rep.msg("numbering.note_ref", n="1")
    assert rep.notes == ["按数据中示例市各成员的数值计算，位次为第2至3位，与公布的位次不一致（见“数据核对”）。"]
    assert sections._contradicted(rep, "s-42") == refs["s-42"] and len(rep.notes) == 1   # said once
