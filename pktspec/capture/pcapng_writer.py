"""Writing pcapng files: section header, interfaces with their options, packets with comments.

The reader and the block types are in pcapng.py; this module only writes, atomically when
given a path (a half-written file never replaces the target).
"""

from __future__ import annotations

import struct
import sys
from typing import TYPE_CHECKING

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
    EPB,
    IDB,
    IF_NAME,
    IF_TSOFFSET,
    IF_TSRESOL,
    OPT_COMMENT,
    OPT_ENDOFOPT,
    SHB,
    SHB_HARDWARE,
    SHB_OS,
    SHB_USERAPPL,
    SPB,
    Interface,
    Options,
    SimplePacketInfo,
    tsresol_code,
    tsresol_units,
)
from pktspec.errors import CaptureError
from pktspec.runtime.metadata import CaptureInfo

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["PcapngWriter"]


class PcapngWriter(CaptureWriter):
    """Write one pcapng section: an SHB, IDBs as interfaces are added, EPBs (SPBs) for packets.

    Interfaces come from ``interfaces`` (e.g. another reader's ``interfaces``: link type,
    snaplen and every option are kept, numeric options byte-swapped when the byte order
    differs), from :meth:`add_interface`, or are added on the fly: writing a CaptureInfo whose
    interface does not exist yet adds interfaces with its link type and a clock fine enough
    for its timestamps. A packet's ``info.comment`` is written as opt_comment, and packets
    read from SPBs are written back as SPBs. Given a path, the file appears only on close.
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
    ) -> None:
        if byte_order not in _PREFIX:
            raise ValueError(f"byte_order must be 'little' or 'big', not {byte_order!r}")
        self.byte_order: ByteOrder = byte_order
        self._p = _PREFIX[byte_order]
        self._out = CaptureOutput(dest, compress)
        self.path = self._out.path
        self._write = self._out.stream.write
        self.interfaces: list[Interface] = []
        self.records_written = 0
        options: Options = [(OPT_COMMENT, c.encode()) for c in comments]
        for code, text in ((SHB_HARDWARE, hardware), (SHB_OS, os), (SHB_USERAPPL, userappl)):
            if text is not None:
                options.append((code, text.encode()))
        body = struct.pack(self._p + "IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)
        self._block(SHB, body + self._encode_options(options))
        for iface in interfaces:
            self.add_interface(iface)

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
        """Declare an interface (write its IDB) and return its index for :meth:`write`.

        ``tsresol`` is the if_tsresol byte: 6 for microseconds, 9 for nanoseconds, 0x80|n for
        2**-n s. Pass an :class:`Interface` read from another file to copy it whole.
        """
        if isinstance(linktype, Interface):
            src = linktype
            options = [(c, self._convert(IDB, c, v, src.byte_order)) for c, v in src.options]
            linktype, snaplen = src.linktype, src.snaplen
        else:
            options = list(options)
            if name is not None:
                options.insert(0, (IF_NAME, name.encode()))
            if tsresol != 6:
                options.append((IF_TSRESOL, bytes([tsresol])))
            if tsoffset:
                options.append((IF_TSOFFSET, struct.pack(self._p + "q", tsoffset)))
        iface = Interface(IDB, 0, 0, options, linktype, snaplen, len(self.interfaces),
                          len(self.interfaces), self.byte_order)  # fmt: skip
        code = iface.option(IF_TSRESOL)
        iface.tsresol = tsresol_units(code[0]) if code else 1_000_000
        offset = iface.option(IF_TSOFFSET)
        if offset is not None and len(offset) == 8:
            iface.tsoffset = struct.unpack(self._p + "q", offset)[0]
        body = struct.pack(self._p + "HHI", linktype, 0, snaplen)
        self._block(IDB, body + self._encode_options(options))
        self.interfaces.append(iface)
        return iface.id

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
        """Append one packet as an EPB, or as an SPB for a :class:`SimplePacketInfo` on
        interface 0 that an SPB can describe (its bytes are min(length, snaplen)); a record
        without a timestamp written as an EPB gets timestamp 0. A packet's link type must be
        its interface's (CaptureError otherwise: add an interface for it); its comment is
        written unless ``options`` already hold one."""
        info = info_or_timestamp if isinstance(info_or_timestamp, CaptureInfo) else None
        if info is not None:
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
        if isinstance(info, SimplePacketInfo) and interface == 0 and not options \
                and len(data) == spb_caplen:
            self._block(SPB, struct.pack(self._p + "I", length) + data + _zeros(data))
        else:
            opts = list(options)
            if comment and not any(code == OPT_COMMENT for code, _ in opts):
                opts.append((OPT_COMMENT, comment.encode()))
            units = self._units(info_or_timestamp, iface)
            head = struct.pack(self._p + "IIIII", interface, units >> 32, units & 0xFFFFFFFF,
                               len(data), length)  # fmt: skip
            self._block(EPB, head + data + _zeros(data) + self._encode_options(opts))
        self.records_written += 1

    def _interface_for(self, interface: int, info: CaptureInfo | None) -> Interface:
        """The interface to write to, adding missing ones for a CaptureInfo's link type.

        A bare timestamp on a writer without interfaces gets an Ethernet interface with a
        nanosecond clock, as PcapWriter defaults to Ethernet.
        """
        while interface >= len(self.interfaces) and info is not None:
            self.add_interface(info.linktype, tsresol=tsresol_code(info.ts_resolution))
        if interface == 0 and not self.interfaces:
            self.add_interface(1, tsresol=9)
        if interface >= len(self.interfaces):
            raise CaptureError(
                f"no interface {interface}: add_interface() first", self.path,
                record=self.records_written + 1,
            )  # fmt: skip
        return self.interfaces[interface]

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

    def _convert(self, btype: int, code: int, value: bytes, order: str) -> bytes:
        """An option value from a section of byte order ``order``, in this file's order."""
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



def _zeros(data: bytes) -> bytes:
    """Padding to the next multiple of four bytes."""
    return b"\0" * (-len(data) % 4)
