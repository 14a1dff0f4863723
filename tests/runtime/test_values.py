"""OpenEnum, FlagSet and the address text helpers."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pktspec.runtime.values import (
    FlagSet,
    OpenEnum,
    ipv4_bytes,
    ipv4_text,
    ipv6_bytes,
    ipv6_text,
    mac_bytes,
    mac_text,
)


class IPProtocol(OpenEnum):
    ICMP = 1
    TCP = 6
    UDP = 17
    ALSO_TCP = 6


class MoreProtocols(IPProtocol):
    SCTP = 132


TCPFlags = FlagSet.define("TCPFlags", ("cwr", "ece", "urg", "ack", "psh", "rst", "syn", "fin"))
IPv4Flags = FlagSet.define("IPv4Flags", ("reserved", "dont_fragment", "more_fragments"))


class TestOpenEnum:
    def test_members_are_ints_that_print_name_and_value(self):
        assert IPProtocol.TCP == 6
        assert isinstance(IPProtocol.TCP, int)
        assert str(IPProtocol.TCP) == "TCP (6)"
        assert repr(IPProtocol.UDP) == "<IPProtocol.UDP: 17>"
        assert f"{IPProtocol.TCP:#x}" == "0x6"
        assert IPProtocol.TCP + 1 == 7

    def test_call_returns_member_or_plain_int(self):
        assert IPProtocol(17) is IPProtocol.UDP
        unknown = IPProtocol(253)
        assert unknown == 253 and type(unknown) is int

    def test_name_of_and_display(self):
        assert IPProtocol.name_of(6) == "TCP"
        assert IPProtocol.name_of(99) is None
        assert IPProtocol.display(1) == "ICMP (1)"
        assert IPProtocol.display(99) == "99"

    def test_alias_shares_the_first_name(self):
        assert IPProtocol.ALSO_TCP == IPProtocol.TCP
        assert IPProtocol.ALSO_TCP.name == "TCP"
        assert list(IPProtocol.members()) == ["ICMP", "TCP", "UDP", "ALSO_TCP"]

    def test_parse_names_and_numbers(self):
        assert IPProtocol.parse("udp") == 17
        assert IPProtocol.parse("TCP") is IPProtocol.TCP
        assert IPProtocol.parse("0x11") is IPProtocol.UDP
        assert IPProtocol.parse("200") == 200
        assert IPProtocol("tcp") is IPProtocol.TCP
        with pytest.raises(ValueError, match="no member 'nope'"):
            IPProtocol.parse("nope")

    def test_subclass_extends_its_parent(self):
        assert MoreProtocols(6).name == "TCP"
        assert str(MoreProtocols.SCTP) == "SCTP (132)"
        assert IPProtocol.name_of(132) is None

    def test_pickle_keeps_the_member(self):
        assert pickle.loads(pickle.dumps(IPProtocol.TCP)) is IPProtocol.TCP

    def test_members_hash_as_ints(self):
        table = {IPProtocol.TCP: "tcp"}
        assert table[6] == "tcp"


    def test_remove_member_takes_back_an_added_member(self):
        class Kind(OpenEnum):
            A = 1

        Kind.add_member("B", 2)
        Kind.add_member("Alias", 2)
        Kind.remove_member("B")
        assert not hasattr(Kind, "B") and list(Kind.members()) == ["A", "Alias"]
        assert Kind.name_of(2) == "Alias" and str(Kind(2)) == "Alias (2)"  # the alias shows
        Kind.remove_member("Alias")
        assert Kind.name_of(2) is None and Kind(2) == 2 and type(Kind(2)) is int
        with pytest.raises(ValueError, match="no member 'Gone'"):
            Kind.parse("Gone")
        Kind.add_member("B", 3)  # free again, with another value
        assert Kind.B == 3
        with pytest.raises(ValueError, match="declared in the class"):
            Kind.remove_member("A")  # only what add_member added can be taken back
        with pytest.raises(KeyError):
            Kind.remove_member("Nope")


class TestFlagSet:
    def test_tcp_flags_print_like_tcpdump(self):
        assert str(TCPFlags(0x12)) == "[S.]"
        assert str(TCPFlags(0x18)) == "[P.]"
        assert str(TCPFlags(0x11)) == "[F.]"
        assert str(TCPFlags(0x02)) == "[S]"
        assert str(TCPFlags(0x04)) == "[R]"
        assert str(TCPFlags(0)) == "[none]"

    def test_nine_bit_tcp_flags_with_ns_still_print_like_tcpdump(self):
        flags = FlagSet.define(
            "F9", ("ns", "cwr", "ece", "urg", "ack", "psh", "rst", "syn", "fin"), width=9
        )
        assert str(flags(0x12)) == "[S.]"
        assert str(flags(0x100)) == "[e]"

    def test_attribute_and_in_by_name(self):
        f = TCPFlags(0x12)
        assert f.syn and f.ack and not f.fin
        assert "ack" in f and "rst" not in f and "bogus" not in f
        assert 0x02 in f and 0x03 not in f
        assert f.test("syn")
        assert int(f) == 18 and f == 18
        assert list(f) == ["ack", "syn"]

    def test_unknown_name_is_an_attribute_error_listing_the_flags(self):
        with pytest.raises(AttributeError, match="no flag 'nope'.*syn"):
            _ = TCPFlags(0).nope

    def test_general_flags_print_short_names(self):
        assert str(IPv4Flags(2)) == "DF"
        assert str(IPv4Flags(3)) == "DF|MF"
        assert str(IPv4Flags(0)) == "none"
        assert IPv4Flags(1).more_fragments and not IPv4Flags(1).dont_fragment
        assert repr(IPv4Flags(2)) == "<IPv4Flags DF (0x2)>"

    def test_bits_outside_the_names_are_shown(self):
        assert str(IPv4Flags(8)) == "0x8"
        assert str(TCPFlags(0x102)) == "[S+0x100]"

    def test_bit_positions_mapping_and_shorthand(self):
        assert FlagSet(3, {"a": 0, "b_c": 1}).b_c
        assert str(FlagSet(3, {"a": 0, "b_c": 1})) == "BC|A"
        shorthand = FlagSet(1, ("x", "y"))
        assert shorthand.y and not shorthand.x
        assert type(shorthand) is type(FlagSet(2, ("x", "y")))  # one class per name list

    def test_colliding_short_names_fall_back_to_full_names(self):
        flags = FlagSet.define("C", ("more_data", "must_drop"))
        assert str(flags(3)) == "MORE_DATA|MUST_DROP"

    def test_reserved_bits_and_width(self):
        flags = FlagSet.define("R", ("a", None, "b"))
        assert flags(4).a and flags(1).b
        with pytest.raises(ValueError):
            FlagSet.define("W", ("a", "b", "c"), width=2)

    def test_explicit_letters(self):
        flags = FlagSet.define("L", ("x", "y"), letters={"y": "Y", "x": "X"})
        assert str(flags(3)) == "[YX]"

    @given(st.integers(0, 255))
    def test_names_cover_exactly_the_set_bits(self, value):
        f = TCPFlags(value)
        rebuilt = sum(TCPFlags._masks_[name] for name in f)
        assert rebuilt == value
        for name, mask in TCPFlags._masks_.items():
            assert getattr(f, name) == bool(value & mask)


class TestAddresses:
    def test_text_forms(self):
        assert mac_text(bytes.fromhex("02005e005301")) == "02:00:5e:00:53:01"
        assert ipv4_text(bytes([192, 0, 2, 1])) == "192.0.2.1"
        assert ipv6_text(bytes.fromhex("20010db8" + "00" * 11 + "01")) == "2001:db8::1"

    def test_text_from_memoryview(self):
        buf = bytearray([10, 0, 0, 1])
        assert ipv4_text(memoryview(buf)) == "10.0.0.1"
        assert mac_text(memoryview(bytearray(6))) == "00:00:00:00:00:00"

    def test_parse_back(self):
        assert mac_bytes("02-00-5E-00-53-01") == bytes.fromhex("02005e005301")
        assert mac_bytes("0200.5e00.5301") == bytes.fromhex("02005e005301")
        assert ipv4_bytes(" 192.0.2.1 ") == bytes([192, 0, 2, 1])
        assert ipv6_bytes("::ffff:192.0.2.1")[-4:] == bytes([192, 0, 2, 1])

    @pytest.mark.parametrize(
        "parse, text",
        [
            (mac_bytes, "02:00"),
            (mac_bytes, "zz:00:5e:00:53:01"),
            (ipv4_bytes, "300.1.1.1"),
            (ipv4_bytes, "127.1"),
            (ipv6_bytes, "2001:::1"),
        ],
    )
    def test_bad_text_is_a_value_error(self, parse, text):
        with pytest.raises(ValueError, match="not a"):
            parse(text)

    @given(
        st.binary(min_size=6, max_size=6),
        st.binary(min_size=4, max_size=4),
        st.binary(min_size=16, max_size=16),
    )
    def test_round_trips(self, mac, v4, v6):
        assert mac_bytes(mac_text(mac)) == mac
        assert ipv4_bytes(ipv4_text(v4)) == v4
        assert ipv6_bytes(ipv6_text(v6)) == v6


def test_sized_address_text_reads_back_for_every_16_byte_value():
    from pktspec.runtime.values import addr_bytes, addr_text

    for raw in (bytes.fromhex("00100020003000400050006000700080"),
                bytes.fromhex("20010db8000000000000000000000001"), bytes(16)):
        assert addr_bytes(addr_text(raw)) == raw, addr_text(raw)
    assert addr_text(bytes.fromhex("00100020003000400050006000700080")) == \
        "0010:0020:0030:0040:0050:0060:0070:0080"


def test_an_empty_sized_address_reads_back():
    """addr[n] with n == 0 (ARP with address sizes 0) shows as '' and '' builds back to no
    bytes, so a layer made from a decoded one's fields builds (it raised 'not an IPv4
    address')."""
    import pktspec
    from pktspec.layers import ARP
    from pktspec.runtime.values import addr_bytes, addr_text

    assert (addr_text(b""), addr_bytes("")) == ("", b"")
    data = bytes.fromhex("0001080000000001")
    arp = pktspec.decode(data, first=ARP).layers[0]
    assert bytes(ARP(**arp.fields())) == data
