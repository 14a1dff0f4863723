"""Each language feature, decoded by the generated fast path and by the construct FORMAT,
which must agree on every field."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.runtime.constructs import register_extern
from tests.generator.conftest import load_text, spec_errors


def agree(layer):
    """The fast path's raw fields equal what construct parses from the same header bytes."""
    ref = type(layer).FORMAT.parse(bytes(layer.contents))
    ref = {k: _plain(v) for k, v in ref.items() if not k.startswith("_")}
    fast = {k: _plain(v) for k, v in layer.raw_fields().items()}
    assert fast == ref
    return fast


def _plain(v):
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items() if not k.startswith("_")}
    return v


BITS = """
layer Bits : other {
    a: u3;
    b: u13;
    c: u20;
    d: i4;
    e: u24;
    f: u48;
    g: u16le;
    h: i32le;
    flags: bits 5 { x, y, z };
    pad: u3;
}
"""


def test_bit_fields_of_any_width(tmp_path):
    mod = load_text(tmp_path, BITS, "bits.layer")
    data = bytes.fromhex("abcd" "12345f" "010203" "0a0b0c0d0e0f" "3412" "feffffff" "a8")
    layer = pktspec.decode(data, mod.Bits, strict=True).layers[0]
    assert layer.a == 0b101 and layer.b == 0x0BCD
    assert layer.c == 0x12345 and layer.d == -1
    assert layer.e == 0x010203 and layer.f == 0x0A0B0C0D0E0F
    assert layer.g == 0x1234 and layer.h == -2
    assert int(layer.flags) == 0b10101 and layer.flags.x and not layer.flags.y and layer.flags.z
    assert layer.pad == 0
    agree(layer)


@pytest.fixture(scope="module")
def bits_module(tmp_path_factory):
    """BITS loaded once for all the examples hypothesis draws."""
    return load_text(tmp_path_factory.mktemp("bits"), BITS, "bits.layer")


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=25, max_size=40))
def test_bit_fields_fast_equals_construct_on_any_bytes(bits_module, data):
    agree(pktspec.decode(data, bits_module.Bits, strict=True).layers[0])


VARIABLE = """
## An option with a kind, a length and a value whose type depends on the kind.
struct Opt {
    kind: u8;
    len: u8 if kind > 1;
    value: switch (kind) {
        2 => u16;
        3, 4 => u8;
        default => bytes[];
    } size len - 2 if kind > 1;
}

struct Tagged(width) {
    tag: u8;
    body: bytes[width];
}

layer Var : other little {
    count: u8;
    n: u16be;
    items: u16[count];
    blob: bytes[n];
    tagged: Tagged(2)[2];
    opts: Opt[] size 6;
    stop: u8[] until item == 0;
    maybe: u32 if count > 1;
    let total = count + n;
    rest: bytes[];
}
"""


def test_arrays_structs_switches_and_conditions(tmp_path):
    mod = load_text(tmp_path, VARIABLE, "var.layer")
    data = (bytes([2]) + struct.pack(">H", 3) + struct.pack("<HH", 7, 8) + b"abc"
            + b"\x01xy\x02zw" + bytes([2, 4, 0x05, 0xDC, 1, 0]) + bytes([9, 8, 0])
            + struct.pack("<I", 99) + b"tail")
    layer = pktspec.decode(data, mod.Var, strict=True).layers[0]
    assert layer.count == 2 and layer.n == 3
    assert list(layer.items) == [7, 8]
    assert bytes(layer.blob) == b"abc"
    assert [(t.tag, t.body) for t in layer.tagged] == [(1, b"xy"), (2, b"zw")]
    assert [(o.kind, o.value) for o in layer.opts] == [(2, 1500), (1, None), (0, None)]
    assert list(layer.stop) == [9, 8, 0]
    assert layer.maybe == 99 and layer.total == 5
    assert bytes(layer.rest) == b"tail"
    agree(layer)


def test_conditional_field_absent(tmp_path):
    mod = load_text(tmp_path, "layer C : other {\n  flag: u8;\n  x: u16 if flag == 1;\n"
                              "  y: u8;\n}\n")
    a = pktspec.decode(b"\x01\x00\x05\x07", mod.C, strict=True).layers[0]
    b = pktspec.decode(b"\x00\x07", mod.C, strict=True).layers[0]
    assert (a.x, a.y) == (5, 7) and (b.x, b.y) == (None, 7)
    agree(a)
    agree(b)


def test_checks_and_requires_fail_with_field_and_offset(tmp_path):
    mod = load_text(tmp_path, 'layer K : other {\n  magic: u16 == 0xcafe;\n  n: u8;\n'
                              '  requires n < 10 : "n too big";\n}\n')
    assert pktspec.decode(b"\xca\xfe\x03", mod.K).error is None
    bad = pktspec.decode(b"\xca\xfd\x03", mod.K)
    assert bad.error.layer == "K" and bad.error.field_path == "magic"
    assert bad.error.offset == 0 and "expected 51966, got 51965" in bad.error.message
    too_big = pktspec.decode(b"\xca\xfe\x30", mod.K)
    assert too_big.error.message == "n too big"


def test_truncation_names_the_field(tmp_path):
    mod = load_text(tmp_path, "layer T : other {\n  a: u16;\n  b: u32;\n  c: u8;\n}\n")
    p = pktspec.decode(b"\x00\x01\x00\x00", mod.T)
    assert p.layers[0].name == "DecodeFailure"
    assert p.error.layer == "T" and p.error.field_path == "b" and p.error.offset == 2
    assert p.error.truncated


def test_extern_field_type(tmp_path):
    def parse(stream, context):
        n = stream.read(1)[0]
        return stream.read(n).decode("ascii")

    def build(value, context):
        return bytes([len(value)]) + value.encode("ascii")

    register_extern("pascal_string", parse, build)
    mod = load_text(tmp_path, "extern pascal_string;\nlayer E : other {\n"
                              "  label: pascal_string;\n  after: u8;\n}\n")
    layer = pktspec.decode(b"\x03abc\x2a", mod.E, strict=True).layers[0]
    assert layer.label == "abc" and layer.after == 42
    assert layer.raw_fields()["label"] == "abc"
    agree(layer)


def test_next_fixed_by_field_by_payload_byte_and_heuristic(tmp_path):
    mod = load_text(tmp_path, """
enum Kind : u8 { A = 1 -> Alpha, B = 2 -> Beta }
layer Outer : link {
    kind: Kind;
    header = 1;
    next by kind;
}
layer Alpha : network {
    v: u8;
    next Beta;
}
layer Beta : network {
    header = 0;
    next by payload[0] >> 4 in Kind;
}
layer Gamma : transport { g: u8; }
extend Kind { heuristic -> Gamma if data[0] == 0x77 and len(data) == 2 }
""")
    p = pktspec.decode(b"\x01\x09\x10", mod.Outer, strict=True)
    assert [x.name for x in p.layers] == ["Outer", "Alpha", "Beta", "Alpha", "Beta"]
    p = pktspec.decode(b"\x05\x77\x01", mod.Outer, strict=True)
    assert [x.name for x in p.layers] == ["Outer", "Gamma", "Payload"]


def test_little_endian_file_default(tmp_path):
    mod = load_text(tmp_path, "endian little;\nlayer L : other {\n  a: u16;\n  b: u32be;\n}\n")
    layer = pktspec.decode(b"\x01\x02\x00\x00\x00\x03", mod.L, strict=True).layers[0]
    assert (layer.a, layer.b) == (0x0201, 3)
    agree(layer)


def test_enum_values_are_open(tmp_path):
    mod = load_text(tmp_path, "enum Color : u8 { Red = 1, Blue = 2 }\n"
                              "layer P : other { c: Color; }\n")
    known = pktspec.decode(b"\x02", mod.P).layers[0]
    unknown = pktspec.decode(b"\x09", mod.P).layers[0]
    assert known.c == mod.Color.Blue and str(known.fields()["c"]) == "Blue (2)"
    assert unknown.c == 9 and unknown.fields()["c"] == 9


@pytest.mark.parametrize("data", [b"", b"\x02", b"\x02\x00", b"\xff" * 3])
def test_bad_bytes_never_raise(tmp_path, data):
    mod = load_text(tmp_path, VARIABLE, "var.layer")
    p = pktspec.decode(data, mod.Var)
    assert p.error is not None


def test_guard_refuses_a_binding_and_the_parent_looks_further(tmp_path):
    mod = load_text(tmp_path, """
enum Proto : u8 { }
layer Carrier : link {
    proto: Proto;
    next by proto;
}
## Only bytes that start with 0x42 are Magic, whatever the binding says.
layer Magic : application {
    guard len(data) >= 2 and data[0] == 0x42;
    tag: u8;
    value: u8;
}
layer Fallback : application { x: u8; }
extend Proto { 7 -> Magic }
extend Proto { heuristic -> Fallback if data[0] == 0x99 }
""", "guarded.layer")
    ok = pktspec.decode(b"\x07\x42\x01", mod.Carrier, strict=True)
    assert [x.name for x in ok.layers] == ["Carrier", "Magic"] and ok.layers[1].value == 1
    refused = pktspec.decode(b"\x07\x41\x01", mod.Carrier, strict=True)
    assert [x.name for x in refused.layers] == ["Carrier", "Payload"]
    heuristic = pktspec.decode(b"\x07\x99", mod.Carrier, strict=True)
    assert [x.name for x in heuristic.layers] == ["Carrier", "Fallback"]
    short = pktspec.decode(b"\x07\x42", mod.Carrier, strict=True)  # too short for the guard
    assert [x.name for x in short.layers] == ["Carrier", "Payload"]
    assert pktspec.decode(b"\x07", mod.Carrier, strict=True).layers[-1].name == "Carrier"


def test_lazily_decoded_tail_keeps_parts_already_set(tmp_path):
    mod = load_text(tmp_path, """
layer Tail : other {
    n: u8;
    header = remaining;
    first: u8[n];
    second: u8[n];
}
""", "tail.layer")
    layer = pktspec.decode(b"\x02\x01\x02\x03\x04", mod.Tail, strict=True).layers[0]
    layer.second = [9, 9]              # set before anything of the tail was read
    assert list(layer.first) == [1, 2]
    assert list(layer.second) == [9, 9]


def test_bytes_until_a_delimiter(tmp_path):
    mod = load_text(tmp_path, 'layer Line : other {\n  text: bytes until "\\r\\n";\n'
                              '  rest: bytes[];\n}\n', "line.layer")
    layer = pktspec.decode(b"HELO x\r\nmore", mod.Line, strict=True).layers[0]
    assert bytes(layer.text) == b"HELO x" and bytes(layer.rest) == b"more"
    agree(layer)
    assert mod.Line.FORMAT.build({"text": b"QUIT", "rest": b""}) == b"QUIT\r\n"
    cut = pktspec.decode(b"HELO x\r", mod.Line)
    assert cut.error.truncated and cut.error.field_path == "text" and cut.error.offset == 0
    view = pktspec.decode(memoryview(b"A\r\nB"), mod.Line, copy=False, strict=True)
    assert bytes(view.layers[0].text) == b"A"


def test_optional_checksum(tmp_path):
    mod = load_text(tmp_path, "layer Opt : other {\n  a: u16;\n"
                              "  sum: u16 = inet_checksum(header) optional;\n}\n", "optsum.layer")
    assert mod.Opt.OPTIONAL_CHECKSUMS == ("sum",)
    assert pktspec.decode(b"\x12\x34\x00\x00", mod.Opt).verify_checksums() == []  # 0: none
    assert pktspec.decode(b"\x12\x34\x00\x01", mod.Opt).verify_checksums()
    built = pktspec.serialize(mod.Opt(a=0xFFFF))  # the sum over ffff 0000 is 0 ...
    assert built == b"\xff\xff\xff\xff"           # ... sent as all ones
    errors = spec_errors(tmp_path, "layer Bad : other {\n  a: u8 optional;\n}\n")
    assert "'optional' applies to checksum fields" in errors[0].message
