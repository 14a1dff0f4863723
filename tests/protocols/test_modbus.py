"""Modbus TCP (protocols/modbus.layer): the MBAP header and PDU on TCP port 502.

The corpus has no Modbus traffic, so a client/server exchange is built here with pktspec's
builder (each unit in its own segment, sequence numbers as a real connection has them) and
the decoded values are compared with tshark's reading of the same frames
(tests/tshark_reading.py): the MBAP fields, the function code, and what the layer decodes of
the PDU (the address and quantity of a read registers request, the address and value of a
write single coil or register, the exception code) or keeps as bytes (read coils, register
values of a response). Also: the guard leaves a segment that continues a unit as payload;
pktspec.messages() cuts a stream into its units; the builder fills the length; decoding and
building again gives the same bytes; the fast decoder agrees with the construct FORMAT; a
frame cut short keeps the layers before the cut and says where."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.capture.pcap import PcapWriter
from pktspec.layers import TCP, Ethernet, IPv4, ModbusTCP, Payload
from pktspec.protocols.modbus import ModbusExceptionCode, ModbusFunctionCode
from tests.protocols.test_fast_vs_construct import agree, assert_builds_back
from tests.tshark_reading import tshark_fields

CLIENT, SERVER = "192.0.2.1", "192.0.2.2"
CLIENT_PORT = 40000


class Connection:
    """Segments of one TCP connection, each direction's sequence numbers running on."""

    def __init__(self) -> None:
        self.seq = {True: 1000, False: 5000}

    def segment(self, to_server: bool, data: bytes, flags: str = "PA") -> bytes:
        src, dst = (CLIENT, SERVER) if to_server else (SERVER, CLIENT)
        sport, dport = (CLIENT_PORT, 502) if to_server else (502, CLIENT_PORT)
        frame = pktspec.serialize(Ethernet(src="02:00:00:00:00:01", dst="02:00:00:00:00:02"),
                                  IPv4(src=src, dst=dst),
                                  TCP(src_port=sport, dst_port=dport, seq=self.seq[to_server],
                                      ack=self.seq[not to_server], flags=flags), data)
        self.seq[to_server] += len(data)
        return frame


def unit(**fields) -> bytes:
    return bytes(ModbusTCP(unit_identifier=fields.pop("unit_identifier", 1), **fields))


EXCHANGE = [  # (to the server?, the unit)
    (True, unit(transaction_identifier=1, function_code="ReadHoldingRegisters", address=100,
                quantity=2, length=6)),
    (False, unit(transaction_identifier=1, function_code="ReadHoldingRegisters",
                 pdu_data=b"\x04\x00\x0a\x01\x02")),
    (True, unit(transaction_identifier=2, function_code="WriteSingleRegister", address=5,
                value=0x1234)),
    (False, unit(transaction_identifier=2, function_code="WriteSingleRegister", address=5,
                 value=0x1234)),
    (True, unit(transaction_identifier=3, function_code="WriteSingleCoil", address=7,
                value=0xff00, unit_identifier=17)),
    (False, unit(transaction_identifier=3, exception=1, function_code="WriteSingleCoil",
                 exception_code="IllegalDataAddress", unit_identifier=17)),
    (True, unit(transaction_identifier=4, function_code="ReadCoils",
                pdu_data=struct.pack(">HH", 16, 8))),
    (False, unit(transaction_identifier=4, function_code="ReadCoils", pdu_data=b"\x01\x55")),
    (True, unit(transaction_identifier=5, function_code="ReadInputRegisters", address=0x300,
                quantity=1, length=6)),
    (False, unit(transaction_identifier=5, function_code="ReadInputRegisters",
                 pdu_data=b"\x02\xff\xfe")),
    (True, unit(transaction_identifier=0xffff, function_code="WriteMultipleRegisters",
                pdu_data=struct.pack(">HHBHH", 1, 2, 4, 0xaaaa, 0x5555))),
]
_CONN = Connection()
FRAMES = [_CONN.segment(to_server, data) for to_server, data in EXCHANGE]

FIELDS = ["mbtcp.trans_id", "mbtcp.prot_id", "mbtcp.len", "mbtcp.unit_id", "modbus.func_code",
          "modbus.exception_code", "modbus.reference_num", "modbus.word_cnt", "modbus.bit_cnt",
          "modbus.byte_cnt", "modbus.regval_uint16", "modbus.data"]


def reading(packet, to_server: bool) -> dict[str, str]:
    """Our decode, written as tshark writes those fields. tshark knows the direction (the
    server's port) and so reads requests and responses that the layer keeps as bytes; those
    bytes are read here, by the direction, to compare them too."""
    mb = packet[ModbusTCP]
    row = dict.fromkeys(FIELDS, "")
    row.update({"mbtcp.trans_id": str(mb.transaction_identifier),
                "mbtcp.prot_id": str(mb.protocol_identifier), "mbtcp.len": str(mb.length),
                "mbtcp.unit_id": str(mb.unit_identifier),
                "modbus.func_code": str(mb.function_code)})
    data = bytes(mb.pdu_data)
    if mb.exception:
        row["modbus.exception_code"] = str(mb.exception_code)
    elif mb.quantity is not None:  # a read registers request, decoded by the layer
        row.update({"modbus.reference_num": str(mb.address),
                    "modbus.word_cnt": str(mb.quantity)})
    elif mb.value is not None:  # write single coil or register, decoded by the layer
        row.update({"modbus.reference_num": str(mb.address),
                    "modbus.data": f"{mb.value:04x}"})
    elif mb.function_code in (1, 2) and to_server:
        address, count = struct.unpack(">HH", data)
        row.update({"modbus.reference_num": str(address), "modbus.bit_cnt": str(count)})
    elif mb.function_code in (1, 2):
        row["modbus.byte_cnt"] = str(data[0])
    elif mb.function_code in (3, 4):  # a response: byte count, then the registers
        values = struct.unpack(f">{data[0] // 2}H", data[1:])
        row.update({"modbus.byte_cnt": str(data[0]),
                    "modbus.regval_uint16": ",".join(map(str, values))})
    elif mb.function_code == 16:
        address, count, size = struct.unpack(">HHB", data[:5])
        values = struct.unpack(f">{size // 2}H", data[5:])
        row.update({"modbus.reference_num": str(address), "modbus.word_cnt": str(count),
                    "modbus.byte_cnt": str(size),
                    "modbus.regval_uint16": ",".join(map(str, values))})
    return row


def test_fields_agree_with_tshark(tmp_path):
    truth = tshark_fields(FRAMES, FIELDS, tmp_path)
    assert len(truth) == len(FRAMES)
    for i, (frame, row, (to_server, _)) in enumerate(zip(FRAMES, truth, EXCHANGE, strict=True)):
        packet = pktspec.decode(frame)
        assert packet.error is None, (i, packet.error)
        assert [x.name for x in packet.layers] == ["Ethernet", "IPv4", "TCP", "ModbusTCP"], i
        assert reading(packet, to_server) == row, i


def test_what_the_layer_decodes():
    request = pktspec.decode(FRAMES[0])[ModbusTCP]
    assert (request.transaction_identifier, request.protocol_identifier, request.length,
            request.unit_identifier) == (1, 0, 6, 1)
    assert request.function_code == ModbusFunctionCode.ReadHoldingRegisters
    assert (request.address, request.quantity, request.value) == (100, 2, None)
    assert bytes(request.pdu_data) == b"" and request.exception == 0
    response = pktspec.decode(FRAMES[1])[ModbusTCP]  # length 7: not a request
    assert (response.address, response.quantity) == (None, None)
    assert bytes(response.pdu_data) == b"\x04\x00\x0a\x01\x02"
    write = pktspec.decode(FRAMES[4])[ModbusTCP]
    assert (write.unit_identifier, write.address, write.value) == (17, 7, 0xff00)
    error = pktspec.decode(FRAMES[5])[ModbusTCP]
    assert (error.exception, error.function_code) == (1, ModbusFunctionCode.WriteSingleCoil)
    assert error.exception_code == ModbusExceptionCode.IllegalDataAddress
    assert bytes(error.contents)[7] == 0x85
    coils = pktspec.decode(FRAMES[6])[ModbusTCP]  # a request or a response? kept as bytes
    assert coils.address is None and bytes(coils.pdu_data) == b"\x00\x10\x00\x08"


def test_a_segment_that_is_not_the_start_of_a_unit_is_payload():
    conn = Connection()
    first = unit(transaction_identifier=9, function_code="WriteMultipleRegisters",
                 pdu_data=struct.pack(">HHB", 0, 3, 6) + bytes(range(6)))
    head, rest = conn.segment(True, first[:9]), conn.segment(True, first[9:])
    cut = pktspec.decode(head)  # the start of the unit: decoded, and it says it is cut
    assert cut.error.layer == "ModbusTCP" and cut.error.truncated
    assert [x.name for x in cut.layers][:3] == ["Ethernet", "IPv4", "TCP"]
    continued = pktspec.decode(rest)  # the rest of the unit: not taken for a new one
    assert [x.name for x in continued.layers] == ["Ethernet", "IPv4", "TCP", "Payload"]
    assert continued.error is None
    for data in (b"\x00\x01\x00\x01\x00\x06\x01\x03\x00\x00\x00\x01",  # protocol id 1
                 b"\x00\x01\x00\x00\x01\x06\x01\x03\x00\x00\x00\x01",  # length 262
                 b"\x00\x01\x00\x00\x00\x01\x01",                      # length 1, 7 bytes
                 b"\x00\x01\x00\x00\x00\x02\x01\x80"):                 # function code 0
        packet = pktspec.decode(Connection().segment(True, data))
        assert packet.layers[-1].name == "Payload", data
        assert bytes(packet[Payload].payload) == data


def test_two_units_in_one_segment_and_messages_cuts_the_stream(tmp_path):
    conn = Connection()
    a, b = EXCHANGE[0][1], EXCHANGE[2][1]
    r1, r2 = EXCHANGE[1][1], EXCHANGE[3][1]
    frames = [conn.segment(True, b"", "S"), conn.segment(False, b"", "SA")]
    conn.seq[True] += 1
    conn.seq[False] += 1
    frames += [conn.segment(True, a + b),              # two requests in one segment
               conn.segment(False, r1[:5]),            # a response split in two ...
               conn.segment(False, r1[5:] + r2)]       # ... and the next one behind it
    both = pktspec.decode(frames[2])
    assert both[ModbusTCP].transaction_identifier == 1
    assert bytes(both[ModbusTCP].trailer) == b  # the second unit stays behind the first
    second = pktspec.decode(bytes(both[ModbusTCP].trailer), first=ModbusTCP)[ModbusTCP]
    assert (second.transaction_identifier, second.address, second.value) == (2, 5, 0x1234)
    path = tmp_path / "modbus.pcap"
    with PcapWriter(path, linktype=1) as writer:
        for i, frame in enumerate(frames):
            writer.write(frame, 1_700_000_000 + i)
    units = [(m.direction.name, m.layer.transaction_identifier, bytes(m.packet.layers[0].contents))
             for m in pktspec.messages(str(path))]
    assert units == [("CLIENT", 1, a), ("CLIENT", 2, b), ("SERVER", 1, r1), ("SERVER", 2, r2)]
    # tshark reads the two requests of the first segment as these two units
    truth = tshark_fields([frames[2]], ["mbtcp.trans_id", "modbus.func_code"], tmp_path)
    assert truth == [{"mbtcp.trans_id": "1,2", "modbus.func_code": "3,6"}]


def test_the_builder_fills_the_length():
    data = unit(transaction_identifier=7, function_code=16,
                pdu_data=b"\x00\x01\x00\x01\x02\xbe\xef")
    assert data == bytes.fromhex("0007" "0000" "0009" "01" "10" "0001" "0001" "02" "beef")
    assert unit(transaction_identifier=1, function_code=6, address=2, value=3) == \
        bytes.fromhex("000100000006010600020003")
    assert unit(transaction_identifier=1, exception=1, function_code=3, exception_code=2) == \
        bytes.fromhex("000100000003018302")
    # the request of a read registers is told from a response by its length, so building
    # one needs the length given (a BuildError names the condition otherwise)
    try:
        unit(function_code=3, address=1, quantity=1)
    except pktspec.BuildError as exc:
        assert "length == 6" in str(exc)
    else:
        raise AssertionError("a read registers request built without its length")


def test_decoding_and_building_again_gives_the_same_bytes_and_agrees_with_format():
    assert_builds_back(FRAMES)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(function_code=st.integers(0, 255), length=st.integers(2, 12),
       body=st.binary(max_size=12), cut=st.integers(0, 20))
def test_fast_decoder_agrees_with_construct_on_generated_units(function_code, length, body,
                                                               cut):
    data = (struct.pack(">HHHBB", 1, 0, length, 1, function_code) + body)[:cut]
    packet = pktspec.decode(data, first=ModbusTCP)
    if packet.layers and packet.layers[0].name == "ModbusTCP":
        agree(packet.layers[0])
    else:
        assert packet.error is not None and packet.error.layer == "ModbusTCP"


def test_a_cut_frame_keeps_the_layers_before_the_cut():
    packet = pktspec.decode(FRAMES[0][:54 + 10])  # two bytes short of the quantity's end
    assert [x.name for x in packet.layers] == ["Ethernet", "IPv4", "TCP", "DecodeFailure"]
    error = packet.error
    assert (error.layer, error.offset) == ("ModbusTCP", 54) and error.truncated
    assert "only 10 bytes present" in error.message  # of the 12 the length announces
    assert packet.truncated
    # fewer than the 8 bytes of MBAP header and function code: not taken for Modbus at all
    short = pktspec.decode(FRAMES[0][:54 + 7])
    assert short.layers[-1].name == "Payload" and short.error is None
