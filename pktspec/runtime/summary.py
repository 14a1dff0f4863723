"""A layer's one-line summary, from its ``summary "..." if cond;`` rules (``SUMMARY``).

The generator turns each rule into ``(test, parts)``: ``test`` a function of the decoded layer
(None: always), ``parts`` literal text and ``(path, spec)`` placeholders. The first rule whose
test holds and whose every path has a value gives the text, so a later rule is the fallback of
an earlier one (``summary "{questions[0].name}"; summary "no question";``). Values print as
people read them: an enum value by its name, flags as their names, addresses as text, bytes as
text when printable (else hex), integers in the placeholder's format (``{id:#06x}``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["summary_of", "value_text"]

MAX_ITEMS = 8
"""Most items of a list a summary shows (then ``...``)."""

MAX_BYTES = 32
"""Most bytes a summary shows of a bytes value (then ``...``)."""


class _Missing(Exception):
    """A path step that has no value in this layer (an absent field, a short list)."""


def summary_of(layer: Any) -> str | None:
    """The text of the first of the layer's SUMMARY rules that applies, or None."""
    for test, parts in getattr(type(layer), "SUMMARY", ()):
        if test is not None:
            try:
                if not test(layer):
                    continue
            except Exception:  # a field the test reads is absent or did not decode
                continue
        try:
            return "".join(part if isinstance(part, str) else _placeholder(layer, *part)
                           for part in parts)
        except _Missing:
            continue
    return None


def _placeholder(layer: Any, path: tuple[str | int, ...], spec: str) -> str:
    value = _step(layer, path[0])
    info = _field_infos(type(layer)).get(path[0])
    if type(value) is int and info is not None:  # a layer keeps enum and flag values as ints
        wrap = info.enum or info.flags
        value = wrap(value) if wrap is not None else value
    for step in path[1:]:
        value = _step(value, step)
    if spec and isinstance(value, int) and not isinstance(value, bool):
        return format(int(value), spec)
    return value_text(value)


@functools.cache
def _field_infos(cls: type) -> dict[str, Any]:
    return {info.name: info for info in getattr(cls, "fields_info", ())}


def _step(value: Any, step: str | int) -> Any:
    try:
        if isinstance(step, int):
            if isinstance(value, (str, bytes, bytearray, memoryview)) \
                    or not isinstance(value, Sequence) or not 0 <= step < len(value):
                raise _Missing
            found = value[step]
        elif step.startswith("_"):  # never generated (the checker refuses it): be sure
            raise _Missing
        elif isinstance(value, Mapping) and step in value:
            found = value[step]
        else:
            found = getattr(value, step)
    except _Missing:
        raise
    except Exception as exc:  # absent, or a lazily decoded part that does not decode
        raise _Missing from exc
    if found is None:
        raise _Missing
    return found


def value_text(value: Any) -> str:
    """How a summary prints one value."""
    names = getattr(type(value), "_names_", None)
    if isinstance(value, int) and isinstance(names, Mapping):  # an enum value
        return str(names.get(int(value), int(value)))
    if isinstance(value, int) and hasattr(type(value), "_known_"):  # a flag set
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        cut = "..." if len(data) > MAX_BYTES else ""
        data = data[:MAX_BYTES]
        if data and all(32 <= b < 127 for b in data):
            return data.decode("ascii") + cut
        return data.hex() + cut
    if isinstance(value, (list, tuple)):
        items = [value_text(v) for v in value[:MAX_ITEMS]]
        return ",".join(items) + (",..." if len(value) > MAX_ITEMS else "")
    if isinstance(value, int):
        return str(int(value))
    return str(value)
