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
import pyarrow.compute as pc

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
    nan = np.isnan(stack)
    if not nan.any():   # the usual case: the same reductions, without the masks
        return stack.min(axis=0), stack.max(axis=0)
    allnan = nan.all(axis=0)
    filled_lo = np.where(nan, np.inf, stack)
    filled_hi = np.where(nan, -np.inf, stack)
    lo = np.where(allnan, np.nan, filled_lo.min(axis=0))
    hi = np.where(allnan, np.nan, filled_hi.max(axis=0))
    return lo, hi


def divide(num: np.ndarray, num_iv: tuple, den: np.ndarray, den_iv: tuple, scale: float):
    """num ÷ den × scale with bounds; a missing, zero or negative denominator gives NaN and a reason.

    Returns:
        (value, lower, upper, reason): reason is 0 or a code of :data:`REASON`.
    """
    bad = ~(den > 0)    # NaN, zero or negative
    if bad.any():
        reason = np.where(np.isnan(den), REASON["missing-denominator"],
                          np.where(den == 0, REASON["zero-denominator"],
                                   np.where(den < 0, REASON["negative-denominator"], 0)))
    else:
        reason = np.zeros(len(den), int)
    with np.errstate(all="ignore"):
        value = num / den * scale
    lo, hi = corners(lambda a, b: a / b * scale, num_iv, (np.maximum(den_iv[0], 0), den_iv[1]))
    return (*blank(bad, value, lo, hi), reason)


def blank(bad: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """The arrays with NaN where ``bad`` (the arrays themselves when nothing is)."""
    if not bad.any():
        return list(arrays)
    return [np.where(bad, np.nan, a) for a in arrays]


def at(values: np.ndarray, pos: np.ndarray, fill=np.nan) -> np.ndarray:
    """values at positions, ``fill`` where a position is -1 (none)."""
    if not len(pos) or pos.min() >= 0:   # the usual case: a plain gather
        return values[pos]
    return np.where(pos >= 0, values[np.maximum(pos, 0)], fill)


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
    """Integer codes and labels of a column, in order of first appearance (``pd.factorize``; Arrow-backed
    strings are dictionary-encoded by Arrow directly, a third faster)."""
    if hasattr(col.array, "_pa_array"):
        enc = pc.dictionary_encode(col.array._pa_array)
        enc = enc.combine_chunks() if isinstance(enc, pa.ChunkedArray) else enc
        if enc.indices.null_count == 0:   # a missing value: as pandas codes it (-1), below
            return (enc.indices.to_numpy().astype(np.int32, copy=False),
                    enc.dictionary.to_numpy(zero_copy_only=False).astype(object, copy=False))
    codes, uniq = pd.factorize(col)
    return codes.astype(np.int32), np.asarray(uniq, dtype=object)


class IdLists:
    """The observation ids behind each row of a frame: one per row, or the ``ids`` list of a merged figure."""

    def __init__(self, obs: pd.DataFrame, rows: np.ndarray | None = None):
        """rows: the frame's rows that positions refer to, in position order (default: all, in order)."""
        take = None if rows is None else pa.array(rows)
        if "ids" in obs:
            arr = pa.array(obs["ids"].array)
            arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
            if take is not None:
                arr = arr.take(take)
            self.values = arr.flatten().cast(pa.string())
            off = np.asarray(arr.offsets, np.int64)
            self.offsets = off - off[0]
        else:
            self.values = _arrow_strings(obs["id"])
            if take is not None:
                self.values = self.values.take(take)
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

    def of_pieces(self, pieces: list[list[np.ndarray]]) -> pd.Series:
        """:meth:`of` for positions given as consecutive pieces (each a list of position arrays of
        one length): taken about a million rows at a time, without first joining the pieces (the
        pieces are dropped from ``pieces`` as they are used)."""
        step = 1 << 20
        chunks, batch, rows = [], [], 0
        pieces.reverse()
        while pieces:
            piece = pieces.pop()
            n = len(piece[0])
            if n > step:   # a long piece: its first `step` rows now, the rest next
                pieces.append([p[step:] for p in piece])
                piece, n = [p[:step] for p in piece], step
            batch.append(piece)
            rows += n
            if rows >= step or not pieces:
                chunks.append(self._of([np.concatenate(c) for c in zip(*batch)]))
                batch, rows = [], 0
        if not chunks:
            return self.of(*[np.empty(0, np.int64)] * 4)
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(chunks)), copy=False)

    def _of(self, positions: list[np.ndarray]) -> pa.ListArray:
        n = len(positions[0])
        valid = [p >= 0 for p in positions]
        used = [k for k, v in enumerate(valid) if v.any()]   # a result kind's unused inputs are -1 throughout
        positions, valid = [positions[k] for k in used], [valid[k] for k in used]
        offsets = np.zeros(n + 1, np.int64)
        if not positions:
            return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), self.values.slice(0, 0))
        pos = np.stack(positions, axis=1)   # int32 from Results: half the memory
        every = all(v.all() for v in valid)
        if self.offsets is None:
            # per row: the number of its valid positions (a sum of columns: .sum(axis=1) is 10× slower)
            counts = len(positions) if every else sum(v.astype(np.int32) for v in valid)
            take = pos.ravel() if every else pos[np.stack(valid, axis=1)]
        else:
            off = self.offsets
            p = np.maximum(pos, 0)
            n_ids = (off[p + 1] - off[p]) * np.stack(valid, axis=1)
            first = off[p].ravel()
            counts = sum(n_ids[:, k] for k in range(n_ids.shape[1]))
            n_ids = n_ids.ravel()
            ends = np.cumsum(n_ids)
            take = np.arange(ends[-1] if len(ends) else 0) + np.repeat(first - (ends - n_ids), n_ids)
        np.cumsum(np.broadcast_to(counts, (n,)), out=offsets[1:])
        return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), self.values.take(pa.array(take)))


def _order(major: np.ndarray, minor: np.ndarray, n_minor: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions sorting by (major, minor), ties in their original order (``np.lexsort((minor, major))``),
    and the sorted ``major * n_minor + minor`` (minor < n_minor). One sort of int64 values — several
    times faster than an argsort — when (major, minor, position) packs into an int64."""
    n = len(major)
    if not n:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if (int(major.max()) + 1) * n_minor * n < 2**63:
        packed = (major * n_minor + minor) * n + np.arange(n)
        packed.sort()
        combined, rows = np.divmod(packed, n)
        return rows, combined
    rows = np.lexsort((minor, major))
    return rows, major[rows] * n_minor + minor[rows]


class Panel:
    """Observations encoded for joins: int codes and one int64 key per (region, entity, year).

    Stored grouped by (measure, indicator) and sorted by key within each group, one row per key
    (duplicates that differ only by peer or base year keep the first): a group's rows are
    contiguous, so the kinds, which work one group at a time, read memory in order. Positions are
    into these arrays, not the frame's rows.
    """

    def __init__(self, obs: pd.DataFrame, catalog: Catalog):
        self.n = len(obs)
        r, self.regions = _factorize(obs["region"])
        e, self.entities = _factorize(obs["entity"])
        i, self.indicators = _factorize(obs["indicator"])
        m, self.measures = _factorize(obs["measure"])
        year = obs["year"].to_numpy(np.int64)
        self.ymin = int(year.min()) - 2 if self.n else 0
        self.Y = int(year.max()) - self.ymin + 3 if self.n else 1
        self.E = max(len(self.entities), 1)
        key = (r.astype(np.int64) * self.E + e) * self.Y + (year - self.ymin)
        n_ind = max(len(self.indicators), 1)
        n_keys = max(len(self.regions), 1) * self.E * self.Y
        rows, combo_key = _order(m.astype(np.int64) * n_ind + i, key, n_keys)
        del r, e, i, m, year, key
        keep = np.ones(len(rows), bool)
        keep[1:] = combo_key[1:] != combo_key[:-1]
        self.has_duplicates = not keep.all()
        if self.has_duplicates:
            rows, combo_key = rows[keep], combo_key[keep]
        del keep
        # the codes in the new order, from the sorted keys (arithmetic: no gathers across the frame)
        combo, self.key = np.divmod(combo_key, n_keys)
        del combo_key
        series, year = np.divmod(self.key, self.Y)
        self.year = year + self.ymin
        # indicator codes: the data's, then catalog indicators absent from the data (a target's indicator)
        seen = set(self.indicators)
        self.indicator_labels = np.append(self.indicators, [c for c in catalog.indicators if c not in seen]).astype(object)
        # codes kept in the dtypes of the results' categoricals: copied into the results as they are
        region, entity = np.divmod(series, self.E)
        self.r = region.astype(_code_dtype(len(self.regions)))
        self.e = entity.astype(_code_dtype(len(self.entities)))
        self.i = (combo % n_ind).astype(_code_dtype(len(self.indicator_labels)))
        del series, year, region, entity
        by = obs["base_year"].to_numpy(dtype=float, na_value=np.nan)[rows]
        self.base_year = np.where(np.isnan(by), self.year - 1, by).astype(np.int64)
        self.value, self.lower, self.upper = (obs[c].to_numpy(float)[rows] for c in ("value", "lower", "upper"))
        qcodes, quniq = _factorize(obs["qualifier"])
        qmap = np.array([QUALS.index(q) if q in QUALS else 0 for q in quniq] or [0], dtype=np.int64)
        self.q = qmap[qcodes[rows]]
        self.qf = _Q_FLAGS[self.q]                   # the flags each observation's qualifier gives a result
        ucodes, self.units = _factorize(obs["unit"])
        self.u = ucodes[rows]
        self.ids = IdLists(obs, rows)
        self.blank_entity = np.flatnonzero(self.entities == "")
        # each (measure, indicator): its positions, a contiguous range
        starts = np.flatnonzero(np.r_[True, combo[1:] != combo[:-1]]) if len(rows) else np.empty(0, np.int64)
        self._groups = {}
        for s, t in zip(starts, [*starts[1:], len(rows)]):
            m_code, i_code = divmod(int(combo[s]), n_ind)
            self._groups[(self.measures[m_code], self.indicators[i_code])] = np.arange(s, t)
        self._index_cache: dict = {}

    def release_joins(self) -> None:
        """Free what only the kinds use (hash indexes, keys, codes, values, bounds): building the results
        frame of a large panel needs the memory (the labels and the ids stay)."""
        self._index_cache.clear()
        self._groups.clear()
        for a in ("key", "base_year", "value", "lower", "upper", "q", "qf", "r", "e", "i", "year", "u"):
            setattr(self, a, None)

    def indicator_code(self, code: str) -> int:
        """Integer code of an indicator (in :attr:`indicator_labels`)."""
        return int(np.flatnonzero(self.indicator_labels == code)[0])

    def rows(self, measure: str, indicator: str | None = None) -> np.ndarray:
        """Positions of (measure, indicator), sorted by key (so by region, entity, then year)."""
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
        return at(self.lower, pos), at(self.upper, pos)

    def is_unit(self, pos: np.ndarray, unit: str) -> np.ndarray:
        return (np.asarray(self.units, dtype=object) == unit)[self.u[pos]]

    def val(self, pos: np.ndarray) -> np.ndarray:
        return at(self.value, pos)

    def qflags(self, *positions: np.ndarray) -> np.ndarray:
        """The flags the qualifiers of the observations at these positions give a result (-1: none)."""
        out = at(self.qf, positions[0], 0)
        for p in positions[1:]:
            out |= at(self.qf, p, 0)
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
            y0=None if start is None else np.broadcast_to(np.asarray(start, np.int16), (n,)),   # None: the year
            y1=None if end is None else np.broadcast_to(np.asarray(end, np.int16), (n,)),
            ind=np.broadcast_to(np.asarray(p.i[rows] if indicator is None else indicator, p.i.dtype), (n,)),
            value=np.asarray(value, float), lower=np.asarray(lower, float), upper=np.asarray(upper, float),
            unit=np.broadcast_to(np.asarray(unit_code, np.int32), (n,)),
            in0=np.asarray(inputs[0], np.int32),
            in1=np.asarray(inputs[1], np.int32) if len(inputs) > 1 else np.broadcast_to(np.int32(-1), (n,)),
            in2=np.asarray(inputs[2], np.int32) if len(inputs) > 2 else np.broadcast_to(np.int32(-1), (n,)),
            in3=np.asarray(inputs[3], np.int32) if len(inputs) > 3 else np.broadcast_to(np.int32(-1), (n,)),
            flags=np.broadcast_to(np.asarray(flags, np.int16), (n,)),   # < 2**len(FLAGS)
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
        dtypes = {"r": self.p.r.dtype, "e": self.p.e.dtype, "i": self.p.i.dtype}
        self.p.release_joins()

        def column(k, dtype=None, default=None):
            """A column concatenated when it is used, its pieces freed (one at a time in memory), cast
            to its final dtype while concatenating (no second pass)."""
            pieces = [d.pop(k) for d in parts]
            if default is not None:
                pieces = [d[default] if x is None else x for x, d in zip(pieces, parts)]
            return np.concatenate(pieces, dtype=dtype, casting="unsafe")

        def categorical(codes, categories) -> pd.Categorical:
            # the codes already hold valid positions in categories
            return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype=object), validate=False)

        p = self.p
        names = np.array(self.names, dtype=object)
        per_part = all(d["name"].strides == (0,) for d in parts)   # one name per part (every kind's case)
        if per_part:
            part_name = np.array([d["name"][0] for d in parts], dtype=np.int64)
            lengths = np.array([len(d.pop("name")) for d in parts], dtype=np.int64)
        else:
            name = column("name")
        out = {}
        for j, col in enumerate(["metric", "kind", "name_zh", "name_en", "formula_zh", "formula_en"]):
            codes, uniq = pd.factorize(names[:, j])
            codes = codes.astype(_code_dtype(len(uniq)))
            out[col] = categorical(np.repeat(codes[part_name], lengths) if per_part else codes[name], uniq)
        out["region"] = categorical(column("r", dtypes["r"]), p.regions)
        out["entity"] = categorical(column("e", dtypes["e"]), p.entities)
        out["start_year"] = column("y0", np.int64, default="year")
        out["end_year"] = column("y1", np.int64, default="year")
        out["year"] = column("year", np.int64)
        labels = list(p.indicator_labels)
        out["indicator"] = categorical(column("ind", dtypes["i"]), labels)
        out["value"], out["lower"], out["upper"] = column("value"), column("lower"), column("upper")
        out["unit"] = categorical(column("unit", _code_dtype(len(self.unit_names))), self.unit_names)
        out["inputs"] = p.ids.of_pieces([[d.pop(f"in{k}") for k in range(4)] for d in parts])
        out["flags"] = flag_lists(column("flags"))
        out["reason"] = categorical(column("reason", _code_dtype(len(REASONS) + 1)), ["", *REASONS])
        for col, key, cats in (("reason_indicator", "rind", labels), ("peer", "peer", self.peer_names)):
            codes = column(key, _code_dtype(len(cats) + 1))   # -1: none → "" (code 0)
            codes += 1
            out[col] = categorical(codes, ["", *cats])
        for col, key in (("peer_n", "peer_n"), ("peer_covered", "peer_cov")):
            v = column(key, np.int64)
            missing = v < 0
            v[missing] = 0
            out[col] = pd.arrays.IntegerArray(v, missing)
        return pd.DataFrame({c: out[c] for c in RESULT_COLUMNS}, copy=False)  # no second copy of millions of rows


def _code_dtype(n_categories: int) -> type:
    """The dtype pandas keeps a categorical's codes in (so that the codes built here need no conversion)."""
    for t in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(t).max:
            return t
    return np.int64


def flag_lists(bits: np.ndarray) -> pd.Series:
    """Flag bit masks → one list of :data:`FLAGS` codes per row (built once per distinct mask, then taken)."""
    uniq = np.flatnonzero(np.bincount(bits, minlength=1))   # masks are small non-negative ints: no hashing
    code_of = np.zeros(len(uniq) and uniq[-1] + 1, np.int16)   # at most 2**len(FLAGS) masks
    code_of[uniq] = np.arange(len(uniq), dtype=np.int16)
    words = pa.array([[f for k, f in enumerate(FLAGS) if int(u) & (1 << k)] for u in uniq], type=pa.list_(pa.string()))
    return pd.Series(pd.arrays.ArrowExtensionArray(words.take(pa.array(code_of[bits]))), copy=False)


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
