"""payload_missing: a length field that announces more payload than the bytes hold.

The payload is cut to the bytes present as the layer decodes (the next layer gets what is
there); ``layer.payload_missing`` says by how much and ``packet.truncated`` turns true, as
gopacket's truncated flag does, checked against tshark's "IPv4 total length exceeds packet
length" on the corpus.
"""

from __future__ import annotations

import re

import pytest

import pktspec
from pktspec.layers import UDP, Ethernet, IPv4
from pktspec.runtime import Parser, decode
from tests.conftest import CAPTURES, TRUTH, corpus_or_skip

WHOLE = bytes(
    Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    / IPv4(src="192.0.2.1", dst="192.0.2.2")
    / UDP(src_port=1000, dst_port=2000)
    / (b"x" * 100)
)


def test_whole_packet_misses_nothing():
    p = decode(WHOLE, Ethernet)
    assert [layer.payload_missing for layer in p.layers] == [0, 0, 0, 0]
    assert not p.truncated


def test_cut_packet_says_how_much_each_length_field_misses():
    p = decode(WHOLE[:-30], Ethernet)  # no snap length: the bytes are all there is
    assert p.metadata is None and p.error is None
    ip, udp = p.layer(IPv4), p.layer(UDP)
    assert ip.payload_missing == 30 and udp.payload_missing == 30
    assert len(udp.payload) == 70  # the payload holds what is there
    assert p.layer(Ethernet).payload_missing == 0  # Ethernet's payload has no length field
    assert p.truncated


def test_lazy_and_parser_agree_and_parser_layers_forget_the_last_packet():
    assert decode(WHOLE[:-7], Ethernet, lazy=True).layer(IPv4).payload_missing == 7
    parser = Parser(Ethernet, [Ethernet, IPv4, UDP])
    parser.decode_layers(WHOLE[:-7])
    assert parser[IPv4].payload_missing == 7
    parser.decode_layers(WHOLE)  # the same instances, a whole packet
    assert parser[IPv4].payload_missing == 0 and parser[UDP].payload_missing == 0


def test_the_quoted_copy_in_an_icmp_error_is_not_this_packets_truncation():
    from pktspec.layers import ICMPv4

    quoted = bytes(IPv4(src="192.0.2.2", dst="192.0.2.1") / UDP(src_port=2000, dst_port=53)
                   / (b"q" * 100))[:28]  # RFC 792: the header and 8 bytes
    error = bytes(Ethernet() / IPv4(src="192.0.2.9", dst="192.0.2.2")
                  / ICMPv4(type=3, code=3) / quoted)
    p = decode(error, Ethernet)
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "ICMPv4", "IPv4", "UDP"]
    assert p.layers[3].payload_missing == 100  # the quote says how much it left out
    assert not p.truncated  # but this packet is whole
    assert pktspec.verify_checksums(p) == []  # the quoted UDP checksum cannot be checked


def test_built_layers_miss_nothing():
    assert IPv4(src="192.0.2.1", dst="192.0.2.2").payload_missing == 0


def test_user_layer_with_a_length_field(tmp_path):
    path = tmp_path / "lenproto.layer"
    path.write_text("layer LenProto : application {\n  size: u16;\n  payload = size;\n}\n")
    LenProto = pktspec.load(path).LenProto
    assert decode(b"\x00\x10" + b"a" * 4, LenProto).layers[0].payload_missing == 12
    assert decode(b"\x00\x02" + b"a" * 4, LenProto).layers[0].payload_missing == 0


EXCEEDS = re.compile(r"IPv4 total length exceeds packet length \((\d+) bytes\)")


@pytest.mark.corpus
def test_ipv4_payload_missing_matches_tshark_on_the_corpus():
    """Every frame tshark says has an IPv4 total length beyond the packet has a positive
    IPv4 payload_missing, with tshark's count of IPv4 bytes present; and every IPv4 layer
    with payload_missing in a frame the capture did not cut has that expert item."""
    corpus_or_skip()
    checked = 0
    for expert in sorted(TRUTH.glob("*.expert.tsv")):
        capture = CAPTURES / expert.name.removesuffix(".expert.tsv")
        if not capture.exists():
            continue
        said: dict[int, int] = {}
        for line in expert.read_text().splitlines()[1:]:
            frame, *_, messages = line.split("\t")
            for m in EXCEEDS.finditer(messages):
                said[int(frame)] = int(m.group(1))
        try:
            packets = list(pktspec.open(str(capture)))
        except pktspec.PktspecError:
            continue  # the badfile captures: their own tests
        for number, p in enumerate(packets, 1):
            ips = [layer for layer in p.layers if isinstance(layer, IPv4)]
            missing = [ip for ip in ips if ip.payload_missing]
            if number in said:
                assert missing, f"{capture.name} frame {number}: tshark says {said[number]}"
                assert missing[0]._end - missing[0]._off == said[number]
                checked += 1
            elif missing and not p.metadata.truncated:
                pytest.fail(f"{capture.name} frame {number}: payload_missing "
                            f"{missing[0].payload_missing} where tshark says nothing")
    assert checked >= 10
