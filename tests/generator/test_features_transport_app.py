"""Language features added for the transport and application protocols: ``len(payload)`` in a
``next by`` rule (TCP and UDP hand an empty payload to no one, so a SYN to port 53 is not a
broken DNS message)."""

from __future__ import annotations

import pktspec
from tests.generator.conftest import load_text

EMPTY = """
enum LenPort : u8 { }

## A one-byte header that names what follows, unless nothing follows.
layer LenHead : other {
    port: LenPort;
    next by port unless len(payload) == 0;
}

## Bound to port 7.
layer LenSeven : other {
    value: u8;
}

extend LenPort { 7 -> LenSeven }
"""


def test_len_payload_in_next_by(tmp_path):
    mod = load_text(tmp_path, EMPTY, "emptypayload.layer")
    full = pktspec.decode(bytes([7, 0x55]), mod.LenHead, strict=True)
    assert [layer.name for layer in full.layers] == ["LenHead", "LenSeven"]
    empty = pktspec.decode(bytes([7]), mod.LenHead, strict=True)
    assert [layer.name for layer in empty.layers] == ["LenHead"]
    assert empty.error is None
