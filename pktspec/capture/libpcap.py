"""ctypes binding to libpcap (Debian's libpcap0.8), loaded on first use.

Nothing here touches the shared library at import time: ``import pktspec`` must work on a
machine without libpcap, where only the pure-Python readers and the AF_PACKET fallback are
usable. The first call to :func:`load` finds ``libpcap.so.0.8`` (or any ``libpcap.so``),
declares the argument and result types of every function we call, and caches the handle.

Only the C structures and the raw calls live here; :mod:`pktspec.capture.live` and
:mod:`pktspec.capture.bpf` turn them into Python objects and errors.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import ipaddress
import socket
import struct
from collections.abc import Iterable, Iterator
from ctypes import POINTER, c_char_p, c_int, c_uint, c_uint32, c_void_p

from ..errors import LiveCaptureError

#: Names given to ctypes.util.find_library, then sonames tried directly (tests patch these).
LIBRARY_NAMES: tuple[str, ...] = ("pcap",)
SONAMES: tuple[str, ...] = ("libpcap.so.0.8", "libpcap.so.1", "libpcap.so")

PCAP_ERRBUF_SIZE = 256
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF
PCAP_TSTAMP_PRECISION_MICRO = 0
PCAP_TSTAMP_PRECISION_NANO = 1

PCAP_ERROR = -1
PCAP_ERROR_BREAK = -2
PCAP_ERROR_NO_SUCH_DEVICE = -5
PCAP_ERROR_PERM_DENIED = -8
PCAP_ERROR_IFACE_NOT_UP = -9
PCAP_ERROR_PROMISC_PERM_DENIED = -11

PCAP_IF_LOOPBACK = 0x1
PCAP_IF_UP = 0x2
PCAP_IF_RUNNING = 0x4
PCAP_IF_WIRELESS = 0x8

#: DLT_* values that differ from the LINKTYPE_* values written in capture files.
DLT_TO_LINKTYPE = {12: 101, 14: 101}
LINKTYPE_TO_DLT = {101: 12}


class Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class PcapPkthdr(ctypes.Structure):
    _fields_ = [("ts", Timeval), ("caplen", c_uint32), ("len", c_uint32)]


class BpfInsn(ctypes.Structure):
    """struct bpf_insn; the kernel's struct sock_filter has the same layout."""

    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", c_uint32),
    ]


class BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", c_uint), ("bf_insns", POINTER(BpfInsn))]


class PcapStat(ctypes.Structure):
    _fields_ = [("ps_recv", c_uint), ("ps_drop", c_uint), ("ps_ifdrop", c_uint)]


class Sockaddr(ctypes.Structure):
    _fields_ = [("sa_family", ctypes.c_uint16), ("sa_data", ctypes.c_ubyte * 14)]


class PcapAddr(ctypes.Structure):
    pass


PcapAddr._fields_ = [
    ("next", POINTER(PcapAddr)),
    ("addr", POINTER(Sockaddr)),
    ("netmask", POINTER(Sockaddr)),
    ("broadaddr", POINTER(Sockaddr)),
    ("dstaddr", POINTER(Sockaddr)),
]


class PcapIf(ctypes.Structure):
    pass


PcapIf._fields_ = [
    ("next", POINTER(PcapIf)),
    ("name", c_char_p),
    ("description", c_char_p),
    ("addresses", POINTER(PcapAddr)),
    ("flags", c_uint32),
]

_P = c_void_p  # pcap_t *
_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "pcap_create": (_P, [c_char_p, c_char_p]),
    "pcap_set_snaplen": (c_int, [_P, c_int]),
    "pcap_set_promisc": (c_int, [_P, c_int]),
    "pcap_set_timeout": (c_int, [_P, c_int]),
    "pcap_set_immediate_mode": (c_int, [_P, c_int]),
    "pcap_set_buffer_size": (c_int, [_P, c_int]),
    "pcap_set_tstamp_precision": (c_int, [_P, c_int]),
    "pcap_activate": (c_int, [_P]),
    "pcap_setnonblock": (c_int, [_P, c_int, c_char_p]),
    "pcap_get_selectable_fd": (c_int, [_P]),
    "pcap_next_ex": (
        c_int,
        [_P, POINTER(POINTER(PcapPkthdr)), POINTER(POINTER(ctypes.c_ubyte))],
    ),
    "pcap_compile": (c_int, [_P, POINTER(BpfProgram), c_char_p, c_int, c_uint32]),
    "pcap_setfilter": (c_int, [_P, POINTER(BpfProgram)]),
    "pcap_freecode": (None, [POINTER(BpfProgram)]),
    "pcap_close": (None, [_P]),
    "pcap_stats": (c_int, [_P, POINTER(PcapStat)]),
    "pcap_geterr": (c_char_p, [_P]),
    "pcap_statustostr": (c_char_p, [c_int]),
    "pcap_findalldevs": (c_int, [POINTER(POINTER(PcapIf)), c_char_p]),
    "pcap_freealldevs": (None, [POINTER(PcapIf)]),
    "pcap_datalink": (c_int, [_P]),
    "pcap_snapshot": (c_int, [_P]),
    "pcap_open_dead": (_P, [c_int, c_int]),
    "pcap_fopen_offline": (_P, [c_void_p, c_char_p]),
    "pcap_offline_filter": (
        c_int,
        [POINTER(BpfProgram), POINTER(PcapPkthdr), ctypes.c_char_p],
    ),
    "pcap_inject": (c_int, [_P, c_char_p, ctypes.c_size_t]),
    "pcap_lib_version": (c_char_p, []),
}


def _open_library() -> ctypes.CDLL:
    """The first libpcap that loads: find_library's answer, then the usual sonames."""
    candidates = [ctypes.util.find_library(name) for name in LIBRARY_NAMES]
    tried = []
    for name in [c for c in candidates if c] + list(SONAMES):
        tried.append(name)
        try:
            return ctypes.CDLL(name, use_errno=True)
        except OSError:
            continue
    raise LiveCaptureError(
        "libpcap is not installed (tried " + ", ".join(tried) + "); "
        "install it with `apt-get install libpcap0.8` (or use the AF_PACKET fallback)"
    )


def _declare(lib: ctypes.CDLL) -> None:
    """Set restype/argtypes so ctypes never truncates a pointer to an int."""
    for name, (restype, argtypes) in _SIGNATURES.items():
        func = getattr(lib, name, None)
        if func is None:  # e.g. pcap_set_immediate_mode before 1.5: callers check hasattr
            continue
        func.restype = restype
        func.argtypes = argtypes


@functools.cache
def load() -> ctypes.CDLL:
    """The loaded libpcap, or LiveCaptureError saying to install libpcap0.8.

    Failures are not cached (lru_cache does not cache exceptions), so installing libpcap
    while a program runs makes the next call succeed.
    """
    lib = _open_library()
    _declare(lib)
    return lib


def available() -> bool:
    """True when libpcap can be loaded."""
    try:
        load()
    except LiveCaptureError:
        return False
    return True


def lib_version() -> str:
    """libpcap's own version string, e.g. ``libpcap version 1.10.3 (with TPACKET_V3)``."""
    return load().pcap_lib_version().decode("ascii", "replace")


def geterr(handle: int) -> str:
    """The last error libpcap recorded on a handle."""
    msg = load().pcap_geterr(handle)
    return msg.decode("utf-8", "replace") if msg else "unknown libpcap error"


def status_text(status: int) -> str:
    """libpcap's text for a PCAP_ERROR_* / PCAP_WARNING_* code."""
    msg = load().pcap_statustostr(status)
    return msg.decode("utf-8", "replace") if msg else f"status {status}"


def errbuf() -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(PCAP_ERRBUF_SIZE)


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fmemopen.restype = c_void_p
    libc.fmemopen.argtypes = [c_void_p, ctypes.c_size_t, c_char_p]
    return libc


def open_header_only(linktype: int, snaplen: int, byte_order: str) -> int | None:
    """A pcap_t reading an in-memory pcap file with no records, or None if unsupported.

    pcap_compile writes different code when it filters a file (``tcpdump -r``) than for a
    dead handle: for BSD loopback (LINKTYPE_NULL) it matches all the BSDs' AF_INET6 values
    and the file's byte order. A header-only file gives exactly the file behaviour.
    """
    order = "<" if byte_order == "little" else ">"
    header = struct.pack(order + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)
    buf = ctypes.create_string_buffer(header, len(header))
    try:
        stream = _libc().fmemopen(buf, len(header), b"rb")
    except AttributeError:
        return None
    if not stream:
        return None
    handle = load().pcap_fopen_offline(stream, errbuf())
    if not handle:
        _libc().fclose(ctypes.c_void_p(stream))
        return None
    _header_buffers[handle] = buf  # libpcap reads lazily; keep the bytes until close
    return handle


_header_buffers: dict[int, ctypes.Array[ctypes.c_char]] = {}


def close(handle: int) -> None:
    """pcap_close, also releasing the memory an in-memory file handle reads from."""
    load().pcap_close(handle)
    _header_buffers.pop(handle, None)


def make_program(instructions: Iterable[tuple[int, int, int, int]]) -> BpfProgram:
    """A struct bpf_program holding our instructions (its array stays alive with it)."""
    insns = list(instructions)
    array = (BpfInsn * len(insns))(*(BpfInsn(*insn) for insn in insns))
    program = BpfProgram()
    program.bf_len = len(insns)
    program.bf_insns = ctypes.cast(array, POINTER(BpfInsn))
    program._array = array  # keep the memory alive as long as the struct
    return program


def read_program(program: BpfProgram) -> list[tuple[int, int, int, int]]:
    """The instructions of a program libpcap compiled, copied out before pcap_freecode."""
    return [
        (p.code, p.jt, p.jf, p.k) for p in (program.bf_insns[i] for i in range(program.bf_len))
    ]


def sockaddr_text(ptr: ctypes._Pointer[Sockaddr]) -> str | None:
    """An interface address as text: IPv4, IPv6 or a MAC (AF_PACKET); None for others."""
    if not ptr:
        return None
    family = ptr.contents.sa_family
    if family == socket.AF_INET:
        raw = ctypes.string_at(ptr, 8)
        return str(ipaddress.IPv4Address(raw[4:8]))
    if family == socket.AF_INET6:
        raw = ctypes.string_at(ptr, 28)
        return str(ipaddress.IPv6Address(raw[8:24]))
    if family == socket.AF_PACKET:
        raw = ctypes.string_at(ptr, 20)
        return ":".join(f"{b:02x}" for b in raw[12 : 12 + raw[11]])
    return None


def iter_devices(alldevs: ctypes._Pointer[PcapIf]) -> Iterator[PcapIf]:
    """Walk the linked list pcap_findalldevs returned."""
    node = alldevs
    while node:
        yield node.contents
        node = node.contents.next


def iter_addresses(dev: PcapIf) -> Iterator[PcapAddr]:
    node = dev.addresses
    while node:
        yield node.contents
        node = node.contents.next
