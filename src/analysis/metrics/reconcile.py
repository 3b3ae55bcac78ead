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

CHECKS = ["stated-twice", "growth-from-levels", "ratio-same-year", "ratio-previous-year", "share", "stated-rank"]
STATUSES = ["agree", "disagree", "not-computable", "cannot-check"]
RECONCILE_COLUMNS = ["check", "metric", "region", "entity", "year", "indicator", "stated", "stated_lower",
                     "stated_upper", "computed", "computed_lower", "computed_upper", "difference", "unit", "status",
                     "stated_ids", "computed_from", "denominator_year", "peer", "peer_n", "peer_covered"]
_JOIN = ["region", "entity", "year"]


def reconcile(observations: pd.DataFrame, metrics: pd.DataFrame | None = None, *,
              catalog: Catalog | None = None, peers: pd.DataFrame | None = None) -> pd.DataFrame:
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
        peers: observations of the other regions, for checking stated ranks (default: ``observations``
            itself — pass the whole data when ``observations`` holds one region's rows).

    Returns:
        One row per check (columns :data:`RECONCILE_COLUMNS`); ``status`` is agree, disagree or
        not-computable; ``stated_ids`` lists the ids of the stated figure (both statements of a
        figure stated twice), ``computed_from`` those the computed figure uses.
    """
    catalog = catalog or load_catalog()
    if metrics is None:
        metrics = compute(observations, catalog=catalog)
    # pandas deep-copies attrs (the region hierarchy: thousands of entries) into every frame and row
    # taken from these: the hierarchy is read once here, the frames below carry no attrs
    regions = (observations if peers is None else peers).attrs.get("regions") or {}
    observations = _bare(observations)
    peers = None if peers is None else _bare(peers)
    best = best_observations(observations)
    ids = IdLists(best)
    blocks = [_stated_twice(observations),
              _against_metric(best, ids, metrics, measure="growth", kind="growth", check="growth-from-levels")]
    for e in catalog.metrics:
        if e.get("kind") == "ratio" and e.get("reconciles"):
            blocks += [_ratio(best, ids, e, shift) for shift in (0, 1)]
    blocks.append(_against_metric(best, ids, metrics, measure="share", kind="share", check="share"))
    blocks.append(_stated_ranks(best, ids, observations if peers is None else peers, catalog, regions))
    blocks = [b for b in blocks if len(b)]
    if not blocks:
        return _typed(pd.DataFrame({c: [] for c in RECONCILE_COLUMNS}))
    out = pd.concat(blocks, ignore_index=True)
    out["difference"] = out["computed"] - out["stated"]
    overlap = (out["computed_lower"] <= out["stated_upper"]) & (out["computed_upper"] >= out["stated_lower"])
    status = np.where(out["computed"].isna(), "not-computable", np.where(overlap, "agree", "disagree"))
    if "peer_n" in out:   # a rank over part of its peer set cannot be checked
        partial = ((out["peer_covered"] < out["peer_n"]).fillna(False).to_numpy(bool)
                   | ((out["check"] == "stated-rank") & out["peer_n"].isna()).to_numpy(bool))   # peer set unknown
        status = np.where(partial, "cannot-check", status)
    out["status"] = status
    return _typed(out)


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    out = out.reindex(columns=RECONCILE_COLUMNS)
    for c in ("metric", "region", "entity", "indicator", "unit"):
        out[c] = out[c].astype(str)
    for c in ("stated", "stated_lower", "stated_upper", "computed", "computed_lower", "computed_upper", "difference"):
        out[c] = out[c].astype(float)
    out["year"] = out["year"].astype(np.int64)
    out["denominator_year"] = out["denominator_year"].astype("Int64")
    out["peer"] = out["peer"].astype(object).where(out["peer"].notna(), "").astype(str)
    for c in ("peer_n", "peer_covered"):
        out[c] = out[c].astype("Int64")
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


def _bare(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without attrs (a shallow copy: no data copied)."""
    out = frame.copy(deep=False)
    out.attrs = {}
    return out


def peer_members(region: str, peer: str, hierarchy) -> tuple[str, list[str]] | None:
    """The peer set a stated rank names, as (name, members): a peer set the catalog declares
    (``peer_sets:``), a parent region's name (its members), or — when no peer is named — the
    regions sharing the region's parent. None when unknown."""
    if peer:
        members = hierarchy.peer_set(peer)
        if members is None and hierarchy.children(peer):
            members = hierarchy.children(peer)
        return (peer, members) if members else None
    parent = hierarchy.parent(region)
    return (parent, hierarchy.children(parent)) if parent else None


class _Lookup:
    """Position of the first occurrence of each int64 key (a sorted search: no hash table of Python objects)."""

    def __init__(self, keys: np.ndarray):
        self.keys, self.first = np.unique(keys, return_index=True)

    def __call__(self, keys: np.ndarray) -> np.ndarray:
        """Positions of ``keys`` (-1 for a key not there)."""
        if not len(self.keys):
            return np.full(len(keys), -1, np.int64)
        i = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[i] == keys, self.first[i], -1)


def _stated_ranks(best: pd.DataFrame, ids: IdLists, peers: pd.DataFrame, catalog: Catalog,
                  regions: dict) -> pd.DataFrame:
    """A stated rank (全市第一, 居第2位) against the rank computed over its peer set from the data: the
    set the observation's ``peer`` names (or the regions sharing its parent), in the indicator's
    direction, with interval bounds (best = 1 + members certainly above, worst = 1 + possibly above).
    Over partial coverage the row says how many members have data (status cannot-check).

    All at once: the members of each (peer set, year, indicator, measure) that have a figure form a
    group, and one call of :func:`analysis.metrics.kinds._interval_ranks` ranks every group; a stated
    rank reads its region's row. Peer sets are looked up once per distinct region and ``peer``.
    """
    from ..data.regions import Hierarchy
    from .kinds import RANKED, _interval_ranks
    measure_of = {v: k for k, v in RANKED.items()}
    stated_pos = np.flatnonzero(best["measure"].isin(list(measure_of)).to_numpy()
                                & (best["entity"].to_numpy(object) == ""))
    if not len(stated_pos):
        return pd.DataFrame()
    hierarchy = Hierarchy(regions, catalog)
    st = best.iloc[stated_pos]
    # the figures ranked (blank entity, the narrowest statement of each)
    ranked = peers[peers["measure"].isin(list(RANKED)) & (peers["entity"] == "")
                   & peers["indicator"].isin(set(st["indicator"])) & peers["year"].isin(set(st["year"]))]
    ranked = best_observations(ranked) if len(ranked) else ranked
    s_region, s_peer = st["region"].to_numpy(object), st["peer"].to_numpy(object)
    s_year = st["year"].to_numpy(np.int64)

    # each distinct (region, peer): the name and members of its peer set — the region itself counted once
    pair, pair_uniq = pd.factorize(pd.MultiIndex.from_arrays([s_region, s_peer]))
    pair_name, pair_set, sets, names = [], [], {}, dict.fromkeys(s_region)
    for region, peer in pair_uniq:
        found = peer_members(region, peer, hierarchy)
        pair_name.append(found[0] if found else peer)
        if not found:
            pair_set.append(-1)
            continue
        members = tuple(sorted([m for m in found[1] if m != region] + [region]))   # order does not matter
        pair_set.append(sets.setdefault(members, len(sets)))
        names.update(dict.fromkeys(members))
    set_of = np.array(pair_set, np.int64)[pair]
    names = pd.Index(list(names), dtype=object)

    # (region, year, indicator, measure) as one int64; of a key stated twice in ``ranked`` the first counts
    inds = pd.Index(pd.unique(st["indicator"].to_numpy(object)), dtype=object)
    measures = pd.Index(list(RANKED), dtype=object)
    ymin, Y = int(s_year.min()), int(s_year.max() - s_year.min()) + 1
    n_i, n_m = len(inds), len(measures)

    def key(region, year, ind, measure):
        return ((region.astype(np.int64) * Y + (year - ymin)) * n_i + ind) * n_m + measure
    r_region = names.get_indexer(ranked["region"].to_numpy(object))   # -1: in no peer set, never stated
    r_key = key(r_region, ranked["year"].to_numpy(np.int64), inds.get_indexer(ranked["indicator"].to_numpy(object)),
                measures.get_indexer(ranked["measure"].to_numpy(object)))
    look = _Lookup(np.where(r_region >= 0, r_key, -1))
    s_reg = names.get_indexer(s_region)
    s_ind = inds.get_indexer(st["indicator"].to_numpy(object))
    s_msr = measures.get_indexer([measure_of[m] for m in st["measure"].to_numpy(object)])
    own = look(key(s_reg, s_year, s_ind, s_msr))

    n, k, v, b, w = (np.full(len(st), np.nan) for _ in range(5))
    known = np.flatnonzero(set_of >= 0)
    if len(known):
        # groups: (peer set, year, indicator, measure); each group's members flattened, with their figure
        set_members = [names.get_indexer(list(m)) for m in sets]
        set_len = np.array([len(m) for m in set_members], np.int64)
        set_start = np.cumsum(set_len) - set_len
        group_of, _ = pd.factorize(key(set_of[known], s_year[known], s_ind[known], s_msr[known]))
        g_row = known[np.unique(group_of, return_index=True)[1]]     # one stated rank of each group
        g_len = set_len[set_of[g_row]]
        grp = np.repeat(np.arange(len(g_row)), g_len)
        member = np.concatenate(set_members)[np.repeat(set_start[set_of[g_row]] - (np.cumsum(g_len) - g_len), g_len)
                                             + np.arange(len(grp))]
        at = look(key(member, s_year[g_row][grp], s_ind[g_row][grp], s_msr[g_row][grp]))
        n[known] = g_len[group_of]
        k[known] = np.bincount(grp[at >= 0], minlength=len(g_row))[group_of]
        have = at >= 0
        grp, member, at = grp[have], member[have], at[have]
        sign = np.array([-1.0 if (catalog.indicators.get(c) and catalog.indicators[c].rank_first == "lowest")
                         else 1.0 for c in inds])[s_ind[g_row][grp]]
        x, a, c = (ranked[col].to_numpy(float)[at] * sign for col in ("value", "lower", "upper"))
        lo, hi = np.fmin(a, c), np.maximum(a, c)     # the pair in order, a missing bound last (as np.sort)
        # a missing figure is above nobody (as −inf) and nobody is above it (its ranks are 1)
        fill = lambda z: np.where(np.isnan(z), -np.inf, z)  # noqa: E731
        point, certain, possible = _interval_ranks(pd.factorize(grp)[0], fill(x), fill(lo), fill(hi))
        mine = known[own[known] >= 0]
        row = _Lookup(grp.astype(np.int64) * len(names) + member)(
            group_of[own[known] >= 0].astype(np.int64) * len(names) + s_reg[mine])
        v[mine] = np.where(np.isnan(x), 1, point)[row]
        b[mine] = np.where(np.isnan(hi), 1, certain)[row]
        w[mine] = np.where(np.isnan(lo), 1, possible)[row]
    out = _block("stated-rank", st, v, b, w, unit="位", stated_ids=ids.of(stated_pos),
                 computed_from=IdLists(ranked[["id"]]).of(own),
                 metric=[f"{m}:{i}" for m, i in zip(st["measure"], st["indicator"])])
    out["peer"] = pd.Series(np.array(pair_name, dtype=object)[pair]).astype(str).to_numpy()
    out["peer_n"] = pd.array(n, dtype="Int64")
    out["peer_covered"] = pd.array(k, dtype="Int64")
    return out


def attribute_years(metrics: pd.DataFrame, checks: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Label an implied denominator with the year it matches: when a stated ratio (R&D intensity)
    disagrees with the same year's denominator but agrees with the previous year's, the denominator
    it implies (GDP implied by R&D) is that of the previous year — its period becomes the previous
    year and it is flagged ``previous-year-denominator``. Returns a new frame (the same rows)."""
    ratio_of = {e["code"]: e["ratio"] for e in catalog.metrics if e.get("kind") == "implied_denominator"}
    pair = checks[checks["check"].isin(["ratio-same-year", "ratio-previous-year"])]
    if pair.empty or not ratio_of:
        return metrics
    keys = ["region", "entity", "year", "indicator"]
    wide = (pair.assign(check=pair["check"].astype(str), status=pair["status"].astype(str))
            .pivot_table(index=keys, columns="check", values="status", aggfunc="first"))
    if not {"ratio-same-year", "ratio-previous-year"} <= set(wide.columns):
        return metrics
    prev = wide[(wide["ratio-previous-year"] == "agree") & (wide["ratio-same-year"] == "disagree")]
    if prev.empty:
        return metrics
    kind = metrics["kind"].astype(str).to_numpy(object)
    code = metrics["metric"].astype(str).to_numpy(object)
    ratio = np.array([ratio_of.get(c, "") for c in code], dtype=object)
    look = pd.MultiIndex.from_arrays([metrics["region"].astype(str), metrics["entity"].astype(str),
                                      metrics["year"].astype(np.int64), ratio])
    hit = (kind == "implied_denominator") & look.isin(prev.index)
    if not hit.any():
        return metrics
    out = metrics.copy()
    out.loc[hit, "start_year"] = out.loc[hit, "year"] - 1
    out.loc[hit, "end_year"] = out.loc[hit, "year"] - 1
    flags = out["flags"].tolist()
    for i in np.flatnonzero(hit):
        flags[i] = [*list(flags[i]), "previous-year-denominator"]
    out["flags"] = pd.Series(pd.array(flags, dtype=ID_LIST), index=out.index)
    return out
