"""Application messages over reassembled TCP streams, described by .layer files.

A protocol that frames its messages with a length field needs no Python: describe one message
as a layer whose payload the length bounds, and bind it to its port like any other layer::

    # lenmsg.layer
    import "tcp.layer"
    layer LenMsg : application {
        kind: u8;
        length: u16 = len(payload);
        payload = length;
    }
    extend TCPPort { 5555 -> LenMsg }

    pktspec.load("lenmsg.layer")
    for message in messages("trace.pcap"):
        print(message.connection.index, message.direction.name, message.layer.kind,
              bytes(message.layer.payload))

How a stream is cut: the message layer is decoded at the start of the direction's unread
bytes; its header and payload (the layer's own boundaries) are one message, and decoding goes
on right after it. A message whose bytes have not all arrived waits for more: the layer is
decoded over the bytes so far plus one padding byte, so a declared length beyond them shows
as a payload that reaches the padding (decoders clip payloads to what they are given, which
would otherwise make a partial message look whole). Each message is then decoded again, alone,
as a :class:`~pktspec.runtime.packet.Packet` starting with the message layer, so whatever the
layer's ``next`` names (DNS after DNS-over-TCP's length) is decoded too.

A hole in the stream loses the framing: the next length field may be in the missing bytes.
The message the hole cut comes out with ``partial`` set (its packet's ``error`` says how many
bytes are missing), and framing starts again at the first segment after the hole whose bytes
decode as a message of the layer (segments that do not are dropped), as tshark does. The first
message after that has ``skipped`` set to the bytes lost before it (the hole and any dropped
segments): its framing was found again, not followed. ``resync=False`` stops the direction at
the hole instead. A direction also stops, with ``stream.errors`` saying why, at a message
larger than ``max_message`` (a bound against hostile lengths) and at bytes that are not a
message of the layer (after a hole, that only drops the segment). At the end of a connection,
bytes that never made a whole message come out as one last message with ``partial`` set.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import construct as _c

from pktspec.errors import DecodeError
from pktspec.reassembly.connection import Connection
from pktspec.reassembly.stream import Chunk, Direction
from pktspec.runtime.build import plan_of
from pktspec.runtime.packet import Packet, decode
from pktspec.runtime.registry import REGISTRY

__all__ = ["Message", "MessageFactory", "MessageStream", "message_extent", "messages"]

MAX_MESSAGE = 16 << 20
"""Default bound on one message (bytes): a larger declared length stops the direction."""

MAX_BUFFERED = 64 << 20
"""What a MessageFactory's streams may hold in unfinished messages, all together."""

MAX_GUESSES = 256
"""After a hole, how many segment starts may wait at once to be taken as message starts (a
true start waits for its first message to end: up to 64 KiB for a 16-bit length)."""

LOOKAHEAD = 32
"""After a hole, the messages cut from a guessed start must end on a segment end within this
many messages, or the guess fails."""

RETRY_FROM = 1 << 16
"""An unfinished message longer than this is looked at again only after growing a quarter."""


class Message:
    """One decoded message: ``packet`` (a Packet whose first layer is the message layer),
    ``layer`` (that layer), ``connection``, ``direction``, ``offset`` (where it starts in the
    direction's delivered bytes), ``timestamp`` (capture time of the packet that completed
    it), ``partial`` (the connection ended, or a hole in the capture came, before the
    message did) and ``skipped`` (bytes lost just before it: missing from the capture, or
    dropped while framing was found again after a hole; 0 when it follows the previous
    message directly)."""

    __slots__ = ("packet", "connection", "direction", "offset", "timestamp", "partial",
                 "skipped")

    def __init__(self, packet: Packet, connection: Connection, direction: Direction,
                 offset: int, timestamp: float, partial: bool = False,
                 skipped: int = 0) -> None:
        self.packet = packet
        self.connection = connection
        self.direction = direction
        self.offset = offset
        self.timestamp = timestamp
        self.partial = partial
        self.skipped = skipped

    @property
    def layer(self) -> Any:
        return self.packet.layers[0]

    def __repr__(self) -> str:
        more = " partial" if self.partial else ""
        if self.skipped:
            more += f" after {self.skipped} bytes lost"
        return (f"<Message {self.connection.index} {self.direction.name} at {self.offset}: "
                f"{self.packet!r}{more}>")


def message_extent(cls: type, buf: bytearray, pos: int) -> int | None:
    """Length of the message of layer cls at buf[pos:], or None while it is incomplete.

    Raises DecodeError when the bytes there are not such a message. buf gets one padding byte
    for the duration of the call (see the module docstring).
    """
    return _extent_or_need(cls, buf, pos)[0]


@functools.cache
def _delimited(cls: type) -> bool:
    """Whether finding a message's end means reading it for a delimiter (``bytes until``):
    only then is a long unfinished message looked at less often (length-framed ones cost
    a header decode per segment)."""
    from pktspec.runtime.constructs import Delimited

    seen: set[int] = set()

    def walk(con: Any) -> bool:
        if id(con) in seen:
            return False
        seen.add(id(con))
        if isinstance(con, Delimited):
            return True
        children = [getattr(con, "subcon", None), getattr(con, "thensubcon", None),
                    getattr(con, "elsesubcon", None), *getattr(con, "subcons", ()),
                    *(getattr(con, "cases", None) or {}).values(), getattr(con, "default", None)]
        return any(walk(c) for c in children if isinstance(c, _c.Construct))

    fmt = getattr(cls, "FORMAT", None)
    return fmt is None or walk(fmt)


def _extent_or_need(cls: type, buf: bytearray, pos: int) -> tuple[int | None, int | None]:
    """(message length, None) for a whole message at buf[pos:]; (None, bytes it needs
    from pos) when its header says how long it is but not all of it is here; (None, None)
    when its end is not known yet (a delimiter not seen, a header cut short)."""
    have = len(buf)
    first = _padded(cls, buf, pos, have, 0x00)
    if isinstance(first, DecodeError) or (first is not None and first[0] > have):
        # The header may have read the padding byte itself (a length field whose last byte
        # has not come yet): then the result depends on the padding. Decode again with
        # another one; if anything differs, the header is not all here.
        if _same(_padded(cls, buf, pos, have, 0xFF)) != _same(first):
            return None, None
    if isinstance(first, DecodeError):
        raise first
    if first is None:
        return None, None
    hend, pend = first
    if hend > have or pend > have:
        return None, (max(hend, pend) - pos if pend > have and hend <= have else None)
    if pend <= pos:
        raise DecodeError(cls.name, "", pos, "a message layer must consume at least one byte")
    return pend - pos, None


def _same(result: Any) -> Any:
    """What two decodes must share to be the same: the bounds, or the error's text."""
    return str(result) if isinstance(result, DecodeError) else result


def _padded(cls: type, buf: bytearray, pos: int, have: int,
            pad: int) -> tuple[int, int] | DecodeError | None:
    """_bounds over buf with one padding byte of value pad (taken off again)."""
    buf.append(pad)
    try:
        return _bounds(cls, buf, pos, have)
    except DecodeError as exc:
        return exc
    finally:
        del buf[have:]


def _bounds(cls: type, buf: bytearray, pos: int, have: int) -> tuple[int, int] | None:
    """Header and payload ends of cls decoded at pos over the padded buffer; None when it
    ran out of bytes. The layer is dropped on return, so nothing keeps the buffer."""
    layer = cls.__new__(cls)
    try:
        layer._decode(buf, pos, have + 1)
    except DecodeError as exc:
        if exc.truncated or exc.offset >= have:
            return None
        raise
    except (struct.error, IndexError):
        return None
    # the fields after its payload (`trailer { ... }`: a message's CRC) belong to it too
    return layer._hend, layer._pend + plan_of(cls).trailer_size_of(layer)


class _Direction:
    """Decoding state of one direction: unread bytes, where they start, whether it stopped,
    and after a hole whether framing is being looked for (``seeking``), whether the bytes
    held are only a guess at a message start (``tentative``: no message came out since the
    hole) and how many bytes were lost since the last message (``lost``)."""

    __slots__ = ("buf", "offset", "stopped", "timestamp", "retry_at", "seeking", "tentative",
                 "lost", "starts", "guesses")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.offset = 0
        self.stopped: str | None = None
        self.timestamp = 0.0
        self.retry_at = 0  # an unfinished big message is looked at again at this size
        self.seeking = False
        self.tentative = False
        self.lost = 0
        self.starts: list[int] = []  # while tentative: where later segments start in buf
        self.guesses: list[_Guess] = []  # while tentative: segment starts that may frame


class _Guess:
    """A segment start after a hole that may be where messages start again: ``chain`` is
    the end of the whole messages cut from it so far, ``wait`` the buffer size at which the
    next one may be whole (it is not looked at before)."""

    __slots__ = ("start", "chain", "wait", "cut")

    def __init__(self, start: int) -> None:
        self.start = self.chain = self.wait = start
        self.cut = 0  # messages cut from it

    def shift(self, n: int) -> None:
        self.start -= n
        self.chain -= n
        self.wait -= n


class _Budget:
    """Bytes of unfinished messages that a factory's streams hold together, and the bound."""

    __slots__ = ("limit", "used", "stopped")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.stopped = 0  # directions stopped because the bound was reached


class MessageStream:
    """A Stream that cuts each direction into messages of one layer class.

    ``layer`` is the message layer (a class or a layer name); by default the one bound in the
    ``TCPPort`` table to the lower, then the higher, port of the connection, as the TCP
    layer picks its next layer. ``on_message(message)`` gets each message; ``errors``
    collects why a direction stopped. ``resync`` (default) finds the framing again after a
    hole in the capture (module docstring); with ``resync=False`` a hole stops the
    direction.
    """

    def __init__(self, conn: Connection, on_message: Callable[[Message], Any],
                 layer: type | str | None = None, *, max_message: int = MAX_MESSAGE,
                 budget: _Budget | None = None, resync: bool = True) -> None:
        self.conn = conn
        self.on_message = on_message
        self.layer = port_layer(conn) if layer is None else _layer_class(layer)
        self.max_message = max_message
        self.resync = resync
        self.errors: list[str] = []
        self._dirs = (_Direction(), _Direction())
        self._budget = budget

    def reassembled(self, chunk: Chunk) -> None:
        state = self._dirs[chunk.direction]
        if state.stopped or self.layer is None:
            return
        if chunk.skipped:
            if not self.resync:
                self._stop(state, chunk.direction, f"{chunk.skipped} bytes missing at byte "
                           f"{state.offset + len(state.buf)}: message framing lost")
                return
            self._hole(state, chunk)
            if state.stopped:
                return
        if state.seeking:
            if not self._starts_message(chunk.data):
                state.offset += len(chunk.data)  # delivered, but not a message start: dropped
                state.lost += len(chunk.data)
                return
            state.seeking = False
        if state.tentative:
            if state.buf:
                state.starts.append(len(state.buf))
            state.guesses.append(_Guess(len(state.buf)))
            state.retry_at = 0  # a new start to try
        state.buf += chunk.data
        state.timestamp = chunk.timestamp
        budget = self._budget
        if budget is not None:
            budget.used += len(chunk.data)
        if len(state.buf) >= state.retry_at:
            self._cut(state, chunk.direction)
        if budget is not None and budget.used > budget.limit and state.buf:
            budget.stopped += 1
            self._stop(state, chunk.direction, f"unfinished messages of all connections "
                       f"over {budget.limit} bytes: this direction stopped")

    def _cut(self, state: _Direction, direction: Direction) -> None:
        """Deliver every whole message at the front of the direction's bytes."""
        if state.tentative and not self._find_framing(state, direction):
            return
        buf = state.buf
        pos = 0
        state.retry_at = 0
        while pos < len(buf):
            try:
                extent, need = _extent_or_need(self.layer, buf, pos)  # type: ignore[arg-type]
            except DecodeError as exc:
                self._stop(state, direction, f"not a {self.layer.name} message: {exc}")
                return  # _stop released the whole buffer, emitted messages included
            if extent is None or extent > self.max_message:
                size = extent or need or len(buf) - pos
                if size > self.max_message:  # whole or not: too big
                    self._stop(state, direction, f"message larger than {self.max_message}")
                    return
                rest = len(buf) - pos
                if need is not None:  # its length is known: look again once it is all here
                    state.retry_at = need
                elif rest > RETRY_FROM and _delimited(self.layer):
                    # its end is found only by reading it (a delimiter): a long one is
                    # looked at again when it has grown by a quarter, so that it costs
                    # linear time, not quadratic (it may come out that much later)
                    state.retry_at = rest + rest // 4
                break
            self._emit(bytes(buf[pos:pos + extent]), direction, state.offset + pos,
                       state.timestamp, skipped=state.lost)
            state.lost = 0
            pos += extent
        del buf[:pos]
        state.offset += pos
        if self._budget is not None:
            self._budget.used -= pos

    def _emit(self, data: bytes, direction: Direction, offset: int, ts: float,
              skipped: int = 0) -> None:
        packet = decode(data, self.layer)  # type: ignore[arg-type]
        self.on_message(Message(packet, self.conn, direction, offset, ts, False, skipped))

    def _emit_partial(self, state: _Direction, direction: Direction, cause: str) -> None:
        """The direction's unread bytes as a partial message whose packet's error says what
        is missing (``cause``: the connection ended, or a hole came): a length-framed
        message decodes without complaint over fewer bytes than its header claims (its
        payload is cut to what is there), so the shortfall is stated here."""
        data = bytes(state.buf)
        packet = decode(data, self.layer)  # type: ignore[arg-type]
        if packet.error is None:
            try:
                _, need = _extent_or_need(self.layer, bytearray(data), 0)  # type: ignore[arg-type]
            except DecodeError:
                need = None
            missing = (f"{cause} inside this message: its header asks for more than the "
                       f"{len(data)} bytes that came" if need is not None else
                       f"{cause} inside this message (its end was not seen)")
            packet._error = DecodeError(self.layer.name, "", len(data), missing,  # type: ignore[union-attr]
                                        truncated=True)
        self.on_message(Message(packet, self.conn, direction, state.offset, state.timestamp,
                                True, state.lost))
        state.lost = 0

    def _hole(self, state: _Direction, chunk: Chunk) -> None:
        """Bytes missing before chunk: the message they cut comes out as partial, and
        framing is looked for from chunk on."""
        self._drain(state, chunk.direction, f"{chunk.skipped} bytes are missing from the capture")
        state.retry_at = 0
        state.seeking = state.tentative = True
        state.starts.clear()
        state.guesses.clear()
        state.lost += chunk.skipped

    def _starts_message(self, data: bytes) -> bool:
        """Whether a message of the layer may start at data[0] (one whose end is not known
        yet counts: the next bytes tell)."""
        try:
            _extent_or_need(self.layer, bytearray(data), 0)  # type: ignore[arg-type]
        except DecodeError:
            return False
        return True

    def _find_framing(self, state: _Direction, direction: Direction,
                       final: bool = False) -> bool:
        """After a hole, choose where messages start again among the segment starts held
        (True: the bytes before it are dropped and framing goes on from there as usual).

        A start is taken once the messages cut from it end exactly where a segment ends:
        messages are sent whole, so a true start lines up with the segments, while the
        tail of the message the hole cut mostly decodes as a header whose length does not.
        The first start that lines up wins. A start fails when its bytes are not a message,
        a message is larger than max_message, or none of the LOOKAHEAD messages cut from it
        ends on a segment end. At most MAX_GUESSES wait at once (the one whose next message
        reaches furthest is dropped first; with a delimiter, the latest). Each start's messages are cut once and looked
        at again only when enough bytes have come (for a delimiter, as a quarter more comes;
        later starts then wait for the same delimiter and are not read), so a hole costs
        time linear in the bytes after it. ``final`` (the connection ended, or another hole came):
        the earliest start still waiting is taken as it is, its whole messages come out
        and the rest as partial.
        """
        buf = state.buf
        bounds = {*state.starts, len(buf)}
        delimited = _delimited(self.layer)
        waiting: list[_Guess] = []
        for guess in state.guesses:
            if guess.wait > len(buf) or (delimited and waiting):
                waiting.append(guess)  # nothing new for it yet
                continue
            verdict = self._advance(guess, buf, bounds)
            if verdict:
                return self._take(state, guess)
            if verdict is None:
                waiting.append(guess)
        if final and waiting:
            return self._take(state, waiting[0])
        while len(waiting) > MAX_GUESSES:  # the least likely goes: for a delimiter, the
            # latest start (they all wait for the same one); else the furthest next end
            waiting.remove(waiting[-1] if delimited else
                           max(reversed(waiting), key=lambda g: g.wait))
        state.guesses = waiting
        if not waiting:  # look at the segments that come next
            state.lost += len(buf)
            self._release(state, len(buf))
            state.starts.clear()
            state.seeking = True
            state.retry_at = 0
            return False
        self._drop_before(state, waiting[0].start)
        state.retry_at = min(g.wait for g in waiting)
        return False

    def _advance(self, guess: _Guess, buf: bytearray, bounds: set[int]) -> bool | None:
        """Cut more messages from a guessed start: True when one ends on a segment end,
        False when the guess fails, None when the next message is not all here (``wait``
        says from which buffer size it may be)."""
        pos = guess.chain
        while pos < len(buf):
            try:
                extent, need = _extent_or_need(self.layer, buf, pos)  # type: ignore[arg-type]
            except DecodeError:
                return False
            if (extent or need or len(buf) - pos) > self.max_message:
                return False
            if extent is None:
                guess.chain = pos
                if need is not None:
                    guess.wait = pos + need
                else:  # its end is found by reading it: again when a quarter more has come
                    guess.wait = len(buf) + max(1, (len(buf) - pos) // 4)
                return None
            pos += extent
            guess.cut += 1
            if pos in bounds:
                guess.chain = pos
                return True
            if guess.cut >= LOOKAHEAD:
                return False
        guess.chain = pos
        return None

    def _take(self, state: _Direction, guess: _Guess) -> bool:
        """Frame from guess on: the bytes before it are lost."""
        self._drop_before(state, guess.start)
        state.tentative = False
        state.starts.clear()
        state.guesses.clear()
        state.retry_at = 0
        return True

    def _drop_before(self, state: _Direction, start: int) -> None:
        """Drop the bytes before start (counted as lost) and shift the guesses."""
        if start <= 0:
            return
        state.lost += start
        self._release(state, start)
        state.starts[:] = [s - start for s in state.starts if s > start]
        for guess in state.guesses:
            guess.shift(start)

    def _release(self, state: _Direction, n: int) -> None:
        """Forget the first n unread bytes (they came out, or were dropped)."""
        del state.buf[:n]
        state.offset += n
        if self._budget is not None:
            self._budget.used -= n

    def _stop(self, state: _Direction, direction: Direction, why: str) -> None:
        state.stopped = why
        if self._budget is not None:
            self._budget.used -= len(state.buf)
        state.buf.clear()
        self.errors.append(f"{direction.name}: {why}")

    def complete(self) -> None:
        """Bytes that never made a whole message come out as one partial message."""
        for direction in Direction:
            state = self._dirs[direction]
            if not state.stopped:
                self._drain(state, direction, "the connection ended")

    def _drain(self, state: _Direction, direction: Direction, cause: str) -> None:
        """Nothing more will follow the bytes held (a hole, or the end, comes next): the
        whole messages among them come out, then the rest as one partial message."""
        if state.buf and state.tentative:
            if self._find_framing(state, direction, final=True):
                self._cut(state, direction)
        elif state.buf and state.retry_at:
            state.retry_at = 0
            self._cut(state, direction)  # whole messages held back by the retry size
        if state.buf and not state.stopped:
            self._emit_partial(state, direction, cause)
            self._release(state, len(state.buf))


def _layer_class(layer: type | str) -> type:
    return REGISTRY.layer(layer) if isinstance(layer, str) else layer


def port_layer(conn: Connection) -> type | None:
    """The message layer bound in the TCPPort table to the connection's lower, then higher,
    port: one that says where its payload ends (``FRAMED``); HTTP's layers, bound to port
    80, describe a segment's start line and frame no messages."""
    table = REGISTRY.table("TCPPort")
    a, b = conn.transport.src_raw, conn.transport.dst_raw
    for port in (min(a, b), max(a, b)):
        cls = table.get(port)
        if cls is not None and cls.FRAMED:
            return cls
    return None


class _Ignore:
    """The stream of a connection that carries no known messages."""

    __slots__ = ()

    def reassembled(self, chunk: Chunk) -> None:
        pass

    def complete(self) -> None:
        pass


class MessageFactory:
    """An assembler factory: a :class:`MessageStream` for each connection whose port (or
    the given ``layer``) names a message layer, nothing for the others.

    Unfinished messages live outside the assembler's buffers, so the factory bounds them
    itself: all its streams together hold at most ``max_buffered`` bytes (a direction that
    would go over stops, says so in its ``errors``, and counts in ``buffer_stops``), and one
    message at most ``max_message``. ``resync=False`` stops a direction at a hole instead of
    finding the framing again after it.
    """

    def __init__(self, on_message: Callable[[Message], Any], layer: type | str | None = None,
                 *, max_message: int = MAX_MESSAGE, max_buffered: int = MAX_BUFFERED,
                 resync: bool = True) -> None:
        self.on_message = on_message
        self.resync = resync
        self.layer = None if layer is None else _layer_class(layer)
        self.max_message = max_message
        self.streams: list[MessageStream] = []
        self._budget = _Budget(max_buffered)

    @property
    def buffered(self) -> int:
        """Bytes of unfinished messages held now, all streams together."""
        return self._budget.used

    @property
    def buffer_stops(self) -> int:
        """Directions stopped because ``max_buffered`` was reached."""
        return self._budget.stopped

    def __call__(self, conn: Connection) -> Any:
        if self.layer is None and port_layer(conn) is None:
            return _Ignore()
        stream = MessageStream(conn, self.on_message, self.layer, max_message=self.max_message,
                               budget=self._budget, resync=self.resync)
        self.streams.append(stream)
        return stream


def messages(source: Any, layer: type | str | None = None, *, max_message: int = MAX_MESSAGE,
             max_buffered: int = MAX_BUFFERED, resync: bool = True,
             **assembler_options: Any) -> Iterator[Message]:
    """Yield the messages of every TCP connection of a capture (a path, or packets).

    Messages come out as soon as they are whole, so in capture order of their last byte.
    ``layer`` forces the message layer for every connection; by default each connection's
    port picks it (``extend TCPPort``) and connections on other ports are skipped. After a
    hole in the capture the framing is found again (``message.skipped`` says how many bytes
    were lost before a message); ``resync=False`` stops that direction at the hole.
    """
    from pktspec.reassembly.collect import open_packets

    factory = MessageFactory(None, layer, max_message=max_message,  # type: ignore[arg-type]
                             max_buffered=max_buffered, resync=resync)
    yield from messages_through(factory, open_packets(source), **assembler_options)


def messages_through(factory: MessageFactory, packets: Iterable[Packet],
                     **assembler_options: Any) -> Iterator[Message]:
    """messages() with a factory the caller keeps: afterwards ``factory.streams`` holds
    each connection's stream, whose ``errors`` say where a direction stopped."""
    from pktspec.reassembly.tcp import TCPAssembler

    ready: list[Message] = []
    factory.on_message = ready.append
    assembler = TCPAssembler(factory, **assembler_options)
    for packet in packets:
        assembler.assemble(packet)
        if ready:
            yield from ready
            ready.clear()
    assembler.flush_all()
    yield from ready
