"""A `requires` or `let` between bit fields that share a byte is checked once that byte is
read: it used to split the byte in two (the first half read as a zero-byte chunk), so the
layer failed its own check and the builder raised OverflowError (a helper adding GTP-U
found it)."""

from __future__ import annotations

import pytest

import pktspec
from tests.generator.conftest import load_text
from tests.protocols.test_fast_vs_construct import agree

SPEC = """
layer Nibbles : other {
    a: u4;
    requires a == 1 : "a must be 1";
    let twice = a * 2;
    b: u12;
    c: u8;
}
"""


@pytest.fixture(scope="module")
def cls(tmp_path_factory):
    return load_text(tmp_path_factory.mktemp("nibbles"), SPEC).Nibbles


def test_the_fields_of_the_byte_are_read_together_and_then_checked(cls):
    layer = pktspec.decode(bytes([0x10, 0x05, 0x07]), first=cls, strict=True).layers[0]
    assert (layer.a, layer.b, layer.c, layer.twice) == (1, 5, 7, 2)
    agree(layer)
    bad = pktspec.decode(bytes([0x20, 0x05, 0x07]), first=cls)
    assert bad.error is not None and bad.error.message == "a must be 1"


def test_the_builder_writes_the_shared_byte(cls):
    assert bytes(cls(a=1, b=0xABC, c=9)) == bytes([0x1A, 0xBC, 9])
