"""The README's .layer examples and its language table stay true: each .layer block checks,
and the snippets of syntax in the table parse."""

from __future__ import annotations

import re
from pathlib import Path

import pktspec
from pktspec.generator import check_file
from pktspec.grammar import parse

README = Path(__file__).resolve().parents[1] / "README.md"


def fenced_blocks() -> list[tuple[str, str]]:
    """(language tag, text) of every fenced block, in order."""
    blocks, tag, lines = [], None, []
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            if tag is None:
                tag, lines = line[3:].strip(), []
            else:
                blocks.append((tag, "\n".join(lines) + "\n"))
                tag = None
        elif tag is not None:
            lines.append(line)
    return blocks


def layer_blocks() -> list[str]:
    """Untagged blocks that hold .layer text (a layer, an extend or an import)."""
    return [text for tag, text in fenced_blocks() if not tag and "$ " not in text
            and re.search(r"^(layer|extend|import) ", text, flags=re.M)]


def test_every_layer_example_in_the_readme_checks(tmp_path, monkeypatch):
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path / "cache"))
    blocks = layer_blocks()
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        path = tmp_path / f"readme{i}.layer"
        path.write_text(block)
        check_file(path)
    tunnel = pktspec.load(tmp_path / f"readme{len(blocks) - 1}.layer").Tunnel
    data = pktspec.serialize(tunnel(type="Control", hop=3, label={"tag": 1, "body": b"abc"}),
                             b"hello")
    layer = pktspec.decode(data, tunnel, strict=True).layers[0]
    assert (layer.magic, layer.version, layer.length, layer.body_length) == (0x7E, 1, 17, 5)
    assert bytes(pktspec.decode(data, tunnel).application.payload) == b"hello"
    # the defaults alone build: the parameterised label is zeros (tag 0, three body bytes)
    # and header_words follows the header, 12 bytes: 3 words
    plain = pktspec.decode(bytes(tunnel()), tunnel, strict=True).layers[0]
    assert (plain.header_words, plain.label.tag, plain.label.body) == (3, 0, b"\0\0\0")
    assert plain.length == 12 and plain.options == []
    # the conditional session and an option round-trip, header padded to whole words
    more = tunnel(type="Keepalive", flags="more", session=7,
                  options=[{"kind": 1, "value": 99}])
    again = pktspec.decode(bytes(more), tunnel, strict=True).layers[0]
    assert (again.session, again.header_words, again.options[0].value) == (7, 6, 99)


def test_language_table_snippets_parse():
    table = README.read_text().split("| feature | syntax |")[1].split("\n\n")[0]
    snippets = re.findall(r"`([^`]*(?:extend|enum)[^`]*\})`", table)
    assert snippets
    for snippet in snippets:
        if snippet.startswith("extend") or snippet.startswith("enum"):
            parse(snippet + "\n")
