"""Edge cases of the compiled loop found by review: arguments and user code that run
during a decode. Each is compared with the Python loop, which is the reference."""

from __future__ import annotations

import ctypes
import gc
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.generator.fast_program import program_for
from pktspec.layers import TCP, UDP, Ethernet, IPv4
from pktspec.runtime import fastpath
from pktspec.runtime import packet as packet_module
from pktspec.runtime.parser import Parser, _Outcome
from pktspec.runtime.registry import REGISTRY

pytestmark = pytest.mark.skipif(not fastpath.ACTIVE,
                                reason="the compiled loop is not built or is off")

TCP_FRAME = (Ethernet() / IPv4(src="192.0.2.1", protocol=6) / TCP(src_port=1, dst_port=2)).build()
UDP_FRAME = (Ethernet() / IPv4(src="192.0.2.1", protocol=17)
             / UDP(src_port=40000, dst_port=40001) / b"hello").build()


def both(call):  # noqa: ANN001
    """call(decode_eager) for the compiled and the Python loop: (result or error) each."""
    out = []
    for decode_eager in (packet_module.decode_eager, packet_module.python_decode_eager):
        try:
            out.append(("ok", call(decode_eager)))
        except Exception as exc:  # noqa: BLE001 - the error is what is compared
            out.append(("error", type(exc), str(exc)))
    return out


@pytest.mark.parametrize("first", [memoryview, dict, type])
def test_a_built_in_type_as_first_layer_is_refused_as_python_refuses_it(first):
    compiled, python = both(lambda decode_eager: decode_eager(b"abc", first))
    assert compiled == python and compiled[0] == "error"
    with pytest.raises(TypeError, match="is not safe"):
        pktspec.decode(b"abc", first)
    with pytest.raises(TypeError, match="is not safe"):
        fastpath._ext.decode_layer(first, b"abc", 0, 3)


def test_a_preallocated_object_of_another_class_gets_python_not_the_program():
    class Small:
        __slots__ = ()

    state = _Outcome()
    decoder = fastpath.chain_decoder(Ethernet, {Ethernet: Small()}, None, [], state,
                                     lambda data: None)
    assert decoder(TCP_FRAME) == []
    assert "AttributeError" in str(state.error)


def test_a_decoder_that_replaces_its_own_instance_does_not_free_it_under_the_loop(
        monkeypatch):
    parser = Parser(Ethernet, [Ethernet, IPv4, TCP])
    original = IPv4._decode

    def evicting(self, buf, off, end):
        result = original(self, buf, off, end)
        parser._instances[IPv4] = IPv4.__new__(IPv4)  # the last reference to self goes
        return result

    monkeypatch.setattr(IPv4, "_decode", evicting)
    for name in ("ipv4", "IPv4"):
        parser.__dict__.pop(name, None)
    assert parser.decode_layers(TCP_FRAME) == [Ethernet, IPv4, TCP]


def test_a_heuristic_that_resizes_the_callers_bytearray(restore_registry):
    """No buffer export is held while Python runs: a bytearray can still be resized."""
    calls = []

    def heuristic(buf, off, end):
        calls.append(type(buf))
        if isinstance(buf, bytearray):
            buf.extend(b"!")
        return False

    REGISTRY.table("UDPPort").add_heuristic(heuristic, REGISTRY.layer("Payload"))
    compiled, python = both(
        lambda decode_eager: repr(decode_eager(bytearray(UDP_FRAME), Ethernet).error))
    assert compiled == python == ("ok", "None")
    parser = Parser(Ethernet, [Ethernet, IPv4, UDP])
    assert parser.decode_layers(bytearray(UDP_FRAME)) == [Ethernet, IPv4, UDP]
    assert parser.error is None and calls


def test_a_released_memoryview_fails_as_in_python():
    data = (ctypes.c_ubyte * 64)()
    view = memoryview(data)
    view.release()
    del data
    gc.collect()
    compiled, python = both(lambda decode_eager: decode_eager(view, Ethernet))
    assert compiled == python and compiled[0] == "error"


def test_strict_errors_keep_their_context(restore_registry):
    def heuristic(buf, off, end):
        raise ValueError("boom")

    REGISTRY.table("UDPPort").add_heuristic(heuristic, REGISTRY.layer("Payload"))
    seen = []
    for decode_eager in (packet_module.decode_eager, packet_module.python_decode_eager):
        with pytest.raises(pktspec.errors.DecodeError) as info:
            decode_eager(UDP_FRAME, Ethernet, None, True)
        seen.append((repr(info.value.__cause__), repr(info.value.__context__),
                     info.value.__suppress_context__))
    assert seen[0] == seen[1] == ("ValueError('boom')", "ValueError('boom')", True)


def test_a_class_with_a_program_can_be_collected():
    """Program -> class -> Program is a cycle the collector sees (reloaded .layer files)."""
    klass = type("Reloaded", (IPv4,), {"_PROGRAM": IPv4._PROGRAM, "__slots__": (),
                                       "_decode": IPv4.__dict__["_decode"]})
    assert klass._fast is not None
    ref = weakref.ref(klass)
    del klass
    gc.collect()
    assert ref() is None


def test_a_local_assigned_on_one_path_only_is_not_translated():
    """Python raises UnboundLocalError reading it on the other path; a register would read
    zero, so the translator refuses (the layer keeps its Python decoder)."""
    lines = ["if end - off > 4:", "    n = 4", "hend = off + n", "pend = end",
             "self._hend = hend", "return None"]
    assert program_for(lines, []) is None
    both_paths = ["if end - off > 4:", "    n = 4", "else:", "    n = 2", "hend = off + n",
                  "self._hend = hend", "return None"]
    assert program_for(both_paths, []) is not None
    raising = ["if end - off > 4:", "    n = 4", "else:", "    raise self._fail('x', off, 'y')",
               "hend = off + n", "self._hend = hend", "return None"]
    assert program_for(raising, []) is not None


_ATOMS = st.one_of(st.integers(-3, 70), st.sampled_from(
    ["c", "r", "s", "b", "+", "<<", "//", "if", "and", "not", "abort", "abortif", "ret", "jf",
     "j", "reg", "set", "obj", "buf", "tuple", "slice", "unpack", "dispatch", "i", "b", "B",
     "H", "s", "slot", "reg", "int", ">", "<", "big", "nope"]))
_PARTS = st.recursive(_ATOMS, lambda inner: st.tuples(inner, inner) | st.tuples(inner, inner, inner)
                      | st.tuples(inner, inner, inner, inner) | st.lists(inner, max_size=6).map(tuple),
                      max_leaves=40)


@settings(max_examples=500, deadline=None)
@given(registers=st.integers(-1, 70), code=st.lists(_PARTS, min_size=1, max_size=8).map(tuple),
       slots=st.lists(st.sampled_from(["ttl", "id", "_src", "nope", 3]), max_size=4).map(tuple))
def test_a_malformed_program_is_refused_never_run(registers, code, slots):
    """Programs come from the generator, but the extension checks every index, arity and
    jump anyway: garbage gives ValueError or TypeError, and whatever it accepts runs on a
    real packet without crashing (an abort at worst)."""
    globals_ = IPv4.__dict__["_decode"].__globals__
    try:
        program = fastpath._ext.Program((1, registers, slots, ("Fragment",), code), IPv4,
                                        globals_)
    except (ValueError, TypeError):
        return
    layer = IPv4.__new__(IPv4)
    try:
        fastpath._ext.run(program, layer, TCP_FRAME, 14, len(TCP_FRAME))
    except Exception:  # noqa: BLE001 - a Python error is fine; a crash is not
        pass


_OPS = ["b", "+", "-", "*", "//", "%", "<<", ">>", "&", "|", "^", "<", "<=", ">", ">=", "==",
        "!=", "not", "neg", "inv", "and", "or", "if"]


def _random_expr(rnd, depth: int = 0) -> tuple:
    if depth > 3 or rnd.random() < 0.4:
        kind = rnd.choice(["c", "r", "s"])
        return (kind, rnd.randint(-2**40, 2**40) if kind == "c" else rnd.randint(0, 2))
    op = rnd.choice(_OPS)
    if op in ("b", "not", "neg", "inv"):
        return (op, _random_expr(rnd, depth + 1))
    if op == "if":
        return (op, *(_random_expr(rnd, depth + 1) for _ in range(3)))
    return (op, _random_expr(rnd, depth + 1), _random_expr(rnd, depth + 1))


def _random_statement(rnd, pc: int, n: int) -> tuple:
    kind = rnd.choice(["abortif", "reg", "set", "jf", "j", "ret", "obj", "buf", "tuple",
                       "slice", "unpack", "dispatch"])
    e = lambda: _random_expr(rnd)  # noqa: E731
    return {
        "abortif": lambda: (kind, e()),
        "reg": lambda: (kind, rnd.randint(0, 4), e()),
        "set": lambda: (kind, rnd.randint(0, 1), e(), rnd.choice("ib")),
        "jf": lambda: (kind, e(), rnd.randint(pc + 1, n)),
        "j": lambda: (kind, rnd.randint(pc + 1, n)),
        "ret": lambda: (kind, rnd.choice([-1, 0])),
        "obj": lambda: (kind, rnd.randint(0, 2), rnd.randint(0, 1)),
        "buf": lambda: (kind, 2),
        "tuple": lambda: (kind, 2, (e(), e())),
        "slice": lambda: (kind, 2, e(), e(), rnd.randint(0, 1)),
        "unpack": lambda: (kind, e(), 4, rnd.choice("<>"),
                           (("H", 2, 0, "reg", rnd.randint(0, 4)), ("b", 1, 2, "slot", 0),
                            ("s", 1, 3, "int", rnd.randint(0, 4), "big", rnd.randint(0, 1)))),
        "dispatch": lambda: (kind, 1, (e(),), rnd.randint(0, 4), rnd.randint(0, 4)),
    }[kind]()


@settings(max_examples=60, deadline=None)
@given(rnd=st.randoms(use_true_random=False))
def test_well_formed_random_programs_run_without_crashing(rnd):
    """Programs the extension accepts, made at random: every one runs to a next class, an
    abort or a Python error on short, odd and empty buffers, never to a crash."""
    globals_ = IPv4.__dict__["_decode"].__globals__
    for _ in range(40):
        n = rnd.randint(1, 8)
        code = tuple(_random_statement(rnd, pc, n) for pc in range(n))
        program = fastpath._ext.Program(
            (1, 5, ("ttl", "id", "_options"), ("Fragment", "_T_IPProtocol"), code), IPv4,
            globals_)
        for buf in (b"\x45" * 40, b"", bytearray(b"\x01\x02\x03\x04\x05"),
                    memoryview(b"\xff" * 9)):
            try:
                fastpath._ext.run(program, IPv4.__new__(IPv4), buf, 0, len(buf))
            except Exception:  # noqa: BLE001 - a Python error is fine; a crash is not
                pass
