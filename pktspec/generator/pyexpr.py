"""Compile checked .layer expressions into Python source text, safely.

Only validated identifiers (the checker vetted every name) and ``repr()`` of integers and
strings reach the output; every other character comes from this file. Each context names its
values differently, so one compiler takes a ``resolve`` callback for names:

- the fast decoder reads fields from ``self`` (raw slots ``self._x`` for flags/addresses);
- construct lambdas read them from construct's context ``this``;
- builders read them from the context the serializer passes as ``c``;
- heuristics read the candidate bytes as ``data[i]``.
"""

from __future__ import annotations

from collections.abc import Callable

from pktspec.grammar import ast

_SAFE_OPS = frozenset({"+", "-", "*", "//", "%", "<<", ">>", "&", "|", "^", "==", "!=",
                       "<", "<=", ">", ">=", "and", "or"})
_FUNCS = {"len": "len", "min": "min", "max": "max",
          "inet_checksum": "_inet_checksum", "crc32": "_crc32", "crc32c": "_crc32c"}


class PyExpr:
    """Compile an ast.Expr to Python; ``name`` maps a Name to source text (or None)."""

    def __init__(
        self,
        name: Callable[[str], str],
        attr: Callable[[ast.Attr], str | None] | None = None,
        index: Callable[[ast.Index], str | None] | None = None,
        call: Callable[[ast.Call], str | None] | None = None,
    ) -> None:
        self.name = name
        self.attr = attr
        self.index = index
        self.call = call

    def __call__(self, e: ast.Expr) -> str:
        if isinstance(e, ast.IntLit):
            return repr(int(e.value))
        if isinstance(e, ast.StrLit):
            return repr(str(e.value))
        if isinstance(e, ast.Name):
            return self.name(e.name)
        if isinstance(e, ast.Attr):
            special = self.attr(e) if self.attr else None
            if special is not None:
                return special
            return f"{self(e.obj)}.{_ident(e.name)}"
        if isinstance(e, ast.Index):
            special = self.index(e) if self.index else None
            if special is not None:
                return special
            return f"{self(e.obj)}[{self(e.index)}]"
        if isinstance(e, ast.Call):
            special = self.call(e) if self.call else None
            if special is not None:
                return special
            args = ", ".join(self(a) for a in e.args)
            return f"{_FUNCS[e.func]}({args})"
        if isinstance(e, ast.UnaryOp):
            op = "not " if e.op == "not" else {"-": "-", "~": "~"}[e.op]
            return f"({op}{self(e.operand)})"
        if isinstance(e, ast.Cond):
            return f"({self(e.then)} if {self(e.test)} else {self(e.other)})"
        if isinstance(e, ast.BinOp):
            if e.op not in _SAFE_OPS:  # pragma: no cover - transform only makes these
                raise ValueError(f"operator {e.op!r}")
            if e.op == "<<" and not isinstance(e.right, ast.IntLit):
                # a shift by a value from the packet: bounded, or one byte could ask for
                # gigabytes (constant shifts are bounded by the checker)
                return f"_shl({self(e.left)}, {self(e.right)})"
            return f"({self(e.left)} {e.op} {self(e.right)})"
        raise TypeError(f"not an expression: {e!r}")  # pragma: no cover


def _ident(name: str) -> str:
    """A last guard: the checker already refused anything that is not a plain identifier."""
    if not name.isidentifier() or name.startswith("__"):
        raise ValueError(f"unsafe identifier {name!r}")
    return name


def names_in(e: ast.Expr | None) -> set[str]:
    """Every bare name an expression mentions (to know what a field depends on)."""
    out: set[str] = set()
    stack = [e]
    while stack:
        x = stack.pop()
        if x is None:
            continue
        if isinstance(x, ast.Name):
            out.add(x.name)
        else:
            stack.extend(ast.children(x))
    return out


# binding strength of the .layer operators, loosest first (as pktspec.lark nests them)
_PRECEDENCE = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
               "|": 5, "^": 6, "&": 7, "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "//": 10,
               "%": 10}


def expr_text(e: ast.Expr, outer: int = 0,
              spell: Callable[[ast.Expr], str | None] | None = None) -> str:
    """An expression as a .layer file would write it, with the parentheses it needs (for
    messages and the data of generated modules, never for code). ``spell`` may give the
    text of a literal (``pktspec doc`` keeps numbers as the file spells them, 0x88b5)."""
    def sub(x: ast.Expr, least: int = 0) -> str:
        return expr_text(x, least, spell)

    if spell is not None and isinstance(e, (ast.IntLit, ast.StrLit)):
        spelt = spell(e)
        if spelt is not None:
            return spelt
    if isinstance(e, ast.IntLit):
        return str(e.value)
    if isinstance(e, ast.StrLit):
        return repr(e.value)
    if isinstance(e, ast.Name):
        return e.name
    if isinstance(e, ast.Attr):
        return f"{sub(e.obj, 12)}.{e.name}"
    if isinstance(e, ast.Index):
        return f"{sub(e.obj, 12)}[{sub(e.index)}]"
    if isinstance(e, ast.Call):
        return f"{e.func}({', '.join(sub(a) for a in e.args)})"
    if isinstance(e, ast.UnaryOp):
        if e.op == "not":
            text, mine = f"not {sub(e.operand, 3)}", 3
        else:
            text, mine = f"{e.op}{sub(e.operand, 11)}", 11
    elif isinstance(e, ast.Cond):
        text, mine = f"{sub(e.test, 1)} ? {sub(e.then, 1)} : {sub(e.other)}", 0
    else:
        mine = _PRECEDENCE.get(e.op, 0)
        op = "/" if e.op == "//" else e.op
        left = mine + 1 if mine == 4 else mine  # comparisons do not chain: (a == b) == c
        text = f"{sub(e.left, left)} {op} {sub(e.right, mine + 1)}"
    return f"({text})" if mine < outer else text
