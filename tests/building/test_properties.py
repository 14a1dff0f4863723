"""Every built-in layer class builds what it decodes: random field values -> build -> decode
gives the same values back, and what the builder writes always decodes."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import pktspec  # noqa: F401  (registers the built-in layers)
from pktspec.errors import BuildError, DecodeError
from pktspec.runtime.build import plan_of
from pktspec.runtime.registry import REGISTRY
from pktspec.runtime.serialize import serialize

BUILTIN = sorted((c for c in REGISTRY.layers() if c.__module__.startswith("pktspec.protocols")),
                 key=lambda c: c.name)
_FIXED_BYTES = re.compile(r"^bytes\[(\d+)\]$")
# Values a layer cannot be built with unless other fields are set too: each with why.
CONSTRAINTS = {
    # a routing field ends with a null entry, which the caller gives with routing_present
    ("GRE", "routing_present"): st.just(0),
    # a handshake record's header holds the handshake type and length, so its `length`
    # (the record's, given by hand: a record may go on in the next segment, so the builder
    # cannot imply it) must cover them; the other content types take any length
    ("TLS", "content_type"): st.sampled_from([20, 21, 23, 24]),
    # more present words (bit 31, ext) are given as ext_present with the bit
    ("RadioTap", "present"): st.integers(0, 0x7FFFFFFF),
}


def field_strategies(cls: type) -> dict:
    """A strategy for each field a person would set: scalars and fixed-size bytes; not the
    ones the builder computes, nor those with a declared default (a version's == check)."""
    plan = plan_of(cls)
    defaults = getattr(cls, "DEFAULTS", {}) or {}
    out = {}
    for info in cls.fields_info:
        if info.name in plan.targets or info.name in defaults:
            continue
        if (cls.name, info.name) in CONSTRAINTS:
            out[info.name] = CONSTRAINTS[(cls.name, info.name)]
        elif info.kind in ("int", "enum", "flags") and info.bits:
            if info.type_name.startswith("i"):
                half = 1 << (info.bits - 1)
                out[info.name] = st.integers(-half, half - 1)
            else:
                out[info.name] = st.integers(0, (1 << info.bits) - 1)
        elif info.kind == "address":
            size = info.size or (info.bits // 8 if info.bits else None)
            # addr[n] (ARP's) is sized by a field that two addresses share and the builder
            # computes: one size for all of them, so that each pair agrees
            size = size or 4
            out[info.name] = st.binary(min_size=size, max_size=size)
        elif info.kind == "bytes" and _FIXED_BYTES.match(info.type_name):
            n = int(_FIXED_BYTES.match(info.type_name).group(1))
            out[info.name] = st.binary(min_size=n, max_size=n)
    return out


@pytest.mark.parametrize("cls", BUILTIN, ids=lambda c: c.name)
# filter_too_much: random values break a layer's `requires` often for some layers (Geneve's),
# which assume() passes over; how often depends on the seed, so the health check failed now
# and then (session 6: about one full run in six)
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_random_values_build_and_decode_back(cls, data):
    values = data.draw(st.fixed_dictionaries(field_strategies(cls)), label="fields")
    built, values = build_writable(cls, values)
    try:
        layer = cls.from_bytes(built)
    except DecodeError as exc:
        # a `requires` the random values break is the file's rule, not the builder's
        assume(exc.field_path != "requires")
        raise
    plan = plan_of(cls)
    for name, value in values.items():
        got = getattr(layer, plan.slot_of[name])
        if got is None:
            continue  # a conditional field whose condition the random values made false
        assert got == value, name
    # what the builder computed is what it computes again from the decoded values
    assert serialize(layer, fix_lengths=True, compute_checksums=True) == built


def build_writable(cls: type, values: dict) -> tuple[bytes, dict]:
    """The layer built from values, leaving out each conditional field that the builder
    refuses because the random values made its condition false (it would not be written),
    and the values it was built with."""
    while True:
        try:
            return serialize(cls(**values)), values
        except BuildError as exc:
            m = re.match(rf"{cls.name}: (\w+) is given but its condition", str(exc))
            if m is None or m.group(1) not in values:
                raise
            values = {k: v for k, v in values.items() if k != m.group(1)}


@pytest.mark.parametrize("cls", BUILTIN, ids=lambda c: c.name)
def test_a_layer_with_nothing_set_builds_and_decodes(cls):
    layer = cls.from_bytes(serialize(cls()))
    assert type(layer) is cls
