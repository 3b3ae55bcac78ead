"""Peers and parents: ranks among the regions sharing a parent (never the parent), of levels, growth
and shares, with consistent interval bounds and coverage; stated ranks checked against the data."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from analysis.catalog import load_catalog
from analysis.data import load_observations
from analysis.metrics import attribute_years, compute, reconcile

HEADER = "id,region,entity,year,base_year,indicator,measure,value,unit,qualifier,peer,source,quote,note\n"
REGIONS = """region,parent,level,en
示例市,,市,Example City
甲区,示例市,区,Jia District
乙区,示例市,区,Yi District
丙区,示例市,区,Bing District
丁区,示例市,区,Ding District
戊县,示例市,县,Wu County
己县,示例市,县,Ji County
"""
SOURCES = "id,title,publisher,date,file,sha256,note\nEX1,合成示例数据,,2026,,,synthetic\n"

#: 2024 levels (亿元, qualifier) and comparable-price growth (%, qualifier) of the six districts
LEVELS = {"甲区": (4000, ">"), "乙区": (2700, ">"), "丙区": (3500, "exact"), "丁区": (900, "exact"),
          "戊县": (800, "exact"), "己县": (600, "近")}
GROWTH = {"甲区": (20, ">"), "乙区": (12, "exact"), "丙区": (9.5, "exact"), "丁区": (3, "exact"),
          "戊县": (15, "exact"), "己县": (6, "近")}


def _write(folder, rows, regions=REGIONS):
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"p-{i:03d},{r},,{y},,{ind},{m},{v},{u},{q},{peer},EX1,示例数据（合成）,synthetic"
             for i, (r, y, ind, m, v, u, q, peer) in enumerate(rows, 1)]
    (folder / "obs.csv").write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    (folder / "regions.csv").write_text(regions, encoding="utf-8")
    (folder / "sources.csv").write_text(SOURCES, encoding="utf-8")
    return folder / "obs.csv"


def _rows(*, skip=(), stated=()):
    rows = [("示例市", 2024, "ind_output_above", "level", 30000, "亿元", "exact", ""),
            ("示例市", 2024, "ind_va_above", "growth", 7.5, "%", "exact", "")]
    rows += [(r, 2024, "ind_output_above", "level", v, "亿元", q, "") for r, (v, q) in LEVELS.items() if r not in skip]
    rows += [(r, 2024, "ind_va_above", "growth", v, "%", q, "") for r, (v, q) in GROWTH.items() if r not in skip]
    rows += list(stated)
    return rows


@pytest.fixture()
def panel(tmp_path):
    return load_observations([_write(tmp_path / "full", _rows())])


def _brute(values: dict[str, tuple[float, float, float]]):
    """Ranks by the definition, one pair at a time: point, best (certainly above) and worst (possibly above)."""
    out = {}
    for r, (v, lo, hi) in values.items():
        others = [x for k, x in values.items() if k != r]
        out[r] = (1 + sum(o[0] > v for o in others), 1 + sum(o[1] > hi for o in others),
                  1 + sum(o[2] > lo for o in others))
    return out


def test_parent_never_ranked_with_its_members(panel):
    m = compute(panel, year=2024)
    ranks = m[m["metric"] == "rank:ind_output_above"].set_index("region")
    assert "示例市" not in set(ranks.index)                  # the city is their parent, never a peer
    assert ranks.loc["丙区", "value"] == 2                    # second among districts, not third behind the city
    assert set(ranks["peer"]) == {"示例市"}
    assert (ranks["peer_n"] == 6).all() and (ranks["peer_covered"] == 6).all()


def test_growth_rates_are_ranked(panel):
    m = compute(panel, year=2024)
    g = m[m["metric"] == "growth_rank:ind_va_above"].set_index("region")
    assert g.loc["甲区", "value"] == 1 and g.loc["戊县", "value"] == 2 and g.loc["丁区", "value"] == 6
    assert g.loc["甲区", "kind"] == "rank" and g.loc["甲区", "unit"] == "位"


def test_interval_ranks_are_consistent(panel):
    m = compute(panel, year=2024)
    for metric, measure in (("rank:ind_output_above", "level"), ("growth_rank:ind_va_above", "growth")):
        ranks = m[m["metric"] == metric].set_index("region")
        obs = panel[(panel["measure"] == measure) & (panel["region"] != "示例市")]
        brute = _brute({r["region"]: (r["value"], r["lower"], r["upper"]) for _, r in obs.iterrows()})
        for region, (v, best, worst) in brute.items():
            assert tuple(ranks.loc[region, ["value", "lower", "upper"]]) == (v, best, worst), (metric, region)
    levels = m[m["metric"] == "rank:ind_output_above"].set_index("region")
    # >4000 and >2700 are both unbounded above: neither is certainly first
    assert tuple(levels.loc["甲区", ["lower", "upper"]]) == (1, 2)
    assert tuple(levels.loc["乙区", ["lower", "upper"]]) == (1, 3)


def test_lowest_first_indicators_rank_the_other_way(tmp_path):
    cat = (load_catalog().path.read_text(encoding="utf-8")
           .replace("    aliases: [规模以上工业总产值, 规上工业产值",
                    "    rank_first: lowest\n    aliases: [规模以上工业总产值, 规上工业产值"))
    (tmp_path / "catalog.yaml").write_text(cat, encoding="utf-8")
    catalog = load_catalog(tmp_path / "catalog.yaml")
    obs = load_observations([_write(tmp_path / "d", _rows())], catalog=catalog)
    ranks = compute(obs, year=2024, catalog=catalog).query("metric == 'rank:ind_output_above'").set_index("region")
    assert ranks.loc["己县", "value"] == 1 and ranks.loc["丙区", "value"] == 5


def test_partial_coverage_is_recorded(tmp_path):
    obs = load_observations([_write(tmp_path, _rows(skip=("丁区",)))])
    g = compute(obs, year=2024).query("metric == 'growth_rank:ind_va_above'").set_index("region")
    assert (g["peer_n"] == 6).all() and (g["peer_covered"] == 5).all()
    from analysis.narrative import rank_value
    assert rank_value(g.loc["甲区"], "zh") == "第1位（5个有数据/共6个）"
    assert rank_value(g.loc["甲区"], "en") == "No. 1 (5 of 6 peers with data)"


def _stated(value, qualifier="exact", region="甲区", peer="示例市"):
    return [(region, 2024, "ind_va_above", "growth_rank", value, "位", qualifier, peer)]


@pytest.mark.parametrize("stated, skip, status", [
    (_stated(1), (), "agree"),                          # 增速全市第一, all six districts in the data
    (_stated(2), (), "disagree"),                       # 居第2位, but the data make it first
    (_stated(1), ("丁区",), "cannot-check"),            # data cover 5 of 6
    (_stated(1, peer="未知地区集"), (), "cannot-check"),   # a peer set nobody declared
    (_stated(2, region="戊县"), (), "agree"),
])
def test_stated_rank_is_checked(tmp_path, stated, skip, status):
    obs = load_observations([_write(tmp_path, _rows(skip=skip, stated=stated))])
    region = stated[0][0]
    own = obs[obs["region"] == region]
    rec = reconcile(own, compute(own), peers=obs)
    row = rec[rec["check"] == "stated-rank"].iloc[0]
    assert row["status"] == status
    if status != "cannot-check" or skip:
        assert row["peer"] == "示例市" and row["peer_n"] == 6 and row["peer_covered"] == 6 - len(skip)


def test_cli_metrics_include_the_checks(tmp_path, cli):
    data = _write(tmp_path, _rows(stated=_stated(1)))
    code, out, err = cli("metrics", "--data", data, "--region", "甲区", "--year", "2024", "--format", "csv")
    assert code == 0, err
    frame = pd.read_csv(io.StringIO(out))
    check = frame[(frame["record"] == "check") & (frame["check"] == "stated-rank")]
    assert list(check["status"]) == ["agree"] and list(check["peer_n"]) == [6]
    code, out, err = cli("metrics", "--data", data, "--region", "甲区", "--year", "2024", "--format", "json")
    doc = json.loads(out)
    assert [c["status"] for c in doc["checks"] if c["check"] == "stated-rank"] == ["agree"]
    assert any(m["metric"] == "growth_rank:ind_va_above" and m["peer_covered"] == 6 for m in doc["metrics"])


def test_growth_against_the_parent(panel):
    m = compute(panel, year=2024).query("metric == 'parent_gap:ind_va_above'").set_index("region")
    assert m.loc["丙区", "value"] == pytest.approx(2.0) and m.loc["丙区", "unit"] == "百分点"
    assert m.loc["甲区", "lower"] == pytest.approx(12.5 - 0.05) and np.isinf(m.loc["甲区", "upper"])
    assert "示例市" not in set(m.index)


def test_share_of_the_parent_and_share_ranks(tmp_path):
    rows = _rows() + [(r, 2024, "auto_output", "share", v, "%", "exact", "") for r, v in
                      {"甲区": 40, "乙区": 30, "丙区": 45}.items()]
    obs = load_observations([_write(tmp_path, rows)])
    m = compute(obs, year=2024)
    share = m.query("metric == 'region_share:ind_output_above'").set_index("region")
    assert share.loc["丙区", "value"] == pytest.approx(3500 / 30000 * 100)
    sr = m.query("metric == 'share_rank:auto_output'").set_index("region")
    assert sr.loc["丙区", "value"] == 1 and sr.loc["乙区", "value"] == 3 and (sr["peer_covered"] == 3).all()


def test_previous_year_denominator_labels_the_implied_gdp(tmp_path):
    rows = [("甲区", 2024, "rd_spending", "level", 129.2, "亿元", "exact", ""),
            ("甲区", 2024, "rd_intensity", "level", 5.29, "%", "exact", ""),
            ("甲区", 2023, "gdp", "level", 2442, "亿元", "exact", ""),
            ("甲区", 2024, "gdp", "level", 2600, "亿元", "exact", "")]
    obs = load_observations([_write(tmp_path, rows)])
    m = compute(obs, year=2024)
    rec = reconcile(obs, compute(obs))
    status = dict(zip(rec["check"].astype(str), rec["status"].astype(str)))
    assert status["ratio-same-year"] == "disagree" and status["ratio-previous-year"] == "agree"
    gdp = attribute_years(m, rec, load_catalog()).set_index("metric").loc["gdp_implied_by_rd"]
    assert (gdp["start_year"], gdp["end_year"]) == (2023, 2023) and "previous-year-denominator" in list(gdp["flags"])


def test_contribution_uses_implied_previous_levels(tmp_path):
    rows = [("甲区", 2024, "auto_output", "level", 1900, "亿元", "exact", ""),
            ("甲区", 2024, "auto_output", "growth", 55, "%", "exact", ""),
            ("甲区", 2024, "ind_output_above", "level", 4000, "亿元", ">", ""),
            ("甲区", 2023, "ind_output_above", "level", 3300, "亿元", "exact", "")]
    obs = load_observations([_write(tmp_path, rows)])
    c = compute(obs, year=2024).set_index("metric").loc["contribution_auto_output"]
    prev = 1900 / 1.55
    assert c["value"] == pytest.approx((1900 - prev) / 3300 * 100, rel=1e-3)
    assert c["lower"] < c["value"] < c["upper"] and "implied-input" in list(c["flags"])
    assert c["reason"] == ""


def test_growth_from_money_levels_is_marked_nominal(tmp_path):
    rows = [("甲区", 2023, "gdp", "level", 2442, "亿元", "exact", ""),
            ("甲区", 2024, "gdp", "level", 2600, "亿元", "exact", ""),
            ("甲区", 2023, "rd_platforms", "level", 100, "家", "exact", ""),
            ("甲区", 2024, "rd_platforms", "level", 120, "家", "exact", "")]
    obs = load_observations([_write(tmp_path, rows)])
    m = compute(obs, year=2024).set_index("metric")
    assert "current-prices" in list(m.loc["growth:gdp", "flags"])
    assert "current-prices" not in list(m.loc["growth:rd_platforms", "flags"])   # a count has no prices


def _brute_ranks(group, v, lo, hi):
    n = len(v)
    same = group[:, None] == group[None, :]
    other = ~np.eye(n, dtype=bool)
    point = 1 + (same & (v[None, :] > v[:, None])).sum(axis=1)
    best = 1 + (same & (lo[None, :] > hi[:, None])).sum(axis=1)
    worst = 1 + (same & other & (hi[None, :] > lo[:, None])).sum(axis=1)
    return point, best, worst


_VALUES = [-np.inf, -3.0, -0.0, 0.0, 0.5, 1.0, 2.0, 1e300, np.inf]


@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(_VALUES), st.sampled_from([0.0, 0.5, 1.0, np.inf]),
                          st.sampled_from([0.0, 0.5, 1.0, np.inf])), min_size=1, max_size=40))
@settings(max_examples=300, deadline=None)
def test_interval_ranks_match_brute_force(rows):
    """Ties, ±0, infinite bounds and many groups: the sorted-key counts equal the pairwise definition."""
    from analysis.metrics.kinds import _interval_ranks
    group = pd.factorize(np.array([r[0] for r in rows]))[0]
    v = np.array([r[1] for r in rows])
    with np.errstate(invalid="ignore"):
        lo = np.where(np.isinf(v), v, v - np.array([r[2] for r in rows]))
        hi = np.where(np.isinf(v), v, v + np.array([r[3] for r in rows]))
    got = _interval_ranks(group, v, lo, hi)
    for g, b, what in zip(got, _brute_ranks(group, v, lo, hi), ("point", "best", "worst")):
        assert g.tolist() == b.tolist(), what


def test_ranks_of_a_large_panel_match_brute_force():
    """Thousands of regions under a few parents, lowest-first and highest-first: ranks equal the pairwise counts."""
    from analysis.metrics.kinds import _interval_ranks
    rng = np.random.default_rng(7)
    n = 3000
    group = rng.integers(0, 5, n)
    v = np.round(rng.uniform(0, 100, n), 0)            # many ties
    lo = v - np.where(rng.random(n) < 0.1, np.inf, 0.5)
    hi = v + np.where(rng.random(n) < 0.1, np.inf, 0.5)
    for g, b in zip(_interval_ranks(group, v, lo, hi), _brute_ranks(group, v, lo, hi)):
        assert np.array_equal(g, b)


def test_report_from_a_file_of_many_regions_publishes_what_the_regions_own_file_does(tmp_path):
    """A region's report computes from its own rows, its parent's and its peers': a file with hundreds
    of other regions (under another parent) gives the same published metrics and checks."""
    from analysis import handover
    from analysis.request import build
    stated = [("甲区", 2024, "ind_va_above", "growth_rank", 1, "位", "exact", "")]
    others = [f"他县{k:03d}" for k in range(300)]
    big_regions = REGIONS + "他市,,市,Other City\n" + "".join(f"{r},他市,县,\n" for r in others)
    extra = [(r, y, "ind_output_above", "level", 100 + k, "亿元", "exact", "")
             for k, r in enumerate(others) for y in (2023, 2024)]
    extra += [(r, 2024, "ind_va_above", "growth", 5 + k % 7, "%", "exact", "") for k, r in enumerate(others)]
    small = _write(tmp_path / "small", _rows(stated=stated))
    big = _write(tmp_path / "big", _rows(stated=stated) + extra, regions=big_regions)
    out = {}
    for name, f in (("small", small), ("big", big)):
        frames = handover.published(handover.prepare(build(region="甲区", year=2024, data=f)))
        out[name] = {k: handover._flat(v).to_csv(index=False) for k, v in frames.items()}
    assert out["big"]["metrics"] == out["small"]["metrics"]
    assert out["big"]["checks"] == out["small"]["checks"]
    assert "growth_rank:ind_va_above" in out["big"]["metrics"] and "stated-rank" in out["big"]["checks"]


_CITIES = {"甲市": [f"甲市{k}{'区' if k % 3 else '县'}" for k in range(1, 9)],
           "乙市": [f"乙市{k}{'区' if k % 3 else '县'}" for k in range(1, 7)]}
_PEER_SETS = {"甲市区": {"parent": "甲市", "levels": ["区"]},
              "跨市组": {"members": ["甲市1区", "甲市2区", "乙市1区", "乙市3县", "乙市4区"]}}


def _ranks_panel(folder, seed: int):
    """Two cities of 8 and 6 districts, two years; levels and growth of few distinct values (ties),
    some bounded on one side only or approximate, some regions without data; stated ranks naming
    no peer set, a parent, a declared set (the region in it or not) and an unknown set."""
    rng = np.random.default_rng(seed)
    regions = "region,parent,level,en\n" + "".join(f"{c},,市,\n" for c in _CITIES) + "".join(
        f"{r},{c},{r[-1]},\n" for c, rs in _CITIES.items() for r in rs)
    qualifiers = ["exact", "exact", ">", "近", "≈", "≤"]
    rows = []
    for c, members in _CITIES.items():
        for r in [c, *members]:
            for y in (2023, 2024):
                if rng.random() < 0.85:
                    rows.append((r, y, "ind_output_above", "level", int(rng.integers(1, 6)) * 100, "亿元",
                                 qualifiers[rng.integers(len(qualifiers))], ""))
                if rng.random() < 0.85:
                    rows.append((r, y, "ind_va_above", "growth", float(rng.integers(1, 5)), "%",
                                 qualifiers[rng.integers(len(qualifiers))], ""))
                for measure, ind in (("rank", "ind_output_above"), ("growth_rank", "ind_va_above")):
                    if r != c and rng.random() < 0.6:
                        peer = ["", "", c, "甲市区", "跨市组", "未知集"][rng.integers(6)]
                        rows.append((r, y, ind, measure, int(rng.integers(1, 9)), "位", "exact", peer))
    return _write(folder, rows, regions=regions)


def _brute_stated_ranks(obs, catalog) -> list[tuple]:
    """Each stated rank by the definition, one member at a time: (peer, n, covered, point, best, worst)."""
    from analysis.data.regions import Hierarchy
    from analysis.metrics.engine import best_observations
    from analysis.metrics.kinds import RANKED
    from analysis.metrics.reconcile import peer_members
    hierarchy = Hierarchy(obs.attrs.get("regions") or {}, catalog)
    best = best_observations(obs)
    figure = {}
    for r in best.itertuples():          # a figure stated more than once: the first row of it counts
        if r.measure in RANKED and r.entity == "":
            figure.setdefault((r.region, r.year, r.indicator, r.measure), r)
    measure_of = {v: k for k, v in RANKED.items()}
    out = []
    for r in best.itertuples():
        if r.measure not in measure_of or r.entity != "":
            continue
        found = peer_members(r.region, r.peer, hierarchy)
        if not found:
            out.append((r.peer, None, None, None, None, None))
            continue
        members = [m for m in found[1] if m != r.region]
        at = {m: figure.get((m, r.year, r.indicator, measure_of[r.measure])) for m in [*members, r.region]}
        own = at[r.region]
        covered = sum(f is not None for f in at.values())
        if own is None:
            out.append((found[0], len(members) + 1, covered, None, None, None))
            continue
        sign = -1.0 if catalog.indicators[r.indicator].rank_first == "lowest" else 1.0

        def iv(f):   # value and bounds in ranking direction, the bounds in order (a missing one last)
            a, b = f.lower * sign, f.upper * sign
            return (f.value * sign, *((a, b) if (b >= a or np.isnan(b)) else (b, a)))
        v, lo, hi = iv(own)
        others = [iv(f) for m, f in at.items() if m != r.region and f is not None]
        out.append((found[0], len(members) + 1, covered, 1 + sum(o[0] > v for o in others),
                    1 + sum(o[1] > hi for o in others), 1 + sum(o[2] > lo for o in others)))
    return out


def _checked_ranks(rec) -> list[tuple]:
    rows = rec[rec["check"] == "stated-rank"]
    nan = lambda x: None if pd.isna(x) else x  # noqa: E731
    return [(p, nan(n), nan(k), nan(v), nan(b), nan(w)) for p, n, k, v, b, w in
            zip(rows["peer"], rows["peer_n"], rows["peer_covered"], rows["computed"], rows["computed_lower"],
                rows["computed_upper"])]


@pytest.mark.parametrize("seed", range(6))
def test_stated_ranks_match_a_brute_force_check(tmp_path, seed):
    """All stated ranks checked at once give, rank by rank, what the member-by-member definition gives:
    ties, one-sided and approximate bounds, a lowest-first indicator, partial coverage, a missing own
    figure, declared peer sets with and without the region, an unknown set."""
    import dataclasses
    base = load_catalog()
    catalog = dataclasses.replace(base, peer_sets=_PEER_SETS, indicators={
        **base.indicators, "ind_output_above": dataclasses.replace(base.indicators["ind_output_above"],
                                                                   rank_first="lowest")})
    obs = load_observations([_ranks_panel(tmp_path, seed)], catalog=catalog)
    rec = reconcile(obs, compute(obs, catalog=catalog), catalog=catalog)
    got, want = _checked_ranks(rec), _brute_stated_ranks(obs, catalog)
    assert got == want
    # the panel reaches every case
    assert {"甲市区", "跨市组", "未知集", "甲市"} <= {w[0] for w in want}
    assert any(w[1] is not None and w[3] is None for w in want)            # own figure missing
    assert any(w[3] is not None and w[4] != w[5] for w in want)            # an interval rank
    assert any(w[3] is not None and w[2] < w[1] for w in want)             # partial coverage
    # missing values and bounds (not from a file; the rule still holds): never above, nobody above them
    holes = obs.copy()
    rng = np.random.default_rng(seed)
    for col in ("value", "lower", "upper"):
        holes.loc[rng.random(len(holes)) < 0.15, col] = np.nan
    from analysis.metrics.engine import empty_results
    assert _checked_ranks(reconcile(holes, empty_results(), catalog=catalog)) == _brute_stated_ranks(holes, catalog)
