"""`make bench`: every benchmark, each against the baseline its issue names, in one run.

Prints the figures and writes them to benchmarks/RESULTS.md (machine, date, figures).
Run some with `python benchmarks/run.py panel|report|batch|extract|scale|suite` (`BENCH_ROUNDS=N` alternating
rounds for panel, report and batch; suite: the test suite, `SUITE_RUNS=N` for the median of N runs).
"""
from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def machine() -> str:
    cpus = os.cpu_count()
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    return f"{platform.machine()}, {cpus} cores, {mem}, Python {platform.python_version()}"


def section(title: str, intro: str, header: list[str], rows: list[list[str]], conclusion: str) -> list[str]:
    """A markdown section: title, optional intro, a table (first column left, others right), a conclusion."""
    out = [f"## {title}", ""] + ([intro, ""] if intro else [])
    out += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out + ["", conclusion, ""]


def main(which: list[str]) -> int:
    lines = ["# Benchmark results", "", f"{dt.date.today().isoformat()} — {machine()}", ""]
    if "panel" in which:
        import panel
        rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
        print(f"Metrics on a panel of 3,000 regions × 20 years × 40 indicators ({rounds} alternating rounds, "
              "each run in its own process):", flush=True)
        res = panel.run(3000, rounds=rounds)
        v, n = res["vectorised"], res["naive"]
        speed = n["seconds"] / v["seconds"]
        same = abs(v["checksum"] - n["checksum"]) < 1e-6 * abs(n["checksum"])
        met = {"≤ 5 s": v["seconds"] <= 5, "≤ 2 GB": v["peak_mb"] <= 2000, "≥ 20×": speed >= 20}
        print(f"  vectorised is {speed:.1f}× faster (target ≥ 20×, ≤ 5 s, ≤ 2 GB)")
        loads = [x for r in v["runs"] + n["runs"] for x in r["load"]]
        each = lambda r: ", ".join(f"{x['seconds']:.2f}" for x in r["runs"])  # noqa: E731
        lines += section(
            "Metrics panel (issue 3, issue 12)",
            f"{v['observations']:,} observations → {v['results']:,} metric rows (the naive baseline gives "
            f"{n['results']:,}: it ranks levels only, the engine also growth and shares). Median of {rounds} "
            "alternating rounds (vectorised, naive, …), each run in a fresh process; CPU = the process's CPU "
            "time for the computation; peak = max RSS of the process (the highest of the rounds), including "
            f"the generated panel itself. Load average during the runs: {min(loads):.1f}–{max(loads):.1f} "
            f"on {os.cpu_count()} cores (other work stretches wall-clock times, the longer naive runs more: the "
            "CPU times are the steadier figures).",
            ["implementation", "seconds (median)", "CPU s (median)", "each round", "peak memory"],
            [["`analysis.metrics.compute` (vectorised)", f"{v['seconds']:.2f}", f"{v['cpu_s']:.2f}", each(v),
              f"{v['peak_mb']:,.0f} MB"],
             ["per-region `groupby().apply` (naive)", f"{n['seconds']:.2f}", f"{n['cpu_s']:.2f}", each(n),
              f"{n['peak_mb']:,.0f} MB"]],
            f"Vectorised is **{speed:.1f}×** faster (ratio of the medians; {n['cpu_s'] / v['cpu_s']:.1f}× in CPU time; "
            "targets, issue 12: "
            + ", ".join(f"{k} {'met' if ok else 'NOT met'}" for k, ok in met.items())
            + f"); both give the same results (checksum {'equal' if same else 'DIFFERENT'}).")
    if "report" in which:
        import report
        print("Default report (HTML + PDF), alternating runs:", flush=True)
        r = report.run()
        lines += section(
            "One report (issue 4, issue 12)", "Cold command line each time; alternating runs, median.",
            ["pipeline", "seconds (median)", "each run"],
            [["naive chain: papermill CLI → `jupyter nbconvert --to html --no-input` → PDF CLI", f"{r['naive_s']:.1f}",
              ", ".join(f"{x:.1f}" for x in r["naive_all"])],
             ["`analysis report` (HTML + PDF)", f"{r['ours_s']:.1f}", ", ".join(f"{x:.1f}" for x in r["ours_all"])],
             ["`analysis report`, first run with an empty font cache", f"{r['ours_cold_s']:.1f}", ""]],
            f"Ratio **{r['ratio']:.2f}×** the naive chain (target ≤ 0.33×; {'met' if r['ratio'] <= 0.33 else 'NOT met'}).")
    if "batch" in which:
        import batch
        print("Batch of 20 reports (HTML + PDF), 2 workers, alternating rounds:", flush=True)
        b = batch.run()
        n = len(b["ours_all"])
        rows = [["naive chain × 20, one after another", f"{b['naive_s']:.1f}", ", ".join(f"{x:.1f}" for x in b["naive_all"])],
                ["`analysis batch --workers 2`", f"{b['ours_s']:.1f}", ", ".join(f"{x:.1f}" for x in b["ours_all"])]]
        rows += [[f"rerun, {label} (worker pool started: {'no' if pool is None else pool})", f"{sec:.1f}", ""]
                 for label, (sec, pool) in b["reruns"].items()]
        lines += section(
            "Batch of 20 reports (issue 5, issue 12)",
            f"Median of {n} alternating rounds. Each worker forks its kernels from a warm template "
            f"(median kernel CPU per report {b['kernel_cpu_s']:.1f} s); peak memory per worker "
            f"{b['worker_peak_mb']:,.0f} MB, per kernel {b['kernel_peak_mb']:,.0f} MB.",
            ["pipeline", "seconds (median)", "each round"], rows,
            f"**{b['speedup']:.1f}×** faster (target ≥ 6×; {'met' if b['speedup'] >= 6 else 'NOT met'}); "
            f"reruns with nothing to run start no worker pool: "
            f"{'yes' if all(p is None for _, p in b['reruns'].values()) else 'NO'}.")
    if "extract" in which:
        import extract
        print("Extraction against the gold transcriptions (each text in its own process, imports included):", flush=True)
        res = extract.run()
        rows = []
        for r in res:
            sc = r["scores"]
            rows.append([f"{r['label']} — {r['kind']}",
                         *(f"{sc[f][0]:.2f} / {sc[f][1]:.2f}" for f in ("figure", "indicator", "year")),
                         f"{sc['figure'][4]}", f"{r['wall_s']:.1f}"])
        ok = all(r["meets"] for r in res)
        print("  " + ("every text meets" if ok else "NOT every text meets") + " the targets (recall ≥ 0.90, precision ≥ 0.85)")
        lines += section(
            "Extraction (issue 13)",
            "`analysis extract` on each gold text; precision / recall per field (figure = value, unit, qualifier and "
            "measure together); seconds = the whole command in a fresh process, imports included.",
            ["text", "figure P / R", "indicator P / R", "year P / R", "gold rows", "seconds"], rows,
            f"Targets (figure recall ≥ 0.90, precision ≥ 0.85 on each text): **{'met' if ok else 'NOT met'}**.")
    if "scale" in which:
        import scale
        print("Data at scale: a 1 M-row observations file (each step in a fresh process):", flush=True)
        r = scale.run()
        c, rc, rp = r["check"], r["reconcile"], r["report"]
        rows = [[f"`analysis check-data`, {r['data']['rows']:,} rows", f"{c['wall_s']:.1f}", f"{c['cpu_s']:.1f}",
                 f"{c['peak_mb']:,.0f} MB", "≤ 10 s, ≤ 2 GB"],
                [f"`reconcile`, {rc['observations']:,} observations (alone; the process also loads and computes)",
                 f"{rc['reconcile_wall_s']:.1f}", f"{rc['reconcile_cpu_s']:.1f}", f"{rc['peak_mb']:,.0f} MB", "≤ 10 s"],
                [f"`analysis report` (HTML + PDF), the region's own file ({r['data']['small_rows']:,} rows)",
                 f"{rp['small_s']:.1f}", f"{rp['small_cpu_s']:.1f}", f"{rp['small_peak_mb']:,.0f} MB", ""],
                [f"`analysis report` (HTML + PDF), the {r['data']['rows']:,}-row file", f"{rp['big_s']:.1f}",
                 f"{rp['big_cpu_s']:.1f}", f"{rp['big_peak_mb']:,.0f} MB", "≤ 1.5× the own file"]]
        lines += section(
            "Scale (issue 12)",
            "Synthetic province of 40 cities × 100 counties × 10 years (`benchmarks/scale.py`); seconds = wall of "
            "a fresh process (reports: median of 3, alternating), CPU = user + sys, peak = max RSS.",
            ["step", "seconds", "CPU s", "peak memory", "target"], rows,
            f"One region's report from the 1 M-row file takes **{rp['ratio']:.2f}×** the time from its own file "
            "(target ≤ 1.5×).")
    if "suite" in which:
        import suite
        repeats = int(os.environ.get("SUITE_RUNS", "1"))
        print(f"Test suite, as `make test` runs it (median of {repeats}; several minutes each):", flush=True)
        t = suite.run(repeats)
        rows = [[f"run {i + 1}", f"{r['seconds']:.0f}", f"{r['load_before']:.1f} / {r['load_after']:.1f}",
                 f"{r['calibration']:.2f}", r["summary"]] for i, r in enumerate(t["runs"])]
        lines += section(
            "Test suite (issue 12)",
            f"`python -m pytest -q -p no:cacheprovider` (what `make test` runs) from a warm environment, on "
            f"{t['cores']} cores; load = the load average before / after the run (other processes on the same cores); "
            "calibration = CPU seconds of a fixed single-threaded workload just before the run (`suite.calibrate`: "
            "the machine's speed at the time; lower is faster).",
            ["run", "seconds", "load", "calibration s", "pytest"], rows,
            f"Median **{t['seconds']:.0f} s** ({t['seconds'] / 60:.1f} min; target ≤ 4 min: "
            f"**{'met' if t['meets'] else 'NOT met'}**){'' if t['passed'] else '; NOT every run passed'}.")
    # each benchmark keeps its own section; RESULTS.md shows the latest of each
    sections = HERE / "results"
    sections.mkdir(exist_ok=True)
    body = "\n".join(lines[4:])
    for part in body.split("## ")[1:]:
        key = {"Metrics": "1-panel", "One": "2-report", "Batch": "3-batch", "Extraction": "4-extract",
               "Scale": "5-scale", "Test": "6-suite"}[part.split()[0]]
        (sections / f"{key}.md").write_text("## " + part.rstrip() + "\n", encoding="utf-8")
    out = HERE / "RESULTS.md"
    out.write_text("\n".join(lines[:4]) + "\n" + "\n".join(f.read_text(encoding="utf-8") for f in sorted(sections.glob("*.md"))),
                   encoding="utf-8")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:] or ["panel", "report", "batch", "extract", "scale", "suite"]))
