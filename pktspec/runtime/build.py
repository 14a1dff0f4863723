"""How one layer class is built: a plan made once per class from what the generator emitted.

A generated class describes its wire format twice (docs/GENERATED.md): ``FORMAT``, a construct
Struct that can build, and ``fields_info``. :class:`LayerPlan` is what the builder makes of it,
once per class (:func:`plan_of`); :mod:`pktspec.runtime.serialize` runs the plans. The plan is
made of parts kept in their own modules:

- :mod:`~pktspec.runtime.format_split`: ``FORMAT`` split where the fixed part ends, a prefix
  packed by one ``struct.Struct`` and a tail built by construct only when it holds something;
- :mod:`~pktspec.runtime.relations`: the class's ``RELATIONS`` sorted by what they need (values
  only; the unpadded header length; the final lengths; the header and payload bytes);
- :mod:`~pktspec.runtime.conditions`: conditional fields given, their conditions made to hold;
- :mod:`~pktspec.runtime.convert`: each field's value as people write it (``"192.0.2.1"``,
  ``"SA"``, ``"UDP"``) turned into what the decoder stores (bytes, ints);
- :mod:`~pktspec.runtime.compile_plan`: the per-packet steps compiled into straight-line
  functions.

This module keeps the plan itself (fields, where their values live, initial values, the
trailer), the cache of plans and what ``Layer.__init__`` and ``Layer.force`` call. A plan is
worked out once; per packet, serialize calls its methods (``values``, ``pack_prefix``,
``build_tail``, ``build_trailer``) and the converters.
"""

from __future__ import annotations

import re
from operator import attrgetter
from typing import Any

import construct as _c

from pktspec.errors import BuildError
from pktspec.runtime.compile_plan import compile_init, compile_pack, compile_values
from pktspec.runtime.conditions import Implications
from pktspec.runtime.constructs import extern_empty
from pktspec.runtime.convert import converter, ok_type, parse_flags
from pktspec.runtime.format_split import FormatHalves, Raw
from pktspec.runtime.layer import FieldInfo, Layer

# the stages of a relation, which serialize imports from here
from pktspec.runtime.relations import BYTES as BYTES
from pktspec.runtime.relations import HEADER_SIZE as HEADER_SIZE
from pktspec.runtime.relations import LENGTHS as LENGTHS
from pktspec.runtime.relations import VALUES as VALUES
from pktspec.runtime.relations import Relation, relations_of, sized_by

__all__ = ["LayerPlan", "Raw", "Relation", "converter", "force", "init_layer", "parse_flags",
           "plan_of"]

_FIXED_BYTES = re.compile(r"^bytes\[(\d+)\]$")


class LayerPlan(FormatHalves, Implications):
    """Everything the builder needs about one layer class, worked out once. What it makes of
    FORMAT's two halves and of the class's conditions, and does with them per packet, is
    :class:`FormatHalves`' and :class:`Implications`'."""

    def __init__(self, cls: type[Layer]) -> None:
        self.cls = cls
        self.name = cls.name
        self.source = getattr(cls, "source", None)
        fmt = getattr(cls, "FORMAT", None)
        self.buildable = fmt is not None
        infos = [i for i in cls.fields_info if i.kind != "let"]
        self._fields(cls, infos)
        self.relations = relations_of(cls)
        self.targets = frozenset(r.name for r in self.relations)
        self.header_fn = getattr(cls, "HEADER", None)
        self.pseudo_fn = getattr(cls, "PSEUDO_HEADER", None)
        nxt = getattr(cls, "NEXT", None)
        self.next_table, self.next_fields = nxt if nxt else (None, ())
        # (table, fields, test, settings) of each `next by` rule of a layer with several or
        # with `if cond` (NEXT_RULES, docs/GENERATED.md); () when NEXT says it all
        self.next_rules = getattr(cls, "NEXT_RULES", ())
        self.next_unless = getattr(cls, "NEXT_UNLESS", None)
        self._conditions(cls)
        self._initial(cls, infos)
        self._unsplit()
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
        self._plan_implications(trailer_subcons)
        self._values = compile_values(self)
        self._pack = compile_pack(self)
        self._init = compile_init(self)

    def _fields(self, cls: type, infos: list[FieldInfo]) -> None:
        """Names, where each value lives, and how a value given by a person is converted."""
        slots = _all_slots(cls)
        self.names = tuple(i.name for i in infos)
        self.storage = tuple(_storage(i, slots, cls) for i in infos)
        self.slot_of = dict(zip(self.names, self.storage, strict=True))
        self.infos = {i.name: i for i in infos}
        self._read = attrgetter(*self.storage) if self.storage else None
        self.convert = {i.name: converter(i) for i in infos}
        self.ok_types = {i.name: ok_type(i) for i in infos}
        # what normalize() looks at: scalar fields only (a tuple in a structured field is
        # an unparsed span, not something to convert)
        self.converters = tuple((n, ok, self.convert[n]) for n, ok in self.ok_types.items()
                                if ok is not None)

    def _initial(self, cls: type, infos: list[FieldInfo]) -> None:
        """What a new layer's fields hold until set, and what computed ones fall back to."""
        computed = set(self.targets) | set(self.next_fields)
        if self.next_unless is not None:
            computed.add(self.next_unless[0])
        for _table, fields, _test, settings in self.next_rules:
            # a rule's fields, and those its condition reads, stay unset (None) until the
            # layer on top is known, so that the builder can tell which were given
            computed.update(fields)
            computed.update(f for f, _, _ in settings)
        self.builder_sets = frozenset(computed)  # computed whatever the conditions say
        computed |= self.controls
        self.computed = computed
        # a conditional scalar of a new layer is None (absent) until given; a bit field
        # sharing its bytes with others keeps a number (its chunk is packed whole)
        self.optional = frozenset(
            i.name for i in infos if i.name in self.cond_text and i.bit is None and
            i.kind in ("int", "enum", "flags", "address", "bytes"))
        self.initial = _initial_values(cls, infos, computed | self.optional)
        for name in _sized_by_targets(cls, set(self.targets)):  # `n = len(d); d: bytes[n]`
            if self.initial.get(name, b"") is None and name not in self.optional:
                self.initial[name] = b""  # not given: empty, so that n comes out 0
        self.initial_slots = tuple((self.slot_of[n], v) for n, v in self.initial.items()
                                   if type(v) is not list)
        self.list_slots = tuple(self.slot_of[n] for n, v in self.initial.items()
                                if type(v) is list)  # each new layer gets its own list
        # what a computed field that nothing computed gets (fixing off, nothing to bind)
        self.plain = plain = _initial_values(cls, infos, set())
        self.fallback = {n: plain[n] for n in sorted(computed)}

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

    def normalize(self, values: dict[str, Any]) -> None:
        """Turn what people write (text, names, FlagSets) into what is packed, in place."""
        for name, ok, conv in self.converters:
            v = values[name]
            if v is not None and type(v) is not ok:
                values[name] = conv(v)

    def trailer_size_of(self, layer: Layer) -> int:
        """The bytes of a decoded layer's trailer fields: those its header said are there.
        A layer cut before its trailer ends (its fields None, payload_missing counting them)
        has the part of the trailer that is there after its payload: those bytes, so that a
        rebuild, which writes the trailer whole, does not keep them after it as well."""
        size = sum(size for attr, size in self.trailer_parts
                   if getattr(layer, attr, None) is not None)
        if not size and self.trailer_parts and layer.payload_missing:
            return layer._end - layer._pend
        return size

    def build_trailer(self, values: dict[str, Any]) -> bytes:
        """The trailer fields' bytes from values (b"" for a layer without them). The values
        go in as the context's keywords too, where a trailer field's condition reads the
        header's (TRAILER's lines read them as ``this._[name]``). A conditional field left
        unset is written as its default or zero when its condition holds, as in the header."""
        if self.trailer_format is None:
            return b""
        unset = [n for n in self.trailer_names
                 if values.get(n) is None and self.plain.get(n) is not None]
        if unset:
            values = {**values, **{n: self.plain[n] for n in unset}}
        try:
            return self.trailer_format.build(values, **values)
        except (_c.ConstructError, TypeError, ValueError, KeyError, AttributeError) as exc:
            raise BuildError(f"{self.name}: trailer: {exc}") from None


def _fixed_size(sc: Any) -> int:
    """The size of one TRAILER field, also of one wrapped in If (its size when there)."""
    inner = sc.subcon if isinstance(sc, _c.Renamed) else sc
    if isinstance(inner, _c.IfThenElse):
        inner = inner.thensubcon
    return inner.sizeof()


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


def _sized_by_targets(cls: type, targets: set[str]) -> list[str]:
    """The parts whose size a computed field gives (``d: bytes[n]`` with ``n: u16 =
    len(d)``): a new layer's such part starts empty rather than unset, as there is no
    size to make it from until it is given."""
    fmt = getattr(cls, "FORMAT", None)
    kinds = {i.name: i.kind for i in cls.fields_info}
    return [sc.name for sc in getattr(fmt, "subcons", ())
            if isinstance(sc, _c.Renamed) and kinds.get(sc.name) == "bytes"
            and sized_by(sc.subcon) & targets]


def _zero(info: FieldInfo) -> Any:
    if info.kind in ("int", "enum", "flags"):
        return 0
    if info.kind == "address":
        return bytes(info.size or (info.bits or 0) // 8)
    if info.kind == "bytes":  # fixed: zeros; to the end or to a delimiter: empty
        m = _FIXED_BYTES.match(info.type_name)
        if m:
            return bytes(int(m.group(1)))
        empty = info.type_name == "bytes[]" or info.type_name.startswith("bytes until ")
        return b"" if empty else None  # sized by other fields: the builder's part
    if info.type_name.endswith("]"):
        return []
    return extern_empty(info.type_name)  # an extern type's own (None for most)


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
