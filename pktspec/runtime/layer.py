"""The Layer base class: what every decoded header shares (gopacket's Layer and BaseLayer).

A generated layer class (see docs/GENERATED.md) sets its fields in ``__slots__`` from its
``_decode(buf, off, end)`` and records where its header, payload and trailer are with
``_set_bounds``. Everything else a person or a tool asks of a layer lives here and works from
those two things plus the class's ``fields_info`` table:

- ``contents``, ``payload``, ``trailer``: slices of the packet buffer (bytes, or memoryview
  slices of the caller's buffer when the packet was decoded with ``copy=False``);
- ``raw_fields()``: the values as stored, comparable with what ``FORMAT.parse`` gives;
- ``fields()`` and ``repr()``: the values as shown, ``TCP (6)`` rather than ``6``;
- ``_fail`` and ``_truncated``: the DecodeErrors a decoder raises, which name the field and
  the byte offset, so that ``packet.error`` tells the user where the bytes went wrong.

Nothing here runs per packet except what ``_decode`` itself calls, so a layer costs what its
generated decoder costs.

Layers are built too (:mod:`pktspec.runtime.serialize`): ``IPv4(src="192.0.2.1", ttl=8)``
makes a layer to build (``__init__`` is never on the decode path, which makes layers with
``cls.__new__``), ``a / b`` stacks layers, ``bytes(layer)`` and ``layer.build()`` serialize,
and the fields shown through properties (addresses, flags, options) take assignments, in
the form people write them: ``layer.src = "192.0.2.9"``, ``layer.flags = "SA"``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, ClassVar

from pktspec.errors import DecodeError
from pktspec.runtime.fastpath import attach_program
from pktspec.runtime.summary import summary_of

__all__ = ["FieldInfo", "Layer", "LayerClass", "RESERVED_NAMES"]


class LayerClass(enum.IntEnum):
    """Where a layer sits: ``packet.link``, ``.network``, ``.transport``, ``.application``."""

    OTHER = 0
    LINK = 1
    NETWORK = 2
    TRANSPORT = 3
    APPLICATION = 4


# Field kinds whose raw value lives in the slot ``_<name>`` while ``<name>`` is a property
# that shows it (a FlagSet, an address as text).
RAW_SLOT_KINDS = frozenset({"flags", "address"})
_ADDRESS_TYPES = frozenset({"mac", "ipv4", "ipv6", "mac_addr", "ipv4_addr", "ipv6_addr"})
_INT_TYPE = re.compile(r"^(u|i|s|b|bits)\d+(le|be)?$")


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """One field of a layer, for display, export, error offsets and ``pktspec list/doc``.

    ``offset`` and ``size`` are in bytes from the start of the layer and are known for the
    fixed part of a header (None after a variable-length part); ``bits`` is the width of a
    bit field, whose ``offset``/``size`` are those of the bytes that hold it and ``bit`` its
    first bit in them (0 the most significant, as RFC diagrams count). ``line`` is the
    line in the .layer file. ``kind`` says how the value is stored; when not given it follows
    from the other arguments: ``flags`` (a FlagSet class given), ``address`` (a mac/ipv4/ipv6
    type), ``enum`` (an OpenEnum given), ``int``, or ``value`` for anything else.
    ``raw_attr`` is where the raw value lives: ``_<name>`` for flags and addresses, whose
    ``<name>`` is a property that shows the value, ``<name>`` otherwise.
    """

    name: str
    type_name: str
    enum: Any = None
    flags: Any = None
    bits: int | None = None
    offset: int | None = None
    size: int | None = None
    line: int | None = None
    doc: str | None = None
    kind: str | None = None
    bit: int | None = None
    raw_attr: str = field(init=False, default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        kind = self.kind
        if kind is None:
            if self.flags is not None:
                kind = "flags"
            elif self.type_name in _ADDRESS_TYPES:
                kind = "address"
            elif self.enum is not None:
                kind = "enum"
            elif _INT_TYPE.match(self.type_name):
                kind = "int"
            else:
                kind = "value"
            object.__setattr__(self, "kind", kind)
        raw_attr = "_" + self.name if kind in RAW_SLOT_KINDS else self.name
        object.__setattr__(self, "raw_attr", raw_attr)


_UNSET = object()


class _HeaderLength:
    """``layer.length``: the header length in bytes, ``len(layer.contents)``.

    A non-data descriptor on purpose: a layer with a field called ``length`` (UDP, many
    others) shadows it, with a slot in generated classes or an instance attribute in Python
    layers, and then ``layer.length`` is that field.
    """

    def __get__(self, layer: Any, owner: type | None = None) -> Any:
        if layer is None:
            return self
        return layer._hend - layer._off


class Layer:
    """Base of every layer class, generated or written in Python.

    A layer is made by the runtime with ``cls.__new__(cls)`` (no ``__init__`` on the decode
    path) and filled by ``_decode(buf, off, end) -> next layer class | None``. Class
    attributes describe the layer: ``name``, ``layer_class``, ``source`` (the .layer file),
    ``fields_info`` (a tuple of FieldInfo in wire order) and, for generated layers, ``FORMAT``
    (the construct Struct: the reference decoder and the builder).
    """

    __slots__ = ("_buf", "_off", "_hend", "_pend", "_end", "_forced")

    name: ClassVar[str] = "Layer"
    layer_class: ClassVar[LayerClass] = LayerClass.OTHER
    source: ClassVar[str | None] = None
    fields_info: ClassVar[tuple[FieldInfo, ...]] = ()
    FORMAT: ClassVar[Any] = None
    # A layer's ``guard`` (generated from ``guard expr;``): a function (buf, off, end) -> bool
    # that a parent's dispatch calls before choosing this layer; None accepts every binding.
    _guard: ClassVar[Any] = None
    # Checksum fields where 0 means "none" (`optional` in the .layer file: UDP's).
    OPTIONAL_CHECKSUMS: ClassVar[tuple[str, ...]] = ()
    # Whether a TCP stream of these is cut into messages when messages() picks the layer by
    # port: a generated layer without ``payload = ...;`` says False (its message would run
    # to the end of the stream: HTTP's start lines); a Python layer frames itself
    FRAMED: ClassVar[bool] = True
    # Generated for a layer whose payload has a length (``payload = expr;``) or that has a
    # trailer: the layer end its fields announce (payload, then trailer), which
    # payload_missing compares with the bytes the layer was given.
    _payload_wanted: ClassVar[Any] = None
    # What the builder reads (docs/GENERATED.md); generated classes set those they have.
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    RELATIONS: ClassVar[tuple[tuple[str, str, Callable[[Any], Any]], ...]] = ()
    HEADER: ClassVar[Callable[[Any], int] | None] = None
    PSEUDO_HEADER: ClassVar[Callable[[Any], bytes] | None] = None
    NEXT: ClassVar[tuple[str, tuple[str, ...]] | None] = None
    # (field, layer name, value when the next layer is that one, value otherwise): from
    # ``next by ... unless field == K -> Layer`` (MPLS's bottom-of-stack bit)
    NEXT_UNLESS: ClassVar[tuple[str, str, int | None, int | None] | None] = None
    # ``quotes;``: the layers after this one decode a copy of another packet (an ICMP error's
    # quoted datagram): packet.network/transport, flows and reassembly stop here
    QUOTES: ClassVar[bool] = False
    # The compiled fast path (runtime/fastpath.py): the generated decoder restated as data
    # (generator/fast_program.py), and its compiled form when the extension is built
    _PROGRAM: ClassVar[tuple | None] = None
    _fast: ClassVar[Any] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__
        _add_setters(cls)
        attach_program(cls)

    # -- building ---------------------------------------------------------------------------

    def __init__(self, **fields: Any) -> None:
        """A new layer to build, with the given fields (in the forms people write: addresses
        as text, flags as ``"SA"`` or names, enum members by name) and the others at their
        declared defaults, or zero. Lengths, checksums and the fields that name the next
        layer start as None: the builder computes them unless they are given."""
        _build_module().init_layer(self, fields)

    def force(self, **fields: Any) -> Layer:
        """Set fields to values no fixing overrides, not even ``fix_lengths=True`` or
        ``compute_checksums=True`` (a deliberately wrong checksum); returns the layer."""
        _build_module().force(self, fields)
        return self

    def build(self, *, fix_lengths: bool | None = None,
              compute_checksums: bool | None = None) -> bytes:
        """This layer's bytes, with its payload (see ``pktspec.runtime.serialize``)."""
        return _serialize_module().serialize(self, fix_lengths=fix_lengths,
                                             compute_checksums=compute_checksums)

    def __bytes__(self) -> bytes:
        return _serialize_module().serialize(self)

    def __truediv__(self, other: Any) -> Any:
        """``Ethernet() / IPv4() / TCP() / b"data"``: a LayerStack, built on ``bytes()``."""
        return _serialize_module().stack(self, other)

    def __rtruediv__(self, other: Any) -> Any:
        return _serialize_module().stack(other, self)

    # -- decoding ---------------------------------------------------------------------------

    def _decode(self, buf: Any, off: int, end: int) -> type[Layer] | None:
        """Decode the layer at buf[off:end]; set fields and bounds; return the next class."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _decode")

    def _set_bounds(self, buf: Any, off: int, hend: int, pend: int, end: int) -> None:
        """Record the layer's extent: header [off:hend], payload [hend:pend], trailer [pend:end]."""
        self._buf = buf
        self._off = off
        self._hend = hend
        self._pend = pend
        self._end = end

    @classmethod
    def from_bytes(cls, data: Any) -> Layer:
        """Decode one layer alone from data (raises DecodeError); the next class is dropped."""
        layer = cls.__new__(cls)
        layer._decode(data, 0, len(data))
        return layer

    def _fail(self, field: str, offset: int, message: str) -> DecodeError:
        """The DecodeError for a bad field value at an absolute byte offset (caller raises it)."""
        return DecodeError(self.name, field, offset, message)

    def _unterminated(self, field: str, offset: int, term: bytes) -> DecodeError:
        """The DecodeError of a ``bytes until`` field whose delimiter is not there: the
        bytes may yet come (a message over a stream), so it counts as truncated."""
        return DecodeError(self.name, field, offset, f"no {term!r} before the end",
                           truncated=True)

    def _truncated(self, buf: Any, off: int, end: int, at: int | None = None,
                   field: str = "", size: int = 0) -> DecodeError:
        """The DecodeError for a layer cut short at end: it names the first field that ran out.

        Fields with a known offset and size are found by it; a field after a variable part
        (or a conditional one) is named by the decoder, with where it starts (at) and the
        bytes its run needs (size). Without
        either, the error points at the layer's start.
        """
        have = end - off
        if field and at is not None:
            start = at - off
            return DecodeError(self.name, field, at,
                               f"truncated: {field} needs bytes {start}..{start + size} of the "
                               f"header, only {have} present", truncated=True)
        for info in self.fields_info:
            if info.offset is None or info.size is None:
                continue
            if info.offset + info.size > have:
                return DecodeError(
                    self.name,
                    info.name,
                    off + info.offset,
                    f"truncated: {info.name} needs bytes {info.offset}..{info.offset + info.size}"
                    f" of the header, only {have} present",
                    truncated=True,
                )
        return DecodeError(
            self.name, "", off, f"truncated: only {have} bytes present", truncated=True
        )

    # -- extent -----------------------------------------------------------------------------

    @property
    def contents(self) -> Any:
        """The header bytes of this layer (gopacket's LayerContents)."""
        return self._buf[self._off : self._hend]

    @property
    def payload(self) -> Any:
        """The bytes this layer carries for the next one (gopacket's LayerPayload)."""
        return self._buf[self._hend : self._pend]

    @property
    def trailer(self) -> Any:
        """Bytes after the payload that still belong to this layer (Ethernet padding, FCS)."""
        return self._buf[self._pend : self._end]

    @property
    def payload_missing(self) -> int:
        """How many bytes the layer's length field (and its trailer) announce beyond the
        bytes present: 0 for a whole layer (or one with no length field and no trailer, or a
        layer built rather than decoded). The payload is cut to the bytes present as it
        decodes, and a trailer that does not fit is left out (its fields None); this says by
        how much, as gopacket's truncated flag does per packet. Worked out when asked, so
        decoding pays nothing for it."""
        wanted = self._payload_wanted
        if wanted is None or getattr(self, "_buf", None) is None:
            return 0
        try:
            missing = wanted() - self._end
        except Exception:  # a field the expression reads was edited to something else
            return 0
        return missing if missing > 0 else 0

    length = _HeaderLength()

    @property
    def offset(self) -> int:
        """Where this layer starts in the packet."""
        return self._off

    @property
    def layer_type(self) -> type[Layer]:
        """The layer's class, as gopacket's LayerType()."""
        return type(self)

    @property
    def flow(self) -> Any:
        """The layer's Flow, for layers that declare one; None for the others."""
        return None

    # ``summary "..." if cond;`` rules: (test or None, text parts), see runtime/summary.py
    SUMMARY: ClassVar[tuple[tuple[Callable[[Any], Any] | None, tuple[Any, ...]], ...]] = ()

    def summary(self) -> str | None:
        """The layer's one-line summary from its ``summary`` rules (``who-has 192.0.2.1 tell
        192.0.2.2``), or None when it has none that applies. A Python layer may override
        it."""
        return summary_of(self)

    # -- values -----------------------------------------------------------------------------

    def raw_fields(self) -> dict[str, Any]:
        """Field name -> raw value (ints, bytes, lists of dicts), as ``FORMAT.parse`` gives them.

        Fields a packet does not carry (a conditional field whose condition is false, a layer
        that failed half way) are None.
        """
        return {info.name: _raw(getattr(self, info.raw_attr, None)) for info in self.fields_info}

    def fields(self) -> dict[str, Any]:
        """Field name -> value for display: enum values print as ``TCP (6)`` but are still
        ints, flag sets are FlagSets, addresses are text, variable parts are decoded."""
        return {
            info.name: _shown(info, getattr(self, info.name, None)) for info in self.fields_info
        }

    def _display_fields(self) -> list[tuple[str, Any]]:
        """fields() for repr and dumps: never raises (a broken lazy part shows its error) and
        leaves out fields the layer does not have. In a decoded layer that includes the
        conditional fields that are absent (None), as tshark shows only what is there (a
        radiotap header names dozens of fields and carries a few); in a layer made to be
        built, None means "computed when built" and is shown."""
        out = []
        decoded = getattr(self, "_buf", None) is not None
        for info in self.fields_info:
            try:
                value = getattr(self, info.name, _UNSET)
                if value is _UNSET or (value is None and decoded):
                    continue
                value = _shown(info, value)
            except Exception as exc:
                value = f"<{type(exc).__name__}: {exc}>"
            out.append((info.name, value))
        return out

    def __repr__(self) -> str:
        parts = [f"{name}={_short(value)}" for name, value in self._display_fields()]
        if parts:
            return f"<{self.name} {' '.join(parts)}>"
        size = getattr(self, "_end", None)
        return f"<{self.name} {size - self._off} bytes>" if size is not None else f"<{self.name}>"


_MODULES: dict[str, Any] = {}


def _build_module() -> Any:
    """pktspec.runtime.build, imported on first use (it imports this module)."""
    module = _MODULES.get("build")
    if module is None:
        module = _MODULES["build"] = import_module("pktspec.runtime.build")
    return module


def _serialize_module() -> Any:
    module = _MODULES.get("serialize")
    if module is None:
        module = _MODULES["serialize"] = import_module("pktspec.runtime.serialize")
    return module


def _add_setters(cls: type) -> None:
    """Let the fields a generated class shows through read-only properties (addresses as
    text, flag sets, lazily decoded parts) take assignments: the value is converted the way
    ``__init__`` converts it and stored in the raw slot the decoder fills."""
    for info in cls.__dict__.get("fields_info", ()):
        prop = cls.__dict__.get(info.name)
        if not isinstance(prop, property) or prop.fset is not None:
            continue
        slot = info.raw_attr if info.raw_attr != info.name else "_" + info.name
        setattr(cls, info.name, property(prop.fget, _setter(info, slot), None, prop.__doc__))


def _setter(info: FieldInfo, slot: str) -> Callable[[Any, Any], None]:
    def set_field(layer: Any, value: Any) -> None:
        if value is not None:
            value = _build_module().converter(info)(value)
        setattr(layer, slot, value)

    set_field.__name__ = info.name
    return set_field


def _shown(info: FieldInfo, value: Any) -> Any:
    if type(value) is int:
        if info.enum is not None:
            return info.enum(value)
        if info.flags is not None:
            return info.flags(value)
    return value


def _raw(value: Any) -> Any:
    """A value as stored: display wrappers back to ints, memoryviews to bytes, nested parts
    to dicts."""
    if value is None or type(value) is int or type(value) is bytes:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (memoryview, bytearray)):
        return bytes(value)
    if isinstance(value, list):
        return [_raw(v) for v in value]
    raw_fields = getattr(value, "raw_fields", None)
    if raw_fields is not None:
        return raw_fields()
    return value


def _short(value: Any, depth: int = 0) -> str:
    """A value for a one-line repr: long byte strings and lists cut, text unquoted, nested
    parts (construct Containers, dicts) as ``{k=v ...}`` without private keys or Nones."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if len(data) > 16:
            return f"{data[:16].hex()}...({len(data)} bytes)"
        return data.hex() if data else "''"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        malformed = getattr(value, "malformed", "")  # items up to a malformed one
        tail = [f"<malformed: {malformed}>"] if malformed else []
        if depth > 1:
            return f"[{len(value)} items{', malformed' if malformed else ''}]"
        text = "[" + ", ".join([*(_short(v, depth + 1) for v in value), *tail]) + "]"
        return text if len(text) <= 80 + len(tail[0] if tail else "") else \
            f"[{len(value)} items{', ' + tail[0] if tail else ''}]"
    if isinstance(value, dict):
        if depth > 1:
            return "{...}"
        return "{" + " ".join(f"{k}={_short(v, depth + 1)}" for k, v in visible_items(value)) + "}"
    return str(value)


def visible_items(value: dict) -> list[tuple[str, Any]]:
    """The items of a nested part worth showing: no private keys (construct's ``_io``), no
    absent optional fields."""
    return [
        (k, v)
        for k, v in value.items()
        if not (isinstance(k, str) and k.startswith("_")) and v is not None
    ]


RESERVED_NAMES = frozenset(
    {
        "contents",
        "payload",
        "trailer",
        "offset",
        "layer_type",
        "flow",
        "raw_fields",
        "fields",
        "name",
        "layer_class",
        "payload_missing",
        "source",
        "fields_info",
        "FORMAT",
        "from_bytes",
        "build",
        "force",
        "DEFAULTS",
        "RELATIONS",
        "HEADER",
        "PSEUDO_HEADER",
        "NEXT",
        "NEXT_UNLESS",
        "QUOTES",
        "FRAMED",
        "SUMMARY",
        "summary",
        "CHECKED_WHEN",
        "OPTIONAL_CHECKSUMS",
    }
)
"""Names a generated field must not take: they are Layer attributes the runtime relies on.
(``length`` is allowed: a field called length shadows the header-length property.)"""
