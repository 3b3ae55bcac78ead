"""Exceptions of the analysis package.

Every error a user can cause derives from :class:`AnalysisError`. The CLI prints
``str(error)`` and exits with ``error.exit_code``; only ``--debug`` shows a traceback.
"""
from __future__ import annotations

from dataclasses import dataclass


class AnalysisError(Exception):
    """Root of the package's errors: a problem the user can fix."""

    exit_code = 1


class UsageError(AnalysisError):
    """Raised when a command is called with bad arguments or parameters."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file, located to its row and column.

    ``row`` is the spreadsheet row (the header is row 1), or None for file-level problems.
    """

    file: str
    row: int | None
    column: str | None
    expected: str
    found: str
    hint: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f":{self.row}"
        if self.column:
            where += f":{self.column}"
        text = f"{where}: expected {self.expected}, found {self.found}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class DataError(AnalysisError):
    """Raised when input data is invalid; carries every problem found, not only the first.

    The message lists the first :data:`~analysis.limits.MAX_PROBLEMS_SHOWN` and counts the rest by
    column (a file of garbage has one problem per cell).
    """

    def __init__(self, problems: list[Problem]):
        from collections import Counter

        from .limits import MAX_PROBLEMS_SHOWN
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the input data:"
        lines = [head, *(f"  {p}" for p in self.problems[:MAX_PROBLEMS_SHOWN])]
        if n > MAX_PROBLEMS_SHOWN:
            rest = Counter(p.column or "the file" for p in self.problems[MAX_PROBLEMS_SHOWN:])
            lines.append(f"  … and {n - MAX_PROBLEMS_SHOWN} more (" +
                         ", ".join(f"{column}: {count}" for column, count in rest.most_common(6)) +
                         (", …" if len(rest) > 6 else "") + ")")
        super().__init__("\n".join(lines))


class CatalogError(AnalysisError):
    """Raised when the indicator/metric catalog is malformed."""


class ReportError(AnalysisError):
    """Raised when a report notebook fails or cannot be exported."""

    def __init__(self, message: str, *, cell: int | None = None, ename: str = "",
                 evalue: str = "", failed_notebook: str | None = None):
        self.cell = cell
        self.ename = ename
        self.evalue = evalue
        self.failed_notebook = failed_notebook
        super().__init__(message)
