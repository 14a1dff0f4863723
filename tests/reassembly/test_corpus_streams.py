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

from pktspec.reassembly import TCPStream, streams
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
    if rows and not got:
        pytest.skip(f"{name}: no TCP decoded; the protocol library does not reach TCP in "
                    "this capture yet")
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
