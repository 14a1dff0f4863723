"""``pktspec messages``: the application messages carried in a capture's TCP streams.

    pktspec messages trace.pcap                          every connection whose port has a
                                                         message layer (DNS over TCP, ...)
    pktspec messages trace.pcap --layers rpc.layer       your message layer, bound by port
    pktspec messages trace.pcap --layer KVRPC -Y 'kvrpc.method == 3' -V

One line per message, in the order the messages completed: the stream index (as in
``pktspec follow``), the time, who sent it, the layers it decoded into, where it starts in
that direction's bytes, its length, and ``partial`` or the error when it is not whole. After
a hole in the capture the framing is found again at a later segment (``--no-resync`` stops
that direction instead); the first message after it says how many bytes were lost.
``-V`` adds every field, ``--json`` prints one object per message. This is
:func:`pktspec.messages` (reassembly, then each message decoded alone) on the command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pktspec.cli import STDIN, capture_input, find_layer, positive_int, render
from pktspec.cli.progress import progress_over


def add_parser(sub: Any) -> None:
    p = sub.add_parser("messages", help="the application messages in a capture's TCP streams",
                       description="Reassemble the TCP streams of a capture and print the "
                       "messages a message layer (framed by a length or a delimiter, bound "
                       "to a port) finds in them.")
    p.add_argument("file", help="pcap or pcapng file (gzip too); - reads it from standard "
                   "input")
    p.add_argument("--layers", action="append", default=[], metavar="FILE.layer",
                   help="load layers from a .layer file first (repeatable)")
    p.add_argument("--layer", metavar="LAYER", help="decode every connection's bytes as this "
                   "message layer (default: the layer bound to each connection's port)")
    p.add_argument("-f", "--filter", metavar="BPF", help="BPF filter on the packets")
    p.add_argument("-Y", "--display-filter", metavar="FILTER",
                   help="show only messages whose fields match (see 'decode -Y')")
    p.add_argument("-c", "--count", type=positive_int, help="stop after this many messages")
    p.add_argument("-V", "--verbose", action="store_true", help="print every field")
    p.add_argument("--json", action="store_true", help="one JSON object per message")
    p.add_argument("--no-resync", dest="resync", action="store_false",
                   help="stop a direction at a hole in the capture (default: find the "
                   "message framing again after it)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import pktspec

    for path in args.layers:
        pktspec.load(path)
    layer = find_layer(args.layer) if args.layer else None
    matches = None
    if args.display_filter is not None:
        from pktspec.display_filters import compile_filter

        matches = compile_filter(args.display_filter)
    from pktspec.reassembly.messages import MessageFactory, messages_through

    source = pktspec.open(capture_input(args.file), filter=args.filter)
    packets = progress_over(source, None if args.file == STDIN else args.file)
    factory = MessageFactory(None, layer, resync=args.resync)
    shown = 0
    try:
        for message in messages_through(factory, packets):
            if matches is not None and not matches(message.packet):
                continue
            sys.stdout.write(_text(message, args) + "\n")
            shown += 1
            if args.count and shown >= args.count:
                return 0
    finally:
        source.close()
    problems = [f"stream {stream.conn.index} {error}" for stream in factory.streams
                for error in stream.errors]
    for problem in problems:  # a direction that stopped: the messages after it are missing
        print(f"pktspec messages: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _text(message: Any, args: argparse.Namespace) -> str:
    """One message as a line (with its field tree under -V), or as a JSON object."""
    conn, packet = message.connection, message.packet
    sender, receiver = ((conn.client, conn.server) if message.direction.name == "CLIENT"
                        else (conn.server, conn.client))
    if args.json:
        obj = json.loads(render.as_json(packet))
        obj.update(stream=conn.index, sender=str(sender), receiver=str(receiver),
                   offset=message.offset, timestamp=message.timestamp,
                   partial=message.partial, skipped=message.skipped)
        return json.dumps(obj)
    names = " ".join(layer.name for layer in packet.layers)
    line = (f"{conn.index} {_clock(message.timestamp)} {sender} > {receiver}: {names} "
            f"at {message.offset}, length {len(packet.data)}")
    if message.skipped:
        line += f" after {message.skipped} bytes lost"
    if message.partial:
        line += " partial"
    if packet.error is not None:
        line += f" [error: {packet.error}]"
    if args.verbose:
        line += "\n" + render.tree(packet) + "\n"
    return line


def _clock(timestamp: float) -> str:
    """HH:MM:SS.micro (UTC) of a message's completing packet, as decode lines show time."""
    import datetime as dt

    try:
        t = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return f"{timestamp:.6f}"
    return t.strftime("%H:%M:%S.%f")
