"""Every registered layer class by name: ``from pktspec.layers import Ethernet, IPv4, TCP``.

The built-in layers are here from the start; layers of .layer files loaded with
``pktspec.load`` appear as soon as they are loaded (``pktspec.layers.MyEncap``), and
``from pktspec.layers import *`` takes every layer registered at that moment.
"""

from __future__ import annotations

from typing import Any

import pktspec.protocols  # noqa: F401  (registers the built-in layers)
from pktspec.runtime.registry import REGISTRY


def __getattr__(name: str) -> Any:
    if name == "__all__":  # asked by `import *`: the layers registered now
        return __dir__()
    cls = REGISTRY.get_layer(name)
    if cls is None:
        raise AttributeError(f"no layer called {name!r} is registered")
    return cls


def __dir__() -> list[str]:
    return sorted(cls.name for cls in REGISTRY.layers())
