"""Run one report: check parameters, execute the notebook with papermill, export, write atomically.

Outputs go to ``OUT/<region>/<year>/`` (``industry_report.{ipynb,html,pdf}`` and the metrics as
``.xlsx`` and ``.csv``). Everything is first written to a staging folder beside them and moved
into place with ``os.replace`` only when every format succeeded, so a failed run never leaves a
half-written file nor touches an earlier report. A notebook whose cell fails is kept, executed
up to the error, under ``OUT/<region>/<year>/failed/``.

The exporters (nbconvert, WeasyPrint) are imported in a thread while the kernel executes the
notebook, so their import time overlaps the execution instead of adding to it.
"""
from __future__ import annotations

import ast
import keyword
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .paths import project_root
from .errors import ReportError, UsageError

FORMATS = ("html", "pdf")
#: what a run has under way (staging folder, kernel), for abort() when a worker is told to stop
ACTIVE: dict = {}
LANGS = ("zh", "en")


def notebook_path(name: str = "industry_report") -> Path:
    p = Path(name)
    if p.suffix == ".ipynb" and p.is_file():
        return p
    from . import paths
    path = paths.notebook_path(name)
    if path is None:
        raise UsageError(f"notebook: expected one of {', '.join(paths.known_notebooks())}, found {name!r}")
    return path


def declared_parameters(path: Path) -> dict[str, str]:
    """Names assigned in the notebook's cell tagged ``parameters``, with their default's source."""
    import json
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            out = {}
            for node in ast.parse(src).body:
                if isinstance(node, ast.Assign):
                    for tgt in node.targets:
                        if isinstance(tgt, ast.Name):
                            out[tgt.id] = ast.get_source_segment(src, node.value) or ""
            return out
    raise UsageError(f"{path}: expected a cell tagged 'parameters', found none")


def check_parameters(params: dict, path: Path) -> None:
    """Reject names papermill would write into code unescaped: only declared identifiers pass."""
    declared = declared_parameters(path)
    for name in params:
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name) or name not in declared:
            raise UsageError(f"parameter {name!r}: expected one of {', '.join(declared)} "
                             f"(the names in the parameters cell of {path.name}), found an unknown name")
    if "lang" in params and params["lang"] not in LANGS:
        raise UsageError(f"parameter lang: expected one of {', '.join(LANGS)}, found {params['lang']!r}")


def check_values(region: str, year: int, data: Path | None, catalog: Path | None = None):
    """Region and year must exist in the data; returns the loaded observations."""
    from .catalog import load_catalog
    from .data import check_selection, default_data_path, load_observations
    obs = load_observations(data or default_data_path(), catalog=load_catalog(catalog))
    check_selection(obs, region, year)
    return obs


def safe_name(text: str) -> str:
    """A folder name for a region: keeps CJK and letters, replaces path separators."""
    bad = '/\\:*?"<>|\0'
    return "".join("_" if ch in bad else ch for ch in str(text)).strip() or "_"


def trim_imports() -> None:
    """Skip a 1.9 s import nobody here uses.

    jsonschema (imported by nbformat, hence by papermill and nbconvert) registers IRI format
    checkers when ``rfc3987_syntax`` is importable, and that module builds a Lark grammar at import
    (measured: 1.9 s of papermill's 2.6 s import). Notebook validation never checks IRI formats.
    Marking the module absent makes jsonschema skip those checkers in this process only.
    """
    import sys
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


def _warm_exporters() -> None:
    import papermill  # noqa: F401
    import weasyprint  # noqa: F401
    from . import export
    export.warm()


@dataclass
class ReportResult:
    region: str
    year: int
    lang: str
    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def run_report(region: str, year: int, *, data: str | Path | None = None, lang: str = "zh",
               formats=FORMATS, out: str | Path = "reports", notebook: str = "industry_report",
               catalog: str | Path | None = None, parameters: dict | None = None, kernel_name: str | None = None,
               check: bool = True) -> ReportResult:
    """Produce one report. Raises UsageError (bad parameters), AnalysisError (bad data, unknown
    region/year) or ReportError (a cell failed: the executed notebook is kept under failed/)."""
    t0 = time.perf_counter()
    formats = tuple(formats)
    for f in formats:
        if f not in FORMATS:
            raise UsageError(f"--format: expected html and/or pdf, found {f!r}")
    nb_path = notebook_path(notebook)
    params = {"region": region, "year": int(year), "lang": lang,
              "data": str(Path(data).resolve()) if data else "", "catalog": str(Path(catalog).resolve()) if catalog else "",
              **(parameters or {})}
    check_parameters(params, nb_path)
    timings = {}
    from . import fontcache
    from .catalog import default_catalog_path
    from .data import default_data_path
    data_file = Path(data) if data else default_data_path()
    cat_file = Path(catalog) if catalog else default_catalog_path()
    chars = fontcache.charset([data_file, cat_file, data_file.parent / "sources.csv",
                               default_data_path().parent / "sources.csv"], extra=" ".join(map(str, params.values())))
    font_proc = fontcache.start(chars)            # a font subset for this data, built on the other core
    trim_imports()
    from .kernel import WarmKernel
    kernel = WarmKernel(kernel_name, cwd=str(nb_path.parent))   # kernel starts and imports meanwhile
    warm = threading.Thread(target=_warm_exporters, daemon=True)
    warm.start()
    try:
        obs = check_values(region, int(year), Path(data) if data else None, Path(catalog) if catalog else None) if check else None
    except BaseException:
        kernel.shutdown()
        raise
    timings["check"] = time.perf_counter() - t0

    final_dir = Path(out) / safe_name(region) / str(int(year))
    final_dir.mkdir(parents=True, exist_ok=True)
    stem = "industry_report" + ("" if lang == "zh" else f"_{lang}")
    staging = final_dir / f".staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    ACTIVE.update(staging=staging, kernel=kernel)
    try:
        import papermill as pm
        executed = staging / f"{stem}.ipynb"
        t = time.perf_counter()
        try:
            km = kernel.km()
            pm.execute_notebook(str(nb_path), str(executed), parameters=params, kernel_name=kernel_name,
                                progress_bar=False, log_output=False, cwd=str(nb_path.parent),
                                request_save_on_cell_execute=False,  # one write at the end, not one per cell
                                **({"km": km} if km is not None else {}))
        except pm.PapermillExecutionError as exc:
            failed_dir = final_dir / "failed"
            failed_dir.mkdir(exist_ok=True)
            kept = failed_dir / f"{stem}.ipynb"
            if executed.exists():
                os.replace(executed, kept)
            raise ReportError(
                f"notebook {nb_path.name} failed in cell {exc.exec_count} ({exc.ename}: {exc.evalue}); "
                f"the executed notebook is kept at {kept}", cell=exc.exec_count, ename=exc.ename, evalue=exc.evalue,
                failed_notebook=str(kept)) from None
        finally:
            kernel.shutdown()
        timings["execute"] = time.perf_counter() - t
        import nbformat
        nb = nbformat.read(str(executed), as_version=4)
        warm.join()
        from . import export
        font = fontcache.wait(font_proc, chars)
        timings.update(export.export(nb, lang=lang, base_dir=staging, font=font, font_chars=chars,
                                     font_file=fontcache.subset_path(chars),
                                     html_path=staging / f"{stem}.html" if "html" in formats else None,
                                     pdf_path=staging / f"{stem}.pdf" if "pdf" in formats else None))
        _write_metrics(obs, region, int(year), lang, staging, stem, catalog)
        result = ReportResult(region, int(year), lang, timings=timings)
        for f in staging.iterdir():
            target = final_dir / f.name
            os.replace(f, target)
            result.outputs[f.suffix.lstrip(".")] = target
        failed = final_dir / "failed" / f"{stem}.ipynb"
        if failed.exists():  # a later success supersedes an earlier failure
            failed.unlink()
        result.seconds = time.perf_counter() - t0
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        ACTIVE.clear()


def run_request(request, *, prepared=None) -> ReportResult:
    """Produce the report a :class:`~analysis.request.ReportRequest` asks for.

    An adapter over :func:`run_report` for the batch (branch ``batch``); ``run_request`` proper,
    which takes the request through the whole run, replaces it at merge. ``prepared`` is accepted
    for its signature and not used here.
    """
    return run_report(request.region, request.year, data=str(request.data), lang=request.lang,
                      formats=request.formats, out=request.out, notebook=str(request.notebook),
                      catalog=str(request.catalog),
                      parameters={**request.parameters, **({"title": request.title} if request.title else {})})


def abort() -> None:
    """Stop what the current run has under way, now: kill its kernel, delete its staging folder.

    Called from a SIGTERM handler in batch workers, where unwinding through asyncio and papermill
    would be slow and noisy; final outputs are only ever renamed into place, so none is partial.
    """
    kernel = ACTIVE.get("kernel")
    km = getattr(kernel, "_km", None)
    proc = getattr(getattr(km, "provisioner", None), "process", None)
    if proc is not None:
        try:
            proc.kill()
        except OSError:
            pass
    staging = ACTIVE.get("staging")
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
    if kernel is not None and getattr(kernel, "_ipc_dir", None):
        shutil.rmtree(kernel._ipc_dir, ignore_errors=True)


def _write_metrics(obs, region, year, lang, staging: Path, stem: str, catalog) -> None:
    """The metrics behind the report, for readers who want the numbers: .csv (UTF-8 BOM for Excel) and .xlsx."""
    from .catalog import load_catalog
    from .metrics import compute
    from .table import metrics_display
    if obs is None:
        return
    cat = load_catalog(catalog)
    m = metrics_display(compute(obs, region=region, year=year, catalog=cat), lang=lang)
    m = m.astype({c: str for c in m.columns if str(m[c].dtype) == "category"})
    m.to_csv(staging / f"{stem}_metrics.csv", index=False, encoding="utf-8-sig")
    m.to_excel(staging / f"{stem}_metrics.xlsx", index=False, sheet_name="metrics")
