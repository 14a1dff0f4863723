"""``pktspec stats``: what a capture holds, in one pass.

    pktspec stats capture.pcap               counts, time span, hierarchy, top conversations
    pktspec stats -n 20 -f "udp" x.pcapng    the 20 busiest UDP conversations
    pktspec stats --json x.pcap              the same as one JSON object

The protocol hierarchy is tshark's ``-z io,phs``: every packet counts once in each node of
its layer chain (a run of one layer, such as several TLS records, is one node), with the
bytes of the whole frame; a layer that failed to decode shows as ``[DNS: error]``. Conversations are keyed by the first network layer's addresses and
the first transport layer's ports, both directions together (the link addresses for packets
without a network layer), and ranked by bytes.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from pktspec.cli import STDIN, capture_input, find_layer, non_negative_int, positive_int
from pktspec.cli.progress import progress_over
from pktspec.cli.render import conversation
from pktspec.errors import CaptureError, FilterError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("stats", help="summarize a capture: counts, protocols, conversations",
                       description="Packet and byte counts, time span, the protocol "
                       "hierarchy (like tshark -z io,phs) and the busiest conversations. "
                       "FILE - reads the capture from standard input. A capture damaged "
                       "part-way gets the summary of the packets before the damage, then "
                       "the error.")
    p.add_argument("file", nargs="?", help="pcap or pcapng file (gzip too); - reads it from "
                   "standard input")
    p.add_argument("-r", dest="read", metavar="FILE", help="same as the positional FILE")
    p.add_argument("-f", "--filter", metavar="BPF", help="only packets matching this filter")
    p.add_argument("-c", "--count", type=positive_int, help="stop after this many packets")
    p.add_argument("-n", "--top", type=non_negative_int, default=10, metavar="N",
                   help="how many conversations to list (default 10, 0 for none)")
    p.add_argument("--layers", action="append", default=[], metavar="FILE.layer",
                   help="load layers from a .layer file first (repeatable)")
    p.add_argument("--first", metavar="LAYER", help="decode from this layer instead of the "
                   "link type's (its name, in any case)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


@dataclass
class Node:
    """One protocol in the hierarchy: frames and bytes of the packets whose chain has it."""

    frames: int = 0
    bytes: int = 0
    children: dict[str, Node] = field(default_factory=dict)


@dataclass
class Conversation:
    """Both directions between two endpoints; ``a`` is the side that sent first."""

    protocol: str
    a: str
    b: str
    packets_ab: int = 0
    bytes_ab: int = 0
    packets_ba: int = 0
    bytes_ba: int = 0
    first: float | None = None
    last: float | None = None

    @property
    def packets(self) -> int:
        return self.packets_ab + self.packets_ba

    @property
    def bytes(self) -> int:
        return self.bytes_ab + self.bytes_ba


def _endpoint_text(net: Any, port: Any) -> str:
    text = str(net)
    if port is None:
        return text
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


def _sort_key(endpoint: tuple) -> tuple:
    net, port = endpoint
    return (str(net.kind), net.raw, -1 if port is None else port.raw)


class CaptureStats:
    """Counts folded in one packet at a time with :meth:`add`."""

    def __init__(self) -> None:
        self.packets = 0
        self.bytes = 0
        self.captured = 0
        self.errors = 0
        self.first: float | None = None
        self.last: float | None = None
        self.root = Node()
        self.conversations: dict[tuple, Conversation] = {}

    def add(self, packet: Any) -> None:
        meta = packet.metadata
        size = meta.length if meta is not None else len(packet.data)
        self.packets += 1
        self.bytes += size
        self.captured += len(packet.data)
        stamp = (meta.timestamp if meta is not None and meta.has_timestamp and meta.ts_resolution
                 else None)
        if stamp is not None:
            self.first = stamp if self.first is None else min(self.first, stamp)
            self.last = stamp if self.last is None else max(self.last, stamp)
        self._add_chain(packet, size)
        self._add_conversation(packet, size, stamp)

    def _add_chain(self, packet: Any, size: int) -> None:
        node = self.root
        previous = None
        for layer in packet.layers:
            name = layer.name
            if name == "DecodeFailure":  # shown as the layer that failed: "[DNS: error]"
                self.errors += 1
                name = f"[{layer.error.layer or '?'}: error]"
            if name == previous:
                continue
            previous = name
            node = node.children.setdefault(name, Node())
            node.frames += 1
            node.bytes += size

    def _add_conversation(self, packet: Any, size: int, stamp: float | None) -> None:
        key = conversation(packet)
        if key is None:
            return
        protocol, src, dst = key
        low, high = sorted((src, dst), key=_sort_key)
        conv = self.conversations.get((protocol, low, high))
        if conv is None:
            conv = Conversation(protocol, _endpoint_text(*src), _endpoint_text(*dst))
            self.conversations[(protocol, low, high)] = conv
        if _endpoint_text(*src) == conv.a:
            conv.packets_ab += 1
            conv.bytes_ab += size
        else:
            conv.packets_ba += 1
            conv.bytes_ba += size
        if stamp is not None:
            conv.first = stamp if conv.first is None else min(conv.first, stamp)
            conv.last = stamp if conv.last is None else max(conv.last, stamp)

    def top(self, n: int) -> list[Conversation]:
        ranked = sorted(self.conversations.values(), key=lambda c: (-c.bytes, -c.packets))
        return ranked[:n]

    def as_dict(self, top: int) -> dict[str, Any]:
        def tree(node: Node) -> list[dict[str, Any]]:
            return [{"protocol": name, "frames": child.frames, "bytes": child.bytes,
                     "children": tree(child)} for name, child in node.children.items()]

        return {
            "packets": self.packets, "bytes": self.bytes, "captured_bytes": self.captured,
            "first": self.first, "last": self.last, "duration": self.duration,
            "decode_errors": self.errors, "hierarchy": tree(self.root),
            "conversations": [
                {"protocol": c.protocol, "a": c.a, "b": c.b, "packets_a_to_b": c.packets_ab,
                 "bytes_a_to_b": c.bytes_ab, "packets_b_to_a": c.packets_ba,
                 "bytes_b_to_a": c.bytes_ba, "packets": c.packets, "bytes": c.bytes,
                 "first": c.first, "last": c.last} for c in self.top(top)],
        }

    @property
    def duration(self) -> float | None:
        if self.first is None or self.last is None:
            return None
        return self.last - self.first


def _time_text(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    try:
        when = _dt.datetime.fromtimestamp(stamp, _dt.UTC)
    except (OverflowError, OSError, ValueError):
        return f"{stamp:.6f}"
    return when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def render_text(stats: CaptureStats, path: str, top: int) -> str:
    duration = stats.duration
    lines = [
        f"File:        {path}",
        f"Packets:     {stats.packets}",
        f"Bytes:       {stats.bytes} on the wire, {stats.captured} captured",
        f"First:       {_time_text(stats.first)}",
        f"Last:        {_time_text(stats.last)}",
        f"Duration:    {'-' if duration is None else f'{duration:.6f} s'}",
        f"Errors:      {stats.errors} packet(s) with a DecodeFailure",
        "",
        "Protocol hierarchy (as tshark -z io,phs)",
    ]

    def walk(node: Node, depth: int) -> None:
        for name, child in node.children.items():
            label = "  " * depth + name
            lines.append(f"{label:<40} frames:{child.frames:<8} bytes:{child.bytes}")
            walk(child, depth + 1)

    walk(stats.root, 0)
    convs = stats.top(top)
    if convs:
        lines += ["", f"Top {len(convs)} conversations by bytes (of {len(stats.conversations)})"]
        width = max(max(len(c.a), len(c.b)) for c in convs)
        lines.append(f"  {'A':<{width}}  {'B':<{width}}  {'protocol':<16} "
                     f"{'A->B':>16} {'B->A':>16} {'packets':>8} {'bytes':>10}")
        for c in convs:
            lines.append(f"  {c.a:<{width}}  {c.b:<{width}}  {c.protocol:<16} "
                         f"{f'{c.packets_ab}/{c.bytes_ab}':>16} "
                         f"{f'{c.packets_ba}/{c.bytes_ba}':>16} {c.packets:>8} {c.bytes:>10}")
        lines.append("  (A->B and B->A are packets/bytes)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import pktspec

    for layer_file in args.layers:
        pktspec.load(layer_file)
    path = args.file or args.read
    if not path:
        raise SystemExit("pktspec stats: give a capture FILE")
    first = find_layer(args.first) if args.first else None
    stats = CaptureStats()
    failure: CaptureError | None = None
    with pktspec.open(capture_input(path), first=first, filter=args.filter) as source:
        try:
            for n, packet in enumerate(progress_over(source, None if path == STDIN else path), 1):
                stats.add(packet)
                if args.count and n >= args.count:
                    break
        except FilterError:  # a bad filter is no damage: nothing to sum up
            raise
        except CaptureError as exc:  # damaged part-way: sum up what came before, as tshark
            failure = exc
        notes = list(dict.fromkeys(source.notes))
    if args.json:
        print(json.dumps({"file": path, **stats.as_dict(args.top)}, indent=2))
    else:
        print(render_text(stats, path, args.top))
    for note in notes:
        print(f"pktspec: note: {note}", file=sys.stderr)
    if failure is not None:
        sys.stdout.flush()  # the summary first, then the error, also when both are one file
        print(f"pktspec: {failure}", file=sys.stderr)
        return 1
    return 0
