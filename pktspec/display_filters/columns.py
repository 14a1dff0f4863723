"""``decode -e`` columns: a field reference compiled on its own, and its values written as
tshark's ``-T fields`` writes them (hex where tshark shows hex, times with nine decimals).

The reference is the same as a filter's; only the output differs, so it lives apart from the
predicates.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from lark.exceptions import UnexpectedInput

from pktspec.display_filters.frames import Frames
from pktspec.display_filters.parser import _PARSER
from pktspec.display_filters.references import _Ref
from pktspec.errors import DisplayFilterError
from pktspec.runtime.layer import Layer
from pktspec.runtime.packet import Packet


class FieldColumn:
    """One ``decode -e`` column: ``column(packet[, frames])`` gives the field's values in the
    packet (one per layer that has it), ``column.text(value)`` writes one as tshark's
    ``-T fields`` does (hex for the fields tshark shows in hex, decimal otherwise)."""

    __slots__ = ("name", "ref", "_frames")

    def __init__(self, name: str, ref: _Ref) -> None:
        self.name, self.ref, self._frames = name, ref, Frames()

    def __call__(self, packet: Packet, frames: Frames | None = None) -> list[Any]:
        if frames is None:
            frames = self._frames
            frames.see(packet)
        return self.ref.values(packet, frames)

    def text(self, value: Any) -> str:
        return field_text(value, self.ref.hex_width)


def compile_field(text: str) -> FieldColumn:
    """The values of one field reference (``ip.src``, ``tcp.flags.syn``, ``frame.len``) in a
    packet, one per layer that has it: what ``decode -e`` prints, as tshark's ``-T fields``.
    Raises DisplayFilterError for a name no layer or field has."""
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput:
        tree = None
    inner = tree.children[0] if getattr(tree, "data", None) == "present" else None
    if getattr(inner, "data", None) != "ref":
        raise DisplayFilterError(text, 1, "a field is layer.field (or layer.field.flag)",
                                 what="field")
    try:
        ref = _Ref(text, list(inner.children))
    except DisplayFilterError as exc:
        raise DisplayFilterError(text, exc.column, exc.message, what="field") from None
    return FieldColumn(text, ref)


def field_text(value: Any, hex_width: int | None = None) -> str:
    """A value as tshark's -T fields writes it: a set flag 1 (else 0), numbers in decimal or,
    with ``hex_width``, as 0x and that many hex digits; flag sets in hex; times with nine
    decimals; bytes as bare hex; addresses and text as they read; a layer by its name."""
    from pktspec.runtime.values import FlagSet

    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Fraction):
        return _seconds_text(value)
    if isinstance(value, int):
        if hex_width is not None:
            return f"0x{int(value):0{hex_width}x}"
        if isinstance(value, FlagSet):
            return f"{int(value):#06x}"
        return str(int(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, Layer):
        return value.name.lower()
    return str(value)


def _seconds_text(value: Fraction) -> str:
    """Seconds with nine decimals, cut (not rounded) to the nanosecond, as tshark writes
    frame.time_epoch and frame.time_relative."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value.numerator) * 10**9 // value.denominator, 10**9)
    return f"{sign}{whole}.{frac:09d}"
