"""The Nortel Discovery Protocol (protocols/nortel.layer): the 11-byte hello in 802.3 frames
with LLC and SNAP under Nortel's OUI (0x000081), protocol ID 0x01a2.

Frames are built with pktspec's builder (which fills the 802.3 length, SNAP's OUI and protocol
ID from the binding) and compared with tshark's reading of the same frames
(tests/tshark_reading.py): the management IP address, segment identifier, chassis and
backplane types, state and number of links, the SNAP header, and the Info column (the
layer's summary). Also: known values and enum names, round trips, a hello cut short giving an
error layer, another Nortel protocol ID or OUI leaving the bytes alone, and the fast decoder
against the construct FORMAT.

SNAP finds NDP by its third next rule (Nortel's protocol IDs under Nortel's OUI)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.layers import LLC, SNAP, Ethernet, NortelDiscovery
from pktspec.protocols.ethernet import OUI
from pktspec.protocols.nortel import NDPBackplaneType, NDPChassisType, NDPState
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import assert_reads_as_tshark

SWITCH = "02:00:5e:00:53:01"
SEGMENT_HELLO = "01:00:81:00:01:00"  # tshark's Info says "Segment Hello" for this address


def frame(ndp: NortelDiscovery, dst: str = SEGMENT_HELLO) -> bytes:
    """An 802.3 frame with LLC, SNAP and the hello, padded to 60 bytes; the builder fills the
    802.3 length, SNAP's OUI (Nortel) and protocol ID (0x01a2)."""
    data = pktspec.serialize(Ethernet(src=SWITCH, dst=dst), LLC(dsap=0xAA, ssap=0xAA), SNAP(),
                             ndp)
    return data + bytes(max(0, 60 - len(data)))


FRAMES = [
    frame(NortelDiscovery(ip_address="192.0.2.7", segment_id=0x2A, chassis="Chassis5000",
                          backplane="Ethernet", state="Heartbeat", num_links=5)),
    frame(NortelDiscovery(ip_address="198.51.100.200", segment_id=0x010203,
                          chassis="EthernetRoutingSwitch551048T",
                          backplane="EthernetFastEthernetGigabitEthernet", state="New",
                          num_links=1)),
    frame(NortelDiscovery(ip_address="203.0.113.1", segment_id=0xFFFFFF, chassis="Other",
                          backplane="TokenRing", state="Topology", num_links=255)),
    # values no enum names: a chassis type after the list, backplane and state 0
    frame(NortelDiscovery(ip_address="10.0.0.1", segment_id=0x800000, chassis=200,
                          backplane=0, state=0, num_links=0)),
]

FIELDS = ("llc.oui", "llc.nortel_pid", "ndp.ipaddress", "ndp.segmentident", "ndp.chassis",
          "ndp.backplane", "ndp.state", "ndp.numberoflinks", "_ws.col.Info")


def ours(packet) -> dict[str, str]:
    """Our reading of an NDP frame in tshark's terms (-T fields)."""
    snap, ndp = packet[SNAP], packet[NortelDiscovery]
    return {
        "llc.oui": str(int(snap.oui)), "llc.nortel_pid": f"{snap.protocol_id:#06x}",
        "ndp.ipaddress": ndp.ip_address, "ndp.segmentident": f"{ndp.segment_id:#08x}",
        "ndp.chassis": str(int(ndp.chassis)), "ndp.backplane": str(int(ndp.backplane)),
        "ndp.state": str(int(ndp.state)), "ndp.numberoflinks": str(ndp.num_links),
        "_ws.col.Info": ndp.summary(),
    }


def test_every_field_reads_as_tshark_reads_it(tmp_path):
    assert_reads_as_tshark(FRAMES, FIELDS, ours, tmp_path)


def test_known_values_of_the_built_frames():
    packet = pktspec.decode(FRAMES[0])
    assert [x.name for x in packet.layers] == ["Ethernet", "LLC", "SNAP", "NortelDiscovery"]
    snap, ndp = packet[SNAP], packet[NortelDiscovery]
    assert (snap.oui, snap.protocol_id) == (OUI.Nortel, 0x01A2)
    assert packet[Ethernet].ethertype == 3 + 5 + 11  # the 802.3 length: LLC, SNAP, NDP
    assert (ndp.ip_address, ndp.segment_id, ndp.num_links) == ("192.0.2.7", 0x2A, 5)
    assert (ndp.chassis, ndp.backplane, ndp.state) == (
        NDPChassisType.Chassis5000, NDPBackplaneType.Ethernet, NDPState.Heartbeat)
    assert str(ndp.fields()["chassis"]) == "Chassis5000 (12)"
    assert len(ndp.contents) == 11 and bytes(ndp.contents) == bytes.fromhex(
        "c0000207" "00002a" "0c" "02" "02" "05")
    assert ndp.summary() == "Segment Hello"
    assert snap.summary() is None  # SNAP leaves the words to NDP, as it does to CDP
    odd = pktspec.decode(FRAMES[3])[NortelDiscovery]
    assert (odd.chassis, odd.backplane, odd.state) == (200, 0, 0)
    # every gopacket chassis type is there (1..162 but 19, 30 and 47)
    named = [v for v in range(256) if NDPChassisType.name_of(v) is not None]
    assert named == [v for v in range(1, 163) if v not in (19, 30, 47)]
    assert NDPChassisType.name_of(162) == "EthernetRoutingSwitch250050TPWR"


def test_round_trips():
    for data in FRAMES:
        packet = pktspec.decode(data)
        assert pktspec.serialize(packet) == data
        assert packet.build(fix_lengths=True, compute_checksums=True) == data


@pytest.mark.parametrize("keep, field", [(0, "ip_address"), (3, "ip_address"),
                                         (5, "segment_id"), (7, "chassis"), (10, "num_links")])
def test_a_hello_cut_short_is_an_error_layer(keep, field):
    data = FRAMES[0][:14 + 8 + keep]
    packet = pktspec.decode(data)  # never raises
    assert [x.name for x in packet.layers] == ["Ethernet", "LLC", "SNAP", "DecodeFailure"]
    assert packet.truncated and packet.error.layer == "NortelDiscovery"
    assert packet.error.field_path == field and "truncated" in packet.error.message


def test_other_nortel_protocol_ids_and_ouis_stay_payload():
    data = bytearray(FRAMES[0])
    data[20:22] = b"\x01\xa3"  # the bridge hello, another format
    assert [x.name for x in pktspec.decode(bytes(data)).layers] == [
        "Ethernet", "LLC", "SNAP", "Payload"]
    data = bytearray(FRAMES[0])
    data[17:20] = b"\x00\x00\x82"
    assert [x.name for x in pktspec.decode(bytes(data)).layers] == [
        "Ethernet", "LLC", "SNAP", "Payload"]


def test_fast_decoder_and_construct_agree():
    for data in FRAMES:
        agree(pktspec.decode(data)[NortelDiscovery])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=16))
def test_fast_decoder_and_construct_agree_on_generated_hellos(body):
    packet = pktspec.decode(body, first=NortelDiscovery)  # never raises
    if packet.error is None:
        agree(packet.layers[0])
