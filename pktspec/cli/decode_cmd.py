"""``pktspec decode``: read a capture file or an interface and show each packet."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pktspec.cli import STDIN, capture_input, find_layer, positive_int, render
from pktspec.cli.progress import progress_over


def add_parser(sub: Any) -> None:
    p = sub.add_parser("decode", help="decode a capture file or a live interface",
                       description="Decode packets: one line each (default), a field tree "
                       "(-V), a hexdump (-x) or JSON lines (--json). With FILE -, the "
                       "capture (pcap or pcapng, gzip too) is read from standard input.")
    p.add_argument("file", nargs="?", help="pcap or pcapng file (gzip too); - reads it from "
                   "standard input")
    p.add_argument("-r", dest="read", metavar="FILE", help="same as the positional FILE")
    p.add_argument("-i", "--interface", help="capture live on this interface instead")
    p.add_argument("-f", "--filter", metavar="BPF", help="BPF filter (tcpdump syntax)")
    p.add_argument("-c", "--count", type=positive_int, help="stop after this many packets")
    p.add_argument("--layers", action="append", default=[], metavar="FILE.layer",
                   help="load layers from a .layer file first (repeatable)")
    p.add_argument("--first", metavar="LAYER", help="decode from this layer instead of the "
                   "link type's (its name, in any case)")
    p.add_argument("-V", "--verbose", action="store_true", help="print every field")
    p.add_argument("-x", "--hex", action="store_true", help="add a hexdump of each packet")
    p.add_argument("--json", action="store_true", help="one JSON object per packet")
    p.add_argument("--lazy", action="store_true", help="decode lazily")
    p.add_argument("--strict", action="store_true", help="stop at the first bad packet")
    p.set_defaults(run=run)


def _source(args: argparse.Namespace) -> Any:
    import pktspec

    for path in args.layers:
        pktspec.load(path)
    path = args.file or args.read
    first = find_layer(args.first) if args.first else None
    if args.interface:
        return pktspec.live(args.interface, bpf=args.filter, first=first, lazy=args.lazy)
    if not path:
        raise SystemExit("pktspec decode: give a capture FILE or -i INTERFACE")
    return pktspec.open(capture_input(path), first=first, lazy=args.lazy, strict=args.strict,
                        filter=args.filter)


def run(args: argparse.Namespace) -> int:
    out = sys.stdout
    with _source(args) as source:
        packets = iter(source)
        path = args.file or args.read
        if not args.interface and path != STDIN:
            packets = progress_over(packets, path)
        for n, packet in enumerate(packets, 1):
            if args.json:
                out.write(render.as_json(packet) + "\n")
            else:  # numbered like tshark's frames, also when a filter skips some
                out.write(f"{source.record_number or n} {render.summary(packet)}\n")
                if args.verbose:
                    out.write(render.tree(packet) + "\n\n")
                if args.hex:
                    out.write(render.hexdump(packet.data) + "\n")
            if args.count and n >= args.count:
                break
        for note in dict.fromkeys(source.notes):
            print(f"pktspec: note: {note}", file=sys.stderr)
    return 0
