"""Where files live: the analysis project, its data, notebooks and jobs, and the packaged defaults.

A *project* is a folder with a ``data/`` or ``notebooks/`` subfolder holding the project's
files (``analysis init DIR`` creates one; this repository is one). It is found from
``$ANALYSIS_HOME``, else from the working directory upwards, so ``analysis report`` run in
``notebooks/`` or a notebook opened there finds the same project. Outside any project the
defaults packaged with ``analysis`` serve (the shipped data, catalog and notebook).

Every other module asks here; no module builds ``data/observations.csv`` itself.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
DATA_FILE = "observations.csv"
CATALOG_FILE = "catalog.yaml"
DEFAULT_NOTEBOOK = "industry_report"
#: files beside a data file that belong to it
SIDE_FILES = ("sources.csv", "regions.csv")


def _is_project(folder: Path) -> bool:
    return (folder / "data" / DATA_FILE).is_file() or (folder / "data" / CATALOG_FILE).is_file() or \
        any((folder / "notebooks").glob("*.ipynb"))


def project_root(start: Path | None = None) -> Path | None:
    """The analysis project in use: ``$ANALYSIS_HOME``, else the nearest folder from ``start``
    (default: the working directory) upwards that holds a project; None outside any project."""
    env = os.environ.get("ANALYSIS_HOME")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if _is_project(folder):
            return folder
    return None


@lru_cache(maxsize=1)
def defaults_root() -> Path:
    """The packaged defaults: ``analysis/defaults`` in an installed wheel, the source checkout otherwise."""
    packaged = PACKAGE / "defaults"
    if (packaged / "data" / CATALOG_FILE).is_file():
        return packaged
    return PACKAGE.parent.parent


def home() -> Path:
    """The project folder, else the packaged defaults."""
    return project_root() or defaults_root()


def _first(*candidates: Path) -> Path:
    for c in candidates:
        if c.exists():
            return c
    return candidates[0]


def data_path() -> Path:
    """The default observations file: the project's ``data/observations.csv``."""
    root = project_root()
    return _first(*([root / "data" / DATA_FILE] if root else []), defaults_root() / "data" / DATA_FILE)


def catalog_path() -> Path:
    """The default catalog: the project's ``data/catalog.yaml``, else the packaged one."""
    root = project_root()
    return _first(*([root / "data" / CATALOG_FILE] if root else []), defaults_root() / "data" / CATALOG_FILE)


def default_data_dirs() -> list[Path]:
    """Folders whose ``sources.csv``/``regions.csv`` apply to every data file (the project's data/)."""
    return [data_path().parent]


def side_files(data: Path) -> list[Path]:
    """``sources.csv`` and ``regions.csv`` beside a data file (those that exist)."""
    return [f for f in (data.parent / n for n in SIDE_FILES) if f.is_file()]


def notebook_dirs() -> list[Path]:
    root = project_root()
    dirs = ([root / "notebooks"] if root else []) + [defaults_root() / "notebooks"]
    return list(dict.fromkeys(d.resolve() for d in dirs if d.is_dir()))


def known_notebooks() -> list[str]:
    return sorted({p.stem for d in notebook_dirs() for p in d.glob("*.ipynb")})


def notebook_path(name: str | os.PathLike) -> Path | None:
    """A notebook by name (``industry_report``) from the project or the packaged defaults, or by
    path (``some/energy_report.ipynb``, relative to the working directory); None when absent."""
    p = Path(name)
    if p.suffix == ".ipynb":
        q = resolve(p)
        return q if q.is_file() else None
    for d in notebook_dirs():
        if (d / f"{p.name}.ipynb").is_file() and str(name) == p.name:
            return d / f"{p.name}.ipynb"
    return None


def resolve(path: str | os.PathLike, *, base: Path | None = None) -> Path:
    """A user's path: absolute as is; relative to ``base`` (a jobs file's folder, the working
    directory) when it exists there, else to the project folder."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    bases = [base or Path.cwd()]
    root = project_root()
    if root is not None:
        bases.append(root)
    for b in bases:
        if (b / p).exists():
            return (b / p).resolve()
    return (bases[0] / p).resolve()


def cache_dir() -> Path:
    """``$ANALYSIS_CACHE``, else ``~/.cache/analysis``."""
    base = os.environ.get("ANALYSIS_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"),
                                                            "analysis")
    return Path(base)
