"""``pktspec stats``: counts and time span as capinfos gives them, the protocol hierarchy as
tshark's -z io,phs (where the two name the same layers), conversations both ways."""

from __future__ import annotations

import json
import re

import pytest

from pktspec.cli import main
from tests.conftest import CAPTURES, TRUTH, corpus_or_skip

pytestmark = pytest.mark.corpus

# tshark protocol names of layers pktspec also has
TSHARK_NAMES = {"eth": "Ethernet", "ip": "IPv4", "ipv6": "IPv6", "udp": "UDP", "tcp": "TCP",
                "ntp": "NTP", "geneve": "Geneve", "vxlan": "VXLAN", "dns": "DNS",
                "sctp": "SCTP", "dhcp": "DHCPv4"}


def stats_json(capsys, name: str, *extra: str) -> dict:
    corpus_or_skip()
    code = main(["stats", "--json", *extra, str(CAPTURES / name)])
    out, _ = capsys.readouterr()
    assert code == 0
    return json.loads(out)


def phs(name: str) -> list[tuple[int, str, int, int]]:
    """tshark's hierarchy as (depth, protocol, frames, bytes) lines."""
    out = []
    for line in (TRUTH / f"{name}.phs.txt").read_text().splitlines():
        m = re.match(r"^( *)(\S+)\s+frames:(\d+) bytes:(\d+)$", line)
        if m:
            out.append((len(m[1]) // 2, m[2], int(m[3]), int(m[4])))
    return out


def ours(tree: list[dict], depth: int = 0) -> list[tuple[int, str, int, int]]:
    out = []
    for node in tree:
        out.append((depth, node["protocol"], node["frames"], node["bytes"]))
        out += ours(node["children"], depth + 1)
    return out


@pytest.mark.parametrize("name, depth", [
    ("proto__td-ntp.pcap", 4),              # eth ip udp ntp: all of it
    ("proto__td-geneve.pcap", 6),           # down to the inner ip, before icmp/tcp/ssh
    ("proto__td-vxlan.pcap", 4),
    ("tcp__zk-tls-ecdhe.pcap", 3),
])
def test_hierarchy_matches_tshark(capsys, name, depth):
    result = stats_json(capsys, name)
    theirs = [(d, TSHARK_NAMES[p], f, b) for d, p, f, b in phs(name) if d < depth]
    assert [row for row in ours(result["hierarchy"]) if row[0] < depth] == theirs


def test_counts_and_time_span(capsys):
    result = stats_json(capsys, "proto__td-ntp.pcap")
    info = (TRUTH / "proto__td-ntp.pcap.capinfos.txt").read_text()
    assert result["packets"] == int(re.search(r"Number of packets:\s+(\d+)", info)[1])
    assert result["bytes"] == int(re.search(r"Data size:\s+(\d+)", info)[1])
    duration = float(re.search(r"Capture duration:\s+([\d.]+)", info)[1])
    assert abs(result["duration"] - duration) < 1e-5
    assert result["decode_errors"] == 0


def test_conversations_count_both_directions(capsys):
    result = stats_json(capsys, "tcp__zk-tls-ecdhe.pcap")
    (conv,) = result["conversations"]
    assert conv["protocol"] == "IPv4/TCP" and conv["a"] == "192.168.18.50:56981"
    assert conv["packets"] == 28 and conv["packets_a_to_b"] + conv["packets_b_to_a"] == 28
    assert conv["bytes"] == result["bytes"] == 7038


def test_errors_show_in_the_hierarchy_and_filters_apply(capsys):
    result = stats_json(capsys, "badpkt__td-tcp-header-heapoverflow.pcap")
    assert result["decode_errors"] == 1
    assert ours(result["hierarchy"])[-1][1] == "[TCP: error]"
    only_syn = stats_json(capsys, "tcp__zk-tls-ecdhe.pcap", "-f", "tcp[tcpflags] & tcp-syn != 0")
    assert only_syn["packets"] == 2
    assert stats_json(capsys, "tcp__zk-tls-ecdhe.pcap", "-c", "5")["packets"] == 5


def test_text_output(capsys):
    corpus_or_skip()
    assert main(["stats", "-n", "2", str(CAPTURES / "proto__td-geneve.pcap")]) == 0
    out = capsys.readouterr().out
    assert "Packets:     39" in out and "Protocol hierarchy" in out
    assert re.search(r"^ {6}Geneve +frames:39 +bytes:9280$", out, re.M)
    assert "Top 2 conversations by bytes" in out
