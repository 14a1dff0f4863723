"""Conformance: every direction of every TCP stream in the corpus equals tshark's follow.

For each capture with ``truth/streams/F/``, ``streams()`` must find the same connections (by
tshark's stream index and endpoints) and each side's bytes must equal ``stream-N.nodeK.bin``.
Where tshark inserted ``[N bytes missing in capture file]`` (followed by a NUL: tshark stores
the C string with its terminator), pktspec must report a gap of N bytes at that point, and the
bytes on both sides of it must match.
"""

from __future__ import annotations

import csv
import functools
import re

import pytest

import pktspec
from pktspec.reassembly import TCPAssembler, TCPStream, streams
from tests.conftest import CORPUS, corpus_or_skip

STREAM_TRUTH = CORPUS / "truth" / "streams"
MISSING = re.compile(rb"\[(\d+) bytes missing in capture file\]\x00")
NAMES = sorted(p.name for p in STREAM_TRUTH.iterdir()) if STREAM_TRUTH.is_dir() else []


@functools.cache
def reassembled(name: str) -> tuple[TCPStream, ...]:
    return tuple(streams(CORPUS / "captures" / name))


def truth_rows(name: str) -> list[dict[str, str]]:
    with open(STREAM_TRUTH / name / "streams.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def compare_side(name: str, index: int, node: str, side) -> list[str]:
    """Differences between one side and tshark's bytes for that node."""
    truth = (STREAM_TRUTH / name / f"stream-{index}.node{node}.bin").read_bytes()
    parts = MISSING.split(truth)
    pieces, gaps = parts[0::2], [int(n) for n in parts[1::2]]
    problems = []
    if [g.length for g in side.gaps] != gaps:
        problems.append(f"stream {index} node{node}: gaps {[g.length for g in side.gaps]}, "
                        f"tshark {gaps}")
    elif side.pieces() != pieces:
        bad = next(i for i, (a, b) in enumerate(zip(side.pieces(), pieces, strict=True)) if a != b)
        problems.append(f"stream {index} node{node}: bytes differ in piece {bad} "
                        f"({len(side.data)} bytes, tshark {len(b''.join(pieces))})")
    return problems


@pytest.mark.corpus
@pytest.mark.parametrize("name", NAMES or ["(no corpus)"])
def test_streams_equal_tshark_follow(name):
    corpus_or_skip()
    rows = truth_rows(name)
    got = reassembled(name)
    assert [c.index for c in got] == [int(r["stream"]) for r in rows]
    problems = []
    for row, conn in zip(rows, got, strict=True):
        sides = {str(conn.client): conn.client, str(conn.server): conn.server}
        if set(sides) != {row["node0"], row["node1"]}:
            problems.append(f"stream {row['stream']}: endpoints {sorted(sides)}, tshark "
                            f"{row['node0']} {row['node1']}")
            continue
        for node in "01":
            problems += compare_side(name, conn.index, node, sides[row["node" + node]])
    assert problems == []


def follow_turns(name: str) -> dict[int, tuple[str, list[tuple[int, bytes]]]]:
    """From tshark's ``follow,tcp,raw`` output: per stream, node 0's endpoint and the turns
    (consecutive records of one node joined: node, bytes), markers included."""
    text = (STREAM_TRUTH / name / "follow-raw.txt").read_text()
    out = {}
    for block in text.split("=" * 67 + "\nFollow: tcp,raw\n")[1:]:
        lines = block.split("\n")
        records = []
        for line in lines[3:]:
            if line.startswith("="):
                break
            if line.strip():
                records.append((int(line.startswith("\t")), bytes.fromhex(line.strip())))
        out[int(lines[0].split()[-1])] = (lines[1].split(": ", 1)[1], join_turns(records))
    return out


def join_turns(records: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    turns: list[tuple[int, bytes]] = []
    for node, data in records:
        if turns and turns[-1][0] == node:
            turns[-1] = (node, turns[-1][1] + data)
        elif data:
            turns.append((node, data))
    return turns


class Recorder:
    def __init__(self, conn) -> None:
        self.conn = conn
        self.chunks = []

    def reassembled(self, chunk) -> None:
        self.chunks.append(chunk)

    def complete(self) -> None:
        pass


@pytest.mark.corpus
@pytest.mark.parametrize("name", NAMES or ["(no corpus)"])
def test_chunks_interleave_as_tshark_follow(name):
    """The assembler's chunks, both directions in delivery order, with each hole shown as
    tshark shows it, make the same turns as tshark's follow: a hole is given up on (and the
    data behind it delivered) before the data of the packet that acknowledges past it."""
    corpus_or_skip()
    made: list[Recorder] = []
    assembler = TCPAssembler(lambda conn: made.append(Recorder(conn)) or made[-1])
    for packet in pktspec.open(CORPUS / "captures" / name):
        assembler.assemble(packet)
    assembler.flush_all()
    truth = follow_turns(name)
    assert sorted(r.conn.index for r in made) == sorted(truth)
    for recorder in made:
        node0, expected = truth[recorder.conn.index]
        flip = str(recorder.conn.client) != node0
        records = []
        for chunk in recorder.chunks:
            node = int(chunk.direction) ^ flip
            if chunk.skipped:
                records.append((node, b"[%d bytes missing in capture file]\0" % chunk.skipped))
            records.append((node, chunk.data))
        assert join_turns(records) == expected, f"stream {recorder.conn.index}"
