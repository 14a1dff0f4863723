"""Endpoints and flows: the keys that group packets into conversations (gopacket's flows.go).

An :class:`Endpoint` is one side of a layer's conversation (a MAC, an IP address, a port) with
its :class:`EndpointType`; a :class:`Flow` is a directed pair of endpoints of one type. Both are
small, hashable and cheap to build, because a layer builds one each time its ``flow`` property is
read, often for every packet of a capture::

    flow = packet.network.flow                 # Flow(IPv4, 192.0.2.1 -> 192.0.2.2)
    src, dst = flow.endpoints()
    flow.reverse() == Flow.from_endpoints(dst, src)
    counts[packet.transport.flow.dst] += 1      # endpoints as dict keys
    workers[flow.fast_hash() & 7]               # both directions go to the same worker

Raw values are ``bytes`` for addresses and ``int`` for ports, exactly as the layer stores them.
They must be hashable: a layer decoded with ``copy=False`` passes ``bytes(...)`` of its address
slices (a memoryview of a mutable buffer cannot be a dict key, and should not be one).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from pktspec.errors import PktspecError
from pktspec.runtime.values import (
    addr_bytes,
    addr_text,
    ipv4_bytes,
    ipv4_text,
    ipv6_bytes,
    ipv6_text,
    mac_bytes,
    mac_text,
)

__all__ = [
    "ENDPOINT_IPV4",
    "ENDPOINT_IPV6",
    "ENDPOINT_MAC",
    "ENDPOINT_SCTP_PORT",
    "ENDPOINT_TCP_PORT",
    "ENDPOINT_UDP_PORT",
    "Endpoint",
    "EndpointType",
    "Flow",
    "endpoint_type",
]

_MASK64 = (1 << 64) - 1
_new = object.__new__
_set = object.__setattr__
FLOW_CACHE_SIZE = 8192
"""Flows an endpoint type keeps for reuse (see :meth:`EndpointType.flow`); when full, the
cache is emptied and fills again from the flows in use."""


def _int_text(raw: int) -> str:
    return str(raw)


def _bytes_text(raw: bytes) -> str:
    return raw.hex()


def _int_parse(text: str) -> int:
    return int(text, 0)


# format name -> (raw to text, text to raw)
FORMATS: dict[str, tuple[Callable[[Any], str], Callable[[str], Any]]] = {
    "mac": (mac_text, mac_bytes),
    "ipv4": (ipv4_text, ipv4_bytes),
    "ipv6": (ipv6_text, ipv6_bytes),
    "addr": (addr_text, addr_bytes),  # sized by the packet (ARP): by its length
    "int": (_int_text, _int_parse),
    "bytes": (_bytes_text, bytes.fromhex),
}


class EndpointType:
    """The kind of an endpoint: a name ("IPv4", "TCP port") and how its raw value prints.

    There is one instance per name (see :func:`endpoint_type`), so kinds compare by identity
    and a layer module can ask for its kind at import time without coordinating with others.
    """

    __slots__ = ("name", "format", "text", "_parse", "seed", "flows")

    def __init__(self, name: str, format: str) -> None:
        if format not in FORMATS:
            raise PktspecError(
                f"endpoint type {name!r}: unknown format {format!r} "
                f"(one of {', '.join(sorted(FORMATS))})"
            )
        self.name = name
        self.format = format
        self.text, self._parse = FORMATS[format]
        # A per-kind number that is the same in every process (unlike hash(str)), so that
        # fast_hash() agrees across the workers of a multiprocessing pool.
        self.seed = zlib.crc32(name.encode())
        self.flows: dict[tuple[Any, Any], Flow] = {}

    def flow(self, key: tuple[Any, Any]) -> Flow:
        """The flow ``key[0] -> key[1]`` of this kind, shared with every caller asking for it.

        A layer's ``flow`` property is read for most packets of a capture, and the packets
        of one conversation ask for the same flow again and again: handing out the flow (and
        its two endpoints) made the first time costs a dict lookup, where making them costs
        three objects. Generated layers look in ``flows`` themselves and call this on a miss.
        The cache holds at most FLOW_CACHE_SIZE flows and is emptied when full, so a capture
        of ever-new addresses costs one dict store per flow and no unbounded memory.
        """
        flows = self.flows
        flow = flows.get(key)
        if flow is None:
            if len(flows) >= FLOW_CACHE_SIZE:
                flows.clear()
            flow = _new(Flow)
            _fill_flow(flow, self, key[0], key[1])
            flows[key] = flow
        return flow

    def parse(self, text: str) -> Endpoint:
        """An endpoint of this kind from its text form (``"192.0.2.1"``, ``"443"``)."""
        return Endpoint(self, self._parse(text))

    def __call__(self, value: Any) -> Endpoint:
        """An endpoint from a raw value, or from text: ``ENDPOINT_UDP_PORT(53)``."""
        return self.parse(value) if isinstance(value, str) else Endpoint(self, value)

    def __repr__(self) -> str:
        return f"<EndpointType {self.name} ({self.format})>"

    def __str__(self) -> str:
        return self.name

    def __reduce__(self) -> tuple[Any, ...]:
        return (endpoint_type, (self.name, self.format))


_TYPES: dict[str, EndpointType] = {}


def endpoint_type(name: str, format: str = "bytes") -> EndpointType:
    """The endpoint type called name, created on first use with the given format.

    Asking again with the same name returns the same object; asking with another format is a
    mistake in some layer file and raises, rather than letting two kinds print differently.
    """
    kind = _TYPES.get(name)
    if kind is None:
        kind = _TYPES[name] = EndpointType(name, format)
    elif kind.format != format:
        raise PktspecError(
            f"endpoint type {name!r} already exists with format {kind.format!r}, not {format!r}"
        )
    return kind


def endpoint_types() -> dict[str, EndpointType]:
    """Every endpoint type made so far, by name."""
    return dict(_TYPES)


ENDPOINT_MAC = endpoint_type("MAC", "mac")
ENDPOINT_IPV4 = endpoint_type("IPv4", "ipv4")
ENDPOINT_IPV6 = endpoint_type("IPv6", "ipv6")
ENDPOINT_TCP_PORT = endpoint_type("TCP port", "int")
ENDPOINT_UDP_PORT = endpoint_type("UDP port", "int")
ENDPOINT_SCTP_PORT = endpoint_type("SCTP port", "int")


class Endpoint:
    """One side of a conversation: a kind and a raw value (bytes or int).

    Hashable and ordered (by kind name, then raw value), so endpoints can key a dict or be
    sorted; ``str()`` is the usual text form: ``02:00:5e:00:53:01``, ``192.0.2.1``,
    ``2001:db8::1``, ``443``. Immutable, like every dict key should be: flows share their
    endpoints (see :meth:`EndpointType.flow`).
    """

    __slots__ = ("kind", "raw")

    def __init__(self, kind: EndpointType, raw: Any) -> None:
        _set(self, "kind", kind)
        _set(self, "raw", raw)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Endpoint is immutable (cannot set {name!r})")

    def __eq__(self, other: object) -> bool:
        if type(other) is not Endpoint:
            return NotImplemented
        return self.kind is other.kind and self.raw == other.raw

    def __hash__(self) -> int:
        return hash((self.kind.seed, self.raw))

    def _key(self) -> tuple[str, Any]:
        return (self.kind.name, self.raw)

    def __lt__(self, other: Endpoint) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Endpoint) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Endpoint) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Endpoint) -> bool:
        return self._key() >= other._key()

    def __str__(self) -> str:
        return self.kind.text(self.raw)

    def __repr__(self) -> str:
        return f"Endpoint({self.kind.name}, {self})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Endpoint, (self.kind, self.raw))


def _hash_key(raw: Any) -> Any:
    """Raw values as ints or tuples of ints, whose hash() is the same in every process.

    Bytes are cut into 7-byte pieces so that no piece reaches 2**61 - 1, the modulus of
    CPython's int hash: whole 16-byte IPv6 addresses would collide at multiples of it.
    """
    if type(raw) is int:
        return raw
    if len(raw) <= 7:
        return int.from_bytes(raw, "big")
    return tuple([int.from_bytes(raw[i : i + 7], "big") for i in range(0, len(raw), 7)])


class Flow:
    """A directed conversation key: a kind, source and destination raw values and endpoints.

    Equality and ``hash()`` are directional (A->B differs from B->A), so a dict keyed by flows
    counts each direction apart; :meth:`fast_hash` is symmetric, for sending both directions
    of a conversation to the same worker or bucket. ``src`` and ``dst`` are the Endpoints,
    made with the flow. Flows are immutable: layers hand out shared ones (see
    :meth:`EndpointType.flow`).
    """

    __slots__ = ("kind", "src_raw", "dst_raw", "src", "dst", "_fast")

    def __init__(self, kind: EndpointType, src_raw: Any, dst_raw: Any) -> None:
        _fill_flow(self, kind, src_raw, dst_raw)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Flow is immutable (cannot set {name!r})")

    @classmethod
    def from_endpoints(cls, src: Endpoint, dst: Endpoint) -> Flow:
        """The flow src -> dst; both endpoints must be of the same kind."""
        if src.kind is not dst.kind:
            raise PktspecError(
                f"a flow needs endpoints of one kind, got {src.kind.name} and {dst.kind.name}"
            )
        return cls(src.kind, src.raw, dst.raw)

    def endpoints(self) -> tuple[Endpoint, Endpoint]:
        """``(src, dst)``, for ``src, dst = flow.endpoints()``."""
        return self.src, self.dst

    def reverse(self) -> Flow:
        """The same conversation in the other direction."""
        return Flow(self.kind, self.dst_raw, self.src_raw)

    def fast_hash(self) -> int:
        """A 64-bit hash, equal for A->B and B->A, and stable across processes and runs.

        It is computed once and cached. Two different conversations get different values
        except by the usual chance of a 64-bit collision.
        """
        h = self._fast
        if h is None:
            a = self.src_raw
            b = self.dst_raw
            if b < a:
                a, b = b, a
            h = hash((self.kind.seed, _hash_key(a), _hash_key(b))) & _MASK64
            _set(self, "_fast", h)
        return h

    def __eq__(self, other: object) -> bool:
        if type(other) is not Flow:
            return NotImplemented
        return (
            self.kind is other.kind
            and self.src_raw == other.src_raw
            and self.dst_raw == other.dst_raw
        )

    def __hash__(self) -> int:
        return hash((self.kind.seed, self.src_raw, self.dst_raw))

    def __str__(self) -> str:
        text = self.kind.text
        return f"{text(self.src_raw)}->{text(self.dst_raw)}"

    def __repr__(self) -> str:
        return f"Flow({self.kind.name}, {self})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Flow, (self.kind, self.src_raw, self.dst_raw))


def _endpoint(kind: EndpointType, raw: Any) -> Endpoint:
    endpoint = _new(Endpoint)
    _set(endpoint, "kind", kind)
    _set(endpoint, "raw", raw)
    return endpoint


def _fill_flow(flow: Flow, kind: EndpointType, src_raw: Any, dst_raw: Any) -> None:
    _set(flow, "kind", kind)
    _set(flow, "src_raw", src_raw)
    _set(flow, "dst_raw", dst_raw)
    _set(flow, "src", _endpoint(kind, src_raw))
    _set(flow, "dst", _endpoint(kind, dst_raw))
    _set(flow, "_fast", None)
