"""One-line summaries (``summary`` rules) of the IP-level layers: ICMPv6 and its messages,
IGMP, VRRP, OSPF, BFD, IPsec (ESP, AH), SCTP and GRE.

Each test asserts the exact text of ``layer.summary()`` (and some whole lines of
``pktspec decode``, ``pktspec.cli.render.summary``) on real frames: the conformance corpus
where it has the protocol, frames built with pktspec's builder where it does not. The values
the summaries print (addresses, identifiers, sequence numbers, types) are compared with
tshark's reading of the same frames, so that a summary never says what the packet does not.
"""

from __future__ import annotations

import ipaddress

import pytest

import pktspec
from pktspec.cli.render import layer_summary
from pktspec.cli.render import summary as line_of
from pktspec.layers import (
    GRE,
    IGMP,
    SCTP,
    UDP,
    Ethernet,
    ICMPv4,
    ICMPv6,
    ICMPv6DestinationUnreachable,
    ICMPv6Echo,
    ICMPv6NeighborAdvertisement,
    ICMPv6NeighborSolicitation,
    ICMPv6PacketTooBig,
    ICMPv6ParameterProblem,
    ICMPv6Redirect,
    ICMPv6RouterAdvertisement,
    ICMPv6RouterSolicitation,
    ICMPv6TimeExceeded,
    IPSecAH,
    IPSecESP,
    IPv4,
    IPv6,
    MLDQuery,
    MLDv1,
    MLDv2Report,
)
from pktspec.protocols.bfd import BFD
from pktspec.protocols.ospf import OSPFv2, OSPFv3
from pktspec.protocols.vrrp import VRRPv2
from tests.conftest import corpus_or_skip
from tests.protocols.test_bfd import over_udp
from tests.protocols.test_ospf import lsa_header, v2, v3
from tests.protocols.test_vrrp import over_ipv4, raw, v3_over_ipv6
from tests.tshark_reading import tshark_fields


def corpus(name: str) -> list[pktspec.Packet]:
    return list(pktspec.open(corpus_or_skip() / "captures" / name))


def records(name: str) -> tuple[list[bytes], int]:
    """The raw frames of a corpus capture and its link type, for tshark."""
    with pktspec.open(corpus_or_skip() / "captures" / name) as source:
        rows = list(source.records())
    return [bytes(data) for data, _info in rows], rows[0][1].linktype


def said(data: bytes) -> str | None:
    """What ``pktspec decode`` puts at the end of the frame's line."""
    return layer_summary(pktspec.decode(data))


# ---- ICMPv6 -----------------------------------------------------------------------------

ND = "proto__zk-icmp6-nd-options.pcap"

ND_SAID = [
    "neighbor solicitation, who has fe80::c000:54ff:fef5:0",
    "neighbor advertisement, tgt is fe80::c000:54ff:fef5:0 flags ROUTER|OVERRIDE",
    "router advertisement, prefix 2001:db8:0:1::/64 lifetime 1800s",
    "multicast listener report v2, ChangeToExclude ff02::2",
    "multicast listener report v2, ChangeToExclude ff02::1:fff5:0",
    "neighbor solicitation, who has 2001:db8:0:1:c000:54ff:fef5:0",
    "multicast listener report v2, ChangeToExclude ff02::1:fff5:0",
    "multicast listener report v2, ChangeToExclude ff02::2",
    "neighbor advertisement, tgt is 2001:db8:0:1:c000:54ff:fef5:0 flags ROUTER|OVERRIDE",
    "router advertisement, prefix 2001:db8:0:1::/64 lifetime 1800s",
    "router advertisement, prefix 2001:db8:0:1::/64 lifetime 1800s",
    "multicast listener report",
    "router solicitation",
    "neighbor solicitation, who has fe80::20c:29ff:fe0e:4c67",
    "router advertisement, prefix 2001:db8:0:1::/64 lifetime 1800s",
    "multicast listener report",
    "neighbor solicitation, who has 2001:db8:0:1:fd97:f9f0:a810:782e",
    "neighbor solicitation, who has 2001:db8:0:1:20c:29ff:fe0e:4c67",
    "multicast listener report",
    "multicast listener report",
]


def test_neighbor_discovery_and_mld_lines_of_the_corpus():
    packets = corpus(ND)
    assert [layer_summary(p) for p in packets] == ND_SAID
    assert line_of(packets[0]) == (
        "07:34:03.536057 Ethernet IPv6 ICMPv6 ICMPv6NeighborSolicitation :: > ff02::1:fff5:0: "
        "length 24: neighbor solicitation, who has fe80::c000:54ff:fef5:0")
    assert line_of(packets[3]) == (
        "07:34:04.488029 Ethernet IPv6 IPv6HopByHop ICMPv6 MLDv2Report fe80::c000:54ff:fef5:0 > "
        "ff02::16: length 36: multicast listener report v2, ChangeToExclude ff02::2")


def test_each_icmpv6_layer_says_its_own_part():
    packets = corpus(ND)
    ns = packets[0]
    assert ns[ICMPv6].summary() == "neighbor solicitation"
    # the message layer adds its part after the type's words (the line joins them)
    assert ns[ICMPv6NeighborSolicitation].summary() == "who has fe80::c000:54ff:fef5:0"
    assert packets[1][ICMPv6NeighborAdvertisement].summary() == \
        "tgt is fe80::c000:54ff:fef5:0 flags ROUTER|OVERRIDE"
    assert layer_summary(packets[1]) == \
        "neighbor advertisement, tgt is fe80::c000:54ff:fef5:0 flags ROUTER|OVERRIDE"
    # the prefix comes from the third option (after the source link-layer address and MTU)
    assert packets[2][ICMPv6RouterAdvertisement].summary() == \
        "prefix 2001:db8:0:1::/64 lifetime 1800s"
    assert packets[3][MLDv2Report].summary() == "ChangeToExclude ff02::2"
    # an MLDv1 layer serves reports and dones alike: the ICMPv6 type says which
    assert packets[11][MLDv1].summary() is None
    assert packets[11][ICMPv6].summary() == "multicast listener report"
    assert packets[12][ICMPv6RouterSolicitation].summary() is None
    assert packets[12][ICMPv6].summary() == "router solicitation"


def test_neighbor_discovery_values_are_tsharks(tmp_path):
    frames, linktype = records(ND)
    rows = tshark_fields(frames, ("icmpv6.nd.ns.target_address", "icmpv6.nd.na.target_address",
                                  "icmpv6.nd.na.flag.r", "icmpv6.nd.na.flag.s",
                                  "icmpv6.nd.na.flag.o", "icmpv6.opt.prefix",
                                  "icmpv6.opt.prefix.length", "icmpv6.nd.ra.router_lifetime",
                                  "icmpv6.mldr.mar.record_type",
                                  "icmpv6.mldr.mar.multicast_address"),
                         tmp_path, linktype=linktype)
    checked = 0
    for text, row in zip(ND_SAID, rows, strict=True):
        if row["icmpv6.nd.ns.target_address"]:
            assert text == f"neighbor solicitation, who has {row['icmpv6.nd.ns.target_address']}"
        elif row["icmpv6.nd.na.target_address"]:
            names = [name for name, bit in (("ROUTER", "r"), ("SOLICITED", "s"),
                                            ("OVERRIDE", "o"))
                     if row[f"icmpv6.nd.na.flag.{bit}"] in ("1", "True")]
            assert text == (f"neighbor advertisement, tgt is "
                            f"{row['icmpv6.nd.na.target_address']} flags {'|'.join(names)}")
        elif row["icmpv6.opt.prefix"]:
            assert text == (f"router advertisement, prefix {row['icmpv6.opt.prefix']}/"
                            f"{row['icmpv6.opt.prefix.length']} lifetime "
                            f"{row['icmpv6.nd.ra.router_lifetime']}s")
        elif row["icmpv6.mldr.mar.record_type"]:
            kind = {"4": "ChangeToExclude", "3": "ChangeToInclude"}[
                row["icmpv6.mldr.mar.record_type"]]
            assert text == (f"multicast listener report v2, {kind} "
                            f"{row['icmpv6.mldr.mar.multicast_address']}")
        else:
            continue
        checked += 1
    assert checked == 15


def test_echo_says_identifier_and_sequence_as_tshark_reads_them(tmp_path):
    frames, linktype = records("link__zk-linux-sll2.pcap")
    packets = [pktspec.decode(f, first="LinuxSLL2") for f in frames[2:4]]
    assert [p[ICMPv6Echo].summary() for p in packets] == ["id 9 seq 1", "id 9 seq 1"]
    # without the message body the common header says the type
    assert [p[ICMPv6].summary() for p in packets] == ["echo request", "echo reply"]
    rows = tshark_fields(frames[2:4], ("icmpv6.echo.identifier", "icmpv6.echo.sequence_number"),
                         tmp_path, linktype=linktype)
    for p, row in zip(packets, rows, strict=True):
        assert p[ICMPv6Echo].summary() == (f"id {int(row['icmpv6.echo.identifier'], 0)} "
                                           f"seq {row['icmpv6.echo.sequence_number']}")


def test_echo_lines_behind_pppoe():
    packets = corpus("proto__zk-pppoe.pcap")
    echoes = [p for p in packets if ICMPv6Echo in p]
    assert [layer_summary(p) for p in echoes[:4]] == [
        "echo request, id 8087 seq 0", "echo reply, id 8087 seq 0",
        "echo request, id 8087 seq 1", "echo reply, id 8087 seq 1"]
    mld = next(p for p in packets if MLDv2Report in p)
    assert layer_summary(mld).startswith("multicast listener report v2, ")


V6_SRC, V6_DST = "fe80::1", "ff02::1"
QUOTED = (IPv6(src="2001:db8::2", dst="2001:db8::1", hop_limit=1), UDP(src_port=5, dst_port=6))


def icmpv6(*layers, dst: str = V6_DST) -> bytes:
    return pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="33:33:00:00:00:01"),
                             IPv6(src=V6_SRC, dst=dst, hop_limit=255), *layers)


ICMPV6_BUILT = [
    (icmpv6(ICMPv6(type="DestinationUnreachable", code=4), ICMPv6DestinationUnreachable(),
            *QUOTED), "destination unreachable, port unreachable"),
    (icmpv6(ICMPv6(type="DestinationUnreachable", code=0), ICMPv6DestinationUnreachable(),
            *QUOTED), "destination unreachable, no route"),
    (icmpv6(ICMPv6(type="DestinationUnreachable", code=1), ICMPv6DestinationUnreachable(),
            *QUOTED), "destination unreachable, administratively prohibited"),
    (icmpv6(ICMPv6(type="DestinationUnreachable", code=9), ICMPv6DestinationUnreachable(),
            *QUOTED), "destination unreachable code 9"),
    (icmpv6(ICMPv6(type="PacketTooBig"), ICMPv6PacketTooBig(mtu=1280), *QUOTED),
     "packet too big, mtu 1280"),
    (icmpv6(ICMPv6(type="TimeExceeded", code=0), ICMPv6TimeExceeded(), *QUOTED),
     "time exceeded in-transit"),
    (icmpv6(ICMPv6(type="TimeExceeded", code=1), ICMPv6TimeExceeded(), *QUOTED),
     "time exceeded reassembly"),
    (icmpv6(ICMPv6(type="ParameterProblem", code=1), ICMPv6ParameterProblem(pointer=6),
            *QUOTED), "parameter problem, unrecognized next header"),
    (icmpv6(ICMPv6(type="Redirect"),
            ICMPv6Redirect(target_address="fe80::99", destination_address="2001:db8::5")),
     "redirect, 2001:db8::5 to fe80::99"),
    (icmpv6(ICMPv6(type="RouterAdvertisement"),
            ICMPv6RouterAdvertisement(hop_limit=64, flags="managed", router_lifetime=0)),
     "router advertisement, lifetime 0s"),
    (icmpv6(ICMPv6(type="MLDQuery"),
            MLDQuery(max_response_delay=10000, multicast_address="::")),
     "multicast listener query, general"),
    (icmpv6(ICMPv6(type="MLDQuery"),
            MLDQuery(max_response_delay=1000, multicast_address="ff3e::1234",
                     query_v2=[{"robustness": 2, "interval_code": 125}])),
     "multicast listener query, v2 ff3e::1234"),
    (icmpv6(ICMPv6(type="MLDQuery"),
            MLDQuery(max_response_delay=1000, multicast_address="ff3e::1234",
                     query_v2=[{"robustness": 2, "interval_code": 125,
                                "sources": ["2001:db8::10", "2001:db8::11"]}])),
     "multicast listener query, v2 ff3e::1234 sources 2001:db8::10,2001:db8::11"),
    (icmpv6(ICMPv6(type="MLDDone"), MLDv1(multicast_address="ff02::1:ff00:1"), dst="ff02::2"),
     "multicast listener done"),
    (icmpv6(ICMPv6(type="MLDv2Report"),
            MLDv2Report(records=[{"type": "ChangeToExclude", "multicast_address": "ff02::fb"},
                                 {"type": "ModeIsInclude", "multicast_address": "ff3e::1",
                                  "sources": ["2001:db8::10"]}]), dst="ff02::16"),
     "multicast listener report v2, ChangeToExclude ff02::fb, ModeIsInclude ff3e::1"),
    (icmpv6(ICMPv6(type="MLDv2Report"),
            MLDv2Report(records=[{"type": "AllowNewSources", "multicast_address": "ff3e::1",
                                  "sources": ["2001:db8::10"]}]), dst="ff02::16"),
     "multicast listener report v2, AllowNewSources ff3e::1 sources 2001:db8::10"),
    (icmpv6(ICMPv6(type="MLDv2Report"),
            MLDv2Report(records=[{"type": "ChangeToExclude", "multicast_address": f"ff02::{i}"}
                                 for i in range(1, 4)]), dst="ff02::16"),
     "multicast listener report v2, 3 group records"),
    (icmpv6(ICMPv6(type="NodeInformationQuery"), bytes(8)), "node information query"),
    (icmpv6(ICMPv6(type=200, code=3), bytes(4)), "type 200 code 3"),
]


@pytest.mark.parametrize(("data", "expected"), ICMPV6_BUILT,
                         ids=[text for _data, text in ICMPV6_BUILT])
def test_built_icmpv6_messages(data, expected):
    p = pktspec.decode(data)
    assert p.error is None
    assert layer_summary(p) == expected


def test_an_icmpv6_error_speaks_for_its_quoted_packet():
    p = pktspec.decode(ICMPV6_BUILT[0][0])
    assert [layer.name for layer in p.layers][-3:] == ["ICMPv6DestinationUnreachable", "IPv6",
                                                       "UDP"]
    assert p[ICMPv6DestinationUnreachable].summary() is None
    assert p[ICMPv6].summary() == "destination unreachable, port unreachable"
    assert line_of(p) == ("- Ethernet IPv6 ICMPv6 ICMPv6DestinationUnreachable IPv6 UDP "
                          "fe80::1 > ff02::1: length 56: destination unreachable, port "
                          "unreachable")


RECORD_TYPES = {"1": "ModeIsInclude", "2": "ModeIsExclude", "3": "ChangeToInclude",
                "4": "ChangeToExclude", "5": "AllowNewSources", "6": "BlockOldSources"}


def records_text(count: str, types: str, groups: str, sources: str) -> str:
    """A report's group records as the summaries print them, from tshark's fields (the
    sources only of a lone record)."""
    if count not in ("1", "2"):
        return f"{count} group records"
    parts = [f"{RECORD_TYPES[t]} {g}" for t, g in zip(types.split(","), groups.split(","),
                                                       strict=True)]
    return ", ".join(parts) + (f" sources {sources}" if sources and count == "1" else "")


def test_built_icmpv6_values_are_tsharks(tmp_path):
    frames = [data for data, _text in ICMPV6_BUILT]
    rows = tshark_fields(frames, ("icmpv6.type", "icmpv6.code", "icmpv6.mtu",
                                  "icmpv6.nd.rd.target_address",
                                  "icmpv6.rd.na.destination_address",
                                  "icmpv6.mld.multicast_address", "icmpv6.mld.source_address",
                                  "icmpv6.mldr.nb_mcast_records", "icmpv6.mldr.mar.record_type",
                                  "icmpv6.mldr.mar.multicast_address",
                                  "icmpv6.mldr.mar.source_address"), tmp_path)
    unreachable = {"0": "no route", "1": "administratively prohibited", "4": "port unreachable"}
    problems = {"1": "unrecognized next header"}
    exceeded = {"0": "in-transit", "1": "reassembly"}
    for (data, text), row in zip(ICMPV6_BUILT, rows, strict=True):
        kind, code = row["icmpv6.type"], row["icmpv6.code"]
        expected = {
            "1": (f"destination unreachable, {unreachable[code]}" if code in unreachable
                  else f"destination unreachable code {code}"),
            "2": f"packet too big, mtu {row['icmpv6.mtu']}",
            "3": f"time exceeded {exceeded.get(code)}",
            "4": f"parameter problem, {problems.get(code)}",
            "137": (f"redirect, {row['icmpv6.rd.na.destination_address']} to "
                    f"{row['icmpv6.nd.rd.target_address']}"),
            "130": ("multicast listener query, "
                    + ("v2 " if len(data) > 14 + 40 + 4 + 20 else "")
                    + ("general" if row['icmpv6.mld.multicast_address'] == "::"
                       else row['icmpv6.mld.multicast_address'])
                    + (f" sources {row['icmpv6.mld.source_address']}"
                       if row["icmpv6.mld.source_address"] else "")),
            "143": "multicast listener report v2, " + records_text(
                row["icmpv6.mldr.nb_mcast_records"], row["icmpv6.mldr.mar.record_type"],
                row["icmpv6.mldr.mar.multicast_address"], row["icmpv6.mldr.mar.source_address"]),
            "200": f"type 200 code {code}",
        }.get(kind)
        if expected is not None:
            assert text == expected


def test_a_truncated_message_leaves_the_common_header_to_speak():
    data = icmpv6(ICMPv6(type="EchoRequest"), ICMPv6Echo(identifier=1, seq=2), b"abcd")
    assert said(data) == "echo request, id 1 seq 2"
    p = pktspec.decode(data[:14 + 40 + 4 + 2])   # the echo body cut after its identifier
    assert p.error is not None
    assert layer_summary(p) == "echo request"


# ---- IGMP -------------------------------------------------------------------------------

IGMP_SAID = [
    "v2 general membership query",
    "v2 membership report 239.255.255.250",
    "v2 membership report 225.10.10.10",
    "v2 membership report 225.1.1.3",
    "v2 leave group 225.1.1.3",
    "v2 membership query 225.1.1.3",
    "v2 membership report 225.1.1.4",
    "v2 membership report 225.1.1.4",
    "v2 membership report 225.1.1.4",
    "v2 leave group 225.1.1.4",
    "v2 membership query 225.1.1.4",
    "v2 membership report 225.1.1.5",
    "v2 membership report 225.1.1.5",
    "v2 membership report 225.1.1.5",
    "v2 general membership query",
    "v2 membership report 225.10.10.10",
    "v2 membership report 239.255.255.250",
    "v2 membership report 225.1.1.5",
]


def test_igmp_v2_lines_of_the_corpus(tmp_path):
    name = "proto__td-igmp-v2-ip-options.pcap"
    packets = corpus(name)
    assert [p[IGMP].summary() for p in packets] == IGMP_SAID
    assert line_of(packets[1]) == ("10:21:48.627293 Ethernet IPv4 IGMP 192.168.1.64 > "
                                   "239.255.255.250: length 8: v2 membership report "
                                   "239.255.255.250")
    frames, linktype = records(name)
    rows = tshark_fields(frames, ("igmp.version", "igmp.type", "igmp.maddr"), tmp_path,
                         linktype=linktype)
    words = {"0x11": "membership query", "0x16": "membership report", "0x17": "leave group"}
    for text, row in zip(IGMP_SAID, rows, strict=True):
        if row["igmp.maddr"] == "0.0.0.0":  # a general query names no group
            assert text == f"v{row['igmp.version']} general membership query"
            continue
        assert text == f"v{row['igmp.version']} {words[row['igmp.type']]} {row['igmp.maddr']}"


def igmp(layer: IGMP, dst: str = "224.0.0.1") -> bytes:
    return pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="01:00:5e:00:00:01"),
                             IPv4(src="192.0.2.1", dst=dst, ttl=1), layer)


IGMP_BUILT = [
    (igmp(IGMP(type="MembershipQuery", max_response_time=100, group_address="0.0.0.0",
               query_v3=[{"robustness": 2, "interval_code": 125}])),
     "v3 general membership query"),
    (igmp(IGMP(type="MembershipQuery", max_response_time=100, group_address="232.1.1.1",
               query_v3=[{"robustness": 2, "interval_code": 125,
                          "sources": ["10.0.0.1", "10.0.0.2"]}])),
     "v3 membership query 232.1.1.1 sources 10.0.0.1,10.0.0.2"),
    (igmp(IGMP(type="MembershipQuery", max_response_time=0, group_address="0.0.0.0")),
     "v1 membership query"),
    (igmp(IGMP(type="MembershipReportV1", group_address="224.1.2.3"), dst="224.1.2.3"),
     "v1 membership report 224.1.2.3"),
    (igmp(IGMP(type="MembershipReportV3",
               records=[{"type": "ChangeToExclude", "multicast_address": "239.1.1.1"}]),
          dst="224.0.0.22"),
     "v3 membership report, ChangeToExclude 239.1.1.1"),
    (igmp(IGMP(type="MembershipReportV3",
               records=[{"type": "ModeIsInclude", "multicast_address": "232.1.1.1",
                         "sources": ["10.0.0.1"]}]), dst="224.0.0.22"),
     "v3 membership report, ModeIsInclude 232.1.1.1 sources 10.0.0.1"),
    (igmp(IGMP(type="MembershipReportV3",
               records=[{"type": "ChangeToExclude", "multicast_address": "239.1.1.1"},
                        {"type": "ChangeToInclude", "multicast_address": "239.1.1.2"}]),
          dst="224.0.0.22"),
     "v3 membership report, ChangeToExclude 239.1.1.1, ChangeToInclude 239.1.1.2"),
    (igmp(IGMP(type="MembershipReportV3",
               records=[{"type": "ChangeToExclude", "multicast_address": f"239.1.1.{i}"}
                        for i in range(3)]), dst="224.0.0.22"),
     "v3 membership report, 3 group records"),
    (igmp(IGMP(type="DVMRP", group_address="0.0.0.0")), "DVMRP"),
    (igmp(IGMP(type=0x30, group_address="0.0.0.0")), "type 0x30"),
]


@pytest.mark.parametrize(("data", "expected"), IGMP_BUILT,
                         ids=[text for _data, text in IGMP_BUILT])
def test_built_igmp_messages(data, expected):
    p = pktspec.decode(data)
    assert p.error is None
    assert p[IGMP].summary() == expected


def test_built_igmp_values_are_tsharks(tmp_path):
    """tshark's IGMP version (1 for a query with no maximum response time, 3 for a longer
    one), group, sources and group records give the same words."""
    rows = tshark_fields([data for data, _text in IGMP_BUILT],
                         ("igmp.version", "igmp.type", "igmp.maddr", "igmp.saddr",
                          "igmp.num_grp_recs", "igmp.record_type"), tmp_path)
    checked = 0
    for (_data, text), row in zip(IGMP_BUILT, rows, strict=True):
        version, kind, group = row["igmp.version"], row["igmp.type"], row["igmp.maddr"]
        if kind == "0x11" and version == "1":
            expected = "v1 membership query"
        elif kind == "0x11" and group == "0.0.0.0":
            expected = f"v{version} general membership query"
        elif kind == "0x11":
            expected = f"v{version} membership query {group}" + (
                f" sources {row['igmp.saddr']}" if row["igmp.saddr"] else "")
        elif kind == "0x12":
            expected = f"v1 membership report {group}"
        elif kind == "0x22":
            expected = "v3 membership report, " + records_text(
                row["igmp.num_grp_recs"], row["igmp.record_type"], group, row["igmp.saddr"])
        else:
            continue    # DVMRP and unknown types: tshark reads no group either
        assert text == expected
        checked += 1
    assert checked == 8


# ---- VRRP, OSPF, BFD ----------------------------------------------------------------------

VRRP_BUILT = [
    (over_ipv4(VRRPv2(virtual_rtr_id=7, priority=200,
                      ip_address=[raw("192.0.2.100"), raw("192.0.2.101")])),
     "v2 Advertisement vrid 7 prio 200 intvl 1s addrs 192.0.2.100,192.0.2.101"),
    (over_ipv4(VRRPv2(virtual_rtr_id=9)), "v2 Advertisement vrid 9 prio 100 intvl 1s"),
    (over_ipv4(VRRPv2(version=3, virtual_rtr_id=10, priority=150, max_adver_int=250,
                      ip_address=[raw("192.0.2.1")])),
     "v3 Advertisement vrid 10 prio 150 intvl 250cs addrs 192.0.2.1"),
    (v3_over_ipv6(8, 254, 100, ["fe80::2", "2001:db8::2"]),
     "v3 Advertisement vrid 8 prio 254 intvl 100cs addrs fe80::2,2001:db8::2"),
]


def test_vrrp_advertisements_as_tshark_reads_them(tmp_path):
    for data, expected in VRRP_BUILT:
        assert pktspec.decode(data)[VRRPv2].summary() == expected
    assert line_of(pktspec.decode(VRRP_BUILT[0][0])) == (
        "- Ethernet IPv4 VRRPv2 192.0.2.1 > 224.0.0.18: length 24: v2 Advertisement vrid 7 "
        "prio 200 intvl 1s addrs 192.0.2.100,192.0.2.101")
    rows = tshark_fields([data for data, _text in VRRP_BUILT],
                         ("vrrp.version", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.adver_int",
                          "vrrp.short_adver_int", "vrrp.ip_addr", "vrrp.ipv6_addr"), tmp_path)
    for (_data, text), row in zip(VRRP_BUILT, rows, strict=True):
        unit = "s" if row["vrrp.version"] == "2" else "cs"
        interval = row["vrrp.adver_int"] or row["vrrp.short_adver_int"]
        expected = (f"v{row['vrrp.version']} Advertisement vrid {row['vrrp.virt_rtr_id']} "
                    f"prio {row['vrrp.prio']} intvl {interval}{unit}")
        addresses = row["vrrp.ip_addr"] or row["vrrp.ipv6_addr"]
        assert text == expected + (f" addrs {addresses}" if addresses else "")


HELLO = {"network_mask": "255.255.255.0", "hello_interval": 10, "options": 0x02,
         "rtr_priority": 1, "router_dead_interval": 40, "designated_router_id": "192.0.2.1",
         "backup_designated_router_id": "0.0.0.0", "neighbor_id": []}
LSA = {**lsa_header(1, 1, "2.2.2.2", "2.2.2.2", 0x80000002, 0xABCD, None, options=0x02),
       "body": bytes(12)}

OSPF_BUILT = [
    (v2(OSPFv2(router_id="1.1.1.1", content=HELLO)), "Hello"),
    (v2(OSPFv2(type="DatabaseDescription", router_id="1.1.1.1",
               content={"interface_mtu": 1500, "options": 0x02, "flags": 0x07,
                        "dd_seq_number": 4242, "lsa_info": []})),
     "DatabaseDescription flags INIT|MORE|MASTER seq 4242"),
    (v2(OSPFv2(type="LinkStateRequest", router_id="1.1.1.1",
               content=[{"ls_type": 1, "ls_id": "2.2.2.2", "adv_router": "2.2.2.2"}])),
     "LinkStateRequest"),
    (v2(OSPFv2(type="LinkStateUpdate", router_id="2.2.2.2", content={"lsas": [LSA]})),
     "LinkStateUpdate 1 LSA"),
    (v2(OSPFv2(type="LinkStateUpdate", router_id="2.2.2.2", content={"lsas": [LSA, LSA]})),
     "LinkStateUpdate 2 LSAs"),
    (v2(OSPFv2(type="LinkStateAcknowledgment", router_id="1.1.1.1", content=[])),
     "LinkStateAcknowledgment"),
    (v3(OSPFv3(router_id="1.1.1.1", content={
        "interface_id": 5, "rtr_priority": 1, "options": 0x13, "hello_interval": 10,
        "router_dead_interval": 40, "designated_router_id": "1.1.1.1",
        "backup_designated_router_id": "0.0.0.0", "neighbor_id": []})), "Hello"),
    (v3(OSPFv3(type="DatabaseDescription", router_id="1.1.1.1", content={
        "options": 0x13, "interface_mtu": 9000, "flags": 0x03, "dd_seq_number": 99,
        "lsa_info": []})), "DatabaseDescription flags MORE|MASTER seq 99"),
]


def test_ospf_packet_types_as_tshark_reads_them(tmp_path):
    for data, expected in OSPF_BUILT:
        p = pktspec.decode(data)
        assert p.error is None
        assert layer_summary(p) == expected
    assert line_of(pktspec.decode(OSPF_BUILT[0][0])) == \
        "- Ethernet IPv4 OSPFv2 192.0.2.1 > 224.0.0.5: length 44: Hello"
    rows = tshark_fields([data for data, _text in OSPF_BUILT],
                         ("ospf.msg", "ospf.ls.number_of_lsas", "ospf.db.dd_sequence"),
                         tmp_path)
    types = {"1": "Hello", "2": "DatabaseDescription", "3": "LinkStateRequest",
             "4": "LinkStateUpdate", "5": "LinkStateAcknowledgment"}
    for (_data, text), row in zip(OSPF_BUILT, rows, strict=True):
        assert text.split(" ")[0] == types[row["ospf.msg"]]
        if row["ospf.ls.number_of_lsas"]:
            assert text.split(" ")[1] == row["ospf.ls.number_of_lsas"]
        if row["ospf.db.dd_sequence"]:
            assert text.endswith(f" seq {row['ospf.db.dd_sequence']}")


BFD_BUILT = [
    (over_udp(BFD(state="Down", detect_multiplier=3, my_discriminator=1)), "state Down"),
    (over_udp(BFD(state="Up", detect_multiplier=3, my_discriminator=2, poll=1), port=4784),
     "state Up poll"),
    (over_udp(BFD(state="Up", detect_multiplier=3, my_discriminator=2, final=1)),
     "state Up final"),
    (over_udp(BFD(state="Init", diagnostic="ControlDetectionTimeExpired", my_discriminator=7),
              v6=True), "state Init diag ControlDetectionTimeExpired"),
    (over_udp(BFD(state="AdminDown", diagnostic="AdministrativelyDown", my_discriminator=9)),
     "state AdminDown diag AdministrativelyDown"),
    (over_udp(BFD(state="Up", detect_multiplier=3, my_discriminator=10,
                  auth_type="SimplePassword", auth_key_id=4, auth_data=b"hunter2")),
     "state Up"),
]


def test_bfd_states_as_tshark_reads_them(tmp_path):
    for data, expected in BFD_BUILT:
        assert pktspec.decode(data)[BFD].summary() == expected
    assert line_of(pktspec.decode(BFD_BUILT[0][0])) == (
        "- Ethernet IPv4 UDP BFD 192.0.2.1.49152 > 192.0.2.2.3784: length 24: state Down")
    rows = tshark_fields([data for data, _text in BFD_BUILT],
                         ("bfd.sta", "bfd.diag", "bfd.flags.p", "bfd.flags.f"), tmp_path)
    states = {"0": "AdminDown", "1": "Down", "2": "Init", "3": "Up"}
    diags = {"0x00": None, "0x01": "ControlDetectionTimeExpired", "0x07": "AdministrativelyDown"}
    for (_data, text), row in zip(BFD_BUILT, rows, strict=True):
        expected = f"state {states[str(int(row['bfd.sta'], 0))]}"
        diag = diags[f"0x{int(row['bfd.diag'], 0):02x}"]
        if diag is not None:
            expected += f" diag {diag}"
        elif row["bfd.flags.p"] in ("1", "True"):
            expected += " poll"
        elif row["bfd.flags.f"] in ("1", "True"):
            expected += " final"
        assert text == expected


# ---- IPsec ------------------------------------------------------------------------------

def ipsec(*layers, v6: bool = False) -> bytes:
    ip = IPv6(src="2001:db8::1", dst="2001:db8::2") if v6 else \
        IPv4(src="192.0.2.1", dst="192.0.2.2")
    return pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"), ip,
                             *layers)


def test_esp_and_ah_say_spi_and_sequence_as_tshark_reads_them(tmp_path):
    frames = [
        ipsec(IPSecESP(spi=0x1000, seq=5), bytes(24)),
        ipsec(IPSecESP(spi=0xDEADBEEF, seq=1), bytes(24), v6=True),
        ipsec(IPSecAH(spi=0x2000, seq=7, authentication_data=bytes(12)), bytes(8)),
    ]
    packets = [pktspec.decode(f) for f in frames]
    assert packets[0][IPSecESP].summary() == "spi 0x00001000 seq 5"
    assert packets[1][IPSecESP].summary() == "spi 0xdeadbeef seq 1"
    assert packets[2][IPSecAH].summary() == "spi 0x00002000 seq 7"
    assert line_of(packets[0]) == ("- Ethernet IPv4 IPSecESP 192.0.2.1 > 192.0.2.2: length 32: "
                                   "spi 0x00001000 seq 5")
    rows = tshark_fields(frames, ("esp.spi", "esp.sequence", "ah.spi", "ah.sequence"),
                         tmp_path)
    for p, row in zip(packets, rows, strict=True):
        spi, seq = (row["esp.spi"], row["esp.sequence"]) if row["esp.spi"] else \
            (row["ah.spi"], row["ah.sequence"])
        assert layer_summary(p) == f"spi {int(spi, 0):#010x} seq {seq}"


def test_ah_speaks_before_the_layer_it_carries():
    """As tcpdump's "AH(spi=0x00002000,seq=0x7): ICMP echo request": both, joined."""
    p = pktspec.decode(ipsec(IPSecAH(spi=0x2000, seq=7, authentication_data=bytes(12)),
                             ICMPv4(type="EchoRequest", id=1, seq=2)))
    assert p[IPSecAH].summary() == "spi 0x00002000 seq 7"
    assert layer_summary(p) == "spi 0x00002000 seq 7, EchoRequest id 1 seq 2"


# ---- SCTP -------------------------------------------------------------------------------

SCTP_COMMUNITY = [
    "Init tag 0x43232544 a_rwnd 65535 tsn 1560164255",
    "InitAck tag 0x00000eb0 a_rwnd 4096 tsn 13844",
    "CookieEcho",
    "CookieAck",
    "Data, Data",
    "SACK, Data, Data",
]


def test_sctp_chunks_of_the_corpus(tmp_path):
    name = "proto__zk-sctp-communityid.pcap"
    packets = corpus(name)
    assert [p[SCTP].summary() for p in packets[:6]] == SCTP_COMMUNITY
    assert packets[11][SCTP].summary() == "SACK, Data"
    lone = [p[SCTP].summary() for p in packets if len(p[SCTP].chunks) == 1]
    assert "Data tsn 13852 sid 8 ssn 0 ppid Unspecified" in lone
    assert "SACK cum ack 13852 a_rwnd 65535" in lone
    assert line_of(packets[0]) == (
        "08:49:58.686079 Ethernet IPv4 SCTP 192.168.170.8.7 > 192.168.170.56.7: length 0: "
        "Init tag 0x43232544 a_rwnd 65535 tsn 1560164255")
    frames, linktype = records(name)
    rows = tshark_fields(frames[:2], ("sctp.init_initiate_tag", "sctp.initack_initiate_tag",
                                      "sctp.init_credit", "sctp.initack_credit",
                                      "sctp.init_initial_tsn", "sctp.initack_initial_tsn"),
                         tmp_path, linktype=linktype)
    for text, row, kind in zip(SCTP_COMMUNITY, rows, ("init", "initack"), strict=False):
        assert text.split(" ", 1)[1] == (
            f"tag {int(row[f'sctp.{kind}_initiate_tag'], 0):#010x} "
            f"a_rwnd {row[f'sctp.{kind}_credit']} tsn {row[f'sctp.{kind}_initial_tsn']}")


def test_sctp_lone_chunks_as_tshark_reads_them(tmp_path):
    name = "link__td-sctp-forces1-sll.pcap"
    frames, linktype = records(name)
    packets = corpus(name)
    said_here = [p[SCTP].summary() for p in packets]
    assert said_here[:3] == [
        "Data tsn 1048037094 sid 0 ssn 1 ppid Unspecified",
        "Data tsn 18398476 sid 0 ssn 0 ppid Unspecified",
        "SACK cum ack 18398476 a_rwnd 57320",
    ]
    rows = tshark_fields(frames, ("sctp.chunk_type", "sctp.data_tsn_raw", "sctp.data_sid",
                                  "sctp.data_ssn", "sctp.data_payload_proto_id",
                                  "sctp.sack_cumulative_tsn_ack_raw", "sctp.sack_a_rwnd"),
                         tmp_path, linktype=linktype)
    checked = 0
    for text, row in zip(said_here, rows, strict=True):
        if row["sctp.chunk_type"] == "0":
            ppid = row["sctp.data_payload_proto_id"]
            assert text == (f"Data tsn {row['sctp.data_tsn_raw']} "
                            f"sid {int(row['sctp.data_sid'], 0)} ssn {row['sctp.data_ssn']} "
                            f"ppid {'Unspecified' if ppid == '0' else ppid}")
        elif row["sctp.chunk_type"] == "3":
            assert text == (f"SACK cum ack {row['sctp.sack_cumulative_tsn_ack_raw']} "
                            f"a_rwnd {row['sctp.sack_a_rwnd']}")
        else:
            assert text == {"4": "Heartbeat", "5": "HeartbeatAck"}[row["sctp.chunk_type"]]
        checked += 1
    assert checked == len(frames) == 20


def sctp(*chunks) -> bytes:
    return pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"),
                             IPv4(src="192.0.2.1", dst="192.0.2.2"),
                             SCTP(src_port=3868, dst_port=3868, verification_tag=0x1234,
                                  chunks=list(chunks)))


def data_chunk(tsn: int) -> dict:
    return {"type": "Data", "flags": 3, "value": {
        "tsn": tsn, "stream_id": 1, "stream_sequence": 2, "payload_protocol": "Diameter",
        "user_data": b"abcd"}}


def test_built_sctp_chunks(tmp_path):
    frames = [
        sctp({"type": "Shutdown", "value": 77}),
        sctp({"type": "Heartbeat", "value": b"\x00\x01\x00\x08abcd"}),
        sctp(data_chunk(1)),
        sctp(data_chunk(1), data_chunk(2), data_chunk(3), data_chunk(4)),
        sctp(),
    ]
    assert [pktspec.decode(f)[SCTP].summary() for f in frames] == [
        "Shutdown cum ack 77",
        "Heartbeat",
        "Data tsn 1 sid 1 ssn 2 ppid Diameter",
        "Data, Data, Data, Data",  # every chunk (up to 8)
        None,
    ]
    rows = tshark_fields(frames[:3], ("sctp.shutdown_cumulative_tsn_ack", "sctp.chunk_type",
                                      "sctp.data_payload_proto_id"), tmp_path)
    assert rows[0]["sctp.shutdown_cumulative_tsn_ack"] == "77"
    assert rows[1]["sctp.chunk_type"] == "4"        # HEARTBEAT
    assert rows[2]["sctp.data_payload_proto_id"] == "46"   # Diameter


# ---- GRE --------------------------------------------------------------------------------

def test_gre_key_when_what_it_carries_says_nothing(tmp_path):
    name = "proto__td-gre-various.pcap"
    packets = corpus(name)
    keyed = [p for p in packets if GRE in p]
    assert {p[GRE].summary() for p in keyed} == {"key 0x00000028"}
    assert line_of(keyed[0]) == ("09:45:07.471682 Ethernet Dot1Q IPv4 GRE 10.172.64.7 > "
                                 "10.172.64.6: length 44: key 0x00000028")
    frames, linktype = records(name)
    rows = tshark_fields(frames, ("gre.key",), tmp_path, linktype=linktype)
    # (tshark reads on into the packet a keepalive carries behind its Cisco metadata, a
    # GRE packet with the same key, and lists both keys)
    assert {key for row in rows for key in row["gre.key"].split(",") if key} == {"0x00000028"}


def test_pptp_gre_leaves_the_word_to_ppp():
    p = next(p for p in corpus("fmt__td-pptp-be-usec.pcap") if GRE in p)
    assert p[GRE].summary() == "call 0 seq 0"
    assert layer_summary(p) != "call 0 seq 0"       # PPP, the deeper layer, speaks


def gre(layer: GRE, payload: bytes = b"") -> bytes:
    return pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"),
                             IPv4(src="192.0.2.1", dst="192.0.2.2"), layer, payload)


def test_built_gre_headers(tmp_path):
    frames = [
        gre(GRE(version=1, protocol="PPP", key_present=1, call_id=6016, seq=430, ack=3)),
        gre(GRE(version=1, protocol="PPP", key_present=1, call_id=6016, ack=3)),
        gre(GRE(protocol=0x8909, key=0x1234, seq=9), b"abc"),
        gre(GRE(protocol=0x8909, seq=9), b"abc"),
        gre(GRE(protocol=0x8909), b"abc"),
    ]
    assert [pktspec.decode(f)[GRE].summary() for f in frames] == [
        "call 6016 seq 430 ack 3",
        "call 6016 ack 3",
        "key 0x00001234 seq 9",
        "seq 9",
        None,
    ]
    rows = tshark_fields(frames[:3], ("gre.key.call_id", "gre.sequence_number",
                                      "gre.ack_number", "gre.key"), tmp_path)
    assert [(r["gre.key.call_id"], r["gre.sequence_number"], r["gre.ack_number"]) for r in
            rows[:2]] == [("6016", "430", "3"), ("6016", "", "3")]
    assert (rows[2]["gre.key"], rows[2]["gre.sequence_number"]) == ("0x00001234", "9")


def test_addresses_in_summaries_read_as_text():
    """The placeholders print addresses as text, never as bytes (IPv4 and IPv6)."""
    text = said(icmpv6(ICMPv6(type="NeighborSolicitation"),
                       ICMPv6NeighborSolicitation(target_address="2001:db8::1")))
    assert text == "neighbor solicitation, who has 2001:db8::1"
    assert str(ipaddress.ip_address(text.rsplit(" ", 1)[1])) == "2001:db8::1"
