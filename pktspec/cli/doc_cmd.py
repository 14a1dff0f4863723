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

Where each field is (``analyse``) is worked out in :mod:`pktspec.cli.field_layout`, which
``pktspec list`` shares to write the same positions as text; this module draws it.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any

from pktspec.cli import UnknownLayer, find_layer
from pktspec.cli.field_layout import (
    Place,
    Section,
    Word,
    analyse,
    offsets_text,
    shift_at,
    word_text,
)

ROW = 32  # bits per diagram row, as in the RFCs


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
        at, more = shift_at(run[0].at, run[0].more, word.start - run[0].start)
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
        notes = [" ".join(p.info.doc.split())] if p.info.doc else []  # one line of text
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
