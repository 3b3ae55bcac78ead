"""Font subsets cached on disk, built in a separate process while a report runs.

Every character a report can show comes from the data files, the catalog, the sources
registry, the run's parameters and the package's own strings; a subset of the bundled font for
that character set is built once (fontTools, ~1–2 s) and reused by every report with the same
inputs. ``python -m analysis.fontcache CHARS_FILE OUT`` builds one subset.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def cache_dir() -> Path:
    from .paths import cache_dir as base
    path = base() / "fonts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def charset(files: list[Path], extra: str = "") -> str:
    """Sorted distinct characters of the given files, the package's sources and templates, and extra."""
    chars = set(extra)
    for f in [*files, *PACKAGE.rglob("*.py"), *(PACKAGE / "templates").glob("*"), *(PACKAGE / "messages").glob("*.yaml")]:
        try:
            chars |= set(Path(f).read_text(encoding="utf-8", errors="ignore"))
        except OSError:
            continue
    # spaces count: the ideographic space of 表1　主要指标 is not "printable" to Python, and a
    # character missing here makes the export build a subset of its own (~1 s)
    return "".join(sorted(c for c in chars if c.isprintable() or unicodedata.category(c) == "Zs"))


#: changes whenever export.font_subset makes different bytes for the same characters (cached
#: subsets of an older version are then not used: the cache folder is shared by checkouts)
FORMAT = "2"  # 2: a glyph shared by several characters is duplicated


def subset_path(chars: str) -> Path:
    return cache_dir() / (hashlib.sha256(f"{FORMAT}\n{chars}".encode()).hexdigest()[:20] + ".otf")


def start(chars: str) -> subprocess.Popen | None:
    """Build the subset for chars in a child process unless it is cached; returns the process."""
    target = subset_path(chars)
    if target.is_file():
        return None
    src = target.with_suffix(".chars")
    src.write_text(chars, encoding="utf-8")
    return subprocess.Popen([sys.executable, "-m", "analysis.fontcache", str(src), str(target)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait(proc: subprocess.Popen | None, chars: str) -> bytes:
    """The subset's bytes (built here if the child failed)."""
    target = subset_path(chars)
    if proc is not None:
        proc.wait()
    if not target.is_file():
        build(chars, target)
    return target.read_bytes()


def build(chars: str, target: Path) -> None:
    from .export import font_subset
    data = font_subset(chars)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, target)


if __name__ == "__main__":
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    build(src.read_text(encoding="utf-8"), out)
    src.unlink(missing_ok=True)
