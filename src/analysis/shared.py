"""A read-only mapping that pandas does not copy: what goes in ``DataFrame.attrs``.

pandas deep-copies a frame's ``attrs`` into the result of nearly every operation (``__finalize__``:
filtering, ``.loc``, arithmetic, column selection). With the region hierarchy there (39 regions,
their names, aliases and parents) a report spent about a second of CPU in ``copy.deepcopy`` —
measured with cProfile on the default report's cells: 793 000 ``deepcopy`` calls, a third of the
kernel's time. The values in ``attrs`` are built once when the data is read and never changed
afterwards, so every frame derived from the observations may share them: :class:`Shared` returns
itself from ``copy``/``deepcopy`` and refuses changes, which makes sharing safe.

It is a ``dict`` subclass, so ``json.dumps`` writes it as a plain object and every reader that
expects a dict gets one.
"""
from __future__ import annotations

from typing import Any, NoReturn


class Shared(dict):
    """A dict that is never copied (``copy``/``deepcopy`` return it) and cannot be changed."""

    __slots__ = ()

    def __deepcopy__(self, memo: dict) -> "Shared":
        return self

    def __copy__(self) -> "Shared":
        return self

    def copy(self) -> dict:
        """A plain, changeable dict with the same items."""
        return dict(self)

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("this mapping is shared by every frame derived from the data and cannot be changed; "
                        "change a copy (dict(mapping))")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self):
        return (Shared, (dict(self),))


def shared(mapping: Any) -> Shared:
    """``mapping`` as a :class:`Shared` (itself when it already is one)."""
    return mapping if isinstance(mapping, Shared) else Shared(mapping or {})
