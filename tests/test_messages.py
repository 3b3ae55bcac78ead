"""The message catalogs: one per language, the same keys and the same fields in each."""
import re
import string
from pathlib import Path

import pytest

from analysis.messages import FOLDER, messages
from analysis.request import LANGS

SRC = Path(__file__).resolve().parent.parent / "src" / "analysis"


def _flat(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _flat(v, f"{prefix}{k}.")
    else:
        yield prefix.rstrip("."), node


def _fields(text):
    return {name for _, name, _, _ in string.Formatter().parse(str(text)) if name}


def test_every_language_has_a_catalog():
    assert sorted(p.stem for p in FOLDER.glob("*.yaml")) == sorted(LANGS)


def test_same_keys_in_every_language():
    """Display units differ by language (家 stays 家; "enterprises" needs a word); every other key is shared."""
    def keys(lang):
        return {k for k, _ in _flat(messages(lang).data) if not k.startswith("units.")}
    for lang in LANGS[1:]:
        assert keys(lang) == keys(LANGS[0]), keys(lang) ^ keys(LANGS[0])


def test_fields_are_the_same_except_where_a_language_words_it_differently():
    base = dict(_flat(messages(LANGS[0]).data))
    # 增长5.6倍 is said as stated in Chinese, "6.6-fold (+560%)" in English; 30余家 needs its upper end in English
    # the parent as a whole is 全市 in Chinese (its level), its name in English
    differs = {"figures.times", "figures.more_than_n", "figures.more_than_n_years", "prose.finding_fastest",
               "comparison.whole"}
    for lang in LANGS[1:]:
        other = dict(_flat(messages(lang).data))
        for key, text in base.items():
            if not key.startswith("units.") and key not in differs:
                assert _fields(other[key]) == _fields(text), key


def test_missing_message_names_the_key_and_language():
    with pytest.raises(KeyError, match="no.such.key.*zh.yaml"):
        messages("zh")("no.such.key")


def test_report_modules_do_not_branch_on_the_language():
    """Words come from the catalogs, not from `lang == …` branches."""
    for name in ("sections.py", "narrative.py", "report.py", "export.py", "numbers.py", "charts.py", "handover.py"):
        text = (SRC / name).read_text(encoding="utf-8")
        assert not re.search(r"lang\s*[!=]=\s*['\"]", text), name
