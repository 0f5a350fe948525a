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


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_batch_sizes_and_lanes_must_be_positive_integers(bad: object) -> None:
    x = np.ones((4, 1, 3), np.uint8)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        simulate(net(), x, batch_size=bad, device="cpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lanes must be an integer >= 1"):
        simulate_pipelined(net(), x, lanes=bad, device="cpu")  # type: ignore[arg-type]
    from spikeforge.evaluate import run_simulation

    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        run_simulation(net(), x, regime="pipelined", batch_size=bad)  # type: ignore[arg-type]


def test_empty_batches_and_lists() -> None:
    d = net()
    for sim in (simulate, simulate_pipelined):
        r = sim(d, np.zeros((0, 1, 3), np.uint8), device="cpu")  # type: ignore[operator]
        assert r.class_counts.shape == (0, 1) and r.counts.batch == 0
        # a nested list reads as its array
        np.testing.assert_array_equal(sim(d, [[[1, 1, 0]]], device="cpu").class_counts,  # type: ignore[operator]
                                      sim(d, np.array([[[1, 1, 0]]], np.uint8), device="cpu").class_counts)  # type: ignore[operator]


def test_inputs_of_another_length_than_the_deployment_takes_warn() -> None:
    """A deployment built for 3 ticks per input fed one-tick spikes (another encoder) gives another answer:
    evaluating says so instead of quietly reporting it."""
    import warnings

    from spikeforge.evaluate import InputTicksWarning, run_simulation

    d = net()
    d.ticks_per_input = 3
    d.provenance["encoding"] = {"kind": "regular", "ticks": 3}
    with pytest.warns(InputTicksWarning, match=r"span 1 tick\(s\) per input but the deployment takes 3 .*'regular'"):
        run_simulation(d, np.ones((2, 1, 3), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_simulation(d, np.ones((2, 3, 3), np.uint8))


def test_pipelining_a_stateful_deployment_warns_at_the_simulator_too() -> None:
    from spikeforge.sim.engine import StatefulPipelineWarning

    d = blank(tiny_chip(1, 1), n_inputs=1)
    d.crossbar[0, 0, 0] = 1
    neuron(d, 0, 0, weights=[1], threshold=2, reset_mode=1)
    inputs(d, (0, 0, 0))
    with pytest.warns(StatefulPipelineWarning, match="hold state between ticks"):
        simulate_pipelined(d.normalised(), np.ones((2, 1, 1), np.uint8), device="cpu")
