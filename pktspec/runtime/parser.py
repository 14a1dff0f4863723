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
from collections.abc import Iterable
from typing import Any

from pktspec.errors import DecodeError
from pktspec.runtime.layer import Layer
from pktspec.runtime.packet import MAX_LAYERS, _as_decode_error
from pktspec.runtime.registry import REGISTRY

__all__ = ["Parser"]

_DEEPER = range(MAX_LAYERS - 3)  # decode_layers writes out the first three steps


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

    # No __getattr__ here: CPython 3.11 does not specialize attribute loads on instances of a
    # class that has one, and decode_layers reads its state from self per packet (0.174x ->
    # 0.194x the hand-written decoder without it). parser.ipv4 is an instance attribute.
    __slots__ = ("decoded", "unsupported", "error", "_first", "_plan", "_instances", "_payload",
                 "__dict__", "__weakref__")

    def __init__(self, first: type | str, layers: Iterable[type | str]) -> None:
        first = REGISTRY.layer(first) if isinstance(first, str) else first
        classes = [REGISTRY.layer(c) if isinstance(c, str) else c for c in layers]
        if first not in classes:
            classes.insert(0, first)
        self._instances: dict[type, Layer] = {cls: cls.__new__(cls) for cls in classes}
        payload = REGISTRY.get_layer("Payload")
        self._payload = payload if payload in self._instances else None
        self.decoded: list[type] = []
        self.unsupported: type | None = None
        self.error: DecodeError | None = None
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
        # what decode_layers reads, in one load: the first class, its instance (None: every
        # packet is unsupported) and the instances' lookup
        self._plan = (self._first, self._instances.get(self._first), self._instances.get)

    @property
    def truncated(self) -> bool:
        """The last packet stopped because a layer ran out of bytes."""
        return self.error is not None and self.error.truncated

    def decode_layers(self, data: Any) -> list[type]:
        """Decode data into the preallocated layers; returns (and keeps) the decoded classes.

        data is used as is: bytes, bytearray or memoryview. Layer contents are slices of it.
        """
        decoded = self.decoded
        decoded.clear()
        self.unsupported = None
        self.error = None
        cls, layer, get = self._plan
        append = decoded.append
        # As in decode() (packet.py), the first three steps are written out so that each
        # copy's attribute loads and calls stay specialized to the one or two classes they
        # see; the first layer's instance is known in advance.
        off = 0
        end = len(data)
        if layer is None:
            self.unsupported = cls
            return decoded
        try:
            nxt = layer._decode(data, off, end)
        except Exception as exc:
            self.error = _as_decode_error(exc, cls, off)
            return decoded
        append(cls)
        off = layer._hend
        end = layer._pend
        if nxt is not None:
            cls = nxt
            layer = get(cls)
            if layer is None:
                self.unsupported = cls
                return decoded
            try:
                nxt = layer._decode(data, off, end)
            except Exception as exc:
                self.error = _as_decode_error(exc, cls, off)
                return decoded
            append(cls)
            off = layer._hend
            end = layer._pend
            if nxt is not None:
                cls = nxt
                layer = get(cls)
                if layer is None:
                    self.unsupported = cls
                    return decoded
                try:
                    nxt = layer._decode(data, off, end)
                except Exception as exc:
                    self.error = _as_decode_error(exc, cls, off)
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
                        self.unsupported = cls
                        return decoded
                    try:
                        nxt = layer._decode(data, off, end)
                    except Exception as exc:
                        self.error = _as_decode_error(exc, cls, off)
                        return decoded
                    append(cls)
                    off = layer._hend
                    end = layer._pend
                else:
                    if nxt is not None:
                        self.error = DecodeError(
                            nxt.name, "", off, f"more than {MAX_LAYERS} layers"
                        )
                        return decoded
        if end > off and self._payload is not None:
            self._decode_payload(data, cls, off, end)
        return decoded

    def _decode_payload(self, data: Any, last: type, off: int, end: int) -> None:
        """The rest after a layer that names no next one, as the Payload layer if the parser
        has it. Payload ends the chain, so (as in decode()) it does not count against
        MAX_LAYERS."""
        cls = self._payload
        if cls is last:
            return
        try:
            self._instances[cls]._decode(data, off, end)
        except Exception as exc:
            self.error = _as_decode_error(exc, cls, off)
            return
        self.decoded.append(cls)

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
