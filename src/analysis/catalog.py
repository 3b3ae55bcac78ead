"""The indicator and metric catalog (``data/catalog.yaml``).

One file declares every indicator (code, 中文名, English name, unit, aliases, definition, scope) and
every derived metric; the scopes indicators cover and how they nest (规上工业 within 全部工业 within
the whole economy); named peer sets (重庆市区县: the regions under 重庆市); code, notebooks and docs
read it from here.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any


from . import paths
from .errors import CatalogError
from .numbers import normalize_text, unit_info

def default_catalog_path() -> Path:
    return paths.catalog_path()


@dataclass(frozen=True)
class Indicator:
    code: str
    zh: str
    en: str
    unit: str
    dimension: str
    aliases: tuple[str, ...] = ()
    definition: str = ""
    scope: str = ""
    growth_basis: str = ""   # "comparable": official growth at comparable prices (value added)
    rank_first: str = "highest"   # which end of a ranking comes first: "highest" (output) or "lowest" (energy use)


@dataclass(frozen=True)
class Scope:
    """What an indicator covers (全部工业, 规模以上工业, …) and the broader scope it lies within."""

    code: str
    zh: str
    en: str
    within: str = ""


@dataclass
class Catalog:
    path: Path
    indicators: dict[str, Indicator]
    metrics: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    regions: dict[str, dict] = field(default_factory=dict)   # fallback below regions.csv (analysis.data.regions)
    report: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)   # region, peer set, entity → English name
    scopes: dict[str, Scope] = field(default_factory=dict)
    peer_sets: dict[str, dict] = field(default_factory=dict)   # name → {parent[, levels]} or {members}

    def __post_init__(self) -> None:
        self._lookup: dict[str, str] = {}
        for ind in self.indicators.values():
            for name in (ind.code, ind.zh, *ind.aliases):
                self._lookup[_key(name)] = ind.code

    def resolve(self, name: str) -> str | None:
        """Indicator code for a code, 中文名 or alias (case, width and spaces ignored)."""
        return self._lookup.get(_key(name))

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """Nearest indicator names, for 'did you mean' hints."""
        names = {}
        for ind in self.indicators.values():
            for alias in (ind.code, ind.zh, *ind.aliases):
                names[_key(alias)] = f"{ind.code} ({ind.zh})"
        hits = difflib.get_close_matches(_key(name), list(names), n=n * 2, cutoff=0.4)
        out: list[str] = []
        for h in hits:
            if names[h] not in out:
                out.append(names[h])
        return out[:n]

    def __getitem__(self, code: str) -> Indicator:
        return self.indicators[code]

    def scope_chain(self, scope: str) -> list[str]:
        """A scope and every scope it lies within, narrowest first (规上 → 全部工业 → 第二产业 → 全部经济)."""
        chain = []
        while scope and scope not in chain:
            chain.append(scope)
            scope = self.scopes[scope].within if scope in self.scopes else ""
        return chain

    def scope_within(self, inner: str, outer: str) -> bool:
        """Whether scope ``inner`` lies within ``outer`` (a scope lies within itself)."""
        return bool(inner) and outer in self.scope_chain(inner)

    def scope_name(self, scope: str, lang: str) -> str:
        """A scope as readers call it (规模以上工业 / industry above designated size); the code when undeclared."""
        s = self.scopes.get(scope)
        return getattr(s, lang) if s is not None else scope

    def display(self, text: str, lang: str, regions: dict | None = None) -> str:
        """A region, peer set or entity as a reader of ``lang`` reads it: Chinese as written; English
        from the catalog's ``names``, a ``regions.csv`` ``en`` column, else Hanyu Pinyin (pypinyin)."""
        if lang == "zh" or not text or not any("\u4e00" <= ch <= "\u9fff" for ch in text):
            return text
        known = self.names.get(text) or ((regions or {}).get(text) or {}).get("en") or \
            ((self.regions or {}).get(text) or {}).get("en")
        return known or _pinyin(text)

    def name(self, code: str, lang: str = "zh") -> str:
        ind = self.indicators.get(code)
        if ind is None:
            return code
        return getattr(ind, lang)   # the catalog holds a name per language (zh, en)


def _key(name: str) -> str:
    return normalize_text(name).lower()


def _pinyin(text: str) -> str:
    """Hanyu Pinyin for a name the catalog does not translate: syllables in words of two, each
    capitalised (北斗智联 → Beidou Zhilian); letters, digits and signs kept as written."""
    from pypinyin import Style, lazy_pinyin
    words: list[str] = []
    run: list[str] = []

    def flush():
        for i in range(0, len(run), 2):
            pair = run[i:i + 2]
            words.append((pair[0] + ("'" if len(pair) > 1 and pair[1][0] in "aoe" else "") + "".join(pair[1:]))
                         .capitalize())
        run.clear()
    for piece in lazy_pinyin(text, style=Style.NORMAL, errors=lambda chars: [chars]):
        if piece.isascii() and piece.isalpha() and piece.islower():
            run.append(piece)
        else:
            flush()
            words.append(piece.strip())
    flush()
    return " ".join(w for w in words if w).replace("( ", "(").replace(" )", ")")


@lru_cache(maxsize=1)
def _validator():
    from . import schema
    return schema.validator(SCHEMA)


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> Catalog:
    return _parse(Path(path))


def load_catalog(path: str | os.PathLike | None = None) -> Catalog:
    """Read and check a catalog file (default: the project's ``data/catalog.yaml``).

    Raises:
        CatalogError: naming the file and the key that is wrong.
    """
    p = Path(path) if path else default_catalog_path()
    if not p.is_file():
        found = "a folder" if p.is_dir() else "no regular file (a FIFO or device)" if p.exists() else "no such file"
        raise CatalogError(f"{p}: expected a catalog YAML file, found {found}")
    return _load_cached(str(p.resolve()), p.stat().st_mtime)


_TEXT = {"type": "string", "minLength": 1, "description": "a text"}
_INDICATOR = {
    "type": "object", "description": "a mapping with zh, en and unit",
    "required": ["zh", "en", "unit"],
    "properties": {"zh": _TEXT, "en": _TEXT, "unit": {**_TEXT, "description": "a unit such as 亿元, 家 or %"},
                   "aliases": {"type": "array", "description": "a list of names",
                               "items": {"type": ["string", "number"], "description": "a name"}},
                   "definition": {"type": "string", "description": "a text"},
                   "scope": {"type": "string", "description": "a scope name (e.g. above_designated_size)"},
                   "growth_basis": {"enum": ["", "comparable"], "description": "comparable or nothing"},
                   "rank_first": {"enum": ["highest", "lowest"],
                                  "description": "highest or lowest (which end of a ranking comes first)"}},
    "additionalProperties": False,
}
_FRACTION = {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "description": "a fraction between 0 and 1"}
#: the shape of a catalog file (JSON Schema 2020-12); what each metric kind needs is checked by
#: :func:`analysis.metrics.check_definitions`
SCHEMA = {
    "type": "object", "description": "a mapping with an 'indicators' mapping",
    "required": ["indicators"],
    "properties": {
        "settings": {"type": "object", "description": "a mapping of settings",
                     "properties": {"approx_band": _FRACTION, "near_band": _FRACTION}, "additionalProperties": False},
        "indicators": {"type": "object", "description": "a mapping of indicator codes", "minProperties": 1,
                       "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                                         "description": "an indicator code (letters, digits, _)"},
                       "additionalProperties": _INDICATOR},
        "metrics": {"type": "array", "description": "a list of metric definitions",
                    "items": {"type": "object", "description": "a mapping with code and kind", "required": ["code", "kind"],
                              "properties": {"code": _TEXT, "kind": _TEXT, "zh": _TEXT, "en": _TEXT,
                                             **{k: {**_TEXT, "description": "an indicator code"}
                                                for k in ("part", "whole", "numerator", "denominator", "ratio",
                                                          "target", "reconciles")},
                                             "level": {"type": ["string", "array"], "items": _TEXT,
                                                       "description": "an indicator code or a list of them"},
                                             "measures": {"type": "array", "items": _TEXT,
                                                          "description": "a list of measures (level, growth, share)"},
                                             "scale": {"type": "number", "exclusiveMinimum": 0,
                                                       "description": "a positive number (100 for percent)"},
                                             "unit": {"type": "string", "description": "a unit such as %"}}}},
        "regions": {"type": "object", "description": "a mapping of region names (a fallback below regions.csv)",
                    "additionalProperties": {
                        "type": "object", "description": "a mapping with parent, level, en and aliases",
                        "properties": {"parent": {"type": "string", "description": "a region name or nothing"},
                                       "level": _TEXT, "en": _TEXT,
                                       "aliases": {"type": "array", "description": "a list of names", "items": _TEXT}},
                        "additionalProperties": False}},
        "scopes": {"type": "object", "description": "a mapping of scope codes",
                   "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                                     "description": "a scope code (letters, digits, _)"},
                   "additionalProperties": {
                       "type": "object", "description": "a mapping with zh, en and within", "required": ["zh", "en"],
                       "properties": {"zh": _TEXT, "en": _TEXT,
                                      "within": {**_TEXT, "description": "the code of the broader scope it lies within"}},
                       "additionalProperties": False}},
        "peer_sets": {"type": "object", "description": "a mapping of peer-set names",
                      "additionalProperties": {
                          "type": "object",
                          "description": "a mapping with either parent (its regions are the peers; levels: only those "
                                         "levels) or members (a list of regions)",
                          "properties": {"parent": _TEXT,
                                         "levels": {"type": "array", "description": "a list of levels (区, 县, …)",
                                                    "items": _TEXT, "minItems": 1},
                                         "members": {"type": "array", "description": "a list of region names",
                                                     "items": _TEXT, "minItems": 1}},
                          "additionalProperties": False,
                          "oneOf": [{"required": ["parent"]}, {"required": ["members"]}]}},
        "names": {"type": "object", "description": "a mapping of Chinese names to English names",
                  "additionalProperties": _TEXT},
        "report": {"type": "object", "description": "a mapping of report settings",
                   "properties": {**{k: {"type": "array", "description": "a list of indicator codes", "items": _TEXT}
                                     for k in ("headline", "innovation", "comparison")},
                                  "credit": {"type": "string", "description": "an organisation credited under charts"}}},
    },
    "additionalProperties": False,
}


def _scope_problems(cat: Catalog) -> list[str]:
    """Every indicator's scope declared under ``scopes:``; each ``within`` a declared scope; no cycle."""
    out = []
    declared = ", ".join(cat.scopes) or "none"
    in_cycle: set[str] = set()
    for code, sc in cat.scopes.items():
        if sc.within and sc.within not in cat.scopes:
            out.append(f"{cat.path}: scopes.{code}.within: expected a scope declared under scopes ({declared}), "
                       f"found {sc.within!r}")
        elif sc.within and code not in in_cycle:
            chain = cat.scope_chain(code)
            last = cat.scopes[chain[-1]].within if chain[-1] in cat.scopes else ""
            if last == code:           # the chain comes back to this scope: report the cycle once
                in_cycle.update(chain)
                out.append(f"{cat.path}: scopes.{code}.within: expected a broader scope, found a cycle "
                           + " → ".join([*chain, last]))
    for ind in cat.indicators.values():
        if ind.scope and ind.scope not in cat.scopes:
            near = difflib.get_close_matches(ind.scope, list(cat.scopes), n=1)
            out.append(f"{cat.path}: indicators.{ind.code}.scope: expected a scope declared under scopes ({declared}), "
                       f"found {ind.scope!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
    return out


#: the modules whose code decides what a catalog file reads as and whether its schema accepts it: a
#: change to any of them makes every remembered catalog (:func:`_checked_doc`) be read and checked anew
_READERS = ("catalog.py", "schema.py", "yamlfile.py", "limits.py")


def _checked_doc(path: Path, text: str) -> tuple[Any, list[str]]:
    """The catalog document in ``text`` and the schema's problems with it.

    A document the schema accepted is remembered in the cache folder (``catalogs/<sha256>.json``) by
    the text, the code of :data:`_READERS` and jsonschema's installed copy, and read from there next time:
    a process then neither parses the YAML nor imports jsonschema to check it (≈ 0.1–0.2 CPU s of every
    command that reads a catalog). JSON only — nothing executable — and only a document JSON gives back
    unchanged; a record that cannot be read or is damaged is worked out again and rewritten."""
    import json
    here = Path(__file__).parent
    try:
        at = paths.cached("catalogs", text, *((here / name).read_bytes() for name in _READERS),
                              "jsonschema " + paths.installed("jsonschema"))
    except (OSError, ImportError):   # no jsonschema found: checked below, which says so
        at = None
    record = paths.recall(at)
    if isinstance(record, dict) and isinstance(record.get("doc"), dict):
        return record["doc"], []
    from . import schema, yamlfile
    doc = yamlfile.loads(text, str(path), error=CatalogError)
    problems = schema.problems(_validator(), doc, str(path))
    if not problems:
        try:
            encoded = json.dumps({"doc": doc}, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            encoded = None
        if encoded and json.loads(encoded)["doc"] == doc:   # not a date, a number key or a tuple JSON would change
            paths.remember(at, encoded)
    return doc, problems


def _parse(path: Path) -> Catalog:
    from .log import trace
    trace("catalog")
    from . import yamlfile
    from .limits import MAX_CATALOG_BYTES
    # the same YAML reader as jobs files: plain tags only, bounded aliases, depth and size
    text = yamlfile.read_text(path, what="a catalog YAML file", max_bytes=MAX_CATALOG_BYTES, error=CatalogError)
    doc, problems = _checked_doc(path, text)
    if problems:
        raise CatalogError("\n".join(problems))
    indicators: dict[str, Indicator] = {}
    for code, entry in doc["indicators"].items():
        info = unit_info(str(entry["unit"]))
        if info is None:
            problems.append(f"{path}: indicators.{code}.unit: expected a known unit, found {entry['unit']!r}")
            continue
        indicators[str(code)] = Indicator(
            code=str(code), zh=str(entry["zh"]), en=str(entry["en"]), unit=str(entry["unit"]),
            dimension=info[2], aliases=tuple(str(a) for a in entry.get("aliases") or []),
            definition=str(entry.get("definition", "")), scope=str(entry.get("scope", "")),
            growth_basis=str(entry.get("growth_basis", "")), rank_first=str(entry.get("rank_first", "highest")))
    if problems:
        raise CatalogError("\n".join(problems))
    scopes = {str(c): Scope(str(c), str(e["zh"]), str(e["en"]), str(e.get("within", "") or ""))
              for c, e in (doc.get("scopes") or {}).items()}
    cat = Catalog(path=path, indicators=indicators, metrics=list(doc.get("metrics") or []),
                  settings=dict(doc.get("settings") or {}), regions=dict(doc.get("regions") or {}),
                  report=dict(doc.get("report") or {}), names=dict(doc.get("names") or {}), scopes=scopes,
                  peer_sets=dict(doc.get("peer_sets") or {}))
    problems += _scope_problems(cat)
    problems += [f"{path}: peer_sets.{name}.levels: expected levels only beside parent, found them beside members"
                 for name, e in cat.peer_sets.items() if e.get("levels") and e.get("members")]
    for key in ("headline", "innovation", "comparison"):
        problems += [f"{path}: report.{key}: expected indicator codes of the catalog, found {c!r}"
                     for c in cat.report.get(key, []) if c not in indicators]
    seen: dict[str, str] = {}
    for ind in indicators.values():
        for name in (ind.code, ind.zh, *ind.aliases):
            k = _key(name)
            if k in seen and seen[k] != ind.code:
                problems.append(f"{path}: indicators.{ind.code}: name {name!r} is also used by {seen[k]}")
            seen[k] = ind.code
    if problems:
        raise CatalogError("\n".join(problems))
    return cat
