"""A layer's one-line summary, from its ``summary "..." if cond;`` rules (``SUMMARY``).

The generator turns each rule into ``(test, parts, condition)``: ``test`` a function of the
decoded layer (None: always), ``parts`` literal text and ``(path, spec)`` placeholders, and
``condition`` the ``if`` as written (for ``pktspec list``). The first rule whose
test holds and whose every path has a value gives the text, so a later rule is the fallback of
an earlier one (``summary "{questions[0].name}"; summary "no question";``). Values print as
people read them: an enum value by its name, flags as their names, addresses as text, bytes as
text when printable (else hex), integers in the placeholder's format (``{id:#06x}``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["rule_text", "summary_of", "value_text"]

MAX_ITEMS = 8
"""Most items of a list a summary shows (then ``...``)."""

MAX_BYTES = 32
"""Most bytes a summary shows of a bytes value in hex (then ``...``)."""

MAX_TEXT = 200
"""Most characters a summary shows of a printable bytes value (an HTTP target)."""


class _Missing(Exception):
    """A path step that has no value in this layer (an absent field, a short list)."""


def summary_of(layer: Any) -> str | None:
    """The text of the first of the layer's SUMMARY rules that applies, or None."""
    for test, parts, *_condition_text in getattr(type(layer), "SUMMARY", ()):
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


def rule_text(rule: tuple[Any, ...]) -> str:
    """A SUMMARY rule as the .layer file writes it: ``"who-has {dst} ..." if op == 1``."""
    text = []
    for part in rule[1]:
        if isinstance(part, str):
            text.append(part.replace("{", "{{").replace("}", "}}"))
            continue
        path, spec = part
        steps = "".join(f"[{s}]" if isinstance(s, int) or s == "*" else f"[{s[0]}={s[1]}]"
                        if isinstance(s, tuple) else f".{s}" for s in path[1:])
        text.append("{" + str(path[0]) + steps + (f":{spec}" if spec else "") + "}")
    condition = rule[2] if len(rule) > 2 else None
    body = "".join(text).replace("\\", "\\\\").replace('"', '\\"')
    body = "".join(c if c.isprintable() else repr(c)[1:-1] for c in body)
    return f'"{body}"' + (f" if {condition}" if condition else "")


def _placeholder(layer: Any, path: tuple[str | int, ...], spec: str) -> str:
    value = _step(layer, path[0])
    info = _field_infos(type(layer)).get(path[0])
    if type(value) is int and info is not None:  # a layer keeps enum and flag values as ints
        wrap = info.enum or info.flags
        value = wrap(value) if wrap is not None else value
    return _rest(value, path[1:], spec)


def _rest(value: Any, steps: tuple[Any, ...], spec: str) -> str:
    """The text of value after the remaining steps; ``[*]`` takes each item on (items that
    lack the rest are left out; none at all passes the rule over)."""
    for i, step in enumerate(steps):
        if step == "*":
            if not isinstance(value, (list, tuple)):
                raise _Missing
            texts = []
            for item in value[:MAX_ITEMS]:
                try:
                    texts.append(_rest(item, steps[i + 1:], spec))
                except _Missing:
                    continue
            if not texts:
                raise _Missing
            return ", ".join(texts) + (", ..." if len(value) > MAX_ITEMS else "")
        value = _step(value, step)
    if spec and isinstance(value, int) and not isinstance(value, bool):
        return format(int(value), spec)
    return value_text(value)


@functools.cache
def _field_infos(cls: type) -> dict[str, Any]:
    return {info.name: info for info in getattr(cls, "fields_info", ())}


def _step(value: Any, step: str | int | tuple[str, int]) -> Any:
    try:
        if isinstance(step, tuple):  # [member=value]: the first item whose member has it
            found = next(item for item in value if _member(item, step[0]) == step[1])
        elif isinstance(step, int):
            if isinstance(value, (str, bytes, bytearray, memoryview)) \
                    or not isinstance(value, Sequence) or not 0 <= step < len(value):
                raise _Missing
            found = value[step]
        elif step.startswith("_"):  # never generated (the checker refuses it): be sure
            raise _Missing
        else:
            found = _member(value, step)
    except _Missing:
        raise
    except Exception as exc:  # absent, or a lazily decoded part that does not decode
        raise _Missing from exc
    if found is None or (type(found) is str and not found):
        raise _Missing  # an absent field (or an empty address): the rule is passed over
    return found


def _member(value: Any, name: str) -> Any:
    if isinstance(value, Mapping) and name in value:
        return value[name]
    return getattr(value, name)


def value_text(value: Any) -> str:
    """How a summary prints one value."""
    names = getattr(type(value), "_names_", None)
    if isinstance(value, int) and isinstance(names, Mapping):  # an enum value
        return str(names.get(int(value), int(value)))
    if isinstance(value, int) and hasattr(type(value), "_known_"):  # a flag set
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value[:MAX_TEXT + 1])
        if data and all(32 <= b < 127 for b in data):
            return data[:MAX_TEXT].decode("ascii") + ("..." if len(data) > MAX_TEXT else "")
        data = bytes(value[:MAX_BYTES + 1])
        return data[:MAX_BYTES].hex() + ("..." if len(data) > MAX_BYTES else "")
    if isinstance(value, (list, tuple)):
        items = [value_text(v) for v in value[:MAX_ITEMS]]
        return ",".join(items) + (",..." if len(value) > MAX_ITEMS else "")
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, Mapping):  # a struct: its members on one line
        return " ".join(f"{k}={value_text(v)}" for k, v in value.items()
                        if isinstance(k, str) and not k.startswith("_") and v is not None)
    return " ".join(str(value).split())  # one line, whatever the value's own str says
