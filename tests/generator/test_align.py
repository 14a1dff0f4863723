"""`align N` (padding to a multiple of N bytes from the layer's start, radiotap's natural
alignment) and bit fields that share a byte under one condition (802.11's sequence
control): the fast path and FORMAT agree, the builder pads as the decoder expects, and the
checker refuses what cannot be laid out."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pktspec
from tests.generator.conftest import at, load_text, one
from tests.generator.test_features import agree

ALIGNED = """
## A radiotap-like header: a bitmap of the fields present, each aligned to its size.
layer Aligned : other little {
    version: u8;
    present: bits 8 { h, g, f, e, d, c, b, a };
    length: u16 = len(header);
    a8: u64 if present.a align 8;
    b1: u8 if present.b;
    c2: u16 if present.c align 2;
    seq: u12 if present.d;
    frag: u4 if present.d;
    e4: u32 if present.e align 4;
    words: u16[] until item == 0 if present.f;
    f8: u64 if present.g align 8;
    rest: bytes[];
    header = length;
}
"""
VALUES = dict(a8=0x1122334455667788, b1=7, c2=0x3344, seq=100, frag=3, e4=0xDEADBEEF,
              words=[5, 0], f8=9)
SIZES = {"a8": 8, "b1": 1, "c2": 2, "seq": 2, "e4": 4, "words": 4, "f8": 8}
BIT = {"a8": 0, "b1": 1, "c2": 2, "seq": 3, "e4": 4, "words": 5, "f8": 6}


@pytest.fixture(scope="module")
def aligned(tmp_path_factory):
    return load_text(tmp_path_factory.mktemp("aligned"), ALIGNED, "aligned.layer").Aligned


def expected_offsets(present: int) -> dict[str, int]:
    """Where each present field starts, worked out by hand from the rules."""
    out, at_ = {}, 4
    for name in ("a8", "b1", "c2", "seq", "e4", "words", "f8"):
        if not present >> BIT[name] & 1:
            continue
        align = {"a8": 8, "c2": 2, "e4": 4, "f8": 8}.get(name, 1)
        at_ += -at_ % align
        out[name] = at_
        at_ += SIZES[name]
    return out


@pytest.mark.parametrize("present", range(128))
def test_built_fields_sit_at_their_aligned_offsets(aligned, present):
    # only the fields present: one given while `present` leaves it out is a BuildError
    values = {k: v for k, v in VALUES.items() if present >> BIT.get(k, 3) & 1}
    data = bytes(aligned(version=1, present=present, rest=b"xy", **values))
    layer = pktspec.decode(data, first=aligned, strict=True).layers[0]
    agree(layer)
    for name, offset in expected_offsets(present).items():
        if name == "seq":
            assert struct.unpack_from("<H", data, offset)[0] == 100 << 4 | 3
        elif name == "words":
            assert data[offset:offset + 4] == b"\x05\x00\x00\x00"
        else:
            size = SIZES[name]
            assert int.from_bytes(data[offset:offset + size], "little") == VALUES[name], name
        assert getattr(layer, name) == VALUES[name]
    absent = [n for n in BIT if not present >> BIT[n] & 1]
    assert all(getattr(layer, n) is None for n in absent)
    assert (layer.frag is None) == (layer.seq is None)
    assert bytes(layer.rest) == b"xy" and layer.length == len(data)
    layer.b1 = 3 if layer.b1 is not None else None  # an edit rebuilds the tail
    again = pktspec.decode(pktspec.serialize(layer), first=aligned, strict=True).layers[0]
    assert again.raw_fields() == layer.raw_fields()


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=4, max_size=48))
def test_fast_path_equals_format_on_any_bytes(aligned, data):
    p = pktspec.decode(data, first=aligned)
    if p.error is None:
        agree(p.layers[0])


def test_aligned_field_at_a_constant_offset_needs_no_code(tmp_path):
    mod = load_text(tmp_path, """
layer Fixed : other little {
    kind: u8;
    value: u32 align 4;
    tail: u16 align 8;
}
""", "fixed.layer")
    assert [i.offset for i in mod.Fixed.fields_info] == [0, 4, 8]
    data = bytes(mod.Fixed(kind=1, value=2, tail=3))
    assert data == bytes([1, 0, 0, 0, 2, 0, 0, 0, 3, 0])
    assert pktspec.decode(data, first=mod.Fixed, strict=True).layers[0].tail == 3


def test_conditional_bit_fields_decode_together(tmp_path):
    mod = load_text(tmp_path, """
layer SeqCtl : other little {
    type: u8;
    seq: u12 if type != 1;
    frag: u4 if type != 1;
    last: u8;
}
""", "seqctl.layer")
    there = pktspec.decode(bytes([0, 0x43, 0x06, 9]), first=mod.SeqCtl, strict=True).layers[0]
    assert (there.seq, there.frag, there.last) == (100, 3, 9)
    agree(there)
    absent = pktspec.decode(bytes([1, 9]), first=mod.SeqCtl, strict=True).layers[0]
    assert (absent.seq, absent.frag, absent.last) == (None, None, 9)
    agree(absent)
    assert bytes(mod.SeqCtl(type=0, seq=100, frag=3, last=9)) == bytes([0, 0x43, 0x06, 9])
    assert bytes(mod.SeqCtl(type=1, seq=100, frag=3, last=9)) == bytes([1, 9])


def test_bit_fields_in_one_byte_need_one_condition(tmp_path):
    problem = one(tmp_path, """
layer Mixed : other {
    a: u4 if 1 == 1;
    b: u4;
}
""")
    assert "shares a byte" in problem.message and at(problem) == (4, 5)


def test_align_is_for_layers_and_byte_boundaries(tmp_path):
    problem = one(tmp_path, "struct S { a: u8; b: u16 align 2; }\n"
                            "layer L : other { s: S; }\n")
    assert "structs have none" in problem.message
    problem = one(tmp_path, "layer L : other { a: u4; b: u4 align 2; c: u8; }\n")
    assert "bits into a byte" in problem.message
    problem = one(tmp_path, "layer L : other { a: u8 align 0; }\n")
    assert "cannot align" in problem.message


def test_align_after_a_part_of_unknown_size_is_refused(tmp_path):
    problem = one(tmp_path, """
layer L : other {
    label: bytes until "\\0";
    value: u32 align 4;
}
""")
    assert "depends on the size of 'label'" in problem.message
    assert at(problem) == (4, 22)


def test_an_aligned_field_after_an_offset_format_cannot_compute_stops_generation(
        tmp_path, monkeypatch):
    """The checker refuses unsized parts before an aligned one; should one get through, the
    generator must stop rather than write a FORMAT that leaves the padding out."""
    from pktspec.generator.compiler import compile_program
    from pktspec.generator.layout import UnitPlanner
    from tests.generator.conftest import write_layer

    path = write_layer(tmp_path, "layer Padded : other { a: u8; b: u32 align 4; }\n")
    compile_program(path)  # fine as it is
    monkeypatch.setattr(UnitPlanner, "cons_size", lambda self, run: None)  # `a` unsized
    with pytest.raises(AssertionError, match=r"Padded\.b .*'align 4'.*cannot compute"):
        compile_program(path)


def test_align_takes_only_powers_of_two_up_to_64(tmp_path):
    for n in (3, 6, 128, 4096):
        problem = one(tmp_path, f"layer L : other {{ a: u8; b: u32 align {n}; }}\n")
        assert f"cannot align to {n} bytes" in problem.message
        assert "power of two up to 64" in problem.hint
    for n in (1, 2, 4, 8, 16, 32, 64):
        load_text(tmp_path, f"layer L{n} : other {{ a: u8; b: u32 align {n}; }}\n")


STRUCT_ITEMS = """
struct Item { tag: u8; value: u16; }
struct Pair { left: Item; right: Item; flag: u8; }
layer Items : application {
    count: u8;
    items: Item[count];
    ts: u32 align 4;
    pairs: Pair[] until item.flag == 0;
    last: u16 align 8;
}
"""


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4])
def test_a_fixed_size_struct_array_before_an_aligned_field(tmp_path, count):
    mod = load_text(tmp_path, STRUCT_ITEMS)
    items = [{"tag": i, "value": 0x100 + i} for i in range(count)]
    pairs = [{"left": {"tag": 1, "value": 2}, "right": {"tag": 3, "value": 4}, "flag": 0}]
    data = bytes(mod.Items(items=items, ts=0x11223344, pairs=pairs, last=0xBEEF))
    ts_at = -(-(1 + 3 * count) // 4) * 4  # after count and the items, rounded up to 4
    last_at = -(-(ts_at + 4 + 7) // 8) * 8  # a pair takes 7 bytes
    assert data[ts_at:ts_at + 4] == bytes.fromhex("11223344")
    assert len(data) == last_at + 2 and data[last_at:] == b"\xbe\xef"
    layer = pktspec.decode(data, first=mod.Items, strict=True)[mod.Items]
    fast = agree(layer)  # the fast path and FORMAT give the same fields, padding and all
    assert (fast["count"], fast["ts"], fast["last"]) == (count, 0x11223344, 0xBEEF)
    assert [(i.tag, i.value) for i in layer.items] == [(i["tag"], i["value"]) for i in items]
    assert pktspec.serialize(layer, fix_lengths=True) == data
