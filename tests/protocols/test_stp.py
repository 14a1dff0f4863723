"""Spanning tree BPDUs (protocols/stp.layer) after LLC with DSAP/SSAP 0x42.

Frames built here with pktspec's builder (802.1D configuration and TCN BPDUs, an RSTP BPDU
with every flag of the RSTP flags byte, an MSTP BPDU) are compared with tshark's reading of
the same frames (tests/tshark_reading.py), and the corpus captures with spanning tree
traffic decode to the values tshark shows for them (`tshark -r
proto__td-stp-llc.pcap -V`). Also: decoding and building again gives the same bytes, the
fast decoder agrees with the construct FORMAT, and a BPDU cut short keeps the Ethernet and
LLC layers and says where the cut is."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.layers import LLC, STP, Dot1Q, Ethernet
from pktspec.protocols.stp import STPPortRole, STPType, STPVersion
from tests.conftest import CAPTURES, corpus_or_skip
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

BRIDGE = "02:00:5e:00:53:01"
BRIDGE_GROUP = "01:80:c2:00:00:00"  # the IEEE 802.1D bridge group address
MST_CONFIG = (bytes(1) + b"region-1".ljust(32, b"\0") + (7).to_bytes(2, "big")
              + bytes(range(0x10, 0x20))  # configuration digest (of our own making)
              + (2000).to_bytes(4, "big")  # CIST internal root path cost
              + bytes.fromhex("7000020000000001")  # CIST bridge identifier
              + bytes([20]))  # CIST remaining hops


def bpdu(stp: STP, *, tag: int | None = None) -> bytes:
    """An 802.3 frame with LLC (DSAP/SSAP 0x42, UI) and the BPDU, padded to 60 bytes. The
    builder leaves an 802.3 length field to the caller: it is the LLC header and the BPDU."""
    inner = pktspec.serialize(LLC(dsap=0x42, ssap=0x42, control=3), stp)
    if tag is None:
        frame = pktspec.serialize(Ethernet(src=BRIDGE, dst=BRIDGE_GROUP, ethertype=len(inner)),
                                  inner)
    else:
        frame = pktspec.serialize(Ethernet(src=BRIDGE, dst=BRIDGE_GROUP),
                                  Dot1Q(vlan_id=tag, ethertype=len(inner)), inner)
    return frame + bytes(max(0, 60 - len(frame)))


TIMERS = {"max_age": 20 * 256, "hello_time": 2 * 256, "forward_delay": 15 * 256}
FRAMES = [
    # 802.1D configuration BPDU, topology change and its acknowledgment set
    bpdu(STP(version="STP", type="Config", tc=1, tca=1, root_priority=8, root_system_id_ext=1,
             root_mac="02:00:5e:00:53:0a", root_path_cost=19, bridge_priority=9,
             bridge_system_id_ext=10, bridge_mac="02:00:5e:00:53:0b", port_id=0x8002,
             message_age=256, **TIMERS)),
    # topology change notification: the 4-byte header alone
    bpdu(STP(type="TCN")),
    # RSTP: proposal, designated role, learning, forwarding, agreement
    bpdu(STP(version="RSTP", type="RST", proposal=1, port_role="Designated", learning=1,
             forwarding=1, agreement=1, root_priority=4, root_mac="02:00:5e:00:53:0c",
             root_path_cost=20000, bridge_priority=6, bridge_system_id_ext=100,
             bridge_mac="02:00:5e:00:53:0d", port_id=0x8011, message_age=512 + 128,
             version1_length=0, **TIMERS)),
    # MSTP: the root port, with the MSTP part (configuration identifier and CIST only)
    bpdu(STP(version="MSTP", type="RST", port_role="Root", tc=1, root_priority=8,
             root_mac="02:00:5e:00:53:0e", root_path_cost=4, bridge_priority=7,
             bridge_mac="02:00:5e:00:53:0f", port_id=0x8001, version1_length=0,
             mstp=MST_CONFIG, **TIMERS)),
    # RSTP with an alternate port's role, behind an 802.1Q tag
    bpdu(STP(version="RSTP", type="RST", port_role="AlternateBackup", tca=1, root_priority=15,
             root_system_id_ext=4095, root_mac="02:00:5e:00:53:10", root_path_cost=0xFFFFFFFF,
             bridge_priority=15, bridge_system_id_ext=4095, bridge_mac="02:00:5e:00:53:11",
             port_id=0xF0FF, message_age=0xFFFF, max_age=1, hello_time=0, forward_delay=255,
             version1_length=0), tag=1213),
]

FIELDS = ["stp.protocol", "stp.version", "stp.type", "stp.flags", "stp.flags.tcack",
          "stp.flags.agreement", "stp.flags.forwarding", "stp.flags.learning",
          "stp.flags.port_role", "stp.flags.proposal", "stp.flags.tc", "stp.root.prio",
          "stp.root.ext", "stp.root.hw", "stp.root.cost", "stp.bridge.prio", "stp.bridge.ext",
          "stp.bridge.hw", "stp.port", "stp.msg_age", "stp.max_age", "stp.hello",
          "stp.forward", "stp.version_1_length", "mstp.version_3_length", "mstp.config_name",
          "mstp.config_revision_level", "mstp.config_digest",
          "mstp.cist_internal_root_path_cost", "mstp.cist_remaining_hops"]


def seconds(value: int) -> str:
    """A timer in 1/256 s as tshark prints it (a double, in seconds)."""
    return f"{value / 256:.15g}"


def stp_reading(packet) -> dict[str, str]:
    """Our decode, written as tshark writes those fields: the RSTP flags only for RSTP and
    MSTP BPDUs (version 2 and up), the MSTP fields from the raw MSTP part."""
    s = packet[STP]
    row = dict.fromkeys(FIELDS, "")
    row.update({"stp.protocol": f"0x{s.protocol_id:04x}", "stp.version": str(s.version),
                "stp.type": f"0x{s.type:02x}"})
    if s.type == STPType.TCN:
        return row
    flags = (s.tca << 7 | s.agreement << 6 | s.forwarding << 5 | s.learning << 4
             | s.port_role << 2 | s.proposal << 1 | s.tc)
    row.update({"stp.flags": f"0x{flags:02x}", "stp.flags.tcack": str(s.tca),
                "stp.flags.tc": str(s.tc),
                "stp.root.prio": str(s.root_priority * 4096),
                "stp.root.ext": str(s.root_system_id_ext), "stp.root.hw": s.root_mac,
                "stp.root.cost": str(s.root_path_cost),
                "stp.bridge.prio": str(s.bridge_priority * 4096),
                "stp.bridge.ext": str(s.bridge_system_id_ext), "stp.bridge.hw": s.bridge_mac,
                "stp.port": f"0x{s.port_id:04x}", "stp.msg_age": seconds(s.message_age),
                "stp.max_age": seconds(s.max_age), "stp.hello": seconds(s.hello_time),
                "stp.forward": seconds(s.forward_delay)})
    if s.version >= STPVersion.RSTP:
        row.update({"stp.flags.agreement": str(s.agreement),
                    "stp.flags.forwarding": str(s.forwarding),
                    "stp.flags.learning": str(s.learning),
                    "stp.flags.port_role": str(s.port_role),
                    "stp.flags.proposal": str(s.proposal)})
    if s.version1_length is not None:
        row["stp.version_1_length"] = str(s.version1_length)
    if s.version3_length is not None:
        mstp = bytes(s.mstp)
        row.update({"mstp.version_3_length": str(s.version3_length),
                    "mstp.config_name": mstp[1:33].rstrip(b"\0").decode(),
                    "mstp.config_revision_level": str(int.from_bytes(mstp[33:35], "big")),
                    "mstp.config_digest": mstp[35:51].hex(),
                    "mstp.cist_internal_root_path_cost": str(int.from_bytes(mstp[51:55],
                                                                            "big")),
                    "mstp.cist_remaining_hops": str(mstp[63])})
    return row


def test_bpdus_read_as_tshark_reads_them(tmp_path):
    truth = tshark_fields(FRAMES, FIELDS, tmp_path)
    packets = [pktspec.decode(frame) for frame in FRAMES]
    assert [p.error for p in packets] == [None] * len(FRAMES)
    assert [[x.name for x in p.layers] for p in packets] == (
        [["Ethernet", "LLC", "STP"]] * 4 + [["Ethernet", "Dot1Q", "LLC", "STP"]])
    assert [stp_reading(p) for p in packets] == truth
    # the values themselves, so that an empty reading on both sides cannot pass
    config, tcn, rstp, mstp, alternate = truth
    assert (config["stp.flags"], config["stp.root.prio"], config["stp.root.ext"]) == \
        ("0x81", "32768", "1")
    assert (config["stp.bridge.prio"], config["stp.bridge.hw"], config["stp.root.cost"]) == \
        ("36864", "02:00:5e:00:53:0b", "19")
    assert (config["stp.msg_age"], config["stp.max_age"], config["stp.hello"],
            config["stp.forward"]) == ("1", "20", "2", "15")
    assert config["stp.flags.port_role"] == ""  # no RSTP flags in an 802.1D BPDU
    assert (tcn["stp.type"], tcn["stp.flags"], tcn["stp.root.hw"]) == ("0x80", "", "")
    assert (rstp["stp.version"], rstp["stp.type"], rstp["stp.flags"]) == ("2", "0x02", "0x7e")
    assert (rstp["stp.flags.port_role"], rstp["stp.msg_age"], rstp["stp.version_1_length"]) \
        == ("3", "2.5", "0")
    assert (mstp["stp.flags"], mstp["mstp.version_3_length"], mstp["mstp.config_name"]) == \
        ("0x09", "64", "region-1")
    assert (mstp["mstp.config_revision_level"], mstp["mstp.cist_remaining_hops"]) == ("7", "20")
    assert (alternate["stp.flags"], alternate["stp.root.prio"], alternate["stp.root.ext"]) == \
        ("0x84", "61440", "4095")
    assert (alternate["stp.root.cost"], alternate["stp.port"]) == ("4294967295", "0xf0ff")
    assert (alternate["stp.msg_age"], alternate["stp.max_age"], alternate["stp.forward"]) == \
        ("255.99609375", "0.00390625", "0.99609375")


def test_fields_by_name():
    config = pktspec.decode(FRAMES[0])[STP]
    assert config.type == STPType.Config and str(STPType(config.type)) == "Config (0)"
    assert (config.tc, config.tca, config.port_role, config.proposal) == (1, 1, 0, 0)
    assert (config.root_priority, config.root_system_id_ext, config.root_mac) == \
        (8, 1, "02:00:5e:00:53:0a")
    assert (config.bridge_priority, config.bridge_system_id_ext, config.bridge_mac) == \
        (9, 10, "02:00:5e:00:53:0b")
    assert (config.root_path_cost, config.port_id, config.message_age) == (19, 0x8002, 256)
    assert (config.max_age, config.hello_time, config.forward_delay) == (5120, 512, 3840)
    assert config.version1_length is None and config.mstp is None
    assert len(config.contents) == 35 and len(config.trailer) == 0  # padding is Ethernet's
    assert len(pktspec.decode(FRAMES[0])[Ethernet].trailer) == 60 - 14 - 3 - 35

    tcn = pktspec.decode(FRAMES[1])[STP]
    assert (tcn.protocol_id, tcn.version, tcn.type) == (0, STPVersion.STP, STPType.TCN)
    assert tcn.tc is None and tcn.root_mac is None and tcn.forward_delay is None
    assert len(tcn.contents) == 4

    rstp = pktspec.decode(FRAMES[2])[STP]
    assert rstp.port_role == STPPortRole.Designated == 3
    assert str(STPPortRole(rstp.port_role)) == "Designated (3)"
    assert (rstp.agreement, rstp.forwarding, rstp.learning, rstp.proposal, rstp.tca) == \
        (1, 1, 1, 1, 0)
    assert rstp.version1_length == 0 and rstp.version3_length is None

    mstp = pktspec.decode(FRAMES[3])[STP]
    assert mstp.version == STPVersion.MSTP and mstp.port_role == STPPortRole.Root
    assert mstp.version3_length == 64 and bytes(mstp.mstp) == MST_CONFIG
    assert len(mstp.contents) == 36 + 2 + 64


def test_decode_then_build_gives_the_same_bytes_and_both_decoders_agree():
    for frame in FRAMES:
        p = pktspec.decode(frame)
        assert p.error is None
        assert p.build() == frame
        assert pktspec.serialize(p) == frame
        agree(p[STP])


def test_the_builder_fills_the_mstp_length_and_defaults_to_a_configuration_bpdu():
    assert bytes(STP()) == bytes(35)  # protocol 0, version 0, a configuration BPDU of zeros
    assert bytes(STP(type="TCN")) == bytes.fromhex("00000080")
    built = bytes(STP(version="MSTP", type="RST", mstp=b"\x01\x02\x03"))
    assert built[35:] == bytes.fromhex("00" "0003" "010203")  # version 1 and 3 lengths
    tcn = pktspec.decode(pktspec.serialize(Ethernet(ethertype=7), LLC(dsap=0x42, ssap=0x42,
                                                                     control=3), STP(type=0x80)))
    assert tcn[STP].type == STPType.TCN and tcn.error is None


def test_an_edit_rebuilds_the_bpdu():
    p = pktspec.decode(FRAMES[0])
    p[STP].root_path_cost = 4
    p[STP].port_role = "Root"
    again = pktspec.decode(p.build())
    assert (again[STP].root_path_cost, again[STP].port_role, again[STP].tc) == (4, 2, 1)


@pytest.mark.parametrize(("kept", "field", "offset", "message"), [
    (0, "protocol_id", 17, "protocol_id needs bytes 0..2 of the header, only 0 present"),
    (1, "protocol_id", 17, "protocol_id needs bytes 0..2 of the header, only 1 present"),
    (3, "type", 20, "type needs bytes 3..4 of the header, only 3 present"),
    # a TCN would end here, but this BPDU says Config: its flags are missing
    (4, "tca", 21, "tca needs bytes 4..5 of the header, only 4 present"),
    (5, "root_priority", 22, "root_priority needs bytes 5..7 of the header, only 5 present"),
    (34, "forward_delay", 50,
     "forward_delay needs bytes 33..35 of the header, only 34 present"),
])
def test_a_bpdu_cut_short_keeps_the_ethernet_and_llc_layers(kept, field, offset, message):
    p = pktspec.decode(FRAMES[0][:17 + kept])
    assert [x.name for x in p.layers] == ["Ethernet", "LLC", "DecodeFailure"]
    assert p.truncated and p[LLC].dsap == 0x42 and p[Ethernet].ethertype == 38
    assert (p.error.layer, p.error.field_path, p.error.offset) == ("STP", field, offset)
    assert p.error.message == f"truncated: {message}"
    with pytest.raises(pktspec.errors.DecodeError):
        pktspec.decode(FRAMES[0][:17 + kept], strict=True)


def test_an_mstp_part_shorter_than_its_length_is_an_error():
    p = pktspec.decode(FRAMES[3][:100])  # version 3 length 64, 47 bytes of it there
    assert (p.error.layer, p.error.offset) == ("STP", 17)
    assert p.error.message == "truncated: only 83 bytes present"


# ---- the corpus ------------------------------------------------------------------------------


def test_the_stp_capture_decodes_as_tshark_shows_it():
    corpus_or_skip()
    packets = list(pktspec.open(CAPTURES / "proto__td-stp-llc.pcap"))
    assert len(packets) == 14
    for p in packets:  # tshark: Conf. Root = 32768/1/00:19:06:ea:b8:80  Cost = 0  Port = 0x8005
        assert [x.name for x in p.layers] == ["Ethernet", "LLC", "STP"] and p.error is None
        s = p[STP]
        assert (s.protocol_id, s.version, s.type) == (0, STPVersion.STP, STPType.Config)
        assert (s.tc, s.tca) == (0, 0)
        assert (s.root_priority * 4096, s.root_system_id_ext, s.root_mac) == \
            (32768, 1, "00:19:06:ea:b8:80")
        assert (s.bridge_priority * 4096, s.bridge_system_id_ext, s.bridge_mac) == \
            (32768, 1, "00:19:06:ea:b8:80")
        assert (s.root_path_cost, s.port_id) == (0, 0x8005)
        # Message Age 0, Max Age 20, Hello Time 2, Forward Delay 15 (seconds)
        assert (s.message_age, s.max_age, s.hello_time, s.forward_delay) == (0, 5120, 512, 3840)
        assert p[Ethernet].src == "00:19:06:ea:b8:85" and p[Ethernet].ethertype == 38
        assert bytes(p[Ethernet].trailer) == bytes(8)  # tshark: Padding: 0000000000000000
        assert p.build() == bytes(p.layers[0].contents) + bytes(p.layers[0].payload) + \
            bytes(p.layers[0].trailer)


def test_the_802_1d_bpdus_of_the_gre_capture():
    corpus_or_skip()
    packets = list(pktspec.open(CAPTURES / "proto__td-gre-various.pcap"))
    # the frames tshark shows with LLC DSAP 0x42 (the others are Cisco's PVST+ over SNAP)
    frames = [3, 6, 9, 14, 19, 23, 36, 39, 44, 50, 54, 57, 60, 68, 74, 78, 81, 84, 90, 95, 99]
    for n in frames:
        p = packets[n - 1]
        assert [x.name for x in p.layers] == ["Ethernet", "LLC", "STP"] and p.error is None
        s = p[STP]  # tshark: Conf. Root = 32768/1/aa:bb:cc:00:03:00  Cost = 0  Port = 0x8002
        assert (s.root_priority, s.root_system_id_ext, s.root_mac) == (8, 1, "aa:bb:cc:00:03:00")
        assert (s.bridge_mac, s.root_path_cost, s.port_id) == ("aa:bb:cc:00:03:00", 0, 0x8002)
        assert (s.max_age, s.hello_time, s.forward_delay) == (5120, 512, 3840)
    assert sum(STP in p for p in packets) >= len(frames)


# ---- generated BPDUs -------------------------------------------------------------------------

u16 = st.integers(0, 0xFFFF)


@st.composite
def bpdus(draw) -> STP:
    kind = draw(st.sampled_from(["TCN", "Config", "RSTP", "MSTP"]))
    if kind == "TCN":
        return STP(version=draw(st.integers(0, 255)), type="TCN")
    fields = {
        "tca": draw(st.integers(0, 1)), "agreement": draw(st.integers(0, 1)),
        "forwarding": draw(st.integers(0, 1)), "learning": draw(st.integers(0, 1)),
        "port_role": draw(st.integers(0, 3)), "proposal": draw(st.integers(0, 1)),
        "tc": draw(st.integers(0, 1)), "root_priority": draw(st.integers(0, 15)),
        "root_system_id_ext": draw(st.integers(0, 4095)),
        "root_mac": draw(st.binary(min_size=6, max_size=6)),
        "root_path_cost": draw(st.integers(0, 0xFFFFFFFF)),
        "bridge_priority": draw(st.integers(0, 15)),
        "bridge_system_id_ext": draw(st.integers(0, 4095)),
        "bridge_mac": draw(st.binary(min_size=6, max_size=6)), "port_id": draw(u16),
        "message_age": draw(u16), "max_age": draw(u16), "hello_time": draw(u16),
        "forward_delay": draw(u16),
    }
    if kind == "Config":
        return STP(version="STP", type="Config", **fields)
    if kind == "RSTP":
        return STP(version="RSTP", type="RST", version1_length=draw(st.integers(0, 255)),
                   **fields)
    return STP(version=draw(st.integers(3, 255)), type="RST", version1_length=0,
               mstp=draw(st.binary(max_size=200)), **fields)


@settings(max_examples=150, deadline=None)
@given(stp=bpdus(), tagged=st.booleans())
def test_generated_bpdus_decode_build_back_and_both_decoders_agree(stp, tagged):
    frame = bpdu(stp, tag=5 if tagged else None)
    p = pktspec.decode(frame)
    assert p.error is None and p.layers[-1].name == "STP"
    agree(p[STP])
    assert p.build() == frame
    decoded = p[STP].fields()
    # the decoded values build the same bytes again (not the packet's bytes kept as they were)
    assert bytes(STP(**{k: v for k, v in decoded.items() if v is not None})) == \
        bytes(p[STP].contents)
    if stp.type == STPType.TCN:  # the four bytes alone
        assert len(p[STP].contents) == 4
        assert {k for k, v in decoded.items() if v is not None} == {"protocol_id", "version",
                                                                    "type"}
        return
    for name, value in stp.fields().items():
        if value is not None:
            assert decoded[name] == value, name


def test_pvst_plus_is_stp_under_ciscos_snap_oui():
    """Cisco's PVST+ sends the BPDU in SNAP with Cisco's OUI and protocol ID 0x010b: SNAP's
    second next rule finds STP there, and the builder, given SNAP()/STP(), takes that rule
    (EtherType binds no STP) and makes its condition hold: Cisco's OUI."""
    from pktspec.layers import SNAP

    frame = pktspec.serialize(Ethernet(dst="01:00:0c:cc:cc:cd"),
                              LLC(dsap=0xAA, ssap=0xAA, control=3), SNAP(), STP(root_mac=BRIDGE))
    packet = pktspec.decode(frame)
    snap = packet[SNAP]
    assert (snap.oui, snap.protocol_id) == (0x00000C, 0x010B)
    assert [x.name for x in packet.layers][-2:] == ["SNAP", "STP"]
    assert packet[STP].root_mac == BRIDGE
    from pktspec.errors import BuildError
    from pktspec.layers import IPv4

    with pytest.raises(BuildError, match="no next rule takes STP"):  # oui given: kept
        pktspec.serialize(LLC(dsap=0xAA) / SNAP(oui=0x0080C2) / STP())
    with pytest.raises(BuildError, match="no next rule takes IPv4"):
        pktspec.serialize(LLC(dsap=0xAA) / SNAP(oui="Cisco") / IPv4())


def test_the_corpus_pvst_plus_bpdus_decode_as_stp():
    corpus_or_skip()
    packets = list(pktspec.open(CAPTURES / "proto__td-gre-various.pcap"))
    pvst = [p for p in packets if p.layer("SNAP") is not None and p.layer("STP") is not None]
    assert len(pvst) == 42
    assert all(p["SNAP"].protocol_id == 0x010B for p in pvst)
