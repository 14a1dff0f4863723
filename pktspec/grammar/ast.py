"""The typed AST of a .layer file.

Plain frozen dataclasses, one per construct of the language, each with its source position, so
that every later phase (resolve, check, model, emit) can report problems at file:line:column.
The tree is built by transform.py from lark's parse tree and is never mutated afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pktspec.errors import Location

# ---- expressions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IntLit:
    value: int
    pos: Location


@dataclass(frozen=True)
class StrLit:
    value: str
    pos: Location


@dataclass(frozen=True)
class Name:
    name: str
    pos: Location


@dataclass(frozen=True)
class Attr:
    obj: Expr
    name: str
    pos: Location


@dataclass(frozen=True)
class Index:
    obj: Expr
    index: Expr
    pos: Location


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    pos: Location


@dataclass(frozen=True)
class BinOp:
    """A binary operator; ``op`` is the Python spelling (+, -, ==, and, or, <<, ...)."""

    op: str
    left: Expr
    right: Expr
    pos: Location


@dataclass(frozen=True)
class UnaryOp:
    op: str  # "-", "~", "not"
    operand: Expr
    pos: Location


@dataclass(frozen=True)
class Cond:
    test: Expr
    then: Expr
    other: Expr
    pos: Location


Expr = IntLit | StrLit | Name | Attr | Index | Call | BinOp | UnaryOp | Cond


def children(e: Expr) -> tuple[Expr, ...]:
    """The expressions directly inside e (none for a literal or a name): the one place that
    knows how expressions nest, for the passes that walk them."""
    if isinstance(e, Attr):
        return (e.obj,)
    if isinstance(e, Index):
        return (e.obj, e.index)
    if isinstance(e, Call):
        return tuple(e.args)
    if isinstance(e, UnaryOp):
        return (e.operand,)
    if isinstance(e, BinOp):
        return (e.left, e.right)
    if isinstance(e, Cond):
        return (e.test, e.then, e.other)
    return ()

# ---- types ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NamedType:
    """uN/iN, u16le, mac, ipv4addr, ipv6addr, an enum, a struct (with args) or an extern."""

    name: str
    args: tuple[Expr, ...]
    pos: Location


@dataclass(frozen=True)
class BytesType:
    size: Expr | None  # None: to the end of the header (or of the layer)
    pos: Location
    delimiter: bytes | None = None  # `bytes until "\r\n"`: up to (not including) it


@dataclass(frozen=True)
class BitsType:
    """A named flag set: ``bits 3 { reserved, dont_fragment, more_fragments }``, MSB first."""

    width: int
    names: tuple[str, ...]
    pos: Location


@dataclass(frozen=True)
class Case:
    values: tuple[Expr, ...] | None  # None: the default case
    type: TypeExpr
    pos: Location


@dataclass(frozen=True)
class SwitchType:
    selector: Expr
    cases: tuple[Case, ...]
    pos: Location


@dataclass(frozen=True)
class ArrayType:
    """``T[count]``, ``T[] size expr``, ``T[] until expr`` or ``T[]`` (to the end)."""

    element: TypeExpr
    count: Expr | None
    size: Expr | None
    until: Expr | None
    pos: Location


@dataclass(frozen=True)
class SizedType:
    """``T size expr``: a struct, switch or extern confined to exactly ``expr`` bytes."""

    inner: TypeExpr
    size: Expr
    pos: Location


TypeExpr = NamedType | BytesType | BitsType | SwitchType | ArrayType | SizedType

# ---- members of a layer or struct ----------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    type: TypeExpr
    pos: Location
    check: Expr | None = None  # `== expr`: the decoded value must equal it
    value: Expr | None = None  # `= expr`: what the builder writes (lengths, checksums)
    cond: Expr | None = None  # `if expr`: the field is present only when true
    default: Expr | None = None  # `default expr`: the builder's value when none is given
    optional: bool = False  # `optional` checksum: 0 on the wire means "none" (UDP)
    doc: str = ""
    # `align N`: (N, position of N): padding to a multiple of N bytes from the layer's start
    align: tuple[int, Location] | None = None


@dataclass(frozen=True)
class Let:
    """A computed value over earlier fields, readable like a field but not on the wire."""

    name: str
    expr: Expr
    pos: Location
    doc: str = ""


@dataclass(frozen=True)
class Assign:
    """A boundary: ``header = expr;`` or ``payload = expr;`` (lengths in bytes)."""

    name: str
    expr: Expr
    pos: Location


@dataclass(frozen=True)
class Requires:
    expr: Expr
    message: str | None
    pos: Location


@dataclass(frozen=True)
class FlowStmt:
    src: str
    dst: str
    pos: Location


@dataclass(frozen=True)
class NextFixed:
    layer: str
    pos: Location
    when: Expr | None = None  # ``next Layer if cond;``: this rule holds only when cond does


@dataclass(frozen=True)
class NextBy:
    """``next by a, b in Table unless cond;``: the first value bound in the table wins.

    When ``unless`` holds the chain ends there, or goes on with the layer ``instead``
    (``unless fragment_offset != 0 -> Fragment``). With ``if cond`` the rule holds only
    when cond does, and a later ``next`` rule is tried otherwise (SNAP: the protocol ID is
    an EtherType when the OUI is 0, a Cisco protocol under Cisco's OUI).
    """

    exprs: tuple[Expr, ...]
    table: str | None
    unless: Expr | None
    pos: Location
    instead: str | None = None
    when: Expr | None = None


@dataclass(frozen=True)
class Guard:
    """``guard expr;``: a binding to this layer holds only when expr (over ``data``, the bytes
    the layer would decode) is true; otherwise the parent looks further (heuristics, Payload).
    """

    expr: Expr
    pos: Location


@dataclass(frozen=True)
class Quotes:
    """``quotes;``: the layers after this one decode a copy of (part of) another packet, as
    an ICMP error quotes the datagram that caused it; they are not this packet's own traffic
    (``packet.transport``, flows and reassembly look only before this layer)."""

    pos: Location


@dataclass(frozen=True)
class Trailer:
    """``trailer { crc: u16le = crc16_modbus(header, payload); }``: fixed-size fields after
    the payload (a frame's CRC), decoded once the payload's end is known and built after
    it."""

    fields: tuple[Field, ...]
    pos: Location
    keyword: str = "trailer"  # the word before the block: anything else is an error


@dataclass(frozen=True)
class Summary:
    """``summary "who-has {target_ip}" if operation == 1;``: a one-line summary of the layer,
    a text with field paths in braces, used when ``when`` holds (or always without ``if``)."""

    template: str
    when: Expr | None
    pos: Location
    keyword: str = "summary"  # the word before the text: anything else is an error


Member = (Field | Let | Assign | Requires | FlowStmt | NextFixed | NextBy | Guard | Quotes
          | Trailer | Summary)

# ---- declarations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    path: str
    pos: Location


@dataclass(frozen=True)
class Endian:
    value: str  # "big" | "little"
    pos: Location


@dataclass(frozen=True)
class Const:
    name: str
    expr: Expr
    pos: Location
    doc: str = ""


@dataclass(frozen=True)
class Extern:
    """``extern name;`` (a field type) or ``extern checksum name : u16;`` (a checksum
    function, ``result`` the integer type it gives); both implemented in Python."""

    name: str
    pos: Location
    doc: str = ""
    result: str | None = None  # a checksum's result type as written (u16); None: a type
    result_pos: Location | None = None


@dataclass(frozen=True)
class Binding:
    layer: str
    priority: int
    pos: Location


@dataclass(frozen=True)
class EnumItem:
    name: str
    value: Expr
    target: Binding | None
    pos: Location


@dataclass(frozen=True)
class Enum:
    name: str
    base: str
    items: tuple[EnumItem, ...]
    pos: Location
    doc: str = ""


@dataclass(frozen=True)
class ExtValue:
    name: str | None
    value: Expr
    target: Binding
    pos: Location


@dataclass(frozen=True)
class ExtHeuristic:
    target: Binding
    cond: Expr
    pos: Location


@dataclass(frozen=True)
class Extend:
    table: str
    items: tuple[ExtValue | ExtHeuristic, ...]
    pos: Location


@dataclass(frozen=True)
class Struct:
    name: str
    params: tuple[str, ...]
    endian: str | None
    members: tuple[Member, ...]
    pos: Location
    doc: str = ""


@dataclass(frozen=True)
class Layer:
    name: str
    layer_class: str
    endian: str | None
    members: tuple[Member, ...]
    pos: Location
    doc: str = ""


Decl = Import | Endian | Const | Extern | Enum | Extend | Struct | Layer


@dataclass(frozen=True)
class Module:
    """One parsed .layer file."""

    file: str
    source: str
    decls: tuple[Decl, ...] = field(default_factory=tuple)

    def of_type(self, kind: type) -> list:
        return [d for d in self.decls if isinstance(d, kind)]
