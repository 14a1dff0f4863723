"""A conditional field given sets what its condition reads (when that was not given): the
radiotap present bits, GRE's key/sequence/checksum bits, a user's flags and values. A
controlling field given is kept, and a field it leaves out is refused, never dropped."""

from __future__ import annotations

import pytest

import pktspec
from pktspec import load
from pktspec.errors import BuildError
from pktspec.layers import GRE, Dot11, IPv4, RadioTap
from pktspec.runtime.serialize import serialize
from tests.building.conftest import layer

A, B, C = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"
RADIO = {"tsft": 123456789, "rate": 12, "channel_frequency": 2437,
         "channel_flags": "GHZ2|OFDM", "dbm_antenna_signal": -40, "antenna": 1}


def test_radiotap_fields_given_set_their_present_bits_and_decode_back():
    data = bytes(RadioTap(**RADIO) / Dot11(type="Data", subtype=0, address1=A, address2=B,
                                            address3=C))
    spelled = bytes(RadioTap(present="tsft|rate|channel|dbm_antenna_signal|antenna", **RADIO)
                    / Dot11(type="Data", subtype=0, address1=A, address2=B, address3=C))
    assert data == spelled
    p = pktspec.decode(data, first=RadioTap)  # (a data frame with no body: LLC is cut)
    radio = p[RadioTap]
    assert int(radio.present) == 0x82D and radio.length == 24
    # tsft aligned at 8, rate at 16, channel at 18 (2-aligned), signal 22, antenna 23:
    # radiotap's natural alignment, as tshark reads it
    assert data[8:16] == (123456789).to_bytes(8, "little") and data[16] == 12
    assert data[18:22] == bytes.fromhex("8509c000") and data[22:24] == bytes([0xD8, 1])
    got = {name: radio.raw_fields()[name] for name in RADIO}
    assert got == {**RADIO, "channel_flags": 0xC0}
    assert radio.flags is None and radio.fhss is None  # not given: still absent
    assert (p[Dot11].address1, p[Dot11].address3) == (A, C)


def test_radiotap_present_given_is_kept_and_a_field_it_leaves_out_is_refused():
    with pytest.raises(BuildError, match=r"RadioTap: rate is given but its condition "
                                         r"\(present.rate\) is false"):
        bytes(RadioTap(present="tsft", tsft=1, rate=12))
    radio = RadioTap.from_bytes(bytes(RadioTap(present="tsft|rate", rate=2)))
    assert (radio.tsft, radio.rate) == (0, 2)  # a present field not given: its default


@pytest.mark.parametrize(("fields", "bits", "size"), [
    ({"key": 7}, 0x20, 8), ({"seq": 9}, 0x10, 8), ({"checksum": 5}, 0x80, 8),
    ({"key": 7, "seq": 9, "checksum": 5}, 0xB0, 16)])
def test_gre_optional_fields_set_their_present_bits(fields, bits, size):
    data = bytes(IPv4(src="192.0.2.1", dst="192.0.2.2") / GRE(**fields) / b"\x45")[20:]
    assert data[0] == bits and len(data) == size + 1
    gre = pktspec.decode(data, first=GRE, strict=True)[GRE]
    assert {name: getattr(gre, name) for name in fields} == fields


def test_gre_enhanced_fields_set_version_and_a_given_version_is_kept():
    gre = GRE.from_bytes(bytes(GRE(call_id=3, payload_length=0)))
    assert (gre.version, gre.key_present, gre.call_id, gre.key) == (1, 1, 3, None)
    with pytest.raises(BuildError, match=r"key is given but its condition "
                                         r"\(key_present == 1 and version != 1\) is false"):
        bytes(GRE(version=1, key=7))
    with pytest.raises(BuildError, match="seq is given but its condition"):
        bytes(GRE(seq_present=0, seq=9))


def test_a_decoded_layer_edited_to_hold_an_absent_field_sets_what_its_condition_reads():
    gre = GRE.from_bytes(bytes(GRE(protocol=0x0800)))
    gre.key = 7  # key_present, as decoded (0), goes stale: the edit gives key
    got = GRE.from_bytes(serialize(gre))
    assert (got.key_present, got.key, got.protocol) == (1, 7, 0x0800)
    gre = GRE.from_bytes(bytes(GRE(protocol=0x0800, seq=1)))
    gre.seq_present, gre.key = 0, 7  # a controlling field the edit set is kept
    got = GRE.from_bytes(serialize(gre))
    assert (got.seq_present, got.seq, got.key_present, got.key) == (0, None, 1, 7)
    gre = GRE.from_bytes(bytes(GRE(protocol=0x0800, key=3)))
    gre.version, gre.key = 1, 7  # (setting a field to what it was decoded as is no edit)
    with pytest.raises(BuildError, match="key is given but its condition"):
        serialize(gre)


def _radio_packet() -> bytes:
    return bytes(RadioTap(tsft=5, flags=0x10, channel_frequency=2437, channel_flags="GHZ2",
                          antenna=1)
                 / Dot11(type="Data", subtype=0, address1=A, address2=B, address3=C))


def test_a_decoded_radiotap_edited_to_hold_rate_sets_its_present_bit():
    p = pktspec.decode(_radio_packet(), first=RadioTap)
    p[RadioTap].rate = 12
    radio = pktspec.decode(p.build(), first=RadioTap)[RadioTap]
    assert int(radio.present) == int(p[RadioTap].present) | 4
    assert (radio.tsft, radio.flags, radio.rate, radio.channel_frequency, radio.antenna) == \
        (5, 0x10, 12, 2437, 1)
    assert radio.length == 8 + 8 + 1 + 1 + 4 + 1  # rate in the pad before channel
    q = pktspec.decode(_radio_packet(), first=RadioTap)
    q[RadioTap].present = int(q[RadioTap].present) & ~1  # edited: kept, so rate refused
    q[RadioTap].rate = 12
    with pytest.raises(BuildError, match=r"rate is given but its condition \(present.rate\)"):
        q.build()


def test_a_decoded_radiotap_its_present_bit_cleared_leaves_the_field_out():
    p = pktspec.decode(_radio_packet(), first=RadioTap)
    assert p[RadioTap].flags == 0x10  # decoded, but not given by the edit
    p[RadioTap].present = int(p[RadioTap].present) & ~2
    radio = pktspec.decode(p.build(), first=RadioTap)[RadioTap]
    assert (radio.tsft, radio.flags, radio.channel_frequency, radio.antenna) == \
        (5, None, 2437, 1)
    assert pktspec.decode(p.build(), first=RadioTap)[Dot11].address3 == C


def test_a_new_layer_leaves_what_conditions_read_unset_until_built():
    assert GRE().key_present is None and GRE().key is None
    assert GRE.from_bytes(bytes(GRE())).key_present == 0


def test_user_layer_flags_mask_and_value_conditions(tmp_path, monkeypatch, restore_registry):
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "conds.layer"
    path.write_text("""
layer Conds : other {
    flags: bits 8 { a, b, c, d, e, f, g, h };
    mode: u8;
    kind: u8 default 3;
    x: u16 if flags.b;
    y: u8 if mode & 4 != 0;
    z: u8 if mode & 0x30 == 0x30 and flags.h;
    w: u32 if kind == 1;
    v: u8 if kind == 2 or kind == 5;
}
""")
    load(str(path))
    Conds = layer("Conds")
    assert [c[:2] for c in Conds.CONDITIONS] == [
        ("x", "flags.b"), ("y", "mode & 4 != 0"), ("z", "mode & 48 == 48 and flags.h"),
        ("w", "kind == 1"), ("v", "kind == 2 or kind == 5")]
    data = bytes(Conds(x=0x1234, y=7, z=8, w=9))
    # flags: b (0x40) | h (0x01); mode 4 | 0x30; kind 1
    assert data == bytes([0x41, 0x34, 1, 0x12, 0x34, 7, 8, 0, 0, 0, 9])
    got = Conds.from_bytes(data)
    assert (got.x, got.y, got.z, got.w, got.v) == (0x1234, 7, 8, 9, None)
    assert bytes(Conds(v=1))[2:] == bytes([2, 1])  # the first way of an `or`
    assert bytes(Conds(kind=5, v=1))[2:] == bytes([5, 1])  # already true: kept
    assert bytes(Conds())[:3] == bytes([0, 0, 3])  # nothing given: the defaults
    assert Conds.from_bytes(bytes(Conds(mode=0x34, y=1))).mode == 0x34  # given: kept
    for crafted, name in [({"flags": "a", "x": 1}, "x"), ({"mode": 0x30, "y": 1}, "y"),
                          ({"kind": 2, "w": 1}, "w"), ({"w": 1, "v": 1}, "v")]:
        with pytest.raises(BuildError, match=f"Conds: {name} is given but its condition"):
            bytes(Conds(**crafted))


def test_a_given_field_that_already_satisfies_a_way_does_not_block_it():
    """A way may include a field the user gave, when the given value already holds:
    GRE(version=1, call_id=5) sets key_present; Dot11(type="Data", address4=...) sets
    to_ds and from_ds (before, both were refused because version/type were given)."""
    gre = GRE.from_bytes(bytes(GRE(version=1, call_id=5, payload_length=0)))
    assert (gre.version, gre.key_present, gre.call_id) == (1, 1, 5)
    frame = pktspec.decode(bytes(Dot11(type="Data", address1="02:00:00:00:00:01",
                                       address2="02:00:00:00:00:02",
                                       address3="02:00:00:00:00:03",
                                       address4="02:00:00:00:00:04")), first=Dot11)[Dot11]
    assert frame.flags.to_ds and frame.flags.from_ds
    assert frame.address4 == "02:00:00:00:00:04"


def test_a_bit_field_of_a_conditional_chunk_given_sets_its_condition():
    """VRRP's version 3 fields (`reserved: u4 if version == 3; max_adver_int: u12 if
    version == 3;`, one chunk) always hold a number, so a value other than the initial one
    is what says "given": it sets version 3, or is refused when version is given as 2. It
    was dropped without a word."""
    import pktspec
    from pktspec.layers import VRRPv2

    v3 = pktspec.decode(bytes(VRRPv2(max_adver_int=300)), first=VRRPv2).layers[0]
    assert (v3.version, v3.max_adver_int) == (3, 300)
    with pytest.raises(BuildError, match=r"max_adver_int is given but its condition "
                                         r"\(version == 3\) is false"):
        bytes(VRRPv2(version=2, max_adver_int=300))
    v2 = pktspec.decode(bytes(VRRPv2()), first=VRRPv2).layers[0]
    assert (v2.version, v2.max_adver_int, v2.adver_int) == (2, None, 1)


def test_editing_one_field_of_an_absent_chunk_fills_its_mates():
    """A decoded VRRP version 2 packet given max_adver_int becomes version 3, its chunk
    mate `reserved` (None, absent) written as 0 (it raised a TypeError)."""
    import pktspec
    from pktspec.layers import VRRPv2

    packet = pktspec.decode(bytes(VRRPv2()), first=VRRPv2)
    packet.layers[0].max_adver_int = 250
    again = pktspec.decode(pktspec.serialize(packet), first=VRRPv2).layers[0]
    assert (again.version, again.reserved, again.max_adver_int) == (3, 0, 250)
