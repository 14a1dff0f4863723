"""What a capture knows about a packet besides its bytes (gopacket's CaptureInfo).

The capture backends produce it, the runtime attaches it to a Packet as ``packet.metadata``.
It lives in the runtime (not in capture/) because the arrows point runtime <- capture.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(slots=True)
class CaptureInfo:
    """Per-record capture information.

    The timestamp is kept exactly as the file stores it: ``ts_sec`` whole seconds and
    ``ts_frac`` units of ``1 / ts_resolution`` seconds (1_000_000 for microsecond pcap,
    1_000_000_000 for nanosecond, whatever if_tsresol says for pcapng). ``timestamp`` is the
    float for convenience; ``exact_timestamp`` is a Fraction that never rounds.
    """

    ts_sec: int
    ts_frac: int
    ts_resolution: int
    caplen: int
    length: int
    interface: int = 0
    linktype: int = 1
    comment: str | None = None

    @property
    def timestamp(self) -> float:
        return self.ts_sec + self.ts_frac / self.ts_resolution

    @property
    def exact_timestamp(self) -> Fraction:
        return self.ts_sec + Fraction(self.ts_frac, self.ts_resolution)

    @property
    def truncated(self) -> bool:
        """True when the capture kept fewer bytes than were on the wire."""
        return self.caplen < self.length
