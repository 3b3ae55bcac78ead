"""Reading a document's text: .txt, .html, .docx and the text layer of .pdf.

Libraries do the formats: the project's own encoding detection (:mod:`analysis.data.reading`:
UTF-8 strictly first, then ``charset-normalizer``, any GB-family guess decoded as GB18030) for
plain text and HTML bytes, BeautifulSoup for HTML, python-docx for Word, pypdf for PDF. Every way
a file can be unusable (missing, empty, binary, a scanned PDF without text, a format we do not
read) is an :class:`ExtractError` with a message saying what to do, never a traceback.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import AnalysisError, UsageError

#: suffixes read, by kind
TEXT_SUFFIXES = (".txt", ".text", ".md")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
SUFFIXES = (*TEXT_SUFFIXES, *HTML_SUFFIXES, ".docx", ".pdf")
#: a document larger than this is refused (an article is kilobytes; a yearbook PDF belongs split)
MAX_BYTES = 50_000_000


class ExtractError(AnalysisError):
    """Raised when a document cannot be read for extraction (missing, empty, binary, no text layer)."""


@dataclass(frozen=True)
class Document:
    """The text of a document as a reader sees it, and how it was read."""

    path: Path
    text: str
    kind: str        # txt, html, docx, pdf
    encoding: str    # UTF-8, GB18030, … ("" for docx and pdf)


def read_document(path: str | os.PathLike) -> Document:
    """The text of ``path``.

    Raises:
        UsageError: an unsupported format (exit 2).
        ExtractError: a missing, empty, oversized or binary file, or a PDF without a text layer (exit 1).
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(f"FILE: expected a .txt, .html, .docx or .pdf document, found {p.name!r} "
                         f"({suffix or 'no suffix'}); save it as one of those (a .doc as .docx, a scan through OCR)")
    if not p.is_file():
        raise ExtractError(f"{p}: expected a document, found no such file")
    size = p.stat().st_size
    if size == 0:
        raise ExtractError(f"{p}: expected a document with text, found an empty file")
    if size > MAX_BYTES:
        raise ExtractError(f"{p}: expected a document of at most {MAX_BYTES // 1_000_000} MB, found "
                           f"{size / 1e6:.0f} MB; split it into chapters")
    if suffix == ".pdf":
        text, kind, enc = _pdf(p), "pdf", ""
    elif suffix == ".docx":
        text, kind, enc = _docx(p), "docx", ""
    else:
        raw = p.read_bytes()
        decoded, enc = _decode(raw, p)
        if suffix in HTML_SUFFIXES:
            text, kind = _html(decoded), "html"
        else:
            text, kind = decoded, "txt"
    if not text.strip():
        raise ExtractError(f"{p}: expected text, found a {kind} file without any")
    return Document(p, text, kind, enc)


def _decode(raw: bytes, p: Path) -> tuple[str, str]:
    from ..data.reading import _decode as decode_bytes   # the project's one encoding detection
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractError(f"{p}: expected a text file in UTF-8, GBK or GB18030, found binary content "
                           f"(a {'zip archive or Office file' if raw.startswith(b'PK') else 'binary file'} "
                           "with a text suffix?)")
    text, encoding, problems = decode_bytes(raw, str(p))
    if text is None:
        found = problems[0].found if problems else "bytes of an unknown encoding"
        raise ExtractError(f"{p}: expected text in UTF-8, GBK or GB18030, found {found}; re-save it as UTF-8")
    return text, encoding


def _html(markup: str) -> str:
    """Visible text, one block element a line (scripts, styles and navigation dropped)."""
    from bs4 import BeautifulSoup
    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head"]):
        tag.decompose()
    return soup.get_text("\n")


def _docx(p: Path) -> str:
    try:
        import docx   # python-docx
    except ImportError as exc:   # an optional format: say how to get it
        raise ExtractError(f"{p}: reading .docx needs the python-docx package (pip install 'python-docx>=1.1,<2'), "
                           "which is not installed; or save the document as .txt") from exc
    from zipfile import BadZipFile
    try:
        d = docx.Document(str(p))
    except (BadZipFile, KeyError, ValueError) as exc:   # not a Word file inside
        raise ExtractError(f"{p}: expected a Word .docx document, found a file that cannot be opened as one "
                           f"({type(exc).__name__}); a .doc must be saved as .docx first") from exc
    lines = [para.text for para in d.paragraphs]
    for table in d.tables:   # tables of a 统计公报: one row a line, cells separated by spaces
        for row in table.rows:
            lines.append(" ".join(c.text for c in row.cells))
    return "\n".join(lines)


def _pdf(p: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError
    try:
        reader = PdfReader(str(p))
        if reader.is_encrypted:
            raise ExtractError(f"{p}: expected a PDF whose text can be read, found an encrypted PDF; "
                               "save an unprotected copy")
        pages = [page.extract_text() or "" for page in reader.pages]
    except PdfReadError as exc:
        raise ExtractError(f"{p}: expected a PDF, found a file pypdf cannot read ({exc})") from exc
    text = "\n".join(pages)
    if not text.strip():
        raise ExtractError(f"{p}: expected a PDF with a text layer, found {len(pages)} page(s) without text "
                           "(a scan?); run OCR first (for example ocrmypdf -l chi_sim) and extract from its output")
    return text
