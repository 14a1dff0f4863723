"""Messages after a hole in the capture: the framing is found again at a later segment.

The assembler reports a hole as ``chunk.skipped``; the message stream then emits the message
the hole cut as partial, drops segments whose bytes are not a message start (or whose
messages do not line up with the segment ends), and goes on from the first segment start
that does, with ``message.skipped`` counting every byte lost in between.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import pktspec
from pktspec.reassembly.messages import MessageFactory, messages
from pktspec.reassembly.stream import Direction
from pktspec.reassembly.tcp import TCPAssembler
from pktspec.runtime import REGISTRY
from tests.reassembly.reassembly_builders import Conversation

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module", autouse=True)
def lenmsg():
    return pktspec.load(EXAMPLES / "lenmsg.layer").LenMsg


def msg(kind: int, body: bytes) -> bytes:
    return struct.pack(">BBH", kind, 0, len(body)) + body


def client_stream(c: Conversation, pieces: list[tuple[int, bytes]], total: int) -> list:
    """The handshake, the client's pieces (relative offset, bytes), the server's ACK of
    everything (which makes the assembler deliver across the holes), and the close."""
    pkts = c.handshake() + [c.seg("c", "PA", body, rel=rel) for rel, body in pieces]
    pkts.append(c.seg("s", "A", ack=c.isn["c"] + 1 + total))
    return pkts + c.close()


def client_messages(pkts: list, **options) -> list:
    return [m for m in messages(pkts, **options) if m.direction is Direction.CLIENT]


def test_a_hole_between_messages_is_skipped_and_counted():
    c = Conversation(sport=5555)
    first, lost, after = msg(1, b"abc"), msg(2, b"lost one"), msg(3, b"def")
    stream = first + lost + after
    got = client_messages(client_stream(c, [(0, first), (len(first) + len(lost), after)],
                                        len(stream)))
    assert [(bytes(m.layer.payload), m.offset, m.skipped, m.partial) for m in got] == [
        (b"abc", 0, 0, False), (b"def", len(first), len(lost), False)]
    assert "after 12 bytes lost" in repr(got[1])


def test_a_hole_inside_a_message_gives_a_partial_then_framing_again():
    """The tail of the cut message decodes as a header too (b'xxxx': a 30840-byte body),
    but its length does not line up with the segments, so the next segment start wins."""
    c = Conversation(sport=5555)
    big, bee, sea = msg(2, b"x" * 100), msg(3, b"bee"), msg(1, b"sea")
    stream = big + bee + sea
    pieces = [(0, big[:40]), (80, big[80:]), (104, bee), (111, sea)]  # big[40:80] is lost
    got = client_messages(client_stream(c, pieces, len(stream)))
    partial, b, s = got
    assert partial.partial and bytes(partial.packet.data) == big[:40] and partial.skipped == 0
    assert partial.packet.error.message == (
        "40 bytes are missing from the capture inside this message: its header asks for "
        "more than the 40 bytes that came")
    assert (bytes(b.layer.payload), b.offset, b.skipped) == (b"bee", 40 + 24, 40 + 24)
    assert (bytes(s.layer.payload), s.offset, s.skipped) == (b"sea", 40 + 24 + 7, 0)
    assert not b.partial and not s.partial


def test_several_messages_in_one_segment_after_a_hole_line_up_together():
    c = Conversation(sport=5555)
    head, lost = msg(1, b"one"), msg(2, b"two")
    together = msg(3, b"three") + msg(1, b"four")
    stream = head + lost + together
    got = client_messages(client_stream(c, [(0, head), (len(head) + len(lost), together)],
                                        len(stream)))
    assert [(bytes(m.layer.payload), m.skipped) for m in got] == [
        (b"one", 0), (b"three", len(lost)), (b"four", 0)]


def test_a_message_after_the_hole_spanning_segments_waits_for_its_end():
    c = Conversation(sport=5555)
    head, lost, long = msg(1, b"a"), msg(2, b"gone"), msg(2, bytes(range(200)) * 5)
    start = len(head) + len(lost)
    pieces = [(0, head), (start, long[:300]), (start + 300, long[300:700]),
              (start + 700, long[700:])]
    got = client_messages(client_stream(c, pieces, start + len(long)))
    assert [(len(m.layer.payload), m.skipped, m.partial) for m in got] == [
        (1, 0, False), (1000, len(lost), False)]


def test_a_guess_that_never_lines_up_comes_out_partial_at_the_end():
    """The only bytes after the hole announce more than ever comes: at the end of the
    connection they are the partial message, with the bytes lost before them counted."""
    c = Conversation(sport=5555)
    head, cut = msg(1, b"a"), msg(2, b"y" * 50)
    got = client_messages(client_stream(c, [(0, head), (len(head) + 20, cut[20:])],
                                        len(head) + len(cut)))
    assert [(m.partial, m.skipped, m.offset) for m in got] == [(False, 0, 0), (True, 20, 5)]
    assert bytes(got[1].packet.data) == cut[20:]
    assert got[1].packet.error.message.startswith("the connection ended inside this message")


def test_resync_false_stops_the_direction_at_the_hole():
    c = Conversation(sport=5555)
    first, lost, after = msg(1, b"abc"), msg(2, b"lost one"), msg(3, b"def")
    pkts = client_stream(c, [(0, first), (len(first) + len(lost), after)],
                         len(first + lost + after))
    factory = MessageFactory(lambda m: None, resync=False)
    assembler = TCPAssembler(factory)
    for p in pkts:
        assembler.assemble(p)
    assembler.flush_all()
    assert [bytes(m.layer.payload) for m in client_messages(pkts, resync=False)] == [b"abc"]
    assert any("framing lost" in e for e in factory.streams[0].errors)


def test_segments_after_a_hole_that_are_no_message_are_dropped(tmp_path, monkeypatch,
                                                               restore_registry):
    """A layer that refuses bytes (a magic number): the segment after the hole is the cut
    message's tail, not a message, so it is dropped and framing starts at the next one."""
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    spec = tmp_path / "magic.layer"
    spec.write_text('import "tcp.layer"\nlayer MagicMsg : application {\n'
                    "    magic: u16;\n    length: u16 = len(payload);\n    payload = length;\n"
                    '    requires magic == 0xCAFE : "not a MagicMsg";\n}\n'
                    "extend TCPPort { 6002 -> MagicMsg }\n")
    pktspec.load(spec)

    def magic(body: bytes) -> bytes:
        return struct.pack(">HH", 0xCAFE, len(body)) + body

    c = Conversation(sport=6002)
    cut, after = magic(b"z" * 60), magic(b"ok")
    pieces = [(0, cut[:20]), (40, cut[40:]), (len(cut), after)]
    got = client_messages(client_stream(c, pieces, len(cut) + len(after)))
    assert [(m.partial, m.skipped, bytes(m.layer.payload)) for m in got] == [
        (True, 0, b"z" * 16), (False, 20 + 24, b"ok")]


def test_dns_over_tcp_finds_the_next_query_after_a_lost_segment():
    if REGISTRY.table("TCPPort").get(53) is None:
        pytest.skip("no layer bound to TCP port 53 in the protocol library")
    from tests.reassembly.test_messages import dns_query, framed

    c = Conversation(sport=53)
    q1, q2, q3 = (framed(dns_query(i, name)) for i, name in
                  ((1, b"example.com"), (2, b"a-rather-long-name.example.org"), (3, b"pktspec.org")))
    pieces = [(0, q1), (len(q1), q2[:10]), (len(q1) + 30, q2[30:]), (len(q1 + q2), q3)]
    got = client_messages(client_stream(c, pieces, len(q1 + q2 + q3)))
    assert [m.packet.layer("DNS").id for m in got if not m.partial] == [1, 3]
    assert [m.partial for m in got] == [False, True, False]
    assert got[2].skipped == 20 + len(q2) - 30


def test_waiting_for_a_delimiter_after_a_hole_stays_linear(monkeypatch):
    """Text after a hole with no line end for 400 KB: every segment start may begin a line,
    but the bytes are read again only as they grow by a quarter, and the later starts wait
    for the same delimiter unread, so the decodes read a few times the stream, not the
    stream once per segment; the line that finally ends comes out whole."""
    import sys

    module = sys.modules["pktspec.reassembly.messages"]  # the package exports a messages()
    pktspec.load(EXAMPLES / "textlines.layer")
    calls = []
    real = module._extent_or_need
    monkeypatch.setattr(module, "_extent_or_need",
                        lambda cls, buf, pos: calls.append(len(buf) - pos) or real(cls, buf, pos))
    c = Conversation(sport=2525)
    head, lost = b"HELO a\r\n", b"MAIL FROM:<x@y>\r\n"
    pieces, at = [(0, head)], len(head) + len(lost)
    for _ in range(400):
        pieces.append((at, b"q" * 1000))
        at += 1000
    pieces.append((at, b"end\r\n"))
    got = client_messages(client_stream(c, pieces, at + 5))
    assert [bytes(m.layer.line)[:4] for m in got] == [b"HELO", b"qqqq"]
    assert got[1].skipped == len(lost) and len(got[1].layer.line) == 400_003
    assert sum(calls) < 20 * at  # bytes read by the decodes: each segment alone would be 100x
