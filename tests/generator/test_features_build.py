"""What the generator gives the builder: implied length relations, the header length, the
pseudo-header a layer lends the checksums inside it, and the fields of the next-layer rule."""

from __future__ import annotations

from types import SimpleNamespace

from tests.generator.conftest import load_text, spec_errors

NET = """
enum Proto : u8 { T = 6 }

## A small IP-like header whose options make the header length a field.
layer Net : network {
    version: u4 == 4;
    words: u4 default 5;
    total: u16 = len(header) + len(payload);
    proto: Proto;
    src: ipv4addr;
    dst: ipv4addr;
    options: bytes[words * 4 - 11];
    header = words * 4;
    payload = total - words * 4;
    pseudo_header = concat(src, dst, u8(0), u8(upper_protocol), u16(upper_length));
    next by proto;
}

layer Seg : transport {
    port_a: u16;
    port_b: u16;
    checksum: u16 = inet_checksum(pseudo_header, header, payload);
    next by min(port_a, port_b), max(port_a, port_b) in Proto;
}

extend Proto { 6 -> Seg }

layer Counted : other {
    count: u8;
    size: u8;
    items: u16[count];
    blob: bytes[size + 1];
    bias: u8;
    scaled: bytes[bias * 2 - 1];
}
"""


def test_header_boundary_gives_the_header_length_relation(tmp_path):
    net = load_text(tmp_path, NET, "net.layer").Net
    relations = {name: (kind, fn) for name, kind, fn in net.RELATIONS}
    kind, words = relations["words"]
    assert kind == "length"
    # ceil(len(header) / 4): 11 fixed bytes plus 3 of options pad to 16
    assert words(SimpleNamespace(_header_len=14)) == 4
    assert words(SimpleNamespace(_header_len=16)) == 4
    assert words(SimpleNamespace(_header_len=17)) == 5
    assert net.HEADER(SimpleNamespace(words=6)) == 24
    assert "total" in relations  # declared ones stay


def test_pseudo_header_is_built_from_fields_and_the_upper_layer(tmp_path):
    net = load_text(tmp_path, NET, "net.layer").Net
    c = SimpleNamespace(src=bytes([192, 0, 2, 1]), dst=bytes([192, 0, 2, 2]),
                        _upper_protocol=6, _upper_length=0x1234)
    assert net.PSEUDO_HEADER(c) == bytes([192, 0, 2, 1, 192, 0, 2, 2, 0, 6, 0x12, 0x34])


def test_next_names_the_table_and_the_fields_it_reads(tmp_path):
    mod = load_text(tmp_path, NET, "net.layer")
    assert mod.Net.NEXT == ("Proto", ("proto",))
    assert mod.Seg.NEXT == ("Proto", ("port_a", "port_b"))
    assert getattr(mod.Counted, "NEXT", None) is None
    assert getattr(mod.Seg, "PSEUDO_HEADER", None) is None


def test_array_counts_and_byte_sizes_are_implied(tmp_path):
    counted = load_text(tmp_path, NET, "net.layer").Counted
    relations = {name: fn for name, _, fn in counted.RELATIONS}
    assert relations["count"](SimpleNamespace(items=[1, 2, 3])) == 3
    assert relations["size"](SimpleNamespace(blob=b"abcd")) == 3
    assert relations["bias"](SimpleNamespace(scaled=b"abc")) == 2
    assert relations["count"](SimpleNamespace(items=None)) == 0


LAST = """
layer Tlv : other {
    kind: u8;
    words: u4;
    flag: u4;
    present: u8;
    n: u8;
    items: u8[n] if present == 1;
    opts: u16[] size words * 4;
}
"""


def test_the_last_sized_part_and_conditional_counts_are_implied(tmp_path):
    tlv = load_text(tmp_path, LAST, "tlv.layer").Tlv
    relations = {name: fn for name, _, fn in tlv.RELATIONS}
    # `items` before opts has no fixed size: words comes from opts' own built size
    assert relations["words"](SimpleNamespace(opts=[1, 2, 3], present=0)) == 2  # 6 bytes
    assert relations["n"](SimpleNamespace(items=[7, 8])) == 2
    text = LAST.replace("    items: u8[n] if present == 1;\n", "").replace("Tlv", "Tlv2")
    fixed = load_text(tmp_path, text, "tlv2.layer").Tlv2
    words = {name: fn for name, _, fn in fixed.RELATIONS}["words"]
    assert words(SimpleNamespace(opts=[1, 2, 3])) == 2  # 6 bytes of opts: 2 words


def test_pseudo_header_errors(tmp_path):
    problems = spec_errors(tmp_path, """
    layer A : network {
        x: u8;
        pseudo_header = x + upper_length;
    }
    layer B : network {
        y: u8;
        pseudo_header = concat(y, upper_size);
    }
    """)
    messages = [p.message for p in problems]
    assert any("pseudo_header must be bytes" in m for m in messages)
    assert any("unknown name 'upper_size'" in m for m in messages)


def test_concat_joins_bytes_only(tmp_path):
    problems = spec_errors(tmp_path, """
    layer A : network {
        x: u8;
        a: ipv4addr;
        pseudo_header = concat(a, x, u8(x));
    }
    """)
    assert [p.message for p in problems] == ["concat() joins bytes, not int"]


def test_upper_names_and_byte_functions_are_only_for_building(tmp_path):
    problems = spec_errors(tmp_path, """
    layer A : other {
        x: u8;
        y: u8 if upper_length > 0;
        header = u16(x);
    }
    """)
    messages = [p.message for p in problems]
    assert any("upper_length" in m for m in messages)
    assert any("unknown function 'u16'" in m for m in messages)


def test_sized_addresses_in_a_struct_read_and_build_as_text(tmp_path, monkeypatch,
                                                              restore_registry):
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "peers.layer"
    path.write_text("""
struct Peer { size: u8; address: addr[size]; }
layer PeerList : other { count: u8; peers: Peer[count]; }
""")
    import pktspec
    from pktspec.runtime.serialize import serialize

    PeerList = pktspec.load(path).PeerList
    built = serialize(PeerList(peers=[{"address": "192.0.2.1"}, {"address": "2001:db8::1"},
                                      {"address": "02:00:00:00:00:01"}]))
    assert built[:7] == bytes([3, 4, 192, 0, 2, 1, 16])
    peers = PeerList.from_bytes(built).peers
    assert [p.address for p in peers] == ["192.0.2.1", "2001:db8::1", "02:00:00:00:00:01"]
    assert [p.size for p in peers] == [4, 16, 6]


def test_take_cuts_what_a_checksum_covers(tmp_path):
    """take(bytes, n): the first n bytes (all of them when n is larger); its first argument
    is bytes, its second a number."""
    from tests.generator.conftest import load_text, spec_errors

    cls = load_text(tmp_path, """
layer Cover : other {
    n: u8;
    s: u16 = inet_checksum(take(concat(header, payload), n));
}
""").Cover
    from pktspec.runtime.constructs import inet_checksum

    assert bytes(cls(n=3) / b"abcdef")[1:3] == inet_checksum(b"\x03\0\0").to_bytes(2, "big")
    assert bytes(cls(n=200) / b"ab")[1:3] == inet_checksum(b"\xc8\0\0ab").to_bytes(2, "big")
    (tmp_path / "bad").mkdir()
    problems = spec_errors(tmp_path / "bad", "layer Bad : other { n: u8; "
                           "s: u16 = inet_checksum(take(n, n)); }")
    assert any("take() takes bytes, not int" in p.message for p in problems)
