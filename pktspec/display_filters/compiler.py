"""Compiling a parsed filter into a predicate: the parse tree becomes nested closures over
(packet, frames), and :class:`DisplayFilter` wraps them for callers.

Nothing in the text is evaluated as Python; every check a filter can fail at compile time
(a whole layer compared, numbers against text, a bad regular expression) is made here,
before any packet is seen.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from lark import Token, Transformer, v_args
from lark.exceptions import VisitError

from pktspec.display_filters.frames import Frames
from pktspec.display_filters.literals import (
    _bytes_or_text,
    _comparable,
    _int,
    _literal,
    _Regex,
    _string,
    _text_or_bytes,
)
from pktspec.display_filters.parser import parse_filter
from pktspec.display_filters.references import _layer_named, _Masked, _Ref
from pktspec.errors import DisplayFilterError
from pktspec.runtime.packet import Packet

Test = Callable[[Packet, "Frames"], bool]
Predicate = Callable[[Packet], bool]

_WORDS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_ORDER = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
          ">": operator.gt, ">=": operator.ge}


class DisplayFilter:
    """A compiled display filter: ``matches(packet)`` or ``matches(packet, frames)``.

    Without ``frames`` it numbers the packets it is given itself (``reset()`` starts again)."""

    __slots__ = ("text", "_test", "_frames")

    def __init__(self, text: str, test: Test) -> None:
        self.text, self._test, self._frames = text, test, Frames()

    def __call__(self, packet: Packet, frames: Frames | None = None) -> bool:
        if frames is None:
            frames = self._frames
            frames.see(packet)
        return bool(self._test(packet, frames))

    def reset(self) -> None:
        """Number from 1 again (a new capture)."""
        self._frames = Frames()

    def __repr__(self) -> str:
        return f"DisplayFilter({self.text!r})"


def compile_filter(text: str) -> DisplayFilter:
    """A predicate over packets for a display filter (see :mod:`pktspec.display_filters`)."""
    tree = parse_filter(text)
    try:
        test = _Compile(text).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, DisplayFilterError):
            raise exc.orig_exc from None
        raise
    return DisplayFilter(text, test)


@v_args(inline=True)
class _Compile(Transformer):
    """The parse tree to nested closures over (packet, frames)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def ref(self, *names: Any) -> _Ref:
        """``layer.field[.flag]``, resolved now so that a misspelt name fails at once."""
        return _Ref(self.text, list(names))

    def slice(self, start: Token, length: Token | None = None) -> tuple[int, int | None]:
        """``[offset]`` or ``[offset:length]``."""
        if length is not None and int(length) == 0:
            raise DisplayFilterError(self.text, length.column, "a slice of 0 bytes")
        return int(start), None if length is None else int(length)

    def masked(self, ref: _Ref, op: Token, token: Token) -> _Masked:
        """``field & mask``: a number field's bits under the mask."""
        if ref.kind() != "number":
            raise DisplayFilterError(self.text, op.column, f"'&' takes a number field; "
                                     f"{ref.label} is not one")
        mask = _int(str(token), None if ref.frame or ref.cut is not None else ref.info)
        if not isinstance(mask, int):
            raise DisplayFilterError(self.text, token.column,
                                     f"{str(token)!r} is not a number (a bit mask)")
        return _Masked(ref, mask)

    def present(self, ref: Any) -> Test:
        """A bare reference: the layer is there, the field is present and not empty (no
        options is no ``tcp.options``), the flag is set; ``field & mask``: not zero."""
        if isinstance(ref, _Masked) or len(ref.path) == 2:  # a flag: set in some layer
            return lambda packet, frames: any(ref.values(packet, frames))
        return lambda packet, frames: any(_has(v) for v in ref.values(packet, frames))

    def compare(self, ref: Any, op: Token, token: Token) -> Test:
        """``field OP value``: some layer's value compares; ``!=``: none is equal. The
        value may be another field: then some pair of the two fields' values compares."""
        self._needs_field(ref, token)
        op = Token("CMP", _WORDS.get(str(op), str(op)), column=op.column)
        other = self._field_on_the_right(ref, token)
        if other is not None:
            return self._compare_fields(ref, op, other)
        convert, target = _literal(self.text, ref, token)
        test = _ORDER[str(op)]
        if str(op) not in ("==", "!=") and not isinstance(target, (int, Fraction)):
            raise DisplayFilterError(self.text, op.column, f"{op} compares numbers only")
        if str(op) == "!=":  # none of the values is equal (ip.addr != x: neither end is x)
            equal = self.compare(ref, Token("CMP", "=="), token)
            return lambda packet, frames: (bool(ref.values(packet, frames))
                                           and not equal(packet, frames))
        if target is True:  # a network: == means inside it
            return lambda packet, frames: any(convert(v) for v in ref.values(packet, frames))
        return lambda packet, frames: any(_safe(test, convert, v, target)
                                          for v in ref.values(packet, frames))

    def _compare_fields(self, left: Any, op: Token, right: Any) -> Test:
        """``a OP b`` for two fields: any pair of their values; ``!=``: both have values and
        no pair is equal."""
        kinds = left.kind(), right.kind()
        if "layer" in kinds:
            raise DisplayFilterError(self.text, (left if kinds[0] == "layer" else right)
                                     .column, "compare a field, not a whole layer")
        if {"number", "address"} <= set(kinds) or ("number" in kinds and op not in ("==", "!=")
                                                   and set(kinds) != {"number"}):
            raise DisplayFilterError(self.text, op.column, f"{left.label} ({kinds[0]}) and "
                                     f"{right.label} ({kinds[1]}) cannot be compared with {op}")
        test = _ORDER["==" if str(op) == "!=" else str(op)]

        def pairs(packet: Packet, frames: Frames) -> tuple[list[Any], list[Any]]:
            return ([_comparable(v, kinds[0]) for v in left.values(packet, frames)],
                    [_comparable(v, kinds[1]) for v in right.values(packet, frames)])

        def any_pair(packet: Packet, frames: Frames) -> bool:
            a, b = pairs(packet, frames)
            return any(_safe(test, _same, x, y) for x in a for y in b)

        if str(op) != "!=":
            return any_pair

        def none_equal(packet: Packet, frames: Frames) -> bool:
            a, b = pairs(packet, frames)
            return bool(a) and bool(b) and not any(_safe(test, _same, x, y)
                                                   for x in a for y in b)
        return none_equal

    def contains(self, ref: Any, _kw: Token, token: Token) -> Test:
        """``field contains "text"`` or ``contains 01:02``: the bytes (or the text's
        UTF-8) appear in the field's bytes or text."""
        self._needs_field(ref, token)
        if str(token).startswith('"'):
            needle = _string(self.text, token)
        else:
            needle = _bytes_or_text(str(token), hex_ok=True)[1]
        return lambda packet, frames: any(needle.found_in(_text_or_bytes(v))
                                          for v in ref.values(packet, frames))

    def matches(self, ref: Any, kw: Token, token: Token) -> Test:
        """``field matches "regex"`` (or ``~``): the regular expression, case-insensitive as
        Wireshark's, is found in the field's text or bytes."""
        self._needs_field(ref, token)
        kind = ref.kind()
        if kind in ("number", "address"):
            raise DisplayFilterError(self.text, ref.column, f"{ref.label} is "
                                     f"{'a number' if kind == 'number' else 'an address'}: "
                                     f"{kw} takes a text or bytes field")
        pattern = _string(self.text, token).data
        try:
            regex = _Regex(pattern)
        except re.error as exc:
            skipped = 5 if pattern.startswith(b"(?-i)") else 0
            where = token.column + 1 + skipped + (exc.pos or 0)
            raise DisplayFilterError(self.text, min(where, token.column + len(token) - 1),
                                     f"bad regular expression: {exc.msg}") from None
        return lambda packet, frames: any(regex.found_in(v)
                                          for v in ref.values(packet, frames))

    def span(self, low: Token, _range: Token, high: Token) -> tuple[Token, Token]:
        """``low..high`` inside a set."""
        return low, high

    def member(self, ref: Any, _kw: Token, *items: Any) -> Test:
        """``field in {a, b, 80..90}`` (commas optional): equal to one of them, or within
        a range."""
        tests = []
        for item in items:
            if isinstance(item, tuple):
                low = self.compare(ref, Token("CMP", ">=", column=item[0].column), item[0])
                high = self.compare(ref, Token("CMP", "<=", column=item[1].column), item[1])
                tests.append(lambda packet, frames, lo=low, hi=high:
                             lo(packet, frames) and hi(packet, frames))
            elif isinstance(item, Token) and item.type != "COMMA":
                tests.append(self.compare(ref, Token("CMP", "==", column=item.column), item))
        return lambda packet, frames: any(t(packet, frames) for t in tests)

    def negate(self, _kw: Token, inner: Any) -> Test:
        """``not x`` / ``!x``."""
        inner = self._test(inner)
        return lambda packet, frames: not inner(packet, frames)

    def and_(self, *parts: Any) -> Test:
        """``a and b and ...`` (the operator tokens are among the parts)."""
        tests = [self._test(p) for p in parts if not isinstance(p, Token)]
        return lambda packet, frames: all(t(packet, frames) for t in tests)

    def or_(self, *parts: Any) -> Test:
        """``a or b or ...``."""
        tests = [self._test(p) for p in parts if not isinstance(p, Token)]
        return lambda packet, frames: any(t(packet, frames) for t in tests)

    def _test(self, part: Any) -> Test:
        """A bare reference where a test belongs (``not tcp``, ``(tcp.flags & 2)``)."""
        return self.present(part) if isinstance(part, (_Ref, _Masked)) else part

    def _field_on_the_right(self, left: Any, token: Token) -> Any:
        """The field a value names (``ip.dst`` in ``ip.src == ip.dst``), or None for a
        value. A dotted word whose first part is a layer (or frame) is a field; when it
        names no field of that layer, a text or bytes field on the left takes it as text."""
        raw = str(token)
        head, dot, _ = raw.partition(".")
        if token.type != "LITERAL" or not dot or not head.isidentifier():
            return None
        if head.lower() != "frame" and _layer_named(head) is None:
            return None
        parts, column = [], token.column
        for part in raw.split("."):
            if not part.isidentifier():
                return None
            parts.append(Token("NAME", part, column=column))
            column += len(part) + 1
        try:
            return _Ref(self.text, parts)
        except DisplayFilterError:
            if left.kind() in ("bytes", "text", "other"):
                return None
            raise

    def _needs_field(self, ref: Any, token: Token) -> None:
        if isinstance(ref, _Ref) and ref.kind() == "layer":
            raise DisplayFilterError(self.text, ref.column, "compare a field "
                                     f"({ref.cls.name}.<field>), not a whole layer")


def _same(value: Any) -> Any:
    return value


def _has(value: Any) -> bool:
    """Present for a bare reference: not an empty list or empty bytes."""
    if isinstance(value, (list, tuple, bytes, bytearray, memoryview)):
        return len(value) > 0
    return True


def _safe(test: Callable[[Any, Any], bool], convert: Callable[[Any], Any], value: Any,
          target: Any) -> bool:
    """test(convert(value), target), False when the two cannot be compared."""
    try:
        return bool(test(convert(value), target))
    except (TypeError, ValueError):
        return False
