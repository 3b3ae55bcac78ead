"""Validation of observations read as strings: every column checked, every problem collected.

Column-wise (unique values mapped once), so large panels validate in seconds. Also here, once:
the duplicate key (:data:`KEY`), what qualifiers mean for bounds (:func:`bounds_array`), and
whether a region and year are in the data (:func:`check_selection`).
"""
from __future__ import annotations

import difflib
import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import Problem
from ..limits import MAX_ABS_VALUE, MAX_NAME_CHARS, MAX_SNAPSHOT_BYTES, MAX_SUGGESTIONS
from ..numbers import (QUALIFIERS, UNITS, NumberFormatError, canonical_qualifier,
                       normalize_text, parse_value)
from .reading import CONTROL, CONTROL_IN_TEXT, _decode, _short, arrow_chunks, read_bounded, read_sources
from .regions import canonical_map

#: measure → allowed unit dimensions (None: the indicator's own dimension)
MEASURES: dict[str, set[str] | None] = {
    "level": None, "target": None, "projection": None, "plan": None,
    "growth": {"percent", "multiple"}, "multiple": {"multiple"}, "share": {"percent"},
    "rank": {"rank"}, "growth_rank": {"rank"}, "share_rank": {"rank"}, "streak": {"years"}, "cagr": {"percent"},
    "pp_change": {"pp"},
}
MEASURE_ALIASES = {
    "水平": "level", "总量": "level", "规模": "level", "增长": "growth", "增速": "growth",
    "增长率": "growth", "倍数": "multiple", "占比": "share", "比重": "share", "排名": "rank",
    "位次": "rank", "增速排名": "growth_rank", "比重排名": "share_rank", "连续": "streak", "目标": "target", "预计": "projection", "预测": "projection",
    "计划": "plan", "复合增长率": "cagr", "百分点变化": "pp_change",
}
#: smallest meaningful value per measure (bounds are clipped to it)
FLOORS = {"level": 0.0, "target": 0.0, "projection": 0.0, "plan": 0.0, "share": 0.0, "multiple": 0.0,
          "growth": -100.0, "cagr": -100.0, "rank": 1.0, "growth_rank": 1.0, "share_rank": 1.0, "streak": 0.0,
          "pp_change": -np.inf}
KEY = ["region", "entity", "year", "base_year", "indicator", "measure", "peer"]


def _squash(text: str) -> str:
    """The text without whitespace (``str.split`` splits at the characters ``re``'s ``\\s`` matches)."""
    return "".join(text.split())


#: punctuation ending a clause: a quote equal to a whole clause of a source text is found by a set look-up
_CLAUSE_BREAKS = "。；;！!？?，,、：:\n"
_CLAUSE_BREAK = re.compile("[" + re.escape(_CLAUSE_BREAKS) + "]")


def _clauses(text: str):
    """The clauses of a text (split at :data:`_CLAUSE_BREAKS`, as ``_CLAUSE_BREAK.split``) as an Arrow
    string array: every break made a line break by ``str.replace``, then split by Arrow (no list of
    Python strings; a third of the time of a regex split on a text of a million characters)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    for c in _CLAUSE_BREAKS[:-1]:
        if c in text:
            text = text.replace(c, "\n")
    return pc.split_pattern(pa.array([text], type=pa.large_string()), "\n").flatten()


def _has_space(texts) -> np.ndarray:
    """Which texts (an array of str, or an Arrow string array) contain whitespace as ``re``'s ``\\s``
    means it (vectorised over Arrow; the characters are those ``str.isspace`` accepts, so it agrees
    with :func:`_squash`)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    if not len(texts):
        return np.zeros(0, bool)
    arr = texts if isinstance(texts, pa.Array) else pa.array(texts, type=pa.string())
    return np.asarray(pc.match_substring_regex(arr, _space_class()), dtype=bool)


def _space_class() -> str:
    global _SPACE_CLASS
    if _SPACE_CLASS is None:
        _SPACE_CLASS = "[" + "".join(f"\\x{{{c:x}}}" for c in range(0x3100) if chr(c).isspace()) + "]"
    return _SPACE_CLASS


_SPACE_CLASS = None


def _map_unique(s: pd.Series, fn) -> pd.Series:
    """``s.map(fn)`` with ``fn`` called once per distinct value (a million rows have a few hundred):
    codes by hashing, one Python call per distinct value, then a take."""
    codes, uniq = pd.factorize(s, use_na_sentinel=False)
    return _spread([fn(u) for u in uniq], codes, s.index)


def _spread(values, codes: np.ndarray, index) -> pd.Series:
    """The Series of ``values[codes]``, of the dtype pandas infers for these values (as if built from
    the million-row object array), built from the few distinct values by a take: a column of strings
    becomes Arrow strings without a million Python objects converted."""
    if not len(values):
        return pd.Series(np.empty(0, object), index=index)
    small = pd.Series(np.array(values, dtype=object))   # dtype inference looks at the values, not their count
    return pd.Series(small.array.take(codes), index=index)


class _Row:
    """One row of the raw frame, read from its columns (``r["value"]``) without building a Series."""

    __slots__ = ("_cols", "_i")

    def __init__(self, cols: dict, i: int):
        self._cols, self._i = cols, i

    def __getitem__(self, column: str):
        return self._cols[column][self._i]


class _Columns(dict):
    """Column → its values as an array, made when a problem first reads the column (an array of
    Python strings of every column of a large panel would cost hundreds of megabytes)."""

    def __init__(self, raw: pd.DataFrame):
        super().__init__()
        self.raw = raw

    def __missing__(self, column: str):
        self[column] = values = self.raw[column].to_numpy()
        return values


class _Problems:
    """Problems found so far; ``bad(mask, column, …)`` adds one per flagged row of the raw frame."""

    def __init__(self, raw: pd.DataFrame):
        self.raw = raw
        self.cols = _Columns(raw)
        self.list: list[Problem] = []

    def bad(self, mask, column, expected, found_fn, hint_fn=None) -> None:
        file, row = self.cols["file"], self.cols["row"]
        for i in np.flatnonzero(np.asarray(mask)):
            r = _Row(self.cols, i)
            self.list.append(Problem(file[i], int(row[i]), column, expected, found_fn(r),
                                     hint_fn(r) if hint_fn else ""))

    def add(self, i: int, column: str, expected: str, found: str) -> None:
        self.list.append(Problem(self.cols["file"][i], int(self.cols["row"][i]), column, expected, found))


class _Suggest:
    """``fn(name)`` remembered per name, for at most :data:`~analysis.limits.MAX_SUGGESTIONS` names
    (difflib takes milliseconds a name; a file of garbage has a new one on every row)."""

    def __init__(self, fn):
        self.fn, self.memo = fn, {}

    def __call__(self, name: str) -> list[str]:
        if name not in self.memo:
            if len(self.memo) >= MAX_SUGGESTIONS:
                return []
            self.memo[name] = self.fn(name)
        return self.memo[name]


def _empty(r) -> str:
    return "an empty cell"


def _to_year(s: pd.Series) -> pd.Series:
    """Four-digit years (2024年 and full-width digits accepted); NaN otherwise."""
    def year(x):
        x = normalize_text(x).removesuffix("年").removesuffix(".0")
        return float(x) if re.fullmatch(r"\d{4}", x) else np.nan
    return _map_unique(s, year).astype(float)


def _years(raw: pd.DataFrame, pr: _Problems) -> tuple[pd.Series, pd.Series]:
    year = _to_year(raw["year"])
    pr.bad(year.isna() | (year < 1900) | (year > 2100), "year", "a four-digit year (e.g. 2024)",
           lambda r: repr(r["year"]) if r["year"] else "an empty cell")
    base_year = _to_year(raw["base_year"])
    pr.bad((raw["base_year"] != "") & base_year.isna(), "base_year", "a four-digit year or an empty cell",
           lambda r: repr(r["base_year"]))
    pr.bad(base_year.notna() & year.notna() & (base_year >= year), "base_year", "a year before the figure's year",
           lambda r: f"{r['base_year']} for year {r['year']}")
    return year, base_year


def _indicators(raw: pd.DataFrame, pr: _Problems, catalog: Catalog) -> pd.Series:
    """Indicator codes from codes, 中文名 or aliases; unknown names with the nearest catalog names."""
    indicator = _map_unique(raw["indicator"], catalog.resolve)
    suggest = _Suggest(catalog.suggest)
    pr.bad(indicator.isna(), "indicator", "an indicator code, 中文名 or alias from the catalog",
           lambda r: repr(r["indicator"]) if r["indicator"] else "an empty cell",
           lambda r: ("did you mean " + " or ".join(suggest(r["indicator"])) + "?")
           if suggest(r["indicator"]) else f"add it to {catalog.path.name}")
    return indicator


def _measures(raw: pd.DataFrame, pr: _Problems) -> pd.Series:
    def to_measure(m: str):
        k = normalize_text(m).lower()
        k = MEASURE_ALIASES.get(k, k)
        return k if k in MEASURES else None
    measure = _map_unique(raw["measure"], to_measure)
    pr.bad(measure.isna(), "measure", "one of " + ", ".join(MEASURES),
           lambda r: repr(r["measure"]) if r["measure"] else "an empty cell")
    return measure


_PLAIN = re.compile(r"-?([0-9]+)(\.[0-9]+)?")


def _values(raw: pd.DataFrame, pr: _Problems):
    """Values, rounding half-widths and steps: each distinct text read once (a plain decimal by
    ``float``, the rest through the Chinese number parser, which also finds a qualifier or unit
    written in the value), then taken for every row."""
    codes, uniq = pd.factorize(raw["value"], use_na_sentinel=False)
    uniq = np.asarray(uniq, dtype=object)
    k = len(uniq)
    u_value, u_half, u_step = np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    u_dec, u_trail = np.zeros(k), np.zeros(k)
    u_qual, u_unit = np.full(k, None, dtype=object), np.full(k, None, dtype=object)
    u_error: dict[int, str] = {}
    for j, t in enumerate(uniq):
        m = _PLAIN.fullmatch(t)
        if m:
            u_value[j] = float(t)
            digits, frac = m.group(1), m.group(2)
            u_dec[j] = len(frac) - 1 if frac else 0
            u_trail[j] = len(digits) - len(digits.rstrip("0"))
            continue
        try:
            pn = parse_value(t)
        except NumberFormatError as exc:
            u_error[j] = str(exc)
            continue
        except (OverflowError, ValueError):   # a Chinese numeral of hundreds of digits
            u_error[j] = str(NumberFormatError(f"{_clip(t)}, too large to be a number"))
            continue
        u_value[j], u_half[j], u_step[j], u_qual[j], u_unit[j] = pn.value, pn.half_width, pn.round_step, pn.qualifier, pn.unit
    plain = np.array([_PLAIN.fullmatch(t) is not None for t in uniq], dtype=bool) if k else np.zeros(0, bool)
    with np.errstate(over="ignore", under="ignore"):   # a value of 400 digits: refused by _bounded_values
        u_half = np.where(plain, 0.5 * 10.0 ** -u_dec, u_half)
        u_step = np.where(plain, np.where(u_dec > 0, 10.0 ** -u_dec, 10.0 ** u_trail), u_step)
    if u_error:
        bad = np.zeros(k, bool)
        bad[list(u_error)] = True
        for i in np.flatnonzero(bad[codes]):
            pr.add(i, "value", "a number (e.g. 4000, 4,000, 1.2万, 20%, 5.6倍, 超4000)", u_error[codes[i]])
    return (u_value[codes], u_half[codes], u_step[codes], _spread(u_qual, codes, raw.index),
            _spread(u_unit, codes, raw.index))


def _bounded_values(raw: pd.DataFrame, pr: _Problems, value: np.ndarray, stated: np.ndarray) -> np.ndarray:
    """Values that are finite and at most :data:`~analysis.limits.MAX_ABS_VALUE` in the base unit;
    the others are problems (a 400-digit number is infinite as a float) and become NaN."""
    with np.errstate(invalid="ignore", over="ignore"):
        bad = np.isfinite(stated) & ~np.isnan(value) & ~(np.abs(value) <= MAX_ABS_VALUE)   # NaN: an unknown unit
        infinite = ~np.isfinite(stated) & ~np.isnan(stated)
    pr.bad(infinite, "value", "a finite number", lambda r: f"{_clip(r['value'])}, too large to be a number")
    pr.bad(bad & ~infinite, "value", f"a figure of at most {MAX_ABS_VALUE:.0e} in its base unit (元, 辆, %, …)",
           lambda r: f"{_clip(r['value'])} {r['unit']}".rstrip(), lambda r: "check the value and its unit")
    return np.where(bad | infinite, np.nan, value)


def _clip(text: str, n: int = 40) -> str:
    return repr(text) if len(text) <= n else f"{text[:n]!r}… ({len(text)} characters)"


def _qualifiers(raw: pd.DataFrame, pr: _Problems, text_qual: pd.Series) -> pd.Series:
    """The qualifier column, or the word carried in the value text (超4000); they must agree."""
    qual_col = _map_unique(raw["qualifier"], canonical_qualifier)
    pr.bad(qual_col.isna(), "qualifier", "one of " + ", ".join(QUALIFIERS) + " or a word such as 超/近/约/余",
           lambda r: repr(r["qualifier"]))
    clash = text_qual.notna() & qual_col.notna() & (qual_col != "exact") & (qual_col != text_qual)
    pr.bad(clash, "qualifier", "the same qualifier as the value text",
           lambda r: f"{r['qualifier']!r} but the value says {r['value']!r}")
    return qual_col.where(~(text_qual.notna() & (qual_col == "exact")), text_qual)


def _units(raw: pd.DataFrame, pr: _Problems, catalog: Catalog, text_unit: pd.Series, indicator: pd.Series,
           measure: pd.Series):
    """Known units, matching the value text and allowed for the measure and indicator."""
    unit_text = raw["unit"].where(raw["unit"] != "", text_unit.fillna(""))
    uinfo = {u: UNITS.get(normalize_text(u)) for u in unit_text.unique()}
    base_unit = _map_unique(unit_text, lambda u: uinfo[u][0] if uinfo[u] else None)
    factor = _map_unique(unit_text, lambda u: uinfo[u][1] if uinfo[u] else np.nan).astype(float)
    dim = _map_unique(unit_text, lambda u: uinfo[u][2] if uinfo[u] else None)

    near = _Suggest(lambda u: difflib.get_close_matches(normalize_text(u), list(UNITS), n=1))
    pr.bad(base_unit.isna(), "unit", "a known unit (" + ", ".join(list(UNITS)[:12]) + ", …)",
           lambda r: repr(r["unit"]) if r["unit"] else "an empty cell",
           lambda r: f"did you mean {near(r['unit'])[0]!r}?" if near(r["unit"]) else "units are listed in the README")
    tu_dim = _map_unique(text_unit, lambda u: UNITS[u][2] if isinstance(u, str) else None)
    pr.bad(text_unit.notna() & dim.notna() & (tu_dim != dim) & (raw["unit"] != ""), "unit",
           "a unit matching the value text", lambda r: f"{r['unit']!r} for value {r['value']!r}")
    def _na(x):
        return x is None or (isinstance(x, float) and np.isnan(x))

    def ok(combo):
        d, m, c = combo
        ad = MEASURES.get(m) if isinstance(m, str) else None
        idim = catalog[c].dimension if isinstance(c, str) else None
        return _na(d) or _na(m) or (_na(ad) and (_na(idim) or d == idim)) or (not _na(ad) and d in ad)
    # one check per distinct (dimension, measure, indicator): a few hundred, not a million
    parts = [pd.factorize(c, use_na_sentinel=False) for c in (dim, measure, indicator)]
    key = np.zeros(len(dim), np.int64)
    for codes, uniq in parts:
        key = key * max(len(uniq), 1) + codes
    kcodes, kuniq = pd.factorize(key)
    first = np.zeros(len(kuniq), np.int64)
    first[kcodes[::-1]] = np.arange(len(key))[::-1]          # a row of each combination
    verdict = np.array([ok(tuple(u[c[i]] for c, u in parts)) for i in first], dtype=bool)
    ok_dim = verdict[kcodes] if len(key) else np.ones(0, bool)
    for i in np.flatnonzero(~np.asarray(ok_dim)):
        m = measure.iat[i]
        if MEASURES[m] is None:
            exp = f"a unit like {catalog[indicator.iat[i]].unit} for a {m} of {catalog[indicator.iat[i]].zh}"
        else:
            exp = f"a unit of a {m} (" + "/".join(sorted({u for u, (_, _, d) in UNITS.items() if d in MEASURES[m]})) + ")"
        pr.add(i, "unit", exp, repr(unit_text.iat[i]))
    return unit_text, base_unit, factor, dim


def _ids(raw: pd.DataFrame, pr: _Problems) -> pd.Series:
    """Stable ids: as given, else ``file:row``; unique."""
    stems = {f: Path(f).stem for f in raw["file"].unique()}
    given = (raw["id"] != "").to_numpy(bool)
    ids = raw["id"]
    if not given.all():   # file:row only where no id is given (a million of them would be built for nothing)
        blank = raw[~given]
        ids = ids.where(given, blank["file"].map(stems) + ":" + blank["row"].astype(str))
    dup = ids.duplicated(keep="first").to_numpy()
    if dup.any():
        values = ids.to_numpy()
        first_row = dict(zip(values[~dup], raw["row"].to_numpy()[~dup]))
        pr.bad(dup, "id", "a unique id", lambda r: f"{r['id']!r} again (first at row {first_row.get(r['id'], '?')})")
    return ids


def _sources_and_quotes(raw: pd.DataFrame, pr: _Problems, paths: list[Path], check_quotes: bool) -> dict[str, str]:
    """Sources listed in sources.csv; snapshots unchanged (sha256); quotes found verbatim in them.

    Returns, for each source id of the data, whether its quotes were checked: ``checked``,
    ``no-text`` (no snapshot named in sources.csv), ``not-text`` (a snapshot that is not text, e.g. a
    PDF), ``off`` (not asked to).
    """
    sources, problems = read_sources(paths)
    pr.list.extend(problems)
    known = set(sources["id"])
    pr.bad((raw["source"] != "") & ~raw["source"].isin(known), "source",
           "a source id listed in sources.csv beside the data file (" + ", ".join(sorted(known)) + ")",
           lambda r: repr(r["source"]))
    used = [s for s in pd.unique(raw["source"].to_numpy(object)) if s in known]
    if not check_quotes:
        return {s: "off" for s in used}
    texts, status = {}, {}
    for _, s in sources[sources["id"].isin(used)].iterrows():
        if not s["path"]:
            status[s["id"]] = "no-text"
            continue
        fp = Path(s["path"])
        data, problem = read_bounded(fp, _short(fp), "a source snapshot", MAX_SNAPSHOT_BYTES)
        if data is None:
            pr.list.append(problem)
            status[s["id"]] = "not-text"
            continue
        digest = hashlib.sha256(data).hexdigest()
        if s.get("sha256") and digest != s["sha256"]:
            pr.list.append(Problem(_short(fp), None, None, f"sha256 {s['sha256'][:12]}… as recorded in sources.csv",
                                   f"{digest[:12]}… (the snapshot was changed)"))
        text, _, _ = _decode(data, _short(fp))
        if text is None:
            status[s["id"]] = "not-text"
            continue
        texts[s["id"]] = _squash(text)
        status[s["id"]] = "checked"
    missing_quote = np.zeros(len(raw), dtype=bool)
    todo = np.flatnonzero((raw["source"].isin(list(texts)) & (raw["quote"] != "")).to_numpy())
    if len(todo):
        missing_quote[todo] = ~_quotes_found(raw["source"].iloc[todo], raw["quote"].iloc[todo], texts)
    pr.bad(missing_quote, "quote", "a quote that occurs verbatim in the source text",
           lambda r: repr(r["quote"][:40]), lambda r: "copy the clause from the source; whitespace and line breaks are ignored")
    return status


def _quotes_found(sources: pd.Series, quotes: pd.Series, texts: dict[str, str]) -> np.ndarray:
    """Whether each quote occurs in the (whitespace-free) text of its source, whitespace ignored.

    Per source, in two passes over whole columns (a search per quote of a long text was most of the
    time of a million-row file): a quote that is a whole clause of the text by one set look-up of all
    of them (Arrow's ``is_in``); the others by one Aho–Corasick scan of the text for all of them at
    once (``pyahocorasick``), which stops when each has been found.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    q = pa.array(quotes.array) if hasattr(quotes.array, "__arrow_array__") else pa.array(quotes.to_numpy(object))
    q = (q.combine_chunks() if isinstance(q, pa.ChunkedArray) else q).cast(pa.string())
    spaced = _has_space(q)
    if spaced.any():
        at = np.flatnonzero(spaced)
        q = pc.replace_with_mask(q, pa.array(spaced), pa.array([_squash(x) for x in q.take(pa.array(at)).to_pylist()],
                                                               type=pa.string()))
    s_codes, s_uniq = pd.factorize(sources, use_na_sentinel=False)
    found = np.zeros(len(q), bool)
    order = np.argsort(s_codes, kind="stable")
    bounds = np.searchsorted(s_codes[order], np.arange(len(s_uniq) + 1))
    for j, sid in enumerate(s_uniq):
        rows = order[bounds[j]:bounds[j + 1]]
        text, mine = texts[sid], q.take(pa.array(rows))
        whole = np.asarray(pc.is_in(mine, value_set=_clauses(text).cast(pa.string())), bool)
        found[rows[whole]] = True
        rest = rows[~whole]
        if len(rest):
            r_codes, r_uniq = pd.factorize(np.asarray(q.take(pa.array(rest)).to_pylist(), dtype=object))
            found[rest] = _occur(list(r_uniq), text)[r_codes]
    return found


def _occur(patterns: list[str], text: str) -> np.ndarray:
    """Which of the distinct ``patterns`` occur in ``text``: one Aho–Corasick scan for all of them."""
    import ahocorasick
    hit = np.array([p == "" for p in patterns], bool)       # the empty string occurs everywhere
    automaton = ahocorasick.Automaton()
    for i, p in enumerate(patterns):
        if p:
            automaton.add_word(p, i)
    left = len(patterns) - int(hit.sum())
    if not left:
        return hit
    automaton.make_automaton()
    for _, i in automaton.iter(text):
        if not hit[i]:
            hit[i] = True
            left -= 1
            if not left:
                break
    return hit


#: dimensions of things counted or weighed, never negative
COUNTED = ("vehicles", "units", "units_sets", "enterprises", "items", "chains", "persons", "tonnes", "years")


def _may_have_control(col: pd.Series) -> bool:
    """False when no cell of the column can contain a control character (U+0000–U+001F, U+007F, which
    :data:`CONTROL` and :data:`CONTROL_IN_TEXT` look for): none of their bytes is anywhere in the
    column's Arrow data (in UTF-8 a byte below 0x80 is always that character, never part of another).
    One pass over the bytes, no strings built."""
    chunks = arrow_chunks(col)
    if chunks is None:
        return True
    for c in chunks:
        data = c.buffers()[2]
        if data is not None:
            b = np.frombuffer(data, np.uint8)
            if (b < 0x20).any() or (b == 0x7F).any():
                return True
    return False


def _control_characters(raw: pd.DataFrame, pr: _Problems) -> None:
    """No NUL or other control character in a cell (names become folder names, headings, PDF text)."""
    for col in [c for c in raw.columns if c not in ("file", "row")]:
        rx = CONTROL_IN_TEXT if col in ("quote", "note") else CONTROL
        if not _may_have_control(raw[col]):
            continue
        hit = raw[col].str.contains(rx.pattern, regex=True).to_numpy(bool)   # Arrow's RE2 on Arrow strings
        bad = {v for v in raw[col][hit].unique() if rx.search(v)} if hit.any() else set()
        if bad:
            pr.bad(raw[col].isin(bad), col, "text without control characters",
                   lambda r, c=col, x=rx: f"{x.search(r[c]).group()!r} in {_clip(r[c])}")


def _counts_and_future(raw: pd.DataFrame, pr: _Problems, value, dim: pd.Series, measure: pd.Series,
                       year: pd.Series) -> None:
    """Counts are not negative, ranks start at 1; an observed figure is not of a later year than this one."""
    import datetime
    with np.errstate(invalid="ignore"):
        pr.bad(dim.isin(COUNTED).to_numpy() & (value < 0), "value", "a count of at least 0 (firms, vehicles, items, …)",
               lambda r: repr(r["value"]))
        pr.bad((dim == "rank").to_numpy() & (value < 1), "value", "a rank of at least 1", lambda r: repr(r["value"]))
    this_year = datetime.date.today().year
    future = measure.notna() & ~measure.isin(["target", "projection", "plan"]) & (year > this_year)
    pr.bad(future, "year", f"a year up to {this_year} for an observed figure (a later year needs measure target, "
           "projection or plan)", lambda r: f"{r['year']} for measure {r['measure']!r}")


def _validate(raw: pd.DataFrame, catalog: Catalog, paths: list[Path], check_quotes: bool,
              regions: dict[str, dict] | None = None):
    """The observations frame of raw string rows, every problem found (column by column), and which
    sources' quotes were checked. A region written as an alias of a listed region becomes its name."""
    pr = _Problems(raw)
    for col in ("region", "source"):
        pr.bad(raw[col] == "", col, f"a {col}", _empty)
    for col in ("region", "entity"):  # names become folder names and headings: bounded (analysis.limits)
        pr.bad(raw[col].str.len() > MAX_NAME_CHARS, col, f"{col} names of at most {MAX_NAME_CHARS} characters",
               lambda r, c=col: f"{len(r[c])} characters")
    _control_characters(raw, pr)
    aliases = canonical_map(regions or {})
    region = _map_unique(raw["region"], lambda r: aliases.get(r, r)) if aliases else raw["region"]
    year, base_year = _years(raw, pr)
    indicator = _indicators(raw, pr, catalog)
    measure = _measures(raw, pr)
    value, half, step, text_qual, text_unit = _values(raw, pr)
    qualifier = _qualifiers(raw, pr, text_qual)
    unit_text, base_unit, factor, dim = _units(raw, pr, catalog, text_unit, indicator, measure)
    _counts_and_future(raw, pr, value, dim, measure, year)

    # counts of enterprises, projects, chains, ranks and years are exact integers, not rounded figures
    with np.errstate(invalid="ignore"):   # inf (a 400-digit value) is refused below
        exact_count = dim.isin(["enterprises", "items", "chains", "rank", "years"]).to_numpy() & (np.mod(value, 1) == 0)
    half = np.where(exact_count, 0.0, half)
    # into the base unit; growth stated as N倍 ("增长5.6倍") is N×100 % growth
    is_times = ((measure == "growth") & (dim == "multiple")).to_numpy()
    scale = factor.to_numpy() * np.where(is_times, 100.0, 1.0)
    stated = value
    with np.errstate(invalid="ignore", over="ignore"):
        value, half, step = value * scale, half * scale, step * scale
    value = _bounded_values(raw, pr, value, stated)
    base_unit = base_unit.where(~is_times, "%")

    pr.bad(raw["quote"] == "", "quote", "the verbatim quote stating the figure", _empty)
    ids = _ids(raw, pr)
    quotes = _sources_and_quotes(raw, pr, paths, check_quotes)

    out = pd.DataFrame({
        "id": ids, "region": region, "entity": raw["entity"],
        "year": year.astype("Int64"), "base_year": base_year.astype("Int64"),
        "indicator": indicator, "measure": measure, "value": value,
        "unit": base_unit, "qualifier": qualifier, "peer": raw["peer"], "source": raw["source"],
        "quote": raw["quote"], "note": raw["note"], "value_stated": raw["value"],
        "unit_stated": unit_text, "half_width": half, "round_step": step,
        "file": raw["file"], "row": raw["row"],
    })
    out["base_year"] = out["base_year"].where(
        out["base_year"].notna() | ~out["measure"].isin(["growth", "pp_change"]), out["year"] - 1)
    out["lower"], out["upper"] = bounds_of(out, catalog)
    usable = out["indicator"].notna() & out["measure"].notna() & out["year"].notna() & np.isfinite(out["value"])
    problems = pr.list + _check_duplicates(out[usable])
    problems.sort(key=lambda p: (p.file, p.row or 0))
    return out, problems, quotes


def bounds_of(out: pd.DataFrame, catalog: Catalog):
    """Bounds of a normalised frame, with the floor of each measure and the catalog's bands."""
    floor = _map_unique(out["measure"], lambda m: FLOORS.get(m, np.nan)).astype(float).fillna(-np.inf).to_numpy()
    return bounds_array(out["value"].to_numpy(float), out["qualifier"],
                        out["half_width"].to_numpy(float), out["round_step"].to_numpy(float), floor,
                        approx_band=float(catalog.settings.get("approx_band", 0.05)),
                        near_band=float(catalog.settings.get("near_band", 0.10)))


def bounds_array(value, qualifier, half, step, floor, *, approx_band=0.05, near_band=0.10):
    """Vectorised :func:`analysis.numbers.bounds` (``qualifier``: an array or a Series of canonical qualifiers)."""
    v = np.asarray(value, dtype=float)
    codes, uniq = pd.factorize(qualifier if isinstance(qualifier, pd.Series) else np.asarray(qualifier, dtype=object),
                               use_na_sentinel=False)
    uniq = np.asarray(uniq, dtype=object)

    def q_in(*names):   # which rows have one of these qualifiers (compared once per distinct qualifier)
        return np.isin(uniq, list(names))[codes] if len(uniq) else np.zeros(len(codes), bool)
    h = np.asarray(half, dtype=float)
    r = np.maximum(h, approx_band * np.abs(v))
    lo = np.select([q_in("exact"), q_in(">", "≥", "余"), q_in("<", "≤"), q_in("≈"), q_in("近")],
                   [v - h, v, np.full_like(v, -np.inf), v - r, v - near_band * np.abs(v)], np.nan)
    hi = np.select([q_in("exact"), q_in(">", "≥"), q_in("余"), q_in("<", "≤"), q_in("≈"), q_in("近")],
                   [v + h, np.full_like(v, np.inf), v + np.asarray(step, dtype=float), v, v + r, v], np.nan)
    # the floor (0 for levels, −100 % for growth) applies to figures above it; a negative level stays as stated
    return np.where(v >= floor, np.maximum(lo, floor), lo), hi


def _check_duplicates(out: pd.DataFrame) -> list[Problem]:
    """Same key twice is fine when the statements agree (bounds overlap); else a conflict."""
    code = np.zeros(len(out), np.int64)   # one code per distinct KEY (missing values equal), column by column
    for c in KEY:
        codes, uniq = pd.factorize(out[c], use_na_sentinel=False)
        code, _ = pd.factorize(code * (len(uniq) + 1) + codes)
    key = pd.Series(code, index=out.index)
    dup = key.duplicated(keep=False)
    problems = []
    if not dup.any():
        return problems
    sub = out[dup].assign(_k=key[dup])
    for _, g in sub.groupby("_k", sort=False):
        first = g.iloc[0]
        for _, r in g.iloc[1:].iterrows():
            if r["lower"] > first["upper"] or r["upper"] < first["lower"] or \
                    (r["lower"] == r["upper"] == first["lower"] == first["upper"] and r["value"] != first["value"]) or \
                    (r["qualifier"] == first["qualifier"] == "exact" and r["value"] != first["value"]):
                problems.append(Problem(r["file"], int(r["row"]), "value",
                                        f"the same figure as row {first['row']} (same region, year, indicator, measure)",
                                        f"{r['value_stated']} {r['unit_stated']} here and {first['value_stated']} {first['unit_stated']} there",
                                        "remove one of them or give them different entity/peer/base_year"))
    return problems


def check_selection(obs: pd.DataFrame, region: str | None, year: int | None, *, observed_only: bool = False,
                    labels: tuple[str, str] = ("--region", "--year")) -> None:
    """Unknown region or year → an AnalysisError (exit 1) listing what the data has.

    ``observed_only``: the year needs observed figures, not only targets or plans for it (a
    report of 2027 from a 2027 target has nothing to report).
    """
    from ..errors import AnalysisError
    from ..request import FUTURE_MEASURES
    if region is not None and not (obs["region"] == region).any():   # a comparison of the column, not a set of its rows
        listed = canonical_map(obs.attrs.get("regions") or {}).get(region)
        hint = f" ({region!r} is another name of {listed}: use that)" if listed in set(obs["region"]) else ""
        raise AnalysisError(f"{labels[0]}: expected one of the regions in the data "
                            f"({', '.join(sorted(set(obs['region'])))}), found {region!r}{hint}")
    if year is not None:
        rows = obs[obs["region"] == region] if region else obs
        if observed_only:
            rows = rows[~rows["measure"].isin(FUTURE_MEASURES)]
        years = sorted(set(rows["year"].astype(int)))
        if int(year) not in years:
            what = "observed data" if observed_only else "data"
            raise AnalysisError(f"{labels[1]}: expected a year with {what} for {region or 'any region'} "
                                f"({', '.join(map(str, years)) or 'none'}), found {year}")
