"""A layer written in Python: a 4-byte header in front of the Outer/Net/Inner chain."""

from __future__ import annotations

import struct

import pytest
from runtime_fixtures import FULL_TYPES, Inner, Net, Outer, OuterType, Payload, inner, net, outer

from pktspec.runtime.layer import LayerClass
from pktspec.runtime.packet import DecodeFailure, decode
from pktspec.runtime.parser import Parser
from pktspec.runtime.pylayer import PyLayer
from pktspec.runtime.registry import REGISTRY

LINKTYPE_USER0 = 147


class Shim(PyLayer):
    """A 4-byte header some capture setups put in front of the real link layer."""

    field_names = ("magic", "length")
    layer_class = LayerClass.LINK

    def decode(self, data):
        if len(data) < 4:
            raise self._truncated(data, 0, len(data))
        self.magic, self.length = struct.unpack_from(">HH", data)
        if self.magic != 0xC0DE:
            raise self._fail("magic", self.offset, f"bad magic {self.magic:#06x}")
        return 4, Outer, self.length


@pytest.fixture
def shim():
    REGISTRY.add_layer(Shim)
    REGISTRY.table("LinkType").bind(LINKTYPE_USER0, Shim, source=__name__)
    yield Shim
    REGISTRY.table("LinkType").unbind(LINKTYPE_USER0, Shim)
    REGISTRY.remove_layer("Shim")


def shimmed(body: bytes, trailer: bytes = b"") -> bytes:
    return struct.pack(">HH", 0xC0DE, len(body)) + body + trailer


BODY = outer(OuterType.NET) + net() + inner() + b"data"


def test_decodes_in_front_of_generated_layers(shim):
    first = REGISTRY.table("LinkType").get(LINKTYPE_USER0)
    packet = decode(shimmed(BODY, trailer=b"FCS!"), first)
    assert [type(x) for x in packet.layers] == [Shim, *FULL_TYPES]
    layer = packet[Shim]
    assert (layer.magic, layer.length) == (0xC0DE, len(BODY))
    assert layer.payload == BODY and layer.trailer == b"FCS!"
    assert packet.application.payload == b"data"
    assert packet.link is layer
    assert repr(layer) == f"<Shim magic=49374 length={len(BODY)}>"
    assert layer.fields() == {"magic": 0xC0DE, "length": len(BODY)}
    assert Shim.source == f"{__name__}.Shim" and Shim.name == "Shim"


def test_by_name_and_in_the_parser(shim):
    assert decode(shimmed(BODY), "Shim")[Net].src == "192.0.2.1"
    parser = Parser(Shim, [Shim, Outer, Net, Inner])
    assert parser.decode_layers(shimmed(BODY)) == [Shim, Outer, Net, Inner]
    assert parser.shim.length == len(BODY)


def test_errors_from_python_layers(shim):
    packet = decode(b"\xc0\xde", Shim)
    assert [type(x) for x in packet.layers] == [DecodeFailure]
    assert packet.error.truncated and "only 2 bytes" in packet.error.message
    bad = decode(b"\xbe\xef\x00\x00", Shim)
    assert bad.error.field_path == "magic" and "bad magic 0xbeef" in bad.error.message
    too_long = decode(struct.pack(">HH", 0xC0DE, 99) + b"x", Shim)
    assert too_long.error.truncated and "payload up to 103" in too_long.error.message


def test_two_value_result_means_payload_to_the_end():
    class Simple(PyLayer):
        def decode(self, data):
            self.kind = data[0]
            return 1, None

    packet = decode(b"\x07rest", Simple)
    assert packet[Simple].kind == 7 and packet.application.payload == b"rest"
    assert type(packet.layers[-1]) is Payload
    assert Simple.fields_info == ()


def test_decode_must_be_implemented():
    class Nothing(PyLayer):
        pass

    assert "must implement decode" in decode(b"x", Nothing).error.message
