import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "observations.csv"
SOURCE = ROOT / "data" / "raw" / "000_c8145b6dd64842e1.txt"
EXAMPLE = ROOT / "examples" / "two_regions.csv"
EXAMPLE_JOBS = ROOT / "jobs" / "example.yaml"
BIN = Path(sys.executable).parent

os.environ.setdefault("MPLBACKEND", "Agg")

# Every test process imports nbformat (test_faults, test_notebook; papermill in test_run): without this, its
# jsonschema builds a Lark grammar for IRI formats at import, 2.3 CPU seconds per pytest-xdist worker that no
# test uses. The command does the same (analysis.run.trim_imports); the subprocesses the tests start are
# the command's own.
from analysis.run import trim_imports  # noqa: E402

trim_imports()


def run_cli(*args, timeout=600, cwd=ROOT):
    """Run the installed console script as a user would."""
    return subprocess.run([str(BIN / "analysis"), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


@pytest.fixture
def cli(capsys):
    """Call analysis.cli.main in-process; returns (exit code, stdout, stderr)."""
    from analysis.cli import main

    def call(*args):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err
    return call


@pytest.fixture(scope="session")
def obs():
    from analysis.data import load_observations
    return load_observations(DATA)


# ------------------------------------------------------------------ reports shared by the whole session
# A real report (papermill runs the real notebook, then HTML and PDF export) takes 10-30 s. Tests that
# only read one report's outputs share one execution of it; a test that changes files works on a copy
# (copy_report_folder). Under pytest-xdist every test using one of these fixtures is sent to the same
# worker (the xdist_group marks added in pytest_collection_modifyitems), so each runs once per session.

def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(d.name))
        except (OSError, ValueError, IndexError):   # gone meanwhile
            continue
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def maps_library(pid: int, name: str) -> bool:
    """Whether process ``pid`` has a shared library whose file name starts with ``name`` mapped (WeasyPrint
    loads Pango, ``libpango-1.0``, when it is imported: a process that never imported it has none)."""
    return any(Path(line.split()[-1]).name.startswith(name)
               for line in Path(f"/proc/{pid}/maps").read_text().splitlines() if "/" in line)


def _report(tmp_path_factory, name, *args):
    out = tmp_path_factory.mktemp(name)
    res = run_cli("report", *args, "--format", "html,pdf", "--out", out)
    assert res.returncode == 0, res.stderr
    return res, out


@pytest.fixture(scope="session")
def example_batch(tmp_path_factory):
    """jobs/example.yaml (渝北区 2024 in Chinese and English, HTML and PDF, one worker) as an operator
    runs it after an interruption: SIGTERM while the first job executes its notebook, then the same
    command again, which finishes what was left. Its reports are the session's 渝北区 reports
    (yubei_zh, yubei_en); test_batch checks what the interrupted run left and the resume.

    Returns a dict: ``out``; ``interrupted`` (the first run: exit code, stdout, stderr, or None if it
    finished before it could be interrupted); ``left`` (files then present), ``listed`` (files its
    manifest lists), ``staging`` (staging folders then present); ``resumed`` (the finished process);
    ``pango``: the interrupted run's worker processes → whether each had Pango (WeasyPrint) loaded;
    ``arrow``: their kernel templates → whether each had pyarrow's library loaded.
    """
    out = tmp_path_factory.mktemp("example-batch") / "out"
    cmd = [str(BIN / "analysis"), "batch", str(EXAMPLE_JOBS), "--out", str(out), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.rglob(".staging-*")) and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(1.5)  # the job is now executing its notebook in a kernel
    interrupted = None
    # its worker (warmed before its first job) has WeasyPrint: the jobs make PDFs; the worker's kernel
    # template has pandas and pyarrow: the notebook uses them
    workers = [pid for pid in children(proc.pid) if b"spawn_main" in _cmdline(pid)]   # not the resource tracker
    pango = {pid: maps_library(pid, "libpango-1.0") for pid in workers}
    templates = [pid for w in workers for pid in children(w) if b"forkserver" in _cmdline(pid)]
    deadline = time.time() + 5          # started with the worker, before its first job: importing, if at all, only
    while time.time() < deadline and not all(maps_library(t, "libarrow") for t in templates):   # on a loaded machine
        time.sleep(0.1)
    arrow = {pid: maps_library(pid, "libarrow") for pid in templates}
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)  # what cron's timeout or systemd sends
        stdout, stderr = proc.communicate(timeout=120)
        interrupted = (proc.returncode, stdout, stderr)
    else:
        proc.communicate()
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["jobs"] if (out / "manifest.json").exists() else {}
    listed = {f for e in m.values() if e["status"] == "ok" for f in e["outputs"]}
    left = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"}
    staging = list(out.rglob(".staging-*"))
    resumed = run_cli("batch", EXAMPLE_JOBS, "--out", out, "--workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    return {"out": out, "interrupted": interrupted, "left": left, "listed": listed, "staging": staging,
            "resumed": resumed, "pango": pango, "arrow": arrow}


@pytest.fixture(scope="session")
def yubei_zh(example_batch):
    """渝北区 2024 in Chinese from the shipped data, HTML and PDF (example_batch's): (folder, the finished
    process). The folder holds the English report too."""
    return example_batch["out"] / "渝北区" / "2024", example_batch["resumed"]


@pytest.fixture(scope="session")
def yubei_en(example_batch):
    """渝北区 2024 in English from the shipped data, HTML and PDF (example_batch's): (folder, the finished
    process). The folder holds the Chinese report too."""
    return example_batch["out"] / "渝北区" / "2024", example_batch["resumed"]


#: examples/two_regions.csv with the quote of its first figure made markup (test_report checks it is
#: shown as text)
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def example_a(tmp_path_factory):
    """示例区A 2024 from examples/two_regions.csv, its first quote replaced by :data:`SCRIPT`, HTML and
    PDF: (folder, the finished process)."""
    d = tmp_path_factory.mktemp("example-data")
    src = EXAMPLE.read_text(encoding="utf-8")
    (d / "obs.csv").write_text(src.replace("示例数据（合成）", SCRIPT, 1), encoding="utf-8")
    for f in ("sources.csv", "regions.csv"):
        shutil.copy(EXAMPLE.parent / f, d / f)
    res, out = _report(tmp_path_factory, "example-a", "--region", "示例区A", "--year", "2024", "--data", d / "obs.csv")
    return out / "示例区A" / "2024", res


@pytest.fixture(scope="session")
def failing_batch(tmp_path_factory):
    """A real batch (acceptance of issue 5), two workers, HTML: three good jobs (示例区A and 示例区B from
    examples/two_regions.csv, 渝北区 from the shipped data) and one for a region not in the data:
    (jobs file, out folder, the finished process, seconds). test_batch reruns it and runs its two
    example jobs on Dask; test_kernelfork reads the usage its manifest records."""
    d = tmp_path_factory.mktemp("b")
    jobs = d / "jobs.yaml"
    jobs.write_text(f"""
defaults: {{formats: [html]}}
jobs:
  - {{parameters: {{region: 示例区A, year: 2024}}, data: {EXAMPLE}}}
  - {{parameters: {{region: 示例区B, year: 2024}}, data: {EXAMPLE}}}
  - {{parameters: {{region: 渝北区, year: 2024}}}}
  - {{parameters: {{region: 江北区, year: 2024}}}}
""", encoding="utf-8")
    out = d / "out"
    t = time.perf_counter()
    res = run_cli("batch", jobs, "--out", out, "--workers", "2")
    return jobs, out, res, time.perf_counter() - t


def copy_report_folder(folder: Path, to: Path, *, skip=()) -> Path:
    """A copy of a shared report's folder (``skip``: file names left out), for a test that changes it."""
    shutil.copytree(folder, to, ignore=lambda _d, names: [n for n in names if n in skip])
    return to


#: expensive fixtures → the xdist group of every test that uses them (directly or through another fixture)
GROUPS = {"example_batch": "reports", "yubei_zh": "reports", "yubei_en": "reports", "example_a": "reports",
          "peer_reports": "peer-reports", "own_report": "reports", "failing_batch": "failing-batch",
          "wheel": "package", "venv": "package"}


def pytest_configure(config):
    # pytest-xdist registers it too; known here also when the suite runs without it (-p no:xdist)
    config.addinivalue_line("markers", "xdist_group(name): tests run by one pytest-xdist worker")


#: modules whose ungrouped tests run real reports, batches or kernels (5–40 s of CPU each), the longest
#: first: pytest-xdist hands out the groups above first (largest first), then single tests in this
#: order, so that the many short tests come last and both workers finish together
FIRST = ["test_faults.py", "test_batch.py", "test_run.py", "test_report.py", "test_notebook.py",
         "test_kernelfork.py", "test_fontcache.py", "test_commands.py", "test_extract.py", "test_data.py"]


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    items[:] = sorted(items, key=lambda it: FIRST.index(it.path.name) if it.path.name in FIRST else len(FIRST))
    for item in items:
        groups = sorted({GROUPS[f] for f in getattr(item, "fixturenames", ()) if f in GROUPS})
        if groups:
            item.add_marker(pytest.mark.xdist_group(groups[0]))
    result = yield
    if getattr(config.option, "loadgroup", False):     # an xdist worker, --dist loadgroup
        for item in items:
            _group_suffix(item)
    return result


def _group_suffix(item):
    """What pytest-xdist's loadgroup does on a worker and, with pytest-xdist 3.8 on pytest 9.2, fails to
    do (it sets ``item._nodeid``, which pytest 9.2 no longer reads): end the test's node id with
    ``@group``, which the scheduler reads as the group."""
    names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                    for m in item.iter_markers("xdist_group")})
    suffix = "@" + "_".join(names)
    if not names or item.nodeid.endswith(suffix):
        return
    if hasattr(item, "_id"):          # pytest ≥ 9.2: a structured NodeId
        from _pytest.nodeid import coerce_node_id
        item._id = coerce_node_id(item.nodeid + suffix)
    else:
        item._nodeid = item.nodeid + suffix
