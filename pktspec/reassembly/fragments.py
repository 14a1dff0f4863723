"""The fragments of one IP datagram, and how overlapping fragments are resolved.

This module knows nothing about IP headers: a :class:`FragmentSet` takes (offset, data,
last) triples and says when the datagram is whole. :mod:`pktspec.reassembly.ipdefrag` does
the IPv4 and IPv6 specifics on top of it.

Overlap policy (the one Wireshark applies, and so the corpus truth): each byte of the
datagram comes from the fragment with the lowest offset that covers it; among fragments with
the same offset, from the one captured first. A fragment whose bytes in an overlap differ
from the ones kept makes the datagram a conflict (counted; the datagram is still produced,
because tshark produces it). The end of the datagram is set by the first fragment without
the more-fragments flag; bytes past it are cut (and counted as an error), as are later "last"
fragments that disagree.

The RFC limits are checked as fragments arrive: no byte past 65535, at most
``MAX_FRAGMENTS`` fragments, non-last fragments of at least ``MIN_FRAGMENT`` bytes. A
datagram that breaks one is given up on (:class:`FragmentError`), so that a hostile capture
cannot make a datagram grow without bound.
"""

from __future__ import annotations

from bisect import bisect_left

__all__ = ["FRAGMENT_COST", "MAX_DATAGRAM", "MAX_FRAGMENTS", "MIN_FRAGMENT", "FragmentError",
           "FragmentSet"]

MAX_DATAGRAM = 65535
"""No fragment may reach past this offset (RFC 791 total length, RFC 8200 payload length)."""

MAX_FRAGMENTS = 8192
"""At most this many fragments per datagram (8192 eight-byte fragments cover 65535 bytes)."""

MIN_FRAGMENT = 8
"""A fragment that is not the last carries at least this many bytes (one fragment block).
RFC 791 wants non-last fragments to be multiples of 8; captures (and tshark) accept others,
so only the minimum is enforced."""

FRAGMENT_COST = 160
"""Bytes charged per stored fragment beyond its data, against the defragmenter's cap."""


class FragmentError(ValueError):
    """A fragment breaks an RFC limit; the datagram it belongs to is given up on."""


class FragmentSet:
    """The fragments received so far for one datagram.

    ``add`` stores a fragment; ``complete`` says whether every byte up to the end is there;
    ``assemble`` builds the payload by the overlap policy. ``conflicts`` counts fragments
    whose overlapping bytes differed, ``overlaps`` fragments that overlapped at all,
    ``beyond_end`` fragments cut at the end; ``cost`` is the charge against memory caps.
    """

    __slots__ = ("_fragments", "_covered", "end", "overlaps", "conflicts", "beyond_end",
                 "cost", "first_seen", "last_seen")

    def __init__(self, timestamp: float) -> None:
        self._fragments: list[tuple[int, int, bytes]] = []  # (offset, arrival, data)
        self._covered: list[list[int]] = []  # disjoint [start, end) runs, sorted
        self.end: int | None = None
        self.overlaps = 0
        self.conflicts = 0
        self.beyond_end = 0
        self.cost = 0
        self.first_seen = timestamp
        self.last_seen = timestamp

    def __len__(self) -> int:
        return len(self._fragments)

    def add(self, offset: int, data: bytes, last: bool, timestamp: float) -> None:
        """Store a fragment; raises FragmentError when it breaks an RFC limit."""
        stop = offset + len(data)
        if stop > MAX_DATAGRAM:
            raise FragmentError(f"fragment reaches byte {stop}, past {MAX_DATAGRAM}")
        if len(self._fragments) >= MAX_FRAGMENTS:
            raise FragmentError(f"more than {MAX_FRAGMENTS} fragments")
        if not last and len(data) < MIN_FRAGMENT:
            raise FragmentError(f"non-last fragment of {len(data)} bytes (< {MIN_FRAGMENT})")
        if last:
            if self.end is None:
                self.end = stop
            elif stop != self.end:
                self.beyond_end += 1
        self._fragments.append((offset, len(self._fragments), data))
        self._cover(offset, stop)
        self.cost += len(data) + FRAGMENT_COST
        self.last_seen = timestamp

    def _cover(self, start: int, stop: int) -> None:
        """Merge [start, stop) into the covered runs."""
        runs = self._covered
        i = bisect_left(runs, [start, start])
        if i and runs[i - 1][1] >= start:
            i -= 1
        j = i
        while j < len(runs) and runs[j][0] <= stop:
            start = min(start, runs[j][0])
            stop = max(stop, runs[j][1])
            j += 1
        runs[i:j] = [[start, stop]]

    @property
    def complete(self) -> bool:
        """The last fragment arrived and every byte before its end is covered."""
        if self.end is None or not self._covered:
            return False
        first = self._covered[0]
        return first[0] == 0 and first[1] >= self.end

    def assemble(self) -> bytes:
        """The datagram's payload, byte by byte from the lowest-offset, earliest fragment."""
        end = self.end or 0
        out = bytearray(end)
        pos = 0
        for offset, _, data in sorted(self._fragments, key=lambda f: (f[0], f[1])):
            stop = offset + len(data)
            if stop > end:
                self.beyond_end += 1
                data = data[:max(end - offset, 0)]
                stop = offset + len(data)
            if offset < pos and data:
                self.overlaps += 1
                seen = min(stop, pos)
                if out[offset:seen] != data[:seen - offset]:
                    self.conflicts += 1
            if stop > pos:
                out[pos:stop] = data[pos - offset:]
                pos = stop
        return bytes(out)
