"""Classic pcap files (libpcap's format): a reader built for speed and an atomic writer.

A pcap file is a 24-byte header (magic, version, snaplen, link type) and then records, each a
16-byte header (seconds, fraction, captured length, original length) and the packet bytes.
The magic says the byte order and whether fractions are micro- or nanoseconds; a gzip
wrapper is looked through. ::

    with PcapReader("in.pcap") as reader, PcapWriter("out.pcap", reader.linktype) as out:
        for data, info in reader:
            if info.caplen > 100:
                out.write(data, info)

Speed comes from reading the file in large chunks and walking each chunk with one
``struct.Struct.unpack_from`` per record: no file call per record, and memory stays flat
however big the file is. Damage is reported as :class:`~pktspec.errors.CaptureError` with the
byte offset and the 1-based record number (tshark's frame number), after every record before
the damage has been delivered; a record that claims more bytes than ``max_caplen`` is
refused before anything is allocated for it. The pcapng reader lives next door in pcapng.py.
"""

from __future__ import annotations

import struct
import sys
from typing import TYPE_CHECKING, Literal

from pktspec.capture.files import (
    CaptureInput,
    CaptureOutput,
    CaptureWriter,
    Source,
    Timestamp,
    as_input,
    split_timestamp,
)
from pktspec.errors import CaptureError
from pktspec.runtime.metadata import CaptureInfo

if TYPE_CHECKING:
    from collections.abc import Iterator

MAGIC_MICRO = 0xA1B2C3D4
MAGIC_NANO = 0xA1B23C4D
MAGIC_MODIFIED = 0xA1B2CD34
"""Alexey Kuznetzov's patched libpcap: microseconds, and 8 more bytes per record header."""

#: Wireshark's WTAP_MAX_PACKET_SIZE_STANDARD: tshark refuses bigger records, so do we.
MAX_CAPLEN = 262144
#: Bytes read per call; big enough that the per-chunk cost vanishes, small enough to be flat.
CHUNK_SIZE = 1 << 20

LINKTYPE_MASK = 0x0000FFFF
LINKTYPE_RESERVED_MASK = 0x03FF0000
LINKTYPE_FCS_PRESENT = 0x04000000

ByteOrder = Literal["little", "big"]
_PREFIX: dict[str, str] = {"little": "<", "big": ">"}


def _sniff_magic(raw: bytes) -> tuple[ByteOrder, int] | None:
    """(byte order, magic) when the first four bytes are a pcap magic in either order."""
    for order in ("little", "big"):
        (magic,) = struct.unpack(_PREFIX[order] + "I", raw[:4])
        if magic in (MAGIC_MICRO, MAGIC_NANO, MAGIC_MODIFIED):
            return order, magic  # type: ignore[return-value]
    return None


class PcapHeader:
    """The 24-byte file header, decoded and checked the way libpcap and tshark check it."""

    SIZE = 24

    def __init__(
        self,
        byte_order: ByteOrder,
        nanosecond: bool,
        version: tuple[int, int] = (2, 4),
        thiszone: int = 0,
        sigfigs: int = 0,
        snaplen: int = MAX_CAPLEN,
        linktype_field: int = 1,
        modified: bool = False,
    ) -> None:
        self.byte_order = byte_order
        self.nanosecond = nanosecond
        self.version = version
        self.thiszone = thiszone
        self.sigfigs = sigfigs
        self.snaplen = snaplen
        self.linktype_field = linktype_field
        self.modified = modified

    @property
    def linktype(self) -> int:
        """The LINKTYPE: the low 16 bits; the upper bits carry FCS information."""
        return self.linktype_field & LINKTYPE_MASK

    @property
    def fcs_length(self) -> int | None:
        """Bytes of frame check sequence at the end of each packet, when the header says."""
        if not self.linktype_field & LINKTYPE_FCS_PRESENT:
            return None
        return 2 * (self.linktype_field >> 28)

    @classmethod
    def parse(cls, raw: bytes, path: str | None = None) -> PcapHeader:
        if len(raw) < 4:
            raise CaptureError(f"file too short for a pcap header: {len(raw)} bytes", path, 0)
        found = _sniff_magic(raw)
        if found is None:
            raise CaptureError(f"unknown magic number 0x{raw[:4].hex()}: not a pcap file", path, 0)
        if len(raw) < cls.SIZE:
            raise CaptureError(
                f"file header cut short: {len(raw)} of {cls.SIZE} bytes", path, len(raw)
            )
        order, magic = found
        prefix = _PREFIX[order]
        major, minor, zone, sigfigs, snaplen, field = struct.unpack(prefix + "HHiIII", raw[4:24])
        if major != 2:
            raise CaptureError(f"pcap version {major}.{minor} is not supported (2.x is)", path, 4)
        if field & LINKTYPE_RESERVED_MASK:
            raise CaptureError(
                f"link-type field 0x{field:08x} has reserved bits set "
                f"(mask 0x{LINKTYPE_RESERVED_MASK:08x}); libpcap and tshark refuse it",
                path,
                20,
            )
        return cls(
            order, magic == MAGIC_NANO, (major, minor), zone, sigfigs, snaplen, field,
            magic == MAGIC_MODIFIED,
        )  # fmt: skip

    def pack(self) -> bytes:
        magic = MAGIC_NANO if self.nanosecond else MAGIC_MICRO
        return struct.pack(
            _PREFIX[self.byte_order] + "IHHiIII", magic, *self.version, self.thiszone,
            self.sigfigs, self.snaplen, self.linktype_field,
        )  # fmt: skip


class PcapReader:
    """Iterate a pcap file as ``(data, CaptureInfo)`` pairs, in file order, once.

    ``source`` is a path or a binary file object (plain or gzip). The header is read and
    checked here, so a file that is not pcap fails at once. Records are numbered from 1;
    ``records_read`` counts those delivered (kept up to date once per chunk, and exactly at
    the end of the file or at an error).
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
        try:
            self.header = PcapHeader.parse(self._input.read(PcapHeader.SIZE), self.path)
        except BaseException:
            self._input.close()
            raise
        self.max_caplen = max_caplen
        self._chunk_size = chunk_size
        self.records_read = 0
        self._iterator: Iterator[tuple[bytes, CaptureInfo]] | None = None

    linktype = property(lambda self: self.header.linktype, doc="LINKTYPE of every record.")
    snaplen = property(lambda self: self.header.snaplen, doc="The header's snapshot length.")
    nanosecond = property(lambda self: self.header.nanosecond, doc="Fractions are ns.")
    byte_order = property(lambda self: self.header.byte_order, doc="'little' or 'big'.")
    version = property(lambda self: self.header.version, doc="(major, minor), e.g. (2, 4).")
    fcs_length = property(lambda self: self.header.fcs_length, doc="FCS bytes, or None.")

    @property
    def ts_resolution(self) -> int:
        return 1_000_000_000 if self.header.nanosecond else 1_000_000

    def linktype_of(self, interface: int) -> int:
        """The link type of an interface: pcap has one, interface 0."""
        if interface != 0:
            raise KeyError(f"pcap files have only interface 0, not {interface}")
        return self.header.linktype

    def __iter__(self) -> Iterator[tuple[bytes, CaptureInfo]]:
        """The records; iterating again continues where the last iteration stopped."""
        if self._iterator is None:
            self._iterator = self._records()
        return self._iterator

    def _records(self) -> Iterator[tuple[bytes, CaptureInfo]]:
        """The hot loop: one unpack_from, one slice and one CaptureInfo per record. The file
        is closed when the records end (a for loop over pktspec.open(path) leaks nothing)."""
        try:
            header = self.header
            hsize = 24 if header.modified else 16
            unpack = struct.Struct(_PREFIX[header.byte_order] + "IIII").unpack_from
            if header.version < (2, 3):
                # Before 2.3, libpcap wrote the original length before the captured one; such
                # files are rare, so the swap is not paid for in the usual loop below.
                plain = unpack

                def unpack(buf: bytes, pos: int) -> tuple[int, int, int, int]:
                    sec, frac, length, caplen = plain(buf, pos)
                    return sec, frac, caplen, length
            res, linktype, limit = self.ts_resolution, header.linktype, self.max_caplen
            read, chunk_size = self._input.read, self._chunk_size
            new, info = tuple.__new__, CaptureInfo  # CaptureInfo is a tuple: made in C
            buf, pos, base, record = b"", 0, PcapHeader.SIZE, 0
            after = None  # (chunk, pos, base) to go on with once a straddling record is read
            while True:
                end = len(buf)
                while pos + hsize <= end:
                    sec, frac, caplen, length = unpack(buf, pos)
                    stop = pos + hsize + caplen
                    if caplen > limit:
                        self._too_big(caplen, base + pos, record + 1)
                    if stop > end:
                        break
                    record += 1
                    yield buf[pos + hsize : stop], new(info, (sec, frac, res, caplen, length, 0,
                                                              linktype, None))
                    pos = stop
                self.records_read = record
                if after is not None:
                    (buf, pos, base), after = after, None
                    continue
                more = read(chunk_size)
                if not more:
                    if pos < end:
                        self._cut_short(buf, pos, hsize, base, record + 1)
                    return
                if end - pos >= hsize:
                    # A record straddles the chunks: read it from its own small buffer and
                    # go on in the new chunk after it, rather than copy the whole chunk
                    # behind the old one's tail (the same records, offsets and errors).
                    need = hsize + unpack(buf, pos)[2] - (end - pos)
                    if need <= len(more):
                        after = (more, need, base + end)
                        buf, base, pos = buf[pos:] + more[:need], base + pos, 0
                        continue
                buf, base, pos = buf[pos:] + more, base + pos, 0
        finally:
            self.close()  # at the end, or when the iteration is dropped: no leaked file

    def _too_big(self, caplen: int, offset: int, record: int) -> None:
        self.records_read = record - 1
        raise CaptureError(
            f"record claims {caplen} captured bytes, more than the maximum of "
            f"{self.max_caplen} (damaged file? pass max_caplen= to allow more)",
            self.path,
            offset,
            record,
        )

    def _cut_short(self, buf: bytes, pos: int, hsize: int, base: int, record: int) -> None:
        self.records_read = record - 1
        left = len(buf) - pos
        if left < hsize:
            what = f"{left} bytes into the {hsize}-byte record header"
        else:
            prefix = _PREFIX[self.header.byte_order]
            _, _, caplen, length = struct.unpack_from(prefix + "IIII", buf, pos)
            if self.header.version < (2, 3):
                caplen = length
            what = f"in the packet data: {left - hsize} of {caplen} bytes present"
        raise CaptureError(f"file ends {what}", self.path, base + pos, record)

    def close(self) -> None:
        self._input.close()

    def __enter__(self) -> PcapReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcapWriter(CaptureWriter):
    """Write a pcap file record by record; given a path, the file appears only on close.

    ``write(data, info_or_timestamp)`` takes a CaptureInfo (its timestamp, original length
    and link type are kept) or a bare timestamp (int, float, Fraction or Decimal seconds).
    ``snaplen`` only goes into the header: packets are written as given, as libpcap's
    pcap_dump does, so a copy of a file whose records exceed its snaplen stays faithful.
    Leaving a ``with`` block by an exception discards the file.
    """

    def __init__(
        self,
        dest: Source,
        linktype: int = 1,
        snaplen: int = MAX_CAPLEN,
        nanosecond: bool = False,
        *,
        byte_order: ByteOrder = sys.byteorder,  # type: ignore[assignment]
        compress: bool | None = None,
    ) -> None:
        if byte_order not in _PREFIX:
            raise ValueError(f"byte_order must be 'little' or 'big', not {byte_order!r}")
        self.header = PcapHeader(byte_order, nanosecond, snaplen=snaplen, linktype_field=linktype)
        self.linktype = linktype & LINKTYPE_MASK
        self.snaplen = snaplen
        self._res = 1_000_000_000 if nanosecond else 1_000_000
        self._pack = struct.Struct(_PREFIX[byte_order] + "IIII").pack
        self._out = CaptureOutput(dest, compress)
        self.path = self._out.path
        self._write = self._out.stream.write
        self._write(self.header.pack())
        self.records_written = 0

    def write(self, data: bytes, info_or_timestamp: Timestamp, length: int | None = None) -> None:
        """Append one record; ``length`` overrides the original length (default: the info's)."""
        sec, frac = split_timestamp(info_or_timestamp, self._res)
        if isinstance(info_or_timestamp, CaptureInfo):
            if info_or_timestamp.linktype != self.linktype:
                raise CaptureError(
                    f"packet of link type {info_or_timestamp.linktype} in a pcap file of link "
                    f"type {self.linktype} (pcap has one link type per file; use pcapng)",
                    self.path,
                    record=self.records_written + 1,
                )
            if length is None:
                length = info_or_timestamp.length
        caplen = len(data)
        if length is None:
            length = len(data)
        if not (0 <= sec <= 0xFFFFFFFF and 0 <= frac <= 0xFFFFFFFF):
            raise CaptureError(
                f"timestamp {sec}+{frac}/{self._res} s is outside pcap's unsigned 32-bit range",
                self.path,
                record=self.records_written + 1,
            )
        self._write(self._pack(sec, frac, caplen, length))
        self._write(data)
        self.records_written += 1

