"""The indicator and metric catalog (``data/catalog.yaml``).

One file declares every indicator (code, 中文名, English name, unit, aliases, definition) and
every derived metric; code, notebooks and docs read it from here.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

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


@dataclass
class Catalog:
    path: Path
    indicators: dict[str, Indicator]
    metrics: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    regions: dict[str, dict] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)   # region, peer set, entity → English name

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
        raise CatalogError(f"{p}: expected a catalog YAML file, found no such file")
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
                              "properties": {"code": _TEXT, "kind": _TEXT}}},
        "regions": {"type": "object", "description": "a mapping of region names",
                    "additionalProperties": {"type": "object", "description": "a mapping with parent",
                                             "properties": {"parent": _TEXT}}},
        "names": {"type": "object", "description": "a mapping of Chinese names to English names",
                  "additionalProperties": _TEXT},
        "report": {"type": "object", "description": "a mapping of report settings",
                   "properties": {**{k: {"type": "array", "description": "a list of indicator codes", "items": _TEXT}
                                     for k in ("headline", "innovation")},
                                  "credit": {"type": "string", "description": "an organisation credited under charts"}}},
    },
    "additionalProperties": False,
}


def _parse(path: Path) -> Catalog:
    from . import schema
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: expected valid UTF-8 YAML, found: {exc}") from None
    problems = schema.problems(_validator(), doc, str(path))
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
    cat = Catalog(path=path, indicators=indicators, metrics=list(doc.get("metrics") or []),
                  settings=dict(doc.get("settings") or {}), regions=dict(doc.get("regions") or {}),
                  report=dict(doc.get("report") or {}), names=dict(doc.get("names") or {}))
    for key in ("headline", "innovation"):
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
