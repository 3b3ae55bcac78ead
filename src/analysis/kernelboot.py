"""What every report's kernel imports before the notebook runs: ipykernel, and unless its notebook uses
none of them (:data:`PRELOAD`), pandas, matplotlib (off screen), pyarrow and :mod:`analysis`'s
sections. Not the catalog's schema checker (jsonschema): the catalog comes parsed and checked in the
handover (:data:`analysis.handover.CATALOG`).

Imported once by a batch worker's kernel template (:mod:`analysis.kernelfork`), whose forks are
kernels that start warm; and by a kernel started the usual way as its warm-up (:data:`analysis.kernel.WARM_CODE`),
while the parent prepares the report's frames.
"""
import gc
import os
import sys

# no collection while the imports run (they make objects that live as long as the kernel): settle() below
_COLLECTING = gc.isenabled()
gc.disable()

os.environ.setdefault("MPLBACKEND", "Agg")
# a report's kernel is driven by papermill, which never debugs: without debugpy (≈ 0.2 s of imports per
# kernel) ipykernel starts the kernel without its debugger. Only report kernels import this module.
sys.modules.setdefault("debugpy", None)

#: options of every report's kernel (IPKernelApp's command line): no input history — papermill's cells
#: are in the notebook, and an SQLite write per cell into ~/.ipython, shared by the kernels running at once,
#: is work (and a lock) for nobody
KERNEL_ARGS = ["--HistoryManager.enabled=False"]

from analysis.run import trim_imports  # noqa: E402

trim_imports()   # before jsonschema's first import: skips a grammar build nobody uses

import ipykernel.kernelapp  # noqa: E402,F401

#: whether this kernel imports pandas, matplotlib, pyarrow and analysis ahead: not when its notebook uses
#: none of them (``$ANALYSIS_KERNEL_PRELOAD`` is ``0``, set by :class:`analysis.kernel.WarmKernel` from
#: :func:`analysis.kernel.preloads`): ≈ 1.2 CPU s a kernel nobody would use
PRELOAD = os.environ.get("ANALYSIS_KERNEL_PRELOAD", "1").strip() != "0"

if PRELOAD:
    import pyarrow.parquet  # noqa: F401

    import analysis.sections  # noqa: F401
    import analysis.table  # noqa: F401  (the metrics table's cell; wcwidth)


def _first_use() -> None:
    """What the notebook's first run would otherwise do once per kernel: compile the sections' Jinja
    macros and load pandas' HTML formatting (a DataFrame shown in a cell). Measured as the difference
    between a kernel's first and second run of the default notebook: ≈ 0.1 s of CPU, paid here once by a
    batch worker's template instead of by every kernel it forks."""
    import pandas as pd

    from analysis import report
    report._blocks()
    pd.DataFrame({"a": [1.5], "b": ["x"]})._repr_html_()


if PRELOAD:
    _first_use()

from analysis.gcpause import settle  # noqa: E402

# what the kernel imported lives as long as it: out of its collections (≈ 0.05 s of a report's cells), and
# a kernel forked from the template no longer touches, hence copies, the template's memory when it collects;
# then collection on again, for the notebook's own objects
settle()
if _COLLECTING:
    gc.enable()
