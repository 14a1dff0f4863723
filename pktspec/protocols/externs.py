"""Field types of the built-in protocols that the language should not describe.

``dns_name``, a DNS domain name (RFC 1035 section 4.1.4) with message compression, and
``http_fields``, HTTP/1.x header field lines up to the blank line (below). A compressed name ends in a pointer to an earlier name of the same message, so
decoding it needs bytes outside the field; construct hands an extern its stream and context,
and this module finds the message from them:

- on the fast path (a layer's ``_decode`` or a lazily read part) the root context carries
  ``_layer`` (its ``_buf`` is the packet buffer, ``_off`` where the DNS message starts) and
  ``_start`` (where the parsed bytes begin in ``_buf``);
- through ``DNS.FORMAT.parse(message)`` the root stream is the message itself.

Loops are impossible by construction: a pointer must point before the start of the labels
that contain it, and the labels it leads to must end before them, so every jump goes strictly
backwards (RFC 9267 section 2) and a name only ever reads bytes that precede it. A name longer
than 255 bytes, a label type other than 0 and 3, or a pointer out of range is a
``construct.ConstructError``, which the runtime reports as a DecodeError of the field.

Importing this module registers the externs; ``pktspec.protocols`` imports it before the
generated modules.
"""

from __future__ import annotations

from typing import Any

import construct as _c

from pktspec.runtime.constructs import inet_checksum, register_checksum, register_extern

__all__ = ["ROOT_NAME", "build_dns_name", "build_http_fields", "cdp_checksum",
           "parse_dns_name", "parse_http_fields"]

ROOT_NAME = "<Root>"
"""How the root name (a single zero byte) reads, as in tshark."""

_MAX_NAME = 255
_PLAIN = frozenset(range(0x21, 0x7F)) - {ord("."), ord("\\")}


def _top(context: Any) -> Any:
    """The outermost construct context (the one the runtime made, with _layer and _start)."""
    while True:
        parent = context.get("_") if hasattr(context, "get") else None
        if parent is None:
            return context
        context = parent


def _message(stream: Any, context: Any) -> tuple[Any, int, int]:
    """(buffer, where the DNS message starts in it, where the stream is now in it)."""
    top = _top(context)
    layer = top.get("_layer") if hasattr(top, "get") else None
    buf = getattr(layer, "_buf", None) if layer is not None else None
    if buf is not None:
        return buf, layer._off, top.get("_start", 0) + stream.tell()
    root = stream
    while getattr(root, "parent_stream", None) is not None:
        root = root.parent_stream
    return root.getvalue(), 0, stream.tell()


def _label_text(label: bytes) -> str:
    """A label in presentation format: printable ASCII as is, '.', '\\' and others escaped."""
    if all(b in _PLAIN for b in label):
        return label.decode("ascii")
    return "".join(chr(b) if b in _PLAIN else f"\\{b:03d}" for b in label)


def parse_dns_name(stream: Any, context: Any) -> str:
    """Read a (possibly compressed) name at the stream's position; return it as text."""
    labels: list[str] = []
    wire = 0  # bytes the name takes once decompressed, for the 255-byte limit
    read = 0  # bytes read from the stream itself (the field's own size)
    buf: Any = None
    base = pos = 0
    run = -1  # message offset where the labels being followed start; -1 while in the stream
    stop = 0  # after a jump, the labels must end before this buffer offset
    while True:
        first = _next(stream, buf, pos, run, stop)
        pos += run >= 0
        read += run < 0
        if first >> 6 == 3:
            second = _next(stream, buf, pos, run, stop)
            pos += run >= 0
            read += run < 0
            target = ((first & 0x3F) << 8) | second
            if run < 0:
                buf, base, here = _message(stream, context)
                run = here - read - base
            if target >= run:
                raise _c.ConstructError(
                    f"dns_name: compression pointer to offset {target} does not point before "
                    f"the name at {run} (a loop or a forward reference)")
            stop = base + run
            run = target
            pos = base + target
            continue
        if first >> 6:
            raise _c.ConstructError(f"dns_name: unsupported label type {first:#04x}")
        if first == 0:
            break
        if run < 0:
            label = _c.stream_read(stream, first, "dns_name")
            read += first
        else:
            if pos + first > stop:
                raise _c.ConstructError("dns_name: a compressed name runs into the name that "
                                        "points to it")
            label = bytes(buf[pos:pos + first])
            pos += first
        wire += first + 1
        if wire + 1 > _MAX_NAME:
            raise _c.ConstructError("dns_name: name longer than 255 bytes")
        labels.append(_label_text(label))
    return ".".join(labels) if labels else ROOT_NAME


def _next(stream: Any, buf: Any, pos: int, run: int, stop: int) -> int:
    """The next byte of the name: from the stream, or from the message after a pointer."""
    if run < 0:
        return _c.stream_read(stream, 1, "dns_name")[0]
    if pos >= stop:
        raise _c.ConstructError("dns_name: a compressed name runs into the name that points "
                                "to it")
    return buf[pos]


def _unescape(label: str) -> bytes:
    """Presentation format back to bytes: '\\065' is 'A', '\\.' a dot inside the label."""
    out = bytearray()
    i = 0
    while i < len(label):
        if label[i] == "\\" and label[i + 1:i + 4].isdigit() and len(label[i + 1:i + 4]) == 3:
            out.append(int(label[i + 1:i + 4]) & 0xFF)
            i += 4
        elif label[i] == "\\" and i + 1 < len(label):
            out += label[i + 1].encode("latin-1")
            i += 2
        else:
            out += label[i].encode("latin-1")
            i += 1
    return bytes(out)


def build_dns_name(value: Any, context: Any) -> bytes:
    """A name as uncompressed labels: 'www.example.com', '' / '.' / '<Root>' for the root."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1")
    text = str(value)
    if text in ("", ".", ROOT_NAME):
        return b"\x00"
    out = bytearray()
    for label in text.rstrip(".").split("."):
        raw = _unescape(label)
        if not 0 < len(raw) < 64:
            raise _c.ConstructError(f"dns_name: label {label!r} must be 1..63 bytes")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > _MAX_NAME:
        raise _c.ConstructError("dns_name: name longer than 255 bytes")
    return bytes(out)


register_extern("dns_name", parse_dns_name, build_dns_name)


# -- HTTP header fields -------------------------------------------------------------------


def parse_http_fields(stream: Any, context: Any) -> list[str]:
    """HTTP/1.x header field lines (RFC 9112 section 5) from the stream's position up to and
    including the blank line that ends them, each "Name: value" as text (latin-1, so every
    byte reads back). A block cut by the end of the segment keeps its complete lines and
    leaves the part of a line after them unread (the layer's payload): one segment of a
    large header block still shows what it holds, as tshark does without reassembly."""
    start = stream.tell()
    data = stream.read()
    lines: list[str] = []
    pos = 0
    while True:
        i = data.find(b"\r\n", pos)
        if i < 0:
            break
        if i == pos:  # the blank line
            pos += 2
            break
        lines.append(data[pos:i].decode("latin-1"))
        pos = i + 2
    stream.seek(start + pos)
    return lines


def build_http_fields(value: Any, context: Any) -> bytes:
    """Header field lines and the blank line after them; a line holding CR or LF would end
    early and read back as other fields (header injection): refused."""
    out = bytearray()
    for line in value or ():
        raw = line.encode("latin-1") if isinstance(line, str) else bytes(line)
        if b"\r" in raw or b"\n" in raw:
            raise _c.ConstructError(f"http_fields: {raw[:40]!r} holds a line end")
        out += raw + b"\r\n"
    return bytes(out + b"\r\n")


register_extern("http_fields", parse_http_fields, build_http_fields, empty=[])


def cdp_checksum(data: bytes) -> int:
    """CDP's checksum (cdp.layer): the Internet checksum, except for the last byte of an
    odd-length packet, which Cisco's implementation adds as a signed value in the low-order
    position where RFC 1071 pads it into the high-order one. In one's complement a
    negative byte b - 256 is 0xFF00 | (b - 1), so the sum is that of the even part and that
    word; tshark checks CDP the same way (tests/protocols/test_cdp.py compares)."""
    data = bytes(data)
    if not len(data) & 1:
        return inet_checksum(data)
    last = data[-1]
    word = last if last < 0x80 else 0xFF00 | (last - 1)
    return inet_checksum(data[:-1], word.to_bytes(2, "big"))


register_checksum("cdp_checksum", cdp_checksum, bits=16)
