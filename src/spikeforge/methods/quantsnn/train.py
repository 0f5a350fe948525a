"""Training of the retention workload: surrogate-gradient BPTT, van Rossum loss, Adamax, WAGE quantisation.

All networks of a sweep (bit widths × seeds) are trained together as one batched population; they share
the frozen input and the target but nothing else (separate weights, separate Adamax state per weight).

One iteration (Schaefer et al. 2020, authors' code; WAGE, Wu et al. ICLR 2018):

1. forward with the quantised weights ``Q(w)`` (:class:`~spikeforge.methods.quantsnn.model.QuantSNN`);
2. explicit BPTT of ``D²`` (:meth:`QuantSNN.bptt`); the error ``δ`` at each layer's input current is
   quantised to ``error_bits`` (WAGE's E: ``δ ↦ s·σ_E·round(δ/(s·σ_E))`` with ``s = 2^round(log2 max|δ|)``
   per network and ``σ_E = 2^{1−error_bits}``, clipped to ``±s(1−σ_E)``) before it forms the weight gradient
   and goes back to the layer below;
3. the weight gradient is quantised to ``grad_bits`` (WAGE's G: scaled by its per-network maximum, rounded
   *stochastically* to ``2^{grad_bits−1}−1`` levels so that small gradients survive in expectation);
4. one Adamax step on ``u = w/L`` (the authors' optimiser), then shadow weights clipped to ``±(1−σ)``.

Activations are binary spikes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from spikeforge.methods.quantsnn.model import QuantSNN, van_rossum_filter, wage_codes
from spikeforge.methods.quantsnn.target import poisson_input, smiley_raster
from spikeforge.threads import torch_threads


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of the retention task."""

    iterations: int = 600
    lr: float = 2e-3
    betas: tuple[float, float] = (0.9, 0.99)
    n_ticks: int = 250
    sizes: tuple[int, int, int] = (700, 400, 250)
    input_rate: float = 0.05
    input_seed: int = 0
    grad_bits: int = 8
    error_bits: int | None = 8
    error_rounding: str = "stochastic"  # or "nearest" (WAGE)
    gain: tuple[float, float] = (1.0, 1.0)
    threads: int = 1
    quant_seed: int = 0


@dataclass
class TrainResult:
    """One trained network."""

    bits: int
    seed: int
    vr_distance: float
    vr_initial: float
    codes: list[np.ndarray]  # integer weight codes per layer (n_in, n_out)
    density: float
    hidden_spikes: np.ndarray  # (T, n_hid) of the final network
    output_spikes: np.ndarray  # (T, n_out)
    loss_history: list[float] = field(default_factory=list)


def _per_net_max(g: torch.Tensor) -> torch.Tensor:
    """Maximum magnitude per network (dim 1 of ``(T, M, N)`` tensors, dim 0 of ``(M, ...)`` ones)."""
    return g.abs().amax(dim=tuple(d for d in range(g.ndim) if d != (1 if g.ndim == 3 else 0)), keepdim=True)


def _round(y: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Round to the nearest integer, or stochastically (``⌊y⌋ + Bernoulli(y − ⌊y⌋)``, unbiased) when a
    generator is given."""
    if generator is None:
        return torch.round(y)
    lo = torch.floor(y)
    return lo + (torch.rand(y.shape, generator=generator) < (y - lo)).to(y.dtype)


def quantise_error(d: torch.Tensor, bits: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """WAGE error quantiser of a ``(T, M, N)`` error: per network ``s = 2^round(log2 max|δ|)``,
    ``s·clip(σ·R(δ/(s·σ)), −1+σ, 1−σ)`` with ``σ = 2^{1−bits}`` and ``R`` round-to-nearest (WAGE) or
    stochastic rounding (``generator`` given); all-zero networks stay zero."""
    sigma = 2.0 ** (1 - bits)
    m = _per_net_max(d)
    s = torch.where(m > 0, torch.exp2(torch.round(torch.log2(m.clamp_min(1e-30)))), torch.ones_like(m))
    return s * torch.clamp(_round(d / (s * sigma), generator) * sigma, -1 + sigma, 1 - sigma)


def quantise_grad(g: torch.Tensor, bits: int, generator: torch.Generator) -> torch.Tensor:
    """``bits``-bit gradient ``(M, ...)``: scaled by the per-network maximum to ``L = 2^{bits−1}−1`` levels
    and rounded stochastically (``⌊y⌋ + Bernoulli(y − ⌊y⌋)``, unbiased)."""
    levels = 2 ** (bits - 1) - 1
    m = _per_net_max(g).clamp_min(1e-30)
    return _round(g / m * levels, generator) / levels * m


def train_population(bits: list[int], seeds: list[int], config: TrainConfig = TrainConfig(),
                     log_every: int = 0) -> list[TrainResult]:
    """Train one network per ``(bits[i], seeds[i])``; returns them in the same order (with
    ``config.threads`` PyTorch threads; the process's count is restored after)."""
    with torch_threads(config.threads):
        return _train_population(bits, seeds, config, log_every)


def _train_population(bits: list[int], seeds: list[int], config: TrainConfig, log_every: int) -> list[TrainResult]:
    x = torch.from_numpy(poisson_input(config.sizes[0], config.n_ticks, config.input_rate, config.input_seed))
    target = torch.from_numpy(smiley_raster(config.sizes[2], config.n_ticks))
    tf = van_rossum_filter(target).unsqueeze(1)  # (T, 1, C)
    net = QuantSNN(bits, seeds, config.sizes, config.gain)
    opt = torch.optim.Adamax(net.parameters(), lr=config.lr, betas=config.betas)
    gen = torch.Generator().manual_seed(config.quant_seed)
    eb = config.error_bits

    egen = gen if config.error_rounding == "stochastic" else None

    def err_q(d: torch.Tensor) -> torch.Tensor:
        return quantise_error(d, eb, egen) if eb is not None else d

    history: list[np.ndarray] = []
    t0 = time.time()
    for it in range(config.iterations):
        loss, g1, g2, _ = net.bptt(x, tf, err_q)
        history.append(loss.sqrt().numpy())
        net.u1.grad = quantise_grad(g1, config.grad_bits, gen)
        net.u2.grad = quantise_grad(g2, config.grad_bits, gen)
        opt.step()
        net.clip_()
        if log_every and (it % log_every == 0 or it == config.iterations - 1):
            print(f"  it {it:4d}  D = {np.round(history[-1], 1)}  ({time.time() - t0:.0f} s)", flush=True)
    hid, _, out, _ = net.simulate(x)
    final = ((van_rossum_filter(out) - tf) ** 2).sum(dim=(0, 2)).sqrt().numpy()
    init = history[0] if history else final
    hist = np.array(history) if history else np.zeros((0, len(bits)))
    results = []
    for m, (b, sd) in enumerate(zip(bits, seeds, strict=True)):
        codes = [wage_codes(net.w1[m].detach().numpy(), b), wage_codes(net.w2[m].detach().numpy(), b)]
        nnz = sum(int(np.count_nonzero(c)) for c in codes)
        total = sum(c.size for c in codes)
        results.append(TrainResult(b, sd, float(final[m]), float(init[m]), codes, nnz / total,
                                   hid[:, m].numpy().copy(), out[:, m].numpy().copy(),
                                   [float(v) for v in hist[:, m]]))
    return results
