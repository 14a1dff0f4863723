"""How one layer class is built: a plan made once per class from what the generator emitted.

A generated class describes its wire format twice (docs/GENERATED.md): ``FORMAT``, a construct
Struct that can build, and ``fields_info``. Building every header through construct would cost
tens of microseconds a layer, so the plan splits ``FORMAT`` where the fixed part ends:

- the *prefix*, the leading fields whose construct parts are plain integers, fixed-size bytes
  and bit-field chunks (construct's ``Rebuild`` lambdas, reused as they are), is packed with
  one precompiled ``struct.Struct``;
- the *tail* (options, conditional fields, arrays, switches, externs) goes through construct,
  and only when it holds something: an IPv4 header without options never touches construct.

The plan also sorts the class's ``RELATIONS`` by what they need (values only; the unpadded
header length; the final lengths; the header and payload bytes), and knows how each field's
value is written by people (``"192.0.2.1"``, ``"SA"``, ``"UDP"``) and stored by the decoder
(bytes, ints). :mod:`pktspec.runtime.serialize` runs the plans; nothing here runs per packet
except the converters and the two ``build_*`` functions.
"""

from __future__ import annotations

import difflib
import io
import keyword
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import construct as _c

from pktspec.errors import BuildError
from pktspec.runtime.constructs import (
    GreedyRange,
    Params,
    RepeatUntil,
    apply_first_way,
    lenient,
)
from pktspec.runtime.layer import FieldInfo, Layer
from pktspec.runtime.values import addr_bytes, ipv4_bytes, ipv6_bytes, mac_bytes

__all__ = ["LayerPlan", "Raw", "Relation", "converter", "force", "init_layer", "parse_flags",
           "plan_of"]

# Stages of a relation, in the order the builder evaluates them.
VALUES, HEADER_SIZE, LENGTHS, BYTES = range(4)
_BYTES_NAMES = frozenset({"_header", "_payload", "_pseudo_header"})
_LENGTH_NAMES = frozenset({"_header_len", "_payload_len"})
_FIXED_BYTES = re.compile(r"^bytes\[(\d+)\]$")
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
class Relation:
    """One entry of a class's RELATIONS, with what it reads."""

    name: str
    kind: str  # "length" or "checksum"
    checksum: bool  # kind == "checksum": which of the two modes decides
    fn: Callable[[Any], Any]
    stage: int
    fields: tuple[str, ...]  # the layer's fields it reads
    pseudo: bool  # reads the pseudo-header of the enclosing layer
    payload: bool  # reads the payload bytes (so a truncated capture cannot verify it)


@dataclass(frozen=True, slots=True)
class _Tail:
    name: str
    conditional: bool
    structured: bool  # a value-kind field: None or [] there means "nothing"
    zeros: Callable[[], Any] | None = None  # a struct field's value with every field zero
    raw_ok: bool = False  # a structured part (options, records) may be given as bytes
    keys: frozenset[str] = frozenset()  # every field name of the structs inside the part
    condition: Callable[[Any], Any] | None = None  # a conditional part's `if`
    terminated: bool = False  # `T[] until ...`: empty, it still writes the item that ends it


class LayerPlan:
    """Everything the builder needs about one layer class, worked out once."""

    def __init__(self, cls: type[Layer]) -> None:
        self.cls = cls
        self.name = cls.name
        self.source = getattr(cls, "source", None)
        fmt = getattr(cls, "FORMAT", None)
        self.buildable = fmt is not None
        infos = [i for i in cls.fields_info if i.kind != "let"]
        self._fields(cls, infos)
        self.relations = _relations(cls)
        self.targets = frozenset(r.name for r in self.relations)
        self.header_fn = getattr(cls, "HEADER", None)
        self.pseudo_fn = getattr(cls, "PSEUDO_HEADER", None)
        nxt = getattr(cls, "NEXT", None)
        self.next_table, self.next_fields = nxt if nxt else (None, ())
        self.next_unless = getattr(cls, "NEXT_UNLESS", None)
        self._conditions(cls)
        self._initial(cls, infos)
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
        if fmt is not None:
            self._split(fmt)
        # `trailer { ... }`: fixed-size fields after the payload, built once it is
        self.trailer_format = getattr(cls, "TRAILER", None)
        trailer_subcons = [sc for sc in self.trailer_format.subcons if sc.name in self.infos] \
            if self.trailer_format is not None else []
        self.trailer_names: frozenset[str] = frozenset(sc.name for sc in trailer_subcons)
        # each trailer field's slot and size: a field with an `if` is there when its slot
        # is not None (trailer_size_of)
        self.trailer_parts: tuple[tuple[str, int], ...] = tuple(
            (self.infos[sc.name].raw_attr, _fixed_size(sc)) for sc in trailer_subcons)
        conds = {t.name: t.condition for t in self.tail if t.condition is not None}
        conds.update(_trailer_conditions(trailer_subcons))
        # (field, its condition as written, ways to make it hold, the condition, the
        # fields it reads), in wire order: a field's condition reads only fields before it
        self.implications = tuple(
            (name, text, ways, conds[name], tuple(sorted(
                _code_reads(getattr(conds[name], "__wrapped__", conds[name]).__code__)
                & set(self.infos))))
            for name, (text, ways) in self.cond_text.items() if name in conds)
        self._values = _compile_values(self)
        self._pack = _compile_pack(self)
        self._init = _compile_init(self)

    def _fields(self, cls: type, infos: list[FieldInfo]) -> None:
        """Names, where each value lives, and how a value given by a person is converted."""
        slots = _all_slots(cls)
        self.names = tuple(i.name for i in infos)
        self.storage = tuple(_storage(i, slots, cls) for i in infos)
        self.slot_of = dict(zip(self.names, self.storage, strict=True))
        self.infos = {i.name: i for i in infos}
        self._read = attrgetter(*self.storage) if self.storage else None
        self.convert = {i.name: converter(i) for i in infos}
        self.ok_types = {i.name: _ok_type(i) for i in infos}
        # what normalize() looks at: scalar fields only (a tuple in a structured field is
        # an unparsed span, not something to convert)
        self.converters = tuple((n, ok, self.convert[n]) for n, ok in self.ok_types.items()
                                if ok is not None)

    def _conditions(self, cls: type) -> None:
        """The generated CONDITIONS: each conditional field's condition as written and how
        the builder makes it hold when the field is given (docs/GENERATED.md)."""
        self.cond_text = {name: (text, ways) for name, text, ways in
                          getattr(cls, "CONDITIONS", ())}
        # the fields those ways set: a new layer leaves them unset (None) until built, so
        # that the builder knows which were given (a given one is never changed)
        self.controls = frozenset(f for _, ways in self.cond_text.values()
                                  for way in ways for f, _, _ in way)

    def _initial(self, cls: type, infos: list[FieldInfo]) -> None:
        """What a new layer's fields hold until set, and what computed ones fall back to."""
        computed = set(self.targets) | set(self.next_fields)
        if self.next_unless is not None:
            computed.add(self.next_unless[0])
        self.builder_sets = frozenset(computed)  # computed whatever the conditions say
        computed |= self.controls
        self.computed = computed
        # a conditional scalar of a new layer is None (absent) until given; a bit field
        # sharing its bytes with others keeps a number (its chunk is packed whole)
        self.optional = frozenset(
            i.name for i in infos if i.name in self.cond_text and i.bit is None and
            i.kind in ("int", "enum", "flags", "address", "bytes"))
        self.initial = _initial_values(cls, infos, computed | self.optional)
        self.initial_slots = tuple((self.slot_of[n], v) for n, v in self.initial.items()
                                   if type(v) is not list)
        self.list_slots = tuple(self.slot_of[n] for n, v in self.initial.items()
                                if type(v) is list)  # each new layer gets its own list
        # what a computed field that nothing computed gets (fixing off, nothing to bind)
        self.plain = plain = _initial_values(cls, infos, set())
        self.fallback = {n: plain[n] for n in sorted(computed)}

    # -- the two halves of FORMAT ------------------------------------------------------------

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
        # the prefix's bit fields: packing masks them, so a value too wide would wrap
        # silently (VLAN 5000 as 904); byte-wide ones fail in struct.pack on their own
        self.bit_ranges = tuple(
            (name, *_int_range(info)) for name, info in self.infos.items()
            if info.kind in ("int", "enum", "flags") and info.bits and info.bits % 8
            and info.offset is not None and info.offset < size)
        self._plan_tail(lets, subcons[start:])

    def _plan_tail(self, lets: list, subcons: list) -> None:
        sizes = {r.name for r in self.relations if r.stage == HEADER_SIZE}
        parts, natural, tail, reads = list(lets), list(lets), [], set()
        only_fields = True
        for sc in subcons:
            inner = sc.subcon if isinstance(sc, _c.Renamed) else sc
            reads |= _names_read(inner)
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
                                             RepeatUntil)))
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

    def read(self, layer: Layer) -> dict[str, Any]:
        """The layer's stored values by field name (raw slots: bytes, ints, spans)."""
        if self._read is None:
            return {}
        try:
            got = self._read(layer)
        except AttributeError:
            got = tuple(getattr(layer, s, None) for s in self.storage)
        if len(self.storage) == 1:
            got = (got,)
        return dict(zip(self.names, got, strict=True))

    def values(self, layer: Layer, new: bool) -> dict[str, Any]:
        """read() and normalize() in one, and for a new layer the unset fields (other than
        those the builder computes) at their defaults: what serialize starts from."""
        if self._values is not None:
            try:
                values = self._values(layer, new)
            except AttributeError:
                pass  # a slot never set (a layer made by hand): the slow way
            else:
                if new and self.controls:
                    self.imply(values)
                return values
        values = self.read(layer)
        self.normalize(values)
        if new:
            for name, value in values.items():
                if value is None and name not in self.computed:
                    values[name] = self.fallback.get(name, self.initial[name])
            if self.controls:
                self.imply(values)
        return values

    def imply(self, values: dict[str, Any]) -> None:
        """Set what the conditions of the given conditional fields read, in place: each
        field a condition reads that was not given (None) is set so that the condition
        holds (``tsft`` given: the ``tsft`` bit ORed into ``present``), else takes its
        default. A given controlling field is kept; a conditional field given while its
        condition is false is a BuildError, never a silent drop."""
        unset = {f for f in self.controls if values[f] is None}
        if not unset:
            self.refuse_false(values)
            return
        for f in unset:
            if f not in self.builder_sets:
                values[f] = self.fallback[f]
        assigned: dict[str, int] = {}
        for name, _text, ways, cond, reads in self.implications:
            if not ways or not _given(values[name]) or \
                    _holds(cond, reads, values) is True:
                continue
            apply_first_way(ways, values, unset.__contains__, assigned)
        self.refuse_false(values)

    def imply_edited(self, values: dict[str, Any], edited: frozenset[str]) -> frozenset[str]:
        """A decoded layer edited: set what the conditions of the conditional fields the
        edit gave read, in place, as imply() does for a new layer, where the edit left it
        as decoded (``p[RadioTap].rate = 12`` ORs the ``rate`` bit into ``present``); a
        controlling field the edit set is kept. The fields set, which are then stale as an
        edit makes them. A decoded value is not "given": a field whose condition an edit
        made false is simply not written; one the edit gave while its condition is false
        is a BuildError."""
        changed: set[str] = set()
        assigned: dict[str, int] = {}
        for name, _text, ways, cond, reads in self.implications:
            if name not in edited or not ways or not _given(values[name]) or \
                    _holds(cond, reads, values) is not False:
                continue
            changed.update(apply_first_way(
                ways, values, lambda f: f not in edited and isinstance(values[f], int),
                assigned))
        self.refuse_false(values, edited)
        return frozenset(changed)

    def refuse_false(self, values: dict[str, Any], given: frozenset[str] | None = None) -> None:
        """BuildError for a conditional field given while its condition is false (as far
        as the values known now tell)."""
        for name, text, _ways, cond, reads in self.implications:
            if (given is None or name in given) and _given(values[name]):
                holds = _holds(cond, reads, values)
                if holds is False:
                    raise BuildError(self._unwritten(name, text))
                absent = [f for f in reads if values.get(f) is None
                          and f not in self.builder_sets and f in self.cond_text]
                if holds is None and absent:  # a conditional field it reads is left out
                    raise BuildError(self._unwritten(name, text) + (
                        f" ({absent[0]} is not given, and its own condition leaves it out "
                        "unless it is)"))

    def _unwritten(self, name: str, text: str | None) -> str:
        info = self.infos[name]
        where = f" ({info.line and f'line {info.line} of '}{self.source})" \
            if self.source else ""
        cond = f" ({text})" if text else ""
        return (f"{self.name}: {name} is given but its condition{cond} is false, so it "
                f"would not be written{where}; give the fields the condition reads so "
                f"that it holds, or leave {name} out")

    def normalize(self, values: dict[str, Any]) -> None:
        """Turn what people write (text, names, FlagSets) into what is packed, in place."""
        for name, ok, conv in self.converters:
            v = values[name]
            if v is not None and type(v) is not ok:
                values[name] = conv(v)

    def pack_prefix(self, ctx: Any) -> bytearray:
        """The header's fixed-layout prefix packed in one ``struct.pack`` from ctx (the
        serializer's context over the layer's values; empty when the layer has none).
        A bit field too wide for its bits, or a value of the wrong type, is a BuildError
        naming the field instead of a value that wraps or a bare struct.error."""
        if self.prefix is None:
            return bytearray()
        values = ctx.__dict__
        for name, low, high in self.bit_ranges:
            v = values.get(name)
            if v is not None and type(v) is not tuple and not low <= v <= high:
                raise BuildError(f"{self.name}: {name} = {v} does not fit in its bits "
                                 f"({low}..{high})")
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
            if t.terminated and (v is None or type(v) is list):
                return False  # an until list writes its end (its condition permitting)
            if v is not None and not (type(v) in (list, bytes) and not v):
                return False
        return True

    def trailer_size_of(self, layer: Layer) -> int:
        """The bytes of a decoded layer's trailer fields: those its header said are there."""
        return sum(size for attr, size in self.trailer_parts
                   if getattr(layer, attr, None) is not None)

    def build_trailer(self, values: dict[str, Any]) -> bytes:
        """The trailer fields' bytes from values (b"" for a layer without them). The values
        go in as the context's keywords too, where a trailer field's condition reads the
        header's (TRAILER's lines read them as ``this._[name]``)."""
        if self.trailer_format is None:
            return b""
        try:
            return self.trailer_format.build(values, **values)
        except (_c.ConstructError, TypeError, ValueError, KeyError, AttributeError) as exc:
            raise BuildError(f"{self.name}: trailer: {exc}") from None

    def _refuse_unwritten(self, given: dict[str, Any], context: Any,
                          edited: frozenset[str] | None = None) -> None:
        """BuildError for a conditional part given a value while its condition is false: it
        would not be written, and the value would be lost without a word (DHCP options
        with no magic cookie). In a decoded layer only what was edited counts as given."""
        for t in self.tail:
            if edited is not None and t.name not in edited:
                continue
            v = given[t.name]
            # a scalar left unset is None (its builder default comes only when the
            # condition holds); a structured part shows intent when it holds something
            if t.condition is None or not _given(v) or t.name in self.builder_sets or \
                    (not t.structured and t.name not in self.optional):
                continue
            try:
                holds = _c.evaluate(t.condition, context)
            except (TypeError, KeyError, AttributeError):
                continue  # the condition reads what is not known yet: construct decides
            if not holds:
                raise BuildError(self._unwritten(t.name, self.cond_text.get(t.name, (None,))[0]))

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


# The two per-packet steps are compiled once per class into straight-line functions, as
# dataclasses does for __init__: only identifiers the generator validated, repr()-ed names
# and names of this module reach the source; a class with any other field name keeps the
# generic loops.


def _compile_values(plan: LayerPlan) -> Callable | None:
    if not plan.storage or not all(_safe(s) for s in plan.storage):
        return None
    ns: dict[str, Any] = {}
    lines = ["def values(l, new):", "    v = {}"]
    for i, (name, slot) in enumerate(zip(plan.names, plan.storage, strict=True)):
        ok = plan.ok_types[name]
        lines.append(f"    x = l.{slot}")
        if ok is not None:
            ns[f"T{i}"], ns[f"C{i}"] = ok, plan.convert[name]
            lines += [f"    if type(x) is not T{i}:",
                      "        if x is not None:",
                      f"            x = C{i}(x)"]
            if name not in plan.computed:
                ns[f"F{i}"] = plan.fallback.get(name, plan.initial[name])
                lines += ["        elif new:", f"            x = F{i}"]
        elif name not in plan.computed and plan.initial[name] is not None:
            ns[f"F{i}"] = plan.initial[name]
            lines += ["    if x is None and new:",
                      f"        x = [] if type(F{i}) is list else F{i}"]
        lines.append(f"    v[{name!r}] = x")
    lines.append("    return v")
    exec("\n".join(lines), ns)  # noqa: S102 - see the comment above
    return ns["values"]


def _compile_init(plan: LayerPlan) -> Callable | None:
    """``__init__(self, *, field=..., ...)`` of one class: each field converted when given
    and not already raw, else at its initial value (a fresh list for list parts)."""
    names = plan.names
    if not all(_safe(n) and not n.startswith("_") for n in names) or \
            not all(_safe(s) for s in plan.storage):
        return None
    ns: dict[str, Any] = {"_U": _UNSET, "_type": type}  # a field may be called `type`
    params = ", *" + "".join(f", {n}=_U" for n in names) if names else ""
    lines = [f"def __init__(_l{params}):", "    _l._buf = _l._forced = None"]
    for i, (name, slot) in enumerate(zip(names, plan.storage, strict=True)):
        initial, ok = plan.initial[name], plan.ok_types[name]
        ns[f"_I{i}"], ns[f"_C{i}"], ns[f"_T{i}"] = initial, plan.convert[name], ok
        default = "[]" if type(initial) is list else f"_I{i}"
        lines += [f"    if {name} is _U:", f"        _l.{slot} = {default}",
                  f"    elif {name} is None or _type({name}) is _T{i}:",
                  f"        _l.{slot} = {name}",
                  "    else:", f"        _l.{slot} = _C{i}({name})"]
    exec("\n".join(lines), ns)  # noqa: S102 - see above
    init = ns["__init__"]
    init.__doc__ = (f"A new {plan.name} layer to build; fields not given take their defaults "
                    "(see Layer.__init__).")
    init.__qualname__ = f"{plan.cls.__qualname__}.__init__"
    return init


_UNSET = object()


def _compile_pack(plan: LayerPlan) -> Callable | None:
    if plan.prefix is None:
        return None
    ns: dict[str, Any] = {"S": plan.prefix.pack, "bytearray": bytearray}
    args = []
    for i, getter in enumerate(plan.prefix_getters):
        name = getattr(getter, "_field", None)
        if name is not None:
            args.append(f"v[{name!r}]")
        else:
            ns[f"G{i}"] = getter
            args.append(f"G{i}(c)")
    exec(f"def pack(v, c):\n    return bytearray(S({', '.join(args)}))", ns)  # noqa: S102
    return ns["pack"]


def _safe(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__")


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
    get = _Field(name) if _safe(name) else attrgetter(name)
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


def _given(value: Any) -> bool:
    """Whether a field's value says something: not None, not an unparsed span, not an
    empty list or bytes."""
    if value is None or value is ... or type(value) is tuple:
        return False
    if type(value) in (list, bytes):
        return bool(value)
    return type(value) is not Raw or bool(value.data)


def _holds(cond: Callable, reads: tuple[str, ...], values: dict[str, Any]) -> bool | None:
    """A FORMAT condition over a layer's values: True, False, or None when it reads a
    value not known yet (a length the builder computes, a ``let``)."""
    for name in reads:
        if values.get(name) is None:
            return None
    try:
        return bool(cond(values))
    except (TypeError, KeyError, AttributeError, ValueError):
        return None


def _natural(inner: Any, sizes: set[str]) -> Any:
    """A tail part as it is without the size a header-length field gives it, so that the
    builder can measure the part first, then set that field and pad the header: options
    ``size ihl * 4 - 20`` as built at their own size, ``meta: bytes[hlen * 4 - 4]`` as the
    bytes given, ``items: Item[hlen - 1]`` as the items given."""
    cond = None
    if isinstance(inner, _c.IfThenElse) and isinstance(inner.elsesubcon, type(_c.Pass)):
        cond, inner = inner.condfunc, inner.thensubcon
    if _sized_by(inner) & sizes:
        if isinstance(inner, _c.FixedSized):
            inner = inner.subcon
        elif isinstance(inner, _c.Bytes):
            inner = _c.GreedyBytes
        else:  # an array by count
            inner = GreedyRange(inner.subcon)
    elif cond is None:
        return inner
    return _c.If(cond, inner) if cond is not None else inner


def _sized_by(inner: Any) -> set[str]:
    """The names the size of a part reads: a FixedSized's (``T[] size n``), a Bytes' or
    an Array's (``bytes[n * 4]``, ``T[n]``) length, when an expression gives it."""
    if isinstance(inner, _c.FixedSized):
        size = inner.length
    elif isinstance(inner, _c.Bytes):
        size = inner.length
    elif isinstance(inner, _c.Array):
        size = inner.count
    else:
        return set()
    code = getattr(size, "__code__", None)
    return _code_reads(code) if code is not None else set()


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


def _code_reads(code: Any) -> set[str]:
    """The names a FORMAT lambda reads: attributes (``this._bits0``) and the keys generated
    code reads fields by (``this["items"]``, string constants)."""
    return set(code.co_names) | {c for c in code.co_consts if isinstance(c, str)}


def _names_read(con: Any, depth: int = 0) -> set[str]:
    """Names the lambdas of a construct part (and the parts inside it) read from ``this``."""
    out: set[str] = set()
    if depth > 6 or con is None:
        return out
    for value in vars(con).values() if hasattr(con, "__dict__") else ():
        code = getattr(value, "__code__", None)
        if code is not None:
            out |= _code_reads(code)
        elif isinstance(value, _c.Construct):
            out |= _names_read(value, depth + 1)
        elif isinstance(value, (list, tuple)):
            for v in value:
                if isinstance(v, _c.Construct):
                    out |= _names_read(v, depth + 1)
        elif isinstance(value, dict):
            for v in value.values():
                if isinstance(v, _c.Construct):
                    out |= _names_read(v, depth + 1)
    return out


def _trailer_conditions(subcons: list[Any]) -> dict[str, Callable]:
    """The conditions of the trailer fields with an `if`, as functions of a layer's values
    (TRAILER's lines read the header's values as ``this._[name]``)."""
    out = {}
    for sc in subcons:
        inner = sc.subcon if isinstance(sc, _c.Renamed) else sc
        if isinstance(inner, _c.IfThenElse):
            cond = inner.condfunc
            def holds(values: dict[str, Any], cond: Callable = cond) -> Any:
                return cond(_c.Container(_=values))
            holds.__wrapped__ = cond  # type: ignore[attr-defined]  # what it reads
            out[sc.name] = holds
    return out


def _fixed_size(sc: Any) -> int:
    """The size of one TRAILER field, also of one wrapped in If (its size when there)."""
    inner = sc.subcon if isinstance(sc, _c.Renamed) else sc
    if isinstance(inner, _c.IfThenElse):
        inner = inner.thensubcon
    return inner.sizeof()


def _relations(cls: type) -> tuple[Relation, ...]:
    header_reads = set(getattr(getattr(cls, "HEADER", None), "__code__", _NoCode).co_names)
    fmt = getattr(cls, "FORMAT", None)
    header_reads |= _size_reads(fmt.subcons) if fmt is not None else set()
    names = {i.name for i in cls.fields_info}
    out = []
    for name, kind, fn in getattr(cls, "RELATIONS", ()):
        reads = set(fn.__code__.co_names)
        if reads & _BYTES_NAMES:
            stage = BYTES
        elif name in header_reads and "_header_len" in reads:
            stage = HEADER_SIZE
        elif reads & _LENGTH_NAMES:
            stage = LENGTHS
        else:
            stage = VALUES
        out.append(Relation(name, kind, kind == "checksum", fn, stage,
                            tuple(sorted(reads & names)), "_pseudo_header" in reads,
                            "_payload" in reads or "_pseudo_header" in reads))
    return tuple(sorted(out, key=lambda r: r.stage))


def _size_reads(subcons: Any) -> set[str]:
    """Names read by the sizes of a layer's parts (``options ... size ihl * 4``,
    ``meta: bytes[hlen * 4 - 4]``)."""
    out: set[str] = set()
    for sc in subcons:
        inner = sc.subcon if isinstance(sc, _c.Renamed) else sc
        if isinstance(inner, _c.IfThenElse):
            inner = inner.thensubcon
        out |= _sized_by(inner)
    return out


class _NoCode:
    co_names: tuple[str, ...] = ()


def _all_slots(cls: type) -> set[str]:
    out: set[str] = set()
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        out.update((slots,) if isinstance(slots, str) else slots)
    return out


def _storage(info: FieldInfo, slots: set[str], cls: type) -> str:
    """Where a field's raw value lives: its raw slot, or ``_<name>`` behind a lazy property."""
    if info.raw_attr != info.name:
        return info.raw_attr
    if "_" + info.name in slots and isinstance(getattr(cls, info.name, None), property):
        return "_" + info.name
    return info.name


# -- values: what people write -> what is stored ---------------------------------------------


def _ok_type(info: FieldInfo) -> type | None:
    if info.kind in ("int", "enum", "flags"):
        return int
    if info.kind in ("address", "bytes"):
        return bytes
    return None


def converter(info: FieldInfo) -> Callable[[Any], Any]:
    """The function that turns a value a person gives for this field into the raw value.

    Text is converted once per distinct string and remembered (a program that builds
    many packets writes the same few addresses and flag strings over and over)."""
    kind = info.kind
    if kind == "enum":
        convert = _cached(lambda v: _to_int(v, info, info.enum.parse))
    elif kind == "flags":
        convert = _cached(lambda v: _to_int(v, info, lambda text: parse_flags(info.flags, text)))
    elif kind == "int":
        convert = _cached(lambda v: _to_int(v, info, lambda text: int(text, 0)))
    elif kind == "address":
        convert = _cached(lambda v: _to_address(v, info))
    elif kind == "bytes":
        return lambda v: _to_bytes(v, info)
    else:
        return _to_value
    return convert


def _cached(convert: Callable[[Any], Any], limit: int = 4096) -> Callable[[Any], Any]:
    memo: dict[str, Any] = {}

    def cached(value: Any) -> Any:
        """convert(value), remembered for strings (a text address or an enum name given
        again and again); other values are converted each time."""
        if type(value) is not str:
            return convert(value)
        out = memo.get(value)
        if out is None:
            if len(memo) >= limit:
                memo.clear()
            out = memo[value] = convert(value)
        return out

    return cached


def _to_int(value: Any, info: FieldInfo, parse: Callable[[str], int]) -> int:
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        try:
            return int(parse(value))
        except ValueError as exc:
            raise BuildError(f"{info.name}: {exc}") from None
    if info.kind == "flags" and isinstance(value, (list, tuple, set, frozenset)):
        return parse_flags(info.flags, "|".join(value))
    raise BuildError(f"{info.name} takes an integer{' or a name' if info.enum else ''}, "
                     f"not {value!r}")


def _to_address(value: Any, info: FieldInfo) -> bytes:
    size = info.size or (info.bits // 8 if info.bits else None)
    if isinstance(value, str):
        parse = {4: ipv4_bytes, 6: mac_bytes, 16: ipv6_bytes}.get(size) if size else addr_bytes
        if parse is None:
            raise BuildError(f"{info.name}: no text form for a {size}-byte address")
        try:
            return parse(value)
        except ValueError as exc:
            raise BuildError(f"{info.name}: {exc}") from None
    if isinstance(value, int) and size:
        return value.to_bytes(size, "big")
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if size and len(data) != size:
            raise BuildError(f"{info.name} is {size} bytes, not {len(data)}")
        return data
    raise BuildError(f"{info.name} takes an address as text or bytes, not {value!r}")


def _to_bytes(value: Any, info: FieldInfo) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise BuildError(f"{info.name} takes bytes, not {value!r}")


def _to_value(value: Any) -> Any:
    """Structured parts (options, records) are kept; a tuple would read as an unparsed span."""
    return list(value) if type(value) is tuple else value


def parse_flags(flags: Any, text: str) -> int:
    """``"SA"``, ``"syn|ack"``, ``"DF"``, ``"dont_fragment,more_fragments"`` -> the int.

    Each word is a flag name (any case), a short name (``DF``, ``SYN``), or a run of letters
    that each begin exactly one flag name (TCP's ``FSRPAUECN``; tcpdump's ``.`` and ``W``
    for ack and cwr are accepted too).
    """
    masks = flags._masks_
    named = {n.casefold(): m for n, m in masks.items()}
    named.update({short.casefold(): m for n, m, short in flags._order_})
    firsts: dict[str, list[int]] = {}
    for n, m in masks.items():
        firsts.setdefault(n[0].casefold(), []).append(m)
    letters = {k: v[0] for k, v in firsts.items() if len(v) == 1}
    if getattr(flags, "_tcpdump_", False):
        letters.setdefault(".", masks.get("ack", 0))
        letters.setdefault("w", masks.get("cwr", 0))
    value = 0
    for word in re.split(r"[|,+\s]+", text.strip()):
        if not word:
            continue
        key = word.casefold()
        if key in named:
            value |= named[key]
        elif all(ch.casefold() in letters for ch in word):
            for ch in word:
                value |= letters[ch.casefold()]
        else:
            known = ", ".join(masks)
            raise ValueError(f"unknown flag {word!r} (flags: {known})")
    return value


def _initial_values(cls: type, infos: list[FieldInfo], computed: set[str]) -> dict[str, Any]:
    """What a field of a new layer holds until set: its declared default, None for what the
    builder computes (lengths, checksums, next-layer fields), else zero or empty."""
    defaults = getattr(cls, "DEFAULTS", {}) or {}
    out: dict[str, Any] = {}
    for info in infos:
        if info.name in computed:
            out[info.name] = None
        elif defaults.get(info.name) is not None:
            out[info.name] = defaults[info.name]
        else:
            out[info.name] = _zero(info)
    return out


def _zero(info: FieldInfo) -> Any:
    if info.kind in ("int", "enum", "flags"):
        return 0
    if info.kind == "address":
        return bytes(info.size or (info.bits or 0) // 8)
    if info.kind == "bytes":  # fixed: zeros; sized by other fields: zeros of that size
        m = _FIXED_BYTES.match(info.type_name)
        return bytes(int(m.group(1))) if m else b"" if info.type_name == "bytes[]" else None
    return [] if info.type_name.endswith("]") else None


def init_layer(layer: Layer, fields: dict[str, Any]) -> None:
    """Fill a new layer: the given fields converted, the others at their initial values.

    The first call for a class installs the class's compiled ``__init__`` (keyword
    arguments named after the fields, so ``help(IPv4)`` lists them too), which the later
    ones run directly; a class that defines its own ``__init__`` keeps it.
    """
    cls = type(layer)
    plan = _PLANS.get(cls) or plan_of(cls)
    if plan._init is not None and "__init__" not in cls.__dict__:
        cls.__init__ = plan._init
        plan._init(layer, **fields)
        return
    layer._buf = layer._forced = None  # not decoded, nothing forced (and fast to ask)
    for slot, value in plan.initial_slots:
        setattr(layer, slot, value)
    for slot in plan.list_slots:
        setattr(layer, slot, [])
    slots = plan.slot_of
    for name, value in fields.items():
        slot = slots.get(name)
        if slot is None:
            raise TypeError(f"{plan.name} has no field {name!r} "
                            f"(its fields: {', '.join(plan.names) or 'none'})")
        if value is not None and type(value) is not plan.ok_types[name]:
            value = plan.convert[name](value)
        setattr(layer, slot, value)


def force(layer: Layer, fields: dict[str, Any]) -> None:
    """Set fields that no fixing may change, and remember which they are."""
    plan = plan_of(type(layer))
    slots = dict(zip(plan.names, plan.storage, strict=True))
    for name, value in fields.items():
        if name not in slots:
            raise TypeError(f"{plan.name} has no field {name!r}")
        setattr(layer, slots[name], None if value is None else plan.convert[name](value))
    layer._forced = frozenset(getattr(layer, "_forced", None) or ()) | frozenset(fields)


_PLANS: dict[type, LayerPlan] = {}


def plan_of(cls: type[Layer]) -> LayerPlan:
    """The build plan of a layer class (made on first use, then cached)."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = LayerPlan(cls)
    return plan
