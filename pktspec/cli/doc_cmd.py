"""``pktspec doc LAYER``: a layer's header as an RFC-style bit diagram, from its .layer file.

    $ pktspec doc UDP
     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           src_port            |           dst_port            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |            length             |           checksum            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Fields are laid out in wire order from the layer's ``fields_info`` (widths in bits); a field
whose size depends on the packet is a row between slashes. A field marked ``?`` is present
only under the condition its .layer line gives (read from the file when it can be found);
the legend below the diagram lists every field with its type and doc comment.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pktspec.cli import UnknownLayer, find_layer

ROW = 32  # bits per diagram row, as in the RFCs
_COND = re.compile(r"\bif\s+(?P<cond>.+?)\s*;\s*(#.*)?$")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("doc", help="draw a layer's header as an RFC-style bit diagram",
                       description="Draw a layer's header as an RFC-style bit diagram, with "
                       "a legend of its fields.")
    p.add_argument("names", nargs="+", metavar="LAYER", help="layer names, in any case")
    p.add_argument("--layers", action="append", default=[], metavar="FILE.layer",
                   help="load layers from a .layer file first (repeatable)")
    p.set_defaults(run=run)


@dataclass
class Item:
    """One field placed in the diagram: start bit (from the layer start) and width, or a
    variable part (width None)."""

    name: str
    start: int
    width: int | None
    cond: str | None
    info: Any


def source_lines(cls: type, user_files: dict[str, Path]) -> list[str] | None:
    """The lines of the .layer file a layer came from, when the file can be found."""
    source = getattr(cls, "source", None)
    if not source:
        return None
    if source.startswith("protocols/"):
        import pktspec.protocols

        path = Path(pktspec.protocols.__file__).parent / source.removeprefix("protocols/")
    else:
        path = user_files.get(Path(source).name, Path(source))
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None


def condition(info: Any, lines: list[str] | None) -> str | None:
    if lines is None or info.line is None or not 0 < info.line <= len(lines):
        return None
    m = _COND.search(lines[info.line - 1])
    return m["cond"] if m else None


def layout(cls: type, lines: list[str] | None) -> list[Item]:
    items: list[Item] = []
    cursor = 0
    for info in cls.fields_info:
        if info.kind == "let":
            continue
        cond = condition(info, lines)
        if info.bits is None:  # variable: a row of its own, starting on a row boundary
            cursor = -(-cursor // ROW) * ROW
            items.append(Item(info.name, cursor, None, cond, info))
            cursor += ROW
            continue
        items.append(Item(info.name, cursor, info.bits, cond, info))
        cursor += info.bits
    return items


def _owner_map(items: list[Item], total: int) -> list[Item | None]:
    """For every bit, the item that covers it (None where nothing does)."""
    owner: list[Item | None] = [None] * total
    for item in items:
        width = item.width if item.width is not None else ROW
        for bit in range(item.start, min(item.start + width, total)):
            owner[bit] = item
    return owner


def _label(item: Item) -> str:
    return item.name + ("?" if item.cond else "")


def _used(cells: list[Item | None]) -> int:
    """Bits of a row that hold a field (a last row may stop short)."""
    return max((i + 1 for i, c in enumerate(cells) if c is not None), default=0)


def _separator(above: list[Item | None], below: list[Item | None]) -> str:
    out = []
    for a, b in list(zip(above, below, strict=True))[:max(_used(above), _used(below))]:
        out.append("+" + ("-" if a is not b or a is None else " "))
    return "".join(out) + "+"


def diagram(items: list[Item]) -> list[str]:
    if not items:
        return ["(no fields: the layer has no header of its own)"]
    end = max(i.start + (i.width if i.width is not None else ROW) for i in items)
    rows = -(-end // ROW)
    owner = _owner_map(items, rows * ROW)
    # the row where each item's label goes: the one holding most of its bits
    label_row: dict[int, int] = {}
    for item in items:
        counts: dict[int, int] = {}
        for bit, o in enumerate(owner):
            if o is item:
                counts[bit // ROW] = counts.get(bit // ROW, 0) + 1
        if counts:  # most bits; among equals (a long address) the middle row
            most = max(counts.values())
            tied = sorted(r for r, n in counts.items() if n == most)
            label_row[id(item)] = tied[len(tied) // 2]
    out = [" " + "".join(f"{i // 10 if i % 10 == 0 else ' '} " for i in range(ROW)).rstrip(),
           " " + " ".join(str(i % 10) for i in range(ROW))]
    blank: list[Item | None] = [None] * ROW
    previous = blank
    for r in range(rows):
        cells = owner[r * ROW:(r + 1) * ROW]
        out.append(_separator(previous, cells))
        out.append(_row_text(cells, r, label_row))
        previous = cells
    out.append(_separator(previous, blank))
    return out


def _row_text(cells: list[Item | None], r: int, label_row: dict[int, int]) -> str:
    text = []
    bit = 0
    used = _used(cells)
    while bit < used:
        item = cells[bit]
        stop = bit
        while stop < used and cells[stop] is item:
            stop += 1
        width = 2 * (stop - bit) - 1
        variable = item is not None and item.width is None
        edge = "/" if variable else "|"
        label = _label(item) if item is not None and label_row.get(id(item)) == r else ""
        if len(label) > width:
            label = label[:max(width - 1, 1)] + "~" if width > 1 else label[:width]
        text.append(edge + label.center(width))
        bit = stop
    last = cells[used - 1]
    return "".join(text) + ("/" if last is not None and last.width is None else "|")


def legend(items: list[Item]) -> list[str]:
    out = []
    width = max(len(i.name) for i in items)
    twidth = max(len(i.info.type_name) for i in items)
    for item in items:
        size = "variable" if item.width is None else f"{item.width} bit" + (
            "s" if item.width > 1 else "")
        notes = [item.info.doc] if item.info.doc else []
        if item.cond:
            notes.append(f"present if {item.cond}")
        text = f"  {item.name:<{width}}  {item.info.type_name:<{twidth}}  {size:<9}"
        out.append((text + "  " + "; ".join(notes)).rstrip())
    return out


def render(cls: type, user_files: dict[str, Path] | None = None) -> str:
    lines = source_lines(cls, user_files or {})
    items = layout(cls, lines)
    doc = " ".join((cls.__doc__ or "").split())
    head = [f"{cls.name} ({cls.layer_class.name.lower()} layer, "
            f"{getattr(cls, 'source', None) or 'Python'})"]
    if doc:
        head += textwrap.wrap(doc, 79)
    body = diagram(items)
    tail = legend(items) if items else []
    return "\n".join(head + [""] + body + ([""] + tail if tail else []))


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
