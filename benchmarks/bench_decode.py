"""Decode benchmark: pktspec (eager, lazy, fast Parser) beside dpkt, scapy, construct and a
hand-written struct decoder, in one run, on the same records, reported as ratios.

Workload (DESIGN.md section 8): a real capture of loopback HTTP, DNS and ping traffic, records
preloaded into memory so that only decoding is timed; for every packet decode to the
transport layer and read both addresses and both ports (through the flows for pktspec).

    python benchmarks/bench_decode.py                  # records the capture if missing (root)
    python benchmarks/bench_decode.py --pcap x.pcap --packets 50000
    python benchmarks/bench_decode.py --all-layers     # also load 50 extra .layer files
    python benchmarks/bench_decode.py --breakdown      # where pktspec's time goes, per part
    python benchmarks/bench_decode.py --interpreted    # built-in programs in the interpreter
    PKTSPEC_PURE=1 python benchmarks/bench_decode.py   # the pure-Python loop (no extension)

Contenders run in turns (one round of each, then the next round), so a change in the
machine's load hits all of them alike, and each reports its best round. Rounds are timed in
CPU time of this process (``--wall`` for wall-clock time): on a shared machine, time spent
waiting for a CPU is not decoding.

The capture is made by ../shared/bench/make_capture.sh (real traffic in a private network
namespace; needs root, tcpdump, curl, dnsutils, iputils-ping, ethtool) and kept out of git.
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_PCAP = HERE / "data" / "loopback.pcap"
MAKE_CAPTURE = HERE.parent.parent / "shared" / "bench" / "make_capture.sh"
CLOCK = time.process_time
"""How rounds are timed: CPU time of this process (``--wall`` switches to time.perf_counter)."""


def ensure_capture(path: Path) -> None:
    if path.exists():
        return
    if not MAKE_CAPTURE.exists():
        sys.exit(f"no capture at {path} and no {MAKE_CAPTURE} to make one")
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"recording {path} with {MAKE_CAPTURE.name} (real loopback traffic) ...",
          file=sys.stderr)
    subprocess.run(["bash", str(MAKE_CAPTURE), str(path), "1500", "600", "1", "4000", "200"],
                   check=True, stdout=subprocess.DEVNULL)


def load_records(path: Path, limit: int) -> list[bytes]:
    from pktspec.capture.files import open_records

    records = []
    with open_records(str(path)) as reader:
        for data, _info in reader:
            records.append(data)
            if len(records) >= limit:
                break
    return records


# ---- the workloads: each returns a checksum of what it read, so nothing is skipped -------

def hand_written(records: list[bytes]) -> int:
    """The pure-Python limit: struct.unpack_from on fixed offsets, no objects."""
    u16, u8 = struct.Struct(">H").unpack_from, struct.Struct(">B").unpack_from
    ports = struct.Struct(">HH").unpack_from
    total = 0
    for buf in records:
        (etype,) = u16(buf, 12)
        if etype == 0x0800:
            (vihl,) = u8(buf, 14)
            proto = buf[23]
            src, dst = buf[26:30], buf[30:34]
            off = 14 + (vihl & 15) * 4
        elif etype == 0x86DD:
            proto = buf[20]
            src, dst = buf[22:38], buf[38:54]
            off = 54
        else:
            continue
        if proto == 6 or proto == 17:
            sport, dport = ports(buf, off)
            total += sport + dport + len(src) + len(dst)
    return total


def pktspec_eager(records: list[bytes]) -> int:
    from pktspec.layers import Ethernet
    from pktspec.runtime import decode

    total = 0
    for buf in records:
        p = decode(buf, Ethernet)
        net, trans = p.network, p.transport
        if net is None or trans is None:
            continue
        nf, tf = net.flow, trans.flow
        total += tf.src.raw + tf.dst.raw + len(nf.src.raw) + len(nf.dst.raw)
    return total


def pktspec_lazy(records: list[bytes]) -> int:
    from pktspec.layers import Ethernet
    from pktspec.runtime import decode

    total = 0
    for buf in records:
        p = decode(buf, Ethernet, lazy=True)
        trans = p.transport
        if trans is None:
            continue
        nf, tf = p.network.flow, trans.flow
        total += tf.src.raw + tf.dst.raw + len(nf.src.raw) + len(nf.dst.raw)
    return total


def pktspec_parser(records: list[bytes]) -> int:
    from pktspec.layers import TCP, UDP, Ethernet, IPv4, IPv6
    from pktspec.runtime import Parser

    parser = Parser(Ethernet, [Ethernet, IPv4, IPv6, TCP, UDP])
    ip4, ip6, tcp, udp = parser[IPv4], parser[IPv6], parser[TCP], parser[UDP]
    decode_layers = parser.decode_layers
    total = 0
    for buf in records:
        decoded = decode_layers(buf)
        if len(decoded) < 3:
            continue
        net = ip4 if decoded[1] is IPv4 else ip6
        trans = tcp if decoded[2] is TCP else udp
        nf, tf = net.flow, trans.flow
        total += tf.src.raw + tf.dst.raw + len(nf.src.raw) + len(nf.dst.raw)
    return total


def dpkt_decode(records: list[bytes]) -> int:
    import dpkt

    Ethernet, IP, IP6 = dpkt.ethernet.Ethernet, dpkt.ip.IP, dpkt.ip6.IP6
    TCP, UDP = dpkt.tcp.TCP, dpkt.udp.UDP
    total = 0
    for buf in records:
        eth = Ethernet(buf)
        ip = eth.data
        if not isinstance(ip, (IP, IP6)):
            continue
        t = ip.data
        if not isinstance(t, (TCP, UDP)):
            continue
        total += t.sport + t.dport + len(ip.src) + len(ip.dst)
    return total


def scapy_decode(records: list[bytes]) -> int:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    total = 0
    for buf in records:
        pkt = Ether(buf)
        net = pkt.getlayer(IP) or pkt.getlayer(IPv6)
        trans = pkt.getlayer(TCP) or pkt.getlayer(UDP)
        if net is None or trans is None:
            continue
        total += trans.sport + trans.dport + len(net.src) + len(net.dst)
    return total


def construct_decode(records: list[bytes]) -> int:
    """construct's plain parse of the same headers (pktspec's reference path, FORMAT)."""
    from pktspec.layers import TCP, UDP, Ethernet, IPv4, IPv6

    eth_f, ip4_f, ip6_f, tcp_f, udp_f = (c.FORMAT for c in (Ethernet, IPv4, IPv6, TCP, UDP))
    total = 0
    for buf in records:
        eth = eth_f.parse(buf)
        if eth.ethertype == 0x0800:
            ip = ip4_f.parse(buf[14:])
            rest, proto = buf[14 + ip.ihl * 4:], ip.protocol
        elif eth.ethertype == 0x86DD:
            ip = ip6_f.parse(buf[14:])
            rest, proto = buf[54:], ip.next_header
        else:
            continue
        if proto == 6:
            t = tcp_f.parse(rest)
        elif proto == 17:
            t = udp_f.parse(rest)
        else:
            continue
        total += t.src_port + t.dst_port + len(ip.src) + len(ip.dst)
    return total


def timed(fn: Callable[[list[bytes]], int], records: list[bytes], budget: float) -> tuple[float, int]:
    """Packets per second of fn, best of a few rounds within about budget seconds."""
    fn(records[:200])  # warm up imports and caches
    best, rounds, spent = 0.0, 0, 0.0
    check = 0
    while rounds < 3 or (spent < budget and rounds < 10):
        t0 = CLOCK()
        check = fn(records)
        dt = CLOCK() - t0
        best = max(best, len(records) / dt)
        spent += dt
        rounds += 1
        if dt > budget:
            break
    return best, check


def timed_in_turns(
    contenders: list[tuple[str, Callable[[list[bytes]], int], list[bytes]]], budget: float
) -> tuple[dict[str, float], dict[str, int]]:
    """Packets per second of each contender, best of rounds run in turns.

    Every round runs each contender once, so all of them see the same machine; rounds go on
    (at least 3, at most 10) until each contender has used about budget seconds.
    """
    best = {name: 0.0 for name, _, _ in contenders}
    spent = {name: 0.0 for name, _, _ in contenders}
    checks: dict[str, int] = {}
    for _, fn, recs in contenders:
        fn(recs[:200])  # warm up imports and caches
    for rounds in range(1, 11):
        for name, fn, recs in contenders:
            if rounds > 3 and spent[name] >= budget:
                continue
            t0 = CLOCK()
            checks[name] = fn(recs)
            dt = CLOCK() - t0
            best[name] = max(best[name], len(recs) / dt)
            spent[name] += dt
        if rounds >= 3 and all(t >= budget for t in spent.values()):
            break
    return best, checks


def load_extra_layers(count: int) -> None:
    """Load count more .layer files, each binding a layer into UDPPort and EtherType.

    The issue's check that more .layer files do not slow decoding: dispatch stays one dict
    lookup, so the same capture must decode as fast with them as without.
    """
    import pktspec

    tmp = Path(tempfile.mkdtemp(prefix="pktspec-bench-layers-"))
    os.environ.setdefault("PKTSPEC_CACHE", str(tmp / "cache"))
    for i in range(count):
        path = tmp / f"extra{i}.layer"
        path.write_text(
            'import "udp.layer"\nimport "ethernet.layer"\n'
            f"layer BenchExtra{i} : application {{\n  tag: u16;\n}}\n"
            f"extend UDPPort {{ {20000 + i} -> BenchExtra{i} }}\n"
            f"extend EtherType {{ {0x9000 + i:#x} -> BenchExtra{i} }}\n"
        )
        pktspec.load(path)


# ---- --breakdown: where pktspec's time goes ------------------------------------------------

def _eager_decode_only(records: list[bytes]) -> int:
    from pktspec.layers import Ethernet
    from pktspec.runtime import decode

    for buf in records:
        decode(buf, Ethernet)
    return 0


def _eager_typed_layers(records: list[bytes]) -> int:
    from pktspec.layers import Ethernet
    from pktspec.runtime import decode

    for buf in records:
        p = decode(buf, Ethernet)
        p.network, p.transport  # noqa: B018 - the lookups are what is timed
    return 0


def _eager_flows(records: list[bytes]) -> int:
    from pktspec.layers import Ethernet
    from pktspec.runtime import decode

    for buf in records:
        p = decode(buf, Ethernet)
        net, trans = p.network, p.transport
        if net is not None and trans is not None:
            net.flow, trans.flow  # noqa: B018
    return 0


def _parser_decode_only(records: list[bytes]) -> int:
    from pktspec.layers import TCP, UDP, Ethernet, IPv4, IPv6
    from pktspec.runtime import Parser

    decode_layers = Parser(Ethernet, [Ethernet, IPv4, IPv6, TCP, UDP]).decode_layers
    for buf in records:
        decode_layers(buf)
    return 0


def breakdown(records: list[bytes], budget: float) -> None:
    """Print what each part of pktspec's workloads costs per packet, and which layer chains
    the eager decode spends its time in."""
    parts = [
        ("eager: decode()", _eager_decode_only),
        ("eager: + network, transport", _eager_typed_layers),
        ("eager: + both flows", _eager_flows),
        ("eager: + four endpoints (all)", pktspec_eager),
        ("Parser: decode_layers()", _parser_decode_only),
        ("Parser: + flows, endpoints (all)", pktspec_parser),
    ]
    rates, _ = timed_in_turns([(name, fn, records) for name, fn in parts], budget)
    print(f"\n{'part of the workload':34} {'us/packet':>10} {'this step':>10}")
    previous = 0.0
    for name, _ in parts:
        us = 1e6 / rates[name]
        step = us - previous if not name.startswith("Parser: decode") else us
        print(f"{name:34} {us:10.2f} {step:+10.2f}")
        previous = us

    from pktspec.layers import Ethernet
    from pktspec.runtime import decode

    chains: dict[tuple[str, ...], list[bytes]] = defaultdict(list)
    for buf in records:
        chains[tuple(layer.name for layer in decode(buf, Ethernet).layers)].append(buf)
    rows = []
    for chain, recs in chains.items():
        sample = recs[:2000]
        rate, _ = timed(_eager_decode_only, sample, budget / 10)
        rows.append((len(recs) / rate, len(recs), 1e6 / rate, chain))
    total = sum(r[0] for r in rows)
    print(f"\n{'eager decode() by layer chain':50} {'packets':>8} {'us/packet':>10} {'share':>6}")
    for seconds, count, us, chain in sorted(rows, reverse=True)[:12]:
        print(f"{' / '.join(chain)[:50]:50} {count:8} {us:10.2f} {seconds / total:6.1%}")


def interpret_built_in_programs() -> None:
    """Give each layer with a program its interpreted form instead of the compiled one."""
    from pktspec.runtime import REGISTRY, fastpath

    if not fastpath.ACTIVE:
        sys.exit("--interpreted needs the compiled loop (the extension is not built or is off)")
    for cls in REGISTRY.layers():
        if cls.__dict__.get("_fast") is not None:
            cls._fast = fastpath._ext.Program(cls._PROGRAM, cls,
                                              cls.__dict__["_decode"].__globals__)


def fastpath_line(layers: list) -> str:
    from pktspec.runtime import fastpath

    return fastpath.status(layers)


def main() -> None:
    global CLOCK
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pcap", type=Path, default=DEFAULT_PCAP)
    ap.add_argument("--packets", type=int, default=50_000)
    ap.add_argument("--slow-packets", type=int, default=5_000,
                    help="records for scapy and construct (they are 20-500x slower)")
    ap.add_argument("--budget", type=float, default=3.0, help="seconds per contender")
    ap.add_argument("--all-layers", action="store_true",
                    help="load 50 extra .layer files first (dispatch must not slow down)")
    ap.add_argument("--breakdown", action="store_true",
                    help="also time each part of pktspec's workloads and each layer chain")
    ap.add_argument("--wall", action="store_true",
                    help="time rounds in wall-clock time instead of CPU time")
    ap.add_argument("--interpreted", action="store_true",
                    help="run the built-in layers' programs in the extension's interpreter, "
                         "as a user's .layer file runs (docs/FASTPATH.md)")
    args = ap.parse_args()
    if args.wall:
        CLOCK = time.perf_counter
    ensure_capture(args.pcap)
    import pktspec  # noqa: F401
    from pktspec.runtime import REGISTRY

    if args.all_layers:
        load_extra_layers(50)
    if args.interpreted:
        interpret_built_in_programs()
    records = load_records(args.pcap, args.packets)
    slow = records[: args.slow_packets]
    print(f"capture: {args.pcap} ({len(records)} records; {len(slow)} for the slow ones); "
          f"python {sys.version.split()[0]}, pid {os.getpid()}; "
          f"{len(REGISTRY.layers())} layers registered; "
          f"{fastpath_line(REGISTRY.layers())}; "
          f"{'wall-clock' if args.wall else 'CPU'} time, contenders in turns")
    contenders = [
        ("hand-written struct", hand_written, records),
        ("pktspec eager decode", pktspec_eager, records),
        ("pktspec lazy decode", pktspec_lazy, records),
        ("pktspec Parser", pktspec_parser, records),
        ("dpkt", dpkt_decode, records),
        ("construct FORMAT.parse", construct_decode, slow),
        ("scapy", scapy_decode, slow),
    ]
    results, checks = timed_in_turns(contenders, args.budget)
    full = {name: checks[name] for name, _, recs in contenders if len(recs) == len(records)}
    agree = len(set(full.values())) == 1
    hand, dpkt_rate = results["hand-written struct"], results["dpkt"]
    print(f"\n{'contender':26} {'packets/s':>12} {'vs dpkt':>9} {'vs hand':>9}")
    for name, rate in results.items():
        print(f"{name:26} {rate:12,.0f} {rate / dpkt_rate:8.2f}x {rate / hand:8.3f}x")
    print(f"\nall full-size contenders read the same values: {agree}")
    if not agree:  # say who (scapy's addresses are text, so its sum of their lengths differs)
        reference = full["hand-written struct"]
        print("  differing from the hand-written decoder: " + ", ".join(
            name for name, value in full.items() if value != reference))
    if args.breakdown:
        breakdown(records, args.budget)


if __name__ == "__main__":
    main()
