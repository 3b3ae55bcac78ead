"""``analysis extract``: figures from Chinese prose into candidate observations, reviewed before they
become data, and scored against hand transcriptions.

- :mod:`~analysis.extract.document`: a .txt/.html/.docx/.pdf document's text.
- :mod:`~analysis.extract.text`: sentences, clauses and pieces.
- :mod:`~analysis.extract.figures`: the rules that read a figure's measure, value, unit,
  qualifier, indicator, year, peer and quote.
- :mod:`~analysis.extract.candidates`: the candidates frame, checked by the project's validation,
  and the files written for review.
- :mod:`~analysis.extract.review`: accept, edit, reject in the terminal or in a notebook; accepted
  rows appended to an observations file.
- :mod:`~analysis.extract.score`: precision and recall against a gold transcription.
"""
from .candidates import COLUMNS, OBSERVATION_COLUMNS, extract, read_candidates, validate, write
from .document import ExtractError, read_document

__all__ = ["COLUMNS", "OBSERVATION_COLUMNS", "ExtractError", "extract", "read_candidates", "read_document",
           "validate", "write"]
