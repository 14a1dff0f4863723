"""Dispatch tables: binding, conflicts, priorities, heuristics, and dispatch as a dict lookup."""

from __future__ import annotations

import pytest
from runtime_fixtures import CALLS, Inner, Outer, OuterType, inner, outer

from pktspec.errors import SpecError
from pktspec.runtime.layer import Layer
from pktspec.runtime.packet import decode
from pktspec.runtime.registry import REGISTRY, DispatchTable, Registry


def make_layer(name: str, module: str = "tests.fake") -> type:
    cls = type(name, (Layer,), {"__slots__": (), "__module__": module})
    return cls


@pytest.fixture
def table():
    return Registry().table("EtherType")


class TestBind:
    def test_bind_and_get(self, table):
        ipv4 = make_layer("IPv4")
        assert table.bind(0x0800, ipv4, source="ipv4.layer:70") is ipv4
        assert table.get(0x0800) is ipv4
        assert table[0x0800] is ipv4
        assert table.get(0x86DD) is None
        assert table.bindings(0x0800)[0].source == "ipv4.layer:70"

    def test_overlap_from_another_source_is_a_spec_error_with_both_sources(self, table):
        table.bind(0x0800, make_layer("IPv4"), source="ipv4.layer:70")
        with pytest.raises(SpecError) as err:
            table.bind(0x0800, make_layer("MyIP"), source="mine.layer:3:5")
        text = str(err.value)
        assert "EtherType value 2048 is already bound to IPv4 by ipv4.layer:70" in text
        assert "mine.layer:3:5 binds it to MyIP" in text
        assert err.value.location.file == "mine.layer" and err.value.location.line == 3
        assert err.value.hint
        assert table.get(0x0800).name == "IPv4"  # the failed bind changed nothing
        assert len(table.bindings(0x0800)) == 1

    def test_rebinding_the_same_class_from_the_same_source_is_fine(self, table):
        ipv4 = make_layer("IPv4")
        table.bind(0x0800, ipv4, source="ipv4.layer:70")
        table.bind(0x0800, ipv4, source="ipv4.layer:70")
        assert len(table.bindings(0x0800)) == 1

    def test_a_reloaded_module_rebinds_its_new_class(self, table):
        old = make_layer("IPv4", module="pkg.ipv4")
        new = make_layer("IPv4", module="pkg.ipv4")  # same module and name: a reload
        table.bind(0x0800, old, source="ipv4.layer:70")
        table.bind(0x0800, new, source="ipv4.layer:70")
        assert table.get(0x0800) is new

    def test_same_source_but_another_class_is_still_a_conflict(self, table):
        table.bind(1, make_layer("A"))
        with pytest.raises(SpecError, match="Python code binds it to B"):
            table.bind(1, make_layer("B"))

    def test_higher_priority_wins_whatever_the_order(self):
        for order in ((0, 10), (10, 0)):
            table = DispatchTable("EtherType")
            builtin, mine = make_layer("Builtin"), make_layer("Mine")
            for prio in order:
                cls = mine if prio == 10 else builtin
                table.bind(7, cls, source=f"{cls.__name__}.layer:1", priority=prio)
            assert table.get(7) is mine
            assert [b.cls for b in table.bindings(7)] == [mine, builtin]

    def test_unbind_brings_back_the_hidden_binding(self, table):
        builtin, mine = make_layer("Builtin"), make_layer("Mine")
        table.bind(7, builtin, source="b.layer:1")
        table.bind(7, mine, source="m.layer:1", priority=5)
        table.unbind(7, mine)
        assert table.get(7) is builtin
        table.unbind(7)
        assert 7 not in table
        with pytest.raises(KeyError):
            table.unbind(7)

    def test_unbind_by_source(self, table):
        a, b = make_layer("A"), make_layer("B")
        table.bind(7, a, source="a.layer:1")
        table.bind(7, b, source="b.layer:1", priority=1)
        table.unbind(7, source="b.layer:1")
        assert table.get(7) is a
        with pytest.raises(KeyError, match="matching"):
            table.unbind(7, source="c.layer:1")

    def test_item_assignment_is_refused(self, table):
        with pytest.raises(TypeError, match="bind"):
            table[1] = make_layer("X")
        table.bind(1, make_layer("X"))
        with pytest.raises(TypeError, match="unbind"):
            del table[1]

    def test_repr_names_the_classes(self, table):
        table.bind(1, make_layer("X"))
        assert repr(table) == "<DispatchTable EtherType {1: X}>"


class TestHeuristics:
    def test_lookup_falls_back_to_heuristics_in_priority_order(self, table):
        tls, http, other = make_layer("TLS"), make_layer("HTTP"), make_layer("Other")
        seen = []

        def looks_like_tls(buf, off, end):
            seen.append("tls")
            return buf[off] == 0x16

        def looks_like_http(buf, off, end):
            seen.append("http")
            return bytes(buf[off : off + 4]) == b"GET "

        table.add_heuristic(looks_like_http, http, priority=1)
        table.add_heuristic(looks_like_tls, tls, priority=5)
        table.bind(80, other)
        assert table.lookup(443, b"\x16\x03\x01", 0, 3) is tls
        assert seen == ["tls"]
        assert table.lookup(8080, b"xxGET /", 2, 7) is http
        assert table.lookup(9, b"\x00", 0, 1) is None
        seen.clear()
        assert table.lookup(80, b"\x16", 0, 1) is other
        assert seen == []  # a bound value never runs a heuristic

    def test_remove_heuristic(self, table):
        def always(buf, off, end):
            return True

        cls = make_layer("Any")
        table.add_heuristic(always, cls)
        assert table.lookup(1, b"x", 0, 1) is cls
        table.remove_heuristic(always)
        assert table.lookup(1, b"x", 0, 1) is None


class TestRegistry:
    def test_layers_by_name(self):
        reg = Registry()
        a, b = make_layer("Zed"), make_layer("Alpha")
        assert reg.add_layer(a) is a
        reg.add_layer(b)
        assert reg.layer("Zed") is a
        assert reg.layers() == [b, a]
        assert "Alpha" in reg and reg.get_layer("Nope") is None
        with pytest.raises(KeyError, match="known: Alpha, Zed"):
            reg.layer("Nope")

    def test_two_layers_of_one_name_are_a_spec_error(self):
        reg = Registry()
        reg.add_layer(make_layer("IPv4", module="a"))
        reg.add_layer(make_layer("IPv4", module="a"))  # reloaded module: fine
        with pytest.raises(SpecError, match="layer 'IPv4' is already defined by a"):
            reg.add_layer(make_layer("IPv4", module="b"))

    def test_table_is_created_once(self):
        reg = Registry()
        assert reg.table("LinkType") is reg.table("LinkType")
        assert list(reg.tables()) == ["LinkType"]

    def test_link_types_live_in_the_global_registry(self):
        assert isinstance(REGISTRY.table("LinkType"), DispatchTable)


class TestDispatchIsADictLookup:
    def test_table_get_is_dicts_own(self):
        assert isinstance(REGISTRY.table("test.OuterType"), dict)
        assert DispatchTable.get is dict.get
        assert DispatchTable.__getitem__ is dict.__getitem__

    def test_fifty_more_tables_and_layers_change_nothing_on_the_decode_path(self, monkeypatch):
        extra = []
        for i in range(50):
            cls = make_layer(f"Extra{i}", module=f"extra{i}")
            t = REGISTRY.table(f"test.extra{i}")
            for v in range(20):
                t.bind(v, cls, source=f"extra{i}.layer:{v + 1}")
            REGISTRY.table("test.OuterType").bind(0x9000 + i, cls, source=f"extra{i}.layer:99")
            extra.append((t, cls, i))
        calls = []

        def spy(self, *args):
            calls.append(args)
            raise AssertionError("decode must not scan or look up tables")

        # Any table method, registry search or heuristic on the path would trip these.
        monkeypatch.setattr(DispatchTable, "lookup", spy)
        monkeypatch.setattr(DispatchTable, "bindings", spy)
        monkeypatch.setattr(Registry, "table", spy)
        monkeypatch.setattr(Registry, "layers", spy)
        try:
            packet = decode(outer(OuterType.INNER) + inner(), Outer)
            assert [type(x) for x in packet.layers] == [Outer, Inner]
            assert calls == [] and CALLS["Outer"] == 1 and CALLS["Inner"] == 1
        finally:
            monkeypatch.undo()
            for t, _cls, i in extra:
                REGISTRY.table("test.OuterType").unbind(0x9000 + i)
                for v in range(20):
                    t.unbind(v)


def test_snapshot_and_restore_leave_the_chain_as_it_was():
    from pktspec.layers import UDP

    table = REGISTRY.table("UDPPort")
    before = dict(table)
    snapshot = REGISTRY.snapshot()

    class Probe(Layer):
        __slots__ = ()
        name = "SnapshotProbe"

    REGISTRY.add_layer(Probe)
    table.bind(65000, Probe, source="probe.layer:1")
    assert table[65000] is Probe and "SnapshotProbe" in REGISTRY
    REGISTRY.restore(snapshot)
    assert 65000 not in table and "SnapshotProbe" not in REGISTRY
    assert dict(table) == before and REGISTRY.table("UDPPort") is table
    assert REGISTRY.layer("UDP") is UDP


def test_added_enum_members_belong_to_their_modules():
    from pktspec.runtime.values import OpenEnum

    class Kind(OpenEnum):
        A = 1

    registry = Registry()
    registry.add_member(Kind, "B", 2, source="one.layer:3", module="user.one")
    registry.add_member(Kind, "B", 2, source="two.layer:5", module="user.two")  # the same item
    with pytest.raises(SpecError) as info:
        registry.add_member(Kind, "B", 7, source="three.layer:4", module="user.three")
    assert "Kind.B is already 2 from one.layer:3; three.layer:4 makes it 7" in str(info.value)
    assert info.value.location.file == "three.layer"
    with pytest.raises(SpecError, match="Kind.A is already 1"):  # declared in the class
        registry.add_member(Kind, "A", 5, source="three.layer:4", module="user.three")
    saved = registry.snapshot()
    registry.remove_module("user.one")
    assert Kind.B == 2  # user.two still adds it
    registry.remove_module("user.two")
    assert not hasattr(Kind, "B") and Kind.name_of(2) is None
    registry.add_member(Kind, "C", 3, source="four.layer:1", module="user.four")
    registry.add_member(Kind, "C", 4, source="four.layer:1", module="user.four")  # its own
    assert Kind.C == 4 and Kind.name_of(3) is None
    registry.restore(saved)
    assert Kind.B == 2 and not hasattr(Kind, "C") and list(Kind.members()) == ["A", "B"]
    assert [m.module for m in registry.added_members()] == ["user.one", "user.two"]


def test_star_import_of_pktspec_layers_takes_every_registered_layer():
    namespace: dict = {}
    exec("from pktspec.layers import *", namespace)  # noqa: S102 - the statement under test
    names = {n for n in namespace if not n.startswith("__")}
    assert {"Ethernet", "IPv4", "IPv6", "TCP", "UDP", "DNS", "Payload"} <= names
    assert names == {cls.name for cls in REGISTRY.layers()}
    assert namespace["TCP"] is REGISTRY.layer("TCP")
