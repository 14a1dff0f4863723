"""How packets look to a person or a program: tcpdump-like lines, a tshark -V-like field
tree, a hexdump, and JSON. Used by ``pktspec decode``; knows nothing of particular protocols
beyond the conventions every layer follows (flows, flag sets, enums)."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterator
from typing import Any

from pktspec.runtime.layer import Layer, LayerClass
from pktspec.runtime.metadata import CaptureInfo
from pktspec.runtime.packet import Packet, own_layers


def timestamp_text(packet: Packet) -> str:
    """The capture time as HH:MM:SS.microseconds (UTC), or '-' for a packet without one."""
    m = packet.metadata
    if m is None or not m.has_timestamp:
        return "-"
    seconds = m.ts_sec + m.ts_frac // m.ts_resolution
    frac = (m.ts_frac % m.ts_resolution) * 1_000_000 // m.ts_resolution
    try:
        t = _dt.datetime.fromtimestamp(seconds, _dt.UTC)
    except (OverflowError, OSError, ValueError):
        return f"{seconds}.{frac:06d}"
    return t.strftime("%H:%M:%S") + f".{frac:06d}"


def decimal_digits(resolution: int) -> int:
    """How many decimals write 1/resolution of a second exactly: 6 for microseconds, 9 for
    nanoseconds, n for pcapng's 2^-n resolutions (any power of 2 and 5 ends); a resolution
    with other factors, which no file format has, gets the digits of its order of size."""
    digits, scale = 0, 1
    while scale % resolution and digits < 64:
        digits, scale = digits + 1, scale * 10
    return digits if scale % resolution == 0 else len(str(resolution - 1))


def epoch_text(metadata: CaptureInfo | None) -> str | None:
    """The capture time in seconds since the epoch as exact decimal text, with every digit
    the capture's resolution has ("1418145369.924505488" for a nanosecond file; what
    tshark's JSON gives for frame.time_epoch), never through a float. None when the record
    has no timestamp (a pcapng Simple Packet Block)."""
    if metadata is None or not metadata.has_timestamp or metadata.ts_resolution <= 0:
        return None
    resolution = metadata.ts_resolution
    units = metadata.ts_sec * resolution + metadata.ts_frac  # a fraction out of range too
    digits = decimal_digits(resolution)
    scaled = units * 10**digits // resolution  # exact for the resolutions files have
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


def conversation(packet: Packet) -> tuple[str, tuple, tuple] | None:
    """(protocol, (source, port), (destination, port)) of a packet from its network and
    transport flows (the link's when there is no network layer); ports are None without a
    transport flow. Endpoints are Endpoint objects (sortable, printable). The ports go with
    the network layer that carries the transport: in a tunnel without a transport of its
    own (GRE with ERSPAN, EtherIP) that is the inner one, so the addresses and ports shown
    are one conversation's."""
    net = packet.network
    trans = packet.transport
    if net is not None and trans is not None:
        net = _carrier_of(packet, trans) or net
    flow = getattr(net, "flow", None) if net is not None else None
    if flow is None:
        link = packet.link
        flow = getattr(link, "flow", None) if link is not None else None
        if flow is None:
            return None
        return link.name, (flow.src, None), (flow.dst, None)
    tflow = getattr(trans, "flow", None) if trans is not None else None
    if tflow is None:
        return net.name, (flow.src, None), (flow.dst, None)
    return f"{net.name}/{trans.name}", (flow.src, tflow.src), (flow.dst, tflow.dst)


def _carrier_of(packet: Packet, trans: Any) -> Any:
    """The last network layer before trans in the packet (None if there is none)."""
    carrier = None
    for layer in packet.layers:
        if layer is trans:
            return carrier
        if layer.layer_class is LayerClass.NETWORK:
            carrier = layer
    return None


def _endpoints(packet: Packet) -> tuple[str, str] | None:
    """tcpdump's 'address.port' forms of the source and destination."""
    found = conversation(packet)
    if found is None:
        return None
    _, src, dst = found
    return tuple(f"{a}.{p}" if p is not None else str(a) for a, p in (src, dst))


def _transport_details(layer: Any) -> list[str]:
    out = []
    flags = getattr(layer, "flags", None)
    if flags is not None and hasattr(flags, "names"):
        text = str(flags)
        out.append(f"Flags {text if text.startswith('[') else '[' + text + ']'}")
    for name, label in (("seq", "seq"), ("ack", "ack"), ("window", "win")):
        value = getattr(layer, name, None)
        if name == "ack" and flags is not None and not getattr(flags, "ack", True):
            continue  # as tcpdump: no ack number without the ACK flag
        if isinstance(value, int):
            out.append(f"{label} {value}")
    return out


def _length(packet: Packet, trans: Any) -> int:
    """tcpdump's length: the bytes the transport carries; without one, the bytes the network
    layer carries (an ICMP or GRE message); for a network layer that carries nothing (ARP),
    its own bytes to the end of the frame, padding included, as tcpdump counts them; with
    neither, the application layer's bytes, else the last layer's (an LCP message, a BPDU)."""
    if trans is not None:
        return len(trans.payload)
    net = packet.network
    if net is not None:
        carried = len(net.payload)
        return carried if carried else net._end - net._off
    carrier = packet.application
    if carrier is None:  # a link-level message (LCP in PPP, a PPPoE discovery, a BPDU)
        own = own_layers(packet.layers)
        carrier = own[-1] if own else None
    return 0 if carrier is None else len(carrier.payload) + len(carrier.contents)


def summary(packet: Packet, words: bool = True) -> str:
    """One line per packet, in the spirit of tcpdump's; ``words``: end it with what the
    layers' ``summary`` rules say (tcpdump's protocol words; off is tcpdump's ``-q``)."""
    layers = packet.layers
    names = [layer.name for layer in layers if layer.name != "Payload"]
    head = timestamp_text(packet)
    ends = _endpoints(packet)
    parts = [head, _chain_text(names) if names else "Payload"]
    if ends is not None:
        parts.append(f"{ends[0]} > {ends[1]}:")
    trans = packet.transport
    details = _transport_details(trans) if trans is not None else []
    details.append(f"length {_length(packet, trans)}")
    line = " ".join(parts) + " " + ", ".join(details)
    said = layer_summary(packet) if words else None
    if said:
        line += f": {said}"
    for layer, missing in _missing_payloads(layers):
        line += f" [{layer.name}: {missing} bytes missing]"
    if packet.error is not None:
        line += f" [error: {packet.error}]"
    return line


def layer_summary(packet: Packet) -> str | None:
    """What the packet's layers say by their ``summary`` rules, as tcpdump ends its line
    with the protocol's own words: the deepest layer with something to say (an ARP request's
    ``who-has``, a DNS query's name, a VXLAN tunnel's VNI when the inner packet has no
    words), and the layers right before it that speak too, in order, joined by ", ": a
    message type and its body (ICMPv6 ``echo request`` then ICMPv6Echo ``id 9 seq 1``), the
    records of one segment (``Handshake ClientKeyExchange, Change Cipher Spec``). A quoted
    copy (ICMP error) does not count: the ICMP layer speaks for it. So a layer whose words
    the next layer makes redundant (LLC before STP) should have rules that stay silent then.
    """
    layers = own_layers(packet.layers)
    for i in range(len(layers) - 1, -1, -1):
        said = _said(layers[i])
        if not said:
            continue
        words = [said]
        for before in reversed(layers[:i]):
            earlier = _said(before)
            if not earlier:
                break
            words.append(earlier)
        return ", ".join(reversed(words))
    return None


def one_line(text: str) -> str:
    """Text for a summary line: control characters escaped, so a value cannot break the line
    or reach the terminal (a Python layer's own summary(), an extern type's text)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _said(layer: Any) -> str | None:
    """The layer's summary; None when it has none, or when a Python layer's own summary()
    fails (the rest of the output still shows)."""
    cls = type(layer)
    if not cls.SUMMARY and cls.summary is Layer.summary:  # most layers of most packets
        return None
    try:  # the class's method: an instance attribute of that name is a field value
        said = cls.summary(layer)
    except Exception:
        return None
    return None if said is None else one_line(str(said))


def _missing_payloads(layers: list[Any]) -> list[tuple[Any, int]]:
    """(layer, bytes) for each layer whose length field announces more payload than the
    packet holds (tcpdump's "bytes missing!", tshark's "total length exceeds")."""
    out = []
    for layer in own_layers(layers):  # a quoted copy (ICMP error) is cut on purpose
        missing = getattr(layer, "payload_missing", 0)
        if missing:
            out.append((layer, missing))
    return out


SUMMARY_LAYERS = 10
"""Most layer names a summary line lists; a longer chain shows its ends and a count."""


def _chain_text(names: list[str]) -> str:
    """The layer names of a summary line: a run of one name once with its count
    (``IPv6Destination x250``), and a chain still longer than SUMMARY_LAYERS cut in the
    middle, so that a crafted packet of hundreds of headers stays one readable line."""
    runs: list[str] = []
    i = 0
    while i < len(names):
        j = i
        while j < len(names) and names[j] == names[i]:
            j += 1
        runs.append(names[i] if j - i == 1 else f"{names[i]} x{j - i}")
        i = j
    if len(runs) > SUMMARY_LAYERS:
        keep = SUMMARY_LAYERS // 2
        hidden = sum(int(r.rpartition(" x")[2]) if " x" in r else 1 for r in runs[keep:-keep])
        runs = runs[:keep] + [f"... {hidden} more ..."] + runs[-keep:]
    return " ".join(runs)


def _value_lines(name: str, value: Any, indent: str) -> list[str]:
    if isinstance(value, list):
        malformed = getattr(value, "malformed", "")
        if not value and not malformed:
            return [f"{indent}{name}: []"]
        out = [f"{indent}{name}: ({len(value)})"]
        for i, item in enumerate(value):
            out += _value_lines(f"[{i}]", item, indent + "    ")
        if malformed:
            out.append(f"{indent}    [malformed: {malformed}]")
        return out
    if isinstance(value, dict):
        out = [f"{indent}{name}:"]
        for k, v in value.items():
            if not str(k).startswith("_"):
                out += _value_lines(str(k), v, indent + "    ")
        return out
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return [f"{indent}{name}: {bytes_text(data)} ({len(data)} bytes)"]
    return [f"{indent}{name}: {value}"]


TEXT_LINES = 64
"""Most lines of a text payload that -V prints (tshark's "Line-based text data")."""


def _payload_lines(data: bytes) -> list[str]:
    """A payload's lines in -V: text as its lines (HTTP header fields, SMTP commands), with
    their line ends shown as tshark shows them, else the bytes as bytes_text has them."""
    printable = data and all(32 <= b < 127 or b in (9, 10, 13) for b in data)
    if not printable or b"\n" not in data:
        return _value_lines("data", data, "    ")
    text = data.decode("ascii").splitlines(keepends=True)
    out = [f"    data: text, {len(text)} line{'s' if len(text) != 1 else ''} "
           f"({len(data)} bytes)"]
    for line in text[:TEXT_LINES]:
        shown = line.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
        out.append(f"        {shown}")
    if len(text) > TEXT_LINES:
        out.append(f"        ... ({len(text) - TEXT_LINES} more lines)")
    return out


def bytes_text(data: bytes) -> str:
    """Bytes as a person reads them: text in quotes when it all is printable ASCII (a TLS
    server name, a DNS TXT string, a DHCP host name, as tshark shows them), else hex."""
    if data and len(data) <= 256 and all(32 <= b < 127 for b in data):
        return '"' + data.decode("ascii").replace("\\", "\\\\").replace('"', '\\"') + '"'
    return data[:32].hex(" ") + (" ..." if len(data) > 32 else "")


def tree(packet: Packet) -> str:
    """Every layer's fields, like tshark -V."""
    lines = []
    m = packet.metadata
    if m is not None:
        lines.append(f"Frame: {m.length} bytes on wire, {m.caplen} captured, "
                     f"interface {m.interface}, link type {m.linktype}")
    bad = _bad_checksums(packet)
    own = len(own_layers(packet.layers))
    for index, layer in enumerate(packet.layers):
        span = ""
        if hasattr(layer, "_hend"):
            # the header's bytes; a layer without a header (Payload) shows what it holds
            end = layer._hend if layer._hend > layer._off else layer._pend
            span = f"bytes {layer._off}..{end}"
        said = _said(layer)
        lines.append(f"{layer.name} ({_class_name(layer)}) {span}".rstrip()
                     + (f": {said}" if said else ""))
        for name, value in layer._display_fields():
            field_lines = _value_lines(name, value, "    ")
            wrong = bad.get((index, name))
            if wrong is not None:
                field_lines[0] += (f" [bad checksum {wrong.found:#06x}, expected "
                                   f"{wrong.expected:#06x}]")
            lines += field_lines
        if layer.name == "Payload":
            lines += _payload_lines(bytes(layer.payload))
        missing = getattr(layer, "payload_missing", 0) if index < own else 0
        if missing:
            lines.append(f"    [payload: {missing} bytes missing: the length field says more "
                         "than the packet holds]")
    if packet.error is not None:
        lines.append(f"Error: {packet.error}")
    return "\n".join(lines)


def _bad_checksums(packet: Packet) -> dict[tuple[int, str], Any]:
    """(layer index, field) -> BadChecksum for every checksum that does not match its bytes
    (what tcpdump -v calls "bad cksum"); checksums that cannot be checked (a packet cut by
    the snap length) are not reported."""
    try:
        return {(b.index, b.field): b for b in packet.verify_checksums()}
    except Exception:  # noqa: BLE001 - a display must not fail on a layer it cannot rebuild
        return {}


def _class_name(layer: Any) -> str:
    try:
        return LayerClass(layer.layer_class).name.lower()
    except ValueError:
        return "other"


def field_columns(packet: Packet, columns: list[Any], frames: Any = None) -> str:
    """One line of ``decode -e``: each column's values in the packet, tab-separated, several
    values (one per layer that has the field) joined by commas, as tshark's -T fields; each
    written as tshark writes that field (``FieldColumn.text``: hex where tshark shows hex).
    ``frames`` (a display_filters.Frames) gives frame.number and frame.time_relative."""
    out = []
    for column in columns:
        text = getattr(column, "text", _field_text)
        values = column(packet) if frames is None else column(packet, frames)
        out.append(",".join(text(v) for v in values))
    return "\t".join(out)


def _field_text(value: Any) -> str:
    """A value as tshark's -T fields writes it, for a column that does not say how."""
    from pktspec.display_filters import field_text

    return field_text(value)


def hexdump(data: bytes) -> str:
    """Offset, 16 bytes in hex and as ASCII per line, like tcpdump -X."""
    lines = []
    for pos in range(0, len(data), 16):
        chunk = bytes(data[pos:pos + 16])
        hexpart = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"  {pos:04x}  {hexpart:<47}  {text}")
    return "\n".join(lines)


def malformed_parts(items: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, reason) of each list among (name, value) items, nested ones too, whose
    items stop at a malformed one (constructs.PartialList): "options", "chunks[2].params"."""
    for name, value in items:
        where = f"{path}.{name}" if path and not str(name).startswith("[") else f"{path}{name}"
        if isinstance(value, list):
            if getattr(value, "malformed", ""):
                yield where, value.malformed
            yield from malformed_parts(((f"[{i}]", v) for i, v in enumerate(value)), where)
        elif isinstance(value, dict):
            yield from malformed_parts(
                ((k, v) for k, v in value.items() if not str(k).startswith("_")), where)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, int):
        return int(value)
    if value is None or isinstance(value, (str, float, bool)):
        return value
    return str(value)


def as_json(packet: Packet) -> str:
    """One JSON object: the frame's metadata (the timestamp as exact decimal text, or null
    when the record has none), each layer's fields (addresses as text, bytes
    as hex, enum and flag values as numbers) and summary (from its ``summary`` rules), and
    the error, if any."""
    m = packet.metadata
    obj: dict[str, Any] = {}
    if m is not None:
        obj["frame"] = {"timestamp": epoch_text(m), "caplen": m.caplen, "length": m.length,
                        "interface": m.interface, "linktype": m.linktype}
    obj["layers"] = []
    own = len(own_layers(packet.layers))
    for index, layer in enumerate(packet.layers):
        entry: dict[str, Any] = {"layer": layer.name}
        entry["fields"] = {name: _jsonable(value) for name, value in layer._display_fields()}
        if layer.name == "Payload":
            entry["fields"]["data"] = bytes(layer.payload).hex()
        missing = getattr(layer, "payload_missing", 0) if index < own else 0
        if missing:
            entry["payload_missing"] = missing
        malformed = dict(malformed_parts(layer._display_fields()))
        if malformed:
            entry["malformed"] = malformed
        said = _said(layer)
        if said:
            entry["summary"] = said
        obj["layers"].append(entry)
    bad = _bad_checksums(packet)
    if bad:
        obj["bad_checksums"] = [{"layer": b.layer, "index": b.index, "field": b.field,
                                 "found": b.found, "expected": b.expected}
                                for b in bad.values()]
    if packet.error is not None:
        e = packet.error
        obj["error"] = {"layer": e.layer, "field": e.field_path, "offset": e.offset,
                        "message": e.message}
    return json.dumps(obj, sort_keys=False)
