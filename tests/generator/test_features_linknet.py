"""Language features added for the link and network protocols: ``next by ... unless C -> L``
(a fallback layer, e.g. non-first fragments or 802.3 length frames) and ``remaining`` in a
``payload = ...`` boundary (all the bytes after the header)."""

from __future__ import annotations

import pktspec
from tests.generator.conftest import load_text, spec_errors

FALLBACK = """
enum Kind : u8 { }

## What follows when the header says "not the usual".
layer Other : other {
    header = 0;
}

## Two bytes: a kind and a flag; dispatch by kind unless the flag is set.
layer Head : other {
    kind: Kind;
    special: u8;
    payload = special == 2 ? 1 : remaining;
    next by kind unless special != 0 -> Other;
}

## Bound to kind 7.
layer Seven : other {
    value: u8;
}

extend Kind { 7 -> Seven }
"""


def test_unless_goes_to_the_fallback_layer(tmp_path):
    mod = load_text(tmp_path, FALLBACK, "fallback.layer")
    usual = pktspec.decode(bytes([7, 0, 0x55, 0x66]), mod.Head, strict=True)
    assert [layer.name for layer in usual.layers] == ["Head", "Seven", "Payload"]
    assert usual.layers[1].value == 0x55
    other = pktspec.decode(bytes([7, 1, 0x55, 0x66]), mod.Head, strict=True)
    assert [layer.name for layer in other.layers] == ["Head", "Other", "Payload"]
    assert bytes(other.layers[1].payload) == b"\x55\x66"


def test_remaining_is_all_bytes_after_the_header(tmp_path):
    mod = load_text(tmp_path, FALLBACK, "fallback.layer")
    head = pktspec.decode(bytes([9, 1, 1, 2, 3]), mod.Head, strict=True).layers[0]
    assert bytes(head.payload) == b"\x01\x02\x03" and bytes(head.trailer) == b""
    cut = pktspec.decode(bytes([9, 2, 1, 2, 3]), mod.Head, strict=True).layers[0]
    assert bytes(cut.payload) == b"\x01" and bytes(cut.trailer) == b"\x02\x03"


def test_unless_fallback_must_be_a_layer(tmp_path):
    problems = spec_errors(tmp_path, """
enum Kind : u8 { }
layer Head : other {
    kind: Kind;
    next by kind unless kind == 0 -> Hed;
}
""")
    assert any("unknown layer 'Hed'" in p.message for p in problems)
    assert any("did you mean 'Head'" in (p.hint or "") for p in problems)


def test_remaining_only_in_boundaries(tmp_path):
    # header = ... may say remaining too (tests/generator/test_features_transport_app.py)
    problems = spec_errors(tmp_path, """
layer Head : other {
    kind: u8;
    rest: bytes[remaining];
}
""")
    assert any("'remaining'" in p.message for p in problems)


COND_FIRST = """
## A conditional variable part right after the fixed fields (PPPoE's discovery tags).
layer Tagged : other {
    code: u8;
    length: u8;
    tags: bytes[length] if code != 0;
    payload = code == 0 ? length : 0;
}
"""


def test_conditional_variable_part_first(tmp_path):
    mod = load_text(tmp_path, COND_FIRST, "condfirst.layer")
    with_tags = pktspec.decode(bytes([1, 2, 0xAA, 0xBB]), mod.Tagged, strict=True).layers[0]
    assert bytes(with_tags.tags) == b"\xaa\xbb" and with_tags.length == 2
    without = pktspec.decode(bytes([0, 2, 0xAA, 0xBB]), mod.Tagged, strict=True).layers[0]
    assert without.tags is None and bytes(without.payload) == b"\xaa\xbb"
