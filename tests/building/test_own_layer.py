"""A .layer file's own layers build with nothing but the file: defaults, lengths, counts,
checksums and next-layer fields all come from what the file declares."""

from __future__ import annotations

import struct
from pathlib import Path

import pktspec
from pktspec.runtime.constructs import crc32, inet_checksum
from pktspec.runtime.serialize import serialize, verify_checksums
from tests.building.conftest import layer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SPEC = """
import "ethernet.layer"

enum BeaconKind : u8 { Hello = 1, Report = 2 }

## A made-up beacon: a versioned header whose length and CRC the builder fills in, a
## counted list of readings, and a payload whose type says what it is.
layer Beacon : application {
    version: u4 == 2;
    kind: u4 default 1;
    flags: bits 8 { urgent, probe };
    header_words: u8;
    count: u8;
    total: u16 = len(header) + len(payload);
    crc: u32 = crc32(header, payload);
    readings: u16[count];
    header = header_words * 4;
    payload = total - header_words * 4;
    next by kind in BeaconKind;
}

## What a Report beacon carries, with its own checksum over itself.
layer BeaconReport : application {
    station: u16;
    sum: u16 = inet_checksum(header, payload);
}

extend BeaconKind { 2 -> BeaconReport }
extend EtherType { 0x88b5 -> Beacon }
"""


def test_a_users_layer_builds_from_its_file_alone(tmp_path, monkeypatch, restore_registry):
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "beacon.layer"
    path.write_text(SPEC, encoding="utf-8")
    mod = pktspec.load(path)
    Ethernet = layer("Ethernet")
    beacon = mod.Beacon(flags="urgent", readings=[1, 2])
    data = bytes(Ethernet(dst="02:00:00:00:00:02") / beacon / mod.BeaconReport(station=7)
                 / b"ok")
    assert struct.unpack_from(">H", data, 12)[0] == 0x88B5  # the EtherType Beacon is bound to
    head = data[14:]
    version_kind, flags, words, count, total, crc = struct.unpack_from(">BBBBHI", head)
    assert (version_kind, flags, count) == (0x22, 0x80, 2)  # kind 2: what follows is a Report
    assert words == 4 and head[14:16] == bytes(2)  # 10 + 4 bytes of readings, padded to 16
    assert total == 16 + 4 + 2
    assert crc == crc32(head[:6], bytes(4), head[10:])
    assert inet_checksum(head[16:]) == 0
    p = pktspec.decode(data, strict=True)
    assert [x.name for x in p.layers] == ["Ethernet", "Beacon", "BeaconReport", "Payload"]
    assert p[mod.Beacon].readings == [1, 2] and verify_checksums(p) == []
    assert serialize(p, fix_lengths=True, compute_checksums=True) == data


def test_the_myencap_example_builds_in_front_of_ethernet(tmp_path, monkeypatch,
                                                        restore_registry):
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    mod = pktspec.load(EXAMPLES / "myencap" / "myencap.layer")
    data = bytes(mod.MyEncap(strange_header=b"\xde\xad\xbe\xef") /
                 layer("Ethernet")(dst="02:00:00:00:00:02", ethertype=0x88B6) / b"x")
    assert data[:4] == b"\xde\xad\xbe\xef" and data[4:10] == bytes.fromhex("020000000002")
    p = pktspec.decode(data, "MyEncap", strict=True)
    assert p.layers[1].ethertype == 0x88B6
