"""``pktspec follow``: list the TCP streams of a capture, or print one as tshark's follow does.

    pktspec follow trace.pcap                 one line per stream: endpoints, bytes, gaps
    pktspec follow trace.pcap 3               stream 3 in ASCII (tshark -z follow,tcp,ascii,3)
    pktspec follow trace.pcap 3 --hex         as a hexdump per direction
    pktspec follow trace.pcap 3 --raw out     the bytes to out.client.bin and out.server.bin

Streams are numbered by their first packet, as tshark's ``tcp.stream``. Bytes the capture
never had are shown as tshark shows them, ``[N bytes missing in capture file]``; raw output
leaves them out and lists them on stderr. IP fragments are reassembled first.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from pktspec.cli import STDIN, capture_input, non_negative_int, writing
from pktspec.cli.progress import progress_over

RULE = "=" * 67


def add_parser(sub: Any) -> None:
    p = sub.add_parser("follow", help="list TCP streams, or print one like tshark's follow",
                       description="Without STREAM, list the TCP streams of a capture; with "
                       "it, print that stream's bytes (ASCII by default).")
    p.add_argument("file", help="pcap or pcapng file (gzip too); - reads it from "
                   "standard input")
    p.add_argument("stream", nargs="?", type=non_negative_int,
                   help="stream index, as in the listing")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--hex", action="store_true", help="hexdump each direction's chunks")
    mode.add_argument("--raw", metavar="PREFIX",
                      help="write PREFIX.client.bin and PREFIX.server.bin")
    p.add_argument("-f", "--filter", metavar="BPF", help="BPF filter (tcpdump syntax)")
    p.add_argument("--layers", action="append", default=[], metavar="FILE.layer",
                   help="load layers from a .layer file first (repeatable)")
    p.set_defaults(run=run)


class _Totals:
    """Per-connection counts for the listing (keeps no payload)."""

    __slots__ = ("conn", "bytes")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.bytes = [0, 0]

    def reassembled(self, chunk: Any) -> None:
        self.bytes[chunk.direction] += len(chunk.data)

    def complete(self) -> None:
        pass


class _Recorder:
    """Every chunk of one connection, in delivery order (for printing)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.chunks: list[Any] = []

    def reassembled(self, chunk: Any) -> None:
        self.chunks.append(chunk)

    def complete(self) -> None:
        pass


class _Ignore:
    __slots__ = ()

    def reassembled(self, chunk: Any) -> None:
        pass

    def complete(self) -> None:
        pass


def _packets(args: argparse.Namespace) -> Iterable[Any]:
    import pktspec

    for path in args.layers:
        pktspec.load(path)
    source = pktspec.open(capture_input(args.file), filter=args.filter)
    return progress_over(source, None if args.file == STDIN else args.file)


def _assemble(args: argparse.Namespace, factory: Any) -> None:
    from pktspec.reassembly import TCPAssembler

    assembler = TCPAssembler(factory)  # IP fragments carrying TCP are reassembled too
    packets = _packets(args)
    try:
        for packet in packets:
            assembler.assemble(packet)
    finally:
        close = getattr(packets, "close", None)
        if close is not None:
            close()  # the capture file, even when the loop stops early
    assembler.flush_all()


def list_streams(args: argparse.Namespace, out: TextIO) -> int:
    made: list[_Totals] = []
    _assemble(args, lambda conn: made.append(_Totals(conn)) or made[-1])
    if not made:
        out.write(f"no TCP streams in {args.file}\n")
        return 0
    width = max([len(str(t.conn.client)) for t in made] + [6])
    out.write(f"{'stream':>6}  {'client':<{width}}    {'server':<{width}}  "
              f"{'client bytes':>12}  {'server bytes':>12}  {'gaps':>4}  end\n")
    for t in made:
        c = t.conn
        gaps = c.client.stats.gaps + c.server.stats.gaps
        out.write(f"{c.index:>6}  {str(c.client):<{width}} -> {str(c.server):<{width}}  "
                  f"{t.bytes[0]:>12}  {t.bytes[1]:>12}  {gaps:>4}  {c.reason}\n")
    return 0


def follow_stream(args: argparse.Namespace, out: TextIO) -> int:
    found: list[_Recorder] = []

    def factory(conn: Any) -> Any:
        if conn.index != args.stream:
            return _Ignore()
        found.append(_Recorder(conn))
        return found[0]

    _assemble(args, factory)
    if not found:
        print(f"pktspec follow: no TCP stream {args.stream} in {args.file}", file=sys.stderr)
        return 1
    recorder = found[0]
    if args.raw:
        return _write_raw(recorder, args.raw)
    mode = "hex" if args.hex else "ascii"
    conn = recorder.conn
    out.write(f"\n{RULE}\nFollow: tcp,{mode}\nFilter: tcp.stream eq {conn.index}\n"
              f"Node 0: {conn.client}\nNode 1: {conn.server}\n")
    offsets = [0, 0]
    for chunk in recorder.chunks:
        indent = "\t" if chunk.direction else ""
        # tshark writes a hole into the data as its marker and a NUL, and counts it
        parts = [f"[{chunk.skipped} bytes missing in capture file]".encode() + b"\0"] \
            if chunk.skipped else []
        for data in [*parts, chunk.data]:
            if args.hex:
                out.write(hex_lines(data, offsets[chunk.direction], indent))
                offsets[chunk.direction] += len(data)
            else:
                out.write(f"{indent}{len(data)}\n{ascii_text(data)}\n")
    out.write(f"{RULE}\n")
    return 0


def ascii_text(data: bytes) -> str:
    """Printable ASCII and line breaks as they are, every other byte (a tab too) as '.',
    as tshark's follow prints them."""
    return "".join(chr(b) if 32 <= b < 127 or b in (10, 13) else "." for b in data)


def hex_lines(data: bytes, offset: int, indent: str) -> str:
    """tshark's follow hexdump: offset, 16 bytes in two groups of 8, the ASCII column."""
    lines = []
    for pos in range(0, len(data), 16):
        row = data[pos:pos + 16]
        left = " ".join(f"{b:02x}" for b in row[:8])
        right = " ".join(f"{b:02x}" for b in row[8:])
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        text = f"{text[:8]} {text[8:]}" if len(row) > 8 else text
        lines.append(f"{indent}{offset + pos:08X}  {left:<23}  {right:<23}  {text}\n")
    return "".join(lines)


def _write_raw(recorder: _Recorder, prefix: str) -> int:
    parts: tuple[list[bytes], list[bytes]] = ([], [])
    for chunk in recorder.chunks:
        parts[chunk.direction].append(chunk.data)
    conn = recorder.conn
    for side, name in ((conn.client, "client"), (conn.server, "server")):
        path = Path(f"{prefix}.{name}.bin")
        with writing(path):
            path.write_bytes(b"".join(parts[side.direction]))
        gaps = "".join(f", {g.length} bytes missing at byte {g.position}" for g in side.gaps)
        print(f"{path}: {side.stats.bytes} bytes from {side}{gaps}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.stream is None:
        if args.raw or args.hex:
            print("pktspec follow: --hex and --raw need a STREAM index", file=sys.stderr)
            return 2
        return list_streams(args, sys.stdout)
    return follow_stream(args, sys.stdout)
