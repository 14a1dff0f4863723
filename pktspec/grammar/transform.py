"""Turn lark's parse tree into the typed AST (ast.py).

One method per grammar rule; each builds one AST node with its file:line:column. The tree shape
comes from pktspec.lark, so the two files are read side by side.
"""

from __future__ import annotations

import ast as pyast

from lark import Token, Transformer, v_args

from pktspec.errors import Location
from pktspec.grammar import ast


def _docs(items: list) -> tuple[str, list]:
    """Split the leading ``##`` doc lines off a rule's children."""
    lines: list[str] = []
    rest = list(items)
    while rest and isinstance(rest[0], Token) and rest[0].type == "DOC_LINE":
        lines.append(rest.pop(0)[2:].strip())
    return "\n".join(lines), rest


def parse_int(text: str) -> int:
    """0x.., 0b.. or decimal (leading zeros allowed: 050 is fifty, not an error)."""
    digits = text.replace("_", "")
    if digits[:2].lower() in ("0x", "0b"):
        return int(digits, 0)
    return int(digits, 10)


def parse_string(text: str) -> str:
    """A double-quoted literal with Python's escapes, read without evaluating any code."""
    value = pyast.literal_eval(text)
    if not isinstance(value, str):  # pragma: no cover - the grammar only admits "..."
        raise ValueError("not a string")
    return value


_BINOPS = {
    "add": "+", "sub": "-", "mul": "*", "div": "//", "mod": "%",
    "lshift": "<<", "rshift": ">>", "binop_and": "&", "binop_or": "|", "binop_xor": "^",
    "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
    "and_op": "and", "or_op": "or",
}


@v_args(meta=True)
class ToAst(Transformer):
    """The lark Transformer that builds ast.Module's declarations."""

    def __init__(self, file: str) -> None:
        super().__init__()
        self.file = file

    def _pos(self, meta) -> Location:
        return Location(self.file, getattr(meta, "line", 1), getattr(meta, "column", 1))

    def _tok_pos(self, tok: Token) -> Location:
        return Location(self.file, tok.line or 1, tok.column or 1)

    # ---- declarations ----
    def start(self, meta, items):
        return tuple(items)

    def import_decl(self, meta, items):
        return ast.Import(parse_string(items[0]), self._pos(meta))

    def endian_decl(self, meta, items):
        return ast.Endian(str(items[0]), self._pos(meta))

    def const_decl(self, meta, items):
        doc, (name, expr) = _docs(items)
        return ast.Const(str(name), expr, self._tok_pos(name), doc)

    def extern_decl(self, meta, items):
        doc, (name,) = _docs(items)
        return ast.Extern(str(name), self._tok_pos(name), doc)

    def extern_checksum(self, meta, items):
        doc, (name, result) = _docs(items)
        return ast.Extern(str(name), self._tok_pos(name), doc, str(result),
                          self._tok_pos(result))

    def enum_decl(self, meta, items):
        doc, rest = _docs(items)
        name, base, *entries = rest
        entries = tuple(e for e in entries if e is not None)
        return ast.Enum(str(name), str(base), entries, self._tok_pos(name), doc)

    def enum_item(self, meta, items):
        name, value, target = items
        return ast.EnumItem(str(name), value, target, self._tok_pos(name))

    def extend_decl(self, meta, items):
        name, *entries = items
        entries = tuple(e for e in entries if e is not None)
        return ast.Extend(str(name), entries, self._tok_pos(name))

    def ext_value(self, meta, items):
        name, value, target = items
        return ast.ExtValue(str(name) if name is not None else None, value, target,
                            self._pos(meta))

    def ext_heuristic(self, meta, items):
        target, cond, priority = items
        if priority is not None:  # `heuristic -> L if cond priority N` reads naturally too
            target = ast.Binding(target.layer, priority, target.pos)
        return ast.ExtHeuristic(target, cond, self._pos(meta))

    def binding_target(self, meta, items):
        name, prio = items
        return ast.Binding(str(name), prio if prio is not None else 0, self._tok_pos(name))

    def priority(self, meta, items):
        return items[0]

    def signed_int(self, meta, items):
        return parse_int(items[0])

    def negative_int(self, meta, items):
        return -parse_int(items[0])

    def struct_decl(self, meta, items):
        doc, rest = _docs(items)
        name, params, endian, *members = rest
        members = [m for m in members if not isinstance(m, Token)]  # ## lines on statements
        return ast.Struct(str(name), params or (), str(endian) if endian else None,
                          tuple(members), self._tok_pos(name), doc)

    def params(self, meta, items):
        return tuple(str(t) for t in items)

    def layer_decl(self, meta, items):
        doc, rest = _docs(items)
        name, cls, endian, *members = rest
        members = [m for m in members if not isinstance(m, Token)]  # ## lines on statements
        return ast.Layer(str(name), str(cls), str(endian) if endian else None,
                         tuple(members), self._tok_pos(name), doc)

    # ---- members ----
    def field(self, meta, items):
        doc, rest = _docs(items)
        name, type_, *mods = rest
        kw = {}
        for kind, expr in mods:
            kw[kind] = expr
        return ast.Field(str(name), type_, self._tok_pos(name), doc=doc, **kw)

    def check_mod(self, meta, items):
        return ("check", items[0])

    def value_mod(self, meta, items):
        return ("value", items[0])

    def cond_mod(self, meta, items):
        return ("cond", items[0])

    def default_mod(self, meta, items):
        return ("default", items[0])

    def optional_mod(self, meta, items):
        return ("optional", True)

    def align_mod(self, meta, items):
        return ("align", (parse_int(items[0]), self._tok_pos(items[0])))

    def let_stmt(self, meta, items):
        doc, (name, expr) = _docs(items)
        return ast.Let(str(name), expr, self._tok_pos(name), doc)

    def assign_stmt(self, meta, items):
        name, expr = items
        return ast.Assign(str(name), expr, self._tok_pos(name))

    def requires_stmt(self, meta, items):
        expr, message = items
        return ast.Requires(expr, parse_string(message) if message else None, self._pos(meta))

    def flow_stmt(self, meta, items):
        return ast.FlowStmt(str(items[0]), str(items[1]), self._pos(meta))

    def guard_stmt(self, meta, items):
        return ast.Guard(items[0], self._pos(meta))

    def quotes_stmt(self, meta, items):
        return ast.Quotes(self._pos(meta))

    def trailer_block(self, meta, items):
        keyword, *fields = items
        return ast.Trailer(tuple(fields), self._tok_pos(keyword), str(keyword))

    def summary_stmt(self, meta, items):
        keyword, text, when = items
        return ast.Summary(parse_string(text), when, self._tok_pos(keyword), str(keyword))

    def next_fixed(self, meta, items):
        name, when = items
        return ast.NextFixed(str(name), self._tok_pos(name), when)

    def next_by(self, meta, items):
        *exprs, table, unless, instead, when = items
        return ast.NextBy(tuple(exprs), str(table) if table else None, unless, self._pos(meta),
                          str(instead) if instead else None, when)

    # ---- types ----
    def named_type(self, meta, items):
        name, args = items
        return ast.NamedType(str(name), args or (), self._tok_pos(name))

    def args(self, meta, items):
        return tuple(i for i in items if i is not None)

    def bytes_type(self, meta, items):
        return ast.BytesType(items[0], self._pos(meta))

    def delimited_type(self, meta, items):
        text = parse_string(items[0])
        return ast.BytesType(None, self._pos(meta), delimiter=text.encode("latin-1"))

    def bits_type(self, meta, items):
        width, *names = items
        return ast.BitsType(parse_int(width), tuple(str(n) for n in names), self._pos(meta))

    def switch_type(self, meta, items):
        selector, *cases = items
        return ast.SwitchType(selector, tuple(cases), self._pos(meta))

    def case(self, meta, items):
        *values, type_ = items
        return ast.Case(tuple(values), type_, self._pos(meta))

    def default_case(self, meta, items):
        return ast.Case(None, items[0], self._pos(meta))

    def array_type(self, meta, items):
        element, count, mod = items
        size = until = None
        if mod is not None:
            kind, expr = mod
            size, until = (expr, None) if kind == "size" else (None, expr)
        return ast.ArrayType(element, count, size, until, self._pos(meta))

    def sized_type(self, meta, items):
        return ast.SizedType(items[0], items[1], self._pos(meta))

    def array_size(self, meta, items):
        return ("size", items[0])

    def array_until(self, meta, items):
        return ("until", items[0])

    # ---- expressions ----
    def int_lit(self, meta, items):
        return ast.IntLit(parse_int(items[0]), self._tok_pos(items[0]))

    def str_lit(self, meta, items):
        return ast.StrLit(parse_string(items[0]), self._tok_pos(items[0]))

    def name(self, meta, items):
        return ast.Name(str(items[0]), self._tok_pos(items[0]))

    def attr(self, meta, items):
        return ast.Attr(items[0], str(items[1]), self._pos(meta))

    def index(self, meta, items):
        return ast.Index(items[0], items[1], self._pos(meta))

    def call(self, meta, items):
        func, *args = items
        return ast.Call(str(func), tuple(a for a in args if a is not None), self._tok_pos(func))

    def cond_expr(self, meta, items):
        return ast.Cond(items[0], items[1], items[2], self._pos(meta))

    def not_op(self, meta, items):
        return ast.UnaryOp("not", items[0], self._pos(meta))

    def neg(self, meta, items):
        return ast.UnaryOp("-", items[0], self._pos(meta))

    def invert(self, meta, items):
        return ast.UnaryOp("~", items[0], self._pos(meta))

    def __default__(self, data, children, meta):
        op = _BINOPS.get(data)
        if op is None:  # pragma: no cover - every rule has a method or an operator
            raise TypeError(f"no AST for grammar rule {data!r}")
        return ast.BinOp(op, children[0], children[1], self._pos(meta))
