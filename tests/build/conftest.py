"""Helpers for the build tests: layers by name, and a skip for what ipv4/ipv6.layer lack."""

from __future__ import annotations

import pytest

import pktspec  # noqa: F401  (registers the built-in layers)
from pktspec.runtime.registry import REGISTRY


def layer(name: str) -> type:
    """A registered layer class, or a skip naming the layer the library does not have yet."""
    cls = REGISTRY.get_layer(name)
    if cls is None:
        pytest.skip(f"no {name} layer in the registry yet (protocol library, issue 3)")
    return cls


def pseudo_headers_or_skip() -> None:
    """TCP, UDP and ICMPv6 checksums cover a pseudo-header the IP layers must declare."""
    missing = [n for n in ("IPv4", "IPv6") if getattr(layer(n), "PSEUDO_HEADER", None) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} declare no 'pseudo_header = concat(...);' in "
                    f"their .layer file yet, so TCP/UDP/ICMPv6 checksums cannot be computed")
