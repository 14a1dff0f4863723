"""Phase 3: plan. Turn one checked .layer file into the view-model of its module.

The module around the layers: enums and their dispatch tables, struct formats, endpoint
types, flag sets, heuristics and guards, bindings, and imports of what other files declared.
Each layer or struct is planned by layout.UnitPlanner. Dispatch tables, imports and exports
are sorted, so the same input always gives the same bytes.
"""

from __future__ import annotations

import re

from pktspec.generator.check import Checked, Unit, _const_eval
from pktspec.generator.layout import UnitPlanner
from pktspec.generator.model import ModuleModel
from pktspec.generator.pyexpr import PyExpr
from pktspec.generator.resolve import SourceFile
from pktspec.grammar import ast


class ModulePlanner:
    """Plans one .layer file's module: enums, tables, structs, layers, bindings, imports."""

    def __init__(self, checked: Checked, source: SourceFile, version: str, sha256: str,
                 module_name_of) -> None:
        self.checked = checked
        self.source = source
        self.version = version
        self.sha256 = sha256
        self.module_name_of = module_name_of
        self.foreign: dict[str, set[str]] = {}
        self.tables: dict[str, str] = {}
        self.endpoints: dict[str, str] = {}
        self.flagsets: dict[str, str] = {}
        self.field_formats: list[str] = []
        self.helpers: list[list[str]] = []

    def own(self, name: str) -> bool:
        symbol = self.checked.program.symbols.get(name)
        return symbol is not None and symbol.file is self.source

    def ref(self, name: str) -> str:
        """A layer or enum of this or another file, importing it when foreign."""
        if not self.own(name):
            symbol = self.checked.program.symbols[name]
            self.foreign.setdefault(self.module_name_of(symbol.file), set()).add(name)
        return name

    def struct_ref(self, name: str) -> str:
        ref = f"_S_{name}"
        if not self.own(name):
            symbol = self.checked.program.symbols[name]
            self.foreign.setdefault(self.module_name_of(symbol.file), set()).add(ref)
        return ref

    def struct_params(self, name: str) -> tuple[str, ...]:
        return self.checked.program.symbols[name].node.params

    def table(self, name: str) -> str:
        return self.tables.setdefault(name, f"_T_{name}")

    def endpoint(self, name: str, fmt: str) -> str:
        ident = "_EP_" + "".join(ch if ch.isalnum() else "_" for ch in name)
        self.endpoints[ident] = f"_endpoint_type({name!r}, {fmt!r})"
        return ident

    def flagset(self, layer: str, cf) -> str:
        ident = f"_{layer}_{cf.name}_flags"
        names = ", ".join(repr(n) for n in cf.ftype.flag_names)
        self.flagsets[ident] = (f"_FlagSet.define({layer + '_' + cf.name!r}, ({names},), "
                                f"width={cf.ftype.bits})")
        return ident

    def field_format(self, unit: Unit, cf, construct: str) -> str:
        ident = f"_F_{unit.name}_{cf.name}"
        self.field_formats.append(f"{ident} = {construct}")
        return ident

    def global_name(self, name: str) -> str:
        if name in self.checked.consts:
            return repr(self.checked.consts[name])
        raise ValueError(f"unresolved name {name!r}")  # the checker refuses these first

    def enum_constant(self, e: ast.Attr) -> str | None:
        if isinstance(e.obj, ast.Name) and e.obj.name in self.checked.enums:
            return repr(self.enum_value(e.obj.name, e.name))
        return None

    def enum_value(self, enum: str, item: str) -> int:
        for name, value in self.checked.enums[enum].items:
            if name == item:
                return value
        for b in self.checked.bindings:
            if b.table == enum and b.name == item:
                return b.value
        raise ValueError(f"{enum}.{item}")  # pragma: no cover - checked before

    def const_int(self, e: ast.Expr) -> int:
        if isinstance(e, ast.Attr) and isinstance(e.obj, ast.Name) and \
                e.obj.name in self.checked.enums:
            return self.enum_value(e.obj.name, e.name)
        return _const_eval(e, self.checked.consts)

    # ---- the whole module ----
    def plan(self) -> ModuleModel:
        checked = self.checked
        decls = self.source.module.decls
        enums = []
        for d in decls:
            if isinstance(d, ast.Enum):
                enums.append((d.name, d.doc or f"The values of {d.name}.",
                              [(n, repr(v)) for n, v in checked.enums[d.name].items]))
                self.table(d.name)
        bodies: dict[str, str] = {}
        heads: dict[str, str] = {}
        layers = []
        for d in decls:
            if isinstance(d, ast.Struct):
                planner = UnitPlanner(self, checked.units[d.name])
                planner.plan()
                bodies[d.name] = "\n".join("    " + ln for ln in planner.format_lines)
                heads[d.name] = _struct_head(planner)
            elif isinstance(d, ast.Layer):
                layers.append(UnitPlanner(self, checked.units[d.name]).plan())
        struct_formats = [f"_S_{name} = {heads[name]}\n{bodies[name]}\n)"
                          for name in _uses_first(bodies)]
        registrations = self.member_lines()
        registrations += [f"_REGISTRY.add_layer({lm.name})" for lm in layers]
        registrations += self.binding_lines()
        exports = sorted([e[0] for e in enums] + [lm.name for lm in layers])
        return ModuleModel(
            source=self.source.display, sha256=self.sha256, version=self.version,
            regenerate=f"pktspec compile {self.source.display}",
            imports=self.import_lines(), flagsets=[f"{k} = {v}" for k, v in
                                                   sorted(self.flagsets.items())],
            enums=enums,
            tables=[f"{v} = _REGISTRY.table({k!r})" for k, v in sorted(self.tables.items())],
            endpoints=[f"{k} = {v}" for k, v in sorted(self.endpoints.items())],
            helpers=self.helpers, struct_formats=struct_formats,
            field_formats=self.field_formats, layers=layers, registrations=registrations,
            exports=exports)

    def member_lines(self) -> list[str]:
        """The items this file names in an ``extend`` (``extend BKind { C = 3 -> X }``),
        added to the enum's class wherever it was declared, so that they display and build
        by name like its own items. Items the enum declares itself are left alone. The
        registry adds them, recording this module (``__name__``), so that reloading or
        unloading it takes them back."""
        out: list[str] = []
        seen: set[tuple[str, str, int]] = set()
        for b in self.checked.bindings:
            if b.file is not self.source or b.name is None or b.value is None:
                continue
            if (b.name, b.value) in self.checked.enums[b.table].items:
                continue  # `enum E { A = 1 -> X }`: already in the class body
            if (b.table, b.name, b.value) in seen:
                continue
            seen.add((b.table, b.name, b.value))
            head = f"_REGISTRY.add_member({self.ref(b.table)}, {b.name!r}, {b.value!r},"
            tail = f"source={f'{self.source.display}:{b.pos.line}'!r}, module=__name__)"
            if len(head) + 1 + len(tail) <= 99:
                out.append(f"{head} {tail}")
            else:
                out.append(f"{head}\n{' ' * len('_REGISTRY.add_member(')}{tail}")
        return out

    def binding_lines(self) -> list[str]:
        out = []
        for b in self.checked.bindings:
            if b.file is not self.source:
                continue
            table = self.table(b.table)
            target = self.ref(b.target)
            where = f"{self.source.display}:{b.pos.line}"
            if b.cond is None:
                out.append(f"{table}.bind({b.value:#x}, {target}, source={where!r}, "
                           f"priority={b.priority})")
            else:
                fn = self.heuristic(b)
                out.append(f"{table}.add_heuristic({fn}, {target}, priority={b.priority})")
        return out

    def heuristic(self, b) -> str:
        ident = f"_heuristic_{b.table}_{b.target}_{b.pos.line}"
        return self.data_predicate(ident, b.cond, f"Heuristic from {self.source.display}:"
                                   f"{b.pos.line}.")

    def guard(self, unit: Unit) -> str:
        """The module-level function for a layer's ``guard``, or "None"."""
        if unit.guard is None:
            return "None"
        return self.data_predicate(f"_guard_{unit.name}", unit.guard.expr,
                                   f"Guard of {unit.name} ({self.source.display}:"
                                   f"{unit.guard.pos.line}).")

    def data_predicate(self, ident: str, cond: ast.Expr, doc: str) -> str:
        """A function (buf, off, end) -> bool over the bytes ``data`` = buf[off:end]."""

        def index(e: ast.Index) -> str | None:
            if isinstance(e.obj, ast.Name) and e.obj.name == "data":
                i = px(e.index)
                if isinstance(e.index, ast.IntLit):  # the usual case: data[0] > 0 is a number
                    return f"(buf[off + {i}] if end - off > {i} else -1)"
                return f"(buf[off + {i}] if 0 <= {i} < end - off else -1)"
            return None

        def call(e: ast.Call) -> str | None:
            if e.func == "len" and isinstance(e.args[0], ast.Name) and e.args[0].name == "data":
                return "(end - off)"
            return None

        px = PyExpr(self.global_name, self.enum_constant, index, call)
        self.helpers.append([f"def {ident}(buf, off, end):",
                             f"    {doc!r}",
                             f"    return bool({px(cond)})"])
        return ident

    def import_lines(self) -> list[tuple[str, str, str | None]]:
        """(module, names, needs) per module this one imports from, sorted. ``needs`` is
        None for a built-in module; for another user file's module it ends the message of
        the ImportError raised when that module was never loaded (a compiled module imported
        on its own), after the importing module's ``__name__``."""
        files = {self.module_name_of(s.file): s.file
                 for s in self.checked.program.symbols.values()}
        out = []
        for module in sorted(self.foreign):
            names = ", ".join(sorted(self.foreign[module]))
            source = files[module]
            needs = None if source.builtin else (
                f" needs the layers of {source.display}: load it first with "
                f"pktspec.load({source.display!r})")
            out.append((module, names, needs))
        return out


def plan_module(checked: Checked, source: SourceFile, version: str, sha256: str,
                module_name_of) -> ModuleModel:
    """The view-model of one .layer file's generated module."""
    return ModulePlanner(checked, source, version, sha256, module_name_of).plan()


_STRUCT_REF = re.compile(r"\b_S_([A-Za-z0-9_]+)\b")


def _uses_first(bodies: dict[str, str]) -> list[str]:
    """The structs in source order, except that a struct comes after the structs of this
    file that its construct uses (a struct may use one declared further down; the checker
    refuses cycles). Source order is kept where it already works, so output is stable."""
    order: list[str] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        placed.add(name)
        for used in _STRUCT_REF.findall(bodies[name]):
            if used in bodies and used != name:
                place(used)
        order.append(name)

    for name in bodies:
        place(name)
    return order


def _struct_head(planner) -> str:
    """How a struct's construct opens: ``_c.Struct(``, or for a struct with conditional
    fields ``_CondStruct(CONDITIONS, DEFAULTS,``, so that building a conditional field given
    sets what its condition reads, or refuses it (runtime/constructs.py CondStruct)."""
    conditions = planner.conditions()
    if not conditions:
        return "_c.Struct("
    controls = {f for _, _, ways in conditions for way in ways for f, _, _ in way}
    defaults = ", ".join(f"{cf.name!r}: {planner.struct_default(cf)}"
                         for cf in planner.unit.fields if cf.name in controls)
    lines = ["_CondStruct(", "    (", *[f"        {c!r}," for c in conditions], "    ),",
             f"    {{{defaults}}},"]
    return "\n".join(lines)
