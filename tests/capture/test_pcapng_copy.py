"""Copying pcapng files: packet options, sections, interfaces and the other blocks survive.

Every copy is read back with pktspec's own reader and compared block by block with the input:
bytes, timestamps, interfaces, options, section headers, name resolution, statistics,
secrets and custom blocks.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import pickle
import struct

import pytest

import pktspec
from pktspec.capture.pcap import PcapReader, PcapWriter
from pktspec.capture.pcapng import (
    Block,
    PacketBlock,
    PcapngPacketInfo,
    PcapngReader,
    PcapngWriter,
    SimplePacketInfo,
)
from pktspec.errors import CaptureError
from pktspec.runtime.metadata import CaptureInfo
from tests.capture.test_pcapng import Builder
from tests.conftest import CAPTURES, corpus_captures, corpus_or_skip

P = {"little": "<", "big": ">"}
PCAPNGS = [n for n in corpus_captures("") if n.endswith(".pcapng") and not n.startswith("badfile")]
# Blocks kept as they were except that an SPB holding more bytes than its interface's snaplen
# is written with the snaplen bytes every reader (tshark too) takes from it.
SPB_BEYOND_SNAPLEN = {"fmt__hk-be-test102-all-blocks.pcapng", "fmt__hk-le-test102-all-blocks.pcapng"}


def described(block: Block) -> tuple:
    """Everything a block says except where it was in its file."""
    fields = {f.name: getattr(block, f.name) for f in dataclasses.fields(block)}
    del fields["offset"]
    info = fields.pop("info", None)
    if info is not None:
        fields["info"] = (type(info).__name__, tuple(info), info.options,
                          getattr(info, "byte_order", None))  # fmt: skip
    return type(block).__name__, fields


def copy_all(blob: bytes, **kw) -> bytes:
    reader = PcapngReader(io.BytesIO(blob))
    out = io.BytesIO()
    with PcapngWriter(out, source=reader, **kw) as writer:
        for data, info in reader:
            writer.write(data, info)
    return out.getvalue()


def blocks(blob: bytes) -> list[tuple]:
    return [described(b) for b in PcapngReader(io.BytesIO(blob)).blocks()]


def options_file() -> bytes:
    """Three sections (little, big, little) with every kind of block and packet option."""
    out = b""
    for order, tag in (("little", b"A"), ("big", b"B"), ("little", b"C")):
        b, p = Builder(order), P[order]
        custom = struct.pack(p + "I", 32473)  # a custom option starts with its PEN
        out += b"".join([
            b.shb((2, b"hw " + tag), (3, b"os " + tag), (4, b"app " + tag), (1, b"shb " + tag),
                  (2989, custom + b"shb custom")),
            b.idb(1, 96, (2, b"eth0"), (9, b"\x09"), (8, struct.pack(p + "Q", 10**9))),
            b.nrb(),
            b.epb(0, 1_600_000_000_000_000_001, b"eth frame " + tag, 200,
                  (1, b"first comment"), (2, struct.pack(p + "I", 0x0000_0001 | 3 << 5)),
                  (3, b"\x02" + bytes(range(16))), (4, struct.pack(p + "Q", 7)),
                  (5, struct.pack(p + "Q", 0x0102030405060708)), (6, struct.pack(p + "I", 3)),
                  (7, b"\x01" + struct.pack(p + "Q", 2)), (7, b"\x00hw"),
                  (2988, custom + b"copyable text"), (2989, custom + b"copyable bytes"),
                  (19372, custom + b"do not copy"), (19373, custom + b"do not copy bytes"),
                  (0x8123, b"local use"), (1, b"second comment")),
            b.idb(101, 0, (2, b"tun0")),
            b.custom(pen=32473, data=b"copy me " + tag),
            b.custom(0x40000BAD, data=b"do not copy " + tag),
            b.epb(1, 5_000_000, b"raw ip " + tag),
            b.spb(b"simple " + tag * 89, 300),  # snaplen 96 of 300 bytes
            b.dsb(b"CLIENT_RANDOM " + tag + b"\n"),
            b.isb(1, 9_000_000),
            b.block(0x00000777, b"unknown " + tag),
        ])  # fmt: skip
    return out


@pytest.mark.parametrize("name", PCAPNGS or ["(corpus absent)"])
def test_an_unfiltered_corpus_copy_keeps_every_block(name):
    corpus_or_skip()
    blob = (CAPTURES / name).read_bytes()
    copied = copy_all(blob)
    assert blocks(copied) == blocks(blob)
    if name in SPB_BEYOND_SNAPLEN:
        assert len(copied) < len(blob)
    else:  # written as the tools that made them wrote them: byte for byte
        assert copied == blob


@pytest.mark.parametrize("name", PCAPNGS or ["(corpus absent)"])
def test_corpus_packets_read_back_with_their_options(name):
    corpus_or_skip()
    reader = PcapngReader(CAPTURES / name)
    records = list(reader)
    out = io.BytesIO()
    with PcapngWriter(out, source=reader) as writer:
        for data, info in records:
            writer.write(data, info)
    back = list(PcapngReader(io.BytesIO(out.getvalue())))
    assert [(d, tuple(i), i.options, type(i)) for d, i in back] == [
        (d, tuple(i), i.options, type(i)) for d, i in records
    ]


def test_every_option_and_block_of_a_mixed_endian_file_is_copied():
    blob = options_file()
    assert copy_all(blob) == blob  # the builder writes blocks as the writer does
    reader = PcapngReader(io.BytesIO(blob))
    (_, eth), (_, raw), (_, spb), *_ = records = list(reader)
    assert len(records) == 9
    assert [s.byte_order for s in reader.sections] == ["little", "big", "little"]
    for (_, info), order in zip(records[::3], ["little", "big", "little"], strict=True):
        assert isinstance(info, PcapngPacketInfo) and info.byte_order == order
        assert info.comment == "first comment\nsecond comment"
        assert (info.flags, info.dropcount, info.packet_id, info.queue) == (
            1 | 3 << 5, 7, 0x0102030405060708, 3)
        assert info.hashes == [b"\x02" + bytes(range(16))]
        assert info.verdicts == [b"\x01" + struct.pack(P[order] + "Q", 2), b"\x00hw"]
        assert [c for c, _ in info.options] == [1, 2, 3, 4, 5, 6, 7, 7, 2988, 2989, 19372,
                                                19373, 0x8123, 1]  # fmt: skip
    assert type(raw) is CaptureInfo and raw.options == ()
    assert isinstance(spb, SimplePacketInfo) and spb.options == ()


def test_a_filtered_copy_keeps_sections_interfaces_and_local_numbers():
    blob = options_file()
    reader = PcapngReader(io.BytesIO(blob))
    out = io.BytesIO()
    with PcapngWriter(out, source=reader) as writer:
        kept = [(d, i) for d, i in reader if d.startswith(b"raw ip") and not d.endswith(b"A")]
        for data, info in kept:
            writer.write(data, info)
    again = PcapngReader(io.BytesIO(out.getvalue()))
    back = list(again)
    assert [(d, tuple(i)) for d, i in back] == [(d, tuple(i)) for d, i in kept]
    assert [(i.interface, i.linktype) for _, i in back] == [(3, 101), (5, 101)]
    # every section and interface is there, numbered as in the input
    ours = [b for b in blocks(out.getvalue()) if b[0] != "PacketBlock"]
    theirs = [b for b in blocks(blob) if b[0] != "PacketBlock"]
    assert ours == theirs
    assert [(i.id, i.local_id, i.section, i.name) for i in again.interfaces] == [
        (0, 0, 0, "eth0"), (1, 1, 0, "tun0"), (2, 0, 1, "eth0"), (3, 1, 1, "tun0"),
        (4, 0, 2, "eth0"), (5, 1, 2, "tun0"),
    ]  # fmt: skip
    assert [(s.byte_order, s.hardware, s.os, s.userappl, s.comments) for s in again.sections] == [
        ("little", "hw A", "os A", "app A", ["shb A"]),
        ("big", "hw B", "os B", "app B", ["shb B"]),
        ("little", "hw C", "os C", "app C", ["shb C"]),
    ]


def test_blocks_after_the_last_packet_are_written_on_close_and_only_those_read():
    b = Builder()
    blob = b.shb() + b.idb() + b.epb(0, 1, b"one") + b.isb(0, 2) + b.epb(0, 3, b"two") + b.isb(0, 4)
    reader = PcapngReader(io.BytesIO(blob))
    out = io.BytesIO()
    with PcapngWriter(out, source=reader) as writer:
        for data, info in reader:
            writer.write(data, info)
    assert out.getvalue() == blob
    reader = PcapngReader(io.BytesIO(blob))  # stop after one packet, as decode -c 1 does
    out = io.BytesIO()
    with PcapngWriter(out, source=reader) as writer:
        data, info = next(iter(reader))
        writer.write(data, info)
    assert out.getvalue() == b.shb() + b.idb() + b.epb(0, 1, b"one")


def test_a_copy_of_a_file_without_packets_keeps_its_structure():
    blob = options_file()
    first = next(b for b in PcapngReader(io.BytesIO(blob)).blocks() if isinstance(b, PacketBlock))
    blob = blob[: first.offset]
    reader = PcapngReader(io.BytesIO(blob))
    out = io.BytesIO()
    PcapngWriter(out, source=reader).close()
    assert out.getvalue() == blob


def test_the_calls_decode_w_makes_copy_the_file(tmp_path):
    """decode -w: a writer given the PacketSource, add_interface(reader's interface) for each
    packet's interface, write(bytes, metadata, interface=that number)."""
    path, target = tmp_path / "in.pcapng", tmp_path / "out.pcapng"
    path.write_bytes(options_file())
    with pktspec.open(path) as source:
        writer = PcapngWriter(target, source=source)
        interfaces = source.reader.interfaces
        for packet in source:
            info = packet.metadata
            ours = writer.add_interface(interfaces[info.interface])
            writer.write(bytes(packet.data), info, interface=ours)
        writer.close()
    assert target.read_bytes() == path.read_bytes()


def test_uncopyable_custom_options_and_blocks_can_be_left_out():
    blob = options_file()
    dropped = copy_all(blob, drop_uncopyable=True)
    reader = PcapngReader(io.BytesIO(dropped))
    infos = [i for _, i in reader]
    assert [c for c, _ in infos[0].options] == [1, 2, 3, 4, 5, 6, 7, 7, 2988, 2989, 0x8123, 1]
    kinds = [type(b).__name__ for b in reader.other_blocks]
    assert kinds.count("CustomBlock") == 3
    assert all(b.copyable for b in reader.other_blocks if type(b).__name__ == "CustomBlock")


@pytest.mark.parametrize("target", ["little", "big"])
def test_a_single_section_writer_converts_options_to_its_byte_order(target):
    reader = PcapngReader(io.BytesIO(options_file()))
    records = [(d, i) for d, i in reader if isinstance(i, PcapngPacketInfo)]
    out = io.BytesIO()
    with PcapngWriter(out, byte_order=target) as writer:
        for data, info in records:
            writer.write(data, info, interface=0)
    back = list(PcapngReader(io.BytesIO(out.getvalue())))
    assert [d for d, _ in back] == [d for d, _ in records]
    for (_, ours), (_, theirs) in zip(back, records, strict=True):
        assert ours.byte_order == target
        assert (ours.flags, ours.dropcount, ours.packet_id, ours.queue, ours.hashes) == (
            theirs.flags, theirs.dropcount, theirs.packet_id, theirs.queue, theirs.hashes)
        assert ours.comment == theirs.comment
        pens = [struct.unpack(P[target] + "I", v[:4])[0] for c, v in ours.options
                if c in (2988, 2989, 19372, 19373)]
        assert pens == [32473] * 4


def test_a_changed_comment_replaces_the_comment_options_only():
    reader = PcapngReader(io.BytesIO(options_file()))
    data, info = next(iter(reader))
    out = io.BytesIO()
    with PcapngWriter(out) as writer:
        writer.write(data, info.replace(comment="edited"))
        writer.write(data, info.replace(comment=None))
        writer.write(data, info, comment="given")
        writer.write(data, info)
    edited, removed, given, same = [i for _, i in PcapngReader(io.BytesIO(out.getvalue()))]
    others = [(c, v) for c, v in info.options if c != 1]
    assert edited.comment == "edited" and edited.options == (*others, (1, b"edited"))
    assert removed.comment is None and removed.options == tuple(others)
    assert given.comment == "given" and given.options == (*others, (1, b"given"))
    assert same.options == info.options and same.comment == "first comment\nsecond comment"


def test_packet_info_with_options_is_an_immutable_capture_info():
    data, info = next(iter(PcapngReader(io.BytesIO(options_file()))))
    assert info == CaptureInfo(*info) and info.options != ()  # equality: the eight values
    for again in (pickle.loads(pickle.dumps(info)), copy.copy(info), copy.deepcopy(info)):
        assert type(again) is PcapngPacketInfo
        assert (tuple(again), again.options, again.byte_order) == (
            tuple(info), info.options, info.byte_order)
    with pytest.raises(AttributeError, match="immutable"):
        info.options = ()  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field 'colour'"):
        info.replace(colour=1)
    assert info.replace(ts_sec=5).options == info.options
    assert "options=((1, b'first comment')" in repr(info)
    assert info.option(6) == struct.pack("<I", 3) and info.option(99) is None


def test_an_obsolete_packet_block_is_written_as_an_enhanced_one_with_its_drop_count():
    b = Builder("big")
    blob = b.shb() + b.idb() + b.pb(0, 4, 1_000_000, b"old") + b.pb(0, 0xFFFF, 2_000_000, b"new")
    reader = PcapngReader(io.BytesIO(blob))
    (_, dropped), (_, unknown) = records = list(reader)
    assert dropped.dropcount == 4 and unknown.options == ()
    out = io.BytesIO()
    with PcapngWriter(out, source=PcapngReader(io.BytesIO(blob))) as writer:
        for data, info in records:
            writer.write(data, info, interface=0)
    assert [(type(b).__name__, b.type) for b in PcapngReader(io.BytesIO(out.getvalue())).blocks()
            if isinstance(b, PacketBlock)] == [("PacketBlock", 6), ("PacketBlock", 6)]  # fmt: skip
    back = list(PcapngReader(io.BytesIO(out.getvalue())))
    assert [(d, tuple(i), i.dropcount if i.options else None) for d, i in back] == [
        (b"old", tuple(dropped), 4), (b"new", tuple(unknown), None)]


def test_sections_by_hand_and_their_interfaces():
    out = io.BytesIO()
    with PcapngWriter(out, byte_order="big") as writer:
        first = writer.add_interface(1, name="eth0")
        writer.write(b"a", CaptureInfo(1, 0, 10**6, 1, 1))
        assert writer.new_section(comments=["second"], hardware="box", byte_order="little") == 1
        with pytest.raises(CaptureError, match="interface 0 belongs to section 0"):
            writer.write(b"b", 2.0, interface=first)
        second = writer.add_interface(113, name="any")
        writer.write(b"b", CaptureInfo(2, 0, 10**6, 1, 1, 0, 113), interface=second)
    reader = PcapngReader(io.BytesIO(out.getvalue()))
    got = [(d, i.interface, i.linktype) for d, i in reader]
    assert got == [(b"a", 0, 1), (b"b", 1, 113)]
    assert [(s.byte_order, s.comments, s.hardware, s.userappl) for s in reader.sections] == [
        ("big", [], None, "pktspec"), ("little", ["second"], "box", "pktspec")]
    assert [(i.local_id, i.section, i.name) for i in reader.interfaces] == [
        (0, 0, "eth0"), (0, 1, "any")]


def test_write_block_copies_a_file_block_by_block():
    """Without a source, write_block() of every block read gives the same file too (the
    first section header takes the place of the writer's own)."""
    blob = options_file()
    out = io.BytesIO()
    with PcapngWriter(out) as writer:
        for block in PcapngReader(io.BytesIO(blob)).blocks():
            writer.write_block(block)
    assert out.getvalue() == blob


def test_a_writer_with_a_source_refuses_what_would_break_the_copy():
    reader = PcapngReader(io.BytesIO(options_file()))
    records = list(reader)
    with PcapngWriter(io.BytesIO(), source=reader) as writer:
        with pytest.raises(CaptureError, match="copies its sections"):
            writer.new_section()
        with pytest.raises(CaptureError, match="interface 9 is not one of the source's 6"):
            writer.write(b"x", CaptureInfo(1, 0, 10**6, 1, 1, 9, 1))
        writer.write(*records[-1])  # the last section begins
        with pytest.raises(CaptureError, match="interface 0 belongs to section 0, but section 2"):
            writer.write(*records[0])


def test_a_failed_copy_leaves_nothing_behind(tmp_path):
    b = Builder()
    blob = b.shb() + b.idb() + b.epb(0, 1, b"one") + b.epb(0, 2, b"two")[:-6]  # cut short
    target = tmp_path / "out.pcapng"
    reader = PcapngReader(io.BytesIO(blob))
    with pytest.raises(CaptureError, match="middle of a block"):
        with PcapngWriter(target, source=reader) as writer:
            for data, info in reader:
                writer.write(data, info)
    assert list(tmp_path.iterdir()) == []
    reader = PcapngReader(io.BytesIO(blob))  # decode -w keeps what was read before damage
    writer = PcapngWriter(target, source=reader)
    with pytest.raises(CaptureError):
        for data, info in reader:
            writer.write(data, info)
    writer.close()
    assert target.read_bytes() == b.shb() + b.idb() + b.epb(0, 1, b"one")


def test_a_pcap_source_is_ignored_and_pcap_files_still_round_trip(tmp_path):
    pcap = tmp_path / "x.pcap"
    infos = [CaptureInfo(1, 5, 10**6, 3, 3), CaptureInfo(2, 6, 10**6, 3, 9)]
    with PcapWriter(pcap) as writer:
        for info in infos:
            writer.write(b"abc", info)
    assert [i for _, i in PcapReader(pcap)] == infos
    out = io.BytesIO()
    reader = PcapReader(pcap)
    with PcapngWriter(out, source=reader) as writer:
        for data, info in reader:
            writer.write(data, info)
    assert [(d, i) for d, i in PcapngReader(io.BytesIO(out.getvalue()))] == [
        (b"abc", i) for i in infos]


def test_write_block_converts_blocks_of_another_byte_order():
    """Statistics, name resolution, secrets and custom blocks read from a big-endian section
    and written into a little-endian one keep their values; an unknown block cannot be
    converted and says so."""
    b = Builder("big")
    blob = (b.shb() + b.idb(1, 0, (2, b"eth0")) + b.isb(0, 0x1_0000_0002) + b.nrb()
            + b.dsb(b"keys\n") + b.custom(pen=32473, data=b"vendor") + b.block(0x777, b"?"))
    theirs = list(PcapngReader(io.BytesIO(blob)).blocks())
    assert {x.byte_order for x in theirs} == {"big"}
    out = io.BytesIO()
    with PcapngWriter(out, byte_order="little") as writer:
        for block in theirs[1:-1]:
            writer.write_block(block)
        with pytest.raises(CaptureError, match="0x00000777 cannot be converted from big-endian"):
            writer.write_block(theirs[-1])
    ours = list(PcapngReader(io.BytesIO(out.getvalue())).blocks())
    assert {x.byte_order for x in ours} == {"little"}
    same = {"byte_order": None, "options": None}  # numeric option bytes are swapped
    assert [described(x)[1] | same for x in ours[1:]] == [
        described(x)[1] | same for x in theirs[1:-1]]
    isb = ours[2]
    assert (isb.ts_units, isb.counters, isb.interface) == (0x1_0000_0002, {"ifrecv": 77}, 0)
    assert isb.options == [(4, struct.pack("<Q", 77))]
    assert [x.options for x in ours[3:]] == [x.options for x in theirs[3:-1]]  # no numbers


@pytest.mark.parametrize("order", ["little", "big"])
def test_an_options_area_with_only_its_end_marker_means_no_options(order):
    """Some writers end every EPB with opt_endofopt: that is a plain CaptureInfo, in the
    packet loop and in the block decoder alike, and a copy reads back the same."""
    b = Builder(order)
    marker = struct.pack(P[order] + "HH", 0, 0)
    epb = b.epb(0, 5, b"data")
    size = len(epb) + 4
    epb = struct.pack(P[order] + "II", 6, size) + epb[8:-4] + marker + struct.pack(
        P[order] + "I", size)
    blob = b.shb() + b.idb() + epb + b.epb(0, 6, b"more", None, (1, b"note"))
    (_, bare), (_, noted) = records = list(PcapngReader(io.BytesIO(blob)))
    assert type(bare) is CaptureInfo and bare.options == () and bare.comment is None
    assert isinstance(noted, PcapngPacketInfo) and noted.options == ((1, b"note"),)
    block = next(x for x in PcapngReader(io.BytesIO(blob)).blocks() if isinstance(x, PacketBlock))
    assert type(block.info) is CaptureInfo and block.data == b"data"
    back = list(PcapngReader(io.BytesIO(copy_all(blob))))
    assert [(d, tuple(i), type(i), i.options) for d, i in back] == [
        (d, tuple(i), type(i), i.options) for d, i in records]
