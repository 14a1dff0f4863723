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
from typing import Any

from pktspec.cli import UnknownLayer, find_layer
from pktspec.runtime.layer import FieldInfo
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


def position(info: FieldInfo) -> str:
    if info.offset is None:
        return "variable" if info.bits is None else f"{info.bits} bits, after a variable part"
    # byte ranges as -V writes them: the end is exclusive, like a Python slice
    if info.bits is not None and info.size is not None and info.bits != 8 * info.size:
        where = f"byte {info.offset}" if info.size == 1 else \
            f"bytes {info.offset}..{info.offset + info.size}"
        if info.bit is None:
            return f"{info.bits} bit{'s' if info.bits > 1 else ''} of {where}"
        last = info.bit + info.bits - 1
        span = f"bit {info.bit}" if last == info.bit else f"bits {info.bit}..{last}"
        return f"{span} of {where}"
    if (info.size or 1) == 1:
        return f"byte {info.offset}"
    return f"bytes {info.offset}..{info.offset + info.size}"


def layer_record(cls: type) -> dict[str, Any]:
    return {
        "name": cls.name,
        "class": cls.layer_class.name.lower(),
        "source": getattr(cls, "source", None),
        "doc": (cls.__doc__ or "").strip(),
        "fields": [{"name": i.name, "type": i.type_name, "kind": i.kind,
                    "position": position(i), "offset": i.offset, "bit": i.bit,
                    "bits": i.bits, "line": i.line, "doc": i.doc}
                   for i in cls.fields_info],
        "reached_from": reached_from(cls),
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
        rec = layer_record(cls)
        froms = ", ".join(f"{b['table']} {value_text(b['table'], b['value'])}"
                          if b["value"] != "heuristic" else f"{b['table']} heuristic"
                          for b in rec["reached_from"] if b["active"])
        print(f"{rec['name']:<30} {rec['class']:<12} {rec['source'] or '(python)':<28} "
              f"{froms or '-'}")


def print_detail(cls: type) -> None:
    rec = layer_record(cls)
    print(f"{rec['name']} ({rec['class']} layer, {rec['source'] or 'Python'})")
    if rec["doc"]:
        for line in rec["doc"].splitlines():
            print(f"  {line}")
    print("  fields:")
    width = max((len(f["name"]) for f in rec["fields"]), default=4)
    twidth = max((len(f["type"]) for f in rec["fields"]), default=4)
    for f in rec["fields"]:
        doc = f"  {f['doc']}" if f["doc"] else ""
        print(f"    {f['name']:<{width}}  {f['type']:<{twidth}}  {f['position']}{doc}")
    print("  reached from:")
    for b in rec["reached_from"] or [None]:
        print("    " + (_binding_text(b) if b else "- (only as a first layer, or by name)"))


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

    for path in args.layers:
        pktspec.load(path)
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
        print(json.dumps([layer_record(c) for c in layers], indent=2, default=str))
    elif args.names:
        for i, cls in enumerate(layers):
            if i:
                print()
            print_detail(cls)
    else:
        print_summary(layers)
    return 0
