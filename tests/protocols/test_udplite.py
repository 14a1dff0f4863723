"""UDP-Lite (protocols/udplite.layer): IP protocol 136 (RFC 3828).

The corpus has no UDP-Lite traffic, so the frames are built here with pktspec's builder and
the decoded values are compared with tshark's reading of the same frames
(tests/tshark_reading.py), tshark's UDP-Lite checksum check turned on: ports, checksum
coverage, checksum, and the application found by port in UDP's table (DNS). The checksum
the builder computes (over the whole datagram for coverage 0, else over the covered bytes,
`take(...)` in the .layer file) is the one tshark calculates and the one worked out here by
hand (RFC 1071 over the pseudo-header and the covered bytes). Also: flows, decoding and building again gives the same bytes, the fast
decoder agrees with the construct FORMAT, a frame cut short keeps the layers before the cut."""

from __future__ import annotations

import ipaddress

import pytest

import pktspec
from pktspec.layers import DNS, Ethernet, IPv4, IPv6, Payload, UDPLite
from pktspec.runtime import ENDPOINT_UDP_PORT, Flow
from tests.hand_checksums import ones_complement
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import assert_reads_as_tshark, tshark_fields

V4 = ("192.0.2.1", "192.0.2.2")
V6 = ("2001:db8::1", "2001:db8::2")
BODY = b"lightweight, partly protected payload"


def by_hand(addrs: tuple[str, str], datagram: bytes, coverage: int) -> int:
    """The UDP-Lite checksum of RFC 3828 3.1: pseudo-header (with the IP length of the
    datagram) and the first `coverage` bytes, the checksum field taken as 0."""
    src, dst = (ipaddress.ip_address(a).packed for a in addrs)
    length = len(datagram)
    if len(src) == 4:
        pseudo = src + dst + bytes([0, 136]) + length.to_bytes(2, "big")
    else:
        pseudo = src + dst + length.to_bytes(4, "big") + bytes([0, 0, 0, 136])
    covered = datagram[:6] + b"\0\0" + datagram[8:coverage or length]
    return ones_complement(pseudo + covered) or 0xFFFF  # 0 is sent as all ones


def frame(addrs, udplite: UDPLite, *payload) -> bytes:
    ip = IPv4(src=addrs[0], dst=addrs[1]) if ":" not in addrs[0] else IPv6(src=addrs[0],
                                                                           dst=addrs[1])
    return pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"), ip,
                             udplite, *payload)


def partial(addrs, coverage: int, sport: int = 4000) -> bytes:
    """A datagram whose checksum covers `coverage` bytes, its checksum computed by hand."""
    datagram = bytes(UDPLite(src_port=sport, dst_port=5004, checksum_coverage=coverage,
                             checksum=0) / BODY)
    checksum = by_hand(addrs, datagram, coverage)
    return frame(addrs, UDPLite(src_port=sport, dst_port=5004, checksum_coverage=coverage,
                                checksum=checksum), BODY)


QUERY = DNS(id=0x1234, rd=1, questions=[{"name": "example.org", "type": 1, "class_": 1}])

FRAMES = [
    frame(V4, UDPLite(src_port=4000, dst_port=5004), BODY),            # coverage 0: all
    frame(V6, UDPLite(src_port=4001, dst_port=5004), BODY),
    partial(V4, 8),                                                     # the header alone
    partial(V6, 20, 4002),
    partial(V4, 8 + len(BODY), 4003),                                   # all, by its length
    frame(V4, UDPLite(src_port=40000, dst_port=53), QUERY),             # DNS by UDP's table
]
BAD = bytearray(FRAMES[0])
BAD[14 + 20 + 6] ^= 0x01  # the checksum's high byte changed
FRAMES.append(bytes(BAD))

FIELDS = ["ip.proto", "ipv6.nxt", "udp.srcport", "udp.dstport", "udp.checksum_coverage",
          "udp.checksum", "udp.checksum.status", "udp.checksum_calculated", "dns.id",
          "dns.qry.name"]


def reading(packet) -> dict[str, str]:
    """Our decode, written as tshark writes those fields; the checksum status is what
    verify_checksums says (tshark: 1 good, 0 bad)."""
    lite = packet[UDPLite]
    ip = packet.network
    row = dict.fromkeys(FIELDS, "")
    row.update({"ip.proto" if ip.name == "IPv4" else "ipv6.nxt":
                str(ip.protocol if ip.name == "IPv4" else ip.next_header),
                "udp.srcport": str(lite.src_port), "udp.dstport": str(lite.dst_port),
                "udp.checksum_coverage": str(lite.checksum_coverage),
                "udp.checksum": f"0x{lite.checksum:04x}"})
    bad = packet.verify_checksums()
    row["udp.checksum.status"] = "0" if bad else "1"
    expected = bad[0].expected if bad else lite.checksum
    row["udp.checksum_calculated"] = f"0x{expected:04x}"
    dns = packet.layer(DNS)
    if dns is not None:
        row["dns.id"] = f"0x{dns.id:04x}"
        row["dns.qry.name"] = ",".join(q.name for q in dns.questions)
    return row


@pytest.fixture
def tshark_checks_udplite(tmp_path, monkeypatch):
    """tshark with its UDP-Lite checksum check on (a preferences file of this test's own)."""
    config = tmp_path / "wireshark-config"
    config.mkdir()
    (config / "preferences").write_text("udplite.check_checksum: TRUE\n")
    monkeypatch.setenv("WIRESHARK_CONFIG_DIR", str(config))


def test_fields_agree_with_tshark(tmp_path, tshark_checks_udplite):
    truth = assert_reads_as_tshark(FRAMES, FIELDS, reading, tmp_path)
    assert truth[-1]["udp.checksum.status"] == "0"  # the damaged one, bad for both


def test_the_checksum_the_builder_computes_is_the_rfcs():
    for data, addrs in ((FRAMES[0], V4), (FRAMES[1], V6)):
        packet = pktspec.decode(data)
        datagram = bytes(packet[UDPLite].contents) + bytes(packet[UDPLite].payload)
        assert packet[UDPLite].checksum == by_hand(addrs, datagram, 0) != 0


def test_verification_and_building_cover_a_partial_coverage_too():
    assert pktspec.decode(FRAMES[0]).verify_checksums() == []
    [bad] = pktspec.decode(FRAMES[-1]).verify_checksums()
    assert (bad.layer, bad.field) == ("UDPLite", "checksum")
    assert bad.expected == pktspec.decode(FRAMES[0])[UDPLite].checksum
    for data in FRAMES[2:5]:  # partial coverages, checksums worked out by hand
        assert pktspec.decode(data).verify_checksums() == []
    wrong = bytearray(FRAMES[2])
    wrong[14 + 20 + 6] ^= 0x01
    assert [b.field for b in pktspec.decode(bytes(wrong)).verify_checksums()] == ["checksum"]
    outside = bytearray(FRAMES[2])
    outside[-1] ^= 0x01  # a byte the 8-byte coverage leaves out: still good
    assert pktspec.decode(bytes(outside)).verify_checksums() == []
    built = frame(V4, UDPLite(src_port=4000, dst_port=5004, checksum_coverage=8), BODY)
    assert built == FRAMES[2]  # the builder computes the covered bytes' checksum
    assert bytes(UDPLite(checksum_coverage=8, checksum=0xbeef) / b"x")[6:8] == b"\xbe\xef"


def test_what_the_frames_hold_and_the_flows():
    packet = pktspec.decode(FRAMES[0])
    assert [x.name for x in packet.layers] == ["Ethernet", "IPv4", "UDPLite", "Payload"]
    assert packet.network.protocol == 136 and packet.transport is packet[UDPLite]
    lite = packet[UDPLite]
    assert (lite.src_port, lite.dst_port, lite.checksum_coverage) == (4000, 5004, 0)
    assert bytes(packet[Payload].payload) == BODY
    flow = lite.flow
    assert str(flow) == "4000->5004" and flow.reverse() == pktspec.decode(
        frame(V4, UDPLite(src_port=5004, dst_port=4000), b"r"))[UDPLite].flow
    assert flow.src.kind.name == "UDPLite port"  # a type of its own, as gopacket's
    assert flow != Flow.from_endpoints(ENDPOINT_UDP_PORT(4000), ENDPOINT_UDP_PORT(5004))
    dns = pktspec.decode(FRAMES[5])
    assert [x.name for x in dns.layers] == ["Ethernet", "IPv4", "UDPLite", "DNS"]
    assert dns[DNS].questions[0].name == "example.org"


def test_decoding_and_building_again_gives_the_same_bytes():
    for data in FRAMES:
        packet = pktspec.decode(data)
        assert pktspec.serialize(packet) == data
    for data in FRAMES[:2] + FRAMES[5:6]:  # coverage 0: recomputing gives the same bytes
        assert pktspec.decode(data).build(fix_lengths=True, compute_checksums=True) == data
    assert pktspec.decode(FRAMES[-1]).build(compute_checksums=True) == FRAMES[0]
    for data in FRAMES[2:5]:  # a partial coverage's checksum is recomputed the same
        assert pktspec.decode(data).build(compute_checksums=True) == data


def test_fast_decoder_agrees_with_construct():
    for data in FRAMES:
        agree(pktspec.decode(data)[UDPLite])


def test_a_cut_frame_keeps_the_layers_before_the_cut():
    packet = pktspec.decode(FRAMES[0][:34 + 5])
    assert [x.name for x in packet.layers] == ["Ethernet", "IPv4", "DecodeFailure"]
    error = packet.error
    assert (error.layer, error.field_path, error.offset) == ("UDPLite", "checksum_coverage", 38)
    assert error.truncated and packet.truncated
    packet = pktspec.decode(FRAMES[5][:34 + 8 + 5])  # inside the DNS header
    assert [x.name for x in packet.layers][:3] == ["Ethernet", "IPv4", "UDPLite"]
    assert packet.error.layer == "DNS" and packet.error.truncated


def test_a_checksum_that_computes_to_0_is_sent_as_ffff(tmp_path, tshark_checks_udplite):
    """RFC 3828 3.1: 0 is not a UDP-Lite checksum; a computed 0 goes out as all ones (it
    went out as 0, which tshark calls illegal). A payload word equal to the checksum of the
    datagram with that word 0 makes the sum all ones."""
    first = pktspec.decode(frame(V4, UDPLite(src_port=4000, dst_port=5004), b"\0\0"))
    word = first[UDPLite].checksum.to_bytes(2, "big")
    data = frame(V4, UDPLite(src_port=4000, dst_port=5004), word)
    packet = pktspec.decode(data)
    assert packet[UDPLite].checksum == 0xFFFF and packet.verify_checksums() == []
    [row] = tshark_fields([data], ["udp.checksum", "udp.checksum.status"], tmp_path)
    assert row == {"udp.checksum": "0xffff", "udp.checksum.status": "1"}
