# cython: language_level=3, boundscheck=False, wraparound=False
"""A measurement, never a decoder: what compiling the generated decoders to C would win.

The `_decode` of Ethernet, IPv4, IPv6, TCP and UDP written the way a C back end of the
generator would write them: the same checks, bounds, slots and dispatch as the generated
Python (pktspec/protocols/*.py), but the header bytes read at C level and each slot stored
through its member descriptor's C setter (no attribute lookup). Layers stay Python objects
with ``__slots__``, so this isolates the per-layer decoder from the object framework around
it. Only ``bytes`` buffers take the C path; anything else calls the generated decoder.

Built and installed by ``python benchmarks/bench_floor.py --compiled`` (needs Cython and a C
compiler); never imported by pktspec itself.
"""

from cpython.object cimport PyObject
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize

cdef extern from "Python.h":
    ctypedef int (*setter_t "descrsetfunc")(PyObject*, PyObject*, PyObject*)
    ctypedef struct TypeObj "PyTypeObject":
        setter_t tp_descr_set
    PyObject* Py_TYPE_ "Py_TYPE"(PyObject*)


cdef class Slot:
    """One slot of a layer class: its member descriptor and that descriptor's C setter."""
    cdef object descr
    cdef setter_t set

    def __init__(self, cls, str name):
        for klass in cls.__mro__:
            if name in klass.__dict__:
                self.descr = klass.__dict__[name]
                break
        else:
            raise KeyError(name)
        self.set = (<TypeObj*>Py_TYPE_(<PyObject*>self.descr)).tp_descr_set


cdef inline int put(Slot slot, object layer, object value) except -1:
    return slot.set(<PyObject*>slot.descr, <PyObject*>layer, <PyObject*>value)


cdef inline unsigned int u16(const unsigned char* p):
    return (p[0] << 8) | p[1]


cdef inline unsigned long u32(const unsigned char* p):
    return (<unsigned long>p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]


# Each layer's slots in the order the decoders index them (their fields, then the bounds),
# as a C array would hold them; filled by install().
cdef tuple ETHERNET
NAMES_ETHERNET = ('_dst', '_src', 'ethertype', '_buf', '_off', '_hend', '_pend', '_end')
cdef tuple IPV4
NAMES_IPV4 = ('version', 'ihl', 'dscp', 'ecn', 'total_length', 'id', '_flags', 'fragment_offset', 'ttl', 'protocol', 'checksum', '_src', '_dst', '_options', '_buf', '_off', '_hend', '_pend', '_end')
cdef tuple IPV6
NAMES_IPV6 = ('next_header', 'payload_length', 'hop_limit', '_src', '_dst', 'version', 'traffic_class', 'flow_label', '_buf', '_off', '_hend', '_pend', '_end')
cdef tuple TCP
NAMES_TCP = ('src_port', 'dst_port', 'seq', 'ack', 'data_offset', 'reserved', '_flags', 'window', 'checksum', 'urgent', '_options', '_buf', '_off', '_hend', '_pend', '_end')
cdef tuple UDP
NAMES_UDP = ('src_port', 'dst_port', 'length', 'checksum', '_buf', '_off', '_hend', '_pend', '_end')
cdef object ETHER_TYPES, IP_PROTOCOLS, TCP_PORTS, UDP_PORTS, LLC, FRAGMENT
cdef dict GENERATED = {}  # class name -> its generated _decode, for non-bytes buffers


cdef inline Slot at(tuple slots, Py_ssize_t i):
    return <Slot>slots[i]


cdef object dispatch(object table, object key, object buf, Py_ssize_t hend, Py_ssize_t pend):
    nxt = table.get(key)
    if nxt is None:
        if table.heuristics:
            nxt = table.lookup(None, buf, hend, pend)
    elif table.guarded and nxt._guard is not None and not nxt._guard(buf, hend, pend):
        nxt = table.lookup(None, buf, hend, pend) if table.heuristics else None
    return nxt


cdef int bounds(tuple slots, Py_ssize_t first, object self, object buf, Py_ssize_t off, Py_ssize_t hend,
                Py_ssize_t pend, Py_ssize_t end) except -1:
    put(at(slots, first), self, buf)
    put(at(slots, first + 1), self, off)
    put(at(slots, first + 2), self, hend)
    put(at(slots, first + 3), self, pend)
    put(at(slots, first + 4), self, end)
    return 0


def install(classes, tables, llc, fragment):
    """Replace the five classes' _decode by the compiled ones (this process only)."""
    global ETHERNET, IPV4, IPV6, TCP, UDP, ETHER_TYPES, IP_PROTOCOLS, TCP_PORTS, UDP_PORTS
    global LLC, FRAGMENT
    by_name = {cls.__name__: cls for cls in classes}
    for cls in classes:
        GENERATED[cls.__name__] = cls._decode
    ETHERNET = tuple(Slot(by_name["Ethernet"], n) for n in NAMES_ETHERNET)
    IPV4 = tuple(Slot(by_name["IPv4"], n) for n in NAMES_IPV4)
    IPV6 = tuple(Slot(by_name["IPv6"], n) for n in NAMES_IPV6)
    TCP = tuple(Slot(by_name["TCP"], n) for n in NAMES_TCP)
    UDP = tuple(Slot(by_name["UDP"], n) for n in NAMES_UDP)
    ETHER_TYPES, IP_PROTOCOLS = tables["EtherType"], tables["IPProtocol"]
    TCP_PORTS, UDP_PORTS = tables["TCPPort"], tables["UDPPort"]
    LLC, FRAGMENT = llc, fragment
    by_name["Ethernet"]._decode = ethernet
    by_name["IPv4"]._decode = ipv4
    by_name["IPv6"]._decode = ipv6
    by_name["TCP"]._decode = tcp_
    by_name["UDP"]._decode = udp_


def ethernet(self, buf, Py_ssize_t off, Py_ssize_t end):
    if type(buf) is not bytes:
        return GENERATED["Ethernet"](self, buf, off, end)
    if end - off < 14:
        raise self._truncated(buf, off, end)
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(buf) + off
    cdef unsigned int kind = u16(p + 12)
    put(at(ETHERNET, 0), self, PyBytes_FromStringAndSize(<char*>p, 6))
    put(at(ETHERNET, 1), self, PyBytes_FromStringAndSize(<char*>p + 6, 6))
    put(at(ETHERNET, 2), self, kind)
    cdef Py_ssize_t hend = off + 14
    cdef Py_ssize_t pend = hend + (kind if kind <= 1500 else end - hend)
    if pend > end:
        pend = end
    bounds(ETHERNET, 3, self, buf, off, hend, pend, end)
    if kind <= 1500:
        return LLC
    return dispatch(ETHER_TYPES, kind, buf, hend, pend)


def ipv4(self, buf, Py_ssize_t off, Py_ssize_t end):
    if type(buf) is not bytes:
        return GENERATED["IPv4"](self, buf, off, end)
    if end - off < 20:
        raise self._truncated(buf, off, end)
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(buf) + off
    cdef unsigned int version = p[0] >> 4, ihl = p[0] & 15, total = u16(p + 2)
    cdef unsigned int frag = u16(p + 6) & 0x1fff, proto = p[9]
    put(at(IPV4, 0), self, version)
    put(at(IPV4, 1), self, ihl)
    put(at(IPV4, 2), self, p[1] >> 2)
    put(at(IPV4, 3), self, p[1] & 3)
    put(at(IPV4, 4), self, total)
    put(at(IPV4, 5), self, u16(p + 4))
    put(at(IPV4, 6), self, p[6] >> 5)
    put(at(IPV4, 7), self, frag)
    put(at(IPV4, 8), self, p[8])
    put(at(IPV4, 9), self, proto)
    put(at(IPV4, 10), self, u16(p + 10))
    put(at(IPV4, 11), self, PyBytes_FromStringAndSize(<char*>p + 12, 4))
    put(at(IPV4, 12), self, PyBytes_FromStringAndSize(<char*>p + 16, 4))
    if version != 4:
        raise self._fail("version", off, "expected %r, got %r" % (4, version))
    cdef Py_ssize_t hend = off + ihl * 4
    if hend > end:
        raise self._truncated(buf, off, end)
    if ihl < 5:
        raise self._fail("requires", off, "header length (IHL) below 5 words")
    put(at(IPV4, 13), self, (off + 20, hend))
    cdef Py_ssize_t pend = hend + (<Py_ssize_t>total - ihl * 4)
    if pend < hend:
        raise self._fail("payload", off, "payload length %d is negative" % (pend - hend))
    if pend > end:
        pend = end
    bounds(IPV4, 14, self, buf, off, hend, pend, end)
    if frag != 0:
        return FRAGMENT
    return dispatch(IP_PROTOCOLS, proto, buf, hend, pend)


def ipv6(self, buf, Py_ssize_t off, Py_ssize_t end):
    if type(buf) is not bytes:
        return GENERATED["IPv6"](self, buf, off, end)
    if end - off < 40:
        raise self._truncated(buf, off, end)
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(buf) + off
    cdef unsigned long word = u32(p)
    cdef unsigned int version = word >> 28, length = u16(p + 4), nh = p[6]
    put(at(IPV6, 0), self, nh)
    put(at(IPV6, 1), self, length)
    put(at(IPV6, 2), self, p[7])
    put(at(IPV6, 3), self, PyBytes_FromStringAndSize(<char*>p + 8, 16))
    put(at(IPV6, 4), self, PyBytes_FromStringAndSize(<char*>p + 24, 16))
    put(at(IPV6, 5), self, version)
    put(at(IPV6, 6), self, (word >> 20) & 0xff)
    put(at(IPV6, 7), self, word & 0xfffff)
    if version != 6:
        raise self._fail("version", off, "expected %r, got %r" % (6, version))
    cdef Py_ssize_t hend = off + 40
    cdef Py_ssize_t pend = hend + length
    if pend > end:
        pend = end
    bounds(IPV6, 8, self, buf, off, hend, pend, end)
    return dispatch(IP_PROTOCOLS, nh, buf, hend, pend)


def tcp_(self, buf, Py_ssize_t off, Py_ssize_t end):
    if type(buf) is not bytes:
        return GENERATED["TCP"](self, buf, off, end)
    if end - off < 20:
        raise self._truncated(buf, off, end)
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(buf) + off
    cdef unsigned int sp = u16(p), dp = u16(p + 2), word = u16(p + 12), offset = word >> 12
    put(at(TCP, 0), self, sp)
    put(at(TCP, 1), self, dp)
    put(at(TCP, 2), self, u32(p + 4))
    put(at(TCP, 3), self, u32(p + 8))
    put(at(TCP, 4), self, offset)
    put(at(TCP, 5), self, (word >> 9) & 7)
    put(at(TCP, 6), self, word & 0x1ff)
    put(at(TCP, 7), self, u16(p + 14))
    put(at(TCP, 8), self, u16(p + 16))
    put(at(TCP, 9), self, u16(p + 18))
    cdef Py_ssize_t hend = off + offset * 4
    if hend > end:
        raise self._truncated(buf, off, end)
    if offset < 5:
        raise self._fail("requires", off, "data offset below 5 words")
    put(at(TCP, 10), self, (off + 20, hend))
    bounds(TCP, 11, self, buf, off, hend, end, end)
    if end == hend:
        return None
    ports = TCP_PORTS
    return (dispatch(ports, sp if sp <= dp else dp, buf, hend, end)
            or dispatch(ports, sp if sp >= dp else dp, buf, hend, end))


def udp_(self, buf, Py_ssize_t off, Py_ssize_t end):
    if type(buf) is not bytes:
        return GENERATED["UDP"](self, buf, off, end)
    if end - off < 8:
        raise self._truncated(buf, off, end)
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(buf) + off
    cdef unsigned int sp = u16(p), dp = u16(p + 2), length = u16(p + 4)
    put(at(UDP, 0), self, sp)
    put(at(UDP, 1), self, dp)
    put(at(UDP, 2), self, length)
    put(at(UDP, 3), self, u16(p + 6))
    if length < 8:
        raise self._fail("requires", off, "UDP length below 8")
    cdef Py_ssize_t hend = off + 8
    cdef Py_ssize_t pend = hend + (length - 8)
    if pend > end:
        pend = end
    bounds(UDP, 4, self, buf, off, hend, pend, end)
    if pend == hend:
        return None
    ports = UDP_PORTS
    return (dispatch(ports, sp if sp <= dp else dp, buf, hend, pend)
            or dispatch(ports, sp if sp >= dp else dp, buf, hend, pend))
