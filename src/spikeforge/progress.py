"""Progress bars for long work (rich), silent when output is not a terminal or when disabled."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def enabled() -> bool:
    """Progress bars are on unless ``SPIKEFORGE_PROGRESS=0`` (CI and tests set it)."""
    return os.environ.get("SPIKEFORGE_PROGRESS", "1") != "0"


def track(items: Iterable[T], description: str = "working", total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` showing a rich progress bar on stderr."""
    if not enabled():
        yield from items
        return
    from rich.progress import track as rich_track

    yield from rich_track(items, description=description, total=total, transient=True)
