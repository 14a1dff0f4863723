"""Every error in a .layer file names file:line:column, shows the line with a caret, says
what was expected and, where it can, the fix."""

from __future__ import annotations

from pktspec.cli import main
from tests.generator.conftest import spec_errors, write_layer


def test_missing_semicolon_points_at_next_line(tmp_path):
    (err,) = spec_errors(tmp_path, "layer X : link {\n    a: u8\n    b: u8;\n}\n")
    assert (err.location.line, err.location.column) == (3, 5)
    assert "expected" in err.message and "';'" in err.message
    assert err.hint == "missing ';' at the end of line 2"
    text = err.render()
    assert text.startswith(f"{err.location.file}:3:5: error:")
    assert "        b: u8;\n        ^" in text


def test_unexpected_character(tmp_path):
    (err,) = spec_errors(tmp_path, "layer X : link {\n  a: u8 $;\n}\n")
    assert (err.location.line, err.location.column) == (2, 9)
    assert "'$'" in err.message


def test_end_of_file_suggests_closing_brace(tmp_path):
    (err,) = spec_errors(tmp_path, "layer X : link {\n  a: u8;\n")
    assert "end of file" in err.message
    assert "'}'" in err.hint


def test_unknown_type_did_you_mean(tmp_path):
    (err,) = spec_errors(tmp_path, 'import "ipv4.layer"\nlayer X : link {\n  p: IPProtocl;\n}\n')
    assert err.location.line == 3 and err.location.column == 6
    assert err.message == "unknown type 'IPProtocl'"
    assert err.hint == "did you mean 'IPProtocol'?"


def test_unknown_name_in_expression(tmp_path):
    (err,) = spec_errors(tmp_path, "layer X : link {\n  length: u8;\n  d: bytes[lenght];\n}\n")
    assert "unknown name 'lenght'" in err.message
    assert err.hint == "did you mean 'length'?"


def test_field_used_before_it_is_decoded(tmp_path):
    (err,) = spec_errors(tmp_path, "layer X : link {\n  d: bytes[n];\n  n: u8;\n}\n")
    assert "'n' is used before it is decoded (declared at line 3)" in err.message


def test_bit_fields_must_end_on_a_byte(tmp_path):
    errors = spec_errors(tmp_path, "layer X : link {\n  a: u3;\n  b: bytes[2];\n  c: u4;\n}\n")
    assert [(e.location.line, e.message) for e in errors] == [
        (3, "field 'b' starts 3 bits into a byte: the bit fields before it do not end on a byte"),
        (4, "the bit fields of 'X' end 4 bits into a byte"),  # at the field that leaves it
    ]
    assert "u4" in errors[1].hint


def test_unreachable_field(tmp_path):
    (err,) = spec_errors(tmp_path, "layer X : link {\n  rest: bytes[];\n  after: u8;\n}\n")
    assert "'after' can never be reached" in err.message
    assert "'rest'" in err.hint


def test_type_errors_in_expressions(tmp_path):
    errors = spec_errors(tmp_path, 'layer X : link {\n  a: u8;\n  b: bytes[4];\n'
                                   '  requires a == "x";\n  requires b + 1 > 0;\n}\n')
    messages = " | ".join(e.message for e in errors)
    assert "cannot compare int with str" in messages
    assert "'+' needs numbers, not bytes" in messages


def test_unknown_flag_name(tmp_path):
    (err,) = spec_errors(tmp_path, "layer X : link {\n  f: bits 8 { syn, ack };\n"
                                   "  requires f.sin;\n}\n")
    assert "unknown flag of 'f' 'sin'" in err.message
    assert err.hint == "did you mean 'syn'?"


def test_overlapping_bindings_are_refused(tmp_path):
    text = ('import "ethernet.layer"\nlayer A : network { a: u8; }\nlayer B : network { b: u8; }\n'
            "extend EtherType { 0x9999 -> A }\nextend EtherType { 0x9999 -> B }\n")
    (err,) = spec_errors(tmp_path, text)
    assert err.location.line == 5
    assert "already" in err.message and "priority" in err.hint


def test_priority_resolves_an_overlap(tmp_path):
    from pktspec.generator import check_file
    text = ('import "ethernet.layer"\nlayer A : network { a: u8; }\nlayer B : network { b: u8; }\n'
            "extend EtherType { 0x9999 -> A }\nextend EtherType { 0x9999 -> B priority 5 }\n")
    check_file(write_layer(tmp_path, text))


def test_all_errors_reported_at_once(tmp_path):
    errors = spec_errors(tmp_path, "layer X : link {\n  a: Foo;\n  b: Bar;\n  c: u8 == zz;\n}\n")
    assert len(errors) == 3
    assert [e.location.line for e in errors] == [2, 3, 4]


def test_unknown_import_suggests_builtin(tmp_path):
    (err,) = spec_errors(tmp_path, 'import "ethernt.layer"\n')
    assert "cannot find imported file 'ethernt.layer'" in err.message
    assert err.hint == "did you mean 'ethernet.layer'?"


def test_import_cycle(tmp_path):
    write_layer(tmp_path, 'import "b.layer"\n', "a.layer")
    b = write_layer(tmp_path, 'import "a.layer"\n', "b.layer")
    (err,) = spec_errors(tmp_path, f'import "{b.name}"\n')
    assert "import cycle" in err.message


def test_duplicate_declarations_across_files(tmp_path):
    (err,) = spec_errors(tmp_path, 'import "ipv4.layer"\nlayer IPv4 : network { a: u8; }\n')
    assert "'IPv4' is already declared as a layer" in err.message


def test_cli_check_prints_every_error(tmp_path, capsys):
    path = write_layer(tmp_path, "layer X : link {\n  a: Foo;\n  b: u3;\n}\n")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path.name}:2:6: error: unknown type 'Foo'" in err
    assert "2 errors" in err


def test_cli_check_ok(tmp_path, capsys):
    path = write_layer(tmp_path, 'import "ethernet.layer"\nlayer M : link {\n'
                                 "  h: bytes[4];\n  next Ethernet;\n}\n")
    assert main(["check", str(path)]) == 0
    assert "ok (1 layers, 0 structs, 0 enums)" in capsys.readouterr().out


def test_number_literals(tmp_path):
    from pktspec.grammar import parse
    (const,) = parse("const A = 050;").decls
    assert const.expr.value == 50  # leading zeros are decimal, not an error
    (err,) = spec_errors(tmp_path, "const A = 0x_;\n")
    assert (err.location.line, err.location.column) == (1, 11)
    assert "cannot read '0x_'" in err.message and "0x.." in err.hint


def test_constant_expressions_are_bounded(tmp_path):
    errors = spec_errors(tmp_path, "const A = 1 << 63;\nconst B = A * A;\nconst C = 1 / 0;\n"
                                   "layer K : other {\n  x: bytes[1 % 0];\n"
                                   "  y: switch (1) { 1 << 99 => u8; default => u8; };\n}\n")
    messages = [(e.location.line, e.message) for e in errors]
    assert (2, "constant out of range (more than 64 bits)") in messages
    assert (3, "division by zero in a constant expression") in messages
    assert (5, "division by zero") in messages  # at the divisor, once
    assert (6, "shift by 99 in a constant expression (0..63)") in messages


def test_binding_against_a_builtin_the_file_does_not_import(tmp_path):
    (err,) = spec_errors(tmp_path, 'import "ethernet.layer"\n'
                                   "extend EtherType { 0x0800 -> Ethernet }\n")
    assert err.location.line == 2
    assert "bound to IPv4 already (by protocols/ipv4.layer" in err.message


def test_flag_names_may_not_hide_flagset_attributes(tmp_path):
    (err,) = spec_errors(tmp_path, "layer F : other { f: bits 8 { real, syn }; }\n")
    assert "flag name 'real' would hide FlagSet.real" in err.message


def test_two_imported_files_with_one_name(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_layer(tmp_path / "a", "layer XA : other { a: u8; }\n", "x.layer")
    write_layer(tmp_path / "b", "layer XB : other { b: u8; }\n", "x.layer")
    errors = spec_errors(tmp_path, 'import "a/x.layer"\nimport "b/x.layer"\n')
    assert any("have the same name 'x'" in e.message for e in errors)
