"""Write myencap.pcap: a few UDP and TCP packets behind the 4-byte MyEncap header.

The frames are built byte by byte with struct here, so that this example needs nothing but
pktspec's pcap writer; the checksums are computed with the runtime's inet_checksum.

    python examples/myencap/make_capture.py        # writes examples/myencap/myencap.pcap
"""

from __future__ import annotations

import struct
from pathlib import Path

from pktspec.capture.pcap import PcapWriter
from pktspec.runtime.constructs import inet_checksum

HERE = Path(__file__).resolve().parent
LINKTYPE_USER0 = 147


def ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, ident: int) -> bytes:
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64,
                         proto, 0, src, dst)
    header = header[:10] + struct.pack(">H", inet_checksum(header)) + header[12:]
    return header + payload


def udp(src: bytes, dst: bytes, sport: int, dport: int, data: bytes) -> bytes:
    seg = struct.pack(">HHHH", sport, dport, 8 + len(data), 0) + data
    pseudo = src + dst + struct.pack(">BBH", 0, 17, len(seg))
    return seg[:6] + struct.pack(">H", inet_checksum(pseudo, seg)) + seg[8:]


def tcp(src: bytes, dst: bytes, sport: int, dport: int, seq: int, flags: int, data: bytes) -> bytes:
    seg = struct.pack(">HHIIHHHH", sport, dport, seq, 0, (5 << 12) | flags, 65535, 0, 0) + data
    pseudo = src + dst + struct.pack(">BBH", 0, 6, len(seg))
    return seg[:16] + struct.pack(">H", inet_checksum(pseudo, seg)) + seg[18:]


def frame(tag: bytes, ip_packet: bytes) -> bytes:
    ethernet = bytes.fromhex("020000000002" "020000000001" "0800")
    return tag + ethernet + ip_packet


def packets() -> list[bytes]:
    a, b = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
    return [
        frame(b"\xde\xad\xbe\xef", ipv4(a, b, 17, udp(a, b, 40000, 5555, b"hello"), 1)),
        frame(b"\x00\x00\x00\x01", ipv4(a, b, 6, tcp(a, b, 40001, 80, 1000, 0x002, b""), 2)),
        frame(b"\x00\x00\x00\x02", ipv4(b, a, 6, tcp(b, a, 80, 40001, 5000, 0x012, b""), 3)),
        frame(b"\x00\x00\x00\x03", ipv4(a, b, 6, tcp(a, b, 40001, 80, 1001, 0x018,
                                                     b"GET / HTTP/1.0\r\n\r\n"), 4)),
    ]


def main(path: Path = HERE / "myencap.pcap") -> Path:
    with PcapWriter(path, linktype=LINKTYPE_USER0, byte_order="little") as out:
        for i, data in enumerate(packets()):
            out.write(data, 1_700_000_000 + i)
    return path


if __name__ == "__main__":
    print(main())
