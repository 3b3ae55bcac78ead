"""analysis.jobs: a jobs file to report requests (schema errors, defaults, matrix, labels, data checks).

The CLI's exit codes and messages for whole files are in test_batch.py (BAD_JOBS).
"""
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
