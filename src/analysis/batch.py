"""Unattended generation: a jobs file, parallel runs, a manifest, resume, and Dask beyond one machine.

    analysis batch JOBS.yaml [--workers N] [--out DIR] [--force] [--scheduler ADDRESS]

Jobs run in worker processes (``concurrent.futures.ProcessPoolExecutor``; each worker imports
papermill, nbconvert and WeasyPrint once and runs job after job, each in its own kernel) or, with
``--scheduler``, on an existing ``dask.distributed`` cluster through its Client, which is a
futures executor too. The manifest (``DIR/manifest.json``) records every job's parameters,
status, timings, error and the checksums of its inputs and outputs; it is rewritten atomically
after each job, so an interrupted batch keeps what finished and the next run resumes. A lock
file (``filelock``) keeps two batches off the same folder.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import __version__
from .paths import PACKAGE as PACKAGE_ROOT
from .paths import home as project_root
from .errors import AnalysisError, UsageError

TOP_KEYS = {"defaults", "matrix", "jobs"}
JOB_KEYS = {"notebook", "formats", "data", "catalog", "lang", "parameters"}
FORMATS = ("html", "pdf")
MANIFEST = "manifest.json"


@dataclass
class Job:
    """One report to produce."""

    parameters: dict
    notebook: str = "industry_report"
    formats: tuple = FORMATS
    data: str = ""
    catalog: str = ""
    origin: str = ""                 # where in the jobs file it came from

    @property
    def key(self) -> str:
        """The job's name in logs and the manifest: region/year/lang, plus what differs from the defaults."""
        from .data import default_data_path
        p = self.parameters
        key = f"{p['region']}/{p['year']}/{p.get('lang', 'zh')}"
        if self.notebook != "industry_report":
            key += f" [{self.notebook}]"
        if self.data and Path(self.data).resolve() != default_data_path().resolve():
            key += f" @{self.data}"
        extra = {k: v for k, v in p.items() if k not in ("region", "year", "lang")}
        if extra:
            key += " " + json.dumps(extra, ensure_ascii=False, sort_keys=True)
        return key

    def to_dict(self) -> dict:
        return {"parameters": self.parameters, "notebook": self.notebook, "formats": list(self.formats),
                "data": self.data, "catalog": self.catalog}


# ------------------------------------------------------------------ jobs file

def _bad(path: str, where: str, expected: str, found) -> UsageError:
    return UsageError(f"{path}: {where}: expected {expected}, found {found!r}")


def _existing_file(name: str, where: str, value, base: Path, expected: str) -> str:
    """A path from the jobs file, absolute, relative to the project or else to the jobs file; "" stays ""."""
    if not value:
        return ""
    p = Path(str(value))
    if not p.is_absolute():
        p = project_root() / p if (project_root() / p).exists() else base / p
    if not p.is_file():
        raise _bad(name, where, expected, value)
    return str(p.resolve())


def load_jobs(path: str | os.PathLike) -> list[Job]:
    """Read and validate a jobs file; every error names the key path (``jobs[2].parameters.yaer``).

    Raises:
        UsageError: (exit 2) for any problem, before anything runs.
    """
    from .run import declared_parameters, notebook_path
    p = Path(path)
    name = str(p)
    if not p.is_file():
        raise UsageError(f"{name}: expected a jobs file (YAML), found no such file")
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"{name}: expected valid UTF-8 YAML, found: {exc}") from None
    if not isinstance(doc, dict):
        raise _bad(name, "top level", "a mapping with defaults, matrix and/or jobs", type(doc).__name__)
    for k in doc:
        if k not in TOP_KEYS:
            raise _bad(name, str(k), "one of " + ", ".join(sorted(TOP_KEYS)), k)
    if not doc.get("matrix") and not doc.get("jobs"):
        raise _bad(name, "top level", "a matrix or a jobs list", "neither")
    base = p.parent

    def check_job_keys(entry, where, allow_params=True):
        if not isinstance(entry, dict):
            raise _bad(name, where, "a mapping", entry)
        for k in entry:
            if k not in JOB_KEYS or (k == "parameters" and not allow_params):
                raise _bad(name, f"{where}.{k}", "one of " + ", ".join(sorted(JOB_KEYS)), k)

    defaults = doc.get("defaults") or {}
    check_job_keys(defaults, "defaults")

    raw: list[tuple[str, dict]] = []
    matrix = doc.get("matrix")
    if matrix:
        if not isinstance(matrix, dict) or not matrix:
            raise _bad(name, "matrix", "a mapping of parameter → list of values", matrix)
        import itertools
        names = list(matrix)
        for k in names:
            if not isinstance(matrix[k], list) or not matrix[k]:
                raise _bad(name, f"matrix.{k}", "a non-empty list of values", matrix[k])
        for i, combo in enumerate(itertools.product(*(matrix[k] for k in names))):
            raw.append((f"matrix[{i}]", {"parameters": dict(zip(names, combo))}))
    jobs = doc.get("jobs") or []
    if not isinstance(jobs, list):
        raise _bad(name, "jobs", "a list of jobs", jobs)
    for i, entry in enumerate(jobs):
        check_job_keys(entry, f"jobs[{i}]")
        raw.append((f"jobs[{i}]", entry))

    out: list[Job] = []
    declared_cache: dict[str, dict] = {}
    for where, entry in raw:
        merged = {**{k: v for k, v in defaults.items() if k != "parameters"}, **{k: v for k, v in entry.items() if k != "parameters"}}
        params = {**(defaults.get("parameters") or {}), **(entry.get("parameters") or {})}
        if not isinstance(params, dict):
            raise _bad(name, f"{where}.parameters", "a mapping of parameter names to values", params)
        nb = str(merged.get("notebook", "industry_report"))
        try:
            nb_path = notebook_path(nb)
        except UsageError:
            from .paths import known_notebooks
            known = known_notebooks()
            raise _bad(name, f"{where}.notebook", "one of " + ", ".join(known), nb) from None
        declared = declared_cache.setdefault(str(nb_path), declared_parameters(nb_path))
        if "lang" in merged:
            params.setdefault("lang", merged["lang"])
        for k, v in params.items():
            if not isinstance(k, str) or not k.isidentifier() or k not in declared or k in ("data", "catalog"):
                allowed = [d for d in declared if d not in ("data", "catalog")]
                at = f"{where}.parameters.{k}" if isinstance(k, str) and k.isidentifier() else f"{where}.parameters[{k!r}]"
                raise _bad(name, at, "one of " + ", ".join(allowed), k)
        for req in ("region", "year"):
            if req not in params:
                raise _bad(name, f"{where}.parameters", f"a value for {req}", "none")
        if not isinstance(params["region"], str) or not params["region"].strip():
            raise _bad(name, f"{where}.parameters.region", "a region name", params["region"])
        if isinstance(params["year"], bool) or not isinstance(params["year"], int) or not 1900 <= params["year"] <= 2100:
            raise _bad(name, f"{where}.parameters.year", "a four-digit year", params["year"])
        params.setdefault("lang", "zh")
        if params["lang"] not in ("zh", "en"):
            raise _bad(name, f"{where}.parameters.lang", "zh or en", params["lang"])
        fmts = merged.get("formats", list(FORMATS))
        if isinstance(fmts, str):
            fmts = [f.strip() for f in fmts.split(",")]
        if not isinstance(fmts, list) or not fmts or any(f not in FORMATS for f in fmts):
            raise _bad(name, f"{where}.formats", "a list of html and/or pdf", fmts)
        data = _existing_file(name, f"{where}.data", merged.get("data", ""), base, "an existing observations file")
        cat = _existing_file(name, f"{where}.catalog", merged.get("catalog", ""), base, "an existing catalog file")
        out.append(Job(parameters=params, notebook=nb, formats=tuple(fmts), data=data, catalog=cat, origin=where))
    seen: dict[str, str] = {}
    for j in out:
        if j.key in seen:
            raise _bad(name, j.origin, f"a job different from {seen[j.key]}", j.key)
        seen[j.key] = j.origin
    return out


# ------------------------------------------------------------------ checksums and manifest

def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _code_checksum() -> str:
    h = hashlib.sha256(__version__.encode())
    for f in sorted(PACKAGE_ROOT.rglob("*")):
        if f.is_file() and f.suffix in (".py", ".j2", ".css"):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def input_checksums(job: Job) -> dict[str, str]:
    """What a job's result depends on: notebook, data (with its sources/regions files), catalog,
    parameters, and the package (version and code)."""
    from .catalog import default_catalog_path
    from .data import default_data_path
    from .run import notebook_path
    data = Path(job.data) if job.data else default_data_path()
    out = {"notebook": sha256_file(notebook_path(job.notebook)),
           "data": sha256_file(data) if data.is_file() else "missing",
           "catalog": sha256_file(Path(job.catalog) if job.catalog else default_catalog_path()),
           "parameters": hashlib.sha256(json.dumps({**job.parameters, "formats": sorted(job.formats)},
                                                   ensure_ascii=False, sort_keys=True).encode()).hexdigest(),
           "package": f"{__version__}+{_code_checksum()[:16]}"}
    for side in ("sources.csv", "regions.csv"):
        f = data.parent / side
        if f.is_file():
            out[side] = sha256_file(f)
    return out


class Manifest:
    """``DIR/manifest.json``, rewritten atomically (temporary file, then rename) after each job."""

    def __init__(self, out: Path):
        self.path = out / MANIFEST
        self.data = {"version": 1, "jobs": {}}
        if self.path.is_file():
            try:
                self.data = json.loads(self.path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                broken = self.path.with_suffix(".json.broken")
                os.replace(self.path, broken)  # kept for inspection; every job reruns
        self.data.setdefault("jobs", {})

    def get(self, key: str) -> dict | None:
        return self.data["jobs"].get(key)

    def record(self, key: str, entry: dict) -> None:
        self.data["jobs"][key] = entry
        self.data["updated"] = _dt.datetime.now().isoformat(timespec="seconds")
        tmp = self.path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)


def up_to_date(entry: dict | None, inputs: dict, out: Path) -> bool:
    """A finished job whose inputs are unchanged and whose outputs exist unchanged."""
    if not entry or entry.get("status") not in ("ok", "skipped") or entry.get("inputs") != inputs:
        return False
    outputs = entry.get("outputs") or {}
    if not outputs:
        return False
    for rel, digest in outputs.items():
        f = out / rel
        if not f.is_file() or sha256_file(f) != digest:
            return False
    return True


# ------------------------------------------------------------------ running one job (in a worker)

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


def run_job(job: dict, out: str) -> dict:
    """Produce one report; never raises for the job's own failures (they are its result)."""
    from .errors import AnalysisError as _AE
    from .run import run_report, trim_imports
    trim_imports()
    t0 = time.perf_counter()
    started = _dt.datetime.now().isoformat(timespec="seconds")
    p = dict(job["parameters"])
    region, year, lang = p.pop("region"), p.pop("year"), p.pop("lang", "zh")
    try:
        res = run_report(region, year, data=job["data"] or None, lang=lang, formats=job["formats"], out=out,
                         notebook=job["notebook"], catalog=job["catalog"] or None, parameters=p)
        outputs = {str(Path(f).relative_to(out)): sha256_file(Path(f)) for f in res.outputs.values()}
        return {"status": "ok", "started": started, "seconds": round(time.perf_counter() - t0, 2),
                "outputs": outputs, "timings": {k: round(v, 2) for k, v in res.timings.items()}, "error": ""}
    except _AE as exc:
        return {"status": "failed", "started": started, "seconds": round(time.perf_counter() - t0, 2),
                "outputs": {}, "error": str(exc)}
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a bug, reported as this job's failure so the others go on
        import traceback
        return {"status": "failed", "started": started, "seconds": round(time.perf_counter() - t0, 2),
                "outputs": {}, "error": f"internal error: {type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()}


# ------------------------------------------------------------------ the batch

@dataclass
class BatchResult:
    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    @property
    def failed(self) -> int:
        return sum(r["status"] == "failed" for r in self.rows)


def _describe_outputs(outputs: dict) -> str:
    """'渝北区/2024: html, pdf, ipynb, xlsx, csv' for a job's output files."""
    if not outputs:
        return ""
    folders = sorted({str(Path(p).parent) for p in outputs})
    kinds = sorted({Path(p).suffix.lstrip(".") for p in outputs}, key=lambda k: ["html", "pdf", "ipynb", "xlsx", "csv"].index(k)
                   if k in ["html", "pdf", "ipynb", "xlsx", "csv"] else 9)
    return f"{', '.join(folders)}: {', '.join(kinds)}"


class _Progress:
    """tqdm on a terminal; plain timestamped log lines otherwise (cron, CI)."""

    def __init__(self, total: int):
        self.tty = sys.stderr.isatty()
        self.bar = None
        if self.tty:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="report", dynamic_ncols=True)

    def log(self, key: str, entry: dict) -> None:
        status = entry["status"]
        detail = (entry.get("error", "").splitlines() or [""])[0] if status == "failed" else _describe_outputs(entry.get("outputs", {}))
        line = f"{_dt.datetime.now().isoformat(timespec='seconds')} {status:<7} {key} {entry.get('seconds', 0):.1f}s {detail}"
        if self.bar is not None:
            self.bar.write(line)
            self.bar.update(1)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def run_batch(jobs_file: str | os.PathLike, *, workers: int | None = None, out: str | os.PathLike = "reports",
              force: bool = False, scheduler: str | None = None) -> BatchResult:
    """Run every job of a jobs file; see the module docstring."""
    from filelock import FileLock, Timeout
    jobs = load_jobs(jobs_file)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out / ".batch.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise AnalysisError(f"{out}: another batch is writing to this folder (lock {out / '.batch.lock'} is held); "
                            "wait for it to finish or use another --out") from None
    try:
        return _run_locked(jobs, out, workers, force, scheduler)
    finally:
        lock.release()


def _sweep_staging(out: Path) -> None:
    """Remove what an unfinished job or manifest write can leave: staging folders, temporary manifests."""
    for d in out.rglob(".staging-*"):
        shutil.rmtree(d, ignore_errors=True)
    for f in out.glob(f".{MANIFEST}.*.tmp"):
        f.unlink(missing_ok=True)


def _run_locked(jobs: list[Job], out: Path, workers, force, scheduler) -> BatchResult:
    t0 = time.perf_counter()
    _sweep_staging(out)  # left by a run that was killed outright: never a result
    manifest = Manifest(out)
    result = BatchResult()
    todo = []
    progress = _Progress(len(jobs))
    for job in jobs:
        inputs = input_checksums(job)
        prev = manifest.get(job.key)
        if not force and up_to_date(prev, inputs, out):
            row = {"job": job.key, "status": "skipped", "seconds": 0.0, "detail": _describe_outputs(prev["outputs"])}
            result.rows.append(row)
            progress.log(job.key, {"status": "skipped", "seconds": 0.0, "outputs": prev["outputs"]})
            continue
        todo.append((job, inputs))

    def finish(job: Job, inputs: dict, entry: dict) -> None:
        entry = {"parameters": job.parameters, "notebook": job.notebook, "formats": list(job.formats),
                 "data": job.data, "inputs": inputs, "finished": _dt.datetime.now().isoformat(timespec="seconds"), **entry}
        manifest.record(job.key, entry)
        progress.log(job.key, entry)
        result.rows.append({"job": job.key, "status": entry["status"], "seconds": entry.get("seconds", 0.0),
                            "detail": (entry["error"].splitlines() or [""])[0] if entry["status"] == "failed" else _describe_outputs(entry["outputs"])})

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM,)}
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if todo and scheduler:
            _run_dask(todo, out, scheduler, finish)
        elif todo:
            _run_local(todo, out, workers or os.cpu_count() or 1, finish)
    except KeyboardInterrupt:
        result.interrupted = True
        _sweep_staging(out)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        progress.close()
        _sweep_staging(out)  # a worker that died outright leaves its staging folder: never a result
    result.seconds = time.perf_counter() - t0
    return result


def _run_local(todo, out: Path, workers: int, finish) -> None:
    import multiprocessing as mp
    ex = ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=mp.get_context("spawn"),
                             initializer=_worker_init)
    futures = {ex.submit(run_job, job.to_dict(), str(out)): (job, inputs) for job, inputs in todo}
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for f in done:
                job, inputs = futures[f]
                try:
                    entry = f.result()
                except Exception as exc:  # the worker died (killed, out of memory): this job failed
                    entry = {"status": "failed", "seconds": 0.0, "outputs": {},
                             "error": f"worker process failed: {type(exc).__name__}: {exc}"}
                finish(job, inputs, entry)
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


def _run_dask(todo, out: Path, address: str, finish) -> None:
    from distributed import Client, as_completed
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise AnalysisError(f"--scheduler {address}: expected a running dask scheduler, found none ({exc})") from None
    futures = {}
    try:
        for job, inputs in todo:
            f = client.submit(run_job, job.to_dict(), str(out.resolve()), pure=False, key=f"report-{job.key}-{time.time_ns()}")
            futures[f] = (job, inputs)
        for f in as_completed(list(futures)):
            job, inputs = futures[f]
            try:
                entry = f.result()
            except Exception as exc:  # the worker died or the task errored outside run_job
                entry = {"status": "failed", "seconds": 0.0, "outputs": {},
                         "error": f"dask task failed: {type(exc).__name__}: {exc}"}
            finish(job, inputs, entry)
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise
    finally:
        client.close()


def summary_table(result: BatchResult) -> str:
    from .table import render_table
    rows = [[r["job"], r["status"], f"{r['seconds']:.1f}", r["detail"]] for r in result.rows]
    ok = sum(r["status"] == "ok" for r in result.rows)
    skipped = sum(r["status"] == "skipped" for r in result.rows)
    tail = f"{ok} ok, {skipped} skipped, {result.failed} failed in {result.seconds:.1f} s"
    if result.interrupted:
        tail += " — interrupted: unfinished jobs left no files and will run next time"
    return render_table(rows, ["job", "status", "seconds", "outputs or error"], max_width=70) + "\n" + tail
