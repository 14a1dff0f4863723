"""Shared test fixtures: where the conformance corpus is, and skipping cleanly without it."""

from __future__ import annotations

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


@pytest.fixture
def corpus() -> Path:
    return corpus_or_skip()


def corpus_captures(prefix: str = "") -> list[str]:
    """Names of corpus captures starting with prefix (empty list when the corpus is absent)."""
    if not CAPTURES.is_dir():
        return []
    return sorted(p.name for p in CAPTURES.iterdir() if p.name.startswith(prefix))


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the generator's golden files instead of comparing")
