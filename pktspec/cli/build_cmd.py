"""``pktspec build``: build packets from a layer expression; print, save or send them.

    pktspec build 'Ethernet(dst="02:00:00:00:00:02") / IPv4(dst="192.0.2.2") / UDP(dst_port=53) / b"hi"'
    pktspec build -w out.pcapng -c 10 'IPv4(dst="192.0.2.2") / ICMPv4(type="EchoRequest")'
    pktspec build --send eth0 'Ethernet(dst="ff:ff:ff:ff:ff:ff") / ARP(operation=1)'

The expression is the Python a program would write, but it is never run as Python: only
layer calls with literal keyword values (numbers, text, bytes, lists, dicts), ``/`` and
literal payloads are accepted, so it is safe to take from anyone.
"""  # noqa: E501

from __future__ import annotations

import argparse
import ast
import sys
import time
from typing import Any

from pktspec.cli import UnknownLayer, find_layer, positive_int, writing
from pktspec.errors import BuildError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("build", help="build packets from layers; print, save or send them",
                       description="Build a packet from an expression such as "
                       "'Ethernet() / IPv4(dst=\"192.0.2.2\") / UDP(dst_port=53) / b\"hi\"': "
                       "unset fields take their defaults; lengths and checksums are computed.")
    p.add_argument("spec", metavar="EXPRESSION", help="layers joined with /, then a payload")
    p.add_argument("-c", "--count", type=positive_int, default=1,
                   help="how many copies (default 1)")
    p.add_argument("-w", "--write", metavar="FILE", help="write a pcap (or .pcapng) file")
    p.add_argument("--send", metavar="INTERFACE", help="send on this interface (needs root)")
    p.add_argument("--interval", type=float, default=0.0, help="seconds between sends")
    p.add_argument("--layers", action="append", default=[], metavar="FILE.layer",
                   help="load layers from a .layer file first (repeatable)")
    p.add_argument("--linktype", type=int, help="the link type of the file (default: the one "
                   "the first layer is bound to)")
    p.add_argument("--no-fix", action="store_true", help="leave lengths as given (or zero)")
    p.add_argument("--no-checksums", action="store_true",
                   help="leave checksums as given (or zero)")
    p.add_argument("-V", "--verbose", action="store_true", help="print the decoded field tree")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import pktspec
    from pktspec.runtime.serialize import serialize

    for path in args.layers:
        pktspec.load(path)
    parts = parse_spec(args.spec)
    data = serialize(*parts, fix_lengths=False if args.no_fix else None,
                     compute_checksums=False if args.no_checksums else None)
    first = next((type(p) for p in parts if not isinstance(p, bytes)), None)
    if args.write:
        _write(args.write, data, args.count, args.linktype or _linktype(first))
    if args.send:
        _send(args.send, data, args.count, args.interval)
    if not args.write and not args.send:
        for _ in range(args.count):
            print(data.hex())
    if args.verbose and first is not None:
        print(pktspec.decode(data, first).dump())
    return 0


def parse_spec(text: str) -> list[Any]:
    """The layers and payloads of an expression, made without running it as Python."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise BuildError(f"not a layer expression: {exc.msg} at column {exc.offset}") from None
    return _parts(tree)


def _parts(node: ast.AST) -> list[Any]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return _parts(node.left) + _parts(node.right)
    if isinstance(node, ast.Constant) and isinstance(node.value, (bytes, str)):
        value = node.value
        return [value.encode() if isinstance(value, str) else value]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.args:
        try:
            cls = find_layer(node.func.id)
        except UnknownLayer as exc:
            raise BuildError(str(exc)) from None
        fields = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise BuildError("write each field as name=value")
            try:
                fields[kw.arg] = ast.literal_eval(kw.value)
            except ValueError:
                raise BuildError(f"{node.func.id}({kw.arg}=...): only literal values "
                                 "(numbers, text, bytes, lists, dicts)") from None
        try:
            return [cls(**fields)]
        except TypeError as exc:
            raise BuildError(str(exc)) from None
    raise BuildError("a layer expression is Layer(field=value, ...) joined with /, and a "
                     "payload b'...' or '...' last")


def _linktype(first: type | None) -> int:
    from pktspec.runtime.serialize import _bound_value

    value = _bound_value("LinkType", first) if first is not None else None
    if value is None:
        raise BuildError(f"no link type is bound to {getattr(first, 'name', 'raw bytes')}: "
                         "give --linktype")
    return value


def _write(path: str, data: bytes, count: int, linktype: int) -> None:
    with writing(path):
        _write_packets(path, data, count, linktype)
    print(f"{path}: {count} packet(s) of {len(data)} bytes", file=sys.stderr)


def _write_packets(path: str, data: bytes, count: int, linktype: int) -> None:
    from pktspec.capture.pcap import PcapWriter
    from pktspec.capture.pcapng import PcapngWriter

    now = time.time()
    if path.endswith((".pcapng", ".pcapng.gz")):
        with PcapngWriter(path) as writer:
            iface = writer.add_interface(linktype, name="pktspec build")
            for i in range(count):
                writer.write(data, now + i * 1e-6, interface=iface)
    else:
        with PcapWriter(path, linktype=linktype) as writer:
            for i in range(count):
                writer.write(data, now + i * 1e-6)


def _send(interface: str, data: bytes, count: int, interval: float) -> None:
    from pktspec.capture.live import open_live

    with open_live(interface) as source:
        for i in range(count):
            if i and interval:
                time.sleep(interval)
            source.inject(data)
    print(f"{interface}: sent {count} packet(s) of {len(data)} bytes", file=sys.stderr)
