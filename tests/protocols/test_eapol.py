"""IEEE 802.1X (protocols/eapol.layer): EAPOL, the EAP packets it carries and its Key frames.

The corpus has no 802.1X traffic, so the frames are built here with pktspec's builder and the
decoded values are compared with tshark's reading of the same frames
(tests/tshark_reading.py): an EAP exchange on a wired port, a WPA2 4-way handshake (values of
our own making) on Ethernet and in 802.11 data frames, and an 802.1X-2001 RC4 key frame.
Also: the builder fills the lengths, decoding and building again gives the same bytes, the
fast decoder agrees with the construct FORMAT, and a frame cut short keeps the layers before
the cut and says where the cut is."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pktspec
from pktspec.layers import EAP, EAPOL, LLC, SNAP, Dot11, EAPOLKey, Ethernet
from pktspec.protocols.eapol import (
    EAPCode,
    EAPOLKeyDescriptorType,
    EAPOLKeyDescriptorVersion,
    EAPOLKeyType,
    EAPType,
)
from tests.protocols.test_fast_vs_construct import agree
from tests.tshark_reading import tshark_fields

AP = "02:00:5e:10:00:01"  # the authenticator (an access point, or a switch port)
STA = "02:00:5e:10:00:02"  # the supplicant
PAE_GROUP = "01:80:c2:00:00:03"  # IEEE 802.1X's port access entity group address


def made_up(label: str, size: int) -> bytes:
    """Deterministic bytes of our own making (nonces, MICs, keys)."""
    return hashlib.sha256(label.encode()).digest()[:size].ljust(size, b"\x5a")


def pad(frame: bytes) -> bytes:
    """An Ethernet frame padded to the 60-byte minimum, as a NIC sends it."""
    return frame + bytes(max(0, 60 - len(frame)))


def wired(*layers) -> bytes:
    return pad(pktspec.serialize(Ethernet(src=STA, dst=PAE_GROUP), *layers))


# ---- an EAP exchange on a wired port ----------------------------------------------------------

MD5_VALUE = made_up("md5 challenge", 16)
EAP_FRAMES = [
    wired(EAPOL(version=1, type="Start")),
    wired(EAPOL(type="EAPPacket"), EAP(code="Request", id=1, type="Identity")),
    wired(EAPOL(type="EAPPacket"),
          EAP(code="Response", id=1, type="Identity", type_data=b"alice@example.org")),
    wired(EAPOL(type="EAPPacket"),
          EAP(code="Request", id=2, type="MD5Challenge",
              type_data=bytes([16]) + MD5_VALUE + b"radius.example.org")),
    wired(EAPOL(type="EAPPacket"), EAP(code="Response", id=2, type="Nak", type_data=b"\x19")),
    wired(EAPOL(type="EAPPacket"),
          EAP(code="Request", id=3, type="Notification", type_data=b"Password expires soon")),
    wired(EAPOL(type="EAPPacket"), EAP(code="Success", id=3)),
    wired(EAPOL(type="EAPPacket"), EAP(code="Failure", id=4)),
    wired(EAPOL(type="Logoff")),
]

EAP_FIELDS = ["eapol.version", "eapol.type", "eapol.len", "eap.code", "eap.id", "eap.len",
              "eap.type", "eap.identity", "eap.md5.value_size", "eap.md5.value",
              "eap.md5.extra_data", "eap.desired_type", "eap.notification", "eth.padding"]


def eap_reading(packet) -> dict[str, str]:
    """Our decode, written as tshark writes those fields."""
    eapol, eap = packet[EAPOL], packet.layer(EAP)
    row = dict.fromkeys(EAP_FIELDS, "")
    row.update({"eapol.version": str(eapol.version), "eapol.type": str(eapol.type),
                "eapol.len": str(eapol.length), "eth.padding": bytes(eapol.trailer).hex()})
    if eap is not None:
        row.update({"eap.code": str(eap.code), "eap.id": str(eap.id), "eap.len": str(eap.length)})
        if eap.type is not None:
            row["eap.type"] = str(eap.type)
            data = bytes(eap.type_data)
            if eap.type == 1 and data:
                row["eap.identity"] = data.decode()
            elif eap.type == 2:
                row["eap.notification"] = data.decode()
            elif eap.type == 3:
                row["eap.desired_type"] = str(data[0])
            elif eap.type == 4:
                size = data[0]
                row.update({"eap.md5.value_size": str(size),
                            "eap.md5.value": data[1:1 + size].hex(),
                            "eap.md5.extra_data": data[1 + size:].hex()})
    return row


def test_an_eap_exchange_reads_as_tshark_reads_it(tmp_path):
    truth = tshark_fields(EAP_FRAMES, EAP_FIELDS, tmp_path)
    packets = [pktspec.decode(frame) for frame in EAP_FRAMES]
    assert [p.error for p in packets] == [None] * len(EAP_FRAMES)
    assert [[x.name for x in p.layers] for p in packets] == (
        [["Ethernet", "EAPOL"]] + [["Ethernet", "EAPOL", "EAP"]] * 7 + [["Ethernet", "EAPOL"]])
    assert [eap_reading(p) for p in packets] == truth
    # the values themselves, so that an empty reading on both sides cannot pass
    assert [row["eapol.type"] for row in truth] == ["1", "0", "0", "0", "0", "0", "0", "0", "2"]
    assert truth[0]["eapol.version"] == "1" and truth[0]["eapol.len"] == "0"
    assert truth[2]["eap.identity"] == "alice@example.org" and truth[2]["eap.len"] == "22"
    assert truth[3]["eap.md5.value"] == MD5_VALUE.hex()
    assert truth[3]["eap.md5.extra_data"] == b"radius.example.org".hex()
    assert truth[4]["eap.desired_type"] == "25"  # PEAP
    assert truth[5]["eap.notification"] == "Password expires soon"
    assert [row["eap.code"] for row in truth[6:8]] == ["3", "4"]
    assert truth[6]["eth.padding"] == "00" * 38  # 14 + 4 + 4 bytes, padded to 60


def test_eap_fields_by_name():
    identity = pktspec.decode(EAP_FRAMES[2])[EAP]
    assert (identity.code, identity.id, identity.length) == (2, 1, 22)
    assert identity.type == EAPType.Identity == 1 and str(EAPType(identity.type)) == "Identity (1)"
    assert bytes(identity.type_data) == b"alice@example.org"
    success = pktspec.decode(EAP_FRAMES[6])[EAP]
    assert success.code == EAPCode.Success and success.length == 4
    assert success.type is None and success.type_data is None  # no type in Success/Failure
    start = pktspec.decode(EAP_FRAMES[0])[EAPOL]
    assert (start.version, start.type, start.length) == (1, 1, 0)
    assert len(start.trailer) == 60 - 18  # the Ethernet padding after the empty body


# ---- the 4-way handshake ----------------------------------------------------------------------

ANONCE = made_up("anonce", 32)
SNONCE = made_up("snonce", 32)
PMKID = made_up("pmkid", 16)
# RSN element: version 1, group and pairwise cipher CCMP, AKM PSK, capabilities 0x000c
RSN_IE = bytes.fromhex("30140100000fac040100000fac040100000fac020c00")
PMKID_KDE = bytes.fromhex("dd14000fac04") + PMKID


def handshake_keys() -> list[EAPOLKey]:
    common = {"key_descriptor_version": "HMACSHA1AES", "key_type": "Pairwise"}
    return [
        # message 1: AP -> STA, ANonce, a PMKID KDE in the key data
        EAPOLKey(**common, key_ack=1, key_length=16, replay_counter=1, nonce=ANONCE,
                 key_data=PMKID_KDE),
        # message 2: STA -> AP, SNonce, MIC, the station's RSN element
        EAPOLKey(**common, key_mic=1, replay_counter=1, nonce=SNONCE,
                 mic=made_up("mic 2", 16), key_data=RSN_IE),
        # message 3: AP -> STA, install, the GTK wrapped in the key data
        EAPOLKey(**common, install=1, key_ack=1, key_mic=1, secure=1, has_encrypted_key_data=1,
                 key_length=16, replay_counter=2, nonce=ANONCE,
                 rsc=bytes.fromhex("0500000000000000"),
                 mic=made_up("mic 3", 16), key_data=made_up("wrapped gtk", 56)),
        # message 4: STA -> AP, MIC only
        EAPOLKey(**common, key_mic=1, secure=1, replay_counter=2, mic=made_up("mic 4", 16)),
    ]


def handshake_on_ethernet() -> list[bytes]:
    frames = []
    for i, key in enumerate(handshake_keys()):
        src, dst = (AP, STA) if i % 2 == 0 else (STA, AP)
        frames.append(pad(bytes(Ethernet(src=src, dst=dst) / EAPOL(type="Key") / key)))
    return frames


def handshake_on_wifi() -> list[bytes]:
    frames = []
    for i, key in enumerate(handshake_keys()):
        from_ap = i % 2 == 0
        dot11 = Dot11(type="Data", subtype=0, flags="from_ds" if from_ap else "to_ds",
                      address1=STA if from_ap else AP, address2=AP if from_ap else STA,
                      address3=AP, sequence_number=100 + i)
        snap = LLC(dsap=0xAA, ssap=0xAA, control=3) / SNAP(protocol_id=0x888E)
        frames.append(bytes(dot11 / snap / EAPOL(type="Key") / key))
    return frames


RSNA = "wlan_rsna_eapol.keydes."
KEY_INFO_BITS = ["keydes_version", "key_type", "key_index", "install", "key_ack", "key_mic",
                 "secure", "error", "request", "encrypted_key_data", "smk_message"]
OUR_BITS = ["key_descriptor_version", "key_type", "key_index", "install", "key_ack", "key_mic",
            "secure", "mic_error", "request", "has_encrypted_key_data", "smk_message"]
KEY_FIELDS = (["eapol.version", "eapol.type", "eapol.len", "eapol.keydes.type",
               RSNA + "key_info"] + [RSNA + "key_info." + b for b in KEY_INFO_BITS] +
              ["eapol.keydes.key_len", "eapol.keydes.replay_counter", RSNA + "nonce",
               "eapol.keydes.key_iv", RSNA + "rsc", RSNA + "id", RSNA + "mic",
               RSNA + "data_len", RSNA + "data"])


def key_reading(packet) -> dict[str, str]:
    eapol, key = packet[EAPOL], packet[EAPOLKey]
    info = 0
    for name, width in zip(["reserved", *reversed(OUR_BITS)], [2, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 3],
                           strict=True):
        info = info << width | getattr(key, name)
    values = [eapol.version, eapol.type, eapol.length, key.key_descriptor_type, f"0x{info:04x}",
              *(getattr(key, b) for b in OUR_BITS), key.key_length, key.replay_counter,
              key.nonce.hex(), key.iv.hex(), key.rsc.hex(), key.id.hex(), key.mic.hex(),
              key.key_data_length, key.key_data.hex()]
    return dict(zip(KEY_FIELDS, map(str, values), strict=True))


@pytest.mark.parametrize("medium", ["ethernet", "wifi"])
def test_a_four_way_handshake_reads_as_tshark_reads_it(tmp_path, medium):
    frames = handshake_on_ethernet() if medium == "ethernet" else handshake_on_wifi()
    first, linktype = (Ethernet, 1) if medium == "ethernet" else (Dot11, 105)
    truth = tshark_fields(frames, [*KEY_FIELDS, RSNA + "msgnr"], tmp_path, linktype=linktype)
    # tshark takes them for messages 1 to 4 of a 4-way handshake: they are realistic
    assert [row.pop(RSNA + "msgnr") for row in truth] == ["1", "2", "3", "4"]
    packets = [pktspec.decode(frame, first=first) for frame in frames]
    assert all(p.error is None for p in packets)
    assert [x.name for x in packets[0].layers][-2:] == ["EAPOL", "EAPOLKey"]
    assert [key_reading(p) for p in packets] == truth
    assert [row[RSNA + "key_info"] for row in truth] == ["0x008a", "0x010a", "0x13ca", "0x030a"]
    one = truth[0]
    assert one["eapol.len"] == "117" and one[RSNA + "data_len"] == "22"
    assert one[RSNA + "nonce"] == ANONCE.hex() and one[RSNA + "data"] == PMKID_KDE.hex()
    assert truth[2][RSNA + "rsc"] == "0500000000000000"


def test_message_one_fields_by_name():
    p = pktspec.decode(handshake_on_ethernet()[0])
    eapol, key = p[EAPOL], p[EAPOLKey]
    assert (eapol.version, eapol.type, eapol.length) == (2, 3, 117)
    assert key.key_descriptor_type == EAPOLKeyDescriptorType.Dot11 == 2
    assert key.key_descriptor_version == EAPOLKeyDescriptorVersion.HMACSHA1AES == 2
    assert key.key_type == EAPOLKeyType.Pairwise == 1
    assert (key.key_ack, key.key_mic, key.install, key.secure) == (1, 0, 0, 0)
    assert (key.key_length, key.replay_counter) == (16, 1)
    assert key.nonce == ANONCE and key.iv == bytes(16) and key.mic == bytes(16)
    assert key.key_data_length == 22 and key.key_data[6:] == PMKID
    assert key.rc4_unicast is None and key.key_signature is None  # the RC4 descriptor's
    assert "ethertype=EAPOL (34958)" in repr(p[Ethernet])
    assert "key_descriptor_version=HMACSHA1AES (2)" in repr(key)


def test_a_wpa_descriptor_decodes_as_the_rsn_one(tmp_path):
    key = EAPOLKey(key_descriptor_type="WPA", key_descriptor_version="HMACMD5RC4",
                   key_type="Pairwise", key_ack=1, key_length=32, replay_counter=7,
                   nonce=ANONCE)
    frame = bytes(Ethernet(src=AP, dst=STA) / EAPOL(version=1, type="Key") / key)
    truth = tshark_fields([frame], KEY_FIELDS, tmp_path)
    p = pktspec.decode(frame)
    assert key_reading(p) == truth[0]
    assert truth[0]["eapol.keydes.type"] == "254" and truth[0][RSNA + "key_info"] == "0x0089"
    assert p[EAPOLKey].key_data == b"" and p[EAPOLKey].key_data_length == 0


def test_an_rc4_key_descriptor_reads_as_tshark_reads_it(tmp_path):
    """802.1X-2001's key descriptor (WEP keys): no key information, a signature, the key."""
    wep = made_up("wep key", 13)
    key = EAPOLKey(key_descriptor_type="RC4", key_length=13, replay_counter=0xE8A1B2C3D4E5F607,
                   iv=made_up("iv", 16), rc4_unicast=1, rc4_key_index=2,
                   key_signature=made_up("signature", 16), key=wep)
    frame = bytes(Ethernet(src=AP, dst=STA) / EAPOL(version=1, type="Key") / key)
    fields = ["eapol.keydes.type", "eapol.keydes.key_len", "eapol.keydes.replay_counter",
              "eapol.keydes.key_iv", "eapol.keydes.key_index.type",
              "eapol.keydes.key_index.number", "eapol.keydes.key_signature", "eapol.keydes.key"]
    truth = tshark_fields([frame], fields, tmp_path)[0]
    k = pktspec.decode(frame, strict=True)[EAPOLKey]
    ours = [k.key_descriptor_type, k.key_length, k.replay_counter, k.iv.hex(), k.rc4_unicast,
            k.rc4_key_index, k.key_signature.hex(), k.key.hex()]
    assert dict(zip(fields, map(str, ours), strict=True)) == truth
    assert truth["eapol.keydes.key"] == wep.hex() and truth["eapol.keydes.key_index.number"] == "2"
    assert k.nonce is None and k.key_descriptor_version is None and k.mic is None


# ---- building, round trips, the two decoders --------------------------------------------------

ALL_FRAMES = [(f, Ethernet) for f in EAP_FRAMES + handshake_on_ethernet()] + [
    (f, Dot11) for f in handshake_on_wifi()]


def test_decode_then_build_gives_the_same_bytes_and_both_decoders_agree():
    for frame, first in ALL_FRAMES:
        p = pktspec.decode(frame, first=first)
        assert p.error is None
        assert pktspec.serialize(p) == frame
        assert p.build() == frame
        for layer in p.layers:
            if layer.name in ("EAPOL", "EAP", "EAPOLKey"):
                agree(layer)


def test_the_builder_fills_the_lengths_and_keeps_given_ones():
    data = bytes(EAPOL(type="EAPPacket") / EAP(code="Response", id=9, type="Identity",
                                              type_data=b"bob"))
    assert data == bytes.fromhex("02000008") + bytes.fromhex("0209000801") + b"bob"
    key = bytes(EAPOLKey(key_data=b"\xdd\x00"))
    assert len(key) == 95 + 2 and key[93:95] == b"\x00\x02"  # key_data_length
    framed = bytes(EAPOL(type="Key") / EAPOLKey(key_data=b"\xdd\x00"))
    assert framed[2:4] == (95 + 2).to_bytes(2, "big")  # EAPOL's length is its body's
    crafted = bytes(EAPOL(type="EAPPacket", length=200) / EAP(code="Success", id=1))
    assert crafted == bytes.fromhex("020000c8" "03010004")  # a length given is kept
    p = pktspec.decode(crafted, first=EAPOL)
    assert p.truncated and p[EAPOL].payload_missing == 196


def test_an_edit_rebuilds_the_lengths():
    p = pktspec.decode(EAP_FRAMES[2])
    p[EAP].type_data = b"carol@example.net.longer"
    again = pktspec.decode(p.build())
    assert again[EAP].length == 5 + 24 and again[EAPOL].length == 29
    assert bytes(again[EAP].type_data) == b"carol@example.net.longer"


def test_eapol_is_found_behind_a_vlan_tag():
    from pktspec.layers import Dot1Q

    frame = bytes(Ethernet(src=STA, dst=PAE_GROUP) / Dot1Q(vlan_id=10)
                  / EAPOL(type="Start"))
    assert [x.name for x in pktspec.decode(frame).layers] == ["Ethernet", "Dot1Q", "EAPOL"]


# ---- cut and malformed frames -----------------------------------------------------------------


@pytest.mark.parametrize("kept", [30, 116])  # cut in the nonce, in the key data
def test_a_key_frame_cut_short_keeps_the_eapol_header(kept):
    frame = handshake_on_ethernet()[0]
    p = pktspec.decode(frame[:14 + 4 + kept])
    assert [x.name for x in p.layers] == ["Ethernet", "EAPOL", "DecodeFailure"]
    assert p[EAPOL].type == 3 and p[EAPOL].length == 117 and p.truncated
    assert p[EAPOL].payload_missing == 117 - kept
    assert p.error.layer == "EAPOLKey" and p.error.offset >= 18
    assert p.error.message.startswith("truncated: ") and f"only {kept} " in p.error.message


def test_an_eap_packet_cut_in_its_header_or_its_data():
    frame = EAP_FRAMES[2][:14 + 4 + 22]  # without the padding
    p = pktspec.decode(frame[:20])
    assert [x.name for x in p.layers] == ["Ethernet", "EAPOL", "DecodeFailure"]
    assert p.error.layer == "EAP" and p.error.field_path == "length" and p.error.offset == 20
    p = pktspec.decode(frame[:-3])  # the identity cut: EAP's length says 3 more bytes
    assert [x.name for x in p.layers] == ["Ethernet", "EAPOL", "DecodeFailure"]
    assert p.error.layer == "EAP" and p.error.offset == 18 and "truncated" in p.error.message
    with pytest.raises(pktspec.errors.DecodeError):
        pktspec.decode(frame[:-3], strict=True)


def test_an_eap_length_below_its_header_is_refused():
    frame = wired(EAPOL(type="EAPPacket"), EAP(code="Success", id=1, length=2))
    p = pktspec.decode(frame)
    assert p.error.layer == "EAP" and "EAP length below 4" in p.error.message


# ---- generated bytes --------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(eapol_type=st.sampled_from([0, 1, 2, 3, 4, 5]),
       descriptor=st.sampled_from([1, 2, 254, 7]), body=st.binary(max_size=160),
       extra=st.integers(-8, 8))
def test_random_bodies_never_raise_and_both_decoders_agree(eapol_type, descriptor, body, extra):
    """Any body, with an EAPOL length that fits it or not: decoding never raises, every
    field reads (or says DecodeError), and the fast decoder agrees with the FORMAT."""
    if eapol_type == 3:
        body = bytes([descriptor]) + body
    length = max(0, len(body) + extra)
    frame = bytes(Ethernet(src=STA, dst=PAE_GROUP)) + bytes([2, eapol_type]) \
        + length.to_bytes(2, "big") + body
    packet = pktspec.decode(frame)
    for layer in packet.layers:
        for info in layer.fields_info:
            try:
                getattr(layer, info.name)
            except pktspec.errors.DecodeError:
                pass
        if layer.name in ("EAPOL", "EAP", "EAPOLKey"):
            agree(layer)
