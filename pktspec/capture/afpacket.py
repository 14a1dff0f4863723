"""Live capture with a Linux AF_PACKET socket, for machines without libpcap.

It offers the interface of :class:`~pktspec.capture.live.LiveSource` (iteration, ``read``,
``packets``, ``stats``, ``close`` from any thread, ``send``) using only the standard library
and the kernel:

* the socket is created with protocol 0, which receives nothing, and only starts receiving
  when bound to ETH_P_ALL after the filter is attached, so no unfiltered packet slips in;
* ``SO_RCVBUF`` is raised (``SO_RCVBUFFORCE`` as root) so bursts are not dropped;
* each packet is received with ``recvmsg_into`` into one preallocated buffer, with
  ``MSG_TRUNC`` for the length on the wire and ``SO_TIMESTAMPNS`` for a nanosecond
  kernel timestamp;
* on loopback every packet passes the tap twice (out and back in): ``PACKET_IGNORE_OUTGOING``
  keeps one copy, as libpcap does (older kernels: the outgoing copy is skipped in Python).

Filters: a :class:`~pktspec.capture.bpf.BPFProgram` is attached with ``SO_ATTACH_FILTER``
(compiling an expression needs libpcap, but a program's instructions are just integers and
can come from anywhere); programs the kernel refuses, such as ``protochain`` loops, run in
Python instead. Without libpcap, pass a Python predicate ``f(data) -> bool``.

Only interfaces with Ethernet-style headers (Ethernet, loopback) and raw-IP tunnels are
supported; for anything else use libpcap.
"""

from __future__ import annotations

import ctypes
import errno
import socket
import struct
import time
from collections.abc import Callable

from ..errors import FilterError, LiveCaptureError
from ..runtime.metadata import CaptureInfo
from .bpf import BPFProgram, compile_filter
from .live import NEED_PRIVILEGES, CaptureStats, Packet, PolledSource

Predicate = Callable[[bytes], bool]
Accept = Callable[[bytes, int], bool]  # (captured bytes, length on the wire)

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_STATISTICS = 6
PACKET_IGNORE_OUTGOING = 23
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33
SO_TIMESTAMPNS = 35
SO_ATTACH_FILTER = 26

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
ARPHRD_NONE = 0xFFFE
#: Interface hardware types whose SOCK_RAW frames are a known LINKTYPE.
HATYPE_TO_LINKTYPE = {ARPHRD_ETHER: 1, ARPHRD_LOOPBACK: 1, ARPHRD_NONE: 101}

_TIMESPEC = struct.Struct("@qq")
_ANC_SIZE = socket.CMSG_SPACE(_TIMESPEC.size)
_REJECT_ALL = [(0x06, 0, 0, 0)]  # ret #0
_MAX_SKIPPED = 256


class AFPacketSource(PolledSource):
    """Capture on one interface through an AF_PACKET raw socket (no libpcap needed).

    ``bpf`` is an expression (compiled with libpcap when present), a BPFProgram, or a
    Python predicate on the frame bytes. ``ignore_outgoing`` defaults to True on loopback.
    """

    def __init__(
        self,
        interface: str,
        bpf: str | BPFProgram | Predicate | None = None,
        snaplen: int = 262144,
        promisc: bool = True,
        timeout: float = 0.1,
        buffer_size: int | None = 4 << 20,
        immediate: bool = True,
        ignore_outgoing: bool | None = None,
    ) -> None:
        self.interface = interface
        self.snaplen = snaplen
        self.ts_resolution = 1_000_000_000
        self._sock = _open_socket(interface)
        try:
            self._setup(interface, promisc, buffer_size, ignore_outgoing)
            self._accept: Accept | None = None
            self.filter: str | BPFProgram | Predicate | None = None
            if bpf is not None:
                self.set_filter(bpf)
            self._sock.bind((interface, ETH_P_ALL))  # reception starts only now
        except BaseException:
            self._sock.close()
            raise
        super().__init__(timeout)
        self._buf = bytearray(snaplen)
        self._view = memoryview(self._buf)
        self._totals = [0, 0]

    def _setup(
        self, interface: str, promisc: bool, buffer_size: int | None, ignore: bool | None
    ) -> None:
        sock = self._sock
        sock.bind((interface, 0))  # protocol 0: attached to the interface, receiving nothing
        self.hatype = sock.getsockname()[3]
        if self.hatype not in HATYPE_TO_LINKTYPE:
            raise LiveCaptureError(
                f"{interface}: hardware type {self.hatype} is not supported by the AF_PACKET "
                "fallback; install libpcap0.8 to capture on it"
            )
        self.linktype = HATYPE_TO_LINKTYPE[self.hatype]
        if buffer_size:
            _set_rcvbuf(sock, buffer_size)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        if promisc and self.hatype != ARPHRD_LOOPBACK:
            mreq = struct.pack(
                "@iHH8s", socket.if_nametoindex(interface), PACKET_MR_PROMISC, 0, b""
            )
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        self._skip_outgoing = False
        if ignore if ignore is not None else self.hatype == ARPHRD_LOOPBACK:
            try:
                sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            except OSError:  # before Linux 4.20: drop them in Python
                self._skip_outgoing = True
        sock.setblocking(False)

    def fileno(self) -> int:
        return self._sock.fileno()

    def set_filter(self, bpf: str | BPFProgram | Predicate) -> None:
        """Filter from now on: in the kernel when possible, else in Python."""
        if callable(bpf) and not isinstance(bpf, BPFProgram):
            predicate = bpf
            self._accept, self.filter = (lambda data, _wirelen: predicate(data)), bpf
            return
        program = bpf if isinstance(bpf, BPFProgram) else self._compile(bpf)
        if program.has_backward_jumps or not self._attach(program):
            self._accept = program.matches  # the kernel refused it: run it here
        else:
            self._accept = None
        self.filter = bpf

    def _compile(self, expr: str) -> BPFProgram:
        try:
            return compile_filter(expr, self.linktype, self.snaplen)
        except LiveCaptureError as exc:
            raise FilterError(
                f"compiling {expr!r} needs libpcap ({exc}); pass a BPFProgram or a Python "
                "predicate such as lambda data: ... instead"
            ) from exc

    def _attach(self, program: BPFProgram) -> bool:
        """Attach in the kernel, first dropping what the old filter let in; False if refused."""
        try:
            _attach_filter(self._sock, _REJECT_ALL)
            self._drain()
            _attach_filter(self._sock, program.instructions)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOMEM):
                raise LiveCaptureError(f"{self.interface}: SO_ATTACH_FILTER: {exc}") from exc
            _attach_filter(self._sock, [(0x06, 0, 0, 0xFFFFFFFF)])  # accept all; Python filters
            return False
        return True

    def _drain(self) -> None:
        while True:
            try:
                self._sock.recv(1, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return

    def _try_read(self) -> Packet | None:
        # A bounded number of rejected packets per call, so close() never waits on a flood.
        for _ in range(_MAX_SKIPPED):
            try:
                size, anc, _flags, addr = self._sock.recvmsg_into(
                    [self._view], _ANC_SIZE, socket.MSG_TRUNC | socket.MSG_DONTWAIT
                )
            except (BlockingIOError, InterruptedError):
                return None
            if self._skip_outgoing and addr[2] == PACKET_OUTGOING:
                continue
            caplen = min(size, len(self._buf))
            data = bytes(self._view[:caplen])
            if self._accept is not None and not self._accept(data, size):
                continue
            sec, nsec = _timestamp(anc)
            return data, CaptureInfo(sec, nsec, 1_000_000_000, caplen, size, 0, self.linktype)
        return None

    def stats(self) -> CaptureStats:
        """Kernel counters; PACKET_STATISTICS resets on read, so they are summed here."""
        with self._lock:
            if self._closed:
                raise LiveCaptureError(f"{self.interface}: the capture is closed")
            raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        packets, drops = struct.unpack("@II", raw)
        self._totals[0] += packets
        self._totals[1] += drops
        return CaptureStats(self._totals[0], self._totals[1], 0)

    def send(self, data: bytes) -> int:
        """Send a complete frame (link-layer header included) out of the interface."""
        try:
            return self._sock.send(data)
        except OSError as exc:
            raise LiveCaptureError(f"{self.interface}: send: {exc}") from exc

    inject = send

    def _release(self) -> None:
        self._sock.close()

    def __enter__(self) -> AFPacketSource:
        return self

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<AFPacketSource {self.interface!r} linktype={self.linktype} {state}>"


def _open_socket(interface: str) -> socket.socket:
    try:
        socket.if_nametoindex(interface)
    except OSError:
        raise LiveCaptureError(f"no such interface {interface!r}") from None
    try:
        return socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError as exc:
        raise LiveCaptureError(f"cannot capture on {interface!r}: {NEED_PRIVILEGES}") from exc


def _set_rcvbuf(sock: socket.socket, size: int) -> None:
    """SO_RCVBUFFORCE passes net.core.rmem_max (root only); SO_RCVBUF is capped by it."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


def _attach_filter(sock: socket.socket, instructions: list[tuple[int, int, int, int]]) -> None:
    """SO_ATTACH_FILTER takes a struct sock_fprog: a length and a pointer to the code."""
    code = (_SockFilter * len(instructions))(*(_SockFilter(*i) for i in instructions))
    fprog = struct.pack("@HP", len(instructions), ctypes.addressof(code))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def _timestamp(ancdata: list[tuple[int, int, bytes]]) -> tuple[int, int]:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            return _TIMESPEC.unpack(data[: _TIMESPEC.size])
    now = time.time_ns()
    return now // 1_000_000_000, now % 1_000_000_000
