"""Loading users' .layer files: compiled once, cached by content, bound into the chain from
their own file, and compilable to a standalone module."""

from __future__ import annotations

import subprocess
import sys

import pktspec
from pktspec.cli import main
from pktspec.generator.builtins import regenerate
from pktspec.generator.compiler import compile_program
from pktspec.layers import UDP
from tests.generator.conftest import write_layer

ETH_IP_UDP = bytes.fromhex(
    "ffffffffffff" "020000000001" "0800"
    "4500001c00010000401100000a0000010a000002"
    "1a0a270f00080000")


def test_extend_udp_port_from_own_file(tmp_path):
    mod = pktspec.load(write_layer(tmp_path, 'import "udp.layer"\n'
                                   "## A 2-byte demo header on UDP port 9999.\n"
                                   "layer Demo9999 : application {\n  tag: u16;\n}\n"
                                   "extend UDPPort { 9999 -> Demo9999 }\n", "demo9999.layer"))
    data = ETH_IP_UDP[:-8] + bytes.fromhex("1a0a270f000a0000") + b"\xbe\xef"
    data = data[:16] + b"\x00\x1e" + data[18:]
    p = pktspec.decode(data)
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "UDP", "Demo9999"]
    assert p[mod.Demo9999].tag == 0xBEEF
    assert p.application is p[mod.Demo9999]
    assert mod.Demo9999.__doc__ == "A 2-byte demo header on UDP port 9999."
    assert pktspec.layers.Demo9999 is mod.Demo9999
    assert p[UDP].dst_port == 9999


def test_cache_hit_and_recompile_on_edit(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("PKTSPEC_CACHE", str(cache))
    path = write_layer(tmp_path, "layer Cached : other {\n  a: u8;\n}\n", "cached.layer")
    first = pktspec.load(path)
    files = sorted(cache.iterdir())
    assert len(files) == 1
    again = pktspec.load(path)
    assert again is first and sorted(cache.iterdir()) == files
    path.write_text("layer Cached : other {\n  a: u8;\n  b: u8;\n}\n")
    edited = pktspec.load(path)
    assert len(list(cache.iterdir())) == 2
    assert pktspec.decode(b"\x01\x02", edited.Cached).layers[0].b == 2


def test_generation_is_deterministic(tmp_path):
    path = write_layer(tmp_path, 'import "tcp.layer"\nlayer D : application {\n'
                                 "  a: u4;\n  b: u12;\n  s: bytes[a];\n}\n"
                                 "extend TCPPort { 7777 -> D }\n", "determinism.layer")
    _, first = compile_program(path)
    _, second = compile_program(path)
    assert first == second
    assert all(str(tmp_path) not in text for text in first.values())


def test_builtin_modules_match_their_layer_files():
    assert regenerate(check_only=True) == []


def test_standalone_compile_needs_only_runtime_and_construct(tmp_path):
    src = write_layer(tmp_path, 'import "ethernet.layer"\n'
                                "layer Standalone : link {\n  tag: bytes[4];\n  next Ethernet;\n}\n",
                      "standalone.layer")
    out = tmp_path / "standalone_layers.py"
    assert main(["compile", str(src), "-o", str(out)]) == 0
    script = (
        "import sys, standalone_layers as m, pktspec.runtime as rt\n"
        "assert 'lark' not in sys.modules and 'jinja2' not in sys.modules\n"
        f"p = rt.decode(b'TAG!' + bytes.fromhex({ETH_IP_UDP.hex()!r}), m.Standalone)\n"
        "print([x.name for x in p.layers])\n")
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                         text=True, check=True)
    assert run.stdout.strip() == "['Standalone', 'Ethernet', 'IPv4', 'UDP']"


def test_two_files_of_one_name_are_refused_not_shadowed(tmp_path):
    """Both would be the module pktspec.user.proto: the second would hide the first."""
    import pytest

    import pktspec
    from pktspec.errors import SpecError

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "proto.layer").write_text("layer StemClashA : other { x: u8; }\n")
    (tmp_path / "b" / "proto.layer").write_text("layer StemClashB : other { y: u8; }\n")
    first = pktspec.load(tmp_path / "a" / "proto.layer")
    assert pktspec.load(tmp_path / "a" / "proto.layer") is first  # the same file again: fine
    with pytest.raises(SpecError) as raised:
        pktspec.load(tmp_path / "b" / "proto.layer")
    assert "another file called proto.layer is loaded already" in str(raised.value)
    assert raised.value.hint == "rename one of the two files"
