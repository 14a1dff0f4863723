"""Length fields inside structs (options, TLVs, resource records) that the .layer file implies
are filled in when built and left alone when given (generator/relations.py struct_lengths)."""

from __future__ import annotations

import pytest

from pktspec import load
from pktspec.errors import BuildError
from pktspec.runtime.packet import decode
from pktspec.runtime.serialize import serialize
from tests.building.conftest import layer


def test_a_length_given_is_kept_for_crafted_packets():
    TCP = layer("TCP")
    built = serialize(TCP(src_port=1, dst_port=2, options=[
        {"kind": "MSS", "length": 6, "value": {"mss": 1460}}]), compute_checksums=False)
    # kind 2, length 6 as given, then the MSS padded to the 4 bytes that length leaves
    assert built[20:26] == bytes([2, 6, 0x05, 0xB4, 0, 0])
    assert decode(built, TCP).transport.options[0].length == 6


def test_lengths_in_8_byte_units_round_up_and_pad():
    """ICMPv6 options count 8-byte units (``size length * 8 - 2``): a 6-byte MAC gives 1."""
    Solicitation = layer("ICMPv6RouterSolicitation")
    mac = bytes.fromhex("020000000001")
    built = serialize(Solicitation(options=[{"type": 1, "value": mac},
                                            {"type": 1, "value": mac + b"\x01"}]))
    assert built[4:12] == bytes([1, 1]) + mac
    assert built[12:28] == bytes([1, 2]) + mac + b"\x01" + bytes(7)
    options = decode(built, Solicitation).layers[0].options
    assert [o.length for o in options] == [1, 2]


def test_counts_and_sized_lists_are_filled(tmp_path, monkeypatch, restore_registry):
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "tlv.layer"
    path.write_text("""
struct Item { a: u8; }
struct Entry {
    count: u8;
    size_in_words: u8;
    items: Item[count];
    words: u16[] size size_in_words * 2;
    tag_len: u8;
    tag: bytes[tag_len];
    odd: u8;
    squared: bytes[odd * odd];
}
layer TLVHolder : other {
    entries: Entry[];
}
""")
    load(str(path))
    Holder = layer("TLVHolder")
    entry = {"items": [{"a": 1}, {"a": 2}], "words": [7, 8, 9], "tag": b"xy", "odd": 1,
             "squared": b"z"}
    built = serialize(Holder(entries=[entry]))
    assert built == bytes([2, 3, 1, 2, 0, 7, 0, 8, 0, 9, 2]) + b"xy" + bytes([1]) + b"z"
    # odd * odd is not linear in odd: that length is the user's to give
    del entry["odd"]
    with pytest.raises(BuildError, match="TLVHolder"):
        serialize(Holder(entries=[entry]))


def test_a_struct_part_left_out_still_needs_its_fields():
    TCP = layer("TCP")
    with pytest.raises(BuildError, match="TCP"):
        serialize(TCP(options=[{"kind": "MSS"}]))


@pytest.mark.parametrize(("name", "fields", "message"), [
    ("TCP", {"options": [{"kind": "Timestamps", "value": {"tsval": 1, "echo_reply": 2}}]},
     "TCP.options: unknown key 'tsval' (did you mean 'value'?)"),
    ("DNS", {"questions": [{"name": "a.example", "type": "A", "class": "IN"}]},
     "DNS.questions: unknown key 'class' (did you mean 'class_'?)"),
    ("IPv4", {"options": [{"kind": 7}]}, "IPv4.options: unknown key 'kind'; the keys there"),
])
def test_a_misspelt_key_in_a_part_is_named(name, fields, message):
    with pytest.raises(BuildError) as raised:
        serialize(layer(name)(**fields))
    assert message in str(raised.value)


@pytest.mark.parametrize(("name", "fields", "message"), [
    ("Dot1Q", {"vlan_id": 5000}, "vlan_id = 5000 does not fit in its bits (0..4095)"),
    ("IPv4", {"fragment_offset": 9000}, "fragment_offset = 9000 does not fit in its bits"),
    ("IPv4", {"dscp": 64}, "dscp = 64 does not fit in its bits (0..63)"),
    # bit fields after the fixed prefix (conditional chunks): they wrapped silently
    ("STP", {"root_priority": 32768}, "root_priority = 32768 does not fit in its bits (0..15)"),
    ("STP", {"tc": 2}, "tc = 2 does not fit in its bits (0..1)"),
    ("EAPOLKey", {"key_index": 7}, "key_index = 7 does not fit in its bits (0..3)"),
])
def test_a_bit_field_too_wide_is_refused_not_wrapped(name, fields, message):
    with pytest.raises(BuildError) as raised:
        serialize(layer(name)(**fields))
    assert message in str(raised.value)
    assert serialize(layer(name)(**{k: 1 for k in fields}))  # in range: builds


def test_a_part_given_while_its_condition_is_false_is_refused():
    """DHCP options follow the magic cookie: a magic given as something else would drop
    them silently; left out, the cookie is implied by the options."""
    DHCPv4 = layer("DHCPv4")
    with pytest.raises(BuildError, match=r"options is given but its condition "
                                         r"\(magic == 1669485411\) is false"):
        serialize(DHCPv4(magic=0, options=[{"code": "End"}]))
    assert serialize(DHCPv4(magic=0x63825363, options=[{"code": "End"}]))[240:] == b"\xff"
    assert serialize(DHCPv4(options=[{"code": "End"}]))[236:] == b"\x63\x82\x53\x63\xff"


def test_ipv6_with_nothing_above_says_no_next_header():
    from pktspec.layers import IPv6

    packet = decode(serialize(IPv6(src="2001:db8::1", dst="2001:db8::2")), IPv6)
    assert packet.layers[0].next_header == 59 and packet.error is None


def test_a_layer_array_sized_in_bytes_gets_its_size(tmp_path, monkeypatch, restore_registry):
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "sized.layer"
    path.write_text("""
struct Item { a: u8; b: u8; }
layer SizedItems : other { m: u8; ys: Item[] size m; tag: u8; }
""")
    load(str(path))
    Sized = layer("SizedItems")
    built = serialize(Sized(ys=[{"a": 1, "b": 2}, {"a": 3}], tag=9))
    assert built == bytes([4, 1, 2, 3, 0, 9])
    assert [y.a for y in Sized.from_bytes(built).ys] == [1, 3]


def test_an_array_left_out_of_a_struct_builds_empty():
    """A struct's `T[]` or `T[] size n` left out builds as no items, as a left-out bytes
    part builds empty (an OSPF hello without neighbor_id raised "'NoneType' object is not
    iterable")."""
    import pktspec
    from pktspec.layers import IPv4, OSPFv2

    data = pktspec.serialize(IPv4() / OSPFv2(router_id="1.1.1.1", content={"hello_interval": 10}))
    hello = pktspec.decode(data, first=IPv4)[OSPFv2].content
    assert (hello.hello_interval, list(hello.neighbor_id)) == (10, [])
