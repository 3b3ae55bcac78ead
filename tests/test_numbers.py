import math

import pytest

from analysis.numbers import (NumberFormatError, canonical_qualifier,
                              parse_value, unit_info)


@pytest.mark.parametrize("text, value, qualifier, unit, half", [
    ("4000", 4000, None, None, 0.5),
    ("4,000", 4000, None, None, 0.5),
    ("１,２３４.５", 1234.5, None, None, 0.05),
    ("４０００", 4000, None, None, 0.5),
    ("1.2万", 12000, None, None, 500),
    ("3亿", 3e8, None, None, 0.5e8),
    ("20%", 20, None, "%", 0.5),
    ("２０％", 20, None, "%", 0.5),
    ("5.29%", 5.29, None, "%", 0.005),
    ("5.6倍", 5.6, None, "倍", 0.05),
    ("−3.5", -3.5, None, None, 0.05),
    ("－3.5", -3.5, None, None, 0.05),
    ("-0.7个百分点", -0.7, None, "百分点", 0.05),
    ("超4000", 4000, ">", None, 0.5),
    ("突破4,000", 4000, ">", None, 0.5),
    ("逾千", 1000, ">", None, 500),  # Chinese numeral: precision of its last digit
    ("30余", 30, "余", None, 0.5),
    ("近3", 3, "近", None, 0.5),
    ("约20%", 20, "≈", "%", 0.5),
    ("20%左右", 20, "≈", "%", 0.5),
    ("不低于15", 15, "≥", None, 0.5),
    ("六成", 6, None, "成", 0.5),
    ("一千三百", 1300, None, None, 50),
    (" 129.2 ", 129.2, None, None, 0.05),
])
def test_parse_value(text, value, qualifier, unit, half):
    p = parse_value(text)
    assert p.value == pytest.approx(value)
    assert p.qualifier == qualifier
    assert p.unit == unit
    assert p.half_width == pytest.approx(half)


@pytest.mark.parametrize("text", ["", "abc", "1,2", "12,34", "4000亿元", "1.2.3", "--3", "%", "超"])
def test_parse_value_rejects(text):
    with pytest.raises(NumberFormatError):
        parse_value(text)


def test_round_step_for_yu():
    assert parse_value("30余").round_step == 10
    assert parse_value("1300余").round_step == 100
    assert parse_value("5").round_step == 1


@pytest.mark.parametrize("word, canon", [
    ("超", ">"), ("超过", ">"), ("突破", ">"), ("逾", ">"), ("以上", ">"), ("多", ">"),
    ("不低于", "≥"), ("至少", "≥"), (">=", "≥"), ("近", "近"), ("接近", "近"), ("将近", "近"),
    ("不超过", "≤"), ("以内", "≤"), ("约", "≈"), ("左右", "≈"), ("余", "余"), ("", "exact"),
    ("exact", "exact"), ("≤", "≤"), ("<", "<"),
])
def test_qualifier_words(word, canon):
    assert canonical_qualifier(word) == canon


def test_unknown_qualifier():
    assert canonical_qualifier("大概率") is None


@pytest.mark.parametrize("unit, base, factor", [
    ("亿元", "元", 1e8), ("万元", "元", 1e4), ("元", "元", 1), ("万辆", "辆", 1e4),
    ("家", "家", 1), ("%", "%", 1), ("万台（套）", "台(套)", 1e4), ("成", "%", 10),
])
def test_units(unit, base, factor):
    assert unit_info(unit)[:2] == (base, factor)


def test_unknown_unit():
    assert unit_info("亿美元") is None


@pytest.mark.parametrize("value, q, half, step, lo, hi", [
    (5.29, "exact", 0.005, 0.01, 5.285, 5.295),
    (4000, ">", 0.5, 1000, 4000, math.inf),
    (30, "余", 0.5, 10, 30, 40),
    (100, "近", 0.5, 100, 90, 100),
    (60, "≈", 5, 10, 55, 65),
    (100, "≈", 0.5, 100, 95, 105),
    (10, "≤", 0.5, 10, 0, 10),
])
def test_bounds(value, q, half, step, lo, hi):
    from analysis.data import bounds_array
    got = bounds_array([value], [q], [half], [step], [0.0])
    assert got[0][0] == pytest.approx(lo) and got[1][0] == pytest.approx(hi)


@pytest.mark.parametrize("value, lower, upper, unit, lang, text", [
    (4e11, 4e11, 4e11, "元", "zh", "4000亿元"),
    (4e11, 4e11, 4e11, "元", "en", "400 bn yuan"),
    (4e12, 4e12, 4e12, "元", "en", "4,000 bn yuan"),
    (1.292e10, 1.292e10, 1.292e10, "元", "zh", "129.2亿元"),
    (1.292e10, 1.292e10, 1.292e10, "元", "en", "12.92 bn yuan"),
    (230000, 230000, 230000, "辆", "zh", "23万辆"),
    (47.5, 0, 47.51, "%", "zh", "不超过47.5%"),
    (47.5, 0, 47.51, "%", "en", "at most 47.5%"),
    (4e11, 4e11, math.inf, "元", "zh", "超过4000亿元"),
    (25, 0, math.inf, "%", "zh", "约25%（上下限不确定）"),
    (-3.25, -3.25, -3.25, "%", "zh", "−3.25%"),
])
def test_describe_from_the_message_catalog(value, lower, upper, unit, lang, text):
    from analysis.numbers import describe
    assert describe(value, lower, upper, unit, lang=lang, decimals=2 if value == -3.25 else 1) == text
