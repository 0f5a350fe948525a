"""A seed fixes the ANN: its initial weights do not depend on what used the global RNG before."""

from __future__ import annotations

import numpy as np
import torch

from spikeforge.methods.layerwise.ann import build_model, train_model


def _weights(m: torch.nn.Module) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in m.parameters()]


def test_build_model_is_fixed_by_its_seed() -> None:
    a = _weights(build_model("mlp:16-8-3", 3, seed=5))
    torch.rand(100)  # consume the global RNG in between
    b = _weights(build_model("mlp:16-8-3", 3, seed=5))
    c = _weights(build_model("mlp:16-8-3", 3, seed=6))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_build_model_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    build_model("mlp:16-8-3", 3, seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_training_is_reproducible_whatever_ran_before() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 16)), rng.integers(0, 3, 64)
    runs = []
    for noise in (10, 1000):
        torch.rand(noise)
        m = train_model(build_model("mlp:16-8-3", 3, seed=2), x, y, epochs=2, batch=16, image_shape=(16,))
        runs.append(_weights(m))
    assert all(np.array_equal(p, q) for p, q in zip(*runs, strict=True))
