"""NeuronParams / Deployment.set_neurons: every field lands where it should, bad values are refused with the
reason, and the named configurations behave as their docstrings say (checked on the engine and the reference)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import inputs, run_checked, spikes_of, tiny_chip
from spikeforge.deploy import Deployment, NeuronParams
from spikeforge.hardware import TRUENORTH, check


def test_set_neurons_writes_every_field() -> None:
    d = Deployment.empty(TRUENORTH, 2, 1, 1)
    p = NeuronParams(weights=(3, -2), leak=-1, threshold=7, neg_threshold=4, reset_mode=1, reset_value=-5,
                     floor_mode=0, v_init=2, stochastic_synapse=(False, True), stochastic_leak=True,
                     leak_reversal=True, threshold_mask_bits=3)
    d.set_neurons(1, slice(10, 13), p, dest=(0, 7, 2))
    j = slice(10, 13)
    assert d.enabled[1, j].all() and not d.enabled[0].any() and d.enabled[1].sum() == 3
    np.testing.assert_array_equal(d.weights[1, 10], [3, -2, 0, 0])
    np.testing.assert_array_equal(d.stochastic_synapse[1, 11], [False, True, False, False])
    for name, want in (("leak", -1), ("threshold", 7), ("neg_threshold", 4), ("reset_mode", 1),
                       ("reset_value", -5), ("floor_mode", 0), ("v_init", 2), ("stochastic_leak", True),
                       ("leak_reversal", True), ("threshold_mask", 7), ("dest_core", 0), ("dest_axon", 7),
                       ("dest_delay", 2)):
        assert (getattr(d, name)[1, j] == want).all(), name
    check(d)
    d.set_neurons(1, [10], NeuronParams.memoryless((1,)))  # off-core again, modes cleared
    assert d.dest_core[1, 10] == -1 and d.threshold_mask[1, 10] == 0 and not d.stochastic_synapse[1, 10].any()


@pytest.mark.parametrize(("make", "message"), [
    (lambda: NeuronParams(threshold=-1), "thresholds must be >= 0"),
    (lambda: NeuronParams(reset_mode=3), "reset_mode must be 0, 1 or 2"),
    (lambda: NeuronParams(floor_mode=2), "floor_mode must be 0 or 1"),
    (lambda: NeuronParams(threshold_mask_bits=31), "threshold_mask_bits must be in 0..30"),
    (lambda: NeuronParams.stochastic_rate(300), "0 <= leak <= 255"),
    (lambda: NeuronParams.leaky_integrator((1,), 5, decay=-1), "decay must be >= 0"),
])
def test_bad_parameters_are_refused(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_set_neurons_refuses_what_the_core_cannot_hold() -> None:
    d = Deployment.empty("loihi-like", 1, 1, 1)  # one axon type
    with pytest.raises(ValueError, match="weights has 2 entries but the chip's cores have 1 axon types"):
        d.set_neurons(0, 0, NeuronParams(weights=(1, 2)))
    with pytest.raises(ValueError, match=r"core 3 is not in \[0, 1\)"):
        d.set_neurons(3, 0, NeuronParams())


def _one_input(params: NeuronParams, x: np.ndarray, ticks: int) -> np.ndarray:
    d = Deployment.empty(tiny_chip(1, 1, membrane_bits=10), 1, 1, 1)
    d.crossbar[0, 0, 0] = 1
    d.set_neurons(0, 0, params)
    inputs(d, (0, 0, 0))
    r = run_checked(d, x, ticks)
    return np.asarray(r.spikes[:, 0, 0, 0])


def test_memoryless() -> None:
    # input +2, leak −2: 0 ≥ 0 fires; leak −3: −1 never
    x = spikes_of(["1", "0", "1"])
    np.testing.assert_array_equal(_one_input(NeuronParams.memoryless((2,), leak=-2), x, 3), [1, 0, 1])
    np.testing.assert_array_equal(_one_input(NeuronParams.memoryless((2,), leak=-3), x, 3), [0, 0, 0])


def test_integrate_and_fire_divides_the_rate() -> None:
    # +1 every tick, α = 3, subtract: a spike every third tick, ⌊12 / 3⌋ = 4 in all
    out = _one_input(NeuronParams.integrate_and_fire((1,), threshold=3), spikes_of(["1"] * 12), 12)
    np.testing.assert_array_equal(out, [0, 0, 1] * 4)


def test_leaky_integrator_forgets() -> None:
    # +5 at t0 and t3, α = 8: decay 1 → 4, 3, 2, 2 + 5 − 1 = 6 < 8: silent; no decay: 5, 5, 5, 10 → fires
    x = spikes_of(["1", "0", "0", "1"])
    np.testing.assert_array_equal(_one_input(NeuronParams.leaky_integrator((5,), 8, decay=1), x, 4), [0, 0, 0, 0])
    np.testing.assert_array_equal(_one_input(NeuronParams.leaky_integrator((5,), 8, decay=0), x, 4), [0, 0, 0, 1])


def test_stochastic_rate() -> None:
    out = _one_input(NeuronParams.stochastic_rate(63), np.zeros((1, 1, 1), np.uint8), 3000)
    assert abs(out.mean() - 64 / 256) < 0.03


def test_a_deployment_prints_as_one_informative_line() -> None:
    from spikeforge.deploy import Deployment
    from spikeforge.hardware import TRUENORTH

    dep = Deployment.empty(TRUENORTH, 2, 3, 2, provenance={"method": "hand", "dataset": "toy"})
    dep.enabled[0, :4] = True
    dep.crossbar[0, 0, :3] = 1
    text = repr(dep)
    assert text == ("Deployment(truenorth: 2 cores on 1 chip, 3 inputs -> 0 output neurons / 2 classes, 4 neurons, "
                    "3 synapses, 1 tick(s) per input, method=hand, dataset=toy)")
    dep.stochastic_leak[0, 1] = 1
    assert "stochastic leak 1" in repr(dep) and "\n" not in repr(dep)
