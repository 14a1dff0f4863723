"""TCPAssembler on built traffic: ordering, overlaps, flags, holes, roles, flushing."""

from __future__ import annotations

import struct

import pytest

from pktspec.errors import PktspecError
from pktspec.reassembly.stream import Chunk, Direction, Gap
from pktspec.reassembly.tcp import TCPAssembler
from pktspec.runtime import decode
from tests.reassembly.reassembly_builders import (
    ETH_IPV6,
    Conversation,
    ipv4_fragment,
    ipv6_header,
    packet,
    tcp,
    tcp_header,
)

C, S = Direction.CLIENT, Direction.SERVER


class Recorder:
    """A stream that keeps every chunk and counts complete() calls."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.chunks: list[Chunk] = []
        self.completed = 0

    def reassembled(self, chunk: Chunk) -> None:
        assert self.completed == 0, "chunk after complete()"
        self.chunks.append(chunk)

    def complete(self) -> None:
        self.completed += 1

    def data(self, direction: Direction) -> bytes:
        return b"".join(c.data for c in self.chunks if c.direction == direction)

    def skips(self, direction: Direction) -> list[int]:
        return [c.skipped for c in self.chunks if c.direction == direction and c.skipped]


def run(packets, **options) -> tuple[TCPAssembler, list[Recorder]]:
    made: list[Recorder] = []

    def factory(conn):
        made.append(Recorder(conn))
        return made[-1]

    assembler = TCPAssembler(factory, **options)
    for p in packets:
        assembler.assemble(p)
    return assembler, made


def test_in_order_both_directions_and_fin_close():
    c = Conversation()
    pkts = c.handshake() + [c.seg("c", "PA", b"GET / HTTP/1.0\r\n\r\n"),
                            c.seg("s", "PA", b"HTTP/1.0 200 OK\r\n\r\n"),
                            c.seg("s", "PA", b"hello")] + c.close()
    asm, (rec,) = run(pkts)
    assert rec.data(C) == b"GET / HTTP/1.0\r\n\r\n"
    assert rec.data(S) == b"HTTP/1.0 200 OK\r\n\r\nhello"
    assert rec.completed == 1 and rec.conn.reason == "fin"
    assert str(rec.conn) == "10.0.0.1:40000 -> 10.0.0.2:80"
    assert rec.conn.client.stats.packets == 4 and rec.conn.server.stats.packets == 4
    assert rec.conn.server.stats.bytes == 24
    assert [ch.offset for ch in rec.chunks if ch.direction == S] == [0, 19]
    assert asm.stats.closed_fin == 1 and asm.connections() == []


def test_out_of_order_segments_wait_for_the_hole():
    c = Conversation()
    pkts = c.handshake() + [c.seg("c", rel=8, payload=b"89"), c.seg("c", rel=4, payload=b"4567"),
                            c.seg("c", rel=0, payload=b"0123")]
    asm, (rec,) = run(pkts)
    assert rec.data(C) == b"0123456789"
    assert [len(ch.data) for ch in rec.chunks] == [4, 4, 2]
    assert rec.conn.client.stats.out_of_order == 2
    assert not rec.skips(C)


def test_retransmissions_are_counted_not_delivered_twice():
    c = Conversation()
    pkts = c.handshake() + [c.seg("c", rel=0, payload=b"abcd"), c.seg("c", rel=0, payload=b"abcd"),
                            c.seg("c", rel=2, payload=b"cdef")]
    _, (rec,) = run(pkts)
    assert rec.data(C) == b"abcdef"
    stats = rec.conn.client.stats
    assert stats.retransmissions == 1 and stats.overlaps == 2 and stats.overlap_bytes == 6


def test_buffered_overlap_first_copy_wins_and_conflict_counted():
    c = Conversation()
    pkts = c.handshake() + [c.seg("c", rel=10, payload=b"X" * 10),
                            c.seg("c", rel=15, payload=b"Y" * 10),   # overlaps X, differs
                            c.seg("c", rel=10, payload=b"X" * 10),   # inside X: dropped
                            c.seg("c", rel=0, payload=b"a" * 10)]
    _, (rec,) = run(pkts)
    assert rec.data(C) == b"a" * 10 + b"X" * 10 + b"Y" * 5
    stats = rec.conn.client.stats
    assert stats.conflicts == 1 and stats.overlaps == 2 and stats.retransmissions == 1


def test_segment_that_fills_the_hole_wins_over_buffered_copies():
    """tshark's rule (the corpus truth): the filling segment is delivered whole."""
    c = Conversation()
    pkts = c.handshake() + [c.seg("c", rel=10, payload=b"X" * 10),
                            c.seg("c", rel=0, payload=b"a" * 10 + b"Z" * 10)]
    _, (rec,) = run(pkts)
    assert rec.data(C) == b"a" * 10 + b"Z" * 10
    assert rec.conn.client.stats.conflicts == 1


def test_sequence_numbers_wrap_around():
    c = Conversation(cisn=0xFFFFFFF8)
    pkts = c.handshake() + [c.seg("c", rel=10, payload=b"KLMNOPQRST"),   # past the wrap
                            c.seg("c", rel=0, payload=b"ABCDEFGHIJ")]    # before it
    pkts += [c.seg("c", payload=b"uvw")] + c.close()
    _, (rec,) = run(pkts)
    assert rec.data(C) == b"ABCDEFGHIJKLMNOPQRSTuvw"
    assert rec.conn.reason == "fin"


def test_syn_ack_captured_first_still_makes_the_syn_sender_the_client():
    c = Conversation()
    syn, synack, ack = c.handshake()
    _, (rec,) = run([synack, syn, ack, c.seg("c", "PA", b"hi")])
    assert str(rec.conn.client) == "10.0.0.1:40000"
    assert rec.data(C) == b"hi"


def test_without_handshake_the_first_sender_is_the_client():
    c = Conversation()
    _, (rec,) = run([c.seg("s", "PA", b"220 ready\r\n"), c.seg("c", "PA", b"HELO\r\n")])
    assert str(rec.conn.client) == "10.0.0.2:80"
    assert rec.data(C) == b"220 ready\r\n" and rec.data(S) == b"HELO\r\n"


def test_late_syn_swaps_roles_before_any_data():
    c = Conversation()
    c.seg("c", "S")          # the SYN, captured late
    stray_ack = c.seg("s", "SA")
    late = tcp("10.0.0.1", 40000, "10.0.0.2", 80, c.isn["c"], "S", ts=0.0005)
    _, (rec,) = run([stray_ack, late, c.seg("c", "A"), c.seg("c", "PA", b"x")])
    assert str(rec.conn.client) == "10.0.0.1:40000" and rec.data(C) == b"x"


def test_data_after_fin_is_ignored():
    c = Conversation()
    pkts = c.handshake() + [c.seg("c", "FPA", b"last")]
    pkts.append(c.seg("c", "PA", b"ghost", rel=4))
    pkts.append(c.seg("s", "PA", b"reply"))
    _, (rec,) = run(pkts)
    assert rec.data(C) == b"last" and rec.data(S) == b"reply"
    assert rec.conn.client.stats.after_fin == 5 and rec.conn.client.finished


def test_rst_closes_and_later_packets_are_ignored():
    c = Conversation()
    pkts = c.handshake() + [c.seg("c", "PA", b"req"), c.seg("s", "RA"),
                            c.seg("c", "PA", b"more")]
    asm, (rec,) = run(pkts)
    assert rec.completed == 1 and rec.conn.reason == "rst"
    assert rec.data(C) == b"req"
    assert asm.stats.closed_rst == 1 and asm.stats.after_close == 1


def test_hole_skipped_once_the_receiver_acknowledges_past_it():
    c = Conversation()
    pkts = c.handshake() + [c.seg("c", rel=0, payload=b"aaaa"), c.seg("c", rel=8, payload=b"cccc")]
    pkts.append(c.seg("s", "A", ack=c.isn["c"] + 1 + 12))  # acks the hole: it was sent
    asm, (rec,) = run(pkts)
    assert rec.data(C) == b"aaaacccc" and rec.skips(C) == [4]
    assert rec.conn.client.gaps == [Gap(4, 4)]
    assert rec.chunks[-1].offset == 8 and rec.conn.client.stats.skipped == 4


def test_hole_waits_without_acknowledgement_until_flush():
    c = Conversation()
    pkts = c.handshake() + [c.seg("c", rel=0, payload=b"aaaa"), c.seg("c", rel=8, payload=b"cccc")]
    asm, (rec,) = run(pkts, skip_acked_gaps=False)
    assert rec.data(C) == b"aaaa"
    assert asm.flush_all() == 1
    assert rec.data(C) == b"aaaacccc" and rec.skips(C) == [4] and rec.completed == 1
    assert asm.stats.flushed == 1


def test_keepalive_byte_is_not_data():
    c = Conversation()
    pkts = c.handshake() + [c.seg("c", "PA", b"abc"),
                            c.seg("c", "A", b"\x00", seq=c.nxt["c"] - 1),   # BSD keep-alive
                            c.seg("c", "A", b"", seq=c.nxt["c"] - 1),       # Linux keep-alive
                            c.seg("c", "PA", b"def")]
    _, (rec,) = run(pkts)
    assert rec.data(C) == b"abcdef"
    assert rec.conn.client.stats.keepalives == 2


def test_zero_window_probe_byte_taken_once():
    c = Conversation()
    pkts = c.handshake() + [c.seg("c", "PA", b"abc"), c.seg("s", "A", window=0)]
    probe_seq = c.nxt["c"]
    pkts.append(c.seg("c", "A", b"d"))                        # probe: the real next byte
    pkts.append(c.seg("s", "A", window=65535, ack=probe_seq))  # window opens, probe not acked
    pkts.append(c.seg("c", "PA", b"defg", seq=probe_seq))     # retransmitted with the rest
    _, (rec,) = run(pkts)
    assert rec.data(C) == b"abcdefg"
    assert rec.conn.client.stats.zero_window_probes == 1


def test_mid_stream_pickup_reports_a_hole_at_the_start():
    c = Conversation()
    first = c.seg("c", "A", seq=7000)
    data = c.seg("c", "PA", b"later", seq=7010)
    ack = c.seg("s", "A", ack=7015)
    _, (rec,) = run([first, data, ack])
    assert rec.data(C) == b"later" and rec.skips(C) == [10]


def test_new_syn_on_closed_connection_opens_a_new_one():
    a = Conversation(cisn=100)
    b = Conversation(cisn=900000)
    pkts = a.handshake() + [a.seg("c", "PA", b"one")] + a.close()
    pkts += b.handshake() + [b.seg("c", "PA", b"two")] + b.close()
    asm, recs = run(pkts)
    assert [r.conn.index for r in recs] == [0, 1]
    assert [r.data(C) for r in recs] == [b"one", b"two"]
    assert asm.stats.connections == 2


def test_new_syn_on_open_connection_ends_it_as_reused():
    a = Conversation(cisn=100)
    b = Conversation(cisn=900000)
    pkts = a.handshake() + [a.seg("c", "PA", b"one")] + b.handshake()
    asm, recs = run(pkts)
    assert recs[0].conn.reason == "reused" and asm.stats.reused == 1
    assert len(recs) == 2 and not recs[1].conn.closed


def test_retransmitted_syn_is_not_a_new_connection():
    c = Conversation()
    syn = c.seg("c", "S")
    again = tcp("10.0.0.1", 40000, "10.0.0.2", 80, c.isn["c"], "S", ts=0.01)
    asm, recs = run([syn, again])
    assert len(recs) == 1


def test_flush_older_than_closes_idle_connections_by_packet_time():
    idle, busy = Conversation(cport=1), Conversation(cport=2)
    pkts = idle.handshake() + [idle.seg("c", "PA", b"x")]
    busy.ts = 100.0
    pkts += busy.handshake()
    asm, (r_idle, r_busy) = run(pkts)
    assert asm.flush_older_than(50.0) == 1
    assert r_idle.completed == 1 and r_idle.conn.reason == "idle"
    assert r_busy.completed == 0 and len(asm.connections()) == 1


def test_flush_older_than_skips_holes_that_waited_too_long():
    c = Conversation()
    pkts = c.handshake() + [c.seg("c", rel=0, payload=b"aa"), c.seg("c", rel=4, payload=b"cc")]
    asm, (rec,) = run(pkts, skip_acked_gaps=False)
    c.ts = 10.0
    asm.assemble(c.seg("s", "A", ack=c.isn["c"] + 1))  # keeps the connection active
    asm.flush_older_than(5.0)
    assert rec.data(C) == b"aacc" and rec.skips(C) == [2] and rec.completed == 0


def test_ipv6_connection():
    pkts = [tcp("2001:db8::1", 5000, "2001:db8::2", 443, 10, "S"),
            tcp("2001:db8::2", 443, "2001:db8::1", 5000, 20, "SA", ack=11),
            tcp("2001:db8::1", 5000, "2001:db8::2", 443, 11, "PA", b"hello", ack=21)]
    _, (rec,) = run(pkts)
    assert str(rec.conn.client) == "[2001:db8::1]:5000" and rec.data(C) == b"hello"


def test_tcp_in_ip_fragments_waits_for_the_rest_of_the_datagram():
    segment = tcp_header(1, 2, 3, 0, "S", 100) + b"x" * 16
    first = ipv4_fragment("10.0.0.1", "10.0.0.2", 6, 7, 0, segment[:24], True)
    asm, recs = run([first])
    assert recs == [] and asm.stats.fragments == 1 and asm.stats.reassembled == 0


def test_packets_without_tcp_are_ignored():
    frag = ipv4_fragment("10.0.0.1", "10.0.0.2", 17, 7, 8, b"u" * 8, False)
    asm, _ = run([frag])
    assert asm.stats.ignored == 1 and asm.stats.packets == 0


def test_chunks_carry_capture_timestamps():
    c = Conversation()
    pkts = c.handshake() + [c.seg("c", rel=3, payload=b"def"), c.seg("c", rel=0, payload=b"abc")]
    _, (rec,) = run(pkts)
    late, early = pkts[3].metadata.timestamp, pkts[4].metadata.timestamp
    assert [ch.timestamp for ch in rec.chunks] == [pytest.approx(early), pytest.approx(late)]
    assert rec.conn.client.stats.first == pytest.approx(pkts[0].metadata.timestamp)


# -- limits -----------------------------------------------------------------------------------


def _hole_then(c: Conversation, count: int, size: int = 1000) -> list:
    return [c.seg("c", rel=1 + i * size, payload=bytes([65 + i % 26]) * size)
            for i in range(count)]


def test_per_connection_limit_delivers_the_oldest_data_across_the_hole():
    c = Conversation()
    pkts = c.handshake() + _hole_then(c, 20)
    asm, (rec,) = run(pkts, max_buffered_per_connection=5000, skip_acked_gaps=False)
    assert asm.stats.limit_skips >= 1 and rec.skips(C) == [1]
    assert rec.conn.buffered <= 5000
    asm.flush_all()
    assert len(rec.data(C)) == 20_000


def test_per_connection_limit_can_drop_the_connection():
    c = Conversation()
    pkts = c.handshake() + _hole_then(c, 20) + [c.seg("c", rel=0, payload=b"!")]
    asm, (rec,) = run(pkts, max_buffered_per_connection=5000, on_limit="drop",
                      skip_acked_gaps=False)
    assert rec.conn.reason == "limit" and rec.completed == 1 and rec.data(C) == b""
    assert asm.stats.dropped == 1 and asm.stats.dropped_bytes > 0
    assert asm.stats.after_close >= 1 and asm.buffered == 0


def test_total_limit_relieves_the_connection_that_buffered_first():
    a, b = Conversation(cport=1), Conversation(cport=2)
    pkts = a.handshake() + b.handshake() + _hole_then(a, 4) + _hole_then(b, 4)
    asm, (ra, rb) = run(pkts, max_buffered_total=6000, skip_acked_gaps=False)
    assert ra.skips(C) == [1] and rb.skips(C) == []
    assert asm.buffered <= 6000 and asm.stats.peak_buffered <= 6000 + 1000 + 256


def test_max_connections_evicts_the_least_recently_active():
    convs = [Conversation(cport=p) for p in (1, 2, 3)]
    pkts = convs[0].handshake() + convs[1].handshake()
    pkts.append(convs[0].seg("c", "PA", b"keep"))
    pkts += convs[2].handshake()
    asm, recs = run(pkts, max_connections=2)
    assert recs[1].conn.reason == "evicted" and recs[1].completed == 1
    assert not recs[0].conn.closed and asm.stats.evicted == 1


def test_bad_limits_are_refused():
    with pytest.raises(PktspecError):
        TCPAssembler(Recorder, on_limit="explode")
    with pytest.raises(PktspecError):
        TCPAssembler(Recorder, max_connections=0)


def test_lazy_and_no_copy_packets():
    c = Conversation()
    built = c.handshake() + [c.seg("c", "PA", b"lazy"), c.seg("c", "PA", b"view")]
    for options in ({"lazy": True}, {"copy": False}):
        pkts = [decode(bytearray(p.data), "Ethernet", metadata=p.metadata, **options)
                for p in built]
        _, (rec,) = run(pkts)
        assert rec.data(C) == b"lazyview"
        assert all(type(ch.data) is bytes for ch in rec.chunks)


def test_tcp_behind_an_ipv6_extension_header():
    segment = tcp_header(5000, 443, 10, 0, "PA", 100) + b"behind hop-by-hop"
    hop_by_hop = struct.pack(">BB6s", 6, 0, b"\x01\x04\0\0\0\0")
    body = hop_by_hop + segment
    p = packet(ETH_IPV6 + ipv6_header("2001:db8::1", "2001:db8::2", 0, len(body)) + body, 1.0)
    if p.layer("TCP") is None:
        pytest.skip("the protocol library does not decode IPv6 extension headers yet")
    _, (rec,) = run([p])
    assert rec.data(C) == b"behind hop-by-hop" and str(rec.conn.client) == "[2001:db8::1]:5000"
