"""van Rossum distance, WAGE quantiser levels, the target raster and a tiny training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikeforge.energy.memory import quantise_codes
from spikeforge.methods.quantsnn import (
    TrainConfig,
    smiley_raster,
    superspike,
    train_population,
    van_rossum_distance,
    wage_codes,
    wage_quantise,
    wage_sigma,
)


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
