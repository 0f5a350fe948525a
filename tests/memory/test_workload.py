"""van Rossum distance, WAGE quantiser levels, the target raster and a tiny training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikeforge.energy.memory import quantise_codes
from spikeforge.methods.quantsnn import (
    QuantSNN,
    TrainConfig,
    smiley_raster,
    superspike,
    train_population,
    van_rossum_distance,
    van_rossum_filter,
    wage_codes,
    wage_quantise,
    wage_sigma,
)
from spikeforge.methods.quantsnn.model import wage_alpha, wage_init_limit
from spikeforge.methods.quantsnn.train import quantise_error, quantise_grad


def test_van_rossum_hand_example() -> None:
    a = np.array([[1.0], [0.0], [0.0]])
    b = np.zeros((3, 1))
    # filtered a: 1, 0.75, 0.5625
    assert van_rossum_distance(a, b) == pytest.approx(np.sqrt(1 + 0.75**2 + 0.5625**2))
    c = np.array([[0.0], [1.0], [0.0]])
    # a − c filtered: 1, 0.75 − 1, 0.5625 − 0.75
    assert van_rossum_distance(a, c) == pytest.approx(np.sqrt(1 + 0.25**2 + 0.1875**2))
    assert van_rossum_distance(a, a) == 0.0


def test_wage_levels() -> None:
    assert wage_sigma(2) == 0.5 and wage_sigma(5) == 1 / 16
    w = torch.tensor([-0.9, -0.3, -0.2, 0.0, 0.24, 0.26, 0.8])
    q = wage_quantise(w, wage_sigma(2))
    assert q.tolist() == [-0.5, -0.5, 0.0, 0.0, 0.0, 0.5, 0.5]  # 3 levels, clipped to ±(1−σ)
    assert wage_codes(w.numpy(), 2).tolist() == [-1, -1, 0, 0, 0, 1, 1]
    levels = np.unique(wage_codes(np.linspace(-1, 1, 1001), 5))
    assert levels.min() == -15 and levels.max() == 15 and len(levels) == 31
    w.requires_grad_(True)
    wage_quantise(w, 0.5).sum().backward()
    assert torch.all(w.grad == 1)  # straight-through


def test_quantise_codes() -> None:
    assert quantise_codes(np.array([-1.0, 0.2, 0.5]), 3).tolist() == [-3, 1, 2]
    assert quantise_codes(np.array([-1.0, 0.2]), 1).tolist() == [0, 1]


def test_superspike_gradient() -> None:
    v = torch.tensor([-0.01, 0.0, 0.02], requires_grad=True)
    s = superspike(v)
    assert s.tolist() == [0.0, 0.0, 1.0]
    s.sum().backward()
    assert v.grad.tolist() == pytest.approx([1 / 2**2, 1.0, 1 / 3**2])


def test_target_is_deterministic() -> None:
    t = smiley_raster()
    assert t.shape == (250, 250) and set(np.unique(t)) == {0.0, 1.0}
    assert np.array_equal(t, smiley_raster()) and 0.01 < t.mean() < 0.1


def test_tiny_training_runs() -> None:
    cfg = TrainConfig(iterations=2, n_ticks=20, sizes=(30, 20, 10))
    res = train_population([2, 4], [0, 1], cfg)
    assert [r.bits for r in res] == [2, 4]
    for r in res:
        assert r.codes[0].shape == (30, 20) and r.codes[1].shape == (20, 10)
        assert np.abs(r.codes[0]).max() <= 2 ** (r.bits - 1) - 1
        assert 0 <= r.density <= 1 and np.isfinite(r.vr_distance)
        assert len(r.loss_history) == 2 and r.vr_initial == r.loss_history[0]


def test_small_training_learns() -> None:
    # an 80-tick, 100 → 60 → 30 version of the task (measured: 86.5 → 56.4 at 2 bits, → 44.6 at 5 bits)
    cfg = TrainConfig(iterations=150, n_ticks=80, sizes=(100, 60, 30), lr=0.05, gain=(0.5, 0.3), input_rate=0.1)
    res = train_population([2, 5], [0, 0], cfg)
    for r in res:
        assert r.vr_distance < 0.7 * r.vr_initial
    assert res[1].vr_distance < res[0].vr_distance


def test_init_range_and_densities() -> None:
    # authors' range L = 1 − σ/2: a fraction σ/(2L) of the codes starts at zero
    assert wage_init_limit(2, 700) == 0.75 and wage_init_limit(5, 400) == 1 - 1 / 32
    assert wage_alpha(2, 700) == 8.0  # 2^round(log2(0.75 / sqrt(6/700))) = 2^round(3.02)
    net = QuantSNN([2, 3, 5, 6], [0, 0, 0, 0], (700, 400, 250))
    for m, b in enumerate([2, 3, 5, 6]):
        codes = wage_codes(net.w1[m].detach().numpy(), b)
        sigma = wage_sigma(b)
        expect = 1 - sigma / (2 * (1 - sigma / 2))  # 2/3, 6/7, 30/31, 62/63
        assert np.count_nonzero(codes) / codes.size == pytest.approx(expect, abs=0.004)
    # the same seed gives the same uniform shadow weights at every width
    assert torch.equal(net.u1[0], net.u1[3])


def test_explicit_bptt_equals_autograd() -> None:
    torch.manual_seed(0)
    n_t, sizes = 40, (30, 20, 10)
    x = (torch.rand(n_t, 30) < 0.2).float()
    tf = van_rossum_filter((torch.rand(n_t, 10) < 0.1).float()).unsqueeze(1)
    net = QuantSNN([2, 5], [0, 1], sizes, (2.0, 2.0))
    _, out = net(x)
    loss = ((van_rossum_filter(out) - tf) ** 2).sum(dim=(0, 2))
    loss.sum().backward()
    d2, g1, g2, (_hid, out2) = net.bptt(x, tf)
    assert out.sum() > 0 and torch.equal(out.detach(), out2)
    assert torch.allclose(loss.detach(), d2)
    assert net.u1.grad is not None and net.u2.grad is not None
    assert torch.allclose(net.u1.grad, g1, rtol=1e-4, atol=1e-5)
    assert torch.allclose(net.u2.grad, g2, rtol=1e-4, atol=1e-5)
    assert g1.abs().sum() > 0


def test_error_quantiser() -> None:
    d = torch.tensor([0.3, -0.01, 0.0008, 0.0005]).view(4, 1, 1)  # (T, M, N); max 0.3 -> s = 2^-2
    q = quantise_error(d, 8)
    unit = 0.25 * 2.0**-7  # s·σ
    # 0.3/unit = 153.6 -> clipped to 127; -0.01/unit = -5.12 -> -5; 0.41 and 0.26 -> 0
    assert q.flatten().tolist() == [127 * unit, -5 * unit, 0.0, 0.0]
    # round-to-nearest loses the small errors; stochastic rounding keeps them in expectation
    g = torch.Generator().manual_seed(0)
    mean = torch.stack([quantise_error(d, 8, g) for _ in range(4000)]).mean(0).flatten()
    assert mean[2].item() == pytest.approx(0.0008, rel=0.15)
    assert mean[1].item() == pytest.approx(-0.01, rel=0.05)


def test_grad_quantiser_unbiased() -> None:
    g = torch.tensor([[1.0, 0.001, -0.3]]).view(1, 1, 3)
    gen = torch.Generator().manual_seed(0)
    q = torch.stack([quantise_grad(g, 8, gen) for _ in range(4000)]).mean(0).flatten()
    assert q[0].item() == 1.0  # the maximum is exact
    assert q[1].item() == pytest.approx(0.001, rel=0.3)
    assert q[2].item() == pytest.approx(-0.3, rel=0.01)
    levels = quantise_grad(g, 8, gen).flatten() * 127
    assert torch.allclose(levels, torch.round(levels))  # 8-bit levels of the maximum
