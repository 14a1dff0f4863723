"""The generator: from a checked .layer file to a Python module, in named phases.

    resolve.py   load the file and its imports, name every declaration
    check/       type every field, report every mistake at file:line:column
    plan.py      plan the module: enums, tables, structs, bindings, imports
      layout.py      one layer (UnitPlanner), made of one mixin per concern:
        spelling.py        names and expressions in the fast path and in FORMAT
        segments.py        fixed-size fields and bit-field chunks
        variable_parts.py  bytes, arrays, structs, switches, the lazily decoded tail
        construct_format.py  the FORMAT construct of each part
        boundaries.py      header and payload ends, trailers, dispatch, flow
        relations.py       the builder relations: defaults, lengths, checksums
      model.py       the view-model those produce and the templates print
    emit.py      render templates/*.j2 into source text (deterministic)
    loader.py    compile on first use, cache by source hash, import
    builtins.py  regenerate or verify the built-in protocol modules

    from pktspec.generator import load, compile_program
    module = load("myencap.layer")          # compiled, cached, imported, registered

Neighbours: it reads the AST of pktspec.grammar and writes code for pktspec.runtime; the
runtime never imports this package except through the loader.
"""

from pktspec.generator.compiler import GENERATOR_VERSION, check_file, compile_program
from pktspec.generator.loader import load

__all__ = ["GENERATOR_VERSION", "check_file", "compile_program", "load"]
