"""Fixture layers registered for each runtime test, then taken out again.

The fixture layers stand in for generated ones (the Payload stand-in in particular), so they
must not stay in the global registry where the real generated layers will live.
"""

from __future__ import annotations

import pytest
from runtime_fixtures import CALLS, FIXTURE_LAYERS

from pktspec.runtime.registry import REGISTRY


@pytest.fixture(autouse=True)
def fixture_layers():
    saved = {cls.name: REGISTRY.get_layer(cls.name) for cls in FIXTURE_LAYERS}
    for cls in FIXTURE_LAYERS:
        if saved[cls.name] is not None:
            REGISTRY.remove_layer(cls.name)
        REGISTRY.add_layer(cls)
    CALLS.clear()
    yield
    for cls in FIXTURE_LAYERS:
        REGISTRY.remove_layer(cls.name)
        if saved[cls.name] is not None:
            REGISTRY.add_layer(saved[cls.name])
