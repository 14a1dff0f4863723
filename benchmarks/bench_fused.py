"""What fusing the decode chain into one function would buy: a measured design question.

Each layer's decoder is a method call today. This benchmark builds, in this process only,
one function per workload with the ``_decode`` bodies of Ethernet, IPv4, IPv6, TCP and UDP
inlined (picked by ``cls is X``, ``self`` turned into a local, ``return`` into the next
class), and runs bench_decode.py's eager and Parser workloads with it beside the shipped
code, dpkt and the hand-written decoder, in one run. With ``--lazy-fields`` the inlined
bodies are bench_floor.py's lazy-field decoders (bounds, checks and dispatch only; flows
read from the bytes), the cheapest pure-Python layer design measured.

    python benchmarks/bench_fused.py [--pcap x.pcap] [--packets 50000] [--lazy-fields]

The fused functions read the same values as the shipped code (checked before timing). They
are measurements, not decoders: the inlining is a text transformation of these five bodies.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_decode as bench  # noqa: E402
import bench_floor  # noqa: E402

_RETURN = re.compile(r"^(\s*)return (.+)$", re.M)


def inlined_body(cls: type, local: str, indent: str) -> str:
    """cls._decode's body with self as `local` and each return storing `nxt` and leaving
    the `while True` block that the caller wraps it in."""
    fn = cls._decode
    source = textwrap.dedent(inspect.getsource(fn))
    body = textwrap.dedent(source.split(":\n", 1)[1])
    body = re.sub(r"\bself\b", local, body)
    body = _RETURN.sub(r"\1nxt = \2\n\1break", body)
    lines = [indent + "while True:"]
    lines += [indent + "    " + line for line in body.splitlines() if line.strip()]
    lines.append(indent + "    break")
    return "\n".join(lines)


def namespace(classes: list[type]) -> dict:
    """The globals and closure cells that the inlined bodies refer to."""
    ns: dict = {}
    for cls in classes:
        fn = cls._decode
        ns.update(fn.__globals__)
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True):
            ns[name] = cell.cell_contents
    for cls in classes:
        ns["C_" + cls.__name__] = cls
    return ns


def fused_parser(parser, classes: list[type]):
    """decode_layers for `parser` as one function over its preallocated instances."""
    lines = ["def decode_layers(buf):",
             "    decoded = []",
             "    append = decoded.append",
             "    off = 0",
             "    end = len(buf)",
             "    cls = FIRST",
             "    while cls is not None:"]
    for i, cls in enumerate(classes):
        lines.append(f"        {'if' if i == 0 else 'elif'} cls is C_{cls.__name__}:")
        lines.append(f"            L = L_{cls.__name__}")
        lines.append(inlined_body(cls, "L", " " * 12))
        lines.append("            append(cls)")
        lines.append("            off = L._hend")
        lines.append("            end = L._pend")
        lines.append("            cls = nxt")
    lines += ["        else:", "            break", "    return decoded"]
    ns = namespace(classes)
    ns["FIRST"] = parser.first
    for cls in classes:
        ns["L_" + cls.__name__] = parser[cls]
    exec(compile("\n".join(lines), "<fused parser>", "exec"), ns)  # noqa: S102
    return ns["decode_layers"]


def fused_eager(classes: list[type]):
    """decode_eager as one function: the Packet set-up, the loop with inlined bodies, the
    generic call for any other class, the deferred payload and the typed layers."""
    import pktspec.runtime.packet as packet_module

    lines = ["def decode(buf, first, metadata=None, strict=False):",
             "    packet = _new(Packet)",
             "    packet.data = buf",
             "    packet.metadata = metadata",
             "    packet._strict = strict",
             "    packet._error = packet._tail = packet._pending = None",
             "    packet._net = packet._trans = None",
             "    layers = packet._layers = []",
             "    append = layers.append",
             "    off = 0",
             "    end = len(buf)",
             "    cls = last = first",
             "    while cls is not None:",
             "        L = _new(cls)",
             "        try:"]
    for i, cls in enumerate(classes):
        lines.append(f"            {'if' if i == 0 else 'elif'} cls is C_{cls.__name__}:")
        lines.append(inlined_body(cls, "L", " " * 16))
    lines += ["            else:",
              "                nxt = L._decode(buf, off, end)",
              "        except Exception as exc:",
              "            packet._fail(exc, cls, off, end)",
              "            return packet",
              "        append(L)",
              "        off = L._hend",
              "        end = L._pend",
              "        last = cls",
              "        cls = nxt",
              "    if end > off:",
              "        nxt = REGISTRY.payload",
              "        if nxt is not None and nxt is not last:",
              "            packet._tail = (nxt, off, end)",
              "    if len(layers) >= 3:",
              "        one, two, three = layers[0], layers[1], layers[2]",
              "        if one.layer_class is _LINK and two.layer_class is _NETWORK:",
              "            packet._net = two",
              "            if three.layer_class is _TRANSPORT:",
              "                packet._trans = three",
              "    return packet"]
    ns = namespace(classes)
    ns.update(vars(packet_module))
    exec(compile("\n".join(lines), "<fused eager>", "exec"), ns)  # noqa: S102
    return ns["decode"]


def install_fused(classes: list[type]) -> None:
    """Route bench_decode's eager and Parser workloads through fused functions."""
    import pktspec.runtime as runtime

    shipped_parser = runtime.Parser

    class FusedParser(shipped_parser):
        def __init__(self, first, layers):
            super().__init__(first, layers)
            self.decode_layers = fused_parser(self, classes)

    runtime.Parser = FusedParser
    runtime.decode = fused_eager(classes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pcap", type=Path, default=bench.DEFAULT_PCAP)
    ap.add_argument("--packets", type=int, default=50_000)
    ap.add_argument("--budget", type=float, default=3.0, help="seconds per contender")
    ap.add_argument("--lazy-fields", action="store_true",
                    help="inline bench_floor's lazy-field decoders instead of the generated ones")
    args = ap.parse_args()
    bench.ensure_capture(args.pcap)
    records = bench.load_records(args.pcap, args.packets)
    from pktspec.layers import TCP, UDP, Ethernet, IPv4, IPv6

    classes = [Ethernet, IPv4, IPv6, TCP, UDP]
    contenders = [("hand-written struct", bench.hand_written, records),
                  ("dpkt", bench.dpkt_decode, records),
                  ("pktspec eager decode", bench.pktspec_eager, records),
                  ("pktspec Parser", bench.pktspec_parser, records)]
    values_read = (bench.pktspec_eager(records), bench.pktspec_parser(records))
    shipped, _ = bench.timed_in_turns(contenders, args.budget)
    runs = [("shipped", shipped)]
    if args.lazy_fields:
        bench_floor.install_lazy_field_decoders()
        runs.append(("lazy", bench.timed_in_turns(contenders[2:], args.budget)[0]))
    install_fused(classes)
    same = values_read == (bench.pktspec_eager(records), bench.pktspec_parser(records))
    print(f"fused functions read the same values as the shipped code: {same}")
    label = "fused+lazy" if args.lazy_fields else "fused"
    runs.append((label, bench.timed_in_turns(contenders[2:], args.budget)[0]))
    bench_floor.report(f"{len(records)} records of {args.pcap}", shipped, runs)


if __name__ == "__main__":
    main()
