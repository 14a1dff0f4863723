"""What a user review found the checker passing or reporting badly: values of the wrong type,
checksums wider than their field, a forgotten import (and the errors that followed it), bit
fields, a missing ';', a bad import, a struct named as a layer, and bindings no layer uses."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

import pktspec
from pktspec.errors import SpecError, SpecWarning
from pktspec.generator import check_file
from tests.generator.conftest import at, one, passes, spec_errors, write_layer

# ---- 1. type errors --------------------------------------------------------------------------

E9 = """layer E9 : other {
    a: u8;
    b: u8 == "x";
    h: u8 = crc32(header);
    i: u8 if "abc";
    j: u16 default "hello";
    k: bytes[4] == 7;
    m: u8 if a;
}
"""


def test_every_type_error_of_the_review_file(tmp_path):
    problems = spec_errors(tmp_path, E9)
    assert [(at(p), p.message) for p in problems] == [
        ((3, 14), "'b' is u8, a number: its '==' value cannot be a string "
                  "(every packet would fail this check)"),
        ((4, 13), "crc32() gives 32 bits, but 'h' is u8 (8 bits)"),
        ((5, 14), "a condition must be a number or a comparison, not a string"),
        ((6, 20), "'j' is u16, a number: its 'default' value cannot be a string "
                  "(the builder could not write it)"),
        ((7, 20), "'k' is bytes[4]: its '==' value must be bytes (a string), not a number"),
    ]
    assert problems[0].hint == "write the number: '== 120' ('x' is 0x78)"
    assert "make the field u32" in problems[1].hint
    assert problems[4].hint == "write the bytes as a string: '== \"\\x00\\x00\\x00\\x07\"'"


@pytest.mark.parametrize("field, func, bits", [
    ("c: u16 = crc32(header, payload);", "crc32", 32),
    ("c: u8 = inet_checksum(header);", "inet_checksum", 16),
    ("c: u24 = crc32c(header, payload);", "crc32c", 32),
])
def test_a_checksum_wider_than_its_field(tmp_path, field, func, bits):
    p = one(tmp_path, f"layer CW : other {{ {field} n: u8; }}\n")
    assert p.message.startswith(f"{func}() gives {bits} bits, but 'c' is")
    assert p.hint.startswith(f"make the field u{bits}")
    assert at(p) == (1, 20 + field.index(func))


@pytest.mark.parametrize("field", [
    "c: u32 = crc32(header, payload);",
    "c: u32 = crc32c(header, payload);",
    "c: u16 = inet_checksum(header, payload);",
    "c: u32 = inet_checksum(header);",
    "c: u16 = crc32(header) & 0xffff;",
    "m: u8 if a;",
    "m: u8 if a == 1;",
    "m: u8 == 0x78;",
    "m: bytes[2] == \"ab\";",
    "m: u16 default 65535;",
    "m: mac;",
])
def test_what_stays_accepted(tmp_path, field):
    passes(tmp_path, f"layer OK : other {{ a: u8; {field} n: u8; }}\n")


def test_a_string_for_an_enum_suggests_an_item(tmp_path):
    p = one(tmp_path, "enum K : u8 { A = 1 }\nlayer L : other { k: K default \"A\"; }\n")
    assert p.hint == "write an item or a number: 'default K.A'"
    p = one(tmp_path, "enum K : u8 { A = 1 }\nlayer L : other { k: K == \"hello\"; }\n")
    assert p.hint == "write an item or a number: '== K.<item>'"


def test_a_string_requirement_is_always_true(tmp_path):
    p = one(tmp_path, 'layer L : other {\n    a: u8;\n    requires "a";\n}\n')
    assert p.message == "a condition must be a number or a comparison, not a string"
    assert at(p) == (3, 14)


def test_a_string_as_a_build_value_of_a_number(tmp_path):
    p = one(tmp_path, 'layer L : other { a: u8 = "x"; }\n')
    assert p.message == "'a' is u8, a number: its build value cannot be a string"


# ---- 2. messages -----------------------------------------------------------------------------

def test_a_forgotten_import_says_which_file_and_nothing_else(tmp_path):
    p = one(tmp_path, "layer E18 : other {\n    t: EtherType;\n    next by t;\n}\n")
    assert p.message == "unknown type 'EtherType'"
    assert p.hint == ("enum EtherType is declared in the built-in ethernet.layer: "
                      "add 'import \"ethernet.layer\"'")
    assert at(p) == (2, 8)


def test_no_follow_on_errors_for_a_field_of_an_unknown_type(tmp_path):
    p = one(tmp_path, "layer F : other {\n    t: Nope;\n    s: u8;\n    d: bytes[t];\n"
                      "    let x = t + 1;\n    flow s -> t;\n}\n")
    assert p.message == "unknown type 'Nope'"


def test_a_field_read_before_itself_is_still_reported(tmp_path):
    p = one(tmp_path, "layer F : other {\n    a: u8 if a > 0;\n}\n")
    assert "'a' is used before it is decoded" in p.message


def test_extending_a_table_that_is_not_imported(tmp_path):
    p = one(tmp_path, "layer S2 : other { a: u8; }\nextend UDPPort { 7 -> S2 }\n")
    assert p.message == "unknown enum 'UDPPort'"
    assert p.hint == "enum UDPPort is declared in the built-in udp.layer: add 'import \"udp.layer\"'"


def test_next_to_a_builtin_layer_that_is_not_imported(tmp_path):
    p = one(tmp_path, "layer N : other { a: u8; next IPv4; }\n")
    assert p.message == "unknown layer 'IPv4'"
    assert p.hint == "layer IPv4 is declared in the built-in ipv4.layer: add 'import \"ipv4.layer\"'"


def test_len_header_in_a_payload_boundary_is_fine(tmp_path):
    passes(tmp_path, "layer P : other {\n    length: u16;\n"
                     "    payload = length - len(header);\n}\n")


def test_header_as_a_value_in_a_boundary_says_what_is_allowed(tmp_path):
    p = one(tmp_path, "layer P : other {\n    length: u16;\n    payload = header;\n}\n")
    assert p.message == "unknown name 'header'"
    assert "'remaining'" in p.hint and "earlier fields" in p.hint


def test_payload_outside_a_build_value_says_where_it_is_a_name(tmp_path):
    p = one(tmp_path, "layer P : other {\n    a: u8;\n    requires payload == a;\n}\n")
    assert p.message == "unknown name 'payload'"
    assert p.hint.startswith("'payload' is a name in build values only")


@pytest.mark.parametrize("fields, line, column, missing, name", [
    ("x: u9;", 1, 23, 7, "x"),
    ("a: u1; b: u2;", 1, 30, 5, "b"),
    ("a: u4; b: u3;", 1, 30, 1, "b"),
])
def test_the_bit_field_hint_says_how_many_bits(tmp_path, fields, line, column, missing, name):
    p = one(tmp_path, f"layer Inner : other {{ {fields} }}\n")
    assert at(p) == (line, column)
    assert p.hint == (f"add a {missing}-bit reserved field after {name!r} (for example "
                      f"'reserved: u{missing};') so they end on a byte")


def test_a_missing_semicolon_names_the_line(tmp_path):
    p = one(tmp_path, "enum Foo : u8 { A = 1 }\nlayer X : other {\n    a: u8;\n"
                      "    header = a * 4\n    next by a in Foo;\n}\n")
    assert at(p) == (5, 5)
    assert p.message == "unexpected 'next'; expected ';', an operator"
    assert p.hint == "missing ';' at the end of line 4"


def test_a_missing_semicolon_on_one_line_keeps_its_hint(tmp_path):
    p = one(tmp_path, "layer X : other { a: u8 b: u8; }\n")
    assert "')'" not in p.message
    assert p.hint == "a ';' is missing at the end of the previous statement"


def test_an_unclosed_parenthesis_expects_only_it(tmp_path):
    p = one(tmp_path, "layer X : other {\n    a: u8;\n    let x = (a + 1;\n}\n")
    assert p.message.startswith("unexpected ';'; expected ')'")


def test_a_bad_import_is_located_with_a_caret(tmp_path):
    p = one(tmp_path, 'layer X : other { a: u8; }\nimport "nonexistent.layer"\n')
    assert at(p) == (2, 1)
    assert p.render_one().splitlines()[1:3] == ['    import "nonexistent.layer"', "    ^"]
    assert "did you mean" not in (p.hint or "")


def test_a_close_import_name_is_still_suggested(tmp_path):
    p = one(tmp_path, 'import "ethernt.layer"\n')
    assert p.hint == "did you mean 'ethernet.layer'?"


@pytest.mark.parametrize("decl, kind", [
    ("struct S { a: u8; }", "a struct"),
    ("enum S : u8 { A = 1 }", "an enum"),
    ("const S = 3;", "a const"),
])
def test_a_binding_to_something_that_is_not_a_layer(tmp_path, decl, kind):
    p = one(tmp_path, f'import "udp.layer"\n{decl}\nextend UDPPort {{ 7 -> S }}\n')
    assert p.message == f"'S' is {kind}, not a layer"
    assert at(p) == (3, 23)


def test_next_to_a_struct(tmp_path):
    p = one(tmp_path, "struct S { a: u8; }\nlayer L : other { a: u8; next S; }\n")
    assert p.message == "'S' is a struct, not a layer"


# ---- 3. bindings into tables no layer dispatches on ------------------------------------------

SENSOR = """enum SensorMsg : u8 { A = 1 }
layer SensorNet : application { kind: SensorMsg; }
layer SensorConfig : application { x: u8; }
extend SensorMsg { 3 -> SensorConfig }
"""


def test_a_binding_no_layer_uses_is_a_warning(tmp_path):
    path = write_layer(tmp_path, SENSOR)
    with pytest.warns(SpecWarning) as record:
        checked = check_file(path)
    (w,) = checked.warnings
    assert str(record[0].message) == w.render()
    assert w.message.startswith("no layer dispatches on SensorMsg")
    assert (w.location.line, w.location.column) == (4, 20)
    assert w.hint == "add 'next by kind;' to layer SensorNet"
    assert w.render().startswith(f"{path.name}:4:20: warning: ")


def test_load_does_not_raise_for_a_warning(tmp_path):
    path = write_layer(tmp_path, SENSOR)
    with pytest.warns(SpecWarning):
        module = pktspec.load(path)
    assert module.SensorConfig.__name__ == "SensorConfig"


@pytest.mark.parametrize("text", [
    SENSOR.replace("kind: SensorMsg; }", "kind: SensorMsg; next by kind; }"),
    'import "udp.layer"\nlayer U : application { a: u8; }\nextend UDPPort { 47321 -> U priority 3 }\n',
    # an imported built-in enum dispatched by a layer in another built-in file
    'import "ipv4.layer"\nlayer P : other { a: u8; }\nextend IPProtocol { 253 -> P priority 3 }\n',
    'import "linktypes.layer"\nlayer P : link { a: u8; }\nextend LinkType { 147 -> P priority 3 }\n',
])
def test_no_warning_where_a_layer_dispatches(tmp_path, text):
    path = write_layer(tmp_path, text)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpecWarning)
        assert check_file(path).warnings == []


def test_pktspec_check_prints_a_warning_and_succeeds(tmp_path):
    path = write_layer(tmp_path, SENSOR)
    done = subprocess.run([sys.executable, "-m", "pktspec", "check", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert f"{path.name}:4:20: warning: no layer dispatches on SensorMsg" in done.stderr
    assert "Warning" not in done.stderr  # printed by the command, not by the warnings module
    assert done.stdout.strip().endswith("1 warning)")


def test_errors_are_not_hidden_by_a_warning(tmp_path):
    with pytest.raises(SpecError):
        check_file(write_layer(tmp_path, SENSOR + "layer Bad : other { x: Nope; }\n"))
