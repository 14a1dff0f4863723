"""``streams()``: every TCP connection of a capture, each side's bytes collected, in one call.

For scripts and notebooks, where a factory and callbacks are more than the job needs::

    from pktspec.reassembly import streams

    for conn in streams("trace.pcap"):
        print(conn.index, conn.client, "->", conn.server,
              len(conn.client.data), len(conn.server.data), conn.client.gaps)
        if conn.server.data.startswith(b"HTTP/1.1 200"):
            ...

``conn.client.data`` is everything the client sent, in order (the client is the side that
sent the SYN, or the first sender when the handshake was not captured); ``conn.server.data``
the same for the server. Holes the capture never filled are left out of ``data`` and listed in
``gaps`` (:class:`~pktspec.reassembly.stream.Gap`: position in ``data`` and length), so
``data`` is exactly the bytes that were seen. ``stats`` are each side's counters.

Each connection's bytes are held until it ends, so this is for captures whose streams fit in
memory; for anything bigger, give :class:`~pktspec.reassembly.tcp.TCPAssembler` a stream
that consumes chunks as they come.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pktspec.reassembly.connection import Connection, Side
from pktspec.reassembly.stream import Chunk, Direction, Gap, StreamStats
from pktspec.reassembly.tcp import TCPAssembler
from pktspec.runtime.flow import Endpoint, Flow
from pktspec.runtime.packet import Packet

__all__ = ["CollectedSide", "TCPStream", "open_packets", "streams"]


@dataclass(frozen=True, slots=True)
class CollectedSide:
    """What one side of a finished connection sent: its bytes, holes and counters."""

    direction: Direction
    address: Endpoint
    port: Endpoint
    data: bytes
    gaps: tuple[Gap, ...]
    stats: StreamStats

    def pieces(self) -> list[bytes]:
        """``data`` cut at each gap: the runs of bytes with no hole inside."""
        out, pos = [], 0
        for gap in self.gaps:
            out.append(self.data[pos:gap.position])
            pos = gap.position
        out.append(self.data[pos:])
        return out

    def __str__(self) -> str:
        host = str(self.address)
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TCPStream:
    """One finished TCP connection, as :func:`streams` yields it.

    ``index`` is the connection's number in order of first packet (tshark's tcp.stream);
    ``network`` and ``transport`` are the client->server flows; ``reason`` is why it ended
    ("fin", "rst", "end" of input, "idle", "limit", "evicted", "reused").
    """

    index: int
    client: CollectedSide
    server: CollectedSide
    network: Flow
    transport: Flow
    reason: str | None

    def side(self, direction: Direction) -> CollectedSide:
        return self.client if direction is Direction.CLIENT else self.server

    def __str__(self) -> str:
        return f"{self.client} -> {self.server}"


def _collected(side: Side, parts: list[bytes]) -> CollectedSide:
    return CollectedSide(side.direction, side.address, side.port, b"".join(parts),
                         tuple(side.gaps), side.stats)


class _Collector:
    """A stream that keeps both directions' bytes and hands the result over at the end.

    The bytes go straight into each side's ``sink`` list (see
    :class:`~pktspec.reassembly.connection.Side`): the assembler appends to it and makes no
    chunk; ``reassembled`` is there for chunks given to it by hand.
    """

    __slots__ = ("conn", "done")

    def __init__(self, conn: Connection, done: list[TCPStream]) -> None:
        self.conn = conn
        self.done = done
        conn.client.sink = []
        conn.server.sink = []

    def reassembled(self, chunk: Chunk) -> None:
        self.conn.side(chunk.direction).sink.append(chunk.data)  # type: ignore[union-attr]

    def complete(self) -> None:
        conn = self.conn
        client = _collected(conn.client, conn.client.sink or [])
        server = _collected(conn.server, conn.server.sink or [])
        conn.client.sink = conn.server.sink = None
        self.done.append(TCPStream(conn.index, client, server, conn.network, conn.transport,
                                   conn.reason))


def open_packets(source: Any) -> Iterable[Packet]:
    """Packets from a path (opened with the capture readers) or any iterable of packets."""
    if isinstance(source, (str, os.PathLike)):
        from pktspec.capture.files import open_records  # reassembly needs capture only here
        from pktspec.capture.source import PacketSource

        return PacketSource(open_records(source))
    return source


def streams(source: Any, *, ordered: bool = True,
            **assembler_options: Any) -> Iterator[TCPStream]:
    """Yield every TCP connection of a capture (a path, or packets) with its bytes.

    ``ordered`` (default) yields connections by index, as tshark numbers streams; otherwise
    each comes out as soon as it ends, which holds less in memory. Other keywords go to
    :class:`TCPAssembler` (limits, ``on_limit``, ``defragment`` of IP fragments).
    """
    done: list[TCPStream] = []
    assembler = TCPAssembler(lambda conn: _Collector(conn, done), **assembler_options)
    waiting: dict[int, TCPStream] = {}
    next_index = 0
    # the assembler's own loop: it yields whenever a packet completed a connection
    for _ in assembler._assemble_yielding(open_packets(source), done):
        if not ordered:
            yield from done
        else:
            waiting.update((s.index, s) for s in done)
            while next_index in waiting:
                yield waiting.pop(next_index)
                next_index += 1
        done.clear()
    assembler.flush_all()
    waiting.update((s.index, s) for s in done)
    yield from (waiting[i] for i in sorted(waiting))
