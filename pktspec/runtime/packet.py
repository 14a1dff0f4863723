"""Decoding a packet: bytes in, a Packet of layers out (gopacket's NewPacket and Packet).

:func:`decode` walks the decode chain: it makes the first layer, lets it decode itself, moves to
the payload it reported and goes on with the class it named, until a layer names no successor
(the rest, if any, becomes a ``Payload`` layer) or the bytes run out. Bad bytes never raise:
the layers that decoded are kept, a :class:`DecodeFailure` layer holds the rest and
``packet.error`` says which layer broke, at which field and byte offset. ``strict=True``
raises the DecodeError instead, which is what tests want.

The eager loop is the hot path of every capture run, so it allocates one object per layer and
nothing else: no dict per layer, no isinstance chain, no logging.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pktspec.errors import DecodeError
from pktspec.runtime import fastpath as _fastpath
from pktspec.runtime.layer import FieldInfo, Layer, LayerClass, visible_items
from pktspec.runtime.metadata import CaptureInfo
from pktspec.runtime.registry import REGISTRY, DispatchTable

__all__ = ["MAX_LAYERS", "DecodeFailure", "Packet", "decode", "decode_eager"]

MAX_LAYERS = 256
"""A packet deeper than this is an error: it stops layers that consume nothing from looping."""

_DEEPER = range(MAX_LAYERS - 3)  # the eager loop writes out the first three steps
_new = object.__new__
"""Allocates packets and layers. Layers are made without running a constructor, as
``cls.__new__(cls)`` would, but one attribute lookup cheaper per layer (the decode loop is
the hot path): so a layer class must not define ``__new__`` (none does, and a test says so)."""
_LINK = LayerClass.LINK
_NETWORK = LayerClass.NETWORK
_TRANSPORT = LayerClass.TRANSPORT
_APPLICATION = LayerClass.APPLICATION
_TAIL_LOCK = threading.Lock()


class DecodeFailure(Layer):
    """The error layer (gopacket's DecodeFailure): the bytes that did not decode, and why.

    Its contents run from where the failing layer started to the end of the region that
    layer was given; ``error`` is the DecodeError, also found as ``packet.error``.
    """

    __slots__ = ("error",)
    name = "DecodeFailure"
    layer_class = LayerClass.OTHER
    fields_info = (FieldInfo("error", "DecodeError", kind="value"),)

    def _decode(self, buf: Any, off: int, end: int) -> None:
        self._set_bounds(buf, off, end, end, end)
        return None

    def __repr__(self) -> str:
        return f"<DecodeFailure {self.error}>"


def _as_decode_error(exc: Exception, cls: type, off: int) -> DecodeError:
    """Any exception a layer raised, as the DecodeError that names the layer."""
    if isinstance(exc, DecodeError):
        return exc
    if isinstance(exc, ZeroDivisionError):  # a divisor read from the packet was 0
        message = "a size or count expression divides by zero"
    else:
        message = f"{type(exc).__name__}: {exc}"
    truncated = isinstance(exc, IndexError) or (
        isinstance(exc, struct.error) and "requires a buffer" in str(exc)
    )
    return DecodeError(getattr(cls, "name", cls.__name__), "", off, message, truncated)


def _view(data: Any) -> memoryview:
    """The caller's buffer as a flat memoryview of bytes, without copying it."""
    view = data if type(data) is memoryview else memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


class Packet:
    """The layers of one packet, with its bytes and capture metadata.

    ``layers`` in order; ``layer(IPv4)``, ``packet[IPv4]``, ``IPv4 in packet`` (a class or a
    layer name); ``link``, ``network``, ``transport``, ``application`` by layer class;
    ``error`` (a DecodeError or None); ``metadata`` (CaptureInfo or None); ``data`` (bytes, or
    a memoryview of the caller's buffer with ``copy=False``).

    A lazy packet decodes a layer the first time something asks for it or for a layer after
    it, and never decodes a layer twice. That makes it mutable behind the scenes: a lazy
    packet is not for sharing between threads (decode it fully with ``packet.layers`` first,
    or give each thread its own packet).
    """

    # _net and _trans: the network and transport layers when decode() saw the usual
    # link / network / transport start, else None (and the properties look for them)
    __slots__ = ("data", "metadata", "_layers", "_error", "_pending", "_tail", "_strict",
                 "_net", "_trans")

    data: Any
    metadata: CaptureInfo | None

    # -- lazy decoding ----------------------------------------------------------------------

    def _step(self) -> Layer:
        """Decode the pending layer, append it (or the failure) and set up the next one."""
        cls, off, end = self._pending
        self._pending = None
        layer = _new(cls)
        try:
            nxt = layer._decode(self.data, off, end)
        except Exception as exc:
            return self._fail(exc, cls, off, end)
        self._layers.append(layer)
        hend = layer._hend
        pend = layer._pend
        # The rest becomes Payload, which ends the chain: like the eager loop's deferred
        # Payload layer, it does not count against MAX_LAYERS.
        if nxt is None:
            if pend > hend:
                nxt = REGISTRY.payload
                if nxt is cls:
                    nxt = None
        elif len(self._layers) >= MAX_LAYERS:
            return self._fail(_too_deep(nxt, hend), nxt, hend, pend)
        if nxt is not None:
            self._pending = (nxt, hend, pend)
        return layer

    def _decode_until(self, target: Any) -> Layer | None:
        """Decode pending layers up to the first one that is target, and no further.

        target is a LayerClass (``packet.transport``), a layer class (``packet[TCP]``) or
        None (decode the rest). This is :meth:`_step` in a loop, with the pending state kept
        in locals until it stops: lazy packets spend their time here, once per lookup.
        """
        pending = self._pending
        if pending is None:
            return None
        by_kind = target is None or type(target) is LayerClass
        # the packet's own link/network/transport layers end at a quoting layer (ICMP error)
        own = target is not None and by_kind and target is not _APPLICATION
        cls, off, end = pending
        self._pending = None
        buf = self.data
        layers = self._layers
        while True:
            try:
                if _decode_layer is None:
                    layer = _new(cls)
                    nxt = layer._decode(buf, off, end)
                else:  # the compiled step (fastpath.py): the layer's program when it has one
                    layer, nxt = _decode_layer(cls, buf, off, end)
            except Exception as exc:
                layer = self._fail(exc, cls, off, end)
                return layer if _matches(layer, target) else None
            layers.append(layer)
            off = layer._hend
            end = layer._pend
            if nxt is None:
                if end > off:  # Payload ends the chain: not counted, as in _step
                    nxt = REGISTRY.payload
                    if nxt is cls:
                        nxt = None
            elif len(layers) >= MAX_LAYERS:
                failure = self._fail(_too_deep(nxt, off), nxt, off, end)
                if _matches(layer, target):
                    return layer
                return failure if _matches(failure, target) else None
            if layer.layer_class is target if by_kind else isinstance(layer, target):
                if nxt is not None:
                    self._pending = (nxt, off, end)
                return layer
            if nxt is None:
                return None
            if own and layer.QUOTES:
                self._pending = (nxt, off, end)  # the packet's own layers end here
                return None
            cls = nxt

    def _fail(self, exc: Exception, cls: type, off: int, end: int) -> DecodeFailure:
        """Record a failed layer: the error, and a DecodeFailure over the bytes it left."""
        error = _as_decode_error(exc, cls, off)
        self._error = error
        self._pending = None
        failure = _new(DecodeFailure)
        failure.error = error
        failure._set_bounds(self.data, off, end, end, end)
        self._layers.append(failure)
        if self._strict:
            if error is exc:
                raise error
            raise error from exc
        return failure

    def _decode_rest(self) -> None:
        self._decode_until(None)

    def _add_tail(self) -> Layer:
        """Make the deferred Payload layer of an eager packet (see :func:`decode`).

        Eager packets may be shared between threads, so this one step takes a lock; it runs
        at most once per packet.
        """
        with _TAIL_LOCK:
            tail = self._tail
            if tail is None:
                return self._layers[-1]
            cls, off, end = tail
            layer = _new(cls)
            try:
                layer._decode(self.data, off, end)
            except Exception as exc:
                self._tail = None
                return self._fail(exc, cls, off, end)
            self._layers.append(layer)
            self._tail = None
            return layer

    def _find(self, match: Callable[[Layer], bool]) -> Layer | None:
        """The first layer for which match(layer) is true, decoding as far as needed."""
        for layer in self._layers:
            if match(layer):
                return layer
        while self._pending is not None:
            layer = self._step()
            if match(layer):
                return layer
        if self._tail is not None:
            layer = self._add_tail()
            if match(layer):
                return layer
        return None

    def _find_more(self, target: Any) -> Layer | None:
        """The first layer not decoded yet that is target (a LayerClass or a layer class).

        The part of a lookup after the loop over the decoded layers: a lazy packet decodes
        up to that layer, an eager one may make its deferred Payload layer.
        """
        if self._pending is not None:
            layer = self._decode_until(target)
            if layer is not None:
                return layer
        if self._tail is not None:
            layer = self._add_tail()
            if _matches(layer, target):
                return layer
        return None

    # -- access -----------------------------------------------------------------------------

    @property
    def layers(self) -> list[Layer]:
        """Every layer, in order (decodes the rest of a lazy packet). Do not modify the list."""
        if self._pending is not None:
            self._decode_rest()
        if self._tail is not None:
            self._add_tail()
        return self._layers

    @property
    def error(self) -> DecodeError | None:
        """Why decoding stopped early, or None (decodes the rest of a lazy packet)."""
        if self._pending is not None:
            self._decode_rest()
        return self._error

    @property
    def decoded(self) -> list[Layer]:
        """The layers decoded so far, without decoding more (a copy of the list)."""
        return list(self._layers)

    def layer(self, which: type | str) -> Layer | None:
        """The first layer of class which (or called which), or None.

        A lazy packet decodes up to that layer and no further.
        """
        if type(which) is str:
            return self._find(lambda layer: layer.name == which)
        for layer in self._layers:
            if isinstance(layer, which):
                return layer
        if self._pending is None and self._tail is None:
            return None
        return self._find_more(which)

    def __getitem__(self, key: type | str | int) -> Any:
        """``packet[IPv4]`` / ``packet["IPv4"]`` (KeyError when absent) or ``packet[0]``."""
        if isinstance(key, (int, slice)):
            return self.layers[key]
        layer = self.layer(key)
        if layer is None:
            name = key if isinstance(key, str) else getattr(key, "name", key)
            raise KeyError(f"packet has no {name} layer")
        return layer

    def __contains__(self, which: type | str) -> bool:
        return self.layer(which) is not None

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    # The four typed layers are read for every packet of a capture: each is one loop over
    # the decoded layers, with the class constant bound at definition time, and a lazy
    # packet goes on decoding only as far as the layer asked for.

    @property
    def link(self) -> Layer | None:
        """The first link layer (Ethernet, SLL, ...), or None."""
        for layer in self._layers:
            if layer.layer_class is _LINK:
                return layer
            if layer.QUOTES:  # what follows is another packet's copy (an ICMP error's)
                return None
        if self._pending is None and self._tail is None:
            return None
        return self._find_more(_LINK)

    @property
    def network(self) -> Layer | None:
        """The first network layer (IPv4, IPv6, ARP, ...), or None."""
        layer = self._net
        if layer is not None:
            return layer
        for layer in self._layers:
            if layer.layer_class is _NETWORK:
                return layer
            if layer.QUOTES:  # what follows is another packet's copy (an ICMP error's)
                return None
        if self._pending is None and self._tail is None:
            return None
        return self._find_more(_NETWORK)

    @property
    def transport(self) -> Layer | None:
        """The first transport layer (TCP, UDP, SCTP, ...), or None."""
        layer = self._trans
        if layer is not None:
            return layer
        for layer in self._layers:
            if layer.layer_class is _TRANSPORT:
                return layer
            if layer.QUOTES:  # what follows is another packet's copy (an ICMP error's)
                return None
        if self._pending is None and self._tail is None:
            return None
        return self._find_more(_TRANSPORT)

    @property
    def application(self) -> Layer | None:
        """The first application layer (a Payload counts), or None."""
        for layer in self._layers:
            if layer.layer_class is _APPLICATION:
                return layer
        if self._pending is None and self._tail is None:
            return None
        return self._find_more(_APPLICATION)

    @property
    def truncated(self) -> bool:
        """The capture kept fewer bytes than were sent, a layer ran out of bytes, or a
        layer's length field announces more payload than is there (``payload_missing``)."""
        if self.metadata is not None and self.metadata.truncated:
            return True
        error = self.error
        if error is not None and error.truncated:
            return True
        return any(layer.payload_missing for layer in own_layers(self.layers))

    # -- display ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        if self._tail is not None:
            self._add_tail()
        names = " / ".join(layer.name for layer in self._layers)
        more = " / ..." if self._pending is not None else ""
        return f"<Packet {len(self.data)} bytes: {names or '-'}{more}>"

    def dump(self) -> str:
        """A field tree, one layer after the other, as tshark -V shows it."""
        lines = [f"Packet: {len(self.data)} bytes"]
        if self.metadata is not None:
            m = self.metadata
            lines.append(
                f"  captured {m.timestamp:.6f}, caplen {m.caplen}, length {m.length}, "
                f"interface {m.interface}" + (" (truncated)" if m.truncated else "")
            )
        layers = self.layers
        for i, layer in enumerate(layers):
            if isinstance(layer, DecodeFailure):
                lines.append(f"- DecodeFailure, {layer.length} bytes: {layer.error}")
                continue
            # the last layer's payload is what nothing decoded further: show its size and bytes
            rest = layer._pend - layer._hend if i == len(layers) - 1 else 0
            head = f"- {layer.name}, {layer.length} bytes at offset {layer.offset}"
            lines.append(head + (f", {rest} bytes of payload" if rest > 0 else ""))
            for name, value in layer._display_fields():
                _dump_value(lines, "    ", name, value)
            if rest > 0:
                _dump_value(lines, "    ", "payload", layer.payload)
        return "\n".join(lines)

    def show(self) -> None:
        """Print :meth:`dump`."""
        print(self.dump())

    # -- building ---------------------------------------------------------------------------

    def build(self, *, fix_lengths: bool | None = None,
              compute_checksums: bool | None = None) -> bytes:
        """The packet's bytes built again from its layers (after edits, say).

        By default only what an edit made stale is recomputed, so an unedited packet gives
        back its bytes exactly; True recomputes every length/checksum, False none.
        """
        from pktspec.runtime.serialize import serialize

        return serialize(self, fix_lengths=fix_lengths, compute_checksums=compute_checksums)

    def verify_checksums(self) -> list:
        """Every checksum that does not match what the bytes say (empty when all are good):
        BadChecksum entries with the layer, field, value found and value expected."""
        from pktspec.runtime.serialize import verify_checksums

        return verify_checksums(self)


def _dump_value(lines: list[str], indent: str, name: str, value: Any) -> None:
    if isinstance(value, list):
        lines.append(f"{indent}{name}: {len(value)} item(s)")
        for i, item in enumerate(value):
            _dump_value(lines, indent + "  ", str(i), item)
    elif isinstance(value, dict):
        lines.append(f"{indent}{name}:")
        for key, item in visible_items(value):
            _dump_value(lines, indent + "  ", str(key), item)
    elif isinstance(value, Layer):
        lines.append(f"{indent}{name}:")
        for key, item in value._display_fields():
            _dump_value(lines, indent + "  ", key, item)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        text = data.hex(" ") if len(data) <= 32 else f"{data[:32].hex(' ')} ..."
        lines.append(f"{indent}{name}: {text} ({len(data)} bytes)")
    else:
        lines.append(f"{indent}{name}: {value}")


def _matches(layer: Layer, target: Any) -> bool:
    """Whether layer is target: a LayerClass (the layer's kind), a layer class, or None."""
    if target is None:
        return False
    if type(target) is LayerClass:
        return layer.layer_class is target
    return isinstance(layer, target)


def _too_deep(cls: type, off: int) -> DecodeError:
    return DecodeError(
        getattr(cls, "name", cls.__name__), "", off, f"more than {MAX_LAYERS} layers"
    )


def _first_layer(first: Any) -> type:
    if isinstance(first, str):
        return REGISTRY.layer(first)
    if isinstance(first, type) and issubclass(first, Layer):
        return first
    raise TypeError(
        f"decode() needs a layer class or a registered layer name as first, not {first!r}"
        + (" (no layer is bound to this link type?)" if first is None else "")
    )


def own_layers(layers: list[Layer]) -> list[Layer]:
    """The layers of the packet itself: up to the first that quotes another packet (an ICMP
    error, ``quotes;``), whose quoted copy is cut short on purpose (RFC 792 quotes a header
    and 8 bytes), so its length fields and checksums are not this packet's."""
    for i, layer in enumerate(layers):
        if layer.QUOTES:
            return layers[: i + 1]
    return layers


def decode(
    data: bytes | bytearray | memoryview,
    first: type | str,
    *,
    lazy: bool = False,
    copy: bool = True,
    strict: bool = False,
    metadata: CaptureInfo | None = None,
) -> Packet:
    """Decode data starting with the layer class first (or the layer called first).

    ``copy=True`` keeps the packet's own bytes (bytes input is immutable and is used as is);
    ``copy=False`` keeps the caller's buffer as a memoryview, so layer contents are views into
    it: faster, but the caller must not reuse the buffer while the packet lives.
    ``lazy=True`` decodes layers only when they are asked for. ``strict=True`` raises the
    DecodeError instead of keeping it in ``packet.error``. ``metadata`` is the CaptureInfo of
    the record the bytes came from.

    An eager packet is fully decoded on return, with one saving: the trailing ``Payload``
    layer (a view of the bytes no layer claimed, which cannot fail) is made the first time
    ``layers``, ``application`` or a lookup reaches it. Most capture loops read the network
    and transport layers and never pay for it.
    """
    if copy:
        buf = data if type(data) is bytes else bytes(data)
    else:
        buf = _view(data)
    if type(first) is not type:  # layer classes have no metaclass: one check on the hot path
        first = _first_layer(first)
    if lazy:
        packet = _new(Packet)
        packet.data = buf
        packet.metadata = metadata
        packet._strict = strict
        packet._error = None
        packet._tail = None
        packet._net = packet._trans = None
        packet._layers = []
        packet._pending = (first, 0, len(buf))
        return packet
    return decode_eager(buf, first, metadata, strict)


def decode_eager(buf: Any, first: type, metadata: CaptureInfo | None = None,
                 strict: bool = False) -> Packet:
    """:func:`decode` with ``lazy=False``, for callers that already hold what it checks:
    buf is the packet's bytes (a bytes object, or a flat memoryview for copy=False) and
    first a layer class. Capture sources call this once per record, positionally, which
    saves the keyword handling of decode()."""
    packet = _new(Packet)
    packet.data = buf
    packet.metadata = metadata
    packet._strict = strict
    packet._error = None
    packet._tail = None
    packet._net = packet._trans = None
    packet._pending = None

    # The eager loop, the hot path of every capture run. The first three steps (link, network
    # and transport in most captures) are written out, each a copy of the loop body: CPython
    # specializes attribute loads and calls per bytecode site, and a site that always sees
    # the same class (Ethernet first, IPv4 or IPv6 second, TCP or UDP third) stays
    # specialized, where one shared body sees every class in turn and keeps falling back to
    # the generic path. The first three layers are kept in locals and the list is made once
    # they are decoded (a list display is cheaper than three appends). Measured on the
    # benchmark capture: 1.89 -> 1.67 us per packet for the unrolling.
    cls = first
    off = 0
    end = len(buf)
    one = _new(cls)
    try:
        nxt = one._decode(buf, off, end)
    except Exception as exc:
        packet._layers = []
        packet._fail(exc, cls, off, end)
        return packet
    off = one._hend
    end = one._pend
    if nxt is None:
        packet._layers = [one]
    else:
        cls = nxt
        two = _new(cls)
        try:
            nxt = two._decode(buf, off, end)
        except Exception as exc:
            packet._layers = [one]
            packet._fail(exc, cls, off, end)
            return packet
        off = two._hend
        end = two._pend
        if nxt is None:
            packet._layers = [one, two]
        else:
            cls = nxt
            layer = _new(cls)
            try:
                nxt = layer._decode(buf, off, end)
            except Exception as exc:
                packet._layers = [one, two]
                packet._fail(exc, cls, off, end)
                return packet
            off = layer._hend
            end = layer._pend
            layers = packet._layers = [one, two, layer]
            # Link, network, transport: the usual chain, which `network` and `transport`
            # are then told about (read for most packets: saves a loop over the layers each)
            if one.layer_class is _LINK and two.layer_class is _NETWORK:
                packet._net = two
                if layer.layer_class is _TRANSPORT:
                    packet._trans = layer
            if nxt is not None:
                _decode_deeper(packet, layers, nxt, buf, off, end)
                return packet
    if end > off:
        nxt = REGISTRY.payload
        if nxt is not None and nxt is not cls:
            packet._tail = (nxt, off, end)
    return packet


def _decode_deeper(packet: Packet, layers: list[Layer], cls: type, buf: Any, off: int,
                   end: int) -> None:
    """Layers 4 to MAX_LAYERS of an eager decode: the loop body once more (see decode)."""
    append = layers.append
    nxt: type | None = cls
    for _ in _DEEPER:
        if nxt is None:
            break
        cls = nxt
        layer = _new(cls)
        try:
            nxt = layer._decode(buf, off, end)
        except Exception as exc:
            packet._fail(exc, cls, off, end)
            return
        append(layer)
        off = layer._hend
        end = layer._pend
    else:
        if nxt is not None:
            packet._fail(_too_deep(nxt, off), nxt, off, end)
            return
    if end > off:
        nxt = REGISTRY.payload
        if nxt is not None and nxt is not cls:
            packet._tail = (nxt, off, end)


# The compiled loop (runtime/fastpath.py), when it is built: decode_eager becomes the C one,
# which follows python_decode_eager above statement for statement and falls back to it for
# buffers it does not read itself.
python_decode_eager = decode_eager
_compiled_decode_eager = _fastpath.configure(
    packet_type=Packet, layer_type=Layer, link=LayerClass.LINK, network=LayerClass.NETWORK,
    transport=LayerClass.TRANSPORT, registry=REGISTRY, python_decode_eager=decode_eager,
    too_deep=_too_deep, as_decode_error=_as_decode_error, max_layers=MAX_LAYERS,
    table_type=DispatchTable)
if _compiled_decode_eager is not None:
    decode_eager = _compiled_decode_eager  # noqa: F811
_decode_layer = _fastpath.decode_layer()
