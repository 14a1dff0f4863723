"""SIP (protocols/sip.layer): requests and responses on UDP and TCP port 5060.

The corpus has no SIP traffic, so a call (INVITE with an SDP offer, 100 Trying, 200 OK with
the answer, ACK, BYE, 200 OK), a registration (REGISTER in compact header forms, 401, a 200
whose reason phrase is empty) and an OPTIONS exchange over TCP are built here with pktspec's
builder, and the decoded values are compared with tshark's reading of the same frames
(tests/tshark_reading.py; tshark dissects port 5060 as SIP by default): the request line
(sip.Method, sip.r-uri, sip.Request-Line), the status line (sip.Status-Code,
sip.Status-Line), header fields read from the layer's header lines (sip.Call-ID, sip.CSeq,
sip.From, sip.To, sip.Via, ...), the SDP lines of the body (the layer's payload), which
protocols tshark finds in the frame, and the Info column against the layers' summaries.
Also: bytes on port 5060 that are not SIP stay Payload; a user's own binding wins; the
builder fills the port; decoding and building again gives the same bytes and agrees with
the construct FORMAT; cut or garbage bytes never raise.

Known differences from tshark, checked below as ours: a header line cut before its CRLF
(the last bytes of a datagram) stays payload, where tshark reads it as a header and marks
the packet malformed; a method outside gopacket's list (tshark's "Unknown request") stays
payload; tshark's Info column adds to the summary what it reads from the header fields (a
2xx response's CSeq method, "(INVITE)", a REGISTER's count of bindings).
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.cli.render import summary as decode_line
from pktspec.layers import TCP, UDP, Ethernet, IPv4, Payload, SIPRequest, SIPResponse
from tests.protocols.test_fast_vs_construct import agree, assert_builds_back
from tests.tshark_reading import tshark_fields

ALICE, BOB, REGISTRAR = "192.0.2.10", "192.0.2.20", "192.0.2.30"

OFFER = (b"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\n"
         b"c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
ANSWER = (b"v=0\r\no=bob 2808844564 2808844564 IN IP4 192.0.2.20\r\ns=-\r\n"
          b"c=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")

DIALOG = ['From: "Alice" <sip:alice@example.com>;tag=1928301774',
          "To: <sip:bob@example.com>", "Call-ID: a84b4c76e66710@pc33.example.com"]
ANSWERED = ['From: "Alice" <sip:alice@example.com>;tag=1928301774',
            "To: <sip:bob@example.com>;tag=a6c85cf",
            "Call-ID: a84b4c76e66710@pc33.example.com"]
VIA_ALICE = "Via: SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bK776asdhds"


def request(method: str, uri: str, headers: list[str]) -> SIPRequest:
    return SIPRequest(method=method.encode(), request_uri=uri.encode(), version=b"SIP/2.0",
                      headers=headers)


def response(code: int, reason: str, headers: list[str]) -> SIPResponse:
    return SIPResponse(version=b"SIP/2.0", response_code=str(code).encode(),
                       response_status=reason.encode(), headers=headers)


def frame(src: str, dst: str, sport: int, dport: int, message, body: bytes = b"",
          transport=UDP, seq: tuple[int, int] = (1000, 2000)) -> bytes:
    """A frame carrying message (and body) over UDP, or TCP with (seq, ack) as given."""
    ports = dict(src_port=sport, dst_port=dport)
    lower = (TCP(flags="PA", seq=seq[0], ack=seq[1], **ports) if transport is TCP
             else UDP(**ports))
    layers = [Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"),
              IPv4(src=src, dst=dst), lower, message]
    return pktspec.serialize(*layers, *([body] if body else []))


def sdp(body: bytes) -> list[str]:
    return ["Content-Type: application/sdp", f"Content-Length: {len(body)}"]


OPTIONS = request("OPTIONS", "sip:bob@example.com", [
    "Via: SIP/2.0/TCP 192.0.2.10:40001;branch=z9hG4bKhjhs8ass877", "Max-Forwards: 70",
    *DIALOG, "CSeq: 63104 OPTIONS", "Accept: application/sdp", "Content-Length: 0"])

MESSAGES = [  # (src, dst, sport, dport, message, body, transport, TCP's seq and ack)
    (ALICE, BOB, 5060, 5060, request("INVITE", "sip:bob@example.com", [
        VIA_ALICE, "Max-Forwards: 70", *DIALOG, "CSeq: 314159 INVITE",
        "Contact: <sip:alice@pc33.example.com>", *sdp(OFFER)]), OFFER, UDP),
    (BOB, ALICE, 5060, 5060, response(100, "Trying", [
        VIA_ALICE, *DIALOG, "CSeq: 314159 INVITE", "Content-Length: 0"]), b"", UDP),
    (BOB, ALICE, 5060, 5060, response(200, "OK", [
        VIA_ALICE, *ANSWERED, "CSeq: 314159 INVITE", "Contact: <sip:bob@192.0.2.20>",
        *sdp(ANSWER)]), ANSWER, UDP),
    (ALICE, BOB, 5060, 5060, request("ACK", "sip:bob@192.0.2.20", [
        "Via: SIP/2.0/UDP pc33.example.com:5060;branch=z9hG4bKnashds9", "Max-Forwards: 70",
        *ANSWERED, "CSeq: 314159 ACK", "Content-Length: 0"]), b"", UDP),
    (BOB, ALICE, 5060, 5060, request("BYE", "sip:alice@pc33.example.com", [
        "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKnashds10",
        "Via: SIP/2.0/UDP proxy.example.com:5060;branch=z9hG4bK4b43c2ff8.1",
        "Max-Forwards: 70", *ANSWERED, "CSeq: 231 BYE", "Content-Length: 0"]), b"", UDP),
    (ALICE, BOB, 5060, 5060, response(200, "OK", [
        "Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKnashds10", *ANSWERED,
        "CSeq: 231 BYE", "Content-Length: 0"]), b"", UDP),
    # a registration from an ephemeral port, in the compact header forms (RFC 3261 7.3.3)
    (ALICE, REGISTRAR, 40000, 5060, request("REGISTER", "sip:registrar.example.com", [
        "v: SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bKnashds7", "Max-Forwards: 70",
        "f: Alice <sip:alice@example.com>;tag=456248", "t: Alice <sip:alice@example.com>",
        "i: 843817637684230@998sdasdh09", "CSeq: 1826 REGISTER",
        "m: <sip:alice@192.0.2.10:40000>", "Expires: 7200", "l: 0"]), b"", UDP),
    (REGISTRAR, ALICE, 5060, 40000, response(401, "Unauthorized", [
        "Via: SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bKnashds7",
        "From: Alice <sip:alice@example.com>;tag=456248",
        "To: Alice <sip:alice@example.com>;tag=2493k59kd",
        "Call-ID: 843817637684230@998sdasdh09", "CSeq: 1826 REGISTER",
        'WWW-Authenticate: Digest realm="example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359"',
        "Content-Length: 0"]), b"", UDP),
    # an empty reason phrase: the status line still has the space after the code
    (REGISTRAR, ALICE, 5060, 40000, response(200, "", [
        "Via: SIP/2.0/UDP 192.0.2.10:40000;branch=z9hG4bKnashds8",
        "Call-ID: 843817637684230@998sdasdh09", "CSeq: 1827 REGISTER", "Expires: 7200",
        "Content-Length: 0"]), b"", UDP),
    (ALICE, BOB, 40001, 5060, OPTIONS, b"", TCP, (1000, 2000)),
    (BOB, ALICE, 5060, 40001, response(200, "OK", [
        "Via: SIP/2.0/TCP 192.0.2.10:40001;branch=z9hG4bKhjhs8ass877", *DIALOG,
        "CSeq: 63104 OPTIONS", "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE",
        "Content-Length: 0"]), b"", TCP, (2000, 1000 + len(bytes(OPTIONS)))),
]
FRAMES = [frame(*message) for message in MESSAGES]

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type"}
HEADERS = ["Call-ID", "CSeq", "From", "To", "Via", "Contact", "Max-Forwards", "Expires",
           "Content-Type", "Content-Length"]
SDP = {"v": "sdp.version", "o": "sdp.owner", "s": "sdp.session_name",
       "c": "sdp.connection_info", "t": "sdp.time", "m": "sdp.media", "a": "sdp.media_attr"}
FIELDS = (["sip.Method", "sip.r-uri", "sip.Request-Line", "sip.Status-Code", "sip.Status-Line"]
          + [f"sip.{h}" for h in HEADERS] + list(SDP.values()))


def header_values(layer, name: str) -> list[str]:
    """The values of every header line called name (or by its compact form), as tshark
    shows them: after the colon, without the whitespace around them."""
    found = []
    for line in layer.headers:
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if COMPACT.get(key, key) == name.lower():
            found.append(value.strip())
    return found


def sip_layer(packet):
    return packet.layer(SIPRequest) or packet.layer(SIPResponse)


def reading(packet) -> dict[str, str]:
    """Our decode, written as tshark writes those fields."""
    sip = sip_layer(packet)
    row = dict.fromkeys(FIELDS, "")
    if isinstance(sip, SIPRequest):
        method, uri = bytes(sip.method).decode(), bytes(sip.request_uri).decode()
        row.update({"sip.Method": method, "sip.r-uri": uri,
                    "sip.Request-Line": f"{method} {uri} {bytes(sip.version).decode()}"})
    else:
        code = bytes(sip.response_code).decode()
        row.update({"sip.Status-Code": code, "sip.Status-Line": (
            f"{bytes(sip.version).decode()} {code} {bytes(sip.response_status).decode()}")})
    for name in HEADERS:
        row[f"sip.{name}"] = ",".join(header_values(sip, name))
    body = bytes(sip.payload).decode()
    for letter, field in SDP.items():
        row[field] = ",".join(line[2:] for line in body.splitlines() if line[:2] == f"{letter}=")
    return row


def test_fields_agree_with_tshark(tmp_path):
    truth = tshark_fields(FRAMES, FIELDS + ["frame.protocols"], tmp_path)
    assert len(truth) == len(FRAMES)
    for i, (data, row) in enumerate(zip(FRAMES, truth, strict=True)):
        packet = pktspec.decode(data)
        assert packet.error is None, (i, packet.error)
        assert sip_layer(packet) is not None, i
        protocols = row.pop("frame.protocols")
        assert ":sip" in protocols, (i, protocols)
        # a body is the layer's payload, and tshark finds SDP in it
        assert (packet.layers[-1].name == "Payload") == protocols.endswith(":sip:sdp"), i
        assert reading(packet) == row, i


def test_what_the_layers_decode():
    invite = pktspec.decode(FRAMES[0])
    assert [x.name for x in invite.layers] == ["Ethernet", "IPv4", "UDP", "SIPRequest",
                                                "Payload"]
    sip = invite[SIPRequest]
    assert (bytes(sip.method), bytes(sip.request_uri), bytes(sip.version)) == (
        b"INVITE", b"sip:bob@example.com", b"SIP/2.0")
    assert sip.headers[0] == VIA_ALICE and sip.headers[-1] == f"Content-Length: {len(OFFER)}"
    assert bytes(sip.payload) == OFFER == bytes(invite[Payload].payload)
    ok = pktspec.decode(FRAMES[2])[SIPResponse]
    assert (bytes(ok.version), bytes(ok.response_code), bytes(ok.response_status)) == (
        b"SIP/2.0", b"200", b"OK")
    assert bytes(ok.payload) == ANSWER
    trying = pktspec.decode(FRAMES[1])
    assert [x.name for x in trying.layers][-1] == "SIPResponse"  # no body: no Payload
    assert bytes(trying[SIPResponse].payload) == b""
    register = pktspec.decode(FRAMES[6])[SIPRequest]
    assert "i: 843817637684230@998sdasdh09" in register.headers  # compact forms as sent
    empty = pktspec.decode(FRAMES[8])[SIPResponse]
    assert (bytes(empty.response_code), bytes(empty.response_status)) == (b"200", b"")
    assert bytes(empty.contents).startswith(b"SIP/2.0 200 \r\n")
    options = pktspec.decode(FRAMES[9])
    assert [x.name for x in options.layers] == ["Ethernet", "IPv4", "TCP", "SIPRequest"]
    assert [x.name for x in pktspec.decode(FRAMES[10]).layers][2:] == ["TCP", "SIPResponse"]


def test_summaries_are_tsharks_info(tmp_path):
    """tshark's Info is the summary, then what it adds from the header fields (a 2xx
    response's CSeq method in parentheses, a REGISTER's count of bindings), then " | " (the
    separator of several messages in one frame)."""
    rows = tshark_fields(FRAMES, ["_ws.col.Info"], tmp_path)
    said = [sip_layer(pktspec.decode(data)).summary() for data in FRAMES]
    assert said[:3] == ["Request: INVITE sip:bob@example.com", "Status: 100 Trying",
                        "Status: 200 OK"]
    assert said[6] == "Request: REGISTER sip:registrar.example.com"
    assert said[8] == "Status: 200 "  # tshark's too: the empty phrase after the space
    for i, (text, row) in enumerate(zip(said, rows, strict=True)):
        extra = r"( \((INVITE|BYE|REGISTER|OPTIONS)\))?(  \(\d+ bindings?\))?"
        assert re.fullmatch(re.escape(text) + extra + r" \| ", row["_ws.col.Info"]), (i, row)
    assert [row["_ws.col.Info"] for row in rows[:3]] == [
        "Request: INVITE sip:bob@example.com | ", "Status: 100 Trying | ",
        "Status: 200 OK (INVITE) | "]
    line = decode_line(pktspec.decode(FRAMES[0]))
    assert line.endswith(f"192.0.2.10.5060 > 192.0.2.20.5060: length {len(FRAMES[0]) - 42}: "
                         "Request: INVITE sip:bob@example.com")
    assert decode_line(pktspec.decode(FRAMES[7])).endswith(": Status: 401 Unauthorized")


def test_decoding_and_building_again_gives_the_same_bytes_and_agrees_with_format():
    assert_builds_back(FRAMES)


def test_building_fills_the_port_and_writes_the_lines():
    message = request("BYE", "sip:bob@example.com", ["Call-ID: x", "CSeq: 2 BYE"])
    data = bytes(UDP(src_port=40000, dst_port=None) / message)
    assert data[2:4] == (5060).to_bytes(2, "big")
    assert data[8:] == b"BYE sip:bob@example.com SIP/2.0\r\nCall-ID: x\r\nCSeq: 2 BYE\r\n\r\n"
    reply = bytes(TCP(src_port=None, dst_port=40000) / response(486, "Busy Here", []))
    assert reply[:2] == (5060).to_bytes(2, "big")
    assert reply[20:] == b"SIP/2.0 486 Busy Here\r\n\r\n"
    decoded = pktspec.decode(reply, first=TCP)
    assert bytes(decoded[SIPResponse].response_status) == b"Busy Here"
    assert decoded.build() == reply


def test_a_value_holding_its_delimiter_is_refused_not_injected():
    for bad in (request("INVITE", "sip:a SIP/2.0\r\nX-Evil: 1", []),
                response(200, "OK\r\nX-Evil: 1", []),
                SIPResponse(version=b"SIP/2.0", response_code=b"20 0", response_status=b"OK")):
        try:
            bytes(bad)
        except pktspec.BuildError as exc:
            assert "holds its own delimiter" in str(exc)
        else:
            raise AssertionError(f"built {bad!r}")
    try:
        bytes(request("INVITE", "sip:a", ["Call-ID: a\r\nX-Evil: 1"]))
    except pktspec.BuildError as exc:
        assert "holds a line end" in str(exc)
    else:
        raise AssertionError("a header line with a line end was built")


# bytes on port 5060 that are not a SIP message; tshark reads the first five as data too
NOT_SIP = [
    b"hello world, this is not SIP at all",
    b"SIP/2.0 200\r\nCall-ID: x\r\n\r\n",           # no space after the code
    b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"\x80\x00\x12\x34\x00\x00\x00\xa0\xde\xad\xbe\xef" + bytes(160),  # an RTP packet
    b"\r\n\r\n",                                     # a keep-alive (RFC 5626)
    b"invite sip:bob@example.com SIP/2.0\r\n\r\n",  # methods are case-sensitive
    b"INVITE",                                       # too short to be taken for a request
    b"FOO sip:bob@example.com SIP/2.0\r\nCall-ID: x\r\n\r\n",  # tshark: "Unknown request"
]


def test_bytes_that_are_not_sip_stay_payload(tmp_path):
    frames = [frame(ALICE, BOB, 5060, 5060, data) for data in NOT_SIP]
    frames += [frame(ALICE, BOB, 40000, 5060, data, transport=TCP) for data in NOT_SIP]
    for data, raw in zip(frames, NOT_SIP + NOT_SIP, strict=True):
        packet = pktspec.decode(data)
        assert packet.error is None, raw
        assert packet.layers[-1].name == "Payload" and packet.layer(SIPRequest) is None, raw
        assert packet.layer(SIPResponse) is None, raw
        assert bytes(packet[Payload].payload) == raw
    rows = tshark_fields(frames[:5], ["frame.protocols"], tmp_path)
    assert all(":sip" not in row["frame.protocols"] for row in rows), rows


def test_a_message_cut_mid_header_keeps_its_complete_lines(tmp_path):
    """A datagram that ends inside a header line: the complete lines are the headers, the
    rest is payload; tshark reads the same header fields (and says the packet is
    malformed)."""
    whole = bytes(request("INVITE", "sip:bob@example.com", [
        VIA_ALICE, "Call-ID: a84b4c76e66710", "CSeq: 314159 INVITE"]))
    cut = whole[:whole.index(b"CSeq") + 3]
    data = frame(ALICE, BOB, 5060, 5060, cut)
    packet = pktspec.decode(data)
    assert packet.error is None
    sip = packet[SIPRequest]
    assert sip.headers == [VIA_ALICE, "Call-ID: a84b4c76e66710"]
    assert bytes(sip.payload) == b"CSe"
    (row,) = tshark_fields([data], FIELDS + ["_ws.malformed"], tmp_path)
    assert row.pop("_ws.malformed") != ""
    assert reading(packet) == row
    # a last line cut before its CRLF stays payload (tshark reads it as a header: a known
    # difference, since a header block cut by a TCP segment is read the same way)
    packet = pktspec.decode(frame(ALICE, BOB, 5060, 5060, whole[:whole.index(b"\r\nCSeq")]))
    assert packet[SIPRequest].headers == [VIA_ALICE]
    assert bytes(packet[SIPRequest].payload) == b"Call-ID: a84b4c76e66710"


def test_a_request_line_cut_short_is_an_error_layer_that_says_so():
    data = frame(ALICE, BOB, 5060, 5060, b"INVITE sip:bob@example.com SIP/2")
    packet = pktspec.decode(data)
    assert [x.name for x in packet.layers] == ["Ethernet", "IPv4", "UDP", "DecodeFailure"]
    assert packet.error.layer == "SIPRequest" and packet.error.truncated
    response_cut = pktspec.decode(frame(BOB, ALICE, 5060, 5060, b"SIP/2.0 180 Ringin"))
    assert response_cut.error.layer == "SIPResponse" and response_cut.error.truncated


def test_every_cut_of_every_frame_decodes_without_raising():
    for data in FRAMES:
        for end in range(len(data)):
            packet = pktspec.decode(data[:end])
            if packet.error is not None:
                assert packet.error.layer not in ("SIPRequest", "SIPResponse") \
                    or packet.error.truncated, (end, packet.error)
            sip = sip_layer(packet)
            if sip is not None:
                agree(sip)
                sip.summary()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.sampled_from([b"INVITE ", b"ACK ", b"SIP/2.0 200 ", b"REGISTER ", b""]),
       body=st.binary(max_size=60), crlf=st.integers(0, 3))
def test_garbage_never_raises_and_both_decoders_agree(start, body, crlf):
    message = start + body + b"\r\n" * crlf
    for data in (frame(ALICE, BOB, 5060, 5060, message),
                 frame(ALICE, BOB, 40000, 5060, message, transport=TCP)):
        packet = pktspec.decode(data)
        sip = sip_layer(packet)
        if sip is not None:
            agree(sip)
            assert isinstance(sip.summary(), str)
        else:
            assert packet.error is None or packet.error.layer in ("SIPRequest", "SIPResponse")
    for first in (SIPRequest, SIPResponse):
        packet = pktspec.decode(message, first=first)
        if packet.layers and packet.layers[0].name == first.name:
            agree(packet.layers[0])
        else:
            assert packet.error is not None and packet.error.layer == first.name


def test_a_users_own_layer_for_port_5060_wins(tmp_path, restore_registry):
    from tests.generator.conftest import load_text

    load_text(tmp_path, 'import "udp.layer"\nlayer Mine5060 : application { tag: u8; }\n'
              "extend UDPPort { 5060 -> Mine5060 }\n", "mine5060.layer")
    names = [x.name for x in pktspec.decode(FRAMES[0]).layers]
    assert names[2:4] == ["UDP", "Mine5060"]
