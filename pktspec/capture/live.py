"""Live capture from a network interface through libpcap, and what all live sources share.

A live source is an iterator of ``(data, CaptureInfo)`` pairs, like a file reader, with three
extra promises that make it safe in tools and tests:

* a quiet interface never hangs the caller: the handle is nonblocking and we wait in
  ``poll()``, so ``read(timeout)`` returns None on time and ``packets(idle=...)`` ends;
* ``close()`` from another thread, or Ctrl-C, stops an iteration at once: the poll also
  watches a wake-up pipe that ``close()`` writes to, and signals interrupt ``poll()``;
* filters run in the kernel (``set_filter``), so uninteresting traffic is never copied.

::

    with LiveSource("eth0", bpf="udp port 53") as src:
        for data, info in src.packets(count=10, duration=5.0):
            print(info.timestamp, len(data))
        print(src.stats())

:func:`open_live` picks libpcap when it is installed and the AF_PACKET socket of
:mod:`pktspec.capture.afpacket` otherwise; both share :class:`PolledSource`. Filter
compilation lives in :mod:`pktspec.capture.bpf`, the C binding in
:mod:`pktspec.capture.libpcap`.
"""

from __future__ import annotations

import abc
import ctypes
import os
import select
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import LiveCaptureError
from ..runtime.metadata import CaptureInfo
from . import libpcap
from .bpf import BPFProgram, compile_on_handle

if TYPE_CHECKING:
    from .afpacket import AFPacketSource

Packet = tuple[bytes, CaptureInfo]

NEED_PRIVILEGES = "live capture needs root or the CAP_NET_RAW capability"


@dataclass(frozen=True)
class CaptureStats:
    """Counters since the capture started (libpcap's struct pcap_stat).

    ``received`` counts packets that passed the filter, ``dropped`` those the kernel had
    no buffer room for, ``if_dropped`` those the interface itself dropped (0 if unknown).
    """

    received: int
    dropped: int
    if_dropped: int = 0


@dataclass(frozen=True)
class Interface:
    """A capture device as pcap_findalldevs describes it."""

    name: str
    description: str | None = None
    addresses: list[str] = field(default_factory=list)
    flags: int = 0

    @property
    def is_loopback(self) -> bool:
        return bool(self.flags & libpcap.PCAP_IF_LOOPBACK)

    @property
    def is_up(self) -> bool:
        return bool(self.flags & libpcap.PCAP_IF_UP)

    @property
    def is_running(self) -> bool:
        return bool(self.flags & libpcap.PCAP_IF_RUNNING)


class PolledSource(abc.ABC):
    """Waiting, iteration and closing for nonblocking live sources.

    Subclasses provide ``_try_read()`` (one packet or None, never blocking), ``_release()``
    (free the OS resources) and ``fileno()``. The lock is held only around ``_try_read`` and
    ``_release``, so ``close()`` from another thread waits at most one nonblocking read.
    """

    linktype: int = 1

    def __init__(self, poll_interval: float) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._pipe_finalizer = weakref.finalize(self, _close_fds, self._wake_r, self._wake_w)
        self._poll_ms = max(int(poll_interval * 1000), 10)
        self._poller: select.poll | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    @abc.abstractmethod
    def fileno(self) -> int:
        ...

    @abc.abstractmethod
    def _try_read(self) -> Packet | None:
        ...

    @abc.abstractmethod
    def _release(self) -> None:
        ...

    def _wait(self, seconds: float | None) -> None:
        """Sleep until data may be ready, the source is closed, or ``seconds`` pass."""
        if self._poller is None:
            self._poller = select.poll()
            self._poller.register(self.fileno(), select.POLLIN)
            self._poller.register(self._wake_r, select.POLLIN)
        ms = self._poll_ms if seconds is None else min(self._poll_ms, int(seconds * 1000) + 1)
        self._poller.poll(ms)

    def read(self, timeout: float | None = None) -> Packet | None:
        """The next packet, or None when ``timeout`` seconds pass first or the source closes.

        ``timeout=None`` waits until a packet arrives or ``close()`` is called.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                packet = None if self._closed else self._try_read()
            if packet is not None or self._closed:
                return packet
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            self._wait(remaining)

    def packets(
        self,
        count: int | None = None,
        duration: float | None = None,
        idle: float | None = None,
    ) -> Iterator[Packet]:
        """Packets until ``count`` arrived, ``duration`` seconds passed, ``idle`` seconds
        went by without one, or the source was closed (any that comes first)."""
        deadline = None if duration is None else time.monotonic() + duration
        seen = 0
        while count is None or seen < count:
            waits = [w for w in (idle, _left(deadline)) if w is not None]
            packet = self.read(min(waits) if waits else None)
            if packet is None:  # closed, or the idle or duration budget ran out
                return
            seen += 1
            yield packet

    def __iter__(self) -> Iterator[Packet]:
        """Every packet until ``close()`` (or Ctrl-C)."""
        return self.packets()

    def close(self) -> None:
        """Stop capturing; safe from any thread and idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        with self._lock:
            self._release()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


def _close_fds(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


class LiveSource(PolledSource):
    """Capture on an interface with libpcap: ``pcap_create``, options, ``pcap_activate``.

    ``timeout`` is libpcap's buffer timeout and how often a waiting read wakes up;
    ``immediate`` delivers each packet at once instead of batching (latency over
    throughput, right for interactive tools and tests). Timestamps are nanoseconds when
    the library supports it. ``linktype`` is the LINKTYPE_* value files would record.
    """

    def __init__(
        self,
        interface: str,
        bpf: str | BPFProgram | None = None,
        snaplen: int = 262144,
        promisc: bool = True,
        timeout: float = 0.1,
        buffer_size: int | None = None,
        immediate: bool = True,
    ) -> None:
        self._lib = libpcap.load()
        self.interface = interface
        self.snaplen = snaplen
        self.warnings: list[str] = []
        self._handle: int | None = _create(self._lib, interface)
        self._finalizer = weakref.finalize(self, self._lib.pcap_close, self._handle)
        try:
            self.ts_resolution = self._configure(snaplen, promisc, timeout, buffer_size, immediate)
            self._activate()
            self.dlt = self._lib.pcap_datalink(self._handle)
            self.linktype = libpcap.DLT_TO_LINKTYPE.get(self.dlt, self.dlt)
            self._fd = self._lib.pcap_get_selectable_fd(self._handle)
        except BaseException:
            self._finalizer()
            raise
        super().__init__(timeout)
        self.filter: str | BPFProgram | None = None
        if bpf is not None:
            try:
                self.set_filter(bpf)
            except BaseException:
                self.close()
                raise
        self._hdr = ctypes.POINTER(libpcap.PcapPkthdr)()
        self._data = ctypes.POINTER(ctypes.c_ubyte)()

    def _configure(
        self,
        snaplen: int,
        promisc: bool,
        timeout: float,
        buffer_size: int | None,
        immediate: bool,
    ) -> int:
        """Set the options pcap_create left at their defaults; return the ts resolution."""
        lib, h = self._lib, self._handle
        lib.pcap_set_snaplen(h, snaplen)
        lib.pcap_set_promisc(h, int(promisc))
        lib.pcap_set_timeout(h, max(int(timeout * 1000), 1))
        if buffer_size is not None:
            lib.pcap_set_buffer_size(h, buffer_size)
        if immediate and hasattr(lib, "pcap_set_immediate_mode"):
            lib.pcap_set_immediate_mode(h, 1)
        if hasattr(lib, "pcap_set_tstamp_precision"):
            if lib.pcap_set_tstamp_precision(h, libpcap.PCAP_TSTAMP_PRECISION_NANO) == 0:
                return 1_000_000_000
        return 1_000_000

    def _activate(self) -> None:
        rc = self._lib.pcap_activate(self._handle)
        if rc > 0:
            self.warnings.append(f"{libpcap.status_text(rc)}: {libpcap.geterr(self._handle)}")
        elif rc < 0:
            raise _activate_error(self.interface, rc, libpcap.geterr(self._handle))
        errbuf = libpcap.errbuf()
        if self._lib.pcap_setnonblock(self._handle, 1, errbuf) < 0:
            raise LiveCaptureError(f"{self.interface}: cannot go nonblocking: {errbuf.value!r}")

    def fileno(self) -> int:
        return self._fd

    def set_filter(self, bpf: str | BPFProgram) -> None:
        """Filter in the kernel from now on: an expression (compiled for this handle, which
        knows the link type and Linux VLAN offload) or an already compiled program."""
        with self._lock:
            handle = self._live_handle()
            if isinstance(bpf, BPFProgram):
                program = libpcap.make_program(bpf.instructions)
            else:
                program = libpcap.make_program(compile_on_handle(handle, bpf))
            if self._lib.pcap_setfilter(handle, ctypes.byref(program)) < 0:
                raise LiveCaptureError(f"{self.interface}: {libpcap.geterr(handle)}")
            self.filter = bpf

    def _live_handle(self) -> int:
        if self._handle is None:
            raise LiveCaptureError(f"{self.interface}: the capture is closed")
        return self._handle

    def _try_read(self) -> Packet | None:
        rc = self._lib.pcap_next_ex(
            self._handle, ctypes.byref(self._hdr), ctypes.byref(self._data)
        )
        if rc == 1:
            hdr = self._hdr.contents
            data = ctypes.string_at(self._data, hdr.caplen)
            info = CaptureInfo(
                hdr.ts.tv_sec,
                hdr.ts.tv_usec,
                self.ts_resolution,
                hdr.caplen,
                hdr.len,
                0,
                self.linktype,
            )
            return data, info
        if rc == 0 or rc == libpcap.PCAP_ERROR_BREAK:
            return None
        raise LiveCaptureError(f"{self.interface}: {libpcap.geterr(self._handle)}")

    def stats(self) -> CaptureStats:
        """Kernel counters for this capture (pcap_stats)."""
        st = libpcap.PcapStat()
        with self._lock:
            handle = self._live_handle()
            if self._lib.pcap_stats(handle, ctypes.byref(st)) < 0:
                raise LiveCaptureError(f"{self.interface}: {libpcap.geterr(handle)}")
        return CaptureStats(st.ps_recv, st.ps_drop, st.ps_ifdrop)

    def inject(self, data: bytes) -> int:
        """Send a complete frame (link-layer header included) out of the interface."""
        with self._lock:
            handle = self._live_handle()
            sent = self._lib.pcap_inject(handle, bytes(data), len(data))
            if sent < 0:
                raise LiveCaptureError(f"{self.interface}: {libpcap.geterr(handle)}")
        return sent

    send = inject

    def _release(self) -> None:
        if self._handle is not None:
            self._handle = None
            self._finalizer()

    def __enter__(self) -> LiveSource:
        return self

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<LiveSource {self.interface!r} linktype={self.linktype} {state}>"


def _create(lib: ctypes.CDLL, interface: str) -> int:
    errbuf = libpcap.errbuf()
    handle = lib.pcap_create(interface.encode(), errbuf)
    if not handle:
        raise LiveCaptureError(f"{interface}: {errbuf.value.decode(errors='replace')}")
    return handle


def _activate_error(interface: str, rc: int, detail: str) -> LiveCaptureError:
    """A LiveCaptureError that says what to do, not just libpcap's status number."""
    if rc in (libpcap.PCAP_ERROR_PERM_DENIED, libpcap.PCAP_ERROR_PROMISC_PERM_DENIED):
        advice = NEED_PRIVILEGES
        if rc == libpcap.PCAP_ERROR_PROMISC_PERM_DENIED:
            advice += " (promiscuous mode may also need CAP_NET_ADMIN: try promisc=False)"
        return LiveCaptureError(f"cannot capture on {interface!r}: {advice} ({detail})")
    if rc == libpcap.PCAP_ERROR_NO_SUCH_DEVICE:
        return LiveCaptureError(f"no such interface {interface!r} ({detail})")
    if rc == libpcap.PCAP_ERROR_IFACE_NOT_UP:
        return LiveCaptureError(f"interface {interface!r} is down ({detail})")
    return LiveCaptureError(f"cannot capture on {interface!r}: {detail or rc}")


def list_interfaces() -> list[Interface]:
    """Capture devices with their addresses; names only when libpcap is missing."""
    if not libpcap.available():
        return [Interface(name) for _, name in socket.if_nameindex()]
    lib = libpcap.load()
    alldevs = ctypes.POINTER(libpcap.PcapIf)()
    errbuf = libpcap.errbuf()
    if lib.pcap_findalldevs(ctypes.byref(alldevs), errbuf) < 0:
        raise LiveCaptureError(f"cannot list interfaces: {errbuf.value!r}")
    try:
        return [_interface(dev) for dev in libpcap.iter_devices(alldevs)]
    finally:
        lib.pcap_freealldevs(alldevs)


def _interface(dev: libpcap.PcapIf) -> Interface:
    addresses = [libpcap.sockaddr_text(a.addr) for a in libpcap.iter_addresses(dev)]
    return Interface(
        name=dev.name.decode(errors="replace"),
        description=dev.description.decode(errors="replace") if dev.description else None,
        addresses=[a for a in addresses if a],
        flags=dev.flags,
    )


def open_live(interface: str, **options: Any) -> LiveSource | AFPacketSource:
    """A live source on ``interface``: libpcap when installed, else an AF_PACKET socket."""
    if libpcap.available():
        return LiveSource(interface, **options)
    from .afpacket import AFPacketSource

    return AFPacketSource(interface, **options)
