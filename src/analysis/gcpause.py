"""Python's cyclic garbage collector kept out of bounded, allocation-heavy work.

CPython runs a full collection whenever enough container objects have survived since the last one,
and a full collection walks every object the process holds — in a process that has imported pandas,
papermill, nbconvert and WeasyPrint, some 130,000–250,000 of them. Measured on the default report
(2 cores, 2026-11-29): the ``analysis report`` process ran 6 full collections (0.52–0.57 s of CPU,
three of them, 0.32 s, inside the PDF layout, on the report's critical path); a batch worker spent
0.29–0.51 s of its 2–2.9 s of CPU per job collecting; a kernel 0.06 s of its cells' 1 s.

A report does leave garbage in reference cycles — about 150,000 objects in all (WeasyPrint's boxes,
the notebook's nodes), which reference counting cannot free — but it is bounded by one report's and
can wait until the report is done. So:

- :func:`paused` turns automatic collection off for one report (:func:`analysis.run.run_request`)
  and, if it was on, back on afterwards with one collection of the objects made meanwhile (they are
  all still in the youngest generation: without collections nothing is promoted). Measured peak
  memory: a batch worker's 279–281 MB against 273–277 MB before, its kernels' 175 MB against 178 MB;
  a report from a 1 M-row file 1,305 MB against 1,308 MB.
- :func:`settle` is for the end of a process's imports (a batch worker's, a kernel template's):
  what exists then lives as long as the process, and :func:`gc.freeze` takes it out of every later
  collection; a forked kernel inherits that and its collections stop touching (and copying) the
  template's memory.

Nothing here changes what is collected in the end, only when: an analyst's kernel keeps automatic
collection for the notebook's own code.
"""
from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def paused(*, process_ends: bool = False):
    """Automatic garbage collection off for the block (nesting and an already disabled collector are
    left as they were). On the way out, if it was on: the block's cycles collected and collection back
    on — unless ``process_ends`` (the console script after its command): then it stays off, as
    re-enabling it would start a collection at once (measured: 0.24 s, 152,000 objects, after a report)
    of memory the system frees anyway."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled and not process_ends:
            gc.collect(0)   # everything made in the block is in generation 0: nothing was promoted
            gc.enable()


def settle() -> None:
    """The process's imports are done: what exists now is never collected (:func:`gc.freeze`). No
    collection first: the imports' own garbage is small, and a full collection here (≈ 0.05 s) would
    be on the way of the first report."""
    gc.freeze()
