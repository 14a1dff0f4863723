"""The package's front door: streams() and the names pktspec.reassembly exports."""

from __future__ import annotations

import pktspec.reassembly as reassembly
from pktspec.reassembly import Direction, Gap, streams
from tests.reassembly.reassembly_builders import Conversation


def two_connections() -> list:
    a, b = Conversation(cport=1000), Conversation(cport=2000)
    pkts = a.handshake() + b.handshake()
    pkts += [b.seg("c", "PA", b"second"), b.seg("s", "PA", b"reply-b")] + b.close()
    pkts += [a.seg("c", "PA", b"first"), a.seg("s", "PA", b"hole", rel=4),
             a.seg("c", "A", ack=a.isn["s"] + 1 + 8)]
    return pkts  # a never closes: it ends with the input


def test_streams_yields_connections_by_index_with_data_gaps_and_stats():
    conns = list(streams(two_connections()))
    assert [c.index for c in conns] == [0, 1]
    first, second = conns
    assert first.client.data == b"first" and first.server.data == b"hole"
    assert first.server.gaps == (Gap(0, 4),) and first.server.pieces() == [b"", b"hole"]
    assert first.reason == "end" and second.reason == "fin"
    assert (second.client.data, second.server.data) == (b"second", b"reply-b")
    assert str(second) == "10.0.0.1:2000 -> 10.0.0.2:80"
    assert second.side(Direction.SERVER) is second.server
    assert second.client.stats.packets == 4 and second.client.stats.bytes == 6


def test_streams_unordered_yields_as_connections_end():
    conns = list(streams(two_connections(), ordered=False))
    assert [c.index for c in conns] == [1, 0]


def test_streams_takes_assembler_options():
    a = Conversation()
    pkts = a.handshake() + [a.seg("c", rel=1, payload=b"x" * 3000)]
    (conn,) = streams(pkts, max_buffered_per_connection=1000)
    assert conn.client.gaps == (Gap(0, 1),) and len(conn.client.data) == 3000


def test_everything_in_all_is_importable_and_documented():
    for name in reassembly.__all__:
        obj = getattr(reassembly, name)
        assert obj.__doc__, name
    assert "TCPAssembler" in reassembly.__doc__
