"""Phase 3, one layer's ``SUMMARY``: its ``summary "..." if cond;`` rules as data.

Each rule becomes ``(test, parts, condition)``: ``test`` a ``lambda self: ...`` over the
decoded layer's raw values (None without ``if``; addresses are bytes there, as the checker
types them), ``parts`` the literal pieces and
``(path, spec)`` placeholders the checker split the text into, and ``condition`` the ``if``
as written (for ``pktspec list``), all written with ``repr()``. The text itself never
becomes code: the runtime (``Layer.summary``) looks each path up and formats the value. A
mixin of layout.UnitPlanner.
"""

from __future__ import annotations

from pktspec.generator.pyexpr import PyExpr, expr_text
from pktspec.grammar import ast


class LayerSummary:
    """The SUMMARY class attribute of one layer (mixed into UnitPlanner)."""

    def summary_lines(self) -> list[str]:
        if self.unit.kind != "layer" or not self.unit.summaries:
            return []
        lets = {m.name for m in self.unit.members if isinstance(m, ast.Let)}

        def name(n: str) -> str:
            cf = self.unit.field(n)
            if cf is not None:
                # the raw value, as the checker typed it (an address is bytes, not its
                # text), where raw_fields() reads it; a lazily decoded part decodes
                return f"self.{self.slot_name(cf)}"
            if n in lets:
                return f"self.{n}"
            return self.mod.global_name(n)

        px = PyExpr(name, lambda e: self.member_attr(px, name, e))
        out = ["SUMMARY = ("]
        for parts, when in self.unit.summaries:
            test = "None" if when is None else f"lambda self: {px(when)}"
            text = None if when is None else expr_text(when)
            out.append(f"    ({test}, {parts!r}, {text!r}),")
        out.append(")")
        return out
