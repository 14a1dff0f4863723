"""FDDI (protocols/fddi.layer), LINKTYPE_FDDI (10).

Frames are built with pktspec's builder (asynchronous LLC frames of several priorities
carrying IP and spanning tree, an SMT frame, a token-class frame), written as an FDDI
capture and read back by pktspec and by tshark, whose reading is the truth for the frame
control and what follows the header. tshark reads this link type as "FDDI with bit-swapped
MAC addresses" and shows each address byte bit-reversed, where libpcap, tcpdump and pktspec
take the addresses as they are in the capture (Linux captures them in canonical order): the
addresses are compared through that reversal. Also: round trips, truncated frames, flows,
and the fast decoder against the construct FORMAT.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.capture.pcap import PcapWriter
from pktspec.layers import LLC, SNAP, STP, UDP, Ethernet, IPv4
from pktspec.protocols.fddi import FDDI
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

FIELDS = ("fddi.fc", "fddi.fc.clf", "fddi.fc.prio", "fddi.dst", "fddi.src", "llc.dsap",
          "llc.oui", "llc.type", "ip.src", "udp.dstport", "stp.protocol", "frame.protocols")
A = "02:00:5e:00:53:01"
B = "02:00:5e:10:20:f3"


def over_ip(fc: int) -> bytes:
    return pktspec.serialize(FDDI(frame_control=fc, dst=A, src=B), LLC(dsap=0xAA),
                             SNAP(oui=0), IPv4(src="192.0.2.1", dst="192.0.2.2"),
                             UDP(src_port=1000, dst_port=9), b"fddi")


def frames() -> list[bytes]:
    return [
        over_ip(0x50),
        over_ip(0x54),  # priority 4
        over_ip(0x5F),  # the reserved control bit set: still LLC
        pktspec.serialize(FDDI(dst="01:80:c2:00:00:00", src=A), LLC(dsap=0x42),
                          STP(type="TCN")),
        pktspec.serialize(FDDI(frame_control=0x41, dst=A, src=B), bytes(20)),  # SMT info
        pktspec.serialize(FDDI(frame_control=0xC3, dst="ff:ff:ff:ff:ff:ff", src=B),
                          bytes(4)),  # MAC frame
    ]


def swapped(address: str) -> str:
    """An address with each byte bit-reversed, as tshark shows FDDI addresses."""
    return ":".join(f"{int(f'{int(b, 16):08b}'[::-1], 2):02x}" for b in address.split(":"))


def ours(p) -> dict[str, str]:
    """Our reading of an FDDI frame in tshark's terms (-T fields); tshark prints each address
    field twice (once more for the hidden fddi.addr it also files under it)."""
    f = p[FDDI]
    return {
        "fddi.fc": f"0x{f.frame_control:02x}",
        "fddi.fc.clf": f"0x{f.frame_control >> 4:02x}",
        # tshark shows a priority only with the reserved fifth bit clear (0x50-0x57)
        "fddi.fc.prio": str(f.priority) if f.frame_control & 0xF8 == 0x50 else "",
        "fddi.dst": ",".join([swapped(f.dst)] * 2),
        "fddi.src": ",".join([swapped(f.src)] * 2),
        "llc.dsap": f"0x{p[LLC].dsap:02x}" if LLC in p else "",
        "llc.oui": str(p[SNAP].oui) if SNAP in p else "",
        "llc.type": f"0x{p[SNAP].protocol_id:04x}" if SNAP in p else "",
        "ip.src": p[IPv4].src if IPv4 in p else "",
        "udp.dstport": str(p[UDP].dst_port) if UDP in p else "",
        "stp.protocol": f"0x{p[STP].protocol_id:04x}" if STP in p else "",
    }


def test_every_field_reads_as_tshark_reads_it(tmp_path):
    built = frames()
    truth = tshark_fields(built, FIELDS, tmp_path, linktype=10)
    assert len(truth) == len(built)
    for i, (data, row) in enumerate(zip(built, truth, strict=True)):
        p = pktspec.decode(data, first=FDDI)
        assert p.error is None, (i, p.error)
        mine = ours(p)
        assert {k: row[k] for k in mine} == mine, i
        # the same protocols, up to the names tshark gives its own layers
        llc = "llc" in row["frame.protocols"]
        assert (LLC in p) == llc, i


def test_known_values_of_the_built_frames():
    p = pktspec.decode(frames()[1], first=FDDI)
    f = p[FDDI]
    assert [x.name for x in p.layers] == ["FDDI", "LLC", "SNAP", "IPv4", "UDP", "Payload"]
    assert (f.frame_control, f.priority, f.dst, f.src) == (0x54, 4, A, B)
    assert len(f.contents) == 13 and frames()[1][1:7] == bytes.fromhex("02005e005301")
    assert f.flow.src.raw == bytes.fromhex("02005e1020f3") and str(f.flow.dst) == A
    # the same MAC flow as an Ethernet frame between the same stations
    ether = pktspec.decode(pktspec.serialize(Ethernet(src=B, dst=A), b"x"))[Ethernet]
    assert f.flow == ether.flow
    smt = pktspec.decode(frames()[4], first=FDDI)
    assert [x.name for x in smt.layers] == ["FDDI", "Payload"] and smt.error is None


def test_an_fddi_capture_starts_with_fddi(tmp_path):
    path = tmp_path / "fddi.pcap"
    with PcapWriter(path, linktype=10) as writer:
        for i, data in enumerate(frames()):
            writer.write(data, 1_700_000_000 + i)
    names = [[x.name for x in p.layers] for p in pktspec.open(path)]
    assert names[0] == ["FDDI", "LLC", "SNAP", "IPv4", "UDP", "Payload"]
    assert names[3] == ["FDDI", "LLC", "STP"] and len(names) == len(frames())


def test_round_trips():
    for data in frames():
        p = pktspec.decode(data, first=FDDI)
        assert pktspec.serialize(p) == data
        assert p.build(fix_lengths=True, compute_checksums=True) == data


@pytest.mark.parametrize("cut, field", [(0, "frame_control"), (4, "dst"), (10, "src")])
def test_a_truncated_header_is_an_error_layer(cut, field):
    p = pktspec.decode(frames()[0][:cut], first=FDDI)
    assert [x.name for x in p.layers] == ["DecodeFailure"]
    assert p.truncated and p.error.layer == "FDDI" and p.error.field_path == field
    assert "truncated" in p.error.message


def test_a_truncated_frame_keeps_the_fddi_and_llc_layers():
    p = pktspec.decode(frames()[0][:13 + 3 + 2], first=FDDI)
    assert [x.name for x in p.layers] == ["FDDI", "LLC", "DecodeFailure"]
    assert p.error.layer == "SNAP" and p.error.offset >= 16 and p.truncated


def test_fast_decoder_and_construct_agree():
    for data in frames():
        agree(pktspec.decode(data, first=FDDI)[FDDI])


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=40))
def test_fast_decoder_and_construct_agree_on_generated_frames(data):
    p = pktspec.decode(data, first=FDDI)  # never raises
    if p.error is None or p.error.layer != "FDDI":
        agree(p.layers[0])
