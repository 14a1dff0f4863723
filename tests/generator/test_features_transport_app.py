"""Language features added for the transport and application protocols: ``len(payload)`` in a
``next by`` rule (TCP and UDP hand an empty payload to no one, so a SYN to port 53 is not a
broken DNS message)."""

from __future__ import annotations

import pytest

import pktspec
from pktspec.errors import DecodeError
from tests.generator.conftest import load_text


def agree(layer):
    """The fast path's raw fields equal what construct parses from the same header bytes."""
    ref = type(layer).FORMAT.parse(bytes(layer.contents))
    ref = {k: v for k, v in ref.items() if not k.startswith("_")}
    assert layer.raw_fields() == ref

EMPTY = """
enum LenPort : u8 { }

## A one-byte header that names what follows, unless nothing follows.
layer LenHead : other {
    port: LenPort;
    next by port unless len(payload) == 0;
}

## Bound to port 7.
layer LenSeven : other {
    value: u8;
}

extend LenPort { 7 -> LenSeven }
"""


def test_len_payload_in_next_by(tmp_path):
    mod = load_text(tmp_path, EMPTY, "emptypayload.layer")
    full = pktspec.decode(bytes([7, 0x55]), mod.LenHead, strict=True)
    assert [layer.name for layer in full.layers] == ["LenHead", "LenSeven"]
    empty = pktspec.decode(bytes([7]), mod.LenHead, strict=True)
    assert [layer.name for layer in empty.layers] == ["LenHead"]
    assert empty.error is None


RECORDS = """
enum RecKind : u8 { Data = 1 -> Rec }

## A record: kind, length and that many bytes, cut short when the bytes run out; the next
## record follows.
layer Rec : other {
    kind: RecKind;
    length: u8;
    header = min(2 + length, remaining);
    body: bytes[];
    payload = remaining;
    next by payload[0] in RecKind;
}
"""


def test_remaining_in_a_header_is_what_the_layer_was_given(tmp_path):
    mod = load_text(tmp_path, RECORDS, "records.layer")
    whole = pktspec.decode(bytes([1, 2, 0xAA, 0xBB, 1, 1, 0xCC]), mod.Rec, strict=True)
    assert [bytes(layer.body) for layer in whole.layers] == [b"\xaa\xbb", b"\xcc"]
    cut = pktspec.decode(bytes([1, 2, 0xAA, 0xBB, 1, 9, 0xCC]), mod.Rec, strict=True)
    assert [bytes(layer.body) for layer in cut.layers] == [b"\xaa\xbb", b"\xcc"]
    assert cut.error is None and cut.layers[-1].length == 9


EXTERN = """
extern back_ref;

## A one-byte field read through construct while the layer decodes, and a reference
## that looks back at it from outside its own bytes.
struct Item {
    ref: back_ref;
}

## Two bytes, then an item whose value is found through the layer's buffer.
layer Ref : other {
    magic: u16;
    count: u8;
    refs: Item[count];
}

## One byte in front, so that Ref does not start at the packet's first byte.
layer RefPrefix : other {
    pad: u8;
    next Ref;
}
"""


def test_extern_sees_the_layer_buffer_while_decoding(tmp_path):
    from pktspec.runtime.constructs import register_extern

    def parse(stream, context):
        # the byte the field holds is an offset from the layer's start
        ctx = context
        while ctx.get("_") is not None:
            ctx = ctx._
        layer = ctx.get("_layer")
        where = stream.read(1)[0]
        if layer is not None:
            return layer._buf[layer._off + where]
        root = stream
        while getattr(root, "parent_stream", None) is not None:
            root = root.parent_stream
        return root.getvalue()[where]

    register_extern("back_ref", parse, lambda value, context: bytes([value]))
    mod = load_text(tmp_path, EXTERN, "backref.layer")
    data = bytes([0x12, 0x34, 2, 0, 1])
    layer = pktspec.decode(b"\xee" + data, mod.RefPrefix, strict=True).layers[1]
    assert [item.ref for item in layer.refs] == [0x12, 0x34]
    assert mod.Ref.FORMAT.parse(data).refs[1].ref == 0x34


COND24 = """
## A kind byte, and a 24-bit length only when the kind is 22.
layer Cond24 : other {
    kind: u8;
    length: u24 if kind == 22;
    rest: bytes[];
}
"""


def test_conditional_odd_width_field_absent_is_none(tmp_path):
    mod = load_text(tmp_path, COND24, "cond24.layer")
    there = pktspec.decode(bytes([22, 0, 1, 2, 9]), mod.Cond24, strict=True).layers[0]
    assert there.length == 0x102 and bytes(there.rest) == b"\x09"
    absent = pktspec.decode(bytes([23, 0, 1, 2, 9]), mod.Cond24, strict=True).layers[0]
    assert absent.length is None and bytes(absent.rest) == bytes([0, 1, 2, 9])
    assert absent.raw_fields() == {k: v for k, v in mod.Cond24.FORMAT.parse(
        bytes([23, 0, 1, 2, 9])).items() if not k.startswith("_")}


TAIL = """
## Two counts, then two arrays by count that fill the rest: decoded when first read.
layer Tail : other {
    header = remaining;
    na: u8;
    nb: u8;
    a: u16[na];
    b: u8[nb];
}
"""


def test_variable_tail_decodes_when_first_read(tmp_path):
    mod = load_text(tmp_path, TAIL, "tail.layer")
    layer = pktspec.decode(bytes([2, 1, 0, 1, 0, 2, 9]), mod.Tail, strict=True).layers[0]
    assert layer._a is ... and layer._b is ...  # nothing parsed by decode
    assert layer.b == [9] and layer.a == [1, 2]
    agree(layer)
    # a part that does not decode fails its reads and those after it, not those before
    cut = pktspec.decode(bytes([2, 3, 0, 1, 0, 2, 9]), mod.Tail, strict=True).layers[0]
    assert cut.a == [1, 2]
    with pytest.raises(DecodeError):
        cut.b  # noqa: B018
    with pytest.raises(Exception):  # noqa: B017 - construct's own error type
        mod.Tail.FORMAT.parse(bytes([2, 3, 0, 1, 0, 2, 9]))
    # a part the fast path needs (a scalar after the arrays) keeps them eager
    eager = load_text(tmp_path, TAIL.replace("Tail", "Eager").replace(
        "    b: u8[nb];\n", "    b: u8[nb];\n    last: u8;\n"), "eager.layer")
    layer = pktspec.decode(bytes([1, 1, 0, 1, 2, 3]), eager.Eager, strict=True).layers[0]
    assert layer._a == [1] and layer.last == 3
