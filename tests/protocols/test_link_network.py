"""Link and network layers on packets built here byte by byte: each case checks the layer
chain, the fields that matter, that the fast decoder agrees with the construct FORMAT, and
that FORMAT builds the header bytes back (construct's round trip). Then the link types
through capture files, and the ``pktspec list`` / ``pktspec doc`` commands."""

from __future__ import annotations

import ipaddress
import struct

import pytest

import pktspec
from pktspec.capture.pcap import PcapWriter
from pktspec.cli import main
from pktspec.runtime.constructs import inet_checksum

# ---- building packets ------------------------------------------------------------------

MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def eth(ethertype: int, payload: bytes, dst: bytes = MAC_B, src: bytes = MAC_A) -> bytes:
    return dst + src + struct.pack(">H", ethertype) + payload


def ip4(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


def ip6(text: str) -> bytes:
    return ipaddress.IPv6Address(text).packed


def ipv4(proto: int, payload: bytes, src: str = "192.0.2.1", dst: str = "192.0.2.2", *,
         flags: int = 0, frag: int = 0, options: bytes = b"", ttl: int = 64) -> bytes:
    ihl = 5 + len(options) // 4
    head = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(payload), 7,
                       flags << 13 | frag, ttl, proto, 0, ip4(src), ip4(dst)) + options
    head = head[:10] + struct.pack(">H", inet_checksum(head)) + head[12:]
    return head + payload


def ipv6(next_header: int, payload: bytes, src: str = "2001:db8::1",
         dst: str = "2001:db8::2") -> bytes:
    return struct.pack(">IHBB", 6 << 28, len(payload), next_header, 64) + ip6(src) + ip6(dst) \
        + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def names(packet) -> list[str]:
    return [layer.name for layer in packet.layers]


def plain(value):
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not str(k).startswith("_")}
    return value


def check(packet) -> None:
    """Every generated layer: fast path == construct, and construct builds the bytes back."""
    for layer in packet.layers:
        fmt = getattr(type(layer), "FORMAT", None)
        if fmt is None or layer.name == "DecodeFailure":
            continue
        contents = bytes(layer.contents)
        parsed = fmt.parse(contents)
        ref = {k: plain(v) for k, v in parsed.items() if not k.startswith("_")}
        assert plain(layer.raw_fields()) == ref, layer.name
        assert fmt.build(parsed) == contents, layer.name


def decoded(data: bytes, first: str = "Ethernet"):
    packet = pktspec.decode(data, first, strict=True)
    check(packet)
    return packet


# ---- link layers -----------------------------------------------------------------------


def test_ethernet_802_3_length_frame_goes_to_llc_and_keeps_padding_as_trailer():
    llc = bytes([0x42, 0x42, 0x03]) + b"\x00" * 35  # spanning tree BPDU: 38 bytes
    frame = eth(len(llc), llc + b"\xee" * 8)  # padded
    p = decoded(frame)
    assert names(p) == ["Ethernet", "LLC", "STP"]
    e, llc_layer = p.layers[0], p.layers[1]
    assert e.ethertype == 38 and bytes(e.trailer) == b"\xee" * 8
    assert llc_layer.dsap == 0x42 and llc_layer.control == 3 and llc_layer.control_high is None
    assert len(p.layers[2].contents) == 35 and len(p.layers[2].payload) == 0


def test_llc_i_frame_has_two_control_bytes():
    llc = bytes([0x04, 0x04, 0x10, 0x22]) + b"data"
    p = decoded(eth(len(llc), llc))
    assert p.layers[1].control == 0x10 and p.layers[1].control_high == 0x22
    assert bytes(p.layers[1].payload) == b"data"


def test_snap_with_oui_zero_carries_an_ethertype():
    inner = ipv4(17, udp(1, 2, b"x"))
    snap = bytes([0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00]) + inner
    p = decoded(eth(len(snap), snap))
    assert names(p) == ["Ethernet", "LLC", "SNAP", "IPv4", "UDP", "Payload"]
    other = bytes([0xAA, 0xAA, 0x03, 0x08, 0x00, 0x07, 0x80, 0x9B]) + b"atalk"  # AppleTalk
    p = decoded(eth(len(other), other))
    assert names(p) == ["Ethernet", "LLC", "SNAP", "Payload"] and p.layers[2].oui == 0x080007


def test_snap_under_ciscos_oui_dispatches_on_ciscos_protocol_ids():
    """`next by protocol_id in EtherType if oui == 0; next by ... in CiscoSNAPProtocol if
    oui == OUI.Cisco;`: the same protocol ID field, another table by the OUI."""
    cisco = bytes([0xAA, 0xAA, 0x03, 0, 0, 0x0C, 0x20, 0x00]) + bytes([2, 180, 0, 0])
    p = pktspec.decode(eth(len(cisco), cisco))
    assert names(p)[:4] == ["Ethernet", "LLC", "SNAP", "CiscoDiscovery"]
    assert p.layers[2].oui == 0x0C
    ipv4_id = bytes([0xAA, 0xAA, 0x03, 0, 0, 0x0C, 0x08, 0x00]) + ipv4(17, udp(1, 2, b""))
    assert names(decoded(eth(len(ipv4_id), ipv4_id))) == ["Ethernet", "LLC", "SNAP", "Payload"]


def test_vlan_tags_stack_to_any_depth():
    inner = ipv4(17, udp(53, 53, b""))
    frame = eth(0x88A8, struct.pack(">HH", 0x2000 | 100, 0x8100)
                + struct.pack(">HH", 0xA000 | 200, 0x8100)
                + struct.pack(">HH", 300, 0x0800) + inner)
    p = decoded(frame)
    assert names(p) == ["Ethernet", "Dot1AD", "Dot1Q", "Dot1Q", "IPv4", "UDP"]
    assert [layer.vlan_id for layer in p.layers[1:4]] == [100, 200, 300]
    assert [layer.priority for layer in p.layers[1:4]] == [1, 5, 0]


def test_vlan_tag_in_front_of_an_802_3_frame():
    llc = bytes([0xF0, 0xF0, 0x03, 0, 0])  # NetBIOS SAPs: no layer bound after LLC
    p = decoded(eth(0x8100, struct.pack(">HH", 7, len(llc)) + llc + b"\0" * 4))
    assert names(p) == ["Ethernet", "Dot1Q", "LLC", "Payload"]
    assert bytes(p.layers[1].trailer) == b"\0" * 4


def test_linux_sll_and_sll2():
    inner = ipv4(17, udp(1, 2, b"hi"))
    sll = struct.pack(">HHH8sH", 4, 1, 6, MAC_A + b"\0\0", 0x0800) + inner
    p = decoded(sll, "LinuxSLL")
    assert names(p) == ["LinuxSLL", "IPv4", "UDP", "Payload"]
    assert p.layers[0].packet_type == 4 and bytes(p.layers[0].addr)[:6] == MAC_A
    sll2 = struct.pack(">HHIHBB8s", 0x86DD, 0, 3, 1, 0, 6, MAC_A + b"\0\0") + ipv6(59, b"")
    p = decoded(sll2, "LinuxSLL2")
    assert names(p) == ["LinuxSLL2", "IPv6"] and p.layers[0].interface_index == 3
    llc = struct.pack(">HHH8sH", 0, 1, 6, MAC_A + b"\0\0", 4) + bytes([0xF0, 0xF0, 3])
    assert names(decoded(llc, "LinuxSLL")) == ["LinuxSLL", "LLC"]


@pytest.mark.parametrize("family", [struct.pack("<I", 2), struct.pack(">I", 2)])
def test_loopback_ipv4_in_either_byte_order(family):
    p = decoded(family + ipv4(17, udp(1, 2, b"")), "Loopback")
    assert names(p) == ["Loopback", "IPv4", "UDP"] and p.layers[0].family == 2


@pytest.mark.parametrize("af", [10, 24, 28, 30])
@pytest.mark.parametrize("order", ["<", ">"])
def test_loopback_ipv6_families_of_every_os(af, order):
    p = decoded(struct.pack(order + "I", af) + ipv6(59, b""), "Loopback")
    assert names(p) == ["Loopback", "IPv6"] and p.layers[0].family == af


def test_pppoe_discovery_tags_and_session_ppp():
    tags = struct.pack(">HH", 0x0101, 0) + struct.pack(">HH", 0x0103, 4) + b"\x01\x02\x03\x04"
    padi = eth(0x8863, struct.pack(">BBHH", 0x11, 0x09, 0, len(tags)) + tags)
    p = decoded(padi)
    assert names(p) == ["Ethernet", "PPPoE"]
    pppoe = p.layers[1]
    assert (pppoe.version, pppoe.type, pppoe.code, pppoe.session_id) == (1, 1, 0x09, 0)
    assert [(t.type, t.value) for t in pppoe.tags] == [(0x0101, b""), (0x0103, b"\1\2\3\4")]
    ppp_payload = b"\x00\x57" + ipv6(59, b"")
    session = eth(0x8864, struct.pack(">BBHH", 0x11, 0, 0x11, len(ppp_payload)) + ppp_payload
                  + b"\0" * 6)
    p = decoded(session)
    assert names(p) == ["Ethernet", "PPPoE", "PPP", "IPv6"]
    assert p.layers[1].tags is None and p.layers[2].protocol == 0x0057
    assert bytes(p.layers[1].trailer) == b"\0" * 6


def test_ppp_in_hdlc_framing():
    p = decoded(b"\xff\x03\xc0\x21" + b"\x01\x01\x00\x04", "PPPHDLC")
    assert names(p) == ["PPPHDLC", "PPP", "LCP"] and p.layers[1].protocol == 0xC021


def test_mpls_label_stack_then_ip_by_version_nibble():
    def label(value: int, bottom: int, ttl: int = 64) -> bytes:
        return struct.pack(">I", value << 12 | 5 << 9 | bottom << 8 | ttl)

    p = decoded(eth(0x8847, label(16, 0) + label(17, 0) + label(18, 1)
                    + ipv6(17, udp(1, 2, b""))))
    assert names(p) == ["Ethernet", "MPLS", "MPLS", "MPLS", "IPv6", "UDP"]
    assert [m.label for m in p.layers[1:4]] == [16, 17, 18]
    assert [m.stack_bottom for m in p.layers[1:4]] == [0, 0, 1]
    assert p.layers[1].traffic_class == 5
    p = decoded(eth(0x8847, label(3, 1) + ipv4(17, udp(1, 2, b""))))
    assert names(p) == ["Ethernet", "MPLS", "IPv4", "UDP"]


def test_arp_of_any_address_sizes_and_its_flow():
    body = struct.pack(">HHBBH", 1, 0x0800, 6, 4, 1) + MAC_A + ip4("10.0.0.1") \
        + b"\0" * 6 + ip4("10.0.0.2")
    p = decoded(eth(0x0806, body + b"\0" * 18))
    arp = p.layers[1]
    assert names(p) == ["Ethernet", "ARP"] and arp.operation == 1
    assert arp.source_prot_address == "10.0.0.1"  # addr[n]: text by its size, as tshark
    assert arp.source_hw_address == "02:00:00:00:00:01" and arp._source_hw_address == MAC_A
    assert bytes(arp.trailer) == b"\0" * 18
    assert arp.flow.src.raw == ip4("10.0.0.1") and arp.flow.dst.raw == ip4("10.0.0.2")
    odd = struct.pack(">HHBBH", 32, 0x86DD, 20, 16, 2) + b"h" * 20 + b"p" * 16 + b"H" * 20 \
        + b"P" * 16
    arp = decoded(eth(0x0806, odd)).layers[1]
    assert arp.dst_hw_address == ":".join(["48"] * 20)  # neither 4 nor 16 bytes: hex pairs
    assert arp.dst_prot_address == "5050:5050:5050:5050:5050:5050:5050:5050"  # 16: IPv6


def test_arp_cut_short_is_an_error_at_the_address_that_is_missing():
    body = struct.pack(">HHBBH", 1, 0x0800, 6, 4, 1) + MAC_A + ip4("10.0.0.1") + b"\0" * 3
    p = pktspec.decode(eth(0x0806, body))
    assert names(p) == ["Ethernet", "DecodeFailure"]
    assert p.error.layer == "ARP" and p.error.truncated


# ---- network layers --------------------------------------------------------------------


def test_ipv4_options_are_named_and_decoded():
    options = bytes([148, 4, 0, 0]) + bytes([7, 7, 4]) + ip4("10.0.0.9") + bytes([1])
    p = decoded(eth(0x0800, ipv4(17, udp(1, 2, b""), options=options)))
    opts = p.layers[1].options
    assert [o.type for o in opts] == [148, 7, 1]
    assert opts[0].value == 0 and opts[1].value.pointer == 4
    assert opts[1].value.addresses == ["10.0.0.9"]  # addresses in parts read as text


def test_non_first_ipv4_fragment_is_a_fragment_layer_first_fragment_decodes():
    first = ipv4(17, udp(5000, 6000, b"abcdef"), flags=1)
    p = decoded(eth(0x0800, first))
    assert names(p) == ["Ethernet", "IPv4", "UDP", "Payload"]
    later = ipv4(17, b"more data", flags=0, frag=185)
    p = decoded(eth(0x0800, later))
    assert names(p) == ["Ethernet", "IPv4", "Fragment"]
    fragment = p.layers[2]  # the data is the layer's own contents: nothing follows it
    assert bytes(fragment.fragment_data) == bytes(fragment.contents) == b"more data"
    assert bytes(fragment.payload) == b""
    assert p.application is p.layers[2]


def test_ip_in_ip_and_ipv6_in_ipv4():
    p = decoded(eth(0x0800, ipv4(4, ipv4(17, udp(1, 2, b""), "10.0.0.1", "10.0.0.2"))))
    assert names(p) == ["Ethernet", "IPv4", "IPv4", "UDP"]
    assert p.layers[2].src == "10.0.0.1"
    p = decoded(eth(0x0800, ipv4(41, ipv6(17, udp(1, 2, b"")))))
    assert names(p) == ["Ethernet", "IPv4", "IPv6", "UDP"]


def ext(next_header: int, body: bytes) -> bytes:
    """An options-style extension header: padded to 8-byte units."""
    data = bytes([next_header, 0]) + body
    data += b"\x01\x00" if (len(data) % 8) else b""
    data += b"\0" * (-len(data) % 8)
    return bytes([data[0], len(data) // 8 - 1]) + data[2:]


def test_ipv6_extension_headers_chain_in_any_order():
    frag = struct.pack(">BBHI", 17, 0, 0, 0xABCD)
    routing = bytes([44, 2, 0, 1]) + b"\0" * 4 + ip6("2001:db8::9")
    hop = ext(43, bytes([5, 2, 0, 0]))  # router alert
    dst = ext(0, b"")
    p = decoded(eth(0x86DD, ipv6(60, dst + hop + routing + frag + udp(1, 2, b"x"))))
    assert names(p) == ["Ethernet", "IPv6", "IPv6Destination", "IPv6HopByHop", "IPv6Routing",
                        "IPv6Fragment", "UDP", "Payload"]
    assert p.layers[3].options[0].type == 5
    assert p.layers[4].routing_type == 0 and p.layers[4].routing_data.addresses == [
        "2001:db8::9"]
    assert p.layers[5].identification == 0xABCD and p.layers[5].fragment_offset == 0


def test_non_first_ipv6_fragment_is_a_fragment_layer():
    frag = struct.pack(">BBHI", 17, 0, 100 << 3 | 1, 7)
    p = decoded(eth(0x86DD, ipv6(44, frag + b"rest of it")))
    assert names(p) == ["Ethernet", "IPv6", "IPv6Fragment", "Fragment"]
    assert bytes(p.layers[3].fragment_data) == b"rest of it"
    assert p.layers[2].fragment_offset == 100 and p.layers[2].more_fragments == 1


def test_ah_then_tcp_and_esp():
    ah = struct.pack(">BBHII", 17, 4, 0, 0x1234, 9) + b"\xaa" * 12
    p = decoded(eth(0x0800, ipv4(51, ah + udp(7, 8, b""))))
    assert names(p) == ["Ethernet", "IPv4", "IPSecAH", "UDP"]
    assert p.layers[2].spi == 0x1234 and bytes(p.layers[2].authentication_data) == b"\xaa" * 12
    p = decoded(eth(0x86DD, ipv6(50, struct.pack(">II", 0x99, 1) + b"ciphertext")))
    assert names(p) == ["Ethernet", "IPv6", "IPSecESP", "Payload"] and p.layers[2].spi == 0x99


def icmp(type_: int, code: int, rest: bytes, body: bytes = b"") -> bytes:
    head = struct.pack(">BBH", type_, code, 0) + rest
    return head[:2] + struct.pack(">H", inet_checksum(head + body)) + head[4:] + body


def test_icmpv4_echo_and_errors_with_the_quoted_datagram():
    p = decoded(eth(0x0800, ipv4(1, icmp(8, 0, struct.pack(">HH", 0x42, 7), b"ping"))))
    echo = p.layers[2]
    assert names(p) == ["Ethernet", "IPv4", "ICMPv4", "Payload"]
    assert (echo.type, echo.id, echo.seq, echo.gateway) == (8, 0x42, 7, None)
    quoted = ipv4(17, udp(5353, 53, b"query"), "192.0.2.2", "198.51.100.1")[:28]
    p = decoded(eth(0x0800, ipv4(1, icmp(3, 4, struct.pack(">HH", 0, 1400), quoted))))
    assert names(p) == ["Ethernet", "IPv4", "ICMPv4", "IPv4", "UDP"]
    assert p.layers[2].next_hop_mtu == 1400 and p.layers[2].id is None
    assert p.layers[3].dst == "198.51.100.1" and p.layers[4].dst_port == 53
    p = decoded(eth(0x0800, ipv4(1, icmp(5, 1, ip4("192.0.2.254"), quoted))))
    assert p.layers[2].gateway == "192.0.2.254"
    p = decoded(eth(0x0800, ipv4(1, icmp(11, 0, b"\0" * 4, quoted))))
    assert names(p)[2:4] == ["ICMPv4", "IPv4"]


def test_icmpv6_echo_neighbor_discovery_and_mld():
    def icmp6(type_: int, body: bytes) -> bytes:
        return ipv6(58, struct.pack(">BBH", type_, 0, 0) + body, "fe80::1", "ff02::1")

    p = decoded(eth(0x86DD, icmp6(128, struct.pack(">HH", 1, 2) + b"data")))
    assert names(p) == ["Ethernet", "IPv6", "ICMPv6", "ICMPv6Echo", "Payload"]
    assert (p.layers[3].identifier, p.layers[3].seq) == (1, 2)
    ns = b"\0" * 4 + ip6("fe80::2") + bytes([1, 1]) + MAC_A
    p = decoded(eth(0x86DD, icmp6(135, ns)))
    solicit = p.layers[3]
    assert solicit.name == "ICMPv6NeighborSolicitation" and solicit.target_address == "fe80::2"
    assert solicit.options[0].type == 1 and solicit.options[0].value == MAC_A
    prefix = bytes([3, 4, 64, 0xC0]) + struct.pack(">III", 86400, 14400, 0) + ip6("2001:db8::")
    ra = struct.pack(">BBHII", 64, 0x80, 1800, 0, 0) + prefix
    ra_layer = decoded(eth(0x86DD, icmp6(134, ra))).layers[3]
    assert ra_layer.flags.managed and ra_layer.router_lifetime == 1800
    info = ra_layer.options[0].value
    assert info.prefix_length == 64 and info.prefix == "2001:db8::"
    na = struct.pack(">I", 0x60000000) + ip6("fe80::2")
    na_layer = decoded(eth(0x86DD, icmp6(136, na))).layers[3]
    assert na_layer.flags.solicited and na_layer.flags.override and not na_layer.flags.router
    record = bytes([4, 0]) + struct.pack(">H", 1) + ip6("ff02::fb") + ip6("fe80::7")
    report = decoded(eth(0x86DD, icmp6(143, struct.pack(">HH", 0, 1) + record))).layers[3]
    assert report.name == "MLDv2Report"
    assert report.records[0].multicast_address == "ff02::fb"
    assert report.records[0].sources == ["fe80::7"]
    query = decoded(eth(0x86DD, icmp6(130, struct.pack(">HH", 1000, 0) + b"\0" * 16)))
    assert query.layers[3].name == "MLDQuery" and query.layers[3].query_v2 == []


def test_icmpv6_error_quotes_the_packet():
    quoted = ipv6(17, udp(1, 2, b"x" * 20))[:48]
    data = ipv6(58, struct.pack(">BBHI", 2, 0, 0, 1280) + quoted)
    p = decoded(eth(0x86DD, data))
    assert names(p) == ["Ethernet", "IPv6", "ICMPv6", "ICMPv6PacketTooBig", "IPv6", "UDP"]
    assert p.layers[3].mtu == 1280


def test_igmp_versions():
    p = decoded(eth(0x0800, ipv4(2, struct.pack(">BBH4s", 0x16, 0, 0, ip4("239.1.1.1")))))
    igmp = p.layers[2]
    assert names(p) == ["Ethernet", "IPv4", "IGMP"]
    assert igmp.type == 0x16 and igmp.group_address == "239.1.1.1"
    v3q = struct.pack(">BBH4sBBH", 0x11, 100, 0, ip4("0.0.0.0"), 0x0A, 125, 1) + ip4("10.1.1.1")
    q = decoded(eth(0x0800, ipv4(2, v3q))).layers[2]
    assert q.query_v3[0].robustness == 2 and q.query_v3[0].sources == ["10.1.1.1"]
    v2q = decoded(eth(0x0800, ipv4(2, struct.pack(">BBH4s", 0x11, 100, 0, b"\0" * 4))))
    assert v2q.layers[2].query_v3 == []
    record = struct.pack(">BBH4s", 4, 0, 0, ip4("239.2.2.2"))
    rep = decoded(eth(0x0800, ipv4(2, struct.pack(">BBHHH", 0x22, 0, 0, 0, 1) + record)))
    assert rep.layers[2].group_address is None
    assert rep.layers[2].records[0].multicast_address == "239.2.2.2"


def test_gre_optional_fields():
    inner = ipv4(17, udp(1, 2, b""))
    gre = struct.pack(">HHHHII", 0xB000, 0x0800, 0xBEEF, 0, 42, 9) + inner
    p = decoded(eth(0x0800, ipv4(47, gre)))
    g = p.layers[2]
    assert names(p) == ["Ethernet", "IPv4", "GRE", "IPv4", "UDP"]
    assert (g.checksum, g.routing_offset, g.key, g.seq, g.ack) == (0xBEEF, 0, 42, 9, None)
    plain_gre = struct.pack(">HH", 0, 0x86DD) + ipv6(59, b"")
    assert names(decoded(eth(0x0800, ipv4(47, plain_gre))))[2:] == ["GRE", "IPv6"]


def test_pptp_enhanced_gre():
    ppp = b"\xff\x03\xc0\x21" + b"\x01\x01\x00\x04"
    gre = struct.pack(">HHHHII", 0x3081, 0x880B, len(ppp), 0x77, 5, 4) + ppp
    p = decoded(eth(0x0800, ipv4(47, gre)))
    g = p.layers[2]
    assert names(p) == ["Ethernet", "IPv4", "GRE", "PPPHDLC", "PPP", "LCP"]
    assert (g.version, g.payload_length, g.call_id, g.key, g.seq, g.ack) == (
        1, len(ppp), 0x77, None, 5, 4)
    ack_only = struct.pack(">HHHHI", 0x2081, 0x880B, 0, 0x77, 4)
    p = decoded(eth(0x0800, ipv4(47, ack_only)))
    assert names(p) == ["Ethernet", "IPv4", "GRE"] and p.layers[2].ack == 4


def test_flows_of_link_and_network_layers():
    p = decoded(eth(0x0800, ipv4(17, udp(1, 2, b""), "10.0.0.1", "10.0.0.2")))
    assert str(p.link.flow.src) == "02:00:00:00:00:01"
    assert str(p.network.flow.dst) == "10.0.0.2"
    assert p.network.flow.fast_hash() == p.network.flow.reverse().fast_hash()


# ---- link types through capture files ----------------------------------------------------


@pytest.mark.parametrize(("linktype", "data", "first"), [
    (0, struct.pack("<I", 2) + ipv4(17, udp(1, 2, b"")), "Loopback"),
    (0, struct.pack(">I", 30) + ipv6(17, udp(1, 2, b"")), "Loopback"),
    (108, struct.pack(">I", 2) + ipv4(17, udp(1, 2, b"")), "Loopback"),
    (113, struct.pack(">HHH8sH", 0, 1, 6, b"\0" * 8, 0x0800) + ipv4(17, udp(1, 2, b"")),
     "LinuxSLL"),
    (276, struct.pack(">HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, b"\0" * 8) + ipv4(17, udp(1, 2, b"")),
     "LinuxSLL2"),
    (9, b"\xff\x03\x00\x21" + ipv4(17, udp(1, 2, b"")), "PPPHDLC"),
    (101, ipv6(17, udp(1, 2, b"")), "RawIP"),
])
def test_link_types_pick_the_first_layer(tmp_path, linktype, data, first):
    path = tmp_path / "x.pcap"
    with PcapWriter(path, linktype) as w:
        w.write(data, 0.0)
    with pktspec.open(path) as source:
        (packet,) = list(source)
    assert packet.layers[0].name == first and packet.error is None
    assert packet.transport.name == "UDP"


# ---- pktspec list and pktspec doc --------------------------------------------------------


def test_pktspec_list_shows_layers_fields_and_bindings(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("Dot1Q ") and "EtherType VLAN = 33024 (0x8100)" in line
               for line in out.splitlines())
    assert main(["list", "MPLS"]) == 0
    out = capsys.readouterr().out
    assert "label" in out and "traffic_class" in out and "EtherType MPLS" in out
    assert main(["list", "--tables"]) == 0
    assert "-> LinuxSLL2" in capsys.readouterr().out


def test_pktspec_doc_draws_the_header(capsys):
    assert main(["doc", "ipv4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "|version|  ihl  |    dscp   |ecn|          total_length         |" in lines
    assert "/                            options                            /" in lines
    assert main(["doc", "GRE"]) == 0
    out = capsys.readouterr().out
    assert "key?" in out and "present if key_present == 1 and version != 1" in out
    assert main(["doc", "NoSuchLayer"]) == 1


def test_type_2_routing_header_holds_reserved_then_the_home_address():
    """RFC 6275 section 6.4: 4 reserved bytes, then the 128-bit home address."""
    home = bytes.fromhex("20010db800000000000000000000cafe")
    rh2 = struct.pack(">BBBB", 17, 2, 2, 1) + bytes(4) + home
    p = decoded(eth(0x86DD, ipv6(43, rh2 + struct.pack(">HHHH", 1, 2, 8, 0))))
    routing = p.layers[2]
    assert names(p) == ["Ethernet", "IPv6", "IPv6Routing", "UDP"]
    assert routing.routing_data.reserved == 0
    assert routing.routing_data.home_address == "2001:db8::cafe"


def test_llc_defaults_make_a_standard_ui_frame():
    """LLC() writes SSAP = DSAP and control 3 (UI) unless given: Ethernet()/LLC()/STP()
    is the usual 42 42 03 BPDU header, not an I-frame from SAP 0."""
    from pktspec.layers import LLC, STP, Ethernet

    data = pktspec.serialize(Ethernet() / LLC() / STP())
    assert data[14:17] == bytes([0x42, 0x42, 0x03])
    assert pktspec.serialize(Ethernet() / LLC(dsap=0xF0, ssap=0xF1, control=0x13) / b"x")[
        14:18] == bytes([0xF0, 0xF1, 0x13]) + b"x"
