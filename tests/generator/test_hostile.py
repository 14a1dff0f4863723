"""A hostile .layer file gets a SpecError or is emitted safely: it never runs code.

Generated code is built only from validated identifiers and repr() literals; these tests try
the ways text could leak into the emitted source and prove nothing runs."""

from __future__ import annotations

import tokenize

import pytest

import pktspec
from tests.generator.conftest import load_text, spec_errors


@pytest.mark.parametrize("name, why", [
    ("__import__", "reserved"),
    ("__class__", "reserved"),
    ("_private", "reserved"),
    ("class", "Python keyword"),
    ("import", "Python keyword"),
    ("None", "Python keyword"),
    ("lambda", "Python keyword"),
    ("contents", "reserved by the runtime"),
    ("flow", "unexpected ':'"),  # a statement keyword where a field starts
])
def test_dangerous_field_names_are_refused(tmp_path, name, why):
    errors = spec_errors(tmp_path, f"layer H : other {{\n  {name}: u8;\n}}\n")
    assert any(why in e.message for e in errors), [e.message for e in errors]


@pytest.mark.parametrize("decl", [
    "layer __init__ : other { a: u8; }",
    "enum E : u8 { __dict__ = 1 }",
    "struct S(__builtins__) { a: u8; }",
    "layer H : other { f: bits 8 { __class__ }; }",
    "const __x = 1;",
])
def test_dangerous_declaration_names_are_refused(tmp_path, decl):
    errors = spec_errors(tmp_path, decl + "\n")
    assert any("reserved" in e.message or "leading underscore" in e.message
               for e in errors), [e.message for e in errors]


def test_hostile_literals_are_emitted_as_literals(tmp_path):
    sentinel = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {sentinel}')"
    text = (
        f'## """ + {payload} + """\n'
        f"## ''' {payload} '''\n"
        "layer Hostile : other {\n"
        f"    ## \\n{payload}\n"
        "    a: u8;\n"
        f'    requires a != 7 : "\\"); {payload} #\\n\\\\";\n'
        "}\n"
    )
    mod = load_text(tmp_path, text, "hostile.layer")
    assert not sentinel.exists()
    assert payload in mod.Hostile.__doc__  # kept as text, never run
    bad = pktspec.decode(b"\x07", mod.Hostile)
    assert payload in bad.error.message
    assert not sentinel.exists()
    with open(mod.__file__, "rb") as f:
        tokens = list(tokenize.tokenize(f.readline))
    leaks = [t for t in tokens if "__import__" in t.string and t.type != tokenize.STRING]
    assert leaks == []
    assert sum("__import__" in t.string for t in tokens) >= 3


def test_huge_and_negative_numbers_are_plain_literals(tmp_path):
    mod = load_text(tmp_path, "const BIG = 0x" + "f" * 16 + ";\n"
                              "layer Num : other {\n  a: u8;\n  requires a < BIG;\n"
                              "  requires a > -5;\n}\n", "num.layer")
    assert pktspec.decode(b"\x01", mod.Num).error is None


def test_strings_cannot_be_used_as_code(tmp_path):
    errors = spec_errors(tmp_path, 'layer S : other {\n  a: u8;\n'
                                   '  b: bytes["__import__(\'os\')"];\n}\n')
    assert errors


def test_hostile_file_name_is_escaped_in_generated_comments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sentinel = tmp_path / "pwned-by-name"
    name = 'evil\nimport os;os.system("touch pwned-by-name")\n#.layer'
    mod = load_text(tmp_path, "layer EvilName : other { a: u8; }\n", name)
    assert not sentinel.exists()
    assert pktspec.decode(b"\x01", mod.EvilName).layers[0].a == 1
    with open(mod.__file__, "rb") as f:
        tokens = list(tokenize.tokenize(f.readline))
    assert not [t for t in tokens if t.type == tokenize.NAME and t.string in ("os", "system")]
    assert all("\n" not in t.string for t in tokens if t.type == tokenize.COMMENT)


def test_only_layer_files_are_imported(tmp_path):
    (err,) = spec_errors(tmp_path, 'import "../../../../etc/passwd"\n')
    assert "only .layer files are imported" in err.message
