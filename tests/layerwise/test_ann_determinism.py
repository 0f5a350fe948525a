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


def test_training_logs_one_line_per_epoch_without_changing_the_model() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 64)).astype(np.float32), rng.integers(0, 10, 64)
    quiet = train_model(build_model("mlp:64-10", seed=1), x, y, epochs=2, seed=3, image_shape=(1, 8, 8))
    lines: list[str] = []
    logged = train_model(build_model("mlp:64-10", seed=1), x, y, epochs=2, seed=3, image_shape=(1, 8, 8),
                         log=lines.append)
    assert [line.split()[:2] for line in lines] == [["ANN", "epoch"], ["ANN", "epoch"]]
    assert lines[0].startswith("ANN epoch 1/2  loss=") and lines[1].startswith("ANN epoch 2/2  loss=")
    for a, b in zip(quiet.state_dict().values(), logged.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_conversion_shows_the_ann_it_approximates() -> None:
    from spikeforge.cli import _results_rows

    base = {"dataset": "mnist", "n_inputs": 10, "accuracy": 0.97, "cores": 3, "chips": 1, "regime": "sequential",
            "ticks_per_input": 16, "latency_ticks": 2, "uJ_per_image": 1.0, "mW": 1.0, "fps": 50.0, "fps_per_W": 5.0}
    rows = dict(_results_rows({**base, "ann_accuracy": 0.98, "agreement": 0.985}))
    assert rows["ANN accuracy (converted from)"] == "98.00 %" and rows["agreement with the ANN"] == "98.50 %"
    assert "ANN accuracy (converted from)" not in dict(_results_rows(base))
