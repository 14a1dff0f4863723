"""RMCP (rmcp.layer): the RMCP header over UDP port 623, ASF messages, and the presence pong.

Frames are built with pktspec's builder and read back by pktspec and by tshark, whose
reading is the truth for every field it has (tshark shows a presence pong's data as bytes,
which are compared whole). Also: the lengths the builder fills, round trips, truncated
frames, and the fast decoder against the construct FORMAT.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.layers import UDP, Ethernet, IPv4, IPv6
from pktspec.protocols.rmcp import ASF, RMCP, ASFMessageType, ASFPresencePong, RMCPClass
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

FIELDS = ("rmcp.version", "rmcp.reserved", "rmcp.sequence", "rmcp.class", "rmcp.type",
          "asf.iana", "asf.type", "asf.tag", "asf.len", "data.data", "udp.srcport",
          "udp.dstport")

SESSION_DATA = bytes.fromhex("0000000000000000000c")  # an open session request's data


def over_udp(*layers, v6: bool = False, from_server: bool = False) -> bytes:
    ip = IPv6(src="2001:db8::1", dst="2001:db8::2") if v6 else \
        IPv4(src="192.0.2.1", dst="192.0.2.2")
    ports = (623, 40000) if from_server else (40000, 623)
    return pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"), ip,
                             UDP(src_port=ports[0], dst_port=ports[1]), *layers)


def frames() -> list[bytes]:
    return [
        # a presence ping and its pong (the pong from the server's port)
        over_udp(RMCP(sequence=0), ASF(message_type="PresencePing", message_tag=0x21)),
        over_udp(RMCP(sequence=0), ASF(message_type="PresencePong", message_tag=0x21),
                 ASFPresencePong(enterprise=36465, ipmi=1, asf_v1=1, dash=1,
                                 security_extensions=1), from_server=True),
        # an ASF pong with OEM capabilities, over IPv6
        over_udp(RMCP(sequence=7), ASF(message_type="PresencePong", message_tag=0xFF),
                 ASFPresencePong(enterprise=343, oem=b"\x01\x02\x03\x04", asf_v1=1), v6=True),
        # the acknowledgement of message 7: no data
        over_udp(RMCP(sequence=7, ack=1, message_class="ASF"), from_server=True),
        # an ASF message whose data stays payload
        over_udp(RMCP(sequence=200), ASF(message_type="OpenSessionRequest", message_tag=5),
                 SESSION_DATA),
        # an OEM class message
        over_udp(RMCP(message_class="OEM", sequence=3), b"\x00\x00\x01\x57oem data"),
        # a pong type under an OEM's enterprise number: not ASF's presence pong
        over_udp(RMCP(), ASF(enterprise=343, message_type=0x40, message_tag=1),
                 b"vendor-specific!"),
    ]


def ours(p) -> dict[str, str]:
    """Our reading of a packet in tshark's terms (-T fields)."""
    r = p[RMCP]
    a = p.layer(ASF)
    data = ""
    if a is not None and a.data_length:
        data = bytes(a.payload).hex()
    elif a is None and r.message_class == RMCPClass.OEM:
        data = bytes(r.payload).hex()
    return {
        "rmcp.version": f"0x{r.version:02x}", "rmcp.reserved": f"0x{r.reserved:02x}",
        "rmcp.sequence": f"0x{r.sequence:02x}", "rmcp.class": f"0x{r.message_class:02x}",
        "rmcp.type": f"0x{r.ack:02x}",
        "asf.iana": str(a.enterprise) if a else "",
        "asf.type": f"0x{a.message_type:02x}" if a else "",
        "asf.tag": f"0x{a.message_tag:02x}" if a else "",
        "asf.len": str(a.data_length) if a else "",
        "data.data": data,
        "udp.srcport": str(p[UDP].src_port), "udp.dstport": str(p[UDP].dst_port),
    }


def test_every_field_reads_as_tshark_reads_it(tmp_path):
    built = [f for i, f in enumerate(frames()) if i != 4]  # tshark decodes 4's data further
    truth = tshark_fields(built, FIELDS, tmp_path)
    assert len(truth) == len(built)
    for data, row in zip(built, truth, strict=True):
        p = pktspec.decode(data)
        assert p.error is None
        assert row == ours(p)


def test_asf_data_tshark_decodes_further_is_our_payload(tmp_path):
    data = frames()[4]
    (row,) = tshark_fields([data], ["asf.type", "asf.len", "asf.mgt_console_id"], tmp_path)
    p = pktspec.decode(data)
    assert [x.name for x in p.layers][-2:] == ["ASF", "Payload"]
    assert row == {"asf.type": "0x83", "asf.len": "10", "asf.mgt_console_id": "0"}
    assert bytes(p[ASF].payload) == SESSION_DATA


def test_the_layers_of_each_frame():
    names = [[x.name for x in pktspec.decode(f).layers][3:] for f in frames()]
    assert names == [["RMCP", "ASF"], ["RMCP", "ASF", "ASFPresencePong"],
                     ["RMCP", "ASF", "ASFPresencePong"], ["RMCP"], ["RMCP", "ASF", "Payload"],
                     ["RMCP", "Payload"], ["RMCP", "ASF", "Payload"]]


def test_known_values_of_the_built_frames():
    p = pktspec.decode(frames()[1])
    r, a, pong = p[RMCP], p[ASF], p[ASFPresencePong]
    assert (r.version, r.reserved, r.sequence, r.ack, r.message_class) == (6, 0, 0, 0, 6)
    assert str(r.fields()["message_class"]) == "ASF (6)"
    assert (a.enterprise, a.message_type, a.message_tag, a.data_length) == (4542, 0x40, 0x21, 16)
    assert a.message_type == ASFMessageType.PresencePong
    assert (pong.enterprise, pong.oem, pong.ipmi, pong.asf_v1, pong.security_extensions,
            pong.dash) == (36465, b"\0\0\0\0", 1, 1, 1, 1)
    assert bytes(p[UDP].payload)[12:] == bytes.fromhex("00008e7100000000 81a0 000000000000")
    oem = pktspec.decode(frames()[2])[ASFPresencePong]
    assert (oem.enterprise, oem.oem, oem.ipmi, oem.asf_v1, oem.dash) == (343, b"\1\2\3\4", 0, 1, 0)
    ack = pktspec.decode(frames()[3])
    assert ack[RMCP].ack == 1 and bytes(ack[UDP].payload) == bytes.fromhex("06000786")


def test_defaults_make_an_rmcp_1_0_message_that_asks_for_no_ack():
    data = over_udp(RMCP(), ASF(message_type="PresencePing"))
    assert bytes(pktspec.decode(data)[UDP].payload) == bytes.fromhex("0600ff06000011be80000000")


def test_lengths_filled_by_the_builder():
    p = pktspec.decode(frames()[4])
    assert p[ASF].data_length == len(SESSION_DATA) and p[UDP].length == 8 + 4 + 8 + 10
    q = pktspec.decode(pktspec.serialize(RMCP(), ASF(message_type="CapabilitiesResponse"),
                                         b"x" * 30), first=RMCP)
    assert q[ASF].data_length == 30 and q.error is None


def test_round_trips():
    for data in frames():
        assert pktspec.serialize(pktspec.decode(data)) == data
        assert pktspec.decode(data).build(fix_lengths=True, compute_checksums=True) == data


def test_an_edit_rebuilds_the_udp_checksum(tmp_path):
    p = pktspec.decode(frames()[0])
    p[RMCP].sequence = 9
    p[ASF].message_tag = 0x44
    data = p.build()
    q = pktspec.decode(data)
    assert (q[RMCP].sequence, q[ASF].message_tag) == (9, 0x44) and q.verify_checksums() == []
    (row,) = tshark_fields([data], ["rmcp.sequence", "asf.tag"], tmp_path)
    assert row == {"rmcp.sequence": "0x09", "asf.tag": "0x44"}


def test_data_length_beyond_the_datagram_marks_the_packet_truncated():
    data = over_udp(RMCP(), ASF(message_type="CapabilitiesResponse", data_length=40), b"x" * 8)
    p = pktspec.decode(data)
    assert p.truncated and p[ASF].payload_missing == 32


def test_a_cut_presence_pong_stays_bytes_and_the_packet_says_truncated():
    """Pong data shorter than its 16 bytes is not taken for a pong (tshark shows it as
    data); ASF's data length says how much is missing."""
    start = 14 + 20 + 8
    p = pktspec.decode(frames()[1][:start + 4 + 8 + 6])
    assert [x.name for x in p.layers][-3:] == ["RMCP", "ASF", "Payload"]
    assert p.error is None and p.truncated and p[ASF].payload_missing == 10


def test_an_acknowledgement_carries_no_message():
    """RMCP's ACK bit: bytes after an acknowledgement are not an ASF message (tshark stops
    there too)."""
    start = 14 + 20 + 8
    data = bytearray(frames()[1])
    data[start + 3] |= 0x80
    p = pktspec.decode(bytes(data))
    assert [x.name for x in p.layers][-2:] == ["RMCP", "Payload"] and p[RMCP].ack == 1


@pytest.mark.parametrize("cut, layer, names", [
    (3, "RMCP", ["RMCP"]), (4 + 5, "ASF", ["RMCP", "ASF"])])
def test_a_truncated_packet_keeps_the_layers_before_it(cut, layer, names):
    start = 14 + 20 + 8
    data = frames()[1][:start + cut]
    p = pktspec.decode(data)
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "UDP", *names[:-1],
                                           "DecodeFailure"]
    assert p.truncated and p.error.truncated and p.error.layer == layer
    assert p.error.offset >= start and "truncated" in p.error.message


def test_fast_decoder_and_construct_agree():
    for data in frames():
        for layer in pktspec.decode(data).layers[3:]:
            if layer.name != "Payload":
                agree(layer)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(head=st.binary(min_size=4, max_size=4), asf=st.binary(min_size=8, max_size=8),
       kind=st.sampled_from([0x40, 0x80, 0x83, 0x00]), rest=st.binary(max_size=40))
def test_fast_decoder_and_construct_agree_on_generated_packets(head, asf, kind, rest):
    data = head[:3] + bytes([head[3] & 0x80 | 6]) + bytes.fromhex("000011be") + \
        bytes([kind]) + asf[5:8] + rest
    p = pktspec.decode(data, first=RMCP)  # never raises
    for layer in p.layers:
        if layer.name not in ("Payload", "DecodeFailure"):
            agree(layer)


def test_the_builder_fills_class_and_message_type_from_the_layers_on_top():
    data = bytes(RMCP() / ASF() / ASFPresencePong(ipmi=1))
    p = pktspec.decode(data, first=RMCP)
    assert [x.name for x in p.layers] == ["RMCP", "ASF", "ASFPresencePong"]
    assert (p[RMCP].message_class, p[ASF].message_type, p[ASF].data_length) == (6, 0x40, 16)
    assert p[ASF].enterprise == 4542 and p[ASFPresencePong].ipmi == 1
