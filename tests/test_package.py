"""The installable tool: the wheel built from the repository, installed into a fresh virtual
environment and used from outside the repository as a user would (``--version``, ``init``,
``report``, ``check-data``); and ``analysis init`` itself.

The fresh environment gets the wheel alone (``--no-deps``); the dependencies already installed
in this interpreter's environment are made visible by a ``.pth`` file naming its site-packages.
Python does not run the ``.pth`` files inside a folder added that way, so the project's own
editable ``analysis`` stays invisible there: what runs is the wheel's copy.
"""
import hashlib
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

import analysis

from conftest import ROOT

DIST = "regional-industry-report"
#: the defaults a wheel must carry, besides the source snapshot (data/raw/*) and examples/*
DEFAULTS = ["data/catalog.yaml", "data/observations.csv", "data/sources.csv", "data/regions.csv",
            "notebooks/industry_report.ipynb", "jobs/example.yaml"]
#: files of the checkout that a build must not see (a stale build/ would leak into the wheel)
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", "reports",
                                     ".pytest_cache", ".hypothesis", ".ipynb_checkpoints", "out")


def _run(cmd, *, cwd, env=None, timeout=600):
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return res


def _ok(res):
    assert res.returncode == 0, f"{res.args}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    return res


def _tree(folder: Path) -> dict[str, str]:
    """Every file and folder below ``folder``: relative path → sha256 of the content (or "dir")."""
    return {str(p.relative_to(folder)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the checkout's sources (no build/ or egg-info written into the repo)."""
    tmp = tmp_path_factory.mktemp("build")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCES)
    _ok(_run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
              "--disable-pip-version-check", "-w", tmp / "dist", src], cwd=tmp))
    (whl,) = (tmp / "dist").glob("*.whl")
    return whl


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> dict:
    """A fresh virtual environment outside the repository with the wheel installed; its bin folder and env."""
    home = tmp_path_factory.mktemp("venv")
    assert ROOT not in home.parents
    new = home / "venv"
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", new], cwd=home))
    py = new / "bin" / "python"
    # the wheel first, into an environment that sees nothing else (pip must not find another copy)
    _ok(_run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index",
              "--disable-pip-version-check", wheel], cwd=home))
    purelib = Path(_ok(_run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=home))
                   .stdout.strip())
    deps = [p for p in site.getsitepackages() if os.path.isdir(p)]
    (purelib / "_project_deps.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ANALYSIS_HOME", "PYTHONHOME", "VIRTUAL_ENV")}
    # the dependencies' data files (nbconvert's templates, ipykernel's kernelspec) live in their
    # environment's share/jupyter, which a .pth does not reach: JUPYTER_PATH does
    jupyter_path = [str(Path(sys.prefix) / "share" / "jupyter"), *filter(None, [env.get("JUPYTER_PATH")])]
    env |= {"PATH": f"{new / 'bin'}{os.pathsep}{env.get('PATH', '')}", "VIRTUAL_ENV": str(new),
            "JUPYTER_PATH": os.pathsep.join(jupyter_path),
            "ANALYSIS_CACHE": str(home / "cache"), "MPLBACKEND": "Agg", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return {"root": new, "bin": new / "bin", "python": py, "purelib": purelib, "env": env}


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for f in DEFAULTS:
        assert f"analysis/defaults/{f}" in names, f
    assert any(n.startswith("analysis/defaults/data/raw/") for n in names)
    assert sorted(n.split("/")[-1] for n in names if n.startswith("analysis/defaults/examples/")) == \
        sorted(p.name for p in (ROOT / "examples").iterdir() if p.is_file())
    for f in ["analysis/py.typed", "analysis/cli.py", "analysis/paths.py", "analysis/project.py",
              "analysis/templates/page.html.j2"]:
        assert f in names, f
    templates = [p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src/analysis/templates").rglob("*")
                 if p.is_file()]
    messages = [p.relative_to(ROOT / "src").as_posix() for p in (ROOT / "src/analysis").glob("messages/*.yaml")]
    assert set(templates + messages) <= set(names)
    assert not [n for n in names if n.startswith(("data/", "notebooks/", "tests/", "benchmarks/"))]
    (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert f"Name: {DIST}" in text and "License-Expression: MIT" in text
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_installed_tool(venv, tmp_path):
    bin_, env = venv["bin"], venv["env"]
    work = tmp_path / "work"
    work.mkdir()

    # the wheel's analysis, not the project's editable one; its defaults packaged inside it
    where = _ok(_run([venv["python"], "-c", "import analysis, analysis.paths as p; print(analysis.__file__); "
                      "print(p.defaults_root())"], cwd=work, env=env)).stdout.split()
    assert Path(where[0]).is_relative_to(venv["root"]), where
    assert Path(where[1]) == venv["purelib"] / "analysis" / "defaults", where
    # papermill's kernel (python3, resolved by jupyter_client as the CLI does) is this interpreter
    kernel = _ok(_run([venv["python"], "-c", "from jupyter_client.manager import KernelManager; "
                       "print(KernelManager(kernel_name='python3').format_kernel_cmd()[0])"],
                      cwd=work, env=env)).stdout.strip()
    assert Path(kernel) == venv["python"], kernel

    version = _ok(_run([bin_ / "analysis", "--version"], cwd=work, env=env))
    assert version.stdout.strip() == f"analysis {analysis.__version__} ({DIST})", version.stdout

    init = _ok(_run([bin_ / "analysis", "init", "proj"], cwd=work, env=env))
    proj = work / "proj"
    assert "analysis report --region 渝北区 --year 2024" in init.stdout
    for f in [*DEFAULTS, "README.md"]:
        assert (proj / f).is_file(), f
    assert list((proj / "data" / "raw").iterdir())
    assert [p.name for p in work.iterdir()] == ["proj"]   # no staging folder left beside it

    report = _ok(_run([bin_ / "analysis", "report", "--region", "渝北区", "--year", "2024"], cwd=proj, env=env))
    out = proj / "reports" / "渝北区" / "2024"
    assert (out / "industry_report.html").is_file(), report.stdout
    pdf = out / "industry_report.pdf"
    assert pdf.is_file(), report.stdout
    assert "渝北区" in "".join(page.extract_text() for page in PdfReader(str(pdf)).pages)

    # outside any project: the packaged defaults
    empty = tmp_path / "empty"
    empty.mkdir()
    check = _ok(_run([bin_ / "analysis", "check-data"], cwd=empty, env=env))
    assert "渝北区" in check.stdout
    assert not list(empty.iterdir())


# --- analysis init, in process -----------------------------------------------------------------

def test_init_new_folder(cli, tmp_path, monkeypatch):
    from analysis import paths
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANALYSIS_HOME", raising=False)
    code, out, err = cli("init", "a/proj")
    assert code == 0, err
    proj = tmp_path / "a" / "proj"
    for f in [*DEFAULTS, "data/raw/000_c8145b6dd64842e1.txt"]:
        assert (proj / f).read_bytes() == (paths.defaults_root() / f).read_bytes(), f
    readme = (proj / "README.md").read_text(encoding="utf-8")
    for cmd in ["analysis check-data", "analysis report --region", "analysis batch jobs/example.yaml",
                "jupyter lab notebooks/"]:
        assert cmd in readme, cmd
    assert "cd a/proj" in out and "analysis report --region 渝北区 --year 2024" in out
    assert "data/observations.csv" in out and "README.md" in out
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["proj"]
    assert oct(proj.stat().st_mode & 0o777) == oct(0o777 & ~_umask())
    assert paths.project_root(proj / "notebooks") == proj


def test_init_empty_working_directory(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("init", ".")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "data", "jobs", "notebooks"]
    assert "cd " not in out


def test_init_refuses_a_folder_with_files(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "mine"
    (target / "old").mkdir(parents=True)
    (target / "notes.txt").write_text("keep me", encoding="utf-8")
    (target / "old" / "data.csv").write_text("a,b\n", encoding="utf-8")
    before, siblings = _tree(tmp_path), sorted(os.listdir(tmp_path))
    code, out, err = cli("init", "mine")
    assert code == 1
    assert "mine: expected an empty or new folder, found 2 files (notes.txt, old/)" in err
    assert "Traceback" not in err and not out
    assert _tree(tmp_path) == before and sorted(os.listdir(tmp_path)) == siblings

    (tmp_path / "plain").write_text("x", encoding="utf-8")
    code, _, err = cli("init", "plain")
    assert code == 1 and "plain: expected an empty or new folder, found a file" in err


def test_version(capsys):
    from analysis.cli import main
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("analysis ") and out.rstrip().endswith(f"({DIST})")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
