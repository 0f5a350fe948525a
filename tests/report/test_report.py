"""The run report: every file written, every figure referenced, readable without spikeforge."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from helpers import random_deployment, random_spikes
from spikeforge.deploy import Deployment, load
from spikeforge.report import report_inputs, utilisation, write_report
from spikeforge.sim import simulate


@pytest.fixture(scope="module")
def template() -> tuple[Deployment, dict[str, object]]:
    from spikeforge.data import load_dataset
    from spikeforge.methods.template.build import build_template_deployment, class_templates

    ds = load_dataset("digits")
    dep = build_template_deployment(class_templates(ds.x_train, ds.y_train, ds.n_classes, 0.2),
                                    provenance={"method": "template", "dataset": "digits",
                                                "encoding": {"kind": "threshold", "ticks": 1, "threshold": 0.3}})
    results = {"recipe": "template-digits", "dataset": "digits", "n_inputs": 360, "accuracy": 0.725,
               "uJ_per_image": 0.0646, "mW": 0.0646, "fps": 1000.0, "fps_per_W": 1.5e7, "regime": "pipelined",
               "latency_ticks": 0}
    return dep, results


def png_ok(p: Path) -> bool:
    data = p.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_report_from_inputs_writes_everything(tmp_path: Path, template: tuple[Deployment, dict[str, object]]) -> None:
    dep, results = template
    x, _, name = report_inputs(dep, limit=64)  # dataset and encoder from the deployment's provenance
    assert name == "digits" and x.shape == (64, 1, 64)
    index = write_report(tmp_path / "rep", dep, results, inputs=x)
    out = index.parent
    text = index.read_text()
    pngs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert set(pngs) == {"accuracy_vs_energy.png", "chip_map.png", "raster.png", "layer_activity.png"}
    assert all(png_ok(out / p) for p in pngs)
    assert "72.50 %" in text and "| template |" in text
    # non-scalar provenance (the test-time encoding) is shown too, as compact JSON
    assert 'encoding = `{"kind":"threshold","threshold":0.3,"ticks":1}`' in text
    again = load(out / "deployment.sfd")
    assert np.array_equal(again.crossbar, dep.crossbar)
    assert json.loads((out / "results.json").read_text())["accuracy"] == 0.725
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["samples"] == 64 and metrics["neurobench"]["ConnectionSparsity"] == pytest.approx(0.75)
    # the metrics are those of the regime evaluation uses, and the page says which run they come from
    from spikeforge.evaluate import evaluate_deployment

    want = evaluate_deployment(dep, x, np.zeros(64, np.int64), metrics=True)["metrics"]
    assert metrics["neurobench"]["ActivationSparsity"] == want["neurobench"]["ActivationSparsity"]
    assert "Activity and workload metrics: a pipelined run of the first 64 test inputs." in " ".join(text.split())


def test_report_without_activity_says_so(tmp_path: Path, template: tuple[Deployment, dict[str, object]]) -> None:
    dep, results = template
    index = write_report(tmp_path / "rep", dep, {k: v for k, v in results.items() if k != "uJ_per_image"})
    text = index.read_text()
    assert "No activity" in text and "No raster" in text
    assert not (index.parent / "raster.png").exists() and not (index.parent / "accuracy_vs_energy.png").exists()
    assert png_ok(index.parent / "chip_map.png")


def test_report_from_a_recorded_multi_core_run(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    dep = random_deployment(rng, n_cores=3)
    dep.core_labels = ["in[0]", "in[1]", "out[0]"]
    x = random_spikes(rng, 6, 3, dep.n_inputs)
    r = simulate(dep, x, ticks=6, record_spikes=True)
    index = write_report(tmp_path / "rep", dep, {"accuracy": 0.1, "uJ_per_image": 1.0}, r, inputs=x, n_raster=2)
    text = index.read_text()
    assert "| in | 2 |" in text and "| out | 1 |" in text
    assert png_ok(index.parent / "raster.png")


def test_utilisation_counts_driven_axons_and_enabled_neurons(template: tuple[Deployment, dict[str, object]]) -> None:
    dep, _ = template
    axons, neurons = utilisation(dep)
    assert axons[0] == pytest.approx(128 / 256) and neurons[0] == pytest.approx(250 / 256)


def test_long_provenance_entries_are_cut_with_an_ellipsis(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    dep = random_deployment(rng, n_cores=1)
    dep.provenance = {"method": "x", "shifts": list(range(200))}
    text = write_report(tmp_path / "rep", dep, {"accuracy": 0.5}).read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("Provenance:"))
    shown = line.split("shifts = `")[1].split("`")[0]
    assert shown.startswith("[0,1,2,") and shown.endswith("…") and len(shown) == 160
