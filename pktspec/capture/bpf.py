"""Classic BPF: compile filter expressions with libpcap, run the programs in Python.

libpcap is the only real authority on what ``tcp port 80`` means, so we never parse filter
expressions ourselves: :func:`compile_filter` hands the text to ``pcap_compile`` on a dead
handle and keeps the resulting instructions. Those are plain integers, so a program can be
kept, attached to a socket (``SO_ATTACH_FILTER``) or run on packets from files without
libpcap being present at run time.

Running a program in Python has two engines with identical semantics (libpcap's
``bpf_filter.c``: out-of-bounds loads and division by zero reject the packet, arithmetic is
unsigned 32-bit, shifts of 32 or more give 0):

* :func:`translate` turns a loop-free program into straight-line Python source, one block of
  statements per basic block, and compiles it once. It is several times faster than
  interpreting, which matters when filtering millions of records from a file.
* :func:`interpret` is a plain fetch-decode loop. It is the reference for the translator and
  the engine for programs with backward jumps (libpcap emits them for ``protochain``).

``BPFProgram.offline_filter`` calls libpcap's own ``pcap_offline_filter`` for cross-checks.

Example::

    prog = compile_filter("tcp port 80")
    kept = [(data, info) for data, info in reader if prog.matches(data, info.length)]
"""

from __future__ import annotations

import ctypes
import operator
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..errors import FilterError
from . import libpcap

Instruction = tuple[int, int, int, int]
FilterFunc = Callable[[bytes, int], int]

# Instruction classes, sizes, modes, operations (linux/filter.h, pcap/bpf.h).
LD, LDX, ST, STX, ALU, JMP, RET, MISC = range(8)
W, H, B = 0x00, 0x08, 0x10
IMM, ABS, IND, MEM, LEN, MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR = range(0x00, 0xB0, 0x10)
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40
K, X = 0x00, 0x08
RET_A = 0x10
TAX, TXA = 0x00, 0x80

MEMWORDS = 16
MAX_INSNS = 4096 * 16
MAX_BACKWARD_JUMPS = 4096  # bounds ``protochain`` loops on hostile packets
MASK = 0xFFFFFFFF

_LOADS = {LD | size | mode for size in (W, H, B) for mode in (ABS, IND)} | {
    LD | W | LEN,
    LDX | W | LEN,
    LDX | B | MSH,
    LD | IMM,
    LDX | IMM,
}
_ALU_OPS = (ADD, SUB, MUL, DIV, MOD, AND, OR, XOR, LSH, RSH)
_VALID = (
    _LOADS
    | {LD | MEM, LDX | MEM, ST, STX, RET | K, RET | RET_A, ALU | NEG, MISC | TAX, MISC | TXA}
    | {JMP | JA}
    | {JMP | op | src for op in (JEQ, JGT, JGE, JSET) for src in (K, X)}
    | {ALU | op | src for op in _ALU_OPS for src in (K, X)}
)

_compile_lock = threading.RLock()  # older libpcaps' pcap_compile is not thread-safe


def compile_filter(
    expr: str,
    linktype: int = 1,
    snaplen: int = 262144,
    optimize: bool = True,
    byte_order: str = sys.byteorder,
) -> BPFProgram:
    """Compile a tcpdump filter expression for a link type (a LINKTYPE_* value, as in files).

    The program is the one ``tcpdump -r`` runs on a pcap file of that link type, snaplen and
    byte order (the byte order only matters for BSD loopback headers). Raises FilterError
    with libpcap's message when the expression does not compile, and LiveCaptureError when
    libpcap is not installed.
    """
    lib = libpcap.load()
    with _compile_lock:
        handle = libpcap.open_header_only(linktype, snaplen, byte_order)
        if handle is None:  # no fmemopen: a dead handle differs only for LINKTYPE_NULL
            handle = lib.pcap_open_dead(libpcap.LINKTYPE_TO_DLT.get(linktype, linktype), snaplen)
        if not handle:
            raise FilterError(f"libpcap cannot open a handle for link type {linktype}")
        try:
            insns = compile_on_handle(handle, expr, optimize)
        finally:
            libpcap.close(handle)
    return BPFProgram(insns, expr=expr, linktype=linktype, snaplen=snaplen)


def compile_on_handle(handle: int, expr: str, optimize: bool = True) -> list[Instruction]:
    """pcap_compile on an open pcap_t (dead, or live to get its VLAN handling); a copy of
    the instructions. FilterError carries libpcap's message."""
    lib = libpcap.load()
    program = libpcap.BpfProgram()
    with _compile_lock:
        rc = lib.pcap_compile(
            handle,
            ctypes.byref(program),
            expr.encode(),
            int(optimize),
            0,  # tcpdump -r's netmask (it knows none for a file): 'ip broadcast' compiles
        )
    if rc != 0:
        message = libpcap.geterr(handle)
        err = FilterError(f"cannot compile filter {expr!r}: {message}")
        err.expr, err.pcap_message = expr, message
        raise err
    try:
        return libpcap.read_program(program)
    finally:
        lib.pcap_freecode(ctypes.byref(program))


@dataclass(eq=False)
class BPFProgram:
    """A validated classic BPF program and the Python function that runs it.

    ``instructions`` is a list of ``(code, jt, jf, k)`` exactly as ``tcpdump -dd`` prints.
    The Python function is built on first use, so programs made only to be attached to a
    socket never pay for it.
    """

    instructions: list[Instruction]
    expr: str | None = None
    linktype: int = 1
    snaplen: int = 262144
    _func: FilterFunc | None = field(default=None, init=False, repr=False)
    _cprog: libpcap.BpfProgram | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.instructions = validate(self.instructions)

    @property
    def has_backward_jumps(self) -> bool:
        """True for loops (``protochain``): kernels refuse them, the translator too."""
        return any(_is_backward(insn) for insn in self.instructions)

    @property
    def function(self) -> FilterFunc:
        """``f(data, wirelen) -> int``: translated when loop-free, else the interpreter."""
        if self._func is None:
            self._func = _build_function(self.instructions)
        return self._func

    def run(self, data: bytes, wirelen: int | None = None) -> int:
        """The program's return value: 0 rejects, otherwise the number of bytes to keep."""
        return self.function(data, len(data) if wirelen is None else wirelen)

    def matches(self, data: bytes, wirelen: int | None = None) -> bool:
        """True when the filter keeps the packet (``wirelen`` defaults to ``len(data)``)."""
        return self.function(data, len(data) if wirelen is None else wirelen) != 0

    def interpret(self, data: bytes, wirelen: int | None = None) -> int:
        """Run the reference interpreter (slow; for cross-checking the translator)."""
        return interpret(self.instructions, data, len(data) if wirelen is None else wirelen)

    def offline_filter(self, data: bytes, wirelen: int | None = None) -> bool:
        """Ask libpcap's pcap_offline_filter, the C reference, whether it keeps the packet."""
        lib = libpcap.load()
        if self._cprog is None:
            self._cprog = libpcap.make_program(self.instructions)
        hdr = libpcap.PcapPkthdr()
        hdr.caplen = len(data)
        hdr.len = len(data) if wirelen is None else wirelen
        return lib.pcap_offline_filter(ctypes.byref(self._cprog), ctypes.byref(hdr), data) != 0

    @property
    def python_source(self) -> str:
        """The generated Python source (for reading; loop programs have none)."""
        return translate(self.instructions)

    def __repr__(self) -> str:
        what = repr(self.expr) if self.expr is not None else "from instructions"
        return f"<BPFProgram {what} linktype={self.linktype} {len(self.instructions)} insns>"

    def dump(self) -> str:
        """The program as ``tcpdump -dd`` prints it."""
        lines = [f"{{ 0x{c:x}, {jt}, {jf}, 0x{k:08x} }}," for c, jt, jf, k in self.instructions]
        return "\n".join(lines)


def validate(instructions: Iterable[Sequence[int]]) -> list[Instruction]:
    """Check a program the way libpcap's bpf_validate does; return it as int tuples.

    Every instruction must be known, jumps must land inside the program, the last
    instruction must return, scratch indexes must be < 16, constant divisors non-zero and
    constant shifts < 32. Backward ``ja`` is accepted (libpcap uses it for protochain).
    This is also what makes the translator safe: everything it emits is one of these ints.
    """
    insns = [_as_instruction(insn) for insn in instructions]
    if not 1 <= len(insns) <= MAX_INSNS:
        raise FilterError(f"a BPF program has 1 to {MAX_INSNS} instructions, not {len(insns)}")
    for pc, insn in enumerate(insns):
        problem = _check_insn(pc, insn, len(insns))
        if problem:
            raise FilterError(f"invalid BPF instruction {pc} {insn}: {problem}")
    if insns[-1][0] & 7 != RET:
        raise FilterError("a BPF program must end with a ret instruction")
    return insns


def _as_instruction(insn: Sequence[int]) -> Instruction:
    try:
        code, jt, jf, k = (operator.index(v) for v in insn)
    except (TypeError, ValueError) as exc:
        raise FilterError(
            f"a BPF instruction is 4 integers (code, jt, jf, k), not {insn!r}"
        ) from exc
    if not (0 <= code <= 0xFFFF and 0 <= jt <= 0xFF and 0 <= jf <= 0xFF and 0 <= k <= MASK):
        raise FilterError(f"BPF instruction field out of range: {tuple(insn)}")
    return code, jt, jf, k


def _check_insn(pc: int, insn: Instruction, length: int) -> str | None:
    code, jt, jf, k = insn
    if code not in _VALID:
        return "unknown opcode"
    if code in (LD | MEM, LDX | MEM, ST, STX) and k >= MEMWORDS:
        return "scratch memory index out of range"
    if code in (ALU | DIV | K, ALU | MOD | K) and k == 0:
        return "constant division by zero"
    if code in (ALU | LSH | K, ALU | RSH | K) and k >= 32:
        return "constant shift of 32 bits or more"
    if code == JMP | JA:
        target = pc + 1 + _signed(k)
        if not 0 <= target < length or target == pc:
            return "jump out of the program"
    elif code & 7 == JMP and max(jt, jf) + pc + 1 >= length:
        return "jump out of the program"
    return None


def _signed(k: int) -> int:
    return k - (1 << 32) if k & 0x80000000 else k


def _is_backward(insn: Instruction) -> bool:
    return insn[0] == JMP | JA and _signed(insn[3]) < 0


# --------------------------------------------------------------------------- interpreter


def interpret(insns: Sequence[Instruction], data: bytes, wirelen: int) -> int:
    """Run a validated program on a packet; libpcap's bpf_filter semantics."""
    a = x = 0
    mem = [0] * MEMWORDS
    pc = 0
    backward = 0
    buflen = len(data)
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        cls = code & 7
        if cls == RET:
            return a if code & RET_A else k
        if cls == LD or cls == LDX:
            value = _load(code, k, x, data, buflen, wirelen, mem)
            if value is None:
                return 0
            if cls == LD:
                a = value
            else:
                x = value
        elif cls == ST:
            mem[k] = a
        elif cls == STX:
            mem[k] = x
        elif cls == ALU:
            a = _alu(code, a, x if code & X else k)
            if a is None:
                return 0
        elif cls == JMP:
            if code == JMP | JA:
                if _signed(k) < 0:
                    backward += 1
                    if backward > MAX_BACKWARD_JUMPS:
                        return 0
                pc += _signed(k)
            else:
                pc += jt if _jump_taken(code, a, x if code & X else k) else jf
        else:
            if code == MISC | TAX:
                x = a
            else:
                a = x


def _load(
    code: int, k: int, x: int, data: bytes, buflen: int, wirelen: int, mem: list[int]
) -> int | None:
    """The value an ld/ldx loads, or None when it reads past the captured bytes."""
    mode = code & 0xE0
    if mode == IMM:
        return k
    if mode == LEN:
        return wirelen
    if mode == MEM:
        return mem[k]
    if mode == MSH:
        return (data[k] & 0xF) << 2 if k < buflen else None
    offset = k + x if mode == IND else k
    size = {W: 4, H: 2, B: 1}[code & 0x18]
    if offset + size > buflen:
        return None
    return int.from_bytes(data[offset : offset + size], "big")


def _alu(code: int, a: int, operand: int) -> int | None:
    op = code & 0xF0
    if op == NEG:
        return -a & MASK
    if op in (DIV, MOD) and operand == 0:
        return None
    if op in (LSH, RSH) and operand >= 32:
        return 0
    return _ALU_FUNCS[op](a, operand) & MASK


_ALU_FUNCS: dict[int, Callable[[int, int], int]] = {
    ADD: lambda a, b: a + b,
    SUB: lambda a, b: a - b,
    MUL: lambda a, b: a * b,
    DIV: lambda a, b: a // b,
    MOD: lambda a, b: a % b,
    AND: lambda a, b: a & b,
    OR: lambda a, b: a | b,
    XOR: lambda a, b: a ^ b,
    LSH: lambda a, b: a << b,
    RSH: lambda a, b: a >> b,
}


def _jump_taken(code: int, a: int, operand: int) -> bool:
    op = code & 0xF0
    if op == JEQ:
        return a == operand
    if op == JGT:
        return a > operand
    if op == JGE:
        return a >= operand
    return bool(a & operand)


# --------------------------------------------------------------------------- translator

_MAX_NESTING = 40  # deeper inlined branches become functions (Python caps indentation at 100)
_MAX_CALL_BLOCKS = 400  # each join block costs a Python frame on the path; stay off the limit


def _build_function(insns: list[Instruction]) -> FilterFunc:
    """Compile the translation, falling back to the interpreter for loops and huge programs."""
    if any(_is_backward(insn) for insn in insns):
        return lambda data, wirelen: interpret(insns, data, wirelen)
    translator = _Translator(insns)
    source = translator.source()
    if translator.call_blocks > _MAX_CALL_BLOCKS:
        return lambda data, wirelen: interpret(insns, data, wirelen)
    namespace: dict[str, object] = {
        "__builtins__": {"len": len},
        "_U32": struct.Struct(">I").unpack_from,
        "_U16": struct.Struct(">H").unpack_from,
    }
    exec(compile(source, "<bpf>", "exec"), namespace)  # the source holds only validated ints
    return namespace["bpf_filter"]  # type: ignore[return-value]


def translate(insns: Sequence[Instruction]) -> str:
    """Python source of ``bpf_filter(P, W)`` for a loop-free validated program.

    Basic blocks with one predecessor are inlined under the branch that reaches them, blocks
    that only return are duplicated, and every other join point becomes a function called in
    tail position. Only validated integers and fixed text go into the source.
    """
    program = validate(insns)
    if any(_is_backward(insn) for insn in program):
        raise FilterError("programs with backward jumps (protochain) are interpreted")
    return _Translator(program).source()


class _Translator:
    """Emit one Python function per join block of a forward-only BPF program."""

    def __init__(self, insns: list[Instruction]) -> None:
        self.insns = insns
        self.leaders = self._find_leaders()
        self.preds = self._count_predecessors()
        self.uses_mem = any(c in (LD | MEM, LDX | MEM, ST, STX) for c, _, _, _ in insns)
        self.functions: list[int] = []
        self.call_blocks = 0

    def _successors(self, pc: int) -> tuple[int, ...]:
        code, jt, jf, k = self.insns[pc]
        if code & 7 == RET:
            return ()
        if code == JMP | JA:
            return (pc + 1 + k,)
        if code & 7 == JMP:
            return (pc + 1 + jt, pc + 1 + jf)
        return (pc + 1,)

    def _find_leaders(self) -> list[bool]:
        leaders = [False] * (len(self.insns) + 1)
        leaders[0] = True
        for pc, (code, _, _, _) in enumerate(self.insns):
            if code & 7 in (JMP, RET):
                leaders[pc + 1] = True
                for target in self._successors(pc):
                    leaders[target] = True
        return leaders

    def _block_end(self, start: int) -> int:
        """Index of the last instruction of the block starting at ``start``."""
        pc = start
        while self.insns[pc][0] & 7 not in (JMP, RET) and not self.leaders[pc + 1]:
            pc += 1
        return pc

    def _count_predecessors(self) -> dict[int, int]:
        preds: dict[int, int] = {}
        start = 0
        while start < len(self.insns):
            end = self._block_end(start)
            for target in set(self._successors(end)):
                preds[target] = preds.get(target, 0) + 1
            start = end + 1
        return preds

    def _is_return_only(self, start: int) -> bool:
        return self.insns[start][0] & 7 == RET

    def source(self) -> str:
        lines = ["def bpf_filter(P, W):", "    L = len(P)", "    A = X = 0"]
        lines.append("    M = [0] * 16" if self.uses_mem else "    M = None")
        self._emit_block(0, 1, lines)
        emitted: set[int] = set()
        while self.functions:
            start = self.functions.pop()
            if start in emitted:
                continue
            emitted.add(start)
            lines.append("")
            lines.append(f"def _b{start}(P, L, W, A, X, M):")
            self._emit_block(start, 1, lines)
        self.call_blocks = len(emitted)
        return "\n".join(lines) + "\n"

    def _emit_block(self, start: int, depth: int, out: list[str]) -> None:
        end = self._block_end(start)
        pad = "    " * depth
        for pc in range(start, end + 1):
            code = self.insns[pc][0]
            if code & 7 == JMP:
                self._emit_jump(pc, depth, out)
                return
            out.extend(pad + line for line in _statement(self.insns[pc]))
        if self.insns[end][0] & 7 != RET:
            self._emit_goto(end + 1, depth, out)

    def _emit_goto(self, target: int, depth: int, out: list[str]) -> None:
        """Continue at ``target``: a duplicated return, an inlined block or a tail call."""
        pad = "    " * depth
        if self._is_return_only(target):
            out.extend(pad + line for line in _statement(self.insns[target]))
        elif self.preds.get(target, 0) == 1 and depth < _MAX_NESTING:
            self._emit_block(target, depth, out)
        else:
            self.functions.append(target)
            out.append(f"{pad}return _b{target}(P, L, W, A, X, M)")

    def _is_simple(self, target: int) -> bool:
        """A goto that is one line: a return, or a call to a join block."""
        return self._is_return_only(target) or self.preds.get(target, 0) != 1

    def _emit_jump(self, pc: int, depth: int, out: list[str]) -> None:
        code, jt, jf, k = self.insns[pc]
        if code == JMP | JA:
            self._emit_goto(pc + 1 + k, depth, out)
            return
        t_target, f_target = pc + 1 + jt, pc + 1 + jf
        if t_target == f_target:
            self._emit_goto(t_target, depth, out)
            return
        cond, negated = _condition(code, k)
        # Put the short branch under the `if`, so long chains stay at one indentation.
        if self._is_simple(f_target) and not self._is_simple(t_target):
            cond, t_target, f_target = negated, f_target, t_target
        out.append("    " * depth + f"if {cond}:")
        self._emit_goto(t_target, depth + 1, out)
        self._emit_goto(f_target, depth, out)


def _condition(code: int, k: int) -> tuple[str, str]:
    """Python text of a jump condition and of its negation."""
    operand = "X" if code & X else str(k)
    op = code & 0xF0
    if op == JEQ:
        return f"A == {operand}", f"A != {operand}"
    if op == JGT:
        return f"A > {operand}", f"A <= {operand}"
    if op == JGE:
        return f"A >= {operand}", f"A < {operand}"
    return f"A & {operand}", f"not A & {operand}"


def _statement(insn: Instruction) -> list[str]:
    """Python lines for one non-jump instruction."""
    code, _, _, k = insn
    cls = code & 7
    if cls == RET:
        return ["return A" if code & RET_A else f"return {k}"]
    if cls in (LD, LDX):
        return _load_lines(code, k)
    if cls == ST:
        return [f"M[{k}] = A"]
    if cls == STX:
        return [f"M[{k}] = X"]
    if cls == ALU:
        return _alu_lines(code, k)
    return ["X = A"] if code == MISC | TAX else ["A = X"]


def _load_lines(code: int, k: int) -> list[str]:
    reg = "A" if code & 7 == LD else "X"
    mode = code & 0xE0
    if mode == IMM:
        return [f"{reg} = {k}"]
    if mode == LEN:
        return [f"{reg} = W"]
    if mode == MEM:
        return [f"{reg} = M[{k}]"]
    if mode == MSH:
        return [f"if L <= {k}:", "    return 0", f"X = (P[{k}] & 15) << 2"]
    size = {W: 4, H: 2, B: 1}[code & 0x18]
    if mode == ABS:
        check, index = [f"if L < {k + size}:", "    return 0"], str(k)
    else:
        check = [f"i = X + {k}", f"if i + {size} > L:", "    return 0"]
        index = "i"
    read = {4: f"_U32(P, {index})[0]", 2: f"_U16(P, {index})[0]", 1: f"P[{index}]"}[size]
    return [*check, f"A = {read}"]


def _alu_lines(code: int, k: int) -> list[str]:
    op = code & 0xF0
    if op == NEG:
        return ["A = -A & 4294967295"]
    if not code & X:
        return [_ALU_K[op].format(k=k)]
    guard = {DIV: ["if X == 0:", "    return 0"], MOD: ["if X == 0:", "    return 0"]}
    return [*guard.get(op, []), _ALU_X[op]]


_ALU_K = {
    ADD: "A = (A + {k}) & 4294967295",
    SUB: "A = (A - {k}) & 4294967295",
    MUL: "A = (A * {k}) & 4294967295",
    DIV: "A = A // {k}",
    MOD: "A = A % {k}",
    AND: "A = A & {k}",
    OR: "A = A | {k}",
    XOR: "A = A ^ {k}",
    LSH: "A = (A << {k}) & 4294967295",
    RSH: "A = A >> {k}",
}
_ALU_X = {
    ADD: "A = (A + X) & 4294967295",
    SUB: "A = (A - X) & 4294967295",
    MUL: "A = (A * X) & 4294967295",
    DIV: "A = A // X",
    MOD: "A = A % X",
    AND: "A = A & X",
    OR: "A = A | X",
    XOR: "A = A ^ X",
    LSH: "A = (A << X) & 4294967295 if X < 32 else 0",
    RSH: "A = A >> X if X < 32 else 0",
}
