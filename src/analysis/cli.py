"""Command line: ``analysis check-data | metrics | report | batch``.

User errors print one clear message and exit 1 (2 for usage); ``--debug`` shows tracebacks.
"""
from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from .errors import AnalysisError, UsageError


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


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="analysis", description="Regional industrial-economy statistics: data, metrics, reports.")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    c = sub.add_parser("check-data", help="validate observation files and print a summary")
    c.add_argument("paths", nargs="*", type=Path, help="observation files (.csv in UTF-8/GBK/GB18030, or .xlsx)")
    c.add_argument("--data", type=Path, help="observation file (default: data/observations.csv)")
    c.add_argument("--catalog", type=Path, help="indicator catalog (default: data/catalog.yaml)")
    c.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    c.set_defaults(func=_cmd_check_data)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except AnalysisError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:
        traceback.print_exc()
        print("internal error: this is a bug in analysis; please report it with the traceback above",
              file=sys.stderr)
        return 3
