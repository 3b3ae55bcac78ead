"""analysis.manifest: input checksums of a request, the manifest file, up_to_date."""
import json
import shutil

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


def test_a_broken_manifest_is_kept_aside(tmp_path):
    (tmp_path / mf.FILE).write_text("{not json", encoding="utf-8")
    m = mf.Manifest(tmp_path)
    assert m.get("x") is None
    assert (tmp_path / "manifest.json.broken").read_text(encoding="utf-8") == "{not json"
