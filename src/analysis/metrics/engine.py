"""Engine of the metrics: panel encoding, integer keys, joins, corner interval arithmetic, results.

Region, entity and indicator are encoded once as integers, each (region, entity, year) becomes
one int64 key, and every join is a hash look-up on that key — no per-row Python — so a panel of
millions of observations takes seconds (see ``benchmarks/``).

Bounds come from interval arithmetic: a formula is evaluated at every corner of its inputs'
intervals (all the formulas here are monotone in each input, so the corners hold the extremes).

Results are typed columns, not text: the period as ``start_year``/``end_year``, the inputs as a
list of observation ids, flags as a list of codes, a missing value's ``reason`` as a code with
the indicator it concerns in ``reason_indicator``. Wording them for readers is the report's job.
"""
from __future__ import annotations

import itertools
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from ..catalog import Catalog
from ..data import KEY
from ..numbers import QUALIFIERS

RESULT_COLUMNS = ["metric", "kind", "name_zh", "name_en", "region", "entity", "year", "start_year", "end_year",
                  "indicator", "value", "lower", "upper", "unit", "formula_zh", "formula_en", "inputs", "flags",
                  "reason", "reason_indicator", "peer", "peer_n", "peer_covered"]

# Flags are bits while computing, lists of these codes in the result.
FLAGS = ["lower-bound-input", "upper-bound-input", "approximate-input", "comparable-prices",
         "scope-mismatch", "scope-unverified", "target-threshold", "current-prices", "implied-input",
         "previous-year-denominator"]
(LB, UB, AP, COMP, SCOPE_MISMATCH, SCOPE_UNVERIFIED, THRESHOLD, CURRENT, IMPLIED,
 PREV_DENOMINATOR) = (1 << i for i in range(len(FLAGS)))
QUALS = list(QUALIFIERS)
#: the flag each qualifier gives a result it enters (bounds themselves come from data.bounds_array)
_Q_FLAGS = np.array([{"exact": 0, ">": LB, "≥": LB, "<": UB, "≤": UB, "≈": AP, "近": UB | AP, "余": LB | AP}[q]
                     for q in QUALS], dtype=np.int64)

# Why a value is missing; ``reason_indicator`` names the indicator the reason is about.
REASONS = ["missing-denominator", "zero-denominator", "negative-denominator", "zero-previous", "negative-previous",
           "nonpositive-first", "missing-previous-part", "missing-previous-whole", "nonpositive-previous-whole"]
REASON = {code: i + 1 for i, code in enumerate(REASONS)}   # 0: no reason (the value exists)

ID_LIST = pd.ArrowDtype(pa.list_(pa.string()))


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


def divide(num: np.ndarray, num_iv: tuple, den: np.ndarray, den_iv: tuple, scale: float):
    """num ÷ den × scale with bounds; a missing, zero or negative denominator gives NaN and a reason.

    Returns:
        (value, lower, upper, reason): reason is 0 or a code of :data:`REASON`.
    """
    reason = np.where(np.isnan(den), REASON["missing-denominator"],
                      np.where(den == 0, REASON["zero-denominator"],
                               np.where(den < 0, REASON["negative-denominator"], 0)))
    bad = reason != 0
    with np.errstate(all="ignore"):
        value = np.where(bad, np.nan, num / den * scale)
    lo, hi = corners(lambda a, b: a / b * scale, num_iv, (np.maximum(den_iv[0], 0), den_iv[1]))
    return value, np.where(bad, np.nan, lo), np.where(bad, np.nan, hi), reason


def _row_key(obs: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """One int64 code per distinct combination of cols (factorised column by column: fast on strings;
    an Arrow string column is factorised by Arrow, without a million Python strings)."""
    code = np.zeros(len(obs), np.int64)
    for c in cols:
        col = obs[c]
        values = col.to_numpy(dtype=float, na_value=np.nan) if c in ("year", "base_year") else (
            col if isinstance(col.array, pd.arrays.ArrowExtensionArray) else col.to_numpy(object))
        codes, uniq = pd.factorize(values, use_na_sentinel=False)
        code, _ = pd.factorize(code * (len(uniq) + 1) + codes)
        code = code.astype(np.int64)
    return code


def _arrow_strings(col: pd.Series) -> pa.Array:
    """A string column as one Arrow string array (Arrow-backed columns convert without Python objects)."""
    arr = pa.array(col.array) if hasattr(col.array, "__arrow_array__") else pa.array(col.to_numpy(object))
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.string())


def statements(obs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which statement of a figure stated twice counts: the narrowest (the one home of that rule).

    A figure is a :data:`analysis.data.KEY`; of its statements the narrowest (smallest upper −
    lower; the first in the data on a tie) is kept (:func:`best_observations` also intersects
    the bounds of all of them; :func:`reconcile` checks the others against it).

    Returns:
        (single, members, starts): positions of figures stated once (data order); positions of the
        statements of figures stated more than once, grouped by figure (figures in the order of
        their narrowest statement), narrowest first; the index in ``members`` where each figure
        starts (so ``members[starts]`` are the kept statements).
    """
    codes = _row_key(obs, KEY)
    dup_mask = pd.Series(codes).duplicated(keep=False).to_numpy()
    lower, upper = obs["lower"].to_numpy(float), obs["upper"].to_numpy(float)
    dup = np.flatnonzero(dup_mask)
    by_width = dup[np.argsort((upper - lower)[dup], kind="stable")]
    group, _ = pd.factorize(codes[by_width])
    order = np.argsort(group, kind="stable")
    members, group = by_width[order], group[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(members) else np.empty(0, np.int64)
    return np.flatnonzero(~dup_mask), members, starts


def best_observations(obs: pd.DataFrame) -> pd.DataFrame:
    """One row per :data:`analysis.data.KEY`: a figure stated twice keeps its narrowest statement.

    The rule is :func:`statements`; :func:`compute` and :func:`reconcile` both use it.

    Returns:
        A new frame: figures stated once first (in data order), then the merged figures with the
        kept statement's columns and the intersected bounds. ``id`` is the kept statement's id;
        ``ids`` (a list) the ids of every statement merged into the row, the kept one first.
    """
    single, members, starts = statements(obs)
    kept = members[starts]
    out = pd.concat([obs.iloc[single], obs.iloc[kept]], ignore_index=True)
    if len(kept):
        out.loc[len(single):, "lower"] = np.fmax.reduceat(obs["lower"].to_numpy(float)[members], starts)
        out.loc[len(single):, "upper"] = np.fmin.reduceat(obs["upper"].to_numpy(float)[members], starts)
    offsets = np.r_[np.arange(len(single)), len(single) + np.r_[starts, len(members)]].astype(np.int32)
    values = _arrow_strings(obs["id"]).take(pa.array(np.r_[single, members].astype(np.int64)))
    out["ids"] = pd.Series(pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(pa.array(offsets), values)),
                           index=out.index)
    return out


def _factorize(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and labels of a column (Arrow-backed strings factorise without Python objects)."""
    codes, uniq = pd.factorize(col)
    return codes.astype(np.int32), np.asarray(uniq, dtype=object)


class IdLists:
    """The observation ids behind each row of a frame: one per row, or the ``ids`` list of a merged figure."""

    def __init__(self, obs: pd.DataFrame):
        if "ids" in obs:
            arr = pa.array(obs["ids"].array)
            arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
            self.values = arr.flatten().cast(pa.string())
            off = np.asarray(arr.offsets, np.int64)
            self.offsets = off - off[0]
        else:
            self.values = _arrow_strings(obs["id"])
            self.offsets = None   # one id per row

    def of(self, *positions: np.ndarray) -> pd.Series:
        """One list per row: the ids of the observations at these positions, in argument order (-1: none).

        Built in Arrow from the position arrays (no per-row Python), a million rows at a time (the
        intermediate arrays of millions of results would otherwise double the memory the lists need).
        """
        n = len(positions[0])
        step = 1 << 20
        chunks = [self._of([np.asarray(p[s:s + step]) for p in positions]) for s in range(0, n, step)]
        if not chunks:
            chunks = [self._of([np.asarray(p) for p in positions])]
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(chunks)), copy=False)

    def _of(self, positions: list[np.ndarray]) -> pa.ListArray:
        pos = np.stack(positions, axis=1)   # int32 from Results: half the memory
        valid = pos >= 0
        if self.offsets is None:
            counts = valid.sum(axis=1)
            take = pos[valid]
        else:
            off = self.offsets
            p = np.maximum(pos, 0)
            n_ids = np.where(valid, off[p + 1] - off[p], 0).ravel()
            first = np.where(valid, off[p], 0).ravel()
            counts = n_ids.reshape(pos.shape).sum(axis=1)
            ends = np.cumsum(n_ids)
            take = np.arange(ends[-1] if len(ends) else 0) + np.repeat(first - (ends - n_ids), n_ids)
        offsets = np.zeros(len(pos) + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), self.values.take(pa.array(take)))


class Panel:
    """Observations encoded for joins: int codes and one int64 key per (region, entity, year)."""

    def __init__(self, obs: pd.DataFrame, catalog: Catalog):
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
        self.ids = IdLists(obs)
        self.blank_entity = np.flatnonzero(self.entities == "")
        # positions grouped by (measure, indicator), each sorted by key
        combo = self.m.astype(np.int64) * max(len(self.indicators), 1) + self.i
        order = np.lexsort((self.key, combo))
        uniq, start = np.unique(combo[order], return_index=True)
        bounds = list(start[1:]) + [len(order)]
        self._groups = {}
        self.has_duplicates = False
        for c, s, t in zip(uniq, start, bounds):
            m_code, i_code = divmod(int(c), max(len(self.indicators), 1))
            pos = order[s:t]
            # one figure per key: duplicates that differ only by peer/base year keep the first
            k = self.key[pos]
            keep = np.ones(len(pos), bool)
            keep[1:] = k[1:] != k[:-1]
            self.has_duplicates = self.has_duplicates or not keep.all()
            self._groups[(self.measures[m_code], self.indicators[i_code])] = pos[keep]
        self._index_cache: dict = {}
        # indicator codes: the data's, then catalog indicators absent from the data (a target's indicator)
        seen = set(self.indicators)
        self.indicator_labels = np.append(self.indicators, [c for c in catalog.indicators if c not in seen]).astype(object)

    def release_joins(self) -> None:
        """Free what only the kinds' joins use (hash indexes, keys, values, bounds): building the results
        frame of a large panel needs the memory."""
        self._index_cache.clear()
        self._groups.clear()
        for a in ("key", "base_year", "value", "lower", "upper", "q"):
            setattr(self, a, None)

    def indicator_code(self, code: str) -> int:
        """Integer code of an indicator (in :attr:`indicator_labels`)."""
        return int(np.flatnonzero(self.indicator_labels == code)[0])

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
        self.obs_regions: dict = {}
        self.parts: list[dict] = []
        self.names: list[tuple] = []     # per name id: (metric, kind, zh, en, fzh, fen)
        self.unit_names: list[str] = list(panel.units)   # the data's units, then literal units of results
        self.peer_names: list[str] = []                  # peer sets of ranks: the parent region's name (-1: none)

    def name_id(self, metric, kind, zh, en, fzh, fen) -> int:
        self.names.append((metric, kind, zh, en, fzh, fen))
        return len(self.names) - 1

    def _literal_unit(self, unit: str) -> int:
        if unit not in self.unit_names:
            self.unit_names.append(unit)
        return self.unit_names.index(unit)

    def add(self, *, name, rows, value, lower, upper, inputs, unit: str | None = None,
            unit_of: np.ndarray | None = None, flags=0, reason=0, reason_indicator=-1,
            year=None, start=None, end=None, indicator=None, peer=None, peer_n=None, peer_covered=None):
        """Add one block of results.

        Args:
            name: name id (:meth:`name_id`), one or per row.
            rows: positions the results belong to (region, entity; year and indicator unless given).
            value, lower, upper: the figure and its bounds.
            inputs: position arrays of the observations used (-1: none), in formula order.
            unit: a literal unit ("%", "百分点"); or ``unit_of``: positions whose data unit the result has.
            flags: bit mask(s) of :data:`FLAGS`.
            reason: 0 or a code of :data:`REASON` per row; reason_indicator: the indicator code it is about.
            year, start, end: the row's year and the period its value refers to (default: the rows' year).
            indicator: indicator code(s) (default: the rows' indicator).
            peer, peer_n, peer_covered: for ranks, the peer set (an index into :attr:`peer_names`),
                its size and how many of its members have data (default: none).
        """
        n = len(value)
        if n == 0:
            return
        if (unit is None) == (unit_of is None):
            raise TypeError("Results.add: give exactly one of unit (a literal unit) and unit_of (positions)")
        p = self.p
        year = p.year[rows] if year is None else year
        unit_code = p.u[unit_of] if unit_of is not None else self._literal_unit(unit)
        reason = np.broadcast_to(np.asarray(reason, np.int8), (n,))
        # compact dtypes: millions of rows per metric on a panel (positions < 2**31, years < 2**15)
        self.parts.append(dict(
            name=np.broadcast_to(np.asarray(name, np.int32), (n,)), r=p.r[rows], e=p.e[rows],
            year=np.asarray(year, np.int16),
            y0=np.broadcast_to(np.asarray(year if start is None else start, np.int16), (n,)),
            y1=np.broadcast_to(np.asarray(year if end is None else end, np.int16), (n,)),
            ind=np.broadcast_to(np.asarray(p.i[rows] if indicator is None else indicator, np.int32), (n,)),
            value=np.asarray(value, float), lower=np.asarray(lower, float), upper=np.asarray(upper, float),
            unit=np.broadcast_to(np.asarray(unit_code, np.int32), (n,)),
            in0=np.asarray(inputs[0], np.int32),
            in1=np.asarray(inputs[1], np.int32) if len(inputs) > 1 else np.broadcast_to(np.int32(-1), (n,)),
            in2=np.asarray(inputs[2], np.int32) if len(inputs) > 2 else np.broadcast_to(np.int32(-1), (n,)),
            in3=np.asarray(inputs[3], np.int32) if len(inputs) > 3 else np.broadcast_to(np.int32(-1), (n,)),
            flags=np.broadcast_to(np.asarray(flags, np.int32), (n,)),
            reason=reason,
            rind=(np.broadcast_to(np.int32(-1), (n,)) if not reason.any() else
                  np.where(reason != 0, np.broadcast_to(np.asarray(reason_indicator, np.int32), (n,)), -1).astype(np.int32)),
            peer=np.broadcast_to(np.asarray(-1 if peer is None else peer, np.int32), (n,)),
            peer_n=np.broadcast_to(np.asarray(-1 if peer_n is None else peer_n, np.int32), (n,)),
            peer_cov=np.broadcast_to(np.asarray(-1 if peer_covered is None else peer_covered, np.int32), (n,))))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return empty_results()
        parts = self.parts
        self.parts = []
        self.p.release_joins()

        class _Columns:   # each column concatenated when it is used, its pieces freed: one at a time in memory
            def pop(self, k):
                return np.concatenate([d.pop(k) for d in parts])
        cat = _Columns()
        p = self.p
        names = np.array(self.names, dtype=object)
        name = cat.pop("name")
        out = {}
        for j, col in enumerate(["metric", "kind", "name_zh", "name_en", "formula_zh", "formula_en"]):
            codes, uniq = pd.factorize(names[:, j])
            out[col] = pd.Categorical.from_codes(codes[name], categories=pd.Index(uniq, dtype=object))
        out["region"] = pd.Categorical.from_codes(cat.pop("r"), categories=pd.Index(p.regions, dtype=object))
        out["entity"] = pd.Categorical.from_codes(cat.pop("e"), categories=pd.Index(p.entities, dtype=object))
        out["year"] = cat.pop("year").astype(np.int64)
        out["start_year"] = cat.pop("y0").astype(np.int64)
        out["end_year"] = cat.pop("y1").astype(np.int64)
        labels = pd.Index(p.indicator_labels, dtype=object)
        out["indicator"] = pd.Categorical.from_codes(cat.pop("ind"), categories=labels)
        out["value"], out["lower"], out["upper"] = cat.pop("value"), cat.pop("lower"), cat.pop("upper")
        out["unit"] = pd.Categorical.from_codes(cat.pop("unit"), categories=pd.Index(self.unit_names, dtype=object))
        out["inputs"] = p.ids.of(cat.pop("in0"), cat.pop("in1"), cat.pop("in2"), cat.pop("in3"))
        out["flags"] = flag_lists(cat.pop("flags"))
        out["reason"] = pd.Categorical.from_codes(cat.pop("reason"), categories=pd.Index(["", *REASONS], dtype=object))
        out["reason_indicator"] = pd.Categorical.from_codes(cat.pop("rind") + 1,
                                                            categories=pd.Index(["", *labels], dtype=object))
        out["peer"] = pd.Categorical.from_codes(cat.pop("peer") + 1, categories=pd.Index(["", *self.peer_names], dtype=object))
        for col, key in (("peer_n", "peer_n"), ("peer_covered", "peer_cov")):
            v = cat.pop(key)
            out[col] = pd.array(np.where(v >= 0, v, 0), dtype="Int64")
            out[col][v < 0] = pd.NA
        return pd.DataFrame({c: out[c] for c in RESULT_COLUMNS}, copy=False)  # no second copy of millions of rows


def flag_lists(bits: np.ndarray) -> pd.Series:
    """Flag bit masks → one list of :data:`FLAGS` codes per row (built once per distinct mask, then taken)."""
    codes, uniq = pd.factorize(bits)
    words = pa.array([[f for k, f in enumerate(FLAGS) if int(u) & (1 << k)] for u in uniq], type=pa.list_(pa.string()))
    return pd.Series(pd.arrays.ArrowExtensionArray(words.take(pa.array(codes))), copy=False)


def empty_results() -> pd.DataFrame:
    """The results frame with no rows (same columns and dtypes as a computed one)."""
    cat = lambda values=(): pd.Categorical([], categories=pd.Index(list(values), dtype=object))  # noqa: E731
    cols = {c: cat() for c in RESULT_COLUMNS}
    cols.update({c: np.empty(0, np.int64) for c in ("year", "start_year", "end_year")})
    cols.update({c: np.empty(0, float) for c in ("value", "lower", "upper")})
    cols.update({c: pd.Series([], dtype=ID_LIST) for c in ("inputs", "flags")})
    cols["reason"] = cat(["", *REASONS])
    cols.update({c: pd.array([], dtype="Int64") for c in ("peer_n", "peer_covered")})
    return pd.DataFrame(cols)
