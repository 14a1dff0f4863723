"""Package runtime decodes packets with the layer classes that .layer files become.

It is what a program that takes packets apart imports; it never imports the generator, lark
or jinja2 (nor construct: only a layer's ``FORMAT`` uses that), and the capture and
reassembly packages build on it.

Basic usage

Bytes and the first layer's class (or name) go in, a Packet comes out::

    from pktspec.runtime import decode
    from pktspec.protocols.ethernet import Ethernet
    from pktspec.protocols.tcp import TCP

    packet = decode(data, Ethernet)
    tcp = packet.layer(TCP)                 # or packet[TCP]; None when absent
    if tcp is not None:
        print(tcp.src_port, tcp.dst_port, tcp.flags)        # 51000 443 [S.]
    for layer in packet.layers:
        print(layer.name)                   # Ethernet, IPv4, TCP, Payload
    print(packet.network.flow)              # 192.0.2.1->192.0.2.2

Decoding options

``decode(data, first, lazy=False, copy=True, strict=False, metadata=None)``.
With ``lazy=True`` a layer is decoded when something asks for it or for a layer after it: asking
for IPv4 decodes Ethernet and IPv4 and stops there; ``packet.layers`` later decodes the rest,
without decoding the first two again. Lazy packets change as they are read, so they are not
for sharing between threads. With ``copy=False`` the packet keeps the caller's buffer (as a
memoryview) instead of its own bytes: layer contents are views into it, so the caller must not
reuse the buffer while the packet lives. The default copies, which costs nothing for
``bytes`` input.

Errors are data

Bytes that do not decode never raise. The layers that decoded stay in the packet, a
DecodeFailure layer holds the rest and ``packet.error`` is a DecodeError naming the layer, the
field and the byte offset (``TCP -> data_offset at byte 46: ...``). Pass ``strict=True`` to get
the DecodeError raised, as tests want.

Layer types

Every layer has a ``layer_class`` (LINK, NETWORK, TRANSPORT, APPLICATION or OTHER), so
``packet.link``, ``.network``, ``.transport`` and ``.application`` find the first of each
whatever protocol it is; ``packet.application.payload`` is the data an application sent.

Flows and endpoints

Layers with addresses or ports have a ``flow``: a Flow of two Endpoints of one EndpointType.
Flows and endpoints are hashable (dict keys, sets); ``flow.reverse()`` is the other direction
and ``flow.fast_hash()`` is the same for both directions, to spread conversations over
workers (``workers[flow.fast_hash() & 7]``). ``Flow.from_endpoints(src, dst)`` builds one.

Choosing a decoder

Each generated layer has two decoders from one spec. ``FORMAT`` is a construct Struct: the
reference decoder and the builder, about 50 times slower than the other; use it to build
packets, to check the fast path, or for one-off parsing where speed does not matter. The fast
decoder, ``_decode``, is straight-line ``struct.unpack_from`` code and is what ``decode`` and
the Parser run. For a hot loop over millions of packets, ``Parser(first, layers)`` decodes into
preallocated layer objects (gopacket's DecodingLayerParser) and allocates nothing per packet.

Custom layers

Write a .layer file (the usual way), or a PyLayer subclass in Python, and register it:
``REGISTRY.add_layer(cls)`` and ``REGISTRY.table("EtherType").bind(0x88b5, cls, source=...)``.
Dispatch is a dict lookup per layer, so loading more layers never slows decoding.

Neighbours: pktspec.protocols holds the generated layers, pktspec.generator makes them (the
shape they must have is docs/GENERATED.md), pktspec.capture reads packets from files and
interfaces (its CaptureInfo lives here, in metadata.py), pktspec.reassembly rebuilds streams.
"""

from __future__ import annotations

from pktspec.errors import DecodeError, PktspecError

API_VERSION = 3
"""The version of the generated-module contract (docs/GENERATED.md) this runtime implements.
2 (pktspec 0.3.0): dispatch calls ``DispatchTable.refused`` when a guard refuses; TRAILER
reads the header's values as its context's keywords; FRAMED, CHECKED_WHEN and
``_payload_wanted`` are read from layer classes. 3 (0.4.0): FORMAT's checks are
``constructs.Requires`` (with the file's message), a struct's flag fields
``constructs.FlagsInt``, ``let(fn, optional=True)`` for a let
over a conditional field, NEXT_UNLESS may say ``"len(payload)"``, and a layer cut before
its trailer ends is decoded with the trailer left out. Modules of contracts 1 and 2 still
run."""

MIN_API_VERSION = 1
"""The oldest contract version this runtime still runs."""


def require_api(version: int) -> None:
    """Refuse to import a generated module written for another runtime.

    Generated modules call ``require_api(N)`` right after their imports (as kaitai's Python
    output does), so a stale module fails at import with a message that says what to do,
    instead of failing later inside a decoder.
    """
    if version > API_VERSION:
        raise PktspecError(
            f"this generated module needs pktspec runtime API {version}, but the installed "
            f"runtime provides API {API_VERSION}: upgrade pktspec"
        )
    if version < MIN_API_VERSION:
        raise PktspecError(
            f"this generated module was written for runtime API {version}, which this runtime "
            f"(API {API_VERSION}) no longer runs: regenerate it with `pktspec compile`"
        )


# Imported after API_VERSION so that a generated module importing this package mid-way
# still finds require_api.
from pktspec.runtime.flow import (  # noqa: E402
    ENDPOINT_IPV4,
    ENDPOINT_IPV6,
    ENDPOINT_MAC,
    ENDPOINT_SCTP_PORT,
    ENDPOINT_TCP_PORT,
    ENDPOINT_UDP_PORT,
    Endpoint,
    EndpointType,
    Flow,
    endpoint_type,
)
from pktspec.runtime.layer import FieldInfo, Layer, LayerClass  # noqa: E402
from pktspec.runtime.metadata import CaptureInfo  # noqa: E402
from pktspec.runtime.packet import DecodeFailure, Packet, decode  # noqa: E402
from pktspec.runtime.parser import Parser  # noqa: E402
from pktspec.runtime.pylayer import PyLayer  # noqa: E402
from pktspec.runtime.registry import REGISTRY, DispatchTable, Registry  # noqa: E402
from pktspec.runtime.values import FlagSet, OpenEnum  # noqa: E402

__all__ = [
    "API_VERSION",
    "ENDPOINT_IPV4",
    "ENDPOINT_IPV6",
    "ENDPOINT_MAC",
    "ENDPOINT_SCTP_PORT",
    "ENDPOINT_TCP_PORT",
    "ENDPOINT_UDP_PORT",
    "REGISTRY",
    "CaptureInfo",
    "DecodeError",
    "DecodeFailure",
    "DispatchTable",
    "Endpoint",
    "EndpointType",
    "FieldInfo",
    "FlagSet",
    "Flow",
    "Layer",
    "LayerClass",
    "OpenEnum",
    "Packet",
    "Parser",
    "PyLayer",
    "Registry",
    "decode",
    "endpoint_type",
    "require_api",
]
