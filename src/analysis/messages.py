"""Reader-facing words, one catalog per language (``messages/zh.yaml``, ``messages/en.yaml``).

Code never branches on the language to choose a word: it asks ``Messages(lang)("sections.headline")``
or formats a pattern with ``msg("bounds.more_than", v="4,000", unit="亿元")``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from .request import LANGS

FOLDER = Path(__file__).resolve().parent / "messages"


@lru_cache(maxsize=None)
def _load(lang: str) -> dict:
    if lang not in LANGS:
        raise ValueError(f"language: expected one of {', '.join(LANGS)}, found {lang!r}")
    # the package's own files (trusted): the C loader reads them in a tenth of the time
    return yaml.load((FOLDER / f"{lang}.yaml").read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class Messages:
    """The message catalog of one language; ``msg(key, **fields)`` gives a formatted message."""

    def __init__(self, lang: str):
        self.lang = lang
        self.data = _load(lang)

    def get(self, key: str, default=None):
        node = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def __call__(self, key: str, **fields) -> str:
        text = self.get(key)
        if text is None:
            raise KeyError(f"message {key!r} missing from {self.lang}.yaml")
        return str(text).format(**fields) if fields else str(text)

    def join(self, items) -> str:
        return self("list_sep").join(items)

    def mid(self, name: str) -> str:
        """A name as it reads mid-sentence: English lower-cases a capitalised first word (not R&D, GDP)."""
        if self.get("lower_mid_sentence") and len(name) > 1 and name[0].isupper() and name[1].islower():
            return name[0].lower() + name[1:]
        return name


@lru_cache(maxsize=None)
def messages(lang: str) -> Messages:
    return Messages(lang)
