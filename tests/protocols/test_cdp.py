"""CDP, the Cisco Discovery Protocol (protocols/cdp.layer): version, TTL, checksum and TLVs.

Frames built here with pktspec's builder, in 802.3 frames with LLC and SNAP (OUI 0x00000c,
protocol ID 0x2000) and in GRE (protocol type 0x2000), are compared with tshark's reading of
the same frames (tests/tshark_reading.py): the TLVs the layer decodes (device ID, addresses,
port ID, capabilities, software version, platform, native VLAN, duplex, management addresses)
and others kept raw, and the checksum, which tshark finds correct. The corpus's CDP packets
(proto__td-gre-various.pcap, two in GRE and one in SNAP) decode to the values tshark shows.
Also: the builder fills the lengths and the checksum, decoding and building again gives the
same bytes, the fast decoder agrees with the construct FORMAT, and a packet cut short says
where the cut is.

Under SNAP, CDP is found by SNAP's second next rule (Cisco's protocol IDs under Cisco's
OUI)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.layers import GRE, LLC, SNAP, CiscoDiscovery, Ethernet, IPv4
from pktspec.protocols.cdp import CDPDuplex, CDPTLVType
from pktspec.protocols.ethernet import OUI
from tests.conftest import CAPTURES, corpus_or_skip
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

SWITCH = "02:00:5e:00:53:01"
CDP_MULTICAST = "01:00:0c:cc:cc:cc"


def over_snap(cdp: CiscoDiscovery) -> bytes:
    """An 802.3 frame with LLC, SNAP (Cisco's OUI, protocol ID 0x2000) and the CDP packet,
    padded to 60 bytes; the builder fills the 802.3 length and the protocol ID."""
    frame = pktspec.serialize(Ethernet(src=SWITCH, dst=CDP_MULTICAST),
                              LLC(dsap=0xAA, ssap=0xAA, control=3), SNAP(oui="Cisco"), cdp)
    return frame + bytes(max(0, 60 - len(frame)))


def over_gre(cdp: CiscoDiscovery) -> bytes:
    """CDP in GRE (protocol type 0x2000, as a Cisco tunnel sends it) over IPv4."""
    return pktspec.serialize(Ethernet(src=SWITCH, dst="02:00:5e:00:53:02"),
                             IPv4(src="192.0.2.1", dst="192.0.2.2"), GRE(key=40), cdp)


def cdp_of(packet) -> CiscoDiscovery:
    """The CDP layer of a packet (over SNAP or GRE)."""
    layer = packet.layer(CiscoDiscovery)
    assert layer is not None, [x.name for x in packet.layers]
    return layer


def nlpid_ip(address: str) -> dict:
    return {"protocol_type": 1, "protocol": b"\xcc", "address": address}


IPV6_8022 = bytes.fromhex("aaaa0300000086dd")  # an 802.2 header naming IPv6
SOFTWARE = b"Cisco IOS Software, test image, Version 15.2\nCopyright (c) 2024 by nobody"
FRAMES = [
    # a switch: every decoded TLV, a VTP domain and an unknown TLV kept raw
    over_snap(CiscoDiscovery(values=[
        {"type": "DeviceID", "value": b"SW1"},
        {"type": "Addresses", "value": {"addresses": [nlpid_ip("192.0.2.1")]}},
        {"type": "PortID", "value": b"GigabitEthernet0/1"},
        {"type": "Capabilities", "value": 0x29},  # router, switch, IGMP
        {"type": "Version", "value": SOFTWARE},
        {"type": "Platform", "value": b"cisco WS-C2960"},
        {"type": "VTPDomain", "value": b"lab"},
        {"type": "NativeVLAN", "value": 10},
        {"type": "Duplex", "value": "Full"},
        {"type": "ManagementAddresses", "value": {"addresses": [
            nlpid_ip("192.0.2.1"),
            {"protocol_type": 2, "protocol": IPV6_8022, "address": "2001:db8::1"}]}},
        {"type": 0x00FF, "value": b"\x01\x02"},
    ])),
    # a router's tunnel: version 1, a short TTL, half duplex
    over_gre(CiscoDiscovery(version=1, ttl=60, values=[
        {"type": "DeviceID", "value": b"R1"}, {"type": "PortID", "value": b"Tunnel40"},
        {"type": "Duplex", "value": "Half"}])),
    # a phone: no addresses (a count of 0), capabilities host and phone, native VLAN 4094
    over_snap(CiscoDiscovery(ttl=255, values=[
        {"type": "DeviceID", "value": b"SEP0002B3000001"},
        {"type": "Addresses", "value": {"addresses": []}},
        {"type": "PortID", "value": b"Port 1"},
        {"type": "Capabilities", "value": 0x90},
        {"type": "NativeVLAN", "value": 4094},
        {"type": "PortUnidirectional", "value": b"\x00"},  # odd length, the last byte zero
    ])),
]

FIELDS = ["cdp.version", "cdp.ttl", "cdp.checksum", "cdp.checksum.status", "cdp.tlv.type",
          "cdp.tlv.len", "cdp.deviceid", "cdp.portid", "cdp.platform", "cdp.software_version",
          "cdp.capabilities", "cdp.native_vlan", "cdp.duplex", "cdp.vtp_management_domain",
          "cdp.number_of_addresses", "cdp.protocol_type", "cdp.protocol_length",
          "cdp.protocol", "cdp.address_length", "cdp.nrgyz.ip_address",
          "cdp.nrgyz.ipv6_address", "cdp.data"]


def joined(row: dict, field: str, value: str) -> None:
    row[field] = f"{row[field]},{value}" if row[field] else value


def cdp_reading(packet) -> dict[str, str]:
    """Our decode, written as tshark writes those fields (the checksum status: 1 good)."""
    cdp = cdp_of(packet)
    row = dict.fromkeys(FIELDS, "")
    bad = pktspec.decode(bytes(cdp.contents), first=CiscoDiscovery).verify_checksums()
    row.update({"cdp.version": str(cdp.version), "cdp.ttl": str(cdp.ttl),
                "cdp.checksum": f"0x{cdp.checksum:04x}",
                "cdp.checksum.status": "0" if bad else "1",
                "cdp.tlv.type": ",".join(f"0x{t.type:04x}" for t in cdp.values),
                "cdp.tlv.len": ",".join(str(t.length) for t in cdp.values)})
    text = {CDPTLVType.DeviceID: "cdp.deviceid", CDPTLVType.PortID: "cdp.portid",
            CDPTLVType.Platform: "cdp.platform", CDPTLVType.VTPDomain: "cdp.vtp_management_domain"}
    for t in cdp.values:
        if t.type in text:
            row[text[t.type]] = bytes(t.value).decode()
        elif t.type == CDPTLVType.Version:  # tshark: one value per line
            row["cdp.software_version"] = ",".join(bytes(t.value).decode().split("\n"))
        elif t.type == CDPTLVType.Capabilities:
            row["cdp.capabilities"] = f"0x{t.value:08x}"
        elif t.type == CDPTLVType.NativeVLAN:
            row["cdp.native_vlan"] = str(t.value)
        elif t.type == CDPTLVType.Duplex:
            row["cdp.duplex"] = str(int(t.value))
        elif t.type in (CDPTLVType.Addresses, CDPTLVType.ManagementAddresses):
            joined(row, "cdp.number_of_addresses", str(t.value.count))
            for a in t.value.addresses:
                joined(row, "cdp.protocol_type", f"0x{a.protocol_type:02x}")
                joined(row, "cdp.protocol_length", str(a.protocol_length))
                joined(row, "cdp.protocol", bytes(a.protocol).hex())
                joined(row, "cdp.address_length", str(a.address_length))
                joined(row, "cdp.nrgyz.ipv6_address" if ":" in a.address
                       else "cdp.nrgyz.ip_address", a.address)
        else:
            joined(row, "cdp.data", bytes(t.value).hex())
    return row


def test_cdp_reads_as_tshark_reads_it(tmp_path):
    truth = tshark_fields(FRAMES, FIELDS, tmp_path)
    packets = [pktspec.decode(frame) for frame in FRAMES]
    assert [p.error for p in packets] == [None] * len(FRAMES)
    assert [cdp_reading(p) for p in packets] == truth
    # the values themselves, so that an empty reading on both sides cannot pass
    switch, tunnel, phone = truth
    assert [row["cdp.checksum.status"] for row in truth] == ["1", "1", "1"]
    assert switch["cdp.tlv.type"] == ("0x0001,0x0002,0x0003,0x0004,0x0005,0x0006,0x0009,"
                                      "0x000a,0x000b,0x0016,0x00ff")
    assert switch["cdp.tlv.len"] == "7,17,22,8,77,18,7,6,5,45,6"
    assert (switch["cdp.deviceid"], switch["cdp.portid"], switch["cdp.platform"]) == \
        ("SW1", "GigabitEthernet0/1", "cisco WS-C2960")
    assert switch["cdp.software_version"] == SOFTWARE.decode().replace("\n", ",")
    assert (switch["cdp.capabilities"], switch["cdp.native_vlan"], switch["cdp.duplex"]) == \
        ("0x00000029", "10", "1")
    assert (switch["cdp.number_of_addresses"], switch["cdp.nrgyz.ip_address"],
            switch["cdp.nrgyz.ipv6_address"]) == ("1,2", "192.0.2.1,192.0.2.1", "2001:db8::1")
    assert (switch["cdp.protocol"], switch["cdp.data"]) == ("cc,cc," + IPV6_8022.hex(), "0102")
    assert (tunnel["cdp.version"], tunnel["cdp.ttl"], tunnel["cdp.duplex"]) == ("1", "60", "0")
    assert (tunnel["cdp.deviceid"], tunnel["cdp.portid"]) == ("R1", "Tunnel40")
    assert (phone["cdp.ttl"], phone["cdp.number_of_addresses"], phone["cdp.capabilities"]) == \
        ("255", "0", "0x00000090")
    assert (phone["cdp.native_vlan"], phone["cdp.data"]) == ("4094", "00")


def test_cdp_in_gre_is_a_layer_of_the_chain():
    p = pktspec.decode(FRAMES[1])
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "GRE", "CiscoDiscovery"]
    assert p[GRE].protocol == 0x2000 and p[GRE].key == 40
    assert p.verify_checksums() == []


def test_fields_by_name():
    cdp = cdp_of(pktspec.decode(FRAMES[0]))
    assert (cdp.version, cdp.ttl) == (2, 180)  # the builder's defaults
    values = cdp.values
    assert values[0].type == CDPTLVType.DeviceID and str(CDPTLVType(values[0].type)) == \
        "DeviceID (1)"
    assert (values[0].length, bytes(values[0].value)) == (7, b"SW1")
    addresses = values[1].value
    assert addresses.count == 1 and len(addresses.addresses) == 1
    first = addresses.addresses[0]
    assert (first.protocol_type, first.protocol_length, bytes(first.protocol)) == (1, 1, b"\xcc")
    assert (first.address_length, first.address) == (4, "192.0.2.1")
    assert values[3].value == 0x29 and values[7].value == 10
    assert values[8].value == CDPDuplex.Full and str(CDPDuplex(values[8].value)) == "Full (1)"
    ipv6 = values[9].value.addresses[1]
    assert (ipv6.protocol_type, bytes(ipv6.protocol), ipv6.address_length, ipv6.address) == \
        (2, IPV6_8022, 16, "2001:db8::1")
    assert (values[10].type, values[10].length, bytes(values[10].value)) == (0xFF, 6, b"\x01\x02")


def test_decode_then_build_gives_the_same_bytes_and_both_decoders_agree():
    for frame in FRAMES:
        p = pktspec.decode(frame)
        assert p.error is None
        assert p.build() == frame
        assert pktspec.serialize(p) == frame
        cdp = cdp_of(p)
        agree(cdp)
        # the decoded values build the same bytes again, checksum included
        fields = cdp.fields()
        again = CiscoDiscovery(version=fields["version"], ttl=fields["ttl"],
                               values=list(fields["values"]))
        assert bytes(again) == bytes(cdp.contents)


def test_the_builder_fills_lengths_and_checksum_and_verification_checks_it():
    data = bytes(CiscoDiscovery(values=[{"type": "DeviceID", "value": b"R1"}]))
    # version 2, TTL 180, checksum, then type 1, length 6 (with its header), "R1"
    assert data == bytes.fromhex("02b4" "ab13" "0001" "0006") + b"R1"
    empty = bytes(CiscoDiscovery())
    assert empty == bytes.fromhex("02b4" "fd4b")
    p = pktspec.decode(FRAMES[1])
    p[CiscoDiscovery].ttl = 90
    again = pktspec.decode(p.build())  # the edit made the checksum stale: it is recomputed
    assert again[CiscoDiscovery].ttl == 90 and again.verify_checksums() == []
    bad = pktspec.decode(over_gre(CiscoDiscovery(values=[]).force(checksum=0xBAD)))
    [found] = bad.verify_checksums()
    assert (found.layer, found.field, found.found, found.expected) == \
        ("CiscoDiscovery", "checksum", 0xBAD, 0xFD4B)


@pytest.mark.parametrize(("kept", "field", "offset"), [(1, "ttl", 43), (2, "checksum", 44),
                                                      (3, "checksum", 44)])
def test_a_header_cut_short_keeps_the_layers_before(kept, field, offset):
    p = pktspec.decode(FRAMES[1][:42 + kept])  # the CDP header starts at byte 42
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "GRE", "DecodeFailure"]
    assert (p.error.layer, p.error.field_path, p.error.offset) == \
        ("CiscoDiscovery", field, offset)
    assert p.truncated and p.error.message.startswith(f"truncated: {field} needs bytes")
    with pytest.raises(pktspec.errors.DecodeError):
        pktspec.decode(FRAMES[1][:42 + kept], strict=True)


def test_a_tlv_cut_short_is_left_out_and_the_packet_is_truncated():
    """The TLVs run to the end of the packet (as SCTP's chunks do): one cut by the end of the
    capture is not decoded, and the IPv4 total length says bytes are missing."""
    p = pktspec.decode(FRAMES[1][:-3])  # the duplex TLV loses 3 of its 5 bytes
    assert p.error is None and p.truncated and p[IPv4].payload_missing == 3
    assert [t.type for t in p[CiscoDiscovery].values] == [CDPTLVType.DeviceID,
                                                          CDPTLVType.PortID]


# ---- the corpus ------------------------------------------------------------------------------


def test_the_corpus_cdp_packets_read_as_tshark_shows_them():
    corpus_or_skip()
    packets = list(pktspec.open(CAPTURES / "proto__td-gre-various.pcap"))
    # frames 49 and 63: CDP in GRE (key 0x28) from R1 and R2
    for n, device, checksum, address in ((49, b"R1", 0xA82E, "172.17.1.54"),
                                         (63, b"R2", 0xA82B, "172.17.1.55")):
        p = packets[n - 1]
        assert [x.name for x in p.layers] == ["Ethernet", "Dot1Q", "IPv4", "GRE",
                                              "CiscoDiscovery"] and p.error is None
        cdp = p[CiscoDiscovery]
        assert (cdp.version, cdp.ttl, cdp.checksum) == (2, 180, checksum)
        assert p.verify_checksums() == []  # tshark: [correct]
        assert [t.type for t in cdp.values] == [1, 5, 6, 2, 3, 4, 7, 0x16, 0x1B]
        assert [t.length for t in cdp.values] == [6, 261, 14, 17, 12, 8, 9, 17, 5]
        by_type = {t.type: t.value for t in cdp.values}
        assert bytes(by_type[CDPTLVType.DeviceID]) == device
        assert bytes(by_type[CDPTLVType.PortID]) == b"Tunnel40"
        assert bytes(by_type[CDPTLVType.Platform]) == b"Linux Unix"
        assert bytes(by_type[CDPTLVType.Version]).startswith(
            b"Cisco IOS Software, Linux Software (I86BI_LINUX-ADVENTERPRISEK9-M), "
            b"Version 15.5(3)S2")
        assert by_type[CDPTLVType.Capabilities] == 0x00000001  # router
        assert by_type[CDPTLVType.Addresses].addresses[0].address == address
        assert by_type[CDPTLVType.ManagementAddresses].addresses[0].address == address
        assert p.build() == bytes(packets[n - 1].build())
    # frame 86: CDP under SNAP from SW1 (see cdp_of)
    cdp = cdp_of(packets[85])
    assert (cdp.version, cdp.ttl, cdp.checksum) == (2, 180, 0x2005)
    assert pktspec.decode(bytes(cdp.contents), first=CiscoDiscovery).verify_checksums() == []
    by_type = {t.type: t.value for t in cdp.values}
    assert bytes(by_type[CDPTLVType.DeviceID]) == b"SW1"
    assert bytes(by_type[CDPTLVType.PortID]) == b"Ethernet0/1"
    assert by_type[CDPTLVType.Capabilities] == 0x29
    assert (by_type[CDPTLVType.NativeVLAN], by_type[CDPTLVType.Duplex]) == (1, CDPDuplex.Full)
    assert by_type[CDPTLVType.Addresses].count == 0
    assert bytes(by_type[CDPTLVType.VTPDomain]) == b""
    assert (bytes(by_type[CDPTLVType.ExtendedTrust]), bytes(by_type[CDPTLVType.UntrustedCoS])) \
        == (b"\x00", b"\x00")


# ---- known gaps ------------------------------------------------------------------------------


def test_cdp_under_ciscos_snap_oui_is_a_layer_of_the_chain():
    p = pktspec.decode(FRAMES[0])
    assert p[SNAP].oui == OUI.Cisco and p[SNAP].protocol_id == 0x2000
    assert [x.name for x in p.layers] == ["Ethernet", "LLC", "SNAP", "CiscoDiscovery"]


def test_the_checksum_of_an_odd_length_packet_is_ciscos(tmp_path):
    """Cisco (and tshark) add the last byte of an odd-length packet as a signed low-order
    byte (cdp_checksum in protocols/externs.py); RFC 1071 would pad it as the high one.
    Every last-byte class: zero, positive, 0x80 and above."""
    devices = [b"R1" + bytes([last]) for last in (0x00, 0x01, 0x7F, 0x80, 0x90, 0xFF)]
    frames = [over_gre(CiscoDiscovery(values=[{"type": "DeviceID", "value": device}]))
              for device in devices]
    truth = tshark_fields(frames, ["cdp.checksum", "cdp.checksum.status"], tmp_path)
    assert [row["cdp.checksum.status"] for row in truth] == ["1"] * len(devices)
    for frame, row in zip(frames, truth, strict=True):
        packet = pktspec.decode(frame)
        assert f"0x{packet[CiscoDiscovery].checksum:04x}" == row["cdp.checksum"]
        assert packet.verify_checksums() == []
        broken = bytearray(frame)
        broken[-1] ^= 0x40
        assert [b.field for b in pktspec.decode(bytes(broken)).verify_checksums()] == \
            ["checksum"]


# ---- generated packets -----------------------------------------------------------------------

text = st.binary(max_size=40)
address = st.one_of(
    st.builds(lambda a: {"protocol_type": 1, "protocol": b"\xcc", "address": a},
              st.binary(min_size=4, max_size=4)),
    st.builds(lambda a: {"protocol_type": 2, "protocol": IPV6_8022, "address": a},
              st.binary(min_size=16, max_size=16)),
    st.fixed_dictionaries({"protocol_type": st.integers(0, 255), "protocol": text,
                           "address": st.binary(min_size=1, max_size=20)}))
tlvs = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["DeviceID", "PortID", "Version",
                                                    "Platform", "VTPDomain"]), "value": text}),
    st.fixed_dictionaries({"type": st.sampled_from(["Addresses", "ManagementAddresses"]),
                           "value": st.fixed_dictionaries(
                               {"addresses": st.lists(address, max_size=3)})}),
    st.fixed_dictionaries({"type": st.just("Capabilities"),
                           "value": st.integers(0, 0xFFFFFFFF)}),
    st.fixed_dictionaries({"type": st.just("NativeVLAN"), "value": st.integers(0, 0xFFFF)}),
    st.fixed_dictionaries({"type": st.just("Duplex"), "value": st.integers(0, 255)}),
    st.fixed_dictionaries({"type": st.integers(0x0C, 0xFFFF).filter(
        lambda t: t not in (0x10, 0x16)), "value": text}))


@settings(max_examples=150, deadline=None)
@given(version=st.integers(0, 255), ttl=st.integers(0, 255), values=st.lists(tlvs, max_size=8),
       snap=st.booleans())
def test_generated_packets_decode_build_back_and_verify(version, ttl, values, snap):
    cdp = CiscoDiscovery(version=version, ttl=ttl, values=values)
    frame = over_snap(cdp) if snap else over_gre(cdp)
    p = pktspec.decode(frame)
    assert p.error is None
    layer = cdp_of(p)
    agree(layer)
    assert p.build() == frame
    assert (layer.version, layer.ttl, len(layer.values)) == (version, ttl, len(values))
    fields = layer.fields()
    again = CiscoDiscovery(version=version, ttl=ttl, values=list(fields["values"]))
    assert bytes(again) == bytes(layer.contents)
    assert pktspec.decode(bytes(layer.contents), first=CiscoDiscovery).verify_checksums() \
        == []  # odd lengths too (cdp_checksum)
