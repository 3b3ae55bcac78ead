"""Engine of the metrics: panel encoding, integer keys, joins, corner interval arithmetic, results.

Region, entity and indicator are encoded once as integers, each (region, entity, year) becomes
one int64 key, and every join is a hash look-up on that key — no per-row Python — so a panel of
millions of observations takes seconds (see ``benchmarks/``).

Bounds come from interval arithmetic: a formula is evaluated at every corner of its inputs'
intervals (all the formulas here are monotone in each input, so the corners hold the extremes).
"""
from __future__ import annotations

import itertools
from typing import Callable

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..data import KEY

RESULT_COLUMNS = ["metric", "kind", "name_zh", "name_en", "region", "entity", "year", "refers_to",
                  "indicator", "value", "lower", "upper", "unit", "formula_zh", "formula_en",
                  "inputs", "flags", "reason"]

# Flags are bits while computing, words in the result.
FLAG_BITS = ["lower-bound-input", "upper-bound-input", "approximate-input", "comparable-prices",
             "scope-mismatch", "scope-unverified", "target-threshold"]
LB, UB, AP, COMP, SCOPE_MISMATCH, SCOPE_UNVERIFIED, THRESHOLD = (1 << i for i in range(len(FLAG_BITS)))
QUALS = ["exact", ">", "≥", "<", "≤", "≈", "近", "余"]
_Q_FLAGS = np.array([0, LB, LB, UB, UB, AP, UB | AP, LB | AP], dtype=np.int64)


def corners(f: Callable, *intervals) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of f over the box of its inputs' intervals (f monotone in each input)."""
    outs = []
    with np.errstate(all="ignore"):
        for bits in itertools.product((0, 1), repeat=len(intervals)):
            outs.append(np.asarray(f(*[iv[b] for iv, b in zip(intervals, bits)]), dtype=float))
    stack = np.vstack(outs)
    allnan = np.isnan(stack).all(axis=0)
    filled_lo = np.where(np.isnan(stack), np.inf, stack)
    filled_hi = np.where(np.isnan(stack), -np.inf, stack)
    lo = np.where(allnan, np.nan, filled_lo.min(axis=0))
    hi = np.where(allnan, np.nan, filled_hi.max(axis=0))
    return lo, hi


def _row_key(obs: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """One int64 code per distinct combination of cols (factorised column by column: fast on strings)."""
    code = np.zeros(len(obs), np.int64)
    for c in cols:
        col = obs[c]
        values = col.to_numpy(dtype=float, na_value=np.nan) if c in ("year", "base_year") else col.to_numpy(object)
        codes, uniq = pd.factorize(values, use_na_sentinel=False)
        code, _ = pd.factorize(code * (len(uniq) + 1) + codes)
        code = code.astype(np.int64)
    return code


def best_observations(obs: pd.DataFrame) -> pd.DataFrame:
    """One row per key: a figure stated twice keeps the narrowest statement, bounds intersected."""
    codes = _row_key(obs, KEY)
    dup_mask = pd.Series(codes).duplicated(keep=False).to_numpy()
    if not dup_mask.any():
        return obs
    d = obs[dup_mask].copy()
    d["_k"] = codes[dup_mask]
    d["_width"] = d["upper"] - d["lower"]
    d = d.sort_values("_width", kind="stable")
    g = d.groupby("_k", sort=False)
    first = g.head(1).set_index("_k")
    first["lower"] = g["lower"].max().reindex(first.index)
    first["upper"] = g["upper"].min().reindex(first.index)
    first["id"] = g["id"].agg("+".join).reindex(first.index)
    return pd.concat([obs[~dup_mask], first.reset_index()[obs.columns]], ignore_index=True)


def _factorize(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and labels of a column (Arrow-backed strings factorise without Python objects)."""
    codes, uniq = pd.factorize(col)
    return codes.astype(np.int32), np.asarray(uniq, dtype=object)


class Panel:
    """Observations encoded for joins: int codes and one int64 key per (region, entity, year)."""

    def __init__(self, obs: pd.DataFrame, catalog: Catalog):
        self.catalog = catalog
        self.n = len(obs)
        self.r, self.regions = _factorize(obs["region"])
        self.e, self.entities = _factorize(obs["entity"])
        self.i, self.indicators = _factorize(obs["indicator"])
        self.m, self.measures = _factorize(obs["measure"])
        self.year = obs["year"].to_numpy(np.int64)
        self.ymin = int(self.year.min()) - 2 if self.n else 0
        self.Y = int(self.year.max()) - self.ymin + 3 if self.n else 1
        self.E = max(len(self.entities), 1)
        self.key = (self.r.astype(np.int64) * self.E + self.e) * self.Y + (self.year - self.ymin)
        by = obs["base_year"].to_numpy(dtype=float, na_value=np.nan)
        self.base_year = np.where(np.isnan(by), self.year - 1, by).astype(np.int64)
        self.value = obs["value"].to_numpy(float)
        self.lower = obs["lower"].to_numpy(float)
        self.upper = obs["upper"].to_numpy(float)
        qcodes, quniq = _factorize(obs["qualifier"])
        qmap = np.array([QUALS.index(q) if q in QUALS else 0 for q in quniq] or [0], dtype=np.int64)
        self.q = qmap[qcodes]
        ucodes, self.units = _factorize(obs["unit"])
        self.u = ucodes.astype(np.int64)
        self.unit = np.asarray(self.units, dtype=object)[self.u] if self.n < 1_000_000 else None
        self.ids = obs["id"]
        self.blank_entity = np.flatnonzero(self.entities == "")
        # positions grouped by (measure, indicator), each sorted by key
        combo = self.m.astype(np.int64) * max(len(self.indicators), 1) + self.i
        order = np.lexsort((self.key, combo))
        uniq, start = np.unique(combo[order], return_index=True)
        bounds = list(start[1:]) + [len(order)]
        self._groups = {}
        for c, s, t in zip(uniq, start, bounds):
            m_code, i_code = divmod(int(c), max(len(self.indicators), 1))
            pos = order[s:t]
            # one figure per key: duplicates that differ only by peer/base year keep the first
            k = self.key[pos]
            keep = np.ones(len(pos), bool)
            keep[1:] = k[1:] != k[:-1]
            self.has_duplicates = getattr(self, "has_duplicates", False) or not keep.all()
            self._groups[(self.measures[m_code], self.indicators[i_code])] = pos[keep]
        self._index_cache: dict = {}

    def rows(self, measure: str, indicator: str | None = None) -> np.ndarray:
        if indicator is not None:
            return self._groups.get((measure, indicator), np.empty(0, np.int64))
        parts = [p for (m, _), p in self._groups.items() if m == measure]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)

    def indicators_with(self, measure: str) -> list[str]:
        return [i for (m, i) in self._groups if m == measure]

    def find(self, src: np.ndarray, measure: str, indicator: str, *, year_shift: int = 0,
             key: np.ndarray | None = None) -> np.ndarray:
        """Positions of (measure, indicator) rows matching src's region/entity/year + shift; -1 if none."""
        tgt = self.rows(measure, indicator)
        if len(tgt) == 0 or len(src) == 0:
            return np.full(len(src), -1, np.int64)
        ck = (measure, indicator)
        if ck not in self._index_cache:
            self._index_cache[ck] = pd.Index(self.key[tgt])
        k = (self.key[src] if key is None else key) + year_shift
        idx = self._index_cache[ck].get_indexer(k)
        return np.where(idx >= 0, tgt[np.maximum(idx, 0)], -1)

    def iv(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of positions; NaN where pos is -1."""
        ok = pos >= 0
        p = np.maximum(pos, 0)
        return np.where(ok, self.lower[p], np.nan), np.where(ok, self.upper[p], np.nan)

    def is_unit(self, pos: np.ndarray, unit: str) -> np.ndarray:
        hit = np.flatnonzero(np.asarray(self.units, dtype=object) == unit)
        return np.isin(self.u[pos], hit)

    def unit_of(self, pos: np.ndarray) -> np.ndarray:
        """Unit codes (offset by -1000 to tell them from literal units in Results.add)."""
        return self.u[pos] - 1000

    def val(self, pos: np.ndarray) -> np.ndarray:
        return np.where(pos >= 0, self.value[np.maximum(pos, 0)], np.nan)

    def qflags(self, *positions: np.ndarray) -> np.ndarray:
        out = np.zeros(len(positions[0]), np.int64)
        for p in positions:
            out |= np.where(p >= 0, _Q_FLAGS[self.q[np.maximum(p, 0)]], 0)
        return out


class Results:
    """Metric results accumulated as arrays; turned into one frame at the end."""

    def __init__(self, panel: Panel, catalog: Catalog):
        self.p = panel
        self.catalog = catalog
        self.parts: list[dict] = []
        self.names: list[tuple] = []     # per name id: (metric, kind, zh, en, fzh, fen)
        self.reasons: list[str] = [""]
        self.unit_names: list[str] = list(panel.units)

    def unit_code(self, unit) -> np.ndarray | int:
        """A literal unit → its code; codes from Panel.unit_of (≤ -1000) → data unit codes."""
        if isinstance(unit, str):
            if unit not in self.unit_names:
                self.unit_names.append(unit)
            return self.unit_names.index(unit)
        return np.asarray(unit, np.int64) + 1000

    def name_id(self, metric, kind, zh, en, fzh, fen) -> int:
        self.names.append((metric, kind, zh, en, fzh, fen))
        return len(self.names) - 1

    def reason_id(self, text: str) -> int:
        self.reasons.append(text)
        return len(self.reasons) - 1

    def add(self, *, name, rows, value, lower, upper, unit, inputs, flags=0, reason=0,
            year=None, y0=None, y1=None, indicator=None):
        n = len(value)
        if n == 0:
            return
        p = self.p
        year = p.year[rows] if year is None else year
        # compact dtypes: millions of rows per metric on a panel (positions < 2**31, years < 2**15)
        self.parts.append(dict(
            name=np.broadcast_to(np.asarray(name, np.int32), (n,)), r=p.r[rows], e=p.e[rows],
            year=np.asarray(year, np.int16),
            y0=np.broadcast_to(np.asarray(year if y0 is None else y0, np.int16), (n,)),
            y1=np.broadcast_to(np.asarray(year if y1 is None else y1, np.int16), (n,)),
            ind=np.broadcast_to(np.asarray(p.i[rows] if indicator is None else indicator, np.int32), (n,)),
            value=np.asarray(value, float), lower=np.asarray(lower, float), upper=np.asarray(upper, float),
            unit=np.broadcast_to(np.asarray(self.unit_code(unit), np.int32), (n,)),
            in0=np.asarray(inputs[0], np.int32),
            in1=np.asarray(inputs[1], np.int32) if len(inputs) > 1 else np.full(n, -1, np.int32),
            in2=np.asarray(inputs[2], np.int32) if len(inputs) > 2 else np.full(n, -1, np.int32),
            flags=np.broadcast_to(np.asarray(flags, np.int32), (n,)),
            reason=np.broadcast_to(np.asarray(reason, np.int32), (n,))))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=RESULT_COLUMNS)
        cat = {}
        for k in list(self.parts[0]):  # concatenate column by column, freeing the pieces as we go
            cat[k] = np.concatenate([d.pop(k) for d in self.parts])
        self.parts = []
        p = self.p
        names = np.array(self.names, dtype=object)
        out = {}
        for j, col in enumerate(["metric", "kind", "name_zh", "name_en", "formula_zh", "formula_en"]):
            codes, uniq = pd.factorize(names[:, j])
            out[col] = pd.Categorical.from_codes(codes[cat["name"]], categories=pd.Index(uniq, dtype=object))
        out["region"] = pd.Categorical.from_codes(cat["r"], categories=pd.Index(p.regions, dtype=object))
        out["entity"] = pd.Categorical.from_codes(cat["e"], categories=pd.Index(p.entities, dtype=object))
        out["year"] = cat["year"].astype(np.int64)
        span = cat["y0"].astype(np.int64) * 10000 + cat["y1"]
        codes, uniq = pd.factorize(span)
        labels = [f"{u // 10000}" if u // 10000 == u % 10000 else f"{u // 10000}→{u % 10000}" for u in uniq]
        out["refers_to"] = pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype=object))
        ind_names = np.append(np.asarray(p.indicators, dtype=object), [c for c in self.catalog.indicators if c not in set(p.indicators)])
        out["indicator"] = pd.Categorical.from_codes(cat["ind"], categories=pd.Index(ind_names, dtype=object))
        out["value"], out["lower"], out["upper"] = cat["value"], cat["lower"], cat["upper"]
        out["unit"] = pd.Categorical.from_codes(cat["unit"], categories=pd.Index(self.unit_names, dtype=object))
        out["inputs"] = _join_ids(p.ids, cat["in0"], cat["in1"], cat["in2"])
        codes, uniq = pd.factorize(cat["flags"])
        words = [";".join(w for k, w in enumerate(FLAG_BITS) if u & (1 << k)) for u in uniq]
        out["flags"] = _categorical(codes, words)
        out["reason"] = _categorical(cat["reason"], self.reasons)
        return pd.DataFrame({c: out[c] for c in RESULT_COLUMNS}, copy=False)  # no second copy of millions of rows


def _categorical(codes: np.ndarray, labels: list[str]) -> pd.Categorical:
    """Codes into a label list that may repeat a label (two metrics giving the same reason)."""
    label_codes, unique = pd.factorize(np.asarray(labels, dtype=object))
    return pd.Categorical.from_codes(label_codes[codes], categories=pd.Index(unique, dtype=object))


def _join_ids(ids: pd.Series, *positions: np.ndarray) -> pd.Series:
    """'id0,id1[,id2]' per result row (position -1: no input), joined in Arrow without Python strings."""
    import pyarrow as pa
    import pyarrow.compute as pc
    arr = pa.array(ids.array) if hasattr(ids.array, "_pa_array") else pa.array(ids.to_numpy(object), type=pa.large_string())
    arr = arr.cast(pa.large_string())
    parts = [arr.take(pa.array(np.maximum(pos, 0), mask=pos < 0)) for pos in positions if (pos >= 0).any()]
    joined = pc.binary_join_element_wise(*parts, pa.scalar(",", pa.large_string()), null_handling="skip")
    return pd.Series(pd.arrays.ArrowStringArray(joined))

