"""IPv4/IPv6 defragmentation on built fragments: policy, limits, timeouts, caps, re-decoding."""

from __future__ import annotations

import struct

import pytest

from pktspec.reassembly.collect import streams
from pktspec.reassembly.fragments import MAX_FRAGMENTS, FragmentSet
from pktspec.reassembly.ipdefrag import IPv4Defragmenter, IPv6Defragmenter, defragment
from pktspec.reassembly.tcp import TCPAssembler
from tests.reassembly.reassembly_builders import ipv4_fragment, ipv6_fragment, tcp, tcp_header

A, B = "192.0.2.1", "192.0.2.2"
A6, B6 = "2001:db8::1", "2001:db8::2"


def udp(payload: bytes, sport: int = 1234, dport: int = 9999) -> bytes:
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def v4_pieces(data: bytes, size: int, ident: int = 7, proto: int = 17, ts: float = 0.0):
    return [ipv4_fragment(A, B, proto, ident, off, data[off:off + size],
                          off + size < len(data), ts)
            for off in range(0, len(data), size)]


def test_ipv4_in_order_and_reversed():
    datagram = udp(bytes(range(256)) * 4)
    for order in (1, -1):
        d = IPv4Defragmenter()
        outs = [d.defrag(p) for p in v4_pieces(datagram, 256)[::order]]
        assert outs[:-1] == [None] * (len(outs) - 1)
        whole = outs[-1]
        assert bytes(whole.network.payload) == datagram
        assert [layer.name for layer in whole.layers][:3] == ["Ethernet", "IPv4", "UDP"]
        ip = whole.network
        assert ip.total_length == 20 + len(datagram) and ip.fragment_offset == 0
        assert not ip.flags.more_fragments and d.stats.reassembled == 1 and len(d) == 0


def test_ipv4_rebuilt_header_checksum_is_valid():
    whole = None
    d = IPv4Defragmenter()
    for p in v4_pieces(udp(b"x" * 100), 48):
        whole = d.defrag(p) or whole
    header = bytes(whole.network.contents)
    total = sum(struct.unpack(">10H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    assert total == 0xFFFF


def test_not_a_fragment_passes_unchanged():
    p = tcp(A, 1, B, 2, 100, "S")
    assert IPv4Defragmenter().defrag(p) is p and IPv6Defragmenter().defrag(p) is p


def test_overlap_policy_lowest_offset_wins_then_first_captured():
    """Wireshark's rule, which the corpus truth follows."""
    d = IPv4Defragmenter()
    first = ipv4_fragment(A, B, 17, 1, 0, b"a" * 16, True)
    later_same_offset = ipv4_fragment(A, B, 17, 1, 0, b"b" * 24, True)
    lower_offset = ipv4_fragment(A, B, 17, 1, 8, b"c" * 16, True)
    last = ipv4_fragment(A, B, 17, 1, 24, b"d" * 8, False)
    outs = [d.defrag(p) for p in (lower_offset, first, later_same_offset, last)]
    assert bytes(outs[-1].network.payload) == b"a" * 16 + b"b" * 8 + b"d" * 8
    assert d.stats.overlaps == 2 and d.stats.conflicts == 2


def test_bytes_past_the_last_fragment_are_cut():
    d = IPv4Defragmenter()
    d.defrag(ipv4_fragment(A, B, 17, 1, 8, b"e" * 8, False))
    out = d.defrag(ipv4_fragment(A, B, 17, 1, 0, b"s" * 32, True))
    assert bytes(out.network.payload) == b"s" * 16 and d.stats.beyond_end == 1


def test_rfc_limits_give_up_on_the_datagram():
    d = IPv4Defragmenter()
    assert d.defrag(ipv4_fragment(A, B, 17, 1, 65528, b"z" * 16, False)) is None
    assert d.defrag(ipv4_fragment(A, B, 17, 2, 0, b"tiny", True)) is None  # non-last < 8
    assert d.stats.invalid == 2 and len(d) == 0
    fragments = FragmentSet(0.0)
    for i in range(MAX_FRAGMENTS):
        fragments.add(i, b"12345678", False, 0.0)
    with pytest.raises(ValueError):
        fragments.add(0, b"12345678", False, 0.0)


def test_keys_separate_datagrams():
    d = IPv4Defragmenter()
    a = v4_pieces(udp(b"A" * 40), 24, ident=1)
    b = v4_pieces(udp(b"B" * 40), 24, ident=2)
    outs = [d.defrag(p) for p in (a[0], b[0], b[1], a[1])]
    assert bytes(outs[2].network.payload) == udp(b"B" * 40)
    assert bytes(outs[3].network.payload) == udp(b"A" * 40)


def test_timeout_uses_packet_time():
    d = IPv4Defragmenter(timeout=10.0, keep_fragments=True)
    old = v4_pieces(udp(b"o" * 40), 24, ident=1, ts=1.0)
    d.defrag(old[0])
    d.defrag(v4_pieces(udp(b"n" * 40), 24, ident=2, ts=20.0)[0])
    assert d.stats.timed_out == 1 and d.take_given_up() == [old[0]]
    assert d.stats.incomplete == 1 and d.stats.unfinished == 0
    assert d.defrag(old[1]) is None  # its partner is gone


def test_memory_caps_evict_the_oldest_datagram():
    d = IPv4Defragmenter(max_datagrams=2)
    for ident in (1, 2, 3):
        d.defrag(v4_pieces(udp(b"q" * 40), 24, ident=ident)[0])
    assert d.stats.evicted == 1 and len(d) == 2
    d = IPv4Defragmenter(max_bytes=1000)
    for ident in range(10):
        d.defrag(v4_pieces(udp(b"q" * 400), 256, ident=ident)[0])
    assert d.cost <= 1000 and d.stats.evicted >= 7


def test_ipv6_fragments_behind_an_extension_header():
    datagram = udp(b"six" * 100)
    d = IPv6Defragmenter()
    parts = [ipv6_fragment(A6, B6, 17, 99, off, datagram[off:off + 104],
                           off + 104 < len(datagram), hop_by_hop=True)
             for off in range(0, len(datagram), 104)]
    outs = [d.defrag(p) for p in reversed(parts)]
    whole = outs[-1]
    assert outs[:-1] == [None] * (len(parts) - 1)
    assert whole.network.payload_length == 8 + len(datagram)
    raw = bytes(whole.data)
    assert raw[14 + 6] == 0 and raw[14 + 40] == 17  # hop-by-hop now names UDP directly
    assert raw[14 + 48:] == datagram
    assert whole.layer("UDP") is not None


def test_ipv6_atomic_fragment_passes_unchanged():
    p = ipv6_fragment(A6, B6, 17, 5, 0, udp(b"whole"), False)
    d = IPv6Defragmenter()
    assert d.defrag(p) is p and d.stats.atomic == 1


def test_defragment_generator_replaces_fragments_and_keeps_the_rest():
    plain = tcp(A, 1, B, 2, 100, "S")
    pieces = v4_pieces(udp(b"D" * 60), 40, ident=3)
    lonely = v4_pieces(udp(b"L" * 60), 40, ident=4)[0]
    v4, v6 = IPv4Defragmenter(), IPv6Defragmenter()
    out = list(defragment([plain, pieces[0], lonely, pieces[1]], defragmenters=(v4, v6)))
    assert len(out) == 2  # lonely never completed: dropped and counted, as ip4defrag does
    assert out[0] is plain and bytes(out[1].network.payload) == udp(b"D" * 60)
    assert (v4.stats.reassembled, v4.stats.unfinished, v4.stats.incomplete) == (1, 1, 1)
    # kept: in its capture place, before the datagram its successor completed
    out = list(defragment([plain, pieces[0], lonely, pieces[1]], keep_incomplete=True))
    assert len(out) == 3 and out[0] is plain and out[1] is lonely
    assert bytes(out[2].network.payload) == udp(b"D" * 60)


def _order(out, packets):
    """Capture positions of the output: an original packet's own, a datagram's that of the
    fragment it came out at (the datagram carries that fragment's timestamp)."""
    where = {id(p): i for i, p in enumerate(packets)}
    times = [p.metadata.timestamp for p in packets]
    return [where.get(id(p), times.index(p.metadata.timestamp)) for p in out]


def test_defragment_generator_never_yields_a_fragment_after_later_packets():
    """A fragment whose datagram times out (30 s of packet time) or never completes is not
    yielded after packets captured later: dropped by default, in place when kept."""
    timed_out = v4_pieces(udp(b"T" * 60), 40, ident=1, ts=1.0)[0]
    plain = [tcp(A, 1, B, 2, 100 + i, "A", ts=ts) for i, ts in enumerate((2.0, 40.0, 44.0))]
    whole = [v4_pieces(udp(b"W" * 60), 40, ident=2, ts=ts)[i] for i, ts in ((0, 42.0), (1, 45.0))]
    never = v4_pieces(udp(b"N" * 60), 40, ident=3, ts=43.0)[0]
    packets = [timed_out, plain[0], plain[1], whole[0], never, plain[2], whole[1]]
    v4, v6 = IPv4Defragmenter(), IPv6Defragmenter()
    out = list(defragment(packets, defragmenters=(v4, v6)))
    assert _order(out, packets) == [1, 2, 5, 6]
    assert bytes(out[3].network.payload) == udp(b"W" * 60)
    assert (v4.stats.timed_out, v4.stats.unfinished, v4.stats.incomplete) == (1, 1, 2)
    v4, v6 = IPv4Defragmenter(), IPv6Defragmenter()
    out = list(defragment(packets, keep_incomplete=True, defragmenters=(v4, v6)))
    assert _order(out, packets) == [0, 1, 2, 4, 5, 6]
    assert out[0] is timed_out and out[3] is never
    assert (v4.stats.timed_out, v4.stats.unfinished, v4.stats.incomplete) == (1, 1, 2)


def test_kept_fragment_is_released_at_its_timeout_not_at_the_end():
    lonely = v4_pieces(udp(b"L" * 60), 40, ident=4, ts=1.0)[0]
    later = [tcp(A, 1, B, 2, 100 + i, "A", ts=1.0 + 10 * i) for i in range(1, 6)]
    out = defragment(iter([lonely, *later]), keep_incomplete=True)
    assert next(out) is lonely  # released by the packet at t=41, 30 s later
    assert [p.metadata.timestamp for p in out] == [11.0, 21.0, 31.0, 41.0, 51.0]


def test_packets_held_behind_a_kept_fragment_are_bounded():
    lonely = v4_pieces(udp(b"L" * 60), 40, ident=4)[0]
    later = [tcp(A, 1, B, 2, 100 + i, "A", ts=0.001 * i) for i in range(1, 50)]
    taken = []

    def source():
        for p in [lonely, *later]:
            taken.append(p)
            yield p

    v4, v6 = IPv4Defragmenter(), IPv6Defragmenter()
    out = defragment(source(), keep_incomplete=True, max_bytes=10_000, defragmenters=(v4, v6))
    assert next(out) is lonely and len(taken) < 20  # given up on to make room
    assert list(out) == later and v4.stats.evicted == 1 and v4.stats.incomplete == 1


def test_fragment_refused_at_once_stays_in_place_when_kept():
    plain = tcp(A, 1, B, 2, 100, "S")
    tiny = ipv4_fragment(A, B, 17, 2, 0, b"tiny", True)  # a non-last fragment under 8 bytes
    out = list(defragment([tiny, plain], keep_incomplete=True))
    assert out == [tiny, plain]
    v4, v6 = IPv4Defragmenter(), IPv6Defragmenter()
    assert list(defragment([tiny, plain], defragmenters=(v4, v6))) == [plain]
    assert v4.stats.invalid == 1 and v4.stats.incomplete == 1


def test_tcp_inside_fragments_reaches_the_assembler():
    syn = tcp_header(4000, 80, 10, 0, "S", 100)
    data = tcp_header(4000, 80, 11, 0, "PA", 100) + b"fragmented request!!"
    packets = [ipv4_fragment(A, B, 6, 1, 0, syn[:16], True, 0.1),
               ipv4_fragment(A, B, 6, 1, 16, syn[16:], False, 0.2),
               ipv4_fragment(A, B, 6, 2, 0, data[:24], True, 0.3),
               ipv4_fragment(A, B, 6, 2, 24, data[24:], False, 0.4)]
    (conn,) = streams(packets)
    assert conn.client.data == b"fragmented request!!"
    (conn,) = streams(defragment(packets), defragment=False)  # the generator does it too
    assert conn.client.data == b"fragmented request!!"
    assembler = TCPAssembler(lambda c: None)
    for p in packets:
        assembler.assemble(p)
    assert assembler.stats.fragments == 4 and assembler.stats.reassembled == 2
    assert assembler.stats.connections == 1


def test_fragments_skipped_when_the_assembler_does_not_defragment():
    data = tcp_header(4000, 80, 11, 0, "PA", 100) + b"fragmented request!!"
    packets = [ipv4_fragment(A, B, 6, 2, 0, data[:24], True, 0.3),
               ipv4_fragment(A, B, 6, 2, 24, data[24:], False, 0.4),
               ipv4_fragment(A, B, 17, 3, 24, b"u" * 8, False, 0.5)]
    assembler = TCPAssembler(lambda c: None, defragment=False)
    for p in packets:
        assembler.assemble(p)
    assert assembler.stats.fragments == 2 and assembler.stats.ignored == 1
    assert assembler.stats.packets == 0
