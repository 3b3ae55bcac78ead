"""The metrics engine's internals on panels: interval ranks by their definition, the panel's sort, and
results that do not depend on the order of the observations' rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.data import make_observations
from analysis.metrics import compute
from analysis.metrics.engine import _order
from analysis.metrics.kinds import _interval_ranks


def _above(a: float, b: float) -> bool:
    """a > b in the ranks' order (−0.0 equal to 0.0)."""
    return a > b


def _brute_ranks(group, v, lo, hi):
    n = len(v)
    point, best, worst = (np.empty(n, np.int64) for _ in range(3))
    for i in range(n):
        peers = [j for j in range(n) if group[j] == group[i]]
        point[i] = 1 + sum(_above(v[j], v[i]) for j in peers)
        best[i] = 1 + sum(_above(lo[j], hi[i]) for j in peers)
        worst[i] = 1 + sum(_above(hi[j], lo[i]) for j in peers if j != i)
    return point, best, worst


@pytest.mark.parametrize("seed", range(6))
def test_interval_ranks_by_their_definition(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 160))
    group = pd.factorize(rng.integers(0, int(rng.integers(1, 8)), n))[0]
    # ties, signed zeros and infinities in the values; unbounded bounds (k_rank leaves out missing values)
    v = rng.choice([-2.0, -0.0, 0.0, 1.0, 1.5, 3.0, np.inf, -np.inf], n) if seed % 2 else rng.normal(size=n)
    with np.errstate(invalid="ignore"):   # inf − inf, taken only where v is finite
        lo = np.where(np.isinf(v), v, v - rng.choice([0.0, 0.5, 1.0, np.inf], n))
        hi = np.where(np.isinf(v), v, v + rng.choice([0.0, 0.5, 1.0, np.inf], n))
    got = _interval_ranks(group, v, lo, hi)
    for name, g, want in zip(("point", "best", "worst"), got, _brute_ranks(group, v, lo, hi)):
        assert np.array_equal(g, want), name


@pytest.mark.parametrize("n_minor", [50, 2**58])   # packed into one int64 value sort; too wide to pack
def test_order_is_a_stable_sort_by_two_keys(n_minor):
    rng = np.random.default_rng(1)
    major = rng.integers(0, 16, 500)
    minor = rng.integers(0, 50, 500)
    rows, combined = _order(major, minor, n_minor)
    assert np.array_equal(rows, np.lexsort((minor, major)))
    assert np.array_equal(combined, major[rows] * n_minor + minor[rows])


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for r in range(25):
        for y in range(2018, 2025):
            gdp = rng.uniform(100, 900)
            rows += [(f"R{r:02d}", y, "gdp", "level", gdp * 1e8, "元", rng.choice(["exact", ">", "近"])),
                     (f"R{r:02d}", y, "ind_output_above", "level", gdp * rng.uniform(0.5, 2) * 1e8, "元", "exact"),
                     (f"R{r:02d}", y, "auto_output", "level", gdp * rng.uniform(0, 0.6) * 1e8, "元", "exact"),
                     (f"R{r:02d}", y, "ind_va_above", "level", gdp * rng.uniform(0.2, 0.4) * 1e8, "元", "exact"),
                     (f"R{r:02d}", y, "ind_va_above", "growth", round(rng.normal(6, 4), 1), "%", "exact")]
        rows.append((f"R{r:02d}", 2027, "ind_output", "target", rng.uniform(500, 2000) * 1e8, "元", ">"))
    raw = pd.DataFrame(rows, columns=["region", "year", "indicator", "measure", "value", "unit", "qualifier"])
    raw["half_width"] = np.where(raw["unit"] == "%", 0.05, 0.5e8)
    raw["id"] = [f"x{i}" for i in range(len(raw))]
    return raw


def _comparable(m: pd.DataFrame) -> pd.DataFrame:
    m = m.astype({c: str for c in m.columns if isinstance(m[c].dtype, pd.CategoricalDtype)})
    return m.sort_values(["metric", "region", "entity", "year", "start_year", "end_year"]).reset_index(drop=True)


def test_results_do_not_depend_on_the_order_of_the_rows():
    raw = _panel()
    m = compute(make_observations(raw))
    shuffled = compute(make_observations(raw.sample(frac=1, random_state=3)))
    assert len(m) and set(m["kind"]) >= {"share", "growth", "cagr", "rank", "implied_base", "required_growth"}
    pd.testing.assert_frame_equal(_comparable(m), _comparable(shuffled))
