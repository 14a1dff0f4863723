"""Every path through the decode loops: chains of each length, a failure at each position.

The eager loop and the Parser write out their first three steps (see ``decode`` in packet.py),
lazy lookups decode in their own loop: these tests walk all of them with a
one-byte layer whose byte says what comes next, so each position and each way of ending
(no next layer, a payload, an error, too deep) is reached, and the three paths must agree.
"""

from __future__ import annotations

import pytest
from runtime_fixtures import CALLS, Payload

from pktspec.errors import DecodeError
from pktspec.runtime.layer import FieldInfo, Layer, LayerClass
from pktspec.runtime.packet import MAX_LAYERS, DecodeFailure, decode
from pktspec.runtime.parser import Parser
from pktspec.runtime.registry import REGISTRY

FAIL = 0xFF  # the hop byte that makes a Hop layer raise
BROKEN = 0xFE  # the hop byte that makes a Hop layer raise something that is not a DecodeError


class Hop(Layer):
    """One byte: 0 ends the chain (the rest is payload), 1 names Hop next, 2 names Last."""

    __slots__ = ("hop",)
    name = "Hop"
    layer_class = LayerClass.LINK
    fields_info = (FieldInfo("hop", "u8", offset=0, size=1),)

    def _decode(self, buf, off, end):
        CALLS["Hop"] += 1
        if end - off < 1:
            raise self._truncated(buf, off, end)
        self.hop = hop = buf[off]
        if hop == FAIL:
            raise self._fail("hop", off, "bad hop")
        if hop == BROKEN:
            raise ValueError("broken hop")
        self._set_bounds(buf, off, off + 1, end, end)
        return (None, Hop, Last)[hop]


class Last(Layer):
    """A transport-class layer of one byte, so typed lookups have something to find late."""

    __slots__ = ("value",)
    name = "Last"
    layer_class = LayerClass.TRANSPORT
    fields_info = (FieldInfo("value", "u8", offset=0, size=1),)

    def _decode(self, buf, off, end):
        CALLS["Last"] += 1
        if end - off < 1:
            raise self._truncated(buf, off, end)
        self.value = buf[off]
        self._set_bounds(buf, off, off + 1, end, end)
        return None


def chain(n: int, last: int = 0) -> bytes:
    """n Hop layers; the last one's byte is last (0: end, FAIL: error, 2: then Last)."""
    return bytes([1] * (n - 1) + [last])


def names(layers) -> list[str]:
    return [layer.name for layer in layers]


LENGTHS = [1, 2, 3, 4, 5, 6, MAX_LAYERS - 1, MAX_LAYERS]


class TestChains:
    @pytest.mark.parametrize("n", LENGTHS)
    @pytest.mark.parametrize("lazy", [False, True])
    def test_a_chain_of_n_layers(self, n, lazy):
        packet = decode(chain(n), Hop, lazy=lazy)
        assert names(packet.layers) == ["Hop"] * n
        assert packet.error is None
        assert CALLS["Hop"] == n

    @pytest.mark.parametrize("n", LENGTHS)
    @pytest.mark.parametrize("lazy", [False, True])
    def test_a_chain_with_a_payload(self, n, lazy):
        packet = decode(chain(n) + b"data", Hop, lazy=lazy)
        assert names(packet.layers) == ["Hop"] * n + ["Payload"]
        assert packet.application.data == b"data"
        assert packet.layers[-2]._hend == n

    @pytest.mark.parametrize("n", [1, 2, 3, 4, 5, MAX_LAYERS - 1])
    @pytest.mark.parametrize("lazy", [False, True])
    def test_a_chain_ending_in_a_layer_of_another_class(self, n, lazy):
        packet = decode(chain(n, last=2) + b"\x07", Hop, lazy=lazy)
        assert names(packet.layers) == ["Hop"] * n + ["Last"]
        assert packet.transport.value == 7

    @pytest.mark.parametrize("extra", [1, 2, 5])
    @pytest.mark.parametrize("lazy", [False, True])
    def test_too_deep(self, extra, lazy):
        packet = decode(chain(MAX_LAYERS + extra), Hop, lazy=lazy)
        layers = packet.layers
        assert len(layers) == MAX_LAYERS + 1 and type(layers[-1]) is DecodeFailure
        assert f"more than {MAX_LAYERS} layers" in packet.error.message
        assert packet.error.offset == MAX_LAYERS
        assert layers[-1].offset == MAX_LAYERS

    def test_a_lazy_lookup_finds_the_too_deep_failure(self):
        packet = decode(chain(MAX_LAYERS + 1), Hop, lazy=True)
        failure = packet.layer(DecodeFailure)
        assert failure is packet.layers[MAX_LAYERS] and "more than" in failure.error.message

    def test_too_deep_is_the_same_error_on_every_path(self):
        data = chain(MAX_LAYERS + 1)
        eager, lazy = decode(data, Hop), decode(data, Hop, lazy=True)
        lazy_typed = decode(data, Hop, lazy=True)
        assert lazy_typed.transport is None
        assert str(eager.error) == str(lazy.error) == str(lazy_typed.error)
        parser = Parser(Hop, [Hop])
        assert len(parser.decode_layers(data)) == MAX_LAYERS
        assert f"more than {MAX_LAYERS} layers" in parser.error.message


class TestFailures:
    @pytest.mark.parametrize("n", [1, 2, 3, 4, 5, MAX_LAYERS])
    @pytest.mark.parametrize("lazy", [False, True])
    @pytest.mark.parametrize("bad", [FAIL, BROKEN])
    def test_a_failure_at_each_position(self, n, lazy, bad):
        packet = decode(chain(n, last=bad) + b"rest", Hop, lazy=lazy)
        layers = packet.layers
        assert names(layers) == ["Hop"] * (n - 1) + ["DecodeFailure"]
        assert packet.error.layer == "Hop" and packet.error.offset == n - 1
        assert layers[-1].contents == (chain(n, last=bad) + b"rest")[n - 1 :]

    @pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
    @pytest.mark.parametrize("lazy", [False, True])
    def test_strict_raises_at_each_position(self, n, lazy):
        packet = None
        with pytest.raises(DecodeError, match="bad hop"):
            packet = decode(chain(n, last=FAIL), Hop, lazy=lazy, strict=True)
            _ = packet.layers
        if lazy:
            assert packet is not None  # lazy packets raise on access, not in decode()

    @pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
    def test_a_lazy_lookup_that_reaches_the_failure(self, n):
        packet = decode(chain(n, last=FAIL), Hop, lazy=True)
        failure = packet.layer(DecodeFailure)
        assert type(failure) is DecodeFailure and failure is packet.layers[-1]
        assert decode(chain(n, last=FAIL), Hop, lazy=True).transport is None


class TestLazyLookups:
    def test_a_class_lookup_decodes_up_to_the_layer_and_keeps_the_rest_pending(self):
        packet = decode(chain(4, last=2) + b"\x09tail", Hop, lazy=True)
        assert packet.layer(Hop) is packet.decoded[0]
        assert CALLS == {"Hop": 1}
        assert packet.transport.value == 9
        assert CALLS == {"Hop": 4, "Last": 1}
        assert packet.layer(Last) is packet.transport  # already decoded: nothing more
        assert CALLS == {"Hop": 4, "Last": 1}
        assert names(packet.layers) == ["Hop"] * 4 + ["Last", "Payload"]
        assert CALLS == {"Hop": 4, "Last": 1, "Payload": 1}

    def test_a_missing_layer_decodes_the_whole_packet_once(self):
        packet = decode(chain(5) + b"x", Hop, lazy=True)
        assert packet.transport is None and packet.layer(Last) is None
        assert packet.application.data == b"x"
        assert CALLS == {"Hop": 5, "Payload": 1}
        assert names(packet.decoded) == ["Hop"] * 5 + ["Payload"]

    def test_the_payload_layer_is_found_by_class_and_by_kind(self):
        assert type(decode(chain(2) + b"x", Hop, lazy=True).layer(Payload)) is Payload
        assert type(decode(chain(2) + b"x", Hop, lazy=True).application) is Payload
        assert type(decode(chain(2) + b"x", Hop).layer(Payload)) is Payload

    def test_lookups_in_any_order_agree_with_eager(self):
        data = chain(3, last=2) + b"\x01zz"
        eager = decode(data, Hop)
        for order in ("link transport application", "application link", "transport link"):
            packet = decode(data, Hop, lazy=True)
            for attr in order.split():
                assert names([getattr(packet, attr)]) == names([getattr(eager, attr)])
            assert names(packet.layers) == names(eager.layers)


class TestParserPaths:
    """The Parser's loop has the same shape as the eager one: it must give the same chains."""

    @pytest.mark.parametrize("n", LENGTHS)
    @pytest.mark.parametrize("rest", [b"", b"data"])
    @pytest.mark.parametrize("last", [0, 2, FAIL, BROKEN])
    def test_the_parser_agrees_with_eager_decoding(self, n, rest, last):
        data = chain(n, last=last) + (b"\x05" if last == 2 else b"") + rest
        packet = decode(data, Hop)
        parser = Parser(Hop, [Hop, Last, Payload])
        decoded = parser.decode_layers(data)
        expected = [type(layer) for layer in packet.layers if type(layer) is not DecodeFailure]
        assert decoded == expected
        assert str(parser.error) == str(packet.error)

    @pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
    def test_an_unsupported_layer_at_each_position(self, n):
        parser = Parser(Hop, [Hop])
        assert parser.decode_layers(chain(n, last=2) + b"\x05") == [Hop] * n
        assert parser.unsupported is Last and parser.error is None
        assert parser.decode_layers(chain(n)) == [Hop] * n
        assert parser.unsupported is None

    def test_the_payload_after_the_deepest_layer_is_decoded(self):
        parser = Parser(Hop, [Hop, Payload])
        assert parser.decode_layers(chain(MAX_LAYERS) + b"x") == [Hop] * MAX_LAYERS + [Payload]
        assert parser.error is None

    def test_first_can_change_between_packets(self):
        parser = Parser(Hop, [Hop, Last])
        parser.first = Last
        assert parser.decode_layers(b"\x09") == [Last] and parser[Last].value == 9
        parser.first = Hop
        assert parser.first is Hop and parser.decode_layers(chain(2)) == [Hop, Hop]
        parser.first = "Payload"  # a layer name, of a class the parser does not have
        assert parser.first is Payload
        assert parser.decode_layers(b"x") == [] and parser.unsupported is Payload


def test_layer_classes_do_not_define_new():
    """decode() allocates layers with object.__new__ (cheaper than cls.__new__(cls) by an
    attribute lookup), which is the same thing only for classes that do not define __new__."""
    import pktspec.protocols  # noqa: F401  (registers the built-in layers)
    from pktspec.runtime.pylayer import PyLayer

    classes = [Layer, PyLayer, DecodeFailure, Hop, Last, *REGISTRY.layers()]
    assert [cls for cls in classes if cls.__new__ is not object.__new__] == []


def test_typed_layers_are_the_first_of_their_kind_in_every_chain_shape():
    """decode() tells `network`/`transport` about a link/network/transport start; every
    other shape must find the first layer of each kind by looking, and agree with a scan."""
    from pktspec.layers import UDP, Ethernet, IPv4, IPv6

    inner = IPv4(src="192.0.2.1", dst="192.0.2.2") / UDP(src_port=1, dst_port=2) / b"x"
    frames = {
        Ethernet: (Ethernet() / IPv4(src="10.0.0.1", dst="10.0.0.2") / inner).build(),
        IPv4: (IPv4(src="10.0.0.1", dst="10.0.0.2") / inner).build(),
        IPv6: (IPv6(src="2001:db8::1", dst="2001:db8::2") / inner).build(),
        UDP: (UDP(src_port=9, dst_port=10) / b"abc").build(),
    }
    for first, data in frames.items():
        for lazy in (False, True):
            packet = decode(data, first, lazy=lazy)
            layers = packet.layers
            for kind, got in ((LayerClass.NETWORK, packet.network),
                              (LayerClass.TRANSPORT, packet.transport)):
                want = next((la for la in layers if la.layer_class is kind), None)
                assert got is want, (first.name, lazy, kind)
    assert decode(frames[Ethernet], Ethernet).network.src == "10.0.0.1"
    assert decode(frames[IPv4], IPv4).network.src == "10.0.0.1"
