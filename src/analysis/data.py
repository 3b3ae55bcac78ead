"""Load and validate observation files (CSV in UTF-8/GBK/GB18030, or .xlsx).

``load_observations(paths)`` returns one tidy frame — a row per published figure, its value in
the base unit with ``lower``/``upper`` bounds from qualifier and rounding — or raises
:class:`DataError` listing *every* problem as ``file:row:column: expected …, found …``.
Validation is column-wise (unique values mapped once), so large panels load in seconds.
"""
from __future__ import annotations

import csv
import difflib
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from charset_normalizer import from_bytes

from . import paths as _paths
from .catalog import Catalog, load_catalog
from .errors import DataError, Problem
from .numbers import (QUALIFIERS, UNITS, NumberFormatError, canonical_qualifier,
                      normalize_text, parse_value)

REQUIRED = ["region", "year", "indicator", "measure", "value", "unit", "source", "quote"]
OPTIONAL = ["id", "entity", "base_year", "qualifier", "peer", "note"]
COLUMNS = REQUIRED + OPTIONAL

# Chinese headers analysts use in spreadsheets → column names.
HEADER_ALIASES = {
    "地区": "region", "区域": "region", "年份": "year", "年度": "year", "指标": "indicator",
    "度量": "measure", "口径": "measure", "类型": "measure", "数值": "value", "值": "value",
    "单位": "unit", "限定": "qualifier", "限定词": "qualifier", "来源": "source",
    "原文": "quote", "引文": "quote", "主体": "entity", "企业": "entity", "基期": "base_year",
    "比较范围": "peer", "备注": "note", "编号": "id",
}

#: measure → allowed unit dimensions (None: the indicator's own dimension)
MEASURES: dict[str, set[str] | None] = {
    "level": None, "target": None, "plan": None,
    "growth": {"percent", "multiple"}, "multiple": {"multiple"}, "share": {"percent"},
    "rank": {"rank"}, "growth_rank": {"rank"}, "streak": {"years"}, "cagr": {"percent"},
    "pp_change": {"pp"},
}
MEASURE_ALIASES = {
    "水平": "level", "总量": "level", "规模": "level", "增长": "growth", "增速": "growth",
    "增长率": "growth", "倍数": "multiple", "占比": "share", "比重": "share", "排名": "rank",
    "位次": "rank", "增速排名": "growth_rank", "连续": "streak", "目标": "target",
    "计划": "plan", "复合增长率": "cagr", "百分点变化": "pp_change",
}
#: smallest meaningful value per measure (bounds are clipped to it)
FLOORS = {"level": 0.0, "target": 0.0, "plan": 0.0, "share": 0.0, "multiple": 0.0,
          "growth": -100.0, "cagr": -100.0, "rank": 1.0, "growth_rank": 1.0, "streak": 0.0,
          "pp_change": -np.inf}
KEY = ["region", "entity", "year", "base_year", "indicator", "measure", "peer"]
ACCEPTED_ENCODINGS = "UTF-8 (with or without BOM), GBK or GB18030"


def default_data_path() -> Path:
    return _paths.data_path()


@dataclass
class ReadResult:
    frame: pd.DataFrame | None
    encoding: str
    problems: list[Problem] = field(default_factory=list)


def _short(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def _decode(raw: bytes, name: str) -> tuple[str | None, str, list[Problem]]:
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        kind = "an .xlsx/.zip workbook" if raw.startswith(b"PK") else "binary content"
        return None, "", [Problem(name, None, None, f"a CSV text file in {ACCEPTED_ENCODINGS}",
                                  kind, "save it as CSV, or give the workbook an .xlsx name")]
    try:
        return raw.decode("utf-8-sig"), "UTF-8-BOM" if raw.startswith(b"\xef\xbb\xbf") else "UTF-8", []
    except UnicodeDecodeError as exc:
        utf8_error = exc
    best = from_bytes(raw).best()
    guess = best.encoding if best is not None else None
    # Chinese Excel saves GBK; GB18030 is its superset, so decode every GB-family guess with it.
    if guess and guess.replace("_", "").lower() in {"gb2312", "gbk", "gb18030", "hz", "cp936"}:
        try:
            return raw.decode("gb18030"), "GB18030" if guess.lower() == "gb18030" else "GBK", []
        except UnicodeDecodeError:
            pass
    found = f"bytes that are not valid UTF-8 (byte 0x{raw[utf8_error.start]:02x} at offset {utf8_error.start})"
    if guess:
        found += f" and look like {guess}"
    return None, "", [Problem(name, None, None, f"text in {ACCEPTED_ENCODINGS}", found,
                              "re-save the file as UTF-8 or GBK CSV")]


def _read_csv(path: Path) -> ReadResult:
    name = _short(path)
    raw = path.read_bytes()
    if not raw.strip():
        return ReadResult(None, "", [Problem(name, None, None, "a header row with columns " + ", ".join(REQUIRED), "an empty file")])
    text, encoding, problems = _decode(raw, name)
    if text is None:
        return ReadResult(None, "", problems)
    lines = text.splitlines()
    header_line = next((ln for ln in lines if ln.strip()), "")
    if "," not in header_line:
        for delim, label in ((";", "';'"), ("\t", "tabs"), ("|", "'|'"), ("，", "full-width '，'")):
            if delim in header_line:
                return ReadResult(None, encoding, [Problem(name, 1, None, "comma-separated columns", f"columns separated by {label}", "export the sheet as CSV (comma delimited)")])
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as exc:
        return ReadResult(None, encoding, [Problem(name, None, None, "well-formed CSV", str(exc))])
    rows_numbered = [(i + 1, r) for i, r in enumerate(rows)]
    header = rows_numbered[0][1]
    body = [(n, r) for n, r in rows_numbered[1:] if any(c.strip() for c in r)]
    width = len(header)
    problems = []
    good = []
    for n, r in body:
        if len(r) != width:
            problems.append(Problem(name, n, None, f"{width} fields like the header", f"{len(r)} fields", "check for an unquoted comma"))
        else:
            good.append((n, r))
    frame = pd.DataFrame([r for _, r in good], columns=header, dtype=object)
    frame.index = [n for n, _ in good]
    return ReadResult(frame, encoding, problems)


def _read_xlsx(path: Path) -> ReadResult:
    name = _short(path)
    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=str, engine="openpyxl", header=0)
    except Exception as exc:  # openpyxl raises many types (zipfile.BadZipFile, KeyError, ...) for broken files
        return ReadResult(None, "", [Problem(name, None, None, "an Excel .xlsx workbook", f"a file that cannot be read ({type(exc).__name__}: {exc})")])
    frame = frame.dropna(how="all")
    frame.index = frame.index + 2  # spreadsheet rows: header is row 1
    frame = frame.astype(object).where(frame.notna(), "")
    return ReadResult(frame, "xlsx", [])


def read_table(path: str | os.PathLike) -> ReadResult:
    """Read one observations file into a frame of strings indexed by spreadsheet row."""
    p = Path(path)
    if not p.is_file():
        return ReadResult(None, "", [Problem(_short(p), None, None, "an observations file (.csv or .xlsx)", "no such file")])
    if p.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(p)
    return _read_csv(p)


def _normalise_header(frame: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[Problem]]:
    problems = []
    renamed = {}
    for col in frame.columns:
        key = normalize_text(str(col)).lower().lstrip("\ufeff")
        key = HEADER_ALIASES.get(key, key)
        if key not in COLUMNS:
            near = difflib.get_close_matches(key, COLUMNS, n=1)
            problems.append(Problem(name, 1, str(col), "a known column (" + ", ".join(COLUMNS) + ")",
                                    f"unknown column {str(col)!r}", f"did you mean {near[0]!r}?" if near else ""))
        renamed[col] = key
    frame = frame.rename(columns=renamed)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        problems.append(Problem(name, 1, None, "columns " + ", ".join(REQUIRED),
                                "a header without " + ", ".join(missing)))
    return frame, problems


def load_sources(paths: list[Path]) -> pd.DataFrame:
    """The sources registries beside the data files, plus the project's own."""
    frames = []
    seen = set()
    for base in [*(p.parent for p in paths), *_paths.default_data_dirs()]:
        f = (base / "sources.csv").resolve()
        if f in seen or not f.is_file():
            continue
        seen.add(f)
        s = pd.read_csv(f, dtype=str, keep_default_na=False)
        s["registry"] = str(f)
        frames.append(s)
    if not frames:
        return pd.DataFrame(columns=["id", "title", "file", "sha256", "registry"])
    return pd.concat(frames, ignore_index=True).drop_duplicates("id")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def load_observations(paths: str | os.PathLike | list | None = None, *,
                      catalog: Catalog | None = None, check_quotes: bool = True) -> pd.DataFrame:
    """Load, normalise and validate observation files.

    Args:
        paths: one path or a list (default: the project's ``data/observations.csv``).
        catalog: indicator catalog (default: the project's ``data/catalog.yaml``).
        check_quotes: verify each quote occurs in the source's snapshot, when it has one.

    Returns:
        Frame with columns id, region, entity, year, base_year, indicator, measure, value,
        lower, upper, unit (base unit), qualifier (canonical), peer, source, quote, note,
        value_stated, unit_stated, half_width, file, row. ``attrs['encodings']`` maps file → encoding.

    Raises:
        DataError: with every problem found in every file.
    """
    if paths is None:
        paths = [default_data_path()]
    elif isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    catalog = catalog or load_catalog()
    problems: list[Problem] = []
    parts = []
    encodings = {}
    for p in paths:
        res = read_table(p)
        problems += res.problems
        if res.frame is None:
            continue
        name = _short(p)
        encodings[name] = res.encoding
        frame, hp = _normalise_header(res.frame, name)
        problems += hp
        if any(pr.column is None and pr.row == 1 for pr in hp):
            continue
        if frame.empty:
            if not res.problems:
                problems.append(Problem(name, None, None, "at least one observation row", "only the header"))
            continue
        for c in OPTIONAL:
            if c not in frame.columns:
                frame[c] = ""
        frame = frame[COLUMNS].copy()
        frame["file"] = name
        frame["row"] = frame.index.astype(int)
        parts.append(frame)
    if not parts:
        raise DataError(problems or [Problem(", ".join(map(str, paths)), None, None, "observations", "none")])
    raw = pd.concat(parts, ignore_index=True)
    for c in COLUMNS:
        raw[c] = raw[c].fillna("").astype(str).str.strip()
    out, vp = _validate(raw, catalog, paths, check_quotes)
    problems += vp
    if problems:
        raise DataError(problems)
    out.attrs["encodings"] = encodings
    out.attrs["regions"] = load_regions(paths)
    return out


def load_regions(paths: list[Path]) -> dict[str, dict]:
    """Parent regions from ``regions.csv`` files beside the data (region,parent)."""
    found: dict[str, dict] = {}
    for base in {p.parent for p in paths}:
        f = base / "regions.csv"
        if f.is_file():
            r = pd.read_csv(f, dtype=str, keep_default_na=False)
            if {"region", "parent"} <= set(r.columns):
                found.update({a: {"parent": b} for a, b in zip(r["region"], r["parent"]) if b})
    return found


def _validate(raw: pd.DataFrame, catalog: Catalog, paths: list[Path], check_quotes: bool):
    problems: list[Problem] = []

    def bad(mask, column, expected, found_fn, hint_fn=None):
        for i in np.flatnonzero(np.asarray(mask)):
            r = raw.iloc[i]
            problems.append(Problem(r["file"], int(r["row"]), column, expected, found_fn(r),
                                    hint_fn(r) if hint_fn else ""))

    empty = lambda r, c=None: "an empty cell"  # noqa: E731
    for col in ("region", "source"):
        bad(raw[col] == "", col, f"a {col}", empty)

    # year and base_year: integers (accept 2024年, full-width digits)
    def to_year(s: pd.Series) -> pd.Series:
        cleaned = s.map(lambda x: normalize_text(x).removesuffix("年").removesuffix(".0"))
        return pd.to_numeric(cleaned.where(cleaned.str.fullmatch(r"\d{4}"), None), errors="coerce")
    year = to_year(raw["year"])
    bad(year.isna() | (year < 1900) | (year > 2100), "year", "a four-digit year (e.g. 2024)",
        lambda r: repr(r["year"]) if r["year"] else "an empty cell")
    base_year = to_year(raw["base_year"])
    bad((raw["base_year"] != "") & base_year.isna(), "base_year", "a four-digit year or an empty cell",
        lambda r: repr(r["base_year"]))
    bad(base_year.notna() & year.notna() & (base_year >= year), "base_year", "a year before the figure's year",
        lambda r: f"{r['base_year']} for year {r['year']}")

    # indicator: code, 中文名 or alias
    uniq = {v: catalog.resolve(v) for v in raw["indicator"].unique()}
    indicator = raw["indicator"].map(uniq)
    bad(indicator.isna(), "indicator", "an indicator code, 中文名 or alias from the catalog",
        lambda r: repr(r["indicator"]) if r["indicator"] else "an empty cell",
        lambda r: ("did you mean " + " or ".join(catalog.suggest(r["indicator"])) + "?") if catalog.suggest(r["indicator"]) else f"add it to {catalog.path.name}")

    # measure
    def to_measure(m: str):
        k = normalize_text(m).lower()
        k = MEASURE_ALIASES.get(k, k)
        return k if k in MEASURES else None
    measure = raw["measure"].map({m: to_measure(m) for m in raw["measure"].unique()})
    bad(measure.isna(), "measure", "one of " + ", ".join(MEASURES),
        lambda r: repr(r["measure"]) if r["measure"] else "an empty cell")

    # value: plain numbers vectorised, the rest through the Chinese number parser
    plain = pd.to_numeric(raw["value"].where(raw["value"].str.fullmatch(r"-?\d+(\.\d+)?")), errors="coerce")
    value = plain.astype(float).to_numpy(copy=True)
    decimals = raw["value"].str.extract(r"\.(\d+)$")[0].str.len().fillna(0).to_numpy()
    half = np.where(plain.notna(), 0.5 * 10.0 ** -decimals, np.nan)
    int_part = raw["value"].str.extract(r"^-?(\d+)")[0].fillna("")
    trailing = (int_part.str.len() - int_part.str.rstrip("0").str.len()).to_numpy()
    step = np.where(decimals > 0, 10.0 ** -decimals, 10.0 ** trailing)
    text_qual = np.full(len(raw), None, dtype=object)
    text_unit = np.full(len(raw), None, dtype=object)
    for i in np.flatnonzero(plain.isna().to_numpy()):
        cell = raw["value"].iat[i]
        try:
            pn = parse_value(cell)
        except NumberFormatError as exc:
            r = raw.iloc[i]
            problems.append(Problem(r["file"], int(r["row"]), "value",
                                    "a number (e.g. 4000, 4,000, 1.2万, 20%, 5.6倍, 超4000)", str(exc)))
            continue
        value[i], half[i], step[i] = pn.value, pn.half_width, pn.round_step
        text_qual[i], text_unit[i] = pn.qualifier, pn.unit

    # qualifier: column, or word carried in the value text
    qual_col = raw["qualifier"].map({q: canonical_qualifier(q) for q in raw["qualifier"].unique()})
    bad(qual_col.isna(), "qualifier", "one of " + ", ".join(QUALIFIERS) + " or a word such as 超/近/约/余",
        lambda r: repr(r["qualifier"]))
    tq = pd.Series(text_qual, index=raw.index)
    clash = tq.notna() & qual_col.notna() & (qual_col != "exact") & (qual_col != tq)
    bad(clash, "qualifier", "the same qualifier as the value text",
        lambda r: f"{r['qualifier']!r} but the value says {r['value']!r}")
    qualifier = qual_col.where(~(tq.notna() & (qual_col == "exact")), tq)

    # unit: known, compatible with the value text and the measure/indicator
    unit_text = raw["unit"].where(raw["unit"] != "", pd.Series(text_unit, index=raw.index).fillna(""))
    uinfo = {u: UNITS.get(normalize_text(u)) for u in unit_text.unique()}
    base_unit = unit_text.map(lambda u: uinfo[u][0] if uinfo[u] else None)
    factor = unit_text.map(lambda u: uinfo[u][1] if uinfo[u] else np.nan).astype(float)
    dim = unit_text.map(lambda u: uinfo[u][2] if uinfo[u] else None)
    bad(base_unit.isna(), "unit", "a known unit (" + ", ".join(list(UNITS)[:12]) + ", …)",
        lambda r: repr(r["unit"]) if r["unit"] else "an empty cell",
        lambda r: (f"did you mean {difflib.get_close_matches(normalize_text(r['unit']), list(UNITS), n=1)[0]!r}?"
                   if difflib.get_close_matches(normalize_text(r["unit"]), list(UNITS), n=1) else "units are listed in the README"))
    tu = pd.Series(text_unit, index=raw.index)
    tu_dim = tu.map(lambda u: UNITS[u][2] if isinstance(u, str) else None)
    bad(tu.notna() & dim.notna() & (tu_dim != dim) & (raw["unit"] != ""), "unit",
        "a unit matching the value text", lambda r: f"{r['unit']!r} for value {r['value']!r}")
    ind_dim = indicator.map(lambda c: catalog[c].dimension if isinstance(c, str) else None)
    allowed = measure.map(lambda m: MEASURES.get(m) if isinstance(m, str) else None)
    def _na(x):
        return x is None or (isinstance(x, float) and np.isnan(x))
    ok_dim = [
        _na(d) or _na(m) or (_na(ad) and (_na(idim) or d == idim)) or (not _na(ad) and d in ad)
        for d, m, ad, idim in zip(dim, measure, allowed, ind_dim)
    ]
    for i in np.flatnonzero(~np.asarray(ok_dim)):
        r = raw.iloc[i]
        m = measure.iat[i]
        if MEASURES[m] is None:
            exp = f"a unit like {catalog[indicator.iat[i]].unit} for a {m} of {catalog[indicator.iat[i]].zh}"
        else:
            exp = f"a unit of a {m} (" + "/".join(sorted({u for u, (_, _, d) in UNITS.items() if d in MEASURES[m]})) + ")"
        problems.append(Problem(r["file"], int(r["row"]), "unit", exp, repr(unit_text.iat[i])))

    # counts of enterprises, projects, chains, ranks and years are exact integers, not rounded figures
    exact_count = dim.isin(["enterprises", "items", "chains", "rank", "years"]).to_numpy() & (np.mod(value, 1) == 0)
    half = np.where(exact_count, 0.0, half)

    # growth stated as N倍 ("增长5.6倍") is N×100 % growth
    is_times = (measure == "growth") & (dim == "multiple")
    value = value * factor.to_numpy()
    half = half * factor.to_numpy()
    step = step * factor.to_numpy()
    value = np.where(is_times, value * 100.0, value)
    half = np.where(is_times, half * 100.0, half)
    step = np.where(is_times, step * 100.0, step)
    base_unit = base_unit.where(~is_times, "%")

    bad(raw["quote"] == "", "quote", "the verbatim quote stating the figure", empty)

    # ids
    ids = raw["id"].where(raw["id"] != "", raw["file"].map(lambda f: Path(f).stem) + ":" + raw["row"].astype(str))
    dup_id = ids.duplicated(keep="first")
    first_row = {}
    for i, v in enumerate(ids):
        first_row.setdefault(v, raw["row"].iat[i])
    bad(dup_id, "id", "a unique id", lambda r: f"{r['id']!r} again (first at row {first_row[r['id']]})")

    # sources and quotes
    sources = load_sources(paths)
    known = set(sources["id"])
    bad((raw["source"] != "") & ~raw["source"].isin(known), "source",
        "a source id listed in sources.csv beside the data file (" + ", ".join(sorted(known)) + ")",
        lambda r: repr(r["source"]))
    if check_quotes:
        texts = {}
        for _, s in sources.iterrows():
            f = s.get("file", "")
            if not f:
                continue
            fp = Path(s["registry"]).parent / f
            if fp.is_file():
                data = fp.read_bytes()
                if s.get("sha256") and hashlib.sha256(data).hexdigest() != s["sha256"]:
                    problems.append(Problem(_short(fp), None, None, f"sha256 {s['sha256'][:12]}… as recorded in sources.csv",
                                            f"{hashlib.sha256(data).hexdigest()[:12]}… (the snapshot was changed)"))
                texts[s["id"]] = _squash(data.decode("utf-8", errors="replace"))
        has_text = raw["source"].isin(list(texts))
        missing_quote = [has_text.iat[i] and raw["quote"].iat[i] != "" and _squash(raw["quote"].iat[i]) not in texts[raw["source"].iat[i]]
                         for i in range(len(raw))]
        bad(missing_quote, "quote", "a quote that occurs verbatim in the source text",
            lambda r: repr(r["quote"][:40]), lambda r: "copy the clause from the source; whitespace and line breaks are ignored")

    out = pd.DataFrame({
        "id": ids, "region": raw["region"], "entity": raw["entity"],
        "year": year.astype("Int64"), "base_year": base_year.astype("Int64"),
        "indicator": indicator, "measure": measure, "value": value,
        "unit": base_unit, "qualifier": qualifier, "peer": raw["peer"], "source": raw["source"],
        "quote": raw["quote"], "note": raw["note"], "value_stated": raw["value"],
        "unit_stated": unit_text, "half_width": half, "round_step": step,
        "file": raw["file"], "row": raw["row"],
    })
    out["base_year"] = out["base_year"].where(
        out["base_year"].notna() | ~out["measure"].isin(["growth", "pp_change"]), out["year"] - 1)
    settings = catalog.settings
    floor = out["measure"].map(FLOORS).astype(float).fillna(-np.inf).to_numpy()
    out["lower"], out["upper"] = bounds_array(
        out["value"].to_numpy(), out["qualifier"].to_numpy(), out["half_width"].to_numpy(),
        out["round_step"].to_numpy(), floor,
        approx_band=float(settings.get("approx_band", 0.05)), near_band=float(settings.get("near_band", 0.10)))
    usable = out["indicator"].notna() & out["measure"].notna() & out["year"].notna() & np.isfinite(out["value"])
    problems += _check_duplicates(out[usable])
    problems.sort(key=lambda p: (p.file, p.row or 0))
    return out, problems


def bounds_array(value, qualifier, half, step, floor, *, approx_band=0.05, near_band=0.10):
    """Vectorised :func:`analysis.numbers.bounds`."""
    v = np.asarray(value, dtype=float)
    q = np.asarray(qualifier, dtype=object)
    h = np.asarray(half, dtype=float)
    r = np.maximum(h, approx_band * np.abs(v))
    lo = np.select([q == "exact", np.isin(q, [">", "≥", "余"]), np.isin(q, ["<", "≤"]), q == "≈", q == "近"],
                   [v - h, v, np.full_like(v, -np.inf), v - r, v - near_band * np.abs(v)], np.nan)
    hi = np.select([q == "exact", np.isin(q, [">", "≥"]), q == "余", np.isin(q, ["<", "≤"]), q == "≈", q == "近"],
                   [v + h, np.full_like(v, np.inf), v + np.asarray(step, dtype=float), v, v + r, v], np.nan)
    # the floor (0 for levels, −100 % for growth) applies to figures above it; a negative level stays as stated
    return np.where(v >= floor, np.maximum(lo, floor), lo), hi


def _check_duplicates(out: pd.DataFrame) -> list[Problem]:
    """Same key twice is fine when the statements agree (bounds overlap); else a conflict."""
    key = out.groupby(KEY, dropna=False, sort=False).ngroup()
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


def summarize(obs: pd.DataFrame, catalog: Catalog | None = None, paths: list[Path] | None = None) -> str:
    """A one-screen summary of a valid observations frame."""
    catalog = catalog or load_catalog()
    def counts(s: pd.Series, limit=8):
        vc = s.value_counts()
        items = [f"{k} ({v})" for k, v in vc.head(limit).items()]
        if len(vc) > limit:
            items.append(f"… {len(vc) - limit} more")
        return ", ".join(items)
    lines = [f"{len(obs)} observations — valid",
             f"  regions     {counts(obs['region'])}",
             f"  years       {counts(obs['year'].astype(str))}",
             f"  indicators  {obs['indicator'].nunique()} of {len(catalog.indicators)} in the catalog",
             f"  measures    {counts(obs['measure'], 12)}",
             f"  qualifiers  {counts(obs['qualifier'])}"]
    ents = obs.loc[obs["entity"] != "", "entity"]
    if len(ents):
        lines.append(f"  entities    {ents.nunique()} firms, plants or projects ({len(ents)} figures)")
    srcs = load_sources(list(paths or []))
    titles = dict(zip(srcs["id"], srcs["title"]))
    for sid, n in obs["source"].value_counts().items():
        title = titles.get(sid, "")
        title = (title[:28] + "…") if len(title) > 28 else title
        lines.append(f"  source      {sid} {title} — {n} figures, quotes checked")
    return "\n".join(lines)


def make_observations(frame: pd.DataFrame, *, catalog: Catalog | None = None) -> pd.DataFrame:
    """Build a normalised observations frame from numbers already in base units (no parsing).

    For programs that produce data (synthetic panels, other pipelines): ``frame`` needs region,
    year, indicator, measure, value, unit; entity, base_year, qualifier (default exact),
    half_width (default 0), round_step, peer, source, quote and id are filled when absent.
    Bounds are computed as :func:`load_observations` computes them.
    """
    catalog = catalog or load_catalog()
    n = len(frame)
    out = pd.DataFrame(index=range(n))
    defaults = {"entity": "", "peer": "", "source": "", "quote": "", "note": "", "qualifier": "exact",
                "half_width": 0.0, "round_step": 1.0}
    for c in ["region", "year", "indicator", "measure", "value", "unit"]:
        out[c] = frame[c].to_numpy()
    for c, d in defaults.items():
        out[c] = frame[c].to_numpy() if c in frame else d
    out["id"] = frame["id"].to_numpy() if "id" in frame else ("o" + pd.RangeIndex(n).astype(str)).to_numpy()
    out["year"] = out["year"].astype("int64")
    by = frame["base_year"].to_numpy() if "base_year" in frame else np.full(n, np.nan)
    out["base_year"] = pd.array(np.where(np.isnan(by.astype(float)) & np.isin(out["measure"], ["growth", "pp_change"]),
                                         out["year"] - 1, by), dtype="Int64")
    out["value_stated"] = ""
    out["unit_stated"] = out["unit"]
    out["file"] = "<frame>"
    out["row"] = np.arange(n) + 2
    floor = out["measure"].map(FLOORS).astype(float).fillna(-np.inf).to_numpy()
    out["lower"], out["upper"] = bounds_array(
        out["value"].to_numpy(float), out["qualifier"].to_numpy(object), out["half_width"].to_numpy(float),
        out["round_step"].to_numpy(float), floor,
        approx_band=float(catalog.settings.get("approx_band", 0.05)),
        near_band=float(catalog.settings.get("near_band", 0.10)))
    return out


def check_selection(obs: pd.DataFrame, region: str | None, year: int | None, *, observed_only: bool = False,
                    labels: tuple[str, str] = ("--region", "--year")) -> None:
    """Unknown region or year → an AnalysisError (exit 1) listing what the data has.

    ``observed_only``: the year needs observed figures, not only targets or plans for it (a
    report of 2027 from a 2027 target has nothing to report).
    """
    from .errors import AnalysisError
    from .request import FUTURE_MEASURES
    if region is not None and region not in set(obs["region"]):
        raise AnalysisError(f"{labels[0]}: expected one of the regions in the data "
                            f"({', '.join(sorted(set(obs['region'])))}), found {region!r}")
    if year is not None:
        rows = obs[obs["region"] == region] if region else obs
        if observed_only:
            rows = rows[~rows["measure"].isin(FUTURE_MEASURES)]
        years = sorted(set(rows["year"].astype(int)))
        if int(year) not in years:
            what = "observed data" if observed_only else "data"
            raise AnalysisError(f"{labels[1]}: expected a year with {what} for {region or 'any region'} "
                                f"({', '.join(map(str, years)) or 'none'}), found {year}")
