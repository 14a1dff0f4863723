"""The pktspec language: its grammar (pktspec.lark), the typed AST and the parser.

    from pktspec.grammar import parse
    module = parse(open("myencap.layer").read(), "myencap.layer")
    for decl in module.decls: ...

Neighbours: the generator (pktspec.generator) resolves, checks and compiles what this package
parses; nothing here knows about Python code generation or the runtime.
"""

from pktspec.grammar.parser import parse

__all__ = ["parse"]
