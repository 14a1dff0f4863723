"""What the TCP assembler delivers, and to what: chunks, the Stream interface, statistics.

The assembler calls two methods on the object its factory made for a connection::

    class Printer:
        def reassembled(self, chunk: Chunk) -> None:     # in order, per direction
            print(chunk.direction.name, chunk.skipped, bytes(chunk.data[:40]))

        def complete(self) -> None:                      # FIN/RST, flush or a limit
            print("done")

A :class:`Chunk` is one run of in-order bytes of one direction. ``skipped`` says how many
bytes are missing just before it (a hole the capture never filled): the consumer knows data
is gone and how much, instead of getting a silently shorter stream. Both directions of a
connection go to the same stream object; ``chunk.direction`` tells them apart.

This module holds only these shapes and :class:`StreamStats`, so that readers
(:mod:`pktspec.reassembly.reader`) and message decoders (:mod:`pktspec.reassembly.messages`)
depend on them without depending on the assembler itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

__all__ = ["Chunk", "Direction", "Gap", "Stream", "StreamStats"]


class Direction(enum.IntEnum):
    """Who sent the bytes: the client (the side that sent the SYN, or the first sender when
    the handshake was not captured) or the server. An int, so it can index a pair."""

    CLIENT = 0
    SERVER = 1

    @property
    def other(self) -> Direction:
        return Direction.SERVER if self is Direction.CLIENT else Direction.CLIENT


class Chunk(NamedTuple):
    """In-order bytes of one direction, as delivered to ``Stream.reassembled``.

    ``data`` (bytes) follows the previous chunk of the same direction after ``skipped``
    missing bytes (0 when nothing is missing). ``offset`` is where ``data`` starts in the
    direction's byte stream, counting skipped bytes, so ``offset + len(data)`` is the next
    chunk's ``offset - skipped``. ``timestamp`` is when the packet that carried the bytes was
    captured (packet time, not wall-clock time).

    A named tuple because the assembler makes one per segment: building it and reading its
    fields run in C.
    """

    data: bytes
    skipped: int
    direction: Direction
    offset: int
    timestamp: float

    def __repr__(self) -> str:
        gap = f" after {self.skipped} missing" if self.skipped else ""
        return (f"<Chunk {self.direction.name} {len(self.data)} bytes at {self.offset}{gap} "
                f"t={self.timestamp:.6f}>")


@runtime_checkable
class Stream(Protocol):
    """What a factory returns for each connection (gopacket's Stream / tcpassembly.Stream).

    ``reassembled`` gets each direction's bytes in sequence order; ``complete`` is called
    once, when the connection ends (both FINs, a RST, a flush, or a limit), after the last
    chunk. Neither is called again for that connection afterwards.
    """

    def reassembled(self, chunk: Chunk) -> None: ...

    def complete(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Gap:
    """Bytes missing from one direction: ``length`` bytes before ``data[position]``.

    ``position`` indexes the bytes actually delivered (what ``conn.client.data`` holds), so
    ``data[:position]`` came before the hole and ``data[position:]`` after it.
    """

    position: int
    length: int


@dataclass(slots=True)
class StreamStats:
    """Counters for one direction of a connection.

    ``packets`` every TCP packet sent that way (pure ACKs too); ``bytes`` payload bytes
    delivered; ``skipped`` bytes reported missing and ``gaps`` how many holes that was;
    ``out_of_order`` segments that arrived ahead of a hole and waited; ``retransmissions``
    segments that carried no new byte; ``overlaps`` segments that carried at least one byte
    seen before and ``overlap_bytes`` how many such bytes; ``conflicts`` overlapping bytes
    that differed from the first copy (which won; only bytes still buffered can be compared,
    delivered bytes are not kept); ``keepalives`` keep-alives and Linux zero-window probes
    (one byte below the next sequence number: skipped, never data); ``zero_window_probes``
    one-byte segments sent into a zero window (the real next byte, taken once);
    ``after_fin`` payload bytes ignored because they lay past the FIN; ``first`` and
    ``last`` the capture times of the first and last packet (None before any).
    """

    packets: int = 0
    bytes: int = 0
    skipped: int = 0
    gaps: int = 0
    out_of_order: int = 0
    retransmissions: int = 0
    overlaps: int = 0
    overlap_bytes: int = 0
    conflicts: int = 0
    keepalives: int = 0
    zero_window_probes: int = 0
    after_fin: int = 0
    first: float | None = None
    last: float | None = None

    @property
    def duration(self) -> float:
        """Seconds between the first and the last packet (0.0 with fewer than two)."""
        if self.first is None or self.last is None:
            return 0.0
        return self.last - self.first
