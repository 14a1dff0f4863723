"""pcapng files: every standard block, several sections, per-interface link types and clocks.

A pcapng file is a sequence of blocks (type, length, body, length again). A Section Header
Block (SHB) opens each section and fixes its byte order, so one file may mix little- and
big-endian sections; Interface Description Blocks (IDB) declare the interfaces of their section
with a link type, snaplen and clock (if_tsresol, if_tsoffset); packets come in Enhanced (EPB),
Simple (SPB) or obsolete Packet Blocks. Name resolution, interface statistics, decryption
secrets and custom blocks carry the rest. ::

    with PcapngReader("trace.pcapng") as reader:
        for data, info in reader:                  # packets only, the fast path
            iface = reader.interfaces[info.interface]
            print(iface.name, iface.linktype, info.exact_timestamp, info.comment)

    for block in PcapngReader("trace.pcapng").blocks():   # every block, typed
        print(block)

``info.interface`` is an index into ``reader.interfaces``, which numbers the interfaces of all
sections one after the other (an EPB's own number is local to its section; tshark 4.0 prints
that local number as ``frame.interface_id``, and ``Interface.local_id`` keeps it). Packet
comments (opt_comment) become ``info.comment``, several joined by newlines. A packet with options
gets a :class:`PcapngPacketInfo`: ``info.options`` holds every option as read (flags, hashes,
drop count, packet id, queue, verdicts, custom ...; plain CaptureInfos have ``()``). An SPB
stores no timestamp: its packets get a :class:`SimplePacketInfo` with ``has_timestamp`` False
and 0 s. ``reader.sections``, ``reader.interfaces`` and ``reader.other_blocks`` (every block
read so far that is not a packet, in file order) are what a writer needs to copy the file's
structure: ``PcapngWriter(out, source=reader)``.

The packet loop reads big chunks and treats an EPB without options in a few operations;
every other block goes through the slower, complete block decoder below. Damage raises
:class:`~pktspec.errors.CaptureError` with the byte offset and the number of the packet
being read, after the packets before it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pktspec.capture.files import (
    CaptureInput,
    Source,
    as_input,
)
from pktspec.capture.pcap import CHUNK_SIZE, MAX_CAPLEN, ByteOrder
from pktspec.errors import CaptureError
from pktspec.runtime.metadata import CaptureInfo

if TYPE_CHECKING:
    from collections.abc import Iterator

SHB = 0x0A0D0D0A
IDB = 0x00000001
PB = 0x00000002
SPB = 0x00000003
NRB = 0x00000004
ISB = 0x00000005
EPB = 0x00000006
DSB = 0x0000000A
CB = 0x00000BAD
DCB = 0x40000BAD
BYTE_ORDER_MAGIC = 0x1A2B3C4D

OPT_ENDOFOPT = 0
OPT_COMMENT = 1
IF_NAME, IF_DESCRIPTION, IF_TSRESOL, IF_FILTER = 2, 3, 9, 11
IF_OS, IF_FCSLEN, IF_TSOFFSET = 12, 13, 14
SHB_HARDWARE, SHB_OS, SHB_USERAPPL = 2, 3, 4
EPB_FLAGS, EPB_HASH, EPB_DROPCOUNT, EPB_PACKETID, EPB_QUEUE, EPB_VERDICT = 2, 3, 4, 5, 6, 7
CUSTOM_OPTIONS = frozenset((2988, 2989, 19372, 19373))
#: Custom options a tool that rewrites a file must not copy (the spec; editcap drops them too).
UNCOPYABLE_OPTIONS = frozenset((19372, 19373))

#: How many blocks the constructor reads ahead looking for interfaces.
LOOKAHEAD = 64
_PACKET_TYPES = frozenset((EPB, SPB, PB))
#: Blocks other than packets are read whole; this bounds what a damaged length can cost.
MAX_BLOCK = 16 << 20

_PREFIX: dict[str, str] = {"little": "<", "big": ">"}
_SHB_MAGIC = {b"\x4d\x3c\x2b\x1a": "little", b"\x1a\x2b\x3c\x4d": "big"}

# Numeric option values, by (block type, option code): what must be byte-swapped when an
# option read from a section of one byte order is written into a file of the other.
_NUMERIC_OPTIONS: dict[tuple[int, int], str] = {
    (IDB, 8): "Q", (IDB, 10): "i", (IDB, IF_TSOFFSET): "q", (IDB, 16): "Q", (IDB, 17): "Q",
    (EPB, 2): "I", (EPB, 4): "Q", (EPB, 5): "Q", (EPB, 6): "I",
    (ISB, 2): "II", (ISB, 3): "II", (ISB, 4): "Q", (ISB, 5): "Q", (ISB, 6): "Q",
    (ISB, 7): "Q", (ISB, 8): "Q",
}  # fmt: skip

Options = list[tuple[int, bytes]]


_new_info = tuple.__new__  # CaptureInfo is a tuple: made in C, once per packet
_INFO_FIELDS = ("ts_sec", "ts_frac", "ts_resolution", "caplen", "length", "interface",
                "linktype", "comment")


class SimplePacketInfo(CaptureInfo):
    """CaptureInfo of a packet from a Simple Packet Block: the file has no timestamp for it.

    The time fields are 0 so arithmetic still works; check ``has_timestamp`` before trusting
    them (tshark leaves ``frame.time_epoch`` empty for these packets).
    """

    __slots__ = ()
    has_timestamp = False


class PcapngPacketInfo(CaptureInfo):
    """CaptureInfo of a pcapng packet that has options (EPB, or an obsolete PB).

    The eight CaptureInfo values are the tuple (equality and hashing compare those, as for any
    CaptureInfo); ``options`` holds every option of the block as read, ``(code, raw value)``
    in file order, comments included, and ``byte_order`` the byte order of its section, which
    numeric values are in. The properties decode the standard ones. A PB's 16-bit drop count
    is given as epb_dropcount (4), the option an EPB written for it carries.
    ``PcapngWriter`` writes the options back (numeric ones byte-swapped when needed).
    """

    options: tuple[tuple[int, bytes], ...]
    byte_order: ByteOrder

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"CaptureInfo is immutable: use replace({name}=...)")

    def replace(self, **changes: Any) -> PcapngPacketInfo:
        """A copy with some fields changed; ``options`` and ``byte_order`` may change too.
        A changed ``comment`` is what a writer writes (in place of the comment options)."""
        extra = {"options": changes.pop("options", self.options),
                 "byte_order": changes.pop("byte_order", self.byte_order)}
        values = [changes.pop(name, value) for name, value in zip(_INFO_FIELDS, self, strict=True)]
        if changes:
            raise TypeError(f"CaptureInfo has no field {next(iter(changes))!r}")
        return _with_options(type(self), tuple(values), tuple(extra["options"]),
                             extra["byte_order"])

    def __repr__(self) -> str:
        return f"{CaptureInfo.__repr__(self)[:-1]}, options={self.options!r})"

    def option(self, code: int) -> bytes | None:
        """The first value of option ``code``, or None."""
        return next((v for c, v in self.options if c == code), None)

    def _number(self, code: int, fmt: str) -> int | None:
        value = self.option(code)
        if value is None or len(value) != struct.calcsize(fmt):
            return None
        return struct.unpack(_PREFIX[self.byte_order] + fmt, value)[0]

    @property
    def flags(self) -> int | None:
        """epb_flags: direction (bits 0-1), reception type (2-4), FCS length (5-8), errors."""
        return self._number(EPB_FLAGS, "I")

    @property
    def dropcount(self) -> int | None:
        """epb_dropcount: packets lost between this one and the one before."""
        return self._number(EPB_DROPCOUNT, "Q")

    @property
    def packet_id(self) -> int | None:
        return self._number(EPB_PACKETID, "Q")

    @property
    def queue(self) -> int | None:
        return self._number(EPB_QUEUE, "I")

    @property
    def hashes(self) -> list[bytes]:
        """epb_hash values: an algorithm byte, then the hash."""
        return [v for c, v in self.options if c == EPB_HASH]

    @property
    def verdicts(self) -> list[bytes]:
        """epb_verdict values: a type byte (0 hardware, 1 Linux eBPF TC, 2 XDP), then data."""
        return [v for c, v in self.options if c == EPB_VERDICT]


def _with_options(cls: type, values: tuple, options: tuple, byte_order: str) -> Any:
    info = _new_info(cls, values)
    attributes = info.__dict__  # set directly: __setattr__ refuses, update(**) costs more
    attributes["options"] = options
    attributes["byte_order"] = byte_order
    return info


# ---------------------------------------------------------------------------------- blocks


@dataclass
class Block:
    """A block as read: its type, where it starts in the file, its section, its options."""

    type: int
    offset: int
    section: int
    options: Options = field(default_factory=list, repr=False)

    @property
    def comments(self) -> list[str]:
        return [_text(v) for c, v in self.options if c == OPT_COMMENT]

    def option(self, code: int) -> bytes | None:
        """The first value of option ``code``, or None."""
        return next((v for c, v in self.options if c == code), None)


@dataclass
class SectionHeader(Block):
    byte_order: ByteOrder = "little"
    version: tuple[int, int] = (1, 0)
    section_length: int = -1

    hardware = property(lambda self: _opt_text(self, SHB_HARDWARE))
    os = property(lambda self: _opt_text(self, SHB_OS))
    userappl = property(lambda self: _opt_text(self, SHB_USERAPPL))


@dataclass
class Interface(Block):
    """An IDB: ``id`` numbers interfaces across sections, ``local_id`` within the section."""

    linktype: int = 1
    snaplen: int = 0
    id: int = 0
    local_id: int = 0
    byte_order: ByteOrder = "little"
    tsresol: int = 1_000_000
    tsoffset: int = 0

    name = property(lambda self: _opt_text(self, IF_NAME))
    description = property(lambda self: _opt_text(self, IF_DESCRIPTION))
    os = property(lambda self: _opt_text(self, IF_OS))

    @property
    def filter(self) -> bytes | None:
        return self.option(IF_FILTER)

    @property
    def fcslen(self) -> int | None:
        value = self.option(IF_FCSLEN)
        return value[0] if value else None


@dataclass
class PacketBlock(Block):
    """An EPB, SPB or obsolete PB, with the packet and its CaptureInfo."""

    interface: int = 0
    data: bytes = b""
    info: CaptureInfo | None = None
    drops: int | None = None
    byte_order: ByteOrder | None = None  # its section's, as read (None: made by hand)


@dataclass
class NameResolution(Block):
    """An NRB: ``records`` are (record type, raw value); ``entries`` decodes the addresses."""

    records: list[tuple[int, bytes]] = field(default_factory=list)
    byte_order: ByteOrder | None = None  # its section's, as read (None: made by hand)

    @property
    def entries(self) -> list[tuple[str, list[str]]]:
        """(address, names) for IPv4 (type 1) and IPv6 (type 2) records."""
        import ipaddress

        out = []
        for rtype, value in self.records:
            size = {1: 4, 2: 16}.get(rtype)
            if size and len(value) > size:
                names = [_text(n) for n in value[size:].split(b"\0") if n]
                out.append((str(ipaddress.ip_address(value[:size])), names))
        return out


@dataclass
class InterfaceStatistics(Block):
    """An ISB: ``interface`` numbers interfaces across sections, ``local_id`` is the block's."""

    interface: int = 0
    ts_units: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    local_id: int = 0
    byte_order: ByteOrder | None = None  # its section's, as read (None: made by hand)


@dataclass
class DecryptionSecrets(Block):
    """A DSB: TLS key log, WireGuard keys ... (``secrets_type`` says which)."""

    secrets_type: int = 0
    data: bytes = b""
    byte_order: ByteOrder | None = None  # its section's, as read (None: made by hand)


@dataclass
class CustomBlock(Block):
    """A vendor block (0x00000BAD copyable, 0x40000BAD not): PEN plus opaque bytes."""

    pen: int = 0
    data: bytes = b""
    byte_order: ByteOrder | None = None  # its section's, as read (None: made by hand)

    @property
    def copyable(self) -> bool:
        return self.type == CB


@dataclass
class UnknownBlock(Block):
    body: bytes = b""
    byte_order: ByteOrder | None = None  # its section's, as read (None: made by hand)


def _text(value: bytes) -> str:
    return value.rstrip(b"\0").decode("utf-8", "replace")


def _opt_text(block: Block, code: int) -> str | None:
    value = block.option(code)
    return None if value is None else _text(value)


def tsresol_units(code: int) -> int:
    """Clock ticks per second for an if_tsresol byte: 10**n, or 2**n when the top bit is set."""
    return 2 ** (code & 0x7F) if code & 0x80 else 10**code


def tsresol_code(units: int) -> int:
    """The if_tsresol byte for a clock of ``units`` ticks per second (9 if there is none)."""
    for code in range(20):
        if 10**code == units:
            return code
    if units > 0 and units & (units - 1) == 0 and units.bit_length() <= 128:
        return 0x80 | (units.bit_length() - 1)
    return 9


_ISB_COUNTERS = {4: "ifrecv", 5: "ifdrop", 6: "filteraccept", 7: "osdrop", 8: "usrdeliv"}


# ---------------------------------------------------------------------------------- reader


class _Codec:
    """The structs of one byte order; swapped whenever a section header says so."""

    def __init__(self, byte_order: ByteOrder) -> None:
        p = _PREFIX[byte_order]
        self.byte_order = byte_order
        self.prefix = p
        self.head = struct.Struct(p + "II").unpack_from
        self.epb = struct.Struct(p + "IIIIIII").unpack_from
        self.run = struct.Struct(p + "IIIIIIII").unpack_from
        self.u32 = struct.Struct(p + "I").unpack_from
        self.opt = struct.Struct(p + "HH").unpack_from


class PcapngReader:
    """Iterate a pcapng file as ``(data, CaptureInfo)`` packets, or as typed blocks.

    The constructor reads the blocks before the first packet (at most ``LOOKAHEAD`` of them),
    so ``interfaces`` and ``linktype_of`` answer before iterating in a typical file;
    interfaces declared later appear as the file is read. The file is read once: iterate it
    (packets) or call :meth:`blocks`, not both.
    """

    def __init__(
        self,
        source: Source | CaptureInput,
        *,
        max_caplen: int = MAX_CAPLEN,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self._input = as_input(source)
        self.path = self._input.path
        self.max_caplen = max_caplen
        self._chunk_size = chunk_size
        self.sections: list[SectionHeader] = []
        self.interfaces: list[Interface] = []
        #: Every block read so far other than packets (SHB, IDB, NRB, ISB, DSB, custom,
        #: unknown), in file order: what a writer copying this file's structure writes.
        self.other_blocks: list[Block] = []
        self._section_ifaces: list[Interface] = []
        self._codec = _Codec("little")
        self._buf, self._pos, self._base = b"", 0, 0
        self.records_read = 0
        self._iterator: Iterator[tuple[bytes, CaptureInfo]] | None = None
        try:
            self._lead = self._read_leading_blocks()
        except BaseException:
            self._input.close()
            raise

    @property
    def byte_order(self) -> ByteOrder:
        """The byte order of the section being read."""
        return self._codec.byte_order  # type: ignore[return-value]

    @property
    def comments(self) -> list[str]:
        """The section header comments (opt_comment of every SHB read so far)."""
        return [c for s in self.sections for c in s.comments]

    def linktype_of(self, interface: int) -> int:
        """The link type of interface ``interface`` (an index into ``interfaces``)."""
        if not 0 <= interface < len(self.interfaces):
            raise KeyError(f"no interface {interface} (file has {len(self.interfaces)} so far)")
        return self.interfaces[interface].linktype

    def _read_leading_blocks(self) -> list[Block]:
        """The first SHB (checked: this is the format test) and the blocks up to a packet."""
        head = self._input.read(12)
        self._buf = head
        if len(head) < 12 or head[:4] != b"\x0a\x0d\x0d\x0a":
            if head[:4] == b"\x0a\x0d\x0d\x0a":
                raise CaptureError("file ends inside the first section header", self.path, 0)
            raise CaptureError(f"not a pcapng file: starts with 0x{head[:4].hex()}", self.path, 0)
        if head[8:12] not in _SHB_MAGIC:
            raise CaptureError(
                f"section header byte-order magic 0x{head[8:12].hex()} is invalid", self.path, 8
            )
        lead: list[Block] = []
        while len(lead) < LOOKAHEAD:
            block = self._next_slow_block(_PACKET_TYPES)
            if block is None:
                break
            lead.append(block)
        return lead

    def _next_slow_block(self, stop_at: frozenset[int] = frozenset()) -> Block | None:
        """Decode the next block, unless its type is in ``stop_at``; None there or at the end."""
        while True:
            buf, pos = self._buf, self._pos
            if pos + 12 <= len(buf):
                btype = self._codec.head(buf, pos)[0]
                if btype in stop_at:
                    return None
                end = self._block_end(buf, pos, btype)
                if end <= len(buf):
                    block = self._decode(btype, buf, pos, end)
                    self._pos = end
                    if btype not in _PACKET_TYPES:
                        self.other_blocks.append(block)
                    return block
            if not self._fill():
                if self._pos < len(self._buf):
                    self._cut_short(self._buf, self._pos)
                return None

    def _fill(self) -> bool:
        """Append a chunk to the buffer, dropping what was consumed; False at end of file."""
        more = self._input.read(self._chunk_size)
        if not more:
            return False
        self._buf = self._buf[self._pos :] + more
        self._base += self._pos
        self._pos = 0
        return True

    def __iter__(self) -> Iterator[tuple[bytes, CaptureInfo]]:
        """The packets; iterating again continues where the last iteration stopped."""
        if self._iterator is None:
            self._iterator = self._packets()
        return self._iterator

    def blocks(self) -> Iterator[Block]:
        """Every block in file order as a typed object (custom and unknown blocks included)."""
        yield from self._lead
        self._lead = []
        while True:
            block = self._next_slow_block()
            if block is None:
                return
            if isinstance(block, PacketBlock):
                self.records_read += 1
            yield block

    def _packets(self) -> Iterator[tuple[bytes, CaptureInfo]]:
        """The hot loop: EPBs without options never leave it; everything else is decoded.

        Two tricks keep it within reach of the pcap loop: one unpack at ``pos - 4`` reads the
        previous block's trailing length together with this block's header and EPB fields,
        and the seconds are divided out once per second of capture, not once per packet.
        """
        try:
            self._lead = []
            info, limit, epb_type = CaptureInfo, self.max_caplen, EPB
            while True:
                run, order, optioned = self._codec.run, self._codec.byte_order, PcapngPacketInfo
                clocks = [(i.id, i.linktype, i.tsresol, i.tsoffset) for i in self._section_ifaces]
                count, buf, pos, end = self.records_read, self._buf, self._pos, len(self._buf)
                first = pos
                prev = self._codec.u32(buf, pos - 4)[0] if pos >= 4 else -1  # checked already
                c_if = c_high = -1
                c_lo = c_hi = c_sec = 0
                while pos + 28 <= end:
                    trailer, btype, blen, iface, high, low, caplen, length = run(buf, pos - 4)
                    stop = pos + blen
                    dstop = pos + 28 + caplen
                    if (
                        btype != epb_type
                        or blen & 3  # not a multiple of 4: the slow path says so
                        or trailer != prev
                        or stop > end
                        or dstop + 4 > stop
                        or caplen > limit
                        or iface >= len(clocks)
                    ):
                        break  # the slow path decodes it, or says what is wrong
                    gid, linktype, res, offset = clocks[iface]
                    if high == c_high and iface == c_if and c_lo <= low < c_hi:
                        sec, frac = c_sec, low - c_lo
                    else:  # a new second (c_lo may be negative: the second began in high - 1)
                        sec, frac = divmod(high << 32 | low, res)
                        c_if, c_high, c_lo, c_sec = iface, high, low - frac, sec
                        c_hi = c_lo + res
                    count += 1
                    if stop - dstop < 8:
                        yield buf[pos + 28 : dstop], _new_info(
                            info, (sec + offset, frac, res, caplen, length, gid, linktype, None))
                        pos, prev = stop, blen
                        continue
                    options = self._options(buf, (dstop + 3) & ~3, stop - 4)
                    if not options:  # only opt_endofopt, or padding
                        yield buf[pos + 28 : dstop], _new_info(
                            info, (sec + offset, frac, res, caplen, length, gid, linktype, None))
                    else:  # a PcapngPacketInfo, made here: a call per packet costs 5-10%
                        comment = None
                        for code, value in options:
                            if code == 1:  # opt_comment
                                comment = _text(value) if comment is None \
                                    else f"{comment}\n{_text(value)}"
                        with_options = _new_info(optioned, (sec + offset, frac, res, caplen,
                                                            length, gid, linktype, comment))
                        attributes = with_options.__dict__
                        attributes["options"] = tuple(options)
                        attributes["byte_order"] = order
                        yield buf[pos + 28 : dstop], with_options
                    pos, prev = stop, blen
                self._pos, self.records_read = pos, count
                if pos > first and self._codec.u32(buf, pos - 4)[0] != prev:
                    raise self._error(
                        f"block ending here: trailing length differs from leading length {prev}",
                        pos - 4,
                    )
                block = self._next_slow_block()
                if block is None:
                    return
                if isinstance(block, PacketBlock) and block.info is not None:
                    self.records_read += 1
                    yield block.data, block.info

        # -- the slow path: complete, checked decoding of one block -------------------------
        finally:
            self.close()  # at the end, or when the iteration is dropped: no leaked file

    def _block_end(self, buf: bytes, pos: int, btype: int) -> int:
        """Where the block at ``pos`` ends, after checking its length is sane."""
        codec = self._codec
        if btype == SHB:
            order = _SHB_MAGIC.get(buf[pos + 8 : pos + 12])
            if order is None:
                raise self._error(
                    f"section header byte-order magic 0x{buf[pos + 8 : pos + 12].hex()} is invalid",
                    pos + 8,
                )
            codec = _Codec(order)  # type: ignore[arg-type]
        blen = codec.u32(buf, pos + 4)[0]
        if blen < 12 or blen % 4:
            raise self._error(f"block of type 0x{btype:08x} has invalid length {blen}", pos + 4)
        if blen > MAX_BLOCK:
            raise self._error(
                f"block of type 0x{btype:08x} claims {blen} bytes, more than the maximum of {MAX_BLOCK}",
                pos + 4,
            )
        return pos + blen

    def _decode(self, btype: int, buf: bytes, pos: int, end: int) -> Block:
        """One whole block, checked: size, fields that must fit, options, trailing length.

        The trailing length is checked last, as tshark does, so that a bad option is reported
        as what it is rather than as the damaged block length it also causes.
        """
        if btype != SHB and not self.sections:
            raise self._error("block before any section header", pos)
        minimum = _MIN_LENGTH.get(btype, 12)
        if end - pos < minimum:
            raise self._error(
                f"block of type 0x{btype:08x} has {end - pos} bytes, fewer than its minimum "
                f"{minimum}",
                pos + 4,
            )
        block = _DECODERS.get(btype, PcapngReader._unknown)(self, buf, pos, end)
        block.byte_order = self._codec.byte_order  # type: ignore[attr-defined]
        trailer = self._codec.u32(buf, end - 4)[0]
        if trailer != end - pos:
            raise self._error(
                f"block of type 0x{btype:08x}: trailing length {trailer} differs from "
                f"leading length {end - pos}",
                end - 4,
            )
        return block

    def _where(self, btype: int, pos: int) -> tuple[int, int, int]:
        """The common head of every Block: type, file offset, section number."""
        return btype, self._base + pos, len(self.sections) - 1

    def _unknown(self, buf: bytes, pos: int, end: int) -> UnknownBlock:
        btype = self._codec.head(buf, pos)[0]
        return UnknownBlock(*self._where(btype, pos), [], buf[pos + 8 : end - 4])

    def _section(self, buf: bytes, pos: int, end: int) -> SectionHeader:
        codec = self._codec = _Codec(_SHB_MAGIC[buf[pos + 8 : pos + 12]])  # type: ignore[arg-type]
        major, minor, length = struct.unpack_from(codec.prefix + "HHq", buf, pos + 12)
        if major != 1 or minor > 2:
            raise self._error(
                f"unknown section header version {major}.{minor} (1.0 expected)", pos + 12
            )
        options = self._options(buf, pos + 24, end - 4)
        where = SHB, self._base + pos, len(self.sections)  # this is a new section
        shb = SectionHeader(*where, options, codec.byte_order, (major, minor), length)  # type: ignore[arg-type]
        self.sections.append(shb)
        self._section_ifaces = []
        return shb

    def _interface(self, buf: bytes, pos: int, end: int) -> Interface:
        linktype, _, snaplen = struct.unpack_from(self._codec.prefix + "HHI", buf, pos + 8)
        options = self._options(buf, pos + 16, end - 4)
        ids = len(self.interfaces), len(self._section_ifaces)
        iface = Interface(
            *self._where(IDB, pos), options, linktype, snaplen, *ids, self.byte_order
        )
        resol = iface.option(IF_TSRESOL)
        if resol:
            iface.tsresol = tsresol_units(resol[0])
        offset = iface.option(IF_TSOFFSET)
        if offset is not None and len(offset) == 8:
            iface.tsoffset = struct.unpack(self._codec.prefix + "q", offset)[0]
        self.interfaces.append(iface)
        self._section_ifaces.append(iface)
        return iface

    def _enhanced(self, buf: bytes, pos: int, end: int) -> PacketBlock:
        _, _, iface, high, low, caplen, length = self._codec.epb(buf, pos)
        data = self._packet_data(buf, pos + 28, caplen, end, pos)
        options = self._options(buf, pos + 28 + _pad(caplen), end - 4)
        return self._packet(EPB, pos, iface, high << 32 | low, data, length, options)

    def _obsolete(self, buf: bytes, pos: int, end: int) -> PacketBlock:
        iface, drops, high, low, caplen, length = struct.unpack_from(
            self._codec.prefix + "HHIIII", buf, pos + 8
        )
        data = self._packet_data(buf, pos + 28, caplen, end, pos)
        options = self._options(buf, pos + 28 + _pad(caplen), end - 4)
        extra = [] if drops == 0xFFFF else [(4, struct.pack(self._codec.prefix + "Q", drops))]
        block = self._packet(PB, pos, iface, high << 32 | low, data, length, options, extra)
        block.drops = drops
        return block

    def _simple(self, buf: bytes, pos: int, end: int) -> PacketBlock:
        if not self._section_ifaces:
            raise self._error("simple packet block before any interface block", pos)
        (length,) = self._codec.u32(buf, pos + 8)
        iface = self._section_ifaces[0]
        caplen = min(length, end - pos - 16)
        if iface.snaplen:
            caplen = min(caplen, iface.snaplen)
        data = self._packet_data(buf, pos + 12, caplen, end, pos)
        info = SimplePacketInfo(0, 0, iface.tsresol, caplen, length, iface.id, iface.linktype)
        return PacketBlock(*self._where(SPB, pos), [], iface.id, data, info)

    def _packet(self, btype: int, pos: int, local: int, units: int, data: bytes, length: int,
                options: Options, extra: Options = ()) -> PacketBlock:  # type: ignore[assignment]  # fmt: skip
        if local >= len(self._section_ifaces):
            raise self._error(
                f"packet for interface {local}, but the section declares {len(self._section_ifaces)}",
                pos + 8,
            )
        iface = self._section_ifaces[local]
        sec, frac = divmod(units, iface.tsresol)
        info = self._info((sec + iface.tsoffset, frac, iface.tsresol, len(data), length,
                           iface.id, iface.linktype), options + list(extra))
        return PacketBlock(*self._where(btype, pos), options, iface.id, data, info)

    def _info(self, values: tuple, options: Options) -> CaptureInfo:
        """The CaptureInfo of a packet: a PcapngPacketInfo when it has options (comments, the
        first of them, joined by newlines), else the plain 8-tuple."""
        if not options:
            return _new_info(CaptureInfo, (*values, None))
        comment = None
        for code, value in options:  # a loop, not a comprehension: this is per packet
            if code == OPT_COMMENT:
                comment = _text(value) if comment is None else f"{comment}\n{_text(value)}"
        info = _new_info(PcapngPacketInfo, (*values, comment))
        attributes = info.__dict__
        attributes["options"] = tuple(options)
        attributes["byte_order"] = self._codec.byte_order
        return info

    def _packet_data(self, buf: bytes, start: int, caplen: int, end: int, pos: int) -> bytes:
        if caplen > self.max_caplen:
            raise self._error(
                f"packet claims {caplen} captured bytes, more than the maximum of {self.max_caplen}",
                pos + 20,
            )
        if start + caplen > end - 4:
            raise self._error(
                f"packet of {caplen} captured bytes does not fit in its {end - pos}-byte block",
                pos + 20,
            )
        return buf[start : start + caplen]

    def _name_resolution(self, buf: bytes, pos: int, end: int) -> NameResolution:
        records, at, stop = [], pos + 8, end - 4
        while at + 4 <= stop:
            rtype, rlen = self._codec.opt(buf, at)
            if at + 4 + rlen > stop:
                raise self._error(
                    f"name record of {rlen} bytes runs past the end of its block", at
                )
            if rtype == 0:
                at += 4
                break
            records.append((rtype, buf[at + 4 : at + 4 + rlen]))
            at += 4 + _pad(rlen)
        return NameResolution(*self._where(NRB, pos), self._options(buf, at, stop), records)

    def _statistics(self, buf: bytes, pos: int, end: int) -> InterfaceStatistics:
        iface, high, low = struct.unpack_from(self._codec.prefix + "III", buf, pos + 8)
        options = self._options(buf, pos + 20, end - 4)
        gid = self._section_ifaces[iface].id if iface < len(self._section_ifaces) else iface
        counters = {}
        for code, value in options:
            if code in _ISB_COUNTERS and len(value) == 8:
                counters[_ISB_COUNTERS[code]] = struct.unpack(self._codec.prefix + "Q", value)[0]
        units = high << 32 | low
        return InterfaceStatistics(*self._where(ISB, pos), options, gid, units, counters, iface)

    def _secrets(self, buf: bytes, pos: int, end: int) -> DecryptionSecrets:
        stype, slen = struct.unpack_from(self._codec.prefix + "II", buf, pos + 8)
        if pos + 16 + slen > end - 4:
            raise self._error(f"{slen} bytes of secrets do not fit in their block", pos + 12)
        options = self._options(buf, pos + 16 + _pad(slen), end - 4)
        secrets = buf[pos + 16 : pos + 16 + slen]
        return DecryptionSecrets(*self._where(DSB, pos), options, stype, secrets)

    def _custom(self, buf: bytes, pos: int, end: int) -> CustomBlock:
        btype, _ = self._codec.head(buf, pos)
        (pen,) = self._codec.u32(buf, pos + 8)
        return CustomBlock(*self._where(btype, pos), [], pen, buf[pos + 12 : end - 4])

    def _options(self, buf: bytes, at: int, stop: int) -> Options:
        """The options between ``at`` and ``stop``, up to opt_endofopt; overruns are errors."""
        options, unpack = [], self._codec.opt
        while at + 4 <= stop:
            code, size = unpack(buf, at)
            if code == OPT_ENDOFOPT:
                break
            if at + 4 + size > stop:
                raise self._error(
                    f"option {code} of {size} bytes runs past the end of its block ({stop - at - 4} left)",
                    at,
                )
            options.append((code, buf[at + 4 : at + 4 + size]))
            at += 4 + _pad(size)
        return options

    def _error(self, message: str, pos: int) -> CaptureError:
        return CaptureError(message, self.path, self._base + pos, self.records_read + 1)

    def _cut_short(self, buf: bytes, pos: int) -> None:
        left = len(buf) - pos
        if left >= 8:
            btype, blen = self._codec.head(buf, pos)
            what = f"{left} of the {blen} bytes of a block of type 0x{btype:08x}"
        else:
            what = f"{left} bytes, too few for a block header"
        raise self._error(f"file ends in the middle of a block: {what} present", pos)

    def close(self) -> None:
        self._input.close()

    def __enter__(self) -> PcapngReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pad(size: int) -> int:
    return (size + 3) & ~3


_MIN_LENGTH = {SHB: 28, IDB: 20, EPB: 32, PB: 32, SPB: 16, ISB: 24, DSB: 20, CB: 16, DCB: 16}
_DECODERS = {
    SHB: PcapngReader._section,
    IDB: PcapngReader._interface,
    EPB: PcapngReader._enhanced,
    PB: PcapngReader._obsolete,
    SPB: PcapngReader._simple,
    NRB: PcapngReader._name_resolution,
    ISB: PcapngReader._statistics,
    DSB: PcapngReader._secrets,
    CB: PcapngReader._custom,
    DCB: PcapngReader._custom,
}


# The writer lives in pcapng_writer.py; it is importable from here too.
from pktspec.capture.pcapng_writer import PcapngWriter  # noqa: E402, F401
