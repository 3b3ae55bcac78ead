"""Sentences about a region against its parent and peers, worded with their bounds, in both languages."""
import math

import pandas as pd
import pytest

from analysis import narrative

INF = math.inf


def gap(value, lower, upper):
    return pd.Series({"kind": "parent_gap", "value": value, "lower": lower, "upper": upper, "unit": "百分点",
                      "flags": [], "inputs": []})


def rank(lower, upper, n, k):
    return pd.Series({"kind": "rank", "value": float(lower), "lower": float(lower), "upper": float(upper), "unit": "位",
                      "peer_n": n, "peer_covered": k})


@pytest.mark.parametrize("m, zh, en", [
    (gap(12.5, 12.45, INF), "高于全市（7.5%）超过12.4个百分点", "more than 12.4 pp above Chongqing's 7.5%"),
    (gap(7.5, 7.45, 7.55), "高于全市（7.5%）7.5个百分点", "7.5 pp above Chongqing's 7.5%"),
    (gap(-1.5, -2.0, -1.0), "低于全市（7.5%）约1.5个百分点（1–2个百分点）", "about 1.5 pp (1–2 pp) below Chongqing's 7.5%"),
    (gap(0.5, -1.0, 2.0), "与全市（7.5%）相差−1至2个百分点，高低不能确定", "−1 to 2 pp from Chongqing's 7.5%, above or below it"),
])
def test_growth_against_the_parent_is_worded_with_its_bounds(m, zh, en):
    whole = {"zh": narrative.whole_word("重庆市", "zh"), "en": narrative.whole_word("重庆市", "en", lambda _: "Chongqing")}
    assert narrative.gap_words(m, "zh", whole=whole["zh"], parent_figure="7.5%") == zh
    assert narrative.gap_words(m, "en", whole=whole["en"], parent_figure="7.5%") == en


def test_the_parent_as_a_whole():
    assert narrative.whole_word("重庆市", "zh") == "全市"
    assert narrative.whole_word("四川省", "zh") == "全省"
    assert narrative.whole_word("示例", "zh") == "示例"           # no level in the name: its name
    assert narrative.whole_word("重庆市", "en", lambda _: "Chongqing") == "Chongqing"


@pytest.mark.parametrize("members, zh, en", [
    (["渝北区", "江北区", "城口县", "石柱土家族自治县"], "区县", "districts and counties"),
    (["渝北区", "江北区"], "区", "districts"),
    (["城口县", "石柱土家族自治县"], "县", "counties"),
    (["示例区A", "渝北区"], "地区", "regions"),
])
def test_what_the_members_are_called(members, zh, en):
    assert narrative.members_word(members, "zh") == zh
    assert narrative.members_word(members, "en") == en
    # a level in regions.csv wins over the name
    assert narrative.members_word(["示例A"], "zh", {"示例A": {"level": "县"}}) == "县"


def test_a_rank_among_peers_says_the_set_and_its_coverage():
    kw = dict(parent="重庆市", whole="全市", members="区县")
    assert narrative.peer_rank(rank(1, 1, 38, 38), "zh", what="growth", **kw) == "增速居全市38个区县第1位"
    assert narrative.peer_rank(rank(1, 2, 38, 38), "zh", what="level", **kw) == "规模居全市38个区县第1至2位"
    assert narrative.peer_rank(rank(1, 1, 38, 5), "zh", what="rate", **kw) == "在重庆市有数据的5个区县（共38个）中居第1位"
    en = dict(parent="Chongqing", whole="Chongqing", members="districts and counties")
    assert narrative.peer_rank(rank(1, 1, 38, 5), "en", what="level", **en) == \
        "ranked No. 1 by size of the 5 districts and counties of Chongqing with data (of 38)"
    assert narrative.peer_rank(rank(2, 3, 6, 6), "en", what="growth", **en) == \
        "ranked No. 2 to 3 by growth of the 6 districts and counties of Chongqing"
    assert narrative.peer_rank(rank(2, 2, None, 3), "zh", what="level", parent="", whole="", members="地区") == \
        "规模在数据中的3个地区中居第2位"
    # in a table: the size of the set always (the prose's 38个 is in a cell), the coverage when partial
    assert narrative.rank_cell(rank(1, 2, 38, 38), "zh") == "第1至2位（共38个）"
    assert narrative.rank_cell(rank(1, 1, 38, 5), "zh") == "第1位（5个有数据/共38个）"


def test_a_nominal_growth_is_named_nominal():
    from analysis.catalog import load_catalog
    cat = load_catalog()
    m = pd.Series({"kind": "growth", "indicator": "gdp", "flags": ["current-prices"], "name_zh": "x", "name_en": "x"})
    assert narrative.display_name(m, cat, "zh") == "地区生产总值名义增长率（按现价计算）"
    assert "nominal growth at current prices" in narrative.display_name(m, cat, "en")
    assert narrative.display_name(pd.Series({**m, "flags": []}), cat, "zh") == "x"


def test_a_bounded_input_is_named_with_its_region_and_an_exact_figure_of_another_region_does_not_hide_it():
    """A region's share of its parent: the region's level is a bound, the parent's is exact (the
    same indicator, another figure) — the bound is still named."""
    from analysis.catalog import load_catalog
    obs = pd.DataFrame({"id": ["a", "b"], "region": ["甲区", "示例市"], "year": [2024, 2024],
                        "indicator": ["ind_output_above"] * 2, "measure": ["level"] * 2, "value": [4e11, 3e12],
                        "lower": [4e11, 3e12], "upper": [INF, 3e12], "unit": ["元"] * 2, "qualifier": [">", "exact"]})
    m = pd.Series({"region": "甲区", "inputs": ["a", "b"]})
    assert narrative.bounded_inputs(m, obs, load_catalog(), "zh") == "规上工业总产值仅公布为“超过4000亿元”"
    m = pd.Series({"region": "示例市", "inputs": ["a", "b"]})
    assert narrative.bounded_inputs(m, obs, load_catalog(), "zh").startswith("甲区规上工业总产值仅公布为")


def test_the_narrowest_statement_of_one_row_is_the_row_as_best_observations_gives_it(obs):
    from analysis.metrics import best_observations
    for i in range(0, len(obs), max(1, len(obs) // 60)):
        row = obs.iloc[[i]]
        got, want = narrative.narrowest(row), best_observations(row).iloc[0]
        assert got.equals(want) and got.name == want.name and list(got.index) == list(want.index)
        assert [type(v) for v in got] == [type(v) for v in want], row
