"""pktspec.open: format detection, first layer by link type, filters, notes, raw records."""

from __future__ import annotations

import pytest

import pktspec
from pktspec.capture.pcap import PcapWriter
from pktspec.layers import TCP, UDP
from tests.conftest import CAPTURES, corpus_or_skip


def test_each_interface_starts_at_its_link_type_layer():
    corpus_or_skip()
    source = pktspec.open(CAPTURES / "fmt__hk-le-test006-two-idb-diff-linktype.pcapng")
    firsts = {(p.metadata.interface, p.metadata.linktype, p.layers[0].name) for p in source}
    linktypes = {lt for _, lt, _ in firsts}
    assert len(linktypes) == 2
    for _iface, linktype, first in firsts:
        expected = pktspec.REGISTRY.table("LinkType").get(linktype)
        assert first == (expected.name if expected else "Payload")


def test_bpf_and_python_filters():
    corpus_or_skip()
    path = CAPTURES / "tcp__dk-http.pcap"
    udp = list(pktspec.open(path, filter="udp"))
    assert udp and all(UDP in p for p in udp)
    syn = list(pktspec.open(path, filter=lambda p: TCP in p and p[TCP].flags.syn))
    assert [p[TCP].dst_port for p in syn] == [80, 3372]
    records = list(pktspec.open(path, filter="tcp port 80").records())
    assert len(records) == sum(1 for p in pktspec.open(path) if TCP in p)


def test_unknown_link_type_decodes_as_payload_with_a_note(tmp_path):
    path = tmp_path / "odd.pcap"
    with PcapWriter(path, linktype=250) as out:
        out.write(b"\x01\x02\x03", 1.5)
    with pktspec.open(path) as source:
        (packet,) = list(source)
        assert [x.name for x in packet.layers] == ["Payload"]
        assert packet.error is None
        assert any("link type 250" in note for note in source.notes)


def test_stats_only_for_live_sources():
    corpus_or_skip()
    with pytest.raises(TypeError):
        pktspec.open(CAPTURES / "tcp__dk-http.pcap").stats()


def test_open_with_defragment_yields_whole_datagrams():
    corpus_or_skip()
    from pktspec.layers import TCP, IPv4
    path = CAPTURES / "frag__zk-ipv4-fragmented-syn.pcap"
    plain = list(pktspec.open(path))
    (whole,) = list(pktspec.open(path, defragment=True))
    assert len(plain) == 2 and plain[1].layers[2].name == "Fragment"
    assert not whole[IPv4].flags.more_fragments and whole[IPv4].fragment_offset == 0
    assert TCP in whole and whole[TCP].flags.syn
    assert whole[IPv4].total_length == len(whole[IPv4].contents) + len(whole[IPv4].payload)


def test_streams_at_top_level():
    corpus_or_skip()
    conns = list(pktspec.streams(CAPTURES / "tcp__dk-http.pcap"))
    assert conns and conns[0].client.data.startswith(b"GET /download.html")
