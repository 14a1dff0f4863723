"""The generator's phases in order: resolve -> check -> model -> emit.

``compile_program`` turns a .layer file (and what it imports) into Python source text, one
module per file. Nothing here imports or runs the generated code; loader.py does that.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pktspec.generator.check import Checked, check
from pktspec.generator.emit import render
from pktspec.generator.plan import plan_module
from pktspec.generator.resolve import SourceFile, resolve

GENERATOR_VERSION = "0.5.0"


def module_name(source: SourceFile) -> str:
    """The importable name of a file's module: pktspec.protocols.x or pktspec.user.x."""
    if source.builtin:
        return f"pktspec.protocols.{source.stem}"
    return f"pktspec.user.{source.stem}"


def source_hash(source: SourceFile) -> str:
    return hashlib.sha256(source.module.source.encode("utf-8")).hexdigest()


def render_file(checked: Checked, source: SourceFile) -> str:
    model = plan_module(checked, source, GENERATOR_VERSION, source_hash(source), module_name)
    return render(model)


def compile_program(path: Path | str) -> tuple[Checked, dict[str, str]]:
    """Check ``path`` and its imports; return the checked program and source per file path."""
    checked = check(resolve(Path(path)))
    out = {str(s.path): render_file(checked, s) for s in checked.program.files}
    return checked, out


def check_file(path: Path | str) -> Checked:
    """Resolve and check only (``pktspec check``): raises SpecError with every problem."""
    return check(resolve(Path(path)))
