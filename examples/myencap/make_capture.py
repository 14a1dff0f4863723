"""Write myencap.pcap: a few UDP and TCP packets behind the 4-byte MyEncap header.

The packets are built with pktspec itself from the layer in myencap.layer and the built-in
layers: lengths and checksums (the TCP/UDP ones over the IPv4 pseudo-header too) are filled
in by the builder, and the capture's link type is the one myencap.layer binds (USER0, 147).

    python examples/myencap/make_capture.py        # writes examples/myencap/myencap.pcap
"""

from __future__ import annotations

from pathlib import Path

import pktspec
from pktspec.capture.pcap import PcapWriter
from pktspec.layers import TCP, UDP, Ethernet, IPv4

HERE = Path(__file__).resolve().parent
LINKTYPE_USER0 = 147


def packets() -> list[bytes]:
    MyEncap = pktspec.load(HERE / "myencap.layer").MyEncap
    a, b = "192.0.2.1", "192.0.2.2"
    eth = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}
    eth_back = {"src": eth["dst"], "dst": eth["src"]}
    return [bytes(stack) for stack in (
        MyEncap(strange_header=b"\xde\xad\xbe\xef") / Ethernet(**eth)
        / IPv4(src=a, dst=b, id=1, flags="DF") / UDP(src_port=40000, dst_port=5555) / b"hello",
        MyEncap(strange_header=b"\x00\x00\x00\x01") / Ethernet(**eth)
        / IPv4(src=a, dst=b, id=2, flags="DF") / TCP(src_port=40001, dst_port=80, seq=1000,
                                                     flags="S"),
        MyEncap(strange_header=b"\x00\x00\x00\x02") / Ethernet(**eth_back)
        / IPv4(src=b, dst=a, id=3, flags="DF") / TCP(src_port=80, dst_port=40001, seq=5000,
                                                     ack=1001, flags="SA"),
        MyEncap(strange_header=b"\x00\x00\x00\x03") / Ethernet(**eth)
        / IPv4(src=a, dst=b, id=4, flags="DF") / TCP(src_port=40001, dst_port=80, seq=1001,
                                                     ack=5001, flags="PA")
        / b"GET / HTTP/1.0\r\n\r\n",
    )]


def main(path: Path = HERE / "myencap.pcap") -> Path:
    with PcapWriter(path, linktype=LINKTYPE_USER0, byte_order="little") as out:
        for i, data in enumerate(packets()):
            out.write(data, 1_700_000_000 + i)
    return path


if __name__ == "__main__":
    print(main())
