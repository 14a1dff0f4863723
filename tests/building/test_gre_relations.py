"""GRE's checksum (RFC 2784, sent when the C bit is set) and PPTP's payload_length (RFC
2637) are computed by the builder and the checksum verified by verify_checksums, although
both sit after GRE's fixed prefix, in fields that are there only when their bits say so."""

from __future__ import annotations

import struct

import pktspec
from pktspec.layers import GRE, UDP, IPv4
from tests.hand_checksums import ones_complement

INNER = IPv4(src="192.0.2.1", dst="192.0.2.2") / UDP(src_port=1000, dst_port=2000) / b"hi"


def test_checksum_is_computed_over_header_and_payload_when_the_c_bit_is_set():
    data = bytes(GRE(checksum_present=1) / INNER)
    assert data[0] == 0x80 and len(data) == 8 + 30
    (found,) = struct.unpack_from(">H", data, 4)
    assert found == ones_complement(data[:4] + b"\0\0" + data[6:])
    assert ones_complement(data) == 0
    assert pktspec.verify_checksums(pktspec.decode(data, first=GRE)) == []


def test_a_given_checksum_is_kept_sets_the_c_bit_and_is_reported_bad():
    data = bytes(GRE(checksum=5) / INNER)
    assert data[0] == 0x80 and struct.unpack_from(">H", data, 4) == (5,)
    good = bytes(GRE(checksum_present=1) / INNER)
    (bad,) = pktspec.verify_checksums(pktspec.decode(data, first=GRE))
    assert (bad.layer, bad.field, bad.found) == ("GRE", "checksum", 5)
    assert bad.expected == struct.unpack_from(">H", good, 4)[0]


def test_routing_alone_carries_a_zero_checksum_that_is_not_checked():
    end = {"address_family": 0, "sre_offset": 0, "sre_length": 0, "routing_information": b""}
    data = bytes(GRE(routing_present=1, routing=[end]) / INNER)
    assert data[0] == 0x40 and data[4:8] == b"\0\0\0\0"
    assert pktspec.verify_checksums(pktspec.decode(data, first=GRE)) == []
    # RFC 1701: without the C bit the field holds nothing valid, whatever it holds
    junk = data[:4] + b"\xbe\xef" + data[6:]
    assert pktspec.verify_checksums(pktspec.decode(junk, first=GRE)) == []


def test_pptp_payload_length_is_the_payload_size():
    data = bytes(GRE(version=1, key_present=1, call_id=7, protocol=0x880B) / b"abcdef")
    assert data[:8] == bytes.fromhex("2001880b00060007")
    gre = pktspec.decode(data, first=GRE).layers[0]
    assert (gre.payload_length, gre.call_id, bytes(gre.payload)) == (6, 7, b"abcdef")


def test_a_given_payload_length_is_kept_and_sets_the_bits_its_condition_reads():
    data = bytes(GRE(payload_length=2, call_id=1, protocol=0x880B) / b"abcdef")
    assert data[:8] == bytes.fromhex("2001880b00020001")


def test_a_checksum_test_may_read_the_header_length(tmp_path):
    """`s: u16 = len(header) == 3 ? inet_checksum(header, payload) : 0;` (UDP-Lite's kind of
    rule): verify_checksums gives the test the lengths it reads (it raised AttributeError)."""
    from tests.generator.conftest import load_text

    cls = load_text(tmp_path, """
layer LenTest : other {
    n: u8;
    s: u16 = len(header) == 3 ? inet_checksum(header, payload) : 0;
}
""").LenTest
    data = bytes(cls(n=1) / b"abc")
    assert pktspec.verify_checksums(pktspec.decode(data, first=cls)) == []
    broken = data[:-1] + bytes([data[-1] ^ 1])
    (bad,) = pktspec.verify_checksums(pktspec.decode(broken, first=cls))
    assert bad.field == "s"
