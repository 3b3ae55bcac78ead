"""``analysis lint REPORT.pdf|REPORT.html …``: check a finished report as its reader would see it.

Each rule is a function with a code (:data:`RULES`); it returns :class:`Finding` objects (rule
code, file, location, evidence), printed as ``FILE: LOCATION: RULE: EVIDENCE``. A location is the
section of an HTML report (the ``id`` of its ``h2``: ``sec-headline``; ``title-block`` and ``toc``
for the page's head) or a PDF page (``page 3``).

========================  ==========================================================================
code                      what it checks
========================  ==========================================================================
``glyphs``                no U+FFFD; a PDF with its HTML beside it (same stem) has every character
                          of the HTML's visible text in its extracted text, and no character the
                          HTML and the page furniture do not have (an unmapped glyph copies as a
                          wrong one)
``language``              a Chinese report has no English words, an English one no CJK text,
                          outside the places allowed: verbatim quotes (the quote column,
                          ``td.quote``), source titles (and publishers in Chinese), ids, units.
                          A PDF is checked when its HTML is beside it: its text minus the strings
                          the HTML marks as allowed
``repeated-sentence``     no sentence twice in the body prose (paragraphs and list items)
``stacked-qualifier``     no qualifier stacked on a verb or on another qualifier (达到超过, 达超,
                          超过超过, reached more than): :data:`STACKED`
``prose-number``          every number with a unit in the prose (paragraphs and list items outside
                          the methods section, whose numbers are examples) occurs in a ``display``
                          of ``<stem>_metrics.csv`` beside the report or in one of the report's
                          tables
``caption-source``        every ``<figure>`` has a ``<figcaption>`` 图N / Figure N and every table
                          a ``<caption>`` 表N / Table N, numbered 1, 2, … in order, each followed by a
                          source line (class ``source``, or text starting 资料来源： / Source:);
                          tables of the sources and methods sections need no source line
``truncated-source``      no source line that ends in a cut (；，、：… or a dangling "of") or leaves
                          a bracket open (《 （ ( 【 [ “)
========================  ==========================================================================

The HTML is parsed with BeautifulSoup (``html.parser``), the PDF read with pypdf. Which words
are allowed where comes from the report's own structure: table columns are recognised by their
header text in the message catalogs (``columns.quote``, ``columns.title``, ``columns.publisher``).
"""
from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .errors import AnalysisError, UsageError

LANGS = ("zh", "en")


# ------------------------------------------------------------------------------------------ findings
@dataclass(frozen=True)
class Finding:
    """One problem: which rule, in which file, where (section or page), and what was found."""

    rule: str
    file: str
    location: str
    evidence: str

    def __str__(self) -> str:
        return f"{self.file}: {self.location}: {self.rule}: {self.evidence}"


# ------------------------------------------------------------------------------------------ words
_CJK_CHARS = "\u2e80-\u2fdf\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
#: a run of CJK ideographs, CJK punctuation or full-width forms
CJK_RUN = re.compile(f"[{_CJK_CHARS}]+")
_CJK = f"[{_CJK_CHARS}]"
#: a run of Latin letters and digits, with inner . ' ’ - / : & _ (file names, ids, URLs, R&D)
LATIN_RUN = re.compile(r"[A-Za-z0-9_]+(?:[.'’\-/:&][A-Za-z0-9_]+)*")
#: Latin tokens a Chinese report may use outside quotes: unit symbols and acronyms of statistics
ALLOWED_LATIN = {
    # units
    "kg", "km", "cm", "mm", "ha", "kW", "kWh", "MW", "MWh", "GW", "GWh", "TWh", "Mt", "pp", "m²", "km²",
    # acronyms written as such in Chinese statistical texts
    "GDP", "CPI", "PPI", "PMI", "AI", "IT", "ICT", "IC", "EV", "SUV", "LED", "OLED", "LCD",
}

_NUM = r"[−\-]?\d[\d,]*(?:\.\d+)?"
#: units a number in the prose may carry (longest first); Chinese ones from analysis.numbers too
_ZH_UNITS = ["万千瓦时", "亿千瓦时", "千瓦时", "万千瓦", "千瓦", "亿美元", "万美元", "美元", "万亿元", "千万元",
             "百万元", "亿元", "万元", "千元", "元", "万辆", "辆", "万台(套)", "台(套)", "万台（套）", "台（套）",
             "万台", "台", "万套", "套", "万人", "人", "万吨", "吨", "万平方米", "平方米", "平方公里", "公里",
             "家", "户", "个百分点", "百分点", "个", "项", "件", "条", "倍", "成", "年", "%", "％"]
_EN_UNITS = ["billion yuan", "million yuan", "bn yuan", "m yuan", "yuan", "vehicles", "units", "enterprises",
             "chains", "persons", "years", "pp", "t"]


def _unit_pattern() -> str:
    try:
        from .numbers import UNITS
        zh = set(_ZH_UNITS) | {u for u in UNITS if not u.isascii()}
    except Exception:  # pragma: no cover - the table is optional
        zh = set(_ZH_UNITS)
    zh_alt = "|".join(re.escape(u) for u in sorted(zh, key=len, reverse=True))
    en_alt = "|".join(re.escape(u) for u in sorted(_EN_UNITS, key=len, reverse=True))
    return rf"(?:{zh_alt}|\s?(?:{en_alt})\b|-fold\b|×)"


#: a number with a unit (a range 3.4–3.6万辆 is one token), a rank 第1位 / No. 1
NUMBER_TOKEN = re.compile(
    rf"第\d+位|\bNo\.\s?\d+\b|(?<![\d.,A-Za-z])({_NUM})(?:\s?[–—~\-]\s?({_NUM}))?\s?({_unit_pattern()})")


def number_tokens(text: str) -> list[str]:
    """Numbers with units in ``text``, normalised (no spaces or thousands commas, one dash, %):
    ``超过4,000亿元`` → ``4000亿元``; dates (2024年, 2024–2027年) are not numbers of a metric."""
    out = []
    for m in NUMBER_TOKEN.finditer(text):
        if m.group(3) is not None and m.group(3).strip() in ("年", "years"):
            if any(g and re.fullmatch(r"(19|20)\d\d", g) for g in (m.group(1), m.group(2))):
                continue
        tok = re.sub(r"\s+(?![A-Za-z])", "", m.group(0)).replace("％", "%")   # 12.92 bn yuan, 4000亿元
        tok = re.sub(r"\s+", " ", tok).replace("No.", "No. ")
        tok = re.sub(r"(?<=\d),(?=\d{3})", "", tok)
        tok = re.sub(r"(?<=\d)[—~\-](?=[−\-]?\d)", "–", tok)
        tok = re.sub(r"^-", "−", tok)
        out.append(tok)
    return out


# --------------------------------------------------------------------------- stacked qualifiers
_ZH_COMPARE = "超过|超|突破|逾|不低于|不少于|至少|不超过|不到|低于|少于|高于|多于"
_ZH_QUAL = "不超过|不低于|不少于|超过|突破|至少|不到|低于|少于|高于|多于|逾|约|近|超"
_EN_QUAL = r"more than|less than|at least|at most|no less than|no more than|about|approximately|nearly|roughly|around"
#: (pattern, what it is): a qualifier stacked on a verb that already states the level, or on another qualifier
STACKED: list[tuple[re.Pattern, str]] = [
    (re.compile(f"达到(?:{_ZH_COMPARE})"), "达到 with a qualifier (write 超过… / 达到… alone)"),
    (re.compile(f"达(?:{_ZH_COMPARE})"), "达 with a qualifier"),
    (re.compile(f"(?:{_ZH_QUAL})(?:{_ZH_QUAL})"), "two qualifiers in a row"),
    (re.compile(r"\b(?:reach(?:ed|es)?|exceed(?:ed|s)?|surpass(?:ed|es)?|top(?:ped|s)?)\s+"
                r"(?:more than|over|above|at least|at most|less than|under|below|in excess of|upwards of|"
                r"no less than|no more than)\b", re.I), "a verb of reaching with a qualifier"),
    (re.compile(rf"\b(?:{_EN_QUAL})\s+(?:{_EN_QUAL}|over|above|under|below)\b", re.I), "two qualifiers in a row"),
]


# ------------------------------------------------------------------------------------ sentences
_ABBREV = {"no", "nos", "e.g", "i.e", "eg", "ie", "vs", "cf", "etc", "fig", "figs", "approx", "mr", "ms", "dr",
           "st", "co", "ltd", "inc", "p", "pp", "vol", "al"}
_SENT_END = re.compile(r"[。！？]+[”’」』）)]*|[.!?]+[”’\"')]*(?=\s|$)")


def sentences(text: str) -> list[str]:
    """``text`` split after 。！？ and after . ! ? followed by a space (not after No. or e.g. or an initial)."""
    out, start = [], 0
    for m in _SENT_END.finditer(text):
        if m.group(0)[0] == ".":
            word = re.search(r"([A-Za-z][A-Za-z.]*)$", text[start:m.start()])
            if word and (word.group(1).lower().rstrip(".") in _ABBREV or len(word.group(1)) == 1):
                continue
        out.append(text[start:m.end()])
        start = m.end()
    out.append(text[start:])
    return [s for s in (" ".join(p.split()) for p in out) if s]


def _weight(s: str) -> int:
    return sum(1 for c in s if c.isalnum())


# ------------------------------------------------------------------------------------ HTML model
_BLOCK_TAGS = {"p", "li", "td", "th", "caption", "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd",
               "blockquote", "pre", "div", "figure", "header", "nav", "main", "section", "article", "aside",
               "footer", "body", "ol", "ul", "dl", "table", "tr", "thead", "tbody", "tfoot", "html"}
_INVISIBLE = {"script", "style", "head", "title", "template", "noscript"}
SOURCE_PREFIXES = ("资料来源：", "资料来源:", "Source:", "Sources:")
#: sections whose numbers are examples of a rule, not figures of the report (prose-number)
EXAMPLE_SECTIONS = {"sec-methods"}
#: sections whose tables need no source line: the sources themselves, the methods (caption-source)
NO_SOURCE_SECTIONS = {"sec-sources", "sec-methods"}


def _column_names(key: str) -> set[str]:
    from .messages import messages
    return {str(messages(lang)(f"columns.{key}")) for lang in LANGS}


@dataclass
class Block:
    """A piece of visible text: the text directly in one block element (p, li, td, caption …)."""

    tag: str
    text: str
    section: str
    element: object
    column: str = ""          # header text of a table cell's column
    row: str = ""             # header text of a table cell's row (a th in the same row: the title block)
    table: object = None
    role: str = "other"       # prose | cell | caption | source | heading | toc | title | other
    allowed: str = ""         # quote | title | publisher: verbatim text, exempt from the language rules


@dataclass
class HtmlReport:
    path: Path
    lang: str
    soup: object
    blocks: list[Block]
    sections: dict[int, str]  # id(element) → section

    def section_of(self, el) -> str:
        return self.sections.get(id(el), "document")

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)

    def allowed_strings(self) -> list[str]:
        """Texts the language rules exempt (quotes, source titles; publishers in Chinese), longest first."""
        kinds = {"quote", "title", "publisher"} if self.lang == "zh" else {"quote", "title"}
        seen = {b.text.strip() for b in self.blocks if b.allowed in kinds and len(b.text.strip()) >= 2}
        return sorted(seen, key=len, reverse=True)


def _classes(el) -> list[str]:
    c = el.get("class") if hasattr(el, "get") else None
    return list(c) if isinstance(c, list) else (c.split() if c else [])


def _table_headers(table) -> list[str]:
    head = table.find("thead")
    row = head.find("tr") if head else None
    if row is None:
        row = next((tr for tr in table.find_all("tr") if tr.find("th") and not tr.find("td")), None)
    return [" ".join(c.get_text(" ").split()) for c in row.find_all(["th", "td"], recursive=False)] if row else []


def _is_source_line(el, text: str) -> bool:
    t = text.strip()
    if t.startswith(SOURCE_PREFIXES):
        return True
    node = el
    while node is not None and getattr(node, "name", None) not in (None, "figure", "main", "body", "table"):
        if "source" in _classes(node):
            return True
        node = node.parent
    return False


def read_html(path: Path, text: str | None = None, *, soup=None) -> HtmlReport:
    """A report's HTML as visible-text blocks, each with its section, role and table column.

    ``text`` (or an already parsed ``soup``, whose elements the blocks then refer to) instead of the file.
    """
    from bs4 import BeautifulSoup, NavigableString
    if soup is None:
        soup = BeautifulSoup(text if text is not None else Path(path).read_text(encoding="utf-8"), "html.parser")
    root = soup.find("html")
    tag = (root.get("lang") if root else "") or ""
    lang = "en" if tag.lower().startswith("en") else "zh" if tag.lower().startswith("zh") else ""
    body = soup.body or soup
    if not lang:   # no lang attribute: the language of most of the text
        text_all = body.get_text(" ")
        lang = "zh" if len(CJK_RUN.findall(text_all)) * 2 > len(re.findall(r"[A-Za-z]{2,}", text_all)) else "en"
    sections: dict[int, str] = {}
    current = "document"
    for node in body.descendants:
        name = getattr(node, "name", None)
        if name is None:
            continue
        if name in ("h1", "h2") and node.find_parent(["header", "nav"]) is None and node.get("id"):
            current = node["id"]
        elif name == "h2" and node.find_parent(["header", "nav"]) is None:
            current = " ".join(node.get_text(" ").split()) or current
        if node.find_parent("header") is not None or name == "header":
            sections[id(node)] = "title-block"
        elif node.find_parent("nav") is not None or name == "nav":
            sections[id(node)] = "toc"
        else:
            sections[id(node)] = current
    quote_cols, title_cols, pub_cols = _column_names("quote"), _column_names("title"), _column_names("publisher")
    headers_of: dict[int, list[str]] = {}
    pieces: dict[int, list[str]] = {}
    elements: dict[int, object] = {}
    for s in body.descendants:
        if type(s) is not NavigableString:
            continue
        if any(getattr(p, "name", None) in _INVISIBLE for p in s.parents):
            continue
        el = s.parent
        while el is not None and el.name not in _BLOCK_TAGS:
            el = el.parent
        if el is None:
            continue
        elements.setdefault(id(el), el)
        pieces.setdefault(id(el), []).append(str(s))
    blocks = []
    for key, el in elements.items():
        text = "".join(pieces[key])
        if not text.strip():
            continue
        b = Block(el.name, text, sections.get(id(el), "document"), el)
        in_nav = b.section == "toc"
        if el.name in ("td", "th"):
            table = el.find_parent("table")
            b.table, b.role = table, "cell"
            if id(table) not in headers_of:
                headers_of[id(table)] = _table_headers(table)
            row = el.parent
            cells = row.find_all(["td", "th"], recursive=False) if row else []
            idx = next((i for i, c in enumerate(cells) if c is el), -1)
            heads = headers_of[id(table)]
            b.column = heads[idx] if 0 <= idx < len(heads) and el.name == "td" else ""
            row_head = row.find("th", recursive=False) if row is not None and el.name == "td" else None
            b.row = " ".join(row_head.get_text(" ").split()) if row_head is not None else ""
            cls = _classes(el)
            if "quote" in cls or b.column in quote_cols:
                b.allowed = "quote"
            elif "title" in cls or b.column in title_cols:
                b.allowed = "title"
            elif "publisher" in cls or b.column in pub_cols:
                b.allowed = "publisher"
        elif el.name in ("caption", "figcaption"):
            b.role = "caption"
        elif el.name in ("h1", "h2", "h3", "h4", "h5", "h6"):
            b.role = "heading"
        if b.role not in ("cell", "caption") and _is_source_line(el, text):
            b.role = "source"
        elif b.role == "other" and el.name in ("p", "li", "dd", "blockquote") and not in_nav \
                and b.section != "title-block" and el.find_parent("table") is None:
            b.role = "prose"
        if in_nav and b.role == "other":
            b.role = "toc"
        blocks.append(b)
    return HtmlReport(Path(path), lang, soup, blocks, sections)


# ------------------------------------------------------------------------------------ PDF model
@dataclass
class PdfReport:
    path: Path
    pages: list[str]


def read_pdf(path: Path) -> PdfReport:
    from pypdf import PdfReader
    try:
        reader = PdfReader(str(path))
        return PdfReport(Path(path), [page.extract_text() or "" for page in reader.pages])
    except Exception as exc:  # a broken or encrypted file is the user's to fix
        raise AnalysisError(f"{path}: cannot read the PDF ({type(exc).__name__}: {exc})") from exc


def _join_cjk_lines(text: str) -> str:
    """PDF lines broken inside Chinese text joined again (渝北\\n区 → 渝北区)."""
    return re.sub(f"(?<={_CJK})[ \t]*\n[ \t]*(?={_CJK})", "", text)


def _minus_allowed(text: str, allowed: list[str]) -> str:
    """``text`` with every allowed string removed, whatever whitespace (line breaks) the PDF put inside it."""
    if not allowed:
        return text
    pats = ["\\s*".join(re.escape(c) for c in s if not c.isspace()) for s in allowed]
    pats = [p for p in pats if p]
    # one alternation, longest strings first, in chunks (the re module limits a pattern's size)
    for i in range(0, len(pats), 50):
        text = re.sub("|".join(pats[i:i + 50]), " ", text)
    return text


# ------------------------------------------------------------------------------------ the target
@dataclass
class Target:
    """What a rule looks at: the file, its HTML (the file itself or the one beside a PDF), the PDF's
    pages, and the metrics CSV beside it."""

    path: Path
    html: HtmlReport | None = None
    pdf: PdfReport | None = None
    metrics: Path | None = None
    _metrics_displays: list[str] | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return str(self.path)

    @property
    def lang(self) -> str:
        return self.html.lang if self.html else ""

    def metrics_displays(self) -> list[str]:
        if self._metrics_displays is None:
            self._metrics_displays = []
            if self.metrics is not None:
                with open(self.metrics, encoding="utf-8-sig", newline="") as fh:
                    self._metrics_displays = [row.get("display") or "" for row in csv.DictReader(fh)]
        return self._metrics_displays


def _snippet(text: str, start: int = 0, end: int | None = None, width: int = 24) -> str:
    end = start if end is None else end
    a, b = max(0, start - width), min(len(text), end + width)
    return " ".join(text[a:b].split())


def _place(b: Block) -> str:
    if b.role == "cell" and b.column:
        return f"column “{b.column}”"
    if b.role == "cell" and b.row:
        return f"row “{b.row}”"
    return b.tag


# ------------------------------------------------------------------------------------------ rules
def rule_glyphs(t: Target) -> Iterable[Finding]:
    """No U+FFFD; every character of the HTML beside a PDF in the PDF's text, and nothing else there."""
    if t.pdf is None and t.html is not None:
        for b in t.html.blocks:
            if "\ufffd" in b.text:
                i = b.text.index("\ufffd")
                yield Finding("glyphs", t.name, b.section,
                              f"replacement character U+FFFD in {_place(b)}: “{_snippet(b.text, i, i + 1)}”")
        return
    if t.pdf is None:
        return
    for n, page in enumerate(t.pdf.pages, 1):
        if "\ufffd" in page:
            i = page.index("\ufffd")
            yield Finding("glyphs", t.name, f"page {n}", f"replacement character U+FFFD: “{_snippet(page, i, i + 1)}”")
    if t.html is None:
        return
    ignorable = {"\u00ad", "\u200b", "\u200c", "\u200d", "\ufeff"}
    pdf_chars = set("".join(t.pdf.pages))
    seen = set()
    for b in t.html.blocks:
        for i, c in enumerate(b.text):
            if c.isspace() or c in ignorable or c in seen or c in pdf_chars:
                continue
            seen.add(c)
            yield Finding("glyphs", t.name, b.section,
                          f"“{c}” (U+{ord(c):04X} {unicodedata.name(c, '?')}) of the HTML is missing from the "
                          f"PDF's text (a glyph without its Unicode mapping), first in “{_snippet(b.text, i, i + 1)}”")
    html_chars = set(t.html.text)
    from .messages import messages
    furniture = set("0123456789.•◦▪")   # page numbers, leaders and list markers of the print CSS
    if t.lang in LANGS:
        furniture |= set("".join(re.findall(r'"([^"]*)"', messages(t.lang)("page_label"))))
    extra: dict[str, tuple[int, str]] = {}
    for n, page in enumerate(t.pdf.pages, 1):
        for i, c in enumerate(page):
            if c.isspace() or c in html_chars or c in furniture or c in extra:
                continue
            extra[c] = (n, _snippet(page, i, i + 1))
    for c, (n, snip) in extra.items():
        yield Finding("glyphs", t.name, f"page {n}",
                      f"“{c}” (U+{ord(c):04X} {unicodedata.name(c, '?')}) in the PDF's text is not in the HTML "
                      f"(a glyph mapped to the wrong character?): “{snip}”")


def _foreign(text: str, lang: str) -> list[str]:
    """Words of the other language in ``text``: English words in Chinese, CJK text in English."""
    if lang == "en":
        return [m.group(0) for m in CJK_RUN.finditer(text)]
    out = []
    for m in LATIN_RUN.finditer(text):
        run = m.group(0)
        if re.search(r"[\d_./:]", run):         # ids (yb-001, S000, sha256, M9), file names, URLs
            continue
        if run in ALLOWED_LATIN:
            continue
        if sum(1 for part in re.split(r"[&'’\-]", run) if len(part) >= 2) == 0:   # R&D, N, A
            continue
        out.append(run)
    return out


def _describe_terms(terms: list[str]) -> str:
    counts = Counter(terms)
    return ", ".join(f"“{w}”" + (f" ×{n}" if n > 1 else "") for w, n in counts.items())


def rule_language(t: Target) -> Iterable[Finding]:
    """One language per report, except in quotes, source titles (publishers in Chinese), ids and units."""
    if t.html is None or t.lang not in LANGS:
        return
    what = "English words in a Chinese report" if t.lang == "zh" else "CJK text in an English report"
    allowed = t.html.allowed_strings()
    if t.pdf is not None:
        for n, page in enumerate(t.pdf.pages, 1):
            terms = _foreign(_minus_allowed(_join_cjk_lines(page), allowed), t.lang)
            if terms:
                yield Finding("language", t.name, f"page {n}", f"{what}: {_describe_terms(terms)}")
        return
    groups: dict[tuple, list] = {}
    for b in t.html.blocks:
        if b.allowed == "quote" or b.allowed == "title" or (b.allowed == "publisher" and t.lang == "zh"):
            continue
        text = b.text
        if b.role == "source":
            text = _minus_allowed(text, allowed)
            if t.lang == "zh":
                text = re.sub(r"《[^》]*》", " ", text)
        terms = _foreign(text, t.lang)
        if not terms:
            continue
        key = (b.section, id(b.table), b.column) if b.role == "cell" else (b.section, id(b.element), "")
        groups.setdefault(key, [b, []])[1].extend(terms)
    for (section, _, column), (b, terms) in groups.items():
        where = f"column “{column}”" if column else f"{_place(b)} “{_snippet(b.text, 0, 0, 40)}”" \
            if b.role != "cell" or not b.row else _place(b)
        yield Finding("language", t.name, section, f"{what} in {where}: {_describe_terms(terms)}")


def _prose(t: Target) -> list[Block]:
    return [b for b in t.html.blocks if b.role == "prose"] if t.html else []


def rule_repeated_sentence(t: Target) -> Iterable[Finding]:
    """No sentence twice in the body prose (paragraphs and list items; not table cells, captions or source lines)."""
    if t.html is None or t.pdf is not None:
        return
    first: dict[str, str] = {}
    for b in _prose(t):
        for s in sentences(b.text):
            if _weight(s) < 4:
                continue
            if s in first:
                yield Finding("repeated-sentence", t.name, b.section, f"“{s}” again (first in {first[s]})")
            else:
                first[s] = b.section


def rule_stacked_qualifier(t: Target) -> Iterable[Finding]:
    """No qualifier stacked on a verb or on another qualifier (:data:`STACKED`), outside verbatim quotes."""
    if t.html is None:
        return
    if t.pdf is not None:
        allowed = t.html.allowed_strings()
        places = [(f"page {n}", _minus_allowed(_join_cjk_lines(p), allowed)) for n, p in enumerate(t.pdf.pages, 1)]
    else:
        places = [(b.section, b.text) for b in t.html.blocks if not b.allowed and b.role != "source"]
    for where, text in places:
        for pat, what in STACKED:
            for m in pat.finditer(text):
                yield Finding("stacked-qualifier", t.name, where,
                              f"“{m.group(0)}” ({what}): “{_snippet(text, m.start(), m.end())}”")


def rule_prose_number(t: Target) -> Iterable[Finding]:
    """Every number with a unit in the prose is a metric's display (``<stem>_metrics.csv``) or in a table."""
    if t.html is None or t.pdf is not None or t.metrics is None:
        return
    known = set()
    for d in t.metrics_displays():
        known.update(number_tokens(d))
    for b in t.html.blocks:
        if b.role == "cell":
            known.update(number_tokens(b.text))
    for b in _prose(t):
        if b.section in EXAMPLE_SECTIONS:
            continue
        for tok in number_tokens(b.text):
            if tok not in known:
                i = b.text.find(tok[:3]) if tok[:3] in b.text else 0
                yield Finding("prose-number", t.name, b.section,
                              f"“{tok}” is in no display of {t.metrics.name} and in no table: "
                              f"“{_snippet(b.text, i, i + len(tok), 30)}”")


_CAPTION = {"figure": {"zh": re.compile(r"^\s*图\s*(\d+)"), "en": re.compile(r"^\s*Figure\s+(\d+)")},
            "table": {"zh": re.compile(r"^\s*表\s*(\d+)"), "en": re.compile(r"^\s*Table\s+(\d+)")}}
_CAPTION_WORD = {"figure": {"zh": "图N", "en": "Figure N"}, "table": {"zh": "表N", "en": "Table N"}}


def _next_text_element(el):
    """The element holding the first visible text after ``el`` (outside it), or None."""
    from bs4 import NavigableString
    for s in el.next_elements:
        if type(s) is NavigableString and s.strip() and el not in s.parents:
            if any(getattr(p, "name", None) in _INVISIBLE for p in s.parents):
                continue
            return s.parent
    return None


def _has_source(el) -> bool:
    for inner in el.find_all(True):   # a source line inside (a figure's p.source): one with text, not an empty one
        text = inner.get_text(" ").strip()
        if text and ("source" in _classes(inner) or text.startswith(SOURCE_PREFIXES)):
            return True
    nxt = _next_text_element(el)
    if nxt is None:
        return False
    node = nxt
    for _ in range(4):       # the text's element, or a wrapper of it (p.source > span)
        if node is None:
            break
        if "source" in _classes(node):
            return True
        node = node.parent
    block = nxt
    while block is not None and block.name not in _BLOCK_TAGS:
        block = block.parent
    return block is not None and block.get_text(" ").strip().startswith(SOURCE_PREFIXES)


def rule_caption_source(t: Target) -> Iterable[Finding]:
    """Every figure and table numbered (图N / 表N, Figure N / Table N, in order) and followed by a source line."""
    if t.html is None or t.pdf is not None or t.lang not in LANGS:
        return
    soup, lang = t.html.soup, t.lang
    body = soup.body or soup
    figures = body.find_all("figure")
    tables = [tb for tb in body.find_all("table") if t.html.section_of(tb) != "title-block"
              and not tb.find_parent("figure")]
    for kind, items in (("figure", figures), ("table", tables)):
        for expected, el in enumerate(items, 1):
            section = t.html.section_of(el)
            if kind == "figure":
                img = el.find("img")
                label = f"figure (“{img.get('alt', '')}”)" if img is not None and img.get("alt") else "figure"
                cap = el.find("figcaption")
            else:
                heads = _table_headers(el)
                label = "table (" + " | ".join(heads[:4]) + (" | …" if len(heads) > 4 else "") + ")"
                cap = el.find("caption")
            text = " ".join(cap.get_text(" ").split()) if cap is not None else ""
            m = _CAPTION[kind][lang].match(text)
            if cap is None:
                yield Finding("caption-source", t.name, section,
                              f"{label} has no {'figcaption' if kind == 'figure' else 'caption'} "
                              f"(expected “{_CAPTION_WORD[kind][lang].replace('N', str(expected))} …”)")
            elif m is None:
                yield Finding("caption-source", t.name, section,
                              f"{label}: caption “{text[:40]}” does not start with {_CAPTION_WORD[kind][lang]}")
            elif int(m.group(1)) != expected:
                yield Finding("caption-source", t.name, section,
                              f"{label}: caption “{text[:40]}” numbered {m.group(1)}, expected {expected}")
            if kind == "table" and section in NO_SOURCE_SECTIONS:
                continue
            if not _has_source(el):
                yield Finding("caption-source", t.name, section,
                              f"{label} is not followed by a source line (class “source” or "
                              f"“{'资料来源：' if lang == 'zh' else 'Source:'} …”)")


_PAIRS = {"《": "》", "（": "）", "(": ")", "【": "】", "[": "]", "“": "”", "‘": "’", "「": "」", "〈": "〉"}
_CUT_END = re.compile(r"(?:[；;，,、：:…·—\-–/&]|\.\.\.|\b(?:and|or|of|the|a|an|in|on|for|to|with|by|from|at))\s*$",
                      re.I)


def rule_truncated_source(t: Target) -> Iterable[Finding]:
    """No source line that ends in a cut (；，、：… or a dangling word) or leaves a bracket open."""
    if t.html is None or t.pdf is not None:
        return
    for b in t.html.blocks:
        if b.role != "source":
            continue
        text = " ".join(b.text.split())
        problems = []
        m = _CUT_END.search(text)
        if m:
            problems.append(f"ends with “{m.group(0).strip()}”")
        stack = []
        for c in text:
            if c in _PAIRS:
                stack.append(c)
            elif c in _PAIRS.values():
                if stack and _PAIRS[stack[-1]] == c:
                    stack.pop()
                else:
                    problems.append(f"“{c}” closes nothing")
        problems += [f"“{c}” is never closed" for c in stack]
        if problems:
            yield Finding("truncated-source", t.name, b.section,
                          f"source line {'; '.join(dict.fromkeys(problems))}: “…{text[-50:]}”")


@dataclass(frozen=True)
class Rule:
    code: str
    check: Callable[[Target], Iterable[Finding]]
    summary: str


RULES: dict[str, Rule] = {r.code: r for r in [
    Rule("glyphs", rule_glyphs, "no U+FFFD; a PDF's text has every character of the HTML beside it, and no other"),
    Rule("language", rule_language, "one language outside quotes, source titles, ids and units"),
    Rule("repeated-sentence", rule_repeated_sentence, "no sentence twice in the body prose"),
    Rule("stacked-qualifier", rule_stacked_qualifier, "no qualifier stacked on a verb (达到超过, reached more than)"),
    Rule("prose-number", rule_prose_number, "numbers in the prose are in the metrics CSV or the report's tables"),
    Rule("caption-source", rule_caption_source, "figures and tables numbered (图N/表N) and followed by a source line"),
    Rule("truncated-source", rule_truncated_source, "no source line cut short or with an open bracket"),
]}


# ------------------------------------------------------------------------------------------ running
def beside(path: Path, suffix: str) -> Path | None:
    """The file of the same stem beside ``path`` (``report.pdf`` → ``report.html``; ``_metrics.csv``)."""
    p = path.with_name(path.stem + suffix)
    return p if p.is_file() else None


def target(path: Path | str) -> Target:
    """The target of one report file, with what lies beside it (its HTML, ``<stem>_metrics.csv``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".pdf", ".html", ".htm"):
        raise UsageError(f"{path}: expected a .pdf or .html report, found {suffix or 'no extension'}")
    if not path.is_file():
        raise UsageError(f"{path}: expected a report file, found {'a folder' if path.exists() else 'nothing'}")
    t = Target(path, metrics=beside(path, "_metrics.csv"))
    if suffix == ".pdf":
        t.pdf = read_pdf(path)
        html = beside(path, ".html") or beside(path, ".htm")
        t.html = read_html(html) if html else None
    else:
        t.html = read_html(path)
    return t


def lint(path: Path | str, rules: Iterable[str] | None = None) -> list[Finding]:
    """Every finding of ``rules`` (default: all) on one report file."""
    codes = list(rules or RULES)
    for code in codes:
        if code not in RULES:
            raise UsageError(f"--rule: expected one of {', '.join(RULES)}, found {code!r}")
    t = target(path)
    return [f for code in codes for f in RULES[code].check(t)]
