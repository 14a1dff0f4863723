"""Linux usbmon URB headers (protocols/usb.layer): `USB`, the 48-byte header of
LINKTYPE_USB_LINUX (189), and `USBMmapped`, the 64-byte one of LINKTYPE_USB_LINUX_MMAPPED
(220).

Frames are built with pktspec's builder, written to captures of each link type and read back
by pktspec and by tshark, whose reading is the truth: every header field (URB ID, event,
transfer type, endpoint direction and number, device, bus, the setup and data flags, time,
status, lengths), the setup packet of a control submission, the isochronous error count,
number of descriptors and each descriptor, the mmapped header's interval, start frame and
transfer flags, which 8 bytes tshark calls an unused setup header, the data, and the Info
column (the layer's summary) for standard requests, class and vendor requests and every
transfer type and direction. Also: the link types start the decode, round trips, the builder
setting the flags a setup packet needs, truncated bytes giving an error layer, a record cut
in its data, and the fast decoder against the construct FORMAT.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.capture.pcap import PcapWriter
from pktspec.errors import BuildError
from pktspec.layers import USB, USBMmapped
from pktspec.protocols.usb import (
    USBDirectionType,
    USBEventType,
    USBRequestBlockSetupRequest,
    USBTransportType,
)
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

LINKTYPES = {USB: 189, USBMmapped: 220}
URB = 0xFFFF888012345600
DEVICE_DESCRIPTOR = bytes.fromhex("120100020000004067060101000101020301")


def frames(layer) -> list[bytes]:
    """A control transfer (GET DESCRIPTOR and its completion), a class request, an interrupt
    transfer, a bulk transfer and its failure, and an isochronous completion, for either
    header (the mmapped one with its interval, start frame and transfer flags)."""
    ext = ({"urb_interval": 8, "urb_start_frame": 77, "urb_copy_of_transfer_flags": 0x200}
           if layer is USBMmapped else {})
    return [
        bytes(layer(id=URB, transfer_type="Control", direction="In", device_address=1,
                    bus_id=1, data_flag=ord("<"), timestamp_sec=1_700_000_000,
                    timestamp_usec=5, status=-115, urb_length=18, request_type=0x80,
                    request="GetDescriptor", value=0x0302, index=0x0409, length=18, **ext)),
        pktspec.serialize(
            layer(id=URB, event_type="Complete", transfer_type="Control", direction="In",
                  device_address=1, bus_id=1, timestamp_sec=1_700_000_000,
                  timestamp_usec=900, urb_length=18, **ext), DEVICE_DESCRIPTOR),
        # a HID class request (SET_IDLE) to interface 1
        bytes(layer(id=URB + 1, transfer_type="Control", direction="Out", device_address=7,
                    bus_id=3, data_flag=ord("<"), status=-115, request_type=0x21, request=0x0A,
                    value=0x0400, index=1, length=0, **ext)),
        bytes(layer(id=URB + 2, transfer_type="Interrupt", direction="In", endpoint_number=1,
                    device_address=3, bus_id=2, data_flag=ord("<"), timestamp_sec=5,
                    timestamp_usec=999_999, status=-115, urb_length=8, **ext)),
        pktspec.serialize(
            layer(id=URB + 2, event_type="Complete", transfer_type="Interrupt", direction="In",
                  endpoint_number=1, device_address=3, bus_id=2, urb_length=8, **ext),
            bytes.fromhex("0000040000000000")),
        pktspec.serialize(
            layer(id=URB + 3, transfer_type="Bulk", direction="Out", endpoint_number=2,
                  device_address=4, bus_id=2, status=-115, urb_length=5, **ext), b"hello"),
        bytes(layer(id=URB + 3, event_type="Error", transfer_type="Bulk", direction="Out",
                    endpoint_number=2, device_address=4, bus_id=258, data_flag=ord(">"),
                    status=-19, urb_length=5, **ext)),
        pktspec.serialize(
            layer(id=URB + 4, event_type="Complete", transfer_type="Isochronous",
                  direction="In", endpoint_number=3, device_address=5, bus_id=1, urb_length=6,
                  iso_error_count=1,
                  iso_descriptors=[{"status": 0, "offset": 0, "length": 4},
                                   {"status": -18, "offset": 4, "length": 2, "pad": 7}],
                  **ext), b"abcdef"),
    ]


def char(value: int) -> str:
    """A flag byte as tshark prints an FT_CHAR field."""
    return "'\\0'" if value == 0 else f"'{chr(value)}'"


FIELDS = ("usb.urb_id", "usb.urb_type", "usb.transfer_type", "usb.endpoint_address",
          "usb.endpoint_address.direction", "usb.endpoint_address.number",
          "usb.device_address", "usb.bus_id", "usb.setup_flag", "usb.data_flag",
          "usb.urb_ts_sec", "usb.urb_ts_usec", "usb.urb_status", "usb.urb_len", "usb.data_len",
          "usb.bmRequestType", "usb.setup.bRequest", "usb.setup.wValue", "usb.setup.wIndex",
          "usb.setup.wLength", "usb.DescriptorIndex", "usb.LanguageId",
          "usb.unused_setup_header", "usb.iso.error_count", "usb.iso.numdesc",
          "usb.iso.iso_status", "usb.iso.iso_off", "usb.iso.iso_len", "usb.iso.pad",
          "usb.interval", "usb.start_frame", "usb.copy_of_transfer_flags", "usb.capdata")


def ours(layer) -> dict[str, str]:
    """Our reading of an URB header in tshark's terms (-T fields)."""
    endpoint = int(layer.direction) << 7 | layer.endpoint_number
    row = {
        "usb.urb_id": f"{layer.id:#018x}", "usb.urb_type": char(layer.event_type),
        "usb.transfer_type": f"{layer.transfer_type:#04x}",
        "usb.endpoint_address": f"{endpoint:#04x}",
        "usb.endpoint_address.direction": str(int(layer.direction)),
        "usb.endpoint_address.number": str(layer.endpoint_number),
        "usb.device_address": str(layer.device_address), "usb.bus_id": str(layer.bus_id),
        "usb.setup_flag": char(layer.setup_flag), "usb.data_flag": char(layer.data_flag),
        "usb.urb_ts_sec": str(layer.timestamp_sec), "usb.urb_ts_usec": str(layer.timestamp_usec),
        "usb.urb_status": str(layer.status), "usb.urb_len": str(layer.urb_length),
        "usb.data_len": str(layer.urb_data_length),
        "usb.unused_setup_header": "1" if layer.unused_setup_header is not None else "",
    }
    if layer.request_type is not None:
        row |= {"usb.bmRequestType": f"{layer.request_type:#04x}",
                "usb.setup.bRequest": str(int(layer.request)),
                "usb.setup.wLength": str(layer.length)}
        if layer.get_descriptor:  # tshark names a GET DESCRIPTOR's value and index
            row |= {"usb.DescriptorIndex": f"{layer.value & 0xFF:#04x}",
                    "usb.LanguageId": f"{layer.index:#06x}"}
        elif not layer.standard_request:
            row |= {"usb.setup.wValue": f"{layer.value:#06x}",
                    "usb.setup.wIndex": str(layer.index)}
    descriptors = layer.iso_descriptors or []
    if layer.transfer_type == USBTransportType.Isochronous:
        counts = [layer.iso_numdesc]
        if isinstance(layer, USBMmapped):  # tshark shows both counts of the mmapped header
            counts.append(layer.iso_num_desc)
        row |= {"usb.iso.error_count": str(layer.iso_error_count),
                "usb.iso.numdesc": ",".join(map(str, counts))}
    elif isinstance(layer, USBMmapped):
        row["usb.iso.numdesc"] = str(layer.iso_num_desc)
    row |= {"usb.iso.iso_status": ",".join(str(d["status"]) for d in descriptors),
            "usb.iso.iso_off": ",".join(str(d["offset"]) for d in descriptors),
            "usb.iso.iso_len": ",".join(str(d["length"]) for d in descriptors),
            "usb.iso.pad": ",".join(f"{d['pad']:#010x}" for d in descriptors)}
    if isinstance(layer, USBMmapped):
        row |= {"usb.interval": str(layer.urb_interval),
                "usb.start_frame": str(layer.urb_start_frame),
                "usb.copy_of_transfer_flags": f"{layer.urb_copy_of_transfer_flags:#010x}"}
    if layer.transfer_type in (USBTransportType.Interrupt, USBTransportType.Bulk):
        row["usb.capdata"] = bytes(layer.payload).hex()  # tshark's undissected data
    return row


@pytest.mark.parametrize("layer", [USB, USBMmapped], ids=["189", "220"])
def test_every_field_reads_as_tshark_reads_it(layer, tmp_path):
    built = frames(layer)
    truth = tshark_fields(built, FIELDS, tmp_path, linktype=LINKTYPES[layer])
    assert len(truth) == len(built)
    for i, (data, row) in enumerate(zip(built, truth, strict=True)):
        packet = pktspec.decode(data, first=layer)
        assert packet.error is None, (i, packet.error)
        mine = ours(packet[layer])
        assert {k: row[k] for k in mine} == mine, i


def test_known_values_of_the_built_frames():
    p = pktspec.decode(frames(USB)[0], first=USB)
    u = p[USB]
    assert [x.name for x in p.layers] == ["USB"] and len(u.contents) == 48
    assert (u.id, u.event_type, u.transfer_type, u.direction, u.endpoint_number) == (
        URB, USBEventType.Submit, USBTransportType.Control, USBDirectionType.In, 0)
    assert (u.setup_flag, u.setup_present, u.data_present) == (0, True, False)
    assert (u.request_type, u.request, u.value, u.index, u.length) == (
        0x80, USBRequestBlockSetupRequest.GetDescriptor, 0x0302, 0x0409, 18)
    assert (u.descriptor_type, u.get_descriptor, u.unused_setup_header) == (3, True, None)
    assert str(u.fields()["request"]) == "GetDescriptor (6)"
    # little-endian on the wire; the endpoint byte is the direction bit and the number
    data = frames(USB)[3]
    assert data[:8] == (URB + 2).to_bytes(8, "little") and data[10] == 0x81
    assert struct.unpack_from("<qi", data, 16) == (5, 999_999)

    done = pktspec.decode(frames(USB)[1], first=USB)
    assert [x.name for x in done.layers] == ["USB", "Payload"]
    assert bytes(done[USB].payload) == DEVICE_DESCRIPTOR and done[USB].data_present
    assert done[USB].request is None and done[USB].unused_setup_header == bytes(8)

    iso = pktspec.decode(frames(USBMmapped)[7], first=USBMmapped)[USBMmapped]
    assert len(iso.contents) == 64 + 2 * 16 and bytes(iso.payload) == b"abcdef"
    assert (iso.iso_numdesc, iso.iso_num_desc, iso.iso_error_count) == (2, 2, 1)
    assert [d["status"] for d in iso.iso_descriptors] == [0, -18]
    assert (iso.urb_interval, iso.urb_start_frame, iso.urb_copy_of_transfer_flags) == (
        8, 77, 0x200)
    assert len(pktspec.decode(frames(USB)[7], first=USB)[USB].contents) == 48 + 2 * 16


def test_captures_of_both_link_types_start_with_their_header(tmp_path):
    for layer, linktype in LINKTYPES.items():
        path = tmp_path / f"usb{linktype}.pcap"
        with PcapWriter(path, linktype=linktype) as writer:
            for i, data in enumerate(frames(layer)):
                writer.write(data, 1_700_000_000 + i)
        names = [[x.name for x in p.layers] for p in pktspec.open(path)]
        assert names[0] == [layer.name] and names[1] == [layer.name, "Payload"]
        assert all(n[0] == layer.name for n in names) and len(names) == len(frames(layer))
        assert all(p.error is None for p in pktspec.open(path))


@pytest.mark.parametrize("layer", [USB, USBMmapped], ids=["189", "220"])
def test_round_trips(layer):
    for data in frames(layer):
        p = pktspec.decode(data, first=layer)
        assert pktspec.serialize(p) == data
        assert p.build(fix_lengths=True, compute_checksums=True) == data


def test_the_builder_fills_lengths_counts_and_the_flags_of_a_setup_packet():
    u = pktspec.decode(bytes(USB(request="SetConfiguration", value=1)), first=USB)[USB]
    # the setup packet's fields imply a control submission with its setup flag 0
    assert (u.setup_flag, u.transfer_type, u.event_type, u.request) == (
        0, USBTransportType.Control, USBEventType.Submit, 9)
    plain = pktspec.decode(pktspec.serialize(USB(transfer_type="Bulk"), b"xyz"), first=USB)[USB]
    assert (plain.setup_flag, plain.urb_data_length, plain.request) == (ord("-"), 3, None)
    iso = pktspec.decode(bytes(USB(iso_descriptors=[{"length": 1}] * 3)), first=USB)[USB]
    assert (iso.transfer_type, iso.iso_numdesc) == (USBTransportType.Isochronous, 3)
    with pytest.raises(BuildError, match="request"):
        bytes(USB(transfer_type="Bulk", request="GetStatus"))


def summary_frames(layer) -> tuple[list[bytes], list[str]]:
    """Submissions whose Info column needs no other packet: every standard request, GET
    DESCRIPTOR of each descriptor type (and of an interface, which tshark leaves to the
    class), class and vendor requests, a control URB without setup, every transfer type in
    both directions, an unknown transfer type, and a control completion without its
    submission. Returns the frames and, for each, what it is."""
    out, what = [], []

    def add(label, **values):
        out.append(bytes(layer(id=len(out) + 1, **values)))
        what.append(label)

    for request in [*range(0x0E), 0x30, 0x31, 0x32]:
        add(f"standard request {request:#x}", request_type=0x00, request=request, value=1)
    for descriptor in [*range(0x12), 0x21, 0x22, 0x30, 0x31, 0x32]:
        add(f"GET DESCRIPTOR {descriptor:#x}", request_type=0x80, direction="In",
            request="GetDescriptor", value=descriptor << 8, length=9)
    for request_type in (0x81, 0x21, 0xA1, 0x40, 0xC0, 0x60):
        add(f"request type {request_type:#x}", request_type=request_type,
            direction="In" if request_type & 0x80 else "Out", request=6, value=0x2200)
    add("control without setup", transfer_type="Control")
    for kind in range(4):
        for direction in ("In", "Out"):
            add(f"transfer {kind} {direction}", transfer_type=kind, direction=direction,
                endpoint_number=1)
    add("transfer 7", transfer_type=7)
    add("lone control completion", event_type="Complete", transfer_type="Control",
        direction="In")
    return out, what


@pytest.mark.parametrize("layer", [USB, USBMmapped], ids=["189", "220"])
def test_summaries_are_tsharks_info(layer, tmp_path):
    built, what = summary_frames(layer)
    truth = tshark_fields(built, ["_ws.col.Info"], tmp_path, linktype=LINKTYPES[layer])
    assert len(truth) == len(built)
    for data, label, row in zip(built, what, truth, strict=True):
        packet = pktspec.decode(data, first=layer)
        assert packet.error is None, label
        assert packet[layer].summary() == row["_ws.col.Info"], label
    first = pktspec.decode(built[0], first=layer)[layer]
    assert first.summary() == "GET STATUS Request"


def test_known_summaries():
    def summary(**values):
        return pktspec.decode(bytes(USB(**values)), first=USB)[USB].summary()

    assert summary(request_type=0x80, request="GetDescriptor", value=0x0100) == \
        "GET DESCRIPTOR Request DEVICE"
    assert summary(request_type=0x80, request="GetDescriptor", value=0x0C00) == \
        "GET DESCRIPTOR Request Unknown type 12"
    assert summary(request_type=0, request=0x0D) == "Unknown type d Request"
    assert summary(transfer_type="Interrupt", direction="In") == "URB_INTERRUPT in"
    assert summary(event_type="Complete", transfer_type="Bulk") == "URB_BULK out"
    assert summary(transfer_type=0x12, direction="In") == "Unknown type 92"


@pytest.mark.parametrize("layer", [USB, USBMmapped], ids=["189", "220"])
@pytest.mark.parametrize("index", range(8))
def test_truncated_headers_are_error_layers(layer, index):
    data = frames(layer)[index]
    header = len(pktspec.decode(data, first=layer)[layer].contents)
    for cut in range(header):
        p = pktspec.decode(data[:cut], first=layer)  # never raises
        assert [x.name for x in p.layers] == ["DecodeFailure"], cut
        assert p.truncated and p.error.layer == layer.name, cut
        assert "truncated" in p.error.message, cut


def test_a_header_cut_names_the_field():
    data = frames(USB)[0]
    assert pktspec.decode(data[:20], first=USB).error.field_path == "timestamp_sec"
    assert pktspec.decode(data[:45], first=USB).error.field_path == "index"
    mmapped = frames(USBMmapped)[3]
    assert pktspec.decode(mmapped[:41], first=USBMmapped).error.field_path == \
        "unused_setup_header"
    assert pktspec.decode(mmapped[:50], first=USBMmapped).error.field_path == "urb_interval"
    iso = frames(USB)[7]
    assert pktspec.decode(iso[:50], first=USB).error.field_path == "iso_descriptors"


def test_data_cut_short_keeps_the_header_and_counts_what_is_missing():
    data = frames(USB)[5]  # 5 data bytes
    p = pktspec.decode(data[:-2], first=USB)
    assert [x.name for x in p.layers] == ["USB", "Payload"] and p.error is None
    assert p.truncated and p[USB].payload_missing == 2 and bytes(p[USB].payload) == b"hel"


@pytest.mark.parametrize("layer", [USB, USBMmapped], ids=["189", "220"])
def test_fast_decoder_and_construct_agree(layer):
    for data in frames(layer) + summary_frames(layer)[0]:
        agree(pktspec.decode(data, first=layer)[layer])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(head=st.binary(min_size=8, max_size=8), kind=st.sampled_from([0x53, 0x43, 0x45, 0x41]),
       transfer=st.integers(0, 5), rest=st.binary(max_size=120))
def test_fast_decoder_and_construct_agree_on_generated_headers(head, kind, transfer, rest):
    data = head + bytes([kind, transfer]) + rest
    for layer in (USB, USBMmapped):
        p = pktspec.decode(data, first=layer)  # never raises
        if p.error is None or p.error.layer != layer.name:
            agree(p.layers[0])
