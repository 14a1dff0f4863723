"""The checks of a file's declarations besides layers and structs: 'extern checksum', constants,
enums and 'extend', and the bindings they make into dispatch tables, with what only shows
across files and against the built-ins: overlapping bindings, layers named like built-in ones,
tables no layer dispatches on.
"""

from __future__ import annotations

from pktspec.generator.check.checked import CHECKSUM_BITS, Bind, CEnum
from pktspec.generator.check.constants import _const_eval, _ConstError, _NotConstant
from pktspec.generator.check.expressions import _Scope
from pktspec.generator.resolve import SourceFile, builtin_index
from pktspec.generator.types import FieldType, int_type
from pktspec.grammar import ast
from pktspec.runtime.constructs import registered_checksum_bits


class DeclarationChecks:
    """The Checker's checks of declarations and bindings (a mixin: the Checker holds the state
    and reports)."""

    def check_extern_checksum(self, decl: ast.Extern) -> None:
        """``extern checksum name : uN;``: a function Python registers, whose result has N
        bits; the generated code names it as a string, looked up in the runtime's
        registry (never evaluated)."""
        self.check_name(decl.name, decl.pos, "checksum function")
        if decl.name in CHECKSUM_BITS:
            self.error(decl.pos, f"{decl.name!r} is a built-in checksum function",
                       "call it without declaring it, or give yours another name")
            return
        result = int_type(decl.result, "big")
        if result is None or result.signed:
            self.error(decl.result_pos, f"a checksum gives an unsigned integer, not "
                       f"{decl.result!r}", "for example: extern checksum "
                       f"{decl.name} : u16;")
            return
        if self.checksums.get(decl.name, result.bits) != result.bits:
            self.error(decl.pos, f"checksum {decl.name!r} is declared with "
                       f"{self.checksums[decl.name]} bits already")
        self.checksums[decl.name] = result.bits
        if registered_checksum_bits(decl.name) is None:
            # fine for now (Python may register it after loading), but building or
            # verifying a layer that calls it fails until it does
            self.warn(decl.pos, f"checksum function {decl.name!r} is not registered: "
                      "relations that call it cannot be computed or verified yet",
                      f"call pktspec.runtime.constructs.register_checksum({decl.name!r}, "
                      f"func, bits={result.bits}) before decoding or building")

    # ---- constants and enums ----
    def const_value(self, expr: ast.Expr) -> int:
        if self.too_deep(expr):
            return 0
        try:
            return _const_eval(expr, self.consts)
        except _ConstError as exc:
            self.error(exc.pos, exc.message)
            return 0
        except _NotConstant as exc:
            self.error(exc.pos, "a constant integer is needed here", exc.hint)
            return 0

    def check_enum(self, decl: ast.Enum, source: SourceFile) -> None:
        self.check_name(decl.name, decl.pos, "enum")
        base = int_type(decl.base, "big")
        if base is None:
            self.error(decl.pos, f"enum base type {decl.base!r} is not an integer type",
                       "use u8, u16, u32, ...")
            base = FieldType("int", bits=32, written="u32")
        items: list[tuple[str, int]] = []
        seen: dict[str, int] = {}
        for item in decl.items:
            self.check_name(item.name, item.pos, "enum item")
            if item.name in seen or item.name in ("name_of", "values", "names"):
                self.error(item.pos, f"enum item {item.name!r} is declared twice"
                           if item.name in seen else f"enum item name {item.name!r} is reserved")
            value = self.const_value(item.value)
            if not 0 <= value < (1 << base.bits) and not base.signed:
                self.error(item.pos, f"{value} does not fit in {decl.base}")
            seen[item.name] = value
            items.append((item.name, value))
        self.enums[decl.name] = CEnum(decl, source, base, items)

    def check_extend(self, decl: ast.Extend, source: SourceFile) -> None:
        if decl.table not in self.enums:
            self.unknown(decl.table, decl.pos, "enum", {
                n for n, e in self.enums.items()})
            return
        enum = self.enums[decl.table]
        for item in decl.items:
            if isinstance(item, ast.ExtHeuristic):
                self.check_expr(item.cond, _Scope(heuristic=True))
                self.add_binding(decl.table, None, None, item.target, item.cond, item.pos, source)
                continue
            if item.name is not None:
                self.check_name(item.name, item.pos, "enum item")
            value = self.const_value(item.value)
            if not 0 <= value < (1 << enum.base.bits):
                self.error(item.pos, f"{value} does not fit in {enum.node.base}")
            if item.name is not None:
                # the runtime refuses a name that already means another value (ValueError)
                named = self.extended.setdefault(decl.table, {})
                before = dict(enum.items).get(item.name, named.get(item.name))
                if before is not None and before != value:
                    self.error(item.pos, f"{decl.table}.{item.name} is already {before}",
                               f"bind the value without a name ('{value} -> "
                               f"{item.target.layer}'), or give it another name")
                elif before is None:
                    named[item.name] = value
            self.add_binding(decl.table, value, item.name, item.target, None, item.pos, source)

    def add_binding(self, table, value, name, target: ast.Binding, cond, pos, source) -> None:
        if not self.check_layer_ref(target.layer, target.pos):
            return
        self.bindings.append(Bind(table, value, name, target.layer, target.priority, cond, pos,
                                  source))

    def check_overlaps(self) -> None:
        self.check_builtin_overlaps()
        seen: dict[tuple[str, int, int], Bind] = {}
        for b in self.bindings:
            if b.value is None:
                continue
            key = (b.table, b.value, b.priority)
            other = seen.get(key)
            if other is not None and other.target == b.target and other.file is b.file:
                # loading binds both (different lines are different sources): a conflict
                self.current = b.file
                self.error(b.pos, f"{b.table} value {b.value} ({b.value:#x}) is bound twice "
                           f"in this file (first at {other.pos})", "drop one of the two")
            elif other is not None and (other.target != b.target or other.file is not b.file):
                self.current = b.file
                self.error(b.pos, f"{b.table} value {b.value} ({b.value:#x}) is bound to {other.target} "
                           f"already (at {other.pos}) with the same priority",
                           "give one binding a higher 'priority N' to make it win, or drop one")
            seen[key] = b

    def check_layer_ref(self, name: str, pos) -> bool:
        """Whether ``name`` is a layer (a binding's target, 'next X', '-> X'); says what it
        is instead if it is a struct, an enum, a const or an extern."""
        symbol = self.program.symbols.get(name)
        if symbol is not None and symbol.kind != "layer":
            self.error(pos, f"{name!r} is {'an' if symbol.kind[0] in 'ae' else 'a'} "
                       f"{symbol.kind}, not a layer",
                       "only a layer can follow another: declare "
                       f"'layer {name} : application {{ ... }}'" if symbol.kind == "struct"
                       else "name a layer here")
            return False
        if symbol is None:
            self.unknown(name, pos, "layer",
                         {n for n, s in self.program.symbols.items() if s.kind == "layer"})
            return False
        return True

    def check_dispatched(self) -> None:
        """A binding into a table that no layer dispatches on (none of this program's
        layers, no built-in layer, not the capture's link type) never takes effect: a
        warning, once per table and file, at its first binding."""
        ours = {table for u in self.units.values() for _, table in u.nexts if table}
        reported: set[tuple[int, str]] = set()
        for b in self.bindings:
            key = (id(b.file), b.table)
            if b.file.builtin or b.table in ours or key in reported:
                continue
            if b.table in builtin_index().dispatched:
                continue
            reported.add(key)
            users = [(u, f) for u in self.units.values() if u.kind == "layer"
                     for f in u.fields if f.ftype.kind == "enum" and f.ftype.enum == b.table]
            if users:
                unit, f = users[0]
                hint = f"add 'next by {f.name};' to layer {unit.name}"
            else:
                hint = (f"give a layer a field of type {b.table} and 'next by <field>;', "
                        f"or 'next by <expr> in {b.table};'")
            self.current = b.file
            self.warn(b.pos, f"no layer dispatches on {b.table}: its bindings here never take "
                      f"effect ({b.target} is never decoded through it)", hint)

    def check_builtin_overlaps(self) -> None:
        """A user's binding against a built-in one its file does not import: loading would
        fail on it, so ``pktspec check`` says so first."""
        import pktspec.protocols  # noqa: F401  (the built-in bindings, as loading will meet them)
        from pktspec.runtime.registry import REGISTRY

        ours = {s.display for s in self.program.files}
        for b in self.bindings:
            if b.value is None or b.file.builtin or b.table not in REGISTRY.tables():
                continue
            for other in REGISTRY.table(b.table).bindings(b.value):
                source = (other.source or "").rsplit(":", 1)[0]
                if source in ours or other.cls.name == b.target or other.priority != b.priority:
                    continue
                self.current = b.file
                self.error(b.pos, f"{b.table} value {b.value} ({b.value:#x}) is bound to {other.cls.name} "
                           f"already (by {other.source}) with the same priority",
                           "give this binding a higher 'priority N' to make it win")

    def check_builtin_layer_names(self) -> None:
        """A user's layer named like a built-in one: the registry refuses the second class
        called so when both are loaded (a file that imports the built-in file is told so by
        resolve already)."""
        import pktspec.protocols  # noqa: F401  (the built-in layers, as loading will meet them)
        from pktspec.runtime.registry import REGISTRY

        ours = {s.module_name for s in self.program.files if s.builtin}
        for source in self.program.files:
            if source.builtin:
                continue
            for decl in source.module.of_type(ast.Layer):
                cls = REGISTRY.get_layer(decl.name)
                module = getattr(cls, "__module__", "")
                if cls is None or not module.startswith("pktspec.protocols.") or module in ours:
                    continue
                self.current = source
                self.error(decl.pos, f"a built-in layer is already called {decl.name}",
                           f"rename this layer (the built-in one is in "
                           f"protocols/{module.rsplit('.', 1)[-1]}.layer)")
