"""Built packets go where captured ones go: into pcap and pcapng files (and back out, the
same bytes, the same layers), and out of an interface through libpcap and AF_PACKET.

Sending runs in a child process inside a new network namespace (``unshare -n``), on its own
loopback, so nothing leaves the machine; without root it is skipped.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pktspec
from pktspec.capture.pcap import PcapWriter
from pktspec.capture.pcapng import PcapngWriter
from pktspec.runtime.serialize import serialize
from tests.building.conftest import layer
from tests.conftest import netns_problem

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]
BOOTSTRAP = """
import runpy, subprocess, sys
subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
runpy.run_path(sys.argv[1])[sys.argv[2]](*sys.argv[3:])
"""


def frames(n: int = 3) -> list[bytes]:
    """Ethernet/IPv4/UDP frames from 127.0.0.1 to 127.0.0.1:port 40100 + i (no UDP checksum,
    which a receiving socket would check against the IPv4 pseudo-header)."""
    Ethernet, IPv4, UDP = layer("Ethernet"), layer("IPv4"), layer("UDP")
    return [serialize(Ethernet(src="00:00:00:00:00:00", dst="00:00:00:00:00:00"),
                      IPv4(src="127.0.0.1", dst="127.0.0.1", id=i),
                      UDP(src_port=40999, dst_port=40100 + i, checksum=0),
                      b"built-%d" % i) for i in range(n)]


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_built_packets_go_into_capture_files_and_come_back(tmp_path, kind):
    path = tmp_path / f"built.{kind}"
    built = frames()
    if kind == "pcap":
        with PcapWriter(str(path)) as writer:
            for i, data in enumerate(built):
                writer.write(data, 1_700_000_000 + i)
    else:
        with PcapngWriter(str(path)) as writer:
            iface = writer.add_interface(1, name="built")
            for i, data in enumerate(built):
                writer.write(data, 1_700_000_000 + i, interface=iface)
    back = list(pktspec.open(str(path)))
    assert [bytes(p.data) for p in back] == built
    assert [p[layer("UDP")].dst_port for p in back] == [40100, 40101, 40102]
    assert all(serialize(p) == p.data for p in back)


# ---- sending -----------------------------------------------------------------------------


@functools.cache
@pytest.mark.root
@pytest.mark.parametrize("backend", ["libpcap", "afpacket"])
def test_built_frames_are_sent_and_received_on_loopback(backend):
    from pktspec.capture import libpcap

    problem = netns_problem('sending')
    if problem:
        pytest.skip(problem)
    if backend == "libpcap" and not libpcap.available():
        pytest.skip("libpcap is not installed (apt-get install libpcap0.8)")
    command = ["unshare", "-n", sys.executable, "-c", BOOTSTRAP, str(HERE),
               "scenario_send", backend]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"


def scenario_send(backend: str) -> None:
    """In the namespace: send built frames, see each captured as built and delivered to a
    socket by the kernel (which parsed what we built)."""
    import socket

    from pktspec.capture.afpacket import AFPacketSource
    from pktspec.capture.live import LiveSource

    for name in ("accept_local", "route_localnet"):  # injected frames have no route
        Path(f"/proc/sys/net/ipv4/conf/lo/{name}").write_text("1")
    built = frames()
    receivers = []
    for i in range(len(built)):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 40100 + i))
        sock.settimeout(2)
        receivers.append(sock)
    source = LiveSource("lo", bpf="udp dst portrange 40100-40102") if backend == "libpcap" \
        else AFPacketSource("lo", bpf="udp dst portrange 40100-40102")
    with source:
        send = source.inject if backend == "libpcap" else source.send
        for data in built:
            assert send(data) == len(data)
        got = [source.read(timeout=2) for _ in built]
    assert [g[0] if g is not None else None for g in got] == built
    assert [sock.recv(100) for sock in receivers] == [b"built-%d" % i for i in range(3)]
