"""tshark's vocabulary: its protocol and field names where they differ from the layers', the
fields it computes from more than one field (``TSHARK_FIELDS``), and the fields it shows in
hex.

A filter or a ``-e`` column written for tshark works unchanged; everything here is a table
(plus the small readers the table names), so adding a tshark name is adding a row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pktspec.runtime.packet import Packet

_ALIASES = {"ip": "IPv4", "eth": "Ethernet", "ip6": "IPv6", "icmp": "ICMPv4",
            "wlan": "Dot11", "radiotap": "RadioTap", "data": "Payload", "vlan": "Dot1Q",
            "sll": "LinuxSLL", "dhcp": "DHCPv4", "esp": "IPSecESP", "ah": "IPSecAH",
            "null": "Loopback", "lldp": "LinkLayerDiscovery", "cdp": "CiscoDiscovery",
            "gtp": "GTPv1U", "vrrp": "VRRPv2", "mbtcp": "ModbusTCP"}
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


def _text(name: str) -> Callable[[Any, Packet], Any]:
    """A bytes field as tshark shows it: text (HTTP's method, target, reason phrase)."""
    def value(layer: Any, _packet: Packet) -> Any:
        found = getattr(layer, name, None)
        return None if found is None else bytes(found).decode("latin-1")
    return value


def _status(response: Any, _packet: Packet) -> int | None:
    """HTTP's status code as the number tshark's http.response.code is."""
    code = bytes(response.status)
    return int(code) if code.isdigit() else None


def _http_field(name: str, number: bool = False) -> Callable[[Any, Packet], Any]:
    """An HTTP header field's value by name (any case), as tshark's http.host, ...: the
    first such line of the layer's ``headers``; a number for Content-Length."""
    wanted = name.lower()

    def value(layer: Any, _packet: Packet) -> Any:
        for line in getattr(layer, "headers", None) or ():
            field, sep, text = str(line).partition(":")
            if sep and field.strip().lower() == wanted:
                text = text.strip(" \t")
                if number:
                    return int(text) if text.isdigit() else None
                return text
        return None
    return value


_HTTP = ("HTTPRequest", "HTTPResponse")
_HTTP_FIELDS = {"host": "Host", "user_agent": "User-Agent", "referer": "Referer",
                "cookie": "Cookie", "set_cookie": "Set-Cookie", "server": "Server",
                "content_type": "Content-Type", "content_length_header": "Content-Length",
                "location": "Location", "connection": "Connection", "accept": "Accept",
                "authorization": "Authorization", "date": "Date",
                "cache_control": "Cache-Control", "last_modified": "Last-Modified",
                "transfer_encoding": "Transfer-Encoding", "content_encoding": "Content-Encoding"}
"""tshark's http.<name> fields that are one header field's text."""


_SIP = ("SIPRequest", "SIPResponse")
_SIP_FIELDS = ("Call-ID", "CSeq", "From", "To", "Via", "Contact", "Max-Forwards",
               "Content-Type", "Content-Length", "User-Agent", "Expires")
"""tshark's sip.<Header> fields (full header names as sent; compact forms are not mapped)."""


def _sip_status(response: Any, _packet: Packet) -> int | None:
    """SIP's status code as the number tshark's sip.Status-Code is."""
    code = bytes(response.response_code)
    return int(code) if code.isdigit() else None


def _phrase(response: Any, _packet: Packet) -> str:
    """HTTP's reason phrase as tshark's http.response.phrase: without the space before it."""
    return bytes(response.reason).decode("latin-1").removeprefix(" ")


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
    "http": _Tshark(("HTTPRequest", "HTTPResponse"), lambda _h, _p: 1),
    "http.request": _Tshark(("HTTPRequest",), lambda _r, _p: 1),
    "http.response": _Tshark(("HTTPResponse",), lambda _r, _p: 1),
    "http.request.method": _Tshark(("HTTPRequest",), _text("method"), "text"),
    "http.request.uri": _Tshark(("HTTPRequest",), _text("target"), "text"),
    "http.request.version": _Tshark(("HTTPRequest",), _text("version"), "text"),
    "http.response.version": _Tshark(("HTTPResponse",), _text("version"), "text"),
    "http.response.code": _Tshark(("HTTPResponse",), _status),
    "http.response.phrase": _Tshark(("HTTPResponse",), _phrase, "text"),
    "http.content_length": _Tshark(_HTTP, _http_field("Content-Length", number=True)),
    **{f"http.{key}": _Tshark(_HTTP, _http_field(header), "text")
       for key, header in _HTTP_FIELDS.items()},
    "sip": _Tshark(_SIP, lambda _s, _p: 1),
    "sip.Method": _Tshark(("SIPRequest",), _text("method"), "text"),
    "sip.r-uri": _Tshark(("SIPRequest",), _text("request_uri"), "text"),
    "sip.Status-Code": _Tshark(("SIPResponse",), _sip_status),
    **{f"sip.{header}": _Tshark(_SIP, _http_field(header), "text") for header in _SIP_FIELDS},
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
