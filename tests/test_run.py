"""analysis.run and analysis.kernel under hostile names and faults: outputs stay inside --out, text
from the data never becomes a spreadsheet formula or code, and no kernel, staging folder or
traceback outlives a run that fails or is interrupted (issue 11)."""
import csv
import html
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import BIN, ROOT, run_cli

EXAMPLE = ROOT / "examples" / "two_regions.csv"
FORMULA = '=HYPERLINK("http://evil.example/","click")'


def data_with(folder: Path, region: str, entity: str = "") -> Path:
    """The example data with 示例区A renamed to ``region``; with ``entity``, two more figures of that entity."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = list(csv.reader(EXAMPLE.open(encoding="utf-8")))
    for r in rows[1:]:
        if r[1] == "示例区A":
            r[1] = region
    if entity:
        extra = [r[:] for r in rows[1:] if r[0] in ("ex-003", "ex-004")]
        for i, r in enumerate(extra):
            r[0], r[2], r[7] = f"ex-9{i}", entity, str(100 + 20 * i)
        rows += extra
    with (folder / "obs.csv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    shutil.copy(ROOT / "examples" / "sources.csv", folder / "sources.csv")
    return folder / "obs.csv"


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# ------------------------------------------------------------------ B: one safe name for paths

# The reports of this section run in this process (analysis.cli.main, as ``cli``): the real notebook
# in a real kernel, as from the command line; what is checked is where the files go and what they
# hold, which a subprocess does not change (the console script runs reports in test_report and
# conftest's shared reports).

@pytest.mark.parametrize("region", ["..", "示例区{data}", "a/b<c>`id`$HOME'\"", "x" * 100])
def test_a_hostile_region_is_written_inside_out_and_shown_as_written(tmp_path, cli, region):
    data = data_with(tmp_path / "d", region)
    out = tmp_path / "out"
    code, _, err = cli("report", "--region", region, "--year", 2024, "--data", data, "--out", out, "--format", "html")
    assert code == 0, err
    assert "Traceback" not in err
    written = files_under(out)
    assert written and all(out.resolve() in p.resolve().parents for p in written)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "out"]   # nothing beside out (OUT/../2024 was)
    [folder] = {p.parent for p in written}
    assert folder.parent.parent == out and folder.name == "2024"
    page = (folder / "industry_report.html").read_text(encoding="utf-8")
    assert region in html.unescape(page) and "<c>" not in page     # shown as written, escaped


def test_formulas_in_the_data_stay_text_in_the_spreadsheets_and_a_hostile_title_stays_text(tmp_path, cli):
    from openpyxl import load_workbook
    mark = tmp_path / "pwned"
    title = f'"+str(__import__("os").system("touch {mark}"))+"<b>bold</b>'
    data = data_with(tmp_path / "d", FORMULA, entity="=1+1")
    out = tmp_path / "out"
    code, _, err = cli("report", "--region", FORMULA, "--year", 2024, "--data", data, "--out", out, "--title", title,
                       "--format", "html")
    assert code == 0, err
    assert not mark.exists()
    [folder] = {p.parent for p in files_under(out)}
    page = (folder / "industry_report.html").read_text(encoding="utf-8")
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page and title in html.unescape(page)
    book = load_workbook(folder / "industry_report_metrics.xlsx")
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = {c.value for c in cells if isinstance(c.value, str)}
    assert FORMULA in values and "=1+1" in values                 # text cells, as written
    assert any(isinstance(c.value, (int, float)) for c in cells)  # numbers stay numbers
    for name in ("industry_report_metrics.csv", "industry_report_checks.csv"):
        rows = list(csv.reader((folder / name).open(encoding="utf-8-sig")))
        cells = [c for r in rows for c in r]
        assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r")
                    or (c.startswith("-") and not re.fullmatch(r"-\d+(?:[.,]\d+)*%?", c))], name
    metrics = (folder / "industry_report_metrics.csv").read_text(encoding="utf-8-sig")
    assert f"'{FORMULA}".replace('"', '""') in metrics and "'=1+1" in metrics


# ------------------------------------------------------------------ D: no orphans, no noise

def marked_processes(marker: str) -> list[str]:
    """Processes (other than this one) whose environment holds ``marker``: what a run started."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if marker.encode() in (d / "environ").read_bytes():
                # the name too: a batch's kernels are forks of a template whose command line they keep,
                # and call themselves ipykernel (analysis.kernelfork)
                name = (d / "comm").read_bytes().decode(errors="replace").strip()
                found.append(f"{d.name}: " + (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                             + f" [{name}]")
        except OSError:  # gone, or a zombie
            continue
    return found


def assert_none_left(marker: str, grace: float = 5.0) -> None:
    deadline = time.time() + grace
    while marked_processes(marker) and time.time() < deadline:
        time.sleep(0.1)
    assert not marked_processes(marker)


def start_report(tmp_path, *args, marker: str) -> subprocess.Popen:
    env = {**os.environ, "ANALYSIS_TEST_MARKER": marker}
    return subprocess.Popen([str(BIN / "analysis"), "report", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def test_a_request_failing_against_its_data_leaves_no_kernel(tmp_path):
    for _ in range(2):   # the kernel is starting when the request fails: a race, tried twice
        marker = uuid.uuid4().hex
        out = tmp_path / "out"
        proc = start_report(tmp_path, "--region", "江北区", "--year", 2024, "--out", out, marker=marker)
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 1, stderr
        assert "--region: expected one of the regions in the data" in stderr and "江北区" in stderr
        assert "Traceback" not in stderr and "ZMQError" not in stderr and not stdout
        assert not out.exists()
        assert_none_left(marker)


def test_a_failure_after_the_kernel_started_shuts_it_down(tmp_path, monkeypatch):
    """In process and deterministic: the request fails only once the kernel's process exists."""
    from analysis import handover, run
    from analysis.errors import AnalysisError
    from analysis.request import build
    marker = uuid.uuid4().hex
    monkeypatch.setenv("ANALYSIS_TEST_MARKER", marker)
    seen = {}

    def failing_prepare(request):
        kernel = run.ACTIVE["kernel"]
        deadline = time.time() + 60
        while kernel._launched is None and time.time() < deadline:
            time.sleep(0.05)
        seen["pid"] = kernel._launched.provisioner.process.pid
        raise AnalysisError("the data says no")
    monkeypatch.setattr(handover, "prepare", failing_prepare)
    with pytest.raises(AnalysisError, match="the data says no"):
        run.run_request(build(region="渝北区", year=2024, out=tmp_path / "out"))
    assert_none_left(marker)
    assert not Path(f"/proc/{seen['pid']}").exists()      # killed and reaped, not a zombie
    assert not (tmp_path / "out").exists() and not run.ACTIVE


def test_a_kernel_that_cannot_start_is_tried_twice_then_a_clear_error(tmp_path, monkeypatch, caplog):
    """The kernel started ahead failing (a heartbeat missed on a loaded machine once read as its death)
    is started once more the same way, never left to papermill, whose kernel would not die with us."""
    from analysis import kernel, run
    from analysis.errors import ReportError
    from analysis.request import build
    tries = []

    def failing_start(self):
        tries.append(self)
        self._error = RuntimeError("Kernel died before replying to kernel_info")
    monkeypatch.setattr(kernel.WarmKernel, "_start", failing_start)
    with pytest.raises(ReportError) as err:
        run.run_request(build(region="渝北区", year=2024, out=tmp_path / "out", formats=["html"]))
    assert len(tries) == 2
    assert str(err.value) == ("notebook industry_report.ipynb: the kernel python3 could not be started "
                              "(RuntimeError: Kernel died before replying to kernel_info)")
    assert "the kernel started ahead failed (RuntimeError: Kernel died before replying to kernel_info); " \
           "starting another" in caplog.text
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()] and not run.ACTIVE


@pytest.mark.parametrize("sig, wait_for", [(signal.SIGTERM, "staging"), (signal.SIGINT, "staging"),
                                           (signal.SIGTERM, "kernel"), (signal.SIGINT, "kernel")])
def test_an_interrupted_report_leaves_no_kernel_no_staging_and_no_traceback(tmp_path, sig, wait_for):
    marker = uuid.uuid4().hex
    out = tmp_path / "out"
    proc = start_report(tmp_path, "--region", "渝北区", "--year", 2024, "--out", out, marker=marker)
    if wait_for == "staging":   # the notebook is executing in its kernel
        deadline = time.time() + 120
        while time.time() < deadline and not list(out.rglob(".staging-*")) and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(1.0)
    else:                       # as soon as the kernel's process exists: it is starting up
        deadline = time.time() + 60
        while time.time() < deadline and not any("ipykernel" in p for p in marked_processes(marker)):
            time.sleep(0.02)
    assert proc.poll() is None, "the report finished before it could be interrupted"
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr and "ZMQError" not in stderr, stderr
    assert not list(out.rglob(".staging-*")) if out.exists() else True, (list(out.rglob(".staging-*")), stderr)
    assert not files_under(out) if out.exists() else True, (list(files_under(out)), stderr)
    assert_none_left(marker)


# ------------------------------------------------------------------ E: options and their limits

@pytest.mark.parametrize("args, expected", [
    (["batch", "jobs/example.yaml", "--workers", "-1"], "argument --workers: expected a whole number of at least 1, found '-1'"),
    (["batch", "jobs/example.yaml", "--workers", "0"], "argument --workers: expected a whole number of at least 1, found '0'"),
    (["batch", "jobs/example.yaml", "--workers", "many"], "argument --workers: expected a whole number of at least 1"),
    (["batch", "jobs/example.yaml", "--scheduler", "not a url"],
     "argument --scheduler: expected a dask scheduler address such as tcp://10.0.0.5:8786, found 'not a url'"),
    (["batch", "jobs/example.yaml", "--scheduler", "http://host:99999"], "argument --scheduler: expected a dask"),
    (["batch", "jobs/example.yaml", "--scheduler-timeout", "0"],
     "argument --scheduler-timeout: expected a number of seconds above 0 and at most 3600, found '0'"),
    (["batch", "jobs/example.yaml", "--scheduler-timeout", "nan"], "argument --scheduler-timeout: expected a number"),
    (["batch", "jobs/example.yaml", "--notebooks", "/nonexistent"],
     "--notebooks: expected a folder of notebooks, found '/nonexistent', which is not a folder"),
    (["report", "--region", "渝北区", "--year", "2024", "--title", "标" * 10_000],
     "--title: expected a string of at most 200 characters, found 10000 characters"),
    (["report", "--region", "渝" * 10_000, "--year", "2024"],
     "--region: expected a region name of at most 100 characters, found 10000 characters"),
    (["report", "--region", "渝北区", "--year", "2024", "-p", "title", "标" * 10_000], "-p title: title has its own option"),
    (["report", "--region", "渝北区", "--year", "2024", "--notebook", "../x.ipynb"], "--notebook: expected one of"),
])
def test_bad_options_exit_2_naming_the_option_at_once(tmp_path, cli, args, expected):
    """argparse's own refusals (batch) through the console script; the request's (report: each starts
    a kernel first, test_report's -p name is the one through the console script) in this process."""
    out = tmp_path / "out"
    t = time.perf_counter()
    if args[0] == "report":
        code, _, err = cli(*args, "--out", out)
    else:
        res = run_cli(*args, "--out", out, timeout=60)
        code, err = res.returncode, res.stderr
    assert code == 2, err
    assert expected in err and "Traceback" not in err
    assert not out.exists() and time.perf_counter() - t < 30


def test_an_internal_error_shows_no_traceback_without_debug(cli, monkeypatch):
    import analysis.request
    def broken(**kwargs):
        raise TypeError("a bug")
    monkeypatch.setattr(analysis.request, "build", broken)
    code, out, err = cli("report", "--region", "渝北区", "--year", "2024")
    assert code == 3 and "internal error: TypeError: a bug" in err and "--debug" in err and "Traceback" not in err
    code, out, err = cli("--debug", "report", "--region", "渝北区", "--year", "2024")
    assert code == 3 and "Traceback" in err


def test_the_frames_read_back_share_their_attrs_as_loaded(tmp_path):
    """Parquet gives attrs back as plain dicts, which pandas would deep-copy into every derived frame."""
    import copy
    from analysis import handover
    from analysis.request import build
    from analysis.shared import Shared
    prepared = handover.prepare(build(region="渝北区", year=2024))
    back = handover.read(handover.write(prepared, tmp_path / "ho")).observations
    assert back.attrs == prepared.observations.attrs and set(back.attrs) >= {"regions", "quotes", "encodings"}
    for key, value in back.attrs.items():
        if isinstance(value, dict):
            assert isinstance(value, Shared) and copy.deepcopy(value) is value, key
    assert back[back["year"] == 2024].attrs["quotes"] is back.attrs["quotes"]


def test_names_are_worded_when_the_frames_are_prepared_as_the_catalog_words_them(tmp_path):
    from analysis import handover
    from analysis.catalog import load_catalog
    from analysis.report import Report
    from analysis.request import build
    prepared = handover.prepare(build(region="渝北区", year=2024, lang="en"))
    back = handover.read(handover.write(prepared, tmp_path / "ho"))
    catalog, regions = load_catalog(back.request.catalog), back.observations.attrs["regions"]
    names = back.meta["names"]
    assert names["北斗智联"] == "Beidou Zhilian" and names["渝北区"] == "Yubei District"   # pinyin; regions.csv
    rep = Report(back, catalog, show=False)
    shown = {t for c in ("region", "entity", "peer") for t in back.observations[c]} - {""}
    assert shown <= set(names) | {t for t in shown if catalog.display(t, "en", regions) == t}
    for text in shown | {"未列出的企业"}:                      # one not handed over: worded on the spot
        assert rep.place(text) == catalog.display(text, "en", regions)
    assert "未列出的企业" not in names and rep.place("未列出的企业") == "Weilie Chude Qiye"
    assert handover.prepare(build(region="渝北区", year=2024)).meta["names"] == {}      # Chinese as written


@pytest.fixture
def kept_loaded(monkeypatch):
    """A batch worker's handover: the last data file loaded is kept for the next report of it."""
    from analysis import handover
    monkeypatch.setitem(handover._KEEP, "on", True)
    monkeypatch.setattr(handover, "_LOADED", {})
    return handover


def test_a_worker_loads_a_data_file_once_for_its_reports_and_again_when_it_changes(tmp_path, kept_loaded,
                                                                                   monkeypatch):
    from analysis.request import build
    handover = kept_loaded
    trace = tmp_path / "trace.txt"
    monkeypatch.setenv("ANALYSIS_TRACE", str(trace))
    data = data_with(tmp_path / "d", "示例区C")
    loads = lambda: trace.read_text().split().count("load") if trace.exists() else 0   # noqa: E731
    from analysis.catalog import load_catalog
    request = build(region="示例区C", year=2024, data=data)
    obs, sources = handover._loaded(request, load_catalog(request.catalog))
    obs.loc[:, "value"] = -1.0                                  # a report changing what it was handed, in place
    sources.loc[:, "title"] = "x"
    b = handover.prepare(build(region="示例区B", year=2024, data=data))
    assert loads() == 1                                         # read and validated once for both
    kept_obs, kept_sources = handover._LOADED["frames"]
    assert (kept_obs["value"] != -1.0).all() and (kept_sources["title"] != "x").all()   # the kept frames did not change
    assert (b.observations["value"] != -1.0).all()
    again = handover.prepare(build(region="示例区C", year=2024, data=data))
    assert loads() == 1 and again.metrics.equals(handover.prepare(build(region="示例区C", year=2024, data=data)).metrics)
    # rewritten in place (same inode): a different size tells it apart even within one tick of the file
    # system's clock (a same-size rewrite within one tick is what the size/mtime/inode identity cannot see)
    data.write_text(data.read_text(encoding="utf-8").replace("示例区C", "示例区D2"), encoding="utf-8")
    changed = handover.prepare(build(region="示例区D2", year=2024, data=data))   # the file changed: read again
    assert loads() == 2 and "示例区D2" in set(changed.observations["region"])
    (data.parent / "sources.csv").write_text((data.parent / "sources.csv").read_text(encoding="utf-8") + "\n",
                                             encoding="utf-8")
    handover.prepare(build(region="示例区D2", year=2024, data=data))   # a side file changed: read again
    assert loads() == 3


def test_a_report_process_keeps_nothing_loaded(tmp_path, monkeypatch):
    from analysis import handover
    from analysis.request import build
    monkeypatch.setattr(handover, "_LOADED", {})
    handover.prepare(build(region="示例区A", year=2024, data=data_with(tmp_path / "d", "示例区A")))
    assert handover._KEEP["on"] is False and handover._LOADED == {}
