"""Derived metrics: shares, growth, implied bases, intensities, CAGR, targets, pp changes, ranks.

Every metric is declared in the catalog (``metrics:`` in ``data/catalog.yaml``) and computed
column-wise over the whole observations frame (:mod:`.engine`); each kind has one handler
(:mod:`.kinds`); stated figures are checked against their recomputation (:mod:`.reconcile`).

    >>> from analysis.data import load_observations
    >>> m = compute(load_observations(), region="渝北区", year=2024)
"""
from .engine import RESULT_COLUMNS, best_observations
from .kinds import check_definitions, compute, input_ids, target_path
from .reconcile import RECONCILE_COLUMNS, reconcile

__all__ = ["RESULT_COLUMNS", "RECONCILE_COLUMNS", "best_observations", "check_definitions", "compute",
           "input_ids", "reconcile", "target_path"]
