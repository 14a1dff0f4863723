"""A RST far from the sender's next byte, and a FIN behind bytes already delivered, end
nothing: one forged packet must not hide the rest of a stream."""

from __future__ import annotations

import pktspec
from pktspec.layers import TCP, Ethernet, IPv4
from pktspec.reassembly import TCPAssembler
from pktspec.runtime.metadata import make_info

C, S = "192.0.2.1", "192.0.2.2"


def segment(client: bool, seq: int, flags: str, data: bytes = b"", ack: int = 0):
    src, dst, sport, dport = (C, S, 40000, 80) if client else (S, C, 80, 40000)
    return Ethernet() / IPv4(src=src, dst=dst) / TCP(src_port=sport, dst_port=dport, seq=seq,
                                                     ack=ack, flags=flags) / data


def streams_of(frames):
    packets = [pktspec.decode(bytes(f), Ethernet,
                              metadata=make_info((i, 0, 10**6, 0, 0, 0, 1, None)))
               for i, f in enumerate(frames)]
    assembler = TCPAssembler(lambda conn: None)
    for p in packets:
        assembler.assemble(p)
    return list(pktspec.streams(packets)), assembler.stats


HANDSHAKE = [segment(True, 100, "S"), segment(False, 500, "SA", ack=101),
             segment(True, 101, "A", ack=501)]


def test_a_rst_with_a_wild_sequence_number_is_ignored():
    frames = HANDSHAKE + [segment(True, 101, "PA", b"before", ack=501),
                          segment(False, 123456789, "R"),
                          segment(True, 107, "PA", b"-after", ack=501),
                          segment(False, 501, "PA", b"reply", ack=113)]
    (conn,), stats = streams_of(frames)
    assert conn.client.data == b"before-after" and conn.server.data == b"reply"
    assert stats.bad_rst == 1 and stats.closed_rst == 0


def test_a_rst_at_the_next_byte_still_ends_the_connection():
    frames = HANDSHAKE + [segment(True, 101, "PA", b"data", ack=501),
                          segment(False, 501, "R")]
    (conn,), stats = streams_of(frames)
    assert conn.client.data == b"data" and stats.closed_rst == 1 and stats.bad_rst == 0


def test_a_stale_fin_does_not_cut_the_direction_short():
    frames = HANDSHAKE + [segment(True, 101, "PA", b"0123456789" * 3, ack=501),
                          segment(True, 111, "FA", ack=501),  # behind what was delivered
                          segment(True, 131, "PA", b"MORE", ack=501)]
    (conn,), _ = streams_of(frames)
    assert conn.client.data == b"0123456789" * 3 + b"MORE"


def test_a_syn_ack_sent_again_with_another_isn_keeps_one_connection():
    frames = [segment(True, 100, "S"), segment(False, 500, "SA", ack=101),
              segment(False, 9000, "SA", ack=101),  # the server starts over
              segment(True, 101, "A", ack=9001),
              segment(True, 101, "PA", b"hi", ack=9001),
              segment(False, 9001, "PA", b"yo", ack=103)]
    conns, _ = streams_of(frames)
    assert [(c.client.data, c.server.data) for c in conns] == [(b"hi", b"yo")]
