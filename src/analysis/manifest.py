"""The batch manifest ``OUT/manifest.json``: per report request its status, timings, error and the
sha256 of its inputs and outputs, so that a rerun skips what is up to date.

Entries are keyed by :attr:`ReportRequest.key`. The file is rewritten atomically (a temporary
file, then ``os.replace``) after each job, so an interrupted batch keeps what finished.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

from . import __version__, paths
from .request import ReportRequest

FILE = "manifest.json"
#: 2: an entry's request is recorded as ``ReportRequest.to_dict()`` under ``request``
VERSION = 2


@lru_cache(maxsize=256)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    """The file's sha256 (hex); one read per file version in a process, however many jobs share it."""
    st = Path(path).stat()
    return _sha256(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)


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
    """``OUT/manifest.json``, rewritten atomically after each job."""

    def __init__(self, out: Path):
        self.path = Path(out) / FILE
        self.data = {"version": VERSION, "jobs": {}}
        if self.path.is_file():
            try:
                self.data = json.loads(self.path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                os.replace(self.path, self.path.with_suffix(".json.broken"))  # kept for inspection; every job reruns
        self.data.setdefault("jobs", {})
        self.data["version"] = VERSION  # entries of version 1 have other input checksums: they rerun

    def get(self, key: str) -> dict | None:
        """The entry of a request key, or None."""
        return self.data["jobs"].get(key)

    def record(self, request: ReportRequest, *, inputs: dict[str, str], result: dict) -> dict:
        """Record a job's result (status, started, seconds, outputs, error …) and write the file.

        Returns:
            The entry as written.
        """
        recorded = {k: v for k, v in request.to_dict().items() if k != "out"}  # outputs are relative to OUT
        entry = {"request": recorded, "inputs": inputs, "finished": _now(), **result}
        self.data["jobs"][request.key] = entry
        self.data["updated"] = entry["finished"]
        tmp = self.path.with_name(f".{FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)
        return entry


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
