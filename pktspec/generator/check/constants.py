"""Constant integer expressions, evaluated without eval() and within 64 bits.

The checker folds a file's `const`s, enum values and byte counts with it; plan reuses it for
sizes and values, and _NotConstant tells both that an expression reads the packet.
"""

from __future__ import annotations

from pktspec.grammar import ast


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
