"""Several next rules, each but the last with `if cond`, tried in order (SNAP: the protocol
ID is an EtherType under OUI 0 and a Cisco protocol under Cisco's OUI). Decoding takes the
first rule whose condition holds; the builder takes the first rule whose table binds the
layer on top and makes that rule's condition hold."""

from __future__ import annotations

import pytest

import pktspec
from tests.generator.conftest import load_text, one

SPEC = """
enum CnKind : u8 { A = 1, B = 2 }
enum CnToolTable : u8 { CnHammer = 7 }
enum CnGadgetTable : u8 { CnWidget = 7 }
layer CnBox : other {
    kind: CnKind;
    id: u8;
    next by id in CnToolTable if kind == CnKind.A;
    next by id in CnGadgetTable if kind == CnKind.B;
}
layer CnHammer : other { h: u8; }
layer CnWidget : other { w: u8; }
layer CnFallback : other { f: u8; }
layer CnCrate : other {
    flag: u8;
    next CnHammer if flag == 1;
    next CnFallback;
}
extend CnToolTable { 7 -> CnHammer }
extend CnGadgetTable { 7 -> CnWidget }
"""


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    return load_text(tmp_path_factory.mktemp("cnext"), SPEC)


def names(packet) -> list[str]:
    return [x.name for x in packet.layers]


def test_the_rule_whose_condition_holds_picks_the_table(mod):
    assert names(pktspec.decode(bytes([1, 7, 9]), first=mod.CnBox)) == ["CnBox", "CnHammer"]
    assert names(pktspec.decode(bytes([2, 7, 9]), first=mod.CnBox)) == ["CnBox", "CnWidget"]
    assert names(pktspec.decode(bytes([3, 7, 9]), first=mod.CnBox)) == ["CnBox", "Payload"]
    assert names(pktspec.decode(bytes([1, 9]), first=mod.CnCrate)) == ["CnCrate", "CnHammer"]
    assert names(pktspec.decode(bytes([0, 9]), first=mod.CnCrate)) == ["CnCrate", "CnFallback"]


def test_the_builder_takes_the_rule_that_binds_the_next_layer(mod):
    assert bytes(mod.CnBox() / mod.CnHammer(h=9)) == bytes([0, 7, 9])  # first rule: as given
    assert bytes(mod.CnBox() / mod.CnWidget(w=9)) == bytes([2, 7, 9])  # kind made to hold
    assert bytes(mod.CnBox(kind=2) / mod.CnWidget(w=9)) == bytes([2, 7, 9])
    data = bytes(mod.CnBox(kind=1) / mod.CnWidget(w=5))
    assert data == bytes([2, 7, 5])  # the rule's condition wins over a value that breaks it
    assert names(pktspec.decode(data, first=mod.CnBox)) == ["CnBox", "CnWidget"]


def test_a_rule_after_one_without_if_is_an_error(tmp_path):
    problem = one(tmp_path, """
enum T : u8 { X = 1 }
layer L : other { t: T; next by t; next by t in T if t == 1; }
""")
    assert "after one without 'if' is never used" in problem.message
