"""A few bad inputs through the installed console script, as cron would run it: a subprocess with a
timeout, so that a hang (a FIFO, a zip bomb) fails the test instead of stalling it. And a jobs
matrix that is checked, not run."""
from __future__ import annotations

import os
import time

import pytest

from conftest import DATA, run_cli
from xlsxmake import workbook, zip_bomb

from .cases import rows, write_csv


def _clean(res, *names: str, code: int = 1) -> None:
    assert res.returncode == code, res.stderr
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr, res.stderr
    for n in names:
        assert n in res.stderr, res.stderr


def _no_outputs(out):
    assert not out.exists() or [p for p in out.rglob("*") if p.is_file()] == []


def test_fifo_as_report_data(tmp_path):
    os.mkfifo(tmp_path / "obs.csv")
    t = time.perf_counter()
    res = run_cli("report", "--region", "渝北区", "--year", "2024", "--data", tmp_path / "obs.csv",
                  "--out", tmp_path / "out", timeout=60)
    _clean(res, "--data: expected an observations file", code=2)
    assert time.perf_counter() - t < 30
    _no_outputs(tmp_path / "out")


def test_fifo_and_zip_bomb_through_check_data(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")
    bomb = zip_bomb(tmp_path / "bomb.xlsx", workbook(tmp_path / "t.xlsx", rows(2)), mib=2048)
    t = time.perf_counter()
    res = run_cli("check-data", tmp_path / "pipe.csv", bomb, timeout=60)
    _clean(res, "pipe.csv: expected an observations file (.csv or .xlsx), found a named pipe (FIFO)",
           "bomb.xlsx: expected an .xlsx workbook of at most 256 MB")
    assert time.perf_counter() - t < 20
    assert res.stdout == ""


@pytest.mark.parametrize("bad", ["value", "duplicated column"])
def test_report_on_bad_data_leaves_nothing(tmp_path, bad):
    """The kernel starts ahead of the data check: a refusal must still leave no file and no staging."""
    t = rows()
    if bad == "value":
        t[1][t[0].index("value")] = "9" * 400
        name = "obs.csv:2:value"
    else:
        t[0][-1] = "region"
        name = "obs.csv:1:region: expected each column once"
    f = write_csv(tmp_path / "obs.csv", t)
    res = run_cli("report", "--region", "渝北区", "--year", "2024", "--data", f, "--out", tmp_path / "out",
                  "--format", "html", timeout=120)
    _clean(res, name)
    _no_outputs(tmp_path / "out")


def test_bad_data_through_metrics(tmp_path):
    f = write_csv(tmp_path / "obs.csv", [r + (["x"] if i else ["note"]) for i, r in enumerate(rows(3))])
    res = run_cli("metrics", "--data", f, timeout=60)
    _clean(res, "obs.csv:1:note: expected each column once")
    assert res.stdout == ""


# ------------------------------------------------------------------ a matrix is checked, not run

def test_matrix_of_ten_thousand_invalid_jobs_is_refused_before_anything(tmp_path):
    regions = ", ".join(f"r{i}" for i in range(100))
    years = ", ".join(f"'{1900 + i}年'" for i in range(100))
    f = tmp_path / "jobs.yaml"
    f.write_text(f"matrix: {{region: [{regions}], year: [{years}]}}\n", encoding="utf-8")
    t = time.perf_counter()
    res = run_cli("batch", f, "--out", tmp_path / "out", timeout=120)
    _clean(res, "jobs.yaml: matrix[0].parameters.year: expected a four-digit year, found '1900年'", code=2)
    assert time.perf_counter() - t < 30
    assert not (tmp_path / "out").exists()          # no lock, no manifest, no worker


def test_matrix_whose_jobs_all_fail_their_data_starts_no_worker(tmp_path, monkeypatch):
    """Every combination is a region the data lacks: each is recorded as failed by the parent and no
    worker or kernel starts. (Kept at 400 jobs: the manifest is rewritten after every recorded job,
    so 10⁴ such jobs take minutes — see the README.)"""
    from analysis import batch, run
    monkeypatch.setattr(batch, "_run_local", lambda *a, **k: pytest.fail("a worker pool started"))
    monkeypatch.setattr(run, "run_request", lambda *a, **k: pytest.fail("a report ran"))
    regions = ", ".join(f"不存在区{i}" for i in range(20))
    years = ", ".join(str(2001 + i) for i in range(20))
    f = tmp_path / "jobs.yaml"
    f.write_text(f"defaults: {{data: {DATA}}}\nmatrix: {{region: [{regions}], year: [{years}]}}\n", encoding="utf-8")
    t = time.perf_counter()
    res = batch.run_batch(f, out=tmp_path / "out")
    assert time.perf_counter() - t < 30
    assert res.pool is None and len(res.rows) == 400 and res.failed == 400
    assert "expected one of the regions in the data (渝北区), found '不存在区0'" in res.rows[0]["detail"]
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name not in (".batch.lock", "manifest.json")] == []
