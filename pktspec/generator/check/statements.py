"""The checks of a layer's statements that are not fields: the 'header = ...' and 'payload =
...' boundaries, 'pseudo_header = ...', 'flow', 'guard', 'quotes' and 'next'.
"""

from __future__ import annotations

from pktspec.generator.check.checked import Unit
from pktspec.generator.check.expressions import _Scope
from pktspec.grammar import ast

BOUNDARIES = ("header", "payload", "pseudo_header")


class StatementChecks:
    """The Checker's checks of a layer's statements (a mixin: the Checker holds the state and
    reports)."""

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
            elif unit.nexts and unit.nexts[-1][0].when is None:
                self.error(member.pos, "a 'next' statement after one without 'if' is never "
                           "used", "give each 'next' but the last an 'if <condition>'")
            table = self.check_next(member, unit, scope)
            unit.nexts.append((member, table))
            # the builder's rule: the first that looks in a table (else the first)
            if unit.next is None or (isinstance(member, ast.NextBy)
                                     and not isinstance(unit.next, ast.NextBy)):
                unit.next, unit.next_table = member, table

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

    def check_next(self, member, unit: Unit, scope: _Scope) -> str | None:
        """Check one next rule; return the table it looks in (None for `next Layer;`)."""
        next_scope = _Scope(unit=unit, params=scope.params, consts=self.consts,
                            known=dict(scope.known), next_by=True, header_len=True)
        if member.when is not None:
            self.check_expr(member.when, next_scope)
        if isinstance(member, ast.NextFixed):
            self.check_layer_ref(member.layer, member.pos)
            return None
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
                return None  # its type is wrong: reported where it is declared
            if f is None or f.ftype.kind != "enum":
                self.error(member.pos, "'next by' needs 'in Table' unless its value is a field "
                           "of an enum type", "write: next by <expr> in <EnumName>;")
                return None
            table = f.ftype.enum
        if table not in self.enums:
            self.unknown(table, member.pos, "enum", set(self.enums))
        return table
