"""The compiled loop seen from outside: what the CLI says about it, and a user's .layer file
whose program runs in the extension's interpreter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pktspec
from pktspec.cli import main
from pktspec.runtime import fastpath
from pktspec.runtime import packet as packet_module

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_LAYER = ROOT / "examples/myencap/myencap.layer"
EXAMPLE_PCAP = ROOT / "examples/myencap/myencap.pcap"


def test_version_says_which_decode_loop_runs(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"pktspec {pktspec.__version__}"
    if fastpath.ACTIVE:
        assert lines[1].startswith("decode loop: compiled; layers: ")
        assert " compiled, " in lines[1] and lines[1].endswith(" in Python")
    else:
        assert lines[1].startswith("decode loop: pure Python (")


def test_list_shows_each_layers_decoder(capsys):
    assert main(["list", "IPv4"]) == 0
    out = capsys.readouterr().out
    expected = "compiled" if fastpath.ACTIVE else "python (the compiled loop is"
    assert f"  decoder: {expected}" in out
    assert main(["list", "--json", "HTTPRequest"]) == 0
    record = json.loads(capsys.readouterr().out)
    record = record[0] if isinstance(record, list) else record
    assert record["decoder"].startswith("python (its decoder uses what programs do not have")


@pytest.mark.skipif(not fastpath.ACTIVE, reason="the compiled loop is not built or is off")
def test_a_user_layer_runs_in_the_interpreter_and_decodes_as_python_does(restore_registry):
    module = pktspec.load(str(EXAMPLE_LAYER))
    my_encap = module.MyEncap
    assert fastpath.decoder_of(my_encap) == "interpreted"
    with pktspec.open(str(EXAMPLE_PCAP)) as source:
        records = [data for data, _info in source.records()]
    assert records
    for data in records:
        compiled = packet_module.decode_eager(data, my_encap)
        python = packet_module.python_decode_eager(data, my_encap)
        assert [repr(x) for x in compiled.layers] == [repr(x) for x in python.layers]
        assert compiled.layer(my_encap).fields() == python.layer(my_encap).fields()


@pytest.mark.skipif(not fastpath.ACTIVE, reason="the compiled loop is not built or is off")
def test_decoder_of_says_why_a_class_decodes_in_python(monkeypatch):
    from pktspec.layers import IPv4
    from pktspec.runtime.pylayer import PyLayer

    class Sub(IPv4):
        __slots__ = ()

    class Written(PyLayer):
        field_names = ()

        def decode(self, data):  # noqa: ANN001
            return 0, None

    assert fastpath.decoder_of(IPv4) == "compiled"
    assert fastpath.decoder_of(Sub).startswith("python (a subclass")
    assert fastpath.decoder_of(Written) == "python (a layer written in Python)"
    monkeypatch.setattr(IPv4, "_decode", lambda self, buf, off, end: None)
    assert fastpath.decoder_of(IPv4).startswith("python (its _decode was replaced")
