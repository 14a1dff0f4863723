"""The Checker: its state, how it reports problems and warnings, and the order its checks run
in; and check(), the phase's entry point.

The checks themselves are mixins, one concept per sibling module (declarations, units,
fields, field types, statements, expressions); this module composes them and is the only one
that knows the order: declarations first, then layers and structs, then the checks across
files, and no emitting past a problem.
"""

from __future__ import annotations

import keyword
import warnings

from pktspec.errors import SpecError, SpecWarning
from pktspec.generator.check.checked import CHECKSUM_BITS, Bind, CEnum, Checked, Unit
from pktspec.generator.check.declarations import DeclarationChecks
from pktspec.generator.check.expressions import ExpressionChecks
from pktspec.generator.check.field_types import FieldTypeChecks
from pktspec.generator.check.fields import FieldChecks
from pktspec.generator.check.statements import StatementChecks
from pktspec.generator.check.summaries import SummaryChecks
from pktspec.generator.check.units import UnitChecks
from pktspec.generator.resolve import Program, SourceFile, builtin_index
from pktspec.grammar import ast


def valid_identifier(name: str) -> str | None:
    """Why ``name`` cannot become a Python identifier in generated code (None if it can)."""
    if not name.isidentifier() or not name.isascii():
        return "is not a valid identifier"
    # Soft keywords (match, case, type, _) stay valid attribute and variable names.
    if keyword.iskeyword(name) or name in ("None", "True", "False"):
        return "is a Python keyword"
    if name.startswith("_"):
        return "starts with '_' (names with a leading underscore are reserved)"
    return None


class Checker(DeclarationChecks, UnitChecks, FieldChecks, FieldTypeChecks, StatementChecks,
              SummaryChecks, ExpressionChecks):
    """Checks a resolved Program, collecting every problem; run() returns what passes."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.problems: list[SpecError] = []
        self.warnings: list[SpecWarning] = []
        # (unit, field) whose type was wrong (reported): uses of it are not errors again
        self.untyped: set[tuple[int, str]] = set()
        self.consts: dict[str, int] = {}
        # checksum function -> bits of its result: the built-in ones and `extern checksum`s
        self.checksums: dict[str, int] = dict(CHECKSUM_BITS)
        self.enums: dict[str, CEnum] = {}
        self.units: dict[str, Unit] = {}
        self.bindings: list[Bind] = []
        self.current: SourceFile | None = None
        self._nesting = 0  # > 0 while check_expr checks the parts of an expression
        # names that `extend` statements gave to enum values: table -> name -> value
        self.extended: dict[str, dict[str, int]] = {}

    # ---- reporting ----
    def error(self, pos, message: str, hint: str | None = None) -> None:
        source = self.current.module.source if self.current else None
        self.problems.append(SpecError(pos, message, hint, source))

    def warn(self, pos, message: str, hint: str | None = None) -> None:
        """Something that checks but will not take effect: reported, never fatal."""
        source = self.current.module.source if self.current else None
        self.warnings.append(SpecWarning(pos, message, hint, source))

    def check_name(self, name: str, pos, what: str) -> None:
        why = valid_identifier(name)
        if why:
            self.error(pos, f"{what} name {name!r} {why}", "rename it")

    def unknown(self, name: str, pos, what: str, pool: set[str]) -> None:
        hint = self.program.suggest(name, pool)
        if what in ("enum", "layer") and name not in self.program.symbols:
            # declared by a built-in file this one does not import
            hint = builtin_index().hint_import(name, (what,)) or hint
        self.error(pos, f"unknown {what} {name!r}", hint)

    # ---- driver ----
    def run(self) -> Checked:
        for source in self.program.files:
            self.current = source
            for decl in source.module.decls:
                if isinstance(decl, ast.Const):
                    self.check_name(decl.name, decl.pos, "constant")
                    self.consts[decl.name] = self.const_value(decl.expr)
                elif isinstance(decl, ast.Enum):
                    self.check_enum(decl, source)
                elif isinstance(decl, ast.Extern) and decl.result is not None:
                    self.check_extern_checksum(decl)
                elif isinstance(decl, ast.Extern):
                    self.check_name(decl.name, decl.pos, "extern type")
        for source in self.program.files:
            self.current = source
            for decl in source.module.decls:
                if isinstance(decl, (ast.Layer, ast.Struct)):
                    self.check_unit(decl, source)
                elif isinstance(decl, ast.Extend):
                    self.check_extend(decl, source)
            for decl in source.module.of_type(ast.Enum):
                for item in decl.items:
                    if item.target is not None:
                        self.add_binding(decl.name, self.const_value(item.value), item.name,
                                         item.target, None, item.pos, source)
        self.check_recursive_structs()
        self.check_builtin_layer_names()
        self.check_overlaps()
        if self.problems:
            first = self.problems[0]
            raise SpecError(first.location, first.message, first.hint, first.source,
                            list(self.problems))
        self.check_dispatched()
        return Checked(self.program, self.units, self.enums, self.consts, self.bindings,
                       self.warnings, checksums=self.checksums)


def check(program: Program) -> Checked:
    """Run every check over a resolved Program; raise SpecError listing all problems.

    Warnings (``Checked.warnings``) are also issued through the warnings module as
    SpecWarning: loading a file shows them once, and never fails on them."""
    checked = Checker(program).run()
    for w in checked.warnings:
        warnings.warn(w, stacklevel=2)
    return checked
