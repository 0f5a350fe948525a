"""Input spikes produced on demand: a :class:`SpikeSource` hands the simulator consecutive blocks of inputs.

An encoded test set can be far larger than the network that runs it. Per-axon draws of a 64-copy ensemble of
the 28-core MNIST network give every image 64 x 16 x 256 = 262 144 input channels: 2.6 GB of spikes for the
10 000 test images, against a few MB of images. A source keeps the images and draws a block of inputs when
the simulator reaches it, so memory follows the block, not the data set.

The simulator, :func:`spikeforge.evaluate.run_simulation` and :meth:`spikeforge.metrics.Activity.replay`
take a source wherever they take a (B, T, K) array, and read it in increasing blocks (:func:`read_inputs`).
A source must give the same spikes for input ``i`` however the inputs are split into blocks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

if TYPE_CHECKING:
    import torch


class SpikeSource(ABC):
    """Binary input spikes of shape (B, T, K) — B inputs, T ticks, K input channels — read a block at a time.

    Subclasses implement :attr:`shape` and :meth:`read`. Slicing (``src[a:b]``, step 1) reads a block and
    ``numpy.asarray(src)`` reads them all (for small sources: that is the memory a source avoids).
    """

    @property
    @abstractmethod
    def shape(self) -> tuple[int, int, int]:
        """(inputs, ticks, channels)."""

    @abstractmethod
    def read(self, start: int, stop: int) -> np.ndarray:
        """Inputs ``start`` … ``stop − 1`` as a C-contiguous (stop − start, T, K) ``uint8`` 0/1 array."""

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return 3

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice):
            raise TypeError(f"{type(self).__name__} reads blocks of consecutive inputs: index it with a slice, "
                            f"not {key!r}")
        start, stop, step = key.indices(len(self))
        if step != 1:
            raise ValueError(f"{type(self).__name__} reads consecutive inputs: slice step must be 1, not {step}")
        return self.read(start, max(start, stop))

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        a = self.read(0, len(self))
        return a if dtype is None else a.astype(dtype, copy=False)


#: What the simulator accepts as inputs: an array, a tensor or a source, each (B, T, K) (or (B, K): one tick).
Spikes: TypeAlias = "np.ndarray | torch.Tensor | SpikeSource"


def as_spikes(spikes: Any) -> Spikes:
    """``spikes`` itself if it is an array, a tensor or a source, else ``numpy.asarray(spikes)`` (e.g. a list)."""
    return spikes if isinstance(spikes, SpikeSource) or hasattr(spikes, "shape") else np.asarray(spikes)


def input_shape(spikes: Spikes) -> tuple[int, int, int]:
    """(inputs, ticks, channels) of an array, tensor or source; a 2-D (B, K) array is one tick."""
    shape = tuple(int(s) for s in spikes.shape)
    if len(shape) == 2:
        return shape[0], 1, shape[1]
    if len(shape) != 3:
        raise ValueError(f"input spikes must have shape (batch, ticks, channels), got {shape}")
    return shape[0], shape[1], shape[2]


def read_inputs(spikes: Spikes, start: int, stop: int) -> np.ndarray | torch.Tensor:
    """Inputs ``start`` … ``stop − 1`` of an array, tensor (a view) or source (drawn now)."""
    if isinstance(spikes, SpikeSource):
        return spikes.read(start, stop)
    return spikes[start:stop]

