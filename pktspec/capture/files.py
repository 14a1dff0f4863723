"""Opening capture files: paths or file objects, gzip, format detection, atomic output.

The pcap and pcapng readers both start from a :class:`CaptureInput` (a path or a binary file
object, transparently gunzipped when it starts with 1f 8b, with its read errors turned into
:class:`~pktspec.errors.CaptureError`) and both writers end in a :class:`CaptureOutput`
(which, given a path, writes a temporary file and renames it on close, so an error never
leaves half a capture behind). :func:`open_records` picks the reader by the magic number::

    from pktspec.capture.files import open_records

    with open_records("trace.pcapng.gz") as records:
        for data, info in records:
            first = records.linktype_of(info.interface)
            print(info.timestamp, info.caplen, first)

Every reader is a :class:`RecordSource`: an iterable of ``(bytes, CaptureInfo)`` that also
says which link type each interface carries, which is what the runtime needs to choose the
first layer of a packet.
"""

from __future__ import annotations

import gzip
import math
import os
import tempfile
import zlib
from decimal import Decimal
from fractions import Fraction
from typing import IO, TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from pktspec.errors import CaptureError
from pktspec.runtime.metadata import CaptureInfo

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pktspec.capture.pcap import PcapReader
    from pktspec.capture.pcapng import PcapngReader

Source = str | os.PathLike[str] | IO[bytes]
Timestamp = CaptureInfo | int | float | Fraction | Decimal

GZIP_MAGIC = b"\x1f\x8b"
PCAP_MAGICS = frozenset(
    bytes.fromhex(m)
    for m in ("a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1", "a1b2cd34", "34cdb2a1")
)
PCAPNG_MAGIC = bytes.fromhex("0a0d0d0a")


@runtime_checkable
class RecordSource(Protocol):
    """What the runtime needs from any capture: records, and the link type per interface."""

    path: str | None

    def __iter__(self) -> Iterator[tuple[bytes, CaptureInfo]]: ...

    def linktype_of(self, interface: int) -> int: ...

    def close(self) -> None: ...


class _Prefixed:
    """A stream with some bytes already read from it put back in front (for sniffing magic)."""

    def __init__(self, prefix: bytes, raw: IO[bytes]) -> None:
        self._prefix = prefix
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if not self._prefix:
            return self._raw.read(size)
        head = self._prefix if size < 0 else self._prefix[:size]
        self._prefix = self._prefix[len(head) :]
        if size < 0:
            return head + self._raw.read()
        return head


class CaptureInput:
    """The uncompressed bytes of a capture, read in big chunks by the readers.

    ``position`` counts bytes delivered so far, so error offsets are offsets into the
    uncompressed capture (the same numbers tshark and a hex dump of a plain file show).
    """

    def __init__(self, source: Source) -> None:
        self._owned: IO[bytes] | None = None
        if isinstance(source, (str, os.PathLike)):
            self.path: str | None = os.fspath(source)
            try:
                raw = self._owned = open(self.path, "rb")  # closed by close()
            except OSError as exc:
                raise CaptureError(f"cannot open: {exc.strerror}", self.path) from exc
        else:
            name = getattr(source, "name", None)
            self.path = name if isinstance(name, str) else None
            raw = source
        head = _read_upto(raw, 2)
        self.compressed = head == GZIP_MAGIC
        stream: IO[bytes] | _Prefixed | gzip.GzipFile = _Prefixed(head, raw)
        if self.compressed:
            stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[arg-type]
        self._stream = stream
        self._pending = b""
        self._broken: Exception | None = None
        self.position = 0

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; fewer only at the end of the capture."""
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            if len(data) < size:
                data += self._read_stream(size - len(data))
        else:
            data = self._read_stream(size)
        self.position += len(data)
        return data

    def peek(self, size: int) -> bytes:
        """The next ``size`` bytes (fewer at the end) without consuming them."""
        if len(self._pending) < size:
            self._pending += self._read_stream(size - len(self._pending))
        return self._pending[:size]

    def _read_stream(self, size: int) -> bytes:
        if self._broken is not None:  # the bytes before the damage were delivered: now say so
            exc, self._broken = self._broken, None
            raise CaptureError(f"compressed data is damaged or cut short: {exc}", self.path,
                               self.position) from exc
        if not self.compressed:
            try:
                return _read_upto(self._stream, size)
            except OSError as exc:
                raise CaptureError(f"read failed: {exc}", self.path, self.position) from exc
        return self._read_compressed(size)

    def _read_compressed(self, size: int) -> bytes:
        """Like _read_upto, but a damaged or cut gzip stream first gives up the bytes it did
        decompress (so the records before the damage are delivered), and fails next time."""
        parts: list[bytes] = []
        have = 0
        while have < size:
            try:
                chunk = self._stream.read1(size - have)  # type: ignore[union-attr]
            except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
                self._broken = exc
                break
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        if not parts and self._broken is not None:
            return self._read_stream(size)
        return b"".join(parts)

    def close(self) -> None:
        if isinstance(self._stream, gzip.GzipFile):
            self._stream.close()
        if self._owned is not None:
            self._owned.close()
            self._owned = None


def as_input(source: Source | CaptureInput) -> CaptureInput:
    """``source`` opened as a CaptureInput (an already opened one is used as it is)."""
    return source if isinstance(source, CaptureInput) else CaptureInput(source)


def _read_upto(stream: IO[bytes] | _Prefixed | gzip.GzipFile, size: int) -> bytes:
    """Read ``size`` bytes, looping over short reads (pipes, sockets), fewer only at EOF."""
    data = stream.read(size)
    if data is None:
        data = b""
    while 0 < len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            break
        data += more
    return data


def sniff_format(magic: bytes, path: str | None = None) -> Literal["pcap", "pcapng"]:
    """'pcap' or 'pcapng' from the first four (uncompressed) bytes."""
    if magic in PCAP_MAGICS:
        return "pcap"
    if magic == PCAPNG_MAGIC:
        return "pcapng"
    if len(magic) < 4:
        raise CaptureError(f"file too short for a capture: {len(magic)} bytes", path, 0)
    raise CaptureError(f"unknown magic number 0x{magic.hex()}: not a pcap or pcapng file", path, 0)


def detect_format(source: Source) -> Literal["pcap", "pcapng"]:
    """The format of a capture, by its magic number (gzip-compressed files are looked into).

    A file object is read from, and put back where it was if it can seek; to sniff one that
    cannot, use :func:`open_records`, which hands the sniffed bytes on to the reader.
    """
    if isinstance(source, (str, os.PathLike)):
        stream = CaptureInput(source)
        try:
            return sniff_format(stream.peek(4), stream.path)
        finally:
            stream.close()
    start = source.tell() if source.seekable() else None
    try:
        return sniff_format(CaptureInput(source).peek(4), getattr(source, "name", None))
    finally:
        if start is not None:
            source.seek(start)


def open_records(source: Source, **options: int) -> PcapReader | PcapngReader:
    """A reader of the right kind for ``source``; keyword options go to the reader."""
    # Imported here because both readers import this module for CaptureInput.
    from pktspec.capture.pcap import PcapReader
    from pktspec.capture.pcapng import PcapngReader

    stream = CaptureInput(source)
    try:
        fmt = sniff_format(stream.peek(4), stream.path)
        if fmt == "pcap":
            return PcapReader(stream, **options)
        return PcapngReader(stream, **options)
    except BaseException:
        stream.close()
        raise


class CaptureOutput:
    """Where a writer's bytes go: a file object as given, or a path written atomically.

    With a path, bytes go to a temporary file in the same folder, renamed over the target by
    :meth:`commit`; :meth:`abort` (or an exception in a ``with`` block of the writer) deletes
    it, so a failed write never leaves a truncated capture that looks valid.
    """

    def __init__(self, dest: Source, compress: bool | None = None) -> None:
        self._target: str | None = None
        self._tmp: str | None = None
        if isinstance(dest, (str, os.PathLike)):
            self._target = os.fspath(dest)
            if compress is None:
                compress = self._target.endswith(".gz")
            folder = os.path.dirname(os.path.abspath(self._target))
            if os.path.isdir(self._target):
                raise IsADirectoryError(21, "Is a directory", self._target)
            try:
                fd, self._tmp = tempfile.mkstemp(
                    prefix="." + os.path.basename(self._target) + ".", suffix=".tmp", dir=folder
                )
            except OSError as exc:  # name the file asked for, not the temporary one
                raise _naming(exc, self._target) from exc
            umask = os.umask(0)  # mkstemp makes owner-only files: give the usual permissions
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)
            self._file: IO[bytes] | None = os.fdopen(fd, "wb", buffering=1 << 20)
            self.path: str | None = self._target
        else:
            self._file = None
            self.path = getattr(dest, "name", None)
        base = self._base = self._file if self._file is not None else dest
        self._gzip = gzip.GzipFile(fileobj=base, mode="wb") if compress else None  # type: ignore[arg-type]
        self.stream: IO[bytes] = self._gzip if self._gzip is not None else base  # type: ignore[assignment]

    def commit(self) -> None:
        """Finish the output: flush, and rename the temporary file over the target."""
        if self._file is None:  # the caller's file object: finish the gzip stream, flush
            if self._gzip is not None:
                self._gzip.close()  # writes the gzip trailer; the caller's object stays open
            self._base.flush()
            return
        try:
            if self._gzip is not None:
                self._gzip.close()
            self._file.close()
            os.replace(self._tmp, self._target)  # type: ignore[arg-type]
        except OSError as exc:  # a full disk, a vanished folder: leave nothing behind
            self._discard()
            raise _naming(exc, self._target) from exc  # type: ignore[arg-type]
        self._file = self._tmp = None

    def abort(self) -> None:
        """Give up: the temporary file is removed and the target left as it was."""
        if self._file is not None:
            self._discard()

    def _discard(self) -> None:
        """Close and delete the temporary file, whatever state it is in."""
        try:
            self._file.close()  # type: ignore[union-attr]
        except OSError:
            pass  # its buffered bytes could not be written: they are being thrown away
        try:
            os.unlink(self._tmp)  # type: ignore[arg-type]
        except FileNotFoundError:
            pass
        self._file = self._tmp = None


def _naming(exc: OSError, path: str) -> OSError:
    """The same kind of OSError, naming ``path`` (what the caller asked to write) in place of
    the temporary file the error came from."""
    return type(exc)(exc.errno, exc.strerror, path) if exc.errno else exc


class CaptureWriter:
    """What pcap and pcapng writers share: finishing or discarding their CaptureOutput
    (``self._out``), and a ``with`` block that keeps the file only when it ends cleanly."""

    _out: CaptureOutput

    def close(self) -> None:
        """Finish the file (rename it into place when writing to a path)."""
        self._out.commit()

    def abort(self) -> None:
        """Discard what was written (only possible when writing to a path)."""
        self._out.abort()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def split_timestamp(value: Timestamp, resolution: int) -> tuple[int, int]:
    """(seconds, units of 1/resolution) for a writer, exactly where the input is exact.

    A CaptureInfo already in ``resolution`` is copied field for field, even when its fraction
    is out of range (a round trip must not "repair" a file). Finer timestamps are truncated
    toward the past, as libpcap does when it writes microseconds. Floats are rounded to the
    nearest unit, because a float rarely holds a decimal fraction exactly.
    """
    if isinstance(value, CaptureInfo):
        if value.ts_resolution == resolution:
            return value.ts_sec, value.ts_frac
        value = value.exact_timestamp
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"timestamp {value} is not a finite number")
        sec = math.floor(value)
        frac = round((value - sec) * resolution)
        if frac >= resolution:
            sec, frac = sec + 1, frac - resolution
        return sec, frac
    exact = Fraction(value)
    sec = math.floor(exact)
    return sec, math.floor((exact - sec) * resolution)
