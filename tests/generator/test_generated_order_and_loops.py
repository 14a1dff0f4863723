"""Generated modules define a struct after the structs it uses, whatever the source order,
and an array of items that take no bytes is a decode error, never an endless loop."""

from __future__ import annotations

import pytest

import pktspec
from pktspec.errors import DecodeError
from tests.generator.conftest import load_text

FORWARD = """
struct OuterRec { inner: InnerRec; pair: PairRec[2]; }
struct InnerRec { y: u8; }
struct PairRec { z: u8; w: InnerRec; }
layer ForwardRefs : application { rec: OuterRec; }
"""


def test_a_struct_may_use_one_declared_further_down(tmp_path):
    layer = load_text(tmp_path, FORWARD, "forward.layer").ForwardRefs
    rec = pktspec.decode(bytes([1, 2, 3, 4, 5]), layer, strict=True).layers[0].rec
    assert rec.inner.y == 1 and [(p.z, p.w.y) for p in rec.pair] == [(2, 3), (4, 5)]
    built = pktspec.serialize(layer(rec={"inner": {"y": 9}, "pair": [{"z": 1, "w": {"y": 2}},
                                                                       {"z": 3, "w": {"y": 4}}]}))
    assert built == bytes([9, 1, 2, 3, 4])


@pytest.mark.parametrize("array", ["Nothing[]", "Nothing[] size n", "Nothing[] until 1 == 0"])
def test_items_that_take_no_bytes_end_in_an_error(tmp_path, array):
    text = f"struct Nothing {{ }}\nlayer EmptyItems : application {{ n: u8; s: {array}; }}\n"
    layer = load_text(tmp_path, text, "empty_items.layer").EmptyItems
    packet = pktspec.decode(bytes([2, 1, 2]), layer)
    if packet.error is not None:  # a part decoded at once (until): the packet says so
        assert "takes no bytes" in str(packet.error)
        return
    with pytest.raises(DecodeError, match="takes no bytes"):  # a part decoded when read
        packet.layers[0].s  # noqa: B018


def test_a_shift_by_a_packet_value_is_bounded(tmp_path):
    text = "layer ShiftByField : application { x: u8; n: u8; let y = x << n * 1000; }\n"
    layer = load_text(tmp_path, text, "shift_by_field.layer").ShiftByField
    assert pktspec.decode(bytes([3, 0]), layer, strict=True).layers[0].y == 3
    packet = pktspec.decode(bytes([3, 200]), layer)  # 200000 bits: refused, not computed
    assert "shift by 200000 (0..64)" in str(packet.error)
