import pytest

from analysis.errors import ReportError
from analysis.export import local_fetcher, page


def test_pdf_renderer_reads_only_local_report_files(tmp_path):
    inside = tmp_path / "chart.png"
    inside.write_bytes(b"x")
    fetch = local_fetcher([tmp_path])
    assert fetch.fetch(inside.as_uri()) is not None
    for url in ("https://example.com/font.otf", "http://127.0.0.1/x.png", "file:///etc/passwd",
                (tmp_path.parent / "elsewhere.png").as_uri()):
        with pytest.raises(Exception) as exc:
            fetch.fetch(url)
        assert isinstance(exc.value, ReportError) or "not allowed" in str(exc.value).lower() or "protocol" in str(exc.value).lower()


def test_page_has_toc_and_escapes_title():
    body = ('<header class="title-block"><h1 id="report-title">甲&lt;script&gt;区</h1></header>'
            '<h2 id="sec-headline">核心指标</h2><p>x</p><h2 id="sec-sources">数据来源</h2>')
    html = page(body, lang="zh")
    assert '<a href="#sec-headline">核心指标</a>' in html and '<a href="#sec-sources">数据来源</a>' in html
    assert "<title>甲&lt;script&gt;区</title>" in html
    assert html.index('class="title-block"') < html.index('class="toc"') < html.index('id="sec-headline"')
