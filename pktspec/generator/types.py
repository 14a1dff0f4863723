"""The semantic types of fields, shared by the checker and the model.

A field's written type (``u4``, ``u16le``, ``ipv4addr``, ``IPProtocol``, ``bits 3 {...}``,
``IPv4Option[] size n``) becomes one FieldType that says how wide it is, how it is stored and
what Python value it decodes to. Only the checker creates them; the model reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pktspec.grammar import ast

_INT = re.compile(r"^(u|i)([0-9]+)(le|be)?$")
ADDRESSES = {"mac": 6, "ipv4addr": 4, "ipv6addr": 16}
ADDRESS_KIND = {"mac": "mac", "ipv4addr": "ipv4", "ipv6addr": "ipv6"}


@dataclass
class FieldType:
    """What a field is on the wire and in Python.

    kind is one of int, enum, flags, addr, bytes, struct, array, switch, extern.
    ``bits`` is the fixed width in bits, or None when the size depends on the data.
    """

    kind: str
    bits: int | None = None
    signed: bool = False
    endian: str = "big"
    enum: str | None = None  # enum name for kind == "enum"
    flag_names: tuple[str, ...] = ()
    addr: str | None = None  # mac | ipv4 | ipv6
    size: ast.Expr | None = None  # bytes[size]; None for "to the end"
    struct: str | None = None
    args: tuple[ast.Expr, ...] = ()
    element: FieldType | None = None
    count: ast.Expr | None = None
    array_size: ast.Expr | None = None
    until: ast.Expr | None = None
    selector: ast.Expr | None = None
    cases: list[tuple[tuple[ast.Expr, ...] | None, FieldType]] = field(default_factory=list)
    extern: str | None = None
    sized: ast.Expr | None = None  # `T size expr`: confined to that many bytes
    delimiter: bytes | None = None  # `bytes until "..."`: up to the delimiter, which is skipped
    written: str = ""  # the type as written, for messages and FieldInfo

    @property
    def is_scalar(self) -> bool:
        """Fixed-width values that struct.unpack_from reads (or a shift/mask extracts)."""
        return self.kind in ("int", "enum", "flags", "addr") or (
            self.kind == "bytes" and self.bits is not None)

    @property
    def to_end(self) -> bool:
        """Takes the rest of the header/layer (bytes[] or T[] with no bound)."""
        if self.kind == "bytes":
            return self.size is None and self.delimiter is None
        if self.kind == "array":
            return self.count is None and self.array_size is None and self.until is None
        return False


def int_type(name: str, default_endian: str) -> FieldType | None:
    """uN / iN with an optional le/be suffix, 1 <= N <= 64; None if the name is not one."""
    m = _INT.match(name)
    if not m:
        return None
    width = int(m.group(2))
    if not 1 <= width <= 64:
        return None
    endian = {"le": "little", "be": "big"}.get(m.group(3) or "", default_endian)
    return FieldType("int", bits=width, signed=m.group(1) == "i", endian=endian, written=name)


def is_int_name(name: str) -> bool:
    return _INT.match(name) is not None
