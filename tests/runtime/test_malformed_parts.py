"""A list part (`T[]`, `T[] size n`) whose items stop at a malformed one keeps the items
before it and says which item broke, where and why, where construct's GreedyRange dropped
the bad item and everything after it in silence; repr, -V and --json show the reason."""

from __future__ import annotations

import json
import subprocess
import sys

import pktspec
from pktspec.capture.pcap import PcapWriter
from pktspec.layers import TCP, Ethernet, IPv4
from pktspec.runtime.constructs import PartialList
from tests.conftest import CAPTURES, corpus_or_skip

OPTIONS = [{"kind": "NOP"}, {"kind": "MSS", "value": {"mss": 1460}}, {"kind": "NOP"},
           {"kind": "NOP"}, {"kind": "SACKPermitted"}, {"kind": "NOP"}, {"kind": "NOP"}]


def frame_with_a_bad_option() -> bytes:
    """A SYN whose options are NOP, MSS, NOP, NOP, then an option whose length runs past
    the header (where SACK-permitted was)."""
    data = bytearray(pktspec.serialize(Ethernet() / IPv4() / TCP(flags="S", options=OPTIONS)))
    options = 14 + 20 + 20  # Ethernet, IPv4, the fixed TCP header
    assert data[options:options + 6] == bytes([1, 2, 4, 5, 0xB4, 1])
    data[options + 7:options + 9] = bytes([8, 40])  # kind 8 (timestamps), length 40
    return bytes(data)


def test_the_options_before_a_malformed_one_are_kept_and_the_reason_given():
    tcp = pktspec.decode(frame_with_a_bad_option())[TCP]
    options = tcp.options
    assert isinstance(options, PartialList)
    assert [int(o.kind) for o in options] == [1, 2, 1, 1]
    assert options[1].value.mss == 1460
    assert options.malformed.startswith("item 4 (the last 5 bytes, from byte 7 of the part)")
    assert "<malformed: item 4" in repr(tcp)


def test_a_whole_list_is_a_plain_list():
    data = pktspec.serialize(Ethernet() / IPv4() / TCP(flags="S", options=OPTIONS))
    options = pktspec.decode(data)[TCP].options
    assert not getattr(options, "malformed", "")
    assert len(options) == len(OPTIONS) + 1  # and the EOL that pads them to 12 bytes


def test_decode_shows_it_in_the_tree_and_in_json(tmp_path):
    path = tmp_path / "bad-option.pcap"
    with PcapWriter(path) as writer:
        writer.write(frame_with_a_bad_option(), 1.0)
    run = [sys.executable, "-m", "pktspec", "decode"]
    tree = subprocess.run([*run, "-V", str(path)], capture_output=True, text=True,
                          check=True).stdout
    assert "        [malformed: item 4 (the last 5 bytes, from byte 7 of the part)" in tree
    obj = json.loads(subprocess.run([*run, "--json", str(path)], capture_output=True,
                                    text=True, check=True).stdout)
    tcp = next(layer for layer in obj["layers"] if layer["layer"] == "TCP")
    assert [o["kind"] for o in tcp["fields"]["options"]] == [1, 2, 1, 1]
    assert tcp["malformed"]["options"].startswith("item 4 ")


def test_a_corpus_frame_shows_the_option_kinds_tshark_shows():
    """Frame 57 of the oversized-SLL capture: tshark lists option kind 1 (NOP) and calls
    the rest malformed; so do we."""
    corpus_or_skip()
    packets = list(pktspec.open(CAPTURES / "link__gpf-sll-oversized-addr.pcapng"))
    options = packets[56][TCP].options
    assert [int(o.kind) for o in options] == [1] and options.malformed
