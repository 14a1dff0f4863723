"""The TCP assembler's compiled in-order path (runtime/fastpath_c/in_order.c) against
the Python path it stands in for (reassembly/tcp.py), on every capture of the corpus:
the same streams, bytes, gaps, counters and chunks, whichever path takes the packets."""

from __future__ import annotations

import pytest

import pktspec
from pktspec.reassembly import TCPAssembler
from pktspec.reassembly.collect import open_packets, streams
from pktspec.runtime import fastpath
from tests.conftest import corpus_or_skip

pytestmark = pytest.mark.skipif(not fastpath.ACTIVE,
                                reason="the compiled loop is not built or is off")


def tcp_captures() -> list:
    corpus = corpus_or_skip()
    return sorted(p for p in (corpus / "captures").iterdir()
                  if not p.name.startswith(("badfile__", "fmt__")))


def python_path_only(monkeypatch) -> None:
    monkeypatch.setattr(fastpath, "in_order_path", lambda *args: None)


def test_streams_are_the_same_with_the_compiled_in_order_path(monkeypatch):
    compiled, taken = {}, 0
    original = fastpath.in_order_path
    made = []

    def counting(*args):
        path = original(*args)
        made.append(path)
        return path

    monkeypatch.setattr(fastpath, "in_order_path", counting)
    for path in tcp_captures():
        try:
            compiled[path.name] = list(streams(str(path)))
        except pktspec.errors.CaptureError:
            continue
    taken = sum(p.taken for p in made if p is not None)
    assert taken > 1000  # the compiled path really took packets
    python_path_only(monkeypatch)
    for name, result in compiled.items():
        assert list(streams(str(corpus_or_skip() / "captures" / name))) == result, name


class Chunks:
    """A stream that keeps the chunks it is given (the path without a sink)."""

    def __init__(self, conn, log):  # noqa: ANN001
        self.conn, self.log = conn, log

    def reassembled(self, chunk) -> None:  # noqa: ANN001
        self.log.append((self.conn.index, chunk))

    def complete(self) -> None:
        self.log.append((self.conn.index, "complete", repr(self.conn.client.stats),
                         repr(self.conn.server.stats)))


def chunks_and_stats(path) -> tuple:  # noqa: ANN001
    log: list = []
    assembler = TCPAssembler(lambda conn: Chunks(conn, log))
    for _ in assembler._assemble_yielding(open_packets(str(path)), []):
        pass
    assembler.flush_all()
    return log, assembler.stats


def test_chunks_and_counters_are_the_same_without_a_sink(monkeypatch):
    captures = [p for p in tcp_captures() if p.name.startswith("tcp__")]
    assert captures
    compiled = {p.name: chunks_and_stats(p) for p in captures}
    python_path_only(monkeypatch)
    for path in captures:
        assert chunks_and_stats(path) == compiled[path.name], path.name


def assembled_one_by_one(path) -> tuple:  # noqa: ANN001
    log: list = []
    assembler = TCPAssembler(lambda conn: Chunks(conn, log))
    for packet in open_packets(str(path)):
        assembler.assemble(packet)
    assembler.flush_all()
    return log, assembler.stats


def test_assemble_per_packet_is_the_same_with_the_compiled_in_order_path(monkeypatch):
    captures = [p for p in tcp_captures() if p.name.startswith("tcp__")]
    compiled = {p.name: assembled_one_by_one(p) for p in captures}
    python_path_only(monkeypatch)
    for path in captures:
        assert assembled_one_by_one(path) == compiled[path.name], path.name


def test_an_assembler_is_freed_with_its_compiled_path():
    """assembler -> compiled path -> assembler is a cycle the collector sees."""
    import gc
    import weakref

    assembler = TCPAssembler(lambda conn: None)
    assert assembler._in_order is not None
    ref = weakref.ref(assembler)
    del assembler
    gc.collect()
    assert ref() is None
