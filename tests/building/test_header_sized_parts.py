"""A header-length field that also sizes a part (``meta: bytes[hlen * 4 - 4]; header = hlen
* 4;``): the builder measures the part as given, then sets the field (runtime/format_split.py
``_natural``), for new layers and for decoded ones whose part was edited."""

from __future__ import annotations

import pytest

from pktspec import load
from pktspec.errors import BuildError
from pktspec.runtime.packet import decode
from pktspec.runtime.serialize import serialize
from tests.building.conftest import layer

SPEC = """
layer HL5 : other { hlen: u8; x: u8; r: u16; meta: bytes[hlen * 4 - 4]; header = hlen * 4; }
layer HL6 : other {
    version: u2;
    length: u6;
    x: u8;
    r: u16;
    z: u32;
    metadata: bytes[length * 4 - 8];
    header = length * 4;
}
struct Item { a: u8; b: u8; }
layer HL7 : other { hlen: u8; r: u8; items: Item[hlen - 1]; header = hlen * 2; }
"""


@pytest.fixture
def loaded(tmp_path, monkeypatch, restore_registry):
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "hl.layer"
    path.write_text(SPEC)
    load(str(path))


def test_a_new_layer_sets_the_header_length_from_the_part(loaded):
    HL5 = layer("HL5")
    assert serialize(HL5(meta=b"12345678")) == bytes([3, 0, 0, 0]) + b"12345678"
    assert serialize(HL5()) == bytes([1, 0, 0, 0])
    HL7 = layer("HL7")
    assert serialize(HL7(items=[{"a": 1, "b": 2}, {"a": 3}])) == bytes([3, 0, 1, 2, 3, 0])


def test_a_header_length_given_is_kept(loaded):
    HL5 = layer("HL5")
    assert serialize(HL5(hlen=2, meta=b"1234")) == bytes([2, 0, 0, 0]) + b"1234"
    with pytest.raises(BuildError, match="HL5"):
        serialize(HL5(hlen=2, meta=b"12345678"))


def test_an_edited_part_of_a_decoded_layer_gets_a_new_length(loaded):
    HL6 = layer("HL6")
    data = serialize(HL6(x=7, metadata=b"abcd"))
    assert data == bytes([3, 7, 0, 0, 0, 0, 0, 0]) + b"abcd"
    packet = decode(data + b"payload", HL6)
    assert packet.build() == data + b"payload"  # unedited: its own bytes
    packet[HL6].metadata = b"12345678"
    assert packet.build() == bytes([4, 7, 0, 0, 0, 0, 0, 0]) + b"12345678" + b"payload"
    # an edited length is the user's: kept, so with fixing off a stale one stays stale
    packet = decode(data, HL6)
    packet[HL6].metadata = b"12345678"
    with pytest.raises(BuildError, match="HL6"):
        packet.build(fix_lengths=False)
