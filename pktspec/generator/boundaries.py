"""Phase 3, one layer's plan: where its header, payload and trailer end, and what comes next.

The header's end as soon as its expression can be computed, the payload's end, the trailer
read at the payload's end (and its own TRAILER format), then the next-layer dispatch that
ends ``_decode``, the ``flow`` property and ``_payload_wanted``. These are the layer-level
lines that read the fields the other mixins laid out. A mixin of layout.UnitPlanner.
"""

from __future__ import annotations

from pktspec.generator.pyexpr import PyExpr, names_in
from pktspec.grammar import ast

_ADDR_ENDPOINT = {"mac": "MAC", "ipv4": "IPv4", "ipv6": "IPv6"}


class LayerBoundaries:
    """Bounds, trailer, dispatch and flow of one layer (mixed into UnitPlanner)."""

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
        elif trailer is None:  # (else the trailer's lines set it)
            self.lines.append("pend = end")
        if trailer is not None:
            self.emit_trailer(trailer)
        self.lines += ["self._buf = buf", "self._off = off", "self._hend = hend",
                       "self._pend = pend", "self._end = end"]
        self.lines += self.next_lines()

    def emit_trailer(self, size: str) -> None:
        """The trailer's fields, read at the payload's end (``trailer { crc: u16le; }``),
        and TRAILER, their construct (parsed from ``layer.trailer``). Without a payload
        length the payload is what is left before the trailer. A layer cut before its
        trailer ends is still decoded: its trailer fields are None, the payload keeps the
        bytes that are there, and ``payload_missing`` counts the trailer bytes missing."""
        if not size.isdigit():  # (4 if flags.fcs else 0): worked out once
            self.lines.append(f"tsize = {size}")
            size = "tsize"
        start = "hend" if self.unit.payload is None else "pend"
        fields = self.unit.trailer
        self.lines.append(f"if {start} + {size} > end:  # cut before its trailer ends")
        if self.unit.payload is None:
            self.lines.append("    pend = end")
        self.lines += [f"    self.{self.slot_name(cf)} = None" for cf in fields]
        self.lines.append("else:")
        outer, self.lines = self.lines, []
        if self.unit.payload is None:
            self.lines.append(f"pend = end - {size}")
        self.lines.append("p = pend")
        self.fixed_offset = None
        header_format, self.format_lines = self.format_lines, self.trailer_lines
        self.in_trailer = True
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
        outer += ["    " + line for line in self.lines]
        self.lines = outer

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

    def next_lines(self) -> list[str]:
        """The end of _decode: each next rule, those with `if cond` tried in order."""
        rules = self.unit.nexts
        out: list[str] = []
        for rule, table in rules:
            lines = self.rule_lines(rule, table)
            if rule.when is None:
                return out + lines
            out += [f"if {self.fast()(rule.when)}:", *("    " + line for line in lines)]
        return [*out, "return None"]

    def rule_lines(self, nxt: ast.NextFixed | ast.NextBy, table_name: str | None) -> list[str]:
        """One next rule: a fixed layer, or a lookup in its table (guards, heuristics)."""
        if isinstance(nxt, ast.NextFixed):
            return [f"return {self.mod.ref(nxt.layer)}"]
        out = []
        fx = self.fast()
        if nxt.unless is not None:
            instead = self.mod.ref(nxt.instead) if nxt.instead is not None else "None"
            out += [f"if {fx(nxt.unless)}:", f"    return {instead}"]
        table = self.mod.table(table_name)
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
                f"    nxt = {table}.refused(({', '.join(values)},), nxt, buf, hend, pend)",
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
        """``_payload_wanted``: where the length fields put the layer's end (the payload's,
        then the trailer's), read again from the stored fields, so that ``payload_missing``
        can tell a layer cut short by the capture without a store on the decode path. []
        when the layer has neither a payload length nor a trailer, or a length that reads
        what only _decode holds (sizeof, payload[i])."""
        if self.unit.kind != "layer" or (self.unit.payload is None and not self.unit.trailer):
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
        parts = [px(self.unit.payload)] if self.unit.payload is not None else []
        fixed = sum(cf.ftype.bits for cf in self.unit.trailer if cf.node.cond is None) // 8
        parts += [str(fixed)] if fixed else []
        parts += [f"({cf.ftype.bits // 8} if {px(cf.node.cond)} else 0)"
                  for cf in self.unit.trailer if cf.node.cond is not None]
        if unsupported:
            return []
        what = "layer end that the length fields and the trailer" if self.unit.trailer \
            else "payload end that the length fields"
        return ["def _payload_wanted(self):",
                f'    """The {what} announce."""',
                f"    return self._hend + {' + '.join(parts)}"]
