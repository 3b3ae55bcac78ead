"""The region hierarchy (analysis.data.regions): regions.csv read, checked and merged; aliases in the
data mapped to their region; the shipped list of 重庆市's 38 区县; peer sets the catalog names; each
figure of a report credited to its own region."""
import collections
import json
import re

import pandas as pd
import pytest

from analysis.catalog import load_catalog
from analysis.data import Hierarchy, load_observations, load_regions
from conftest import DATA, ROOT

HEADER = DATA.read_text(encoding="utf-8").splitlines()[0]
SOURCES = "id,title,file,sha256\nX,测试来源,,\n"


def _row(region, rid="a1", indicator="ind_output_above", value="4000"):
    return f"{rid},{region},,2024,,{indicator},level,{value},亿元,,,X,q,"


def _data(tmp_path, regions=None, rows=None, sources=SOURCES):
    """A data file with a sources.csv (and a regions.csv when given) beside it."""
    d = tmp_path / "d"
    d.mkdir(exist_ok=True)
    f = d / "obs.csv"
    f.write_text("\n".join([HEADER, *(rows or [_row("甲区")])]) + "\n", encoding="utf-8")
    (d / "sources.csv").write_text(sources, encoding="utf-8")
    if regions is not None:
        (d / "regions.csv").write_bytes(regions if isinstance(regions, bytes) else regions.encode("utf-8"))
    return f


# --- reading ------------------------------------------------------------------------------------

def test_regions_csv_gives_parent_level_english_and_aliases(tmp_path):
    f = _data(tmp_path, "region,parent,level,en,aliases\n甲区,示例市,区,Jia District,甲;甲区县\n示例市,,市,Example City,\n",
              [_row("甲", "a1"), _row("示例市", "a2", value="9000")])
    obs = load_observations(f)
    assert set(obs["region"]) == {"甲区", "示例市"}          # 甲 is an alias of 甲区
    regions = obs.attrs["regions"]
    assert regions["甲区"] == {"parent": "示例市", "level": "区", "en": "Jia District", "aliases": ["甲", "甲区县"],
                              "source": ""}
    assert regions["示例市"]["parent"] == "" and regions["示例市"]["level"] == "市"
    assert regions["渝北区"]["en"] == "Yubei District"     # the project's list is merged in
    assert json.loads(json.dumps(regions, ensure_ascii=False)) == regions   # plain JSON: it goes through the handover


def test_aliases_separated_by_dun_and_full_width_semicolon(tmp_path):
    f = _data(tmp_path, "region,parent,aliases\n甲区,示例市,甲、甲甲；甲三\n", [_row("甲三")])
    obs = load_observations(f)
    assert obs.attrs["regions"]["甲区"]["aliases"] == ["甲", "甲甲", "甲三"] and set(obs["region"]) == {"甲区"}


def test_short_names_in_data_become_the_listed_region(tmp_path):
    """渝北 and 石柱县 are aliases in the shipped list: the data's rows are 渝北区's and 石柱土家族自治县's."""
    f = _data(tmp_path, None, [_row("渝北", "a1"), _row("石柱县", "a2", value="300"), _row("江北区", "a3", value="1200")])
    obs = load_observations(f)
    assert list(obs["region"]) == ["渝北区", "石柱土家族自治县", "江北区"]


def test_rows_beside_the_data_override_the_project_rows(tmp_path):
    f = _data(tmp_path, "region,parent,level,en\n渝北区,重庆市,区,Yubei (as the data says)\n", [_row("渝北区")])
    regions = load_observations(f).attrs["regions"]
    assert regions["渝北区"]["en"] == "Yubei (as the data says)"
    assert regions["江北区"]["en"] == "Jiangbei District"       # the rest of the project's list stays


def test_gb18030_regions_file(tmp_path):
    text = "region,parent,level,en,aliases\n甲区,示例市,区,Jia District,甲\n"
    f = _data(tmp_path, text.encode("gb18030"), [_row("甲")])
    obs = load_observations(f)
    assert obs.attrs["regions"]["甲区"]["level"] == "区" and set(obs["region"]) == {"甲区"}


def test_chinese_headers(tmp_path):
    f = _data(tmp_path, "地区,上级,级别,英文名,别名\n甲区,示例市,区,Jia District,甲\n", [_row("甲")])
    assert load_observations(f).attrs["regions"]["甲区"]["en"] == "Jia District"


def test_catalog_regions_are_a_fallback(tmp_path):
    text = (ROOT / "data" / "catalog.yaml").read_text(encoding="utf-8")
    text += "\nregions:\n  测试区: {parent: 测试市, level: 区, en: Test District, aliases: [测试]}\n"
    cat = tmp_path / "catalog.yaml"
    cat.write_text(text, encoding="utf-8")
    f = _data(tmp_path, None, [_row("测试")])
    obs = load_observations(f, catalog=load_catalog(cat))
    assert set(obs["region"]) == {"测试区"} and obs.attrs["regions"]["测试区"]["parent"] == "测试市"
    assert Hierarchy.of(obs, load_catalog(cat)).en("测试区") == "Test District"


# --- bad content: one message each, located to file, row and column ---------------------------------

BAD = {
    "unknown column": ("region,parent,levle\n甲区,示例市,区\n",
                       ":1:levle: expected a known column (region, parent, level, en, aliases, source), "
                       "found unknown column 'levle' (did you mean 'level'?)"),
    "no parent column": ("region,level\n甲区,区\n", ":1: expected columns region, parent, found a header without parent"),
    "no region column": ("name,parent\n甲区,示例市\n", ":1: expected columns region, parent, found a header without region"),
    "duplicated region": ("region,parent\n甲区,示例市\n甲区,示例市\n",
                          ":3:region: expected each region once, found '甲区' again (first at row 2)"),
    "own parent": ("region,parent\n甲区,甲区\n", ":2:parent: expected a parent other than the region itself, found '甲区'"),
    "parent cycle": ("region,parent\n甲区,乙区\n乙区,丙区\n丙区,甲区\n",
                     ":2:parent: expected a parent that does not lie below the region, found a cycle 甲区 → 乙区 → 丙区 → 甲区"),
    "alias names another region": ("region,parent,aliases\n甲区,示例市,乙区\n乙区,示例市,\n",
                                   ":2:aliases: expected aliases that name no other region, found '乙区', the name of "
                                   "another region"),
    "alias of another region": ("region,parent,aliases\n甲区,示例市,渝北\n",
                                ":2:aliases: expected aliases that name no other region, found '渝北', also an alias of "
                                "'渝北区' (data/regions.csv:"),
    "empty level": ("region,parent,level\n甲区,示例市,\n",
                    ":2:level: expected the region's level (市, 区, 县, 自治县, …), found an empty cell"),
    "empty region": ("region,parent\n,示例市\n", ":2:region: expected a region name, found an empty cell"),
    "unknown source": ("region,parent,source\n甲区,示例市,NOPE\n",
                       ":2:source: expected a source id listed in sources.csv"),
    "empty file": ("", ": expected a header row with columns region, parent, found an empty file"),
    "binary": (b"PK\x03\x04\x00\x00\x00binary", ": expected a CSV text file"),
    "not GB or UTF-8": ("region,parent\n".encode() + "甲区".encode("utf-16-le") + b"\xff\xfe\x80\x81,x\n",
                        ": expected text in UTF-8 (with or without BOM), GBK or GB18030"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_regions_file(case, tmp_path, cli):
    content, fragment = BAD[case]
    f = _data(tmp_path, content)
    code, out, err = cli("check-data", f)
    assert code == 1 and "Traceback" not in out + err
    assert str(f.parent / "regions.csv") + fragment in err, err


def test_every_regions_problem_at_once(tmp_path):
    f = _data(tmp_path, "region,parent,level\n甲区,甲区,区\n乙区,示例市,\n乙区,示例市,区\n")
    with pytest.raises(Exception) as exc:
        load_regions(f)
    assert [(p.row, p.column) for p in exc.value.problems] == [(2, "parent"), (3, "level"), (4, "region")]


# --- the shipped list ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    return Hierarchy(load_regions(DATA), load_catalog())


def test_shipped_list_is_chongqing_and_its_38_districts_and_counties(shipped):
    members = shipped.children("重庆市")
    assert len(members) == 38
    assert collections.Counter(shipped.level(r) for r in members) == {"区": 26, "县": 8, "自治县": 4}
    assert shipped.level("重庆市") == "市" and shipped.parent("重庆市") is None and shipped.en("重庆市") == "Chongqing"
    assert all(shipped.en(r) for r in members)
    assert shipped.en("渝北区") == "Yubei District" and shipped.en("忠县") == "Zhong County"
    assert shipped.en("石柱土家族自治县") == "Shizhu Tujia Autonomous County"
    assert {r for r in members if shipped.level(r) == "自治县"} == {
        "石柱土家族自治县", "秀山土家族苗族自治县", "酉阳土家族苗族自治县", "彭水苗族土家族自治县"}


def test_shipped_list_is_cited(shipped):
    regions = pd.read_csv(ROOT / "data" / "regions.csv", dtype=str, keep_default_na=False)
    sources = pd.read_csv(ROOT / "data" / "sources.csv", dtype=str, keep_default_na=False).set_index("id")
    (sid,) = set(regions["source"])
    assert sources.loc[sid, "publisher"] == "重庆市人民政府" and sources.loc[sid, "file"] == ""
    assert "reference list" in sources.loc[sid, "note"].lower() and "cq.gov.cn" in sources.loc[sid, "url"]


def test_hierarchy_questions(shipped):
    peers = shipped.peers("渝北区")
    assert len(peers) == 38 and "渝北区" in peers and "重庆市" not in peers
    assert shipped.peers("重庆市") == [] and shipped.peers("不存在区") == []
    assert shipped.parent("渝北区") == "重庆市" and shipped.children("渝北区") == []
    assert shipped.canonical("渝北") == "渝北区" and shipped.canonical("渝北区") == "渝北区"
    assert shipped.canonical("石柱县") == "石柱土家族自治县" and shipped.canonical("开县") == "开州区"
    assert shipped.canonical("不存在区") is None
    assert "渝北区" in shipped and "渝北" not in shipped


# --- peer sets ----------------------------------------------------------------------------------

def test_peer_sets_of_the_shipped_catalog(shipped):
    assert shipped.peer_set("重庆市区县") == shipped.children("重庆市")
    assert len(shipped.peer_set("重庆市中心城区")) == 9 and "渝北区" in shipped.peer_set("重庆市中心城区")
    assert shipped.peer_set("全球手机品牌") is None
    assert load_catalog().display("重庆市区县", "en") == "Chongqing's districts and counties"


def _catalog(tmp_path, extra):
    text = (ROOT / "data" / "catalog.yaml").read_text(encoding="utf-8")
    text = text.replace("peer_sets:\n", "peer_sets:\n" + extra, 1)
    f = tmp_path / "catalog.yaml"
    f.write_text(text, encoding="utf-8")
    return f


def test_peer_set_by_level_and_by_members(tmp_path):
    cat = load_catalog(_catalog(tmp_path, "  重庆市各区: {parent: 重庆, levels: [区]}\n  北部: {members: [渝北, 江北区]}\n"))
    h = Hierarchy(load_regions(DATA), cat)
    assert len(h.peer_set("重庆市各区")) == 26 and "忠县" not in h.peer_set("重庆市各区")   # parent by its alias
    assert h.peer_set("北部") == ["渝北区", "江北区"]


@pytest.mark.parametrize("extra, message", [
    ("  坏: {}\n", "peer_sets.坏: expected a mapping with either parent (its regions are the peers; levels: only "
                   "those levels) or members (a list of regions), found a mapping {}"),
    ("  坏: {parnet: 重庆市}\n", "peer_sets.坏.parnet: expected one of parent, levels, members, found 'parnet'"),
    ("  坏: {members: 渝北区}\n", "peer_sets.坏.members: expected a list of region names, found '渝北区'"),
    ("  坏: {members: [渝北区], levels: [区]}\n", "peer_sets.坏.levels: expected levels only beside parent"),
])
def test_bad_peer_sets(tmp_path, extra, message):
    from analysis.errors import CatalogError
    with pytest.raises(CatalogError) as exc:
        load_catalog(_catalog(tmp_path, extra))
    assert message in str(exc.value), str(exc.value)


# --- every figure credited to its own region --------------------------------------------------------

CITY = ["cq-001,重庆市,,2024,,ind_output_above,level,28000,亿元,exact,,X,重庆市规上工业总产值28000亿元,synthetic",
        "cq-002,重庆市,长安汽车,2024,,auto_output,level,1500,亿元,exact,,X,长安汽车产值1500亿元,synthetic",
        "jb-001,江北,,2024,,ind_output_above,level,1200,亿元,exact,,X,江北区规上工业总产值1200亿元,synthetic",
        "yz-001,渝中区,,2024,,ind_output_above,level,100,亿元,exact,,X,渝中区规上工业总产值100亿元,synthetic"]


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    """The shipped 渝北区 rows with a parent and two peers in one data file."""
    d = tmp_path_factory.mktemp("multi")
    (d / "obs.csv").write_text(DATA.read_text(encoding="utf-8") + "\n".join(CITY) + "\n", encoding="utf-8")
    (d / "sources.csv").write_text("id,title,file,sha256\nX,合成数据,,\n", encoding="utf-8")
    return d / "obs.csv"


def _rows(rep, cls):
    """The body rows of the report's table of class ``cls``, as lists of cell texts."""
    html = next(h for h, _ in rep.parts if re.search(f'<table class="{cls}[" ]', h))
    body = html.split("<tbody>", 1)[1]
    return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_sources_table_credits_each_figure_to_its_own_region(multi, lang):
    from analysis import sections
    from analysis.report import open_report
    rep = open_report(region="渝北区", year=2024, data=str(multi), lang=lang, show=False)
    sections.comparison(rep, chart=False)
    sections.sources(rep)
    obs = rep.observations.set_index("id")
    rows = {r[0]: r for r in _rows(rep, "sources")}
    assert "cq-001" in rows                          # the parent's figure behind the share of the parent
    for rid, r in rows.items():
        assert r[1] == rep.place(obs.loc[rid, "region"]), r
        assert r[2] == (rep.place(obs.loc[rid, "entity"]) if obs.loc[rid, "entity"] else ""), r
    assert rows["cq-001"][1] == ("重庆市" if lang == "zh" else "Chongqing")
    assert rows["yb-004"][1:3] == (["渝北区", "问界M9"] if lang == "zh" else ["Yubei District", "AITO M9"])
    html = next(h for h, _ in rep.parts if re.search('<table class="sources[" ]', h))
    heads = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<th[^>]*>(.*?)</th>", html)]
    assert heads[1:3] == (["地区", "主体"] if lang == "zh" else ["Region", "Entity"])


def test_a_bound_of_the_region_is_not_hidden_by_the_parents_exact_figure(multi):
    """渝北区's 突破4000亿元 is a bound even though 重庆市's 28000亿元 of the same indicator is exact."""
    from analysis import sections
    from analysis.report import open_report
    rep = open_report(region="渝北区", year=2024, data=str(multi), show=False)
    sections.comparison(rep, chart=False)
    text = " ".join(h for h, _ in rep.parts)
    # the bound carries through: 超过4000亿元 of 28000亿元 is a share of more than 14.3 %, not an exact one
    assert "由于，" not in text and "渝北区规上工业总产值超过4000亿元，占全市比重超过14.3%" in text


def test_an_alias_given_as_the_report_region_is_pointed_to_its_listed_name(cli):
    code, _, err = cli("metrics", "--region", "渝北", "--year", "2024")
    assert code == 1 and "found '渝北' ('渝北' is another name of 渝北区: use that)" in err


def test_rows_of_gives_what_filtering_the_whole_frame_gives(multi):
    """Report.rows_of (the sections' indexed lookup) returns, for every region, indicator and measure, the
    rows a boolean filter of the observations returns, in the same order; a replaced frame is indexed anew."""
    from analysis.report import open_report
    rep = open_report(region="渝北区", year=2024, data=str(multi), show=False)
    o = rep.observations
    keys = {(r, c, m) for r, c, m in zip(o["region"], o["indicator"], o["measure"])}
    assert len({r for r, _, _ in keys}) >= 4 and len(keys) > 40
    for region, code, measure in [*keys, ("渝北区", "no_such_indicator", "level")]:
        want = o[(o["region"] == region) & (o["indicator"] == code) & (o["measure"] == measure)
                 & (o["year"] == rep.year) & (o["entity"] == "")]
        assert rep.rows_of(region, code, measure).equals(want), (region, code, measure)
    both = rep.rows_of(["江北区", "渝北区"], "ind_output_above", "level")
    want = o[o["region"].isin(["渝北区", "江北区"]) & (o["indicator"] == "ind_output_above") & (o["measure"] == "level")
             & (o["year"] == rep.year) & (o["entity"] == "")]
    assert both.equals(want) and set(both["region"]) == {"渝北区", "江北区"}
    rep.data.observations = o[o["region"] != "江北区"].copy()   # an analyst's own frame
    assert rep.rows_of("江北区", "ind_output_above", "level").empty
