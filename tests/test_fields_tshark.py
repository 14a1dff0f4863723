"""``decode -e FIELD`` (tshark's ``-T fields -e``) against tshark's own output: every column of
the corpus truth (truth/*.fields.tsv), every packet, spelled exactly as tshark prints it (hex
where tshark shows hex, frame numbers and times as tshark writes them).

A column -e does not print is listed in NOT_FIELDS with the reason, and the test checks that
it really is refused; the differences are those of the conformance test (its exceptions file:
a header pktspec keeps as an error layer where tshark shows what it could read, values behind
a protocol pktspec has no layer for) and the few in TSHARK_QUIRKS. Nothing is skipped
silently: each compared column must have agreed on at least one non-empty value.
"""

from __future__ import annotations

from collections import Counter

import pytest

import pktspec
from pktspec.capture.pcap import PcapReader
from pktspec.cli import main
from pktspec.cli.render import field_columns
from pktspec.display_filters import DisplayFilterError, Frames, compile_field
from tests.conftest import CAPTURES, corpus_captures, corpus_or_skip
from tests.protocols.test_corpus_conformance import (
    blocker,
    is_prefix,
    load_exceptions,
    truth_rows,
    tshark_protocols,
)

NOT_FIELDS = {
    "frame.protocols": "tshark's protocol chain; the conformance test compares the layers",
    "frame.encap_type": "Wireshark's WTAP_ENCAP number, not the capture's LINKTYPE",
    "tcp.stream": "tshark's conversation index, not a header field",
    "_ws.malformed": "tshark's diagnostics, not a header field",
    "_ws.expert": "tshark's diagnostics (TCP analysis included), not a header field",
    "_ws.short": "tshark's diagnostics, not a header field",
}

TSHARK_QUIRKS = {
    ("fmt__td-timestamp-invalid-nano.pcap", "frame.time_epoch"):
        "fractions of 10^9 ns and more: tshark prints them un-normalised "
        "(1418145370.1000000000), pktspec carries them into the seconds",
    ("fmt__hk-be-test102-all-blocks.pcapng", "frame.number"):
        "tshark 4.0 numbers pcapng Custom Blocks as frames; pktspec's records are packets",
    ("fmt__hk-le-test102-all-blocks.pcapng", "frame.number"):
        "tshark 4.0 numbers pcapng Custom Blocks as frames; pktspec's records are packets",
    ("fmt__hk-le-test202-multi-shb-mixed-endian.pcapng", "frame.number"):
        "tshark 4.0 numbers pcapng Custom Blocks as frames; pktspec's records are packets",
    ("fmt__hk-le-test202-multi-shb-mixed-endian.pcapng", "frame.interface_id"):
        "several sections: tshark 4.0 numbers interfaces within each section, pktspec's "
        "reader across the file (CaptureInfo.interface)",
    ("fmt__gpf-epb-options-comments.pcapng", "frame.comment"):
        "two comments on one packet: pktspec's reader makes them one (joined by a newline), "
        "tshark prints them as two values",
}

EMPTY_IN_CORPUS = {
    "llc.pid": "every SNAP header of the corpus has OUI 0 (tshark names its protocol "
               "llc.type): test_llc_pid_on_a_built_frame checks a value",
}


def _header(capture: str) -> list[str]:
    return (CAPTURES.parent / "truth" / f"{capture}.fields.tsv").read_text().split("\n", 1)[0] \
        .split("\t")


def test_every_truth_column_is_printed_or_said_why_not():
    corpus_or_skip()
    columns = _header("tcp__dk-http.pcap")
    assert len(columns) == 93
    for name in columns:
        if name in NOT_FIELDS:
            with pytest.raises(DisplayFilterError):
                compile_field(name)
        else:
            compile_field(name)  # raises for a column -e cannot print


def test_decode_dash_e_prints_what_tshark_prints_on_the_whole_corpus():
    corpus_or_skip()
    exceptions = load_exceptions()
    agreed: Counter = Counter()
    mismatches, quirks_used = [], set()
    names = [n for n in corpus_captures() if not n.startswith("badfile__")]
    for capture in names:
        header = _header(capture)
        columns = {n: compile_field(n) for n in header if n not in NOT_FIELDS}
        rows = truth_rows(capture)
        with pktspec.open(CAPTURES / capture) as source:
            frames = Frames(interfaces=not isinstance(source._records, PcapReader))
            lines = []
            for packet in source:
                frames.see(packet, source.record_number)
                lines.append(field_columns(packet, list(columns.values()), frames).split("\t"))
        assert len(lines) == len(rows), capture
        for ours, row in zip(lines, rows, strict=True):
            hidden = blocker(tshark_protocols(row))
            frame = row["frame.number"]
            for name, value in zip(columns, ours, strict=True):
                theirs = row[name]
                if value == theirs:
                    if theirs:
                        agreed[name] += 1
                    continue
                if hidden and is_prefix(value, theirs):
                    continue  # behind a protocol pktspec has no layer for (conformance)
                if any(e.covers(capture, frame, name) for e in exceptions):
                    continue  # a broken header: conformance_exceptions.tsv says why
                if (capture, name) in TSHARK_QUIRKS:
                    quirks_used.add((capture, name))
                    continue
                mismatches.append((capture, frame, name, value, theirs))
    assert mismatches == []
    assert quirks_used == set(TSHARK_QUIRKS)
    never = [n for n in _header("tcp__dk-http.pcap") if n not in NOT_FIELDS and not agreed[n]]
    assert never == list(EMPTY_IN_CORPUS)  # every other column agreed on real values
    assert agreed["ip.id"] > 1000 and agreed["tcp.flags"] > 1000 and agreed["eth.type"] > 3000


HEX_AND_DECIMAL = [  # frame 1 of dk-http (tshark 4.0.17 -T fields), beyond the truth's columns
    ("ip.id", "0x0f41"), ("ip.checksum", "0x91eb"), ("ip.flags", "0x02"), ("ip.dsfield", "0x00"),
    ("ip.dsfield.dscp", "0"), ("tcp.checksum", "0xc30c"), ("tcp.flags", "0x0002"),
    ("tcp.urgent_pointer", "0"), ("tcp.window_size_value", "8760"), ("eth.type", "0x0800"),
    ("tcp.hdr_len", "28"), ("tcp.len", "0"), ("tcp.seq", "951057939"),
    ("frame.time_relative", "0.000000000"), ("frame.time_epoch", "1084443427.311224000"),
    ("frame.number", "1"), ("frame.interface_id", ""), ("tcp.payload", ""),
]


def test_hex_where_tshark_shows_hex(capsys):
    """Values checked by hand against tshark 4.0.17's -T fields on the first packet."""
    corpus_or_skip()
    args = ["decode", str(CAPTURES / "tcp__dk-http.pcap"), "-c", "1"]
    for name, _ in HEX_AND_DECIMAL:
        args += ["-e", name]
    assert main(args) == 0
    assert capsys.readouterr().out == "\t".join(v for _, v in HEX_AND_DECIMAL) + "\n"


def test_frame_numbers_and_times_follow_the_file_under_a_filter(capsys):
    """-Y keeps frame.number the record's number and time_relative from the first record
    (tshark: frames 41-43 at 17.905747, 30.063228, 30.393704 seconds; interface 2 in a
    pcapng whose packets all came on its third interface)."""
    corpus_or_skip()
    assert main(["decode", str(CAPTURES / "tcp__dk-http.pcap"), "-Y", "frame.number > 40",
                 "-e", "frame.number", "-e", "frame.time_relative", "-e", "frame.time_delta",
                 "-e", "tcp.flags"]) == 0
    assert capsys.readouterr().out == ("41\t17.905747000\t0.000000000\t0x0010\n"
                                       "42\t30.063228000\t12.157481000\t0x0011\n"
                                       "43\t30.393704000\t0.330476000\t0x0010\n")
    assert main(["decode", str(CAPTURES / "fmt__gpf-test300-dsb-3-interfaces.pcapng"), "-c",
                 "1", "-e", "frame.interface_id", "-Y", "frame.interface_id == 2"]) == 0
    assert capsys.readouterr().out == "2\n"


def test_columns_without_frames_number_the_packets_they_see():
    corpus_or_skip()
    column = compile_field("frame.number")
    packets = list(pktspec.open(CAPTURES / "tcp__dk-http.pcap"))[:3]
    assert [column(p) for p in packets] == [[1], [2], [3]]
    assert column.text(True) == "1" and column.text(b"\x01\x02") == "0102"


def test_llc_pid_on_a_built_frame():
    """An 802.3 frame with LLC/SNAP of OUI 00:80:c2 (bridged 802.1): tshark 4.0.17 prints
    eth.len 48, llc.dsap 0xaa, llc.pid 0x0007 for it (written to a pcap and read back)."""
    frame = bytes.fromhex("0180c20000000200000000010030aaaa030080c20007") + bytes(40)
    packet = pktspec.decode(frame)
    columns = [compile_field(n) for n in ("eth.len", "llc.dsap", "llc.pid", "eth.type")]
    assert field_columns(packet, columns) == "48\t0xaa\t0x0007\t"
