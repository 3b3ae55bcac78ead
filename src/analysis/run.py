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
import signal
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .errors import AnalysisError, ReportError
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

    The kernel started ahead is shut down and the staging folder removed on every way out (the
    request fails against its data, a cell fails, an exception, :func:`interruptible`'s signals).

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
    final_dir = request.folder
    trim_imports()
    from .kernel import WarmKernel
    font_proc = fontcache.start(chars)            # a font subset for this data, built on the other core
    ACTIVE.update(font=font_proc)
    kernel = WarmKernel(kernel_name, cwd=str(request.notebook.parent))   # kernel starts and imports meanwhile
    ACTIVE.update(kernel=kernel)
    staging: Path | None = None
    try:
        warm = threading.Thread(target=_warm_exporters, daemon=True)
        warm.start()
        data = prepared or handover.prepare(request)
        timings["prepare"] = time.perf_counter() - t0

        stem = request.stem
        staging = final_dir / f".staging-{uuid.uuid4().hex[:8]}"
        ACTIVE.update(staging=staging, out=request.out)  # before it exists: a signal now still removes it
        try:
            staging.mkdir(parents=True)
        except OSError as exc:
            raise AnalysisError(f"{request.labels['out']} {request.out}: expected a folder the report can be "
                                f"written to, found that {final_dir} cannot be created ({exc.strerror})") from None
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
        font, font_file = fontcache.wait(font_proc, chars)
        font_proc = None
        timings.update(export.export(nb, lang=request.lang, base_dir=staging, font=font, font_file=font_file,
                                     html_path=staging / f"{stem}.html" if "html" in request.formats else None,
                                     pdf_path=staging / f"{stem}.pdf" if "pdf" in request.formats else None))
        handover.publish(data, staging, stem)
        shutil.rmtree(frames)
        result = ReportResult(request, timings=timings)
        with _publishing():   # a signal now waits: the outputs move into place all together
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
        kernel.shutdown()
        if font_proc is not None:
            font_proc.wait()
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
            _remove_empty(final_dir, request.out)
        ACTIVE.clear()


def _remove_empty(folder: Path, out: Path) -> None:
    """Remove ``folder`` and its parents up to (not including) ``out`` while they are empty: a run
    that wrote nothing leaves no ``OUT/<region>/<year>/``."""
    try:
        top = out.resolve()
        folder = folder.resolve()
        while folder != top and top in folder.parents:
            folder.rmdir()          # only when empty
            folder = folder.parent
    except OSError:  # not empty, or not ours to remove: stop there
        pass


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
    """Stop what the current run has under way, now: kill its kernel (also one still starting) and
    its font process, delete its staging folder.

    Called from signal handlers (:func:`interruptible`, batch workers), where unwinding through
    asyncio and papermill would be slow and noisy; final outputs are only ever renamed into place,
    so none is partial.
    """
    kernel = ACTIVE.get("kernel")
    if kernel is not None:
        kernel.shutdown(fast=True)
    font = ACTIVE.get("font")
    if font is not None and font.poll() is None:
        try:
            font.kill()
        except OSError:
            pass
    staging = ACTIVE.get("staging")
    if staging is not None:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(staging.parent, ACTIVE.get("out", staging.parent))


@contextmanager
def _publishing():
    """Outputs move into place: a SIGTERM or SIGINT arriving now is handled once they all have."""
    ACTIVE["publishing"] = True
    try:
        yield
    finally:
        ACTIVE["publishing"] = False
        signum = ACTIVE.pop("pending", None)
        if signum is not None:
            signal.raise_signal(signum)


@contextmanager
def interruptible():
    """SIGTERM (what cron's timeout or systemd sends) and SIGINT (Ctrl-C) during a run stop it
    cleanly: :func:`abort`, one line on stderr, exit 130 — no traceback, no kernel left running,
    no staging folder left behind."""
    def stop(signum, frame):
        if ACTIVE.get("publishing"):
            ACTIVE["pending"] = signum
            return
        abort()
        try:
            sys.stderr.write(f"interrupted ({signal.Signals(signum).name}): stopped; no partial output is left "
                             "and earlier reports are untouched\n")
            sys.stderr.flush()
        finally:
            os._exit(130)

    if threading.current_thread() is not threading.main_thread():  # only the main thread may handle signals
        yield
        return
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
