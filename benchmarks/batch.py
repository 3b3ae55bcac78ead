"""Batch benchmark: 20 reports (HTML + PDF) with `analysis batch --workers 2`, against the naive
chain (papermill CLI → nbconvert CLI → PDF CLI) run 20 times one after another, in the same run.

The 20 regions are synthetic: the 渝北区 figures under other names, monetary levels scaled, written
to benchmarks/out/bench_regions.csv by this script.
"""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
N = 20


def make_data(folder: Path) -> Path:
    rows = list(csv.DictReader(io.StringIO((ROOT / "data" / "observations.csv").read_text(encoding="utf-8"))))
    out = []
    for i in range(1, N + 1):
        for r in rows:
            r = dict(r)
            r["id"] = f"b{i:02d}-{r['id']}"
            r["region"] = f"基准区{i:02d}"
            if r["measure"] in ("level", "target") and r["unit"] == "亿元":
                r["value"] = f"{float(r['value']) * (0.5 + i / 20):.1f}"
            r["source"] = "B1"
            out.append(r)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bench_regions.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(out)
    (folder / "sources.csv").write_text("id,title,publisher,date,file,sha256,note\n"
                                        "B1,Synthetic benchmark regions (渝北区 figures renamed and scaled),benchmarks/batch.py,,,,not real statistics\n",
                                        encoding="utf-8")
    return path


def _ours(jobs: Path, out: Path) -> float:
    t = time.perf_counter()
    subprocess.run([str(BIN / "analysis"), "batch", str(jobs), "--workers", "2", "--out", str(out), "--force"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def _naive(regions: list[str], data: Path, work: Path) -> float:
    t = time.perf_counter()
    for i, region in enumerate(regions):
        w = work / str(i)
        w.mkdir(parents=True)
        nb = w / "exec.ipynb"
        subprocess.run([str(BIN / "papermill"), str(ROOT / "notebooks" / "industry_report.ipynb"), str(nb),
                        "-p", "region", region, "-p", "year", "2024", "-p", "data", str(data), "--no-progress-bar"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT / "notebooks")
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(nb), "--output", str(w / "r.html")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([str(BIN / "python"), "-m", "analysis.export", "pdf", str(nb), str(w / "r.pdf")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def _rerun(jobs: Path, out: Path, bad: Path) -> dict:
    """Reruns that must start no worker pool: everything up to date; and up to date plus one job that
    fails validation (a region the data lacks). In-process, to read ``BatchResult.pool``."""
    from analysis.batch import run_batch
    res = {}
    for label, file in (("up to date", jobs), ("up to date + 1 failing validation", bad)):
        t = time.perf_counter()
        r = run_batch(file, workers=2, out=out)
        res[label] = (time.perf_counter() - t, r.pool)
    return res


def run(rounds: int | None = None) -> dict:
    """Alternating rounds (ours, then the naive chain × 20); medians of each."""
    import os
    import statistics
    rounds = rounds or int(os.environ.get("BENCH_ROUNDS", "3"))
    data = make_data(HERE / "out")
    regions = [f"基准区{i:02d}" for i in range(1, N + 1)]
    ours, naive = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        jobs = tmp / "jobs.yaml"
        jobs.write_text(f"defaults: {{formats: [html, pdf], data: {data}}}\n"
                        f"matrix: {{region: [{', '.join(regions)}], year: [2024]}}\n", encoding="utf-8")
        bad = tmp / "jobs_bad.yaml"
        bad.write_text(jobs.read_text(encoding="utf-8") + f"jobs: [{{parameters: {{region: 不存在区, year: 2024}}, data: {data}}}]\n",
                       encoding="utf-8")
        for i in range(rounds):
            ours.append(_ours(jobs, tmp / "ours"))
            print(f"  round {i + 1}: analysis batch --workers 2  {ours[-1]:7.1f} s for {N} reports", flush=True)
            naive.append(_naive(regions, data, tmp / f"naive{i}"))
            print(f"  round {i + 1}: naive chain × {N}, in series {naive[-1]:7.1f} s", flush=True)
        manifest = json.loads((tmp / "ours" / "manifest.json").read_text(encoding="utf-8"))
        usage = [e.get("usage", {}) for e in manifest["jobs"].values()]
        reruns = _rerun(jobs, tmp / "ours", bad)
    res = {"ours_s": statistics.median(ours), "naive_s": statistics.median(naive), "ours_all": ours, "naive_all": naive,
           "worker_peak_mb": max(u.get("process_peak_mb", 0) for u in usage),
           "kernel_peak_mb": max(u.get("kernel_peak_mb", 0) for u in usage),
           "kernel_cpu_s": statistics.median(u.get("kernel_cpu_s", 0) for u in usage), "reruns": reruns}
    res["speedup"] = res["naive_s"] / res["ours_s"]
    print(f"  {res['speedup']:.1f}× faster (target ≥ 6×); peak memory per worker {res['worker_peak_mb']:,.0f} MB, "
          f"per kernel {res['kernel_peak_mb']:,.0f} MB")
    for label, (sec, pool) in reruns.items():
        print(f"  rerun, {label}: {sec:.1f} s, worker pool started: {'no' if pool is None else pool}")
    return res


if __name__ == "__main__":
    run()
