"""The simulator gives the same answer on a CUDA GPU as on the CPU: spike for spike, count for count, in every
exact matmul dtype, sequential and pipelined, with the stochastic modes (counter-based draws, so the same seed
draws the same numbers on either device), and with TF32 matrix products switched on.

Skipped on machines without CUDA (CI has none). Run on a GPU with
``SPIKEFORGE_TEST_DEVICE=cuda pytest tests/sim`` — that variable also moves every other simulator test,
each a spike-for-spike comparison with the plain-loop reference, onto the GPU (see ``scripts/cuda_check.sh``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from helpers import assert_counts_equal, random_deployment, random_spikes, seeds
from spikeforge.deploy import Deployment
from spikeforge.hardware import ChipSpec, CoreSpec
from spikeforge.sim import CompiledDeployment, SimResult, simulate, simulate_pipelined, simulate_reference

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def assert_same(a: SimResult, b: SimResult) -> None:
    np.testing.assert_array_equal(a.class_counts, b.class_counts)
    assert_counts_equal(a.counts, b.counts)
    for name in ("spikes", "output_spikes"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=name)


@settings(max_examples=40, deadline=None)
@given(seed=seeds)
def test_cuda_equals_cpu_on_random_deployments(seed: int) -> None:
    rng = np.random.default_rng(seed)
    stochastic = bool(rng.random() < 0.5)
    d = random_deployment(rng, stochastic=stochastic)
    x = random_spikes(rng, int(rng.integers(1, 6)), d.ticks_per_input, d.n_inputs)
    ticks = d.ticks_per_input + int(rng.integers(0, 6))
    kw: dict[str, Any] = {"ticks": ticks, "record_spikes": True, "record_outputs": True,
                          "seed": int(rng.integers(0, 2**31))}
    cpu = simulate(d, x, device="cpu", **kw)
    gpu = simulate(d, x, device="cuda", **kw)
    assert_same(cpu, gpu)
    cls, counts, ras = simulate_reference(d, x, ticks, seed=kw["seed"])
    np.testing.assert_array_equal(gpu.spikes, ras)
    np.testing.assert_array_equal(gpu.class_counts, cls)
    assert_counts_equal(gpu.counts, counts)


def _exact_dtypes(sim: CompiledDeployment) -> Iterator[torch.dtype]:
    for dt in (torch.bfloat16, torch.float16, torch.float32, torch.float64):
        try:
            CompiledDeployment(sim.dep, device="cuda", matmul_dtype=dt)
        except ValueError:
            continue
        yield dt


@settings(max_examples=15, deadline=None)
@given(seed=seeds)
def test_every_exact_matmul_dtype_agrees_on_cuda(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = random_deployment(rng)
    x = random_spikes(rng, 3, d.ticks_per_input, d.n_inputs)
    ticks = d.ticks_per_input + 3
    ref = simulate(d, x, ticks=ticks, device="cpu", record_spikes=True)
    for dt in _exact_dtypes(CompiledDeployment(d, device="cuda")):
        got = simulate(CompiledDeployment(d, device="cuda", matmul_dtype=dt), x, ticks=ticks, record_spikes=True)
        assert_same(ref, got)


def _wide_network(seed: int, weight: int) -> Deployment:
    """Two 256 x 256 cores (TrueNorth's, but with weights up to ±4096), dense random crossbars with weights
    +``weight`` / −(``weight`` − 1), core 0 feeding core 1."""
    rng = np.random.default_rng(seed)
    chip = ChipSpec(name="wide-weights", core=CoreSpec(weight_min=-4096, weight_max=4096), mesh_rows=1, mesh_cols=2,
                    max_chips=1)
    d = Deployment.empty(chip, 2, 256, 10, ticks_per_input=4)
    d.crossbar[:] = rng.random(d.crossbar.shape) < 0.5
    d.axon_type[:] = np.arange(256) % 2
    d.weights[:, :, 0], d.weights[:, :, 1] = weight, -weight + 1
    d.enabled[:] = True
    d.threshold[:] = rng.integers(1, 4 * weight, d.threshold.shape)
    d.leak[:] = rng.integers(-3, 4, d.leak.shape)
    d.reset_mode[:] = rng.integers(0, 3, d.reset_mode.shape)
    d.dest_core[0, :] = 1
    d.dest_axon[0, :] = np.arange(256)
    d.dest_delay[0, :] = 1
    d.input_channel = np.arange(256, dtype=np.int32)
    d.input_core = np.zeros(256, np.int32)
    d.input_axon = np.arange(256, dtype=np.int32)
    d.output_core = np.ones(100, np.int32)
    d.output_neuron = np.arange(100, dtype=np.int32)
    d.output_class = (np.arange(100) % 10).astype(np.int32)
    return d.normalised()


@pytest.mark.parametrize("weight", [1, 200, 3000])
def test_tf32_matrix_products_do_not_round_the_membrane(weight: int) -> None:
    """With TF32 allowed (``torch.set_float32_matmul_precision("high")``), a float32 crossbar product rounds
    weights above 2048; the engine then multiplies in float64 and stays exact."""
    d = _wide_network(weight, weight)
    x = random_spikes(np.random.default_rng(weight), 16, 4, 256, p=0.3)
    ref = simulate(d, x, device="cpu", record_spikes=True)
    before = torch.get_float32_matmul_precision()
    try:
        torch.set_float32_matmul_precision("high")
        got = simulate(CompiledDeployment(d, device="cuda", matmul_dtype=torch.float32), x, record_spikes=True)
    finally:
        torch.set_float32_matmul_precision(before)
    assert ref.counts.spikes.sum() > 0
    assert_same(ref, got)


@pytest.mark.filterwarnings("ignore::spikeforge.sim.engine.StatefulPipelineWarning")
def test_pipelined_cuda_equals_cpu_on_a_full_size_network() -> None:
    d = _wide_network(7, 2)
    x = random_spikes(np.random.default_rng(7), 200, 4, 256, p=0.25)
    assert_same(simulate(d, x, device="cpu"), simulate(d, x, device="cuda", batch_size=64))
    assert_same(simulate_pipelined(d, x, lanes=16, device="cpu"), simulate_pipelined(d, x, lanes=16, device="cuda"))


def test_auto_picks_cuda_here() -> None:
    assert CompiledDeployment(_wide_network(0, 1)).device.type == "cuda"
