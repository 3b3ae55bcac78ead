"""analysis.request: one safe name for paths, typed notebook parameters, bounded names, allowed notebooks."""
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import limits
from analysis.errors import UsageError
from analysis.request import NotebookParameter, build, parameter_value, safe_name
from conftest import ROOT

HOSTILE_NAMES = ["..", ".", "../..", "/", "a/b", "a\\b", "示例区{data}", "{0}", "{data.__class__}", "a\x00b",
                 "a\nb", "\x1b[2J", "<script>alert(1)</script>", "$HOME", "`id`", "$(id)", "'\"", "a b", "-rf",
                 ".staging-12345678", "manifest.json", "failed", "x" * 10_000, "渝" * 10_000, "",
                 "a_0123456789", "\u202eevil", "e\u0301", "渝北区", "Yubei"]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_a_safe_name_is_one_harmless_path_component(name, tmp_path):
    safe = safe_name(name)
    assert safe and safe not in (".", "..") and not safe.startswith((".", "-"))
    assert re.fullmatch(r"[\w-]+", safe), safe
    assert len(safe.encode()) <= limits.MAX_NAME_BYTES + 11
    out = tmp_path / "out"
    folder = out / safe / "2024"
    folder.mkdir(parents=True)                       # the file system takes it (no "name too long")
    assert out.resolve() in folder.resolve().parents


def test_a_plain_name_stays_as_written_and_a_changed_one_gets_a_hash():
    assert safe_name("渝北区") == "渝北区" and safe_name("示例区A") == "示例区A"
    assert re.fullmatch(r"示例区_data__[0-9a-f]{10}", safe_name("示例区{data}"))
    assert re.fullmatch(r"x{96}_[0-9a-f]{10}", safe_name("x" * 10_000))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_distinct_names_never_share_a_folder(a, b):
    if a != b:
        assert safe_name(a) != safe_name(b)


@pytest.mark.parametrize("a, b", [("a<b>", "a>b<"), ("a_b", "a/b"), ("..", "."), ("x" * 200, "x" * 201),
                                  ("a_0123456789", safe_name("a/0123456789")), ("", "_")])
def test_names_that_look_alike_do_not_collide(a, b):
    assert safe_name(a) != safe_name(b)


def _param(kind: str = "", default: str = "''") -> NotebookParameter:
    return NotebookParameter("p", kind, default, "")


@pytest.mark.parametrize("value, kind, expected", [
    ({"a": 1}, str, "expected a string, found a mapping"),
    ([("a", 'x"+1+"')], str, "expected a string, found a list"),
    ({"a", "b"}, str, "expected a string, found a set"),
    (b"hi", str, "expected a string, found binary data"),
    (3, str, "expected a string, found the number 3"),
    (None, str, "expected a string, found nothing (null)"),
    ("3", int, "expected a whole number, found the text '3'"),
    (True, int, "expected a whole number, found the boolean true"),
    (1.5, int, "expected a whole number, found the number 1.5"),
    (float("nan"), float, "expected a finite number, found nan"),
    (float("inf"), None, "expected a finite number, found inf"),
    ("yes", bool, "expected true or false, found the text 'yes'"),
    ([1], None, "expected a string, number or true/false, found a list"),
    ("x" * (limits.MAX_PARAMETER_CHARS + 1), str, f"expected at most {limits.MAX_PARAMETER_CHARS} characters"),
])
def test_a_parameter_value_must_be_a_scalar_of_the_declared_type(value, kind, expected):
    with pytest.raises(UsageError, match="^jobs.yaml: jobs\\[2\\].parameters.p: " + re.escape(expected)):
        parameter_value(value, kind, "jobs.yaml: jobs[2].parameters.p")


@pytest.mark.parametrize("text, kind, value", [("3", int, 3), ("2.5", float, 2.5), ("3", float, 3.0),
                                               ("yes", bool, True), ("False", bool, False), ("x", str, "x"),
                                               ("3", None, "3")])
def test_values_typed_on_the_command_line_become_the_declared_type(text, kind, value):
    got = parameter_value(text, kind, "-p p", from_text=True)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text, kind", [("three", int), ("1e999", float), ("maybe", bool), ("9" * 5000, int)])
def test_text_that_is_not_of_the_declared_type_is_refused(text, kind):
    with pytest.raises(UsageError, match=r"^-p p: expected"):
        parameter_value(text, kind, "-p p", from_text=True)


@pytest.mark.parametrize("kind, default, expected", [("int", "3", int), ("", "3", int), ("", "1.5", float),
                                                     ("", "True", bool), ("", '"x"', str), ("", "None", None),
                                                     ("", "[1]", None), ("str", "None", str)])
def test_the_declared_type_comes_from_the_annotation_or_the_default(kind, default, expected):
    assert _param(kind, default).kind is expected


@pytest.mark.parametrize("kwargs, expected", [
    ({"region": "x" * (limits.MAX_NAME_CHARS + 1)},
     f"--region: expected a region name of at most {limits.MAX_NAME_CHARS} characters, found 101 characters"),
    ({"region": "渝北\x1b[2J区"}, "--region: expected a region name without control characters, found '\\x1b'"),
    ({"region": {"a": 1}}, "--region: expected a region name, found a mapping"),
    ({"title": "t" * 10_000}, f"--title: expected a string of at most {limits.MAX_TITLE_CHARS} characters, "
                              "found 10000 characters"),
    ({"title": ["a"]}, "--title: expected a string, found a list"),
    ({"year": "2024" + "0" * 5000}, "--year: expected a four-digit year, found '2024000"),
    ({"lang": {"zh": 1}}, "--lang: expected one of zh, en, found a mapping"),
    ({"formats": [{"a": 1}]}, "--format: expected html and/or pdf, found"),
    ({"data": ["x"]}, "--data: expected an observations file (.csv or .xlsx), found a list"),
])
def test_request_values_are_bounded_and_typed(kwargs, expected):
    args = {"region": "渝北区", "year": 2024, **kwargs}
    with pytest.raises(UsageError, match="^" + re.escape(expected)):
        build(**args)


@pytest.fixture
def elsewhere(tmp_path):
    """A copy of the report notebook outside the project's notebooks/ folder."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / "industry_report.ipynb", folder / "other.ipynb")
    return folder


def test_a_notebook_outside_the_notebook_folders_is_refused(elsewhere):
    from analysis.request import jobs_labels
    labels = jobs_labels("jobs.yaml", "jobs[0]")
    dotted = ROOT / "notebooks" / os.path.relpath(elsewhere / "other.ipynb", ROOT / "notebooks")   # notebooks/../../…
    for name in (str(elsewhere / "other.ipynb"), os.path.relpath(elsewhere / "other.ipynb"), str(dotted)):
        with pytest.raises(UsageError, match=r"^jobs.yaml: jobs\[0\].notebook: expected a notebook in .*notebooks.* "
                                             r"or in a folder named with --notebooks DIR, found .*, outside them$"):
            build(region="渝北区", year=2024, notebook=name, labels=labels)
    ok = build(region="渝北区", year=2024, notebook=str(elsewhere / "other.ipynb"), notebook_dirs=[elsewhere])
    assert ok.notebook == (elsewhere / "other.ipynb").resolve() and ok.stem == "other"
    assert build(region="渝北区", year=2024, notebook="other", notebook_dirs=[elsewhere]).notebook == ok.notebook


def test_the_folder_of_every_request_is_inside_out(tmp_path):
    for name in HOSTILE_NAMES:
        if name.strip() and "\x00" not in name and len(name) <= limits.MAX_NAME_CHARS and name.isprintable():
            r = build(region=name, year=2024, out=tmp_path / "out")
            assert (tmp_path / "out").resolve() in r.output(".html").resolve().parents, name
            assert json.loads(json.dumps(r.to_dict()))["region"] == name.strip()


def test_long_region_and_entity_names_in_the_data_are_refused_with_their_cell(tmp_path):
    import csv
    from analysis.data import load_observations
    from analysis.errors import DataError
    rows = list(csv.reader((ROOT / "examples" / "two_regions.csv").open(encoding="utf-8")))
    rows[1][1] = "区" * (limits.MAX_NAME_CHARS + 1)
    rows[2][2] = "企" * 5000
    with (tmp_path / "obs.csv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    shutil.copy(ROOT / "examples" / "sources.csv", tmp_path / "sources.csv")
    with pytest.raises(DataError) as exc:
        load_observations(tmp_path / "obs.csv")
    text = str(exc.value)
    assert f"obs.csv:2:region: expected region names of at most {limits.MAX_NAME_CHARS} characters, found 101 characters" in text
    assert f"obs.csv:3:entity: expected entity names of at most {limits.MAX_NAME_CHARS} characters, found 5000 characters" in text


def test_a_notebooks_parameters_are_remembered_and_read_without_papermill(tmp_path):
    """The parameters papermill finds in a notebook are remembered in the cache folder by the notebook's
    bytes (a batch's parent then checks its jobs without importing papermill); a damaged record is worked
    out again, and a changed notebook is inspected anew."""
    import subprocess
    import sys
    nb = tmp_path / "nb.ipynb"
    shutil.copy(ROOT / "notebooks" / "industry_report.ipynb", nb)
    cache = tmp_path / "cache"
    code = ("import sys, json; from pathlib import Path; from analysis.request import declared_parameters; "
            "d = declared_parameters(Path(sys.argv[1])); "
            "print(json.dumps([sorted(d), d['region'].type, 'papermill' in sys.modules]))")

    def run():
        res = subprocess.run([sys.executable, "-c", code, str(nb)], capture_output=True, text=True,
                             env={**os.environ, "ANALYSIS_CACHE": str(cache)}, timeout=120)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)
    names, kind, imported = run()
    assert "region" in names and kind == "str" and imported
    records = list((cache / "notebooks").glob("*.json"))
    assert len(records) == 1
    assert run() == [names, kind, False]                      # remembered: papermill not imported
    records[0].write_text("{not json", encoding="utf-8")
    assert run() == [names, kind, True]                       # damaged: inspected again …
    assert run() == [names, kind, False]                      # … and remembered again
    doc = json.loads(nb.read_text(encoding="utf-8"))
    cell = next(c for c in doc["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    cell["source"] = "".join(cell["source"]) + "\nextra_one: int = 3  # another\n"
    nb.write_text(json.dumps(doc), encoding="utf-8")
    names2, _, imported = run()
    assert imported and set(names2) == set(names) | {"extra_one"}
    assert len(list((cache / "notebooks").glob("*.json"))) == 2
