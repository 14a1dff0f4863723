"""``pktspec build``: an expression in, packets printed, written or sent; never run as code."""

from __future__ import annotations

import argparse

import pytest

import pktspec
from pktspec.cli import build_cmd
from pktspec.errors import BuildError
from pktspec.runtime.serialize import serialize
from tests.building.conftest import layer

SPEC = 'Ethernet(dst="02:00:00:00:00:02") / IPv4(dst="192.0.2.2", ttl=9) / ' \
       'UDP(dst_port=53, checksum=0) / b"hi"'


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    build_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["build", *argv])
    return args.run(args)


def expected() -> bytes:
    Ethernet, IPv4, UDP = layer("Ethernet"), layer("IPv4"), layer("UDP")
    return serialize(Ethernet(dst="02:00:00:00:00:02"), IPv4(dst="192.0.2.2", ttl=9),
                     UDP(dst_port=53, checksum=0), b"hi")


def test_prints_the_packet_in_hex(capsys):
    assert run(SPEC) == 0
    assert capsys.readouterr().out.strip() == expected().hex()


@pytest.mark.parametrize("suffix", ["pcap", "pcapng"])
def test_writes_capture_files(tmp_path, suffix):
    path = tmp_path / f"out.{suffix}"
    assert run("-w", str(path), "-c", "3", SPEC) == 0
    got = list(pktspec.open(str(path)))
    assert [bytes(p.data) for p in got] == [expected()] * 3
    assert got[0][layer("IPv4")].ttl == 9


@pytest.mark.parametrize("spec, message", [
    ("__import__('os').system('true')", "a layer expression is"),
    ('IPv4(src=open("x"))', "only literal values"),
    ("Nope()", "no layer called 'Nope'"),
    ("IPv4(ttl=", "not a layer expression"),
])
def test_anything_but_layers_and_literals_is_refused(spec, message):
    with pytest.raises(BuildError, match=message):
        build_cmd.parse_spec(spec)
