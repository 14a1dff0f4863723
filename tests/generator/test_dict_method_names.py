"""Fields, struct members and parameters named like a dict's methods (items, keys, get, ...):
construct's Container answers ``this.items`` with its method, so generated FORMAT code reads
every value as ``this["name"]``; the fast path, FORMAT and the builder must all agree."""

from __future__ import annotations

import pytest

import pktspec
from pktspec.runtime.serialize import serialize
from tests.generator.conftest import load_text

DICT_METHODS = ("items", "keys", "values", "get", "pop", "update", "clear", "setdefault",
                "popitem", "fromkeys", "move_to_end", "search", "search_all")  # and copy:
# a layer may not have a field called copy (Layer.copy), a struct may (see below)

PROBE = """
layer Probe : application {
    kind: u8;
    n: u8;
    items: u16[] until item == 0 if kind & 2 != 0;
    big: u32 if kind & 8 != 0 align 4;
}
"""


def test_an_items_field_parses_and_builds_in_format(tmp_path):
    mod = load_text(tmp_path, PROBE)
    data = bytes.fromhex("0a00" "0005" "0000" "0000" "0000002a")  # big aligned to 8
    fast = pktspec.decode(data, first="Probe").layers[0]
    assert fast.items == [5, 0] and fast.big == 42
    parsed = mod.Probe.FORMAT.parse(data)
    assert parsed["items"] == [5, 0] and parsed["big"] == 42
    assert mod.Probe.FORMAT.build(parsed) == data
    built = serialize(mod.Probe(kind=10, n=0, items=[5, 0], big=42))
    assert built == data


def test_a_keys_length_field_sizes_its_part(tmp_path):
    mod = load_text(tmp_path, "layer KeysP : application { keys: u8; blob: bytes[keys]; }\n")
    parsed = mod.KeysP.FORMAT.parse(b"\x02ab")
    assert (parsed["keys"], parsed["blob"]) == (2, b"ab")
    assert mod.KeysP.FORMAT.build({"keys": 2, "blob": b"ab"}) == b"\x02ab"
    assert serialize(mod.KeysP(blob=b"abc")) == b"\x03abc"


@pytest.mark.parametrize("name", DICT_METHODS)
def test_every_dict_method_name_works_as_a_length(tmp_path, name):
    mod = load_text(tmp_path, f"layer M_{name} : application {{ {name}: u8; "
                              f"b: bytes[{name}] if {name} != 0; }}\n")
    cls = getattr(mod, f"M_{name}")
    assert cls.FORMAT.parse(b"\x01z")["b"] == b"z"
    assert serialize(cls(b=b"xy")) == b"\x02xy"


STRUCTS = """
struct Counts(get) {
    items: u8;
    keys: bytes[get];
    copy: u8 if items > 1;
}
layer Holder : application {
    n: u8;
    hdr: Counts(n);
    body: bytes[hdr.items];
    tail: u8 if hdr.items != 0;
}
"""


def test_struct_members_and_parameters_named_like_dict_methods(tmp_path):
    mod = load_text(tmp_path, STRUCTS)
    data = b"\x01" b"\x02" b"k" b"\x09" b"xy" b"\x07"
    fast = pktspec.decode(data, first="Holder").layers[0]
    assert fast.body == b"xy" and fast.tail == 7 and fast.hdr["keys"] == b"k"
    assert fast.hdr["copy"] == 9
    parsed = mod.Holder.FORMAT.parse(data)
    assert parsed["body"] == b"xy" and parsed["tail"] == 7
    assert mod.Holder.FORMAT.build(parsed) == data
    assert serialize(mod.Holder(n=1, hdr={"items": 2, "keys": b"k", "copy": 9}, body=b"xy",
                                tail=7)) == data


def test_generated_format_reads_fields_by_key(tmp_path):
    from pktspec.generator.compiler import compile_program
    from tests.generator.conftest import write_layer

    path = write_layer(tmp_path, PROBE)
    text = compile_program(path)[1][str(path)]
    assert "this.items" not in text and "this.kind" not in text
    assert "this['kind']" in text
