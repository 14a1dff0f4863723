"""LLDP (protocols/lldp.layer): the TLVs of an LLDP data unit after EtherType 0x88cc.

The corpus has no LLDP traffic, so the frames are built here with pktspec's builder and the
decoded values are compared with tshark's reading of the same frames
(tests/tshark_reading.py): every TLV type the layer decodes (chassis and port IDs of several
subtypes, TTL, port and system descriptions, system name and capabilities, IPv4 and IPv6
management addresses with and without an object identifier, IEEE 802.1 and 802.3
organizationally specific TLVs, an unknown type kept raw, the End TLV). Also: the builder
fills the lengths and appends the End TLV, decoding and building again gives the same bytes,
the fast decoder agrees with the construct FORMAT, and a frame cut short keeps the Ethernet
layer and says where the cut is."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.layers import Dot1Q, Ethernet, LinkLayerDiscovery
from pktspec.protocols.ethernet import OUI
from pktspec.protocols.lldp import (
    LLDPAddressFamily,
    LLDPChassisIDSubtype,
    LLDPInterfaceSubtype,
    LLDPPortIDSubtype,
    LLDPTLVType,
)
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

STATION = "02:00:5e:00:53:01"
NEAREST_BRIDGE = "01:80:c2:00:00:0e"  # LLDP's nearest bridge group address
OID = bytes.fromhex("2b06010401090102")  # 1.3.6.1.4.1.9.1.2, BER encoded


def lldp(*values: dict, tag: int | None = None) -> bytes:
    """An Ethernet frame with an LLDPDU of these TLVs (the builder appends the End TLV),
    padded to 60 bytes."""
    if tag is None:
        frame = pktspec.serialize(Ethernet(src=STATION, dst=NEAREST_BRIDGE),
                                  LinkLayerDiscovery(values=list(values)))
    else:
        frame = pktspec.serialize(Ethernet(src=STATION, dst=NEAREST_BRIDGE), Dot1Q(vlan_id=tag),
                                  LinkLayerDiscovery(values=list(values)))
    return frame + bytes(max(0, 60 - len(frame)))


def chassis(subtype: str, ident) -> dict:
    return {"type": "ChassisID", "value": {"subtype": subtype, "id": ident}}


def port(subtype: str, ident) -> dict:
    return {"type": "PortID", "value": {"subtype": subtype, "id": ident}}


def ttl(seconds: int) -> dict:
    return {"type": "TTL", "value": seconds}


FRAMES = [
    # a switch port: MAC chassis ID, interface name, descriptions, capabilities (bridge and
    # router, bridge enabled), an IPv4 management address, the port VLAN ID (IEEE 802.1)
    lldp(chassis("MACAddress", "02:00:5e:00:53:01"), port("InterfaceName", b"ge-0/0/1"),
         ttl(120),
         {"type": "PortDescription", "value": b"uplink to core"},
         {"type": "SystemName", "value": b"switch-1"},
         {"type": "SystemDescription", "value": b"Test switch, release 1.0"},
         {"type": "SystemCapabilities", "value": {"capabilities": 0x0014, "enabled": 0x0004}},
         {"type": "ManagementAddress",
          "value": {"address": {"family": "IPv4", "address": "192.0.2.7"},
                    "interface_subtype": "IfIndex", "interface_number": 5}},
         {"type": "OrgSpecific", "value": {"oui": "BridgedIEEE8021", "subtype": 1,
                                           "info": (100).to_bytes(2, "big")}}),
    # network address chassis ID, MAC port ID, TTL 0 (the port shuts down), an IPv6
    # management address with an object identifier, a reserved TLV type, IEEE 802.3's
    # maximum frame size
    lldp(chassis("NetworkAddress", {"family": "IPv4", "address": "192.0.2.9"}),
         port("MACAddress", "02:00:5e:00:53:02"), ttl(0),
         {"type": "ManagementAddress",
          "value": {"address": {"family": "IPv6", "address": "2001:db8::7"},
                    "interface_subtype": "SystemPort", "interface_number": 48, "oid": OID}},
         {"type": 9, "value": b"\x01\x02\x03"},
         {"type": "OrgSpecific", "value": {"oui": 0x00120F, "subtype": 4,
                                           "info": (1518).to_bytes(2, "big")}}),
    # locally assigned IDs and the longest TTL: a short LLDPDU, padded after its End TLV
    lldp(chassis("Local", b"chassis-7"), port("Local", b"port-7"), ttl(65535)),
    # behind an 802.1Q tag: an IPv6 network address as chassis ID, a port in a telephone
    lldp(chassis("NetworkAddress", {"family": "IPv6", "address": "2001:db8::1:2"}),
         port("InterfaceAlias", b"Phone port"), ttl(3600),
         {"type": "SystemCapabilities", "value": {"capabilities": 0x0024, "enabled": 0x0020}},
         tag=20),
]

FIELDS = ["lldp.tlv.type", "lldp.tlv.len", "lldp.chassis.subtype", "lldp.chassis.id.mac",
          "lldp.chassis.id.ip4", "lldp.chassis.id.ip6", "lldp.chassis.id",
          "lldp.network_address.subtype", "lldp.port.subtype", "lldp.port.id",
          "lldp.port.id.mac", "lldp.time_to_live", "lldp.port.desc", "lldp.tlv.system.name",
          "lldp.tlv.system.desc", "lldp.tlv.system_cap", "lldp.tlv.enable_system_cap",
          "lldp.mgn.address.len", "lldp.mgn.address.subtype", "lldp.mgn.addr.ip4",
          "lldp.mgn.addr.ip6", "lldp.mgn.interface.subtype", "lldp.mgn.interface.number",
          "lldp.mgn.obj.len", "lldp.mgn.obj.id", "lldp.orgtlv.oui", "lldp.ieee.802_1.subtype",
          "lldp.ieee.802_1.port_vlan.id", "lldp.ieee.802_3.subtype",
          "lldp.ieee.802_3.max_frame_size"]


def ber_oid(data: bytes) -> str:
    """An object identifier's BER contents as dotted text (as tshark shows lldp.mgn.obj.id)."""
    arcs, n = [], 0
    for b in data:
        n = n << 7 | b & 0x7F
        if not b & 0x80:
            arcs.append(n)
            n = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def network_address(row: dict, value, prefix: str) -> None:
    """A chassis or port ID that is a network address, as tshark shows it."""
    row["lldp.network_address.subtype"] = str(int(value.family))
    if value.family == LLDPAddressFamily.IPv4:
        row[f"{prefix}.ip4"] = value.address
    elif value.family == LLDPAddressFamily.IPv6:
        row[f"{prefix}.ip6"] = value.address


def lldp_reading(packet) -> dict[str, str]:
    """Our decode, written as tshark writes those fields."""
    row = dict.fromkeys(FIELDS, "")
    tlvs = packet[LinkLayerDiscovery].values
    row["lldp.tlv.type"] = ",".join(str(int(t.type)) for t in tlvs)
    row["lldp.tlv.len"] = ",".join(str(int(t.length)) for t in tlvs)
    for t in tlvs:
        v = t.value
        if t.type == LLDPTLVType.ChassisID:
            row["lldp.chassis.subtype"] = str(int(v.subtype))
            if v.subtype == LLDPChassisIDSubtype.MACAddress:
                row["lldp.chassis.id.mac"] = v.id
            elif v.subtype == LLDPChassisIDSubtype.NetworkAddress:
                network_address(row, v.id, "lldp.chassis.id")
            else:
                row["lldp.chassis.id"] = bytes(v.id).hex()
        elif t.type == LLDPTLVType.PortID:
            row["lldp.port.subtype"] = str(int(v.subtype))
            if v.subtype == LLDPPortIDSubtype.MACAddress:
                row["lldp.port.id.mac"] = v.id
            else:
                row["lldp.port.id"] = bytes(v.id).decode()
        elif t.type == LLDPTLVType.TTL:
            row["lldp.time_to_live"] = str(int(v))
        elif t.type == LLDPTLVType.PortDescription:
            row["lldp.port.desc"] = bytes(v).decode()
        elif t.type == LLDPTLVType.SystemName:
            row["lldp.tlv.system.name"] = bytes(v).decode()
        elif t.type == LLDPTLVType.SystemDescription:
            row["lldp.tlv.system.desc"] = bytes(v).decode()
        elif t.type == LLDPTLVType.SystemCapabilities:
            row["lldp.tlv.system_cap"] = f"0x{v.capabilities:04x}"
            row["lldp.tlv.enable_system_cap"] = f"0x{v.enabled:04x}"
        elif t.type == LLDPTLVType.ManagementAddress:
            row.update({"lldp.mgn.address.len": str(int(v.address_length)),
                        "lldp.mgn.address.subtype": str(int(v.address.family)),
                        "lldp.mgn.interface.subtype": str(int(v.interface_subtype)),
                        "lldp.mgn.interface.number": str(int(v.interface_number)),
                        "lldp.mgn.obj.len": str(int(v.oid_length))})
            key = {1: "lldp.mgn.addr.ip4", 2: "lldp.mgn.addr.ip6"}[v.address.family]
            row[key] = v.address.address
            if v.oid_length:
                row["lldp.mgn.obj.id"] = ber_oid(bytes(v.oid))
        elif t.type == LLDPTLVType.OrgSpecific:
            row["lldp.orgtlv.oui"] = str(int(v.oui))
            info = bytes(v.info)
            if v.oui == OUI.BridgedIEEE8021:
                row["lldp.ieee.802_1.subtype"] = f"0x{v.subtype:02x}"
                if v.subtype == 1:
                    row["lldp.ieee.802_1.port_vlan.id"] = str(int.from_bytes(info, "big"))
            elif v.oui == 0x00120F:
                row["lldp.ieee.802_3.subtype"] = f"0x{v.subtype:02x}"
                if v.subtype == 4:
                    row["lldp.ieee.802_3.max_frame_size"] = str(int.from_bytes(info, "big"))
    return row


def test_lldpdus_read_as_tshark_reads_them(tmp_path):
    truth = tshark_fields(FRAMES, FIELDS, tmp_path)
    packets = [pktspec.decode(frame) for frame in FRAMES]
    assert [p.error for p in packets] == [None] * len(FRAMES)
    assert [[x.name for x in p.layers] for p in packets] == [
        ["Ethernet", "LinkLayerDiscovery"], ["Ethernet", "LinkLayerDiscovery"],
        ["Ethernet", "LinkLayerDiscovery"],  # the padding after End: the layer's trailer
        ["Ethernet", "Dot1Q", "LinkLayerDiscovery"]]
    assert [lldp_reading(p) for p in packets] == truth
    # the values themselves, so that an empty reading on both sides cannot pass
    switch, shutdown, local, phone = truth
    assert switch["lldp.tlv.type"] == "1,2,3,4,5,6,7,8,127,0"
    assert switch["lldp.tlv.len"] == "7,9,2,14,8,24,4,12,6,0"
    assert (switch["lldp.chassis.id.mac"], switch["lldp.port.id"]) == \
        ("02:00:5e:00:53:01", "ge-0/0/1")
    assert (switch["lldp.time_to_live"], switch["lldp.tlv.system.name"]) == ("120", "switch-1")
    assert (switch["lldp.tlv.system_cap"], switch["lldp.tlv.enable_system_cap"]) == \
        ("0x0014", "0x0004")
    assert (switch["lldp.mgn.addr.ip4"], switch["lldp.mgn.interface.number"]) == \
        ("192.0.2.7", "5")
    assert switch["lldp.ieee.802_1.port_vlan.id"] == "100"
    assert shutdown["lldp.tlv.type"] == "1,2,3,8,9,127,0"
    assert (shutdown["lldp.chassis.id.ip4"], shutdown["lldp.port.id.mac"]) == \
        ("192.0.2.9", "02:00:5e:00:53:02")
    assert (shutdown["lldp.time_to_live"], shutdown["lldp.mgn.addr.ip6"]) == ("0", "2001:db8::7")
    assert (shutdown["lldp.mgn.obj.len"], shutdown["lldp.mgn.obj.id"]) == \
        ("8", "1.3.6.1.4.1.9.1.2")
    assert shutdown["lldp.ieee.802_3.max_frame_size"] == "1518"
    assert (local["lldp.chassis.id"], local["lldp.port.id"], local["lldp.time_to_live"]) == \
        (b"chassis-7".hex(), "port-7", "65535")
    assert (phone["lldp.chassis.id.ip6"], phone["lldp.port.id"]) == ("2001:db8::1:2",
                                                                    "Phone port")


def test_tlvs_by_name():
    tlvs = pktspec.decode(FRAMES[0])[LinkLayerDiscovery].values
    assert [t.type for t in tlvs] == [1, 2, 3, 4, 5, 6, 7, 8, 127, 0]
    assert tlvs[-1].type == LLDPTLVType.End and tlvs[-1].length == 0
    chassis_id, port_id = tlvs[0].value, tlvs[1].value
    assert chassis_id.subtype == LLDPChassisIDSubtype.MACAddress
    assert str(LLDPChassisIDSubtype(chassis_id.subtype)) == "MACAddress (4)"
    assert chassis_id.id == "02:00:5e:00:53:01"
    assert (port_id.subtype, bytes(port_id.id)) == (LLDPPortIDSubtype.InterfaceName, b"ge-0/0/1")
    assert tlvs[2].value == 120
    assert bytes(tlvs[5].value) == b"Test switch, release 1.0"
    assert (tlvs[6].value.capabilities, tlvs[6].value.enabled) == (0x14, 0x04)
    management = tlvs[7].value
    assert (management.address_length, management.address.family) == (5, LLDPAddressFamily.IPv4)
    assert management.address.address == "192.0.2.7"
    assert management.interface_subtype == LLDPInterfaceSubtype.IfIndex
    assert (management.interface_number, management.oid_length, bytes(management.oid)) == \
        (5, 0, b"")
    org = tlvs[8].value
    assert (org.oui, org.subtype, bytes(org.info)) == (OUI.BridgedIEEE8021, 1, b"\x00\x64")

    tlvs = pktspec.decode(FRAMES[1])[LinkLayerDiscovery].values
    assert tlvs[0].value.id.family == LLDPAddressFamily.IPv4
    assert tlvs[0].value.id.address == "192.0.2.9"
    assert tlvs[3].value.address.address == "2001:db8::7" and bytes(tlvs[3].value.oid) == OID
    assert (tlvs[4].type, tlvs[4].length, bytes(tlvs[4].value)) == (9, 3, b"\x01\x02\x03")

    local = pktspec.decode(FRAMES[2])
    assert bytes(local[LinkLayerDiscovery].values[0].value.id) == b"chassis-7"
    assert len(local[LinkLayerDiscovery].contents) == 12 + 9 + 4 + 2
    assert bytes(local[LinkLayerDiscovery].trailer) == bytes(60 - 14 - 27)  # the padding
    assert bytes(local[LinkLayerDiscovery].payload) == b"" and local.application is None


def test_decode_then_build_gives_the_same_bytes_and_both_decoders_agree():
    for frame in FRAMES:
        p = pktspec.decode(frame)
        assert p.error is None
        assert p.build() == frame
        assert pktspec.serialize(p) == frame
        agree(p[LinkLayerDiscovery])


def test_the_builder_fills_the_lengths_and_ends_the_list():
    data = bytes(LinkLayerDiscovery(values=[chassis("Local", b"c"), port("Local", b"p"),
                                            ttl(1)]))
    assert data == bytes.fromhex("0202" "0763" "0402" "0770" "0602" "0001" "0000")
    kept = bytes(LinkLayerDiscovery(values=[ttl(1), {"type": "End", "length": 0}]))
    assert kept == bytes.fromhex("0602" "0001" "0000")  # an End given is not doubled
    management = bytes(LinkLayerDiscovery(values=[
        {"type": "ManagementAddress",
         "value": {"address": {"family": "IPv4", "address": "192.0.2.1"}, "oid": OID}}]))
    # TLV header (type 8, length 20), address length 5, family, address, interface subtype
    # and number (zero), OID length 8 and the OID; then End
    assert management == bytes.fromhex("1014" "05" "01" "c0000201" "00" "00000000" "08") + OID + \
        bytes(2)
    long_value = bytes(LinkLayerDiscovery(values=[{"type": "SystemDescription",
                                                   "value": b"x" * 300}]))
    assert long_value[:2] == bytes.fromhex("0d2c")  # type 6, length 300 in the ninth bit too


def test_an_edit_rebuilds_the_lengths():
    p = pktspec.decode(FRAMES[0])
    p[LinkLayerDiscovery].values[4].value = b"switch-one"
    p[LinkLayerDiscovery].values[4].length = None
    again = pktspec.decode(p.build())
    assert again.error is None
    tlv = again[LinkLayerDiscovery].values[4]
    assert (tlv.type, tlv.length, bytes(tlv.value)) == (5, 10, b"switch-one")


@pytest.mark.parametrize("kept", [0, 1, 2, 5, 60, 105])
def test_an_lldpdu_cut_short_keeps_the_ethernet_layer(kept):
    p = pktspec.decode(FRAMES[0][:14 + kept])
    assert [x.name for x in p.layers] == ["Ethernet", "DecodeFailure"]
    assert p[Ethernet].ethertype == 0x88CC and p.truncated
    assert (p.error.layer, p.error.field_path, p.error.offset) == \
        ("LinkLayerDiscovery", "values", 14)
    assert p.error.message.startswith("truncated: ")
    with pytest.raises(pktspec.errors.DecodeError):
        pktspec.decode(FRAMES[0][:14 + kept], strict=True)


def test_an_lldpdu_without_its_end_tlv_is_an_error():
    body = bytes.fromhex("0202" "0763" "0402" "0770" "0602" "0078")  # no End TLV
    p = pktspec.decode(body, first=LinkLayerDiscovery)
    assert p.error is not None and p.error.layer == "LinkLayerDiscovery"
    assert p.error.field_path == "values" and "truncated" in p.error.message
    ended = pktspec.decode(body + bytes(2), first=LinkLayerDiscovery)
    assert ended.error is None and len(ended[LinkLayerDiscovery].values) == 4


# ---- generated LLDPDUs -----------------------------------------------------------------------

text = st.binary(min_size=1, max_size=40)
addresses = st.one_of(
    st.fixed_dictionaries({"family": st.just("IPv4"),
                           "address": st.binary(min_size=4, max_size=4)}),
    st.fixed_dictionaries({"family": st.just("IPv6"),
                           "address": st.binary(min_size=16, max_size=16)}),
    st.fixed_dictionaries({"family": st.just("IEEE802"),
                           "address": st.binary(min_size=6, max_size=6)}),
    st.fixed_dictionaries({"family": st.sampled_from([0, 3, 4, 16]),
                           "address": st.binary(max_size=16)}))
ids = {"chassis": st.one_of(
    st.fixed_dictionaries({"subtype": st.just("MACAddress"),
                           "id": st.binary(min_size=6, max_size=6)}),
    st.fixed_dictionaries({"subtype": st.just("NetworkAddress"), "id": addresses}),
    st.fixed_dictionaries({"subtype": st.sampled_from([0, 1, 2, 3, 6, 7, 99]), "id": text})),
    "port": st.one_of(
    st.fixed_dictionaries({"subtype": st.just("MACAddress"),
                           "id": st.binary(min_size=6, max_size=6)}),
    st.fixed_dictionaries({"subtype": st.just("NetworkAddress"), "id": addresses}),
    st.fixed_dictionaries({"subtype": st.sampled_from([0, 1, 2, 5, 6, 7, 99]), "id": text}))}
optional_tlvs = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["PortDescription", "SystemName",
                                                    "SystemDescription"]), "value": text}),
    st.fixed_dictionaries({"type": st.just("SystemCapabilities"),
                           "value": st.fixed_dictionaries({
                               "capabilities": st.integers(0, 0xFFFF),
                               "enabled": st.integers(0, 0xFFFF)})}),
    st.fixed_dictionaries({"type": st.just("ManagementAddress"),
                           "value": st.fixed_dictionaries({
                               "address": addresses,
                               "interface_subtype": st.integers(0, 255),
                               "interface_number": st.integers(0, 0xFFFFFFFF),
                               "oid": st.binary(max_size=20)})}),
    st.fixed_dictionaries({"type": st.just("OrgSpecific"),
                           "value": st.fixed_dictionaries({
                               "oui": st.integers(0, 0xFFFFFF), "subtype": st.integers(0, 255),
                               "info": st.binary(max_size=40)})}),
    st.fixed_dictionaries({"type": st.integers(9, 126), "value": st.binary(max_size=40)}))


@settings(max_examples=150, deadline=None)
@given(chassis_id=ids["chassis"], port_id=ids["port"], seconds=st.integers(0, 0xFFFF),
       rest=st.lists(optional_tlvs, max_size=6), tagged=st.booleans())
def test_generated_lldpdus_decode_build_back_and_both_decoders_agree(chassis_id, port_id,
                                                                     seconds, rest, tagged):
    values = [{"type": "ChassisID", "value": chassis_id}, {"type": "PortID", "value": port_id},
              ttl(seconds), *rest]
    frame = lldp(*values, tag=7 if tagged else None)
    p = pktspec.decode(frame)
    assert p.error is None
    layer = p[LinkLayerDiscovery]
    agree(layer)
    assert p.build() == frame
    tlvs = layer.values
    assert len(tlvs) == len(values) + 1 and tlvs[-1].type == LLDPTLVType.End
    assert tlvs[2].value == seconds
    # the decoded values build the same bytes again (not the packet's bytes kept as they were)
    assert bytes(LinkLayerDiscovery(values=list(tlvs))) == bytes(layer.contents)
    # each TLV where the decode found it: the bytes the builder makes of it alone
    offset = 0
    for tlv, given_tlv in zip(tlvs, values, strict=False):
        alone = bytes(LinkLayerDiscovery(values=[given_tlv]))[:-2]  # less the End TLV
        assert bytes(layer.contents)[offset:offset + 2 + tlv.length] == alone
        offset += 2 + tlv.length


def test_tlv_types_read_with_their_names():
    """An enum bit field of a struct (the TLV's 7-bit type) reads as its enum member, as a
    byte-wide one does: tshark's names, still equal to the numbers."""
    from pktspec.layers import Ethernet

    data = bytes(Ethernet(ethertype=0x88CC) / LinkLayerDiscovery(values=[
        {"type": "ChassisID", "value": {"subtype": 4, "id": b"\x02\x00\x00\x00\x00\x01"}},
        {"type": 2, "value": {"subtype": 7, "id": b"1"}}, {"type": 3, "value": 120}]))
    values = pktspec.decode(data)[LinkLayerDiscovery].values
    assert [str(v.type) for v in values] == ["ChassisID (1)", "PortID (2)", "TTL (3)", "End (0)"]
    assert [v.type for v in values] == [1, 2, 3, 0]
