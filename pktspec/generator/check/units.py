"""The checks of a layer or struct as a whole: its members in source order, bit fields that end
on a byte, 'align', the trailer block, reserved and repeated names, and structs that contain
themselves; with the size facts (element_bytes) that layout reuses.
"""

from __future__ import annotations

from pktspec.generator.check.checked import CField, Unit
from pktspec.generator.check.expressions import _Scope
from pktspec.generator.resolve import SourceFile
from pktspec.generator.types import FieldType
from pktspec.grammar import ast
from pktspec.grammar.parser import LAYER_CLASSES
from pktspec.runtime.layer import RESERVED_NAMES

# Attributes of runtime.Layer (and names generated code relies on) that a field may not shadow.
RESERVED = frozenset({
    "contents", "payload", "trailer", "flow", "fields", "raw_fields", "layer_type", "name",
    "layer_class", "source", "fields_info", "FORMAT", "packet", "build", "header",
    "data", "next_layer", "summary", "show", "copy", "replace", "serialize", "verify_checksum",
    "self", "buf", "off", "end", "hend", "pend", "this", "nxt",
}) | RESERVED_NAMES


class UnitChecks:
    """The Checker's checks of layers and structs (a mixin: the Checker holds the state and
    reports)."""

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
        summaries: list[ast.Summary] = []
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
            elif isinstance(member, ast.Summary):
                summaries.append(member)  # checked once every field is known
            else:
                self.check_statement(member, unit, scope)
                if isinstance(member, ast.Assign) and member.name == "header":
                    scope.header_len = True  # what follows may say len(header)
        for summary in summaries:
            self.check_summary(summary, unit, scope)
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
            reported = len(self.problems)
            cf = self.check_field(node, unit, scope)
            if cf is None:
                continue
            if not cf.ftype.is_scalar or node.align is not None:
                self.error(node.pos, f"trailer field {node.name!r} must have a fixed size",
                           "use integers, enums, flags, addresses or bytes[N], without "
                           "'align'")
                continue
            odd = _trailer_condition_part(node.cond, unit) \
                if node.cond is not None and len(self.problems) == reported else None
            if odd is not None:
                self.error(getattr(odd, "pos", node.pos), f"the condition of trailer field "
                           f"{node.name!r} reads more than header fields",
                           "a trailer field's 'if' may use the header's integer, enum and "
                           "flag fields, constants and operators (no sizeof, len, lets, "
                           "struct members or indexing): the trailer is read and built "
                           "apart from the header")
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


def _trailer_condition_part(e: ast.Expr, unit: Unit) -> ast.Expr | None:
    """The first part of a trailer field's condition that is not a header field, a
    constant, an enum item, a flag or an operator over those (None when all are): what the
    trailer can be decoded and built with, apart from the header's own parts."""
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, (ast.IntLit, ast.StrLit)):
            continue
        if isinstance(x, ast.Name):
            cf = unit.field(x.name)
            if cf is not None and (cf in unit.trailer or cf.ftype.kind not in
                                   ("int", "enum", "flags")):
                return x
            if cf is None and any(isinstance(m, ast.Let) and m.name == x.name
                                  for m in unit.node.members):
                return x
            continue  # a field, or a constant / enum name the checker resolved
        if isinstance(x, ast.Attr):  # flags.name, Enum.ITEM
            if not isinstance(x.obj, ast.Name):
                return x
            cf = unit.field(x.obj.name)
            if cf is not None and cf.ftype.kind != "flags":
                return x  # a struct member
            stack.append(x.obj)
            continue
        if isinstance(x, (ast.Call, ast.Index)):  # sizeof, len, ... or an index
            return x
        stack.extend(ast.children(x))  # an operator or a condition
    return None
