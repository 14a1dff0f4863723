"""Broken capture files from the corpus: the same verdict as tshark, said with coordinates.

For every ``badfile__*`` capture tshark exits with status 2 and prints the frames it could read
before the damage (``truth/F.fields.tsv``). We must deliver exactly those packets, then raise
CaptureError naming the path, the byte offset and (for damage inside the records) the record
number, with a message about the same problem as tshark's (``truth/F.tshark-status.txt``).
"""

from __future__ import annotations

import re

import pytest

from pktspec.capture.files import open_records
from pktspec.errors import CaptureError
from tests.conftest import CAPTURES, TRUTH, corpus_captures, corpus_or_skip

pytestmark = pytest.mark.corpus

BAD = corpus_captures("badfile__") or ["corpus-absent"]  # a placeholder that skips, saying why

# tshark's complaint (a regex on its stderr) -> ours (a regex on CaptureError.message).
SAME_PROBLEM = [
    (r"cut short in the middle", r"ends|cut short"),
    (r"isn't a capture file", r"unknown magic"),
    (r"File has (\d+)-byte packet, bigger than maximum of 262144", r"claims {0} captured bytes"),
    (r"network type reserved field not zero", r"reserved bits"),
    (r"major version (\d+) unsupported", r"version {0}\.\d+ is not supported"),
    (r"unknown SHB version (\d+\.\d+)", r"version {0}"),
    (r"Not enough data to handle option of length (\d+)", r"option \d+ of {0} bytes runs past"),
]

# Where the derived files were damaged (corpus MANIFEST notes): (offset, record).
KNOWN_SPOTS = {
    "badfile__derived-http-huge-caplen.pcap": (5359, 11),
    "badfile__derived-http-truncated-mid-rechdr.pcap": (869, 6),
    "badfile__derived-http-truncated-mid-record.pcap": (869, 6),
    "badfile__derived-http-truncated-filehdr.pcap": (12, None),
    "badfile__derived-http-bad-magic.pcap": (0, None),
    "badfile__derived-hk-test001-truncated-mid-block.pcapng": (872, 3),
}


def tshark_status(name: str) -> tuple[int, str]:
    text = (TRUTH / f"{name}.tshark-status.txt").read_text()
    code = int(re.search(r"exit_code=(\d+)", text).group(1))
    return code, text


def tshark_frames(name: str) -> int:
    lines = (TRUTH / f"{name}.fields.tsv").read_text().splitlines()
    return max(len(lines) - 1, 0)


def read_until_error(path) -> tuple[int, CaptureError]:
    delivered = 0
    with pytest.raises(CaptureError) as err:
        for _ in open_records(path):
            delivered += 1
    return delivered, err.value


def test_there_are_bad_files_to_check():
    corpus_or_skip()
    assert len(BAD) >= 10


@pytest.mark.parametrize("name", BAD)
def test_bad_file_fails_like_tshark_after_the_same_packets(name):
    corpus_or_skip()
    code, status = tshark_status(name)
    assert code == 2, "every badfile is one tshark refuses"
    delivered, err = read_until_error(CAPTURES / name)
    assert delivered == tshark_frames(name)
    assert err.path == str(CAPTURES / name) and err.offset is not None
    assert str(CAPTURES / name) in str(err) and f"offset {err.offset}" in str(err)
    if delivered:
        assert err.record == delivered + 1
    for theirs, ours in SAME_PROBLEM:
        found = re.search(theirs, status)
        if found:
            assert re.search(ours.format(*found.groups()), err.message), (status, err.message)
            break
    else:
        pytest.fail(f"no known tshark complaint in {status!r}")


@pytest.mark.parametrize("name", sorted(KNOWN_SPOTS))
def test_bad_file_error_points_at_the_damage(name):
    corpus_or_skip()
    _, err = read_until_error(CAPTURES / name)
    assert (err.offset, err.record) == KNOWN_SPOTS[name]


def test_huge_caplen_is_refused_before_reading_it():
    corpus_or_skip()
    reader = open_records(CAPTURES / "badfile__derived-http-huge-caplen.pcap", chunk_size=4096)
    with pytest.raises(CaptureError):
        for _ in reader:
            pass
    # The claimed record is 2 GiB; the reader never asked for more than a chunk past it.
    assert reader._input.position <= 5359 + 2 * 4096
