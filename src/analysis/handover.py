"""Compute once, hand over frames: what a report shows, prepared in one place.

``prepare(request)`` loads and validates the data, checks the request against it, computes the
metrics and the reconciliation — once. ``analysis report`` does this in the parent process and
writes the frames into the run's staging folder (:func:`write`, Parquet plus a small JSON); the
notebook's kernel reads them back (:func:`read`) and computes nothing again. Run by hand in
JupyterLab, the notebook calls :func:`prepare` itself: the same function, the same frames.

The metrics and checks published beside a report (:func:`publish`) are these very frames.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import paths
from .log import trace as _trace
from .shared import shared
from .request import FUTURE_MEASURES, ReportRequest

FILES = ("observations", "metrics", "checks", "sources")
META = "meta.json"
#: the parsed catalog, pickled: written and read by the same interpreter and package within one run
CATALOG = "catalog.pickle"


@dataclass
class ReportData:
    """The frames a report shows, and what they came from."""

    request: ReportRequest
    observations: pd.DataFrame      # the region's figures and every figure its metrics and checks use
    metrics: pd.DataFrame           # the region's metrics of the report year
    checks: pd.DataFrame            # the region's reconciliation
    sources: pd.DataFrame           # the sources registries beside the data
    meta: dict = field(default_factory=dict)   # data file, checksum, data date, parents of regions
    #: the request's catalog as parsed and checked here (handed over: the kernel neither reads nor checks it again)
    catalog: object = None


def _ids(column: pd.Series) -> set[str]:
    """Every observation id in a column of id lists."""
    return {i for ids in column if ids is not None for i in ids}


#: the data file a batch worker loaded last, with its sources, for its next report (:func:`keep_loaded`)
_LOADED: dict = {}
_KEEP = {"on": False}


def keep_loaded() -> None:
    """From now on this process keeps the last data file it loaded, validated, for the next report of the
    same files (a batch worker: its reports mostly share one data file). Measured on the batch benchmark's
    file: 0.23 s of a report's 0.47 s of preparation (CPU). Kept until another version of the files is loaded
    (:func:`analysis.paths.version`, as for the checksums the batch's manifest keeps)."""
    _KEEP["on"] = True


def _version(path: Path) -> tuple | None:
    try:
        return paths.version(path)
    except OSError:       # a side file that is not there
        return None


def _loaded(request: ReportRequest, catalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The request's observations and sources registries, loaded and validated (or kept: :func:`keep_loaded`).

    A kept frame is handed out as a copy (pandas copies on write: the kept one cannot change)."""
    from .data import load_observations, load_sources
    key = None
    if _KEEP["on"]:
        data = paths.data_file(request.data)
        key = (_version(data), *(_version(data.parent / n) for n in paths.SIDE_FILES),
               _version(Path(request.catalog)) if request.catalog else None)
        if _LOADED.get("key") == key:
            obs, sources = _LOADED["frames"]
            return obs.copy(deep=False), sources.copy(deep=False)
        _LOADED.clear()
    obs = load_observations(request.data, catalog=catalog)
    _trace("load")
    sources = load_sources([request.data])
    if key is not None:
        _LOADED.update(key=key, frames=(obs, sources))
        return obs.copy(deep=False), sources.copy(deep=False)
    return obs, sources


def prepare(request: ReportRequest) -> ReportData:
    """Load, validate, check the request against the data, compute metrics and checks — once.

    Raises:
        DataError: the data is invalid (every problem listed).
        AnalysisError: the region or year is not in the data.
    """
    from .catalog import load_catalog
    from .metrics import attribute_years, compute, reconcile
    catalog = load_catalog(request.catalog)
    obs, sources = _loaded(request, catalog)
    request.check_data(obs)
    # the region's metrics and checks need its own rows, its parent's (shares of the parent, growth
    # gaps) and those of the regions it is ranked with — not the rest of a file of thousands of regions
    obs = obs[report_regions(obs, request.region, catalog)]
    everything = compute(obs, catalog=catalog)
    _trace("compute")
    mine = everything[everything["region"] == request.region]
    own_obs = obs[obs["region"] == request.region]
    checks = reconcile(own_obs, mine, catalog=catalog, peers=obs).reset_index(drop=True)
    metrics = attribute_years(mine[mine["year"] == request.year].reset_index(drop=True), checks, catalog)
    for c in metrics.columns:
        if isinstance(metrics[c].dtype, pd.CategoricalDtype):
            metrics[c] = metrics[c].cat.remove_unused_categories()
    used = _ids(metrics["inputs"]) | _ids(checks["stated_ids"]) | _ids(checks["computed_from"])
    shown = obs[(obs["region"] == request.region) | obs["id"].isin(used)
                | comparison_rows(obs, request.region, request.year, catalog)].reset_index(drop=True)
    own = shown[(shown["region"] == request.region) & ~shown["measure"].isin(FUTURE_MEASURES)]
    dates = sorted({d for s, d in zip(sources["id"], sources.get("date", pd.Series("", index=sources.index)))
                    if s in set(own["source"]) and d})
    from .manifest import sha256_file   # one read of the data file for its checksum: the provenance reuses it
    meta = {"data_file": request.data.name, "data_sha256": sha256_file(paths.data_file(request.data)), "data_dates": dates,
            "generated": _dt.date.today().isoformat(), "regions": obs.attrs.get("regions", {}),
            "encodings": obs.attrs.get("encodings", {}), "catalog": str(request.catalog)}
    meta["names"] = display_names([shown, metrics, checks], obs.attrs.get("regions", {}), catalog, request.lang)
    return ReportData(request, shown, metrics, checks, sources, meta, catalog)


def display_names(frames: list[pd.DataFrame], regions: dict, catalog, lang: str) -> dict[str, str]:
    """The regions, peer sets and entities of the frames as a reader of ``lang`` reads them
    (:meth:`analysis.catalog.Catalog.display`), where that differs from the text: worded while the
    frames are prepared, so that the kernel need not (a name without a translation needs pypinyin,
    whose dictionaries take a quarter of a second to load)."""
    texts = {str(t) for f in frames for c in ("region", "entity", "peer") if c in f for t in f[c].dropna().unique()}
    # and their parents — not every region of the hierarchy (thousands, in a big file): a name missing
    # here is worded when it is shown (Report.place)
    texts |= {str((regions.get(t) or {}).get("parent") or "") for t in list(texts)}
    return {t: shown for t in sorted(texts) if t and (shown := catalog.display(t, lang, regions)) != t}


def report_regions(obs: pd.DataFrame, region: str, catalog) -> pd.Series:
    """The rows a region's report computes from (a bool mask of ``obs``): the region's, its parent's,
    those of the regions ranked with it (:func:`~analysis.metrics.kinds.rank_group`) and of the
    members of every peer set its stated ranks name (:func:`~analysis.metrics.reconcile.peer_members`)."""
    from .data.regions import Hierarchy
    from .metrics.kinds import parents_of, rank_group
    from .metrics.reconcile import peer_members
    regions = obs["region"].astype(str)
    parent, members = rank_group(region, parents_of(obs.attrs.get("regions", {}), catalog), regions.unique())
    keep = {region, parent, *members}
    named = set(obs.loc[regions == region, "peer"].astype(str)) - {""}
    if named:
        hierarchy = Hierarchy.of(obs, catalog)
        for peer in named:
            found = peer_members(region, peer, hierarchy)
            if found:
                keep |= {found[0], *found[1]}
    return regions.isin(keep - {""})


def comparison_rows(obs: pd.DataFrame, region: str, year: int, catalog) -> pd.Series:
    """The figures a comparison with peers shows (a bool mask of ``obs``): the report year's levels,
    growth rates and shares of the indicators the region states, for its parent and for the regions
    ranked with it (those sharing its parent; without a parent, the other regions without one). The
    kernel draws its charts from these rows and computes nothing."""
    from .metrics.kinds import RANKED, parents_of, rank_group
    regions = obs["region"].astype(str)
    parent, members = rank_group(region, parents_of(obs.attrs.get("regions", {}), catalog), regions.unique())
    group = regions.isin({parent, *members} - {""})
    mine = obs[(regions == region) & (obs["year"] == year) & (obs["entity"] == "")]
    return (group & (obs["year"] == year) & (obs["entity"] == "") & obs["measure"].isin(list(RANKED))
            & obs["indicator"].isin(set(mine["indicator"])))


def write(data: ReportData, folder: Path) -> Path:
    """The frames as Parquet files in ``folder`` (created), with the request and meta as JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        frame: pd.DataFrame = getattr(data, name)
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    (folder / META).write_text(json.dumps({"request": data.request.to_dict(), "meta": data.meta},
                                          ensure_ascii=False, indent=1), encoding="utf-8")
    if data.catalog is not None:
        import pickle
        (folder / CATALOG).write_bytes(pickle.dumps(data.catalog, protocol=pickle.HIGHEST_PROTOCOL))
    return folder


def _read_parquet(path: Path) -> pd.DataFrame:
    """A frame written by :func:`write`, list columns back as Arrow lists (pandas cannot parse their dtype name)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    return pq.read_table(path).to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_list(t) else None)


def read(folder: str | os.PathLike) -> ReportData:
    """The frames :func:`write` handed over."""
    folder = Path(folder)
    info = json.loads((folder / META).read_text(encoding="utf-8"))
    frames = {name: _read_parquet(folder / f"{name}.parquet") for name in FILES}
    obs = frames["observations"]
    # attrs come back from Parquet as plain dicts: shared again, as load_observations made them (pandas
    # deep-copies plain ones into the result of every operation on the frame)
    obs.attrs = {k: shared(v) if isinstance(v, dict) else v for k, v in obs.attrs.items()}
    obs.attrs["regions"] = shared(info["meta"].get("regions", {}))
    catalog = None
    if (folder / CATALOG).is_file():   # a folder this run's parent wrote (trusted as its frames are)
        import pickle
        catalog = pickle.loads((folder / CATALOG).read_bytes())
    return ReportData(ReportRequest.from_dict(info["request"]), meta=info["meta"], catalog=catalog, **frames)


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists joined with ';' and categoricals as text, for CSV and Excel readers."""
    from .table import joined_lists
    out = joined_lists(frame)
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(str)
    return out


def published(data: ReportData) -> dict[str, pd.DataFrame]:
    """The frames published beside a report: the metrics with their worded values, and the checks."""
    from .table import metrics_display
    from .catalog import load_catalog
    catalog = data.catalog if data.catalog is not None else load_catalog(data.request.catalog)
    return {"metrics": metrics_display(data.metrics, lang=data.request.lang, catalog=catalog), "checks": data.checks}


def publish(data: ReportData, folder: Path, stem: str) -> list[Path]:
    """``stem_metrics.csv`` (UTF-8 BOM for Excel), ``stem_checks.csv`` and ``stem_metrics.xlsx`` (sheets
    metrics and checks) in ``folder``.

    Text from the data (a region or entity such as ``=HYPERLINK(…)``) never becomes a live formula:
    in the CSV files such a cell starts with ``'``; in the workbook it is a text cell.
    """
    from .table import neutralise_formulas, write_xlsx
    frames = {k: _flat(v) for k, v in published(data).items()}
    out = [folder / f"{stem}_metrics.csv", folder / f"{stem}_checks.csv", folder / f"{stem}_metrics.xlsx"]
    neutralise_formulas(frames["metrics"]).to_csv(out[0], index=False, encoding="utf-8-sig")
    neutralise_formulas(frames["checks"]).to_csv(out[1], index=False, encoding="utf-8-sig")
    write_xlsx(out[2], frames)
    return out
