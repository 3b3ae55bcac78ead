"""Test-suite benchmark (issue 12): `make test` from a warm environment, target ≤ 4 minutes on 2 cores.

Times the command `make test` runs, `python -m pytest -q` (with `-p no:cacheprovider`, so that
a run neither reads nor leaves pytest's cache of failed tests), in a subprocess from the
repository's top, N times, with Python allowed to write bytecode as the Makefile allows it; the median
is the figure. The machine's load average before and after
each run is kept beside it: the suite runs reports in parallel (pyproject's addopts), and other
processes on the same cores slow it down as much as they take.

`python benchmarks/suite.py [N]` runs it alone.
"""
from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 240.0
COMMAND = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def calibrate() -> float:
    """CPU seconds of a fixed single-threaded workload (interpreted Python and zlib, ≈ 0.5 s): how fast the
    machine runs right now. This machine's speed drifts by ±20 % over hours; a suite time read beside it
    says whether a slower run is the code or the machine."""
    import zlib
    t = time.process_time()
    data = bytes(range(256)) * 4096
    total = 0
    for i in range(3_000_000):
        total += i * i % 7
    for _ in range(40):
        zlib.compress(data, 6)
    return time.process_time() - t


def once() -> dict:
    """One run of the suite: seconds, exit code, pytest's last line, load average before and after, and
    :func:`calibrate` just before."""
    calibration = calibrate()
    before = _load()
    t = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}   # as the Makefile runs it
    res = subprocess.run(COMMAND, cwd=ROOT, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t
    lines = [line for line in res.stdout.splitlines() if line.strip()]
    summary = re.sub(r"^=+ | =+$", "", lines[-1]) if lines else ""
    failed = [line.split(" - ")[0].split(" ", 1)[1] for line in lines if line.startswith(("FAILED ", "ERROR "))]
    if res.returncode != 0:   # the whole output of a failing run, to see why (benchmarks/out is not in git)
        log = ROOT / "benchmarks" / "out" / f"suite-failed-{time.strftime('%Y%m%dT%H%M%S')}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(res.stdout + res.stderr, encoding="utf-8")
    return {"seconds": seconds, "returncode": res.returncode, "summary": summary, "failed": failed,
            "load_before": before, "load_after": _load(), "calibration": calibration}


def run(repeats: int = 1) -> dict:
    runs = []
    for i in range(repeats):
        r = once()
        runs.append(r)
        print(f"  run {i + 1}/{repeats}: {r['seconds']:.0f} s, exit {r['returncode']} ({r['summary']}); "
              f"load average {r['load_before']:.1f} before, {r['load_after']:.1f} after; "
              f"calibration {r['calibration']:.2f} s"
              + "".join(f"\n    failed: {t}" for t in r["failed"]), flush=True)
    median = statistics.median(r["seconds"] for r in runs)
    res = {"seconds": median, "runs": runs, "passed": all(r["returncode"] == 0 for r in runs),
           "cores": os.cpu_count(), "meets": median <= TARGET_S}
    print(f"  make test: {median:.0f} s ({median / 60:.1f} min; median of {repeats}) on {res['cores']} cores "
          f"(target ≤ {TARGET_S / 60:.0f} min){'' if res['passed'] else '; NOT every run passed'}")
    return res


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
