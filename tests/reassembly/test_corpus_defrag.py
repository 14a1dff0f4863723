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
