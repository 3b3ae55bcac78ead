"""Panel benchmark: every catalog metric for 3,000 regions × 20 years × 40 indicators.

Compares analysis.metrics.compute (vectorised) with a straightforward per-region
``groupby().apply`` implementation of the same metrics in alternating rounds (vectorised, naive,
vectorised, naive, …), each run in a fresh process so that peak memory (ru_maxrss) is per
implementation; reports the median of each and the ratio of the medians.
Run: ``python benchmarks/panel.py [--regions N] [--rounds N] [--only vectorised|naive]``.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
N_IND = 40


def write_catalog(path: Path) -> Path:
    """A synthetic catalog: 40 indicators (i00 is the whole; i39 is a rate in %)."""
    lines = ["settings: {approx_band: 0.05, near_band: 0.10}", "indicators:"]
    for i in range(N_IND):
        unit = '"%"' if i == N_IND - 1 else "亿元"
        lines.append(f"  i{i:02d}: {{zh: 指标{i:02d}, en: indicator {i:02d}, unit: {unit}}}")
    lines.append("  t00: {zh: 指标00目标, en: indicator 00 target, unit: 亿元}")
    lines.append("metrics:")
    for i in range(1, 11):
        lines.append(f"  - {{code: share_i{i:02d}, kind: share, part: i{i:02d}, whole: i00}}")
    for k in ("growth", "implied_base", "implied_level", "cagr", "pp_change", "rank"):
        lines.append(f"  - {{code: {k}, kind: {k}, indicators: all}}")
    lines.append("  - {code: ratio_i11, kind: ratio, numerator: i11, denominator: i00, scale: 100, unit: '%'}")
    lines.append("  - {code: impl_den_i00, kind: implied_denominator, numerator: i11, ratio: i39, denominator: i00, scale: 100}")
    lines.append("  - {code: contrib_i01, kind: contribution, part: i01, whole: i00}")
    lines.append("  - {code: required_i00, kind: required_growth, target: t00, level: [i00]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_panel(n_regions: int, n_years: int = 20, seed: int = 0) -> pd.DataFrame:
    """Levels of 40 indicators for every region and year, stated growth for 4, one target each."""
    rng = np.random.default_rng(seed)
    regions = np.array([f"R{r:04d}" for r in range(n_regions)], dtype=object)
    years = np.arange(2005, 2005 + n_years)
    R, Y, I = np.meshgrid(np.arange(n_regions), years, np.arange(N_IND), indexing="ij")
    R, Y, I = R.ravel(), Y.ravel(), I.ravel()
    base = rng.uniform(50, 5000, size=(n_regions, N_IND))
    growth = rng.normal(0.06, 0.05, size=R.shape)
    value = base[R, I] * np.exp(np.cumsum(growth.reshape(n_regions, n_years, N_IND), axis=1).ravel() * 0.5)
    value = np.where(I == N_IND - 1, rng.uniform(0.5, 6, size=R.shape), value)  # a rate in %
    qual = np.where(rng.random(R.shape) < 0.05, ">", "exact")
    unit = np.where(I == N_IND - 1, "%", "元")
    levels = pd.DataFrame({"region": regions[R], "year": Y, "indicator": np.array([f"i{i:02d}" for i in range(N_IND)], dtype=object)[I],
                           "measure": "level", "value": np.where(unit == "%", value, value * 1e8), "unit": unit,
                           "qualifier": qual, "half_width": np.where(unit == "%", 0.005, 0.5e8)})
    g = levels[levels["indicator"].isin(["i01", "i02", "i03", "i04"])].copy()
    g["measure"], g["unit"], g["value"], g["qualifier"], g["half_width"] = "growth", "%", rng.normal(8, 5, len(g)), "exact", 0.05
    t = pd.DataFrame({"region": regions, "year": years[-1] + 3, "indicator": "t00", "measure": "target",
                      "value": base[:, 0] * 3e8, "unit": "元", "qualifier": ">", "half_width": 0.5e8})
    return pd.concat([levels, g, t], ignore_index=True)


def build(n_regions: int, catalog_path: Path):
    from analysis.catalog import load_catalog
    from analysis.data import make_observations
    cat = load_catalog(catalog_path)
    raw = make_panel(n_regions)
    obs = make_observations(raw, catalog=cat)
    return obs, cat


# ------------------------------------------------------------------ naive baseline

def naive_compute(obs: pd.DataFrame, cat) -> pd.DataFrame:
    """The straightforward implementation: per region, per metric, per row, Python arithmetic."""
    def corners(f, *iv):
        import itertools
        vals = []
        for bits in itertools.product((0, 1), repeat=len(iv)):
            try:
                vals.append(f(*[x[b] for x, b in zip(iv, bits)]))
            except (ZeroDivisionError, OverflowError, ValueError):
                pass
        vals = [v for v in vals if not (isinstance(v, float) and math.isnan(v))]
        return (min(vals), max(vals)) if vals else (math.nan, math.nan)

    def per_region(g: pd.DataFrame) -> pd.DataFrame:
        lv, gr, tg = {}, {}, {}
        for r in g.itertuples(index=False):
            d = {"level": lv, "growth": gr, "target": tg}.get(r.measure)
            if d is not None:
                d[(r.indicator, r.year)] = (r.value, r.lower, r.upper, r.id, r.qualifier)
        out = []
        def add(metric, year, v, lo, hi, inputs):
            out.append((metric, year, v, lo, hi, ",".join(inputs)))
        for e in cat.metrics:
            k = e["kind"]
            if k in ("share", "ratio"):
                num, den = (e["part"], e["whole"]) if k == "share" else (e["numerator"], e["denominator"])
                sc = 100.0 if k == "share" else float(e.get("scale", 1))
                for (ind, y), a in lv.items():
                    if ind != num:
                        continue
                    b = lv.get((den, y))
                    if b is None or b[1] <= 0:
                        add(e["code"], y, math.nan, math.nan, math.nan, [a[3]])
                        continue
                    lo, hi = corners(lambda x, z: x / z * sc, (a[1], a[2]), (b[1], b[2]))
                    add(e["code"], y, a[0] / b[0] * sc, lo, hi, [a[3], b[3]])
            elif k == "implied_denominator":
                for (ind, y), a in lv.items():
                    if ind != e["numerator"] or (e["ratio"], y) not in lv:
                        continue
                    b = lv[(e["ratio"], y)]
                    sc = float(e.get("scale", 1))
                    lo, hi = corners(lambda x, z: x / z * sc, (a[1], a[2]), (b[1], b[2]))
                    add(e["code"], y, a[0] / b[0] * sc, lo, hi, [a[3], b[3]])
            elif k == "growth":
                for (ind, y), a in lv.items():
                    b = lv.get((ind, y - 1))
                    if b is None or a[0] is None or cat.indicators[ind].unit == "%":
                        continue
                    if b[0] <= 0:
                        add(f"growth:{ind}", y, math.nan, math.nan, math.nan, [b[3], a[3]])
                        continue
                    lo, hi = corners(lambda x, z: (x / z - 1) * 100, (a[1], a[2]), (b[1], b[2]))
                    add(f"growth:{ind}", y, (a[0] / b[0] - 1) * 100, lo, hi, [b[3], a[3]])
            elif k == "pp_change":
                for (ind, y), a in lv.items():
                    b = lv.get((ind, y - 1))
                    if b is None or cat.indicators[ind].unit != "%":
                        continue
                    add(f"pp_change:{ind}", y, a[0] - b[0], a[1] - b[2], a[2] - b[1], [b[3], a[3]])
            elif k == "implied_base":
                for (ind, y), gg in gr.items():
                    a = lv.get((ind, y))
                    if a is None:
                        continue
                    lo, hi = corners(lambda x, z: x / (1 + z / 100), (a[1], a[2]), (gg[1], gg[2]))
                    add(f"implied_base:{ind}", y, a[0] / (1 + gg[0] / 100), lo, hi, [a[3], gg[3]])
            elif k == "implied_level":
                for (ind, y), gg in gr.items():
                    b = lv.get((ind, y - 1))
                    if b is None or (ind, y) in lv:
                        continue
                    lo, hi = corners(lambda x, z: x * (1 + z / 100), (b[1], b[2]), (gg[1], gg[2]))
                    add(f"implied_level:{ind}", y, b[0] * (1 + gg[0] / 100), lo, hi, [b[3], gg[3]])
            elif k == "cagr":
                inds = {}
                for (ind, y) in lv:
                    inds.setdefault(ind, []).append(y)
                for ind, ys in inds.items():
                    y0, y1 = min(ys), max(ys)
                    if y1 - y0 < 2:
                        continue
                    a, b = lv[(ind, y1)], lv[(ind, y0)]
                    n = y1 - y0
                    f = lambda x, z: ((x / z) ** (1 / n) - 1) * 100  # noqa: E731
                    lo, hi = corners(f, (a[1], a[2]), (b[1], b[2]))
                    add(f"cagr:{ind}", y1, f(a[0], b[0]) if b[0] > 0 else math.nan, lo, hi, [b[3], a[3]])
            elif k == "contribution":
                for (ind, y), a in lv.items():
                    if ind != e["part"]:
                        continue
                    p0, w0 = lv.get((ind, y - 1)), lv.get((e["whole"], y - 1))
                    if p0 is None or w0 is None or w0[0] <= 0:
                        add(e["code"], y, math.nan, math.nan, math.nan, [a[3]])
                        continue
                    f = lambda x, z, w: (x - z) / w * 100  # noqa: E731
                    lo, hi = corners(f, (a[1], a[2]), (p0[1], p0[2]), (w0[1], w0[2]))
                    add(e["code"], y, f(a[0], p0[0], w0[0]), lo, hi, [p0[3], a[3], w0[3]])
            elif k == "required_growth":
                tgt = [(key, t) for key, t in tg.items() if key[0] == e["target"]]
                lvl = [(key, a) for key, a in lv.items() if key[0] in e["level"]]
                if not tgt or not lvl:
                    continue
                (_, yl), a = max(lvl, key=lambda kv: kv[0][1])
                for (_, yt), t in tgt:
                    n = yt - yl
                    f = lambda x, z: ((x / z) ** (1 / n) - 1) * 100  # noqa: E731
                    lo, hi = corners(f, (t[0], t[0]), (a[1], a[2]))
                    add(e["code"], yl, f(t[0], a[0]), lo, hi, [a[3], t[3]])
                    add(e["code"] + "_gap", yl, t[0] - a[0], t[0] - a[2], t[0] - a[1], [a[3], t[3]])
        return pd.DataFrame(out, columns=["metric", "year", "value", "lower", "upper", "inputs"])

    res = obs.groupby("region", sort=False).apply(per_region, include_groups=False)
    res = res.reset_index(level=0).reset_index(drop=True)
    # ranks need all regions at once: the naive way ranks within each indicator-year group
    lv = obs[obs["measure"] == "level"]
    ranks = lv.groupby(["indicator", "year"], sort=False).apply(
        lambda g: g.assign(rank=g["value"].rank(ascending=False, method="min")), include_groups=False)
    return pd.concat([res, ranks.reset_index()[["region", "year", "rank"]].rename(columns={"rank": "value"}).assign(metric="rank")], ignore_index=True)


def _child(impl: str, n_regions: int, catalog_path: str, q):
    import gc
    obs, cat = build(n_regions, Path(catalog_path))
    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t, cpu = time.perf_counter(), time.process_time()
    if impl == "vectorised":
        from analysis.metrics import compute
        res = compute(obs, catalog=cat)
    else:
        res = naive_compute(obs, cat)
    secs, cpu = time.perf_counter() - t, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sample = res[res["metric"].astype(str).isin(["share_i01", "growth:i05", "implied_base:i02", "cagr:i07", "required_i00"])]
    q.put({"impl": impl, "seconds": secs, "cpu_s": cpu, "peak_mb": peak / 1024, "rss_before_mb": rss_before / 1024,
           "observations": len(obs), "results": len(res),
           "checksum": float(np.nansum(sample["value"].to_numpy(float)))})


def _once(impl: str, n_regions: int, catalog_path: Path) -> dict:
    """One run of one implementation in a fresh process (spawned: nothing inherited)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    load = os.getloadavg()[0]
    p = ctx.Process(target=_child, args=(impl, n_regions, str(catalog_path), q))
    p.start()
    r = q.get()
    p.join()
    r["load"] = (load, os.getloadavg()[0])   # 1-minute load average before / after: other work on the cores
    return r


def run(n_regions: int, impls=("vectorised", "naive"), rounds: int = 3) -> dict[str, dict]:
    """``rounds`` alternating rounds of the implementations, each run in its own process.

    Returns:
        Per implementation: ``seconds`` and ``cpu_s`` (medians of the rounds), ``peak_mb`` (the highest
        peak of the rounds), ``runs`` (every round's figures), and the observations, results and
        checksum of its last round.
    """
    OUT.mkdir(exist_ok=True)
    cat = write_catalog(OUT / "panel_catalog.yaml")
    runs: dict[str, list[dict]] = {impl: [] for impl in impls}
    for i in range(rounds):
        for impl in impls:
            r = _once(impl, n_regions, cat)
            runs[impl].append(r)
            print(f"  round {i + 1}: {impl:<10} {r['seconds']:8.2f} s  {r['cpu_s']:8.2f} CPU s  peak {r['peak_mb']:7.0f} MB  "
                  f"load {r['load'][0]:.1f}/{r['load'][1]:.1f}  "
                  f"({r['observations']:,} observations → {r['results']:,} results)", flush=True)
    out = {}
    for impl, rs in runs.items():
        out[impl] = {**rs[-1], "seconds": statistics.median(r["seconds"] for r in rs),
                     "cpu_s": statistics.median(r["cpu_s"] for r in rs), "peak_mb": max(r["peak_mb"] for r in rs),
                     "runs": rs}
        print(f"  {impl:<10} median {out[impl]['seconds']:8.2f} s, {out[impl]['cpu_s']:.2f} CPU s; "
              f"highest peak {out[impl]['peak_mb']:,.0f} MB ({len(rs)} rounds)", flush=True)
    if {"vectorised", "naive"} <= set(out):
        v, n = out["vectorised"], out["naive"]
        print(f"  ratio of the medians: vectorised is {n['seconds'] / v['seconds']:.1f}× faster "
              f"({n['cpu_s'] / v['cpu_s']:.1f}× in CPU time)", flush=True)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--regions", type=int, default=3000)
    ap.add_argument("--only", choices=["vectorised", "naive"])
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (each implementation once per round)")
    a = ap.parse_args()
    res = run(a.regions, [a.only] if a.only else ("vectorised", "naive"), rounds=a.rounds)
    json.dump(res, sys.stdout, indent=1)
