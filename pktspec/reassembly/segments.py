"""The out-of-order buffer of one TCP direction, and the overlap policy: first copy wins.

Bytes that arrive ahead of a hole wait here until the hole fills (or is given up on).
Positions are unwrapped sequence numbers (see :mod:`pktspec.reassembly.connection`).

Overlap policy: first copy wins, where "first" is the copy that first continues the stream.
Precisely (this is what tshark's follow does, and the corpus truth is tshark's):

1. Bytes already delivered are never replaced: later copies of them are dropped.
2. A segment that continues the stream (it starts at or before the next expected byte and
   reaches past it) is delivered at once, whole.
3. When the next expected byte moves, the buffered segments that now continue the stream are
   taken in capture order, each whole; those left behind are cut to their new part.

In a capture without holes this is exactly "the first captured copy of every byte wins". When
overlapping copies wait behind a hole, the segment that fills the hole wins over the buffered
copies of the same bytes, because it is delivered first (``tcp__zk-reassembly.pcap`` in the
corpus has such conflicts; tshark resolves them this way).

A segment wholly inside an earlier buffered one that starts no later is never used (rule 3
always takes the earlier one first), so it is dropped on arrival: repeated retransmissions
of buffered data cost nothing. Overlapping bytes are compared with the buffered copies, and a
difference counts as a conflict (bytes already delivered are not kept, so they cannot be
compared).

Each buffered segment is charged ``len(data) + SEGMENT_COST`` bytes against the assembler's
limits: the constant is an upper estimate of what CPython spends on the segment's objects, so
that the limits bound real memory and not only payload bytes.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Iterator

from pktspec.reassembly.stream import StreamStats

__all__ = ["SEGMENT_COST", "Segment", "SegmentBuffer"]

SEGMENT_COST = 256
"""Bytes charged per buffered segment beyond its data: the Segment object, its bytes
header, its list and heap entries, rounded up (measured with tracemalloc on CPython 3.11)."""


def _start_key(segment: Segment) -> tuple[int]:
    return (segment.start,)


class Segment:
    """Buffered data: stream positions ``start``..``end``, the bytes, the capture time of the
    packet that brought them and ``arrival``, a count that orders segments by capture."""

    __slots__ = ("start", "end", "data", "timestamp", "arrival")

    def __init__(self, start: int, data: bytes, timestamp: float, arrival: int) -> None:
        self.start = start
        self.end = start + len(data)
        self.data = data
        self.timestamp = timestamp
        self.arrival = arrival

    def __lt__(self, other: Segment) -> bool:  # sorted by position, ties by capture order
        return (self.start, self.arrival) < (other.start, other.arrival)

    def __repr__(self) -> str:
        return f"<Segment {self.start}..{self.end} #{self.arrival} t={self.timestamp:.6f}>"


class SegmentBuffer:
    """The buffered segments of one direction.

    Segments wait in ``_waiting`` (sorted by start) until the stream reaches them, then move
    to ``_ready`` (a heap by capture order) from which :meth:`pop_next` takes them. ``cost``
    is what they are charged against the limits.
    """

    __slots__ = ("_waiting", "_ready", "_arrivals", "_longest", "cost")

    def __init__(self) -> None:
        self._waiting: list[Segment] = []
        self._longest = 0  # no waiting segment is longer: where an overlap search starts
        self._ready: list[tuple[int, Segment]] = []
        self._arrivals = 0
        self.cost = 0

    def __bool__(self) -> bool:
        return bool(self._waiting or self._ready)

    def __len__(self) -> int:
        return len(self._waiting) + len(self._ready)

    def __iter__(self) -> Iterator[Segment]:
        return iter(sorted([s for _, s in self._ready] + self._waiting))

    @property
    def first(self) -> Segment | None:
        """The segment with the lowest start (the one right after the hole), or None."""
        if self._ready:
            return min(s for _, s in self._ready)
        return self._waiting[0] if self._waiting else None

    def _overlapping(self, start: int, end: int) -> list[Segment]:
        """Buffered segments that share a byte with [start, end)."""
        segments = [s for _, s in self._ready if s.end > start and s.start < end]
        # waiting segments are sorted by start and none is longer than _longest: only those
        # starting after start - _longest can reach start (a scan from the front made
        # thousands of small segments behind a hole cost quadratic time)
        key = _start_key
        lo = bisect_left(self._waiting, (start - self._longest,), key=key)
        stop = bisect_left(self._waiting, (end,), lo=lo, key=key)
        segments += [s for s in self._waiting[lo:stop] if s.end > start]
        return segments

    def compare(self, start: int, data: bytes, stats: StreamStats) -> int:
        """Count the bytes of data (at start) already buffered, and a conflict if any differ
        from the first captured copy of them; returns the number of repeated bytes."""
        end = start + len(data)
        seen: list[tuple[int, int]] = []
        conflict = False
        for s in sorted(self._overlapping(start, end), key=lambda s: s.arrival):
            lo, hi = max(start, s.start), min(end, s.end)
            for a, b in _uncovered(lo, hi, seen):
                conflict = conflict or data[a - start:b - start] != s.data[a - s.start:b - s.start]
            seen.append((lo, hi))
        repeated = _union(seen)
        if repeated:
            stats.overlaps += 1
            stats.overlap_bytes += repeated
            stats.conflicts += conflict
        return repeated

    def add(self, start: int, data: bytes, timestamp: float, stats: StreamStats) -> bool:
        """Buffer a segment that lies ahead of the next expected byte; returns False when it
        was dropped because an earlier buffered segment already covers it (rule 3)."""
        self.compare(start, data, stats)
        end = start + len(data)
        for s in self._overlapping(start, end):
            if s.start <= start and s.end >= end:
                return False
        segment = Segment(start, data, timestamp, self._arrivals)
        self._arrivals += 1
        insort(self._waiting, segment)
        self._longest = max(self._longest, len(data))
        self.cost += len(data) + SEGMENT_COST
        return True

    def pop_next(self, nxt: int) -> Segment | None:
        """The first captured segment that starts at or before nxt, or None. It may end at
        or before nxt (then it holds nothing new and the caller drops it)."""
        waiting = self._waiting
        i = 0
        while i < len(waiting) and waiting[i].start <= nxt:
            i += 1
        if i:
            for segment in waiting[:i]:
                heapq.heappush(self._ready, (segment.arrival, segment))
            del waiting[:i]
        if not self._ready:
            return None
        segment = heapq.heappop(self._ready)[1]
        self.cost -= len(segment.data) + SEGMENT_COST
        return segment

    def truncate(self, limit: int) -> int:
        """Cut every buffered byte at or past position limit (the FIN); returns how many."""
        dropped = 0
        kept = []
        for segment in [s for _, s in self._ready] + self._waiting:
            if segment.end <= limit:
                kept.append(segment)
                continue
            keep = max(limit - segment.start, 0)
            dropped += len(segment.data) - keep
            if keep:
                kept.append(Segment(segment.start, segment.data[:keep], segment.timestamp,
                                    segment.arrival))
        self._ready = []  # segments taken out of _ready go back to waiting: pop_next
        self._waiting = sorted(kept)  # moves them again, still in capture order
        self._longest = max((len(s.data) for s in kept), default=0)
        self.cost = sum(len(s.data) + SEGMENT_COST for s in kept)
        return dropped

    def clear(self) -> int:
        """Forget everything; returns how many data bytes were dropped."""
        dropped = sum(len(s.data) for s in self)
        self._waiting.clear()
        self._ready.clear()
        self.cost = 0
        return dropped

    def __repr__(self) -> str:
        return f"<SegmentBuffer {len(self)} segments, cost {self.cost}>"


def _uncovered(lo: int, hi: int, runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [lo, hi) that none of the runs cover."""
    parts = [(lo, hi)]
    for a, b in runs:
        parts = [piece for x, y in parts
                 for piece in ((x, min(y, a)), (max(x, b), y)) if piece[0] < piece[1]]
    return parts


def _union(runs: list[tuple[int, int]]) -> int:
    """How many positions the [lo, hi) runs cover together."""
    total = 0
    reach = None
    for lo, hi in sorted(runs):
        if reach is None or lo >= reach:
            total += hi - lo
            reach = hi
        elif hi > reach:
            total += hi - reach
            reach = hi
    return total
