"""The checks of ``summary "..." [if cond];``: a layer's part of a packet's one-line summary.

A summary is text with field paths in braces: ``"who-has {target_ip} tell {sender_ip}"``,
``"{questions[0].name} {questions[0].type}"``, ``"id {id:#06x}"``, and a list's first item
whose member has a value: ``"{options[code=DHCPOptionCode.MessageType].value}"``. The checker splits the text
into literal pieces and placeholders once, here, so that the generator emits only ``repr()``
literals of vetted pieces (never the text itself as code) and the runtime only looks the paths
up: a path is a field or let of the layer, then ``.name`` (no leading underscore), ``[N]``
``[*]`` (every item: their texts joined by ", ") and ``[member=VALUE]`` steps (VALUE an
integer or ``Enum.Member``, resolved here to its number); a format spec is a small integer format (``x``, ``#06x``, ``>5``).
"""

from __future__ import annotations

import re

from pktspec.generator.check.checked import Unit
from pktspec.generator.check.expressions import _Scope
from pktspec.generator.types import FieldType
from pktspec.grammar import ast

Placeholder = tuple[tuple[str | int | tuple[str, str | int], ...], str]
"""A field path (names, indexes and (member, value) keys) and a format spec ('' for none)."""

_STEP = re.compile(r"\.([A-Za-z][A-Za-z0-9_]*)|\[([0-9]{1,4}|\*)\]"
                   r"|\[([A-Za-z][A-Za-z0-9_]*)=(0x[0-9a-fA-F]{1,16}|[1-9][0-9]{0,18}|0|"
                   r"[A-Za-z][A-Za-z0-9_]*\.[A-Za-z][A-Za-z0-9_]*)\]")
_HEAD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_SPEC = re.compile(r"[<>^]?#?0?[0-9]{0,3}[xXdob]?")


def template_parts(text: str) -> tuple[list[str | Placeholder], list[tuple[int, str]]]:
    """Split a summary text into literals and placeholders; also return the problems found,
    each with its offset in the text. ``{{`` and ``}}`` stand for braces."""
    parts: list[str | Placeholder] = []
    problems: list[tuple[int, str]] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "{}" and text[i + 1:i + 2] == ch:
            literal.append(ch)
            i += 2
            continue
        if ch == "}":
            problems.append((i, "a '}' without its '{' (write '}}' for a brace)"))
            i += 1
            continue
        if ch != "{":
            literal.append(ch)
            i += 1
            continue
        close = text.find("}", i)
        if close < 0:
            problems.append((i, "a '{' without its '}' (write '{{' for a brace)"))
            break
        placeholder, problem = _placeholder(text[i + 1:close])
        if problem is not None:
            problems.append((i + 1, problem))
        elif placeholder is not None:
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(placeholder)
        i = close + 1
    if literal:
        parts.append("".join(literal))
    return parts, problems


def _placeholder(inside: str) -> tuple[Placeholder | None, str | None]:
    path_text, _, spec = inside.partition(":")
    head = _HEAD.match(path_text)
    if head is None:
        return None, f"expected a field name in braces, got {{{inside}}}"
    path: list[str | int] = [head.group()]
    pos = head.end()
    while pos < len(path_text):
        step = _STEP.match(path_text, pos)
        if step is None:
            return None, (f"expected '.name' or '[index]' after {path_text[:pos]!r}, got "
                          f"{path_text[pos:]!r}")
        if step.group(1) is not None:
            path.append(step.group(1))
        elif step.group(2) == "*":
            path.append("*")  # every item
        elif step.group(2) is not None:
            path.append(int(step.group(2)))
        else:  # [member=VALUE]: an integer now, an enum member once the checker resolves it
            value = step.group(4)
            path.append((step.group(3), int(value, 0) if value[0].isdigit() else value))
        pos = step.end()
    if spec and not _SPEC.fullmatch(spec):
        return None, (f"format {spec!r} is not an integer format (x, #06x, >5, b, o, d)")
    return (tuple(path), spec), None


class SummaryChecks:
    """The Checker's checks of ``summary`` statements (a mixin: the Checker holds the state
    and reports)."""

    def check_summary(self, member: ast.Summary, unit: Unit, scope: _Scope) -> None:
        """Check one summary rule once every field of the layer is known (a summary may name
        fields declared after it) and record it on the unit."""
        if member.keyword != "summary":
            self.error(member.pos, f"unknown statement {member.keyword!r}",
                       'a text after a word is a summary: summary "{field} ..." if cond;')
            return
        if unit.kind != "layer":
            self.error(member.pos, "only layers have a summary")
            return
        parts, problems = template_parts(member.template)
        for _offset, problem in problems:
            self.error(member.pos, f"in the summary text: {problem}")
        names = {cf.name for cf in unit.fields} | {
            m.name for m in unit.members if isinstance(m, ast.Let)}
        unknown = [str(p[0][0]) for p in parts if isinstance(p, tuple) and p[0][0] not in names]
        for name in unknown:
            if (id(unit), name) not in self.untyped:
                self.unknown(name, member.pos, "field", names)
        if unknown:
            return
        for i, part in enumerate(parts):
            if isinstance(part, tuple):
                checked = self.check_summary_path(part[0], unit, member)
                if checked is None:
                    problems.append((0, "bad path"))  # reported there
                    continue
                path, ftype = checked
                if part[1] and ftype is not None and ftype.kind not in ("int", "enum", "flags"):
                    self.error(member.pos, f"in the summary text: format {part[1]!r} is for "
                               f"integers, and {_shown(path)} is {ftype.written}")
                    problems.append((0, "bad format"))
                parts[i] = (path, part[1])
        if member.when is not None:
            self.check_condition(member.when, _Scope(
                unit=unit, params=scope.params, consts=self.consts, known=dict(scope.known)))
            for call in _calls(member.when):
                if call.func not in ("len", "min", "max"):
                    self.error(call.pos, f"{call.func}() is not available in a summary's "
                               "condition", "compare the layer's fields (len() of a field "
                               "works)")
                    problems.append((0, "bad condition"))
        if not problems:
            unit.summaries.append((tuple(parts), member.when))

    def check_summary_path(self, path: tuple, unit: Unit,
                           member: ast.Summary) -> tuple[tuple, FieldType | None] | None:
        """The steps after the field name, where the types say what they reach: a struct's
        member by name, a list's item by index or by a member's value (other steps, into
        switch or extern values, are looked up when the summary is made). Returns the path
        with each key's enum member resolved to its number and the type it reaches (None
        where unknown), or None after reporting."""
        cf = unit.field(str(path[0]))
        ftype = cf.ftype if cf is not None else None
        shown = str(path[0])
        out: list = [path[0]]
        for step in path[1:]:
            if isinstance(step, tuple):
                key = self.summary_key(step, ftype, shown, member)
                if key is None:
                    return None
                out.append(key)
                ftype = ftype.element if ftype is not None else None
                shown += f"[{step[0]}=...]"
                continue
            out.append(step)
            if ftype is None:
                continue
            if isinstance(step, int) or step == "*":
                if ftype.kind != "array":
                    self.error(member.pos, f"in the summary text: {shown} is not a list, so "
                               f"[{step}] reaches nothing")
                    return None
                ftype = ftype.element
                shown += f"[{step}]"
                continue
            struct = self.units.get(ftype.struct) if ftype.kind == "struct" else None
            if struct is None:
                if ftype.kind not in ("switch", "extern"):
                    self.error(member.pos, f"in the summary text: {shown} has no fields, so "
                               f".{step} reaches nothing")
                    return None
                ftype = None
                continue
            inner = struct.field(step)
            if inner is None:
                self.unknown(step, member.pos, "field", {f.name for f in struct.fields})
                return None
            ftype = inner.ftype
            shown += f".{step}"
        return tuple(out), ftype

    def summary_key(self, step: tuple[str, str | int], ftype, shown: str,
                    member: ast.Summary) -> tuple[str, int] | None:
        """``[code=DHCPOptionCode.MessageType]``: the list's items must be structs with that
        member; the value is an integer, or an enum member resolved to its number."""
        name, value = step
        if ftype is None or ftype.kind != "array" or ftype.element is None \
                or ftype.element.kind != "struct":
            self.error(member.pos, f"in the summary text: {shown} is not a list of structs, "
                       f"so [{name}=...] finds nothing")
            return None
        struct = self.units.get(ftype.element.struct)
        keyed = struct.field(name) if struct is not None else None
        if struct is not None and keyed is None:
            self.unknown(name, member.pos, "field", {f.name for f in struct.fields})
            return None
        if keyed is not None and keyed.ftype.kind not in ("int", "enum", "flags"):
            self.error(member.pos, f"in the summary text: [{name}=...] compares a number, but "
                       f"{name} is {keyed.ftype.written}")
            return None
        if isinstance(value, int):
            return name, value
        enum_name, _, item = value.partition(".")
        enum = self.enums.get(enum_name)
        number = dict(enum.items).get(item) if enum is not None else None
        if number is None:  # a name an `extend` gave the value
            number = next((b.value for b in self.bindings if b.table == enum_name
                           and b.name == item and b.value is not None), None)
        if number is None:
            self.unknown(value, member.pos, "enum member",
                         {f"{enum_name}.{n}" for n, _ in enum.items} if enum else set(self.enums))
            return None
        return name, number


def _calls(e: object) -> list[ast.Call]:
    """Every call in an expression tree."""
    found: list[ast.Call] = []
    stack = [e]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Call):
            found.append(node)
        if hasattr(node, "__dataclass_fields__"):
            for name in node.__dataclass_fields__:
                value = getattr(node, name)
                if isinstance(value, (list, tuple)):
                    stack.extend(value)
                elif hasattr(value, "__dataclass_fields__"):
                    stack.append(value)
    return found


def _shown(path: tuple) -> str:
    """A path as the summary text writes it."""
    steps = "".join(f"[{s}]" if isinstance(s, int) or s == "*" else f"[{s[0]}={s[1]}]"
                    if isinstance(s, tuple) else f".{s}" for s in path[1:])
    return f"{{{path[0]}{steps}}}"
