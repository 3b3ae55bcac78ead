"""Batch benchmark: 20 reports (HTML + PDF) with `analysis batch --workers 2`, against the naive
chain (papermill CLI → nbconvert CLI → PDF CLI) run 20 times one after another, in the same run.

The 20 regions are synthetic: the 渝北区 figures under other names, monetary levels scaled, written
to benchmarks/out/bench_regions.csv by this script.
"""
from __future__ import annotations

import csv
import io
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


def run() -> dict:
    data = make_data(HERE / "out")
    regions = [f"基准区{i:02d}" for i in range(1, N + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        jobs = tmp / "jobs.yaml"
        jobs.write_text(f"defaults: {{formats: [html, pdf], data: {data}}}\n"
                        f"matrix: {{region: [{', '.join(regions)}], year: [2024]}}\n", encoding="utf-8")
        t = time.perf_counter()
        subprocess.run([str(BIN / "analysis"), "batch", str(jobs), "--workers", "2", "--out", str(tmp / "ours"), "--force"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ours = time.perf_counter() - t
        print(f"  analysis batch --workers 2   {ours:7.1f} s for {N} reports", flush=True)
        t = time.perf_counter()
        for i, region in enumerate(regions):
            work = tmp / "naive" / str(i)
            work.mkdir(parents=True)
            nb = work / "exec.ipynb"
            subprocess.run([str(BIN / "papermill"), str(ROOT / "notebooks" / "industry_report.ipynb"), str(nb),
                            "-p", "region", region, "-p", "year", "2024", "-p", "data", str(data), "--no-progress-bar"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT / "notebooks")
            subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(nb), "--output", str(work / "r.html")],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run([str(BIN / "python"), "-m", "analysis.export", "pdf", str(nb), str(work / "r.pdf")],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        naive = time.perf_counter() - t
        print(f"  naive chain × {N}, sequential {naive:7.1f} s", flush=True)
    res = {"ours_s": ours, "naive_s": naive, "speedup": naive / ours}
    print(f"  {res['speedup']:.1f}× faster (target ≥ 4×)")
    return res


if __name__ == "__main__":
    run()
