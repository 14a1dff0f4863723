"""Hand-written layers shaped like generated modules (docs/GENERATED.md), for runtime tests.

They are what the generator will emit, written out by hand so that the runtime can be tested
without the generator: an ``Outer`` 4-byte header whose u16 type dispatches through a table,
a ``Net`` header with two IPv4 addresses, an ``Inner`` header with two ports, flags and a
header length, and a ``Payload`` stand-in. Each ``_decode`` counts its calls in ``CALLS`` so
tests can prove what lazy decoding did and did not decode.
"""

from __future__ import annotations

import struct
from collections import Counter

from construct import Bytes, Int8ub, Int16ub, Struct

from pktspec.runtime import require_api
from pktspec.runtime.flow import ENDPOINT_IPV4, Flow, endpoint_type
from pktspec.runtime.layer import FieldInfo, Layer, LayerClass
from pktspec.runtime.registry import REGISTRY
from pktspec.runtime.values import FlagSet, OpenEnum, ipv4_text

require_api(1)

CALLS: Counter[str] = Counter()


class OuterType(OpenEnum):
    INNER = 0x0001
    NET = 0x0800
    UNBOUND = 0x0002


_OUTERTYPE = REGISTRY.table("test.OuterType")
_EP_INNER_PORT = endpoint_type("Inner port", "int")

InnerFlags = FlagSet.define(
    "InnerFlags", ("urgent", "more_data", None, None, None, None, None, "end")
)


class Outer(Layer):
    """A 4-byte header in front of everything: a tag and a type that picks the next layer."""

    __slots__ = ("tag", "type")
    name = "Outer"
    layer_class = LayerClass.LINK
    source = "outer.layer"
    fields_info = (
        FieldInfo("tag", "u16", offset=0, size=2, line=3),
        FieldInfo("type", "u16", enum=OuterType, offset=2, size=2, line=4),
    )
    FORMAT = Struct("tag" / Int16ub, "type" / Int16ub)
    _HEAD = struct.Struct(">HH")

    def _decode(self, buf, off, end):
        CALLS["Outer"] += 1
        if end - off < 4:
            raise self._truncated(buf, off, end)
        (self.tag, self.type) = self._HEAD.unpack_from(buf, off)
        self._set_bounds(buf, off, off + 4, end, end)
        return _OUTERTYPE.get(self.type)


class Net(Layer):
    """Two IPv4 addresses; always followed by Inner."""

    __slots__ = ("_src", "_dst")
    name = "Net"
    layer_class = LayerClass.NETWORK
    source = "net.layer"
    fields_info = (
        FieldInfo("src", "ipv4", offset=0, size=4, line=2),
        FieldInfo("dst", "ipv4", offset=4, size=4, line=3),
    )
    FORMAT = Struct("src" / Bytes(4), "dst" / Bytes(4))

    def _decode(self, buf, off, end):
        CALLS["Net"] += 1
        if end - off < 8:
            raise self._truncated(buf, off, end)
        self._src = buf[off : off + 4]
        self._dst = buf[off + 4 : off + 8]
        self._set_bounds(buf, off, off + 8, end, end)
        return Inner

    @property
    def src(self):
        return ipv4_text(self._src)

    @property
    def dst(self):
        return ipv4_text(self._dst)

    @property
    def flow(self):
        return Flow(ENDPOINT_IPV4, bytes(self._src), bytes(self._dst))


class Inner(Layer):
    """Two ports, a header length (at least 6) and flags; the rest up to end is payload."""

    __slots__ = ("src_port", "dst_port", "hlen", "_flags")
    name = "Inner"
    layer_class = LayerClass.TRANSPORT
    source = "inner.layer"
    fields_info = (
        FieldInfo("src_port", "u16", offset=0, size=2, line=2),
        FieldInfo("dst_port", "u16", offset=2, size=2, line=3),
        FieldInfo("hlen", "u8", offset=4, size=1, line=4),
        FieldInfo("flags", "u8", flags=InnerFlags, offset=5, size=1, line=5),
    )
    FORMAT = Struct("src_port" / Int16ub, "dst_port" / Int16ub, "hlen" / Int8ub, "flags" / Int8ub)
    _HEAD = struct.Struct(">HHBB")

    def _decode(self, buf, off, end):
        CALLS["Inner"] += 1
        if end - off < 6:
            raise self._truncated(buf, off, end)
        (self.src_port, self.dst_port, self.hlen, self._flags) = self._HEAD.unpack_from(buf, off)
        if self.hlen < 6:
            raise self._fail("hlen", off + 4, f"header length {self.hlen} is less than 6")
        hend = off + self.hlen
        if hend > end:
            raise self._fail("hlen", off + 4, f"header length {self.hlen} runs past the end")
        self._set_bounds(buf, off, hend, end, end)
        return None

    @property
    def flags(self):
        return InnerFlags(self._flags)

    @property
    def flow(self):
        return Flow(_EP_INNER_PORT, self.src_port, self.dst_port)


class Payload(Layer):
    """Stand-in for the generated Payload layer: all the bytes it is given, as data."""

    __slots__ = ()
    name = "Payload"
    layer_class = LayerClass.APPLICATION
    source = "payload.layer"
    fields_info = (FieldInfo("data", "bytes", kind="value"),)

    def _decode(self, buf, off, end):
        CALLS["Payload"] += 1
        self._set_bounds(buf, off, end, end, end)
        return None

    @property
    def data(self):
        return self.contents

    @property
    def payload(self):
        return self.contents


FIXTURE_LAYERS = (Outer, Net, Inner, Payload)
FULL_TYPES = [Outer, Net, Inner, Payload]  # the layers of outer(NET) + net() + inner() + data

_OUTERTYPE.bind(OuterType.INNER, Inner, source="outer.layer:10")
_OUTERTYPE.bind(OuterType.NET, Net, source="net.layer:8")


def outer(type_: int, tag: int = 0x7E7E) -> bytes:
    return struct.pack(">HH", tag, type_)


def net(src: str = "192.0.2.1", dst: str = "192.0.2.2") -> bytes:
    from pktspec.runtime.values import ipv4_bytes

    return ipv4_bytes(src) + ipv4_bytes(dst)


def inner(src_port: int = 1000, dst_port: int = 500, hlen: int = 6, flags: int = 0x80) -> bytes:
    head = struct.pack(">HHBB", src_port, dst_port, hlen, flags)
    return head + b"\0" * max(hlen - 6, 0)
