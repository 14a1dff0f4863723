"""pcapng reader and writer on fixtures built here: every block type, both byte orders."""

from __future__ import annotations

import io
import struct
from fractions import Fraction

import pytest

from pktspec.capture import pcapng
from pktspec.capture.files import detect_format, open_records
from pktspec.capture.pcapng import (
    CustomBlock,
    DecryptionSecrets,
    Interface,
    InterfaceStatistics,
    NameResolution,
    PacketBlock,
    PcapngReader,
    PcapngWriter,
    SectionHeader,
    SimplePacketInfo,
)
from pktspec.errors import CaptureError
from pktspec.runtime.metadata import CaptureInfo

P = {"little": "<", "big": ">"}


class Builder:
    """pcapng blocks made with struct alone, so the reader is tested on bytes it did not write."""

    def __init__(self, order: str = "little") -> None:
        self.p = P[order]

    def block(self, btype: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        size = len(body) + 12
        return struct.pack(self.p + "II", btype, size) + body + struct.pack(self.p + "I", size)

    def options(self, *pairs: tuple[int, bytes]) -> bytes:
        out = b""
        for code, value in pairs:
            out += struct.pack(self.p + "HH", code, len(value)) + value
            out += b"\0" * (-len(value) % 4)
        return out + struct.pack(self.p + "HH", 0, 0) if pairs else b""

    def shb(self, *opts: tuple[int, bytes], version=(1, 0)) -> bytes:
        body = struct.pack(self.p + "IHHq", 0x1A2B3C4D, *version, -1)
        return self.block(0x0A0D0D0A, body + self.options(*opts))

    def idb(self, linktype=1, snaplen=0, *opts: tuple[int, bytes]) -> bytes:
        return self.block(
            1, struct.pack(self.p + "HHI", linktype, 0, snaplen) + self.options(*opts)
        )

    def epb(self, iface, units, data, length=None, *opts: tuple[int, bytes]) -> bytes:
        head = struct.pack(self.p + "IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data),
                           len(data) if length is None else length)  # fmt: skip
        return self.block(6, head + data + b"\0" * (-len(data) % 4) + self.options(*opts))

    def spb(self, data, length=None) -> bytes:
        return self.block(
            3, struct.pack(self.p + "I", len(data) if length is None else length) + data
        )

    def pb(self, iface, drops, units, data) -> bytes:
        head = struct.pack(self.p + "HHIIII", iface, drops, units >> 32, units & 0xFFFFFFFF,
                           len(data), len(data))  # fmt: skip
        return self.block(2, head + data)

    def nrb(self) -> bytes:
        value = bytes([192, 0, 2, 1]) + b"host.example\0"
        rec = struct.pack(self.p + "HH", 1, len(value)) + value
        rec += b"\0" * (-len(rec) % 4)
        end = struct.pack(self.p + "HH", 0, 0)
        return self.block(4, rec + end + self.options((1, b"nrb comment")))

    def isb(self, iface, units) -> bytes:
        body = struct.pack(self.p + "III", iface, units >> 32, units & 0xFFFFFFFF)
        return self.block(5, body + self.options((4, struct.pack(self.p + "Q", 77))))

    def dsb(self, secrets: bytes) -> bytes:
        return self.block(0x0A, struct.pack(self.p + "II", 0x544C534B, len(secrets)) + secrets)

    def custom(self, btype=0x00000BAD, pen=32473, data=b"custom!") -> bytes:
        return self.block(btype, struct.pack(self.p + "I", pen) + data)


def every_block_file(order: str) -> bytes:
    b = Builder(order)
    return b"".join([
        b.shb((1, b"section comment"), (4, b"test builder")),
        b.custom(),
        b.idb(1, 0, (2, b"eth0"), (9, b"\x09")),               # nanoseconds
        b.nrb(),
        b.epb(0, 1_500_000_000_123_456_789, b"first", 60, (1, b"one"), (1, b"two")),
        b.idb(0, 128, (2, b"lo"), (9, b"\x88"), (14, struct.pack(P[order] + "q", 1000))),
        b.custom(0x40000BAD),
        b.epb(1, 3 * 256 + 64, b"second"),                    # 2**-8 s ticks, +1000 s offset
        b.spb(b"simple!!", 300),
        b.pb(0, 4, 2_000_000_000_000_000_000, b"obsolete"),
        b.isb(0, 5),
        b.dsb(b"CLIENT_RANDOM x y\n"),
        b.block(0x00000777, b"unknown body"),
    ])  # fmt: skip


@pytest.mark.parametrize("order", ["little", "big"])
def test_every_block_type(order):
    reader = PcapngReader(io.BytesIO(every_block_file(order)))
    assert reader.byte_order == order
    assert [i.name for i in reader.interfaces] == ["eth0"]  # read ahead up to the first block
    blocks = list(reader.blocks())
    kinds = [type(b).__name__ for b in blocks]
    assert kinds == [
        "SectionHeader", "CustomBlock", "Interface", "NameResolution", "PacketBlock",
        "Interface", "CustomBlock", "PacketBlock", "PacketBlock", "PacketBlock",
        "InterfaceStatistics", "DecryptionSecrets", "UnknownBlock",
    ]  # fmt: skip
    shb, cb, _, nrb, epb, lo, dcb, epb2, spb, pb, isb, dsb, unknown = blocks
    assert isinstance(shb, SectionHeader) and shb.comments == ["section comment"]
    assert shb.userappl == "test builder" and shb.version == (1, 0)
    assert isinstance(cb, CustomBlock) and (cb.pen, cb.data[:7], cb.copyable) == (
        32473,
        b"custom!",
        True,
    )
    assert isinstance(dcb, CustomBlock) and not dcb.copyable
    assert isinstance(nrb, NameResolution) and nrb.entries == [("192.0.2.1", ["host.example"])]
    assert nrb.comments == ["nrb comment"]
    assert isinstance(epb, PacketBlock) and epb.data == b"first" and epb.comments == ["one", "two"]
    assert epb.info == CaptureInfo(1_500_000_000, 123_456_789, 10**9, 5, 60, 0, 1, "one\ntwo")
    assert isinstance(lo, Interface)
    assert (lo.linktype, lo.snaplen, lo.tsresol, lo.tsoffset) == (0, 128, 256, 1000)
    assert epb2.info.exact_timestamp == 1003 + Fraction(64, 256)
    assert epb2.info.linktype == 0 and epb2.info.interface == 1
    assert isinstance(spb.info, SimplePacketInfo) and not spb.info.has_timestamp
    assert (spb.data, spb.info.length, spb.info.timestamp) == (b"simple!!", 300, 0)
    assert pb.drops == 4 and pb.info.ts_sec == 2_000_000_000 and pb.data == b"obsolete"
    assert isinstance(isb, InterfaceStatistics) and isb.counters == {"ifrecv": 77}
    assert isinstance(dsb, DecryptionSecrets) and dsb.data == b"CLIENT_RANDOM x y\n"
    assert unknown.type == 0x777 and unknown.body == b"unknown body"
    assert reader.comments == ["section comment"]


@pytest.mark.parametrize("order", ["little", "big"])
def test_packets_skip_other_blocks(order):
    packets = list(PcapngReader(io.BytesIO(every_block_file(order))))
    assert [d for d, _ in packets] == [b"first", b"second", b"simple!!", b"obsolete"]
    assert [i.comment for _, i in packets] == ["one\ntwo", None, None, None]


def test_mixed_endian_sections_number_interfaces_globally():
    le, be = Builder("little"), Builder("big")
    blob = (le.shb() + le.idb(1) + le.idb(113) + le.epb(1, 5_000_000, b"a")
            + be.shb() + be.idb(101) + be.epb(0, 7_000_000, b"b")
            + le.shb() + le.idb(1) + le.epb(0, 9_000_000, b"c"))  # fmt: skip
    reader = PcapngReader(io.BytesIO(blob))
    got = [(d, i.interface, i.linktype, i.ts_sec) for d, i in reader]
    assert got == [(b"a", 1, 113, 5), (b"b", 2, 101, 7), (b"c", 3, 1, 9)]
    assert [(i.id, i.local_id, i.section) for i in reader.interfaces] == [
        (0, 0, 0), (1, 1, 0), (2, 0, 1), (3, 0, 2)
    ]  # fmt: skip
    assert [s.byte_order for s in reader.sections] == ["little", "big", "little"]
    assert [reader.linktype_of(n) for n in range(4)] == [1, 113, 101, 1]


@pytest.mark.parametrize("chunk", [5, 13, 64, 1000])
def test_chunk_boundaries_do_not_change_packets(chunk):
    blob = every_block_file("big")
    whole = list(PcapngReader(io.BytesIO(blob)))
    assert list(PcapngReader(io.BytesIO(blob), chunk_size=chunk)) == whole
    b = Builder()
    many = b.shb() + b.idb() + b"".join(b.epb(0, i * 999_983, bytes([i]) * i) for i in range(200))
    expected = list(PcapngReader(io.BytesIO(many), chunk_size=1 << 20))
    assert list(PcapngReader(io.BytesIO(many), chunk_size=chunk)) == expected
    assert [i.exact_timestamp for _, i in expected[:3]] == [
        0,
        Fraction(999_983, 10**6),
        Fraction(1_999_966, 10**6),
    ]


def test_timestamp_cache_handles_seconds_across_the_high_word():
    b = Builder()
    base = (1 << 32) - 3  # microseconds just below a high-word boundary
    units = [base, base + 1, base + 2, base + 3, base + 4, base + 1_000_000, 5 << 32]
    blob = b.shb() + b.idb() + b"".join(b.epb(0, u, b"x") for u in units)
    got = [(i.ts_sec, i.ts_frac) for _, i in PcapngReader(io.BytesIO(blob))]
    assert got == [divmod(u, 10**6) for u in units]


@pytest.mark.parametrize("order", ["little", "big"])
@pytest.mark.parametrize("target", ["little", "big"])
def test_writer_round_trip_keeps_interfaces_and_comments(order, target):
    reader = PcapngReader(io.BytesIO(every_block_file(order)))
    packets = list(reader)
    out = io.BytesIO()
    with PcapngWriter(out, reader.interfaces, comments=reader.comments, byte_order=target) as w:
        for data, info in packets:
            w.write(data, info)
    again = PcapngReader(io.BytesIO(out.getvalue()))
    assert list(again) == packets
    assert again.comments == ["section comment"] and again.byte_order == target
    assert [(i.linktype, i.snaplen, i.tsresol, i.tsoffset, i.name) for i in again.interfaces] == [
        (i.linktype, i.snaplen, i.tsresol, i.tsoffset, i.name) for i in reader.interfaces
    ]


def test_writer_adds_interfaces_for_capture_infos(tmp_path):
    path = tmp_path / "x.pcapng"
    infos = [CaptureInfo(1, 5, 10**9, 1, 1, 0, 1), CaptureInfo(2, 7, 10**6, 1, 9, 1, 113, "hi")]
    with PcapngWriter(path) as w:
        for info in infos:
            w.write(b"z", info)
    assert detect_format(path) == "pcapng"
    reader = open_records(path)
    assert isinstance(reader, PcapngReader)
    assert [i for _, i in reader] == infos
    assert [i.tsresol for i in reader.interfaces] == [10**9, 10**6]


def test_writer_with_explicit_interface_and_bare_timestamps():
    out = io.BytesIO()
    with PcapngWriter(out) as w:
        lo = w.add_interface(0, 65535, name="lo", tsresol=0x80 | 10, tsoffset=-5)
        w.write(b"abc", Fraction(11, 4), interface=lo, comment="note")
        with pytest.raises(CaptureError, match="no interface 3"):
            w.write(b"abc", 1.0, interface=3)
    (data, info), = PcapngReader(io.BytesIO(out.getvalue()))  # fmt: skip
    assert info.exact_timestamp == Fraction(11, 4) and info.ts_resolution == 1024
    assert (data, info.linktype, info.comment) == (b"abc", 0, "note")


def test_writer_is_atomic(tmp_path):
    path = tmp_path / "y.pcapng"
    with pytest.raises(ValueError):
        with PcapngWriter(path) as w:
            w.write(b"a", 1.0)
            raise ValueError
    assert not path.exists() and list(tmp_path.iterdir()) == []


def corrupt(blob: bytes, offset: int, value: bytes) -> bytes:
    return blob[:offset] + value + blob[offset + len(value) :]


def three_packets() -> tuple[bytes, list[int]]:
    b = Builder()
    blob, starts = b.shb() + b.idb(), []
    for n in range(3):
        starts.append(len(blob))
        blob += b.epb(0, n, b"packet%d" % n)
    return blob, starts


def collect(blob: bytes, **kw) -> tuple[list, CaptureError]:
    got = []
    with pytest.raises(CaptureError) as err:
        for record in PcapngReader(io.BytesIO(blob), **kw):
            got.append(record)
    return got, err.value


def test_truncated_file_delivers_packets_then_fails():
    blob, starts = three_packets()
    got, err = collect(blob[: starts[2] + 10])
    assert len(got) == 2 and err.record == 3 and err.offset == starts[2]
    assert "middle of a block" in err.message


def test_bad_trailer_in_fast_path_is_caught():
    blob, starts = three_packets()
    got, err = collect(corrupt(blob, starts[2] - 4, b"\x99\0\0\0"))
    assert len(got) <= 2 and "trailing length" in err.message
    assert err.offset == starts[2] - 4
    got, err = collect(corrupt(blob, len(blob) - 4, b"\x99\0\0\0"))  # the very last block
    assert len(got) <= 3 and "trailing length" in err.message


@pytest.mark.parametrize("field,value,match", [
    (8, b"\x05\0\0\0", "interface 5"),                 # interface id
    (20, b"\xff\xff\xff\x00", "more than the maximum"),  # caplen huge
    (20, b"\x40\0\0\0", "does not fit"),               # caplen past the block
    (4, b"\x0e\0\0\0", "invalid length"),              # block length not a multiple of 4
])  # fmt: skip
def test_damaged_epb_fields(field, value, match):
    blob, starts = three_packets()
    got, err = collect(corrupt(blob, starts[1] + field, value))
    assert len(got) == 1 and match in err.message and err.record == 2


def test_option_overrun_is_reported():
    b = Builder()
    blob = b.shb() + b.idb() + b.epb(0, 1, b"data", None, (1, b"comment"))
    opt = blob.index(b"comment") - 4
    got, err = collect(corrupt(blob, opt + 2, b"\xff\x00"))
    assert got == [] and "runs past the end" in err.message and err.offset == opt


@pytest.mark.parametrize("blob,match", [
    (Builder().idb(), "not a pcapng file"),
    (Builder().shb(version=(2, 0)), "version 2.0"),
    (Builder().shb()[:8] + b"\x01\x02\x03\x04", "byte-order magic"),
    (Builder().shb()[:10], "first section header"),
])  # fmt: skip
def test_bad_section_headers(blob, match):
    with pytest.raises(CaptureError, match=match):
        list(PcapngReader(io.BytesIO(blob)))


def test_huge_block_length_is_refused_before_reading_it():
    b = Builder()
    blob = b.shb() + struct.pack("<II", 0x777, 0x7FFFFFF0) + b"x" * 20
    got, err = collect(blob)
    assert "more than the maximum" in err.message and err.offset == len(b.shb()) + 4


def test_spb_obeys_the_interface_snaplen():
    b = Builder()
    blob = b.shb() + b.idb(1, 4) + b.spb(b"abcdefgh", 8)
    (data, info), = PcapngReader(io.BytesIO(blob))  # fmt: skip
    assert data == b"abcd" and (info.caplen, info.length) == (4, 8)


def test_block_constants_are_the_registry_values():
    assert (pcapng.SHB, pcapng.EPB, pcapng.DSB, pcapng.CB, pcapng.DCB) == (
        0x0A0D0D0A, 6, 0x0A, 0xBAD, 0x40000BAD
    )  # fmt: skip


def test_writer_refuses_a_packet_of_another_link_type_than_its_interface():
    """Merging an Ethernet and a raw-IP capture into interface 0 would mislabel packets."""
    out = io.BytesIO()
    with PcapngWriter(out) as w:
        w.write(b"eth", CaptureInfo(1, 0, 10**6, 3, 3, 0, 1))
        with pytest.raises(CaptureError, match="interface 0 is link type 1, this packet's is 101"):
            w.write(b"raw", CaptureInfo(2, 0, 10**6, 3, 3, 0, 101))
        raw = w.add_interface(101, tsresol=6)
        w.write(b"raw", CaptureInfo(2, 0, 10**6, 3, 3, 0, 101), interface=raw)
    infos = [i for _, i in PcapngReader(io.BytesIO(out.getvalue()))]
    assert [(i.interface, i.linktype) for i in infos] == [(0, 1), (1, 101)]


def test_a_simple_packet_cut_short_is_written_as_an_enhanced_one():
    """An SPB's captured length is min(original length, snaplen): 61 of 100 bytes with
    snaplen 0 cannot be one, so the writer uses an EPB and the bytes read back exactly."""
    out = io.BytesIO()
    with PcapngWriter(out) as w:
        w.write(bytes(range(61)), SimplePacketInfo(0, 0, 10**6, 61, 100, 0, 1))
        w.write(b"full", SimplePacketInfo(0, 0, 10**6, 4, 4, 0, 1))
    blocks = [type(b).__name__ for b in PcapngReader(io.BytesIO(out.getvalue())).blocks()]
    assert blocks.count("PacketBlock") == 2
    records = list(PcapngReader(io.BytesIO(out.getvalue())))
    assert [(d, i.caplen, i.length) for d, i in records] == [
        (bytes(range(61)), 61, 100), (b"full", 4, 4)]


def test_a_comment_given_in_options_is_not_written_twice():
    out = io.BytesIO()
    with PcapngWriter(out) as w:
        w.write(b"x", CaptureInfo(1, 0, 10**6, 1, 1, 0, 1, "note"),
                options=[(pcapng.OPT_COMMENT, b"note")])
    (_, info), = PcapngReader(io.BytesIO(out.getvalue()))  # fmt: skip
    assert info.comment == "note"


def test_an_enhanced_packet_block_of_a_length_not_a_multiple_of_4_is_damage():
    out = io.BytesIO()
    with PcapngWriter(out) as w:
        w.write(b"ab", CaptureInfo(1, 0, 10**6, 2, 2, 0, 1))
        w.write(b"cd", CaptureInfo(2, 0, 10**6, 2, 2, 0, 1))
    blob = bytearray(out.getvalue())
    epb = blob.index(struct.pack("<I", 6), 28)  # the first EPB's type, after SHB and IDB
    struct.pack_into("<I", blob, epb + 4, 34)  # 36 -> 34: not a multiple of 4
    with pytest.raises(CaptureError, match="invalid length 34"):
        list(PcapngReader(io.BytesIO(bytes(blob))))
