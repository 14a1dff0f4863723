"""UDP-Lite (protocols/udplite.layer): IP protocol 136 (RFC 3828).

The corpus has no UDP-Lite traffic, so the frames are built here with pktspec's builder and
the decoded values are compared with tshark's reading of the same frames
(tests/tshark_reading.py), tshark's UDP-Lite checksum check turned on: ports, checksum
coverage, checksum, and the application found by port in UDP's table (DNS). The checksum
the builder computes (coverage 0, the whole datagram) is the one tshark calculates; a
partial coverage is not computed nor verified by pktspec, so those frames carry a checksum
worked out here by hand (RFC 1071 over the pseudo-header and the covered bytes), which tshark
must find good. Also: flows, decoding and building again gives the same bytes, the fast
decoder agrees with the construct FORMAT, a frame cut short keeps the layers before the cut."""

from __future__ import annotations

import ipaddress

import pytest

import pktspec
from pktspec.layers import DNS, Ethernet, IPv4, IPv6, Payload, UDPLite
from pktspec.runtime import ENDPOINT_UDP_PORT, Flow
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

V4 = ("192.0.2.1", "192.0.2.2")
V6 = ("2001:db8::1", "2001:db8::2")
BODY = b"lightweight, partly protected payload"


def ones_complement_checksum(data: bytes) -> int:
    """RFC 1071, written out word by word (independent of pktspec's inet_checksum)."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += data[i] << 8 | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF or 0xFFFF


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
    return ones_complement_checksum(pseudo + covered)


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
    verify_checksums says (tshark: 1 good, 0 bad) where pktspec verifies (coverage 0)."""
    lite = packet[UDPLite]
    ip = packet.network
    row = dict.fromkeys(FIELDS, "")
    row.update({"ip.proto" if ip.name == "IPv4" else "ipv6.nxt":
                str(ip.protocol if ip.name == "IPv4" else ip.next_header),
                "udp.srcport": str(lite.src_port), "udp.dstport": str(lite.dst_port),
                "udp.checksum_coverage": str(lite.checksum_coverage),
                "udp.checksum": f"0x{lite.checksum:04x}"})
    if lite.checksum_coverage == 0:
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
    truth = tshark_fields(FRAMES, FIELDS, tmp_path)
    assert len(truth) == len(FRAMES)
    for i, (data, row) in enumerate(zip(FRAMES, truth, strict=True)):
        packet = pktspec.decode(data)
        assert packet.error is None, (i, packet.error)
        ours = reading(packet)
        if ours["udp.checksum_coverage"] != "0":  # not verified by pktspec: tshark checks it
            assert (row["udp.checksum.status"], row["udp.checksum_calculated"]) == \
                ("1", ours["udp.checksum"]), i
            row = {**row, "udp.checksum.status": "", "udp.checksum_calculated": ""}
        assert ours == row, i
    assert truth[-1]["udp.checksum.status"] == "0"  # the damaged one, bad for both


def test_the_checksum_the_builder_computes_is_the_rfcs():
    for data, addrs in ((FRAMES[0], V4), (FRAMES[1], V6)):
        packet = pktspec.decode(data)
        datagram = bytes(packet[UDPLite].contents) + bytes(packet[UDPLite].payload)
        assert packet[UDPLite].checksum == by_hand(addrs, datagram, 0) != 0


def test_verification_covers_coverage_0_only():
    assert pktspec.decode(FRAMES[0]).verify_checksums() == []
    [bad] = pktspec.decode(FRAMES[-1]).verify_checksums()
    assert (bad.layer, bad.field) == ("UDPLite", "checksum")
    assert bad.expected == pktspec.decode(FRAMES[0])[UDPLite].checksum
    wrong = bytearray(FRAMES[2])
    wrong[14 + 20 + 6] ^= 0x01  # partial coverage: not verified
    assert pktspec.decode(bytes(wrong)).verify_checksums() == []
    # building with a partial coverage computes nothing: the checksum given is written
    assert bytes(UDPLite(checksum_coverage=8) / b"x")[6:8] == b"\0\0"
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
    # a partial coverage's checksum is not computed: recomputing every checksum writes 0
    rebuilt = pktspec.decode(FRAMES[2]).build(compute_checksums=True)
    assert rebuilt[14 + 20 + 6:14 + 20 + 8] == b"\0\0" and rebuilt[42:] == FRAMES[2][42:]


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
