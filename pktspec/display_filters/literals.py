"""The values written in a filter (numbers, enum and flag names, addresses, networks, bytes,
strings, regular expressions) read as the field they are compared with.

The same text means different things beside different fields (``2`` is a number, ``01:02``
bytes, ``UDP`` an enum member), so a literal is read only once its field's kind is known.
"""

from __future__ import annotations

import codecs
import ipaddress
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from lark import Token

from pktspec.display_filters.references import _bytes_of, flag_mask
from pktspec.errors import DisplayFilterError
from pktspec.runtime.layer import Layer


def _literal(text: str, ref: Any, token: Token) -> tuple[Callable[[Any], Any], Any]:
    """How to compare a field's value with the literal: (value -> comparable, target).

    The literal is converted to the field's kind: numbers (decimal, 0x hex, decimal
    fractions exactly, enum and flag names), addresses (text, CIDR networks), bytes
    ("text" or hex like 01:02:03), text.
    """
    raw = str(token)
    if raw.startswith('"'):
        return _text_or_bytes, _string(text, token)
    kind = ref.kind()
    if kind == "number":
        info = None if ref.frame or ref.cut is not None else ref.info
        number = _int(raw, info)
        if number is None:
            what = getattr(info, "kind", None)
            raise DisplayFilterError(text, token.column, f"{raw!r} is not a number"
                                     + (" or a name of the field's enum" if what == "enum"
                                        else " or a flag name" if what == "flags" else ""))
        return _as_number, number
    if kind == "address":
        return _address(text, raw, token)
    return _bytes_or_text(raw, hex_ok=True)


def _as_number(value: Any) -> Any:
    return value if isinstance(value, (float, Fraction)) else int(value)


def _int(raw: str, info: Any) -> int | Fraction | None:
    """A number literal (decimal, 0x hex, a decimal fraction, exactly, for times), or a name
    of the field's enum or flag set (a flag stands for its bit)."""
    try:
        return int(raw, 0)
    except ValueError:
        pass
    try:
        return Fraction(raw)
    except (ValueError, ZeroDivisionError):
        pass
    enum = getattr(info, "enum", None)
    if enum is not None:
        for name, member in enum._members_.items():
            if name.lower() == raw.lower():
                return int(member)
    flags = getattr(info, "flags", None)
    if flags is not None:
        return flag_mask(flags, raw)
    return None


def _address(text: str, raw: str, token: Token) -> tuple[Callable[[Any], Any], Any]:
    try:
        if "/" in raw:
            network = ipaddress.ip_network(raw, strict=False)
            return (lambda value: _in_network(value, network)), True
        return (lambda value: _ip(value)), ipaddress.ip_address(raw)
    except ValueError:
        pass
    mac = raw.lower().replace("-", ":")
    if len(mac) == 14 and mac.count(".") == 2:  # Cisco's dotted form, 0000.0100.0000
        digits = mac.replace(".", "")
        mac = ":".join(digits[i:i + 2] for i in range(0, 12, 2))
    if len(mac.split(":")) == 6:
        return (lambda value: str(value).lower()), mac
    raise DisplayFilterError(text, token.column, f"{raw!r} is not an address (IPv4, IPv6, "
                             "a network like 10.0.0.0/8, or a MAC)")


def _ip(value: Any) -> Any:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        return str(value).lower()


def _in_network(value: Any, network: Any) -> bool:
    try:
        return ipaddress.ip_address(str(value)) in network
    except ValueError:
        return False


def _bytes_or_text(raw: str, hex_ok: bool = False) -> tuple[Callable[[Any], Any], Any]:
    """An unquoted literal that is not a number or an address: hex bytes (``01:02:03``) when
    it reads as such, else its text."""
    if hex_ok:
        digits = raw.replace(":", "").replace("-", "")
        if len(digits) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in digits):
            return _text_or_bytes, _Literal(bytes.fromhex(digits))
    return _text_or_bytes, _Literal(raw.encode())


def _string(text: str, token: Token) -> _Literal:
    """A quoted literal: its UTF-8 bytes, with backslash escapes as in Python bytes
    (``\\x00``, ``\\n``, ``\\"``; an unknown escape such as a regular expression's ``\\d``
    stays as written)."""
    try:
        data = codecs.escape_decode(str(token)[1:-1].encode())[0]
    except ValueError as exc:
        raise DisplayFilterError(text, token.column, f"bad escape in the string: {exc}") \
            from None
    return _Literal(data)


def _text_or_bytes(value: Any) -> Any:
    """A field's value as the literal compares with it: bytes as bytes, anything else as
    its text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value)


def _comparable(value: Any, kind: str) -> Any:
    """A value of one side of a field-to-field comparison, in a form the other side's
    compares with: numbers, ip addresses (a MAC as its lower-case text), bytes, text."""
    if kind == "number" or isinstance(value, (bool, Fraction, float)):
        return _as_number(value)
    if kind == "address":
        return _ip(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Layer):
        return _bytes_of(value)
    return str(value)


class _Literal:
    """A text-or-bytes literal: equal to the same bytes, or to text whose UTF-8 encoding
    they are; ``in`` works on both."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = other.encode()
        return other == self.data

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def found_in(self, value: Any) -> bool:
        haystack = value if isinstance(value, bytes) else str(value).encode()
        return self.data in haystack


class _Regex:
    """A ``matches`` pattern, case-insensitive as Wireshark's (``(?-i)`` first: sensitive):
    searched in a field's text, or in its bytes (a bytes pattern of the same text)."""

    __slots__ = ("text", "data")

    def __init__(self, pattern: bytes) -> None:
        flags = re.IGNORECASE
        if pattern.startswith(b"(?-i)"):  # PCRE's case-sensitive switch, at the start only
            pattern, flags = pattern[5:], re.NOFLAG
        self.data = re.compile(pattern, flags)
        self.text = re.compile(pattern.decode("utf-8", "surrogateescape"), flags)

    def found_in(self, value: Any) -> bool:
        if isinstance(value, Layer):
            value = _bytes_of(value) or b""
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.data.search(bytes(value)) is not None
        return self.text.search(str(value)) is not None
