"""Conditional fields while building: making their conditions hold, or refusing them.

A generated class lists, in ``CONDITIONS``, each conditional field's condition as written and
the ways to make it hold (docs/GENERATED.md). Given such a field, a person means it to be
written, so the builder sets the fields its condition reads that were not given (``tsft``
given: the ``tsft`` bit ORed into ``present``), and refuses, with the condition's text, a
field given while its condition is false: construct's ``If`` would drop it without a word.
:class:`Implications` is that part of :class:`~pktspec.runtime.build.LayerPlan`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import construct as _c

from pktspec.errors import BuildError
from pktspec.runtime.constructs import apply_first_way
from pktspec.runtime.format_split import Raw
from pktspec.runtime.relations import code_reads

__all__ = ["Implications"]


class Implications:
    """What a LayerPlan knows of its conditions (``cond_text``, ``controls``,
    ``implications``) and does with them per packet. Mixed into LayerPlan, it reads the
    plan's ``infos``, ``tail``, ``builder_sets``, ``optional``, ``fallback``, ``name`` and
    ``source``."""

    def _conditions(self, cls: type) -> None:
        """The generated CONDITIONS: each conditional field's condition as written and how
        the builder makes it hold when the field is given (docs/GENERATED.md)."""
        self.cond_text = {name: (text, ways) for name, text, ways in
                          getattr(cls, "CONDITIONS", ())}
        # the fields those ways set: a new layer leaves them unset (None) until built, so
        # that the builder knows which were given (a given one is never changed)
        self.controls = frozenset(f for _, ways in self.cond_text.values()
                                  for way in ways for f, _, _ in way)
        # the lets, in FORMAT order, with their functions: a condition may read one
        # (`channel_name: ... if names_channel;`), which a new layer does not hold yet
        fmt = getattr(cls, "FORMAT", None)
        lets = {i.name for i in getattr(cls, "fields_info", ()) if i.kind == "let"}
        self.let_funcs = tuple(
            (sc.name, sc.subcon.func) for sc in getattr(fmt, "subcons", ())
            if sc.name in lets and isinstance(getattr(sc, "subcon", None), _c.Computed))

    def _plan_implications(self, trailer_subcons: list[Any]) -> None:
        """The conditions of the tail parts and trailer fields, with what each reads."""
        conds = {t.name: t.condition for t in self.tail if t.condition is not None}
        conds.update(_trailer_conditions(trailer_subcons))
        conds.update(self.chunk_conditions)
        # (field, its condition as written, ways to make it hold, the condition, the
        # fields it reads), in wire order: a field's condition reads only fields before it
        self.implications = tuple(
            (name, text, ways, conds[name], tuple(sorted(
                code_reads(getattr(conds[name], "__wrapped__", conds[name]).__code__)
                & set(self.infos))))
            for name, (text, ways) in self.cond_text.items() if name in conds)

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
            if not ways or not self._given_value(name, values[name]) or \
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
            if name not in edited or not ways or not self._given_value(name, values[name]) or \
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
        known = None
        for name, text, _ways, cond, reads in self.implications:
            if (given is None or name in given) and self._given_value(name, values[name]):
                if known is None:
                    known = self._with_lets(values)
                holds = _holds(cond, reads, known)
                if holds is False:
                    raise BuildError(self._unwritten(name, text))
                absent = [f for f in reads if values.get(f) is None
                          and f not in self.builder_sets and f in self.cond_text]
                if holds is None and absent:  # a conditional field it reads is left out
                    raise BuildError(self._unwritten(name, text) + (
                        f" ({absent[0]} is not given, and its own condition leaves it out "
                        "unless it is)"))

    def _with_lets(self, values: dict[str, Any]) -> dict[str, Any]:
        """values with the lets worked out from them (None where one cannot be yet), so
        that a condition reading a let can say a given field would not be written."""
        if not self.let_funcs:
            return values
        known = dict(values)
        for name, func in self.let_funcs:
            try:
                known[name] = func(known)
            except (TypeError, KeyError, AttributeError, ValueError):
                known[name] = None
        return known

    def _given_value(self, name: str, value: Any) -> bool:
        """Whether a conditional field's value was given. A bit field of a conditional
        chunk always holds a number (its chunk is packed whole), so there it means a value
        other than its initial one: VRRPv2(max_adver_int=300) asks for version 3 rather
        than being dropped in silence, while the default 100 says nothing."""
        if name in self.chunk_conditions:
            return value is not None and value != self.initial.get(name)
        return _given(value)

    def _unwritten(self, name: str, text: str | None) -> str:
        info = self.infos[name]
        where = f" ({info.line and f'line {info.line} of '}{self.source})" \
            if self.source else ""
        cond = f" ({text})" if text else ""
        return (f"{self.name}: {name} is given but its condition{cond} is false, so it "
                f"would not be written{where}; give the fields the condition reads so "
                f"that it holds, or leave {name} out")

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
