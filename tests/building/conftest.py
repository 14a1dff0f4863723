"""Helpers for the build tests: layers by name, and the pseudo-headers TCP/UDP need."""

from __future__ import annotations

import pktspec  # noqa: F401  (registers the built-in layers)
from pktspec.runtime.registry import REGISTRY


def layer(name: str) -> type:
    """A registered layer class (KeyError naming it when the library lacks it)."""
    return REGISTRY.layer(name)


def require_pseudo_headers() -> None:
    """TCP, UDP and ICMPv6 checksums cover a pseudo-header the IP layers declare."""
    missing = [n for n in ("IPv4", "IPv6") if getattr(layer(n), "PSEUDO_HEADER", None) is None]
    assert not missing, f"{missing} declare no 'pseudo_header = concat(...);'"
