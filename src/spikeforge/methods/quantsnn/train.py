"""Training of the retention workload: surrogate-gradient BPTT, van Rossum loss, Adamax, WAGE weights.

All networks of a sweep (bit widths × seeds) are trained together as one batched population; they share
the frozen input and the target but nothing else (separate weights, separate Adamax state per weight).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from spikeforge.methods.quantsnn.model import QuantSNN, van_rossum_filter, wage_codes
from spikeforge.methods.quantsnn.target import poisson_input, smiley_raster


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of the retention task."""

    iterations: int = 600
    lr: float = 2e-3
    n_ticks: int = 250
    sizes: tuple[int, int, int] = (700, 400, 250)
    input_rate: float = 0.05
    input_seed: int = 0
    grad_bits: int = 8
    gain: tuple[float, float] = (1.0, 1.0)
    threads: int = 1


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


def _quantise_grad(g: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-network 8-bit gradient: scale by the max magnitude, round to ``2^{bits−1}−1`` levels."""
    levels = 2 ** (bits - 1) - 1
    m = g.abs().amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    return torch.round(g / m * levels) / levels * m


def train_population(bits: list[int], seeds: list[int], config: TrainConfig = TrainConfig(),
                     log_every: int = 0) -> list[TrainResult]:
    """Train one network per ``(bits[i], seeds[i])``; returns them in the same order."""
    torch.set_num_threads(config.threads)
    x = torch.from_numpy(poisson_input(config.sizes[0], config.n_ticks, config.input_rate, config.input_seed))
    target = torch.from_numpy(smiley_raster(config.sizes[2], config.n_ticks))
    tf = van_rossum_filter(target).unsqueeze(1)  # (T, 1, C)
    net = QuantSNN(bits, seeds, config.sizes, config.gain)
    opt = torch.optim.Adamax(net.parameters(), lr=config.lr)
    history: list[np.ndarray] = []
    t0 = time.time()
    initial = None
    for it in range(config.iterations):
        opt.zero_grad()
        _, out = net(x)
        per_net = ((van_rossum_filter(out) - tf) ** 2).sum(dim=(0, 2))  # D² per network
        if initial is None:
            initial = per_net.detach().sqrt().numpy()
        per_net.sum().backward()
        for w in (net.u1, net.u2):
            assert w.grad is not None
            w.grad.copy_(_quantise_grad(w.grad, config.grad_bits))
        opt.step()
        net.clip_()
        history.append(per_net.detach().sqrt().numpy())
        if log_every and (it % log_every == 0 or it == config.iterations - 1):
            print(f"  it {it:4d}  D = {np.round(history[-1], 2)}  ({time.time() - t0:.0f} s)", flush=True)
    with torch.no_grad():
        hid, out = net(x)
        final = ((van_rossum_filter(out) - tf) ** 2).sum(dim=(0, 2)).sqrt().numpy()
    results = []
    hist = np.array(history) if history else np.zeros((0, len(bits)))
    assert initial is not None or config.iterations == 0
    init = initial if initial is not None else final
    for m, (b, sd) in enumerate(zip(bits, seeds, strict=True)):
        codes = [wage_codes(net.w1[m].detach().numpy(), b), wage_codes(net.w2[m].detach().numpy(), b)]
        nnz = sum(int(np.count_nonzero(c)) for c in codes)
        total = sum(c.size for c in codes)
        results.append(TrainResult(b, sd, float(final[m]), float(init[m]), codes, nnz / total,
                                   hid[:, m].numpy().copy(), out[:, m].numpy().copy(),
                                   [float(v) for v in hist[:, m]]))
    return results
