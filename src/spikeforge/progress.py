"""Progress bars for long work (rich), drawn on stderr so that stdout stays the table or the JSON.

``SPIKEFORGE_PROGRESS=0`` turns progress off (CI and the tests set it); ``SPIKEFORGE_PROGRESS=1`` forces bars
even when stderr is not a terminal; otherwise bars are drawn only on a terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, ProgressColumn

T = TypeVar("T")


def enabled() -> bool:
    """Progress reporting (bars, and the log lines of long commands) is on unless ``SPIKEFORGE_PROGRESS=0``."""
    return os.environ.get("SPIKEFORGE_PROGRESS", "1") != "0"


def bars_enabled() -> bool:
    """Bars are drawn when progress is on and stderr is a terminal (or ``SPIKEFORGE_PROGRESS=1`` forces them)."""
    if not enabled():
        return False
    return os.environ.get("SPIKEFORGE_PROGRESS") == "1" or sys.stderr.isatty()


def console() -> Console:
    """The rich console progress is drawn on: stderr."""
    from rich.console import Console

    return Console(stderr=True)


def bar(*columns: str | ProgressColumn, **kwargs: Any) -> Progress:
    """A transient rich ``Progress`` on stderr (call ``start()`` / ``stop()`` or use it as a context manager)."""
    from rich.progress import Progress

    return Progress(*columns, console=console(), transient=True, **kwargs)


def track(items: Iterable[T], description: str = "working", total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` showing a rich progress bar on stderr (when :func:`bars_enabled`)."""
    if not bars_enabled():
        yield from items
        return
    from rich.progress import track as rich_track

    yield from rich_track(items, description=description, total=total, transient=True, console=console())
