"""``summary "..." if cond;``: a layer's part of a packet's one-line summary.

The checker splits the text into literals and field paths (errors at file:line:column), the
generator emits them as repr() literals, and Layer.summary() looks the paths up: the first
rule whose condition holds and whose every path has a value gives the text.
"""

from __future__ import annotations

import pytest

import pktspec
from pktspec.cli.render import as_json, summary, tree
from tests.generator.conftest import load_text, spec_errors

MESSAGE = '''
import "udp.layer"
enum MsgKind : u8 { Ask = 1, Tell = 2 }
struct Item { code: u8; size: u8; }
layer Msg : application {
    kind: MsgKind;
    flags: bits 8 { urgent, more, r2, r3, r4, r5, r6, r7 };
    id: u16;
    label: bytes[4];
    count: u8;
    items: Item[count];
    summary "ask {label} id {id:#06x} first {items[0].code}" if kind == MsgKind.Ask;
    summary "ask {label} id {id:#06x}, no items" if kind == MsgKind.Ask;
    summary "{kind} {flags} {{{label}}}";
}
extend UDPPort { 40123 -> Msg }
'''


@pytest.fixture
def msg(tmp_path, restore_registry):
    return load_text(tmp_path, MESSAGE, "msg.layer").Msg


def decode(cls, data: bytes):
    return pktspec.decode(data, first=cls).layers[0]


def test_first_rule_that_applies_with_every_value_there(msg):
    ask = decode(msg, b"\x01\x00\x12\x34abcd\x02\x07\x01\x09\x02")
    assert ask.summary() == "ask abcd id 0x1234 first 7"
    no_items = decode(msg, b"\x01\x00\x00\x01abcd\x00")  # items[0] is missing: next rule
    assert no_items.summary() == "ask abcd id 0x0001, no items"


def test_values_print_as_people_read_them(msg):
    tell = decode(msg, b"\x02\xc0\x00\x01ab\xff\x00\x00")
    assert tell.summary() == "Tell URGENT|MORE {6162ff00}"  # enum name, flag names, hex bytes
    unknown = decode(msg, b"\x09\x00\x00\x01wxyz\x00")
    assert unknown.summary() == "9 none {wxyz}"  # an unknown enum value, no flags, text


def test_the_command_line_shows_the_deepest_summary(msg):
    from pktspec.layers import UDP, Ethernet, IPv4

    frame = pktspec.serialize(Ethernet() / IPv4(src="192.0.2.1", dst="192.0.2.2")
                              / UDP(src_port=5000, dst_port=40123)
                              / b"\x01\x00\x00\x05abcd\x00")
    packet = pktspec.decode(frame, Ethernet)
    assert summary(packet).endswith(": length 9: ask abcd id 0x0005, no items")
    assert "Msg (application) bytes 42..51: ask abcd id 0x0005, no items" in tree(packet)
    import json

    layers = json.loads(as_json(packet))["layers"]
    assert [entry.get("summary") for entry in layers] == [
        None, None, None, "ask abcd id 0x0005, no items"]


def test_a_field_cannot_be_called_summary(tmp_path):
    errors = spec_errors(tmp_path, 'layer S : other {\n  summary: u8;\n}\n')
    assert any("'summary' is reserved" in e.message for e in errors)


@pytest.mark.parametrize("rule, message", [
    ('summary "{nope}";', "unknown field 'nope'"),
    ('summary "{items[0].nope}";', "unknown field 'nope'"),
    ('summary "{id.x}";', "id has no fields, so .x reaches nothing"),
    ('summary "{id[0]}";', "id is not a list, so [0] reaches nothing"),
    ('summary "{id:z}";', "format 'z' is not an integer format"),
    ('summary "{id";', "a '{' without its '}'"),
    ('summary "id}";', "a '}' without its '{'"),
    ('summary "{__class__}";', "expected a field name in braces"),
    ('summary "{id.__class__}";', "expected '.name' or '[index]'"),
    ('summary "{id}" if "x";', "a condition must be a number or a comparison"),
    ('summery "{id}";', "unknown statement 'summery'"),
    ('summary "{items[0]:x}";', "format 'x' is for integers, and {items[0]} is Item"),
])
def test_mistakes_in_a_summary_are_reported_at_their_line(tmp_path, rule, message):
    text = ("struct Item { code: u8; }\nlayer M : other {\n  id: u16;\n  items: Item[2];\n"
            f"  {rule}\n}}\n")
    errors = spec_errors(tmp_path, text)
    found = [e for e in errors if message in e.message]
    assert found, [e.message for e in errors]
    assert found[0].location.line == 5


def test_a_struct_has_no_summary(tmp_path):
    errors = spec_errors(tmp_path, 'struct S {\n  a: u8;\n  summary "{a}";\n}\n')
    assert any("only layers have a summary" in e.message for e in errors)


def test_hostile_summary_text_stays_text(tmp_path, restore_registry):
    sentinel = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {sentinel}')"
    text = ('layer H : other {\n  a: u8;\n'
            f'  summary "\\"\'\'\' {payload} {{{{a}}}} {{a}} \\\\n";\n}}\n')
    mod = load_text(tmp_path, text, "hostile_summary.layer")
    said = decode(mod.H, b"\x07").summary()
    assert not sentinel.exists()
    assert said == f"\"''' {payload} {{a}} 7 \\n"


def test_pktspec_list_shows_the_rules_as_written(msg, capsys):
    from pktspec.cli import main

    assert main(["list", "Msg"]) == 0
    out = capsys.readouterr().out
    assert ('  summary (the first that applies):\n'
            '    "ask {label} id {id:#06x} first {items[0].code}" if kind == MsgKind.Ask\n'
            '    "ask {label} id {id:#06x}, no items" if kind == MsgKind.Ask\n'
            '    "{kind} {flags} {{{label}}}"\n') in out


def test_a_python_layer_gives_its_own_summary_and_a_failing_one_is_left_out(restore_registry):
    import struct

    from pktspec import PyLayer
    from pktspec.runtime import REGISTRY

    class Shim(PyLayer):
        field_names = ("tag",)

        def decode(self, data):
            (self.tag,) = struct.unpack_from(">H", data)
            return 2, None

        def summary(self):
            if self.tag == 0:
                raise ValueError("no words for tag 0")
            return f"tag {self.tag}"

    REGISTRY.add_layer(Shim)
    assert summary(pktspec.decode(b"\x00\x07", Shim)).endswith(": tag 7")
    assert ": tag" not in summary(pktspec.decode(b"\x00\x00", Shim))


def test_records_of_one_segment_speak_in_order():
    """Several TLS records in one TCP segment: each record's words, as tshark's Info."""
    from tests.conftest import corpus_or_skip

    capture = corpus_or_skip() / "captures" / "tcp__zk-tls-ecdhe.pcap"
    with pktspec.open(capture) as packets:
        frames = list(packets)
    assert summary(frames[12]).endswith(
        ": Handshake ClientKeyExchange, Change Cipher Spec, Encrypted Handshake Message")
    assert summary(frames[0]).endswith("length 0")  # a SYN: nothing to say


KEYED = '''
enum OptCode : u8 { Pad = 0, Kind = 53, Name = 12 }
struct Opt { code: OptCode; len: u8; value: bytes[len]; }
struct Pair { a: u8; b: u8; }
layer Opts : application {
    pair: Pair;
    count: u8;
    options: Opt[count];
    summary "kind {options[code=OptCode.Kind].value} name {options[code=12].value}";
    summary "kind {options[code=OptCode.Kind].value}";
    summary "pair {pair}";
}
'''


def test_a_list_item_found_by_a_member_value(tmp_path, restore_registry):
    opts = load_text(tmp_path, KEYED, "opts.layer").Opts
    both = decode(opts, b"\x01\x02\x03\x00\x00\x0c\x02hi\x35\x01\x07")
    assert both.summary() == "kind 07 name hi"  # found wherever they are in the list
    kind_only = decode(opts, b"\x01\x02\x01\x35\x01\x07")
    assert kind_only.summary() == "kind 07"
    neither = decode(opts, b"\x01\x02\x00")
    assert neither.summary() == "pair a=1 b=2"  # a struct's members on one line
    from pktspec.runtime.summary import rule_text

    assert rule_text(type(both).SUMMARY[0]) == (
        '"kind {options[code=53].value} name {options[code=12].value}"')


@pytest.mark.parametrize("rule, message", [
    ('summary "{options[nope=1].value}";', "unknown field 'nope'"),
    ('summary "{options[code=OptCode.Nope].value}";', "unknown enum member 'OptCode.Nope'"),
    ('summary "{count[code=1]}";', "count is not a list of structs"),
])
def test_mistakes_in_a_keyed_step(tmp_path, rule, message):
    text = KEYED.replace('    summary "pair {pair}";', "    " + rule)
    errors = spec_errors(tmp_path, text)
    assert any(message in e.message for e in errors), [e.message for e in errors]


def test_a_condition_reads_an_address_as_bytes_as_the_checker_types_it(tmp_path,
                                                                       restore_registry):
    text = ('layer Q : other {\n  group: ipv4addr;\n'
            '  summary "general query" if group[0] == 0;\n  summary "query {group}";\n}\n')
    q = load_text(tmp_path, text, "q.layer").Q
    assert decode(q, bytes(4)).summary() == "general query"
    assert decode(q, b"\xe0\x00\x00\x01").summary() == "query 224.0.0.1"


def test_an_empty_address_passes_the_rule_over(tmp_path, restore_registry):
    text = ('layer A : other {\n  size: u8;\n  who: addr[size];\n'
            '  summary "from {who}";\n  summary "no address";\n}\n')
    a = load_text(tmp_path, text, "empty_addr.layer").A
    assert decode(a, b"\x04\xc0\x00\x02\x01").summary() == "from 192.0.2.1"
    assert decode(a, b"\x00").summary() == "no address"


def test_every_item_of_a_list(tmp_path, restore_registry):
    text = ('struct It { code: u8; size: u8; }\nlayer L : other {\n  count: u8;\n'
            '  items: It[count];\n  summary "codes {items[*].code}";\n  summary "empty";\n}\n')
    layer = load_text(tmp_path, text, "all_items.layer").L
    assert decode(layer, b"\x03\x01\x00\x02\x00\x03\x00").summary() == "codes 1, 2, 3"
    nine = bytes([9]) + b"".join(bytes([i, 0]) for i in range(9))
    assert decode(layer, nine).summary() == "codes 0, 1, 2, 3, 4, 5, 6, 7, ..."
    assert decode(layer, b"\x00").summary() == "empty"  # no item: the rule is passed over
    from pktspec.runtime.summary import rule_text

    assert rule_text(type(decode(layer, b"\x00")).SUMMARY[0]) == '"codes {items[*].code}"'
