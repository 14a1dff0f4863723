"""Bit fields inside structs when building: a length that is a bit field is filled like a
byte-wide one (Geneve's option ``length: u5``, LLDP's ``length: u9``), and an enum that is a
bit field takes names (runtime.constructs.ChunkValues, generator/segments.py chunk_values).
Construct's own errors never escape: a part that cannot be built is a BuildError."""

from __future__ import annotations

import pytest

from pktspec import load
from pktspec.errors import BuildError
from pktspec.runtime.packet import decode
from pktspec.runtime.serialize import serialize
from tests.building.conftest import layer


@pytest.fixture
def spec(tmp_path, monkeypatch, restore_registry):
    """Load a .layer text written into tmp_path."""
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))

    def load_text(text: str, name: str = "spec.layer") -> None:
        path = tmp_path / name
        path.write_text(text)
        load(str(path))

    return load_text


def test_geneve_fills_its_options_bit_field_length():
    Geneve = layer("Geneve")
    built = serialize(Geneve(vni=5, options=[{"class_": 1, "type": 2, "data": b"12345678"}]))
    # opt_len 3 words: the option's 4-byte head and its 2 words of data
    assert built[:8] == bytes([0x03, 0, 0, 0, 0, 0, 5, 0])
    assert built[8:12] == bytes([0, 1, 2, 2])  # class 1, type 2, reserved 0, length 2
    option = decode(built, Geneve).layers[0].options[0]
    assert (option.length, option.data) == (2, b"12345678")


def test_geneve_option_data_that_fits_no_length_is_a_build_error():
    """Not construct's StreamError: a BuildError naming the layer and the part."""
    Geneve = layer("Geneve")
    with pytest.raises(BuildError, match=r"Geneve: .*options.*expected 8, found 5"):
        serialize(Geneve(options=[{"class_": 1, "type": 2, "data": b"12345"}]))


def test_a_bit_field_length_in_a_struct_is_filled_and_a_given_one_kept(spec):
    spec("""
struct D { r: u3; n: u5; data: bytes[n * 4]; }
layer BL : other { d: D; }
""")
    BL = layer("BL")
    assert serialize(BL(d={"data": b"12345678"})) == b"\x02" + b"12345678"
    assert serialize(BL(d={"r": 5, "data": b"1234"})) == bytes([5 << 5 | 1]) + b"1234"
    assert serialize(BL()) == b"\x00"  # unset: no data, length 0
    with pytest.raises(BuildError, match="BL"):  # a length given is kept, even a wrong one
        serialize(BL(d={"n": 1, "data": b"12345678"}))


def test_an_lldp_like_tlv_fills_its_u9_length_after_a_u7_enum(spec):
    spec("""
enum LLDPType : u7 { End = 0, ChassisID = 1, PortID = 2 }
struct LLDPTLV {
    type: LLDPType;
    length: u9;
    value: switch (type) { 1 => bytes[]; default => bytes[]; } size length;
}
layer LLDPLike : other { tlvs: LLDPTLV[]; }
""")
    LLDPLike = layer("LLDPLike")
    expected = bytes([1 << 1, 7]) + b"1234567" + bytes([2 << 1 | 1, 3]) + b"x" * 259
    for first in (1, "ChassisID"):
        built = serialize(LLDPLike(tlvs=[{"type": first, "value": b"1234567"},
                                         {"type": "PortID", "value": b"x" * 259}]))
        assert built == expected
    tlvs = LLDPLike.from_bytes(expected).tlvs
    assert [(t.type, t.length) for t in tlvs] == [(1, 7), (2, 259)]


def test_an_enum_bit_field_in_a_struct_takes_names(spec):
    spec("""
enum Small : u4 { Lo = 1, Hi = 9 }
struct SB { k: Small; r: u4; }
layer BE1 : other { k: Small; r: u4; s: SB; }
""")
    BE1 = layer("BE1")
    assert serialize(BE1(k="Hi")) == b"\x90\x00"
    assert serialize(BE1(s={"k": "Hi"})) == b"\x00\x90"
    assert serialize(BE1(s={"k": "lo", "r": 2})) == serialize(BE1(s={"k": 1, "r": 2}))
    assert BE1.from_bytes(b"\x00\x90").s.k == 9
    with pytest.raises(BuildError, match="Small has no member 'Middle'"):
        serialize(BE1(s={"k": "Middle"}))


def test_an_option_appended_to_a_decoded_geneve_header_gets_its_lengths():
    """A decoded part's dicts carry construct's ``_io``: no misspelt key, and not built."""
    Geneve, IPv4, UDP = layer("Geneve"), layer("IPv4"), layer("UDP")
    data = serialize(IPv4() / UDP() / Geneve(options=[{"class_": 1, "data": b"12345678"}])
                     / b"xx")
    packet = decode(data, IPv4)
    packet[Geneve].options.append({"class_": 3, "type": 4, "data": b"abcd"})
    again = decode(packet.build(), IPv4)
    assert again[Geneve].opt_len == 5
    assert [(o.class_, o.length, o.data) for o in again[Geneve].options] == \
        [(1, 2, b"12345678"), (3, 1, b"abcd")]
    assert again.application.payload == b"xx" and not again.verify_checksums()
