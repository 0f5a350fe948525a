"""The ``auto`` regime: streamed (pipelined) only where that cannot change what a fresh network computes."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import MEMORYLESS, blank, inputs, neuron, outputs, tiny_chip
from spikeforge.deploy import Deployment
from spikeforge.evaluate import StatefulPipelineWarning, choose_regime, run_simulation
from spikeforge.hardware import check
from spikeforge.sim import CompiledDeployment


def integrator(**params: int) -> Deployment:
    """One core, one input axon → neuron 0 (weight 1) → class 0; neuron 0 has ``params`` over MEMORYLESS.
    Neuron 3 is disabled but stateful (threshold 5): disabled neurons do not count."""
    d = blank(tiny_chip(4, 4, membrane_bits=10), n_inputs=1, n_classes=1)
    d.crossbar[0, 0, 0] = 1
    neuron(d, 0, 0, weights=[1, 0, 0, 0], leak=0, **{**MEMORYLESS, **params})
    d.threshold[0, 3] = 5
    inputs(d, (0, 0, 0))
    outputs(d, (0, 0, 0))
    d = d.normalised()
    check(d)
    return d


def test_memoryless_property() -> None:
    assert Deployment.empty(tiny_chip(), 2, 1, 1).memoryless
    assert integrator().memoryless
    for params in ({"threshold": 2, "reset_mode": 1}, {"neg_threshold": 1}, {"reset_mode": 2},
                   {"v_init": 1}, {"reset_value": 0, "threshold": 1}):
        assert not integrator(**params).memoryless, params


def test_auto_streams_only_memoryless_layer_synchronous_networks() -> None:
    assert choose_regime(CompiledDeployment(integrator())) == "pipelined"
    assert choose_regime(CompiledDeployment(integrator(threshold=2, reset_mode=1))) == "sequential"
    assert choose_regime(CompiledDeployment(integrator(v_init=1))) == "sequential"
    for forced in ("sequential", "pipelined"):
        assert choose_regime(CompiledDeployment(integrator(threshold=2, reset_mode=1)), forced) == forced
    with pytest.raises(ValueError, match="regime must be"):
        choose_regime(CompiledDeployment(integrator()), "streamed")  # type: ignore[arg-type]


def test_auto_keeps_an_integrators_inputs_apart() -> None:
    """Threshold 2, linear reset, one input spike per input (one tick each). On a fresh network the neuron
    reaches V = 1 and never fires; streamed, the residue adds up and it fires on every second input."""
    d = integrator(threshold=2, reset_mode=1)
    spikes = np.ones((6, 1, 1), np.uint8)
    seq, _ = run_simulation(d, spikes, regime="sequential")
    with pytest.warns(StatefulPipelineWarning, match="hold state between ticks"):
        pipe, _ = run_simulation(d, spikes, regime="pipelined", batch_size=1)  # one lane: inputs back to back
    np.testing.assert_array_equal(seq.class_counts[:, 0], [0, 0, 0, 0, 0, 0])
    assert pipe.class_counts[:, 0].sum() == 3  # what streaming would wrongly report
    auto, used = run_simulation(d, spikes, batch_size=1)
    assert used == "sequential"
    np.testing.assert_array_equal(auto.class_counts, seq.class_counts)


def test_memoryless_pipeline_does_not_warn() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_simulation(integrator(), np.ones((3, 1, 1), np.uint8), regime="pipelined")


def test_summarise_run_checks_its_inputs() -> None:
    from spikeforge.evaluate import summarise_run

    d = integrator()
    res, used = run_simulation(d, np.ones((3, 1, 1), np.uint8))
    with pytest.raises(ValueError, match="3 simulated inputs but 2 labels"):
        summarise_run(d, res, used, np.zeros(2, int))
    with pytest.raises(ValueError, match="regime must be"):
        summarise_run(d, res, "auto", np.zeros(3, int))  # type: ignore[arg-type]


def test_labels_outside_the_deployments_classes_are_refused() -> None:
    from spikeforge.evaluate import summarise_run

    d = integrator()
    r, used = run_simulation(d, np.ones((3, 1, 1), np.uint8))
    for bad in ([0, 0, d.n_classes], [0, -1, 0], [0.0, 0.5, 0.0]):
        with pytest.raises(ValueError, match=rf"labels must be integers in \[0, {d.n_classes}\)"):
            summarise_run(d, r, used, np.array(bad))


def test_a_deployment_without_outputs_is_not_scored() -> None:
    from spikeforge.evaluate import evaluate_deployment

    d = integrator()
    d.output_core = d.output_neuron = d.output_class = np.zeros(0, np.int32)
    with pytest.raises(ValueError, match="no output neurons"):
        evaluate_deployment(d, np.ones((3, 1, 1), np.uint8), np.zeros(3, int))
