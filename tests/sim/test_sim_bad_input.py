"""Bad input to the simulator is refused with a ValueError that says what is wrong."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import MEMORYLESS, SIM_DEVICE, blank, inputs, neuron, tiny_chip
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
        (np.array([[[0, 1, 1]]], np.complex64), "must be real 0/1 values"),
        (np.zeros((3,), np.uint8), r"shape \(batch, ticks, channels\)"),
        (np.zeros((1, 1, 1, 3), np.uint8), r"shape \(batch, ticks, channels\)"),
    ],
)
def test_bad_spikes_raise_value_error(sim: object, spikes: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sim(net(), spikes, device=SIM_DEVICE)  # type: ignore[operator]


def test_good_spikes_in_any_dtype_are_accepted() -> None:
    d = net()
    want = simulate(d, np.array([[[1, 0, 1]]], np.uint8), device=SIM_DEVICE).counts.spikes
    for x in (np.array([[[True, False, True]]]), np.array([[[1.0, 0.0, 1.0]]]), torch.tensor([[[1, 0, 1]]]),
              np.array([[[1, 0, 1]]], np.uint16), np.array([[[1, 0, 1]]], np.uint64)):
        np.testing.assert_array_equal(simulate(d, x, device=SIM_DEVICE).counts.spikes, want)
    # a 2-D (batch, channels) array is one tick
    np.testing.assert_array_equal(simulate(d, np.array([[1, 0, 1]]), device=SIM_DEVICE).counts.spikes, want)


@pytest.mark.parametrize("ticks", [0, -1, 2.5, True])
def test_ticks_must_be_a_positive_integer(ticks: object) -> None:
    with pytest.raises(ValueError, match="ticks must be an integer >= 1"):
        simulate(net(), np.zeros((1, 1, 3), np.uint8), ticks=ticks, device=SIM_DEVICE)  # type: ignore[arg-type]


def test_ticks_shorter_than_the_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match=r"ticks=2 is shorter than the inputs' 5 ticks: their last 3"):
        simulate(net(), np.zeros((1, 5, 3), np.uint8), ticks=2, device=SIM_DEVICE)


def test_uint_spikes_out_of_range_are_refused() -> None:
    for x in (np.full((1, 1, 3), 2, np.uint16), np.full((1, 1, 3), 2**64 - 1, np.uint64)):
        with pytest.raises(ValueError, match="must be 0 or 1"):
            simulate(net(), x, device=SIM_DEVICE)


def test_a_deployment_breaking_its_chips_rules_is_not_simulated() -> None:
    from spikeforge.hardware import DesignRuleError
    from spikeforge.sim import CompiledDeployment

    d = net()
    d.leak[0, 0] = 10_000  # beyond the chip's leak range: the chip cannot hold it
    with pytest.raises(DesignRuleError, match="LEAK-RANGE"):
        simulate(d, np.zeros((1, 1, 3), np.uint8), device=SIM_DEVICE)
    # beyond the chip's limits on purpose: allowed with check_rules=False ...
    r = simulate(CompiledDeployment(d, "cpu", check_rules=False), np.zeros((1, 1, 3), np.uint8))
    assert r.counts.spikes.sum() == 1  # leak 10 000 ≥ 0: the memoryless neuron fires
    # ... but never with a reference the simulator would follow out of range
    d.axon_type[0, 1] = -1
    with pytest.raises(DesignRuleError, match=r"AXON-TYPE.*core 0 axon 1: value -1"):
        CompiledDeployment(d, "cpu", check_rules=False)
    d = net()
    d.dest_core[0, 0], d.dest_axon[0, 0], d.dest_delay[0, 0] = 0, 0, 0
    with pytest.raises(DesignRuleError, match=r"DELAY-RANGE.*at least 1 tick"):
        CompiledDeployment(d, "cpu", check_rules=False)


def test_a_deployment_without_cores_is_refused() -> None:
    d = Deployment.empty(tiny_chip(3, 1), 0, 3, 1)
    with pytest.raises(ValueError, match="no cores"):
        simulate(d, np.zeros((1, 1, 3), np.uint8), device=SIM_DEVICE)


@pytest.mark.parametrize("labels", [np.array(["0"]), np.array([1]), np.array([-1]), np.array([0.5])])
def test_accuracy_refuses_labels_outside_the_classes(labels: np.ndarray) -> None:
    r = simulate(net(), np.zeros((1, 1, 3), np.uint8), device=SIM_DEVICE)
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 1\)"):
        r.accuracy(labels)
    assert r.accuracy(np.array([0])) == 1.0


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
        simulate(net(), x, batch_size=bad, device=SIM_DEVICE)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lanes must be an integer >= 1"):
        simulate_pipelined(net(), x, lanes=bad, device=SIM_DEVICE)  # type: ignore[arg-type]
    from spikeforge.evaluate import run_simulation

    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        run_simulation(net(), x, regime="pipelined", batch_size=bad)  # type: ignore[arg-type]


def test_empty_batches_and_lists() -> None:
    d = net()
    for sim in (simulate, simulate_pipelined):
        r = sim(d, np.zeros((0, 1, 3), np.uint8), device=SIM_DEVICE)  # type: ignore[operator]
        assert r.class_counts.shape == (0, 1) and r.counts.batch == 0
        # a nested list reads as its array
        np.testing.assert_array_equal(sim(d, [[[1, 1, 0]]], device=SIM_DEVICE).class_counts,  # type: ignore[operator]
                                      sim(d, np.array([[[1, 1, 0]]], np.uint8), device=SIM_DEVICE).class_counts)  # type: ignore[operator]


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
        simulate_pipelined(d.normalised(), np.ones((2, 1, 1), np.uint8), device=SIM_DEVICE)
