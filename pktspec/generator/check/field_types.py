"""The type of a field: from what the file wrote (bytes[n], bits N, switch, T[] until ...,
T size n, addr[n], u16, an enum, a struct, an extern) to the FieldType the rest of the
generator reads, with the mistakes each spelling can hold.
"""

from __future__ import annotations

from pktspec.generator.check.checked import Unit
from pktspec.generator.check.constants import _const_eval, _ConstError, _NotConstant
from pktspec.generator.check.expressions import MAX_EXPR_DEPTH, _depth, _Scope
from pktspec.generator.resolve import builtin_index
from pktspec.generator.types import ADDRESS_KIND, ADDRESSES, FieldType, int_type, is_int_name
from pktspec.grammar import ast

# Attributes of the FlagSet (an int) a flag is read beside: a flag must not shadow them.
_FLAGSET_ATTRIBUTES = frozenset(n for n in dir(int) if not n.startswith("_")) | {
    "names", "test", "define"}


class FieldTypeChecks:
    """The Checker's checks of field types (a mixin: the Checker holds the state and reports)."""

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
