"""Process-wide PyTorch thread count, set for a block and restored after it.

``torch.set_num_threads`` changes every later computation of the process; a training function that sets it
(e.g. ``TrainConfig.threads``) would otherwise leave, say, a benchmark's simulations that follow it running on
one core of two.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads (``None`` or 0: leave the count as it is), then restore it."""
    before = torch.get_num_threads()
    if n:
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"threads must be an integer >= 1, got {n!r}")
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
