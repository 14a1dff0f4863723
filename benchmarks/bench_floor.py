"""How far tuning the generated decoders could take the decode workload: a measured bound.

Runs bench_decode.py's eager and Parser workloads twice in one process, beside dpkt and the
hand-written decoder: once with the generated decoders, once with the ``_decode`` of
Ethernet, IPv4, IPv6, TCP and UDP replaced by the least code that finds the same boundaries
and next layer and stores the same slots, with no checks at all and the bit fields left
packed in their containers (so some fields hold wrong values: this is a measurement, never
a decoder). Whatever the generator does, it cannot beat that second run while layers stay
objects with one slot per field, so the gap between the two is all that tuning the
generated code can win.

    python benchmarks/bench_floor.py [--pcap x.pcap] [--packets 50000] [--compiled]

``--compiled`` adds a third run: the same five decoders compiled to C (floor_compiled.pyx,
the checks, slots and dispatch of the generated code, bytes read at C level and slots stored
through their descriptors' C setters), what a C back end for the generator would give while
the runtime around the decoders stays Python. Needs Cython and a C compiler; the module is
built into a temporary directory.

``--lazy-fields`` adds the last run: the other pure-Python design, layers that store only
where they are (buffer, offset, header and payload ends) and read every field from the bytes
when asked. Its decoders unpack only what bounds and dispatch need (with the generated
checks), and ``flow`` reads the addresses or ports from the buffer. If even that misses the
targets, no pure-Python layer design meets them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_decode as bench  # noqa: E402


def install_floor_decoders() -> None:
    """Replace five generated decoders by check-free ones (this process only)."""
    import pktspec.protocols.ethernet as eth
    import pktspec.protocols.ipv4 as ip4
    import pktspec.protocols.ipv6 as ip6
    import pktspec.protocols.tcp as tcp
    import pktspec.protocols.udp as udp

    e_unpack, ether_types = eth._Ethernet_S0.unpack_from, eth._T_EtherType
    v4_unpack, v6_unpack = ip4._IPv4_S0.unpack_from, ip6._IPv6_S0.unpack_from
    protocols = ip4._T_IPProtocol
    t_unpack, tcp_ports = tcp._TCP_S0.unpack_from, tcp._T_TCPPort
    u_unpack, udp_ports = udp._UDP_S0.unpack_from, udp._T_UDPPort

    # Written for speed as the generator writes: one store per statement, branches rather
    # than min()/max() calls (a builtin call costs more than a comparison).
    def ethernet(self, buf, off, end):
        self._dst, self._src, kind = e_unpack(buf, off)
        self.ethertype = kind
        self._buf = buf
        self._off = off
        self._hend = off + 14
        self._pend = end
        self._end = end
        return ether_types.get(kind)

    def ipv4(self, buf, off, end):
        (b0, b1, total, self.id, b6, self.ttl, proto, self.checksum, self._src,
         self._dst) = v4_unpack(buf, off)
        self.protocol = proto
        self.total_length = total
        self.version = b0  # packed: not the field values
        self.dscp = b1
        self._flags = b6
        pend = off + total
        if pend > end:
            pend = end
        self._buf = buf
        self._off = off
        self._hend = off + (b0 & 15) * 4
        self._pend = pend
        self._end = end
        return protocols.get(proto)

    def ipv6(self, buf, off, end):
        word, length, nh, self.hop_limit, self._src, self._dst = v6_unpack(buf, off)
        self.next_header = nh
        self.payload_length = length
        self.version = word
        hend = off + 40
        pend = hend + length
        if pend > end:
            pend = end
        self._buf = buf
        self._off = off
        self._hend = hend
        self._pend = pend
        self._end = end
        return protocols.get(nh)

    def tcp_(self, buf, off, end):
        (sp, dp, self.seq, self.ack, word, self.window, self.checksum,
         self.urgent) = t_unpack(buf, off)
        self.src_port = sp
        self.dst_port = dp
        self._flags = word
        hend = off + (word >> 12) * 4
        self._buf = buf
        self._off = off
        self._hend = hend
        self._pend = end
        self._end = end
        if hend == end:
            return None
        if sp > dp:
            sp, dp = dp, sp
        return tcp_ports.get(sp) or tcp_ports.get(dp)

    def udp_(self, buf, off, end):
        sp, dp, length, self.checksum = u_unpack(buf, off)
        self.src_port = sp
        self.dst_port = dp
        self.length = length
        pend = off + length
        if pend > end:
            pend = end
        self._buf = buf
        self._off = off
        self._hend = off + 8
        self._pend = pend
        self._end = end
        if sp > dp:
            sp, dp = dp, sp
        return udp_ports.get(sp) or udp_ports.get(dp)

    eth.Ethernet._decode = ethernet
    ip4.IPv4._decode = ipv4
    ip6.IPv6._decode = ipv6
    tcp.TCP._decode = tcp_
    udp.UDP._decode = udp_


def install_lazy_field_decoders() -> None:
    """Replace five generated decoders and four flow properties by lazy-field ones: the
    decoders keep the checks and store only the bounds, flows read the bytes."""
    import struct

    import pktspec.protocols.ethernet as eth
    import pktspec.protocols.ipv4 as ip4
    import pktspec.protocols.ipv6 as ip6
    import pktspec.protocols.tcp as tcp
    import pktspec.protocols.udp as udp

    ether_types, protocols = eth._T_EtherType, ip4._T_IPProtocol
    tcp_ports, udp_ports, fragment = tcp._T_TCPPort, udp._T_UDPPort, ip4.Fragment
    e_kind = struct.Struct(">H").unpack_from
    v4 = struct.Struct(">BxHxxHxB").unpack_from  # version/IHL, length, fragment, protocol
    v6 = struct.Struct(">BxxxHB").unpack_from  # version, payload length, next header
    t_head = struct.Struct(">HHxxxxxxxxB").unpack_from  # ports, data offset
    u_head = struct.Struct(">HHH").unpack_from  # ports, length
    addr4, addr16 = struct.Struct("4s4s").unpack_from, struct.Struct("16s16s").unpack_from
    ports = struct.Struct(">HH").unpack_from

    def ethernet(self, buf, off, end):
        if end - off < 14:
            raise self._truncated(buf, off, end)
        (kind,) = e_kind(buf, off + 12)
        self._buf = buf
        self._off = off
        self._hend = off + 14
        self._pend = end
        self._end = end
        return ether_types.get(kind)

    def ipv4(self, buf, off, end):
        if end - off < 20:
            raise self._truncated(buf, off, end)
        b0, total, frag, proto = v4(buf, off)
        if b0 >> 4 != 4:
            raise self._fail("version", off, "not 4")
        ihl = b0 & 15
        hend = off + ihl * 4
        if hend > end:
            raise self._truncated(buf, off, end)
        if ihl < 5:
            raise self._fail("requires", off, "IHL below 5")
        pend = off + total
        if pend < hend:
            raise self._fail("payload", off, "negative")
        if pend > end:
            pend = end
        self._buf = buf
        self._off = off
        self._hend = hend
        self._pend = pend
        self._end = end
        if frag & 0x1FFF:
            return fragment
        return protocols.get(proto)

    def ipv6(self, buf, off, end):
        if end - off < 40:
            raise self._truncated(buf, off, end)
        b0, length, nh = v6(buf, off)
        if b0 >> 4 != 6:
            raise self._fail("version", off, "not 6")
        hend = off + 40
        pend = hend + length
        if pend > end:
            pend = end
        self._buf = buf
        self._off = off
        self._hend = hend
        self._pend = pend
        self._end = end
        return protocols.get(nh)

    def tcp_(self, buf, off, end):
        if end - off < 20:
            raise self._truncated(buf, off, end)
        sp, dp, word = t_head(buf, off)
        hend = off + (word >> 4) * 4
        if hend > end:
            raise self._truncated(buf, off, end)
        self._buf = buf
        self._off = off
        self._hend = hend
        self._pend = end
        self._end = end
        if hend == end:
            return None
        if sp > dp:
            sp, dp = dp, sp
        return tcp_ports.get(sp) or tcp_ports.get(dp)

    def udp_(self, buf, off, end):
        if end - off < 8:
            raise self._truncated(buf, off, end)
        sp, dp, length = u_head(buf, off)
        pend = off + length
        if pend > end:
            pend = end
        self._buf = buf
        self._off = off
        self._hend = off + 8
        self._pend = pend
        self._end = end
        if sp > dp:
            sp, dp = dp, sp
        return udp_ports.get(sp) or udp_ports.get(dp)

    def flow_property(endpoints, unpack, at):
        def flow(self):
            key = unpack(self._buf, self._off + at)
            return endpoints.flows.get(key) or endpoints.flow(key)
        return property(flow)

    eth.Ethernet._decode = ethernet
    ip4.IPv4._decode = ipv4
    ip6.IPv6._decode = ipv6
    tcp.TCP._decode = tcp_
    udp.UDP._decode = udp_
    ip4.IPv4.flow = flow_property(ip4._EP_IPv4, addr4, 12)
    ip6.IPv6.flow = flow_property(ip6._EP_IPv6, addr16, 8)
    tcp.TCP.flow = flow_property(tcp._EP_TCP_port, ports, 0)
    udp.UDP.flow = flow_property(udp._EP_UDP_port, ports, 0)


def install_compiled_decoders() -> None:
    """Build floor_compiled.pyx and put its decoders in place of the five generated ones."""
    import pktspec.protocols.ethernet as eth
    import pktspec.protocols.ipv4 as ip4
    import pktspec.protocols.ipv6 as ip6
    import pktspec.protocols.tcp as tcp
    import pktspec.protocols.udp as udp

    source = Path(__file__).resolve().parent / "floor_compiled.pyx"
    build = Path(tempfile.mkdtemp(prefix="pktspec-floor-"))
    (build / source.name).write_bytes(source.read_bytes())
    subprocess.run([sys.executable, "-m", "Cython.Build.Cythonize", "-i", "-3", "-q",
                    source.name], cwd=build, check=True, stdout=subprocess.DEVNULL)
    sys.path.insert(0, str(build))
    import floor_compiled  # noqa: PLC0415 - built just above

    floor_compiled.install(
        [eth.Ethernet, ip4.IPv4, ip6.IPv6, tcp.TCP, udp.UDP],
        {"EtherType": eth._T_EtherType, "IPProtocol": ip4._T_IPProtocol,
         "TCPPort": tcp._T_TCPPort, "UDPPort": udp._T_UDPPort},
        eth.LLC, ip4.Fragment)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pcap", type=Path, default=bench.DEFAULT_PCAP)
    ap.add_argument("--packets", type=int, default=50_000)
    ap.add_argument("--budget", type=float, default=3.0, help="seconds per contender")
    ap.add_argument("--compiled", action="store_true",
                    help="also run with the five decoders compiled to C (needs Cython)")
    ap.add_argument("--lazy-fields", action="store_true",
                    help="also run with layers that store only their bounds (fields read "
                    "from the bytes when asked)")
    args = ap.parse_args()
    bench.ensure_capture(args.pcap)
    records = bench.load_records(args.pcap, args.packets)
    contenders = [("hand-written struct", bench.hand_written, records),
                  ("dpkt", bench.dpkt_decode, records),
                  ("pktspec eager decode", bench.pktspec_eager, records),
                  ("pktspec Parser", bench.pktspec_parser, records)]
    generated, _ = bench.timed_in_turns(contenders, args.budget)
    runs = [("generated", generated)]
    values_read = (bench.pktspec_eager(records), bench.pktspec_parser(records))
    if args.compiled:
        install_compiled_decoders()
        same = values_read == (bench.pktspec_eager(records), bench.pktspec_parser(records))
        runs.append(("compiled", bench.timed_in_turns(contenders[2:], args.budget)[0]))
        print(f"compiled decoders read the same values as the generated ones: {same}")
    install_floor_decoders()
    runs.append(("floor", bench.timed_in_turns(contenders[2:], args.budget)[0]))
    if args.lazy_fields:
        install_lazy_field_decoders()
        same = values_read == (bench.pktspec_eager(records), bench.pktspec_parser(records))
        runs.append(("lazy", bench.timed_in_turns(contenders[2:], args.budget)[0]))
        print(f"lazy-field layers read the same values as the generated ones: {same}")
    report(f"{len(records)} records of {args.pcap}", generated, runs)


def report(what: str, peers: dict[str, float], runs: list[tuple[str, dict]]) -> None:
    """The table of the eager and Parser workloads per run of decoders, beside the
    hand-written decoder and dpkt of the first run (peers)."""
    hand, dpkt = peers["hand-written struct"], peers["dpkt"]
    print(f"{what}; hand-written {1e6 / hand:.2f} us/packet, dpkt {1e6 / dpkt:.2f} us/packet")
    print(f"\n{'workload':24} {'decoders':10} {'us/packet':>10} {'vs dpkt':>9} {'vs hand':>9}")
    for name in ("pktspec eager decode", "pktspec Parser"):
        for label, rates in runs:
            rate = rates[name]
            print(f"{name:24} {label:10} {1e6 / rate:10.2f} {rate / dpkt:8.2f}x "
                  f"{rate / hand:8.3f}x")


if __name__ == "__main__":
    main()
