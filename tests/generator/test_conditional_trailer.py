"""Trailer fields with an `if`: there when a header field says so (a frame's optional CRC,
radiotap's 802.11 FCS). The fast path, TRAILER (parsed with the header's values), the
builder, verify_checksums and message framing all agree on whether the field is there."""

from __future__ import annotations

import struct

import pytest

import pktspec
from pktspec.errors import BuildError
from pktspec.reassembly.messages import message_extent
from pktspec.runtime.constructs import crc16_modbus
from tests.generator.conftest import load_text

FRAMED = """
layer OptCrcFrame : application {
    flags: bits 8 { has_crc, more, r5, r4, r3, r2, r1, r0 };
    size: u8 = len(payload);
    payload = size;
    trailer {
        crc: u16le = crc16_modbus(header, payload) if flags.has_crc;
        end_mark: u8 = 0x7e;
    }
}
"""


@pytest.fixture(scope="module")
def framed(tmp_path_factory):
    return load_text(tmp_path_factory.mktemp("framed"), FRAMED).OptCrcFrame


def reference(layer) -> dict:
    cls = type(layer)
    header = {k: v for k, v in cls.FORMAT.parse(bytes(layer.contents)).items()
              if not k.startswith("_")}
    trailer = cls.TRAILER.parse(bytes(layer.trailer), **header)
    return {**header, **{k: v for k, v in trailer.items() if not k.startswith("_")}}


def test_with_the_flag_the_crc_is_read_after_the_payload(framed):
    body = b"\x80\x03abc"
    crc = crc16_modbus(body)
    layer = pktspec.decode(body + struct.pack("<H", crc) + b"\x7e", first=framed).layers[0]
    assert (layer.crc, layer.end_mark, bytes(layer.payload)) == (crc, 0x7E, b"abc")
    assert layer.raw_fields() == reference(layer)


def test_without_it_the_field_is_absent_and_takes_no_bytes(framed):
    layer = pktspec.decode(b"\x00\x03abc\x7e", first=framed).layers[0]
    assert (layer.crc, layer.end_mark, bytes(layer.payload)) == (None, 0x7E, b"abc")
    assert layer.raw_fields() == reference(layer)
    assert "crc" not in repr(layer)


def test_a_frame_cut_before_its_crc_keeps_the_layer_and_counts_what_is_missing(framed):
    p = pktspec.decode(b"\x80\x03abc\x7e", first=framed)
    layer = p.layers[0]
    assert p.error is None and type(layer) is framed
    assert (layer.crc, layer.end_mark, bytes(layer.payload)) == (None, None, b"abc")
    assert (layer.payload_missing, p.truncated) == (2, True)  # 2 + 1 trailer bytes, 1 there
    assert pktspec.verify_checksums(p) == []  # nothing there to check


def test_the_builder_writes_the_crc_only_with_the_flag(framed):
    with_crc = bytes(framed(flags="has_crc") / b"abc")
    assert with_crc == b"\x80\x03abc" + struct.pack("<H", crc16_modbus(b"\x80\x03abc")) + b"\x7e"
    assert pktspec.verify_checksums(pktspec.decode(with_crc, first=framed)) == []
    assert bytes(framed() / b"abc") == b"\x00\x03abc\x7e"
    with pytest.raises(BuildError, match="crc is given but its condition"):
        bytes(framed(flags=0, crc=5) / b"abc")


def test_giving_the_crc_sets_the_flag_it_needs(framed):
    data = bytes(framed(crc=0x1234) / b"abc")
    assert data[0] == 0x80 and data[-3:] == b"\x34\x12\x7e"
    (bad,) = pktspec.verify_checksums(pktspec.decode(data, first=framed))
    assert (bad.field, bad.found) == ("crc", 0x1234)


def test_an_edited_decoded_frame_is_rebuilt_with_its_crc(framed):
    data = bytes(framed(flags="has_crc") / b"abc")
    p = pktspec.decode(data, first=framed)
    p.layers[0].flags = 0  # the CRC is not sent any more
    assert p.build() == b"\x00\x03abc\x7e"


def test_message_framing_counts_the_crc_only_when_it_is_there(framed):
    with_crc = bytes(framed(flags="has_crc") / b"abc")
    without = bytes(framed() / b"xy")
    buf = bytearray(with_crc + without)
    assert message_extent(framed, buf, 0) == len(with_crc) == 8
    assert message_extent(framed, buf, len(with_crc)) == len(without) == 5


LATE_FLAG = """
layer LateFlagFrame : application {
    size: u8;
    body: bytes[size];
    flags: u8;
    trailer { crc: u16 if flags & 1 != 0; }
}
"""


def test_a_condition_read_after_a_sized_part_is_decoded_in_time(tmp_path):
    """The sized part comes before the flag the trailer's size depends on: it is bounded by
    the layer's end, and a frame cut before the trailer ends leaves it out."""
    cls = load_text(tmp_path, LATE_FLAG).LateFlagFrame
    layer = pktspec.decode(b"\x02ab\x01\x12\x34", first=cls).layers[0]
    assert (bytes(layer.body), layer.flags, layer.crc) == (b"ab", 1, 0x1234)
    assert layer.raw_fields() == reference(layer)
    layer = pktspec.decode(b"\x02ab\x00", first=cls).layers[0]
    assert (layer.flags, layer.crc) == (0, None)
    cut = pktspec.decode(b"\x02ab\x01\x12", first=cls)
    assert cut.error is None and cut.layers[0].crc is None
    assert (bytes(cut.layers[0].payload), cut.layers[0].payload_missing) == (b"\x12", 1)
    assert pktspec.decode(b"\x05ab\x01\x12\x34", first=cls).error.truncated


DEFAULTED = """
layer TrailerDefault : other {
    n: u8;
    trailer { c: u8 default 9 if n == 1; d: u8 if n == 1; }
}
"""


def test_an_unset_conditional_trailer_field_takes_its_default_or_zero(tmp_path):
    cls = load_text(tmp_path, DEFAULTED).TrailerDefault
    assert bytes(cls(n=1) / b"x") == b"\x01x\x09\x00"
    assert bytes(cls(n=0) / b"x") == b"\x00x"


def test_a_decoded_frame_whose_crc_is_cleared_gets_it_computed_once(framed):
    data = bytes(framed(flags="has_crc") / b"abc")
    p = pktspec.decode(data, first=framed)
    p.layers[0].crc = None  # rebuilt by the relation, in place of the one decoded
    assert p.build() == data


@pytest.mark.parametrize("text", [
    "layer TS1 : other { n: u8; a: bytes[n]; trailer { c: u16 if sizeof(a) > 1; } }",
    "layer TS2 : other { f: u8; let g = f * 2; trailer { c: u8 if g > 1; } }",
    "layer TS3 : other { a: bytes[2]; trailer { c: u8 if a[0] == 1; } }",
])
def test_a_trailer_condition_reads_only_header_fields(tmp_path, text):
    from tests.generator.conftest import one

    assert "reads more than header fields" in one(tmp_path, text).message
