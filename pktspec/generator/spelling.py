"""Phase 3, one layer's plan: how its expressions are spelled in generated code.

A .layer expression (``ihl * 4``, ``flags.DF``, ``sizeof(options)``, ``len(payload)``) is
written three ways: in the fast decoder (locals, slots, ``buf``/``hend``/``pend``), in the
construct FORMAT (``this[...]``) and in the builder (relations.py). This module holds the
first two and what the planner must know about a name to spell it (its type, its struct, its
slot), so that the code that lays out fields never spells a name itself. A mixin of
layout.UnitPlanner.
"""

from __future__ import annotations

from pktspec.generator.pyexpr import PyExpr
from pktspec.grammar import ast


class ExpressionSpelling:
    """The spelling of names and expressions in _decode and FORMAT (mixed into UnitPlanner)."""

    # ---- naming of values in the three contexts ----
    def fast_name(self, name: str) -> str:
        if name in getattr(self.unit.node, "params", ()):
            # Structs are decoded by construct alone: their fast-path lines are never
            # emitted, so a parameter needs no fast-path spelling.
            return "None"
        if name in self.locals and self.main_lines is None:  # no locals in _decode_tail
            return f"f_{name}"
        cf = self.unit.field(name)
        if cf is not None and cf.ftype.kind in ("flags", "addr"):
            return f"self._{name}"
        if cf is not None or any(isinstance(m, ast.Let) and m.name == name
                                 for m in self.unit.members):
            return f"self.{name}"
        if name == "remaining":  # only in boundaries (the checker sees to that)
            return self.remaining
        return self.mod.global_name(name)

    def cons_name(self, name: str) -> str:
        # this["name"], never this.name: a construct Container's own methods (items, keys,
        # get, ...) hide the values of fields named like them
        if name in getattr(self.unit.node, "params", ()):
            return f"this._[{name!r}]"
        if self.unit.field(name) is not None or any(
                isinstance(m, ast.Let) and m.name == name for m in self.unit.members):
            if self.in_trailer and name not in {cf.name for cf in self.unit.trailer}:
                # TRAILER is parsed and built apart from the header, whose values come in
                # as the context's keywords (build_trailer; TRAILER.parse(data, **header))
                return f"this._[{name!r}]"
            return f"this[{name!r}]"
        if name == "item":
            return "obj"
        if name == "remaining":  # only in boundaries: in a header, all of the layer's bytes
            return "_c.stream_size(this._io)"
        return self.mod.global_name(name)

    def flag_attr(self, resolve, e: ast.Attr) -> str | None:
        if isinstance(e.obj, ast.Name):
            cf = self.unit.field(e.obj.name)
            if cf is not None and cf.ftype.kind == "flags":
                i = cf.ftype.flag_names.index(e.name)
                shift = cf.ftype.bits - 1 - i
                return f"(({resolve(e.obj.name)} >> {shift}) & 1)"
        return self.mod.enum_constant(e)

    def member_attr(self, px: PyExpr, resolve, e: ast.Attr) -> str | None:
        """``x.name`` in any context: a flag, an enum item, or a member of a struct value,
        read as ``x['name']`` (struct values are construct Containers, or the dicts a
        person builds with, and a Container's methods would hide ``items`` or ``keys``)."""
        special = self.flag_attr(resolve, e)
        if special is None and self.struct_of(e.obj) is not None:
            return f"{px(e.obj)}[{e.name!r}]"
        return special

    def type_of(self, e: ast.Expr):
        """The FieldType of a field, struct member or array item expression, else None."""
        if isinstance(e, ast.Name):
            cf = self.unit.field(e.name)
            return cf.ftype if cf is not None else None
        if isinstance(e, ast.Attr):
            struct = self.struct_of(e.obj)
            unit = self.mod.checked.units.get(struct) if struct is not None else None
            cf = unit.field(e.name) if unit is not None else None
            return cf.ftype if cf is not None else None
        if isinstance(e, ast.Index):
            t = self.type_of(e.obj)
            return t.element if t is not None and t.kind == "array" else None
        return None

    def struct_of(self, e: ast.Expr) -> str | None:
        """The struct an expression's value is an instance of, or None."""
        t = self.type_of(e)
        return t.struct if t is not None and t.kind == "struct" else None

    def fast(self) -> PyExpr:
        def index(e: ast.Index) -> str | None:
            if isinstance(e.obj, ast.Name) and e.obj.name == "payload":
                i = fx(e.index)
                return f"(buf[hend + {i}] if hend + {i} < pend else -1)"
            return None

        def call(e: ast.Call) -> str | None:
            arg = e.args[0].name if e.func in ("len", "sizeof") and \
                isinstance(e.args[0], ast.Name) else None
            # len(payload) in a `next by` rule: the payload's size, known from its bounds
            if arg == "payload" and self.unit.field("payload") is None:
                return "(pend - hend)"
            if arg == "header" and self.unit.field("header") is None:
                return "(hend - off)"  # where the checker allows it, hend is set
            if e.func == "sizeof" and arg is not None:
                return self.sizeof(arg, fx, f"z_{arg}")
            if e.func in ("min", "max") and len(e.args) == 2:  # inline: no call on the hot path
                a, b = fx(e.args[0]), fx(e.args[1])
                op = "<=" if e.func == "min" else ">="
                return f"({a} if {a} {op} {b} else {b})"
            return None

        fx = PyExpr(self.fast_name, lambda e: self.member_attr(fx, self.fast_name, e), index,
                    call)
        return fx

    def cons(self) -> PyExpr:
        def call(e: ast.Call) -> str | None:
            arg = e.args[0].name if e.func in ("len", "sizeof") and \
                isinstance(e.args[0], ast.Name) else None
            if arg == "header" and self.unit.field("header") is None:
                # FORMAT reads the header, so where it is known its end is the stream's
                return f"({cx(self.unit.header)})" if self.unit.header is not None \
                    else "_c.stream_size(this._io)"
            if e.func == "sizeof" and arg is not None:
                return self.sizeof(arg, cx, f"(this._e_{arg} - this._s_{arg})")
            return None

        cx = PyExpr(self.cons_name, lambda e: self.member_attr(cx, self.cons_name, e), None,
                    call)
        return cx

    def sizeof(self, name: str, px: PyExpr, measured: str) -> str:
        """``sizeof(name)`` in one of the three contexts: a fixed-size field's size (0 when
        its condition is false), else ``measured``: what the decoder or FORMAT recorded
        around it (the builder measures the part as built: relations.build_call)."""
        cf = self.unit.field(name)
        t = cf.ftype
        if not t.is_scalar:
            return measured
        size = str(t.bits // 8)
        return size if cf.node.cond is None else f"({size} if {px(cf.node.cond)} else 0)"

    def non_negative(self, e: ast.Expr) -> bool:
        """True when e cannot be negative (so its range check can be left out): numbers,
        unsigned fields, ``remaining``, and sums, products, shifts, masks, min/max and
        conditionals of those."""
        if isinstance(e, ast.IntLit):
            return e.value >= 0
        if isinstance(e, ast.Name):
            if e.name == "remaining":
                return True
            cf = self.unit.field(e.name)
            return cf is not None and cf.ftype.kind in ("int", "enum") and not cf.ftype.signed
        if isinstance(e, ast.Cond):
            return self.non_negative(e.then) and self.non_negative(e.other)
        if isinstance(e, ast.BinOp) and e.op in ("+", "*", "//", "%", "&", "|", ">>", "<<"):
            return self.non_negative(e.left) and self.non_negative(e.right)
        if isinstance(e, ast.Call) and e.func in ("min", "max", "len", "sizeof"):
            return all(self.non_negative(a) for a in e.args) or e.func in ("len", "sizeof")
        return False

    @staticmethod
    def slot_name(cf) -> str:
        return f"_{cf.name}" if cf.ftype.kind in ("flags", "addr") or cf.ftype.addr == "any" \
            else cf.name
