"""``pktspec doc`` and ``pktspec list LAYER``: the exact diagrams and positions of layers whose
fields cross 32-bit rows, follow conditional fields, or pack bit fields little-endian, and of
built-in layers (as their RFCs draw them). The little-endian notes are checked against what
the decoder reads, byte by byte."""

from __future__ import annotations

import re
import textwrap

import pytest

from pktspec.cli import main


def run_cli(capsys, *args: str) -> str:
    assert main(list(args)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def diagram_of(out: str) -> str:
    """The diagram lines of ``pktspec doc`` output (from the ruler to the last border)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(" 0    "))
    end = max(i for i, line in enumerate(lines) if line.startswith("+"))
    return "\n".join(lines[start:end + 1]) + "\n"


def layer_file(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return str(path)


RULER = """\
 0                   1                   2                   3
 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
"""

D1 = "layer D1 : other { a: u16; b: u32; c: u16; d: u8 if a == 1; e: u32; }\n"


def test_fields_across_rows_and_after_a_conditional_field(capsys, tmp_path, restore_registry):
    path = layer_file(tmp_path, "d1.layer", D1)
    out = run_cli(capsys, "doc", "--layers", path, "d1")
    # b goes on in row 2 (no unnamed box beside a); d is marked as conditional; e is not
    # drawn at a fixed offset after it, and is drawn as 32 bits
    assert diagram_of(out) == RULER + """\
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|               a               |               b               |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|           b (cont.)           |               c               |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|       d?      |
+-+-+-+-+-+-+-+-+
  (the fields below start at byte 8 or 9, by which ?-fields are present)
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                               e                               |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""
    assert "  d  u8   8 bits     present if a == 1\n" in out
    out = run_cli(capsys, "list", "--layers", path, "d1")
    assert "    b  u32  bytes 2..6\n" in out
    assert "    d  u8   byte 8, if present\n" in out
    assert "    e  u32  4 bytes at byte 8 or 9\n" in out


def test_a_conditional_field_across_a_row_boundary(capsys, tmp_path, restore_registry):
    path = layer_file(tmp_path, "sensornet.layer", """
        ## A sensor report.
        layer SensorNet : application {
            version: u4;
            kind: u4;
            flags: u8;
            node: u16;
            seq: u32;
            temp: i16;
            ## battery voltage in mV
            battery: u32 if flags & 1 != 0;
            reading: u16;
        }
        """)
    out = run_cli(capsys, "doc", "--layers", path, "SensorNet")
    assert diagram_of(out) == RULER + """\
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|version|  kind |     flags     |              node             |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                              seq                              |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|              temp             |            battery?           |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|        battery? (cont.)       |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
  (the fields below start at byte 10 or 14, by which ?-fields are present)
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|            reading            |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""
    assert "battery voltage in mV; present if flags & 1 != 0\n" in out
    out = run_cli(capsys, "list", "--layers", path, "SensorNet")
    assert "battery  u32  bytes 10..14, if present  battery voltage in mV\n" in out
    assert "reading  u16  2 bytes at byte 10 or 14\n" in out


def test_fields_under_one_condition_stay_together(capsys, tmp_path, restore_registry):
    """Fields under the same condition are there together: drawn side by side; a field
    under another condition starts a new part (GRE's optional words)."""
    out = run_cli(capsys, "doc", "gre")
    assert """\
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|           checksum?           |        routing_offset?        |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
  (the fields below start at byte 4 or 8, by which ?-fields are present)
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                              key?                             |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
  (the fields below start at byte 4, 8 or 12, by which ?-fields are present)
""" in out
    out = run_cli(capsys, "list", "gre")
    assert re.search(r"routing_offset +u16 +bytes 6\.\.8, if present", out)
    assert re.search(r"call_id +u16 +2 bytes at byte 6, 10 or 14, if present", out)


LITTLE = "layer LittleBits : other little { bits12: u12; nib: u4; }\n"


def test_little_endian_bit_fields_are_drawn_as_their_word(capsys, tmp_path, restore_registry):
    path = layer_file(tmp_path, "little.layer", LITTLE)
    out = run_cli(capsys, "doc", "--layers", path, "LittleBits")
    assert out.split("\n\n", 1)[1] == RULER + """\
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|         bits12        |  nib  |  <- little-endian 16-bit word at bytes 0..2
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

A little-endian word is drawn as the integer it holds, most significant bit
first (its first field in the high bits); on the wire its least significant
byte comes first:
  little-endian 16-bit word at bytes 0..2: byte 0 holds the low 4 bits of
    bits12, then nib; byte 1 holds the high 8 bits of bits12.

  bits12  u12  12 bits
  nib     u4   4 bits
"""
    out = run_cli(capsys, "list", "--layers", path, "LittleBits")
    assert "bits12  u12  bits 0..11 of the little-endian 16-bit word at bytes 0..2\n" in out
    assert "nib     u4   bits 12..15 of the little-endian 16-bit word at bytes 0..2\n" in out
    out = run_cli(capsys, "list", "--json", "--layers", path, "LittleBits")
    assert '"word_order": "little"' in out

    # what the note says is what the decoder does: 0xABC and 0xD are cd ab on the wire
    import pktspec
    from pktspec.cli import find_layer

    layer = pktspec.decode(b"\xcd\xab", find_layer("LittleBits")).layers[0]
    assert (layer.bits12, layer.nib) == (0xABC, 0xD)
    assert bytes(find_layer("LittleBits")(bits12=0xABC, nib=0xD)) == b"\xcd\xab"


L3 = """
    ## Little-endian, with a 3-byte run of bit fields at byte 2, across a row.
    layer DocL3 : other little {
        x: u16;
        a: u4;
        b: u16;
        c: u4;
        d: u8;
    }
    """


def test_a_little_endian_word_across_a_row(capsys, tmp_path, restore_registry):
    path = layer_file(tmp_path, "l3.layer", L3)
    out = run_cli(capsys, "doc", "--layers", path, "DocL3")
    mark = "  <- little-endian 24-bit word at bytes 2..5"
    assert diagram_of(out) == RULER + f"""\
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|               x               |   a   |           b           |{mark}
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|(cont.)|   c   |       d       |{mark}
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""
    note = " ".join(out.split("byte comes first:\n", 1)[1].split("\n\n")[0].split())
    assert note == ("little-endian 24-bit word at bytes 2..5: byte 2 holds the low 4 bits of "
                    "b, then c; byte 3 holds bits 4..11 of b (bit 0 its lowest); byte 4 holds "
                    "a, then the high 4 bits of b.")
    # each byte of the word set alone: the fields the note names, and no others, change
    import pktspec
    from pktspec.cli import find_layer

    cls = find_layer("DocL3")
    seen = {}
    for k in (2, 3, 4):
        data = bytearray(6)
        data[k] = 0xFF
        layer = pktspec.decode(bytes(data), cls).layers[0]
        seen[k] = (layer.a, layer.b, layer.c)
    assert seen == {2: (0, 0x000F, 0xF), 3: (0, 0x0FF0, 0), 4: (0xF, 0xF000, 0)}
    out = run_cli(capsys, "list", "--layers", path, "DocL3")
    assert "a  u4   bits 0..3 of the little-endian 24-bit word at bytes 2..5\n" in out
    assert "c  u4   bits 20..23 of the little-endian 24-bit word at bytes 2..5\n" in out
    assert "d  u8   byte 5\n" in out


def test_big_endian_bit_fields_keep_their_byte_positions(capsys):
    out = run_cli(capsys, "list", "ipv6")
    assert re.search(r"flow_label +u20 +bits 12\.\.31 of bytes 0\.\.4\n", out)
    assert "little-endian" not in run_cli(capsys, "doc", "ipv4", "tcp", "ipv6", "udp", "dns")


def test_ipv6_is_drawn_as_rfc_8200_draws_it(capsys):
    address = """\
|                                                               |
+                                                               +
|                                                               |
+                              {}                              +
|                                                               |
+                                                               +
|                                                               |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""
    assert diagram_of(run_cli(capsys, "doc", "ipv6")) == RULER + """\
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|version| traffic_class |               flow_label              |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|         payload_length        |  next_header  |   hop_limit   |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
""" + address.format("src") + address.format("dst")


def test_ipv4_tcp_udp_and_dns(capsys):
    border = "+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+\n"

    def rows(*lines: str) -> str:
        return RULER + border + "".join(line + "\n" + border for line in lines)

    assert diagram_of(run_cli(capsys, "doc", "ipv4")) == rows(
        "|version|  ihl  |    dscp   |ecn|          total_length         |",
        "|               id              |flags|     fragment_offset     |",
        "|      ttl      |    protocol   |            checksum           |",
        "|                              src                              |",
        "|                              dst                              |",
        "/                            options                            /")
    assert diagram_of(run_cli(capsys, "doc", "tcp")) == rows(
        "|            src_port           |            dst_port           |",
        "|                              seq                              |",
        "|                              ack                              |",
        "|data_o~|rese~|      flags      |             window            |",
        "|            checksum           |             urgent            |",
        "/                            options                            /")
    assert diagram_of(run_cli(capsys, "doc", "udp")) == rows(
        "|            src_port           |            dst_port           |",
        "|             length            |            checksum           |")
    assert diagram_of(run_cli(capsys, "doc", "dns")) == rows(
        "|               id              |q| opcode|a|t|r|r|z|a|c|respon~|",
        "|            qd_count           |            an_count           |",
        "|            ns_count           |            ar_count           |",
        "/                           questions                           /",
        "/                            answers                            /",
        "/                          authorities                          /",
        "/                          additionals                          /")


def test_a_long_field_starting_mid_row_is_one_open_box(capsys):
    """Ethernet's 48-bit addresses: the line between two parts of one field is open."""
    assert diagram_of(run_cli(capsys, "doc", "ethernet")) == RULER + """\
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|                              dst                              |
+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|          dst (cont.)          |              src              |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
|                                                               |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|           ethertype           |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""


def test_a_variable_part_then_fields_after_it(capsys, tmp_path, restore_registry):
    path = layer_file(tmp_path, "var.layer", """
        layer DocV : other {
            kind: u8;
            length: u8;
            value: bytes[length];
            crc: u16;
        }
        """)
    assert diagram_of(run_cli(capsys, "doc", "--layers", path, "DocV")) == RULER + """\
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|      kind     |     length    /             value             /
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
|              crc              |
+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""
    out = run_cli(capsys, "list", "--layers", path, "DocV")
    assert re.search(r"\n    value +\S+ +variable, from byte 2\n", out)
    assert re.search(r"\n    crc +u16 +16 bits, after a variable part\n", out)


@pytest.mark.parametrize("source, text", [
    ("a == 1 or b & 0x0F != 0", "a == 1 or b & 0x0F != 0"),
    ("(a or b) and not c", "(a or b) and not c"),
    ("(a + b) * 2 > c ? 1 : 2", "(a + b) * 2 > c ? 1 : 2"),
    ("flags.more and data[0] == 0x45", "flags.more and data[0] == 0x45"),
    ("len(x) - (4 - y) >= -(z)", "len(x) - (4 - y) >= -z"),
])
def test_conditions_are_written_as_the_file_writes_them(source, text):
    from pktspec.cli.field_layout import expr_text
    from pktspec.grammar import ast, parse

    src = f"layer X : other {{ v: u8 if {source}; }}\n"
    layer = parse(src).of_type(ast.Layer)[0]
    assert expr_text(layer.members[0].cond, src.splitlines()) == text


def test_the_field_analysis_is_its_own_documented_module():
    """doc_cmd draws, field_layout analyses; list uses the analysis without the drawing."""
    import inspect

    from pktspec.cli import doc_cmd, field_layout, list_cmd

    assert list_cmd.analyse is field_layout.analyse and doc_cmd.analyse is field_layout.analyse
    assert "def analyse" not in inspect.getsource(doc_cmd)
    assert field_layout.__doc__
    for name in field_layout.__all__:
        assert inspect.getdoc(getattr(field_layout, name)), name


def test_a_multi_line_field_comment_stays_on_its_row():
    """A `##` comment over two lines (ERSPANII's trunk_encap) was printed with its second
    line at column 0, outside the legend; the note is now one line of text on its row."""
    from pktspec.cli.doc_cmd import render
    from pktspec.layers import ERSPANII

    lines = render(ERSPANII).splitlines()
    row = next(line for line in lines if line.lstrip().startswith("trunk_encap"))
    assert row.endswith("0 untagged, 1 ISL, 2 802.1Q, 3 VLAN tag kept in the frame")
    assert not any(line.startswith("3 VLAN") for line in lines)
