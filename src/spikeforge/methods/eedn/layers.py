"""Eedn training primitives (Esser et al., PNAS 2016): trinary weights with hysteresis, binary spikes with a
triangle surrogate gradient, batch normalisation folded into integer thresholds.

Trinary weights (documented rule, ``docs/methods/eedn.md``)
    Each synapse keeps a real *shadow* weight w ∈ [−1, 1] (clipped after every optimiser step) and a
    deployed trinary weight q ∈ {−1, 0, +1}. With hysteresis η ≥ 0, after every update

        q ← +1 if w ≥ 0.5 + η;   q ← −1 if w ≤ −0.5 − η;   q ← 0 if |w| ≤ 0.5 − η;   otherwise q is kept.

    So q only changes when w clearly crosses ±0.5, which stops weights near a boundary from flipping back
    and forth from one mini-batch to the next. The forward pass uses q; the backward pass is straight
    through (∂L/∂w = ∂L/∂q).

Binary spikes
    y = 1[r ≥ 0] forward; backward dy/dr = max(0, 1 − |r|) (triangle surrogate).

Batch-norm folding (exact)
    In evaluation the pre-activation s (an integer: a sum of trinary weights over binary inputs) goes
    through r = (s − μ)·a + β with a = γ / sqrt(σ² + ε), computed in float64 by :func:`bn_predicate`;
    :func:`fold_threshold` finds, for every channel, the integer threshold θ (and sign) such that
    1[±s ≥ θ] equals that float64 predicate for every reachable s — so the deployed neuron computes exactly
    the evaluated binary function.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class SpikeFn(torch.autograd.Function):
    """y = 1[r ≥ 0]; surrogate gradient max(0, 1 − |r|)."""

    @staticmethod
    def forward(ctx: Any, r: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(r)
        return (r >= 0).to(r.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (r,) = ctx.saved_tensors
        return grad * torch.clamp(1.0 - r.abs(), min=0.0)


def spike(r: torch.Tensor) -> torch.Tensor:
    """Binary spike with the triangle surrogate gradient."""
    out: torch.Tensor = SpikeFn.apply(r)
    return out


class _StraightThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, w: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return q.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad, None


def trinarize(w: torch.Tensor, q_old: torch.Tensor | None, eta: float) -> torch.Tensor:
    """The hysteresis rule of the module docstring (``q_old=None``: no memory, thresholds ±0.5)."""
    pos = w >= 0.5 + eta
    neg = w <= -0.5 - eta
    zero = w.abs() <= 0.5 - eta
    if q_old is None:
        return torch.where(w >= 0.5, 1.0, torch.where(w <= -0.5, -1.0, 0.0)).to(w.dtype)
    q = torch.where(pos, torch.ones_like(w), q_old)
    q = torch.where(neg, -torch.ones_like(w), q)
    return torch.where(zero, torch.zeros_like(w), q)


class TrinaryConv2d(nn.Module):
    """Grouped convolution whose deployed weights are trinary, followed by batch norm and a binary spike.

    Padding is zero (no spike). ``forward`` returns spikes in {0, 1}; in eval mode the batch-norm
    predicate is evaluated in float64 exactly as :func:`fold_threshold` assumes.
    """

    q: torch.Tensor

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0, groups: int = 1,
                 eta: float = 0.1, init_scale: float = 1.0) -> None:
        super().__init__()
        if c_in % groups or c_out % groups:
            raise ValueError(f"groups={groups} must divide in ({c_in}) and out ({c_out}) channels")
        self.c_in, self.c_out, self.kernel = c_in, c_out, kernel
        self.stride, self.padding, self.groups, self.eta = stride, padding, groups, eta
        w = (torch.rand(c_out, c_in // groups, kernel, kernel) * 2 - 1) * init_scale
        self.weight = nn.Parameter(w)
        self.register_buffer("q", trinarize(w.detach(), None, eta))
        self.bn = nn.BatchNorm2d(c_out)

    def update_trinary(self) -> None:
        """Clip the shadow weights to [−1, 1] and apply the hysteresis rule (call after each optimiser step)."""
        with torch.no_grad():
            self.weight.clamp_(-1.0, 1.0)
            self.q.copy_(trinarize(self.weight, self.q, self.eta))

    def preactivation(self, x: torch.Tensor) -> torch.Tensor:
        wq = _StraightThrough.apply(self.weight, self.q) if self.training else self.q
        return F.conv2d(x, wq, stride=self.stride, padding=self.padding, groups=self.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.preactivation(x)
        if self.training:
            return spike(self.bn(s))
        return bn_predicate(s, self.bn).to(x.dtype)


class OrPool2d(nn.Module):
    """Pooling of binary maps: max = OR; deploys as :func:`spikeforge.mapping.or_pool`."""

    def __init__(self, kernel: int, stride: int | None = None) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride or kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, self.kernel, self.stride)


def bn_scale_shift(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(μ, a, β) in float64 with a = γ / sqrt(σ² + ε), from the running statistics."""
    assert bn.running_mean is not None and bn.running_var is not None
    mu = bn.running_mean.detach().double()
    var = bn.running_var.detach().double()
    gamma = bn.weight.detach().double() if bn.weight is not None else torch.ones_like(mu)
    beta = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(mu)
    a = gamma / torch.sqrt(var + bn.eps)
    return mu, a, beta


def bn_predicate(s: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    """1[(s − μ)·a + β ≥ 0] per channel (dim 1), in float64: the evaluated binary neuron."""
    mu, a, beta = bn_scale_shift(bn)
    shape = (1, -1) + (1,) * (s.dim() - 2)
    r = (s.double() - mu.view(shape)) * a.view(shape) + beta.view(shape)
    return r >= 0


def fold_threshold(mu: np.ndarray, a: np.ndarray, beta: np.ndarray, s_min: np.ndarray, s_max: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per channel, (sign, θ) with sign ∈ {−1, 0, +1} such that for every integer s in [s_min, s_max]

        1[(s − μ)·a + β ≥ 0]  ==  1[sign·s ≥ θ]

    (float64 left side, evaluated exactly as :func:`bn_predicate`). sign = 0 means a constant neuron
    (weights dropped; θ = 0 always fires, θ = 1 never). Found by evaluating the predicate on every
    reachable s, so the fold is exact, not a rounding of −β/a + μ.
    """
    n = len(mu)
    sign = np.zeros(n, np.int64)
    theta = np.zeros(n, np.int64)
    for c in range(n):
        s = np.arange(int(s_min[c]), int(s_max[c]) + 1, dtype=np.float64)
        p = (s - mu[c]) * a[c] + beta[c] >= 0
        if p.all() or not p.any():
            sign[c], theta[c] = 0, 0 if p.all() else 1
        elif a[c] > 0:
            # increasing predicate: θ = first s that fires
            first = int(np.argmax(p))
            if not p[first:].all():  # pragma: no cover - float monotonicity guard
                raise ArithmeticError(f"channel {c}: batch-norm predicate not monotone")
            sign[c], theta[c] = 1, int(s[first])
        else:
            last = len(p) - 1 - int(np.argmax(p[::-1]))
            if not p[: last + 1].all():  # pragma: no cover
                raise ArithmeticError(f"channel {c}: batch-norm predicate not monotone")
            sign[c], theta[c] = -1, -int(s[last])
    return sign, theta
