"""JSON Schema checks with the project's messages: ``file: key.path: expected …, found …``.

The jobs file (:mod:`analysis.jobs`) and the catalog (:mod:`analysis.catalog`) declare their
shape as JSON Schema; ``jsonschema`` validates, and this module words its errors. Each schema
node's ``description`` is what a message says was expected there.
"""
from __future__ import annotations

import re


def _where(path, prefix: str = "") -> str:
    """``jobs[1].parameters.yaer`` for a jsonschema error path; ``top level`` for the document."""
    text = prefix
    for part in path:
        if isinstance(part, str) and part.isidentifier():
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text or "top level"


def _found(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


#: which of several errors at one place to report: a wrong type, then an unknown key, then a missing one
_FIRST = {"type": 0, "additionalProperties": 1, "required": 2}
#: errors that say only that no alternative fits; any other error is more precise
_WEAK = ("anyOf", "oneOf")


def _message(file: str, error, prefix: str = "") -> str:
    """One jsonschema error as ``file: key.path: expected …, found …``."""
    schema, instance, path = error.schema, error.instance, list(error.path)
    described = schema.get("description")
    if error.validator == "additionalProperties":
        known = list(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        extra = next(k for k in instance if k not in known and not any(re.search(p, str(k)) for p in patterns))
        expected, found, path = "one of " + ", ".join(known), _found(extra), [*path, extra]
    elif error.validator == "required":
        missing = next(r for r in error.validator_value if r not in instance)
        expected, found = f"a value for {missing}", "none"
    elif isinstance(instance, dict):
        expected, found = described or error.message, f"a mapping {_found(instance)}"
    else:
        expected, found = described or error.message, _found(instance)
    return f"{file}: {_where(path, prefix)}: expected {expected}, found {found}"


def _order(part) -> tuple:
    """Sorts the parts of error paths: list indexes as numbers, keys (YAML allows any) as text."""
    return (0, part) if isinstance(part, int) else (1, str(part))


def problems(validator, document, file: str, prefix: str = "") -> list[str]:
    """Every schema error as a message, the most relevant first: any before an ``anyOf`` (reported
    as a whole, by its description, not by one of its branches), then the one highest in the
    document (the first of siblings), and at one place in the order of :data:`_FIRST`."""
    errors = sorted(validator.iter_errors(document),
                    key=lambda e: (e.validator in _WEAK, len(e.path), [_order(p) for p in e.path],
                                   _FIRST.get(e.validator, len(_FIRST))))
    return list(dict.fromkeys(_message(file, e, prefix) for e in errors))


def validator(schema: dict):
    """A JSON Schema 2020-12 validator (the schema itself checked first)."""
    from .run import trim_imports
    trim_imports()  # before jsonschema's first import: skips a 1.9 s grammar build nobody uses
    from jsonschema import Draft202012Validator
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)
