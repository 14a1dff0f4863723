"""Expression typing: the type of every expression (int, bool, bytes, str, flags, any, or the
array, struct or switch a field holds), which names it may read where (_Scope), and what is
said when a value is used where a number is needed.

Every other check types its expressions through ExpressionChecks.check_expr, so this is the
one place that knows the expression language's rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pktspec.generator.check.checked import Unit
from pktspec.generator.check.constants import _const_eval, _NotConstant
from pktspec.generator.types import FieldType
from pktspec.grammar import ast

BUILTIN_FUNCS = {"len": (1, 1), "min": (2, 8), "max": (2, 8), "sizeof": (1, 1)}
# Build-only functions that make bytes: concat(a, b, ...) joins byte strings, uN(x) is x
# as an N-bit integer in the unit's byte order (a pseudo-header spells out its layout so),
# and take(b, n) is the first n bytes of b (all of it when n is larger: UDP-Lite's checksum
# covers the first checksum_coverage bytes of the datagram).
BYTES_FUNCS = {"concat": (1, 16), "u8": (1, 1), "u16": (1, 1), "u24": (1, 1), "u32": (1, 1),
               "u64": (1, 1), "take": (2, 2)}
SPECIAL_NAMES = {"header", "payload", "pseudo_header"}
# What `pseudo_header = ...` may read besides the layer's fields: the length of the layer
# whose checksum covers it, and the number this layer's next table binds that layer to.
PSEUDO_NAMES = {"upper_length", "upper_protocol"}


class ExpressionChecks:
    """The Checker's expression checks (a mixin: the Checker holds the state and reports)."""

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
                           "read)")
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
            takes_bytes = e.func == "concat" or (e.func == "take" and a is e.args[0])
            if e.func in BYTES_FUNCS and not takes_bytes and t not in _NUMBERS:
                self.not_a_number(a, t, scope, f"{e.func}() takes a number, not {t}")
            if takes_bytes and t not in ("bytes", "any"):
                verb = "joins" if e.func == "concat" else "takes"
                self.error(getattr(a, "pos", e.pos), f"{e.func}() {verb} bytes, not {t}",
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
