"""The recipe entry point and the convert() API on a tiny configuration."""

from __future__ import annotations

import json

from spikeforge.deploy import load
from spikeforge.methods.layerwise.pipeline import run
from spikeforge.recipes import load_recipe


def test_shipped_recipe_parses():
    r = load_recipe("layerwise-mnist-mlp")
    assert r.method == "layerwise"
    assert "method" not in r.config.get("layerwise", {}) or isinstance(r.config["layerwise"]["method"], str)


def test_pipeline_run_digits(tmp_path):
    cfg = {"name": "t", "method": "layerwise", "chip": "truenorth", "seed": 0,
           "data": {"dataset": "digits"}, "ann": {"arch": "mlp:64-16-10", "epochs": 20, "lr": 0.003},
           "layerwise": {"constraints": "digital", "ticks": 8, "n_calib": 150, "n_test": 40}}
    res = run(cfg, tmp_path)
    assert (tmp_path / "deployment.sfd").exists()
    dep = load(tmp_path / "deployment.sfd")
    assert dep.chip.name == "truenorth"
    assert res["regime"] == "sequential"
    # the reported accuracy is the deployment's on the simulator, and the conversion works (measured: SNN
    # 87.5 %, 97.5 % agreement with the ANN on these 40 images)
    from spikeforge.data import load_dataset, regular_encode
    from spikeforge.sim import simulate

    ds = load_dataset("digits")
    assert res["snn_accuracy"] == simulate(dep, regular_encode(ds.x_test[:40], 8)).accuracy(ds.y_test[:40])
    assert res["snn_accuracy"] >= 0.8 and res["agreement"] >= 0.9
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["snn_accuracy"] == res["snn_accuracy"]


def test_convert_api_analog_writes_network(tmp_path):
    import torch

    from spikeforge.data import load_dataset
    from spikeforge.methods.layerwise.ann import build_model, train_model
    from spikeforge.methods.layerwise.api import convert, save_model

    torch.set_num_threads(1)
    ds = load_dataset("digits")
    model = build_model("mlp:64-16-10")
    train_model(model, ds.x_train.reshape(len(ds.x_train), -1) / 255.0, ds.y_train, epochs=15, lr=3e-3,
                image_shape=(64,))
    path = save_model(model, "mlp:64-16-10", tmp_path / "ann.pt")
    res = convert(path, "analog", tmp_path / "out", ticks=16, dataset="digits", n_calib=150, n_test=40)
    assert (tmp_path / "out" / "network.npz").exists()
    assert res["evaluator"] == "tick-model" and res["agreement"] >= 0.8
    # digital: the deployment is simulated once; its predictions, accuracy and energy come from that run
    lines: list[str] = []
    dig = convert(path, "digital", tmp_path / "dig", chip="loihi-like", ticks=16, dataset="digits", n_calib=150,
                  n_test=40, model=model, log=lines.append)
    assert lines[0].startswith("converting 2 layers (layerwise, digital loihi-like, T = 16) on 150 calibration")
    assert lines[-1].startswith("simulating the deployment") and lines[-1].endswith("on 40 test images")
    from spikeforge.data import regular_encode
    from spikeforge.sim import simulate

    sim = simulate(load(tmp_path / "dig" / "deployment.sfd"), regular_encode(ds.x_test[:40], 16))
    assert dig["snn_accuracy"] == sim.accuracy(ds.y_test[:40]) and dig["regime"] == "sequential"
    assert dig["uJ_per_image"] > 0 and dig["n_inputs"] == 40


def test_bad_ticks_fail_before_the_ann_is_trained(tmp_path) -> None:
    import pytest

    with pytest.raises(ValueError, match=r"\[layerwise\] ticks must be an integer >= 1 or 'auto', got 'soon'"):
        run({"data": {"dataset": "digits"}, "layerwise": {"ticks": "soon"}}, tmp_path, None)
    assert not (tmp_path / "ann.pt").exists()
