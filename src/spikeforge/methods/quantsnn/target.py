"""Deterministic input and target of the retention task (no download needed).

Target: a binarised line drawing of a smiley face (outline, two eyes, mouth) on a ``250 × 250`` grid,
read as a spike raster -- row ``c`` of the image is output channel ``c``, column ``t`` is tick ``t``.
The authors used binarised images ("smile", "nd") the same way. Input: frozen Poisson spike trains,
``P(spike) = rate`` per channel and tick from a fixed seed.
"""

from __future__ import annotations

import numpy as np


def smiley_raster(n_channels: int = 250, n_ticks: int = 250, stroke: float = 1.2) -> np.ndarray:
    """Binary raster ``(n_ticks, n_channels)`` of a smiley drawn with strokes ``stroke`` pixels wide
    (scaled with the grid)."""
    c = np.arange(n_channels)[:, None] / n_channels  # vertical coordinate in [0, 1)
    t = np.arange(n_ticks)[None, :] / n_ticks  # horizontal coordinate in [0, 1)
    half = stroke / min(n_channels, n_ticks)
    img = np.zeros((n_channels, n_ticks), bool)
    # face outline
    r = np.hypot(c - 0.5, t - 0.5)
    img |= np.abs(r - 0.42) < half
    # eyes: small rings
    for ex in (0.35, 0.65):
        img |= np.abs(np.hypot(c - 0.36, t - ex) - 0.05) < half
    # mouth: lower arc
    rm = np.hypot(c - 0.45, t - 0.5)
    img |= (np.abs(rm - 0.25) < half) & (c > 0.55)
    return img.T.astype(np.float32).copy()


def poisson_input(n_channels: int = 700, n_ticks: int = 250, rate: float = 0.05, seed: int = 0) -> np.ndarray:
    """Frozen Poisson input raster ``(n_ticks, n_channels)`` with spike probability ``rate`` per tick."""
    rng = np.random.default_rng(seed)
    return (rng.random((n_ticks, n_channels)) < rate).astype(np.float32)
