import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "observations.csv"
SOURCE = ROOT / "data" / "raw" / "000_c8145b6dd64842e1.txt"
BIN = Path(sys.executable).parent

os.environ.setdefault("MPLBACKEND", "Agg")


def run_cli(*args, timeout=600, cwd=ROOT):
    """Run the installed console script as a user would."""
    return subprocess.run([str(BIN / "analysis"), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


@pytest.fixture
def cli(capsys):
    """Call analysis.cli.main in-process; returns (exit code, stdout, stderr)."""
    from analysis.cli import main

    def call(*args):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err
    return call


@pytest.fixture(scope="session")
def obs():
    from analysis.data import load_observations
    return load_observations(DATA)
