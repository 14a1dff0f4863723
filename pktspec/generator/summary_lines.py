"""Phase 3, one layer's ``SUMMARY``: its ``summary "..." if cond;`` rules as data.

Each rule becomes ``(test, parts)``: ``test`` a ``lambda self: ...`` over the decoded layer's
public fields (None without ``if``), ``parts`` the literal pieces and ``(path, spec)``
placeholders the checker split the text into, written with ``repr()``. The text itself never
becomes code: the runtime (``Layer.summary``) looks each path up and formats the value. A
mixin of layout.UnitPlanner.
"""

from __future__ import annotations

from pktspec.generator.pyexpr import PyExpr
from pktspec.grammar import ast


class LayerSummary:
    """The SUMMARY class attribute of one layer (mixed into UnitPlanner)."""

    def summary_lines(self) -> list[str]:
        if self.unit.kind != "layer" or not self.unit.summaries:
            return []
        lets = {m.name for m in self.unit.members if isinstance(m, ast.Let)}

        def name(n: str) -> str:
            if self.unit.field(n) is not None or n in lets:
                return f"self.{n}"  # the public value: a lazily decoded part decodes
            return self.mod.global_name(n)

        px = PyExpr(name, lambda e: self.member_attr(px, name, e))
        out = ["SUMMARY = ("]
        for parts, when in self.unit.summaries:
            test = "None" if when is None else f"lambda self: {px(when)}"
            out.append(f"    ({test}, {parts!r}),")
        out.append(")")
        return out
