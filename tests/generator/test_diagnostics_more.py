"""More diagnostics: a layer written without its class, and division by zero (refused by the
checker when the divisor is a constant zero, a readable DecodeError when the packet holds it)."""

from __future__ import annotations

import pytest

import pktspec
from pktspec.errors import DecodeError
from pktspec.generator import check
from pktspec.grammar import parser
from pktspec.runtime.packet import DecodeFailure
from tests.generator.conftest import spec_errors, write_layer

CLASS_HINT = ("a layer names its class: layer Foo : application { ... } "
              "(one of: link, network, transport, application, other)")


def test_layer_without_its_class_gets_a_hint(tmp_path):
    (err,) = spec_errors(tmp_path, "layer Foo { a: u8; }\n")
    assert (err.location.line, err.location.column) == (1, 11)
    assert err.message == "unexpected '{'; expected ':'"
    assert err.hint == CLASS_HINT
    assert err.render() == (f"{err.location.file}:1:11: error: unexpected '{{'; expected ':'\n"
                            "    layer Foo { a: u8; }\n"
                            "              ^\n"
                            f"    hint: {CLASS_HINT}")


def test_layer_with_a_colon_but_no_class_gets_the_hint(tmp_path):
    (err,) = spec_errors(tmp_path, "## doc\nlayer Foo :\n{ a: u8; }\n")
    assert (err.location.line, err.location.column) == (3, 1)
    assert err.message == "unexpected '{'; expected a name"
    assert err.hint == CLASS_HINT
    assert "\n    { a: u8; }\n    ^\n" in err.render()


def test_layer_class_without_its_colon_gets_the_hint(tmp_path):
    (err,) = spec_errors(tmp_path, "const A = 1;\nlayer Foo link { a: u8; }\n")
    assert (err.location.line, err.location.column) == (2, 11)
    assert err.message == "unexpected 'link'; expected ':'"
    assert err.hint == CLASS_HINT


def test_the_class_hint_is_only_for_layers(tmp_path):
    (err,) = spec_errors(tmp_path, "enum E { A = 1 }\n")
    assert err.message == "unexpected '{'; expected ':'"
    assert err.hint is None


def test_both_class_hints_share_one_list(tmp_path):
    assert check.LAYER_CLASSES is parser.LAYER_CLASSES
    (err,) = spec_errors(tmp_path, "layer Foo : app { a: u8; }\n")
    assert (err.location.line, err.location.column) == (1, 7)
    assert err.message == "unknown layer class 'app'"
    assert err.hint == "one of: " + ", ".join(parser.LAYER_CLASSES)
    assert err.hint in CLASS_HINT


DIVISION_HINT = "this divisor is always 0: every packet would fail to decode"


def test_dividing_by_a_literal_zero_is_refused(tmp_path):
    (err,) = spec_errors(tmp_path, "layer X : other {\n  a: u8;\n  b: bytes[a / 0];\n}\n")
    assert (err.location.line, err.location.column) == (3, 16)
    assert err.message == "division by zero"
    assert err.hint == DIVISION_HINT
    assert err.render() == (f"{err.location.file}:3:16: error: division by zero\n"
                            "      b: bytes[a / 0];\n"
                            "                   ^\n"
                            f"    hint: {DIVISION_HINT}")


def test_modulo_by_a_constant_that_is_zero_is_refused(tmp_path):
    errors = spec_errors(tmp_path, "const NONE = 0;\nconst ZERO = 2 - 2;\n"
                                   "layer X : other {\n  a: u8;\n  c: u8[a % NONE];\n"
                                   "  requires a / (ZERO * 4) > 1;\n}\n")
    assert [(e.location.line, e.location.column, e.message, e.hint) for e in errors] == [
        (5, 13, "division by zero", DIVISION_HINT),
        (6, 17, "division by zero", DIVISION_HINT),
    ]


def test_a_constant_division_by_zero_is_reported_once(tmp_path):
    (err,) = spec_errors(tmp_path, "layer X : other {\n  b: bytes[8 % 0];\n}\n")
    assert (err.location.line, err.location.column, err.message) == (2, 16, "division by zero")


def test_divisors_that_may_be_nonzero_pass(tmp_path):
    from pktspec.generator import check_file
    check_file(write_layer(tmp_path, "const TWO = 2;\nlayer X : other {\n"
                                     "  d: u8;\n  b: bytes[8 / d];\n  c: u8[d % TWO];\n}\n"))


def test_a_zero_divisor_in_the_packet_is_a_readable_decode_error(
        tmp_path, monkeypatch, restore_registry):
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    path = write_layer(tmp_path, "layer DiagZeroDivisor : other {\n  d: u8;\n"
                                 "  b: bytes[8 / d];\n}\n", "diag_zero_divisor.layer")
    mod = pktspec.load(path)
    ok = pktspec.decode(b"\x02abcd", mod.DiagZeroDivisor)
    assert ok.error is None and ok.layers[0].b == b"abcd"
    packet = pktspec.decode(b"\x00abcd", mod.DiagZeroDivisor)
    failure = packet.layers[-1]
    assert isinstance(failure, DecodeFailure) and failure.error is packet.error
    err = packet.error
    assert (err.layer, err.offset) == ("DiagZeroDivisor", 0)
    assert "a size or count expression divides by zero" in err.message
    assert "ZeroDivisionError" not in err.message and "ZeroDivisionError" not in str(err)
    with pytest.raises(DecodeError, match="a size or count expression divides by zero"):
        pktspec.decode(b"\x00abcd", mod.DiagZeroDivisor, strict=True)
