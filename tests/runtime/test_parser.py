"""Parser: decoding into preallocated layers, the hot-loop API."""

from __future__ import annotations

import pytest
from runtime_fixtures import CALLS, Inner, Net, Outer, OuterType, Payload, inner, net, outer

from pktspec.runtime.parser import Parser

FULL = outer(OuterType.NET) + net() + inner(hlen=8) + b"hello"


def test_decodes_into_the_same_instances_every_time():
    parser = Parser(Outer, [Outer, Net, Inner])
    first = parser[Inner]
    assert parser.decode_layers(FULL) == [Outer, Net, Inner]
    assert parser[Inner] is first and first.hlen == 8
    decoded = parser.decoded
    assert parser.decode_layers(outer(OuterType.INNER) + inner(src_port=7)) is decoded
    assert decoded == [Outer, Inner]
    assert parser[Inner] is first and first.src_port == 7


def test_instances_by_class_name_and_attribute():
    parser = Parser("Outer", [Outer, "Net", Inner])
    parser.decode_layers(FULL)
    assert parser.net is parser[Net] is parser["Net"] is parser["net"]
    assert parser.inner.src_port == 1000
    assert Net in parser and Payload not in parser
    with pytest.raises(AttributeError):
        _ = parser.tcp
    with pytest.raises(KeyError, match="parser has no tcp layer"):
        parser["tcp"]
    with pytest.raises(KeyError):
        parser[Payload]
    assert repr(parser) == "<Parser first=Outer layers=[Outer, Net, Inner]>"


def test_first_is_always_included():
    parser = Parser(Outer, [Inner])
    assert parser.decode_layers(outer(OuterType.INNER) + inner()) == [Outer, Inner]


def test_unsupported_next_layer_stops_with_a_flag():
    parser = Parser(Outer, [Outer, Inner])
    assert parser.decode_layers(FULL) == [Outer]
    assert parser.unsupported is Net and parser.error is None and not parser.truncated
    parser.decode_layers(outer(OuterType.INNER) + inner())
    assert parser.unsupported is None


def test_payload_when_asked_for():
    parser = Parser(Outer, [Outer, Net, Inner, Payload])
    assert parser.decode_layers(FULL) == [Outer, Net, Inner, Payload]
    assert parser[Payload].payload == b"hello"
    assert parser.decode_layers(outer(OuterType.INNER) + inner()) == [Outer, Inner]


def test_errors_are_data():
    parser = Parser(Outer, [Outer, Net, Inner])
    assert parser.decode_layers(outer(OuterType.NET) + net() + inner()[:4]) == [Outer, Net]
    assert parser.truncated
    assert (parser.error.layer, parser.error.field_path, parser.error.offset) == (
        "Inner",
        "hlen",
        16,
    )
    assert parser.decode_layers(outer(OuterType.INNER) + inner(hlen=1)) == [Outer]
    assert parser.error.field_path == "hlen" and not parser.truncated
    parser.decode_layers(FULL)
    assert parser.error is None


def test_no_copy_of_the_input():
    parser = Parser(Outer, [Outer, Net, Inner])
    view = memoryview(bytearray(FULL))
    parser.decode_layers(view)
    assert parser[Inner].payload.obj is view.obj


def test_each_layer_decoded_once_per_packet():
    parser = Parser(Outer, [Outer, Net, Inner])
    for _ in range(3):
        parser.decode_layers(FULL)
    assert CALLS == {"Outer": 3, "Net": 3, "Inner": 3}


def test_decode_layers_is_a_method_a_subclass_may_wrap():
    """parser.decode_layers is a closure over the parser's state (fast), but a method too: a
    subclass overrides it, an unbound call works, and a parser dropped is freed at once (the
    closure does not refer to the parser, so no cycle keeps the last packet's buffer)."""
    import gc
    import weakref

    class Counting(Parser):
        __slots__ = ("count",)

        def decode_layers(self, data):
            self.count = getattr(self, "count", 0) + 1
            return super().decode_layers(data)

    parser = Counting("Outer", [Outer, Net, Inner])
    assert parser.decode_layers(FULL) == [Outer, Net, Inner] and parser.count == 1
    assert Parser.decode_layers(parser, FULL) == [Outer, Net, Inner]
    plain = Parser("Outer", [Outer, Net, Inner])
    plain.decode_layers(bytearray(FULL))
    with pytest.raises(AttributeError):
        plain.decoded = []  # the same list every time: read-only
    gone = weakref.ref(plain)
    gc.disable()
    try:
        del plain
        assert gone() is None
    finally:
        gc.enable()
