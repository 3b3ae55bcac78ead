"""Charts checked without eyes: what the figure's text artists say, and where they are."""
import math
import re

import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Text

from analysis import charts
from analysis.messages import messages

INF = math.inf
LONG_SOURCE = ("资料来源：奋力谱新篇·渝北篇：2024年规上工业增加值增长超20%、居全市第一 规上工业总产值突破4000亿元的渝北做对了什么？、"
               "重庆市渝北区2024年国民经济和社会发展统计公报、Chongqing Yubei District Bureau of Statistics, "
               "Statistical Communiqué on the 2024 National Economic and Social Development")


def texts(fig) -> list[Text]:
    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def all_text(fig) -> str:
    return "".join(t.get_text() for t in texts(fig))


def squeeze(s: str) -> str:
    return re.sub(r"\s+", "", s)


def bars(**kw):
    args = dict(title=None, unit_label="亿元", source="资料来源：测试", lang="zh", decimals=0)
    args.update(kw)
    labels = args.pop("labels", ["甲", "乙"])
    values = args.pop("values", [4000.0, 1900.0])
    return charts.bounded_bars(labels, values, args.pop("lowers", values), args.pop("uppers", values), **args)


def path(**kw):
    args = dict(level_label="路径", target_label="目标", target_value=7000e8, unit="元", source="资料来源：测试", lang="zh")
    args.update(kw)
    return charts.target_path([2024, 2025, 2026, 2027], [4000e8, 4820.5e8, 5809.3e8, 7000e8], **args)


PANELS = [dict(label="汽车产值", unit="元", base=1225.8e8, base_lo=1221.5e8, base_hi=1230.1e8, level=1900e8,
               base_year=2023, year=2024),
          dict(label="新能源汽车产量", unit="辆", base=3.5e4, base_lo=3.5e4, base_hi=3.5e4, level=23e4,
               base_year=2023, year=2024)]


def levels(**kw):
    args = dict(source="资料来源：测试", lang="zh")
    args.update(kw)
    return charts.base_and_level(PANELS, **args)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("make", [bars, path, levels])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_long_source_is_wrapped_to_the_width_never_cut(make, lang):
    fig = make(source=LONG_SOURCE, lang=lang)
    assert squeeze(LONG_SOURCE) in squeeze(all_text(fig))
    source = [t for t in texts(fig) if squeeze(t.get_text()).startswith("资料来源")]
    assert len(source) == 1 and source[0].get_text().count("\n") >= 1
    renderer = fig.canvas.get_renderer()
    box = source[0].get_window_extent(renderer)
    assert 0 <= box.x0 and box.x1 <= fig.bbox.width, (box, fig.bbox)
    assert "2024年" in source[0].get_text()          # no line breaks inside a number and its unit
    png = charts.to_png(fig)                          # the PNG keeps the A4 text width
    width = int.from_bytes(png[16:20], "big")
    assert abs(width - charts.WIDTH_IN * charts.DPI) <= 2 * 0.08 * charts.DPI + 2


def test_no_chart_credit_unless_one_is_given():
    assert "制图" not in all_text(bars()) and "analysis" not in all_text(bars())
    assert "制图：重庆市渝北区统计局" in all_text(bars(credit="重庆市渝北区统计局"))
    assert "Chart: Yubei Statistics Bureau" in all_text(path(lang="en", credit="Yubei Statistics Bureau"))


@pytest.mark.parametrize("lang, thousand", [("zh", "4000"), ("en", "4,000")])
def test_tick_labels_are_written_like_the_value_labels(lang, thousand):
    fig = bars(lang=lang)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert thousand in ticks, ticks
    assert thousand in all_text(fig)                  # the value label of the 4000 bar
    # vehicles have no display scale: ticks in thousands
    fig2 = charts.target_path([2024, 2027], [4000.0, 7000.0], level_label="p", target_label="t", target_value=7000.0,
                              unit="辆", source="s", lang=lang)
    ticks = [t.get_text() for t in fig2.axes[0].get_yticklabels()]
    assert thousand in ticks, ticks
    assert "2024" in [t.get_text() for t in fig2.axes[0].get_xticklabels()]   # years are not numbers to group


def test_a_lower_bound_is_labelled_as_a_bound():
    fig = path(level_qualifier=">", target_qualifier=">")
    labels = [t.get_text() for t in fig.axes[0].texts]    # value labels (4000 is also a tick)
    assert "> 4000" in labels and "4000" not in labels
    assert "≥ 4820" in labels and "≥ 5809" in labels    # derived from a lower bound: a lower bound, rounded down
    assert "> 7000" in labels                           # the target marker says its qualifier
    fig = bars(values=[4000.0, 1000.0], lowers=[4000.0, 1000.0], uppers=[INF, INF], qualifiers=[">", "≥"])
    labels = [t.get_text() for t in texts(fig)]
    assert "> 4000" in labels and "≥ 1000" in labels
    panels = [dict(PANELS[0], level_qualifier=">")]
    labels = [t.get_text() for t in texts(charts.base_and_level(panels, source="s"))]
    assert "> 1900" in labels and "约 1225.8" in labels   # an implied interval is approximate, not exact


def key_labels(fig):
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def test_the_key_shows_only_the_marks_the_chart_uses():
    msg = messages("zh")
    assert key_labels(bars()) == []
    assert key_labels(bars(values=[47.5], lowers=[0.0], uppers=[47.5], labels=["比重"])) == [msg("charts.key_at_most")]
    fig = bars(values=[4000.0, 1900.0, 30.0], lowers=[4000.0, 1900.0, 25.0], uppers=[INF, 1900.0, 35.0],
               labels=["甲", "乙", "丙"])
    assert key_labels(fig) == [msg("charts.key_more_than"), msg("charts.key_interval")]
    assert key_labels(levels()) == [msg("charts.key_interval")]
    assert key_labels(path()) == []
    en = bars(values=[47.5], lowers=[0.0], uppers=[47.5], labels=["share"], lang="en")
    assert key_labels(en) == [messages("en")("charts.key_at_most")]


@pytest.mark.parametrize("make, title", [(bars, "主要产业产值"), (path, "工业总产值目标路径"), (levels, "由增速推算的上年水平")])
def test_no_title_is_drawn_when_none(make, title):
    assert title not in all_text(make(title=None))
    assert title in all_text(make(title=title))


def test_unit_labels_are_horizontal_above_the_axis():
    for fig, unit in ((path(), "亿元"), (levels(), "万辆")):
        ax = fig.axes[-1] if unit == "万辆" else fig.axes[0]
        assert ax.get_ylabel() == ""
        label = [t for t in texts(fig) if t.get_text() == unit]
        assert label and all(t.get_rotation() == 0 for t in label)
        renderer = fig.canvas.get_renderer()
        assert label[0].get_window_extent(renderer).y0 >= ax.get_window_extent(renderer).y1


def test_a_capped_bar_breaks_the_axis_at_the_cap_and_writes_its_full_value():
    fig = bars(values=[20.0, 560.0, 55.0], lowers=[20.0, 560.0, 55.0], uppers=[INF, 560.0, 55.0],
               labels=["甲", "乙", "丙"], qualifiers=[">", "exact", "exact"], cap=100.0, suffix="%", unit_label="%")
    ax = fig.axes[0]
    labels = [t.get_text() for t in texts(fig)]
    assert "560%" in labels and "> 20%" in labels
    assert max(ax.get_xticks()) == 100                  # no ticks beyond the break
    assert ax.get_xlim()[1] < 140                       # the axis ends at the cap plus room for the labels


def test_a_note_is_drawn_between_the_chart_and_the_source_line():
    note = messages("zh")("charts.note_mixed_measures")
    fig = bars(note=note)
    found = {squeeze(t.get_text())[:4]: t for t in texts(fig)}
    renderer = fig.canvas.get_renderer()
    note_box = found[squeeze(note)[:4]].get_window_extent(renderer)
    source_box = found["资料来源"].get_window_extent(renderer)
    assert source_box.y1 <= note_box.y0 and note_box.y1 <= fig.axes[0].get_window_extent(renderer).y0


def test_the_report_region_is_highlighted_and_the_parent_is_a_reference_line():
    from matplotlib.colors import to_hex
    fig = bars(labels=["丁县", "乙区", "甲区"], values=[15.0, 20.0, 9.5], lowers=[15.0, 20.0, 9.5], uppers=[15.0, INF, 9.5],
               qualifiers=["exact", ">", "exact"], suffix="%", unit_label="%", decimals=1, highlight=1,
               reference=7.5, reference_label="示例市 7.5%")
    ax = fig.axes[0]
    bars_ = sorted(ax.patches, key=lambda p: -p.get_y())                  # top to bottom, as the labels
    assert to_hex(bars_[1].get_edgecolor()) == charts.COLORS["accent"]     # the region, a lower bound
    assert to_hex(bars_[0].get_facecolor()) == charts.COLORS["bar"]
    ticks = {t.get_text(): to_hex(t.get_color()) for t in ax.get_yticklabels()}
    assert ticks["乙区"] == charts.COLORS["accent"] and ticks["丁县"] != charts.COLORS["accent"]
    assert any(list(line.get_xdata()) == [7.5, 7.5] for line in ax.get_lines())
    assert "示例市 7.5%" in [t.get_text() for t in texts(fig)]


def test_a_figure_stated_as_near_is_marked_near():
    fig = bars(values=[600.0], lowers=[540.0], uppers=[600.0], labels=["戊县"], qualifiers=["近"])
    labels = [t.get_text() for t in texts(fig)]
    assert "近 600" in labels and "约 600" not in labels


def _greedy_wrap(fig, text, width_in, size):
    """The wrapping rule stated plainly: segments added one at a time while the line still fits."""
    renderer = fig.canvas.get_renderer()

    def fits(s):
        return charts._text_width(fig, s, size, renderer) <= width_in
    lines = []
    for para in text.split("\n"):
        line = ""
        for seg in charts._segments(para):
            if not line.strip() or fits((line + seg).rstrip()):
                line = (line + seg).lstrip()
            else:
                lines.append(line.rstrip())
                line = "" if seg.isspace() else seg
        lines.append(line.rstrip())
    return "\n".join(p for line in lines for p in ([line] if fits(line) else charts._by_chars(line, fits)))


WRAPPED = [LONG_SOURCE, "注：图中指标口径不同（产值、产量、增加值），增速不宜直接比较；增加值增速按可比价格计算。",
           "Note: the indicators are measured differently (output value, volume, value added), so their growth "
           "rates are not directly comparable.\n\nSecond paragraph  with  double spaces and a trailing space ",
           "   leading spaces, then https://example.org/a/very/long/address/that/is/wider/than/any/line/of/the/chart",
           "", " ", "甲", "2024年规上工业增加值增长超20%、居全市第一"]


@pytest.mark.parametrize("width", [0.3, 1.1, 2.5, 4.0, 7.0])
def test_wrapping_finds_the_lines_a_segment_by_segment_fill_finds(width):
    fig, _ = plt.subplots(figsize=(charts.WIDTH_IN, 2), dpi=charts.DPI)
    for text in WRAPPED:
        for size in (charts.FOOT_SIZE, 12):
            assert charts._wrap_to(fig, text, width, size) == _greedy_wrap(fig, text, width, size), (text, size)


def test_a_chart_on_its_own_canvas_is_drawn_as_on_a_plain_agg_canvas():
    """Text extents shared by a chart's renderers are those each renderer would measure: the same pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    ours = charts.to_png(bars(note="注：图中指标口径不同（产值、产量、增加值），增速不宜直接比较。", source=LONG_SOURCE))
    real = charts._Canvas
    try:
        charts._Canvas = FigureCanvasAgg
        plain = charts.to_png(bars(note="注：图中指标口径不同（产值、产量、增加值），增速不宜直接比较。", source=LONG_SOURCE))
    finally:
        charts._Canvas = real
    assert ours == plain


def test_renderers_of_a_chart_share_extents_only_of_the_same_text_font_and_resolution():
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties
    fig, _ = charts._figure(figsize=(charts.WIDTH_IN, 2), dpi=charts.DPI)
    cases = [(s, FontProperties(size=size, **style)) for s in ("2024", "增加值", "lp") for size in (7.5, 12)
             for style in ({}, {"family": "DejaVu Sans"}) if s.isascii() or not style]
    first = fig.canvas.get_renderer()
    for s, prop in cases:
        first.get_text_width_height_descent(s, prop, False)
    fig.set_size_inches(charts.WIDTH_IN, 3)                 # a new size: a new renderer, the extents remembered
    second = fig.canvas.get_renderer()
    assert second is not first
    for dpi in (charts.DPI, 72):
        fig.set_dpi(dpi)
        renderer, plain = fig.canvas.get_renderer(), RendererAgg(10, 10, dpi)
        for s, prop in cases:
            assert renderer.get_text_width_height_descent(s, prop, False) == \
                plain.get_text_width_height_descent(s, prop, False), (s, prop, dpi)


@pytest.mark.parametrize("make", [
    lambda: bars(note="注：口径不同。", source=LONG_SOURCE, credit="某研究室"),
    lambda: bars(labels=[f"很长的地区名称{i}号区县" for i in range(25)], values=[float(i + 1) for i in range(25)],
                 highlight=3, reference=10.0, reference_label="全市 10%", suffix="%", decimals=1),
    lambda: bars(values=[40.0, 19.0], lowers=[40.0, 18.0], uppers=[INF, 20.0], qualifiers=["超", "约"], cap=30.0),
    lambda: path(caveat="目标口径与基数不同。", note="注：按不变增速推算。", title="到2027年的路径"),
    lambda: levels(title="上年水平与本年水平", note="注：上年水平由增速推算。"),
    lambda: levels(lang="en", credit="A desk")])
def test_the_crop_box_known_from_the_layout_is_the_one_measuring_finds(make):
    """to_png crops a chart laid out by _finish to the extents _finish recorded (measuring the whole figure
    again costs a tenth of a chart): they are the figure's own tight box. Something added afterwards is
    measured, and so is a figure that did not go through _finish."""
    import io
    from PIL import Image
    fig = make()
    state, known = fig._analysis_extent
    assert state == charts._layout_state(fig)
    measured = fig.get_tightbbox(fig.canvas.get_renderer())
    assert max(abs(a - b) for a, b in zip(measured.extents, known.extents)) < 1e-9
    fig.text(0.5, -1.0, "加在下面的注", fontsize=20)           # an analyst's text below the chart
    assert fig._analysis_extent[0] != charts._layout_state(fig)
    grown = Image.open(io.BytesIO(charts.to_png(fig)))
    assert grown.height / charts.DPI > known.height + 0.9    # cropped to include it: measured, not the record
