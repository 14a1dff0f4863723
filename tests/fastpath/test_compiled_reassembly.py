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


# -- user code that runs in the middle of the in-order branch (review findings) -------------

def run_both(monkeypatch, scenario):  # noqa: ANN001
    """scenario() with the compiled in-order branch, then with Python's: (result, error)."""
    out = []
    original = fastpath.in_order_path
    for compiled in (True, False):
        monkeypatch.setattr(fastpath, "in_order_path",
                            original if compiled else (lambda *args: None))
        try:
            out.append(("ok", scenario()))
        except Exception as exc:  # noqa: BLE001 - the error is what is compared
            out.append(("raised", type(exc), str(exc)))
    monkeypatch.setattr(fastpath, "in_order_path", original)
    return out


def raising_stream(seen, assembler_box):  # noqa: ANN001
    class Raising:
        def __init__(self, conn):  # noqa: ANN001
            pass

        def reassembled(self, chunk):  # noqa: ANN001
            seen.append(assembler_box[0].stats.packets)
            raise RuntimeError("boom")

        def complete(self) -> None:
            pass
    return Raising


def test_a_stream_that_raises_leaves_the_same_counts(monkeypatch):
    """Packets are counted where the Python branch counts them, before the delivery."""
    from tests.reassembly.reassembly_builders import Conversation

    def one_by_one():
        seen, box = [], []
        assembler = TCPAssembler(raising_stream(seen, box))
        box.append(assembler)
        c = Conversation()
        for packet in c.handshake():
            assembler.assemble(packet)
        with pytest.raises(RuntimeError):
            assembler.assemble(c.seg("c", "PA", b"hello"))
        return assembler.stats.packets, seen

    def yielding():
        seen, box = [], []
        assembler = TCPAssembler(raising_stream(seen, box))
        box.append(assembler)
        c = Conversation()
        with pytest.raises(RuntimeError):
            for _ in assembler._assemble_yielding(c.handshake() + [c.seg("c", "PA", b"hi")],
                                                  []):
                pass
        return assembler.stats.packets

    compiled, python = run_both(monkeypatch, one_by_one)
    assert compiled == python == ("ok", (4, [4]))
    compiled, python = run_both(monkeypatch, yielding)
    assert compiled == python == ("ok", 4)


def test_copies_have_their_own_compiled_branch(monkeypatch):
    """A copy's branch is bound to the copy's tables (__getstate__ / __setstate__), so
    assembling into a copy leaves the original as it was."""
    import copy

    from tests.reassembly.reassembly_builders import Conversation

    def scenario():
        assembler = TCPAssembler(lambda conn: None)
        c = Conversation()
        for packet in c.handshake():
            assembler.assemble(packet)
        data = c.seg("c", "PA", b"data")
        deep = copy.deepcopy(assembler)
        deep.assemble(data)
        untouched = assembler.stats.packets  # a deep copy shares nothing
        shallow = copy.copy(assembler)  # shares the tables and counters, as any copy.copy
        assert shallow._in_order is None or shallow._in_order is not assembler._in_order
        shallow.assemble(data)
        return untouched, deep.stats.packets, assembler.stats.packets

    compiled, python = run_both(monkeypatch, scenario)
    assert compiled == python == ("ok", (3, 4, 4))


def test_finalizers_of_replaced_values_cannot_break_the_compiled_branch():
    """A finalizer that runs when the branch replaces a slot's value (here: the
    connection's last_seen) runs once the branch has done its work: never on half an
    update, and never in a way that crashes it (the compiled path; Python's would run it
    at the assignment, so the outcomes may differ, but both are consistent)."""
    from tests.reassembly.reassembly_builders import Conversation

    log = []

    class Keep:
        def __init__(self, conn):  # noqa: ANN001
            pass

        def reassembled(self, chunk):  # noqa: ANN001
            log.append((bytes(chunk.data), chunk.offset))

        def complete(self) -> None:
            pass

    assembler = TCPAssembler(Keep)
    c = Conversation()
    for packet in c.handshake():
        assembler.assemble(packet)
    segment = c.seg("c", "PA", b"one")
    ran = []

    class Evil:
        def __del__(self):
            ran.append(True)
            del segment._trans.window  # a slot the branch has already read

    assembler._conns[0].last_seen = Evil()
    assembler.assemble(segment)
    assert ran == [True]
    assert log == [(b"one", 0)]
    assert assembler._conns[0].client.nxt == 3


def test_a_reused_parser_layer_reads_the_packet_before_old_values_go():
    """The Parser's layers are reused: replacing a slot's old value may run its finalizer,
    which here overwrites the packet's bytes. Python reads a struct before it assigns, and
    the compiled loop keeps old values until the layer is done: both read the packet."""
    from pktspec.layers import TCP, Ethernet, IPv4
    from pktspec.runtime.parser import Parser

    frame = bytearray((Ethernet() / IPv4(src="192.0.2.1", protocol=6)
                       / TCP(src_port=1, dst_port=2, ack=0x22222222, window=777)).build())
    parser = Parser(Ethernet, [Ethernet, IPv4, TCP])

    class Scribble:
        def __del__(self):
            frame[34 + 8:34 + 16] = b"\xee" * 8  # TCP's ack and the bytes after it

    parser.decode_layers(bytes(frame))
    parser[TCP].seq = Scribble()
    assert parser.decode_layers(frame) == [Ethernet, IPv4, TCP]
    assert (parser[TCP].ack, parser[TCP].window) == (0x22222222, 777)
