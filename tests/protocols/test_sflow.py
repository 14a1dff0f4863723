"""sFlow version 5 (protocols/sflow.layer) on UDP port 6343.

The corpus has no sFlow traffic, so the datagrams are built here with pktspec's builder and
the decoded values are compared with tshark's reading of the same frames
(tests/tshark_reading.py): a datagram with a flow sample (a raw packet header record and an
extended switch record) and a counter sample, one from an IPv6 agent with a sample of another
enterprise. Also: decoding and building again gives the same bytes, the fast decoder agrees
with the construct FORMAT, the builder fills lengths, counts and the XDR padding, summaries,
the port binds below a user's binding, and a datagram cut short gives a DecodeError, never an
exception."""

from __future__ import annotations

import struct

import pytest

import pktspec
from pktspec.layers import UDP, Ethernet, IPv4, SFlow
from pktspec.protocols.sflow import SFlowFlowRecordFormat, SFlowSampleFormat
from pktspec.runtime import REGISTRY
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

AGENT, COLLECTOR = "192.0.2.1", "192.0.2.99"

# the sampled packet: an Ethernet/IPv4/UDP frame's first 46 bytes (not a multiple of 4, so
# the record carries 2 bytes of XDR padding)
SAMPLED = pktspec.serialize(
    Ethernet(src="02:00:5e:00:00:0a", dst="02:00:5e:00:00:0b"),
    IPv4(src="198.51.100.1", dst="198.51.100.2"), UDP(src_port=1234, dst_port=53), b"0123")


def datagram(sflow: SFlow, *, sport: int = 50000, dport: int = 6343) -> bytes:
    return pktspec.serialize(Ethernet(src="02:00:5e:10:00:01", dst="02:00:5e:10:00:fe"),
                             IPv4(src=AGENT, dst=COLLECTOR),
                             UDP(src_port=sport, dst_port=dport), sflow)


FLOW_SAMPLE = {"enterprise": 0, "format": "FlowSample", "data": {
    "sequence_number": 7, "source_id_class": 0, "source_id_index": 3,
    "sampling_rate": 512, "sample_pool": 3584, "drops": 2,
    "input_interface": 3, "output_interface": 4,
    "records": [
        {"enterprise": 0, "format": "RawPacketHeader", "data": {
            "protocol": "Ethernet", "frame_length": 64, "stripped": 4, "header": SAMPLED}},
        {"enterprise": 0, "format": "ExtendedSwitch",
         "data": struct.pack(">4I", 10, 0, 20, 0)},
    ]}}
COUNTER_SAMPLE = {"enterprise": 0, "format": "CounterSample", "data": {
    "sequence_number": 8, "source_id_class": 0, "source_id_index": 5,
    "records": [{"enterprise": 0, "format": "Processor", "data": bytes(28)}]}}

V4 = SFlow(agent_ipv4=AGENT, sub_agent_id=1, sequence_number=12, uptime=123456,
           samples=[FLOW_SAMPLE, COUNTER_SAMPLE, COUNTER_SAMPLE])
V6 = SFlow(agent_ipv6="2001:db8::1", sub_agent_id=0, sequence_number=99, uptime=5,
           samples=[COUNTER_SAMPLE,
                    {"enterprise": 4413, "format": 5, "data": b"vendor-8"}])
FRAMES = [datagram(V4), datagram(V6)]

FIELDS = [
    "sflow_245.version", "sflow_245.agenttype", "sflow_245.agent", "sflow_245.agent.v6",
    "sflow_245.sub_agent_id", "sflow_245.sequence_number", "sflow_245.sysuptime",
    "sflow_245.numsamples", "sflow_245.sampletype", "sflow.enterprise",
    "sflow_5.sample_length",
    "sflow.flow_sample.sequence_number", "sflow.flow_sample.source_id_class",
    "sflow.flow_sample.index", "sflow.flow_sample.sampling_rate",
    "sflow.flow_sample.sample_pool", "sflow.flow_sample.dropped_packets",
    "sflow.flow_sample.input_interface", "sflow.flow_sample.output_interface",
    "sflow.flow_sample.flow_record", "sflow_245.flow_record_format", "sflow_5.flow_data_length",
    "sflow_245.header_protocol", "sflow_245.header.frame_length",
    "sflow_245.header.payload_stripped", "sflow_245.header.sampled_header_length",
    "sflow_245.header",
    "sflow.counters_sample.sequence_number", "sflow.counters_sample.source_id_type",
    "sflow.counters_sample.source_id_index", "sflow.counters_sample.counters_records",
    "sflow_245.counters_record_format",
]


def reading(packet) -> dict[str, str]:
    """Our values as tshark writes those fields (every occurrence, joined by ",")."""
    sflow = packet[SFlow]
    row: dict[str, list[str]] = {f: [] for f in FIELDS}

    def put(field, value):
        row[field].append(str(value))

    put("sflow_245.version", sflow.version)
    put("sflow_245.agenttype", int(sflow.agent_address_type))
    if sflow.agent_ipv4 is not None:
        put("sflow_245.agent", sflow.agent_ipv4)
    if sflow.agent_ipv6 is not None:
        put("sflow_245.agent.v6", sflow.agent_ipv6)
    put("sflow_245.sub_agent_id", sflow.sub_agent_id)
    put("sflow_245.sequence_number", sflow.sequence_number)
    put("sflow_245.sysuptime", sflow.uptime)
    put("sflow_245.numsamples", sflow.sample_count)
    for sample in sflow.samples:
        if sample.enterprise != 0:
            # tshark flags a sample of another enterprise (1: non-standard) and reads no
            # further into it
            put("sflow.enterprise", 1)
            continue
        put("sflow_245.sampletype", int(sample.format))
        put("sflow.enterprise", sample.enterprise)
        put("sflow_5.sample_length", sample.length)
        data = sample.data
        if sample.format == SFlowSampleFormat.FlowSample:
            put("sflow.flow_sample.sequence_number", data.sequence_number)
            put("sflow.flow_sample.source_id_class", data.source_id_class)
            put("sflow.flow_sample.index", data.source_id_index)
            put("sflow.flow_sample.sampling_rate", data.sampling_rate)
            put("sflow.flow_sample.sample_pool", data.sample_pool)
            put("sflow.flow_sample.dropped_packets", data.drops)
            put("sflow.flow_sample.input_interface", data.input_interface)
            put("sflow.flow_sample.output_interface", f"{data.output_interface:#010x}")
            put("sflow.flow_sample.flow_record", data.record_count)
            for record in data.records:
                put("sflow.enterprise", record.enterprise)
                put("sflow_245.flow_record_format", int(record.format))
                put("sflow_5.flow_data_length", record.length)
                if record.format == SFlowFlowRecordFormat.RawPacketHeader:
                    header = record.data
                    put("sflow_245.header_protocol", int(header.protocol))
                    put("sflow_245.header.frame_length", header.frame_length)
                    put("sflow_245.header.payload_stripped", header.stripped)
                    put("sflow_245.header.sampled_header_length", header.header_length)
                    # tshark shows the header with its XDR padding
                    put("sflow_245.header", (bytes(header.header) + bytes(header.padding)).hex())
        elif sample.format == SFlowSampleFormat.CounterSample:
            put("sflow.counters_sample.sequence_number", data.sequence_number)
            put("sflow.counters_sample.source_id_type", data.source_id_class)
            put("sflow.counters_sample.source_id_index", data.source_id_index)
            put("sflow.counters_sample.counters_records", data.record_count)
            for record in data.records:
                put("sflow.enterprise", record.enterprise)
                put("sflow_245.counters_record_format", int(record.format))
                put("sflow_5.flow_data_length", record.length)  # tshark's name for both
    return {k: ",".join(v) for k, v in row.items()}


def test_sflow_datagrams_read_as_tshark_reads_them(tmp_path):
    truth = tshark_fields(FRAMES, FIELDS, tmp_path)
    packets = [pktspec.decode(frame) for frame in FRAMES]
    assert all(p.error is None for p in packets)
    assert all([x.name for x in p.layers] == ["Ethernet", "IPv4", "UDP", "SFlow"]
               for p in packets)
    assert [reading(p) for p in packets] == truth
    # the values themselves, so that an empty reading on both sides cannot pass
    v4, v6 = truth
    assert v4["sflow_245.version"] == "5" and v4["sflow_245.agent"] == AGENT
    assert v4["sflow_245.sequence_number"] == "12" and v4["sflow_245.numsamples"] == "3"
    assert v4["sflow_245.sampletype"] == "1,2,2"
    assert v4["sflow.flow_sample.sampling_rate"] == "512"
    assert v4["sflow_245.flow_record_format"] == "1,1001"
    assert v4["sflow_245.header.sampled_header_length"] == str(len(SAMPLED)) == "46"
    assert v4["sflow_245.header"] == (SAMPLED + b"\0\0").hex()
    assert v4["sflow_245.counters_record_format"] == "1001,1001"
    assert v6["sflow_245.agenttype"] == "2" and v6["sflow_245.agent.v6"] == "2001:db8::1"
    assert v6["sflow.enterprise"] == "0,0,1"  # the vendor sample's is flagged non-standard


def test_the_sampled_header_is_what_tshark_dissects(tmp_path):
    # tshark decodes the sampled frame inside the record: its addresses follow the outer ones
    row = tshark_fields(FRAMES[:1], ["ip.src", "udp.dstport"], tmp_path)[0]
    assert row == {"ip.src": f"{AGENT},198.51.100.1", "udp.dstport": "6343,53"}
    header = pktspec.decode(FRAMES[0])[SFlow].samples[0].data.records[0].data.header
    inner = pktspec.decode(bytes(header))
    assert inner[IPv4].src == "198.51.100.1" and inner[UDP].dst_port == 53


def test_a_datagram_by_field_name():
    sflow = pktspec.decode(FRAMES[0])[SFlow]
    assert (sflow.version, sflow.agent_ipv4, sflow.agent_ipv6) == (5, AGENT, None)
    assert (sflow.sub_agent_id, sflow.sequence_number, sflow.uptime) == (1, 12, 123456)
    assert sflow.sample_count == len(sflow.samples) == 3
    flow = sflow.samples[0]
    assert (flow.enterprise, flow.format) == (0, SFlowSampleFormat.FlowSample)
    assert flow.length == 32 + (8 + 16 + 48) + (8 + 16) == 128
    assert flow.data.records[1].format == SFlowFlowRecordFormat.ExtendedSwitch
    assert flow.data.records[1].data == struct.pack(">4I", 10, 0, 20, 0)
    raw = flow.data.records[0]
    assert raw.length == 16 + 48 and raw.data.padding == b"\0\0"
    assert raw.data.header == SAMPLED and raw.data.header_length == 46
    counter = sflow.samples[1]
    assert counter.length == 12 + 8 + 28 and counter.data.records[0].data == bytes(28)
    vendor = pktspec.decode(FRAMES[1])[SFlow].samples[1]
    assert (vendor.enterprise, vendor.format, vendor.length, vendor.data) == (
        4413, 5, 8, b"vendor-8")


def test_summaries():
    assert pktspec.decode(FRAMES[0])[SFlow].summary() == "v5 agent 192.0.2.1 seq 12, 3 samples"
    assert pktspec.decode(FRAMES[1])[SFlow].summary() == "v5 agent 2001:db8::1 seq 99, 2 samples"


def test_the_builder_writes_what_a_hand_written_datagram_holds():
    counter = struct.pack(">II", 2, 12 + 8 + 28) + struct.pack(">III", 8, 5, 1) + (
        struct.pack(">II", 1001, 28) + bytes(28))
    by_hand = struct.pack(">II4sIIII", 5, 1, bytes([192, 0, 2, 1]), 3, 4, 5, 1) + counter
    built = bytes(SFlow(agent_ipv4=AGENT, sub_agent_id=3, sequence_number=4, uptime=5,
                        samples=[COUNTER_SAMPLE]))
    assert built == by_hand
    # and the enterprise takes the top 20 bits of the first word
    vendor = bytes(SFlow(agent_ipv4=AGENT, samples=[
        {"enterprise": 4413, "format": 5, "data": b"abcd"}]))
    assert vendor[28:32] == struct.pack(">I", 4413 << 12 | 5)


def test_decode_then_build_gives_the_same_bytes_and_both_decoders_agree():
    for frame in FRAMES:
        p = pktspec.decode(frame)
        assert pktspec.serialize(p) == frame and p.build() == frame
        agree(p[SFlow])


def test_the_port_binds_below_a_users_binding(tmp_path, restore_registry):
    assert [(b.cls.name, b.priority) for b in REGISTRY.table("UDPPort").bindings(6343)] == [
        ("SFlow", -1)]
    from tests.generator.conftest import load_text

    load_text(tmp_path, 'import "udp.layer"\nlayer Mine6343 : application { tag: u8; }\n'
              "extend UDPPort { 6343 -> Mine6343 }\n", "mine6343.layer")
    names = [x.name for x in pktspec.decode(FRAMES[0]).layers]
    assert names[:4] == ["Ethernet", "IPv4", "UDP", "Mine6343"]


@pytest.mark.parametrize("frame", FRAMES, ids=["ipv4-agent", "ipv6-agent"])
def test_a_datagram_cut_anywhere_is_an_error_never_an_exception(frame):
    for end in range(43, len(frame)):
        p = pktspec.decode(frame[:end])
        sflow = p.layer(SFlow)
        if sflow is None:  # cut in the fixed header
            assert p.error is not None and p.error.layer == "SFlow" and p.truncated
            assert p.layers[-1].name == "DecodeFailure"
            continue
        # cut among the samples: the lists are read lazily, and end where a sample is cut
        samples = list(sflow.samples)
        for sample in samples:
            data = sample.data
            if isinstance(data, (bytes, bytearray, memoryview)):
                continue
            for record in data.records:
                _ = record.data
        assert len(samples) < sflow.sample_count
        assert p.error is not None and p.error.layer == "SFlow" and p.truncated


def test_the_header_cut_short_names_the_field():
    p = pktspec.decode(FRAMES[1][:42 + 18])
    assert [x.name for x in p.layers] == ["Ethernet", "IPv4", "UDP", "DecodeFailure"]
    assert p.error.layer == "SFlow" and p.error.field_path == "agent_ipv6" and p.truncated


def test_an_unknown_agent_address_type_or_version_is_refused():
    bad = bytearray(FRAMES[0])
    bad[42 + 7] = 9
    p = pktspec.decode(bytes(bad))
    assert p.error.layer == "SFlow" and "unknown agent address type" in p.error.message
    bad = bytearray(FRAMES[0])
    bad[42 + 3] = 4
    p = pktspec.decode(bytes(bad))
    assert p.error.layer == "SFlow" and "only sFlow version 5" in p.error.message


def test_bytes_a_record_holds_beyond_its_header_are_kept():
    record = struct.pack(">II", 1, 16 + 4 + 8) + struct.pack(">IIII", 1, 64, 4, 4) + (
        b"abcd" + b"EXTRAEXT")
    flow = struct.pack(">8I", 1, 3, 1, 1, 0, 1, 2, 1) + record
    data = struct.pack(">II4sIIII", 5, 1, bytes([192, 0, 2, 1]), 0, 1, 2, 1) + (
        struct.pack(">II", 1, len(flow)) + flow)
    frame = pktspec.serialize(Ethernet(), IPv4(src=AGENT, dst=COLLECTOR),
                              UDP(src_port=50000, dst_port=6343), data)
    p = pktspec.decode(frame)
    raw = p[SFlow].samples[0].data.records[0].data
    assert p.error is None and (raw.header, raw.padding, raw.rest) == (b"abcd", b"", b"EXTRAEXT")
    assert p.build() == frame
    agree(p[SFlow])


def test_an_agent_address_given_sets_its_type():
    assert bytes(SFlow())[:8] == struct.pack(">II", 5, 1)  # IPv4 by default
    v6 = pktspec.decode(datagram(SFlow(agent_ipv6="2001:db8::7")))[SFlow]
    assert int(v6.agent_address_type) == 2 and v6.agent_ipv6 == "2001:db8::7"
    assert v6.summary() == "v5 agent 2001:db8::7 seq 0, 0 samples"
