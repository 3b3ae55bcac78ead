"""analysis batch: real jobs files, real worker processes, real kernels; Dask on a LocalCluster."""
import json
import os
import re
import shutil
import time

import pytest

from conftest import DATA, EXAMPLE, ROOT, run_cli


def write_jobs(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def manifest(out):
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))["jobs"]


def files_under(out):
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "manifest.json")


def test_failing_job_is_isolated(failing_batch):
    jobs, out, res, _ = failing_batch
    assert res.returncode == 1, res.stderr
    m = manifest(out)
    status = {k: v["status"] for k, v in m.items()}
    assert sorted(status.values()) == ["failed", "ok", "ok", "ok"]
    bad = next(v for v in m.values() if v["status"] == "failed")
    assert bad["request"]["region"] == "江北区"
    # checked against the data in the parent, before any worker: the message names the jobs-file key
    assert "jobs.yaml: jobs[3].parameters.region: expected one of the regions in the data (渝北区), found '江北区'" \
        in bad["error"], bad["error"]
    for name in ("示例区A", "示例区B", "渝北区"):
        assert (out / name / "2024" / "industry_report.html").is_file()
    assert not (out / "江北区").exists()
    # summary table on stdout, plain log lines on stderr (not a terminal)
    assert re.search(r"江北区/2024/zh.*failed", res.stdout) and "3 ok, 0 skipped, 1 failed" in res.stdout
    assert re.search(r"^\d{4}-\d\d-\d\dT[\d:]+ ok ", res.stderr, re.M)
    ok = next(v for v in m.values() if v["status"] == "ok")
    assert set(ok["inputs"]) >= {"notebook", "data", "catalog", "parameters", "package"}
    assert all(len(h) == 64 for h in ok["outputs"].values())


def test_rerun_retries_only_the_failed_job(failing_batch):
    jobs, out, first, _ = failing_batch
    mtimes = {p: p.stat().st_mtime for p in out.rglob("*.html")}
    res = run_cli("-v", "batch", jobs, "--out", out, "--workers", "2")
    assert res.returncode == 1  # the bad job is checked again and fails again
    assert "0 ok, 3 skipped, 1 failed" in res.stdout
    assert {p: p.stat().st_mtime for p in out.rglob("*.html")} == mtimes
    # nothing left to run: no worker pool starts (it cost 5-6 s when it did)
    assert "nothing to run: no worker started" in res.stderr and "worker process" not in res.stderr


def test_changed_data_reruns_only_affected_jobs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        shutil.copy(DATA, d / "obs.csv")
        shutil.copy(ROOT / "data" / "sources.csv", d / "sources.csv")
        shutil.copytree(ROOT / "data" / "raw", d / "raw")     # the snapshot sources.csv names must be there
    jobs = write_jobs(tmp_path / "jobs.yaml", f"""
defaults: {{formats: [html]}}
jobs:
  - {{parameters: {{region: 渝北区, year: 2024, title: A}}, data: {a / 'obs.csv'}}}
  - {{parameters: {{region: 渝北区, year: 2024, title: B, lang: en}}, data: {b / 'obs.csv'}}}
""")
    out = tmp_path / "out"
    assert run_cli("batch", jobs, "--out", out, "--workers", "1").returncode == 0   # one template, two kernels
    text = (b / "obs.csv").read_text(encoding="utf-8").replace(",129.2,亿元,", ",129.3,亿元,")
    (b / "obs.csv").write_text(text, encoding="utf-8")
    res = run_cli("batch", jobs, "--out", out, "--workers", "1")
    assert res.returncode == 0, res.stderr
    assert "1 ok, 1 skipped" in res.stdout
    assert re.search(r"ok\s+渝北区/2024/en @\S*/b/obs.csv", res.stderr), res.stderr
    assert re.search(r"skipped\s+渝北区/2024/zh @\S*/a/obs.csv", res.stderr), res.stderr


def test_example_jobs_interrupted_then_resumed_then_skipped_then_forced(example_batch, tmp_path):
    """jobs/example.yaml (渝北区 2024, zh and en, HTML and PDF) in one folder, four runs: SIGTERM while
    the first job executes leaves no partial file; the resume runs what is left (both: conftest's
    example_batch, whose reports the report tests read); a third run skips everything without
    starting a worker; --force runs the Chinese one again. The last two run on a copy of the folder."""
    out = example_batch["out"]
    # 1. interrupted: one worker, SIGTERM while the first job executes its notebook
    assert example_batch["interrupted"] is not None, "the batch finished before it could be interrupted"
    code, stdout, stderr = example_batch["interrupted"]
    assert code == 130, stderr
    assert "interrupted" in stdout and "Traceback" not in stderr
    assert not example_batch["staging"]
    assert example_batch["left"] == example_batch["listed"]  # every file present belongs to a finished job
    assert list(example_batch["pango"].values()) == [True]   # one worker, WeasyPrint imported for the PDFs
    assert list(example_batch["arrow"].values()) == [True]   # its kernel template, pandas and pyarrow imported
    # 2. resumed: what the interrupted run left is done
    res = example_batch["resumed"]
    assert res.returncode == 0, res.stderr
    assert (out / "渝北区" / "2024" / "industry_report.pdf").is_file()
    assert (out / "渝北区" / "2024" / "industry_report_en.pdf").is_file()
    # 3. again: everything is up to date (a copy of the folder: the manifest names its files relative to it)
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    mtimes = {p: p.stat().st_mtime for p in copy.rglob("*") if p.is_file()}
    again = run_cli("-v", "batch", ROOT / "jobs" / "example.yaml", "--out", copy)
    assert again.returncode == 0 and "0 ok, 2 skipped" in again.stdout
    assert {p: p.stat().st_mtime for p in copy.rglob("*") if p.is_file() and p.name != "manifest.json"} == \
        {p: m for p, m in mtimes.items() if p.name != "manifest.json"}
    assert "nothing to run: no worker started" in again.stderr   # no worker, no kernel
    # 4. forced: the Chinese job, up to date, runs again (a jobs file of that job alone, the same request);
    # the English report, not in it, is left as it was
    one = write_jobs(tmp_path / "zh.yaml", f"""
defaults: {{notebook: industry_report, formats: [html, pdf], data: {DATA}}}
jobs:
  - {{parameters: {{region: 渝北区, year: 2024}}, lang: zh}}
""")
    assert "0 ok, 1 skipped" in run_cli("batch", one, "--out", copy).stdout     # the same request: up to date
    forced = run_cli("batch", one, "--out", copy, "--force")
    assert forced.returncode == 0 and "1 ok, 0 skipped" in forced.stdout, forced.stderr
    now = {p: p.stat().st_mtime for p in copy.rglob("*") if p.is_file() and p.name != "manifest.json"}
    assert {p.name for p in now if now[p] != mtimes[p]} == {
        "industry_report.html", "industry_report.pdf", "industry_report.ipynb", "industry_report_metrics.csv",
        "industry_report_metrics.xlsx", "industry_report_checks.csv"}


def test_lock_keeps_a_second_batch_out(tmp_path):
    from analysis.lock import FolderLock
    out = tmp_path / "out"
    out.mkdir()
    with FolderLock(out, "analysis batch"):
        res = run_cli("batch", ROOT / "jobs" / "example.yaml", "--out", out)
    assert res.returncode == 2
    assert (f"--out {out}: expected a folder no other report or batch is writing to, found it in use by analysis batch "
            f"(pid {os.getpid()}, started ") in res.stderr
    assert not (out / "manifest.json").exists() and not list(out.iterdir())   # the lock file goes with its holder


BAD_JOBS = {
    "unknown top key": ("jobz: []\n", "jobz: expected one of defaults, jobs, matrix"),
    "unknown job key": ("jobs:\n  - {parameters: {region: 渝北区, year: 2024}, fromats: [pdf]}\n", "jobs[0].fromats: expected one of"),
    "unknown notebook": ("jobs:\n  - {parameters: {region: 渝北区, year: 2024}, notebook: nope}\n", "jobs[0].notebook: expected one of industry_report"),
    "bad parameter name": ('jobs:\n  - {parameters: {region: 渝北区, year: 2024, "a=1\\nimport os": 1}}\n',
                           "jobs[0].parameters['a=1\\nimport os']: expected one of region, year, lang, title"),
    "bad year": ("matrix: {region: [渝北区], year: ['2024年']}\n", "matrix[0].parameters.year: expected a four-digit year, found '2024年'"),
    "unknown parameter": ("jobs:\n  - {parameters: {region: 渝北区, year: 2024}}\n  - {parameters: {region: 渝北区, yaer: 2024}}\n",
                          "jobs.yaml: jobs[1].parameters.yaer: expected one of region, year, lang, title, found 'yaer'"),
    "region beside parameters": ("jobs:\n  - {region: 渝北区, parameters: {year: 2024}}\n",
                                 "jobs[0].region: expected one of catalog, data, formats, lang, notebook, parameters, found 'region'"),
    "parameters at the top": ("parameters: {region: 渝北区}\nmatrix: {region: [渝北区], year: [2024]}\n",
                              "jobs.yaml: parameters: expected one of defaults, jobs, matrix, found 'parameters'"),
    "data as a parameter": ("jobs:\n  - {parameters: {region: 渝北区, year: 2024, data: data/observations.csv}}\n",
                            "jobs.yaml: jobs[0].parameters.data: data has its own option; use "),
    "catalog as a default parameter": ("defaults: {parameters: {catalog: data/catalog.yaml}}\nmatrix: {region: [渝北区], year: [2024]}\n",
                                       "matrix[0].parameters.catalog: catalog has its own option; use "),
    "bad lang": ("jobs:\n  - {parameters: {region: 渝北区, year: 2024, lang: fr}}\n", "jobs[0].parameters.lang: expected one of zh, en, found 'fr'"),
    "bad job-level lang": ("defaults: {lang: fr}\njobs:\n  - {parameters: {region: 渝北区, year: 2024}}\n", "jobs[0].lang: expected one of zh, en, found 'fr'"),
    "missing region": ("jobs:\n  - {parameters: {year: 2024}}\n", "jobs[0].parameters: expected a value for region, found none"),
    "bad formats": ("defaults: {formats: [docx]}\nmatrix: {region: [渝北区], year: [2024]}\n", "matrix[0].formats: expected html and/or pdf, found 'docx'"),
    "formats not a list": ("defaults: {formats: {html: true}}\nmatrix: {region: [渝北区], year: [2024]}\n", "defaults.formats: expected a list of html and/or pdf, found a mapping"),
    "jobs not a list": ("jobs: {region: 渝北区}\n", "jobs.yaml: jobs: expected a list of jobs, found a mapping"),
    "neither matrix nor jobs": ("defaults: {formats: [pdf]}\n", "top level: expected a matrix or a jobs list"),
    "missing data file": ("defaults: {data: nowhere.csv}\nmatrix: {region: [渝北区], year: [2024]}\n", "matrix[0].data: expected an observations file (.csv or .xlsx), found 'nowhere.csv'"),
    "yaml syntax": ("jobs: [\n", "expected valid UTF-8 YAML"),
    "duplicate job": ("jobs:\n  - {parameters: {region: 渝北区, year: 2024}}\n  - {parameters: {region: 渝北区, year: 2024, lang: zh}}\n",
                      "jobs[1]: expected a job different from jobs[0], found the same report '渝北区/2024/zh'"),
    "empty matrix list": ("matrix: {region: [], year: [2024]}\n", "matrix.region: expected a non-empty list"),
    "omap title": ("jobs:\n  - {parameters: {region: 渝北区, year: 2024, title: !!omap [{a: '\"+str(1)+\"'}]}}\n",
                   "jobs.yaml:2: expected plain YAML values (text, numbers, true/false, null, lists, mappings), "
                   "found the tag !!omap"),
    "parameters as a list": ("jobs:\n  - {parameters: [region, 渝北区, year, 2024]}\n",
                             "jobs[0].parameters: expected a mapping of parameter names to values"),
    "title as a list": ("jobs:\n  - {parameters: {region: 渝北区, year: 2024, title: [a]}}\n",
                        "jobs.yaml: jobs[0].parameters.title: expected a string, found a list"),
    "notebook outside": ("jobs:\n  - {parameters: {region: 渝北区, year: 2024}, notebook: /usr/x.ipynb}\n",
                         "jobs[0].notebook: expected one of industry_report"),
    "same files": ("jobs:\n  - {parameters: {region: 渝北区, year: 2024}}\n  - {parameters: {region: 渝北区, year: 2024, "
                   "title: T}}\n", "jobs[1]: expected a report with files of its own, found the files of jobs[0]"),
}


@pytest.mark.parametrize("case", list(BAD_JOBS))
def test_invalid_jobs_files(case, tmp_path, cli):
    text, message = BAD_JOBS[case]
    f = write_jobs(tmp_path / "jobs.yaml", text)
    code, out, err = cli("batch", f, "--out", tmp_path / "out")
    assert code == 2, err
    assert message in err, err
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_huge_matrix_is_refused_before_expanding(tmp_path, cli):
    regions = ", ".join(f"r{i}" for i in range(1000))
    years = ", ".join(str(1900 + i % 200) for i in range(1000))
    f = write_jobs(tmp_path / "jobs.yaml", f"matrix: {{region: [{regions}], year: [{years}]}}\n")
    code, out, err = cli("batch", f, "--out", tmp_path / "out")
    assert code == 2, err
    assert "jobs.yaml: matrix: expected at most 10000 combinations, found 1000000 (1000 region × 1000 year)" in err
    assert not (tmp_path / "out").exists()    # refused before anything was expanded or written


TARGET_ONLY = """
defaults: {formats: [html]}
jobs:
  - {parameters: {region: 渝北区, year: 2027}}
  - {parameters: {region: 示例区A, year: 2027}, data: %s}
""" % EXAMPLE


def test_job_without_observed_data_fails_in_the_parent_without_a_pool(tmp_path, cli):
    from analysis.batch import run_batch
    f = write_jobs(tmp_path / "jobs.yaml", TARGET_ONLY)
    res = run_batch(f, out=tmp_path / "out", workers=2)
    assert res.pool is None and res.failed == 2
    m = manifest(tmp_path / "out")
    assert {v["status"] for v in m.values()} == {"failed"}
    bad = m["渝北区/2027/zh"]
    assert bad["status"] == "failed" and bad["outputs"] == {}
    assert bad["error"] == (f"{f}: jobs[0].parameters.year: expected a year with observed data for 渝北区 (2024), "
                            "found 2027")
    assert not list((tmp_path / "out").rglob("*.html"))
    # the CLI says so: one log line per job, and at -v that no worker started
    code, out, err = cli("-v", "batch", f, "--out", tmp_path / "out2")
    assert code == 1 and "0 ok, 0 skipped, 2 failed" in out
    assert re.search(r"failed\s+渝北区/2027/zh 0.0s \S*jobs.yaml: jobs\[0\].parameters.year: expected a year", err), err
    assert "nothing to run: no worker started" in err


def test_quiet_keeps_only_failures(failing_batch, cli):
    """-q silences the lines of jobs that went well (cron mails only trouble); a failure is a
    warning and keeps its line, with the whole error the summary table may cut. (failing_batch's
    folder: its good jobs are up to date, so the reruns here start no worker.)"""
    jobs, out, first, _ = failing_batch
    assert "failed  江北区/2024/zh" in first.stderr and "ok      渝北区/2024/zh" in first.stderr
    for args in (("-q", "batch", jobs), ("batch", jobs, "-q")):
        code, stdout, err = cli(*args, "--out", out)    # the ok jobs are up to date: skipped
        lines = err.splitlines()
        assert code == 1 and len(lines) == 1 and "failed  江北区/2024/zh" in lines[0], err
        assert "expected one of the regions in the data (渝北区), found '江北区'" in lines[0]
        assert re.search(r"江北区/2024/zh\s+failed", stdout) and re.search(r"渝北区/2024/zh\s+skipped", stdout)


def test_dask_cluster_gives_the_same_outputs(tmp_path, failing_batch):
    """The two example jobs of failing_batch (conftest) on a Dask LocalCluster: the same files, with the
    same content, statuses and inputs as those local workers gave."""
    from distributed import LocalCluster
    _, local, _, _ = failing_batch
    jobs = write_jobs(tmp_path / "jobs.yaml", f"""
defaults: {{formats: [html]}}
jobs:
  - {{parameters: {{region: 示例区A, year: 2024}}, data: {EXAMPLE}}}
  - {{parameters: {{region: 示例区B, year: 2024}}, data: {EXAMPLE}}}
""")
    remote = tmp_path / "dask"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        res = run_cli("batch", jobs, "--out", remote, "--scheduler", cluster.scheduler_address)
    assert res.returncode == 0, res.stderr
    mine = [f for f in files_under(local) if f.startswith(("示例区A/", "示例区B/"))]
    assert len(mine) >= 8 and files_under(remote) == mine
    def by_region(out):     # (the local batch names its jobs with their data file: it has two)
        return {e["request"]["region"]: e for e in manifest(out).values() if e["request"]["region"].startswith("示例区")}
    ml, mr = by_region(local), by_region(remote)
    assert sorted(mr) == sorted(ml) == ["示例区A", "示例区B"] and len(manifest(remote)) == 2
    assert {k: v["status"] for k, v in mr.items()} == {k: v["status"] for k, v in ml.items()} == {k: "ok" for k in mr}
    assert {k: v["inputs"] for k, v in mr.items()} == {k: v["inputs"] for k, v in ml.items()}
    for f in mine:
        if f.endswith((".csv", ".html")):
            a, b = (local / f).read_text(encoding="utf-8"), (remote / f).read_text(encoding="utf-8")
            assert a == b, f


def test_no_scheduler_is_a_clear_error(tmp_path):
    """Nothing listens at the address: after --scheduler-timeout (dask retries the connection until then;
    the default, 10 s, is waited for by nothing here), exit 1 naming the address and the wait."""
    t0 = time.monotonic()
    res = run_cli("batch", ROOT / "jobs" / "example.yaml", "--out", tmp_path, "--scheduler", "tcp://127.0.0.1:9",
                  "--scheduler-timeout", "1.5")
    assert res.returncode == 1
    assert "error: --scheduler tcp://127.0.0.1:9: expected a running dask scheduler, found none within 1.5 s" in res.stderr
    assert "Traceback" not in res.stderr and time.monotonic() - t0 < 9   # the 10 s default was not used
    assert not list(tmp_path.rglob("*.html"))


def test_a_dead_worker_is_charged_to_the_job_it_ran_and_only_to_it():
    """analysis.batch._requeue after a pool broke: the job whose worker died (SIGKILL) is charged; a job
    in a worker the pool terminated (SIGTERM, exit 143), one that finished but whose result was lost
    (its slot negative) and one not started are run again uncharged; past the retry limit, failed."""
    import signal as sig
    from analysis.batch import _requeue
    queue = [(type("R", (), {"key": k})(), {}) for k in ("killer", "bystander", "finished", "waiting")]
    slots = [101, 102, -103, 0]
    codes = {101: -sig.SIGKILL, 102: 128 + sig.SIGTERM, 103: 128 + sig.SIGTERM}
    deaths, recorded = {}, []
    again = _requeue(queue, [0, 1, 2, 3], slots, codes, deaths, 1, lambda i, o: recorded.append((i, o)))
    assert [r.key for r, _ in again] == ["killer", "bystander", "finished", "waiting"]
    assert deaths == {"killer": [-sig.SIGKILL]} and not recorded
    again = _requeue(queue, [0, 1], slots, codes, deaths, 1, lambda i, o: recorded.append((i, o)))
    assert [r.key for r, _ in again] == ["bystander"]
    [(i, outcome)] = recorded
    assert i == 0 and outcome["status"] == "failed"
    assert outcome["error"] == ("worker died 2 times running this report (last: killed by SIGKILL); not retried "
                                "again (the retry limit is 1)")
    # no worker's status tells which died: every job then running is charged
    deaths = {}
    _requeue(queue, [0, 1, 3], [101, 102, 0, 0], {101: None, 102: None}, deaths, 2, lambda i, o: None)
    assert deaths == {"killer": [None], "bystander": [None]}
