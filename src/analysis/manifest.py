"""The batch manifest ``OUT/manifest.json``: per report request its status, timings, error and the
sha256 of its inputs and outputs, so that a rerun skips what is up to date.

Entries are keyed by :attr:`ReportRequest.key`. The file is rewritten atomically (a temporary
file, then ``os.replace``) after each job, once the job's outputs are in place, so an interrupted
batch keeps what finished and never lists a file that is not there.

The file is checked when read (:data:`SCHEMA`, with ``jsonschema``): one that is not a regular file,
not UTF-8 JSON, truncated or of another shape is renamed ``manifest.json.broken-<time>`` with a
warning, and the manifest is rebuilt from the reports found in the folder (:func:`rebuild`): each
report's executed notebook records what it was made from and the sha256 of the files published
with it, so reports whose files still match are known again and are not rerun.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import stat
from functools import lru_cache
from pathlib import Path

from . import __version__, paths
from .request import ReportRequest

FILE = "manifest.json"
#: 2: an entry's request is recorded as ``ReportRequest.to_dict()`` under ``request``
VERSION = 2
log = logging.getLogger(__name__)

_SHA = {"type": "string", "pattern": "^[0-9a-f]{64}$", "description": "a sha256 in hex"}
#: what a manifest must look like to be used; anything else is set aside and rebuilt
SCHEMA = {
    "type": "object", "description": "a mapping with version and jobs",
    "required": ["version", "jobs"],
    "properties": {
        "version": {"type": "integer", "description": "a version number"},
        "updated": {"type": "string"},
        "retries": {"type": "integer", "minimum": 0, "description": "a number of retries"},
        "jobs": {"type": "object", "description": "a mapping of request keys to entries",
                 "additionalProperties": {
                     "type": "object", "description": "an entry with request, inputs, status and outputs",
                     "required": ["request", "inputs", "status", "outputs"],
                     "properties": {
                         "request": {"type": "object", "description": "the request as a mapping"},
                         "inputs": {"type": "object", "additionalProperties": {"type": "string"},
                                    "description": "a mapping of inputs to checksums"},
                         "status": {"enum": ["ok", "failed", "skipped"], "description": "ok, failed or skipped"},
                         "outputs": {"type": "object", "additionalProperties": _SHA,
                                     "propertyNames": {"pattern": "^[^/].*$"},
                                     "description": "a mapping of output files to sha256"},
                         "error": {"type": "string"},
                         "seconds": {"type": "number"},
                         "worker_deaths": {"type": "integer", "minimum": 0},
                         "usage": {"type": "object", "additionalProperties": {"type": "number"},
                                   "description": "a mapping of resource names to numbers"}}}}}}


@lru_cache(maxsize=256)
def _sha256(version: tuple) -> str:
    h = hashlib.sha256()
    with open(version[0], "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    """The file's sha256 (hex); one read per file version (:func:`analysis.paths.version`) in a process,
    however many jobs share it."""
    return _sha256(paths.version(path))


@lru_cache(maxsize=1)
def code_checksum() -> str:
    """The package's version and code (``.py``, templates, CSS): a new version reruns every report."""
    h = hashlib.sha256(__version__.encode())
    for f in sorted(paths.PACKAGE.rglob("*")):
        if f.is_file() and f.suffix in (".py", ".j2", ".css"):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return f"{__version__}+{h.hexdigest()[:16]}"


def input_checksums(request: ReportRequest) -> dict[str, str]:
    """What a report depends on: notebook, data (with the ``sources.csv``/``regions.csv`` beside it),
    catalog, the parameters (region, year, language, title, the notebook's others, formats) and the
    package.

    Returns:
        name → sha256 (``package``: version and code checksum).
    """
    settings = {"region": request.region, "year": request.year, "lang": request.lang, "title": request.title,
                "parameters": request.parameters, "formats": sorted(request.formats)}
    out = {"notebook": sha256_file(request.notebook),
           "data": sha256_file(paths.data_file(request.data)),   # book.xlsx#Sheet2: the workbook
           "catalog": sha256_file(request.catalog),
           "parameters": hashlib.sha256(json.dumps(settings, ensure_ascii=False, sort_keys=True).encode()).hexdigest(),
           "package": code_checksum()}
    for f in paths.side_files(request.data):
        out[f.name] = sha256_file(f)
    return out


def output_checksums(outputs: dict[str, Path], out: Path) -> dict[str, str]:
    """A finished report's files as ``path relative to OUT → sha256``."""
    return {str(Path(f).relative_to(out)): sha256_file(Path(f)) for f in outputs.values()}


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


class Manifest:
    """``OUT/manifest.json``, checked when read (see the module docstring), rewritten atomically after each job."""

    def __init__(self, out: Path, *, retries: int | None = None):
        self.out = Path(out)
        self.path = self.out / FILE
        self.data = {"version": VERSION, "jobs": {}}
        #: where a broken manifest was set aside, if one was
        self.set_aside: Path | None = None
        if os.path.lexists(self.path):
            problem, data = read(self.path)
            if problem is None:
                self.data = data
            else:
                self.set_aside = _set_aside(self.path)
                self.data["jobs"] = rebuild(self.out)
                log.warning("%s: expected a batch manifest, found %s; kept it as %s and rebuilt the manifest from "
                            "the reports in the folder (%d found whose files match what they recorded)",
                            self.path, problem, self.set_aside.name, len(self.data["jobs"]))
        self.data["version"] = VERSION  # entries of version 1 have other input checksums: they rerun
        if retries is not None:
            self.data["retries"] = retries
        if self.set_aside is not None:
            self.write()    # at once: a run that records nothing still leaves the rebuilt manifest

    def get(self, key: str) -> dict | None:
        """The entry of a request key, or None."""
        return self.data["jobs"].get(key)

    def record(self, request: ReportRequest, *, inputs: dict[str, str], result: dict, write: bool = True) -> dict:
        """Record a job's result (status, started, seconds, outputs, error …) and write the file
        (``write=False``: the caller writes once after recording many, e.g. jobs that failed validation).

        Call it only once the job's outputs are in place: the file says they are.

        Returns:
            The entry as written.
        """
        recorded = {k: v for k, v in request.to_dict().items() if k != "out"}  # outputs are relative to OUT
        entry = {"request": recorded, "inputs": inputs, "finished": _now(), **result}
        self.data["jobs"][request.key] = entry
        self.data["updated"] = entry["finished"]
        if write:
            self.write()
        return entry

    def write(self) -> None:
        """Write the file atomically (:func:`analysis.paths.write_atomically`)."""
        from .paths import write_atomically
        write_atomically(self.path, json.dumps(self.data, ensure_ascii=False, indent=1))


def read(path: Path) -> tuple[str | None, dict | None]:
    """(what is wrong with the manifest at path, or None; its content when it is sound)."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"a file that cannot be read ({exc.strerror})", None
    if not stat.S_ISREG(st.st_mode):   # a folder, a FIFO (reading it would block), a link
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a symbolic link" if stat.S_ISLNK(st.st_mode) \
            else "not a regular file"
        return kind, None
    if st.st_size == 0:
        return "an empty file", None
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        return f"a file that cannot be read ({exc.strerror})", None
    except UnicodeDecodeError:
        return "a file that is not UTF-8 text", None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"text that is not JSON or is cut short ({exc.msg} at line {exc.lineno} column {exc.colno})", None
    from . import schema
    problems = schema.problems(_validator(), data, FILE)
    if problems:
        return "another shape (" + problems[0].split(": ", 1)[1] + ")", None
    return None, data


@lru_cache(maxsize=1)
def _validator():
    from . import schema
    return schema.validator(SCHEMA)


def _set_aside(path: Path) -> Path:
    """Rename a broken manifest to ``manifest.json.broken-<time>`` (a free name) and return the new path."""
    stamp = _dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.broken-{stamp}")
    n = 1
    while os.path.lexists(target):
        n += 1
        target = path.with_name(f"{path.name}.broken-{stamp}-{n}")
    os.replace(path, target)
    return target


def rebuild(out: Path) -> dict[str, dict]:
    """Manifest entries for the reports found under ``out``, from what their executed notebooks
    recorded (:func:`analysis.run._record_provenance`): a report counts only when every file it was
    published with is there with the recorded sha256; its notebook's own sha256 is taken as found.

    Returns:
        request key → entry (status ``ok``, ``rebuilt``: true).
    """
    from .run import PROVENANCE_KEY
    out = Path(out)
    jobs: dict[str, dict] = {}
    for nb_path in sorted(out.rglob("*.ipynb")):
        rel_parts = nb_path.relative_to(out).parts
        if any(p == "failed" or p.startswith(".") for p in rel_parts[:-1]) or not nb_path.is_file():
            continue
        try:
            meta = json.loads(nb_path.read_text(encoding="utf-8")).get("metadata", {}).get(PROVENANCE_KEY)
            outputs = dict(meta["outputs"])
            # the key as this process names the request (it depends on the project's default data file)
            key = ReportRequest.from_dict({**meta["request"], "out": str(out)}).key
            entry = {"request": dict(meta["request"]), "inputs": dict(meta["inputs"]), "status": "ok",
                     "finished": str(meta.get("finished", "")), "outputs": {}, "error": "", "rebuilt": True}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        ok = True
        for name, digest in outputs.items():
            f = nb_path.parent / name
            if Path(name).name != name or not f.is_file() or sha256_file(f) != digest:
                ok = False
                break
            entry["outputs"][str(f.relative_to(out))] = digest
        if ok:
            entry["outputs"][str(nb_path.relative_to(out))] = sha256_file(nb_path)
            jobs[key] = entry
    return jobs


def remove_temporary(out: Path) -> None:
    """Delete what an interrupted :meth:`Manifest.record` leaves: ``.manifest.json.<pid>.tmp``."""
    for f in Path(out).glob(f".{FILE}.*.tmp"):
        f.unlink(missing_ok=True)


def up_to_date(entry: dict | None, inputs: dict[str, str], out: Path) -> bool:
    """A finished job whose inputs are unchanged and whose outputs exist with the recorded checksums."""
    if not entry or entry.get("status") not in ("ok", "skipped") or entry.get("inputs") != inputs:
        return False
    outputs = entry.get("outputs") or {}
    if not outputs:
        return False
    for rel, digest in outputs.items():
        f = Path(out) / rel
        if not f.is_file() or sha256_file(f) != digest:
            return False
    return True
