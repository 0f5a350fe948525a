"""The Python API meets likely mistakes with typed errors that say what to pass, and prints its results
compactly (found by a walkthrough of the API docs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import spikeforge as sf
from spikeforge.deploy import NeuronParams
from spikeforge.hardware import UnknownChipError, get_chip
from spikeforge.methods.template.build import build_template_deployment, class_templates


@pytest.fixture(scope="module")
def template() -> tuple[sf.Deployment, np.ndarray, np.ndarray]:
    ds = sf.load_dataset("digits")
    dep = build_template_deployment(class_templates(ds.x_train, ds.y_train, ds.n_classes))
    return dep, sf.threshold_encode(ds.x_test[:40], threshold=0.3), ds.y_test[:40]


def test_wrong_argument_types_are_named(template: tuple[sf.Deployment, np.ndarray, np.ndarray],
                                        tmp_path: Path) -> None:
    from spikeforge.energy.memory import memory_report_tensors

    dep, x, y = template
    r = sf.simulate(dep, x)
    with pytest.raises(TypeError, match=r"counts must be EventCounts, got SimResult; pass its \.counts"):
        sf.estimate_energy(r, "truenorth")  # type: ignore[arg-type]
    path = sf.save(dep, tmp_path / "t.sfd")
    for call in (lambda: sf.simulate(str(path), x), lambda: sf.evaluate_deployment(path, x, y),  # type: ignore
                 lambda: sf.check(path)):  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"expected a Deployment, got the path .*spikeforge.load\(path\)"):
            call()
    with pytest.raises(TypeError, match="check: expected a Deployment, got NoneType"):
        sf.check(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"expected a Recipe, got str; load it first: spikeforge.load_recipe"):
        sf.run_recipe("template-digits", tmp_path / "out")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="memory_report takes a Deployment, got Tensor"):
        sf.memory_report(torch.zeros(4, 4))
    with pytest.raises(TypeError, match="expected a mapping name → tensor"):
        memory_report_tensors(torch.zeros(4, 4), bits=4)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="chip must be a preset name, a chip file or a ChipSpec, got NoneType"):
        sf.Deployment.empty(None, 1, 4, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no inputs to evaluate"):
        sf.evaluate_deployment(dep, x[:0], y[:0])
    # un-encoded images: the channel count is named first (not a misleading ticks warning)
    with pytest.raises(ValueError, match=r"8 channels, the deployment's input map expects 64 \(are they encoded"):
        sf.evaluate_deployment(dep, sf.load_dataset("digits").x_test[:5], y[:5])


def test_metric_classes_take_a_result_or_its_counts(template: tuple[sf.Deployment, np.ndarray, np.ndarray]
                                                   ) -> None:
    import spikeforge.metrics as M

    dep, x, _ = template
    r = sf.simulate(dep, x)
    via_activity = M.ActivationSparsity()(dep, M.Activity.from_counts(dep, r.counts))
    assert M.ActivationSparsity()(dep, r) == via_activity == M.ActivationSparsity()(dep, r.counts)
    assert M.SynapticOperations()(dep, r)["synaptic_events"] == float(np.mean(r.counts.synaptic_events))
    with pytest.raises(TypeError, match="MembraneUpdates: expected an Activity, a SimResult or its EventCounts"):
        M.MembraneUpdates()(dep, [1, 2])  # type: ignore[arg-type]


def test_equality_and_compact_reprs(template: tuple[sf.Deployment, np.ndarray, np.ndarray],
                                    tmp_path: Path) -> None:
    dep, x, _ = template
    back = sf.load(sf.save(dep, tmp_path / "t.sfd"))
    assert dep == back and not (dep != back)
    other = sf.load(tmp_path / "t.sfd")
    other.leak[0, 0] += 1
    assert dep != other
    r = sf.simulate(dep, x)
    assert r != sf.simulate(dep, x)  # results compare by identity (no element-wise truth value to raise)
    text = repr(r)
    assert text.startswith("SimResult(batch=40, classes=10, ticks=1") and len(text) < 300
    e = sf.estimate_energy(r.counts, "truenorth", dep)
    assert repr(e).startswith("EnergyReport(chip='truenorth', regime='sequential', batch=40") and len(repr(e)) < 300


def test_compare_runs_takes_one_path(template: tuple[sf.Deployment, np.ndarray, np.ndarray],
                                     tmp_path: Path) -> None:
    dep, x, y = template
    sf.write_report(tmp_path / "rep1", dep, sf.evaluate_deployment(dep, x, y))
    assert [r["label"] for r in sf.compare_runs(str(tmp_path / "rep1"))] == ["rep1"]


def test_memory_report_criteria_and_skipped_kernels() -> None:
    from spikeforge.energy.memory import memory_report_tensors

    rep = memory_report_tensors({"fc": np.ones((4, 8))}, bits=4)
    with pytest.raises(ValueError, match="criterion must be one of training, inference, footprint, got 'bogus'"):
        rep.cheapest("bogus")
    with pytest.raises(ValueError, match="criterion must be one of"):
        rep.layers[0].cheapest("bogus")
    with pytest.warns(UserWarning, match=r"tensor 'conv': a 3x5 kernel is left out"):
        empty = memory_report_tensors({"conv": np.ones((8, 1, 3, 5))}, bits=4)
    with pytest.raises(ValueError, match="the report has no layers"):
        empty.cheapest()


def test_chip_names_and_neuron_parameters() -> None:
    assert get_chip("TrueNorth").name == "truenorth" and get_chip("LOIHI-LIKE").name == "loihi-like"
    with pytest.raises(UnknownChipError) as info:
        get_chip("tn")
    assert str(info.value).startswith("unknown chip preset 'tn'; known presets: loihi-like, truenorth")
    assert isinstance(info.value, KeyError)
    p = NeuronParams.memoryless([1, -1])  # a list: kept as a tuple, so the parameters stay hashable
    assert p.weights == (1, -1) and hash(p) == hash(NeuronParams.memoryless((1, -1)))
    with pytest.raises(ValueError, match=r"weights must be a sequence with one entry per axon type, e.g. \(1, -1\)"):
        NeuronParams.memoryless(1)  # type: ignore[arg-type]


def test_extract_layers_checks_the_input_shape() -> None:
    from torch import nn

    from spikeforge.methods.layerwise.ann import extract_layers

    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    assert len(extract_layers(model, (64,))) == 1
    with pytest.raises(ValueError, match=r"module 1 \(Linear\) takes 64 inputs but receives 784"):
        extract_layers(model)  # the default (1, 28, 28)
