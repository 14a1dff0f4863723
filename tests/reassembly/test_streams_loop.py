"""streams() feeds its assembler through ``TCPAssembler._assemble_yielding``, a loop that
takes the usual packets itself (in-order TCP, packets without TCP) and hands every other one to
``assemble``: it must give the same connections, bytes, gaps, counters, reasons and order of
completion as ``assemble`` called packet by packet, and leave the same AssemblerStats.
"""

from __future__ import annotations

import functools
import struct
from typing import Any

import pytest

import pktspec
from pktspec.errors import PktspecError
from pktspec.layers import TCP, Ethernet, ICMPv4, IPv4
from pktspec.protocols.ethernet import Ethernet as EthernetClass
from pktspec.reassembly import TCPAssembler, streams
from pktspec.reassembly.collect import _Collector
from pktspec.runtime import CaptureInfo, decode
from pktspec.runtime.metadata import make_info
from tests.conftest import CAPTURES, corpus_or_skip
from tests.reassembly.reassembly_builders import (
    ETH_IPV4,
    Conversation,
    ipv4_fragment,
    ipv4_header,
    ipv6_fragment,
    tcp,
    tcp_header,
)

NAMES = sorted(p.name for p in CAPTURES.iterdir()) if CAPTURES.is_dir() else []

OPTIONS: list[dict[str, Any]] = [
    {},
    {"max_buffered_per_connection": 3000, "max_buffered_total": 8000, "max_connections": 3},
    {"max_buffered_per_connection": 3000, "max_buffered_total": 8000, "max_connections": 3,
     "on_limit": "drop"},
    {"skip_acked_gaps": False},
    {"defragment": False},
]


def by_assemble(packets: list, **options: Any) -> tuple[list, Any, Any]:
    """The reference: assemble() per packet, connections in order of completion."""
    done: list = []
    assembler = TCPAssembler(lambda conn: _Collector(conn, done), **options)
    for packet in packets:
        assembler.assemble(packet)
    assembler.flush_all()
    return done, assembler.stats, _defrag_stats(assembler)


def by_loop(packets: list, **options: Any) -> tuple[list, Any, Any]:
    """The loop streams() uses; checks that it yields right after each completion."""
    done: list = []
    got: list = []
    assembler = TCPAssembler(lambda conn: _Collector(conn, done), **options)
    for _ in assembler._assemble_yielding(packets, done):
        assert done
        got += done
        done.clear()
    assert not done
    assembler.flush_all()
    return got + done, assembler.stats, _defrag_stats(assembler)


def _defrag_stats(assembler: TCPAssembler) -> Any:
    return [d.stats for d in assembler.defragmenters or ()]


def same_everywhere(packets: list) -> None:
    for options in OPTIONS:
        expected = by_assemble(packets, **options)
        assert by_loop(packets, **options) == expected, options
        assert list(streams(packets, ordered=False, **options)) == expected[0], options
        assert list(streams(packets, **options)) == sorted(expected[0], key=lambda s: s.index)


def udp_packet(ts: float, proto_payload: bytes = b"\0" * 12) -> Any:
    segment = struct.pack(">HHHH", 5353, 53, 8 + len(proto_payload), 0) + proto_payload
    return decode(ETH_IPV4 + ipv4_header("10.0.0.9", "10.0.0.8", 17, len(segment)) + segment,
                  "Ethernet", metadata=CaptureInfo(int(ts), 0, 1_000_000, 0, 0))


def icmp_error(ts: int) -> Any:
    frame = (Ethernet() / IPv4(src="203.0.113.9", dst="10.0.0.1")
             / ICMPv4(type="DestinationUnreachable", code=3)
             / IPv4(src="10.0.0.1", dst="10.0.0.2")
             / TCP(src_port=40000, dst_port=80, seq=1006, flags="PA") / b"EVIL!")
    return decode(bytes(frame), "Ethernet", metadata=make_info((ts, 0, 1_000_000, 0, 0, 0, 1,
                                                                None)))


def crafted() -> list:
    """Holes, retransmissions, overlaps, keep-alives, zero-window probes, FIN/RST, a reused
    port, a SYN-ACK with a new ISN, IPv6, IP fragments of TCP and UDP, UDP, an ICMP error
    quoting a segment, packets without metadata, copy=False and lazy packets."""
    a = Conversation(cport=40000, cisn=1000)
    b = Conversation(client="2001:db8::1", server="2001:db8::2", cport=41000, cisn=0xFFFFFFF0)
    c = Conversation(cport=42000)
    d = Conversation(cport=43000)
    pkts = a.handshake() + b.handshake()
    pkts += [a.seg("c", "PA", b"GET / HTTP/1.1\r\n"), udp_packet(1), icmp_error(2),
             a.seg("s", "PA", b"hello ", window=0), a.seg("c", "A", window=0),
             a.seg("s", "PA", b"w"),  # into a zero window: a probe
             a.seg("s", "PA", b"late", rel=20),  # a hole, then data after it
             a.seg("s", "PA", b"again", rel=6),  # fills part of it
             a.seg("s", "PA", b"again", rel=6),  # a retransmission
             a.seg("c", "A", ack=a.isn["s"] + 1 + 40),  # acknowledges past the hole
             a.seg("c", "A", seq=a.nxt["c"] - 1),  # a keep-alive
             b.seg("c", "PA", b"x" * 40), b.seg("s", "PA", b"y" * 30),  # wraps around 2**32
             b.seg("c", "PA", b"x" * 20, rel=10),  # an overlap
             b.seg("c", "PA", b"z" * 5, rel=200)]  # a hole that stays
    pkts += c.handshake()[:2] + [c.seg("s", "SA", seq=c.isn["s"] + 77)] + c.handshake()[2:]
    pkts += [c.seg("c", "PA", b"abc"), c.seg("c", "R", seq=c.nxt["c"] + (1 << 25)),  # forged
             c.seg("s", "RA")]
    pkts += [c.seg("c", "A")]  # after the close
    pkts += d.handshake() + [d.seg("c", "PA", b"first")] + d.close()
    d2 = Conversation(cport=43000, cisn=9000)  # the same ports again: a new connection
    pkts += d2.handshake() + [d2.seg("s", "PA", b"second")] + d2.close()
    syn = tcp_header(44000, 80, 10, 0, "S", 100)
    data = tcp_header(44000, 80, 11, 0, "PA", 100) + b"fragmented request!!"
    pkts += [ipv4_fragment("10.0.0.5", "10.0.0.6", 6, 1, 0, syn[:16], True, 5.1),
             ipv4_fragment("10.0.0.5", "10.0.0.6", 6, 1, 16, syn[16:], False, 5.2),
             ipv4_fragment("10.0.0.5", "10.0.0.6", 6, 2, 0, data[:24], True, 5.3),
             ipv4_fragment("10.0.0.5", "10.0.0.6", 6, 2, 24, data[24:], False, 5.4),
             ipv4_fragment("10.0.0.5", "10.0.0.6", 17, 3, 0, b"u" * 16, True, 5.5),
             ipv6_fragment("2001:db8::5", "2001:db8::6", 6, 4, 0, syn[:16], True, 5.6),
             ipv6_fragment("2001:db8::5", "2001:db8::6", 6, 4, 16, syn[16:], False, 5.7)]
    e = Conversation(cport=45000)
    raw = [bytes(p.data) for p in e.handshake() + [e.seg("c", "PA", b"view")]]
    pkts += [decode(bytearray(r), "Ethernet", copy=False) for r in raw[:2]]
    pkts += [decode(r, "Ethernet", lazy=True) for r in raw[2:]]
    f, f2 = Conversation(cport=47000), Conversation(cport=47000, cisn=77777)
    pkts += f.handshake() + [f.seg("c", "PA", b"open")] + f2.handshake()  # reused while open
    pkts += [tcp("10.0.0.7", 46000, "10.0.0.8", 80, 5, "PA", b"midstream", ts=7.0),
             tcp("10.0.0.7", 46000, "10.0.0.8", 80, 14, "PA", b" goes on", ts=7.1)]
    return pkts


def test_crafted_packets_give_the_same_streams_and_counters():
    packets = crafted()
    done, stats, _ = by_assemble(packets)
    assert stats.ignored >= 2 and stats.fragments == 6 and stats.reassembled == 3
    assert stats.reused == 1 and stats.bad_rst == 1 and stats.after_close >= 1
    assert any(s.server.gaps for s in done) and any(s.client.stats.keepalives for s in done)
    assert any(s.server.stats.zero_window_probes for s in done)
    same_everywhere(packets)


def test_a_link_layer_that_quotes_goes_the_general_way(monkeypatch):
    monkeypatch.setattr(EthernetClass, "QUOTES", True)  # nothing after it is the packet's
    packets = crafted()
    assert by_assemble(packets)[0] == []
    same_everywhere(packets)


def test_every_prefix_of_the_crafted_packets():
    """Stopping anywhere (a connection left open, a fragment left waiting) changes nothing."""
    packets = crafted()
    for stop in range(0, len(packets), 3):
        expected = by_assemble(packets[:stop])
        assert by_loop(packets[:stop]) == expected, stop


def test_stats_count_the_in_order_packets_when_the_loop_is_left_early():
    packets = crafted()
    done: list = []
    assembler = TCPAssembler(lambda conn: _Collector(conn, done))
    loop = assembler._assemble_yielding(iter(packets), done)
    next(loop)  # the first connection to complete
    loop.close()
    reference = TCPAssembler(lambda conn: _Collector(conn, []))
    for packet in packets:
        reference.assemble(packet)
        if reference.stats.closed_fin + reference.stats.closed_rst:
            break
    assert assembler.stats == reference.stats


@functools.cache
def _packets(name: str) -> list:
    packets = []
    try:
        for packet in pktspec.open(CAPTURES / name):
            packets.append(packet)
    except PktspecError:
        pass
    return packets if any(p.layer(TCP) for p in packets) else []


@pytest.mark.corpus
@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("tcp__")] or ["(no corpus)"])
def test_corpus_tcp_captures_give_the_same_streams_and_counters(name):
    corpus_or_skip()
    same_everywhere(_packets(name))


@pytest.mark.corpus
def test_every_corpus_capture_gives_the_same_streams_and_counters():
    corpus_or_skip()
    for name in NAMES:
        packets = _packets(name)
        assert by_loop(packets) == by_assemble(packets), name


def test_copy_false_packets_never_leave_their_buffer_in_a_stream():
    """A copy=False packet's payload is a view of the caller's buffer, which the caller may
    reuse once the packet was assembled: the stream keeps bytes, not the view."""
    e = Conversation(cport=48000)
    frames = [bytes(p.data) for p in e.handshake() + [e.seg("c", "PA", b"kept bytes")]
              + e.close()]

    def reusing_one_buffer():
        for frame in frames:
            buffer = bytearray(frame)
            yield decode(buffer, "Ethernet", copy=False)
            buffer[:] = b"\0" * len(buffer)

    (conn,) = streams(reusing_one_buffer())
    assert conn.client.data == b"kept bytes"
