"""OpenBSD pf's log header (protocols/pflog.layer), LINKTYPE_PFLOG (117).

Frames are built with pktspec's builder, written as a pflog capture and read back by pktspec
and by tshark, whose reading is the truth: every header field, the header length rounded up
to a multiple of 4, and the IPv4 or IPv6 packet after it for each operating system's IPv6
family. Also: round trips, truncated frames, refused header lengths, and the fast decoder
against the construct FORMAT.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.capture.pcap import PcapWriter
from pktspec.layers import TCP, UDP, ICMPv4, IPv4, IPv6
from pktspec.protocols.pflog import PFAction, PFDirection, PFFamily, PFLog, PFReason
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

FIELDS = ("pflog.length", "pflog.af", "pflog.action", "pflog.reason", "pflog.ifname",
          "pflog.ruleset", "pflog.rulenr", "pflog.subrulenr", "pflog.uid", "pflog.pid",
          "pflog.rule_uid", "pflog.rule_pid", "pflog.dir", "pflog.pad", "ip.src", "ipv6.src",
          "udp.dstport", "tcp.dstport")

V4 = IPv4(src="192.0.2.1", dst="192.0.2.2")
V6 = IPv6(src="2001:db8::1", dst="2001:db8::2")


def frames() -> list[bytes]:
    return [
        pktspec.serialize(
            PFLog(action="Block", reason="Match", ifname=b"em0", rule_num=5, uid=1000,
                  pid=4242, rule_uid=0, rule_pid=1, direction="Out"),
            V4, ICMPv4(type=8)),
        pktspec.serialize(  # family left to the builder: OpenBSD's IPv6 (24)
            PFLog(action="Pass", reason="StateMismatch", ifname=b"vio0", ruleset=b"anchor/x",
                  rule_num=12, subrule_num=3, uid=0xFFFFFFFF, pid=-1, rule_uid=65534,
                  rule_pid=77, direction="In"),
            V6, UDP(src_port=4000, dst_port=5001), b"q"),
        pktspec.serialize(PFLog(family="IPv6FreeBSD", action="Match", ifname=b"igb1"),
                          V6, TCP(src_port=40000, dst_port=443, flags="S")),
        pktspec.serialize(PFLog(family="IPv6Darwin", action="NAT", ifname=b"en0",
                                direction="InOut"),
                          V6, UDP(src_port=5353, dst_port=5353)),
        # newer OpenBSD: a 100-byte header (its translation fields left zero)
        pktspec.serialize(PFLog(length=100, action="Block", reason="Short", ifname=b"em1",
                                rule_num=0, direction="Out"),
                          V4, UDP(src_port=1, dst_port=9)),
        # an odd length: the header is rounded up to the next multiple of 4 (65 -> 68)
        pktspec.serialize(PFLog(length=65, action="Divert", reason="SrcLimit", ifname=b"lo0",
                                rule_num=2**31 - 1),
                          V4, UDP(src_port=2, dst_port=7)),
    ]


def text(name: bytes) -> str:
    return name.rstrip(b"\0").decode()


def signed(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


def ours(p) -> dict[str, str]:
    """Our reading of a PFLog frame in tshark's terms (-T fields); tshark shows every ID as
    a signed 32-bit integer."""
    f = p[PFLog]
    row = {
        "pflog.length": str(f.length), "pflog.af": str(f.family),
        "pflog.action": str(f.action), "pflog.reason": str(f.reason),
        "pflog.ifname": text(f.ifname), "pflog.ruleset": text(f.ruleset),
        "pflog.rulenr": str(f.rule_num), "pflog.subrulenr": str(f.subrule_num),
        "pflog.uid": str(signed(f.uid)), "pflog.pid": str(f.pid),
        "pflog.rule_uid": str(signed(f.rule_uid)), "pflog.rule_pid": str(f.rule_pid),
        "pflog.dir": str(f.direction),
        "ip.src": p[IPv4].src if IPv4 in p else "",
        "ipv6.src": p[IPv6].src if IPv6 in p else "",
        "udp.dstport": str(p[UDP].dst_port) if UDP in p else "",
        "tcp.dstport": str(p[TCP].dst_port) if TCP in p else "",
    }
    if f.length < 100:  # tshark's padding is the 3 bytes after the direction (the longer
        row["pflog.pad"] = bytes(f.pad)[:3].hex()  # header's are its translation fields)
    return row


def test_every_field_reads_as_tshark_reads_it(tmp_path):
    built = frames()
    truth = tshark_fields(built, FIELDS, tmp_path, linktype=117)
    assert len(truth) == len(built)
    for i, (data, row) in enumerate(zip(built, truth, strict=True)):
        p = pktspec.decode(data, first=PFLog)
        assert p.error is None, (i, p.error)
        mine = ours(p)
        assert {k: row[k] for k in mine} == mine, i


def test_known_values_of_the_built_frames():
    p = pktspec.decode(frames()[0], first=PFLog)
    f = p[PFLog]
    assert [x.name for x in p.layers] == ["PFLog", "IPv4", "ICMPv4"]
    assert (f.length, f.family, f.action, f.reason, f.direction) == (
        61, PFFamily.IPv4, PFAction.Block, PFReason.Match, PFDirection.Out)
    assert (f.rule_num, f.subrule_num, f.uid, f.pid, f.rule_uid, f.rule_pid) == (
        5, -1, 1000, 4242, 0, 1)
    assert f.ifname == b"em0".ljust(16, b"\0") and f.pad == bytes(3)
    assert len(f.contents) == 64 and p[IPv4].offset == 64
    assert str(f.fields()["action"]) == "Block (1)"
    # the IDs are little-endian (the logging host's order), the rule numbers big-endian
    assert frames()[0][44:48] == (1000).to_bytes(4, "little")
    assert frames()[0][36:40] == (5).to_bytes(4, "big")

    assert pktspec.decode(frames()[1], first=PFLog)[PFLog].family == 24
    assert len(pktspec.decode(frames()[4], first=PFLog)[PFLog].contents) == 100
    odd = pktspec.decode(frames()[5], first=PFLog)
    assert len(odd[PFLog].contents) == 68 and odd[PFLog].pad == bytes(7)


def test_a_pflog_capture_starts_with_pflog(tmp_path):
    path = tmp_path / "pflog.pcap"
    with PcapWriter(path, linktype=117) as writer:
        for i, data in enumerate(frames()):
            writer.write(data, 1_700_000_000 + i)
    names = [[x.name for x in p.layers] for p in pktspec.open(path)]
    assert names[:2] == [["PFLog", "IPv4", "ICMPv4"], ["PFLog", "IPv6", "UDP", "Payload"]]
    assert all(n[0] == "PFLog" for n in names) and len(names) == len(frames())


def test_round_trips():
    for data in frames():
        p = pktspec.decode(data, first=PFLog)
        assert pktspec.serialize(p) == data
        assert p.build(fix_lengths=True, compute_checksums=True) == data


@pytest.mark.parametrize("cut, field", [(0, "length"), (30, "ruleset"), (58, ""),
                                        (62, "")])
def test_a_truncated_header_is_an_error_layer(cut, field):
    p = pktspec.decode(frames()[0][:cut], first=PFLog)
    assert [x.name for x in p.layers] == ["DecodeFailure"]
    assert p.truncated and p.error.layer == "PFLog" and p.error.field_path == field
    assert "truncated" in p.error.message


def test_a_truncated_packet_keeps_the_pflog_layer():
    p = pktspec.decode(frames()[0][:64 + 10], first=PFLog)
    assert [x.name for x in p.layers] == ["PFLog", "DecodeFailure"]
    assert p.error.layer == "IPv4" and p.error.offset >= 64 and p.truncated


def test_a_header_length_below_45_is_refused():
    data = bytearray(frames()[0])
    data[0] = 44
    p = pktspec.decode(bytes(data), first=PFLog)
    assert p.error.layer == "PFLog" and "below 45" in p.error.message


def test_the_45_byte_header_of_older_openbsd(tmp_path):
    """Before OpenBSD 3.8 the header had no user and process IDs: 45 bytes, padded to 48,
    the direction right after the subrule number; tshark reads it so."""
    from pktspec.layers import UDP, IPv4

    frame = pktspec.serialize(PFLog(length=45, family="IPv4", action=0, reason=0,
                                    ifname=b"em0".ljust(16, b"\0"), rule_num=5, direction=2),
                              IPv4(src="192.0.2.1", dst="192.0.2.2"), UDP(dst_port=9))
    packet = pktspec.decode(frame, first=PFLog)
    log = packet[PFLog]
    assert len(log.contents) == 48 and (log.uid, log.pid, log.direction) == (None, None, 2)
    assert [x.name for x in packet.layers] == ["PFLog", "IPv4", "UDP"]
    [row] = tshark_fields([frame], ["pflog.length", "pflog.rulenr", "pflog.dir", "udp.dstport"],
                          tmp_path, linktype=117)
    assert row == {"pflog.length": "45", "pflog.rulenr": "5", "pflog.dir": "2",
                   "udp.dstport": "9"}


def test_an_unknown_family_leaves_the_packet_as_payload():
    data = bytearray(frames()[0])
    data[1] = 10  # Linux's AF_INET6: no pf writes it, tshark does not follow it either
    p = pktspec.decode(bytes(data), first=PFLog)
    assert [x.name for x in p.layers] == ["PFLog", "Payload"] and p.error is None


def test_fast_decoder_and_construct_agree():
    for data in frames():
        agree(pktspec.decode(data, first=PFLog)[PFLog])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(length=st.integers(0, 120), rest=st.binary(max_size=140))
def test_fast_decoder_and_construct_agree_on_generated_headers(length, rest):
    p = pktspec.decode(bytes([length]) + rest, first=PFLog)  # never raises
    if p.error is None or p.error.layer != "PFLog":
        agree(p.layers[0])


def test_the_translation_fields_of_the_100_byte_header(tmp_path):
    """OpenBSD's 100-byte header: the rewritten flag, family, addresses and ports after
    translation, read as tshark reads them."""
    import ipaddress

    from pktspec.layers import IPv4

    src = ipaddress.ip_address("198.51.100.7").packed.ljust(16, b"\0")
    dst = ipaddress.ip_address("203.0.113.9").packed.ljust(16, b"\0")
    frame = pktspec.serialize(
        PFLog(length=100, family="IPv4", action=0, reason=0, ifname=b"em0".ljust(16, b"\0"),
              direction=2, rewritten=1, rewritten_family=2, rewritten_src=src,
              rewritten_dst=dst, rewritten_src_port=1234, rewritten_dst_port=80),
        IPv4(src="192.0.2.1", dst="192.0.2.2"), TCP(dst_port=80))
    log = pktspec.decode(frame, first=PFLog)[PFLog]
    assert len(log.contents) == 100
    assert (log.rewritten, log.rewritten_src_port, log.rewritten_dst_port) == (1, 1234, 80)
    assert log.rewritten_src[:4] == src[:4] and bytes(log.pad) == b""
    [row] = tshark_fields([frame], ["pflog.rewritten", "pflog.saddr.ipv4", "pflog.daddr.ipv4",
                                    "pflog.sport", "pflog.dport"], tmp_path, linktype=117)
    assert row == {"pflog.rewritten": "1", "pflog.saddr.ipv4": "198.51.100.7",
                   "pflog.daddr.ipv4": "203.0.113.9", "pflog.sport": "1234",
                   "pflog.dport": "80"}
