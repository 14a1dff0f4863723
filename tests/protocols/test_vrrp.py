"""VRRP (vrrp.layer): version 2 and version 3 advertisements in the VRRPv2 layer.

Frames are built with pktspec's builder (version 3 over IPv6 by hand: its IPv6 address list
is read from the message length, which the builder cannot use) and read back by pktspec and
by tshark, whose reading is the truth: every field, the addresses, and the checksum status,
which must be good for what the builder wrote and bad for a corrupted copy. Also: round
trips, truncated frames, and the fast decoder against the construct FORMAT.
"""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.errors import BuildError
from pktspec.layers import Ethernet, IPv4, IPv6
from pktspec.protocols.vrrp import VRRPv2
from tests.hand_checksums import ones_complement
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

FIELDS = ("vrrp.version", "vrrp.type", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.addr_count",
          "vrrp.auth_type", "vrrp.adver_int", "vrrp.reserved_mbz", "vrrp.short_adver_int",
          "vrrp.checksum", "vrrp.checksum.status", "vrrp.ip_addr", "vrrp.ipv6_addr",
          "vrrp.auth_string")


def raw(text: str) -> bytes:
    """An address as the bytes an address list holds."""
    return ipaddress.ip_address(text).packed


def over_ipv4(vrrp, src: str = "192.0.2.1") -> bytes:
    return pktspec.serialize(Ethernet(src="00:00:5e:00:01:07", dst="01:00:5e:00:00:12"),
                             IPv4(src=src, dst="224.0.0.18", ttl=255), vrrp)


def v3_over_ipv6(vrid: int, priority: int, interval: int, addresses: list[str]) -> bytes:
    """A VRRPv3 advertisement over IPv6, its checksum over the IPv6 pseudo-header."""
    src, dst = "fe80::1", "ff02::12"
    body = struct.pack(">BBBBHH", 0x31, vrid, priority, len(addresses), interval, 0)
    body += b"".join(raw(a) for a in addresses)
    pseudo = raw(src) + raw(dst) + struct.pack(">I3xB", len(body), 112)
    body = body[:6] + struct.pack(">H", ones_complement(pseudo + body)) + body[8:]
    return pktspec.serialize(Ethernet(src="00:00:5e:00:02:07", dst="33:33:00:00:00:12"),
                             IPv6(src=src, dst=dst, hop_limit=255, next_header=112), body)


def v2_frames() -> list[bytes]:
    return [
        over_ipv4(VRRPv2(virtual_rtr_id=7, priority=200,
                         ip_address=[raw("192.0.2.100"), raw("192.0.2.101")])),
        over_ipv4(VRRPv2(virtual_rtr_id=1, priority=255, adver_int=3,
                         ip_address=[raw("198.51.100.1")])),
        over_ipv4(VRRPv2(virtual_rtr_id=200, priority=0, auth_type="SimpleText",
                         auth_data=b"secret\0\0", ip_address=[raw("203.0.113.9")])),
        over_ipv4(VRRPv2(virtual_rtr_id=9)),  # no addresses at all
    ]


def v3_frames() -> list[bytes]:
    return [
        over_ipv4(VRRPv2(version=3, virtual_rtr_id=9, priority=150, max_adver_int=250,
                         ip_address=[raw("192.0.2.100"), raw("192.0.2.200")])),
        over_ipv4(VRRPv2(version=3, virtual_rtr_id=10, max_adver_int=4095,
                         ip_address=[raw("192.0.2.1")])),
        v3_over_ipv6(7, 100, 100, ["fe80::1", "2001:db8::1"]),
        v3_over_ipv6(8, 254, 1, ["fe80::2"]),
    ]


def ours(layer: VRRPv2) -> dict[str, str]:
    """Our reading of a VRRPv2 layer in tshark's terms (-T fields)."""
    v3 = layer.version == 3
    return {
        "vrrp.version": str(layer.version),
        "vrrp.type": str(layer.type),
        "vrrp.virt_rtr_id": str(layer.virtual_rtr_id),
        "vrrp.prio": str(layer.priority),
        "vrrp.addr_count": str(layer.count_ip_addr),
        "vrrp.auth_type": "" if v3 else str(layer.auth_type),
        "vrrp.adver_int": "" if v3 else str(layer.adver_int),
        "vrrp.reserved_mbz": str(layer.reserved) if v3 else "",
        "vrrp.short_adver_int": str(layer.max_adver_int) if v3 else "",
        "vrrp.checksum": f"0x{layer.checksum:04x}",
        "vrrp.ip_addr": ",".join(str(ipaddress.IPv4Address(a)) for a in layer.ip_address or ()),
        "vrrp.ipv6_addr": ",".join(str(ipaddress.IPv6Address(a))
                                   for a in layer.ipv6_address or ()),
    }


@pytest.mark.parametrize("kind", ["v2", "v3"])
def test_every_field_reads_as_tshark_reads_it(kind, tmp_path):
    frames = v2_frames() if kind == "v2" else v3_frames()
    truth = tshark_fields(frames, FIELDS, tmp_path)
    assert len(truth) == len(frames)
    for data, row in zip(frames, truth, strict=True):
        p = pktspec.decode(data)
        assert p.error is None and [x.name for x in p.layers][-1] == "VRRPv2"
        mine = ours(p[VRRPv2])
        assert {k: row[k] for k in mine} == mine
        assert row["vrrp.checksum.status"] == "1"  # tshark: good
        assert p.verify_checksums() == []


def test_known_values_of_the_built_frames():
    p = pktspec.decode(v2_frames()[0])
    v = p[VRRPv2]
    assert (v.version, v.type, v.virtual_rtr_id, v.priority, v.count_ip_addr) == (2, 1, 7, 200, 2)
    assert (v.auth_type, v.adver_int, v.auth_data) == (0, 1, bytes(8))
    assert v.ip_address == ["192.0.2.100", "192.0.2.101"]  # as text, as other addresses
    assert v.reserved is None and v.max_adver_int is None and v.ipv6_address is None
    assert str(v.fields()["type"]) == "Advertisement (1)"
    assert p[IPv4].protocol == 112 and len(v.contents) == 8 + 8 + 8

    v3 = pktspec.decode(v3_frames()[0])[VRRPv2]
    assert (v3.version, v3.virtual_rtr_id, v3.priority, v3.max_adver_int) == (3, 9, 150, 250)
    assert v3.auth_type is None and v3.auth_data is None and len(v3.contents) == 16

    v6 = pktspec.decode(v3_frames()[2])[VRRPv2]
    assert v6.ipv6_address == ["fe80::1", "2001:db8::1"] and v6.ip_address is None


def test_the_password_of_the_obsolete_simple_text_authentication(tmp_path):
    frame = v2_frames()[2]
    (row,) = tshark_fields([frame], ["vrrp.auth_string"], tmp_path)
    assert row["vrrp.auth_string"] == "secret"
    assert pktspec.decode(frame)[VRRPv2].auth_data.rstrip(b"\0") == b"secret"


@pytest.mark.parametrize("index", range(4))
def test_a_corrupted_checksum_is_bad_for_tshark_and_for_us(index, tmp_path):
    good = (v2_frames() + v3_frames())[index * 2]
    p = pktspec.decode(good)
    where = p[VRRPv2].offset + 6
    bad = good[:where] + bytes([good[where] ^ 0x5A]) + good[where + 1:]
    (row,) = tshark_fields([bad], ["vrrp.checksum.status"], tmp_path)
    assert row["vrrp.checksum.status"] == "0"  # tshark: bad
    if p[VRRPv2].version == 3 and IPv6 in p:
        return  # see test_what_the_builder_cannot_do_with_version_3_over_ipv6
    (found,) = pktspec.decode(bad).verify_checksums()
    assert (found.layer, found.field) == ("VRRPv2", "checksum")
    assert found.expected == p[VRRPv2].checksum


def test_version_3_checksum_covers_the_pseudo_header():
    """The same message from another source address has another checksum (version 2's
    would not change)."""
    v3 = VRRPv2(version=3, virtual_rtr_id=9, ip_address=[raw("192.0.2.100")])
    a = pktspec.decode(over_ipv4(v3, src="192.0.2.1"))[VRRPv2].checksum
    b = pktspec.decode(over_ipv4(v3, src="192.0.2.2"))[VRRPv2].checksum
    assert a != b
    v2 = VRRPv2(virtual_rtr_id=9, ip_address=[raw("192.0.2.100")])
    assert pktspec.decode(over_ipv4(v2, src="192.0.2.1"))[VRRPv2].checksum == \
        pktspec.decode(over_ipv4(v2, src="192.0.2.2"))[VRRPv2].checksum


def test_round_trips():
    for data in v2_frames() + v3_frames():
        p = pktspec.decode(data)
        assert pktspec.serialize(p) == data
    for data in v2_frames() + v3_frames()[:2]:  # built again from the values, every relation
        assert pktspec.decode(data).build(fix_lengths=True, compute_checksums=True) == data


def test_an_edit_recomputes_the_checksum(tmp_path):
    p = pktspec.decode(v2_frames()[0])
    p[VRRPv2].priority = 50
    data = p.build()
    q = pktspec.decode(data)
    assert q[VRRPv2].priority == 50 and q.verify_checksums() == []
    (row,) = tshark_fields([data], ["vrrp.prio", "vrrp.checksum.status"], tmp_path)
    assert row == {"vrrp.prio": "50", "vrrp.checksum.status": "1"}


def test_the_builder_fills_the_count_and_the_ip_protocol():
    v = VRRPv2(virtual_rtr_id=3, ip_address=[raw("192.0.2.1"), raw("192.0.2.2"),
                                             raw("192.0.2.3")])
    p = pktspec.decode(over_ipv4(v))
    assert p[VRRPv2].count_ip_addr == 3 and p[IPv4].protocol == 112


@pytest.mark.parametrize("cut, field", [(6, "checksum"), (12, "ip_address"), (18, "auth_data")])
def test_a_truncated_advertisement_keeps_the_layers_before_it(cut, field):
    data = v2_frames()[0]
    start = 14 + 20
    p = pktspec.decode(data[:start + cut])
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "DecodeFailure"]
    assert p.truncated and p.error.truncated
    assert p.error.layer == "VRRPv2" and p.error.field_path == field
    assert p.error.offset >= start and "truncated" in p.error.message


def test_an_unknown_version_is_an_error_that_says_so():
    data = bytearray(v2_frames()[0])
    data[34] = 0x41  # version 4
    p = pktspec.decode(bytes(data))
    assert p.error.layer == "VRRPv2" and "unknown VRRP version" in p.error.message


def test_what_the_builder_cannot_do_with_version_3_over_ipv6():
    """The message does not say its address family; decoding takes it from the message
    length, which the builder cannot read, so IPv6 addresses given to it are refused (not
    dropped)."""
    v = VRRPv2(version=3, virtual_rtr_id=7, ipv6_address=[raw("fe80::1")])
    with pytest.raises(BuildError, match="ipv6_address"):
        pktspec.serialize(IPv6(src="fe80::1", dst="ff02::12"), v)


def test_fast_decoder_and_construct_agree():
    for data in v2_frames() + v3_frames():
        agree(pktspec.decode(data)[VRRPv2])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=st.sampled_from([0x21, 0x31]), count=st.integers(0, 4),
       rest=st.binary(max_size=80))
def test_fast_decoder_and_construct_agree_on_generated_messages(first, count, rest):
    data = bytes([first, 1, 100, count]) + rest
    p = pktspec.decode(data, first=VRRPv2)  # never raises
    if p.error is None:
        agree(p.layers[0])
