"""Layer registry and dispatch tables: who comes after whom, decided by a dict lookup.

gopacket keys its decoders by EtherType, IP protocol or port in arrays and maps filled at init
time. pktspec does the same with one :class:`DispatchTable` per enum (``EtherType``,
``IPProtocol``, ``UDPPort``, ``LinkType``, ...): a ``dict`` subclass from value to layer class,
so that a generated decoder picks its next layer with ``_TABLE.get(value)``, a C-level lookup
whose cost does not depend on how many layers or .layer files are loaded.

Tables are filled by generated modules at import (one explicit ``bind`` per ``extend`` in a
.layer file) or by Python code. A value bound twice is a conflict between two specs: it raises
:class:`~pktspec.errors.SpecError` naming both sources, unless one binding has a higher
priority, which then wins whatever the import order. The losing binding is remembered, so
unbinding the winner brings it back.

When a value is not in a table, ``lookup`` tries the table's heuristics, predicates over the
payload bytes (``looks like TLS``), in priority order: the hook for protocols that have no
number of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from pktspec.errors import Location, SpecError

__all__ = ["REGISTRY", "AddedMember", "Binding", "DispatchTable", "Registry"]

Predicate = Callable[[Any, int, int], bool]


class Binding(NamedTuple):
    """One ``value -> cls`` entry of a table, with where it came from."""

    value: Any
    cls: type
    source: str | None
    priority: int


class AddedMember(NamedTuple):
    """One enum member an ``extend`` added (``extend EtherType { Mine = 0x88b5 -> M }``),
    with the module that added it, so that unloading the module takes it back."""

    enum: type
    name: str
    value: int
    module: str | None
    source: str | None


def _same_class(a: type, b: type) -> bool:
    """The same class, or the same class from a reloaded module (modules can be reloaded)."""
    return a is b or (a.__module__ == b.__module__ and a.__qualname__ == b.__qualname__)


def _class_name(cls: type) -> str:
    return getattr(cls, "name", None) or cls.__name__


_SOURCE = re.compile(r"^(?P<file>.*?):(?P<line>\d+)(?::(?P<col>\d+))?$")


def _location(source: str | None) -> Location | None:
    """``udp.layer:20`` or ``udp.layer:20:5`` as a Location; None for other sources."""
    m = _SOURCE.match(source or "")
    if m is None:
        return None
    return Location(m["file"], int(m["line"]), int(m["col"] or 1))


class DispatchTable(dict):
    """value -> layer class for one enum; ``get`` stays dict.get on the hot path.

    Never assign with ``table[value] = cls``: use :meth:`bind`, which checks for conflicts and
    keeps the provenance that error messages and ``pktspec list`` show. ``guarded`` says
    whether some bound class has a guard (``_guard``), so that decoders ask a class for its
    guard only in tables that have one; a class's guard must be set before it is bound.
    """

    __slots__ = ("name", "heuristics", "guarded", "_bindings")

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.heuristics: list[tuple[int, Predicate, type]] = []
        self.guarded = False
        self._bindings: dict[Any, list[Binding]] = {}

    def bind(self, value: Any, cls: type, source: str | None = None, priority: int = 0) -> type:
        """Send value to cls. Returns cls.

        Binding a value already bound is allowed when it is the same binding again (same
        class and source: a module was reloaded) or when the priorities differ (the higher
        one is used; the other is kept behind it). Two bindings of one priority from
        different sources are a conflict: SpecError, located at the new source.
        """
        stack = self._bindings.get(value, [])
        again = [b for b in stack if b.source == source and _same_class(b.cls, cls)]
        for old in stack:
            if old.priority == priority and old not in again:
                raise SpecError(
                    _location(source),
                    f"{self.name} value {value!r} is already bound to "
                    f"{_class_name(old.cls)} by {old.source or 'Python code'}; "
                    f"{source or 'Python code'} binds it to {_class_name(cls)}",
                    hint="give one of them a higher priority, or unbind the other first",
                )
        stack = [b for b in stack if b not in again]
        stack.append(Binding(value, cls, source, priority))
        stack.sort(key=lambda b: -b.priority)
        self._bindings[value] = stack
        dict.__setitem__(self, value, stack[0].cls)
        if getattr(cls, "_guard", None) is not None:
            self.guarded = True
        return cls

    def _update_guarded(self) -> None:
        self.guarded = any(getattr(c, "_guard", None) is not None for c in self.values())

    def unbind(self, value: Any, cls: type | None = None, source: str | None = None) -> None:
        """Remove value's binding (only the one to cls / from source when given); a binding
        that a higher priority one had hidden becomes active again."""
        stack = self._bindings.get(value)
        if not stack:
            raise KeyError(f"{self.name} has no binding for {value!r}")
        keep = [
            b
            for b in stack
            if (cls is not None and not _same_class(b.cls, cls))
            or (source is not None and b.source != source)
        ]
        if len(keep) == len(stack):
            raise KeyError(f"{self.name} has no binding for {value!r} matching {cls}, {source}")
        self._keep(value, keep)
        self._update_guarded()

    def unbind_module(self, module: str) -> None:
        """Remove every binding and heuristic of classes defined in the module ``module``
        (what a reloaded .layer file's old version had bound)."""
        for value, stack in list(self._bindings.items()):
            keep = [b for b in stack if b.cls.__module__ != module]
            if len(keep) != len(stack):
                self._keep(value, keep)
        self.heuristics[:] = [h for h in self.heuristics if h[2].__module__ != module]
        self._update_guarded()

    def _keep(self, value: Any, keep: list[Binding]) -> None:
        """value's bindings are now keep (the active one first); none: value is unbound."""
        if keep:
            self._bindings[value] = keep
            dict.__setitem__(self, value, keep[0].cls)
        else:
            del self._bindings[value]
            dict.__delitem__(self, value)

    def bindings(self, value: Any = None) -> list[Binding]:
        """Every binding (of value, when given), the active one of each value first."""
        if value is not None:
            return list(self._bindings.get(value, ()))
        return [b for stack in self._bindings.values() for b in stack]

    def add_heuristic(self, predicate: Predicate, cls: type, priority: int = 0) -> None:
        """Try ``predicate(buf, off, end)`` when a lookup misses; higher priorities first,
        equal priorities in the order they were added."""
        self.heuristics.append((priority, predicate, cls))
        self.heuristics.sort(key=lambda h: -h[0])

    def remove_heuristic(self, predicate: Predicate) -> None:
        """Forget a heuristic added with add_heuristic (by identity of the predicate)."""
        self.heuristics[:] = [h for h in self.heuristics if h[1] is not predicate]

    def lookup(self, value: Any, buf: Any = None, off: int = 0, end: int = 0) -> type | None:
        """The class for value, else the first heuristic that accepts buf[off:end], else None."""
        cls = self.get(value)
        if cls is None and self.heuristics and buf is not None:
            for _, predicate, candidate in self.heuristics:
                if predicate(buf, off, end):
                    return candidate
        return cls

    def refused(self, values: tuple[Any, ...], cls: type, buf: Any, off: int,
                end: int) -> type | None:
        """cls, bound to one of values, refused buf[off:end] (its guard): the next binding
        of those values, in priority order, whose class takes the bytes, else the first
        heuristic that does, else None. Lets two layers share a port, each knowing its own
        bytes (HTTP's requests and responses on port 80)."""
        for value in values:
            for binding in self._bindings.get(value, ()):
                other = binding.cls
                if other is cls:
                    continue
                guard = getattr(other, "_guard", None)
                if guard is None or guard(buf, off, end):
                    return other
        return self.lookup(None, buf, off, end) if self.heuristics else None

    def __setitem__(self, value: Any, cls: type) -> None:
        raise TypeError(f"use {self.name}.bind(value, cls, source=...) to change a table")

    def __delitem__(self, value: Any) -> None:
        raise TypeError(f"use {self.name}.unbind(value) to change a table")

    def __repr__(self) -> str:
        items = ", ".join(f"{k!r}: {_class_name(v)}" for k, v in self.items())
        return f"<DispatchTable {self.name} {{{items}}}>"


class Registry:
    """Every layer class by name and every dispatch table by enum name.

    There is one, :data:`REGISTRY`; tests and embedders may make their own.
    """

    def __init__(self) -> None:
        self._layers: dict[str, type] = {}
        self._tables: dict[str, DispatchTable] = {}
        self._members: list[AddedMember] = []
        self.payload: type | None = None
        """The layer called "Payload", kept as an attribute because decode asks for it
        on every packet that ends with data no layer claimed."""

    def add_layer(self, cls: type) -> type:
        """Register cls under ``cls.name``; returns cls, so it can decorate a class.

        A second class with the same name is a SpecError unless it is the same class again
        (a reloaded module), which then replaces the old one.
        """
        name = _class_name(cls)
        old = self._layers.get(name)
        if old is not None and not _same_class(old, cls):
            source = getattr(cls, "source", None)
            same_file = source is not None and getattr(old, "source", None) == source
            raise SpecError(
                _location(source),
                f"layer {name!r} is already defined by "
                f"{getattr(old, 'source', None) or old.__module__}"
                + (f" (module {old.__module__})" if same_file else ""),
                hint=(f"the same file was loaded before as module {old.__module__} (a module "
                      "compiled from it?): load one of the two in a process"
                      if same_file else "rename one of the layers"),
            )
        self._layers[name] = cls
        if name == "Payload":
            self.payload = cls
        return cls

    def remove_layer(self, name: str) -> None:
        """Unregister the layer called name (its table bindings stay: unbind those too)."""
        del self._layers[name]
        if name == "Payload":
            self.payload = None

    def add_member(self, enum: type, name: str, value: int, source: str | None = None,
                   module: str | None = None) -> Any:
        """Add the member ``name = value`` to the OpenEnum class ``enum`` for the module
        called ``module`` (generated modules pass ``__name__``) and return it; source is
        where the item is written (``mine.layer:3``).

        The registry remembers who added what, so that :meth:`remove_module` and
        :meth:`restore` take the member back. The same item again is fine (from another
        module too: both must be unloaded before it goes); the module that added an item
        may change its value; another module giving the name another value, or a name the
        class has already, is a SpecError located at the new source.
        """
        clash = [m for m in self._members
                 if m.enum is enum and m.name == name and m.value != int(value)]
        for old in clash:
            if old.module != module:
                raise SpecError(
                    _location(source),
                    f"{enum.__name__}.{name} is already {old.value} from "
                    f"{old.source or old.module or 'Python code'}; "
                    f"{source or 'Python code'} makes it {int(value)}",
                    hint="rename one of the two items, or load only one of the two files",
                )
        for old in clash:
            self._take_back(old)
        try:
            member = enum.add_member(name, value)  # type: ignore[attr-defined]
        except ValueError as exc:
            raise SpecError(_location(source), f"{exc} ({enum.__module__})",
                            hint=f"give the item another name than {name!r}") from None
        record = AddedMember(enum, name, int(value), module, source)
        if record not in self._members:
            self._members.append(record)
        return member

    def _take_back(self, record: AddedMember) -> None:
        """Forget record; the enum loses the member when no other record still adds it."""
        self._members.remove(record)
        if not any(m.enum is record.enum and m.name == record.name for m in self._members):
            record.enum.remove_member(record.name)  # type: ignore[attr-defined]

    def added_members(self) -> list[AddedMember]:
        """Every enum member added through :meth:`add_member`, oldest first."""
        return list(self._members)

    def remove_module(self, module: str) -> None:
        """Forget every layer, binding, heuristic and enum member that the module called
        ``module`` registered: what reloading an edited .layer file does first, so that the
        new version does not collide with what the old one registered (a binding moved to
        another line, an item with a new value) and what the edit removed does not stay."""
        for record in [m for m in self._members if m.module == module]:
            self._take_back(record)
        for name, cls in list(self._layers.items()):
            if cls.__module__ == module:
                self.remove_layer(name)
        for table in self._tables.values():
            table.unbind_module(module)

    def layer(self, name: str) -> type:
        """The layer class called name (KeyError listing the known names when there is none)."""
        cls = self._layers.get(name)
        if cls is None:
            known = ", ".join(sorted(self._layers)) or "none"
            raise KeyError(f"no layer called {name!r} (known: {known})")
        return cls

    def get_layer(self, name: str) -> type | None:
        """The layer class called name, or None (layer() raises instead)."""
        return self._layers.get(name)

    def layers(self) -> list[type]:
        """Every registered layer class, sorted by name."""
        return [self._layers[n] for n in sorted(self._layers)]

    def table(self, name: str) -> DispatchTable:
        """The dispatch table of the enum called name, created empty on first use."""
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = DispatchTable(name)
        return table

    def tables(self) -> dict[str, DispatchTable]:
        """Every dispatch table by name, sorted (a copy: add tables with table())."""
        return dict(sorted(self._tables.items()))

    def snapshot(self) -> tuple[Any, ...]:
        """What is registered and bound now, for :meth:`restore`: for tests and tools that
        load .layer files for a while and must leave the decode chain as they found it."""
        tables = {name: (dict(t), {v: list(s) for v, s in t._bindings.items()},
                         list(t.heuristics), t.guarded) for name, t in self._tables.items()}
        return dict(self._layers), tables, self.payload, list(self._members)

    def restore(self, snapshot: tuple[Any, ...]) -> None:
        """Go back to a :meth:`snapshot`: layers registered, values bound and enum members
        added since are forgotten, and those removed since come back. Tables are changed in
        place (generated modules hold them); a table made since is emptied."""
        layers, tables, payload, members = snapshot
        self._layers = dict(layers)
        self.payload = payload
        if members != self._members:
            # take every added member back, then add the snapshot's in their first order,
            # so that each value gets back the display name it had
            for record in reversed(self._members):
                if record.name in record.enum._added_:  # type: ignore[attr-defined]
                    record.enum.remove_member(record.name)  # type: ignore[attr-defined]
            for record in members:
                record.enum.add_member(record.name, record.value)  # type: ignore[attr-defined]
            self._members = list(members)
        for name, table in self._tables.items():
            items, bindings, heuristics, guarded = tables.get(name, ({}, {}, [], False))
            dict.clear(table)
            dict.update(table, items)
            table._bindings = {v: list(s) for v, s in bindings.items()}
            table.heuristics[:] = heuristics
            table.guarded = guarded

    def __iter__(self) -> Iterator[type]:
        return iter(self.layers())

    def __contains__(self, name: object) -> bool:
        return name in self._layers

    def __repr__(self) -> str:
        return f"<Registry {len(self._layers)} layers, {len(self._tables)} tables>"


REGISTRY = Registry()
"""The registry that generated modules and ``decode(data, "Ethernet")`` use."""
