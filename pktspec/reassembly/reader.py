"""File-like readers over reassembled streams (gopacket's tcpreader).

Code that parses a protocol as a file (``readline()``, ``read(n)``) gets one
:class:`StreamReader` per direction from a :class:`ReaderStream`. The usual arrangement is a
thread per connection, started by a :class:`ReaderFactory`, reading while the assembler
feeds::

    def handle(stream: ReaderStream) -> None:
        request_line = stream.client.readline()        # blocks until the bytes arrive
        body = stream.server.read()                    # everything, until the connection ends
        ...

    factory = ReaderFactory(handle)
    assembler = TCPAssembler(factory)
    for packet in pktspec.open("trace.pcap"):
        assembler.assemble(packet)
    assembler.flush_all()
    factory.join()                                     # every handler has returned

``read()`` blocks until data or the end of the connection, so without threads, read after
``flush_all()`` (everything is buffered by then). With ``max_buffered`` the assembler blocks
when a direction holds that many unread bytes (backpressure, as tcpreader): a handler must
then read both directions, or ``close()`` the one it does not want, which discards its bytes.

Holes: by default a reader steps over them and records them in ``reader.gaps`` (positions in
the bytes it returned); with ``raise_on_gap`` the read at a hole raises :class:`DataLost`
once, after returning everything before it, so a parser never glues two pieces together
unknowingly.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from pktspec.reassembly.connection import Connection
from pktspec.reassembly.stream import Chunk, Direction, Gap

__all__ = ["DataLost", "ReaderFactory", "ReaderStream", "StreamReader"]


class DataLost(IOError):
    """A read reached a hole of ``skipped`` bytes the capture never had."""

    def __init__(self, skipped: int) -> None:
        super().__init__(f"{skipped} bytes missing from the stream here")
        self.skipped = skipped


class StreamReader(io.RawIOBase):
    """The bytes of one direction, as a readable binary file; thread-safe.

    ``gaps`` lists the holes stepped over (Gap: position in the bytes read so far, length).
    """

    def __init__(self, direction: Direction, *, max_buffered: int | None = None,
                 raise_on_gap: bool = False) -> None:
        super().__init__()
        self.direction = direction
        self.max_buffered = max_buffered
        self.raise_on_gap = raise_on_gap
        self.gaps: list[Gap] = []
        self._cond = threading.Condition()
        self._chunks: deque[list[Any]] = deque()  # [data, offset into data, skipped]
        self._size = 0
        self._eof = False
        self._position = 0

    def readable(self) -> bool:
        return True

    # -- the assembler's side -----------------------------------------------------------------

    def feed(self, chunk: Chunk) -> None:
        """Queue a chunk; blocks while ``max_buffered`` unread bytes wait (and the reader is
        open)."""
        with self._cond:
            limit = self.max_buffered
            while limit is not None and self._size >= limit and not self.closed:
                self._cond.wait()
            if self.closed:
                return
            self._chunks.append([chunk.data, 0, chunk.skipped])
            self._size += len(chunk.data)
            self._cond.notify_all()

    def finish(self) -> None:
        """No more data will come: reads return what is left, then b''."""
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    # -- the reader's side --------------------------------------------------------------------

    def _head(self) -> list[Any] | None:
        """The first unread chunk, waiting for one; None at the end. Holds the lock."""
        while not self._chunks and not self._eof:
            self._cond.wait()
        if not self._chunks:
            return None
        head = self._chunks[0]
        if head[2]:
            skipped, head[2] = head[2], 0
            self.gaps.append(Gap(self._position, skipped))
            if self.raise_on_gap:
                raise DataLost(skipped)
        return head

    def _take(self, head: list[Any], n: int) -> bytes:
        data, off = head[0], head[1]
        out = data[off:off + n]
        head[1] = off + len(out)
        if head[1] >= len(data):
            self._chunks.popleft()
        self._size -= len(out)
        self._position += len(out)
        self._cond.notify_all()
        return out

    def readinto(self, buffer: Any) -> int:
        """Fill buffer with what is available (at least one byte unless at the end)."""
        view = memoryview(buffer).cast("B")
        filled = 0
        with self._cond:
            while filled < len(view):
                if filled and (not self._chunks or (self._chunks[0][2] and self.raise_on_gap)):
                    break  # return what we have: never block, nor raise, with data in hand
                head = self._head()
                if head is None:
                    break
                out = self._take(head, len(view) - filled)
                view[filled:filled + len(out)] = out
                filled += len(out)
        return filled

    def readline(self, size: int | None = -1) -> bytes:
        """Bytes up to and including the next b'\\n' (or size bytes, or the end)."""
        limit = -1 if size is None else size
        out = bytearray()
        with self._cond:
            while limit < 0 or len(out) < limit:
                if out and self._chunks and self._chunks[0][2] and self.raise_on_gap:
                    break
                head = self._head()
                if head is None:
                    break
                data, off = head[0], head[1]
                stop = data.find(b"\n", off)
                n = (stop + 1 if stop >= 0 else len(data)) - off
                if limit >= 0:
                    n = min(n, limit - len(out))
                out += self._take(head, n)
                if out.endswith(b"\n"):
                    break
        return bytes(out)

    def close(self) -> None:
        """Stop reading: queued and future bytes are discarded, a blocked feeder resumes."""
        with self._cond:
            self._chunks.clear()
            self._size = 0
            super().close()
            self._cond.notify_all()


class ReaderStream:
    """A Stream with a :class:`StreamReader` per direction: ``client`` and ``server``."""

    def __init__(self, conn: Connection, *, max_buffered: int | None = None,
                 raise_on_gap: bool = False) -> None:
        self.conn = conn
        options = dict(max_buffered=max_buffered, raise_on_gap=raise_on_gap)
        self.client = StreamReader(Direction.CLIENT, **options)
        self.server = StreamReader(Direction.SERVER, **options)

    def reader(self, direction: Direction) -> StreamReader:
        return self.client if direction is Direction.CLIENT else self.server

    def reassembled(self, chunk: Chunk) -> None:
        self.reader(chunk.direction).feed(chunk)

    def complete(self) -> None:
        self.client.finish()
        self.server.finish()


class ReaderFactory:
    """A factory that runs ``handler(reader_stream)`` in a thread for each connection.

    Exceptions a handler raises are kept in ``errors`` (connection, exception) rather than
    lost in a thread; :meth:`join` waits for every handler. ``max_buffered`` and
    ``raise_on_gap`` are passed to each :class:`ReaderStream`.
    """

    def __init__(self, handler: Callable[[ReaderStream], Any], *,
                 max_buffered: int | None = None, raise_on_gap: bool = False) -> None:
        self.handler = handler
        self.max_buffered = max_buffered
        self.raise_on_gap = raise_on_gap
        self.errors: list[tuple[Connection, BaseException]] = []
        self._threads: list[threading.Thread] = []

    def __call__(self, conn: Connection) -> ReaderStream:
        stream = ReaderStream(conn, max_buffered=self.max_buffered,
                              raise_on_gap=self.raise_on_gap)
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=self._run, args=(stream,), daemon=True,
                                  name=f"pktspec-stream-{conn.index}")
        self._threads.append(thread)
        thread.start()
        return stream

    def _run(self, stream: ReaderStream) -> None:
        try:
            self.handler(stream)
        except BaseException as exc:  # kept for the caller, never lost in the thread
            self.errors.append((stream.conn, exc))
        finally:
            stream.client.close()
            stream.server.close()

    def join(self, timeout: float | None = None) -> None:
        """Wait for every handler started so far to return."""
        for thread in list(self._threads):
            thread.join(timeout)
