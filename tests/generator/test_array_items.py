"""The items of an array in a layer read as they do in a struct (construct is their only
decoder either way): addresses as text, enum values with their names. They read as raw
bytes and bare ints, and a list of address text could not be built (VRRP's addresses)."""

from __future__ import annotations

import pytest

import pktspec
from tests.generator.conftest import load_text
from tests.protocols.test_fast_vs_construct import agree

SPEC = """
enum ItemColor : u8 { Red = 1, Green = 2 }
layer Arrays : other {
    n: u8 = len(hosts);
    hosts: ipv4addr[n];
    colors: ItemColor[];
}
"""


@pytest.fixture(scope="module")
def cls(tmp_path_factory):
    return load_text(tmp_path_factory.mktemp("arrays"), SPEC).Arrays


def test_addresses_read_as_text_and_enums_with_names(cls):
    data = bytes(cls(hosts=["192.0.2.1", "198.51.100.7"], colors=[1, "Green", 9]))
    assert data == bytes([2, 192, 0, 2, 1, 198, 51, 100, 7, 1, 2, 9])
    layer = pktspec.decode(data, first=cls, strict=True).layers[0]
    assert list(layer.hosts) == ["192.0.2.1", "198.51.100.7"]
    assert [str(c) for c in layer.colors] == ["Red (1)", "Green (2)", "9"]
    assert list(layer.colors) == [1, 2, 9]  # still ints
    agree(layer)
    assert pktspec.serialize(layer) == data


FLAGS = """
struct FlagItem {
    flags: bits 8 { urgent, quiet, r5, r4, r3, r2, r1, r0 };
    mode: bits 4 { hot, cold, r1, r0 };
    level: u4;
}
layer FlagHolder : other { items: FlagItem[]; }
"""


def test_flag_fields_of_a_struct_read_by_name(tmp_path):
    """A struct's flag fields, byte-wide and in a bit chunk, read as FlagSets (by name, as a
    layer's do; still the ints) and build from names."""
    cls = load_text(tmp_path, FLAGS).FlagHolder
    data = bytes(cls(items=[{"flags": "urgent", "mode": 4, "level": 3},
                            {"flags": 0x40, "mode": "hot", "level": 1}]))
    assert data == bytes([0x80, 0x43, 0x40, 0x81])
    items = pktspec.decode(data, first=cls, strict=True).layers[0].items
    assert (items[0].flags.urgent, items[0].flags.quiet, items[1].flags.quiet) == \
        (True, False, True)
    assert [int(i.flags) for i in items] == [0x80, 0x40]
    assert (items[0].mode.hot, items[1].mode.hot, int(items[0].mode)) == (False, True, 4)
    assert "URGENT" in str(items[0].flags)  # shown by name, as a layer's flags
