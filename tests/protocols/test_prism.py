"""The Prism monitor-mode header (protocols/prism.layer), LINKTYPE_IEEE802_11_PRISM (119).

Frames are built with pktspec's builder (a full ten-item header of each message code, a
shorter one, items the driver did not supply, an unknown item), written as a Prism capture
and read back by pktspec and by tshark, whose reading is the truth: the message code and
length, the device name, every item and the 802.11 frame after the header. Also: round
trips, truncated frames, and the fast decoder against the construct FORMAT.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.capture.pcap import PcapWriter
from pktspec.layers import LLC, SNAP, UDP, Dot11, IPv4
from pktspec.protocols.prism import PrismCode, PrismDID, PrismHeader
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

# tshark's field for each item's value, by the item number in its DID
VALUE_FIELDS = {1: "hosttime", 2: "mactime", 3: "channel", 4: "rssi", 5: "sq", 6: "signal",
                7: "noise", 8: "rate", 9: "istx", 10: "frmlen"}
SIGNED = {"rssi", "signal", "noise"}
HEX = {"istx", "unknown"}  # tshark prints these in hex
FIELDS = ("prism.msgcode", "prism.msglen", "prism.devname", "prism.did.type",
          "prism.did.status", "prism.did.length", "prism.did.unknown",
          *(f"prism.did.{name}" for name in VALUE_FIELDS.values()),
          "wlan.fc.type_subtype", "wlan.sa", "wlan.da", "ip.src", "udp.dstport")


def did(code: int, number: int) -> int:
    return number << 16 | 0x44 if code == 0x44 else number << 12 | 0x41


def items(code: int, values: list[int], *, missing: tuple[int, ...] = ()) -> list[dict]:
    """Items 1.. of a header with these values; those numbered in `missing` not supplied."""
    return [{"did": did(code, n), "status": int(n in missing), "data": v & 0xFFFFFFFF}
            for n, v in enumerate(values, start=1)]


def frame(header: PrismHeader, *, data: bool = True) -> bytes:
    if not data:  # a beacon: its body stays payload
        return pktspec.serialize(header, Dot11(type=0, subtype=8, address1="ff:ff:ff:ff:ff:ff",
                                               address2="02:00:5e:00:53:01",
                                               address3="02:00:5e:00:53:01"), bytes(12))
    return pktspec.serialize(
        header,
        Dot11(type=2, subtype=0, flags="to_ds", address1="02:00:5e:00:53:01",
              address2="02:00:5e:00:53:02", address3="02:00:5e:00:53:03", sequence_number=7),
        LLC(dsap=0xAA, ssap=0xAA, control=3), SNAP(oui=0),
        IPv4(src="192.0.2.1", dst="192.0.2.2"), UDP(src_port=1000, dst_port=9), b"prism")


FULL = [1_700_000_000, 0x12345678, 6, 40, 0, -60, -95, 108, 0, 64]


def frames() -> list[bytes]:
    return [
        frame(PrismHeader(device_name=b"wlan0", values=items(0x44, FULL))),
        frame(PrismHeader(code="SniffFrame", device_name=b"wlan1",
                          values=items(0x41, [5, 6, 11, 30, 1, -50, -90, 2, 1, 100]))),
        # the signal quality and the noise not supplied by the driver
        frame(PrismHeader(device_name=b"ath0", values=items(0x44, FULL, missing=(5, 7))),
              data=False),
        # nine items, then one tshark does not know
        frame(PrismHeader(device_name=b"eth1",
                          values=items(0x44, FULL[:9]) + [{"did": 0x00FF0044, "data": 3}])),
    ]


def ours(p) -> dict[str, str]:
    """Our reading of a Prism frame in tshark's terms (-T fields)."""
    h = p[PrismHeader]
    row = {"prism.msgcode": f"0x{h.code:08x}", "prism.msglen": str(h.length),
           "prism.devname": h.device_name.rstrip(b"\0").decode()}
    values: dict[str, list[str]] = {f"prism.did.{n}": [] for n in
                                    (*VALUE_FIELDS.values(), "unknown")}
    for item in h.values:
        number = (item["did"] >> 16) if h.code == 0x44 else (item["did"] >> 12) & 0xF
        name = VALUE_FIELDS.get(number, "unknown")
        if item["status"] == 0:  # tshark shows the value of supplied items only
            v = item["data"]
            if name in SIGNED and v >= 1 << 31:
                v -= 1 << 32
            shown = f"0x{v:08x}" if name in HEX else str(v)
            values[f"prism.did.{name}"].append(shown)
    row.update({k: ",".join(v) for k, v in values.items()})
    row["prism.did.type"] = ",".join(f"0x{i['did']:08x}" for i in h.values)
    row["prism.did.status"] = ",".join(str(i["status"]) for i in h.values)
    row["prism.did.length"] = ",".join(str(i["length"]) for i in h.values)
    d = p[Dot11]
    row["wlan.fc.type_subtype"] = f"0x{d.type << 4 | d.subtype:04x}"
    row["wlan.sa"] = d.address2
    row["wlan.da"] = d.address3 if d.flags.to_ds else d.address1
    row["ip.src"] = p[IPv4].src if IPv4 in p else ""
    row["udp.dstport"] = str(p[UDP].dst_port) if UDP in p else ""
    return row


def test_every_field_reads_as_tshark_reads_it(tmp_path):
    built = frames()
    truth = tshark_fields(built, FIELDS, tmp_path, linktype=119)
    assert len(truth) == len(built)
    for i, (data, row) in enumerate(zip(built, truth, strict=True)):
        p = pktspec.decode(data, first=PrismHeader)
        assert p.error is None, (i, p.error)
        mine = ours(p)
        assert {k: row[k] for k in mine} == mine, i


def test_known_values_of_the_built_frames():
    p = pktspec.decode(frames()[0], first=PrismHeader)
    h = p[PrismHeader]
    assert [x.name for x in p.layers] == ["PrismHeader", "Dot11", "LLC", "SNAP", "IPv4", "UDP",
                                          "Payload"]
    assert (h.code, h.length, h.device_name) == (PrismCode.LnxIndSniffFrame, 144,
                                                 b"wlan0".ljust(16, b"\0"))
    assert len(h.values) == 10 and len(h.contents) == 144 and p[Dot11].offset == 144
    first = h.values[0]
    assert (first["did"], first["status"], first["length"], first["data"]) == (
        PrismDID.HostTime, 0, 4, 1_700_000_000)
    assert h.values[7]["did"] == PrismDID.Rate and h.values[7]["data"] == 108  # 54 Mb/s
    assert str(h.fields()["code"]) == "LnxIndSniffFrame (68)"
    # little-endian on the wire
    assert frames()[0][:8] == bytes.fromhex("4400000090000000")
    assert pktspec.decode(frames()[1], first=PrismHeader)[PrismHeader].values[2]["did"] == \
        PrismDID.Channel2


def test_the_header_length_bounds_the_items():
    """gopacket and pktspec take the header length from the message length (tshark always
    reads ten items)."""
    short = frame(PrismHeader(device_name=b"eth1", values=items(0x44, [9, 8, 1])))
    p = pktspec.decode(short, first=PrismHeader)
    assert p.error is None and p[PrismHeader].length == 24 + 3 * 12
    assert len(p[PrismHeader].values) == 3 and p[Dot11].offset == 60
    assert pktspec.serialize(p) == short


def test_a_prism_capture_starts_with_the_prism_header(tmp_path):
    path = tmp_path / "prism.pcap"
    with PcapWriter(path, linktype=119) as writer:
        for i, data in enumerate(frames()):
            writer.write(data, 1_700_000_000 + i)
    names = [[x.name for x in p.layers][:2] for p in pktspec.open(path)]
    assert names == [["PrismHeader", "Dot11"]] * len(frames())


def test_round_trips():
    for data in frames():
        p = pktspec.decode(data, first=PrismHeader)
        assert pktspec.serialize(p) == data
        assert p.build(fix_lengths=True, compute_checksums=True) == data


# a header cut inside its items fails on the header length ("" for no field)
@pytest.mark.parametrize("cut, field", [(0, "code"), (6, "length"), (20, "device_name"),
                                        (30, ""), (143, "")])
def test_a_truncated_header_is_an_error_layer(cut, field):
    p = pktspec.decode(frames()[0][:cut], first=PrismHeader)
    assert [x.name for x in p.layers] == ["DecodeFailure"]
    assert p.truncated and p.error.layer == "PrismHeader"
    assert p.error.field_path == field and "truncated" in p.error.message


def test_a_truncated_frame_keeps_the_prism_header():
    p = pktspec.decode(frames()[0][:144 + 10], first=PrismHeader)
    assert [x.name for x in p.layers] == ["PrismHeader", "DecodeFailure"]
    assert p.error.layer == "Dot11" and p.error.offset >= 144 and p.truncated


def test_a_length_below_the_fixed_part_is_refused():
    data = bytearray(frames()[0])
    data[4:8] = (20).to_bytes(4, "little")
    p = pktspec.decode(bytes(data), first=PrismHeader)
    assert p.error.layer == "PrismHeader" and "below 24" in p.error.message


def test_fast_decoder_and_construct_agree():
    for data in frames():
        agree(pktspec.decode(data, first=PrismHeader)[PrismHeader])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items_=st.integers(0, 12), extra=st.integers(-3, 3), rest=st.binary(max_size=200))
def test_fast_decoder_and_construct_agree_on_generated_headers(items_, extra, rest):
    length = max(0, 24 + 12 * items_ + extra)
    data = (0x44).to_bytes(4, "little") + length.to_bytes(4, "little") + rest
    p = pktspec.decode(data, first=PrismHeader)  # never raises
    if p.error is None or p.error.layer != "PrismHeader":
        agree(p.layers[0])


def test_a_big_endian_or_avs_header_says_what_it_is_not():
    """Link type 119 also carries big-endian Prism and AVS headers, which this layer does
    not decode: an error that says so, not a length read as one cut short."""
    import struct

    for head in (struct.pack(">II", 0x44, 144), struct.pack(">II", 0x80211001, 64)):
        packet = pktspec.decode(head + bytes(200), first=PrismHeader)
        assert not packet.truncated and "not a little-endian Prism header" in str(packet.error)
