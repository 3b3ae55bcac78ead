"""Report benchmark: `analysis report` (HTML + PDF) against the naive chain, in the same run.

Naive chain = three commands, each paying its own imports: papermill CLI, then
`jupyter nbconvert --to html --no-input`, then the same PDF step as a separate command
(`python -m analysis.export pdf`). `analysis report` caches font subsets: its first run with an
empty cache is shown separately from the median of the later runs.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(cmd, **kw):
    t = time.perf_counter()
    subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return time.perf_counter() - t


def naive(work: Path, region="渝北区", year=2024) -> float:
    nb = work / "exec.ipynb"
    t = _run([BIN / "papermill", ROOT / "notebooks" / "industry_report.ipynb", nb, "-p", "region", region,
              "-p", "year", str(year), "--no-progress-bar"], cwd=ROOT / "notebooks")
    t += _run([BIN / "jupyter", "nbconvert", "--to", "html", "--no-input", nb, "--output", work / "naive.html"])
    t += _run([BIN / "python", "-m", "analysis.export", "pdf", nb, work / "naive.pdf"])
    return t


def ours(work: Path, region="渝北区", year=2024) -> float:
    return _run([BIN / "analysis", "report", "--region", region, "--year", str(year), "--out", work])


def run(repeats: int | None = None) -> dict:
    repeats = repeats or int(os.environ.get("BENCH_ROUNDS", "5"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cache = work / "fontcache"
        os.environ["ANALYSIS_CACHE"] = str(cache)
        cold = ours(work / "cold")          # empty font cache: the subset is built during the run
        n, o = [], []
        for i in range(repeats):
            n.append(naive(work))
            o.append(ours(work / f"r{i}"))
        shutil.rmtree(cache, ignore_errors=True)
    res = {"naive_s": statistics.median(n), "ours_s": statistics.median(o), "ours_cold_s": cold,
           "naive_all": n, "ours_all": o}
    res["ratio"] = res["ours_s"] / res["naive_s"]
    print(f"  naive chain (papermill CLI → nbconvert CLI → PDF CLI)  {res['naive_s']:6.1f} s  (median of {repeats}: "
          + ", ".join(f"{x:.1f}" for x in n) + ")")
    print(f"  analysis report (HTML + PDF)                          {res['ours_s']:6.1f} s  (median of {repeats}: "
          + ", ".join(f"{x:.1f}" for x in o) + f"; first run with an empty font cache {cold:.1f} s)")
    print(f"  ratio {res['ratio']:.2f}× the naive chain (target ≤ 0.33×)")
    return res


if __name__ == "__main__":
    run()
