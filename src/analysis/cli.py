"""Command line: ``analysis init | check-data | metrics | report | batch | lint | extract``, ``analysis --version``.

User errors print one clear message and exit 1 (2 for usage); ``--debug`` shows tracebacks.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

from .errors import AnalysisError, UsageError
from .request import FORMATS, LANGS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors → exit 2 without traceback
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


class _Version(argparse.Action):
    """``--version``: looked up only when asked (importlib.metadata scans the installed distributions)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the version and the distribution name, and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from .project import version_line
        print(version_line())
        parser.exit(0)


def _cmd_init(args) -> int:
    from .project import init, summary
    print(summary(args.dir, init(args.dir)))
    return 0


def _cmd_check_data(args) -> int:
    from .catalog import load_catalog
    from .data import default_data_path, load_observations
    paths = [*args.paths, *([args.data] if args.data else [])] or [default_data_path()]
    catalog = load_catalog(args.catalog)
    obs = load_observations(paths, catalog=catalog)
    for name, enc in obs.attrs.get("encodings", {}).items():
        print(f"read {name} ({enc})")
    print(_summary(obs, catalog, paths=[Path(p) for p in paths]))
    return 0


def _summary(obs, catalog, paths: list[Path]) -> str:
    """A one-screen summary of a valid observations frame."""
    from .data import load_sources
    def counts(s, limit=8):
        vc = s.value_counts()
        items = [f"{k} ({v})" for k, v in vc.head(limit).items()]
        if len(vc) > limit:
            items.append(f"… {len(vc) - limit} more")
        return ", ".join(items)
    lines = [f"{len(obs)} observations — valid",
             f"  regions     {counts(obs['region'])}",
             f"  years       {counts(obs['year'].astype(str))}",
             f"  indicators  {obs['indicator'].nunique()} of {len(catalog.indicators)} in the catalog",
             f"  measures    {counts(obs['measure'], 12)}",
             f"  qualifiers  {counts(obs['qualifier'])}"]
    ents = obs.loc[obs["entity"] != "", "entity"]
    if len(ents):
        lines.append(f"  entities    {ents.nunique()} firms, plants or projects ({len(ents)} figures)")
    srcs = load_sources(list(paths or []))
    titles = dict(zip(srcs["id"], srcs["title"]))
    quotes = obs.attrs.get("quotes", {})
    said = {"checked": "quotes checked", "no-text": "quotes not checked (no source text)",
            "not-text": "quotes not checked (the snapshot is not text)", "off": "quotes not checked"}
    for sid, n in obs["source"].value_counts().items():
        title = titles.get(sid, "")
        title = (title[:28] + "…") if len(title) > 28 else title
        lines.append(f"  source      {sid} {title} — {n} figures, {said.get(quotes.get(sid), 'quotes not checked')}")
    regions = obs.attrs.get("regions", {})
    if regions:
        listed = sum(r in regions for r in obs["region"].unique())
        lines.append(f"  hierarchy   {len(regions)} regions in regions.csv and the catalog; "
                     f"{listed} of the data's {obs['region'].nunique()} listed")
    return "\n".join(lines)


def _load(args):
    from .catalog import load_catalog
    from .data import default_data_path, load_observations
    catalog = load_catalog(getattr(args, "catalog", None))
    obs = load_observations([args.data] if args.data else [default_data_path()], catalog=catalog)
    return obs, catalog


def _cmd_metrics(args) -> int:
    from . import metrics as M
    from .data import check_selection
    from .messages import messages
    import pandas as pd
    from .narrative import check_status
    from .table import joined_lists, metrics_display, neutralise_formulas, periods, render_table
    obs, catalog = _load(args)
    regions = obs.attrs.get("regions", {})
    check_selection(obs, args.region, args.year)
    m = M.compute(obs, region=args.region, year=args.year, catalog=catalog)
    msg = messages(args.lang)
    own = obs if not args.region else obs[obs["region"] == args.region]
    rec = M.reconcile(own, m, catalog=catalog, peers=obs)
    m = M.attribute_years(m, rec, catalog)
    shown = metrics_display(m, lang=args.lang, catalog=catalog)
    if args.year:
        rec = rec[rec["year"] == int(args.year)]
    rec = rec.reset_index(drop=True)
    rec.insert(rec.columns.get_loc("status") + 1, "status_text",
               [check_status(r, args.lang, lambda x: catalog.display(x, args.lang, regions)) for r in rec.to_dict("records")])
    if args.format == "csv":  # one table: metrics rows, then checks rows (column ``record`` says which)
        both = pd.concat([joined_lists(shown).assign(record="metric"), joined_lists(rec).assign(record="check")],
                         ignore_index=True)
        neutralise_formulas(both[["record", *[c for c in both.columns if c != "record"]]]).to_csv(sys.stdout, index=False)
    elif args.format == "json":   # lists (inputs, flags) stay arrays
        import json
        doc = {"metrics": json.loads(shown.to_json(orient="records", force_ascii=False)),
               "checks": json.loads(rec.to_json(orient="records", force_ascii=False))}
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=1))
        sys.stdout.write("\n")
    else:
        flat = joined_lists(shown, sep="; ").assign(period=periods(shown["start_year"], shown["end_year"]))
        cols = [f"name_{args.lang}", "entity", "period", "display", "flags"]
        heads = [msg(f"columns.{k}") for k in ("indicator", "entity", "period", "value", "flags")]
        if not args.region:
            cols, heads = ["region", *cols], [msg("meta.region"), *heads]
        print(render_table(flat[cols].astype(str).values.tolist(), heads))
        if len(rec):
            rec = joined_lists(rec, sep=",")
            print()
            print(msg("sections.checks") + msg("colon"))
            print(render_table([[r["region"], msg(f"checks.{r['check']}"), catalog.name(r["indicator"], args.lang),
                                 r["status_text"], f"{r['stated_ids']} ↔ {r['computed_from']}"]
                                for r in rec.to_dict("records")],
                               [msg("meta.region"), *(msg(f"columns.{k}") for k in ("check", "indicator", "status",
                                                                                  "inputs"))]))
    return 0


def _cmd_report(args) -> int:
    from . import paths
    from .request import CLI_LABELS, OWN, build, declared_parameters
    from .run import run_request
    dirs = _notebook_dirs(args)
    if args.help_notebook:
        nb = paths.notebook_path(args.notebook or paths.DEFAULT_NOTEBOOK, dirs)
        if nb is None:
            raise UsageError(f"--notebook: expected one of {', '.join(paths.known_notebooks(dirs))} or a path to an "
                             f".ipynb file, found {args.notebook!r}")
        print(f"parameters of {nb} (set with the options, or -p NAME VALUE for the others):")
        for p in declared_parameters(nb).values():
            how = CLI_LABELS[p.name] if p.name in OWN else f"-p {p.name}"
            print(f"  {p.name:<10} {p.type or '':<5} default {p.default:<10} {how:<12} {p.help}")
        return 0
    for opt in ("region", "year"):
        if getattr(args, opt) is None:
            raise UsageError(f"--{opt}: expected a value, found none (analysis report --region 渝北区 --year 2024)")
    from .gcpause import paused
    from .run import ACTIVE, interruptible, start_kernel
    # no automatic garbage collection while the report is made (analysis.gcpause), nor after it when the
    # process ends then (the console script). SIGTERM, Ctrl-C: kernel stopped, staging removed, exit 130
    with paused(process_ends=_PROCESS_ENDS["after_main"]), interruptible():
        # the kernel starts first and warms up while the request is checked and the data prepared
        nb = paths.notebook_path(args.notebook or paths.DEFAULT_NOTEBOOK, dirs)
        kernel = start_kernel(paths.real(nb)) if nb is not None else None
        try:
            request = build(region=args.region, year=args.year, notebook=args.notebook, lang=args.lang,
                            data=args.data, catalog=args.catalog, formats=args.format, out=args.out,
                            title=args.title, parameters={name: value for name, value in (args.param or [])},
                            notebook_dirs=dirs, from_text=True)
            if kernel is not None and kernel.cwd != str(request.notebook.parent):   # a symlink resolved elsewhere
                kernel.shutdown()
                kernel = None
        except BaseException:
            if kernel is not None:
                kernel.shutdown()
                ACTIVE.clear()
            raise
        res = run_request(request, kernel=kernel)
    for kind, path in sorted(res.outputs.items()):
        print(f"{kind:>11}  {path}")
    print(f"done in {res.seconds:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in res.timings.items()) + ")")
    return 0


def _notebook_dirs(args) -> list[Path]:
    """The folders notebooks may run from besides the project's: ``--notebooks DIR`` (each must
    exist), and for ``report`` the folder of a ``--notebook PATH`` typed on the command line (the
    operator named it; a jobs file's notebook paths get no such pass)."""
    dirs = []
    for d in getattr(args, "notebooks", None) or []:
        if not d.is_dir():
            raise UsageError(f"--notebooks: expected a folder of notebooks, found {str(d)!r}, which is not a folder")
        dirs.append(d)
    nb = getattr(args, "notebook", None)
    if nb and Path(nb).suffix == ".ipynb":
        from .paths import resolve
        dirs.append(resolve(nb).parent)
    return dirs


def _outside_dirs(args) -> list[Path]:
    """``--allow-outside DIR`` (each must be a folder)."""
    for d in args.allow_outside or []:
        if not d.is_dir():
            raise UsageError(f"--allow-outside: expected a folder, found {str(d)!r}, which is not a folder")
    return list(args.allow_outside or [])


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, found {text!r}")
    return value


def _seconds(text: str) -> float:
    import math
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0 and at most 3600, found {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 100, found {text!r}")
    return value


_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def _scheduler_address(text: str) -> str:
    """``tcp://host:8786`` (or ``host:8786``): checked here, so a typo is a usage error at once."""
    import re
    m = re.fullmatch(r"(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>\d{1,5}))?",
                     text.strip())
    if not m or (m["scheme"] and m["scheme"] not in _SCHEMES) or (m["port"] and not 0 < int(m["port"]) < 65536):
        raise argparse.ArgumentTypeError(f"expected a dask scheduler address such as tcp://10.0.0.5:8786, found {text!r}")
    return text.strip()


def _cmd_batch(args) -> int:
    from . import paths
    paths.allow_outside(_outside_dirs(args))   # read by jobs.load_jobs: data and catalogs the jobs may name
    from .batch import run_batch, summary_table
    from .run import trim_imports
    trim_imports()
    res = run_batch(args.jobs, workers=args.workers, out=args.out, force=args.force, scheduler=args.scheduler,
                    scheduler_timeout=args.scheduler_timeout, notebook_dirs=_notebook_dirs(args), retries=args.retries)
    print(summary_table(res))
    if res.interrupted:
        return 130
    return 1 if res.failed else 0


def _cmd_lint(args) -> int:
    from .lint import RULES, lint
    if args.list_rules:
        for rule in RULES.values():
            print(f"{rule.code:<18} {rule.summary}")
        return 0
    if not args.reports:
        raise UsageError("REPORT: expected one or more .pdf or .html reports, found none (analysis lint report.pdf)")
    findings = [f for path in args.reports for f in lint(path, args.rule)]
    for f in findings:
        print(f)
    if findings:
        print(f"{len(findings)} finding{'s' if len(findings) != 1 else ''} in {len({f.file for f in findings})} of "
              f"{len(args.reports)} file{'s' if len(args.reports) != 1 else ''}", file=sys.stderr)
    return 1 if findings else 0


def _cmd_extract(args) -> int:
    from .extract.command import run
    return run(args)


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="analysis", description="Regional industrial-economy statistics: data, metrics, reports.")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    p.add_argument("--version", action=_Version)
    loud = p.add_mutually_exclusive_group()
    loud.add_argument("-v", "--verbose", action="count", default=0, help="log more: debug detail with timestamps")
    loud.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    i = sub.add_parser("init", help="create a new analysis project (data, notebook, jobs) in a new or empty folder")
    i.add_argument("dir", metavar="DIR", help="the project folder to create (new, or empty)")
    i.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    i.set_defaults(func=_cmd_init)

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
    m.add_argument("--lang", choices=LANGS, default=LANGS[0], help="language of the display column")
    m.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    m.set_defaults(func=_cmd_metrics)

    r = sub.add_parser("report", help="run the report notebook and export HTML and PDF")
    r.add_argument("--region", help="region as written in the data (e.g. 渝北区)")
    r.add_argument("--year", help="report year with observed data (e.g. 2024)")
    r.add_argument("--data", help="observation file (default: the project's data/observations.csv)")
    r.add_argument("--catalog", help="indicator catalog (default: the project's data/catalog.yaml)")
    r.add_argument("--lang", choices=LANGS, default=LANGS[0], help="language of the report")
    r.add_argument("--format", default=",".join(FORMATS), help="comma-separated: " + ", ".join(FORMATS) + " (default: all)")
    r.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports/)")
    r.add_argument("--title", help="report title (default: generated from region and year)")
    r.add_argument("--notebook", help="notebook name in the project's notebooks/ or a path to an .ipynb; outputs "
                                      "are named after it (default: industry_report)")
    r.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                   help="another parameter of the notebook (see --help-notebook); those with an option above "
                        "are set with the option")
    r.add_argument("--notebooks", action="append", type=Path, metavar="DIR",
                   help="another folder notebooks may run from, besides the project's notebooks/ (repeatable)")
    r.add_argument("--help-notebook", action="store_true", help="list the notebook's parameters and exit")
    r.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    r.set_defaults(func=_cmd_report)

    b = sub.add_parser("batch", help="run every job of a jobs file (parallel, incremental, with a manifest)")
    b.add_argument("jobs", type=Path, help="jobs file (YAML: defaults, matrix, jobs)")
    b.add_argument("--workers", type=_positive_int, help="parallel jobs (default: one per core)")
    b.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports/)")
    b.add_argument("--force", action="store_true", help="rerun every job, even when up to date")
    b.add_argument("--retries", type=_count, metavar="N",
                   help="run a job whose worker process died again, at most N times (default: 2)")
    b.add_argument("--scheduler", metavar="ADDRESS", type=_scheduler_address,
                   help="run on an existing dask.distributed scheduler (tcp://host:8786)")
    b.add_argument("--scheduler-timeout", metavar="SECONDS", type=_seconds,
                   help="how long to wait for the --scheduler to answer before giving up (default: 10)")
    b.add_argument("--notebooks", action="append", type=Path, metavar="DIR",
                   help="another folder the jobs' notebooks may come from, besides the project's notebooks/ "
                        "(repeatable); a job's notebook anywhere else is refused")
    b.add_argument("--allow-outside", action="append", type=Path, metavar="DIR",
                   help="a folder outside the project whose files the jobs may name as data or catalog (repeatable); "
                        "by default they must lie in the project or the jobs file's folder")
    b.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    b.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    b.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="no line per job (the summary table still goes to stdout)")
    b.set_defaults(func=_cmd_batch)

    li = sub.add_parser("lint", help="check finished reports (.pdf, .html): glyphs, language, repeated sentences, "
                                     "stacked qualifiers, numbers, captions and source lines")
    li.add_argument("reports", nargs="*", type=Path, metavar="REPORT",
                    help="report files; a PDF is checked against the HTML of the same name beside it, and "
                         "both against <name>_metrics.csv")
    li.add_argument("--rule", action="append", metavar="CODE",
                    help="check only this rule (repeatable; see --list-rules)")
    li.add_argument("--list-rules", action="store_true", help="list the rules and exit")
    li.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    li.set_defaults(func=_cmd_lint)

    e = sub.add_parser("extract", help="candidate observations from a Chinese text (.txt, .html, .docx, .pdf), "
                                       "for review before they become data")
    e.add_argument("file", type=Path, metavar="FILE", help="the document (UTF-8 or GBK text, HTML, Word .docx, "
                                                          "or a PDF with a text layer)")
    e.add_argument("--region", help="the region the figures belong to (default: the listed region the text names most)")
    e.add_argument("--year", type=int, help="the year figures refer to when the text does not say")
    e.add_argument("--published", metavar="DATE", help="publication date (2025-01): 今年/去年 are read against it")
    e.add_argument("--source", metavar="ID", help="the document's id in sources.csv (default: the source whose "
                                                  "snapshot is FILE)")
    e.add_argument("--out", type=Path, metavar="CSV", help="write the ready rows here (observation columns, for "
                                                           "check-data) and every row to CSV.review.csv")
    e.add_argument("--review", action="store_true", help="walk the candidates (accept, edit, reject, skip) and "
                                                         "append the accepted rows to --append")
    e.add_argument("--append", type=Path, metavar="CSV", help="observations file accepted rows go to "
                                                              "(default: the project's data/observations.csv)")
    e.add_argument("--score", type=Path, metavar="GOLD", help="print per-field precision and recall against a "
                                                              "gold transcription (observation columns)")
    e.add_argument("--save-text", type=Path, metavar="TXT", help="also write the document's text as read (UTF-8): "
                                                                 "the snapshot to register for an .html/.docx/.pdf")
    e.add_argument("--catalog", type=Path, help="indicator catalog (default: data/catalog.yaml)")
    e.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    e.set_defaults(func=_cmd_extract)
    return p


def command() -> int:
    """The ``analysis`` command (and ``python -m analysis``): :func:`main`, then an exit that skips the
    interpreter's last garbage collection, which walks every object the run made (measured: 0.5–1.5 s
    after a report, on the report's critical path) to free memory the system frees anyway."""
    import gc
    _PROCESS_ENDS["after_main"] = True
    code = main()
    gc.freeze()   # what exists now is never collected: the process is ending
    return code


#: whether the process ends when :func:`main` returns (the console script), or main was called by a program
_PROCESS_ENDS = {"after_main": False}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from . import log
    log.setup(-1 if args.quiet else args.verbose)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None  # as Ctrl-C: exit 130
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
    except OSError as exc:  # the system refused (disk full, permission, a name too long): not a bug
        if args.debug:
            traceback.print_exc()
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
            print("internal error: this is a bug in analysis; please report it with the traceback above",
                  file=sys.stderr)
        else:
            print(f"internal error: {type(exc).__name__}: {exc}\nthis is a bug in analysis; run the command again "
                  "with --debug and report it with the traceback", file=sys.stderr)
        return 3
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
