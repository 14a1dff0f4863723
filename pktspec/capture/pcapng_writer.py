"""Writing pcapng files: sections, interfaces and other blocks with their options, packets
with theirs.

The reader and the block types are in pcapng.py; this module only writes, atomically when
given a path (a half-written file never replaces the target). Copying a pcapng file, whole or
filtered, keeps its structure when the writer is told where the packets come from::

    with PcapngReader("in.pcapng") as reader, PcapngWriter("out.pcapng", source=reader) as w:
        for data, info in reader:
            if keep(data):
                w.write(data, info)

The output then has one section per input section (its options and byte order), every
interface (local numbers kept), the name resolution, statistics, decryption secrets and
copyable custom blocks where they were, and every packet's options.
"""

from __future__ import annotations

import struct
import sys
from typing import TYPE_CHECKING, Any

from pktspec.capture.files import (
    CaptureOutput,
    CaptureWriter,
    Source,
    Timestamp,
    split_timestamp,
)
from pktspec.capture.pcap import ByteOrder
from pktspec.capture.pcapng import (
    _NUMERIC_OPTIONS,
    _PREFIX,
    BYTE_ORDER_MAGIC,
    CUSTOM_OPTIONS,
    DCB,
    DSB,
    EPB,
    IDB,
    IF_NAME,
    IF_TSOFFSET,
    IF_TSRESOL,
    ISB,
    NRB,
    OPT_COMMENT,
    OPT_ENDOFOPT,
    SHB,
    SHB_HARDWARE,
    SHB_OS,
    SHB_USERAPPL,
    SPB,
    UNCOPYABLE_OPTIONS,
    Block,
    CustomBlock,
    DecryptionSecrets,
    Interface,
    InterfaceStatistics,
    NameResolution,
    Options,
    PacketBlock,
    PcapngReader,
    SectionHeader,
    SimplePacketInfo,
    UnknownBlock,
    _text,
    tsresol_code,
    tsresol_units,
)
from pktspec.errors import CaptureError
from pktspec.runtime.metadata import CaptureInfo

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["PcapngWriter"]


class PcapngWriter(CaptureWriter):
    """Write pcapng: an SHB per section, IDBs as interfaces are added, EPBs (SPBs) for packets.

    Interfaces come from ``interfaces`` (e.g. another reader's ``interfaces``: link type,
    snaplen and every option are kept, numeric options byte-swapped when the byte order
    differs), from :meth:`add_interface`, or are added on the fly: writing a CaptureInfo whose
    interface does not exist yet adds interfaces with its link type and a clock fine enough
    for its timestamps. A packet's options (``info.options`` of a pcapng packet: flags,
    hashes, drop count, packet id, queue, verdicts, custom ...) are written back, with its
    ``info.comment`` as opt_comment; packets read from SPBs are written back as SPBs.
    :meth:`new_section` starts another section; :meth:`write_block` writes a block read from a
    file (NRB, ISB, DSB, custom ...). Given a path, the file appears only on close.

    ``source`` (a :class:`PcapngReader`, or a PacketSource reading one) copies that file's
    structure as its packets are written: each input section becomes a section with the same
    options and byte order (``comments``, ``hardware``, ``os``, ``userappl`` and
    ``byte_order`` are then not used), every interface is written where the input declares it
    (so a packet's interface number stays the same, in the section and across the file), and
    the other blocks read before a packet are written before it (the rest on close). A source
    that is not pcapng is ignored.

    Everything is copied by default, custom options 19372/19373 and custom blocks 0x40000BAD
    included, although the format says a tool that rewrites a file should not copy those
    (their data may depend on the file as it was): ``drop_uncopyable=True`` leaves them out
    of everything copied from another file, as editcap does.
    """

    def __init__(
        self,
        dest: Source,
        interfaces: Sequence[Interface] = (),
        *,
        comments: Sequence[str] = (),
        hardware: str | None = None,
        os: str | None = None,
        userappl: str | None = "pktspec",
        byte_order: ByteOrder = sys.byteorder,  # type: ignore[assignment]
        compress: bool | None = None,
        source: Any = None,
        drop_uncopyable: bool = False,
    ) -> None:
        if byte_order not in _PREFIX:
            raise ValueError(f"byte_order must be 'little' or 'big', not {byte_order!r}")
        self._out = CaptureOutput(dest, compress)
        try:
            self.path = self._out.path
            self._write = self._out.stream.write
            self.byte_order: ByteOrder = byte_order
            self._p = _PREFIX[byte_order]
            self.sections: list[SectionHeader] = []
            self.interfaces: list[Interface] = []
            self._section_ifaces: list[Interface] = []
            self.records_written = 0
            self.drop_uncopyable = drop_uncopyable
            reader = getattr(source, "reader", source)
            self._source: PcapngReader | None = (
                reader if isinstance(reader, PcapngReader) else None
            )
            self._mirrored: dict[int, int] = {}  # source interface id -> ours
            self._copied = 0  # how many of the source's other_blocks are written
            self._own_section: Options | None = None  # written before anything else is
            if self._source is None:
                self._own_section = _section_options(comments, hardware, os, userappl)
            else:
                self._catch_up(0)  # the first section header and what follows it
            for iface in interfaces:
                self.add_interface(iface)
        except BaseException:
            self._out.abort()
            raise

    # -- sections and interfaces ------------------------------------------------------------

    def new_section(
        self,
        *,
        comments: Iterable[str] = (),
        hardware: str | None = None,
        os: str | None = None,
        userappl: str | None = "pktspec",
        byte_order: ByteOrder | None = None,
        options: Options = (),  # type: ignore[assignment]
    ) -> int:
        """Start a section (write an SHB) and return its number. Interfaces are per section:
        add them again; the interfaces of earlier sections can no longer be written to."""
        if self._source is not None:
            raise CaptureError("this writer copies its sections from its source", self.path)
        self._begin()
        opts = _section_options(comments, hardware, os, userappl) + list(options)
        return self._start_section(opts, byte_order or self.byte_order)

    def _begin(self) -> None:
        """Write the section header the constructor describes, unless something is written."""
        if self._own_section is not None:
            options, self._own_section = self._own_section, None
            self._start_section(options, self.byte_order)

    def _start_section(self, options: Options, byte_order: ByteOrder,
                       version: tuple[int, int] = (1, 0), read_in: str | None = None) -> int:
        """Write an SHB; ``read_in``: the byte order options copied from a file are in."""
        if byte_order not in _PREFIX:
            raise ValueError(f"byte_order must be 'little' or 'big', not {byte_order!r}")
        self.byte_order, self._p = byte_order, _PREFIX[byte_order]
        if read_in is not None:
            options = self._copied_options(SHB, options, read_in)
        number = len(self.sections)
        # the section length is unknown while writing (and a filtered copy changes it): -1
        body = struct.pack(self._p + "IHHq", BYTE_ORDER_MAGIC, *version, -1)
        self._block(SHB, body + self._encode_options(options))
        self.sections.append(SectionHeader(SHB, 0, number, list(options), byte_order, version))
        self._section_ifaces = []
        return number

    def add_interface(
        self,
        linktype: int | Interface = 1,
        snaplen: int = 0,
        *,
        name: str | None = None,
        tsresol: int = 6,
        tsoffset: int = 0,
        options: Options = (),  # type: ignore[assignment]
    ) -> int:
        """Declare an interface (write its IDB) in the current section and return its number
        for :meth:`write` (numbers run across sections, as the reader's do).

        ``tsresol`` is the if_tsresol byte: 6 for microseconds, 9 for nanoseconds, 0x80|n for
        2**-n s. Pass an :class:`Interface` read from another file to copy it whole; one of
        the ``source`` reader's is written where that file has it, and its number returned.
        """
        self._begin()
        if isinstance(linktype, Interface):
            src = linktype
            if self._from_source(src):
                self._catch_up(src.section)
                return self._mirrored[src.id]
            options = self._copied_options(IDB, src.options, src.byte_order)
            return self._declare(src.linktype, src.snaplen, options)
        options = list(options)
        if name is not None:
            options.insert(0, (IF_NAME, name.encode()))
        if tsresol != 6:
            options.append((IF_TSRESOL, bytes([tsresol])))
        if tsoffset:
            options.append((IF_TSOFFSET, struct.pack(self._p + "q", tsoffset)))
        return self._declare(linktype, snaplen, options)

    def _declare(self, linktype: int, snaplen: int, options: Options) -> int:
        """Write an IDB with these options (already in this section's byte order)."""
        iface = Interface(IDB, 0, len(self.sections) - 1, options, linktype, snaplen,
                          len(self.interfaces), len(self._section_ifaces), self.byte_order)  # fmt: skip
        code = iface.option(IF_TSRESOL)
        iface.tsresol = tsresol_units(code[0]) if code else 1_000_000
        offset = iface.option(IF_TSOFFSET)
        if offset is not None and len(offset) == 8:
            iface.tsoffset = struct.unpack(self._p + "q", offset)[0]
        body = struct.pack(self._p + "HHI", linktype, 0, snaplen)
        self._block(IDB, body + self._encode_options(options))
        self.interfaces.append(iface)
        self._section_ifaces.append(iface)
        return iface.id

    # -- packets ------------------------------------------------------------------------------

    def write(
        self,
        data: bytes,
        info_or_timestamp: Timestamp,
        *,
        interface: int | None = None,
        length: int | None = None,
        comment: str | None = None,
        options: Options = (),  # type: ignore[assignment]
    ) -> None:
        """Append one packet as an EPB, or as an SPB for a :class:`SimplePacketInfo` on its
        section's first interface that an SPB can describe (its bytes are min(length,
        snaplen)); a record without a timestamp written as an EPB gets timestamp 0.

        ``interface`` is this writer's interface number; by default the info's (with a
        ``source``, the source's interface, as copied). A packet's link type must be its
        interface's (CaptureError otherwise: add an interface for it). Its options are
        ``options`` if given, else the info's; its comment (``comment``, else the info's) is
        written unless ``options`` already hold one, and replaces the info's comment options
        when it differs from them (as after ``info.replace(comment=...)``)."""
        self._begin()
        info = info_or_timestamp if isinstance(info_or_timestamp, CaptureInfo) else None
        if info is not None:
            if interface is None and self._source is not None:
                interface = self._source_interface(info)
            interface = info.interface if interface is None else interface
            length = info.length if length is None else length
            comment = info.comment if comment is None else comment
        interface = 0 if interface is None else interface
        iface = self._interface_for(interface, info)
        if info is not None and info.linktype != iface.linktype:
            raise CaptureError(
                f"interface {interface} is link type {iface.linktype}, this packet's is "
                f"{info.linktype}: add_interface({info.linktype}) and write it with that "
                "interface", self.path, record=self.records_written + 1,
            )  # fmt: skip
        if length is None:
            length = len(data)
        # an SPB's captured length is min(original length, snaplen): only then is it one
        spb_caplen = min(length, iface.snaplen) if iface.snaplen else length
        if isinstance(info, SimplePacketInfo) and iface.local_id == 0 and not options \
                and len(data) == spb_caplen:
            self._block(SPB, struct.pack(self._p + "I", length) + data + _zeros(data))
        else:
            opts = self._packet_options(info, comment, options)
            units = self._units(info_or_timestamp, iface)
            head = struct.pack(self._p + "IIIII", iface.local_id, units >> 32,
                               units & 0xFFFFFFFF, len(data), length)  # fmt: skip
            self._block(EPB, head + data + _zeros(data) + self._encode_options(opts))
        self.records_written += 1

    def _packet_options(self, info: CaptureInfo | None, comment: str | None,
                        options: Options) -> Options:  # fmt: skip
        """The options of an EPB: those given, else the info's (converted to this section's
        byte order), with the comment added or put in place of the info's comments."""
        if options:
            opts = list(options)
            if comment and not any(code == OPT_COMMENT for code, _ in opts):
                opts.append((OPT_COMMENT, comment.encode()))
            return opts
        if info is None or not info.options:
            return [(OPT_COMMENT, comment.encode())] if comment else []
        opts = self._copied_options(EPB, info.options, info.byte_order)  # type: ignore[attr-defined]
        read = [_text(v) for c, v in info.options if c == OPT_COMMENT]
        if comment != ("\n".join(read) if read else None):
            opts = [(c, v) for c, v in opts if c != OPT_COMMENT]
            if comment:
                opts.append((OPT_COMMENT, comment.encode()))
        return opts

    def _interface_for(self, interface: int, info: CaptureInfo | None) -> Interface:
        """The interface to write to, adding missing ones for a CaptureInfo's link type.

        A bare timestamp on a writer without interfaces gets an Ethernet interface with a
        nanosecond clock, as PcapWriter defaults to Ethernet.
        """
        if self._source is None:
            while interface >= len(self.interfaces) and info is not None:
                self.add_interface(info.linktype, tsresol=tsresol_code(info.ts_resolution))
            if interface == 0 and not self.interfaces:
                self.add_interface(1, tsresol=9)
        if not 0 <= interface < len(self.interfaces):
            raise CaptureError(
                f"no interface {interface}: add_interface() first", self.path,
                record=self.records_written + 1,
            )  # fmt: skip
        iface = self.interfaces[interface]
        if self._source is not None:
            self._catch_up(iface.section)
        if iface.section != len(self.sections) - 1:
            raise CaptureError(
                f"interface {interface} belongs to section {iface.section}, but section "
                f"{len(self.sections) - 1} has begun", self.path, record=self.records_written + 1,
            )  # fmt: skip
        return iface

    def _units(self, value: Timestamp, iface: Interface) -> int:
        if isinstance(value, SimplePacketInfo):
            return 0
        sec, frac = split_timestamp(value, iface.tsresol)
        units = (sec - iface.tsoffset) * iface.tsresol + frac
        if not 0 <= units < 1 << 64:
            raise CaptureError(
                f"timestamp {sec}+{frac}/{iface.tsresol} s does not fit pcapng's 64-bit field",
                self.path, record=self.records_written + 1,
            )  # fmt: skip
        return units

    # -- other blocks -------------------------------------------------------------------------

    def write_block(self, block: Block) -> None:
        """Write a block read from a pcapng file into the current section: a section header
        starts a section like it (written first, it takes the place of the one the
        constructor describes), an interface is added, a packet written; name resolution,
        statistics (its ``interface`` taken as this writer's number, as the reader numbers
        them), decryption secrets, custom and unknown blocks are copied with their options.
        A do-not-copy custom block is left out with ``drop_uncopyable``."""
        if isinstance(block, SectionHeader):
            if self._source is not None:
                raise CaptureError("this writer copies its sections from its source", self.path)
            self._own_section = None
            self._start_section(block.options, block.byte_order, block.version, block.byte_order)
        elif isinstance(block, Interface):
            self.add_interface(block)
        elif isinstance(block, PacketBlock):
            if block.info is None:
                raise CaptureError("a packet block without its CaptureInfo", self.path)
            self.write(block.data, block.info)
        else:
            self._begin()
            self._write_other(block, self._order_of(block))

    def _write_other(self, block: Block, order: ByteOrder) -> None:
        """An NRB, ISB, DSB, custom or unknown block, encoded in this section's byte order."""
        if isinstance(block, CustomBlock):
            if block.type == DCB and self.drop_uncopyable:
                return
            self._block(block.type, struct.pack(self._p + "I", block.pen) + block.data)
            return
        options = self._encode_options(self._copied_options(block.type, block.options, order))
        if isinstance(block, NameResolution):
            records = b"".join(struct.pack(self._p + "HH", rtype, len(value)) + value
                               + _zeros(value) for rtype, value in block.records)  # fmt: skip
            end = struct.pack(self._p + "HH", 0, 0)
            self._block(NRB, records + end + options)
        elif isinstance(block, InterfaceStatistics):
            local = self._statistics_interface(block)
            units = block.ts_units
            body = struct.pack(self._p + "III", local, units >> 32, units & 0xFFFFFFFF)
            self._block(ISB, body + options)
        elif isinstance(block, DecryptionSecrets):
            head = struct.pack(self._p + "II", block.secrets_type, len(block.data))
            self._block(DSB, head + block.data + _zeros(block.data) + options)
        elif isinstance(block, UnknownBlock):
            if order != self.byte_order:
                raise CaptureError(
                    f"a block of unknown type 0x{block.type:08x} cannot be converted from "
                    f"{order}-endian to {self.byte_order}-endian", self.path,
                )  # fmt: skip
            self._block(block.type, block.body)
        else:
            raise TypeError(f"cannot write a {type(block).__name__}")

    def _statistics_interface(self, block: InterfaceStatistics) -> int:
        """The section-local interface number an ISB is written with."""
        if self._source is not None:
            ours = self._mirrored.get(block.interface)
            # an ISB naming an interface its section does not declare is copied as it is
            return block.local_id if ours is None else self.interfaces[ours].local_id
        if not 0 <= block.interface < len(self.interfaces):
            raise CaptureError(f"statistics for interface {block.interface}, which this "
                               "writer does not have", self.path)  # fmt: skip
        iface = self.interfaces[block.interface]
        if iface.section != len(self.sections) - 1:
            raise CaptureError(f"statistics for interface {block.interface} of an earlier "
                               "section", self.path)  # fmt: skip
        return iface.local_id

    def _order_of(self, block: Block) -> ByteOrder:
        """The byte order a block was read in (one made by hand: this section's)."""
        return getattr(block, "byte_order", None) or self.byte_order

    # -- copying the source's structure -------------------------------------------------------

    def _from_source(self, iface: Interface) -> bool:
        source = self._source
        return (source is not None and 0 <= iface.id < len(source.interfaces)
                and source.interfaces[iface.id] is iface)  # fmt: skip

    def _source_interface(self, info: CaptureInfo) -> int:
        """Our number for the source interface a CaptureInfo names."""
        source = self._source
        assert source is not None
        if not 0 <= info.interface < len(source.interfaces):
            raise CaptureError(
                f"this packet's interface {info.interface} is not one of the source's "
                f"{len(source.interfaces)}: pass interface=", self.path,
                record=self.records_written + 1,
            )  # fmt: skip
        self._catch_up(source.interfaces[info.interface].section)
        return self._mirrored[info.interface]

    def _catch_up(self, section: int | None = None) -> None:
        """Write the blocks the source has read so far and this writer has not, up to the
        end of section ``section`` (every one when None)."""
        source = self._source
        if source is None:
            return
        blocks = source.other_blocks
        while self._copied < len(blocks):
            block = blocks[self._copied]
            if section is not None and block.section > section:
                return
            self._copied += 1
            if isinstance(block, SectionHeader):
                self._start_section(block.options, block.byte_order, block.version,
                                    block.byte_order)  # fmt: skip
            elif isinstance(block, Interface):
                options = self._copied_options(IDB, block.options, block.byte_order)
                self._mirrored[block.id] = self._declare(block.linktype, block.snaplen, options)
            else:
                self._write_other(block, self._order_of(block))

    def close(self) -> None:
        """Finish the file: the source's blocks read after the last packet (statistics at
        the end of a capture ...) are written first."""
        try:
            self._begin()
            self._catch_up()
        except BaseException:
            self._out.abort()
            raise
        super().close()

    # -- encoding -------------------------------------------------------------------------------

    def _copied_options(self, btype: int, options: Iterable[tuple[int, bytes]],
                        order: str) -> Options:  # fmt: skip
        """Options read in byte order ``order``, for this section: numeric values converted,
        do-not-copy custom options left out with ``drop_uncopyable``."""
        drop = UNCOPYABLE_OPTIONS if self.drop_uncopyable else ()
        return [(c, self._convert(btype, c, v, order)) for c, v in options if c not in drop]

    def _convert(self, btype: int, code: int, value: bytes, order: str) -> bytes:
        """An option value from a section of byte order ``order``, in this section's order."""
        if order == self.byte_order:
            return value
        fmt = _NUMERIC_OPTIONS.get((btype, code))
        if fmt is not None and len(value) == struct.calcsize("<" + fmt):
            return struct.pack(self._p + fmt, *struct.unpack(_PREFIX[order] + fmt, value))
        if code in CUSTOM_OPTIONS and len(value) >= 4:
            return value[3::-1] + value[4:]
        return value

    def _encode_options(self, options: Options) -> bytes:
        if not options:
            return b""
        parts = [struct.pack(self._p + "HH", c, len(v)) + v + _zeros(v) for c, v in options]
        return b"".join(parts) + struct.pack(self._p + "HH", OPT_ENDOFOPT, 0)

    def _block(self, btype: int, body: bytes) -> None:
        size = len(body) + 12
        self._write(
            struct.pack(self._p + "II", btype, size) + body + struct.pack(self._p + "I", size)
        )


def _section_options(comments: Iterable[str], hardware: str | None, os: str | None,
                     userappl: str | None) -> Options:  # fmt: skip
    options: Options = [(OPT_COMMENT, c.encode()) for c in comments]
    for code, text in ((SHB_HARDWARE, hardware), (SHB_OS, os), (SHB_USERAPPL, userappl)):
        if text is not None:
            options.append((code, text.encode()))
    return options


def _zeros(data: bytes) -> bytes:
    """Padding to the next multiple of four bytes."""
    return b"\0" * (-len(data) % 4)

