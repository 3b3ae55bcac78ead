"""Observations: load and validate files (CSV in UTF-8/GBK/GB18030, or .xlsx).

``load_observations(paths)`` returns one tidy frame — a row per published figure, its value in
the base unit with ``lower``/``upper`` bounds from qualifier and rounding — or raises
:class:`DataError` listing *every* problem as ``file:row:column: expected …, found …``.
Reading is :mod:`analysis.data.reading`, checking :mod:`analysis.data.validation`, the region
hierarchy (``regions.csv``, :class:`Hierarchy`) :mod:`analysis.data.regions`; frames built by
programs (synthetic panels) come from :func:`make_observations`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths as _paths
from ..catalog import Catalog, load_catalog
from ..errors import DataError, Problem
from ..shared import shared
from .reading import (COLUMNS, OPTIONAL, REQUIRED, ReadResult, _normalise_header, _short, load_sources,
                      read_sources, read_table)
from .regions import Hierarchy, read_regions
from .validation import KEY, MEASURES, _validate, bounds_array, bounds_of, check_selection

__all__ = ["COLUMNS", "KEY", "MEASURES", "OPTIONAL", "REQUIRED", "Hierarchy", "ReadResult", "bounds_array", "bounds_of",
           "check_selection", "default_data_path", "load_observations", "load_regions", "load_sources",
           "make_observations", "read_regions", "read_sources", "read_table"]


def default_data_path() -> Path:
    return _paths.data_path()


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
        value_stated, unit_stated, half_width, file, row. ``attrs['encodings']`` maps file → encoding;
        ``attrs['regions']`` is the region hierarchy (:func:`analysis.data.regions.read_regions`: a
        plain dict region → parent, level, en, aliases, source), and a region written as one of its
        aliases (渝北) is its listed name (渝北区); ``attrs['quotes']`` maps each source id of the data
        to whether its quotes were checked (``checked``, ``no-text``: the source has no snapshot,
        ``not-text``: the snapshot is not text, ``off``: ``check_quotes`` was False).

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
        frame, hp, usable = _normalise_header(res.frame, name)
        problems += hp
        if not usable:
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
    regions, rp = read_regions(paths, catalog)
    out, vp, quotes = _validate(raw, catalog, paths, check_quotes, regions=regions)
    problems += rp + vp
    if problems:
        raise DataError(problems)
    out.attrs["encodings"] = shared(encodings)   # shared by every frame derived from this one (see analysis.shared)
    out.attrs["regions"] = shared(regions)
    out.attrs["quotes"] = shared(quotes)
    return out


def load_regions(paths: str | os.PathLike | list, *, catalog: Catalog | None = None) -> dict[str, dict]:
    """The region hierarchy for data files (:func:`analysis.data.regions.read_regions`).

    Raises:
        DataError: listing every problem of the regions.csv files.
    """
    paths = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    regions, problems = read_regions(paths, catalog)
    if problems:
        raise DataError(problems)
    return regions


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
    out["lower"], out["upper"] = bounds_of(out, catalog)
    return out
