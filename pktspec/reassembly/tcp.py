"""TCPAssembler: packets in, each connection's two byte streams out, in order and bounded.

::

    assembler = TCPAssembler(lambda conn: MyStream(conn), max_buffered_total=64 << 20)
    for packet in pktspec.open("trace.pcap"):
        assembler.assemble(packet)
        if n % 10_000 == 0:
            assembler.flush_older_than(packet.metadata.timestamp - 120)
    assembler.flush_all()

Connections are keyed by the network and transport flows (addresses and ports), both
directions under one :class:`~pktspec.reassembly.connection.Connection`; the factory is called
once per connection and its stream gets both directions' chunks (see
:mod:`pktspec.reassembly.stream`). The per-direction sequence logic lives in
:mod:`pktspec.reassembly.connection`; this module owns the table of connections, their life
(open, close on FIN/FIN or RST, port reuse, flushing) and the limits.

Limits. Out-of-order data is charged (bytes plus a per-piece overhead) against
``max_buffered_per_connection`` and ``max_buffered_total``; the number of connections against
``max_connections``. When a limit is hit, ``on_limit="deliver"`` gives up on the oldest hole
(the buffered data after it is delivered, with the hole reported as skipped bytes) and
``on_limit="drop"`` drops the connection (its buffered data is discarded, its stream
completed, its later packets ignored). Too many connections evicts the least recently active
one (closed ones first). Every such event has a counter in :class:`AssemblerStats`, so a
result that lost data says so. :meth:`TCPAssembler.memory_bound` is what the assembler can hold
at most, which a hostile capture cannot raise.

Time. Everything uses packet timestamps, never the wall clock: the same capture gives the same
streams on every run and every machine.

Fragments. IP fragments that carry TCP are reassembled first (``defragment=True``, the
default, runs an IPv4 and an IPv6 defragmenter of :mod:`pktspec.reassembly.ipdefrag` on
them, so the check costs nothing for other packets); with ``defragment=False`` they are
skipped and counted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pktspec.errors import PktspecError
from pktspec.protocols.ipv4 import IPv4
from pktspec.protocols.ipv6 import IPv6
from pktspec.protocols.tcp import TCP
from pktspec.reassembly.connection import ACK, FIN, RST, SYN, Connection, Side
from pktspec.reassembly.ipdefrag import IPv4Defragmenter, IPv6Defragmenter, fragment_protocol
from pktspec.reassembly.stream import Chunk, Direction, Stream, StreamStats
from pktspec.runtime import fastpath
from pktspec.runtime.flow import ENDPOINT_TCP_PORT, Flow
from pktspec.runtime.layer import LayerClass
from pktspec.runtime.metadata import CaptureInfo
from pktspec.runtime.packet import Packet

__all__ = ["CONNECTION_COST", "AssemblerStats", "StreamFactory", "TCPAssembler"]

StreamFactory = Callable[[Connection], Stream]

CONNECTION_COST = 4096
"""Upper estimate of the memory a connection's own objects take (both sides, counters, table
entries, a small stream object), for :meth:`TCPAssembler.memory_bound`."""

_NETWORK = LayerClass.NETWORK
_SYN_FIN_RST = SYN | FIN | RST
_MF = 1  # IPv4 more-fragments flag
_TCP = 6  # IP protocol number
_new_chunk = tuple.__new__  # Chunk(...) without the Python-level __new__ of a NamedTuple


@dataclass(slots=True)
class AssemblerStats:
    """Counters of one assembler (per-direction counters are in each Side's StreamStats).

    ``packets`` TCP packets taken; ``ignored`` packets without TCP; ``fragments`` IP
    fragments carrying TCP and ``reassembled`` the datagrams rebuilt from them (assembled
    like any packet); ``connections`` opened;
    ``closed_fin``/``closed_rst`` ended by the protocol; ``flushed`` closed by a flush;
    ``evicted`` closed because ``max_connections`` was reached; ``dropped`` dropped by a
    memory limit with ``on_limit="drop"`` and ``dropped_bytes`` the buffered bytes lost that
    way; ``limit_skips`` holes given up on because of a memory limit; ``reused`` connections
    ended by a new SYN on the same addresses and ports; ``after_close`` packets of a
    connection that had ended; ``peak_buffered`` the most ever charged at once;
    ``bad_rst`` resets ignored because their sequence number is far from the sender's next
    byte (a forged RST must not end a stream).
    """

    packets: int = 0
    ignored: int = 0
    fragments: int = 0
    reassembled: int = 0
    connections: int = 0
    closed_fin: int = 0
    closed_rst: int = 0
    flushed: int = 0
    evicted: int = 0
    dropped: int = 0
    dropped_bytes: int = 0
    limit_skips: int = 0
    reused: int = 0
    after_close: int = 0
    peak_buffered: int = 0
    bad_rst: int = 0


_CLOSE_COUNTERS = {"fin": "closed_fin", "rst": "closed_rst", "flush": "flushed", "idle": "flushed",
                   "end": "flushed", "limit": "dropped"}
"""The AssemblerStats counter of each reason for closing (the others count elsewhere)."""


def _settle(conn: Connection) -> None:
    """Say which sides of an open connection may take the in-order path of
    :meth:`TCPAssembler.assemble`: both sides have nothing buffered and this one no FIN.

    Called after everything that can change that (a segment through the general path, a
    limit, a flush); closing sets both to False. ``calm`` False is always safe (the general
    path handles every segment); True is kept exact by calling this.
    """
    client, server = conn.client, conn.server
    quiet = not conn.closed and not client.buffer.cost and not server.buffer.cost
    client.calm = quiet and client.fin is None
    server.calm = quiet and server.fin is None


def _key(side: Side) -> tuple[Any, int, Any, int]:
    """The table key of packets sent by side: (src address, src port, dst address, dst port)."""
    peer = side.peer
    return (side.address.raw, side.port.raw, peer.address.raw, peer.port.raw)


class TCPAssembler:
    """Reassemble TCP connections from packets; see the module docstring.

    ``factory(conn)`` makes the stream of each new connection (it may return None for a
    connection it does not want: its bytes are then tracked but delivered nowhere). One
    assembler is for one thread; to spread work, give each worker its own assembler and
    route packets by ``flow.fast_hash()``, which keeps both directions together. Limits: see
    the module
    docstring; ``on_limit`` is ``"deliver"`` (default) or ``"drop"``. With
    ``skip_acked_gaps`` (default) a hole is given up on as soon as the receiver acknowledges
    bytes past it, as tshark's follow does: the ACK is applied before the data of the packet
    that carries it, so the bytes after the hole come out ahead of that data (and the two
    directions' chunks interleave as in tshark's follow); without it holes wait for a flush
    or a limit.
    ``defragment`` (default) reassembles IP fragments that carry TCP; the defragmenters are
    ``defragmenters`` (IPv4, IPv6), with their own limits and counters.
    """

    def __init__(self, factory: StreamFactory, *,
                 max_buffered_per_connection: int = 4 << 20,
                 max_buffered_total: int = 64 << 20,
                 max_connections: int = 65536,
                 on_limit: str = "deliver",
                 skip_acked_gaps: bool = True,
                 defragment: bool = True) -> None:
        if on_limit not in ("deliver", "drop"):
            raise PktspecError(f"on_limit must be 'deliver' or 'drop', not {on_limit!r}")
        if min(max_buffered_per_connection, max_buffered_total, max_connections) < 1:
            raise PktspecError("assembler limits must be positive")
        self.factory = factory
        self.max_buffered_per_connection = max_buffered_per_connection
        self.max_buffered_total = max_buffered_total
        self.max_connections = max_connections
        self.on_limit = on_limit
        self.skip_acked_gaps = skip_acked_gaps
        self.defragmenters = (IPv4Defragmenter(), IPv6Defragmenter()) if defragment else None
        self.stats = AssemblerStats()
        self.buffered = 0
        self._sides: dict[tuple[Any, int, Any, int], Side] = {}
        self._conns: OrderedDict[int, Connection] = OrderedDict()  # least recently active first
        self._buffering: dict[int, Connection] = {}  # in the order they started buffering
        self._closed: OrderedDict[int, Connection] = OrderedDict()
        self._recent: Connection | None = None  # the last one moved to the end of _conns
        self._next_index = 0
        self._in_order = self._compiled_in_order(count=True)

    # The in-order branch of assemble() and _assemble_yielding, compiled (runtime/
    # fastpath.py), when the extension is on: it takes the packets that branch would and
    # declines the others untouched. None on the class: a subclass that does not call
    # __init__ has none; copies and pickles make their own (__getstate__).
    _in_order: Any = None

    def _compiled_in_order(self, count: bool) -> Any:
        return fastpath.in_order_path(self, count, TCP, IPv4, IPv6, CaptureInfo, Chunk, Side,
                                      Connection, StreamStats, AssemblerStats)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_in_order", None)  # bound to this assembler's tables
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._in_order = self._compiled_in_order(count=True)

    # -- input --------------------------------------------------------------------------------

    def assemble(self, packet: Packet) -> None:
        """Take one decoded packet; packets without TCP are counted and ignored."""
        # The hot loop of every capture run. An eager packet that decoded the usual link /
        # network / transport start names its network and transport layers (_net, _trans),
        # so a link layer first and TCP third is one check; others are looked for in the
        # layers: TCP last (nothing decoded its payload: a deferred Payload layer is not in
        # the list yet), else _locate, which asks the packet.
        compiled = self._in_order  # counts the packets it takes in stats.packets itself
        if compiled is not None and compiled(packet):
            return
        tcp = packet._trans
        if type(tcp) is TCP and not packet._layers[0].QUOTES:
            net = packet._net
        else:
            layers = packet._layers
            tcp = layers[-1] if layers else None
            net = layers[-2] if type(tcp) is TCP and len(layers) > 1 else None
            if net is not None and len(layers) > 2:
                for layer in layers[:-2]:
                    if layer.QUOTES:  # an ICMP error's copy of another packet: _locate says so
                        net = None
                        break
        t = type(net)
        if t is IPv4 and tcp._off == net._hend and not (net._flags & _MF or net.fragment_offset):
            key = (net._src, tcp.src_port, net._dst, tcp.dst_port)
        elif t is IPv6 and tcp._off == net._hend and net.next_header == _TCP:
            key = (net._src, tcp.src_port, net._dst, tcp.dst_port)
        else:
            found = self._locate(packet, tcp, net)
            if found is None:
                return
            tcp, net, key = found
        meta = packet.metadata
        if type(meta) is CaptureInfo:  # meta.timestamp, without three property calls
            ts = meta[0] + meta[1] / meta[2]
        else:
            ts = meta.ts_sec + meta.ts_frac / meta.ts_resolution if meta is not None else 0.0
        flags = tcp._flags
        side = self._sides.get(key)
        if side is not None and side.calm and not flags & _SYN_FIN_RST and tcp.seq == side.nxt_seq:
            # The common case, flat: a segment at the next expected byte (or a pure ACK) of a
            # connection with nothing buffered, no FIN and not closed (side.calm, see
            # _settle). Does what _segment would, minus the checks that cannot apply.
            # _assemble_yielding has a copy of this block: change both together.
            conn = side.conn
            conn.last_seen = ts
            if conn is not self._recent:  # most packets continue the last one's connection
                self._conns.move_to_end(conn.index)
                self._recent = conn
            self.stats.packets += 1
            stats = side.stats
            stats.packets += 1
            stats.last = ts
            side.window = tcp.window
            hend = tcp._hend
            n = tcp._pend - hend
            if n <= 0:
                return
            payload = tcp._buf[hend:tcp._pend]
            if type(payload) is not bytes:  # a copy=False packet: never keep the caller's buffer
                payload = bytes(payload)
            if n == 1 and side.peer.window == 0:
                stats.zero_window_probes += 1
            start = side.nxt
            side.nxt = start + n
            side.nxt_seq = (side.nxt_seq + n) & 0xFFFFFFFF
            stats.bytes += n
            stream = conn.stream
            if stream is not None:
                sink = side.sink
                if sink is None:
                    stream.reassembled(_new_chunk(Chunk, (payload, 0, side.direction, start, ts)))
                else:
                    sink.append(payload)
            return
        self._general(side, key, net, tcp, flags, ts)

    def _general(self, side: Side | None, key: tuple[Any, int, Any, int], net: Any, tcp: Any,
                 flags: int, ts: float) -> None:
        """A located segment that does not take the in-order path: the general path."""
        new_isn = flags & SYN and side is not None and side.isn is not None \
            and side.isn != tcp.seq
        if new_isn and flags & ACK and not side.stats.bytes and not side.buffer:
            # a SYN-ACK sent again with another ISN before any data: the same connection,
            # its server numbering starts over (tshark keeps one stream too)
            side.isn = side.nxt_seq = None
            new_isn = False
        if side is None or side.conn.closed or new_isn:
            side = self._reopen(side, key, net, tcp, flags, ts)
            if side is None:
                return
        self._segment(side, tcp, flags, ts)

    def _assemble_yielding(self, packets: Iterable[Packet], done: list) -> Iterator[None]:
        """Assemble every packet, yielding after each one that left ``done`` non-empty: the
        loop of :func:`~pktspec.reassembly.collect.streams`, whose streams put what they
        complete in ``done``. Ends without flushing.

        Does exactly what :meth:`assemble` would for each packet; two kinds of eager packets
        that decoded the usual link / network / transport start are taken here, with the
        lookups in locals: TCP over IPv4/IPv6 (assemble's in-order path written out, the
        rest handed to _general once located), and a transport other than TCP with every
        layer decoded and none of them TCP (what _locate does for it: count it as ignored,
        unless its network layer is an IP fragment of a TCP datagram). Every other packet
        goes through :meth:`assemble`.
        """
        sides_get = self._sides.get  # the table objects live as long as the assembler
        move_to_end = self._conns.move_to_end
        stats = self.stats
        assemble, general = self.assemble, self._general
        plain_link = None  # the last first-layer class seen that does not quote a packet
        fast = 0  # packets that took the in-order path: added to stats.packets at the end
        # the in-order branch below, compiled: it counts what it takes in its own `taken`,
        # added to stats.packets at the end as `fast` is
        compiled = self._compiled_in_order(count=False)
        try:
            for packet in packets:
                if compiled is not None and compiled(packet):
                    continue
                tcp = packet._trans
                if tcp is not None:
                    link = type(packet._layers[0])
                    if link is not plain_link:
                        if link.QUOTES:
                            assemble(packet)
                            if done:
                                yield
                            continue
                        plain_link = link
                    if type(tcp) is not TCP:
                        if packet._tail is None and packet._pending is None:
                            for layer in packet._layers:
                                if isinstance(layer, TCP):
                                    break
                            else:  # as _locate: the first network layer is _net
                                net = packet._net
                                if fragment_protocol(net) == _TCP:
                                    self._fragment(packet, net)
                                    if done:
                                        yield
                                else:
                                    stats.ignored += 1
                                continue
                        assemble(packet)
                        if done:
                            yield
                        continue
                    net = packet._net
                    t = type(net)
                    if t is IPv4:
                        usual = tcp._off == net._hend \
                            and not (net._flags & _MF or net.fragment_offset)
                    else:
                        usual = t is IPv6 and tcp._off == net._hend and net.next_header == _TCP
                    if usual:
                        key = (net._src, tcp.src_port, net._dst, tcp.dst_port)
                        side = sides_get(key)
                        meta = packet.metadata
                        if type(meta) is CaptureInfo:
                            ts = meta[0] + meta[1] / meta[2]
                        else:
                            ts = meta.ts_sec + meta.ts_frac / meta.ts_resolution \
                                if meta is not None else 0.0
                        flags = tcp._flags
                        if side is None or not side.calm or flags & _SYN_FIN_RST \
                                or tcp.seq != side.nxt_seq:
                            general(side, key, net, tcp, flags, ts)
                            if done:
                                yield
                            continue
                        # assemble's in-order path (see there), with fast for stats.packets
                        conn = side.conn
                        conn.last_seen = ts
                        if conn is not self._recent:
                            move_to_end(conn.index)
                            self._recent = conn
                        fast += 1
                        side_stats = side.stats
                        side_stats.packets += 1
                        side_stats.last = ts
                        side.window = tcp.window
                        hend = tcp._hend
                        n = tcp._pend - hend
                        if n <= 0:
                            continue
                        payload = tcp._buf[hend:tcp._pend]
                        if type(payload) is not bytes:  # copy=False: never keep the buffer
                            payload = bytes(payload)
                        if n == 1 and side.peer.window == 0:
                            side_stats.zero_window_probes += 1
                        start = side.nxt
                        side.nxt = start + n
                        side.nxt_seq = (side.nxt_seq + n) & 0xFFFFFFFF
                        side_stats.bytes += n
                        stream = conn.stream
                        if stream is not None:
                            sink = side.sink
                            if sink is None:
                                stream.reassembled(_new_chunk(Chunk, (payload, 0, side.direction,
                                                                      start, ts)))
                            else:
                                sink.append(payload)
                        continue
                assemble(packet)
                if done:
                    yield
        finally:
            stats.packets += fast + (compiled.taken if compiled is not None else 0)

    def _locate(self, packet: Packet, tcp: Any, net: Any) -> tuple[Any, Any, tuple] | None:
        """The TCP layer, its network layer and the table key of a packet that is not simply
        Ethernet-or-like + IPv4/IPv6 + TCP; None after handing a fragment to the
        defragmenters or counting a packet without TCP."""
        t = type(net)
        if (t is not IPv4 and t is not IPv6) or tcp._off != net._hend:
            if packet._pending is None and packet._tail is None:  # decoded to the end
                for layer in packet._layers:
                    if isinstance(layer, TCP):
                        break
                else:  # no TCP (UDP, ICMP, ...): only an IP fragment may still carry some
                    for net in packet._layers:
                        if net.layer_class is _NETWORK:
                            if fragment_protocol(net) == _TCP:
                                self._fragment(packet, net)
                                return None
                            break
                    self.stats.ignored += 1
                    return None
            tcp, net = self._find_tcp(packet)
            if tcp is None:
                net = packet.network
                if net is not None and fragment_protocol(net) == _TCP:
                    self._fragment(packet, net)  # a fragment too short to show its TCP
                else:
                    self.stats.ignored += 1
                return None
            t = type(net)
        if t is IPv4:
            if net._flags & _MF or net.fragment_offset:
                self._fragment(packet, net)
                return None
        elif (t is not IPv6 or net.next_header != _TCP) and fragment_protocol(net) is not None:
            self._fragment(packet, net)
            return None
        if t is IPv4 or t is IPv6:
            return tcp, net, (net._src, tcp.src_port, net._dst, tcp.dst_port)
        flow = net.flow
        return tcp, net, (flow.src_raw, tcp.src_port, flow.dst_raw, tcp.dst_port)

    def _fragment(self, packet: Packet, net: Any) -> None:
        """An IP fragment carrying TCP: reassemble it, and assemble the whole datagram."""
        self.stats.fragments += 1
        if self.defragmenters is None:
            return
        v4, v6 = self.defragmenters
        whole = (v4 if type(net) is IPv4 else v6).defrag(packet)
        if whole is not None and whole is not packet:
            self.stats.reassembled += 1
            self.assemble(whole)

    def assemble_all(self, packets: Iterable[Packet]) -> None:
        """Assemble every packet, then :meth:`flush_all`."""
        for packet in packets:
            self.assemble(packet)
        self.flush_all()

    def _find_tcp(self, packet: Packet) -> tuple[Any, Any]:
        """The TCP layer and the network layer that carries it, when they are not simply the
        last two decoded layers (lazy packets, tunnels, IPv6 extension headers, a layer
        decoded on top of TCP)."""
        tcp = packet.layer(TCP)  # decodes a lazy packet as far as TCP
        if tcp is None:
            return None, None
        layers = packet.decoded
        before = layers[:layers.index(tcp)]
        if any(layer.QUOTES for layer in before):
            return None, None  # an ICMP error's copy of a segment: not this connection's data
        for net in reversed(before):
            if net.layer_class is _NETWORK and net.flow is not None:
                return tcp, net
        return None, None

    def _segment(self, side: Side, tcp: Any, flags: int, ts: float) -> None:
        conn = side.conn
        conn.last_seen = ts
        if conn is not self._recent:
            self._conns.move_to_end(conn.index)
            self._recent = conn
        self.stats.packets += 1
        stats = side.stats
        stats.packets += 1
        if stats.first is None:
            stats.first = ts
        stats.last = ts
        peer = side.peer
        before = side.buffer.cost + peer.buffer.cost
        if flags & SYN and not flags & ACK and side.direction is Direction.SERVER:
            self._late_syn(conn)
        if flags & ACK and self.skip_acked_gaps and peer.buffer.cost:  # (no hole: nothing to do)
            peer.acknowledged(tcp.ack)  # before this packet's own data, as tshark's follow
        side.receive(tcp.seq, flags, tcp.window, tcp.payload, ts)
        after = side.buffer.cost + peer.buffer.cost
        if before or after:
            self._recharge(conn, after - before)
            if conn.closed:
                return
        if flags & RST and _rst_in_window(side, tcp.seq):
            self._close(conn, "rst")
        elif flags & RST:
            self.stats.bad_rst += 1
            _settle(conn)
        elif side.finished and peer.finished:
            self._close(conn, "fin")
        else:
            _settle(conn)

    @staticmethod
    def _late_syn(conn: Connection) -> None:
        """A bare SYN from the side taken for the server: swap roles if nothing was sent yet."""
        if not (conn.client.stats.bytes or conn.server.stats.bytes or conn.client.isn is not None):
            conn.swap_roles()

    # -- the connection table -----------------------------------------------------------------

    def _reopen(self, side: Side | None, key: tuple[Any, int, Any, int], net: Any, tcp: Any,
                flags: int, ts: float) -> Side | None:
        """A packet whose connection is unknown, closed, or reused by a new SYN."""
        if side is not None:
            conn = side.conn
            if not flags & SYN or side.isn == tcp.seq:
                self.stats.after_close += 1
                return None
            if not conn.closed:
                self.stats.reused += 1
                self._close(conn, "reused")
            self._forget(conn)
        return self._open(key, net, tcp, flags, ts)

    def _open(self, key: tuple[Any, int, Any, int], net: Any, tcp: Any, flags: int,
              ts: float) -> Side:
        while len(self._conns) >= self.max_connections:
            self._evict()
        kind = net.flow.kind
        src, sport, dst, dport = key
        if flags & SYN and flags & ACK:  # a SYN-ACK comes from the server
            src, sport, dst, dport = dst, dport, src, sport
        conn = Connection(self._next_index, Flow(kind, src, dst),
                          Flow(ENDPOINT_TCP_PORT, sport, dport), ts)
        self._next_index += 1
        self.stats.connections += 1
        sides = self._sides
        sides[src, sport, dst, dport] = conn.client  # the keys _key(conn.client/server) gives
        sides[dst, dport, src, sport] = conn.server
        self._conns[conn.index] = conn
        self._recent = conn
        conn.stream = self.factory(conn)
        return sides[key]

    def _evict(self) -> None:
        """Make room for one connection: forget the oldest closed one, else close the least
        recently active one."""
        if self._closed:
            self._forget(next(iter(self._closed.values())))
            return
        conn = next(iter(self._conns.values()))
        self.stats.evicted += 1
        self._close(conn, "evicted")
        self._forget(conn)

    def _forget(self, conn: Connection) -> None:
        """Remove a closed connection from every table."""
        sides = self._sides
        key = _key(conn.client)
        if sides.get(key) is conn.client:
            del sides[key]
        key = (key[2], key[3], key[0], key[1])  # _key(conn.server)
        if sides.get(key) is conn.server:
            del sides[key]
        self._conns.pop(conn.index, None)
        self._closed.pop(conn.index, None)

    def _close(self, conn: Connection, reason: str, deliver: bool = True) -> None:
        """End a connection: deliver (or drop) what it buffered, then complete its stream.

        The connection stays in the table, closed, so that its last ACKs and retransmissions
        are recognised and ignored; flushes and evictions forget it later.
        """
        before = conn.buffered
        if before:
            if deliver:
                conn.client.flush()
                conn.server.flush()
            else:
                lost = conn.client.buffer.clear() + conn.server.buffer.clear()
                self.stats.dropped_bytes += lost
            self.buffered -= before - conn.buffered
        self._buffering.pop(conn.index, None)
        conn.closed = True
        conn.client.calm = conn.server.calm = False
        conn.reason = reason
        counter = _CLOSE_COUNTERS.get(reason)
        if counter is not None:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        self._closed[conn.index] = conn
        stream, conn.stream = conn.stream, None
        if stream is not None:
            stream.complete()

    # -- limits -------------------------------------------------------------------------------

    def _recharge(self, conn: Connection, delta: int) -> None:
        """Apply a change of conn's buffered charge, then enforce the limits."""
        self.buffered += delta
        if self.buffered > self.stats.peak_buffered:
            self.stats.peak_buffered = self.buffered
        self._track(conn)
        if conn.buffered > self.max_buffered_per_connection:
            self._relieve(conn, self.max_buffered_per_connection)
        while self.buffered > self.max_buffered_total and self._buffering:
            self._relieve(next(iter(self._buffering.values())), 0)

    def _track(self, conn: Connection) -> None:
        if conn.buffered:
            self._buffering.setdefault(conn.index, conn)
        else:
            self._buffering.pop(conn.index, None)

    def _relieve(self, conn: Connection, target: int) -> None:
        """Bring conn's charge to target or below, by on_limit's rule."""
        if self.on_limit == "drop":
            self._close(conn, "limit", deliver=False)
            return
        while conn.buffered > target:
            before = conn.buffered
            client, server = conn.client.buffer.first, conn.server.buffer.first
            older = client is not None and (server is None or client.timestamp <= server.timestamp)
            (conn.client if older else conn.server).skip_gap()
            self.stats.limit_skips += 1
            self.buffered -= before - conn.buffered
        self._track(conn)
        if conn.finished:
            self._close(conn, "fin")
        else:
            _settle(conn)

    def memory_bound(self) -> int:
        """The most memory (bytes) the assembler holds, whatever the input: buffered data up
        to ``max_buffered_total``, ``CONNECTION_COST`` per connection, and what its
        defragmenters may hold. A factory's streams are the caller's and come on top (keep
        them small, or bounded too)."""
        bound = self.max_buffered_total + self.max_connections * CONNECTION_COST
        return bound + sum(d.memory_bound() for d in self.defragmenters or ())

    # -- flushing -----------------------------------------------------------------------------

    def flush_older_than(self, timestamp: float) -> int:
        """Close connections idle since before timestamp (delivering what they buffered,
        across holes) and, in the others, skip holes whose data has waited since before it.

        Timestamps are packet times. Returns the number of connections closed. Unfinished IP
        datagrams whose first fragment came before timestamp are given up on too.
        """
        for defragmenter in self.defragmenters or ():
            defragmenter.discard_older_than(timestamp)
        closed = 0
        for conn in list(self._conns.values()):
            if conn.closed:
                if conn.last_seen < timestamp:
                    self._forget(conn)
                continue
            if conn.last_seen < timestamp:
                self._close(conn, "idle")
                self._forget(conn)
                closed += 1
            elif conn.buffered:
                before = conn.buffered
                conn.client.flush_waiting(timestamp)
                conn.server.flush_waiting(timestamp)
                self.buffered -= before - conn.buffered
                self._track(conn)
                if conn.finished:
                    self._close(conn, "fin")
                else:
                    _settle(conn)
        return closed

    def flush_all(self) -> int:
        """Close every connection (end of input): deliver what they buffered, complete their
        streams, forget them. Returns the number closed."""
        for defragmenter in self.defragmenters or ():
            defragmenter.discard_all()
        closed = 0
        for conn in list(self._conns.values()):
            if not conn.closed:
                self._close(conn, "end")
                closed += 1
        # All closed: forgetting each one (_forget) comes to emptying the tables.
        self._sides.clear()
        self._conns.clear()
        self._closed.clear()
        self._recent = None
        return closed

    # -- inspection ---------------------------------------------------------------------------

    def connections(self) -> list[Connection]:
        """The connections still open, least recently active first."""
        return [c for c in self._conns.values() if not c.closed]

    def __repr__(self) -> str:
        return (f"<TCPAssembler {len(self.connections())} open, {self.stats.connections} seen,"
                f" {self.buffered} bytes buffered>")


_RST_BEHIND, _RST_AHEAD = 1 << 16, 1 << 20


def _rst_in_window(side: Side, seq: int) -> bool:
    """Whether a RST's sequence number is near the next byte its sender was to send (as RFC
    5961 asks receivers to check): within 64 KiB behind or 1 MiB ahead. One with any other
    number is forged or stale, and ends nothing."""
    if side.nxt_seq is None:
        return True
    diff = ((seq - side.nxt_seq + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
    return -_RST_BEHIND <= diff <= _RST_AHEAD
