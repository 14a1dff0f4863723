"""One-line summaries of the link-layer protocols: the ``summary`` rules of stp.layer,
lldp.layer, cdp.layer, pppoe.layer, ppp.layer, eapol.layer and ethernet.layer (LLC, SNAP).

Each test asserts the exact text of ``layer.summary()`` and of at least one full
``pktspec decode`` line (``pktspec.cli.render.summary``), on corpus frames where the corpus
has them (PPPoE discovery and PPP control packets, 802.1D and PVST+ BPDUs, CDP, DTP, PPTP's
LCP) and on frames built with pktspec's builder where it does not (RSTP, MSTP and TCN BPDUs,
LLDP, EAPOL and EAP, LLC and SNAP of other SAPs and OUIs). The values the summaries print
are compared with tshark's reading of the same frames (tests/tshark_reading.py): PPPoE's
code and session, PPP's protocol, a BPDU's root, cost, port and topology change flag, CDP's
device and port IDs, LLDP's chassis, port and TTL as tshark's Info column shows them,
EAP's code, type and identifier, EAPOL-Key's message number (the same words as tshark's Info
column), LLC's SAPs and control byte, SNAP's OUI.

Also: the rules stay out of lines that have words of their own, or that should have none:
an IPv6 packet in a PPPoE session, TCP in SNAP, a VLAN tag (Dot1Q and Dot1AD have no rules).
"""

from __future__ import annotations

import re

import pytest

import pktspec
from pktspec.cli.render import layer_summary, summary
from pktspec.layers import (
    EAP,
    EAPOL,
    LLC,
    PPP,
    SNAP,
    STP,
    TCP,
    CiscoDiscovery,
    Dot1AD,
    Dot1Q,
    EAPOLKey,
    Ethernet,
    IPv4,
    LinkLayerDiscovery,
    PPPoE,
)
from pktspec.protocols.ethernet import OUI
from pktspec.protocols.ppp import PPPProtocol
from pktspec.protocols.pppoe import PPPoECode
from tests.conftest import corpus_or_skip
from tests.protocols.test_lldp import chassis, port, ttl  # the TLVs as test_lldp builds them
from tests.tshark_reading import tshark_fields

A = "02:00:5e:00:53:01"
B = "02:00:5e:00:53:02"


def pad(frame: bytes) -> bytes:
    """An Ethernet frame padded to the 60-byte minimum."""
    return frame + bytes(max(0, 60 - len(frame)))


def corpus_frames(name: str) -> list[bytes]:
    """The frames of a corpus capture, as bytes (for tshark and for decoding)."""
    path = corpus_or_skip() / "captures" / name
    with pktspec.open(str(path)) as source:
        return [bytes(data) for data, _info in source.records()]


def corpus_packets(name: str) -> list:
    path = corpus_or_skip() / "captures" / name
    return list(pktspec.open(str(path)))


# ---- PPPoE and PPP ----------------------------------------------------------------------------

# the session's control packets: PPP's protocol, then the control message's own words
PPPOE_WORDS = (["PADI", "PADO", "PADR", "PADS session 0x0011"]
               + [f"LCP, Configuration {w}" for w in ("Request", "Request", "Ack", "Nak",
                                                     "Request", "Ack")]
               + ["PAP, Authenticate-Request (Peer-ID='cisco', Password='cisco')",
                  "PAP, Authenticate-Ack (Message='')"]
               + [f"{p}, Configuration {w}" for p, w in (
                   ("IPCP", "Request"), ("IPv6CP", "Request"), ("IPCP", "Request"),
                   ("IPv6CP", "Request"), ("IPCP", "Ack"), ("IPv6CP", "Ack"), ("IPCP", "Nak"),
                   ("IPv6CP", "Ack"), ("IPCP", "Request"))])


def test_pppoe_discovery_and_ppp_control_packets_of_the_corpus():
    packets = corpus_packets("proto__zk-pppoe.pcap")
    assert [layer_summary(p) for p in packets[:21]] == PPPOE_WORDS  # the line's words
    # the discovery stage: PPPoE speaks; the session stage: PPP does, PPPoE has no words
    assert packets[0][PPPoE].summary() == "PADI"
    assert packets[4][PPPoE].summary() is None and packets[4][PPP].summary() == "LCP"
    assert summary(packets[3]) == (
        "13:43:29.011560 Ethernet PPPoE ca:01:0e:88:00:06 > cc:05:0e:88:00:00: length 46: "
        "PADS session 0x0011")
    assert summary(packets[4]) == (
        "13:43:29.205560 Ethernet PPPoE PPP LCP cc:05:0e:88:00:00 > ca:01:0e:88:00:06: "
        "length 10: LCP, Configuration Request")


def test_an_ipv6_packet_in_a_pppoe_session_gets_no_ppp_words():
    packets = corpus_packets("proto__zk-pppoe.pcap")
    mld = packets[21]
    assert [x.name for x in mld.layers][:4] == ["Ethernet", "PPPoE", "PPP", "IPv6"]
    assert mld[PPP].summary() is None and mld[PPPoE].summary() is None
    assert summary(mld).endswith("fe80::c801:eff:fe88:8 > ff02::16: length 36: "
                                 "multicast listener report v2, ChangeToExclude ff02::2")


def test_pppoe_and_ppp_words_match_tsharks_code_session_and_protocol(tmp_path):
    frames = corpus_frames("proto__zk-pppoe.pcap")[:21]
    truth = tshark_fields(frames, ["pppoe.code", "pppoe.session_id", "ppp.protocol"], tmp_path)
    for words, row in zip(PPPOE_WORDS, truth, strict=True):
        code = int(row["pppoe.code"], 16)
        if code:  # discovery: the code's name, and the session tshark reads
            assert words.split()[0] == str(PPPoECode(code)).split()[0]
            if words.startswith(("PADS", "PADT")):
                assert words.endswith(f"session {int(row['pppoe.session_id'], 16):#06x}")
        else:  # session: PPP's protocol (its words come first), the one tshark reads
            assert getattr(PPPProtocol, words.split(",")[0]) == int(row["ppp.protocol"], 16)
    assert {row["pppoe.session_id"] for row in truth[4:]} == {"0x0011"}


def test_pppoe_padt_an_unknown_code_and_ppp_control_protocols_built(tmp_path):
    frames = [
        pad(bytes(Ethernet(src=A, dst=B, ethertype=0x8863) / PPPoE(code="PADT", session_id=0x11, tags=[]))),
        pad(bytes(Ethernet(src=A, dst=B, ethertype=0x8863) / PPPoE(code=0x42, tags=[]))),
        pad(bytes(Ethernet(src=A, dst=B, ethertype=0x8864) / PPPoE(code=0, session_id=0x11)
                  / PPP(protocol="CHAP") / bytes.fromhex("010100090401020304"))),
        pad(bytes(Ethernet(src=A, dst=B, ethertype=0x8864) / PPPoE(code=0, session_id=0x11)
                  / PPP(protocol=0x8207) / bytes.fromhex("01010004"))),  # CDPCP: no name here
    ]
    packets = [pktspec.decode(f) for f in frames]
    assert [p.error for p in packets] == [None] * 4
    assert packets[0][PPPoE].summary() == "PADT session 0x0011"
    assert packets[1][PPPoE].summary() == "code 0x42"
    assert packets[2][PPP].summary() == "CHAP"
    assert packets[3][PPP].summary() == "protocol 0x8207"
    assert summary(packets[0]) == (
        f"- Ethernet PPPoE {A} > {B}: length 6: PADT session 0x0011")
    truth = tshark_fields(frames, ["pppoe.code", "pppoe.session_id", "ppp.protocol"], tmp_path)
    assert [row["pppoe.code"] for row in truth] == ["0xa7", "0x42", "0x00", "0x00"]
    assert truth[0]["pppoe.session_id"] == "0x0011"
    assert [row["ppp.protocol"] for row in truth[2:]] == ["0xc223", "0x8207"]


def test_ppp_in_pptps_gre_says_lcp():
    packets = corpus_packets("fmt__td-pptp-be-usec.pcap")
    lcp = [p for p in packets if PPP in p]
    assert len(lcp) == 1
    assert lcp[0][PPP].summary() == "LCP"
    assert summary(lcp[0]) == ("08:56:35.411903 Ethernet IPv4 GRE PPPHDLC PPP LCP "
                               "10.1.1.11 > 10.1.1.10: length 60: LCP, Configuration Request")


# ---- spanning tree -----------------------------------------------------------------------------

STP_FIELDS = ["stp.type", "stp.flags.tc", "stp.root.prio", "stp.root.ext", "stp.root.hw",
              "stp.root.cost", "stp.port", "stp.version"]


def tshark_words(row: dict[str, str]) -> str:
    """What our STP summary says, made from tshark's fields: the type, TC, the root bridge ID
    as tcpdump writes one, the cost and the port."""
    kind = {"0x00": "Config", "0x02": "RST", "0x80": "TCN"}[row["stp.type"]]
    if kind == "TCN":
        return "TCN"
    if kind == "RST" and int(row["stp.version"]) >= 3:
        kind = "MST"
    tc = " TC" if row["stp.flags.tc"] in ("1", "True") else ""
    bridge_id = int(row["stp.root.prio"]) | int(row["stp.root.ext"])
    cost = int(row["stp.root.cost"]) & 0xFFFFFFFF  # tshark prints it signed
    return (f"{kind}{tc} root {bridge_id:04x}.{row['stp.root.hw']} cost {cost} "
            f"port {int(row['stp.port'], 16):#06x}")


def test_the_corpus_bpdus_read_as_tshark_reads_them(tmp_path):
    packets = corpus_packets("proto__td-stp-llc.pcap")
    assert {p[STP].summary() for p in packets} == {
        "Config root 8001.00:19:06:ea:b8:80 cost 0 port 0x8005"}
    assert summary(packets[0]) == (
        "11:44:05.787073 Ethernet LLC STP 00:19:06:ea:b8:85 > 01:80:c2:00:00:00: length 35: "
        "Config root 8001.00:19:06:ea:b8:80 cost 0 port 0x8005")
    truth = tshark_fields(corpus_frames("proto__td-stp-llc.pcap"), STP_FIELDS, tmp_path)
    assert [p[STP].summary() for p in packets] == [tshark_words(row) for row in truth]


def test_pvst_bpdus_in_snap_read_as_tshark_reads_them(tmp_path):
    """PVST+ (SNAP, Cisco's OUI, protocol ID 0x010b): the system ID extension is the VLAN
    (1213 = 0x4bd); SNAP leaves the words to it."""
    frames = corpus_frames("proto__td-gre-various.pcap")
    packets = [pktspec.decode(frames[i]) for i in (1, 2, 3)]
    assert [[x.name for x in p.layers if x.name != "Payload"] for p in packets] == [
        ["Ethernet", "Dot1Q", "LLC", "SNAP", "STP"], ["Ethernet", "LLC", "STP"],
        ["Ethernet", "LLC", "SNAP", "STP"]]
    assert [p[STP].summary() for p in packets] == [
        "Config root 84bd.aa:bb:cc:00:03:00 cost 0 port 0x8002",
        "Config root 8001.aa:bb:cc:00:03:00 cost 0 port 0x8002",
        "Config root 8001.aa:bb:cc:00:03:00 cost 0 port 0x8002"]
    assert packets[0][SNAP].summary() is None  # PVST+ speaks for itself
    assert packets[1][LLC].summary() is None  # spanning tree's SAP: STP speaks
    truth = tshark_fields([frames[i] for i in (1, 2, 3)], STP_FIELDS, tmp_path)
    assert [p[STP].summary() for p in packets] == [tshark_words(row) for row in truth]
    assert summary(pktspec.decode(frames[1])) == (
        "- Ethernet Dot1Q LLC SNAP STP aa:bb:cc:00:03:10 > 01:00:0c:cc:cc:cd: length 7: "
        "Config root 84bd.aa:bb:cc:00:03:00 cost 0 port 0x8002")


def bpdu(stp: STP) -> bytes:
    """An 802.3 frame with LLC (DSAP/SSAP 0x42) and the BPDU (the 802.3 length given)."""
    inner = pktspec.serialize(LLC(dsap=0x42, ssap=0x42, control=3), stp)
    return pad(pktspec.serialize(Ethernet(src=A, dst="01:80:c2:00:00:00", ethertype=len(inner)),
                                 inner))


TIMERS = {"max_age": 20 * 256, "hello_time": 2 * 256, "forward_delay": 15 * 256}
BRIDGE = {"bridge_priority": 8, "bridge_mac": A, "port_id": 0x8001, **TIMERS}
BPDUS = [
    (STP(type="TCN"), "TCN"),
    (STP(version="STP", type="Config", tc=1, root_priority=8, root_system_id_ext=1,
         root_mac=B, root_path_cost=19, **BRIDGE),
     "Config TC root 8001.02:00:5e:00:53:02 cost 19 port 0x8001"),
    (STP(version="RSTP", type="RST", port_role="Designated", proposal=1, root_priority=4,
         root_system_id_ext=100, root_mac=B, root_path_cost=20000, version1_length=0, **BRIDGE),
     "RST root 4064.02:00:5e:00:53:02 cost 20000 port 0x8001"),
    (STP(version="RSTP", type="RST", tc=1, root_priority=15, root_system_id_ext=4095,
         root_mac=B, root_path_cost=0xFFFFFFFF, version1_length=0, **BRIDGE),
     "RST TC root ffff.02:00:5e:00:53:02 cost 4294967295 port 0x8001"),
    (STP(version="MSTP", type="RST", root_priority=6, root_mac=B, root_path_cost=4,
         version1_length=0, mstp=bytes(64), **BRIDGE),
     "MST root 6000.02:00:5e:00:53:02 cost 4 port 0x8001"),
    (STP(version="MSTP", type="RST", tc=1, root_priority=6, root_mac=B, root_path_cost=4,
         version1_length=0, mstp=bytes(64), **BRIDGE),
     "MST TC root 6000.02:00:5e:00:53:02 cost 4 port 0x8001"),
]


def test_built_bpdus_read_as_tshark_reads_them(tmp_path):
    frames = [bpdu(stp) for stp, _ in BPDUS]
    packets = [pktspec.decode(f) for f in frames]
    assert [p.error for p in packets] == [None] * len(frames)
    assert [p[STP].summary() for p in packets] == [words for _, words in BPDUS]
    truth = tshark_fields(frames, STP_FIELDS, tmp_path)
    assert [tshark_words(row) for row in truth] == [words for _, words in BPDUS]
    assert summary(packets[0]) == f"- Ethernet LLC STP {A} > 01:80:c2:00:00:00: length 4: TCN"


def test_a_bpdu_of_an_unknown_type_says_its_type():
    frame = bpdu(STP(type=0x01, root_priority=8, root_mac=B, **BRIDGE))
    assert pktspec.decode(frame)[STP].summary() == "BPDU type 0x01"


# ---- CDP ---------------------------------------------------------------------------------------


def test_the_corpus_cdp_packets_say_their_device_and_port(tmp_path):
    """IOS sends the port ID fifth (after version, platform and addresses)."""
    frames = corpus_frames("proto__td-gre-various.pcap")
    picked = [frames[i - 1] for i in (49, 63, 86)]
    packets = [pktspec.decode(f) for f in picked]
    said = [p[CiscoDiscovery].summary() for p in packets]
    assert said == ["Device ID: R1, Port ID: Tunnel40", "Device ID: R2, Port ID: Tunnel40",
                    "Device ID: SW1, Port ID: Ethernet0/1"]
    truth = tshark_fields(picked, ["cdp.deviceid", "cdp.portid"], tmp_path)
    assert said == [f"Device ID: {r['cdp.deviceid']}, Port ID: {r['cdp.portid']}"
                    for r in truth]
    assert summary(packets[0]) == (
        "- Ethernet Dot1Q IPv4 GRE CiscoDiscovery 10.172.64.6 > 10.172.64.7: length 361: "
        "key 0x00000028, "  # GRE's words, then CDP's
        "Device ID: R1, Port ID: Tunnel40")
    assert summary(packets[2]).endswith(": length 424: Device ID: SW1, Port ID: Ethernet0/1")


def over_snap(cdp: CiscoDiscovery) -> bytes:
    return pad(pktspec.serialize(Ethernet(src=A, dst="01:00:0c:cc:cc:cc"),
                                 LLC(dsap=0xAA, ssap=0xAA, control=3), SNAP(oui="Cisco"), cdp))


def test_built_cdp_packets_with_the_port_id_elsewhere_or_no_device_id_first(tmp_path):
    packets_words = [
        (CiscoDiscovery(values=[{"type": "DeviceID", "value": b"SW1"},
                                {"type": "PortID", "value": b"GigabitEthernet0/1"}]),
         "Device ID: SW1, Port ID: GigabitEthernet0/1"),
        (CiscoDiscovery(values=[{"type": "DeviceID", "value": b"SW2"},
                                {"type": "Duplex", "value": "Full"},
                                {"type": "NativeVLAN", "value": 10},
                                {"type": "PortID", "value": b"Fa0/3"}]),
         "Device ID: SW2, Port ID: Fa0/3"),
        (CiscoDiscovery(values=[{"type": "DeviceID", "value": b"SEP0002B3000001"},
                                {"type": "Capabilities", "value": 0x90}]),
         "Device ID: SEP0002B3000001"),
        (CiscoDiscovery(version=1, ttl=60, values=[{"type": "PortID", "value": b"Port 1"},
                                                   {"type": "DeviceID", "value": b"R9"}]),
         "Device ID: R9, Port ID: Port 1"),  # found by type, in any order
        (CiscoDiscovery(version=1, ttl=60, values=[{"type": "PortID", "value": b"Port 2"}]),
         "CDPv1 ttl 60s"),
    ]
    frames = [over_snap(cdp) for cdp, _ in packets_words]
    packets = [pktspec.decode(f) for f in frames]
    assert [p.error for p in packets] == [None] * len(frames)
    assert [p[CiscoDiscovery].summary() for p in packets] == [w for _, w in packets_words]
    truth = tshark_fields(frames, ["cdp.deviceid", "cdp.portid"], tmp_path)
    assert [(r["cdp.deviceid"], r["cdp.portid"]) for r in truth] == [
        ("SW1", "GigabitEthernet0/1"), ("SW2", "Fa0/3"), ("SEP0002B3000001", ""), ("R9", "Port 1"),
        ("", "Port 2")]
    assert summary(packets[0]) == (
        f"- Ethernet LLC SNAP CiscoDiscovery {A} > 01:00:0c:cc:cc:cc: length 33: "
        "Device ID: SW1, Port ID: GigabitEthernet0/1")


# ---- LLDP --------------------------------------------------------------------------------------


def lldp(*values: dict) -> bytes:
    return pad(pktspec.serialize(Ethernet(src=A, dst="01:80:c2:00:00:0e"),
                                 LinkLayerDiscovery(values=list(values))))



SYSNAME = {"type": "SystemName", "value": b"switch-1"}
PORTDESC = {"type": "PortDescription", "value": b"uplink"}
LLDPDUS = [
    (lldp(chassis("MACAddress", A), port("InterfaceName", b"ge-0/0/1"), ttl(120), SYSNAME),
     "chassis 02:00:5e:00:53:01 port ge-0/0/1 ttl 120 system switch-1"),
    (lldp(chassis("MACAddress", A), port("InterfaceName", b"ge-0/0/2"), ttl(120), PORTDESC,
          SYSNAME),
     "chassis 02:00:5e:00:53:01 port ge-0/0/2 ttl 120 system switch-1"),
    (lldp(chassis("Local", b"chassis-7"), port("Local", b"port-7"), ttl(65535)),
     "chassis chassis-7 port port-7 ttl 65535"),
    (lldp(chassis("NetworkAddress", {"family": "IPv4", "address": "192.0.2.9"}),
          port("MACAddress", B), ttl(0), SYSNAME),
     "chassis 192.0.2.9 port 02:00:5e:00:53:02 ttl 0"),
    (lldp(chassis("MACAddress", A),
          port("NetworkAddress", {"family": "IPv6", "address": "2001:db8::7"}), ttl(30)),
     "chassis 02:00:5e:00:53:01 port 2001:db8::7 ttl 30"),
    (lldp(chassis("NetworkAddress", {"family": "IPv4", "address": "192.0.2.9"}),
          port("NetworkAddress", {"family": "IPv4", "address": "192.0.2.10"}), ttl(5)),
     "chassis 192.0.2.9 port 192.0.2.10 ttl 5"),
]

TSHARK_LLDP = re.compile(r"^[A-Z]{2}/(\S+) [A-Z]{2}/(\S+) (\d+)")


def test_lldp_says_chassis_port_and_ttl_as_tsharks_info_column(tmp_path):
    frames = [frame for frame, _ in LLDPDUS]
    packets = [pktspec.decode(f) for f in frames]
    assert [p.error for p in packets] == [None] * len(frames)
    said = [p[LinkLayerDiscovery].summary() for p in packets]
    assert said == [words for _, words in LLDPDUS]
    truth = tshark_fields(frames, ["_ws.col.Info", "lldp.tlv.system.name"], tmp_path)
    for words, row in zip(said, truth, strict=True):
        found = TSHARK_LLDP.match(row["_ws.col.Info"])
        assert found is not None, row
        assert words.startswith("chassis {} port {} ttl {}".format(*found.groups()))
    assert truth[0]["lldp.tlv.system.name"] == truth[1]["lldp.tlv.system.name"] == "switch-1"
    assert summary(packets[0]) == (
        f"- Ethernet LinkLayerDiscovery {A} > 01:80:c2:00:00:0e: length 36: "
        "chassis 02:00:5e:00:53:01 port ge-0/0/1 ttl 120 system switch-1")


def test_an_lldpdu_out_of_order_has_no_words():
    frame = lldp(port("Local", b"p1"), chassis("Local", b"c1"), ttl(10))
    p = pktspec.decode(frame)
    assert p.error is None and p[LinkLayerDiscovery].summary() is None
    assert summary(p) == f"- Ethernet LinkLayerDiscovery {A} > 01:80:c2:00:00:0e: length 16"


# ---- EAPOL and EAP ------------------------------------------------------------------------------

ANONCE = bytes(range(32))
SNONCE = bytes(range(32, 64))
RSN_IE = bytes.fromhex("30140100000fac040100000fac040100000fac020c00")


def wired(*layers) -> bytes:
    return pad(pktspec.serialize(Ethernet(src=B, dst="01:80:c2:00:00:03"), *layers))


KEY = {"key_descriptor_version": "HMACSHA1AES"}
EAPOL_FRAMES = [
    (wired(EAPOL(version=1, type="Start")), EAPOL, "Start"),
    (wired(EAPOL(type="EAPPacket"), EAP(code="Request", id=1, type="Identity")), EAP,
     "Request Identity id 1"),
    (wired(EAPOL(type="EAPPacket"),
           EAP(code="Response", id=1, type="Identity", type_data=b"alice@example.org")), EAP,
     "Response Identity id 1 'alice@example.org'"),
    (wired(EAPOL(type="EAPPacket"), EAP(code="Request", id=2, type="PEAP", type_data=b"\x20")),
     EAP, "Request PEAP id 2"),
    (wired(EAPOL(type="EAPPacket"), EAP(code="Response", id=2, type="Nak", type_data=b"\x19")),
     EAP, "Response Nak id 2"),
    (wired(EAPOL(type="EAPPacket"), EAP(code="Success", id=2)), EAP, "Success id 2"),
    (wired(EAPOL(type="EAPPacket"), EAP(code="Failure", id=3)), EAP, "Failure id 3"),
    (wired(EAPOL(type="Logoff")), EAPOL, "Logoff"),
    (wired(EAPOL(type="Key"), EAPOLKey(**KEY, key_type="Pairwise", key_ack=1, key_length=16,
                                       replay_counter=1, nonce=ANONCE)),
     EAPOLKey, "Key (Message 1 of 4)"),
    (wired(EAPOL(type="Key"), EAPOLKey(**KEY, key_type="Pairwise", key_mic=1, replay_counter=1,
                                       nonce=SNONCE, mic=bytes(range(16)), key_data=RSN_IE)),
     EAPOLKey, "Key (Message 2 of 4)"),
    (wired(EAPOL(type="Key"), EAPOLKey(**KEY, key_type="Pairwise", install=1, key_ack=1,
                                       key_mic=1, secure=1, has_encrypted_key_data=1,
                                       key_length=16, replay_counter=2, nonce=ANONCE,
                                       mic=bytes(range(16)), key_data=bytes(56))),
     EAPOLKey, "Key (Message 3 of 4)"),
    (wired(EAPOL(type="Key"), EAPOLKey(**KEY, key_type="Pairwise", key_mic=1, secure=1,
                                       replay_counter=2, mic=bytes(range(16)))),
     EAPOLKey, "Key (Message 4 of 4)"),
    (wired(EAPOL(type="Key"), EAPOLKey(**KEY, key_type="Group", key_ack=1, key_mic=1, secure=1,
                                       has_encrypted_key_data=1, replay_counter=3,
                                       mic=bytes(range(16)), key_data=bytes(24))),
     EAPOLKey, "Key (Group Message 1 of 2)"),
    (wired(EAPOL(type="Key"), EAPOLKey(**KEY, key_type="Group", key_mic=1, secure=1,
                                       replay_counter=3, mic=bytes(range(16)))),
     EAPOLKey, "Key (Group Message 2 of 2)"),
    (wired(EAPOL(version=1, type="Key"),
           EAPOLKey(key_descriptor_type="WPA", key_descriptor_version="HMACMD5RC4",
                    key_type="Pairwise", key_ack=1, key_length=32, replay_counter=7,
                    nonce=ANONCE)),
     EAPOLKey, "Key (Message 1 of 4)"),
    (wired(EAPOL(version=1, type="Key"),
           EAPOLKey(key_descriptor_type="RC4", key_length=13, replay_counter=1, iv=bytes(16),
                    rc4_unicast=1, rc4_key_index=2, key_signature=bytes(16), key=bytes(13))),
     EAPOLKey, "Key"),
]


def test_eapol_and_eap_say_tsharks_words(tmp_path):
    frames = [frame for frame, _, _ in EAPOL_FRAMES]
    packets = [pktspec.decode(f) for f in frames]
    assert [p.error for p in packets] == [None] * len(frames)
    assert [p[layer].summary() for p, (_, layer, _) in zip(packets, EAPOL_FRAMES, strict=True)] \
        == [words for _, _, words in EAPOL_FRAMES]
    truth = tshark_fields(frames, ["_ws.col.Info", "eap.code", "eap.id", "eap.type"], tmp_path)
    for p, (_, layer, words), row in zip(packets, EAPOL_FRAMES, truth, strict=True):
        if layer is EAP:  # tshark: "Request, Identity"; ours adds the identifier
            info = row["_ws.col.Info"]
            assert words.split()[0] == info.split(",")[0]
            assert f" id {row['eap.id']}" in words
            assert int(row["eap.code"]) == p[EAP].code
            if row["eap.type"]:
                assert int(row["eap.type"]) == p[EAP].type
        else:  # Start, Logoff and the key messages: tshark's Info column word for word
            assert words == row["_ws.col.Info"]
    assert summary(packets[2]) == (
        f"- Ethernet EAPOL EAP {B} > 01:80:c2:00:00:03: length 22: "
        "Response Identity id 1 'alice@example.org'")
    assert summary(packets[8]) == (
        f"- Ethernet EAPOL EAPOLKey {B} > 01:80:c2:00:00:03: length 95: Key (Message 1 of 4)")


def test_eapol_of_other_types_says_its_type():
    mka = pktspec.decode(wired(EAPOL(type="MKA"), bytes(8)))
    assert mka[EAPOL].summary() == "MKA"
    unknown = pktspec.decode(wired(EAPOL(type=42), bytes(4)))
    assert unknown[EAPOL].summary() == "type 42"
    # a key frame or an EAP packet speaks for its EAPOL header on the line
    identity = pktspec.decode(EAPOL_FRAMES[1][0])
    assert identity[EAPOL].summary() is None
    assert summary(identity).endswith(": Request Identity id 1")


# ---- LLC and SNAP -------------------------------------------------------------------------------


def llc_frame(llc: LLC, body: bytes, dst: str = "03:00:00:00:00:01") -> bytes:
    inner = pktspec.serialize(llc, body)
    return pad(pktspec.serialize(Ethernet(src=A, dst=dst, ethertype=len(inner)), inner))


def snap_frame(snap: SNAP, body: bytes) -> bytes:
    return llc_frame(LLC(dsap=0xAA, ssap=0xAA, control=3), bytes(snap) + body)


def test_llc_of_a_sap_without_a_layer_says_its_saps(tmp_path):
    frames = [
        llc_frame(LLC(dsap=0xF0, ssap=0xF0), b"0123456789"),  # NetBIOS, UI
        llc_frame(LLC(dsap=0x00, ssap=0x01, control=0xBF), b"\x81\x01\x00",
                  dst="ff:ff:ff:ff:ff:ff"),  # an XID response to the null SAP
        llc_frame(LLC(dsap=0xFE, ssap=0xFE), bytes(20)),  # ISO (IS-IS, CLNP)
    ]
    packets = [pktspec.decode(f) for f in frames]
    assert [[x.name for x in p.layers] for p in packets] == [["Ethernet", "LLC", "Payload"]] * 3
    said = [p[LLC].summary() for p in packets]
    assert said == ["dsap NetBIOS (0xf0) ssap NetBIOS (0xf0)",
                    "dsap Null (0x00) ssap 1 (0x01) ctrl 0xbf",
                    "dsap ISO (0xfe) ssap ISO (0xfe)"]
    truth = tshark_fields(frames, ["llc.dsap", "llc.ssap", "llc.control"], tmp_path)
    for words, row in zip(said, truth, strict=True):  # the numbers tshark reads
        dsap, ssap = re.findall(r"\((0x[0-9a-f]{2})\)", words)
        assert (int(dsap, 16), int(ssap, 16)) == (int(row["llc.dsap"], 16),
                                                  int(row["llc.ssap"], 16))
        control = int(row["llc.control"], 16)
        assert words.endswith(f" ctrl {control:#04x}") == (control != 3)
    assert summary(packets[0]) == (
        f"- Ethernet LLC {A} > 03:00:00:00:00:01: length 10: "
        "dsap NetBIOS (0xf0) ssap NetBIOS (0xf0)")


def test_snap_under_other_ouis_says_oui_and_pid(tmp_path):
    frames = [
        snap_frame(SNAP(oui="AppleTalk", protocol_id=0x809B), bytes(10)),
        snap_frame(SNAP(oui=0x00E02B, protocol_id=0x00BB), bytes(10)),
        snap_frame(SNAP(oui="Cisco", protocol_id=0x2003), bytes(10)),  # VTP
        snap_frame(SNAP(oui="BridgedIEEE8021", protocol_id=0x0007), bytes(10)),
    ]
    packets = [pktspec.decode(f) for f in frames]
    said = [p[SNAP].summary() for p in packets]
    assert said == ["oui AppleTalk pid 0x809b", "oui 0x00e02b pid 0x00bb", "oui Cisco pid VTP",
                    "oui BridgedIEEE8021 pid 0x0007"]
    assert [p[LLC].summary() for p in packets] == [None] * 4  # SNAP's SAP: SNAP speaks
    truth = tshark_fields(frames, ["llc.oui"], tmp_path)
    assert [int(row["llc.oui"], 0) for row in truth] == [p[SNAP].oui for p in packets]
    assert packets[0][SNAP].oui == OUI.AppleTalk and packets[2][SNAP].oui == OUI.Cisco
    assert summary(packets[2]) == (
        f"- Ethernet LLC SNAP {A} > 03:00:00:00:00:01: length 10: oui Cisco pid VTP")


def test_the_corpus_dtp_frame_says_ciscos_pid():
    frames = corpus_frames("proto__td-gre-various.pcap")
    dtp = pktspec.decode(frames[61])
    assert [x.name for x in dtp.layers] == ["Ethernet", "LLC", "SNAP", "Payload"]
    assert dtp[SNAP].summary() == "oui Cisco pid DTP"
    assert summary(dtp) == ("- Ethernet LLC SNAP aa:bb:cc:00:03:10 > 01:00:0c:cc:cc:cc: "
                            "length 26: oui Cisco pid DTP")


def test_ip_in_snap_under_oui_zero_has_no_link_words():
    """SNAP with OUI 0 carries an EtherType: LLC and SNAP say nothing, so that a TCP line
    stays tcpdump's."""
    packets = corpus_packets("proto__zk-snap-tcp.pcap")
    first = packets[0]
    assert first[LLC].summary() is None and first[SNAP].summary() is None
    assert summary(first) == (
        "14:18:19.771684 Ethernet LLC SNAP IPv4 TCP 192.168.1.1.12345 > 192.168.1.2.80: "
        "Flags [S], seq 100, win 8192, length 0")


# ---- VLAN: no words of its own ------------------------------------------------------------------


def test_vlan_tags_have_no_summary_rules():
    """A VLAN tag's words would end every tagged packet's line, TCP's too: Dot1Q and Dot1AD
    leave the line to what they carry (the tag shows in the chain and in -V)."""
    assert not getattr(Dot1Q, "SUMMARY", ()) and not getattr(Dot1AD, "SUMMARY", ())
    frame = pktspec.serialize(Ethernet(src=A, dst=B), Dot1Q(vlan_id=100),
                              IPv4(src="192.0.2.1", dst="192.0.2.2"),
                              TCP(src_port=40000, dst_port=80, flags="S"))
    p = pktspec.decode(frame)
    assert p[Dot1Q].summary() is None
    assert summary(p) == ("- Ethernet Dot1Q IPv4 TCP 192.0.2.1.40000 > 192.0.2.2.80: "
                          "Flags [S], seq 0, win 65535, length 0")
    packets = corpus_packets("proto__td-8021ad-qinq-arp.pcap")
    assert packets[0][Dot1AD].summary() is None and packets[0][Dot1Q].summary() is None
    assert summary(packets[0]).endswith(": who-has 172.21.79.100 tell 172.21.79.97")


@pytest.mark.parametrize("layer", [STP, LinkLayerDiscovery, CiscoDiscovery, PPPoE, PPP, EAPOL,
                                   EAP, EAPOLKey, LLC, SNAP])
def test_every_link_layer_with_words_has_rules(layer):
    assert len(layer.SUMMARY) >= 1
