"""Helpers for generator tests: write .layer text to a temp dir, check it or load it."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

import pktspec
from pktspec.errors import SpecError
from pktspec.generator import check_file
from pktspec.runtime.registry import REGISTRY

_counter = itertools.count()


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Each test session compiles user layers into its own cache directory, and the user
    modules a test loads are forgotten after it: tests reuse file names in their own
    folders, which one process would otherwise refuse (two files, one module name)."""
    monkeypatch.setenv("PKTSPEC_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    before = set(sys.modules)
    registered = REGISTRY.snapshot()
    yield
    REGISTRY.restore(registered)  # a test's layers and bindings do not leak into later tests
    for name in set(sys.modules) - before:
        if name.startswith("pktspec.user."):
            del sys.modules[name]


def write_layer(tmp_path: Path, text: str, name: str | None = None) -> Path:
    path = tmp_path / (name or f"spec{next(_counter)}.layer")
    path.write_text(text, encoding="utf-8")
    return path


def spec_errors(tmp_path: Path, text: str) -> list[SpecError]:
    """The problems the checker reports for text (fails the test if there are none)."""
    path = write_layer(tmp_path, text)
    with pytest.raises(SpecError) as info:
        check_file(path)
    return info.value.problems


def load_text(tmp_path: Path, text: str, name: str | None = None):
    return pktspec.load(write_layer(tmp_path, text, name))


def one(tmp_path: Path, text: str) -> SpecError:
    """The only problem the checker reports for text."""
    problems = spec_errors(tmp_path, text)
    assert len(problems) == 1, [p.render_one() for p in problems]
    return problems[0]


def at(problem: SpecError) -> tuple[int, int]:
    """A problem's line and column."""
    return problem.location.line, problem.location.column


def passes(tmp_path: Path, text: str) -> None:
    """text checks without a problem."""
    check_file(write_layer(tmp_path, text))
