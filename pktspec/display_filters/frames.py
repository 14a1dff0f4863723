"""Where a packet is in its capture: its record number and the times ``frame.*`` measure.

A packet alone does not know its number or the capture's first timestamp; a
:class:`Frames` carries them beside it, for filters and ``-e`` columns alike. This module
needs no lark.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from pktspec.runtime.packet import Packet


class Frames:
    """What ``frame.number``, ``frame.time_relative`` and ``frame.interface_id`` read
    besides the packet: its record number in the capture and the first packet's time.

    A caller that reads a capture calls ``see(packet, number)`` for every record, matching or
    not, and passes this object to the filter and the ``-e`` columns. ``interfaces``: whether
    the capture has interfaces (pcapng); tshark shows no ``frame.interface_id`` for pcap.
    """

    __slots__ = ("number", "first", "previous", "last", "interfaces")

    def __init__(self, interfaces: bool = True) -> None:
        self.number = 0
        self.first: Fraction | None = None
        self.previous: Fraction | None = None  # the time of the record before this one
        self.last: Fraction | None = None
        self.interfaces = interfaces

    def see(self, packet: Packet, number: int | None = None) -> None:
        """The next record: ``number`` (1-based), or one more than the last."""
        self.number = self.number + 1 if number is None else number
        m = packet.metadata
        if m is not None and m.has_timestamp and m.ts_resolution > 0:
            self.previous = self.last
            self.last = m.exact_timestamp
            if self.first is None:
                self.first = self.last


_FRAME = ("number", "len", "cap_len", "caplen", "time", "time_epoch", "time_relative",
          "time_delta", "interface_id", "comment")


def _frame_value(name: str, packet: Packet, frames: Frames) -> Any:
    """A frame field of the packet, None when the record has no such thing."""
    if name == "number":
        return frames.number
    m = packet.metadata
    if m is None:
        return len(packet.data) if name in ("len", "cap_len", "caplen") else None
    if name == "len":
        return m.length
    if name in ("cap_len", "caplen"):
        return m.caplen
    if name == "comment":
        return m.comment
    if name == "interface_id":
        return m.interface if frames.interfaces else None
    if not m.has_timestamp or m.ts_resolution <= 0:
        return None
    if name == "time_relative":
        return None if frames.first is None else m.exact_timestamp - frames.first
    if name == "time_delta":  # since the record before, 0 for the first
        return m.exact_timestamp - (frames.previous if frames.previous is not None
                                    else m.exact_timestamp)
    return m.exact_timestamp
