"""analysis.manifest: input checksums of a request, the manifest file, up_to_date."""
import errno
import json
import shutil
from pathlib import Path

import pytest

from analysis import manifest as mf
from analysis.request import build
from conftest import DATA, ROOT


def test_inputs_follow_the_request(tmp_path):
    shutil.copy(DATA, tmp_path / "obs.csv")
    req = build(region="渝北区", year=2024, data=tmp_path / "obs.csv")
    first = mf.input_checksums(req)
    assert set(first) == {"notebook", "data", "catalog", "parameters", "package"}  # no side files yet
    (tmp_path / "sources.csv").write_bytes((ROOT / "data" / "sources.csv").read_bytes())
    assert set(mf.input_checksums(req)) == set(first) | {"sources.csv"}
    assert mf.input_checksums(build(region="渝北区", year=2024, data=tmp_path / "obs.csv", title="T"))["parameters"] \
        != first["parameters"]
    same = build(region="渝北区", year=2024, data=tmp_path / "obs.csv", formats=["pdf", "html"])
    assert mf.input_checksums(same)["parameters"] == first["parameters"]  # formats in any order
    (tmp_path / "obs.csv").write_text(DATA.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert mf.input_checksums(req)["data"] != first["data"]


def test_record_get_and_up_to_date(tmp_path):
    req = build(region="渝北区", year=2024, out=tmp_path)
    inputs = mf.input_checksums(req)
    out_file = req.output(".html")
    out_file.parent.mkdir(parents=True)
    out_file.write_text("<html/>", encoding="utf-8")
    outputs = mf.output_checksums({"html": out_file}, tmp_path)
    assert list(outputs) == ["渝北区/2024/industry_report.html"]
    m = mf.Manifest(tmp_path)
    entry = m.record(req, inputs=inputs, result={"status": "ok", "seconds": 1.0, "outputs": outputs, "error": ""})
    assert entry["request"]["region"] == "渝北区" and "out" not in entry["request"]
    on_disk = json.loads((tmp_path / mf.FILE).read_text(encoding="utf-8"))
    assert on_disk["version"] == mf.VERSION and on_disk["jobs"][req.key]["status"] == "ok"
    assert not list(tmp_path.glob(".manifest.json.*.tmp"))
    again = mf.Manifest(tmp_path).get(req.key)
    assert mf.up_to_date(again, inputs, tmp_path)
    assert not mf.up_to_date(again, {**inputs, "data": "0" * 64}, tmp_path)
    out_file.write_text("<html>changed</html>", encoding="utf-8")
    assert not mf.up_to_date(again, inputs, tmp_path)
    out_file.unlink()
    assert not mf.up_to_date(again, inputs, tmp_path)
    assert not mf.up_to_date({**again, "status": "failed"}, inputs, tmp_path)


BROKEN = {
    "garbage": (b"\x00\xff\xfe garbage \x80", "a file that is not UTF-8 text"),
    "not json": (b"{not json", "text that is not JSON or is cut short"),
    "truncated": (None, "text that is not JSON or is cut short"),
    "empty": (b"", "an empty file"),
    "a list": (b"[1, 2]", "another shape (top level: expected a mapping with version and jobs, found [1, 2])"),
    "jobs a list": (b'{"version": 2, "jobs": []}', "another shape (jobs: expected a mapping of request keys"),
    "entry without status": (b'{"version": 2, "jobs": {"a": {"request": {}, "inputs": {}, "outputs": {}}}}',
                             "another shape (jobs.a: expected a value for status, found none)"),
    "bad status": (b'{"version": 2, "jobs": {"a": {"request": {}, "inputs": {}, "outputs": {}, "status": "done"}}}',
                   "another shape (jobs.a.status: expected ok, failed or skipped, found 'done')"),
    "output not a checksum": (b'{"version": 2, "jobs": {"a": {"request": {}, "inputs": {}, "status": "ok", '
                              b'"outputs": {"x.html": 1}}}}', "jobs.a.outputs['x.html']: expected a sha256 in hex"),
    "a folder": ("dir", "a folder"),
}


def a_finished_report(out):
    """A report published into out as analysis.run publishes one: its notebook records its files' sha256."""
    from analysis.run import PROVENANCE_KEY
    req = build(region="渝北区", year=2024, out=out, formats=["html"])
    req.folder.mkdir(parents=True)
    html = req.output(".html")
    html.write_text("<html>report</html>", encoding="utf-8")
    nb = {"cells": [], "nbformat": 4, "nbformat_minor": 5,
          "metadata": {PROVENANCE_KEY: {"key": req.key, "request": {k: v for k, v in req.to_dict().items() if k != "out"},
                                        "inputs": mf.input_checksums(req), "finished": "2026-01-01T00:00:00",
                                        "outputs": {html.name: mf.sha256_file(html)}}}}
    req.output(".ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return req


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_manifest_is_set_aside_and_rebuilt_from_the_outputs(tmp_path, case, caplog):
    req = a_finished_report(tmp_path)
    good = mf.Manifest(tmp_path)
    good.record(req, inputs=mf.input_checksums(req),
                result={"status": "ok", "seconds": 1.0, "error": "",
                        "outputs": mf.output_checksums({"html": req.output(".html"), "ipynb": req.output(".ipynb")},
                                                       tmp_path)})
    recorded = json.loads((tmp_path / mf.FILE).read_text(encoding="utf-8"))["jobs"][req.key]["outputs"]
    content, reason = BROKEN[case]
    path = tmp_path / mf.FILE
    if content == "dir":
        path.unlink()
        path.mkdir()
        (path / "x").write_text("x")
    else:
        path.write_bytes(path.read_bytes()[:40] if content is None else content)
    m = mf.Manifest(tmp_path, retries=2)
    [aside] = tmp_path.glob("manifest.json.broken-*")
    assert m.set_aside == aside and (aside.is_dir() if content == "dir" else aside.is_file())
    assert reason in caplog.text and "manifest.json: expected a batch manifest, found" in caplog.text
    assert aside.name in caplog.text and "1 found whose files match" in caplog.text
    # rebuilt from the report's own record, written at once, and the report is up to date again
    entry = m.get(req.key)
    assert entry["rebuilt"] and entry["outputs"] == recorded
    assert mf.up_to_date(entry, mf.input_checksums(req), tmp_path)
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert mf.read(path)[0] is None and on_disk["retries"] == 2 and req.key in on_disk["jobs"]


def test_a_report_whose_files_changed_is_not_rebuilt(tmp_path):
    req = a_finished_report(tmp_path)
    req.output(".html").write_text("<html>edited</html>", encoding="utf-8")
    (tmp_path / mf.FILE).write_text("[]", encoding="utf-8")
    assert mf.Manifest(tmp_path).get(req.key) is None        # it will run again
    assert mf.rebuild(tmp_path) == {}


def test_a_failed_write_leaves_the_manifest_and_no_temporary_file(tmp_path, monkeypatch):
    req = build(region="渝北区", year=2024, out=tmp_path)
    m = mf.Manifest(tmp_path)
    m.record(req, inputs={}, result={"status": "failed", "outputs": {}, "error": "x"})
    before = (tmp_path / mf.FILE).read_bytes()
    real_write = Path.write_text

    def full(self, *a, **k):
        if self.name.endswith(".tmp"):
            real_write(self, "{\"half", encoding="utf-8")
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write(self, *a, **k)
    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError, match="No space left"):
        m.record(req, inputs={}, result={"status": "ok", "outputs": {}, "error": ""})
    assert (tmp_path / mf.FILE).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [mf.FILE]
