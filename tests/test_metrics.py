import io
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from analysis.catalog import load_catalog
from analysis.data import load_observations, make_observations
from analysis.metrics import check_definitions, compute, reconcile
from analysis.errors import CatalogError
from conftest import ROOT

EXAMPLE = ROOT / "examples" / "two_regions.csv"


@pytest.fixture(scope="module")
def yb(obs):
    return compute(obs, region="渝北区", year=2024).set_index("metric")


def test_share_of_auto_output(yb):
    r = yb.loc["share_auto_output"]
    assert r.value == pytest.approx(1900 / 4000 * 100)
    # 1900 (±0.5) ÷ (>4000): at most 1900.5 / 4000, no lower bound but 0
    assert (r.lower, r.upper) == pytest.approx((0, 1900.5 / 4000 * 100))
    assert r.unit == "%" and "lower-bound-input" in r["flags"]
    assert "yb-016" in r.inputs and "yb-003" in r.inputs


def test_implied_base_auto_output(yb):
    r = yb.loc["implied_base:auto_output"]
    assert r.value == pytest.approx(1900e8 / 1.55)
    assert (r.lower, r.upper) == pytest.approx((1899.5e8 / 1.555, 1900.5e8 / 1.545))
    assert r.refers_to == "2023" and r.unit == "元"


def test_implied_base_nev_times(yb):
    """增长5.6倍 → ×6.6, not ×1.056 or ×5.6."""
    r = yb.loc["implied_base:nev_volume"]
    assert r.value == pytest.approx(230000 / 6.6)
    assert (r.lower, r.upper) == pytest.approx((225000 / 6.65, 235000 / 6.55))
    assert round(r.value / 1e4, 1) == 3.5


def test_gdp_implied_by_rd(yb):
    r = yb.loc["gdp_implied_by_rd"]
    assert r.value == pytest.approx(129.2e8 / 0.0529)
    assert (r.lower, r.upper) == pytest.approx((129.15e8 / 0.05295, 129.25e8 / 0.05285))
    assert round(r.value / 1e8, 1) == 2442.3


def test_required_growth_to_target(yb):
    r = yb.loc["required_growth_ind_output"]
    assert r.value == pytest.approx(((7000 / 4000) ** (1 / 3) - 1) * 100)
    assert r.upper == pytest.approx(r.value) and r.lower == -100  # 规上 level is 超4000: at most
    assert "scope-mismatch" in r["flags"] and "target-threshold" in r["flags"]
    assert r.refers_to == "2024→2027"
    gap = yb.loc["required_growth_ind_output_gap"]
    assert gap.value == pytest.approx(3000e8) and gap.upper == pytest.approx(3000e8)


def test_implied_digital_core_value_added(yb):
    r = yb.loc["implied_base:digital_core_va"]
    assert r.value == pytest.approx(235.6e8 / 1.36)
    assert (r.lower, r.upper) == pytest.approx((235.55e8 / 1.365, 235.65e8 / 1.355))
    assert "comparable-prices" in r["flags"]


def test_missing_denominator_has_reason(yb):
    r = yb.loc["rd_intensity_computed"]
    assert math.isnan(r.value) and "地区生产总值" in r.reason
    assert not np.isinf(compute(load_observations()).value).any()


def test_reconcile_duplicate_statements(obs):
    rec = reconcile(obs)
    row = rec[rec.check == "stated twice"].iloc[0]
    assert row.indicator == "auto_output" and row.status == "agree"


@pytest.fixture(scope="module")
def two():
    return load_observations(EXAMPLE)


def test_two_regions_growth_rank_share(two):
    m = compute(two, year=2024)
    g = m[(m.kind == "growth") & (m.indicator == "ind_output_above")].set_index("region")
    assert g.loc["示例区A", "value"] == pytest.approx(10.0)
    assert g.loc["示例区B", "value"] == pytest.approx(8.0)
    rk = m[(m.kind == "rank") & (m.indicator == "rd_intensity")].set_index("region")
    assert rk.loc["示例区A", "value"] == 1 and rk.loc["示例区B", "value"] == 2
    sh = m[(m.kind == "region_share") & (m.indicator == "gdp")].set_index("region")
    assert sh.loc["示例区A", "value"] == pytest.approx(2100 / 32000 * 100)
    share = m[m.metric == "share_auto_output"].set_index("region")
    assert share.loc["示例区B", "value"] == pytest.approx(330 / 1620 * 100)
    pp = compute(two, region="示例区A", year=2024)
    assert set(pp.region) == {"示例区A"}


def test_two_regions_reconciliation(two):
    rec = reconcile(two).set_index(["region", "check"])
    assert rec.loc[("示例区A", "growth from levels"), "status"] == "agree"
    assert rec.loc[("示例区B", "growth from levels"), "status"] == "disagree"  # stated 9 %, levels give 8 %
    assert rec.loc[("示例区B", "rd_intensity_computed (same year)"), "status"] == "disagree"
    # 2.53 % matches R&D 2024 over GDP 2023: the intensity uses last year's GDP
    assert rec.loc[("示例区B", "rd_intensity_computed (previous year's denominator)"), "status"] == "agree"


def _frame(rows, catalog=None):
    return make_observations(pd.DataFrame(rows), catalog=catalog)


def test_zero_and_negative_bases():
    rows = [dict(region="R", year=2023, indicator="auto_output", measure="level", value=0.0, unit="元"),
            dict(region="R", year=2024, indicator="auto_output", measure="level", value=5.0, unit="元"),
            dict(region="R", year=2023, indicator="ind_output_above", measure="level", value=-3.0, unit="元"),
            dict(region="R", year=2024, indicator="ind_output_above", measure="level", value=2.0, unit="元")]
    m = compute(_frame(rows))
    g = m[m.kind == "growth"].set_index("indicator")
    assert math.isnan(g.loc["auto_output", "value"]) and "zero" in g.loc["auto_output", "reason"]
    assert math.isnan(g.loc["ind_output_above", "value"]) and "negative" in g.loc["ind_output_above", "reason"]
    s = m[m.metric == "share_auto_output"].set_index("year")
    assert s.loc[2024, "value"] == pytest.approx(250.0)  # 5 / 2: a part larger than the whole is shown, not clipped
    assert math.isnan(s.loc[2023, "value"]) and "negative" in s.loc[2023, "reason"]
    assert not np.isinf(m.value).any()


def test_growth_only_between_consecutive_years():
    rows = [dict(region="R", year=y, indicator="auto_output", measure="level", value=v, unit="元")
            for y, v in ((2020, 100.0), (2022, 121.0))]
    m = compute(_frame(rows))
    assert (m.kind == "growth").sum() == 0
    c = m[m.kind == "cagr"].iloc[0]
    assert c.value == pytest.approx(10.0) and c.refers_to == "2020→2022"


def test_bad_metric_definition(tmp_path):
    text = (ROOT / "data" / "catalog.yaml").read_text(encoding="utf-8") + \
        "  - {code: broken, kind: share, part: auto_output}\n  - {code: odd, kind: median}\n"
    f = tmp_path / "catalog.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as exc:
        check_definitions(load_catalog(f))
    assert "expected key 'whole' for kind share" in str(exc.value)
    assert "found 'median'" in str(exc.value)


# ---------------------------------------------------------------- properties

pos = st.floats(min_value=0.01, max_value=1e6, allow_nan=False)
quals = st.sampled_from(["exact", ">", "≥", "≤", "≈", "近", "余"])


@settings(max_examples=40, deadline=None)
@given(parts=st.lists(pos, min_size=2, max_size=5))
def test_shares_of_a_partition_sum_to_100(parts, tmp_path_factory):
    cat_text = (ROOT / "data" / "catalog.yaml").read_text(encoding="utf-8")
    cat_text = cat_text.split("\nmetrics:")[0] + "\nmetrics:\n" + "".join(
        f"  - {{code: s{i}, kind: share, part: p{i}, whole: total}}\n" for i in range(len(parts)))
    cat_text = cat_text.replace("indicators:\n", "indicators:\n" + "".join(
        f"  p{i}: {{zh: 部分{i}, en: part {i}, unit: 亿元}}\n" for i in range(len(parts))) +
        "  total: {zh: 合计, en: total, unit: 亿元}\n", 1)
    d = tmp_path_factory.mktemp("cat")
    (d / "catalog.yaml").write_text(cat_text, encoding="utf-8")
    cat = load_catalog(d / "catalog.yaml")
    rows = [dict(region="R", year=2024, indicator=f"p{i}", measure="level", value=v, unit="元") for i, v in enumerate(parts)]
    rows.append(dict(region="R", year=2024, indicator="total", measure="level", value=sum(parts), unit="元"))
    m = compute(_frame(rows, cat), catalog=cat)
    assert m["value"].sum() == pytest.approx(100.0)


@settings(max_examples=60, deadline=None)
@given(level=pos, growth=st.floats(min_value=-90, max_value=900), q=quals)
def test_implied_base_then_growth_returns_level(level, growth, q):
    rows = [dict(region="R", year=2024, indicator="auto_output", measure="level", value=level, unit="元", qualifier=q, half_width=0.5, round_step=10.0),
            dict(region="R", year=2024, indicator="auto_output", measure="growth", value=growth, unit="%", half_width=0.05, round_step=0.1)]
    m = compute(_frame(rows))
    base = m[m.kind == "implied_base"].iloc[0]
    assert base.value * (1 + growth / 100) == pytest.approx(level)
    # and the implied level from that base and the growth is the level again
    rows2 = [dict(region="R", year=2023, indicator="auto_output", measure="level", value=base.value, unit="元"),
             dict(region="R", year=2024, indicator="auto_output", measure="growth", value=growth, unit="%")]
    lvl = compute(_frame(rows2))
    assert lvl[lvl.kind == "implied_level"].iloc[0].value == pytest.approx(level)


@settings(max_examples=60, deadline=None)
@given(p=pos, w=pos, g=st.floats(min_value=-50, max_value=500), qp=quals, qw=quals, qg=quals)
def test_bounds_contain_value(p, w, g, qp, qw, qg):
    rows = [dict(region="R", year=2024, indicator="auto_output", measure="level", value=p, unit="元", qualifier=qp, half_width=0.5, round_step=10.0),
            dict(region="R", year=2024, indicator="ind_output_above", measure="level", value=w, unit="元", qualifier=qw, half_width=0.5, round_step=10.0),
            dict(region="R", year=2024, indicator="auto_output", measure="growth", value=g, unit="%", qualifier=qg, half_width=0.05, round_step=0.1)]
    m = compute(_frame(rows))
    ok = m.value.notna()
    assert ok.any()
    assert (m.lower[ok] <= m.value[ok] * (1 + 1e-9) + 1e-9).all()
    assert (m.upper[ok] >= m.value[ok] * (1 - 1e-9) - 1e-9).all()


@settings(max_examples=40, deadline=None)
@given(p=pos, w=pos, g=st.floats(min_value=-50, max_value=500), widen=st.sampled_from([0, 1, 2]),
       dl=st.floats(min_value=0, max_value=1e3), du=st.one_of(st.floats(min_value=0, max_value=1e3), st.just(math.inf)))
def test_widening_an_input_never_narrows_output(p, w, g, widen, dl, du):
    rows = [dict(region="R", year=2024, indicator="auto_output", measure="level", value=p, unit="元", half_width=0.5),
            dict(region="R", year=2024, indicator="ind_output_above", measure="level", value=w, unit="元", half_width=0.5),
            dict(region="R", year=2024, indicator="auto_output", measure="growth", value=g, unit="%", half_width=0.05)]
    narrow = _frame(rows)
    wide = narrow.copy()
    floor = -100.0 if widen == 2 else 0.0
    wide.loc[widen, "lower"] = min(wide.loc[widen, "lower"], max(floor, wide.loc[widen, "lower"] - dl))
    wide.loc[widen, "upper"] = wide.loc[widen, "upper"] + du
    a = compute(narrow).set_index("metric")
    b = compute(wide).set_index("metric")
    for k in a.index:
        if np.isnan(a.loc[k, "lower"]):
            continue
        alo, ahi, blo, bhi = a.loc[k, "lower"], a.loc[k, "upper"], b.loc[k, "lower"], b.loc[k, "upper"]
        assert blo <= alo or np.isclose(blo, alo, rtol=1e-9), (k, alo, blo)
        assert bhi >= ahi or np.isclose(bhi, ahi, rtol=1e-9), (k, ahi, bhi)


# ---------------------------------------------------------------- CLI

def test_cli_csv_has_the_acceptance_metrics(cli):
    code, out, err = cli("metrics", "--region", "渝北区", "--year", "2024", "--format", "csv")
    assert code == 0, err
    df = pd.read_csv(io.StringIO(out)).set_index("metric")
    for k in ["share_auto_output", "implied_base:auto_output", "implied_base:nev_volume", "gdp_implied_by_rd",
              "required_growth_ind_output", "implied_base:digital_core_va"]:
        row = df.loc[k]
        assert {"value", "lower", "upper", "unit", "formula_zh", "formula_en", "display"} <= set(row.index)
        assert isinstance(row.formula_zh, str) and row.formula_zh
    assert df.loc["share_auto_output", "display"] == "不超过47.5%"
    assert df.loc["required_growth_ind_output", "display"] == "不超过20.5%"
    assert df.loc["gdp_implied_by_rd", "display"].startswith("约2,442.3亿元")
    assert df.loc["implied_base:nev_volume", "display"].startswith("约3.5万辆")


def test_cli_json_and_table(cli):
    code, out, _ = cli("metrics", "--region", "渝北区", "--year", "2024", "--format", "json")
    data = json.loads(out)
    assert code == 0 and any(d["metric"] == "gdp_implied_by_rd" for d in data)
    code, out, _ = cli("metrics", "--region", "渝北区", "--year", "2024")
    assert code == 0
    lines = out.splitlines()
    # aligned: the 数值 column starts at the same display cell on every row
    from wcwidth import wcswidth
    head = lines[0]
    col = wcswidth(head[: head.index("数值")])
    for ln in lines[2:8]:
        assert any(wcswidth(ln[:i]) == col for i in range(len(ln)))


def test_cli_two_regions_and_unknown_region(cli):
    code, out, _ = cli("metrics", "--data", EXAMPLE, "--year", "2024", "--format", "csv")
    df = pd.read_csv(io.StringIO(out))
    assert code == 0 and {"示例区A", "示例区B"} <= set(df.region)
    code, _, err = cli("metrics", "--data", EXAMPLE, "--region", "示例区C")
    assert code == 1 and "示例区A, 示例区B" in err and "found '示例区C'" in err
    code, _, err = cli("metrics", "--region", "渝北区", "--year", "2019")
    assert code == 1 and "2024" in err


def test_pp_change_and_contribution():
    rows = [dict(region="R", year=2023, indicator="rd_intensity", measure="level", value=5.0, unit="%", half_width=0.05),
            dict(region="R", year=2024, indicator="rd_intensity", measure="level", value=5.7, unit="%", half_width=0.05),
            dict(region="R", year=2023, indicator="auto_output", measure="level", value=100.0, unit="元"),
            dict(region="R", year=2024, indicator="auto_output", measure="level", value=130.0, unit="元"),
            dict(region="R", year=2023, indicator="ind_output_above", measure="level", value=400.0, unit="元"),
            dict(region="R", year=2024, indicator="ind_output_above", measure="level", value=460.0, unit="元")]
    m = compute(_frame(rows), year=2024).set_index("metric")
    pp = m.loc["pp_change:rd_intensity"]
    assert pp.value == pytest.approx(0.7) and pp.unit == "百分点"
    assert (pp.lower, pp.upper) == pytest.approx((0.6, 0.8))  # 提高0.7个百分点, not 14 %
    assert "growth:rd_intensity" not in m.index  # a rate's change is not a percent growth
    c = m.loc["contribution_auto_output"]
    assert c.value == pytest.approx((130 - 100) / 400 * 100)  # 7.5 pp of the whole's 15 % growth
    assert m.loc["growth:ind_output_above", "value"] == pytest.approx(15.0)
