"""``analysis lint`` on real reports: each rule finds what a broken copy of a real report breaks, at its place.

The three real reports (渝北区 zh and en, 示例区A from examples/) are generated once for the session
(conftest.py: yubei_zh, yubei_en, example_a, shared with test_report and test_notebook).
Each rule is tested on a real report that is clean for that rule and on a copy of it broken in one
place; the broken copy must give exactly one new finding, of that rule, at that place. The reports
as generated (numbered sections, 图N/表N captions with a 资料来源 line, caveats as numbered notes said
once, English reports naming places in English, every glyph of the PDF mapped back to its
character) are clean for every rule (``test_generated_reports_pass``).

``assert_clean(path)`` is the check every generated report should pass.
"""
import hashlib
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from analysis import lint as L


# ------------------------------------------------------------------------------------------ helpers
def assert_clean(path):
    """Every rule passes on a report file (a PDF with its HTML and metrics CSV beside it)."""
    found = findings(path)
    assert not found, f"{len(found)} findings on {path}:\n" + "\n".join(f"{r} at {loc}: {ev}" for r, loc, ev in found)


_FOUND: dict = {}


def findings(path, rule=None):
    """(rule, location, evidence) of every finding of ``rule`` (default: all) on a report file. Remembered for
    the session by the content of the file and of the files lint reads beside it: most tests lint one of the
    shared reports as the base of their broken copy (0.2–0.8 s each time; hashing them takes milliseconds)."""
    path = Path(path)
    digest = hashlib.sha256()
    for p in (path, path.with_suffix(".html"), path.with_suffix(".pdf"), path.with_name(path.stem + "_metrics.csv")):
        digest.update(p.name.encode() + (p.read_bytes() if p.is_file() else b"\0absent"))
    key = (str(path.resolve()), rule, digest.hexdigest())
    if key not in _FOUND:
        _FOUND[key] = [(f.rule, f.location, f.evidence) for f in L.lint(path, [rule] if rule else None)]
    return list(_FOUND[key])


def new_findings(base, broken):
    """What the broken copy adds to the findings of its base: (rule, location) pairs, counted (an edited
    paragraph changes the evidence of a finding it already had, not its rule or place)."""
    added = Counter((r, loc) for r, loc, _ in findings(broken)) - Counter((r, loc) for r, loc, _ in findings(base))
    return sorted(added.elements())


def copy_report(html: Path, folder: Path, *, pdf=False) -> Path:
    """The report's HTML (and PDF) and metrics CSV copied into ``folder`` under their own names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [html.name, html.stem + "_metrics.csv"] + ([html.stem + ".pdf"] if pdf else [])
    for name in names:
        shutil.copy(html.parent / name, folder / name)
    return folder / html.name


def edited(html: Path, folder: Path, *edits) -> Path:
    """A copy of the report in ``folder`` with ``edits`` applied to its parsed HTML (each edit(soup, lang))."""
    out = copy_report(html, folder)
    rep = L.read_html(out)
    for edit in edits:
        edit(rep.soup, rep.lang)
    out.write_text(str(rep.soup), encoding="utf-8")
    return out


def section(soup, sec_id):
    """The elements of one section (from its h2 to the next), in document order."""
    h2 = soup.find("h2", id=sec_id)
    assert h2 is not None, sec_id
    out = []
    for el in h2.find_all_next(True):
        if el.name == "h2" and el.find_parent("nav") is None:
            break
        out.append(el)
    return out


def paragraphs(soup, sec_id):
    """The body paragraphs of one section: not table cells, not source lines (p.source of a figure or table)."""
    return [el for el in section(soup, sec_id) if el.name == "p" and not el.find_parent("table")
            and "source" not in (el.get("class") or [])]


def set_text(el, text):
    el.clear()
    el.append(text)


def plain_dashes(soup, lang):
    """— and … written as - and ...: :func:`render_pdf` is plain WeasyPrint, whose own re-subsetting of
    the report's font loses the text of their substituted glyphs (the exporter keeps it; the generated
    PDFs are checked as they are by ``test_generated_reports_pass``)."""
    from bs4 import NavigableString
    for s in list(soup.find_all(string=True)):
        if type(s) is NavigableString and ("—" in s or "…" in s):
            s.replace_with(str(s).replace("—", "-").replace("…", "..."))


def render_pdf(html: Path) -> Path:
    """The HTML rendered to a PDF beside it, as WeasyPrint renders reports (local files only)."""
    from weasyprint import HTML
    from analysis.export import local_fetcher
    pdf = html.with_suffix(".pdf")
    HTML(string=html.read_text(encoding="utf-8"), base_url=str(html.parent),
         url_fetcher=local_fetcher([html.parent])).write_pdf(str(pdf), full_fonts=True)
    return pdf


# ------------------------------------------------------------------------------------------ fixture
@pytest.fixture
def reports(yubei_zh, yubei_en, example_a):
    """The session's shared reports (conftest), HTML and PDF; tests break copies of them, never these."""
    return {"zh": yubei_zh[0] / "industry_report.html",
            "en": yubei_en[0] / "industry_report_en.html",
            "example": example_a[0] / "industry_report.html"}


# --------------------------------------------------------------------------- every generated report
@pytest.mark.parametrize("suffix", [".html", ".pdf"])
@pytest.mark.parametrize("which", ["zh", "en", "example"])
def test_generated_reports_pass(reports, which, suffix):
    """Every rule passes on every report the tests generate, HTML and PDF, zh and en."""
    assert_clean(reports[which].with_suffix(suffix))


def test_cli_real_reports_exit_0(reports, cli):
    """The real HTML reports are clean: the command exits 0 saying nothing."""
    code, out, err = cli("lint", *reports.values())
    assert (code, out, err) == (0, "", ""), out


# ------------------------------------------------------------------------------------------ rules
def test_glyphs_replacement_character(reports, tmp_path):
    base = reports["zh"]
    assert findings(base, "glyphs") == []

    def fffd(soup, lang):
        p = paragraphs(soup, "sec-growth")[0]
        set_text(p, p.get_text().replace("新", "\ufffd", 1))   # 新 copied as an unknown character
    broken = edited(base, tmp_path / "broken", fffd)
    assert new_findings(base, broken) == [("glyphs", "sec-growth")]


def test_glyphs_pdf_against_its_html(reports, tmp_path):
    """A PDF's text has every character of the HTML beside it, and none the HTML lacks."""
    html = edited(reports["zh"], tmp_path / "clean", plain_dashes)
    pdf = render_pdf(html)
    assert findings(pdf, "glyphs") == []
    # a character of the HTML that the PDF does not have (as when a glyph has no Unicode mapping)
    shutil.copytree(tmp_path / "clean", tmp_path / "missing")
    missing = tmp_path / "missing" / html.name
    missing.write_text(missing.read_text(encoding="utf-8").replace("研发投入达到", "研发投入鑫达到", 1), encoding="utf-8")
    got = findings(missing.with_suffix(".pdf"), "glyphs")
    assert [(r, loc) for r, loc, _ in got] == [("glyphs", "sec-innovation")] and "鑫" in got[0][2]
    # a character in the PDF that the HTML does not have (a glyph mapped to the wrong character)
    shutil.copytree(tmp_path / "clean", tmp_path / "extra")
    extra = tmp_path / "extra" / html.name
    extra.write_text(extra.read_text(encoding="utf-8").replace("瞪羚", "企业"), encoding="utf-8")
    got = findings(extra.with_suffix(".pdf"), "glyphs")
    assert [r for r, _, _ in got] == ["glyphs", "glyphs"]          # 瞪 and 羚, on the page of the 瞪羚 row
    assert all(re.fullmatch(r"page \d+", loc) for _, loc, _ in got)
    assert {ev[1] for _, _, ev in got} == {"瞪", "羚"}


def test_pdf_alone_gets_the_glyph_rule_only(reports, tmp_path):
    pdf = tmp_path / "industry_report.pdf"
    shutil.copy(reports["zh"].with_suffix(".pdf"), pdf)
    t = L.target(pdf)
    assert t.html is None and t.metrics is None
    assert findings(pdf) == []   # no U+FFFD; nothing else can be checked without the HTML


def test_language_zh_english_sentence(reports, tmp_path):
    base = reports["zh"]
    assert findings(base, "language") == []

    def english(soup, lang):
        p = paragraphs(soup, "sec-structure")[0]
        set_text(p, p.get_text() + "The share is high.")
    broken = edited(base, tmp_path / "broken", english)
    assert new_findings(base, broken) == [("language", "sec-structure")]
    assert "“share”" in findings(broken, "language")[0][2]


def test_language_zh_allowed_places(reports, tmp_path):
    """English in a quote (column 原文, or td.quote), a source title or publisher, ids, units: no finding."""
    base = reports["zh"]
    assert findings(base, "language") == []

    def allowed(soup, lang):
        sources = section(soup, "sec-sources")
        quote_col = next(i for i, th in enumerate(sources[0].find_next("thead").find_all("th"))
                         if th.get_text() == "原文")
        row = sources[0].find_next("tbody").find("tr")
        set_text(row.find_all("td")[quote_col], "The plant reached full output")
        cell = paragraphs(soup, "sec-headline")[0].find_next("td")   # an ordinary cell, marked as a quote
        cell["class"] = ["quote"]
        set_text(cell, "as the source says: output grew")
        p = paragraphs(soup, "sec-growth")[0]
        set_text(p, p.get_text() + "（编号yb-001，文件observations.csv，单位：MW，GDP口径）")
    ok = edited(base, tmp_path / "ok", allowed)
    assert findings(ok, "language") == []


def test_language_en_cjk(reports, tmp_path):
    base = reports["en"]
    assert findings(base, "language") == []     # quotes and source titles (also in source lines) stay Chinese

    def cjk(soup, lang):
        p = paragraphs(soup, "sec-growth")[0]
        set_text(p, p.get_text().replace("the 2023 level", "the 2023 level in 渝北区", 1))
    broken = edited(base, tmp_path / "broken", cjk)
    assert new_findings(base, broken) == [("language", "sec-growth")]


def test_language_in_pdf_minus_the_htmls_allowed_strings(reports, tmp_path):
    """A PDF has no structure: its text minus the strings the HTML marks as allowed (whatever the line
    breaks inside them) is checked, page by page."""
    assert findings(reports["en"].with_suffix(".pdf"), "language") == []   # long Chinese quotes and source
    html = copy_report(reports["en"], tmp_path / "broken")                 # titles wrap over lines in the PDF
    text = html.read_text(encoding="utf-8")
    assert "the 2023 level" in text
    html.write_text(text.replace("the 2023 level", "the 2023 level in 渝北区", 1), encoding="utf-8")
    pdf = render_pdf(html)
    got = findings(pdf, "language")
    assert len(got) == 1 and re.fullmatch(r"page \d+", got[0][1]) and "渝北区" in got[0][2]


@pytest.mark.parametrize("which, sec", [("zh", "sec-innovation"), ("en", "sec-innovation")])
def test_repeated_sentence(reports, tmp_path, which, sec):
    base = reports[which]
    assert findings(base, "repeated-sentence") == []     # caveats are numbered notes, each said once

    def duplicate(soup, lang):
        first = L.sentences(paragraphs(soup, "sec-headline")[0].get_text())[0]
        p = paragraphs(soup, sec)[-1]
        set_text(p, p.get_text() + ("" if lang == "zh" else " ") + first)
    broken = edited(base, tmp_path / "broken", duplicate)
    assert new_findings(base, broken) == [("repeated-sentence", sec)]


def test_sentences_split():
    assert L.sentences("一句。两句！三句？") == ["一句。", "两句！", "三句？"]
    assert L.sentences("Ranked No. 1 among peers. Grew 5.6% (e.g. output). Next") == \
        ["Ranked No. 1 among peers.", "Grew 5.6% (e.g. output).", "Next"]


@pytest.mark.parametrize("which, old, new", [("zh", "研发投入达到129.2亿元", "研发投入达到超过129.2亿元"),
                                             ("en", "R&amp;D expenditure reached 12.92 bn yuan",
                                              "R&amp;D expenditure reached more than 12.92 bn yuan")])
def test_stacked_qualifier(reports, tmp_path, which, old, new):
    base = reports[which]
    assert findings(base, "stacked-qualifier") == []
    broken = tmp_path / "broken" / base.name
    copy_report(base, broken.parent)
    text = base.read_text(encoding="utf-8")
    assert old in text
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert new_findings(base, broken) == [("stacked-qualifier", "sec-innovation")]


@pytest.mark.parametrize("text", ["达到超过4000亿元", "达超4000亿元", "增长超过超过20%", "约近20%",
                                  "reached more than 400", "exceeded at least 3", "about more than 20%"])
def test_stacked_patterns(text):
    assert any(p.search(text) for p, _ in L.STACKED), text


@pytest.mark.parametrize("text", ["超过4000亿元", "达到4000亿元", "增长超过20%", "不超过47.5%", "达到约3万辆",
                                  "grew by more than 20%", "reached 400 bn yuan", "at most 47.5%"])
def test_not_stacked(text):
    assert not any(p.search(text) for p, _ in L.STACKED), text


@pytest.mark.parametrize("which, sec, old, new, token", [
    ("zh", "sec-innovation", "研发投入达到129.2亿元", "研发投入达到129.3亿元", "129.3亿元"),
    ("en", "sec-innovation", "reached 12.92 bn yuan", "reached 12.93 bn yuan", "12.93 bn yuan"),
    ("example", "sec-structure", "比重：42.4%", "比重：42.5%", "42.5%"),       # a metric's display, in no table
])
def test_prose_number(reports, tmp_path, which, sec, old, new, token):
    base = reports[which]
    assert findings(base, "prose-number") == []
    broken = copy_report(base, tmp_path / "broken")
    text = broken.read_text(encoding="utf-8")
    assert old in text
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    got = findings(broken, "prose-number")
    assert [(r, loc) for r, loc, _ in got] == [("prose-number", sec)]
    assert f"“{token}”" in got[0][2]


def test_number_tokens():
    assert L.number_tokens("超过4,000亿元，约3.4–3.6万辆，增长5.6倍，居第1位，2024年，2024—2027年，连续7年") == \
        ["4000亿元", "3.4–3.6万辆", "5.6倍", "第1位", "7年"]
    assert L.number_tokens("about 34,848.5 vehicles (33,834.6–35,877.9 vehicles), 6.6-fold (+560%), No. 1, In 2024") \
        == ["34848.5 vehicles", "33834.6–35877.9 vehicles", "6.6-fold", "560%", "No. 1"]


@pytest.mark.parametrize("which", ["zh", "en"])
def test_caption_source_figure_caption_removed(reports, tmp_path, which):
    base = reports[which]
    assert findings(base, "caption-source") == []

    def no_caption(soup, lang):
        fig = next(el for el in section(soup, "sec-growth") if el.name == "figure")
        fig.find("figcaption").decompose()
    broken = edited(base, tmp_path / "broken", no_caption)
    assert new_findings(base, broken) == [("caption-source", "sec-growth")]


@pytest.mark.parametrize("how", ["removed", "emptied"])
@pytest.mark.parametrize("which", ["zh", "en"])
def test_caption_source_figure_source_missing(reports, tmp_path, which, how):
    """A figure's source line is inside its <figure>, after the image; an empty p.source is no source line."""
    base = reports[which]
    assert findings(base, "caption-source") == []

    def no_source(soup, lang):
        fig = next(el for el in section(soup, "sec-structure") if el.name == "figure")
        src = fig.find("p", class_="source")
        if how == "removed":
            src.decompose()
        else:
            src.clear()
    broken = edited(base, tmp_path / "broken", no_source)
    assert new_findings(base, broken) == [("caption-source", "sec-structure")]


def test_caption_source_table_source_and_numbering(reports, tmp_path):
    base = reports["zh"]
    assert findings(base, "caption-source") == []

    def no_source(soup, lang):
        table = next(el for el in section(soup, "sec-innovation") if el.name == "table")
        table.find_next_sibling("p", class_="source").decompose()   # in the table's div.table-block
    broken = edited(base, tmp_path / "no-source", no_source)
    assert new_findings(base, broken) == [("caption-source", "sec-innovation")]

    def misnumbered(soup, lang):      # a methods table needs no source line, but is numbered like any other
        cap = next(el for el in section(soup, "sec-methods") if el.name == "caption")
        set_text(cap, "表9　推算指标的计算方法")
    broken = edited(base, tmp_path / "misnumbered", misnumbered)
    got = [f for f in findings(broken, "caption-source")]
    assert [(r, loc) for r, loc, _ in got] == [("caption-source", "sec-methods")]
    tables_before = len(re.findall(r"<caption>表\d+", base.read_text(encoding="utf-8").split('id="sec-methods"')[0]))
    assert f"numbered 9, expected {tables_before + 1}" in got[0][2]


@pytest.mark.parametrize("cut", [
    lambda line: line[:line.rindex("》")],                   # 》。 cut off: an unclosed 《
    lambda line: line.rstrip("。") + "；",                    # ends in a separator: a second source cut away
    lambda line: line[:12] + "…",                             # cut in the middle of the title
])
def test_truncated_source(reports, tmp_path, cut):
    base = reports["zh"]
    assert findings(base, "truncated-source") == []

    def truncate(soup, lang):
        fig = next(el for el in section(soup, "sec-targets") if el.name == "figure")
        src = fig.find(class_="source")
        assert re.fullmatch(r"资料来源：《[^》]+》。", src.get_text())
        set_text(src, cut(src.get_text()))
    broken = edited(base, tmp_path / "broken", truncate)
    assert new_findings(base, broken) == [("truncated-source", "sec-targets")]


def test_truncated_source_en(reports, tmp_path):
    base = reports["en"]
    assert findings(base, "truncated-source") == []

    def truncate(soup, lang):
        table = next(el for el in section(soup, "sec-headline") if el.name == "table")
        set_text(table.find_next_sibling("p", class_="source"), "Source: Statistical bulletin of")
    broken = edited(base, tmp_path / "broken", truncate)
    assert new_findings(base, broken) == [("truncated-source", "sec-headline")]


# ------------------------------------------------------------------------------------------ command
def test_cli_findings_and_exit_codes(reports, tmp_path, cli):
    """A broken HTML (a stacked qualifier) and the PDF beside it (a word of its text changed in the HTML after
    rendering: the PDF has characters the HTML lacks) each give findings, one line each, and exit code 1."""
    html = copy_report(reports["zh"], tmp_path / "broken", pdf=True)
    text = html.read_text(encoding="utf-8")
    assert "研发投入达到129.2亿元" in text and "瞪羚" in text
    html.write_text(text.replace("研发投入达到129.2亿元", "研发投入达到超过129.2亿元", 1).replace("瞪羚", "企业"),
                    encoding="utf-8")
    code, out, err = cli("lint", html, html.with_suffix(".pdf"))
    assert code == 1
    lines = out.splitlines()
    assert lines and all(re.match(r"^.+\.(html|pdf): (page \d+|[\w-]+): [a-z-]+: .+$", line) for line in lines), out
    assert {line.split(": ")[2] for line in lines} <= set(L.RULES)
    assert f"{html}: sec-innovation: stacked-qualifier: " in out
    assert re.search(rf"^{re.escape(str(html.with_suffix('.pdf')))}: page \d+: glyphs: “瞪”", out, re.M), out
    assert f"{len(lines)} findings in 2 of 2 files" in err
    code, out, _ = cli("lint", "--rule", "prose-number", html)
    assert (code, out) == (0, "")
    code, out, _ = cli("lint", "--list-rules")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == list(L.RULES)


@pytest.mark.parametrize("args", [[], ["missing.html"], ["notes.txt"], ["--rule", "nonsense", "REPORT"]])
def test_cli_usage_errors(reports, tmp_path, cli, args):
    (tmp_path / "notes.txt").write_text("x")
    args = [str(tmp_path / a) if a.endswith((".html", ".txt")) else str(reports["zh"]) if a == "REPORT" else a
            for a in args]
    code, out, err = cli("lint", *args)
    assert code == 2 and out == "" and err.startswith("error: ")
