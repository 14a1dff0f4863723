"""``pktspec follow``: the stream listing, ASCII, hex and raw output, on a capture we write."""

from __future__ import annotations

import pytest

from pktspec.capture.pcap import PcapWriter
from pktspec.cli import main
from tests.conftest import CAPTURES, corpus_or_skip
from tests.reassembly.reassembly_builders import Conversation


@pytest.fixture
def capture(tmp_path):
    a, b = Conversation(cport=1111), Conversation(cport=2222)
    pkts = a.handshake() + [a.seg("c", "PA", b"GET / HTTP/1.0\r\n\r\n"),
                            a.seg("s", "PA", b"HTTP/1.0 200 OK\r\n\r\n\x00\x01hi")] + a.close()
    pkts += b.handshake() + [b.seg("s", "PA", b"late", rel=4),
                             b.seg("c", "A", ack=b.isn["s"] + 1 + 8)] + b.close()
    path = tmp_path / "two.pcap"
    with PcapWriter(path) as writer:
        for p in pkts:
            writer.write(bytes(p.data), p.metadata)
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["follow", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_listing(capsys, capture):
    code, out, _ = run(capsys, str(capture))
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].split() == ["stream", "client", "server", "client", "bytes", "server",
                                "bytes", "gaps", "end"]
    assert lines[1].split() == ["0", "10.0.0.1:1111", "->", "10.0.0.2:80", "18", "23", "0",
                                "fin"]
    assert lines[2].split()[4:] == ["0", "4", "1", "fin"]


def test_ascii_like_tshark(capsys, capture):
    code, out, _ = run(capsys, str(capture), "0")
    assert code == 0
    assert out.splitlines()[1:6] == ["=" * 67, "Follow: tcp,ascii", "Filter: tcp.stream eq 0",
                                     "Node 0: 10.0.0.1:1111", "Node 1: 10.0.0.2:80"]
    assert "18\nGET / HTTP/1.0\r\n\r\n\n\t23\nHTTP/1.0 200 OK\r\n\r\n..hi\n" in out


def test_missing_bytes_marker(capsys, capture):
    _, out, _ = run(capsys, str(capture), "1")
    # as tshark: the marker and a NUL are written into the data, with their length
    assert "\t34\n[4 bytes missing in capture file].\n\t4\nlate\n" in out


def test_hex(capsys, capture):
    _, out, _ = run(capsys, str(capture), "0", "--hex")
    assert ("00000000  47 45 54 20 2f 20 48 54  54 50 2f 31 2e 30 0d 0a  GET / HT TP/1.0.."
            in out)
    assert "\t00000010  0a 0d 0a 00 01 68 69" in out


def test_raw_writes_a_file_per_direction(capsys, capture, tmp_path):
    code, _, err = run(capsys, str(capture), "1", "--raw", str(tmp_path / "s1"))
    assert code == 0
    assert (tmp_path / "s1.client.bin").read_bytes() == b""
    assert (tmp_path / "s1.server.bin").read_bytes() == b"late"
    assert "4 bytes missing at byte 0" in err


def test_unknown_stream_and_bad_options(capsys, capture):
    assert run(capsys, str(capture), "7")[0] == 1
    assert run(capsys, str(capture), "--hex")[0] == 2


def test_corpus_capture_with_holes(capsys):
    corpus_or_skip()
    code, out, _ = run(capsys, str(CAPTURES / "tcp__zk-reassembly.pcap"), "0")
    assert code == 0 and out.count("bytes missing in capture file]") == 9


def test_hex_and_ascii_at_a_hole_are_tshark_s(capsys, capture):
    """tshark -z follow,tcp,hex: the marker and its NUL are counted in the offsets, the
    ASCII column is two groups of 8, offsets are upper-case hex; a tab prints as '.'."""
    from pktspec.cli.follow_cmd import ascii_text, hex_lines

    marker = b"[8 bytes missing in capture file]\0"
    assert hex_lines(marker, 0x20, "").splitlines()[-1] == (
        "00000040  5d 00" + " " * 45 + "].")
    assert hex_lines(b"hello\tworld!!!!!", 10, "") == (
        "0000000A  68 65 6c 6c 6f 09 77 6f  72 6c 64 21 21 21 21 21  hello.wo rld!!!!!\n")
    assert ascii_text(b"a\tb\r\n") == "a.b\r\n"
