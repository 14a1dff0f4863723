"""The pktspec command's arguments and edges: output files that cannot be written, counts,
captures on standard input, layer names in any case, captures damaged part-way, and exact
timestamps in --json."""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from pktspec.cli import main
from pktspec.runtime.metadata import CaptureInfo
from tests.conftest import CAPTURES, TRUTH, corpus_or_skip

ROOT = Path(__file__).resolve().parents[1]
HTTP = CAPTURES / "tcp__dk-http.pcap"
NSEC = CAPTURES / "fmt__td-tcp-handshake-le-nsec.pcap"
SPB = CAPTURES / "fmt__hk-le-test010-spb.pcapng"
CUT = CAPTURES / "badfile__derived-http-truncated-mid-record.pcap"
UDP_SPEC = 'IPv4(src="192.0.2.1", dst="192.0.2.2") / UDP(src_port=40000, dst_port=40009) / b"hi"'
USER0 = 147  # LINKTYPE_USER0: nothing is bound to it, so records decode as Payload


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def raw_ip_capture(path: Path, count: int = 3, nanosecond: bool = False) -> Path:
    """A pcap of IPv4/UDP packets under LINKTYPE_USER0 (made here, no corpus needed)."""
    from pktspec.capture import PcapWriter
    from pktspec.cli.build_cmd import parse_spec
    from pktspec.runtime.serialize import serialize

    data = serialize(*parse_spec(UDP_SPEC))
    with PcapWriter(path, linktype=USER0, nanosecond=nanosecond) as writer:
        for i in range(count):
            writer.write(data, Decimal(f"1418145369.92450548{i}"))
    return path


def feed_stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


# 1. an output file that cannot be written is named as the user gave it


def test_build_into_a_missing_folder_names_the_file_given(capsys, tmp_path):
    target = tmp_path / "missing" / "x.pcap"
    code, _, err = run_cli(capsys, "build", UDP_SPEC, "-w", str(target))
    assert code == 1
    assert err == f"pktspec: cannot write {target}: No such file or directory\n"
    assert os.listdir(tmp_path) == []  # no folder made, no temporary file left


def test_a_write_that_fails_at_the_end_leaves_nothing_behind(capsys, tmp_path, monkeypatch):
    import pktspec.capture.files as files

    def disk_full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", src)

    monkeypatch.setattr(files.os, "replace", disk_full)
    target = tmp_path / "x.pcapng"
    code, _, err = run_cli(capsys, "build", UDP_SPEC, "-c", "3", "-w", str(target))
    assert code == 1
    assert err == f"pktspec: cannot write {target}: No space left on device\n"
    assert os.listdir(tmp_path) == []


def test_the_writers_name_the_target_not_their_temporary_file(tmp_path):
    from pktspec.capture import PcapngWriter, PcapWriter

    for writer in (PcapWriter, PcapngWriter):
        target = tmp_path / "missing" / "x.pcap"
        with pytest.raises(FileNotFoundError) as caught:
            writer(target)
        assert caught.value.filename == str(target) and caught.value.errno == errno.ENOENT


def test_compile_into_a_missing_folder_names_the_file_given(capsys, tmp_path):
    target = tmp_path / "missing" / "x_layers.py"
    code, _, err = run_cli(capsys, "compile", str(ROOT / "examples/myencap/myencap.layer"),
                           "-o", str(target))
    assert code == 1 and err.startswith(f"pktspec: cannot write {target}: ")
    assert os.listdir(tmp_path) == []


def test_follow_raw_into_a_missing_folder_names_the_file_given(capsys, tmp_path):
    corpus_or_skip()
    prefix = tmp_path / "missing" / "stream"
    code, _, err = run_cli(capsys, "follow", str(HTTP), "0", "--raw", str(prefix))
    assert code == 1
    assert err == f"pktspec: cannot write {prefix}.client.bin: No such file or directory\n"


# 2. counts below 1 are refused


@pytest.mark.parametrize("args, message", [
    (["decode", "-c", "0", "x.pcap"], "argument -c/--count: must be 1 or more, not 0"),
    (["decode", "-c", "-1", "x.pcap"], "argument -c/--count: must be 1 or more, not -1"),
    (["decode", "--count=two", "x.pcap"], "argument -c/--count: not a whole number: 'two'"),
    (["stats", "-c", "0", "x.pcap"], "argument -c/--count: must be 1 or more, not 0"),
    (["stats", "-n", "-1", "x.pcap"], "argument -n/--top: must be 0 or more, not -1"),
    (["build", "-c", "0", "IPv4()"], "argument -c/--count: must be 1 or more, not 0"),
    (["follow", "x.pcap", "-1"], "argument stream: must be 0 or more, not -1"),
])
def test_counts_below_the_least_are_argument_errors(capsys, args, message):
    with pytest.raises(SystemExit) as caught:
        main(args)
    assert caught.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"pktspec {args[0]}: error: {message}"


def test_count_one_and_top_zero_still_work(capsys, tmp_path):
    capture = raw_ip_capture(tmp_path / "x.pcap")
    code, out, _ = run_cli(capsys, "decode", "-c", "1", str(capture))
    assert code == 0 and len(out.splitlines()) == 1
    code, out, _ = run_cli(capsys, "stats", "-n", "0", str(capture))
    assert code == 0 and "Packets:     3" in out and "conversations" not in out


# 3. a capture on standard input


def test_decode_reads_standard_input(capsys, tmp_path, monkeypatch):
    capture = raw_ip_capture(tmp_path / "x.pcap")
    code, from_file, _ = run_cli(capsys, "decode", "--first", "IPv4", str(capture))
    assert code == 0 and len(from_file.splitlines()) == 3
    feed_stdin(monkeypatch, capture.read_bytes())
    code, out, _ = run_cli(capsys, "decode", "--first", "IPv4", "-")
    assert code == 0 and out == from_file
    feed_stdin(monkeypatch, gzip.compress(capture.read_bytes()))
    code, out, _ = run_cli(capsys, "decode", "--first", "IPv4", "-")
    assert code == 0 and out == from_file


def test_decode_reads_a_pipe(tmp_path):
    capture = raw_ip_capture(tmp_path / "x.pcap")
    run = subprocess.run([sys.executable, "-m", "pktspec", "decode", "--first", "IPv4", "-"],
                         input=gzip.compress(capture.read_bytes()), capture_output=True,
                         check=True)
    lines = run.stdout.decode().splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("IPv4 UDP 192.0.2.1.40000 > 192.0.2.2.40009: length 2")


def test_stats_and_follow_read_standard_input(capsys, monkeypatch):
    corpus_or_skip()
    feed_stdin(monkeypatch, HTTP.read_bytes())
    code, out, _ = run_cli(capsys, "stats", "--json", "-")
    result = json.loads(out)
    assert code == 0 and result["file"] == "-"
    assert result["packets"] == 43 and result["bytes"] == 25091
    feed_stdin(monkeypatch, HTTP.read_bytes())
    code, out, _ = run_cli(capsys, "follow", "-")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[1].split() == ["0", "145.254.160.237:3372", "->", "65.208.228.223:80", "479",
                                "18364", "0", "fin"]


def test_help_says_how_to_read_standard_input(capsys):
    for command in ("decode", "stats", "follow"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "- reads it from standard input" in text


# 4. layer names in any case, when only one layer has the name


def test_layer_names_in_any_case(capsys, tmp_path):
    from pktspec.cli import find_layer
    from pktspec.layers import TCP, IPv4

    assert find_layer("ipv4") is IPv4 and find_layer("IPV4") is IPv4 and find_layer("tcp") is TCP
    code, out, _ = run_cli(capsys, "list", "tcp")
    assert code == 0 and out.startswith("TCP (transport layer, protocols/tcp.layer)\n")
    code, out, _ = run_cli(capsys, "doc", "ipv4")
    assert code == 0 and out.startswith("IPv4 (network layer, protocols/ipv4.layer)\n")
    capture = raw_ip_capture(tmp_path / "x.pcap", count=1)
    code, out, _ = run_cli(capsys, "decode", "--first", "ipv4", str(capture))
    assert code == 0
    assert out.split(None, 2)[2] == "IPv4 UDP 192.0.2.1.40000 > 192.0.2.2.40009: length 2\n"
    code, out, _ = run_cli(capsys, "stats", "--json", "--first", "ipv4", str(capture))
    hierarchy = json.loads(out)["hierarchy"]
    assert code == 0 and hierarchy[0]["protocol"] == "IPv4"
    assert hierarchy[0]["children"][0]["protocol"] == "UDP"


def test_list_indents_the_continuation_lines_of_a_field_doc(capsys):
    """Dot11's subtype has a four-line doc: its later lines go under its first, in the
    doc column, never at the start of a line where they would read as another row."""
    code, out, _ = run_cli(capsys, "list", "Dot11")
    assert code == 0
    lines = out.splitlines()
    table = lines[lines.index("  fields:") + 1:lines.index("  reached from:")]
    assert all(line.startswith("    ") for line in table)
    first = next(i for i, line in enumerate(table) if line.lstrip().startswith("subtype "))
    column = table[first].index("frame subtype")
    assert table[first + 1] == " " * column + "control wrapper, 8 block ack request, 9 block " \
        "ack, 10 PS-Poll, 11 RTS, 12 CTS, 13 ACK,"
    assert table[first + 4].lstrip().startswith("type ")


def test_an_unknown_layer_name_is_one_clear_line(capsys, tmp_path):
    capture = raw_ip_capture(tmp_path / "x.pcap", count=1)
    code, _, err = run_cli(capsys, "decode", "--first", "ipv5", str(capture))
    assert code == 1 and err.startswith("pktspec: no layer called 'ipv5' (see 'pktspec list'")
    code, _, err = run_cli(capsys, "list", "nope")
    assert code == 1 and err.startswith("pktspec list: no layer called 'nope'")


def test_a_name_two_layers_share_but_for_case_is_ambiguous(capsys, tmp_path,
                                                          restore_registry):
    layer_file = tmp_path / "ambiguous.layer"
    layer_file.write_text("## Named like IPv4 but for case.\nlayer Ipv4 : network {\n"
                          "    x: u8;\n}\n")
    code, _, err = run_cli(capsys, "list", "--layers", str(layer_file), "ipv4")
    assert code == 1
    assert err == "pktspec list: layer name 'ipv4' is ambiguous: say which of IPv4, Ipv4\n"
    code, out, _ = run_cli(capsys, "list", "Ipv4")  # an exact name is never ambiguous
    assert code == 0 and out.startswith("Ipv4 (network layer, ambiguous.layer)")
    code, out, _ = run_cli(capsys, "doc", "IPv4")
    assert code == 0 and out.startswith("IPv4 (network layer, protocols/ipv4.layer)")


# 5. a capture damaged part-way: what was read, then the error


def test_stats_sums_up_the_packets_before_the_damage(capsys):
    corpus_or_skip()
    error = f"pktspec: {CUT}, offset 869, record 6: file ends in the packet data"
    code, out, err = run_cli(capsys, "stats", str(CUT))
    assert code == 1 and err.startswith(error)
    assert "Packets:     5" in out and "Bytes:       765 on the wire, 765 captured" in out
    assert "    TCP                                  frames:5        bytes:765" in out
    code, out, err = run_cli(capsys, "stats", "--json", str(CUT))
    assert code == 1 and err.startswith(error)
    assert json.loads(out)["packets"] == 5


def test_decode_prints_the_packets_before_the_damage(capsys):
    corpus_or_skip()
    code, out, err = run_cli(capsys, "decode", str(CUT))
    assert code == 1 and len(out.splitlines()) == 5
    assert err.startswith(f"pktspec: {CUT}, offset 869, record 6: ")


def test_stats_still_fails_at_once_on_a_bad_filter(capsys, tmp_path):
    capture = raw_ip_capture(tmp_path / "x.pcap")
    code, out, err = run_cli(capsys, "stats", "-f", "udp port", str(capture))
    assert code == 1 and out == "" and "cannot compile filter 'udp port'" in err


# 6. --json timestamps: exact decimal text, null when the record has none


def test_json_timestamps_are_exact_text(capsys, tmp_path):
    capture = raw_ip_capture(tmp_path / "ns.pcap", nanosecond=True)
    code, out, _ = run_cli(capsys, "decode", "--json", str(capture))
    stamps = [json.loads(line)["frame"]["timestamp"] for line in out.splitlines()]
    assert code == 0
    assert stamps == ["1418145369.924505480", "1418145369.924505481", "1418145369.924505482"]
    capture = raw_ip_capture(tmp_path / "us.pcap", count=1)
    code, out, _ = run_cli(capsys, "decode", "--json", str(capture))
    assert json.loads(out)["frame"]["timestamp"] == "1418145369.924505"  # truncated on write


def test_json_timestamps_of_a_nanosecond_file_match_tshark(capsys):
    corpus_or_skip()
    code, out, _ = run_cli(capsys, "decode", "--json", str(NSEC))
    ours = [json.loads(line)["frame"]["timestamp"] for line in out.splitlines()]
    rows = (TRUTH / f"{NSEC.name}.fields.tsv").read_text().splitlines()
    column = rows[0].split("\t").index("frame.time_epoch")
    theirs = [row.split("\t")[column] for row in rows[1:]]
    assert code == 0 and ours[0] == "1418145369.924505488" and ours == theirs


def test_records_without_a_timestamp_say_so(capsys):
    corpus_or_skip()
    code, out, _ = run_cli(capsys, "decode", "--json", "-c", "1", str(SPB))
    assert code == 0 and json.loads(out)["frame"]["timestamp"] is None
    code, out, _ = run_cli(capsys, "decode", "-c", "1", str(SPB))
    assert out.startswith("1 - Ethernet IPv4 UDP DHCPv4 ")
    code, out, _ = run_cli(capsys, "stats", "--json", str(SPB))
    result = json.loads(out)
    assert result["packets"] == 4 and result["first"] is None and result["duration"] is None


@pytest.mark.parametrize("info, text", [
    (CaptureInfo(1418145369, 924505488, 10**9, 60, 60), "1418145369.924505488"),
    (CaptureInfo(1084443427, 5, 10**6, 60, 60), "1084443427.000005"),
    (CaptureInfo(7, 1, 2**10, 60, 60), "7.0009765625"),             # pcapng if_tsresol 2^-10
    (CaptureInfo(7, 3, 100, 60, 60), "7.03"),
    (CaptureInfo(7, 0, 1, 60, 60), "7"),
    (CaptureInfo(1418145371, 2_147_483_648, 10**9, 60, 60), "1418145373.147483648"),
    (CaptureInfo(-2, 250_000, 10**6, 60, 60), "-1.750000"),
])
def test_epoch_text_is_exact(info, text):
    from pktspec.cli.render import epoch_text

    assert epoch_text(info) == text


# -- decode -w: packets that pass the filter, into a capture file (tcpdump -r IN -w OUT) ------


def test_decode_writes_the_filtered_packets_to_pcap_and_pcapng(capsys, tmp_path):
    from pktspec.capture.files import open_records

    corpus_or_skip()
    http = CAPTURES / "tcp__dk-http.pcap"
    with open_records(str(http)) as reader:
        originals = [(bytes(d), i) for d, i in reader]
    syn = tmp_path / "syn.pcap"
    assert main(["decode", str(http), "-f", "tcp[13] & 2 != 0", "-w", str(syn)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == f"pktspec: wrote 2 packet(s) to {syn}\n"
    with open_records(str(syn)) as reader:
        written = [(bytes(d), i) for d, i in reader]
    assert [d for d, _ in written] == [originals[0][0], originals[1][0]]
    assert [(i.ts_sec, i.ts_frac, i.length) for _, i in written] == \
        [(i.ts_sec, i.ts_frac, i.length) for _, i in originals[:2]]
    two = CAPTURES / "fmt__hk-le-test006-two-idb-diff-linktype.pcapng"
    ng = tmp_path / "two.pcapng"
    assert main(["decode", str(two), "-c", "3", "--print", "-w", str(ng)]) == 0
    out, _ = capsys.readouterr()
    assert len(out.splitlines()) == 3 and "Loopback" in out.splitlines()[1]
    with open_records(str(ng)) as reader:
        assert [i.linktype for _, i in reader] == [1, 0, 1]  # both interfaces kept


def test_decode_write_keeps_what_came_before_damage_and_refuses_mixed_link_types(capsys,
                                                                                tmp_path):
    corpus_or_skip()
    out = tmp_path / "before.pcap"
    bad = CAPTURES / "badfile__derived-http-huge-caplen.pcap"
    assert main(["decode", str(bad), "-w", str(out)]) == 1
    assert "wrote 10 packet(s)" in capsys.readouterr().err
    assert main(["decode", str(out)]) == 0 and len(capsys.readouterr().out.splitlines()) == 10
    mixed = tmp_path / "mixed.pcap"  # pcap holds one link type: nothing half-written is kept
    two = CAPTURES / "fmt__hk-le-test006-two-idb-diff-linktype.pcapng"
    assert main(["decode", str(two), "-w", str(mixed)]) == 1
    assert "use pcapng" in capsys.readouterr().err and not mixed.exists()
    missing = tmp_path / "never.pcap"  # an input that cannot be read makes no output
    assert main(["decode", str(tmp_path / "nope.pcap"), "-w", str(missing)]) == 1
    assert not missing.exists()
    empty = tmp_path / "empty.pcap"  # nothing passes the filter: a valid empty capture
    assert main(["decode", str(CAPTURES / "tcp__dk-http.pcap"), "-f", "icmp", "-w",
                 str(empty)]) == 0
    assert empty.stat().st_size == 24


def test_decode_write_pcapng_keeps_each_input_interface(capsys, tmp_path):
    """A pcapng input with two link types, the first packet on the second interface:
    each packet goes to a copy of its own interface (name, link type, clock), and the
    interfaces keep the input's order and numbers."""
    from pktspec.capture.files import open_records
    from pktspec.capture.pcapng_writer import PcapngWriter

    multi = tmp_path / "multi.pcapng"
    with PcapngWriter(str(multi)) as writer:
        eth = writer.add_interface(1, name="eth0")
        radio = writer.add_interface(127, name="wlan0mon", tsresol=9)
        writer.write(b"\x00" * 8, 1.5, interface=radio)
        writer.write(b"\x01" * 14, 2.25, interface=eth)
    out = tmp_path / "out.pcapng"
    assert main(["decode", str(multi), "-w", str(out)]) == 0
    with open_records(str(out)) as reader:
        got = [(bytes(d), i.linktype, i.timestamp, i.interface) for d, i in reader]
        names = [iface.name for iface in reader.interfaces]
    assert got == [(b"\x00" * 8, 127, 1.5, 1), (b"\x01" * 14, 1, 2.25, 0)]
    assert names == ["eth0", "wlan0mon"]


def test_decode_write_pcapng_copies_sections_blocks_and_options(tmp_path):
    """-w of a whole pcapng file gives it back: three sections of mixed byte order with their
    options, every interface, name resolution, statistics, custom blocks, packet options.
    Filtered, the sections and interfaces stay and packets keep their interface numbers."""
    import pktspec
    from pktspec.capture.pcapng import PcapngReader

    corpus_or_skip()
    given = CAPTURES / "fmt__hk-le-test202-multi-shb-mixed-endian.pcapng"
    out = tmp_path / "copy.pcapng"
    assert main(["decode", str(given), "-w", str(out)]) == 0
    assert out.read_bytes() == given.read_bytes()
    options = CAPTURES / "fmt__hk-le-test009-epb-all-options.pcapng"
    assert main(["decode", str(options), "-w", str(out)]) == 0
    assert out.read_bytes() == options.read_bytes()
    assert main(["decode", str(given), "-f", "udp port 17500", "-w", str(out)]) == 0
    with pktspec.open(given, filter="udp port 17500") as lan_sync:
        expected = [(d, i.interface, i.options) for d, i in lan_sync.records()]
    kept, source = PcapngReader(out), PcapngReader(given)
    assert [(d, i.interface, i.options) for d, i in kept] == expected
    list(source)  # its sections and interfaces, all read
    assert [i for _, i, _ in expected] == [1, 4]  # null1 of sections 0 and 2 (local 1)
    assert [(i.local_id, i.section) for i in kept.interfaces if i.id in (1, 4)] == [(1, 0), (1, 2)]
    assert [s.comments for s in kept.sections] == [s.comments for s in source.sections]
    assert [(i.name, i.local_id, i.section) for i in kept.interfaces] == [
        (i.name, i.local_id, i.section) for i in source.interfaces]


def test_decode_write_dash_is_standard_output(tmp_path):
    corpus_or_skip()
    run = subprocess.run([sys.executable, "-m", "pktspec", "decode", "-c", "3", "-w", "-",
                          str(CAPTURES / "tcp__dk-http.pcap")], capture_output=True,
                         cwd=tmp_path, check=True)
    assert run.stdout[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")
    assert b"wrote 3 packet(s) to standard output" in run.stderr
    assert not (tmp_path / "-").exists()
    piped = tmp_path / "piped.pcap"
    piped.write_bytes(run.stdout)
    from pktspec.capture.files import open_records
    with open_records(str(piped)) as reader:
        assert len(list(reader)) == 3


def test_decode_write_format_pcapng_to_standard_output(tmp_path):
    """-F pcapng (tshark's -F) picks the format whatever -w names: pcapng on a pipe."""
    corpus_or_skip()
    run = subprocess.run([sys.executable, "-m", "pktspec", "decode", "-c", "3", "-w", "-",
                          "-F", "pcapng", str(CAPTURES / "tcp__dk-http.pcap")],
                         capture_output=True, cwd=tmp_path, check=True)
    assert run.stdout[:4] == b"\x0a\x0d\x0d\x0a"  # a section header block
    piped = tmp_path / "piped.pcapng"
    piped.write_bytes(run.stdout)
    from pktspec.capture.files import open_records
    with open_records(str(piped)) as reader:
        got = [data for data, _info in reader]
    with open_records(str(CAPTURES / "tcp__dk-http.pcap")) as reader:
        want = [data for data, _info in reader][:3]
    assert got == want
    named = tmp_path / "named.pcapng"
    assert main(["decode", "-c", "2", "-w", str(named), "-F", "pcap",
                 str(CAPTURES / "tcp__dk-http.pcap")]) == 0
    assert named.read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")


def test_decode_format_without_write_is_refused(capsys):
    example = Path(__file__).resolve().parents[1] / "examples/myencap/myencap.pcap"
    assert main(["decode", "-F", "pcapng", str(example)]) == 2
    assert "there is no -w" in capsys.readouterr().err
