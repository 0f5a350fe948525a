"""Directly learned binary crossbars (Jimeno Yepes & Tang 2016).

Each synapse has a real-valued *shadow* ``h_ij ∈ [0, 1]`` (initialised near 0.5). The forward pass uses the
binary connection ``w_ij = 1[h_ij > 0.5]``; the backward pass is *straight-through*: ∂L/∂h = ∂L/∂w
(identity), and after every optimiser step ``h`` is clipped back to [0, 1] (so a shadow value can never run
away and always stays within reach of the 0.5 switching point). Signs ``s_ij`` and the trainable leak ``b_j``
are the same as in the probabilistic method.

The neuron's hard threshold ``y = 1[u + b ≥ 0]`` (u = Σ_i x_i w_ij s_ij, an integer) is replaced in training
by a differentiable surrogate of slope ``k`` (annealed over training from ``slope_start`` to ``slope_end``);
the integer threshold sits at u + b = −0.5, so every surrogate is centred there:

* ``"sigmoid"``   — y = σ(k (u + b + 0.5)) in the forward and backward pass (the paper's choice);
* ``"hard-ste"``  — forward y = 1[u + b ≥ 0] (the deployed neuron, exactly), backward the sigmoid's
  derivative k σ'(k (u + b + 0.5)) (straight-through estimator);
* ``"clt"``       — y = Φ((u + b + 0.5) / √(Var + 1)) where Var is the variance from Bernoulli inputs
  (inputs are probabilities); annealing is not used. A probabilistic-input surrogate for comparison.

At deployment neurons use the hard threshold and the crossbar is ``1[h > 0.5]``: no sampling, deterministic.

Warm start (optional, :meth:`BinaryCoreNet.warm_start_`): copy k's shadows start at ``0.5 ± margin`` on the
bits of a given binary network (e.g. a sample ``w ~ Bernoulli(c)`` of a trained probabilistic model) and its
leaks at that network's integer leaks, so training starts from — and binarises exactly to — that network.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from spikeforge.methods.corenet.build import Copy
from spikeforge.methods.corenet.topology import NetworkSpec
from spikeforge.methods.corenet.torchnet import CoreNetModel

Surrogate = Literal["sigmoid", "hard-ste", "clt"]


class BinariseSTE(torch.autograd.Function):
    """w = 1[h > 0.5] forward; identity gradient backward (straight-through)."""

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor) -> torch.Tensor:
        return (h > 0.5).to(h.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad


def hard_threshold_ste(v: torch.Tensor, slope: float) -> torch.Tensor:
    """y = 1[v ≥ 0] forward (v = u + b, integer-valued at deployment); backward k σ'(k (v + 0.5)).

    Written as ``s + (1[v ≥ 0] − s).detach()`` with ``s = σ(k (v + 0.5))``, not as a custom autograd
    Function, so that ``torch.compile`` traces it. The forward value is exactly 0 or 1 in IEEE arithmetic:
    ``s + (0 − s) = 0``, and ``s + fl(1 − s)`` is within 2⁻²⁵ of 1, which rounds to 1."""
    s = torch.sigmoid(slope * (v + 0.5))
    return s + ((v >= 0).to(v.dtype) - s).detach()


binarise = BinariseSTE.apply


class BinaryCoreNet(CoreNetModel):
    """Core network with shadow connections ``conn`` (binarised at 0.5) and leaks ``bias``."""

    PARAM_BOUNDS: ClassVar[dict[str, dict[str, float]]] = {"slope_start": {"gt": 0}, "slope_end": {"gt": 0}}

    def __init__(self, spec: NetworkSpec, copies: int = 1, *, surrogate: Surrogate = "sigmoid",
                 slope_start: float = 0.5, slope_end: float = 8.0, **kw: Any) -> None:
        kw.setdefault("init_std", 0.05)
        super().__init__(spec, copies, **kw)
        if surrogate not in ("sigmoid", "hard-ste", "clt"):
            raise ValueError(f"unknown surrogate {surrogate!r}")
        self.surrogate = surrogate
        self.slope_start, self.slope_end = float(slope_start), float(slope_end)
        self.slope = float(slope_start)

    def on_epoch(self, epoch: int, epochs: int) -> None:
        """Geometric annealing of the slope from ``slope_start`` (first epoch) to ``slope_end`` (last)."""
        f = epoch / max(epochs - 1, 1)
        self.slope = self.slope_start * (self.slope_end / self.slope_start) ** f

    def method_state(self) -> dict[str, Any]:
        return {"slope": self.slope}

    def load_method_state(self, state: dict[str, Any]) -> None:
        self.slope = float(state.get("slope", self.slope))

    def layer(self, li: int, g: torch.Tensor) -> torch.Tensor:
        w = binarise(self.conn[li]) * self.sign(li)  # (K, C, A, n)
        if not self.training:  # the deployed neuron: integer leak, hard threshold
            v = torch.einsum("bkca,kcan->bkcn", g, w) + torch.round(self.deploy_bias(li)).unsqueeze(0)
            return (v >= 0).to(v.dtype)
        v = torch.einsum("bkca,kcan->bkcn", g, w) + self.bias[li].unsqueeze(0)
        if self.surrogate == "sigmoid":
            return torch.sigmoid(self.slope * (v + 0.5))
        if self.surrogate == "hard-ste":
            return hard_threshold_ste(v, self.slope)
        var = torch.einsum("bkca,kcan->bkcn", g * (1 - g), w * w)
        z = (v + 0.5) / torch.sqrt(var + 1.0)
        return 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))

    @torch.no_grad()
    def warm_start_(self, copies: list[Copy], margin: float = 0.1) -> None:
        """Start copy k from the binary network ``copies[k]``: shadow ``0.5 + margin`` where its crossbar has a
        1 and ``0.5 − margin`` where it has a 0, leak = its leak. ``binarised(k)`` then returns that network."""
        if len(copies) != self.copies:
            raise ValueError(f"warm start needs {self.copies} networks, got {len(copies)}")
        if not 0.0 < margin <= 0.5:
            raise ValueError(f"margin must be in (0, 0.5], got {margin}")
        for k, (xbars, leaks) in enumerate(copies):
            for li in range(len(self.spec.layers)):
                xb = torch.as_tensor(np.asarray(xbars[li]), dtype=self.conn[li].dtype)
                lk = torch.as_tensor(np.asarray(leaks[li]), dtype=self.bias[li].dtype)
                if xb.shape != self.conn[li][k].shape or lk.shape != self.bias[li][k].shape:
                    raise ValueError(f"warm start network {k} layer {li}: crossbar {tuple(xb.shape)} / leak "
                                     f"{tuple(lk.shape)} do not match {tuple(self.conn[li][k].shape)}")
                self.conn[li][k] = 0.5 + margin * (2.0 * (xb > 0).to(xb.dtype) - 1.0)
                self.bias[li][k] = lk * (1.0 - self.dropout) if li > 0 else lk  # inverse of deploy_bias

    @torch.no_grad()
    def binarised(self, copy: int = 0) -> Copy:
        """The deployed network of one copy: crossbar 1[h > 0.5], leaks rounded to integers."""
        xbars, leaks = [], []
        for li in range(len(self.spec.layers)):
            xbars.append((self.conn[li][copy].cpu().numpy() > 0.5).astype(np.int16))
            leaks.append(np.round(self.deploy_bias(li)[copy].cpu().numpy()).astype(np.int32))
        return xbars, leaks
