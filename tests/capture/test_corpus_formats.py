"""Conformance with tshark 4.0 on the third-party corpus (../shared/corpus), and round trips.

Deviations from tshark's view, each handled explicitly below:

* Custom Blocks (0x00000BAD / 0x40000BAD) are counted as frames by tshark 4.0 (empty
  encapsulation, ``frame.protocols`` = data). They are not packets: our packet iteration skips
  them and ``blocks()`` yields them as CustomBlock; the test checks that they sit exactly where
  tshark's extra rows are.
* ``frame.interface_id`` in tshark 4.0 is the interface number *within the section*; ours
  (``info.interface``) numbers the interfaces of all sections one after the other, so that
  ``linktype_of`` is unambiguous. ``Interface.local_id`` is compared with tshark's.
* Simple Packet Blocks have no timestamp: tshark prints an empty ``frame.time_epoch``; we give
  a SimplePacketInfo with ``has_timestamp`` False.
* ``fmt__td-timestamp-invalid-nano.pcap`` stores fractions >= 10**9; tshark prints them
  un-normalised and, past 2**31, with a minus sign (it reads the field as signed). We keep the
  raw fields, so that file is compared field by field.
"""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from pathlib import Path

import pytest

from pktspec.capture.files import detect_format, open_records
from pktspec.capture.pcap import PcapReader, PcapWriter
from pktspec.capture.pcapng import CustomBlock, PacketBlock, PcapngReader, PcapngWriter
from tests.conftest import CAPTURES, TRUTH, corpus_captures, corpus_or_skip

pytestmark = pytest.mark.corpus

# Without the corpus each list holds one placeholder, whose test skips saying why.
ABSENT = ["corpus-absent"]
GOOD = [n for n in corpus_captures() if not n.startswith("badfile__")] or ABSENT
FMT = corpus_captures("fmt__") or ABSENT
PCAPS = [n for n in GOOD if n.endswith(".pcap")] or ABSENT
PCAPNGS = [n for n in GOOD if n.endswith(".pcapng")] or ABSENT
COLUMNS = ("frame.time_epoch", "frame.len", "frame.cap_len", "frame.interface_id")


def truth_rows(name: str) -> list[dict[str, str]]:
    """tshark's rows for a capture: one dict per frame, column name -> text."""
    corpus_or_skip()
    with open(TRUTH / f"{name}.fields.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def is_custom_block_row(row: dict[str, str]) -> bool:
    return row["frame.encap_type"] == "" and row["frame.protocols"] == "data"


def our_frames(path: Path) -> list[tuple[str, object]]:
    """Our reading in tshark's frame order: ('packet', (data, info, local_id)) or ('custom', block)."""
    if detect_format(path) == "pcap":
        return [("packet", (d, i, None)) for d, i in PcapReader(path)]
    reader = PcapngReader(path)
    frames: list[tuple[str, object]] = []
    for block in reader.blocks():
        if isinstance(block, CustomBlock):
            frames.append(("custom", block))
        elif isinstance(block, PacketBlock):
            local = reader.interfaces[block.info.interface].local_id
            frames.append(("packet", (block.data, block.info, local)))
    return frames


def expected_time(text: str, name: str) -> tuple[str, object]:
    if name == "fmt__td-timestamp-invalid-nano.pcap" and (
        text.startswith("-") or len(text.split(".")[1]) > 9
    ):
        sec, frac = text.lstrip("-").split(".")
        return "raw", (int(sec), int(frac))
    return "exact", Fraction(text)


@pytest.mark.parametrize("name", FMT)
def test_fmt_capture_matches_tshark(name):
    rows = truth_rows(name)
    frames = our_frames(CAPTURES / name)
    assert [kind for kind, _ in frames] == [
        "custom" if is_custom_block_row(r) else "packet" for r in rows
    ], "custom blocks must sit where tshark counted them as frames"
    for (kind, item), row in zip(frames, rows, strict=True):
        if kind == "custom":
            continue
        data, info, local = item
        where = f"{name} frame {row['frame.number']}"
        assert (str(info.length), str(info.caplen)) == (row["frame.len"], row["frame.cap_len"]), (
            where
        )
        assert len(data) == info.caplen, where
        assert ("" if local is None else str(local)) == row["frame.interface_id"], where
        text = row["frame.time_epoch"]
        if text == "":
            assert getattr(info, "has_timestamp", True) is False, where
            continue
        how, value = expected_time(text, name)
        got = (info.ts_sec, info.ts_frac) if how == "raw" else info.exact_timestamp
        assert got == value, where


@pytest.mark.parametrize("name", GOOD)
def test_every_good_capture_has_tsharks_packet_count(name):
    rows = truth_rows(name)
    packets = sum(1 for _ in open_records(CAPTURES / name))
    assert packets == sum(1 for r in rows if not is_custom_block_row(r))


@pytest.mark.parametrize("name", PCAPS)
@pytest.mark.parametrize("resolution", ["same", "nano"])
def test_pcap_round_trip(name, resolution):
    corpus_or_skip()
    reader = PcapReader(CAPTURES / name)
    records = list(reader)
    nano = reader.nanosecond or resolution == "nano"
    out = io.BytesIO()
    with PcapWriter(
        out, reader.header.linktype_field, reader.snaplen, nano, byte_order=reader.byte_order
    ) as w:
        for data, info in records:
            w.write(data, info)
    again = PcapReader(io.BytesIO(out.getvalue()))
    assert (again.linktype, again.snaplen, again.byte_order) == (
        reader.linktype,
        reader.snaplen,
        reader.byte_order,
    )
    back = list(again)
    if nano == reader.nanosecond:
        assert back == records
    else:  # microseconds widen to nanoseconds exactly
        assert [(d, i.exact_timestamp, i.caplen, i.length) for d, i in back] == [
            (d, i.exact_timestamp, i.caplen, i.length) for d, i in records
        ]


def summary(info) -> tuple:
    return (info.ts_sec, info.ts_frac, info.ts_resolution, info.caplen, info.length,
            info.interface, info.linktype, info.comment)  # fmt: skip


@pytest.mark.parametrize("name", PCAPNGS)
def test_pcapng_round_trip_keeps_interfaces_and_comments(name):
    corpus_or_skip()
    reader = PcapngReader(CAPTURES / name)
    records = list(reader)
    out = io.BytesIO()
    order = reader.sections[0].byte_order if reader.sections else "little"
    with PcapngWriter(out, reader.interfaces, comments=reader.comments, byte_order=order) as w:
        for data, info in records:
            w.write(data, info)
    again = PcapngReader(io.BytesIO(out.getvalue()))
    back = list(again)
    # One section out: an SPB of a later section (not on interface 0) becomes an EPB at time 0.
    assert [(d, summary(i)) for d, i in back] == [(d, summary(i)) for d, i in records]
    assert again.comments == reader.comments
    same_order = all(s.byte_order == order for s in reader.sections)
    for ours, theirs in zip(again.interfaces, reader.interfaces, strict=True):
        assert (ours.linktype, ours.snaplen, ours.tsresol, ours.tsoffset, ours.name) == (
            theirs.linktype, theirs.snaplen, theirs.tsresol, theirs.tsoffset, theirs.name
        )  # fmt: skip
        if same_order:
            assert ours.options == theirs.options
