"""Reconciliation: stated figures against their recomputation from other figures."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalog import Catalog, load_catalog
from ..data import KEY
from .engine import best_observations, corners
from .kinds import compute

RECONCILE_COLUMNS = ["check", "region", "entity", "year", "indicator", "name_zh", "stated", "stated_lower",
                     "stated_upper", "computed", "computed_lower", "computed_upper", "difference", "unit",
                     "status", "inputs", "note"]


def reconcile(observations: pd.DataFrame, metrics: pd.DataFrame | None = None, *,
              catalog: Catalog | None = None) -> pd.DataFrame:
    """Stated figures against their recomputation from other figures.

    A stated figure and its recomputation *agree* when their intervals overlap: the stated one
    spans its published rounding (5.29 % → [5.285, 5.295]) or qualifier, the computed one the
    propagated bounds of its inputs. Disagreements are findings, not errors.

    Checks: the same figure stated twice; a stated growth against two stated levels; a stated
    ratio (R&D intensity) against numerator ÷ denominator, also with the denominator of the
    previous year (R&D figures are often a year late); a stated share against part ÷ whole.
    """
    catalog = catalog or load_catalog()
    if metrics is None:
        metrics = compute(observations, catalog=catalog)
    rows = []
    cols = ["region", "entity", "year", "indicator"]
    # 1. the same figure stated twice
    dup = observations[observations.duplicated(KEY, keep=False)]
    for _, g in dup.groupby(KEY, dropna=False, sort=False):
        a = g.iloc[0]
        for _, b in g.iloc[1:].iterrows():
            rows.append({"check": "stated twice", **{c: a[c] for c in cols},
                         "stated": a["value"], "stated_lower": a["lower"], "stated_upper": a["upper"],
                         "computed": b["value"], "computed_lower": b["lower"], "computed_upper": b["upper"],
                         "unit": a["unit"], "inputs": f"{a['id']},{b['id']}",
                         "note": f"{a['value_stated']}{a['unit_stated']} ({a['qualifier']}) vs {b['value_stated']}{b['unit_stated']} ({b['qualifier']})"})
    best = best_observations(observations)
    # 2. growth: computed from levels vs stated
    stated_g = best[best["measure"] == "growth"]
    comp_g = metrics[metrics["kind"] == "growth"]
    if len(stated_g) and len(comp_g):
        j = comp_g.merge(stated_g, on=cols, suffixes=("", "_s"))
        for _, r in j.iterrows():
            rows.append({"check": "growth from levels", **{c: r[c] for c in cols}, "stated": r["value_s"],
                         "stated_lower": r["lower_s"], "stated_upper": r["upper_s"], "computed": r["value"],
                         "computed_lower": r["lower"], "computed_upper": r["upper"], "unit": "%",
                         "inputs": f"{r['id']} vs {r['inputs']}", "note": ""})
    # 3. ratios declared with `reconciles:`; also against the previous year's denominator
    for e in catalog.metrics:
        if e.get("kind") != "ratio" or not e.get("reconciles"):
            continue
        target = e["reconciles"]
        stated = best[(best["indicator"] == target) & (best["measure"] == "level")]
        lv = best[best["measure"] == "level"]
        num = lv[lv["indicator"] == e["numerator"]]
        den = lv[lv["indicator"] == e["denominator"]]
        scale = float(e.get("scale", 1))
        for shift, label in ((0, "same year"), (1, "previous year's denominator")):
            d = den.assign(year=den["year"] + shift)
            j = stated.merge(num, on=["region", "entity", "year"], suffixes=("", "_n")).merge(
                d, on=["region", "entity", "year"], suffixes=("", "_d"))
            for _, r in j.iterrows():
                c = r["value_n"] / r["value_d"] * scale if r["value_d"] else np.nan
                lo, hi = corners(lambda a, b: a / b * scale, (np.array([r["lower_n"]]), np.array([r["upper_n"]])),
                                  (np.array([r["lower_d"]]), np.array([r["upper_d"]])))
                rows.append({"check": f"{e['code']} ({label})", "region": r["region"], "entity": r["entity"],
                             "year": r["year"], "indicator": target, "stated": r["value"], "stated_lower": r["lower"],
                             "stated_upper": r["upper"], "computed": c, "computed_lower": lo[0], "computed_upper": hi[0],
                             "unit": r["unit"], "inputs": f"{r['id']} vs {r['id_n']},{r['id_d']}",
                             "note": "" if shift == 0 else "checks whether the stated ratio uses last year's denominator"})
    # 4. stated shares vs part ÷ whole
    for _, m in metrics[metrics["kind"] == "share"].iterrows():
        part = m["indicator"]
        st = best[(best["indicator"] == part) & (best["measure"] == "share") & (best["region"] == m["region"])
                  & (best["year"] == m["year"]) & (best["entity"] == m["entity"])]
        for _, r in st.iterrows():
            rows.append({"check": f"{m['metric']}", **{c: r[c] for c in cols}, "stated": r["value"],
                         "stated_lower": r["lower"], "stated_upper": r["upper"], "computed": m["value"],
                         "computed_lower": m["lower"], "computed_upper": m["upper"], "unit": "%",
                         "inputs": f"{r['id']} vs {m['inputs']}", "note": ""})
    out = pd.DataFrame(rows, columns=[c for c in RECONCILE_COLUMNS if c not in ("name_zh", "difference", "status")])
    if out.empty:
        return pd.DataFrame(columns=RECONCILE_COLUMNS)
    out["name_zh"] = out["indicator"].map(lambda c: catalog.name(c))
    out["difference"] = out["computed"] - out["stated"]
    overlap = (out["computed_lower"] <= out["stated_upper"]) & (out["computed_upper"] >= out["stated_lower"])
    out["status"] = np.where(out["computed"].isna(), "not computable", np.where(overlap, "agree", "disagree"))
    return out[RECONCILE_COLUMNS].reset_index(drop=True)
