"""ERSPAN (protocols/erspan.layer): type II (GRE protocol 0x88be) and type III (0x22eb).

The corpus has no ERSPAN traffic, so the frames are built here with pktspec's builder and the
decoded values are compared with tshark's reading of the same frames
(tests/tshark_reading.py): the GRE header with its sequence number, every field of the
ERSPAN headers and the mirrored frame inside. Also: the builder fills GRE's protocol from the
binding; decoding and building again gives the same bytes; the fast decoder agrees with the
construct FORMAT; a frame cut short keeps the layers before the cut and says where."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.layers import ERSPANII, ERSPANIII, GRE, UDP, Dot1Q, Ethernet, IPv4, IPv6, Payload
from tests.protocols.test_fast_vs_construct import agree, assert_builds_back
from tests.tshark_reading import assert_reads_as_tshark, tshark_fields

SWITCH, COLLECTOR = "192.0.2.1", "192.0.2.99"
HOST_A, HOST_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def mirrored(*layers) -> bytes:
    return pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"),
                             IPv4(src=SWITCH, dst=COLLECTOR), *layers)


def host_frame(sport: int = 1111):
    return [Ethernet(src=HOST_A, dst=HOST_B), IPv4(src="10.0.0.1", dst="10.0.0.2"),
            UDP(src_port=sport, dst_port=2222), b"mirrored"]


FRAMES = [
    mirrored(GRE(seq=42), ERSPANII(vlan_identifier=100, cos=5, trunk_encap=2, is_truncated=1,
                                   session_id=0x155, index=0xabcde), *host_frame()),
    mirrored(GRE(seq=0xffffffff), ERSPANII(session_id=1, index=1, reserved=0),
             Ethernet(src=HOST_B, dst=HOST_A), Dot1Q(vlan_id=30, priority=6),
             IPv4(src="10.0.0.2", dst="10.0.0.1"), UDP(src_port=2222, dst_port=1112), b"tagged"),
    mirrored(GRE(seq=43), ERSPANIII(vlan_identifier=7, cos=1, bso=3, session_id=0x3ff,
                                    timestamp=0x01020304, sgt=0x55aa, pdu_frame=1,
                                    hardware_id=0x2a, direction=1, granularity=3),
             *host_frame(1113)),
    mirrored(GRE(seq=44), ERSPANIII(session_id=9, is_truncated=1, timestamp=0xfedcba98,
                                    granularity=1, optional_subheader=1, platform_id=3,
                                    platform_specific=0x123456789),
             *host_frame(1114)),
]

FIELDS = ["gre.proto", "gre.sequence_number", "erspan.version", "erspan.vlan", "erspan.cos",
          "erspan.encap", "erspan.bso", "erspan.truncated", "erspan.spanid",
          "erspan.reserved", "erspan.index", "erspan.timestamp", "erspan.sgt", "erspan.p",
          "erspan.ft", "erspan.hw", "erspan.direction", "erspan.gra", "erspan.o",
          "erspan.platid", "eth.src", "vlan.id", "ip.src", "udp.srcport"]


def reading(packet) -> dict[str, str]:
    """Our decode, written as tshark writes those fields."""
    gre = packet[GRE]
    row = dict.fromkeys(FIELDS, "")
    row.update({"gre.proto": f"0x{gre.protocol:04x}", "gre.sequence_number": str(gre.seq)})
    two, three = packet.layer(ERSPANII), packet.layer(ERSPANIII)
    if two is not None:
        row.update({"erspan.version": str(two.version), "erspan.vlan": str(two.vlan_identifier),
                    "erspan.cos": str(two.cos), "erspan.encap": str(two.trunk_encap),
                    "erspan.truncated": str(two.is_truncated),
                    "erspan.spanid": str(two.session_id), "erspan.reserved": str(two.reserved),
                    "erspan.index": str(two.index)})
    if three is not None:
        row.update({"erspan.version": str(three.version),
                    "erspan.vlan": str(three.vlan_identifier), "erspan.cos": str(three.cos),
                    "erspan.bso": str(three.bso), "erspan.truncated": str(three.is_truncated),
                    "erspan.spanid": str(three.session_id),
                    "erspan.timestamp": str(three.timestamp), "erspan.sgt": str(three.sgt),
                    "erspan.p": str(three.pdu_frame), "erspan.ft": str(three.frame_type),
                    "erspan.hw": str(three.hardware_id),
                    "erspan.direction": str(three.direction),
                    "erspan.gra": str(three.granularity),
                    "erspan.o": str(three.optional_subheader)})
        if three.optional_subheader:
            row["erspan.platid"] = str(three.platform_id)
    row["eth.src"] = ",".join(x.src for x in packet.layers if isinstance(x, Ethernet))
    row["vlan.id"] = ",".join(str(x.vlan_id) for x in packet.layers if isinstance(x, Dot1Q))
    row["ip.src"] = ",".join(x.src for x in packet.layers if isinstance(x, IPv4))
    row["udp.srcport"] = ",".join(str(x.src_port) for x in packet.layers if isinstance(x, UDP))
    return row


def test_fields_agree_with_tshark(tmp_path):
    assert_reads_as_tshark(FRAMES, FIELDS, reading, tmp_path)


def test_what_the_frames_hold():
    packet = pktspec.decode(FRAMES[0])
    assert [x.name for x in packet.layers] == [
        "Ethernet", "IPv4", "GRE", "ERSPANII", "Ethernet", "IPv4", "UDP", "Payload"]
    gre, two = packet[GRE], packet[ERSPANII]
    assert (gre.protocol, gre.seq_present, gre.seq) == (0x88be, 1, 42)
    assert (two.version, two.vlan_identifier, two.cos, two.trunk_encap, two.is_truncated,
            two.session_id, two.index) == (1, 100, 5, 2, 1, 0x155, 0xabcde)
    assert bytes(two.contents) == bytes.fromhex("1064b555000abcde")
    inner = packet.layers[4]
    assert (inner.src, inner.dst) == (HOST_A, HOST_B)
    assert bytes(packet[Payload].payload) == b"mirrored"

    three = pktspec.decode(FRAMES[3])[ERSPANIII]
    assert (three.version, three.session_id, three.timestamp, three.granularity) == \
        (2, 9, 0xfedcba98, 1)
    assert (three.optional_subheader, three.platform_id, three.platform_specific) == \
        (1, 3, 0x123456789)
    assert len(three.contents) == 20  # 12 bytes and the 8-byte platform subheader
    assert pktspec.decode(FRAMES[2])[ERSPANIII].platform_id is None


def test_type_iii_frame_type_2_is_an_ip_packet():
    """Frame type 2 (draft-foschiano-erspan: an IP packet) goes to IPv4 or IPv6 by the version
    nibble. tshark 4.0 shows these bytes as data; the checks here are of our own reading."""
    for ip, name in ((IPv4(src="10.9.9.9", dst="10.8.8.8"), "IPv4"),
                     (IPv6(src="2001:db8::9", dst="2001:db8::8"), "IPv6")):
        frame = mirrored(GRE(seq=1), ERSPANIII(session_id=2, frame_type=2), ip,
                         UDP(src_port=5, dst_port=6))
        packet = pktspec.decode(frame)
        assert [x.name for x in packet.layers][3:] == ["ERSPANIII", name, "UDP"]
        assert packet.layers[4].src in ("10.9.9.9", "2001:db8::9")
        assert pktspec.serialize(packet) == frame
    other = pktspec.decode(mirrored(GRE(seq=1), ERSPANIII(frame_type=5), b"\x45abc"))
    assert [x.name for x in other.layers][3:] == ["ERSPANIII", "Payload"]


def test_the_builder_fills_gres_protocol_and_the_versions():
    frame = FRAMES[2]
    packet = pktspec.decode(frame)
    assert packet[GRE].protocol == 0x22eb and packet[ERSPANIII].version == 2
    assert pktspec.decode(FRAMES[1])[ERSPANII].version == 1
    assert bytes(GRE(seq=1) / ERSPANII())[2:4] == b"\x88\xbe"
    assert bytes(ERSPANII(session_id=0x3ff, index=0xfffff)) == bytes.fromhex("100003ff000fffff")


def test_decoding_and_building_again_gives_the_same_bytes():
    assert_builds_back(FRAMES)


def test_fast_decoder_agrees_with_construct():
    for frame in FRAMES:
        packet = pktspec.decode(frame)
        agree(packet.layers[3])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(min_size=0, max_size=40), version=st.sampled_from([1, 2]))
def test_fast_decoder_agrees_with_construct_on_generated_headers(data, version):
    data = bytes([version << 4 | (data[0] & 0x0f if data else 0)]) + data[1:]
    for cls in (ERSPANII, ERSPANIII):
        packet = pktspec.decode(data, first=cls)
        if packet.layers and packet.layers[0].name == cls.name:
            agree(packet.layers[0])
        else:
            assert packet.error is not None and packet.error.layer == cls.name


def test_a_cut_frame_keeps_the_layers_before_the_cut():
    frame = FRAMES[0]  # ERSPAN starts at byte 42
    packet = pktspec.decode(frame[:42 + 5])
    assert [x.name for x in packet.layers] == ["Ethernet", "IPv4", "GRE", "DecodeFailure"]
    error = packet.error  # the second 32-bit word (reserved, index) is cut
    assert (error.layer, error.field_path, error.offset) == ("ERSPANII", "reserved", 46)
    assert "needs bytes 4..8 of the header, only 5 present" in error.message
    assert error.truncated and packet.truncated

    packet = pktspec.decode(FRAMES[3][:42 + 15])  # inside the platform subheader
    assert (packet.error.layer, packet.error.field_path) == ("ERSPANIII", "platform_id")
    assert packet.error.truncated

    packet = pktspec.decode(frame[:42 + 8 + 10])  # inside the mirrored Ethernet header
    assert [x.name for x in packet.layers][:4] == ["Ethernet", "IPv4", "GRE", "ERSPANII"]
    assert packet.error.layer == "Ethernet" and packet.error.truncated


def test_a_wrong_version_says_so():
    frame = bytearray(FRAMES[0])
    frame[42] = 0x20 | frame[42] & 0x0f  # type III's version under type II's protocol
    packet = pktspec.decode(bytes(frame))
    assert packet.error.layer == "ERSPANII" and "not ERSPAN type II" in packet.error.message
    assert not packet.error.truncated


def test_type_i_is_the_mirrored_frame_right_after_gre(tmp_path):
    """ERSPAN type I: GRE protocol 0x88be without a sequence number, and no ERSPAN header
    (GRE's `next Ethernet if protocol == 0x88be and seq_present == 0 ...`); tshark reads
    the mirrored frame there too (it was a DecodeFailure of ERSPANII)."""
    frame = pktspec.serialize(
        Ethernet() / IPv4(src="192.0.2.1", dst="192.0.2.2") / GRE(protocol=0x88BE)
        / Ethernet(src="02:00:00:00:00:09", dst="02:00:00:00:00:0a")
        / IPv4(src="198.51.100.1", dst="198.51.100.2") / UDP(src_port=1111, dst_port=2222))
    packet = pktspec.decode(frame)
    assert [x.name for x in packet.layers] == ["Ethernet", "IPv4", "GRE", "Ethernet", "IPv4",
                                               "UDP"]
    assert packet.error is None and packet[GRE].seq is None
    [row] = tshark_fields([frame], ["frame.protocols", "udp.dstport"], tmp_path)
    assert row["frame.protocols"].endswith(":gre:erspan:eth:ethertype:ip:udp")  # no header
    assert row["udp.dstport"] == "2222"
