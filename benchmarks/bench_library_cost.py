"""What the full protocol library costs the Ethernet/IP/TCP workload, against the core layers.

Runs benchmarks/bench_decode.py's pktspec workloads twice, each in a fresh process: once with
only the core modules loaded (PKTSPEC_PROTOCOLS=ethernet,ipv4,ipv6,tcp,udp,payload,linktypes)
and once with the whole library, alternating, and reports packets/s and the ratio. Issue 3's
bound: the full library may not slow this workload by more than 10%.

    python benchmarks/bench_library_cost.py [--pcap PATH] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORE = "ethernet,ipv4,ipv6,tcp,udp,payload,linktypes"
SNIPPET = """
import sys, time
sys.path.insert(0, {here!r})
import bench_decode as b
from pathlib import Path
import pktspec
from pktspec.runtime import REGISTRY
records = b.load_records(Path({pcap!r}), {packets})
out = [len(REGISTRY.layers())]
for fn in (b.pktspec_eager, b.pktspec_lazy, b.pktspec_parser):
    rate, _ = b.timed(fn, records, 2.0)
    out.append(rate)
print(*out)
"""


def run(pcap: Path, packets: int, only: str | None) -> list[float]:
    env = dict(os.environ)
    env.pop("PKTSPEC_PROTOCOLS", None)
    if only:
        env["PKTSPEC_PROTOCOLS"] = only
    code = SNIPPET.format(here=str(HERE), pcap=str(pcap), packets=packets)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return [float(x) for x in out]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pcap", type=Path, default=HERE / "data" / "loopback.pcap")
    ap.add_argument("--packets", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    import bench_decode

    bench_decode.ensure_capture(args.pcap)
    best = {"core": [0.0] * 4, "full": [0.0] * 4}
    for _ in range(args.rounds):
        for label, only in (("core", CORE), ("full", None)):
            result = run(args.pcap, args.packets, only)
            best[label] = [max(a, b) for a, b in zip(best[label], result, strict=True)]
    print(f"layers registered: core {best['core'][0]:.0f}, full {best['full'][0]:.0f}")
    print(f"{'workload':22} {'core pkt/s':>12} {'full pkt/s':>12} {'full/core':>10}")
    for i, name in enumerate(("pktspec eager decode", "pktspec lazy decode", "pktspec Parser"), 1):
        core, full = best["core"][i], best["full"][i]
        print(f"{name:22} {core:12,.0f} {full:12,.0f} {full / core:9.3f}x")


if __name__ == "__main__":
    main()
