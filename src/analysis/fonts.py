"""The bundled CJK font (Noto Sans CJK SC from the ``mplfonts`` package, SIL OFL).

Nothing here relies on system fonts: a fresh machine has none with Chinese glyphs. Matplotlib
registers the font file directly; HTML and PDF name it in CSS via ``@font-face``.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

FAMILY = "Noto Sans CJK SC"
FALLBACKS = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "SimHei", "sans-serif"]


@lru_cache(maxsize=1)
def cjk_font_path() -> Path:
    """Path of NotoSansCJKsc-Regular.otf inside the installed mplfonts package."""
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the mplfonts package is not installed: run `make setup`")
    path = Path(list(spec.submodule_search_locations)[0]) / "fonts" / "NotoSansCJKsc-Regular.otf"
    if not path.is_file():
        raise RuntimeError(f"{path}: expected the Noto Sans CJK SC font shipped by mplfonts, found no such file")
    return path


def use_in_matplotlib() -> None:
    """Register the bundled font in this process and make it matplotlib's default."""
    import matplotlib
    from matplotlib import font_manager

    path = str(cjk_font_path())
    if path not in {f.fname for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(path)
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [FAMILY, "DejaVu Sans"]
    matplotlib.rcParams["axes.unicode_minus"] = False
