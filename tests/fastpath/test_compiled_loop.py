"""The compiled decode loop (runtime/fastpath_c/) against the Python loop it stands in for.

The Python loop and each layer's generated ``_decode`` are the reference: every test here
decodes the same bytes both ways and asserts the same result, slot for slot, on every record
of the corpus, on mutated copies of them and on hand-made edge cases. Without the extension
(no compiler at install time) these tests skip, except in CI, where it must have been built.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.layers import Ethernet, IPv4
from pktspec.runtime import fastpath
from pktspec.runtime import packet as packet_module
from pktspec.runtime.layer import Layer
from pktspec.runtime.parser import Parser
from pktspec.runtime.registry import REGISTRY
from tests.conftest import corpus_or_skip

needs_extension = pytest.mark.skipif(
    not fastpath.ACTIVE, reason="the compiled loop is not built (no C compiler at install "
    "time) or PKTSPEC_PURE is set; the Python loop is what runs")


def test_ci_builds_the_compiled_loop():
    """CI installs with a C compiler: there the extension must be built and on."""
    if not os.environ.get("CI"):
        pytest.skip("only CI promises a C compiler")
    assert fastpath.BUILT and fastpath.ACTIVE


def slots_of(layer: Layer) -> dict:
    """Every slot value of a layer, by name (unset ones as a marker)."""
    values = {"<class>": type(layer)}
    for klass in type(layer).__mro__:
        for name in getattr(klass, "__slots__", ()):
            if name not in values and name not in ("__weakref__", "__dict__"):
                try:
                    value = getattr(layer, name)
                except AttributeError:
                    value = "<unset>"
                if isinstance(value, BaseException):  # compared by what they say
                    value = (str(value), getattr(value, "truncated", None))
                values[name] = (type(value), value)
    return values


def packet_state(packet) -> tuple:
    error = packet.error
    return ([slots_of(layer) for layer in packet._layers],
            None if error is None else (type(error), str(error), error.layer, error.field_path,
                                        error.offset),
            packet._net is not None and slots_of(packet._net),
            packet._trans is not None and slots_of(packet._trans),
            packet._tail, packet.data, packet.metadata)


def corpus_records():
    """(capture name, number, bytes, first layer class) of every record of the corpus."""
    corpus = corpus_or_skip()
    out = []
    for path in sorted((corpus / "captures").iterdir()):
        if path.name.startswith("badfile__"):
            continue
        try:
            source = pktspec.open(str(path))
            for number, (data, info) in enumerate(source.records(), 1):
                first = source.first_layer(info.linktype)
                if first is not None:
                    out.append((path.name, number, bytes(data), first, info))
        except pktspec.errors.CaptureError:
            continue
    return out


@pytest.fixture(scope="module")
def records():
    return corpus_records()


@needs_extension
def test_eager_decode_is_the_python_loop_on_every_corpus_record(records):
    assert len(records) > 1000
    differ = []
    for name, number, data, first, info in records:
        compiled = packet_module.decode_eager(data, first, info)
        python = packet_module.python_decode_eager(data, first, info)
        if packet_state(compiled) != packet_state(python):
            differ.append(f"{name} #{number}")
    assert not differ, differ[:10]


@needs_extension
def test_parser_is_the_python_decoder_on_every_corpus_record(records):
    classes = REGISTRY.layers()
    parsers = {}
    differ = []
    for name, number, data, first, _info in records:
        parser = parsers.get(first)
        if parser is None:
            parser = parsers[first] = Parser(first, classes)
        compiled = parser.decode_layers
        assert type(compiled).__name__ == "ChainDecoder"
        got = (list(compiled(data)), parser.unsupported, repr(parser.error),
               [slots_of(parser[c]) for c in parser.decoded])
        want = (list(compiled.fallback(data)), parser.unsupported, repr(parser.error),
                [slots_of(parser[c]) for c in parser.decoded])
        if got != want:
            differ.append(f"{name} #{number}")
    assert not differ, differ[:10]


def layers_with_programs() -> list[type]:
    return [cls for cls in _all_layer_classes() if cls.__dict__.get("_PROGRAM") is not None]


def _all_layer_classes() -> list[type]:
    seen, todo = [], [Layer]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.append(sub)
                todo.append(sub)
    return [c for c in seen if c.__module__.startswith("pktspec.protocols")]


def test_most_built_in_layers_have_a_program():
    """The translator covers the hot layers and most others (what it refuses is listed in
    docs/STATUS.md: construct parts, text searches, try blocks)."""
    names = {cls.__name__ for cls in layers_with_programs()}
    assert {"Ethernet", "IPv4", "IPv6", "TCP", "UDP", "DNS", "Payload", "ARP", "ICMPv4",
            "ICMPv6", "Dot1Q", "SNAP", "LLC"} <= names
    assert len(names) >= 70


@needs_extension
def test_every_built_in_program_runs_compiled():
    missing = [c.__name__ for c in layers_with_programs()
               if c._fast is None or not c._fast.native]
    assert not missing, f"{missing}: run `pktspec compile --builtins` and reinstall"


def interpreted(cls: type):
    """cls's program in the extension's interpreter (no key: not the compiled function)."""
    program = fastpath._ext.Program(cls._PROGRAM, cls, cls.__dict__["_decode"].__globals__)
    assert not program.native
    return program


def outcome(cls: type, run, buf, off: int, end: int):
    """What decoding one layer does: ('ok', next class, slots), ('error', type, text) or
    'abort' (the program handed it to Python)."""
    layer = cls.__new__(cls)
    try:
        result = run(layer, buf, off, end)
    except Exception as exc:  # noqa: BLE001 - the error is what is compared
        return ("error", type(exc), str(exc))
    if result is fastpath.ABORT:
        return "abort"
    return ("ok", result, slots_of(layer))


def compare_layer(cls: type, buf: bytes, off: int, end: int) -> None:
    """Python's _decode, the compiled function and the interpreter agree (an abort agrees
    with anything: Python then decodes the layer itself)."""
    python = outcome(cls, lambda layer, *a: layer._decode(*a), buf, off, end)
    program = interpreted(cls)
    for run in (lambda layer, *a: fastpath.run_program(cls, layer, *a),
                lambda layer, *a: fastpath._ext.run(program, layer, *a)):
        got = outcome(cls, run, buf, off, end)
        if got == "abort":
            continue
        assert got == python, (cls.__name__, buf[off:end].hex())


@pytest.fixture(scope="module")
def layer_samples(records):
    """(class, buf, off, end) of up to 40 decoded layers of every class with a program."""
    samples: dict[type, list] = {}
    for _name, _number, data, first, info in records:
        for layer in packet_module.python_decode_eager(data, first, info).layers:
            cls = type(layer)
            if cls.__dict__.get("_PROGRAM") is not None and len(samples.get(cls, ())) < 40:
                samples.setdefault(cls, []).append((layer._buf, layer._off, layer._end))
    return samples


@needs_extension
def test_each_program_decodes_its_layers_as_python_does(layer_samples):
    assert len(layer_samples) >= 25
    for cls, samples in layer_samples.items():
        for buf, off, end in samples:
            compare_layer(cls, buf, off, end)
            compare_layer(cls, buf, off, off + (end - off) // 2)  # cut short
            compare_layer(cls, bytearray(buf), off, end)
            compare_layer(cls, memoryview(buf), off, end)


@needs_extension
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_layers_decode_as_python_does(layer_samples, data):
    """Random bytes written over a real layer: lengths, versions and flags that lie."""
    cls = data.draw(st.sampled_from(sorted(layer_samples, key=lambda c: c.__name__)))
    buf, off, end = data.draw(st.sampled_from(layer_samples[cls]))
    buf = bytearray(buf)
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(off, max(off, min(end, off + 64) - 1)))
        if at < len(buf):
            buf[at] = data.draw(st.integers(0, 255))
    end = data.draw(st.integers(off, end))
    compare_layer(cls, bytes(buf), off, end)


@needs_extension
@settings(max_examples=300, deadline=None)
@given(frame=st.binary(max_size=120), first=st.sampled_from(["Ethernet", "IPv4", "IPv6",
                                                             "LinuxSLL", "Loopback"]))
def test_random_bytes_decode_as_the_python_loop_does(frame, first):
    cls = REGISTRY.layer(first)
    assert packet_state(packet_module.decode_eager(frame, cls)) == \
        packet_state(packet_module.python_decode_eager(frame, cls))


@needs_extension
def test_strict_raises_the_same_error():
    frame = Ethernet(ethertype=0x0800).build() + b"\x45\x00"
    errors = []
    for decode_eager in (packet_module.decode_eager, packet_module.python_decode_eager):
        with pytest.raises(pktspec.errors.DecodeError) as info:
            decode_eager(frame, Ethernet, None, True)
        errors.append((str(info.value), info.value.layer, info.value.offset))
    assert errors[0] == errors[1]
    assert errors[0][1] == "IPv4"


@needs_extension
def test_buffers_it_does_not_read_go_to_the_python_loop():
    """A memoryview of 16-bit items indexes differently: the Python loop decodes it (and
    fails as it always did), the compiled one does not guess."""
    frame = (Ethernet() / IPv4(src="192.0.2.1")).build()
    odd = memoryview(frame + (b"\0" if len(frame) % 2 else b"")).cast("H")
    assert packet_state(packet_module.decode_eager(odd, Ethernet)) == \
        packet_state(packet_module.python_decode_eager(odd, Ethernet))
    flat = packet_module.decode_eager(memoryview(frame), Ethernet)
    assert flat.layer(IPv4).src == "192.0.2.1"


def test_pure_python_can_be_forced():
    """PKTSPEC_PURE=1: the compiled loop stays off and decoding works the same."""
    code = ("import pktspec; from pktspec.runtime import fastpath, packet;"
            "from pktspec.layers import Ethernet, IPv4, TCP;"
            "f = (Ethernet(ethertype=0x0800) / IPv4(src='192.0.2.1', protocol=6) / "
            "TCP(src_port=1, dst_port=2)).build();"
            "p = pktspec.decode(f, Ethernet);"
            "print(fastpath.ACTIVE, packet.decode_eager is packet.python_decode_eager,"
            " IPv4._fast, p.transport.dst_port)")
    env = dict(os.environ, PKTSPEC_PURE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, cwd=Path(__file__).parents[2]).stdout
    assert out.split() == ["False", "True", "None", "2"]


def test_a_replaced_decode_is_the_one_that_runs(monkeypatch):
    """A program stands in for the _decode it was made from, never for another: a test
    double or a subclass's own _decode runs, in every loop."""
    from pktspec.layers import TCP

    frame = (Ethernet() / IPv4(src="192.0.2.1") / TCP(src_port=1, dst_port=2)).build()
    calls = []
    original = IPv4._decode

    def counting(self, buf, off, end):
        calls.append(off)
        return original(self, buf, off, end)

    monkeypatch.setattr(IPv4, "_decode", counting)
    assert pktspec.decode(frame, Ethernet).transport.dst_port == 2
    assert pktspec.decode(frame, Ethernet, lazy=True).transport.dst_port == 2
    parser = Parser(Ethernet, [Ethernet, IPv4, TCP])
    assert parser.decode_layers(frame) == [Ethernet, IPv4, TCP]
    assert calls == [14, 14, 14]
