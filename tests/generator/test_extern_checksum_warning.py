"""An ``extern checksum`` whose function Python has not registered when the file is loaded
is a SpecWarning that says how to register it; ``pktspec check`` prints it and succeeds."""

from __future__ import annotations

import warnings

import pytest

from pktspec.cli import main
from pktspec.errors import SpecWarning
from pktspec.runtime import constructs
from tests.generator.conftest import load_text, write_layer

SPEC = """
extern checksum {name} : u16;
layer {layer} : other {{ kind: u8; s: u16 = {name}(header, payload); }}
"""


def test_an_unregistered_extern_checksum_warns_at_load(tmp_path):
    text = SPEC.format(name="sum16_nobody", layer="Unregistered")
    with pytest.warns(SpecWarning) as caught:
        load_text(tmp_path, text)
    (warning,) = [w.message for w in caught if "sum16_nobody" in str(w.message)]
    assert "checksum function 'sum16_nobody' is not registered" in str(warning)
    assert warning.hint == ("call pktspec.runtime.constructs.register_checksum("
                            "'sum16_nobody', func, bits=16) before decoding or building")


def test_a_registered_extern_checksum_loads_quietly(tmp_path, monkeypatch):
    monkeypatch.setitem(constructs._CHECKSUMS, "sum16_mine", constructs.Checksum(
        "sum16_mine", lambda data: sum(data) & 0xFFFF, 16, False))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpecWarning)
        mod = load_text(tmp_path, SPEC.format(name="sum16_mine", layer="Registered"))
    assert bytes(mod.Registered(kind=5)) == bytes([5, 0, 5])


def test_pktspec_check_prints_the_warning_and_succeeds(tmp_path, capsys):
    path = write_layer(tmp_path, SPEC.format(name="sum16_later", layer="Later"))
    assert main(["check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "1 warning" in out
    assert "checksum function 'sum16_later' is not registered" in err
    assert "register_checksum('sum16_later', func, bits=16)" in err
