"""A progress bar for long runs over a file, on stderr, only when a person is watching."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress_over(items: Iterable[T], path: str | None, min_bytes: int = 20_000_000) -> Iterator[T]:
    """Yield items; show rich's progress bar (by packets) for big files on a terminal."""
    if not path or not sys.stderr.isatty() or os.environ.get("PKTSPEC_NO_PROGRESS"):
        yield from items
        return
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    if size < min_bytes:
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} packets"),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(os.path.basename(path), total=None)
        for n, item in enumerate(items, 1):
            if n % 2048 == 0:
                bar.update(task, completed=n)
            yield item
