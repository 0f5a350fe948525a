"""The engine's specialised paths (slice-copied routes, class counts folded into the spike counter, many
classes) equal the reference too."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import SIM_DEVICE, assert_counts_equal, random_deployment, random_spikes, seeds, tiny_chip
from spikeforge.deploy import Deployment
from spikeforge.hardware import check
from spikeforge.sim import CompiledDeployment, simulate, simulate_reference


def check_equal(d: Deployment, x: np.ndarray, ticks: int) -> CompiledDeployment:
    d = d.normalised()
    check(d)
    sim = CompiledDeployment(d, device=SIM_DEVICE)
    r = simulate(sim, x, ticks=ticks, record_spikes=True, record_outputs=True)
    cls, counts, ras = simulate_reference(d, x, ticks)
    np.testing.assert_array_equal(r.spikes, ras)
    np.testing.assert_array_equal(r.class_counts, cls)
    assert_counts_equal(r.counts, counts)
    return sim


@settings(max_examples=20, deadline=None)
@given(seed=seeds, merge=st.booleans())
def test_runs_of_neurons_to_runs_of_axons(seed: int, merge: bool) -> None:
    """Each core sends a run of ≥ 8 consecutive neurons to consecutive axons (possibly across a core boundary)
    with one delay; with ``merge`` some other neurons also target those axons."""
    rng = np.random.default_rng(seed)
    chip = tiny_chip(12, 12, membrane_bits=10, delay_max=4, mesh=(2, 2), max_chips=1)
    c, a, n = 3, 12, 12
    d = random_deployment(rng, chip, n_cores=c, n_inputs=12, n_classes=3)
    d.enabled[:] = True
    d.dest_core[:] = -1
    for core in range(c):
        ln = int(rng.integers(8, n + 1))
        j0 = int(rng.integers(0, n - ln + 1))
        flat0 = int(rng.integers(0, c * a - ln + 1))
        flat = flat0 + np.arange(ln)
        d.dest_core[core, j0:j0 + ln], d.dest_axon[core, j0:j0 + ln] = flat // a, flat % a
        d.dest_delay[core, j0:j0 + ln] = int(rng.integers(1, 5))
        if merge and j0 > 0:
            d.dest_core[core, 0], d.dest_axon[core, 0] = flat[0] // a, flat[0] % a
    outs = np.argwhere(d.dest_core < 0)
    d.output_core, d.output_neuron = outs[:, 0].astype(np.int32), outs[:, 1].astype(np.int32)
    d.output_class = rng.integers(0, 3, len(outs)).astype(np.int32)
    x = random_spikes(rng, 2, 4, d.n_inputs, p=0.6)
    sim = check_equal(d, x, ticks=7)
    assert len(sim.route_blocks) >= 1


@settings(max_examples=20, deadline=None)
@given(seed=seeds, k=st.sampled_from([2, 3]), broken=st.booleans(), merge=st.booleans())
def test_interleaved_wiring_is_routed_as_strided_blocks(seed: int, k: int, broken: bool, merge: bool) -> None:
    """Interleaved layer-to-layer wiring (the core networks': neuron j of upstream core u → downstream core
    j mod k, axon u·m + j // k) is copied as strided (rows, batch, length) blocks, exactly as the reference;
    with ``broken`` some routes leave the pattern (scattered instead), with ``merge`` an extra source hits a
    routed axon."""
    rng = np.random.default_rng(seed)
    n = 24
    chip = tiny_chip(n, n, membrane_bits=10, delay_max=4, mesh=(3, 3), max_chips=1)
    up, m = 2, n // k
    c = up + k
    d = random_deployment(rng, chip, n_cores=c, n_inputs=n, n_classes=3)
    d.enabled[:] = True
    d.dest_core[:] = -1
    for u in range(up):
        j = np.arange(n)
        d.dest_core[u], d.dest_axon[u] = up + j % k, u * m + j // k
        d.dest_delay[u] = int(rng.integers(1, 5))
    if broken:
        u, j = int(rng.integers(0, up)), int(rng.integers(0, n))
        d.dest_delay[u, j] = d.dest_delay[u, j] % 4 + 1
    if merge:
        d.dest_core[up, 0], d.dest_axon[up, 0] = up, 0
    outs = np.argwhere(d.dest_core < 0)
    d.output_core, d.output_neuron = outs[:, 0].astype(np.int32), outs[:, 1].astype(np.int32)
    d.output_class = rng.integers(0, 3, len(outs)).astype(np.int32)
    x = random_spikes(rng, 3, 4, d.n_inputs, p=0.6)
    sim = check_equal(d, x, ticks=8)
    strided = [b for b in sim.route_blocks if b[6] == k]
    assert strided, sim.route_blocks
    if not broken and not merge:  # one block of k rows per upstream core, nothing scattered
        assert len(strided) == up and all(b[7] == k for b in strided) and not sim.routes


def test_duplicate_output_entries_are_separate_votes() -> None:
    d = Deployment.empty(tiny_chip(1, 2), 1, 1, 3)
    d.enabled[0, :] = True  # α = 0, no input: both fire every tick
    d.output_core = np.zeros(4, np.int32)
    d.output_neuron = np.array([0, 0, 0, 1], np.int32)
    d.output_class = np.array([1, 2, 1, 0], np.int32)  # neuron 0 votes twice for class 1 and once for class 2
    r = simulate(d, np.zeros((1, 1, 1), np.uint8), ticks=3, device=SIM_DEVICE)
    assert r.class_counts.tolist() == [[3, 6, 3]]
    check_equal(d, np.zeros((1, 1, 1), np.uint8), ticks=3)


def test_many_classes() -> None:
    """More than 64 classes use the scatter path for class counts."""
    rng = np.random.default_rng(5)
    d = Deployment.empty(tiny_chip(8, 100), 1, 8, 100)
    d.enabled[:] = True
    d.crossbar[:] = rng.random(d.crossbar.shape) < 0.5
    d.weights[:] = rng.integers(-2, 3, d.weights.shape)
    d.threshold[:] = 1
    d.input_channel = np.arange(8, dtype=np.int32)
    d.input_core = np.zeros(8, np.int32)
    d.input_axon = np.arange(8, dtype=np.int32)
    d.output_core = np.zeros(100, np.int32)
    d.output_neuron = np.arange(100, dtype=np.int32)
    d.output_class = rng.permutation(100).astype(np.int32)
    sim = check_equal(d, random_spikes(rng, 2, 3, 8), ticks=4)
    assert not sim.cls_in_stats


@settings(max_examples=15, deadline=None)
@given(seed=seeds, t_in=st.integers(1, 5))
def test_fully_covered_feedforward_chain(seed: int, t_in: int) -> None:
    """Every axon has exactly one source that rewrites it every tick (input slice → core 0, routed runs
    core 0 → core 1 with delay 2 and core 1 → core 2 with delay 3): the engine skips zeroing its axon ring
    buffer, clearing only input regions once their inputs end — still equal to the reference."""
    rng = np.random.default_rng(seed)
    chip = tiny_chip(8, 8, membrane_bits=10, mesh=(2, 2), max_chips=1)
    d = random_deployment(rng, chip, n_cores=3, n_inputs=8, n_classes=2)
    d.enabled[:] = True
    d.input_channel = np.arange(8, dtype=np.int32)
    d.input_core = np.zeros(8, np.int32)
    d.input_axon = np.arange(8, dtype=np.int32)
    d.dest_core[0], d.dest_axon[0], d.dest_delay[0] = 1, np.arange(8), 2
    d.dest_core[1], d.dest_axon[1], d.dest_delay[1] = 2, np.arange(8), 3
    d.dest_core[2] = -1
    d.output_core = np.full(8, 2, np.int32)
    d.output_neuron = np.arange(8, dtype=np.int32)
    d.output_class = (np.arange(8) % 2).astype(np.int32)
    x = random_spikes(rng, 2, t_in, 8, p=0.6)
    sim = check_equal(d, x, ticks=t_in + 8)
    assert sim.full_cover


def test_auto_batch_size_bounds_the_state_memory() -> None:
    # ~5 float32 arrays of cores x (axons + neurons) per input within 2 GiB, at most 1024 inputs
    from types import SimpleNamespace

    import torch

    from spikeforge.sim.engine import auto_batch_size

    big = SimpleNamespace(C=1792, A=256, N=256, sdtype=torch.float32)  # 64 copies of the 28-core network
    assert auto_batch_size(big) == 2**31 // (5 * 1792 * 512 * 4) == 117  # type: ignore[arg-type]
    assert auto_batch_size(SimpleNamespace(C=1792, A=256, N=256, sdtype=torch.float64)) == 58  # type: ignore[arg-type]
    assert auto_batch_size(SimpleNamespace(C=5, A=256, N=256, sdtype=torch.float32)) == 1024  # type: ignore[arg-type]
    assert auto_batch_size(SimpleNamespace(C=10**6, A=256, N=256, sdtype=torch.float32)) == 1  # type: ignore[arg-type]
