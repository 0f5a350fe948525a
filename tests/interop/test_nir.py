"""NIR export/import: what is exact, what is refused, what approximated, and lossless round trips."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nir")

import nir
from nirtools import CHIP, chain_if_deployment, layered_if_deployment, random_inputs

from spikeforge.deploy import Deployment
from spikeforge.interop import (
    NIRExportError,
    NIRImportError,
    NIRImportWarning,
    deployment_to_nir,
    export_nir,
    import_nir,
    plan_nir,
)
from spikeforge.interop.nir import IF_NODE, THRESHOLD_NODE, _same_graph
from spikeforge.sim import simulate


def same_arrays(a: Deployment, b: Deployment) -> bool:
    return all(np.array_equal(v, getattr(b, k)) for k, v in a.arrays().items())


def on_steps(d: Deployment, x: np.ndarray, steps: int = 6) -> np.ndarray:
    """Output spikes (B, steps, M), element m read from tick s + depth of its core."""
    off = plan_nir(d).depth[d.output_core]
    r = simulate(d, x, ticks=steps + int(off.max()), record_outputs=True)
    assert r.output_spikes is not None
    return np.stack([r.output_spikes[:, o : o + steps, m] for m, o in enumerate(off)], axis=2)


def mixed_deployment(seed: int) -> Deployment:
    """Branches, a join, two output depths, a memoryless core with negative weights, reset value 1."""
    d = layered_if_deployment(seed, reset_value=1)
    rng = np.random.default_rng(seed + 100)
    d.threshold[1] = d.neg_threshold[1] = d.reset_value[1] = 0
    d.weights[1] = rng.integers(-3, 4, (16, 4))
    d.leak[1] = -1
    return d


def test_template_is_exact_thresholds_or_one_tick_ifs(digits_template: tuple[Deployment, np.ndarray]) -> None:
    dep, _ = digits_template
    plan = plan_nir(dep)
    assert plan.exact and set(np.unique(plan.kind[dep.enabled])) == {THRESHOLD_NODE}
    one = plan_nir(dep, ticks=1)  # each neuron evaluated once: reset and floor cannot show
    assert one.exact and set(np.unique(one.kind[dep.enabled])) == {IF_NODE}
    g = deployment_to_nir(dep, ticks=1)
    assert {type(n).__name__ for n in g.nodes.values()} == {"Input", "Linear", "Affine", "IF", "Output"}
    assert ("core0", "output") in g.edges  # output map = all neurons in order: a direct edge


def _set(name: str, core: int, value: object, j: slice | int = slice(None)) -> Callable[[Deployment], None]:
    def f(d: Deployment) -> None:
        getattr(d, name)[core, j] = value
    return f


def _merge(d: Deployment) -> None:
    d.dest_axon[0, 1] = d.dest_axon[0, 0]


def _skew(d: Deployment) -> None:
    d.dest_delay[0, 5] = d.dest_delay[0, 0] + 1


def _loop(d: Deployment) -> None:
    d.output_core = d.output_core[1:]
    d.output_neuron = d.output_neuron[1:]
    d.output_class = d.output_class[1:]
    d.dest_core[2, 0], d.dest_axon[2, 0] = 0, 31


def _reversal(d: Deployment) -> None:
    d.leak_reversal[1, 2] = True
    d.leak[1, 2] = -1


def _stochastic_synapse(d: Deployment) -> None:
    d.stochastic_synapse[0, 5, :] = True


def _negative(d: Deployment) -> None:
    d.weights[1, 4, :] = -2


@pytest.mark.parametrize(
    ("mutate", "feature", "cores"),
    [
        (_set("reset_mode", 1, 1, 2), "linear-reset", (1,)),
        (_set("reset_mode", 2, 2, 0), "no-reset", (2,)),
        (_set("v_init", 0, 1, 3), "initial-potential", (0,)),
        (_negative, "negative-floor", (1,)),
        (_set("leak", 2, 1, 6), "activity-before-input", (2,)),
        (_merge, "axon-merging", (1,)),
        (_skew, "unequal-path-delays", (1, 2)),
        (_loop, "recurrent-routing", (0, 1, 2)),
        (_set("threshold", 1, 2**17 - 1, 0), "saturation", (1,)),  # the 18-bit membrane's largest value
        (_set("stochastic_leak", 1, True, 3), "stochastic-modes", (1,)),
        (_set("threshold_mask", 2, 7, 1), "stochastic-modes", (2,)),
        (_stochastic_synapse, "stochastic-modes", (0,)),
        (_reversal, "leak-reversal", (1,)),
    ],
)
def test_inexpressible_feature_is_refused_naming_cores_or_approximated(
    mutate: Callable[[Deployment], None], feature: str, cores: tuple[int, ...], tmp_path: Path
) -> None:
    d = chain_if_deployment(3)
    d.weights[1] = np.minimum(d.weights[1], 3)
    if feature == "saturation":
        d.weights[1, 0] = 255
        d.crossbar[1, :, 0] = 1
        d.chip = d.chip.__class__(**{**d.chip.__dict__, "core": d.chip.core.__class__(
            **{**d.chip.core.__dict__, "membrane_bits": 18, "threshold_max": 2**18 - 1})})
    mutate(d)
    with pytest.raises(NIRExportError) as err:
        export_nir(d, tmp_path / "x.nir")
    msg = str(err.value)
    assert feature in msg and f"core(s) {', '.join(map(str, cores))}" in msg
    assert not (tmp_path / "x.nir").exists()
    plan = export_nir(d, tmp_path / "x.nir", approximate=True)
    assert feature in {f.name for f in plan.features}
    g = nir.read(tmp_path / "x.nir")
    assert int(g.metadata["exact"]) == 0
    recorded = json.loads(g.metadata["approximations"])
    assert feature in {r["feature"] for r in recorded}
    assert all(r["approximation"] for r in recorded)


def test_short_run_claim_needs_ticks_past_first_output() -> None:
    d = chain_if_deployment(0)
    depth = int(plan_nir(d).depth.max())
    with pytest.raises(ValueError, match="before the first output"):
        plan_nir(d, ticks=depth)
    assert plan_nir(d, ticks=depth + 1).steps == 1


@pytest.mark.parametrize("build", [chain_if_deployment, mixed_deployment])
def test_export_import_export_round_trips_exactly(build: Callable[[int], Deployment], tmp_path: Path) -> None:
    d = build(1)
    export_nir(d, tmp_path / "a.nir")
    back = import_nir(tmp_path / "a.nir")
    assert same_arrays(d, back) and back.chip == d.chip and back.core_labels == d.core_labels
    again = deployment_to_nir(back)
    assert _same_graph(nir.read(tmp_path / "a.nir"), again)


@pytest.mark.parametrize("build", [chain_if_deployment, mixed_deployment])
def test_import_from_primitives_alone_behaves_identically(build: Callable[[int], Deployment]) -> None:
    d = build(2)
    g = deployment_to_nir(d, embed=False)
    back = import_nir(g, CHIP)
    x = random_inputs(2, 16, 3)
    # the import gives every route a delay of 1: compare on the NIR step axis (each output at its own offset)
    a, b = on_steps(d, x), on_steps(back, x)
    assert np.array_equal(a, b) and a.any() and not a.all()
    # a fixed point: the imported deployment's graph imports to the same deployment
    again = import_nir(deployment_to_nir(back, embed=False), CHIP)
    assert same_arrays(back, again)


def test_template_round_trips_through_primitives(digits_template: tuple[Deployment, np.ndarray]) -> None:
    dep, x = digits_template
    back = import_nir(deployment_to_nir(dep, embed=False))
    assert np.array_equal(simulate(dep, x).class_counts, simulate(back, x).class_counts)
    # without the embedded deployment, the graph still says how to feed it: the encoding comes back
    dep.provenance.update(encoding={"kind": "threshold", "ticks": 1, "threshold": 0.3}, dataset="digits")
    back = import_nir(deployment_to_nir(dep, embed=False))
    assert back.provenance["encoding"] == dep.provenance["encoding"] and back.provenance["dataset"] == "digits"
    assert back.provenance["method"] == "nir-import"


def test_edited_graph_is_imported_from_its_primitives() -> None:
    d = chain_if_deployment(4)
    g = deployment_to_nir(d)
    g.nodes["core0_syn"].bias[:] = 0  # edited after export: the embedded deployment no longer matches
    with pytest.warns(NIRImportWarning, match="the graph's primitives differ from the deployment embedded"):
        back = import_nir(g, CHIP)  # said on stderr too: a corrupt file looks the same (HDF5 has no checksum)
    assert (back.leak == 0).all() and not same_arrays(d, back)
    assert "embedded deployment ignored" in " ".join(back.provenance["nir_import"]["notes"])


def test_a_corrupt_embedded_deployment_names_the_graph_file(tmp_path: Path) -> None:
    g = deployment_to_nir(chain_if_deployment(4))
    blob = np.array(g.metadata["spikeforge_deployment"], np.uint8)
    blob[len(blob) // 2] ^= 0x55  # one flipped byte inside the embedded archive
    g.metadata["spikeforge_deployment"] = blob
    nir.write(tmp_path / "g.nir", g)
    with pytest.raises(NIRImportError, match=r"g.nir: its embedded spikeforge deployment is unreadable") as info:
        import_nir(tmp_path / "g.nir", CHIP)
    assert "embedded.sfd" not in str(info.value)  # not the temporary file it was unpacked to


def _foreign(weight: np.ndarray, bias: np.ndarray, thr: float, node: str = "IF") -> nir.NIRGraph:
    n = weight.shape[0]
    neuron = (nir.IF(r=np.ones(n), v_threshold=np.full(n, thr), v_reset=np.zeros(n)) if node == "IF"
              else nir.LIF(tau=np.ones(n), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, thr)))
    return nir.NIRGraph.from_list(nir.Input(input_type=np.array([weight.shape[1]])),
                                  nir.Affine(weight=weight, bias=bias), neuron,
                                  nir.Output(output_type=np.array([n])))


def test_foreign_graph_maps_onto_a_core() -> None:
    w = np.array([[1.0, 2.0, 0.0, 3.0], [2.0, 2.0, 1.0, 0.0], [0.0, 0.0, 4.0, 1.0]])
    dep = import_nir(_foreign(w, np.zeros(3), 2.0), "truenorth")
    assert dep.n_cores == 1 and dep.threshold[0, :3].tolist() == [3, 3, 3]  # v > 2 ⇔ V ≥ 3
    assert np.array_equal(dep.effective_weights()[0][:, :3][dep.input_axon].sum(axis=0), w.sum(axis=1))
    x = np.eye(4, dtype=np.uint8)[None].repeat(2, 0)  # channel k alone at tick k
    r = simulate(dep, x, ticks=4, record_outputs=True)
    v = np.cumsum(w.T, axis=0)  # no spike before the first crossing, all weights positive
    first = (v > 2).argmax(axis=0)
    assert [int(np.flatnonzero(r.output_spikes[0, :, j])[0]) for j in range(3)] == first.tolist()


def test_foreign_graph_problems_are_named() -> None:
    w = np.array([[1.5, 0.0], [0.0, 1.0]])
    with pytest.raises(NIRImportError, match="not integers"):
        import_nir(_foreign(w, np.zeros(2), 0.5))
    dep = import_nir(_foreign(w, np.zeros(2), 0.5), approximate=True)
    assert "rounded" in " ".join(dep.provenance["nir_import"]["notes"])
    with pytest.raises(NIRImportError, match="LIF"):
        import_nir(_foreign(np.eye(2), np.zeros(2), 0.5, node="LIF"))
    with pytest.raises(NIRExportError, match="negative-floor"):  # the chip's floor could clip this IF
        import_nir(_foreign(np.array([[1.0, -1.0]]), np.zeros(1), 0.5))
    # NaN and infinity are refused even when approximating (they used to become zeros)
    for approximate in (False, True):
        with pytest.raises(NIRImportError, match=r"node '.*': weight holds 1 NaN or infinite value\(s\)"):
            import_nir(_foreign(np.array([[1.0, np.nan]]), np.zeros(1), 0.5), approximate=approximate)
        with pytest.raises(NIRImportError, match=r"node '.*': v_threshold holds 1 NaN or infinite value\(s\)"):
            import_nir(_foreign(np.eye(1), np.zeros(1), np.inf), approximate=approximate)


def test_neuron_driving_two_cores_is_refused() -> None:
    big = 300  # > 256 neurons: the second layer spans two cores, so a first-layer neuron would need two routes
    g = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([2])),
        nir.Linear(weight=np.ones((2, 2))),
        nir.IF(r=np.ones(2), v_threshold=np.full(2, 0.5), v_reset=np.zeros(2)),
        nir.Linear(weight=np.ones((big, 2))),
        nir.IF(r=np.ones(big), v_threshold=np.full(big, 0.5), v_reset=np.zeros(big)),
        nir.Output(output_type=np.array([big])),
    )
    with pytest.raises(NIRImportError, match="more than one core"):
        import_nir(g)


def test_command_helpers_round_trip_a_file(tmp_path: Path, digits_template: tuple[Deployment, np.ndarray]) -> None:
    from spikeforge.deploy import load, save
    from spikeforge.interop import export_nir_file, import_nir_file

    dep, _ = digits_template
    save(dep, tmp_path / "t.sfd")
    info = export_nir_file(tmp_path / "t.sfd", tmp_path / "t.nir", ticks=1)
    assert info["exact"] and info["nodes"] == {"IF": 250, "Threshold": 0} and info["tick_offsets"] == [0]
    back = import_nir_file(tmp_path / "t.nir")
    assert back["from_embedded"] and back["path"] == str(tmp_path / "t.sfd")
    assert same_arrays(dep, load(tmp_path / "t.sfd"))
    d = chain_if_deployment(0)
    d.reset_mode[1, 0] = 1
    save(d, tmp_path / "c.sfd")
    with pytest.raises(NIRExportError, match="linear-reset"):
        export_nir_file(tmp_path / "c.sfd", tmp_path / "c.nir")
    info = export_nir_file(tmp_path / "c.sfd", tmp_path / "c.nir", approximate=True)
    assert not info["exact"] and info["approximations"][0]["feature"] == "linear-reset"
    again = import_nir_file(tmp_path / "c.nir", tmp_path / "c2.sfd", chip=None)
    assert again["from_embedded"]


def test_values_beyond_the_chip_are_named_not_wrapped() -> None:
    eye = np.eye(2)
    cases = [
        (_foreign(eye, np.zeros(2), 2.0**32 + 4), r"node '.*': threshold 4294967301 \(entry 0\) is outside the "
                                                  r"range \[0, 262143\] of chip 'truenorth'"),
        (_foreign(eye, np.array([2.0**32, 0.0]), 0.5), r"leak \(bias\) 4294967296 \(entry 0\) is outside"),
        (_foreign(np.array([[2.0**32, 0.0], [0.0, 1.0]]), np.zeros(2), 0.5), r"synaptic weight 4294967296"),
    ]
    for graph, message in cases:
        with pytest.raises(NIRImportError, match=message):
            import_nir(graph, approximate=True)


def test_output_metadata_problems_are_named() -> None:
    g = _foreign(np.eye(2), np.zeros(2), 0.5)
    g.nodes[next(k for k, v in g.nodes.items() if isinstance(v, nir.Output))].metadata = {"output_class": [1]}
    with pytest.raises(NIRImportError, match="'output_class' has 1 entries for its 2 outputs"):
        import_nir(g)
    g.nodes[next(k for k, v in g.nodes.items() if isinstance(v, nir.Output))].metadata = {"n_classes": "abc"}
    with pytest.raises(NIRImportError, match="are not integers"):
        import_nir(g)
    out = next(k for k, v in g.nodes.items() if isinstance(v, nir.Output))
    g.nodes[out] = nir.Output(output_type={"output": np.array([3])})  # reads 2 neurons' spikes
    with pytest.raises(NIRImportError, match=r"declares 3 outputs but reads 2 from"):
        import_nir(g)


def test_export_and_embedded_import_apply_the_design_rules(tmp_path: Path) -> None:
    from spikeforge.hardware import DesignRuleError

    d = chain_if_deployment(0)
    d.weights[1, 0, 0] = 100_000  # beyond the chip's weight range
    with pytest.raises(DesignRuleError, match="WEIGHT-RANGE"):
        export_nir(d, tmp_path / "x.nir")
    assert not (tmp_path / "x.nir").exists()
    # a graph carrying a rule-breaking deployment (written by an older spikeforge) imports from its primitives
    from spikeforge.interop.nir import _deployment_bytes, nir_to_deployment

    good = chain_if_deployment(0)
    g = deployment_to_nir(good)
    g.metadata["spikeforge_deployment"] = _deployment_bytes(d)
    back = nir_to_deployment(g, CHIP)
    assert (back.weights <= CHIP.core.weight_max).all()
    assert "embedded deployment ignored" in " ".join(back.provenance["nir_import"]["notes"])


def test_foreign_graph_maps_onto_a_multibit_crossbar() -> None:
    """On the Loihi-like preset (one axon type, 9-bit crossbar) every line is one axon whose crossbar entries
    hold the weights; on TrueNorth the same graph needs axon types. Both behave alike."""
    w = np.array([[1.0, 2.0, 3.0, 7.0], [4.0, 5.0, 6.0, 0.0], [0.0, 9.0, 1.0, 2.0]])
    g = _foreign(w, np.zeros(3), 4.5)
    x = np.eye(4, dtype=np.uint8)[None].repeat(2, 0)
    tn, lo = import_nir(g, "truenorth"), import_nir(g, "loihi-like")
    assert sorted(np.unique(lo.crossbar).tolist()) == [0, 1, 2, 3, 4, 5, 6, 7, 9]
    assert (lo.weights[0, :3, 0] == 1).all()
    for d in (tn, lo):  # channel k's weight onto neuron j: summed over the axons the input map gives it
        per_channel = np.zeros((4, 3))
        np.add.at(per_channel, d.input_channel, d.effective_weights()[0][:, :3][d.input_axon])
        np.testing.assert_array_equal(per_channel.T, w)
    assert lo.input_axon.size == 4 < tn.input_axon.size  # one axon per channel on the multi-bit crossbar
    np.testing.assert_array_equal(simulate(tn, x, ticks=4, record_outputs=True).output_spikes,
                                  simulate(lo, x, ticks=4, record_outputs=True).output_spikes)
    with pytest.raises(NIRImportError, match=r"weight 300 of neuron 0 is outside the chip's crossbar range"):
        import_nir(_foreign(np.array([[300.0]]), np.zeros(1), 0.5), "loihi-like")


def test_nir_files_are_read_in_a_child_that_cannot_hang_the_caller(tmp_path: Path) -> None:
    import os
    import time

    from spikeforge.nirread import NIRReadError, read_graph

    g = deployment_to_nir(chain_if_deployment(4))
    nir.write(tmp_path / "g.nir", g)
    assert _same_graph(read_graph(tmp_path / "g.nir"), g)
    (tmp_path / "text.nir").write_text("not HDF5")
    with pytest.raises(NIRReadError, match=r"text.nir: not a readable NIR file: OSError"):
        read_graph(tmp_path / "text.nir")
    # a read that never finishes (here: a FIFO nobody writes; in the field, a damaged HDF5 file on which the
    # library loops in C code) is stopped and the file named
    fifo = tmp_path / "stuck.nir"
    os.mkfifo(fifo)
    t0 = time.perf_counter()
    with pytest.raises(NIRReadError, match=r"stuck.nir: reading it did not finish in 2 s"):
        read_graph(fifo, timeout_s=2)
    assert time.perf_counter() - t0 < 30


def test_a_missing_edge_is_named_through_the_extra_io_nodes() -> None:
    g = deployment_to_nir(chain_if_deployment(4), embed=False)
    cut = nir.NIRGraph(nodes=g.nodes, edges=[e for e in g.edges if e[1] != "output"], metadata=g.metadata)
    with pytest.raises(NIRImportError, match=r"found 2 \(input, input_output\) and 2 \(output, output_core2\); .* "
                                             r"usually means a missing edge"):
        import_nir(cut, CHIP)
