"""The Layer base: FieldInfo, raw and display values, repr, and truncation errors."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from runtime_fixtures import Inner, InnerFlags, Net, Outer, OuterType, inner, net, outer

import pktspec.runtime as runtime
from pktspec.errors import DecodeError, PktspecError
from pktspec.runtime.layer import RESERVED_NAMES, FieldInfo, Layer, LayerClass
from pktspec.runtime.values import OpenEnum

RUNTIME = Path(runtime.__file__).parent


class TestFieldInfo:
    @pytest.mark.parametrize(
        "info, kind, raw_attr",
        [
            (FieldInfo("ttl", "u8"), "int", "ttl"),
            (FieldInfo("len", "u16le"), "int", "len"),
            (FieldInfo("proto", "u8", enum=OuterType), "enum", "proto"),
            (FieldInfo("flags", "u3", flags=InnerFlags), "flags", "_flags"),
            (FieldInfo("src", "ipv4"), "address", "_src"),
            (FieldInfo("mac", "mac"), "address", "_mac"),
            (FieldInfo("options", "TCPOption[]"), "value", "options"),
            (FieldInfo("x", "u8", kind="let"), "let", "x"),
        ],
    )
    def test_kind_and_raw_attr(self, info, kind, raw_attr):
        assert (info.kind, info.raw_attr) == (kind, raw_attr)

    def test_frozen_and_comparable(self):
        info = FieldInfo("ttl", "u8", offset=8, size=1, line=9, doc="hops left")
        with pytest.raises(AttributeError):
            info.name = "x"
        assert info == FieldInfo("ttl", "u8", offset=8, size=1, line=9, doc="hops left")
        assert "raw_attr" not in repr(info)


class TestValues:
    def decoded(self):
        data = outer(OuterType.NET) + net() + inner(flags=0x81)
        return Outer.from_bytes(data), Net.from_bytes(data[4:]), Inner.from_bytes(data[12:])

    def test_raw_fields_match_the_construct_path(self):
        for layer in self.decoded():
            assert layer.raw_fields() == dict(
                (k, v)
                for k, v in type(layer).FORMAT.parse(layer.contents).items()
                if not k.startswith("_")
            )

    @given(
        st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(6, 255), st.integers(0, 255)
    )
    def test_raw_fields_match_construct_for_any_inner(self, sp, dp, hlen, flags):
        data = inner(sp, dp, hlen, flags)
        layer = Inner.from_bytes(data)
        parsed = Inner.FORMAT.parse(layer.contents)
        assert layer.raw_fields() == {k: parsed[k] for k in layer.raw_fields()}

    def test_raw_values_are_plain(self):
        _, net_, inner_ = self.decoded()
        assert net_.raw_fields() == {"src": bytes([192, 0, 2, 1]), "dst": bytes([192, 0, 2, 2])}
        assert type(inner_.raw_fields()["flags"]) is int

    def test_display_values(self):
        outer_, net_, inner_ = self.decoded()
        fields = outer_.fields()
        assert fields["type"] == 0x0800 and str(fields["type"]) == "NET (2048)"
        assert net_.fields() == {"src": "192.0.2.1", "dst": "192.0.2.2"}
        flags = inner_.fields()["flags"]
        assert isinstance(flags, InnerFlags) and flags.urgent and flags.end
        assert str(flags) == "URGENT|END"

    def test_unknown_enum_value_stays_an_int(self):
        layer = Outer.from_bytes(outer(0x4242))
        assert type(layer.fields()["type"]) is int and layer.fields()["type"] == 0x4242

    def test_flag_fields_without_a_property_are_wrapped_from_field_info(self):
        class Bare(Layer):
            __slots__ = ("flags",)
            fields_info = (FieldInfo("flags", "u8", flags=InnerFlags, kind="int"),)

        layer = Bare.__new__(Bare)
        layer.flags = 1
        assert isinstance(layer.fields()["flags"], InnerFlags)

    def test_repr(self):
        outer_, net_, inner_ = self.decoded()
        assert repr(net_) == "<Net src=192.0.2.1 dst=192.0.2.2>"
        assert repr(outer_) == "<Outer tag=32382 type=NET (2048)>"
        assert repr(inner_) == "<Inner src_port=1000 dst_port=500 hlen=6 flags=URGENT|END>"

    def test_repr_of_an_undecoded_layer_and_of_long_bytes(self):
        assert repr(Outer.__new__(Outer)) == "<Outer>"

        class Blob(Layer):
            __slots__ = ("data",)
            fields_info = (FieldInfo("data", "bytes"),)

        blob = Blob.__new__(Blob)
        blob.data = bytes(range(40))
        assert repr(blob) == "<Blob data=000102030405060708090a0b0c0d0e0f...(40 bytes)>"

    def test_repr_and_dump_of_nested_parts(self):
        class WithOptions(Layer):
            __slots__ = ("options",)
            fields_info = (FieldInfo("options", "Opt[]"),)

            def _decode(self, buf, off, end):
                self.options = [{"_io": object(), "kind": 1, "length": None}] * 2
                self._set_bounds(buf, off, end, end, end)

        layer = WithOptions.from_bytes(b"xy")
        assert repr(layer) == "<WithOptions options=[{kind=1}, {kind=1}]>"
        layer.options = [{"kind": i} for i in range(40)]
        assert repr(layer) == "<WithOptions options=[40 items]>"
        from pktspec.runtime.packet import decode

        text = decode(b"xy", WithOptions).dump()
        assert "options: 2 item(s)\n      0:\n        kind: 1\n      1:" in text
        assert "_io" not in text and "length" not in text

    def test_repr_of_a_layer_without_fields_gives_its_size(self):
        class Bare(Layer):
            __slots__ = ()

            def _decode(self, buf, off, end):
                self._set_bounds(buf, off, off, end, end)

        assert repr(Bare.from_bytes(b"abc")) == "<Bare 3 bytes>"

    def test_repr_survives_a_broken_lazy_part(self):
        class Lazy(Layer):
            __slots__ = ()
            fields_info = (FieldInfo("options", "Opt[]"),)

            @property
            def options(self):
                raise DecodeError("Lazy", "options", 3, "bad option")

        assert (
            repr(Lazy.__new__(Lazy))
            == "<Lazy options=<DecodeError: Lazy -> options at byte 3: bad option>>"
        )

    def test_identity_attributes(self):
        outer_, _, _ = self.decoded()
        assert outer_.layer_type is Outer and outer_.flow is None
        assert Outer.name == "Outer" and Layer.layer_class is LayerClass.OTHER

    def test_length_is_the_header_length_unless_a_field_takes_the_name(self):
        _, net_, inner_ = self.decoded()
        assert net_.length == 8 == len(net_.contents)

        class WithLength(Layer):
            __slots__ = ("length",)

            def _decode(self, buf, off, end):
                self.length = 1234
                self._set_bounds(buf, off, off + 2, end, end)

        assert WithLength.from_bytes(b"abcd").length == 1234

    def test_name_defaults_to_the_class_name(self):
        class Unnamed(Layer):
            __slots__ = ()

        assert Unnamed.name == "Unnamed"

    def test_base_decode_is_abstract(self):
        with pytest.raises(NotImplementedError):
            Layer.from_bytes(b"")


class TestErrors:
    def test_truncated_names_the_first_missing_field(self):
        layer = Inner.__new__(Inner)
        err = layer._truncated(b"\0" * 20, 10, 14)
        assert (err.layer, err.field_path, err.offset, err.truncated) == (
            "Inner",
            "hlen",
            14,
            True,
        )

    def test_truncated_without_offsets_points_at_the_layer(self):
        class Opaque(Layer):
            __slots__ = ()
            fields_info = (FieldInfo("x", "Thing"),)

        err = Opaque.__new__(Opaque)._truncated(b"", 7, 9)
        assert (err.field_path, err.offset, err.truncated) == ("", 7, True)
        assert "only 2 bytes" in err.message

    def test_fail(self):
        err = Inner.__new__(Inner)._fail("hlen", 42, "too small")
        assert isinstance(err, DecodeError) and str(err) == "Inner -> hlen at byte 42: too small"
        assert not err.truncated


class TestContract:
    def test_reserved_names_cover_the_layer_api(self):
        public = {n for n in dir(Layer) if not n.startswith("_")} - {"length"}
        assert public <= RESERVED_NAMES

    def test_require_api(self):
        runtime.require_api(runtime.API_VERSION)
        with pytest.raises(PktspecError, match="upgrade pktspec"):
            runtime.require_api(runtime.API_VERSION + 1)
        with pytest.raises(PktspecError, match="regenerate"):
            runtime.require_api(0)

    @pytest.mark.parametrize("path", sorted(RUNTIME.glob("*.py")), ids=lambda p: p.name)
    def test_runtime_never_imports_the_generator_side(self, path):
        forbidden = (
            "lark",
            "jinja2",
            "pktspec.generator",
            "pktspec.grammar",
            "pktspec.capture",
            "pktspec.reassembly",
            "pktspec.cli",
        )
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(forbidden), f"{path.name} imports {name}"

    def test_enum_of_the_fixture_is_an_open_enum(self):
        assert issubclass(OuterType, OpenEnum)


def test_absent_conditional_fields_are_left_out_of_displays_of_decoded_layers():
    """A decoded layer's repr, -V tree and JSON show what the packet has (as tshark does);
    a layer made for building still shows the fields the builder will compute as None."""
    import pktspec
    from pktspec.cli.render import tree
    from pktspec.layers import GRE, Ethernet, IPv4

    data = bytes(Ethernet() / IPv4(src="192.0.2.1", dst="192.0.2.2") / GRE(key_present=1, key=7)
                 / b"x")
    gre = pktspec.decode(data, Ethernet)[GRE]
    assert gre.checksum is None and gre.key == 7
    shown = dict(gre._display_fields())
    assert "checksum" not in shown and shown["key"] == 7
    assert "checksum=" not in repr(gre) and "key=7" in repr(gre)
    gre_lines = tree(pktspec.decode(data, Ethernet)).split("\nGRE ")[1].split("\nPayload")[0]
    assert "    key: 7" in gre_lines and "    checksum:" not in gre_lines
    assert "protocol=None" in repr(GRE(key=7))  # filled from the binding when built
