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


@dataclass
class Catalog:
    path: Path
    indicators: dict[str, Indicator]
    metrics: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    regions: dict[str, dict] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)

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

    def name(self, code: str, lang: str = "zh") -> str:
        ind = self.indicators.get(code)
        if ind is None:
            return code
        return getattr(ind, lang)   # the catalog holds a name per language (zh, en)


def _key(name: str) -> str:
    return normalize_text(name).lower()


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


def _parse(path: Path) -> Catalog:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path}: expected valid UTF-8 YAML, found: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("indicators"), dict):
        raise CatalogError(f"{path}: expected a mapping with an 'indicators' mapping at the top")
    indicators: dict[str, Indicator] = {}
    problems = []
    for code, entry in doc["indicators"].items():
        where = f"{path}: indicators.{code}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping, found {type(entry).__name__}")
            continue
        missing = [k for k in ("zh", "en", "unit") if not entry.get(k)]
        if missing:
            problems.append(f"{where}: expected keys {', '.join(missing)}, found them missing")
            continue
        info = unit_info(str(entry["unit"]))
        if info is None:
            problems.append(f"{where}.unit: expected a known unit, found {entry['unit']!r}")
            continue
        aliases = entry.get("aliases") or []
        if not isinstance(aliases, list):
            problems.append(f"{where}.aliases: expected a list, found {aliases!r}")
            continue
        indicators[str(code)] = Indicator(
            code=str(code), zh=str(entry["zh"]), en=str(entry["en"]), unit=str(entry["unit"]),
            dimension=info[2], aliases=tuple(str(a) for a in aliases),
            definition=str(entry.get("definition", "")), scope=str(entry.get("scope", "")),
            growth_basis=str(entry.get("growth_basis", "")))
    if problems:
        raise CatalogError("\n".join(problems))
    cat = Catalog(path=path, indicators=indicators, metrics=list(doc.get("metrics") or []),
                  settings=dict(doc.get("settings") or {}), regions=dict(doc.get("regions") or {}),
                  report=dict(doc.get("report") or {}))
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
