"""The small pieces generated modules need beside construct itself.

- ``Params``: construct has no parameterised structs; this passes a struct its arguments.
- ``lazy_value``: a variable part (options, arrays) is remembered as a ``(start, stop)`` span
  by the fast decoder and parsed by construct only when someone reads it.
- ``parse_at``: the fast decoder hands a part it cannot plan (arrays by count, switches,
  externs) to construct, and learns how many bytes it took.
- ``extern``: field types implemented in Python (DNS name compression), registered by name.
- ``inet_checksum``, ``crc32``, the CRC-8/16 variants and ``register_checksum``: the
  functions build relations may call, looked up by name (``checksum``).
"""

from __future__ import annotations

import io
import itertools
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import construct as _c

from pktspec.errors import BuildError, DecodeError, PktspecError
from pktspec.runtime.values import (
    addr_bytes,
    addr_text,
    ipv4_bytes,
    ipv4_text,
    ipv6_bytes,
    ipv6_text,
    mac_bytes,
    mac_text,
)


class Params(_c.Subconstruct):
    """Give a struct its arguments: inside it, parameter ``p`` reads as ``this._["p"]``."""

    def __init__(self, subcon: _c.Construct, **params: Callable[[Any], Any]) -> None:
        super().__init__(subcon)
        self.params = params

    def _inner(self, context: Any) -> _c.Container:
        inner = _c.Container({k: _c.evaluate(v, context) for k, v in self.params.items()})
        inner._ = context
        inner._params = getattr(context, "_params", None)
        inner._root = getattr(context, "_root", context)
        inner._parsing = getattr(context, "_parsing", True)
        inner._building = getattr(context, "_building", False)
        inner._sizing = getattr(context, "_sizing", False)
        inner._io = getattr(context, "_io", None)
        inner._index = getattr(context, "_index", None)
        return inner

    def _parse(self, stream, context, path):
        return self.subcon._parsereport(stream, self._inner(context), path)

    def _build(self, obj, stream, context, path):
        return self.subcon._build(obj, stream, self._inner(context), path)

    def _sizeof(self, context, path):
        return self.subcon._sizeof(self._inner(context), path)


class Span(tuple):
    """Deprecated spelling of a lazy span, kept while older generated modules are regenerated."""

    def __new__(cls, start: int, stop: int) -> tuple:  # type: ignore[misc]
        return (start, stop)


def _context(layer: Any) -> dict[str, Any]:
    """The already-decoded scalar fields of a layer, as construct's context sees them."""
    out: dict[str, Any] = {}
    for info in type(layer).fields_info:
        if info.kind in ("int", "enum", "flags", "address", "bytes", "let"):
            out[info.name] = getattr(layer, info.raw_attr, None)
    return out


def _parse(fmt: _c.Construct, data: bytes, layer: Any, name: str, offset: int) -> tuple[Any, int]:
    """Parse data with fmt; the context also carries ``_layer`` and ``_start`` (the absolute
    offset of data in the layer's buffer), which extern types such as DNS names need to
    follow pointers elsewhere in the packet."""
    stream = io.BytesIO(data)
    context = _c.Container(_context(layer), _parsing=True, _building=False, _sizing=False,
                           _params=None, _io=stream, _index=None, _layer=layer,
                           _start=offset)
    try:
        value = fmt._parsereport(stream, context, f"(parsing) -> {name}")
    except _c.StreamError as exc:
        raise DecodeError(layer.name, name, offset, f"truncated: {_one_line(exc)}",
                          truncated=True) from None
    except (_c.ConstructError, ValueError, TypeError, KeyError, IndexError,
            PktspecError) as exc:
        raise DecodeError(layer.name, name, offset, _one_line(exc)) from None
    return value, stream.tell()


def _one_line(exc: Exception) -> str:
    """construct's messages start with 'Error in path ...' on a line of their own; error
    layers and one-line summaries want one line."""
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text or type(exc).__name__


def lazy_value(layer: Any, name: str, fmt: _c.Construct) -> Any:
    """The value of a lazily decoded field, parsing its span on first access.

    The fast decoder stores the span as a plain ``(start, stop)`` tuple (the cheapest object
    to make per packet); construct never parses to a tuple, and a tuple from an extern is
    turned into a list, so a tuple in the slot always means "not parsed yet".
    """
    slot = "_" + name
    value = getattr(layer, slot)
    if type(value) is tuple:
        start, stop = value
        value, _ = _parse(fmt, bytes(layer._buf[start:stop]), layer, name, start)
        if type(value) is tuple:
            value = list(value)
        setattr(layer, slot, value)
    return value


def parse_at(fmt: _c.Construct, layer: Any, name: str, buf: Any, pos: int,
             limit: int) -> tuple[Any, int]:
    """Parse one field with construct at buf[pos:limit]; return (value, position after it)."""
    value, used = _parse(fmt, bytes(buf[pos:limit]), layer, name, pos)
    return value, pos + used


class EnumInt(_c.Adapter):
    """An integer shown with its enum name (an OpenEnum member, still equal to the int).

    Used inside structs, which construct alone decodes, so that a TCP option's kind reads
    ``MSS (2)`` as a layer's enum fields do; building takes ints, members or names.
    """

    def __init__(self, subcon: _c.Construct, enum: Any) -> None:
        super().__init__(subcon)
        self.enum = enum

    def _decode(self, obj, context, path):
        return self.enum(obj)

    def _encode(self, obj, context, path):
        return self.enum.parse(obj) if isinstance(obj, str) else int(obj)

    def _build(self, obj, stream, context, path):
        # Return the member, not what was given (construct's Adapter does the latter): the
        # struct puts it in the context, so that conditions and switches after it
        # (``length: u8 if kind > 1``) see 2 where the user wrote "MSS".
        value = self.enum(self._encode(obj, context, path))
        self.subcon._build(value, stream, context, path)
        return value


class FlagsInt(_c.Adapter):
    """A flag-set field inside a struct, shown by name as a layer's flag fields are (a
    FlagSet, still the int); building takes ints, FlagSets or names (``"DC|E"``)."""

    def __init__(self, subcon: _c.Construct, flags: Any) -> None:
        super().__init__(subcon)
        self.flags = flags

    def _decode(self, obj, context, path):
        return self.flags(obj)

    def _encode(self, obj, context, path):
        if isinstance(obj, str):
            from pktspec.runtime.convert import parse_flags  # (convert imports layer)

            return parse_flags(self.flags, obj)
        return int(obj)

    def _build(self, obj, stream, context, path):
        # the FlagSet into the context, as EnumInt puts its member (conditions read it)
        value = self.flags(self._encode(obj, context, path))
        self.subcon._build(value, stream, context, path)
        return value


_TEXT = {"mac": (mac_text, mac_bytes), "ipv4": (ipv4_text, ipv4_bytes),
         "ipv6": (ipv6_text, ipv6_bytes), "any": (addr_text, addr_bytes)}


class AddressText(_c.Adapter):
    """An address inside a struct, as text (``192.0.2.1``); building takes text or bytes."""

    def __init__(self, subcon: _c.Construct, kind: str) -> None:
        super().__init__(subcon)
        self.to_text, self.to_bytes = _TEXT[kind]

    def _decode(self, obj, context, path):
        return self.to_text(obj)

    def _encode(self, obj, context, path):
        return self.to_bytes(obj) if isinstance(obj, str) else bytes(obj)


class Delimited(_c.Construct):
    """``bytes until "\\r\\n"``: the bytes before a delimiter; the delimiter is consumed and
    not part of the value, and building writes it back."""

    def __init__(self, term: bytes) -> None:
        super().__init__()
        self.term = term

    def _parse(self, stream, context, path):
        start = stream.tell()
        rest = stream.read()
        i = rest.find(self.term)
        if i < 0:
            raise _c.StreamError(f"no {self.term!r} before the end", path=path)
        stream.seek(start + i + len(self.term))
        return rest[:i]

    def _build(self, obj, stream, context, path):
        if obj is None:  # left out: empty, as a new layer's delimited field starts
            obj = b""
        data = bytes(obj)
        if self.term in data:  # it would end the field early: the bytes would read back
            raise _c.ConstructError(  # as something else (a header injected into HTTP)
                f"{data[:40]!r} holds its own delimiter {self.term!r}", path=path)
        data += self.term
        _c.stream_write(stream, data, len(data), path)
        return obj


def find(buf: Any, term: bytes, start: int, end: int) -> int:
    """buf.find(term, start, end), for memoryviews too (no-copy packets)."""
    try:
        return buf.find(term, start, end)
    except AttributeError:
        i = bytes(buf[start:end]).find(term)
        return i + start if i >= 0 else -1


def let(fn: Callable[[Any], Any], optional: bool = False) -> Callable[[Any], Any]:
    """A ``let`` value in FORMAT: while building, the fields it reads may not be computed
    yet (a length the builder fills in later); a let is not on the wire, so it is None then
    instead of an error. An ``optional`` let reads a conditional field, and is None (absent)
    when that field is, as the fast path's is; other lets still raise when parsing."""
    def value(this: Any) -> Any:
        """fn(this), or None when it reads a value not there (yet)."""
        try:
            return fn(this)
        except TypeError:
            if optional or getattr(this, "_building", False) or \
                    getattr(this, "_sizing", False):
                return None
            raise
    return value


def built_size(part: _c.Construct, obj: Any, context: Any) -> int:
    """How many bytes a struct's part writes for obj, built in the struct's context.

    The builder's side of a nested length field that the .layer file implies (``length: u8``
    before ``value: ... size length - 2``): the generated struct fills the length with
    construct's Default, from the size of the part it bounds (``this._subcons.value``), when
    the user left it out. The part is measured without its condition and without the
    FixedSized that the length itself sets. An absent part (None) measures 0; a part given
    as bytes measures its length.
    """
    if obj is None:
        return 0
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return len(obj)
    while isinstance(part, (_c.Renamed, _c.IfThenElse, _c.FixedSized, _c.Default)):
        part = part.thensubcon if isinstance(part, _c.IfThenElse) else part.subcon
    if isinstance(part, AddressText) and isinstance(obj, str):  # addr[n] given as text
        return len(part.to_bytes(obj))
    stream = io.BytesIO()
    part._build(obj, stream, context, "(measuring a part for its length field)")
    return stream.tell()


class ChunkValues(_c.Construct):
    """What a struct's bit-field chunk packs, for the fields a person need not write as ints.

    A chunk of bit fields (``type: LLDPType; length: u9;``) is one ``Rebuild`` that packs
    every field in it from the build context, so the fields have no construct of their own
    to do what ``Default`` and ``EnumInt`` do for a byte-wide field. Placed just before the
    chunk (it reads and writes no bytes), this puts into the context, in field order: for a
    length the .layer file implies (``data: bytes[length * 4]``) and the user left out, the
    value solved from the part it bounds; for an enum or flag set given by name, its value;
    for one left out, its default. A value given as an int is kept (crafted packets).

    ``fields``: ``(name, default, enum or FlagSet class or None, solve(context) or None)``.
    """

    def __init__(self, *fields: tuple[str, Any, Any, Callable[[Any], Any] | None]) -> None:
        super().__init__()
        self.flagbuildnone = True  # no value of its own: a struct builds it from nothing
        self.fields = fields

    def _parse(self, stream, context, path):
        return None

    def _build(self, obj, stream, context, path):
        for name, default, enum, solve in self.fields:
            value = context.get(name)
            if value is None:
                value = default if solve is None else solve(context)
            elif enum is not None and isinstance(value, str):
                if hasattr(enum, "_masks_"):  # a FlagSet class: "urgent|quiet"
                    from pktspec.runtime.convert import parse_flags  # (convert imports layer)

                    value = enum(parse_flags(enum, value))
                else:
                    value = enum(enum.parse(value))  # ValueError names the members
            context[name] = value
        return None

    def _sizeof(self, context, path):
        return 0


class CondStruct(_c.Struct):
    """A struct with conditional fields (``x: u16 if f.a``): building it, a conditional field
    given sets what its condition reads when that was not given (the ``a`` bit ORed into
    ``f``), as the builder does for a layer's CONDITIONS, and a conditional field given
    while its condition is false is a BuildError naming it and the condition, where
    construct's ``If`` would drop it without a word. Parsing is construct's own.

    ``conditions``: ``(field, condition as written, ways)`` each, as a layer's CONDITIONS;
    ``defaults``: what each controlling field is when left out (before a way sets it).
    """

    def __init__(self, conditions: tuple, defaults: dict[str, Any], *subcons: Any) -> None:
        super().__init__(*subcons)
        self.conditions = conditions
        self.defaults = defaults

    def _build(self, obj, stream, context, path):
        if isinstance(obj, dict) and any(obj.get(name) is not None
                                         for name, _, _ in self.conditions):
            obj = self._imply(obj, context)
            check = True
        else:
            check = False
        if not check:
            return super()._build(obj, stream, context, path)
        # construct's Struct._build, with each given conditional field's condition checked
        # just before the field is built (when it reads what is built before it)
        context = _c.Container(_=context, _params=context._params, _root=None,
                               _parsing=context._parsing, _building=context._building,
                               _sizing=context._sizing, _subcons=self._subcons, _io=stream,
                               _index=context.get("_index", None))
        context._root = context._.get("_root", context)
        context.update(obj)
        texts = {name: text for name, text, _ in self.conditions}
        for sc in self.subcons:
            try:
                subobj = obj.get(sc.name, None) if sc.flagbuildnone else obj[sc.name]
                if sc.name:
                    context[sc.name] = subobj
                if sc.name in texts and subobj is not None and subobj is not ... and \
                        isinstance(sc.subcon, _c.IfThenElse) and \
                        not _c.evaluate(sc.subcon.condfunc, context):
                    raise _unwritten(path, sc.name, texts[sc.name])
                buildret = sc._build(subobj, stream, context, path)
                if sc.name:
                    context[sc.name] = buildret
            except _c.StopFieldError:
                break
        return context

    def _imply(self, obj: dict, context: Any) -> dict:
        """obj with the controlling fields left out set so that the conditions of the
        conditional fields given hold (a copy; a controlling field given is kept)."""
        unset = {f for f in self.defaults if obj.get(f) is None}
        if not unset:
            return obj
        values = dict(obj)
        for f in unset:
            values[f] = self.defaults[f]
        assigned: dict[str, int] = {}
        for name, _text, ways in self.conditions:
            if obj.get(name) is None or not ways or \
                    _holds_now(self._subcons[name], values, context):
                continue
            apply_first_way(ways, values, unset.__contains__, assigned)
        return type(obj)(values) if isinstance(obj, _c.Container) else values


def apply_first_way(ways: Any, values: dict, can_set: Callable[[str], bool],
                    assigned: dict[str, int]) -> list[str]:
    """Make a conditional field's condition hold: apply the first of its ways (each a list
    of (field, "=" or "|", value)) whose fields either hold that value already or are ones
    ``can_set`` allows (without contradicting a value an earlier way assigned); returns the
    fields it set. Shared by new
    layers, edited decoded layers (runtime.build) and structs (CondStruct)."""
    def holds(f: str, op: str, k: int) -> bool:  # a given value that already does
        v = values.get(f)
        return isinstance(v, int) and (v == k if op == "=" else v & k == k)

    for way in ways:
        if all(holds(f, op, k) or (can_set(f) and (op == "|" or assigned.get(f, k) == k))
               for f, op, k in way):
            set_now = [(f, op, k) for f, op, k in way if not holds(f, op, k)]
            for f, op, k in set_now:
                if op == "=":
                    values[f] = assigned[f] = k
                else:
                    values[f] = (values[f] or 0) | k
            return [f for f, _, _ in set_now]
    return []


def _holds_now(sc: Any, values: dict, context: Any) -> bool:
    """Whether a conditional field's condition holds over the values as given (False when
    it cannot tell: the ways are then taken, which a condition already true tolerates)."""
    cond = sc.subcon if isinstance(sc, _c.Renamed) else sc
    if not isinstance(cond, _c.IfThenElse):
        return False
    ctx = _c.Container(values)
    ctx._ = context
    try:
        return bool(_c.evaluate(cond.condfunc, ctx))
    except Exception:  # noqa: BLE001 - reads what is not given yet: let the ways decide
        return False


def _unwritten(path: str, name: str, text: str) -> BuildError:
    """``Cond: inner.z is given but its condition (...) is false ...`` from construct's path
    (``(building Cond) -> inner``)."""
    layer, _, where = path.partition(" -> ")
    layer = layer.removeprefix("(building ").removesuffix(")")
    field = ".".join([*where.split(" -> "), name]) if where else name
    return BuildError(f"{layer + ': ' if layer else ''}{field} is given but its condition "
                      f"({text}) is false, so it would not be written; give the fields the "
                      f"condition reads so that it holds, or leave {name} out")


def shl(value: int, shift: int) -> int:
    """``value << shift`` for a shift read from the packet: at most 64 bits, as constant
    shifts are, so that one byte cannot make a gigabyte-sized integer."""
    if not 0 <= shift <= 64:
        raise ValueError(f"shift by {shift} (0..64)")
    return value << shift


def or_default(value: Any, default: Any) -> Any:
    """value, or default when it is None: a struct's bit field left out when building."""
    return default if value is None else value


def signed(value: int, bits: int) -> int:
    """Two's complement of a bits-wide bit field."""
    return value - (1 << bits) if value >> (bits - 1) else value


# ---- extern field types --------------------------------------------------------------------

_EXTERNS: dict[str, _c.Construct] = {}


class _ExternAdapter(_c.Construct):
    """A Python-implemented field: parse(stream, context) and build(value, context) -> bytes."""

    def __init__(self, name: str, parse: Callable, build: Callable,
                 empty: Any = None) -> None:
        super().__init__()
        self.extern_name = name
        self.parse_fn = parse
        self.build_fn = build
        self.empty = empty

    def _parse(self, stream, context, path):
        return self.parse_fn(stream, context)

    def _build(self, obj, stream, context, path):
        data = self.build_fn(obj, context)
        _c.stream_write(stream, data, len(data), path)
        return obj


def register_extern(name: str, parse: Callable, build: Callable, empty: Any = None) -> None:
    """Register an extern field type for .layer files that declare ``extern name;``.

    ``parse(stream, context)`` reads from a binary stream positioned at the field and returns
    the value; ``build(value, context)`` returns the bytes. ``empty`` is the value a new
    layer's field of this type starts with (HTTP's header lines: ``[]``, which still writes
    the blank line); None leaves an unset field out. Register before loading the .layer
    file that uses it.
    """
    _EXTERNS[name] = _ExternAdapter(name, parse, build, empty)


def extern_empty(name: str) -> Any:
    """A fresh copy of the value a new layer's field of extern type ``name`` starts with
    (None: the type has none, or no extern is called that)."""
    adapter = _EXTERNS.get(name)
    empty = None if adapter is None else adapter.empty
    return list(empty) if isinstance(empty, list) else empty


class _LateExtern(_c.Construct):
    """Looks the extern up when first used, so registration order does not matter."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.extern_name = name

    def _target(self) -> _c.Construct:
        target = _EXTERNS.get(self.extern_name)
        if target is None:
            raise PktspecError(f"extern field type {self.extern_name!r} is not registered: "
                               "call pktspec.runtime.constructs.register_extern first")
        return target

    def _parse(self, stream, context, path):
        return self._target()._parse(stream, context, path)

    def _build(self, obj, stream, context, path):
        return self._target()._build(obj, stream, context, path)


def extern(name: str) -> _c.Construct:
    """The construct of the extern field type called name (looked up when first used, so a
    generated module may be imported before the Python side registers it)."""
    return _LateExtern(name)


# ---- build functions -----------------------------------------------------------------------


def inet_checksum(*parts: Any) -> int:
    """The Internet checksum (RFC 1071) over the concatenated parts.

    Summing 16-bit words with end-around carry is the same as taking the whole message as
    one big-endian integer modulo 0xFFFF (2**16 is 1 modulo 0xFFFF), which Python's big
    integers do in C; only a sum of 0xFFFF (0 modulo 0xFFFF, from non-zero data) needs care.
    """
    data = b"".join([bytes(p) for p in parts if p is not None])
    if len(data) & 1:
        data += b"\0"
    x = int.from_bytes(data, "big") % 0xFFFF
    if x == 0 and any(data):
        return 0
    return ~x & 0xFFFF


class Lenient(_c.Container):
    """A struct's value as a person writes it: keys left out are absent (None), so an
    option is ``{"type": 1}`` rather than ``{"type": 1, "length": None, "value": None}``.
    A construct Container, so that expressions read it as construct's own values
    (``until item.code == End`` reads ``obj.code``)."""

    def __missing__(self, key: str) -> None:
        return None


def lenient(value: Any) -> Any:
    """A value given for a structured part, with every dict in it Lenient."""
    if isinstance(value, dict):  # without construct's own keys (_io in a decoded part)
        return Lenient({k: lenient(v) for k, v in value.items()
                        if not (isinstance(k, str) and k.startswith("_"))})
    if isinstance(value, list):
        return [lenient(v) for v in value]
    return value


def part_size(cls: Any, name: str, value: Any, c: Any) -> int:
    """The bytes a layer's part ``name`` takes when built from ``value``, with the other
    values in ``c`` (the builder's relation context): the relation that fills a length
    field a layer's ``items: Item[] size count`` implies, as built_size does in structs."""
    if value is None:
        return 0
    part = cls.FORMAT._subcons[name]
    if isinstance(value, (bytes, bytearray, memoryview)):
        inner = part
        while isinstance(inner, (_c.Renamed, _c.IfThenElse, _c.FixedSized, _c.Default)):
            inner = inner.thensubcon if isinstance(inner, _c.IfThenElse) else inner.subcon
        # `bytes until "\0"` writes its delimiter after the value
        return len(value) + (len(inner.term) if isinstance(inner, Delimited) else 0)
    context = _c.Container(c.__dict__)
    context.update({"_parsing": False, "_building": True, "_sizing": False})
    context._params = context
    try:
        return built_size(part, lenient(value), context)
    except _c.ConstructError as exc:  # the part cannot be built: say which one, and why
        raise BuildError(f"{cls.name}: {name}: {_one_line(exc)}") from None


def _reason(exc: Exception) -> str:
    """An item's parse error without construct's path prefix (the caller names the item)."""
    text = str(exc).strip()
    return text.split("\n")[-1].split(" -> ")[-1] if text else type(exc).__name__


def _consumed_nothing(path: str) -> _c.ExplicitError:
    return _c.ExplicitError("an item of this array takes no bytes, so the array would never "
                            "end", path=path)


class Requires(_c.Check):
    """``requires expr : "message";`` in FORMAT: construct's Check, failing with the
    message the .layer file gives (construct's own says only "check failed"), which a
    malformed struct in a list (PartialList) or a DecodeError then shows."""

    def __init__(self, func: Any, message: str) -> None:
        super().__init__(func)
        self.message = message

    def _parse(self, stream, context, path):
        if not _c.evaluate(self.func, context):
            raise _c.CheckError(self.message, path=path)

    def _build(self, obj, stream, context, path):
        if not _c.evaluate(self.func, context):
            raise _c.CheckError(self.message, path=path)


class PartialList(_c.ListContainer):
    """The items of a ``T[]`` part up to one that is malformed, with ``malformed`` saying
    which item broke, where and why (the bytes from there on are not decoded). tshark
    likewise shows the options before a bad one and calls the packet malformed; repr, -V
    and --json show the reason after the items. A whole part is a plain list, so code
    that cares tests ``getattr(value, "malformed", None)``."""

    malformed: str = ""

    def __repr__(self) -> str:
        return f"{list.__repr__(self)[:-1]}, <malformed: {self.malformed}>]"


class GreedyRange(_c.GreedyRange):
    """construct's GreedyRange (``T[]``, ``T[] size n``), with two differences. An item
    that takes no bytes is an error rather than an endless loop (a struct whose fields are
    all absent). And an item that does not parse while bytes are left is not dropped in
    silence with everything after it, as construct does: the items before it come back as
    a PartialList that says which item is malformed, where and why."""

    def _parse(self, stream, context, path):
        obj = _c.ListContainer()
        try:
            for i in itertools.count():
                context._index = i
                fallback = _c.stream_tell(stream, path)
                item = self.subcon._parsereport(stream, context, path)
                if _c.stream_tell(stream, path) == fallback:
                    raise _consumed_nothing(path)
                if not self.discard:
                    obj.append(item)
        except _c.StopFieldError:
            pass
        except _c.ExplicitError:
            raise
        except Exception as exc:
            _c.stream_seek(stream, fallback, 0, path)
            left = len(_c.stream_read_entire(stream, path))
            if left:
                partial = PartialList(obj)
                partial.malformed = (f"item {i} (the last {left} bytes, from byte {fallback} "
                                     f"of the part): {_reason(exc)}")
                return partial
        return obj


class RepeatUntil(_c.RepeatUntil):
    """construct's RepeatUntil, except that building tests the predicate on each item as
    built, not as given: a struct's build result holds its enum fields as members, so
    ``until item.code == End`` holds for an item written ``{"code": "End"}``; and an item
    that takes no bytes (before the predicate holds) is an error, not an endless loop."""

    def _parse(self, stream, context, path):
        predicate = self.predicate
        obj = _c.ListContainer()
        for i in itertools.count():
            context._index = i
            fallback = _c.stream_tell(stream, path)
            item = self.subcon._parsereport(stream, context, path)
            if not self.discard:
                obj.append(item)
            if (predicate(item, obj, context) if callable(predicate) else predicate):
                return obj
            if _c.stream_tell(stream, path) == fallback:
                raise _consumed_nothing(path)

    def _build(self, obj, stream, context, path):
        predicate = self.predicate
        built = _c.ListContainer()
        items = list(obj or ())
        for i, item in enumerate(items):
            context._index = i
            built.append(self.subcon._build(item, stream, context, path))
            if (predicate(built[-1], built, context) if callable(predicate) else predicate):
                if i + 1 < len(items):  # the list would end here: what follows is lost
                    raise _c.ExplicitError(
                        f"item {i} ends the list (its `until` condition holds), so the "
                        f"{len(items) - i - 1} item(s) after it would not be read back: "
                        "end the list with its last item", path=path)
                return built
        # no item ends the list (an empty or unset list, or one written without its end):
        # append the terminator, when one can be worked out
        context._index = len(built)
        for item in self._terminators():
            scratch = io.BytesIO()
            try:
                last = self.subcon._build(item, scratch, context, path)
                ends = predicate(last, [*built, last], context) if callable(predicate) \
                    else predicate
            except (_c.ConstructError, PktspecError, TypeError, ValueError, KeyError,
                    AttributeError):
                continue
            if ends:
                data = scratch.getvalue()
                _c.stream_write(stream, data, len(data), path)
                built.append(last)
                return built
        raise _c.RepeatError("the last item must end the list (its 'until' condition), "
                             "when building: give that item (none could be made from the "
                             "defaults or the condition)", path=path)

    def _terminators(self) -> Iterator[Any]:
        """Items that may end the list, for the builder to try in order: the item with every
        field left out (its defaults or zeros: ``until item.id == 0``), then the item that
        the fields the condition compares to constants make (``until item.code == 255`` gives
        ``{"code": 255}``)."""
        inner = self.subcon
        while isinstance(inner, (_c.Renamed, Params, _c.Default)):
            inner = inner.subcon
        struct = isinstance(inner, _c.Struct)
        yield Lenient() if struct else 0
        if not callable(self.predicate):
            return
        probe = _Probe()
        try:
            self.predicate(probe, [probe], _c.Container())
        except Exception:  # noqa: BLE001 - a condition the probe cannot follow: no guess
            return
        wanted = probe._fields
        if struct and wanted and None not in wanted:
            yield Lenient(wanted)
        elif not struct and wanted.keys() == {None}:
            yield wanted[None]


class _Probe:
    """Stands for an item while an ``until`` condition is evaluated, and remembers the
    constants its fields (or itself) are compared equal to: ``item.code == End`` and
    ``item.a == 0 and item.b == 0`` describe the item that ends the list. Every comparison
    holds, so that ``and`` goes on to the next; anything else raises TypeError. (Its own
    attributes start with ``_``, which no field name does.)"""

    __slots__ = ("_fields", "_name")

    def __init__(self, fields: dict | None = None, name: str | None = None) -> None:
        self._fields = {} if fields is None else fields
        self._name = name

    def __getattr__(self, name: str) -> _Probe:
        if self._name is not None or name.startswith("_"):
            raise AttributeError(name)
        return _Probe(self._fields, name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, int) or isinstance(other, bool):
            raise TypeError("not a constant")
        self._fields[self._name] = int(other)
        return True

    __hash__ = None  # type: ignore[assignment]


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_CRC32C = _crc32c_table()


def crc32c(*parts: Any) -> int:
    """CRC-32C (Castagnoli) over the concatenated parts, for build relations, as SCTP
    (RFC 4960 appendix C) places it in its big-endian checksum field: the reflected CRC's
    bytes in wire order, so a u32 field reads what tshark shows. Table-driven Python: fine
    for building and checking packets."""
    crc = 0xFFFFFFFF
    table = _CRC32C
    for part in parts:
        if part is None:
            continue
        for byte in bytes(part):
            crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return int.from_bytes((crc ^ 0xFFFFFFFF).to_bytes(4, "little"), "big")


def crc32(*parts: Any) -> int:
    """CRC-32 (IEEE 802.3, zlib's) over the concatenated parts, for build relations."""
    return zlib.crc32(b"".join(bytes(p) for p in parts if p is not None)) & 0xFFFFFFFF


# ---- CRC-8 and CRC-16 variants, table-driven (parameters as in the CRC RevEng catalogue) ----


class Crc:
    """One CRC, by its catalogue parameters: ``width`` bits, ``poly`` (normal form), ``init``,
    ``reflected`` (input and output reflected together, as every variant here) and
    ``xorout``. Called with the parts a relation names (None parts are skipped), it gives
    the CRC as an integer; the field's byte order decides how it goes on the wire (Modbus
    RTU sends its CRC low byte first: ``crc: u16le = crc16_modbus(header, payload)``)."""

    __slots__ = ("width", "init", "reflected", "xorout", "mask", "table")

    def __init__(self, width: int, poly: int, init: int, reflected: bool, xorout: int) -> None:
        self.width, self.init, self.reflected, self.xorout = width, init, reflected, xorout
        self.mask = (1 << width) - 1
        self.table = _crc_table(width, poly, reflected)

    def __call__(self, *parts: Any) -> int:
        crc, table, mask = self.init, self.table, self.mask
        if self.reflected:
            for part in parts:
                if part is not None:
                    for byte in bytes(part):
                        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        else:
            top = self.width - 8
            for part in parts:
                if part is not None:
                    for byte in bytes(part):
                        crc = table[((crc >> top) ^ byte) & 0xFF] ^ ((crc << 8) & mask)
        return (crc ^ self.xorout) & mask


def _crc_table(width: int, poly: int, reflected: bool) -> tuple[int, ...]:
    mask = (1 << width) - 1
    table = []
    if reflected:
        rpoly = int(f"{poly:0{width}b}"[::-1], 2)
        for n in range(256):
            c = n
            for _ in range(8):
                c = (c >> 1) ^ rpoly if c & 1 else c >> 1
            table.append(c)
    else:
        top = 1 << (width - 1)
        for n in range(256):
            c = n << (width - 8)
            for _ in range(8):
                c = ((c << 1) ^ poly if c & top else c << 1) & mask
            table.append(c)
    return tuple(table)


crc16_ccitt = Crc(16, 0x1021, 0xFFFF, False, 0)  # CRC-16/CCITT-FALSE (IBM-3740): 0x29B1
crc16_xmodem = Crc(16, 0x1021, 0, False, 0)  # CRC-16/XMODEM: 0x31C3
crc16_kermit = Crc(16, 0x1021, 0, True, 0)  # CRC-16/KERMIT: 0x2189
crc16_x25 = Crc(16, 0x1021, 0xFFFF, True, 0xFFFF)  # CRC-16/X-25 (IBM-SDLC, HDLC FCS): 0x906E
crc16_modbus = Crc(16, 0x8005, 0xFFFF, True, 0)  # CRC-16/MODBUS: 0x4B37
crc16_arc = Crc(16, 0x8005, 0, True, 0)  # CRC-16/ARC (IBM, LHA): 0xBB3D
crc8 = Crc(8, 0x07, 0, False, 0)  # CRC-8/SMBUS: 0xF4
crc8_maxim = Crc(8, 0x31, 0, True, 0)  # CRC-8/MAXIM-DOW (Dallas 1-Wire): 0xA1


# ---- the checksum functions relations may call, by name -------------------------------------


class Checksum:
    """A checksum function a .layer file may name in a build relation, and how many bits
    its result has (the field it fills must hold them)."""

    __slots__ = ("name", "func", "bits", "builtin")

    def __init__(self, name: str, func: Callable[..., int], bits: int, builtin: bool) -> None:
        self.name, self.func, self.bits, self.builtin = name, func, bits, builtin

    def __call__(self, *parts: Any) -> int:
        if self.builtin:
            return self.func(*parts)
        value = self.func(b"".join(bytes(p) for p in parts if p is not None))
        if not isinstance(value, int) or isinstance(value, bool) or \
                not 0 <= value < 1 << self.bits:
            raise BuildError(f"checksum function {self.name!r} returned {value!r}, not a "
                             f"{self.bits}-bit unsigned integer")
        return value


_CHECKSUMS: dict[str, Checksum] = {
    name: Checksum(name, func, bits, True) for name, func, bits in (
        ("inet_checksum", inet_checksum, 16), ("crc32", crc32, 32), ("crc32c", crc32c, 32),
        ("crc16_ccitt", crc16_ccitt, 16), ("crc16_xmodem", crc16_xmodem, 16),
        ("crc16_kermit", crc16_kermit, 16), ("crc16_x25", crc16_x25, 16),
        ("crc16_modbus", crc16_modbus, 16), ("crc16_arc", crc16_arc, 16),
        ("crc8", crc8, 8), ("crc8_maxim", crc8_maxim, 8))}

# The built-in checksum functions and the bits of their results: the one table the checker
# reads (a file's `extern checksum name : uN;` adds its own).
BUILTIN_CHECKSUM_BITS: dict[str, int] = {n: c.bits for n, c in _CHECKSUMS.items()}


def register_checksum(name: str, func: Callable[[bytes], int], bits: int) -> None:
    """Register a checksum function for .layer files that declare ``extern checksum name :
    uN;`` (N == bits) and call it in a build relation (``sum: u16 = name(header,
    payload);``).

    ``func(data)`` gets the bytes of the parts the relation names, concatenated, and returns
    an unsigned integer of at most ``bits`` bits. A .layer file can only name a function;
    what runs is what Python registered here (the built-in ones cannot be replaced).
    Register before building packets of a layer that uses it; registering a name again
    replaces the function.
    """
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
        raise ValueError(f"checksum name {name!r} is not a plain identifier")
    if name in _CHECKSUMS and _CHECKSUMS[name].builtin:
        raise ValueError(f"{name!r} is a built-in checksum function")
    if not callable(func):
        raise TypeError("func must be callable: func(data: bytes) -> int")
    if not isinstance(bits, int) or not 1 <= bits <= 64:
        raise ValueError(f"bits must be 1..64, not {bits!r}")
    _CHECKSUMS[name] = Checksum(name, func, bits, False)


def registered_checksum_bits(name: str) -> int | None:
    """The result width of the checksum function registered as name, or None when none
    is (the checker warns about an ``extern checksum`` nobody registered yet)."""
    found = _CHECKSUMS.get(name)
    return None if found is None else found.bits


def checksum(name: str, bits: int | None = None) -> Checksum:
    """The checksum function called name, looked up when a relation runs (so a generated
    module may be imported before Python registers it). ``bits`` is the width the .layer
    file declared for a user's function: a registration of another width is refused."""
    found = _CHECKSUMS.get(name)
    if found is None:
        raise BuildError(f"checksum function {name!r} is not registered: call "
                         f"pktspec.runtime.constructs.register_checksum({name!r}, func, "
                         f"bits=...) first")
    if bits is not None and found.bits != bits:
        raise BuildError(f"checksum function {name!r} is registered with {found.bits} bits, "
                         f"but the .layer file declares {bits}")
    return found


def trailer_cut(layer: str, field: str, off: int, start: int, size: int,
                have: int) -> DecodeError:
    """The DecodeError of a layer too short for its trailer: the trailer's first field
    would take bytes start..start + size of the layer (from its first byte, at off), and
    only have are there. Called by modules generated before 0.4.0 (since then such a layer
    is decoded with its trailer left out); kept so that those modules still run."""
    return DecodeError(layer, field, off + min(start, have),
                       f"truncated: trailer field {field!r} needs bytes {start}..{start + size}"
                       f", only {have} present", truncated=True)

