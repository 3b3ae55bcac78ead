"""A new analysis project (``analysis init DIR``), and the installed distribution's name and version.

``init`` copies the packaged defaults (:func:`analysis.paths.defaults_root`: the wheel's
``analysis/defaults/``, or the source checkout) into a new or empty folder::

    data/       observations.csv · sources.csv · regions.csv · catalog.yaml · raw/ (the source snapshot)
    notebooks/  industry_report.ipynb
    jobs/       example.yaml
    README.md

so that ``analysis report --region 渝北区 --year 2024`` works there at once (``analysis.paths``
finds the project from the working directory). Nothing is overwritten: a folder that holds
anything is refused. The files are written into a hidden staging folder and renamed into place,
so a failure leaves no half-written project.
"""
from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from pathlib import Path

from . import paths
from .errors import AnalysisError

#: the name on PyPI (``pip install regional-industry-report``); the import package is ``analysis``
DISTRIBUTION = "regional-industry-report"


def example() -> tuple[str, int]:
    """A region and year the shipped data can report on (for the new project's README and next step):
    the first region of the packaged observations and its latest observed year."""
    import csv
    from .request import FUTURE_MEASURES
    with open(paths.defaults_root() / "data" / paths.DATA_FILE, encoding="utf-8-sig", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("measure") not in FUTURE_MEASURES]
    region = rows[0]["region"]
    return region, max(int(r["year"]) for r in rows if r["region"] == region)


def version() -> str:
    """The installed distribution's version, else the package's own ``__version__`` (a checkout on sys.path)."""
    from importlib.metadata import PackageNotFoundError, version as dist_version
    try:
        return dist_version(DISTRIBUTION)
    except PackageNotFoundError:
        from . import __version__
        return __version__


def version_line() -> str:
    """``analysis 0.1.0 (regional-industry-report)``."""
    return f"analysis {version()} ({DISTRIBUTION})"


def default_files() -> list[str]:
    """The files a new project gets from the defaults, relative to the defaults' root."""
    root = paths.defaults_root()
    files = [f"data/{paths.DATA_FILE}", "data/sources.csv", "data/regions.csv", f"data/{paths.CATALOG_FILE}",
             *sorted(f"data/raw/{p.name}" for p in (root / "data" / "raw").glob("*") if p.is_file()),
             *sorted(f"notebooks/{p.name}" for p in (root / "notebooks").glob("*.ipynb")),
             "jobs/example.yaml"]
    missing = [f for f in files if not (root / f).is_file()]
    if missing or f"notebooks/{paths.DEFAULT_NOTEBOOK}.ipynb" not in files:
        missing = missing or [f"notebooks/{paths.DEFAULT_NOTEBOOK}.ipynb"]
        raise AnalysisError(f"{root}: expected the packaged defaults, found {', '.join(missing)} missing "
                            f"(reinstall {DISTRIBUTION})")
    return files


def _refuse_unless_empty(target: Path, shown: str) -> None:
    if target.is_dir():
        entries = sorted(p.name + ("/" if p.is_dir() else "") for p in target.iterdir())
        if entries:
            n = len(entries)
            listed = ", ".join(entries[:5]) + (", …" if n > 5 else "")
            raise AnalysisError(f"{shown}: expected an empty or new folder, found {n} file{'s' if n != 1 else ''} "
                                f"({listed})")
    elif target.exists() or target.is_symlink():
        raise AnalysisError(f"{shown}: expected an empty or new folder, found a file")


def _readme(name: str) -> str:
    r, y = example()
    return f"""\
# {name}

An analysis project, created by `analysis init` ({DISTRIBUTION} {version()}). Every `analysis`
command run in this folder, or below it, uses its files (`ANALYSIS_HOME=PATH` points elsewhere).

| folder | holds |
|---|---|
| `data/` | `observations.csv`: one row per published figure, with the clause that states it · `sources.csv`: the sources, with the sha256 of their snapshots · `regions.csv`: the region hierarchy (重庆市 and its 38 区县: parent, level, English name, aliases) · `catalog.yaml`: indicators (code, 中文名, English name, unit, aliases) and derived metrics · `raw/`: the source snapshots, never edited |
| `notebooks/` | `industry_report.ipynb`: the report notebook (a parameters cell, one call per section) |
| `jobs/` | `example.yaml`: a batch of reports ({r} {y} in Chinese and English) |
| `reports/` | the outputs, written by `analysis report` and `analysis batch` |

```bash
analysis check-data                          # validate data/observations.csv, print a summary
analysis report --region {r} --year {y}       # reports/{r}/{y}/industry_report.{{html,pdf}}
analysis batch jobs/example.yaml             # every job of the file; a second run skips what is up to date
jupyter lab notebooks/                       # edit the parameters cell and run the notebook by hand
```

To add a figure: put the source text in `data/raw/`, add it to `data/sources.csv` with its sha256
(`sha256sum data/raw/FILE`), add one row per figure to `data/observations.csv` (the value and
unit as printed, the clause that states it in `quote`), and run `analysis check-data` until it
exits 0.
"""


def init(folder: str | os.PathLike) -> list[str]:
    """Create a project in ``folder`` (new, or an empty folder); return the files created, relative to it.

    Raises :class:`AnalysisError` (exit 1) when ``folder`` holds anything, without touching it.
    """
    shown = os.fspath(folder)
    target = Path(os.path.abspath(os.path.expanduser(shown)))
    _refuse_unless_empty(target, shown)
    src = paths.defaults_root()
    files = default_files()
    existed = target.is_dir()
    if not existed:
        target.parent.mkdir(parents=True, exist_ok=True)
    # a new folder is staged beside it and renamed; an existing empty one (perhaps the working
    # directory) is kept, and the staged entries are renamed into it
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.init-", dir=target if existed else target.parent))
    moved: list[Path] = []
    try:
        for rel in files:
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, stage / rel)
        (stage / "README.md").write_text(_readme(target.name), encoding="utf-8")
        if not existed:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(stage, 0o777 & ~umask)   # mkdtemp makes it private
            os.rename(stage, target)          # fails if a folder with files appeared meanwhile
        else:
            for entry in sorted(stage.iterdir()):
                if os.path.lexists(target / entry.name):
                    raise FileExistsError(target / entry.name)   # written meanwhile: undo, refuse below
                os.rename(entry, target / entry.name)
                moved.append(target / entry.name)
            stage.rmdir()
    except BaseException as exc:
        for p in moved:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()
        shutil.rmtree(stage, ignore_errors=True)
        _refuse_unless_empty(target, shown)   # someone else's files appeared: say so
        if isinstance(exc, OSError):
            raise AnalysisError(f"{shown}: could not create the project: {exc}") from exc
        raise
    return [*files, "README.md"]


def summary(folder: str | os.PathLike, created: list[str]) -> str:
    """What ``init`` created and the command to run next."""
    shown = os.fspath(folder)
    lines = [f"created {os.path.join(shown, '')} ({DISTRIBUTION} {version()}):", *(f"  {f}" for f in created), "",
             "next:"]
    if Path(shown).resolve() != Path.cwd().resolve():
        lines.append(f"  cd {shlex.quote(shown)}")
    region, year = example()
    lines.append(f"  analysis report --region {region} --year {year}")
    return "\n".join(lines)
