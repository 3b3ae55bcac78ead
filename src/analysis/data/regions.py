"""The region hierarchy: which region lies under which, its level, English name and aliases.

Read from ``regions.csv`` — the project's own (``data/regions.csv``: the shipped reference list of
重庆市 and its 38 区县) and one beside each data file, whose rows override the project's — with
the catalog's ``regions:`` section as a fallback below both. Columns:

=========  ========  ==============================================================
column     required  meaning
=========  ========  ==============================================================
region     yes       the region's name as data files write it (渝北区)
parent     yes       the region it belongs to (重庆市); empty for the top of the list
level                市, 区, 县, 自治县, … (free text; when the column is there, every row needs one)
en                   the English name (Yubei District)
aliases              other names data files use, separated by ``;`` or ``、`` (渝北)
source               the id of the list's source in ``sources.csv``
=========  ========  ==============================================================

:func:`read_regions` returns the merged hierarchy as a plain, JSON-serialisable dict (it travels
in ``obs.attrs["regions"]`` and through the report's handover JSON)::

    {"渝北区": {"parent": "重庆市", "level": "区", "en": "Yubei District", "aliases": ["渝北"], "source": "CQ-XZQH"}}

and :class:`Hierarchy` answers questions about it (parent, children, peers, level, English name,
canonical name of an alias, the members of a peer set the catalog names).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import Problem
from ..limits import MAX_NAME_CHARS
from ..numbers import normalize_text
from .reading import _registries, _short, read_registry, read_sources

REGION_COLUMNS = ["region", "parent", "level", "en", "aliases", "source"]
REGION_REQUIRED = ["region", "parent"]
REGION_HEADER_ALIASES = {"地区": "region", "区域": "region", "名称": "region", "上级": "parent", "上级地区": "parent",
                         "级别": "level", "层级": "level", "类型": "level", "英文名": "en", "英文": "en",
                         "别名": "aliases", "简称": "aliases", "来源": "source"}
#: aliases in one cell: 渝北;渝北县 or 渝北、渝北县 (half- or full-width semicolon, 顿号)
ALIAS_SEPARATORS = re.compile(r"[;；、]")


@dataclass
class _Entry:
    parent: str
    level: str
    en: str
    aliases: list[str]
    source: str
    file: str           # where the row was read, for messages
    row: int | None
    column_prefix: str = ""   # catalog entries: "regions.渝北区." (no row)

    def where(self, column: str) -> tuple[str, int | None, str]:
        return self.file, self.row, f"{self.column_prefix}{column}"

    def as_dict(self) -> dict:
        return {"parent": self.parent, "level": self.level, "en": self.en, "aliases": list(self.aliases),
                "source": self.source}


def split_aliases(cell) -> list[str]:
    """``渝北;渝北县`` or ``渝北、渝北县`` (or a list, from the catalog) → ``["渝北", "渝北县"]``."""
    items = cell if isinstance(cell, (list, tuple)) else ALIAS_SEPARATORS.split(str(cell or ""))
    return list(dict.fromkeys(str(a).strip() for a in items if str(a).strip()))


def _from_catalog(catalog) -> dict[str, _Entry]:
    """The catalog's ``regions:`` section (a fallback below the regions.csv files)."""
    out = {}
    for region, e in ((catalog.regions or {}) if catalog is not None else {}).items():
        e = e or {}
        out[str(region)] = _Entry(str(e.get("parent", "") or ""), str(e.get("level", "") or ""),
                                  str(e.get("en", "") or ""), split_aliases(e.get("aliases") or []), "",
                                  _short(Path(catalog.path)), None, f"regions.{region}.")
    return out


def _read_file(f: Path, known_sources: set[str], problems: list[Problem]) -> dict[str, _Entry]:
    """One regions.csv: its rows, every problem of a single row or of duplicates within the file."""
    name = _short(f)
    frame, pr = read_registry(f, columns=REGION_COLUMNS, required=REGION_REQUIRED, aliases=REGION_HEADER_ALIASES)
    problems += pr
    if frame is None:
        return {}
    has_level = "level" in frame.attrs.get("present", [])
    out: dict[str, _Entry] = {}
    for row, r in zip(frame.index, frame.to_dict("records")):   # dicts: iterrows builds a Series a row
        row = int(row)
        region = r["region"]
        if not region:
            problems.append(Problem(name, row, "region", "a region name", "an empty cell"))
            continue
        if region in out:
            problems.append(Problem(name, row, "region", "each region once",
                                    f"{region!r} again (first at row {out[region].row})"))
            continue
        long = [(c, v) for c in ("region", "parent", "en") for v in [r[c]] if len(v) > MAX_NAME_CHARS] + \
            [("aliases", a) for a in split_aliases(r["aliases"]) if len(a) > MAX_NAME_CHARS]
        for column, v in long:   # names become headings and folder names, as in the data (analysis.limits)
            problems.append(Problem(name, row, column, f"names of at most {MAX_NAME_CHARS} characters",
                                    f"{len(v)} characters"))
        if long:
            continue
        if r["parent"] == region:
            problems.append(Problem(name, row, "parent", "a parent other than the region itself", repr(region)))
        if has_level and not r["level"]:
            problems.append(Problem(name, row, "level", "the region's level (市, 区, 县, 自治县, …)", "an empty cell"))
        if r["source"] and r["source"] not in known_sources:
            problems.append(Problem(name, row, "source", "a source id listed in sources.csv ("
                                    + ", ".join(sorted(known_sources)) + ")", repr(r["source"])))
        out[region] = _Entry(r["parent"] if r["parent"] != region else "", r["level"], r["en"],
                             [a for a in split_aliases(r["aliases"]) if a != region], r["source"], name, row)
    return out


def read_regions(paths: list[Path], catalog=None) -> tuple[dict[str, dict], list[Problem]]:
    """The region hierarchy for data files, and every problem in its files.

    Merged from the catalog's ``regions:`` (lowest), the project's ``data/regions.csv``, then the
    ``regions.csv`` beside each data file (highest: its row of a region replaces the project's).
    Checked as a whole after merging: a parent written as an alias is its region; a parent cycle, and
    an alias that is another region's name or alias, are problems located to the row that makes them.

    Returns:
        ``{region: {"parent", "level", "en", "aliases", "source"}}`` (strings; aliases a list) — plain
        JSON; and the problems (``file:row:column: expected …, found …``).
    """
    problems: list[Problem] = []
    files = _registries(paths, "regions.csv")
    known = set(read_sources(paths)[0]["id"]) if files else set()
    merged: dict[str, _Entry] = _from_catalog(catalog)
    project = {f for d in _project_dirs() for f in [(d / "regions.csv").resolve()]}
    # project files first, then those beside the data: later rows override earlier ones
    for f in sorted(files, key=lambda f: f not in project):
        merged.update(_read_file(f, known, problems))
    _check_whole(merged, problems)
    return {r: e.as_dict() for r, e in merged.items()}, problems


def _project_dirs() -> list[Path]:
    from .. import paths as _paths
    return _paths.default_data_dirs()


def _check_whole(merged: dict[str, _Entry], problems: list[Problem]) -> None:
    """Aliases unique and naming no other region; parents written as aliases resolved; no parent cycle."""
    owner: dict[str, str] = {}
    for region, e in merged.items():
        for a in list(e.aliases):
            if a in merged and a != region:
                problems.append(Problem(*e.where("aliases"), "aliases that name no other region",
                                        f"{a!r}, the name of another region"))
                e.aliases.remove(a)
            elif a in owner and owner[a] != region:
                other = merged[owner[a]]
                at = f"{other.file}:{other.row}" if other.row else other.file
                problems.append(Problem(*e.where("aliases"), "aliases that name no other region",
                                        f"{a!r}, also an alias of {owner[a]!r} ({at})"))
                e.aliases.remove(a)
            else:
                owner[a] = region
    for region, e in merged.items():
        if e.parent and e.parent not in merged and e.parent in owner:
            e.parent = owner[e.parent]
    reported: set[str] = set()
    for region, e in merged.items():
        chain, seen = [region], {region}
        up = e.parent
        while up and up in merged and up not in seen:
            chain.append(up)
            seen.add(up)
            up = merged[up].parent
        if up in seen and up == region and region not in reported:
            reported.update(chain)
            problems.append(Problem(*e.where("parent"), "a parent that does not lie below the region",
                                    "a cycle " + " → ".join([*chain, region])))


def canonical_map(regions: dict[str, dict]) -> dict[str, str]:
    """Every alias → its region (regions themselves are not listed)."""
    return {a: r for r, e in (regions or {}).items() for a in (e or {}).get("aliases") or [] if a not in regions}


class Hierarchy:
    """Questions about the region hierarchy of a data set.

    Built from ``obs.attrs["regions"]`` (see :func:`read_regions`) and the catalog, whose
    ``regions:`` fill in regions the files do not list and whose ``peer_sets:`` name sets of peers::

        h = Hierarchy(obs.attrs["regions"], catalog)    # or Hierarchy.of(obs, catalog)
        h.parent("渝北区")          # '重庆市'
        h.children("重庆市")        # the 38 区县, in the order listed
        h.peers("渝北区")           # the regions sharing 渝北区's parent, 渝北区 included, never the parent
        h.level("忠县"), h.en("忠县")   # ('县', 'Zhong County')
        h.canonical("渝北")         # '渝北区' (an alias); None for a name the hierarchy does not know
        h.peer_set("重庆市区县")     # the members of a peer set the catalog declares; None when unknown
    """

    def __init__(self, regions: dict[str, dict] | None = None, catalog=None):
        base = {r: e.as_dict() for r, e in _from_catalog(catalog).items()}
        self.regions: dict[str, dict] = {**base, **{r: dict(e or {}) for r, e in (regions or {}).items()}}
        self.peer_sets: dict[str, dict] = dict(getattr(catalog, "peer_sets", None) or {})
        self._children: dict[str, list[str]] = {}
        for r, e in self.regions.items():
            if e.get("parent"):
                self._children.setdefault(e["parent"], []).append(r)
        self._names = {normalize_text(r): r for r in self.regions}
        for a, r in canonical_map(self.regions).items():
            self._names.setdefault(normalize_text(a), r)

    @classmethod
    def of(cls, observations: pd.DataFrame, catalog=None) -> "Hierarchy":
        """The hierarchy of an observations frame (``attrs["regions"]``) and its catalog."""
        return cls(observations.attrs.get("regions") or {}, catalog)

    def __contains__(self, region: str) -> bool:
        return region in self.regions

    def _get(self, region: str, key: str) -> str:
        return str((self.regions.get(region) or {}).get(key) or "")

    def parent(self, region: str) -> str | None:
        """The region ``region`` belongs to; None at the top or for an unknown region."""
        return self._get(region, "parent") or None

    def children(self, parent: str) -> list[str]:
        """The regions listed under ``parent``, in the order listed (empty when none)."""
        return list(self._children.get(parent, []))

    def peers(self, region: str) -> list[str]:
        """The regions that share ``region``'s parent, ``region`` included, never the parent itself;
        empty when ``region`` has no known parent."""
        parent = self.parent(region)
        return self.children(parent) if parent else []

    def level(self, region: str) -> str:
        """市, 区, 县, 自治县, … as listed ("" when not listed)."""
        return self._get(region, "level")

    def en(self, region: str) -> str:
        """The English name as listed ("" when not listed)."""
        return self._get(region, "en")

    def aliases(self, region: str) -> list[str]:
        return list((self.regions.get(region) or {}).get("aliases") or [])

    def canonical(self, name: str) -> str | None:
        """The region a name stands for: itself, or the region it is an alias of (渝北 → 渝北区);
        full-width forms and spaces ignored. None for a name the hierarchy does not know."""
        if name in self.regions:
            return name
        return self._names.get(normalize_text(name))

    def peer_set(self, name: str) -> list[str] | None:
        """The members of a peer set the catalog declares (``peer_sets:``): the children of its
        ``parent`` (those of its ``levels`` when given), or its ``members`` (aliases resolved).
        None when the catalog declares no such set."""
        spec = self.peer_sets.get(name)
        if spec is None:
            key = normalize_text(name)
            spec = next((v for k, v in self.peer_sets.items() if normalize_text(k) == key), None)
        if spec is None:
            return None
        if spec.get("members"):
            return list(dict.fromkeys(self.canonical(str(m)) or str(m) for m in spec["members"]))
        parent = self.canonical(str(spec.get("parent", ""))) or str(spec.get("parent", ""))
        levels = set(spec.get("levels") or [])
        return [c for c in self.children(parent) if not levels or self.level(c) in levels]
