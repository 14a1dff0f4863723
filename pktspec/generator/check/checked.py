"""What the check phase hands on: the checked layers and structs (Unit, CField), enums, bindings
and the checksum widths they were checked against, gathered in Checked.

Kept apart from the checks so that plan, layout and relations import the data they read, not
the Checker that builds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pktspec.errors import SpecWarning
from pktspec.generator.resolve import Program, SourceFile
from pktspec.generator.types import FieldType
from pktspec.grammar import ast
from pktspec.runtime.constructs import BUILTIN_CHECKSUM_BITS

# How many bits each checksum gives: the field it fills must hold them. The built-in ones
# come from the runtime's table; a file's `extern checksum f : u16;` adds its own to
# Checker.checksums (and Checked.checksums), which is what the checks read.
CHECKSUM_BITS = dict(BUILTIN_CHECKSUM_BITS)
BUILD_FUNCS = {name: (1, 4) for name in CHECKSUM_BITS}


@dataclass
class CField:
    name: str
    ftype: FieldType
    node: ast.Field


@dataclass
class Unit:
    """A checked layer or struct: the model plans its layout from this."""

    kind: str  # "layer" | "struct"
    node: ast.Layer | ast.Struct
    file: SourceFile
    endian: str
    fields: list[CField] = field(default_factory=list)
    members: list = field(default_factory=list)  # fields, lets, requires in source order
    header: ast.Expr | None = None
    payload: ast.Expr | None = None
    flow: ast.FlowStmt | None = None
    next: ast.NextFixed | ast.NextBy | None = None  # the builder's: the first `next by`
    next_table: str | None = None  # its table
    # every next rule with its table (None for `next Layer;`), in source order; all but the
    # last have `if cond` (`next by protocol_id in EtherType if oui == 0;`)
    nexts: list[tuple[ast.NextFixed | ast.NextBy, str | None]] = field(default_factory=list)
    guard: ast.Guard | None = None
    quotes: bool = False
    pseudo_header: ast.Expr | None = None
    trailer: list[CField] = field(default_factory=list)  # `trailer { ... }`, also in fields
    # `summary "..." [if cond];` in source order: (literals and (path, spec) placeholders, cond)
    summaries: list[tuple[tuple, ast.Expr | None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.node.name

    def field(self, name: str) -> CField | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass
class CEnum:
    node: ast.Enum
    file: SourceFile
    base: FieldType
    items: list[tuple[str, int]]


@dataclass
class Bind:
    """One entry of a dispatch table: a value (or a heuristic) -> a layer."""

    table: str
    value: int | None
    name: str | None
    target: str
    priority: int
    cond: ast.Expr | None
    pos: object
    file: SourceFile


@dataclass
class Checked:
    program: Program
    units: dict[str, Unit]
    enums: dict[str, CEnum]
    consts: dict[str, int]
    bindings: list[Bind]
    warnings: list[SpecWarning] = field(default_factory=list)
    # checksum function -> bits of its result (built-in and `extern checksum`)
    checksums: dict[str, int] = field(default_factory=lambda: dict(CHECKSUM_BITS))
