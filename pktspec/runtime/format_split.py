"""FORMAT in two halves: a prefix packed by one ``struct.Struct``, a tail built by construct.

A generated class describes its wire format twice (docs/GENERATED.md): ``FORMAT``, a construct
Struct that can build, and ``fields_info``. Building every header through construct would cost
tens of microseconds a layer, so the plan splits ``FORMAT`` where the fixed part ends:

- the *prefix*, the leading fields whose construct parts are plain integers, fixed-size bytes
  and bit-field chunks (construct's ``Rebuild`` lambdas, reused as they are), is packed with
  one precompiled ``struct.Struct``;
- the *tail* (options, conditional fields, arrays, switches, externs) goes through construct,
  and only when it holds something: an IPv4 header without options never touches construct.

:class:`FormatHalves` is the part of :class:`~pktspec.runtime.build.LayerPlan` that makes the
split once per class and packs both halves per packet; :class:`Raw` is how a tail part is
given (or kept) as bytes.
"""

from __future__ import annotations

import difflib
import io
import struct
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import construct as _c

from pktspec.errors import BuildError
from pktspec.runtime.compile_plan import safe_name
from pktspec.runtime.constructs import Delimited, GreedyRange, Params, RepeatUntil, lenient
from pktspec.runtime.layer import FieldInfo
from pktspec.runtime.relations import HEADER_SIZE, names_read, sized_by

__all__ = ["FormatHalves", "Raw"]


_TELL = type(_c.Tell)  # FORMAT's marks around a part that sizeof() measures


class Raw:
    """Bytes that stand for a tail field as they are: a decoded part nobody parsed, or raw
    bytes a user gave for a structured field (``TCP(options=b"\\x02\\x04\\x05\\xb4")``)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class _OrRaw(_c.Subconstruct):
    """A tail field that writes a :class:`Raw` value verbatim and builds anything else;
    left unset (None), it builds ``default`` (a conditional scalar whose condition holds)."""

    def __init__(self, subcon: Any, default: Any = None) -> None:
        super().__init__(subcon)
        self.default = default

    def _parse(self, stream, context, path):  # pragma: no cover - plans only build
        return self.subcon._parsereport(stream, context, path)

    def _build(self, obj, stream, context, path):
        if type(obj) is Raw:
            _c.stream_write(stream, obj.data, len(obj.data), path)
            return obj
        if obj is None and self.default is not None:
            obj = self.default
        elif obj is None and isinstance(self.subcon, _c.Bytes):  # unset: zeros of its size
            obj = bytes(_c.evaluate(self.subcon.length, context))
        elif obj is None and self.subcon is _c.GreedyBytes:
            obj = b""
        return self.subcon._build(obj, stream, context, path)


@dataclass(frozen=True, slots=True)
class _Tail:
    """One field of the tail, as building it and telling it empty need it."""

    name: str
    conditional: bool
    structured: bool  # a value-kind field: None or [] there means "nothing"
    zeros: Callable[[], Any] | None = None  # a struct field's value with every field zero
    raw_ok: bool = False  # a structured part (options, records) may be given as bytes
    keys: frozenset[str] = frozenset()  # every field name of the structs inside the part
    condition: Callable[[Any], Any] | None = None  # a conditional part's `if`
    terminated: bool = False  # `T[] until ...`, `bytes until "x"`: empty, it writes its end


class FormatHalves:
    """The prefix/tail split of a LayerPlan: made by ``_split`` when the plan is made, used
    per packet by ``pack_prefix`` and ``build_tail``. Mixed into LayerPlan, it reads the
    plan's ``infos``, ``relations``, ``plain``, ``optional``, ``name`` and (building the
    tail) its ``_refuse_unwritten`` (:mod:`pktspec.runtime.conditions`)."""

    # -- made once per class -------------------------------------------------------------------

    def _unsplit(self) -> None:
        """No prefix and no tail: a class without FORMAT, or one about to be split."""
        self.prefix = None
        self.prefix_getters: tuple = ()
        self.prefix_size = 0
        self.bit_ranges: tuple[tuple[str, int, int], ...] = ()
        self.positions: dict[str, tuple[int, struct.Struct]] = {}
        self.tail: tuple[_Tail, ...] = ()
        self.tail_format = self.tail_natural = None
        self.tail_only_fields = True
        self.tail_names: frozenset[str] = frozenset()
        self.tail_depends: frozenset[str] = frozenset()
        # bit fields of a conditional chunk (``reserved: u4 if version == 3; max: u12 if
        # version == 3;`` share one): each with the chunk's condition
        self.chunk_conditions: dict[str, Callable[[Any], Any]] = {}

    def _split(self, fmt: _c.Struct) -> None:
        codes, getters, lets = [">"], [], []
        size = 0
        subcons = list(fmt.subcons)
        start = len(subcons)
        for i, sc in enumerate(subcons):
            inner = sc.subcon if isinstance(sc, _c.Renamed) else sc
            if isinstance(inner, (_c.Computed, _c.Check)):
                if isinstance(inner, _c.Computed) and sc.name not in self.infos:
                    lets.append(sc)  # a `let` the tail's conditions may read
                continue
            item = _prefix_item(sc.name, inner)
            if item is None:
                start = i
                break
            code, getter, plain = item
            if plain and sc.name in self.infos:
                self.positions[sc.name] = (size, struct.Struct(">" + code))
            elif isinstance(inner, _c.FormatField) and sc.name in self.infos:
                # a little-endian integer (a u16le CRC): packed by its own format
                self.positions[sc.name] = (size, struct.Struct(inner.fmtstr))
            codes.append(code)
            getters.append(getter)
            size += struct.calcsize(">" + code)
        self.prefix = struct.Struct("".join(codes)) if getters else None
        self.prefix_getters = tuple(getters)
        self.prefix_size = size
        # the bit fields, of the prefix and of the tail's chunks: packing masks them, so a
        # value too wide would wrap silently (VLAN 5000 as 904, an STP priority of 32768
        # as 0); byte-wide ones fail in struct.pack on their own
        self.bit_ranges = tuple(
            (name, *_int_range(info)) for name, info in self.infos.items()
            if info.kind in ("int", "enum", "flags") and info.bits and info.bits % 8)
        self._plan_tail(lets, subcons[start:])

    def _plan_tail(self, lets: list, subcons: list) -> None:
        sizes = {r.name for r in self.relations if r.stage == HEADER_SIZE}
        parts, natural, tail, reads = list(lets), list(lets), [], set()
        only_fields = True
        chunks: dict[str, Callable[[Any], Any]] = {}  # conditional bit chunks: condition
        for sc in subcons:
            inner = sc.subcon if isinstance(sc, _c.Renamed) else sc
            reads |= names_read(inner)
            if sc.name and sc.name not in self.infos and isinstance(inner, _c.IfThenElse):
                chunks[sc.name] = inner.condfunc
            elif isinstance(inner, _c.Computed) and sc.name in self.infos:
                chunk = next((c for c in names_read(inner) if c in chunks), None)
                if chunk is not None:
                    self.chunk_conditions[sc.name] = chunks[chunk]
            if isinstance(inner, _c.Check):
                continue  # a check would refuse the crafted packets building is for
            measured = inner
            if sc.name in self.infos:
                info = self.infos[sc.name]
                conditional = isinstance(inner, _c.IfThenElse)
                tail.append(_Tail(sc.name, conditional,
                                  info.kind in ("value", "bytes"), _zeros_of(inner),
                                  info.kind == "value", _struct_keys(inner),
                                  inner.condfunc if conditional else None,
                                  isinstance(inner.thensubcon if conditional else inner,
                                             (RepeatUntil, Delimited))))
                measured = _natural(inner, sizes)
            elif not isinstance(inner, (_c.Computed, _TELL)):
                only_fields = False  # a bit-field chunk or a nameless part writes bytes
            default = self.plain.get(sc.name) if sc.name in self.optional else None
            parts.append(sc.name / _raw_or(inner, default) if sc.name else inner)
            natural.append(sc.name / _raw_or(measured, default) if sc.name else measured)
        self.tail = tuple(tail)
        self.tail_format = _c.Struct(*parts) if tail or not only_fields else None
        # the tail without the sizes a header-length field gives, to measure it by; None
        # when no part's size depends on one
        self.tail_natural = _c.Struct(*natural) if self.tail_format is not None and \
            any(a is not b for a, b in zip(parts, natural, strict=True)) else None
        self.tail_only_fields = only_fields
        self.tail_names = frozenset(t.name for t in tail)
        # a decoded layer keeps its tail bytes unless one of these was edited
        self.tail_depends = self.tail_names | reads

    # -- per packet ----------------------------------------------------------------------------

    def pack_prefix(self, ctx: Any) -> bytearray:
        """The header's fixed-layout prefix packed in one ``struct.pack`` from ctx (the
        serializer's context over the layer's values; empty when the layer has none).
        A bit field too wide for its bits, or a value of the wrong type, is a BuildError
        naming the field instead of a value that wraps or a bare struct.error."""
        values = ctx.__dict__
        for name, low, high in self.bit_ranges:
            v = values.get(name)
            if v is not None and type(v) is not tuple and not low <= v <= high:
                raise BuildError(f"{self.name}: {name} = {v} does not fit in its bits "
                                 f"({low}..{high})")
        if self.prefix is None:
            return bytearray()
        try:
            if self._pack is not None:
                return self._pack(ctx.__dict__, ctx)
            args = [g(ctx) for g in self.prefix_getters]
            return bytearray(self.prefix.pack(*args))
        except (struct.error, TypeError, AttributeError, KeyError) as exc:
            raise BuildError(f"{self.name}: {self._bad_prefix_field(ctx, exc)}") from None

    def _bad_prefix_field(self, ctx: Any, exc: Exception) -> str:
        for name, info in self.infos.items():
            if name not in self.positions and info.offset is None:
                continue
            value = ctx.__dict__.get(name)
            if value is None:
                return f"{name} has no value"
            bits = info.bits
            low = -(1 << (bits - 1)) if bits and info.type_name.startswith("i") else 0
            high = (1 << bits) if bits and low == 0 else (1 << (bits - 1)) if bits else 0
            if type(value) is int and bits and not low <= value < high:
                return f"{name} = {value} does not fit in {bits} bits ({low}..{high - 1})"
        return str(exc)

    def tail_is_empty(self, values: dict[str, Any]) -> bool:
        """Whether the tail writes nothing: only structured fields, all of them empty."""
        if not self.tail_only_fields:
            return False
        for t in self.tail:
            if not t.structured:
                return False
            v = values[t.name]
            if v is None and t.zeros is not None and not t.conditional:
                return False  # an unset struct that is always there: built as zeros
            if t.terminated and (v is None or type(v) in (list, bytes)):
                return False  # an until list or a delimited field writes its end
            if v is not None and not (type(v) in (list, bytes) and not v):
                return False
        return True

    def build_tail(self, values: dict[str, Any], unparsed: Any, natural: bool = False,
                   edited: frozenset[str] | None = None) -> bytes:
        """The tail's bytes from values; unparsed(name, value) stands in for a part the
        decoder has not parsed (a span's bytes as Raw, or the part parsed now). ``natural``
        builds the parts whose size a header-length field gives at their own size."""
        if self.tail_format is None:
            return b""
        obj = dict(values)
        empty = True
        for t in self.tail:
            v = obj[t.name]
            if type(v) is tuple or v is ...:
                v = obj[t.name] = unparsed(t.name, v)
            elif t.raw_ok and isinstance(v, (bytes, bytearray, memoryview)):
                v = obj[t.name] = Raw(bytes(v))  # a structured part given as its bytes
            elif t.raw_ok and isinstance(v, (dict, list)):
                _check_keys(v, t.keys, f"{self.name}.{t.name}")
                v = obj[t.name] = lenient(v)
            elif v is None and t.zeros is not None:
                v = obj[t.name] = t.zeros()  # an unset struct: its fields at zero
            elif v is None and not t.conditional and t.raw_ok:
                v = obj[t.name] = Raw(b"")
            if not t.structured or t.terminated or not (
                    v is None or (type(v) is Raw and not v.data) or (type(v) is list and not v)):
                empty = False
        if empty and self.tail_only_fields:
            return b""
        stream = io.BytesIO()
        context = _c.Container(obj)
        context.update({"_parsing": False, "_building": True, "_sizing": False})
        context._params = context
        self._refuse_unwritten(values, context, edited)
        fmt = self.tail_natural if natural and self.tail_natural is not None \
            else self.tail_format
        try:
            fmt._build(obj, stream, context, f"(building {self.name})")
        except (_c.ConstructError, TypeError, ValueError, KeyError, AttributeError) as exc:
            raise BuildError(f"{self.name}: {exc}") from None
        return stream.getvalue()


class _Field:
    """attrgetter(name) that remembers the name (a compiled pack reads the value directly)."""

    __slots__ = ("_field", "_get")

    def __init__(self, name: str) -> None:
        self._field = name
        self._get = attrgetter(name)

    def __call__(self, ctx: Any) -> Any:
        return self._get(ctx)


def _prefix_item(name: str | None, inner: Any) -> tuple[str, Callable, bool] | None:
    """(struct code, value getter, whether the value is packed as it is) of one prefix
    part, or None where the prefix ends."""
    if isinstance(inner, _c.Rebuild):
        func, sub = inner.func, inner.subcon
        if isinstance(sub, _c.FormatField) and (sub.fmtstr[0] == ">" or sub.length == 1):
            return sub.fmtstr[1:], func, False
        if isinstance(sub, _c.BytesInteger) and isinstance(sub.length, int):
            n, order = sub.length, "little" if sub.swapped else "big"
            return f"{n}s", lambda c, f=func: f(c).to_bytes(n, order), False
        return None
    if not name:
        return None
    get = _Field(name) if safe_name(name) else attrgetter(name)
    if isinstance(inner, _c.FormatField):
        if inner.fmtstr[0] == ">" or inner.length == 1:
            return inner.fmtstr[1:], get, True
        order, signed, n = "little", inner.fmtstr[-1].islower(), inner.length
        return f"{n}s", lambda c: get(c).to_bytes(n, order, signed=signed), False
    if isinstance(inner, _c.BytesInteger) and isinstance(inner.length, int):
        n, order, signed = inner.length, "little" if inner.swapped else "big", inner.signed
        return f"{n}s", lambda c: get(c).to_bytes(n, order, signed=signed), False
    if isinstance(inner, _c.Bytes) and isinstance(inner.length, int):
        return f"{inner.length}s", get, True
    return None


def _struct_keys(con: Any, seen: set[int] | None = None) -> frozenset[str]:
    """Every field name of the structs a construct part holds, at any depth and in every
    switch case: the keys a person may write in the dicts given for that part."""
    seen = set() if seen is None else seen
    if id(con) in seen:
        return frozenset()
    seen.add(id(con))
    keys: set[str] = set()
    if isinstance(con, _c.Struct):
        for sc in con.subcons:
            if sc.name and not sc.name.startswith("_"):
                keys.add(sc.name)
            keys |= _struct_keys(sc, seen)
    elif isinstance(con, _c.Switch):
        for case in (*con.cases.values(), con.default):
            keys |= _struct_keys(case, seen)
    elif isinstance(con, _c.IfThenElse):
        keys |= _struct_keys(con.thensubcon, seen) | _struct_keys(con.elsesubcon, seen)
    elif isinstance(con, _c.Subconstruct):
        keys |= _struct_keys(con.subcon, seen)
    return frozenset(keys)


def _check_keys(value: Any, keys: frozenset[str], where: str) -> None:
    """BuildError for a dict key that no struct of the part has (a misspelt field would
    otherwise be dropped, and the part fail later with construct's words, or not at all)."""
    if isinstance(value, list):
        for item in value:
            _check_keys(item, keys, where)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key not in keys and not (isinstance(key, str) and key.startswith("_")):
            # (construct's own keys, _io in a decoded part, are no field names)
            near = difflib.get_close_matches(str(key), sorted(keys), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise BuildError(f"{where}: unknown key {key!r}{hint}; the keys there are: "
                             f"{', '.join(sorted(keys))}")
        _check_keys(item, keys, where)


def _int_range(info: FieldInfo) -> tuple[int, int]:
    """The values a bits-wide field holds: (lowest, highest)."""
    if info.type_name.startswith("i"):
        half = 1 << (info.bits - 1)
        return -half, half - 1
    return 0, (1 << info.bits) - 1


def _raw_or(con: Any, default: Any = None) -> Any:
    """con, taking Raw bytes too (and building default for None); inside the If of a
    conditional part, so that the condition still decides whether the part is there."""
    if isinstance(con, _c.IfThenElse) and isinstance(con.elsesubcon, type(_c.Pass)):
        return _c.If(con.condfunc, _OrRaw(con.thensubcon, default))
    return _OrRaw(con, default)


def _natural(inner: Any, sizes: set[str]) -> Any:
    """A tail part as it is without the size a header-length field gives it, so that the
    builder can measure the part first, then set that field and pad the header: options
    ``size ihl * 4 - 20`` as built at their own size, ``meta: bytes[hlen * 4 - 4]`` as the
    bytes given, ``items: Item[hlen - 1]`` as the items given."""
    cond = None
    if isinstance(inner, _c.IfThenElse) and isinstance(inner.elsesubcon, type(_c.Pass)):
        cond, inner = inner.condfunc, inner.thensubcon
    if sized_by(inner) & sizes:
        if isinstance(inner, _c.FixedSized):
            inner = inner.subcon
        elif isinstance(inner, _c.Bytes):
            inner = _c.GreedyBytes
        else:  # an array by count
            inner = GreedyRange(inner.subcon)
    elif cond is None:
        return inner
    return _c.If(cond, inner) if cond is not None else inner


def _zeros_of(con: Any) -> Callable[[], Any] | None:
    """For a struct-valued part: a function making its value with every field zero, empty
    or absent (what an unset struct is built as), else None."""
    if isinstance(con, _c.IfThenElse):
        con = con.thensubcon
    while isinstance(con, (_c.FixedSized, _OrRaw, _c.Renamed, Params)):
        con = con.subcon
    if not isinstance(con, _c.Struct):
        return None
    fields = {}
    for sc in con.subcons:
        inner = sc.subcon if isinstance(sc, _c.Renamed) else sc
        if not sc.name or isinstance(inner, (_c.Rebuild, _c.Check)):
            continue
        # a bit field is a Computed part of a Rebuild chunk: it needs its value too
        fields[sc.name] = 0 if isinstance(inner, _c.Computed) else _zero_value(inner)
    return lambda: _c.Container(fields)


def _zero_value(con: Any) -> Any:
    if isinstance(con, (_c.FormatField, _c.BytesInteger)):
        return 0
    if isinstance(con, _c.Bytes):  # sized by the data: None, for the part's own Default
        return bytes(con.length) if isinstance(con.length, int) else None
    if isinstance(con, (_c.Array, _c.GreedyRange, _c.RepeatUntil)):
        return []
    if con is _c.GreedyBytes:
        return b""
    make = _zeros_of(con)
    return make() if make is not None else None
