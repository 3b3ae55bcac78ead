"""The notebook as an analyst uses it: its own cells in the report, the frames it shows, and how it
runs by hand (papermill without ``analysis report``, as JupyterLab would run it)."""
import json
import os
import subprocess

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader

from conftest import BIN, ROOT

ANALYST_CELL = """\
import matplotlib.pyplot as plt
rep.heading("分析员自己的小节")
fig, ax = plt.subplots()
ax.bar(["甲", "乙"], [3, 5])
ax.set_title("分析员自绘图表")
plt.show()
"""


def _notebook_with_own_cell(folder):
    """A copy of the report notebook named energy_report.ipynb, with an analyst's chart after the growth section."""
    nb = json.loads((ROOT / "notebooks" / "industry_report.ipynb").read_text(encoding="utf-8"))
    at = next(i for i, c in enumerate(nb["cells"]) if "sections.growth(rep)" in "".join(c["source"]))
    nb["cells"].insert(at + 1, {"cell_type": "code", "execution_count": None, "id": "own-chart", "metadata": {},
                                "outputs": [], "source": ANALYST_CELL.splitlines(keepends=True)})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "energy_report.ipynb"
    path.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def own_report(tmp_path_factory):
    """One run of the copied notebook, traced: every load and computation is recorded with its process id."""
    tmp = tmp_path_factory.mktemp("own")
    nb = _notebook_with_own_cell(tmp / "some")
    trace = tmp / "trace.txt"
    env = {**os.environ, "ANALYSIS_TRACE": str(trace)}
    proc = subprocess.run([str(BIN / "analysis"), "report", "--region", "渝北区", "--year", "2024", "--notebook",
                           str(nb), "--out", str(tmp / "out")], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return tmp / "out" / "渝北区" / "2024", trace, proc


def test_outputs_are_named_after_the_notebook(own_report):
    folder, _, _ = own_report
    assert sorted(p.name for p in folder.iterdir()) == [
        "energy_report.html", "energy_report.ipynb", "energy_report.pdf", "energy_report_checks.csv",
        "energy_report_metrics.csv", "energy_report_metrics.xlsx"]


def test_data_is_loaded_and_computed_once_in_the_parent(own_report):
    _, trace, _ = own_report
    events = [line.split() for line in trace.read_text().splitlines()]
    assert [e for _, e in events] == ["catalog", "load", "compute"]
    pids = {pid for pid, _ in events}
    assert len(pids) == 1   # the parent process; the kernel (another pid) neither parsed, loaded nor computed


def _cell_html(nb, tag):
    cell = next(c for c in nb["cells"] if tag in c["metadata"].get("tags", []))
    return "".join("".join(o["data"]["text/html"]) for o in cell["outputs"] if "text/html" in o.get("data", {}))


def _html_table(html):
    soup = BeautifulSoup(html, "html.parser")
    table = soup.find("table")
    heads = [th.get_text() for th in table.find("thead").find_all("tr")[0].find_all("th")][1:]  # the index column
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")]
    return pd.DataFrame(rows, columns=heads)


def test_metrics_file_holds_what_the_notebook_displayed(own_report):
    folder, _, _ = own_report
    nb = json.loads((folder / "energy_report.ipynb").read_text(encoding="utf-8"))
    shown = _html_table(_cell_html(nb, "metrics"))
    published = pd.read_csv(folder / "energy_report_metrics.csv", keep_default_na=False)
    assert len(shown) == len(published) >= 8
    assert list(shown["metric"]) == list(published["metric"])
    assert list(shown["display"]) == list(published["display"])
    for a, b in zip(shown["value"], published["value"]):
        assert (a in ("NaN", "nan", "<NA>") and b == "") or float(a) == pytest.approx(float(b), rel=1e-5)
    sheet = pd.read_excel(folder / "energy_report_metrics.xlsx", sheet_name=None)
    assert set(sheet) == {"metrics", "checks"} and list(sheet["metrics"]["metric"]) == list(published["metric"])
    checks = pd.read_csv(folder / "energy_report_checks.csv")
    assert list(checks["status"]) == [s for s in _html_table(_cell_html(nb, "checks"))["status"]]


def test_analysts_own_chart_appears_in_html_and_pdf_in_place(own_report, yubei_zh):
    folder, _, _ = own_report
    html = (folder / "energy_report.html").read_text(encoding="utf-8")
    assert "分析员自己的小节" in html
    growth, own, innovation = (html.index(s) for s in ('id="sec-growth"', "分析员自己的小节</h2>", 'id="sec-innovation"'))
    assert growth < own < innovation
    between = html[own:innovation]
    assert between.count("data:image/png;base64,") == 1     # the analyst's chart, in place
    assert 'href="#sec-' in html and "、分析员自己的小节</a>" in html   # and in the table of contents
    assert "rep.heading" not in html and "plt.show" not in html          # no code
    pdf = PdfReader(str(folder / "energy_report.pdf"))
    text = "".join(p.extract_text() for p in pdf.pages)
    assert "分析员自己的小节" in text
    base = PdfReader(str(yubei_zh[0] / "industry_report.pdf"))     # the default report (conftest)
    assert len(_images(pdf)) == len(_images(base)) + 1


def _images(reader):
    """Distinct image objects drawn on the pages (a PDF may list shared images on every page)."""
    ids = set()
    for page in reader.pages:
        stack = [page["/Resources"].get("/XObject", {})]
        while stack:
            for ref in stack.pop().values():
                obj = ref.get_object()
                if obj.get("/Subtype") == "/Image":
                    ids.add(ref.idnum)
                elif obj.get("/Subtype") == "/Form":
                    stack.append(obj.get("/Resources", {}).get("/XObject", {}))
    return ids


def _run_by_hand(tmp_path, **parameters):
    """Execute the notebook as JupyterLab would: papermill in notebooks/, no handover."""
    import papermill as pm
    out = tmp_path / "run.ipynb"
    try:
        pm.execute_notebook(str(ROOT / "notebooks" / "industry_report.ipynb"), str(out), parameters=parameters,
                            cwd=str(ROOT / "notebooks"), progress_bar=False, kernel_name="python3")
        return json.loads(out.read_text(encoding="utf-8")), None
    except pm.PapermillExecutionError as exc:
        return json.loads(out.read_text(encoding="utf-8")), exc


def test_by_hand_with_a_relative_data_path_from_notebooks(tmp_path):
    nb, err = _run_by_hand(tmp_path, region="示例区A", year=2024, data="examples/two_regions.csv")
    assert err is None
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for c in nb["cells"] for o in c.get("outputs", []))
    assert "示例区A2024年工业经济分析报告" in html
    assert "数据日期" in html


def test_by_hand_with_a_region_not_in_the_data_stops_in_the_first_cell(tmp_path):
    nb, err = _run_by_hand(tmp_path, region="江北区", year=2024)
    assert err is not None and err.ename == "AnalysisError"
    assert "parameter region: expected one of the regions in the data (渝北区), found '江北区'" in err.evalue
    sections = [c for c in nb["cells"] if "sections." in "".join(c["source"]) and "import" not in "".join(c["source"])]
    assert all(not c.get("outputs") for c in sections)   # no empty report was rendered


@pytest.fixture(scope="module")
def rep():
    """The report's frames in this process (as a notebook run by hand prepares them), displaying nothing."""
    from analysis.report import open_report
    return open_report(region="渝北区", year=2024, show=False)


def test_section_choices_are_checked(rep):
    from analysis import sections
    from analysis.errors import UsageError
    with pytest.raises(UsageError, match=r"growth\(indicators=…\): expected indicator codes of catalog.yaml "
                                         r"\(did you mean auto_output.*found 'auto_outptu'"):
        sections.growth(rep, indicators=["auto_outptu"])
    with pytest.raises(UsageError, match="structure.*expected metric codes"):
        sections.structure(rep, shares=["no_such_share"])


def test_a_section_with_nothing_to_show_shows_no_heading(rep):
    from analysis import sections
    before = len(rep.parts)
    sections.growth(rep, chart=False, bases=False)
    assert len(rep.parts) == before
    sections.growth(rep, indicators=["auto_output"], chart=False)
    shown = "".join(html for html, _ in rep.parts[before:])
    assert "增长" in shown and "data:image/png" not in shown
