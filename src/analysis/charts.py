"""Charts for reports: matplotlib with the bundled CJK font, legible at A4 width.

Every chart has a title, axis labels with units and a source line. Bounded figures are drawn
as bounded: a figure known only as "at most" is a hatched bar ending in ≤, "more than" an open
bar with an arrow, and an interval an error bar — never a plain bar that looks exact.
"""
from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .fonts import use_in_matplotlib  # noqa: E402
from .messages import messages  # noqa: E402
from .numbers import display_scale, format_number  # noqa: E402

DPI = 170            # at 183 mm wide: ~170 dpi on paper, sharp in print
WIDTH_IN = 7.2        # ≈ 183 mm: the text width of an A4 page with 18 mm margins
COLORS = {"bar": "#2f5d8a", "bound": "#9bb7d4", "accent": "#c0392b", "grid": "#d9d9d9", "muted": "#666666"}

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


def _style(ax, title: str, xlabel: str = "", ylabel: str = ""):
    ax.set_title(title, fontsize=12, loc="left", pad=10)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9.5)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9.5)
    ax.tick_params(labelsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color=COLORS["grid"], linewidth=0.6)
    ax.set_axisbelow(True)


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


def _source(fig, text: str):
    fig.text(0.01, 0.01, text, fontsize=7.5, color=COLORS["muted"], ha="left", va="bottom")


def to_png(fig) -> bytes:
    """The figure as PNG bytes at print resolution; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.12)
    plt.close(fig)
    return buf.getvalue()


def bounded_bars(labels: list[str], values, lowers, uppers, *, title: str, unit_label: str, source: str,
                 lang: str = "zh", decimals: int = 1, cap: float | None = None, suffix: str = "",
                 qualifiers: list[str] | None = None):
    """Horizontal bars for figures with bounds (values already in the display unit).

    ``cap``: bars beyond it are cut at the cap with a break mark and their full value written.
    """
    n = len(labels)
    full = list(values)
    if cap is not None:
        values = [min(v, cap) for v in values]
        lowers = [min(v, cap) for v in lowers]
        uppers = [min(v, cap) if math.isfinite(v) else v for v in uppers]
    height = max(2.4, 1.3 + 0.45 * n)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height))
    # margins in inches, so the axis label and the source line never overlap however many bars
    fig.subplots_adjust(left=0.36, right=0.9, bottom=0.85 / height, top=1 - 0.45 / height)
    y = np.arange(n)[::-1]
    finite_hi = [u for u in uppers if math.isfinite(u)] + list(values)
    xmax = max(finite_hi) * 1.25 if finite_hi else 1
    quals = qualifiers or [""] * n
    for yi, v, lo, hi, q in zip(y, values, lowers, uppers, quals):
        at_most = math.isfinite(hi) and (not math.isfinite(lo) or lo <= 0 < v) and format_number(hi, decimals, lang) == format_number(v, decimals, lang)
        more_than = not math.isfinite(hi) and math.isfinite(lo) and format_number(lo, decimals, lang) == format_number(v, decimals, lang)
        if at_most:
            ax.barh(yi, v, color="white", edgecolor=COLORS["bar"], hatch="///", linewidth=1.0)
            text = "≤ " + format_number(v, decimals, lang)
        elif more_than:
            ax.barh(yi, v, color=COLORS["bound"], edgecolor=COLORS["bar"], linewidth=1.0)
            ax.annotate("", xy=(v + xmax * 0.07, yi), xytext=(v, yi),
                        arrowprops=dict(arrowstyle="->", color=COLORS["bar"], lw=1.4))
            text = ("≥ " if q == "≥" else "> ") + format_number(v, decimals, lang)
        else:
            ax.barh(yi, v, color=COLORS["bar"])
            if math.isfinite(lo) and math.isfinite(hi) and format_number(lo, decimals, lang) != format_number(hi, decimals, lang):
                ax.errorbar(v, yi, xerr=[[v - lo], [hi - v]], fmt="none", ecolor="black", capsize=3, lw=1)
                text = messages(lang)("charts.approx_mark") + format_number(v, decimals, lang)
            else:
                text = format_number(v, decimals, lang)
        if cap is not None and full[len(y) - 1 - yi] > cap:
            ax.text(v * 0.97, yi, "//", va="center", ha="right", fontsize=10, color="white")
            text = format_number(full[len(y) - 1 - yi], decimals, lang)
        ax.text(min(v, xmax) + xmax * 0.09, yi, text + suffix, va="center", fontsize=9)
    ax.set_yticks(y, [_wrap(lb) for lb in labels])
    ax.set_xlim(0, xmax * 1.15)
    _style(ax, title, xlabel=unit_label)
    _source(fig, source)
    return fig


def target_path(years: list[int], path: list[float], *, level_label: str, target_label: str, target_value: float,
                unit: str, title: str, source: str, caveat: str = "", lang: str = "zh", threshold: bool = True):
    """The path from the latest level to a target at the required constant growth."""
    name, factor = display_scale(unit, max(path + [target_value]), lang)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 3.6))
    fig.subplots_adjust(left=0.11, right=0.96, bottom=0.24 if caveat else 0.17, top=0.86)
    vals = [p / factor for p in path]
    ax.plot(years, vals, "-o", color=COLORS["bar"], lw=2, label=level_label)
    ax.scatter([years[-1]], [target_value / factor], s=90, color=COLORS["accent"], zorder=5,
               marker="^" if threshold else "o", label=target_label)
    for x, v in zip(years, vals):
        ax.annotate(format_number(v, 0, lang), (x, v), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8.5)
    ax.set_xticks(years, [str(y) for y in years])
    ax.set_ylim(0, max(vals + [target_value / factor]) * 1.2)
    _style(ax, title, ylabel=name.strip())
    ax.grid(axis="y", color=COLORS["grid"], linewidth=0.6)
    ax.legend(fontsize=8.5, frameon=False, loc="lower right")
    if caveat:
        fig.text(0.01, 0.075, caveat, fontsize=7.5, color=COLORS["accent"], ha="left", va="bottom")
    _source(fig, source)
    return fig


def base_and_level(panels: list[dict], *, title: str, source: str, lang: str = "zh"):
    """Small multiples: for each indicator, the implied previous-year level (with its bounds)
    beside the stated level. panels: dicts with label, unit, base, base_lo, base_hi, level,
    base_year, year, note."""
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(WIDTH_IN, 3.3), squeeze=False)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.22, top=0.78, wspace=0.45)
    for ax, pnl in zip(axes[0], panels):
        name, factor = display_scale(pnl["unit"], pnl["level"], lang)
        b, lo, hi, lv = (pnl[k] / factor for k in ("base", "base_lo", "base_hi", "level"))
        ax.bar([0], [b], color=COLORS["bound"], edgecolor=COLORS["bar"], width=0.6)
        ax.errorbar([0], [b], yerr=[[b - lo], [hi - b]], fmt="none", ecolor="black", capsize=4, lw=1)
        ax.bar([1], [lv], color=COLORS["bar"], width=0.6)
        for x, v in ((0, b), (1, lv)):
            ax.text(x, v * 1.03, format_number(v, 1, lang), ha="center", va="bottom", fontsize=8.5)
        est = messages(lang)("charts.implied_suffix")
        ax.set_xticks([0, 1], [f"{pnl['base_year']}{est}", str(pnl["year"])], fontsize=8.5)
        ax.set_ylim(0, max(lv, hi) * 1.25)
        ax.set_title(pnl["label"], fontsize=9.5)
        ax.set_ylabel(name.strip(), fontsize=8.5)
        ax.tick_params(axis="y", labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.suptitle(title, fontsize=12, x=0.01, ha="left")
    _source(fig, source)
    return fig
