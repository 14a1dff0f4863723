"""Packets in and out: pcap and pcapng files, live interfaces, BPF filters.

    from pktspec.capture import open_records, PcapWriter, open_live, compile_filter

    with open_records("trace.pcapng") as reader:          # format and gzip detected
        for data, info in reader:                          # info: CaptureInfo
            print(info.timestamp, info.caplen, info.linktype)

    with PcapWriter("out.pcap", linktype=1) as out:        # written atomically
        out.write(data, info)

    program = compile_filter("tcp port 80", linktype=1)   # libpcap compiles, Python runs
    program.matches(data)

    with open_live("lo", bpf="udp port 53") as live:       # libpcap, or AF_PACKET without it
        for data, info in live: ...

Readers are pure Python and stream (memory stays flat on any file size); a damaged file
raises CaptureError with its path, byte offset and record number after delivering every
record before the damage. Live capture and BPF use libpcap (Debian's libpcap0.8) through
ctypes, loaded only when first needed. Decoded packets come from pktspec.open / pktspec.live,
which wrap these sources in a PacketSource (source.py).

Neighbours: the runtime (pktspec.runtime) decodes what these produce; reassembly consumes the
decoded packets.
"""

from pktspec.capture import linktypes
from pktspec.capture.afpacket import AFPacketSource
from pktspec.capture.bpf import BPFProgram, compile_filter
from pktspec.capture.files import RecordSource, detect_format, open_records
from pktspec.capture.live import CaptureStats, LiveSource, list_interfaces, open_live
from pktspec.capture.pcap import PcapReader, PcapWriter
from pktspec.capture.pcapng import (
    Block,
    CustomBlock,
    DecryptionSecrets,
    Interface,
    InterfaceStatistics,
    NameResolution,
    PacketBlock,
    PcapngReader,
    PcapngWriter,
    SectionHeader,
    SimplePacketInfo,
    UnknownBlock,
)
from pktspec.capture.source import PacketSource

__all__ = [
    "AFPacketSource", "BPFProgram", "Block", "CaptureStats", "CustomBlock", "DecryptionSecrets",
    "Interface", "InterfaceStatistics", "LiveSource", "NameResolution", "PacketBlock",
    "PacketSource", "PcapReader", "PcapWriter", "PcapngReader", "PcapngWriter", "RecordSource",
    "SectionHeader", "SimplePacketInfo", "UnknownBlock", "compile_filter", "detect_format",
    "linktypes", "list_interfaces", "open_live", "open_records",
]
