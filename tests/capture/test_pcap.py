"""pcap reader and writer on fixtures made here, in both byte orders and both resolutions."""

from __future__ import annotations

import gzip
import io
import struct
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pktspec.capture.files import detect_format, open_records
from pktspec.capture.pcap import PcapReader, PcapWriter
from pktspec.errors import CaptureError
from pktspec.runtime.metadata import CaptureInfo

ORDERS = ("little", "big")


def make_records(n: int, nanosecond: bool = False) -> list[tuple[bytes, CaptureInfo]]:
    res = 1_000_000_000 if nanosecond else 1_000_000
    return [
        (bytes([i % 256]) * (i % 70 + 1), CaptureInfo(1_600_000_000 + i, (i * 7919) % res, res, i % 70 + 1, i % 70 + 1 + i % 3))
        for i in range(n)
    ]  # fmt: skip


def write_pcap(records, **kwargs) -> bytes:
    out = io.BytesIO()
    with PcapWriter(out, **kwargs) as writer:
        for data, info in records:
            writer.write(data, info)
    return out.getvalue()


def raw_pcap(records, order="<", magic=0xA1B2C3D4, version=(2, 4), linktype=1, snaplen=65535):
    """A pcap built with struct alone, to test the reader against something it did not write."""
    out = struct.pack(order + "IHHiIII", magic, *version, 0, 0, snaplen, linktype)
    for sec, frac, data, length in records:
        out += struct.pack(order + "IIII", sec, frac, len(data), length) + data
    return out


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("nanosecond", [False, True])
def test_round_trip_both_orders_and_resolutions(order, nanosecond):
    records = make_records(50, nanosecond)
    blob = write_pcap(records, nanosecond=nanosecond, byte_order=order)
    reader = PcapReader(io.BytesIO(blob))
    assert (reader.byte_order, reader.nanosecond, reader.version) == (order, nanosecond, (2, 4))
    assert list(reader) == records


def test_reads_struct_built_big_endian_file():
    blob = raw_pcap([(10, 5, b"abc", 3), (11, 999_999, b"de", 60)], order=">", linktype=113)
    reader = PcapReader(io.BytesIO(blob))
    assert reader.linktype == 113 and reader.snaplen == 65535 and reader.byte_order == "big"
    got = [(d, i.ts_sec, i.ts_frac, i.caplen, i.length, i.linktype) for d, i in reader]
    assert got == [(b"abc", 10, 5, 3, 3, 113), (b"de", 11, 999_999, 2, 60, 113)]
    assert reader.linktype_of(0) == 113
    with pytest.raises(KeyError):
        reader.linktype_of(1)


def test_nanosecond_magic_and_exact_timestamp():
    blob = raw_pcap([(1, 123_456_789, b"x", 1)], magic=0xA1B23C4D)
    (_, info), = PcapReader(io.BytesIO(blob))  # fmt: skip
    assert info.ts_resolution == 10**9
    assert info.exact_timestamp == Fraction(1_123_456_789, 10**9)


@pytest.mark.parametrize("chunk", [1, 7, 17, 100, 4096])
def test_chunk_boundaries_do_not_change_records(chunk):
    records = make_records(40)
    blob = write_pcap(records)
    assert list(PcapReader(io.BytesIO(blob), chunk_size=chunk)) == records


def test_gzip_is_looked_through(tmp_path):
    records = make_records(10)
    path = tmp_path / "x.pcap.gz"
    with PcapWriter(path) as writer:  # .gz suffix: compressed
        for data, info in records:
            writer.write(data, info)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert detect_format(path) == "pcap"
    assert list(PcapReader(path)) == records
    assert list(open_records(path)) == records
    plain = gzip.decompress(path.read_bytes())
    assert list(PcapReader(io.BytesIO(gzip.compress(plain)))) == records


def test_damaged_gzip_is_a_capture_error():
    blob = gzip.compress(write_pcap(make_records(200)))
    reader = PcapReader(io.BytesIO(blob[: len(blob) // 2]))
    with pytest.raises(CaptureError, match="compressed data"):
        list(reader)


def test_linktype_upper_bits_carry_fcs_information():
    reader = PcapReader(io.BytesIO(raw_pcap([], linktype=0x34000001)))
    assert reader.linktype == 1 and reader.fcs_length == 6
    reader = PcapReader(io.BytesIO(raw_pcap([], linktype=0x30000001)))  # no F bit: no FCS info
    assert reader.linktype == 1 and reader.fcs_length is None


def test_reserved_linktype_bits_are_refused():
    with pytest.raises(CaptureError, match="reserved") as err:
        PcapReader(io.BytesIO(raw_pcap([], linktype=0x00300001)))
    assert err.value.offset == 20


def test_old_version_has_swapped_lengths():
    blob = raw_pcap([(1, 2, b"abcd", 0)], version=(2, 2))
    # In 2.2 files the first length is the original one: the struct above wrote caplen=4 first.
    blob = blob[:24] + struct.pack("<IIII", 1, 2, 100, 4) + b"abcd"
    (_, info), = PcapReader(io.BytesIO(blob))  # fmt: skip
    assert (info.caplen, info.length) == (4, 100)


def test_modified_pcap_has_longer_record_headers():
    head = struct.pack("<IHHiIII", 0xA1B2CD34, 2, 4, 0, 0, 65535, 1)
    rec = struct.pack("<IIII", 5, 6, 3, 3) + struct.pack("<IHBx", 2, 0x800, 0) + b"abc"
    assert [d for d, _ in PcapReader(io.BytesIO(head + rec * 2))] == [b"abc", b"abc"]


@pytest.mark.parametrize("value,expected", [
    (12.5, (12, 500_000)),
    (Fraction(3, 2), (1, 500_000)),
    (Decimal("7.0000015"), (7, 1)),
    (9, (9, 0)),
    (0.9999999, (1, 0)),
])  # fmt: skip
def test_writer_takes_bare_timestamps(value, expected):
    blob = write_pcap([(b"zz", value)])
    (_, info), = PcapReader(io.BytesIO(blob))  # fmt: skip
    assert (info.ts_sec, info.ts_frac) == expected
    assert info.length == 2


def test_writer_converts_nanoseconds_to_microseconds_by_truncation():
    info = CaptureInfo(5, 123_456_789, 10**9, 1, 1)
    (_, got), = PcapReader(io.BytesIO(write_pcap([(b"a", info)])))  # fmt: skip
    assert (got.ts_sec, got.ts_frac, got.ts_resolution) == (5, 123_456, 10**6)


def test_writer_keeps_out_of_range_fractions_of_its_own_resolution():
    info = CaptureInfo(5, 1_500_000_000, 10**9, 1, 1)
    blob = write_pcap([(b"a", info)], nanosecond=True)
    assert list(PcapReader(io.BytesIO(blob)))[0][1] == info


def test_writer_keeps_records_longer_than_snaplen_and_the_original_length():
    blob = write_pcap(
        [(b"x" * 100, 1.0), (b"y" * 10, CaptureInfo(1, 0, 10**6, 10, 99))], snaplen=60
    )
    reader = PcapReader(io.BytesIO(blob))
    assert reader.snaplen == 60
    got = [(len(d), i.caplen, i.length, i.truncated) for d, i in reader]
    assert got == [(100, 100, 100, False), (10, 10, 99, True)]


def test_writer_refuses_what_pcap_cannot_say():
    with pytest.raises(CaptureError, match="link type 113"):
        write_pcap([(b"a", CaptureInfo(1, 0, 10**6, 1, 1, linktype=113))])
    with pytest.raises(CaptureError, match="32-bit"):
        write_pcap([(b"a", -1.0)])


def test_writer_is_atomic(tmp_path):
    path = tmp_path / "out.pcap"
    path.write_bytes(b"old contents")
    with pytest.raises(RuntimeError):
        with PcapWriter(path) as writer:
            writer.write(b"abc", 1.0)
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["out.pcap"]  # no temp file left
    with PcapWriter(path) as writer:
        writer.write(b"abc", 1.0)
    assert [d for d, _ in PcapReader(path)] == [b"abc"]


def test_records_before_a_truncation_are_delivered_then_the_error():
    blob = write_pcap(make_records(5))
    cut = blob[:-3]
    reader = PcapReader(io.BytesIO(cut))
    got = []
    with pytest.raises(CaptureError, match="packet data") as err:
        for record in reader:
            got.append(record)
    assert len(got) == 4
    assert err.value.record == 5
    assert err.value.offset == len(write_pcap(make_records(4)))


def test_huge_caplen_is_refused_with_its_position():
    blob = raw_pcap([(1, 0, b"ok", 2)]) + struct.pack("<IIII", 2, 0, 0x7FFFFFF0, 60) + b"x" * 40
    reader = PcapReader(io.BytesIO(blob))
    it = iter(reader)
    assert next(it)[0] == b"ok"
    with pytest.raises(CaptureError, match="2147483632") as err:
        next(it)
    assert (err.value.record, err.value.offset) == (2, 24 + 16 + 2)


def test_max_caplen_can_be_raised():
    blob = raw_pcap([(1, 0, b"y" * 300_000, 300_000)], snaplen=300_000)
    with pytest.raises(CaptureError):
        list(PcapReader(io.BytesIO(blob)))
    assert len(list(PcapReader(io.BytesIO(blob), max_caplen=1 << 20))[0][0]) == 300_000


@pytest.mark.parametrize("blob,match", [
    (b"", "too short"),
    (b"\xd4\xc3\xb2\xa1\x02\x00", "cut short"),
    (b"\xde\xad\xbe\xef" + bytes(20), "unknown magic"),
    (struct.pack("<IHHiIII", 0xA1B2C3D4, 1, 4, 0, 0, 65535, 1), "version 1.4"),
])  # fmt: skip
def test_bad_headers(blob, match):
    with pytest.raises(CaptureError, match=match):
        PcapReader(io.BytesIO(blob))


def test_missing_file_is_a_capture_error(tmp_path):
    with pytest.raises(CaptureError, match="cannot open"):
        PcapReader(tmp_path / "nope.pcap")


record_strategy = st.tuples(
    st.binary(max_size=80),
    st.integers(0, 2**32 - 1),
    st.integers(0, 999_999_999),
    st.integers(0, 200),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(record_strategy, max_size=20), st.sampled_from(ORDERS), st.booleans())
def test_round_trip_property(items, order, nanosecond):
    res = 10**9 if nanosecond else 10**6
    records = [
        (data, CaptureInfo(sec, frac % res, res, len(data), len(data) + extra))
        for data, sec, frac, extra in items
    ]
    blob = write_pcap(records, nanosecond=nanosecond, byte_order=order)
    assert list(PcapReader(io.BytesIO(blob), chunk_size=64)) == records


def test_iterating_again_continues_like_a_file():
    reader = PcapReader(io.BytesIO(write_pcap(make_records(5))))
    first = [next(iter(reader)) for _ in range(2)]
    rest = list(reader)
    assert first + rest == make_records(5) and reader.records_read == 5


class Unseekable(io.RawIOBase):
    """A pipe-like stream: short reads, no seek."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), 5, len(self._data))
        buffer[:n], self._data = self._data[:n], self._data[n:]
        return n


def test_sniffing_file_objects():
    blob = write_pcap(make_records(3))
    stream = io.BytesIO(blob)
    assert detect_format(stream) == "pcap" and stream.tell() == 0
    assert list(open_records(Unseekable(gzip.compress(blob)))) == make_records(3)


def test_memory_stays_flat_while_streaming(tmp_path):
    import tracemalloc

    path = tmp_path / "big.pcap"
    with PcapWriter(path) as writer:
        for i in range(30_000):
            writer.write(b"x" * 100, float(i))
    assert path.stat().st_size > 3_000_000
    tracemalloc.start()
    try:
        assert sum(1 for _ in PcapReader(path, chunk_size=1 << 16)) == 30_000
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # a few chunks, not the file


def test_readers_are_record_sources():
    from pktspec.capture.files import RecordSource

    reader = PcapReader(io.BytesIO(write_pcap([])))
    assert isinstance(reader, RecordSource) and reader.linktype_of(0) == 1


def test_a_gzip_capture_written_to_a_file_object_reads_back():
    records = make_records(5)
    blob = write_pcap(records, compress=True)
    assert blob[:2] == b"\x1f\x8b"  # a gzip stream, finished (its trailer is there)
    assert list(PcapReader(io.BytesIO(gzip.decompress(blob)))) == records
