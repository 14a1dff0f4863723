"""Phase 2: check. Give every field its semantic type and find every mistake in a Program.

The checker reports all problems of all files at once (a SpecError whose ``problems`` lists
them), each at file:line:column with a hint. It catches unknown names (with "did you mean"),
names that are not safe Python identifiers, type errors in expressions, fields used before
they are decoded, fields that can never be reached, bit fields that do not end on a byte, flows
over mismatched fields, divisors that are a constant zero, and overlapping bindings. What
passes is safe to emit: every name that reaches generated code has been validated here.
A binding into a table no layer dispatches on passes with a warning (SpecWarning).
"""

from __future__ import annotations

import keyword
import warnings
from dataclasses import dataclass, field

from pktspec.errors import SpecError, SpecWarning
from pktspec.generator.resolve import Program, SourceFile, builtin_index
from pktspec.generator.types import ADDRESS_KIND, ADDRESSES, FieldType, int_type, is_int_name
from pktspec.grammar import ast
from pktspec.grammar.parser import LAYER_CLASSES
from pktspec.runtime.constructs import BUILTIN_CHECKSUM_BITS, registered_checksum_bits
from pktspec.runtime.layer import RESERVED_NAMES

# Attributes of runtime.Layer (and names generated code relies on) that a field may not shadow.
RESERVED = frozenset({
    "contents", "payload", "trailer", "flow", "fields", "raw_fields", "layer_type", "name",
    "layer_class", "source", "fields_info", "FORMAT", "packet", "build", "header",
    "data", "next_layer", "summary", "show", "copy", "replace", "serialize", "verify_checksum",
    "self", "buf", "off", "end", "hend", "pend", "this", "nxt",
}) | RESERVED_NAMES
BUILTIN_FUNCS = {"len": (1, 1), "min": (2, 8), "max": (2, 8), "sizeof": (1, 1)}
# How many bits each checksum gives: the field it fills must hold them. The built-in ones
# come from the runtime's table; a file's `extern checksum f : u16;` adds its own to
# Checker.checksums (and Checked.checksums), which is what the checks read.
CHECKSUM_BITS = dict(BUILTIN_CHECKSUM_BITS)
BUILD_FUNCS = {name: (1, 4) for name in CHECKSUM_BITS}
# Build-only functions that make bytes: concat(a, b, ...) joins byte strings, and uN(x) is x
# as an N-bit integer in the unit's byte order (a pseudo-header spells out its layout so).
BYTES_FUNCS = {"concat": (1, 16), "u8": (1, 1), "u16": (1, 1), "u24": (1, 1), "u32": (1, 1),
               "u64": (1, 1)}
SPECIAL_NAMES = {"header", "payload", "pseudo_header"}
# What `pseudo_header = ...` may read besides the layer's fields: the length of the layer
# whose checksum covers it, and the number this layer's next table binds that layer to.
PSEUDO_NAMES = {"upper_length", "upper_protocol"}
BOUNDARIES = ("header", "payload", "pseudo_header")


# Attributes of the FlagSet (an int) a flag is read beside: a flag must not shadow them.
_FLAGSET_ATTRIBUTES = frozenset(n for n in dir(int) if not n.startswith("_")) | {
    "names", "test", "define"}


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
    next: ast.NextFixed | ast.NextBy | None = None
    next_table: str | None = None
    guard: ast.Guard | None = None
    quotes: bool = False
    pseudo_header: ast.Expr | None = None
    trailer: list[CField] = field(default_factory=list)  # `trailer { ... }`, also in fields

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


def valid_identifier(name: str) -> str | None:
    """Why ``name`` cannot become a Python identifier in generated code (None if it can)."""
    if not name.isidentifier() or not name.isascii():
        return "is not a valid identifier"
    # Soft keywords (match, case, type, _) stay valid attribute and variable names.
    if keyword.iskeyword(name) or name in ("None", "True", "False"):
        return "is a Python keyword"
    if name.startswith("_"):
        return "starts with '_' (names with a leading underscore are reserved)"
    return None


class Checker:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.problems: list[SpecError] = []
        self.warnings: list[SpecWarning] = []
        # (unit, field) whose type was wrong (reported): uses of it are not errors again
        self.untyped: set[tuple[int, str]] = set()
        self.consts: dict[str, int] = {}
        # checksum function -> bits of its result: the built-in ones and `extern checksum`s
        self.checksums: dict[str, int] = dict(CHECKSUM_BITS)
        self.enums: dict[str, CEnum] = {}
        self.units: dict[str, Unit] = {}
        self.bindings: list[Bind] = []
        self.current: SourceFile | None = None
        self._nesting = 0  # > 0 while check_expr checks the parts of an expression
        # names that `extend` statements gave to enum values: table -> name -> value
        self.extended: dict[str, dict[str, int]] = {}

    # ---- reporting ----
    def error(self, pos, message: str, hint: str | None = None) -> None:
        source = self.current.module.source if self.current else None
        self.problems.append(SpecError(pos, message, hint, source))

    def warn(self, pos, message: str, hint: str | None = None) -> None:
        """Something that checks but will not take effect: reported, never fatal."""
        source = self.current.module.source if self.current else None
        self.warnings.append(SpecWarning(pos, message, hint, source))

    def check_name(self, name: str, pos, what: str) -> None:
        why = valid_identifier(name)
        if why:
            self.error(pos, f"{what} name {name!r} {why}", "rename it")

    # ---- driver ----
    def run(self) -> Checked:
        for source in self.program.files:
            self.current = source
            for decl in source.module.decls:
                if isinstance(decl, ast.Const):
                    self.check_name(decl.name, decl.pos, "constant")
                    self.consts[decl.name] = self.const_value(decl.expr)
                elif isinstance(decl, ast.Enum):
                    self.check_enum(decl, source)
                elif isinstance(decl, ast.Extern) and decl.result is not None:
                    self.check_extern_checksum(decl)
                elif isinstance(decl, ast.Extern):
                    self.check_name(decl.name, decl.pos, "extern type")
        for source in self.program.files:
            self.current = source
            for decl in source.module.decls:
                if isinstance(decl, (ast.Layer, ast.Struct)):
                    self.check_unit(decl, source)
                elif isinstance(decl, ast.Extend):
                    self.check_extend(decl, source)
            for decl in source.module.of_type(ast.Enum):
                for item in decl.items:
                    if item.target is not None:
                        self.add_binding(decl.name, self.const_value(item.value), item.name,
                                         item.target, None, item.pos, source)
        self.check_recursive_structs()
        self.check_builtin_layer_names()
        self.check_overlaps()
        if self.problems:
            first = self.problems[0]
            raise SpecError(first.location, first.message, first.hint, first.source,
                            list(self.problems))
        self.check_dispatched()
        return Checked(self.program, self.units, self.enums, self.consts, self.bindings,
                       self.warnings, checksums=self.checksums)

    def check_extern_checksum(self, decl: ast.Extern) -> None:
        """``extern checksum name : uN;``: a function Python registers, whose result has N
        bits; the generated code names it as a string, looked up in the runtime's
        registry (never evaluated)."""
        self.check_name(decl.name, decl.pos, "checksum function")
        if decl.name in CHECKSUM_BITS:
            self.error(decl.pos, f"{decl.name!r} is a built-in checksum function",
                       "call it without declaring it, or give yours another name")
            return
        result = int_type(decl.result, "big")
        if result is None or result.signed:
            self.error(decl.result_pos, f"a checksum gives an unsigned integer, not "
                       f"{decl.result!r}", "for example: extern checksum "
                       f"{decl.name} : u16;")
            return
        if self.checksums.get(decl.name, result.bits) != result.bits:
            self.error(decl.pos, f"checksum {decl.name!r} is declared with "
                       f"{self.checksums[decl.name]} bits already")
        self.checksums[decl.name] = result.bits
        if registered_checksum_bits(decl.name) is None:
            # fine for now (Python may register it after loading), but building or
            # verifying a layer that calls it fails until it does
            self.warn(decl.pos, f"checksum function {decl.name!r} is not registered: "
                      "relations that call it cannot be computed or verified yet",
                      f"call pktspec.runtime.constructs.register_checksum({decl.name!r}, "
                      f"func, bits={result.bits}) before decoding or building")

    # ---- constants and enums ----
    def const_value(self, expr: ast.Expr) -> int:
        if self.too_deep(expr):
            return 0
        try:
            return _const_eval(expr, self.consts)
        except _ConstError as exc:
            self.error(exc.pos, exc.message)
            return 0
        except _NotConstant as exc:
            self.error(exc.pos, "a constant integer is needed here", exc.hint)
            return 0

    def check_enum(self, decl: ast.Enum, source: SourceFile) -> None:
        self.check_name(decl.name, decl.pos, "enum")
        base = int_type(decl.base, "big")
        if base is None:
            self.error(decl.pos, f"enum base type {decl.base!r} is not an integer type",
                       "use u8, u16, u32, ...")
            base = FieldType("int", bits=32, written="u32")
        items: list[tuple[str, int]] = []
        seen: dict[str, int] = {}
        for item in decl.items:
            self.check_name(item.name, item.pos, "enum item")
            if item.name in seen or item.name in ("name_of", "values", "names"):
                self.error(item.pos, f"enum item {item.name!r} is declared twice"
                           if item.name in seen else f"enum item name {item.name!r} is reserved")
            value = self.const_value(item.value)
            if not 0 <= value < (1 << base.bits) and not base.signed:
                self.error(item.pos, f"{value} does not fit in {decl.base}")
            seen[item.name] = value
            items.append((item.name, value))
        self.enums[decl.name] = CEnum(decl, source, base, items)

    def check_extend(self, decl: ast.Extend, source: SourceFile) -> None:
        if decl.table not in self.enums:
            self.unknown(decl.table, decl.pos, "enum", {
                n for n, e in self.enums.items()})
            return
        enum = self.enums[decl.table]
        for item in decl.items:
            if isinstance(item, ast.ExtHeuristic):
                self.check_expr(item.cond, _Scope(heuristic=True))
                self.add_binding(decl.table, None, None, item.target, item.cond, item.pos, source)
                continue
            if item.name is not None:
                self.check_name(item.name, item.pos, "enum item")
            value = self.const_value(item.value)
            if not 0 <= value < (1 << enum.base.bits):
                self.error(item.pos, f"{value} does not fit in {enum.node.base}")
            if item.name is not None:
                # the runtime refuses a name that already means another value (ValueError)
                named = self.extended.setdefault(decl.table, {})
                before = dict(enum.items).get(item.name, named.get(item.name))
                if before is not None and before != value:
                    self.error(item.pos, f"{decl.table}.{item.name} is already {before}",
                               f"bind the value without a name ('{value} -> "
                               f"{item.target.layer}'), or give it another name")
                elif before is None:
                    named[item.name] = value
            self.add_binding(decl.table, value, item.name, item.target, None, item.pos, source)

    def add_binding(self, table, value, name, target: ast.Binding, cond, pos, source) -> None:
        if not self.check_layer_ref(target.layer, target.pos):
            return
        self.bindings.append(Bind(table, value, name, target.layer, target.priority, cond, pos,
                                  source))

    def check_overlaps(self) -> None:
        self.check_builtin_overlaps()
        seen: dict[tuple[str, int, int], Bind] = {}
        for b in self.bindings:
            if b.value is None:
                continue
            key = (b.table, b.value, b.priority)
            other = seen.get(key)
            if other is not None and other.target == b.target and other.file is b.file:
                # loading binds both (different lines are different sources): a conflict
                self.current = b.file
                self.error(b.pos, f"{b.table} value {b.value} ({b.value:#x}) is bound twice "
                           f"in this file (first at {other.pos})", "drop one of the two")
            elif other is not None and (other.target != b.target or other.file is not b.file):
                self.current = b.file
                self.error(b.pos, f"{b.table} value {b.value} ({b.value:#x}) is bound to {other.target} "
                           f"already (at {other.pos}) with the same priority",
                           "give one binding a higher 'priority N' to make it win, or drop one")
            seen[key] = b

    def check_layer_ref(self, name: str, pos) -> bool:
        """Whether ``name`` is a layer (a binding's target, 'next X', '-> X'); says what it
        is instead if it is a struct, an enum, a const or an extern."""
        symbol = self.program.symbols.get(name)
        if symbol is not None and symbol.kind != "layer":
            self.error(pos, f"{name!r} is {'an' if symbol.kind[0] in 'ae' else 'a'} "
                       f"{symbol.kind}, not a layer",
                       "only a layer can follow another: declare "
                       f"'layer {name} : application {{ ... }}'" if symbol.kind == "struct"
                       else "name a layer here")
            return False
        if symbol is None:
            self.unknown(name, pos, "layer",
                         {n for n, s in self.program.symbols.items() if s.kind == "layer"})
            return False
        return True

    def check_dispatched(self) -> None:
        """A binding into a table that no layer dispatches on (none of this program's
        layers, no built-in layer, not the capture's link type) never takes effect: a
        warning, once per table and file, at its first binding."""
        ours = {u.next_table for u in self.units.values() if u.next_table}
        reported: set[tuple[int, str]] = set()
        for b in self.bindings:
            key = (id(b.file), b.table)
            if b.file.builtin or b.table in ours or key in reported:
                continue
            if b.table in builtin_index().dispatched:
                continue
            reported.add(key)
            users = [(u, f) for u in self.units.values() if u.kind == "layer"
                     for f in u.fields if f.ftype.kind == "enum" and f.ftype.enum == b.table]
            if users:
                unit, f = users[0]
                hint = f"add 'next by {f.name};' to layer {unit.name}"
            else:
                hint = (f"give a layer a field of type {b.table} and 'next by <field>;', "
                        f"or 'next by <expr> in {b.table};'")
            self.current = b.file
            self.warn(b.pos, f"no layer dispatches on {b.table}: its bindings here never take "
                      f"effect ({b.target} is never decoded through it)", hint)

    def check_builtin_overlaps(self) -> None:
        """A user's binding against a built-in one its file does not import: loading would
        fail on it, so ``pktspec check`` says so first."""
        import pktspec.protocols  # noqa: F401  (the built-in bindings, as loading will meet them)
        from pktspec.runtime.registry import REGISTRY

        ours = {s.display for s in self.program.files}
        for b in self.bindings:
            if b.value is None or b.file.builtin or b.table not in REGISTRY.tables():
                continue
            for other in REGISTRY.table(b.table).bindings(b.value):
                source = (other.source or "").rsplit(":", 1)[0]
                if source in ours or other.cls.name == b.target or other.priority != b.priority:
                    continue
                self.current = b.file
                self.error(b.pos, f"{b.table} value {b.value} ({b.value:#x}) is bound to {other.cls.name} "
                           f"already (by {other.source}) with the same priority",
                           "give this binding a higher 'priority N' to make it win")

    def check_builtin_layer_names(self) -> None:
        """A user's layer named like a built-in one: the registry refuses the second class
        called so when both are loaded (a file that imports the built-in file is told so by
        resolve already)."""
        import pktspec.protocols  # noqa: F401  (the built-in layers, as loading will meet them)
        from pktspec.runtime.registry import REGISTRY

        ours = {s.module_name for s in self.program.files if s.builtin}
        for source in self.program.files:
            if source.builtin:
                continue
            for decl in source.module.of_type(ast.Layer):
                cls = REGISTRY.get_layer(decl.name)
                module = getattr(cls, "__module__", "")
                if cls is None or not module.startswith("pktspec.protocols.") or module in ours:
                    continue
                self.current = source
                self.error(decl.pos, f"a built-in layer is already called {decl.name}",
                           f"rename this layer (the built-in one is in "
                           f"protocols/{module.rsplit('.', 1)[-1]}.layer)")

    def check_recursive_structs(self) -> None:
        """A struct that contains itself, directly or through other structs (in arrays and
        switch cases too), has no finite layout and cannot be generated."""
        edges: dict[str, list[tuple[str, CField]]] = {}
        for name, unit in self.units.items():
            if unit.kind == "struct":
                edges[name] = [(ref, cf) for cf in unit.fields for ref in _struct_refs(cf.ftype)
                               if ref in self.units and self.units[ref].kind == "struct"]
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        for root in edges:  # in declaration order, iteratively (chains may be long)
            if root in state:
                continue
            path: list[str] = [root]
            stack = [iter(edges[root])]
            state[root] = 1
            while stack:
                step = next(stack[-1], None)
                if step is None:
                    state[path.pop()] = 2
                    stack.pop()
                    continue
                ref, cf = step
                if state.get(ref) == 1:  # this field closes a cycle
                    cycle = path[path.index(ref):] + [ref]
                    self.current = self.units[path[-1]].file
                    self.error(cf.node.pos, f"struct {ref} contains itself "
                               f"({' -> '.join(cycle)})", "a struct cannot contain itself: "
                               "its size would be infinite; break the cycle with bytes")
                elif ref not in state:
                    state[ref] = 1
                    path.append(ref)
                    stack.append(iter(edges[ref]))

    def unknown(self, name: str, pos, what: str, pool: set[str]) -> None:
        hint = self.program.suggest(name, pool)
        if what in ("enum", "layer") and name not in self.program.symbols:
            # declared by a built-in file this one does not import
            hint = builtin_index().hint_import(name, (what,)) or hint
        self.error(pos, f"unknown {what} {name!r}", hint)

    # ---- layers and structs ----
    def check_unit(self, decl: ast.Layer | ast.Struct, source: SourceFile) -> None:
        kind = "layer" if isinstance(decl, ast.Layer) else "struct"
        self.check_name(decl.name, decl.pos, kind)
        file_endian = next((e.value for e in source.module.of_type(ast.Endian)), "big")
        unit = Unit(kind, decl, source, decl.endian or file_endian)
        if kind == "layer" and decl.layer_class not in LAYER_CLASSES:
            self.error(decl.pos, f"unknown layer class {decl.layer_class!r}",
                       "one of: " + ", ".join(LAYER_CLASSES))
        scope = _Scope(unit=unit, params=set(getattr(decl, "params", ())), consts=self.consts)
        for p in scope.params:
            self.check_name(p, decl.pos, "parameter")
        params = list(getattr(decl, "params", ()))
        for p in sorted({p for p in params if params.count(p) > 1}):
            self.error(decl.pos, f"parameter {p!r} of struct {decl.name} is declared twice",
                       "give each parameter its own name")
        bit_offset = 0
        chunk_cond: object = None  # the condition of the bit fields sharing the current byte
        unsized: CField | None = None  # the first field whose size its value does not give
        rest_taker: CField | None = None
        unfinished: CField | None = None  # the bit field after which the byte is not full
        for member in decl.members:
            if isinstance(member, ast.Field):
                if rest_taker is not None and member.cond is None:
                    self.error(member.pos, f"field {member.name!r} can never be reached: "
                               f"{rest_taker.name!r} takes the rest of the {kind}",
                               f"give {rest_taker.name!r} a size, or move it last")
                cf = self.check_field(member, unit, scope)
                if cf is None:
                    self.untyped.add((id(unit), member.name))
                    continue
                if bit_offset % 8 and expr_key(cf.node.cond) != chunk_cond:
                    self.error(member.pos, f"field {member.name!r} shares a byte with the bit "
                               "fields before it but not their condition",
                               "bit fields in one byte are there together: give them the same "
                               "'if' (or none)")
                elif bit_offset % 8 == 0:
                    chunk_cond = expr_key(cf.node.cond)
                if member.align is not None:
                    self.check_align(cf, unit, bit_offset, unsized)
                bit_offset = self.check_alignment(cf, bit_offset)
                unfinished = cf if bit_offset % 8 else None
                if unsized is None and not _size_from_value(cf.ftype, self.units):
                    unsized = cf
                if cf.ftype.to_end:
                    rest_taker = cf
                unit.fields.append(cf)
                unit.members.append(cf)
                scope.known[cf.name] = cf.ftype
            elif isinstance(member, ast.Let):
                self.check_member_name(member.name, member.pos, scope)
                t = self.check_expr(member.expr, scope)
                unit.members.append(member)
                scope.known[member.name] = self.let_type(member.expr, t, scope)
            elif isinstance(member, ast.Requires):
                self.check_condition(member.expr, scope)
                unit.members.append(member)
            elif isinstance(member, ast.Trailer):
                self.check_trailer(member, unit, scope)
            else:
                self.check_statement(member, unit, scope)
                if isinstance(member, ast.Assign) and member.name == "header":
                    scope.header_len = True  # what follows may say len(header)
        cond_trailer = next((cf for cf in unit.trailer if cf.node.cond is not None), None)
        if cond_trailer is not None and rest_taker is not None and unit.header is None:
            self.error(cond_trailer.node.pos, f"trailer field {cond_trailer.name!r} has an "
                       f"'if', but {rest_taker.name!r} runs to the layer's end and no "
                       "'header = ...' says where the header ends",
                       "give the header's length ('header = length;'), or size "
                       f"{rest_taker.name!r}, so that the trailer's size is not needed to "
                       "find it")
        if bit_offset % 8:
            used, missing = bit_offset % 8, 8 - bit_offset % 8
            where = unfinished.node.pos if unfinished is not None else decl.pos
            after = f" after {unfinished.name!r}" if unfinished is not None else ""
            self.error(where, f"the bit fields of {decl.name!r} end {used} "
                       f"bit{'s' if used != 1 else ''} into a byte",
                       f"add a {missing}-bit reserved field{after} (for example "
                       f"'reserved: u{missing};') so they end on a byte")
        self.units[decl.name] = unit

    def check_trailer(self, member: ast.Trailer, unit: Unit, scope: _Scope) -> None:
        """``trailer { ... }``: fields after the payload, once per layer. They have fixed
        sizes (the decoder reads them where the payload ends) and may be there only when a
        header field says so (``fcs: u32le = crc32(payload) if flags.fcs;``); the header's
        expressions cannot read them, their build values read anything."""
        if member.keyword != "trailer":
            self.error(member.pos, f"unknown block {member.keyword!r}",
                       "a layer's one block is 'trailer { crc: u16; }': fields after the "
                       "payload")
            return
        if unit.kind != "layer" or unit.trailer:
            self.error(member.pos, "a layer has at most one 'trailer { ... }', and structs "
                       "have none")
            return
        bits = 0
        for node in member.fields:
            if unit.field(node.name) is not None:
                self.error(node.pos, f"field {node.name!r} is declared twice")
                continue
            cf = self.check_field(node, unit, scope)
            if cf is None:
                continue
            if not cf.ftype.is_scalar or node.align is not None:
                self.error(node.pos, f"trailer field {node.name!r} must have a fixed size",
                           "use integers, enums, flags, addresses or bytes[N], without "
                           "'align'")
                continue
            if node.cond is not None and (bits % 8 or cf.ftype.bits % 8):
                self.error(node.pos, f"trailer field {node.name!r} has an 'if' but shares a "
                           "byte with other trailer fields", "a conditional trailer field "
                           "must be whole bytes (u8, u16, u32le, bytes[4], ...)")
                bits += cf.ftype.bits
                continue
            bits += cf.ftype.bits
            unit.fields.append(cf)
            unit.trailer.append(cf)
        if bits % 8:
            self.error(member.pos, f"the trailer's fields end {bits % 8} bits into a byte",
                       "add a reserved bit field so they end on a byte")

    def check_member_name(self, name: str, pos, scope: _Scope) -> None:
        self.check_name(name, pos, "field")
        if name in RESERVED and (scope.unit is None or scope.unit.kind == "layer"):
            self.error(pos, f"field name {name!r} is reserved by the runtime",
                       f"rename it, e.g. {name}_value")
        if name in scope.known:
            self.error(pos, f"field {name!r} is declared twice")

    def check_align(self, cf: CField, unit: Unit, bit_offset: int,
                    unsized: CField | None) -> None:
        """``align N``: in a layer, on a byte boundary, after fields whose sizes their values
        give (the builder works the padding out from them)."""
        n, pos = cf.node.align
        if unit.kind != "layer":
            self.error(pos, "'align' counts from the start of a layer: structs have none",
                       "align the struct's field in the layer instead")
        elif not 1 <= n <= 64 or n & (n - 1):
            self.error(pos, f"cannot align to {n} bytes",
                       "an alignment is a power of two up to 64: 1, 2, 4, 8, 16, 32 or 64")
        elif bit_offset % 8:
            self.error(pos, f"field {cf.name!r} starts {bit_offset % 8} bits into a byte and "
                       "cannot be aligned", "align the first bit field of the byte")
        elif unsized is not None:
            self.error(pos, f"the padding before {cf.name!r} depends on the size of "
                       f"{unsized.name!r}, which its value does not give",
                       "fields before an aligned one have fixed sizes, or sizes given by "
                       "an expression (bytes[n], T[n], T[] size n) or by their items "
                       "(T[] until ... of fixed-size T)")

    def check_alignment(self, cf: CField, bit_offset: int) -> int:
        t = cf.ftype
        if t.kind in ("int", "enum", "flags") and t.bits is not None:
            return bit_offset + t.bits
        if bit_offset % 8:
            missing = 8 - bit_offset % 8
            self.error(cf.node.pos, f"field {cf.name!r} starts {bit_offset % 8} bits into a "
                       "byte: the bit fields before it do not end on a byte",
                       f"add a {missing}-bit reserved field before it (for example "
                       f"'reserved: u{missing};') so the bits add up to whole bytes")
        return 0

    def check_field(self, node: ast.Field, unit: Unit, scope: _Scope) -> CField | None:
        self.check_member_name(node.name, node.pos, scope)
        if node.cond is not None:
            self.check_condition(node.cond, scope)
        ftype = self.field_type(node.type, unit, scope)
        if ftype is None:
            return None
        for extra, what in ((node.check, "=="), (node.default, "default")):
            if extra is not None:
                reported = len(self.problems)
                t = self.check_expr(extra, scope)
                if len(self.problems) == reported:
                    self.check_value_type(extra, t, node, ftype, what)
                if len(self.problems) == reported:
                    self.check_fits(extra, ftype, scope, what)
        if node.optional and checksum_call(node.value, self.checksums) is None:
            self.error(node.pos, "'optional' applies to checksum fields "
                       "(name: u16 = inet_checksum(...) optional;)")
        if node.value is not None:
            inner = _Scope(unit=unit, params=scope.params, consts=self.consts, build=True,
                           known=dict(scope.known))
            inner.known[node.name] = ftype
            for f in unit.node.members:  # build values may use any field of the unit
                if isinstance(f, ast.Field) and f.name not in inner.known:
                    inner.later.add(f.name)
            reported = len(self.problems)
            t = self.check_expr(node.value, inner)
            if len(self.problems) == reported:
                self.check_build_value(node, ftype, t)
        return CField(node.name, ftype, node)

    def check_condition(self, e: ast.Expr, scope: _Scope) -> None:
        """An `if` or `requires` condition: a number or a comparison (a string is always
        true, so the field would always be there, the requirement always met)."""
        if self.check_expr(e, scope) == "str":
            self.error(getattr(e, "pos", None), "a condition must be a number or a "
                       "comparison, not a string", "a string is always true: compare a "
                       "field with a value, e.g. 'if kind == 1'")

    def check_value_type(self, e: ast.Expr, t: str, node: ast.Field, ftype: FieldType,
                         what: str) -> None:
        """`== V` or `default V` of a type the field never holds: a string for a number
        (every packet would fail the check), a number for bytes (the builder fails)."""
        pos = getattr(e, "pos", node.pos)
        number = _expr_type(ftype) in ("int", "flags")
        if number and t in ("str", "bytes"):
            noun = "a string" if t == "str" else "bytes"
            if ftype.kind == "enum":
                items = dict(self.enums[ftype.enum].items) if ftype.enum in self.enums else {}
                item = e.value if isinstance(e, ast.StrLit) and e.value in items else "<item>"
                hint = f"write an item or a number: '{what} {ftype.enum}.{item}'"
            elif isinstance(e, ast.StrLit) and len(e.value) == 1:
                hint = (f"write the number: '{what} {ord(e.value)}' ({e.value!r} is "
                        f"{ord(e.value):#04x})")
            else:
                hint = f"write a number: '{what} 1'"
            consequence = ("every packet would fail this check" if what == "=="
                           else "the builder could not write it")
            self.error(pos, f"{node.name!r} is {ftype.written}, a number: its '{what}' value "
                       f"cannot be {noun} ({consequence})", hint)
        elif ftype.kind == "bytes" and ftype.addr is None and t in ("int", "flags", "bool"):
            hint = "write the bytes as a string, e.g. \"\\x00\\x07\""
            try:
                value = _const_eval(e, self.consts)
            except _NotConstant:
                value = None
            size = ftype.bits // 8 if ftype.bits else None
            if value is not None and size and 0 <= value < 1 << (8 * size):
                spelled = "".join(f"\\x{b:02x}" for b in value.to_bytes(size, "big"))
                hint = f"write the bytes as a string: '{what} \"{spelled}\"'"
            self.error(pos, f"{node.name!r} is {ftype.written}: its '{what}' value must be "
                       "bytes (a string), not a number", hint)

    def check_build_value(self, node: ast.Field, ftype: FieldType, t: str) -> None:
        """`name: T = expr`: a checksum wider than the field (the builder fails on every
        packet: a 32-bit crc32 does not fit a u16), or bytes for a number."""
        value = checksum_call(node.value, self.checksums) or node.value
        bits = self.checksums.get(value.func) if isinstance(value, ast.Call) else None
        if bits is not None and ftype.kind in ("int", "enum") and ftype.bits is not None \
                and ftype.bits < bits:
            self.error(value.pos, f"{value.func}() gives {bits} bits, but {node.name!r} is "
                       f"{ftype.written} ({ftype.bits} bits)",
                       f"make the field u{bits} (the builder cannot fit a {bits}-bit checksum "
                       f"into {ftype.bits} bits)")
        elif _expr_type(ftype) in ("int", "flags") and t in ("str", "bytes"):
            self.error(getattr(value, "pos", node.pos), f"{node.name!r} is {ftype.written}, "
                       f"a number: its build value cannot be {'a string' if t == 'str' else 'bytes'}")

    def check_fits(self, e: ast.Expr, ftype: FieldType, scope: _Scope, what: str) -> None:
        """`default V` and `== V` with a constant V that the field's bits cannot hold."""
        if ftype.kind not in ("int", "enum", "flags") or ftype.bits is None:
            return
        consts = {n: v for n, v in self.consts.items()
                  if n not in scope.known and n not in scope.params}
        try:
            value = _const_eval(e, consts)
        except _NotConstant:
            return
        low, high = ((-(1 << (ftype.bits - 1)), (1 << (ftype.bits - 1)) - 1) if ftype.signed
                     else (0, (1 << ftype.bits) - 1))
        if not low <= value <= high:
            self.error(getattr(e, "pos", None), f"{what} {value} does not fit in "
                       f"{ftype.written} ({low}..{high})")

    def field_type(self, t, unit: Unit, scope: _Scope) -> FieldType | None:
        if isinstance(t, ast.BytesType):
            if t.delimiter is not None:
                if not t.delimiter:
                    self.error(t.pos, "the delimiter of 'bytes until' may not be empty")
                return FieldType("bytes", delimiter=t.delimiter or b"\0",
                                 written=f"bytes until {t.delimiter!r}")
            if t.size is None:
                return FieldType("bytes", written="bytes[]")
            reported = len(self.problems)
            self.check_number(t.size, scope, "a byte count")
            if _depth(t.size) > MAX_EXPR_DEPTH:
                return None
            try:
                n = _const_eval(t.size, self.consts)
            except _ConstError as exc:
                if len(self.problems) == reported:  # (a zero divisor is reported already)
                    self.error(exc.pos, exc.message)
                return None
            except _NotConstant:
                return FieldType("bytes", size=t.size, written="bytes[...]")
            if n < 0:
                self.error(t.pos, f"a byte count of {n}")
                return None
            return FieldType("bytes", bits=8 * n, size=t.size, written=f"bytes[{n}]")
        if isinstance(t, ast.BitsType):
            for n in sorted({n for n in t.names if t.names.count(n) > 1}):
                self.error(t.pos, f"flag {n!r} is named twice in this bits field")
            for n in t.names:
                self.check_name(n, t.pos, "flag")
                if n in _FLAGSET_ATTRIBUTES:
                    self.error(t.pos, f"flag name {n!r} would hide FlagSet.{n}",
                               f"rename it, e.g. {n}_flag")
            if not 1 <= t.width <= 64 or len(t.names) > t.width:
                self.error(t.pos, f"a bits {t.width} field has room for {t.width} flags, "
                           f"not {len(t.names)}")
            return FieldType("flags", bits=t.width, endian=unit.endian, flag_names=t.names,
                             written=f"bits {t.width}")
        if isinstance(t, ast.SwitchType):
            self.check_expr(t.selector, scope)
            cases = []
            seen_values: dict[int, ast.Expr] = {}
            has_default = False
            for case in t.cases:
                values = None
                if case.values is None:
                    if has_default:
                        self.error(case.pos, "a switch has one 'default' case")
                    has_default = True
                if case.values is not None:
                    values = case.values
                    for v in values:
                        reported = len(self.problems)
                        self.check_expr(v, scope)
                        if len(self.problems) != reported:
                            continue
                        if isinstance(v, ast.Attr) and isinstance(v.obj, ast.Name) \
                                and v.obj.name in self.enums:
                            number = dict(self.enums[v.obj.name].items).get(
                                v.name, self.extended.get(v.obj.name, {}).get(v.name))
                        else:
                            number = self.const_value(v)  # a case is a number or an enum item
                            if len(self.problems) != reported:
                                continue
                        if number is None:
                            continue
                        if number in seen_values:
                            self.error(getattr(v, "pos", case.pos), f"case value {number} "
                                       f"appears twice in this switch (first at "
                                       f"{getattr(seen_values[number], 'pos', case.pos)})",
                                       "the first case would always win: drop one")
                        else:
                            seen_values[number] = v
                sub = self.field_type(case.type, unit, scope)
                if sub is not None:
                    cases.append((values, sub))
            return FieldType("switch", selector=t.selector, cases=cases, written="switch")
        if isinstance(t, ast.SizedType):
            inner = self.field_type(t.inner, unit, scope)
            if inner is None:
                return None
            if inner.kind not in ("struct", "switch", "extern", "array"):
                self.error(t.pos, "'size' applies to structs, switches, arrays and externs",
                           "for bytes write bytes[n]")
            self.check_number(t.size, scope, "a byte count")
            inner.sized = t.size
            return inner
        if isinstance(t, ast.ArrayType) and isinstance(t.element, ast.NamedType) and \
                t.element.name == "addr" and "addr" not in self.program.symbols:
            return self.sized_address(t, scope)
        if isinstance(t, ast.ArrayType):
            element = self.field_type(t.element, unit, scope)
            if element is None:
                return None
            for e in (t.count, t.size):
                if e is not None:
                    self.check_number(e, scope, "an array bound")
            if t.until is not None:
                self.check_expr(t.until, _Scope(unit=unit, params=scope.params,
                                                consts=self.consts, known=dict(scope.known),
                                                until=True, item=element))
            return FieldType("array", element=element, count=t.count, array_size=t.size,
                             until=t.until, written=f"{element.written}[]")
        return self.named_type(t, unit, scope)

    def sized_address(self, t: ast.ArrayType, scope: _Scope) -> FieldType | None:
        """``addr[n]``: an address whose size the packet gives (ARP's hardware and protocol
        addresses): bytes on the wire, shown and written by its size (4: IPv4, 16: IPv6,
        else hex pairs like a MAC)."""
        if t.count is None or t.size is not None or t.until is not None:
            self.error(t.pos, "an address of variable size is written addr[n]",
                       "for example: source_address: addr[address_size];")
            return None
        self.check_number(t.count, scope, "an address size")
        return FieldType("bytes", size=t.count, addr="any", written="addr[]")

    def named_type(self, t: ast.NamedType, unit: Unit, scope: _Scope) -> FieldType | None:
        name = t.name
        as_int = int_type(name, unit.endian)
        if as_int is not None or is_int_name(name):
            if as_int is None:
                self.error(t.pos, f"integer type {name!r} is out of range", "u1 .. u64")
            return as_int
        if name in ADDRESSES:
            return FieldType("addr", bits=8 * ADDRESSES[name], addr=ADDRESS_KIND[name],
                             written=name)
        symbol = self.program.symbols.get(name)
        if symbol is None or name not in self.program.visible_from(unit.file):
            pool = {n for n, s in self.program.symbols.items()
                    if s.kind in ("enum", "struct", "extern")} | set(ADDRESSES) | {
                        "u8", "u16", "u32", "u64", "bytes"}
            hint = self.program.suggest(name, pool)
            if symbol is not None:
                hint = f"add: import \"{symbol.file.path.name}\""
            else:  # declared by a built-in file this one does not import
                hint = builtin_index().hint_import(name, ("enum", "struct", "extern")) or hint
            self.error(t.pos, f"unknown type {name!r}", hint)
            return None
        for a in t.args:
            self.check_expr(a, scope)
        if symbol.kind == "enum":
            base = int_type(symbol.node.base, unit.endian) or FieldType("int", bits=32)
            return FieldType("enum", bits=base.bits, signed=base.signed, endian=base.endian,
                             enum=name, written=name)
        if symbol.kind == "struct":
            params = symbol.node.params
            if len(t.args) != len(params):
                self.error(t.pos, f"struct {name} takes {len(params)} argument(s), "
                           f"got {len(t.args)}")
            return FieldType("struct", struct=name, args=t.args, written=name)
        if symbol.kind == "extern" and symbol.node.result is not None:
            self.error(t.pos, f"{name!r} is a checksum function, not a field type",
                       f"call it in a build value: 'sum: {symbol.node.result} = "
                       f"{name}(header, payload);'")
            return None
        if symbol.kind == "extern":
            return FieldType("extern", extern=name, written=name)
        self.error(t.pos, f"{name!r} is a {symbol.kind}, not a field type",
                   "a layer follows another through 'next', not as a field")
        return None

    def check_statement(self, member, unit: Unit, scope: _Scope) -> None:
        if isinstance(member, ast.Assign):
            if member.name not in BOUNDARIES:
                self.error(member.pos, f"unknown boundary {member.name!r}",
                           "only 'header = expr;' and 'payload = expr;' set boundaries (and "
                           "'pseudo_header = expr;' says what a checksum inside covers); "
                           "a field needs 'name: type;'")
                return
            if member.name == "pseudo_header":
                self.check_pseudo_header(member, unit, scope)
                return
            if getattr(unit, member.name) is not None:
                self.error(member.pos, f"a layer has one '{member.name} = ...' statement",
                           "drop one of them")
            # either boundary may be "all that is left" (a header: of the layer's bytes)
            if member.name in ("header", "payload"):
                # when the payload's length is worked out the header's end is known
                scope = _Scope(unit=unit, params=scope.params, consts=self.consts,
                               known=dict(scope.known), remaining=True,
                               header_len=member.name == "payload" or scope.header_len)
            self.check_expr(member.expr, scope)
            setattr(unit, member.name, member.expr)
        elif isinstance(member, ast.FlowStmt):
            self.check_flow(member, unit)
        elif isinstance(member, ast.Guard):
            if unit.kind != "layer" or unit.guard is not None:
                self.error(member.pos, "a layer has at most one 'guard', and structs have none")
            self.check_expr(member.expr, _Scope(heuristic=True, consts=self.consts))
            unit.guard = member
        elif isinstance(member, ast.Quotes):
            if unit.kind != "layer" or unit.quotes:
                self.error(member.pos, "'quotes' is said once, in a layer")
            unit.quotes = True
        elif isinstance(member, (ast.NextFixed, ast.NextBy)):
            if unit.kind != "layer":
                self.error(member.pos, "only layers have a next layer")
            elif unit.next is not None:
                self.error(member.pos, "a layer has one 'next' statement")
            self.check_next(member, unit, scope)
            unit.next = member

    def check_pseudo_header(self, member: ast.Assign, unit: Unit, scope: _Scope) -> None:
        """`pseudo_header = concat(...);`: the bytes a checksum of an enclosed layer covers
        from this one (TCP and UDP over IP), built from any field of the layer and from
        upper_length and upper_protocol."""
        if unit.kind != "layer":
            self.error(member.pos, "only layers have a pseudo_header")
            return
        if unit.pseudo_header is not None:
            self.error(member.pos, "a layer has one 'pseudo_header = ...' statement",
                       "drop one of them")
        inner = _Scope(unit=unit, params=scope.params, consts=self.consts, build=True,
                       pseudo=True, known=dict(scope.known))
        inner.later |= {f.name for f in unit.node.members
                        if isinstance(f, ast.Field) and f.name not in inner.known}
        if self.check_expr(member.expr, inner) not in ("bytes", "any"):
            self.error(member.pos, "pseudo_header must be bytes",
                       "spell the layout out: concat(src, dst, u8(0), u8(upper_protocol), "
                       "u16(upper_length))")
        unit.pseudo_header = member.expr

    def check_flow(self, member: ast.FlowStmt, unit: Unit) -> None:
        src, dst = unit.field(member.src), unit.field(member.dst)
        for name, f in ((member.src, src), (member.dst, dst)):
            if f is None and (id(unit), name) not in self.untyped:
                self.unknown(name, member.pos, "field", {x.name for x in unit.fields})
        if src and dst:
            if (src.ftype.kind, src.ftype.addr, src.ftype.bits) != (
                    dst.ftype.kind, dst.ftype.addr, dst.ftype.bits):
                self.error(member.pos, "the two ends of a flow must have the same type")
            elif src.ftype.kind not in ("addr", "int", "enum", "bytes"):
                self.error(member.pos, "flow endpoints must be addresses, integers or bytes")
        unit.flow = member

    def check_next(self, member, unit: Unit, scope: _Scope) -> None:
        if isinstance(member, ast.NextFixed):
            self.check_layer_ref(member.layer, member.pos)
            return
        next_scope = _Scope(unit=unit, params=scope.params, consts=self.consts,
                            known=dict(scope.known), next_by=True, header_len=True)
        for e in member.exprs:
            self.check_expr(e, next_scope)
        if member.unless is not None:
            self.check_expr(member.unless, next_scope)
        if member.instead is not None:
            self.check_layer_ref(member.instead, member.pos)
        table = member.table
        if table is None:
            first = member.exprs[0]
            f = unit.field(first.name) if isinstance(first, ast.Name) else None
            if f is None and isinstance(first, ast.Name) and (id(unit), first.name) \
                    in self.untyped:
                return  # its type is wrong: reported where it is declared
            if f is None or f.ftype.kind != "enum":
                self.error(member.pos, "'next by' needs 'in Table' unless its value is a field "
                           "of an enum type", "write: next by <expr> in <EnumName>;")
                return
            table = f.ftype.enum
        if table not in self.enums:
            self.unknown(table, member.pos, "enum", set(self.enums))
        unit.next_table = table

    # ---- expressions ----
    def check_number(self, e: ast.Expr, scope: _Scope, what: str) -> None:
        t = self.check_expr(e, scope)
        if t not in ("int", "flags", "any"):
            self.not_a_number(e, t, scope, f"{what} must be a number, not {t}")

    def not_a_number(self, e: ast.Expr, t: str, scope: _Scope, message: str, pos=None) -> None:
        """Report ``e`` (of type ``t``) where a number is needed: an array, struct or switch
        value named by a field is reported at the name, saying what it is."""
        label = _label(e)
        if t in _NOUNS and label is not None:
            hint = {"array": f"len({label}) is its number of elements",
                    "struct": self.struct_hint(e, scope, label),
                    "switch": "none of its cases is a number"}[t]
            self.error(getattr(e, "pos", None), f"{label} is {_NOUNS[t]}, not a number", hint)
        else:
            self.error(pos if pos is not None else getattr(e, "pos", None), message)

    def struct_hint(self, e: ast.Expr, scope: _Scope, label: str) -> str:
        ft = self.field_of(e, scope)
        members = self.struct_members(ft.struct) if ft is not None and ft.struct else None
        if members:
            return f"use one of its fields, e.g. {label}.{next(iter(members))}"
        return "use one of its fields"

    def let_type(self, e: ast.Expr, t: str, scope: _Scope) -> FieldType:
        """What a `let` holds, for the expressions that read it: its expression's type."""
        if t in _NOUNS:
            ft = self.field_of(e, scope)
            if ft is not None:
                return ft
        if t == "bytes":
            return FieldType("bytes", written="let")
        return FieldType("int", written="let")

    def field_of(self, e: ast.Expr, scope: _Scope) -> FieldType | None:
        """The FieldType a name or a chain of attributes (``a``, ``item.b.c``) reads, if
        known (resolved as check_name_ref resolves names)."""
        if isinstance(e, ast.Name):
            n = e.name
            if n in scope.known:
                return scope.known[n]
            if n in scope.params or n in self.consts:
                return None
            if scope.until and n == "item":
                return scope.item
            return None
        if isinstance(e, ast.Attr):
            base = self.field_of(e.obj, scope)
            if base is None or base.kind != "struct" or not base.struct:
                return None
            return (self.struct_members(base.struct) or {}).get(e.name)
        return None

    def struct_members(self, name: str) -> dict[str, FieldType | None] | None:
        """The fields and lets of struct ``name`` (None where a type is not known yet: a
        struct checked later, or a let), or None if there is no such struct."""
        symbol = self.program.symbols.get(name)
        if symbol is None or symbol.kind != "struct":
            return None
        unit = self.units.get(name)
        types = {f.name: f.ftype for f in unit.fields} if unit is not None else {}
        return {m.name: types.get(m.name) for m in symbol.node.members
                if isinstance(m, (ast.Field, ast.Let))}

    def too_deep(self, e: ast.Expr) -> bool:
        """An expression nested deeper than MAX_EXPR_DEPTH (reported): generated code would
        not compile (Python allows 200 nested parentheses) and checking it could exhaust
        the stack."""
        if _depth(e) <= MAX_EXPR_DEPTH:
            return False
        self.error(getattr(e, "pos", None), f"expression nested too deeply (more than "
                   f"{MAX_EXPR_DEPTH} levels)", "split it with 'let' names")
        return True

    def check_expr(self, e: ast.Expr, scope: _Scope) -> str:
        """Check an expression; return its type: int, bool, bytes, str, flags or any."""
        if self._nesting == 0 and self.too_deep(e):
            return "any"
        self._nesting += 1
        try:
            return self._check_expr(e, scope)
        finally:
            self._nesting -= 1

    def _check_expr(self, e: ast.Expr, scope: _Scope) -> str:
        if isinstance(e, ast.IntLit):
            return "int"
        if isinstance(e, ast.StrLit):
            return "str"
        if isinstance(e, ast.Name):
            return self.check_name_ref(e, scope)
        if isinstance(e, ast.Attr):
            return self.check_attr(e, scope)
        if isinstance(e, ast.Index):
            base = self.check_expr(e.obj, scope)
            index = self.check_expr(e.index, scope)
            if index not in _NUMBERS:
                self.not_a_number(e.index, index, scope, f"an index must be a number, not {index}")
            if base == "array":  # an element of a decoded array
                ft = self.field_of(e.obj, scope)
                return _expr_type(ft.element) if ft is not None and ft.element else "any"
            if base not in ("bytes", "any"):
                self.error(e.pos, "only bytes can be indexed")
            return "int"
        if isinstance(e, ast.Call):
            return self.check_call(e, scope)
        if isinstance(e, ast.UnaryOp):
            t = self.check_expr(e.operand, scope)
            if e.op != "not" and t not in ("int", "flags", "any"):
                self.not_a_number(e.operand, t, scope, f"'{e.op}' needs a number, not {t}",
                                  e.pos)
            return "bool" if e.op == "not" else "int"
        if isinstance(e, ast.Cond):
            self.check_expr(e.test, scope)
            a, b = self.check_expr(e.then, scope), self.check_expr(e.other, scope)
            return a if a == b else "any"
        left, right = self.check_expr(e.left, scope), self.check_expr(e.right, scope)
        if e.op in ("//", "%"):
            self.check_divisor(e.right, scope)
        if e.op in ("and", "or"):
            return "bool"
        if e.op in ("==", "!="):
            if "str" in (left, right) or (
                    {left, right} == {"bytes", "int"}) or (
                    left != right and "any" not in (left, right)
                    and {left, right} & set(_NOUNS)):
                self.error(e.pos, f"cannot compare {left} with {right}")
            return "bool"
        for side, t in ((e.left, left), (e.right, right)):
            if t not in _NUMBERS:
                self.not_a_number(side, t, scope, f"'{e.op}' needs numbers, not {t}", e.pos)
        return "bool" if e.op in ("<", "<=", ">", ">=") else "int"

    def check_divisor(self, e: ast.Expr, scope: _Scope) -> None:
        """A divisor (of / or %) that is a constant zero: every packet would fail on it."""
        # names resolve as check_name_ref does: a field or parameter hides a constant
        consts = {n: v for n, v in self.consts.items()
                  if n not in scope.known and n not in scope.params}
        try:
            value = _const_eval(e, consts)
        except _NotConstant:  # not constant, or wrong in a way check_expr reported already
            return
        if value == 0:
            self.error(getattr(e, "pos", None), "division by zero",
                       "this divisor is always 0: every packet would fail to decode")

    def check_name_ref(self, e: ast.Name, scope: _Scope) -> str:
        n = e.name
        if n in scope.known:
            return _expr_type(scope.known[n])
        if n in scope.params or n in self.consts:
            return "any" if n in scope.params else "int"
        if scope.heuristic and n == "data":
            return "bytes"
        if scope.next_by and n == "payload":
            return "bytes"
        if scope.remaining and n == "remaining":
            return "int"
        if scope.until and n == "item":
            return _expr_type(scope.item) if scope.item is not None else "any"
        if scope.build and not scope.pseudo and n in SPECIAL_NAMES:
            return "bytes"
        if scope.pseudo and n in PSEUDO_NAMES:
            return "int"
        if n in scope.later:
            return "any"
        if scope.unit is not None and (id(scope.unit), n) in self.untyped:
            return "any"  # a field whose type is wrong: reported where it is declared
        if scope.unit is not None:
            later = next((m for m in scope.unit.node.members
                          if isinstance(m, (ast.Field, ast.Let)) and m.name == n), None)
            if later is not None:
                self.error(e.pos, f"{n!r} is used before it is decoded (declared at line "
                           f"{later.pos.line})", "an expression may only use earlier fields")
                return "any"
            if any(f.name == n for m in scope.unit.node.members if isinstance(m, ast.Trailer)
                   for f in m.fields):
                self.error(e.pos, f"{n!r} is a trailer field, read after the payload",
                           "conditions, sizes and lets read header fields (a trailer "
                           "field's 'if' too: the trailer's size must be known before it is "
                           "read); build values may read trailer fields")
                return "any"
        pool = set(scope.known) | scope.params | set(self.consts)
        hint = self.program.suggest(n, pool) if pool else None
        if n in SPECIAL_NAMES and scope.remaining:
            hint = (f"'{n}' is not a value in 'header = ...' or 'payload = ...' (they are "
                    "sizes): they may use earlier fields, 'remaining' (in 'payload =', the "
                    "bytes after the header; in 'header =', all of the layer's bytes) and, "
                    "in 'payload =', len(header)")
        elif n in SPECIAL_NAMES:
            hint = (f"'{n}' is a name in build values only "
                    "('length: u16 = len(header) + len(payload);')")
        self.error(e.pos, f"unknown name {n!r}", hint)
        return "any"

    def check_attr(self, e: ast.Attr, scope: _Scope) -> str:
        if isinstance(e.obj, ast.Name) and e.obj.name in self.enums \
                and e.obj.name not in scope.known:
            names = {n for n, _ in self.enums[e.obj.name].items}
            names |= {b.name for b in self.bindings if b.table == e.obj.name and b.name}
            if e.name not in names and not any(
                    isinstance(d, ast.Extend) and d.table == e.obj.name
                    for s in self.program.files for d in s.module.decls):
                self.unknown(e.name, e.pos, f"{e.obj.name} item", names)
            return "int"
        base = self.check_expr(e.obj, scope)
        ft = self.field_of(e.obj, scope)
        if ft is not None:
            label = _label(e.obj)
            if ft.kind == "flags":
                if e.name not in ft.flag_names:
                    self.unknown(e.name, e.pos, f"flag of {label!r}", set(ft.flag_names))
                return "bool"
            if ft.kind == "struct":
                members = self.struct_members(ft.struct) if ft.struct else None
                if members is None:
                    return "any"
                if e.name not in members:
                    self.error(e.pos, f"{ft.struct} has no field {e.name!r}",
                               self.program.suggest(e.name, set(members)))
                    return "any"
                sub = members[e.name]
                return _expr_type(sub) if sub is not None else "any"
            if ft.kind in ("switch", "extern"):
                return "any"
            self.error(e.pos, f"{label!r} is {ft.written}: it has no {e.name!r}")
            return "any"
        return "any" if base == "any" else "int"

    def check_call(self, e: ast.Call, scope: _Scope) -> str:
        funcs = dict(BUILTIN_FUNCS)
        if scope.build:
            funcs.update({name: (1, 4) for name in self.checksums})
            funcs.update(BYTES_FUNCS)
        if e.func not in funcs:
            build_only = {**{n: (1, 4) for n in self.checksums}, **BYTES_FUNCS}
            pool = set(funcs) | (set(build_only) if not scope.build else set())
            hint = self.program.suggest(e.func, pool)
            if e.func in build_only:
                hint = f"{e.func}() is only for build values ('field: u16 = {e.func}(...)')"
            elif e.func.startswith("crc") and scope.build:
                hint = ("the CRCs are " + ", ".join(sorted(
                    n for n in self.checksums if n.startswith("crc"))) + "; your own: "
                    f"'extern checksum {e.func} : u16;' and register_checksum() in Python")
            self.error(e.pos, f"unknown function {e.func!r}", hint)
            return "any"
        low, high = funcs[e.func]
        if not low <= len(e.args) <= high:
            self.error(e.pos, f"{e.func}() takes {low}..{high} arguments, got {len(e.args)}")
        elif e.func in ("len", "sizeof") and self.check_size_of(e, scope):
            return "int"
        for a in e.args:
            t = self.check_expr(a, scope)
            if e.func == "len" and t not in ("bytes", "array", "str", "any"):
                label = _label(a)
                what = "a number" if t in _NUMBERS else _NOUNS.get(t, t)
                self.error(getattr(a, "pos", e.pos),
                           f"len() takes bytes or an array; {label} is {what}" if label
                           else f"len() takes bytes or an array, not {what}",
                           "len(header) and len(payload) are the sizes of the layer's parts"
                           if t in _NUMBERS else None)
            if e.func in ("min", "max") and t not in _NUMBERS:
                self.not_a_number(a, t, scope, f"{e.func}() takes numbers, not {t}")
            if e.func in BYTES_FUNCS and e.func != "concat" and t not in _NUMBERS:
                self.not_a_number(a, t, scope, f"{e.func}() takes a number, not {t}")
            if e.func == "concat" and t not in ("bytes", "any"):
                self.error(getattr(a, "pos", e.pos), f"concat() joins bytes, not {t}",
                           "write an integer as bytes of its width: u8(x), u16(x), ...")
        return "bytes" if e.func in BYTES_FUNCS else "int"

    def check_size_of(self, e: ast.Call, scope: _Scope) -> bool:
        """``len(header)`` outside build values (legal where the header's end is known) and
        ``sizeof(x)``, the bytes a field takes (x a field of the unit decoded before, or
        header or payload); True when e was checked here."""
        a = e.args[0]
        name = a.name if isinstance(a, ast.Name) else None
        if name == "header" and name not in scope.known and not scope.build:
            if not scope.header_len:
                self.error(a.pos, "the header's end is not known here",
                           "len(header) reads where it is: in 'payload = ...', in 'next by', "
                           "and after 'header = ...'")
            return True
        if e.func != "sizeof":
            return False
        if name is None:
            self.error(getattr(a, "pos", e.pos), "sizeof() takes the name of a field",
                       "sizeof(items) is the bytes items takes; len(items) its elements")
            return True
        if name in ("header", "payload") and name not in scope.known:
            self.check_expr(a, scope)  # payload: only where its bytes are known
            return True
        self.check_expr(a, scope)  # an unknown name, or one used before it is decoded
        unit = scope.unit
        ft = scope.known.get(name)
        is_let = unit is not None and any(isinstance(m, ast.Let) and m.name == name
                                          for m in unit.node.members)
        if is_let or name in scope.params or (ft is None and name in self.consts):
            what = "a let" if is_let else "a parameter" if name in scope.params else \
                "a constant"
            self.error(a.pos, f"sizeof() takes a field; {name} is {what}")
        elif ft is not None and ft.kind in ("int", "enum", "flags") and ft.bits is not None \
                and ft.bits % 8:
            self.error(a.pos, f"sizeof() counts bytes; {name} is a {ft.bits}-bit field",
                       "a bit field shares its bytes with its neighbours")
        return True


MAX_EXPR_DEPTH = 100  # levels of operators in one expression


def _depth(e: ast.Expr) -> int:
    """How deeply an expression nests (iteratively: it may be deeper than the stack)."""
    deepest, stack = 0, [(e, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if isinstance(node, ast.BinOp):
            children = (node.left, node.right)
        elif isinstance(node, ast.UnaryOp):
            children = (node.operand,)
        elif isinstance(node, ast.Cond):
            children = (node.test, node.then, node.other)
        elif isinstance(node, ast.Call):
            children = node.args
        elif isinstance(node, ast.Index):
            children = (node.obj, node.index)
        elif isinstance(node, ast.Attr):
            children = (node.obj,)
        else:
            children = ()
        stack.extend((c, d + 1) for c in children)
    return deepest


def _struct_refs(ft: FieldType):
    """The structs a field's type holds by value: itself, array elements, switch cases."""
    stack = [ft]
    while stack:
        t = stack.pop()
        if t.kind == "struct" and t.struct:
            yield t.struct
        elif t.kind == "array" and t.element is not None:
            stack.append(t.element)
        elif t.kind == "switch":
            stack.extend(sub for _, sub in (t.cases or ()))


def checksum_call(e: ast.Expr | None, checksums: dict[str, int]) -> ast.Call | None:
    """The checksum call a field's build value makes: ``inet_checksum(...)`` itself, or
    one branch of ``cond ? inet_checksum(...) : 0`` (GRE sends a checksum only when its C
    bit says so) whose other branch is a number. None for any other value."""
    if isinstance(e, ast.Call) and e.func in checksums:
        return e
    if isinstance(e, ast.Cond):
        for call, other in ((e.then, e.other), (e.other, e.then)):
            if isinstance(call, ast.Call) and call.func in checksums and \
                    isinstance(other, ast.IntLit):
                return call
    return None


def _expr_type(ft: FieldType) -> str:
    """The type of the value a field decodes to: int, flags, bytes, array, struct, switch
    (a switch none of whose cases is a number) or any."""
    if ft.kind in ("int", "enum"):
        return "int"
    if ft.kind == "flags":
        return "flags"
    if ft.kind in ("bytes", "addr"):
        return "bytes"
    if ft.kind in ("array", "struct"):
        return ft.kind
    if ft.kind == "switch" and ft.cases:
        types = {_expr_type(sub) for _, sub in ft.cases}
        if len(types) == 1:
            return types.pop()
        if not types & {"int", "flags", "any"}:
            return "switch"
    return "any"


# Expression types that work as numbers, and how a message names the ones that do not.
_NUMBERS = ("int", "flags", "bool", "any")
_NOUNS = {"array": "an array", "struct": "a struct", "switch": "a switch"}


def _label(e: ast.Expr) -> str | None:
    """How a message names a field read (``items``, ``item.body``), or None."""
    if isinstance(e, ast.Name):
        return e.name
    if isinstance(e, ast.Attr):
        base = _label(e.obj)
        return f"{base}.{e.name}" if base is not None else None
    return None


@dataclass
class _Scope:
    unit: Unit | None = None
    params: set[str] = field(default_factory=set)
    consts: dict[str, int] = field(default_factory=dict)
    known: dict[str, FieldType] = field(default_factory=dict)
    later: set[str] = field(default_factory=set)
    build: bool = False
    pseudo: bool = False  # in `pseudo_header = ...`: upper_length, upper_protocol
    heuristic: bool = False
    next_by: bool = False
    until: bool = False
    item: FieldType | None = None  # in `T[] until ...`: the element `item` is
    # `payload = ...` may say `remaining`: the bytes after the header; `header = ...` too,
    # where it is all the bytes the layer was given (`header = min(5 + length, remaining)`)
    remaining: bool = False
    # the header's end is known: in `payload = ...`, `next by`, and after `header = ...`
    header_len: bool = False


class _NotConstant(Exception):
    def __init__(self, pos, hint: str | None = None) -> None:
        self.pos = pos
        self.hint = hint


_CONST_LIMIT = 1 << 64  # constants are field values and sizes: 64 bits is plenty

_CONST_OPS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "//": lambda a, b: a // b, "%": lambda a, b: a % b, "<<": lambda a, b: a << b,
    ">>": lambda a, b: a >> b, "&": lambda a, b: a & b, "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
}


def _const_eval(e: ast.Expr, consts: dict[str, int]) -> int:
    """Evaluate a constant integer expression (numbers, constants, arithmetic) without eval().

    Every value stays within 64 bits (signed or not), so a hostile file cannot make the
    generator build huge numbers; division by zero and out-of-range shifts are errors.
    """
    if isinstance(e, ast.IntLit):
        return _bounded(e.value, e)
    if isinstance(e, ast.Name) and e.name in consts:
        return consts[e.name]
    if isinstance(e, ast.UnaryOp) and e.op in ("-", "~"):
        v = _const_eval(e.operand, consts)
        return _bounded(-v if e.op == "-" else ~v, e)
    if isinstance(e, ast.BinOp) and e.op in _CONST_OPS:
        a, b = _const_eval(e.left, consts), _const_eval(e.right, consts)
        if e.op in ("//", "%") and b == 0:
            raise _ConstError(e.pos, "division by zero in a constant expression")
        if e.op in ("<<", ">>") and not 0 <= b < 64:
            raise _ConstError(e.pos, f"shift by {b} in a constant expression (0..63)")
        return _bounded(_CONST_OPS[e.op](a, b), e)
    raise _NotConstant(getattr(e, "pos", None), "use a number or a 'const'")


def _bounded(value: int, e: ast.Expr) -> int:
    if not -_CONST_LIMIT < value < _CONST_LIMIT:
        raise _ConstError(getattr(e, "pos", None), "constant out of range (more than 64 bits)")
    return value


class _ConstError(_NotConstant):
    """A constant expression that is constant but wrong (too big, divided by zero)."""

    def __init__(self, pos, message: str) -> None:
        super().__init__(pos, None)
        self.message = message


def check(program: Program) -> Checked:
    """Run every check over a resolved Program; raise SpecError listing all problems.

    Warnings (``Checked.warnings``) are also issued through the warnings module as
    SpecWarning: loading a file shows them once, and never fails on them."""
    checked = Checker(program).run()
    for w in checked.warnings:
        warnings.warn(w, stacklevel=2)
    return checked


def expr_key(e: object) -> object:
    """An expression without its source positions: two conditions written alike are equal."""
    if isinstance(e, tuple):
        return tuple(expr_key(x) for x in e)
    if hasattr(e, "__dataclass_fields__"):
        return (type(e).__name__, *(expr_key(getattr(e, f)) for f in e.__dataclass_fields__
                                    if f != "pos"))
    return e


def _size_from_value(t: FieldType, units: dict[str, Unit]) -> bool:
    """Whether the generator can say how many bytes a field takes from the layer's values
    (what the padding of a later ``align`` is worked out from)."""
    if t.is_scalar or t.sized is not None:
        return True
    if t.kind == "bytes":
        return t.size is not None and t.delimiter is None
    if t.kind == "array":
        return t.array_size is not None or (
            element_bytes(t.element, units) is not None and
            (t.count is not None or t.until is not None))
    return False


def element_bytes(t: FieldType, units: dict[str, Unit], depth: int = 0) -> int | None:
    """The bytes every value of t takes, when that is fixed: a scalar on whole bytes, or a
    struct without parameters whose fields all are (``struct Item { tag: u8; value: u16;
    }``: 3); else None."""
    if t.is_scalar:
        return t.bits // 8 if t.bits and t.bits % 8 == 0 else None
    unit = units.get(t.struct) if t.kind == "struct" and t.struct else None
    if unit is None or unit.kind != "struct" or getattr(unit.node, "params", ()) or \
            depth > 16 or not unit.fields:
        return None
    bits = 0
    for cf in unit.fields:
        if cf.node.cond is not None or cf.node.align is not None:
            return None
        if cf.ftype.is_scalar:
            bits += cf.ftype.bits or 0
            continue
        inner = element_bytes(cf.ftype, units, depth + 1)
        if inner is None:
            return None
        bits += inner * 8
    return bits // 8 if bits % 8 == 0 else None
