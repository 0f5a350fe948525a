"""Data helpers for the core-network methods: loading, training-time augmentation, test-time encoding."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spikeforge.data import bernoulli_encode, load_dataset, threshold_encode
from spikeforge.data.encode import private_draws as private_draws  # re-exported (per-copy draws)


def load(name: str = "mnist", data_dir: str | os.PathLike[str] | None = None) -> Any:
    """``spikeforge.data.load_dataset`` (``data_dir`` → ``$SPIKEFORGE_DATA`` → user cache)."""
    return load_dataset(name, Path(data_dir) if data_dir is not None else None)


def to_unit(x: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W) → float32 (N, H*W) in [0, 1]."""
    return (np.asarray(x).reshape(len(x), -1).astype(np.float32) / 255.0)


def shift_batch(x: torch.Tensor, shape: tuple[int, int], max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Random per-image translations by up to ``max_shift`` pixels (zero fill). x: (B, H*W)."""
    if max_shift <= 0:
        return x
    b = x.shape[0]
    h, w = shape
    p = max_shift
    img = torch.nn.functional.pad(x.view(b, h, w), (p, p, p, p))
    dy = torch.randint(0, 2 * p + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * p + 1, (b,), generator=gen)
    rows = (torch.arange(h)[None, :] + dy[:, None])  # (B, H)
    cols = (torch.arange(w)[None, :] + dx[:, None])  # (B, W)
    out = img[torch.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return out.reshape(b, h * w)


def affine_batch(x: torch.Tensor, shape: tuple[int, int], max_rotate: float, max_scale: float,
                 gen: torch.Generator) -> torch.Tensor:
    """Random per-image rotations by up to ``±max_rotate`` degrees and isotropic scalings by a factor in
    ``[1 − max_scale, 1 + max_scale]`` about the image centre (bilinear, zero fill). x: (B, H*W) in [0, 1]."""
    if max_rotate <= 0 and max_scale <= 0:
        return x
    b = x.shape[0]
    h, w = shape
    ang = (torch.rand(b, generator=gen) * 2 - 1) * math.radians(max_rotate)
    sc = 1 + (torch.rand(b, generator=gen) * 2 - 1) * max_scale
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc  # output → input sampling grid (inverse map)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
    grid = torch.nn.functional.affine_grid(theta, [b, 1, h, w], align_corners=False)
    out = torch.nn.functional.grid_sample(x.view(b, 1, h, w), grid, mode="bilinear", padding_mode="zeros",
                                          align_corners=False)
    return out.reshape(b, h * w).clamp_(0.0, 1.0)


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def _smoothing_matrix(n: int, sigma: float) -> torch.Tensor:
    """The (n, n) matrix of a 1-D convolution with :func:`_gaussian_kernel` over n samples with zero padding
    ("same" size): ``(M @ v)[i] = sum_j k[j - i + r] v[j]``."""
    k = _gaussian_kernel(sigma)
    r = (len(k) - 1) // 2
    off = torch.arange(n).view(1, -1) - torch.arange(n).view(-1, 1) + r
    inside = (off >= 0) & (off < len(k))
    return torch.where(inside, k[off.clamp(0, len(k) - 1)], torch.zeros(()))


def elastic_batch(x: torch.Tensor, shape: tuple[int, int], alpha: float, sigma: float,
                  gen: torch.Generator) -> torch.Tensor:
    """Random elastic distortions (Simard, Steinkraus & Platt 2003, "Best practices for convolutional neural
    networks applied to visual document analysis"): per image, a displacement field with components drawn
    uniform in [-1, 1] per pixel, smoothed by a normalised Gaussian of std ``sigma`` pixels and scaled by
    ``alpha`` pixels; the image is resampled at ``(r + Δr, c + Δc)`` (bilinear, zero fill). Simard et al. use
    ``alpha = 34``, ``sigma = 4`` on MNIST. x: (B, H*W) in [0, 1]; ``alpha <= 0`` returns x unchanged."""
    if alpha <= 0:
        return x
    if sigma <= 0:
        raise ValueError(f"elastic sigma must be > 0, got {sigma}")
    b = x.shape[0]
    h, w = shape
    field = torch.rand((b * 2, 1, h, w), generator=gen) * 2 - 1
    # the separable Gaussian with zero padding as two small matrix products (5x faster than two convolutions)
    field = _smoothing_matrix(h, sigma) @ field.view(b * 2, h, w) @ _smoothing_matrix(w, sigma).T
    d = field.view(b, 2, h, w) * alpha  # pixels: (Δc, Δr)
    ys = (2 * torch.arange(h, dtype=torch.float32) + 1) / h - 1  # pixel centres, align_corners=False
    xs = (2 * torch.arange(w, dtype=torch.float32) + 1) / w - 1
    gx = xs.view(1, 1, w) + d[:, 0] * (2.0 / w)
    gy = ys.view(1, h, 1) + d[:, 1] * (2.0 / h)
    grid = torch.stack([gx, gy], dim=-1)  # (B, H, W, 2) as (x, y)
    out = torch.nn.functional.grid_sample(x.view(b, 1, h, w), grid, mode="bilinear", padding_mode="zeros",
                                          align_corners=False)
    return out.reshape(b, h * w).clamp_(0.0, 1.0)


def encode(x: np.ndarray, kind: str = "threshold", *, threshold: float = 0.5, seed: int = 0) -> np.ndarray:
    """One-tick input spikes (B, 1, K) uint8: thresholded pixels (intensity > threshold) or Bernoulli(intensity)."""
    if kind == "threshold":
        return threshold_encode(x, ticks=1, threshold=threshold)
    if kind == "bernoulli":
        return bernoulli_encode(x, ticks=1, rng=seed)
    raise ValueError(f"unknown encoding {kind!r}; use 'threshold' or 'bernoulli'")


def train_inputs(x: torch.Tensor, kind: str, threshold: float, gen: torch.Generator) -> torch.Tensor:
    """What the model sees in training: ``"intensity"`` (probabilities), ``"threshold"`` (0/1) or
    ``"bernoulli"`` (a fresh 0/1 draw per step)."""
    if kind == "intensity":
        return x
    if kind == "threshold":
        return (x > threshold).to(x.dtype)
    if kind == "bernoulli":
        return (torch.rand(x.shape, generator=gen) < x).to(x.dtype)
    raise ValueError(f"unknown training input {kind!r}")
