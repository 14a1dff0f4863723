"""HTTP/1.x (protocols/http.layer): requests and responses on port 80 decoded where a
segment starts one, checked against tshark's reading of the corpus (with TCP reassembly
off, as the truth files are made: values read from `tshark -Y "http.request or
http.response" -T fields -e http.request.method -e http.request.uri -e http.response.code
-e http.response.phrase`), and built back byte for byte."""

from __future__ import annotations

import pytest

import pktspec
from pktspec.layers import TCP, HTTPRequest, HTTPResponse
from pktspec.runtime.registry import DispatchTable
from tests.conftest import CAPTURES, corpus_or_skip

# frame -> (method, target) of a request or (status, reason) of a response, as tshark shows
# them; and how many of each tshark finds in the whole capture
TSHARK = {
    "tcp__dk-http.pcap": ({4: ("GET", "/download.html"), 6: ("200", "OK"), 26: ("200", "OK"),
                           36: ("200", "OK")}, 2, 3),
    "link__gp-null-loopback-ipv6-http.pcap": (
        {1: ("GET", "/pkg/github.com/gconnell/gopacket/"), 3: ("200", "OK"),
         13: ("GET", "/doc/style.css"), 15: ("304", "Not Modified"),
         21: ("GET", "/doc/godocs.js"), 23: ("304", "Not Modified")}, 3, 3),
    "tcp__zk-http-bro-org.pcap": ({4: ("GET", "/"), 6: ("200", "OK"),
                                   40: ("GET", "/css/pygments.css"),
                                   60: ("GET", "/js/jquery.fancybox-1.3.4.pack.js")}, 31, 31),
    "tcp__zk-http-206-b-ooo.pcap": ({5: ("206", "Partial Content"),
                                     957: ("206", "Partial Content")}, 3, 3),
}


def http_values(packet) -> tuple[str, str] | None:
    request, response = packet.layer(HTTPRequest), packet.layer(HTTPResponse)
    if request is not None:
        return bytes(request.method).decode(), bytes(request.target).decode()
    if response is not None:
        return bytes(response.status).decode(), bytes(response.reason).decode().lstrip()
    return None


@pytest.mark.parametrize("name", sorted(TSHARK))
def test_requests_and_responses_are_where_tshark_sees_them(name):
    corpus_or_skip()
    frames, requests, responses = TSHARK[name]
    packets = list(pktspec.open(str(CAPTURES / name)))
    for frame, values in frames.items():
        assert http_values(packets[frame - 1]) == values, frame
    assert sum(p.layer(HTTPRequest) is not None for p in packets) == requests
    assert sum(p.layer(HTTPResponse) is not None for p in packets) == responses
    assert all(p.error is None for p in packets)


def test_header_lines_are_fields_the_body_is_payload_and_body_segments_stay_payload():
    corpus_or_skip()
    packets = list(pktspec.open(str(CAPTURES / "tcp__dk-http.pcap")))
    request = packets[3][HTTPRequest]
    assert bytes(request.version) == b"HTTP/1.1"
    assert request.headers[0] == "Host: www.ethereal.com" and len(request.headers) == 9
    assert bytes(request.payload) == b""  # a GET: no body
    response = packets[5][HTTPResponse]  # a status line, header fields, then body bytes
    assert bytes(response.reason) == b" OK"
    assert response.headers[-1] == "Content-Type: text/html; charset=ISO-8859-1"
    assert bytes(response.payload).startswith(b"<?xml")
    body = packets[7]  # the same response's next segment: no status line
    assert [x.name for x in body.layers] == ["Ethernet", "IPv4", "TCP", "Payload"]


def test_the_display_filter_and_field_names_are_tsharks():
    corpus_or_skip()
    match = pktspec.display_filter('http.request.method == "GET" or http.response.code == 200')
    frames = [i for i, p in enumerate(pktspec.open(str(CAPTURES / "tcp__dk-http.pcap")), 1)
              if match(p)]
    assert frames == [4, 6, 18, 26, 36]
    assert [i for i, p in enumerate(pktspec.open(str(CAPTURES / "tcp__dk-http.pcap")), 1)
            if pktspec.display_filter("http")(p)] == [4, 6, 18, 26, 36]


def test_building_a_request_and_a_response():
    request = HTTPRequest(method=b"GET", target=b"/index.html", version=b"HTTP/1.1",
                          headers=["Host: example.com"])
    data = bytes(TCP(src_port=40000, dst_port=80) / request)
    assert data[20:] == b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n"
    decoded = pktspec.decode(data, first=TCP)
    assert [x.name for x in decoded.layers] == ["TCP", "HTTPRequest"]
    assert decoded[HTTPRequest].headers == ["Host: example.com"]
    assert decoded.build() == data
    response = HTTPResponse(version=b"HTTP/1.1", status=b"404", reason=b" Not Found")
    data = bytes(TCP(src_port=80, dst_port=40000) / response / b"gone")
    assert data[20:] == b"HTTP/1.1 404 Not Found\r\n\r\ngone"  # no fields: a blank line
    decoded = pktspec.decode(data, first=TCP)  # port 80: the request layer passes it on
    assert [x.name for x in decoded.layers] == ["TCP", "HTTPResponse", "Payload"]
    assert bytes(decoded[HTTPResponse].status) == b"404"
    assert decoded[HTTPResponse].headers == []
    assert bytes(decoded[HTTPResponse].payload) == b"gone"


def test_a_status_line_without_a_reason_phrase():
    data = bytes(TCP(src_port=80, dst_port=40000)) + b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"
    response = pktspec.decode(data, first=TCP)[HTTPResponse]
    assert (bytes(response.status), bytes(response.reason)) == (b"200", b"")
    assert response.headers == ["Content-Length: 0"] and bytes(response.payload) == b""


def test_a_header_block_cut_by_the_segment_keeps_its_complete_lines():
    data = bytes(TCP(src_port=40000, dst_port=80)) + b"GET / HTTP/1.1\r\nHost: a\r\nCook"
    p = pktspec.decode(data, first=TCP)
    assert p.error is None and p[HTTPRequest].headers == ["Host: a"]
    assert bytes(p[HTTPRequest].payload) == b"Cook"  # the rest of the cut line


def test_header_fields_by_tsharks_names():
    """-e http.host ... prints what tshark prints (checked by hand on these frames)."""
    corpus_or_skip()
    columns = [pktspec.display_filters.compile_field(n) for n in
               ("http.host", "http.content_length", "http.content_type", "http.server")]
    packets = list(pktspec.open(str(CAPTURES / "tcp__dk-http.pcap")))
    rows = {n: [c(packets[n - 1]) for c in columns] for n in (4, 6)}
    assert rows[4][0] == ["www.ethereal.com"]
    assert rows[6][1:] == [[18070], ["text/html; charset=ISO-8859-1"], ["Apache"]]


def test_a_value_holding_its_delimiter_is_refused_not_injected():
    with pytest.raises(pktspec.BuildError, match="holds its own delimiter"):
        bytes(HTTPRequest(method=b"GET", target=b"/ HTTP/1.1\r\nX-Evil: 1", version=b"HTTP/1.1"))
    with pytest.raises(pktspec.BuildError, match="holds a line end"):
        bytes(HTTPRequest(method=b"GET", target=b"/", version=b"HTTP/1.1",
                          headers=["Host: a\r\nX-Evil: 1"]))


def test_a_users_own_layer_for_port_80_wins(tmp_path, restore_registry):
    from tests.generator.conftest import load_text

    mod = load_text(tmp_path, 'import "tcp.layer"\nlayer Mine80 : application { tag: u8; }\n'
                    "extend TCPPort { 80 -> Mine80 }\n", "mine80.layer")
    data = bytes(TCP(src_port=40000, dst_port=80)) + b"GET / HTTP/1.1\r\n\r\n"
    assert [x.name for x in pktspec.decode(data, first=TCP).layers][:2] == ["TCP", "Mine80"]
    assert mod.Mine80 is not None


def test_a_request_line_cut_by_the_segment_says_so():
    data = bytes(TCP(src_port=40000, dst_port=80)) + b"GET /a-long-path-cut-he"
    p = pktspec.decode(data, first=TCP)
    assert p.error is not None and p.error.layer == "HTTPRequest" and p.error.truncated
    assert [x.name for x in p.layers][0] == "TCP"


def test_a_refusing_class_passes_the_bytes_to_the_next_binding_of_its_value():
    class First:
        _guard = staticmethod(lambda buf, off, end: buf[off] == 1)

    class Second:
        _guard = staticmethod(lambda buf, off, end: buf[off] == 2)

    class Third:
        _guard = None

    table = DispatchTable("Test")
    table.bind(7, First, "t", priority=2)
    table.bind(7, Second, "t", priority=1)
    table.bind(9, Third, "t")
    assert table.refused((7,), First, b"\x02", 0, 1) is Second
    assert table.refused((7,), First, b"\x03", 0, 1) is None
    assert table.refused((7, 9), First, b"\x03", 0, 1) is Third  # the other candidate value


def test_the_builder_finds_the_port_of_a_layer_bound_behind_another():
    """HTTPResponse is bound to port 80 behind HTTPRequest (guards tell them apart): the
    builder still fills TCP's ports from that binding rather than leaving 0."""
    from pktspec.layers import Ethernet, IPv4

    data = pktspec.serialize(Ethernet() / IPv4() / TCP(src_port=80, dst_port=None) / HTTPResponse(
        version=b"HTTP/1.1", status=b"200", reason=b" OK", headers=["Server: x"]))
    packet = pktspec.decode(data)
    assert packet[TCP].dst_port == 80 and packet.layer(HTTPResponse) is not None
