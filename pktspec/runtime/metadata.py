"""What a capture knows about a packet besides its bytes (gopacket's CaptureInfo).

The capture backends produce it, the runtime attaches it to a Packet as ``packet.metadata``.
It lives in the runtime (not in capture/) because the arrows point runtime <- capture.
"""

from __future__ import annotations

from fractions import Fraction
from operator import itemgetter
from typing import Any

_FIELDS = ("ts_sec", "ts_frac", "ts_resolution", "caplen", "length", "interface", "linktype",
           "comment")


class CaptureInfo(tuple):
    """Per-record capture information (immutable).

    The timestamp is kept exactly as the file stores it: ``ts_sec`` whole seconds and
    ``ts_frac`` units of ``1 / ts_resolution`` seconds (1_000_000 for microsecond pcap,
    1_000_000_000 for nanosecond, whatever if_tsresol says for pcapng). ``timestamp`` is the
    float for convenience; ``exact_timestamp`` is a Fraction that never rounds.

    It is a tuple underneath because a reader makes one per record: ``CaptureInfo.make``
    (``tuple.__new__`` with the eight values) costs a third less than a dataclass and keeps
    record iteration well ahead of dpkt's; fields read through C-level itemgetters.
    """

    __slots__ = ()

    has_timestamp = True  # a Simple Packet Block's info says False (pcapng)
    options: tuple = ()  # a pcapng packet's options, when it has some (pcapng.PcapngPacketInfo)

    def __new__(cls, ts_sec: int, ts_frac: int, ts_resolution: int, caplen: int, length: int,
                interface: int = 0, linktype: int = 1, comment: str | None = None) -> Any:
        return tuple.__new__(cls, (ts_sec, ts_frac, ts_resolution, caplen, length, interface,
                                   linktype, comment))

    ts_sec = property(itemgetter(0), doc="Whole seconds of the timestamp.")
    ts_frac = property(itemgetter(1), doc="Fraction of a second, in 1/ts_resolution units.")
    ts_resolution = property(itemgetter(2), doc="Units per second of ts_frac.")
    caplen = property(itemgetter(3), doc="Bytes captured.")
    length = property(itemgetter(4), doc="Bytes on the wire.")
    interface = property(itemgetter(5), doc="Interface number (pcapng; 0 for pcap).")
    linktype = property(itemgetter(6), doc="LINKTYPE of the interface.")
    comment = property(itemgetter(7), doc="The record's comment (pcapng), or None.")

    @property
    def timestamp(self) -> float:
        """Seconds since the epoch as a float (rounded to what a float holds)."""
        return self[0] + self[1] / self[2]

    @property
    def exact_timestamp(self) -> Fraction:
        """Seconds since the epoch, exactly as the file stores them."""
        return self[0] + Fraction(self[1], self[2])

    @property
    def truncated(self) -> bool:
        """True when the capture kept fewer bytes than were on the wire."""
        return self[3] < self[4]

    def replace(self, **changes: Any) -> CaptureInfo:
        """A copy with some fields changed (``info.replace(comment="x")``)."""
        values = [changes.pop(name, value) for name, value in zip(_FIELDS, self, strict=True)]
        if changes:
            raise TypeError(f"CaptureInfo has no field {next(iter(changes))!r}")
        return type(self)(*values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in zip(_FIELDS, self, strict=True))
        return f"{type(self).__name__}({inner})"

    def __getnewargs__(self) -> tuple:
        return tuple(self)


def make_info(values: tuple) -> CaptureInfo:
    """A CaptureInfo from its eight values in order, without a Python-level call: what the
    readers use per record."""
    return tuple.__new__(CaptureInfo, values)
