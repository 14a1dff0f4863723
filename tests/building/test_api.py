"""Building layers through the public API: fields in the forms people write, defaults,
stacking, the next-layer fields, the options, forcing values, editing decoded packets."""

from __future__ import annotations

import struct

import pytest

import pktspec
from pktspec.errors import BuildError
from pktspec.runtime.constructs import inet_checksum
from pktspec.runtime.serialize import LayerStack, serialize, verify_checksums
from tests.building.conftest import layer, require_pseudo_headers

MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"


def test_fields_take_text_names_and_letters():
    IPv4, TCP = layer("IPv4"), layer("TCP")
    ip = IPv4(src="192.0.2.1", dst="192.0.2.2", flags="DF", protocol="UDP")
    assert ip.src == "192.0.2.1" and ip._src == bytes([192, 0, 2, 1])
    assert int(ip.flags) == 0b010 and ip.protocol == 17
    assert int(TCP(flags="SA").flags) == int(TCP(flags="syn|ack").flags) == 0x12
    assert int(TCP(flags=["syn", "fin"]).flags) == 0x03
    assert int(TCP(flags=0x10).flags) == 0x10
    with pytest.raises(BuildError, match="unknown flag 'X'"):
        TCP(flags="X")
    with pytest.raises(BuildError, match="not an IPv4 address"):
        IPv4(src="192.0.2")
    with pytest.raises(TypeError, match="unexpected keyword argument 'ttls'"):
        IPv4(ttls=3)


def test_unset_fields_take_defaults_and_computed_ones_start_empty():
    ip = layer("IPv4")()
    assert (ip.version, ip.ttl, ip.id) == (4, 64, 0)
    assert ip.total_length is None and ip.checksum is None and ip.protocol is None
    assert ip.dst == "0.0.0.0" and ip.options == []
    assert layer("TCP")().options is not layer("TCP")().options  # each layer its own list


def test_a_stack_fills_lengths_next_fields_and_the_header_checksum():
    Ethernet, IPv4, UDP = layer("Ethernet"), layer("IPv4"), layer("UDP")
    stack = Ethernet(src=MAC_A, dst=MAC_B) / IPv4(src="192.0.2.1", dst="192.0.2.2") / \
        UDP(src_port=1000, dst_port=2000, checksum=0) / b"data"
    assert isinstance(stack, LayerStack) and stack[IPv4].dst == "192.0.2.2"
    data = bytes(stack)
    assert data == stack.build() == serialize(*stack.layers)
    eth_type, = struct.unpack_from(">H", data, 12)
    ip = data[14:34]
    assert eth_type == 0x0800 and ip[9] == 17  # from the bindings of IPv4 and UDP
    assert struct.unpack_from(">H", ip, 2)[0] == 20 + 8 + 4
    assert inet_checksum(ip) == 0  # a header with its checksum sums to zero
    assert struct.unpack_from(">HHHH", data, 34) == (1000, 2000, 12, 0)
    p = pktspec.decode(data, strict=True)
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "UDP", "Payload"]
    assert p[UDP].payload == b"data"


def test_options_pad_the_header_and_set_its_length():
    IPv4 = layer("IPv4")
    ip = IPv4(src="192.0.2.1", dst="192.0.2.2", protocol=253,
              options=[{"type": 148, "length": 4, "value": 0}, {"type": 1}])
    data = bytes(ip / b"x")
    assert data[0] == 0x47  # 20 + 5 bytes of options, padded to 28: ihl 7
    assert data[20:28] == bytes([148, 4, 0, 0, 1, 0, 0, 0])
    assert IPv4.from_bytes(data).options[0].type == 148
    assert bytes(IPv4(options=b"\x01\x01\x01\x01"))[20:24] == b"\x01" * 4  # options as bytes


def test_given_values_are_kept_and_the_options_decide_the_rest():
    IPv4 = layer("IPv4")

    def fields(data):
        return struct.unpack_from(">BBHHHBBH", data)

    crafted = IPv4(total_length=99, checksum=0xBAD)
    assert fields(bytes(crafted))[2::5] == (99, 0xBAD)
    fixed = fields(crafted.build(fix_lengths=True, compute_checksums=True))
    assert fixed[2] == 20 and fixed[7] != 0xBAD
    none = fields(IPv4().build(fix_lengths=False, compute_checksums=False))
    assert none[0] == 0x45 and none[2] == 0 and none[7] == 0  # ihl has its default 5
    forced = IPv4().force(checksum=0xBAD)
    assert fields(forced.build(compute_checksums=True))[7] == 0xBAD


def test_out_of_range_values_name_the_field():
    with pytest.raises(BuildError, match="ttl = 300 does not fit in 8 bits"):
        bytes(layer("IPv4")(ttl=300))


def test_decoded_packets_build_back_and_an_edit_changes_what_depends_on_it():
    Ethernet, IPv4, UDP = layer("Ethernet"), layer("IPv4"), layer("UDP")
    data = bytes(Ethernet(src=MAC_A, dst=MAC_B) / IPv4(src="192.0.2.1", dst="192.0.2.2", id=7)
                 / UDP(src_port=1, dst_port=2, checksum=0) / b"hello") + b"\0" * 6  # padding
    p = pktspec.decode(data, strict=True)
    assert serialize(p) == data
    p[IPv4].ttl = 1
    edited = serialize(p)
    changed = [i for i in range(len(data)) if edited[i] != data[i]]
    assert changed == [22, 24, 25]  # the TTL and the header checksum, nothing else
    assert inet_checksum(edited[14:34]) == 0 and edited[-6:] == b"\0" * 6
    p[IPv4].src = "198.51.100.7"  # a property field takes text too
    assert pktspec.decode(serialize(p))[IPv4].src == "198.51.100.7"


def test_an_unedited_bad_checksum_is_kept_unless_asked():
    IPv4 = layer("IPv4")
    data = bytearray(bytes(IPv4(src="192.0.2.1", dst="192.0.2.2", protocol=253)))
    data[10:12] = b"\xde\xad"
    p = pktspec.decode(bytes(data), IPv4)
    assert serialize(p) == bytes(data)
    [bad] = verify_checksums(p)
    assert (bad.layer, bad.field, bad.found) == ("IPv4", "checksum", 0xDEAD)
    fixed = serialize(p, compute_checksums=True)
    assert verify_checksums(pktspec.decode(fixed, IPv4)) == []
    assert struct.unpack_from(">H", fixed, 10)[0] == bad.expected


def test_tcp_over_ipv4_checksum_uses_the_pseudo_header():
    require_pseudo_headers()
    IPv4, TCP = layer("IPv4"), layer("TCP")
    data = bytes(IPv4(src="192.0.2.1", dst="192.0.2.2") / TCP(src_port=1, dst_port=2,
                                                               flags="S") / b"abc")
    pseudo = bytes([192, 0, 2, 1, 192, 0, 2, 2, 0, 6, 0, 23])
    assert inet_checksum(pseudo, data[20:]) == 0
    assert verify_checksums(pktspec.decode(data, IPv4)) == []


def test_an_edit_of_the_ip_source_fixes_the_tcp_checksum():
    require_pseudo_headers()
    IPv4, TCP = layer("IPv4"), layer("TCP")
    p = pktspec.decode(bytes(IPv4(src="192.0.2.1", dst="192.0.2.2") / TCP() / b"x"), IPv4)
    p[IPv4].src = "192.0.2.9"
    assert verify_checksums(pktspec.decode(serialize(p), IPv4)) == []


def test_layers_without_a_format_build_only_as_decoded():
    from pktspec.runtime.packet import DecodeFailure

    with pytest.raises(BuildError, match="has no FORMAT"):
        serialize(DecodeFailure.__new__(DecodeFailure))


def test_text_is_not_a_payload():
    with pytest.raises(TypeError, match="encode text first"):
        serialize(layer("UDP")(), "text")


def test_an_802_3_frame_gets_its_length_before_llc():
    """Ethernet's and Dot1Q's type field is the payload's length before LLC (`payload =
    ethertype <= 1500 ? ethertype : remaining` with `unless ethertype <= 1500 -> LLC`): the
    builder writes it, where it wrote 0 (so the frame decoded as an empty LLC)."""
    from pktspec.layers import LLC, STP, Dot1Q, Ethernet, IPv4

    bpdu = LLC(dsap=0x42, ssap=0x42, control=3) / STP()
    for stack, at in ((Ethernet() / bpdu, 12), (Ethernet() / Dot1Q(vlan_id=5) / bpdu, 16)):
        data = pktspec.serialize(stack)
        assert int.from_bytes(data[at:at + 2], "big") == len(data) - at - 2
        packet = pktspec.decode(data)
        assert [x.name for x in packet.layers][-2:] == ["LLC", "STP"] and packet.error is None
    given = pktspec.serialize(Ethernet(ethertype=100) / bpdu)
    assert given[12:14] == bytes([0, 100])  # a length given stays
    assert pktspec.serialize(Ethernet() / IPv4())[12:14] == b"\x08\x00"  # others: bindings


def test_an_802_3_payload_too_long_for_a_length_is_refused():
    from pktspec.layers import LLC, Ethernet

    with pytest.raises(BuildError, match=r"ethertype = 2048, the payload's length, is not a "
                                         r"length here \(ethertype <= 1500 does not hold\)"):
        pktspec.serialize(Ethernet() / LLC(dsap=0x42) / (b"E" * 2045))
