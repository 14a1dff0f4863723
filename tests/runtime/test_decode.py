"""decode() and Packet: eager and lazy decoding, copies, errors kept as data, strict mode."""

from __future__ import annotations

import struct
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runtime_fixtures import CALLS, Inner, Net, Outer, OuterType, Payload, inner, net, outer

from pktspec.errors import DecodeError
from pktspec.runtime.flow import ENDPOINT_IPV4, Flow
from pktspec.runtime.layer import Layer, LayerClass
from pktspec.runtime.metadata import CaptureInfo
from pktspec.runtime.packet import MAX_LAYERS, DecodeFailure, Packet, decode
from pktspec.runtime.registry import REGISTRY
from pktspec.runtime.values import ipv4_bytes

FULL = outer(OuterType.NET) + net() + inner(hlen=8) + b"hello"


def kinds(packet: Packet) -> list[type]:
    return [type(layer) for layer in packet.layers]


class TestEager:
    def test_layers_in_order_with_payload(self):
        packet = decode(FULL, Outer)
        assert kinds(packet) == [Outer, Net, Inner, Payload]
        assert packet.error is None
        outer_, net_, inner_, payload = packet.layers
        assert (outer_.tag, outer_.type) == (0x7E7E, 0x0800)
        assert net_.src == "192.0.2.1" and net_.dst == "192.0.2.2"
        assert (inner_.src_port, inner_.dst_port, inner_.hlen) == (1000, 500, 8)
        assert payload.data == b"hello"

    def test_bounds_and_slices(self):
        packet = decode(FULL, Outer)
        outer_, net_, inner_, payload = packet.layers
        assert outer_.contents == FULL[:4] and outer_.payload == FULL[4:]
        assert net_.offset == 4 and net_.length == 8
        assert inner_.contents == FULL[12:20] and inner_.payload == b"hello"
        assert inner_.trailer == b""
        assert payload.offset == 20

    def test_first_by_name(self):
        assert kinds(decode(FULL, "Outer")) == [Outer, Net, Inner, Payload]

    def test_first_must_be_a_layer(self):
        with pytest.raises(TypeError, match="link type"):
            decode(FULL, None)
        with pytest.raises(TypeError, match="not 3"):
            decode(FULL, 3)
        with pytest.raises(KeyError, match="no layer called 'Nope'"):
            decode(FULL, "Nope")

    def test_from_other_starting_points(self):
        packet = decode(inner() + b"data", Inner)
        assert kinds(packet) == [Inner, Payload]
        assert packet.application.payload == b"data"

    def test_no_payload_layer_for_an_empty_payload(self):
        assert kinds(decode(outer(OuterType.INNER) + inner(), Outer)) == [Outer, Inner]

    def test_unbound_type_ends_in_payload(self):
        packet = decode(outer(OuterType.UNBOUND) + b"rest", Outer)
        assert kinds(packet) == [Outer, Payload]
        assert packet.error is None

    def test_each_layer_is_decoded_once(self):
        packet = decode(FULL, Outer)
        _ = packet.layers, packet.layers, packet.application
        assert CALLS == {"Outer": 1, "Net": 1, "Inner": 1, "Payload": 1}

    def test_trailing_payload_is_made_only_when_reached(self):
        packet = decode(FULL, Outer)
        assert packet.transport is not None and packet.network is not None
        assert CALLS["Payload"] == 0
        assert packet.application.data == b"hello"
        assert CALLS["Payload"] == 1

    def test_trailing_payload_is_made_once_under_threads(self):
        packet = decode(FULL, Outer)
        barrier = threading.Barrier(8)
        results = []

        def read():
            barrier.wait()
            results.append(len(packet.layers))

        threads = [threading.Thread(target=read) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [4] * 8 and CALLS["Payload"] == 1

    def test_without_a_registered_payload_class_the_rest_stays_in_the_last_payload(self):
        REGISTRY.remove_layer("Payload")
        try:
            packet = decode(FULL, Outer)
            assert kinds(packet) == [Outer, Net, Inner]
            assert packet.layers[-1].payload == b"hello"
        finally:
            REGISTRY.add_layer(Payload)


class TestPacketAccess:
    def test_layer_getitem_contains(self):
        packet = decode(FULL, Outer)
        assert packet.layer(Net) is packet[Net] is packet["Net"] is packet.layer("Net")
        assert Net in packet and "Inner" in packet
        assert packet[0] is packet.layers[0] and packet[-1] is packet.layers[-1]
        assert len(packet[1:3]) == 2
        assert list(packet) == packet.layers

    def test_missing_layer(self):
        packet = decode(outer(OuterType.INNER) + inner(), Outer)
        assert packet.layer(Net) is None and Net not in packet
        with pytest.raises(KeyError, match="no Net layer"):
            packet[Net]
        with pytest.raises(KeyError, match="no Foo layer"):
            packet["Foo"]

    def test_typed_layers(self):
        packet = decode(FULL, Outer)
        assert type(packet.link) is Outer
        assert type(packet.network) is Net
        assert type(packet.transport) is Inner
        assert type(packet.application) is Payload
        assert packet.application.payload == b"hello"
        assert decode(inner(), Inner).link is None

    def test_flows_from_layers(self):
        packet = decode(FULL, Outer)
        flow = packet.network.flow
        assert flow == Flow(ENDPOINT_IPV4, ipv4_bytes("192.0.2.1"), ipv4_bytes("192.0.2.2"))
        src, dst = flow.endpoints()
        assert Flow.from_endpoints(dst, src) == flow.reverse()
        assert str(packet.transport.flow) == "1000->500"
        assert packet.link.flow is None

    def test_find_packets_by_application_payload(self):
        packets = [
            decode(outer(OuterType.INNER) + inner() + body, Outer)
            for body in (b"GET / HTTP/1.1", b"noise", b"")
        ]
        hits = [
            p for p in packets if p.application is not None and b"HTTP" in p.application.payload
        ]
        assert hits == [packets[0]]

    def test_metadata_and_truncated(self):
        info = CaptureInfo(ts_sec=1, ts_frac=5, ts_resolution=1_000_000, caplen=10, length=60)
        packet = decode(FULL[:10], Outer, metadata=info)
        assert packet.metadata is info and packet.truncated
        assert not decode(FULL, Outer).truncated
        assert decode(FULL[:10], Outer).truncated  # a layer ran out of bytes
        assert "caplen 10, length 60" in packet.dump()

    def test_repr_and_dump(self):
        packet = decode(FULL, Outer)
        assert repr(packet) == "<Packet 25 bytes: Outer / Net / Inner / Payload>"
        text = packet.dump()
        assert "- Net, 8 bytes at offset 4" in text
        assert "    src: 192.0.2.1" in text
        assert "    type: NET (2048)" in text
        assert "    flags: URGENT" in text
        assert "68 65 6c 6c 6f (5 bytes)" in text

    def test_show_prints_the_dump(self, capsys):
        packet = decode(FULL, Outer)
        packet.show()
        assert capsys.readouterr().out.strip() == packet.dump()


class TestLazy:
    def test_nothing_is_decoded_until_asked(self):
        packet = decode(FULL, Outer, lazy=True)
        assert sum(CALLS.values()) == 0
        assert packet.decoded == []
        assert repr(packet) == "<Packet 25 bytes: - / ...>"

    def test_asking_for_a_layer_decodes_up_to_it_and_stops(self):
        packet = decode(FULL, Outer, lazy=True)
        assert packet.layer(Net).src == "192.0.2.1"
        assert CALLS == {"Outer": 1, "Net": 1}
        assert [type(x) for x in packet.decoded] == [Outer, Net]

    def test_all_layers_later_decode_the_rest_without_repeating(self):
        packet = decode(FULL, Outer, lazy=True)
        packet.layer(Net)
        assert kinds(packet) == [Outer, Net, Inner, Payload]
        assert CALLS == {"Outer": 1, "Net": 1, "Inner": 1, "Payload": 1}
        assert len(packet.layers) == 4
        packet.layer(Inner)
        assert sum(CALLS.values()) == 4

    def test_typed_layers_and_membership_are_lazy_too(self):
        packet = decode(FULL, Outer, lazy=True)
        assert type(packet.link) is Outer
        assert CALLS == {"Outer": 1}
        assert Net in packet
        assert CALLS == {"Outer": 1, "Net": 1}
        assert packet.transport.src_port == 1000
        assert CALLS == {"Outer": 1, "Net": 1, "Inner": 1}

    def test_a_missing_layer_decodes_everything_once(self):
        packet = decode(outer(OuterType.INNER) + inner(), Outer, lazy=True)
        assert packet.layer(Net) is None
        assert CALLS == {"Outer": 1, "Inner": 1}
        assert packet.layer(Net) is None
        assert CALLS == {"Outer": 1, "Inner": 1}

    def test_lazy_error_appears_when_reached(self):
        packet = decode(outer(OuterType.NET) + net() + inner(hlen=3), Outer, lazy=True)
        assert packet.layer(Net) is not None
        assert packet._error is None
        assert packet.error.field_path == "hlen"
        assert kinds(packet) == [Outer, Net, DecodeFailure]

    def test_lazy_strict_raises_on_access(self):
        packet = decode(outer(OuterType.NET) + net()[:3], Outer, lazy=True, strict=True)
        assert type(packet.layer(Outer)) is Outer
        with pytest.raises(DecodeError, match="Net -> src"):
            _ = packet.layers

    def test_lazy_and_eager_agree(self):
        for data in (FULL, FULL[:15], outer(OuterType.UNBOUND) + b"zz", b""):
            eager, lazy = decode(data, Outer), decode(data, Outer, lazy=True)
            assert kinds(eager) == kinds(lazy)
            assert [x.contents for x in eager.layers] == [x.contents for x in lazy.layers]
            assert str(eager.error) == str(lazy.error)


class TestCopy:
    def test_copy_gives_own_bytes(self):
        buf = bytearray(FULL)
        packet = decode(buf, Outer)
        assert type(packet.data) is bytes
        buf[4:8] = bytes(4)
        assert packet[Net].src == "192.0.2.1"
        assert type(packet[Inner].contents) is bytes

    def test_bytes_input_is_not_copied(self):
        data = bytes(FULL)
        assert decode(data, Outer).data is data

    def test_no_copy_keeps_the_callers_buffer(self):
        buf = bytearray(FULL)
        packet = decode(buf, Outer, copy=False)
        assert type(packet.data) is memoryview and packet.data.obj is buf
        payload = packet.application.payload
        assert type(payload) is memoryview and payload.obj is buf
        contents = packet[Inner].contents
        assert type(contents) is memoryview and contents.obj is buf
        buf[-5:] = b"HELLO"
        assert bytes(payload) == b"HELLO"  # a view, not a copy

    def test_no_copy_of_a_memoryview_uses_it_as_is(self):
        view = memoryview(bytearray(FULL))
        assert decode(view, Outer, copy=False).data is view

    def test_no_copy_casts_other_formats_to_bytes(self):
        import array

        words = array.array("H", [0] * 4)
        packet = decode(words, Inner, copy=False)
        assert packet.data.format == "B" and len(packet.data) == 8

    def test_flows_of_no_copy_packets_are_still_dict_keys(self):
        packet = decode(bytearray(FULL), Outer, copy=False)
        assert {packet.network.flow: 1}[decode(FULL, Outer).network.flow] == 1


class TestErrors:
    def test_truncation_keeps_earlier_layers_and_names_the_field(self):
        data = outer(OuterType.NET) + net() + inner()[:3]
        packet = decode(data, Outer)
        assert kinds(packet) == [Outer, Net, DecodeFailure]
        err = packet.error
        assert (err.layer, err.field_path, err.offset, err.truncated) == (
            "Inner",
            "dst_port",
            14,
            True,
        )
        assert str(err) == (
            "Inner -> dst_port at byte 14: truncated: dst_port needs bytes 2..4 of the header,"
            " only 3 present"
        )
        failure = packet.layers[-1]
        assert failure.error is err
        assert failure.contents == data[12:] and failure.offset == 12
        assert repr(failure).startswith("<DecodeFailure Inner -> dst_port")

    def test_bad_value_names_field_and_offset(self):
        packet = decode(outer(OuterType.INNER) + inner(hlen=2) + b"zz", Outer)
        assert (packet.error.field_path, packet.error.offset) == ("hlen", 8)
        assert not packet.error.truncated
        assert "DecodeFailure" in packet.dump()

    def test_empty_input(self):
        packet = decode(b"", Outer)
        assert kinds(packet) == [DecodeFailure]
        assert packet.error.offset == 0 and packet.error.field_path == "tag"

    def test_strict_raises(self):
        with pytest.raises(DecodeError) as err:
            decode(outer(OuterType.NET) + net()[:5], Outer, strict=True)
        assert err.value.layer == "Net" and err.value.field_path == "dst"

    @pytest.mark.parametrize(
        "exc, truncated",
        [
            (struct.error("unpack_from requires a buffer of at least 4 bytes"), True),
            (IndexError("index out of range"), True),
            (ValueError("bad"), False),
            (ZeroDivisionError("oops"), False),
        ],
    )
    def test_any_exception_from_a_layer_becomes_a_decode_error(self, exc, truncated):
        class Broken(Layer):
            __slots__ = ()
            name = "Broken"

            def _decode(self, buf, off, end):
                raise exc

        packet = decode(outer(0x4242) + b"xx", Broken)
        err = packet.error
        assert err.layer == "Broken" and err.offset == 0 and err.truncated is truncated
        if isinstance(exc, ZeroDivisionError):  # said in words: a size expression's divisor
            assert "divides by zero" in err.message
        else:
            assert type(exc).__name__ in err.message
        with pytest.raises(DecodeError) as raised:
            decode(b"xx", Broken, strict=True)
        assert raised.value.__cause__ is exc

    def test_a_layer_that_loops_forever_is_stopped(self):
        class Loop(Layer):
            __slots__ = ()
            name = "Loop"

            def _decode(self, buf, off, end):
                self._set_bounds(buf, off, off, end, end)
                return Loop

        packet = decode(b"x", Loop)
        assert len(packet.layers) == MAX_LAYERS + 1
        assert "more than" in packet.error.message
        lazy = decode(b"x", Loop, lazy=True)
        assert len(lazy.layers) == MAX_LAYERS + 1 and "more than" in lazy.error.message

    @settings(max_examples=200)
    @given(st.binary(max_size=40), st.booleans())
    def test_arbitrary_bytes_never_raise(self, data, lazy):
        packet = decode(data, Outer, lazy=lazy)
        layers = packet.layers
        assert layers or data == b""
        if packet.error is not None:
            assert type(layers[-1]) is DecodeFailure
            assert 0 <= packet.error.offset <= len(data)
        if layers:  # headers plus what the last layer left undecoded cover every byte
            last = layers[-1]
            covered = sum(len(x.contents) for x in layers) + last._pend - last._hend
            assert covered == len(data)


def test_layer_classes_of_the_fixtures():
    assert Outer.layer_class is LayerClass.LINK and Payload.layer_class is LayerClass.APPLICATION
