"""One report request: which notebook, for which region, year and language, from which data, into
which formats and folder — built from the command line, a jobs-file entry or a notebook's own
parameters, and validated once.

The output folder, the file stem (the notebook's name, ``_en`` for English), the manifest key and
every exported file derive from the request; nothing else decides them. Error messages name the
option where the request came from: ``--region`` on the command line,
``jobs.yaml: jobs[1].parameters.region`` in a jobs file, ``parameter region`` in a notebook.
"""
from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import limits, paths
from .errors import AnalysisError, UsageError

LANGS = ("zh", "en")
FORMATS = ("html", "pdf")
#: notebook parameters filled from the request itself; ``-p``/``parameters`` may not set them
OWN = ("region", "year", "lang", "data", "catalog", "title", "handover")
#: measures that state a future claim, not an observation of the year
FUTURE_MEASURES = ("target", "projection", "plan")

#: how each part of a request is named where it came from
CLI_LABELS = {"notebook": "--notebook", "region": "--region", "year": "--year", "lang": "--lang", "data": "--data",
              "catalog": "--catalog", "formats": "--format", "out": "--out", "title": "--title",
              "handover": "(set by analysis report)", "param": "-p {name}"}
NOTEBOOK_LABELS = {k: f"parameter {k}" for k in OWN} | {"notebook": "notebook", "formats": "formats", "out": "out",
                                                      "param": "parameter {name}"}


def jobs_labels(file: str, where: str) -> dict[str, str]:
    """Labels for a job of a jobs file (``jobs.yaml: jobs[1].parameters.region``)."""
    at = f"{file}: {where}"
    return {"notebook": f"{at}.notebook", "region": f"{at}.parameters.region", "year": f"{at}.parameters.year",
            "lang": f"{at}.lang", "data": f"{at}.data", "catalog": f"{at}.catalog", "formats": f"{at}.formats",
            "out": "--out", "title": f"{at}.parameters.title", "handover": "(set by analysis batch)",
            "param": f"{at}.parameters.{{name}}"}


#: the scalar types a notebook parameter may declare, by papermill's ``inferred_type_name``
SCALAR_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


@dataclass(frozen=True)
class NotebookParameter:
    name: str
    type: str
    default: str
    help: str

    @property
    def kind(self) -> type | None:
        """The scalar type a value must have: the annotation (``n: int = 3``), else the default's
        type (``n = 3``); None when neither says (``x = None``): then any scalar."""
        if self.type in SCALAR_TYPES:
            return SCALAR_TYPES[self.type]
        try:
            default = ast.literal_eval(self.default)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
        return type(default) if type(default) in SCALAR_TYPES.values() else None


def _inspected(path: str) -> dict:
    """papermill's ``inspect_notebook`` of a notebook, remembered in the cache folder by the notebook's
    bytes and papermill's installed copy (:func:`analysis.paths.cached`): a batch's parent process then
    checks its jobs without importing papermill (≈ 0.5 s before any worker can start). What cannot be
    read or written there is worked out again; a notebook papermill finds no parameters in is never
    remembered."""
    try:
        at = paths.cached("notebooks", Path(path).read_bytes(), "papermill " + paths.installed("papermill"))
    except (OSError, ImportError):   # unreadable: papermill says why below
        at = None
    found = paths.recall(at)
    if isinstance(found, dict) and found and all(isinstance(v, dict) and "name" in v for v in found.values()):
        return found
    from .run import trim_imports
    trim_imports()
    import papermill as pm
    try:
        found = pm.inspect_notebook(path)
    except Exception as exc:  # papermill raises several types for unreadable notebooks
        raise UsageError(f"{path}: expected a Jupyter notebook, found a file papermill cannot read ({exc})") from None
    if found:
        paths.remember(at, json.dumps(found, ensure_ascii=False, default=str))
    return found


@lru_cache(maxsize=16)
def _declared(path: str, mtime: float) -> tuple[NotebookParameter, ...]:
    found = _inspected(path)
    if not found:
        raise UsageError(f"{path}: expected a cell tagged 'parameters', found none")
    spec = (json.loads(Path(path).read_text(encoding="utf-8")).get("metadata") or {}).get("kernelspec")
    name = spec.get("name") if isinstance(spec, dict) else spec
    if not isinstance(name, str) or not name:   # papermill would fail on it mid-run (a TraitError)
        raise UsageError(f"{path}: metadata.kernelspec.name: expected a kernel name (text, e.g. python3), "
                         f"found {_kind(name)}")
    return tuple(NotebookParameter(p["name"], p.get("inferred_type_name", "") or "", str(p.get("default", "")),
                                   p.get("help", "") or "") for p in found.values())


def declared_parameters(notebook: Path) -> dict[str, NotebookParameter]:
    """The parameters cell of a notebook (papermill's ``inspect_notebook``): name → type, default, help."""
    return {p.name: p for p in _declared(str(notebook), notebook.stat().st_mtime)}


_UNSAFE = re.compile(r"[^\w-]+")       # \w: letters and digits of every script (CJK too) and _
_HASHED = re.compile(r"_[0-9a-f]{10}$")


def safe_name(text: str) -> str:
    """The one way a region, entity or notebook name becomes a path component.

    Letters and digits of any script (CJK included), ``_`` and ``-`` are kept; every run of other
    characters (``/``, ``.``, braces, quotes, ``$``, backticks, spaces, control characters) becomes
    ``_``; a leading ``-`` is dropped; the name is cut to :data:`~analysis.limits.MAX_NAME_BYTES`
    bytes of UTF-8. A name changed in any way gets ``_`` and 10 hex digits of the SHA-256 of the
    original, so distinct names never share a folder (a name that already ends like such a hash
    gets one too). The result is never empty, ``.`` or ``..``, has no separator and cannot start a
    hidden file or a command-line option.

    >>> safe_name("渝北区"), safe_name("..")[:2], safe_name("示例区{data}")[:9]
    ('渝北区', '__', '示例区_data_')
    """
    text = str(text)
    readable = _UNSAFE.sub("_", text).lstrip("-")[:limits.MAX_NAME_BYTES] or "_"
    while len(readable.encode("utf-8")) > limits.MAX_NAME_BYTES:
        readable = readable[:-1]
    if readable == text and not _HASHED.search(text):
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{readable}_{digest}"


def _kind(value) -> str:
    """What a value is, in the words of a message (``a mapping``, ``a list``, ``the number 3``)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        try:
            text = repr(value)
        except ValueError:  # an int beyond Python's 4300-digit conversion limit
            return "a number of thousands of digits"
        return f"the number {text if len(text) <= 40 else text[:37] + '…'}"
    if isinstance(value, str):
        return f"the text {_clip(value)}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, (set, frozenset)):
        return "a set"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    return f"a {type(value).__name__}"


def _clip(text: str, n: int = 60) -> str:
    shown = repr(text)
    return shown if len(shown) <= n else f"{shown[:n - 1]}…' ({len(text)} characters)"


_TYPE_WORDS = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def parameter_value(value, kind: type | None, label: str, *, from_text: bool = False):
    """A notebook parameter's value as a scalar of the declared type, or refused.

    Values reach the notebook through papermill, which writes them into a code cell; only plain
    ``str``, ``int``, ``float`` and ``bool`` are written safely (escaped or as literals), so nothing
    else passes. ``from_text``: the value was typed on the command line (``-p n 3``) and is
    converted to the declared type; from a jobs file it must already be of that type.

    Raises:
        UsageError: ``{label}: expected a string, found a mapping``.
    """
    expected = _TYPE_WORDS.get(kind, "a string, number or true/false")
    if from_text and isinstance(value, str) and kind not in (None, str):
        text = value.strip()
        try:
            if kind is bool:
                if text.lower() not in _TRUE + _FALSE:
                    raise ValueError
                value = text.lower() in _TRUE
            else:
                value = kind(text) if len(text) <= 40 else None
        except ValueError:
            value = None
        if value is None:
            raise UsageError(f"{label}: expected {expected}, found {_kind(text)}")
    ok = (type(value) is kind if kind in (str, bool) else
          type(value) is int if kind is int else
          type(value) in (int, float) if kind is float else
          type(value) in (str, int, float, bool))
    if not ok:
        raise UsageError(f"{label}: expected {expected}, found {_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{label}: expected a finite number, found {value!r}")
    if isinstance(value, str) and len(value) > limits.MAX_PARAMETER_CHARS:
        raise UsageError(f"{label}: expected at most {limits.MAX_PARAMETER_CHARS} characters, "
                         f"found {len(value)}")
    return float(value) if kind is float else value


def _name_text(value, label: str, what: str, limit: int) -> str:
    """A region or title: a string without control characters, of at most ``limit`` characters."""
    if not isinstance(value, str):
        raise UsageError(f"{label}: expected {what}, found {_kind(value)}")
    if len(value) > limit:
        raise UsageError(f"{label}: expected {what} of at most {limit} characters, found {len(value)} characters")
    bad = next((ch for ch in value if unicodedata.category(ch) in ("Cc", "Cs")), None)
    if bad is not None:
        raise UsageError(f"{label}: expected {what} without control characters, found {bad!r} in {_clip(value)}")
    return value


@dataclass(frozen=True)
class ReportRequest:
    """A validated report request; see the module docstring."""

    notebook: Path
    region: str
    year: int
    lang: str = LANGS[0]
    data: Path = field(default_factory=paths.data_path)
    catalog: Path = field(default_factory=paths.catalog_path)
    formats: tuple[str, ...] = FORMATS
    out: Path = Path("reports")
    title: str = ""
    parameters: dict = field(default_factory=dict)   # the notebook's other parameters
    labels: dict = field(default_factory=lambda: dict(CLI_LABELS), compare=False, repr=False)

    # ---------------------------------------------------------------- what derives from it
    @property
    def stem(self) -> str:
        """File stem of every output: the notebook's name, ``_<lang>`` for languages other than the first."""
        return safe_name(self.notebook.stem) + ("" if self.lang == LANGS[0] else f"_{self.lang}")

    @property
    def folder(self) -> Path:
        """``OUT/<region>/<year>``: the region through :func:`safe_name`, so always inside ``out``.

        Raises:
            AnalysisError: never for a request built here; guards a future change of the scheme.
        """
        folder = self.out / safe_name(self.region) / str(self.year)
        base = os.path.abspath(self.out)
        if os.path.commonpath([base, os.path.abspath(folder)]) != base:
            raise AnalysisError(f"{folder}: expected an output folder inside {self.out}, found one outside it")
        return folder

    def output(self, suffix: str) -> Path:
        """``folder/stem<suffix>`` (suffix ``.pdf``, ``_metrics.csv`` …)."""
        return self.folder / f"{self.stem}{suffix}"

    @property
    def key(self) -> str:
        """The request's name in logs and the batch manifest."""
        key = f"{self.region}/{self.year}/{self.lang}"
        if self.notebook.stem != paths.DEFAULT_NOTEBOOK:
            key += f" [{self.notebook.stem}]"
        if paths.real(self.data) != paths.real(paths.data_path()):
            key += f" @{self.data}"
        extra = {**({"title": self.title} if self.title else {}), **self.parameters}
        if extra:
            key += " " + json.dumps(extra, ensure_ascii=False, sort_keys=True)
        return key

    def notebook_parameters(self, handover: Path | None = None) -> dict[str, Any]:
        """What papermill injects: the request's own fields and the other parameters."""
        own = {"region": self.region, "year": self.year, "lang": self.lang, "data": str(self.data),
               "catalog": str(self.catalog), "title": self.title, "handover": str(handover or "")}
        declared = declared_parameters(self.notebook)
        values = {**{k: v for k, v in own.items() if k in declared}, **self.parameters}
        for k, v in values.items():  # papermill writes only these types safely into the injected cell
            if type(v) not in (str, int, float, bool):
                raise AnalysisError(f"parameter {k}: expected a string, number or true/false, found {_kind(v)}")
        return values

    def to_dict(self) -> dict:
        return {"notebook": str(self.notebook), "region": self.region, "year": self.year, "lang": self.lang,
                "data": str(self.data), "catalog": str(self.catalog), "formats": list(self.formats),
                "out": str(self.out), "title": self.title, "parameters": dict(self.parameters)}

    @classmethod
    def from_dict(cls, d: dict, labels: dict | None = None) -> "ReportRequest":
        return cls(notebook=Path(d["notebook"]), region=d["region"], year=int(d["year"]), lang=d["lang"],
                   data=Path(d["data"]), catalog=Path(d["catalog"]), formats=tuple(d["formats"]), out=Path(d["out"]),
                   title=d.get("title", ""), parameters=dict(d.get("parameters") or {}),
                   labels=labels or dict(CLI_LABELS))

    # ---------------------------------------------------------------- validation against the data
    def check_data(self, observations) -> None:
        """The region must be in the data and the year must have observed (not only target) figures.

        Raises:
            AnalysisError: (exit 1) listing the regions, or the years with observed data.
        """
        from .data import check_selection
        check_selection(observations, self.region, self.year, observed_only=True,
                        labels=(self.labels["region"], self.labels["year"]))


def _usage(labels: dict, what: str, expected: str, found) -> UsageError:
    shown = _clip(found) if isinstance(found, str) else _kind(found)
    return UsageError(f"{labels[what]}: expected {expected}, found {shown}")


def build(*, region, year, notebook: str | os.PathLike | None = None, lang: str | None = None,
          data: str | os.PathLike | None = None, catalog: str | os.PathLike | None = None,
          formats=None, out: str | os.PathLike | None = None, title: str | None = None,
          parameters: dict | None = None, labels: dict | None = None, base: Path | None = None,
          notebook_dirs=(), from_text: bool = False) -> ReportRequest:
    """Build and validate a request (everything that can be checked without reading the data).

    Args:
        base: folder that relative paths are relative to first (a jobs file's folder); then the project.
        labels: how each field is named where the request came from (:data:`CLI_LABELS`, :func:`jobs_labels`).
        notebook_dirs: folders the operator allows notebooks from, besides the project's ``notebooks/``
            (``--notebooks DIR``); a notebook anywhere else is refused.
        from_text: the other parameters were typed as text (``-p n 3``): converted to the types the
            notebook declares. Otherwise (a jobs file, Python) they must be of those types already.

    Raises:
        UsageError: (exit 2) naming the option, key or parameter that is wrong.
    """
    labels = labels or dict(CLI_LABELS)
    name = notebook or paths.DEFAULT_NOTEBOOK
    if not isinstance(name, (str, os.PathLike)):
        raise _usage(labels, "notebook", "a notebook name or path", name)
    nb = paths.notebook_path(name, notebook_dirs, base=base)
    if nb is None:
        raise _usage(labels, "notebook", "one of " + ", ".join(paths.known_notebooks(notebook_dirs)) +
                     " or a path to an .ipynb file", str(name))
    if not paths.in_notebook_dirs(nb, notebook_dirs):
        folders = ", ".join(str(d) for d in paths.notebook_dirs(notebook_dirs))
        raise UsageError(f"{labels['notebook']}: expected a notebook in {folders} or in a folder named with "
                         f"--notebooks DIR, found {_clip(str(name))}, outside them")
    declared = declared_parameters(nb)
    params = {}
    for k, v in (parameters or {}).items():
        label = labels["param"].format(name=k) if isinstance(k, str) and k.isidentifier() else \
            labels["param"].format(name=repr(k))
        if not isinstance(k, str) or not k.isidentifier() or k.startswith("_"):
            raise UsageError(f"{label}: expected a parameter name of {nb.name} "
                             f"({', '.join(n for n in declared if n not in OWN)}), found {_clip(str(k))}")
        if k == "handover":
            raise UsageError(f"{label}: handover is set by analysis itself (the frames it prepared), not by hand")
        if k in OWN:
            raise UsageError(f"{label}: {k} has its own option; use {labels[k]} instead")
        if k not in declared:
            others = [n for n in declared if n not in OWN]
            expected = (f"one of {', '.join(others)} (the other names in the parameters cell of {nb.name})" if others
                        else f"no other parameter ({nb.name} declares only those with an option of their own)")
            raise UsageError(f"{label}: expected {expected}, found an unknown name {k!r}")
        params[k] = parameter_value(v, declared[k].kind, label, from_text=from_text)
    if isinstance(region, str) and not region.strip():
        raise _usage(labels, "region", "a region name", region)
    region = _name_text(region, labels["region"], "a region name", limits.MAX_NAME_CHARS).strip()
    if isinstance(year, bool) or not isinstance(year, (str, int)):
        raise _usage(labels, "year", "a four-digit year", year)
    year_text = unicodedata.normalize("NFKC", str(year)).strip()
    if not (year_text.isascii() and year_text.isdigit() and len(year_text) == 4):
        raise _usage(labels, "year", "a four-digit year", year)
    year_i = int(year_text)
    if not 1900 <= year_i <= 2100:
        raise _usage(labels, "year", "a four-digit year", year)
    lang = LANGS[0] if lang is None else lang
    if not isinstance(lang, str) or lang not in LANGS:
        raise _usage(labels, "lang", "one of " + ", ".join(LANGS), lang)
    fmts = FORMATS if formats is None else formats
    if isinstance(fmts, str):
        fmts = [f.strip() for f in fmts.split(",") if f.strip()]
    if not isinstance(fmts, (list, tuple)) or not fmts or any(not isinstance(f, str) or f not in FORMATS for f in fmts):
        raise _usage(labels, "formats", "html and/or pdf", fmts if not isinstance(fmts, (list, tuple)) else
                     ",".join(map(str, fmts))[:80])
    if title is not None:
        title = _name_text(title, labels["title"], "a string", limits.MAX_TITLE_CHARS)

    def existing(value, what: str, default: Path, expected: str) -> Path:
        if value in (None, ""):
            p = default
        elif not isinstance(value, (str, os.PathLike)):
            raise _usage(labels, what, expected, value)
        else:
            p = paths.resolve(value, base=base)
        if not paths.data_file(p).is_file():   # data may name a workbook's sheet: book.xlsx#Sheet2
            raise _usage(labels, what, expected, str(value) if value not in (None, "") else str(default))
        return p

    data_p = existing(data, "data", paths.data_path(), "an observations file (.csv or .xlsx)")
    cat_p = existing(catalog, "catalog", paths.catalog_path(), "a catalog file (YAML)")
    return ReportRequest(notebook=paths.real(nb), region=region, year=year_i, lang=lang, data=data_p,
                         catalog=cat_p, formats=tuple(dict.fromkeys(fmts)), out=Path(out or "reports"),
                         title=title or "", parameters=params, labels=labels)
