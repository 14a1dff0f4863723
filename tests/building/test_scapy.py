"""The same packets built by scapy and by pktspec are byte-identical: Ethernet, IPv4 and IPv6
(with options and a hop-by-hop header), TCP (with options), UDP, ICMP, ICMPv6, DNS, VXLAN and
GRE (with its key and sequence number options)."""

from __future__ import annotations

import pytest

from pktspec.runtime.serialize import serialize
from tests.building.conftest import layer, require_pseudo_headers

scapy_all = pytest.importorskip("scapy.all", reason="scapy is not installed (pip install scapy)")

M1, M2 = "02:00:00:00:00:01", "02:00:00:00:00:02"
A4, B4, A6, B6 = "192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2"


def same(ours, theirs) -> None:
    got, want = serialize(ours), scapy_all.raw(theirs)
    assert got.hex() == want.hex()


@pytest.fixture
def pseudo_headers():
    """For packets with TCP, UDP or ICMPv6, whose checksums cover the IP pseudo-header."""
    require_pseudo_headers()


def test_tcp_and_ip_options(pseudo_headers):
    Ethernet, IPv4, TCP = layer("Ethernet"), layer("IPv4"), layer("TCP")
    # the parts of an option written as construct values: numbers, and lengths given
    options = [{"kind": 2, "length": 4, "value": {"mss": 1460}}, {"kind": 1},
               {"kind": 3, "length": 3, "value": {"shift": 7}},
               {"kind": 4, "length": 2, "value": b""},
               {"kind": 8, "length": 10, "value": {"value": 1, "echo_reply": 2}}]
    ours = [Ethernet(src=M1, dst=M2),
            IPv4(src=A4, dst=B4, id=1, options=[{"type": 148, "length": 4, "value": 0}]),
            TCP(src_port=1234, dst_port=80, seq=5, flags="S", window=8192, options=options),
            b"hi"]
    same(ours, _scapy_syn_with_options())


def _scapy_syn_with_options():
    s = scapy_all
    return (s.Ether(src=M1, dst=M2)
            / s.IP(src=A4, dst=B4, id=1, options=[s.IPOption_Router_Alert()])
            / s.TCP(sport=1234, dport=80, seq=5, flags="S", window=8192,
                    options=[("MSS", 1460), ("NOP", None), ("WScale", 7), ("SAckOK", b""),
                             ("Timestamp", (1, 2))]) / b"hi")


def test_option_lengths_left_out_are_filled_in(pseudo_headers):
    """The same packet as above with every option length left out and the kinds written by
    name: the structs' implied length fields (``size length - 2``) are solved when built."""
    Ethernet, IPv4, TCP = layer("Ethernet"), layer("IPv4"), layer("TCP")
    options = [{"kind": "MSS", "value": {"mss": 1460}}, {"kind": "NOP"},
               {"kind": "WindowScale", "value": {"shift": 7}}, {"kind": "SACKPermitted"},
               {"kind": "Timestamps", "value": {"value": 1, "echo_reply": 2}}]
    ours = [Ethernet(src=M1, dst=M2),
            IPv4(src=A4, dst=B4, id=1, options=[{"type": 148, "value": 0}]),
            TCP(src_port=1234, dst_port=80, seq=5, flags="S", window=8192, options=options),
            b"hi"]
    same(ours, _scapy_syn_with_options())


def test_dns_answer_lengths_are_filled_in(pseudo_headers):
    Ethernet, IPv4, UDP, DNS = layer("Ethernet"), layer("IPv4"), layer("UDP"), layer("DNS")
    s = scapy_all
    theirs = (s.Ether(src=M1, dst=M2) / s.IP(src=A4, dst=B4, id=1) / s.UDP(sport=53, dport=5353)
              / s.DNS(id=7, qr=1, rd=1, ra=1, qd=s.DNSQR(qname="example.com"),
                      an=s.DNSRR(rrname="example.com", type="A", ttl=60, rdata=B4)))
    ours = [Ethernet(src=M1, dst=M2), IPv4(src=A4, dst=B4, id=1),
            UDP(src_port=53, dst_port=5353),
            DNS(id=7, qr=1, rd=1, ra=1,
                questions=[{"name": "example.com", "type": "A", "class_": "IN"}],
                answers=[{"name": "example.com", "type": "A", "class_": "IN", "ttl": 60,
                          "data": B4}])]
    same(ours, theirs)


def test_dns_over_udp_over_ipv6(pseudo_headers):
    Ethernet, IPv6, UDP, DNS = layer("Ethernet"), layer("IPv6"), layer("UDP"), layer("DNS")
    s = scapy_all
    theirs = (s.Ether(src=M1, dst=M2) / s.IPv6(src=A6, dst=B6) / s.UDP(sport=5353, dport=53)
              / s.DNS(id=7, rd=1, qd=s.DNSQR(qname="example.com", qtype="AAAA")))
    ours = [Ethernet(src=M1, dst=M2), IPv6(src=A6, dst=B6), UDP(src_port=5353, dst_port=53),
            DNS(id=7, rd=1, questions=[{"name": "example.com", "type": 28, "class_": 1}])]
    same(ours, theirs)


def test_icmp_echo():
    Ethernet, IPv4, ICMPv4 = layer("Ethernet"), layer("IPv4"), layer("ICMPv4")
    s = scapy_all
    theirs = s.Ether(src=M1, dst=M2) / s.IP(src=A4, dst=B4, id=1) / \
        s.ICMP(type=8, id=3, seq=4) / b"ping"
    ours = Ethernet(src=M1, dst=M2) / IPv4(src=A4, dst=B4, id=1) / \
        ICMPv4(type="EchoRequest", id=3, seq=4) / b"ping"
    same(ours, theirs)


def test_icmpv6_echo(pseudo_headers):
    Ethernet, IPv6, ICMPv6 = layer("Ethernet"), layer("IPv6"), layer("ICMPv6")
    ICMPv6Echo = layer("ICMPv6Echo")
    s = scapy_all
    theirs = s.Ether(src=M1, dst=M2) / s.IPv6(src=A6, dst=B6) / \
        s.ICMPv6EchoRequest(id=3, seq=4, data=b"ping")
    ours = Ethernet(src=M1, dst=M2) / IPv6(src=A6, dst=B6) / ICMPv6(type=128) / \
        ICMPv6Echo(identifier=3, seq=4) / b"ping"
    same(ours, theirs)


def test_vxlan_carries_a_whole_frame(pseudo_headers):
    Ethernet, IPv4, UDP, VXLAN = layer("Ethernet"), layer("IPv4"), layer("UDP"), layer("VXLAN")
    from scapy.layers.vxlan import VXLAN as ScapyVXLAN

    s = scapy_all
    theirs = (s.Ether(src=M1, dst=M2) / s.IP(src=A4, dst=B4, id=1) / s.UDP(sport=4000)
              / ScapyVXLAN(vni=42, flags=0x08) / s.Ether(src=M2, dst=M1)
              / s.IP(src="10.0.0.1", dst="10.0.0.2", id=2) / s.UDP(sport=1, dport=2) / b"in")
    ours = (Ethernet(src=M1, dst=M2) / IPv4(src=A4, dst=B4, id=1) / UDP(src_port=4000)
            / VXLAN(valid_vni=1, vni=42) / Ethernet(src=M2, dst=M1)  # dst port from VXLAN
            / IPv4(src="10.0.0.1", dst="10.0.0.2", id=2) / UDP(src_port=1, dst_port=2) / b"in")
    same(ours, theirs)


def test_gre_with_key_and_sequence_number():
    Ethernet, IPv4, GRE, ICMPv4 = (layer(n) for n in ("Ethernet", "IPv4", "GRE", "ICMPv4"))
    s = scapy_all
    theirs = (s.Ether(src=M1, dst=M2) / s.IP(src=A4, dst=B4, id=1)
              / s.GRE(key_present=1, key=0x1234, seqnum_present=1, seqence_number=9)
              / s.IP(src="10.0.0.1", dst="10.0.0.2", id=2) / s.ICMP(type=8, id=1, seq=1))
    ours = (Ethernet(src=M1, dst=M2) / IPv4(src=A4, dst=B4, id=1)
            / GRE(key_present=1, key=0x1234, seq_present=1, seq=9)
            / IPv4(src="10.0.0.1", dst="10.0.0.2", id=2) / ICMPv4(type=8, id=1, seq=1))
    same(ours, theirs)


def test_ipv6_hop_by_hop_options(pseudo_headers):
    Ethernet, IPv6, UDP = layer("Ethernet"), layer("IPv6"), layer("UDP")
    HopByHop = layer("IPv6HopByHop")
    s = scapy_all
    theirs = (s.Ether(src=M1, dst=M2) / s.IPv6(src=A6, dst=B6)
              / s.IPv6ExtHdrHopByHop(options=[s.RouterAlert(value=0)])
              / s.UDP(sport=1, dport=2) / b"x")
    # scapy pads the header to 8 bytes with an empty PadN option: ours says so
    options = [{"type": 5, "length": 2, "value": b"\0\0"}, {"type": 1, "length": 0, "value": b""}]
    ours = (Ethernet(src=M1, dst=M2) / IPv6(src=A6, dst=B6) / HopByHop(options=options)
            / UDP(src_port=1, dst_port=2) / b"x")
    same(ours, theirs)


def test_mpls_stack_marks_only_the_last_label_as_bottom(pseudo_headers):
    """MPLS's `unless stack_bottom == 0 -> MPLS` tells the builder the bottom-of-stack bit."""
    Ethernet, MPLS, IPv4, UDP = layer("Ethernet"), layer("MPLS"), layer("IPv4"), layer("UDP")
    from scapy.contrib.mpls import MPLS as ScapyMPLS

    s = scapy_all
    theirs = (s.Ether(src=M1, dst=M2, type=0x8847) / ScapyMPLS(label=16, s=0, ttl=64)
              / ScapyMPLS(label=17, s=1, ttl=64) / s.IP(src=A4, dst=B4, id=1)
              / s.UDP(sport=7, dport=9) / b"x")
    ours = [Ethernet(src=M1, dst=M2), MPLS(label=16, ttl=64), MPLS(label=17, ttl=64),
            IPv4(src=A4, dst=B4, id=1), UDP(src_port=7, dst_port=9), b"x"]
    same(ours, theirs)


def test_sctp_data_chunk_with_its_crc32c(pseudo_headers):
    """SCTP's checksum is CRC-32C (crc32c in sctp.layer), and a chunk's flags, length and
    padding left out are filled: byte-identical to scapy."""
    IPv4, SCTP = layer("IPv4"), layer("SCTP")
    s = scapy_all
    theirs = s.IP(src=A4, dst=B4, id=1) / s.SCTP(sport=1, dport=2, tag=5) / \
        s.SCTPChunkData(data=b"hello", tsn=1)
    ours = [IPv4(src=A4, dst=B4, id=1),
            SCTP(src_port=1, dst_port=2, verification_tag=5,
                 chunks=[{"type": "Data", "value": {"tsn": 1, "user_data": b"hello"}}])]
    same(ours, theirs)


def test_dhcp_discover_options_by_name():
    Ethernet, IPv4, UDP, DHCPv4 = layer("Ethernet"), layer("IPv4"), layer("UDP"), layer("DHCPv4")
    s = scapy_all
    theirs = (s.Ether(src=M1, dst="ff:ff:ff:ff:ff:ff")
              / s.IP(src="0.0.0.0", dst="255.255.255.255", id=1) / s.UDP(sport=68, dport=67) / s.BOOTP(chaddr=bytes.fromhex("020000000001"), xid=7)
              / s.DHCP(options=[("message-type", "discover"), "end"]))
    ours = [Ethernet(src=M1, dst="ff:ff:ff:ff:ff:ff"),
            IPv4(src="0.0.0.0", dst="255.255.255.255", id=1), UDP(src_port=68, dst_port=67),
            DHCPv4(operation=1, hardware_type=1, hardware_len=6, xid=7,
                   client_hw_addr=bytes.fromhex("020000000001") + bytes(10), magic=0x63825363,
                   options=[{"code": "MessageType", "value": 1}, {"code": "End"}])]
    same(ours, theirs)
