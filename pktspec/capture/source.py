"""Decoded packets from a capture file or interface: gopacket's PacketSource.

A PacketSource wraps any record source (a file reader or a live capture) and decodes each
record from the first layer its link type names in the ``LinkType`` dispatch table, so a
.layer file that binds a layer to a link type (``extend LinkType { 147 -> MyLink }``) makes
captures of that link type decode with it. An unknown link type decodes as one Payload layer
and the source says so in ``notes`` (never a crash).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

from pktspec.errors import PktspecError
from pktspec.runtime.metadata import CaptureInfo
from pktspec.runtime.packet import Packet, decode, decode_eager
from pktspec.runtime.registry import REGISTRY

Filter = str | Callable[[Packet], bool] | None


def first_layer_class(first: type | str | None) -> type | None:
    """A layer class from a class or a registered name (PktspecError for an unknown name)."""
    if not isinstance(first, str):
        return first
    layer = REGISTRY.get_layer(first)
    if layer is None:
        raise PktspecError(f"no layer called {first!r} is registered (pktspec list shows "
                           "them; load a .layer file first with --layers)")
    return layer


class PacketSource:
    """Iterate decoded packets; ``records()`` gives the raw (bytes, CaptureInfo) instead.

    ``first`` overrides the link type's first layer (a class or a layer name); ``lazy``,
    ``copy`` and ``strict`` are passed to :func:`pktspec.runtime.decode`. ``filter`` is a BPF
    expression (compiled by libpcap for each link type, applied before decoding) or a Python
    predicate over the decoded packet. ``transform`` rewrites the stream of decoded packets
    (``pktspec.open(p, defragment=True)`` passes :func:`pktspec.reassembly.defragment`, which
    yields whole datagrams in place of fragments), keeping ``close()`` and ``records()``.
    """

    def __init__(self, records: Any, *, first: type | str | None = None, lazy: bool = False,
                 copy: bool = True, strict: bool = False, filter: Filter = None,
                 transform: Callable[[Iterator[Packet]], Iterator[Packet]] | None = None,
                 ) -> None:
        self._records = records
        self.first = first_layer_class(first)
        self.lazy = lazy
        self.copy = copy
        self.strict = strict
        self.notes: list[str] = []
        self._bpf: dict[tuple[int, str], Any] = {}
        self._filter_text = filter if isinstance(filter, str) else None
        self._predicate = filter if callable(filter) else None
        self._first_by_linktype: dict[int, type] = {}
        self.transform = transform
        self.record_number = 0

    @property
    def reader(self) -> Any:
        """The record source this decodes (a file reader or a live capture): what
        ``PcapngWriter(out, source=...)`` copies a pcapng file's structure from."""
        return self._records

    def first_layer(self, linktype: int) -> type:
        """The first layer for a link type: the override, the binding, or Payload."""
        if self.first is not None:
            return self.first
        cls = self._first_by_linktype.get(linktype)
        if cls is None:
            cls = REGISTRY.table("LinkType").get(linktype)
            if cls is None:
                cls = REGISTRY.layer("Payload")
                self.notes.append(f"link type {linktype} has no first layer: its packets decode "
                                  "as Payload (bind one with 'extend LinkType { N -> Layer }')")
            self._first_by_linktype[linktype] = cls
        return cls

    def _bpf_matches(self, data: bytes, info: CaptureInfo) -> bool:
        # BSD loopback headers are in the capturing host's order: a program is compiled for
        # the byte order of the section being read (pcapng sections may differ)
        order = getattr(self._records, "byte_order", None) or sys.byteorder
        program = self._bpf.get((info.linktype, order))
        if program is None:
            from pktspec.capture.bpf import compile_filter  # libpcap only when asked for

            program = self._bpf[info.linktype, order] = compile_filter(
                self._filter_text, info.linktype, byte_order=order)
        return program.matches(data, info.length)

    def records(self) -> Iterator[tuple[bytes, CaptureInfo]]:
        """The undecoded records (after a BPF filter, if one was given; a Python predicate
        applies to decoded packets, so not here). ``record_number``
        is the 1-based number of the last record read, filtered or not (tshark's frame
        number)."""
        number = 0
        for data, info in self._records:
            number += 1
            if self._filter_text is None or self._bpf_matches(data, info):
                self.record_number = number
                yield data, info

    def __iter__(self) -> Iterator[Packet]:
        if self.transform is None:
            return self._decoded()
        return self.transform(self._decoded())

    def _decoded(self) -> Iterator[Packet]:
        if self.lazy or not self.copy or self._filter_text is not None:
            yield from self._decoded_with_options()
            return
        # The usual case, and the hot loop of every capture run: eager, copied (the reader's
        # records are bytes already), no BPF filter. Records come straight from the reader,
        # the first layer is looked up again only when the link type changes, and the eager
        # decoder is called positionally: each saves a Python-level call per packet.
        strict, predicate = self.strict, self._predicate
        number, linktype, first = self.record_number, None, None
        for data, info in self._records:
            number += 1
            self.record_number = number
            if info[6] != linktype:  # info.linktype, without the property call
                linktype = info[6]
                first = self.first_layer(linktype)
            packet = decode_eager(data if type(data) is bytes else bytes(data), first, info,
                                  strict)
            if predicate is None or predicate(packet):
                yield packet

    def _decoded_with_options(self) -> Iterator[Packet]:
        first_layer = self.first_layer
        lazy, copy, strict, predicate = self.lazy, self.copy, self.strict, self._predicate
        for data, info in self.records():
            packet = decode(data, first_layer(info.linktype), lazy=lazy, copy=copy,
                            strict=strict, metadata=info)
            if predicate is None or predicate(packet):
                yield packet

    def stats(self) -> Any:
        """Capture statistics of a live source (received, dropped, if_dropped)."""
        stats = getattr(self._records, "stats", None)
        if stats is None:
            raise TypeError("only live sources have capture statistics")
        return stats()

    def close(self) -> None:
        close = getattr(self._records, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> PacketSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
