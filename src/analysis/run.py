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

import errno
import functools
import logging
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

from typing import TYPE_CHECKING

from .errors import AnalysisError, ReportError
from .request import ReportRequest

if TYPE_CHECKING:   # handover imports pandas: not before the kernel is on its way (start_kernel)
    from .handover import ReportData

log = logging.getLogger(__name__)

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


def _warm_exporters(pdf: bool = True) -> None:
    """Import the exporters and pay nbconvert's first-use costs; WeasyPrint (0.4–0.6 CPU s) only if a
    PDF is to be made (otherwise it is never imported)."""
    import papermill  # noqa: F401
    if pdf:
        import weasyprint  # noqa: F401
    from . import export
    export.warm()


class _Background(threading.Thread):
    """Work done in a thread while the kernel runs the notebook; :meth:`join` re-raises its error."""

    def __init__(self, *steps):
        super().__init__(daemon=True, name="report-background")
        self.steps, self.error = steps, None
        self.start()

    def run(self) -> None:
        try:
            for step in self.steps:
                step()
        except BaseException as exc:   # re-raised in the run's thread by join()
            self.error = exc

    def join(self, timeout: float | None = None, *, raise_error: bool = True) -> None:
        super().join(timeout)
        if raise_error and self.error is not None:
            raise self.error


@dataclass
class ReportResult:
    request: ReportRequest
    outputs: dict[str, Path] = field(default_factory=dict)    # kind (html, pdf, ipynb, metrics.csv …) → file
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    #: the kernel's CPU seconds and peak memory, and this process's peak memory (MB): what the report cost
    usage: dict[str, float] = field(default_factory=dict)


def _literal(path: Path) -> str:
    """A path for papermill, which runs its paths through ``str.format`` with the parameters: braces
    doubled, so ``{data}`` in a folder name stays text."""
    return str(path).replace("{", "{{").replace("}", "}}")


class Interrupted(AnalysisError):
    """Raised when a run is told to stop (its batch was interrupted) before it published anything."""

    exit_code = 130


class KernelDied(ReportError):
    """Raised when the kernel process dies while it runs the notebook (killed, out of memory, a crash)."""


def report_chars(request: ReportRequest) -> str:
    """The characters a report of this request can show: its data and side files, the catalog, the
    package's strings and the request's parameters (what the font subset is built for). A big data
    file's characters are read once per version of the file (:func:`analysis.fontcache.charset`)."""
    from . import fontcache, paths
    return fontcache.charset([request.data, request.catalog, *paths.side_files(request.data),
                              *[d / n for d in paths.default_data_dirs() for n in paths.SIDE_FILES]],
                             extra=" ".join(map(str, request.notebook_parameters().values())))


def _engine():
    """papermill's nbclient engine, registered as ``analysis``, that keeps its execution manager in
    ``ACTIVE["nb_man"]``: when the kernel dies, papermill raises without writing the notebook, and
    the manager's notebook says which cell was running and holds the outputs up to it."""
    from papermill.engines import NBClientEngine, papermill_engines
    if "analysis" not in papermill_engines._engines:

        class Engine(NBClientEngine):
            @classmethod
            def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
                ACTIVE["nb_man"] = nb_man
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

        papermill_engines.register("analysis", Engine)
    return "analysis"


def start_kernel(notebook: Path, kernel_name: str | None = None):
    """A kernel for a report of ``notebook``, starting now in the background (:class:`analysis.kernel.WarmKernel`):
    ``analysis report`` starts it before it checks the request, so that it warms up meanwhile."""
    from .kernel import WarmKernel
    kernel = WarmKernel.for_notebook(notebook, kernel_name)
    ACTIVE.update(kernel=kernel)     # a signal meanwhile stops it (abort)
    kernel.wait_launched(timeout=10)   # its launch first: the request's checks import for a while meanwhile
    return kernel


def run_request(request: ReportRequest, *, prepared: ReportData | None = None,
                kernel_name: str | None = None, lock: bool = True,
                stop: threading.Event | None = None, kernel=None) -> ReportResult:
    """Produce one report: prepare the frames once, execute the notebook on them, export, publish.

    Python's automatic garbage collection is paused meanwhile (:func:`analysis.gcpause.paused`).

    The kernel started ahead is shut down and the staging folder removed on every way out (the
    request fails against its data, a cell fails, an exception, :func:`interruptible`'s signals).

    Args:
        lock: take the output folder's lock (:mod:`analysis.lock`); a batch holds it for its workers
            and passes False.
        stop: set (with :func:`stop_current`) when the run must stop: it then raises
            :class:`Interrupted` before exporting or publishing, and a kernel killed for it is no failure.
        kernel: a kernel already starting for this request's notebook (:func:`start_kernel`); the run
            owns it from now on and stops it on every way out.

    Raises:
        DataError, AnalysisError: bad data, a region or year not in it (before anything is written).
        FolderBusy: another report or batch writes into the output folder (exit 2).
        ReportError: a cell failed; the executed notebook is kept under ``failed/``.
        KernelDied: the kernel died while running a cell; the notebook up to it is kept under ``failed/``.
        Interrupted: ``stop`` was set.
    """
    from .gcpause import paused
    with paused():
        return _run_request(request, prepared=prepared, kernel_name=kernel_name, lock=lock, stop=stop, kernel=kernel)


def _run_request(request: ReportRequest, *, prepared: ReportData | None, kernel_name: str | None, lock: bool,
                 stop: threading.Event | None, kernel) -> ReportResult:
    from . import fontcache, handover
    from .lock import FolderLock
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    stop = stop or threading.Event()
    final_dir = request.folder
    folder_lock = FolderLock(request.out, "analysis report", label=request.labels["out"])
    if kernel is not None:
        ACTIVE.update(kernel=kernel)
    try:
        if lock and request.out.is_dir():
            folder_lock.acquire()        # at once: a batch writing there stops us before any work is done
            ACTIVE.update(lock=folder_lock)
        chars = report_chars(request)
        trim_imports()
        from .kernel import WarmKernel
        font_proc = fontcache.start(chars)            # a font subset for this data, built on the other core
        ACTIVE.update(font=font_proc)
        if kernel is None:
            kernel = WarmKernel.for_notebook(request.notebook, kernel_name)   # starts and imports meanwhile
            ACTIVE.update(kernel=kernel)
    except BaseException:
        if kernel is not None:
            kernel.shutdown()
        folder_lock.release()
        raise
    staging: Path | None = None
    side: _Background | None = None
    try:
        data = prepared or handover.prepare(request)
        timings["prepare"] = time.perf_counter() - t0

        stem = request.stem
        if lock and not folder_lock.held:
            try:
                request.out.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise AnalysisError(f"{request.labels['out']} {request.out}: expected a folder the report can be "
                                    f"written to, found that it cannot be created ({exc.strerror})") from None
            folder_lock.acquire()
            ACTIVE.update(lock=folder_lock)
        if lock:   # left by a report of this folder killed outright: nobody else can be writing there now
            for old in final_dir.glob(".staging-*"):
                shutil.rmtree(old, ignore_errors=True)
        staging = final_dir / f".staging-{uuid.uuid4().hex[:8]}"
        ACTIVE.update(staging=staging, out=request.out)  # before it exists: a signal now still removes it
        try:
            staging.mkdir(parents=True)
        except OSError as exc:
            raise AnalysisError(f"{request.labels['out']} {request.out}: expected a folder the report can be "
                                f"written to, found that {final_dir} cannot be created ({exc.strerror})") from None
        frames = handover.write(data, (staging / ".handover").resolve())   # the kernel runs in the notebook's folder
        # while the kernel runs the notebook, this process (otherwise waiting) imports the exporters and
        # writes the metrics and checks files; started only now, they do not slow the preparation down
        # (an absolute folder: papermill changes the working folder to the notebook's while it runs)
        side = _Background(functools.partial(_warm_exporters, "pdf" in request.formats),
                           lambda folder=staging.absolute(): handover.publish(data, folder, stem))
        import papermill as pm
        from nbclient.exceptions import DeadKernelError
        executed = staging / f"{stem}.ipynb"
        t = time.perf_counter()
        try:
            km = kernel.km()
            if stop.is_set():
                raise Interrupted("stopped before the notebook ran")
            if km is None:   # one more try the same way; papermill's own kernel would not die with us
                log.warning("the kernel started ahead failed (%s: %s); starting another",
                            type(kernel.error).__name__, kernel.error)
                kernel.shutdown()
                kernel = WarmKernel.for_notebook(request.notebook, kernel_name)
                ACTIVE.update(kernel=kernel)
                km = kernel.km()
                if stop.is_set():
                    raise Interrupted("stopped before the notebook ran")
                if km is None:
                    raise ReportError(f"notebook {request.notebook.name}: the kernel "
                                      f"{kernel_name or kernel.kernel_name} could not be started "
                                      f"({type(kernel.error).__name__}: {kernel.error})")
            nb = pm.execute_notebook(_literal(request.notebook), _literal(executed),
                                parameters=request.notebook_parameters(frames), engine_name=_engine(),
                                kernel_name=kernel_name, progress_bar=False, log_output=False,
                                cwd=str(request.notebook.parent),
                                request_save_on_cell_execute=False,  # one write at the end, not one per cell
                                **({"km": km} if km is not None else {}))
        except pm.PapermillExecutionError as exc:
            if stop.is_set():
                raise Interrupted("stopped while the notebook ran") from None
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
        except DeadKernelError:
            if stop.is_set():
                raise Interrupted("stopped while the notebook ran") from None
            raise _kernel_died(request, kernel, final_dir, stem) from None
        finally:
            kernel.shutdown()
        timings["execute"] = time.perf_counter() - t
        if stop.is_set():
            raise Interrupted("stopped after the notebook ran")
        side.join()
        from . import export
        font, font_file = fontcache.wait(font_proc, chars)
        font_proc = None
        if stop.is_set():
            raise Interrupted("stopped before the report was exported")
        timings.update(export.export(nb, lang=request.lang, base_dir=staging, font=font, font_file=font_file,
                                     html_path=staging / f"{stem}.html" if "html" in request.formats else None,
                                     pdf_path=staging / f"{stem}.pdf" if "pdf" in request.formats else None))
        shutil.rmtree(frames)
        _record_provenance(request, nb, executed, staging)
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KB on Linux
        result = ReportResult(request, timings=timings, usage={
            **{f"kernel_{k}": v for k, v in kernel.usage.items()}, "process_peak_mb": round(peak, 1)})
        if stop.is_set():
            raise Interrupted("stopped before the report was published")
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
    except OSError as exc:
        raise _write_failed(request, exc) from None
    finally:
        kernel.shutdown()
        if side is not None:
            side.join(raise_error=False)
        if font_proc is not None:
            font_proc.wait()
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
            _remove_empty(final_dir, request.out)
        ACTIVE.clear()
        folder_lock.release()


#: errors of a writer that mean the output folder has no room, or no right, to take the report
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def _write_failed(request: ReportRequest, exc: OSError) -> OSError | AnalysisError:
    """A failed write into the output folder (full, over quota, read-only) as a message naming the folder;
    any other OSError as it is."""
    name = str(exc.filename or "")
    if exc.errno not in _NO_ROOM and not name.startswith(str(request.out)):
        return exc
    what = f" writing {Path(name).name}" if name else ""
    return AnalysisError(f"{request.labels['out']} {request.out}: expected a folder the report can be written to, "
                         f"found that{what or ' writing'} failed ({exc.strerror or exc}); nothing was published and "
                         "earlier reports there are untouched")


#: where a finished report records what it was made from, in its executed notebook's metadata
PROVENANCE_KEY = "analysis"


def _record_provenance(request: ReportRequest, nb, executed: Path, staging: Path) -> None:
    """Write into the executed notebook what the report was made from and the sha256 of the files
    published with it, so that a batch manifest lost or broken can be rebuilt from the outputs
    (:func:`analysis.manifest.rebuild`)."""
    import datetime as _dt
    import json
    from . import manifest
    siblings = {f.name: manifest.sha256_file(f) for f in sorted(staging.iterdir())
                if f.is_file() and f != executed}
    nb.metadata[PROVENANCE_KEY] = {
        "key": request.key,
        "request": {k: v for k, v in request.to_dict().items() if k != "out"},
        "inputs": manifest.input_checksums(request),
        "outputs": siblings,
        "finished": _dt.datetime.now().isoformat(timespec="seconds")}
    # as nbformat writes it (transient display ids removed), without validating the whole notebook again
    from nbformat.v4.rwbase import strip_transient
    nb = strip_transient(nb)
    executed.write_text(json.dumps(nb, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _kernel_died(request: ReportRequest, kernel, final_dir: Path, stem: str) -> "KernelDied":
    """The error for a kernel that died mid-notebook, with the cell it was running; the notebook up to
    that cell is kept under ``failed/`` as a failing cell's is."""
    nb_man = ACTIVE.get("nb_man")
    cell, line, kept = None, "", None
    if nb_man is not None:
        papermills = {"injected-parameters", "papermill-error-cell-tag"}
        own = [c for c in nb_man.nb.cells if not papermills & set(c.get("metadata", {}).get("tags", []))]
        started = [i for i, c in enumerate(own, 1) if c.get("metadata", {}).get("papermill", {}).get("start_time")]
        if started:
            cell = started[-1]
            src = "".join(own[cell - 1].get("source", []))
            line = next((ln.strip() for ln in src.splitlines() if ln.strip()), "")
        try:
            import nbformat
            (final_dir / "failed").mkdir(parents=True, exist_ok=True)
            kept = final_dir / "failed" / f"{stem}.ipynb"
            nbformat.write(nb_man.nb, str(kept))
        except OSError:
            kept = None
    code = kernel.poll()
    how = ""
    if code is not None and code < 0:
        try:
            how = f" (killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f" (killed by signal {-code}"
        how += ", as the system does when memory runs out)" if code == -signal.SIGKILL else ")"
    elif code is not None:
        how = f" (exit status {code})"
    where = f"while running cell {cell} ({line})" if cell else "before it ran a cell"
    kept_text = f"; the notebook up to that cell is kept at {kept}" if kept else ""
    return KernelDied(f"notebook {request.notebook.name}: the kernel died{how} {where}{kept_text}",
                      cell=cell, ename="DeadKernelError", evalue="the kernel died",
                      failed_notebook=str(kept) if kept else None)


def stop_current() -> None:
    """Ask the run under way in this process to stop, from another thread or a signal handler: its
    kernel and font process are killed now; the run itself raises :class:`Interrupted` (its ``stop``
    event must be set too) and removes its staging folder as it unwinds."""
    kernel = ACTIVE.get("kernel")
    if kernel is not None:
        kernel.shutdown(fast=True)
    font = ACTIVE.get("font")
    if font is not None and font.poll() is None:
        try:
            font.kill()
        except OSError:
            pass


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
    stop_current()
    staging = ACTIVE.get("staging")
    if staging is not None and not ACTIVE.get("publishing"):
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(staging.parent, ACTIVE.get("out", staging.parent))
    lock = ACTIVE.get("lock")
    if lock is not None and not ACTIVE.get("publishing"):
        lock.release()


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
