"""IPv4 and IPv6 defragmentation: fragments in, whole datagrams (decoded again) out.

::

    from pktspec.reassembly import defragment

    for packet in defragment(pktspec.open("trace.pcap")):
        ...                      # fragments replaced by the datagram they make up

or, packet by packet, as gopacket's ip4defrag::

    v4 = IPv4Defragmenter()
    whole = v4.defrag(packet)    # packet itself if not a fragment, None while incomplete,
                                 # the reassembled packet when this fragment completes one

Datagrams are keyed by source, destination, protocol and identification (IPv4) or source,
destination and identification (IPv6, RFC 8200). The overlap policy and the RFC limits are
those of :mod:`pktspec.reassembly.fragments`. An unfinished datagram is given up on when its
first fragment is ``timeout`` seconds older than the newest packet (packet time, never the
wall clock), or when the defragmenter's memory cap (``max_bytes``, ``max_datagrams``) needs
room, oldest first; counters in :class:`DefragStats` say how often. ``max_bytes`` bounds
the estimated memory held (fragment data plus a fixed cost per fragment and per datagram),
so :meth:`memory_bound` holds whatever the input.

Order. :func:`defragment` (what ``pktspec.open(path, defragment=True)`` runs) keeps capture
order: a reassembled datagram comes out where its last missing fragment was captured (as
gopacket's ip4defrag and tshark do), and nothing is ever yielded after a packet captured later
than it. The fragments of a datagram that never completes (timeout, memory cap, RFC limit, or
the end of input) are dropped, as ip4defrag drops them, and counted: ``stats.incomplete``
fragments (``timed_out``, ``evicted``, ``invalid`` and ``unfinished`` say why). With
``keep_incomplete=True`` they are yielded instead, unchanged and in their capture place: the
packets after such a fragment are held back until its datagram completes or is given up on
(so output lags by up to ``timeout`` seconds of packet time, and what is held back is bounded
by ``max_bytes``).

The reassembled datagram is decoded again as a whole packet: the link-layer bytes of the
first fragment (when only link layers precede the IP header), a rebuilt IP header (IPv4:
total length, flags, offset and checksum fixed; IPv6: payload length fixed and the Fragment
header removed from the chain), then the payload. So TCP inside fragments reaches the TCP
assembler, and ``packet.network`` of the result says ``more_fragments`` is off.

IPv6 fragments are found by walking the extension-header chain in the raw bytes, which works
whether or not the protocol library decodes IPv6 extension headers as layers. An atomic
fragment (offset 0, no more fragments; RFC 6946) is a whole datagram and passes unchanged.
"""

from __future__ import annotations

import abc
import struct
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from pktspec.protocols.ipv4 import IPv4
from pktspec.protocols.ipv6 import IPv6
from pktspec.reassembly.fragments import FragmentError, FragmentSet
from pktspec.runtime.layer import LayerClass
from pktspec.runtime.packet import Packet, decode

__all__ = ["DefragStats", "IPv4Defragmenter", "IPv6Defragmenter", "Ipv6Fragment",
           "defragment", "fragment_protocol", "ipv6_fragment", "is_fragment"]

_IPV6_EXTENSIONS = frozenset({0, 43, 60, 135, 139, 140, 253, 254})  # length in 8-byte units
_AH = 51  # length in 4-byte units, minus 2
_FRAGMENT = 44
_NO_EXTENSIONS = frozenset({6, 17, 58, 59})  # TCP, UDP, ICMPv6, no next header
_MF = 1  # IPv4 flags: evil, dont_fragment, more_fragments


class Ipv6Fragment(NamedTuple):
    """Where a Fragment header sits in a packet and what it says.

    ``next_header_at`` is the byte holding the Next Header value that announced it (in the
    IPv6 header or the extension header before it); ``at`` is the Fragment header itself.
    """

    next_header_at: int
    at: int
    next_header: int
    offset: int
    more: bool
    ident: int


def ipv6_fragment(buf: Any, off: int, end: int) -> Ipv6Fragment | None:
    """The Fragment header of the IPv6 packet at buf[off:end], or None (none, or the chain is
    cut short or holds a header we cannot step over, such as ESP)."""
    if end - off < 40:
        return None
    nh_at = off + 6
    nh = buf[nh_at]
    pos = off + 40
    while True:
        if nh == _FRAGMENT:
            if pos + 8 > end:
                return None
            nxt, _, word, ident = struct.unpack_from(">BBHI", buf, pos)
            return Ipv6Fragment(nh_at, pos, nxt, word & 0xFFF8, bool(word & 1), ident)
        if pos + 2 > end:
            return None
        if nh in _IPV6_EXTENSIONS:
            size = (buf[pos + 1] + 1) * 8
        elif nh == _AH:
            size = (buf[pos + 1] + 2) * 4
        else:
            return None
        nh_at = pos
        nh = buf[pos]
        pos += size


def fragment_protocol(net: Any) -> int | None:
    """The protocol a fragment carries (6 for TCP, ...) when the network layer is a fragment
    of a larger datagram; None when it is not (atomic IPv6 fragments included)."""
    t = type(net)
    if t is IPv4:
        return net.protocol if net._flags & _MF or net.fragment_offset else None
    if t is IPv6:
        if net.next_header in _NO_EXTENSIONS:
            return None
        frag = ipv6_fragment(net._buf, net._off, net._end)
        if frag is not None and (frag.more or frag.offset != 0):
            return frag.next_header
    return None


def is_fragment(net: Any) -> bool:
    """Whether a network layer is a fragment of a larger datagram (not an atomic one)."""
    return fragment_protocol(net) is not None


@dataclass(slots=True)
class DefragStats:
    """Counters of one defragmenter.

    ``fragments`` taken; ``reassembled`` datagrams produced; ``atomic`` IPv6 atomic
    fragments passed through; ``overlaps`` and ``conflicts`` fragments that overlapped
    others (``conflicts``: with different bytes) in produced datagrams; ``beyond_end``
    fragments cut at the datagram's end; ``invalid`` datagrams given up on for breaking an
    RFC limit; ``truncated`` fragments the capture cut short (passed through, unusable);
    ``timed_out`` and ``evicted`` datagrams given up on by timeout or memory cap;
    ``unfinished`` datagrams still incomplete at the end of input (:meth:`discard_all`);
    ``incomplete`` the fragments of all the datagrams given up on (invalid, timed out,
    evicted, unfinished): fragments that never made a datagram, dropped (or, with
    ``keep_fragments``, handed back by ``take_given_up``).
    """

    fragments: int = 0
    reassembled: int = 0
    atomic: int = 0
    overlaps: int = 0
    conflicts: int = 0
    beyond_end: int = 0
    invalid: int = 0
    truncated: int = 0
    timed_out: int = 0
    evicted: int = 0
    unfinished: int = 0
    incomplete: int = 0


DATAGRAM_COST = 1024
"""Bytes charged per unfinished datagram for its own objects (table entry, fragment set,
rebuild template), on top of its fragments (measured with tracemalloc, rounded up)."""

PACKET_COST = 1024
"""Bytes charged per kept fragment packet (``keep_fragments``) beyond its data."""


class _Pending:
    """A datagram being collected: its fragments, how to rebuild it, the packets it ate, and
    what it is charged against the cap (``cost``)."""

    __slots__ = ("fragments", "template", "packets", "kept")

    def __init__(self, ts: float) -> None:
        self.fragments = FragmentSet(ts)
        self.template: tuple[bytes, type, bytes, type] | None = None
        self.packets: list[Packet] = []
        self.kept = 0

    @property
    def cost(self) -> int:
        return DATAGRAM_COST + self.fragments.cost + self.kept


class _Defragmenter(abc.ABC):
    """What both IP versions share: the table, timeouts, caps and re-decoding."""

    def __init__(self, *, timeout: float = 30.0, max_bytes: int = 16 << 20,
                 max_datagrams: int = 4096, keep_fragments: bool = False) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_datagrams = max_datagrams
        self.keep_fragments = keep_fragments
        self.stats = DefragStats()
        self.cost = 0
        self._pending: OrderedDict[Any, _Pending] = OrderedDict()  # oldest first
        self._given_up: list[Packet] = []
        self._completed: list[Packet] = []
        self._track_completed = False  # set by defragment(keep_incomplete=True) only

    # -- the version-specific part --------------------------------------------------------------

    @abc.abstractmethod
    def _parse(self, packet: Packet, net: Any) -> tuple[Any, int, bytes, bool, Any] | None:
        """(key, offset, data, last, header info) of a fragment; None if not a fragment."""
        ...

    @abc.abstractmethod
    def _rebuild(self, header: bytes, info: Any, payload: bytes) -> bytes:
        ...

    # -- the shared part ----------------------------------------------------------------------

    def defrag(self, packet: Packet) -> Packet | None:
        """The packet itself when it is not a fragment of this IP version; None while its
        datagram is incomplete; the reassembled packet when it completes one."""
        net = packet.network
        parsed = self._parse(packet, net) if net is not None else None
        if parsed is None:
            return packet
        key, offset, data, last, info = parsed
        ts = packet.metadata.timestamp if packet.metadata is not None else 0.0
        self.discard_older_than(ts - self.timeout)
        self.stats.fragments += 1
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(ts)
            self.cost += pending.cost
        before = pending.cost
        try:
            pending.fragments.add(offset, data, last, ts)
        except FragmentError:
            self.stats.invalid += 1
            self._give_up(key, packet)
            return None
        if offset == 0 and pending.template is None:
            pending.template = self._template(packet, net, info)
        if self.keep_fragments:
            pending.packets.append(packet)
            pending.kept += len(packet.data) + PACKET_COST
        self.cost += pending.cost - before
        if pending.fragments.complete and pending.template is not None:
            return self._finish(key, pending, packet)
        self._enforce_caps(key)
        return None

    def _template(self, packet: Packet, net: Any, info: Any) -> tuple[bytes, type, bytes, Any]:
        """What the rebuilt packet starts with: link bytes (when only link layers precede the
        IP header), the class to decode from, the IP header bytes and parsing info."""
        layers = packet.decoded
        before = layers[:layers.index(net)]
        if before and all(layer.layer_class is LayerClass.LINK for layer in before):
            prefix, cls = bytes(packet.data[:net.offset]), type(before[0])
        else:  # nothing before it, or a tunnel whose outer lengths would not fit the datagram
            prefix, cls = b"", type(net)
        return prefix, cls, self._header(packet, net, info), info

    @abc.abstractmethod
    def _header(self, packet: Packet, net: Any, info: Any) -> bytes:
        ...

    def _finish(self, key: Any, pending: _Pending, packet: Packet) -> Packet:
        del self._pending[key]
        if self._track_completed:
            self._completed.extend(pending.packets)
        fragments = pending.fragments
        self.cost -= pending.cost
        payload = fragments.assemble()
        stats = self.stats
        stats.reassembled += 1
        stats.overlaps += fragments.overlaps
        stats.conflicts += fragments.conflicts
        stats.beyond_end += fragments.beyond_end
        prefix, cls, header, info = pending.template  # type: ignore[misc]
        data = prefix + self._rebuild(header, info, payload)
        meta = packet.metadata
        if meta is not None:
            meta = meta.replace(caplen=len(data), length=len(data))
        return decode(data, cls, metadata=meta)

    def _give_up(self, key: Any, packet: Packet | None = None) -> None:
        """Forget an unfinished datagram (and packet, a fragment of it that was refused)."""
        pending = self._pending.pop(key, None)
        if pending is not None:
            self.cost -= pending.cost
            self.stats.incomplete += len(pending.fragments)
            if self.keep_fragments:
                self._given_up.extend(pending.packets)
        if packet is not None:
            self.stats.incomplete += 1
            if self.keep_fragments:
                self._given_up.append(packet)

    def _enforce_caps(self, newest: Any) -> None:
        while self._pending and (self.cost > self.max_bytes
                                 or len(self._pending) > self.max_datagrams):
            key = next(iter(self._pending))
            self.stats.evicted += 1
            self._give_up(key)

    def memory_bound(self) -> int:
        """The most memory (bytes) held at once: the cap, plus the fragment being added
        (at most one packet) before the cap evicts."""
        return self.max_bytes + 65535 + DATAGRAM_COST + PACKET_COST

    def discard_older_than(self, timestamp: float) -> int:
        """Give up on datagrams whose first fragment came before timestamp; returns how many."""
        count = 0
        while self._pending:
            key, pending = next(iter(self._pending.items()))
            if pending.fragments.first_seen >= timestamp:
                break
            self.stats.timed_out += 1
            self._give_up(key)
            count += 1
        return count

    def discard_all(self) -> int:
        """Give up on every unfinished datagram (end of input); returns how many."""
        count = len(self._pending)
        self.stats.unfinished += count
        for key in list(self._pending):
            self._give_up(key)
        return count

    def discard_oldest(self) -> bool:
        """Give up on the unfinished datagram whose first fragment came first (counted as
        ``evicted``); False when there is none."""
        if not self._pending:
            return False
        self.stats.evicted += 1
        self._give_up(next(iter(self._pending)))
        return True

    def take_given_up(self) -> list[Packet]:
        """With ``keep_fragments``: the fragments of datagrams given up on since the last
        call (so that nothing a capture held is silently lost)."""
        out, self._given_up = self._given_up, []
        return out

    def take_completed(self) -> list[Packet]:
        """While :func:`defragment` keeps incomplete fragments: the fragments of datagrams
        completed since the last call (now part of the packets :meth:`defrag` returned)."""
        out, self._completed = self._completed, []
        return out

    def __len__(self) -> int:
        return len(self._pending)


class IPv4Defragmenter(_Defragmenter):
    """Reassemble IPv4 datagrams (gopacket's ip4defrag); see the module docstring.

    ``timeout`` seconds of packet time, ``max_bytes`` and ``max_datagrams`` cap what is held;
    with ``keep_fragments`` the fragments of datagrams given up on can be taken back
    (:meth:`take_given_up`).
    """

    def _parse(self, packet: Packet, net: Any) -> tuple[Any, int, bytes, bool, Any] | None:
        if type(net) is not IPv4 or not (net._flags & _MF or net.fragment_offset):
            return None
        data = net.payload
        if len(data) < net.total_length - net.ihl * 4:
            self.stats.truncated += 1
            return None
        key = (net._src, net._dst, net.protocol, net.id)
        return key, net.fragment_offset * 8, bytes(data), not net._flags & _MF, None

    def _header(self, packet: Packet, net: Any, info: Any) -> bytes:
        return bytes(net.contents)

    def _rebuild(self, header: bytes, info: Any, payload: bytes) -> bytes:
        h = bytearray(header)
        struct.pack_into(">H", h, 2, len(h) + len(payload))
        struct.pack_into(">H", h, 6, struct.unpack_from(">H", h, 6)[0] & 0x4000)  # keep DF
        struct.pack_into(">H", h, 10, 0)
        struct.pack_into(">H", h, 10, _checksum(h))
        return bytes(h) + payload


class IPv6Defragmenter(_Defragmenter):
    """Reassemble IPv6 datagrams from their Fragment extension headers (RFC 8200).

    Same options as :class:`IPv4Defragmenter`. Atomic fragments pass through unchanged.
    """

    def _parse(self, packet: Packet, net: Any) -> tuple[Any, int, bytes, bool, Any] | None:
        if type(net) is not IPv6 or net.next_header in _NO_EXTENSIONS:
            return None
        end = net._off + 40 + net.payload_length
        frag = ipv6_fragment(net._buf, net._off, min(end, net._end))
        if frag is None:
            return None
        if not frag.more and frag.offset == 0:
            self.stats.atomic += 1
            return None
        if end > net._end:
            self.stats.truncated += 1
            return None
        data = bytes(net._buf[frag.at + 8:end])
        key = (net._src, net._dst, frag.ident)
        return key, frag.offset, data, not frag.more, frag

    def _header(self, packet: Packet, net: Any, info: Ipv6Fragment) -> bytes:
        """The unfragmentable part: the IPv6 header and the extension headers before the
        Fragment header, with the Next Header that announced it now naming what follows."""
        h = bytearray(net._buf[net._off:info.at])
        h[info.next_header_at - net._off] = info.next_header
        return bytes(h)

    def _rebuild(self, header: bytes, info: Any, payload: bytes) -> bytes:
        h = bytearray(header)
        struct.pack_into(">H", h, 4, len(h) - 40 + len(payload))
        return bytes(h) + payload


def _checksum(header: bytes | bytearray) -> int:
    """The Internet checksum (RFC 1071) of an IPv4 header."""
    if len(header) % 2:
        header = bytes(header) + b"\0"
    total = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def defragment(packets: Iterable[Packet], *, timeout: float = 30.0,
               max_bytes: int = 16 << 20, max_datagrams: int = 4096,
               keep_incomplete: bool = False,
               defragmenters: tuple[IPv4Defragmenter, IPv6Defragmenter] | None = None,
               ) -> Iterator[Packet]:
    """Yield packets with IPv4 and IPv6 fragments replaced by the datagrams they make up,
    in capture order. This is what ``pktspec.open(path, defragment=True)`` runs
    (``defragment={...}`` passes these keywords).

    A datagram comes out where its last missing fragment was captured. The fragments of a
    datagram that never completes (its first fragment ``timeout`` seconds of packet time
    older than the current packet, a memory cap, an RFC limit, or the end of input) are
    dropped and counted (``stats.incomplete``), as gopacket's ip4defrag drops them. With
    ``keep_incomplete`` they come out instead, unchanged and in their capture place: the
    packets after such a fragment are held back until its datagram completes or is given up
    on. At most ``max_bytes`` of packets are held back that way; past it the oldest
    unfinished datagram is given up on (counted as ``evicted``).

    ``defragmenters``, an (IPv4Defragmenter, IPv6Defragmenter) pair, are used instead of
    new ones, so that their ``stats`` can be read; their own timeout and caps then apply,
    and their ``keep_fragments`` is set to ``keep_incomplete``.
    """
    if defragmenters is None:
        options = dict(timeout=timeout, max_bytes=max_bytes, max_datagrams=max_datagrams)
        v4, v6 = IPv4Defragmenter(**options), IPv6Defragmenter(**options)
    else:
        v4, v6 = defragmenters
    v4.keep_fragments = v6.keep_fragments = keep_incomplete
    if keep_incomplete:
        return _in_place(packets, v4, v6, max_bytes)
    return _dropping(packets, v4, v6)


def _defragmenter(packet: Packet, v4: _Defragmenter,
                  v6: _Defragmenter) -> _Defragmenter | None:
    """The defragmenter a packet may be a fragment for; None when it cannot be one."""
    net = packet.network
    t = type(net)
    if t is IPv4:
        return v4 if net._flags & _MF or net.fragment_offset else None
    if t is IPv6 and net.next_header not in _NO_EXTENSIONS:
        return v6
    return None


def _expire(packet: Packet, v4: _Defragmenter, v6: _Defragmenter) -> None:
    """Give up on the datagrams that timed out by this packet's time."""
    meta = packet.metadata
    if meta is not None:
        ts = meta.timestamp
        for d in (v4, v6):
            if d._pending:
                d.discard_older_than(ts - d.timeout)


def _dropping(packets: Iterable[Packet], v4: _Defragmenter,
              v6: _Defragmenter) -> Iterator[Packet]:
    """:func:`defragment` without ``keep_incomplete``: unfinished datagrams are dropped."""
    for packet in packets:
        if v4._pending or v6._pending:
            _expire(packet, v4, v6)
        net = packet.network
        t = type(net)
        if t is IPv4:
            if not (net._flags & _MF or net.fragment_offset):
                yield packet
                continue
            out = v4.defrag(packet)
        elif t is IPv6 and net.next_header not in _NO_EXTENSIONS:
            out = v6.defrag(packet)
        else:
            yield packet
            continue
        if out is not None:
            yield out
    v4.discard_all()
    v6.discard_all()


def _in_place(packets: Iterable[Packet], v4: _Defragmenter, v6: _Defragmenter,
              max_bytes: int) -> Iterator[Packet]:
    """:func:`defragment` with ``keep_incomplete``: a queue in capture order, each entry
    ``[packet, ready, defragmenter]``, drained from the front while its head is ready. A
    fragment's entry waits until its datagram completes (the entry is emptied: the datagram
    comes out at its last fragment) or is given up on (the fragment comes out, in place)."""
    held: deque[list[Any]] = deque()
    waiting: dict[int, list[Any]] = {}  # id(fragment) -> its entry, while unresolved
    cost = 0  # what the packets in held are charged (fragments are charged twice: bounded)
    v4._track_completed = v6._track_completed = True

    def settle(d: _Defragmenter) -> None:
        nonlocal cost
        for q in d.take_completed():
            entry = waiting.pop(id(q), None)
            if entry is not None:
                cost -= len(q.data) + PACKET_COST
                entry[0], entry[1] = None, True
        for q in d.take_given_up():
            entry = waiting.pop(id(q), None)
            if entry is not None:
                entry[1] = True

    try:
        for packet in packets:
            if v4._pending or v6._pending:
                _expire(packet, v4, v6)
                settle(v4)
                settle(v6)
            d = _defragmenter(packet, v4, v6)
            if d is None:
                if not held:
                    yield packet
                    continue
                entry = [packet, True, None]
            else:
                out = d.defrag(packet)
                if out is not None:  # not a fragment after all, or the datagram it completed
                    entry = [out, True, None]
                else:  # waiting, or refused at once (RFC limit, cap): then ready as it is
                    refused = any(q is packet for q in d._given_up)
                    entry = [packet, refused, d]
                    if not refused:
                        waiting[id(packet)] = entry
                settle(d)
            held.append(entry)
            cost += len(entry[0].data) + PACKET_COST
            while held:
                head = held[0]
                if not head[1]:
                    if cost <= max_bytes:
                        break
                    if not head[2].discard_oldest():  # gives up on the head's datagram
                        head[1] = True
                    settle(head[2])
                    continue
                held.popleft()
                if head[0] is not None:
                    cost -= len(head[0].data) + PACKET_COST
                    yield head[0]
        v4.discard_all()
        v6.discard_all()
        settle(v4)
        settle(v6)
        for entry in held:
            if entry[0] is not None:
                yield entry[0]
    finally:
        for d in (v4, v6):
            d._track_completed = False
            d._completed.clear()
