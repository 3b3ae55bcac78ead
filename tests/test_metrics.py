import io
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from analysis.catalog import load_catalog
from analysis.data import load_observations, make_observations
from analysis.metrics import (FLAGS, REASONS, RECONCILE_COLUMNS, RESULT_COLUMNS, best_observations,
                              check_definitions, compute, reconcile, target_path)
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
    assert r.reason == "" and r.reason_indicator == ""


def test_implied_base_auto_output(yb):
    r = yb.loc["implied_base:auto_output"]
    assert r.value == pytest.approx(1900e8 / 1.55)
    assert (r.lower, r.upper) == pytest.approx((1899.5e8 / 1.555, 1900.5e8 / 1.545))
    assert (r.start_year, r.end_year) == (2023, 2023) and r.year == 2024 and r.unit == "元"


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


def test_required_growth_to_projection(yb):
    """预计到2027年…突破7000亿元 is a projection, not a target: the same arithmetic, its own name."""
    r = yb.loc["required_growth_ind_output_projection"]
    assert "预计" in r.name_zh and "目标" not in r.name_zh and "projected" in r.name_en
    assert r.value == pytest.approx(((7000 / 4000) ** (1 / 3) - 1) * 100)
    assert r.upper == pytest.approx(r.value) and r.lower == -100  # 规上 level is 超4000: at most
    assert "scope-mismatch" in r["flags"] and "target-threshold" in r["flags"]
    assert (r.year, r.start_year, r.end_year) == (2024, 2024, 2027)
    gap = yb.loc["required_growth_ind_output_projection_gap"]
    assert gap.value == pytest.approx(3000e8) and gap.upper == pytest.approx(3000e8)


def test_implied_digital_core_value_added(yb):
    r = yb.loc["implied_base:digital_core_va"]
    assert r.value == pytest.approx(235.6e8 / 1.36)
    assert (r.lower, r.upper) == pytest.approx((235.55e8 / 1.365, 235.65e8 / 1.355))
    assert "comparable-prices" in r["flags"]


def test_missing_denominator_has_reason(yb):
    r = yb.loc["rd_intensity_computed"]
    assert math.isnan(r.value) and r.reason == "missing-denominator" and r.reason_indicator == "gdp"
    assert not np.isinf(compute(load_observations()).value).any()


def test_reconcile_duplicate_statements(obs):
    rec = reconcile(obs)
    row = rec[rec.check == "stated-twice"].iloc[0]
    assert row.indicator == "auto_output" and row.status == "agree"
    # the narrowest statement (1900亿元) against the other one (千亿级: at least 1000亿元)
    assert list(row.stated_ids) == ["yb-016"] and list(row.computed_from) == ["yb-020"]
    assert row.stated == pytest.approx(1900e8) and row.computed == pytest.approx(1000e8)


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
    assert rec.loc[("示例区A", "growth-from-levels"), "status"] == "agree"
    assert rec.loc[("示例区B", "growth-from-levels"), "status"] == "disagree"  # stated 9 %, levels give 8 %
    assert rec.loc[("示例区B", "ratio-same-year"), "status"] == "disagree"
    # 2.53 % matches R&D 2024 over GDP 2023: the intensity uses last year's GDP
    prev = rec.loc[("示例区B", "ratio-previous-year")]
    assert prev.status == "agree" and prev.denominator_year == 2023 and prev.metric == "rd_intensity_computed"
    assert rec.loc[("示例区B", "ratio-same-year"), "denominator_year"] == 2024
    assert pd.isna(rec.loc[("示例区B", "growth-from-levels"), "denominator_year"])
    assert len(rec.loc[("示例区B", "ratio-same-year"), "computed_from"]) == 2  # R&D and GDP


def _frame(rows, catalog=None):
    return make_observations(pd.DataFrame(rows), catalog=catalog)


def test_zero_and_negative_bases():
    rows = [dict(region="R", year=2023, indicator="auto_output", measure="level", value=0.0, unit="元"),
            dict(region="R", year=2024, indicator="auto_output", measure="level", value=5.0, unit="元"),
            dict(region="R", year=2023, indicator="ind_output_above", measure="level", value=-3.0, unit="元"),
            dict(region="R", year=2024, indicator="ind_output_above", measure="level", value=2.0, unit="元")]
    m = compute(_frame(rows))
    g = m[m.kind == "growth"].set_index("indicator")
    assert math.isnan(g.loc["auto_output", "value"]) and g.loc["auto_output", "reason"] == "zero-previous"
    assert g.loc["auto_output", "reason_indicator"] == "auto_output"
    assert math.isnan(g.loc["ind_output_above", "value"]) and g.loc["ind_output_above", "reason"] == "negative-previous"
    s = m[m.metric == "share_auto_output"].set_index("year")
    assert s.loc[2024, "value"] == pytest.approx(250.0)  # 5 / 2: a part larger than the whole is shown, not clipped
    assert math.isnan(s.loc[2023, "value"]) and s.loc[2023, "reason"] == "negative-denominator"
    assert s.loc[2023, "reason_indicator"] == "ind_output_above"
    assert not np.isinf(m.value).any()


def test_growth_only_between_consecutive_years():
    rows = [dict(region="R", year=y, indicator="auto_output", measure="level", value=v, unit="元")
            for y, v in ((2020, 100.0), (2022, 121.0))]
    m = compute(_frame(rows))
    assert (m.kind == "growth").sum() == 0
    c = m[m.kind == "cagr"].iloc[0]
    assert c.value == pytest.approx(10.0) and (c.start_year, c.end_year, c.year) == (2020, 2022, 2022)


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


_PARTITION_CATALOGS: dict = {}


def _partition_catalog(n: int, folder_factory):
    """A catalog of n parts of a total with a share metric for each (read once per n: loading a new
    catalog file takes ~0.1 s, the examples below differ in their values, not their catalog)."""
    if n not in _PARTITION_CATALOGS:
        cat_text = (ROOT / "data" / "catalog.yaml").read_text(encoding="utf-8")
        cat_text = cat_text.split("\nmetrics:")[0] + "\nmetrics:\n" + "".join(
            f"  - {{code: s{i}, kind: share, part: p{i}, whole: total}}\n" for i in range(n))
        cat_text = cat_text.replace("indicators:\n", "indicators:\n" + "".join(
            f"  p{i}: {{zh: 部分{i}, en: part {i}, unit: 亿元}}\n" for i in range(n)) +
            "  total: {zh: 合计, en: total, unit: 亿元}\n", 1)
        d = folder_factory.mktemp("cat")
        (d / "catalog.yaml").write_text(cat_text, encoding="utf-8")
        _PARTITION_CATALOGS[n] = load_catalog(d / "catalog.yaml")
    return _PARTITION_CATALOGS[n]


@settings(max_examples=40, deadline=None)
@given(parts=st.lists(pos, min_size=2, max_size=5))
def test_shares_of_a_partition_sum_to_100(parts, tmp_path_factory):
    cat = _partition_catalog(len(parts), tmp_path_factory)
    rows = [dict(region="R", year=2024, indicator=f"p{i}", measure="level", value=v, unit="元") for i, v in enumerate(parts)]
    rows.append(dict(region="R", year=2024, indicator="total", measure="level", value=sum(parts), unit="元"))
    m = compute(_frame(rows, cat), catalog=cat)
    assert len(m) == len(parts) and m["value"].sum() == pytest.approx(100.0)


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
    both = pd.read_csv(io.StringIO(out))
    assert set(both["record"]) == {"metric", "check"}     # the checks ride along, marked
    checks = both[both["record"] == "check"]
    assert (checks.loc[checks["check"] == "stated-twice", "status"] == "agree").all()
    df = both[both["record"] == "metric"].set_index("metric")
    for k in ["share_auto_output", "implied_base:auto_output", "implied_base:nev_volume", "gdp_implied_by_rd",
              "required_growth_ind_output_projection", "implied_base:digital_core_va"]:
        row = df.loc[k]
        assert {"value", "lower", "upper", "unit", "formula_zh", "formula_en", "display"} <= set(row.index)
        assert isinstance(row.formula_zh, str) and row.formula_zh
    assert df.loc["share_auto_output", "display"] == "不超过47.5%"
    assert df.loc["required_growth_ind_output_projection", "display"] == "不超过20.5%"
    assert df.loc["gdp_implied_by_rd", "display"] == "约2442亿元（2439–2446亿元）"   # no finer than 5.29% allows
    assert df.loc["implied_base:nev_volume", "display"].startswith("约3.5万辆")
    # lists are joined with ";" in CSV only (a figure stated twice: both of its ids)
    assert df.loc["share_auto_output", "inputs"] == "yb-016;yb-020;yb-003"
    assert df.loc["share_auto_output", "flags"] == "lower-bound-input;scope-unverified"
    assert (df.loc["implied_base:auto_output", ["start_year", "end_year"]] == [2023, 2023]).all()


def test_cli_json_and_table(cli):
    code, out, _ = cli("metrics", "--region", "渝北区", "--year", "2024", "--format", "json")
    doc = json.loads(out)
    data = doc["metrics"]
    assert code == 0 and any(d["metric"] == "gdp_implied_by_rd" for d in data)
    assert any(c["check"] == "stated-twice" and c["stated_ids"] + c["computed_from"] == ["yb-016", "yb-020"] for c in doc["checks"])
    share = next(d for d in data if d["metric"] == "share_auto_output")
    assert share["inputs"] == ["yb-016", "yb-020", "yb-003"]  # JSON keeps lists as arrays
    assert share["flags"] == ["lower-bound-input", "scope-unverified"]
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


# ---------------------------------------------------------------- structured results

def test_result_columns_and_types(obs):
    m = compute(obs)
    assert list(m.columns) == RESULT_COLUMNS
    for c in ("inputs", "flags"):  # lists of strings, not encoded text
        assert isinstance(m[c].dtype, pd.ArrowDtype) and str(m[c].dtype.pyarrow_dtype) == "list<item: string>"
        assert all(isinstance(x, list) for x in m[c])
    assert {f for fl in m["flags"] for f in fl} <= set(FLAGS)
    assert set(m["reason"]) <= {"", *REASONS}
    assert ((m["reason"] == "") == m["value"].notna()).all()
    assert ((m["reason_indicator"] == "") == (m["reason"] == "")).all()
    for c in ("year", "start_year", "end_year"):
        assert m[c].dtype == np.int64
    assert (m["start_year"] <= m["end_year"]).all()
    assert not m["reason"].astype(str).str.contains(" / ").any()  # no "中文 / English" text


def test_merged_duplicate_gives_both_ids(yb):
    """auto_output 2024 is stated twice (1900亿元, 千亿级): results using it list both ids."""
    assert list(yb.loc["implied_base:auto_output", "inputs"]) == ["yb-016", "yb-020", "yb-017"]
    assert list(yb.loc["share_auto_output", "inputs"]) == ["yb-016", "yb-020", "yb-003"]


def test_best_observations_keeps_the_narrowest():
    rows = [dict(region="R", year=2024, indicator="auto_output", measure="level", value=1000.0, unit="元",
                 qualifier="≥", half_width=0.5, id="wide"),
            dict(region="R", year=2024, indicator="auto_output", measure="level", value=1900.0, unit="元",
                 qualifier="exact", half_width=0.5, id="narrow"),
            dict(region="R", year=2024, indicator="gdp", measure="level", value=5.0, unit="元", qualifier="exact",
                 half_width=0.5, id="once")]
    best = best_observations(_frame(rows)).set_index("id")
    assert list(best.index) == ["once", "narrow"]
    assert list(best.loc["narrow", "ids"]) == ["narrow", "wide"] and list(best.loc["once", "ids"]) == ["once"]
    assert (best.loc["narrow", "lower"], best.loc["narrow", "upper"]) == (1899.5, 1900.5)


@pytest.mark.parametrize("gdp, reason", [(None, "missing-denominator"), (0.0, "zero-denominator"),
                                          (-5.0, "negative-denominator")])
def test_ratio_reason_codes(gdp, reason):
    rows = [dict(region="R", year=2024, indicator="rd_spending", measure="level", value=10.0, unit="元")]
    if gdp is not None:
        rows.append(dict(region="R", year=2024, indicator="gdp", measure="level", value=gdp, unit="元"))
    r = compute(_frame(rows)).set_index("metric").loc["rd_intensity_computed"]
    assert math.isnan(r.value) and math.isnan(r.lower) and math.isnan(r.upper)
    assert r.reason == reason and r.reason_indicator == "gdp"
    assert list(r.inputs) == (["o0"] if gdp is None else ["o0", "o1"])


def test_contribution_reason_names_the_missing_indicator():
    rows = [dict(region="R", year=2023, indicator="auto_output", measure="level", value=100.0, unit="元"),
            dict(region="R", year=2024, indicator="auto_output", measure="level", value=130.0, unit="元")]
    c = compute(_frame(rows), year=2024).set_index("metric").loc["contribution_auto_output"]
    assert c.reason == "missing-previous-whole" and c.reason_indicator == "ind_output_above"
    assert (c.start_year, c.end_year) == (2023, 2024)


def test_periods_of_implied_base_and_required_growth():
    rows = [dict(region="R", year=2024, indicator="auto_output", measure="level", value=120.0, unit="元"),
            dict(region="R", year=2024, indicator="auto_output", measure="growth", value=20.0, unit="%", base_year=2022),
            dict(region="R", year=2024, indicator="ind_output_above", measure="level", value=400.0, unit="元"),
            dict(region="R", year=2030, indicator="ind_output", measure="target", value=800.0, unit="元", qualifier=">")]
    m = compute(_frame(rows)).set_index("metric")
    base = m.loc["implied_base:auto_output"]
    assert (base.year, base.start_year, base.end_year) == (2024, 2022, 2022)  # the growth's stated base year
    req = m.loc["required_growth_ind_output"]
    assert (req.year, req.start_year, req.end_year) == (2024, 2024, 2030)
    assert req.value == pytest.approx((2 ** (1 / 6) - 1) * 100)
    path = target_path(m.reset_index(), _frame(rows))
    assert list(path["year"]) == list(range(2024, 2031))
    assert path["value"].iloc[0] == pytest.approx(400.0) and path["value"].iloc[-1] == pytest.approx(800.0)


def test_unit_column_holds_units_not_codes(obs):
    m = compute(obs)
    units = set(m["unit"].astype(str))
    assert (m["unit"].cat.codes >= 0).all()
    assert units <= set(obs["unit"]) | {"%", "百分点", "位", ""}
    assert not any(u.lstrip("-").isdigit() for u in units)
    # data units pass through where a result has its input's unit (implied base, gap)
    yb = m[m["region"] == "渝北区"].set_index("metric")
    assert yb.loc["implied_base:nev_volume", "unit"] == "辆"
    assert set(yb.loc[yb["kind"] == "target_gap", "unit"]) == {"元"}


def test_reconcile_columns_and_types(two):
    rec = reconcile(two)
    assert list(rec.columns) == RECONCILE_COLUMNS
    assert set(rec["status"]) <= {"agree", "disagree", "not-computable"}
    assert all(isinstance(x, list) and x for x in rec["stated_ids"])
    assert str(rec["denominator_year"].dtype) == "Int64"
    empty = reconcile(two.iloc[:0])
    assert list(empty.columns) == RECONCILE_COLUMNS and empty.empty
