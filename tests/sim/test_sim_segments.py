"""The crossbar product split into runs of cores over their used axons and neurons equals the reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from helpers import SIM_DEVICE, assert_counts_equal, random_deployment, random_spikes, seeds, tiny_chip
from spikeforge.hardware import check
from spikeforge.sim import CompiledDeployment, engine, simulate, simulate_reference


def test_segments_split_where_it_saves_work() -> None:
    # two small cores, one big one, two small ones: three runs
    a_used = np.array([3, 4, 1000, 2, 3])
    n_used = np.array([5, 5, 900, 4, 5])
    segs = engine._segments(a_used, n_used, n_extra=2)
    assert segs == [(0, 2, 4, 5), (2, 3, 1000, 900), (3, 5, 3, 5)]
    # equal cores: one run
    assert engine._segments(np.full(6, 256), np.full(6, 256), 2) == [(0, 6, 256, 256)]


def test_too_many_segments_collapse_into_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "_SEGMENT_OVERHEAD", 0)
    a_used = np.tile([1, 50], 40)
    n_used = np.tile([1, 50], 40)
    assert engine._segments(a_used, n_used, 1) == [(0, 80, 50, 50)]


@settings(max_examples=25, deadline=None)
@given(seed=seeds)
def test_segmented_product_equals_reference(seed: int) -> None:
    """Cores that use few leading axons / neurons, multiplied in separate runs (no per-run overhead, so the
    split is taken wherever it saves a multiply-add), give the reference's spikes and counts exactly."""
    rng = np.random.default_rng(seed)
    chip = tiny_chip(12, 12, membrane_bits=10, delay_max=3, mesh=(2, 3), max_chips=1)
    d = random_deployment(rng, chip, n_cores=5, n_inputs=6, n_classes=3)
    for core in range(d.n_cores):  # shrink the used part of some cores
        if rng.random() < 0.6:
            n_keep = int(rng.integers(1, 12))
            d.enabled[core, n_keep:] = False
        if rng.random() < 0.6:
            a_keep = int(rng.integers(1, 12))
            into = (d.dest_core == core) & (d.dest_axon >= a_keep)
            d.dest_axon[into] = rng.integers(0, a_keep, int(into.sum()))
            on = d.input_core == core
            d.input_axon[on] = np.minimum(d.input_axon[on], a_keep - 1)
    keep = d.enabled[d.output_core, d.output_neuron]
    d.output_core, d.output_neuron, d.output_class = d.output_core[keep], d.output_neuron[keep], d.output_class[keep]
    d = d.normalised()
    check(d)
    x = random_spikes(rng, 3, 5, d.n_inputs)
    old = engine._SEGMENT_OVERHEAD
    engine._SEGMENT_OVERHEAD = 0
    try:
        sim = CompiledDeployment(d, device=SIM_DEVICE)
    finally:
        engine._SEGMENT_OVERHEAD = old
    r = simulate(sim, x, ticks=8, record_spikes=True, record_outputs=True)
    cls, counts, ras = simulate_reference(d, x, 8)
    np.testing.assert_array_equal(r.spikes, ras)
    np.testing.assert_array_equal(r.class_counts, cls)
    assert_counts_equal(r.counts, counts)


def test_segmented_deployment_uses_several_runs() -> None:
    """A deployment whose cores differ in size is multiplied in several runs by default."""
    from helpers import blank
    chip = tiny_chip(256, 256)
    d = blank(chip, n_cores=3, n_inputs=256)
    d.enabled[0, :4] = True
    d.enabled[1, :] = True
    d.enabled[2, :4] = True
    d.crossbar[1] = 1
    d.input_channel = np.arange(256, dtype=np.int32)
    d.input_core = np.ones(256, np.int32)
    d.input_axon = np.arange(256, dtype=np.int32)
    d.threshold[:] = 1
    sim = CompiledDeployment(d.normalised(), device=SIM_DEVICE)
    assert [s[2:] for s in sim.segments] == [(1, 4), (256, 256), (1, 4)]
