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

A hole in the stream loses the framing (the next length field is somewhere in the missing
bytes), so decoding of that direction stops there and ``stream.errors`` says why; so does a
message larger than ``max_message`` (a bound against hostile lengths) and bytes that are not a
message of the layer. At the end of a connection, bytes that never made a whole message come
out as one last message with ``partial`` set (its packet's ``error`` says what is missing).
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
MAX_BUFFERED = 64 << 20
"""What a MessageFactory's streams may hold in unfinished messages, all together."""

RETRY_FROM = 1 << 16
"""An unfinished message longer than this is looked at again only after growing a quarter."""
"""Default bound on one message (bytes): a larger declared length stops the direction."""


class Message:
    """One decoded message: ``packet`` (a Packet whose first layer is the message layer),
    ``layer`` (that layer), ``connection``, ``direction``, ``offset`` (where it starts in the
    direction's delivered bytes), ``timestamp`` (capture time of the packet that completed
    it) and ``partial`` (the connection ended before the message did)."""

    __slots__ = ("packet", "connection", "direction", "offset", "timestamp", "partial")

    def __init__(self, packet: Packet, connection: Connection, direction: Direction,
                 offset: int, timestamp: float, partial: bool = False) -> None:
        self.packet = packet
        self.connection = connection
        self.direction = direction
        self.offset = offset
        self.timestamp = timestamp
        self.partial = partial

    @property
    def layer(self) -> Any:
        return self.packet.layers[0]

    def __repr__(self) -> str:
        more = " partial" if self.partial else ""
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
    """Decoding state of one direction: unread bytes, where they start, whether it stopped."""

    __slots__ = ("buf", "offset", "stopped", "timestamp", "retry_at")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.offset = 0
        self.stopped: str | None = None
        self.timestamp = 0.0
        self.retry_at = 0  # an unfinished big message is looked at again at this size


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
    collects why a direction stopped.
    """

    def __init__(self, conn: Connection, on_message: Callable[[Message], Any],
                 layer: type | str | None = None, *, max_message: int = MAX_MESSAGE,
                 budget: _Budget | None = None) -> None:
        self.conn = conn
        self.on_message = on_message
        self.layer = port_layer(conn) if layer is None else _layer_class(layer)
        self.max_message = max_message
        self.errors: list[str] = []
        self._dirs = (_Direction(), _Direction())
        self._budget = budget

    def reassembled(self, chunk: Chunk) -> None:
        state = self._dirs[chunk.direction]
        if state.stopped or self.layer is None:
            return
        if chunk.skipped:
            self._stop(state, chunk.direction, f"{chunk.skipped} bytes missing at byte "
                       f"{state.offset + len(state.buf)}: message framing lost")
            return
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
                       state.timestamp)
            pos += extent
        del buf[:pos]
        state.offset += pos
        if self._budget is not None:
            self._budget.used -= pos

    def _emit(self, data: bytes, direction: Direction, offset: int, ts: float,
              partial: bool = False) -> None:
        packet = decode(data, self.layer)  # type: ignore[arg-type]
        self.on_message(Message(packet, self.conn, direction, offset, ts, partial))

    def _emit_partial(self, data: bytes, direction: Direction, offset: int, ts: float) -> None:
        """The bytes left when the connection ended, as a partial message whose packet's
        error says what is missing: a length-framed message decodes without complaint over
        fewer bytes than its header claims (its payload is cut to what is there), so the
        shortfall is stated here."""
        packet = decode(data, self.layer)  # type: ignore[arg-type]
        if packet.error is None:
            try:
                _, need = _extent_or_need(self.layer, bytearray(data), 0)  # type: ignore[arg-type]
            except DecodeError:
                need = None
            missing = ("the connection ended inside this message: its header asks for more "
                       f"than the {len(data)} bytes that came" if need is not None else
                       "the connection ended inside this message (its end was not seen)")
            packet._error = DecodeError(self.layer.name, "", len(data), missing,  # type: ignore[union-attr]
                                        truncated=True)
        self.on_message(Message(packet, self.conn, direction, offset, ts, True))

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
            if state.buf and not state.stopped and state.retry_at:
                state.retry_at = 0
                self._cut(state, direction)  # whole messages held back by the retry size
            if state.buf and not state.stopped:
                self._emit_partial(bytes(state.buf), direction, state.offset, state.timestamp)
                if self._budget is not None:
                    self._budget.used -= len(state.buf)
                state.buf.clear()


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
    message at most ``max_message``.
    """

    def __init__(self, on_message: Callable[[Message], Any], layer: type | str | None = None,
                 *, max_message: int = MAX_MESSAGE, max_buffered: int = MAX_BUFFERED) -> None:
        self.on_message = on_message
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
                               budget=self._budget)
        self.streams.append(stream)
        return stream


def messages(source: Any, layer: type | str | None = None, *, max_message: int = MAX_MESSAGE,
             max_buffered: int = MAX_BUFFERED, **assembler_options: Any) -> Iterator[Message]:
    """Yield the messages of every TCP connection of a capture (a path, or packets).

    Messages come out as soon as they are whole, so in capture order of their last byte.
    ``layer`` forces the message layer for every connection; by default each connection's
    port picks it (``extend TCPPort``) and connections on other ports are skipped.
    """
    from pktspec.reassembly.collect import open_packets

    factory = MessageFactory(None, layer, max_message=max_message,  # type: ignore[arg-type]
                             max_buffered=max_buffered)
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
