"""IEEE 802.11 (Dot11) and radiotap (RadioTap): the two corpus captures against tshark's
reading of them, build/decode round trips of the frame kinds and of radiotap's aligned
fields, and broken frames that end in an error layer, never an exception."""

from __future__ import annotations

import csv
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.errors import BuildError
from pktspec.layers import ARP, LLC, SNAP, UDP, DHCPv4, Dot11, IPv4, RadioTap
from tests.conftest import CAPTURES, TRUTH, corpus_or_skip

WLANMON = "link__zk-80211-arp-wlanmon.pcap"
RADIOTAP = "link__td-radiotap-80211-dhcp.pcap"
A, B, C, D = ("02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c",
              "02:00:00:00:00:0d")


def corpus_packets(name: str) -> tuple[list, list[dict[str, str]]]:
    corpus_or_skip()
    with pktspec.open(CAPTURES / name) as source:
        packets = list(source)
    with open(TRUTH / f"{name}.fields.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(packets) == len(rows)
    return packets, rows


def names(packet) -> list[str]:
    return [layer.name for layer in packet.layers]


# ---- the corpus ---------------------------------------------------------------------------


def test_raw_80211_capture_decodes_as_tshark_reads_it():
    packets, rows = corpus_packets(WLANMON)
    for packet, row in zip(packets, rows, strict=True):
        assert packet.error is None
        assert names(packet)[:4] == ["Dot11", "LLC", "SNAP", "ARP"]
        assert row["frame.protocols"] == "wlan:llc:arp"
        arp = packet[ARP]
        assert str(arp.operation) == row["arp.opcode"] or int(arp.operation) == int(
            row["arp.opcode"])
        assert arp.source_prot_address == row["arp.src.proto_ipv4"]
        assert arp.dst_prot_address == row["arp.dst.proto_ipv4"]
        assert f"{packet[LLC].dsap:#04x}" == row["llc.dsap"]
        assert f"{packet[LLC].ssap:#04x}" == row["llc.ssap"]
    first, second = packets[0][Dot11], packets[1][Dot11]
    # frame 1: a QoS data frame from a station to the AP (ToDS)
    assert (first.type, first.subtype, first.proto) == (2, 8, 0)
    assert first.flags.to_ds and not first.flags.from_ds and not first.flags.protected
    assert first.duration_id == 0x2c
    assert (first.address1, first.address2, first.address3) == (
        "8a:15:14:9b:5a:e0", "78:31:c1:c6:3f:c2", "ff:ff:ff:ff:ff:ff")
    assert (first.sequence_number, first.fragment_number, first.qos) == (1, 0, 6)
    assert first.address4 is None and first.ht_control is None
    # frame 2: the answer, from the AP (FromDS)
    assert second.flags.from_ds and not second.flags.to_ds
    assert (second.address1, second.address2) == ("78:31:c1:c6:3f:c2", "8a:15:14:9b:5a:e0")
    assert str(first.flow) == "78:31:c1:c6:3f:c2->8a:15:14:9b:5a:e0"
    assert packets[0].link is first


def test_radiotap_capture_decodes_as_tshark_reads_it():
    packets, rows = corpus_packets(RADIOTAP)
    (packet,), (row,) = packets, rows
    assert packet.error is None
    assert names(packet) == ["RadioTap", "Dot11", "LLC", "SNAP", "IPv4", "UDP", "DHCPv4"]
    assert row["frame.protocols"] == "radiotap:wlan_radio:wlan:llc:ip:udp:dhcp"
    rt = packet[RadioTap]
    assert (rt.version, rt.pad, rt.length, int(rt.present)) == (0, 0, 60, 0x4080086B)
    assert rt.ext_present is None
    assert rt.tsft == 967750278
    assert int(rt.flags) == 0x04 and rt.flags.wep and not rt.flags.fcs
    assert rt.rate is None
    assert (rt.channel_frequency, int(rt.channel_flags)) == (5180, 0x0140)
    assert rt.channel_flags.ofdm and rt.channel_flags.ghz5
    assert (rt.dbm_antenna_signal, rt.dbm_antenna_noise, rt.antenna) == (-45, -107, 0)
    assert (rt.he_data1, rt.he_data2, rt.he_data3, rt.he_data4, rt.he_data5, rt.he_data6) == (
        0xC3FC, 0x00FE, 0x69E5, 0x000F, 0x2180, 0x7F02)
    assert (rt.vendor_oui, rt.vendor_sub_namespace, rt.vendor_skip_length) == (0x00037F, 0, 16)
    assert len(rt.extra) == 16 and len(rt.trailer) == 0
    wlan = packet[Dot11]
    assert (wlan.type, wlan.subtype, wlan.duration_id) == (2, 8, 48)
    assert wlan.flags.to_ds and wlan.flags.order and not wlan.flags.protected
    assert (wlan.address1, wlan.address2, wlan.address3) == (
        "36:80:94:c0:22:8b", "b0:be:83:5b:4b:40", "ff:ff:ff:ff:ff:ff")
    assert (wlan.sequence_number, wlan.fragment_number) == (87, 0)
    assert (wlan.qos, wlan.ht_control) == (0x1B16, 0xFFFFFFFF)
    assert f"{packet[LLC].dsap:#04x}" == row["llc.dsap"] == "0xaa"
    assert f"{packet[LLC].ssap:#04x}" == row["llc.ssap"]
    ip, udp, dhcp = packet[IPv4], packet[UDP], packet[DHCPv4]
    assert (ip.src, ip.dst, str(int(ip.protocol)), str(ip.ttl)) == (
        row["ip.src"], row["ip.dst"], row["ip.proto"], row["ip.ttl"])
    assert (f"{ip.id:#06x}", f"{ip.checksum:#06x}", str(ip.total_length)) == (
        row["ip.id"], row["ip.checksum"], row["ip.len"])
    assert (str(int(udp.src_port)), str(int(udp.dst_port)), str(udp.length)) == (
        row["udp.srcport"], row["udp.dstport"], row["udp.length"])
    assert f"{dhcp.xid:#010x}" == row["dhcp.id"]
    message_type = [o for o in dhcp.options if o.get("code", o.get("type")) == 53]
    assert len(message_type) == 1


def test_corpus_frames_build_back_byte_for_byte():
    for name in (WLANMON, RADIOTAP):
        packets, _ = corpus_packets(name)
        for packet in packets:
            assert packet.build() == bytes(packet.data)


def test_decode_command_prints_80211_lines(capsys):
    from pktspec.cli import main
    corpus_or_skip()
    assert main(["decode", str(CAPTURES / WLANMON)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "Dot11 LLC SNAP ARP" in lines[0]
    assert main(["decode", "-V", str(CAPTURES / RADIOTAP)]) == 0
    tree = capsys.readouterr().out
    assert "RadioTap (link) bytes 0..60" in tree and "Dot11 (link) bytes 60..90" in tree
    assert "channel_frequency: 5180" in tree and "address2: b0:be:83:5b:4b:40" in tree


# ---- Dot11 round trips --------------------------------------------------------------------


def decode(data: bytes, first=Dot11):
    return pktspec.decode(data, first=first, strict=True)


def test_data_frame_to_the_ap_carries_llc():
    built = Dot11(address1=A, address2=B, address3=C, sequence_number=300, fragment_number=2,
                  flags="to_ds", duration_id=44) / LLC(dsap=0xAA, ssap=0xAA, control=3) / \
        SNAP() / ARP(operation=1)
    data = bytes(built)
    # frame control 08 01 (data, ToDS), duration 44, three addresses, sequence control LE
    assert data[:4] == bytes([0x08, 0x01, 44, 0])
    assert data[22:24] == struct.pack("<H", 300 << 4 | 2)
    p = decode(data)
    assert names(p)[:4] == ["Dot11", "LLC", "SNAP", "ARP"]
    wlan = p[Dot11]
    assert (wlan.type, wlan.subtype, wlan.sequence_number, wlan.fragment_number) == (2, 0, 300, 2)
    assert (wlan.address1, wlan.address2, wlan.address3, wlan.address4) == (A, B, C, None)
    assert wlan.length == 24 and wlan.qos is None
    assert p[SNAP].protocol_id == 0x0806 and str(wlan.flow) == f"{B}->{A}"
    assert p.build() == data


def test_four_address_qos_frame():
    built = Dot11(subtype=8, address1=A, address2=B, address3=C, address4=D,
                  flags="to_ds|from_ds", qos=0x0005) / LLC(dsap=0xAA, ssap=0xAA, control=3) / \
        SNAP() / IPv4(src="192.0.2.1", dst="192.0.2.2") / UDP(src_port=1, dst_port=2) / b"hi"
    data = bytes(built)
    assert data[:2] == bytes([0x88, 0x03])
    p = decode(data)
    wlan = p[Dot11]
    assert (wlan.address4, wlan.qos, wlan.length) == (D, 5, 32)
    assert names(p) == ["Dot11", "LLC", "SNAP", "IPv4", "UDP", "Payload"]
    assert bytes(p[UDP].payload) == b"hi" and p.build() == data


def test_qos_data_with_order_has_ht_control():
    data = bytes(Dot11(subtype=8, flags="order", address1=A, address2=B, address3=C, qos=6,
                       ht_control=0x12345678) / LLC(dsap=0xAA, ssap=0xAA, control=3) / SNAP())
    wlan = decode(data)[Dot11]
    assert (wlan.ht_control, wlan.length) == (0x12345678, 30)
    assert data[26:30] == struct.pack("<I", 0x12345678)


@pytest.mark.parametrize(("subtype", "two_addresses"), [(13, False), (12, False), (11, True),
                                                        (9, True), (10, True)])
def test_control_frames_have_one_or_two_addresses(subtype, two_addresses):
    built = Dot11(type="Control", subtype=subtype, address1=A, duration_id=7,
                  address2=B if two_addresses else None)
    data = bytes(built)
    if not two_addresses:  # an ACK or CTS has no transmitter address: giving one is refused
        with pytest.raises(BuildError, match="address2 is given but its condition"):
            bytes(Dot11(type="Control", subtype=subtype, address1=A, address2=B))
    assert len(data) == (16 if two_addresses else 10)
    p = decode(data + (b"\x01\x02" if subtype == 9 else b""))
    wlan = p[Dot11]
    assert (wlan.type, wlan.subtype, wlan.address1) == (1, subtype, A)
    assert wlan.address2 == (B if two_addresses else None)
    assert wlan.address3 is None and wlan.sequence_number is None
    if two_addresses:
        assert str(wlan.flow) == f"{B}->{A}"
    else:
        assert wlan.flow is None  # an ACK or CTS names no transmitter
    assert names(p) == ["Dot11"] + (["Payload"] if subtype == 9 else [])


def test_management_protected_and_null_frames_keep_their_body_as_payload():
    beacon = bytes(Dot11(type="Management", subtype=8, address1="ff:ff:ff:ff:ff:ff",
                         address2=B, address3=B)) + b"\x00" * 12
    p = decode(beacon)
    assert names(p) == ["Dot11", "Payload"] and p[Dot11].length == 24
    protected = bytes(Dot11(flags="protected|to_ds", address1=A, address2=B, address3=C)) \
        + b"\xaa\xaa\x03\x00\x00\x00\x08\x00"
    assert names(decode(protected)) == ["Dot11", "Payload"]
    null = bytes(Dot11(subtype=4, flags="to_ds|power_management", address1=A, address2=B,
                       address3=A))
    assert names(decode(null)) == ["Dot11"]
    amsdu = bytes(Dot11(type="Data", subtype=8, address1=A, address2=B, address3=C,
                        qos=0x80)) + b"\x00" * 14
    assert names(decode(amsdu)) == ["Dot11", "Payload"]


def test_truncated_and_garbage_frames_give_an_error_layer():
    data = bytes(Dot11(subtype=8, flags="to_ds|from_ds", address1=A, address2=B, address3=C,
                       address4=D, qos=1) / LLC(dsap=0xAA, ssap=0xAA, control=3) / SNAP())
    for n in range(1, 32):
        p = pktspec.decode(data[:n], first=Dot11)
        assert p.error is not None and p.error.layer == "Dot11", n
    assert pktspec.decode(data[:32], first=Dot11).error.layer == "LLC"
    assert pktspec.decode(data, first=Dot11).error is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_decode_without_raising(data):
    for first in (Dot11, RadioTap):
        p = pktspec.decode(data, first=first)
        assert p.layers or p.error is not None or not data


# ---- RadioTap: the present bitmap and natural alignment ------------------------------------

FIELDS = dict(tsft=0x0102030405060708, flags=0x02, rate=12, channel_frequency=2437,
              channel_flags=0x00A0, fhss=0x0102, dbm_antenna_signal=-60, dbm_antenna_noise=-95,
              lock_quality=77, tx_attenuation=3, db_tx_attenuation=4, dbm_tx_power=20,
              antenna=1, db_antenna_signal=50, db_antenna_noise=10, rx_flags=0x0002,
              mcs_known=0x07, mcs_flags=0x10, mcs_index=7, ampdu_reference=0xAABBCCDD,
              ampdu_flags=0x0004, ampdu_crc=0x5A, ampdu_reserved=0, vht_known=0x0044,
              vht_flags=0x04, vht_bandwidth=4, vht_mcs_nss=0x92000000, vht_coding=1,
              vht_group_id=0, vht_partial_aid=0x1234)
BITS = {"tsft": ("tsft",), "flags": ("flags",), "rate": ("rate",),
        "channel": ("channel_frequency", "channel_flags"), "fhss": ("fhss",),
        "dbm_antenna_signal": ("dbm_antenna_signal",), "dbm_antenna_noise": ("dbm_antenna_noise",),
        "lock_quality": ("lock_quality",), "tx_attenuation": ("tx_attenuation",),
        "db_tx_attenuation": ("db_tx_attenuation",), "dbm_tx_power": ("dbm_tx_power",),
        "antenna": ("antenna",), "db_antenna_signal": ("db_antenna_signal",),
        "db_antenna_noise": ("db_antenna_noise",), "rx_flags": ("rx_flags",),
        "mcs": ("mcs_known", "mcs_flags", "mcs_index"),
        "ampdu_status": ("ampdu_reference", "ampdu_flags", "ampdu_crc", "ampdu_reserved"),
        "vht": ("vht_known", "vht_flags", "vht_bandwidth", "vht_mcs_nss", "vht_coding",
                "vht_group_id", "vht_partial_aid")}


def radiotap(*present: str, **extra):
    fields = {f: FIELDS[f] for bit in present for f in BITS[bit]}
    return RadioTap(present="|".join(present), **fields, **extra)


@pytest.mark.parametrize(("present", "offsets"), [
    (("tsft",), {"tsft": 8}),
    (("flags", "tsft"), {"tsft": 8, "flags": 16}),
    (("flags", "channel"), {"flags": 8, "channel_frequency": 10, "channel_flags": 12}),
    (("rate", "lock_quality", "antenna", "rx_flags"),
     {"rate": 8, "lock_quality": 10, "antenna": 12, "rx_flags": 14}),
    (("flags", "ampdu_status"), {"flags": 8, "ampdu_reference": 12, "ampdu_flags": 16}),
    (("antenna", "mcs", "vht"), {"antenna": 8, "mcs_known": 9, "mcs_index": 11, "vht_known": 12,
                                 "vht_mcs_nss": 16, "vht_partial_aid": 22}),
    (("dbm_antenna_signal", "fhss", "dbm_tx_power", "db_tx_attenuation"),
     {"fhss": 8, "dbm_antenna_signal": 10, "db_tx_attenuation": 12, "dbm_tx_power": 14}),
])
def test_present_fields_are_aligned_from_the_header_start(present, offsets):
    data = bytes(radiotap(*present) / Dot11(type="Control", subtype=13, address1=A))
    p = decode(data, RadioTap)
    rt = p[RadioTap]
    assert names(p) == ["RadioTap", "Dot11"] and rt.length == len(data) - 10
    for bit in present:
        for f in BITS[bit]:
            assert getattr(rt, f) == FIELDS[f], f
    for f, at in offsets.items():
        size = {"tsft": 8, "ampdu_reference": 4, "vht_mcs_nss": 4}.get(f, 1 if f in (
            "flags", "rate", "antenna", "mcs_known", "mcs_index", "dbm_antenna_signal",
            "dbm_tx_power") else 2)
        signed = f in ("dbm_antenna_signal", "dbm_tx_power")
        order = "big" if f == "vht_mcs_nss" else "little"
        assert int.from_bytes(data[at:at + size], order, signed=signed) == FIELDS[f], f
    absent = [f for bit, fs in BITS.items() if bit not in present for f in fs]
    assert all(getattr(rt, f) is None for f in absent)
    assert p.build() == data


def test_every_present_field_together_round_trips():
    rt = radiotap(*BITS)
    data = bytes(rt / Dot11(address1=A, address2=B, address3=C) /
                 LLC(dsap=0xAA, ssap=0xAA, control=3) / SNAP())
    p = decode(data, RadioTap)
    assert names(p) == ["RadioTap", "Dot11", "LLC", "SNAP"]
    for f, value in FIELDS.items():
        assert getattr(p[RadioTap], f) == value, f
    assert p.build() == data


def test_more_present_words_and_their_fields_stay_in_extra():
    # two present words (ext in the first), then the first word's tsft at offset 16
    ack = Dot11(type="Control", subtype=13, address1=A)
    data = bytes(RadioTap(present="ext|tsft|antenna", ext_present=[0x00000800], tsft=5,
                          antenna=2, extra=b"\x03") / ack)
    rt = decode(data, RadioTap)[RadioTap]
    assert rt.ext_present == [0x800] and rt.length == 26
    assert (rt.tsft, rt.antenna, bytes(rt.extra)) == (5, 2, b"\x03")
    assert data[16:24] == struct.pack("<Q", 5)
    three = bytes(RadioTap(present="ext|flags", ext_present=[0x80000000, 0x20000000],
                           flags="short_preamble") / ack)
    rt = decode(three, RadioTap)[RadioTap]
    assert rt.ext_present == [0x80000000, 0x20000000] and rt.flags.short_preamble
    assert rt.length == 17 and three[16] == 0x02


def test_fcs_flag_makes_the_last_four_bytes_the_fcs_field():
    frame = bytes(Dot11(type="Control", subtype=13, address1=A))
    alone = bytes(RadioTap(present="flags", flags="fcs"))  # the FCS of nothing: CRC-32 0
    assert alone[-4:] == b"\0\0\0\0" and len(alone) == 9 + 4
    data = alone[:9] + frame + b"\x11\x22\x33\x44"
    p = decode(data, RadioTap)
    rt, wlan = p[RadioTap], p[Dot11]
    assert rt.flags.fcs and bytes(rt.trailer) == b"\x11\x22\x33\x44"
    assert rt.fcs == 0x44332211  # little-endian, as sent
    assert bytes(rt.payload) == frame and len(wlan.contents) == 10
    assert names(p) == ["RadioTap", "Dot11"]
    (bad,) = pktspec.verify_checksums(p)  # not the frame's CRC-32
    assert (bad.field, bad.found, bad.expected) == ("fcs", 0x44332211, zlib.crc32(frame))


def test_a_frame_cut_before_its_fcs_keeps_the_radiotap_layer():
    """A capture cut right after the radiotap header (or two bytes into the FCS) keeps the
    RadioTap layer with its fields; the FCS is None and payload_missing says how much of it
    is gone, so packet.truncated is True and nothing is verified."""
    header = bytes(RadioTap(flags="fcs", antenna=2))[:-4]
    for extra, missing in ((b"", 4), (b"\x01\x02", 2)):
        p = pktspec.decode(header + extra, first=RadioTap)
        rt = p[RadioTap]
        assert p.error is None or p.error.layer == "Dot11"
        assert (rt.flags.fcs, rt.antenna, rt.fcs) == (True, 2, None)
        assert (bytes(rt.payload), rt.payload_missing, p.truncated) == (extra, missing, True)
        assert pktspec.verify_checksums(p) == []


def test_the_builder_writes_the_fcs_when_the_flags_say_it_is_sent():
    frame = Dot11(type="Control", subtype=13, address1=A)
    data = bytes(RadioTap(flags="fcs") / frame)  # `flags` given: its present bit is set
    body = bytes(frame)
    assert data[-4:] == struct.pack("<I", zlib.crc32(body)) and data[-8:-4] == body[-4:]
    p = decode(data, RadioTap)
    assert p[RadioTap].fcs == zlib.crc32(body) and pktspec.verify_checksums(p) == []
    assert bytes(RadioTap() / frame)[-len(body):] == body  # no flags, no FCS
    assert decode(bytes(RadioTap() / frame), RadioTap)[RadioTap].fcs is None
    with pytest.raises(BuildError, match="fcs is given but its condition"):
        bytes(RadioTap(fcs=5) / frame)  # the fcs flag is not given: it would be dropped


def test_truncated_radiotap_headers_give_an_error_layer():
    data = bytes(radiotap("tsft", "flags", "channel", "vht") /
                 Dot11(type="Control", subtype=13, address1=A))
    for n in range(1, 44):
        p = pktspec.decode(data[:n], first=RadioTap)
        assert p.error is not None, n
    # a length shorter than the fields it claims
    short = bytearray(data)
    short[2:4] = struct.pack("<H", 12)
    p = pktspec.decode(bytes(short), first=RadioTap)
    assert p.error is not None and p.error.layer == "RadioTap"
