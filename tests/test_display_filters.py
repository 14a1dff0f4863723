"""Display filters (tshark's -Y): which packets match, checked against tshark's own reading of
the corpus (truth/*.fields.tsv), and the errors a mistyped filter gives."""

from __future__ import annotations

import csv
import ipaddress
import re

import pytest

import pktspec
from pktspec.cli import main
from pktspec.cli.render import field_columns
from pktspec.display_filters import DisplayFilterError, Frames, compile_field, compile_filter
from pktspec.layers import UDP, Ethernet, IPv4
from tests.conftest import CAPTURES, TRUTH, corpus_captures, corpus_or_skip


def truth_rows(name: str) -> list[dict[str, str]]:
    with open(TRUTH / f"{name}.fields.tsv", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _int(text: str) -> int | None:
    return int(text, 0) if text and "," not in text else None


def _in(network: str, *addresses: str) -> bool:
    return any(a and ipaddress.ip_address(a) in ipaddress.ip_network(network)
               for a in addresses)


# (display filter, the same test on a row of tshark's fields); the rows of one-IPv4, one-TCP
# packets only, so that the two readings mean the same thing
CASES = [
    ("tcp.dst_port == 80", lambda r: _int(r["tcp.dstport"]) == 80),
    ("tcp.port == 443", lambda r: 443 in (_int(r["tcp.srcport"]), _int(r["tcp.dstport"]))),
    ("tcp.flags.syn", lambda r: bool(_int(r["tcp.flags"]) & 0x02)),
    ("tcp.flags.syn and not tcp.flags.ack", lambda r: _int(r["tcp.flags"]) & 0x12 == 0x02),
    ("tcp.flags.fin || tcp.flags.rst", lambda r: bool(_int(r["tcp.flags"]) & 0x05)),
    ("frame.len > 1000", lambda r: int(r["frame.len"]) > 1000),
    ("ipv4.ttl <= 64 and tcp.src_port < 1024",
     lambda r: _int(r["ip.ttl"]) <= 64 and _int(r["tcp.srcport"]) < 1024),
    ("ip.addr == 10.0.0.0/8", lambda r: _in("10.0.0.0/8", r["ip.src"], r["ip.dst"])),
    ("ip.src != 192.168.0.0/16", lambda r: not _in("192.168.0.0/16", r["ip.src"])),
    ("tcp.dst_port in {80 443 8080}", lambda r: _int(r["tcp.dstport"]) in (80, 443, 8080)),
]


@pytest.mark.parametrize("capture", corpus_captures("tcp__"))
@pytest.mark.parametrize("text, truth", CASES, ids=[c[0] for c in CASES])
def test_filters_select_what_tshark_selects(capture, text, truth):
    corpus_or_skip()
    rows = truth_rows(capture)
    keep = [i for i, r in enumerate(rows)
            if r["ip.src"] and "," not in r["ip.src"] and r["tcp.flags"]
            and "," not in r["tcp.flags"]]
    packets = list(pktspec.open(CAPTURES / capture))
    assert len(packets) == len(rows)
    matches = compile_filter(text)
    got = [i for i in keep if matches(packets[i])]
    assert got == [i for i in keep if truth(rows[i])]


def test_layers_enums_bytes_and_ipv6():
    udp = Ethernet() / IPv4(src="192.0.2.1", dst="192.0.2.53") / UDP(src_port=40000,
                                                                     dst_port=47123) / b"hello"
    packet = pktspec.decode(bytes(udp), Ethernet)
    for text, expected in [("udp", True), ("tcp", False), ("not tcp and udp", True),
                           ("ipv4.protocol == UDP", True), ("ipv4.protocol == 17", True),
                           ("ipv4.protocol == tcp", False), ("udp.port == 47123", True),
                           ("ip.dst == 192.0.2.53", True), ("ip.addr != 192.0.2.1", False),
                           ('payload.data contains "ell"', True),
                           ("payload.data contains 68:65", True),
                           ('payload.data == "hello"', True), ("eth.src == 00:00:00:00:00:00",
                                                               True),
                           ("udp.port == 0xb813 && (ipv4.ttl == 64 || frame.len > 9999)", True)]:
        assert compile_filter(text)(packet) is expected, text
    v6 = pktspec.decode(bytes.fromhex(
        "00000000000000000000000086dd6000000000081140" + "20010db8" + "00" * 11 + "01"
        + "20010db8" + "00" * 11 + "02" + "0035003500080000"), Ethernet)
    assert compile_filter("ipv6.src == 2001:db8::1 and ipv6.addr == 2001:db8::/32")(v6)
    assert not compile_filter("ipv6.dst == 2001:db8::1")(v6)


@pytest.mark.parametrize("text, column, words", [
    ("tcp.dst_prt == 80", 5, "TCP has no field 'dst_prt'"),
    ("tcp.port ==", 12, "the filter ends too soon; expected a \"string\", a value"),
    ("(tcp", 5, "expected ')'"),
    ("http2", 1, "no layer called 'http2'"),
    ("ipv4.src == 999.1.1.1", 13, "not an address"),
    ("tcp.dst_port < \"x\"", 14, "compares numbers only"),
    ("ipv4.ttl.syn", 10, "IPv4.ttl is not a flag set"),
    ("tcp == 1", 1, "compare a field"),
    ("ipv4.protocol == NOPE", 18, "not a number or a name of the field's enum"),
])
def test_mistakes_name_the_column(text, column, words):
    with pytest.raises(DisplayFilterError) as info:
        compile_filter(text)
    assert info.value.column == column and words in str(info.value)
    assert str(info.value).endswith("\n    " + text + "\n    " + " " * (column - 1) + "^")


def test_decode_dash_y_on_the_command_line(capsys, tmp_path):
    corpus_or_skip()
    http = str(CAPTURES / "tcp__dk-http.pcap")
    assert main(["decode", http, "-Y", "tcp.flags.syn"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["1", "2"]  # numbered as in the file
    out = tmp_path / "get.pcap"
    assert main(["decode", http, "-Y", 'tcp.payload contains "GET /"', "-w", str(out)]) == 0
    capsys.readouterr()
    assert main(["decode", str(out)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["decode", http, "-Y", "tcp.flags.syn and"]) == 1
    assert "column 18: the filter ends too soon" in capsys.readouterr().err


def test_addr_is_either_end_of_a_layers_flow_for_any_link_layer():
    corpus_or_skip()
    packets = list(pktspec.open(CAPTURES / "link__zk-80211-arp-wlanmon.pcap"))
    ends = compile_filter("dot11.addr == 8a:15:14:9b:5a:e0")  # receiver, then transmitter
    assert [ends(p) for p in packets] == [True, True]
    assert [compile_filter("arp.operation == 2")(p) for p in packets] == [False, True]


def test_the_api_function_stays_callable_after_the_module_is_imported():
    """pktspec.display_filter is a function; its module has another name, so importing the
    module cannot replace the function on the package."""
    import pktspec.display_filters  # noqa: F401

    assert callable(pktspec.display_filter)
    assert pktspec.display_filter("tcp")(pktspec.decode(b"\x00" * 14, "Ethernet")) is False


def test_review_findings_broken_lazy_parts_strings_depth_and_times():
    """A broken lazily decoded part counts as absent; strings are UTF-8 with Python bytes
    escapes, the same for == and contains; nesting is bounded; times compare as decimals."""
    import struct

    dns = struct.pack(">6H", 1, 0x100, 5, 0, 0, 0) + b"\x03abc"  # claims 5 questions
    udp = struct.pack(">4H", 1234, 53, 8 + len(dns), 0) + dns
    ip = (b"\x45\x00" + struct.pack(">H", 20 + len(udp)) + bytes.fromhex("000100004011")
          + b"\0\0" + bytes([192, 0, 2, 1, 192, 0, 2, 2]))
    broken = pktspec.decode(bytes.fromhex("ffffffffffff020000000001") + b"\x08\x00" + ip + udp)
    assert compile_filter("dns")(broken) is True
    assert compile_filter('dns.questions contains "abc"')(broken) is False
    assert compile_filter("dns.questions")(broken) is False

    data = "éxx\x00".encode()
    packet = pktspec.decode(bytes(Ethernet() / IPv4() / UDP(src_port=40000, dst_port=47123)
                                  / data), Ethernet)
    for text in ['payload.data == "éxx\\x00"', 'payload.data contains "é"',
                 'payload.data contains "\\x00"', "payload.data contains c3:a9",
                 'payload.data == "\\xc3\\xa9xx\\x00"', 'payload.data != "other"']:
        assert compile_filter(text)(packet) is True, text
    with pytest.raises(DisplayFilterError, match="column 17: bad escape"):
        compile_filter('payload.data == "\\x"')
    for deep in ["not " * 600 + "tcp", "! " * 5000 + "tcp"]:
        with pytest.raises(DisplayFilterError, match="more than 100 nested operators"):
            compile_filter(deep)
    assert compile_filter("not " * 95 + "udp")(packet) is False  # 95 nots: still fine

    corpus_or_skip()
    first = next(iter(pktspec.open(CAPTURES / "tcp__dk-http.pcap")))
    assert first.metadata.timestamp == pytest.approx(1084443427.311224)
    assert compile_filter("frame.time > 1084443427.3 and frame.time < 1084443427.4")(first)


TSHARK_SYNTAX = [  # filters in tshark's own spelling, and what tshark 4.0 selects on dk-http
    ("tcp.port in {80, 3372}", 41), ("tcp.port in {80..100}", 41), ("tcp.srcport eq 80", 22),
    ("ip.flags.df == 1", 38), ("ip.flags.df", 38), ("tcp.options", 2), ("tcp.flags == 0x02", 1),
    ("ip.proto == 6", 41), ("tcp.dstport gt 1000", 22), ("icmp", 0), ("ip.len >= 1000", 15),
]


@pytest.mark.parametrize("text, count", TSHARK_SYNTAX, ids=[t for t, _ in TSHARK_SYNTAX])
def test_tshark_spellings_select_what_tshark_selects(text, count):
    """Commas and ranges in sets, eq/gt words, tshark's field names (srcport, proto), flag
    short names (df), an empty options list as absent: the counts are tshark 4.0.17's."""
    corpus_or_skip()
    matches = compile_filter(text)
    assert sum(1 for p in pktspec.open(CAPTURES / "tcp__dk-http.pcap") if matches(p)) == count


def test_flag_names_fields_and_addresses_of_every_kind():
    corpus_or_skip()
    radio = list(pktspec.open(CAPTURES / "link__td-radiotap-80211-dhcp.pcap"))
    assert compile_filter("wlan.addr == ff:ff:ff:ff:ff:ff")(radio[0])  # address3, the DA
    assert compile_filter("radiotap.flags.WEP and radiotap.flags == WEP")(radio[0])
    assert compile_filter("dot11.flags.to_ds and dot11.flags.TD")(radio[0])
    for bad, words in [("tcp.flags.bogus", "TCP.flags has no flag 'bogus' (its flags: ns,"),
                       ("tcp.dstprot == 80", "did you mean 'dst_port'?"),
                       ("ip.src == tcp.srcport", "ip.src (address) and tcp.srcport "
                        "(number) cannot be compared with =="),
                       ("ip.src < udp.port", "cannot be compared with <")]:
        with pytest.raises(DisplayFilterError, match=re.escape(words)):
            compile_filter(bad)
    assert compile_filter("eth.src == 0000.0100.0000")(
        next(iter(pktspec.open(CAPTURES / "tcp__dk-http.pcap"))))


def test_a_filter_sees_a_layer_file_reloaded_after_it_was_compiled(tmp_path, monkeypatch,
                                                                   restore_registry):
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "refilt.layer"
    path.write_text("layer ReFilt : application { a: u8; b: u8; }\n")
    pktspec.load(path)
    matches = compile_filter("refilt.b == 2")
    path.write_text("layer ReFilt : application { a: u8; b: u8; c: u8; }\n")
    module = pktspec.load(path)
    assert matches(pktspec.decode(b"\x01\x02\x03", module.ReFilt)) is True


FIELDS = ["frame.len", "ip.src", "ip.dst", "ip.ttl", "ip.proto", "tcp.srcport", "tcp.dstport",
          "udp.srcport", "udp.dstport"]


@pytest.mark.parametrize("capture", corpus_captures("tcp__"))
def test_decode_dash_e_prints_what_tshark_fields_print(capture):
    """decode -e (tshark -T fields -e) on the truth's own columns, for every packet that
    has one IPv4 header (tunnels and IPv6 rows aside: the columns differ in meaning)."""
    from pktspec.cli.render import field_columns
    from pktspec.display_filters import compile_field

    corpus_or_skip()
    columns = [compile_field(name) for name in FIELDS]
    rows = truth_rows(capture)
    packets = list(pktspec.open(CAPTURES / capture))
    checked = 0
    for row, packet in zip(rows, packets, strict=True):
        if not row["ip.src"] or "," in row["ip.src"] or "," in row["tcp.srcport"]:
            continue
        assert field_columns(packet, columns).split("\t") == [row[f] for f in FIELDS], \
            row["frame.number"]
        checked += 1
    assert checked or not any(r["ip.src"] for r in rows)


def test_decode_dash_e_on_the_command_line(capsys):
    corpus_or_skip()
    http = str(CAPTURES / "tcp__dk-http.pcap")
    assert main(["decode", http, "-c", "2", "-e", "ip.src", "-e", "tcp.flags", "-e",
                 "tcp.flags.syn", "-e", "eth.src"]) == 0
    assert capsys.readouterr().out == ("145.254.160.237\t0x0002\t1\t00:00:01:00:00:00\n"
                                       "65.208.228.223\t0x0012\t1\tfe:ff:20:00:01:00\n")
    assert main(["decode", http, "-e", "ip.srx"]) == 1
    assert "did you mean 'src'?" in capsys.readouterr().err


SLICES = [("tcp[0:2] == 00:50", 22), ("tcp[2:2] == 00:50", 19), ("ip[0] == 0x45", 43),
          ("eth[12:2] == 08:00", 43), ("frame[12:2] == 08:00", 43),
          ('tcp.payload[0:3] == "GET"', 2), ('http.request.method == "GET"', 2),
          ("ip[9] == 17", 2)]


@pytest.mark.parametrize("text, count", SLICES, ids=[t for t, _ in SLICES])
def test_byte_slices_select_what_tshark_selects(text, count):
    """layer[offset:length] (bytes from the layer's first byte), layer[offset] (a byte, a
    number), field[...] and frame[...]: the counts are tshark 4.0.17's on dk-http."""
    corpus_or_skip()
    matches = compile_filter(text)
    assert sum(1 for p in pktspec.open(CAPTURES / "tcp__dk-http.pcap") if matches(p)) == count
    with pytest.raises(DisplayFilterError, match="a slice of 0 bytes"):
        compile_filter("tcp[0:0] == 00")


def test_vlan_id_is_read_as_tshark_names_it():
    """vlan.id: tshark's layer alias and the one field ending in _id (Dot1Q.vlan_id)."""
    from pktspec.cli.render import field_columns
    from pktspec.display_filters import compile_field

    corpus_or_skip()
    packets = list(pktspec.open(CAPTURES / "proto__zk-mixed-vlan-mpls.pcap"))
    rows = truth_rows("proto__zk-mixed-vlan-mpls.pcap")
    column = compile_field("vlan.id")
    assert [field_columns(p, [column]) for p in packets] == [r["vlan.id"] for r in rows]


TSHARK_4_0_COUNTS = [  # (capture, filter, packets tshark 4.0.17 -Y selects), checked by hand
    ("tcp__dk-http.pcap", "tcp.flags & 0x02", 2),
    ("tcp__dk-http.pcap", "tcp.flags & 0x12 == 0x12", 1),
    ("tcp__dk-http.pcap", "ip.flags & 0x2 == 0x2", 38),
    ("tcp__dk-http.pcap", "ip.id & 0x00ff == 0x10", 0),
    ("tcp__dk-http.pcap", "ip.ttl & 0x80", 21),
    ("tcp__dk-http.pcap", "tcp.srcport & 0x1", 3),
    ("tcp__dk-http.pcap", "ip.dsfield & 0xff", 4),
    ("tcp__dk-http.pcap", "dns.flags & 0x8000", 1),
    ("tcp__dk-http.pcap", "tcp.srcport < tcp.dstport", 22),
    ("tcp__dk-http.pcap", "tcp.srcport > tcp.dstport", 19),
    ("tcp__dk-http.pcap", "ip.src == ip.dst", 0),
    ("tcp__dk-http.pcap", "ip.dst != ip.src", 43),
    ("tcp__dk-http.pcap", "tcp.port == tcp.port", 41),
    ("tcp__dk-http.pcap", "ip.ttl != ipv6.hlim", 0),
    ("tcp__dk-http.pcap", "tcp.flags.syn == tcp.flags.ack", 1),
    ("tcp__dk-http.pcap", "frame.len == frame.cap_len", 43),
    ("tcp__dk-http.pcap", "tcp.seq_raw > tcp.ack_raw", 19),
    ("tcp__dk-http.pcap", "tcp.srcport == 80 && tcp.dstport >= tcp.srcport", 22),
    ("tcp__dk-http.pcap", "tcp.len > 0 and tcp.srcport > tcp.dstport", 2),
    ("tcp__dk-http.pcap", 'tcp.payload matches "get"', 2),
    ("tcp__dk-http.pcap", 'tcp.payload ~ "^get /[a-z]+\\\\.html"', 1),
    ("tcp__dk-http.pcap", 'dns.qry.name matches "^PAGEAD"', 2),
    ("tcp__dk-http.pcap", "frame.number <= 5", 5),
    ("tcp__dk-http.pcap", "frame.number == 3", 1),
    ("tcp__dk-http.pcap", "frame.number > 40", 3),
    ("tcp__dk-http.pcap", "frame.time_relative < 1", 4),
    ("tcp__dk-http.pcap", "frame.time_relative >= 3.9 and frame.time_relative <= 4", 3),
    ("tcp__dk-http.pcap", "frame.time_delta == 0", 12),
    ("tcp__dk-http.pcap", "frame.time_delta > 0.5", 4),
    ("tcp__dk-http.pcap", "frame.time_epoch > 1084443430", 29),
    ("tcp__dk-http.pcap", "frame.time_epoch >= 1084443427.311224", 43),
    ("tcp__dk-http.pcap", "frame.cap_len > 1000", 15),
    ("tcp__dk-http.pcap", "frame.interface_id == 0", 0),  # a pcap file has no interfaces
    ("tcp__dk-http.pcap", "tcp.len > 1000", 15),
    ("tcp__dk-http.pcap", "tcp.hdr_len == 28", 2),
    ("tcp__dk-http.pcap", "tcp.flags == 0x0018", 9),
    ("tcp__dk-http.pcap", "eth.type == 0x0800 and ip.hdr_len == 20", 43),
    ("fmt__gpf-test300-dsb-3-interfaces.pcapng", "frame.interface_id == 2", 32),
    ("proto__dk-dns-icmp.pcap", "icmp.type & 0x8", 12),
    ("proto__dk-dns-icmp.pcap", 'dns.qry.name matches "in-addr\\\\.arpa$"', 6),
    ("proto__dk-dns-icmp.pcap", 'dns.qry.name ~ "ARPA"', 6),
    ("proto__td-gre-various.pcap", "gre.key & 0xff", 30),
    ("proto__td-gre-various.pcap", "ip.proto == ip.proto", 30),
    ("link__td-radiotap-80211-dhcp.pcap", "radiotap.flags & 0x04 and wlan.fc.type == 2", 1),
    ("tcp__zk-http-bro-org.pcap", 'tcp.payload matches "^http/1\\\\.[01] 200"', 31),
    ("tcp__zk-http-bro-org.pcap", "frame.number >= 100 and frame.number < 120 and tcp.len > 0",
     10),
    ("tcp__zk-http-bro-org.pcap", "frame.time_relative > 1.5", 144),
    ("tcp__zk-http-bro-org.pcap", "tcp.srcport & 0xff00 == 0x0000", 504),
]


@pytest.mark.parametrize("capture, text, count", TSHARK_4_0_COUNTS,
                         ids=[f"{c[:12]}:{t}" for c, t, _ in TSHARK_4_0_COUNTS])
def test_fields_on_both_sides_masks_regexes_and_frames_select_what_tshark_selects(
        capture, text, count, capsys):
    """Through the command (record numbers, pcap vs pcapng interfaces) and through the API
    (the filter numbers the packets it is given), the same count as tshark."""
    corpus_or_skip()
    assert main(["decode", str(CAPTURES / capture), "-Y", text, "-e", "frame.number"]) == 0
    numbers = capsys.readouterr().out.split()
    assert len(numbers) == count
    if "interface_id" not in text:
        chosen = pktspec.open(CAPTURES / capture, filter=compile_filter(text))
        assert sum(1 for _ in chosen) == count


def test_frame_number_through_the_api_and_a_second_capture():
    corpus_or_skip()
    third = compile_filter("frame.number == 3")
    http = CAPTURES / "tcp__dk-http.pcap"
    first = list(pktspec.open(http, filter=third))
    assert len(first) == 1 and first[0].metadata.length == 54
    assert list(pktspec.open(http, filter=third)) == []  # it goes on counting ...
    third.reset()                                         # ... until told it is a new file
    assert len(list(pktspec.open(http, filter=third))) == 1
    packets = list(pktspec.open(http))
    frames = Frames()
    frames.see(packets[0], 41)
    assert compile_filter("frame.number == 41 and frame.time_relative == 0")(packets[0], frames)


@pytest.mark.parametrize("text, column, words", [
    ('ip.src ~ "^65"', 1, "ip.src is an address: ~ takes a text or bytes field"),
    ('tcp.srcport matches "8"', 1, "tcp.srcport is a number: matches takes a text or bytes"),
    ('tcp.payload matches "(["', 23, "bad regular expression: unterminated character set"),
    ('tcp.payload matches "a)"', 23, "bad regular expression: unbalanced parenthesis"),
    ("tcp.payload matches 47:45", 21, "expected a \"string\""),
    ("ip.src & 0xff", 8, "'&' takes a number field; ip.src is not one"),
    ("tcp.flags & nope", 13, "'nope' is not a number (a bit mask)"),
    ("tcp.flags & 0x02 ==", 20, "the filter ends too soon"),
    ("ip.src == tcp.srcport", 8, "ip.src (address) and tcp.srcport (number) cannot be "
                                 "compared with =="),
    ("tcp.srcport == tcp.nosuch", 20, "TCP has no field 'nosuch'"),
    ("tcp.srcport == tcp", 16, "'tcp' is not a number"),
    ("tcp == tcp.srcport", 1, "compare a field (TCP.<field>), not a whole layer"),
    ("frame.numbr == 1", 7, "frame has number, len, cap_len"),
])
def test_new_mistakes_name_the_column(text, column, words):
    with pytest.raises(DisplayFilterError) as info:
        compile_filter(text)
    assert info.value.column == column and words in str(info.value), str(info.value)
    assert str(info.value).endswith("\n    " + text + "\n    " + " " * (column - 1) + "^")


def test_tshark_field_names_and_flags_by_name_in_masks():
    packet = pktspec.decode(bytes(Ethernet() / IPv4(src="192.0.2.1", dst="192.0.2.1", ttl=9)
                                  / UDP(src_port=53, dst_port=53) / b"Hello"), Ethernet)
    for text, expected in [("ip.src == ip.dst", True), ("ip.addr == ip.src", True),
                           ("udp.srcport == udp.dstport", True), ("ip.ttl < udp.port", True),
                           ("ip.ttl > udp.port", False), ("udp.srcport != udp.dstport", False),
                           ("ip.ttl & 0x8", True), ("ip.ttl & 0x6", False),
                           ("ip.ttl & 0x9 == 9", True), ("ip.ttl & 0x9 in {1 9}", True),
                           ("not ip.ttl & 0x6", True), ("ip.flags & DF", False),
                           ('udp.payload matches "^hel+o$"', True),
                           ('payload.data ~ "(?-i)^hello"', False),
                           ('udp.payload matches "\\\\x48"', True),
                           ("ip.version == 4 and ip.hdr_len == 20", True),
                           ('frame.len == 47 and frame[0] & 0x1 == 0', True)]:
        assert compile_filter(text)(packet) is expected, text


def test_new_filters_never_raise_on_broken_packets():
    """Every badpkt capture through filters of every new kind: an answer, never an error."""
    corpus_or_skip()
    filters = [compile_filter(t) for t in (
        "ip.src == ip.dst", "tcp.srcport < tcp.dstport", "tcp.flags & 0x02",
        'tcp.payload matches "."', 'dns.qry.name ~ "a"', "tcp.len > 0", "frame.number > 1",
        "frame.time_relative >= 0", "tcp.options.mss_val > 0", "ip.opt.type == 7",
        "dhcp.option.dhcp == 1", "gre.flags_and_version & 0x2000", "arp.src.proto_ipv4 == "
        "arp.dst.proto_ipv4", "frame.interface_id == 0 or frame.time_delta > 0")]
    columns = [compile_field(n) for n in ("tcp.len", "ip.hdr_len", "dns.qry.name",
                                          "tcp.option_kind", "frame.time_relative")]
    for capture in corpus_captures("badpkt__"):
        for packet in pktspec.open(CAPTURES / capture):
            for matches in filters:
                assert matches(packet) in (True, False)
            field_columns(packet, columns)


def test_tsharks_names_of_the_discovery_and_tunnel_layers():
    """-Y lldp, cdp, gtp, vrrp and mbtcp name the layers tshark calls so."""
    from pktspec.layers import TCP, GTPv1U, LinkLayerDiscovery, ModbusTCP

    lldp = pktspec.decode(bytes(Ethernet(ethertype=0x88CC) / LinkLayerDiscovery(values=[
        {"type": 1, "value": {"subtype": 4, "id": b"\x02\x00\x00\x00\x00\x01"}},
        {"type": 2, "value": {"subtype": 7, "id": b"1"}}, {"type": 3, "value": 120}])))
    gtp = pktspec.decode(bytes(Ethernet() / IPv4() / UDP() / GTPv1U(teid=7) / IPv4()))
    assert [compile_filter(f)(lldp) for f in ("lldp", "cdp", "gtp")] == [True, False, False]
    assert [compile_filter(f)(gtp) for f in ("lldp", "gtp", "gtp.teid == 7")] == \
        [False, True, True]
    modbus = pktspec.decode(bytes(Ethernet() / IPv4() / TCP() / ModbusTCP(
        transaction_identifier=1, unit_identifier=1, function_code=6, address=1, value=3)))
    assert [compile_filter(f)(modbus) for f in ("mbtcp", "gtp")] == [True, False]
