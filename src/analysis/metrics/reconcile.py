"""Reconciliation: stated figures against their recomputation from other figures.

A stated figure and its recomputation *agree* when their intervals overlap: the stated one spans
its published rounding (5.29 % → [5.285, 5.295]) or qualifier, the computed one the propagated
bounds of its inputs. Disagreements are findings, not errors.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalog import Catalog, load_catalog
from .engine import ID_LIST, IdLists, best_observations, divide, statements
from .kinds import compute

CHECKS = ["stated-twice", "growth-from-levels", "ratio-same-year", "ratio-previous-year", "share"]
STATUSES = ["agree", "disagree", "not-computable"]
RECONCILE_COLUMNS = ["check", "metric", "region", "entity", "year", "indicator", "stated", "stated_lower",
                     "stated_upper", "computed", "computed_lower", "computed_upper", "difference", "unit", "status",
                     "stated_ids", "computed_from", "denominator_year"]
_JOIN = ["region", "entity", "year"]


def reconcile(observations: pd.DataFrame, metrics: pd.DataFrame | None = None, *,
              catalog: Catalog | None = None) -> pd.DataFrame:
    """Stated figures against their recomputation from other figures.

    Checks (``check``): ``stated-twice`` — the same figure stated twice (the narrowest statement
    against each other one); ``growth-from-levels`` — a stated growth against two stated levels;
    ``ratio-same-year`` / ``ratio-previous-year`` — a stated ratio (R&D intensity) against the
    catalog ratio (``metric``, declared with ``reconciles:``) of numerator ÷ denominator, with the
    same year's and the previous year's denominator (``denominator_year``; R&D figures are often a
    year late); ``share`` — a stated share against the catalog share ``metric`` of part ÷ whole.

    Args:
        observations: frame from :func:`analysis.data.load_observations`.
        metrics: results of :func:`compute` on the same observations (computed when not given).
        catalog: the catalog (default: the project's).

    Returns:
        One row per check (columns :data:`RECONCILE_COLUMNS`); ``status`` is agree, disagree or
        not-computable; ``stated_ids`` lists the ids of the stated figure (both statements of a
        figure stated twice), ``computed_from`` those the computed figure uses.
    """
    catalog = catalog or load_catalog()
    if metrics is None:
        metrics = compute(observations, catalog=catalog)
    best = best_observations(observations)
    ids = IdLists(best)
    blocks = [_stated_twice(observations),
              _against_metric(best, ids, metrics, measure="growth", kind="growth", check="growth-from-levels")]
    for e in catalog.metrics:
        if e.get("kind") == "ratio" and e.get("reconciles"):
            blocks += [_ratio(best, ids, e, shift) for shift in (0, 1)]
    blocks.append(_against_metric(best, ids, metrics, measure="share", kind="share", check="share"))
    blocks = [b for b in blocks if len(b)]
    if not blocks:
        return _typed(pd.DataFrame({c: [] for c in RECONCILE_COLUMNS}))
    out = pd.concat(blocks, ignore_index=True)
    out["difference"] = out["computed"] - out["stated"]
    overlap = (out["computed_lower"] <= out["stated_upper"]) & (out["computed_upper"] >= out["stated_lower"])
    out["status"] = np.where(out["computed"].isna(), "not-computable", np.where(overlap, "agree", "disagree"))
    return _typed(out)


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    out = out.reindex(columns=RECONCILE_COLUMNS)
    for c in ("metric", "region", "entity", "indicator", "unit"):
        out[c] = out[c].astype(str)
    for c in ("stated", "stated_lower", "stated_upper", "computed", "computed_lower", "computed_upper", "difference"):
        out[c] = out[c].astype(float)
    out["year"] = out["year"].astype(np.int64)
    out["denominator_year"] = out["denominator_year"].astype("Int64")
    out["check"] = pd.Categorical(out["check"], categories=CHECKS)
    out["status"] = pd.Categorical(out["status"], categories=STATUSES)
    for c in ("stated_ids", "computed_from"):
        if out[c].dtype != ID_LIST:  # only the empty frame: no block gave the lists
            out[c] = pd.Series(pd.array(out[c].tolist(), dtype=ID_LIST), index=out.index)
    return out


def _block(check: str, stated: pd.DataFrame, computed, computed_lower, computed_upper, *, unit, stated_ids,
           computed_from, metric="", indicator=None, denominator_year=None) -> pd.DataFrame:
    """Rows of one check: the stated figures (one frame row each) and their recomputation (arrays)."""
    n = len(stated)
    return pd.DataFrame({
        "check": check, "metric": metric, "region": stated["region"].to_numpy(), "entity": stated["entity"].to_numpy(),
        "year": stated["year"].to_numpy(np.int64),
        "indicator": stated["indicator"].to_numpy() if indicator is None else indicator,
        "stated": stated["value"].to_numpy(float), "stated_lower": stated["lower"].to_numpy(float),
        "stated_upper": stated["upper"].to_numpy(float), "computed": np.asarray(computed, float),
        "computed_lower": np.asarray(computed_lower, float), "computed_upper": np.asarray(computed_upper, float),
        "unit": unit, "stated_ids": _list_column(stated_ids, n), "computed_from": _list_column(computed_from, n),
        "denominator_year": pd.array(np.full(n, pd.NA) if denominator_year is None else denominator_year, "Int64")})


def _list_column(lists, n: int) -> pd.Series:
    return pd.Series(lists.array if isinstance(lists, pd.Series) else lists, index=range(n), dtype=ID_LIST)


def _stated_twice(obs: pd.DataFrame) -> pd.DataFrame:
    """The kept (narrowest) statement of a figure stated twice against each of its other statements."""
    _, members, starts = statements(obs)
    if not len(members):
        return pd.DataFrame()
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(members)]))
    other = np.ones(len(members), bool)
    other[starts] = False
    kept, others = members[starts][group[other]], members[other]
    a, b = obs.iloc[kept], obs.iloc[others]
    one = IdLists(obs)
    return _block("stated-twice", a, b["value"], b["lower"], b["upper"], unit=a["unit"].to_numpy(),
                  stated_ids=one.of(kept), computed_from=one.of(others))


def _keys(frame: pd.DataFrame, cols: list[str], name: str, year_shift: int = 0) -> pd.DataFrame:
    """The join columns of a frame as plain values, with the row positions under ``name``."""
    out = pd.DataFrame({c: frame[c].to_numpy(object) for c in cols if c != "year"})
    if "year" in cols:
        out["year"] = frame["year"].to_numpy(np.int64) + year_shift
    out[name] = np.arange(len(frame))
    return out


def _against_metric(best: pd.DataFrame, ids: IdLists, metrics: pd.DataFrame, *, measure: str, kind: str,
                    check: str) -> pd.DataFrame:
    """Stated figures of ``measure`` against the computed metrics of ``kind`` for the same region,
    entity, year and indicator: a stated growth against the growth of two stated levels, a stated
    share against part ÷ whole."""
    cols = [*_JOIN, "indicator"]
    stated_pos = np.flatnonzero((best["measure"] == measure).to_numpy())
    comp = metrics[metrics["kind"] == kind]
    if not len(stated_pos) or comp.empty:
        return pd.DataFrame()
    j = _keys(comp, cols, "m").merge(_keys(best.iloc[stated_pos], cols, "s"), on=cols)
    s, m = stated_pos[j["s"].to_numpy()], j["m"].to_numpy()
    c = comp.iloc[m]
    extra = {"metric": c["metric"].to_numpy(object)} if kind == "share" else {}
    return _block(check, best.iloc[s], c["value"], c["lower"], c["upper"], unit="%", stated_ids=ids.of(s),
                  computed_from=c["inputs"], **extra)


def _ratio(best: pd.DataFrame, ids: IdLists, entry: dict, shift: int) -> pd.DataFrame:
    """A stated ratio against numerator ÷ denominator of the same year (shift 0) or the year before (1)."""
    level = (best["measure"] == "level").to_numpy()
    ind = best["indicator"].to_numpy(object)
    pos = {k: np.flatnonzero(level & (ind == entry[k])) for k in ("reconciles", "numerator", "denominator")}
    if not all(len(p) for p in pos.values()):
        return pd.DataFrame()
    j = (_keys(best.iloc[pos["reconciles"]], _JOIN, "s")
         .merge(_keys(best.iloc[pos["numerator"]], _JOIN, "n"), on=_JOIN)
         .merge(_keys(best.iloc[pos["denominator"]], _JOIN, "d", year_shift=shift), on=_JOIN))
    s, n, d = (pos[k][j[c].to_numpy()] for k, c in (("reconciles", "s"), ("numerator", "n"), ("denominator", "d")))
    val, lo, hi = (best[c].to_numpy(float) for c in ("value", "lower", "upper"))
    value, lower, upper, _ = divide(val[n], (lo[n], hi[n]), val[d], (lo[d], hi[d]), float(entry.get("scale", 1)))
    stated = best.iloc[s]
    return _block("ratio-same-year" if shift == 0 else "ratio-previous-year", stated, value, lower, upper,
                  unit=stated["unit"].to_numpy(), stated_ids=ids.of(s), computed_from=ids.of(n, d),
                  metric=entry["code"], indicator=entry["reconciles"],
                  denominator_year=best["year"].to_numpy(np.int64)[d])
