"""Fixes from user reports: a part that runs to the end stops at the header's end in FORMAT
too; items an `extend` names in another file become members of the enum; a compiled module
that needs another user file's module says so when that module was never loaded."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from construct import ConstructError

import pktspec
from pktspec.errors import DecodeError
from pktspec.generator.compiler import compile_program
from pktspec.layers import TLS
from pktspec.runtime.serialize import serialize
from pktspec.runtime.values import OpenEnum
from tests.generator.conftest import load_text, write_layer


def parsed(cls, data: bytes) -> dict:
    """FORMAT.parse as plain values, without construct's private keys."""
    out = {}
    for k, v in cls.FORMAT.parse(data).items():
        if not k.startswith("_"):
            out[k] = list(v) if isinstance(v, list) else v
    return out


# ---- 1. bytes[] and T[] before a `header =` boundary ----------------------------------------

TO_HEADER_END = """
## at a fixed offset: FixedSized(header - offset), as IPv4's options
layer RvFixedBytes : application { hl: u8; opt: bytes[]; header = hl; }
layer RvFixedArray : application { hl: u8; opt: u16[]; header = hl; }
layer RvScaled : application { hl: u8; x: u8; opt: bytes[]; header = hl * 2; }
## after a variable part: bounded by the header's end less the position
layer RvAfterBytes : application { hl: u8; n: u8; a: bytes[n]; rest: bytes[]; header = hl; }
layer RvAfterArray : application { hl: u8; n: u8; a: bytes[n]; rest: u16[]; header = hl; }
## a header of `remaining`
layer RvRemaining : application {
    n: u8;
    rest: bytes[];
    header = min(n, remaining);
}
"""


@pytest.fixture
def to_end(tmp_path, restore_registry):
    return load_text(tmp_path, TO_HEADER_END, "rv_to_end.layer")


def test_bytes_to_the_header_end_in_format_as_in_the_fast_path(to_end):
    data = bytes.fromhex("03aabb1122")
    layer = to_end.RvFixedBytes.from_bytes(data)
    assert layer.raw_fields() == {"hl": 3, "opt": b"\xaa\xbb"}
    assert parsed(to_end.RvFixedBytes, data) == {"hl": 3, "opt": b"\xaa\xbb"}
    packet = pktspec.decode(data, first="RvFixedBytes")
    assert bytes(packet.layers[0].payload) == b"\x11\x22"


@pytest.mark.parametrize("name, data, fields", [
    ("RvFixedArray", "0500010002ffff", {"hl": 5, "opt": [1, 2]}),
    ("RvScaled", "0207aabb1122", {"hl": 2, "x": 7, "opt": b"\xaa\xbb"}),
    ("RvAfterBytes", "0501aabbcc1122", {"hl": 5, "n": 1, "a": b"\xaa", "rest": b"\xbb\xcc"}),
    ("RvAfterArray", "0701aa00010002ffff", {"hl": 7, "n": 1, "a": b"\xaa", "rest": [1, 2]}),
    ("RvRemaining", "03aabb1122", {"n": 3, "rest": b"\xaa\xbb"}),
    ("RvRemaining", "09aabb", {"n": 9, "rest": b"\xaa\xbb"}),
])
def test_parts_to_the_end_agree_on_the_whole_data(to_end, name, data, fields):
    cls, data = getattr(to_end, name), bytes.fromhex(data)
    fast = {k: list(v) if isinstance(v, list) else v
            for k, v in cls.from_bytes(data).raw_fields().items()}
    assert fast == fields
    assert parsed(cls, data) == fields


@pytest.mark.parametrize("name, data", [
    ("RvFixedBytes", "00aabb"),  # a header shorter than the field before the part
    ("RvAfterBytes", "0202aabbcc"),
    ("RvAfterArray", "0202aabbcc"),
])
def test_a_header_shorter_than_its_fields_is_refused_by_both(to_end, name, data):
    cls, data = getattr(to_end, name), bytes.fromhex(data)
    with pytest.raises(DecodeError, match="shorter than its fields|truncated"):
        cls.from_bytes(data)
    with pytest.raises(ConstructError):
        cls.FORMAT.parse(data)


@pytest.mark.parametrize("name, fields, wire, decoded", [
    ("RvFixedBytes", {"opt": b"\xaa\xbb\xcc"}, "04aabbcc", None),
    ("RvFixedArray", {"opt": [1, 2]}, "0500010002", None),
    # padded to the header's 2-byte units: the padding is the part's, as the header says
    ("RvScaled", {"x": 7, "opt": b"\xaa\xbb\xcc"}, "0307aabbcc00", {"opt": b"\xaa\xbb\xcc\0"}),
    ("RvAfterBytes", {"a": b"\x01", "rest": b"xyz"}, "06010178797a", None),
    ("RvAfterArray", {"a": b"\x01", "rest": [1, 2]}, "07010100010002", None),
])
def test_layers_with_parts_to_the_header_end_build_and_decode_back(to_end, name, fields, wire,
                                                                   decoded):
    cls = getattr(to_end, name)
    data = serialize(cls(**fields), b"PP")
    assert data == bytes.fromhex(wire) + b"PP"
    packet = pktspec.decode(data, first=name)
    assert packet.error is None
    layer = packet.layers[0]
    assert bytes(layer.payload) == b"PP"
    for key, value in {**fields, **(decoded or {})}.items():
        assert getattr(layer, key) == value
    assert parsed(cls, data) == {k: list(v) if isinstance(v, list) else v
                                 for k, v in layer.raw_fields().items()}


def test_a_header_length_given_too_short_for_the_part_is_a_build_error(to_end):
    with pytest.raises(pktspec.BuildError, match="opt"):
        serialize(to_end.RvFixedBytes(hl=2, opt=b"\xaa\xbb\xcc"))


def test_tls_format_keeps_the_next_record_out_of_the_fragment():
    data = bytes.fromhex("170303000461626364") + bytes.fromhex("1703030002eeff")
    assert TLS.from_bytes(data).raw_fields()["fragment"] == b"abcd"
    assert parsed(TLS, data)["fragment"] == b"abcd"


# ---- 2. named items of an `extend` in another file -------------------------------------------

BASE = "enum RvKind : u8 { A = 1, B = 2 }\n"
EXTENDING = """
import "rv_kind_base.layer"
import "ipv4.layer"

layer RvKinded : application { kind: RvKind; x: u8; next by kind; }

extend RvKind { C = 3 -> IPv4, 4 -> RvKinded, A = 1 -> RvKinded priority -1 }
"""
IPV4 = bytes.fromhex("4500001400000000400000000a0000010a000002")


@pytest.fixture
def kinds(tmp_path, restore_registry):
    write_layer(tmp_path, BASE, "rv_kind_base.layer")
    return load_text(tmp_path, EXTENDING, "rv_kind_ext.layer")


def test_a_named_extend_item_displays_by_name(kinds):
    packet = pktspec.decode(bytes([3, 9]) + IPV4, first="RvKinded")
    layer = packet.layers[0]
    assert str(layer.fields()["kind"]) == "C (3)"
    assert "kind=C (3)" in repr(layer)
    assert [x.name for x in packet.layers][:2] == ["RvKinded", "IPv4"]  # dispatch as before
    assert kinds.RvKind.C == 3 and kinds.RvKind.name_of(3) == "C"
    assert kinds.RvKind.name_of(1) == "A"  # an item the enum declares stays as it is


def test_a_named_extend_item_builds_by_name(kinds):
    data = serialize(kinds.RvKinded(kind="C", x=1), IPV4)
    assert data[:2] == b"\x03\x01"
    assert pktspec.decode(data, first="RvKinded").layers[1].name == "IPv4"


def test_the_extending_module_adds_the_member_once_with_literals(tmp_path):
    write_layer(tmp_path, BASE, "rv_kind_base.layer")
    path = write_layer(tmp_path, EXTENDING, "rv_kind_ext.layer")
    text = compile_program(path)[1][str(path)]
    assert text.count(".add_member(") == 1
    assert ("_REGISTRY.add_member(RvKind, 'C', 3, source='rv_kind_ext.layer:7', "
            "module=__name__)\n") in text


def test_open_enum_add_member():
    class Kind(OpenEnum):
        A = 1
        B = 2

    member = Kind.add_member("C", 3)
    assert member is Kind.C and Kind(3) is member and str(member) == "C (3)"
    assert Kind.parse("c") == 3 and list(Kind.members()) == ["A", "B", "C"]
    assert Kind.add_member("C", 3) is member  # the same member again: a module reloaded
    assert str(Kind.add_member("First", 1)) == "A (1)"  # an alias: the display name stays
    with pytest.raises(ValueError, match="already 1"):
        Kind.add_member("A", 5)
    for name in ("parse", "name", "_x", "not valid"):
        with pytest.raises(ValueError):
            Kind.add_member(name, 9)
    assert Kind.name_of(9) is None
    with pytest.raises(TypeError):
        OpenEnum.add_member("X", 1)


# ---- 3. a compiled module that imports another user file's module ----------------------------

def _compile(tmp_path):
    write_layer(tmp_path, BASE, "rv_kind_base.layer")
    path = write_layer(tmp_path, EXTENDING, "rv_kind_ext.layer")
    run = subprocess.run([sys.executable, "-m", "pktspec", "compile", str(path), "-o",
                          str(tmp_path / "rv_layers.py")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def _python(tmp_path, code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PKTSPEC_CACHE=str(tmp_path / "cache"))
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_compiled_module_says_which_file_to_load_first(tmp_path):
    _compile(tmp_path)
    run = _python(tmp_path, "import rv_layers")
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last == ("ImportError: rv_layers needs the layers of rv_kind_base.layer: load it "
                    "first with pktspec.load('rv_kind_base.layer')")
    assert "ModuleNotFoundError" not in run.stderr


def test_a_compiled_module_imports_once_its_dependency_is_loaded(tmp_path):
    _compile(tmp_path)
    run = _python(tmp_path, "import pktspec; pktspec.load('rv_kind_base.layer'); "
                            "import rv_layers; print(rv_layers.RvKinded.name, "
                            "rv_layers.RvKind(3))")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["RvKinded", "C", "(3)"]
