"""YAML that is data only: text, numbers, booleans, null, lists and mappings — bounded.

``yaml.safe_load`` builds no Python objects beyond the YAML types, but it still accepts
``!!omap``/``!!pairs`` (lists of tuples, which papermill writes into a notebook unescaped),
``!!set``, ``!!binary`` and ``!!timestamp``, and it shares an aliased node instead of copying it,
so a few lines of anchors ("billion laughs") become a structure of 10⁹ nodes that any later walk
over it — a schema check, a matrix expansion — never finishes. :func:`loads` refuses, while the
document is composed and before anything is built from it:

- any tag but the JSON-like core ones (str, int, float, bool, null, seq, map and the ``<<`` merge key);
- more than :data:`~analysis.limits.MAX_YAML_NODES` nodes counted with every alias expanded
  (sizes are counted once per node, so the count itself is linear in the text), an alias to a
  node that contains it, nesting deeper than :data:`~analysis.limits.MAX_YAML_DEPTH`;
- integers of more than :data:`~analysis.limits.MAX_YAML_INT_DIGITS` digits, a key written twice
  in one mapping.

Dates stay text (``2024-01-01`` is the string it looks like, not a ``datetime.date``).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from . import limits
from .errors import AnalysisError, UsageError

_CORE = "tag:yaml.org,2002:"
#: the tags a document may carry, explicitly or implicitly
ALLOWED_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "seq", "map", "merge")}


class _Refused(yaml.YAMLError):
    def __init__(self, mark, expected: str, found: str):
        super().__init__(f"expected {expected}, found {found}")
        self.mark, self.expected, self.found = mark, expected, found


def _tag_name(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


class _Loader(yaml.SafeLoader):
    """SafeLoader, restricted and bounded while composing (see the module docstring)."""

    # dates stay text: the implicit timestamp resolver is left out
    yaml_implicit_resolvers = {first: [(tag, rx) for tag, rx in resolvers if tag != _CORE + "timestamp"]
                               for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}   # id(node) → nodes below it, aliases expanded

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:  # still being composed: the alias is inside its anchor
                raise _Refused(event.start_mark, "a document without recursive aliases",
                               f"the alias *{event.anchor} inside the node it names")
            return node
        self._depth += 1
        try:
            if self._depth > limits.MAX_YAML_DEPTH:
                raise _Refused(self.peek_event().start_mark, f"at most {limits.MAX_YAML_DEPTH} levels of nesting",
                               "more")
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node.tag not in ALLOWED_TAGS:
            raise _Refused(node.start_mark, "plain YAML values (text, numbers, true/false, null, lists, mappings)",
                           f"the tag {_tag_name(node.tag)}")
        if isinstance(node, ScalarNode):
            size = 1
        elif isinstance(node, SequenceNode):
            size = 1 + sum(self._sizes[id(c)] for c in node.value)
        else:
            size = 1 + sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
            keys = [k.value for k, _ in node.value if isinstance(k, ScalarNode) and k.tag != _CORE + "merge"]
            if len(keys) != len(set(keys)):
                twice = next(k for k in keys if keys.count(k) > 1)
                raise _Refused(node.start_mark, "each key once in a mapping", f"{twice!r} twice")
        if size > limits.MAX_YAML_NODES:
            raise _Refused(node.start_mark, f"at most {limits.MAX_YAML_NODES} values with aliases expanded",
                           "more (anchors and aliases that multiply)")
        self._sizes[id(node)] = size
        return node

    def construct_yaml_int(self, node):
        digits = sum(ch.isdigit() for ch in str(node.value))
        if digits > limits.MAX_YAML_INT_DIGITS:
            raise _Refused(node.start_mark, f"an integer of at most {limits.MAX_YAML_INT_DIGITS} digits",
                           f"{digits} digits")
        return super().construct_yaml_int(node)


_Loader.add_constructor(_CORE + "int", _Loader.construct_yaml_int)


def loads(text: str, file: str, *, error: type[AnalysisError] = UsageError) -> Any:
    """The document in ``text`` (see the module docstring).

    Raises:
        error: ``file:LINE: expected …, found …`` for YAML that is invalid, refused or too large.
    """
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        line = f":{exc.mark.line + 1}" if exc.mark is not None else ""
        raise error(f"{file}{line}: expected {exc.expected}, found {exc.found}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{file}{line}: expected valid UTF-8 YAML, found: {problem}") from None
    except RecursionError:  # the parser itself recurses on flow collections before compose_node sees them
        raise error(f"{file}: expected at most {limits.MAX_YAML_DEPTH} levels of nesting, found more") from None
    finally:
        loader.dispose()


def read_text(path: str | os.PathLike, *, what: str, max_bytes: int,
              error: type[AnalysisError] = UsageError) -> str:
    """A regular file's UTF-8 text, of at most ``max_bytes`` bytes (no FIFOs, devices or folders).

    Raises:
        error: naming the file and what was expected.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError:
        raise error(f"{p}: expected {what}, found no such file") from None
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{p}: expected {what}, found {'a folder' if stat.S_ISDIR(st.st_mode) else 'no regular file'}")
    if st.st_size > max_bytes:
        raise error(f"{p}: expected {what} of at most {max_bytes} bytes, found {st.st_size} bytes")
    try:   # without blocking, and checked again on the descriptor: a file swapped for a FIFO is refused too
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise error(f"{p}: expected {what}, found no regular file")
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{p}: expected {what}, found a file that cannot be read ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise error(f"{p}: expected {what} of at most {max_bytes} bytes, found more")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{p}: expected UTF-8 text, found a byte that is not UTF-8 at offset {exc.start}") from None


def load(path: str | os.PathLike, *, what: str, max_bytes: int, error: type[AnalysisError] = UsageError) -> Any:
    """:func:`read_text` then :func:`loads`."""
    return loads(read_text(path, what=what, max_bytes=max_bytes, error=error), str(path), error=error)
