"""Exported graphs run in snnTorch and Norse through their own NIR importers and give the simulator's spikes.

What each peer can run (``docs/nir.md``, "Peers"):

* Norse 1.1.0 (``norse.torch.from_nir``): ``IF`` exactly, but reset to 0 only (it ignores ``v_reset``), no
  ``Threshold`` node, and its executor (nirtorch's deprecated ``GraphExecutor``) orders nodes depth-first, so
  only graphs without branches or joins execute right: chains of one core per layer.
* snnTorch 1.0.0 (``snntorch.import_nir.import_from_nir``): ``IF`` becomes ``snn.Leaky(beta=0.9,
  reset_mechanism="subtract")``, one threshold per node, returning ``(spikes, membrane)`` that the next node
  cannot take: exact only for one evaluation from rest of a single layer feeding ``Output`` directly.
* nirtorch 2.6's interpreter (``nir_to_torch``), given exact ``IF``/``Threshold`` modules and a correct
  ``Affine`` (its default mapping drops the bias), runs every exported graph: branches, joins, thresholds.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("nir")

from nirtools import (
    CHIP,
    chain_if_deployment,
    layered_if_deployment,
    random_inputs,
    run_nirtorch,
    run_norse,
    run_snntorch,
)

from spikeforge.deploy import Deployment
from spikeforge.interop import align_to_chip, deployment_to_nir, output_tick_offsets
from spikeforge.sim import simulate

pytestmark = pytest.mark.peers


def _peer(name: str) -> None:
    pytest.importorskip({"norse": "norse.torch", "snntorch": "snntorch.import_nir", "nirtorch": "nirtorch"}[name])


def check_against_simulator(dep: Deployment, x: np.ndarray, ticks: int, runner: object, claim: int | None = None
                            ) -> None:
    graph = deployment_to_nir(dep, ticks=claim)
    chip = simulate(dep, x, ticks=ticks, record_outputs=True).output_spikes
    off = output_tick_offsets(graph)
    steps = ticks - int(off.min())
    peer = runner(graph, x, steps)  # type: ignore[operator]
    assert peer.shape == (len(x), steps, len(dep.output_core))
    assert set(np.unique(peer)) <= {0.0, 1.0}
    assert np.array_equal(align_to_chip(peer, off, ticks), chip)
    assert chip is not None and chip.any() and not chip.all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_norse_runs_multi_tick_if_chains_spike_for_spike(seed: int) -> None:
    _peer("norse")
    dep = chain_if_deployment(seed)  # depths 0 / d1 / d1+d2 with route delays 1-3: offsets up to 6 ticks
    check_against_simulator(dep, random_inputs(seed, 24, 4), ticks=12, runner=run_norse)


@pytest.mark.parametrize("runner", [run_snntorch, run_norse])
def test_template_deployment_in_snntorch_and_norse(runner: object, digits_template: tuple[Deployment, np.ndarray]
                                                   ) -> None:
    _peer("snntorch" if runner is run_snntorch else "norse")
    dep, x = digits_template
    # one tick per image: each memoryless neuron is evaluated once, so it is written (exactly) as an IF
    graph = deployment_to_nir(dep, ticks=1)
    chip = simulate(dep, x, ticks=1, record_outputs=True)
    peer = runner(graph, x, 1)  # type: ignore[operator]
    assert np.array_equal(peer, chip.output_spikes)
    votes = np.zeros((len(x), dep.n_classes))
    np.add.at(votes.T, dep.output_class, peer[:, 0].T)
    assert np.array_equal(votes, chip.class_counts)


def test_snntorch_runs_a_single_random_core_for_one_tick() -> None:
    _peer("snntorch")
    rng = np.random.default_rng(7)
    d = Deployment.empty(CHIP, 1, 12, 3)
    d.enabled[0] = True
    d.axon_type[0] = rng.integers(0, 4, 32)
    d.weights[0] = rng.integers(-4, 5, (16, 4))
    d.crossbar[0] = rng.random((32, 16)) < 0.4
    d.leak[0] = rng.integers(-3, 4, 16)
    d.threshold[0] = 2  # snnTorch takes one threshold per IF node
    d.reset_mode[0] = rng.integers(0, 3, 16)  # irrelevant within one tick: exported exactly with ticks=1
    d.input_channel = rng.integers(0, 12, 30).astype(np.int32)
    d.input_core = np.zeros(30, np.int32)
    d.input_axon = rng.permutation(32)[:30].astype(np.int32)
    d.output_core = np.zeros(16, np.int32)
    d.output_neuron = np.arange(16, dtype=np.int32)
    d.output_class = (np.arange(16) % 3).astype(np.int32)
    check_against_simulator(d, random_inputs(7, 40, 1), ticks=1, runner=run_snntorch, claim=1)


@pytest.mark.parametrize("seed", [0, 1])
def test_nirtorch_interpreter_runs_branches_joins_and_thresholds(seed: int) -> None:
    _peer("nirtorch")
    dep = layered_if_deployment(seed, reset_value=seed)  # input fan-out, a join, outputs at two depths
    rng = np.random.default_rng(seed)
    dep.threshold[1] = dep.neg_threshold[1] = dep.reset_value[1] = 0  # core 1 memoryless: Threshold node
    dep.weights[1] = rng.integers(-3, 4, (16, 4))
    dep.leak[1] = -1
    check_against_simulator(dep, random_inputs(seed, 24, 3), ticks=10, runner=run_nirtorch)
