"""Display filters: pick decoded packets by their fields, as tshark's ``-Y`` does.

BPF (``-f``) sees only bytes at fixed offsets; a display filter sees what the layers decoded,
including layers from the user's own .layer files::

    tcp.dst_port == 443 and ipv4.ttl < 64
    dns and not udp.port == 53           # a layer's name alone: the packet has it
    tcp.flags.syn and !tcp.flags.ack     # a flag by name
    ipv4.addr == 10.0.0.0/8              # addr/port: either end (flows' endpoints)
    ipv4.protocol == UDP                 # enum values by name
    payload.data contains "GET /"        # bytes or text; "..." or 01:02:03 hex
    tcp.payload matches "^get /[a-z]+"   # a regular expression (case-insensitive), also ~
    tcp.srcport < tcp.dstport            # a field on both sides
    tcp.flags & 0x12 == 0x12             # bitwise and; "tcp.flags & 0x02" alone: not zero
    frame.number <= 10 or frame.len > 1000   # the record: number, len, cap_len, times
    tcp.dst_port in {80 443 8080}

Layer names are the registered ones in any case, plus tshark's (``ip``, ``eth``, ``ip6``,
``icmp``, ``wlan``, ``data``, ...); field names are the layers' own (``pktspec list LAYER``)
or tshark's (``tcp.srcport``, ``ip.hdr_len``, ``tcp.len``, ``dns.qry.name``, ...: see
``TSHARK_FIELDS``). A comparison holds when any layer of that name in the packet satisfies it
(a tunnel has two IPv4 layers), as in tshark; with a field on both sides, when any pair does.

The text is parsed (lark, LALR) into a tree of small closures: nothing in it is evaluated as
Python. A mistake is a :class:`DisplayFilterError` with the column, the text and a caret.

``frame.number`` and ``frame.time_relative`` need to know where the packet is in its capture:
the caller says so with a :class:`Frames` (``pktspec decode`` passes the file's record
numbers); without one, a filter numbers the packets it is given, 1 upwards, and measures
times from the first of them (right for ``pktspec.open(path, filter=...)``, which gives it
every record in order).
"""

from __future__ import annotations

import codecs
import difflib
import ipaddress
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedInput, VisitError

from pktspec.errors import DecodeError, PktspecError
from pktspec.runtime.layer import Layer
from pktspec.runtime.packet import Packet
from pktspec.runtime.registry import REGISTRY

__all__ = ["DisplayFilter", "DisplayFilterError", "FieldColumn", "Frames", "TSHARK_FIELDS",
           "compile_field", "compile_filter"]

Test = Callable[[Packet, "Frames"], bool]
Predicate = Callable[[Packet], bool]

_GRAMMAR = r"""
?start: or_
?or_: and_ (OR and_)*
?and_: not_ (AND not_)*
?not_: NOT not_ -> negate
     | atom
?atom: "(" or_ ")"
     | operand CMP value          -> compare
     | operand CONTAINS value     -> contains
     | operand MATCHES STRING     -> matches
     | operand IN "{" item ("," ? item)* "}"  -> member
     | operand                    -> present
?operand: ref
        | ref BITAND LITERAL      -> masked
ref: NAME ("." NAME)* slice?
slice: "[" INT (":" INT)? "]"
?item: value | value RANGE value -> span
?value: STRING | LITERAL
OR.2: "or" | "||"
AND.2: "and" | "&&"
NOT.2: "not" | "!"
CONTAINS.2: "contains"
MATCHES.2: "matches" | "~"
IN.2: "in"
BITAND: "&"
CMP.2: "==" | "!=" | "<=" | ">=" | "<" | ">" | /(eq|ne|lt|le|gt|ge)(?![A-Za-z0-9_])/
RANGE.2: ".."
INT.3: /[0-9]+/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
LITERAL: /[A-Za-z0-9_:\/+-]+(\.[A-Za-z0-9_:\/+-]+)*/
STRING: /"(\\.|[^"\\])*"/
%ignore /\s+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)

_ALIASES = {"ip": "IPv4", "eth": "Ethernet", "ip6": "IPv6", "icmp": "ICMPv4",
            "wlan": "Dot11", "radiotap": "RadioTap", "data": "Payload", "vlan": "Dot1Q",
            "sll": "LinuxSLL", "dhcp": "DHCPv4", "esp": "IPSecESP", "ah": "IPSecAH",
            "null": "Loopback"}
"""tshark's protocol names that differ from the layer names."""
_FIELD_ALIASES = {"srcport": ("src_port",), "dstport": ("dst_port",), "proto": ("protocol",),
                  "type": ("ethertype",), "len": ("length", "total_length", "payload_length"),
                  "plen": ("payload_length",), "hlim": ("hop_limit",),
                  "nxt": ("next_header",), "opcode": ("operation",),
                  "frag_offset": ("fragment_offset",), "urgent_pointer": ("urgent",),
                  "window_size_value": ("window",), "seq_raw": ("seq",), "ack_raw": ("ack",),
                  "pkttype": ("packet_type",), "etype": ("ethertype",), "id": ("xid",),
                  "tclass": ("traffic_class",), "flow": ("flow_label",)}
"""tshark's field names for the same fields (used only when the layer has no such field)."""
_WORDS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_TOKEN_WORDS = {"LPAR": "'('", "RPAR": "')'", "LBRACE": "'{'", "RBRACE": "'}'", "DOT": "'.'",
                "NAME": "a layer or field name", "NOT": "'not'", "AND": "'and'", "OR": "'or'",
                "CMP": "a comparison (== != < <= > >=)", "CONTAINS": "'contains'", "IN": "'in'",
                "MATCHES": "'matches'", "BITAND": "'&'",
                "COMMA": "','", "RANGE": "'..'", "LSQB": "'['", "RSQB": "']'",
                "COLON": "':'", "INT": "a byte offset",
                "LITERAL": "a value", "STRING": "a \"string\"", "$END": "the end"}
"""How the parser's token names read in an error message."""
_ORDER = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
          ">": operator.gt, ">=": operator.ge}
_EITHER = ("addr", "port")  # either end of a layer's flow


class DisplayFilterError(PktspecError):
    """A display filter that does not parse or names what no layer has."""

    def __init__(self, text: str, column: int, message: str,
                 what: str = "display filter") -> None:
        self.text, self.column, self.message = text, column, message
        caret = " " * (column - 1) + "^"
        super().__init__(f"{what}, column {column}: {message}\n    {text}\n    {caret}")


# ---- where a packet is in its capture ------------------------------------------------------


class Frames:
    """What ``frame.number``, ``frame.time_relative`` and ``frame.interface_id`` read
    besides the packet: its record number in the capture and the first packet's time.

    A caller that reads a capture calls ``see(packet, number)`` for every record, matching or
    not, and passes this object to the filter and the ``-e`` columns. ``interfaces``: whether
    the capture has interfaces (pcapng); tshark shows no ``frame.interface_id`` for pcap.
    """

    __slots__ = ("number", "first", "previous", "last", "interfaces")

    def __init__(self, interfaces: bool = True) -> None:
        self.number = 0
        self.first: Fraction | None = None
        self.previous: Fraction | None = None  # the time of the record before this one
        self.last: Fraction | None = None
        self.interfaces = interfaces

    def see(self, packet: Packet, number: int | None = None) -> None:
        """The next record: ``number`` (1-based), or one more than the last."""
        self.number = self.number + 1 if number is None else number
        m = packet.metadata
        if m is not None and m.has_timestamp and m.ts_resolution > 0:
            self.previous = self.last
            self.last = m.exact_timestamp
            if self.first is None:
                self.first = self.last


class DisplayFilter:
    """A compiled display filter: ``matches(packet)`` or ``matches(packet, frames)``.

    Without ``frames`` it numbers the packets it is given itself (``reset()`` starts again)."""

    __slots__ = ("text", "_test", "_frames")

    def __init__(self, text: str, test: Test) -> None:
        self.text, self._test, self._frames = text, test, Frames()

    def __call__(self, packet: Packet, frames: Frames | None = None) -> bool:
        if frames is None:
            frames = self._frames
            frames.see(packet)
        return bool(self._test(packet, frames))

    def reset(self) -> None:
        """Number from 1 again (a new capture)."""
        self._frames = Frames()

    def __repr__(self) -> str:
        return f"DisplayFilter({self.text!r})"


def compile_filter(text: str) -> DisplayFilter:
    """A predicate over packets for a display filter (see the module docstring)."""
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        expected = getattr(exc, "expected", None) or getattr(exc, "allowed", ()) or ()
        words = sorted({_TOKEN_WORDS.get(t, t) for t in expected})
        hint = f"; expected {', '.join(words)}" if words else ""
        token = getattr(exc, "token", None)
        at_end = exc.column <= 0 or getattr(token, "type", None) == "$END"
        raise DisplayFilterError(text, len(text.rstrip()) + 1 if at_end else exc.column,
                                 ("the filter ends too soon" if at_end else "unexpected input")
                                 + hint) from None
    _check_depth(text, tree)
    try:
        test = _Compile(text).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, DisplayFilterError):
            raise exc.orig_exc from None
        raise
    return DisplayFilter(text, test)


MAX_DEPTH = 100
"""Most nested operators a filter may have (as .layer expressions): deeper ones are refused,
not left to overflow Python's stack while compiling or evaluating."""


def _check_depth(text: str, tree: Any) -> None:
    """Refuse a tree nested deeper than MAX_DEPTH, measured without recursion."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            column = getattr(getattr(node, "meta", None), "column", None) or 1
            raise DisplayFilterError(text, column, f"more than {MAX_DEPTH} nested operators")
        stack += [(child, depth + 1) for child in getattr(node, "children", ())
                  if not isinstance(child, Token)]


class FieldColumn:
    """One ``decode -e`` column: ``column(packet[, frames])`` gives the field's values in the
    packet (one per layer that has it), ``column.text(value)`` writes one as tshark's
    ``-T fields`` does (hex for the fields tshark shows in hex, decimal otherwise)."""

    __slots__ = ("name", "ref", "_frames")

    def __init__(self, name: str, ref: _Ref) -> None:
        self.name, self.ref, self._frames = name, ref, Frames()

    def __call__(self, packet: Packet, frames: Frames | None = None) -> list[Any]:
        if frames is None:
            frames = self._frames
            frames.see(packet)
        return self.ref.values(packet, frames)

    def text(self, value: Any) -> str:
        return field_text(value, self.ref.hex_width)


def compile_field(text: str) -> FieldColumn:
    """The values of one field reference (``ip.src``, ``tcp.flags.syn``, ``frame.len``) in a
    packet, one per layer that has it: what ``decode -e`` prints, as tshark's ``-T fields``.
    Raises DisplayFilterError for a name no layer or field has."""
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput:
        tree = None
    inner = tree.children[0] if getattr(tree, "data", None) == "present" else None
    if getattr(inner, "data", None) != "ref":
        raise DisplayFilterError(text, 1, "a field is layer.field (or layer.field.flag)",
                                 what="field")
    try:
        ref = _Ref(text, list(inner.children))
    except DisplayFilterError as exc:
        raise DisplayFilterError(text, exc.column, exc.message, what="field") from None
    return FieldColumn(text, ref)


def field_text(value: Any, hex_width: int | None = None) -> str:
    """A value as tshark's -T fields writes it: a set flag 1 (else 0), numbers in decimal or,
    with ``hex_width``, as 0x and that many hex digits; flag sets in hex; times with nine
    decimals; bytes as bare hex; addresses and text as they read; a layer by its name."""
    from pktspec.runtime.values import FlagSet

    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Fraction):
        return _seconds_text(value)
    if isinstance(value, int):
        if hex_width is not None:
            return f"0x{int(value):0{hex_width}x}"
        if isinstance(value, FlagSet):
            return f"{int(value):#06x}"
        return str(int(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, Layer):
        return value.name.lower()
    return str(value)


def _seconds_text(value: Fraction) -> str:
    """Seconds with nine decimals, cut (not rounded) to the nanosecond, as tshark writes
    frame.time_epoch and frame.time_relative."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value.numerator) * 10**9 // value.denominator, 10**9)
    return f"{sign}{whole}.{frac:09d}"


# ---- tshark's fields that are not one field of one layer -----------------------------------


def _get(item: Any, key: str) -> Any:
    """A member of a decoded struct (a construct Container or a dict)."""
    if isinstance(item, dict):
        return item.get(key)
    return getattr(item, key, None)


def _scalar(value: Any) -> Any:
    """An option's number: the value itself, or the only member of a struct."""
    if isinstance(value, dict):
        items = [v for k, v in value.items() if not str(k).startswith("_")]
        return items[0] if len(items) == 1 else None
    return value


def _before(packet: Packet, layer: Any, names: tuple[str, ...]) -> Any:
    """The nearest layer called one of names before layer."""
    found = None
    for other in packet.layers:
        if other is layer:
            return found
        if other.name in names:
            found = other
    return None


def _tcp_len(tcp: Any, packet: Packet) -> Any:
    """tshark's tcp.len: the IP lengths' idea of the segment (never past the frame), unknown
    in a fragment of a larger datagram."""
    ip = _before(packet, tcp, ("IPv4", "IPv6", "IPv6Fragment"))
    if ip is None:
        return None
    if ip.name == "IPv6Fragment":
        if ip.more_fragments:
            return None
        ip = _before(packet, ip, ("IPv6",))
        if ip is None:
            return None
    if ip.name == "IPv4":
        if ip.flags.more_fragments:
            return None
        end = ip._off + ip.total_length
    else:
        end = ip._hend + ip.payload_length
    frame = packet.metadata.length if packet.metadata is not None else len(packet.data)
    return max(min(end, frame) - tcp._hend, 0)


def _options(field: str, key: str, kinds: tuple[int, ...] | None = None,
             pick: Callable[[Any], Any] | None = None) -> Callable[[Any, Packet], Any]:
    """Every option's ``key`` (or ``pick(option)``) of a layer's option list, for the
    options of ``kinds`` only when given."""
    def values(layer: Any, _packet: Packet) -> list[Any]:
        out: list[Any] = []
        for option in getattr(layer, field, None) or ():
            if kinds is not None and _get(option, "kind") not in kinds:
                continue
            value = pick(option) if pick is not None else _get(option, key)
            if isinstance(value, list):
                out += value
            else:
                out.append(value)
        return out
    return values


def _sack(edge: str) -> Callable[[Any], list[Any]]:
    def pick(option: Any) -> list[Any]:
        blocks = _get(option, "value")
        if isinstance(blocks, dict):
            blocks = _scalar(blocks)
        return [_get(b, edge) for b in blocks or ()]
    return pick


def _dns_names(dns: Any, _packet: Packet) -> list[str]:
    out = []
    for question in dns.questions or ():
        name = _get(question, "name")
        out.append("<Root>" if name in ("", ".") else str(name).rstrip("."))
    return out


def _dhcp_message_type(dhcp: Any, _packet: Packet) -> list[Any]:
    out = []
    for option in dhcp.options or ():
        code = _get(option, "code")
        if code is None:
            code = _get(option, "type")
        if code == 53:
            out.append(_scalar(_get(option, "value")))
    return out


def _gre_flags(g: Any, _packet: Packet) -> int:
    return (g.checksum_present << 15 | g.routing_present << 14 | g.key_present << 13
            | g.seq_present << 12 | g.strict_source_route << 11 | g.recursion_control << 8
            | g.ack_present << 7 | g.flags << 3 | g.version)


def _dns_flags(d: Any, _packet: Packet) -> int:
    return (d.qr << 15 | int(d.opcode) << 11 | d.aa << 10 | d.tc << 9 | d.rd << 8 | d.ra << 7
            | d.z << 6 | d.ad << 5 | d.cd << 4 | int(d.response_code))


def _attr(name: str, when: Callable[[Any], bool] | None = None,
          scale: int = 1) -> Callable[[Any, Packet], Any]:
    def value(layer: Any, _packet: Packet) -> Any:
        if when is not None and not when(layer):
            return None
        found = getattr(layer, name, None)
        return found if found is None or scale == 1 else int(found) * scale
    return value


def _arp(which: str, hardware: bool) -> Callable[[Any, Packet], Any]:
    def value(arp: Any, _packet: Packet) -> Any:
        if hardware:
            return getattr(arp, which) if arp.hw_address_size == 6 else None
        ok = int(arp.protocol) == 0x0800 and arp.prot_address_size == 4
        return getattr(arp, which) if ok else None
    return value


@dataclass(frozen=True)
class _Tshark:
    """A tshark field that is not simply one field of one layer: the layers it reads, how
    (``get(layer, packet)``: a value, a list of them, or None), its kind for comparisons
    (number, address, bytes, text) and, when tshark shows it in hex, its digits."""

    layers: tuple[str, ...]
    get: Callable[[Any, Packet], Any]
    kind: str = "number"
    hex_width: int | None = None


_SLL = ("LinuxSLL", "LinuxSLL2")
_TCP_OPTIONS = "options"
TSHARK_FIELDS: dict[str, _Tshark] = {
    "eth.type": _Tshark(("Ethernet",), _attr("ethertype", lambda e: e.ethertype > 1500),
                        hex_width=4),
    "eth.len": _Tshark(("Ethernet",), _attr("ethertype", lambda e: e.ethertype <= 1500)),
    "vlan.etype": _Tshark(("Dot1Q",), _attr("ethertype", lambda q: q.ethertype > 1500),
                          hex_width=4),
    "vlan.len": _Tshark(("Dot1Q",), _attr("ethertype", lambda q: q.ethertype <= 1500)),
    "llc.pid": _Tshark(("SNAP",), _attr("protocol_id", lambda s: s.oui not in (0, 0x00000C)),
                       hex_width=4),
    "sll.pkttype": _Tshark(_SLL, _attr("packet_type")),
    "sll.etype": _Tshark(_SLL, _attr("ethertype"), hex_width=4),
    "ip.version": _Tshark(("IPv4", "IPv6"), _attr("version")),  # tshark's IPv6 sets it too
    "ip.hdr_len": _Tshark(("IPv4",), _attr("ihl", scale=4)),
    "ip.dsfield": _Tshark(("IPv4",), lambda ip, _p: ip.dscp << 2 | ip.ecn, hex_width=2),
    "ip.dsfield.dscp": _Tshark(("IPv4",), _attr("dscp")),
    "ip.dsfield.ecn": _Tshark(("IPv4",), _attr("ecn")),
    "ip.opt.type": _Tshark(("IPv4",), _options("options", "type")),
    "ipv6.fraghdr.offset": _Tshark(("IPv6Fragment",), _attr("fragment_offset")),
    "ipv6.fraghdr.more": _Tshark(("IPv6Fragment",), _attr("more_fragments")),
    "ipv6.fraghdr.ident": _Tshark(("IPv6Fragment",), _attr("identification"), hex_width=8),
    "arp.src.proto_ipv4": _Tshark(("ARP",), _arp("source_prot_address", False), "address"),
    "arp.dst.proto_ipv4": _Tshark(("ARP",), _arp("dst_prot_address", False), "address"),
    "arp.src.hw_mac": _Tshark(("ARP",), _arp("source_hw_address", True), "address"),
    "arp.dst.hw_mac": _Tshark(("ARP",), _arp("dst_hw_address", True), "address"),
    "gre.flags_and_version": _Tshark(("GRE",), _gre_flags, hex_width=4),
    "tcp.len": _Tshark(("TCP",), _tcp_len),
    "tcp.hdr_len": _Tshark(("TCP",), _attr("data_offset", scale=4)),
    "tcp.payload": _Tshark(("TCP",), lambda t, _p: bytes(t.payload) or None, "bytes"),
    "udp.payload": _Tshark(("UDP",), lambda u, _p: bytes(u.payload) or None, "bytes"),
    "tcp.option_kind": _Tshark(("TCP",), _options(_TCP_OPTIONS, "kind")),
    "tcp.options.mss_val": _Tshark(("TCP",), _options(
        _TCP_OPTIONS, "", (2,), lambda o: _scalar(_get(o, "value")))),
    "tcp.options.wscale.shift": _Tshark(("TCP",), _options(
        _TCP_OPTIONS, "", (3,), lambda o: _scalar(_get(o, "value")))),
    "tcp.options.sack_le": _Tshark(("TCP",), _options(_TCP_OPTIONS, "", (5,), _sack("left"))),
    "tcp.options.sack_re": _Tshark(("TCP",), _options(_TCP_OPTIONS, "", (5,), _sack("right"))),
    "sctp.chunk_type": _Tshark(("SCTP",), _options("chunks", "type")),
    "dns.qry.name": _Tshark(("DNS",), _dns_names, "text"),
    "dns.flags": _Tshark(("DNS",), _dns_flags, hex_width=4),
    "dns.flags.response": _Tshark(("DNS",), _attr("qr")),
    "dns.flags.opcode": _Tshark(("DNS",), _attr("opcode")),
    "dns.flags.rcode": _Tshark(("DNS",), _attr("response_code")),
    "dns.count.queries": _Tshark(("DNS",), _attr("qd_count")),
    "dns.count.answers": _Tshark(("DNS",), _attr("an_count")),
    "dns.count.auth_rr": _Tshark(("DNS",), _attr("ns_count")),
    "dns.count.add_rr": _Tshark(("DNS",), _attr("ar_count")),
    "dhcp.option.dhcp": _Tshark(("DHCPv4",), _dhcp_message_type),
    "wlan.fc.type": _Tshark(("Dot11",), _attr("type")),
    "wlan.fc.subtype": _Tshark(("Dot11",), _attr("subtype")),
    "wlan.duration": _Tshark(("Dot11",), _attr("duration_id")),
    "wlan.seq": _Tshark(("Dot11",), _attr("sequence_number")),
    "wlan.frag": _Tshark(("Dot11",), _attr("fragment_number")),
    "icmp.ident": _Tshark(("ICMPv4",), _attr("id")),
    "ntp.flags.li": _Tshark(("NTP",), _attr("leap_indicator")),
    "ntp.flags.vn": _Tshark(("NTP",), _attr("version")),
    "ntp.flags.mode": _Tshark(("NTP",), _attr("mode")),
}
"""tshark's names for values that are not one field of the layer its name starts with, or
not as it stores it (``ip.hdr_len`` is 4 * ihl; ``tcp.len`` comes from the IP lengths)."""

_HEX = {("Ethernet", "ethertype"): 4, ("Dot1Q", "ethertype"): 4, ("Dot1AD", "ethertype"): 4,
        ("LLC", "dsap"): 2, ("LLC", "ssap"): 2, ("SNAP", "protocol_id"): 4,
        ("LinuxSLL", "ethertype"): 4, ("LinuxSLL2", "ethertype"): 4,
        ("PPPoE", "code"): 2, ("PPPoE", "session_id"): 4, ("PPP", "protocol"): 4,
        ("PPPHDLC", "address"): 2, ("PPPHDLC", "control"): 2, ("ARP", "protocol"): 4,
        ("IPv4", "id"): 4, ("IPv4", "checksum"): 4, ("IPv4", "flags"): 2,
        ("IPv6", "traffic_class"): 8, ("IPv6", "flow_label"): 6,
        ("IPv6Fragment", "identification"): 8, ("ICMPv4", "checksum"): 4,
        ("ICMPv6", "checksum"): 4, ("ICMPv6Echo", "identifier"): 4, ("IGMP", "type"): 2,
        ("IGMP", "checksum"): 4, ("GRE", "protocol"): 4, ("GRE", "checksum"): 4,
        ("GRE", "key"): 8, ("TCP", "flags"): 4, ("TCP", "checksum"): 4,
        ("UDP", "checksum"): 4, ("SCTP", "verification_tag"): 8, ("SCTP", "checksum"): 8,
        ("Geneve", "vni"): 6, ("Geneve", "protocol"): 4, ("DNS", "id"): 4,
        ("DHCPv4", "xid"): 8, ("DHCPv4", "flags"): 4, ("DHCPv4", "hardware_type"): 2,
        ("DHCPv6", "transaction_id"): 6, ("TLS", "version"): 4, ("Dot11", "flags"): 2,
        ("RadioTap", "present"): 8, ("RadioTap", "flags"): 2, ("RadioTap", "channel_flags"): 4,
        ("IPSecESP", "spi"): 8, ("IPSecAH", "spi"): 8}
"""The fields tshark shows in hex (BASE_HEX in its field list), with their hex digits."""

_COMPOSED = {("TCP", "flags"): lambda tcp: tcp.reserved << 9 | int(tcp.flags)}
"""Fields whose value, as tshark has it, takes in more than the layer's field: tcp.flags
has the three reserved bits above NS (a 12-bit 0x0fff)."""

_FRAME = ("number", "len", "cap_len", "caplen", "time", "time_epoch", "time_relative",
          "time_delta", "interface_id", "comment")


def _frame_value(name: str, packet: Packet, frames: Frames) -> Any:
    """A frame field of the packet, None when the record has no such thing."""
    if name == "number":
        return frames.number
    m = packet.metadata
    if m is None:
        return len(packet.data) if name in ("len", "cap_len", "caplen") else None
    if name == "len":
        return m.length
    if name in ("cap_len", "caplen"):
        return m.caplen
    if name == "comment":
        return m.comment
    if name == "interface_id":
        return m.interface if frames.interfaces else None
    if not m.has_timestamp or m.ts_resolution <= 0:
        return None
    if name == "time_relative":
        return None if frames.first is None else m.exact_timestamp - frames.first
    if name == "time_delta":  # since the record before, 0 for the first
        return m.exact_timestamp - (frames.previous if frames.previous is not None
                                    else m.exact_timestamp)
    return m.exact_timestamp


# ---- references ---------------------------------------------------------------------------


class _Ref:
    """``layer.field[.flag]`` resolved against the registry when the filter is compiled
    (misspellings fail at once) and again by name when it runs (a .layer file reloaded
    since is seen)."""

    def __init__(self, text: str, names: list[Any]) -> None:
        self.cut: tuple[int, int | None] | None = None  # [offset] or [offset:length]
        if names and isinstance(names[-1], tuple):
            self.cut = names.pop()
        self.column = names[0].column
        first = str(names[0])
        self.frame = first.lower() == "frame"
        self.path = [str(n) for n in names[1:]]
        self.info: Any = None
        self.mask = 0
        self.tshark: _Tshark | None = None
        self.hex_width: int | None = None
        self.composed: Callable[[Any], Any] | None = None
        self.label = ".".join([first, *self.path])
        if self.frame:
            if self.cut is not None and not self.path:
                return
            if len(self.path) != 1 or self.path[0] not in _FRAME:
                raise DisplayFilterError(text, names[min(1, len(names) - 1)].column,
                                         "frame has " + ", ".join(_FRAME[:-1]) + " and "
                                         + _FRAME[-1] + " (and its bytes, "
                                         "frame[offset:length])")
            return
        self.tshark = TSHARK_FIELDS.get(".".join([first.lower(), *self.path]))
        if self.tshark is not None:
            self.cls = REGISTRY.get_layer(self.tshark.layers[0])
            if self.cls is not None:
                self.name = self.cls.name
                self.hex_width = self.tshark.hex_width
                return
            self.tshark = None
        self.cls = _layer(text, first, self.column)
        self.name = self.cls.name
        if len(self.path) > 2:
            raise DisplayFilterError(text, names[3].column, "at most layer.field.flag")
        if self.path:
            self._field(text, names, first)

    def _field(self, text: str, names: list[Token], first: str) -> None:
        fields = {f.name: f for f in self.cls.fields_info}
        name = self.path[0]
        if name not in fields and name not in _EITHER:
            alias = next((a for a in _FIELD_ALIASES.get(name, ()) if a in fields), None)
            suffixed = [f for f in fields if f.endswith("_" + name)]  # vlan.id: vlan_id
            if alias is None and len(suffixed) == 1:
                alias = suffixed[0]
            if alias is not None:
                name = self.path[0] = alias
        self.info = fields.get(name)
        if self.info is None and name not in _EITHER and name != "data":
            prefix = first.lower() + "."
            tshark = [k[len(prefix):] for k in TSHARK_FIELDS if k.startswith(prefix)]
            wanted = ".".join(self.path)
            close = difflib.get_close_matches(wanted, [*fields, *tshark], 1, 0.6)
            hint = f"; did you mean {close[0]!r}?" if close else \
                f" (its fields: {', '.join(fields) or 'none'})"
            raise DisplayFilterError(text, names[1].column,
                                     f"{self.cls.name} has no field {name!r}{hint}")
        if len(self.path) == 2:
            if self.info is None or self.info.kind != "flags":
                raise DisplayFilterError(text, names[2].column,
                                         f"{self.cls.name}.{name} is not a flag set")
            self.mask = flag_mask(self.info.flags, self.path[1])
            if self.mask is None:
                known = ", ".join(n for n, _, _ in self.info.flags._order_)
                raise DisplayFilterError(text, names[2].column,
                                         f"{self.cls.name}.{name} has no flag "
                                         f"{self.path[1]!r} (its flags: {known})")
            return
        if self.info is not None:
            self.hex_width = _HEX.get((self.cls.name, name))
            self.composed = _COMPOSED.get((self.cls.name, name))

    def kind(self) -> str:
        """What the values are, for comparing them: number, address, bytes, text, layer or
        other (a struct, a list, a computed value)."""
        if self.cut is not None:
            return "number" if self.cut[1] is None else "bytes"
        if self.frame:
            return "text" if self.path[0] == "comment" else "number"
        if self.tshark is not None:
            return self.tshark.kind
        if not self.path:
            return "layer"
        if self.mask:
            return "number"
        if self.info is None:
            return {"port": "number", "addr": "address", "data": "bytes"}[self.path[0]]
        return {"int": "number", "enum": "number", "flags": "number", "address": "address",
                "bytes": "bytes"}.get(self.info.kind, "other")

    def values(self, packet: Packet, frames: Frames) -> list[Any]:
        """The values this reference has in packet: one per matching layer (or end), cut
        to ``[offset]`` (a byte, as a number) or ``[offset:length]`` (bytes) when asked."""
        found = self._values(packet, frames)
        if self.cut is None:
            return found
        start, length = self.cut
        out = []
        for value in found:
            data = _bytes_of(value)
            if data is None:
                continue
            if length is None:
                if start < len(data):
                    out.append(data[start])
            elif start + length <= len(data):
                out.append(data[start:start + length])
        return out

    def _values(self, packet: Packet, frames: Frames) -> list[Any]:
        if self.frame and self.cut is not None and not self.path:
            return [bytes(packet.data)]
        if self.frame:
            value = _frame_value(self.path[0], packet, frames)
            return [] if value is None else [value]
        if self.tshark is not None:
            return self._tshark_values(packet)
        cls = REGISTRY.get_layer(self.name) or self.cls
        layers = [layer for layer in packet.layers if isinstance(layer, cls)]
        if not self.path:
            return layers
        name = self.path[0]
        out: list[Any] = []
        for layer in layers:
            if name == "data" and self.info is None:
                out.append(bytes(layer.payload))
            elif self.info is None:
                out += _ends(layer, name)
            else:
                try:
                    value = getattr(layer, name, None)
                    if self.composed is not None and value is not None:
                        value = self.composed(layer)
                except DecodeError:  # a lazily decoded part that is broken: not there
                    continue
                if self.mask and value is not None:
                    value = bool(int(value) & self.mask)
                out.append(value)
        return [v for v in out if v is not None]

    def _tshark_values(self, packet: Packet) -> list[Any]:
        assert self.tshark is not None
        classes = tuple(c for c in (REGISTRY.get_layer(n) for n in self.tshark.layers)
                        if c is not None)
        out: list[Any] = []
        for layer in packet.layers:
            if not isinstance(layer, classes):
                continue
            try:
                value = self.tshark.get(layer, packet)
            except (DecodeError, AttributeError, TypeError, ValueError):
                continue  # a broken or missing part: not there
            if isinstance(value, list):
                out += [v for v in value if v is not None]
            elif value is not None:
                out.append(value)
        return out


class _Masked:
    """``field & mask``: the field's numbers anded with the mask."""

    def __init__(self, ref: _Ref, mask: int) -> None:
        self.ref, self.mask = ref, mask
        self.column, self.label, self.info = ref.column, f"{ref.label} & {mask:#x}", None
        self.frame, self.path, self.cut, self.hex_width = False, ["&"], None, None

    def kind(self) -> str:
        return "number"

    def values(self, packet: Packet, frames: Frames) -> list[Any]:
        out = []
        for value in self.ref.values(packet, frames):
            try:
                out.append(int(value) & self.mask)
            except (TypeError, ValueError):
                continue
        return out


def _bytes_of(value: Any) -> bytes | None:
    """The bytes a slice cuts: a field's bytes, or a whole layer's (from its first byte to
    the end of what it was given: header, payload and trailer, as tshark's tcp[0:2])."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Layer) and getattr(value, "_buf", None) is not None:
        return bytes(value._buf[value._off:value._end])
    return None


def flag_mask(flags: Any, name: str) -> int | None:
    """The bit of a flag set named as the layer file names it or as displays show it (its
    short name: ``DF`` for dont_fragment, ``WEP``), in any case; None when there is none."""
    folded = name.casefold()
    for flag, mask, short in flags._order_:
        if folded in (flag.casefold(), short.casefold()):
            return mask
    return None


def _ends(layer: Any, name: str) -> list[Any]:
    """``addr``: every address field of the layer (802.11's four, ARP's, IP's two), else
    the ends of its flow; ``port``: the ends of its flow."""
    if name == "addr":
        addresses = [getattr(layer, f.name, None) for f in layer.fields_info
                     if f.kind == "address"]
        if addresses:
            return [str(a) for a in addresses if a is not None]
    flow = getattr(layer, "flow", None)
    if flow is None:
        return []
    return [e.raw if name == "port" else str(e) for e in (flow.src, flow.dst)]


def _layer_named(name: str) -> type | None:
    cls = REGISTRY.get_layer(_ALIASES.get(name.lower(), name))
    if cls is None:
        matches = [c for c in REGISTRY.layers() if c.name.lower() == name.lower()]
        cls = matches[0] if len(matches) == 1 else None
    return cls


def _layer(text: str, name: str, column: int) -> type:
    cls = _layer_named(name)
    if cls is None:
        raise DisplayFilterError(text, column, f"no layer called {name!r} (see "
                                 "'pktspec list'; load a .layer file with --layers)")
    return cls


# ---- literals -----------------------------------------------------------------------------


def _literal(text: str, ref: Any, token: Token) -> tuple[Callable[[Any], Any], Any]:
    """How to compare a field's value with the literal: (value -> comparable, target).

    The literal is converted to the field's kind: numbers (decimal, 0x hex, decimal
    fractions exactly, enum and flag names), addresses (text, CIDR networks), bytes
    ("text" or hex like 01:02:03), text.
    """
    raw = str(token)
    if raw.startswith('"'):
        return _text_or_bytes, _string(text, token)
    kind = ref.kind()
    if kind == "number":
        info = None if ref.frame or ref.cut is not None else ref.info
        number = _int(raw, info)
        if number is None:
            what = getattr(info, "kind", None)
            raise DisplayFilterError(text, token.column, f"{raw!r} is not a number"
                                     + (" or a name of the field's enum" if what == "enum"
                                        else " or a flag name" if what == "flags" else ""))
        return _as_number, number
    if kind == "address":
        return _address(text, raw, token)
    return _bytes_or_text(raw, hex_ok=True)


def _as_number(value: Any) -> Any:
    return value if isinstance(value, (float, Fraction)) else int(value)


def _int(raw: str, info: Any) -> int | Fraction | None:
    """A number literal (decimal, 0x hex, a decimal fraction, exactly, for times), or a name
    of the field's enum or flag set (a flag stands for its bit)."""
    try:
        return int(raw, 0)
    except ValueError:
        pass
    try:
        return Fraction(raw)
    except (ValueError, ZeroDivisionError):
        pass
    enum = getattr(info, "enum", None)
    if enum is not None:
        for name, member in enum._members_.items():
            if name.lower() == raw.lower():
                return int(member)
    flags = getattr(info, "flags", None)
    if flags is not None:
        return flag_mask(flags, raw)
    return None


def _address(text: str, raw: str, token: Token) -> tuple[Callable[[Any], Any], Any]:
    try:
        if "/" in raw:
            network = ipaddress.ip_network(raw, strict=False)
            return (lambda value: _in_network(value, network)), True
        return (lambda value: _ip(value)), ipaddress.ip_address(raw)
    except ValueError:
        pass
    mac = raw.lower().replace("-", ":")
    if len(mac) == 14 and mac.count(".") == 2:  # Cisco's dotted form, 0000.0100.0000
        digits = mac.replace(".", "")
        mac = ":".join(digits[i:i + 2] for i in range(0, 12, 2))
    if len(mac.split(":")) == 6:
        return (lambda value: str(value).lower()), mac
    raise DisplayFilterError(text, token.column, f"{raw!r} is not an address (IPv4, IPv6, "
                             "a network like 10.0.0.0/8, or a MAC)")


def _ip(value: Any) -> Any:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        return str(value).lower()


def _in_network(value: Any, network: Any) -> bool:
    try:
        return ipaddress.ip_address(str(value)) in network
    except ValueError:
        return False


def _bytes_or_text(raw: str, hex_ok: bool = False) -> tuple[Callable[[Any], Any], Any]:
    """An unquoted literal that is not a number or an address: hex bytes (``01:02:03``) when
    it reads as such, else its text."""
    if hex_ok:
        digits = raw.replace(":", "").replace("-", "")
        if len(digits) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in digits):
            return _text_or_bytes, _Literal(bytes.fromhex(digits))
    return _text_or_bytes, _Literal(raw.encode())


def _string(text: str, token: Token) -> _Literal:
    """A quoted literal: its UTF-8 bytes, with backslash escapes as in Python bytes
    (``\\x00``, ``\\n``, ``\\"``; an unknown escape such as a regular expression's ``\\d``
    stays as written)."""
    try:
        data = codecs.escape_decode(str(token)[1:-1].encode())[0]
    except ValueError as exc:
        raise DisplayFilterError(text, token.column, f"bad escape in the string: {exc}") \
            from None
    return _Literal(data)


def _text_or_bytes(value: Any) -> Any:
    """A field's value as the literal compares with it: bytes as bytes, anything else as
    its text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value)


def _comparable(value: Any, kind: str) -> Any:
    """A value of one side of a field-to-field comparison, in a form the other side's
    compares with: numbers, ip addresses (a MAC as its lower-case text), bytes, text."""
    if kind == "number" or isinstance(value, (bool, Fraction, float)):
        return _as_number(value)
    if kind == "address":
        return _ip(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Layer):
        return _bytes_of(value)
    return str(value)


class _Literal:
    """A text-or-bytes literal: equal to the same bytes, or to text whose UTF-8 encoding
    they are; ``in`` works on both."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = other.encode()
        return other == self.data

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def found_in(self, value: Any) -> bool:
        haystack = value if isinstance(value, bytes) else str(value).encode()
        return self.data in haystack


class _Regex:
    """A ``matches`` pattern, case-insensitive as Wireshark's (``(?-i)`` first: sensitive):
    searched in a field's text, or in its bytes (a bytes pattern of the same text)."""

    __slots__ = ("text", "data")

    def __init__(self, pattern: bytes) -> None:
        flags = re.IGNORECASE
        if pattern.startswith(b"(?-i)"):  # PCRE's case-sensitive switch, at the start only
            pattern, flags = pattern[5:], re.NOFLAG
        self.data = re.compile(pattern, flags)
        self.text = re.compile(pattern.decode("utf-8", "surrogateescape"), flags)

    def found_in(self, value: Any) -> bool:
        if isinstance(value, Layer):
            value = _bytes_of(value) or b""
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.data.search(bytes(value)) is not None
        return self.text.search(str(value)) is not None


# ---- the parse tree to closures -----------------------------------------------------------


@v_args(inline=True)
class _Compile(Transformer):
    """The parse tree to nested closures over (packet, frames)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def ref(self, *names: Any) -> _Ref:
        """``layer.field[.flag]``, resolved now so that a misspelt name fails at once."""
        return _Ref(self.text, list(names))

    def slice(self, start: Token, length: Token | None = None) -> tuple[int, int | None]:
        """``[offset]`` or ``[offset:length]``."""
        if length is not None and int(length) == 0:
            raise DisplayFilterError(self.text, length.column, "a slice of 0 bytes")
        return int(start), None if length is None else int(length)

    def masked(self, ref: _Ref, op: Token, token: Token) -> _Masked:
        """``field & mask``: a number field's bits under the mask."""
        if ref.kind() != "number":
            raise DisplayFilterError(self.text, op.column, f"'&' takes a number field; "
                                     f"{ref.label} is not one")
        mask = _int(str(token), None if ref.frame or ref.cut is not None else ref.info)
        if not isinstance(mask, int):
            raise DisplayFilterError(self.text, token.column,
                                     f"{str(token)!r} is not a number (a bit mask)")
        return _Masked(ref, mask)

    def present(self, ref: Any) -> Test:
        """A bare reference: the layer is there, the field is present and not empty (no
        options is no ``tcp.options``), the flag is set; ``field & mask``: not zero."""
        if isinstance(ref, _Masked) or len(ref.path) == 2:  # a flag: set in some layer
            return lambda packet, frames: any(ref.values(packet, frames))
        return lambda packet, frames: any(_has(v) for v in ref.values(packet, frames))

    def compare(self, ref: Any, op: Token, token: Token) -> Test:
        """``field OP value``: some layer's value compares; ``!=``: none is equal. The
        value may be another field: then some pair of the two fields' values compares."""
        self._needs_field(ref, token)
        op = Token("CMP", _WORDS.get(str(op), str(op)), column=op.column)
        other = self._field_on_the_right(ref, token)
        if other is not None:
            return self._compare_fields(ref, op, other)
        convert, target = _literal(self.text, ref, token)
        test = _ORDER[str(op)]
        if str(op) not in ("==", "!=") and not isinstance(target, (int, Fraction)):
            raise DisplayFilterError(self.text, op.column, f"{op} compares numbers only")
        if str(op) == "!=":  # none of the values is equal (ip.addr != x: neither end is x)
            equal = self.compare(ref, Token("CMP", "=="), token)
            return lambda packet, frames: (bool(ref.values(packet, frames))
                                           and not equal(packet, frames))
        if target is True:  # a network: == means inside it
            return lambda packet, frames: any(convert(v) for v in ref.values(packet, frames))
        return lambda packet, frames: any(_safe(test, convert, v, target)
                                          for v in ref.values(packet, frames))

    def _compare_fields(self, left: Any, op: Token, right: Any) -> Test:
        """``a OP b`` for two fields: any pair of their values; ``!=``: both have values and
        no pair is equal."""
        kinds = left.kind(), right.kind()
        if "layer" in kinds:
            raise DisplayFilterError(self.text, (left if kinds[0] == "layer" else right)
                                     .column, "compare a field, not a whole layer")
        if {"number", "address"} <= set(kinds) or ("number" in kinds and op not in ("==", "!=")
                                                   and set(kinds) != {"number"}):
            raise DisplayFilterError(self.text, op.column, f"{left.label} ({kinds[0]}) and "
                                     f"{right.label} ({kinds[1]}) cannot be compared with {op}")
        test = _ORDER["==" if str(op) == "!=" else str(op)]

        def pairs(packet: Packet, frames: Frames) -> tuple[list[Any], list[Any]]:
            return ([_comparable(v, kinds[0]) for v in left.values(packet, frames)],
                    [_comparable(v, kinds[1]) for v in right.values(packet, frames)])

        def any_pair(packet: Packet, frames: Frames) -> bool:
            a, b = pairs(packet, frames)
            return any(_safe(test, _same, x, y) for x in a for y in b)

        if str(op) != "!=":
            return any_pair

        def none_equal(packet: Packet, frames: Frames) -> bool:
            a, b = pairs(packet, frames)
            return bool(a) and bool(b) and not any(_safe(test, _same, x, y)
                                                   for x in a for y in b)
        return none_equal

    def contains(self, ref: Any, _kw: Token, token: Token) -> Test:
        """``field contains "text"`` or ``contains 01:02``: the bytes (or the text's
        UTF-8) appear in the field's bytes or text."""
        self._needs_field(ref, token)
        if str(token).startswith('"'):
            needle = _string(self.text, token)
        else:
            needle = _bytes_or_text(str(token), hex_ok=True)[1]
        return lambda packet, frames: any(needle.found_in(_text_or_bytes(v))
                                          for v in ref.values(packet, frames))

    def matches(self, ref: Any, kw: Token, token: Token) -> Test:
        """``field matches "regex"`` (or ``~``): the regular expression, case-insensitive as
        Wireshark's, is found in the field's text or bytes."""
        self._needs_field(ref, token)
        kind = ref.kind()
        if kind in ("number", "address"):
            raise DisplayFilterError(self.text, ref.column, f"{ref.label} is "
                                     f"{'a number' if kind == 'number' else 'an address'}: "
                                     f"{kw} takes a text or bytes field")
        pattern = _string(self.text, token).data
        try:
            regex = _Regex(pattern)
        except re.error as exc:
            skipped = 5 if pattern.startswith(b"(?-i)") else 0
            where = token.column + 1 + skipped + (exc.pos or 0)
            raise DisplayFilterError(self.text, min(where, token.column + len(token) - 1),
                                     f"bad regular expression: {exc.msg}") from None
        return lambda packet, frames: any(regex.found_in(v)
                                          for v in ref.values(packet, frames))

    def span(self, low: Token, _range: Token, high: Token) -> tuple[Token, Token]:
        """``low..high`` inside a set."""
        return low, high

    def member(self, ref: Any, _kw: Token, *items: Any) -> Test:
        """``field in {a, b, 80..90}`` (commas optional): equal to one of them, or within
        a range."""
        tests = []
        for item in items:
            if isinstance(item, tuple):
                low = self.compare(ref, Token("CMP", ">=", column=item[0].column), item[0])
                high = self.compare(ref, Token("CMP", "<=", column=item[1].column), item[1])
                tests.append(lambda packet, frames, lo=low, hi=high:
                             lo(packet, frames) and hi(packet, frames))
            elif isinstance(item, Token) and item.type != "COMMA":
                tests.append(self.compare(ref, Token("CMP", "==", column=item.column), item))
        return lambda packet, frames: any(t(packet, frames) for t in tests)

    def negate(self, _kw: Token, inner: Any) -> Test:
        """``not x`` / ``!x``."""
        inner = self._test(inner)
        return lambda packet, frames: not inner(packet, frames)

    def and_(self, *parts: Any) -> Test:
        """``a and b and ...`` (the operator tokens are among the parts)."""
        tests = [self._test(p) for p in parts if not isinstance(p, Token)]
        return lambda packet, frames: all(t(packet, frames) for t in tests)

    def or_(self, *parts: Any) -> Test:
        """``a or b or ...``."""
        tests = [self._test(p) for p in parts if not isinstance(p, Token)]
        return lambda packet, frames: any(t(packet, frames) for t in tests)

    def _test(self, part: Any) -> Test:
        """A bare reference where a test belongs (``not tcp``, ``(tcp.flags & 2)``)."""
        return self.present(part) if isinstance(part, (_Ref, _Masked)) else part

    def _field_on_the_right(self, left: Any, token: Token) -> Any:
        """The field a value names (``ip.dst`` in ``ip.src == ip.dst``), or None for a
        value. A dotted word whose first part is a layer (or frame) is a field; when it
        names no field of that layer, a text or bytes field on the left takes it as text."""
        raw = str(token)
        head, dot, _ = raw.partition(".")
        if token.type != "LITERAL" or not dot or not head.isidentifier():
            return None
        if head.lower() != "frame" and _layer_named(head) is None:
            return None
        parts, column = [], token.column
        for part in raw.split("."):
            if not part.isidentifier():
                return None
            parts.append(Token("NAME", part, column=column))
            column += len(part) + 1
        try:
            return _Ref(self.text, parts)
        except DisplayFilterError:
            if left.kind() in ("bytes", "text", "other"):
                return None
            raise

    def _needs_field(self, ref: Any, token: Token) -> None:
        if isinstance(ref, _Ref) and ref.kind() == "layer":
            raise DisplayFilterError(self.text, ref.column, "compare a field "
                                     f"({ref.cls.name}.<field>), not a whole layer")


def _same(value: Any) -> Any:
    return value


def _has(value: Any) -> bool:
    """Present for a bare reference: not an empty list or empty bytes."""
    if isinstance(value, (list, tuple, bytes, bytearray, memoryview)):
        return len(value) > 0
    return True


def _safe(test: Callable[[Any, Any], bool], convert: Callable[[Any], Any], value: Any,
          target: Any) -> bool:
    """test(convert(value), target), False when the two cannot be compared."""
    try:
        return bool(test(convert(value), target))
    except (TypeError, ValueError):
        return False
