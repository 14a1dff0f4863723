"""One TCP connection: its two sides and the sequence-number state machine of each.

A :class:`Side` is one direction (the bytes one endpoint sent). It turns segments into
in-order chunks for the connection's stream:

- Positions. Sequence numbers are 32-bit and wrap; the side keeps ``nxt_seq`` (the next
  expected sequence number, mod 2**32) beside ``nxt`` (the same place as an unbounded count
  of bytes since the start of the direction). A segment's position is ``nxt`` plus the
  signed 32-bit distance from ``nxt_seq``, so a wrap in the middle of a capture costs
  nothing and everything past this point uses plain integers.
- Start. A SYN fixes the start (its sequence number + 1). Without one (a connection picked
  up mid-stream) the first packet of the direction does, as in tshark: a data segment
  captured after it but further on is then a hole at the start.
- In order. A segment that reaches past ``nxt`` from at or before it is delivered at once
  (its part past ``nxt``); one ahead of ``nxt`` waits in the
  :class:`~pktspec.reassembly.segments.SegmentBuffer`, whose docstring states the overlap
  policy (first copy wins); bytes behind ``nxt`` were delivered already and count as a
  retransmission or overlap.
- Keep-alives and zero-window probes. A segment of 0 or 1 byte one below ``nxt`` is a
  keep-alive (or a Linux zero-window probe): counted, never data. A 1-byte segment at
  ``nxt`` while the peer advertises a zero window is a BSD/Windows probe: its byte is the
  real next byte, so it is delivered once and its later retransmission is a duplicate.
- Holes. A hole is given up on (``skip_gap``) when the peer has acknowledged bytes past the
  start of the data after it (the hole reached the receiver, so the capture missed it and no
  retransmission will come; tshark's rule), when a flush or a limit says so, or when the
  connection closes. The next chunk then carries ``skipped``, and the side records a
  :class:`~pktspec.reassembly.stream.Gap`. The assembler applies a packet's ACK before the
  data that packet carries, as tshark's follow does, so the bytes after an acknowledged hole
  are delivered ahead of the acknowledging side's data; data whose ACK does not reach past
  the hole leaves it waiting.
- FIN. Bytes at or past the FIN's position are ignored (``after_fin``); the side is
  ``finished`` once everything before the FIN was delivered.

The assembler (:mod:`pktspec.reassembly.tcp`) owns the connection table, the limits and the
flushing; this module knows nothing about other connections.
"""

from __future__ import annotations

from typing import Any

from pktspec.reassembly.segments import SegmentBuffer
from pktspec.reassembly.stream import Chunk, Direction, Gap, Stream, StreamStats
from pktspec.runtime.flow import Endpoint, Flow

__all__ = ["FIN", "SYN", "RST", "ACK", "Connection", "Side"]

FIN = 0x01
SYN = 0x02
RST = 0x04
ACK = 0x10

_MASK = 0xFFFFFFFF
_HALF = 0x80000000


class Side:
    """One direction of a connection: who sent it, its counters, gaps and sequence state.

    Public: ``direction``, ``address`` and ``port`` (Endpoints of the sender), ``stats``
    (:class:`StreamStats`), ``gaps`` (list of Gap), ``finished``. ``str(side)`` is
    ``192.0.2.1:443`` or ``[2001:db8::1]:443``.

    ``sink``: None, or a list for a stream that wants only this side's bytes (the collector
    of :func:`~pktspec.reassembly.streams`): delivered bytes are then appended to it, in
    order, instead of going to the stream as chunks, which saves a Chunk and a call per
    segment. Gaps are in ``gaps`` either way.
    """

    __slots__ = ("direction", "address", "port", "stats", "gaps", "finished", "conn", "peer",
                 "buffer", "nxt", "nxt_seq", "isn", "fin", "window", "skipping", "calm",
                 "sink")

    def __init__(self, conn: Connection, direction: Direction, address: Endpoint,
                 port: Endpoint) -> None:
        self.conn = conn
        self.direction = direction
        self.address = address
        self.port = port
        self.stats = StreamStats()
        self.gaps: list[Gap] = []
        self.finished = False
        self.peer: Side = self
        self.buffer = SegmentBuffer()
        self.nxt = 0
        self.nxt_seq: int | None = None
        self.isn: int | None = None
        self.fin: int | None = None
        self.window = -1
        self.skipping = 0
        self.calm = False  # kept by the assembler: True when its in-order path may be taken
        self.sink: list[bytes] | None = None

    def __str__(self) -> str:
        host = str(self.address)
        if ":" in host:
            host = f"[{host}]"
        return f"{host}:{self.port}"

    def __repr__(self) -> str:
        return f"<Side {self.direction.name} {self} {self.stats.bytes} bytes>"

    # -- segments -----------------------------------------------------------------------------

    def receive(self, seq: int, flags: int, window: int, payload: bytes, ts: float) -> None:
        """Take one segment this side sent (the assembler has counted the packet already)."""
        self.window = window
        if flags & SYN:
            if self.isn is None:
                self.isn = seq
            seq = (seq + 1) & _MASK
        if self.nxt_seq is None:
            self.nxt_seq = seq
        n = len(payload)
        diff = ((seq - self.nxt_seq + _HALF) & _MASK) - _HALF
        if diff == -1 and n <= 1 and not flags & (SYN | FIN | RST):
            self.stats.keepalives += 1
            return
        start = self.nxt + diff
        if n:
            self._data(start, payload, ts)
        if flags & FIN:
            self._fin(start + n)

    def _data(self, start: int, payload: bytes, ts: float) -> None:
        stats = self.stats
        nxt = self.nxt
        end = start + len(payload)
        if self.fin is not None and end > self.fin:
            cut = min(end - self.fin, len(payload))
            stats.after_fin += cut
            payload = payload[:len(payload) - cut]
            end -= cut
            if not payload:
                return
        if end <= nxt:
            stats.retransmissions += 1
            stats.overlaps += 1
            stats.overlap_bytes += len(payload)
            return
        if start < nxt:
            stats.overlaps += 1
            stats.overlap_bytes += nxt - start
            payload = payload[nxt - start:]
            start = nxt
        if start == nxt:
            if len(payload) == 1 and self.peer.window == 0:
                stats.zero_window_probes += 1
            if self.buffer:
                self.buffer.compare(start, payload, stats)
                self._deliver(payload, ts)
                self._drain()
            else:
                self._deliver(payload, ts)
        elif self.buffer.add(start, payload, ts, stats):
            stats.out_of_order += 1
        else:
            stats.retransmissions += 1

    def _fin(self, position: int) -> None:
        if position < self.nxt:  # a stale FIN, behind bytes already delivered: not the end
            return
        if self.fin is None:
            self.fin = position
            if self.buffer:
                self.stats.after_fin += self.buffer.truncate(position)
        if self.nxt >= self.fin:
            self.finished = True

    # -- delivery -----------------------------------------------------------------------------

    def _deliver(self, data: bytes, ts: float) -> None:
        """Hand data, which starts at nxt (after any skipped hole), to the stream."""
        stats = self.stats
        skipped = self.skipping
        if skipped:
            self.skipping = 0
            stats.skipped += skipped
            stats.gaps += 1
            self.gaps.append(Gap(stats.bytes, skipped))
        start = self.nxt
        n = len(data)
        stats.bytes += n
        self.nxt = start + n
        self.nxt_seq = (self.nxt_seq + n) & _MASK  # type: ignore[operator]
        stream: Stream | None = self.conn.stream
        if stream is not None:
            sink = self.sink
            if sink is None:
                stream.reassembled(Chunk(data, skipped, self.direction, start, ts))
            else:
                sink.append(data)
        if self.fin is not None and self.nxt >= self.fin:
            self.finished = True

    def _drain(self) -> None:
        """Deliver buffered segments that continue the stream, in capture order."""
        pop_next = self.buffer.pop_next
        while (segment := pop_next(self.nxt)) is not None:
            if segment.end > self.nxt:
                self._deliver(segment.data[self.nxt - segment.start:], segment.timestamp)

    def skip_gap(self) -> int:
        """Give up on the hole before the first buffered segment: the next chunk reports it
        as skipped. Delivers what follows; returns the bytes skipped (0 without a hole)."""
        first = self.buffer.first
        if first is None:
            return 0
        gap = first.start - self.nxt
        self.skipping += gap
        self.nxt = first.start
        self.nxt_seq = (self.nxt_seq + gap) & _MASK  # type: ignore[operator]
        self._drain()
        return gap

    def flush(self) -> None:
        """Deliver everything buffered, across every hole (the connection is ending)."""
        while self.buffer:
            self.skip_gap()

    def flush_waiting(self, before: float) -> None:
        """Skip holes whose first segment after them was captured before ``before``."""
        while self.buffer and self.buffer.first.timestamp < before:  # type: ignore[union-attr]
            self.skip_gap()

    def acknowledged(self, ack: int) -> None:
        """The peer acknowledged ``ack``: a hole before data it covers was received by the
        peer, so the capture missed it and no retransmission will come: skip it."""
        if not self.buffer or self.nxt_seq is None:
            return
        diff = ((ack - self.nxt_seq + _HALF) & _MASK) - _HALF
        limit = self.nxt + diff
        while self.buffer and limit > self.buffer.first.start:  # type: ignore[union-attr]
            self.skip_gap()


class Connection:
    """Both directions of one TCP connection, and the stream its factory made.

    ``index`` numbers connections in the order their first packet was seen (tshark's
    ``tcp.stream``); ``client`` and ``server`` are the two :class:`Side` objects;
    ``network`` and ``transport`` are the client->server Flows (addresses, ports);
    ``closed`` and ``reason`` ("fin", "rst", "flush", "idle", "limit", "evicted", "reused",
    "end") say whether and why it ended; ``last_seen`` is its last packet's time.
    """

    __slots__ = ("index", "client", "server", "network", "transport", "stream", "closed",
                 "reason", "last_seen", "__weakref__")

    def __init__(self, index: int, network: Flow, transport: Flow, ts: float) -> None:
        self.index = index
        self.network = network
        self.transport = transport
        src, dst = network.endpoints()
        sport, dport = transport.endpoints()
        self.client = Side(self, Direction.CLIENT, src, sport)
        self.server = Side(self, Direction.SERVER, dst, dport)
        self.client.peer = self.server
        self.server.peer = self.client
        self.stream: Any = None
        self.closed = False
        self.reason: str | None = None
        self.last_seen = ts

    def side(self, direction: Direction) -> Side:
        return self.client if direction is Direction.CLIENT else self.server

    @property
    def buffered(self) -> int:
        """What this connection's out-of-order data is charged against the limits."""
        return self.client.buffer.cost + self.server.buffer.cost

    @property
    def finished(self) -> bool:
        """Both sides sent a FIN and everything before it was delivered."""
        return self.client.finished and self.server.finished

    def swap_roles(self) -> None:
        """Make the server the client: a late SYN showed who really opened the connection."""
        self.client, self.server = self.server, self.client
        self.client.direction, self.server.direction = Direction.CLIENT, Direction.SERVER
        self.network = self.network.reverse()
        self.transport = self.transport.reverse()

    def __str__(self) -> str:
        return f"{self.client} -> {self.server}"

    def __repr__(self) -> str:
        state = f" closed ({self.reason})" if self.closed else ""
        return f"<Connection {self.index} {self}{state}>"
