"""analysis.fontcache: a cached subset is used only when it is what was built (its checksum, a
readable font), and built again otherwise; analysis.export refuses a PDF that would lack a glyph."""
import hashlib

import pytest

from analysis import fontcache
from analysis.fonts import font_cmap

CHARS = "渝北区工业经济2024年"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYSIS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "fonts"


def test_a_built_subset_is_recorded_with_its_checksum_and_reused(cache):
    font, path = fontcache.wait(fontcache.start(CHARS), CHARS)
    assert path == fontcache.subset_path(CHARS) and path.parent == cache
    assert fontcache.checksum_path(path).read_text().strip() == hashlib.sha256(font).hexdigest()
    assert set(CHARS) <= font_cmap(font)
    assert fontcache.start(CHARS) is None                # sound: nothing to build
    assert sorted(p.name for p in cache.iterdir()) == sorted([path.name, path.name + ".sha256"])


def _garbage(path):
    path.write_bytes(b"\x00garbage" * 100)


def _truncated(path):
    path.write_bytes(path.read_bytes()[:5000])


def _empty(path):
    path.write_bytes(b"")


def _folder(path):
    path.unlink()
    path.mkdir()
    (path / "x").write_text("x")


def _garbage_with_its_checksum(path):   # the checksum alone would pass it: the font must also read
    path.write_bytes(b"OTTO" + b"\x00" * 400)
    fontcache.checksum_path(path).write_text(hashlib.sha256(path.read_bytes()).hexdigest())


def _no_checksum(path):
    fontcache.checksum_path(path).unlink()


@pytest.mark.parametrize("corrupt, found", [
    (_garbage, "bytes that do not match the checksum"), (_truncated, "bytes that do not match the checksum"),
    (_empty, "an empty file"), (_folder, "found a folder"), (_garbage_with_its_checksum, "found a file that is a font"),
    (_no_checksum, "no checksum recorded beside it")])
def test_a_corrupt_cache_entry_is_rebuilt_with_a_warning(cache, caplog, corrupt, found):
    good, path = fontcache.wait(fontcache.start(CHARS), CHARS)
    corrupt(path)
    assert fontcache.verified(path) is None
    caplog.clear()
    font, again = fontcache.wait(None, CHARS)      # found when the run is about to use it
    assert again == path and font == good and fontcache.verified(path) == good
    assert found in caplog.text and "building it again" in caplog.text and str(path) in caplog.text
    if corrupt is _garbage:                        # found when a run starts: rebuilt in the child process
        corrupt(path)
        proc = fontcache.start(CHARS)
        assert proc is not None
        assert fontcache.wait(proc, CHARS) == (good, path)


def test_an_unusable_cache_folder_is_bypassed(tmp_path, monkeypatch, caplog):
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    monkeypatch.setenv("ANALYSIS_CACHE", str(tmp_path / "cache"))
    assert fontcache.start(CHARS) is None
    font, path = fontcache.wait(None, CHARS)
    assert path is None and set(CHARS) <= font_cmap(font)
    assert "font cache: cannot use" in caplog.text


def test_a_subset_short_of_characters_is_replaced_and_a_missing_glyph_fails_the_pdf(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook, new_output
    from analysis import export
    from analysis.errors import ReportError

    def notebook(text):
        return new_notebook(cells=[new_code_cell("x", outputs=[new_output("display_data",
                                                                          data={"text/html": f"<p>{text}</p>"})])])
    small = export.font_subset("渝北")
    # a subset built for other characters (a cache entry that lies): replaced by one of the page's text
    export.export(notebook("两江新区"), lang="zh", html_path=tmp_path / "a.html", pdf_path=None, base_dir=tmp_path,
                  font=small)
    assert "两江新区" in (tmp_path / "a.html").read_text(encoding="utf-8")
    # a character the bundled font has no glyph for: fine in HTML (the browser's fonts), an error for a PDF
    export.export(notebook("渝北区 😀"), lang="zh", html_path=tmp_path / "b.html", pdf_path=None, base_dir=tmp_path)
    with pytest.raises(ReportError) as err:
        export.export(notebook("渝北区 😀 \U000F0000"), lang="zh", html_path=tmp_path / "c.html",
                      pdf_path=tmp_path / "c.pdf", base_dir=tmp_path)
    assert "the PDF would lack glyphs for 2 characters: 😀 (U+1F600 GRINNING FACE), \U000F0000 (U+F0000 unnamed)" \
        in str(err.value)
    assert not (tmp_path / "c.pdf").exists() and not (tmp_path / "c.html").exists()


def test_a_big_files_characters_are_read_once_per_version_of_the_file(cache, tmp_path, monkeypatch):
    """A data file of a million rows is not scanned again for every report from it: its characters are
    remembered by version (size, time, inode) in the cache folder; any change reads it again."""
    monkeypatch.setattr(fontcache, "BIG_FILE", 10)
    monkeypatch.setattr(fontcache, "_CHARS", {})
    data = tmp_path / "observations.csv"
    data.write_text("region,value\n渝北区,1\n", encoding="utf-8")
    assert fontcache.file_chars(data) == frozenset("region,value\n渝北区,1\n")
    memo = [p for p in cache.iterdir() if p.name.startswith("chars-")]
    assert len(memo) == 1 and set(memo[0].read_text(encoding="utf-8")) == set("region,value\n渝北区,1\n")
    monkeypatch.setattr(fontcache, "_CHARS", {})           # another process: the memo in the cache folder
    memo[0].write_text("渝", encoding="utf-8")             # (what it says is what is used)
    assert fontcache.file_chars(data) == frozenset("渝")
    data.write_text("region,value\n江北区,2\n", encoding="utf-8")   # a new version: read again
    assert "江" in fontcache.file_chars(data)
    small = tmp_path / "small.csv"
    monkeypatch.setattr(fontcache, "BIG_FILE", 1 << 20)
    small.write_text("沙坪坝区", encoding="utf-8")
    assert fontcache.file_chars(small) == frozenset("沙坪坝区")   # small files are just read
    assert len([p for p in cache.iterdir() if p.name.startswith("chars-")]) == 2


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
def test_a_big_files_characters_are_those_python_reads(tmp_path, chunk):
    """The chunked scan gives what ``set()`` of the decoded text gives, chunks cutting UTF-8 sequences
    and undecodable bytes included."""
    path = tmp_path / "data.csv"
    path.write_bytes("区域,值\n渝北区,超4000\n".encode() + b"\xff\xfe" + "😀𠀀 \u3000".encode() + b"\xe6\xb8")
    assert fontcache._scan(path, chunk=chunk) == frozenset(path.read_text(encoding="utf-8", errors="ignore"))
