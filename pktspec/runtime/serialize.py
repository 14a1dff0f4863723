"""Building packets: layers in, bytes out (gopacket's SerializeLayers).

    from pktspec.layers import Ethernet, IPv4, TCP
    from pktspec.runtime.serialize import serialize

    data = serialize(Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"),
                     IPv4(src="192.0.2.1", dst="192.0.2.2"),
                     TCP(src_port=40000, dst_port=80, flags="S"), b"hello")
    data = bytes(Ethernet() / IPv4(dst="192.0.2.2") / TCP(dst_port=80) / b"hello")

Every layer class the generator made can be built: its ``FORMAT`` (through the per-class plan
of :mod:`pktspec.runtime.build`) writes the fields, and what the .layer file declares fills in
the rest, so a user's own layer builds with no code beyond its file:

- fields left unset take their ``default`` (or ``== value``), else zero;
- the fields a ``next by`` rule reads are set from the layer stacked on top (the EtherType
  under IPv4, the protocol under TCP), from the binding that names that layer;
- length relations (``= len(header) + len(payload)``), header lengths and counts implied by
  the boundaries and arrays, then checksums (``= inet_checksum(...)``), are computed layer by
  layer from the innermost out, so a length is final before a checksum covers it; a
  checksum that covers ``pseudo_header`` gets it from the nearest enclosing layer that
  declares one (IPv4 and IPv6 for TCP, UDP and ICMPv6).

What is computed is chosen per field by ``fix_lengths`` and ``compute_checksums``:

- ``None`` (the default): compute what was not given: a field left unset (or set to None)
  on a new layer; on a decoded layer, a field that no longer matches what it covers because
  something it depends on changed (another field of the layer, the payload, the enclosing
  pseudo-header) and that was not itself edited. So an unedited decoded packet builds back
  to its own bytes, bad checksums included, and ``p[IPv4].ttl = 1`` changes the TTL and the
  header checksum, nothing else.
- ``True``: compute every such field, whatever it holds. ``False``: compute none; unset
  ones are zero (or their default). Crafting a bad packet is setting the bad value: it
  is kept unless fixing is forced with ``True``, and ``layer.force(checksum=0)`` keeps it
  even then.

Decoded layers keep what a build cannot know: their trailer (Ethernet padding), unparsed
options (their bytes are reused as they are) and header bytes no field covers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import construct as _c

from pktspec.errors import BuildError
from pktspec.runtime.build import (
    _PLANS,
    BYTES,
    HEADER_SIZE,
    LENGTHS,
    VALUES,
    LayerPlan,
    Raw,
    plan_of,
)
from pktspec.runtime.layer import Layer
from pktspec.runtime.packet import Packet, decode, own_layers
from pktspec.runtime.registry import REGISTRY

__all__ = ["BadChecksum", "LayerStack", "serialize", "verify_checksums"]

Part = Layer | bytes | bytearray | memoryview


class _Ctx:
    """The ``c`` that relation lambdas read: attribute access over a layer's values dict.
    FORMAT's own lambdas (a bit-field chunk's Rebuild, packed by the prefix) read it too,
    as ``this["name"]``: key access is the same dict."""

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]


class _State:
    """One layer on its way to bytes."""

    __slots__ = ("layer", "plan", "values", "ctx", "decoded", "edited", "forced", "dirty",
                 "provider", "before", "trailer_was", "payload_length")

    def __init__(self, layer: Layer, plan: LayerPlan, values: dict[str, Any],
                 decoded: bool) -> None:
        self.layer = layer
        self.plan = plan
        self.values = values
        self.ctx = ctx = _Ctx()
        ctx.__dict__ = values
        self.decoded = decoded
        self.edited: frozenset[str] = _NOTHING
        try:
            self.forced = layer._forced or _NOTHING
        except AttributeError:  # decoded layers never had force() called
            self.forced = _NOTHING
        self.dirty = not decoded
        self.provider: _State | None = None
        self.before: dict[str, Any] | None = None  # a decoded layer's values as decoded
        self.trailer_was = 0  # the bytes its trailer fields took as decoded (see _edits)
        self.payload_length: tuple | None = None  # NEXT_UNLESS, when its field is len(payload)


_NOTHING: frozenset[str] = frozenset()
PAYLOAD_LENGTH = "len(payload)"
"""NEXT_UNLESS's value for a field that holds the payload's length before that next layer."""


def serialize(*parts: Part | Packet | LayerStack | Iterable[Part],
              fix_lengths: bool | None = None,
              compute_checksums: bool | None = None) -> bytes:
    """The bytes of a packet made of layers (and raw payload bytes), outermost first.

    ``parts`` are layers (new or decoded), bytes, LayerStacks, decoded Packets or lists of
    these. See the module docstring for what ``fix_lengths`` and ``compute_checksums`` do.
    Raises BuildError when a value cannot be written (out of range, missing, not buildable).
    """
    items = parts
    for part in parts:
        if type(part) is not bytes and not isinstance(part, Layer):
            items = tuple(_flatten(parts))
            break
    return _serialize(items, (fix_lengths, compute_checksums))


def _serialize(items: tuple | list, modes: tuple[bool | None, bool | None]) -> bytes:
    """serialize() of a flat sequence of layers and bytes."""
    states: list[_State | bytes] = []
    provider = None
    last = len(items) - 1
    for i, item in enumerate(items):
        if type(item) is bytes:
            states.append(item)
            continue
        st = _prepare(item, items[i + 1] if i < last else None)
        st.provider = provider
        if st.plan.pseudo_fn is not None:
            provider = st
        states.append(st)
    out = b""
    for i in range(last, -1, -1):
        st = states[i]
        if type(st) is bytes:
            out = st + out
        else:
            out = _encode(st, out, i == last, st.provider, modes)
    return out


# -- pass 1: values ------------------------------------------------------------------------


def _prepare(layer: Layer, nxt: Any) -> _State:
    plan = _PLANS.get(type(layer)) or plan_of(type(layer))
    try:
        decoded = layer._buf is not None
    except AttributeError:  # a layer made without __init__ and never decoded
        decoded = False
    st = _State(layer, plan, plan.values(layer, not decoded), decoded)
    if not plan.buildable:
        if not decoded:
            raise BuildError(f"{plan.name} cannot be built: it has no FORMAT")
        return st
    values = st.values
    if decoded:
        st.edited = _edits(st)
        if st.edited and plan.controls:
            # a conditional field the edit gave: what its condition reads goes stale
            st.edited |= plan.imply_edited(values, st.edited)
        st.dirty = bool(st.edited)
    unless = plan.next_unless
    if unless is not None and values[unless[0]] is None:
        name, layer_name, when, otherwise = unless[:4]
        value = when if getattr(nxt, "name", None) == layer_name and \
            type(nxt) is not bytes else otherwise
        if value == PAYLOAD_LENGTH:  # an 802.3 length before LLC: known in pass 2
            st.payload_length = unless
            value = 0
        if value is not None or name not in plan.next_fields:  # (else: the binding's)
            values[name] = plan.fallback[name] if value is None else value
    if plan.next_rules:
        _fill_next_rules(st, nxt)
        return st
    for name in plan.next_fields:
        if values[name] is None:
            value = _bound_value(plan.next_table, type(nxt)) if nxt is not None and \
                type(nxt) is not bytes else None
            values[name] = plan.fallback[name] if value is None else value
    return st


def _edits(st: _State) -> frozenset[str]:
    """The fields of a decoded layer that differ from what its bytes say (the values its
    bytes say are kept in ``st.before``)."""
    layer, plan, values = st.layer, st.plan, st.values
    original = type(layer).__new__(type(layer))
    try:
        original._decode(layer._buf, layer._off, layer._end)
    except Exception:
        st.trailer_was = plan.trailer_size_of(layer)
        return frozenset(plan.names)  # its own bytes no longer decode: rebuild it all
    st.before = before = plan.values(original, False)
    # measured as decoded: an edit may have taken a conditional trailer field away
    st.trailer_was = plan.trailer_size_of(original)
    edited = []
    for name in plan.names:
        now, then = values[name], before[name]
        if now is then or type(now) is tuple or now is ... or now == then:
            continue
        if (type(then) is tuple or then is ...) and now == getattr(original, name):
            continue  # a part read (so parsed) but not changed
        edited.append(name)
    return frozenset(edited)


_BOUND: dict[tuple[str, type], tuple[dict, int]] = {}


def _bound_value(table_name: str, cls: type) -> int | None:
    """The value that table binds to cls (the EtherType of IPv4), or None: its active
    binding, else the first of its other bindings (a layer bound behind another on the same
    value, told apart by guards: HTTPResponse after HTTPRequest on port 80, OSPFv3 after
    OSPFv2 on protocol 89). Remembered, and checked against the table on every use (a
    binding may change when a file loads)."""
    key = (table_name, cls)
    hit = _BOUND.get(key)
    if hit is not None and (hit[0].get(hit[1]) is cls or
                            any(b.cls is cls for b in hit[0].bindings(hit[1]))):
        return hit[1]
    table = REGISTRY.table(table_name)
    for value, bound in table.items():
        if bound is cls:
            _BOUND[key] = (table, value)
            return value
    for binding in table.bindings():
        if binding.cls is cls:
            _BOUND[key] = (table, binding.value)
            return binding.value
    return None


def _fill_next_rules(st: _State, nxt: Any) -> None:
    """The fields of a layer with several ``next by`` rules (SNAP: EtherType under OUI 0,
    Cisco's protocol IDs under Cisco's OUI), tried in order as decoding tries them: the
    first rule whose table binds the layer on top, whose condition holds or can be made to
    hold by setting fields not given, and before which no rule's condition holds, fills its
    fields from the binding and sets those. A layer on top that a rule binds but none can
    reach with the fields given is a BuildError; one no rule binds leaves the fields at
    their defaults. A field given is never changed."""
    values, plan = st.values, st.plan
    cls = type(nxt) if nxt is not None and type(nxt) is not bytes else None
    rules = plan.next_rules
    unset = {f for _t, fields, _x, settings in rules
             for f in (*fields, *(s[0] for s in settings)) if values[f] is None}

    def final(trial: dict[str, Any]) -> dict[str, Any]:
        """The values as they will be built: the fields left unset at their defaults."""
        return {k: plan.fallback[k] if v is None and k in unset else v
                for k, v in trial.items()}

    refused = []
    for i, (table, fields, test, settings) in enumerate(rules if cls is not None else ()):
        value = _bound_value(table, cls)
        if value is None:
            continue
        trial = dict(values)
        for name in fields:
            if trial[name] is None:
                trial[name] = value
        if test is not None and not _holds_with(test, final(trial)):
            if not settings or any(f not in unset for f, _, _ in settings):
                refused.append(table)
                continue  # it cannot be made to hold, or only by changing a field given
            for f, how, k in settings:
                trial[f] = (trial[f] or 0) | k if how == "|" else k
            if not _holds_with(test, final(trial)):
                refused.append(table)
                continue
        if any(earlier is not None and _holds_with(earlier, final(trial))
               for _t, _f, earlier, _s in rules[:i]):
            refused.append(table)
            continue  # an earlier rule would take the bytes
        values.update(trial)
        break
    else:
        if refused:
            raise BuildError(f"{plan.name}: no next rule takes {cls.name} with these values "
                             f"(the rules by {', '.join(refused)} bind it, but their conditions "
                             "do not hold: give the fields they read)")
    for name in unset:
        if values[name] is None:
            values[name] = plan.fallback[name]


def _holds_with(test: Callable[[Any], Any], values: dict[str, Any]) -> bool:
    """A next rule's condition over values (False when it reads one not set)."""
    ctx = _Ctx()
    ctx.__dict__ = values
    try:
        return bool(test(ctx))
    except (AttributeError, TypeError, ValueError):
        return False


def _provider(states: list, i: int) -> _State | None:
    """The nearest layer outside states[i] that declares a pseudo-header."""
    for j in range(i - 1, -1, -1):
        st = states[j]
        if isinstance(st, _State) and st.plan.pseudo_fn is not None:
            return st
    return None


# -- pass 2: bytes, innermost first ----------------------------------------------------------


def _encode(st: _State, payload: bytes, last: bool, provider: _State | None,
            modes: tuple[bool | None, bool | None]) -> bytes:
    layer, plan = st.layer, st.plan
    if st.payload_length is not None:
        name, _layer, _when, _otherwise, test, text = st.payload_length
        st.values[name] = len(payload)
        if not test(st.ctx):  # (an 802.3 length over 1500 would read as an EtherType)
            raise BuildError(f"{plan.name}: {name} = {len(payload)}, the payload's length, "
                             f"is not a length here ({text} does not hold)")
    if st.decoded:
        buf = layer._buf
        if last:
            payload = bytes(buf[layer._hend:layer._pend])
        trailer = bytes(buf[layer._pend:layer._end])
        if not plan.buildable or not _needs_work(st, payload, provider, modes):
            return bytes(buf[layer._off:layer._hend]) + payload + trailer
        # the trailer fields are built again below; what follows them stays
        trailer = trailer[st.trailer_was:]
    elif not st.forced and (plan.tail_format is None or plan.tail_is_empty(st.values)):
        try:
            header = _header_new(st, payload, provider, modes)
        except (AttributeError, TypeError, ValueError, KeyError, _c.ConstructError) as exc:
            raise BuildError(f"{plan.name}: cannot compute {_failed(st, plan.relations)}: "
                             f"{exc}") from None
        if plan.trailer_format is None:
            return bytes(header) + payload
        return bytes(header) + payload + plan.build_trailer(st.values)
    else:
        trailer = b""
    header = _header(st, payload, provider, modes)
    if plan.trailer_format is not None:  # its relations were computed with the header's
        trailer = plan.build_trailer(st.values) + trailer
    return bytes(header) + payload + trailer


def _header_new(st: _State, payload: bytes, provider: _State | None,
                modes: tuple) -> bytearray:
    """_header() for the common case, a new layer with nothing in its tail: the same steps
    without what only decoded layers and variable parts need (it is the hot path)."""
    plan, values = st.plan, st.values
    size = plan.prefix_size
    values["_header_len"] = size
    values["_payload_len"] = len(payload)
    tail, padded, sums = b"", plan.header_fn is None, []
    for r in plan.relations:
        mode = modes[r.checksum]
        if mode is None:
            if values[r.name] is not None:
                continue
        elif not mode:
            if values[r.name] is None:
                values[r.name] = plan.fallback.get(r.name) or 0
            continue
        if r.stage >= LENGTHS and not padded:
            tail, padded = _pad(st, tail), True
            values["_header_len"] = size + len(tail)
        if r.stage == BYTES:
            values[r.name] = 0
            sums.append(r)
        else:
            values[r.name] = r.fn(st.ctx)
    if not padded:
        tail = _pad(st, tail)
    header = plan.pack_prefix(st.ctx) + tail
    return _checksums(st, sums, header, payload, provider) if sums else header


def _needs_work(st: _State, payload: bytes, provider: _State | None, modes: tuple) -> bool:
    """Whether a decoded layer must be re-encoded (else its own bytes are reused)."""
    layer = st.layer
    if payload != layer._buf[layer._hend:layer._pend]:
        st.dirty = True
    if not st.dirty and provider is not None and provider.dirty and \
            any(r.pseudo for r in st.plan.relations):
        header_len = layer._hend - layer._off
        st.dirty = any(_pseudo_changed(provider, st, r.covered(header_len, len(payload)))
                       for r in st.plan.relations if r.pseudo)
    if st.dirty:
        return True
    return any(modes[r.kind == "checksum"] is True and r.name not in st.forced
               for r in st.plan.relations)


def _pseudo_changed(provider: _State, st: _State, length: int) -> bool:
    """Whether an edit of the enclosing layer changed st's pseudo-header (a new TTL does
    not; a new source address does)."""
    now = _pseudo_header(provider, st, length)
    if provider.before is None:
        return True
    before = _State(provider.layer, provider.plan, provider.before, True)
    return _pseudo_header(before, st, length) != now


def _header(st: _State, payload: bytes, provider: _State | None, modes: tuple) -> bytearray:
    """The layer's header bytes: relations evaluated stage by stage (see relations.Relation)."""
    plan, values = st.plan, st.values
    if not plan.relations:
        tail = _tail(st) if plan.tail_format is not None else b""
        if plan.header_fn is not None:
            values["_header_len"] = plan.prefix_size + len(tail)
            tail = _pad(st, tail)
        return plan.pack_prefix(st.ctx) + tail
    todo = _todo(st, modes)
    try:
        return _compute(st, todo, payload, provider)
    except (AttributeError, TypeError, ValueError, KeyError, _c.ConstructError) as exc:
        raise BuildError(f"{plan.name}: cannot compute {_failed(st, todo)}: {exc}") from None


def _todo(st: _State, modes: tuple) -> list:
    """The relations to compute in this layer, in stage order."""
    values, forced, out = st.values, st.forced, []
    for r in st.plan.relations:
        mode = modes[r.checksum]
        if r.name in forced:
            continue
        if mode is None:
            if values[r.name] is None or (st.dirty and st.decoded and r.name not in st.edited):
                out.append(r)
        elif mode:
            out.append(r)
        elif values[r.name] is None:
            values[r.name] = st.plan.fallback.get(r.name) or 0
    return out


def _compute(st: _State, todo: list, payload: bytes, provider: _State | None) -> bytearray:
    """Lengths first (counts; header lengths from the tail measured at its own size; then
    what needs the final header length), the tail built for good, then the checksums."""
    plan, values, ctx = st.plan, st.values, st.ctx
    first = 0
    while first < len(todo) and todo[first].stage == VALUES:  # counts: before the tail
        _evaluate(st, todo[first])
        first += 1
    for r in todo[first:]:
        if values[r.name] is None and r.name in plan.tail_names:
            # a length after a variable part (`hlen: u8 = len(header)`): the tail is
            # measured with 0 there, and built again once the value is known
            values[r.name] = 0
    sizing = plan.tail_natural is not None and not _original_tail(st) and \
        any(r.stage == HEADER_SIZE for r in todo)
    tail = _tail(st, natural=sizing) if plan.tail_format is not None else b""
    values["_header_len"] = plan.prefix_size + len(tail)
    values["_payload_len"] = len(payload)
    sums, retail, settled = [], sizing, False
    for r in todo[first:]:
        if r.stage >= LENGTHS and not settled:
            tail, settled = _settle(st, tail, retail), True
            retail = False
        if r.stage == BYTES:
            values[r.name] = 0  # what a checksum covers holds zero where the checksum goes
            sums.append(r)
        else:
            _evaluate(st, r)
        retail = retail or r.name in plan.tail_names
    if not settled or retail:
        tail = _settle(st, tail, retail)
    header = plan.pack_prefix(ctx) + tail
    return _checksums(st, sums, header, payload, provider) if sums else header


def _checksums(st: _State, sums: list, header: bytearray, payload: bytes,
               provider: _State | None) -> bytearray:
    """Compute the checksums over the finished header (zero where each goes) and payload."""
    values = st.values
    for r in sums:
        values["_header"] = header
        values["_payload"] = payload
        if r.pseudo:
            values["_pseudo_header"] = _pseudo_header(provider, st,
                                                      r.covered(len(header), len(payload)))
        value = r.fn(st.ctx)
        if value == 0 and r.name in st.layer.OPTIONAL_CHECKSUMS:
            value = 0xFFFF  # 0 on the wire would mean "no checksum"
        values[r.name] = value
        if r.name not in st.plan.trailer_names:  # a trailer field is built after the payload
            header = _patch(st, header, r.name)
    return header


def _evaluate(st: _State, r: Any) -> None:
    values = st.values
    for name in r.fields:  # a count reads a part the decoder may not have parsed
        v = values[name]
        if type(v) is tuple or v is ...:
            values[name] = getattr(st.layer, name)
    try:
        values[r.name] = r.fn(st.ctx)
    except (TypeError, AttributeError):
        # `n: u32 = len(items) if flag == 1;` in a layer where flag is not 1: what n counts
        # is absent with it (None), so n is left out too rather than the build failing
        if r.name in st.plan.cond_text and any(values.get(n) is None for n in r.fields):
            values[r.name] = None
            return
        raise


def _settle(st: _State, tail: bytes, rebuild: bool) -> bytes:
    """The tail as it will be sent: built again when a value in it (or a size it was
    measured without) changed, and padded to the header length."""
    if rebuild:
        tail = _tail(st, rebuild=True)
    tail = _pad(st, tail)
    st.values["_header_len"] = st.plan.prefix_size + len(tail)
    return tail


def _failed(st: _State, todo: list) -> str:
    """Which relation raised (for the error message): the first whose value is unset."""
    for r in todo:
        if st.values.get(r.name) in (None, 0):
            return r.name
    return "a relation"


def _tail(st: _State, rebuild: bool = False, natural: bool = False) -> bytes:
    """The header after the prefix: the original bytes of a decoded layer whose tail fields
    (and what their sizes and conditions read) are unchanged, else built (``natural``: the
    parts a header-length field sizes at their own size, to measure them)."""
    plan, layer = st.plan, st.layer
    if not st.decoded and plan.tail_is_empty(st.values):
        return b""
    if not rebuild and _original_tail(st):
        return bytes(layer._buf[layer._off + plan.prefix_size:layer._hend])
    return plan.build_tail(st.values, lambda name, v: _unparsed(layer, name, v), natural,
                           st.edited if st.decoded else None)


def _original_tail(st: _State) -> bool:
    """Whether a decoded layer's tail bytes stand: nothing in or around them was edited."""
    return st.decoded and not st.edited & st.plan.tail_depends and \
        st.layer._off + st.plan.prefix_size <= st.layer._hend


def _unparsed(layer: Layer, name: str, value: Any) -> Any:
    """A decoded part nobody read: a span's bytes as they are, else the part parsed now
    (the decoder marks parts it parses together with ``...``)."""
    if type(value) is tuple:
        start, stop = value
        return Raw(bytes(layer._buf[start:stop]))
    return getattr(layer, name)


def _pad(st: _State, tail: bytes) -> bytes:
    """Pad the header to the length its boundary gives (``header = ihl * 4``), with the
    layer's own bytes there when it was decoded, else zeros."""
    fn = st.plan.header_fn
    if fn is None:
        return tail
    try:
        want = fn(st.ctx) - st.plan.prefix_size
    except (TypeError, AttributeError):
        return tail  # a boundary value left unset with fixing off: nothing to pad to
    if want <= len(tail):
        return tail
    filler = b""
    if st.decoded:
        layer = st.layer
        start = layer._off + st.plan.prefix_size + len(tail)
        filler = bytes(layer._buf[start:min(layer._hend, start + want - len(tail))])
    return tail + filler + bytes(want - len(tail) - len(filler))


def _patch(st: _State, header: bytearray, name: str) -> bytearray:
    """Write one computed field into the header: in place when it sits in the prefix."""
    plan = st.plan
    where = plan.positions.get(name)
    if where is not None:
        offset, fmt = where
        try:
            fmt.pack_into(header, offset, st.values[name])
        except Exception as exc:
            raise BuildError(f"{plan.name}: {name} = {st.values[name]!r}: {exc}") from None
        return header
    return plan.pack_prefix(st.ctx) + _settle(st, b"", True)


def _pseudo_header(provider: _State | None, st: _State, length: int) -> bytes | None:
    """The enclosing layer's pseudo-header for st, whose header and payload are length long.
    ``upper_protocol`` is the value the provider's next table binds st's class to (TCP is 6
    in IPProtocol), which with IPv6 extension headers is not the provider's own field."""
    if provider is None:
        return None
    values, plan = provider.values, provider.plan
    values["_upper_length"] = length
    values["_upper_protocol"] = _bound_value(plan.next_table, type(st.layer)) \
        if plan.next_table else None
    try:
        return plan.pseudo_fn(provider.ctx)
    except (AttributeError, TypeError, ValueError) as exc:
        raise BuildError(f"{plan.name}: cannot make the pseudo-header of {st.plan.name}: "
                         f"{exc}") from None


# -- checking the checksums of decoded packets -------------------------------------------------


class BadChecksum(NamedTuple):
    """A checksum that does not match what it covers: which layer (its index in the packet
    and its name), which field, the value found and the value expected."""

    index: int
    layer: str
    field: str
    found: int
    expected: int

    def __str__(self) -> str:
        return (f"{self.layer} {self.field}: found {self.found:#06x}, "
                f"expected {self.expected:#06x}")


def verify_checksums(packet: Packet | Iterable[Layer]) -> list[BadChecksum]:
    """Every checksum of a decoded packet that does not match its bytes (empty: all good).

    A checksum whose bytes are not all in the capture (a packet cut by the snap length), that
    needs a pseudo-header no enclosing layer gives, or whose function is not registered (an
    ``extern checksum`` the program did not register) cannot be checked and is skipped.
    """
    layers = packet.layers if isinstance(packet, Packet) else list(packet)
    # cut by the snap length or short of a layer: not a length field announcing more than
    # is there (payload_missing), whose checksum tshark checks, and finds bad, as here
    cut = isinstance(packet, Packet) and (
        (packet.metadata is not None and packet.metadata.truncated)
        or (packet.error is not None and packet.error.truncated))
    states = [_prepare_checked(layer) for layer in layers]
    own = len(own_layers(layers))  # a quoted copy (ICMP error) has its payload cut
    bad = []
    for i, st in enumerate(states):
        if st is None:
            continue
        provider = _provider(states, i)
        for r in st.plan.relations:
            found = st.values[r.name]
            if r.kind != "checksum" or found is None or (r.payload and (cut or i >= own)):
                continue
            if found == 0 and r.name in st.layer.OPTIONAL_CHECKSUMS:
                continue  # the sender computed none
            if r.pseudo and provider is None:
                continue
            when = getattr(type(st.layer), "CHECKED_WHEN", None)
            if when and r.name in when:
                layer = st.layer  # the test may read len(header), len(payload)
                st.values.update(_header_len=layer._hend - layer._off,
                                 _payload_len=layer._pend - layer._hend)
                if not when[r.name](st.ctx):
                    continue  # sent only when a bit says so (GRE's C bit): not sent here
            try:
                expected = _expected(st, r, provider)
            except BuildError:  # e.g. a user checksum function not registered: unverifiable
                continue
            if expected == 0 and r.name in st.layer.OPTIONAL_CHECKSUMS:
                expected = 0xFFFF
            if expected is not None and expected != found:
                bad.append(BadChecksum(i, st.plan.name, r.name, st.values[r.name], expected))
    return bad


def _prepare_checked(layer: Layer) -> _State | None:
    plan = plan_of(type(layer))
    if not plan.buildable or getattr(layer, "_buf", None) is None:
        return None
    return _State(layer, plan, plan.values(layer, False), True)


def _expected(st: _State, r: Any, provider: _State | None) -> int | None:
    layer, values = st.layer, st.values
    header = bytearray(layer._buf[layer._off:layer._hend])
    found = values[r.name]
    where = st.plan.positions.get(r.name)
    if where is not None:
        offset, fmt = where
        fmt.pack_into(header, offset, 0)
    elif r.name not in st.plan.trailer_names:  # (a trailer's checksum is not in the header)
        header = _blanked_header(st, r.name, found)
        if header is None:
            return None
    payload = bytes(layer._buf[layer._hend:layer._pend])
    values.update(_header=bytes(header), _payload=payload, _header_len=len(header),
                  _payload_len=len(payload))
    if r.pseudo:
        values["_pseudo_header"] = _pseudo_header(provider, st,
                                                  r.covered(len(header), len(payload)))
    try:
        return r.fn(st.ctx)
    finally:
        values[r.name] = found


def _blanked_header(st: _State, name: str, found: Any) -> bytearray | None:
    """A decoded header with the checksum ``name``, which sits after the fixed prefix (GRE's
    after its flags), set to 0: the header built again from the decoded values, trusted
    only when building it with the value found gives back the bytes on the wire. None when
    it does not (the checksum cannot be verified)."""
    layer, values = st.layer, st.values
    original = bytes(layer._buf[layer._off:layer._hend])
    try:
        as_found = st.plan.pack_prefix(st.ctx) + _pad(st, _tail(st, rebuild=True))
        values[name] = 0
        blank = st.plan.pack_prefix(st.ctx) + _pad(st, _tail(st, rebuild=True))
    except Exception:  # a value the builder refuses: the header cannot be made again
        return None
    finally:
        values[name] = found
    if as_found != original or len(blank) != len(original):
        return None
    return bytearray(blank)


# -- stacking with / -----------------------------------------------------------------------


class LayerStack:
    """Layers stacked with ``/`` and not built yet: ``Ethernet() / IPv4() / TCP() / b"x"``.

    ``bytes(stack)`` or ``stack.build(fix_lengths=..., compute_checksums=...)`` serializes
    it; ``stack[IPv4]`` is the first IPv4 layer in it (KeyError when there is none). The
    layers are shared, not copied: changing one changes every stack that holds it.
    """

    __slots__ = ("layers",)

    def __init__(self, layers: Iterable[Part]) -> None:
        self.layers: list[Part] = list(layers)

    def __truediv__(self, other: Any) -> LayerStack:
        if isinstance(other, Layer) or type(other) is bytes:
            return LayerStack(self.layers + [other])
        return LayerStack([*self.layers, *_stackable(other)])

    def __rtruediv__(self, other: Any) -> LayerStack:
        return LayerStack([*_stackable(other), *self.layers])

    def __bytes__(self) -> bytes:
        return serialize(*self.layers)

    def build(self, *, fix_lengths: bool | None = None,
              compute_checksums: bool | None = None) -> bytes:
        """The packet's bytes (see :func:`serialize` for the options)."""
        return serialize(*self.layers, fix_lengths=fix_lengths,
                         compute_checksums=compute_checksums)

    def layer(self, key: type | str) -> Layer | None:
        """The first layer of a class (or with that name), or None."""
        for part in self.layers:
            if isinstance(part, Layer) and (type(part) is key or part.name == key):
                return part
        return None

    def __getitem__(self, key: type | str | int) -> Any:
        if isinstance(key, int):
            return self.layers[key]
        found = self.layer(key)
        if found is None:
            raise KeyError(f"no {getattr(key, 'name', key)} layer in {self!r}")
        return found

    def __contains__(self, key: type | str) -> bool:
        return self.layer(key) is not None

    def __iter__(self) -> Iterator[Part]:
        return iter(self.layers)

    def decode(self, **options: Any) -> Packet:
        """Build the stack and decode the bytes again, from its first layer's class."""
        first = self.layers[0]
        if not isinstance(first, Layer):
            raise BuildError("a stack that starts with raw bytes has no first layer class")
        return decode(bytes(self), type(first), **options)

    def __repr__(self) -> str:
        names = [p.name if isinstance(p, Layer) else f"{len(p)} bytes" for p in self.layers]
        return f"<LayerStack {' / '.join(names) or '-'}>"


def stack(first: Any, second: Any) -> LayerStack:
    """``first / second`` for Layer.__truediv__."""
    if isinstance(first, Layer) and (isinstance(second, Layer) or type(second) is bytes):
        return LayerStack([first, second])
    return LayerStack([*_stackable(first), *_stackable(second)])


def _stackable(part: Any) -> list[Part]:
    if isinstance(part, LayerStack):
        return list(part.layers)
    if isinstance(part, (Layer, bytes)):
        return [part]
    if isinstance(part, (bytearray, memoryview)):
        return [bytes(part)]
    if isinstance(part, Packet):
        return list(part.layers)
    raise TypeError(f"cannot stack {type(part).__name__}: layers, bytes and packets stack")


def _flatten(parts: Iterable[Any]) -> Iterator[Layer | bytes]:
    for part in parts:
        if isinstance(part, (list, tuple)):
            yield from _flatten(part)
        elif isinstance(part, str):
            raise TypeError("a payload is bytes: encode text first (b'...' or s.encode())")
        else:
            yield from _stackable(part)
