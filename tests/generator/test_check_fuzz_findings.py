"""Fuzz findings: files the checker passed and the generator, the import or the loader then
crashed on. Each is now a located error from `check` (or from parsing and resolving)."""

from __future__ import annotations

import os

import pytest

from pktspec.errors import Location, SpecError
from pktspec.generator import check_file
from pktspec.grammar import parse
from tests.generator.conftest import at, one, passes, spec_errors, write_layer

# ---- 1. recursive structs --------------------------------------------------------------------

def test_a_struct_that_contains_itself(tmp_path):
    p = one(tmp_path, "struct A { x: u8; a: A; }\nlayer L : application { s: A; }\n")
    assert p.message == "struct A contains itself (A -> A)"
    assert at(p) == (1, 19)
    assert p.location.file.endswith(".layer")


def test_a_cycle_through_another_struct_is_reported_where_it_closes(tmp_path):
    p = one(tmp_path, "struct A { x: u8; b: B; }\n"
                      "struct B {\n    y: u8;\n    a: A;\n}\n"
                      "layer L : application { s: A; }\n")
    assert p.message == "struct A contains itself (A -> B -> A)"
    assert at(p) == (4, 5)


@pytest.mark.parametrize("field", ["a: A[2];", "n: u8; a: A[] size n;",
                                   "k: u8; v: switch (k) { 1 => u8; 2 => A; };"])
def test_cycles_through_arrays_and_switch_cases(tmp_path, field):
    p = one(tmp_path, f"struct A {{ {field} }}\nlayer L : application {{ s: A; }}\n")
    assert p.message == "struct A contains itself (A -> A)"
    assert p.location.line == 1


def test_a_struct_declared_later_is_not_a_cycle(tmp_path):
    passes(tmp_path, "struct A { b: B; }\nstruct B { y: u8; }\nlayer L : application { a: A; }\n")


def test_a_long_chain_of_structs_is_checked_without_recursion(tmp_path):
    decls = ["struct S0 { y: u8; }"] + [f"struct S{i} {{ x: S{i - 1}; }}" for i in range(1, 1500)]
    passes(tmp_path, "\n".join(decls) + "\nlayer L : application { s: S1499; }\n")


# ---- 2. an extend that renames a value -------------------------------------------------------

def test_extend_gives_an_existing_item_another_value(tmp_path):
    p = one(tmp_path, 'import "ipv4.layer"\nlayer L : application { x: u8; }\n'
                      "extend IPProtocol { TCP = 250 -> L }\n")
    assert p.message == "IPProtocol.TCP is already 6"
    assert at(p) == (3, 21)


def test_extend_renames_an_item_of_an_earlier_extend(tmp_path):
    p = one(tmp_path, "enum E : u8 { A = 1 }\nlayer L : application { x: u8; }\n"
                      "extend E { B = 2 -> L }\nextend E { B = 3 -> L }\n")
    assert p.message == "E.B is already 2"
    assert at(p) == (4, 12)


def test_extend_with_the_same_name_and_value_is_fine(tmp_path):
    passes(tmp_path, "enum E : u8 { A = 1, B = 2 }\nlayer L : application { x: u8; }\n"
                     "extend E { B = 2 -> L }\n")


# ---- 3. expressions nested too deep ----------------------------------------------------------

@pytest.mark.parametrize("expr", ["x+" * 150 + "x", "-" * 150 + "x"])
def test_checker_refuses_more_than_100_levels(tmp_path, expr):
    p = one(tmp_path, f"layer L : application {{\n    x: u8;\n    let y = {expr};\n}}\n")
    assert p.message == "expression nested too deeply (more than 100 levels)"
    assert at(p) == (3, 13)


def test_deep_constants_and_sizes_are_refused_too(tmp_path):
    problems = spec_errors(tmp_path, f"const A = {'1+' * 150}1;\n"
                                     f"layer L : application {{ b: bytes[{'1+' * 150}1]; }}\n")
    assert [(p.message, at(p)) for p in problems] == [
        ("expression nested too deeply (more than 100 levels)", (1, 11)),
        ("expression nested too deeply (more than 100 levels)", (2, 34))]


def test_100_levels_pass(tmp_path):
    passes(tmp_path, f"layer L : application {{ x: u8; let y = {'x+' * 99}x; }}\n")


@pytest.mark.parametrize("expr", ["x+" * 600 + "x", "-" * 600 + "x"])
def test_parser_stack_overflow_is_a_located_error(expr):
    text = f"const A = 1;\nlayer L : application {{\n    x: u8;\n    let y = {expr};\n}}\n"
    with pytest.raises(SpecError) as info:
        parse(text, "deep.layer")
    assert info.value.message == "expression nested too deeply"
    assert info.value.location == Location("deep.layer", 4, 5)


# ---- 4. repeated struct parameters -----------------------------------------------------------

def test_a_parameter_named_twice(tmp_path):
    p = one(tmp_path, "struct T(w, w) { b: bytes[w]; }\nlayer L : application { t: T(1, 2); }\n")
    assert p.message == "parameter 'w' of struct T is declared twice"
    assert at(p) == (1, 8)


# ---- 5. bindings that loading would refuse ---------------------------------------------------

def test_the_same_binding_twice_in_one_file(tmp_path):
    p = one(tmp_path, 'import "tcp.layer"\nlayer L : application { x: u8; }\n'
                      "extend TCPPort { 5555 -> L }\nextend TCPPort { 5555 -> L }\n")
    assert p.message.startswith("TCPPort value 5555 (0x15b3) is bound twice in this file")
    assert at(p) == (4, 18)


def test_a_layer_named_like_a_built_in_one(tmp_path):
    p = one(tmp_path, "layer IPv4 : network { x: u8; }\n")
    assert p.message == "a built-in layer is already called IPv4"
    assert at(p) == (1, 7)


# ---- 6. contradictions -----------------------------------------------------------------------

def test_a_flag_named_twice(tmp_path):
    p = one(tmp_path, "layer L : application { f: bits 8 { a, b, a }; }\n")
    assert p.message == "flag 'a' is named twice in this bits field"
    assert at(p) == (1, 28)


def test_a_case_value_twice(tmp_path):
    p = one(tmp_path, "enum E : u8 { A = 1, B = 2 }\nlayer L : application {\n    k: u8;\n"
                      "    v: switch (k) { 1 => u8; 2, E.A => u16; default => bytes[]; };\n}\n")
    assert p.message.startswith("case value 1 appears twice in this switch")
    assert at(p) == (4, 33)


def test_two_default_cases(tmp_path):
    p = one(tmp_path, "layer L : application {\n    k: u8;\n"
                      "    v: switch (k) { default => u8; default => u16; };\n}\n")
    assert p.message == "a switch has one 'default' case"


@pytest.mark.parametrize("name", ["header", "payload"])
def test_a_boundary_twice(tmp_path, name):
    p = one(tmp_path, f"layer L : application {{\n    n: u8;\n    {name} = n;\n    {name} = 1;\n}}\n")
    assert p.message == f"a layer has one '{name} = ...' statement"
    assert at(p) == (4, 5)


@pytest.mark.parametrize(("mod", "message", "column"), [
    ("default 300", "default 300 does not fit in u8 (0..255)", 39),
    ("== 256", "== 256 does not fit in u8 (0..255)", 34),
    ("default -1", "default -1 does not fit in u8 (0..255)", 39),
])
def test_a_value_that_does_not_fit_the_field(tmp_path, mod, message, column):
    p = one(tmp_path, f"layer L : application {{ x: u8 {mod}; }}\n")
    assert p.message == message
    assert at(p) == (1, column)


def test_values_that_fit(tmp_path):
    passes(tmp_path, "const C = 7;\nlayer L : application { a: u3 default C; b: u5 == 31; "
                     "c: i8 default -128; }\n")


# ---- 7. files that are not regular files, not UTF-8 or missing -------------------------------

def test_a_symlink_to_a_device_is_not_read(tmp_path):
    link = tmp_path / "zero.layer"
    os.symlink("/dev/zero", link)
    with pytest.raises(SpecError) as info:
        check_file(link)
    assert "not a regular file" in info.value.message
    assert info.value.location == Location("zero.layer", 1, 1)


def test_an_import_of_a_fifo_is_refused_at_the_import(tmp_path):
    os.mkfifo(tmp_path / "pipe.layer")
    path = write_layer(tmp_path, 'const A = 1;\nimport "pipe.layer"\n', "imp.layer")
    with pytest.raises(SpecError) as info:
        check_file(path)
    assert "not a regular file" in info.value.message
    assert info.value.location == Location("imp.layer", 2, 1)


def test_a_directory(tmp_path):
    folder = tmp_path / "dir.layer"
    folder.mkdir()
    with pytest.raises(SpecError) as info:
        check_file(folder)
    assert "not a regular file" in info.value.message
    assert info.value.location == Location("dir.layer", 1, 1)
    assert str(info.value).startswith("dir.layer:1:1: error: ")


def test_a_missing_file(tmp_path):
    with pytest.raises(SpecError) as info:
        check_file(tmp_path / "none.layer")
    assert info.value.location == Location("none.layer", 1, 1)
    assert "no such .layer file" in info.value.message


def test_text_that_is_not_utf8_is_located_at_the_bad_byte(tmp_path):
    path = tmp_path / "latin.layer"
    path.write_bytes(b"const A = 1;\nconst B = \xff;\n")
    with pytest.raises(SpecError) as info:
        check_file(path)
    assert info.value.location == Location("latin.layer", 2, 11)
    assert "not UTF-8" in info.value.message
