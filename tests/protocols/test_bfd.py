"""BFD (bfd.layer): control packets over UDP ports 3784 and 4784, with and without their
authentication section.

Frames are built with pktspec's builder and read back by pktspec and by tshark, whose
reading is the truth for every field. Also: the lengths the builder fills, round trips,
truncated frames, and the fast decoder against the construct FORMAT.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.layers import UDP, Ethernet, IPv4, IPv6
from pktspec.protocols.bfd import BFD, BFDDiagnostic, BFDState
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

FIELDS = ("bfd.version", "bfd.diag", "bfd.sta", "bfd.flags.p", "bfd.flags.f", "bfd.flags.c",
          "bfd.flags.a", "bfd.flags.d", "bfd.flags.m", "bfd.detect_time_multiplier",
          "bfd.message_length", "bfd.my_discriminator", "bfd.your_discriminator",
          "bfd.desired_min_tx_interval", "bfd.required_min_rx_interval",
          "bfd.required_min_echo_interval", "bfd.auth.type", "bfd.auth.len", "bfd.auth.key",
          "bfd.auth.password", "bfd.auth.seq_num", "bfd.checksum", "udp.dstport")


def over_udp(bfd: BFD, port: int = 3784, v6: bool = False) -> bytes:
    ip = IPv6(src="2001:db8::1", dst="2001:db8::2", hop_limit=255) if v6 else \
        IPv4(src="192.0.2.1", dst="192.0.2.2", ttl=255)
    return pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"), ip,
                             UDP(src_port=49152, dst_port=port), bfd)


def frames() -> list[bytes]:
    return [
        over_udp(BFD(state="Down", detect_multiplier=3, my_discriminator=1,
                     desired_min_tx_interval=1_000_000, required_min_rx_interval=1_000_000)),
        over_udp(BFD(state="Up", detect_multiplier=5, my_discriminator=0x11223344,
                     your_discriminator=0xAABBCCDD, desired_min_tx_interval=300_000,
                     required_min_rx_interval=250_000, required_min_echo_rx_interval=50_000,
                     poll=1, control_plane_independent=1), port=4784),
        over_udp(BFD(state="Init", diagnostic="ControlDetectionTimeExpired", final=1, demand=1,
                     detect_multiplier=2, my_discriminator=7, your_discriminator=8), v6=True),
        over_udp(BFD(state="AdminDown", diagnostic="AdministrativelyDown", multipoint=1,
                     my_discriminator=9)),
        over_udp(BFD(state="Up", detect_multiplier=3, my_discriminator=10,
                     auth_type="SimplePassword", auth_key_id=4, auth_data=b"hunter2")),
        over_udp(BFD(state="Up", detect_multiplier=3, my_discriminator=11,
                     auth_type="KeyedMD5", auth_key_id=1, auth_sequence_number=77,
                     auth_data=bytes(range(16)))),
        over_udp(BFD(state="Up", detect_multiplier=3, my_discriminator=12,
                     auth_type="MeticulousKeyedSHA1", auth_key_id=2,
                     auth_sequence_number=0xFFFFFFFE, auth_data=bytes(range(100, 120))),
                 port=4784),
    ]


def ours(b: BFD, port: int) -> dict[str, str]:
    """Our reading of a BFD layer in tshark's terms (-T fields)."""
    auth = b.auth_present == 1
    digest = auth and b.auth_type > 1
    return {
        "bfd.version": str(b.version),
        "bfd.diag": f"0x{b.diagnostic:02x}",
        "bfd.sta": f"0x{b.state:02x}",
        "bfd.flags.p": str(b.poll), "bfd.flags.f": str(b.final),
        "bfd.flags.c": str(b.control_plane_independent), "bfd.flags.a": str(b.auth_present),
        "bfd.flags.d": str(b.demand), "bfd.flags.m": str(b.multipoint),
        "bfd.detect_time_multiplier": str(b.detect_multiplier),
        "bfd.message_length": str(b.length),
        "bfd.my_discriminator": f"0x{b.my_discriminator:08x}",
        "bfd.your_discriminator": f"0x{b.your_discriminator:08x}",
        "bfd.desired_min_tx_interval": str(b.desired_min_tx_interval),
        "bfd.required_min_rx_interval": str(b.required_min_rx_interval),
        "bfd.required_min_echo_interval": str(b.required_min_echo_rx_interval),
        "bfd.auth.type": str(b.auth_type) if auth else "",
        "bfd.auth.len": str(b.auth_length) if auth else "",
        "bfd.auth.key": str(b.auth_key_id) if auth else "",
        "bfd.auth.password": b.auth_data.decode() if auth and not digest else "",
        "bfd.auth.seq_num": f"0x{b.auth_sequence_number:08x}" if digest else "",
        "bfd.checksum": b.auth_data.hex() if digest else "",
        "udp.dstport": str(port),
    }


def test_every_field_reads_as_tshark_reads_it(tmp_path):
    built = frames()
    truth = tshark_fields(built, FIELDS, tmp_path)
    assert len(truth) == len(built)
    for data, row in zip(built, truth, strict=True):
        p = pktspec.decode(data)
        assert p.error is None and [x.name for x in p.layers][-1] == "BFD"
        assert row == ours(p[BFD], p[UDP].dst_port)


def test_known_values_of_the_built_frames():
    b = pktspec.decode(frames()[1])[BFD]
    assert (b.version, b.diagnostic, b.state, b.detect_multiplier, b.length) == (1, 0, 3, 5, 24)
    assert (b.poll, b.final, b.control_plane_independent, b.auth_present, b.demand,
            b.multipoint) == (1, 0, 1, 0, 0, 0)
    assert (b.my_discriminator, b.your_discriminator) == (0x11223344, 0xAABBCCDD)
    assert (b.desired_min_tx_interval, b.required_min_rx_interval,
            b.required_min_echo_rx_interval) == (300_000, 250_000, 50_000)
    assert b.auth_type is None and b.auth_data is None
    assert str(b.fields()["state"]) == "Up (3)" and b.state == BFDState.Up

    d = pktspec.decode(frames()[2])[BFD]
    assert d.diagnostic == BFDDiagnostic.ControlDetectionTimeExpired and d.state == 2

    md5 = pktspec.decode(frames()[5])[BFD]
    assert (md5.auth_present, md5.auth_type, md5.auth_length, md5.auth_key_id) == (1, 2, 24, 1)
    assert (md5.auth_reserved, md5.auth_sequence_number, md5.length) == (0, 77, 48)
    assert md5.auth_data == bytes(range(16))

    password = pktspec.decode(frames()[4])[BFD]
    assert (password.auth_length, password.length, password.auth_data) == (10, 34, b"hunter2")
    assert password.auth_reserved is None and password.auth_sequence_number is None


def test_both_ports_lead_to_bfd_and_the_port_names_show():
    for data, port in ((frames()[0], 3784), (frames()[1], 4784)):
        p = pktspec.decode(data)
        assert p[UDP].dst_port == port and BFD in p
    shown = str(pktspec.decode(frames()[1])[UDP].fields()["dst_port"])
    assert shown == "BFDMultihop (4784)"


def test_giving_an_authentication_field_sets_the_a_bit():
    b = pktspec.decode(over_udp(BFD(auth_type="SimplePassword", auth_data=b"x")))[BFD]
    assert b.auth_present == 1 and b.auth_length == 4 and b.length == 28


def test_round_trips():
    for data in frames():
        assert pktspec.serialize(pktspec.decode(data)) == data
        assert pktspec.decode(data).build(fix_lengths=True, compute_checksums=True) == data


def test_an_edit_rebuilds_lengths_and_the_udp_checksum(tmp_path):
    p = pktspec.decode(frames()[4])
    p[BFD].auth_data = b"a much longer one"
    data = p.build()
    q = pktspec.decode(data)
    assert (q[BFD].auth_length, q[BFD].length, q[BFD].auth_data) == (20, 44, b"a much longer one")
    assert q.verify_checksums() == []
    (row,) = tshark_fields([data], ["bfd.auth.password", "bfd.message_length",
                                    "udp.checksum.status"], tmp_path)
    assert row == {"bfd.auth.password": "a much longer one", "bfd.message_length": "44",
                   "udp.checksum.status": "2"}  # 2: tshark does not verify by default


@pytest.mark.parametrize("cut, field", [(6, "my_discriminator"),
                                        (20, "required_min_echo_rx_interval"),
                                        (30, "auth_sequence_number")])
def test_a_truncated_packet_keeps_the_layers_before_it(cut, field):
    data = frames()[5]
    start = 14 + 20 + 8
    p = pktspec.decode(data[:start + cut])
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "UDP", "DecodeFailure"]
    assert p.truncated and p.error.truncated
    assert p.error.layer == "BFD" and p.error.field_path == field
    assert p.error.offset >= start and "truncated" in p.error.message


def test_fast_decoder_and_construct_agree():
    for data in frames():
        agree(pktspec.decode(data)[BFD])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flags=st.integers(0, 0xFF), auth_type=st.integers(0, 6), auth_length=st.integers(0, 40),
       rest=st.binary(max_size=60))
def test_fast_decoder_and_construct_agree_on_generated_packets(flags, auth_type, auth_length,
                                                               rest):
    data = bytes([0x20, flags, 3, 24]) + bytes(20) + bytes([auth_type, auth_length]) + rest
    p = pktspec.decode(data, first=BFD)  # never raises
    if p.error is None:
        agree(p.layers[0])
