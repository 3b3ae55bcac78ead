"""Export an executed report notebook to one self-contained HTML file and a paged A4 PDF.

HTML: nbconvert's ``basic`` template renders the cell outputs (no inputs, no prompts, no stderr),
then our own page template wraps them with a table of contents and CSS that names the CJK font
on every element (nbconvert's lab/classic CSS sets its own fonts on headings and tables, which
print as empty boxes). The font is embedded as a WOFF subset of the characters used (fontTools),
so the HTML renders Chinese on machines without CJK fonts.

PDF: WeasyPrint renders the same HTML with a print stylesheet (@page margin boxes for the
running header and 第 N 页 / 共 M 页, target-counter for the table of contents) and the bundled
font from a local file; its URL fetcher only allows files below the report's folder and the font.
"""
from __future__ import annotations

import base64
import html
import io
import re
import struct
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from . import __version__
from .errors import ReportError
from .fonts import FALLBACKS, FAMILY, bundled_cmap, cjk_font_path, unshare_glyphs
from .request import LANGS

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: the key of a displayed output's metadata where a section says what the output is (``toc``, ``role``);
#: defined here, not in analysis.report, so that exporting never imports the report's charting
META_KEY = "analysis"


#: a number or range with its unit, or an identifier: never broken across lines in a table
#: (55–65%, 2439.1–2445.6亿元, 50—100亿级, 243.91–244.56, yb-016)
_UNBREAKABLE = re.compile(
    r"[A-Za-z]+-?\d+"
    r"|[+\-−]?\d[\d.,]*(?:\s?[–—~～-]\s?[+\-−]?\d[\d.,]*)?"
    r"(?:\s?%|‰|个百分点|亿元|万元|万辆|万人|亿|万|元|辆|家|倍|年|位|个|项|台|套|吨|级){0,2}")
#: where a line may break inside such a token: after a dash, between a digit and a Chinese unit
_BREAKABLE = re.compile(r"[–—~～-]|\d[^\x00-\u2fff]")
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
_PROSE = re.compile(r"[，。；！？]|[,;] |\.\s+[A-Za-z]")   # a sentence, not "No. 1" or "1,241"
#: cells of at most this many characters are kept on one line: a word (数智工厂), and, without
#: spaces, a Chinese term or name, which has no spaces to break at (长安汽车数智工厂, 约60%（55–65%）)
SHORT_CELL, SHORT_TERM = 6, 12


def _is_identifier(text: str) -> bool:
    """yb-001, S000, a sha256 prefix, 2024-12-31: no spaces, ASCII, a digit and a letter or a hyphen."""
    return (bool(_IDENTIFIER.fullmatch(text)) and any(c.isdigit() for c in text)
            and not text.replace(".", "").replace(",", "").isdigit())


_NUMERAL = re.compile(r"[\d.,%‰–—~～-]*\d[\d.,%‰–—~～-]*")


def _is_figure(text: str) -> bool:
    """超过20%, 约60%（55–65%）, 第1位, 2024, at most 47.5%, No. 1: a short text, not a sentence, whose
    numerals make a quarter of its characters (a fifth of its words if it has spaces)."""
    words = text.split()
    if (not any(c.isdigit() for c in text) or _is_identifier(text) or len(text) > (60 if len(words) > 1 else 40)
            or _PROSE.search(text)):
        return False
    if len(words) > 1:
        return sum(any(c.isdigit() for c in w) for w in words) >= len(words) / 5
    return sum(len(m) for m in _NUMERAL.findall(text)) >= len(text) / 4


def column_kinds(rows, n: int) -> list[str]:
    """Per column: ``num`` if every filled cell is a figure, ``id`` if every one is an identifier, else ''."""
    kinds = []
    for i in range(n):
        cells = [str(r[i]).strip() for r in rows if i < len(r) and str(r[i]).strip() not in ("", "–", "—", "-")]
        kinds.append("num" if cells and all(map(_is_figure, cells)) else
                     "id" if cells and all(map(_is_identifier, cells)) else "")
    return kinds


def cell_class(value, kind: str = "", wrap: bool = False) -> str:
    """The class of a table cell: its column's kind, and ``nw`` (one line) for a short cell unless
    its column has to ``wrap`` (see :func:`column_layout`)."""
    text = str(value).strip()
    short = not wrap and (len(text) <= SHORT_CELL or (len(text) <= SHORT_TERM and not any(c.isspace() for c in text)))
    return " ".join(c for c in (kind, "nw" if short else "") if c)


#: a Chinese run of at most SHORT_CELL characters between punctuation, spaces or other scripts: with no
#: word segmentation at hand, such a run is kept whole (口径未注明, 小巨人, 居全市第一); longer runs may break
_SHORT_CJK = re.compile(r"(?<![\u4e00-\u9fff])[\u4e00-\u9fff]{2,%d}(?![\u4e00-\u9fff])" % SHORT_CELL)
_KEEP = re.compile(f"(?:{_UNBREAKABLE.pattern})|(?P<cjk>{_SHORT_CJK.pattern})")


def keep_together(value, whole: bool = False):
    """The cell's text, escaped, with numbers, ranges, identifiers and short Chinese runs in
    ``<span class="nb">``; no spans in a cell kept on one line as a ``whole`` (its class says so)."""
    from markupsafe import Markup, escape
    text, out, at = str(value), [], 0
    if whole:
        return escape(text)
    for m in _KEEP.finditer(text):
        token = m.group()
        if not m.group("cjk") and (not any(c.isdigit() for c in token) or token.isdigit()
                                   or not _BREAKABLE.search(token)):
            continue   # 2024, 5.29%: nothing to break at inside
        out += [escape(text[at:m.start()]), Markup('<span class="nb">'), escape(m.group()), Markup("</span>")]
        at = m.end()
    out.append(escape(text[at:]))
    return Markup("").join(out)


#: the printed table's geometry (templates/print.css): the A4 text width (210 mm less two 18 mm
#: margins) in ems of the table's 8.5 pt type, and a cell's horizontal padding in ems (.5em each
#: side; a figure's right padding is .9em)
TABLE_EMS = (210 - 2 * 18) / 25.4 * 72 / 8.5
PAD_EMS, NUM_PAD_EMS = 1.0, 1.4
#: a text's width is estimated from the font's advances, without kerning or shaping: a little more
#: is allowed for where the estimate is the only thing that keeps a line inside its cell
SAFETY = 1.06
#: what a cell broken over one more line costs beside the table's height, in lines: of two widths that
#: give the same height, the one that keeps more cells whole ("Yubei District", "more than 20%") wins
BROKEN = 0.2

#: where a line may not break in a cell (besides keep_together's runs): a run of letters, digits
#: and their punctuation; a Chinese character with the punctuation that may not begin or end a line
_CHUNK = re.compile(r"[（(“‘《【〔\[]*(?:[\u2e80-\u9fff\uf900-\ufaff\uff01-\uff60]|[^\s\u2e80-\u9fff\uf900-\ufaff"
                    r"\uff01-\uff60]+)[，。、；：！？）)”’》】〕\]%‰]*")


@lru_cache(maxsize=4096)
def _advance(char: str) -> float:
    """A character's advance in ems in the bundled font (1 em for a wide character it lacks, .6 em otherwise)."""
    import unicodedata
    from matplotlib.font_manager import get_font   # the kernel has the font open for its charts
    font = get_font(str(cjk_font_path()))
    if font.get_char_index(ord(char)):
        from matplotlib.ft2font import LoadFlags
        return font.load_char(ord(char), flags=LoadFlags.NO_SCALE).horiAdvance / font.units_per_EM
    return 1.0 if unicodedata.east_asian_width(char) in "WF" else 0.6


def text_ems(text: str) -> float:
    """The width of a line of text in ems of its type."""
    return sum(map(_advance, text))


def _pieces_ems(text: str) -> tuple[float, float]:
    """The widest and the mean width of a cell's pieces that cannot break: the narrowest the text
    can be set, and what a wrapped line leaves unused on average (half a piece)."""
    pieces = [m.group() for m in _KEEP.finditer(text)]
    rest = _KEEP.sub(" ", text)
    pieces += _CHUNK.findall(rest)
    widths = list(map(text_ems, pieces))
    return max(widths, default=0.0), sum(widths) / len(widths) if widths else 0.0


def column_layout(rows, headers, kinds) -> dict | None:
    """Column widths (percentages of the table) for a table printed at the page's text width, and which
    columns' short cells may wrap after all; ``None`` when even the narrowest setting of each column
    is wider than the page (the table is then laid out by the browser or WeasyPrint as it is).

    Each column gets at least its widest piece that cannot break (a short cell, ``nw``, whole); a
    table whose cells all fit on one line shares the page in proportion to its columns' widest cells;
    otherwise the width left over goes, step by step, where it saves the most lines of the table per
    em (a column of quotes rather than one of names whose longest entry is one character too long),
    each cell it keeps from breaking counted as :data:`BROKEN` of a line.
    A wrapped cell's lines are estimated as its text's width over the column's, less half a piece per
    line for what a line break leaves unused (a word in English, a character or a kept run in Chinese).
    WeasyPrint would measure every cell with Pango to lay a table out automatically — two passes over
    each table, a tenth of the PDF's time; given the widths (``table-layout: fixed`` in print.css) it
    does not. Columns whose one-line cells do not fit beside each other (a seven-column table of
    quotes in Chinese) may wrap after all, the one with the longest texts first.
    """
    import numpy as np
    n = len(headers)
    if not n:
        return None
    table = [headers, *rows]
    text = [[str(r[j]).strip() if j < len(r) else "" for j in range(n)] for r in table]
    pad = np.array([NUM_PAD_EMS if k == "num" else PAD_EMS for k in kinds])
    ems = np.array([[text_ems(t) * SAFETY for t in r] for r in text])           # rows × columns
    pieces = np.array([[_pieces_ems(t) for t in r] for r in text]) * SAFETY          # rows × columns × 2
    least, waste = pieces[..., 0], pieces[..., 1] / 2     # a wrapped line is short of its width by half a piece
    keep = np.array([[kinds[j] == "id" or "nw" in cell_class(t) for j, t in enumerate(r)] for r in text])
    high = ems.max(axis=0) + pad
    loose = np.where(np.array([k == "id" for k in kinds]), high, least.max(axis=0) + pad)
    low = np.where(keep, ems, least).max(axis=0) + pad
    wrap = [False] * n
    for j in sorted(range(n), key=lambda j: -high[j]):   # the column of longest texts wraps anyway
        if low.sum() <= TABLE_EMS:
            break
        if low[j] > loose[j]:
            low[j], wrap[j] = loose[j], True
            keep[:, j] = False
    if low.sum() > TABLE_EMS:
        return None
    if high.sum() <= TABLE_EMS:
        widths = high * TABLE_EMS / high.sum()
    else:
        ems = np.where(keep, 0.0, ems)      # one-line cells fit their column by construction

        def lines(col, width):               # lines of column col's cells at the given widths (k × rows)
            width = np.atleast_1d(width)[:, None]
            room = width - pad[col]
            wrapped = np.ceil(ems[:, col][None, :] / np.maximum(room - waste[:, col][None, :], 0.25) - 1e-9)
            return np.where(ems[:, col][None, :] <= room + 1e-9, 1, np.maximum(wrapped, 2))

        widths = low.copy()
        spare = TABLE_EMS - widths.sum()
        while spare > 1e-6:
            now = np.stack([lines(j, widths[j])[0] for j in range(n)], axis=1)   # rows × columns
            best = None
            for j in range(n):
                others = np.delete(now, j, axis=1).max(axis=1) if n > 1 else np.ones(len(text))
                fewer = np.maximum(now[:, j] - 1, 1)                                 # width that saves a line
                need = np.where(fewer == 1, ems[:, j], ems[:, j] / fewer + waste[:, j]) + pad[j]
                steps = np.unique(need[(now[:, j] > 1) & (need > widths[j]) & (need <= widths[j] + spare)])
                if not steps.size:
                    continue
                after = lines(j, steps)
                saved = (now.max(axis=1).sum() - np.maximum(after, others[None, :]).sum(axis=1)
                         + BROKEN * (now[:, j].sum() - after.sum(axis=1)))
                rate = saved / (steps - widths[j])
                i = int(rate.argmax())
                if saved[i] > 0 and (best is None or rate[i] > best[0]):
                    best = (rate[i], j, steps[i])
            if best is None:
                break
            spare -= best[2] - widths[best[1]]
            widths[best[1]] = best[2]
        if spare > 1e-6:                     # no line left to save: in proportion to what each could take
            give = np.maximum(high - widths, 0)
            widths += spare * (give / give.sum() if give.sum() > 0 else widths / widths.sum())
    return {"widths": [f"{100 * w / TABLE_EMS:.2f}%" for w in widths], "wrap": wrap}


#: filters the section templates use (registered by analysis.report on its environment)
TEMPLATE_FILTERS = {"column_kinds": column_kinds, "cell_class": cell_class, "keep_together": keep_together,
                    "column_layout": column_layout}


def _families() -> str:
    return ", ".join(f'"{f}"' if " " in f else f for f in FALLBACKS)


#: cells with these tags stay out of exported reports: ``remove`` (notes), ``analyst`` (the
#: DataFrames an analyst looks at in JupyterLab)
REMOVE_TAGS = {"remove", "analyst"}


def report_parts(nb) -> tuple[object, dict]:
    """Split an executed notebook into the report body and what its sections declared.

    Sections display HTML with ``analysis`` metadata (see :mod:`analysis.report`): the title block
    (``role: title``) is taken out of the body to open the page; ``toc`` entries make the table
    of contents. Cells tagged :data:`REMOVE_TAGS` are dropped (nbconvert's TagRemovePreprocessor),
    and stderr streams (warnings) never reach a reader. Returns (notebook, {title, title_html, toc}).
    """
    import copy
    from nbconvert.preprocessors import TagRemovePreprocessor
    nb = copy.deepcopy(nb)
    nb, _ = TagRemovePreprocessor(remove_cell_tags=REMOVE_TAGS, enabled=True).preprocess(nb, {})
    info = {"title": "", "title_html": "", "toc": []}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i}"  # papermill gives its injected cell a random id: keep the HTML reproducible
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.outputs:
            meta = out.get("metadata", {}).get(META_KEY, {})
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                continue
            if meta.get("role") == "title":
                info["title"], info["title_html"] = meta.get("title", ""), out["data"].get("text/html", "")
                continue
            if "toc" in meta:
                info["toc"].append((meta["toc"]["id"], meta["toc"]["text"]))
            kept.append(out)
        cell.outputs = kept
    return nb, info


def notebook_body(nb) -> tuple[str, dict]:
    """The HTML of a notebook's outputs (no code, no prompts, no stderr, no removed cells) and its parts."""
    nb, info = report_parts(nb)
    body, _ = _exporter().from_notebook_node(nb)
    return body, info


_EXPORTER = None


def _exporter():
    """One HTMLExporter per process: its first conversion compiles the templates (~0.35 s)."""
    global _EXPORTER
    if _EXPORTER is None:
        from nbconvert import HTMLExporter
        _EXPORTER = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                                 exclude_output_prompt=True)
    return _EXPORTER


def mend_html_parser() -> None:
    """Make the HTML parser's pattern cache work (tinyhtml5 2.1, WeasyPrint's parser).

    ``HTMLUnicodeInputStream.chars_until`` caches one compiled pattern per set of stop characters,
    but stores it under the pattern itself (``characters = cache[(characters, opposite)] = regex``
    assigns the name first), so it never finds one: every call builds and compiles its pattern
    again — 3,100 times for the default report's page, 0.05 s of each PDF. Putting the pattern in
    the cache under the key it is looked up by, before the original runs, is all the fix needs;
    when the library stores it right, the wrapper only ever finds it there. Idempotent."""
    from tinyhtml5 import inputstream
    stream = inputstream.HTMLUnicodeInputStream
    if getattr(stream.chars_until, "_mended", False):
        return
    original, cache = stream.chars_until, inputstream.characters_until_regex

    def chars_until(self, characters, opposite=False):
        if (characters, opposite) not in cache:
            regex = "".join(f"\\x{ord(c):02x}" for c in characters)
            cache[(characters, opposite)] = re.compile(f"[{regex if opposite else '^' + regex}]+")
        return original(self, characters, opposite)
    chars_until._mended = True
    stream.chars_until = chars_until


def png_rows(data: bytes) -> bytes | None:
    """The compressed rows (IDAT) of an 8-bit RGB or grey PNG, not interlaced and without a transparent
    colour: exactly a PDF FlateDecode stream with PNG predictors (``/Predictor 15``) of its pixels. None
    for any other PNG (a palette, alpha, 16 bits, interlace, a tRNS chunk, a damaged file)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, rows, header = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) < length:
            return None
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body[:13]) if length == 13 else None
        elif kind == b"IDAT":
            rows.append(body)
        elif kind in (b"tRNS", b"PLTE"):
            return None
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not rows:
        return None
    _w, _h, depth, colour, compression, filtering, interlace = header
    if depth != 8 or colour not in (0, 2) or compression or filtering or interlace:
        return None
    return b"".join(rows)


def pass_png_through() -> None:
    """Let WeasyPrint embed an opaque 8-bit PNG's compressed rows in the PDF as they are (WeasyPrint 70).

    For every PNG, WeasyPrint's ``RasterImage._get_png_data`` decodes the image and compresses it again
    at zlib's default level only to keep the rows of the new file (an RGBA image twice: colour, then
    alpha as a soft mask). The rows of the original are already that stream; for the charts (opaque
    RGB, :func:`analysis.charts.to_png`) the wrapper hands them over: ≈ 55 ms less per chart, the
    same pixels (a test reads them back from the PDF). Any other image goes the library's way.
    Idempotent."""
    from weasyprint.images import RasterImage
    if getattr(RasterImage._get_png_data, "_mended", False):
        return
    original = RasterImage._get_png_data

    def _get_png_data(pillow_image):
        fp = getattr(pillow_image, "fp", None)
        if getattr(pillow_image, "format", None) == "PNG" and isinstance(fp, io.BytesIO):
            rows = png_rows(fp.getvalue())
            if rows is not None:
                return rows
        return original(pillow_image)
    _get_png_data._mended = True
    RasterImage._get_png_data = staticmethod(_get_png_data)


def warm() -> None:
    """Pay the exporter's first-use costs now (called while a kernel runs the notebook)."""
    from nbformat.v4 import new_code_cell, new_notebook, new_output
    nb = new_notebook(cells=[new_code_cell("x", outputs=[new_output("display_data", data={"text/html": "<p>x</p>"})])])
    notebook_body(nb)


def font_subset(text: str) -> bytes:
    """The bundled font cut down to the characters of ``text`` (OpenType/CFF, a few hundred KB).

    WeasyPrint needs ~15 s to load and subset the full 16 MB font; handing it this subset takes
    a fraction of a second, and the same bytes make the HTML self-contained. The glyph
    substitutions stay (HarfBuzz shapes with them: Chinese forms of — and …, —— as one line);
    a glyph shared by several characters is duplicated (see :func:`analysis.fonts.unshare_glyphs`).
    """
    from fontTools import subset
    opts = subset.Options()
    opts.layout_features = ["*"]
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    font = subset.load_font(str(cjk_font_path()), opts)
    sub = subset.Subsetter(opts)
    sub.populate(text=text + "0123456789.,%–—()（）：；、。“”‘’～·•∞第页共目录/- ≤≥<>≈×→…ContentsPageof")
    sub.subset(font)
    unshare_glyphs(font)
    buf = io.BytesIO()
    subset.save_font(font, buf, opts)
    return buf.getvalue()


def font_face(font: bytes) -> str:
    data = base64.b64encode(font).decode()
    return f'@font-face {{ font-family: "{FAMILY}"; src: url(data:font/otf;base64,{data}) format("opentype"); }}'


def document_text(body: str) -> str:
    """The characters a page will show (tags and embedded data removed)."""
    return html.unescape(re.sub(r"<[^>]+>|data:[^\"']+", "", body))


def page(body: str, info: dict, *, lang: str, print_css: str = "", font_face: str = "") -> str:
    """Wrap the notebook body: title block first, table of contents, then the sections."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html", "j2"]))
    from markupsafe import Markup
    from .messages import messages
    msg = messages(lang)
    return env.get_template("page.html.j2").render(
        lang=msg("lang_tag"), title=info["title"] or "Report", version=__version__, families=Markup(_families()),
        font_face=Markup(font_face), print_css=Markup(print_css), title_block=Markup(info["title_html"]),
        toc=info["toc"], toc_title=msg("toc"), body=Markup(body))


def to_html(nb, *, lang: str, font: bytes | None = None, body: tuple[str, dict] | None = None) -> str:
    """The self-contained HTML report of an executed notebook (font: subset from font_subset)."""
    html_body, info = body if body is not None else notebook_body(nb)
    font = font if font is not None else font_subset(document_text(info["title_html"] + html_body))
    return page(html_body, info, lang=lang, font_face=font_face(font))


def _print_css(lang: str) -> str:
    from .messages import messages
    css = (TEMPLATES / "print.css").read_text(encoding="utf-8")
    return css.replace('"PAGE_LABEL"', messages(lang)("page_label"))


def local_fetcher(allowed: list[Path]):
    """A WeasyPrint URL fetcher that serves data: URLs and local files below ``allowed`` only."""
    from weasyprint.urls import URLFetcher
    roots = [p.resolve() for p in allowed]

    class LocalFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith("file:"):
                from urllib.parse import unquote, urlparse
                path = Path(unquote(urlparse(url).path)).resolve()
                if not any(path == r or r in path.parents for r in roots):
                    raise ReportError(f"refused to read {url!r}: outside the report's folder")
            return super().fetch(url, headers)

    return LocalFetcher(allowed_protocols={"file", "data"}, allow_redirects=False)


#: SHA-256 of font files that are subsets made here: WeasyPrint embeds them as they are
_PRESUBSET: set[str] = set()


#: WeasyPrint font configurations by the SHA-256 of the subset they hold (the last one only)
_FONT_CONFIGS: dict[str, object] = {}


def font_configuration(digest: str):
    """The WeasyPrint font configuration (fontconfig and Pango's font map) for PDFs set in the subset of this
    SHA-256, kept for the next PDF of the process: a batch worker's reports share their data file's subset,
    and a configuration that has laid out one report has the font loaded and its caches warm (measured:
    0.08 s less per PDF, median of 12 alternating pairs; the PDF bytes are the same). One is kept: a
    different subset gets a new one."""
    from weasyprint.text.fonts import FontConfiguration
    if digest not in _FONT_CONFIGS:
        _FONT_CONFIGS.clear()
        _FONT_CONFIGS[digest] = FontConfiguration()
    return _FONT_CONFIGS[digest]


def presubset(font: bytes) -> str:
    """Have WeasyPrint embed this font file as it is instead of subsetting it again; returns its SHA-256.

    The font is already a subset of the characters of the report; WeasyPrint 70 without
    libharfbuzz-subset (not on the base image) subsets it again with fontTools, measured at
    ~1 s per PDF. Its own subsetting is skipped for these files only, by wrapping the font
    class's ``subset`` method once per process; if a WeasyPrint release renames it, PDFs stay
    correct and take that second again. Text mapping is unaffected: WeasyPrint still writes the
    glyph-to-text map of the glyphs used, from the shaped text.
    """
    import hashlib
    digest = hashlib.sha256(font).hexdigest()
    _PRESUBSET.add(digest)
    try:
        from weasyprint.pdf.fonts import Font
    except ImportError:
        return digest
    original = getattr(Font, "subset", None)
    if original is None or getattr(original, "_analysis_presubset", False):
        return digest

    def subset(self, *args, **kwargs):
        if hashlib.sha256(self.file_content).hexdigest() in _PRESUBSET:
            return None
        return original(self, *args, **kwargs)
    subset._analysis_presubset = True
    Font.subset = subset
    return digest


def to_pdf(nb, target: Path, *, lang: str, base_dir: Path, font: bytes | None = None,
           body: tuple[str, dict] | None = None, font_file: Path | None = None) -> None:
    """Render the report of an executed notebook to an A4 PDF at ``target``.

    ``font_file``: the subset as a file (read through a file URL: tokenising a data URL of a few
    hundred KB in CSS costs WeasyPrint ~0.5 s).
    """
    from weasyprint import HTML
    import tempfile
    mend_html_parser()
    pass_png_through()
    html_body, info = body if body is not None else notebook_body(nb)
    tmp_dir = None
    if font_file is None:
        font = font if font is not None else font_subset(document_text(info["title_html"] + html_body))
        tmp_dir = Path(tempfile.mkdtemp(prefix="analysis-font-"))
        font_file = tmp_dir / "subset.otf"
        font_file.write_bytes(font)
    face = f'@font-face {{ font-family: "{FAMILY}"; src: url("{font_file.resolve().as_uri()}"); }}'
    doc = page(html_body, info, lang=lang, print_css=_print_css(lang), font_face=face)
    fetcher = local_fetcher([base_dir, font_file.resolve().parent])
    digest = presubset(font_file.read_bytes())
    try:
        # not full_fonts: with it WeasyPrint maps glyphs back to text by the font's cmap alone, and
        # glyphs that shaping substitutes (the Chinese — of "50—100亿级", the … after Latin letters,
        # —— joined) have no cmap entry: they copied as "50f100", "50 100" or "Ѭ". Without it, each glyph
        # maps to the text it was shaped from.
        HTML(string=doc, base_url=str(base_dir), url_fetcher=fetcher).write_pdf(
            str(target), font_config=font_configuration(digest))
    finally:
        if tmp_dir is not None:
            import shutil
            shutil.rmtree(tmp_dir, ignore_errors=True)


def export(nb, *, lang: str, html_path: Path | None, pdf_path: Path | None, base_dir: Path,
           font: bytes | None = None, font_file: Path | None = None) -> dict[str, float]:
    """Both formats from one rendering of the body and one font subset; returns timings.

    ``font``/``font_file``: a subset built ahead (see analysis.fontcache). Whatever its origin, the
    font must have a glyph for every character the page shows (:func:`missing_glyphs`); a subset
    lacking some that the bundled font has is replaced by one made here from the page's text.

    Raises:
        ReportError: a PDF is asked for and the bundled font has no glyph for some characters of the
            page: they would print as empty boxes or in another font.
    """
    import time
    t = time.perf_counter()
    from .messages import messages
    body = notebook_body(nb)
    text = document_text(body[1]["title_html"] + body[0]) + messages(lang)("toc")
    lacking = missing_glyphs(text, font) if font is not None else None
    if lacking is None or (lacking and set(lacking) & bundled_cmap()):   # no subset, or one short of what it can have
        font, font_file = font_subset(text), None
        lacking = missing_glyphs(text, font)
    if lacking and pdf_path is not None:
        raise ReportError(glyph_message(lacking))
    timings = {"body+font": time.perf_counter() - t}
    if html_path is not None:
        t = time.perf_counter()
        html_path.write_text(to_html(nb, lang=lang, font=font, body=body), encoding="utf-8")
        timings["html"] = time.perf_counter() - t
    if pdf_path is not None:
        t = time.perf_counter()
        to_pdf(nb, pdf_path, lang=lang, base_dir=base_dir, font=font, body=body, font_file=font_file)
        timings["pdf"] = time.perf_counter() - t
    return timings


def missing_glyphs(text: str, font: bytes) -> list[str]:
    """The characters of ``text`` that need a glyph and that ``font`` (its bytes) has none for, sorted.
    A font that cannot be read lacks them all."""
    from .fonts import font_cmap, needs_glyph
    need = {c for c in set(text) if needs_glyph(c)}
    try:
        have = font_cmap(font)
    except ValueError:
        have = set()
    return sorted(need - have)


def glyph_message(chars: list[str], limit: int = 20) -> str:
    """'the PDF would lack glyphs for 2 characters: 😀 (U+1F600), … (…)'."""
    import unicodedata
    shown = ", ".join(f"{c} (U+{ord(c):04X} {unicodedata.name(c, 'unnamed')})" for c in chars[:limit])
    more = f" and {len(chars) - limit} more" if len(chars) > limit else ""
    n = len(chars)
    return (f"the PDF would lack glyphs for {n} character{'s' if n != 1 else ''}: {shown}{more}; the bundled font "
            f"(Noto Sans CJK SC) has none for {'them' if n != 1 else 'it'}, so {'they' if n != 1 else 'it'} would "
            "print as empty boxes. Replace or remove them in the data, the title or the parameters (or ask for "
            "--format html, where a reader's browser can draw them with its own fonts)")


def main(argv: list[str] | None = None) -> int:
    """``python -m analysis.export {html,pdf} EXECUTED.ipynb OUT [--lang zh|en]``: export one executed notebook."""
    import argparse
    import nbformat
    ap = argparse.ArgumentParser(prog="python -m analysis.export")
    ap.add_argument("format", choices=["html", "pdf"])
    ap.add_argument("notebook", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--lang", choices=LANGS, default=LANGS[0])
    a = ap.parse_args(argv)
    nb = nbformat.read(str(a.notebook), as_version=4)
    if a.format == "html":
        a.out.write_text(to_html(nb, lang=a.lang), encoding="utf-8")
    else:
        to_pdf(nb, a.out, lang=a.lang, base_dir=a.out.resolve().parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
