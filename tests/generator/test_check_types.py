"""Type errors the checker used to pass and every decode then failed on: arrays, structs and
switches used as numbers, len() of a number, and fields a struct does not have."""

from __future__ import annotations

import pytest

from tests.generator.conftest import at, one, passes

STRUCT = "struct I { kind: u8; }\n"



# ---- 1. arrays, structs and switches are not numbers ----------------------------------------

@pytest.mark.parametrize("member", [
    "d: bytes[items];",
    "x: u8 if items > 0;",
    "let y = items + 1;",
    "let y = -items;",
    "let y = min(items, 3);",
    "n: u8[] size items;",
])
def test_an_array_used_as_a_number(tmp_path, member):
    text = STRUCT + "layer L : application {\n    items: I[2];\n    " + member + "\n}\n"
    p = one(tmp_path, text)
    assert p.message == "items is an array, not a number"
    assert p.location.line == 4
    assert p.location.column == 5 + member.index("items")
    assert p.hint == "len(items) is its number of elements"


def test_a_struct_used_as_a_number(tmp_path):
    p = one(tmp_path, STRUCT + "layer L : application {\n    s: I;\n    let y = s * 2;\n}\n")
    assert p.message == "s is a struct, not a number"
    assert at(p) == (4, 13)
    assert p.hint == "use one of its fields, e.g. s.kind"


def test_a_switch_with_no_number_case_used_as_a_number(tmp_path):
    p = one(tmp_path, STRUCT + "layer L : application {\n    k: u8;\n"
                      "    v: switch (k) { 1 => I; default => bytes[]; };\n"
                      "    d: bytes[v];\n}\n")
    assert p.message == "v is a switch, not a number"
    assert at(p) == (5, 14)


def test_bytes_are_still_not_numbers(tmp_path):
    p = one(tmp_path, "layer L : application {\n    d: bytes[2];\n    let y = d + 1;\n}\n")
    assert p.message == "'+' needs numbers, not bytes"


def test_a_let_keeps_the_type_of_its_value(tmp_path):
    p = one(tmp_path, STRUCT + "layer L : application {\n    items: I[2];\n"
                      "    let n = items;\n    d: bytes[n];\n}\n")
    assert p.message == "n is an array, not a number"
    assert at(p) == (5, 14)


def test_comparing_an_array_with_a_number(tmp_path):
    p = one(tmp_path, STRUCT + "layer L : application {\n    items: I[2];\n"
                      "    x: u8 if items == 0;\n}\n")
    assert p.message == "cannot compare array with int"
    assert p.location.line == 4


def test_numbers_from_arrays_structs_and_switches_pass(tmp_path):
    passes(tmp_path, STRUCT + "layer L : application {\n    n: u8;\n    items: I[n];\n"
                              "    s: I;\n    k: u8;\n"
                              "    v: switch (k) { 1 => u8; default => u16; };\n"
                              "    let a = len(items) + s.kind + v * 2 + items[0].kind;\n"
                              "    x: u8 if items and s.kind > 0;\n}\n")


# ---- 2. len() of a number ---------------------------------------------------------------------

def test_len_of_a_number(tmp_path):
    p = one(tmp_path, "layer L : application {\n    x: u8;\n    let y = len(x);\n}\n")
    assert p.message == "len() takes bytes or an array; x is a number"
    assert at(p) == (3, 17)


def test_len_of_a_struct(tmp_path):
    p = one(tmp_path, STRUCT + "layer L : application {\n    s: I;\n    let y = len(s);\n}\n")
    assert p.message == "len() takes bytes or an array; s is a struct"
    assert at(p) == (4, 17)


def test_len_of_bytes_arrays_header_and_payload_pass(tmp_path):
    passes(tmp_path, STRUCT + "layer L : application {\n    n: u8;\n    items: I[n];\n"
                              "    d: bytes[2];\n    a: addr[n];\n"
                              "    length: u16 = len(header) + len(payload);\n"
                              "    let y = len(items) + len(d) + len(a);\n}\n")


# ---- 3. fields a struct does not have -------------------------------------------------------

def test_until_reads_a_field_the_element_does_not_have(tmp_path):
    p = one(tmp_path, STRUCT + "layer L : application {\n"
                      "    items: I[] until item.knd == 0;\n}\n")
    assert p.message == "I has no field 'knd'"
    assert p.hint == "did you mean 'kind'?"
    assert at(p) == (3, 22)


def test_until_reads_a_field_far_from_any(tmp_path):
    p = one(tmp_path, STRUCT + "layer L : application {\n"
                      "    items: I[] until item.nope == 0;\n}\n")
    assert p.message == "I has no field 'nope'"
    assert p.hint is None


def test_until_reads_a_field_of_an_element_that_is_not_a_struct(tmp_path):
    p = one(tmp_path, "layer L : application {\n    items: u8[] until item.x == 0;\n}\n")
    assert p.message == "'item' is u8: it has no 'x'"
    assert at(p) == (2, 23)


def test_until_item_of_numbers_is_a_number(tmp_path):
    passes(tmp_path, "layer L : application {\n    items: u8[] until item == 0;\n}\n")


def test_attribute_of_a_struct_field(tmp_path):
    p = one(tmp_path, STRUCT + "layer L : application {\n    s: I;\n"
                      "    x: u8 if s.kid == 1;\n}\n")
    assert p.message == "I has no field 'kid'"
    assert p.hint == "did you mean 'kind'?"
    assert at(p) == (4, 14)


def test_attribute_of_a_struct_declared_later(tmp_path):
    p = one(tmp_path, "layer L : application {\n    s: J;\n    x: u8 if s.kid == 1;\n}\n"
                      "struct J { kind: u8; }\n")
    assert p.message == "J has no field 'kid'"
    assert at(p) == (3, 14)


def test_attributes_through_nested_structs(tmp_path):
    text = (STRUCT + "struct O { inner: I; f: bits 8 { a, b }; }\n"
            "layer L : application {\n    o: O;\n    x: u8 if o.inner.kind == 1 and o.f.a;\n"
            "    y: u8 if o.inner.knd == 1;\n}\n")
    p = one(tmp_path, text)
    assert p.message == "I has no field 'knd'"
    assert at(p) == (6, 14)


def test_attribute_of_an_array(tmp_path):
    p = one(tmp_path, STRUCT + "layer L : application {\n    items: I[2];\n"
                      "    let k = items.kind;\n}\n")
    assert p.message == "'items' is I[]: it has no 'kind'"
    assert at(p) == (4, 13)
