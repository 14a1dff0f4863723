"""The assembler's shortcuts change nothing: every corpus capture gives the same events with
them as through the general path alone.

``TCPAssembler.assemble`` takes in-order segments of quiet connections (``Side.calm``) by a
flat path, and skips moving a connection to the recent end of its table when it is there
already. The reference run here turns both off (``calm`` never set, the move done for every
packet), and the two runs must deliver the same chunks and ``complete()`` calls in the same
order, and end with the same counters, gaps and table order, with and without tight limits
and periodic flushes.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

import pktspec
from pktspec.errors import PktspecError
from pktspec.protocols.tcp import TCP
from pktspec.reassembly import tcp as tcp_module
from pktspec.reassembly.tcp import TCPAssembler
from tests.conftest import CAPTURES, corpus_or_skip

NAMES = sorted(p.name for p in CAPTURES.iterdir()) if CAPTURES.is_dir() else []

OPTIONS: dict[str, dict[str, Any]] = {
    "default": {},
    "tight": {"max_buffered_per_connection": 3000, "max_buffered_total": 8000,
              "max_connections": 3},
    "drop": {"max_buffered_per_connection": 3000, "max_buffered_total": 8000,
             "max_connections": 3, "on_limit": "drop"},
    "no-ack-skips": {"skip_acked_gaps": False},
}


class _Reference(TCPAssembler):
    """The assembler without its shortcuts: every packet moves its connection to the end."""

    _recent = property(lambda self: None, lambda self, value: None)


class _Log:
    """A stream that writes everything it gets to one shared log."""

    def __init__(self, conn: Any, log: list) -> None:
        self.conn, self.log = conn, log

    def reassembled(self, chunk: Any) -> None:
        self.log.append(("chunk", self.conn.index, tuple(chunk)))

    def complete(self) -> None:
        self.log.append(("complete", self.conn.index, self.conn.reason))


def _run(assembler_class: type, packets: list, flush_every: int, **options: Any) -> list:
    log: list = []
    conns: list = []

    def factory(conn: Any) -> _Log:
        conns.append(conn)
        return _Log(conn, log)

    assembler = assembler_class(factory, **options)
    for i, packet in enumerate(packets):
        assembler.assemble(packet)
        if flush_every and i % flush_every == flush_every - 1:
            meta = packet.metadata
            closed = assembler.flush_older_than((meta.timestamp if meta else 0.0) - 0.001)
            log.append(("flushed", closed, [c.index for c in assembler.connections()]))
    log.append(("open", [c.index for c in assembler.connections()], assembler.buffered))
    log.append(("closed", assembler.flush_all()))
    log.append(("stats", assembler.stats))
    for conn in conns:
        for side in (conn.client, conn.server):
            log.append(("side", conn.index, side.direction, side.stats, side.gaps, side.nxt))
    return log


@functools.cache
def _tcp_packets(name: str) -> list:
    """The packets of a capture, up to a broken record (the corpus has broken files); none
    when no packet has TCP (such captures have nothing to compare and pass at once)."""
    packets = []
    try:
        for packet in pktspec.open(CAPTURES / name):
            packets.append(packet)
    except PktspecError:
        pass
    return packets if any(p.layer(TCP) for p in packets) else []


@pytest.mark.corpus
@pytest.mark.parametrize("name", NAMES or ["(no corpus)"])
def test_shortcuts_change_nothing(name, monkeypatch):
    corpus_or_skip()
    packets = _tcp_packets(name)
    for options in OPTIONS.values():
        for flush_every in (0, 7):
            fast = _run(TCPAssembler, packets, flush_every, **options)
            with monkeypatch.context() as m:
                m.setattr(tcp_module, "_settle", lambda conn: None)
                slow = _run(_Reference, packets, flush_every, **options)
            assert fast == slow, (name, options, flush_every)


@pytest.mark.corpus
@pytest.mark.parametrize("name", NAMES or ["(no corpus)"])
def test_streams_collects_what_chunks_carry(name):
    """streams() takes each side's bytes without chunks (Side.sink): the same bytes, gaps
    and counters in the same connections as a stream that joins the chunks it is given."""
    corpus_or_skip()
    packets = _tcp_packets(name)
    for options in ({}, {"max_connections": 3, "max_buffered_total": 8000}):
        log: list = []
        conns: list = []

        def factory(conn: Any, log: list = log, conns: list = conns) -> _Log:
            conns.append(conn)
            return _Log(conn, log)

        TCPAssembler(factory, **options).assemble_all(packets)
        expected = []
        for conn in conns:
            data = [b"".join(e[2][0] for e in log if e[0] == "chunk" and e[1] == conn.index
                             and e[2][2] == direction) for direction in (0, 1)]
            expected.append((conn.index, conn.reason, str(conn),
                             data[conn.client.direction], conn.client.gaps, conn.client.stats,
                             data[conn.server.direction], conn.server.gaps, conn.server.stats))
        got = [(s.index, s.reason, str(s), s.client.data, list(s.client.gaps), s.client.stats,
                s.server.data, list(s.server.gaps), s.server.stats)
               for s in pktspec.streams(packets, **options)]
        assert got == expected, (name, options)
