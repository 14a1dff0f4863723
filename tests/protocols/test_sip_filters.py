"""tshark's SIP field names in ``-Y`` and ``-e`` (pktspec/display_filters/tshark_fields.py),
on the frames tests/protocols/test_sip.py builds, against tshark's own output of the same
fields. Header fields are read by their full names, as sent: the compact forms of the
REGISTER (``i:`` for Call-ID) are not mapped, where tshark maps them."""

from __future__ import annotations

from pktspec.capture import PcapWriter
from pktspec.cli import main
from tests.protocols.test_sip import FRAMES
from tests.tshark_reading import tshark_fields

FIELDS = ["sip.Method", "sip.r-uri", "sip.Status-Code", "sip.Call-ID", "sip.CSeq"]
COMPACT = 6  # the REGISTER in compact forms: its Call-ID is "i: ..."


def test_e_prints_what_tshark_prints(tmp_path, capsys):
    rows = tshark_fields(FRAMES, FIELDS, tmp_path)
    path = tmp_path / "sip.pcap"
    with PcapWriter(str(path)) as writer:
        for i, frame in enumerate(FRAMES):
            writer.write(frame, 1_700_000_000 + i)
    args = ["decode", str(path)]
    for field in FIELDS:
        args += ["-e", field]
    assert main(args) == 0
    ours = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert len(ours) == len(rows) == len(FRAMES)
    for i, (got, row) in enumerate(zip(ours, rows, strict=True)):
        expected = [row[f] for f in FIELDS]
        if i == COMPACT:
            expected[FIELDS.index("sip.Call-ID")] = ""
        assert got == expected, i


def test_y_selects_by_sip_fields(tmp_path, capsys):
    path = tmp_path / "sip.pcap"
    with PcapWriter(str(path)) as writer:
        for i, frame in enumerate(FRAMES):
            writer.write(frame, 1_700_000_000 + i)
    for text, count in (("sip", len(FRAMES)), ('sip.Method == "INVITE"', 1),
                        ("sip.Status-Code == 200", 4), ('sip.CSeq contains "BYE"', 2)):
        assert main(["decode", str(path), "-Y", text]) == 0
        assert len(capsys.readouterr().out.splitlines()) == count, text
