"""Field values that print the way people read them: open enums, flag sets and addresses.

Decoded layers keep their field values as plain ``int`` and ``bytes`` in slots, because that is
what ``struct.unpack_from`` hands back and what costs nothing. The classes here exist for the
moment a value is *shown*: ``IPProtocol(6)`` prints ``TCP (6)``, a TCP flags byte prints
``[S.]`` as tcpdump does, four address bytes print ``192.0.2.1``. All of them are still ints
(or are made from bytes), so comparing a display value with a number keeps working.

``OpenEnum`` is "open" because a packet may carry a value no spec names (protocol 253, a new
EtherType): such a value stays a plain int instead of raising, unlike :class:`enum.IntEnum`.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

__all__ = [
    "FlagSet",
    "OpenEnum",
    "addr_bytes",
    "addr_text",
    "ipv4_bytes",
    "ipv4_text",
    "ipv6_bytes",
    "ipv6_text",
    "mac_bytes",
    "mac_text",
]


class OpenEnum(int):
    """Named integer constants whose unknown values stay plain ints.

    Subclass it with int class attributes; each becomes a member (an int subclass that prints
    as ``NAME (value)``)::

        class IPProtocol(OpenEnum):
            TCP = 6
            UDP = 17

        IPProtocol.TCP == 6          # True: members are ints
        str(IPProtocol.TCP)          # 'TCP (6)'
        IPProtocol(17)               # <IPProtocol.UDP: 17>
        IPProtocol(253)              # 253, a plain int: unknown values are kept, not refused
        IPProtocol.name_of(6)        # 'TCP'
        IPProtocol.parse("udp")      # 17 (builders and filters take names or numbers)

    When two names share a value the first one is the display name; both are members.
    """

    __slots__ = ()
    _members_: ClassVar[dict[str, OpenEnum]] = {}
    _by_value_: ClassVar[dict[int, OpenEnum]] = {}
    _names_: ClassVar[dict[int, str]] = {}
    _added_: ClassVar[dict[str, int]] = {}  # name -> value of each member add_member added

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        members: dict[str, OpenEnum] = {}
        names: dict[int, str] = {}
        for base in reversed(cls.__mro__[1:]):
            if issubclass(base, OpenEnum) and base is not OpenEnum:
                for name, value in base._members_.items():
                    members[name] = int.__new__(cls, value)
                    names.setdefault(int(value), name)
        for name, value in list(cls.__dict__.items()):
            if name.startswith("_") or type(value) is not int:
                continue
            members[name] = int.__new__(cls, value)
            names.setdefault(value, name)
        for name, member in members.items():
            setattr(cls, name, member)
        cls._members_ = members
        cls._names_ = names
        cls._by_value_ = {value: members[name] for value, name in names.items()}
        cls._added_ = {}

    def __new__(cls, value: int | str = 0) -> Any:
        """The member for value, or ``int(value)`` when no member has it (never raises)."""
        if isinstance(value, str):
            return cls.parse(value)
        member = cls._by_value_.get(value)
        return member if member is not None else int(value)

    def __getnewargs__(self) -> tuple[int]:
        return (int(self),)

    @property
    def name(self) -> str:
        """The display name of this member's value (the first name declared for it)."""
        return type(self)._names_[int(self)]

    def __str__(self) -> str:
        return f"{self.name} ({int(self)})"

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}: {int(self)}>"

    __format__ = int.__format__

    @classmethod
    def add_member(cls, name: str, value: int) -> OpenEnum:
        """Add the member ``name = value`` to the class after its creation and return it.

        For items that another .layer file names in an ``extend`` (``extend BKind { C = 3 ->
        X }``): the generated module of that file adds them, so they display (``C (3)``) and
        build by name wherever the enum is used. Adding a member that is already there with
        the same value does nothing (a module loaded again); a name that is a member with
        another value, or any other attribute of the class, is refused with ValueError. A
        value that has a name already keeps it as its display name; the new name is an alias.
        """
        if cls is OpenEnum:
            raise TypeError("add_member is for subclasses of OpenEnum")
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"{cls.__name__}: {name!r} is not a member name")
        if type(value) is not int and not isinstance(value, OpenEnum):
            raise ValueError(f"{cls.__name__}.{name}: {value!r} is not an int")
        value = int(value)
        old = cls._members_.get(name)
        if old is not None:
            if int(old) == value:
                return old
            raise ValueError(f"{cls.__name__}.{name} is already {int(old)}; cannot make it "
                             f"{value}")
        if hasattr(cls, name):
            raise ValueError(f"{cls.__name__}.{name} would hide an attribute of the class")
        member = int.__new__(cls, value)
        # new dicts rather than updates in place: never the ones OpenEnum itself holds
        cls._members_ = {**cls._members_, name: member}
        cls._added_ = {**cls._added_, name: value}
        if value not in cls._names_:
            cls._names_ = {**cls._names_, value: name}
            cls._by_value_ = {**cls._by_value_, value: member}
        setattr(cls, name, member)
        return member

    @classmethod
    def remove_member(cls, name: str) -> None:
        """Take back a member that :meth:`add_member` added: what unloading the module of
        the .layer file that named it does. Its value goes back to being unknown, unless
        another name has it, which then becomes its display name. A member declared in the
        class body is refused with ValueError; a name that is no member raises KeyError."""
        if name not in cls._added_:
            if name in cls._members_:
                raise ValueError(f"{cls.__name__}.{name} is declared in the class; only "
                                 "members add_member added can be removed")
            raise KeyError(f"{cls.__name__} has no member {name!r}")
        value = cls._added_[name]
        cls._added_ = {n: v for n, v in cls._added_.items() if n != name}
        cls._members_ = {n: m for n, m in cls._members_.items() if n != name}
        delattr(cls, name)
        if cls._names_.get(value) != name:
            return  # an alias: the value keeps its display name
        names = {v: n for v, n in cls._names_.items() if v != value}
        by_value = {v: m for v, m in cls._by_value_.items() if v != value}
        alias = next((n for n, m in cls._members_.items() if int(m) == value), None)
        if alias is not None:
            names[value] = alias
            by_value[value] = cls._members_[alias]
        cls._names_ = names
        cls._by_value_ = by_value

    @classmethod
    def name_of(cls, value: int) -> str | None:
        """The name of value, or None when the enum does not know it."""
        return cls._names_.get(value)

    @classmethod
    def display(cls, value: int) -> str:
        """``TCP (6)`` for a known value, ``253`` for an unknown one."""
        member = cls._by_value_.get(value)
        return str(member) if member is not None else str(int(value))

    @classmethod
    def members(cls) -> dict[str, OpenEnum]:
        """Every name (aliases included) with its member, in declaration order."""
        return dict(cls._members_)

    @classmethod
    def parse(cls, text: str) -> int:
        """A name (any case) or a number (``17``, ``0x11``) back to its value."""
        text = text.strip()
        member = cls._members_.get(text)
        if member is None:
            folded = text.casefold()
            for name, candidate in cls._members_.items():
                if name.casefold() == folded:
                    member = candidate
                    break
        if member is not None:
            return member
        try:
            return cls(int(text, 0))
        except ValueError:
            known = ", ".join(cls._members_)
            raise ValueError(f"{cls.__name__} has no member {text!r} (known: {known})") from None


# tcpdump's letters for TCP flags, printed in this order (print-tcp.c: tcp_flag_values).
_TCPDUMP_LETTERS = (
    ("fin", "F"),
    ("syn", "S"),
    ("rst", "R"),
    ("psh", "P"),
    ("ack", "."),
    ("urg", "U"),
    ("ece", "E"),
    ("cwr", "W"),
    ("ae", "e"),
    ("ns", "e"),  # the bit RFC 3540 called NS is AccECN's AE now; tcpdump prints 'e'
)
_TCPDUMP_NAMES = frozenset(name for name, _ in _TCPDUMP_LETTERS)


class FlagSet(int):
    """An int whose bits have names: ``flags.syn``, ``"ack" in flags``, ``str(flags)``.

    Make one class per flag field with :meth:`define` (the generator does this once per
    module) and wrap the raw int only when it is shown::

        TCPFlags = FlagSet.define("TCPFlags", ("cwr", "ece", "urg", "ack", "psh", "rst",
                                               "syn", "fin"))
        f = TCPFlags(0x12)
        f.syn, f.fin                 # (True, False)
        "ack" in f                   # True
        str(f)                       # '[S.]'  (tcpdump's letters, since these are TCP flags)
        int(f)                       # 18

    Other flag sets print their set flags joined by ``|``, each as its short name: the
    initials of a snake_case name (``dont_fragment`` -> ``DF``) or the name in upper case.
    ``FlagSet(value, names)`` is a shorthand for ``FlagSet.define("Flags", names)(value)``.
    """

    __slots__ = ()
    _masks_: ClassVar[dict[str, int]] = {}
    _order_: ClassVar[tuple[tuple[str, int, str], ...]] = ()  # (name, mask, short), MSB first
    _known_: ClassVar[int] = 0
    _tcpdump_: ClassVar[bool] = False

    _cache: ClassVar[dict[tuple, type[FlagSet]]] = {}

    def __new__(
        cls, value: int = 0, names: Iterable[str | None] | Mapping[str, int] | None = None
    ):
        if names is not None:
            cls = FlagSet._cached(names)
        return int.__new__(cls, value)

    def __getnewargs__(self) -> tuple[int]:
        return (int(self),)

    @staticmethod
    def define(
        name: str,
        names: Iterable[str | None] | Mapping[str, int],
        *,
        width: int | None = None,
        short: Mapping[str, str] | None = None,
        letters: Mapping[str, str] | None = None,
    ) -> type[FlagSet]:
        """A FlagSet subclass for one flag field.

        ``names`` is either the flag names MSB first (``None`` or ``""`` for a reserved bit;
        the field is ``width`` bits wide, by default one bit per name) or a mapping of name to
        bit position (0 is the least significant bit). ``short`` overrides the short names
        used by ``str``; ``letters`` switches to tcpdump's ``[S.]`` style with the given
        letter per flag (TCP's flags get tcpdump's letters without asking).
        """
        if isinstance(names, Mapping):
            bits = {n: 1 << pos for n, pos in names.items()}
        else:
            seq = list(names)
            width = len(seq) if width is None else width
            if len(seq) > width:
                raise ValueError(f"{name}: {len(seq)} flag names for a {width}-bit field")
            bits = {n: 1 << (width - 1 - i) for i, n in enumerate(seq) if n}
        short_names = _short_names(bits, short or {})
        order = tuple(
            (n, m, short_names[n]) for n, m in sorted(bits.items(), key=lambda kv: -kv[1])
        )
        namespace: dict[str, Any] = {
            "__slots__": (),
            "_masks_": bits,
            "_order_": order,
            "_known_": sum(bits.values()),
            "_tcpdump_": letters is not None
            or (_TCPDUMP_NAMES.issuperset(bits) and len(bits) >= 4),
            "_letters_": tuple(letters.items()) if letters is not None else _TCPDUMP_LETTERS,
        }
        for flag, mask in bits.items():
            if not flag.isidentifier() or hasattr(int, flag):
                continue  # still reachable with `in` and test(); never shadow int methods
            namespace[flag] = property(lambda self, m=mask: bool(self & m), doc=f"{flag} bit")
        return type(name, (FlagSet,), namespace)

    @staticmethod
    def _cached(names: Iterable[str | None] | Mapping[str, int]) -> type[FlagSet]:
        key = tuple(sorted(names.items())) if isinstance(names, Mapping) else tuple(names)
        cls = FlagSet._cache.get(key)
        if cls is None:
            spec = names if isinstance(names, Mapping) else key
            cls = FlagSet._cache[key] = FlagSet.define("Flags", spec)
        return cls

    def test(self, name: str) -> bool:
        """True when the flag called name is set (KeyError for a name this set lacks)."""
        return bool(self & type(self)._masks_[name])

    def __getattr__(self, name: str) -> bool:
        mask = type(self)._masks_.get(name)
        if mask is None:
            known = ", ".join(type(self)._masks_) or "none"
            raise AttributeError(f"{type(self).__name__} has no flag {name!r} (flags: {known})")
        return bool(self & mask)

    def __contains__(self, item: str | int) -> bool:
        mask = type(self)._masks_.get(item) if isinstance(item, str) else item
        return bool(mask) and (self & mask) == mask

    def __iter__(self) -> Iterator[str]:
        """The names of the set flags, most significant first."""
        return (name for name, mask, _ in type(self)._order_ if self & mask)

    @property
    def names(self) -> list[str]:
        return list(self)

    def __str__(self) -> str:
        cls = type(self)
        unknown = int(self) & ~cls._known_
        extra = f"+{unknown:#x}" if unknown else ""
        if cls._tcpdump_:
            text = "".join(letter for n, letter in cls._letters_ if self & cls._masks_.get(n, 0))
            return f"[{text or 'none'}{extra}]"
        parts = [s for _, mask, s in cls._order_ if self & mask]
        if unknown:
            parts.append(f"{unknown:#x}")
        return "|".join(parts) or "none"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self} ({int(self):#x})>"

    __format__ = int.__format__


def _short_names(bits: Mapping[str, int], override: Mapping[str, str]) -> dict[str, str]:
    """DF for dont_fragment, SYN for syn; names whose short forms collide stay in full."""
    short = {}
    for name in bits:
        if name in override:
            short[name] = override[name]
        elif "_" in name.strip("_"):
            short[name] = "".join(w[0] for w in name.split("_") if w).upper()
        else:
            short[name] = name.upper()
    seen: dict[str, int] = {}
    for s in short.values():
        seen[s] = seen.get(s, 0) + 1
    return {n: (s if seen[s] == 1 or n in override else n.upper()) for n, s in short.items()}


# Addresses. Raw values are bytes (or memoryview slices); the text forms are the usual ones.

_AF_INET = socket.AF_INET
_AF_INET6 = socket.AF_INET6
_ntop = socket.inet_ntop
_pton = socket.inet_pton


def mac_text(raw: bytes | memoryview) -> str:
    """``02:00:5e:00:53:01``."""
    return raw.hex(":")


def ipv4_text(raw: bytes | memoryview) -> str:
    """``192.0.2.1``."""
    return _ntop(_AF_INET, raw)


def ipv6_text(raw: bytes | memoryview) -> str:
    """``2001:db8::1`` (RFC 5952 form, as the C library writes it)."""
    return _ntop(_AF_INET6, raw)


def mac_bytes(text: str) -> bytes:
    """Six bytes from ``02:00:5e:00:53:01``, ``02-00-5E-00-53-01`` or ``0200.5e00.5301``."""
    digits = text.strip().replace(":", "").replace("-", "").replace(".", "")
    if len(digits) != 12:
        raise ValueError(f"not a MAC address: {text!r}")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise ValueError(f"not a MAC address: {text!r}") from None


def ipv4_bytes(text: str) -> bytes:
    """Four bytes from ``192.0.2.1`` (dotted quad only: no ``127.1`` shorthands)."""
    try:
        return _pton(_AF_INET, text.strip())
    except OSError:
        raise ValueError(f"not an IPv4 address: {text!r}") from None


def ipv6_bytes(text: str) -> bytes:
    """Sixteen bytes from any textual IPv6 form (``2001:db8::1``, ``::ffff:192.0.2.1``)."""
    try:
        return _pton(_AF_INET6, text.strip())
    except OSError:
        raise ValueError(f"not an IPv6 address: {text!r}") from None


_HEX_PAIRS = re.compile(r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2})*$")


def addr_text(raw: bytes | memoryview) -> str:
    """An address whose size the packet says (``addr[n]``: ARP's): 4 bytes as IPv4, 16 as
    IPv6, any other size (a MAC's 6) as colon-separated hex, as tshark shows them."""
    n = len(raw)
    if n == 4:
        return _ntop(_AF_INET, raw)
    if n == 16:
        text = _ntop(_AF_INET6, raw)
        if _HEX_PAIRS.match(text):  # 10:20:...:80 would read back as 8 bytes of hex pairs
            data = bytes(raw)
            text = ":".join(data[i:i + 2].hex() for i in range(0, 16, 2))
        return text
    return bytes(raw).hex(":")


def addr_bytes(text: str) -> bytes:
    """The bytes of an ``addr[n]`` from any of the forms addr_text writes: ``192.0.2.1``,
    ``2001:db8::1``, ``02:00:5e:00:53:01`` (any number of hex pairs, ``:`` or ``-``)."""
    text = text.strip()
    if not text:  # an address of no bytes (ARP with sizes 0) reads as ''
        return b""
    if _HEX_PAIRS.match(text):
        return bytes.fromhex(text.replace(":", "").replace("-", ""))
    if ":" in text:
        return ipv6_bytes(text)
    return ipv4_bytes(text)
