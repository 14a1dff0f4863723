"""LCM (lcm.layer): short messages and fragments over UDP port 7667.

tshark (4.0) has no LCM dissector, so its reading here is of the UDP layer: ports, length
and the datagram's bytes (udp.payload), which the test splits by the LCM wire format on its
own (struct, not pktspec) to compare every field. Also: the guard on the magic number,
round trips, the lengths the builder fills, truncated frames, and the fast decoder against
the construct FORMAT.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.layers import UDP, Ethernet, IPv4, IPv6
from pktspec.protocols.lcm import LCM, LCMMagic
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

FINGERPRINT = bytes.fromhex("0123456789abcdef")


def over_udp(*layers, v6: bool = False, src_port: int = 51000) -> bytes:
    ip = IPv6(src="2001:db8::1", dst="ff02::1:7667") if v6 else \
        IPv4(src="192.0.2.1", dst="239.255.76.67", ttl=1)
    return pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="01:00:5e:7f:4c:43"), ip,
                             UDP(src_port=src_port, dst_port=7667), *layers)


def frames() -> list[bytes]:
    return [
        over_udp(LCM(sequence_number=0, channel_name=b"EXAMPLE"), FINGERPRINT + b"\x00" * 12),
        over_udp(LCM(magic="Short", sequence_number=0xFFFFFFFE, channel_name=b"POSE"),
                 FINGERPRINT + struct.pack(">3d", 1.0, 2.5, -3.0), v6=True),
        # an empty channel name
        over_udp(LCM(sequence_number=9, channel_name=b""), FINGERPRINT),
        # the first and a later fragment of one message
        over_udp(LCM(magic="Fragmented", sequence_number=77, payload_size=70000,
                     fragment_offset=0, fragment_number=0, total_fragments=3,
                     channel_name=b"CAMERA_IMAGE"), FINGERPRINT + b"\xaa" * 40),
        over_udp(LCM(magic="Fragmented", sequence_number=77, payload_size=70000,
                     fragment_offset=65000, fragment_number=2, total_fragments=3),
                 b"\xbb" * 48),
    ]


def split(udp_payload: bytes) -> dict[str, object]:
    """The LCM fields of a datagram, read with struct by the wire format."""
    magic, seq = struct.unpack_from(">II", udp_payload)
    out: dict[str, object] = {"magic": magic, "sequence_number": seq}
    rest = udp_payload[8:]
    first = True
    if magic == 0x4C433033:
        size, offset, number, total = struct.unpack_from(">IIHH", rest)
        out.update(payload_size=size, fragment_offset=offset, fragment_number=number,
                   total_fragments=total)
        rest = rest[12:]
        first = number == 0
    if first:
        name, _, rest = rest.partition(b"\0")
        out["channel_name"] = name
    out["payload"] = rest
    return out


def ours(p) -> dict[str, object]:
    lcm = p[LCM]
    out: dict[str, object] = {"magic": int(lcm.magic), "sequence_number": lcm.sequence_number}
    if lcm.magic == LCMMagic.Fragmented:
        out.update(payload_size=lcm.payload_size, fragment_offset=lcm.fragment_offset,
                   fragment_number=lcm.fragment_number, total_fragments=lcm.total_fragments)
    if lcm.channel_name is not None:
        out["channel_name"] = bytes(lcm.channel_name)
    out["payload"] = bytes(lcm.payload)
    return out


def test_every_field_reads_as_the_datagram_tshark_reads_splits(tmp_path):
    built = frames()
    truth = tshark_fields(built, ["udp.dstport", "udp.length", "udp.payload", "data.data"],
                          tmp_path)
    assert len(truth) == len(built)
    for data, row in zip(built, truth, strict=True):
        p = pktspec.decode(data)
        assert p.error is None
        assert row["udp.dstport"] == "7667" and row["udp.length"] == str(p[UDP].length)
        assert row["data.data"] == row["udp.payload"]  # tshark: no dissector took it
        assert ours(p) == split(bytes.fromhex(row["udp.payload"]))


def test_the_layers_of_each_frame():
    names = [[x.name for x in pktspec.decode(f).layers][3:] for f in frames()]
    assert names == [["LCM", "Payload"]] * 4 + [["LCM", "Fragment"]]


def test_known_values_of_the_built_frames():
    short = pktspec.decode(frames()[0])
    lcm = short[LCM]
    assert bytes(short[UDP].payload)[:20] == b"LC02\0\0\0\0EXAMPLE\0" + FINGERPRINT[:4]
    assert (lcm.magic, lcm.sequence_number, lcm.channel_name) == \
        (LCMMagic.Short, 0, b"EXAMPLE")
    assert str(lcm.fields()["magic"]) == f"Short ({0x4C433032})"
    assert lcm.payload_size is None and lcm.fragment_number is None
    assert bytes(lcm.payload)[:8] == FINGERPRINT

    first = pktspec.decode(frames()[3])[LCM]
    assert (first.magic, first.sequence_number, first.payload_size, first.fragment_offset,
            first.fragment_number, first.total_fragments, first.channel_name) == \
        (LCMMagic.Fragmented, 77, 70000, 0, 0, 3, b"CAMERA_IMAGE")

    later = pktspec.decode(frames()[4])
    assert later[LCM].channel_name is None and later[LCM].fragment_number == 2
    assert later.layers[-1].fragment_data == b"\xbb" * 48


def test_other_traffic_on_the_port_is_not_taken_for_lcm():
    for body in (b"LC04\0\0\0\0chan\0", b"not an LCM datagram", b"LC02\0\0\0"):
        p = pktspec.decode(over_udp(body))
        assert [x.name for x in p.layers][3:] == ["Payload"] and p.error is None


def test_the_lower_port_decides():
    # the source port 7667 (a publisher bound to it) leads to LCM as well
    data = pktspec.serialize(IPv4(src="192.0.2.1", dst="192.0.2.2"),
                             UDP(src_port=7667, dst_port=60000),
                             LCM(channel_name=b"X"), FINGERPRINT)
    assert LCM in pktspec.decode(data, first=IPv4)


def test_lengths_filled_by_the_builder():
    for data in frames():
        p = pktspec.decode(data)
        assert p[UDP].length == len(data) - 14 - (40 if IPv6 in p else 20)


def test_a_fragment_field_given_on_a_short_message_is_refused():
    with pytest.raises(pktspec.errors.BuildError):
        bytes(LCM(magic="Short", fragment_number=1))


def test_a_channel_name_given_on_a_later_fragment_is_refused():
    """channel_name's condition reads the let names_channel: the builder works the let out
    to tell that the name would not be written (it dropped it without a word)."""
    with pytest.raises(pktspec.errors.BuildError, match="channel_name is given but its "
                                                        r"condition \(names_channel\)"):
        bytes(LCM(magic="Fragmented", fragment_number=1, channel_name=b"CHAN"))
    assert bytes(LCM(channel_name=b"A")).endswith(b"A\0")  # a short message: written
    first = bytes(LCM(magic="Fragmented", fragment_number=0, channel_name=b"X"))
    assert pktspec.decode(first, first=LCM).layers[0].channel_name == b"X"


def test_round_trips():
    for data in frames():
        assert pktspec.serialize(pktspec.decode(data)) == data
        assert pktspec.decode(data).build(fix_lengths=True, compute_checksums=True) == data


def test_an_edit_of_the_channel_name_rebuilds_the_datagram():
    p = pktspec.decode(frames()[0])
    p[LCM].channel_name = b"A_LONGER_CHANNEL"
    q = pktspec.decode(p.build())
    assert q[LCM].channel_name == b"A_LONGER_CHANNEL" and bytes(q[LCM].payload)[:8] == FINGERPRINT
    assert q.verify_checksums() == [] and q[UDP].length == 8 + 8 + 17 + 20


@pytest.mark.parametrize("frame, cut, field", [
    # a run of conditional fields is named by its first field
    (3, 10, "payload_size"), (3, 19, "total_fragments"), (0, 12, "channel_name"),
    (3, 24, "channel_name")])
def test_a_truncated_packet_keeps_the_layers_before_it(frame, cut, field):
    start = 14 + 20 + 8
    p = pktspec.decode(frames()[frame][:start + cut])
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "UDP", "DecodeFailure"]
    assert p.truncated and p.error.truncated
    assert p.error.layer == "LCM" and p.error.field_path == field
    assert p.error.offset >= start


def test_fast_decoder_and_construct_agree():
    for data in frames():
        agree(pktspec.decode(data)[LCM])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fragmented=st.booleans(), number=st.integers(0, 2), rest=st.binary(max_size=40))
def test_fast_decoder_and_construct_agree_on_generated_packets(fragmented, number, rest):
    data = (b"LC03" if fragmented else b"LC02") + b"\0\0\0\1"
    if fragmented:
        data += struct.pack(">IIHH", 100, 0, number, 3)
    p = pktspec.decode(data + rest, first=LCM)  # never raises
    if p.error is None:
        agree(p.layers[0])
