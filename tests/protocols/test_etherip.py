"""EtherIP (protocols/etherip.layer): Ethernet frames in IP protocol 97 (RFC 3378).

The corpus has no EtherIP traffic, so the frames are built here with pktspec's builder and
the decoded values are compared with tshark's reading of the same frames
(tests/tshark_reading.py): over IPv4 and IPv6, with ARP, a VLAN-tagged frame and IPv4/TCP
inside. Also: the builder fills the IP protocol and the version; decoding and building again
gives the same bytes; the fast decoder agrees with the construct FORMAT; a frame cut short
keeps the layers before the cut and says where."""

from __future__ import annotations

import pktspec
from pktspec.layers import ARP, TCP, Dot1Q, EtherIP, Ethernet, IPv4, IPv6
from tests.protocols.test_fast_vs_construct import agree, assert_builds_back
from tests.tshark_reading import assert_reads_as_tshark

BRIDGE_A, BRIDGE_B = "192.0.2.1", "192.0.2.2"
HOST_A, HOST_B = "02:00:00:00:10:0a", "02:00:00:00:10:0b"


def over_ipv4(*layers, etherip=None) -> bytes:
    return pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"),
                             IPv4(src=BRIDGE_A, dst=BRIDGE_B), etherip or EtherIP(), *layers)


FRAMES = [
    over_ipv4(Ethernet(src=HOST_A, dst="ff:ff:ff:ff:ff:ff"),
              ARP(operation=1, source_hw_address=HOST_A, source_prot_address="10.1.0.1",
                  dst_hw_address="00:00:00:00:00:00", dst_prot_address="10.1.0.2")),
    over_ipv4(Ethernet(src=HOST_B, dst=HOST_A), IPv4(src="10.1.0.2", dst="10.1.0.1"),
              TCP(src_port=22, dst_port=50000, seq=99, flags="SA")),
    over_ipv4(Ethernet(src=HOST_A, dst=HOST_B), Dot1Q(vlan_id=300),
              IPv4(src="10.1.0.1", dst="10.1.0.2"), TCP(src_port=50000, dst_port=22, seq=98,
                                                        flags="S")),
    pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", ethertype=0x86dd),
                      IPv6(src="2001:db8::1", dst="2001:db8::2"), EtherIP(),
                      Ethernet(src=HOST_B, dst=HOST_A), IPv4(src="10.1.0.2", dst="10.1.0.1"),
                      TCP(src_port=22, dst_port=50001, seq=5, flags="A")),
    # a reserved value that is not 0 (tshark notes it; both read it)
    over_ipv4(Ethernet(src=HOST_A, dst=HOST_B), IPv4(src="10.1.0.1", dst="10.1.0.2"),
              TCP(src_port=1, dst_port=2), etherip=EtherIP(reserved=0x123)),
]

FIELDS = ["ip.proto", "ipv6.nxt", "etherip.ver", "etherip.reserved", "eth.src", "eth.dst",
          "vlan.id", "arp.src.proto_ipv4", "ip.src", "tcp.srcport", "tcp.seq_raw"]


def reading(packet) -> dict[str, str]:
    """Our decode, written as tshark writes those fields."""
    etherip = packet[EtherIP]
    row = dict.fromkeys(FIELDS, "")

    def each(cls, attr, fmt=str):
        return ",".join(fmt(getattr(x, attr)) for x in packet.layers if isinstance(x, cls))

    row.update({"ip.proto": each(IPv4, "protocol"), "ipv6.nxt": each(IPv6, "next_header"),
                "etherip.ver": str(etherip.version),
                "etherip.reserved": f"0x{etherip.reserved:04x}",
                "eth.src": each(Ethernet, "src"), "eth.dst": each(Ethernet, "dst"),
                "vlan.id": each(Dot1Q, "vlan_id"),
                "arp.src.proto_ipv4": each(ARP, "source_prot_address"),
                "ip.src": each(IPv4, "src"), "tcp.srcport": each(TCP, "src_port"),
                "tcp.seq_raw": each(TCP, "seq")})
    return row


def test_fields_agree_with_tshark(tmp_path):
    assert_reads_as_tshark(FRAMES, FIELDS, reading, tmp_path)


def test_what_the_frames_hold():
    packet = pktspec.decode(FRAMES[2])
    assert [x.name for x in packet.layers] == [
        "Ethernet", "IPv4", "EtherIP", "Ethernet", "Dot1Q", "IPv4", "TCP"]
    assert packet.layers[1].protocol == 97
    etherip = packet[EtherIP]
    assert (etherip.version, etherip.reserved) == (3, 0)
    assert bytes(etherip.contents) == b"\x30\x00"
    assert (packet.layers[3].src, packet.layers[3].dst) == (HOST_A, HOST_B)
    assert packet[Dot1Q].vlan_id == 300
    assert pktspec.decode(FRAMES[0])[ARP].dst_prot_address == "10.1.0.2"
    odd = pktspec.decode(FRAMES[4])
    assert odd[EtherIP].reserved == 0x123 and bytes(odd[EtherIP].contents) == b"\x31\x23"
    assert odd.layers[3].dst == HOST_B
    over6 = pktspec.decode(FRAMES[3])
    assert over6[IPv6].next_header == 97 and over6.layers[2].name == "EtherIP"


def test_the_builder_fills_the_ip_protocol_and_the_version():
    data = bytes(IPv4(src=BRIDGE_A, dst=BRIDGE_B) / EtherIP() / Ethernet(src=HOST_A, dst=HOST_B))
    assert data[9] == 97 and data[20:22] == b"\x30\x00"
    assert bytes(IPv6() / EtherIP())[6] == 97


def test_decoding_and_building_again_gives_the_same_bytes_and_agrees_with_format():
    assert_builds_back(FRAMES)
    for data in (b"\x30\x00", b"\xff\xff", b"\x00\x01"):
        agree(pktspec.decode(data, first=EtherIP).layers[0])


def test_a_cut_frame_keeps_the_layers_before_the_cut():
    packet = pktspec.decode(FRAMES[1][:34 + 1])  # one byte of EtherIP
    assert [x.name for x in packet.layers] == ["Ethernet", "IPv4", "DecodeFailure"]
    error = packet.error
    assert (error.layer, error.offset) == ("EtherIP", 34) and error.truncated
    assert packet.truncated

    packet = pktspec.decode(FRAMES[1][:34 + 2 + 10])  # inside the tunnelled Ethernet header
    assert [x.name for x in packet.layers] == ["Ethernet", "IPv4", "EtherIP", "DecodeFailure"]
    assert (packet.error.layer, packet.error.offset) == ("Ethernet", 36 + 6)
    assert packet.error.field_path == "src" and packet.error.truncated
