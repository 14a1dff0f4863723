"""A part whose size a computed field gives (``n: u16 = len(d); d: bytes[n]``) is empty in
a new layer until given, so the builder writes n = 0 rather than failing to take the length
of nothing (a helper adding EAPOL-Key's key data found it)."""

from __future__ import annotations

import pytest

import pktspec
from pktspec.errors import BuildError
from tests.generator.conftest import load_text

SPEC = """
layer Sized : application {
    n: u16 = len(d);
    d: bytes[n];
    m: u8 = len(items);
    items: u16[m];
    k: u8;
    fixed_by_k: bytes[k * 2];
}
"""


@pytest.fixture(scope="module")
def cls(tmp_path_factory):
    return load_text(tmp_path_factory.mktemp("sized"), SPEC).Sized


def test_parts_sized_by_computed_fields_start_empty(cls):
    assert bytes(cls()) == bytes([0, 0, 0, 0])
    assert bytes(cls(d=b"ab", items=[7])) == bytes([0, 2]) + b"ab" + bytes([1, 0, 7, 0])
    layer = pktspec.decode(bytes(cls(d=b"xyz", k=1, fixed_by_k=b"qq")), first=cls).layers[0]
    assert (layer.n, layer.d, layer.k, layer.fixed_by_k) == (3, b"xyz", 1, b"qq")


def test_a_part_sized_by_a_plain_field_must_still_be_given(cls):
    with pytest.raises(BuildError, match="fixed_by_k"):
        bytes(cls(k=2))  # k says 4 bytes: which, only the caller knows
