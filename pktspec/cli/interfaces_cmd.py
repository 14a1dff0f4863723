"""``pktspec interfaces``: the interfaces live capture can open (through libpcap)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("interfaces", help="list interfaces for live capture")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pktspec.capture.live import list_interfaces

    for iface in list_interfaces():
        addresses = ", ".join(str(a) for a in getattr(iface, "addresses", ()) or ())
        description = getattr(iface, "description", None) or ""
        parts = [f"{iface.name:16}", description, f"[{addresses}]" if addresses else ""]
        print(" ".join(p for p in parts if p).rstrip())
    return 0
