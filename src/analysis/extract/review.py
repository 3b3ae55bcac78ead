"""Review: a person accepts, edits or rejects each candidate before it becomes data.

:func:`append` is the one way accepted rows enter an observations file — used by the terminal
walk (:func:`walk`, ``analysis extract … --review``) and by ``notebooks/review_extract.ipynb``.
It appends in the file's own column order (Chinese headers too), continues its ids (yb-057 →
yb-058), then loads the file with the project's validation; if the file no longer validates, it
is put back as it was and the problems are raised, so a bad row never stays in the data.
"""
from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Callable, TextIO

import pandas as pd

from ..errors import AnalysisError
from .candidates import OBSERVATION_COLUMNS

#: what the reviewer may type
CHOICES = {"a": "accept", "e": "edit", "r": "reject", "s": "skip", "q": "quit"}


def _next_ids(existing: list[str], n: int) -> list[str]:
    """Ids continuing the file's pattern (yb-057 → yb-058, yb-059); empty when it has none."""
    pats = [re.fullmatch(r"(.*?)(\d+)", i) for i in existing if i]
    if not pats or any(p is None for p in pats):
        return [""] * n
    prefixes = {p.group(1) for p in pats}
    if len(prefixes) != 1:
        return [""] * n
    prefix = prefixes.pop()
    width = max(len(p.group(2)) for p in pats)
    last = max(int(p.group(2)) for p in pats)
    return [f"{prefix}{last + k + 1:0{width}d}" for k in range(n)]


def append(rows: pd.DataFrame, path: str | os.PathLike, *, catalog=None) -> list[str]:
    """Append accepted rows (observation columns) to an observations CSV and validate it.

    Returns:
        The ids given to the rows ("" where the file has no id pattern: check-data names them file:row).

    Raises:
        DataError: the file with the rows does not validate; the file is left as it was.
    """
    from ..data import load_observations
    from ..data.reading import HEADER_ALIASES, _decode
    from ..numbers import normalize_text
    p = Path(path)
    rows = rows.copy()
    for c in OBSERVATION_COLUMNS:
        if c not in rows.columns:
            rows[c] = ""
    rows = rows[OBSERVATION_COLUMNS].fillna("").astype(str)
    if rows.empty:
        return []
    before = p.read_bytes() if p.is_file() else None
    if before:
        text, encoding, problems = _decode(before, str(p))
        if text is None:
            raise AnalysisError(f"{p}: expected an observations CSV in UTF-8 or GBK, found {problems[0].found}")
        header = next(csv.reader(io.StringIO(text)))
        names = [HEADER_ALIASES.get(normalize_text(h).lower().lstrip("\ufeff"), normalize_text(h).lower().lstrip("\ufeff"))
                 for h in header]
        lost = [c for c in OBSERVATION_COLUMNS if c not in names and rows[c].ne("").any()]
        if lost:
            raise AnalysisError(f"{p}: expected the columns {', '.join(lost)} in its header (the accepted rows "
                                f"fill them), found a header without them; add the columns first")
        existing = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        id_col = header[names.index("id")] if "id" in names else None
        ids = _next_ids(list(existing[id_col]) if id_col else [], len(rows))
        rows["id"] = ids
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        for r in rows.to_dict("records"):
            w.writerow([r.get(n, "") for n in names])
        sep = "" if text.endswith("\n") else "\n"
        enc = "gb18030" if encoding in ("GBK", "GB18030") else "utf-8"
        with open(p, "a", encoding=enc, newline="") as f:
            f.write(sep + out.getvalue())
    else:
        ids = [""] * len(rows)
        p.parent.mkdir(parents=True, exist_ok=True)
        rows.to_csv(p, index=False)
    try:
        load_observations([p], catalog=catalog)
    except AnalysisError:
        if before is None:
            p.unlink()
        else:
            p.write_bytes(before)
        raise
    return ids


def _show(row: dict, i: int, n: int, catalog) -> str:
    ind = row["indicator"]
    name = catalog.indicators[ind].zh if catalog is not None and ind in catalog.indicators else "not in the catalog"
    fields = " · ".join(f"{k} {row[k]}" for k in ("region", "entity", "year", "measure", "peer") if row.get(k))
    q = row["qualifier"] if row["qualifier"] not in ("", "exact") else ""
    return (f"\n[{i}/{n}] {row['status']}, confidence {float(row['confidence']):.2f}\n"
            f"  quote      {row['quote']}\n"
            f"  figure     {q}{row['value']} {row['unit']}   indicator {ind} ({name})\n"
            f"  fields     {fields}\n"
            f"  why        {row['why']}")


def walk(frame: pd.DataFrame, *, ask: Callable[[str], str] = input, out: TextIO | None = None,
         catalog=None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Walk the candidates in the terminal: accept, edit (field=value, blank line to finish), reject,
    skip or quit. Returns the accepted rows (edited as typed) and the counts of each decision.
    End of input counts as quit."""
    import sys
    out = out or sys.stdout
    todo = frame[frame["status"] != "skipped"].reset_index(drop=True)
    accepted, counts = [], {v: 0 for v in CHOICES.values()}
    for i, row in enumerate(todo.to_dict("records"), 1):
        print(_show(row, i, len(todo), catalog), file=out)
        while True:
            try:
                answer = ask("accept [a], edit [e], reject [r], skip [s], quit [q]? ").strip().lower()[:1]
            except EOFError:
                answer = "q"
            choice = CHOICES.get(answer)
            if choice is None:
                print("  type a, e, r, s or q", file=out)
                continue
            if choice == "edit":
                row = _edit(row, ask, out)
                print(_show(row, i, len(todo), catalog), file=out)
                continue
            break
        counts[choice] += 1
        if choice == "accept":
            accepted.append(row)
        if choice == "quit":
            break
    return pd.DataFrame(accepted, columns=frame.columns), counts


def _edit(row: dict, ask: Callable[[str], str], out: TextIO) -> dict:
    row = dict(row)
    while True:
        try:
            line = ask(f"  field=value ({', '.join(c for c in OBSERVATION_COLUMNS if c != 'id')}); blank to finish: ")
        except EOFError:
            return row
        if not line.strip():
            return row
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or key not in OBSERVATION_COLUMNS or key == "id":
            print(f"  expected field=value with a field of {', '.join(OBSERVATION_COLUMNS[1:])}, found {line!r}", file=out)
            continue
        row[key] = value.strip()
        row["why"] = (row.get("why") or "") + f"; edited {key}"


def decide(frame: pd.DataFrame, *, accept: list[str] | str = (), edits: dict[str, dict[str, str]] | None = None
           ) -> pd.DataFrame:
    """The notebook's review: the rows whose ``id`` is in ``accept`` (or ``"ready"``: every ready row),
    with ``edits`` applied ({id: {field: value}}), as a new frame; the candidates are not changed.

    Raises:
        AnalysisError: an id that is not a candidate, or a field that is not an observation column.
    """
    known = set(frame["id"])
    ids = list(frame.loc[frame["status"] == "ready", "id"]) if accept == "ready" else list(accept)
    unknown = [i for i in [*ids, *(edits or {})] if i not in known]
    if unknown:
        raise AnalysisError(f"expected ids of the candidates (ex-001 …), found {', '.join(map(repr, unknown))}")
    out = frame[frame["id"].isin(ids)].copy()
    for i, changes in (edits or {}).items():
        bad = [k for k in changes if k not in OBSERVATION_COLUMNS or k == "id"]
        if bad:
            raise AnalysisError(f"edits[{i!r}]: expected fields of {', '.join(OBSERVATION_COLUMNS[1:])}, "
                                f"found {', '.join(map(repr, bad))}")
        for k, v in changes.items():
            out.loc[out["id"] == i, k] = str(v)
    return out.reset_index(drop=True)
