"""Bad input to the simulator is refused with a ValueError that says what is wrong."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import MEMORYLESS, blank, inputs, neuron, tiny_chip
from spikeforge.deploy import Deployment
from spikeforge.sim import simulate, simulate_pipelined


def net() -> Deployment:
    d = blank(tiny_chip(3, 1), n_inputs=3)
    d.crossbar[0, :, 0] = 1
    neuron(d, 0, 0, weights=[1], **MEMORYLESS)
    inputs(d, (0, 0, 0), (1, 0, 1), (2, 0, 2))
    return d.normalised()


@pytest.mark.parametrize("sim", [simulate, simulate_pipelined])
@pytest.mark.parametrize(
    ("spikes", "message"),
    [
        (np.zeros((2, 1, 4), np.uint8), "4 channels, the deployment's input map expects 3"),
        (np.zeros((2, 1, 2), np.uint8), "2 channels, the deployment's input map expects 3"),
        (np.full((2, 1, 3), 2, np.uint8), "must be 0 or 1"),
        (np.full((2, 1, 3), -1, np.int64), "must be 0 or 1"),
        (np.full((2, 1, 3), 0.5), "must be 0 or 1"),
        (np.array([[[0.0, np.nan, 1.0]]]), "NaN or infinity"),
        (np.array([[[0.0, np.inf, 1.0]]]), "NaN or infinity"),
        (np.zeros((3,), np.uint8), r"shape \(batch, ticks, channels\)"),
        (np.zeros((1, 1, 1, 3), np.uint8), r"shape \(batch, ticks, channels\)"),
    ],
)
def test_bad_spikes_raise_value_error(sim: object, spikes: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sim(net(), spikes, device="cpu")  # type: ignore[operator]


def test_good_spikes_in_any_dtype_are_accepted() -> None:
    d = net()
    want = simulate(d, np.array([[[1, 0, 1]]], np.uint8), device="cpu").counts.spikes
    for x in (np.array([[[True, False, True]]]), np.array([[[1.0, 0.0, 1.0]]]), torch.tensor([[[1, 0, 1]]])):
        np.testing.assert_array_equal(simulate(d, x, device="cpu").counts.spikes, want)
    # a 2-D (batch, channels) array is one tick
    np.testing.assert_array_equal(simulate(d, np.array([[1, 0, 1]]), device="cpu").counts.spikes, want)


def test_ticks_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ticks must be >= 1"):
        simulate(net(), np.zeros((1, 1, 3), np.uint8), ticks=0, device="cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize(("device", "message"), [("cuda", "is not available"), ("cuda:1", "is not available"),
                                                 ("gpu", "unknown device 'gpu'")])
def test_unusable_device_is_named(device: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        simulate(net(), np.zeros((1, 1, 3), np.uint8), device=device)
