"""Conformance with tshark on the corpus: every packet of every capture, column by column.

For each capture in ../shared/corpus/captures (bad capture files aside) every packet is
decoded with ``pktspec.open`` and compared with tshark's reading of it in
``truth/F.fields.tsv``. The comparison is a table, COLUMNS: a tshark field, the protocol it
belongs to, the layer fields it needs, and an extractor that renders our value the way tshark
prints it (multi-occurrence values comma-joined, outer header first).

A column counts as implemented when every layer it reads is registered and has the fields it
reads; the others are listed as "not implemented" in the summary, not failed, so protocols
light up here as they land. Every implemented column must agree exactly, except the cases
listed with a reason in conformance_exceptions.tsv (a listed case that agrees again, or that
no longer exists, fails too, so the file stays true). Columns that are tshark's diagnostics or
capture-file matters are listed in NOT_COMPARED with the reason.

The summary (agreement per protocol and per column) is printed (visible with -s) and written
to $TMPDIR/pktspec-conformance.txt. The badpkt__ captures are also checked to decode without
raising, with an error layer (or a truncated capture) and the layers before it as tshark's.
"""

from __future__ import annotations

import csv
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import pktspec
from pktspec.runtime.registry import REGISTRY
from tests.conftest import CAPTURES, TRUTH, corpus_captures, corpus_or_skip

pytestmark = pytest.mark.corpus

EXCEPTIONS_FILE = Path(__file__).with_name("conformance_exceptions.tsv")
REPORT_FILE = Path(tempfile.gettempdir()) / "pktspec-conformance.txt"

# ---- rendering values as tshark prints them ------------------------------------------------


def join(values: Iterable[Any]) -> str | None:
    """Comma-joined, outer first; None when there is no value at all."""
    out = [str(int(v)) if isinstance(v, int) and not isinstance(v, bool) else str(v)
           for v in values if v is not None]  # enum members print their name: tshark the number
    return ",".join(out) if out else None


def hexn(width: int) -> Callable[[int | None], str | None]:
    return lambda v: None if v is None else f"0x{int(v):0{width}x}"


hex2, hex4, hex6, hex8 = hexn(2), hexn(4), hexn(6), hexn(8)


def scalar(value: Any) -> Any:
    """A number from a decoded option value: the value itself, or the only field of a struct."""
    if isinstance(value, dict):
        items = [v for k, v in value.items() if not str(k).startswith("_")]
        return items[0] if len(items) == 1 else None
    return value


def get(item: Any, key: str) -> Any:
    """A field of a decoded struct (a construct Container or a dict)."""
    if isinstance(item, dict):
        return item.get(key)
    return getattr(item, key, None)


class View:
    """One decoded packet, its layers grouped by name (in order) for the extractors."""

    __slots__ = ("packet", "layers", "named")

    def __init__(self, packet: Any) -> None:
        self.packet = packet
        self.layers = packet.layers
        named: dict[str, list[Any]] = defaultdict(list)
        for layer in self.layers:
            named[layer.name].append(layer)
        self.named = named

    def __getitem__(self, name: str) -> list[Any]:
        return self.named.get(name, [])

    def of(self, *names: str) -> list[Any]:
        """Layers called any of names, in packet order."""
        if len(names) == 1:
            return self[names[0]]
        return [layer for layer in self.layers if layer.name in names]

    def before(self, layer: Any, names: tuple[str, ...]) -> Any:
        """The nearest layer called one of names before layer."""
        found = None
        for other in self.layers:
            if other is layer:
                return found
            if other.name in names:
                found = other
        return None


# ---- extractors needing a little logic ---------------------------------------------------


def tcp_len(v: View) -> str | None:
    """TCP segment length as tshark computes it: from the IP lengths, not the capture (but
    never past the frame's length), and unknown in a fragment of a larger datagram."""
    out = []
    frame_end = v.packet.metadata.length
    for tcp in v["TCP"]:
        ip = v.before(tcp, ("IPv4", "IPv6", "IPv6Fragment"))
        if ip is None:
            continue
        if ip.name == "IPv6Fragment":
            if ip.more_fragments:
                continue
            ip = v.before(ip, ("IPv6",))
        if ip.name == "IPv4":
            if ip.flags.more_fragments:
                continue
            reported_end = ip.offset + ip.total_length
        else:
            reported_end = ip._hend + ip.payload_length
        out.append(min(reported_end, frame_end) - tcp._hend)
    return join(out)


def tcp_options(v: View, kinds: tuple[int, ...] | None, pick: Callable[[Any], Any]) -> str | None:
    out = []
    for tcp in v["TCP"]:
        for opt in tcp.options or ():
            if kinds is None or get(opt, "kind") in kinds:
                value = pick(opt)
                out.extend(value if isinstance(value, list) else [value])
    return join(out)


def sack_edges(edge: str) -> Callable[[Any], Any]:
    def pick(opt: Any) -> list[Any]:
        blocks = get(opt, "value")
        if isinstance(blocks, dict):
            blocks = scalar(blocks)
        return [get(b, edge) for b in blocks or ()]
    return pick


def gre_flags_and_version(g: Any) -> str:
    bits = (g.checksum_present << 15 | g.routing_present << 14 | g.key_present << 13
            | g.seq_present << 12 | g.strict_source_route << 11 | g.recursion_control << 8
            | g.ack_present << 7 | g.flags << 3 | g.version)
    return hex4(bits)


def arp_ipv4(which: str) -> Callable[[View], str | None]:
    def extract(v: View) -> str | None:
        return join(getattr(a, which) for a in v["ARP"]  # addr[4]: dotted text already
                    if a.protocol == 0x0800 and a.prot_address_size == 4)
    return extract


def llc_pid(v: View) -> str | None:
    # tshark names the SNAP protocol ID llc.type when the OUI is 0 (an EtherType) and
    # llc.cisco_pid for Cisco's OUI; llc.pid is the others.
    return join(hex4(s.protocol_id) for s in v["SNAP"] if s.oui not in (0, 0x00000C))


def dns_names(v: View) -> str | None:
    out = []
    for dns in v["DNS"]:
        for q in dns.questions or ():
            name = get(q, "name")
            out.append("<Root>" if name in ("", ".") else str(name).rstrip("."))
    return join(out)


def dhcp_message_type(v: View) -> str | None:
    out = []
    for dhcp in v["DHCPv4"]:
        for opt in dhcp.options or ():
            code = get(opt, "code")
            if code is None:
                code = get(opt, "type")
            if code == 53:
                out.append(scalar(get(opt, "value")))
    return join(out)


# ---- the column table ------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One tshark field: its protocol, the (layer, fields) it reads, and how to read it."""

    name: str
    protocol: str
    needs: tuple[tuple[str, tuple[str, ...]], ...]
    extract: Callable[[View], str | None]

    def missing(self) -> str | None:
        """Why the column is not implemented yet (None when it is)."""
        for layer, fields in self.needs:
            cls = REGISTRY.get_layer(layer)
            if cls is None:
                return f"no {layer} layer"
            have = {info.name for info in cls.fields_info}
            lacking = [f for f in fields if f not in have]
            if lacking:
                return f"{layer} has no field {', '.join(lacking)}"
        return None


def each(layers: str | tuple[str, ...], attr: str, fmt: Callable[[Any], Any] = lambda x: x,
         when: Callable[[Any], bool] = lambda _: True) -> Callable[[View], str | None]:
    """The extractor 'attr of every layer called layers, formatted'."""
    names = (layers,) if isinstance(layers, str) else layers

    def extract(v: View) -> str | None:
        return join(fmt(getattr(layer, attr)) for layer in v.of(*names) if when(layer))
    return extract


def col(name: str, protocol: str, needs: dict[str, tuple[str, ...]],
        extract: Callable[[View], str | None]) -> Column:
    return Column(name, protocol, tuple(needs.items()), extract)


def simple(name: str, protocol: str, layer: str | tuple[str, ...], attr: str,
           fmt: Callable[[Any], Any] = lambda x: x,
           when: Callable[[Any], bool] = lambda _: True) -> Column:
    layers = (layer,) if isinstance(layer, str) else layer
    return col(name, protocol, {lay: (attr,) for lay in layers}, each(layers, attr, fmt, when))


def _flag(f: str) -> Callable[[Any], int]:
    return lambda flags: int(getattr(flags, f))


SLL = ("LinuxSLL", "LinuxSLL2")
COLUMNS: tuple[Column, ...] = (
    col("frame.len", "frame", {}, lambda v: str(v.packet.metadata.length)),
    col("frame.cap_len", "frame", {}, lambda v: str(v.packet.metadata.caplen)),
    simple("eth.src", "eth", "Ethernet", "src"),
    simple("eth.dst", "eth", "Ethernet", "dst"),
    simple("eth.type", "eth", "Ethernet", "ethertype", hex4, lambda e: e.ethertype > 1500),
    simple("eth.len", "eth", "Ethernet", "ethertype", when=lambda e: e.ethertype <= 1500),
    simple("vlan.id", "vlan", "Dot1Q", "vlan_id"),
    simple("vlan.etype", "vlan", "Dot1Q", "ethertype", hex4, lambda q: q.ethertype > 1500),
    simple("vlan.priority", "vlan", "Dot1Q", "priority"),
    simple("llc.dsap", "llc", "LLC", "dsap", hex2),
    simple("llc.ssap", "llc", "LLC", "ssap", hex2),
    col("llc.pid", "llc", {"SNAP": ("oui", "protocol_id")}, llc_pid),
    simple("sll.pkttype", "sll", SLL, "packet_type"),
    simple("sll.etype", "sll", SLL, "ethertype", hex4),
    simple("null.family", "null", "Loopback", "family"),
    simple("pppoe.code", "pppoe", "PPPoE", "code", hex2),
    simple("pppoe.session_id", "pppoe", "PPPoE", "session_id", hex4),
    simple("ppp.protocol", "ppp", "PPP", "protocol", hex4),
    simple("mpls.label", "mpls", "MPLS", "label"),
    simple("mpls.bottom", "mpls", "MPLS", "stack_bottom"),
    simple("mpls.ttl", "mpls", "MPLS", "ttl"),
    simple("arp.opcode", "arp", "ARP", "operation"),
    col("arp.src.proto_ipv4", "arp", {"ARP": ("source_prot_address",)},
        arp_ipv4("source_prot_address")),
    col("arp.dst.proto_ipv4", "arp", {"ARP": ("dst_prot_address",)},
        arp_ipv4("dst_prot_address")),
    # tshark's IPv6 dissector fills ip.version too
    simple("ip.version", "ip", ("IPv4", "IPv6"), "version"),
    simple("ip.hdr_len", "ip", "IPv4", "ihl", lambda n: 4 * n),
    simple("ip.len", "ip", "IPv4", "total_length"),
    simple("ip.id", "ip", "IPv4", "id", hex4),
    simple("ip.flags.df", "ip", "IPv4", "flags", _flag("dont_fragment")),
    simple("ip.flags.mf", "ip", "IPv4", "flags", _flag("more_fragments")),
    simple("ip.frag_offset", "ip", "IPv4", "fragment_offset"),
    simple("ip.ttl", "ip", "IPv4", "ttl"),
    simple("ip.proto", "ip", "IPv4", "protocol"),
    simple("ip.checksum", "ip", "IPv4", "checksum", hex4),
    simple("ip.src", "ip", "IPv4", "src"),
    simple("ip.dst", "ip", "IPv4", "dst"),
    col("ip.opt.type", "ip", {"IPv4": ("options",)},
        lambda v: join(get(o, "type") for ip in v["IPv4"] for o in ip.options or ())),
    simple("ipv6.plen", "ipv6", "IPv6", "payload_length"),
    simple("ipv6.nxt", "ipv6", "IPv6", "next_header"),
    simple("ipv6.hlim", "ipv6", "IPv6", "hop_limit"),
    simple("ipv6.src", "ipv6", "IPv6", "src"),
    simple("ipv6.dst", "ipv6", "IPv6", "dst"),
    simple("ipv6.fraghdr.offset", "ipv6", "IPv6Fragment", "fragment_offset"),
    simple("ipv6.fraghdr.more", "ipv6", "IPv6Fragment", "more_fragments"),
    simple("ipv6.fraghdr.ident", "ipv6", "IPv6Fragment", "identification", hex8),
    simple("icmp.type", "icmp", "ICMPv4", "type"),
    simple("icmp.code", "icmp", "ICMPv4", "code"),
    simple("icmpv6.type", "icmpv6", "ICMPv6", "type"),
    simple("icmpv6.code", "icmpv6", "ICMPv6", "code"),
    simple("gre.proto", "gre", "GRE", "protocol", hex4),
    col("gre.flags_and_version", "gre",
        {"GRE": ("checksum_present", "routing_present", "key_present", "seq_present",
                 "strict_source_route", "recursion_control", "ack_present", "flags",
                 "version")},
        lambda v: join(gre_flags_and_version(g) for g in v["GRE"])),
    simple("gre.key", "gre", "GRE", "key", hex8),
    simple("tcp.srcport", "tcp", "TCP", "src_port"),
    simple("tcp.dstport", "tcp", "TCP", "dst_port"),
    simple("tcp.seq_raw", "tcp", "TCP", "seq"),
    simple("tcp.ack_raw", "tcp", "TCP", "ack"),
    col("tcp.flags", "tcp", {"TCP": ("reserved", "flags")},
        lambda v: join(hex4(t.reserved << 9 | int(t.flags)) for t in v["TCP"])),
    col("tcp.len", "tcp", {"TCP": (), "IPv4": ("total_length",), "IPv6": ("payload_length",)},
        tcp_len),
    simple("tcp.hdr_len", "tcp", "TCP", "data_offset", lambda n: 4 * n),
    simple("tcp.window_size_value", "tcp", "TCP", "window"),
    col("tcp.option_kind", "tcp", {"TCP": ("options",)},
        lambda v: tcp_options(v, None, lambda o: get(o, "kind"))),
    col("tcp.options.mss_val", "tcp", {"TCP": ("options",)},
        lambda v: tcp_options(v, (2,), lambda o: scalar(get(o, "value")))),
    col("tcp.options.wscale.shift", "tcp", {"TCP": ("options",)},
        lambda v: tcp_options(v, (3,), lambda o: scalar(get(o, "value")))),
    col("tcp.options.sack_le", "tcp", {"TCP": ("options",)},
        lambda v: tcp_options(v, (5,), sack_edges("left"))),
    col("tcp.options.sack_re", "tcp", {"TCP": ("options",)},
        lambda v: tcp_options(v, (5,), sack_edges("right"))),
    simple("udp.srcport", "udp", "UDP", "src_port"),
    simple("udp.dstport", "udp", "UDP", "dst_port"),
    simple("udp.length", "udp", "UDP", "length"),
    simple("udp.checksum", "udp", "UDP", "checksum", hex4),
    simple("sctp.srcport", "sctp", "SCTP", "src_port"),
    simple("sctp.dstport", "sctp", "SCTP", "dst_port"),
    col("sctp.chunk_type", "sctp", {"SCTP": ("chunks",)},
        lambda v: join(get(c, "type") for s in v["SCTP"] for c in s.chunks or ())),
    simple("vxlan.vni", "vxlan", "VXLAN", "vni"),
    simple("geneve.vni", "geneve", "Geneve", "vni", hex6),
    simple("dns.id", "dns", "DNS", "id", hex4),
    col("dns.qry.name", "dns", {"DNS": ("questions",)}, dns_names),
    simple("dns.flags.response", "dns", "DNS", "qr"),
    simple("dns.count.queries", "dns", "DNS", "qd_count"),
    simple("dns.count.answers", "dns", "DNS", "an_count"),
    col("dhcp.option.dhcp", "dhcp", {"DHCPv4": ("options",)}, dhcp_message_type),
    simple("dhcp.id", "dhcp", "DHCPv4", "xid", hex8),
    simple("ntp.flags.mode", "ntp", "NTP", "mode"),
    simple("ntp.stratum", "ntp", "NTP", "stratum"),
)

NOT_COMPARED = {
    "frame.number": "the row index, used to pair rows with packets",
    "frame.protocols": "compared as the layer chain (column 'layers'), mapped to tshark names",
    "frame.time_epoch": "capture-file matter: tests/capture/test_corpus_formats.py",
    "frame.interface_id": "capture-file matter: tests/capture/test_corpus_formats.py",
    "frame.encap_type": "Wireshark's WTAP_ENCAP number, not a packet field",
    "frame.comment": "capture-file matter: tests/capture/test_corpus_formats.py",
    "tcp.stream": "tshark's conversation index, not a header field",
    "_ws.malformed": "tshark's diagnostics; the badpkt test checks for an error layer",
    "_ws.expert": "tshark's diagnostics (TCP analysis included); not a header field",
    "_ws.short": "tshark's diagnostics; the badpkt test checks for an error layer",
}

# Our layer names as tshark's protocol names, for the layer chain. Consecutive equal names
# are one protocol to tshark (LLC and SNAP are both "llc"; an ICMPv6 header and its body
# are both "icmpv6"). Other layers are known by their name in lower case (TLS: "tls").
TSHARK_NAMES = {
    "Ethernet": "eth", "Dot1Q": "vlan", "Dot1AD": "ieee8021ad", "LLC": "llc", "SNAP": "llc",
    "LinuxSLL": "sll", "LinuxSLL2": "sll", "Loopback": "null", "RawIP": "raw",
    "PPPHDLC": "ppp", "PPPoE": "pppoe", "IPv4": "ip", "IPv6HopByHop": "ipv6.hopopts",
    "IPv6Routing": "ipv6.routing", "IPv6Fragment": "ipv6.fraghdr",
    "IPv6Destination": "ipv6.dstopts", "IPSecAH": "ah", "IPSecESP": "esp", "ICMPv4": "icmp",
    "DNSOverTCP": "dns", "DHCPv4": "dhcp", "Payload": "data", "Fragment": "data",
    "Dot11": "wlan", "HTTPRequest": "http", "HTTPResponse": "http",
    "LinkLayerDiscovery": "lldp", "CiscoDiscovery": "cdp",
}
TSHARK_PREFIXES = (("ICMPv6", "icmpv6"), ("MLD", "icmpv6"))
TSHARK_ALIASES = {"pppoed": "pppoe", "pppoes": "pppoe"}
# tshark's protocols that are no header of the packet: "wlan_radio" is the radio information
# it gathers from radiotap (or another capture header) to show beside 802.11
TSHARK_NO_HEADER = frozenset({"ethertype", "wlan_radio"})


def tshark_name(layer_name: str) -> str:
    if layer_name in TSHARK_NAMES:
        return TSHARK_NAMES[layer_name]
    for prefix, name in TSHARK_PREFIXES:
        if layer_name.startswith(prefix):
            return name
    return layer_name.lower()


def our_chain(packet: Any) -> list[str]:
    """Our layers as tshark's chain: a failed layer counts (tshark shows what it could read of
    it), and a trailing "data" is dropped (tshark's dissectors differ in showing it)."""
    chain: list[str] = []
    for layer in packet.layers:
        name = tshark_name(packet.error.layer if layer.name == "DecodeFailure" else layer.name)
        if not chain or chain[-1] != name:
            chain.append(name)
    while chain and chain[-1] == "data":
        chain.pop()
    return chain


@cache
def known_tshark_names() -> frozenset[str]:
    return frozenset(tshark_name(cls.name) for cls in REGISTRY.layers())


def tshark_protocols(row: dict[str, str]) -> list[str]:
    out: list[str] = []
    for p in row["frame.protocols"].split(":"):
        p = TSHARK_ALIASES.get(p, p)
        if p not in TSHARK_NO_HEADER and not (out and out[-1] == p):
            out.append(p)
    return out


def tshark_chain(protocols: list[str]) -> list[str]:
    """tshark's chain as far as we have layers for it: cut at the first protocol we have no
    layer for (what follows is then our Payload), trailing "data" dropped."""
    known = known_tshark_names()
    out: list[str] = []
    for p in protocols:
        if p not in known:
            break
        out.append(p)
    while out and out[-1] == "data":
        out.pop()
    return out


def http_continuation(ours: str, expected: str) -> bool:
    """tshark calls every segment of an HTTP connection "http", a body continued from an
    earlier segment too; pktspec's HTTP layers decode a segment that starts a message (a
    request or a status line) and leave a continuation as Payload. Such a frame's chains
    differ by that last "http" only."""
    return expected.endswith(":http") and ours == expected[: -len(":http")]


def blocker(protocols: list[str]) -> str | None:
    """The protocol we have no layer for that hides protocols we do decode after it (a
    tunnel or link type not implemented yet), or None."""
    known = known_tshark_names()
    for i, p in enumerate(protocols):
        if p not in known:
            after = [q for q in protocols[i + 1:] if q != "data"]
            return p if any(q in known for q in after) else None
    return None


LAYERS = Column("layers", "chain", (), lambda v: ":".join(our_chain(v.packet)))

# ---- running the comparison ------------------------------------------------------------


def truth_rows(name: str) -> list[dict[str, str]]:
    with open(TRUTH / f"{name}.fields.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    # pcapng Custom Blocks are frames to tshark 4.0 (empty encapsulation), not packets
    return [r for r in rows if not (r["frame.encap_type"] == "" and r["frame.protocols"] == "data")]


@dataclass
class Mismatch:
    capture: str
    frame: str
    column: str
    ours: str
    theirs: str


@dataclass
class Results:
    missing: dict[str, str]  # column -> why not implemented
    compared: Counter  # column -> values compared (either side non-empty)
    agreed: Counter
    excepted: Counter
    blocked: Counter  # column -> values behind a protocol we have no layer for
    blockers: Counter  # protocol -> packets it hides layers in
    mismatches: list[Mismatch]
    unused_exceptions: list[tuple[str, str, str, str]]
    packets: int
    captures: int


@dataclass(frozen=True)
class Exception_:
    """One line of the exceptions file: a capture, frames ('*': all), a column pattern
    (fnmatch, e.g. 'tcp.*') and why pktspec differs there."""

    capture: str
    frames: frozenset[str]
    column: str
    reason: str

    def covers(self, capture: str, frame: str, column: str) -> bool:
        return (capture == self.capture and ("*" in self.frames or frame in self.frames)
                and fnmatchcase(column, self.column))


def load_exceptions() -> list[Exception_]:
    out = []
    with open(EXCEPTIONS_FILE, newline="") as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            assert len(fields) == 4 and fields[3].strip(), \
                f"{EXCEPTIONS_FILE.name}:{n}: want capture, frames, column, reason"
            capture, frames, column, reason = fields
            out.append(Exception_(capture, frozenset(f.strip() for f in frames.split(",")),
                                  column, reason))
    return out


def render_value(column: Column, view: View) -> str:
    try:
        value = column.extract(view)
    except Exception as exc:  # noqa: BLE001 - an extractor error is a mismatch, shown as such
        return f"<{type(exc).__name__}: {exc}>"
    return "" if value is None else value


def is_prefix(ours: str, theirs: str) -> bool:
    mine, full = ours.split(",") if ours else [], theirs.split(",")
    return len(mine) < len(full) and full[:len(mine)] == mine


@cache
def run() -> Results:
    corpus_or_skip()
    columns = [LAYERS, *COLUMNS]
    missing = {c.name: why for c in columns if (why := c.missing())}
    implemented = [c for c in columns if c.name not in missing]
    exceptions = load_exceptions()
    used: set[Exception_] = set()
    compared, agreed, excepted, blocked, blockers = (Counter() for _ in range(5))
    mismatches: list[Mismatch] = []
    packets = 0
    names = [n for n in corpus_captures() if not n.startswith("badfile__")]
    for name in names:
        rows = truth_rows(name)
        with pktspec.open(CAPTURES / name) as source:
            decoded = list(source)
        assert len(decoded) == len(rows), f"{name}: {len(decoded)} packets, tshark {len(rows)}"
        for packet, row in zip(decoded, rows, strict=True):
            packets += 1
            view = View(packet)
            protocols = tshark_protocols(row)
            hidden = blocker(protocols)
            if hidden:
                blockers[hidden] += 1
            for column in implemented:
                if column is LAYERS:
                    expected = ":".join(tshark_chain(protocols))
                else:
                    expected = row[column.name]
                ours = render_value(column, view)
                if not ours and not expected:
                    continue
                compared[column.name] += 1
                if ours == expected or (column is LAYERS and http_continuation(ours, expected)):
                    agreed[column.name] += 1
                    continue
                if hidden and is_prefix(ours, expected):
                    blocked[column.name] += 1
                    continue
                frame = row["frame.number"]
                case = next((e for e in exceptions if e.covers(name, frame, column.name)), None)
                if case is not None:
                    excepted[column.name] += 1
                    used.add(case)
                else:
                    mismatches.append(Mismatch(name, frame, column.name, ours, expected))
    unused = [(e.capture, ",".join(sorted(e.frames)), e.column, e.reason) for e in exceptions
              if e not in used and not all(c.name in missing for c in columns
                                           if fnmatchcase(c.name, e.column))]
    return Results(missing, compared, agreed, excepted, blocked, blockers, mismatches, unused,
                   packets, len(names))


def summary_table(r: Results) -> str:
    lines = [f"tshark conformance: {r.packets} packets in {r.captures} captures",
             f"{'protocol':<8} {'column':<26} {'compared':>8} {'agree':>7} {'except':>6} "
             f"{'hidden':>6} {'differ':>6}  agreement"]
    differ = Counter(m.column for m in r.mismatches)
    by_protocol: dict[str, list[Column]] = defaultdict(list)
    for c in (LAYERS, *COLUMNS):
        by_protocol[c.protocol].append(c)
    for protocol, cols in by_protocol.items():
        totals: Counter = Counter()
        for c in cols:
            if c.name in r.missing:
                lines.append(f"{protocol:<8} {c.name:<26} {'':>39}  not implemented "
                             f"({r.missing[c.name]})")
                continue
            row = (r.compared[c.name], r.agreed[c.name], r.excepted[c.name], r.blocked[c.name],
                   differ[c.name])
            totals.update(dict(zip("naebd", row, strict=True)))
            lines.append(f"{protocol:<8} {c.name:<26} " + _counts(*row))
        if totals and len(cols) > 1:
            lines.append(f"{protocol:<8} {'(all)':<26} " + _counts(
                *(totals[k] for k in "naebd")))
    hidden = ", ".join(f"{p} ({n} packets)" for p, n in r.blockers.most_common())
    lines.append("hidden: values behind a protocol with no layer yet: " + (hidden or "none"))
    lines.append("not compared: " + "; ".join(f"{k} ({v})" for k, v in NOT_COMPARED.items()))
    return "\n".join(lines)


def _counts(n: int, a: int, e: int, b: int, d: int) -> str:
    pct = f"{100 * a / n:.1f}%" if n else "-"
    return f"{n:>8} {a:>7} {e:>6} {b:>6} {d:>6}  {pct}"


def test_every_implemented_column_agrees_with_tshark():
    r = run()
    table = summary_table(r)
    REPORT_FILE.write_text(table + "\n", encoding="utf-8")
    print("\n" + table)
    shown = "\n".join(f"  {m.capture} frame {m.frame} {m.column}: ours {m.ours!r}, "
                      f"tshark {m.theirs!r}" for m in r.mismatches[:40])
    assert not r.mismatches, (f"{len(r.mismatches)} values differ from tshark (add a case to "
                              f"{EXCEPTIONS_FILE.name} only with a reason):\n{shown}")


def test_exceptions_are_all_still_needed():
    r = run()
    assert not r.unused_exceptions, (
        f"cases in {EXCEPTIONS_FILE.name} that now agree with tshark (or no longer exist); "
        "remove them:\n" + "\n".join("  " + "\t".join(u) for u in r.unused_exceptions))


def test_every_column_of_the_truth_is_compared_or_explained():
    corpus_or_skip()
    with open(TRUTH / "proto__zk-pppoe.pcap.fields.tsv", newline="") as f:
        header = f.readline().rstrip("\n").split("\t")
    ours = {c.name for c in COLUMNS} | set(NOT_COMPARED)
    assert [h for h in header if h not in ours] == []


# ---- badpkt: no exception, an error layer where the bytes are bad ----------------------------

BADPKT = corpus_captures("badpkt__") or ["corpus-absent"]


def tshark_flags_it(row: dict[str, str]) -> bool:
    """tshark found the packet malformed, cut short, or in error."""
    return bool(row["_ws.malformed"] or row["_ws.short"] or "(Error/" in row["_ws.expert"])


@pytest.mark.parametrize("name", BADPKT)
def test_bad_packets_decode_to_an_error_layer(name):
    """Decoding never raises; where tshark finds the packet malformed or short, pktspec has an
    error layer (or the capture itself is cut short), and a layer fails only where tshark
    finds fault too. That the layers before the error are tshark's is the 'layers' column
    of the main test."""
    corpus_or_skip()
    rows = truth_rows(name)
    with pktspec.open(CAPTURES / name) as source:
        packets = list(source)  # must not raise
    exceptions = load_exceptions()
    for packet, row in zip(packets, rows, strict=True):
        where = f"{name} frame {row['frame.number']}: {packet!r}"
        if any(e.covers(name, row["frame.number"], "error") for e in exceptions):
            continue
        if tshark_flags_it(row):
            assert packet.error is not None or packet.truncated, where
        else:
            assert packet.error is None, f"{where}: {packet.error}"
