"""How good the candidates are: precision and recall against a gold transcription.

A candidate *matches* a gold row when they state the same figure — the same (value, unit,
qualifier, measure), the value compared in the base unit (六成 = 60 %, 1.2万元 = 12000元, 9000T =
9000吨) — each gold row matched at most once, rows whose quotes overlap paired first. Then, per
field, a candidate is right when it matches and the field agrees:

- ``figure``: (value, unit, qualifier, measure) — the match itself;
- ``indicator``: the same catalog code, or both outside the catalog (the gold names an indicator
  the catalog lacks, the candidate names none: not guessing is right);
- ``year``; and, reported for information, ``value``, ``unit``, ``qualifier`` and ``measure``
  each alone (matched on the value and the quote only).

precision = right candidates ÷ candidates; recall = right candidates ÷ gold rows. Skipped numbers
are not candidates.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from ..numbers import NumberFormatError, canonical_qualifier, normalize_text, parse_value, unit_info

FIELDS = ("figure", "indicator", "year", "value", "unit", "qualifier", "measure")


@dataclass(frozen=True)
class Score:
    field: str
    right: int
    candidates: int
    gold: int

    @property
    def precision(self) -> float:
        return self.right / self.candidates if self.candidates else math.nan

    @property
    def recall(self) -> float:
        return self.right / self.gold if self.gold else math.nan


def _norm(row) -> tuple:
    """(value in the base unit, base unit, canonical qualifier, measure) of a row."""
    value, unit = str(row["value"]), normalize_text(str(row["unit"]))
    try:
        parsed = parse_value(value)
        number, q = parsed.value, parsed.qualifier
        unit = unit or (parsed.unit or "")
    except NumberFormatError:
        return (value, unit, str(row.get("qualifier", "")), str(row["measure"]))
    info = unit_info(unit)
    base, factor = (info[0], info[1]) if info else (unit, 1.0)
    qual = canonical_qualifier(str(row.get("qualifier", "") or "")) or q or "exact"
    if qual == "exact" and q:
        qual = q
    return (round(number * factor, 6), base, qual, str(row["measure"]))


def _printed(row):
    """The number as printed (the value field alone: 9000 in 9000T and in 9000吨)."""
    try:
        return parse_value(str(row["value"])).value
    except NumberFormatError:
        return str(row["value"])


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", normalize_text(str(s)))


def _overlap(a: str, b: str) -> bool:
    a, b = _squash(a), _squash(b)
    return bool(a and b) and (a in b or b in a)


def _indicator_code(name: str, catalog) -> str:
    return (catalog.resolve(name) if name and catalog is not None else None) or ""


def _pair(cands: pd.DataFrame, gold: pd.DataFrame, key) -> list[tuple[int, int]]:
    """Candidate and gold row positions paired on ``key`` (quote overlap first, then order)."""
    ck = [key(r) for r in cands.to_dict("records")]
    gk = [key(r) for r in gold.to_dict("records")]
    cq, gq = list(cands["quote"]), list(gold["quote"])
    used_c: set[int] = set()
    used_g: set[int] = set()
    pairs = []
    for quote_first in (True, False):
        for gi, g in enumerate(gk):
            if gi in used_g:
                continue
            for ci, c in enumerate(ck):
                if ci in used_c or c != g or (quote_first and not _overlap(cq[ci], gq[gi])):
                    continue
                pairs.append((ci, gi))
                used_c.add(ci)
                used_g.add(gi)
                break
    return pairs


def score(candidates: pd.DataFrame, gold: pd.DataFrame, catalog=None) -> dict[str, Score]:
    """Per-field scores (:data:`FIELDS`) of a candidates frame against a gold frame (both in the
    observation columns; candidates with ``status`` skipped are left out)."""
    if "status" in candidates:
        candidates = candidates[candidates["status"] != "skipped"]
    cands = candidates.reset_index(drop=True)
    gold = gold.reset_index(drop=True)
    out: dict[str, Score] = {}
    pairs = _pair(cands, gold, _norm)
    crow, grow = cands.to_dict("records"), gold.to_dict("records")
    out["figure"] = Score("figure", len(pairs), len(cands), len(gold))

    def agree_indicator(c, g) -> bool:
        gc = _indicator_code(g["indicator"], catalog)
        cc = _indicator_code(c["indicator"], catalog)
        return (gc == cc) if (gc or cc) else True

    def agree_year(c, g) -> bool:
        return str(c["year"]).strip() == str(g["year"]).strip()

    out["indicator"] = Score("indicator", sum(agree_indicator(crow[c], grow[g]) for c, g in pairs), len(cands), len(gold))
    out["year"] = Score("year", sum(agree_year(crow[c], grow[g]) for c, g in pairs), len(cands), len(gold))
    loose = _pair(cands, gold, _printed)
    for i, name in enumerate(("value", "unit", "qualifier", "measure")):
        if name == "value":
            right = len(loose)
        else:
            right = sum(_norm(crow[c])[i] == _norm(grow[g])[i] for c, g in loose)
        out[name] = Score(name, right, len(cands), len(gold))
    return out


def misses(candidates: pd.DataFrame, gold: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gold rows no candidate states (missed) and candidates no gold row states (extra)."""
    if "status" in candidates:
        candidates = candidates[candidates["status"] != "skipped"]
    cands = candidates.reset_index(drop=True)
    gold = gold.reset_index(drop=True)
    pairs = _pair(cands, gold, _norm)
    return gold.drop(index=[g for _, g in pairs]), cands.drop(index=[c for c, _ in pairs])


def table(scores: dict[str, Score]) -> list[list[str]]:
    """Rows for a terminal or markdown table: field, precision, recall, right / candidates / gold."""
    def pct(x: float) -> str:
        return "–" if math.isnan(x) else f"{x:.2f}"
    label = {"figure": "figure (value, unit, qualifier, measure)"}
    return [[label.get(s.field, s.field), pct(s.precision), pct(s.recall), f"{s.right}/{s.candidates}/{s.gold}"]
            for s in scores.values()]


def read_gold(path, source: str | None = None) -> pd.DataFrame:
    """A gold transcription (observation columns; Chinese headers accepted), optionally one source's rows."""
    from ..data.reading import HEADER_ALIASES, read_table
    from ..errors import DataError
    res = read_table(path, what="a gold observations file (.csv)")
    if res.frame is None:
        raise DataError(res.problems)
    frame = res.frame.rename(columns=lambda c: HEADER_ALIASES.get(str(c).strip(), str(c).strip().lower()))
    for c in ("value", "unit", "qualifier", "measure", "indicator", "year", "quote", "source"):
        if c not in frame.columns:
            frame[c] = ""
    frame = frame.fillna("").astype(str)
    if source:
        frame = frame[frame["source"] == source]
    return frame
