"""analysis.yamlfile: YAML that is data only — every non-plain tag refused, aliases bounded, files bounded."""
import os
import time

import pytest

from analysis import limits, yamlfile
from analysis.errors import CatalogError, UsageError

HOSTILE = '"+str(__import__("os").system("touch /tmp/pwned"))+"'

#: every tag PyYAML's SafeLoader knows beyond the plain ones, and some it does not
TAGGED = {
    "omap": f"t: !!omap [{{a: '{HOSTILE}'}}]",
    "pairs": f"t: !!pairs [{{a: '{HOSTILE}'}}]",
    "set": "t: !!set {a, b}",
    "binary": "t: !!binary aGVsbG8=",
    "timestamp": "t: !!timestamp 2024-01-01",
    "python object": "t: !!python/object/apply:os.system ['touch /tmp/pwned']",
    "python name": "t: !!python/name:os.system",
    "local tag": "t: !region 渝北区",
    "verbatim tag": "t: !<tag:example.com,2024:x> 1",
    "value": "t: !!value 1",
    "tagged mapping": "t: !!omap {a: 1}",
}


@pytest.mark.parametrize("text", TAGGED.values(), ids=TAGGED.keys())
def test_every_tag_beyond_the_plain_types_is_refused_naming_it(text):
    with pytest.raises(UsageError, match=r"^j\.yaml:1: expected plain YAML values \(text, numbers, true/false, null, "
                                         r"lists, mappings\), found the tag \S+$"):
        yamlfile.loads(text, "j.yaml")


@pytest.mark.parametrize("tag, value", [("str", "'3'"), ("int", "3"), ("float", "1.5"), ("bool", "true"),
                                        ("null", "''"), ("seq", "[1]"), ("map", "{a: 1}")])
def test_the_plain_tags_may_be_written_out(tag, value):
    yamlfile.loads(f"t: !!{tag} {value}", "j.yaml")


def test_plain_yaml_loads_as_before():
    doc = yamlfile.loads("a: {b: [1, 2.5, true, null, x]}\nd: 2024-01-01\nbase: &b {x: 1}\nc: {<<: *b, y: 2}\n", "j")
    assert doc == {"a": {"b": [1, 2.5, True, None, "x"]}, "d": "2024-01-01", "base": {"x": 1}, "c": {"x": 1, "y": 2}}


def billion_laughs(levels: int = 9) -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_at_once():
    t = time.perf_counter()
    with pytest.raises(UsageError, match=rf"j\.yaml:\d+: expected at most {limits.MAX_YAML_NODES} values with "
                                         r"aliases expanded, found more \(anchors and aliases that multiply\)"):
        yamlfile.loads(billion_laughs(), "j.yaml")
    assert time.perf_counter() - t < 1


def test_a_few_aliases_are_fine():
    doc = yamlfile.loads(billion_laughs(levels=2), "j.yaml")
    assert len(doc["c"]) == 10 and doc["c"][0][0] == ["lol"] * 10


@pytest.mark.parametrize("text, expected", [
    ("a: &a [1, *a]", "expected a document without recursive aliases, found the alias *a inside the node it names"),
    ("a: " + "[" * 5000 + "]" * 5000, f"expected at most {limits.MAX_YAML_DEPTH} levels of nesting, found more"),
    ("".join("  " * i + "- \n" for i in range(200)), f"expected at most {limits.MAX_YAML_DEPTH} levels of nesting"),
    ("year: " + "9" * 5000, f"expected an integer of at most {limits.MAX_YAML_INT_DIGITS} digits, found 5000 digits"),
    ("a: 1\nb: 2\na: 3\n", "expected each key once in a mapping, found 'a' twice"),
    ("a: [1, 2\n", "expected valid UTF-8 YAML, found"),
    ("a: *nope\n", "expected valid UTF-8 YAML, found"),
])
def test_structures_that_would_crash_or_hang_are_refused(text, expected):
    with pytest.raises(UsageError, match="^j.yaml:?[0-9]*: " + expected.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)").replace("*", r"\*")):
        yamlfile.loads(text, "j.yaml")


def test_the_error_class_is_the_callers():
    with pytest.raises(CatalogError):
        yamlfile.loads("a: !!set {x}", "catalog.yaml", error=CatalogError)


def test_only_regular_files_of_bounded_size_are_read(tmp_path):
    fifo = tmp_path / "jobs.yaml"
    os.mkfifo(fifo)
    t = time.perf_counter()
    with pytest.raises(UsageError, match="jobs.yaml: expected a jobs file, found no regular file"):
        yamlfile.load(fifo, what="a jobs file", max_bytes=100)   # would block forever if opened
    assert time.perf_counter() - t < 1
    with pytest.raises(UsageError, match="expected a jobs file, found a folder"):
        yamlfile.load(tmp_path, what="a jobs file", max_bytes=100)
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 200, encoding="utf-8")
    with pytest.raises(UsageError, match="big.yaml: expected a jobs file of at most 100 bytes, found 203 bytes"):
        yamlfile.load(big, what="a jobs file", max_bytes=100)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("a: café".encode("latin-1"))
    with pytest.raises(UsageError, match="latin.yaml: expected UTF-8 text, found a byte that is not UTF-8 at offset 6"):
        yamlfile.load(latin, what="a jobs file", max_bytes=100)
