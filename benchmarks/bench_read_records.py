"""Records per second when only iterating a capture: pktspec's readers beside their peers.

Run from the checkout: ``python benchmarks/bench_read_records.py [--records N] [--repeat R]``.
It writes a pcap of N records (default 1,000,000) with pktspec's own writer into
benchmarks/data/ (git-ignored), converts it to pcapng, then times, in one run and on the same
records:

* a minimal struct reader: big chunks, one ``unpack_from`` per record, a tuple per record
  instead of a CaptureInfo (the pure-Python limit for this work);
* ``dpkt.pcap.Reader`` (and ``dpkt.pcapng.Reader`` on the pcapng copy);
* pktspec's ``PcapReader`` and ``PcapngReader``.

Each reader runs R times, interleaved; the best time counts (other load on the machine only
ever makes a run slower). The ratios are the numbers to quote; timings are never asserted in
tests.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pktspec.capture.pcap import PcapReader, PcapWriter  # noqa: E402
from pktspec.capture.pcapng import PcapngReader, PcapngWriter  # noqa: E402
from pktspec.runtime.metadata import CaptureInfo  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
SIZES = (54, 60, 66, 74, 98, 150, 60, 66)  # bytes: mostly small, like TCP/UDP traffic


def make_files(records: int) -> tuple[Path, Path]:
    """The pcap and pcapng files of ``records`` records, made once and reused."""
    DATA.mkdir(parents=True, exist_ok=True)
    pcap, pcapng = DATA / f"records-{records}.pcap", DATA / f"records-{records}.pcapng"
    if not pcap.exists():
        payload = bytes(range(256)) * 6
        with PcapWriter(pcap) as writer:
            for i in range(records):
                size = SIZES[i % len(SIZES)]
                info = CaptureInfo(1_700_000_000 + i // 5000, (i % 5000) * 200, 10**6, size, size)
                writer.write(payload[:size], info)
    if not pcapng.exists():
        with PcapngWriter(pcapng) as writer:
            for data, info in PcapReader(pcap):
                writer.write(data, info)
    return pcap, pcapng


def minimal_struct_reader(path: Path) -> Iterator[tuple[bytes, tuple[int, int, int, int]]]:
    """The least a pure-Python pcap reader can do (little-endian only, no checks)."""
    unpack = struct.Struct("<IIII").unpack_from
    with open(path, "rb") as f:
        f.read(24)
        buf, pos = b"", 0
        while True:
            end = len(buf)
            while pos + 16 <= end:
                header = unpack(buf, pos)
                stop = pos + 16 + header[2]
                if stop > end:
                    break
                yield buf[pos + 16 : stop], header
                pos = stop
            more = f.read(1 << 20)
            if not more:
                return
            buf, pos = buf[pos:] + more, 0


def dpkt_pcap(path: Path) -> Iterator[tuple[float, bytes]]:
    import dpkt

    with open(path, "rb") as f:
        yield from dpkt.pcap.Reader(f)


def dpkt_pcapng(path: Path) -> Iterator[tuple[float, bytes]]:
    import dpkt

    with open(path, "rb") as f:
        yield from dpkt.pcapng.Reader(f)


def count(records: Iterator[object]) -> int:
    n = 0
    for _ in records:
        n += 1
    return n


def measure(readers: dict[str, tuple[Callable[[Path], Iterator[object]], Path]], repeat: int):
    """Best records/s of each reader, running them in turn ``repeat`` times."""
    best: dict[str, float] = {}
    counts: dict[str, int] = {}
    for _ in range(repeat):
        for name, (reader, path) in readers.items():
            start = time.perf_counter()
            counts[name] = count(reader(path))
            rate = counts[name] / (time.perf_counter() - start)
            best[name] = max(best.get(name, 0.0), rate)
    return best, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pcap, pcapng = make_files(args.records)
    readers = {
        "minimal struct reader (pcap)": (minimal_struct_reader, pcap),
        "dpkt.pcap.Reader": (dpkt_pcap, pcap),
        "pktspec PcapReader": (PcapReader, pcap),
        "dpkt.pcapng.Reader": (dpkt_pcapng, pcapng),
        "pktspec PcapngReader": (PcapngReader, pcapng),
    }
    best, counts = measure(readers, args.repeat)
    assert len(set(counts.values())) == 1, f"readers disagree on the record count: {counts}"
    print(
        f"{args.records:,} records; pcap {pcap.stat().st_size:,} B, pcapng {pcapng.stat().st_size:,} B"
    )
    print(f"best of {args.repeat}, Python {sys.version.split()[0]}")
    base = best["minimal struct reader (pcap)"]
    for name, rate in best.items():
        print(f"  {name:30s} {rate / 1e6:6.2f} M records/s   {rate / base:5.2f}x minimal")
    ours, ng = best["pktspec PcapReader"], best["pktspec PcapngReader"]
    print(f"  PcapReader / dpkt.pcap.Reader     {ours / best['dpkt.pcap.Reader']:5.2f}x")
    print(f"  PcapngReader / dpkt.pcapng.Reader {ng / best['dpkt.pcapng.Reader']:5.2f}x")
    print(f"  PcapngReader / PcapReader         {ng / ours:5.2f}x")


if __name__ == "__main__":
    main()
