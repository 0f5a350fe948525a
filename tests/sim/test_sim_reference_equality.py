"""Property: the fast engine equals the plain-loop reference on random small deployments, spike for spike and
count for count (random chip sizes, binary and multi-bit crossbars, every reset/floor mode, leaks, delays,
recurrent routes, merging, disabled neurons, cores spread over several chips)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import SIM_DEVICE, assert_counts_equal, random_deployment, random_spikes, seeds
from spikeforge.hardware import check
from spikeforge.sim import CompiledDeployment, simulate, simulate_reference


@settings(max_examples=60, deadline=None)
@given(seed=seeds, batch=st.integers(1, 4), ticks=st.integers(1, 10), batch_size=st.sampled_from([1, 3, 1024]))
def test_engine_equals_reference(seed: int, batch: int, ticks: int, batch_size: int) -> None:
    rng = np.random.default_rng(seed)
    d = random_deployment(rng)
    check(d)
    x = random_spikes(rng, batch, int(rng.integers(1, ticks + 1)), d.n_inputs, p=float(rng.uniform(0.1, 0.9)))
    r = simulate(d, x, ticks=ticks, batch_size=batch_size, record_spikes=True, record_outputs=True, device=SIM_DEVICE)
    cls, counts, ras = simulate_reference(d, x, ticks)
    np.testing.assert_array_equal(r.spikes, ras)
    np.testing.assert_array_equal(r.class_counts, cls)
    assert_counts_equal(r.counts, counts)
    # the output raster is the reference raster at the output-map neurons
    assert r.output_spikes is not None
    np.testing.assert_array_equal(
        r.output_spikes, ras[:, d.output_core, d.output_neuron, :].transpose(2, 0, 1).astype(np.uint8)
    )


@settings(max_examples=25, deadline=None)
@given(seed=seeds)
def test_busy_multichip_network_crosses_chips(seed: int) -> None:
    """Dense activity on 4 cores over 2 chips: chip crossings and hops actually occur and still match."""
    rng = np.random.default_rng(seed)
    from helpers import random_chip

    chip = random_chip(rng)
    chip = type(chip)(name=chip.name, core=chip.core, mesh_rows=1, mesh_cols=2, max_chips=2)
    d = random_deployment(rng, chip, n_cores=4)
    d.enabled[:] = True
    d.threshold[:] = 0  # fire whenever V ≥ 0 ...
    d.v_init[:] = 0
    d.leak[:] = 0
    d.crossbar[:] = np.abs(d.crossbar)
    d.weights[:] = np.abs(d.weights)  # ... which V never leaves: every neuron fires every tick
    d.placement[:] = [[0, 0, 0], [0, 0, 1], [1, 0, 0], [1, 0, 1]]
    d.dest_core[:] = rng.integers(0, 4, d.dest_core.shape)
    d.dest_core[:, 0] = [2, 3, 0, 1]  # at least one route per core to the other chip
    d.output_core = d.output_neuron = d.output_class = np.zeros(0, np.int32)
    check(d)
    x = random_spikes(rng, 2, 3, d.n_inputs)
    r = simulate(d, x, ticks=5, record_spikes=True, device=SIM_DEVICE)
    _, counts, ras = simulate_reference(d, x, 5)
    np.testing.assert_array_equal(r.spikes, ras)
    assert_counts_equal(r.counts, counts)
    assert counts.chip_crossings.sum() > 0 and counts.hops.sum() > 0


def test_compiled_deployment_is_reusable() -> None:
    rng = np.random.default_rng(7)
    d = random_deployment(rng)
    sim = CompiledDeployment(d, device=SIM_DEVICE)
    x = random_spikes(rng, 3, 4, d.n_inputs)
    a = simulate(sim, x, ticks=6, record_spikes=True)
    b = simulate(sim, x, ticks=6, record_spikes=True)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    assert_counts_equal(a.counts, b.counts)


def _exact_dtypes(sim: CompiledDeployment) -> list[torch.dtype]:
    limits = {torch.bfloat16: 2**8, torch.float32: 2**24, torch.float64: 2**53}
    return [dt for dt, lim in limits.items() if sim.drive_bound <= lim]


@settings(max_examples=60, deadline=None)
@given(
    seed=seeds,
    reset=st.sampled_from(["zero", "gamma0", "gamma1", "gamma2", "mixed"]),
    floor=st.sampled_from(["saturate", "reset", "mixed"]),
    one_source_per_axon=st.booleans(),
    permute_inputs=st.booleans(),
    small_weights=st.booleans(),
)
def test_engine_fast_paths_equal_reference(seed: int, reset: str, floor: str, one_source_per_axon: bool,
                                           permute_inputs: bool, small_weights: bool) -> None:
    """The engine specialises on uniform reset/floor modes, on input maps that are one contiguous slice, on
    axons with one source (no merging), and on the crossbar-product dtype (bfloat16 when every input sum
    fits in 8 bits); every variant and every exact dtype must still equal the reference."""
    rng = np.random.default_rng(seed)
    d = random_deployment(rng)
    core = d.chip.core
    if small_weights:
        d.weights[:] = np.clip(d.weights, -1, 1)
        d.crossbar[:] = np.clip(d.crossbar, -1, 1)
    if reset == "zero":
        d.reset_mode[:], d.reset_value[:] = 0, 0
    elif reset.startswith("gamma") and int(reset[-1]) in core.reset_modes:
        d.reset_mode[:] = int(reset[-1])
    if floor != "mixed":
        d.floor_mode[:] = 1 if floor == "saturate" else 0
    c, a = d.n_cores, core.n_axons
    if one_source_per_axon:
        # channels c0.. feed flat axons 0.. in order; routes go to distinct other axons (or off-chip)
        m = min(d.n_inputs, c * a)
        d.input_channel = (rng.permutation(m) if permute_inputs else np.arange(m)).astype(np.int32)
        d.input_core, d.input_axon = (np.arange(m) // a).astype(np.int32), (np.arange(m) % a).astype(np.int32)
        free = iter(rng.permutation(np.arange(m, c * a)))
        for cc, j in np.argwhere(d.enabled & (d.dest_core >= 0)):
            flat = next(free, None)
            if flat is None:
                d.dest_core[cc, j] = -1
            else:
                d.dest_core[cc, j], d.dest_axon[cc, j] = flat // a, flat % a
        outs = np.argwhere(d.enabled & (d.dest_core < 0))
        d.output_core, d.output_neuron = outs[:, 0].astype(np.int32), outs[:, 1].astype(np.int32)
        d.output_class = (np.arange(len(outs)) % d.n_classes).astype(np.int32)
    d = d.normalised()
    check(d)
    ticks = int(rng.integers(1, 9))
    x = random_spikes(rng, int(rng.integers(1, 4)), int(rng.integers(1, ticks + 1)), d.n_inputs)
    cls, counts, ras = simulate_reference(d, x, ticks)
    auto = CompiledDeployment(d, device=SIM_DEVICE)
    if one_source_per_axon:
        assert not auto.may_merge and auto.in_unique
        assert bool(auto.in_slices) == (m > 0 and (m == 1 or not permute_inputs or
                                                   np.array_equal(d.input_channel, np.arange(m))))
    for dt in _exact_dtypes(auto):
        sim = CompiledDeployment(d, device=SIM_DEVICE, matmul_dtype=dt)
        r = simulate(sim, x, ticks=ticks, record_spikes=True)
        np.testing.assert_array_equal(r.spikes, ras, err_msg=str(dt))
        np.testing.assert_array_equal(r.class_counts, cls)
        assert_counts_equal(r.counts, counts)


def test_a_matmul_dtype_that_could_round_is_refused() -> None:
    from spikeforge.deploy import Deployment

    d = Deployment.empty("truenorth", 1, 1, 1)
    d.enabled[:] = True
    d.crossbar[:, :2, 0] = 1
    d.weights[:] = 255
    assert CompiledDeployment(d, device=SIM_DEVICE).drive_bound == 510  # 2 axons x 255 > 256
    with pytest.raises(ValueError, match="not exact"):
        CompiledDeployment(d, device=SIM_DEVICE, matmul_dtype=torch.bfloat16)
    d.crossbar[:, 1, 0] = 0
    CompiledDeployment(d, device=SIM_DEVICE, matmul_dtype=torch.bfloat16)  # 255 fits
