"""Batched steps of the TrueNorth neuron shared by the simulator's general path and the metrics' replay.

Both hold the membrane as a float tensor of exact integers, in different layouts (the engine (C, B, N), the
replay (C, N, B)); every parameter here is a tensor that broadcasts against the membrane, so the functions
do not care which. The equations (Cassidy et al., IJCNN 2013, eqs. 2-4 and the reset table) are those of
:mod:`spikeforge.sim.reference`, which states them one neuron at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from spikeforge.deploy.deployment import Deployment
from spikeforge.sim import prng


@dataclass
class NeuronTensors:
    """Per-neuron parameters, each shaped to broadcast against the membrane (disabled neurons: inert values —
    no leak, α = +∞, β = 0, κ = 1)."""

    leak: torch.Tensor  # λ (float)
    leak_sign: torch.Tensor  # sgn λ (float)
    leak_abs: torch.Tensor  # |λ| where the leak is stochastic, −1 elsewhere (int64; −1 never reaches ρ ≥ 0)
    stochastic_leak: torch.Tensor  # c_j (bool)
    reversal: torch.Tensor  # ε_j (bool)
    alpha: torch.Tensor  # α (float, +∞ when disabled)
    beta: torch.Tensor  # β (float)
    reset: torch.Tensor  # R (float)
    mode: torch.Tensor  # γ (int64)
    kappa1: torch.Tensor  # κ = 1 (bool)
    mask: torch.Tensor  # M_j (int64)
    any_stochastic_leak: bool
    any_reversal: bool
    any_mask: bool

    @classmethod
    def of(cls, dep: Deployment, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> NeuronTensors:
        """The parameters of ``dep``'s (C, N) neurons reshaped to ``shape`` (e.g. (C, 1, N) or (C, N, 1))."""
        en = dep.enabled.astype(bool)

        def f(x: np.ndarray, fill: float = 0.0) -> torch.Tensor:
            return torch.from_numpy(np.where(en, x, fill).astype(np.float64)).to(device, dtype).reshape(shape)

        def i(x: np.ndarray, fill: int = 0) -> torch.Tensor:
            return torch.from_numpy(np.where(en, x, fill).astype(np.int64)).to(device).reshape(shape)

        sto = en & dep.stochastic_leak.astype(bool)
        rev = en & dep.leak_reversal.astype(bool)
        return cls(
            leak=f(dep.leak),
            leak_sign=f(np.sign(dep.leak)),
            leak_abs=i(np.where(sto, np.abs(dep.leak), -1), -1),
            stochastic_leak=i(sto) == 1,
            reversal=i(rev) == 1,
            alpha=f(dep.threshold, np.inf),
            beta=f(dep.neg_threshold),
            reset=f(dep.reset_value),
            mode=i(dep.reset_mode),
            kappa1=i(dep.floor_mode, 1) == 1,
            mask=i(dep.threshold_mask),
            any_stochastic_leak=bool(sto.any()),
            any_reversal=bool(rev.any()),
            any_mask=bool(np.any(dep.threshold_mask[en])),
        )


def leak_fire_reset(
    v: torch.Tensor, p: NeuronTensors, vmin: int, vmax: int, *, leak_draw: torch.Tensor | None = None,
    threshold_draw: torch.Tensor | None = None,
) -> torch.Tensor:
    """Steps 2-4 on the integrated membrane ``v`` (updated in place); returns where neurons fired (bool).

    * leak: V ← sat(V + Ω·ℓ), Ω = sgn V where ε_j else 1, ℓ = sgn(λ)·[|λ| ≥ ρ] where c_j else λ;
    * fire where V ≥ α + η, η = ρ_T & M_j; reset γ = 0: V ← R, γ = 1: V ← V − (α + η), γ = 2: V;
    * otherwise κ = 1: V ← −β where V < −β; κ = 0, where V < −(β + η): γ = 0: V ← −R, γ = 1: V ← V + (β + η),
      γ = 2: V.

    ``leak_draw`` / ``threshold_draw`` are the 32-bit draws (:func:`spikeforge.sim.prng.draw`) of the leak and
    threshold streams, needed only when some neuron uses those modes.
    """
    v.clamp_(vmin, vmax)
    lam = p.leak
    if p.any_stochastic_leak:
        assert leak_draw is not None
        lam = torch.where(p.stochastic_leak, p.leak_sign * (p.leak_abs >= prng.prn8(leak_draw)), p.leak)
    if p.any_reversal:
        lam = lam * torch.where(p.reversal, torch.sign(v), torch.ones_like(v))
    v.add_(lam).clamp_(vmin, vmax)
    if p.any_mask:
        assert threshold_draw is not None
        eta = (threshold_draw & p.mask).to(v.dtype)
    else:
        eta = torch.zeros((), dtype=v.dtype, device=v.device)
    thr = p.alpha + eta
    fired = v >= thr
    g = p.mode
    low = ~fired & (v < torch.where(p.kappa1, -p.beta, -(p.beta + eta)))
    v_fire = torch.where(g == 0, p.reset, torch.where(g == 1, v - thr, v))
    v_low = torch.where(p.kappa1, -p.beta, torch.where(g == 0, -p.reset, torch.where(g == 1, v + p.beta + eta, v)))
    v.copy_(torch.where(fired, v_fire, torch.where(low, v_low, v)))
    return fired


class StochasticSynapses:
    """The stochastic synapses of one core (b_j^{G_i} = 1 and w_ij ≠ 0 at an enabled neuron), stored by axon,
    so that a tick costs one draw per synaptic event, not one per (axon, neuron) pair."""

    def __init__(self, dep: Deployment, core: int, seed: int, device: torch.device) -> None:
        en = dep.enabled[core].astype(bool)
        types = dep.axon_type[core].astype(np.intp)
        s_c = np.asarray(dep.weights[core], np.int64)[:, types].T  # (A, N): s_j[G_i]
        m = np.asarray(dep.stochastic_synapse[core], bool)[:, types].T & (dep.crossbar[core] != 0) & en[None, :]
        axon, neuron = np.nonzero(m)  # row-major: sorted by axon
        a_n = m.shape[0]
        t = lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(device)  # noqa: E731
        self.n_neurons = m.shape[1]
        self.ptr = t(np.concatenate([[0], np.cumsum(np.bincount(axon, minlength=a_n))]).astype(np.int64))
        self.neuron = t(neuron.astype(np.int64))
        site = prng.site_key(seed, prng.STREAM_SYNAPSE, core, self.neuron, t(axon.astype(np.int64)))
        # per synapse, in the narrowest types (a tick gathers them per event): the site key's 32 bits as int32,
        # |s| (≤ 255), w·sgn s, the neuron
        self.site = prng.to_i32(site)
        self.mag = t(np.abs(s_c[axon, neuron]).astype(np.int32))
        self.sign = t((dep.crossbar[core][axon, neuron] * np.sign(s_c[axon, neuron])).astype(np.float64))
        self.neuron32 = self.neuron.to(torch.int32)

    def drive(self, active: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Σ_i A_i · w_ij · sgn(s_j[G_i]) · [|s_j[G_i]| ≥ ρ_ij] over the core's stochastic synapses, (B, N)
        float64, for ``active`` (B, A) axon drives and ``keys`` (B,) time keys; ρ_ij is the 8-bit draw of
        (input, tick, core, neuron j, axon i)."""
        b_n = active.shape[0]
        out = torch.zeros(b_n * self.n_neurons, dtype=torch.float64, device=active.device)
        b_idx, a_idx = torch.nonzero(active != 0, as_tuple=True)
        first = torch.index_select(self.ptr, 0, a_idx)
        counts = torch.index_select(self.ptr, 0, a_idx + 1) - first
        total = int(counts.sum())
        if total == 0:
            return out.view(b_n, self.n_neurons)
        pair = torch.repeat_interleave(torch.arange(len(a_idx), device=active.device), counts)  # event → pair
        offset = torch.index_select(first - (torch.cumsum(counts, 0) - counts), 0, pair)
        syn = offset + torch.arange(total, device=active.device)  # event → synapse
        b_ev = torch.index_select(b_idx, 0, pair)
        # ρ = top byte of mix32(site ^ time), in int32 (prng.draw's numbers, computed narrow and in place)
        h = torch.index_select(self.site, 0, syn).bitwise_xor_(torch.index_select(prng.to_i32(keys), 0, b_ev))
        rho8 = prng.mix32_i32_(h).bitwise_right_shift_(24).bitwise_and_(0xFF)
        hit = torch.index_select(self.mag, 0, syn).ge_(rho8)
        val = torch.index_select(self.sign, 0, syn).mul_(hit)
        out.index_add_(0, b_ev.mul_(self.n_neurons).add_(torch.index_select(self.neuron32, 0, syn)), val)
        return out.view(b_n, self.n_neurons)
