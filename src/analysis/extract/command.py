"""``analysis extract FILE``: the command's steps (the parser lives in :mod:`analysis.cli`)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..errors import UsageError


def run(args) -> int:
    from ..catalog import load_catalog
    from .candidates import extract, source_for, validate, write
    started = time.perf_counter()
    catalog = load_catalog(args.catalog)
    out: Path | None = args.out
    if args.year is not None and not 1900 <= args.year <= 2100:
        raise UsageError(f"--year: expected a year such as 2024, found {args.year}")
    source = args.source or ""
    if not source and (out or args.review):
        source = source_for(Path(args.file), out)
        if not source:
            raise UsageError(f"--source: expected the id of {args.file} in sources.csv (the project's data/sources.csv "
                             "or one beside --out), found none; add a row for it (id, title, file, sha256) and pass "
                             "--source ID")
    if args.save_text:
        from .document import read_document
        args.save_text.parent.mkdir(parents=True, exist_ok=True)
        args.save_text.write_text(read_document(args.file).text, encoding="utf-8")
        print(f"  {args.save_text}: the text as read (register it as the snapshot: its quotes are then checked)")
    frame = extract(args.file, region=args.region, year=args.year, published=args.published, source=source,
                    catalog=catalog, out=out)
    target = out or (Path.cwd() / "extract.csv")
    if source:
        _check_source(source, target)
        frame = validate(frame, target, catalog=catalog)
    counts = frame["status"].value_counts()
    ready, review, skipped = (int(counts.get(k, 0)) for k in ("ready", "review", "skipped"))
    seconds = time.perf_counter() - started
    region = frame.attrs.get("region") or "?"
    print(f"{args.file}: {frame.attrs.get('sentences', 0)} sentences, {ready + review} candidate figures for "
          f"{region} ({ready} ready, {review} to review), {skipped} numbers skipped — {seconds:.1f} s")
    if out:
        main, side = write(frame, out)
        print(f"  {main}: the {ready} ready rows (analysis check-data {main})")
        print(f"  {side}: every row with confidence, why and status")
    elif not args.review and not args.score:
        _print_table(frame)
    if args.score:
        _print_score(frame, args.score, source, catalog)
    if args.review:
        return _review(frame, args, catalog)
    return 0


def _check_source(source: str, target: Path) -> None:
    from ..data.reading import read_sources
    known, _ = read_sources([target])
    if source not in set(known["id"]):
        print(f"warning: source {source!r} is not in the sources.csv beside {target} nor in the project's "
              f"data/sources.csv ({', '.join(known['id'])}); check-data will refuse the rows until it is",
              file=sys.stderr)


def _print_table(frame) -> None:
    from ..table import render_table
    shown = frame[frame["status"] != "skipped"]
    rows = [[r["status"], r["year"], r["indicator"], r["measure"],
             (r["qualifier"] if r["qualifier"] not in ("", "exact") else "") + r["value"] + r["unit"],
             r["quote"][:30]] for r in shown.to_dict("records")]
    print(render_table(rows, ["status", "year", "indicator", "measure", "figure", "quote"]))


def _print_score(frame, gold_path: Path, source: str, catalog) -> None:
    from ..table import render_table
    from .score import read_gold, score, table
    gold = read_gold(gold_path)
    if source and (gold["source"] == source).any():
        gold = gold[gold["source"] == source]
    scores = score(frame, gold, catalog)
    print(f"score against {gold_path} ({len(gold)} gold rows" + (f" of {source}" if source else "") + "):")
    print(render_table(table(scores), ["field", "precision", "recall", "right/candidates/gold"]))


def _review(frame, args, catalog) -> int:
    from .. import paths
    from .review import append, walk
    target = args.append or paths.data_path()
    accepted, counts = walk(frame, catalog=catalog)
    words = {"accept": "accepted", "reject": "rejected", "skip": "skipped"}
    summary = ", ".join(f"{counts[k]} {w}" for k, w in words.items() if counts.get(k))
    if accepted.empty:
        print(f"nothing appended to {target} ({summary or 'nothing reviewed'})")
        return 0
    ids = append(accepted, target, catalog=catalog)
    span = (ids[0] if len(ids) == 1 else f"{ids[0]}…{ids[-1]}") if ids and ids[0] else ""
    print(f"appended {len(accepted)} row{'s' if len(accepted) != 1 else ''} to {target}" + (f" ({span})" if span else "")
          + f"; {summary}; the file validates")
    return 0
