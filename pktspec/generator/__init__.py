"""The generator: from a checked .layer file to a Python module, in named phases.

    resolve.py   load the file and its imports, name every declaration
    check.py     type every field, report every mistake at file:line:column
    model.py     plan layouts: struct formats, bit masks, lazy parts, construct FORMAT
    emit.py      render templates/*.j2 into source text (deterministic)
    loader.py    compile on first use, cache by source hash, import

    from pktspec.generator import load, compile_program
    module = load("myencap.layer")          # compiled, cached, imported, registered

Neighbours: it reads the AST of pktspec.grammar and writes code for pktspec.runtime; the
runtime never imports this package except through the loader.
"""

from pktspec.generator.compiler import GENERATOR_VERSION, check_file, compile_program
from pktspec.generator.loader import load

__all__ = ["GENERATOR_VERSION", "check_file", "compile_program", "load"]
