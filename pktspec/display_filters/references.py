"""Field references: ``layer.field[.flag][slice]`` resolved against the registry, and how they
read their values out of a decoded packet.

Resolving when the filter is compiled makes a misspelt name fail at once, with a suggestion;
reading by name when it runs sees a .layer file reloaded since. Both filters and ``-e``
columns read fields through here.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from lark import Token

from pktspec.display_filters.frames import _FRAME, Frames, _frame_value
from pktspec.display_filters.tshark_fields import (
    _ALIASES,
    _COMPOSED,
    _FIELD_ALIASES,
    _HEX,
    TSHARK_FIELDS,
    _Tshark,
)
from pktspec.errors import DecodeError, DisplayFilterError
from pktspec.runtime.layer import Layer
from pktspec.runtime.packet import Packet
from pktspec.runtime.registry import REGISTRY

_EITHER = ("addr", "port")  # either end of a layer's flow


class _Ref:
    """``layer.field[.flag]`` resolved against the registry when the filter is compiled
    (misspellings fail at once) and again by name when it runs (a .layer file reloaded
    since is seen)."""

    def __init__(self, text: str, names: list[Any]) -> None:
        self.cut: tuple[int, int | None] | None = None  # [offset] or [offset:length]
        if names and isinstance(names[-1], tuple):
            self.cut = names.pop()
        self.column = names[0].column
        first = str(names[0])
        self.frame = first.lower() == "frame"
        self.path = [str(n) for n in names[1:]]
        self.info: Any = None
        self.mask = 0
        self.tshark: _Tshark | None = None
        self.hex_width: int | None = None
        self.composed: Callable[[Any], Any] | None = None
        self.label = ".".join([first, *self.path])
        if self.frame:
            if self.cut is not None and not self.path:
                return
            if len(self.path) != 1 or self.path[0] not in _FRAME:
                raise DisplayFilterError(text, names[min(1, len(names) - 1)].column,
                                         "frame has " + ", ".join(_FRAME[:-1]) + " and "
                                         + _FRAME[-1] + " (and its bytes, "
                                         "frame[offset:length])")
            return
        self.tshark = TSHARK_FIELDS.get(".".join([first.lower(), *self.path]))
        if self.tshark is not None:
            self.cls = REGISTRY.get_layer(self.tshark.layers[0])
            if self.cls is not None:
                self.name = self.cls.name
                self.hex_width = self.tshark.hex_width
                return
            self.tshark = None
        self.cls = _layer(text, first, self.column)
        self.name = self.cls.name
        if len(self.path) > 2:
            raise DisplayFilterError(text, names[3].column, "at most layer.field.flag")
        if self.path:
            self._field(text, names, first)

    def _field(self, text: str, names: list[Token], first: str) -> None:
        fields = {f.name: f for f in self.cls.fields_info}
        name = self.path[0]
        if name not in fields and name not in _EITHER:
            alias = next((a for a in _FIELD_ALIASES.get(name, ()) if a in fields), None)
            suffixed = [f for f in fields if f.endswith("_" + name)]  # vlan.id: vlan_id
            if alias is None and len(suffixed) == 1:
                alias = suffixed[0]
            if alias is not None:
                name = self.path[0] = alias
        self.info = fields.get(name)
        if self.info is None and name not in _EITHER and name != "data":
            prefix = first.lower() + "."
            tshark = [k[len(prefix):] for k in TSHARK_FIELDS if k.startswith(prefix)]
            wanted = ".".join(self.path)
            close = difflib.get_close_matches(wanted, [*fields, *tshark], 1, 0.6)
            hint = f"; did you mean {close[0]!r}?" if close else \
                f" (its fields: {', '.join(fields) or 'none'})"
            raise DisplayFilterError(text, names[1].column,
                                     f"{self.cls.name} has no field {name!r}{hint}")
        if len(self.path) == 2:
            if self.info is None or self.info.kind != "flags":
                raise DisplayFilterError(text, names[2].column,
                                         f"{self.cls.name}.{name} is not a flag set")
            self.mask = flag_mask(self.info.flags, self.path[1])
            if self.mask is None:
                known = ", ".join(n for n, _, _ in self.info.flags._order_)
                raise DisplayFilterError(text, names[2].column,
                                         f"{self.cls.name}.{name} has no flag "
                                         f"{self.path[1]!r} (its flags: {known})")
            return
        if self.info is not None:
            self.hex_width = _HEX.get((self.cls.name, name))
            self.composed = _COMPOSED.get((self.cls.name, name))

    def kind(self) -> str:
        """What the values are, for comparing them: number, address, bytes, text, layer or
        other (a struct, a list, a computed value)."""
        if self.cut is not None:
            return "number" if self.cut[1] is None else "bytes"
        if self.frame:
            return "text" if self.path[0] == "comment" else "number"
        if self.tshark is not None:
            return self.tshark.kind
        if not self.path:
            return "layer"
        if self.mask:
            return "number"
        if self.info is None:
            return {"port": "number", "addr": "address", "data": "bytes"}[self.path[0]]
        return {"int": "number", "enum": "number", "flags": "number", "address": "address",
                "bytes": "bytes"}.get(self.info.kind, "other")

    def values(self, packet: Packet, frames: Frames) -> list[Any]:
        """The values this reference has in packet: one per matching layer (or end), cut
        to ``[offset]`` (a byte, as a number) or ``[offset:length]`` (bytes) when asked."""
        found = self._values(packet, frames)
        if self.cut is None:
            return found
        start, length = self.cut
        out = []
        for value in found:
            data = _bytes_of(value)
            if data is None:
                continue
            if length is None:
                if start < len(data):
                    out.append(data[start])
            elif start + length <= len(data):
                out.append(data[start:start + length])
        return out

    def _values(self, packet: Packet, frames: Frames) -> list[Any]:
        if self.frame and self.cut is not None and not self.path:
            return [bytes(packet.data)]
        if self.frame:
            value = _frame_value(self.path[0], packet, frames)
            return [] if value is None else [value]
        if self.tshark is not None:
            return self._tshark_values(packet)
        cls = REGISTRY.get_layer(self.name) or self.cls
        layers = [layer for layer in packet.layers if isinstance(layer, cls)]
        if not self.path:
            return layers
        name = self.path[0]
        out: list[Any] = []
        for layer in layers:
            if name == "data" and self.info is None:
                out.append(bytes(layer.payload))
            elif self.info is None:
                out += _ends(layer, name)
            else:
                try:
                    value = getattr(layer, name, None)
                    if self.composed is not None and value is not None:
                        value = self.composed(layer)
                except DecodeError:  # a lazily decoded part that is broken: not there
                    continue
                if self.mask and value is not None:
                    value = bool(int(value) & self.mask)
                out.append(value)
        return [v for v in out if v is not None]

    def _tshark_values(self, packet: Packet) -> list[Any]:
        assert self.tshark is not None
        classes = tuple(c for c in (REGISTRY.get_layer(n) for n in self.tshark.layers)
                        if c is not None)
        out: list[Any] = []
        for layer in packet.layers:
            if not isinstance(layer, classes):
                continue
            try:
                value = self.tshark.get(layer, packet)
            except (DecodeError, AttributeError, TypeError, ValueError):
                continue  # a broken or missing part: not there
            if isinstance(value, list):
                out += [v for v in value if v is not None]
            elif value is not None:
                out.append(value)
        return out


class _Masked:
    """``field & mask``: the field's numbers anded with the mask."""

    def __init__(self, ref: _Ref, mask: int) -> None:
        self.ref, self.mask = ref, mask
        self.column, self.label, self.info = ref.column, f"{ref.label} & {mask:#x}", None
        self.frame, self.path, self.cut, self.hex_width = False, ["&"], None, None

    def kind(self) -> str:
        return "number"

    def values(self, packet: Packet, frames: Frames) -> list[Any]:
        out = []
        for value in self.ref.values(packet, frames):
            try:
                out.append(int(value) & self.mask)
            except (TypeError, ValueError):
                continue
        return out


def _bytes_of(value: Any) -> bytes | None:
    """The bytes a slice cuts: a field's bytes, or a whole layer's (from its first byte to
    the end of what it was given: header, payload and trailer, as tshark's tcp[0:2])."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Layer) and getattr(value, "_buf", None) is not None:
        return bytes(value._buf[value._off:value._end])
    return None


def flag_mask(flags: Any, name: str) -> int | None:
    """The bit of a flag set named as the layer file names it or as displays show it (its
    short name: ``DF`` for dont_fragment, ``WEP``), in any case; None when there is none."""
    folded = name.casefold()
    for flag, mask, short in flags._order_:
        if folded in (flag.casefold(), short.casefold()):
            return mask
    return None


def _ends(layer: Any, name: str) -> list[Any]:
    """``addr``: every address field of the layer (802.11's four, ARP's, IP's two), else
    the ends of its flow; ``port``: the ends of its flow."""
    if name == "addr":
        addresses = [getattr(layer, f.name, None) for f in layer.fields_info
                     if f.kind == "address"]
        if addresses:
            return [str(a) for a in addresses if a is not None]
    flow = getattr(layer, "flow", None)
    if flow is None:
        return []
    return [e.raw if name == "port" else str(e) for e in (flow.src, flow.dst)]


def _layer_named(name: str) -> type | None:
    cls = REGISTRY.get_layer(_ALIASES.get(name.lower(), name))
    if cls is None:
        matches = [c for c in REGISTRY.layers() if c.name.lower() == name.lower()]
        cls = matches[0] if len(matches) == 1 else None
    return cls


def _layer(text: str, name: str, column: int) -> type:
    cls = _layer_named(name)
    if cls is None:
        raise DisplayFilterError(text, column, f"no layer called {name!r} (see "
                                 "'pktspec list'; load a .layer file with --layers)")
    return cls
