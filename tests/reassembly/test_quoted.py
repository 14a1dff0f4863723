"""An ICMP error quotes part of another packet: its copy of a TCP segment is not the
connection's data, and its addresses are not the packet's own (`quotes;` in icmpv4.layer
and icmpv6.layer)."""

from __future__ import annotations

import pktspec
from pktspec.layers import TCP, UDP, Ethernet, ICMPv4, ICMPv6, IPv4, IPv6
from pktspec.reassembly import TCPAssembler
from pktspec.runtime.metadata import make_info

C, S = "192.0.2.1", "192.0.2.2"


def tcp_packet(src, dst, sport, dport, seq, flags, data=b"", ack=0):
    return Ethernet() / IPv4(src=src, dst=dst) / TCP(src_port=sport, dst_port=dport, seq=seq,
                                                     ack=ack, flags=flags) / data


def test_a_quoted_segment_is_not_stream_data():
    """First copy wins in the assembler: a forged ICMP error quoting a segment must not get
    in ahead of the real one (tshark's follow ignores quoted datagrams too)."""
    frames = [
        tcp_packet(C, S, 40000, 80, 100, "S"),
        tcp_packet(S, C, 80, 40000, 500, "SA", ack=101),
        tcp_packet(C, S, 40000, 80, 101, "PA", b"GET /", ack=501),
        Ethernet() / IPv4(src="203.0.113.9", dst=C) / ICMPv4(type="DestinationUnreachable",
                                                              code=3)
        / IPv4(src=C, dst=S) / TCP(src_port=40000, dst_port=80, seq=106, flags="PA")
        / b"EVIL!",
        tcp_packet(C, S, 40000, 80, 106, "PA", b" HTTP", ack=501),
    ]
    packets = [pktspec.decode(bytes(f), Ethernet, metadata=make_info((i, 0, 1_000_000, 0, 0, 0,
                                                                       1, None)))
               for i, f in enumerate(frames)]
    (conn,) = list(pktspec.streams(packets))
    assert conn.client.data == b"GET / HTTP"
    assert packets[3].transport is None and packets[3].network.src == "203.0.113.9"
    assembler = TCPAssembler(lambda c: None)
    for p in packets:
        assembler.assemble(p)
    assert assembler.stats.ignored == 1


def test_icmpv6_packet_too_big_makes_no_connection():
    quoted = IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(src_port=40000, dst_port=443,
                                                              seq=1, flags="A") / (b"x" * 8)
    frame = Ethernet() / IPv6(src="2001:db8::ff", dst="2001:db8::1") / ICMPv6(type=2) \
        / pktspec.layers.ICMPv6PacketTooBig(mtu=1280) / quoted
    packet = pktspec.decode(bytes(frame), Ethernet)
    assert [layer.name for layer in packet.layers][-3:-1] == ["IPv6", "TCP"]
    assert packet.transport is None and packet.network.src == "2001:db8::ff"
    assert list(pktspec.streams([packet])) == []


def test_lazy_and_eager_agree_on_the_quoted_layers():
    frame = bytes(Ethernet() / IPv4(src="198.51.100.7", dst=C)
                  / ICMPv4(type="DestinationUnreachable", code=3)
                  / IPv4(src=C, dst="198.51.100.7") / UDP(src_port=40000, dst_port=9999) / b"hi")
    for lazy in (False, True):
        packet = pktspec.decode(frame, Ethernet, lazy=lazy)
        assert packet.transport is None, lazy
        assert packet.network.src == "198.51.100.7"
        assert packet[UDP].src_port == 40000  # still decoded, and reachable by class


def test_a_quoted_tunnel_is_not_stream_data_either():
    """The quoting layer may be further back than the layer before the network one (an
    ICMP error quoting an IPv4-in-IPv4 packet)."""
    quoted = (Ethernet() / IPv4(src="203.0.113.9", dst=C)
              / ICMPv4(type="DestinationUnreachable", code=3)
              / IPv4(src=C, dst=S) / IPv4(src=C, dst=S)
              / TCP(src_port=40000, dst_port=80, seq=101, flags="PA") / b"INJECTED")
    frames = [tcp_packet(C, S, 40000, 80, 100, "S"),
              tcp_packet(S, C, 80, 40000, 500, "SA", ack=101),
              quoted, tcp_packet(C, S, 40000, 80, 101, "PA", b"GET /", ack=501)]
    packets = [pktspec.decode(bytes(f), Ethernet) for f in frames]
    (conn,) = list(pktspec.streams(packets))
    assert conn.client.data == b"GET /"
