"""Packets for reassembly tests, built with struct and decoded by pktspec.

Each builder returns a decoded Packet with a CaptureInfo carrying the timestamp, exactly as
``pktspec.open`` would give it, so the assembler and defragmenters see what they see on
captures. Checksums are left at zero: nothing here checks them.
"""

from __future__ import annotations

import ipaddress
import struct

from pktspec.runtime import CaptureInfo, Packet, decode

_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}
ETH_IPV4 = b"\x02\0\0\0\0\x01" + b"\x02\0\0\0\0\x02" + b"\x08\x00"
ETH_IPV6 = b"\x02\0\0\0\0\x01" + b"\x02\0\0\0\0\x02" + b"\x86\xdd"


def tcp_header(sport: int, dport: int, seq: int, ack: int, flags: str, window: int) -> bytes:
    bits = sum(_FLAGS[f] for f in flags)
    return struct.pack(">HHIIHHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                       (5 << 12) | bits, window, 0, 0)


def ipv4_header(src: str, dst: str, proto: int, length: int, ident: int = 1,
                mf: bool = False, offset: int = 0) -> bytes:
    frag = (0x2000 if mf else 0) | (offset // 8)
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + length, ident, frag, 64, proto, 0,
                       ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)


def ipv6_header(src: str, dst: str, next_header: int, length: int) -> bytes:
    return struct.pack(">IHBB16s16s", 6 << 28, length, next_header, 64,
                       ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed)


def packet(data: bytes, ts: float) -> Packet:
    """Decode Ethernet bytes as a capture record of time ts."""
    sec = int(ts)
    info = CaptureInfo(sec, round((ts - sec) * 1_000_000), 1_000_000, len(data), len(data))
    return decode(data, "Ethernet", metadata=info)


def tcp(src: str, sport: int, dst: str, dport: int, seq: int, flags: str = "A",
        payload: bytes = b"", ack: int = 0, ts: float = 0.0, window: int = 65535) -> Packet:
    """One TCP segment over IPv4 (or IPv6 when the addresses have a colon)."""
    segment = tcp_header(sport, dport, seq, ack, flags, window) + payload
    if ":" in src:
        return packet(ETH_IPV6 + ipv6_header(src, dst, 6, len(segment)) + segment, ts)
    return packet(ETH_IPV4 + ipv4_header(src, dst, 6, len(segment)) + segment, ts)


def ipv4_fragment(src: str, dst: str, proto: int, ident: int, offset: int, data: bytes,
                  more: bool, ts: float = 0.0) -> Packet:
    return packet(ETH_IPV4 + ipv4_header(src, dst, proto, len(data), ident, more, offset) + data,
                  ts)


def ipv6_fragment(src: str, dst: str, next_header: int, ident: int, offset: int, data: bytes,
                  more: bool, ts: float = 0.0, hop_by_hop: bool = False) -> Packet:
    """An IPv6 fragment (optionally behind a Hop-by-Hop Options header)."""
    frag = struct.pack(">BBHI", next_header, 0, offset | int(more), ident)
    chain, first = frag, 44
    if hop_by_hop:
        chain = struct.pack(">BB6s", 44, 0, b"\x01\x04\0\0\0\0") + frag
        first = 0
    body = chain + data
    return packet(ETH_IPV6 + ipv6_header(src, dst, first, len(body)) + body, ts)


class Conversation:
    """Builds the packets of one IPv4 TCP connection, keeping sequence numbers: c = client."""

    def __init__(self, client: str = "10.0.0.1", cport: int = 40000,
                 server: str = "10.0.0.2", sport: int = 80, cisn: int = 1000,
                 sisn: int = 5000) -> None:
        self.ends = {"c": (client, cport), "s": (server, sport)}
        self.isn = {"c": cisn, "s": sisn}
        self.nxt = {"c": cisn, "s": sisn}
        self.ts = 0.0

    def _peer(self, who: str) -> str:
        return "s" if who == "c" else "c"

    def seg(self, who: str, flags: str = "A", payload: bytes = b"", seq: int | None = None,
            rel: int | None = None, ack: int | None = None, window: int = 65535) -> Packet:
        """A segment from who; seq defaults to who's next sequence number (rel is relative to
        who's first data byte) and ack to the peer's next sequence number."""
        if rel is not None:
            seq = self.isn[who] + 1 + rel
        if seq is None:
            seq = self.nxt[who]
        peer = self._peer(who)
        self.ts += 0.001
        (src, sp), (dst, dp) = self.ends[who], self.ends[peer]
        pkt = tcp(src, sp, dst, dp, seq, flags, payload,
                  self.nxt[peer] if ack is None else ack, self.ts, window)
        end = seq + len(payload) + ("S" in flags) + ("F" in flags)
        if ((end - self.nxt[who]) & 0xFFFFFFFF) < 0x80000000:
            self.nxt[who] = end & 0xFFFFFFFF
        return pkt

    def handshake(self) -> list[Packet]:
        return [self.seg("c", "S"), self.seg("s", "SA"), self.seg("c", "A")]

    def close(self) -> list[Packet]:
        return [self.seg("c", "FA"), self.seg("s", "FA"), self.seg("c", "A")]
