"""The catalog file: its JSON Schema, worded as file: key.path: expected …, found …."""
import pandas as pd
import pytest

from analysis.catalog import load_catalog
from analysis.errors import CatalogError
from conftest import ROOT

BASE = (ROOT / "data" / "catalog.yaml").read_text(encoding="utf-8")


def _catalog(tmp_path, text):
    f = tmp_path / "catalog.yaml"
    f.write_text(text, encoding="utf-8")
    return f


@pytest.mark.parametrize("old, new, message", [
    ("  approx_band: 0.05", "  approx_band: five", "settings.approx_band: expected a fraction between 0 and 1, found 'five'"),
    ("  approx_band: 0.05", "  approx_band: 5", "settings.approx_band: expected a fraction between 0 and 1, found 5"),
    ("    unit: 亿元\n", "    unit: [亿元]\n", "unit: expected a unit such as 亿元, 家 or %, found ['亿元']"),
    ("    unit: 亿元\n", "    unit: 亿美元\n", "unit: expected a known unit, found '亿美元'"),
    ("    aliases: [", "    alias: [", "indicators.ind_output_above.alias: expected one of zh, en, unit, aliases, definition, scope, growth_basis"),
    ("indicators:\n", "indicatorz: {}\nindicators:\n", "catalog.yaml: indicatorz: expected one of settings, indicators, metrics, regions, scopes, peer_sets, names, report, found 'indicatorz'"),
    ("  headline: [", "  headline: 3\n  x: [", "report.headline: expected a list of indicator codes, found 3"),
])
def test_wrong_values_are_named_by_their_key(tmp_path, old, new, message):
    assert old in BASE
    with pytest.raises(CatalogError) as exc:
        load_catalog(_catalog(tmp_path, BASE.replace(old, new, 1)))
    assert message in str(exc.value) and "catalog.yaml: " in str(exc.value)


def test_every_problem_is_listed(tmp_path):
    text = BASE.replace("  approx_band: 0.05", "  approx_band: -1", 1).replace("  near_band: 0.10", "  near_band: x", 1)
    with pytest.raises(CatalogError) as exc:
        load_catalog(_catalog(tmp_path, text))
    assert "settings.approx_band" in str(exc.value) and "settings.near_band" in str(exc.value)


def test_not_a_mapping(tmp_path):
    with pytest.raises(CatalogError, match="top level: expected a mapping with an 'indicators' mapping, found"):
        load_catalog(_catalog(tmp_path, "- just\n- a list\n"))


# --- scopes: declared, nested, and the caveats they give -----------------------------------------

def test_scopes_nest():
    cat = load_catalog()
    assert cat.scope_chain("above_designated_size") == ["above_designated_size", "all_industry", "secondary_sector",
                                                        "whole_economy"]
    assert cat.scope_within("above_designated_size", "whole_economy") and cat.scope_within("all_industry", "all_industry")
    assert not cat.scope_within("whole_economy", "all_industry") and not cat.scope_within("primary_sector", "all_industry")
    assert cat["gdp"].scope == "whole_economy" and cat["ind_va"].scope == "all_industry"


@pytest.mark.parametrize("old, new, message", [
    ("    scope: all_industry\n", "    scope: all_industri\n",
     "indicators.ind_output.scope: expected a scope declared under scopes (whole_economy, primary_sector, "
     "secondary_sector, tertiary_sector, all_industry, above_designated_size, high_tech_manufacturing), found "
     "'all_industri' (did you mean 'all_industry'?)"),
    ("  whole_economy: {zh: 全部经济活动, en: the whole economy}", "  whole_economy: {zh: 全部经济活动, en: x, within: tertiary}",
     "scopes.whole_economy.within: expected a scope declared under scopes"),
    ("  whole_economy: {zh: 全部经济活动, en: the whole economy}",
     "  whole_economy: {zh: 全部经济活动, en: x, within: above_designated_size}",
     "scopes.whole_economy.within: expected a broader scope, found a cycle whole_economy → above_designated_size → "
     "all_industry → secondary_sector → whole_economy"),
    ("  whole_economy: {zh: 全部经济活动, en: the whole economy}", "  whole_economy: {zh: 全部经济活动}",
     "scopes.whole_economy: expected a value for en, found none"),
])
def test_bad_scopes(tmp_path, old, new, message):
    assert old in BASE
    with pytest.raises(CatalogError) as exc:
        load_catalog(_catalog(tmp_path, BASE.replace(old, new, 1)))
    assert message in str(exc.value), str(exc.value)


def _flags(metrics, code):
    rows = metrics[metrics["metric"] == code]
    assert len(rows) == 1, code
    return set(rows.iloc[0]["flags"])


@pytest.fixture(scope="module")
def panel():
    """One region with levels of every scope, a target of 工业总产值 and of 规上工业总产值."""
    from analysis.data import make_observations
    rows = [("gdp", "level", 2024, 3000e8), ("ind_va", "level", 2024, 1200e8), ("ind_va_above", "level", 2024, 1000e8),
            ("hightech_va", "level", 2024, 300e8), ("auto_output", "level", 2024, 900e8),
            ("ind_output_above", "level", 2024, 4000e8), ("ind_output", "level", 2024, 4500e8),
            ("ind_output", "target", 2027, 7000e8)]
    frame = pd.DataFrame([dict(region="R", year=y, indicator=i, measure=m, value=v, unit="元") for i, m, y, v in rows])
    return make_observations(frame)


def test_a_part_within_its_whole_needs_no_caveat(panel):
    from analysis.metrics import compute
    m = compute(panel)
    for code in ("share_ind_va_above_gdp", "share_ind_va_gdp", "share_hightech_va"):
        assert not {"scope-mismatch", "scope-unverified"} & _flags(m, code), code
    assert "scope-unverified" in _flags(m, "share_auto_output")          # 汽车产值 declares no scope
    # a target of 工业总产值 from a level of 规上工业总产值: different scopes, a mismatch (the level of 工业总产值 itself: none)
    rg = m[m["metric"] == "required_growth_ind_output"]
    assert len(rg) == 1 and "scope-mismatch" not in set(rg.iloc[0]["flags"])


def test_a_part_broader_than_its_whole_and_a_target_of_another_scope_are_mismatches(tmp_path, panel):
    from analysis import narrative
    from analysis.metrics import compute
    extra = """  - code: share_gdp_in_va
    kind: share
    part: gdp
    whole: ind_va_above
  - code: required_growth_above
    kind: required_growth
    target: ind_output
    level: [ind_output_above]
"""
    cat = load_catalog(_catalog(tmp_path, BASE.replace("metrics:\n", "metrics:\n" + extra, 1)))
    m = compute(panel, catalog=cat)
    assert "scope-mismatch" in _flags(m, "share_gdp_in_va")
    assert "scope-mismatch" in _flags(m, "required_growth_above")
    row = m[m["metric"] == "required_growth_above"].iloc[0]
    zh = narrative.metric_sentence(row, panel, cat, "zh")
    assert "规上工业总产值（规模以上工业）与工业总产值（全部工业）口径不同" in zh
    assert "由于工业总产值（全部工业）的口径宽于规上工业总产值（规模以上工业），所需增速实际应低于此值" in zh
    en = narrative.metric_sentence(row, panel, cat, "en")
    assert "cover different scopes" in en and "enterprises above designated size" in en


def test_a_target_narrower_than_its_level_needs_more_growth(tmp_path):
    from analysis import narrative
    from analysis.data import make_observations
    from analysis.metrics import compute
    extra = "  - code: required_growth_above\n    kind: required_growth\n    target: ind_output_above\n    level: [ind_output]\n"
    cat = load_catalog(_catalog(tmp_path, BASE.replace("metrics:\n", "metrics:\n" + extra, 1)))
    obs = make_observations(pd.DataFrame([dict(region="R", year=2024, indicator="ind_output", measure="level", value=5e11, unit="元"),
                                          dict(region="R", year=2027, indicator="ind_output_above", measure="target", value=6e11, unit="元")]))
    row = compute(obs, catalog=cat).query("metric == 'required_growth_above'").iloc[0]
    assert "scope-mismatch" in set(row["flags"])
    assert "所需增速实际应高于此值" in narrative.metric_sentence(row, obs, cat, "zh")


def test_unverified_caveat_names_the_scope_it_could_not_check(panel):
    from analysis import narrative
    from analysis.metrics import compute
    cat = load_catalog()
    row = compute(panel).query("metric == 'share_auto_output'").iloc[0]
    zh = narrative.metric_sentence(row, panel, cat, "zh")
    assert "汽车产值未注明统计口径，是否与规上工业总产值（规模以上工业）口径一致未经核实" in zh
    assert "规上企业" not in zh


def test_all_industry_value_added_resolves_and_is_suggested_first():
    cat = load_catalog()
    assert cat.resolve("工业增加值") == "ind_va" and cat.resolve("全部工业增加值") == "ind_va"
    assert cat.resolve("规上工业增加值") == "ind_va_above" and cat.resolve("研发经费投入强度") == "rd_intensity"
    assert cat.suggest("工业增加值总量")[0] == "ind_va (工业增加值)"


def test_data_on_all_industry_value_added_is_accepted(tmp_path):
    """工业增加值 (all industry) is an indicator of its own, not a misspelt 规上工业增加值."""
    from analysis.data import load_observations
    header = (ROOT / "data" / "observations.csv").read_text(encoding="utf-8").splitlines()[0]
    f = tmp_path / "obs.csv"
    f.write_text("\n".join([header, "a1,某区,,2024,,工业增加值,level,1500,亿元,,,X,q,",
                            "a2,某区,,2024,,地区生产总值,level,3000,亿元,,,X,q,"]) + "\n", encoding="utf-8")
    (tmp_path / "sources.csv").write_text("id,title,file\nX,t,\n", encoding="utf-8")
    obs = load_observations(f)
    assert list(obs["indicator"]) == ["ind_va", "gdp"]


def test_a_checked_catalog_is_remembered_by_its_text_and_read_back_without_parsing(tmp_path, monkeypatch):
    """The schema-checked document is remembered in the cache folder: read back, it is the document the
    YAML gave; a damaged record is worked out again; a changed text, or a catalog the schema refuses,
    is parsed and checked (the second is never remembered)."""
    import json

    from analysis import catalog, yamlfile
    monkeypatch.setenv("ANALYSIS_CACHE", str(tmp_path / "cache"))
    parsed = []
    real = yamlfile.loads
    monkeypatch.setattr(yamlfile, "loads", lambda *a, **k: parsed.append(a[1]) or real(*a, **k))
    path = tmp_path / "catalog.yaml"
    text = (ROOT / "data" / "catalog.yaml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first, problems = catalog._checked_doc(path, text)
    assert problems == [] and len(parsed) == 1
    [record] = (tmp_path / "cache" / "catalogs").glob("*.json")
    again, problems = catalog._checked_doc(path, text)
    assert problems == [] and len(parsed) == 1 and again == first        # read back, not parsed
    assert json.loads(record.read_text(encoding="utf-8"))["doc"] == first
    record.write_text('{"doc": [', encoding="utf-8")                        # damaged: parsed, rewritten
    assert catalog._checked_doc(path, text) == (first, []) and len(parsed) == 2
    assert json.loads(record.read_text(encoding="utf-8"))["doc"] == first
    other = text.replace("indicators:\n", "indicators:\n  extra_one: {zh: 额外, en: extra, unit: 亿元}\n", 1)
    doc, _ = catalog._checked_doc(path, other)
    assert "extra_one" in doc["indicators"] and len(parsed) == 3
    assert len(list((tmp_path / "cache" / "catalogs").glob("*.json"))) == 2
    bad = text.replace("  approx_band: 0.05", "  approx_band: five")
    for _ in range(2):                                                       # refused each time, never remembered
        _, problems = catalog._checked_doc(path, bad)
        assert any("approx_band" in p for p in problems)
    assert len(parsed) == 5 and len(list((tmp_path / "cache" / "catalogs").glob("*.json"))) == 2


def test_a_remembered_catalog_is_read_without_jsonschema(tmp_path):
    """In a new process the second time: the catalog is the same, and jsonschema is not imported."""
    import json
    import subprocess

    from conftest import BIN
    code = ("import json, sys\nfrom analysis.catalog import load_catalog\nc = load_catalog()\n"
            "print(json.dumps([len(c.indicators), len(c.metrics), 'jsonschema' in sys.modules]))")
    env = {**__import__("os").environ, "ANALYSIS_CACHE": str(tmp_path / "cache")}
    runs = [json.loads(subprocess.run([str(BIN / "python"), "-c", code], capture_output=True, text=True, env=env,
                                      cwd=ROOT, check=True).stdout) for _ in range(2)]
    assert runs[0][:2] == runs[1][:2] and runs[0][0] > 20
    assert runs[0][2] is True and runs[1][2] is False
