"""Phase 3, one layer's plan: fixed-size fields, read with one ``struct`` unpack per run.

A run of scalar fields of one byte order becomes a ``struct.Struct`` format and one
``unpack_from``; bit fields share byte-aligned chunks and are cut out with shifts and masks;
fields later expressions read also go to locals. Here too are the decoder's cursor (a
constant offset while it can be, else ``p``) and each field's FieldInfo and properties, which
the variable parts reuse. A mixin of layout.UnitPlanner.
"""

from __future__ import annotations

from pktspec.generator.construct_format import _int_construct
from pktspec.generator.model import Segment

_STRUCT_CODES = {1: "B", 2: "H", 4: "I", 8: "Q"}


class ScalarSegments:
    """Scalar runs, bit-field chunks and the cursor of one layer (mixed into UnitPlanner)."""

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
        # a run at a fixed offset is found by its offset; one after a variable part or under
        # a condition is named here, with where it starts
        cut = "self._truncated(buf, off, end)" if pos.startswith("off") and cond is None \
            else f"self._truncated(buf, off, end, {pos}, {run[0].name!r}, {seg.size})"
        body = [*align_lines, guard, f"    raise {cut}",
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

    def mark_p(self, pos: str) -> None:
        if pos != "p":
            self.lines.append(f"p = {pos}")
            self.fixed_offset = None
        self.uses_p = True

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
        if t.kind == "flags" and self.unit.kind == "struct":  # shown by name, as in layers
            con = f"_FlagsInt({con}, {self.flagset(cf)})"
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
            if self.unit.kind == "struct" or cf.node.cond is not None:
                # left out when building (a struct's field, or a conditional chunk's mate of
                # a field given): its default, or zero
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
            if cf.ftype.kind == "enum" and self.unit.kind == "struct":
                # construct is a struct's only decoder: the value with its enum name, as
                # EnumInt gives byte-wide enum fields (values stay ints)
                value = f"{self.mod.ref(cf.ftype.enum)}({value})"
            elif cf.ftype.kind == "flags" and self.unit.kind == "struct":
                value = f"{self.flagset(cf)}({value})"  # by name, as FlagsInt gives them
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
            enum = self.mod.ref(cf.ftype.enum) if cf.ftype.kind == "enum" else \
                self.flagset(cf) if cf.ftype.kind == "flags" else None
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
