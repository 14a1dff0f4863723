"""RADIUS (protocols/radius.layer) over UDP ports 1812, 1813, 1645 and 1646.

The corpus has no RADIUS traffic, so the packets are built here with pktspec's builder and
the decoded values are compared with tshark's reading of the same frames
(tests/tshark_reading.py): an 802.1X authentication relayed by an access point
(Access-Request, Access-Challenge, Access-Accept with EAP inside), accounting, a reject on the
old port. Also: the builder fills the lengths, decoding and building again gives the same
bytes, the fast decoder agrees with the construct FORMAT, the old ports bind below a user's
binding, and a packet cut short or malformed says where."""

from __future__ import annotations

import hashlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.layers import EAP, RADIUS, UDP, Ethernet, IPv4
from pktspec.protocols.radius import RADIUSAttributeType as T
from pktspec.protocols.radius import RADIUSCode, RADIUSServiceType
from pktspec.runtime import REGISTRY
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

NAS, SERVER = "192.0.2.10", "192.0.2.1"


def made_up(label: str, size: int) -> bytes:
    """Deterministic bytes of our own making (authenticators, MACs, state)."""
    return hashlib.sha256(label.encode()).digest()[:size]


def eap(**fields) -> bytes:
    return bytes(EAP(**fields))


def datagram(radius: RADIUS, *, to_server: bool = True, port: int = 1812,
             client_port: int = 50123, extra: bytes = b"") -> bytes:
    """A RADIUS packet in Ethernet/IPv4/UDP, from the NAS to the server or back."""
    src, dst = (NAS, SERVER) if to_server else (SERVER, NAS)
    sport, dport = (client_port, port) if to_server else (port, client_port)
    layers = [Ethernet(src="02:00:5e:10:00:01", dst="02:00:5e:10:00:fe"),
              IPv4(src=src, dst=dst), UDP(src_port=sport, dst_port=dport), radius]
    return pktspec.serialize(*layers, *([extra] if extra else []))


IDENTITY = eap(code="Response", id=1, type="Identity", type_data=b"alice@example.org")
PEAP_START = eap(code="Request", id=2, type="PEAP", type_data=b"\x21")  # flags: Start, v1
SUCCESS = eap(code="Success", id=9)

ACCESS_REQUEST = RADIUS(code="AccessRequest", identifier=0x5A, authenticator=made_up("ra", 16),
                        attributes=[
    {"type": "UserName", "value": b"alice@example.org"},
    {"type": "NASIPAddress", "value": NAS},
    {"type": "NASPort", "value": 1},
    {"type": "CalledStationId", "value": b"02-00-5E-10-00-01:CorpWiFi"},
    {"type": "CallingStationId", "value": b"02-00-5E-10-00-02"},
    {"type": "FramedMTU", "value": 1400},
    {"type": "NASPortType", "value": "WirelessIEEE80211"},
    {"type": "ServiceType", "value": "Framed"},
    {"type": "NASIdentifier", "value": b"ap-3rd-floor"},
    {"type": "ConnectInfo", "value": b"CONNECT 54Mbps 802.11g"},
    {"type": "EAPMessage", "value": IDENTITY},
    {"type": "MessageAuthenticator", "value": made_up("ma1", 16)},
])
ACCESS_CHALLENGE = RADIUS(code="AccessChallenge", identifier=0x5A,
                          authenticator=made_up("chal", 16), attributes=[
    {"type": "EAPMessage", "value": PEAP_START},
    {"type": "MessageAuthenticator", "value": made_up("ma2", 16)},
    {"type": "State", "value": made_up("state", 18)},
])
ACCESS_ACCEPT = RADIUS(code="AccessAccept", identifier=0x61, authenticator=made_up("acc", 16),
                       attributes=[
    {"type": "FramedIPAddress", "value": "198.51.100.7"},
    {"type": "FramedIPNetmask", "value": "255.255.255.0"},
    {"type": "FramedProtocol", "value": "PPP"},
    {"type": "SessionTimeout", "value": 3600},
    {"type": "IdleTimeout", "value": 600},
    {"type": "Class", "value": b"\x00\x01class-7"},
    {"type": "ReplyMessage", "value": b"Welcome, alice"},
    {"type": "VendorSpecific",
     "value": {"vendor_id": 9, "data": b"\x01\x13shell:priv-lvl=15"}},  # a Cisco AV-pair
    {"type": "EAPMessage", "value": SUCCESS},
    {"type": "MessageAuthenticator", "value": made_up("ma3", 16)},
])
ACCOUNTING_START = RADIUS(code="AccountingRequest", identifier=3,
                          authenticator=made_up("acct", 16), attributes=[
    {"type": "AcctStatusType", "value": "Start"},
    {"type": "AcctSessionId", "value": b"5A3C0001"},
    {"type": "AcctDelayTime", "value": 2},
    {"type": "FramedIPAddress", "value": "198.51.100.7"},
    {"type": "NASIPv6Address", "value": "2001:db8::10"},
    {"type": "AcctInterimInterval", "value": 300},
])
ACCOUNTING_STOP = RADIUS(code="AccountingRequest", identifier=4,
                         authenticator=made_up("stop", 16), attributes=[
    {"type": "AcctStatusType", "value": "Stop"},
    {"type": "AcctSessionId", "value": b"5A3C0001"},
    {"type": "AcctSessionTime", "value": 3599},
    {"type": "AcctInputOctets", "value": 123456789},
    {"type": "AcctOutputOctets", "value": 987654321},
])
ACCESS_REJECT = RADIUS(code="AccessReject", identifier=0x62, authenticator=made_up("rej", 16),
                       attributes=[{"type": "ReplyMessage", "value": b"Denied"}])

FRAMES = [
    datagram(ACCESS_REQUEST),
    datagram(ACCESS_CHALLENGE, to_server=False),
    datagram(ACCESS_ACCEPT, to_server=False),
    datagram(ACCOUNTING_START, port=1813),
    datagram(ACCOUNTING_STOP, port=1646),  # the old accounting port
    datagram(ACCESS_REJECT, to_server=False, port=1645),  # the old authentication port
]


def text(value) -> str:
    return bytes(value).decode()


def hexed(value) -> str:
    return bytes(value).hex()


def number(value) -> str:
    """An enum value (a struct's enum fields decode as members, shown "Framed (2)")."""
    return str(int(value))


# attribute type -> the tshark field that shows its value, and how tshark writes it
SHOWN = {
    T.UserName: ("radius.User_Name", text),
    T.NASIPAddress: ("radius.NAS_IP_Address", str),
    T.NASPort: ("radius.NAS_Port", str),
    T.ServiceType: ("radius.Service_Type", number),
    T.FramedProtocol: ("radius.Framed_Protocol", number),
    T.FramedIPAddress: ("radius.Framed-IP-Address", str),
    T.FramedIPNetmask: ("radius.Framed_IP_Netmask", str),
    T.FramedMTU: ("radius.Framed_MTU", str),
    T.ReplyMessage: ("radius.Reply_Message", text),
    T.State: ("radius.State", hexed),
    T.Class: ("radius.Class", hexed),
    T.SessionTimeout: ("radius.Session_Timeout", str),
    T.IdleTimeout: ("radius.Idle_Timeout", str),
    T.CalledStationId: ("radius.Called_Station_Id", text),
    T.CallingStationId: ("radius.Calling_Station_Id", text),
    T.NASIdentifier: ("radius.NAS_Identifier", text),
    T.AcctStatusType: ("radius.Acct_Status_Type", number),
    T.AcctDelayTime: ("radius.Acct_Delay_Time", str),
    T.AcctInputOctets: ("radius.Acct_Input_Octets", str),
    T.AcctOutputOctets: ("radius.Acct_Output_Octets", str),
    T.AcctSessionId: ("radius.Acct_Session_Id", text),
    T.AcctSessionTime: ("radius.Acct_Session_Time", str),
    T.NASPortType: ("radius.NAS_Port_Type", number),
    T.ConnectInfo: ("radius.Connect_Info", text),
    T.MessageAuthenticator: ("radius.Message_Authenticator", hexed),
    T.NASIPv6Address: ("radius.NAS_IPv6_Address", str),
    T.AcctInterimInterval: ("radius.Acct_Interim_Interval", str),
}
# a Vendor-Specific value: the vendor, then (tshark reads them) its sub-attribute's header
VENDOR = ["radius.avp.vendor_id", "radius.avp.vendor_type", "radius.avp.vendor_len",
          "radius.Cisco_AVPair"]
# an EAP-Message: tshark reads the EAP packet inside
EAP_INSIDE = ["eap.code", "eap.id", "eap.len", "eap.type", "eap.identity"]
FIELDS = (["udp.dstport", "radius.code", "radius.id", "radius.length", "radius.authenticator",
           "radius.avp.type", "radius.avp.length"] + sorted({f for f, _ in SHOWN.values()})
          + VENDOR + EAP_INSIDE)


def reading(packet) -> dict[str, str]:
    """Our decode, written as tshark writes those fields (occurrences joined by ",")."""
    radius = packet[RADIUS]
    row: dict[str, list[str]] = {f: [] for f in FIELDS}
    row["udp.dstport"].append(str(packet[UDP].dst_port))
    for name, value in [("radius.code", radius.code), ("radius.id", radius.identifier),
                        ("radius.length", radius.length),
                        ("radius.authenticator", hexed(radius.authenticator))]:
        row[name].append(str(value))
    for attribute in radius.attributes:
        row["radius.avp.type"].append(str(int(attribute.type)))
        row["radius.avp.length"].append(str(attribute.length))
        value = attribute.value
        if attribute.type in SHOWN:
            field, show = SHOWN[attribute.type]
            row[field].append(show(value))
        elif attribute.type == T.VendorSpecific:
            data = bytes(value.data)
            row["radius.avp.vendor_id"].append(str(value.vendor_id))
            row["radius.avp.vendor_type"].append(str(data[0]))
            row["radius.avp.vendor_len"].append(str(data[1]))
            row["radius.Cisco_AVPair"].append(data[2:].decode())
        elif attribute.type == T.EAPMessage:
            inner = pktspec.decode(bytes(value), first=EAP, strict=True)[EAP]
            row["eap.code"].append(str(inner.code))  # a layer's enum fields are plain ints
            row["eap.id"].append(str(inner.id))
            row["eap.len"].append(str(inner.length))
            if inner.type is not None:
                row["eap.type"].append(str(inner.type))
                if inner.type == 1:
                    row["eap.identity"].append(text(inner.type_data))
    return {k: ",".join(v) for k, v in row.items()}


def test_radius_packets_read_as_tshark_reads_them(tmp_path):
    truth = tshark_fields(FRAMES, FIELDS, tmp_path)
    packets = [pktspec.decode(frame) for frame in FRAMES]
    assert all(p.error is None for p in packets)
    assert all([x.name for x in p.layers] == ["Ethernet", "IPv4", "UDP", "RADIUS"]
               for p in packets)
    assert [reading(p) for p in packets] == truth
    # the values themselves, so that an empty reading on both sides cannot pass
    request = truth[0]
    assert request["radius.code"] == "1" and request["radius.id"] == "90"
    assert request["radius.avp.type"] == "1,4,5,30,31,12,61,6,32,77,79,80"
    assert request["radius.User_Name"] == "alice@example.org"
    assert request["radius.NAS_IP_Address"] == NAS and request["radius.NAS_Port_Type"] == "19"
    assert request["eap.identity"] == "alice@example.org" and request["eap.code"] == "2"
    assert truth[1]["eap.type"] == "25" and truth[1]["radius.State"] == made_up("state", 18).hex()
    accept = truth[2]
    assert accept["radius.Framed-IP-Address"] == "198.51.100.7"
    assert accept["radius.avp.vendor_id"] == "9"
    assert accept["radius.Cisco_AVPair"] == "shell:priv-lvl=15"
    assert truth[3]["radius.NAS_IPv6_Address"] == "2001:db8::10"
    assert truth[4]["radius.Acct_Output_Octets"] == "987654321"
    assert [row["udp.dstport"] for row in truth] == [
        "1812", "50123", "50123", "1813", "1646", "50123"]


def test_an_access_request_by_field_name():
    radius = pktspec.decode(FRAMES[0])[RADIUS]
    assert radius.code == RADIUSCode.AccessRequest and radius.identifier == 0x5A
    assert radius.length == 20 + sum(a.length for a in radius.attributes) == 196
    assert radius.authenticator == made_up("ra", 16)
    by_type = {a.type: a for a in radius.attributes}
    assert by_type[T.UserName].value == b"alice@example.org"
    assert by_type[T.UserName].length == 2 + 17
    assert by_type[T.NASIPAddress].value == NAS  # an address, as text
    assert by_type[T.NASPort].value == 1 and by_type[T.FramedMTU].value == 1400
    assert by_type[T.ServiceType].value == RADIUSServiceType.Framed == 2
    assert by_type[T.EAPMessage].value == IDENTITY
    assert by_type[T.MessageAuthenticator].value == made_up("ma1", 16)
    assert "code=AccessRequest (1)" in repr(radius)
    vsa = pktspec.decode(FRAMES[2])[RADIUS].attributes[7]
    assert (vsa.type, vsa.length, vsa.value.vendor_id) == (T.VendorSpecific, 25, 9)
    assert vsa.value.data == b"\x01\x13shell:priv-lvl=15"


def test_an_unknown_attribute_stays_raw(tmp_path):
    radius = RADIUS(code="AccessRequest", identifier=1, authenticator=made_up("u", 16),
                    attributes=[{"type": 241, "value": b"\x01\x02\x03"},
                                {"type": "UserName", "value": b"bob"}])
    frame = datagram(radius)
    truth = tshark_fields([frame], ["radius.avp.type", "radius.avp.length", "radius.User_Name"],
                          tmp_path)[0]
    attributes = pktspec.decode(frame)[RADIUS].attributes
    assert [(a.type, a.length, a.value) for a in attributes] == [
        (241, 5, b"\x01\x02\x03"), (1, 5, b"bob")]
    assert truth == {"radius.avp.type": "241,1", "radius.avp.length": "5,5",
                     "radius.User_Name": "bob"}


# ---- building, round trips, the two decoders --------------------------------------------------


def test_decode_then_build_gives_the_same_bytes_and_both_decoders_agree():
    for frame in FRAMES:
        p = pktspec.decode(frame)
        assert pktspec.serialize(p) == frame and p.build() == frame
        agree(p[RADIUS])


def test_the_builder_fills_the_lengths_and_keeps_given_ones():
    data = bytes(RADIUS(code="AccessRequest", identifier=7,
                        attributes=[{"type": "UserName", "value": b"bob"},
                                    {"type": "NASPort", "value": 0x01020304}]))
    assert data == (bytes.fromhex("0107001f") + bytes(16) + b"\x01\x05bob"
                    + bytes.fromhex("050601020304"))
    # a length given is kept (the value is padded to it)
    crafted = bytes(RADIUS(code="AccessRequest", identifier=7,
                           attributes=[{"type": "UserName", "length": 9, "value": b"bob"}]))
    assert crafted[2:4] == b"\x00\x1d" and crafted[20:] == b"\x01\x09bob" + bytes(4)
    assert bytes(RADIUS(length=40))[2:4] == b"\x00\x28"
    udp = pktspec.decode(FRAMES[0])[UDP]
    assert udp.length == 8 + 196


def test_an_edit_rebuilds_the_lengths():
    p = pktspec.decode(FRAMES[0])
    user_name = p[RADIUS].attributes[0]
    user_name.value = b"alice.longer@example.org"
    user_name.length = None  # an item's decoded length is kept unless cleared
    again = pktspec.decode(p.build())
    first = again[RADIUS].attributes[0]
    assert first.value == b"alice.longer@example.org" and first.length == 26
    assert again[RADIUS].length == 203 and again[UDP].length == 8 + 203
    assert again[RADIUS].attributes[1].value == NAS


def test_padding_after_the_packet_is_its_trailer():
    frame = datagram(ACCESS_REJECT, to_server=False, extra=b"\x00\x00\x00")
    p = pktspec.decode(frame)
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "UDP", "RADIUS"]
    assert p[RADIUS].length == 28 and bytes(p[RADIUS].trailer) == b"\x00\x00\x00"
    assert p[UDP].length == 8 + 31 and p.build() == frame


# ---- ports ------------------------------------------------------------------------------------


def test_the_ports_and_their_priorities():
    table = REGISTRY.table("UDPPort")
    assert {port: [(b.cls.name, b.priority) for b in table.bindings(port)]
            for port in (1812, 1813, 1645, 1646)} == {
        1812: [("RADIUS", 0)], 1813: [("RADIUS", 0)],
        1645: [("RADIUS", -1)], 1646: [("RADIUS", -1)]}
    assert "dst_port=RADIUS (1812)" in repr(pktspec.decode(FRAMES[0])[UDP])


def test_a_users_own_layer_for_an_old_port_wins(tmp_path, restore_registry):
    from tests.generator.conftest import load_text

    load_text(tmp_path, 'import "udp.layer"\nlayer Mine1645 : application { tag: u8; }\n'
              "extend UDPPort { 1645 -> Mine1645 }\n", "mine1645.layer")
    names = [x.name for x in pktspec.decode(FRAMES[5]).layers]
    assert names == ["Ethernet", "IPv4", "UDP", "Mine1645", "Payload"]


# ---- cut and malformed packets ----------------------------------------------------------------


def test_a_packet_cut_short_keeps_the_layers_before_it():
    frame = FRAMES[0]
    p = pktspec.decode(frame[:42 + 60])  # the capture kept 60 of the 210 RADIUS bytes
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "UDP", "DecodeFailure"]
    assert p.truncated and p.error.layer == "RADIUS" and p.error.offset == 42
    assert p.error.message == "truncated: only 60 bytes present"
    p = pktspec.decode(frame[:42 + 3])  # cut in the header
    assert p.error.layer == "RADIUS" and p.error.field_path == "length" and p.truncated


def test_a_length_below_the_header_is_refused():
    frame = datagram(RADIUS(code="AccessRequest", identifier=1, length=12))
    p = pktspec.decode(frame)
    assert p.error.layer == "RADIUS" and "RADIUS length below 20" in p.error.message


def test_a_malformed_attribute_is_an_error_when_read():
    # a NAS-IP-Address of 3 bytes after a good User-Name
    body = bytes.fromhex("0101001e") + bytes(16) + b"\x01\x05bob" + b"\x04\x05\xc0\x00\x02"
    frame = pktspec.serialize(Ethernet(), IPv4(src=NAS, dst=SERVER),
                              UDP(src_port=50123, dst_port=1812), body)
    p = pktspec.decode(frame)
    assert p.error is None  # the attributes are decoded when first read
    # the attribute list ends where an attribute does not decode (as every `T[]` list does):
    # the good one before it is there, and the packet's bytes are all kept
    assert [(a.type, a.value) for a in p[RADIUS].attributes] == [(T.UserName, b"bob")]
    assert bytes(p[RADIUS].contents) == body and p.build() == frame


# ---- generated bytes --------------------------------------------------------------------------

KINDS = sorted({*map(int, SHOWN), T.VendorSpecific, T.EAPMessage, T.UserPassword, 0, 200, 255})
ATTRIBUTE = st.tuples(st.sampled_from(KINDS), st.binary(max_size=20))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attributes=st.lists(ATTRIBUTE, max_size=8), garbage=st.binary(max_size=6),
       extra=st.integers(-4, 4))
def test_random_attributes_never_raise_and_both_decoders_agree(attributes, garbage, extra):
    """Attributes of every type with values of any size (fitting their type or not), then
    garbage, under a length that fits or not: decoding never raises, and the fast decoder
    agrees with the FORMAT; well-formed attributes of a raw type read back as written."""
    body = b"".join(bytes([kind, len(value) + 2]) + value for kind, value in attributes)
    body += garbage
    length = max(0, 20 + len(body) + extra)
    data = bytes([1, 9]) + length.to_bytes(2, "big") + bytes(16) + body
    frame = pktspec.serialize(Ethernet(), IPv4(src=NAS, dst=SERVER),
                              UDP(src_port=50123, dst_port=1812), data)
    packet = pktspec.decode(frame)
    radius = packet.layer(RADIUS)
    if radius is None:
        assert packet.error is not None and packet.error.layer == "RADIUS"
        return
    agree(radius)
    decoded = radius.attributes
    raw_types = {T.UserName, T.State, T.Class, T.EAPMessage, T.ReplyMessage, 0, 255}
    if not garbage and extra == 0 and all(kind in raw_types for kind, _ in attributes):
        assert [(a.type, a.value) for a in decoded] == attributes
    assert packet.build() == frame


def test_the_other_ports_tshark_knows():
    """RADIUS on 3799 (RFC 5176 dynamic authorization), BFD on 6784 and 7784, EAPOL on
    802.11i pre-authentication's EtherType 0x88c7."""
    from pktspec.layers import BFD, EAPOL, UDP, Ethernet, IPv4
    from pktspec.runtime.registry import REGISTRY

    udp = REGISTRY.table("UDPPort")
    assert udp.get(3799) is RADIUS and udp.get(6784) is BFD and udp.get(7784) is BFD
    assert REGISTRY.table("EtherType").get(0x88C7) is EAPOL
    coa = pktspec.decode(bytes(Ethernet() / IPv4() / UDP(src_port=40000, dst_port=3799)
                               / RADIUS(code=43, identifier=1, authenticator=bytes(16))))
    assert coa[RADIUS].code == 43
