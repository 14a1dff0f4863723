"""Reassemble every TCP stream of a large capture: pktspec beside a minimal hand-written one.

    python benchmarks/bench_reassembly.py [capture.pcap] [--repeat N]

The capture is real loopback traffic with big HTTP downloads, made by
``../shared/bench/make_capture.sh`` (root, tcpdump, curl, dnsutils, iputils-ping, ethtool)::

    ../shared/bench/make_capture.sh benchmarks/data/bench.pcap 1500 600 1 4000 200

(benchmarks/data/ is git-ignored). Three runs over the same file, each from the file on
disk to every stream's bytes:

- ``handwritten``: a minimal in-order reassembler in plain Python, ``struct.unpack_from``
  on the pcap records, Ethernet, IP and TCP headers, no decoding library: the pure-Python
  limit for this work (it drops out-of-order data, which a loopback capture hardly has).
  It ends, like ``streams()``, with each direction's bytes (one ``bytes`` each); the row
  ``(handwritten, no join)`` leaves them as lists of segment payloads, which earlier
  sessions used as the baseline (the join costs it about 15%);
- ``pktspec streams()``: the one-call helper (decode, defragment, assemble, collect);
- ``pktspec TCPAssembler``: ``pktspec.open`` + the assembler with a stream that keeps the
  chunks, without the defragmentation pass.

Each reports packets/s, payload MB/s (TCP payload bytes delivered) and its speed relative
to the hand-written one (target: at least 0.5). The runs must agree on every stream's bytes.
Two last rows show where the pktspec runs' time goes: ``pktspec.open`` alone, the decoding
they include, and ``pktspec.open`` + the hand-written run's own in-order logic (no
connection objects, counters, timestamps or limits), the least that any Python reassembler
fed by ``pktspec.open`` costs; and a ``Parser`` (preallocated layers, decoding only to TCP)
with that same logic, the least a streams() that decoded records itself could cost. The
hand-written baseline and the two pktspec runs join each direction's payloads inside the
timing, as ``streams()`` returns bytes; the two last rows and ``(handwritten, no join)``
keep lists (joined outside the timing, for the comparison). Times are CPU seconds of this
process, best of N. No timing is asserted anywhere: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import struct
import sys
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent / "data" / "bench.pcap"


# -- the hand-written baseline ------------------------------------------------------------------


def handwritten(path: Path) -> tuple[int, dict[tuple, list[bytes]]]:
    """Packets seen and, per (src, sport, dst, dport), the in-order payloads."""
    data = path.read_bytes()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    record = struct.Struct(endian + "IIII")
    u16 = struct.Struct(">H").unpack_from
    ipv4 = struct.Struct(">BxHHHBBH4s4s").unpack_from
    tcp = struct.Struct(">HHIIH").unpack_from
    expected: dict[tuple, int] = {}
    streams: dict[tuple, list[bytes]] = {}
    pos, end, packets = 24, len(data), 0
    while pos + 16 <= end:
        _, _, caplen, _ = record.unpack_from(data, pos)
        pos += 16
        frame, pos = pos, pos + caplen
        packets += 1
        ethertype = u16(data, frame + 12)[0]
        if ethertype == 0x0800:
            vihl, total, _, frag, _, proto, _, src, dst = ipv4(data, frame + 14)
            if proto != 6 or frag & 0x3FFF:
                continue
            t = frame + 14 + (vihl & 15) * 4
            stop = frame + 14 + total
        elif ethertype == 0x86DD:
            if data[frame + 20] != 6:
                continue
            src, dst = data[frame + 22:frame + 38], data[frame + 38:frame + 54]
            t = frame + 54
            stop = t + u16(data, frame + 18)[0]
        else:
            continue
        sport, dport, seq, _, offflags = tcp(data, t)
        key = (src, sport, dst, dport)
        if offflags & 2:
            expected[key] = (seq + 1) & 0xFFFFFFFF
            streams.setdefault(key, [])
            continue
        nxt = expected.get(key)
        payload_at = t + (offflags >> 12) * 4
        if nxt is None or seq != nxt or payload_at >= stop:
            continue
        streams[key].append(data[payload_at:stop])
        expected[key] = (nxt + stop - payload_at) & 0xFFFFFFFF
    return packets, streams


def handwritten_joined(path: Path) -> tuple[int, dict[tuple, bytes]]:
    """The hand-written run with each direction's bytes joined, the output streams() gives
    (``conn.client.data``): the baseline of the ratios."""
    packets, streams = handwritten(path)
    return packets, {key: b"".join(parts) for key, parts in streams.items()}


# -- pktspec ------------------------------------------------------------------------------------


def with_streams(path: Path) -> tuple[int, dict[tuple, bytes]]:
    from pktspec.reassembly import streams

    out = {}
    for conn in streams(path, ordered=False):
        for side, peer in ((conn.client, conn.server), (conn.server, conn.client)):
            out[(side.address.raw, side.port.raw, peer.address.raw, peer.port.raw)] = side.data
    return 0, out


class _Keep:
    __slots__ = ("parts",)

    def __init__(self, conn: object) -> None:
        self.parts: tuple[list[bytes], list[bytes]] = ([], [])

    def reassembled(self, chunk) -> None:  # type: ignore[no-untyped-def]
        self.parts[chunk.direction].append(chunk.data)

    def complete(self) -> None:
        pass


def with_assembler(path: Path) -> tuple[int, dict[tuple, bytes]]:
    import pktspec
    from pktspec.reassembly import TCPAssembler

    kept: list[tuple[object, _Keep]] = []

    def factory(conn):  # type: ignore[no-untyped-def]
        kept.append((conn, _Keep(conn)))
        return kept[-1][1]

    assembler = TCPAssembler(factory)
    packets = 0
    for packet in pktspec.open(path):
        assembler.assemble(packet)
        packets += 1
    assembler.flush_all()
    out = {}
    for conn, keep in kept:
        for side, peer in ((conn.client, conn.server), (conn.server, conn.client)):
            out[(side.address.raw, side.port.raw, peer.address.raw, peer.port.raw)] = \
                b"".join(keep.parts[side.direction])
    return packets, out


# -- running ------------------------------------------------------------------------------------


def digest(streams: dict[tuple, object]) -> dict[tuple, str]:
    """sha256 of each non-empty direction, for comparing the runs."""
    out = {}
    for key, value in streams.items():
        data = b"".join(value) if isinstance(value, list) else value
        if data:
            out[key] = hashlib.sha256(data).hexdigest()
    return out


def decode_only(path: Path) -> tuple[int, dict[tuple, bytes]]:
    """pktspec.open alone: the decoding every pktspec run pays before reassembling."""
    import pktspec

    packets = 0
    for _ in pktspec.open(path):
        packets += 1
    return packets, {}


def open_minimal(path: Path) -> tuple[int, dict[tuple, list[bytes]]]:
    """pktspec.open + the in-order logic of handwritten(), on the decoded layers (as
    TCPAssembler.assemble reads them): what is left when reassembly costs next to nothing."""
    import pktspec
    from pktspec.protocols.tcp import TCP

    expected: dict[tuple, int] = {}
    streams: dict[tuple, list[bytes]] = {}
    packets = 0
    for packet in pktspec.open(path):
        packets += 1
        layers = packet._layers
        tcp = layers[-1]
        if type(tcp) is not TCP:
            continue
        net = layers[-2]
        key = (net._src, tcp.src_port, net._dst, tcp.dst_port)
        if tcp._flags & 2:
            expected[key] = (tcp.seq + 1) & 0xFFFFFFFF
            streams.setdefault(key, [])
            continue
        nxt = expected.get(key)
        hend, pend = tcp._hend, tcp._pend
        if nxt is None or tcp.seq != nxt or pend <= hend:
            continue
        streams[key].append(tcp._buf[hend:pend])
        expected[key] = (nxt + pend - hend) & 0xFFFFFFFF
    return packets, streams


def parser_minimal(path: Path) -> tuple[int, dict[tuple, list[bytes]]]:
    """The records decoded by a ``Parser`` of Ethernet, IPv4, IPv6 and TCP into preallocated
    layers (gopacket's DecodingLayerParser, as its reassembly examples use it) + the same
    in-order logic: what a streams() that decoded only to TCP could at best cost."""
    from pktspec.capture.files import open_records
    from pktspec.layers import TCP, Ethernet, IPv4, IPv6
    from pktspec.runtime import Parser

    parser = Parser(Ethernet, [Ethernet, IPv4, IPv6, TCP])
    decode_layers = parser.decode_layers
    ip4, ip6, tcp = parser[IPv4], parser[IPv6], parser[TCP]
    expected: dict[tuple, int] = {}
    streams: dict[tuple, list[bytes]] = {}
    packets = 0
    with open_records(str(path)) as records:
        for data, _info in records:
            packets += 1
            decoded = decode_layers(data)
            if len(decoded) < 3 or decoded[2] is not TCP:
                continue
            net = ip4 if decoded[1] is IPv4 else ip6
            key = (net._src, tcp.src_port, net._dst, tcp.dst_port)
            if tcp._flags & 2:
                expected[key] = (tcp.seq + 1) & 0xFFFFFFFF
                streams.setdefault(key, [])
                continue
            nxt = expected.get(key)
            hend, pend = tcp._hend, tcp._pend
            if nxt is None or tcp.seq != nxt or pend <= hend:
                continue
            streams[key].append(data[hend:pend])
            expected[key] = (nxt + pend - hend) & 0xFFFFFFFF
    return packets, streams


def timed(fn, path: Path, repeat: int):  # type: ignore[no-untyped-def]
    """Best CPU time of this process over repeat runs (other load on a shared machine
    disturbs CPU time much less than wall-clock time)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        result = fn(path)
        best = min(best, time.process_time() - start)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("capture", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    args = parser.parse_args(argv)
    if not args.capture.exists():
        print(f"{args.capture} not found: make it with ../shared/bench/make_capture.sh "
              "(see this file's docstring)", file=sys.stderr)
        return 2

    import pktspec  # noqa: F401  (import time is not part of any run)

    base_time, (packets, base) = timed(handwritten_joined, args.capture, args.repeat)
    payload = sum(len(b) for b in base.values())
    rows = [("handwritten", base_time, digest(base))]
    seconds, (_, lists) = timed(handwritten, args.capture, args.repeat)
    rows.append(("(handwritten, no join)", seconds, digest(lists)))
    for name, fn in (("pktspec streams()", with_streams),
                     ("pktspec TCPAssembler", with_assembler)):
        seconds, (_, streams) = timed(fn, args.capture, args.repeat)
        rows.append((name, seconds, digest(streams)))
    seconds, _ = timed(decode_only, args.capture, args.repeat)
    rows.append(("(pktspec.open alone)", seconds, None))
    seconds, (_, streams) = timed(open_minimal, args.capture, args.repeat)
    rows.append(("(open + minimal)", seconds, digest(streams)))
    seconds, (_, streams) = timed(parser_minimal, args.capture, args.repeat)
    rows.append(("(Parser + minimal)", seconds, digest(streams)))

    size = args.capture.stat().st_size
    print(f"{args.capture.name}: {packets} packets, {size / 1e6:.1f} MB, "
          f"{len(base)} directions, {payload / 1e6:.1f} MB of TCP payload; best of {args.repeat}")
    print(f"{'run':<22} {'seconds':>8} {'packets/s':>11} {'payload MB/s':>13} {'ratio':>6}  "
          f"same bytes")
    for name, seconds, digests in rows:
        if digests is None:
            same = "(decoding only, no reassembly)"
        else:
            same = "yes" if digests == rows[0][2] else _difference(rows[0][2], digests)
        print(f"{name:<22} {seconds:>8.2f} {packets / seconds:>11,.0f} "
              f"{payload / seconds / 1e6:>13.1f} {base_time / seconds:>6.2f}  {same}")
    return 0


def _difference(a: dict, b: dict) -> str:
    differ = sum(1 for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    return f"NO ({differ} directions differ)"


if __name__ == "__main__":
    sys.exit(main())
