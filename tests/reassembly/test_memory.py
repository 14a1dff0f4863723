"""A capture built to exhaust memory cannot: peak memory stays under the assembler's bound.

Thousands of connections each lose their first byte and then send a megabyte behind the hole,
so an assembler without limits would hold gigabytes waiting for bytes that never come; and a
flood of TCP fragments whose datagrams never complete. The packets are made on the fly
(never all in memory) and tracemalloc measures everything allocated while they are
assembled: the assembler's buffers, its tables, the packets in flight.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest

from pktspec.reassembly.ipdefrag import IPv4Defragmenter, IPv6Defragmenter
from pktspec.reassembly.tcp import TCPAssembler
from tests.reassembly.reassembly_builders import (
    ETH_IPV4,
    ipv4_fragment,
    ipv4_header,
    packet,
    tcp_header,
)

CONNECTIONS = 2000
SEGMENT = 64000
SEGMENTS = 16  # about 1 MB behind each hole
BODY = bytes(range(256)) * (SEGMENT // 256)


class Counting:
    """The smallest useful stream: counts bytes and holes."""

    __slots__ = ("bytes", "skipped")

    def __init__(self, conn) -> None:
        self.bytes = self.skipped = 0

    def reassembled(self, chunk) -> None:
        self.bytes += len(chunk.data)
        self.skipped += chunk.skipped

    def complete(self) -> None:
        pass


def _segment(n: int, seq: int, flags: str, payload: bytes, ts: float):
    high, low = divmod(n, 256)
    src = f"10.{high}.{low}.1"
    body = tcp_header(10000 + n % 50000, 80, seq, 0, flags, 65535) + payload
    return packet(ETH_IPV4 + ipv4_header(src, "10.255.0.1", 6, len(body)) + body, ts)


def hostile() -> Iterator:
    """Every connection opens, then sends segment 1..16 of its data; byte 0 never comes."""
    isn = 1000
    for n in range(CONNECTIONS):
        yield _segment(n, isn, "S", b"", n * 1e-3)
    for i in range(SEGMENTS):
        for n in range(CONNECTIONS):
            seq = isn + 2 + i * SEGMENT  # isn + 1 is the missing byte
            yield _segment(n, seq, "A", BODY, 10 + i + n * 1e-6)


@pytest.mark.parametrize("on_limit", ["deliver", "drop"])
def test_hostile_capture_stays_under_the_memory_bound(on_limit):
    streams: list[Counting] = []

    def factory(conn):
        streams.append(Counting(conn))
        return streams[-1]

    assembler = TCPAssembler(factory, max_buffered_total=32 << 20, max_connections=4096,
                             on_limit=on_limit, defragment=False)
    offered = CONNECTIONS * SEGMENTS * SEGMENT
    tracemalloc.start()
    try:
        for p in hostile():
            assembler.assemble(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stats = assembler.stats
    assert offered > 30 * assembler.memory_bound()
    assert peak < assembler.memory_bound(), f"peak {peak} over {assembler.memory_bound()}"
    assert stats.peak_buffered <= assembler.max_buffered_total + SEGMENT + 256
    if on_limit == "deliver":
        assert stats.limit_skips > 0
        assert sum(s.skipped for s in streams) >= stats.limit_skips  # holes are marked
        assert sum(s.bytes for s in streams) > 0
    else:
        assert stats.dropped > 0 and stats.dropped_bytes > 0


def test_the_bound_counts_connections_too():
    assembler = TCPAssembler(Counting, max_buffered_total=1 << 20, max_connections=10)
    assert assembler.memory_bound() > 1 << 20
    for n in range(50):
        assembler.assemble(_segment(n, 5, "S", b"", float(n)))
    assert len(assembler.connections()) == 10 and assembler.stats.evicted == 40


def test_fragment_flood_stays_under_the_memory_bound():
    """40000 datagrams of TCP that never complete (their last fragment never comes)."""
    assembler = TCPAssembler(Counting, max_buffered_total=1 << 20, max_connections=16)
    assembler.defragmenters = (IPv4Defragmenter(max_bytes=4 << 20),
                               IPv6Defragmenter(max_bytes=4 << 20))
    body = tcp_header(1234, 80, 1, 0, "A", 100) + BODY[:1400]
    offered = 0
    tracemalloc.start()
    try:
        for n in range(40000):
            high, low = divmod(n % 60000, 256)
            p = ipv4_fragment(f"10.1.{high}.{low}", "10.255.0.1", 6, n, 0, body, True, n * 1e-4)
            offered += len(body)
            assembler.assemble(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    v4 = assembler.defragmenters[0]
    assert offered > 3 * assembler.memory_bound()
    assert peak < assembler.memory_bound(), f"peak {peak} over {assembler.memory_bound()}"
    assert v4.cost <= v4.max_bytes and v4.stats.evicted > 30000
