"""Faults (issue 11, items 6–9): killed kernels and workers, signals to a batch and its resume, two
writers in one folder, read-only and full output folders, a corrupt font cache and manifest, a batch
killed outright, SIGTERM to a batch on Dask.

Every case runs the real command in a subprocess with a timeout and asserts its exit code, a message
naming the input, no traceback, no partial output, earlier outputs intact and no process left behind
(each run carries an environment marker; ``/proc`` is scanned for it). The notebook is a tiny one
(:data:`TINY`) whose parameters let a test know when a cell runs (``started``), hold it there
(``gate``) or have it kill its own worker (``kill_worker``); reports are HTML only where the PDF is
not the point, and runs are shared between assertions.
"""
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from conftest import BIN, ROOT, children, maps_library
from test_run import marked_processes

PARAMETERS = '''region = "渝北区"  # region
year = 2024  # year
lang = "zh"  # language
title = ""  # title
started = ""  # a file written when the notebook's second cell starts
gate = ""  # a file that cell waits for (at most 120 s)
kill_worker = ""  # "always", or a file: the cell kills its worker process unless the file exists (and writes it)'''
BODY = '''import os, pathlib, signal, time
if started:
    pathlib.Path(started).write_text(str(os.getpid()))
t0 = time.time()
while gate and not os.path.exists(gate) and time.time() - t0 < 120:
    time.sleep(0.05)
if kill_worker and (kill_worker == "always" or not os.path.exists(kill_worker)):
    if kill_worker != "always":
        pathlib.Path(kill_worker).write_text("killed once")
    worker = os.getppid()
    if b"forkserver" in pathlib.Path(f"/proc/{worker}/cmdline").read_bytes():   # forked from the worker's template
        worker = int(pathlib.Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.kill(worker, signal.SIGKILL)
    time.sleep(30)'''
SHOW = '''import html
from IPython.display import HTML, display
display(HTML(f"<h1>{html.escape(title or region)} {year}</h1><p>区域工业经济</p>"))'''


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """notebooks/tiny.ipynb: three cells, no analysis (see the module docstring)."""
    folder = tmp_path_factory.mktemp("notebooks")
    nb = new_notebook(cells=[new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}), new_code_cell(BODY),
                             new_code_cell(SHOW)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(folder / "tiny.ipynb"))
    return folder / "tiny.ipynb"


class Run:
    """A command started in the background with a marker in its environment."""

    def __init__(self, *args, env=None, session=False, preexec_fn=None):
        self.marker = uuid.uuid4().hex
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen([str(BIN / "analysis"), *map(str, args)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=session,
                                     env={**os.environ, "ANALYSIS_TEST_MARKER": self.marker, **(env or {})},
                                     preexec_fn=preexec_fn)

    def wait_for(self, path: Path, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            assert self.proc.poll() is None, f"exited {self.proc.returncode} before {path.name}: {self.proc.stderr.read()}"
            assert time.monotonic() < deadline, f"no {path.name} after {timeout} s"
            time.sleep(0.05)

    def finish(self, timeout: float = 120) -> tuple[int, str, str, float]:
        """(exit code, stdout, stderr, seconds); no process of the run is left (a grace of 5 s)."""
        out, err = self.proc.communicate(timeout=timeout)
        seconds = time.monotonic() - self.t0
        assert_none_left(self.marker)
        assert "Traceback" not in err, err
        return self.proc.returncode, out, err, seconds


def run(*args, timeout=120, **kwargs):
    return Run(*args, **kwargs).finish(timeout)


def assert_none_left(marker: str, grace: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + grace
    left = [p for p in marked_processes(marker) if what in p]
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [p for p in marked_processes(marker) if what in p]
    assert not left, left


def files_under(out: Path) -> dict[str, bytes]:
    """Every file in out but the manifest (and what was set aside of it): relative path → content."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.startswith("manifest.json")}


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def assert_manifest_agrees(out: Path) -> dict:
    """The manifest lists exactly the files there, with their sha256: nothing partial, nothing unrecorded."""
    import hashlib
    jobs = manifest(out)["jobs"]
    listed = {rel: digest for e in jobs.values() if e["status"] == "ok" for rel, digest in e["outputs"].items()}
    present = files_under(out)
    assert set(present) == set(listed), (sorted(present), sorted(listed))
    for rel, digest in listed.items():
        assert hashlib.sha256(present[rel]).hexdigest() == digest, rel
    assert not list(out.rglob(".staging-*")) and not list(out.rglob(".*.tmp"))
    return jobs


def jobs_file(path: Path, tiny: Path, *jobs: str, formats: str = "[html]") -> Path:
    path.write_text(f"defaults: {{notebook: {tiny.stem}, formats: {formats}}}\njobs:\n"
                    + "".join(f"  - {j}\n" for j in jobs), encoding="utf-8")
    return path


# ------------------------------------------------------------------ analysis report

def test_a_kernel_killed_mid_report_is_a_clear_error_and_leaves_nothing(tmp_path, tiny):
    out, started = tmp_path / "out", tmp_path / "started"
    earlier = out / "渝北区" / "2024" / "tiny.html"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("an earlier report", encoding="utf-8")
    r = Run("report", "--notebook", tiny, "--region", "渝北区", "--year", 2024, "--format", "html", "--out", out,
            "-p", "started", started, "-p", "gate", tmp_path / "never")
    r.wait_for(started)
    os.kill(int(started.read_text()), signal.SIGKILL)      # as the OOM killer would
    code, stdout, err, seconds = r.finish(timeout=60)
    assert code == 1, err
    assert ("error: notebook tiny.ipynb: the kernel died (killed by SIGKILL, as the system does when memory runs out) "
            "while running cell 2 (import os, pathlib, signal, time); the notebook up to that cell is kept at "
            f"{out / '渝北区' / '2024' / 'failed' / 'tiny.ipynb'}") in err
    assert sorted(files_under(out)) == ["渝北区/2024/failed/tiny.ipynb", "渝北区/2024/tiny.html"]
    assert earlier.read_text(encoding="utf-8") == "an earlier report"
    assert seconds < 90


def test_a_pdf_that_would_lack_a_glyph_is_an_error(tmp_path, tiny):
    out = tmp_path / "out"
    code, stdout, err, seconds = run("report", "--notebook", tiny, "--region", "渝北区", "--year", 2024, "--format", "pdf",
                                     "--out", out, "--title", "渝北区 😀")
    assert code == 1, err
    assert "the PDF would lack glyphs for 1 character: 😀 (U+1F600 GRINNING FACE)" in err
    assert not files_under(out) and seconds < 90


def test_a_corrupt_font_cache_is_rebuilt_and_the_pdf_is_right(tmp_path, tiny):
    from pypdf import PdfReader
    from analysis import fontcache
    from analysis.request import build
    from analysis.run import report_chars
    cache, out = tmp_path / "cache", tmp_path / "out"
    os.environ["ANALYSIS_CACHE"] = str(cache)     # for subset_path here; the run gets it in its environment
    try:
        target = fontcache.subset_path(report_chars(build(region="渝北区", year=2024, notebook=tiny, formats=["pdf"],
                                                          out=out, notebook_dirs=[tiny.parent])))
    finally:
        del os.environ["ANALYSIS_CACHE"]
    target.write_bytes(b"garbage, as a disk error or a crash mid-write leaves")
    code, stdout, err, seconds = run("report", "--notebook", tiny, "--region", "渝北区", "--year", 2024, "--format",
                                     "pdf", "--out", out, env={"ANALYSIS_CACHE": str(cache)})
    assert code == 0, err
    assert f"font cache {target}: expected a font subset with its checksum recorded beside it, found no checksum" in err
    text = "".join(p.extract_text() for p in PdfReader(out / "渝北区" / "2024" / "tiny.pdf").pages)
    assert "区域工业经济" in text and "渝北区" in text
    assert fontcache.verified(target) is not None          # rebuilt, with its checksum


@contextmanager
def tmpfs(path: Path, options: str):
    """A tmpfs mounted at path (root only); yields False where it cannot be mounted."""
    path.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                                           capture_output=True).returncode != 0:
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_read_only_output_folder_is_named_and_nothing_is_left(tmp_path, tiny):
    ro = tmp_path / "ro"
    with tmpfs(ro, "ro,size=1m") as mounted:
        if not mounted:
            if os.geteuid() == 0:
                pytest.skip("root here, and no tmpfs can be mounted: permissions do not stop root")
            ro.chmod(0o555)
        jobs = jobs_file(tmp_path / "jobs.yaml", tiny, "{parameters: {region: 渝北区, year: 2024}}")
        for args, folder, reason in [
                (("report", "--notebook", tiny, "--region", "渝北区", "--year", 2024, "--format", "html"), ro,
                 "found that .analysis.lock cannot be created in it"),
                (("report", "--notebook", tiny, "--region", "渝北区", "--year", 2024, "--format", "html"), ro / "sub",
                 "found that it cannot be created"),
                (("batch", jobs, "--notebooks", tiny.parent), ro, "found that .analysis.lock cannot be created in it"),
                (("batch", jobs, "--notebooks", tiny.parent), ro / "sub", "found that it cannot be created")]:
            code, stdout, err, seconds = run(*args, "--out", folder, timeout=60)
            assert code == 1, err
            assert f"error: --out {folder}: expected a folder the report" in err and reason in err, err
            assert ("Read-only file system" if mounted else "Permission denied") in err
            assert seconds < 40
        assert not list(ro.iterdir())


def test_a_full_disk_fails_the_report_and_leaves_the_earlier_one(tmp_path, tiny):
    full = tmp_path / "full"
    with tmpfs(full, "size=96k") as mounted:
        earlier = full / "渝北区" / "2024" / "tiny.html"
        earlier.parent.mkdir(parents=True)
        earlier.write_text("an earlier report", encoding="utf-8")
        def limit():        # no tmpfs: files over 96 KB cannot be written by the run (EFBIG instead of ENOSPC)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (96 * 1024, 96 * 1024))
        code, stdout, err, seconds = run("report", "--notebook", tiny, "--region", "渝北区", "--year", 2024,
                                         "--format", "html", "--out", full, preexec_fn=None if mounted else limit)
        assert code == 1, err
        assert f"error: --out {full}: expected a folder the report can be written to, found that writing" in err
        assert ("No space left on device" if mounted else "File too large") in err
        assert "nothing was published and earlier reports there are untouched" in err
        assert list(files_under(full)) == ["渝北区/2024/tiny.html"]
        assert earlier.read_text(encoding="utf-8") == "an earlier report"
        assert not list(full.rglob(".*")) and seconds < 60


# ------------------------------------------------------------------ analysis batch

@pytest.fixture
def kernel_tmp():
    """A temporary folder of the test's own for the kernel folders of its runs (their TMPDIR): what
    another test or test process kills outright meanwhile (in parallel) leaves no orphan in it."""
    tmp = tempfile.mkdtemp(prefix="faults-")       # short: the kernels' Unix sockets are made in it
    yield tmp
    shutil.rmtree(tmp, ignore_errors=True)


def test_signals_to_a_batch_then_resume_and_a_second_writer(tmp_path, tiny, kernel_tmp):
    """One folder, four runs: SIGTERM (while a second batch and a report try the folder), Ctrl-C to the
    process group, SIGKILL (no worker or kernel survives), then a resume with a truncated manifest."""
    out, s1, s2, gate = tmp_path / "out", tmp_path / "s1", tmp_path / "s2", tmp_path / "gate"
    jobs = jobs_file(tmp_path / "jobs.yaml", tiny, f"{{parameters: {{region: 渝北区, year: 2024, started: '{s1}'}}}}",
                     f"{{parameters: {{region: 渝北区, year: 2024, started: '{s2}', gate: '{gate}'}}, lang: en}}")
    batch = ("batch", jobs, "--out", out, "--workers", 1, "--notebooks", tiny.parent)
    env = {"TMPDIR": kernel_tmp}

    # 1. SIGTERM to the batch while its second job runs; meanwhile a second batch and a report are kept out
    r = Run(*batch, env=env)
    r.wait_for(s2)
    kernel = int(s2.read_text())           # the worker holding the job: the kernel's template's parent
    worker = int(Path(f"/proc/{kernel}/stat").read_text().rsplit(")", 1)[1].split()[1])
    if b"forkserver" in Path(f"/proc/{worker}/cmdline").read_bytes():
        worker = int(Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert worker in children(r.proc.pid) and not maps_library(worker, "libpango-1.0")   # HTML only: no WeasyPrint
    assert not maps_library(kernel, "libarrow")    # a notebook without pandas or analysis: a kernel without them
    for args in [batch, ("report", "--notebook", tiny, "--region", "渝北区", "--year", 2024, "--format", "html",
                         "--out", out)]:
        code, stdout, err, seconds = run(*args, timeout=60, env=env)
        assert code == 2, err
        assert (f"error: --out {out}: expected a folder no other report or batch is writing to, found it in use by "
                f"analysis batch (pid {r.proc.pid}, started ") in err, err
        assert "; wait for it to finish or use another --out" in err and seconds < 30
    r.proc.send_signal(signal.SIGTERM)
    code, stdout, err, seconds = r.finish(timeout=60)
    assert code == 130, err
    assert "1 ok, 0 skipped, 0 failed" in stdout and "interrupted: unfinished jobs left no files" in stdout
    first = assert_manifest_agrees(out)
    assert [(e["request"]["lang"], e["status"]) for e in first.values()] == [("zh", "ok")]
    assert sorted(files_under(out)) == ["渝北区/2024/tiny.html", "渝北区/2024/tiny.ipynb",
                                        "渝北区/2024/tiny_checks.csv", "渝北区/2024/tiny_metrics.csv",
                                        "渝北区/2024/tiny_metrics.xlsx"]
    done = files_under(out)

    # 2. Ctrl-C reaches the whole process group (the workers ignore it; the batch stops them)
    s2.unlink()
    r = Run(*batch, session=True, env=env)
    r.wait_for(s2)
    os.killpg(r.proc.pid, signal.SIGINT)
    code, stdout, err, seconds = r.finish(timeout=60)
    assert code == 130, err
    assert "0 ok, 1 skipped, 0 failed" in stdout
    assert assert_manifest_agrees(out) == first and files_under(out) == done

    # 3. SIGKILL to the batch: its worker and that worker's kernel die with it
    s2.unlink()
    r = Run(*batch, env=env)
    r.wait_for(s2)
    assert any("ipykernel" in p for p in marked_processes(r.marker))
    r.proc.kill()
    r.finish(timeout=30)             # asserts that no process with its marker is left
    left = files_under(out)          # nothing published; a staging folder and the (unlocked) lock file stay
    assert {k: v for k, v in left.items() if ".staging-" not in k and k != ".analysis.lock"} == done

    # 4. resume with a truncated manifest: set aside, rebuilt from the reports, only the unfinished job runs
    gate.write_text("open")
    m = out / "manifest.json"
    m.write_bytes(m.read_bytes()[:100])
    code, stdout, err, seconds = run(*batch, env=env)
    assert code == 0, err
    assert f"{m}: expected a batch manifest, found text that is not JSON or is cut short" in err
    assert "rebuilt the manifest from the reports in the folder (1 found whose files match" in err
    assert "1 ok, 1 skipped, 0 failed" in stdout
    jobs_now = assert_manifest_agrees(out)       # the staging folder the SIGKILL left is swept
    assert sorted((e["request"]["lang"], e["status"]) for e in jobs_now.values()) == [("en", "ok"), ("zh", "ok")]
    assert {k: v for k, v in files_under(out).items() if k in done} == done      # the finished job untouched
    assert len(list(out.glob("manifest.json.broken-*"))) == 1
    assert not orphaned_kernel_folders(kernel_tmp)   # the SIGKILLed kernel's folder went with the next run's kernel


def orphaned_kernel_folders(tmp: str) -> list[str]:
    """Kernel folders (analysis.kernel) in the temporary folder tmp whose owner process is gone."""
    found = []
    for folder in Path(tmp).glob("analysis-kernel-*"):
        try:
            os.kill(int((folder / "owner").read_text()), 0)
        except ProcessLookupError:
            found.append(str(folder))
        except (OSError, ValueError):
            continue
    return found


def test_a_dead_worker_is_replaced_and_a_job_that_kills_it_every_time_fails(tmp_path, tiny):
    out, once = tmp_path / "out", tmp_path / "killed-once"
    jobs = jobs_file(tmp_path / "jobs.yaml", tiny,
                     f"{{parameters: {{region: 渝北区, year: 2024, kill_worker: '{once}'}}}}",
                     "{parameters: {region: 渝北区, year: 2024, kill_worker: always}, lang: en}")
    code, stdout, err, seconds = run("batch", jobs, "--out", out, "--workers", 1, "--retries", 1,
                                     "--notebooks", tiny.parent, timeout=180)
    assert code == 1, err
    assert once.exists()
    jobs_now = assert_manifest_agrees(out)
    by_lang = {e["request"]["lang"]: e for e in jobs_now.values()}
    assert by_lang["zh"]["status"] == "ok" and by_lang["zh"]["worker_deaths"] == 1
    assert by_lang["en"]["status"] == "failed"
    assert by_lang["en"]["error"] == ("worker died 2 times running this report (last: killed by SIGKILL); "
                                      "not retried again (the retry limit is 1)")
    assert manifest(out)["retries"] == 1
    assert err.count("its worker process died (killed by SIGKILL); running it again on a new pool") == 2
    assert "1 ok, 0 skipped, 1 failed" in stdout and seconds < 150


def test_sigterm_or_sigkill_to_a_batch_on_dask_leaves_a_manifest_that_agrees_with_the_files(tmp_path, tiny):
    pytest.importorskip("distributed")
    from distributed import LocalCluster
    out, s1, s2, gate = tmp_path / "out", tmp_path / "s1", tmp_path / "s2", tmp_path / "gate"
    job1 = f"{{parameters: {{region: 渝北区, year: 2024, started: '{s1}'}}}}"
    jobs = jobs_file(tmp_path / "jobs.yaml", tiny, job1,
                     f"{{parameters: {{region: 渝北区, year: 2024, started: '{s2}', gate: '{gate}'}}, lang: en}}")
    marker = uuid.uuid4().hex     # the cluster's processes carry it: kernels they start must not outlive a job
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      env={"ANALYSIS_TEST_MARKER": marker}) as cluster:
        batch = ("batch", jobs, "--out", out, "--scheduler", cluster.scheduler_address, "--notebooks", tiny.parent)
        # SIGTERM while the second job runs: the batch tells its tasks to stop and waits for them
        r = Run(*batch)
        r.wait_for(s2, timeout=150)
        assert any("ipykernel" in p for p in marked_processes(marker))   # the second job's kernel runs its cell
        r.proc.send_signal(signal.SIGTERM)
        code, stdout, err, seconds = r.finish(timeout=60)
        assert code == 130, err
        assert "1 ok, 0 skipped, 0 failed" in stdout
        assert_none_left(marker, what="ipykernel")          # the running task stopped its kernel
        first = assert_manifest_agrees(out)
        assert [(e["request"]["lang"], e["status"]) for e in first.values()] == [("zh", "ok")]
        before = files_under(out)
        gate.write_text("open")          # a task still running would now go on and publish
        time.sleep(2)
        assert files_under(out) == before and assert_manifest_agrees(out) == first

        # SIGKILL: the scheduler drops the batch's tasks, and the running one stops its kernel
        s3, gate2 = tmp_path / "s3", tmp_path / "gate2"
        jobs_file(jobs, tiny, job1, f"{{parameters: {{region: 渝北区, year: 2024, started: '{s3}', gate: '{gate2}'}}, "
                                    "lang: en}")
        r = Run(*batch)
        r.wait_for(s3, timeout=90)
        r.proc.kill()
        r.finish(timeout=30)
        assert_none_left(marker, what="ipykernel", grace=10)
        gate2.write_text("open")
        time.sleep(2)
        assert {k: v for k, v in files_under(out).items() if k != ".analysis.lock"} == before
