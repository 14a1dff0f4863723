"""Display filters: pick decoded packets by their fields, as tshark's ``-Y`` does.

BPF (``-f``) sees only bytes at fixed offsets; a display filter sees what the layers decoded,
including layers from the user's own .layer files::

    tcp.dst_port == 443 and ipv4.ttl < 64
    dns and not udp.port == 53           # a layer's name alone: the packet has it
    tcp.flags.syn and !tcp.flags.ack     # a flag by name
    ipv4.addr == 10.0.0.0/8              # addr/port: either end (flows' endpoints)
    ipv4.protocol == UDP                 # enum values by name
    payload.data contains "GET /"        # bytes or text; "..." or 01:02:03 hex
    frame.len > 1000                     # the record: len, caplen, time
    tcp.dst_port in {80 443 8080}

Layer names are the registered ones in any case, plus tshark's ``ip``, ``eth`` and ``ip6``;
field names are the layers' own (``pktspec list LAYER``). A comparison holds when any layer
of that name in the packet satisfies it (a tunnel has two IPv4 layers), as in tshark.

The text is parsed (lark, LALR) into a tree of small closures: nothing in it is evaluated as
Python. A mistake is a :class:`DisplayFilterError` with the column, the text and a caret.
"""

from __future__ import annotations

import codecs
import difflib
import ipaddress
import operator
from collections.abc import Callable
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedInput, VisitError

from pktspec.errors import DecodeError, PktspecError
from pktspec.runtime.layer import Layer
from pktspec.runtime.packet import Packet
from pktspec.runtime.registry import REGISTRY

__all__ = ["DisplayFilterError", "compile_field", "compile_filter"]

Predicate = Callable[[Packet], bool]

_GRAMMAR = r"""
?start: or_
?or_: and_ (OR and_)*
?and_: not_ (AND not_)*
?not_: NOT not_ -> negate
     | atom
?atom: "(" or_ ")"
     | ref CMP value          -> compare
     | ref CONTAINS value     -> contains
     | ref IN "{" item ("," ? item)* "}"  -> member
     | ref                    -> present
ref: NAME ("." NAME)* slice?
slice: "[" INT (":" INT)? "]"
?item: value | value RANGE value -> span
?value: STRING | LITERAL
OR.2: "or" | "||"
AND.2: "and" | "&&"
NOT.2: "not" | "!"
CONTAINS.2: "contains"
IN.2: "in"
CMP.2: "==" | "!=" | "<=" | ">=" | "<" | ">" | /(eq|ne|lt|le|gt|ge)(?![A-Za-z0-9_])/
RANGE.2: ".."
INT.3: /[0-9]+/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
LITERAL: /[A-Za-z0-9_:\/+-]+(\.[A-Za-z0-9_:\/+-]+)*/
STRING: /"(\\.|[^"\\])*"/
%ignore /\s+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)

_ALIASES = {"ip": "IPv4", "eth": "Ethernet", "ip6": "IPv6", "icmp": "ICMPv4",
            "wlan": "Dot11", "radiotap": "RadioTap", "data": "Payload", "vlan": "Dot1Q",
            "sll": "LinuxSLL", "dhcp": "DHCPv4", "esp": "IPSecESP", "ah": "IPSecAH"}
"""tshark's protocol names that differ from the layer names."""
_FIELD_ALIASES = {"srcport": ("src_port",), "dstport": ("dst_port",), "proto": ("protocol",),
                  "type": ("ethertype",), "len": ("length", "total_length", "payload_length"),
                  "hlim": ("hop_limit",), "nxt": ("next_header",), "opcode": ("operation",)}
"""tshark's field names for the same fields (used only when the layer has no such field)."""
_WORDS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_TOKEN_WORDS = {"LPAR": "'('", "RPAR": "')'", "LBRACE": "'{'", "RBRACE": "'}'", "DOT": "'.'",
                "NAME": "a layer or field name", "NOT": "'not'", "AND": "'and'", "OR": "'or'",
                "CMP": "a comparison (== != < <= > >=)", "CONTAINS": "'contains'", "IN": "'in'",
                "COMMA": "','", "RANGE": "'..'", "LSQB": "'['", "RSQB": "']'",
                "COLON": "':'", "INT": "a byte offset",
                "LITERAL": "a value", "STRING": "a \"string\"", "$END": "the end"}
"""How the parser's token names read in an error message."""
_ORDER = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
          ">": operator.gt, ">=": operator.ge}
_EITHER = ("addr", "port")  # either end of a layer's flow


class DisplayFilterError(PktspecError):
    """A display filter that does not parse or names what no layer has."""

    def __init__(self, text: str, column: int, message: str,
                 what: str = "display filter") -> None:
        self.text, self.column, self.message = text, column, message
        caret = " " * (column - 1) + "^"
        super().__init__(f"{what}, column {column}: {message}\n    {text}\n    {caret}")


def compile_filter(text: str) -> Predicate:
    """A predicate over packets for a display filter (see the module docstring)."""
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        expected = getattr(exc, "expected", None) or getattr(exc, "allowed", ()) or ()
        words = sorted({_TOKEN_WORDS.get(t, t) for t in expected})
        hint = f"; expected {', '.join(words)}" if words else ""
        token = getattr(exc, "token", None)
        at_end = exc.column <= 0 or getattr(token, "type", None) == "$END"
        raise DisplayFilterError(text, len(text.rstrip()) + 1 if at_end else exc.column,
                                 ("the filter ends too soon" if at_end else "unexpected input")
                                 + hint) from None
    _check_depth(text, tree)
    try:
        return _Compile(text).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, DisplayFilterError):
            raise exc.orig_exc from None
        raise


MAX_DEPTH = 100
"""Most nested operators a filter may have (as .layer expressions): deeper ones are refused,
not left to overflow Python's stack while compiling or evaluating."""


def _check_depth(text: str, tree: Any) -> None:
    """Refuse a tree nested deeper than MAX_DEPTH, measured without recursion."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            column = getattr(getattr(node, "meta", None), "column", None) or 1
            raise DisplayFilterError(text, column, f"more than {MAX_DEPTH} nested operators")
        stack += [(child, depth + 1) for child in getattr(node, "children", ())
                  if not isinstance(child, Token)]


def compile_field(text: str) -> Callable[[Packet], list[Any]]:
    """The values of one field reference (``ip.src``, ``tcp.flags.syn``, ``frame.len``) in a
    packet, one per layer that has it: what ``decode -e`` prints, as tshark's ``-T fields``.
    Raises DisplayFilterError for a name no layer or field has."""
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput:
        tree = None
    if tree is None or getattr(tree, "data", None) != "present":
        raise DisplayFilterError(text, 1, "a field is layer.field (or layer.field.flag)",
                                 what="field")
    try:
        ref = _Ref(text, list(tree.children[0].children))
    except DisplayFilterError as exc:
        raise DisplayFilterError(text, exc.column, exc.message, what="field") from None
    return ref.values


class _Ref:
    """``layer.field[.flag]`` resolved against the registry when the filter is compiled
    (misspellings fail at once) and again by name when it runs (a .layer file reloaded
    since is seen)."""

    def __init__(self, text: str, names: list[Any]) -> None:
        self.cut: tuple[int, int | None] | None = None  # [offset] or [offset:length]
        if names and isinstance(names[-1], tuple):
            self.cut = names.pop()
        self.column = names[0].column
        first = str(names[0])
        self.frame = first.lower() == "frame"
        self.path = [str(n) for n in names[1:]]
        self.info: Any = None
        self.mask = 0
        if self.frame:
            if self.cut is not None and not self.path:
                return
            if len(self.path) != 1 or self.path[0] not in ("len", "caplen", "time"):
                raise DisplayFilterError(text, self.column, "frame has len, caplen and time "
                                         "(and its bytes, frame[offset:length])")
            return
        self.cls = _layer(text, first, self.column)
        self.name = self.cls.name
        if len(self.path) > 2:
            raise DisplayFilterError(text, names[3].column, "at most layer.field.flag")
        if self.path:
            self._field(text, names)

    def _field(self, text: str, names: list[Token]) -> None:
        fields = {f.name: f for f in self.cls.fields_info}
        name = self.path[0]
        if name not in fields and name not in _EITHER:
            alias = next((a for a in _FIELD_ALIASES.get(name, ()) if a in fields), None)
            suffixed = [f for f in fields if f.endswith("_" + name)]  # vlan.id: vlan_id
            if alias is None and len(suffixed) == 1:
                alias = suffixed[0]
            if alias is not None:
                name = self.path[0] = alias
        self.info = fields.get(name)
        if self.info is None and name not in _EITHER and name != "data":
            close = difflib.get_close_matches(name, list(fields), 1, 0.6)
            hint = f"; did you mean {close[0]!r}?" if close else \
                f" (its fields: {', '.join(fields) or 'none'})"
            raise DisplayFilterError(text, names[1].column,
                                     f"{self.cls.name} has no field {name!r}{hint}")
        if len(self.path) == 2:
            if self.info is None or self.info.kind != "flags":
                raise DisplayFilterError(text, names[2].column,
                                         f"{self.cls.name}.{name} is not a flag set")
            self.mask = flag_mask(self.info.flags, self.path[1])
            if self.mask is None:
                known = ", ".join(n for n, _, _ in self.info.flags._order_)
                raise DisplayFilterError(text, names[2].column,
                                         f"{self.cls.name}.{name} has no flag "
                                         f"{self.path[1]!r} (its flags: {known})")

    def values(self, packet: Packet) -> list[Any]:
        """The values this reference has in packet: one per matching layer (or end), cut
        to ``[offset]`` (a byte, as a number) or ``[offset:length]`` (bytes) when asked."""
        found = self._values(packet)
        if self.cut is None:
            return found
        start, length = self.cut
        out = []
        for value in found:
            data = _bytes_of(value)
            if data is None:
                continue
            if length is None:
                if start < len(data):
                    out.append(data[start])
            elif start + length <= len(data):
                out.append(data[start:start + length])
        return out

    def _values(self, packet: Packet) -> list[Any]:
        if self.frame and self.cut is not None and not self.path:
            return [bytes(packet.data)]
        if self.frame:
            m = packet.metadata
            if m is None:
                return [len(packet.data)] if self.path[0] != "time" else []
            return [{"len": m.length, "caplen": m.caplen, "time": m.timestamp}[self.path[0]]]
        cls = REGISTRY.get_layer(self.name) or self.cls
        layers = [layer for layer in packet.layers if isinstance(layer, cls)]
        if not self.path:
            return layers
        name = self.path[0]
        out: list[Any] = []
        for layer in layers:
            if name == "data" and self.info is None:
                out.append(bytes(layer.payload))
            elif self.info is None:
                out += _ends(layer, name)
            else:
                try:
                    value = getattr(layer, name, None)
                except DecodeError:  # a lazily decoded part that is broken: not there
                    continue
                if self.mask and value is not None:
                    value = bool(int(value) & self.mask)
                out.append(value)
        return [v for v in out if v is not None]


def _bytes_of(value: Any) -> bytes | None:
    """The bytes a slice cuts: a field's bytes, or a whole layer's (from its first byte to
    the end of what it was given: header, payload and trailer, as tshark's tcp[0:2])."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Layer) and getattr(value, "_buf", None) is not None:
        return bytes(value._buf[value._off:value._end])
    return None


def flag_mask(flags: Any, name: str) -> int | None:
    """The bit of a flag set named as the layer file names it or as displays show it (its
    short name: ``DF`` for dont_fragment, ``WEP``), in any case; None when there is none."""
    folded = name.casefold()
    for flag, mask, short in flags._order_:
        if folded in (flag.casefold(), short.casefold()):
            return mask
    return None


def _ends(layer: Any, name: str) -> list[Any]:
    """``addr``: every address field of the layer (802.11's four, ARP's, IP's two), else
    the ends of its flow; ``port``: the ends of its flow."""
    if name == "addr":
        addresses = [getattr(layer, f.name, None) for f in layer.fields_info
                     if f.kind == "address"]
        if addresses:
            return [str(a) for a in addresses if a is not None]
    flow = getattr(layer, "flow", None)
    if flow is None:
        return []
    return [e.raw if name == "port" else str(e) for e in (flow.src, flow.dst)]


def _layer(text: str, name: str, column: int) -> type:
    cls = REGISTRY.get_layer(_ALIASES.get(name.lower(), name))
    if cls is None:
        matches = [c for c in REGISTRY.layers() if c.name.lower() == name.lower()]
        if len(matches) != 1:
            raise DisplayFilterError(text, column, f"no layer called {name!r} (see "
                                     "'pktspec list'; load a .layer file with --layers)")
        cls = matches[0]
    return cls


def _literal(text: str, ref: _Ref, token: Token) -> Callable[[Any], Any]:
    """How to compare a field's value with the literal: a function value -> comparable.

    Returns the literal converted to the field's kind, wrapped so the caller compares it
    with each value: ints (decimal, 0x hex, enum names), addresses (text, CIDR networks),
    bytes ("text" or hex like 01:02:03), text.
    """
    raw = str(token)
    if raw.startswith('"'):
        return _text_or_bytes, _string(text, token)
    if ref.cut is not None:  # a byte is a number, a run of bytes is bytes
        if ref.cut[1] is None:
            number = _int(raw, None)
            if number is None:
                raise DisplayFilterError(text, token.column, f"{raw!r} is not a number")
            return _as_number, number
        return _bytes_or_text(raw, hex_ok=True)
    kind = getattr(getattr(ref, "info", None), "kind", None)
    if ref.frame or kind in ("int", "enum", "flags") or (kind is None and ref.path
                                                          and ref.path[0] == "port"):
        number = _int(raw, None if ref.frame else ref.info)
        if number is None:
            raise DisplayFilterError(text, token.column, f"{raw!r} is not a number"
                                     + (" or a name of the field's enum" if kind == "enum"
                                        else " or a flag name" if kind == "flags" else ""))
        return _as_number, number
    if kind == "address" or (ref.path and ref.path[0] == "addr"):
        return _address(text, raw, token)
    return _bytes_or_text(raw, hex_ok=True)


def _as_number(value: Any) -> Any:
    return value if isinstance(value, float) else int(value)


def _int(raw: str, info: Any) -> int | float | None:
    """A number literal (decimal, 0x hex, a decimal fraction for times), or a name of the
    field's enum or flag set (a flag stands for its bit)."""
    for parse in (lambda t: int(t, 0), float):
        try:
            return parse(raw)
        except ValueError:
            pass
    enum = getattr(info, "enum", None)
    if enum is not None:
        for name, member in enum._members_.items():
            if name.lower() == raw.lower():
                return int(member)
    flags = getattr(info, "flags", None)
    if flags is not None:
        return flag_mask(flags, raw)
    return None


def _address(text: str, raw: str, token: Token) -> tuple[Callable[[Any], Any], Any]:
    try:
        if "/" in raw:
            network = ipaddress.ip_network(raw, strict=False)
            return (lambda value: _in_network(value, network)), True
        return (lambda value: _ip(value)), ipaddress.ip_address(raw)
    except ValueError:
        pass
    mac = raw.lower().replace("-", ":")
    if len(mac) == 14 and mac.count(".") == 2:  # Cisco's dotted form, 0000.0100.0000
        digits = mac.replace(".", "")
        mac = ":".join(digits[i:i + 2] for i in range(0, 12, 2))
    if len(mac.split(":")) == 6:
        return (lambda value: str(value).lower()), mac
    raise DisplayFilterError(text, token.column, f"{raw!r} is not an address (IPv4, IPv6, "
                             "a network like 10.0.0.0/8, or a MAC)")


def _ip(value: Any) -> Any:
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        return str(value).lower()


def _in_network(value: Any, network: Any) -> bool:
    try:
        return ipaddress.ip_address(str(value)) in network
    except ValueError:
        return False


def _bytes_or_text(raw: str, hex_ok: bool = False) -> tuple[Callable[[Any], Any], Any]:
    """An unquoted literal that is not a number or an address: hex bytes (``01:02:03``) when
    it reads as such, else its text."""
    if hex_ok:
        digits = raw.replace(":", "").replace("-", "")
        if len(digits) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in digits):
            return _text_or_bytes, _Literal(bytes.fromhex(digits))
    return _text_or_bytes, _Literal(raw.encode())


def _string(text: str, token: Token) -> _Literal:
    """A quoted literal: its UTF-8 bytes, with backslash escapes as in Python bytes
    (``\\x00``, ``\\n``, ``\\"``)."""
    try:
        data = codecs.escape_decode(str(token)[1:-1].encode())[0]
    except ValueError as exc:
        raise DisplayFilterError(text, token.column, f"bad escape in the string: {exc}") \
            from None
    return _Literal(data)


def _text_or_bytes(value: Any) -> Any:
    """A field's value as the literal compares with it: bytes as bytes, anything else as
    its text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value)


class _Literal:
    """A text-or-bytes literal: equal to the same bytes, or to text whose UTF-8 encoding
    they are; ``in`` works on both."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = other.encode()
        return other == self.data

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def found_in(self, value: Any) -> bool:
        haystack = value if isinstance(value, bytes) else str(value).encode()
        return self.data in haystack


@v_args(inline=True)
class _Compile(Transformer):
    """The parse tree to nested closures over a packet."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def ref(self, *names: Any) -> _Ref:
        """``layer.field[.flag]``, resolved now so that a misspelt name fails at once."""
        return _Ref(self.text, list(names))

    def slice(self, start: Token, length: Token | None = None) -> tuple[int, int | None]:
        """``[offset]`` or ``[offset:length]``."""
        if length is not None and int(length) == 0:
            raise DisplayFilterError(self.text, length.column, "a slice of 0 bytes")
        return int(start), None if length is None else int(length)

    def present(self, ref: _Ref) -> Predicate:
        """A bare reference: the layer is there, the field is present and not empty (no
        options is no ``tcp.options``), the flag is set."""
        if len(ref.path) == 2:  # a flag: set in some layer
            return lambda packet: any(ref.values(packet))
        return lambda packet: any(_has(v) for v in ref.values(packet))

    def compare(self, ref: _Ref, op: Token, token: Token) -> Predicate:
        """``field OP value``: some layer's value compares; ``!=``: none is equal."""
        self._needs_field(ref, token)
        self._not_a_field(token)
        op = Token("CMP", _WORDS.get(str(op), str(op)), column=op.column)
        convert, target = _literal(self.text, ref, token)
        test = _ORDER[str(op)]
        if str(op) not in ("==", "!=") and not isinstance(target, (int, float)):
            raise DisplayFilterError(self.text, op.column, f"{op} compares numbers only")
        if str(op) == "!=":  # none of the values is equal (ip.addr != x: neither end is x)
            equal = self.compare(ref, Token("CMP", "=="), token)
            return lambda packet: bool(ref.values(packet)) and not equal(packet)
        if target is True:  # a network: == means inside it
            return lambda packet: any(convert(v) for v in ref.values(packet))
        return lambda packet: any(_safe(test, convert, v, target) for v in ref.values(packet))

    def contains(self, ref: _Ref, _kw: Token, token: Token) -> Predicate:
        """``field contains "text"`` or ``contains 01:02``: the bytes (or the text's
        UTF-8) appear in the field's bytes or text."""
        self._needs_field(ref, token)
        if str(token).startswith('"'):
            needle = _string(self.text, token)
        else:
            needle = _bytes_or_text(str(token), hex_ok=True)[1]
        return lambda packet: any(needle.found_in(_text_or_bytes(v))
                                  for v in ref.values(packet))

    def span(self, low: Token, _range: Token, high: Token) -> tuple[Token, Token]:
        """``low..high`` inside a set."""
        return low, high

    def member(self, ref: _Ref, _kw: Token, *items: Any) -> Predicate:
        """``field in {a, b, 80..90}`` (commas optional): equal to one of them, or within
        a range."""
        tests = []
        for item in items:
            if isinstance(item, tuple):
                low = self.compare(ref, Token("CMP", ">=", column=item[0].column), item[0])
                high = self.compare(ref, Token("CMP", "<=", column=item[1].column), item[1])
                tests.append(lambda packet, lo=low, hi=high: lo(packet) and hi(packet))
            elif isinstance(item, Token) and item.type != "COMMA":
                tests.append(self.compare(ref, Token("CMP", "==", column=item.column), item))
        return lambda packet: any(t(packet) for t in tests)

    def negate(self, _kw: Token, inner: Predicate) -> Predicate:
        """``not x`` / ``!x``."""
        return lambda packet: not inner(packet)

    def and_(self, *parts: Any) -> Predicate:
        """``a and b and ...`` (the operator tokens are among the parts)."""
        tests = [p for p in parts if not isinstance(p, Token)]
        return lambda packet: all(t(packet) for t in tests)

    def or_(self, *parts: Any) -> Predicate:
        """``a or b or ...``."""
        tests = [p for p in parts if not isinstance(p, Token)]
        return lambda packet: any(t(packet) for t in tests)

    def _not_a_field(self, token: Token) -> None:
        """Refuse ``ip.src == ip.dst`` clearly: the right side must be a value."""
        head, dot, _ = str(token).partition(".")
        if dot and token.type == "LITERAL" and head.isidentifier() and (
                head.lower() == "frame" or REGISTRY.get_layer(_ALIASES.get(head.lower(), head))
                or any(c.name.lower() == head.lower() for c in REGISTRY.layers())):
            raise DisplayFilterError(self.text, token.column, "comparing two fields is not "
                                     "supported: compare a field with a value")

    def _needs_field(self, ref: _Ref, token: Token) -> None:
        if not ref.frame and not ref.path and ref.cut is None:
            raise DisplayFilterError(self.text, ref.column, "compare a field "
                                     f"({ref.cls.name}.<field>), not a whole layer")


def _has(value: Any) -> bool:
    """Present for a bare reference: not an empty list or empty bytes."""
    if isinstance(value, (list, tuple, bytes, bytearray, memoryview)):
        return len(value) > 0
    return True


def _safe(test: Callable[[Any, Any], bool], convert: Callable[[Any], Any], value: Any,
          target: Any) -> bool:
    """test(convert(value), target), False when the two cannot be compared."""
    try:
        return bool(test(convert(value), target))
    except (TypeError, ValueError):
        return False
