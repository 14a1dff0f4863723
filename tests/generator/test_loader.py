"""Loading users' .layer files: compiled once, cached by content, bound into the chain from
their own file, and compilable to a standalone module."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pktspec
from pktspec.cli import main
from pktspec.errors import SpecError
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


def test_a_changed_generator_makes_the_cached_module_again(tmp_path, monkeypatch):
    """The cache key covers the generator's own code, not only its version number: a module
    cached by an older generator would hide what a change to the generator does."""
    from pktspec.generator import loader

    cache = tmp_path / "cache"
    monkeypatch.setenv("PKTSPEC_CACHE", str(cache))
    path = write_layer(tmp_path, "layer GenKeyed : other {\n  a: u8;\n}\n", "genkeyed.layer")
    pktspec.load(path)
    assert len(list(cache.iterdir())) == 1
    real = loader.generator_fingerprint()
    monkeypatch.setattr(loader, "generator_fingerprint", lambda: real + b"changed")
    pktspec.load(path)
    assert len(list(cache.iterdir())) == 2


def test_reloading_an_edited_file_replaces_its_layers_and_bindings(tmp_path, restore_registry):
    """The notebook loop: edit, load again. Bindings that moved to another line, layers the
    edit removed and a failing edit must all leave one consistent decode chain."""
    from pktspec.runtime.registry import REGISTRY

    ports = REGISTRY.table("UDPPort")
    path = write_layer(tmp_path, 'import "udp.layer"\nlayer Re : application { a: u8; }\n'
                                 "extend UDPPort { 41000 -> Re }\n", "reloaded.layer")
    pktspec.load(path)
    path.write_text('import "udp.layer"\n## edited: the binding moves down two lines\n'
                    "layer Re : application { a: u8; b: u8; }\nlayer Re2 : application { c: u8; }\n"
                    "extend UDPPort { 41000 -> Re, 41001 -> Re2 }\n")
    second = pktspec.load(path)
    assert ports[41000] is second.Re and [f.name for f in second.Re.fields_info] == ["a", "b"]
    assert ports[41001] is second.Re2 and pktspec.layers.Re2 is second.Re2
    path.write_text('import "udp.layer"\nlayer Re : application { a: u8; }\n'
                    "extend UDPPort { 41000 -> Re }\n")
    third = pktspec.load(path)
    assert 41001 not in ports and "Re2" not in REGISTRY
    assert [b.source for b in ports.bindings(41000)] == ["reloaded.layer:3"]
    path.write_text("layer Re : application { a: u8 }\n")  # does not parse
    with pytest.raises(SpecError):
        pktspec.load(path)
    assert ports[41000] is third.Re and REGISTRY.layer("Re") is third.Re


def test_a_file_loaded_twice_as_compiled_module_and_layer_file_is_named(tmp_path,
                                                                       restore_registry):
    path = write_layer(tmp_path, "layer Twice : other { a: u8; }\n", "twice.layer")
    assert main(["compile", str(path), "-o", str(tmp_path / "twice_layers.py")]) == 0
    sys.path.insert(0, str(tmp_path))
    try:
        import twice_layers  # noqa: F401
        with pytest.raises(SpecError) as info:
            pktspec.load(path)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("twice_layers", None)
    assert "(module twice_layers)" in str(info.value)
    assert "load one of the two" in str(info.value)


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


MYPROTO = ('import "ethernet.layer"\nlayer MyProto : network { a: u8; }\n'
           "extend EtherType { MyProtoType = 0x88b5 -> MyProto }\n")


def test_reloading_takes_back_the_enum_members_of_the_old_version(tmp_path, restore_registry):
    """Members an ``extend`` added go with the version that added them: a changed value
    loads (it was a raw ValueError and a rolled-back reload), a renamed item leaves no
    trace of the old name, and a failing reload puts the old members back."""
    from pktspec.protocols.ethernet import EtherType

    path = write_layer(tmp_path, MYPROTO, "myproto.layer")
    pktspec.load(path)
    assert EtherType.MyProtoType == 0x88B5
    path.write_text(MYPROTO.replace("0x88b5", "0x88b6"))
    second = pktspec.load(path)
    assert EtherType.MyProtoType == 0x88B6 and EtherType.name_of(0x88B5) is None
    assert pktspec.layers.MyProto is second.MyProto
    path.write_text(MYPROTO.replace("MyProtoType = 0x88b5", "Renamed = 0x88b7"))
    pktspec.load(path)
    assert "MyProtoType" not in EtherType._members_ and not hasattr(EtherType, "MyProtoType")
    assert EtherType.name_of(0x88B6) is None and EtherType.name_of(0x88B7) == "Renamed"
    path.write_text(MYPROTO.replace("MyProtoType = 0x88b5", "Other = 0x88b8")
                    + "layer Broken : other { a: u8 }\n")  # does not parse
    with pytest.raises(SpecError):
        pktspec.load(path)
    assert EtherType.Renamed == 0x88B7 and "Other" not in EtherType.members()


def test_restore_takes_back_enum_members(tmp_path):
    from pktspec.protocols.ethernet import EtherType
    from pktspec.runtime.registry import REGISTRY

    saved = REGISTRY.snapshot()
    try:
        pktspec.load(write_layer(tmp_path, MYPROTO, "myproto.layer"))
        assert EtherType.name_of(0x88B5) == "MyProtoType"
    finally:
        REGISTRY.restore(saved)
        sys.modules.pop("pktspec.user.myproto", None)
    assert "MyProtoType" not in EtherType.members() and EtherType.name_of(0x88B5) is None


def test_one_item_name_with_two_values_from_two_files_names_both(tmp_path, restore_registry):
    from pktspec.protocols.ethernet import EtherType

    pktspec.load(write_layer(tmp_path, MYPROTO, "myproto.layer"))
    other = MYPROTO.replace("MyProto ", "TheirProto ").replace("-> MyProto", "-> TheirProto")
    with pytest.raises(SpecError) as info:
        pktspec.load(write_layer(tmp_path, other.replace("0x88b5", "0x88b9"), "theirs.layer"))
    message = str(info.value)
    assert "myproto.layer:3" in message and "theirs.layer:3" in message
    assert "EtherType.MyProtoType" in message
    assert EtherType.MyProtoType == 0x88B5 and "TheirProto" not in pktspec.runtime.REGISTRY
