"""The pcap reader reads a record that straddles two chunks from a small buffer of its own and
goes on in the new chunk after it (no copy of the whole chunk): whatever the chunk size, the
records, ``records_read`` and every error (its message, offset and record number) are those of
reading the file in one piece."""

from __future__ import annotations

import io
import struct

import pytest

from pktspec.capture.pcap import PcapReader
from pktspec.errors import CaptureError


def blob(sizes: list[int], version: tuple[int, int] = (2, 4), magic: int = 0xA1B2C3D4,
         huge_at: int | None = None) -> bytes:
    """A little-endian pcap with records of these sizes; record huge_at claims 10**6 bytes."""
    out = struct.pack("<IHHiIII", magic, *version, 0, 0, 65535, 1)
    extra = b"\0" * 8 if magic == 0xA1B2CD34 else b""
    for i, size in enumerate(sizes):
        caplen = 1_000_000 if i == huge_at else size
        data = bytes((i + k) & 0xFF for k in range(size))
        if version < (2, 3):
            out += struct.pack("<IIII", i, i * 7, size + 3, caplen) + extra + data
        else:
            out += struct.pack("<IIII", i, i * 7, caplen, size + 3) + extra + data
    return out


def outcome(raw: bytes, chunk: int, **options: int) -> tuple[list, object, int]:
    reader = PcapReader(io.BytesIO(raw), chunk_size=chunk, **options)
    got: list = []
    error = None
    try:
        for record in reader:
            got.append(record)
    except CaptureError as exc:
        error = (str(exc), exc.offset, exc.record)
    return got, error, reader.records_read


SIZES = [0, 1, 5, 16, 17, 40, 3, 100, 2, 64, 15, 33]
CHUNKS = [1, 2, 3, 5, 7, 15, 16, 17, 23, 31, 32, 33, 50, 64, 100, 1000, 1 << 20]


@pytest.mark.parametrize("layout", [{}, {"version": (2, 2)}, {"magic": 0xA1B2CD34}])
def test_every_chunk_size_reads_the_same_records(layout):
    raw = blob(SIZES, **layout)
    whole = outcome(raw, 1 << 20)
    assert len(whole[0]) == len(SIZES) and whole[1] is None
    for chunk in CHUNKS:
        assert outcome(raw, chunk) == whole, chunk


def test_a_file_cut_anywhere_fails_the_same_way_for_every_chunk_size():
    raw = blob(SIZES)
    for cut in range(24, len(raw)):
        whole = outcome(raw[:cut], 1 << 20)
        for chunk in CHUNKS[:12]:
            assert outcome(raw[:cut], chunk) == whole, (cut, chunk)


def test_a_huge_record_is_refused_at_its_offset_for_every_chunk_size():
    for at in (0, 3, 7, len(SIZES) - 1):
        raw = blob(SIZES, huge_at=at)
        whole = outcome(raw, 1 << 20)
        assert whole[1] is not None and "more than the maximum" in whole[1][0]
        for chunk in CHUNKS:
            assert outcome(raw, chunk) == whole, (at, chunk)
    raw = blob(SIZES)
    whole = outcome(raw, 1 << 20, max_caplen=30)  # refused though the record is all there
    assert whole[1] is not None and whole[1][2] == 6
    for chunk in CHUNKS:
        assert outcome(raw, chunk, max_caplen=30) == whole, chunk
