"""File-like readers over streams: read/readline, threads, holes, backpressure."""

from __future__ import annotations

import io
import threading

import pytest

import pktspec
from pktspec.reassembly.reader import DataLost, ReaderFactory, ReaderStream, StreamReader
from pktspec.reassembly.stream import Chunk, Direction, Gap
from pktspec.reassembly.tcp import TCPAssembler
from tests.conftest import CAPTURES, corpus_or_skip
from tests.reassembly.reassembly_builders import Conversation


def http_traffic(body: bytes = b"x" * 5000) -> list:
    c = Conversation()
    response = b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    pkts = c.handshake() + [c.seg("c", "PA", b"GET /index.html HTTP/1.0\r\nHost: a\r\n\r\n")]
    pkts += [c.seg("s", "PA", response[i:i + 1400]) for i in range(0, len(response), 1400)]
    return pkts + c.close()


def test_reader_stream_read_after_the_input_ended():
    made: list[ReaderStream] = []
    assembler = TCPAssembler(lambda conn: made.append(ReaderStream(conn)) or made[-1])
    for p in http_traffic():
        assembler.assemble(p)
    assembler.flush_all()
    (stream,) = made
    assert stream.client.readline() == b"GET /index.html HTTP/1.0\r\n"
    assert stream.client.read() == b"Host: a\r\n\r\n"
    assert stream.client.read() == b""
    buffered = io.BufferedReader(stream.server)
    assert buffered.readline() == b"HTTP/1.0 200 OK\r\n"
    assert buffered.read().endswith(b"x" * 5000)


def test_reader_factory_runs_a_handler_per_connection_in_threads():
    results = {}

    def handle(stream: ReaderStream) -> None:
        request = stream.client.readline()
        status = stream.server.readline()
        rest = stream.server.read()
        results[stream.conn.index] = (request, status, len(rest))

    factory = ReaderFactory(handle, max_buffered=2000)
    assembler = TCPAssembler(factory)
    for p in http_traffic():
        assembler.assemble(p)
    assembler.flush_all()
    factory.join(timeout=10)
    assert factory.errors == []
    assert results == {0: (b"GET /index.html HTTP/1.0\r\n", b"HTTP/1.0 200 OK\r\n",
                           len(b"Content-Length: 5000\r\n\r\n") + 5000)}


def test_handler_errors_are_kept():
    def handle(stream: ReaderStream) -> None:
        raise ValueError("bad parse")

    factory = ReaderFactory(handle)
    assembler = TCPAssembler(factory)
    for p in http_traffic():
        assembler.assemble(p)
    assembler.flush_all()
    factory.join(timeout=10)
    assert [str(e) for _, e in factory.errors] == ["bad parse"]


def _fed(reader: StreamReader, *chunks: tuple[bytes, int]) -> StreamReader:
    offset = 0
    for data, skipped in chunks:
        offset += skipped
        reader.feed(Chunk(data, skipped, reader.direction, offset, 0.0))
        offset += len(data)
    reader.finish()
    return reader


def test_holes_are_stepped_over_and_recorded():
    reader = _fed(StreamReader(Direction.CLIENT), (b"abc", 0), (b"def", 5))
    assert reader.read() == b"abcdef" and reader.gaps == [Gap(3, 5)]


def test_raise_on_gap_returns_the_bytes_before_the_hole_first():
    reader = _fed(StreamReader(Direction.CLIENT, raise_on_gap=True), (b"abc", 0), (b"def", 5))
    assert reader.read(100) == b"abc"
    with pytest.raises(DataLost) as lost:
        reader.read(100)
    assert lost.value.skipped == 5
    assert reader.read(100) == b"def" and reader.read(100) == b""


def test_backpressure_blocks_the_feeder_until_the_reader_reads():
    reader = StreamReader(Direction.SERVER, max_buffered=4)
    fed = threading.Event()

    def feeder() -> None:
        for i in range(3):
            reader.feed(Chunk(b"%04d" % i, 0, Direction.SERVER, 4 * i, 0.0))
        reader.finish()
        fed.set()

    thread = threading.Thread(target=feeder)
    thread.start()
    assert not fed.wait(0.2)  # blocked: 4 bytes are waiting
    assert reader.read() == b"000000010002"
    thread.join(5)
    assert fed.is_set()


def test_close_discards_and_releases_a_blocked_feeder():
    reader = StreamReader(Direction.SERVER, max_buffered=1)
    reader.feed(Chunk(b"a", 0, Direction.SERVER, 0, 0.0))
    thread = threading.Thread(target=reader.feed, args=(Chunk(b"b", 0, Direction.SERVER, 1, 0.0),))
    thread.start()
    reader.close()
    thread.join(5)
    assert not thread.is_alive()


def test_http_over_a_real_capture_read_in_threads():
    corpus_or_skip()
    seen = {}

    def handle(stream: ReaderStream) -> None:
        request = io.BufferedReader(stream.client).readline()
        status = io.BufferedReader(stream.server).readline()
        seen[stream.conn.index] = (request.split(b" ")[:2], status.split(b" ")[1])

    factory = ReaderFactory(handle)
    assembler = TCPAssembler(factory)
    for packet in pktspec.open(CAPTURES / "tcp__dk-http.pcap"):
        assembler.assemble(packet)
    assembler.flush_all()
    factory.join(timeout=10)
    assert factory.errors == []
    assert seen == {0: ([b"GET", b"/download.html"], b"200"),
                    1: ([b"GET", b"/pagead/ads?client=ca-pub-2309191948673629&random="
                         b"1084443430285&lmt=1082467020&format=468x60_as&output=html&url="
                         b"http%3A%2F%2Fwww.ethereal.com%2Fdownload.html&color_bg=FFFFFF&"
                         b"color_text=333333&color_link=000000&color_url=666633&"
                         b"color_border=666633"], b"200")}
