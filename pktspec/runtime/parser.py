"""The fast parser over preallocated layers (gopacket's DecodingLayerParser).

:func:`~pktspec.runtime.packet.decode` makes a new Packet and new layer objects for every
packet, which is what you want when packets are kept, passed around or printed. A loop that
only looks at a few fields of millions of packets wants none of that: :class:`Parser` makes one
instance of each layer class you name, once, and decodes every packet into those same objects::

    parser = Parser(Ethernet, [Ethernet, IPv4, IPv6, TCP, UDP])
    for data in source:
        for cls in parser.decode_layers(data):
            if cls is TCP:
                count[parser[TCP].dst_port] += 1

Layer objects are overwritten by the next packet: copy what you keep. A layer class that is
not in the parser stops decoding with ``parser.unsupported`` set to it (gopacket returns
UnsupportedLayerType; here it is not an error, because "decode up to TCP" is the usual wish),
and bad bytes stop it with ``parser.error`` set, never with an exception.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Iterable
from typing import Any

from pktspec.errors import DecodeError
from pktspec.runtime import fastpath
from pktspec.runtime.layer import Layer
from pktspec.runtime.packet import MAX_LAYERS, _as_decode_error, _too_deep
from pktspec.runtime.registry import REGISTRY

__all__ = ["Parser"]

_DEEPER = range(MAX_LAYERS - 3)  # decode_layers writes out the first three steps


class _Outcome:
    """Why the last decode_layers stopped: the class not given to the parser, or the error.
    Held apart from the Parser so that its decoder refers to this, not to the parser (a
    parser dropped is freed at once, with the last packet's buffer)."""

    __slots__ = ("unsupported", "error")

    def __init__(self) -> None:
        self.unsupported: type | None = None
        self.error: DecodeError | None = None


def _decoder(first: type, instances: dict[type, Layer], payload: type | None,
             decoded: list[type], state: _Outcome) -> Callable[[Any], list[type]]:
    """decode_layers for one parser and first layer, as a closure over what it reads.

    Why a closure: a method reads the parser's state from ``self`` for every packet, and
    these loads were most of what the parser itself costs (benchmarks/bench_decode.py: the
    Parser at 0.184x the hand-written decoder as a method, 0.194x this way).
    """
    get = instances.get
    head = get(first)  # None: every packet is unsupported
    payload_layer = instances.get(payload) if payload is not None else None
    append = decoded.append
    clear = decoded.clear

    def decode_layers(data: Any) -> list[type]:
        """Decode data into the preallocated layers; returns (and keeps) the decoded
        classes."""
        clear()
        state.unsupported = None
        state.error = None
        cls = first
        layer = head
        # As in decode() (packet.py), the first three steps are written out so that each
        # copy's attribute loads and calls stay specialized to the one or two classes they
        # see; the first layer's instance is known in advance.
        off = 0
        end = len(data)
        if layer is None:
            state.unsupported = cls
            return decoded
        try:
            nxt = layer._decode(data, off, end)
        except Exception as exc:
            state.error = _as_decode_error(exc, cls, off)
            return decoded
        append(cls)
        off = layer._hend
        end = layer._pend
        if nxt is not None:
            cls = nxt
            layer = get(cls)
            if layer is None:
                state.unsupported = cls
                return decoded
            try:
                nxt = layer._decode(data, off, end)
            except Exception as exc:
                state.error = _as_decode_error(exc, cls, off)
                return decoded
            append(cls)
            off = layer._hend
            end = layer._pend
            if nxt is not None:
                cls = nxt
                layer = get(cls)
                if layer is None:
                    state.unsupported = cls
                    return decoded
                try:
                    nxt = layer._decode(data, off, end)
                except Exception as exc:
                    state.error = _as_decode_error(exc, cls, off)
                    return decoded
                append(cls)
                off = layer._hend
                end = layer._pend
                for _ in _DEEPER:  # layers 4 to MAX_LAYERS: the same body once more
                    if nxt is None:
                        break
                    cls = nxt
                    layer = get(cls)
                    if layer is None:
                        state.unsupported = cls
                        return decoded
                    try:
                        nxt = layer._decode(data, off, end)
                    except Exception as exc:
                        state.error = _as_decode_error(exc, cls, off)
                        return decoded
                    append(cls)
                    off = layer._hend
                    end = layer._pend
                else:
                    if nxt is not None:
                        state.error = _too_deep(nxt, off)
                        return decoded
        if end > off and payload is not None and payload is not cls:
            try:
                payload_layer._decode(data, off, end)
            except Exception as exc:
                state.error = _as_decode_error(exc, payload, off)
                return decoded
            append(payload)
        return decoded

    # the compiled loop, when built, runs this same function's steps in C (fastpath.py)
    return fastpath.chain_decoder(first, instances, payload, decoded, state, decode_layers)


class Parser:
    """Decode packets into one preallocated instance per layer class.

    ``first`` is the class of the first layer (or its registered name); ``layers`` the classes
    to decode. After :meth:`decode_layers`: ``decoded`` lists the classes decoded, in order
    (the same list object every time); ``parser[IPv4]`` or ``parser.ipv4`` is the IPv4
    instance; ``unsupported`` is the next class when it was not given to the parser (else
    None); ``error`` is the DecodeError that stopped decoding (else None) and ``truncated``
    says whether it was a layer running out of bytes.

    When a layer names no next layer but carries a payload, the parser decodes the payload as
    the registered ``Payload`` layer if that class is among ``layers``.
    """

    # No __getattr__ (parser.ipv4 is an instance attribute): CPython 3.11 does not specialize
    # attribute loads on instances of a class that has one.
    __slots__ = ("_decoded", "_outcome", "_first", "_decoder", "_instances", "_payload",
                 "__dict__", "__weakref__")

    def __init__(self, first: type | str, layers: Iterable[type | str]) -> None:
        first = REGISTRY.layer(first) if isinstance(first, str) else first
        classes = [REGISTRY.layer(c) if isinstance(c, str) else c for c in layers]
        if first not in classes:
            classes.insert(0, first)
        self._instances: dict[type, Layer] = {cls: cls.__new__(cls) for cls in classes}
        payload = REGISTRY.get_layer("Payload")
        self._payload = payload if payload in self._instances else None
        self._decoded: list[type] = []
        self._outcome = _Outcome()
        self.first = first
        for cls, layer in self._instances.items():  # parser.ipv4, parser.IPv4
            for name in {cls.name, cls.name.casefold()}:
                if name.isidentifier() and not keyword.iskeyword(name) \
                        and not name.startswith("_") and not hasattr(type(self), name):
                    self.__dict__.setdefault(name, layer)

    @property
    def first(self) -> type:
        """The class of the first layer; may be changed (to a class or a layer name) between
        packets, for instance when a new capture has another link type."""
        return self._first

    @first.setter
    def first(self, cls: type | str) -> None:
        self._first = REGISTRY.layer(cls) if isinstance(cls, str) else cls
        self._decoder = _decoder(self._first, self._instances, self._payload, self._decoded,
                                 self._outcome)
        if type(self).decode_layers is Parser.decode_layers:
            # parser.decode_layers is then the closure itself (an instance attribute hides
            # the method), one call less per packet; a subclass's own method is left alone
            self.__dict__["decode_layers"] = self._decoder

    @property
    def decoded(self) -> list[type]:
        """The classes the last packet decoded into, in order (the same list every time)."""
        return self._decoded

    @property
    def unsupported(self) -> type | None:
        """The next layer's class when the parser was not given it, else None."""
        return self._outcome.unsupported

    @property
    def error(self) -> DecodeError | None:
        """What stopped the last packet's decoding, else None."""
        return self._outcome.error

    @property
    def truncated(self) -> bool:
        """The last packet stopped because a layer ran out of bytes."""
        error = self._outcome.error
        return error is not None and error.truncated

    def decode_layers(self, data: Any) -> list[type]:
        """Decode data into the preallocated layers; returns (and keeps) the decoded classes.

        data is used as is: bytes, bytearray or memoryview. Layer contents are slices of it.
        """
        return self._decoder(data)

    def __getitem__(self, cls: type | str) -> Layer:
        """The preallocated instance of cls (a class or a layer name)."""
        if isinstance(cls, str):
            return self._by_name(cls)
        return self._instances[cls]

    def _by_name(self, name: str) -> Layer:
        folded = name.casefold()
        for cls, layer in self._instances.items():
            if cls.name.casefold() == folded:
                return layer
        known = ", ".join(cls.name for cls in self._instances)
        raise KeyError(f"parser has no {name} layer (it has: {known})")

    def __contains__(self, cls: type) -> bool:
        return cls in self._instances

    def __repr__(self) -> str:
        names = ", ".join(cls.name for cls in self._instances)
        return f"<Parser first={self.first.name} layers=[{names}]>"
