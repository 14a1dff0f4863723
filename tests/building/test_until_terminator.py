"""``T[] until cond`` when building: a list without the item that ends it (an unset, empty
one included) gets that item appended when one can be made: the item with its fields left
out, or the one the fields the condition compares to constants give
(runtime.constructs.RepeatUntil); otherwise the clear error stays."""

from __future__ import annotations

import pytest

from pktspec import load
from pktspec.errors import BuildError
from pktspec.runtime.serialize import serialize
from tests.building.conftest import layer

SPEC = """
struct Tag { id: u8; v: u8 if id != 0; }
layer UT : other { x: u8; tags: Tag[] until item.id == 0; }
layer UT2 : other { tags: Tag[] until item.id == 0; }
layer UT3 : other { x: u8; tags: Tag[] until item.id == 7; }
layer UT4 : other { x: u8; tags: Tag[] until item.id > 3; }
layer UT5 : other { x: u8; words: u16[] until item == 0; }
struct Holder { n: u8; tags: Tag[] until item.id == 0; }
layer UT6 : other { h: Holder; }
struct Named { name: u8; fields: u8; }
layer UT7 : other { ns: Named[] until item.name == 3 and item.fields == 4; }
"""


@pytest.fixture
def loaded(tmp_path, monkeypatch, restore_registry):
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "until.layer"
    path.write_text(SPEC)
    load(str(path))


def test_an_unset_until_list_builds_as_its_terminator(loaded):
    assert serialize(layer("UT")(x=5)) == bytes([5, 0])
    assert serialize(layer("UT2")()) == bytes([0])
    assert serialize(layer("UT5")(x=5)) == bytes([5, 0, 0])
    assert serialize(layer("UT6")()) == bytes([0, 0])  # inside an unset struct too
    packet = layer("UT")(x=5)
    assert layer("UT").from_bytes(serialize(packet)).tags[0].id == 0


def test_a_list_without_its_terminator_gets_one(loaded):
    UT = layer("UT")
    assert serialize(UT(tags=[{"id": 1, "v": 2}])) == bytes([0, 1, 2, 0])
    assert serialize(UT(tags=[{"id": 1, "v": 2}, {"id": 0}])) == bytes([0, 1, 2, 0])
    assert serialize(layer("UT6")(h={"n": 1, "tags": [{"id": 3, "v": 4}]})) == \
        bytes([1, 3, 4, 0])
    # the terminator the condition names, when the defaults do not end the list
    assert serialize(layer("UT3")(tags=[{"id": 1, "v": 2}])) == bytes([0, 1, 2, 7, 0])
    assert serialize(layer("UT7")(ns=[{"name": 1}])) == bytes([1, 0, 3, 4])


def test_dhcp_options_after_the_cookie_end_with_end():
    DHCPv4 = layer("DHCPv4")
    built = serialize(DHCPv4(magic=0x63825363, options=[{"code": "MessageType",
                                                         "value": "Discover"}]))
    assert built[240:] == bytes([53, 1, 1, 255])
    assert serialize(DHCPv4(magic=0x63825363))[240:] == b"\xff"
    assert len(serialize(DHCPv4())) == 240  # no cookie: no options at all


def test_no_terminator_to_make_keeps_the_clear_error(loaded):
    with pytest.raises(BuildError, match="the last item must end the list"):
        serialize(layer("UT4")(tags=[{"id": 1, "v": 2}]))
    with pytest.raises(BuildError, match="(?s)UT4.*the last item must end the list"):
        serialize(layer("UT4")())


def test_an_item_that_ends_the_list_before_others_is_an_error(loaded):
    """Items after one that meets the `until` condition would never be read back: the
    builder refuses rather than drop them (GTP extension headers given without next_type
    lost the later ones)."""
    with pytest.raises(BuildError, match=r"item 0 ends the list .* the 1 item\(s\) after it"):
        serialize(layer("UT")(x=5, tags=[{"id": 0}, {"id": 2, "v": 3}]))
    assert serialize(layer("UT")(x=5, tags=[{"id": 2, "v": 3}, {"id": 0}])) == \
        bytes([5, 2, 3, 0])
