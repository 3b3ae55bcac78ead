"""The package's logger, ``logging.getLogger("analysis")``, and its one configuration for the CLI.

Modules log through ``logging.getLogger(__name__)`` (``analysis.batch`` …), children of
``analysis``; only :func:`setup` adds a handler, so a library user's own logging is left alone.
What a command produces (a summary table, metrics) goes to stdout with ``print``; what happens on
the way (one line per batch job, debug detail) goes to stderr through the logger.
"""
from __future__ import annotations

import logging
import sys

NAME = "analysis"
PLAIN = "%(message)s"
DETAILED = "%(asctime)s %(name)s %(levelname)s %(message)s"


def setup(verbosity: int = 0) -> logging.Logger:
    """Configure the ``analysis`` logger: one handler on stderr.

    Args:
        verbosity: ``-1`` (``-q``): warnings and errors only; ``0``: INFO, the message alone;
            ``1`` or more (``-v``): DEBUG, with timestamps and logger names.

    Returns:
        The ``analysis`` logger. Calling again replaces the handler (tests call ``main`` repeatedly).
    """
    logger = logging.getLogger(NAME)
    for h in [h for h in logger.handlers if getattr(h, "_analysis_setup", False)]:
        logger.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler._analysis_setup = True  # marks the handler this function owns
    handler.setFormatter(logging.Formatter(DETAILED if verbosity > 0 else PLAIN, datefmt="%Y-%m-%dT%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO)
    logger.propagate = False  # the handler above prints it; the root logger's would print it twice
    return logger


def trace(event: str) -> None:
    """Record a load, parse or computation when ``$ANALYSIS_TRACE`` names a file (tests check which process
    did the work: the parent, not the kernel)."""
    import os
    target = os.environ.get("ANALYSIS_TRACE")
    if target:
        with open(target, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {event}\n")
