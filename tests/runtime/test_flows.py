"""Endpoints and flows: text forms, hashing, reversal and the symmetric fast hash."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pktspec.errors import PktspecError
from pktspec.runtime.flow import (
    ENDPOINT_IPV4,
    ENDPOINT_IPV6,
    ENDPOINT_MAC,
    ENDPOINT_SCTP_PORT,
    ENDPOINT_TCP_PORT,
    ENDPOINT_UDP_PORT,
    Endpoint,
    Flow,
    endpoint_type,
)
from pktspec.runtime.values import ipv4_bytes, ipv6_bytes, mac_bytes

A = ipv4_bytes("192.0.2.1")
B = ipv4_bytes("192.0.2.2")

KINDS_AND_RAWS = st.one_of(
    st.tuples(st.just(ENDPOINT_IPV4), st.binary(min_size=4, max_size=4)),
    st.tuples(st.just(ENDPOINT_IPV6), st.binary(min_size=16, max_size=16)),
    st.tuples(st.just(ENDPOINT_MAC), st.binary(min_size=6, max_size=6)),
    st.tuples(st.just(ENDPOINT_TCP_PORT), st.integers(0, 65535)),
)


def pair(kind_raw_strategy):
    return kind_raw_strategy.flatmap(
        lambda kr: st.tuples(st.just(kr[0]), st.just(kr[1]), _same_kind(kr[0]))
    )


def _same_kind(kind):
    if kind.format == "int":
        return st.integers(0, 65535)
    size = {"ipv4": 4, "ipv6": 16, "mac": 6}[kind.format]
    return st.binary(min_size=size, max_size=size)


class TestEndpointType:
    def test_interned_by_name(self):
        assert endpoint_type("UDP port", "int") is ENDPOINT_UDP_PORT
        assert endpoint_type("IPv4", "ipv4") is ENDPOINT_IPV4

    def test_same_name_other_format_is_refused(self):
        with pytest.raises(PktspecError, match="already exists with format 'ipv4'"):
            endpoint_type("IPv4", "int")

    def test_unknown_format_is_refused(self):
        with pytest.raises(PktspecError, match="unknown format"):
            endpoint_type("Weird thing", "roman")

    def test_predefined_kinds(self):
        assert [
            k.name
            for k in (
                ENDPOINT_MAC,
                ENDPOINT_IPV4,
                ENDPOINT_IPV6,
                ENDPOINT_TCP_PORT,
                ENDPOINT_UDP_PORT,
                ENDPOINT_SCTP_PORT,
            )
        ] == ["MAC", "IPv4", "IPv6", "TCP port", "UDP port", "SCTP port"]

    def test_pickles_to_the_same_object(self):
        assert pickle.loads(pickle.dumps(ENDPOINT_IPV6)) is ENDPOINT_IPV6


class TestEndpoint:
    def test_text_forms(self):
        assert str(Endpoint(ENDPOINT_MAC, mac_bytes("02:00:5e:00:53:01"))) == "02:00:5e:00:53:01"
        assert str(Endpoint(ENDPOINT_IPV4, A)) == "192.0.2.1"
        assert str(Endpoint(ENDPOINT_IPV6, ipv6_bytes("2001:db8::1"))) == "2001:db8::1"
        assert str(Endpoint(ENDPOINT_TCP_PORT, 443)) == "443"
        assert str(endpoint_type("Test blob", "bytes")(b"\x01\xff")) == "01ff"
        assert repr(Endpoint(ENDPOINT_UDP_PORT, 53)) == "Endpoint(UDP port, 53)"

    def test_parse_from_text(self):
        assert ENDPOINT_IPV4.parse("192.0.2.1") == Endpoint(ENDPOINT_IPV4, A)
        assert ENDPOINT_UDP_PORT("53") == ENDPOINT_UDP_PORT(53)
        assert ENDPOINT_MAC("02:00:5e:00:53:01").raw == bytes.fromhex("02005e005301")

    def test_equality_needs_the_same_kind(self):
        assert Endpoint(ENDPOINT_TCP_PORT, 53) != Endpoint(ENDPOINT_UDP_PORT, 53)
        assert Endpoint(ENDPOINT_TCP_PORT, 53) == Endpoint(ENDPOINT_TCP_PORT, 53)
        assert Endpoint(ENDPOINT_TCP_PORT, 53) != 53

    def test_dict_keys_group_by_destination_port(self):
        flows = [Flow(ENDPOINT_TCP_PORT, s, d) for s, d in [(1000, 80), (1001, 80), (1000, 443)]]
        by_dst = Counter(f.dst for f in flows)
        assert by_dst[ENDPOINT_TCP_PORT(80)] == 2
        assert by_dst[ENDPOINT_TCP_PORT(443)] == 1

    def test_ordering(self):
        ports = [ENDPOINT_TCP_PORT(p) for p in (443, 22, 8080)]
        assert [e.raw for e in sorted(ports)] == [22, 443, 8080]
        assert ENDPOINT_IPV4.parse("10.0.0.1") < ENDPOINT_IPV4.parse("10.0.0.2")
        assert ENDPOINT_IPV4.parse("10.0.0.2") >= ENDPOINT_IPV4.parse("10.0.0.2")


class TestFlow:
    def test_src_dst_endpoints_and_text(self):
        flow = Flow(ENDPOINT_IPV4, A, B)
        src, dst = flow.endpoints()
        assert (src, dst) == (flow.src, flow.dst)
        assert str(src) == "192.0.2.1" and str(dst) == "192.0.2.2"
        assert str(flow) == "192.0.2.1->192.0.2.2"
        assert repr(flow) == "Flow(IPv4, 192.0.2.1->192.0.2.2)"

    def test_reverse_and_from_endpoints(self):
        flow = Flow(ENDPOINT_IPV4, A, B)
        src, dst = flow.endpoints()
        assert flow.reverse() == Flow.from_endpoints(dst, src)
        assert flow.reverse().reverse() == flow
        assert flow != flow.reverse()

    def test_from_endpoints_needs_one_kind(self):
        with pytest.raises(PktspecError, match="one kind"):
            Flow.from_endpoints(ENDPOINT_TCP_PORT(1), ENDPOINT_UDP_PORT(2))

    def test_udp_flow_built_from_endpoints_matches_a_decoded_one(self):
        built = Flow.from_endpoints(ENDPOINT_UDP_PORT(1000), ENDPOINT_UDP_PORT(500))
        assert built == Flow(ENDPOINT_UDP_PORT, 1000, 500)
        assert str(built) == "1000->500"

    def test_directional_dict_keys(self):
        counts = Counter()
        for flow in [
            Flow(ENDPOINT_IPV4, A, B),
            Flow(ENDPOINT_IPV4, A, B),
            Flow(ENDPOINT_IPV4, B, A),
        ]:
            counts[flow] += 1
        assert counts[Flow(ENDPOINT_IPV4, A, B)] == 2
        assert counts[Flow(ENDPOINT_IPV4, B, A)] == 1

    def test_kind_is_part_of_identity(self):
        assert Flow(ENDPOINT_TCP_PORT, 1, 2) != Flow(ENDPOINT_UDP_PORT, 1, 2)
        assert (
            Flow(ENDPOINT_TCP_PORT, 1, 2).fast_hash() != Flow(ENDPOINT_UDP_PORT, 1, 2).fast_hash()
        )

    def test_fast_hash_is_cached_and_64_bit(self):
        flow = Flow(ENDPOINT_IPV6, ipv6_bytes("2001:db8::1"), ipv6_bytes("2001:db8::2"))
        h = flow.fast_hash()
        assert 0 <= h < 2**64
        assert flow._fast == h and flow.fast_hash() == h

    def test_fast_hash_separates_ipv6_addresses_a_hash_modulus_apart(self):
        # 2**61 - 1 apart: whole 128-bit ints would hash alike in CPython
        low = ipv6_bytes("2001:db8::1")
        high = (int.from_bytes(low, "big") + (2**61 - 1)).to_bytes(16, "big")
        peer = ipv6_bytes("2001:db8::ff")
        assert (
            Flow(ENDPOINT_IPV6, low, peer).fast_hash()
            != Flow(ENDPOINT_IPV6, high, peer).fast_hash()
        )

    def test_fast_hash_is_the_same_in_another_process(self):
        code = (
            "from pktspec.runtime.flow import Flow, ENDPOINT_IPV4;"
            "print(Flow(ENDPOINT_IPV4, bytes([192,0,2,1]), bytes([192,0,2,2])).fast_hash())"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": "12345", "PYTHONPATH": ":".join(sys.path)},
        ).stdout.strip()
        assert int(out) == Flow(ENDPOINT_IPV4, A, B).fast_hash()

    def test_pickle(self):
        flow = Flow(ENDPOINT_IPV4, A, B)
        assert pickle.loads(pickle.dumps(flow)) == flow

    @given(pair(KINDS_AND_RAWS))
    def test_endpoints_of_a_flow_are_plain_endpoints(self, kind_src_dst):
        """src, dst and endpoints() make their Endpoints without __init__ (for speed): they
        must be the same as the ones the constructor makes, in every way a caller sees."""
        kind, src, dst = kind_src_dst
        flow = Flow(kind, src, dst)
        made = (Endpoint(kind, src), Endpoint(kind, dst))
        for got in (flow.endpoints(), (flow.src, flow.dst)):
            assert got == made and tuple(map(hash, got)) == tuple(map(hash, made))
            assert [type(e) for e in got] == [Endpoint, Endpoint]
            assert [(e.kind, e.raw) for e in got] == [(kind, src), (kind, dst)]
            assert list(map(repr, got)) == list(map(repr, made))
            assert pickle.loads(pickle.dumps(got)) == made
        assert Flow.from_endpoints(flow.src, flow.dst) == flow
        assert flow.reverse().src == flow.dst

    @given(pair(KINDS_AND_RAWS))
    def test_fast_hash_is_symmetric(self, kind_src_dst):
        kind, src, dst = kind_src_dst
        flow = Flow(kind, src, dst)
        assert flow.fast_hash() == flow.reverse().fast_hash()
        assert hash(flow) == hash(Flow(kind, src, dst))

    @given(pair(KINDS_AND_RAWS), st.data())
    def test_fast_hash_differs_between_conversations(self, kind_src_dst, data):
        kind, src, dst = kind_src_dst
        other = data.draw(_same_kind(kind))
        if {src, dst} == {src, other}:
            return
        assert Flow(kind, src, dst).fast_hash() != Flow(kind, src, other).fast_hash()

    @given(st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 65535)), max_size=50))
    def test_both_directions_land_on_one_worker(self, pairs):
        workers = {}
        for s, d in pairs:
            for flow in (Flow(ENDPOINT_TCP_PORT, s, d), Flow(ENDPOINT_TCP_PORT, d, s)):
                key = frozenset((s, d))
                assert workers.setdefault(key, flow.fast_hash() & 7) == flow.fast_hash() & 7


class TestSharedFlows:
    """Layers hand out the flows their endpoint type keeps (EndpointType.flow)."""

    def test_packets_of_one_conversation_share_their_flow(self):
        from pktspec.layers import UDP, IPv4
        from pktspec.runtime import decode

        data = (IPv4(src="192.0.2.1", dst="192.0.2.2") / UDP(src_port=5, dst_port=7)).build()
        one, two = decode(data, IPv4), decode(data, IPv4)
        assert one.network is not two.network
        assert one.network.flow is two.network.flow
        assert one.transport.flow is two.transport.flow
        assert one.network.flow == Flow(ENDPOINT_IPV4, A, B)
        assert one.network.flow.src is one.network.flow.endpoints()[0]

    def test_flows_and_endpoints_are_immutable(self):
        flow = ENDPOINT_IPV4.flow((A, B))
        with pytest.raises(AttributeError, match="immutable"):
            flow.src_raw = B
        with pytest.raises(AttributeError, match="immutable"):
            flow.src.raw = B
        assert flow.src_raw == A and str(flow) == "192.0.2.1->192.0.2.2"

    def test_the_cache_is_bounded(self, monkeypatch):
        import pktspec.runtime.flow as flow_module

        kind = endpoint_type("test bounded cache", "int")
        monkeypatch.setattr(flow_module, "FLOW_CACHE_SIZE", 10)
        made = [kind.flow((n, n + 1)) for n in range(25)]
        assert len(kind.flows) <= 10
        assert [f.src_raw for f in made] == list(range(25))
        assert kind.flow((24, 25)) is made[-1]  # still there: the latest flows survive

    def test_memoryview_fields_still_give_hashable_flows(self):
        from pktspec.layers import Ethernet
        from pktspec.runtime import decode

        frame = bytearray(bytes.fromhex("020000000001020000000002") + b"\x88\xb5" + b"x" * 10)
        packet = decode(frame, Ethernet, copy=False)
        flow = packet.link.flow
        assert {flow: 1}[Flow(ENDPOINT_MAC, bytes(frame[6:12]), bytes(frame[:6]))] == 1
