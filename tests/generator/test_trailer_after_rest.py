"""A part that runs to the end (``bytes[]``, ``T[]``) stops before a fixed-size trailer, in
the fast path and in FORMAT alike; a layer cut before its trailer ends keeps what is there
(the part gets the bytes, the trailer fields are None, payload_missing counts the rest)."""

from __future__ import annotations

import pktspec
from pktspec.runtime.serialize import verify_checksums
from tests.generator.conftest import load_text

MODBUS = """
import "linktypes.layer"
layer ModbusRTU : application {
    address: u8;
    function: u8;
    body: bytes[];
    trailer { crc: u16le = crc16_modbus(header, payload); }
}
extend LinkType { 147 -> ModbusRTU }
"""

WORDS = """
layer Words : application {
    kind: u8;
    words: u16[];
    trailer { check: u8; tag: u16; }
}
"""


def agree(layer) -> dict:
    """The fast path's fields equal FORMAT over the header plus TRAILER over the trailer."""
    cls = type(layer)
    ref = {**cls.FORMAT.parse(bytes(layer.contents)), **cls.TRAILER.parse(bytes(layer.trailer))}
    ref = {k: list(v) if isinstance(v, list) else v for k, v in ref.items()
           if not k.startswith("_")}
    assert layer.raw_fields() == ref
    return ref


def test_bytes_to_the_end_leaves_the_trailer(tmp_path):
    mod = load_text(tmp_path, MODBUS)
    data = bytes(mod.ModbusRTU(address=1, function=3, body=bytes.fromhex("0000000a")))
    assert data.hex() == "01030000000ac5cd"
    p = pktspec.decode(data, first=mod.ModbusRTU, strict=True)
    layer = p[mod.ModbusRTU]
    assert (layer.body, layer.crc, bytes(layer.payload)) == (b"\0\0\0\n", 0xCDC5, b"")
    assert agree(layer)["body"] == b"\0\0\0\n"  # FORMAT over the header: the same body
    assert verify_checksums(p) == []
    assert pktspec.serialize(layer, fix_lengths=True, compute_checksums=True) == data
    empty = pktspec.decode(bytes(mod.ModbusRTU(address=1, function=3)), first=mod.ModbusRTU,
                           strict=True)[mod.ModbusRTU]
    assert empty.body == b"" and verify_checksums([empty]) == []


def test_a_layer_cut_before_its_trailer_keeps_the_bytes_there(tmp_path):
    mod = load_text(tmp_path, MODBUS)
    p = pktspec.decode(bytes.fromhex("010300"), first=mod.ModbusRTU)
    layer = p[mod.ModbusRTU]
    assert p.error is None and (layer.body, layer.crc) == (b"\0", None)
    assert (layer.payload_missing, p.truncated) == (2, True)
    assert verify_checksums(p) == []
    cut = pktspec.decode(bytes.fromhex("01"), first=mod.ModbusRTU).error
    assert cut.field_path == "function"  # a header field that does not fit comes first


def test_an_array_to_the_end_leaves_the_trailer(tmp_path):
    mod = load_text(tmp_path, WORDS)
    data = bytes([7, 0, 1, 0, 2, 0, 3, 9, 0xAB, 0xCD])
    layer = pktspec.decode(data, first=mod.Words, strict=True)[mod.Words]
    assert (list(layer.words), layer.check, layer.tag) == ([1, 2, 3], 9, 0xABCD)
    assert agree(layer)["words"] == [1, 2, 3]
    assert bytes(mod.Words(kind=7, words=[1, 2, 3], check=9, tag=0xABCD)) == data
    cut = pktspec.decode(bytes([7, 0, 1]), first=mod.Words)
    assert cut.error is None and (list(cut.layers[0].words), cut.layers[0].check) == ([1], None)
    assert cut.layers[0].payload_missing == 3


def test_a_trailer_after_a_declared_payload_that_does_not_fit(tmp_path):
    mod = load_text(tmp_path, """
layer Framed : application {
    size: u8;
    payload = size;
    trailer { crc: u16; }
}
""")
    assert pktspec.decode(bytes([2, 5, 6, 0, 1]), first=mod.Framed, strict=True)[
        mod.Framed].crc == 1
    cut = pktspec.decode(bytes([2, 5, 6, 0]), first=mod.Framed)
    layer = cut.layers[0]
    assert cut.error is None and (bytes(layer.payload), layer.crc) == (b"\x05\x06", None)
    assert (bytes(layer.trailer), layer.payload_missing) == (b"\x00", 1)


def test_a_cut_trailer_is_rebuilt_whole_not_kept_after_the_new_one(tmp_path):
    """A layer with `payload =` cut inside its trailer keeps the trailer's first bytes
    after the payload; rebuilding writes the trailer whole, and those bytes are not kept
    after it too (they were: 11 bytes out of 8)."""
    mod = load_text(tmp_path, """
layer CutTrail : other {
    n: u8 = len(payload);
    kind: u8;
    payload = n;
    trailer { crc: u16 = crc16_modbus(header, payload); tag: u8; }
}
""")
    whole = bytes(mod.CutTrail(kind=1, tag=7) / b"abcd")
    cut = pktspec.decode(whole[:8], first=mod.CutTrail)
    assert cut.layers[0].crc is None and cut.layers[0].payload_missing == 1
    rebuilt = pktspec.serialize(cut, compute_checksums=True)
    assert len(rebuilt) == 9 and rebuilt[:8] == whole[:8]


def test_a_sized_part_before_a_cut_trailer_keeps_the_layer(tmp_path):
    """`body: bytes[n]` then a trailer: a frame whose header is whole but whose trailer is
    cut keeps the layer (the sized part was checked against the end less the trailer)."""
    mod = load_text(tmp_path, """
layer SizedTrail : other {
    n: u8 = len(body);
    body: bytes[n];
    trailer { crc: u16 = crc16_modbus(header, payload); }
}
""")
    whole = bytes(mod.SizedTrail(body=b"ab"))
    for cut, missing in ((4, 1), (3, 2)):
        layer = pktspec.decode(whole[:cut], first=mod.SizedTrail).layers[0]
        assert (type(layer), layer.body, layer.crc) == (mod.SizedTrail, b"ab", None)
        assert layer.payload_missing == missing
