"""``pktspec doc LAYER``: a layer's header as an RFC-style bit diagram, from its .layer file.

    $ pktspec doc UDP
     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           src_port            |           dst_port            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |            length             |           checksum            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

How the diagram reads (the RFC conventions, and what pktspec adds to them):

- Fields are drawn in wire order, 32 bits a row, from the layer's ``fields_info``. A field
  that crosses a row boundary goes on in the next row, with the line between the rows open
  where the field goes on: its name is in the first part, and a later part that shares its
  row with other fields says ``name (cont.)``. A field of whole rows (an IPv6 address) is
  one open box with its name in the middle, as RFC 8200 draws it.
- A field whose size depends on the packet is drawn between slashes (``/ options /``), from
  where it starts to the end of that row; what follows it is drawn from the next row, and
  its columns count from the end of the variable part.
- A field marked ``?`` is present only under the condition its .layer line gives (the
  legend says which). The fields after a conditional field are not at one fixed offset: the
  diagram stops there, says where the next fields can start (``byte 8 or 9``) and draws them
  from a new row, whose columns count from that start.
- A run of bit fields in a little-endian layer is one little-endian integer (the first field
  in its most significant bits): it is drawn as that integer, most significant bit first,
  marked on the right, and a note below the diagram says which byte on the wire holds which
  bits.

The analysis (``analyse``) is shared with ``pktspec list``, which writes the same positions
as text.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pktspec.cli import UnknownLayer, find_layer

ROW = 32  # bits per diagram row, as in the RFCs
MAX_OFFSETS = 3  # "byte 4, 8 or 12"; more possible offsets are written "byte 4 or later"
_COND = re.compile(r"\bif\s+(?P<cond>.+?)\s*;\s*(#.*)?$")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|\d[\d_]*")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("doc", help="draw a layer's header as an RFC-style bit diagram",
                       description="Draw a layer's header as an RFC-style bit diagram, with "
                       "a legend of its fields. A field marked ? is present only under a "
                       "condition; the fields after one are drawn from a new row, under a "
                       "line that says where they can start. Little-endian bit-field words "
                       "are drawn as the integer they hold, with a note on their bytes.")
    p.add_argument("names", nargs="+", metavar="LAYER", help="layer names, in any case")
    p.add_argument("--layers", action="append", default=[], metavar="FILE.layer",
                   help="load layers from a .layer file first (repeatable)")
    p.set_defaults(run=run)


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
        return self.name + ("?" if self.cond is not None else "")

    @property
    def variable(self) -> bool:
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
            return {m.name: m for m in decl.members if isinstance(m, ast.Field)}
    return {}


@functools.lru_cache(maxsize=64)
def _parse(text: str, name: str) -> Any:
    """A .layer file parsed (once for all its layers), or None when it no longer parses."""
    from pktspec.grammar import parse

    try:
        return parse(text, name)
    except Exception:  # noqa: BLE001 - a file changed since it was loaded: do without
        return None


_PRECEDENCE = {"or": 1, "and": 2, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
               "|": 5, "^": 6, "&": 7, "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "//": 10,
               "/": 10, "%": 10}


def expr_text(e: Any, lines: list[str] | None = None) -> str:
    """An expression as the .layer language writes it (numbers as the file spells them)."""
    from pktspec.grammar import ast

    def prec(x: Any) -> int:
        if isinstance(x, ast.Cond):
            return 0
        if isinstance(x, ast.BinOp):
            return _PRECEDENCE.get(x.op, 4)
        if isinstance(x, ast.UnaryOp):
            return 3 if x.op == "not" else 11
        return 12

    def show(x: Any, least: int) -> str:
        text = walk(x)
        return f"({text})" if prec(x) < least else text

    def walk(x: Any) -> str:
        if isinstance(x, ast.IntLit):
            if lines is not None and 0 < x.pos.line <= len(lines):
                m = _NUMBER.match(lines[x.pos.line - 1], x.pos.column - 1)
                if m:
                    return m.group()
            return str(x.value)
        if isinstance(x, ast.StrLit):
            return '"' + x.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(x, ast.Name):
            return x.name
        if isinstance(x, ast.Attr):
            return f"{show(x.obj, 12)}.{x.name}"
        if isinstance(x, ast.Index):
            return f"{show(x.obj, 12)}[{walk(x.index)}]"
        if isinstance(x, ast.Call):
            return f"{x.func}({', '.join(walk(a) for a in x.args)})"
        if isinstance(x, ast.UnaryOp):
            if x.op == "not":
                return f"not {show(x.operand, 3)}"
            return f"{x.op}{show(x.operand, 11)}"
        if isinstance(x, ast.BinOp):
            p = prec(x)
            op = "/" if x.op == "//" else x.op
            left = p + 1 if p == 4 else p  # comparisons do not chain
            return f"{show(x.left, left)} {op} {show(x.right, p + 1)}"
        if isinstance(x, ast.Cond):
            return f"{show(x.test, 1)} ? {walk(x.then)} : {show(x.other, 0)}"
        return "?"  # pragma: no cover - every kind of expression is above

    return walk(e)


def condition(info: Any, lines: list[str] | None) -> str | None:
    """A field's condition from its .layer line, when the line ends with it (the fallback
    when the file does not parse)."""
    if lines is None or info.line is None or not 0 < info.line <= len(lines):
        return None
    m = _COND.search(lines[info.line - 1])
    return m["cond"] if m else None


# ---- where each field is ---------------------------------------------------------------------


def _shift(at: tuple[int, ...] | None, more: bool, bits: int,
           keep: bool = False) -> tuple[tuple[int, ...] | None, bool]:
    """Possible positions moved on by ``bits`` (and, with ``keep``, also left where they
    were: a conditional field may be absent). Only the smallest 16 are kept."""
    if at is None:
        return None, more
    moved = {a + bits for a in at} | (set(at) if keep else set())
    ordered = sorted(moved)
    return tuple(ordered[:16]), more or len(ordered) > 16


def _aligned(at: tuple[int, ...] | None, n: int) -> tuple[int, ...] | None:
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
            at, more = _shift(sec.at, sec.more, previous_start)
            at, more = _shift(at, more, rel - previous_start, keep=True)
            after = "condition"
        elif align is not None and rel and (sec.at is None or len(sec.at) > 1 or sec.more):
            at, more = _shift(sec.at, sec.more, rel)
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
            p.at, p.more = _shift(sec.at, sec.more, rel)
            sec.places.append(p)
            if p.width is None:
                break  # a variable part ends its section (the checker allows nothing else)
            rel += p.width
        _set_words(block, facts)
    return sections


def _pad(sec: Section, rel: int, target: int) -> int:
    if target > rel:
        pad = Place("padding", None, target - rel, None, start=rel, padding=True)
        pad.at, pad.more = _shift(sec.at, sec.more, rel)
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
    at, more = _shift(place.at, place.more, w.start - place.start)
    where = ""
    if at is not None and len(at) == 1 and not more and at[0] % 8 == 0:
        first = at[0] // 8
        where = f" at byte {first}" if w.size == 1 else f" at bytes {first}..{first + w.size}"
    elif at is not None:
        where = f" at {offsets_text(at, more)}"
    return f"the {order}{8 * w.size}-bit word{where}"


# ---- the diagram --------------------------------------------------------------------------


def _cont(place: Place, bits: int) -> str:
    """The label of a later part of a field: its name and "(cont.)", or what fits."""
    for text in (f"{place.label} (cont.)", "(cont.)"):
        if len(text) <= 2 * bits - 1:
            return text
    return f"{place.label} (cont.)"


def _fit(label: str, width: int) -> str:
    if len(label) <= width:
        return label.center(width)
    if width <= 1:
        return label[:width]
    return label[:width - 1] + "~"


def diagram(sections: list[Section]) -> tuple[list[str], list[str]]:
    """The diagram's lines, and the notes below it (little-endian words)."""
    if not any(s.places for s in sections):
        return ["(no fields: the layer has no header of its own)"], []
    rows: list[list[Place | None]] = []  # every row of every section
    first_row: dict[int, int] = {}  # section index -> its first row
    labels: dict[tuple[int, int], str] = {}  # (id(place), row) -> the text in that piece
    sep_labels: dict[int, tuple[Place, str]] = {}  # row above a separator -> its label
    for si, sec in enumerate(sections):
        if not sec.places:
            continue
        first_row[si] = len(rows)
        last = sec.places[-1]
        end = last.start + (last.width if last.width is not None else ROW - last.start % ROW)
        count = -(-end // ROW)
        cells: list[Place | None] = [None] * (count * ROW)
        for p in sec.places:
            width = p.width if p.width is not None else ROW - p.start % ROW
            for bit in range(p.start, p.start + width):
                cells[bit] = p
            row0, row1 = p.start // ROW, (p.start + width - 1) // ROW
            base = len(rows)
            if p.start % ROW == 0 and width % ROW == 0 and width >= 2 * ROW:
                n = width // ROW  # whole rows: one open box, its name in the middle
                if n % 2:
                    labels[(id(p), base + row0 + n // 2)] = p.label
                else:
                    sep_labels[base + row0 + n // 2 - 1] = (p, p.label)
            else:  # the name in the first part; "(cont.)" in a later part that shares its
                # row (a whole row is an open box under the part above, as in the RFCs),
                # and in the widest later part when the name does not fit the first
                pieces = [min(p.start + width, (r + 1) * ROW) - max(p.start, r * ROW)
                          for r in range(row0, row1 + 1)]
                labels[(id(p), base + row0)] = p.label
                for k in range(1, len(pieces)):
                    if pieces[k] < ROW:
                        labels[(id(p), base + row0 + k)] = _cont(p, pieces[k])
                if len(p.label) > 2 * pieces[0] - 1 and len(pieces) > 1:
                    k = max(range(1, len(pieces)), key=lambda i: pieces[i])
                    labels[(id(p), base + row0 + k)] = _cont(p, pieces[k])
        rows += [cells[r * ROW:(r + 1) * ROW] for r in range(count)]
    out = [" " + "".join(f"{i // 10 if i % 10 == 0 else ' '} " for i in range(ROW)).rstrip(),
           " " + " ".join(str(i % 10) for i in range(ROW))]
    blank: list[Place | None] = [None] * ROW
    starts = {row: si for si, row in first_row.items()}
    previous = blank
    for r, cells in enumerate(rows):
        si = starts.get(r)
        note = _section_note(sections[si]) if si is not None and r else None
        if note is not None:
            out.append(_separator(previous, blank))
            out.append(note)
            previous = blank
        out.append(_separator(previous, cells, sep_labels.get(r - 1)))
        out.append(_row_text(cells, r, labels) + _word_mark(cells))
        previous = cells
    out.append(_separator(previous, blank))
    return out, _word_notes(sections)


def _section_note(sec: Section) -> str | None:
    if sec.after != "condition":
        return None  # after a variable part: the slashes say it
    if sec.at is None:
        return "  (the fields below follow the ?-fields that are present: offsets vary)"
    return f"  (the fields below start at {offsets_text(sec.at, sec.more)}, by which ?-fields " \
        "are present)"


def _used(cells: list[Place | None]) -> int:
    """Bits of a row that hold a field (a last row may stop short)."""
    return max((i + 1 for i, c in enumerate(cells) if c is not None), default=0)


def _separator(above: list[Place | None], below: list[Place | None],
               label: tuple[Place, str] | None = None) -> str:
    """The line between two rows: ``-`` where a box ends, open where one field goes on
    (with ``+`` only at its edges, as the RFCs draw a long address)."""
    n = max(_used(above), _used(below))
    opened = [above[i] is not None and above[i] is below[i] for i in range(n)]
    out = []
    for i in range(n + 1):
        if 0 < i < n and opened[i - 1] and opened[i] and above[i - 1] is above[i]:
            out.append(" ")
        else:
            out.append("+")
        if i < n:
            out.append(" " if opened[i] else "-")
    text = "".join(out)
    if label is not None:
        place, name = label
        cols = [i for i in range(n) if above[i] is place]
        lo, hi = 2 * cols[0] + 1, 2 * cols[-1] + 2
        text = text[:lo] + _fit(name, hi - lo) + text[hi:]
    return text


def _row_text(cells: list[Place | None], r: int, labels: dict[tuple[int, int], str]) -> str:
    text = []
    bit = 0
    used = _used(cells)
    while bit < used:
        item = cells[bit]
        stop = bit
        while stop < used and cells[stop] is item:
            stop += 1
        edge = "/" if item is not None and item.variable else "|"
        label = labels.get((id(item), r), "") if item is not None else ""
        text.append(edge + _fit(label, 2 * (stop - bit) - 1))
        bit = stop
    last = cells[used - 1]
    return "".join(text) + ("/" if last is not None and last.variable else "|")


def _word_mark(cells: list[Place | None]) -> str:
    """On the right of a row holding a little-endian word: which bytes it is."""
    words: list[str] = []
    for p in cells:
        if p is not None and p.word is not None and p.word.little:
            text = word_text(p).removeprefix("the ")
            if text not in words:
                words.append(text)
    return "  <- " + "; ".join(words) if words else ""


def _word_notes(sections: list[Section]) -> list[str]:
    """Which byte of each little-endian word holds which bits."""
    seen: list[tuple[int, Word]] = []
    runs: list[list[Place]] = []
    for si, sec in enumerate(sections):
        for p in sec.places:
            if p.word is None or not p.word.little:
                continue
            if (si, p.word) in seen:
                runs[seen.index((si, p.word))].append(p)
            else:
                seen.append((si, p.word))
                runs.append([p])
    if not runs:
        return []
    out = textwrap.wrap(
        "A little-endian word is drawn as the integer it holds, most significant bit first "
        "(its first field in the high bits); on the wire its least significant byte comes "
        "first:", 79)
    for run in runs:
        word = run[0].word
        assert word is not None
        at, more = _shift(run[0].at, run[0].more, word.start - run[0].start)
        first = at[0] // 8 if at is not None and len(at) == 1 and not more else None
        parts = []
        for k in range(word.size):  # wire byte k holds the integer's bits 8k..8k+7
            lo = word.start + 8 * (word.size - 1 - k)  # where they are in the drawing
            held = []
            for p in run:
                a, b = max(p.start, lo), min(p.start + (p.width or 0), lo + 8)
                if a >= b:
                    continue
                if b - a == p.width:
                    held.append(p.label)
                elif a == p.start:
                    held.append(f"the high {b - a} bits of {p.label}")
                elif b == p.start + (p.width or 0):
                    held.append(f"the low {b - a} bits of {p.label}")
                else:  # counted in the value, as a reader masks it: bit 0 the lowest
                    w, s = p.width or 0, p.start
                    held.append(f"bits {w - (b - s)}..{w - 1 - (a - s)} of {p.label} "
                                "(bit 0 its lowest)")
            which = f"byte {first + k}" if first is not None else f"its byte {k}"
            parts.append(f"{which} holds " + ", then ".join(held))
        out += textwrap.wrap(f"{word_text(run[0]).removeprefix('the ')}: " + "; ".join(parts)
                             + ".", 79, initial_indent="  ", subsequent_indent="    ")
    return out


def legend(sections: list[Section]) -> list[str]:
    places = [p for s in sections for p in s.places if not p.padding]
    out = []
    width = max(len(p.name) for p in places)
    twidth = max(len(p.info.type_name) for p in places)
    for p in places:
        size = "variable" if p.width is None else f"{p.width} bit" + (
            "s" if p.width > 1 else "")
        notes = [p.info.doc] if p.info.doc else []
        if p.cond is not None:
            notes.append(f"present if {p.cond}" if p.cond else "present only sometimes")
        text = f"  {p.name:<{width}}  {p.info.type_name:<{twidth}}  {size:<9}"
        out.append((text + "  " + "; ".join(notes)).rstrip())
    return out


def render(cls: type, user_files: dict[str, Path] | None = None) -> str:
    sections = analyse(cls, user_files)
    doc = " ".join((cls.__doc__ or "").split())
    head = [f"{cls.name} ({cls.layer_class.name.lower()} layer, "
            f"{getattr(cls, 'source', None) or 'Python'})"]
    if doc:
        head += textwrap.wrap(doc, 79)
    body, notes = diagram(sections)
    tail = legend(sections) if any(s.places for s in sections) else []
    return "\n".join(head + [""] + body + ([""] + notes if notes else [])
                     + ([""] + tail if tail else []))


def run(args: argparse.Namespace) -> int:
    import pktspec

    user_files = {}
    for path in args.layers:
        pktspec.load(path)
        user_files[Path(path).name] = Path(path)
    for i, name in enumerate(args.names):
        try:
            cls = find_layer(name)
        except UnknownLayer as exc:
            print(f"pktspec doc: {exc}", file=sys.stderr)
            return 1
        if i:
            print()
        print(render(cls, user_files))
    return 0
