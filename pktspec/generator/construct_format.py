"""Phase 3, one layer's plan: the construct ``FORMAT`` lines of its fields.

Every field also gets a construct description, the reference the fast decoder is tested
against and what structs and builders use: the construct of a field type, its condition, its
check, its source comment, and the offset FORMAT keeps from the layer's values so that
``align N`` can pad. Kept apart from the fast path because FORMAT sees the fields through
``this``, not through the buffer. A mixin of layout.UnitPlanner.
"""

from __future__ import annotations

from dataclasses import replace

from pktspec.generator.check import element_bytes
from pktspec.generator.types import FieldType


def _int_construct(bits: int, signed: bool, endian: str) -> str:
    if bits in (8, 16, 24, 32, 64):
        letter = "s" if signed else "u"
        order = "b" if endian == "big" or bits == 8 else "l"
        return f"_c.Int{bits}{letter}{order}"
    swapped = endian == "little"
    return f"_c.BytesInteger({bits // 8}, signed={signed!r}, swapped={swapped!r})"


class ConstructFormat:
    """The construct FORMAT of one layer's fields (mixed into UnitPlanner)."""

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

    def add_format_check(self, cf) -> None:
        if cf.node.check is not None:
            self.format_lines.append(
                f"_c.Check(lambda this: this[{cf.name!r}] == {self.cons()(cf.node.check)}),")

    def where(self, pos) -> str:
        """file:line for a generated comment (the display name is escaped: see resolve)."""
        return f"{self.unit.file.display.rsplit('/', 1)[-1]}:{pos.line}"

    def cond_wrap(self, cf, item: str) -> str:
        if cf.node.cond is None:
            return item + f",  # {self.where(cf.node.pos)}"
        name, cons = item.split(" / ", 1)
        return (f"{name} / _c.If(lambda this: {self.cons()(cf.node.cond)}, {cons}),  "
                f"# {self.where(cf.node.pos)}")

    def construct_of(self, t: FieldType, bounded: bool = True, element: bool = False) -> str:
        """The construct of a part of type t; element: an array's item (in a layer too,
        construct is then the only decoder, as everywhere in a struct)."""
        cx = self.cons()
        only_construct = element or self.unit.kind == "struct"
        if t.sized is not None:
            inner = self.construct_of(_unsized(t), bounded, element)
            if not bounded:
                return inner
            return f"_c.FixedSized(lambda this: {cx(t.sized)}, {inner})"
        if t.kind == "enum" and only_construct:
            # where construct is the only decoder: show enum names (values stay ints)
            return f"_EnumInt({_int_construct(t.bits, t.signed, t.endian)}, {self.mod.ref(t.enum)})"
        if t.kind in ("int", "enum", "flags"):
            return _int_construct(t.bits, t.signed, t.endian)
        if t.kind == "addr":
            if only_construct:  # as text, like a layer's address fields
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
            elem = self.construct_of(t.element, element=True)
            if t.until is not None:  # (an unset one builds as its terminator)
                return f"_RepeatUntil(lambda obj, lst, this: {cx(t.until)}, {elem})"
            if t.count is not None:
                con = f"_c.Array(lambda this: {cx(t.count)}, {elem})"
            elif t.array_size is not None and bounded:
                con = (f"_c.FixedSized(lambda this: {cx(t.array_size)}, "
                       f"_GreedyRange({elem}))")
            else:
                con = f"_GreedyRange({elem})"
            if self.unit.kind == "struct" and not element:  # left out when building: empty
                return f"_c.Default({con}, [])"
            return con
        raise TypeError(t.kind)  # pragma: no cover


def _unsized(t: FieldType) -> FieldType:
    return replace(t, sized=None)
