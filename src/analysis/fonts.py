"""The bundled CJK font (Noto Sans CJK SC from the ``mplfonts`` package, SIL OFL).

Nothing here relies on system fonts: a fresh machine has none with Chinese glyphs. Matplotlib
registers the font file directly; HTML and PDF name it in CSS via ``@font-face``.
"""
from __future__ import annotations

import importlib.util
import struct
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


def unshare_glyphs(font) -> None:
    """Give each character of a font's cmap a glyph of its own: a copy where several share one.

    A PDF maps each glyph back to one text; in Noto Sans CJK − and －, 〜 and ～, … and ⋯, – and ‒
    are drawn by one glyph each, so a report using both characters of a pair would give back
    the same character for both when copied or searched. ``font``: a fontTools TTFont (OpenType/CFF).
    """
    cmap = font.getBestCmap()
    by_glyph: dict[str, list[int]] = {}
    for code, glyph in sorted(cmap.items()):
        by_glyph.setdefault(glyph, []).append(code)
    shared = {g: codes[1:] for g, codes in by_glyph.items() if len(codes) > 1}
    if not shared:
        return
    if "CFF " not in font:
        raise RuntimeError("expected an OpenType/CFF font (the bundled Noto Sans CJK), found another outline format")
    from fontTools.misc.psCharStrings import T2CharString
    top = font["CFF "].cff.topDictIndex[0]
    charstrings = top.CharStrings
    cid_keyed = hasattr(top, "ROS")
    order = list(font.getGlyphOrder())
    used = set(order)
    free_cids = (c for c in range(getattr(top, "CIDCount", 65535) - 1, 0, -1) if f"cid{c:05d}" not in used)
    for glyph, codes in shared.items():
        source = charstrings[glyph]
        if source.bytecode is None:
            source.compile()
        for code in codes:
            name = f"cid{next(free_cids):05d}" if cid_keyed else f"{glyph}.u{code:04X}"
            charstrings.charStringsIndex.append(
                T2CharString(bytecode=source.bytecode, private=source.private, globalSubrs=source.globalSubrs))
            charstrings.charStrings[name] = len(charstrings.charStringsIndex) - 1
            if hasattr(top, "FDSelect"):
                top.FDSelect.append(top.FDSelect[order.index(glyph)])
            order.append(name)
            for tag in ("hmtx", "vmtx"):
                if tag in font:
                    font[tag].metrics[name] = font[tag].metrics[glyph]
            if "VORG" in font and glyph in font["VORG"].VOriginRecords:
                font["VORG"].VOriginRecords[name] = font["VORG"].VOriginRecords[glyph]
            for table in font["cmap"].tables:
                if table.cmap.get(code) == glyph:
                    table.cmap[code] = name
    top.charset = order
    font.setGlyphOrder(order)


def font_cmap(font: bytes) -> set[str]:
    """The characters a font file (its bytes) has glyphs for.

    Raises:
        ValueError: the bytes are not a font fontTools can read (garbage, truncated).
    """
    import io
    from fontTools.ttLib import TTFont, TTLibError
    try:
        cmap = TTFont(io.BytesIO(font), lazy=True).getBestCmap()
    except (TTLibError, AssertionError, KeyError, ValueError, EOFError, IndexError, struct.error) as exc:
        raise ValueError(f"not a readable font ({type(exc).__name__}: {exc})") from None
    if not cmap:
        raise ValueError("a font without a character map")
    return {chr(c) for c in cmap}


@lru_cache(maxsize=1)
def bundled_cmap() -> frozenset[str]:
    """The characters the bundled Noto Sans CJK SC has glyphs for (~45 000; read once, ~0.5 s)."""
    return frozenset(font_cmap(cjk_font_path().read_bytes()))


#: characters that need no glyph: controls, format characters (soft hyphen, joiners), line and paragraph
#: separators, variation selectors
_NO_GLYPH_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def needs_glyph(char: str) -> bool:
    import unicodedata
    return (unicodedata.category(char) not in _NO_GLYPH_CATEGORIES
            and not 0xFE00 <= ord(char) <= 0xFE0F and not 0xE0100 <= ord(char) <= 0xE01EF)
