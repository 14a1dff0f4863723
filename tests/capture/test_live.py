"""Live capture, through libpcap and through the AF_PACKET fallback, on a private loopback.

Each scenario runs in a child process inside a new network namespace (``unshare -n``), so
the only traffic on its ``lo`` is what the scenario sends: "exactly N packets" and "a quiet
interface" then mean what they say, and nothing leaves the machine. The scenarios are the
``scenario_*`` functions below; the child loads this file with runpy and calls one. Every
child has a timeout, and every wait inside a scenario is bounded.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pktspec.capture import libpcap
from pktspec.capture.afpacket import AFPacketSource
from pktspec.capture.live import LiveSource, list_interfaces, open_live
from pktspec.errors import FilterError, LiveCaptureError
from tests.conftest import netns_problem

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]
BACKENDS = ["libpcap", "afpacket"]
MATCHING, OTHER = 40001, 40002
N_MATCHING, N_OTHER = 5, 7

# Modules load before privileges drop: the interpreter may live under an unreadable /root.
BOOTSTRAP = """
import os, runpy, subprocess, sys
if sys.argv[1] == "netns":
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
scenario = runpy.run_path(sys.argv[2])[sys.argv[3]]
if sys.argv[1] == "nobody":
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
scenario(*sys.argv[4:])
"""


@functools.cache
def _require(backend: str) -> None:
    problem = netns_problem('live capture')
    if problem:
        pytest.skip(problem)
    if not libpcap.available():
        pytest.skip("libpcap is not installed (apt-get install libpcap0.8)")


def _run(mode: str, scenario: str, *args: str, timeout: float = 30) -> None:
    """Run scenario(*args) in a child: mode 'netns' (private lo) or 'nobody' (no privileges)."""
    command = [sys.executable, "-c", BOOTSTRAP, mode, str(HERE), scenario, *args]
    if mode == "netns":
        command = ["unshare", "-n", *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{scenario}{args} failed:\n{proc.stdout}\n{proc.stderr}"


# ------------------------------------------------------------------ tests (parent side)


@pytest.mark.root
@pytest.mark.parametrize("backend", BACKENDS)
def test_bpf_keeps_exactly_the_matching_datagrams(backend: str) -> None:
    _require(backend)
    _run("netns", "scenario_udp_port_filter", backend)


@pytest.mark.root
@pytest.mark.parametrize("backend", BACKENDS)
def test_quiet_interface_returns_on_time(backend: str) -> None:
    _require(backend)
    _run("netns", "scenario_quiet_interface", backend)


@pytest.mark.root
@pytest.mark.parametrize("backend", BACKENDS)
def test_close_from_another_thread_stops_iteration(backend: str) -> None:
    _require(backend)
    _run("netns", "scenario_close_from_thread", backend)


@pytest.mark.root
@pytest.mark.parametrize("backend", BACKENDS)
def test_ctrl_c_interrupts_a_waiting_capture(backend: str) -> None:
    _require(backend)
    _run("netns", "scenario_ctrl_c", backend)


@pytest.mark.root
@pytest.mark.parametrize("backend", BACKENDS)
def test_set_filter_and_inject(backend: str) -> None:
    _require(backend)
    _run("netns", "scenario_set_filter_and_inject", backend)


@pytest.mark.root
def test_afpacket_python_predicates_and_kernel_refused_programs() -> None:
    _require("afpacket")
    _run("netns", "scenario_afpacket_userland_filters")


@pytest.mark.root
def test_open_live_falls_back_to_afpacket_without_libpcap() -> None:
    _require("afpacket")
    _run("netns", "scenario_without_libpcap")


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_privileges_the_error_says_what_is_needed(backend: str) -> None:
    if backend == "libpcap" and not libpcap.available():
        pytest.skip("libpcap is not installed (apt-get install libpcap0.8)")
    if os.geteuid() != 0:
        scenario_unprivileged(backend)  # already unprivileged
        return
    _run("nobody", "scenario_unprivileged", backend)


def test_list_interfaces_describes_loopback() -> None:
    if not libpcap.available():
        pytest.skip("libpcap is not installed (apt-get install libpcap0.8)")
    lo = {i.name: i for i in list_interfaces()}.get("lo")
    assert lo is not None, "no loopback interface"
    assert lo.is_loopback and "127.0.0.1" in lo.addresses


def test_missing_interface_is_a_clear_error() -> None:
    with pytest.raises(LiveCaptureError, match="no such interface"):
        AFPacketSource("pktspec-no-such-if0")


# ------------------------------------------------------- scenarios (in the namespace)


def _open(backend: str, interface: str = "lo", **options: Any) -> LiveSource | AFPacketSource:
    if backend == "libpcap":
        return LiveSource(interface, **options)
    return AFPacketSource(interface, **options)


def _udp_payload(frame: bytes) -> tuple[int, bytes]:
    """(destination port, payload) of an Ethernet/IPv4/UDP frame."""
    ihl = (frame[14] & 0x0F) * 4
    udp = 14 + ihl
    return struct.unpack_from(">H", frame, udp + 2)[0], frame[udp + 8 :]


def _receivers(*ports: int) -> list[socket.socket]:
    """Bound sockets, so datagrams are delivered instead of answered with ICMP errors."""
    socks = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", port))
        socks.append(sock)
    return socks


def _send_mixed() -> None:
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(max(N_MATCHING, N_OTHER)):
        if i < N_MATCHING:
            sender.sendto(b"match-%d" % i, ("127.0.0.1", MATCHING))
        if i < N_OTHER:
            sender.sendto(b"other-%d" % i, ("127.0.0.1", OTHER))
    sender.close()


def scenario_udp_port_filter(backend: str) -> None:
    receivers = _receivers(MATCHING, OTHER)
    with _open(backend, bpf=f"udp port {MATCHING}") as src:
        before = time.time()
        _send_mixed()
        got = list(src.packets(count=N_MATCHING + N_OTHER, idle=0.5))
        stats = src.stats()
    assert [_udp_payload(d) for d, _ in got] == [
        (MATCHING, b"match-%d" % i) for i in range(N_MATCHING)
    ]
    for data, info in got:
        assert info.linktype == src.linktype == 1
        assert info.caplen == info.length == len(data)
        assert before - 1 < info.timestamp < time.time() + 1
    assert stats.received >= N_MATCHING and stats.dropped == 0, stats
    for sock in receivers:
        sock.close()


def scenario_quiet_interface(backend: str) -> None:
    with _open(backend) as src:
        start = time.monotonic()
        assert src.read(timeout=0.3) is None
        assert list(src.packets(duration=0.3)) == []
        assert list(src.packets(idle=0.2)) == []
        elapsed = time.monotonic() - start
    assert 0.7 <= elapsed < 3, elapsed


def scenario_close_from_thread(backend: str) -> None:
    src = _open(backend)
    seen: list[object] = []
    reader = threading.Thread(target=lambda: seen.extend(src))  # iterates until close()
    reader.start()
    time.sleep(0.3)
    start = time.monotonic()
    src.close()
    reader.join(timeout=3)
    assert not reader.is_alive(), "iteration did not stop after close()"
    assert time.monotonic() - start < 1.0
    assert src.read(timeout=5) is None and src.closed  # a closed source answers at once
    src.close()  # idempotent


def scenario_ctrl_c(backend: str) -> None:
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    start = time.monotonic()
    with _open(backend) as src:
        try:
            for _ in src:
                pass
        except KeyboardInterrupt:
            pass
        else:
            raise AssertionError("the capture ended without the interrupt")
    assert time.monotonic() - start < 2.0


def _udp_frame(port: int, payload: bytes) -> bytes:
    """An Ethernet/IPv4/UDP frame from 127.0.0.1 to 127.0.0.1:port (UDP checksum off)."""
    udp = struct.pack(">HHHH", 40999, port, 8 + len(payload), 0) + payload
    ip = bytearray(
        struct.pack(
            ">BBHHHBBH4s4s",
            0x45,
            0,
            20 + len(udp),
            1,
            0,
            64,
            17,
            0,
            socket.inet_aton("127.0.0.1"),
            socket.inet_aton("127.0.0.1"),
        )
    )
    total = sum(struct.unpack(">10H", ip))
    total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into(">H", ip, 10, ~((total & 0xFFFF) + (total >> 16)) & 0xFFFF)
    return bytes(12) + b"\x08\x00" + bytes(ip) + udp  # fmt: skip


def _accept_injected_local_sources() -> None:
    """Let this namespace's stack take injected frames from 127.0.0.1.

    Looped-back traffic keeps the route it was sent with; an injected frame has none, and
    a loopback source without a route is a martian, dropped silently. These sysctls are
    per network namespace, so the host is untouched.
    """
    for name in ("accept_local", "route_localnet"):
        Path(f"/proc/sys/net/ipv4/conf/lo/{name}").write_text("1")


def scenario_set_filter_and_inject(backend: str) -> None:
    _accept_injected_local_sources()
    port = 40003
    (receiver,) = _receivers(port)
    receiver.settimeout(2)
    frame = _udp_frame(port, b"injected")
    with _open(backend, bpf="udp port 1") as src:
        src.set_filter(f"udp port {port}")
        assert src.inject(frame) == len(frame)
        packet = src.read(timeout=2)
        assert packet is not None, "the injected frame was not captured"
        assert packet[0] == frame
        assert src.read(timeout=0.3) is None, "the frame was captured twice"
    assert receiver.recv(100) == b"injected"  # and the kernel delivered it
    receiver.close()


def scenario_afpacket_userland_filters() -> None:
    from pktspec.capture.bpf import compile_filter

    receivers = _receivers(MATCHING, OTHER)
    for bpf in (
        lambda data: b"match-" in data,
        compile_filter(f"ip protochain 17 and udp port {MATCHING}"),  # loops: kernel says no
    ):
        with AFPacketSource("lo", bpf=bpf) as src:
            _send_mixed()
            got = list(src.packets(count=N_MATCHING + N_OTHER, idle=0.5))
        payloads = [_udp_payload(d)[1] for d, _ in got]
        assert payloads == [b"match-%d" % i for i in range(N_MATCHING)], (bpf, payloads)
    for sock in receivers:
        sock.close()


def scenario_without_libpcap() -> None:
    libpcap.LIBRARY_NAMES = ("pcap-hidden-by-test",)
    libpcap.SONAMES = ("libpcap-hidden-by-test.so",)
    libpcap.load.cache_clear()
    assert not libpcap.available()
    try:
        AFPacketSource("lo", bpf="udp")
    except FilterError as exc:
        assert "predicate" in str(exc), exc
    else:
        raise AssertionError("compiling without libpcap should fail")
    receivers = _receivers(MATCHING, OTHER)
    with open_live("lo", bpf=lambda data: _udp_payload(data)[0] == MATCHING) as src:
        assert isinstance(src, AFPacketSource)
        _send_mixed()
        got = list(src.packets(count=N_MATCHING + N_OTHER, idle=0.5))
    assert len(got) == N_MATCHING
    for sock in receivers:
        sock.close()


def scenario_unprivileged(backend: str) -> None:
    try:
        _open(backend, promisc=False)
    except LiveCaptureError as exc:
        assert "root or the CAP_NET_RAW capability" in str(exc), exc
    else:
        raise AssertionError("capture without privileges should fail")
