"""Where each field of a layer is: the analysis behind ``pktspec doc`` and ``pktspec list``.

A layer's ``fields_info`` gives every field's size and, while the offset is fixed, its
offset. What it does not say comes from the .layer file (each field's condition, as the file
writes it, and its ``align``) and from the layer's FORMAT (which bit fields are read as one
integer, and in which byte order). :func:`analyse` puts them together: the fields in
*sections*, each drawn from a known start (the layer's, the end of a variable part, or
wherever the conditional fields before it leave the cursor), every field with its
:class:`Place`: its bits from the section's start, the possible offsets from the layer's
start, its condition and the little-endian word a bit field is read from.

``pktspec doc`` (doc_cmd) draws the sections as an RFC-style diagram; ``pktspec list``
(list_cmd) writes each place as text with :func:`offsets_text` and :func:`word_text`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Place", "Section", "Word", "analyse", "condition", "expr_text", "offsets_text",
           "shift_at", "source_lines", "word_text"]

MAX_OFFSETS = 3  # "byte 4, 8 or 12"; more possible offsets are written "byte 4 or later"
_COND = re.compile(r"\bif\s+(?P<cond>.+?)\s*;\s*(#.*)?$")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|\d[\d_]*")


# ---- what the layer says about each field ---------------------------------------------------


@dataclass(frozen=True)
class Word:
    """The bytes a run of bit fields is read from, as one integer: ``size`` bytes, ``little``
    endian or not, at bit ``start`` of its section (see Place)."""

    size: int
    little: bool
    start: int


@dataclass
class Place:
    """Where one field is. ``section`` numbers the parts of the diagram that are drawn from a
    known start (0: the layer's start); ``start`` is the field's first bit from its section's
    start and ``width`` its bits (None: the size depends on the packet). ``at`` holds the
    possible first bits of the field from the layer's start (one when the offset is fixed;
    None when a variable part comes before); ``more`` says that ``at`` holds only the smallest
    of many. ``cond`` is the condition text of a field present only sometimes ("" when the
    condition is not known), None for a field always there. ``word`` is the integer a bit
    field is read from."""

    name: str
    info: Any
    width: int | None
    cond: str | None
    section: int = 0
    start: int = 0
    at: tuple[int, ...] | None = (0,)
    more: bool = False
    word: Word | None = None
    padding: bool = False

    @property
    def label(self) -> str:
        """The name as the diagram writes it: ``name?`` for a conditional field."""
        return self.name + ("?" if self.cond is not None else "")

    @property
    def variable(self) -> bool:
        """True when the field's size depends on the packet."""
        return self.width is None


@dataclass
class Section:
    """Fields drawn from one start: the layer's (section 0), or the end of a variable part
    (``after`` "variable"), or wherever the conditional fields before put it ("condition")."""

    places: list[Place] = field(default_factory=list)
    after: str | None = None
    at: tuple[int, ...] | None = (0,)
    more: bool = False


@dataclass(frozen=True)
class _Fact:
    """What FORMAT says of one field (see _format_facts)."""

    conditional: bool
    chunk: str | None  # the FORMAT name of the bit-field chunk the field is in
    little: bool


def _format_facts(cls: type) -> dict[str, _Fact]:
    """What the layer's FORMAT (the construct Struct the builder uses) says of each field:
    whether it is conditional, and for a bit field the chunk it is read from and its byte
    order. Empty for a layer without a FORMAT (written in Python)."""
    try:
        import construct as c
    except ImportError:  # pragma: no cover - construct is a dependency
        return {}
    facts: dict[str, _Fact] = {}
    chunk: tuple[str, bool, bool] | None = None
    for sc in getattr(getattr(cls, "FORMAT", None), "subcons", None) or ():
        name = getattr(sc, "name", None)
        if name is None:
            continue  # a Check
        inner = getattr(sc, "subcon", sc)
        conditional = isinstance(inner, c.IfThenElse)
        if conditional:
            inner = inner.thensubcon
        if name.startswith("_bits") and isinstance(inner, c.Rebuild):
            number = inner.subcon
            little = str(getattr(number, "fmtstr", ">")).startswith("<") or \
                getattr(number, "swapped", False) is True
            chunk = (name, conditional, little)
            continue
        if isinstance(inner, c.Computed) and chunk is not None:
            facts[name] = _Fact(chunk[1], chunk[0], chunk[2])
            continue
        chunk = None
        facts[name] = _Fact(conditional, None, False)
    return facts


def source_lines(cls: type, user_files: dict[str, Path]) -> list[str] | None:
    """The lines of the .layer file a layer came from, when the file can be found."""
    text = _source_text(cls, user_files)
    return None if text is None else text.splitlines()


def _source_text(cls: type, user_files: dict[str, Path]) -> str | None:
    """The text of the .layer file a layer came from: a built-in one from the package, a
    user's from ``user_files`` (by file name, as ``--layers`` gave it) or its recorded path;
    None when there is no file or it cannot be read."""
    source = getattr(cls, "source", None)
    if not source:
        return None
    if source.startswith("protocols/"):
        import pktspec.protocols

        path = Path(pktspec.protocols.__file__).parent / source.removeprefix("protocols/")
    else:
        path = user_files.get(Path(source).name, Path(source))
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _ast_fields(cls: type, text: str | None) -> dict[str, Any]:
    """The layer's fields in the parsed .layer file, by name ({} when it cannot be read)."""
    if text is None:
        return {}
    from pktspec.grammar import ast

    module = _parse(text, getattr(cls, "source", None) or "<layer>")
    if module is None:
        return {}
    names = {cls.name, cls.__name__}
    for decl in module.decls:
        if isinstance(decl, ast.Layer) and decl.name in names:
            fields = [m for m in decl.members if isinstance(m, ast.Field)]
            fields += [f for m in decl.members if isinstance(m, ast.Trailer) for f in m.fields]
            return {f.name: f for f in fields}
    return {}


@functools.lru_cache(maxsize=64)
def _parse(text: str, name: str) -> Any:
    """A .layer file parsed (once for all its layers), or None when it no longer parses."""
    from pktspec.grammar import parse

    try:
        return parse(text, name)
    except Exception:  # noqa: BLE001 - a file changed since it was loaded: do without
        return None


def expr_text(e: Any, lines: list[str] | None = None) -> str:
    """An expression as the .layer language writes it: numbers as the file spells them
    (0x88b5 stays hex), strings in the language's double quotes."""
    from pktspec.generator.pyexpr import expr_text as text_of
    from pktspec.grammar import ast

    def spell(x: Any) -> str | None:
        if isinstance(x, ast.StrLit):
            return '"' + x.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if lines is not None and 0 < x.pos.line <= len(lines):
            m = _NUMBER.match(lines[x.pos.line - 1], x.pos.column - 1)
            if m:
                return m.group()
        return None

    return text_of(e, spell=spell)


def condition(info: Any, lines: list[str] | None) -> str | None:
    """A field's condition from its .layer line, when the line ends with it (the fallback
    when the file does not parse)."""
    if lines is None or info.line is None or not 0 < info.line <= len(lines):
        return None
    m = _COND.search(lines[info.line - 1])
    return m["cond"] if m else None


# ---- where each field is ---------------------------------------------------------------------


def shift_at(at: tuple[int, ...] | None, more: bool, bits: int,
           keep: bool = False) -> tuple[tuple[int, ...] | None, bool]:
    """Possible positions moved on by ``bits`` (and, with ``keep``, also left where they
    were: a conditional field may be absent). Only the smallest 16 are kept."""
    if at is None:
        return None, more
    moved = {a + bits for a in at} | (set(at) if keep else set())
    ordered = sorted(moved)
    return tuple(ordered[:16]), more or len(ordered) > 16


def _aligned(at: tuple[int, ...] | None, n: int) -> tuple[int, ...] | None:
    """Possible positions (bits) each moved up to the next multiple of n bytes."""
    if at is None:
        return None
    step = 8 * n
    return tuple(sorted({-(-a // step) * step for a in at}))


def analyse(cls: type, user_files: dict[str, Path] | None = None) -> list[Section]:
    """The layer's fields in sections, each field with its place (see Place and Section)."""
    text = _source_text(cls, user_files or {})
    lines = None if text is None else text.splitlines()
    nodes = _ast_fields(cls, text)
    facts = _format_facts(cls)
    places: list[Place] = []
    for info in cls.fields_info:
        if info.kind == "let":
            continue
        node = nodes.get(info.name)
        fact = facts.get(info.name)
        cond: str | None = None
        if node is not None and node.cond is not None:
            cond = expr_text(node.cond, lines)
        elif node is None and fact is not None and fact.conditional:
            cond = condition(info, lines) or ""
        places.append(Place(info.name, info, info.bits, cond))
    # blocks: runs of fields under one condition; a chunk of bit fields is never split
    blocks: list[list[Place]] = []
    chunk_of = {p.name: (facts[p.name].chunk if p.name in facts else None) for p in places}
    for p in places:
        prev = blocks[-1][-1] if blocks else None
        same_chunk = prev is not None and chunk_of[p.name] is not None and \
            chunk_of[p.name] == chunk_of[prev.name]
        align = getattr(nodes.get(p.name), "align", None)
        if prev is not None and (same_chunk or (
                not prev.variable and prev.cond is not None and p.cond == prev.cond
                and p.cond != "" and align is None)):
            blocks[-1].append(p)
        else:
            blocks.append([p])

    sections = [Section()]
    rel = 0  # the cursor, in bits from the current section's start
    previous: list[Place] | None = None  # the block before, and where it started
    previous_start = 0
    for block in blocks:
        sec = sections[-1]
        align = getattr(nodes.get(block[0].name), "align", None)
        after = None
        if previous is not None and previous[-1].variable:
            after, at, more = "variable", None, sec.more
        elif previous is not None and previous[-1].cond is not None:
            # the block before is there or not: this one starts after it, or where it did
            at, more = shift_at(sec.at, sec.more, previous_start)
            at, more = shift_at(at, more, rel - previous_start, keep=True)
            after = "condition"
        elif align is not None and rel and (sec.at is None or len(sec.at) > 1 or sec.more):
            at, more = shift_at(sec.at, sec.more, rel)
            after = "condition"  # aligned from a start that varies: a start of its own
        if after is not None:
            sec = Section(after=after, at=at, more=more)
            sections.append(sec)
            rel = 0
        previous, previous_start = block, rel  # (a condition's padding goes with it)
        if align is not None:
            if rel == 0:
                sec.at = _aligned(sec.at, align[0])
            elif sec.at is not None:
                step = 8 * align[0]
                rel = _pad(sec, rel, -(-(sec.at[0] + rel) // step) * step - sec.at[0])
        for p in block:
            info = p.info
            if sec.at is not None and len(sec.at) == 1 and not sec.more and \
                    info.offset is not None:
                rel = _pad(sec, rel, 8 * info.offset + (info.bit or 0) - sec.at[0])
            p.section = len(sections) - 1
            p.start = rel
            p.at, p.more = shift_at(sec.at, sec.more, rel)
            sec.places.append(p)
            if p.width is None:
                break  # a variable part ends its section (the checker allows nothing else)
            rel += p.width
        _set_words(block, facts)
    return sections


def _pad(sec: Section, rel: int, target: int) -> int:
    """Move the cursor rel of sec on to target (bits), adding a padding Place for the gap;
    returns the new cursor (rel when target is not after it)."""
    if target > rel:
        pad = Place("padding", None, target - rel, None, start=rel, padding=True)
        pad.at, pad.more = shift_at(sec.at, sec.more, rel)
        sec.places.append(pad)
    return max(rel, target)


def _set_words(block: list[Place], facts: dict[str, _Fact]) -> None:
    """The integer each run of bit fields is read from (its size from the FieldInfo)."""
    i = 0
    while i < len(block):
        p = block[i]
        fact = facts.get(p.name)
        chunk = fact.chunk if fact is not None else None
        if chunk is None:
            i += 1
            continue
        run = [p]
        while i + 1 < len(block) and (f := facts.get(block[i + 1].name)) is not None and \
                f.chunk == chunk:
            i += 1
            run.append(block[i])
        size = p.info.size or sum(q.width or 0 for q in run) // 8
        word = Word(size, fact.little and size > 1, p.start - (p.info.bit or 0))
        for q in run:
            q.word = word
        i += 1


def offsets_text(at: tuple[int, ...] | None, more: bool) -> str:
    """``byte 8``, ``byte 8 or 9``, ``byte 4, 8 or 12``, ``byte 4 or later``."""
    if not at:
        return "a variable offset"
    if any(a % 8 for a in at):
        unit, values = "bit", list(at)
    else:
        unit, values = "byte", [a // 8 for a in at]
    if more or len(values) > MAX_OFFSETS:
        return f"{unit} {values[0]} or later"
    if len(values) == 1:
        return f"{unit} {values[0]}"
    return f"{unit} {', '.join(map(str, values[:-1]))} or {values[-1]}"


def word_text(place: Place) -> str:
    """``the little-endian 16-bit word at bytes 22..24`` (where the word's place is known)."""
    w = place.word
    assert w is not None
    order = "little-endian " if w.little else ""
    at, more = shift_at(place.at, place.more, w.start - place.start)
    where = ""
    if at is not None and len(at) == 1 and not more and at[0] % 8 == 0:
        first = at[0] // 8
        where = f" at byte {first}" if w.size == 1 else f" at bytes {first}..{first + w.size}"
    elif at is not None:
        where = f" at {offsets_text(at, more)}"
    return f"the {order}{8 * w.size}-bit word{where}"
