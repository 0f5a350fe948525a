"""Probabilistic core networks (Esser et al., NIPS 2015).

Every synapse is connected with probability ``c_ij ∈ [0, 1]`` and carries the fixed signed type weight
``s_ij``; neurons are memoryless (spike iff Σ input + leak ≥ 0). Treating input spikes ``x_i`` (spike
probabilities) and synapses as independent Bernoulli variables, a neuron's input is a sum of independent
terms, approximated by a Gaussian (central limit):

    μ_j  = b_j + Σ_i x_i c_ij s_ij
    σ²_j = Σ_i x_i c_ij (1 − x_i c_ij) s_ij²
    P(spike_j) = Φ((μ_j + δ) / √(σ²_j + ε))

``δ = 0.5`` (the default *continuity correction*) matches the integer ``≥ 0`` threshold of the hardware:
the integer sum is ≥ 0 iff the continuous variable is ≥ −0.5; ``δ = 0`` gives the plain ``Φ(μ/σ)``.
``ε`` guards σ² → 0 (a neuron with no active input becomes a step in μ, smoothed over ≈ √ε).
The output probabilities feed the next layer as its ``x``; the class score is the expected spike count
of the class's output neurons. At deployment the network is *sampled*: ``w_ij ~ Bernoulli(c_ij)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from spikeforge.methods.corenet.build import Copy
from spikeforge.methods.corenet.topology import NetworkSpec
from spikeforge.methods.corenet.torchnet import CoreNetModel


def clt_spike_probability(x: torch.Tensor, c: torch.Tensor, s: torch.Tensor, b: torch.Tensor, *,
                          correction: float = 0.5, eps: float = 0.1) -> torch.Tensor:
    """CLT spike probability for gathered inputs ``x`` (B, K, C, A), connection probabilities ``c``
    (K, C, A, n), signs ``s`` (C, A, n) and bias ``b`` (K, C, n). Returns (B, K, C, n)."""
    cs = c * s
    cs2 = cs * s
    # one batched product for the mean and the first variance term, one for the x² c² s² term
    both = torch.einsum("bkca,kcan->bkcn", x, torch.cat([cs, cs2], dim=-1))
    n = c.shape[-1]
    mean, var1 = both[..., :n], both[..., n:]
    var2 = torch.einsum("bkca,kcan->bkcn", x * x, cs * cs)
    var = (var1 - var2).clamp_min(0.0)
    mu = mean + b.unsqueeze(0)
    z = (mu + correction) / torch.sqrt(var + eps)
    return 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))


class ProbabilisticCoreNet(CoreNetModel):
    """Core network with connection probabilities ``conn`` and leaks ``bias`` (see module docstring)."""

    def __init__(self, spec: NetworkSpec, copies: int = 1, *, correction: float = 0.5, eps: float = 0.1,
                 **kw: Any) -> None:
        super().__init__(spec, copies, **kw)
        self.correction = float(correction)
        self.eps = float(eps)

    def layer(self, li: int, g: torch.Tensor) -> torch.Tensor:
        b = self.bias[li] if self.training else self.deploy_bias(li)
        return clt_spike_probability(g, self.conn[li], self.sign(li), b,
                                     correction=self.correction, eps=self.eps)

    @torch.no_grad()
    def sample(self, seed: int, copy: int = 0) -> Copy:
        """One binary network: ``w_ij ~ Bernoulli(c_ij)`` (numpy generator seeded by ``seed``), leaks
        (:meth:`deploy_bias`) rounded."""
        rng = np.random.default_rng(seed)
        xbars, leaks = [], []
        for li in range(len(self.spec.layers)):
            c = self.conn[li][copy].detach().cpu().numpy()
            xbars.append((rng.random(c.shape, dtype=np.float32) < c).astype(np.int16))
            leaks.append(np.round(self.deploy_bias(li)[copy].detach().cpu().numpy()).astype(np.int32))
        return xbars, leaks

    @torch.no_grad()
    def polarisation(self) -> float:
        """Fraction of used connection probabilities within 0.05 of 0 or 1."""
        tot, near = 0, 0
        for li in range(len(self.spec.layers)):
            used = (self.sign(li) != 0).unsqueeze(0).expand_as(self.conn[li])
            c = self.conn[li][used]
            tot += c.numel()
            near += int(((c < 0.05) | (c > 0.95)).sum())
        return near / max(tot, 1)
