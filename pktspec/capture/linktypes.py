"""LINKTYPE numbers: what the link-type field of a pcap header or a pcapng IDB means.

The numbers are tcpdump.org's LINKTYPE_* values (the ones written in files), not the DLT_*
values of the libpcap API, which differ on a few platforms, nor Wireshark's WTAP_ENCAP numbers
that tshark prints as ``frame.encap_type``. The runtime picks the first layer of a packet from
these; this module only names them, so that it can be imported without the runtime.
"""

from __future__ import annotations

NULL = 0
ETHERNET = 1
AX25 = 3
IEEE802_5 = 6
ARCNET_BSD = 7
SLIP = 8
PPP = 9
FDDI = 10
PPP_HDLC = 50
PPP_ETHER = 51
ATM_RFC1483 = 100
RAW = 101
C_HDLC = 104
IEEE802_11 = 105
FRELAY = 107
LOOP = 108
LINUX_SLL = 113
LTALK = 114
PFLOG = 117
IEEE802_11_PRISM = 119
IP_OVER_FC = 122
SUNATM = 123
IEEE802_11_RADIOTAP = 127
ARCNET_LINUX = 129
USER0 = 147
USER15 = 162
IEEE802_11_AVS = 163
BLUETOOTH_HCI_H4 = 187
USB_LINUX = 189
PPI = 192
IEEE802_15_4_WITHFCS = 195
SITA = 196
ERF = 197
BLUETOOTH_HCI_H4_WITH_PHDR = 201
IPMB_LINUX = 209
IEEE802_15_4_NONASK_PHY = 215
USB_LINUX_MMAPPED = 220
IPV4 = 228
IPV6 = 229
DBUS = 231
DVB_CI = 235
NFLOG = 239
IPOIB = 242
USBPCAP = 249
BLUETOOTH_LE_LL = 251
NETLINK = 253
PKTAP = 258
ETHERNET_MPACKET = 274
LINUX_SLL2 = 276

# Written out rather than collected from globals(): a reader sees every name in one place.
_NAMES: dict[int, str] = {
    NULL: "NULL",
    ETHERNET: "ETHERNET",
    AX25: "AX25",
    IEEE802_5: "IEEE802_5",
    ARCNET_BSD: "ARCNET_BSD",
    SLIP: "SLIP",
    PPP: "PPP",
    FDDI: "FDDI",
    PPP_HDLC: "PPP_HDLC",
    PPP_ETHER: "PPP_ETHER",
    ATM_RFC1483: "ATM_RFC1483",
    RAW: "RAW",
    C_HDLC: "C_HDLC",
    IEEE802_11: "IEEE802_11",
    FRELAY: "FRELAY",
    LOOP: "LOOP",
    LINUX_SLL: "LINUX_SLL",
    LTALK: "LTALK",
    PFLOG: "PFLOG",
    IEEE802_11_PRISM: "IEEE802_11_PRISM",
    IP_OVER_FC: "IP_OVER_FC",
    SUNATM: "SUNATM",
    IEEE802_11_RADIOTAP: "IEEE802_11_RADIOTAP",
    ARCNET_LINUX: "ARCNET_LINUX",
    USER0: "USER0",
    USER15: "USER15",
    IEEE802_11_AVS: "IEEE802_11_AVS",
    BLUETOOTH_HCI_H4: "BLUETOOTH_HCI_H4",
    USB_LINUX: "USB_LINUX",
    PPI: "PPI",
    IEEE802_15_4_WITHFCS: "IEEE802_15_4_WITHFCS",
    SITA: "SITA",
    ERF: "ERF",
    BLUETOOTH_HCI_H4_WITH_PHDR: "BLUETOOTH_HCI_H4_WITH_PHDR",
    IPMB_LINUX: "IPMB_LINUX",
    IEEE802_15_4_NONASK_PHY: "IEEE802_15_4_NONASK_PHY",
    USB_LINUX_MMAPPED: "USB_LINUX_MMAPPED",
    IPV4: "IPV4",
    IPV6: "IPV6",
    DBUS: "DBUS",
    DVB_CI: "DVB_CI",
    NFLOG: "NFLOG",
    IPOIB: "IPOIB",
    USBPCAP: "USBPCAP",
    BLUETOOTH_LE_LL: "BLUETOOTH_LE_LL",
    NETLINK: "NETLINK",
    PKTAP: "PKTAP",
    ETHERNET_MPACKET: "ETHERNET_MPACKET",
    LINUX_SLL2: "LINUX_SLL2",
}
_NAMES.update({USER0 + i: f"USER{i}" for i in range(1, 15)})


def linktype_name(linktype: int) -> str:
    """``'ETHERNET'`` for 1, ``'LINKTYPE_4711'`` for a number nobody named.

    Unknown link types are normal (a capture may carry anything, e.g. a USERn type bound by a
    user's .layer file), so this never raises.
    """
    return _NAMES.get(linktype, f"LINKTYPE_{linktype}")
