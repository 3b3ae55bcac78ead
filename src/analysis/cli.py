"""Command line: ``analysis check-data | metrics | report | batch``.

User errors print one clear message and exit 1 (2 for usage); ``--debug`` shows tracebacks.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from .errors import AnalysisError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors → exit 2 without traceback
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _cmd_check_data(args) -> int:
    from .catalog import load_catalog
    from .data import default_data_path, load_observations, summarize
    paths = [*args.paths, *([args.data] if args.data else [])] or [default_data_path()]
    catalog = load_catalog(args.catalog)
    obs = load_observations(paths, catalog=catalog)
    for name, enc in obs.attrs.get("encodings", {}).items():
        print(f"read {name} ({enc})")
    print(summarize(obs, catalog, paths=[Path(p) for p in paths]))
    return 0


def _load(args):
    from .catalog import load_catalog
    from .data import default_data_path, load_observations
    catalog = load_catalog(getattr(args, "catalog", None))
    obs = load_observations([args.data] if args.data else [default_data_path()], catalog=catalog)
    return obs, catalog


def _cmd_metrics(args) -> int:
    from . import metrics as M
    from .data import check_selection
    from .table import metrics_display, render_table
    obs, catalog = _load(args)
    check_selection(obs, args.region, args.year)
    m = M.compute(obs, region=args.region, year=args.year, catalog=catalog)
    shown = metrics_display(m, lang=args.lang)
    if args.format == "csv":
        shown.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        sys.stdout.write(shown.to_json(orient="records", force_ascii=False, indent=1))
        sys.stdout.write("\n")
    else:
        cols = ["name_zh" if args.lang == "zh" else "name_en", "entity", "refers_to", "display", "flags"]
        heads = ["指标", "主体", "时期", "数值", "标记"] if args.lang == "zh" else ["metric", "entity", "period", "value", "flags"]
        if not args.region:
            cols, heads = ["region", *cols], ["地区" if args.lang == "zh" else "region", *heads]
        print(render_table(shown[cols].astype(str).values.tolist(), heads))
        rec = M.reconcile(obs, catalog=catalog)
        if args.region:
            rec = rec[rec["region"] == args.region]
        if args.year:
            rec = rec[rec["year"] == int(args.year)]
        if len(rec):
            print()
            print("数据核对 / reconciliation:" )
            print(render_table([[r.region, r.check, r.name_zh, r.status, r.note] for r in rec.itertuples()],
                               ["地区", "核对", "指标", "结论", "说明"]))
    return 0


def _cmd_report(args) -> int:
    from .run import run_report
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    extra = {name: value for name, value in (args.param or [])}
    res = run_report(args.region, args.year, data=args.data, lang=args.lang, formats=formats, out=args.out,
                     notebook=args.notebook, catalog=args.catalog, parameters=extra)
    for kind, path in sorted(res.outputs.items()):
        print(f"{kind:>5}  {path}")
    print(f"done in {res.seconds:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in res.timings.items()) + ")")
    return 0


def _cmd_batch(args) -> int:
    from .batch import run_batch, summary_table
    from .run import trim_imports
    trim_imports()
    res = run_batch(args.jobs, workers=args.workers, out=args.out, force=args.force, scheduler=args.scheduler)
    print(summary_table(res))
    if res.interrupted:
        return 130
    return 1 if res.failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="analysis", description="Regional industrial-economy statistics: data, metrics, reports.")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    loud = p.add_mutually_exclusive_group()
    loud.add_argument("-v", "--verbose", action="count", default=0, help="log more: debug detail with timestamps")
    loud.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    c = sub.add_parser("check-data", help="validate observation files and print a summary")
    c.add_argument("paths", nargs="*", type=Path, help="observation files (.csv in UTF-8/GBK/GB18030, or .xlsx)")
    c.add_argument("--data", type=Path, help="observation file (default: data/observations.csv)")
    c.add_argument("--catalog", type=Path, help="indicator catalog (default: data/catalog.yaml)")
    c.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    c.set_defaults(func=_cmd_check_data)

    m = sub.add_parser("metrics", help="compute the derived metrics of a region and year")
    m.add_argument("--region", help="region as written in the data (e.g. 渝北区); default: all")
    m.add_argument("--year", type=int, help="year (e.g. 2024); default: all")
    m.add_argument("--data", type=Path, help="observation file (default: data/observations.csv)")
    m.add_argument("--catalog", type=Path, help="indicator catalog (default: data/catalog.yaml)")
    m.add_argument("--format", choices=["table", "csv", "json"], default="table")
    m.add_argument("--lang", choices=["zh", "en"], default="zh", help="language of the display column")
    m.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    m.set_defaults(func=_cmd_metrics)

    r = sub.add_parser("report", help="run the report notebook and export HTML and PDF")
    r.add_argument("--region", required=True, help="region as written in the data (e.g. 渝北区)")
    r.add_argument("--year", required=True, type=int, help="report year (e.g. 2024)")
    r.add_argument("--data", type=Path, help="observation file (default: data/observations.csv)")
    r.add_argument("--catalog", type=Path, help="indicator catalog (default: data/catalog.yaml)")
    r.add_argument("--lang", choices=["zh", "en"], default="zh")
    r.add_argument("--format", default="html,pdf", help="comma-separated: html, pdf (default: both)")
    r.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports/)")
    r.add_argument("--notebook", default="industry_report",
                   help="notebook name in notebooks/ or a path to an .ipynb (default: industry_report)")
    r.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="another notebook parameter (e.g. -p title 'My title'); names must be declared in its parameters cell")
    r.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    r.set_defaults(func=_cmd_report)

    b = sub.add_parser("batch", help="run every job of a jobs file (parallel, incremental, with a manifest)")
    b.add_argument("jobs", type=Path, help="jobs file (YAML: defaults, matrix, jobs)")
    b.add_argument("--workers", type=int, help="parallel jobs (default: one per core)")
    b.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports/)")
    b.add_argument("--force", action="store_true", help="rerun every job, even when up to date")
    b.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing dask.distributed scheduler (tcp://host:8786)")
    b.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    b.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    b.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="no line per job (the summary table still goes to stdout)")
    b.set_defaults(func=_cmd_batch)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from . import log
    log.setup(-1 if args.quiet else args.verbose)
    try:
        return args.func(args)
    except AnalysisError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into head & co.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print("internal error: this is a bug in analysis; please report it with the traceback above",
              file=sys.stderr)
        return 3
