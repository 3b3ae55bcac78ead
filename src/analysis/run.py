"""Run one report request: prepare the frames, execute the notebook with papermill, export, publish.

Outputs go to the request's folder ``OUT/<region>/<year>/``, named after the notebook
(``industry_report.{ipynb,html,pdf}``, ``industry_report_metrics.{csv,xlsx}``, ``…_checks.csv``).
Everything is first written to a staging folder beside them and moved into place with ``os.replace`` only when every format succeeded, so a failed run never leaves a
half-written file nor touches an earlier report. A notebook whose cell fails is kept, executed
up to the error, under ``OUT/<region>/<year>/failed/``.

The exporters (nbconvert, WeasyPrint) are imported in a thread while the kernel executes the
notebook, so their import time overlaps the execution instead of adding to it.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ReportError
from .handover import ReportData
from .request import ReportRequest

#: what a run has under way (staging folder, kernel), for abort() when a worker is told to stop
ACTIVE: dict = {}


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
    request: ReportRequest
    outputs: dict[str, Path] = field(default_factory=dict)    # kind (html, pdf, ipynb, metrics.csv …) → file
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def _literal(path: Path) -> str:
    """A path for papermill, which runs its paths through ``str.format`` with the parameters: braces
    doubled, so ``{data}`` in a folder name stays text."""
    return str(path).replace("{", "{{").replace("}", "}}")


def run_request(request: ReportRequest, *, prepared: ReportData | None = None,
                kernel_name: str | None = None) -> ReportResult:
    """Produce one report: prepare the frames once, execute the notebook on them, export, publish.

    Raises:
        DataError, AnalysisError: bad data, a region or year not in it (before anything is written).
        ReportError: a cell failed; the executed notebook is kept under ``failed/``.
    """
    from . import fontcache, handover, paths
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    chars = fontcache.charset([request.data, request.catalog, *paths.side_files(request.data),
                               *[d / n for d in paths.default_data_dirs() for n in paths.SIDE_FILES]],
                              extra=" ".join(map(str, request.notebook_parameters().values())))
    font_proc = fontcache.start(chars)            # a font subset for this data, built on the other core
    trim_imports()
    from .kernel import WarmKernel
    kernel = WarmKernel(kernel_name, cwd=str(request.notebook.parent))   # kernel starts and imports meanwhile
    warm = threading.Thread(target=_warm_exporters, daemon=True)
    warm.start()
    try:
        data = prepared or handover.prepare(request)
    except BaseException:
        kernel.shutdown()
        if font_proc is not None:
            font_proc.wait()
        raise
    timings["prepare"] = time.perf_counter() - t0

    final_dir = request.folder
    final_dir.mkdir(parents=True, exist_ok=True)
    stem = request.stem
    staging = final_dir / f".staging-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    ACTIVE.update(staging=staging, kernel=kernel)
    try:
        frames = handover.write(data, (staging / ".handover").resolve())   # the kernel runs in the notebook's folder
        import papermill as pm
        executed = staging / f"{stem}.ipynb"
        t = time.perf_counter()
        try:
            km = kernel.km()
            pm.execute_notebook(_literal(request.notebook), _literal(executed),
                                parameters=request.notebook_parameters(frames),
                                kernel_name=kernel_name, progress_bar=False, log_output=False,
                                cwd=str(request.notebook.parent),
                                request_save_on_cell_execute=False,  # one write at the end, not one per cell
                                **({"km": km} if km is not None else {}))
        except pm.PapermillExecutionError as exc:
            failed_dir = final_dir / "failed"
            failed_dir.mkdir(exist_ok=True)
            kept = failed_dir / f"{stem}.ipynb"
            if executed.exists():
                os.replace(executed, kept)
            cell, line = _failed_cell(kept)
            raise ReportError(
                f"notebook {request.notebook.name} failed in cell {cell} ({line}): {exc.ename}: {exc.evalue}; "
                f"the executed notebook is kept at {kept}", cell=cell, ename=exc.ename, evalue=exc.evalue,
                failed_notebook=str(kept)) from None
        finally:
            kernel.shutdown()
        timings["execute"] = time.perf_counter() - t
        import nbformat
        nb = nbformat.read(str(executed), as_version=4)
        warm.join()
        from . import export
        font = fontcache.wait(font_proc, chars)
        font_proc = None
        timings.update(export.export(nb, lang=request.lang, base_dir=staging, font=font, font_chars=chars,
                                     font_file=fontcache.subset_path(chars),
                                     html_path=staging / f"{stem}.html" if "html" in request.formats else None,
                                     pdf_path=staging / f"{stem}.pdf" if "pdf" in request.formats else None))
        handover.publish(data, staging, stem)
        shutil.rmtree(frames)
        result = ReportResult(request, timings=timings)
        for f in sorted(staging.iterdir()):
            target = final_dir / f.name
            os.replace(f, target)
            result.outputs[f.name[len(stem):].lstrip("._")] = target
        failed = final_dir / "failed" / f"{stem}.ipynb"
        if failed.exists():  # a later success supersedes an earlier failure
            failed.unlink()
        result.seconds = time.perf_counter() - t0
        return result
    finally:
        if font_proc is not None:
            font_proc.wait()
        shutil.rmtree(staging, ignore_errors=True)
        ACTIVE.clear()


def _failed_cell(executed: Path) -> tuple[int | None, str]:
    """The failing cell as the analyst counts it (their notebook's cells, papermill's injected one
    not counted) and the first line of its code."""
    import json
    try:
        cells = json.loads(executed.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return None, ""
    papermills = {"injected-parameters", "papermill-error-cell-tag"}   # cells papermill added
    own = [c for c in cells if not papermills & set(c.get("metadata", {}).get("tags", []))]
    for i, c in enumerate(own, 1):
        if c.get("metadata", {}).get("papermill", {}).get("exception"):
            src = "".join(c.get("source", []))
            return i, next((ln.strip() for ln in src.splitlines() if ln.strip()), "")
    return None, ""


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

