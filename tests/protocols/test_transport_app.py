"""The transport and application protocols: TCP (with its options), UDP, SCTP, VXLAN, Geneve,
DNS, DHCPv4, DHCPv6, NTP and TLS.

- Against tshark: every corpus packet that carries one of them is decoded and the columns of
  truth/F.fields.tsv that belong to them are compared. A value may differ only where pktspec
  stopped decoding before it (a DecodeFailure at a header the capture cut short, or a layer
  this file does not own that is not decoded yet); those cases are counted by reason and
  printed (-s), never dropped silently, and everything else must be equal.
- The fast path and the construct FORMAT agree on every one of these layers in the corpus,
  and FORMAT builds the bytes it parsed again.
- Hand-made packets for what the corpus lacks (compression loops, TCP Fast Open, SNI, DNS over
  TCP), and hypothesis-generated ones that must never make decode raise.
"""

from __future__ import annotations

import csv
import struct
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.errors import DecodeError
from pktspec.protocols.dhcpv4 import DHCPv4
from pktspec.protocols.dhcpv6 import DHCPv6
from pktspec.protocols.dns import DNS, DNSOverTCP
from pktspec.protocols.geneve import Geneve
from pktspec.protocols.ntp import NTP
from pktspec.protocols.sctp import SCTP
from pktspec.protocols.tcp import TCP
from pktspec.protocols.tls import TLS
from pktspec.protocols.udp import UDP
from pktspec.protocols.vxlan import VXLAN
from tests.conftest import CAPTURES, TRUTH, corpus_captures, corpus_or_skip

MINE = (TCP, UDP, SCTP, VXLAN, Geneve, DNS, DNSOverTCP, DHCPv4, DHCPv6, NTP, TLS)
MINE_NAMES = frozenset(cls.name for cls in MINE)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def plain(value: Any) -> Any:
    """construct Containers and lists as plain dicts and lists, without private keys."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value


def agree(layer: Any) -> dict | None:
    """The fast path's raw fields equal what FORMAT parses from the layer's header bytes; a
    lazily decoded part that does not decode fails both (None then)."""
    try:
        fast = plain(layer.raw_fields())
    except DecodeError:
        with pytest.raises(Exception):  # noqa: B017 - construct's own error types
            type(layer).FORMAT.parse(bytes(layer.contents))
        return None
    ref = plain(dict(type(layer).FORMAT.parse(bytes(layer.contents))))
    assert fast == ref, layer.name
    return fast


# ---- tshark's columns, read from our layers ---------------------------------------------------


def _tcp(layer: Any, out: dict[str, list]) -> None:
    out["tcp.srcport"].append(layer.src_port)
    out["tcp.dstport"].append(layer.dst_port)
    out["tcp.seq_raw"].append(layer.seq)
    out["tcp.ack_raw"].append(layer.ack)
    out["tcp.flags"].append(f"0x{layer.reserved << 9 | int(layer.flags):04x}")
    out["tcp.hdr_len"].append(len(layer.contents))
    out["tcp.window_size_value"].append(layer.window)
    for opt in layer.options:
        out["tcp.option_kind"].append(opt.kind)
        if opt.kind == 2:
            out["tcp.options.mss_val"].append(opt.value.mss)
        elif opt.kind == 3:
            out["tcp.options.wscale.shift"].append(opt.value.shift)
        elif opt.kind == 5:
            out["tcp.options.sack_le"].extend(block.left for block in opt.value)
            out["tcp.options.sack_re"].extend(block.right for block in opt.value)


def _tcp_len(packet: Any, out: dict[str, list]) -> None:
    # tshark's tcp.len comes from the IP lengths and is left out in a first fragment
    ip = None
    for layer in packet.layers:
        if layer.name in ("IPv4", "IPv6"):
            ip = layer
        if layer.name == "TCP":
            if ip is not None and ip.name == "IPv4" and ip.flags.more_fragments:
                continue
            out["tcp.len"].append(len(layer.payload))


def _udp(layer: Any, out: dict[str, list]) -> None:
    out["udp.srcport"].append(layer.src_port)
    out["udp.dstport"].append(layer.dst_port)
    out["udp.length"].append(layer.length)
    out["udp.checksum"].append(f"0x{layer.checksum:04x}")


def _dns(layer: Any, out: dict[str, list]) -> None:
    out["dns.id"].append(f"0x{layer.id:04x}")
    out["dns.qry.name"].extend(q.name for q in layer.questions)
    out["dns.flags.response"].append(layer.qr)
    out["dns.count.queries"].append(layer.qd_count)
    out["dns.count.answers"].append(layer.an_count)


def _sctp(layer: Any, out: dict[str, list]) -> None:
    out["sctp.srcport"].append(layer.src_port)
    out["sctp.dstport"].append(layer.dst_port)
    out["sctp.chunk_type"].extend(chunk.type for chunk in layer.chunks)


def _dhcp(layer: Any, out: dict[str, list]) -> None:
    out["dhcp.id"].append(f"0x{layer.xid:08x}")
    out["dhcp.option.dhcp"].extend(o.value for o in layer.options or () if o.code == 53)


def _ntp(layer: Any, out: dict[str, list]) -> None:
    out["ntp.flags.mode"].append(layer.mode)
    if layer.stratum is not None:
        out["ntp.stratum"].append(layer.stratum)


EXTRACT: dict[str, Callable[[Any, dict[str, list]], None]] = {
    "TCP": _tcp,
    "UDP": _udp,
    "DNS": _dns,
    "SCTP": _sctp,
    "DHCPv4": _dhcp,
    "NTP": _ntp,
    "VXLAN": lambda layer, out: out["vxlan.vni"].append(layer.vni),
    "Geneve": lambda layer, out: out["geneve.vni"].append(f"0x{layer.vni:06x}"),
}

# column -> the layer that provides it
COLUMNS = {
    **{c: "TCP" for c in ("tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw",
                          "tcp.flags", "tcp.len", "tcp.hdr_len", "tcp.window_size_value",
                          "tcp.option_kind", "tcp.options.mss_val",
                          "tcp.options.wscale.shift", "tcp.options.sack_le",
                          "tcp.options.sack_re")},
    **{c: "UDP" for c in ("udp.srcport", "udp.dstport", "udp.length", "udp.checksum")},
    **{c: "DNS" for c in ("dns.id", "dns.qry.name", "dns.flags.response",
                          "dns.count.queries", "dns.count.answers")},
    **{c: "SCTP" for c in ("sctp.srcport", "sctp.dstport", "sctp.chunk_type")},
    "vxlan.vni": "VXLAN",
    "geneve.vni": "Geneve",
    "dhcp.id": "DHCPv4",
    "dhcp.option.dhcp": "DHCPv4",
    "ntp.flags.mode": "NTP",
    "ntp.stratum": "NTP",
}


def our_columns(packet: Any, broken: set[str]) -> dict[str, str]:
    """Our values as tshark prints them; layers whose lazily decoded parts fail are added to
    broken (their values stop there, as tshark's stop at a malformed part)."""
    out: dict[str, list] = defaultdict(list)
    for layer in packet.layers:
        extract = EXTRACT.get(layer.name)
        if extract is not None:
            try:
                extract(layer, out)
            except DecodeError:
                broken.add(layer.name)
    _tcp_len(packet, out)
    return {k: ",".join(str(int(v)) if isinstance(v, int) else str(v) for v in values)
            for k, values in out.items() if values}  # enum members as tshark's numbers


def truth_rows(name: str) -> list[dict[str, str]]:
    with open(TRUTH / f"{name}.fields.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    # tshark 4.0 counts pcapng Custom Blocks as frames (no encapsulation): not packets
    return [r for r in rows if r["frame.encap_type"] != ""]


def why_not_compared(packet: Any, layer_name: str, broken: set[str]) -> str | None:
    """Why our packet cannot have the column's value: the reason, or None to compare."""
    if layer_name in broken:
        return f"{layer_name}: a lazily decoded part does not decode (truncated)"
    if any(layer.name == layer_name for layer in packet.layers):
        return None
    error = packet.error
    if error is not None and error.layer in MINE_NAMES:
        return f"{error.layer}: DecodeFailure " + ("(truncated)" if error.truncated
                                                    else "(malformed)")
    last = [layer.name for layer in packet.layers if layer.name != "DecodeFailure"]
    stop = error.layer if error is not None else (last[-1] if last else "-")
    return f"not reached: decoding stops at {stop} (not a layer of this file)"


def compare_capture(name: str, table: dict, stopped: Counter, mismatches: list) -> None:
    rows = truth_rows(name)
    packets = list(pktspec.open(CAPTURES / name))
    assert len(packets) == len(rows), f"{name}: {len(packets)} packets, {len(rows)} in truth"
    for packet, row in zip(packets, rows, strict=True):
        broken: set[str] = set()
        ours = our_columns(packet, broken)
        for column, layer_name in COLUMNS.items():
            theirs = row.get(column, "")
            mine = ours.get(column, "")
            if not theirs and not mine:
                continue
            counts = table[column]
            counts[1] += 1
            if theirs == mine:
                counts[0] += 1
                continue
            reason = why_not_compared(packet, layer_name, broken) if not mine else None
            if reason is not None:
                stopped[(column, reason)] += 1
                counts[2] += 1
            else:
                mismatches.append((name, row["frame.number"], column, theirs, mine))


@pytest.mark.corpus
def test_columns_agree_with_tshark():
    corpus_or_skip()
    table: dict[str, list[int]] = {c: [0, 0, 0] for c in COLUMNS}  # equal, total, stopped
    stopped: Counter = Counter()
    mismatches: list = []
    for name in corpus_captures():
        if not name.startswith("badfile__"):
            compare_capture(name, table, stopped, mismatches)
    lines = [f"{'column':28} {'equal':>6} {'of':>6} {'stopped':>8}"]
    by_protocol: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for column, (equal, total, cut) in table.items():
        lines.append(f"{column:28} {equal:6} {total:6} {cut:8}")
        proto = by_protocol[column.split(".")[0]]
        proto[0] += equal
        proto[1] += total
        proto[2] += cut
    lines.append("")
    lines += [f"{proto:28} {e:6} {t:6} {c:8}" for proto, (e, t, c) in by_protocol.items()]
    lines.append("\nvalues pktspec does not reach, by reason:")
    lines += [f"  {n:4} {column}: {reason}" for (column, reason), n in sorted(stopped.items())]
    print("\n" + "\n".join(lines))  # shown with -s
    assert not mismatches, "\n".join("\t".join(map(str, m)) for m in mismatches[:40])
    # the corpus has these protocols: make sure they were compared, not skipped
    for column in ("tcp.option_kind", "dns.qry.name", "sctp.chunk_type", "geneve.vni",
                   "vxlan.vni", "dhcp.option.dhcp", "ntp.stratum", "tcp.options.sack_le"):
        assert table[column][0] > 0, column
    # a value stops being compared only where tshark read a header that we report as broken
    assert all(any(why in reason for why in ("DecodeFailure", "not reached", "does not decode"))
               for _, reason in stopped)


# ---- fast path and construct on the corpus ----------------------------------------------------


def corpus_layers(names: tuple[str, ...]) -> list[Any]:
    corpus_or_skip()
    out = []
    for name in corpus_captures():
        if name.startswith("badfile__"):
            continue
        for packet in pktspec.open(CAPTURES / name):
            out.extend(layer for layer in packet.layers if layer.name in names)
    return out


@pytest.mark.corpus
def test_fast_path_equals_construct_and_builds_again():
    seen: Counter = Counter()
    for layer in corpus_layers(tuple(MINE_NAMES)):
        if agree(layer) is None:
            continue  # both paths fail on a broken message (a truncated DNS answer)
        seen[layer.name] += 1
        data = bytes(layer.contents)
        fmt = type(layer).FORMAT
        if layer.name == "DNS":
            continue  # names are built uncompressed: see test_dns_builds_what_it_parses
        rebuilt = fmt.build(fmt.parse(data))
        if layer.name == "TCP" and rebuilt != data:
            # an option whose length runs past the header ends the option list, and the
            # builder pads what it did not decode with zeros
            used = len(TCP.FORMAT.build(fmt.parse(data))) - 20
            assert sum(_option_size(o) for o in layer.options) < used
            continue
        assert rebuilt == data, layer.name
    assert set(seen) >= {"TCP", "UDP", "SCTP", "VXLAN", "Geneve", "DNS", "DHCPv4", "DHCPv6",
                         "NTP", "TLS"}, seen


def _option_size(opt: Any) -> int:
    return 1 if opt.kind < 2 else opt.length


@pytest.mark.corpus
def test_dns_builds_what_it_parses():
    for layer in corpus_layers(("DNS",)):
        if agree(layer) is None:
            continue
        parsed = DNS.FORMAT.parse(bytes(layer.contents))
        if any(rr.type not in (1, 28, 41) for rr in parsed.answers + parsed.additionals) \
                or parsed.authorities:
            continue  # record data holding names would change length once decompressed
        again = DNS.FORMAT.parse(DNS.FORMAT.build(parsed))
        assert plain(dict(again)) == plain(dict(parsed))


# ---- protocols on corpus packets --------------------------------------------------------------


def packets(name: str) -> list[Any]:
    corpus_or_skip()
    return list(pktspec.open(CAPTURES / name))


@pytest.mark.corpus
def test_tcp_options_are_named():
    syn = packets("proto__zk-tcp-options.pcap")[0][TCP]
    assert [o.kind for o in syn.options] == [2, 4, 8, 1, 3]
    mss, sack_ok, ts, nop, ws = syn.options
    assert mss.value.mss == 1460 and ws.value.shift == 6
    assert sack_ok.value == b"" and nop.length is None
    assert ts.value.value == 4294923497 and ts.value.echo_reply == 0
    sack = packets("proto__zk-tcp-option-sack.pcap")[3][TCP]
    blocks = [(b.left, b.right) for b in sack.options[0].value]
    assert blocks == [(1, 16), (256, 4096), (65536, 1048576), (16777216, 268435456)]


@pytest.mark.corpus
def test_tcp_fast_open_experimental_option():
    synack = packets("proto__zk-tcp-fast-open.pcap")[1][TCP]
    tfo = [o for o in synack.options if o.kind == 254][0]
    assert tfo.value.exid == 0xF989 and len(tfo.value.data) == tfo.length - 4 > 0


@pytest.mark.corpus
def test_tcp_options_decode_only_when_read():
    tcp = packets("proto__zk-tcp-options.pcap")[0][TCP]
    assert isinstance(tcp._options, tuple)  # a span of the buffer until someone reads it
    assert len(tcp.options) == 5
    assert isinstance(tcp._options, list)


@pytest.mark.corpus
def test_dns_sections_and_records():
    response = packets("fmt__zk-pcapng-multi-interface-us-ns.pcapng")[1][DNS]
    assert response.qr == 1 and response.questions[0].name == "www.apple.com"
    cname, _, _, a = response.answers
    assert cname.type == 5 and cname.data == "www-apple-com.v.aaplimg.com"
    assert a.type == 1 and a.data == "23.194.101.24" and a.ttl == 9  # addresses as text
    opt = response.additionals[0]
    assert opt.name == "<Root>" and opt.type == 41 and opt.udp_payload_size == 1232
    assert opt.class_ is None and opt.ttl is None and opt.edns_version == 0
    query = packets("fmt__zk-pcapng-multi-interface-us-ns.pcapng")[0][DNS]
    cookie = query.additionals[0].data[0]
    assert cookie.code == 10 and len(cookie.data) == cookie.length == 8


@pytest.mark.corpus
def test_dhcp_options():
    discover = packets("proto__td-dhcp-rfc3004.pcap")[0][DHCPv4]
    assert discover.magic == 0x63825363 and discover.xid == 0x06E32864
    codes = [o.code for o in discover.options]
    assert codes[0] == 53 and codes[-1] == 255
    assert discover.options[0].value == 1
    prl = [o for o in discover.options if o.code == 55]
    assert prl and all(isinstance(c, int) for c in prl[0].value)
    offer = packets("proto__td-dhcp-rfc3004.pcap")[1][DHCPv4]
    assert offer.your_client_ip.count(".") == 3
    server_id = [o for o in offer.options if o.code == 54][0]
    assert server_id.value.count(".") == 3  # an address, as text


@pytest.mark.corpus
def test_dhcpv6_messages():
    found = [p[DHCPv6] for p in packets("proto__zk-pppoe.pcap") if DHCPv6 in p]
    assert len(found) == 4
    for msg in found:
        assert msg.transaction_id is not None and msg.hop_count is None
        codes = [o.code for o in msg.options]
        assert 1 in codes  # client ID
        client = [o for o in msg.options if o.code == 1][0].value
        assert client.type in (1, 2, 3, 4)


@pytest.mark.corpus
def test_ntp_fields():
    request, reply = packets("proto__td-ntp.pcap")[2:4]
    assert request[NTP].mode == 3 and reply[NTP].mode == 4 and reply[NTP].stratum == 2
    assert reply[NTP].version in (3, 4) and reply[NTP].transmit_timestamp > 0
    assert request[NTP].control is None


@pytest.mark.corpus
def test_sctp_chunks():
    data = packets("proto__zk-sctp-communityid.pcap")
    init = data[0][SCTP].chunks[0]
    assert init.type == 1 and init.value.initiate_tag != 0
    sack_then_data = data[5][SCTP].chunks
    assert [c.type for c in sack_then_data] == [3, 0, 0]
    assert sack_then_data[1].value.user_data and sack_then_data[1].value.tsn > 0
    assert data[0][SCTP].flow is not None


@pytest.mark.corpus
def test_tunnels_carry_ethernet():
    vxlan_packet = packets("proto__td-vxlan.pcap")[0]
    names = [layer.name for layer in vxlan_packet.layers]
    assert names[:6] == ["Ethernet", "IPv4", "UDP", "VXLAN", "Ethernet", "IPv4"]
    assert vxlan_packet[VXLAN].valid_vni == 1 and vxlan_packet[VXLAN].vni == 100
    geneve_packet = packets("proto__td-geneve.pcap")[0]
    geneve = geneve_packet[Geneve]
    assert geneve.protocol == 0x6558 and geneve.vni == 10
    assert len(bytes(geneve.contents)) == 8 + 4 * geneve.opt_len
    for opt in geneve.options:
        assert len(opt.data) == 4 * opt.length
    nested = packets("badpkt__zk-geneve-vxlan-dns-truncated.pcap")[0]
    assert [layer.name for layer in nested.layers][:9] == [
        "Ethernet", "IPv4", "UDP", "Geneve", "IPv4", "UDP", "VXLAN", "Ethernet", "IPv4"]


@pytest.mark.corpus
def test_tls_records():
    capture = packets("tcp__zk-tls-ecdhe.pcap")
    hello = capture[3][TLS]
    assert hello.content_type == 22 and hello.handshake_type == 1
    assert hello.client_hello.client_version == 0x0303
    assert len(hello.client_hello.cipher_suites) == 2
    records = [layer for layer in capture[12].layers if layer.name == "TLS"]
    assert [r.content_type for r in records] == [22, 20, 22]
    cut = [layer for layer in capture[5].layers if layer.name == "TLS"]
    assert [r.handshake_type for r in cut] == [2, 11] and capture[5].error is None
    assert cut[1].length > len(cut[1].contents) - 5  # the certificate goes on next segment


@pytest.mark.corpus
def test_no_layer_for_an_empty_payload():
    syn = packets("tcp__zk-tls-ecdhe.pcap")[0]
    assert [layer.name for layer in syn.layers] == ["Ethernet", "IPv4", "TCP"]
    assert syn.error is None


# ---- hand-made packets ------------------------------------------------------------------------


def ipv4_udp(sport: int, dport: int, payload: bytes) -> bytes:
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp


def ipv4_tcp(sport: int, dport: int, payload: bytes, options: bytes = b"") -> bytes:
    offset = (20 + len(options)) // 4
    tcp = struct.pack(">HHIIHHHH", sport, dport, 1, 0, offset << 12 | 0x18, 512, 0, 0)
    tcp += options + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0,
                     bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp


def dns_query(name_bytes: bytes, extra: bytes = b"", qdcount: int = 1, ancount: int = 0) -> bytes:
    return struct.pack(">HHHHHH", 0x1234, 0x0100, qdcount, ancount, 0, 0) + name_bytes + extra


def test_dns_compression_pointer_followed():
    # question example.com at offset 12, answer name www + pointer to it, CNAME to it again
    question = b"\x07example\x03com\x00" + b"\x00\x01\x00\x01"
    answer = (b"\x03www\xc0\x0c" + struct.pack(">HHIH", 5, 1, 60, 2) + b"\xc0\x0c")
    msg = dns_query(question[:-4], question[-4:] + answer, ancount=1)
    dns = pktspec.decode(ipv4_udp(5353, 53, msg), strict=True)[DNS]
    assert dns.questions[0].name == "example.com"
    assert dns.answers[0].name == "www.example.com" and dns.answers[0].data == "example.com"
    agree(dns)


@pytest.mark.parametrize("name", [
    b"\xc0\x0c",                       # points at itself
    b"\x01a\xc0\x0c",                  # points at its own start, after a label
    b"\xc0\x20",                       # points forward
    b"\x01a\xc0\x0e",                  # points into itself
])
def test_dns_compression_loops_are_errors(name):
    packet = pktspec.decode(ipv4_udp(1000, 53, dns_query(name, b"\x00\x01\x00\x01")))
    assert packet.error is None  # the sections are decoded when first read
    with pytest.raises(DecodeError, match="dns_name"):
        packet[DNS].questions  # noqa: B018
    with pytest.raises(Exception):  # noqa: B017 - construct's own error type
        DNS.FORMAT.parse(dns_query(name, b"\x00\x01\x00\x01"))


def test_dns_two_pointer_chain_and_long_names():
    first = b"\x01b\x00" + b"\x00\x01\x00\x01"                     # offset 12: "b"
    second = b"\x01a\xc0\x0c" + b"\x00\x01\x00\x01"                # offset 19: "a.b"
    third = b"\x01z\xc0\x13" + b"\x00\x01\x00\x01"                 # "z.a.b" via "a.b"
    msg = dns_query(first, second + third, qdcount=3)
    dns = DNS.from_bytes(msg)
    assert [q.name for q in dns.questions] == ["b", "a.b", "z.a.b"]
    too_long = b"".join(b"\x3f" + b"x" * 63 for _ in range(5)) + b"\x00"
    packet = pktspec.decode(dns_query(too_long, b"\x00\x01\x00\x01"), first=DNS)
    with pytest.raises(DecodeError, match="255"):
        packet[DNS].questions  # noqa: B018


def test_dns_name_text_escapes():
    msg = dns_query(b"\x03a.b\x02\x00x\x00", b"\x00\x01\x00\x01")
    name = DNS.from_bytes(msg).questions[0].name
    assert name == "a\\046b.\\000x"
    from pktspec.protocols.externs import build_dns_name
    assert build_dns_name(name, None) == b"\x03a.b\x02\x00x\x00"
    assert build_dns_name("<Root>", None) == b"\x00"


def test_dns_over_tcp():
    msg = dns_query(b"\x07example\x03com\x00", b"\x00\x01\x00\x01")
    packet = pktspec.decode(ipv4_tcp(40000, 53, struct.pack(">H", len(msg)) + msg),
                            strict=True)
    assert [layer.name for layer in packet.layers][-2:] == ["DNSOverTCP", "DNS"]
    assert packet[DNS].questions[0].name == "example.com"


def test_tcp_options_fast_open_mptcp_unknown():
    options = (b"\x22\x0a" + b"\x11" * 8          # Fast Open, an 8-byte cookie
               + b"\x1e\x04\x00\x81"              # MPTCP, kept raw
               + b"\x63\x03\x07"                  # kind 99, unknown, kept raw
               + b"\x1c\x04\x80\x05"              # user timeout: 5 minutes
               + b"\x01\x00\x00")                 # NOP, EOL, EOL (to 4-byte words)
    tcp = pktspec.decode(ipv4_tcp(1, 2, b"", options), strict=True)[TCP]
    tfo, mptcp, unknown, uto, nop, eol, _ = tcp.options
    assert tfo.kind == 34 and tfo.value.cookie == b"\x11" * 8
    assert mptcp.kind == 30 and mptcp.value == b"\x00\x81"
    assert unknown.kind == 99 and unknown.value == b"\x07"
    assert uto.value.granularity == 1 and uto.value.timeout == 5
    assert (nop.kind, eol.kind) == (1, 0)
    agree(tcp)


def test_tls_client_hello_server_name():
    host = b"example.org"
    sni = struct.pack(">HBH", len(host) + 3, 0, len(host)) + host
    extensions = struct.pack(">HH", 0, len(sni)) + sni
    body = (b"\x03\x03" + b"\x00" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
            + struct.pack(">H", len(extensions)) + extensions)
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    record = b"\x16\x03\x01" + struct.pack(">H", len(handshake)) + handshake
    tls = pktspec.decode(ipv4_tcp(50000, 443, record), strict=True)[TLS]
    ext = tls.client_hello.extensions[0]
    assert ext.type == 0 and ext.data.names[0].name == host
    assert tls.client_hello.cipher_suites == [0x1301]
    agree(tls)
    alert = b"\x15\x03\x03\x00\x02\x02\x28"
    records = pktspec.decode(ipv4_tcp(443, 50000, record + alert), strict=True).layers[3:]
    assert [(r.content_type, r.alert_level, r.alert_description) for r in records] == [
        (22, None, None), (21, 2, 40)]


def test_vxlan_and_geneve_headers():
    inner = b"\x02" * 6 + b"\x04" * 6 + b"\x88\xb5" + b"xy"
    vxlan = pktspec.decode(ipv4_udp(999, 4789, bytes.fromhex("0800000000123400") + inner),
                           strict=True)
    assert vxlan[VXLAN].vni == 0x1234 and vxlan.layers[4].name == "Ethernet"
    option = struct.pack(">HBB", 0x0102, 0x80, 1) + b"abcd"
    geneve_header = struct.pack(">BBH", 2, 0, 0x6558) + b"\x00\x00\x07\x00" + option
    geneve = pktspec.decode(ipv4_udp(999, 6081, geneve_header + inner), strict=True)[Geneve]
    opt = geneve.options[0]
    assert (opt.class_, opt.type, opt.length, opt.data) == (0x0102, 0x80, 1, b"abcd")
    assert geneve.vni == 7
    agree(geneve)


# ---- generated inputs -------------------------------------------------------------------------


def _read_everything(packet: Any) -> None:
    """Read every field of every layer: lazy parts may fail only with a DecodeError."""
    for layer in packet.layers:
        for info in layer.fields_info:
            try:
                getattr(layer, info.name)
            except DecodeError:
                pass


@pytest.mark.parametrize("cls", MINE, ids=lambda c: c.name)
@SETTINGS
@given(data=st.binary(max_size=160))
def test_random_bytes_never_raise(cls, data):
    packet = pktspec.decode(data, first=cls)
    _read_everything(packet)
    first = packet.layers[0]
    if first.name == cls.name:
        agree(first)


PORTS = st.sampled_from([53, 67, 68, 123, 443, 546, 547, 4789, 6081])


@SETTINGS
@given(port=PORTS, body=st.binary(max_size=200), tcp=st.booleans())
def test_application_bytes_behind_udp_and_tcp_never_raise(port, body, tcp):
    frame = ipv4_tcp(33000, port, body) if tcp else ipv4_udp(33000, port, body)
    packet = pktspec.decode(frame)
    _read_everything(packet)
    for layer in packet.layers:
        if layer.name in MINE_NAMES:
            agree(layer)


NAME_PART = st.one_of(
    st.binary(min_size=1, max_size=12).map(lambda b: bytes([len(b)]) + b),
    st.integers(0, 0x3FFF).map(lambda n: struct.pack(">H", 0xC000 | n)),
    st.just(b"\x00"),
    st.binary(min_size=1, max_size=2),
)


@SETTINGS
@given(parts=st.lists(NAME_PART, max_size=12), counts=st.tuples(*[st.integers(0, 3)] * 4))
def test_dns_names_with_random_pointers_never_raise_or_loop(parts, counts):
    body = b"".join(parts)
    msg = struct.pack(">HHHHHH", 7, 0x8180, *counts) + body
    packet = pktspec.decode(msg, first=DNS)
    _read_everything(packet)
    if packet.error is None:
        agree(packet[DNS])
