"""tshark's reading of frames that a test built: the truth for protocols the corpus lacks.

A test builds frames with pktspec's builder, and this writes them to a pcap and asks tshark
for fields (``tshark -T fields``), so that decoded values are compared with an independent
dissector rather than with the builder that made them. Skips with a reason where tshark is
missing; .ci/run installs it (Debian package ``tshark``).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from pktspec.capture.pcap import PcapWriter


def tshark_or_skip() -> str:
    """The tshark executable, or skip the test saying how to get it."""
    exe = shutil.which("tshark")
    if exe is None:
        pytest.skip("tshark is not installed (Debian package 'tshark'; .ci/run installs it)")
    return exe


def tshark_fields(
    frames: Iterable[bytes],
    fields: Sequence[str],
    directory: Path,
    *,
    linktype: int = 1,
    decode_as: Sequence[str] = (),
) -> list[dict[str, str]]:
    """One dict per frame: each field's value as tshark prints it with ``-T fields``
    (several occurrences joined by ","; absent fields are ""). ``decode_as`` entries go to
    tshark's ``-d`` (``"udp.port==2152,gtp"``)."""
    exe = tshark_or_skip()
    path = directory / "tshark-input.pcap"
    with PcapWriter(path, linktype=linktype) as writer:
        for i, frame in enumerate(frames):
            writer.write(bytes(frame), 1_700_000_000 + i)
    command = [exe, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t",
               "-E", "occurrence=a", "-E", "aggregator=,"]
    for rule in decode_as:
        command += ["-d", rule]
    for field in fields:
        command += ["-e", field]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise AssertionError(f"tshark failed ({done.returncode}): {done.stderr.strip()}")
    rows = []
    for line in done.stdout.splitlines():
        values = line.split("\t")
        values += [""] * (len(fields) - len(values))
        rows.append(dict(zip(fields, values, strict=True)))
    return rows


def assert_reads_as_tshark(frames: Sequence[bytes], fields: Sequence[str],
                           reading: Callable[[Any], dict[str, str]],
                           directory: Path) -> list[dict[str, str]]:
    """Each frame decodes without an error and reading(packet), our values written as tshark
    writes those fields, equals tshark's row; returns tshark's rows (for further checks)."""
    import pktspec

    truth = tshark_fields(frames, fields, directory)
    assert len(truth) == len(frames)
    for i, (frame, row) in enumerate(zip(frames, truth, strict=True)):
        packet = pktspec.decode(frame)
        assert packet.error is None, (i, packet.error)
        assert reading(packet) == row, i
    return truth
