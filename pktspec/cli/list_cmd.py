"""``pktspec list``: the layers the registry knows, their fields, and how the chain reaches them.

    pktspec list                    every layer: class, source, what binds to it
    pktspec list IPv4 TCP           their fields (type, position, doc) and bindings
    pktspec list --tables           every dispatch table and its entries
    pktspec list --json             the same, for programs

Bindings come from the registry (``extend EtherType { 0x0800 -> IPv4 }`` in a .layer file, or
``bind`` in Python), so layers loaded with ``--layers x.layer`` are listed with the built-in
ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pktspec.cli import UnknownLayer, find_layer
from pktspec.cli.field_layout import Place, analyse, offsets_text, word_text
from pktspec.runtime import fastpath
from pktspec.runtime.layer import FieldInfo
from pktspec.runtime.summary import rule_text
from pktspec.runtime.values import OpenEnum


def add_parser(sub: Any) -> None:
    p = sub.add_parser("list", help="list layers, their fields and bindings",
                       description="List the registered layers (built-in and loaded), their "
                       "fields and the dispatch-table entries that lead to them.")
    p.add_argument("names", nargs="*", metavar="LAYER",
                   help="show these layers in detail (names in any case)")
    p.add_argument("--layers", action="append", default=[], metavar="FILE.layer",
                   help="load layers from a .layer file first (repeatable)")
    p.add_argument("--tables", action="store_true", help="list the dispatch tables instead")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)


def enum_named(name: str) -> type[OpenEnum] | None:
    """The enum class a dispatch table is named after, found through the layers' fields or
    the loaded protocol modules (None when no loaded module declares it)."""
    from pktspec.runtime.registry import REGISTRY

    for cls in REGISTRY.layers():
        for info in cls.fields_info:
            if info.enum is not None and info.enum.__name__ == name:
                return info.enum
    for module_name, module in list(sys.modules.items()):
        if module_name.startswith(("pktspec.protocols.", "pktspec.user.")):
            found = getattr(module, name, None)
            if isinstance(found, type) and issubclass(found, OpenEnum):
                return found
    return None


def value_text(table: str, value: Any) -> str:
    """``IPv4 = 2048 (0x0800)``: the enum's name for a value when it has one, the number."""
    enum = enum_named(table)
    name = enum.name_of(value) if enum is not None and isinstance(value, int) else None
    number = f"{value} ({value:#06x})" if isinstance(value, int) and value > 0xFF else str(value)
    return f"{name} = {number}" if name else number


def reached_from(cls: type) -> list[dict[str, Any]]:
    """Every binding that leads to cls: table, value, source, priority, active or shadowed."""
    from pktspec.runtime.registry import REGISTRY

    out = []
    for tname, table in REGISTRY.tables().items():
        for b in table.bindings():
            if b.cls is cls:
                out.append({"table": tname, "value": b.value, "source": b.source,
                            "priority": b.priority, "active": table.get(b.value) is cls})
        for priority, _predicate, target in table.heuristics:
            if target is cls:
                out.append({"table": tname, "value": "heuristic", "source": None,
                            "priority": priority, "active": True})
    return out


def _bytes_at(first: int, size: int) -> str:
    # byte ranges as -V writes them: the end is exclusive, like a Python slice
    return f"byte {first}" if size == 1 else f"bytes {first}..{first + size}"


def position(info: FieldInfo, place: Place | None = None, trailer: bool = False) -> str:
    """Where a field is, in words: ``bytes 4..6``, ``bits 12..31 of bytes 0..4``, ``bits
    0..11 of the little-endian 16-bit word at bytes 22..24``, ``4 bytes at byte 8 or 9``.
    ``place`` (from ``field_layout.analyse``) adds what the FieldInfo alone does not say: the
    byte order of a bit field's word, whether the field is conditional, and where a field
    after a conditional one can be."""
    text = _position(info, place) if not trailer else \
        _trailer_position(info)
    if place is not None and place.cond is not None:
        text += ", if present"
    return text


def _trailer_position(info: FieldInfo) -> str:
    size = (info.bits or 0) // 8
    return f"{size} byte{'s' if size != 1 else ''} after the payload (trailer)"


def _position(info: FieldInfo, place: Place | None) -> str:
    if place is not None and place.word is not None and info.bits is not None:
        first = place.start - place.word.start
        last = first + info.bits - 1
        span = f"bit {first}" if last == first else f"bits {first}..{last}"
        at, more = place.at, place.more
        if not place.word.little and at is not None and len(at) == 1 and not more:
            return f"{span} of {_bytes_at((at[0] - first) // 8, place.word.size)}"
        if at is None and not place.word.little:
            return f"{span} of {place.word.size} byte{'s' if place.word.size > 1 else ''}, " \
                "after a variable part"
        return f"{span} of {word_text(place)}"
    if info.kind == "let":
        return "computed, not on the wire"
    if place is not None and place.at is not None and (info.offset is None or info.bits is None):
        fixed = len(place.at) == 1 and not place.more and place.at[0] % 8 == 0
        if fixed and info.bits is not None and info.bits % 8 == 0:
            return _bytes_at(place.at[0] // 8, info.bits // 8)
        where = offsets_text(place.at, place.more)
        if info.bits is None:
            return f"variable, from {where}"
        size = f"{info.bits // 8} byte{'s' if info.bits > 8 else ''}" if info.bits % 8 == 0 \
            else f"{info.bits} bits"
        return f"{size} at {where}"
    if info.offset is None:
        return "variable" if info.bits is None else f"{info.bits} bits, after a variable part"
    if info.bits is not None and info.size is not None and info.bits != 8 * info.size:
        where = _bytes_at(info.offset, info.size)
        if info.bit is None:
            return f"{info.bits} bit{'s' if info.bits > 1 else ''} of {where}"
        last = info.bit + info.bits - 1
        span = f"bit {info.bit}" if last == info.bit else f"bits {info.bit}..{last}"
        return f"{span} of {where}"
    return _bytes_at(info.offset, info.size or 1)


def places_of(cls: type, user_files: dict[str, Path] | None = None) -> dict[str, Place]:
    """Every field's place (see field_layout.analyse), by name."""
    return {p.name: p for s in analyse(cls, user_files) for p in s.places if not p.padding}


def layer_record(cls: type, user_files: dict[str, Path] | None = None) -> dict[str, Any]:
    places = places_of(cls, user_files)
    trailer_format = getattr(cls, "TRAILER", None)
    trailer = {sc.name for sc in trailer_format.subcons} if trailer_format is not None else set()
    fields = []
    for i in cls.fields_info:
        place = places.get(i.name)
        word = place.word if place is not None else None
        fields.append({
            "name": i.name, "type": i.type_name, "kind": i.kind,
            "position": position(i, place, i.name in trailer), "offset": i.offset,
            "bit": i.bit,
            "bits": i.bits, "line": i.line, "doc": i.doc,
            # present only when this holds (a .layer expression; "" when not known)
            "condition": place.cond if place is not None else None,
            # the byte offsets the field can start at, when it has no fixed one
            "offsets": None if place is None or place.at is None or i.offset is not None
            or len(place.at) == 1 or place.more or any(a % 8 for a in place.at)
            else [a // 8 for a in place.at],
            "word_order": None if word is None else ("little" if word.little else "big")})
    return {
        "name": cls.name,
        "class": cls.layer_class.name.lower(),
        "source": getattr(cls, "source", None),
        "doc": (cls.__doc__ or "").strip(),
        "fields": fields,
        "reached_from": reached_from(cls),
        # `summary "..." if cond;` rules as written, in the order they are tried
        "summary": [rule_text(rule) for rule in getattr(cls, "SUMMARY", ())],
        # compiled / interpreted / python (why): runtime/fastpath.py
        "decoder": fastpath.decoder_of(cls),
    }


def _binding_text(b: dict[str, Any]) -> str:
    where = f" ({b['source']})" if b["source"] else ""
    shadow = "" if b["active"] else " [shadowed by a higher priority]"
    if b["value"] == "heuristic":
        return f"{b['table']} heuristic, priority {b['priority']}"
    return f"{b['table']} {value_text(b['table'], b['value'])}{where}{shadow}"


def print_summary(layers: list[type]) -> None:
    print(f"{'LAYER':<30} {'CLASS':<12} {'SOURCE':<28} REACHED FROM")
    for cls in layers:
        froms = ", ".join(f"{b['table']} {value_text(b['table'], b['value'])}"
                          if b["value"] != "heuristic" else f"{b['table']} heuristic"
                          for b in reached_from(cls) if b["active"])
        source = getattr(cls, "source", None) or "(python)"
        print(f"{cls.name:<30} {cls.layer_class.name.lower():<12} {source:<28} "
              f"{froms or '-'}")


def print_detail(cls: type, user_files: dict[str, Path] | None = None) -> None:
    rec = layer_record(cls, user_files)
    print(f"{rec['name']} ({rec['class']} layer, {rec['source'] or 'Python'})")
    if rec["doc"]:
        for line in rec["doc"].splitlines():
            print(f"  {line}")
    print("  fields:")
    width = max((len(f["name"]) for f in rec["fields"]), default=4)
    twidth = max((len(f["type"]) for f in rec["fields"]), default=4)
    for f in rec["fields"]:
        row = f"    {f['name']:<{width}}  {f['type']:<{twidth}}  {f['position']}"
        doc = [line.strip() for line in (f["doc"] or "").splitlines()]
        print(f"{row}  {doc[0]}" if doc else row)
        for line in doc[1:]:  # a multi-line doc continues in its own column
            print(" " * (len(row) + 2) + line)
    print("  reached from:")
    for b in rec["reached_from"] or [None]:
        print("    " + (_binding_text(b) if b else "- (only as a first layer, or by name)"))
    if rec["summary"]:
        print("  summary (the first that applies):")
        for rule in rec["summary"]:
            print(f"    {rule}")
    print(f"  decoder: {rec['decoder']}")


def print_tables() -> None:
    from pktspec.runtime.registry import REGISTRY

    for name, table in REGISTRY.tables().items():
        if not table and not table.heuristics:
            continue  # an enum that names values but dispatches nothing
        entries = sorted(table.items(), key=lambda kv: kv[0])
        print(f"{name} ({len(entries)} entries, {len(table.heuristics)} heuristics)")
        for value, cls in entries:
            print(f"    {value_text(name, value):<36} -> {cls.name}")
        for priority, _predicate, cls in table.heuristics:
            print(f"    {'heuristic, priority ' + str(priority):<36} -> {cls.name}")


def run(args: argparse.Namespace) -> int:
    import pktspec
    from pktspec.runtime.registry import REGISTRY

    user_files = {}
    for path in args.layers:
        pktspec.load(path)
        user_files[Path(path).name] = Path(path)
    if args.tables:
        if args.json:
            print(json.dumps({name: [{"value": v, "layer": c.name} for v, c in t.items()]
                              for name, t in REGISTRY.tables().items()}, indent=2))
        else:
            print_tables()
        return 0
    try:
        layers = [find_layer(n) for n in args.names] if args.names else REGISTRY.layers()
    except UnknownLayer as exc:
        print(f"pktspec list: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([layer_record(c, user_files) for c in layers], indent=2,
                         default=str))
    elif args.names:
        for i, cls in enumerate(layers):
            if i:
                print()
            print_detail(cls, user_files)
    else:
        print_summary(layers)
    return 0
