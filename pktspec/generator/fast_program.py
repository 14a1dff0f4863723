"""The fast path's program: a layer's generated ``_decode``, restated as data for the
compiled decode loop (``pktspec/runtime/fastpath_c/``).

Why it is read off the generated Python and not planned again: the Python decoder is the
reference, and a second planner would be a second place to get a length rule or a check
wrong. This module parses the ``_decode`` body that layout.py wrote and translates the small,
regular subset of Python it uses (struct reads, integer arithmetic, comparisons, bounds, the
dispatch idiom, early returns) into nested tuples of str and int, printed with repr() into the
generated module as ``_PROGRAM``. Anything outside that subset (a construct part, a text
search, a try block) makes the whole layer untranslatable: it keeps its Python decoder only.

What the compiled loop may do with a program is narrow on purpose: every ``raise`` of the
decoder becomes an *abort*, and so does anything the machine will not do exactly as Python
would (an integer leaving 64 bits, a read outside the buffer, a slot holding a non-integer).
On an abort the layer is decoded again by its Python ``_decode``, which raises the real error
or, in the rare case that was only the machine's limit, decodes the layer. So the two paths
cannot disagree on a packet where the program finishes, and the program never has to
reproduce an error message.

Program format (``FORMAT_VERSION``)::

    (FORMAT_VERSION, register_count, slot_names, global_names, statements)

Registers hold 64-bit integers; register 0 is ``off``, 1 is ``end``. Expressions:
``('c', n)`` constant, ``('r', i)`` register, ``('s', i)`` an integer slot, ``('b', e)``
the buffer's byte at e, ``(op, a, b)`` for + - * // % & | ^ << >> < <= > >= == !=,
``('not', a)``, ``('neg', a)``, ``('inv', a)``, ``('and', a, b)`` and ``('or', a, b)`` with
Python's value semantics, ``('if', cond, a, b)``. Statements: ``('abort',)``,
``('abortif', e)``, ``('ret', name or -1)``, ``('jf', e, target)`` and ``('j', target)``
(forward only), ``('reg', r, e)``, ``('set', slot, e, 'i' or 'b')``, ``('obj', slot, 0 for
None or 1 for ...)``, ``('buf', slot)``, ``('tuple', slot, (e, ...))``, ``('slice', slot, lo,
hi, as_bytes)``, ``('unpack', offset, size, '>' or '<', items)`` and ``('dispatch', table,
(key, ...), hend register, pend register)``.
"""

from __future__ import annotations

import ast
import pprint
import struct
from typing import Any

__all__ = ["FORMAT_VERSION", "program_for", "program_lines"]

FORMAT_VERSION = 1

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Mod: "%",
           ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<",
           ast.RShift: ">>"}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
            ast.NotEq: "!="}
_INT_CODES = {"B": 1, "b": 1, "H": 2, "h": 2, "I": 4, "i": 4, "L": 4, "l": 4, "Q": 8, "q": 8}
INT, BOOL = "i", "b"


class Untranslatable(Exception):
    """The decoder uses something the program format does not have."""


def program_lines(decode_lines: list[str], structs: list[tuple[str, str]]) -> list[str]:
    """``_PROGRAM = ...`` as the lines of the generated class body, or [] when the decoder
    is not translatable. pprint prints the tuples with repr(), one statement per line where
    it can: deterministic, and only str and int literals reach the module."""
    program = program_for(decode_lines, structs)
    if program is None:
        return []
    version, registers, slots, names, code = program
    lines = ["_PROGRAM = (", f"    {version!r}, {registers!r},"]
    for part in (slots, names):
        lines += ["    " + ln for ln in pprint.pformat(part, width=90, compact=True).splitlines()]
        lines[-1] += ","
    lines.append("    (")
    for statement in code:
        text = pprint.pformat(statement, width=86, compact=True).splitlines()
        lines += ["        " + ln for ln in text]
        lines[-1] += ","
    lines += ["    ),", ")"]
    return lines


def program_for(decode_lines: list[str], structs: list[tuple[str, str]]) -> tuple | None:
    """The program of a layer whose ``_decode`` body is decode_lines, or None when the body
    uses something outside the translated subset."""
    source = "def _decode(self, buf, off, end):\n" + "\n".join(
        "    " + line for line in "\n".join(decode_lines).splitlines())
    try:
        function = ast.parse(source).body[0]
    except SyntaxError:  # pragma: no cover - the generator writes valid Python
        return None
    try:
        return _Translator(dict(structs), function).program()
    except Untranslatable:
        return None


class _Translator:
    """One decoder's body to a program (see the module's docstring)."""

    def __init__(self, structs: dict[str, str], function: ast.FunctionDef) -> None:
        self.structs = structs
        self.function = function
        self.regs: dict[str, int] = {"off": 0, "end": 1}
        self.reg_kinds: dict[str, str] = {"off": INT, "end": INT}
        # locals assigned on every path to here: reading another would be Python's
        # UnboundLocalError, which a register (zero) would not reproduce
        self.defined: set[str] = {"off", "end"}
        self.slots: list[str] = []
        self.slot_kinds: dict[str, str] = {}
        self.names: list[str] = []
        self.code: list[Any] = []
        self.from_bytes = _from_bytes_temporaries(function)
        # every name the function assigns is a local throughout it (Python's rule): a return
        # or a table named like one is not a global
        self.locals = {n.id for n in ast.walk(function)
                       if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}

    def program(self) -> tuple:
        self.block(self.function.body)
        if not self.code or self.code[-1][0] not in ("ret", "dispatch", "abort"):
            self.code.append(("ret", -1))
        return (FORMAT_VERSION, len(self.regs), tuple(self.slots), tuple(self.names),
                tuple(self.code))

    # -- names --------------------------------------------------------------------------

    def slot(self, name: str) -> int:
        if name not in self.slots:
            self.slots.append(name)
        return self.slots.index(name)

    def global_name(self, name: str) -> int:
        if name not in self.names:
            self.names.append(name)
        return self.names.index(name)

    def reg(self, name: str, kind: str) -> int:
        if name in ("self", "buf"):
            raise Untranslatable(name)
        old = self.reg_kinds.get(name)
        if old is not None and old != kind:
            raise Untranslatable(f"{name} changes kind")
        self.reg_kinds[name] = kind
        self.defined.add(name)
        return self.regs.setdefault(name, len(self.regs))

    # -- statements ---------------------------------------------------------------------

    def block(self, body: list[ast.stmt]) -> None:
        i = 0
        while i < len(body):
            used = self.dispatch(body, i)
            if used:
                i += used
                continue
            self.statement(body[i])
            i += 1

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Raise):
            self.code.append(("abort",))
        elif isinstance(node, ast.If):
            self.if_statement(node)
        elif isinstance(node, ast.Assign):
            self.assign(node)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) \
                and type(node.op) in _BINOPS:
            value, kind = self.expr(node.value)
            name = node.target.id
            if name not in self.defined or kind != INT:
                raise Untranslatable("augmented assignment")
            r = self.reg(name, INT)
            self.code.append(("reg", r, (_BINOPS[type(node.op)], ("r", r), value)))
        elif isinstance(node, ast.Return):
            self.return_statement(node)
        else:
            raise Untranslatable(type(node).__name__)

    def if_statement(self, node: ast.If) -> None:
        test, _kind = self.expr(node.test)
        if not node.orelse and len(node.body) == 1 and isinstance(node.body[0], ast.Raise):
            self.code.append(("abortif", test))  # the decoder's checks: one statement each
            return
        jump = len(self.code)
        self.code.append(None)  # ('jf', test, else) once the body's length is known
        before = set(self.defined)
        self.block(node.body)
        after_body = None if _ends(node.body) else self.defined
        self.defined = set(before)
        if node.orelse:
            skip = len(self.code)
            self.code.append(None)
            self.code[jump] = ("jf", test, len(self.code))
            self.block(node.orelse)
            self.code[skip] = ("j", len(self.code))
        else:
            self.code[jump] = ("jf", test, len(self.code))
        after_else = None if node.orelse and _ends(node.orelse) else self.defined
        paths = [d for d in (after_body, after_else) if d is not None]
        self.defined = set.intersection(*paths) if paths else before

    def return_statement(self, node: ast.Return) -> None:
        value = node.value
        if value is None or (isinstance(value, ast.Constant) and value.value is None):
            self.code.append(("ret", -1))
        elif isinstance(value, ast.Name) and value.id not in self.locals \
                and value.id not in ("self", "buf", "off", "end"):
            self.code.append(("ret", self.global_name(value.id)))
        else:
            raise Untranslatable("return value")

    def assign(self, node: ast.Assign) -> None:
        value = node.value
        targets = node.targets
        if len(targets) == 1 and isinstance(targets[0], ast.Tuple):
            self.unpack(targets[0], value)
            return
        if isinstance(value, ast.Constant) and (value.value is None or value.value is ...):
            for target in targets:
                self.code.append(("obj", self.self_slot(target), 0 if value.value is None
                                  else 1))
            return
        if isinstance(value, ast.Name) and value.id == "buf":
            for target in targets:
                self.code.append(("buf", self.self_slot(target)))
            return
        if isinstance(value, ast.Tuple):
            items = tuple(self.int_expr(e) for e in value.elts)
            for target in targets:
                self.code.append(("tuple", self.self_slot(target), items))
            return
        sliced = _buffer_slice(value)
        if sliced is not None:
            lower, upper, as_bytes = sliced
            bounds = (self.int_expr(lower), self.int_expr(upper))
            for target in targets:
                self.code.append(("slice", self.self_slot(target), *bounds, as_bytes))
            return
        if isinstance(value, ast.Call) and _is_from_bytes(value):
            name = value.args[0].id
            if name not in self.defined:
                raise Untranslatable("int.from_bytes of an unknown name")
            expr, kind = ("r", self.regs[name]), INT
        else:
            expr, kind = self.expr(value)
        for target in targets:
            if isinstance(target, ast.Name):
                self.code.append(("reg", self.reg(target.id, kind), expr))
            else:
                slot = self.self_slot(target)
                self.slot_kinds[self.slots[slot]] = kind
                self.code.append(("set", slot, expr, kind))

    def self_slot(self, target: ast.expr) -> int:
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                and target.value.id == "self":
            return self.slot(target.attr)
        raise Untranslatable("assignment target")

    def unpack(self, target: ast.Tuple, value: ast.expr) -> None:
        """``(a, self.b, _t0) = _S.unpack_from(buf, offset)``: one read of a struct."""
        if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                and value.func.attr == "unpack_from" and isinstance(value.func.value, ast.Name)
                and value.func.value.id in self.structs and len(value.args) == 2
                and not value.keywords and isinstance(value.args[0], ast.Name)
                and value.args[0].id == "buf"):
            raise Untranslatable("tuple assignment")
        fmt = self.structs[value.func.value.id]
        offset = self.int_expr(value.args[1])
        endian, items = _struct_items(fmt)
        if len(items) != len(target.elts):
            raise Untranslatable("struct item count")
        out = []
        for (code, size, at), element in zip(items, target.elts, strict=True):
            out.append((code, size, at, *self.unpack_target(code, size, element)))
        self.code.append(("unpack", offset, struct.calcsize(fmt), endian, tuple(out)))

    def unpack_target(self, code: str, size: int, element: ast.expr) -> tuple:
        """Where one struct item goes: ('slot', i), ('reg', r) or, for bytes that the decoder
        turns into an integer with int.from_bytes, ('int', r, byteorder, signed)."""
        if isinstance(element, ast.Name):
            if code == "s":
                order = self.from_bytes.get(element.id)
                if order is None or size > 8:
                    raise Untranslatable("bytes in a local")
                return ("int", self.reg(element.id, INT), *order)
            if code in "?Q":
                raise Untranslatable("boolean or unsigned 64-bit local")
            return ("reg", self.reg(element.id, INT))
        slot = self.self_slot(element)
        if code in _INT_CODES:
            self.slot_kinds[self.slots[slot]] = INT
        elif code == "?":
            self.slot_kinds[self.slots[slot]] = BOOL
        return ("slot", slot)

    # -- the dispatch idiom -------------------------------------------------------------

    def dispatch(self, body: list[ast.stmt], i: int) -> int:
        """``nxt = _T.get(k) ...; if nxt is None: ... ; return nxt`` as one statement.
        Returns the number of statements it stands for (0: not the idiom)."""
        if i + 2 >= len(body):
            return 0
        first, middle, last = body[i], body[i + 1], body[i + 2]
        if not (isinstance(first, ast.Assign) and len(first.targets) == 1
                and isinstance(first.targets[0], ast.Name) and first.targets[0].id == "nxt"):
            return 0
        gets = first.value.values if isinstance(first.value, ast.BoolOp) \
            and isinstance(first.value.op, ast.Or) else [first.value]
        table = None
        keys = []
        for get in gets:
            if not (isinstance(get, ast.Call) and isinstance(get.func, ast.Attribute)
                    and get.func.attr == "get" and isinstance(get.func.value, ast.Name)
                    and len(get.args) == 1 and not get.keywords):
                return 0
            if table not in (None, get.func.value.id):
                return 0
            table = get.func.value.id
            keys.append(get.args[0])
        if len(keys) > 2 or table in self.locals:
            return 0
        key_text = ", ".join(ast.unparse(k) for k in keys)
        expected = (
            f"if nxt is None:\n    if {table}.heuristics:\n"
            f"        nxt = {table}.lookup(None, buf, hend, pend)\n"
            f"elif {table}.guarded and nxt._guard is not None and "
            f"(not nxt._guard(buf, hend, pend)):\n"
            f"    nxt = {table}.refused(({key_text},), nxt, buf, hend, pend)")
        if ast.unparse(middle) != ast.unparse(ast.parse(expected).body[0]):
            return 0
        if not (isinstance(last, ast.Return) and isinstance(last.value, ast.Name)
                and last.value.id == "nxt"):
            return 0
        if "hend" not in self.defined or "pend" not in self.defined:
            return 0
        self.code.append(("dispatch", self.global_name(table),
                          tuple(self.int_expr(k) for k in keys),
                          self.regs["hend"], self.regs["pend"]))
        return 3

    # -- expressions --------------------------------------------------------------------

    def int_expr(self, node: ast.expr) -> tuple:
        expr, kind = self.expr(node)
        if kind != INT:
            raise Untranslatable("boolean where an integer is needed")
        return expr

    def expr(self, node: ast.expr) -> tuple[tuple, str]:
        """(expression, kind): kind is INT or BOOL, the Python type the value would have."""
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                return ("c", int(value)), BOOL
            if isinstance(value, int) and -(2 ** 62) < value < 2 ** 62:
                return ("c", value), INT
            raise Untranslatable("constant")
        if isinstance(node, ast.Name):
            if node.id not in self.defined:
                raise Untranslatable(f"name {node.id} (not assigned on every path)")
            return ("r", self.regs[node.id]), self.reg_kinds[node.id]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "self":
            kind = self.slot_kinds.get(node.attr)
            if kind is None:
                raise Untranslatable(f"self.{node.attr} read before the program sets it")
            return ("s", self.slot(node.attr)), kind
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            (a, ka), (b, kb) = self.expr(node.left), self.expr(node.right)
            if ka == BOOL and kb == BOOL and type(node.op) in (ast.BitAnd, ast.BitOr,
                                                               ast.BitXor):
                raise Untranslatable("bitwise operation on two booleans")
            return (_BINOPS[type(node.op)], a, b), INT
        if isinstance(node, ast.UnaryOp):
            operand, _kind = self.expr(node.operand)
            if isinstance(node.op, ast.Not):
                return ("not", operand), BOOL
            if isinstance(node.op, ast.USub):
                return ("neg", operand), INT
            if isinstance(node.op, ast.Invert):
                return ("inv", operand), INT
            raise Untranslatable("unary operator")
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
                raise Untranslatable("comparison")
            a, _ = self.expr(node.left)
            b, _ = self.expr(node.comparators[0])
            return (_COMPARE[type(node.ops[0])], a, b), BOOL
        if isinstance(node, ast.BoolOp):
            parts = [self.expr(v) for v in node.values]
            kinds = {k for _e, k in parts}
            if len(kinds) != 1:
                raise Untranslatable("and/or of mixed kinds")
            op = "and" if isinstance(node.op, ast.And) else "or"
            expr = parts[-1][0]
            for e, _k in reversed(parts[:-1]):
                expr = (op, e, expr)
            return expr, kinds.pop()
        if isinstance(node, ast.IfExp):
            test, _ = self.expr(node.test)
            (a, ka), (b, kb) = self.expr(node.body), self.expr(node.orelse)
            if ka != kb:
                raise Untranslatable("conditional of mixed kinds")
            return ("if", test, a, b), ka
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and node.value.id == "buf" and not isinstance(node.slice, ast.Slice):
            return ("b", self.int_expr(node.slice)), INT
        raise Untranslatable(type(node).__name__)


def _ends(body: list[ast.stmt]) -> bool:
    """Whether a block never falls through (it raises or returns at its end)."""
    return bool(body) and isinstance(body[-1], (ast.Raise, ast.Return))


def _struct_items(fmt: str) -> tuple[str, list[tuple[str, int, int]]]:
    """('>' or '<', [(code, size, offset)]) of a standard-size struct format; pad bytes
    take no item."""
    if not fmt or fmt[0] not in "<>!":
        raise Untranslatable("native struct format")
    endian = "<" if fmt[0] == "<" else ">"
    items = []
    at = 0
    count = ""
    for ch in fmt[1:]:
        if ch.isdigit():
            count += ch
            continue
        n = int(count) if count else 1
        count = ""
        if ch == "x":
            at += n
        elif ch == "s":
            items.append(("s", n, at))
            at += n
        elif ch in _INT_CODES or ch == "?":
            size = _INT_CODES.get(ch, 1)
            for _ in range(n):
                items.append((ch, size, at))
                at += size
        else:
            raise Untranslatable(f"struct code {ch}")
    if at != struct.calcsize(fmt):  # pragma: no cover - standard sizes have no padding
        raise Untranslatable("struct size")
    return endian, items


def _is_from_bytes(node: ast.Call) -> bool:
    return (isinstance(node.func, ast.Attribute) and node.func.attr == "from_bytes"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "int"
            and len(node.args) == 2 and isinstance(node.args[0], ast.Name)
            and isinstance(node.args[1], ast.Constant) and node.args[1].value in ("big",
                                                                                   "little")
            and len(node.keywords) == 1 and node.keywords[0].arg == "signed"
            and isinstance(node.keywords[0].value, ast.Constant))


def _from_bytes_temporaries(function: ast.FunctionDef) -> dict[str, tuple[str, int]]:
    """Locals read only by ``int.from_bytes(name, order, signed=s)``: name -> (order, s).
    Their struct item is read as an integer directly."""
    uses: dict[str, list[tuple[str, int]]] = {}
    loads: dict[str, int] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            loads[node.id] = loads.get(node.id, 0) + 1
        if isinstance(node, ast.Call) and _is_from_bytes(node):
            order = (node.args[1].value, int(bool(node.keywords[0].value.value)))
            uses.setdefault(node.args[0].id, []).append(order)
    return {name: orders[0] for name, orders in uses.items()
            if len(set(orders)) == 1 and loads.get(name) == len(orders)}


def _buffer_slice(node: ast.expr) -> tuple[ast.expr, ast.expr, int] | None:
    """(lower, upper, as_bytes) of ``buf[a:b]`` or ``bytes(buf[a:b])``, else None."""
    as_bytes = 0
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id == "bytes" and len(node.args) == 1 and not node.keywords:
        node, as_bytes = node.args[0], 1
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
            and node.value.id == "buf" and isinstance(node.slice, ast.Slice) \
            and node.slice.step is None and node.slice.lower is not None \
            and node.slice.upper is not None:
        return node.slice.lower, node.slice.upper, as_bytes
    return None
