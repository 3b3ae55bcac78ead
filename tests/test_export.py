import re
from pathlib import Path

import pytest

from analysis import export
from analysis.errors import ReportError
from analysis.export import local_fetcher, notebook_body, page


def test_pdf_renderer_reads_only_local_report_files(tmp_path):
    inside = tmp_path / "chart.png"
    inside.write_bytes(b"x")
    fetch = local_fetcher([tmp_path])
    assert fetch.fetch(inside.as_uri()) is not None
    for url in ("https://example.com/font.otf", "http://127.0.0.1/x.png", "file:///etc/passwd",
                (tmp_path.parent / "elsewhere.png").as_uri()):
        with pytest.raises(Exception) as exc:
            fetch.fetch(url)
        assert isinstance(exc.value, ReportError) or "not allowed" in str(exc.value).lower() or "protocol" in str(exc.value).lower()


def test_page_takes_title_and_toc_from_section_metadata_and_escapes_them():
    """The exporter reads what sections declared (display metadata), not the HTML; analyst cells are dropped."""
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    def shown(html, **meta):
        return new_output("display_data", data={"text/html": html}, metadata={"analysis": meta} if meta else {})
    nb = new_notebook(cells=[
        new_code_cell("t", outputs=[shown('<header class="title-block"><h1>甲&lt;script&gt;区</h1></header>',
                                          role="title", title="甲<script>区")]),
        new_code_cell("a", outputs=[shown("<p>only for the analyst</p>")], metadata={"tags": ["analyst"]}),
        new_code_cell("h", outputs=[shown('<h2 id="sec-headline">核心指标</h2>', toc={"id": "sec-headline", "text": "核心指标"}),
                                    shown("<p>x</p>"),
                                    new_output("stream", name="stderr", text="a warning\n")]),
        new_code_cell("s", outputs=[shown('<h2 id="sec-sources">数据来源</h2>', toc={"id": "sec-sources", "text": "数据<来源>"})]),
    ])
    body, info = notebook_body(nb)
    html = page(body, info, lang="zh")
    assert '<a href="#sec-headline">核心指标</a>' in html and '<a href="#sec-sources">数据&lt;来源&gt;</a>' in html
    assert "<title>甲&lt;script&gt;区</title>" in html and "<script>" not in html
    assert html.index('class="title-block"') < html.index('class="toc"') < html.index('id="sec-headline"')
    assert html.count('class="title-block"') == 1
    assert "only for the analyst" not in html and "a warning" not in html


def test_each_character_has_a_glyph_of_its_own():
    """Noto Sans CJK draws − and －, 〜 and ～, … and ⋯ with one glyph each: the subset duplicates them."""
    import io
    from fontTools.ttLib import TTFont
    from analysis.export import font_subset
    cmap = TTFont(io.BytesIO(font_subset("−－〜～…⋯–‒年"))).getBestCmap()
    chars = [ord(c) for c in "−－〜～…⋯–‒年"]
    assert all(c in cmap for c in chars)
    assert len({cmap[c] for c in chars}) == len(chars)


def test_pdf_text_gives_back_substituted_and_shared_glyphs(tmp_path):
    """Shaping substitutes glyphs (Chinese —, Latin …, —— joined); each copies back as its text."""
    from nbformat.v4 import new_code_cell, new_notebook, new_output
    from pypdf import PdfReader
    from analysis.export import to_pdf
    text = "超过50—100亿级；破折号——在此…（括号）：、。“引号”～ sha256 1c20b86d14de… −5 －5 〜"
    nb = new_notebook(cells=[new_code_cell("x", outputs=[
        new_output("display_data", data={"text/html": f"<p>{text}</p>"})])])
    pdf = tmp_path / "r.pdf"
    to_pdf(nb, pdf, lang="zh", base_dir=tmp_path)
    got = "".join(p.extract_text() for p in PdfReader(str(pdf)).pages).replace("\n", "")
    for part in text.split(" "):
        assert part in got, (part, got)


def test_table_cells_figures_right_identifiers_and_short_terms_on_one_line():
    from analysis.report import _blocks
    html = str(_blocks().table(
        ["编号", "主体", "数值", "原文"],
        [["yb-001", "长安汽车数智工厂", "约60%（55–65%）", "实现汽车产值1900亿元，增长55%，50—100亿级项目3个"],
         ["yb-002", "重庆荣阳汽车配件有限责任公司", "5.6倍（即为上年的6.6倍）", "<b>"]], "sources"))
    assert '<th class="id nw">编号</th>' in html and '<th class="num nw">数值</th>' in html and '<th class="nw">原文</th>' in html
    assert '<td class="id nw">yb-001</td>' in html              # a cell on one line needs no runs kept together
    assert '<td class="nw">长安汽车数智工厂</td>' in html          # a name without spaces: one line
    assert "<td>重庆荣阳汽车配件有限责任公司</td>" in html             # longer than SHORT_TERM: may wrap
    assert '<td class="num nw">约60%（55–65%）</td>' in html
    assert '<td class="num"><span class="nb">5.6倍</span>（<span class="nb">即为上年的</span><span class="nb">6.6倍</span>）</td>' in html
    assert '<span class="nb">50—100亿级</span>' in html and '<span class="nb">1900亿元</span>' in html
    assert "<td class=\"nw\">&lt;b&gt;</td>" in html                   # still escaped


def test_column_kinds():
    from analysis.export import column_kinds
    rows = [["No. 1", "yb-001", "more than 400 bn yuan", "2024", "Output grew. It did", "S000", "第1位"],
            ["560% (6.6-fold)", "S000", "1,241", "2024-12-31", "x", "1c20b86d14de", "<script>alert(1)</script>"],
            ["–", "yb-2", "约60%（55–65%）", "2023", "实现产值1900亿元，增长55%", "s1", "规上工业增加值增长超20%"],
            ["7 years running", "", "more than 130 bn yuan (under 140 bn yuan)", "", "", "", ""]]
    assert column_kinds(rows, 7) == ["num", "id", "num", "", "", "id", ""]   # quotes with a number are not figures


def _percents(layout):
    return [float(w.rstrip("%")) for w in layout["widths"]]


def test_column_widths_fill_the_page_in_proportion_when_every_cell_fits_on_a_line():
    from analysis.export import PAD_EMS, SAFETY, TABLE_EMS, column_layout, text_ems
    layout = column_layout([["规上工业增加值", "增长"], ["研发投入", "总量"]], ["指标", "口径"], ["", ""])
    widths = _percents(layout)
    assert abs(sum(widths) - 100) < 0.05 and layout["wrap"] == [False, False]
    want = [text_ems("规上工业增加值") * SAFETY + PAD_EMS, text_ems("增长") * SAFETY + PAD_EMS]
    assert abs(widths[0] / widths[1] - want[0] / want[1]) < 0.01
    assert 7 * SAFETY + PAD_EMS < TABLE_EMS * widths[0] / 100       # the widest cell has room


def test_column_widths_give_the_spare_width_where_it_saves_the_most_lines():
    """Two columns of the same longest text: one has forty such cells, the other one; the forty get the room."""
    from analysis.export import PAD_EMS, SAFETY, TABLE_EMS, column_layout, text_ems
    quote = "规上工业增加值增长超20%、居全市第一，规上工业总产值突破4000亿元，" * 2   # ≈ 70 ems: 2 lines at best
    rows = [[quote, "短"] for _ in range(40)]
    rows[0][1] = quote
    widths = _percents(column_layout(rows, ["原文", "说明"], ["", ""]))
    assert abs(sum(widths) - 100) < 0.05 and widths[0] > widths[1]
    assert TABLE_EMS * widths[0] / 100 >= text_ems(quote) * SAFETY / 2 + PAD_EMS    # forty quotes on 2 lines each
    assert TABLE_EMS * widths[1] / 100 >= 6      # the other column keeps at least its widest unbreakable piece


def test_column_widths_keep_short_cells_whole_when_the_height_is_the_same(monkeypatch):
    """Every row's quote takes several lines whatever the widths; the region beside it ("Yubei District")
    gets the width to stay on one line rather than breaking in each row for a wider quote column."""
    from analysis import export
    quote = ("Industrial value added of enterprises above designated size grew by more than twenty percent, "
             "the fastest among the districts and counties of the municipality, and output passed 400 bn yuan. ") * 3
    rows = [["Yubei District", "more than 20%", quote] for _ in range(30)]

    def region_width():
        layout = export.column_layout(rows, ["Region", "Value", "Quote"], ["", "num", ""])
        return export.TABLE_EMS * float(layout["widths"][0].rstrip("%")) / 100
    whole = export.text_ems("Yubei District") * export.SAFETY + export.PAD_EMS
    assert region_width() >= whole
    monkeypatch.setattr(export, "BROKEN", 0.0)     # height alone: the region column may break
    assert region_width() < whole


def test_column_widths_let_the_column_of_longest_texts_wrap_when_one_line_cells_do_not_fit():
    """Seven columns of short Chinese terms (each kept on one line) are wider than the page together:
    the quotes' column wraps its short quotes too; the names stay whole, each within its column."""
    from analysis.export import SAFETY, TABLE_EMS, cell_class, column_kinds, column_layout, text_ems
    headers = ["编号", "地区", "主体", "指标", "数值", "原文", "来源"]
    rows = [["yb-011", "渝北区", "长安汽车数智工厂", "国家级专精特新小巨人企业", "约60%（55–65%）", "规上工业增加值增长超二成", "S000"],
            ["yb-012", "渝北区", "赛力斯超级工厂", "国家级专精特新企业数", "5.6倍（即为上年的6.6倍）",
             "累计培育市级专精特新中小企业700家、国家级专精特新“小巨人”企业55家", "S000"]]
    kinds = column_kinds(rows, 7)
    layout = column_layout(rows, headers, kinds)
    assert layout["wrap"] == [False, False, False, False, False, True, False]
    widths = [TABLE_EMS * w / 100 for w in _percents(layout)]
    for j, name in ((2, "长安汽车数智工厂"), (3, "国家级专精特新小巨人企业"), (4, "约60%（55–65%）")):
        assert widths[j] >= text_ems(name) * SAFETY, (j, widths)
    assert cell_class("规上工业增加值增长超二成", "", True) == "" and cell_class("规上工业增加值增长超二成") == "nw"


def test_column_widths_are_left_to_the_renderer_when_nothing_could_fit():
    from analysis.report import _blocks
    from analysis.export import column_layout
    ids = [f"sha256-{'0123456789abcdef' * 2}-{i}" for i in range(6)]
    assert column_layout([ids], [f"h{i}" for i in range(6)], ["id"] * 6) is None
    html = str(_blocks().table([f"h{i}" for i in range(6)], [ids], "sources"))
    assert "<colgroup>" not in html and "laid-out" not in html


def test_a_table_carries_its_column_widths_for_print():
    from analysis.report import _blocks
    html = str(_blocks().table(["指标", "数值"], [["规上工业增加值", "超过20%"]], "figures"))
    assert '<table class="figures laid-out">' in html
    cols = re.findall(r'<col style="width: ([\d.]+)%"/?>', html)
    assert len(cols) == 2 and abs(sum(map(float, cols)) - 100) < 0.05
    css = (Path(export.__file__).parent / "templates" / "print.css").read_text(encoding="utf-8")
    assert "table.laid-out { table-layout: fixed; }" in css
    assert "margin: 22mm 18mm 20mm 18mm" in css and "table { font-size: 8.5pt; }" in css   # what TABLE_EMS assumes


def test_the_pdf_html_parser_compiles_each_pattern_once(monkeypatch):
    """tinyhtml5 2.1 compiled a pattern on every chars_until call (its cache stored each one under the
    wrong key): 3,100 compilations for the default page. Mended, a page compiles none there."""
    from tinyhtml5 import inputstream, parse
    from analysis.export import mend_html_parser

    class Counting:
        compiled = 0

        def compile(self, *args, **kwargs):
            Counting.compiled += 1
            return re.compile(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(re, name)
    doc = "<p class='a'>甲 &amp; 乙</p>" + "<table><tr><td class=\"nw\">yb-001</td><td>x  y</td></tr></table>" * 50
    before = parse(doc)
    mend_html_parser()
    mend_html_parser()                     # idempotent: one wrapper
    monkeypatch.setattr(inputstream, "re", Counting())
    after = parse(doc)
    assert Counting.compiled == 0
    from xml.etree import ElementTree as ET
    assert ET.tostring(after) == ET.tostring(before)


def test_png_rows_are_given_only_for_pngs_a_pdf_stream_can_hold():
    """An opaque 8-bit RGB or grey PNG's compressed rows are a PDF FlateDecode stream with PNG predictors;
    a PNG with alpha, a palette, 16 bits, interlace or a transparent colour, or a damaged one, is not."""
    import io
    import struct
    import zlib
    import numpy as np
    from PIL import Image
    from analysis.export import png_rows

    def png(mode, **save):
        im = Image.fromarray(np.arange(30 * 20 * 3, dtype=np.uint8).reshape(20, 30, 3) % 251, "RGB").convert(mode)
        buf = io.BytesIO()
        im.save(buf, format="png", **save)
        return buf.getvalue()
    rgb = png("RGB", compress_level=1)
    rows = png_rows(rgb)
    raw = zlib.decompress(rows)
    assert len(raw) == 20 * (1 + 30 * 3)             # a filter byte and the pixels, row by row
    assert png_rows(png("L")) is not None
    for bad in (png("RGBA"), png("P"), png("I;16"), png("RGB", transparency=(0, 0, 0)), rgb[:-40], b"GIF89a" + rgb[6:]):
        assert png_rows(bad) is None
    ihdr = rgb.index(b"IHDR") + 4
    interlaced = rgb[:ihdr + 12] + b"\x01" + rgb[ihdr + 13:]    # the interlace byte (no CRC is checked)
    assert png_rows(interlaced) is None
    assert struct.unpack(">B", rgb[ihdr + 8:ihdr + 9]) == (8,)


def _pages_of(html_doc, base):
    """Element → index of the first page it appears on, for a rendered WeasyPrint document."""
    from weasyprint import HTML
    doc = HTML(string=html_doc, base_url=str(base)).render()
    first = {}

    def walk(box, n):
        el = getattr(box, "element", None)
        if el is not None:
            first.setdefault(el, n)
        for child in getattr(box, "children", None) or []:
            walk(child, n)
    for n, p in enumerate(doc.pages):
        walk(p._page_box, n)
    return first


def test_headings_and_captions_stay_with_the_first_rows_of_their_table(tmp_path):
    """Wherever the text before it ends, a heading, a caption and the first three rows (or a whole
    short table) of what follows share a page; a split table carries two rows onto the next page."""
    from analysis import export
    from analysis.fonts import FAMILY
    from analysis.report import _blocks
    blocks = _blocks()

    def out(html):
        return f'<div class="output_area"><div class="output_html rendered_html output_subarea">{html}</div></div>'
    rows = [[f"yb-{i:03d}", "长安汽车数智工厂", "约60%（55–65%）", "实现汽车产值1900亿元，增长55%"] for i in range(12)]
    variants = {
        "caption": lambda: out(blocks.heading("sec-x", "九、数据来源")) + out(blocks.table(
            ["编号", "主体", "数值", "原文"], rows, "sources", caption="表5　数据及原文", unit="单位：亿元", source="资料来源：x")),
        "h3": lambda: out("<p>一段文字。</p>") + out("<h3>重点企业与项目</h3>") + out(blocks.table(
            ["编号", "主体", "数值", "原文"], rows[:2])),
    }
    filler = out("<p>" + "规上工业增加值增长超过百分之二十。" * 3 + "</p>")
    font = export.font_subset("".join(map(str, rows)) + "九、数据来源表5　数据及原文单位：亿元资料来源重点企业与项目一段文字。规上工业增加值增长超过百分之二十")
    (tmp_path / "f.otf").write_bytes(font)
    export.presubset(font)
    face = f'@font-face {{ font-family: "{FAMILY}"; src: url("{(tmp_path / "f.otf").as_uri()}"); }}'
    for name, block in variants.items():
        for n in range(12, 20):   # moves the heading across the bottom of the second page
            body = filler * n + block() + out("<p>后续文字。</p>")
            html = export.page(body, {"title": "t", "title_html": "", "toc": []}, lang="zh",
                               print_css=export._print_css("zh"), font_face=face)
            pages = _pages_of(html, tmp_path)
            els = list(pages)
            heading = next(e for e in els if e.tag in ("h2", "h3") and e.text not in ("目录",))
            caption = [e for e in els if e.tag == "caption"]
            assert caption or name != "caption"
            body_rows = [e for e in els if e.tag == "tr" and e.find("td") is not None]
            want = min(3, len(body_rows))
            for e in [*caption, *body_rows[:want]]:
                assert pages[e] == pages[heading], (name, n, e.tag, e.get("class"))
            later = [pages[r] for r in body_rows]
            assert all(later.count(p) >= 2 for p in set(later)), (name, n, later)


def test_paragraphs_flush_left_in_print_in_both_languages(tmp_path):
    """English is never justified; printed Chinese neither (WeasyPrint would widen its few spaces)."""
    from weasyprint import HTML
    from analysis import export
    for lang in ("en", "zh"):
        html = export.page("<p>Output grew by 55%, the fastest among districts.</p>",
                           {"title": "t", "title_html": "", "toc": []}, lang=lang, print_css=export._print_css(lang))
        doc = HTML(string=html).render()
        paras = []

        def walk(box):
            if getattr(box, "element_tag", None) == "p":
                paras.append(box)
            for child in getattr(box, "children", None) or []:
                walk(child)
        for pg in doc.pages:
            walk(pg._page_box)
        assert paras and all(b.style["text_align_all"] == "left" for b in paras), lang


def test_font_cache_characters_include_the_ideographic_space():
    """表1　主要指标: a character left out of the cached subset's set makes every report subset anew."""
    from analysis.fontcache import charset
    chars = charset([], extra="表1\u3000主要指标 a\tb")
    assert "\u3000" in chars and " " in chars and "\t" not in chars


def test_a_long_title_is_cut_in_the_running_header_only(tmp_path):
    """The running header measured its text at every break opportunity: a 2 000-character title took
    155 s of PDF rendering (issue 11). It now shows the first 40 characters; the title block all of them."""
    import time
    from nbformat.v4 import new_code_cell, new_notebook, new_output
    from pypdf import PdfReader
    from analysis.export import to_pdf
    from analysis.report import _blocks
    title = ("渝北区工业经济" * 300)[:2000]
    block = str(_blocks().title_block(title, [("地区", "渝北区")]))
    pages = "".join(f'<h2 id="s{i}">第{i}节</h2>' + "<p>正文。</p>" * 60 for i in range(4))
    nb = new_notebook(cells=[
        new_code_cell("t", outputs=[new_output("display_data", data={"text/html": block},
                                               metadata={"analysis": {"role": "title", "title": title}})]),
        new_code_cell("b", outputs=[new_output("display_data", data={"text/html": pages})])])
    pdf = tmp_path / "r.pdf"
    t = time.perf_counter()
    to_pdf(nb, pdf, lang="zh", base_dir=tmp_path)
    seconds = time.perf_counter() - t
    reader = PdfReader(str(pdf))
    assert len(reader.pages) >= 4
    last = reader.pages[-1].extract_text().splitlines()       # the title block fills the first pages
    assert any(line.startswith(title[:39] + "…") for line in last)   # the running header (and the section's)
    assert seconds < 60, seconds   # a hang guard only: ≈ 3 s here, and minutes before
