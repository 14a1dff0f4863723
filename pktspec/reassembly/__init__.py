"""Package reassembly turns packets back into what applications sent: TCP byte streams, whole
IP datagrams, and the messages inside streams.

It is gopacket's tcpassembly/reassembly, tcpreader and ip4defrag in one package, with a single
TCP implementation. Everything runs on packet timestamps, never the wall clock, so a capture
gives the same result on every run, and every buffer has a hard limit that a hostile capture
cannot push past (a counter says whenever a limit cost data).

The one-call helper

For scripts and notebooks, :func:`streams` collects every connection of a capture::

    from pktspec.reassembly import streams

    for conn in streams("trace.pcap"):                  # a path, or any packets
        print(conn.index, conn.client, "->", conn.server)
        request, response = conn.client.data, conn.server.data
        for gap in conn.server.gaps:                   # bytes the capture never had
            print(f"{gap.length} bytes missing before byte {gap.position}")

The assembler

For big captures, live traffic or custom processing, give :class:`TCPAssembler` a factory.
It is called once per connection; the stream it returns gets both directions' bytes in
sequence order, as :class:`Chunk` objects, then ``complete()``::

    class Counter:
        def __init__(self, conn):
            self.conn, self.sizes = conn, [0, 0]
        def reassembled(self, chunk):       # chunk.data, .skipped, .direction, .timestamp
            self.sizes[chunk.direction] += len(chunk.data)
        def complete(self):
            print(self.conn, self.sizes, self.conn.client.stats)

    assembler = TCPAssembler(Counter, max_buffered_total=64 << 20)
    for packet in pktspec.open("trace.pcap"):
        assembler.assemble(packet)
    assembler.flush_all()

Connections are keyed by addresses and ports, both directions together; the client is the
side that sent the SYN (or the first sender when the handshake was not captured). The
assembler handles out-of-order segments, retransmissions and overlaps (first copy wins: see
:mod:`pktspec.reassembly.segments` for the exact rule, which is tshark's), sequence-number
wraparound, SYN/FIN/RST, data after a FIN, connections picked up mid-stream, keep-alives and
zero-window probes. A hole the capture never filled is reported to the stream as
``chunk.skipped`` bytes, once the receiver acknowledged past it (before that packet's own
data is delivered, as in tshark's follow) or a flush or limit gives up waiting.
:meth:`TCPAssembler.flush_older_than` closes idle connections and skips stale holes;
:meth:`TCPAssembler.flush_all` ends the input.

Readers and messages

:class:`ReaderStream` gives each direction a file-like object with ``read()`` (gopacket's
tcpreader), for code that parses a stream as a file, typically in a thread per connection
(:class:`ReaderFactory`). :class:`MessageStream` decodes a stream as a sequence of messages
of a layer described in a .layer file (framed by a length field and bound to a port with
``extend TCPPort { 5555 -> MyMsg }``), keeping partial messages until the rest arrives;
:func:`messages` does it for a whole capture.

IP fragments

:class:`IPv4Defragmenter` and :class:`IPv6Defragmenter` collect fragments by addresses,
protocol and identification, under the RFC limits and with a documented overlap policy
(Wireshark's: see :mod:`pktspec.reassembly.fragments`), and decode each reassembled datagram
again as a whole packet. :func:`defragment` wraps any packet iterator: fragments in, whole
datagrams out, in capture order (the fragments of a datagram that never completes are
dropped and counted, or with ``keep_incomplete`` yielded in their place). The TCP
assembler runs its own defragmenters on fragments that carry TCP (``defragment=True``, the
default), so TCP inside fragments reaches the streams at no cost for the other packets.

Modules: ``stream`` (Chunk, Stream, StreamStats, Gap), ``segments`` (the out-of-order
buffer and overlap policy), ``connection`` (one connection's sequence state), ``tcp`` (the
assembler: table, limits, flushing), ``collect`` (:func:`streams`), ``reader``,
``messages``, ``fragments`` and ``ipdefrag``.

Neighbours: packets come from pktspec.capture (``pktspec.open``) through pktspec.runtime;
message layers come from .layer files compiled by pktspec.generator; ``pktspec follow``
(pktspec.cli) prints streams.
"""

from __future__ import annotations

from pktspec.reassembly.collect import CollectedSide, TCPStream, streams
from pktspec.reassembly.connection import Connection, Side
from pktspec.reassembly.fragments import FragmentError
from pktspec.reassembly.ipdefrag import (
    DefragStats,
    IPv4Defragmenter,
    IPv6Defragmenter,
    defragment,
)
from pktspec.reassembly.messages import Message, MessageFactory, MessageStream, messages
from pktspec.reassembly.reader import DataLost, ReaderFactory, ReaderStream, StreamReader
from pktspec.reassembly.stream import Chunk, Direction, Gap, Stream, StreamStats
from pktspec.reassembly.tcp import AssemblerStats, TCPAssembler

__all__ = [
    "AssemblerStats",
    "Chunk",
    "CollectedSide",
    "Connection",
    "DataLost",
    "DefragStats",
    "Direction",
    "FragmentError",
    "Gap",
    "IPv4Defragmenter",
    "IPv6Defragmenter",
    "Message",
    "MessageFactory",
    "MessageStream",
    "ReaderFactory",
    "ReaderStream",
    "Side",
    "Stream",
    "StreamReader",
    "StreamStats",
    "TCPAssembler",
    "TCPStream",
    "defragment",
    "messages",
    "streams",
]
