"""What a user review of writing custom protocols asked for: CRC variants and checksums
registered from Python, ``len(header)`` where the header's end is known and ``sizeof(x)``,
and fields after the payload (trailers). Each is decoded by the fast path and by the
construct formats, which must agree, built and decoded back, and refused when misused."""

from __future__ import annotations

import functools
import operator

import pytest

import pktspec
from pktspec.errors import BuildError, SpecError
from pktspec.generator import check_file, compile_program
from pktspec.runtime import constructs
from pktspec.runtime.constructs import register_checksum
from pktspec.runtime.serialize import verify_checksums
from tests.generator.conftest import load_text, one, spec_errors, write_layer


def agree(layer):
    """The fast path's raw fields equal what construct parses: FORMAT over the header and,
    for a layer with a trailer, TRAILER over the bytes after the payload."""
    cls = type(layer)
    ref = dict(cls.FORMAT.parse(bytes(layer.contents)))
    trailer = getattr(cls, "TRAILER", None)
    if trailer is not None:
        ref.update(trailer.parse(bytes(layer.trailer)))
    ref = {k: v for k, v in ref.items() if not k.startswith("_")}
    fast = layer.raw_fields()
    assert fast == ref
    return fast


@pytest.fixture
def user_checksums():
    """Checksum functions a test registers are forgotten after it."""
    before = dict(constructs._CHECKSUMS)
    yield register_checksum
    constructs._CHECKSUMS.clear()
    constructs._CHECKSUMS.update(before)


# ---- 3. CRC variants and checksums registered from Python ----------------------------------

CHECK_VALUES = {  # CRC RevEng catalogue: the CRC of the nine bytes "123456789"
    "crc16_ccitt": 0x29B1, "crc16_xmodem": 0x31C3, "crc16_kermit": 0x2189,
    "crc16_x25": 0x906E, "crc16_modbus": 0x4B37, "crc16_arc": 0xBB3D,
    "crc8": 0xF4, "crc8_maxim": 0xA1, "crc32": 0xCBF43926,
}


@pytest.mark.parametrize("name", sorted(CHECK_VALUES))
def test_each_crc_gives_its_catalogue_check_value(name):
    assert constructs.checksum(name)(b"123456789") == CHECK_VALUES[name]
    # parts are concatenated, None parts skipped
    assert constructs.checksum(name)(b"1234", None, memoryview(b"56789")) == CHECK_VALUES[name]


def test_every_builtin_checksum_has_its_width_in_one_table():
    assert constructs.BUILTIN_CHECKSUM_BITS["crc8"] == 8
    assert constructs.BUILTIN_CHECKSUM_BITS["crc16_modbus"] == 16
    assert constructs.BUILTIN_CHECKSUM_BITS["inet_checksum"] == 16
    for name, bits in constructs.BUILTIN_CHECKSUM_BITS.items():
        assert constructs.checksum(name)(b"\xff" * 33) < 1 << bits


CRCS = """
extern checksum xor8 : u8;

layer Crcs : other {
    kind: u8;
    modbus: u16le = crc16_modbus(payload);
    ccitt: u16 = crc16_ccitt(payload);
    small: u8 = crc8(payload);
    mine: u8 = xor8(payload) optional;
}
"""


def _xor8(data: bytes) -> int:
    return functools.reduce(operator.xor, data, 0)


def test_crc_fields_build_decode_and_verify(tmp_path, user_checksums):
    user_checksums("xor8", _xor8, bits=8)
    Crcs = load_text(tmp_path, CRCS, "crcs.layer").Crcs
    data = bytes(Crcs(kind=7) / b"123456789")
    # Modbus RTU's CRC goes low byte first: u16le
    assert data[:7] == bytes([7, 0x37, 0x4B, 0x29, 0xB1, 0xF4, _xor8(b"123456789")])
    packet = pktspec.decode(data, first=Crcs, strict=True)
    layer = packet.layers[0]
    assert (layer.modbus, layer.ccitt, layer.small) == (0x4B37, 0x29B1, 0xF4)
    agree(layer)
    assert verify_checksums(packet) == []
    bad = bytearray(data)
    bad[-1] ^= 1
    found = {b.field for b in verify_checksums(pktspec.decode(bytes(bad), first=Crcs))}
    assert found == {"modbus", "ccitt", "small", "mine"}


def test_a_checksum_nobody_registered_is_a_build_error(tmp_path):
    Crcs = load_text(tmp_path, CRCS, "crcs.layer").Crcs  # loading needs no registration
    with pytest.raises(BuildError, match="'xor8' is not registered.*register_checksum"):
        bytes(Crcs() / b"x")


def test_a_registered_checksum_of_another_width_or_too_wide_a_result(tmp_path,
                                                                     user_checksums):
    Crcs = load_text(tmp_path, CRCS, "crcs.layer").Crcs
    user_checksums("xor8", _xor8, bits=16)
    with pytest.raises(BuildError, match="registered with 16 bits.*declares 8"):
        bytes(Crcs() / b"x")
    user_checksums("xor8", lambda data: 256, bits=8)
    with pytest.raises(BuildError, match="returned 256, not a 8-bit"):
        bytes(Crcs() / b"x")


def test_register_checksum_refuses_builtins_and_odd_names(user_checksums):
    with pytest.raises(ValueError, match="built-in"):
        user_checksums("crc32", _xor8, bits=32)
    for name in ("__import__", "a.b", "os.system", ""):
        with pytest.raises(ValueError, match="identifier"):
            user_checksums(name, _xor8, bits=8)
    with pytest.raises(ValueError, match="bits"):
        user_checksums("wide", _xor8, bits=65)


def test_a_hostile_checksum_name_reaches_generated_code_only_as_a_string(tmp_path):
    """The name is validated like every identifier, and the module looks it up in the
    registry by its repr(): nothing the file says is evaluated."""
    problems = spec_errors(tmp_path, "extern checksum __import__ : u8;\n"
                                     "layer H : other { s: u8 = __import__(payload); }\n")
    assert any("reserved" in p.message or "identifier" in p.message for p in problems)
    source = (tmp_path / "ok.layer")
    source.write_text("extern checksum evil : u8;\nlayer H2 : other { s: u8 = evil(payload); }\n")
    checked, modules = compile_program(source)
    text = modules[checked.program.entry.display] if checked.program.entry.display in \
        modules else next(iter(modules.values()))
    assert "_checksum('evil', 8)(c._payload)" in text


@pytest.mark.parametrize("text, message", [
    ("layer X : other { s: u16 = crc16(payload); }", "unknown function 'crc16'"),
    ("extern checksum crc8 : u8;", "'crc8' is a built-in checksum function"),
    ("extern checksum mine : i16;", "a checksum gives an unsigned integer, not 'i16'"),
    ("extern checksum mine : u16;\nlayer X : other { s: mine; }",
     "'mine' is a checksum function, not a field type"),
    ("layer X : other { s: u16; let t = crc8(s); }", "unknown function 'crc8'"),
])
def test_checksum_misuse_is_refused(tmp_path, text, message):
    assert message in one(tmp_path, text).message


@pytest.mark.parametrize("text, message", [
    ("layer X : other { s: u8 = crc16_modbus(payload); }",
     "crc16_modbus() gives 16 bits, but 's' is u8"),
    ("extern checksum mine : u16;\nlayer X : other { s: u8 = mine(payload); }",
     "mine() gives 16 bits, but 's' is u8"),
])
def test_a_checksum_wider_than_its_field(tmp_path, text, message):
    """The checker's width check reads each function's width from Checker.checksums: the
    runtime's table for the built-in ones, the declaration for a user's."""
    with pytest.raises(SpecError) as info:
        check_file(write_layer(tmp_path, text))
    assert message in info.value.problems[0].message


# ---- 1. len(header) where the header's end is known, and sizeof(x) -------------------------

KVRPC = """
## One key/value pair.
struct KV { klen: u8; key: bytes[klen]; vlen: u16; value: bytes[vlen]; }

## A length-framed RPC: the header ends after its items, and the length covers it all.
layer KVRPC : application {
    length: u32 = len(header) + len(payload);
    msg_id: u32;
    count: u16;
    items: KV[count];
    let items_bytes = sizeof(items);
    payload = length - len(header);
}
"""
ITEMS = [{"key": b"ab", "value": b"xyz"}, {"key": b"k", "value": b""}]


@pytest.fixture
def kvrpc(tmp_path):
    return load_text(tmp_path, KVRPC, "kvrpc.layer").KVRPC


def test_len_header_in_payload_is_the_header_length(kvrpc):
    data = bytes(kvrpc(msg_id=7, items=ITEMS) / b"PAYLOAD")
    assert data[:4] == (10 + 12 + 7).to_bytes(4, "big")
    layer = pktspec.decode(data, first=kvrpc, strict=True).layers[0]
    assert len(layer.contents) == 22 and bytes(layer.payload) == b"PAYLOAD"
    assert layer.items_bytes == 12 and layer.count == 2
    assert agree(layer)["items_bytes"] == 12


def test_two_messages_back_to_back_frame_at_the_length(kvrpc):
    """decode(first + second) stops the first at its length: an empty payload, the header
    end after the items, the second message left as trailer; the message framing
    (reassembly.messages) cuts the stream there too."""
    from pktspec.reassembly.messages import message_extent

    first = bytes(kvrpc(msg_id=1, items=ITEMS))
    second = bytes(kvrpc(msg_id=2, items=[]) / b"xy")
    layer = pktspec.decode(first + second, first=kvrpc, strict=True).layers[0]
    assert len(layer.payload) == 0
    assert layer._hend - layer._off == 22 == len(first)
    assert bytes(layer.trailer) == second
    buf = bytearray(first + second)
    assert message_extent(kvrpc, buf, 0) == len(first)
    assert message_extent(kvrpc, buf, len(first)) == len(second)
    assert message_extent(kvrpc, bytearray(first[:-1]), 0) is None  # not all here yet


SIZES = """
struct Pair { a: u8; b: bytes[a]; }
layer Sizes : other {
    kind: u8;
    flag: u8;
    extra: u32 if flag == 1;
    label: bytes until "\\0";
    pair: Pair;
    blob: bytes[kind] if flag != 2;
    let fixed = sizeof(kind) + sizeof(extra);
    let variable = sizeof(label) + sizeof(pair) + sizeof(blob);
    header_len: u8 = len(header);
    total: u16 = sizeof(label) + sizeof(blob) + len(payload);
    header = 5 + (flag == 1 ? 4 : 0) + sizeof(label) + sizeof(pair) + sizeof(blob);
    let after = len(header) - sizeof(pair);
    requires len(header) == header_len : "header_len is not the header's length";
    payload = total - sizeof(label) - sizeof(blob);
    next by len(header) in SizesNext;
}
enum SizesNext : u8 { }
"""


@pytest.mark.parametrize("flag", [0, 1, 2])
def test_sizeof_fields_fixed_conditional_and_variable(tmp_path, flag):
    Sizes = load_text(tmp_path, SIZES, "sizes.layer").Sizes
    values = dict(kind=3, flag=flag, label=b"abc", pair={"b": b"12"})
    if flag == 1:
        values["extra"] = 9
    if flag != 2:
        values["blob"] = b"XYZ"
    data = bytes(Sizes(**values) / b"pay")
    layer = pktspec.decode(data, first=Sizes, strict=True).layers[0]
    blob = 3 if flag != 2 else 0
    extra = 4 if flag == 1 else 0
    assert layer.fixed == 1 + extra
    assert layer.variable == 4 + 3 + blob  # the name's delimiter is part of its bytes
    assert layer.header_len == len(layer.contents) == 5 + extra + 4 + 3 + blob
    assert layer.total == 4 + blob + 3 and bytes(layer.payload) == b"pay"
    assert layer.after == layer.header_len - 3
    assert agree(layer)["variable"] == layer.variable


def test_a_length_solved_from_a_payload_that_reads_sizeof(tmp_path):
    """No `=` on the length: the builder solves `payload = length - 6 - sizeof(items)`."""
    mod = load_text(tmp_path, """
struct Item { n: u8; data: bytes[n]; }
layer Framed : other {
    length: u16;
    count: u8;
    pad: bytes[3];
    items: Item[count];
    payload = length - 6 - sizeof(items);
}
""", "framed.layer")
    data = bytes(mod.Framed(items=[{"data": b"abc"}, {"data": b""}]) / b"PAY")
    assert data[:3] == (6 + 5 + 3).to_bytes(2, "big") + b"\x02"
    layer = pktspec.decode(data + b"trailing", first=mod.Framed, strict=True).layers[0]
    assert bytes(layer.payload) == b"PAY" and bytes(layer.trailer) == b"trailing"
    agree(layer)


def test_sizeof_inside_a_struct(tmp_path):
    mod = load_text(tmp_path, """
struct Rec { n: u8; name: bytes[n]; rest: bytes[8 - sizeof(name)]; }
layer Recs : other { recs: Rec[2]; }
""", "recs.layer")
    data = bytes([2]) + b"ab" + b"123456" + bytes([0]) + b"12345678"
    layer = pktspec.decode(data, first=mod.Recs, strict=True).layers[0]
    assert [bytes(r.rest) for r in layer.recs] == [b"123456", b"12345678"]
    assert bytes(mod.Recs(recs=[{"name": b"ab", "rest": b"123456"},
                                {"name": b"", "rest": b"12345678"}])) == data


@pytest.mark.parametrize("text, message", [
    ("layer X : other { a: u8 if len(header) > 0; header = 1; }",
     "the header's end is not known here"),
    ("layer X : other { a: u8; let n = len(header); header = 1; }",
     "the header's end is not known here"),
    ("layer X : other { a: u4; b: u4; let n = sizeof(a); }", "a is a 4-bit field"),
    ("layer X : other { a: u8; let n = sizeof(a + 1); }", "sizeof() takes the name of a field"),
    ("layer X : other { a: u8; let m = 1; let n = sizeof(m); }",
     "sizeof() takes a field; m is a let"),
    ("layer X : other { let n = sizeof(b); b: u8; }", "'b' is used before it is decoded"),
    ("layer X : other { a: u8; let n = sizeof(nothing); }", "unknown name 'nothing'"),
    ("struct S(w) { a: bytes[sizeof(w)]; }", "sizeof() takes a field; w is a parameter"),
])
def test_len_header_and_sizeof_misuse_is_refused(tmp_path, text, message):
    assert message in one(tmp_path, text).message


# ---- 2. fields after the payload: trailer { ... } -------------------------------------------

TRAILERS = """
## A Modbus RTU frame: the payload is what the CRC leaves.
layer Rtu : application {
    address: u8;
    function: u8;
    trailer {
        crc: u16le = crc16_modbus(header, payload);
    }
}

## A frame whose length covers its trailer: a marker, bit fields and a CRC after the data.
layer Framed2 : application {
    address: u8;
    length: u8 = len(header) + len(payload) + 4;
    payload = length - len(header) - 4;
    ## after the data
    trailer {
        marker: u8 == 0x7e;
        seq: u4;
        more: u4 default 1;
        crc: u16 = crc16_ccitt(header, payload);
    }
}
"""


@pytest.fixture
def trailers(tmp_path):
    return load_text(tmp_path, TRAILERS, "trailers.layer")


def test_a_modbus_rtu_frame_ends_in_its_crc(trailers):
    data = bytes(trailers.Rtu(address=1, function=3) / bytes.fromhex("0000000a"))
    assert data == bytes.fromhex("01030000000ac5cd")  # the spec's own example
    packet = pktspec.decode(data, first=trailers.Rtu, strict=True)
    layer = packet.layers[0]
    assert bytes(layer.payload) == bytes.fromhex("0000000a") and layer.crc == 0xCDC5
    assert layer.fields() == {"address": 1, "function": 3, "crc": 0xCDC5}
    assert agree(layer) == {"address": 1, "function": 3, "crc": 0xCDC5}
    assert verify_checksums(packet) == []
    layer.function = 4  # an edit: the CRC after the payload follows it
    again = pktspec.decode(pktspec.serialize(layer), first=trailers.Rtu, strict=True)
    assert again.layers[0].function == 4 and verify_checksums(again) == []
    bad = bytearray(data)
    bad[3] ^= 0xFF
    assert [b.field for b in verify_checksums(pktspec.decode(bytes(bad),
                                                             first=trailers.Rtu))] == ["crc"]


def test_a_trailer_after_a_sized_payload_keeps_what_follows(trailers):
    Framed2 = trailers.Framed2
    data = bytes(Framed2(address=5, seq=3) / b"hello")
    assert data[:2] == bytes([5, 2 + 5 + 4]) and data[2:7] == b"hello"
    assert data[7:9] == bytes([0x7E, 3 << 4 | 1])
    layer = pktspec.decode(data + b"next", first=Framed2, strict=True).layers[0]
    assert (layer.marker, layer.seq, layer.more) == (0x7E, 3, 1)
    assert bytes(layer.payload) == b"hello" and bytes(layer.trailer) == data[7:] + b"next"
    agree(layer)
    layer.seq = 9
    rebuilt = pktspec.serialize(layer)
    assert rebuilt[7:9] == bytes([0x7E, 9 << 4 | 1]) and rebuilt.endswith(b"next")
    assert verify_checksums(pktspec.decode(rebuilt, first=Framed2)) == []


def test_a_trailer_the_bytes_cannot_hold_is_left_out_and_counted(trailers):
    packet = pktspec.decode(b"\x01", first=trailers.Rtu)
    assert packet.error is not None and packet.error.truncated  # the header does not fit
    packet = pktspec.decode(bytes([5, 11]) + b"hello" + b"\x7e", first=trailers.Framed2)
    layer = packet.layers[0]
    assert packet.error is None and (layer.marker, layer.crc) == (None, None)
    assert (bytes(layer.payload), layer.payload_missing, packet.truncated) == (b"hello", 3, True)
    packet = pktspec.decode(bytes([5, 11]) + b"hello" + b"\x00\x00\x00\x00",
                            first=trailers.Framed2)
    assert packet.error is not None and packet.error.field_path.endswith("marker")


@pytest.mark.parametrize("text, message", [
    ("layer X : other { a: u8; trailer { b: bytes[a]; } }",
     "trailer field 'b' must have a fixed size"),
    ("layer X : other { a: u8; trailer { c: u4 if a > 1; d: u4; } }",
     "trailer field 'c' has an 'if' but shares a byte"),
    ("layer X : other { a: u8; trailer { b: u8; c: u8 if b > 1; } }",
     "'b' is a trailer field, read after the payload"),
    ("layer X : other { a: u8; rest: bytes[]; trailer { c: u8 if a > 1; } }",
     "trailer field 'c' has an 'if', but 'rest' runs to the layer's end"),
    ("layer X : other { a: u8; trailer { c: u4; } }",
     "the trailer's fields end 4 bits into a byte"),
    ("layer X : other { a: u8; trailer { a: u8; } }", "field 'a' is declared twice"),
    ("layer X : other { a: u8; trailer { b: u8; } trailer { c: u8; } }",
     "a layer has at most one 'trailer"),
    ("struct S { a: u8; trailer { b: u8; } }", "a layer has at most one 'trailer"),
    ("layer X : other { a: u8; footer { b: u8; } }", "unknown block 'footer'"),
    ("layer X : other { trailer { crc: u8; } let n = crc; }",
         "'crc' is a trailer field, read after the payload"),
])
def test_trailer_misuse_is_refused(tmp_path, text, message):
    assert message in one(tmp_path, text).message


def test_a_struct_field_may_still_be_called_trailer(tmp_path):
    mod = load_text(tmp_path, "struct T { trailer: u8; }\nlayer HasT : other { t: T; }\n",
                    "hast.layer")
    assert pktspec.decode(b"\x05", first=mod.HasT, strict=True).layers[0].t.trailer == 5


# ---- 5. the golden showcase uses them all --------------------------------------------------


@pytest.mark.parametrize("words", [[1], [1, 2, 3]])
def test_the_showcase_frame_builds_and_decodes(user_checksums, words):
    from pathlib import Path

    from pktspec.runtime.registry import REGISTRY

    user_checksums("showsum", lambda data: sum(data) & 0xFF, bits=8)
    snapshot = REGISTRY.snapshot()
    try:
        mod = pktspec.load(Path(__file__).with_name("golden") / "showcase.layer")
        _check_frame(mod, words)
    finally:
        REGISTRY.restore(snapshot)


def _check_frame(mod, words):
    frame = mod.ShowFrame(words=words, wide=7 if len(words) > 1 else None)
    data = bytes(frame / b"abc")
    packet = pktspec.decode(data, first=mod.ShowFrame, strict=True)
    layer = packet.layers[0]
    assert layer.words == words and layer.words_size == 2 * len(words)
    header = 3 + 2 * len(words) + (-(3 + 2 * len(words)) % 8 + 8 if len(words) > 1 else 0)
    assert len(layer.contents) == header and bytes(layer.payload) == b"abc"
    assert layer.length == len(data) and layer.sum == sum(data[:-3]) & 0xFF
    assert verify_checksums(packet) == []
    agree(layer)
