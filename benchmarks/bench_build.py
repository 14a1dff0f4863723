"""Build benchmark: Ethernet / IPv4 / TCP with a payload, lengths and both checksums computed,
by pktspec, dpkt and scapy (and a hand-written struct builder, the pure-Python limit) in one
run, as microseconds per packet and ratios.

Every contender makes the layer objects and serializes them, once per packet, with the same
field values (the sequence number and source port change from packet to packet, so nothing
is reused), and every one must produce the same bytes: the run checks that first.

    python benchmarks/bench_build.py
    python benchmarks/bench_build.py --packets 20000 --budget 2
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
import time
from collections.abc import Callable

SRC_MAC, DST_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
SRC_IP, DST_IP = "192.0.2.1", "192.0.2.2"
PAYLOAD = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"


def port_and_seq(i: int) -> tuple[int, int]:
    return 1024 + i % 60000, (i * 7919) & 0xFFFFFFFF


# ---- the contenders: fn(n) builds n packets and returns them -----------------------------

def hand_written(n: int) -> list[bytes]:
    """struct.pack of the three headers and a one's complement sum: no objects at all."""
    eth = bytes.fromhex(DST_MAC.replace(":", "") + SRC_MAC.replace(":", "")) + b"\x08\x00"
    src, dst = socket.inet_aton(SRC_IP), socket.inet_aton(DST_IP)
    ip_fmt, tcp_fmt = struct.Struct(">BBHHHBBH4s4s"), struct.Struct(">HHIIHHHH")
    out = []
    for i in range(n):
        sport, seq = port_and_seq(i)
        tcp_len = 20 + len(PAYLOAD)
        ip = ip_fmt.pack(0x45, 0, 20 + tcp_len, 1, 0, 64, 6, 0, src, dst)
        ip = ip[:10] + _cksum(ip).to_bytes(2, "big") + ip[12:]
        tcp = tcp_fmt.pack(sport, 80, seq, 0, 0x5002, 8192, 0, 0)
        pseudo = src + dst + struct.pack(">BBH", 0, 6, tcp_len)
        tcp = tcp[:16] + _cksum(pseudo + tcp + PAYLOAD).to_bytes(2, "big") + tcp[18:]
        out.append(eth + ip + tcp + PAYLOAD)
    return out


def _cksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    total = (total & 0xFFFF) + (total >> 16)
    total += total >> 16
    return ~total & 0xFFFF


def pktspec_serialize(n: int) -> list[bytes]:
    from pktspec.layers import TCP, Ethernet, IPv4
    from pktspec.runtime.serialize import serialize

    out = []
    for i in range(n):
        sport, seq = port_and_seq(i)
        out.append(serialize(Ethernet(src=SRC_MAC, dst=DST_MAC),
                             IPv4(src=SRC_IP, dst=DST_IP, id=1),
                             TCP(src_port=sport, dst_port=80, seq=seq, flags="S", window=8192),
                             PAYLOAD))
    return out


def pktspec_stack(n: int) -> list[bytes]:
    from pktspec.layers import TCP, Ethernet, IPv4

    out = []
    for i in range(n):
        sport, seq = port_and_seq(i)
        out.append(bytes(Ethernet(src=SRC_MAC, dst=DST_MAC) / IPv4(src=SRC_IP, dst=DST_IP, id=1)
                         / TCP(src_port=sport, dst_port=80, seq=seq, flags="S", window=8192)
                         / PAYLOAD))
    return out


def dpkt_build(n: int) -> list[bytes]:
    import dpkt

    src_mac = bytes.fromhex(SRC_MAC.replace(":", ""))
    dst_mac = bytes.fromhex(DST_MAC.replace(":", ""))
    out = []
    for i in range(n):
        sport, seq = port_and_seq(i)
        tcp = dpkt.tcp.TCP(sport=sport, dport=80, seq=seq, flags=dpkt.tcp.TH_SYN, win=8192,
                           data=PAYLOAD)
        ip = dpkt.ip.IP(src=socket.inet_aton(SRC_IP), dst=socket.inet_aton(DST_IP), id=1,
                        ttl=64, p=dpkt.ip.IP_PROTO_TCP, data=tcp)
        ip.len = 20 + len(tcp)
        eth = dpkt.ethernet.Ethernet(src=src_mac, dst=dst_mac, type=dpkt.ethernet.ETH_TYPE_IP,
                                     data=ip)
        out.append(bytes(eth))
    return out


def scapy_build(n: int) -> list[bytes]:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    out = []
    for i in range(n):
        sport, seq = port_and_seq(i)
        pkt = (Ether(src=SRC_MAC, dst=DST_MAC) / IP(src=SRC_IP, dst=DST_IP, id=1, ttl=64)
               / TCP(sport=sport, dport=80, seq=seq, flags="S", window=8192) / PAYLOAD)
        out.append(bytes(pkt))
    return out


def construct_build(n: int) -> list[bytes]:
    """pktspec's reference builder alone: each header through its construct FORMAT.build,
    with the lengths and checksums worked out by hand (what the FORMAT does not do)."""
    from pktspec.layers import TCP, Ethernet, IPv4
    from pktspec.runtime.constructs import inet_checksum

    src, dst = socket.inet_aton(SRC_IP), socket.inet_aton(DST_IP)
    eth = Ethernet.FORMAT.build(dict(dst=bytes.fromhex(DST_MAC.replace(":", "")),
                                     src=bytes.fromhex(SRC_MAC.replace(":", "")),
                                     ethertype=0x800))
    out = []
    for i in range(n):
        sport, seq = port_and_seq(i)
        tcp_fields = dict(src_port=sport, dst_port=80, seq=seq, ack=0, data_offset=5,
                          reserved=0, flags=2, window=8192, checksum=0, urgent=0, options=[])
        tcp = TCP.FORMAT.build(tcp_fields)
        pseudo = src + dst + struct.pack(">BBH", 0, 6, len(tcp) + len(PAYLOAD))
        tcp_fields["checksum"] = inet_checksum(pseudo, tcp, PAYLOAD)
        tcp = TCP.FORMAT.build(tcp_fields)
        ip_fields = dict(version=4, ihl=5, dscp=0, ecn=0, total_length=20 + len(tcp) +
                         len(PAYLOAD), id=1, flags=0, fragment_offset=0, ttl=64, protocol=6,
                         checksum=0, src=src, dst=dst, options=[])
        ip_fields["checksum"] = inet_checksum(IPv4.FORMAT.build(ip_fields))
        out.append(eth + IPv4.FORMAT.build(ip_fields) + tcp + PAYLOAD)
    return out


def timed(fn: Callable[[int], list[bytes]], n: int, budget: float) -> float:
    """Microseconds per packet of fn, the best of a few rounds within about budget seconds."""
    fn(50)  # imports, plans, caches
    best, rounds, spent = float("inf"), 0, 0.0
    while rounds < 3 or (spent < budget and rounds < 15):
        t0 = time.perf_counter()
        fn(n)
        dt = time.perf_counter() - t0
        best = min(best, dt / n * 1e6)
        spent += dt
        rounds += 1
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=5_000)
    ap.add_argument("--slow-packets", type=int, default=500,
                    help="packets for scapy and construct (they are 10-100x slower)")
    ap.add_argument("--budget", type=float, default=2.0, help="seconds per contender")
    args = ap.parse_args()
    import pktspec  # noqa: F401
    from pktspec.layers import IPv4

    if getattr(IPv4, "PSEUDO_HEADER", None) is None:
        print("note: IPv4 declares no pseudo_header in ipv4.layer, so pktspec's TCP checksum "
              "leaves it out and its bytes differ from the others'", file=sys.stderr)
    contenders = [
        ("hand-written struct", hand_written, args.packets),
        ("pktspec serialize()", pktspec_serialize, args.packets),
        ("pktspec a / b / c", pktspec_stack, args.packets),
        ("dpkt", dpkt_build, args.packets),
        ("construct FORMAT.build", construct_build, args.slow_packets),
        ("scapy", scapy_build, args.slow_packets),
    ]
    reference = hand_written(200)
    same = {name: fn(200) == reference for name, fn, _ in contenders}
    results = {name: timed(fn, n, args.budget) for name, fn, n in contenders}
    print(f"Ethernet/IPv4/TCP + {len(PAYLOAD)} bytes, lengths and checksums computed; "
          f"python {sys.version.split()[0]}")
    print(f"\n{'contender':24} {'us/packet':>10} {'vs scapy':>9} {'vs dpkt':>8} "
          f"{'same bytes':>11}")
    for name, us in results.items():
        print(f"{name:24} {us:10.2f} {results['scapy'] / us:8.1f}x "
              f"{results['dpkt'] / us:7.2f}x {str(same[name]):>11}")
    best = min(results["pktspec serialize()"], results["pktspec a / b / c"])
    print(f"\npktspec: {results['scapy'] / best:.1f}x scapy (target >= 5x), "
          f"{results['dpkt'] / best:.2f}x dpkt (target >= 1x)")


if __name__ == "__main__":
    main()
