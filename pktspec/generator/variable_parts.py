"""Phase 3, one layer's plan: the parts whose size the bytes decide.

Byte strings (sized, delimited, to the end), ``addr[n]``, arrays, structs, switches and
externs, conditional or aligned, and the lazily decoded tail: a part construct must parse to
find its end is kept as a byte span and decoded on first access, and when only such parts
are left they all go to ``_decode_tail``. Kept apart from segments.py because each of these
moves the cursor at run time and must stop where the header, or the trailer, begins. A mixin
of layout.UnitPlanner.
"""

from __future__ import annotations

from pktspec.generator.pyexpr import names_in
from pktspec.generator.types import FieldType
from pktspec.grammar import ast


class VariableParts:
    """The variable-size parts of one layer (mixed into UnitPlanner)."""

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
        u16; }`` leaves the CRC to the trailer). While a trailer field's ``if`` reads a field
        not decoded yet, its size is not known: a sized part is then bounded by the layer's
        end, and a trailer it runs into is left out as cut (a part that runs to the end
        needs the size: the checker asks for ``header =`` there)."""
        if self.hend_ready:
            return "hend"
        unknown = set().union(*(names_in(cf.node.cond) for cf in self.unit.trailer)) \
            - self.decoded - set(self.mod.checked.consts) - set(self.mod.checked.enums)
        if unknown:
            return "end"
        size = self.trailer_size()
        return f"(end - {size})" if size != "0" else "end"

    def sized_limit(self) -> str:
        """What a sized part (``bytes[n]``, ``T[] size n``) must fit in: the header's end once
        known, else the layer's end. A part that runs into the trailer's bytes leaves the
        trailer cut (emit_trailer), as a frame cut by the capture does, rather than costing
        the layer."""
        return "hend" if self.limit() == "hend" else "end"

    def rest_stop(self) -> str:
        """Where a part that runs to the end stops (limit()), with the lines that make a
        layer cut before its trailer ends keep the bytes there in the part (the trailer is
        then left out: see emit_trailer) rather than end before the part begins."""
        stop = self.limit()
        if stop in ("hend", "end"):
            return stop
        self.lines += [f"tend = {stop}",
                       "if tend < p:  # cut before its trailer ends: the part keeps the rest",
                       "    tend = end"]
        return "tend"

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
            stop = self.rest_stop()
            self.lines.append(f"self.{cf.name} = buf[p:{stop}]")
            self.lines.append(f"p = {stop}")
            self.p_is_hend = stop == "hend"
        else:
            n = self.fast()(t.size)
            self.lines += [f"n = {n}",
                           "if n < 0:",
                           f"    raise self._fail({cf.name!r}, p, 'negative length %d' % n)",
                           f"if p + n > {self.sized_limit()}:",
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
        self.lines += [f"if p + n > {self.sized_limit()}:",
                       "    raise self._truncated(buf, off, end)",
                       f"self._{cf.name} = bytes(buf[p:p + n])",
                       "p += n"]
        cons = self.construct_of(cf.ftype)
        self.format_lines.append(self.cond_wrap(cf, f'"{cf.name}" / {cons}'))
        self.add_format_check(cf)
        self.add_info(cf, None, None, None)

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
                               f"if p + n > {self.sized_limit()}:",
                               "    raise self._truncated(buf, off, end)"]
                stop = "p + n"
            else:
                if self.limit() == "hend":  # the rest of the header: it must not end before p
                    self.lines += ["if hend < p:",
                                   "    raise self._fail('header', off, 'header length %d is "
                                   "shorter than its fields' % (hend - off))"]
                stop = self.rest_stop()
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
