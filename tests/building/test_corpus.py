"""Decode, build again: every corpus packet that decodes without an error comes back byte for
byte; with fixing on, it still does where tshark found its checksums good (and nothing was
cut off); and verify_checksums() names exactly the checksums tshark calls bad."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

import pktspec
from pktspec.runtime.build import plan_of
from pktspec.runtime.serialize import serialize, verify_checksums
from tests.building.conftest import require_pseudo_headers
from tests.conftest import CAPTURES, TRUTH, corpus_captures, corpus_or_skip

FILES = [n for n in corpus_captures() if not n.startswith("badfile__")]
# tshark's checksum columns (truth/F.checksums.tsv), by our layer names
COLUMNS = {"IPv4": 0, "TCP": 1, "UDP": 2, "ICMPv4": 3, "ICMPv6": 4, "GRE": 5}
PSEUDO = object()


def packets(name: str):
    corpus_or_skip()
    return [p for p in pktspec.open(str(CAPTURES / name)) if p.error is None]


def statuses(name: str) -> list[list[list[str]]] | None:
    """Per frame, per column, tshark's statuses (1 good, 0 bad, 2 unverified), outer first;
    None when tshark counted other rows than packets (pcapng custom blocks)."""
    path = TRUTH / f"{name}.checksums.tsv"
    if not path.exists():
        return None
    with path.open(newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))[1:]
    return [[cell.split(",") if cell else [] for cell in row[1:]] for row in rows]


def uses_pseudo_header(packet) -> bool:
    return any(r.pseudo for layer in packet.layers for r in plan_of(type(layer)).relations)


def all_good(packet, frame: list[list[str]]) -> bool:
    """Every checksum of ours is one tshark found good, and tshark has no others (a layer
    whose checksum the truth does not cover, SCTP's, leaves the packet out)."""
    checked = {layer.name for layer in packet.layers
               if any(r.kind == "checksum" for r in plan_of(type(layer)).relations)}
    if not checked <= set(COLUMNS):
        return False
    ours = Counter(layer.name for layer in packet.layers if layer.name in COLUMNS)
    return all(ours[name] == len(frame[col]) and set(frame[col]) <= {"1"}
               for name, col in COLUMNS.items())


@pytest.mark.corpus
@pytest.mark.parametrize("name", FILES or ["(no corpus)"])
def test_decoded_packets_build_back_byte_for_byte(name):
    for i, p in enumerate(packets(name), 1):
        assert serialize(p) == p.data, f"{name} packet {i}"


@pytest.mark.corpus
@pytest.mark.parametrize("pseudo", [False, True], ids=["no-pseudo-header", "pseudo-header"])
def test_fixing_changes_nothing_where_tshark_found_the_packet_right(pseudo):
    corpus_or_skip()
    if pseudo:
        require_pseudo_headers()
    compared = 0
    for name in FILES:
        truth = statuses(name)
        ps = pktspec.open(str(CAPTURES / name))
        if truth is None:
            continue
        for frame, p in zip(truth, ps, strict=False):
            m = p.metadata
            if p.error is not None or m.caplen != m.length or not all_good(p, frame) or \
                    uses_pseudo_header(p) != pseudo:
                continue
            built = serialize(p, fix_lengths=True, compute_checksums=True)
            assert built == p.data, f"{name}: {p}"
            compared += 1
    assert compared > (1000 if pseudo else 100)


@pytest.mark.corpus
def test_verify_checksums_agrees_with_tshark():
    corpus_or_skip()
    require_pseudo_headers()
    agree = 0
    for name in FILES:
        truth = statuses(name)
        if truth is None:
            continue
        ps = list(pktspec.open(str(CAPTURES / name)))
        if len(ps) != len(truth):
            continue  # tshark counted custom blocks as frames: rows and packets differ
        for frame, p in zip(truth, ps, strict=True):
            bad = {b.index for b in verify_checksums(p)}
            at = {n: [i for i, x in enumerate(p.layers) if x.name == n] for n in COLUMNS}
            for layer_name, col in COLUMNS.items():
                if len(at[layer_name]) != len(frame[col]):
                    continue
                for index, status in zip(at[layer_name], frame[col], strict=True):
                    if status not in ("0", "1"):
                        continue
                    assert (index not in bad) == (status == "1"), \
                        f"{name}: {p} {layer_name} tshark says {status}"
                    agree += 1
    assert agree > 5000


def test_the_corpus_is_beside_the_checkout():
    assert isinstance(CAPTURES, Path)


@pytest.mark.corpus
def test_sctp_checksums_are_crc32c():
    """tshark -o sctp.checksum:crc-32c finds every SCTP checksum of these two captures good
    (94 packets), and none of fmt__td-isup-be-usec.pcap's: that one predates RFC 3309 and
    uses RFC 2960's Adler-32, which pktspec does not recognise (tshark's default does not
    check SCTP checksums at all)."""
    corpus_or_skip()
    for name, good in (("link__td-sctp-forces1-sll.pcap", True),
                       ("proto__zk-sctp-communityid.pcap", True),
                       ("fmt__td-isup-be-usec.pcap", False)):
        sctp = [p for p in pktspec.open(str(CAPTURES / name)) if "SCTP" in p]
        assert sctp, name
        for p in sctp:
            bad = [b for b in verify_checksums(p) if b.layer == "SCTP"]
            assert (not bad) == good, f"{name}: {p}"
