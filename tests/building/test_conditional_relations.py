"""A relation on a conditional field (``n: u32 = len(items) if flag == 1;``): where the
condition is false, what it counts is absent too, and rebuilding a decoded layer with
fix_lengths=True leaves the field out rather than failing (found by the USB layer's author,
session 6)."""

from __future__ import annotations

import pktspec
from tests.generator.conftest import load_text

TEXT = """
struct Item { a: u8; }
layer CondCount : other {
    flag: u8;
    n: u32 = len(items) if flag == 1;
    items: Item[n] if flag == 1;
}
"""


def test_a_decoded_layer_without_the_counted_part_builds_again(tmp_path, restore_registry):
    cls = load_text(tmp_path, TEXT, "cond_count.layer").CondCount
    for data in (b"\x00", b"\x01\x00\x00\x00\x02\x07\x08", b"\x01\x00\x00\x00\x00"):
        layer = pktspec.decode(data, first=cls).layers[0]
        assert pktspec.serialize(layer, fix_lengths=True) == data
    assert pktspec.serialize(cls(flag=1, items=[{"a": 9}])) == b"\x01\x00\x00\x00\x01\x09"
    assert pktspec.serialize(cls(flag=0)) == b"\x00"
