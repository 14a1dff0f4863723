"""What people write for a field, turned into what the decoder stores and the builder packs.

``IPv4(src="192.0.2.1")``, ``TCP(flags="SA")``, ``IPv4(proto="UDP")``: a layer made by hand
takes addresses as text, flags as letters or names and enum constants by name, while a
decoded layer holds bytes and ints. The builder converts once, with the converter of the
field's kind, and remembers the text it has seen (a program that builds many packets writes
the same few addresses again and again).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pktspec.errors import BuildError
from pktspec.runtime.layer import FieldInfo
from pktspec.runtime.values import addr_bytes, ipv4_bytes, ipv6_bytes, mac_bytes

__all__ = ["converter", "ok_type", "parse_flags"]


def ok_type(info: FieldInfo) -> type | None:
    """The type a field's value is stored as (a value of it needs no converting), or None
    for a structured part, which is kept as given."""
    if info.kind in ("int", "enum", "flags"):
        return int
    if info.kind in ("address", "bytes"):
        return bytes
    return None


def converter(info: FieldInfo) -> Callable[[Any], Any]:
    """The function that turns a value a person gives for this field into the raw value.

    Text is converted once per distinct string and remembered (a program that builds
    many packets writes the same few addresses and flag strings over and over)."""
    kind = info.kind
    if kind == "enum":
        convert = _cached(lambda v: _to_int(v, info, info.enum.parse))
    elif kind == "flags":
        convert = _cached(lambda v: _to_int(v, info, lambda text: parse_flags(info.flags, text)))
    elif kind == "int":
        convert = _cached(lambda v: _to_int(v, info, lambda text: int(text, 0)))
    elif kind == "address":
        convert = _cached(lambda v: _to_address(v, info))
    elif kind == "bytes":
        return lambda v: _to_bytes(v, info)
    else:
        return _to_value
    return convert


def _cached(convert: Callable[[Any], Any], limit: int = 4096) -> Callable[[Any], Any]:
    memo: dict[str, Any] = {}

    def cached(value: Any) -> Any:
        """convert(value), remembered for strings (a text address or an enum name given
        again and again); other values are converted each time."""
        if type(value) is not str:
            return convert(value)
        out = memo.get(value)
        if out is None:
            if len(memo) >= limit:
                memo.clear()
            out = memo[value] = convert(value)
        return out

    return cached


def _to_int(value: Any, info: FieldInfo, parse: Callable[[str], int]) -> int:
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        try:
            return int(parse(value))
        except ValueError as exc:
            raise BuildError(f"{info.name}: {exc}") from None
    if info.kind == "flags" and isinstance(value, (list, tuple, set, frozenset)):
        return parse_flags(info.flags, "|".join(value))
    raise BuildError(f"{info.name} takes an integer{' or a name' if info.enum else ''}, "
                     f"not {value!r}")


def _to_address(value: Any, info: FieldInfo) -> bytes:
    size = info.size or (info.bits // 8 if info.bits else None)
    if isinstance(value, str):
        parse = {4: ipv4_bytes, 6: mac_bytes, 16: ipv6_bytes}.get(size) if size else addr_bytes
        if parse is None:
            raise BuildError(f"{info.name}: no text form for a {size}-byte address")
        try:
            return parse(value)
        except ValueError as exc:
            raise BuildError(f"{info.name}: {exc}") from None
    if isinstance(value, int) and size:
        return value.to_bytes(size, "big")
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if size and len(data) != size:
            raise BuildError(f"{info.name} is {size} bytes, not {len(data)}")
        return data
    raise BuildError(f"{info.name} takes an address as text or bytes, not {value!r}")


def _to_bytes(value: Any, info: FieldInfo) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise BuildError(f"{info.name} takes bytes, not {value!r}")


def _to_value(value: Any) -> Any:
    """Structured parts (options, records) are kept; a tuple would read as an unparsed span."""
    return list(value) if type(value) is tuple else value


def parse_flags(flags: Any, text: str) -> int:
    """``"SA"``, ``"syn|ack"``, ``"DF"``, ``"dont_fragment,more_fragments"`` -> the int.

    Each word is a flag name (any case), a short name (``DF``, ``SYN``), or a run of letters
    that each begin exactly one flag name (TCP's ``FSRPAUECN``; tcpdump's ``.`` and ``W``
    for ack and cwr are accepted too).
    """
    masks = flags._masks_
    named = {n.casefold(): m for n, m in masks.items()}
    named.update({short.casefold(): m for n, m, short in flags._order_})
    firsts: dict[str, list[int]] = {}
    for n, m in masks.items():
        firsts.setdefault(n[0].casefold(), []).append(m)
    letters = {k: v[0] for k, v in firsts.items() if len(v) == 1}
    if getattr(flags, "_tcpdump_", False):
        letters.setdefault(".", masks.get("ack", 0))
        letters.setdefault("w", masks.get("cwr", 0))
    value = 0
    for word in re.split(r"[|,+\s]+", text.strip()):
        if not word:
            continue
        key = word.casefold()
        if key in named:
            value |= named[key]
        elif all(ch.casefold() in letters for ch in word):
            for ch in word:
                value |= letters[ch.casefold()]
        else:
            known = ", ".join(masks)
            raise ValueError(f"unknown flag {word!r} (flags: {known})")
    return value
