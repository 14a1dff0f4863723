"""The examples of the gopacket guide (DESIGN.md section 11), each as a test on real data.

Captures come from ../shared/corpus (skipped without it) or are made by the project's own
code (examples/myencap)."""

from __future__ import annotations

import struct
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from pathlib import Path

import pytest

import pktspec
from pktspec.layers import TCP, UDP, Ethernet, IPv4, IPv6
from pktspec.runtime import REGISTRY, Flow, LayerClass, Parser, PyLayer
from pktspec.runtime.flow import ENDPOINT_TCP_PORT, ENDPOINT_UDP_PORT
from tests.conftest import CAPTURES, corpus_or_skip

ROOT = Path(__file__).resolve().parents[1]
HTTP = CAPTURES / "tcp__dk-http.pcap"
IPV6_HTTP = CAPTURES / "proto__zk-ipv6-http-atomic-frag.pcap"


def http_packets(**options):
    corpus_or_skip()
    return list(pktspec.open(HTTP, **options))


def test_1_decode_bytes_and_ask_for_tcp():
    data = next(iter(pktspec.open(HTTP).records()))[0] if HTTP.exists() else pytest.skip(
        "corpus missing")
    p = pktspec.decode(data, first=Ethernet)
    tcp = p.layer(TCP)
    assert (tcp.src_port, tcp.dst_port) == (3372, 80)
    assert [layer.name for layer in p.layers] == ["Ethernet", "IPv4", "TCP"]


def test_2_decode_from_other_starting_points():
    packets = http_packets()
    data = packets[3].data  # the HTTP GET
    ip_only = pktspec.decode(data[14:], first=IPv4)
    assert [x.name for x in ip_only.layers] == ["IPv4", "TCP", "HTTPRequest"]
    tcp_only = pktspec.decode(data[34:], first=TCP)
    assert tcp_only.layers[0].dst_port == 80
    assert bytes(tcp_only.layers[0].payload).startswith(b"GET /download.html")
    assert bytes(tcp_only.application.target) == b"/download.html"
    corpus_or_skip()
    v6 = next(p for p in pktspec.open(IPV6_HTTP) if IPv6 in p)
    bare = pktspec.decode(bytes(v6.data)[14:], first="IPv6")
    assert bare.layers[0].name == "IPv6" and bare.layers[0].src == v6[IPv6].src
    assert bare.layers[1].name == v6.layers[2].name


def test_3_read_packets_from_a_source_with_options():
    corpus_or_skip()
    with pktspec.open(HTTP, lazy=True, copy=False) as source:
        packets = list(source)
    assert len(packets) == 43
    assert all(p.metadata.linktype == 1 for p in packets)
    assert packets[0].metadata.exact_timestamp == pytest.approx(1084443427.311224)


def test_4_lazy_decoding_decodes_only_what_is_asked_and_never_twice(monkeypatch):
    data = http_packets()[3].data
    calls = Counter()
    for cls in (Ethernet, IPv4, TCP):
        original = cls._decode

        def counting(self, buf, off, end, _original=original, _cls=cls):
            calls[_cls.name] += 1
            return _original(self, buf, off, end)
        monkeypatch.setattr(cls, "_decode", counting)
    p = pktspec.decode(data, lazy=True)
    assert p.layer(IPv4) is not None
    assert calls == Counter({"Ethernet": 1, "IPv4": 1})
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "TCP", "HTTPRequest"]
    assert calls == Counter({"Ethernet": 1, "IPv4": 1, "TCP": 1})
    assert "not for sharing between threads" in pktspec.Packet.__doc__


def test_5_no_copy_refers_to_the_callers_buffer():
    data = bytearray(http_packets()[3].data)
    shared = pktspec.decode(data, copy=False)
    copied = pktspec.decode(data)
    data[14 + 8] = 7  # change the TTL byte in the caller's buffer
    assert pktspec.decode(shared.data).layer(IPv4).ttl == 7
    assert copied.layer(IPv4).ttl == 128
    assert isinstance(shared.data, memoryview) and shared.data.obj is data


def test_6_typed_layers_and_application_payload():
    packets = http_packets()
    p = packets[3]
    assert (p.link.name, p.network.name, p.transport.name) == ("Ethernet", "IPv4", "TCP")
    assert p.application.layer_class == LayerClass.APPLICATION
    hits = [i for i, q in enumerate(packets)
            if q.application is not None and b"Ethereal" in bytes(q.application.payload)]
    assert hits  # the HTTP response body names the site
    assert all(b"Ethereal" in bytes(packets[i].data) for i in hits)


def test_7_error_layer_keeps_the_layers_before_it():
    data = bytearray(http_packets()[3].data)
    data[14 + 20 + 12] = 0x20  # TCP data offset 2 words: below the minimum of 5
    p = pktspec.decode(bytes(data))
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "DecodeFailure"]
    assert p.error.layer == "TCP" and p.error.offset == 34
    assert "data offset below 5" in p.error.message
    cut = pktspec.decode(bytes(data[:40]))
    assert cut.error.truncated and cut.layer(IPv4) is not None


def test_8_flows_and_endpoints():
    packets = http_packets()
    p = packets[0]
    src, dst = p.network.flow.endpoints()
    assert (str(src), str(dst)) == ("145.254.160.237", "65.208.228.223")
    assert Flow.from_endpoints(dst, src) == p.network.flow.reverse()
    by_port = defaultdict(int)
    for q in packets:
        if q.transport is not None:
            by_port[q.transport.flow.dst] += 1
    dns = [q for q in packets if q.layer(UDP) is not None and 53 in (q[UDP].dst_port,)]
    assert by_port[ENDPOINT_UDP_PORT(53)] == len(dns) == 1
    assert by_port[ENDPOINT_TCP_PORT(80)] == sum(
        1 for q in packets if q.layer(TCP) is not None and q[TCP].dst_port == 80)
    assert sum(by_port.values()) == 43
    assert [q for q in packets if q.network.flow.src == q.network.flow.dst] == []
    wanted = Flow.from_endpoints(ENDPOINT_UDP_PORT(1000), ENDPOINT_UDP_PORT(500))
    udp = pktspec.decode(bytes.fromhex("ffffffffffff020000000001080045000020000100004011"
                                       "00000a0000010a00000203e801f4000c00007465737400"))
    assert udp.layer(UDP).flow == wanted


def test_9_symmetric_hash_load_balancing_with_threads():
    packets = [p for p in http_packets() if p.transport is not None]
    workers: list[list] = [[] for _ in range(8)]
    for p in packets:
        h = p.network.flow.fast_hash() ^ p.transport.flow.fast_hash()
        workers[h & 7].append(p)
    seen: dict[frozenset, set[int]] = defaultdict(set)
    lock = threading.Lock()

    def work(i: int) -> None:
        for p in workers[i]:
            key = frozenset([str(p.network.flow.src), str(p.network.flow.dst)])
            with lock:
                seen[key].add(i)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen and all(len(ws) == 1 for ws in seen.values())  # both directions, one worker


def test_10_custom_layer_in_a_layer_file_decodes_its_capture(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "examples/myencap/make_capture.py")],
                   check=True, capture_output=True)
    mod = pktspec.load(ROOT / "examples/myencap/myencap.layer")
    packets = list(pktspec.open(ROOT / "examples/myencap/myencap.pcap"))
    assert [x.name for x in packets[0].layers][:4] == ["MyEncap", "Ethernet", "IPv4", "UDP"]
    assert bytes(packets[0][mod.MyEncap].strange_header) == b"\xde\xad\xbe\xef"
    assert packets[3].application is not None
    assert bytes(packets[3][TCP].payload) == b"GET / HTTP/1.0\r\n\r\n"
    assert bytes(packets[3].application.method) == b"GET"  # the HTTP layer of port 80


def test_10_custom_layer_registered_in_python():
    class PyEncap(PyLayer):
        """The same 4-byte header, written in Python."""

        field_names = ("tag",)
        layer_class = LayerClass.LINK

        def decode(self, data):
            if len(data) < 4:
                raise self._truncated(data, 0, len(data))
            (self.tag,) = struct.unpack_from(">I", data)
            return 4, Ethernet

    REGISTRY.add_layer(PyEncap)
    try:
        p = pktspec.decode(b"\x00\x00\x00\x2a" + http_packets()[0].data, first=PyEncap)
        assert p.layers[0].tag == 42
        assert [x.name for x in p.layers] == ["PyEncap", "Ethernet", "IPv4", "TCP"]
    finally:
        REGISTRY.remove_layer("PyEncap")


def test_11_fast_parser_over_preallocated_layers():
    parser = Parser(Ethernet, [Ethernet, IPv4, IPv6, TCP, UDP])
    tcp = parser[TCP]
    ports = Counter()
    packets = http_packets()
    for p in packets:
        decoded = parser.decode_layers(p.data)
        assert decoded[:2] == [Ethernet, IPv4] and decoded[2] in (TCP, UDP)
        assert parser[TCP] is tcp  # the same object every time
        if decoded[2] is TCP:
            ports[tcp.dst_port] += 1
    assert ports == Counter(p[TCP].dst_port for p in packets if TCP in p)
    assert ports[80] + ports[3372] == 37


def test_12_build_packets_and_reassemble_streams():
    from pktspec.layers import Ethernet as Eth
    built = pktspec.serialize(Eth(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"),
                              IPv4(src="192.0.2.1", dst="192.0.2.2"),
                              TCP(src_port=40000, dst_port=80, flags="S"), b"payload")
    p = pktspec.decode(built)
    assert p[IPv4].total_length == 20 + 20 + 7 and p.verify_checksums() == []
    assert (Eth() / IPv4(dst="192.0.2.9") / TCP(dst_port=443)).build()[12:14] == b"\x08\x00"
    corpus_or_skip()
    (conn, *_) = list(pktspec.streams(HTTP))
    assert conn.client.data.startswith(b"GET /download.html HTTP/1.1")
    assert conn.server.data.startswith(b"HTTP/1.1 200 OK")
    assert len(conn.server.data) == 18364 and not conn.server.gaps
