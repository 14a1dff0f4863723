"""Conditional fields inside structs, as in layers: a field given sets what its condition
reads (when that was not given), and one given while its condition is false is a
BuildError naming it, never a silent drop (runtime/constructs.py CondStruct)."""

from __future__ import annotations

import pytest

from pktspec import load
from pktspec.errors import BuildError
from tests.building.conftest import layer

SOURCE = """
struct Inner { f: bits 8 {a, b, c, d, e, g, h, i}; k: u8; x: u16 if f.a; y: u8 if k & 4 != 0;
               z: u8 if k == 9 and f.b; }
layer Cond : other { inner: Inner; }
"""


@pytest.fixture
def Cond(tmp_path, monkeypatch, restore_registry):  # noqa: N802 - a layer class
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "cond.layer"
    path.write_text(SOURCE)
    load(str(path))
    return layer("Cond")


@pytest.mark.parametrize(("inner", "data"), [
    ({"x": 5}, "8000" "0005"), ({"y": 5}, "0004" "05"), ({"z": 5}, "4009" "05"),
    ({"x": 1, "z": 2}, "c009" "0001" "02"), ({}, "0000"),
    ({"f": 0xC0, "k": 13, "x": 1, "y": 2}, "c00d" "0001" "02"),
    ({"k": 4, "y": 7}, "0004" "07")])
def test_a_conditional_struct_field_given_sets_what_its_condition_reads(Cond, inner, data):
    built = bytes(Cond(inner=inner))
    assert built.hex() == data
    got = Cond.from_bytes(built).inner
    assert {n: got[n] for n in ("x", "y", "z") if n in inner} == \
        {n: inner[n] for n in ("x", "y", "z") if n in inner}


@pytest.mark.parametrize(("inner", "name", "cond"), [
    ({"z": 5, "k": 1}, "z", r"k == 9 and f\.b"), ({"x": 5, "f": 0}, "x", r"f\.a"),
    ({"y": 5, "k": 9}, "y", "k & 4 != 0"), ({"y": 1, "z": 2}, "y", "k & 4 != 0")])
def test_a_conditional_struct_field_its_condition_refuses_is_a_build_error(
        Cond, inner, name, cond):
    with pytest.raises(BuildError, match=rf"Cond: inner\.{name} is given but its condition "
                                         rf"\({cond}\) is false"):
        bytes(Cond(inner=inner))
