"""BPF in Python must keep exactly the packets tcpdump keeps.

The corpus captures are merged, per link type, into one file whose record i has timestamp
i seconds; tcpdump filters that file and the timestamps it writes back are the indices of
the packets it kept. The translated Python function, the reference interpreter and libpcap's
pcap_offline_filter must agree with it, also on packets cut short at every header boundary
(out-of-bounds loads reject). Hand-written programs pin down the VM semantics without
libpcap.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pktspec.capture import bpf, libpcap
from pktspec.capture.bpf import BPFProgram, compile_filter, interpret, translate
from pktspec.capture.pcap import PcapReader, PcapWriter
from pktspec.errors import CaptureError, FilterError, LiveCaptureError
from tests.conftest import CAPTURES, corpus_or_skip

EXPRESSIONS = [
    # protocols
    "tcp", "udp", "icmp", "icmp6", "arp", "ip", "ip6", "sctp", "igmp", "ip proto 47", "ip broadcast",
    "ip6 protochain 6", "ip protochain 17", "rarp", "pppoes", "pppoes and udp", "geneve", "stp", "llc",
    # hosts and nets
    "host 192.168.72.14", "src host 10.0.2.15", "dst host 65.54.95.206",
    "host 2001:db8:1::1", "ip6 host fe80::c000:54ff:fef5:0", "net 192.168.0.0/16",
    "src net 10.0.0.0/8", "dst net 65.54.95.0 mask 255.255.255.0", "net 2001:db8::/32",
    "ip multicast", "ip6 multicast",
    # ports and port ranges
    "port 80", "tcp port 443", "udp port 53", "src port 80", "dst port 80",
    "portrange 1-1023", "tcp dst portrange 1024-65535", "udp portrange 50-200",
    # VLAN and MPLS (they move every later offset)
    "vlan", "vlan 1213", "vlan and tcp", "vlan and vlan", "vlan and vlan and arp", "vlan and mpls", "mpls", "mpls and ip",
    # link layer
    "ether host 00:26:ca:1f:cd:40", "ether src 52:54:00:12:35:02", "ether broadcast",
    "ether multicast", "ether proto 0x8863", "ether[0] & 1 = 1",
    # lengths
    "greater 100", "less 80", "len >= 1000", "len - 14 > 100",
    # header bytes and flags
    "tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
    "tcp[tcpflags] & tcp-rst != 0", "tcp[13] == 0x18", "ip[8] < 64",
    "ip[6:2] & 0x1fff != 0", "ip[6] & 0x20 != 0", "ip6[6] == 44",
    "icmp[icmptype] == icmp-echo", "icmp6 and ip6[40] == 135",
    # arithmetic: scratch memory, indexed loads, every ALU operation
    "ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2) != 0",
    "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
    "udp[4:2] / 3 > 20", "tcp[4:4] % 7 = 3", "ip[0] ^ 0x45 = 0", "ip[2:2] * 3 > 1000",
    "-ip[8] & 0xff > 200", "tcp[12:2] >> 12 > 5", "(ip[1] | 3) = 3",
    "ip[2:2] << (ip[0] & 0xf) > 1000",
    # combinations
    "tcp and not port 80", "udp and not port 53", "(tcp or udp) and not (ip6 or vlan)",
    "not ip and not ip6 and not arp", "host 192.168.72.14 and (port 80 or port 443)",
]  # fmt: skip

#: Per other link type: expressions whose offsets depend on the link header.
OTHER_LINK_EXPRESSIONS = ["ip", "ip6", "tcp", "udp", "port 80", "not ip", "ip[8] < 64"]

#: Lengths to cut packets at: around Ethernet, VLAN, IPv4, IPv6, TCP and UDP header fields.
CUTS = [0, 1, 12, 13, 14, 15, 17, 18, 20, 22, 23, 24, 26, 30, 33, 34, 35, 36, 37, 38, 42, 47]
CUTS += [53, 54, 55, 56, 58, 60, 62, 66, 74]

Packets = list[tuple[bytes, int]]


def _require_libpcap() -> None:
    if not libpcap.available():
        pytest.skip("libpcap is not installed (apt-get install libpcap0.8)")


def _require_tcpdump() -> str:
    _require_libpcap()
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        pytest.skip("tcpdump is not installed (apt-get install tcpdump)")
    return tcpdump


def _read_records(path: Path) -> tuple[int, Packets]:
    """(link type, [(data, wirelen)]) with every record a damaged file delivers."""
    packets: Packets = []
    try:
        with PcapReader(path) as reader:
            linktype = reader.linktype
            try:
                packets.extend((data, info.length) for data, info in reader)
            except CaptureError:
                pass
    except CaptureError:
        return -1, []
    return linktype, packets


@pytest.fixture(scope="module")
def corpus_by_linktype(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[int, tuple[Path, Packets]]:
    """Every corpus pcap merged per link type into a file where timestamp = record index."""
    corpus_or_skip()
    merged: dict[int, Packets] = {}
    for path in sorted(CAPTURES.glob("*.pcap")):
        linktype, packets = _read_records(path)
        if packets:
            merged.setdefault(linktype, []).extend(packets)
    out = tmp_path_factory.mktemp("bpf")
    result = {}
    for linktype, packets in merged.items():
        path = out / f"linktype-{linktype}.pcap"
        with PcapWriter(path, linktype) as writer:
            for index, (data, wirelen) in enumerate(packets):
                writer.write(data, index, wirelen)
        result[linktype] = (path, packets)
    return result


@pytest.fixture(scope="module")
def ethernet(corpus_by_linktype: dict[int, tuple[Path, Packets]]) -> tuple[Path, Packets]:
    path, packets = corpus_by_linktype[1]
    assert len(packets) > 3000, "the Ethernet corpus should have thousands of packets"
    return path, packets


def _tcpdump_kept(tcpdump: str, path: Path, expr: str, optimize: bool = True) -> list[int]:
    """Indices of the records ``tcpdump -r path -w - expr`` keeps (-O: unoptimized)."""
    flags = [] if optimize else ["-O"]
    proc = subprocess.run(
        [tcpdump, *flags, "-r", str(path), "-w", "-", "--", expr], capture_output=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr.decode()
    with PcapReader(io.BytesIO(proc.stdout)) as reader:
        return [info.ts_sec for _, info in reader]


def _python_kept(program: BPFProgram, packets: Packets) -> list[int]:
    return [i for i, (data, wirelen) in enumerate(packets) if program.matches(data, wirelen)]


def test_at_least_thirty_expressions() -> None:
    assert len(set(EXPRESSIONS)) == len(EXPRESSIONS) >= 30


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
def test_filters_keep_what_tcpdump_keeps(ethernet: tuple[Path, Packets], optimize: bool) -> None:
    tcpdump = _require_tcpdump()
    path, packets = ethernet
    with ThreadPoolExecutor(max_workers=8) as pool:
        kept_by_tcpdump = pool.map(
            lambda e: _tcpdump_kept(tcpdump, path, e, optimize), EXPRESSIONS
        )
        expected = dict(zip(EXPRESSIONS, kept_by_tcpdump, strict=True))
    wrong = {}
    for expr in EXPRESSIONS:
        kept = _python_kept(compile_filter(expr, optimize=optimize), packets)
        if kept != expected[expr]:
            wrong[expr] = (len(kept), len(expected[expr]))
    assert not wrong, f"(python, tcpdump) packet counts differ: {wrong}"
    selective = [e for e in EXPRESSIONS if 0 < len(expected[e]) < len(packets)]
    assert len(selective) >= 30, "most expressions should keep some packets but not all"


def test_other_link_types_keep_what_tcpdump_keeps(
    corpus_by_linktype: dict[int, tuple[Path, Packets]],
) -> None:
    tcpdump = _require_tcpdump()
    checked = []
    for linktype, (path, packets) in sorted(corpus_by_linktype.items()):
        if linktype in (-1, 1):
            continue
        for expr in OTHER_LINK_EXPRESSIONS:
            try:
                program = compile_filter(expr, linktype=linktype)
            except FilterError:
                continue  # e.g. no IP on this link type: tcpdump refuses it too
            assert _python_kept(program, packets) == _tcpdump_kept(tcpdump, path, expr), (
                f"link type {linktype}: {expr!r}"
            )
            checked.append(linktype)
    assert {0, 101, 113, 228, 229, 276} <= set(checked)


@pytest.mark.parametrize("optimize", [True, False], ids=["optimized", "unoptimized"])
def test_translation_interpreter_and_libpcap_agree(
    ethernet: tuple[Path, Packets], optimize: bool
) -> None:
    _require_libpcap()
    _, packets = ethernet
    sample = packets[::5]
    for expr in EXPRESSIONS:
        program = compile_filter(expr, optimize=optimize)
        for data, wirelen in sample:
            fast = program.run(data, wirelen)
            assert fast == program.interpret(data, wirelen), expr
            assert (fast != 0) == program.offline_filter(data, wirelen), expr


def test_packets_cut_short_reject_like_libpcap(ethernet: tuple[Path, Packets]) -> None:
    """Every load past the captured bytes must reject, wherever the cut falls."""
    _require_libpcap()
    _, packets = ethernet
    exprs = [e for e in EXPRESSIONS if "[" in e or "port" in e or "vlan" in e or "protochain" in e]
    programs = [compile_filter(e) for e in exprs]
    for data, wirelen in packets[::40]:
        for cut in CUTS:
            short = data[:cut]
            for program in programs:
                assert program.matches(short, wirelen) == program.offline_filter(short, wirelen), (
                    f"{program.expr!r} on a packet cut to {cut} bytes"
                )


def test_compile_error_carries_libpcap_message() -> None:
    _require_libpcap()
    with pytest.raises(FilterError, match="syntax error") as info:
        compile_filter("tcp port")
    assert info.value.expr == "tcp port"
    with pytest.raises(FilterError, match="division by zero"):
        compile_filter("ip[2:2] / (ip[0] & 0) > 1")


def test_raw_ip_linktype_maps_to_dlt_raw() -> None:
    """Files say LINKTYPE_RAW (101); libpcap compiles for DLT_RAW (12)."""
    _require_libpcap()
    ipv4_tcp = bytes.fromhex("450000280001000040060000c0a80001c0a80002") + bytes(20)
    assert compile_filter("tcp and host 192.168.0.2", linktype=101).matches(ipv4_tcp)
    assert not compile_filter("udp", linktype=101).matches(ipv4_tcp)


def test_missing_libpcap_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(libpcap, "LIBRARY_NAMES", ("pcap-not-installed-here",))
    monkeypatch.setattr(libpcap, "SONAMES", ("libpcap-not-installed-here.so.0.8",))
    libpcap.load.cache_clear()
    try:
        assert not libpcap.available()
        with pytest.raises(LiveCaptureError, match="apt-get install libpcap0.8"):
            compile_filter("tcp")
    finally:
        monkeypatch.undo()
        libpcap.load.cache_clear()


def test_importing_capture_does_not_load_libpcap() -> None:
    code = (
        "import pktspec, pktspec.capture.bpf, pktspec.capture.live, pktspec.capture.afpacket\n"
        "maps = open('/proc/self/maps').read()\n"
        "assert 'libpcap' not in maps, 'libpcap loaded at import'\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr


# ----------------------------------------------------------- the VM, without libpcap


def _run(insns: list[tuple[int, int, int, int]], data: bytes, wirelen: int | None = None) -> int:
    """Run a hand-written program with both Python engines; they must agree."""
    program = BPFProgram(insns)
    wirelen = len(data) if wirelen is None else wirelen
    result = program.run(data, wirelen)
    assert result == interpret(program.instructions, data, wirelen)
    return result


LDW, LDH, LDB = 0x20, 0x28, 0x30  # ld [k], ldh [k], ldb [k]
LDW_IND, LDH_IND, LDB_IND = 0x40, 0x48, 0x50
LD_IMM, LDX_IMM, LD_LEN, LDX_MSH = 0x00, 0x01, 0x80, 0xB1
RET_K, RET_A = 0x06, 0x16
PACKET = bytes(range(1, 41))


def test_loads_read_big_endian_and_reject_out_of_bounds() -> None:
    assert _run([(LDW, 0, 0, 0), (RET_A, 0, 0, 0)], PACKET) == 0x01020304
    assert _run([(LDH, 0, 0, 38), (RET_A, 0, 0, 0)], PACKET) == 0x2728
    assert _run([(LDB, 0, 0, 39), (RET_A, 0, 0, 0)], PACKET) == 40
    assert _run([(LDW, 0, 0, 37), (RET_K, 0, 0, 9)], PACKET) == 0  # 1 byte short
    assert _run([(LDH, 0, 0, 39), (RET_K, 0, 0, 9)], PACKET) == 0
    assert _run([(LDB, 0, 0, 40), (RET_K, 0, 0, 9)], PACKET) == 0
    assert _run([(LDW, 0, 0, 0xFFFFFFFF), (RET_K, 0, 0, 9)], PACKET) == 0
    assert _run([(LDB, 0, 0, 0), (RET_K, 0, 0, 9)], b"") == 0


def test_indexed_loads_and_msh() -> None:
    # ldxb 4*([0]&0xf): PACKET[0] = 1 -> X = 4; then ldb [x + 1] = PACKET[5] = 6
    assert _run([(LDX_MSH, 0, 0, 0), (LDB_IND, 0, 0, 1), (RET_A, 0, 0, 0)], PACKET) == 6
    assert _run([(LDX_IMM, 0, 0, 36), (LDW_IND, 0, 0, 0), (RET_A, 0, 0, 0)], PACKET) == 0x25262728
    assert _run([(LDX_IMM, 0, 0, 37), (LDW_IND, 0, 0, 0), (RET_K, 0, 0, 9)], PACKET) == 0
    assert _run([(LDX_IMM, 0, 0, 0xFFFFFFFF), (LDH_IND, 0, 0, 1), (RET_K, 0, 0, 9)], PACKET) == 0
    assert _run([(LDX_MSH, 0, 0, 40), (RET_K, 0, 0, 9)], PACKET) == 0


def test_len_loads_the_wire_length_not_the_captured_one() -> None:
    assert _run([(LD_LEN, 0, 0, 0), (RET_A, 0, 0, 0)], PACKET[:10], wirelen=1500) == 1500
    assert (
        _run([(0x81, 0, 0, 0), (0x87, 0, 0, 0), (RET_A, 0, 0, 0)], PACKET, 77) == 77
    )  # ldx len; txa


def _alu(a: int, code: int, k: int = 0, x: int | None = None) -> int:
    prog = [(LD_IMM, 0, 0, a)]
    if x is not None:
        prog.insert(0, (LDX_IMM, 0, 0, x))
    return _run([*prog, (code, 0, 0, k), (RET_A, 0, 0, 0)], PACKET)


def test_alu_is_unsigned_32_bit() -> None:
    assert _alu(0xFFFFFFFF, 0x04, 1) == 0  # add wraps
    assert _alu(0, 0x14, 1) == 0xFFFFFFFF  # sub wraps
    assert _alu(0x10000, 0x24, 0x10000) == 0  # mul wraps
    assert _alu(7, 0x34, 2) == 3 and _alu(7, 0x94, 4) == 3  # div, mod
    assert _alu(0b1100, 0x44, 0b0011) == 0b1111 and _alu(0b1100, 0x54, 0b0110) == 0b0100
    assert _alu(0b1100, 0xA4, 0b0110) == 0b1010  # xor
    assert _alu(1, 0x64, 31) == 0x80000000 and _alu(0x80000000, 0x74, 31) == 1
    assert _alu(1, 0x84) == 0xFFFFFFFF  # neg
    assert _alu(5, 0x0C, x=3) == 8 and _alu(3, 0x1C, x=5) == 0xFFFFFFFE


def test_shifts_by_32_or_more_give_zero() -> None:
    assert _alu(1, 0x6C, x=32) == 0 and _alu(1, 0x6C, x=0xFFFFFFFF) == 0
    assert _alu(0xFFFFFFFF, 0x7C, x=40) == 0
    assert _alu(1, 0x6C, x=31) == 0x80000000


def test_division_by_zero_rejects_the_packet() -> None:
    assert _alu(7, 0x3C, x=0) == 0
    assert _alu(7, 0x9C, x=0) == 0
    assert (
        _run([(LDX_IMM, 0, 0, 0), (LD_IMM, 0, 0, 7), (0x3C, 0, 0, 0), (RET_K, 0, 0, 9)], b"") == 0
    )


def test_jumps_and_scratch_memory() -> None:
    jeq, jgt, jge, jset, ja = 0x15, 0x25, 0x35, 0x45, 0x05
    for code, a, k, taken in [(jeq, 5, 5, 1), (jgt, 5, 5, 0), (jge, 5, 5, 1), (jset, 6, 1, 0)]:
        prog = [(LD_IMM, 0, 0, a), (code, 0, 1, k), (RET_K, 0, 0, 1), (RET_K, 0, 0, 0)]
        assert _run(prog, b"") == taken
    assert _run([(ja, 0, 0, 1), (RET_K, 0, 0, 1), (RET_K, 0, 0, 2)], b"") == 2
    # st M[15]; clobber A; ld M[15]; tax; stx M[0]; ldx M[0]; txa
    prog = [(LD_IMM, 0, 0, 42), (0x02, 0, 0, 15), (LD_IMM, 0, 0, 0), (0x60, 0, 0, 15)]
    prog += [(0x07, 0, 0, 0), (0x03, 0, 0, 0), (LDX_IMM, 0, 0, 0), (0x61, 0, 0, 0)]
    assert _run([*prog, (0x87, 0, 0, 0), (RET_A, 0, 0, 0)], b"") == 42


def test_backward_jumps_loop_in_the_interpreter() -> None:
    # A = 0; loop: A += 1; if A >= 5 exit; ja loop
    prog = [(LD_IMM, 0, 0, 0), (0x04, 0, 0, 1), (0x35, 1, 0, 5), (0x05, 0, 0, 0xFFFFFFFD)]
    prog.append((RET_A, 0, 0, 0))
    program = BPFProgram(prog)
    assert program.has_backward_jumps and program.run(b"") == 5
    with pytest.raises(FilterError, match="backward"):
        translate(prog)
    endless = [(LD_IMM, 0, 0, 0), (0x05, 0, 0, 0xFFFFFFFE), (RET_K, 0, 0, 1)]
    assert BPFProgram(endless).run(b"") == 0  # stopped after MAX_BACKWARD_JUMPS


@pytest.mark.parametrize(
    "insns, problem",
    [
        ([(0xFF, 0, 0, 0), (RET_K, 0, 0, 0)], "unknown opcode"),
        ([(0x15, 5, 0, 0), (RET_K, 0, 0, 0)], "jump out"),
        ([(0x05, 0, 0, 0xFFFFFFFF), (RET_K, 0, 0, 0)], "jump out"),
        ([(LD_IMM, 0, 0, 0)], "must end with a ret"),
        ([(0x60, 0, 0, 16), (RET_K, 0, 0, 0)], "scratch memory"),
        ([(0x34, 0, 0, 0), (RET_K, 0, 0, 0)], "division by zero"),
        ([(0x64, 0, 0, 32), (RET_K, 0, 0, 0)], "shift"),
        ([(RET_K, 0, 0, 1 << 32)], "out of range"),
        ([(RET_K, 0, 0, "1; import os")], "integers"),
        ([(RET_K, 0, 0, 1.5)], "integers"),
        ([], "1 to"),
    ],
)
def test_invalid_programs_are_refused(
    insns: list[tuple[int, int, int, int]], problem: str
) -> None:
    with pytest.raises(FilterError, match=problem):
        BPFProgram(insns)


def test_translated_source_is_built_from_the_instructions_only() -> None:
    source = translate([(LDH, 0, 0, 12), (0x15, 0, 1, 0x800), (RET_K, 0, 0, 96), (RET_K, 0, 0, 0)])
    assert "A = _U16(P, 12)[0]" in source and "return 96" in source
    compile(source, "<bpf>", "exec")


def test_deep_programs_stay_within_python_limits() -> None:
    """Both branches of 80 nested conditions are real blocks: past _MAX_NESTING levels the
    translator must switch to functions instead of indenting further (Python stops at 100)."""
    depth = 80
    prog = [(LDB, 0, 0, 0)]
    prog += [(0x25, 0, depth + i, i) for i in range(depth)]  # jgt #i: go on, else to F_i
    prog.append((RET_K, 0, 0, 1))
    for i in range(depth):  # F_i: return 100 + i
        prog += [(LD_IMM, 0, 0, 100 + i), (RET_A, 0, 0, 0)]
    assert bpf._MAX_NESTING < 100
    assert max(len(line) - len(line.lstrip()) for line in translate(prog).splitlines()) < 400
    assert _run(prog, bytes([255])) == 1
    assert _run(prog, bytes([10])) == 110
    assert _run(prog, b"") == 0


def test_each_pcapng_section_is_filtered_in_its_own_byte_order(tmp_path: Path) -> None:
    """A null/loopback header is in the capturing host's order, so a file of a little- and a
    big-endian section needs a program compiled for each."""
    _require_libpcap()
    import io

    import pktspec
    from pktspec.capture.pcapng import PcapngWriter
    from pktspec.runtime.metadata import CaptureInfo

    ip = bytes.fromhex("450000140001000040ff0000c0000201c0000202")
    sections = []
    for order, prefix in (("little", "<"), ("big", ">")):
        out = io.BytesIO()
        with PcapngWriter(out, byte_order=order) as w:
            family = struct.pack(prefix + "I", 2)  # AF_INET, in the writer's order
            w.write(family + ip, CaptureInfo(1, 0, 10**6, 24, 24, 0, 0))
        sections.append(out.getvalue())
    path = tmp_path / "mixed.pcapng"
    path.write_bytes(b"".join(sections))
    assert sum(1 for _ in pktspec.open(str(path), filter="ip")) == 2
