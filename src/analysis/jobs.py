"""A jobs file: read it, check it against its JSON Schema, expand it into report requests.

    defaults: {notebook: industry_report, formats: [html, pdf], data: data/observations.csv}
    matrix: {region: [渝北区], year: [2024], lang: [zh, en]}     # every combination
    jobs:
      - {parameters: {region: 示例区A, year: 2024}, data: examples/two_regions.csv}

Three steps, each with its own home:

1. the document's shape (:data:`SCHEMA`: top keys, job keys, their types) and, per job, the names
   allowed under ``parameters`` (:func:`parameters_schema`, from the notebook's parameters cell) are
   checked with ``jsonschema``; its errors are translated to ``jobs.yaml: jobs[1].parameters.yaer:
   expected one of region, year, lang, title, found 'yaer'``;
2. every job (``defaults`` merged, ``matrix`` expanded) becomes a request through
   :func:`analysis.request.build`, which checks values, formats, languages and paths and names the
   jobs-file key in its messages;
3. :func:`check_data` checks each request against its data (loaded once per data file and catalog).

Steps 1 and 2 raise :class:`UsageError` (exit 2) for the whole file; step 3 fails single jobs.
"""
from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import limits, paths, schema, yamlfile
from .errors import AnalysisError, UsageError
from .request import OWN, ReportRequest, build, declared_parameters, jobs_labels

#: a jobs file holds at most this many jobs (matrix combinations, counted before expanding, and listed jobs)
MAX_COMBINATIONS = limits.MAX_JOBS
#: request fields written under ``parameters:`` in a jobs file (the others are job keys)
IN_PARAMETERS = ("region", "year", "lang", "title")

# Each schema node's "description" is what an error message says was expected there.
_JOB = {
    "type": "object",
    "description": "a mapping of job keys",
    "properties": {
        "catalog": {"type": "string", "minLength": 1, "description": "a path to a catalog file"},
        "data": {"type": "string", "minLength": 1, "description": "a path to an observations file"},
        "formats": {"type": ["array", "string"], "items": {"type": "string", "description": "a format name"},
                    "description": "a list of html and/or pdf"},
        "lang": {"type": "string", "description": "a language code"},
        "notebook": {"type": "string", "minLength": 1, "description": "a notebook name or path"},
        "parameters": {"type": ["object", "null"], "description": "a mapping of parameter names to values"},
    },
    "additionalProperties": False,
}

#: the shape of a jobs file (JSON Schema 2020-12)
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "description": "a mapping with defaults, matrix and/or jobs",
    "properties": {
        "defaults": {**_JOB, "type": ["object", "null"]},
        "jobs": {"type": ["array", "null"], "description": "a list of jobs", "items": _JOB},
        "matrix": {"type": ["object", "null"], "description": "a mapping of parameter name to a list of values",
                   "additionalProperties": {"type": "array", "minItems": 1, "description": "a non-empty list of values"}},
    },
    "additionalProperties": False,
    "allOf": [{"description": "a matrix or a jobs list",
               "anyOf": [{"required": ["matrix"], "properties": {"matrix": {"type": "object", "minProperties": 1}}},
                         {"required": ["jobs"], "properties": {"jobs": {"type": "array", "minItems": 1}}}]}],
}


def parameters_schema(notebook: Path) -> dict:
    """What a job's ``parameters`` may hold for this notebook: region, year (required), lang, title
    and the notebook's other parameters.

    Names that are job keys (``data``, ``catalog``) pass here so that :func:`request.build` refuses
    them with its own message, which names the job key to write instead.
    """
    declared = declared_parameters(notebook)
    names = dict.fromkeys(["region", "year", *(n for n in declared if n in IN_PARAMETERS or n not in OWN)])
    job_keys = [n for n in OWN if n not in IN_PARAMETERS]
    return {"type": "object", "properties": {n: {} for n in names},
            "patternProperties": {f"^({'|'.join(job_keys)})$": {}},
            "additionalProperties": False, "required": ["region", "year"]}


def _validate(validator, document, file: str, prefix: str = "") -> None:
    """Raise the most relevant schema error as a usage error (exit 2)."""
    found = schema.problems(validator, document, file, prefix)
    if found:
        raise UsageError(found[0])


@lru_cache(maxsize=1)
def _document_validator():
    from .run import trim_imports
    trim_imports()  # before jsonschema's first import: skips a 1.9 s grammar build nobody uses
    return schema.validator(SCHEMA)


@lru_cache(maxsize=16)
def _parameters_validator(notebook: Path, mtime: float, required: bool = True):
    found = parameters_schema(notebook)
    return schema.validator(found if required else {k: v for k, v in found.items() if k != "required"})


# ------------------------------------------------------------------ the jobs file

def read(path: str | os.PathLike) -> dict:
    """The jobs file as a document of the :data:`SCHEMA` shape.

    The YAML is data only (:mod:`analysis.yamlfile`: no tags beyond the plain types, aliases
    bounded) and the file at most :data:`~analysis.limits.MAX_JOBS_FILE_BYTES` bytes.

    Raises:
        UsageError: (exit 2) no such file, not UTF-8 YAML, refused YAML, or not of the schema's shape.
    """
    doc = yamlfile.load(path, what="a jobs file (YAML)", max_bytes=limits.MAX_JOBS_FILE_BYTES)
    _validate(_document_validator(), doc, str(path))
    return doc


@dataclass(frozen=True)
class _Job:
    where: str            # matrix[3], jobs[0]
    keys: dict            # notebook, formats, data, catalog
    parameters: dict      # as written under parameters (defaults merged)
    lang: str | None
    lang_at: str          # where lang was written: "lang" or "parameters.lang"
    own: frozenset = frozenset()   # the job keys written in the job itself (the others come from defaults)


def _expand(doc: dict, file: str) -> list[_Job]:
    """Every job of a checked document, defaults merged and the matrix expanded.

    ``lang`` may be a job key or a parameter; a job's own wins over the defaults', and within
    one level the parameter.

    Raises:
        UsageError: (exit 2) a matrix of more than :data:`MAX_COMBINATIONS` combinations.
    """
    defaults = doc.get("defaults") or {}
    entries: list[tuple[str, dict]] = []
    matrix = doc.get("matrix") or {}
    listed = len(doc.get("jobs") or [])
    n = math.prod(len(v) for v in matrix.values()) if matrix else 0
    if n > MAX_COMBINATIONS:
        sizes = " × ".join(f"{len(v)} {k}" for k, v in matrix.items())
        raise UsageError(f"{file}: matrix: expected at most {MAX_COMBINATIONS} combinations, found {n} ({sizes}); "
                         "split it into several jobs files or list the jobs under jobs:")
    if n + listed > MAX_COMBINATIONS:
        raise UsageError(f"{file}: expected at most {MAX_COMBINATIONS} jobs, found {n + listed} "
                         f"({n} from the matrix, {listed} listed); split it into several jobs files")
    if matrix:
        names = list(matrix)
        for i, combo in enumerate(itertools.product(*matrix.values())):
            entries.append((f"matrix[{i}]", {"parameters": dict(zip(names, combo))}))
    entries += [(f"jobs[{i}]", entry) for i, entry in enumerate(doc.get("jobs") or [])]

    jobs = []
    for where, entry in entries:
        keys = {k: v for level in (defaults, entry) for k, v in level.items() if k not in ("parameters", "lang")}
        params = {**(defaults.get("parameters") or {}), **(entry.get("parameters") or {})}
        lang, lang_at = None, "lang"
        for level in (defaults, entry):
            if "lang" in (level.get("parameters") or {}):
                lang, lang_at = level["parameters"]["lang"], "parameters.lang"
            elif "lang" in level:
                lang, lang_at = level["lang"], "lang"
        jobs.append(_Job(where, keys, params, lang, lang_at, frozenset(entry)))
    return jobs


def _differences(a: ReportRequest, b: ReportRequest) -> str:
    """What tells two requests apart (``title, data``), for a message."""
    da, db = a.to_dict(), b.to_dict()
    return ", ".join(k for k in da if da[k] != db[k] and k != "out") or "nothing"


def load_jobs(path: str | os.PathLike, *, out: str | os.PathLike = "reports",
              notebook_dirs=(), input_dirs=None) -> list[ReportRequest]:
    """Read and check a jobs file; one :class:`ReportRequest` per job, in the file's order.

    Args:
        path: the jobs file; relative paths in it are relative to its folder, else to the project.
        out: the output folder of every request.
        notebook_dirs: folders the operator allows notebooks from (``--notebooks``), besides the project's.
        input_dirs: folders the operator allows data and catalogs from (``--allow-outside``), besides
            the project and the jobs file's folder (default: :func:`analysis.paths.allow_outside`'s).

    Raises:
        UsageError: (exit 2) for any problem, naming the key (``jobs.yaml: jobs[2].parameters.yaer``),
            before anything runs. Two jobs for the same report are a problem too, and so are two
            jobs that differ (in title, data, …) but would write the same files, and a data file or
            catalog outside the project, the jobs file's folder and the folders allowed.
    """
    with paths.remembered():
        return _load_jobs(path, out, list(notebook_dirs), input_dirs)


def _check_inside(job: _Job, file: str, folder: Path, input_dirs) -> None:
    """A job's data and catalog lie in the project, the jobs file's folder or a folder the operator
    allowed (``--allow-outside``): a jobs file is a request from someone else, who may not make
    the batch read (and show in a report) any file the operator can read."""
    roots = paths.input_roots(folder.resolve(), None if input_dirs is None else tuple(input_dirs))
    for key in ("data", "catalog"):
        value = job.keys.get(key)
        if not isinstance(value, (str, os.PathLike)) or value == "":
            continue                       # absent (the project's) or of the wrong type (build says so)
        target = paths.data_file(paths.resolve(value, base=folder))
        if not paths.inside(target, roots):
            where = job.where if key in job.own else "defaults"
            shown = ", ".join(str(r) for r in roots)
            raise UsageError(f"{file}: {where}.{key}: expected a file inside the project or the jobs file's folder "
                             f"({shown}), or in a folder allowed with --allow-outside DIR, found {str(value)!r}, "
                             f"which is {target}")


def _load_jobs(path, out, notebook_dirs: list, input_dirs=None) -> list[ReportRequest]:
    file = str(path)
    requests: list[ReportRequest] = []
    seen: dict[str, str] = {}
    written: dict[tuple[Path, str], tuple[str, ReportRequest]] = {}
    doc = read(path)
    defaults = doc.get("defaults") or {}
    folder = Path(path).parent
    notebook = paths.notebook_path(defaults.get("notebook") or paths.DEFAULT_NOTEBOOK, notebook_dirs, base=folder)
    if notebook is not None and paths.in_notebook_dirs(notebook, notebook_dirs):
        # names written once for every job are reported where they are written
        shared = _parameters_validator(notebook, notebook.stat().st_mtime, required=False)
        _validate(shared, defaults.get("parameters") or {}, file, "defaults.parameters")
        _validate(shared, {k: (v or [None])[0] for k, v in (doc.get("matrix") or {}).items()}, file, "matrix")
    for job in _expand(doc, file):
        notebook = paths.notebook_path(job.keys.get("notebook") or paths.DEFAULT_NOTEBOOK, notebook_dirs, base=folder)
        if notebook is not None and paths.in_notebook_dirs(notebook, notebook_dirs):  # else build() says why not
            _validate(_parameters_validator(notebook, notebook.stat().st_mtime), job.parameters, file,
                      f"{job.where}.parameters")
        _check_inside(job, file, folder, input_dirs)
        labels = {**jobs_labels(file, job.where), "lang": f"{file}: {job.where}.{job.lang_at}"}
        p = job.parameters
        request = build(region=p.get("region"), year=p.get("year"), title=p.get("title"), lang=job.lang,
                        parameters={k: v for k, v in p.items() if k not in IN_PARAMETERS},
                        notebook=job.keys.get("notebook"), data=job.keys.get("data"), catalog=job.keys.get("catalog"),
                        formats=job.keys.get("formats"), out=out, labels=labels, base=folder,
                        notebook_dirs=notebook_dirs)
        if request.key in seen:
            raise UsageError(f"{file}: {job.where}: expected a job different from {seen[request.key]}, "
                             f"found the same report {request.key!r}")
        target = (request.folder, request.stem)
        if target in written:
            where, other = written[target]
            raise UsageError(f"{file}: {job.where}: expected a report with files of its own, found the files of "
                             f"{where} ({request.output('.*')}): the two differ only in "
                             f"{_differences(other, request)}; give one of them another notebook or language, or "
                             "put them in two jobs files run with different --out folders")
        seen[request.key] = job.where
        written[target] = (job.where, request)
        requests.append(request)
    return requests


def check_data(requests: list[ReportRequest]) -> dict[str, AnalysisError]:
    """Check each request against its data: the region is there and the year has observed figures.

    Each distinct (data file, catalog) is loaded once.

    Returns:
        request key → the error of each request that fails (a data file that cannot be loaded
        fails every request that uses it).
    """
    from .catalog import load_catalog
    from .data import load_observations
    failed: dict[str, AnalysisError] = {}
    groups: dict[tuple[Path, Path], list[ReportRequest]] = {}
    for r in requests:
        groups.setdefault((r.data, r.catalog), []).append(r)
    for (data, catalog), members in groups.items():
        try:
            obs = load_observations(data, catalog=load_catalog(catalog))
        except AnalysisError as exc:
            failed.update({r.key: exc for r in members})
            continue
        for r in members:
            try:
                r.check_data(obs)
            except AnalysisError as exc:
                failed[r.key] = exc
    return failed
