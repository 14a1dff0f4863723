"""Several next rules, each but the last with `if cond`, tried in order (SNAP: the protocol
ID is an EtherType under OUI 0 and a Cisco protocol under Cisco's OUI). Decoding takes the
first rule whose condition holds; the builder takes the first rule whose table binds the
layer on top and makes that rule's condition hold."""

from __future__ import annotations

import pytest

import pktspec
from pktspec.errors import BuildError
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
    for layers, data in ((mod.CnBox() / mod.CnHammer(h=9), [1, 7, 9]),  # kind made to hold
                         (mod.CnBox() / mod.CnWidget(w=9), [2, 7, 9]),
                         (mod.CnBox(kind=2) / mod.CnWidget(w=9), [2, 7, 9])):
        assert bytes(layers) == bytes(data)
        assert names(pktspec.decode(bytes(data), first=mod.CnBox))[1] == \
            type(layers.layers[1]).name
    with pytest.raises(BuildError, match="no next rule takes CnWidget"):
        bytes(mod.CnBox(kind=1) / mod.CnWidget(w=5))  # kind is given: never changed


def test_a_rule_after_one_that_holds_is_not_taken(tmp_path):
    """The last rule (no `if`) is taken only when the earlier condition is false, as in
    decoding; its own condition reads a field no setting can choose: a BuildError."""
    mod = load_text(tmp_path, """
enum CnT1 : u8 { CnA = 7 }
enum CnT2 : u8 { CnB = 8 }
layer CnPair : other {
    x: u8;
    id: u8;
    next by id in CnT1 if x == 1;
    next by id in CnT2;
}
layer CnA : other { a: u8; }
layer CnB : other { b: u8; }
extend CnT1 { 7 -> CnA }
extend CnT2 { 8 -> CnB }
""")
    assert bytes(mod.CnPair() / mod.CnA(a=1)) == bytes([1, 7, 1])
    assert bytes(mod.CnPair() / mod.CnB(b=1)) == bytes([0, 8, 1])
    with pytest.raises(BuildError, match="no next rule takes CnB"):
        bytes(mod.CnPair(x=1) / mod.CnB(b=1))


def test_a_rule_after_one_without_if_is_an_error(tmp_path):
    problem = one(tmp_path, """
enum T : u8 { X = 1 }
layer L : other { t: T; next by t; next by t in T if t == 1; }
""")
    assert "after one without 'if' is never used" in problem.message
