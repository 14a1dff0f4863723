"""Phase 3, one layer's plan: its fast decoder and its construct FORMAT.

The fixed-offset prefix of a header and its ``struct.Struct`` format, how bit fields are cut
out of byte-aligned chunks, which fields stay in locals, which variable parts are kept as byte
spans and decoded on first access, the boundaries, the next-layer dispatch and the flow, and
the construct ``FORMAT`` of the same layer. Everything is in wire order. The builder's part
of the plan is relations.py; the module around the layers is plan.py.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from pktspec.generator.check import Unit, element_bytes
from pktspec.generator.model import LayerModel, Segment
from pktspec.generator.pyexpr import PyExpr, names_in
from pktspec.generator.relations import BuildRelations
from pktspec.generator.types import FieldType
from pktspec.grammar import ast

if TYPE_CHECKING:
    from pktspec.generator.plan import ModulePlanner

_STRUCT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}
_LAYER_CLASSES = {"link": "LINK", "network": "NETWORK", "transport": "TRANSPORT",
                  "application": "APPLICATION", "other": "OTHER"}
_ADDR_ENDPOINT = {"mac": "MAC", "ipv4": "IPv4", "ipv6": "IPv6"}


def _int_construct(bits: int, signed: bool, endian: str) -> str:
    if bits in (8, 16, 24, 32, 64):
        letter = "s" if signed else "u"
        order = "b" if endian == "big" or bits == 8 else "l"
        return f"_c.Int{bits}{letter}{order}"
    swapped = endian == "little"
    return f"_c.BytesInteger({bits // 8}, signed={signed!r}, swapped={swapped!r})"


class UnitPlanner(BuildRelations):
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

    # ---- planning ----
    def plan(self) -> LayerModel:
        unit = self.unit
        members = self.members = list(unit.members)
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

    def position(self) -> str:
        if self.fixed_offset is not None:
            return f"off + {self.fixed_offset}" if self.fixed_offset else "off"
        return "p"

    def advance(self, nbytes_expr: str, const: int | None) -> None:
        self.p_is_hend = False
        if self.fixed_offset is not None and const is not None:
            self.fixed_offset += const
            return
        if self.fixed_offset is not None:
            self.lines.append(f"p = {self.position()} + {nbytes_expr}")
            self.fixed_offset = None
        else:
            self.lines.append(f"p += {nbytes_expr}")
        self.uses_p = True

    def chunks(self, run: list) -> list[list]:
        """Group a run of scalar fields: bit fields share byte-aligned chunks."""
        groups: list[list] = []
        bits = 0
        for cf in run:
            if bits == 0 and cf.ftype.bits % 8 == 0:
                groups.append([cf])
                continue
            if bits == 0:
                groups.append([])
            groups[-1].append(cf)
            bits = (bits + cf.ftype.bits) % 8
        return groups

    def emit_segment(self, run: list, cond: str | None = None) -> None:
        endian = run[0].ftype.endian
        seg = Segment(">" if endian == "big" else "<", 0)
        align_lines: list[str] = []
        base_offset = self.fixed_offset
        if run[0].node.align is not None and cond is not None:
            n = run[0].node.align[0]
            if base_offset is not None:  # where the fields are when they are there
                base_offset += -base_offset % n
            self.mark_p(self.position())
            align_lines = [f"p += (off - p) % {n}"]
        for group in self.chunks(run):
            if len(group) == 1 and group[0].ftype.bits % 8 == 0:
                self.plain_item(seg, group[0], base_offset)
            else:
                self.chunk_item(seg, group, base_offset)
        pos = self.position()
        name = f"_{self.unit.name}_S{len(self.structs)}"
        self.structs.append((name, seg.fmt))
        guard = f"if end - off < {seg.size}:" if pos == "off" else f"if {pos} + {seg.size} > end:"
        body = [*align_lines, guard, "    raise self._truncated(buf, off, end)",
                f"({', '.join(seg.targets)},) = {name}.unpack_from(buf, {pos})",
                *seg.post, *seg.checks]
        if cond is not None:
            self.lines.append(f"if {cond}:")
            self.lines.extend("    " + ln for ln in body)
            self.lines.append("else:")
            # every field of the run, also those unpacked through a temporary (u24, bits)
            self.lines.extend(f"    self.{'_' if cf.ftype.kind in ('flags', 'addr') else ''}"
                              f"{cf.name} = None" for cf in run)
        else:
            self.lines.extend(body)
        for cf in run:
            self.decoded.add(cf.name)
        if cond is not None:
            self.advance(f"({seg.size} if {cond} else 0)", None)
        else:
            self.advance(str(seg.size), seg.size)

    # ---- `align N`: padding to a multiple of N bytes from the layer's start ----
    def align_cursor(self, n: int) -> None:
        """An unconditional aligned field: a constant cursor moves at generation time, a
        variable one at run time."""
        if self.fixed_offset is not None:
            self.fixed_offset += -self.fixed_offset % n
        else:
            self.lines.append(f"p += (off - p) % {n}")
            self.p_is_hend = False

    def cons_advance(self, run: list) -> None:
        """Keep the construct offset (``cons_at``, from the layer's values: the builder's
        tail is built apart from the header's fixed start, so FORMAT cannot ask its stream)
        past run; an aligned run first gets its padding in FORMAT, before its own lines."""
        cf = run[0]
        cx = self.cons()
        cond = cx(cf.node.cond) if cf.node.cond is not None else None
        size = self.cons_size(run)
        align = cf.node.align[0] if cf.node.align is not None else None
        if align is not None and self.cons_at is None:
            # not an assert: `python -O` must not turn this into FORMAT without the padding
            raise AssertionError(
                f"internal error: {self.unit.name}.{cf.name} at {self.where(cf.node.pos)} is "
                f"'align {align}', but FORMAT cannot compute its offset (a part before it "
                "has a size its values do not give), so it could not pad it; the checker "
                "should have refused this layout")
        if align is not None:
            at = self.cons_at
            if not at.isdigit():  # name the offset once: later offsets build on it
                name = f"_at{self.anchor_no}"
                self.anchor_no += 1
                self.insert_format(f'"{name}" / _c.Computed(lambda this: {at}),')
                at = f"this.{name}"
            pad = str(-int(at) % align) if at.isdigit() else f"-{at} % {align}"
            if pad != "0":
                con = f"_c.Padding({pad})" if pad.isdigit() else \
                    f"_c.Padding(lambda this: {pad})"
                if cond is not None:
                    con = f"_c.If(lambda this: {cond}, {con})"
                self.insert_format(con + ",")
            size = None if size is None else size if pad == "0" else f"{pad} + {size}"
            self.cons_at = at
        if self.cons_at is None or size is None:
            self.cons_at = None
            return
        if cond is not None:
            size = f"({size} if {cond} else 0)"
        at = self.cons_at
        if at.isdigit() and size.isdigit():
            self.cons_at = str(int(at) + int(size))
        else:
            self.cons_at = size if at == "0" else f"{at} + {size}"

    def insert_format(self, line: str) -> None:
        """A FORMAT line before the lines of the run being planned (after those inserted
        before them already)."""
        self.format_lines.insert(self.run_format_start, line)
        self.run_format_start += 1

    def cons_size(self, run: list) -> str | None:
        """The bytes run takes, in construct terms (``this.``), or None if its value does
        not say."""
        t = run[0].ftype
        cx = self.cons()
        if t.is_scalar:
            return str(sum(cf.ftype.bits for cf in run) // 8)
        if t.sized is not None:
            return f"({cx(t.sized)})"
        if t.kind == "bytes" and t.size is not None and t.delimiter is None:
            return f"({cx(t.size)})"
        if t.kind == "array":
            if t.array_size is not None:
                return f"({cx(t.array_size)})"
            size = element_bytes(t.element, self.mod.checked.units)
            if size is not None and t.count is not None:
                return f"({cx(t.count)}) * {size}"
            if size is not None and t.until is not None:
                return f"len(this[{run[0].name!r}]) * {size}"
        return None

    def slot_for(self, cf) -> str:
        raw = cf.ftype.kind in ("flags", "addr")
        slot = f"_{cf.name}" if raw else cf.name
        self.slots.append(slot)
        return f"self.{slot}"

    def local_for(self, cf, target: str, seg: Segment) -> str:
        """Unpack a field that later expressions read into a local too (LOAD_FAST beats
        reading the slot back), unless it is conditional."""
        if cf.name not in self.referenced or cf.node.cond is not None:
            return target
        local = f"f_{cf.name}"
        seg.post.insert(0, f"{target} = {local}")
        self.locals.add(cf.name)
        return local

    def plain_item(self, seg: Segment, cf, base_offset: int | None) -> None:
        t = cf.ftype
        nbytes = t.bits // 8
        target = self.slot_for(cf)
        offset = None if base_offset is None else base_offset + seg.size
        if t.kind in ("addr", "bytes"):
            seg.fmt += f"{nbytes}s"
            seg.targets.append(self.local_for(cf, target, seg))
        elif nbytes in _STRUCT_CODES:
            code = _STRUCT_CODES[nbytes]
            seg.fmt += code.lower() if t.signed else code
            seg.targets.append(self.local_for(cf, target, seg))
        else:
            tmp = f"_t{len(seg.targets)}"
            seg.fmt += f"{nbytes}s"
            seg.targets.append(tmp)
            seg.post.append(f"{target} = int.from_bytes({tmp}, {t.endian!r}, "
                            f"signed={t.signed!r})")
        self.add_check(seg, cf, self.fast_name(cf.name), offset)
        con = self.construct_of(t)
        solved = self.struct_lengths().get(cf.name)
        if solved is not None:  # a struct's length field: the builder fills it when left out
            con = f"_c.Default({con}, lambda this: {solved})"
        elif self.unit.kind == "struct":  # left out when building: its default, or zero
            con = f"_c.Default({con}, {self.struct_default(cf)})"
        self.format_lines.append(self.cond_wrap(cf, f'"{cf.name}" / {con}'))
        self.add_format_check(cf)
        self.add_info(cf, offset, nbytes, None)
        seg.size += nbytes

    def chunk_item(self, seg: Segment, group: list, base_offset: int | None) -> None:
        total = sum(cf.ftype.bits for cf in group)
        nbytes = total // 8
        tmp = f"_t{len(seg.targets)}"
        chunk = f"_bits{self.chunk_no}"
        self.chunk_no += 1
        endian = group[0].ftype.endian
        if nbytes in _STRUCT_CODES:
            seg.fmt += _STRUCT_CODES[nbytes]
            seg.targets.append(tmp)
        else:
            seg.fmt += f"{nbytes}s"
            seg.targets.append(tmp + "b")
            seg.post.append(f"{tmp} = int.from_bytes({tmp}b, {endian!r})")
        offset = None if base_offset is None else base_offset + seg.size
        shift = total
        parts = []
        for cf in group:
            bits = cf.ftype.bits
            shift -= bits
            mask = (1 << bits) - 1
            first_bit = total - shift - bits  # from the most significant bit of the chunk
            target = self.slot_for(cf)
            expr = f"({tmp} >> {shift}) & {mask:#x}" if shift else f"{tmp} & {mask:#x}"
            if cf.ftype.signed:
                expr = f"_signed({expr}, {bits})"
            if cf.name in self.referenced and cf.node.cond is None:
                seg.post.append(f"{target} = f_{cf.name} = {expr}")
                self.locals.add(cf.name)
            else:
                seg.post.append(f"{target} = {expr}")
            self.add_check(seg, cf, self.fast_name(cf.name), offset)
            self.add_info(cf, offset, nbytes, bits, first_bit)
            value = f"this[{cf.name!r}]"
            if self.unit.kind == "struct":  # left out when building: its default, or zero
                value = f"_or_default(this.get({cf.name!r}), {self.struct_default(cf)})"
            parts.append(f"(({value} & {mask:#x}) << {shift})" if shift
                         else f"({value} & {mask:#x})")
        rebuild = " | ".join(parts)
        con = f"_c.Rebuild({_int_construct(8 * nbytes, False, endian)}, lambda this: {rebuild})"
        cond = group[0].node.cond
        if cond is not None:  # a conditional chunk: all its fields are there, or none
            con = f"_c.If(lambda this: {self.cons()(cond)}, {con})"
        values = self.chunk_values(group)
        if values is not None:
            self.format_lines.append(values)
        self.format_lines.append(f'"{chunk}" / {con},')
        shift = total
        for cf in group:
            bits = cf.ftype.bits
            shift -= bits
            mask = (1 << bits) - 1
            value = f"(this.{chunk} >> {shift}) & {mask:#x}" if shift else \
                f"this.{chunk} & {mask:#x}"
            if cf.ftype.signed:
                value = f"_signed({value}, {bits})"
            if cond is not None:
                value = f"None if this.{chunk} is None else {value}"
            self.format_lines.append(f'"{cf.name}" / _c.Computed(lambda this: {value}),  '
                                     f"# {self.where(cf.node.pos)}")
            self.add_format_check(cf)
        seg.size += nbytes

    def chunk_values(self, group: list) -> str | None:
        """The ``ChunkValues`` line that goes before a struct's bit-field chunk when the
        chunk holds a length struct_lengths solves or an enum, so that building fills the
        one and takes the other by name, as ``Default`` and ``EnumInt`` do for byte-wide
        fields: a chunk is one ``Rebuild`` of all its fields (``reserved: u3; length: u5;``
        in Geneve's options, ``type: LLDPType; length: u9;``), which packs only what the
        context holds. None in layers (their relations fill lengths) and for chunks of
        plain numbers."""
        if self.unit.kind != "struct":
            return None
        solved = self.struct_lengths()
        entries = []
        for cf in group:
            enum = self.mod.ref(cf.ftype.enum) if cf.ftype.kind == "enum" else None
            solve = solved.get(cf.name)
            if enum is None and solve is None:
                continue
            entries.append(f"({cf.name!r}, {self.struct_default(cf)}, {enum}, "
                           f"{'None' if solve is None else f'lambda this: {solve}'})")
        if not entries:
            return None
        con = f"_ChunkValues({', '.join(entries)})"
        cond = group[0].node.cond
        if cond is not None:  # a conditional chunk: its values only when it is there
            con = f"_c.If(lambda this: {self.cons()(cond)}, {con})"
        return con + ","

    def struct_default(self, cf) -> str:
        """What a struct's scalar field is built as when the user leaves it out: the
        declared default (or ``==`` value), else zero (zero bytes for an address)."""
        t = cf.ftype
        if t.kind == "addr":
            return repr(bytes(t.bits // 8))
        value = cf.node.default if cf.node.default is not None else cf.node.check
        return self.fast_const(value) if value is not None else "0"

    def add_check(self, seg: Segment, cf, target: str, offset: int | None) -> None:
        if cf.node.check is None:
            return
        expected = self.fast()(cf.node.check)
        at = f"off + {offset}" if offset is not None else "p"
        seg.checks.append(f"if {target} != {expected}:")
        seg.checks.append(f"    raise self._fail({cf.name!r}, {at}, 'expected %r, got %r' % "
                          f"({expected}, {target}))")

    def add_format_check(self, cf) -> None:
        if cf.node.check is not None:
            self.format_lines.append(
                f"_c.Check(lambda this: this[{cf.name!r}] == {self.cons()(cf.node.check)}),")

    def where(self, pos) -> str:
        """file:line for a generated comment (the display name is escaped: see resolve)."""
        return f"{self.unit.file.display.rsplit('/', 1)[-1]}:{pos.line}"

    def add_info(self, cf, offset: int | None, size: int | None, bits: int | None,
                 bit: int | None = None) -> None:
        if self.unit.kind == "struct":
            return
        t = cf.ftype
        kind = {"addr": "address", "enum": "enum", "flags": "flags", "int": "int",
                "bytes": "address" if t.addr == "any" else "bytes"}.get(t.kind, "value")
        args = [repr(cf.name), repr(t.written or t.kind)]
        if t.kind == "enum":
            args.append(f"enum={self.mod.ref(t.enum)}")
        if t.kind == "flags":
            args.append(f"flags={self.flagset(cf)}")
        if bits is not None:
            args.append(f"bits={bits}")
        elif t.bits is not None:
            args.append(f"bits={t.bits}")
        if offset is not None:
            args.append(f"offset={offset}")
        if size is not None:
            args.append(f"size={size}")
        args.append(f"line={cf.node.pos.line}")
        if cf.node.doc:
            args.append(f"doc={cf.node.doc!r}")
        args.append(f"kind={kind!r}")
        if bit is not None:
            args.append(f"bit={bit}")
        self.infos.append(f"_FieldInfo({', '.join(args)}),")
        if t.kind == "flags":
            self.properties.append([
                "@property", f"def {cf.name}(self):",
                f"    v = self._{cf.name}",
                f"    return None if v is None else {self.flagset(cf)}(v)"])
        elif t.kind == "addr" or t.addr == "any":
            text = "_addr_text" if t.addr == "any" else f"_{t.addr}_text"
            self.properties.append([
                "@property", f"def {cf.name}(self):",
                f"    v = self._{cf.name}",
                f"    return None if v is None else {text}(v)"])

    def flagset(self, cf) -> str:
        return self.mod.flagset(self.unit.name, cf)

    # ---- variable parts ----
    def emit_variable(self, run: list) -> None:
        cf = run[0]
        t = cf.ftype
        if self.tail_can_start(t):
            self.start_tail()
        cond = self.fast()(cf.node.cond) if cf.node.cond is not None else None
        if cf.node.align is not None and cond is None:
            self.align_cursor(cf.node.align[0])
        self.part_offset = self.fixed_offset
        if t.is_scalar:
            self.emit_segment(run, cond)
            return
        measure = cf.name in self.sizeof_targets
        if cond is not None or measure:  # both branches must leave the cursor in p
            self.mark_p(self.position())
        lines_before = len(self.lines)
        if cf.node.align is not None and cond is not None:
            self.lines.append(f"p += (off - p) % {cf.node.align[0]}")
        if measure:  # sizeof(name): the bytes from here to where the part ends
            self.lines.append(f"z_{cf.name} = p")
            self.format_lines.append(f'"_s_{cf.name}" / _c.Tell,')
        if t.kind == "bytes":
            self.emit_bytes(cf)
        else:
            self.emit_complex(cf)
        if measure:
            self.mark_p(self.position())
            self.lines.append(f"z_{cf.name} = p - z_{cf.name}")
        if cond is not None:
            body = self.lines[lines_before:]
            del self.lines[lines_before:]
            self.lines.append(f"if {cond}:")
            self.lines.extend("    " + ln for ln in body)
            self.lines.append("else:")
            self.lines.append(f"    self.{self.slots[-1]} = None")
            if measure:
                self.lines.append(f"    z_{cf.name} = 0")
        self.decoded.add(cf.name)
        if t.kind != "bytes":
            self.add_format_check(cf)
        if measure:
            self.format_lines.append(f'"_e_{cf.name}" / _c.Tell,')

    def limit(self) -> str:
        """Where a part that runs to the end stops: the header's end once known, else the
        layer's end less its trailer's fixed size (``bytes[]`` before ``trailer { crc:
        u16; }`` leaves the CRC to the trailer)."""
        if self.hend_ready:
            return "hend"
        size = self.trailer_size()
        return f"(end - {size})" if size != "0" else "end"

    def trailer_size(self) -> str:
        """The trailer's size in bytes, as code: a number, plus ``(4 if cond else 0)`` for
        each field that is there only when a header field says so ("0": no trailer)."""
        if self.unit.kind != "layer":
            return "0"
        fixed = sum(cf.ftype.bits for cf in self.unit.trailer if cf.node.cond is None) // 8
        parts = [str(fixed)] if fixed else []
        parts += [f"({cf.ftype.bits // 8} if {self.fast()(cf.node.cond)} else 0)"
                  for cf in self.unit.trailer if cf.node.cond is not None]
        if not parts:
            return "0"
        return parts[0] if len(parts) == 1 else f"({' + '.join(parts)})"

    def trailer_fits(self, start: str) -> list[str]:
        """Lines that raise when the trailer, starting at start (absolute), does not fit
        before end: the error names its first field and the bytes it needs."""
        size = self.trailer_size()
        first = self.unit.trailer[0].name
        return [f"if {start} + {size} > end:",
                f"    raise _trailer_cut(self.name, {first!r}, off, {start} - off, {size}, "
                "end - off)"]

    def emit_bytes(self, cf) -> None:
        t = cf.ftype
        if t.addr == "any":  # addr[n]: stored as bytes (a flow key), shown as text
            self.emit_sized_address(cf)
            return
        self.slots.append(cf.name)
        pos = self.position()
        self.mark_p(pos)
        self.p_is_hend = False
        if t.delimiter is not None:
            term = t.delimiter
            self.lines += [f"i = _find(buf, {term!r}, p, {self.limit()})",
                           "if i < 0:",
                           f"    raise self._unterminated({cf.name!r}, p, {term!r})",
                           f"self.{cf.name} = buf[p:i]",
                           f"p = i + {len(term)}"]
        elif t.size is None:
            if self.limit() == "hend":  # the rest of the header: it must not end before p
                self.lines += ["if hend < p:",
                               "    raise self._fail('header', off, 'header length %d is "
                               "shorter than its fields' % (hend - off))"]
            if self.limit() != "hend" and self.trailer_size() != "0":
                self.lines += self.trailer_fits("p")
            self.lines.append(f"self.{cf.name} = buf[p:{self.limit()}]")
            self.lines.append(f"p = {self.limit()}")
            self.p_is_hend = self.limit() == "hend"
        else:
            n = self.fast()(t.size)
            self.lines += [f"n = {n}",
                           "if n < 0:",
                           f"    raise self._fail({cf.name!r}, p, 'negative length %d' % n)",
                           f"if p + n > {self.limit()}:",
                           "    raise self._truncated(buf, off, end)",
                           f"self.{cf.name} = buf[p:p + n]",
                           "p += n"]
        cons = self.to_header_end(cf, self.construct_of(t), "_c.GreedyBytes")
        self.format_lines.append(self.cond_wrap(cf, f'"{cf.name}" / {cons}'))
        self.add_format_check(cf)
        self.add_info(cf, None, None, None)

    def to_header_end(self, cf, con: str, measure: str) -> str:
        """A part that runs to the end (``bytes[]``, ``T[]``) once the header's end is known
        stops there in the fast decoder (``buf[p:hend]``), so FORMAT must stop it there too,
        not take the payload with it.

        At a fixed offset k, with a header the builder can compute, that is construct's
        FixedSized of the header length minus k (the shape of IPv4's ``options ... size
        ihl * 4 - 20``: the builder measures the part without it, then pads to the header
        length). Elsewhere (after variable parts, or a header of ``remaining`` or of a
        ``let``) the size is the header's end less the stream's position, while parsing;
        while building the part is measured (``measure`` builds it unbounded), so the
        FixedSized writes it as it is and the builder pads the header.
        """
        t = cf.ftype
        h = self.unit.header
        if self.unit.kind != "layer" or h is None or not self.hend_ready or \
                not t.to_end or t.sized is not None or (t.kind == "bytes" and t.bits is not None):
            return con
        end = self.cons()(h)
        k = self.part_offset
        known = {f.name for f in self.unit.fields} | set(self.mod.checked.consts)
        if k is not None and names_in(h) <= known:
            size = f"{end} - {k}" if k else end
        else:
            size = (f"{end} - _c.stream_tell(this._io, None) if this._parsing "
                    f"else _built_size({measure}, this.get({cf.name!r}), this)")
        return f"_c.FixedSized(lambda this: {size}, {con})"

    def emit_sized_address(self, cf) -> None:
        """``addr[n]``: n bytes kept as bytes in ``_name`` (bytes even from a memoryview, so
        that flows can key on them), read through a property as text."""
        self.slots.append(f"_{cf.name}")
        self.mark_p(self.position())
        self.p_is_hend = False
        self.lines.append(f"n = {self.fast()(cf.ftype.size)}")
        if not self.non_negative(cf.ftype.size):
            self.lines += ["if n < 0:",
                           f"    raise self._fail({cf.name!r}, p, 'negative length %d' % n)"]
        self.lines += [f"if p + n > {self.limit()}:",
                       "    raise self._truncated(buf, off, end)",
                       f"self._{cf.name} = bytes(buf[p:p + n])",
                       "p += n"]
        cons = self.construct_of(cf.ftype)
        self.format_lines.append(self.cond_wrap(cf, f'"{cf.name}" / {cons}'))
        self.add_format_check(cf)
        self.add_info(cf, None, None, None)

    def mark_p(self, pos: str) -> None:
        if pos != "p":
            self.lines.append(f"p = {pos}")
            self.fixed_offset = None
        self.uses_p = True

    def emit_complex(self, cf) -> None:
        """Arrays, structs, switches, externs: construct decodes them, lazily when it can."""
        t = cf.ftype
        if self.unit.kind == "struct":  # structs are decoded by construct alone
            self.format_lines.append(self.cond_wrap(cf, f'"{cf.name}" / {self.construct_of(t)}'))
            self.slots.append(f"_{cf.name}")
            return
        fmt = self.mod.field_format(self.unit, cf, self.construct_of(t, bounded=False))
        span_size = t.sized if t.sized is not None else t.array_size
        rest_of_header = span_size is not None and self.is_rest_of_header(span_size)
        pos = self.position()
        self.mark_p(pos)
        self.slots.append(f"_{cf.name}")
        if rest_of_header:
            span_size = None  # `size header - k` at offset k: the same as to the header's end
        if span_size is not None or rest_of_header or (t.kind == "array" and t.to_end):
            if span_size is not None:
                n = self.fast()(span_size)
                self.lines += [f"n = {n}",
                               "if n < 0:",
                               f"    raise self._fail({cf.name!r}, p, 'negative size %d' % n)",
                               f"if p + n > {self.limit()}:",
                               "    raise self._truncated(buf, off, end)"]
                stop = "p + n"
            else:
                stop = self.limit()
                if stop == "hend":  # the rest of the header: it must not end before p
                    self.lines += ["if hend < p:",
                                   "    raise self._fail('header', off, 'header length %d is "
                                   "shorter than its fields' % (hend - off))"]
                elif self.trailer_size() != "0":
                    self.lines += self.trailer_fits("p")
            self.lines.append(f"self._{cf.name} = (p, {stop})")
            self.lines.append(f"p = {stop}")
            self.p_is_hend = stop == "hend"
            return self.finish_complex(cf, fmt, t)
        else:
            self.eager = self.main_lines is None
            parse = f"_parse_at({fmt}, self, {cf.name!r}, buf, p, {self.limit()})"
            if self.main_lines is None:
                self.lines.append(f"self._{cf.name}, p = {parse}")
            else:  # in _decode_tail: a part already read (or set by the user) is kept
                self.lines += [f"value, p = {parse}",
                               f"if self._{cf.name} is ...:",
                               f"    self._{cf.name} = value"]
        self.p_is_hend = False
        self.finish_complex(cf, fmt, t)

    def is_rest_of_header(self, size: ast.Expr) -> bool:
        """True when size is the header length minus the constant offset of the cursor (an
        options field: `size ihl * 4 - 20`), so the span is (p, hend) with no arithmetic."""
        if not self.hend_ready or self.fixed_offset is None or self.unit.header is None:
            return False
        fx = self.fast()
        return fx(size) == f"({fx(self.unit.header)} - {self.fixed_offset})"

    def finish_complex(self, cf, fmt: str, t: FieldType) -> None:
        """The property, FORMAT line and FieldInfo of a variable part."""
        if self.main_lines is not None:
            self.tail_fields.append(cf.name)
            self.properties.append([
                "@property", f"def {cf.name}(self):",
                f"    if self._{cf.name} is ...:",
                f"        self._decode_tail({cf.name!r})",
                f"    return _lazy_value(self, {cf.name!r}, {fmt})"])
        else:
            self.properties.append([
                "@property", f"def {cf.name}(self):",
                f"    return _lazy_value(self, {cf.name!r}, {fmt})"])
        con = self.to_header_end(cf, self.construct_of(t), fmt)
        self.format_lines.append(self.cond_wrap(cf, f'"{cf.name}" / {con}'))
        self.add_info(cf, None, None, None)

    def tail_can_start(self, t: FieldType) -> bool:
        """A part construct must parse to find its end (an array by count, a struct) is left
        for later, with every field after it, when nothing else needs those ends: the header's
        end is already known and only such variable parts follow (DNS's four sections)."""
        if self.unit.kind != "layer" or not self.hend_ready or self.main_lines is not None:
            return False
        if self.sizeof_targets:  # what sizeof measures is kept in locals of _decode
            return False
        if t.kind not in ("array", "struct", "switch", "extern"):
            return False
        if t.sized is not None or t.array_size is not None or (t.kind == "array" and t.to_end):
            return False  # a span costs nothing: no need to defer it
        rest = self.members[self.index:]
        return all(hasattr(m, "ftype") and m.ftype.kind in ("array", "struct", "switch", "extern")
                   for m in rest)

    def start_tail(self) -> None:
        """From here on, lines go to _decode_tail; _decode marks the fields as not decoded."""
        self.mark_p(self.position())
        rest = [m.name for m in self.members[self.index:]]
        self.lines.append("self._at_tail = p")
        self.lines += [f"self._{name} = ..." for name in rest]
        self.slots.append("_at_tail")
        self.main_lines = self.lines
        self.lines = []

    def cond_wrap(self, cf, item: str) -> str:
        if cf.node.cond is None:
            return item + f",  # {self.where(cf.node.pos)}"
        name, cons = item.split(" / ", 1)
        return (f"{name} / _c.If(lambda this: {self.cons()(cf.node.cond)}, {cons}),  "
                f"# {self.where(cf.node.pos)}")

    def construct_of(self, t: FieldType, bounded: bool = True) -> str:
        cx = self.cons()
        if t.sized is not None:
            inner = self.construct_of(_unsized(t), bounded)
            if not bounded:
                return inner
            return f"_c.FixedSized(lambda this: {cx(t.sized)}, {inner})"
        if t.kind == "enum" and self.unit.kind == "struct":
            # inside structs construct is the only decoder: show enum names (values stay ints)
            return f"_EnumInt({_int_construct(t.bits, t.signed, t.endian)}, {self.mod.ref(t.enum)})"
        if t.kind in ("int", "enum", "flags"):
            return _int_construct(t.bits, t.signed, t.endian)
        if t.kind == "addr":
            if self.unit.kind == "struct":  # as text, like a layer's address fields
                return f"_AddressText(_c.Bytes({t.bits // 8}), {t.addr!r})"
            return f"_c.Bytes({t.bits // 8})"
        if t.kind == "bytes":
            if t.delimiter is not None:
                return f"_Delimited({t.delimiter!r})"
            if t.bits is not None:
                return f"_c.Bytes({t.bits // 8})"
            if t.size is None:
                con, zeros = "_c.GreedyBytes", "b''"
            else:
                size = cx(t.size)
                con, zeros = f"_c.Bytes(lambda this: {size})", f"lambda this: bytes({size})"
                if t.addr == "any" and self.unit.kind == "struct":  # as text, like layers
                    con = f"_AddressText({con}, 'any')"
            if self.unit.kind == "struct":  # left out when building: empty, or zeros
                return f"_c.Default({con}, {zeros})"
            return con
        if t.kind == "struct":
            ref = self.mod.struct_ref(t.struct)
            if not t.args:
                return ref
            params = self.mod.struct_params(t.struct)
            kw = ", ".join(f"{p}=lambda this: {cx(a)}" for p, a in zip(params, t.args,
                                                                          strict=True))
            return f"_Params({ref}, {kw})"
        if t.kind == "extern":
            return f"_extern({t.extern!r})"
        if t.kind == "switch":
            cases, default = [], "_c.Pass"
            for values, sub in t.cases:
                if values is None:
                    default = self.construct_of(sub)
                    continue
                for v in values:
                    cases.append((self.mod.const_int(v), self.construct_of(sub)))
            table = ", ".join(f"{k!r}: {v}" for k, v in sorted(cases))
            return f"_c.Switch(lambda this: {cx(t.selector)}, {{{table}}}, default={default})"
        if t.kind == "array":
            elem = self.construct_of(t.element)
            if t.count is not None:
                return f"_c.Array(lambda this: {cx(t.count)}, {elem})"
            if t.until is not None:
                return f"_RepeatUntil(lambda obj, lst, this: {cx(t.until)}, {elem})"
            if t.array_size is not None and bounded:
                return (f"_c.FixedSized(lambda this: {cx(t.array_size)}, "
                        f"_GreedyRange({elem}))")
            return f"_GreedyRange({elem})"
        raise TypeError(t.kind)  # pragma: no cover

    def emit_let(self, m: ast.Let) -> None:
        self.slots.append(m.name)
        self.lines.append(f"self.{m.name} = {self.fast()(m.expr)}")
        self.format_lines.append(f'"{m.name}" / _c.Computed(_let(lambda this: {self.cons()(m.expr)})),'
                                 f"  # {self.where(m.pos)}")
        self.infos.append(f"_FieldInfo({m.name!r}, 'let', line={m.pos.line}, kind='let'),")
        self.decoded.add(m.name)

    def emit_requires(self, m: ast.Requires) -> None:
        message = m.message or "requirement failed"
        self.lines += [f"if not {self.fast()(m.expr)}:",
                       f"    raise self._fail('requires', off, {message!r})"]
        self.format_lines.append(f"_c.Check(lambda this: {self.cons()(m.expr)}),")

    # ---- boundaries and dispatch ----
    def maybe_header(self) -> None:
        h = self.unit.header
        if self.unit.kind != "layer" or h is None or self.hend_ready:
            return
        if names_in(h) <= self.decoded | set(self.mod.checked.consts) | {"remaining"}:
            self.remaining = "(end - off)"  # in a header: all the bytes the layer was given
            size = self.fast()(h)
            if size == "0":  # an empty header (Payload): nothing to check
                self.lines.append("hend = off")
            else:
                self.lines += [f"hend = off + {size}",
                               "if hend > end:",
                               "    raise self._truncated(buf, off, end)"]
            self.remaining = "(end - hend)"
            self.hend_ready = True

    def emit_bounds(self) -> None:
        unit = self.unit
        if self.main_lines is not None:  # the tail is planned: back to _decode
            self.tail = self.lines
            self.lines = self.main_lines
        if not self.hend_ready:
            self.lines.append(f"hend = {self.position()}")
        elif (self.uses_p or self.fixed_offset) and not self.p_is_hend:
            self.lines += [f"if hend < {self.position()}:",
                           "    raise self._fail('header', off, 'header length %d is shorter "
                           "than its fields' % (hend - off))"]
        trailer = self.trailer_size() if unit.trailer else None
        if unit.payload is not None:
            self.lines.append(f"pend = hend + {self.fast()(unit.payload)}")
            if not self.non_negative(unit.payload):
                self.lines += ["if pend < hend:",
                               "    raise self._fail('payload', off, 'payload length %d is "
                               "negative' % (pend - hend))"]
            self.lines += ["if pend > end:", "    pend = end"]
        elif trailer is not None:  # the payload is what is left before the trailer
            self.lines += self.trailer_fits("hend")
            self.lines.append(f"pend = end - {trailer}")
        else:
            self.lines.append("pend = end")
        if trailer is not None:
            self.emit_trailer()
        self.lines += ["self._buf = buf", "self._off = off", "self._hend = hend",
                       "self._pend = pend", "self._end = end"]
        self.lines += self.next_lines()

    def emit_trailer(self) -> None:
        """The trailer's fields, read at the payload's end (``trailer { crc: u16le; }``),
        and TRAILER, their construct (parsed from ``layer.trailer``)."""
        if self.unit.payload is not None:  # (else pend is end less the trailer already)
            self.lines += self.trailer_fits("pend")
        self.lines.append("p = pend")
        self.fixed_offset = None
        header_format, self.format_lines = self.format_lines, self.trailer_lines
        self.in_trailer = True
        fields = self.unit.trailer
        i = 0
        while i < len(fields):  # runs of one byte order, as in the header
            if fields[i].node.cond is not None:  # there when a header field says so
                self.emit_segment([fields[i]], self.fast()(fields[i].node.cond))
                i += 1
                continue
            run = [fields[i]]
            while i + 1 < len(fields) and fields[i + 1].ftype.endian == run[0].ftype.endian \
                    and fields[i + 1].node.cond is None:
                i += 1
                run.append(fields[i])
            self.emit_segment(run)
            i += 1
        self.in_trailer = False
        self.format_lines = header_format

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

    def next_lines(self) -> list[str]:
        nxt = self.unit.next
        if nxt is None:
            return ["return None"]
        if isinstance(nxt, ast.NextFixed):
            return [f"return {self.mod.ref(nxt.layer)}"]
        out = []
        fx = self.fast()
        if nxt.unless is not None:
            instead = self.mod.ref(nxt.instead) if nxt.instead is not None else "None"
            out += [f"if {fx(nxt.unless)}:", f"    return {instead}"]
        table = self.mod.table(self.unit.next_table)
        values = [fx(e) for e in nxt.exprs]
        gets = " or ".join(f"{table}.get({v})" for v in values)
        # A hit in a table without guards returns at once; guards and heuristics (rare)
        # are looked at only when the table has them.
        out += [f"nxt = {gets}",
                "if nxt is None:",
                f"    if {table}.heuristics:",
                f"        nxt = {table}.lookup(None, buf, hend, pend)",
                f"elif {table}.guarded and nxt._guard is not None \\",
                "        and not nxt._guard(buf, hend, pend):",
                f"    nxt = {table}.lookup(None, buf, hend, pend) if {table}.heuristics else None",
                "return nxt"]
        return out

    def flow_lines(self) -> list[str]:
        """The ``flow`` property: the endpoint type's shared flow for the two fields
        (EndpointType.flow), looked up inline because most packets hit the cache."""
        flow = self.unit.flow
        if flow is None:
            return []
        cf = self.unit.field(flow.src)
        t = cf.ftype
        if t.kind == "addr":
            ep = self.mod.endpoint(_ADDR_ENDPOINT[t.addr], t.addr)
            key = f"(self._{flow.src}, self._{flow.dst})"
        elif t.addr == "any":  # addr[n]: bytes already
            ep = self.mod.endpoint(self.unit.name, "addr")
            key = f"(self._{flow.src}, self._{flow.dst})"
        elif t.kind in ("int", "enum"):
            ep = self.mod.endpoint(f"{self.unit.name} port", "int")
            key = f"(self.{flow.src}, self.{flow.dst})"
        else:  # bytes: a memoryview (copy=False) is no dict key
            ep = self.mod.endpoint(self.unit.name, "bytes")
            key = f"(bytes(self.{flow.src}), bytes(self.{flow.dst}))"
        absent = [f"self.{self.slot_name(self.unit.field(n))} is None" for n in
                  (flow.src, flow.dst) if self.unit.field(n).node.cond is not None]
        check = [f"    if {' or '.join(absent)}:", "        return None"] if absent else []
        # an end that is a conditional field left out (802.11's ACK has no transmitter):
        # no flow
        return ["@property", "def flow(self):", *check,
                f"    key = {key}",
                f"    return {ep}.flows.get(key) or {ep}.flow(key)"]

    def payload_wanted_lines(self) -> list[str]:
        """``_payload_wanted``: where the length fields put the payload's end, read again
        from the stored fields, so that ``payload_missing`` can tell a payload cut short by
        the capture without a store on the decode path. [] when the layer's payload has no
        length expression, or one that reads what only _decode holds (sizeof, payload[i])."""
        if self.unit.kind != "layer" or self.unit.payload is None:
            return []
        unsupported = []

        def name(n: str) -> str:
            if n in getattr(self.unit.node, "params", ()):
                unsupported.append(n)
                return "None"
            cf = self.unit.field(n)
            if cf is not None:
                return f"self.{self.slot_name(cf)}"
            if any(isinstance(m, ast.Let) and m.name == n for m in self.unit.members):
                return f"self.{n}"
            if n == "remaining":
                return "(self._end - self._hend)"
            return self.mod.global_name(n)

        def call(e: ast.Call) -> str | None:
            arg = e.args[0].name if e.func in ("len", "sizeof") and \
                isinstance(e.args[0], ast.Name) else None
            if arg == "header" and self.unit.field("header") is None:
                return "(self._hend - self._off)"
            if e.func == "sizeof":
                unsupported.append(e.func)
                return "None"
            return None

        def index(e: ast.Index) -> str | None:
            unsupported.append("index")
            return "None"

        px = PyExpr(name, lambda e: self.member_attr(px, name, e), index, call)
        text = px(self.unit.payload)
        if unsupported:
            return []
        return ["def _payload_wanted(self):",
                '    """The payload end that the length fields announce."""',
                f"    return self._hend + {text}"]

    @staticmethod
    def slot_name(cf) -> str:
        return f"_{cf.name}" if cf.ftype.kind in ("flags", "addr") or cf.ftype.addr == "any" \
            else cf.name

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
            trailer_lines=self.trailer_lines,
            guard=self.mod.guard(self.unit) if self.unit.kind == "layer" else "None")


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
    nxt = unit.next
    if isinstance(nxt, ast.NextBy):
        exprs += [*nxt.exprs, nxt.unless]
    names: set[str] = set()
    for e in exprs:
        names |= names_in(e)
    return names


def _sizeof_targets(unit: Unit) -> set[str]:
    """The fields of a unit that a ``sizeof(x)`` names, in any of its expressions."""
    exprs: list = [unit.header, unit.payload]
    for m in unit.node.members:
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
        if isinstance(e, ast.Call):
            if e.func == "sizeof" and e.args and isinstance(e.args[0], ast.Name) and \
                    unit.field(e.args[0].name) is not None:
                out.add(e.args[0].name)
            stack.extend(e.args)
        elif isinstance(e, ast.BinOp):
            stack += [e.left, e.right]
        elif isinstance(e, ast.UnaryOp):
            stack.append(e.operand)
        elif isinstance(e, ast.Cond):
            stack += [e.test, e.then, e.other]
        elif isinstance(e, ast.Index):
            stack += [e.obj, e.index]
        elif isinstance(e, ast.Attr):
            stack.append(e.obj)
    return out


def _unsized(t: FieldType) -> FieldType:
    return replace(t, sized=None)
