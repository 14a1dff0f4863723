"""Where a hole is given up on, and so how the two directions' chunks interleave around it.

tshark's follow gives up on a hole when a packet of the other direction acknowledges bytes
past it, and does so before that packet's own data: the bytes buffered behind the hole come
out first. The capture is written with pktspec's own builder and PcapWriter; the expected
outputs are what TShark 4.0.17 prints for the same file (``-z follow,tcp,ascii,0``; its raw
output is AAAA, the marker, CCCC, then resp).
"""

from __future__ import annotations

import pytest

import pktspec
from pktspec.capture.pcap import PcapWriter
from pktspec.cli import main
from pktspec.layers import TCP, Ethernet, IPv4
from pktspec.reassembly import Chunk, Direction, Gap, TCPAssembler

C, S = Direction.CLIENT, Direction.SERVER
CISN, SISN = 1000, 5000
CLIENT = ("192.0.2.1", 40000, "02:00:00:00:00:01")
SERVER = ("192.0.2.2", 80, "02:00:00:00:00:02")


def segment(who: str, flags: str, seq: int, ack: int, payload: bytes = b"") -> bytes:
    (src, sport, smac), (dst, dport, dmac) = (CLIENT, SERVER) if who == "c" else (SERVER, CLIENT)
    return pktspec.serialize(Ethernet(src=smac, dst=dmac), IPv4(src=src, dst=dst),
                             TCP(src_port=sport, dst_port=dport, seq=seq, ack=ack, flags=flags,
                                 window=65535), payload)


def write_gap_capture(path, server_ack: int) -> None:
    """Handshake, client AAAA, (client BBBB missing), client CCCC, server resp acking
    server_ack, then ACKs and FINs."""
    c = CISN + 1
    frames = [segment("c", "S", CISN, 0), segment("s", "SA", SISN, c),
              segment("c", "A", c, SISN + 1),
              segment("c", "PA", c, SISN + 1, b"AAAA"),
              segment("s", "A", SISN + 1, c + 4),
              segment("c", "PA", c + 8, SISN + 1, b"CCCC"),  # BBBB at c + 4 not captured
              segment("s", "PA", SISN + 1, server_ack, b"resp"),
              segment("c", "A", c + 12, SISN + 5),
              segment("c", "FA", c + 12, SISN + 5),
              segment("s", "FA", SISN + 5, c + 13),
              segment("c", "A", c + 13, SISN + 6)]
    with PcapWriter(path) as writer:
        for i, frame in enumerate(frames):
            writer.write(frame, 1000.0 + i)


class Recorder:
    def __init__(self, conn) -> None:
        self.chunks: list[Chunk] = []

    def reassembled(self, chunk: Chunk) -> None:
        self.chunks.append(chunk)

    def complete(self) -> None:
        pass


def chunks(path) -> list[tuple[Direction, bytes, int, int, float]]:
    made: list[Recorder] = []
    assembler = TCPAssembler(lambda conn: made.append(Recorder(conn)) or made[-1])
    for packet in pktspec.open(path):
        assembler.assemble(packet)
    assembler.flush_all()
    (recorder,) = made
    return [(c.direction, c.data, c.skipped, c.offset, c.timestamp) for c in recorder.chunks]


def follow(capsys, path) -> list[str]:
    assert main(["follow", str(path), "0"]) == 0
    return capsys.readouterr().out.splitlines()[6:-1]


@pytest.fixture
def acked_gap(tmp_path):
    path = tmp_path / "gap.pcap"
    write_gap_capture(path, server_ack=CISN + 13)  # resp acknowledges BBBB and CCCC
    return path


def test_data_behind_an_acknowledged_hole_comes_before_the_acknowledging_data(acked_gap):
    assert chunks(acked_gap) == [(C, b"AAAA", 0, 0, 1003.0),
                                 (C, b"CCCC", 4, 8, 1005.0),
                                 (S, b"resp", 0, 0, 1006.0)]


def test_follow_prints_the_hole_where_tshark_does(capsys, acked_gap):
    assert follow(capsys, acked_gap) == ["4", "AAAA", "34",
                                         "[4 bytes missing in capture file].",
                                         "4", "CCCC", "\t4", "resp"]


def test_per_direction_bytes_and_gaps(acked_gap):
    (conn,) = pktspec.streams(acked_gap)
    assert conn.client.data == b"AAAACCCC" and conn.client.gaps == (Gap(4, 4),)
    assert conn.server.data == b"resp" and conn.server.gaps == ()
    assert conn.reason == "fin"


@pytest.mark.parametrize("server_ack", [CISN + 5, CISN + 9])
def test_data_that_does_not_acknowledge_past_the_hole_does_not_end_it(capsys, tmp_path,
                                                                     server_ack):
    """resp acknowledges AAAA only, or up to the hole's end but none of CCCC: the hole stays
    until the server's FIN acknowledges past it (tshark prints resp first here too)."""
    path = tmp_path / "gap.pcap"
    write_gap_capture(path, server_ack)
    assert chunks(path) == [(C, b"AAAA", 0, 0, 1003.0),
                            (S, b"resp", 0, 0, 1006.0),
                            (C, b"CCCC", 4, 8, 1005.0)]
    assert follow(capsys, path) == ["4", "AAAA", "\t4", "resp",
                                    "34", "[4 bytes missing in capture file].", "4", "CCCC"]
