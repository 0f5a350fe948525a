"""Two-layer current-based LIF network with WAGE-style quantisation and SuperSpike gradients.

Neuron (per tick, 1 ms; Schaefer et al. 2020, authors' code)::

    syn_t = 0.75 · syn_{t−1} + W·x_t
    mem_t = 0.875 · mem_{t−1} + syn_t − s_{t−1}          (reset by subtracting 1)
    s_t   = H(mem_t − 0.9)

Surrogate gradient (SuperSpike, Zenke & Ganguli 2018): ``∂s/∂mem ≈ 1 / (100·|mem − 0.9| + 1)²``;
the reset term is detached.

Weights (WAGE, Wu et al. ICLR 2018, with the authors' initial range): ``σ(k) = 2^{1−k}``; shadow
weights ``w`` are kept in ``[−1+σ, 1−σ]`` and the forward pass uses ``Q(w) = σ · round(w/σ)``
(straight-through gradient), scaled by the layer constant ``g/α`` with ``α = 2^round(log2(L/L_fan))``,
``L_fan = sqrt(6/n_in)`` and a fixed gain ``g``. Shadow weights start uniform in ``±L`` with
``L = (2^{k−1} − ½)·σ = 1 − σ/2``, the whole representable range: WAGE's ``L_min = β·σ`` with the
authors' ``β = 2^{k−1} − ½`` (their ``init_layer_weights``) instead of WAGE's 1.5. Then a fraction
``σ/(2L)`` of the codes starts at zero -- density 0.67 / 0.86 / 0.93 / 0.97 / 0.98 at 2 / 3 / 4 / 5 /
6 bits, the densities of the authors' trained networks (``frontier.csv``) -- and every bit width starts
from the same uniform shadow weights quantised to its own levels (with ``β = 1.5`` all widths up to 5
bits started from the same ternary network). The stored synapse is the integer code
``round(Q(w)/σ) ∈ [−(2^{k−1}−1), 2^{k−1}−1]`` (k bits, two's complement); ``g·σ/α`` is a per-layer
constant applied by the neuron, not stored per synapse. The optimiser works on ``u = w/L``.

van Rossum distance (loss and metric): both rasters are filtered with ``ũ_t = 0.75·ũ_{t−1} + s_t`` and
``D = sqrt(Σ_{t,c} (ũ^out_{t,c} − ũ^target_{t,c})²)``; the loss is ``D²``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class LIFParams:
    """Constants of the current-based LIF neuron."""

    syn_decay: float = 0.75
    mem_decay: float = 0.875
    threshold: float = 0.9
    reset: float = 1.0
    surrogate_beta: float = 100.0


class _SuperSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v: torch.Tensor, beta: float) -> torch.Tensor:
        ctx.save_for_backward(v)
        ctx.beta = beta
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (v,) = ctx.saved_tensors
        return grad / (ctx.beta * v.abs() + 1.0) ** 2, None


def superspike(v: torch.Tensor, beta: float = 100.0) -> torch.Tensor:
    """Heaviside of ``v`` with the SuperSpike surrogate gradient ``1/(β|v|+1)²``."""
    out = _SuperSpike.apply(v, beta)
    assert isinstance(out, torch.Tensor)
    return out


def wage_sigma(bits: int) -> float:
    """WAGE resolution ``σ(k) = 2^{1−k}``."""
    return 2.0 ** (1 - bits)


def wage_quantise(w: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """``clip(σ·round(w/σ), −1+σ, 1−σ)`` with a straight-through gradient."""
    s = torch.as_tensor(sigma, dtype=w.dtype)
    q = torch.clamp(torch.round(w / s) * s, -1 + s, 1 - s)
    return w + (q - w).detach()


def wage_codes(w: np.ndarray, bits: int) -> np.ndarray:
    """Integer codes ``round(Q(w)/σ)`` of shadow weights (what the synaptic memory stores)."""
    s = wage_sigma(bits)
    q = np.clip(np.round(np.asarray(w, dtype=np.float64) / s), -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1)
    return q.astype(np.int64)


def wage_init_limit(bits: int, n_in: int) -> float:
    """Initial shadow-weight range ``L = max((2^{k−1} − ½)·σ, sqrt(6/n_in))`` (authors' β, see module
    docstring); ``(2^{k−1} − ½)·σ = 1 − σ/2``."""
    return max(1.0 - wage_sigma(bits) / 2, math.sqrt(6.0 / n_in))


def wage_alpha(bits: int, n_in: int) -> float:
    """Layer scale ``α = 2^round(log2(max(L/L_fan, 1)))`` with ``L`` = :func:`wage_init_limit` and
    ``L_fan = sqrt(6/n_in)``."""
    l_fan = math.sqrt(6.0 / n_in)
    return float(2.0 ** round(math.log2(max(wage_init_limit(bits, n_in) / l_fan, 1.0))))


def decay_kernel(n: int, decay: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Lower-triangular ``K_{t,τ} = decay^{t−τ}`` (``t ≥ τ``): ``K @ s`` is the filter
    ``ũ_t = decay·ũ_{t−1} + s_t`` along time; ``Kᵀ @ g`` is the same filter run backwards in time."""
    idx = torch.arange(n)
    diff = (idx[:, None] - idx[None, :]).to(dtype)
    return torch.where(diff >= 0, decay ** diff.clamp_min(0), torch.zeros((), dtype=dtype))


def van_rossum_filter(s: torch.Tensor, decay: float = 0.75) -> torch.Tensor:
    """``ũ_t = decay·ũ_{t−1} + s_t`` along dim 0 (time), computed as ``ũ = K·s`` with the lower-triangular
    ``K_{t,τ} = decay^{t−τ}``."""
    n = s.shape[0]
    return (decay_kernel(n, decay, s.dtype) @ s.reshape(n, -1)).reshape(s.shape)


def van_rossum_distance(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, decay: float = 0.75) -> float:
    """``sqrt(Σ (ũ_a − ũ_b)²)`` of two rasters ``(T, C)`` (or with extra trailing dims)."""
    ta = torch.as_tensor(np.asarray(a, dtype=np.float64)) if isinstance(a, np.ndarray) else a.double()
    tb = torch.as_tensor(np.asarray(b, dtype=np.float64)) if isinstance(b, np.ndarray) else b.double()
    d = van_rossum_filter(ta, decay) - van_rossum_filter(tb, decay)
    return float(torch.sqrt((d**2).sum()))


class QuantSNN(torch.nn.Module):
    """A population of ``M`` independent 2-layer networks (700 → 400 → 250 by default), each with its own
    weight bit width and seed, simulated together (batched over networks) for speed."""

    def __init__(
        self,
        bits: list[int],
        seeds: list[int],
        sizes: tuple[int, int, int] = (700, 400, 250),
        gain: tuple[float, float] = (1.0, 1.0),
        lif: LIFParams = LIFParams(),
    ) -> None:
        super().__init__()
        if len(bits) != len(seeds):
            raise ValueError("one seed per network")
        self.bits = list(bits)
        self.sizes = sizes
        self.lif = lif
        n_in, n_hid, n_out = sizes
        self.sigma: torch.Tensor
        self.lim1: torch.Tensor
        self.lim2: torch.Tensor
        self.scale1: torch.Tensor
        self.scale2: torch.Tensor
        self.register_buffer("sigma", torch.tensor([wage_sigma(b) for b in bits]).view(-1, 1, 1))
        u1: list[torch.Tensor] = []
        u2: list[torch.Tensor] = []
        l1: list[float] = []
        l2: list[float] = []
        for b, sd in zip(bits, seeds, strict=True):
            g = torch.Generator().manual_seed(int(sd))
            for shape, us, lims in (((n_in, n_hid), u1, l1), ((n_hid, n_out), u2, l2)):
                lims.append(wage_init_limit(b, shape[0]))
                us.append(torch.rand(shape, generator=g) * 2 - 1)
        self.u1 = torch.nn.Parameter(torch.stack(u1))
        self.u2 = torch.nn.Parameter(torch.stack(u2))
        self.register_buffer("lim1", torch.tensor(l1).view(-1, 1, 1))
        self.register_buffer("lim2", torch.tensor(l2).view(-1, 1, 1))
        self.register_buffer("scale1", torch.tensor([gain[0] / wage_alpha(b, n_in) for b in bits]).view(-1, 1, 1))
        self.register_buffer("scale2", torch.tensor([gain[1] / wage_alpha(b, n_hid) for b in bits]).view(-1, 1, 1))

    @property
    def w1(self) -> torch.Tensor:
        """Shadow weights of layer 1 ``(M, n_in, n_hid)``."""
        return self.u1 * self.lim1

    @property
    def w2(self) -> torch.Tensor:
        """Shadow weights of layer 2 ``(M, n_hid, n_out)``."""
        return self.u2 * self.lim2

    def clip_(self) -> None:
        """Keep shadow weights in ``[−1+σ, 1−σ]``."""
        with torch.no_grad():
            for u, lim in ((self.u1, self.lim1), (self.u2, self.lim2)):
                bound = (1 - self.sigma) / lim
                u.copy_(torch.maximum(torch.minimum(u, bound), -bound))

    def quantised(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Effective (quantised, scaled) weights ``(M, n_in, n_hid)``, ``(M, n_hid, n_out)``."""
        return (wage_quantise(self.w1, self.sigma) * self.scale1, wage_quantise(self.w2, self.sigma) * self.scale2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Input raster ``(T, n_in)`` shared by all networks → (hidden spikes ``(T, M, n_hid)``, output
        spikes ``(T, M, n_out)``)."""
        q1, q2 = self.quantised()
        m = q1.shape[0]
        p = self.lif
        # input currents of every tick at once (the input does not depend on the network state)
        flat = q1.permute(1, 0, 2).reshape(self.sizes[0], m * self.sizes[1])
        i1 = torch.sparse.mm(x.to_sparse(), flat).reshape(x.shape[0], m, self.sizes[1])
        syn1 = torch.zeros(m, self.sizes[1])
        mem1 = torch.zeros_like(syn1)
        s1 = torch.zeros_like(syn1)
        hid = []
        for t in range(x.shape[0]):
            syn1 = p.syn_decay * syn1 + i1[t]
            mem1 = p.mem_decay * mem1 + syn1 - p.reset * s1.detach()
            s1 = superspike(mem1 - p.threshold, p.surrogate_beta)
            hid.append(s1)
        hidden = torch.stack(hid)  # (T, M, n_hid)
        # layer 2 depends on layer 1 only through its spikes: all its input currents in one batched product
        i2 = torch.bmm(hidden.transpose(0, 1), q2).transpose(0, 1)  # (T, M, n_out)
        syn2 = torch.zeros(m, self.sizes[2])
        mem2 = torch.zeros_like(syn2)
        s2 = torch.zeros_like(syn2)
        out = []
        for t in range(x.shape[0]):
            syn2 = p.syn_decay * syn2 + i2[t]
            mem2 = p.mem_decay * mem2 + syn2 - p.reset * s2.detach()
            s2 = superspike(mem2 - p.threshold, p.surrogate_beta)
            out.append(s2)
        return hidden, torch.stack(out)

    # ------------------------------------------------------------------ explicit BPTT (no autograd graph)
    def _lif(self, current: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the LIF recurrence on input currents ``(T, M, N)``: (spikes, membrane) of every tick."""
        p = self.lif
        syn = torch.zeros_like(current[0])
        mem = torch.zeros_like(syn)
        s = torch.zeros_like(syn)
        spikes = torch.empty_like(current)
        mems = torch.empty_like(current)
        for t in range(current.shape[0]):
            syn = p.syn_decay * syn + current[t]
            mem = p.mem_decay * mem + syn - p.reset * s
            s = (mem > p.threshold).to(current.dtype)
            spikes[t] = s
            mems[t] = mem
        return spikes, mems

    @torch.no_grad()
    def quantised_values(self) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`quantised` without the straight-through graph: ``σ·code·g/α`` per layer."""
        lim = 1 / self.sigma - 1  # (1−σ)/σ = 2^{k−1} − 1
        return tuple(  # type: ignore[return-value]
            torch.clamp(torch.round(w / self.sigma), -lim, lim) * (self.sigma * sc)
            for w, sc in ((self.w1, self.scale1), (self.w2, self.scale2))
        )

    @torch.no_grad()
    def simulate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Forward pass without a graph: (hidden spikes, hidden membrane, output spikes, output membrane),
        each ``(T, M, N)``; the same dynamics as :meth:`forward`."""
        q1, q2 = self.quantised_values()
        m = q1.shape[0]
        flat = q1.permute(1, 0, 2).reshape(self.sizes[0], m * self.sizes[1])
        i1 = torch.sparse.mm(x.to_sparse(), flat).reshape(x.shape[0], m, self.sizes[1])
        s1, m1 = self._lif(i1)
        s2, m2 = self._lif(torch.bmm(s1.transpose(0, 1), q2).transpose(0, 1))
        return s1, m1, s2, m2

    @torch.no_grad()
    def bptt(
        self,
        x: torch.Tensor,
        target_filtered: torch.Tensor,
        error_q: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Loss ``D²`` per network and its gradients with respect to ``u1``, ``u2``, computed by explicit
        backpropagation through time -- the gradients autograd computes on :meth:`forward` (checked in
        the tests), without building a graph of ``2·T`` steps.

        With ``g_t = ∂D²/∂s_t`` and ``σ'_t = 1/(β|mem_t − θ| + 1)²`` (reset detached)::

            ∂/∂mem_t = g_t·σ'_t + 0.875·∂/∂mem_{t+1}       ∂/∂syn_t = ∂/∂mem_t + 0.75·∂/∂syn_{t+1}

        i.e. ``δ = K_synᵀ K_memᵀ (g ⊙ σ')`` with the decay kernels of :func:`decay_kernel`; ``δ`` is the
        error at the layer's input current. ``error_q`` (WAGE's error quantiser) is applied to each
        layer's ``δ`` before it forms the weight gradient ``Σ_t x_tᵀ δ_t`` and goes back through
        ``Wᵀ``. ``target_filtered``: the van Rossum-filtered target ``(T, 1, C)``.

        Returns (D² per network ``(M,)``, grad u1, grad u2, (hidden spikes, output spikes)).
        """
        p = self.lif
        n_t = x.shape[0]
        q1, q2 = self.quantised_values()
        m = q1.shape[0]
        s1, m1, s2, m2 = self.simulate(x)
        k_vr = decay_kernel(n_t, 0.75)
        k_syn = decay_kernel(n_t, p.syn_decay)
        k_mem = decay_kernel(n_t, p.mem_decay)

        def back(g: torch.Tensor, mem: torch.Tensor) -> torch.Tensor:
            sg = 1.0 / (p.surrogate_beta * (mem - p.threshold).abs() + 1.0) ** 2
            flat = (g * sg).reshape(n_t, -1)
            return (k_syn.T @ (k_mem.T @ flat)).reshape(g.shape)

        diff = (k_vr @ s2.reshape(n_t, -1)).reshape(s2.shape) - target_filtered
        loss = (diff**2).sum(dim=(0, 2))
        g_s2 = 2.0 * (k_vr.T @ diff.reshape(n_t, -1)).reshape(s2.shape)
        d2 = back(g_s2, m2)
        if error_q is not None:
            d2 = error_q(d2)
        gq2 = torch.bmm(s1.permute(1, 2, 0), d2.transpose(0, 1))  # (M, H, C)
        g_s1 = torch.bmm(d2.transpose(0, 1), q2.transpose(1, 2)).transpose(0, 1)  # (T, M, H)
        d1 = back(g_s1, m1)
        if error_q is not None:
            d1 = error_q(d1)
        gq1 = torch.sparse.mm(x.t().to_sparse(), d1.reshape(n_t, -1)).reshape(self.sizes[0], m, self.sizes[1])
        gq1 = gq1.permute(1, 0, 2)
        # q = Q(u·L)·g/α with a straight-through Q: ∂q/∂u = L·g/α
        return loss, gq1 * self.lim1 * self.scale1, gq2 * self.lim2 * self.scale2, (s1, s2)
