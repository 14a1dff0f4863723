"""pktspec: describe packet layers in a small language; decode, build and reassemble captures.

    import pktspec
    from pktspec.layers import Ethernet, TCP

    for packet in pktspec.open("capture.pcapng"):          # pcap or pcapng, gzip too
        tcp = packet.layer(TCP)
        if tcp is not None:
            print(packet.network.flow, tcp.src_port, tcp.dst_port, tcp.flags)

    pktspec.load("myencap.layer")                           # your own layers, compiled once
    packet = pktspec.decode(data, first="MyEncap")

The packages, in the order data flows: ``grammar`` (the language) -> ``generator`` (checks and
compiles .layer files) -> ``protocols`` (the built-in layers, generated) -> ``runtime`` (Packet,
Layer, flows, dispatch); ``capture`` (files, live interfaces, BPF) and ``reassembly`` (TCP
streams, IP fragments) build on the runtime, and ``display_filters`` picks decoded packets by
their fields (tshark's -Y); ``cli`` is the ``pktspec`` command.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pktspec.protocols  # noqa: F401  (registers the built-in layers)
from pktspec.capture.source import PacketSource
from pktspec.errors import (
    BuildError,
    CaptureError,
    DecodeError,
    FilterError,
    LiveCaptureError,
    PktspecError,
    SpecError,
)
from pktspec.runtime import REGISTRY, Endpoint, Flow, Packet, Parser, PyLayer
from pktspec.runtime import decode as _decode
from pktspec.runtime.serialize import BadChecksum, LayerStack, serialize, verify_checksums

__version__ = "0.5.0"

__all__ = [
    "BadChecksum", "BuildError", "CaptureError", "DecodeError", "Endpoint", "FilterError",
    "Flow", "LayerStack", "LiveCaptureError", "Packet", "PacketSource", "Parser",
    "PktspecError", "PyLayer", "REGISTRY", "SpecError", "decode", "display_filter", "live",
    "load", "messages", "open", "serialize", "streams", "verify_checksums",
]


def load(path: str | Path) -> ModuleType:
    """Compile (once, cached) and load a .layer file; its layers join the decode chain.

    Returns the generated module, whose attributes are the file's layers and enums. Raises
    SpecError listing every problem of the file, each at file:line:column.
    """
    from pktspec.generator.loader import load as _load  # lark and jinja2 only when needed
    return _load(path)


def decode(data: bytes | bytearray | memoryview, first: type | str = "Ethernet", *,
           lazy: bool = False, copy: bool = True, strict: bool = False,
           metadata: Any = None) -> Packet:
    """Decode one packet from its first layer (a class or a layer name; Ethernet by default).

    Never raises for bad bytes: ``packet.error`` says which layer failed, where and why,
    and the layers before it are kept (``strict=True`` raises instead).
    """
    return _decode(data, first, lazy=lazy, copy=copy, strict=strict, metadata=metadata)


def open(path: Any, *, first: type | str | None = None, lazy: bool = False, copy: bool = True,
         strict: bool = False, filter: Any = None, defragment: bool | dict = False,
         **options: Any) -> PacketSource:
    """Packets of a pcap or pcapng file (gzip-compressed too), decoded from each record's
    link type: ``for packet in pktspec.open("x.pcapng"): ...``.

    ``filter`` is a BPF expression (tcpdump syntax, compiled by libpcap) or a Python
    predicate over packets. ``defragment=True`` yields whole IP datagrams in place of their
    fragments. ``source.records()`` yields the raw records instead.
    """
    from pktspec.capture.files import open_records
    from pktspec.capture.source import first_layer_class

    first = first_layer_class(first)  # an unknown name fails before the file is opened
    transform = None
    if defragment:
        from functools import partial

        from pktspec.reassembly import defragment as _defragment
        transform = partial(_defragment, **(defragment if isinstance(defragment, dict) else {}))
    return PacketSource(open_records(path, **options), first=first, lazy=lazy, copy=copy,
                        strict=strict, filter=filter, transform=transform)


def display_filter(text: str) -> Any:
    """A predicate over packets from a display filter, as tshark's ``-Y`` takes:
    ``pktspec.open("x.pcap", filter=pktspec.display_filter("tcp.dst_port == 443"))``.
    Raises DisplayFilterError (column, text, caret) for a filter that does not parse or
    names no layer or field. See :mod:`pktspec.display_filters`."""
    from pktspec.display_filters import compile_filter
    return compile_filter(text)


def streams(source: Any, **options: Any) -> Any:
    """Every TCP connection of a capture (a path, or packets), with the bytes each side sent:
    ``for conn in pktspec.streams("x.pcap"): conn.client.data, conn.server.data``.
    See :func:`pktspec.reassembly.streams`."""
    from pktspec.reassembly import streams as _streams
    return _streams(source, **options)


def messages(source: Any, layer: Any = None, **options: Any) -> Any:
    """The messages of a message layer (bound to a TCP port) over every reassembled TCP
    connection of a capture. See :func:`pktspec.reassembly.messages`."""
    from pktspec.reassembly import messages as _messages
    return _messages(source, layer, **options)


def live(interface: str, *, bpf: str | None = None, first: type | str | None = None,
         lazy: bool = False, copy: bool = True, **options: Any) -> PacketSource:
    """Packets captured on an interface (libpcap, or AF_PACKET without it), decoded.

    ``bpf`` is applied in the kernel. Needs root or CAP_NET_RAW. ``options`` go to
    :class:`pktspec.capture.live.LiveSource` (snaplen, promisc, timeout, ...).
    """
    from pktspec.capture.live import open_live
    return PacketSource(open_live(interface, bpf=bpf, **options), first=first, lazy=lazy,
                        copy=copy)
