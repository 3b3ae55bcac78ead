"""Charts for reports: matplotlib with the bundled CJK font, legible at A4 width.

Every chart has axis labels with units and a source line wrapped to the figure's width (never
cut); its title is the report's figure caption, so a chart draws a title only when given one.
Bounded figures are drawn as bounded: a figure known only as "at most" is a hatched bar ending
in ≤, "more than" an open bar with an arrow, and an interval an error bar — never a plain bar
that looks exact — and a key under the chart explains the marks it uses. Numbers on ticks and
labels are written as in the text (:func:`analysis.numbers.format_number`: 4000 in Chinese,
4,000 in English); a bound is labelled with its qualifier (> 4000), never as an exact value.

Layout is in inches: the plot keeps its size, and the figure grows downwards for the key, the
note and the source line, however many lines they wrap to.
"""
from __future__ import annotations

import io
import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg  # noqa: E402
from matplotlib.legend_handler import HandlerBase  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle  # noqa: E402
from matplotlib.path import Path  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402
from matplotlib.transforms import Bbox, ScaledTranslation  # noqa: E402

from .fonts import use_in_matplotlib  # noqa: E402
from .messages import messages  # noqa: E402
from .numbers import display_scale, format_number  # noqa: E402

DPI = 170            # at 183 mm wide: ~170 dpi on paper, sharp in print
WIDTH_IN = 7.2        # ≈ 183 mm: the text width of an A4 page with 18 mm margins
COLORS = {"bar": "#2f5d8a", "bound": "#9bb7d4", "accent": "#c0392b", "accent_bound": "#e8aaa3", "grid": "#d9d9d9",
          "muted": "#666666", "note": "#333333"}
PAD_IN = 0.07         # white margin at the figure's edges
FOOT_SIZE = 7.5       # point size of the source line, the note and the caveat
KEY_SIZE = 8

use_in_matplotlib()


def setup() -> None:
    """The report's chart style for every figure of a notebook, an analyst's own included.

    In a Jupyter kernel, figures are shown inline (the kernel runs with the Agg backend so that
    the package's own charts never pop up) at print resolution and A4 text width.
    """
    use_in_matplotlib()
    matplotlib.rcParams.update({"figure.figsize": (WIDTH_IN, WIDTH_IN * 0.5), "savefig.dpi": DPI,
                                "savefig.bbox": "tight", "axes.spines.top": False, "axes.spines.right": False,
                                "axes.prop_cycle": matplotlib.cycler(color=[COLORS["bar"], COLORS["accent"],
                                                                            COLORS["bound"], COLORS["muted"]])})
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        shell.run_line_magic("matplotlib", "inline")
        use_in_matplotlib()   # the inline backend resets rcParams it manages; the font stays ours


# ------------------------------------------------------------------------------------ figures
class _Renderer(RendererAgg):
    """An Agg renderer that looks up text extents in its canvas's memo before asking FreeType."""

    def __init__(self, width, height, dpi, memo: dict):
        super().__init__(width, height, dpi)
        self._memo = memo

    def get_text_width_height_descent(self, s, prop, ismath):
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        key = (s, prop.copy(), self.dpi, matplotlib.rcParams["text.hinting"],
               matplotlib.rcParams["text.hinting_factor"])
        if key not in self._memo:
            self._memo[key] = super().get_text_width_height_descent(s, prop, ismath)
        return self._memo[key]


class _Canvas(FigureCanvasAgg):
    """The Agg canvas of a chart, whose renderers share the text extents they measure.

    Matplotlib remembers extents per renderer, and a canvas makes a new renderer whenever the
    figure changes size: laid out, grown to fit its footnotes and saved cropped, a chart had
    every string measured three times by FreeType (slow for CJK glyphs). The extents are the
    same at the same resolution, so the pixels are too.
    """

    def get_renderer(self):
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if getattr(self, "_renderer_key", None) != key:
            if not hasattr(self, "_extents"):
                self._extents: dict = {}
            self.renderer = _Renderer(w, h, self.figure.dpi, self._extents)
            self._renderer_key = key
        return self.renderer


def _figure(nrows: int = 1, ncols: int = 1, **kwargs):
    """``plt.subplots`` on a :class:`_Canvas`; the figure stays pyplot's (shown inline, closed by :func:`to_png`)."""
    fig, axes = plt.subplots(nrows, ncols, **kwargs)
    manager = fig.canvas.manager
    canvas = _Canvas(fig)          # the figure's canvas from now on
    if manager is not None:
        manager.canvas, canvas.manager = canvas, manager
    return fig, axes


# ------------------------------------------------------------------------------------ numbers
def _ticks(axis, lang: str) -> None:
    """Tick labels written like the value labels: the language's thousands separator, no trailing zeros."""
    axis.set_major_formatter(FuncFormatter(lambda x, _pos: format_number(float(x), 3, lang)))


def _kind(v: float, lo: float, hi: float, q: str, decimals: int, lang: str) -> str:
    """How a bounded figure is drawn: exact, at_most (≤), more_than (>), at_least (≥) or interval."""
    def fmt(x):
        return format_number(x, decimals, lang)
    if not math.isfinite(hi) and math.isfinite(lo):
        return "at_least" if q == "≥" else "more_than"
    if math.isfinite(hi) and (not math.isfinite(lo) or lo <= 0 < v) and fmt(hi) == fmt(v):
        return "at_most"
    if math.isfinite(lo) and math.isfinite(hi) and fmt(lo) != fmt(hi):
        return "interval"
    return "exact"


def _mark(kind: str, lang: str) -> str:
    """The sign written before a value of that kind: "> ", "≥ ", "≤ ", "约 "/"≈ " or nothing."""
    if kind == "interval":
        return messages(lang)("charts.approx_mark")
    return {"more_than": "> ", "at_least": "≥ ", "at_most": "≤ "}.get(kind, "")


#: direction of the bound a qualifier of a stated figure gives (see analysis.numbers.QUALIFIERS)
_LOWER, _UPPER, _APPROX = (">", "≥", "余"), ("<", "≤"), ("≈", "近")


def _bound_label(x: float, q: str, decimals: int, lang: str, *, derived: bool = False) -> str:
    """A figure with the qualifier it was stated with: "> 4000"; a figure derived from a lower
    bound is itself a lower bound, written rounded down so that it stays true ("≥ 4820")."""
    q = q or ""
    if q in _LOWER:
        if derived:
            step = 10.0 ** -decimals
            return "≥ " + format_number(math.floor(x / step + 1e-6) * step, decimals, lang)
        return {">": "> ", "≥": "≥ ", "余": "> "}[q] + format_number(x, decimals, lang)
    if q in _UPPER:
        if derived:
            step = 10.0 ** -decimals
            return "≤ " + format_number(math.ceil(x / step - 1e-6) * step, decimals, lang)
        return {"<": "< ", "≤": "≤ "}[q] + format_number(x, decimals, lang)
    if q in _APPROX:
        return messages(lang)("charts.approx_mark") + format_number(x, decimals, lang)
    return format_number(x, decimals, lang)


# ------------------------------------------------------------------------------------ text
_CJK = "\u2e80-\U0010ffff"
_TOKEN = re.compile(rf"\s+|[{_CJK}]|[^\s{_CJK}]+")
_NO_START = set("，。、；：？！）］｝〉》」』】”’·%％…—,.;:?!)]}")
_NO_END = set("（［｛〈《「『【“‘([{")


def _segments(text: str) -> list[str]:
    """Pieces a line may break between: spaces, CJK characters, and never inside a word or a number
    (2024年 and 超20%、 stay whole; no line starts with a closing mark or ends with an opening one)."""
    segs: list[str] = []
    for tok in _TOKEN.findall(text):
        if segs and not tok.isspace() and not segs[-1].isspace():
            prev = segs[-1]
            cjk_tok, cjk_prev = bool(re.match(rf"[{_CJK}]", tok)), bool(re.search(rf"[{_CJK}]$", prev))
            glued = (tok[0] in _NO_START or prev[-1] in _NO_END
                     or (cjk_tok != cjk_prev and (re.search(r"\d", tok if not cjk_tok else prev[-1]) is not None)))
            if glued:
                segs[-1] += tok
                continue
        segs.append(tok)
    return segs


def _text_width(fig, text: str, size: float, renderer) -> float:
    """Width in inches of one line of text at a point size, as matplotlib draws it."""
    t = Text(0, 0, text, fontsize=size)
    t.set_figure(fig)
    return t.get_window_extent(renderer).width / fig.dpi


def _wrap_to(fig, text: str, width_in: float, size: float, renderer=None) -> str:
    """The text broken into lines no wider than width_in; nothing dropped, no word cut."""
    renderer = renderer or fig.canvas.get_renderer()

    def fits(s):
        return _text_width(fig, s, size, renderer) <= width_in
    lines = []
    for para in str(text).split("\n"):
        segs = _segments(para)
        start = 0
        while True:   # a line from its first non-space segment, filled with as many segments as fit (at least one)
            start = next((i for i in range(start, len(segs)) if not segs[i].isspace()), len(segs))
            if start == len(segs):
                lines.append("")
                break

            def line(end, start=start):
                return "".join(segs[start:end + 1]).rstrip()
            # a line's width grows with every segment added, so the last that fits is found by bisection
            # (the same lines as adding segments one by one, with a few measurements instead of one per segment)
            lo, hi = start, len(segs) - 1
            if hi > lo and not fits(line(hi)):
                hi -= 1
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    lo, hi = (mid, hi) if fits(line(mid)) else (lo, mid - 1)
            lines.append(line(hi))
            if hi == len(segs) - 1:
                break
            start = hi + 1
    # a piece wider than a whole line (a long URL) is cut between characters, the only place left
    return "\n".join(piece for line in lines for piece in ([line] if fits(line) else _by_chars(line, fits)))


def _wrap_even(fig, text: str, width_in: float, size: float, renderer=None) -> str:
    """Like _wrap_to, with lines of even length (no lone last character under a two-line title)."""
    renderer = renderer or fig.canvas.get_renderer()
    wrapped = _wrap_to(fig, text, width_in, size, renderer)
    lines = wrapped.count("\n") + 1
    if lines == 1:
        return wrapped
    lo, hi = width_in / lines * 0.7, width_in
    for _ in range(10):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _wrap_to(fig, text, mid, size, renderer).count("\n") + 1 > lines else (lo, mid)
    return _wrap_to(fig, text, hi, size, renderer)


def _by_chars(text: str, fits) -> list[str]:
    lines, line = [], ""
    for ch in text:
        if line and not fits(line + ch):
            lines.append(line)
            line = ""
        line += ch
    return lines + [line]


def _wrap(label: str, width: int = 30) -> str:
    """Wrap a tick label: CJK characters count as two columns."""
    out, line, w = [], "", 0
    for word in (label.split(" ") if label.isascii() else list(label)):
        ww = len(word) + 1 if label.isascii() else (2 if ord(word) > 0x2E7F else 1)
        if w + ww > width and line:
            out.append(line.rstrip())
            line, w = "", 0
        line += word + (" " if label.isascii() else "")
        w += ww
    out.append(line.rstrip())
    return "\n".join(out)


def _unit_label(ax, text: str, size: float = 9) -> None:
    """The unit of the value axis, written horizontally above its top end (亿元 over the tick labels)."""
    if text:
        ax.annotate(text.strip(), xy=(0, 1), xycoords="axes fraction", xytext=(-3.5, 7), textcoords="offset points",
                    ha="right", va="bottom", fontsize=size)


# ------------------------------------------------------------------------------------ marks
_SLASH = Path([(-0.4, -1.0), (0.4, 1.0)], [Path.MOVETO, Path.LINETO])


def _break_mark(ax, x: float, y: float, size_pt: float, transform=None) -> None:
    """A broken-axis mark (a white gap between two slanted strokes) centred at (x, y)."""
    transform = transform or ax.transData
    fig = ax.figure
    ax.plot([x], [y], marker=_SLASH, markersize=size_pt, mew=5, color="white", transform=transform,
            clip_on=False, zorder=6, linestyle="none")
    for dx in (-2.6, 2.6):
        tr = transform + ScaledTranslation(dx / 72, 0, fig.dpi_scale_trans)
        ax.plot([x], [y], marker=_SLASH, markersize=size_pt, mew=1.0, color="black", transform=tr,
                clip_on=False, zorder=7, linestyle="none")


def _arrow(ax, x: float, y: float, dx_pt: float, dy_pt: float, color: str = COLORS["bar"]) -> None:
    """An arrow from the data point (x, y) reaching dx_pt, dy_pt points further: "more than this"."""
    head = ax.transData + ScaledTranslation(dx_pt / 72, dy_pt / 72, ax.figure.dpi_scale_trans)
    ax.annotate("", xy=(x, y), xycoords=head, xytext=(x, y), textcoords="data",
                arrowprops=dict(arrowstyle="-|>", color=color, lw=1.4, mutation_scale=9,
                                shrinkA=0, shrinkB=0))


class _ArrowBar:
    """Legend handle: an open bar with an arrow (a lower bound)."""


class _ArrowBarHandler(HandlerBase):
    def create_artists(self, legend, orig_handle, xdescent, ydescent, width, height, fontsize, trans):
        w = width * 0.55
        rect = Rectangle((-xdescent, -ydescent), w, height, facecolor=COLORS["bound"], edgecolor=COLORS["bar"],
                         lw=1.0, transform=trans)
        mid = -ydescent + height / 2
        arrow = FancyArrowPatch((-xdescent + w, mid), (-xdescent + width, mid), arrowstyle="-|>", mutation_scale=7,
                                color=COLORS["bar"], lw=1.2, shrinkA=0, shrinkB=0, transform=trans)
        return [rect, arrow]


class _Interval:
    """Legend handle: an error bar, horizontal or vertical like the chart's."""

    def __init__(self, vertical: bool):
        self.vertical = vertical


class _IntervalHandler(HandlerBase):
    """A bar with an error bar across its end, as drawn in the chart (never a bare 工-shaped mark)."""

    def create_artists(self, legend, orig_handle, xdescent, ydescent, width, height, fontsize, trans):
        from matplotlib.lines import Line2D
        x0, y0 = -xdescent, -ydescent
        if orig_handle.vertical:
            w, xm, top, cap = width * 0.4, x0 + width * 0.5, y0 + height * 0.75, width * 0.15
            bar = Rectangle((xm - w / 2, y0 - 1), w, top - y0 + 1, facecolor=COLORS["bound"],
                            edgecolor=COLORS["bar"], lw=0.8, transform=trans)
            segs = [((xm, top - 3), (xm, top + 3)), ((xm - cap, top - 3), (xm + cap, top - 3)),
                    ((xm - cap, top + 3), (xm + cap, top + 3))]
        else:
            end, ym, cap = x0 + width * 0.65, y0 + height / 2, height * 0.4
            bar = Rectangle((x0, y0), end - x0, height, facecolor=COLORS["bar"], lw=0, transform=trans)
            segs = [((end - 5, ym), (end + 5, ym)), ((end - 5, ym - cap), (end - 5, ym + cap)),
                    ((end + 5, ym - cap), (end + 5, ym + cap))]
        return [bar] + [Line2D([a[0], b[0]], [a[1], b[1]], color="black", lw=1.0, transform=trans) for a, b in segs]


def _key(kinds: set[str], lang: str, *, vertical: bool = False) -> list[tuple[object, str]]:
    """Legend entries for the bound marks a chart uses, in a fixed order; none for exact bars."""
    msg = messages(lang)
    entries = {"at_most": (Patch(facecolor="white", edgecolor=COLORS["bar"], hatch="///", lw=1.0),
                           msg("charts.key_at_most")),
               "more_than": (_ArrowBar(), msg("charts.key_more_than")),
               "at_least": (_ArrowBar(), msg("charts.key_at_least")),
               "interval": (_Interval(vertical), msg("charts.key_interval"))}
    return [entries[k] for k in ("at_most", "more_than", "at_least", "interval") if k in kinds]


# ------------------------------------------------------------------------------------ layout
def _finish(fig, *, source: str, note: str = "", caveat: str = "", credit: str = "", key=(),
            fig_title: str | None = None, lang: str = "zh") -> None:
    """Lay out the figure in inches around its plot: fit the axes' labels inside the width, then
    stack under them the key, the caveat, the note and the source line (each wrapped to the
    width), and put a figure title (if any) above; the figure's height becomes what they need."""
    if fig.dpi != DPI:    # text is measured at the resolution it is printed at (hinting makes widths differ)
        fig.set_dpi(DPI)
    renderer = fig.canvas.get_renderer()
    dpi = fig.dpi
    W, H = fig.get_size_inches()
    axes = [a for a in fig.axes if a.get_visible()]

    def extents():
        bbs = [a.get_tightbbox(renderer) for a in axes]
        return (min(b.x0 for b in bbs) / dpi, max(b.x1 for b in bbs) / dpi,
                min(b.y0 for b in bbs) / dpi, max(b.y1 for b in bbs) / dpi)

    x0, x1, low, high = extents()
    for _ in range(3):   # long tick labels: squeeze the plots sideways until every label is inside
        t0, t1 = max(x0, PAD_IN), min(x1, W - PAD_IN)
        if x0 >= PAD_IN - 1e-3 and x1 <= W - PAD_IN + 1e-3:
            break
        scale = (t1 - t0) / (x1 - x0)
        for a in axes:
            p = a.get_position()
            left = t0 + (p.x0 * W - x0) * scale
            a.set_position([left / W, p.y0, p.width * scale, p.height])
        x0, x1, low, high = extents()

    width = W - 2 * PAD_IN
    blocks = []
    if caveat:
        blocks.append((caveat, COLORS["accent"]))
    if note:
        blocks.append((note, COLORS["note"]))
    src = "\n".join(s for s in (source, messages(lang)("charts.credit", credit=credit) if credit else "") if s)
    if src:
        blocks.append((src, COLORS["muted"]))
    y = PAD_IN
    placed = []                                # extents (pixels) of what is placed in inches from the bottom
    for text, color in reversed(blocks):      # from the bottom up: source, note, caveat
        t = fig.text(PAD_IN, y, _wrap_to(fig, text, width * 0.985, FOOT_SIZE, renderer), fontsize=FOOT_SIZE,
                     color=color, ha="left", va="bottom", transform=fig.dpi_scale_trans, linespacing=1.4)
        placed.append(t.get_window_extent(renderer))
        y += placed[-1].height / dpi + 0.05
    if key:
        handles, labels = zip(*key)
        hmap = {_ArrowBar: _ArrowBarHandler(), _Interval: _IntervalHandler()}
        for ncol in range(len(handles), 0, -1):
            leg = fig.legend(handles, labels, loc="lower left", bbox_to_anchor=(PAD_IN, y + 0.03),
                             bbox_transform=fig.dpi_scale_trans, ncol=ncol, frameon=False, fontsize=KEY_SIZE,
                             borderaxespad=0, borderpad=0, handlelength=2.4, handleheight=1.0, columnspacing=1.8,
                             handler_map=hmap)
            box = leg.get_window_extent(renderer)
            if box.width / dpi <= width or ncol == 1:
                break
            leg.remove()
        placed.append(box)
        y += box.height / dpi + 0.1
    foot = y + (0.12 if blocks or key else 0)   # space under the axis labels
    delta = foot - low
    top = high + delta
    if fig_title:
        t = fig.text(PAD_IN, top + 0.18, _wrap_to(fig, fig_title, width, 12, renderer), fontsize=12, ha="left",
                     va="bottom", transform=fig.dpi_scale_trans)
        placed.append(t.get_window_extent(renderer))
        top += 0.18 + placed[-1].height / dpi
    new_h = top + PAD_IN
    for a in axes:
        p = a.get_position()
        a.set_position([p.x0, (p.y0 * H + delta) / new_h, p.width, p.height * H / new_h])
    fig.set_size_inches(W, new_h)
    # what fig.get_tightbbox() would now measure again: the plots' extents moved up by delta, and the
    # texts and key, which stay where they were put (inches from the bottom); see to_png
    boxes = [(x0, x1, low + delta, high + delta)] + [(b.x0 / dpi, b.x1 / dpi, b.y0 / dpi, b.y1 / dpi) for b in placed]
    fig._analysis_extent = (_layout_state(fig), Bbox.from_extents(min(b[0] for b in boxes), min(b[2] for b in boxes),
                                                                   max(b[1] for b in boxes), max(b[3] for b in boxes)))


def _layout_state(fig) -> tuple:
    """What changes when something is added to a laid-out figure or it is resized (see :func:`_finish`)."""
    return (tuple(fig.get_size_inches()), fig.dpi, len(fig.texts), len(fig.legends), len(fig.artists),
            len(fig.patches), len(fig.lines), len(fig.images),
            tuple((len(a.get_children()), tuple(a.get_position().bounds), a.get_visible()) for a in fig.axes))


def to_png(fig) -> bytes:
    """The figure as PNG bytes at print resolution; the figure is closed.

    Cropped to its content in height only: every chart keeps the A4 text width, so that charts
    shown at 100% width all have the same type size.
    """
    W, _ = fig.get_size_inches()
    known = getattr(fig, "_analysis_extent", None)
    if known is not None and known[0] == _layout_state(fig):
        tight = known[1]         # laid out by _finish and unchanged since: measuring again gives the same
    else:
        tight = fig.get_tightbbox(fig.canvas.get_renderer())
    pad = 0.08
    box = Bbox.from_extents(min(0.0, tight.x0), tight.y0 - pad, max(W, tight.x1), tight.y1 + pad)
    return _opaque_png(fig, box)


def _opaque_png(fig, box) -> bytes:
    """The figure drawn in ``box`` (inches) as an 8-bit RGB PNG, on white where it is transparent.

    Without an alpha channel: WeasyPrint then embeds the PNG's compressed rows in the PDF as they are
    (:func:`analysis.export.pass_png_through`) instead of decoding it and compressing colour and alpha
    again (≈ 55 ms a chart). zlib level 1: the PDF keeps these bytes, a tenth larger than level 6's and
    a third faster to write."""
    from PIL import Image
    raw, size = io.BytesIO(), []
    cid = fig.canvas.mpl_connect("draw_event", lambda ev: size.append((ev.renderer.width, ev.renderer.height)))
    try:
        fig.savefig(raw, format="rgba", dpi=DPI, bbox_inches=box)
    finally:
        fig.canvas.mpl_disconnect(cid)
        plt.close(fig)
    w, h = size[-1]
    rgba = np.frombuffer(raw.getbuffer(), np.uint8).reshape(int(h), int(w), 4)
    alpha = rgba[..., 3:]
    if alpha.min() == 255:
        rgb = np.ascontiguousarray(rgba[..., :3])
    else:   # composited on the page's white
        rgb = (rgba[..., :3] * (alpha / 255.0) + 255.0 * (1 - alpha / 255.0)).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buf, format="png", compress_level=1, dpi=(DPI, DPI))
    return buf.getvalue()


def _style(ax, title: str | None, xlabel: str = "", ylabel: str = "", *, title_pad: float = 10):
    if title:
        ax.set_title(title, fontsize=12, loc="left", pad=title_pad)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9.5)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9.5)
    ax.tick_params(labelsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color=COLORS["grid"], linewidth=0.6)
    ax.set_axisbelow(True)


# ------------------------------------------------------------------------------------ charts
def bounded_bars(labels: list[str], values, lowers, uppers, *, title: str | None = None, unit_label: str,
                 source: str, lang: str = "zh", decimals: int = 1, cap: float | None = None, suffix: str = "",
                 qualifiers: list[str] | None = None, note: str = "", credit: str = "", highlight: int | None = None,
                 reference: float | None = None, reference_label: str = ""):
    """Horizontal bars for figures with bounds (values already in the display unit).

    Args:
        title: drawn above the plot; None (the report's figure caption names the chart) draws none.
        cap: bars beyond it end just past the cap with a break mark on the bar and on the axis,
            their full value written; the axis ends at the cap (plus room for the labels).
        qualifiers: the qualifier each figure was stated with (``≥`` is written ≥, other lower
            bounds >).
        note: a line under the chart (e.g. that the bars mix 产值, 产量 and 增加值).
        credit: who made the chart (an organisation), written after the source line; none by default.
        highlight: the position of a bar drawn in the accent colour, its label too (the report's
            region among its peers; the font has one weight, so no bold).
        reference: a value drawn as a dashed line across the bars (the parent region's growth),
            labelled ``reference_label`` above the plot.
    """
    n = len(labels)
    full = [float(v) for v in values]
    lowers, uppers = [float(v) for v in lowers], [float(v) for v in uppers]
    quals = list(qualifiers) if qualifiers else [""] * n
    kinds = [_kind(v, lo, hi, q, decimals, lang) for v, lo, hi, q in zip(full, lowers, uppers, quals)]
    capped = [cap is not None and v > cap for v in full]
    stub = 0.07 * cap if cap is not None else 0.0
    drawn = [cap + stub if c else v for v, c in zip(full, capped)]

    # many bars (38 districts) get thinner and smaller type, so that the chart stays within a page
    per_bar = 0.45 if n <= 12 else max(0.17, min(0.3, 6.6 / n))
    size = 9 if n <= 20 else 7.5
    height = max(2.0, 0.9 + per_bar * n)
    fig, ax = _figure(figsize=(WIDTH_IN, height), dpi=DPI)
    fig.subplots_adjust(left=0.36, right=0.9, bottom=0.6 / height, top=1 - 0.45 / height)   # extra height is trimmed
    y = np.arange(n)[::-1]
    bar_pt = 0.8 * (fig.get_figheight() * (fig.subplotpars.top - fig.subplotpars.bottom)) / (n + 0.2) * 72
    ends = []            # the value labels, for the room they need
    for yi, v, lo, hi, kind, c in zip(y, drawn, lowers, uppers, kinds, capped):
        i = n - 1 - yi
        solid, light = (COLORS["accent"], COLORS["accent_bound"]) if i == highlight else (COLORS["bar"], COLORS["bound"])
        if kind == "at_most":
            ax.barh(yi, v, color="white", edgecolor=solid, hatch="///", linewidth=1.0)
        elif kind in ("more_than", "at_least"):
            ax.barh(yi, v, color=light, edgecolor=solid, linewidth=1.0)
        else:
            ax.barh(yi, v, color=solid)
        off = 4.0
        if kind == "interval" and not c:
            ax.errorbar(full[i], yi, xerr=[[full[i] - lo], [hi - full[i]]], fmt="none", ecolor="black", capsize=3, lw=1)
        if kind in ("more_than", "at_least"):
            _arrow(ax, v, yi, 16, 0, color=solid)
            off = 20.0
        if c:
            _break_mark(ax, cap, yi, bar_pt * 1.0)
        err = kind == "interval" and not c
        left = v < 0                                  # a decline: its label on the left of its bar
        if err:   # the label clears the error bar
            at = min(v, lo) if left and math.isfinite(lo) else max(v, hi) if not left and math.isfinite(hi) else v
        else:
            at = v
        mark = messages(lang)("charts.near_mark") if kind == "interval" and quals[i] == "近" else _mark(kind, lang)
        text = mark + format_number(full[i], decimals, lang) + suffix      # 近600 stays "near", not "about"
        ends.append(ax.annotate(text, xy=(at, yi), xytext=(-off if left else off, 0), textcoords="offset points",
                                va="center", ha="right" if left else "left", fontsize=size))
    wrap = 30 if n <= 12 else 60         # thin bars: a label on one line, never over its neighbour's
    ax.set_yticks(y, [_wrap(lb, wrap) for lb in labels])
    if highlight is not None:
        for tick in ax.get_yticklabels():
            if tick.get_text() == _wrap(labels[highlight], wrap):
                tick.set_color(COLORS["accent"])
    if reference is not None:
        ax.axvline(reference, color=COLORS["muted"], lw=1.0, ls="--", zorder=4)
        ax.annotate(reference_label, xy=(reference, 1), xycoords=("data", "axes fraction"), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8.5, color=COLORS["muted"])
    _style(ax, title, xlabel=unit_label)
    ax.tick_params(axis="y", labelsize=size)
    _ticks(ax.xaxis, lang)
    # the axis ends where the widest label (written after its bar's end) still fits
    renderer = fig.canvas.get_renderer()
    lo_lim = min(0.0, min(drawn, default=0), reference if reference is not None else 0.0) * 1.05
    hi_lim = max(0.0, max(drawn, default=0), reference if reference is not None else 0.0) * 1.05
    if hi_lim - lo_lim <= 0:
        hi_lim = 1.0
    for _ in range(6):
        ax.set_xlim(lo_lim, hi_lim)
        axis = ax.get_window_extent(renderer)
        boxes = [a.get_window_extent(renderer) for a in ends]
        over_r = max([b.x1 + 6 - axis.x1 for b in boxes] + [0])
        over_l = max([axis.x0 - b.x0 + 6 for b in boxes if b.x0 < axis.x0 + 6 and lo_lim < 0] + [0])
        if over_r < 1 and over_l < 1:
            break
        per_px = (hi_lim - lo_lim) / axis.width
        hi_lim += over_r * per_px * 1.15
        lo_lim -= over_l * per_px * 1.15
    if lo_lim < 0:
        ax.axvline(0, color="black", lw=0.8)
    if any(capped):
        ticks = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(min(lo_lim, 0), cap)
        ax.set_xticks([t for t in ticks if lo_lim - 1e-9 <= t <= cap * (1 + 1e-9)])   # none past the break
        _break_mark(ax, cap, 0, 9, transform=ax.get_xaxis_transform())
    _finish(fig, source=source, note=note, credit=credit, key=_key(set(kinds), lang), lang=lang)
    return fig


def target_path(years: list[int], path: list[float], *, level_label: str, target_label: str, target_value: float,
                unit: str, title: str | None = None, source: str, caveat: str = "", lang: str = "zh",
                threshold: bool = True, level_qualifier: str = "", target_qualifier: str = "", note: str = "",
                credit: str = ""):
    """The path from the latest level to a target at the required constant growth.

    Args:
        title: drawn above the plot; None draws none (the figure caption names the chart).
        level_qualifier: the qualifier the starting level was stated with (``>`` for 突破4000亿元):
            the start is labelled "> 4000" and the values derived from it as bounds ("≥ 4820").
        target_qualifier: the qualifier of the target (``>`` for 超过7000亿元), written at its
            marker; without it, ``threshold`` targets are labelled "≥".
        threshold: the target is a floor (drawn as a triangle); ignored when target_qualifier is given.
        caveat: a warning line under the chart (red); note: a line under the chart (grey).
        credit: who made the chart (an organisation); none by default.
    """
    if target_qualifier:
        threshold = target_qualifier in _LOWER
    tq = target_qualifier or ("≥" if threshold else "")
    name, factor = display_scale(unit, max(path + [target_value]), lang)
    fig, ax = _figure(figsize=(WIDTH_IN, 3.2), dpi=DPI)
    fig.subplots_adjust(left=0.11, right=0.96, bottom=0.15, top=0.84)
    vals = [p / factor for p in path]
    tv = target_value / factor
    ax.plot(years, vals, "-o", color=COLORS["bar"], lw=2, label=level_label)
    ax.scatter([years[-1]], [tv], s=90, color=COLORS["accent"], zorder=5,
               marker="^" if threshold else "o", label=target_label)
    same_end = format_number(vals[-1], 0, lang) == format_number(tv, 0, lang)
    for i, (x, v) in enumerate(zip(years, vals)):
        if i == len(vals) - 1 and same_end:
            continue   # the path ends at the target: one label, the target's
        text = _bound_label(v, level_qualifier, 0, lang, derived=i > 0)
        ax.annotate(text, (x, v), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8.5)
    ax.annotate(_bound_label(tv, tq, 0, lang), (years[-1], tv), textcoords="offset points", xytext=(0, 10),
                ha="center", va="bottom", fontsize=8.5, color=COLORS["accent"])
    ax.set_xticks(years, [str(y) for y in years])
    ax.set_xlim(years[0] - 0.35, years[-1] + 0.35)
    ax.set_ylim(0, max(vals + [tv]) * 1.2)
    _style(ax, title, title_pad=22)
    _ticks(ax.yaxis, lang)
    _unit_label(ax, name)
    ax.grid(axis="y", color=COLORS["grid"], linewidth=0.6)
    ax.legend(fontsize=8.5, frameon=False, loc="lower right")
    _finish(fig, source=source, note=note, caveat=caveat, credit=credit, lang=lang)
    return fig


def base_and_level(panels: list[dict], *, title: str | None = None, source: str, lang: str = "zh", note: str = "",
                   credit: str = ""):
    """Small multiples: for each indicator, the implied previous-year level (with its bounds)
    beside the stated level.

    Args:
        panels: dicts with label, unit, base, base_lo, base_hi, level, base_year, year, and
            optionally level_qualifier (the qualifier the level was stated with, e.g. ``>``).
        title: drawn above the panels; None draws none (the figure caption names the chart).
        note: a line under the chart; credit: who made the chart (an organisation), none by default.
    """
    n = len(panels)
    fig, axes = _figure(1, n, figsize=(WIDTH_IN, 2.9), squeeze=False, dpi=DPI)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.13, top=0.8, wspace=0.55)
    renderer = fig.canvas.get_renderer()
    kinds = set()
    for ax, pnl in zip(axes[0], panels):
        name, factor = display_scale(pnl["unit"], pnl["level"], lang)
        b, lo, hi, lv = (pnl[k] / factor for k in ("base", "base_lo", "base_hi", "level"))
        decimals = 0 if abs(lv) >= 1e4 else 1      # a count of 230,000 vehicles is whole
        base_decimals = pnl.get("base_decimals", decimals)   # as the report's text words them
        level_decimals = pnl.get("level_decimals", decimals)
        lq = pnl.get("level_qualifier", "") or ""
        lkind = {">": "more_than", "≥": "at_least", "余": "more_than", "≤": "at_most", "<": "at_most"}.get(lq, "exact")
        bkind = _kind(b, lo, hi, "", base_decimals, lang)
        bounded = bkind in ("more_than", "at_least")
        ax.bar([0], [b], color=COLORS["bound"], edgecolor=COLORS["bar"], width=0.6)
        if bkind == "interval":
            ax.errorbar([0], [b], yerr=[[b - lo], [hi - b]], fmt="none", ecolor="black", capsize=4, lw=1)
        if bounded:
            _arrow(ax, 0, b, 0, 14)
        if lkind == "at_most":
            ax.bar([1], [lv], color="white", edgecolor=COLORS["bar"], hatch="///", width=0.6, lw=1.0)
        elif lkind in ("more_than", "at_least"):
            ax.bar([1], [lv], color=COLORS["bound"], edgecolor=COLORS["bar"], width=0.6, lw=1.0)
            _arrow(ax, 1, lv, 0, 14)
        else:
            ax.bar([1], [lv], color=COLORS["bar"], width=0.6)
        kinds |= {bkind, lkind}
        b_top = hi if bkind == "interval" else b
        ax.annotate(_mark(bkind, lang) + format_number(b, base_decimals, lang), (0, b_top), textcoords="offset points",
                    xytext=(0, 17 if bounded else 3), ha="center", va="bottom", fontsize=8.5)
        ax.annotate(_bound_label(lv, lq, level_decimals, lang), (1, lv), textcoords="offset points",
                    xytext=(0, 17 if lkind in ("more_than", "at_least") else 3), ha="center", va="bottom", fontsize=8.5)
        est = messages(lang)("charts.implied_suffix")
        ax.set_xticks([0, 1], [f"{pnl['base_year']}{est}", str(pnl["year"])], fontsize=8.5)
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylim(0, max(lv, hi if math.isfinite(hi) else b) * 1.22)
        panel_w = ax.get_window_extent(renderer).width / fig.dpi
        # within the panel's width, clear of the unit label on its left
        ax.set_title(_wrap_even(fig, pnl["label"], panel_w, 9.5, renderer), fontsize=9.5, pad=20)
        _unit_label(ax, name, size=8.5)
        ax.tick_params(axis="y", labelsize=8)
        _ticks(ax.yaxis, lang)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    _finish(fig, source=source, note=note, credit=credit, key=_key(kinds, lang, vertical=True), fig_title=title,
            lang=lang)
    return fig
