"""One-line summaries (``summary "..." if cond;``) of the application and tunnel layers:
DHCPv4, DHCPv6, NTP, TLS, HTTP, RADIUS, Modbus TCP, GTPv1-U, RMCP/ASF, VXLAN and Geneve.

Each layer's ``summary()`` text is checked on real frames of the corpus where it has them,
and on frames built with pktspec's builder where it has none; the values printed are
compared with tshark's reading of the same frames (tests/tshark_reading.py) where that
helps, and a few whole lines of ``pktspec decode`` (``pktspec.cli.render.summary``) show
where a summary goes: at the end of the line, from the deepest layer that has one."""

from __future__ import annotations

import pytest

import pktspec
from pktspec.cli.render import summary as decode_line
from pktspec.layers import (
    ASF,
    NTP,
    RADIUS,
    RMCP,
    TCP,
    TLS,
    UDP,
    VXLAN,
    ASFPresencePong,
    DHCPv4,
    DHCPv6,
    Ethernet,
    Geneve,
    GTPv1U,
    HTTPRequest,
    HTTPResponse,
    IPv4,
    IPv6,
    ModbusTCP,
)
from pktspec.protocols.dhcpv4 import DHCPMessageType
from pktspec.protocols.dhcpv6 import DHCPv6MessageType
from pktspec.protocols.ntp import NTPMode
from tests.conftest import CAPTURES, corpus_or_skip
from tests.tshark_reading import tshark_fields


def packets(name: str) -> list[pktspec.Packet]:
    corpus_or_skip()
    return list(pktspec.open(str(CAPTURES / name)))


def said(packet, layer: type) -> str | None:
    """The summary of the packet's layer of that type."""
    found = packet.layer(layer)
    assert found is not None, (layer.__name__, packet.layers)
    return found.summary()


def every(packet, layer: type) -> list[str | None]:
    """The summaries of every layer of that type in the packet (TLS records: one each)."""
    return [one.summary() for one in packet.layers if isinstance(one, layer)]


def frame_bytes(packet) -> bytes:
    return bytes(packet.data)


# -- DHCPv4 -----------------------------------------------------------------------------------

def test_dhcp_message_type_and_transaction_id_from_the_corpus(tmp_path):
    got = packets("proto__td-dhcp-rfc3004.pcap")
    assert [said(p, DHCPv4) for p in got] == [
        "Discover xid 0x6e32864", "Offer xid 0x6e32864", "Request xid 0x6e32864",
        "Ack xid 0x6e32864"]
    # the message type and the xid as tshark reads them ("DHCP Discover - Transaction ID
    # 0x6e32864")
    rows = tshark_fields([frame_bytes(p) for p in got], ["dhcp.option.dhcp", "dhcp.id"],
                         tmp_path)
    assert [f"{DHCPMessageType(int(r['dhcp.option.dhcp'])).name} xid "
            f"{int(r['dhcp.id'], 16):#x}" for r in rows] == [said(p, DHCPv4) for p in got]
    assert decode_line(got[0]) == (
        "09:38:18.352570 Ethernet IPv4 UDP DHCPv4 0.0.0.0.68 > 255.255.255.255.67: "
        "length 300: Discover xid 0x6e32864")


def test_dhcp_over_radiotap_from_the_corpus():
    (packet,) = packets("link__td-radiotap-80211-dhcp.pcap")
    assert said(packet, DHCPv4) == "Discover xid 0xf6afdddd"
    assert decode_line(packet).endswith("length 300: Discover xid 0xf6afdddd")


def dhcp_frame(dhcp: DHCPv4) -> bytes:
    return pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff"),
                             IPv4(src="0.0.0.0", dst="255.255.255.255"),
                             UDP(src_port=68, dst_port=67), dhcp)


def test_dhcp_message_type_found_after_other_options_and_bootp_says_its_operation(tmp_path):
    later = DHCPv4(operation="Request", hardware_type=1, hardware_len=6, xid=0x3d1d,
                   magic=0x63825363, options=[
                       {"code": "HostName", "value": b"host"},
                       {"code": "MessageType", "value": "Inform"},
                       {"code": "End"}])
    bootp = DHCPv4(operation="Reply", hardware_type=1, hardware_len=6, xid=0xabcdef01,
                   magic=0, padding=bytes(60))
    frames = [dhcp_frame(later), dhcp_frame(bootp)]
    decoded = [pktspec.decode(f) for f in frames]
    assert [said(p, DHCPv4) for p in decoded] == [
        "Inform xid 0x3d1d", "Boot Reply xid 0xabcdef01"]
    rows = tshark_fields(frames, ["dhcp.option.dhcp", "dhcp.id", "dhcp.type"], tmp_path)
    assert rows[0]["dhcp.option.dhcp"] == "8" and int(rows[0]["dhcp.id"], 16) == 0x3d1d
    assert rows[1]["dhcp.option.dhcp"] == "" and rows[1]["dhcp.type"] == "2"  # Boot Reply
    assert int(rows[1]["dhcp.id"], 16) == 0xabcdef01


# -- DHCPv6 -----------------------------------------------------------------------------------

def test_dhcpv6_message_type_and_transaction_id_from_the_corpus(tmp_path):
    got = [p for p in packets("proto__zk-pppoe.pcap") if p.layer(DHCPv6) is not None]
    assert [said(p, DHCPv6) for p in got] == [
        "Solicit xid 0xfc24ab", "Advertise xid 0xfc24ab", "Request xid 0xfcf776",
        "Reply xid 0xfcf776"]
    rows = tshark_fields([frame_bytes(p) for p in got], ["dhcpv6.msgtype", "dhcpv6.xid"],
                         tmp_path)
    assert [f"{DHCPv6MessageType(int(r['dhcpv6.msgtype'])).name} xid "
            f"{int(r['dhcpv6.xid'], 16):#x}" for r in rows] == [said(p, DHCPv6) for p in got]
    assert decode_line(got[0]).endswith(
        "fe80::ce05:eff:fe88:0.546 > ff02::1:2.547: length 50: Solicit xid 0xfc24ab")


def test_a_dhcpv6_relay_message_names_the_link_and_the_peer():
    frame = pktspec.serialize(
        Ethernet(), IPv6(src="2001:db8::1", dst="2001:db8::2"),
        UDP(src_port=547, dst_port=547),
        DHCPv6(msg_type="RelayForward", hop_count=1, link_address="2001:db8:1::1",
               peer_address="fe80::1",
               options=[{"code": "RelayMessage", "value": b"\x01\x00\x00\x01"}]))
    assert said(pktspec.decode(frame), DHCPv6) == \
        "RelayForward link 2001:db8:1::1 peer fe80::1"


# -- NTP --------------------------------------------------------------------------------------

def test_ntp_version_mode_and_stratum_from_the_corpus(tmp_path):
    got = packets("proto__td-ntp.pcap")
    assert [said(p, NTP) for p in got] == [
        "v4 Client", "v4 Server, stratum 0", "v4 Client", "v4 Server, stratum 2",
        "v4 Client", "v4 Server, stratum 2", "v4 Client", "v4 Server, stratum 2"]
    rows = tshark_fields([frame_bytes(p) for p in got],
                         ["ntp.flags.vn", "ntp.flags.mode", "ntp.stratum"], tmp_path)
    for packet, row in zip(got, rows, strict=True):
        text = f"v{row['ntp.flags.vn']} {NTPMode(int(row['ntp.flags.mode'])).name}"
        # a client's stratum 0 (unspecified) is left out
        assert said(packet, NTP) in (text, f"{text}, stratum {row['ntp.stratum']}")
    assert decode_line(got[3]) == (
        "14:19:18.494589 Ethernet IPv4 UDP NTP 192.168.100.1.123 > 192.168.100.2.42818: "
        "length 72: v4 Server, stratum 2")


def ntp_frame(ntp: NTP) -> bytes:
    return pktspec.serialize(Ethernet(), IPv4(src="192.0.2.1", dst="192.0.2.2"),
                             UDP(src_port=123, dst_port=123), ntp)


def control(response: int, opcode: int, sequence: int) -> dict:
    return {"response": response, "error": 0, "more": 0, "opcode": opcode,
            "sequence": sequence, "status": 0, "association_id": 0, "offset": 0,
            "count": 0, "data": b""}


@pytest.mark.parametrize("ntp, text", [
    (NTP(version=4, mode="Client", stratum=3, poll=6, precision=-20), "v4 Client, stratum 3"),
    (NTP(version=3, mode="SymmetricActive", stratum=0), "v3 SymmetricActive, stratum 0"),
    (NTP(version=2, mode="Control", control=control(0, 2, 5)),
     "v2 Control request, opcode 2 seq 5"),
    (NTP(version=2, mode="Control", control=control(1, 1, 5)),
     "v2 Control response, opcode 1 seq 5"),
    (NTP(version=2, mode="Private", extensions=b"\x17\x00\x03\x2a" + bytes(4)), "v2 Private"),
])
def test_ntp_built_messages(ntp, text):
    assert said(pktspec.decode(ntp_frame(ntp)), NTP) == text


# -- TLS --------------------------------------------------------------------------------------

def test_tls_records_from_the_corpus(tmp_path):
    got = packets("tcp__zk-tls-ecdhe.pcap")
    records = {i + 1: every(p, TLS) for i, p in enumerate(got) if p.layer(TLS) is not None}
    assert records == {
        4: ["Handshake ClientHello"],
        6: ["Handshake ServerHello", "Handshake Certificate"],  # the certificate is cut
        7: ["Ignored Unknown Record"],  # continues the certificate record
        9: ["Ignored Unknown Record"],
        10: ["Ignored Unknown Record"],
        13: ["Handshake ClientKeyExchange", "Change Cipher Spec",
             "Encrypted Handshake Message"],
        16: ["Handshake NewSessionTicket", "Change Cipher Spec",
             "Encrypted Handshake Message"],
        18: ["Application Data"],
        19: ["Application Data"],
        23: ["Encrypted Alert"],
        26: ["Encrypted Alert"],
    }
    # tshark's Info column (no reassembly) has the same words for the records of frame 13
    rows = tshark_fields([frame_bytes(got[12])], ["tls.record.content_type",
                                                   "tls.handshake.type"], tmp_path)
    assert rows == [{"tls.record.content_type": "22,20,22", "tls.handshake.type": "16"}]
    # the line ends with what the last record says
    assert decode_line(got[3]) == (
        "16:16:58.678827 Ethernet IPv4 TCP TLS 192.168.18.50.56981 > 74.125.239.97.443: "
        "Flags [P.], seq 1443660674, ack 862698538, win 8242, length 164: "
        "Handshake ClientHello")
    assert decode_line(got[17]).endswith("length 53: Application Data")


def test_an_alert_in_the_clear_shows_level_and_description(tmp_path):
    frame = pktspec.serialize(
        Ethernet(), IPv4(src="192.0.2.1", dst="192.0.2.2"),
        TCP(src_port=443, dst_port=40000, flags="PA"),
        TLS(content_type="Alert", version="TLS12", length=2, alert_level="Fatal",
            alert_description="HandshakeFailure"))
    packet = pktspec.decode(frame)
    assert said(packet, TLS) == "Alert Fatal HandshakeFailure"
    (row,) = tshark_fields([frame], ["tls.alert_message.level", "tls.alert_message.desc"],
                           tmp_path)
    assert row == {"tls.alert_message.level": "2", "tls.alert_message.desc": "40"}


# -- HTTP -------------------------------------------------------------------------------------

def test_http_request_and_status_lines_from_the_corpus(tmp_path):
    got = packets("tcp__dk-http.pcap")
    assert said(got[3], HTTPRequest) == "GET /download.html HTTP/1.1"
    assert said(got[5], HTTPResponse) == "HTTP/1.1 200 OK"
    (row,) = tshark_fields([frame_bytes(got[3])], ["http.request.method", "http.request.uri",
                                                    "http.request.version"], tmp_path)
    assert " ".join(row.values()) == said(got[3], HTTPRequest)
    assert decode_line(got[3]) == (
        "10:17:08.222534 Ethernet IPv4 TCP HTTPRequest 145.254.160.237.3372 > "
        "65.208.228.223.80: Flags [P.], seq 951057940, ack 290218380, win 9660, length 479: "
        "GET /download.html HTTP/1.1")
    assert decode_line(got[5]).endswith("length 1380: HTTP/1.1 200 OK")


def test_http_reason_phrases_from_the_corpus():
    got = packets("link__gp-null-loopback-ipv6-http.pcap")
    assert said(got[12], HTTPRequest) == "GET /doc/style.css HTTP/1.1"
    assert said(got[14], HTTPResponse) == "HTTP/1.1 304 Not Modified"


def test_a_status_line_without_a_reason_phrase():
    frame = pktspec.serialize(
        Ethernet(), IPv4(src="192.0.2.2", dst="192.0.2.1"),
        TCP(src_port=80, dst_port=40000, flags="PA"),
        b"HTTP/1.1 204\r\nServer: x\r\n\r\n")
    assert said(pktspec.decode(frame), HTTPResponse) == "HTTP/1.1 204"


# -- RADIUS -----------------------------------------------------------------------------------

def radius_frame(radius: RADIUS, port: int = 1812) -> bytes:
    return pktspec.serialize(Ethernet(), IPv4(src="192.0.2.10", dst="192.0.2.1"),
                             UDP(src_port=50123, dst_port=port), radius)


def test_radius_code_and_identifier(tmp_path):
    frames = [
        radius_frame(RADIUS(code="AccessRequest", identifier=5, authenticator=bytes(16),
                            attributes=[{"type": "UserName", "value": b"alice"}])),
        radius_frame(RADIUS(code="AccountingRequest", identifier=200,
                            authenticator=bytes(16),
                            attributes=[{"type": "AcctStatusType", "value": "Start"}]),
                     port=1813),
        radius_frame(RADIUS(code="CoARequest", identifier=0, authenticator=bytes(16)),
                     port=3799),
    ]
    decoded = [pktspec.decode(f) for f in frames]
    assert [said(p, RADIUS) for p in decoded] == [
        "AccessRequest id 5", "AccountingRequest id 200", "CoARequest id 0"]
    rows = tshark_fields(frames, ["radius.code", "radius.id"], tmp_path)
    assert [(int(r["radius.code"]), int(r["radius.id"])) for r in rows] == [
        (p[RADIUS].code, p[RADIUS].identifier) for p in decoded]
    assert decode_line(decoded[0]) == (
        "- Ethernet IPv4 UDP RADIUS 192.0.2.10.50123 > 192.0.2.1.1812: length 27: "
        "AccessRequest id 5")


# -- Modbus TCP -------------------------------------------------------------------------------

def modbus_frame(unit: ModbusTCP, to_server: bool = True, client_port: int = 40000) -> bytes:
    """One unit in its own segment (each exchange on its own connection, so that tshark
    takes no segment for a retransmission)."""
    ends = (("192.0.2.1", client_port), ("192.0.2.2", 502))
    (src, sport), (dst, dport) = ends if to_server else ends[::-1]
    return pktspec.serialize(Ethernet(), IPv4(src=src, dst=dst),
                             TCP(src_port=sport, dst_port=dport, seq=1, ack=1, flags="PA"),
                             unit)


MODBUS = [
    (ModbusTCP(transaction_identifier=1, unit_identifier=1,
               function_code="ReadHoldingRegisters", address=100, quantity=2, length=6),
     True, "ReadHoldingRegisters unit 1 trans 1, address 100 quantity 2"),
    (ModbusTCP(transaction_identifier=1, unit_identifier=1,
               function_code="ReadHoldingRegisters", pdu_data=b"\x04\x00\x0a\x01\x02"),
     False, "ReadHoldingRegisters unit 1 trans 1"),
    (ModbusTCP(transaction_identifier=2, unit_identifier=1,
               function_code="WriteSingleRegister", address=5, value=0x1234),
     True, "WriteSingleRegister unit 1 trans 2, address 5 value 4660"),
    (ModbusTCP(transaction_identifier=3, unit_identifier=17, function_code="WriteSingleCoil",
               address=7, value=0xff00),
     True, "WriteSingleCoil unit 17 trans 3, address 7 value 0xff00"),
    (ModbusTCP(transaction_identifier=3, unit_identifier=17, exception=1,
               function_code="WriteSingleCoil", exception_code="IllegalDataAddress"),
     False, "WriteSingleCoil exception IllegalDataAddress, unit 17 trans 3"),
]


def test_modbus_function_unit_and_transaction(tmp_path):
    frames = [modbus_frame(unit, to_server, 40000 + i)
              for i, (unit, to_server, _) in enumerate(MODBUS)]
    decoded = [pktspec.decode(f) for f in frames]
    assert [said(p, ModbusTCP) for p in decoded] == [text for _, _, text in MODBUS]
    rows = tshark_fields(frames, ["mbtcp.trans_id", "mbtcp.unit_id", "modbus.func_code",
                                  "modbus.exception_code"], tmp_path)
    for packet, row in zip(decoded, rows, strict=True):
        unit = packet[ModbusTCP]
        assert (int(row["mbtcp.trans_id"]), int(row["mbtcp.unit_id"]),
                int(row["modbus.func_code"])) == (
            unit.transaction_identifier, unit.unit_identifier, unit.function_code)
        assert row["modbus.exception_code"] == (
            str(unit.exception_code) if unit.exception else "")
    assert decode_line(decoded[0]).endswith(
        "length 12: ReadHoldingRegisters unit 1 trans 1, address 100 quantity 2")


# -- GTPv1-U ----------------------------------------------------------------------------------

def gtp_frame(gtp: GTPv1U, *inner) -> bytes:
    return pktspec.serialize(Ethernet(), IPv4(src="192.0.2.10", dst="192.0.2.20"),
                             UDP(src_port=2152, dst_port=2152), gtp, *inner)


def test_gtp_message_type_teid_and_sequence(tmp_path):
    frames = [
        gtp_frame(GTPv1U(teid=0x11223344), IPv4(src="10.45.0.7", dst="198.51.100.80"),
                  UDP(src_port=5000, dst_port=6000), b"hello"),
        gtp_frame(GTPv1U(teid=1, sequence_number=0x4242),
                  IPv4(src="198.51.100.80", dst="10.45.0.7"),
                  UDP(src_port=6000, dst_port=5000), b"hi"),
        gtp_frame(GTPv1U(teid=0, message_type="EchoRequest", sequence_number=77)),
        gtp_frame(GTPv1U(teid=0x11223344, message_type="EndMarker")),
    ]
    decoded = [pktspec.decode(f) for f in frames]
    assert [said(p, GTPv1U) for p in decoded] == [
        "GPDU teid 0x11223344", "GPDU teid 0x00000001 seq 16962", "EchoRequest seq 77",
        "EndMarker teid 0x11223344"]
    rows = tshark_fields(frames, ["gtp.message", "gtp.teid", "gtp.seq_number"], tmp_path,
                         decode_as=["udp.port==2152,gtp"])
    assert [(int(r["gtp.message"], 0), int(r["gtp.teid"], 0)) for r in rows] == [
        (p[GTPv1U].message_type, p[GTPv1U].teid) for p in decoded]
    assert [r["gtp.seq_number"] for r in rows][1:3] == ["0x4242", "0x004d"]
    # the tunnelled packet has no summary of its own: the tunnel's shows
    assert decode_line(decoded[0]) == (
        "- Ethernet IPv4 UDP GTPv1U IPv4 UDP 192.0.2.10.2152 > 192.0.2.20.2152: length 41: "
        "GPDU teid 0x11223344")


# -- RMCP / ASF -------------------------------------------------------------------------------

def rmcp_frame(*layers) -> bytes:
    return pktspec.serialize(Ethernet(), IPv4(src="192.0.2.1", dst="192.0.2.2"),
                             UDP(src_port=40000, dst_port=623), *layers)


def test_rmcp_and_asf(tmp_path):
    frames = [
        rmcp_frame(RMCP(sequence=0), ASF(message_type="PresencePing", message_tag=0x21)),
        rmcp_frame(RMCP(sequence=0), ASF(message_type="PresencePong", message_tag=0x21),
                   ASFPresencePong(enterprise=4542, asf_v1=1)),
        rmcp_frame(RMCP(sequence=7, ack=1, message_class="ASF")),
        rmcp_frame(RMCP(message_class="OEM", sequence=3), b"\x00\x00\x01\x57oem data"),
        rmcp_frame(RMCP(), ASF(enterprise=343, message_type=0x40, message_tag=1),
                   b"vendor-specific!"),
    ]
    decoded = [pktspec.decode(f) for f in frames]
    # the deepest layer with a summary speaks: ASF's (a presence pong's data has none)
    assert [decode_line(p).split(": ", 1)[1] for p in decoded] == [
        "length 12: PresencePing tag 0x21",
        "length 28: PresencePong tag 0x21",
        "length 4: ACK ASF seq 7",
        "length 16: OEM seq 3",
        "length 28: OEM 343 type 0x40 tag 0x01"]
    # an RMCP header of class ASF leaves the words to the ASF message it carries
    assert [said(p, RMCP) for p in decoded] == [
        None, None, "ACK ASF seq 7", "OEM seq 3", None]
    rows = tshark_fields(frames, ["rmcp.sequence", "asf.type", "asf.tag"], tmp_path)
    assert [(r["asf.type"], r["asf.tag"]) for r in rows][:2] == [
        ("0x80", "0x21"), ("0x40", "0x21")]
    assert [int(r["rmcp.sequence"], 16) for r in rows] == [0, 0, 7, 3, 255]


# -- VXLAN and Geneve -------------------------------------------------------------------------

def test_vxlan_vni_shows_when_the_inner_frame_has_no_summary(tmp_path):
    got = packets("proto__td-vxlan.pcap")
    assert {said(p, VXLAN) for p in got} == {"vni 100"}
    (row,) = tshark_fields([frame_bytes(got[0])], ["vxlan.vni"], tmp_path)
    assert said(got[0], VXLAN) == f"vni {row['vxlan.vni']}"
    # the ICMP echo inside speaks for the packet
    assert decode_line(got[0]).endswith("length 106: EchoRequest id 1292 seq 1")
    frame = pktspec.serialize(
        Ethernet(), IPv4(src="192.0.2.1", dst="192.0.2.2"), UDP(src_port=40000, dst_port=4789),
        VXLAN(valid_vni=1, vni=5001), Ethernet(), IPv4(src="10.0.0.1", dst="10.0.0.2"),
        TCP(src_port=1, dst_port=2, flags="S"))
    assert decode_line(pktspec.decode(frame)) == (
        "- Ethernet IPv4 UDP VXLAN Ethernet IPv4 TCP 192.0.2.1.40000 > 192.0.2.2.4789: "
        "length 62: vni 5001")


def test_geneve_vni_from_the_corpus(tmp_path):
    got = packets("proto__td-geneve.pcap")
    assert [said(p, Geneve) for p in got[:3]] == ["vni 0xa", "vni 0xb", "vni 0xb"]
    rows = tshark_fields([frame_bytes(p) for p in got[:3]], ["geneve.vni"], tmp_path)
    assert [f"vni {int(r['geneve.vni'], 16):#x}" for r in rows] == \
        [said(p, Geneve) for p in got[:3]]
    assert decode_line(got[2]) == (
        "22:04:33.999279 Ethernet IPv4 UDP Geneve Ethernet IPv4 TCP 20.0.0.2.43443 > "
        "20.0.0.1.6081: length 82: vni 0xb")
    oam = pktspec.serialize(
        Ethernet(), IPv4(src="192.0.2.1", dst="192.0.2.2"), UDP(src_port=40000, dst_port=6081),
        Geneve(oam=1, vni=0x123456, protocol=0x6558))
    assert said(pktspec.decode(oam), Geneve) == "OAM vni 0x123456"
