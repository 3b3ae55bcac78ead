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
import re
from contextlib import contextmanager
from functools import lru_cache, wraps
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
DATA_FILE = "observations.csv"
CATALOG_FILE = "catalog.yaml"
DEFAULT_NOTEBOOK = "industry_report"
#: files beside a data file that belong to it
SIDE_FILES = ("sources.csv", "regions.csv")


_MEMO: dict | None = None


@contextmanager
def remembered():
    """Within it, each question about where files are is answered once: checking a jobs file of
    10 000 jobs asks the same few thousands of times (measured: 5 000 jobs checked in 6.5 s
    without, 2.1 s with; 10 000 in 2.9 s)."""
    global _MEMO
    outer = _MEMO
    _MEMO = {} if outer is None else outer
    try:
        yield
    finally:
        _MEMO = outer


def _frozen(value):
    return tuple(map(_frozen, value)) if isinstance(value, (list, tuple)) else value


def _remembered(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        if _MEMO is None:
            return fn(*args, **kwargs)
        key = (fn.__name__, _frozen(args), _frozen(sorted(kwargs.items())))
        if key not in _MEMO:
            _MEMO[key] = fn(*args, **kwargs)
        return _MEMO[key]
    return wrapper


def _is_project(folder: Path) -> bool:
    return (folder / "data" / DATA_FILE).is_file() or (folder / "data" / CATALOG_FILE).is_file() or \
        any((folder / "notebooks").glob("*.ipynb"))


@_remembered
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


@_remembered
def data_path() -> Path:
    """The default observations file: the project's ``data/observations.csv``."""
    root = project_root()
    return _first(*([root / "data" / DATA_FILE] if root else []), defaults_root() / "data" / DATA_FILE)


@_remembered
def catalog_path() -> Path:
    """The default catalog: the project's ``data/catalog.yaml``, else the packaged one."""
    root = project_root()
    return _first(*([root / "data" / CATALOG_FILE] if root else []), defaults_root() / "data" / CATALOG_FILE)


_SHEET = re.compile(r"^(.*\.xls[xm])#(.+)$", re.IGNORECASE | re.DOTALL)


def split_sheet(path: str | os.PathLike) -> tuple[Path, str | None]:
    """A data path that names a workbook's sheet: ``book.xlsx#Sheet2`` → (``book.xlsx``, ``"Sheet2"``);
    any other path → (path, None). A file whose own name contains ``#`` is that file when it exists."""
    p = Path(path)
    m = _SHEET.match(str(path))
    if m and not p.exists():
        return Path(m[1]), m[2]
    return p, None


def data_file(path: str | os.PathLike) -> Path:
    """The file of a data path (``book.xlsx#Sheet2`` → ``book.xlsx``): what is checked, hashed and
    looked beside for ``sources.csv``."""
    return split_sheet(path)[0]


def version(path: str | os.PathLike) -> tuple[str, int, int, int]:
    """A file's version as the caches of this package tell versions apart: its real path, size,
    modification time (ns) and inode. A file rewritten with the same size within one tick of the file
    system's clock keeps its version (checksums, kept data and character sets alike).

    Raises:
        OSError: the file cannot be looked at.
    """
    st = os.stat(path)
    return str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ino


def default_data_dirs() -> list[Path]:
    """Folders whose ``sources.csv``/``regions.csv`` apply to every data file (the project's data/)."""
    return [data_path().parent]


def side_files(data: Path) -> list[Path]:
    """``sources.csv`` and ``regions.csv`` beside a data file (those that exist)."""
    return [f for f in (data_file(data).parent / n for n in SIDE_FILES) if f.is_file()]


@_remembered
def notebook_dirs(extra=()) -> list[Path]:
    """Folders notebooks may run from: those the operator named (``--notebooks DIR``), the
    project's ``notebooks/`` and the packaged defaults'."""
    root = project_root()
    dirs = [*(Path(e) for e in extra), *([root / "notebooks"] if root else []), defaults_root() / "notebooks"]
    return list(dict.fromkeys(d.resolve() for d in dirs if d.is_dir()))


def known_notebooks(extra=()) -> list[str]:
    return sorted({p.stem for d in notebook_dirs(extra) for p in d.glob("*.ipynb")})


@_remembered
def notebook_path(name: str | os.PathLike, extra=(), base: Path | None = None) -> Path | None:
    """A notebook by name (``industry_report``) from the notebook folders, or by path
    (``some/energy_report.ipynb``, relative to ``base`` — a jobs file's folder — or the working
    directory, else the project); None when absent. Whether a path may run is
    :func:`in_notebook_dirs`'s to say."""
    p = Path(name)
    if p.suffix == ".ipynb":
        q = resolve(p, base=base)
        return q if q.is_file() else None
    for d in notebook_dirs(extra):
        if (d / f"{p.name}.ipynb").is_file() and str(name) == p.name:
            return d / f"{p.name}.ipynb"
    return None


@_remembered
def in_notebook_dirs(path: Path, extra=()) -> bool:
    """Whether a notebook lies inside one of :func:`notebook_dirs` (``..`` resolved lexically, so a
    link the operator put into ``notebooks/`` stays allowed and ``../../x.ipynb`` does not)."""
    target = os.path.abspath(path)
    for d in notebook_dirs(extra):
        for base in {os.path.abspath(d), str(d.resolve())}:
            if os.path.commonpath([base, target]) == base:
                return True
    return False


@_remembered
def real(path: Path) -> Path:
    """``path.resolve()`` (remembered within :func:`remembered`)."""
    return Path(path).resolve()


@_remembered
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
        if (b / p).exists() or data_file(b / p).exists():
            return (b / p).resolve()
    return (bases[0] / p).resolve()


#: folders outside the project whose files a jobs file may name as ``data`` or ``catalog``: set by
#: ``analysis batch --allow-outside DIR`` for the batch it starts (:func:`allow_outside`)
_OUTSIDE: tuple[Path, ...] = ()


def allow_outside(dirs=()) -> None:
    """Let jobs files name data and catalogs in these folders too (``--allow-outside DIR``); each call
    replaces the previous list (one command line, one list)."""
    global _OUTSIDE
    _OUTSIDE = tuple(Path(d).resolve() for d in dirs)


@_remembered
def input_roots(jobs_folder: Path, extra=None) -> tuple[Path, ...]:
    """Where the data and catalog a jobs file names may lie: the project folder, the jobs file's
    folder, and the folders allowed with ``--allow-outside`` (``extra``, default: those of
    :func:`allow_outside`) — each resolved, so a link out of them counts as outside."""
    roots = [project_root(), jobs_folder, *(_OUTSIDE if extra is None else extra)]
    return tuple(dict.fromkeys(Path(r).resolve() for r in roots if r is not None))


def inside(path: Path, roots) -> bool:
    """Whether ``path`` (resolved: links followed, ``..`` gone) lies in one of ``roots``."""
    target = Path(path).resolve()
    return any(target == r or target.is_relative_to(r) for r in roots)


def cache_dir() -> Path:
    """``$ANALYSIS_CACHE``, else ``~/.cache/analysis``."""
    base = os.environ.get("ANALYSIS_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"),
                                                            "analysis")
    return Path(base)


def write_atomically(path: Path, content: bytes | str) -> None:
    """Write a file whole or not at all: a temporary file beside it (removed if anything fails), then
    ``os.replace``. A reader never sees a half-written file. Raises OSError as writing does."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if isinstance(content, str):
            tmp.write_text(content, encoding="utf-8")
        else:
            tmp.write_bytes(content)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def installed(package: str) -> str:
    """Which copy of an installed package this process would import: its file and when that was written,
    found without importing it or reading the installed packages' metadata (≈ 0.03 s). Part of the key of
    what is remembered about its results (:func:`recall`); raises ImportError when it is not installed."""
    from importlib.util import find_spec
    spec = find_spec(package)
    if spec is None or not spec.origin:
        raise ImportError(f"no module named {package!r}")
    return f"{spec.origin} {os.stat(spec.origin).st_mtime_ns}"


def cached(kind: str, *parts: bytes | str) -> Path:
    """Where a result worked out from ``parts`` is remembered: ``cache_dir()/kind/<sha256 of parts>.json``
    (the parts: what the result depends on — an input's bytes, the code and libraries that work it out).
    A caller that cannot have every part passes None to :func:`recall` and :func:`remember` instead."""
    import hashlib
    digest = hashlib.sha256()
    for part in parts:
        digest.update(b"\0" + (part.encode("utf-8") if isinstance(part, str) else part))
    return cache_dir() / kind / f"{digest.hexdigest()}.json"


def recall(path: Path | None):
    """The JSON value remembered at ``path`` (:func:`cached`), or None: nothing there, unreadable or
    damaged. The caller checks its shape before it trusts it."""
    import json
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def remember(path: Path | None, text: str) -> None:
    """Remember a JSON text at ``path`` (written whole or not at all); a cache folder that cannot be
    written is not an error: the value is worked out again next time."""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text)
    except OSError:
        pass
