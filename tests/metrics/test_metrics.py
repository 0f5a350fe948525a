"""NeuroBench-compatible metrics: hand-checked values, the replay against the simulator, bit widths."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import MEMORYLESS, blank, inputs, neuron, outputs, random_deployment, random_spikes, tiny_chip
from spikeforge.deploy import Deployment
from spikeforge.evaluate import run_simulation
from spikeforge.hardware import LOIHI_LIKE, TRUENORTH
from spikeforge.metrics import (
    Activity,
    Footprint,
    compute_metrics,
    core_storage_bits,
    layer_groups,
    layer_key,
    reads_are_effective,
)
from spikeforge.sim import simulate


def two_neuron_core() -> Deployment:
    """1 core, 3 axons, 2 neurons (+ 2 disabled slots). Neuron 0: memoryless, weights +1 (type 0), -1 (type 1);
    neuron 1: integrate-and-fire, threshold 2, weight +1. Axon 2 has a set bit on neuron 1 with weight 0."""
    chip = tiny_chip(n_axons=3, n_neurons=4)
    d = blank(chip, 1, n_inputs=2, n_classes=2)
    d.axon_type[0] = [0, 1, 2]
    d.crossbar[0, 0, 0] = d.crossbar[0, 1, 0] = 1
    d.crossbar[0, 0, 1] = d.crossbar[0, 2, 1] = 1
    neuron(d, 0, 0, weights=[1, -1, 0, 0], **MEMORYLESS)
    neuron(d, 0, 1, weights=[1, 0, 0, 0], threshold=2)
    inputs(d, (0, 0, 0), (1, 0, 1), (1, 0, 2))
    outputs(d, (0, 0, 0), (0, 1, 1))
    d.core_labels = ["only"]
    return d


def test_hand_counted_workload() -> None:
    d = two_neuron_core()
    x = np.array([[[1, 0], [1, 1], [0, 0]]], np.uint8)  # tick 0: ch0; tick 1: ch0+ch1; tick 2: nothing
    r = simulate(d, x, ticks=3, record_spikes=True)
    m = compute_metrics(d, r, inputs=x)
    # tick 0: axon 0 → n0: +1 ≥ 0 spikes; n1: V=1. tick 1: axons 0,1,2 → n0: 0 ≥ 0 spikes; n1: V=2 ≥ 2 spikes,
    # reset 0. tick 2: n0: 0 ≥ 0 spikes (memoryless, zero input); n1 stays 0.
    assert r.output_spikes is None and r.class_counts.tolist() == [[3, 1]]
    act = m["activation_sparsity"]
    assert act["activation_sparsity"] == pytest.approx(1 - 4 / (2 * 3))
    ops = m["synaptic_operations"]
    # effective: tick 0 axon 0 → 2 non-zero weights; tick 1: axon 0 → 2, axon 1 → 1, axon 2 → 0 (weight 0)
    assert ops["Effective_ACs"] == 5 and ops["Effective_MACs"] == 0
    assert ops["synaptic_events"] == 6  # the crossbar bit with weight 0 is still read
    assert ops["Dense"] == 3 * 2 * 3  # axons × enabled neurons × ticks
    # membrane: tick 0 counts all 2 (NeuroBench); tick 1: n1 1 → 0 (after reset: 2 → 0)… n0 0 → 0
    mem = m["membrane_updates"]
    assert mem["membrane_updates"] == 2 + 1 + 0 and mem["neuron_updates"] == 6
    assert not reads_are_effective(d)
    counted = compute_metrics(d, r)  # counters alone: effective ACs not derivable here
    assert counted["synaptic_operations"]["Effective_ACs"] is None
    assert counted["membrane_updates"]["membrane_updates"] is None
    assert counted["activation_sparsity"] == act


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("stochastic", [False, True])
def test_replay_reproduces_the_simulator(seed: int, stochastic: bool) -> None:
    rng = np.random.default_rng(seed)
    # every reset/floor mode, delays, recurrence, merging, disabled neurons (and stochastic modes, leak reversal)
    d = random_deployment(rng, stochastic=stochastic)
    x = random_spikes(rng, 5, 3, d.n_inputs)
    r = simulate(d, x, ticks=7, record_spikes=True)
    act, raster = Activity.replay(d, x, 7, raster=True, batch_size=2)  # batches keep each input's draws
    assert np.array_equal(raster, r.spikes)
    assert np.array_equal(act.synaptic_events, r.counts.synaptic_events)
    assert np.array_equal(act.core_spikes, r.counts.core_spikes)
    m = compute_metrics(d, r, inputs=x)  # checks the raster again internally
    assert m["source"] == "replay" and m["samples"] == 5


def test_template_counts_and_replay_agree(tmp_path: object) -> None:
    from spikeforge.data import load_dataset, threshold_encode
    from spikeforge.methods.template.build import build_template_deployment, class_templates

    ds = load_dataset("digits")
    dep = build_template_deployment(class_templates(ds.x_train, ds.y_train, ds.n_classes, 0.2))
    x = threshold_encode(ds.x_test[:100], threshold=0.3)
    r, regime = run_simulation(dep, x)
    assert regime == "pipelined" and reads_are_effective(dep)
    a = compute_metrics(dep, r)
    b = compute_metrics(dep, r, inputs=x)  # replayed sequentially: 1 tick per image either way
    for key in ("Effective_ACs", "Dense", "synaptic_events"):
        assert a["synaptic_operations"][key] == b["synaptic_operations"][key]
    assert a["activation_sparsity"]["activation_sparsity"] == b["activation_sparsity"]["activation_sparsity"]
    assert b["neurobench"]["MembraneUpdates"] == 250  # one tick: NeuroBench counts every neuron once
    assert a["neurobench"]["ConnectionSparsity"] == pytest.approx(0.75)


def test_truenorth_footprint_counts_hardware_bits() -> None:
    bits = core_storage_bits(TRUENORTH.core, TRUENORTH.cores_per_chip * TRUENORTH.max_chips)
    assert bits["crossbar"] == 256 * 256  # 1 bit per synapse, not 32
    per_neuron = {k: v // 256 for k, v in bits.items() if k not in ("crossbar", "axon_type")}
    assert per_neuron["weights"] == 4 * 9 and per_neuron["leak"] == 9 and per_neuron["threshold"] == 18
    assert per_neuron["reset_value"] == 19 and per_neuron["v_init"] == 20
    assert per_neuron["destination"] == 1 + 16 + 8 + 4  # off-core flag, 65536 cores, 256 axons, 15 delays
    assert bits["axon_type"] == 256 * 2
    # stochastic modes: a flag per axon type, a leak flag, the mask width k ∈ 0 … 18 (5 bits); leak reversal
    assert (per_neuron["stochastic_synapse"], per_neuron["stochastic_leak"], per_neuron["threshold_mask"],
            per_neuron["leak_reversal"]) == (4, 1, 5, 1)
    assert "stochastic_synapse" not in core_storage_bits(LOIHI_LIKE.core, 1)
    # footprint.md's table by hand: 164 bits per neuron (36 + 9 + 18 + 18 + 2 + 19 + 3 + 5 + 5 + 20 + 29),
    # 65 536 crossbar + 512 axon-type bits; state 256 x 20 membrane + 256 x 16 scheduler bits
    d = Deployment.empty(TRUENORTH, 3, 1, 1)
    d.enabled[0, :5] = True
    d.core_labels = ["a[0]", "a[1]", "b[0]"]
    fp = Footprint()(d)
    assert fp["bits_per_core"]["membrane"] == 256 * 20 and fp["bits_per_core"]["scheduler"] == 256 * 16
    per_core_bits = 65536 + 512 + 256 * 164 + 256 * 20 + 256 * 16
    assert per_core_bits == 117248 and sum(fp["bits_per_core"].values()) == per_core_bits
    assert fp["bytes"] == 3 * 117248 // 8 == 43968
    assert fp["parameter_bytes"] == 3 * (65536 + 512 + 256 * 164) // 8 and fp["state_bytes"] == 3 * 9216 // 8
    assert fp["per_layer_bytes"] == {"a": 29312, "b": 14656}
    # the float32 port: 256 weights into each of the 5 enabled neurons, + bias, threshold, membrane, 4 bytes each
    assert fp["float32_equivalent_bytes"] == 4 * (256 * 5 + 3 * 5) == 5180


@pytest.mark.parametrize(
    ("label", "key"),
    [("h[3]", "h"), ("copy2/hidden1[0]", "hidden1"), ("conv12", "conv"), ("template", "template"),
     ("", "(unlabelled)"), ("layer_2", "layer"), ("7", "7")],
)
def test_layer_key(label: str, key: str) -> None:
    assert layer_key(label) == key


def test_layer_groups_keep_order() -> None:
    d = Deployment.empty(TRUENORTH, 4, 1, 1)
    d.core_labels = ["in[0]", "in[1]", "out[0]", "in[2]"]
    g = layer_groups(d)
    assert list(g) == ["in", "out"] and g["in"].tolist() == [0, 1, 3]


def test_metrics_rows_for_a_table() -> None:
    from spikeforge.metrics import metrics_rows

    rows = dict(metrics_rows(compute_metrics(two_neuron_core())))  # static only: workload rows are n/a
    assert rows["footprint (bytes on chip)"] > 0 and rows["activation sparsity"] == "n/a"


def test_connection_sparsity_by_hand() -> None:
    from spikeforge.metrics import ConnectionSparsity

    # core 0 ("a"): 2 enabled neurons; 3 set bits, one of them on an axon whose type weight is 0 for neuron 1
    # core 1 ("b"): 1 enabled neuron, no set bit; a set bit into a disabled neuron counts for the crossbar only
    d = Deployment.empty(TRUENORTH, 2, 1, 1)
    d.core_labels = ["a[0]", "b[0]"]
    d.enabled[0, :2] = True
    d.enabled[1, 0] = True
    d.axon_type[0, :3] = [0, 0, 1]
    d.weights[0, 0] = [1, 2, 0, 0]
    d.weights[0, 1] = [1, 0, 0, 0]
    d.crossbar[0, 0, 0] = d.crossbar[0, 2, 0] = d.crossbar[0, 2, 1] = 1  # W_eff: (0,0)=1, (2,0)=2, (2,1)=0
    d.crossbar[1, 5, 7] = 1  # neuron 7 of core 1 is disabled
    cs = ConnectionSparsity()(d)
    assert cs["weights"] == 256 * 2 + 256 * 1
    assert cs["zero_weights"] == 768 - 2  # two non-zero effective weights
    assert cs["connection_sparsity"] == pytest.approx(766 / 768)
    assert cs["per_layer"] == {"a": pytest.approx(510 / 512), "b": 1.0}
    assert cs["crossbar_sparsity"] == pytest.approx(1 - 4 / (2 * 256 * 256))
