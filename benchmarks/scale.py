"""Scale benchmark (issue 12): a 1 M-row observations file — check-data, reconciliation, one region's report.

Generates, deterministically, into ``benchmarks/out/scale/`` (git-ignored):

- ``big/observations.csv``: 1,000,000 rows of a synthetic province (示范省): 40 cities (市), each with
  100 counties (区/县), 10 years, 22 indicators of the project's catalog (``data/catalog.yaml``) as
  levels and 4 as growth, and each city's own levels. Values are written as analysts write them:
  mostly plain decimals, some in 万 (``1.2万`` 亿元), some firm counts in Chinese numerals
  (``三百二十`` 家), qualifiers 超/近/约 in the qualifier column or in the value text (``超4000``);
  one stated rank per county and year (growth_rank, to be reconciled);
- ``big/regions.csv`` (the hierarchy the loader reads beside a data file), ``big/sources.csv`` and one
  snapshot per city (``raw/C01.txt``: the text every quote of its counties is checked against);
- ``small/``: the same for one county, its parent city and its peers (the rows its report uses).

Measures, each in a fresh process (wall and peak RSS of the child via ``resource.getrusage``):
(a) ``analysis check-data`` of the big file; (b) ``reconcile`` of 1 M observations (metrics computed
first, reconciliation timed alone); (c) ``analysis report --format html,pdf`` for one county from the big
file and from the small one, alternating, median of ``--repeats``.

Run: ``python benchmarks/scale.py [--only check|reconcile|report] [--repeats 3]``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out" / "scale"
#: the command of this checkout (``python -m analysis`` with its src first on the path: the venv's
#: ``analysis`` script imports whatever the venv was installed from)
ANALYSIS = [sys.executable, "-m", "analysis"]
N_ROWS = 1_000_000
N_CITIES, N_COUNTIES, YEARS = 40, 100, list(range(2015, 2025))
#: money levels (亿元) from the catalog, ranked and reconciled like real ones
MONEY = ["ind_output_above", "ind_output", "ind_va_above", "ind_va", "hightech_va", "revenue_above", "profit_above",
         "gdp", "va_primary", "va_secondary", "va_tertiary", "fai", "industrial_investment", "retail_sales",
         "budget_revenue", "trade", "exports", "auto_output", "electronics_output", "sei_output", "rd_spending"]
GROWTH = ["ind_va_above", "gdp", "retail_sales", "fai"]
PROVINCE = "示范省"
REPORT_YEAR = 2024


def _city(c: int) -> str:
    return f"{PROVINCE}第{c:02d}市"


def _county(c: int, k: int) -> str:
    return f"{_city(c)}第{k:03d}{'区' if k % 4 else '县'}"


#: the county reported on (its city's rows are the small data set); k % 4 == 0 are 县, the others 区
REPORT_REGION = _county(7, 13)


def _cn(n: int) -> str:
    """A whole number below 10 000 in Chinese numerals (三百二十)."""
    digits = "零一二三四五六七八九"
    out, zero = "", False
    for value, word in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d:
            out += ("零" if zero and out else "") + digits[d] + word
            zero = False
        elif out:
            zero = True
    return out or "零"


def generate(out: Path = OUT, seed: int = 12) -> dict:
    """Write the big and the small data set (skipped when already there); returns their paths."""
    big, small = out / "big", out / "small"
    marker = out / "done.json"
    if marker.exists():
        return json.loads(marker.read_text())
    rng = np.random.default_rng(seed)
    regions = [(_city(c), c, 0) for c in range(1, N_CITIES + 1)]
    regions += [(_county(c, k), c, k) for c in range(1, N_CITIES + 1) for k in range(1, N_COUNTIES + 1)]
    names = np.array([r[0] for r in regions], dtype=object)
    city_of = np.array([r[1] for r in regions])
    R, Y = len(regions), len(YEARS)
    inds = MONEY + ["firms_above", "rd_intensity"]
    # levels: region × year × indicator; growth: region × year × 4; one growth rank per county and year
    ri, yi, ii = (a.ravel() for a in np.meshgrid(np.arange(R), np.arange(Y), np.arange(len(inds)), indexing="ij"))
    size = rng.lognormal(3.0, 1.0, R) * np.where(np.arange(R) < N_CITIES, 60, 1)
    base = size[ri] * rng.uniform(0.05, 1.0, len(inds))[ii] * 1.07 ** yi * rng.normal(1, 0.02, len(ri))
    ind = np.array(inds, dtype=object)[ii]
    level = pd.DataFrame({"r": ri, "year": np.array(YEARS)[yi], "indicator": ind, "measure": "level",
                          "v": np.round(base, 1), "unit": "亿元"})
    firms, rate = ind == "firms_above", ind == "rd_intensity"
    level.loc[firms, "v"] = np.round(base[firms] * 3) + 1
    level.loc[firms, "unit"] = "家"
    level.loc[rate, "v"] = np.round(rng.uniform(0.5, 4.0, rate.sum()), 2)
    level.loc[rate, "unit"] = "%"
    gi, gy, gk = (a.ravel() for a in np.meshgrid(np.arange(R), np.arange(1, Y), np.arange(len(GROWTH)), indexing="ij"))
    growth = pd.DataFrame({"r": gi, "year": np.array(YEARS)[gy], "indicator": np.array(GROWTH, dtype=object)[gk],
                           "measure": "growth", "v": np.round(rng.normal(6, 4, len(gi)), 1), "unit": "%"})
    ck, cy = (a.ravel() for a in np.meshgrid(np.arange(N_CITIES, R), np.arange(Y), indexing="ij"))
    ranks = pd.DataFrame({"r": ck, "year": np.array(YEARS)[cy], "indicator": "ind_va_above", "measure": "growth_rank",
                          "v": rng.integers(1, N_COUNTIES + 1, len(ck)).astype(float), "unit": "位"})
    df = pd.concat([level, growth, ranks], ignore_index=True)
    df = df.sort_values(["r", "year"], kind="stable", ignore_index=True).iloc[:N_ROWS]
    n = len(df)
    # how values are written: plain; 1.2万 亿元; Chinese numerals for counts; qualifiers in a column or the text
    text = df["v"].map("{:g}".format).to_numpy(object)
    qual = np.full(n, "", dtype=object)
    roll = rng.random(n)
    money = (df["unit"] == "亿元").to_numpy()
    wan = money & (df["v"] >= 10000).to_numpy() & (roll < 0.5)
    text[wan] = (df["v"][wan] / 10000).round(2).map("{:g}万".format)
    cn = (df["unit"] == "家").to_numpy() & (df["v"] < 10000).to_numpy() & (roll < 0.3)
    text[cn] = [_cn(int(v)) for v in df["v"][cn]]
    lvl = (df["measure"] == "level").to_numpy() & ~cn
    qual[lvl & (roll > 0.95)] = "超"
    qual[lvl & (roll > 0.97)] = "近"
    qual[lvl & (roll > 0.985)] = "约"
    in_text = lvl & (roll > 0.94) & (roll <= 0.95) & ~wan
    text[in_text] = "超" + text[in_text]
    region = names[df["r"].to_numpy()]
    city = city_of[df["r"].to_numpy()]
    years = df["year"].to_numpy()
    # the quote: the clause of the city's bulletin stating the figure
    zh = {"ind_output_above": "规上工业总产值", "ind_output": "工业总产值", "ind_va_above": "规上工业增加值",
          "ind_va": "工业增加值", "gdp": "地区生产总值", "firms_above": "规上工业企业", "rd_intensity": "研发投入强度"}
    label = df["indicator"].map(lambda c: zh.get(c, c)).to_numpy(object)
    verb = df["measure"].map({"level": "为", "growth": "增长", "growth_rank": "增速居全市第"}).to_numpy(object)
    quote = (pd.Series(region) + pd.Series(years).astype(str) + "年" + pd.Series(label) + pd.Series(verb)
             + pd.Series(qual) + pd.Series(text) + df["unit"].str.replace("%", "%", regex=False).where(
                 df["measure"] != "growth_rank", "位")).to_numpy(object)
    obs = pd.DataFrame({"id": [f"s{i}" for i in range(n)], "region": region, "entity": "", "year": years,
                        "base_year": "", "indicator": df["indicator"], "measure": df["measure"], "value": text,
                        "unit": df["unit"], "qualifier": qual,
                        "peer": np.where(df["measure"] == "growth_rank", "", ""), "source": [f"C{c:02d}" for c in city],
                        "quote": quote, "note": ""})
    hier = pd.DataFrame({"region": [PROVINCE] + list(names), "parent": [""] + [
        PROVINCE if k == 0 else _city(c) for _, c, k in regions], "level": ["省"] + [
        "市" if k == 0 else ("区" if k % 4 else "县") for _, c, k in regions], "en": "", "aliases": "", "source": ""})

    def write(folder: Path, rows: pd.DataFrame):
        (folder / "raw").mkdir(parents=True, exist_ok=True)
        rows.to_csv(folder / "observations.csv", index=False)
        hier.to_csv(folder / "regions.csv", index=False)
        srcs = []
        for c in sorted(set(rows["source"])):
            q = rows.loc[rows["source"] == c, "quote"]
            body = f"{_city(int(c[1:]))}统计公报（合成数据）\n" + "。\n".join(q) + "。\n"
            (folder / "raw" / f"{c}.txt").write_text(body, encoding="utf-8")
            srcs.append({"id": c, "title": f"{_city(int(c[1:]))}统计公报（合成）", "publisher": "", "date": "",
                         "url": "", "file": f"raw/{c}.txt", "sha256": "", "note": "synthetic"})
        pd.DataFrame(srcs).to_csv(folder / "sources.csv", index=False)

    write(big, obs)
    parent = _city(int(REPORT_REGION[len(PROVINCE) + 1:len(PROVINCE) + 3]))
    keep = obs["region"].isin([parent, *[n for n, c, k in regions if k and _city(c) == parent]])
    write(small, obs[keep])
    res = {"big": str(big / "observations.csv"), "small": str(small / "observations.csv"), "rows": n,
           "small_rows": int(keep.sum())}
    marker.write_text(json.dumps(res))
    return res


# ------------------------------------------------------------------ measuring in fresh processes

def _child(cmd: list[str], **kw) -> dict:
    """Run a command as a fresh process; its wall time, CPU time and peak RSS (ru_maxrss of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: each measurement gets its own process below
    return {"wall_s": wall, "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "peak_mb": after.ru_maxrss / 1024, "stdout": p.stdout}


def _isolated(cmd: list[str]) -> dict:
    """Measure ``cmd`` from a fresh intermediate process, so the peak RSS is this command's alone."""
    code = ("import json,sys;sys.path.insert(0,%r);import scale;r=scale._child(%r);o=r.pop('stdout').strip();"
            "r['last']=o.splitlines()[-1] if o else '';print(json.dumps(r))" % (str(HERE), [str(c) for c in cmd]))
    p = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=_env())
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


RECONCILE = """
import json, resource, sys, time
from analysis.catalog import load_catalog
from analysis.data import load_observations
from analysis.metrics import compute, reconcile
cat = load_catalog()
obs = load_observations(sys.argv[1], catalog=cat, check_quotes=False)
m = compute(obs, catalog=cat)
t, c = time.perf_counter(), time.process_time()
rec = reconcile(obs, m, catalog=cat)
print(json.dumps({"reconcile_wall_s": time.perf_counter() - t, "reconcile_cpu_s": time.process_time() - c,
                  "observations": len(obs), "metrics": len(m), "checks": len(rec)}))
"""


def check(data: dict) -> dict:
    r = _isolated([*ANALYSIS, "check-data", "--data", data["big"]])
    print(f"  check-data, {data['rows']:,} rows     {r['wall_s']:6.1f} s wall  {r['cpu_s']:6.1f} CPU s  "
          f"peak {r['peak_mb']:6.0f} MB   (target ≤ 10 s, ≤ 2 GB)", flush=True)
    return r


def reconcile_run(data: dict) -> dict:
    r = _isolated([sys.executable, "-c", RECONCILE, data["big"]])
    inner = json.loads(r.pop("last"))
    r.update(inner)
    print(f"  reconcile, {inner['observations']:,} observations  {inner['reconcile_wall_s']:6.1f} s wall  "
          f"{inner['reconcile_cpu_s']:6.1f} CPU s   (whole process: load + metrics + reconcile {r['wall_s']:.1f} s, "
          f"peak {r['peak_mb']:.0f} MB; target ≤ 10 s)", flush=True)
    return r


def report(data: dict, repeats: int = 3) -> dict:
    work = OUT / "reports"
    runs = {"big": [], "small": []}
    for i in range(repeats):
        for which in ("big", "small") if i % 2 == 0 else ("small", "big"):   # alternating
            r = _isolated([*ANALYSIS, "report", "--data", data[which], "--region", REPORT_REGION,
                           "--year", str(REPORT_YEAR), "--format", "html,pdf", "--out", work / which])
            runs[which].append(r)
    med = {w: statistics.median(x["wall_s"] for x in rs) for w, rs in runs.items()}
    cpu = {w: statistics.median(x["cpu_s"] for x in rs) for w, rs in runs.items()}
    peak = {w: max(x["peak_mb"] for x in rs) for w, rs in runs.items()}
    res = {"big_s": med["big"], "small_s": med["small"], "big_cpu_s": cpu["big"], "small_cpu_s": cpu["small"],
           "big_peak_mb": peak["big"], "small_peak_mb": peak["small"], "ratio": med["big"] / med["small"],
           "runs": {w: [round(x["wall_s"], 2) for x in rs] for w, rs in runs.items()}}
    for w, label in (("small", f"from the region's own file ({data['small_rows']:,} rows)"),
                     ("big", f"from the {data['rows']:,}-row file")):
        print(f"  report {label:<34} {med[w]:6.1f} s wall  {cpu[w]:6.1f} CPU s  peak {peak[w]:6.0f} MB  "
              f"(median of {repeats}: {', '.join(f'{x:.1f}' for x in res['runs'][w])})", flush=True)
    print(f"  ratio {res['ratio']:.2f}× (target ≤ 1.5×)", flush=True)
    return res


def run(only: list[str] | None = None, repeats: int = 3) -> dict:
    t = time.perf_counter()
    data = generate()
    print(f"  data: {data['rows']:,} rows ({time.perf_counter() - t:.0f} s to generate or find)", flush=True)
    out = {"data": data}
    if not only or "check" in only:
        out["check"] = check(data)
    if not only or "reconcile" in only:
        out["reconcile"] = reconcile_run(data)
    if not only or "report" in only:
        out["report"] = report(data, repeats)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", action="append", choices=["check", "reconcile", "report", "generate"])
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    if a.only == ["generate"]:
        print(json.dumps(generate()))
    else:
        json.dump(run(a.only, a.repeats), sys.stdout, indent=1, default=str)
