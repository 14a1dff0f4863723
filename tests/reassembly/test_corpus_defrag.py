"""Conformance: every datagram tshark reassembles from the corpus fragments, pktspec does too.

``truth/F.defrag.tsv`` has, at the frame that completes a datagram, its reassembled payload
(``ip.reassembled.data`` / ``ipv6.reassembled.data``, the bytes after the IP header). The
defragmenters must complete the same datagrams at the same frames with the same bytes, and
nothing else (atomic fragments and datagrams that never complete produce nothing).
"""

from __future__ import annotations

import csv

import pytest

import pktspec
from pktspec.reassembly import IPv4Defragmenter, IPv6Defragmenter, defragment
from tests.conftest import CORPUS, TRUTH, corpus_or_skip

NAMES = sorted(p.name[:-len(".defrag.tsv")] for p in TRUTH.glob("*.defrag.tsv")) \
    if TRUTH.is_dir() else []


def truth(name: str) -> tuple[dict[int, bytes], set[int]]:
    """Reassembled payload by completing frame, and the frames tshark flags as conflicts."""
    datagrams, conflicts = {}, set()
    with open(TRUTH / f"{name}.defrag.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            data = row["ip.reassembled.data"] or row["ipv6.reassembled.data"]
            if data:
                datagrams[int(row["frame.number"])] = bytes.fromhex(data)
            if row["ip.fragment.overlap.conflict"] or row["ipv6.fragment.overlap.conflict"]:
                conflicts.add(int(row["frame.number"]))
    return datagrams, conflicts


@pytest.mark.corpus
@pytest.mark.parametrize("name", NAMES or ["(no corpus)"])
def test_reassembled_datagrams_equal_tshark(name):
    corpus_or_skip()
    expected, conflicts = truth(name)
    v4, v6 = IPv4Defragmenter(), IPv6Defragmenter()
    got, conflicted = {}, set()
    for frame, packet in enumerate(pktspec.open(CORPUS / "captures" / name), 1):
        before = v4.stats.conflicts + v6.stats.conflicts
        out = v4.defrag(packet)
        if out is packet:
            out = v6.defrag(packet)
        if out is not None and out is not packet:
            got[frame] = bytes(out.network.payload)
            if v4.stats.conflicts + v6.stats.conflicts > before:
                conflicted.add(frame)
    assert got == expected
    assert conflicted == conflicts


@pytest.mark.corpus
@pytest.mark.parametrize("name", NAMES or ["(no corpus)"])
def test_defragment_generator_yields_the_same_datagrams(name):
    corpus_or_skip()
    expected, _ = truth(name)
    packets = list(pktspec.open(CORPUS / "captures" / name))
    out = list(defragment(iter(packets)))
    whole = [bytes(p.network.payload) for p in out if all(p is not q for q in packets)]
    assert whole == [expected[f] for f in sorted(expected)]


def capture_positions(out: list, packets: list, expected: dict[int, bytes]) -> list[int]:
    """Where each output packet belongs in the capture (0-based): an original packet its own
    place, a reassembled datagram the frame tshark reassembled it at."""
    where = {id(p): i for i, p in enumerate(packets)}
    completing = iter(sorted(expected))
    return [where[id(p)] if id(p) in where else next(completing) - 1 for p in out]


@pytest.mark.corpus
@pytest.mark.parametrize("keep_incomplete", [False, True])
@pytest.mark.parametrize("name", NAMES or ["(no corpus)"])
def test_defragment_generator_keeps_capture_order(name, keep_incomplete):
    """Nothing comes out after a packet captured later than it, fragments of datagrams that
    never complete included (dropped by default, in their place when kept)."""
    corpus_or_skip()
    expected, _ = truth(name)
    packets = list(pktspec.open(CORPUS / "captures" / name))
    v4, v6 = IPv4Defragmenter(), IPv6Defragmenter()
    out = list(defragment(iter(packets), keep_incomplete=keep_incomplete,
                          defragmenters=(v4, v6)))
    positions = capture_positions(out, packets, expected)
    assert positions == sorted(set(positions))
    fragments = v4.stats.fragments + v6.stats.fragments
    reassembled = v4.stats.reassembled + v6.stats.reassembled
    incomplete = v4.stats.incomplete + v6.stats.incomplete
    kept = incomplete if keep_incomplete else 0
    assert len(out) == len(packets) - fragments + reassembled + kept


@pytest.mark.corpus
def test_open_with_defragment_drops_the_lone_fragment_in_place():
    """frag__zk-ipv6-fragmented-dns.pcap: frame 4 is a first fragment whose rest was never
    captured; frames 6-8 make one datagram. The output follows the capture: frames 1, 2, 3,
    5, then the datagram at frame 8; frame 4 is dropped and counted, not yielded last."""
    corpus_or_skip()
    name = "frag__zk-ipv6-fragmented-dns.pcap"
    path = CORPUS / "captures" / name
    frames = [None, *pktspec.open(path)]
    expected, _ = truth(name)
    out = list(pktspec.open(path, defragment=True))
    assert [bytes(p.data) for p in out[:4]] == [bytes(frames[i].data) for i in (1, 2, 3, 5)]
    assert [p.metadata.timestamp for p in out] == [frames[i].metadata.timestamp
                                                   for i in (1, 2, 3, 5, 8)]
    assert len(out) == 5 and bytes(out[4].network.payload) == expected[8]
    assert bytes(out[4].data)[:14] == bytes(frames[6].data)[:14]
    v4, v6 = IPv4Defragmenter(), IPv6Defragmenter()
    again = list(pktspec.open(path, defragment={"defragmenters": (v4, v6)}))
    assert [bytes(p.data) for p in again] == [bytes(p.data) for p in out]
    stats = v6.stats
    assert (stats.fragments, stats.reassembled, stats.unfinished, stats.incomplete) == (4, 1, 1, 1)
    kept = list(pktspec.open(path, defragment={"keep_incomplete": True}))
    assert [bytes(p.data) for p in kept[:5]] == [bytes(frames[i].data) for i in (1, 2, 3, 4, 5)]
    assert [p.metadata.timestamp for p in kept] == [frames[i].metadata.timestamp
                                                    for i in (1, 2, 3, 4, 5, 8)]
    assert bytes(kept[5].data) == bytes(out[4].data)
