"""Every generated bad input (tests/robustness/cases.py) through the real command line, in-process.

Each answer must be: exit 1 (bad data, catalog) or 2 (bad options, jobs file) as the case says; one
message naming the input (file, and row and column where they apply); no traceback and no
"internal error"; nothing on stdout for check-data and metrics (no partial summary or table);
no report file in --out; finished within the case's bound — an alarm turns a hang into a failure
(a FIFO opened for reading would otherwise block the test run forever).
"""
from __future__ import annotations

import signal
import time

import pytest

from analysis import limits

from .cases import CASES

#: every case answers within this, hangs included (SIGALRM)
HARD_SECONDS = 60


class Hang(BaseException):
    """Raised by the alarm: not an Exception, so that the CLI's own handlers cannot swallow it."""


def _alarm(signum, frame):
    raise Hang(f"no answer within {HARD_SECONDS} s")


def test_at_least_sixty_classes():
    assert len(CASES) >= 60
    groups = {g for g, _ in CASES.values()}
    assert groups >= {"data cell", "data file", "workbook", "sources.csv", "regions.csv", "catalog", "jobs file",
                      "report options"}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, cli, monkeypatch):
    group, build = CASES[name]
    run = build(tmp_path)
    for key, value in run.limits.items():
        monkeypatch.setattr(limits, key, value)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HARD_SECONDS)
    t = time.perf_counter()
    try:
        code, out, err = cli(run.command, *run.args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    seconds = time.perf_counter() - t
    assert code == run.code, f"exit {code}, expected {run.code}\n{err}"
    assert "Traceback" not in err and "internal error" not in err, err
    assert err.startswith("error: "), err
    for text in run.names:
        assert text in err, f"{text!r} not in:\n{err[:3000]}"
    if run.command in ("check-data", "metrics"):
        assert out == "", out
    if run.out is not None and run.out.exists():
        made = [p for p in run.out.rglob("*") if p.is_file() and p.name not in ("manifest.json", ".batch.lock")]
        assert made == []
    assert seconds < run.seconds, f"{seconds:.1f} s"
