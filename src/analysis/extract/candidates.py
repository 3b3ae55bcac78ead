"""From a document to candidate observations, and the files a reviewer works from.

``extract(path, …)`` returns one frame: a row per figure found (:data:`COLUMNS`: the
observation columns, then ``confidence``, ``why`` and ``status``). ``status`` says what became
of it: ``ready`` (it passes the project's own validation: ``analysis check-data`` accepts it),
``review`` (the catalog has no such indicator, the unit is one the project does not know, or
the validation found a problem — named in ``why``) or ``skipped`` (a number that is not a figure
to transcribe: a size class, an absolute change, a contribution; the reason in ``why``).

:func:`write` writes ``OUT`` (the ``ready`` rows, observation columns only: ``check-data``
refuses unknown columns) and ``OUT.review.csv`` beside it (every row with confidence, why and
status). Nothing goes into the project's data here: that is :mod:`analysis.extract.review`.
"""
from __future__ import annotations

import csv
import hashlib
import os
import re
import tempfile
from pathlib import Path

import pandas as pd

from ..data.reading import COLUMNS as OBS_COLUMNS
from ..errors import DataError, UsageError
from .document import read_document
from .figures import Candidate, Extractor
from .text import sentences

#: the observation columns in the order of data/observations.csv
OBSERVATION_COLUMNS = ["id", "region", "entity", "year", "base_year", "indicator", "measure", "value", "unit",
                       "qualifier", "peer", "source", "quote", "note"]
REVIEW_COLUMNS = ["confidence", "why", "status"]
COLUMNS = [*OBSERVATION_COLUMNS, *REVIEW_COLUMNS]
assert set(OBSERVATION_COLUMNS) == set(OBS_COLUMNS)


def published_year(text: str | None) -> int | None:
    """``2025-01``, ``2025-01-21``, ``2025`` or ``2025年1月`` → 2025.

    Raises:
        UsageError: anything else.
    """
    if not text:
        return None
    m = re.fullmatch(r"\s*((?:19|20)\d\d)(?:[-./年]\s*(\d{1,2})(?:[-./月]\s*(\d{1,2})日?)?月?)?\s*", text)
    if not m or (m.group(2) and not 1 <= int(m.group(2)) <= 12):
        raise UsageError(f"--published: expected a date such as 2025-01 or 2025-01-21, found {text!r}")
    return int(m.group(1))


def _city_peer(region: str, catalog, paths: list[Path]) -> tuple[str, dict]:
    """The peer set 全市 names for ``region`` (its parent's set in the catalog) and the catalog's sets."""
    from ..data.regions import Hierarchy, read_regions
    regions, _ = read_regions(paths, catalog)
    h = Hierarchy(regions, catalog)
    parent = h.parent(h.canonical(region) or region) if region else None
    sets = dict(catalog.peer_sets or {})
    for name, entry in sets.items():
        if parent and entry.get("parent") == parent:
            return name, sets
    return (f"{parent}区县" if parent else ""), sets


def guess_region(text: str, catalog, paths: list[Path]) -> str:
    """The region a document is about when --region is not given: the listed region it names most."""
    from ..data.regions import Hierarchy, read_regions
    regions, _ = read_regions(paths, catalog)
    h = Hierarchy(regions, catalog)
    counts: dict[str, int] = {}
    for name in regions:
        for alias in (name, *h.aliases(name)):
            if len(alias) >= 2 and alias in text and h.parent(name):
                counts[name] = counts.get(name, 0) + text.count(alias)
    if counts:
        return max(counts, key=counts.get)
    # a region outside the list, named at the head of the text (庐阳区2024年国民经济和社会发展统计公报)
    head = text.strip().split("\n", 1)[0][:60]
    m = re.match(r"\s*(?!全|本|该|我)([\u4e00-\u9fff]{1,6}?(?:自治县|区|县|市|旗))", head)
    return m.group(1) if m else ""


def source_for(path: Path, out: Path | None) -> str:
    """The id of the source whose snapshot is ``path`` (same file or same sha256) in the sources.csv
    beside ``out`` or the project's; "" when none is."""
    from ..data.reading import read_sources
    frame, _ = read_sources([out or Path.cwd() / "x.csv"])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    for _, row in frame.iterrows():
        if row["path"] and (Path(row["path"]).resolve() == path.resolve() or row["sha256"] == digest):
            return str(row["id"])
    return ""


def extract(path: str | os.PathLike, *, region: str | None = None, year: int | None = None,
            published: str | None = None, source: str = "", catalog=None, out: Path | None = None) -> pd.DataFrame:
    """Candidate observations of the figures a document states.

    Args:
        path: a .txt, .html, .docx or .pdf document.
        region: the region the figures belong to (default: the listed region the text names most).
        year: the year figures refer to when the text does not say.
        published: the publication date (2025-01): 今年/去年 are read against it; without a year in
            the text, figures are taken to be of the year before publication.
        source: the source id the rows cite (``sources.csv``).
        catalog: the indicator catalog (default: the project's).
        out: where the rows will be written (its folder's sources.csv and regions.csv are read).

    Returns:
        A frame of :data:`COLUMNS` (all strings but ``confidence``), one row per figure found,
        in the order of the text.

    Raises:
        ExtractError, UsageError: the document cannot be read, or an argument is wrong.
    """
    from ..catalog import load_catalog
    catalog = catalog or load_catalog()
    doc = read_document(path)
    paths = [out] if out else []
    region = region or guess_region(doc.text, catalog, paths)
    if not region:
        raise UsageError(f"--region: expected the region the figures of {doc.path.name} belong to, found none in "
                         "the text; pass --region (e.g. --region 渝北区)")
    peer, sets = _city_peer(region, catalog, paths)
    ex = Extractor(catalog, region=region, year=year, published_year=published_year(published),
                   peer_of_city=peer, peer_sets=sets)
    sents = sentences(doc.text)
    cands = ex.run(sents)
    frame = to_frame(cands, region=region, source=source)
    frame.attrs.update(document=str(doc.path), kind=doc.kind, encoding=doc.encoding, sentences=len(sents),
                       region=region)
    return frame


def to_frame(cands: list[Candidate], *, region: str, source: str) -> pd.DataFrame:
    """Candidates as rows: figures stated twice (a title repeating the text) kept once."""
    rows, seen = [], {}
    for c in cands:
        code = c.indicator or c.phrase
        key = (c.entity, c.year, code, c.measure, c.value, c.unit, c.qualifier, c.peer)
        if not c.skipped and key in seen:
            first = rows[seen[key]]
            first["why"] += f"; stated again: {c.quote!r}"
            continue
        status = "skipped" if c.skipped else ("ready" if c.indicator and not c.hold else "review")
        rows.append({
            "id": "", "region": region, "entity": c.entity, "year": str(c.year or ""),
            "base_year": str(c.base_year or (c.year - 1 if c.year and c.measure in ("growth", "pp_change") else "")),
            "indicator": c.indicator or c.phrase, "measure": c.measure, "value": c.value, "unit": c.unit,
            "qualifier": c.qualifier if not c.skipped else "", "peer": c.peer, "source": source, "quote": c.quote,
            "note": c.note, "confidence": c.confidence if not c.skipped else 0.0,
            "why": "; ".join(c.why) if not c.skipped else f"skipped: {c.skipped}", "status": status})
        if not c.skipped:
            seen[key] = len(rows) - 1
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["id"] = [f"ex-{i + 1:03d}" for i in range(len(frame))]
    frame["confidence"] = frame["confidence"].astype(float)
    return frame


def validate(frame: pd.DataFrame, out: Path, catalog=None) -> pd.DataFrame:
    """Rows the project's own validation refuses move from ``ready`` to ``review``, the problem in ``why``.

    The ready rows are written to a temporary file beside ``out`` (so that the sources.csv and
    regions.csv found there apply, as they will to ``out``) and loaded with
    :func:`analysis.data.load_observations` — the rules of check-data, not a copy of them.
    """
    from ..data import load_observations
    frame = frame.copy()
    for _ in range(5):   # a row removed can end a conflict of two: check again
        ready = frame[frame["status"] == "ready"]
        if ready.empty:
            break
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".csv", prefix=".extract-", dir=out.parent)
        os.close(fd)
        try:
            ready[OBSERVATION_COLUMNS].to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL)
            try:
                load_observations([tmp], catalog=catalog)
                break
            except DataError as exc:
                bad: dict[int, list[str]] = {}
                for p in exc.problems:
                    if p.row is not None and p.file.endswith(Path(tmp).name) and p.row >= 2:
                        bad.setdefault(p.row, []).append(f"{p.column}: expected {p.expected}, found {p.found}")
                if not bad:
                    raise
                index = ready.index.to_list()
                for row, msgs in bad.items():
                    i = index[row - 2]
                    frame.at[i, "status"] = "review"
                    frame.at[i, "why"] += "; check-data would refuse it: " + " | ".join(msgs)
        finally:
            os.unlink(tmp)
    return frame


def write(frame: pd.DataFrame, out: Path) -> tuple[Path, Path]:
    """``out`` (the ready rows, observation columns) and ``out.review.csv`` (every row with why)."""
    review = review_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame[frame["status"] == "ready"][OBSERVATION_COLUMNS].to_csv(out, index=False)
    frame.to_csv(review, index=False)
    return out, review


def review_path(out: Path) -> Path:
    return out.with_name(out.stem + ".review.csv")


def read_candidates(path: str | os.PathLike) -> pd.DataFrame:
    """A candidates file back as a frame: ``OUT.review.csv`` (or ``OUT``, whose review file is read
    when it is there), every column as text but ``confidence``."""
    p = Path(path)
    if not p.name.endswith(".review.csv") and review_path(p).is_file():
        p = review_path(p)
    frame = pd.read_csv(p, dtype=str, keep_default_na=False)
    for c in COLUMNS:
        if c not in frame.columns:
            frame[c] = "ready" if c == "status" else ""
    frame["confidence"] = pd.to_numeric(frame["confidence"], errors="coerce").fillna(0.0)
    return frame[COLUMNS]
