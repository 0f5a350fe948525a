"""TrueNorth's stochastic synapse, leak and threshold modes (Cassidy et al. 2013) and their PRN.

Each case computes the expected spikes from the equations and :func:`spikeforge.sim.prng.rho` by hand, and
``run`` checks the fast engine against the plain-loop reference as well.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import (
    MEMORYLESS,
    SIM_DEVICE,
    blank,
    inputs,
    neuron,
    random_deployment,
    random_spikes,
    run_checked,
    seeds,
    tiny_chip,
)
from spikeforge.deploy import Deployment
from spikeforge.hardware import check
from spikeforge.sim import prng, simulate

run = run_checked  # the fast engine, checked against the reference


# ------------------------------------------------------------------------------------------- the PRN
def test_prn_is_the_same_number_in_python_numpy_and_torch() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        seed, stream, b, t, c, j, i = (int(v) for v in rng.integers(0, 2**31, 7))
        want = prng.rho(seed, stream, b, t, c, j, i)
        assert 0 <= want < 2**32
        for xp in (np.asarray, torch.tensor):
            got = prng.draw(prng.site_key(seed, stream, xp([c]), xp([j]), xp([i])), prng.time_key(xp([b]), t))
            assert int(got[0]) == want


def test_mix32_int32_tensor_path_equals_the_integer_form() -> None:
    # the torch path computes in wrapping int32; the NumPy / Python path in split int64 multiplications
    rng = np.random.default_rng(1)
    edge = np.array([0, 1, 2**16 - 1, 2**16, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**49 + 12345, -1, -(2**31)],
                    dtype=np.int64)
    vals = np.concatenate([edge, rng.integers(-(2**40), 2**49, 200_000, dtype=np.int64)])
    want = prng.mix32(vals)
    got = prng.mix32(torch.from_numpy(vals))
    assert got.dtype == torch.int64
    np.testing.assert_array_equal(got.numpy(), want)
    assert int(prng.mix32(torch.tensor([2**31]))[0]) == prng.mix32(2**31)


def test_prn8_is_uniform_and_fields_decorrelate() -> None:
    """65 536 draws over ticks and neurons: every 8-bit value appears 256 ± 64 times (chi-square far below
    its 0.1 % tail) and neighbouring ticks of a neuron agree no more than chance (1/256)."""
    t = np.arange(256)[:, None]
    j = np.arange(256)[None, :]
    h = prng.draw(prng.site_key(7, prng.STREAM_LEAK, 0, j), prng.time_key(3, t))
    r8 = prng.prn8(h)
    counts = np.bincount(r8.ravel(), minlength=256)
    assert counts.min() > 192 and counts.max() < 320
    chi2 = float(((counts - 256.0) ** 2 / 256.0).sum())
    assert chi2 < 330  # 255 degrees of freedom: 0.1 % tail at 330.5
    assert np.mean(r8[1:] == r8[:-1]) < 2 / 256
    # another seed, stream or input index gives other numbers
    for other in (prng.draw(prng.site_key(8, prng.STREAM_LEAK, 0, j), prng.time_key(3, t)),
                  prng.draw(prng.site_key(7, prng.STREAM_THRESHOLD, 0, j), prng.time_key(3, t)),
                  prng.draw(prng.site_key(7, prng.STREAM_LEAK, 0, j), prng.time_key(4, t))):
        assert np.mean(prng.prn8(other) == r8) < 2 / 256


# ------------------------------------------------------------------------------------------- hand-computed
def test_stochastic_leak() -> None:
    """c = 1, λ = 63, memoryless with α = 1: V = [63 ≥ ρ] each tick, so it spikes iff ρ ≤ 63 — about a quarter
    of the ticks. λ = −63 with α = 0 spikes iff ρ > 63."""
    d = blank(tiny_chip(1, 2, membrane_bits=8))
    neuron(d, 0, 0, **{**MEMORYLESS, "threshold": 1}, leak=63, stochastic_leak=True)
    neuron(d, 0, 1, **MEMORYLESS, leak=-63, stochastic_leak=True)
    d.prng_seed = 11
    ticks = 400
    r = run(d, np.zeros((2, 1, 1), np.uint8), ticks=ticks)
    assert r.spikes is not None
    for b in range(2):
        for j, want_hit in ((0, True), (1, False)):
            rho8 = np.array([prng.prn8(prng.rho(11, prng.STREAM_LEAK, b, t, 0, j)) for t in range(ticks)])
            np.testing.assert_array_equal(r.spikes[:, 0, j, b], (rho8 <= 63) == want_hit)
    rate = r.spikes[:, 0, 0, :].mean()
    assert abs(rate - 64 / 256) < 0.05


def test_stochastic_synapse() -> None:
    """b^0 = 1: an active synapse of type 0 with s = 100 adds 1 iff 100 ≥ ρ (drawn per axon, neuron and tick);
    type 1 (s = 5, deterministic) adds 5. Memoryless neurons (α = 0) with leak −2 (j = 0) and −1 (j = 1):
    j = 0 fires iff both stochastic synapses hit, j = 1 iff either does; j = 2 (leak −5) reads the
    deterministic axon and fires every tick."""
    d = blank(tiny_chip(3, 3, membrane_bits=10), n_inputs=1)
    d.crossbar[0, 0:2, 0:2] = 1
    d.crossbar[0, 2, 2] = 1
    d.axon_type[0] = [0, 0, 1]
    for j, leak in enumerate((-2, -1)):
        neuron(d, 0, j, **MEMORYLESS, weights=[100, 5], leak=leak)
        d.stochastic_synapse[0, j, 0] = True
    neuron(d, 0, 2, **MEMORYLESS, weights=[100, 5], leak=-5)
    inputs(d, (0, 0, 0), (0, 0, 1), (0, 0, 2))
    ticks = 300
    r = run(d, np.ones((1, ticks, 1), np.uint8), ticks=ticks, seed=5)
    assert r.spikes is not None
    hit = np.array([[[prng.prn8(prng.rho(5, prng.STREAM_SYNAPSE, 0, t, 0, j, i)) <= 100 for i in range(2)]
                     for j in range(2)] for t in range(ticks)])  # (ticks, neuron, axon)
    np.testing.assert_array_equal(r.spikes[:, 0, 0, 0], hit[:, 0].all(axis=1))
    np.testing.assert_array_equal(r.spikes[:, 0, 1, 0], hit[:, 1].any(axis=1))
    assert r.spikes[:, 0, 2, 0].all()
    assert abs(hit.mean() - 101 / 256) < 0.05
    # every active synapse is a synaptic event, hit or not
    assert r.counts.synaptic_events.tolist() == [5 * ticks]


def test_stochastic_threshold_with_linear_reset() -> None:
    """M = 7: threshold α + η with η = ρ & 7; λ = 5, α = 3, γ = 1 subtracts α + η on a spike."""
    d = blank(tiny_chip(1, 1, membrane_bits=10))
    neuron(d, 0, 0, leak=5, threshold=3, reset_mode=1, threshold_mask=7, neg_threshold=0)
    ticks = 60
    r = run(d, np.zeros((1, 1, 1), np.uint8), ticks=ticks, seed=3)
    assert r.spikes is not None
    v, want = 0, []
    for t in range(ticks):
        v += 5
        eta = prng.rho(3, prng.STREAM_THRESHOLD, 0, t, 0, 0) & 7
        want.append(v >= 3 + eta)
        if want[-1]:
            v -= 3 + eta
    np.testing.assert_array_equal(r.spikes[:, 0, 0, 0], want)
    assert 0 < sum(want) < ticks


def test_stochastic_negative_threshold_and_linear_reset() -> None:
    """κ = 0 compares with −(β + η) and γ = 1 adds β + η back; the same η raises α. λ = −4, input +9 every
    third tick, α = 2, β = 2, M = 3."""
    d = blank(tiny_chip(1, 1, membrane_bits=10), n_inputs=1)
    d.crossbar[0, 0, 0] = 1
    neuron(d, 0, 0, weights=[9], leak=-4, threshold=2, neg_threshold=2, reset_mode=1, floor_mode=0,
           threshold_mask=3)
    inputs(d, (0, 0, 0))
    ticks = 90
    x = np.zeros((1, ticks, 1), np.uint8)
    x[0, ::3, 0] = 1
    r = run(d, x, ticks=ticks, seed=9)
    assert r.spikes is not None
    v, want, floored = 0, [], 0
    for t in range(ticks):
        v += 9 * int(t % 3 == 0) - 4
        eta = prng.rho(9, prng.STREAM_THRESHOLD, 0, t, 0, 0) & 3
        want.append(v >= 2 + eta)
        if want[-1]:
            v -= 2 + eta
        elif v < -(2 + eta):
            v += 2 + eta
            floored += 1
    np.testing.assert_array_equal(r.spikes[:, 0, 0, 0], want)
    assert 0 < sum(want) and floored > 0


# ------------------------------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=st.integers(1, 5), ticks=st.integers(1, 8))
def test_engine_equals_reference_with_every_mode(seed: int, batch: int, ticks: int) -> None:
    rng = np.random.default_rng(seed)
    d = random_deployment(rng, stochastic=True)
    x = random_spikes(rng, batch, int(rng.integers(1, ticks + 1)), d.n_inputs, p=float(rng.uniform(0.2, 0.9)))
    run(d, x, ticks=ticks)


def _busy_stochastic(seed: int) -> tuple[Deployment, np.ndarray]:
    rng = np.random.default_rng(seed)
    d = blank(tiny_chip(4, 4, membrane_bits=12), n_inputs=4, n_classes=4)
    d.crossbar[0] = 1
    for j in range(4):
        neuron(d, 0, j, **MEMORYLESS, weights=[120, 80, -60, 40], leak=-40, stochastic_leak=True)
        d.stochastic_synapse[0, j] = True
    d.axon_type[0] = [0, 1, 2, 3]
    inputs(d, *[(k, 0, k) for k in range(4)])
    d.output_core, d.output_neuron, d.output_class = (np.zeros(4, np.int32), np.arange(4, dtype=np.int32),
                                                      np.arange(4, dtype=np.int32))
    d = d.normalised()
    check(d)
    return d, random_spikes(rng, 9, 20, 4, p=0.7)


def test_results_depend_only_on_the_seed_and_the_input_index() -> None:
    d, x = _busy_stochastic(0)
    base = simulate(d, x, device=SIM_DEVICE).class_counts
    assert base.sum() > 0
    for bs in (1, 4):
        np.testing.assert_array_equal(simulate(d, x, batch_size=bs, device=SIM_DEVICE).class_counts, base)
    # input k of a larger array draws the same numbers as input k alone
    np.testing.assert_array_equal(simulate(d, x[:3], device=SIM_DEVICE).class_counts, base[:3])
    other = simulate(d, x, device=SIM_DEVICE, seed=d.prng_seed + 1).class_counts
    assert not np.array_equal(other, base)
    d.prng_seed = d.prng_seed + 1
    np.testing.assert_array_equal(simulate(d, x, device=SIM_DEVICE).class_counts, other)


def test_stochastic_mode_means() -> None:
    """Averaged over many inputs, a stochastic synapse adds sgn(s)·(|s| + 1)/256 per event: 2000 inputs of one
    tick through s = 127 (p = 0.5) into a memoryless neuron with α = 1."""
    d = blank(tiny_chip(1, 1, membrane_bits=8))
    d.crossbar[0, 0, 0] = 1
    neuron(d, 0, 0, **{**MEMORYLESS, "threshold": 1}, weights=[127])
    d.stochastic_synapse[0, 0, 0] = True
    inputs(d, (0, 0, 0))
    d.output_core, d.output_neuron, d.output_class = (np.zeros(1, np.int32),) * 3
    r = simulate(d.normalised(), np.ones((2000, 1, 1), np.uint8), device=SIM_DEVICE)
    assert abs(r.class_counts.mean() - 128 / 256) < 0.03


def test_memoryless_excludes_a_stochastic_threshold() -> None:
    d, _ = _busy_stochastic(0)
    assert d.memoryless and d.stochastic
    d.threshold_mask[0, 0] = 1
    assert not d.memoryless


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True])
def test_bad_seed_is_refused(seed: object) -> None:
    d, x = _busy_stochastic(0)
    with pytest.raises(ValueError, match="seed must be an integer in"):
        simulate(d, x, device=SIM_DEVICE, seed=seed)  # type: ignore[arg-type]


def test_a_deterministic_deployment_ignores_the_seed() -> None:
    rng = np.random.default_rng(3)
    d = random_deployment(rng)
    assert not d.stochastic
    x = random_spikes(rng, 3, 2, d.n_inputs)
    a = simulate(d, x, ticks=5, device=SIM_DEVICE, seed=1).class_counts
    np.testing.assert_array_equal(simulate(d, x, ticks=5, device=SIM_DEVICE, seed=2).class_counts, a)


def test_concatenated_copies_keep_their_modes_and_draw_independently() -> None:
    """An ensemble of two copies of a stochastic core (``Deployment.concat``): the modes and the seed carry
    over, copy 0 reproduces the single core's spikes, and copy 1 draws other numbers (its core differs)."""
    d, x = _busy_stochastic(1)
    d.chip = tiny_chip(4, 4, membrane_bits=12, mesh=(1, 2), max_chips=1)
    d = d.normalised()
    pair = d.concat(d, class_offset=4)
    assert pair.prng_seed == d.prng_seed and pair.stochastic
    np.testing.assert_array_equal(pair.stochastic_synapse, np.concatenate([d.stochastic_synapse] * 2))
    np.testing.assert_array_equal(pair.stochastic_leak, np.concatenate([d.stochastic_leak] * 2))
    check(pair)
    one = simulate(d, x, device=SIM_DEVICE).class_counts
    both = simulate(pair, x, device=SIM_DEVICE).class_counts
    np.testing.assert_array_equal(both[:, :4], one)
    assert not np.array_equal(both[:, 4:], one)


def test_expected_weights() -> None:
    """E[W] is the deterministic weight, or sgn(s)·(|s| + 1)/256 on a stochastic type; and the simulator's
    mean drive matches it (the mean-value test above measures one such synapse)."""
    d = blank(tiny_chip(2, 2, membrane_bits=8), n_inputs=2)
    d.crossbar[0] = [[1, 1], [1, 0]]
    d.axon_type[0] = [0, 1]
    d.weights[0, 0, :2] = [127, -3]
    d.weights[0, 1, :2] = [255, 7]
    d.stochastic_synapse[0, 0, 0] = True  # neuron 0, type 0 (axon 0)
    d.stochastic_synapse[0, 1, 0] = True  # neuron 1, type 0 (axon 0)
    np.testing.assert_array_equal(d.effective_weights()[0], [[127, 255], [-3, 0]])
    np.testing.assert_allclose(d.expected_weights()[0], [[128 / 256, 1.0], [-3, 0]])
