"""A `let` over a conditional field is None when that field is absent (it made the layer a
DecodeFailure with a TypeError), in the fast path and FORMAT alike; a struct's `requires`
message reaches the error that a malformed item of a list reports (it read "check failed
during parsing"). Both found by helpers adding protocols."""

from __future__ import annotations

import pytest

import pktspec
from tests.generator.conftest import load_text
from tests.protocols.test_fast_vs_construct import agree

SPEC = """
struct Item {
    kind: u8;
    requires kind != 0 : "kind 0 is reserved";
    v: u8;
}
layer Lets : other {
    n: u8;
    half: u8 if n > 3;
    let plus_one = half + 1;
    let twice = plus_one * 2;
    let plain = n * 2;
    items: Item[];
}
"""


@pytest.fixture(scope="module")
def cls(tmp_path_factory):
    return load_text(tmp_path_factory.mktemp("lets"), SPEC).Lets


def test_a_let_over_an_absent_field_is_absent(cls):
    layer = pktspec.decode(bytes([1, 1, 5]), first=cls, strict=True).layers[0]
    assert (layer.half, layer.plus_one, layer.twice, layer.plain) == (None, None, None, 2)
    agree(layer)
    layer = pktspec.decode(bytes([5, 9, 1, 5]), first=cls, strict=True).layers[0]
    assert (layer.half, layer.plus_one, layer.twice, layer.plain) == (9, 10, 20, 10)
    agree(layer)


def test_a_struct_requires_message_names_the_malformed_item(cls):
    layer = pktspec.decode(bytes([1, 1, 5, 0, 7]), first=cls).layers[0]
    items = layer.items
    assert [item.kind for item in items] == [1]
    assert items.malformed.endswith("kind 0 is reserved")
