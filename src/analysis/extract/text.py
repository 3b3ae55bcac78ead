"""Text into sentences, clauses and pieces, the way the figures of Chinese prose are quoted.

A *sentence* ends at 。！？；(and their ASCII forms); a *clause* at ，：(and , :, except inside
numbers such as 4,000 and 0.1:17.3:82.6); a *piece* at 、. Lines broken by a page layout in
mid-sentence (a line with a comma that ends without punctuation) are joined; a heading (一、…,
a short line without a comma) or a caption stays alone. Whitespace is dropped — ``check-data``
compares quotes with whitespace ignored — except that a space between two Chinese characters
(a title's two halves) ends a clause.

Hand-written: no segmenter knows where a statistical clause ends, and word segmentation (jieba)
is not needed to find numbers, their units and the catalog's names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# full-width ASCII → ASCII, one character for one, so positions stay those of the original
_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


def ascii_width(text: str) -> str:
    """Full-width digits, letters and signs as ASCII (the same length: positions are kept)."""
    return text.translate(_FULLWIDTH)


_END = "。！？；!?;"
_HEADING = re.compile(r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d+[.、．]|第[一二三四五六七八九十\d]+[章节部分])")
_CJK = r"\u4e00-\u9fff"


@dataclass
class Sentence:
    """A sentence of the document: its text without whitespace and where its clauses and pieces lie."""

    text: str                      # verbatim, whitespace removed
    index: int                     # order in the document
    paragraph: int
    heading: bool = False
    clauses: list[tuple[int, int]] = field(default_factory=list)   # (start, end) in text
    pieces: list[tuple[int, int]] = field(default_factory=list)

    def clause_of(self, pos: int) -> tuple[int, int]:
        return next((c for c in self.clauses if c[0] <= pos < c[1]), (0, len(self.text)))

    def piece_of(self, pos: int) -> tuple[int, int]:
        return next((c for c in self.pieces if c[0] <= pos < c[1]), self.clause_of(pos))


def _lines(text: str) -> list[tuple[str, int]]:
    """Logical lines with their paragraph number: layout breaks inside a sentence joined."""
    raw = [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[tuple[str, int]] = []
    para = 0
    pending = ""
    for ln in raw:
        if not ln:
            if not pending:
                para += 1
            continue
        if pending:
            ln = pending + ln
            pending = ""
        ends = ln[-1] in _END + "”’\"')）】》…"
        broken = not ends and not _HEADING.match(ln) and re.search("[，,、]", ln) and len(ln) >= 12
        if broken:
            pending = ln
            continue
        out.append((ln, para))
        para += 1
    if pending:
        out.append((pending, para))
    return out


def _drop_spaces(line: str) -> str:
    out = []
    for i, ch in enumerate(line):
        if ch in " \t\u3000\xa0":
            prev = line[i - 1] if i else ""
            nxt = line[i + 1] if i + 1 < len(line) else ""
            both_cjk = re.match(f"[{_CJK}]", prev or "a") and re.match(f"[{_CJK}]", nxt or "a")
            both_digits = prev.isdigit() and nxt.isdigit()      # 图1 2024年…: two numbers, not one
            if (both_cjk or both_digits) and (not out or out[-1] != " "):
                out.append(" ")
            continue
        out.append(ch)
    return "".join(out)


_CLAUSE_SPLIT = re.compile(r"[，：]|(?<!\d),|,(?!\d{3}(?!\d))|(?<!\d):|:(?!\d)| ")
_PIECE_SPLIT = re.compile(r"、")


def _spans(text: str, splitter: re.Pattern, within: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    spans = []
    for s, e in within or [(0, len(text))]:
        start = s
        for m in splitter.finditer(text, s, e):
            if m.start() > start:
                spans.append((start, m.start()))
            start = m.end()
        if e > start:
            spans.append((start, e))
    return spans


def sentences(text: str) -> list[Sentence]:
    """The sentences of a document (headings and captions are sentences of their own)."""
    out: list[Sentence] = []
    for line, para in _lines(text):
        line = _drop_spaces(line)
        start = 0
        for m in re.finditer(f"[{re.escape(_END)}]", line):
            _add(out, line[start:m.start()], para)
            start = m.end()
        _add(out, line[start:], para)
    return out


def _add(out: list[Sentence], text: str, para: int) -> None:
    text = text.strip(" ")
    if not text:
        return
    s = Sentence(text=text, index=len(out), paragraph=para, heading=bool(_HEADING.match(text)))
    ascii_text = ascii_width(text)
    s.clauses = _spans(ascii_text, _CLAUSE_SPLIT)
    s.pieces = _spans(ascii_text, _PIECE_SPLIT, s.clauses)
    out.append(s)
