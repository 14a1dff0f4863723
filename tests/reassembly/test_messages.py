"""Messages over reassembled streams: examples/lenmsg.layer and DNS over TCP."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import pktspec
from pktspec.reassembly.messages import MessageFactory, message_extent, messages
from pktspec.reassembly.stream import Direction
from pktspec.reassembly.tcp import TCPAssembler
from pktspec.runtime import REGISTRY
from tests.reassembly.reassembly_builders import Conversation

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def lenmsg():
    return pktspec.load(EXAMPLES / "lenmsg.layer").LenMsg


def msg(kind: int, body: bytes, flags: int = 0) -> bytes:
    return struct.pack(">BBH", kind, flags, len(body)) + body


def lenmsg_traffic() -> list:
    """Client: hello + data in one segment, a 3000-byte message over three segments (the
    last two swapped), bye split in the middle of its header. Server: one reply."""
    c = Conversation(sport=5555)
    big = msg(2, bytes(range(250)) * 12)
    stream = msg(1, b"hi") + msg(2, b"first") + big + msg(3, b"")
    cut = [0, len(msg(1, b"hi") + msg(2, b"first")) + 10, 1500, 2600, len(stream) - 2,
           len(stream)]
    pieces = [(cut[i], stream[cut[i]:cut[i + 1]]) for i in range(len(cut) - 1)]
    pkts = c.handshake()
    pkts += [c.seg("c", "PA", body, rel=rel) for rel, body in pieces[:2]]
    pkts += [c.seg("c", "PA", pieces[3][1], rel=pieces[3][0]),
             c.seg("c", "PA", pieces[2][1], rel=pieces[2][0])]
    pkts.append(c.seg("s", "PA", msg(2, b"reply")))
    pkts.append(c.seg("c", "PA", pieces[4][1], rel=pieces[4][0]))
    return pkts + c.close()


def test_length_prefixed_messages_from_a_layer_file(lenmsg):
    got = list(messages(lenmsg_traffic()))
    client = [m for m in got if m.direction is Direction.CLIENT]
    server = [m for m in got if m.direction is Direction.SERVER]
    assert [m.layer.kind for m in client] == [1, 2, 2, 3]
    assert [bytes(m.layer.payload) for m in client[:2]] == [b"hi", b"first"]
    assert bytes(client[2].layer.payload) == bytes(range(250)) * 12
    assert [m.offset for m in client] == [0, 6, 15, 3019]
    assert all(type(m.layer) is lenmsg and not m.partial for m in got)
    assert [bytes(m.layer.payload) for m in server] == [b"reply"]
    assert client[0].connection.index == 0 and str(client[0].connection.server) == "10.0.0.2:5555"


def test_other_ports_are_not_cut_into_messages(lenmsg):
    c = Conversation(sport=80)
    pkts = c.handshake() + [c.seg("c", "PA", msg(1, b"x"))] + c.close()
    assert list(messages(pkts)) == []
    forced = list(messages(pkts, layer="LenMsg"))
    assert [bytes(m.layer.payload) for m in forced] == [b"x"]


def test_partial_message_at_the_end_and_a_hole_between_messages(lenmsg):
    c = Conversation(sport=5555)
    pkts = c.handshake() + [c.seg("c", "PA", msg(2, b"whole") + msg(2, b"cut short")[:6])]
    pkts += [c.seg("s", "PA", msg(2, b"abc"), rel=0), c.seg("s", "PA", msg(2, b"def"), rel=20)]
    pkts.append(c.seg("c", "A", ack=c.isn["s"] + 1 + 30))  # the server's hole was received
    factory_messages: list = []
    factory = MessageFactory(factory_messages.append)
    assembler = TCPAssembler(factory)
    for p in pkts:
        assembler.assemble(p)
    assembler.flush_all()
    kinds = [(m.direction.name, bytes(m.layer.payload), m.partial) for m in factory_messages]
    assert ("CLIENT", b"whole", False) in kinds and ("SERVER", b"abc", False) in kinds
    partial = [m for m in factory_messages if m.partial]
    assert len(partial) == 1 and bytes(partial[0].packet.data) == msg(2, b"cut short")[:6]
    error = partial[0].packet.error  # the header says 13 bytes, 6 came: the error says so
    assert error is not None and error.truncated and partial[0].packet.truncated
    assert error.message == ("the connection ended inside this message: its header asks for "
                             "more than the 6 bytes that came")
    after_hole = [m for m in factory_messages if bytes(m.layer.payload) == b"def"]
    assert len(after_hole) == 1 and after_hole[0].skipped == 13  # framing found again
    (stream,) = factory.streams
    assert stream.errors == []


def test_oversized_declared_length_is_bounded(lenmsg):
    c = Conversation(sport=5555)
    pkts = c.handshake() + [c.seg("c", "PA", struct.pack(">BBH", 2, 0, 60000) + b"z" * 1000)]
    factory = MessageFactory(lambda m: None, max_message=500)
    assembler = TCPAssembler(factory)
    for p in pkts:
        assembler.assemble(p)
    assert any("larger than 500" in e for e in factory.streams[0].errors)


def test_a_whole_message_larger_than_the_bound_is_refused_too(lenmsg):
    """The bound holds when an oversized message arrives in one piece, not only while it is
    still incomplete."""
    c = Conversation(sport=5555)
    body = b"z" * 1000
    pkts = c.handshake() + [c.seg("c", "PA", struct.pack(">BBH", 2, 0, len(body)) + body)]
    got = []
    factory = MessageFactory(got.append, max_message=500)
    assembler = TCPAssembler(factory)
    for p in pkts:
        assembler.assemble(p)
    assert got == [] and any("larger than 500" in e for e in factory.streams[0].errors)


def test_message_extent_waits_for_the_declared_length(lenmsg):
    buf = bytearray(msg(2, b"0123456789"))
    assert message_extent(lenmsg, buf, 0) == 14
    assert message_extent(lenmsg, bytearray(buf[:13]), 0) is None  # body incomplete
    assert message_extent(lenmsg, bytearray(buf[:3]), 0) is None   # header incomplete
    assert bytes(buf) == msg(2, b"0123456789")                     # padding removed


# -- DNS over TCP ------------------------------------------------------------------------------


def dns_query(ident: int, name: bytes) -> bytes:
    labels = b"".join(bytes([len(p)]) + p for p in name.split(b".")) + b"\0"
    return struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + struct.pack(">HH", 1, 1)


def dns_answer(ident: int, name: bytes, address: bytes) -> bytes:
    query = dns_query(ident, name)
    head = struct.pack(">HHHHHH", ident, 0x8180, 1, 1, 0, 0)
    record = struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + address
    return head + query[12:] + record


def framed(message: bytes) -> bytes:
    return struct.pack(">H", len(message)) + message


def dns_traffic() -> list:
    c = Conversation(sport=53)
    queries = framed(dns_query(1, b"example.com")) + framed(dns_query(2, b"pktspec.org"))
    answer = framed(dns_answer(1, b"example.com", bytes([192, 0, 2, 10])))
    return (c.handshake() + [c.seg("c", "PA", queries), c.seg("s", "PA", answer[:9]),
                             c.seg("s", "PA", answer[9:])] + c.close())


def _dns_or_skip():
    if REGISTRY.get_layer("DNS") is None:
        pytest.skip("the DNS layer (protocols/dns.layer) is not in the protocol library yet")


def _check_dns(got):
    dns = [(m.direction.name, m.packet.layer("DNS")) for m in got]
    assert [(d, layer.id, layer.qr) for d, layer in dns] == [
        ("CLIENT", 1, 0), ("CLIENT", 2, 0), ("SERVER", 1, 1)]
    assert [layer.questions[0].name for _, layer in dns] == [
        "example.com", "pktspec.org", "example.com"]
    assert dns[2][1].an_count == 1


def test_dns_over_tcp_with_the_framing_layer_of_examples():
    _dns_or_skip()
    layer = pktspec.load(EXAMPLES / "dns_tcp.layer").DNSTCPMessage
    got = list(messages(dns_traffic(), layer=layer))
    assert all(m.layer.name == "DNSTCPMessage" for m in got)
    _check_dns(got)


def test_dns_over_tcp_by_port_with_the_built_in_binding():
    _dns_or_skip()
    if REGISTRY.table("TCPPort").get(53) is None:
        pytest.skip("no layer bound to TCP port 53 in the protocol library")
    _check_dns(list(messages(dns_traffic())))


def test_messages_framed_by_a_delimiter():
    textline = pktspec.load(EXAMPLES / "textlines.layer").TextLine
    c = Conversation(sport=2525)
    client = b"HELO example.org\r\nMAIL FROM:<a@b>\r\nQUIT\r\n"
    pkts = c.handshake()
    pkts += [c.seg("c", "PA", client[:10], rel=0), c.seg("c", "PA", client[10:25], rel=10),
             c.seg("s", "PA", b"250 ok\r\n250 "), c.seg("c", "PA", client[25:], rel=25),
             c.seg("s", "PA", b"ok\r\n", rel=12)]
    got = list(messages(pkts + c.close()))
    lines = {d: [bytes(m.layer.line) for m in got if m.direction is d] for d in Direction}
    assert lines[Direction.CLIENT] == [b"HELO example.org", b"MAIL FROM:<a@b>", b"QUIT"]
    assert lines[Direction.SERVER] == [b"250 ok", b"250 ok"]
    assert all(type(m.layer) is textline and not m.partial for m in got)


def test_a_long_delimited_message_in_many_segments_comes_out_once_and_whole():
    """An unfinished message past RETRY_FROM is looked at again only as it grows (linear
    time); the lines around it still come out whole and in order."""
    from pktspec.reassembly.messages import RETRY_FROM

    pktspec.load(EXAMPLES / "textlines.layer")
    c = Conversation(sport=5556)
    long_line = b"x" * (3 * RETRY_FROM + 5)
    data = b"first\r\n" + long_line + b"\r\nlast\r\n"
    pieces = [data[i:i + 1400] for i in range(0, len(data), 1400)]
    pkts = c.handshake() + [c.seg("c", "PA", piece) for piece in pieces]
    got = []
    assembler = TCPAssembler(MessageFactory(got.append, "TextLine"))
    for p in pkts:
        assembler.assemble(p)
    assembler.flush_all()
    assert [bytes(m.packet.layers[0].line) for m in got] == [b"first", long_line, b"last"]


def test_unfinished_messages_of_all_connections_are_bounded_together():
    """A hostile capture of many connections, each with a message that never ends, holds at
    most max_buffered bytes (plus one segment) in the factory's streams."""
    pktspec.load(EXAMPLES / "textlines.layer")
    pkts = []
    for n in range(6):
        c = Conversation(sport=6000 + n)
        pkts += c.handshake()
        pkts += [c.seg("c", "PA", b"y" * 1400) for _ in range(30)]  # 42 KB, no CRLF
    peak = 0
    factory = MessageFactory(lambda m: None, "TextLine", max_buffered=100_000)
    assembler = TCPAssembler(factory)
    for p in pkts:
        assembler.assemble(p)
        peak = max(peak, factory.buffered)
    assert peak <= 100_000 + 1400
    assert factory.buffer_stops >= 3
    assert sum("over 100000 bytes" in e for s in factory.streams for e in s.errors) == \
        factory.buffer_stops


def test_a_long_length_prefixed_message_comes_out_as_soon_as_it_is_whole(
        tmp_path, monkeypatch, restore_registry):
    """Its header gives its length (here past RETRY_FROM): it comes out with the segment
    that completes it, not when the stream has grown further."""
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "bigmsg.layer"
    path.write_text("layer BigMsg : application { size: u32; body: bytes[size]; payload = 0; }\n")
    pktspec.load(path)
    c = Conversation(sport=7777)
    first = struct.pack(">I", 100_000) + b"a" * 100_000
    stream = first + struct.pack(">I", 5_000) + b"b" * 5_000
    pkts = c.handshake() + [c.seg("c", "PA", stream[i:i + 1000])
                            for i in range(0, len(stream), 1000)]
    got = []
    assembler = TCPAssembler(MessageFactory(got.append, "BigMsg"))
    completed_at = None
    for index, p in enumerate(pkts):
        assembler.assemble(p)
        if got:
            completed_at = index
            break
    assert len(got) == 1 and len(got[0].packet.data) == len(first)
    assert completed_at == 3 + len(first) // 1000  # with the segment that completed it


def test_the_shared_budget_is_released_once_when_a_direction_stops(lenmsg):
    c = Conversation(sport=5555)
    pkts = c.handshake() + [c.seg("c", "PA", msg(1, b"x" * 10) + msg(1, b"y" * 200))]
    got = []
    factory = MessageFactory(got.append, "LenMsg", max_message=100)
    assembler = TCPAssembler(factory)
    for p in pkts:
        assembler.assemble(p)
    assert len(got) == 1 and factory.buffered == 0


def test_messages_end_after_their_trailer_fields(tmp_path, monkeypatch, restore_registry):
    """A message layer with a CRC after its payload (trailer { ... }) is framed with it: two
    back-to-back messages split across segments come out whole, CRCs included."""
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "crcmsg.layer"
    path.write_text('import "tcp.layer"\n'
                    "layer CrcMsg : application {\n"
                    "    length: u8 = len(payload);\n"
                    "    payload = length;\n"
                    "    trailer { crc: u16 = crc16_ccitt(header, payload); }\n"
                    "}\n"
                    "extend TCPPort { 7878 -> CrcMsg }\n")
    layer = pktspec.load(path).CrcMsg
    one, two = bytes(layer() / b"first"), bytes(layer() / b"second!")
    assert len(one) == 1 + 5 + 2
    assert message_extent(layer, bytearray(one + two), 0) == len(one)
    c = Conversation(sport=7878)
    stream = one + two
    pkts = c.handshake() + [c.seg("c", "PA", stream[:7], rel=0),
                            c.seg("c", "PA", stream[7:], rel=7)] + c.close()
    got = list(messages(pkts))
    assert [bytes(m.packet.data) for m in got] == [one, two]
    assert [m.packet.verify_checksums() for m in got] == [[], []]
    assert not any(m.partial for m in got)


def test_a_length_field_split_across_segments_waits_for_its_last_byte(tmp_path, monkeypatch,
                                                                      restore_registry):
    """The framing pads the bytes so far with one byte; a header whose length field ends
    exactly on that byte read it as the length's low byte (and stopped the direction with
    'header length -2 is shorter than its fields'). It now waits; junk still stops it."""
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "crcmsg6.layer"
    path.write_text('import "tcp.layer"\n'
                    "layer CrcMsg6 : application {\n"
                    "    length: u16 = len(header) + len(payload) + 2;\n"
                    "    body: bytes[];\n"
                    "    header = length - 2;\n"
                    "    payload = 0;\n"
                    "    trailer { crc: u16le = crc16_modbus(header, payload); }\n"
                    "}\n"
                    "extend TCPPort { 6000 -> CrcMsg6 }\n")
    layer = pktspec.load(path).CrcMsg6
    msgs = [bytes(layer(body=b)) for b in (b"one", b"second", b"third!!")]
    assert message_extent(layer, bytearray(msgs[1][:1]), 0) is None
    c = Conversation(sport=6000)
    first = msgs[0] + msgs[1][:1]
    pkts = c.handshake() + [c.seg("c", "PA", first, rel=0),
                            c.seg("c", "PA", msgs[1][1:] + msgs[2], rel=len(first))]
    got = list(messages(pkts + c.close()))
    assert [bytes(m.packet.data) for m in got] == msgs and not any(m.partial for m in got)
    junk = Conversation(sport=6000)
    factory = MessageFactory(lambda m: None)
    assembler = TCPAssembler(factory)
    for p in junk.handshake() + [junk.seg("c", "PA", b"\x00\x00\x00\x00\x00")] + junk.close():
        assembler.assemble(p)
    assembler.flush_all()
    (stream,) = factory.streams
    assert any("not a CrcMsg6 message" in e for e in stream.errors)


def test_a_python_layer_bound_to_a_port_frames_messages(restore_registry):
    """Python layers frame themselves (FRAMED defaults to True): messages() picks one by
    port, as it picks a generated layer with `payload = ...`."""
    from pktspec import PyLayer

    class PyLen(PyLayer):
        name = "PyLenMsg"
        field_names = ("length",)

        def decode(self, data):
            if len(data) < 2:
                raise self._truncated(data, 0, len(data))
            (self.length,) = struct.unpack_from(">H", data)
            return 2, None, self.length

    REGISTRY.add_layer(PyLen)
    REGISTRY.table("TCPPort").bind(7777, PyLen, source="test_messages.py")
    c = Conversation(sport=7777)
    pkts = c.handshake() + [c.seg("c", "PA", b"\x00\x03abc\x00\x02de")] + c.close()
    assert [(m.layer.name, m.layer.length) for m in messages(pkts)] == \
        [("PyLenMsg", 3), ("PyLenMsg", 2)]
