"""Phase 3, one layer's plan: its fast decoder and its construct FORMAT.

The fixed-offset prefix of a header and its ``struct.Struct`` format, how bit fields are cut
out of byte-aligned chunks, which fields stay in locals, which variable parts are kept as byte
spans and decoded on first access, the boundaries, the next-layer dispatch and the flow, and
the construct ``FORMAT`` of the same layer. Everything is in wire order. The builder's part
of the plan is relations.py; the module around the layers is plan.py.

UnitPlanner walks the members in wire order (plan) and collects what it planned into a
LayerModel (finish); each concept it calls on is a mixin of its own module:

    spelling.py          names and expressions in _decode and in FORMAT
    segments.py          runs of fixed-size fields, bit-field chunks, the cursor, FieldInfo
    variable_parts.py    bytes, arrays, structs, alignment, the lazily decoded tail
    construct_format.py  the construct FORMAT lines of the fields
    boundaries.py        header, payload and trailer ends, dispatch, flow
    relations.py         the builder's defaults, lengths and checksums
    summary_lines.py     the one-line summary rules (SUMMARY)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pktspec.generator.boundaries import LayerBoundaries
from pktspec.generator.check import Unit
from pktspec.generator.construct_format import ConstructFormat
from pktspec.generator.fast_program import program_lines
from pktspec.generator.model import LayerModel
from pktspec.generator.pyexpr import names_in
from pktspec.generator.relations import BuildRelations
from pktspec.generator.segments import ScalarSegments
from pktspec.generator.spelling import ExpressionSpelling
from pktspec.generator.summary_lines import LayerSummary
from pktspec.generator.variable_parts import VariableParts
from pktspec.grammar import ast

if TYPE_CHECKING:
    from pktspec.generator.plan import ModulePlanner

_LAYER_CLASSES = {"link": "LINK", "network": "NETWORK", "transport": "TRANSPORT",
                  "application": "APPLICATION", "other": "OTHER"}


class UnitPlanner(ExpressionSpelling, ScalarSegments, VariableParts, ConstructFormat,
                  LayerBoundaries, BuildRelations, LayerSummary):
    """Plans one layer or struct of a module."""

    def __init__(self, mod: ModulePlanner, unit: Unit) -> None:
        self.mod = mod
        self.unit = unit
        self.chunk_no = 0
        self.slots: list[str] = []
        self.structs: list[tuple[str, str]] = []
        self.lines: list[str] = []
        self.format_lines: list[str] = []
        self.properties: list[list[str]] = []
        self.infos: list[str] = []
        self.fixed_offset: int | None = 0  # byte offset of the cursor while it is constant
        self.decoded: set[str] = set()
        self.hend_ready = False
        self.uses_p = False
        self.referenced = _referenced_names(unit) if unit.kind == "layer" else set()
        self.p_is_hend = False  # the cursor was last set to the header's end
        self.locals: set[str] = set()  # fields whose value is also in a local f_<name>
        self.eager = False  # a part is parsed by construct inside _decode
        self.remaining = "(end - hend)"  # `remaining` in `payload = ...`
        self.members: list = []
        self.index = 0  # the member being planned
        self.main_lines: list[str] | None = None  # _decode's lines while planning the tail
        self.tail_fields: list[str] = []
        self.part_offset: int | None = 0  # fixed_offset where the variable part began
        self.cons_at: str | None = "0"  # the cursor's offset in FORMAT terms (cons_advance)
        self.anchor_no = 0
        self.run_format_start = 0  # the first FORMAT line of the run being planned
        # fields a `sizeof(x)` measures: a variable one is measured as it is decoded
        self.sizeof_targets = _sizeof_targets(unit)
        self.trailer_lines: list[str] = []  # TRAILER's lines (the fields after the payload)
        self.in_trailer = False  # TRAILER's lines are being written: header names read apart
        self.optional_lets: set[str] = set()  # lets that read a conditional field

    # ---- planning ----
    def plan(self) -> LayerModel:
        unit = self.unit
        members = self.members = _statements_after_bit_runs(list(unit.members))
        self.maybe_header()  # `header = remaining;` is known before any field
        i = 0
        while i < len(members):
            m = members[i]
            self.index = i
            self.run_format_start = len(self.format_lines)
            if hasattr(m, "ftype") and m.node.cond is None and m.ftype.is_scalar and \
                    m.node.align is None:
                run = [m]
                while i + 1 < len(members) and hasattr(members[i + 1], "ftype") and \
                        members[i + 1].node.cond is None and members[i + 1].ftype.is_scalar \
                        and members[i + 1].ftype.endian == m.ftype.endian \
                        and members[i + 1].node.align is None:
                    i += 1
                    run.append(members[i])
                self.emit_segment(run)
                self.cons_advance(run)
            elif hasattr(m, "ftype"):
                run = [m]
                bits = m.ftype.bits or 0
                # bit fields sharing a byte under one condition (the checker saw to it) are
                # read together, as one chunk
                while bits % 8 and i + 1 < len(members) and hasattr(members[i + 1], "ftype"):
                    i += 1
                    run.append(members[i])
                    bits += members[i].ftype.bits or 0
                self.emit_variable(run)
                self.cons_advance(run)
            elif isinstance(m, ast.Let):
                self.emit_let(m)
            else:
                self.emit_requires(m)
            self.maybe_header()
            i += 1
        if unit.kind == "layer":
            self.maybe_header()  # a layer without fields: its header is known only here
            self.emit_bounds()
        return self.finish()

    def emit_let(self, m: ast.Let) -> None:
        self.slots.append(m.name)
        value = self.fast()(m.expr)
        if self.reads_optional(m.expr):  # None (absent) when a field it reads is absent
            self.optional_lets.add(m.name)
            self.lines += ["try:", f"    self.{m.name} = {value}",
                           "except TypeError:  # it reads a conditional field that is absent",
                           f"    self.{m.name} = None"]
            optional = ", optional=True"
        else:
            self.lines.append(f"self.{m.name} = {value}")
            optional = ""
        self.format_lines.append(f'"{m.name}" / _c.Computed(_let(lambda this: '
                                 f'{self.cons()(m.expr)}{optional})),  # {self.where(m.pos)}')
        self.infos.append(f"_FieldInfo({m.name!r}, 'let', line={m.pos.line}, kind='let'),")
        self.decoded.add(m.name)

    def reads_optional(self, e: ast.Expr) -> bool:
        """Whether e reads a conditional field, or a let that does (it may be None)."""
        for name in names_in(e):
            cf = self.unit.field(name)
            if (cf is not None and cf.node.cond is not None) or name in self.optional_lets:
                return True
        return False

    def emit_requires(self, m: ast.Requires) -> None:
        message = m.message or "requirement failed"
        self.lines += [f"if not {self.fast()(m.expr)}:",
                       f"    raise self._fail('requires', off, {message!r})"]
        self.format_lines.append(f"_Requires(lambda this: {self.cons()(m.expr)}, {message!r}),")

    def finish(self) -> LayerModel:
        lines = self.lines
        if self.eager and self.unit.kind == "layer":
            # construct parses a part while _decode runs: an extern type in it (a DNS name)
            # may read the packet around it, so say where the buffer and the layer are first
            lines = ["self._buf = buf", "self._off = off", *lines]
        defaults, relations = self.defaults_and_relations()
        node = self.unit.node
        tail = []
        if self.tail_fields:
            names = ", ".join(self.tail_fields)
            used = set(re.findall(r"\b(off|end|hend)\b", "\n".join(self.tail)))
            # a part that does not decode fails the reads of it and of the parts after it,
            # not of those before it (a DNS question before a truncated answer)
            tail = [f'"""Decode {names} when one of them is first read."""',
                    "buf = self._buf",
                    *[f"{name} = self._{name}" for name in ("off", "end", "hend") if name in used],
                    "p = self._at_tail", "try:", *["    " + ln for ln in self.tail],
                    "except Exception:", "    if getattr(self, '_' + name) is ...:",
                    "        raise"]
        return LayerModel(
            name=node.name, kind=self.unit.kind, doc=node.doc or f"The {node.name} layer.",
            layer_class=_LAYER_CLASSES.get(getattr(node, "layer_class", "other"), "OTHER"),
            source=self.unit.file.display, slots=self.slots, field_infos=self.infos,
            format_lines=self.format_lines, structs=self.structs, decode_lines=lines,
            properties=[*self.properties, *filter(None, [self.payload_wanted_lines()])],
            flow_lines=self.flow_lines(), defaults=defaults,
            relations=relations, build_info=self.build_info(), tail_lines=tail,
            summary_lines=self.summary_lines(),
            program_lines=program_lines(lines, self.structs) if self.unit.kind == "layer"
            else [],
            trailer_lines=self.trailer_lines,
            guard=self.mod.guard(self.unit) if self.unit.kind == "layer" else "None")


def _statements_after_bit_runs(members: list) -> list:
    """members with each ``requires`` or ``let`` that sits between bit fields sharing a
    byte (``a: u4; requires a == 1; b: u4;``) moved to just after the byte they share: the
    fields of one byte are read together, and a statement between them would split the
    byte in two. Nothing a statement reads can come after it in the same byte's fields."""
    out: list = []
    pending: list = []
    bits = 0
    for m in members:
        if not hasattr(m, "ftype"):
            (pending if bits % 8 else out).append(m)
            continue
        out.append(m)
        bits = bits + m.ftype.bits if m.ftype.bits else 0
        if bits % 8 == 0:
            out += pending
            pending = []
    return out + pending


def _referenced_names(unit: Unit) -> set[str]:
    """Names read by a layer's expressions: sizes, conditions, checks, lets, boundaries,
    requires and the next-layer rule. Their fields are worth keeping in locals."""
    exprs: list = [unit.header, unit.payload]
    for m in unit.members:
        if isinstance(m, ast.Let):
            exprs.append(m.expr)
        elif isinstance(m, ast.Requires):
            exprs.append(m.expr)
        elif hasattr(m, "ftype"):
            t = m.ftype
            exprs += [m.node.cond, m.node.check, t.size, t.sized, t.count, t.array_size]
            if m.node.check is not None:  # a checked field is read back by its check
                exprs.append(ast.Name(m.name, m.node.pos))
    for nxt, _table in unit.nexts:
        exprs.append(nxt.when)
        if isinstance(nxt, ast.NextBy):
            exprs += [*nxt.exprs, nxt.unless]
    names: set[str] = set()
    for e in exprs:
        names |= names_in(e)
    return names


def _sizeof_targets(unit: Unit) -> set[str]:
    """The fields of a unit that a ``sizeof(x)`` names, in any of its expressions."""
    exprs: list = [unit.header, unit.payload]
    members = [*unit.node.members]
    members += [f for m in unit.node.members if isinstance(m, ast.Trailer) for f in m.fields]
    for m in members:  # (a trailer field's `if` may name a header part too)
        if isinstance(m, ast.Field):
            t = m.type
            exprs += [m.cond, m.check, m.value, m.default]
            while t is not None:  # sizes and bounds inside the type
                exprs += [getattr(t, a, None) for a in ("size", "count", "until")]
                exprs += list(getattr(t, "args", ()))
                if isinstance(t, ast.SwitchType):
                    exprs.append(t.selector)
                t = getattr(t, "inner", None) or getattr(t, "element", None)
        elif isinstance(m, (ast.Let, ast.Assign, ast.Requires, ast.Guard)):
            exprs.append(m.expr)
        elif isinstance(m, ast.NextBy):
            exprs += [*m.exprs, m.unless]
    out: set[str] = set()
    stack = [e for e in exprs if e is not None]
    while stack:
        e = stack.pop()
        if isinstance(e, ast.Call) and e.func == "sizeof" and e.args and \
                isinstance(e.args[0], ast.Name) and unit.field(e.args[0].name) is not None:
            out.add(e.args[0].name)
        stack.extend(ast.children(e))
    return out
