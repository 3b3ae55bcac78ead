"""Unattended generation: run a jobs file's report requests in parallel, incrementally, resumably.

    analysis batch JOBS.yaml [--workers N] [--out DIR] [--force] [--scheduler ADDRESS]

Before any worker starts, the parent reads and checks the jobs file (:mod:`analysis.jobs`; a bad
file exits 2), skips what the manifest (:mod:`analysis.manifest`) shows up to date, and checks the
other requests against their data: a request for a region or year the data lacks is recorded as
failed and the others go on. Only what remains runs, in worker processes
(``concurrent.futures.ProcessPoolExecutor``; each worker imports papermill, nbconvert and
WeasyPrint once and runs job after job, each in its own kernel) or, with ``--scheduler``, on an
existing ``dask.distributed`` cluster through its Client, a futures executor too. When nothing
remains, no worker starts. A lock file (``filelock``) keeps two batches off the same folder.

One log line per job goes to the ``analysis.batch`` logger (under a progress bar on a terminal);
:func:`summary_table` is for stdout.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import shutil
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from . import manifest as mf
from .errors import AnalysisError
from .request import ReportRequest

log = logging.getLogger(__name__)
#: output kinds in the order a job's log line lists them
KINDS = ("html", "pdf", "ipynb", "xlsx", "csv")


@dataclass
class BatchResult:
    """What a batch did: one row per job (job, status, seconds, detail) and how it ran."""

    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    #: what ran the jobs: "local" (a process pool), "dask", or None when nothing had to run
    pool: str | None = None

    @property
    def failed(self) -> int:
        return sum(r["status"] == "failed" for r in self.rows)


# ------------------------------------------------------------------ in a worker

def _worker_init() -> None:
    """Each worker pays its imports once; SIGTERM unwinds the job (staging removed, kernel stopped)."""
    from .run import _warm_exporters, trim_imports
    trim_imports()
    _warm_exporters()
    import analysis.sections  # noqa: F401
    signal.signal(signal.SIGTERM, _abort_worker)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it sends SIGTERM


def _abort_worker(signum, frame):
    """Stop the running job at once: its kernel is killed and its staging folder deleted."""
    from .run import abort
    abort()
    os._exit(128 + signum)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def run_job(request: dict, labels: dict | None = None) -> dict:
    """Produce one report from ``ReportRequest.to_dict()``; never raises for the job's own failures
    (they are its result).

    Returns:
        status (``ok``/``failed``), started, seconds, outputs (path relative to OUT → sha256),
        timings, error.
    """
    from .run import run_request, trim_imports
    trim_imports()
    t0 = time.perf_counter()
    started = _now()
    req = ReportRequest.from_dict(request, labels=labels)
    try:
        res = run_request(req)
        return {"status": "ok", "started": started, "seconds": round(time.perf_counter() - t0, 2),
                "outputs": mf.output_checksums(res.outputs, req.out),
                "timings": {k: round(v, 2) for k, v in res.timings.items()}, "error": ""}
    except AnalysisError as exc:
        return {"status": "failed", "started": started, "seconds": round(time.perf_counter() - t0, 2),
                "outputs": {}, "error": str(exc)}
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a bug, reported as this job's failure so the others go on
        import traceback
        return {"status": "failed", "started": started, "seconds": round(time.perf_counter() - t0, 2),
                "outputs": {}, "error": f"internal error: {type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()}


# ------------------------------------------------------------------ in the parent

def _describe_outputs(outputs: dict) -> str:
    """'渝北区/2024: html, pdf, ipynb, xlsx, csv' for a job's output files."""
    if not outputs:
        return ""
    folders = sorted({str(Path(p).parent) for p in outputs})
    kinds = sorted({Path(p).suffix.lstrip(".") for p in outputs},
                   key=lambda k: KINDS.index(k) if k in KINDS else len(KINDS))
    return f"{', '.join(folders)}: {', '.join(kinds)}"


def _detail(entry: dict) -> str:
    if entry["status"] == "failed":
        return (entry.get("error", "").splitlines() or [""])[0]
    return _describe_outputs(entry.get("outputs") or {})


class _Progress:
    """One log line per job (``analysis.batch``, INFO); on a terminal, under a tqdm bar."""

    def __init__(self, total: int):
        self._stack = ExitStack()
        self.bar = None
        if sys.stderr.isatty() and log.isEnabledFor(logging.INFO):
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm
            from .log import NAME
            self.bar = self._stack.enter_context(tqdm(total=total, unit="report", dynamic_ncols=True))
            self._stack.enter_context(logging_redirect_tqdm(loggers=[logging.getLogger(NAME)]))

    def job(self, key: str, entry: dict) -> None:
        # a failure is a warning: `-q` (warnings only) still names the job and its error
        log.log(logging.WARNING if entry["status"] == "failed" else logging.INFO,
                "%s %-7s %s %.1fs %s", _now(), entry["status"], key, entry.get("seconds", 0), _detail(entry))
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        self._stack.close()


def run_batch(jobs_file: str | os.PathLike, *, workers: int | None = None, out: str | os.PathLike = "reports",
              force: bool = False, scheduler: str | None = None, notebook_dirs=()) -> BatchResult:
    """Run every job of a jobs file; see the module docstring.

    Raises:
        UsageError: (exit 2) the jobs file is invalid; nothing ran.
        AnalysisError: (exit 1) another batch holds the folder's lock, or no Dask scheduler answers.
    """
    from filelock import FileLock, Timeout
    from .jobs import load_jobs
    out = Path(out).resolve()  # workers, local or on a cluster, write to the same absolute folder
    requests = load_jobs(jobs_file, out=out, notebook_dirs=notebook_dirs)
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out / ".batch.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise AnalysisError(f"{out}: another batch is writing to this folder (lock {out / '.batch.lock'} is held); "
                            "wait for it to finish or use another --out") from None
    try:
        return _run_locked(requests, out, workers, force, scheduler)
    finally:
        lock.release()


def _sweep(out: Path) -> None:
    """Remove what an unfinished job or manifest write leaves: staging folders, temporary manifests."""
    for d in out.rglob(".staging-*"):
        shutil.rmtree(d, ignore_errors=True)
    mf.remove_temporary(out)


class _Run:
    """One locked batch: its manifest, the rows of its result and its progress lines."""

    def __init__(self, out: Path, total: int):
        self.out = out
        self.manifest = mf.Manifest(out)
        self.result = BatchResult()
        self.progress = _Progress(total)

    def _row(self, request: ReportRequest, entry: dict) -> None:
        self.progress.job(request.key, entry)
        self.result.rows.append({"job": request.key, "status": entry["status"],
                                 "seconds": entry.get("seconds", 0.0), "detail": _detail(entry)})

    def finish(self, request: ReportRequest, inputs: dict, outcome: dict) -> None:
        """Record a job's outcome in the manifest, its log line and its row."""
        self._row(request, self.manifest.record(request, inputs=inputs, result=outcome))

    def to_run(self, requests: list[ReportRequest], force: bool) -> list[tuple[ReportRequest, dict]]:
        """The requests a worker has to run, with their input checksums. Those up to date are
        skipped; those whose region or year is not in their data are recorded as failed."""
        from .jobs import check_data
        todo = []
        for request in requests:
            inputs = mf.input_checksums(request)
            prev = self.manifest.get(request.key)
            if not force and mf.up_to_date(prev, inputs, self.out):
                self._row(request, {"status": "skipped", "seconds": 0.0, "outputs": prev["outputs"]})
            else:
                todo.append((request, inputs))
        if not todo:
            return todo
        t, started = time.perf_counter(), _now()
        failed = check_data([r for r, _ in todo])
        log.debug("checked %d request(s) against their data in %.2f s: %d failed", len(todo),
                  time.perf_counter() - t, len(failed))
        for request, inputs in todo:
            if request.key in failed:
                self.finish(request, inputs, {"status": "failed", "started": started, "seconds": 0.0,
                                              "outputs": {}, "error": str(failed[request.key])})
        return [(r, i) for r, i in todo if r.key not in failed]


def _run_locked(requests: list[ReportRequest], out: Path, workers, force, scheduler) -> BatchResult:
    t0 = time.perf_counter()
    _sweep(out)  # left by a run that was killed outright: never a result
    run = _Run(out, len(requests))
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        todo = run.to_run(requests, force)
        if not todo:
            log.debug("nothing to run: no worker started")
        elif scheduler:
            run.result.pool = "dask"
            _run_dask(todo, scheduler, run.finish)
        else:
            run.result.pool = "local"
            _run_local(todo, workers or os.cpu_count() or 1, run.finish)
    except KeyboardInterrupt:
        run.result.interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        run.progress.close()
        _sweep(out)  # a worker that died outright leaves its staging folder: never a result
    run.result.seconds = time.perf_counter() - t0
    return run.result


def _run_local(todo, workers: int, finish) -> None:
    import multiprocessing as mp
    n = min(workers, len(todo))
    log.debug("starting %d local worker process(es) for %d job(s)", n, len(todo))
    ex = ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn"), initializer=_worker_init)
    futures = {ex.submit(run_job, request.to_dict(), request.labels): (request, inputs) for request, inputs in todo}
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for f in done:
                request, inputs = futures[f]
                try:
                    outcome = f.result()
                except Exception as exc:  # the worker died (killed, out of memory): this job failed
                    outcome = {"status": "failed", "seconds": 0.0, "outputs": {},
                               "error": f"worker process failed: {type(exc).__name__}: {exc}"}
                finish(request, inputs, outcome)
        ex.shutdown(wait=True)
    except KeyboardInterrupt:
        for f in futures:
            f.cancel()
        # running jobs: SIGTERM lets each worker unwind (staging removed, kernel shut down)
        procs = list(getattr(ex, "_processes", {}).values())
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
        ex.shutdown(wait=False, cancel_futures=True)
        raise


def _run_dask(todo, address: str, finish) -> None:
    from distributed import Client, as_completed
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:  # ValueError: an address dask cannot parse
        raise AnalysisError(f"--scheduler {address}: expected a running dask scheduler, found none ({exc})") from None
    log.debug("submitting %d job(s) to the dask scheduler %s", len(todo), address)
    futures = {}
    try:
        for request, inputs in todo:
            f = client.submit(run_job, request.to_dict(), request.labels, pure=False,
                              key=f"report-{request.key}-{time.time_ns()}")
            futures[f] = (request, inputs)
        for f in as_completed(list(futures)):
            request, inputs = futures[f]
            try:
                outcome = f.result()
            except Exception as exc:  # the worker died or the task errored outside run_job
                outcome = {"status": "failed", "seconds": 0.0, "outputs": {},
                           "error": f"dask task failed: {type(exc).__name__}: {exc}"}
            finish(request, inputs, outcome)
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise
    finally:
        client.close()


def summary_table(result: BatchResult) -> str:
    """The batch as a table (job, status, seconds, outputs or error) and a count line, for stdout."""
    from .table import render_table
    rows = [[r["job"], r["status"], f"{r['seconds']:.1f}", r["detail"]] for r in result.rows]
    ok = sum(r["status"] == "ok" for r in result.rows)
    skipped = sum(r["status"] == "skipped" for r in result.rows)
    tail = f"{ok} ok, {skipped} skipped, {result.failed} failed in {result.seconds:.1f} s"
    if result.interrupted:
        tail += " — interrupted: unfinished jobs left no files and will run next time"
    return render_table(rows, ["job", "status", "seconds", "outputs or error"], max_width=70) + "\n" + tail
