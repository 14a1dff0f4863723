"""Shared test fixtures: where the conformance corpus is, skipping cleanly without it, and
leaving the registry as a test found it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
CAPTURES = CORPUS / "captures"
TRUTH = CORPUS / "truth"


def corpus_or_skip() -> Path:
    """The corpus folder, or a skip that says why (it lives beside the checkout, never in it)."""
    if not CAPTURES.is_dir():
        pytest.skip(f"conformance corpus not found at {CORPUS} (expected beside the checkout)")
    return CORPUS


@pytest.fixture(scope="session", autouse=True)
def _session_layer_cache(tmp_path_factory):
    """Layers any test compiles (module-scoped fixtures too, which run before a test's own
    fixtures) go to this test session's cache, never to the user's ~/.cache/pktspec, where
    modules of other runs could stand in for freshly generated ones."""
    before = os.environ.get("PKTSPEC_CACHE")
    os.environ["PKTSPEC_CACHE"] = str(tmp_path_factory.getbasetemp() / "cache")
    yield
    if before is None:
        os.environ.pop("PKTSPEC_CACHE", None)
    else:
        os.environ["PKTSPEC_CACHE"] = before


@pytest.fixture
def corpus() -> Path:
    return corpus_or_skip()


def corpus_captures(prefix: str = "") -> list[str]:
    """Names of corpus captures starting with prefix (empty list when the corpus is absent)."""
    if not CAPTURES.is_dir():
        return []
    return sorted(p.name for p in CAPTURES.iterdir() if p.name.startswith(prefix))


@pytest.fixture
def restore_registry():
    """For a test that loads .layer files: afterwards its layers and bindings are gone, and
    so are the modules it imported, so that a later load registers them afresh."""
    from pktspec.runtime.registry import REGISTRY

    snapshot, modules = REGISTRY.snapshot(), set(sys.modules)
    yield
    REGISTRY.restore(snapshot)
    for name in set(sys.modules) - modules:
        if name.startswith("pktspec.user."):
            del sys.modules[name]


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the generator's golden files instead of comparing")


def netns_problem(what: str) -> str | None:
    """Why a test that makes its own network namespace cannot run here (None: it can).
    ``what`` says what needs root, for the skip reason."""
    if os.geteuid() != 0:
        return f"{what} needs root (raw sockets in a private network namespace)"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (util-linux / iproute2)"
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        return f"cannot create a network namespace: {probe.stderr.decode().strip()}"
    return None
