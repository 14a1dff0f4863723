"""The checks of one field declaration besides its type: its name, its 'if', its '== V' and
'default V', 'optional', and its build value (a checksum wider than the field, a string for
a number); and checksum_call, how a build value names its checksum.
"""

from __future__ import annotations

from pktspec.generator.check.checked import CField, Unit
from pktspec.generator.check.constants import _const_eval, _NotConstant
from pktspec.generator.check.expressions import _expr_type, _Scope
from pktspec.generator.types import FieldType
from pktspec.grammar import ast


class FieldChecks:
    """The Checker's checks of field declarations (a mixin: the Checker holds the state and
    reports)."""

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
