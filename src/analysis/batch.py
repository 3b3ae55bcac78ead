"""Unattended generation: run a jobs file's report requests in parallel, incrementally, resumably.

    analysis batch JOBS.yaml [--workers N] [--out DIR] [--force] [--scheduler ADDRESS]

Before any worker starts, the parent reads and checks the jobs file (:mod:`analysis.jobs`; a bad
file exits 2), skips what the manifest (:mod:`analysis.manifest`) shows up to date, and checks the
other requests against their data: a request for a region or year the data lacks is recorded as
failed and the others go on. Only what remains runs, in worker processes
(``concurrent.futures.ProcessPoolExecutor``; each worker imports papermill, nbconvert and
WeasyPrint once and runs job after job, each in its own kernel, forked from a warm template the
worker keeps: :mod:`analysis.kernelfork`) or, with ``--scheduler``, on an
existing ``dask.distributed`` cluster through its Client, a futures executor too. When nothing
remains, no worker starts. The output folder's lock (:mod:`analysis.lock`, taken by ``analysis
report`` too) keeps a second writer out: it exits 2 at once.

Faults (issue 11):

- **Workers die with their batch.** Each local worker asks for SIGKILL when the batch process dies
  (:func:`analysis.proc.die_with_parent`), and so does each kernel and font process a worker starts:
  a batch killed outright leaves nothing running.
- **A dead worker** (SIGKILL, out of memory, a crash) breaks a ``ProcessPoolExecutor``: every job it
  had not finished fails with ``BrokenProcessPool``. Those jobs run again on a new pool. The job the
  dead worker was running (each job writes its worker's pid into a shared array when it starts, and
  the worker's exit status tells a death from the SIGTERM the pool sends the others) is charged with
  the death; after ``retries`` retries it is recorded as failed ("worker died N times"). Jobs that
  were merely waiting, or running in the workers the pool terminated, are run again uncharged.
- **Interruption** (SIGTERM, Ctrl-C): jobs not started are cancelled; running ones are told to stop
  (local workers by SIGUSR1, Dask tasks through a ``distributed.Event``): each kills its kernel and
  removes its staging folder, unless its outputs are already moving into place, in which case they
  finish. The batch waits for them (at most :data:`GRACE` seconds, or until a second signal, then
  kills local workers), records those that finished, and exits 130. The manifest therefore agrees
  with the files, also on Dask, where a running task cannot be killed from outside.

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
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import manifest as mf
from .errors import AnalysisError
from .request import ReportRequest

log = logging.getLogger(__name__)
#: output kinds in the order a job's log line lists them
KINDS = ("html", "pdf", "ipynb", "xlsx", "csv")
#: how many times a job whose worker process died is run again on a new pool before it is recorded
#: as failed (``analysis batch --retries N``; the limit is recorded in the manifest)
RETRIES = 2
#: seconds to wait for a Dask scheduler to answer (``analysis batch --scheduler-timeout``): a scheduler that
#: is starting gets this long; an address where none listens fails after it
SCHEDULER_TIMEOUT = 10.0
#: seconds a stopping batch waits for its running jobs to stop (each kills its kernel at once; an export
#: under way finishes first) before it kills their workers
GRACE = 30.0


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

#: in a local worker: set when the batch asks its jobs to stop (SIGUSR1)
_STOPPING = threading.Event()
#: in a local worker: the round's shared array, job index → pid of the worker running it (negative once done)
_SLOTS = None


def _worker_init(parent_pid: int | None = None, slots=None, pdf: bool = True, preload: bool = True) -> None:
    """Each worker dies with the batch, pays its imports once, and stops its job when told to: SIGUSR1
    asks the job to stop (the batch is interrupted and waits for it), SIGTERM aborts it and exits.
    ``pdf``: some job makes a PDF (WeasyPrint is imported ahead); ``preload``: some job's notebook uses
    what the kernel template imports ahead (:func:`analysis.kernel.preloads`)."""
    global _SLOTS
    signal.signal(signal.SIGTERM, _abort_worker)
    signal.signal(signal.SIGUSR1, _stop_worker)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; Ctrl-C reaches the whole process group
    if parent_pid is not None:
        from .proc import die_with_parent
        die_with_parent(parent_pid)
    _SLOTS = slots
    from .run import _warm_exporters, trim_imports
    trim_imports()
    from .kernel import use_template
    use_template(preload)   # the kernel template imports on the other core meanwhile (analysis.kernelfork)
    _warm_exporters(pdf)   # no PDF among the jobs: WeasyPrint is not imported (a later PDF job would import it)
    from .handover import keep_loaded
    keep_loaded()      # the next job of the same data file does not read and validate it again
    from .gcpause import settle
    settle()           # the imports live as long as the worker: out of every later collection


def _stop_worker(signum, frame):
    """The batch is stopping: the running job kills its kernel and unwinds; later jobs do not start."""
    from .run import stop_current
    _STOPPING.set()
    stop_current()


def _abort_worker(signum, frame):
    """Stop the running job at once: its kernel is killed and its staging folder deleted; then exit.
    Outputs already moving into place finish first (:func:`analysis.run._publishing` re-raises the signal)."""
    from .run import ACTIVE, abort
    if ACTIVE.get("publishing"):
        ACTIVE["pending"] = signum
        return
    abort()
    os._exit(128 + signum)


def _raise_interrupt(signum, frame):
    if _DEFERRED["on"]:      # the manifest is being written: interrupt once it is
        _DEFERRED["signal"] = signum
        return
    raise KeyboardInterrupt(f"signal {signum}")


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


class _DaskStop:
    """In a Dask task: a ``threading.Event`` set, by a watching thread that also stops the run under way
    (a running task cannot be killed from outside), when the batch's ``distributed.Event`` is set (the
    batch is stopping and waits for its tasks) or when the scheduler drops the task (its batch was
    killed outright, or cancelled it): no kernel outlives the batch, on a cluster either."""

    def __init__(self, name: str):
        from distributed import Event, get_worker
        self.remote = Event(name)     # in the task's thread: bound to this worker's client
        try:
            self.worker = get_worker()
            self.key = self.worker.get_current_task()
        except ValueError:            # not in a worker (called directly)
            self.worker = self.key = None
        self.event = threading.Event()
        self.done = threading.Event()
        if self.remote.is_set():
            self.event.set()
        else:
            threading.Thread(target=self._watch, daemon=True, name="batch-stop").start()

    def _dropped(self) -> bool:
        if self.worker is None:
            return False
        task = self.worker.state.tasks.get(self.key)
        return task is None or task.state in ("cancelled", "released", "forgotten")

    def _watch(self) -> None:
        from .run import stop_current
        while not self.done.is_set():
            try:
                if self.remote.wait(timeout=0.5) or self._dropped():
                    break
            except Exception:   # the scheduler is gone: nobody is left to record this job
                break
        else:
            return
        self.event.set()
        stop_current()


def run_job(request: dict, labels: dict | None = None, slot: int | None = None, stop: str | None = None) -> dict:
    """Produce one report from ``ReportRequest.to_dict()``; never raises for the job's own failures
    (they are its result).

    Args:
        slot: in a local worker, this job's index in the round's shared array (see the module docstring).
        stop: on Dask, the name of the batch's ``distributed.Event`` that asks its jobs to stop.

    Returns:
        status (``ok``/``failed``, or ``interrupted`` when the batch asked it to stop), started, seconds,
        outputs (path relative to OUT → sha256), timings, error.
    """
    from .run import Interrupted, run_request, trim_imports
    trim_imports()
    t0 = time.perf_counter()
    started = _now()
    if slot is not None and _SLOTS is not None:
        _SLOTS[slot] = os.getpid()
    watch = _DaskStop(stop) if stop else None
    stopping = watch.event if watch else _STOPPING

    def outcome(status: str, error: str = "", **more) -> dict:
        return {"status": status, "started": started, "seconds": round(time.perf_counter() - t0, 2),
                "outputs": {}, "error": error, **more}
    try:
        if stopping.is_set():
            return outcome("interrupted", "stopped before it started")
        req = ReportRequest.from_dict(request, labels=labels)
        try:
            res = run_request(req, lock=False, stop=stopping)   # the batch holds the folder's lock
            return {"status": "ok", "started": started, "seconds": round(time.perf_counter() - t0, 2),
                    "outputs": mf.output_checksums(res.outputs, req.out),
                    "timings": {k: round(v, 2) for k, v in res.timings.items()}, "usage": res.usage, "error": ""}
        except Interrupted as exc:
            return outcome("interrupted", str(exc))
        except AnalysisError as exc:
            return outcome("interrupted" if stopping.is_set() else "failed", str(exc))
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a bug, reported as this job's failure so the others go on
            if stopping.is_set():
                return outcome("interrupted", f"{type(exc).__name__}: {exc}")
            import traceback
            return outcome("failed", f"internal error: {type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    finally:
        if watch is not None:
            watch.done.set()
        if slot is not None and _SLOTS is not None:
            _SLOTS[slot] = -os.getpid()


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
              force: bool = False, scheduler: str | None = None, scheduler_timeout: float | None = None,
              notebook_dirs=(), retries: int | None = None) -> BatchResult:
    """Run every job of a jobs file; see the module docstring.

    Args:
        scheduler_timeout: seconds to wait for the Dask ``scheduler`` to answer (default
            :data:`SCHEDULER_TIMEOUT`).
        retries: how many times a job whose worker died runs again before it is recorded as failed
            (default :data:`RETRIES`).

    Raises:
        UsageError: (exit 2) the jobs file is invalid; nothing ran.
        FolderBusy: (exit 2) another batch or report is writing into ``out``; nothing ran.
        AnalysisError: (exit 1) ``out`` cannot be written to, or no Dask scheduler answers.
    """
    from .jobs import load_jobs
    from .lock import FolderLock
    retries = RETRIES if retries is None else retries
    out = Path(out).resolve()  # workers, local or on a cluster, write to the same absolute folder
    requests = load_jobs(jobs_file, out=out, notebook_dirs=notebook_dirs)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AnalysisError(f"--out {out}: expected a folder the reports can be written to, found that it cannot "
                            f"be created ({exc.strerror})") from None
    with FolderLock(out, "analysis batch"):
        return _run_locked(requests, out, workers, force, scheduler, scheduler_timeout or SCHEDULER_TIMEOUT, retries)


def _sweep(out: Path) -> None:
    """Remove what an unfinished job or manifest write leaves: staging folders, temporary manifests."""
    for d in out.rglob(".staging-*"):
        shutil.rmtree(d, ignore_errors=True)
    mf.remove_temporary(out)


#: while the manifest is written, an interrupting signal is noted here and acted on afterwards
_DEFERRED = {"on": False, "signal": None}


@contextmanager
def _signals_deferred():
    """SIGTERM and SIGINT wait while the manifest is written: a job that finished is recorded whole."""
    _DEFERRED.update(on=True, signal=None)
    try:
        yield
    finally:
        signum = _DEFERRED["signal"]
        _DEFERRED.update(on=False, signal=None)
        if signum is not None:
            raise KeyboardInterrupt(f"signal {signum}")


class _Run:
    """One locked batch: its manifest, the rows of its result and its progress lines."""

    def __init__(self, out: Path, total: int, retries: int):
        self.out = out
        self.manifest = mf.Manifest(out, retries=retries)
        self.result = BatchResult()
        self.progress = _Progress(total)

    def _row(self, request: ReportRequest, entry: dict) -> None:
        self.progress.job(request.key, entry)
        self.result.rows.append({"job": request.key, "status": entry["status"],
                                 "seconds": entry.get("seconds", 0.0), "detail": _detail(entry),
                                 "usage": entry.get("usage", {}) if entry["status"] == "ok" else {}})

    def finish(self, request: ReportRequest, inputs: dict, outcome: dict) -> None:
        """Record a job's outcome in the manifest (its outputs are in place by now), its log line and its row."""
        with _signals_deferred():
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
        if failed:   # recorded together, the manifest written once (10⁴ failures: not 10⁴ rewrites)
            with _signals_deferred():
                for request, inputs in todo:
                    if request.key in failed:
                        self._row(request, self.manifest.record(
                            request, inputs=inputs, write=False,
                            result={"status": "failed", "started": started, "seconds": 0.0, "outputs": {},
                                    "error": str(failed[request.key])}))
                self.manifest.write()
        return [(r, i) for r, i in todo if r.key not in failed]


def _run_locked(requests: list[ReportRequest], out: Path, workers, force, scheduler, scheduler_timeout,
                retries) -> BatchResult:
    t0 = time.perf_counter()
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGTERM, signal.SIGINT)} if main else {}
    run = None
    try:
        _sweep(out)  # left by a run that was killed outright: never a result
        run = _Run(out, len(requests), retries)
        todo = run.to_run(requests, force)
        if not todo:
            log.debug("nothing to run: no worker started")
        elif scheduler:
            run.result.pool = "dask"
            _run_dask(todo, scheduler, scheduler_timeout, run.finish)
        else:
            run.result.pool = "local"
            _run_local(todo, workers or os.cpu_count() or 1, run.finish, retries)
    except KeyboardInterrupt:
        if run is None:
            raise
        run.result.interrupted = True
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if run is not None:
            run.progress.close()
        _sweep(out)  # a worker that died outright leaves its staging folder: never a result
    run.result.seconds = time.perf_counter() - t0
    return run.result


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "its exit status is unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


#: exit statuses of workers the pool itself terminated after another one died (SIGTERM, default or ours)
_TERMINATED = {-signal.SIGTERM, 128 + signal.SIGTERM}


def _exit_codes(ex: ProcessPoolExecutor) -> dict[int, int | None]:
    """pid → exit status of a broken pool's workers. The pool's own thread terminates the survivors and
    reaps them all: it is waited for (shutdown) before the statuses are read, since a second reaper
    would find each process already gone and learn no status."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    ex.shutdown(wait=True)
    for p in procs:
        if p.exitcode is None:
            p.join(timeout=10)
    return {p.pid: p.exitcode for p in procs}


def _run_local(todo, workers: int, finish, retries: int = RETRIES) -> None:
    """Run the jobs on local worker processes, on a new pool for the jobs of a pool that broke."""
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    from .kernel import preloads
    ctx = mp.get_context("spawn")
    deaths: dict[str, list[int | None]] = {}   # request key → exit statuses of the workers that died running it
    queue = list(todo)
    while queue:
        n = min(workers, len(queue))
        log.debug("starting %d local worker process(es) for %d job(s)", n, len(queue))
        slots = ctx.Array("q", len(queue), lock=False)   # job index → pid of the worker running it
        pdf = any("pdf" in request.formats for request, _ in queue)
        preload = any(preloads(request.notebook) for request, _ in queue)
        ex = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_worker_init,
                                 initargs=(os.getpid(), slots, pdf, preload))
        futures = {}
        handled: set = set()
        lost: list[int] = []

        def record(i: int, outcome: dict) -> None:
            request, inputs = queue[i]
            if deaths.get(request.key):
                outcome = {**outcome, "worker_deaths": len(deaths[request.key])}
            finish(request, inputs, outcome)
        try:
            for i, (request, _) in enumerate(queue):
                futures[ex.submit(run_job, request.to_dict(), request.labels, i)] = i
            # the pool's thread watches the workers it knew when it last woke; submit() wakes it before
            # it starts a new worker, so a worker started last would die unnoticed until another event
            wakeup = getattr(ex, "_executor_manager_thread_wakeup", None)
            if wakeup is not None:
                wakeup.wakeup()
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for f in done:
                    handled.add(f)
                    i = futures[f]
                    try:
                        outcome = f.result()
                    except BrokenProcessPool:
                        lost.append(i)
                        continue
                    except Exception as exc:  # the job's result could not come back
                        outcome = {"status": "failed", "seconds": 0.0, "outputs": {},
                                   "error": f"worker process failed: {type(exc).__name__}: {exc}"}
                    if outcome["status"] == "interrupted":   # its worker was told to stop, not by this batch
                        outcome = {**outcome, "status": "failed",
                                   "error": f"the job was stopped from outside the batch ({outcome.get('error', '')})"}
                    record(i, outcome)
            codes = _exit_codes(ex) if lost else {}
            ex.shutdown(wait=True)
            lost.sort()                  # run again in the jobs file's order
        except BaseException:
            _stop_local(ex, futures, handled, record)
            raise
        queue = _requeue(queue, lost, slots, codes, deaths, retries, record)


def _requeue(queue, lost: list[int], slots, codes: dict, deaths: dict, retries: int, record) -> list:
    """After a pool broke: which of its unfinished jobs run again, charging the death to the job whose
    worker died (all jobs then running when no worker's status tells); a job charged more than
    ``retries`` times is recorded as failed."""
    running = [i for i in lost if slots[i] > 0]
    culprits = [i for i in running if codes.get(slots[i]) not in _TERMINATED | {0}]
    charged = set(culprits or running)
    again = []
    for i in lost:
        request, inputs = queue[i]
        if i in charged:
            code = codes.get(slots[i])
            deaths.setdefault(request.key, []).append(code)
            n = len(deaths[request.key])
            if n > retries:
                record(i, {"status": "failed", "seconds": 0.0, "outputs": {},
                           "error": f"worker died {n} times running this report (last: {_describe_exit(code)}); "
                                    f"not retried again (the retry limit is {retries})"})
                continue
            log.warning("%s %-7s %s: its worker process died (%s); running it again on a new pool (retry %d of %d)",
                        _now(), "retry", request.key, _describe_exit(code), n, retries)
        again.append((request, inputs))
    return again


def _stop_local(ex: ProcessPoolExecutor, futures: dict, handled: set, record) -> None:
    """The batch stops: jobs not started are cancelled, running ones told to stop (SIGUSR1); those
    that finish within GRACE are recorded; workers still alive then are killed."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    for f in futures:
        f.cancel()
    for p in procs:
        if p.is_alive():
            try:
                os.kill(p.pid, signal.SIGUSR1)
            except OSError:
                pass
    try:
        rest = [f for f in futures if f not in handled]
        try:
            wait(rest, timeout=GRACE)
        except KeyboardInterrupt:   # asked again: no more waiting
            log.warning("interrupted again: killing the workers")
        for f in rest:
            if f.done() and not f.cancelled() and f.exception() is None:
                outcome = f.result()
                if outcome["status"] in ("ok", "failed"):   # finished meanwhile: its files are in place
                    record(futures[f], outcome)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        ex.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            p.join(timeout=5)


def _run_dask(todo, address: str, timeout: float, finish) -> None:
    from distributed import Client, Event, as_completed
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:  # ValueError: an address dask cannot parse
        raise AnalysisError(f"--scheduler {address}: expected a running dask scheduler, found none within "
                            f"{timeout:g} s ({exc})") from None
    log.debug("submitting %d job(s) to the dask scheduler %s", len(todo), address)
    stop = Event(f"analysis-batch-stop-{uuid.uuid4().hex}", client=client)
    futures = {}
    handled: set = set()
    try:
        for request, inputs in todo:
            f = client.submit(run_job, request.to_dict(), request.labels, None, stop.name, pure=False,
                              key=f"report-{request.key}-{time.time_ns()}")
            futures[f] = (request, inputs)
        for f in as_completed(list(futures)):
            handled.add(f)
            request, inputs = futures[f]
            try:
                outcome = f.result()
            except Exception as exc:  # the worker died or the task errored outside run_job
                outcome = {"status": "failed", "seconds": 0.0, "outputs": {},
                           "error": f"dask task failed: {type(exc).__name__}: {exc}"}
            if outcome["status"] == "interrupted":
                outcome = {**outcome, "status": "failed",
                           "error": f"the job was stopped from outside the batch ({outcome.get('error', '')})"}
            finish(request, inputs, outcome)
    except BaseException:
        _stop_dask(client, stop, futures, handled, finish)
        raise
    finally:
        client.close()


def _stop_dask(client, stop, futures: dict, handled: set, finish) -> None:
    """Tell every task to stop (a running one kills its kernel), wait for them at most GRACE seconds,
    record those that finished (their files are in place), cancel the rest."""
    from distributed import wait as dask_wait
    try:
        stop.set()
    except Exception as exc:   # the scheduler is gone: its tasks went with it
        log.warning("could not tell the dask tasks to stop: %s", exc)
    rest = [f for f in futures if f not in handled]
    try:
        dask_wait(rest, timeout=GRACE)
    except KeyboardInterrupt:
        log.warning("interrupted again: not waiting for the dask tasks")
    except Exception:   # timed out: what has not finished is cancelled below
        pass
    for f in rest:
        if f.status == "finished":
            try:
                outcome = f.result(timeout=5)
            except Exception:
                continue
            if outcome["status"] in ("ok", "failed"):
                request, inputs = futures[f]
                finish(request, inputs, outcome)
    try:
        client.cancel([f for f in rest if f.status != "finished"])
    except Exception:
        pass


def summary_table(result: BatchResult) -> str:
    """The batch as a table (job, status, seconds, outputs or error) and a count line, for stdout."""
    from .table import render_table
    rows = [[r["job"], r["status"], f"{r['seconds']:.1f}", r["detail"]] for r in result.rows]
    ok = sum(r["status"] == "ok" for r in result.rows)
    skipped = sum(r["status"] == "skipped" for r in result.rows)
    tail = f"{ok} ok, {skipped} skipped, {result.failed} failed in {result.seconds:.1f} s"
    peaks = [(r["usage"].get("process_peak_mb"), r["usage"].get("kernel_peak_mb")) for r in result.rows
             if r.get("usage")]
    worker = max((w for w, _ in peaks if w), default=None)
    kernel = max((k for _, k in peaks if k), default=None)
    if worker or kernel:
        tail += "; peak memory " + ", ".join(
            f"{what} {mb:,.0f} MB" for what, mb in (("per worker", worker), ("per kernel", kernel)) if mb)
    if result.interrupted:
        tail += " — interrupted: unfinished jobs left no files and will run next time"
    return render_table(rows, ["job", "status", "seconds", "outputs or error"], max_width=70) + "\n" + tail
