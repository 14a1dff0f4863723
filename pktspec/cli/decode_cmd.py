"""``pktspec decode``: read a capture file or an interface and show each packet."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pktspec.cli import STDIN, capture_input, find_layer, positive_int, render, writing
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
    p.add_argument("-Y", "--display-filter", metavar="FILTER",
                   help="show only packets whose decoded fields match, as tshark -Y: "
                   "'tcp.dst_port == 443 and ipv4.ttl < 64', 'dns', 'tcp.flags & 0x12', "
                   "'tcp.srcport < tcp.dstport', 'tcp.payload matches \"^get\"', "
                   "'frame.number <= 10' (see the README)")
    p.add_argument("-c", "--count", type=positive_int, help="stop after this many packets")
    p.add_argument("--layers", action="append", default=[], metavar="FILE.layer",
                   help="load layers from a .layer file first (repeatable)")
    p.add_argument("--first", metavar="LAYER", help="decode from this layer instead of the "
                   "link type's (its name, in any case)")
    p.add_argument("-e", "--field", dest="fields", action="append", metavar="FIELD",
                   help="print only these fields, tab-separated, one line per packet, as "
                   "tshark -T fields -e, each written as tshark writes it (hex for ip.id, "
                   "tcp.flags, ...) (repeatable: -e ip.src -e tcp.dst_port -e frame.number; "
                   "several layers' values joined by commas)")
    p.add_argument("-V", "--verbose", action="store_true", help="print every field")
    p.add_argument("-q", "--quick", action="store_true",
                   help="leave the protocols' own words (summaries) off the lines, as "
                   "tcpdump's -q: faster where they need more decoding (DNS sections)")
    p.add_argument("-x", "--hex", action="store_true", help="add a hexdump of each packet")
    p.add_argument("--json", action="store_true", help="one JSON object per packet")
    p.add_argument("--lazy", action="store_true", help="decode lazily")
    p.add_argument("--strict", action="store_true", help="stop at the first bad packet")
    p.add_argument("-w", "--write", metavar="OUT", help="write the packets that pass -f/-c to "
                   "a capture file instead of printing them (pcapng if OUT ends in .pcapng, "
                   "else pcap; .gz compresses; - is standard output), as tcpdump -w does")
    p.add_argument("-F", "--format", choices=("pcap", "pcapng"), dest="write_format",
                   help="with -w, the file format whatever OUT is called (as tshark -F): "
                   "-w - -F pcapng writes pcapng to standard output")
    p.add_argument("--print", dest="also_print", action="store_true",
                   help="with -w, print the packets too")
    p.set_defaults(run=run)


def _source(args: argparse.Namespace) -> Any:
    import pktspec

    for path in args.layers:
        pktspec.load(path)
    if args.display_filter is not None:  # after --layers: it may name their layers
        from pktspec.display_filters import compile_filter

        args.matches = compile_filter(args.display_filter)
    if args.fields:
        from pktspec.display_filters import compile_field

        args.columns = [compile_field(name) for name in args.fields]
    path = args.file or args.read
    first = find_layer(args.first) if args.first else None
    if args.interface:
        return pktspec.live(args.interface, bpf=args.filter, first=first, lazy=args.lazy)
    if not path:
        raise SystemExit("pktspec decode: give a capture FILE or -i INTERFACE")
    return pktspec.open(capture_input(path), first=first, lazy=args.lazy, strict=args.strict,
                        filter=args.filter)


class _Output:
    """The capture file of ``-w`` (``-`` is standard output): pcap or pcapng by the name's
    ending, made when the first packet comes (a pcap file takes its link type and clock from
    it; pcapng gets one interface per input interface, and from a pcapng input a copy of its
    structure: each section with its options, every interface, the other blocks, and each
    packet's options).
    When the input turns out damaged the packets written so far are kept, as tcpdump keeps
    them; when writing itself fails the file is discarded, so nothing half-written is left."""

    def __init__(self, path: str, source: Any = None, file_format: str | None = None) -> None:
        self.path = path
        self.pcapng = file_format == "pcapng" if file_format is not None \
            else path.endswith((".pcapng", ".pcapng.gz"))
        self.source = source
        self.writer: Any = None
        self.interfaces: dict[tuple[int, int], int] = {}  # (input interface, link type) -> ours
        self.count = 0
        self.failed = False

    def write(self, packet: Any) -> None:
        info = packet.metadata
        try:
            with writing(self.path):
                if self.writer is None:
                    self.writer = self._open(info)
                if self.pcapng and info is not None:
                    self.writer.write(bytes(packet.data), info, interface=self._interface(info))
                else:
                    self.writer.write(bytes(packet.data), info)
        except BaseException:
            self.failed = True
            raise
        self.count += 1

    def _interface(self, info: Any) -> int:
        """Our interface for a packet's input interface: a copy of the input's IDB (name,
        options, clock) when it has one of that link type, else a new one."""
        key = (info.interface, info.linktype)
        ours = self.interfaces.get(key)
        if ours is None:
            given = getattr(getattr(self.source, "_records", None), "interfaces", None) or ()
            iface = given[info.interface] if info.interface < len(given) else None
            if iface is not None and iface.linktype == info.linktype:
                ours = self.writer.add_interface(iface)
            else:
                ours = self.writer.add_interface(
                    info.linktype, tsresol=9 if info.ts_resolution > 1_000_000 else 6)
            self.interfaces[key] = ours
        return ours

    def _open(self, info: Any) -> Any:
        from pktspec.capture.pcap import PcapWriter
        from pktspec.capture.pcapng_writer import PcapngWriter

        dest: Any = sys.stdout.buffer if self.path == STDIN else self.path
        if self.pcapng:
            return PcapngWriter(dest, source=self.source)
        nanosecond = info is not None and info.ts_resolution > 1_000_000
        return PcapWriter(dest, linktype=1 if info is None else info.linktype,
                          nanosecond=nanosecond)

    def close(self, finished: bool) -> None:
        """Keep or discard the file; ``finished``: the input was read to its end, so even
        no packet passing the filter makes a (valid, empty) capture, as with tcpdump."""
        with writing(self.path):
            if self.failed:
                if self.writer is not None:
                    self.writer.abort()
                return
            if self.writer is None and finished:
                self.writer = self._open(None)
            if self.writer is not None:
                self.writer.close()
                where = "standard output" if self.path == STDIN else self.path
                print(f"pktspec: wrote {self.count} packet(s) to {where}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if args.write is None:
        if args.write_format is not None:
            print("pktspec: -F says the format of the -w file; there is no -w", file=sys.stderr)
            return 2
        return _decode(args, None)
    output = _Output(args.write, file_format=args.write_format)
    if args.write == STDIN:
        args.also_print = False  # standard output carries the capture
    finished = False
    try:
        _decode(args, output)
        finished = True
    finally:
        output.close(finished)
    return 0


def _frames(source: Any) -> Any:
    """The record numbers and first time that frame.number and frame.time_relative read;
    frame.interface_id only for a capture with interfaces (pcapng, live), as tshark."""
    from pktspec.capture.pcap import PcapReader
    from pktspec.display_filters import Frames

    return Frames(interfaces=not isinstance(getattr(source, "_records", None), PcapReader))


def _decode(args: argparse.Namespace, output: _Output | None) -> int:
    out = sys.stdout
    show = output is None or args.also_print
    with _source(args) as source:
        if output is not None:
            output.source = source
        packets = iter(source)
        path = args.file or args.read
        if not args.interface and path != STDIN:
            packets = progress_over(packets, path)
        matches = getattr(args, "matches", None)
        frames = _frames(source)
        n = 0
        for record, packet in enumerate(packets, 1):
            # numbered like tshark's frames, also when a filter skips some
            number = source.record_number or record
            frames.see(packet, number)
            if matches is not None and not matches(packet, frames):
                continue
            n += 1
            if output is not None:
                output.write(packet)
            if not show:
                pass
            elif args.fields:
                out.write(render.field_columns(packet, args.columns, frames) + "\n")
            elif args.json:
                out.write(render.as_json(packet) + "\n")
            else:
                out.write(f"{number} {render.summary(packet, words=not args.quick)}\n")
                if args.verbose:
                    out.write(render.tree(packet) + "\n\n")
                if args.hex:
                    out.write(render.hexdump(packet.data) + "\n")
            if args.count and n >= args.count:
                break
        for note in dict.fromkeys(source.notes):
            print(f"pktspec: note: {note}", file=sys.stderr)
    return 0
