"""One report request: which notebook, for which region, year and language, from which data, into
which formats and folder — built from the command line, a jobs-file entry or a notebook's own
parameters, and validated once.

The output folder, the file stem (the notebook's name, ``_en`` for English), the manifest key and
every exported file derive from the request; nothing else decides them. Error messages name the
option where the request came from: ``--region`` on the command line,
``jobs.yaml: jobs[1].parameters.region`` in a jobs file, ``parameter region`` in a notebook.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import paths
from .errors import UsageError

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


@dataclass(frozen=True)
class NotebookParameter:
    name: str
    type: str
    default: str
    help: str


@lru_cache(maxsize=16)
def _declared(path: str, mtime: float) -> tuple[NotebookParameter, ...]:
    from .run import trim_imports
    trim_imports()
    import papermill as pm
    try:
        found = pm.inspect_notebook(path)
    except Exception as exc:  # papermill raises several types for unreadable notebooks
        raise UsageError(f"{path}: expected a Jupyter notebook, found a file papermill cannot read ({exc})") from None
    if not found:
        raise UsageError(f"{path}: expected a cell tagged 'parameters', found none")
    return tuple(NotebookParameter(p["name"], p.get("inferred_type_name", "") or "", str(p.get("default", "")),
                                   p.get("help", "") or "") for p in found.values())


def declared_parameters(notebook: Path) -> dict[str, NotebookParameter]:
    """The parameters cell of a notebook (papermill's ``inspect_notebook``): name → type, default, help."""
    return {p.name: p for p in _declared(str(notebook), notebook.stat().st_mtime)}


def safe_name(text: str) -> str:
    """A folder name for a region: keeps CJK and letters, replaces path separators and dots-only names."""
    bad = '/\\:*?"<>|\0'
    name = "".join("_" if ch in bad or ord(ch) < 32 else ch for ch in str(text)).strip()
    return "_" if not name or set(name) == {"."} else name


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
        return self.notebook.stem + ("" if self.lang == LANGS[0] else f"_{self.lang}")

    @property
    def folder(self) -> Path:
        return self.out / safe_name(self.region) / str(self.year)

    def output(self, suffix: str) -> Path:
        """``folder/stem<suffix>`` (suffix ``.pdf``, ``_metrics.csv`` …)."""
        return self.folder / f"{self.stem}{suffix}"

    @property
    def key(self) -> str:
        """The request's name in logs and the batch manifest."""
        key = f"{self.region}/{self.year}/{self.lang}"
        if self.notebook.stem != paths.DEFAULT_NOTEBOOK:
            key += f" [{self.notebook.stem}]"
        if self.data.resolve() != paths.data_path().resolve():
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
        return {**{k: v for k, v in own.items() if k in declared}, **self.parameters}

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
    return UsageError(f"{labels[what]}: expected {expected}, found {found!r}")


def build(*, region, year, notebook: str | os.PathLike | None = None, lang: str | None = None,
          data: str | os.PathLike | None = None, catalog: str | os.PathLike | None = None,
          formats=None, out: str | os.PathLike | None = None, title: str | None = None,
          parameters: dict | None = None, labels: dict | None = None, base: Path | None = None) -> ReportRequest:
    """Build and validate a request (everything that can be checked without reading the data).

    Args:
        base: folder that relative paths are relative to first (a jobs file's folder); then the project.
        labels: how each field is named where the request came from (:data:`CLI_LABELS`, :func:`jobs_labels`).

    Raises:
        UsageError: (exit 2) naming the option, key or parameter that is wrong.
    """
    labels = labels or dict(CLI_LABELS)
    name = notebook or paths.DEFAULT_NOTEBOOK
    nb = paths.notebook_path(name)
    if nb is None:
        raise _usage(labels, "notebook", "one of " + ", ".join(paths.known_notebooks()) + " or a path to an .ipynb file",
                     str(name))
    declared = declared_parameters(nb)
    params = dict(parameters or {})
    for k, v in params.items():
        label = labels["param"].format(name=k)
        if not isinstance(k, str) or not k.isidentifier() or k.startswith("_"):
            raise UsageError(f"{label}: expected a parameter name of {nb.name} "
                             f"({', '.join(n for n in declared if n not in OWN)}), found {k!r}")
        if k == "handover":
            raise UsageError(f"{label}: handover is set by analysis itself (the frames it prepared), not by hand")
        if k in OWN:
            raise UsageError(f"{label}: {k} has its own option; use {labels[k]} instead")
        if k not in declared:
            others = [n for n in declared if n not in OWN]
            expected = (f"one of {', '.join(others)} (the other names in the parameters cell of {nb.name})" if others
                        else f"no other parameter ({nb.name} declares only those with an option of their own)")
            raise UsageError(f"{label}: expected {expected}, found an unknown name {k!r}")
        if not (v is None or isinstance(v, (str, int, float, bool))):
            raise UsageError(f"{label}: expected a string, number or boolean, found {type(v).__name__} {v!r}")
    if not isinstance(region, str) or not region.strip():
        raise _usage(labels, "region", "a region name", region)
    if isinstance(year, bool):
        raise _usage(labels, "year", "a four-digit year", year)
    try:
        year_i = int(str(year).strip())
    except ValueError:
        raise _usage(labels, "year", "a four-digit year", year) from None
    if not 1900 <= year_i <= 2100:
        raise _usage(labels, "year", "a four-digit year", year)
    lang = lang or LANGS[0]
    if lang not in LANGS:
        raise _usage(labels, "lang", "one of " + ", ".join(LANGS), lang)
    fmts = FORMATS if formats is None else formats
    if isinstance(fmts, str):
        fmts = [f.strip() for f in fmts.split(",") if f.strip()]
    if not isinstance(fmts, (list, tuple)) or not fmts or any(f not in FORMATS for f in fmts):
        raise _usage(labels, "formats", "html and/or pdf", fmts if not isinstance(fmts, (list, tuple)) else
                     ",".join(map(str, fmts)))
    if title is not None and not isinstance(title, str):
        raise _usage(labels, "title", "a text", title)

    def existing(value, what: str, default: Path, expected: str) -> Path:
        if value in (None, ""):
            p = default
        else:
            p = paths.resolve(value, base=base)
        if not p.is_file():
            raise _usage(labels, what, expected, str(value) if value not in (None, "") else str(default))
        return p

    data_p = existing(data, "data", paths.data_path(), "an observations file (.csv or .xlsx)")
    cat_p = existing(catalog, "catalog", paths.catalog_path(), "a catalog file (YAML)")
    return ReportRequest(notebook=nb.resolve(), region=region.strip(), year=year_i, lang=lang, data=data_p,
                         catalog=cat_p, formats=tuple(dict.fromkeys(fmts)), out=Path(out or "reports"),
                         title=title or "", parameters=params, labels=labels)
