"""The Internet checksum (RFC 1071) written out by hand for tests that make frames without
taking their checksum from the code under test (pktspec.runtime.constructs.inet_checksum)."""

from __future__ import annotations

import struct


def ones_complement(data: bytes) -> int:
    """The one's complement of the one's complement sum of data's 16-bit words (an odd
    last byte padded with a zero byte)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
