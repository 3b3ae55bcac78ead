"""The catalog file: its JSON Schema, worded as file: key.path: expected …, found …."""
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
    ("indicators:\n", "indicatorz: {}\nindicators:\n", "catalog.yaml: indicatorz: expected one of settings, indicators, metrics, regions, names, report, found 'indicatorz'"),
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
