"""GTPv1-U (protocols/gtp.layer): the GTP user plane over UDP port 2152.

The corpus has no GTP traffic, so the frames are built here with pktspec's builder and the
decoded values are compared with tshark's reading of the same frames
(tests/tshark_reading.py): G-PDUs carrying IPv4/TCP and IPv6/UDP, with and without the
optional fields, a chain of extension headers, and echo messages. Also: the inner IP and TCP
are decoded and a TCP connection inside the tunnel reaches pktspec.streams(); the builder
fills the message length; decoding and building again gives the same bytes; the fast
decoder agrees with the construct FORMAT; a frame cut short keeps the layers before the cut
and says where the cut is."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.capture.pcap import PcapWriter
from pktspec.layers import TCP, UDP, Ethernet, GTPv1U, IPv4, IPv6, Payload
from pktspec.protocols.gtp import GTPExtensionHeaderType, GTPMessageType
from pktspec.runtime import ENDPOINT_TCP_PORT, Flow
from tests.protocols.test_fast_vs_construct import agree, assert_builds_back
from tests.tshark_reading import assert_reads_as_tshark

ENB, SGW = "192.0.2.10", "192.0.2.20"  # the tunnel's ends
UE, SERVER = "10.45.0.7", "198.51.100.80"  # the user's packet inside it


def tunnel(gtp: GTPv1U, *inner, uplink: bool = True) -> bytes:
    src, dst = (ENB, SGW) if uplink else (SGW, ENB)
    return pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"),
                             IPv4(src=src, dst=dst),
                             UDP(src_port=2152, dst_port=2152), gtp, *inner)


FRAMES = [
    # a bare G-PDU: the 8-byte header, then IPv4/TCP
    tunnel(GTPv1U(teid=0x11223344), IPv4(src=UE, dst=SERVER),
           TCP(src_port=40000, dst_port=8000, seq=1000, flags="S")),
    # a sequence number: the four optional bytes
    tunnel(GTPv1U(teid=0x00000001, sequence_number=0x4242),
           IPv4(src=SERVER, dst=UE), TCP(src_port=8000, dst_port=40000, seq=7, flags="PA"),
           b"data", uplink=False),
    # an N-PDU number, IPv6/UDP inside
    tunnel(GTPv1U(teid=0xdeadbeef, npdu=9),
           IPv6(src="2001:db8:1::7", dst="2001:db8:2::80"),
           UDP(src_port=5000, dst_port=6000), b"hello over ipv6"),
    # two extension headers: a PDU session container (QFI 9), then a PDCP PDU number
    tunnel(GTPv1U(teid=0x2, next_extension_header_type="PDUSessionContainer",
                  extension_headers=[{"content": b"\x10\x09", "next_type": "PDCPPDUNumber"},
                                     {"content": b"\x12\x34"}]),
           IPv4(src=UE, dst=SERVER), TCP(src_port=40001, dst_port=80, seq=5, flags="A"), b"xy"),
    # all three flags, one extension header of two words
    tunnel(GTPv1U(teid=0x7, extension_header_flag=1, sequence_number_flag=1, npdu_flag=1,
                  sequence_number=0xfffe, npdu=0x80, next_extension_header_type=0x40,
                  extension_headers=[{"content": b"\x08\x68\xaa\xbb\xcc\xdd"}]),
           IPv4(src=UE, dst=SERVER), UDP(src_port=53000, dst_port=7000), b"q"),
    # path management: an echo request and its response (a recovery IE), no user packet
    tunnel(GTPv1U(teid=0, message_type="EchoRequest", sequence_number=77)),
    tunnel(GTPv1U(teid=0, message_type="EchoResponse", sequence_number=77), b"\x0e\x00",
           uplink=False),
    # an end marker
    tunnel(GTPv1U(teid=0x11223344, message_type="EndMarker")),
]

FIELDS = ["gtp.flags.version", "gtp.flags.payload", "gtp.flags.reserved", "gtp.flags.e",
          "gtp.flags.s", "gtp.flags.pn", "gtp.message", "gtp.length", "gtp.teid",
          "gtp.seq_number", "gtp.npdu_number", "gtp.ext_hdr.next", "gtp.ext_hdr.length",
          "ip.src", "ipv6.src", "tcp.srcport", "tcp.seq_raw", "udp.dstport"]


def reading(packet) -> dict[str, str]:
    """Our decode, written as tshark writes those fields (tshark shows the sequence and N-PDU
    numbers only when their flag is set, and lists each header's next-type field)."""
    gtp = packet[GTPv1U]
    row = dict.fromkeys(FIELDS, "")
    row.update({
        "gtp.flags.version": str(gtp.version), "gtp.flags.payload": str(gtp.protocol_type),
        "gtp.flags.reserved": str(gtp.reserved), "gtp.flags.e": str(gtp.extension_header_flag),
        "gtp.flags.s": str(gtp.sequence_number_flag), "gtp.flags.pn": str(gtp.npdu_flag),
        "gtp.message": f"0x{gtp.message_type:02x}", "gtp.length": str(gtp.message_length),
        "gtp.teid": f"0x{gtp.teid:08x}",
    })
    if gtp.sequence_number_flag:
        row["gtp.seq_number"] = f"0x{gtp.sequence_number:04x}"
    if gtp.npdu_flag:
        row["gtp.npdu_number"] = f"0x{gtp.npdu:02x}"
    if gtp.extension_header_flag:
        headers = gtp.extension_headers or []
        types = [gtp.next_extension_header_type, *(h.next_type for h in headers)]
        row["gtp.ext_hdr.next"] = ",".join(f"0x{t:02x}" for t in types)
        row["gtp.ext_hdr.length"] = ",".join(str(h.length) for h in headers)
    names = {"ip.src": (IPv4, "src"), "ipv6.src": (IPv6, "src"), "tcp.srcport": (TCP, "src_port"),
             "tcp.seq_raw": (TCP, "seq"), "udp.dstport": (UDP, "dst_port")}
    for column, (cls, attr) in names.items():
        row[column] = ",".join(str(getattr(x, attr)) for x in packet.layers if isinstance(x, cls))
    return row


def test_fields_agree_with_tshark(tmp_path):
    assert_reads_as_tshark(FRAMES, FIELDS, reading, tmp_path)


def test_what_the_frames_hold():
    """The values above, spelled out for two frames (tshark agreed on them)."""
    first = pktspec.decode(FRAMES[0])
    assert [x.name for x in first.layers] == ["Ethernet", "IPv4", "UDP", "GTPv1U", "IPv4", "TCP"]
    gtp = first[GTPv1U]
    assert (gtp.version, gtp.protocol_type, gtp.message_type, gtp.teid) == (1, 1, 255, 0x11223344)
    assert gtp.message_type == GTPMessageType.GPDU and gtp.message_length == 40
    assert gtp.sequence_number is None and gtp.extension_headers is None
    assert len(gtp.contents) == 8
    inner_ip, inner_tcp = first.layers[4], first[TCP]
    assert (inner_ip.src, inner_ip.dst) == (UE, SERVER)
    assert (inner_tcp.src_port, inner_tcp.dst_port, inner_tcp.seq) == (40000, 8000, 1000)
    assert str(inner_tcp.flags) == "[S]"

    chained = pktspec.decode(FRAMES[3])[GTPv1U]
    assert chained.next_extension_header_type == GTPExtensionHeaderType.PDUSessionContainer
    assert [(h.length, bytes(h.content), h.next_type) for h in chained.extension_headers] == [
        (1, b"\x10\x09", 0xc0), (1, b"\x12\x34", 0)]
    assert len(chained.contents) == 20 and chained.message_length == 12 + 20 + 20 + 2

    ipv6 = pktspec.decode(FRAMES[2])
    assert [x.name for x in ipv6.layers][3:] == ["GTPv1U", "IPv6", "UDP", "Payload"]
    assert bytes(ipv6[Payload].payload) == b"hello over ipv6"


def test_messages_other_than_gpdu_keep_their_information_elements_as_payload():
    echo = pktspec.decode(FRAMES[6])
    assert [x.name for x in echo.layers] == ["Ethernet", "IPv4", "UDP", "GTPv1U", "Payload"]
    assert echo[GTPv1U].message_type == GTPMessageType.EchoResponse
    assert bytes(echo[GTPv1U].payload) == b"\x0e\x00"  # recovery IE, restart counter 0
    assert echo[GTPv1U].message_length == 6
    request = pktspec.decode(FRAMES[5])  # nothing after the optional bytes
    assert [x.name for x in request.layers] == ["Ethernet", "IPv4", "UDP", "GTPv1U"]
    assert request[GTPv1U].sequence_number == 77 and request[GTPv1U].message_length == 4


def test_a_gpdu_that_is_not_ip_stays_payload():
    frame = tunnel(GTPv1U(teid=1), b"\x00\x01\x02\x03")
    packet = pktspec.decode(frame)
    assert packet.error is None
    assert [x.name for x in packet.layers][3:] == ["GTPv1U", "Payload"]


def test_the_builder_fills_the_message_length_and_the_flags():
    data = bytes(GTPv1U(teid=5, sequence_number=3) / b"abc")
    # flags 0x32: version 1, protocol type 1, S; G-PDU; 4 optional bytes + 3 payload bytes
    assert data == bytes.fromhex("32ff0007" "00000005" "0003" "00" "00") + b"abc"
    assert bytes(GTPv1U(teid=5) / b"abc") == bytes.fromhex("30ff000300000005") + b"abc"
    packet = pktspec.decode(FRAMES[3])
    assert packet[UDP].length == len(FRAMES[3]) - 14 - 20
    assert packet[GTPv1U].message_length == len(FRAMES[3]) - 14 - 20 - 8 - 8


def test_decoding_and_building_again_gives_the_same_bytes_and_agrees_with_format():
    assert_builds_back(FRAMES)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flags=st.integers(0, 7), message_type=st.sampled_from([1, 2, 26, 254, 255]),
       first_type=st.sampled_from([0, 0x40, 0x85, 0xc0]),
       words=st.lists(st.integers(0, 3), max_size=3), tail=st.binary(max_size=24),
       cut=st.integers(0, 64))
def test_fast_decoder_agrees_with_construct_on_generated_headers(flags, message_type,
                                                                first_type, words, tail, cut):
    """Headers with any flags and chains of extension headers (lengths of 0 words among
    them), whole or cut anywhere: both decoders read the same, and decoding never raises."""
    optional = b""
    if flags:
        optional = struct.pack(">HBB", 0x1234, 0x56, first_type)
    chain = b"".join(bytes([n]) + bytes(range(max(0, 4 * n - 2))) +
                     bytes([0x85 if i + 1 < len(words) else 0]) for i, n in enumerate(words))
    body = optional + chain + tail
    data = (bytes([0x30 | flags, message_type]) + struct.pack(">HI", len(body), 9) + body)[:cut]
    packet = pktspec.decode(data, first=GTPv1U)
    if packet.layers and packet.layers[0].name == "GTPv1U":
        agree(packet.layers[0])
    else:
        assert packet.error is not None and packet.error.layer == "GTPv1U"


def test_a_cut_frame_keeps_the_layers_before_the_cut():
    frame = FRAMES[3]  # GTP (20 bytes with its extension headers) starts at byte 42
    packet = pktspec.decode(frame[:42 + 15])  # inside the second extension header
    assert [x.name for x in packet.layers] == ["Ethernet", "IPv4", "UDP", "DecodeFailure"]
    error = packet.error
    assert (error.layer, error.field_path, error.offset) == ("GTPv1U", "extension_headers", 54)
    assert error.truncated and "extension_headers" in error.message
    assert packet.truncated

    packet = pktspec.decode(frame[:42 + 6])  # inside the TEID
    assert (packet.error.layer, packet.error.field_path, packet.error.offset) == \
        ("GTPv1U", "teid", 46)
    assert "teid needs bytes 4..8" in packet.error.message

    packet = pktspec.decode(frame[:42 + 20 + 30])  # inside the inner TCP header
    assert [x.name for x in packet.layers][:5] == ["Ethernet", "IPv4", "UDP", "GTPv1U", "IPv4"]
    assert packet.error.layer == "TCP" and packet.error.truncated


def test_a_message_length_shorter_than_the_header_is_an_error():
    frame = bytearray(FRAMES[3])
    frame[42 + 2:42 + 4] = (2).to_bytes(2, "big")  # the optional bytes alone are 4
    packet = pktspec.decode(bytes(frame))
    assert packet.layers[2].name == "UDP" and packet.error.layer == "GTPv1U"
    assert "negative" in packet.error.message


def test_a_tcp_connection_inside_the_tunnel_reaches_streams(tmp_path):
    def up(seg):
        return tunnel(GTPv1U(teid=0x10), IPv4(src=UE, dst=SERVER), seg)

    def down(seg):
        return tunnel(GTPv1U(teid=0x20), IPv4(src=SERVER, dst=UE), seg, uplink=False)

    frames = [up(TCP(src_port=40000, dst_port=8000, seq=100, flags="S")),
              down(TCP(src_port=8000, dst_port=40000, seq=500, ack=101, flags="SA")),
              up(TCP(src_port=40000, dst_port=8000, seq=101, ack=501, flags="A")),
              up(TCP(src_port=40000, dst_port=8000, seq=101, ack=501, flags="PA") / b"hello "),
              up(TCP(src_port=40000, dst_port=8000, seq=107, ack=501, flags="PA") / b"world"),
              down(TCP(src_port=8000, dst_port=40000, seq=501, ack=112, flags="PA") / b"ok")]
    path = tmp_path / "gtp-tcp.pcap"
    with PcapWriter(path, linktype=1) as writer:
        for i, frame in enumerate(frames):
            writer.write(frame, 1_700_000_000 + i)
    [conn] = list(pktspec.streams(str(path)))
    assert (str(conn.client), str(conn.server)) == (f"{UE}:40000", f"{SERVER}:8000")
    assert bytes(conn.client.data) == b"hello world" and bytes(conn.server.data) == b"ok"
    # the packet's network and transport layers are the tunnel's (the first ones); the
    # inner layers have their own flows
    packet = pktspec.decode(frames[0])
    assert packet.transport.name == "UDP" and str(packet.transport.flow) == "2152->2152"
    assert str(packet.network.flow) == f"{ENB}->{SGW}"
    assert packet[TCP].flow == Flow.from_endpoints(ENDPOINT_TCP_PORT(40000),
                                                   ENDPOINT_TCP_PORT(8000))
    assert str(packet.layers[4].flow) == f"{UE}->{SERVER}"
