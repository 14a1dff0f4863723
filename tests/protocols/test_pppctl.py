"""PPP's control protocols (protocols/pppctl.layer): LCP, IPCP, IPv6CP, PAP and CHAP, bound
into PPP's protocol table (PPPProtocol).

The corpus capture proto__zk-pppoe.pcap has a PPPoE session's LCP negotiation (MRU,
Auth-Protocol, Magic-Number options; Configure-Request, -Ack, -Nak), a PAP login, IPCP and
IPv6CP negotiation and LCP echoes: every control frame is decoded and its fields compared with
tshark's reading of the same file. The codes and options the corpus lacks (Terminate-*,
Code-Reject, Protocol-Reject, Discard-Request, PFC, ACFC, ACCM, CHAP's algorithm, IPCP's DNS
options, PAP's Nak, all of CHAP) are built here with pktspec's builder and compared with
tshark's reading of those frames (tests/tshark_reading.py). Also: summaries are tshark's Info,
the builder fills the lengths, decoding and building again gives the same bytes, the fast
decoder agrees with the construct FORMAT, and frames cut short or with a bad length end in a
DecodeFailure layer, never an exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.layers import CHAP, IPCP, LCP, PAP, PPP, Ethernet, IPv6CP, PPPoE
from pktspec.protocols.ppp import PPPProtocol
from pktspec.protocols.pppctl import (
    CHAPCode,
    IPCPOptionType,
    IPv6CPOptionType,
    LCPOptionType,
    PAPCode,
    PPPControlCode,
)
from tests.conftest import corpus_or_skip
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

CAPTURE = "proto__zk-pppoe.pcap"
CONTROL = (LCP, IPCP, IPv6CP, PAP, CHAP)

# the fields compared with tshark; several occurrences are joined by "," as tshark_fields does
FIELDS = [
    "ppp.protocol", "ppp.code", "ppp.identifier", "ppp.length",
    "lcp.opt.type", "lcp.opt.length", "lcp.opt.mru", "lcp.opt.auth_protocol",
    "lcp.opt.algorithm", "lcp.opt.magic_number", "lcp.opt.asyncmap",
    "lcp.magic_number", "lcp.data", "lcp.rej_proto", "ppp.data",
    "ipcp.opt.type", "ipcp.opt.length", "ipcp.opt.ip_address", "ipcp.opt.pri_dns_address",
    "ipcp.opt.sec_dns_address",
    "ipv6cp.opt.type", "ipv6cp.opt.length", "ipv6cp.interface_identifier",
    "pap.code", "pap.identifier", "pap.length", "pap.peer_id.length", "pap.peer_id",
    "pap.password.length", "pap.password", "pap.message.length", "pap.message",
    "chap.code", "chap.identifier", "chap.length", "chap.value_size", "chap.value",
    "chap.name", "chap.message",
    "_ws.col.Info",
]


def colons(data: bytes) -> str:
    return ":".join(f"{b:02x}" for b in data)


def reading(packet) -> dict[str, str]:
    """Our values of FIELDS for one packet, written as tshark writes them."""
    out: dict[str, list[str]] = {f: [] for f in FIELDS}
    ppp = packet.layer(PPP)
    out["ppp.protocol"].append(f"{int(ppp.protocol):#06x}")
    ctl = packet.layers[-1]
    assert isinstance(ctl, CONTROL), packet.layers
    code = int(ctl.code)
    if isinstance(ctl, (LCP, IPCP, IPv6CP)):
        out["ppp.code"].append(str(code))
        out["ppp.identifier"].append(str(ctl.identifier))
        out["ppp.length"].append(str(ctl.length))
    if isinstance(ctl, LCP):
        for opt in ctl.options or []:
            out["lcp.opt.type"].append(str(int(opt.type)))
            out["lcp.opt.length"].append(str(opt.length))
            if opt.type == LCPOptionType.MRU:
                out["lcp.opt.mru"].append(str(opt.value))
            elif opt.type == LCPOptionType.AuthProtocol:
                out["lcp.opt.auth_protocol"].append(f"{int(opt.value.protocol):#06x}")
                if opt.value.protocol == PPPProtocol.CHAP:
                    out["lcp.opt.algorithm"].append(str(opt.value.data[0]))
            elif opt.type == LCPOptionType.MagicNumber:
                out["lcp.opt.magic_number"].append(f"{opt.value:#010x}")
            elif opt.type == LCPOptionType.ACCM:
                out["lcp.opt.asyncmap"].append(f"{opt.value:#010x}")
        if ctl.magic_number is not None:
            out["lcp.magic_number"].append(f"{ctl.magic_number:#010x}")
            if ctl.info:
                out["lcp.data"].append(ctl.info.hex())
        if ctl.rejected_protocol is not None:
            out["lcp.rej_proto"].append(f"{int(ctl.rejected_protocol):#06x}")
            # tshark reads the rejected information as a packet of the rejected protocol
            # (a control protocol's here: code, identifier, length)
            rejected = ctl.info
            out["ppp.code"].append(str(rejected[0]))
            out["ppp.identifier"].append(str(rejected[1]))
            out["ppp.length"].append(str(int.from_bytes(rejected[2:4], "big")))
        elif code in (5, 6, 7) and ctl.info:
            out["ppp.data"].append(ctl.info.hex())
    elif isinstance(ctl, IPCP):
        addresses = {IPCPOptionType.IPAddress: "ipcp.opt.ip_address",
                     IPCPOptionType.PrimaryDNS: "ipcp.opt.pri_dns_address",
                     IPCPOptionType.SecondaryDNS: "ipcp.opt.sec_dns_address"}
        for opt in ctl.options or []:
            out["ipcp.opt.type"].append(str(int(opt.type)))
            out["ipcp.opt.length"].append(str(opt.length))
            if opt.type in addresses:
                out[addresses[opt.type]].append(str(opt.value))
        if code in (5, 6, 7) and ctl.info:
            out["ppp.data"].append(ctl.info.hex())
    elif isinstance(ctl, IPv6CP):
        for opt in ctl.options or []:
            out["ipv6cp.opt.type"].append(str(int(opt.type)))
            out["ipv6cp.opt.length"].append(str(opt.length))
            if opt.type == IPv6CPOptionType.InterfaceIdentifier:
                out["ipv6cp.interface_identifier"].append(colons(opt.value))
    elif isinstance(ctl, PAP):
        out["pap.code"].append(str(code))
        out["pap.identifier"].append(str(ctl.identifier))
        out["pap.length"].append(str(ctl.length))
        if code == PAPCode.AuthenticateRequest:
            out["pap.peer_id.length"].append(str(ctl.peer_id_length))
            out["pap.peer_id"].append(ctl.peer_id.decode())
            out["pap.password.length"].append(str(ctl.password_length))
            out["pap.password"].append(ctl.password.decode())
        else:
            out["pap.message.length"].append(str(ctl.message_length))
            out["pap.message"].append(ctl.message.decode())
    elif isinstance(ctl, CHAP):
        out["chap.code"].append(str(code))
        out["chap.identifier"].append(str(ctl.identifier))
        out["chap.length"].append(str(ctl.length))
        if code in (CHAPCode.Challenge, CHAPCode.Response):
            out["chap.value_size"].append(str(ctl.value_size))
            out["chap.value"].append(ctl.value.hex())
            out["chap.name"].append(ctl.peer_name.decode())
        elif ctl.message:
            out["chap.message"].append(ctl.message.decode())
    out["_ws.col.Info"].append(ctl.summary())
    return {f: ",".join(v) for f, v in out.items()}


def same_as_tshark(ours: dict[str, str], row: dict[str, str]) -> None:
    """Every field equal, but tshark's CHAP Info goes on with the value in hex, which our
    summary leaves out (bytes print as text when printable)."""
    ours, row = dict(ours), dict(row)
    info, words = ours.pop("_ws.col.Info"), row.pop("_ws.col.Info")
    assert ours == row
    if ours["chap.code"] in ("1", "2"):
        assert words.startswith(info[:-1] + ", VALUE=0x"), (info, words)
    else:
        assert info == words


# ---- the corpus ------------------------------------------------------------------------------


def corpus_frames() -> list[bytes]:
    path = corpus_or_skip() / "captures" / CAPTURE
    return [bytes(p.data) for p in pktspec.open(path)]


def test_corpus_control_frames_read_as_tshark_reads_them(tmp_path: Path):
    frames = corpus_frames()
    truth = tshark_fields(frames, FIELDS, tmp_path)
    assert len(truth) == len(frames)
    seen = set()
    for i, (frame, row) in enumerate(zip(frames, truth, strict=True), 1):
        packet = pktspec.decode(frame)
        if not any(isinstance(layer, CONTROL) for layer in packet.layers):
            # PPP's network protocols and the discovery stage: nothing of ours, and tshark
            # sees no control protocol there either
            assert not row["ppp.code"] and not row["pap.code"], i
            continue
        assert packet.error is None, (i, packet.error)
        seen.add(type(packet.layers[-1]).__name__)
        same_as_tshark(reading(packet), row)
    assert seen == {"LCP", "PAP", "IPCP", "IPv6CP"}


def test_corpus_negotiation_values():
    packets = [pktspec.decode(f) for f in corpus_frames()]
    request = packets[5].layers[-1]  # frame 6: the server's Configure-Request
    assert isinstance(request, LCP) and request.code == PPPControlCode.ConfigureRequest
    assert [o.type for o in request.options] == [
        LCPOptionType.MRU, LCPOptionType.AuthProtocol, LCPOptionType.MagicNumber]
    assert request.options[0].value == 1492
    assert request.options[1].value.protocol == PPPProtocol.PAP
    assert request.options[2].value == 0x01FCCBFB
    pap = packets[10].layers[-1]
    assert isinstance(pap, PAP) and (pap.peer_id, pap.password) == (b"cisco", b"cisco")
    assert pap.summary() == "Authenticate-Request (Peer-ID='cisco', Password='cisco')"
    assert packets[11].layers[-1].summary() == "Authenticate-Ack (Message='')"
    ipcp = packets[18].layers[-1]  # frame 19: the Nak that assigns the address
    assert isinstance(ipcp, IPCP) and ipcp.code == PPPControlCode.ConfigureNak
    assert ipcp.options[0].type == IPCPOptionType.IPAddress
    assert str(ipcp.options[0].value) == "10.0.2.16"
    echo = packets[27].layers[-1]
    assert isinstance(echo, LCP) and echo.summary() == "Echo Request"
    assert echo.magic_number == 0x05FCD459 and echo.info == bytes.fromhex("01fccbfb")
    # the Ethernet padding after the PPP packet stays PPPoE's trailer
    assert packets[4].layer(PPPoE).trailer == bytes(60 - 14 - 6 - 12)


# ---- built frames: what the corpus lacks ------------------------------------------------------


def session(control, protocol: str) -> bytes:
    return pktspec.serialize(
        Ethernet(src="02:00:5e:00:53:01", dst="02:00:5e:00:53:02", ethertype=0x8864),
        PPPoE(code="Session", session_id=0x0011), PPP(protocol=protocol), control)


BUILT = [
    session(LCP(code="ConfigureRequest", identifier=3, options=[
        {"type": "MRU", "value": 1492},
        {"type": "AuthProtocol", "value": {"protocol": "CHAP", "data": b"\x05"}},
        {"type": "MagicNumber", "value": 0x1234ABCD},
        {"type": "PFC", "value": b""},
        {"type": "ACFC", "value": b""},
        {"type": "ACCM", "value": 0x000A0000}]), "LCP"),
    session(LCP(code="ConfigureReject", identifier=3,
                options=[{"type": "Callback", "value": b"\x06"}]), "LCP"),
    session(LCP(code="TerminateRequest", identifier=4, info=b"User request"), "LCP"),
    session(LCP(code="TerminateAck", identifier=4), "LCP"),
    session(LCP(code="CodeReject", identifier=5, info=b"\x0e\x01\x00\x04"), "LCP"),
    session(LCP(code="ProtocolReject", identifier=6, rejected_protocol=0x80FD,
                info=b"\x01\x01\x00\x04"), "LCP"),
    session(LCP(code="EchoReply", identifier=7, magic_number=0xDEADBEEF), "LCP"),
    session(LCP(code="DiscardRequest", identifier=8, magic_number=0xDEADBEEF,
                info=b"xyz"), "LCP"),
    session(IPCP(code="ConfigureNak", identifier=1, options=[
        {"type": "IPAddress", "value": "10.0.0.7"},
        {"type": "PrimaryDNS", "value": "192.0.2.53"},
        {"type": "SecondaryDNS", "value": "192.0.2.54"}]), "IPCP"),
    session(IPCP(code="TerminateRequest", identifier=2), "IPCP"),
    session(IPv6CP(code="ConfigureReject", identifier=2, options=[
        {"type": "InterfaceIdentifier", "value": bytes(range(1, 9))}]), "IPv6CP"),
    session(PAP(code="AuthenticateRequest", identifier=1, peer_id=b"user",
                password=b"pw"), "PAP"),
    session(PAP(code="AuthenticateNak", identifier=1, message=b"bad password"), "PAP"),
    session(CHAP(code="Challenge", identifier=1, value=bytes(range(16)),
                 peer_name=b"ac"), "CHAP"),
    session(CHAP(code="Response", identifier=1, value=bytes(range(16, 32)),
                 peer_name=b"user"), "CHAP"),
    session(CHAP(code="Success", identifier=1, message=b"Welcome"), "CHAP"),
    session(CHAP(code="Failure", identifier=2), "CHAP"),
]


def test_built_frames_read_as_tshark_reads_them(tmp_path: Path):
    truth = tshark_fields(BUILT, FIELDS, tmp_path)
    assert len(truth) == len(BUILT)
    for i, (frame, row) in enumerate(zip(BUILT, truth, strict=True)):
        packet = pktspec.decode(frame)
        assert packet.error is None, (i, packet.error)
        same_as_tshark(reading(packet), row)


def test_summaries_are_tshark_info():
    words = [pktspec.decode(f).layers[-1].summary() for f in BUILT]
    assert words == [
        "Configuration Request", "Configuration Reject", "Termination Request",
        "Termination Ack", "Code Reject", "Protocol Reject", "Echo Reply", "Discard Request",
        "Configuration Nak", "Termination Request", "Configuration Reject",
        "Authenticate-Request (Peer-ID='user', Password='pw')",
        "Authenticate-Nak (Message='bad password')",
        "Challenge (NAME='ac')", "Response (NAME='user')",
        "Success (MESSAGE='Welcome')", "Failure (MESSAGE='')",
    ]


def test_builder_fills_lengths():
    frame = session(PAP(code="AuthenticateRequest", identifier=9, peer_id=b"user",
                        password=b"secret"), "PAP")
    pap = pktspec.decode(frame).layers[-1]
    assert (pap.length, pap.peer_id_length, pap.password_length) == (16, 4, 6)
    assert pktspec.decode(frame).layer(PPPoE).length == 2 + 16
    lcp = pktspec.decode(BUILT[0]).layers[-1]
    assert lcp.length == 4 + 4 + 5 + 6 + 2 + 2 + 6
    assert [o.length for o in lcp.options] == [4, 5, 6, 2, 2, 6]
    chap = pktspec.decode(BUILT[13]).layers[-1]
    assert (chap.length, chap.value_size) == (4 + 1 + 16 + 2, 16)


def test_ppp_dispatches_to_the_control_protocols():
    for frame, kind in zip(BUILT, [LCP] * 8 + [IPCP, IPCP, IPv6CP, PAP, PAP] + [CHAP] * 4,
                           strict=True):
        assert [type(layer) for layer in pktspec.decode(frame).layers] == [
            Ethernet, PPPoE, PPP, kind]


@pytest.mark.parametrize("index", range(len(BUILT)))
def test_round_trip_and_both_decoders_agree(index: int):
    frame = BUILT[index]
    packet = pktspec.decode(frame)
    assert pktspec.serialize(*packet.layers) == frame
    agree(packet.layers[-1])


def test_corpus_round_trip_and_both_decoders_agree():
    for frame in corpus_frames():
        packet = pktspec.decode(frame)
        if isinstance(packet.layers[-1], CONTROL):
            assert pktspec.serialize(*packet.layers) == frame  # padding kept as trailer
            agree(packet.layers[-1])


# ---- cut and malformed frames -----------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(BUILT)))
def test_a_frame_cut_short_is_a_decode_failure(index: int):
    frame = BUILT[index]
    kind = pktspec.decode(frame).layers[-1].name
    for cut in range(14 + 6 + 2 + 1, len(frame)):
        packet = pktspec.decode(frame[:cut])
        assert packet.error is not None and packet.error.layer == kind, cut
        assert packet.truncated, cut
        assert [layer.name for layer in packet.layers[:3]] == ["Ethernet", "PPPoE", "PPP"]
        assert packet.layers[-1].name == "DecodeFailure"


@pytest.mark.parametrize("protocol, name", [("LCP", "LCP"), ("IPCP", "IPCP"),
                                            ("IPv6CP", "IPv6CP"), ("PAP", "PAP"),
                                            ("CHAP", "CHAP")])
def test_a_length_below_four_is_an_error(protocol: str, name: str):
    frame = session(bytes.fromhex("01010002"), protocol)
    packet = pktspec.decode(frame)
    assert packet.error is not None and packet.error.layer == name
    assert f"{name} length below 4" in packet.error.message
    assert packet.layers[-1].name == "DecodeFailure"


@settings(max_examples=200, deadline=None)
@given(protocol=st.sampled_from([0xC021, 0x8021, 0x8057, 0xC023, 0xC223]),
       body=st.binary(max_size=40))
def test_any_bytes_decode_without_an_exception(protocol: int, body: bytes):
    frame = bytes.fromhex("02005e00530202005e0053018864") + bytes.fromhex("11000011") + \
        (len(body) + 2).to_bytes(2, "big") + protocol.to_bytes(2, "big") + body
    packet = pktspec.decode(frame)
    for layer in packet.layers:
        layer.summary()
    last = packet.layers[-1]
    if isinstance(last, CONTROL):
        agree(last)
