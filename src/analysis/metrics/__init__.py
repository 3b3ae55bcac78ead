"""Derived metrics: shares, growth, implied bases, intensities, CAGR, targets, pp changes, ranks.

Every metric is declared in the catalog (``metrics:`` in ``data/catalog.yaml``) and computed
column-wise over the whole observations frame (:mod:`.engine`); each kind has one handler
(:mod:`.kinds`); stated figures are checked against their recomputation (:mod:`.reconcile`).
Results are typed columns — years, lists of ids and codes — never text to parse back.

    >>> from analysis.data import load_observations
    >>> m = compute(load_observations(), region="渝北区", year=2024)
"""
from .engine import FLAGS, REASONS, RESULT_COLUMNS, best_observations
from .kinds import check_definitions, compute, target_path
from .reconcile import CHECKS, RECONCILE_COLUMNS, STATUSES, attribute_years, reconcile

__all__ = ["CHECKS", "FLAGS", "REASONS", "RECONCILE_COLUMNS", "RESULT_COLUMNS", "STATUSES", "attribute_years", "best_observations",
           "check_definitions", "compute", "reconcile", "target_path"]
