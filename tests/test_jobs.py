"""analysis.jobs: a jobs file to report requests (schema errors, defaults, matrix, labels, data checks).

The CLI's exit codes and messages for whole files are in test_batch.py (BAD_JOBS).
"""
import os
import re
import shutil
from pathlib import Path

import pytest

from analysis import jobs
from analysis.errors import AnalysisError, UsageError
from conftest import DATA, ROOT

EXAMPLE = ROOT / "examples" / "two_regions.csv"


def write(tmp_path, text):
    f = tmp_path / "jobs.yaml"
    f.write_text(text, encoding="utf-8")
    return f


def test_schema_is_a_valid_json_schema():
    from jsonschema import Draft202012Validator
    Draft202012Validator.check_schema(jobs.SCHEMA)


def test_defaults_matrix_and_jobs_become_requests(tmp_path):
    (tmp_path / "sub").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "sub" / "obs.csv")
    f = write(tmp_path, """
defaults: {formats: [html], lang: en}
matrix: {region: [渝北区], year: [2023, 2024], lang: [zh]}
jobs:
  - {parameters: {region: 示例区A, year: '2024', title: 标题}, data: sub/obs.csv, formats: pdf}
  - {parameters: {region: 示例区B, year: 2024}, data: sub/obs.csv}
""")
    reqs = jobs.load_jobs(f, out=tmp_path / "out")
    assert [r.key for r in reqs][:2] == ["渝北区/2023/zh", "渝北区/2024/zh"]  # the matrix's lang beats the defaults'
    a, b = reqs[2], reqs[3]
    assert (a.region, a.year, a.title, a.lang, a.formats) == ("示例区A", 2024, "标题", "en", ("pdf",))
    assert a.data == (tmp_path / "sub" / "obs.csv").resolve()  # relative to the jobs file's folder
    assert a.parameters == {} and a.out == tmp_path / "out"
    assert b.formats == ("html",) and b.lang == "en"
    assert reqs[0].data == DATA.resolve()  # not beside the jobs file: the project's
    assert a.labels["year"] == f"{f}: jobs[0].parameters.year"


@pytest.mark.parametrize("text, label", [
    ("jobs:\n  - {parameters: {region: 渝北区, year: 2024, lang: fr}}\n", "jobs[0].parameters.lang"),
    ("jobs:\n  - {parameters: {region: 渝北区, year: 2024}, lang: fr}\n", "jobs[0].lang"),
    ("defaults: {parameters: {lang: fr}}\nmatrix: {region: [渝北区], year: [2024]}\n", "matrix[0].parameters.lang"),
])
def test_lang_is_named_where_it_was_written(tmp_path, text, label):
    with pytest.raises(UsageError, match=re.escape(f"jobs.yaml: {label}: expected one of zh, en, found 'fr'")):
        jobs.load_jobs(write(tmp_path, text))


def test_the_most_relevant_schema_error_is_reported(tmp_path):
    # an unknown top key beats "neither a matrix nor jobs"; the first of two bad jobs is named
    with pytest.raises(UsageError, match=r"jobs\.yaml: jobz: expected one of defaults, jobs, matrix, found 'jobz'$"):
        jobs.read(write(tmp_path, "jobz: []\n"))
    with pytest.raises(UsageError, match=r"jobs\.yaml: jobs\[1\]\.x: expected one of"):
        jobs.read(write(tmp_path, "jobs:\n  - {}\n  - {x: 1}\n  - {y: 1}\n"))
    with pytest.raises(UsageError, match=r"jobs\.yaml: top level: expected a mapping with defaults, matrix and/or jobs, "
                                         r"found \['a'\]"):
        jobs.read(write(tmp_path, "- a\n"))


def test_matrix_limit(tmp_path):
    ok = {"matrix": {"region": [f"r{i}" for i in range(100)], "year": list(range(1901, 2001))}}
    assert len(jobs._expand(ok, "j")) == jobs.MAX_COMBINATIONS
    ok["matrix"]["lang"] = ["zh", "en"]
    with pytest.raises(UsageError, match=r"j: matrix: expected at most 10000 combinations, found 20000 "
                                         r"\(100 region × 100 year × 2 lang\)"):
        jobs._expand(ok, "j")


def test_check_data_loads_each_data_file_once(tmp_path, monkeypatch):
    import analysis.data
    calls = []
    real = analysis.data.load_observations

    def counting(path, **kw):
        calls.append(Path(path))
        return real(path, **kw)
    monkeypatch.setattr(analysis.data, "load_observations", counting)
    f = write(tmp_path, f"""
jobs:
  - {{parameters: {{region: 示例区A, year: 2024}}, data: {EXAMPLE}}}
  - {{parameters: {{region: 示例区B, year: 2027}}, data: {EXAMPLE}}}
  - {{parameters: {{region: 示例区C, year: 2024}}, data: {EXAMPLE}}}
  - {{parameters: {{region: 渝北区, year: 2024}}}}
""")
    reqs = jobs.load_jobs(f)
    failed = jobs.check_data(reqs)
    assert sorted(calls) == sorted([EXAMPLE.resolve(), DATA.resolve()])
    assert set(failed) == {reqs[1].key, reqs[2].key}
    assert str(failed[reqs[1].key]) == (f"{f}: jobs[1].parameters.year: expected a year with observed data for 示例区B "
                                        "(2023, 2024), found 2027")
    assert str(failed[reqs[2].key]).startswith(f"{f}: jobs[2].parameters.region: expected one of the regions")


def test_a_data_file_that_cannot_be_read_fails_its_jobs_only(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,region\n1,x\n", encoding="utf-8")
    f = write(tmp_path, """
jobs:
  - {parameters: {region: x, year: 2024}, data: bad.csv}
  - {parameters: {region: x, year: 2023}, data: bad.csv}
  - {parameters: {region: 渝北区, year: 2024}}
""")
    reqs = jobs.load_jobs(f)
    failed = jobs.check_data(reqs)
    assert set(failed) == {reqs[0].key, reqs[1].key}
    assert all(isinstance(e, AnalysisError) for e in failed.values())


@pytest.mark.parametrize("text, where", [
    ("defaults: {parameters: {yaer: 2024}}\njobs: [{parameters: {region: 渝北区, year: 2024}}]\n",
     "defaults.parameters.yaer"),
    ("matrix: {region: [渝北区], yaer: [2024]}\n", "matrix.yaer"),
    ("jobs: [{parameters: {region: 渝北区, year: 2024, yaer: 1}}]\n", r"jobs\[0\].parameters.yaer"),
])
def test_a_misspelt_parameter_is_named_where_it_is_written(tmp_path, text, where):
    with pytest.raises(UsageError, match=rf"jobs\.yaml: {where}: expected one of region, year, lang, title, found 'yaer'"):
        jobs.load_jobs(write(tmp_path, text))


# ------------------------------------------------------------------ hostile jobs files (issue 11)

MARK = "/tmp/analysis-test-pwned"
HOSTILE = f'"+str(__import__("os").system("touch {MARK}"))+"'


@pytest.fixture
def notebooks(tmp_path):
    """A folder with a copy of the report notebook that declares two more parameters: note (str), n (int)."""
    import json
    folder = tmp_path / "nbs"
    folder.mkdir()
    nb = json.loads((ROOT / "notebooks" / "industry_report.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    cell["source"] = "".join(cell["source"]) + '\nnote: str = ""  # a note\nn: int = 1  # a count\n'
    (folder / "custom.ipynb").write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    return folder


VALUES = {  # YAML for a value of parameter note (declared str) and what the message says was found
    "omap": (f"!!omap [{{a: '{HOSTILE}'}}]", "the tag !!omap"),
    "pairs": (f"!!pairs [{{a: '{HOSTILE}'}}]", "the tag !!pairs"),
    "set": ("!!set {a, b}", "the tag !!set"),
    "binary": ("!!binary aGVsbG8=", "the tag !!binary"),
    "timestamp": ("!!timestamp 2024-01-01", "the tag !!timestamp"),
    "python": ("!!python/object/apply:os.system ['touch /tmp/x']", "the tag !!python/object/apply:os.system"),
    "list of pairs": (f"[[a, '{HOSTILE}']]", "a list"),
    "list": ("[a, b]", "a list"),
    "mapping": (f"{{a: '{HOSTILE}'}}", "a mapping"),
    "number": ("3", "the number 3"),
    "null": ("null", "nothing (null)"),
    "bool": ("true", "the boolean true"),
}


@pytest.mark.parametrize("yaml_value, found", VALUES.values(), ids=VALUES.keys())
@pytest.mark.parametrize("where", ["jobs", "matrix", "defaults"])
def test_a_parameter_value_is_a_scalar_of_its_declared_type(tmp_path, notebooks, yaml_value, found, where):
    text = {"jobs": f"jobs:\n  - {{parameters: {{region: 渝北区, year: 2024, note: {yaml_value}}}, notebook: custom}}\n",
            "matrix": f"defaults: {{notebook: custom}}\nmatrix: {{region: [渝北区], year: [2024], note: [{yaml_value}]}}\n",
            "defaults": f"defaults: {{notebook: custom, parameters: {{note: {yaml_value}}}}}\n"
                        "jobs: [{parameters: {region: 渝北区, year: 2024}}]\n"}[where]
    label = {"jobs": r"jobs:2", "matrix": r"matrix\[0\]\.parameters\.note", "defaults": r"jobs\[0\]\.parameters\.note"}
    if found.startswith("the tag"):
        expected = rf"jobs\.yaml:\d+: expected plain YAML values .*, found {re.escape(found)}$"
    else:
        where_re = label[where] if where != "jobs" else r"jobs\[0\]\.parameters\.note"
        expected = rf"jobs\.yaml: {where_re}: expected a string, found {re.escape(found)}$"
    with pytest.raises(UsageError, match=expected):
        jobs.load_jobs(write(tmp_path, text), notebook_dirs=[notebooks])
    assert not Path(MARK).exists()


@pytest.mark.parametrize("yaml_value, found", [("'3'", "the text '3'"), ("3.5", "the number 3.5"), ("true", "the boolean true"),
                                               (".nan", "the number nan"), ("[1]", "a list")])
def test_an_int_parameter_takes_whole_numbers_only(tmp_path, notebooks, yaml_value, found):
    text = f"jobs:\n  - {{parameters: {{region: 渝北区, year: 2024, n: {yaml_value}}}, notebook: custom}}\n"
    with pytest.raises(UsageError, match=rf"jobs\.yaml: jobs\[0\]\.parameters\.n: expected a whole number, found "
                                         rf"{re.escape(found)}$"):
        jobs.load_jobs(write(tmp_path, text), notebook_dirs=[notebooks])


def test_plain_values_of_the_declared_types_pass_unchanged(tmp_path, notebooks):
    text = f"jobs:\n  - {{parameters: {{region: 渝北区, year: 2024, note: '{HOSTILE}', n: 3}}, notebook: custom}}\n"
    [r] = jobs.load_jobs(write(tmp_path, text), notebook_dirs=[notebooks])
    assert r.parameters == {"note": HOSTILE, "n": 3}
    from papermill.translators import PythonTranslator
    import ast
    code = PythonTranslator.codify(r.notebook_parameters())
    assert ast.literal_eval(code.split("note = ", 1)[1].splitlines()[0]) == HOSTILE   # a string literal, not code


@pytest.mark.parametrize("text, expected", [
    ("jobs:\n  - {parameters: [region, 渝北区]}\n",
     r"jobs\.yaml: jobs\[0\]\.parameters: expected a mapping of parameter names to values, found \['region', '渝北区'\]"),
    ("jobs:\n  - {parameters: {region: [渝北区], year: 2024}}\n",
     r"jobs\.yaml: jobs\[0\]\.parameters\.region: expected a region name, found a list"),
    ("jobs:\n  - {parameters: {region: 渝北区, year: 2024, title: {a: 1}}}\n",
     r"jobs\.yaml: jobs\[0\]\.parameters\.title: expected a string, found a mapping"),
    ("jobs:\n  - {parameters: {region: 渝北区, year: 2024}}\n  - {parameters: {region: 渝北区, year: 2024, title: " +
     "x" * 201 + "}}\n", r"jobs\.yaml: jobs\[1\]\.parameters\.title: expected a string of at most 200 characters, "
                         r"found 201 characters"),
    ("jobs:\n  - {parameters: {region: 渝北区, year: 2024}, notebook: ../../x.ipynb}\n",
     r"jobs\.yaml: jobs\[0\]\.notebook: expected one of .* or a path to an \.ipynb file, found '\.\./\.\./x\.ipynb'"),
])
def test_wrong_shapes_and_types_are_refused_with_their_path(tmp_path, text, expected):
    with pytest.raises(UsageError, match=expected):
        jobs.load_jobs(write(tmp_path, text))


def test_a_notebook_outside_the_allowed_folders_is_refused(tmp_path, notebooks):
    outside = notebooks / "custom.ipynb"
    rel = os.path.relpath(outside, tmp_path)
    for name in (str(outside), rel, f"../{tmp_path.name}/nbs/custom.ipynb"):
        with pytest.raises(UsageError, match=r"jobs\.yaml: jobs\[0\]\.notebook: expected a notebook in .* or in a "
                                             r"folder named with --notebooks DIR, found .*, outside them"):
            jobs.load_jobs(write(tmp_path, f"jobs:\n  - {{parameters: {{region: 渝北区, year: 2024}}, notebook: '{name}'}}\n"))
    [ok] = jobs.load_jobs(write(tmp_path, f"jobs:\n  - {{parameters: {{region: 渝北区, year: 2024}}, notebook: '{rel}'}}\n"),
                          notebook_dirs=[notebooks])
    assert ok.notebook == outside.resolve()


def test_jobs_that_would_write_the_same_files_are_refused_naming_both(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "other.csv")
    text = """
jobs:
  - {parameters: {region: 渝北区, year: 2024, title: A}}
  - {parameters: {region: 渝北区, year: 2024, lang: en}}
  - {parameters: {region: 渝北区, year: 2024, title: B}, data: other.csv}
"""
    with pytest.raises(UsageError, match=r"jobs\.yaml: jobs\[2\]: expected a report with files of its own, found the "
                                         r"files of jobs\[0\] \(.*/渝北区/2024/industry_report\.\*\): the two differ only in "
                                         r"data, title; "):
        jobs.load_jobs(write(tmp_path, text), out=tmp_path / "out")
    text = "matrix: {region: [渝北区], year: [2024], title: [A, B]}\n"
    with pytest.raises(UsageError, match=r"matrix\[1\]: .* files of matrix\[0\] .* differ only in title"):
        jobs.load_jobs(write(tmp_path, text))


def test_a_billion_laughs_jobs_file_is_refused_at_once(tmp_path):
    import time
    lines = ["x: &a [渝北区, 渝北区, 渝北区, 渝北区, 渝北区, 渝北区, 渝北区, 渝北区, 渝北区, 渝北区]"]
    for i in range(1, 10):
        lines.append(f"x{i}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]")
    f = write(tmp_path, "\n".join(lines) + "\nmatrix: {region: *j, year: [2024]}\n")
    t = time.perf_counter()
    with pytest.raises(UsageError, match=r"jobs\.yaml:\d+: expected at most 100000 values with aliases expanded"):
        jobs.load_jobs(f)
    assert time.perf_counter() - t < 2


def test_ten_thousand_jobs_are_all_checked_before_any_runs_within_seconds(tmp_path):
    import time
    regions = ", ".join(f"r{i}" for i in range(100))
    years = ", ".join(str(y) for y in range(1951, 2051))
    f = write(tmp_path, f"matrix: {{region: [{regions}], year: [{years}]}}\njobs: [{{parameters: {{region: x, year: 2024}}}}]\n")
    with pytest.raises(UsageError, match=r"expected at most 10000 jobs, found 10001 \(10000 from the matrix, 1 listed\)"):
        jobs.load_jobs(f)
    f = write(tmp_path, f"matrix: {{region: [{regions}], year: [{years}]}}\n")
    t = time.perf_counter()
    reqs = jobs.load_jobs(f, out=tmp_path / "out")
    assert len(reqs) == 10_000 and time.perf_counter() - t < 30
    bad = write(tmp_path, f"matrix: {{region: [{regions}], year: [{years}], lang: [zh, fr]}}\n")
    with pytest.raises(UsageError, match="expected at most 10000 combinations, found 20000"):
        jobs.load_jobs(bad)


# ------------------------------------------------------------------ data and catalogs stay inside

@pytest.fixture
def elsewhere(tmp_path):
    """A jobs folder and, beside it, a folder outside it with a data file and a catalog."""
    (tmp_path / "jobs").mkdir()
    out = tmp_path / "elsewhere"
    out.mkdir()
    shutil.copy(DATA, out / "obs.csv")
    shutil.copy(ROOT / "data" / "catalog.yaml", out / "catalog.yaml")
    return tmp_path


@pytest.mark.parametrize("entry, where, found", [
    ("jobs: [{parameters: {region: 渝北区, year: 2024}, data: ../elsewhere/obs.csv}]", "jobs[0].data",
     "'../elsewhere/obs.csv', which is {e}/obs.csv"),
    ("defaults: {{catalog: {e}/catalog.yaml}}\nmatrix: {{region: [渝北区], year: [2024]}}", "defaults.catalog",
     "'{e}/catalog.yaml', which is {e}/catalog.yaml"),
    ("jobs: [{parameters: {region: 渝北区, year: 2024}, data: link.csv}]", "jobs[0].data",
     "'link.csv', which is {e}/obs.csv"),                               # a link out counts as outside
    ("jobs: [{{parameters: {{region: 渝北区, year: 2024}}, data: '{e}/book.xlsx#Sheet1'}}]", "jobs[0].data",
     "'{e}/book.xlsx#Sheet1', which is {e}/book.xlsx"),                # refused before looking for it
])
def test_data_and_catalog_outside_the_project_are_refused(elsewhere, entry, where, found):
    e = elsewhere / "elsewhere"
    (elsewhere / "jobs" / "link.csv").symlink_to(e / "obs.csv")
    f = write(elsewhere / "jobs", entry.format(e=e) if "{e}" in entry else entry)
    with pytest.raises(UsageError) as exc:
        jobs.load_jobs(f, input_dirs=())
    assert str(exc.value) == (f"{f}: {where}: expected a file inside the project or the jobs file's folder ({ROOT}, "
                              f"{elsewhere / 'jobs'}), or in a folder allowed with --allow-outside DIR, found "
                              + found.format(e=e))
    if "#" not in entry:
        assert jobs.load_jobs(f, input_dirs=(e,))          # the operator allows the folder


def test_allow_outside_on_the_command_line(elsewhere, cli):
    f = write(elsewhere / "jobs", "jobs: [{parameters: {region: 渝北区, year: 1999}, data: ../elsewhere/obs.csv}]")
    code, _, err = cli("batch", f, "--out", elsewhere / "out")
    assert code == 2 and "jobs[0].data: expected a file inside the project" in err
    assert not (elsewhere / "out").exists()
    try:
        code, out, err = cli("batch", f, "--out", elsewhere / "out", "--allow-outside", elsewhere / "elsewhere")
        assert code == 1 and "0 ok, 0 skipped, 1 failed" in out      # checked against its data, not refused
        import json
        entry, = json.loads((elsewhere / "out" / "manifest.json").read_text(encoding="utf-8"))["jobs"].values()
        assert "parameters.year: expected a year with observed data" in entry["error"]
        code, _, err = cli("batch", f, "--allow-outside", elsewhere / "nowhere")
        assert code == 2 and "--allow-outside: expected a folder" in err
    finally:
        from analysis import paths
        paths.allow_outside()
