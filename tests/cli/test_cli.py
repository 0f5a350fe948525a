"""End-to-end CLI tests on scikit-learn's digits (offline, seconds)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from helpers import SIM_DEVICE
from spikeforge.cli import main
from spikeforge.deploy import load, save
from spikeforge.recipes import RecipeError, list_recipes, load_recipe


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, object]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def test_run_default_recipe_writes_deployment_and_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, res = run_json(capsys, "run", "template-digits", "--out", str(tmp_path / "r"))
    assert code == 0
    assert isinstance(res, dict)
    assert (tmp_path / "r" / "deployment.sfd").is_file()
    saved = json.loads((tmp_path / "r" / "results.json").read_text())
    assert saved["accuracy"] == res["accuracy"]
    # the hand-built template matcher is far above chance (10 %) on digits
    assert res["accuracy"] > 0.6
    assert res["cores"] == 1 and res["regime"] == "pipelined"
    assert res["uJ_per_image"] > 0 and res["fps"] == pytest.approx(1000.0)


def test_check_simulate_energy_on_saved_deployment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["run", "template-digits", "--out", str(tmp_path / "r"), "--json"])
    capsys.readouterr()
    dep_path = str(tmp_path / "r" / "deployment.sfd")
    code, chk = run_json(capsys, "check", dep_path)
    assert code == 0 and isinstance(chk, dict) and chk["ok"] is True
    code, sim = run_json(capsys, "simulate", dep_path, "-d", "digits", "--limit", "40", "--threshold", "0.3")
    assert code == 0 and isinstance(sim, dict) and sim["n_inputs"] == 40
    code, en = run_json(capsys, "energy", dep_path, "-d", "digits", "--limit", "40", "--threshold", "0.3")
    assert code == 0 and isinstance(en, dict)
    assert en["energy_uj"] == pytest.approx(sum(en["breakdown_uj"].values()))
    assert en["energy_uj"] == pytest.approx(sim["uJ_per_image"])
    assert (en["uJ_per_image"], en["mW"], en["fps_per_W"]) == (sim["uJ_per_image"], sim["mW"], sim["fps_per_W"])
    # --device: the same answer on the CPU (and on SPIKEFORGE_TEST_DEVICE); an unknown device is named
    for device in sorted({"cpu", SIM_DEVICE}):
        code, on = run_json(capsys, "simulate", dep_path, "-d", "digits", "--limit", "40", "--threshold", "0.3",
                            "--device", device)
        assert code == 0 and isinstance(on, dict)
        assert (on["accuracy"], on["events_per_input"]) == (sim["accuracy"], sim["events_per_input"])
    assert main(["simulate", dep_path, "-d", "digits", "--limit", "4", "--device", "gpu"]) == 2
    assert "unknown device 'gpu'" in capsys.readouterr().err


def test_check_reports_every_violation_and_exits_nonzero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["run", "template-digits", "--out", str(tmp_path / "r"), "--json"])
    capsys.readouterr()
    dep = load(tmp_path / "r" / "deployment.sfd")
    dep.leak[0, 0] = 999
    dep.weights[0, 1, 0] = -300
    bad = tmp_path / "bad.sfd"
    save(dep, bad, check_rules=False)
    code, chk = run_json(capsys, "check", str(bad))
    assert code == 1 and isinstance(chk, dict)
    rules = sorted(v["rule"] for v in chk["violations"])
    assert rules == ["LEAK-RANGE", "WEIGHT-RANGE"]
    # loading it for simulation refuses it with a clear error
    assert main(["simulate", str(bad), "-d", "digits"]) == 2
    assert "LEAK-RANGE" in capsys.readouterr().err


def test_simulate_rejects_wrong_dataset_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    main(["run", "template-digits", "--out", str(tmp_path / "r"), "--json"])
    capsys.readouterr()
    import spikeforge.data as data

    real = data.load_dataset

    def wider(name: str, data_dir: object = None, **kw: object) -> data.Dataset:
        ds = real("digits")
        pad = lambda x: np.pad(x, ((0, 0), (0, 1), (0, 0)))  # noqa: E731
        return data.Dataset("digits", pad(ds.x_train), ds.y_train, pad(ds.x_test), ds.y_test, 10, ds.classes)

    monkeypatch.setattr(data, "load_dataset", wider)
    assert main(["simulate", str(tmp_path / "r" / "deployment.sfd"), "-d", "digits"]) == 2
    assert "72 channels but the deployment expects 64" in " ".join(capsys.readouterr().err.split())
    assert main(["simulate", str(tmp_path / "r" / "deployment.sfd"), "-d", "digits", "--threshold", "2"]) == 2
    assert "error: threshold must be in [0, 1], got 2.0" in capsys.readouterr().err


def test_recipes_listing_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "template-digits" in list_recipes()
    code, rows = run_json(capsys, "recipes")
    assert code == 0 and isinstance(rows, list) and any(r["default"] for r in rows)
    with pytest.raises(RecipeError, match="no recipe named"):
        load_recipe("no-such-recipe")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = 'x'\n")
    with pytest.raises(RecipeError, match="missing required key 'method'"):
        load_recipe(broken)
    broken.write_text("name = 'x'\nmethod = 'nonsense'\n")
    assert main(["run", str(broken), "--out", str(tmp_path / "o")]) == 2
    assert "unknown method 'nonsense'" in capsys.readouterr().err


def test_chips_and_data_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, chips = run_json(capsys, "chips")
    assert code == 0 and isinstance(chips, dict)
    assert chips["truenorth"]["core"]["n_axons"] == 256
    assert chips["truenorth"]["mesh_rows"] * chips["truenorth"]["mesh_cols"] == 4096
    assert chips["truenorth"]["core"]["stochastic_modes"] is True
    assert chips["loihi-like"]["core"]["stochastic_modes"] is False
    assert main(["chips"]) == 0
    table = capsys.readouterr().out
    assert "stochastic modes" in table and "yes (mask <= 18 bit)" in table and "loihi-like" in table
    code, rows = run_json(capsys, "data", "list")
    assert code == 0 and isinstance(rows, list)
    assert any(r["name"] == "digits" and r["found"] for r in rows)


def test_memory_command_names_cheapest_encoding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["run", "template-digits", "--out", str(tmp_path / "r"), "--json", "--no-report"])
    capsys.readouterr()
    code, rep = run_json(capsys, "memory", str(tmp_path / "r" / "deployment.sfd"))
    assert code == 0 and isinstance(rep, dict)
    totals = rep["totals"]
    assert {"Crossbar", "PB-BMP", "PB-CSR"} <= set(totals)
    best = min(totals, key=lambda k: totals[k]["training_j"])
    assert rep["cheapest"]["training"] == best
    # the dense 1-bit crossbar stores exactly axons x neurons bits per core
    assert totals["Crossbar"]["footprint_bits"] == 256 * 256
    png = tmp_path / "mem.png"
    assert main(["memory", str(tmp_path / "r" / "deployment.sfd"), "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG" and f"plot: {png}" in " ".join(capsys.readouterr().out.split())
    # model-only options are refused for a deployment instead of silently ignored
    assert main(["memory", str(tmp_path / "r" / "deployment.sfd"), "--bits", "4"]) == 2
    assert "--bits applies to PyTorch models" in " ".join(capsys.readouterr().err.split())


def test_memory_command_on_pytorch_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from spikeforge.energy.memory import memory_report_tensors
    from spikeforge.methods.layerwise.ann import build_model
    from spikeforge.methods.layerwise.api import save_model

    model = build_model("lenet")  # conv 5x5 (28x28 in) -> pool -> conv 5x5 (12x12 in) -> pool -> 3 Linear
    save_model(model, "lenet", tmp_path / "lenet.pt")
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    torch.save(model, tmp_path / "pickled.pt")
    w = {k: v for k, v in model.state_dict().items() if k.endswith("weight")}

    # a spikeforge model file: every convolution priced on the feature map it reads (found by a forward pass)
    code, rep = run_json(capsys, "memory", str(tmp_path / "lenet.pt"), "--bits", "4")
    assert code == 0 and isinstance(rep, dict)
    assert [layer["name"] for layer in rep["layers"]] == ["0", "3", "7", "9", "11"]
    want = memory_report_tensors({k.removesuffix(".weight"): v for k, v in w.items()}, 4,
                                 {"0": (28, 28), "3": (12, 12)})
    assert rep["totals"] == json.loads(json.dumps(want.totals()))
    # a plain state dict: every convolution on the --input-shape map
    code, rep = run_json(capsys, "memory", str(tmp_path / "sd.pt"), "--input-shape", "1,20,20")
    assert code == 0 and isinstance(rep, dict)
    assert rep["totals"] == json.loads(json.dumps(memory_report_tensors(w, 8, (20, 20)).totals()))
    # a pickled module needs the explicit opt-in
    assert main(["memory", str(tmp_path / "pickled.pt")]) == 2
    assert "--allow-pickle" in " ".join(capsys.readouterr().err.split())
    code, rep = run_json(capsys, "memory", str(tmp_path / "pickled.pt"), "--allow-pickle", "--bits", "4")
    assert code == 0 and isinstance(rep, dict) and rep["totals"] == json.loads(json.dumps(want.totals()))
    # an MLP on 8x8 digits needs no --input-shape: its first Linear says it takes 64 inputs
    save_model(build_model("mlp:64-10"), "mlp:64-10", tmp_path / "mlp.pt")
    code, rep = run_json(capsys, "memory", str(tmp_path / "mlp.pt"))
    assert code == 0 and isinstance(rep, dict)
    assert [(layer["name"], layer["shape"]) for layer in rep["layers"]] == [("1", [64, 10])]


@pytest.mark.parametrize("case", ["missing", "junk", "nan", "no-layers", "wrong-shape"])
def test_memory_and_convert_name_bad_model_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 case: str) -> None:
    import torch

    from spikeforge.methods.layerwise.ann import build_model
    from spikeforge.methods.layerwise.api import save_model

    path = tmp_path / "m.pt"
    if case == "junk":
        path.write_bytes(b"not a model")
    elif case == "nan":
        torch.save({"fc.weight": torch.full((3, 4), float("nan"))}, path)
    elif case == "no-layers":
        torch.save({"bias": torch.zeros(3)}, path)
    elif case == "wrong-shape":  # a convolution 5x5 cannot read 4x4 maps
        save_model(build_model("lenet"), "lenet", path)
    expect = {"missing": "no such file", "junk": "not a PyTorch file (torch.save writes a zip archive",
              "nan": "tensor 'fc.weight'", "no-layers": "no 2-D (Linear)",
              "wrong-shape": "does not accept inputs of shape (1, 4, 4)"}[case]
    assert main(["memory", str(path), *(["--input-shape", "1,4,4"] if case == "wrong-shape" else [])]) == 2
    assert expect in " ".join(capsys.readouterr().err.split())
    if case in ("missing", "junk"):  # convert reads model files the same way
        assert main(["convert", str(path), "-d", "digits"]) == 2
        assert expect in " ".join(capsys.readouterr().err.split())


@pytest.mark.parametrize(("args", "expect"), [
    (["-d", "WIDE.npz"], "wide.npz images (shape (1, 28, 28))"),  # a digits (64-input) model on 784-pixel images
    (["--keep", "1.5"], "keep must be a fraction in (0, 1], got 1.5"),
    (["--keep", "0"], "keep must be a fraction in (0, 1], got 0.0"),
    (["--ticks", "0"], "ticks must be >= 1, got 0"),
    (["--calib", "0"], "n_calib (--calib) must be >= 1, got 0"),
    (["--test", "-3"], "n_test (--test) must be >= 1, got -3"),
    (["--ticks", "auto", "--max-gap", "150"], "--max-gap must be between 0 and 100 points, got 150"),
    (["--ticks", "auto", "--calib", "5000"], "ticks='auto' needs training images beyond the calibration images"),
])
def test_convert_names_bad_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                    expect: str) -> None:
    from spikeforge.methods.layerwise.ann import build_model
    from spikeforge.methods.layerwise.api import save_model

    path = save_model(build_model("mlp:64-16-10"), "mlp:64-16-10", tmp_path / "m.pt")
    if "WIDE.npz" in args:  # 28x28 images (as MNIST's) from a small dataset file: no download needed
        rng = np.random.default_rng(0)
        np.savez(tmp_path / "wide.npz", x_train=rng.integers(0, 256, (80, 28, 28), dtype=np.uint8),
                 y_train=np.arange(80) % 10, x_test=rng.integers(0, 256, (60, 28, 28), dtype=np.uint8),
                 y_test=np.arange(60) % 10)
        args = [str(tmp_path / "wide.npz") if a == "WIDE.npz" else a for a in args]
    argv = ["convert", str(path), "-d", "digits", "--calib", "50", "--test", "50", "--out", str(tmp_path / "o"), *args]
    assert main(argv) == 2
    assert expect in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "o").exists()  # nothing written


def test_convert_ticks_must_be_a_number_or_auto(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["convert", "m.pt", "--ticks", "soon"])
    assert e.value.code == 2
    assert "argument --ticks: expected an integer >= 1 or 'auto', got 'soon'" in capsys.readouterr().err


def test_convert_command_digital_loihi_writes_checked_deployment(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from spikeforge.data import load_dataset
    from spikeforge.methods.layerwise.ann import build_model, train_model
    from spikeforge.methods.layerwise.api import save_model

    torch.manual_seed(0)
    torch.set_num_threads(1)
    ds = load_dataset("digits")
    model = build_model("mlp:64-16-10")
    train_model(model, ds.x_train.reshape(len(ds.x_train), -1) / 255.0, ds.y_train, epochs=15, lr=3e-3,
                image_shape=(64,))
    path = save_model(model, "mlp:64-16-10", tmp_path / "ann.pt")
    code, res = run_json(capsys, "convert", str(path), "--constraints", "digital", "--chip", "loihi-like",
                         "--ticks", "16", "-d", "digits", "--calib", "150", "--test", "40",
                         "--out", str(tmp_path / "out"))
    assert code == 0 and isinstance(res, dict)
    dep = load(tmp_path / "out" / "deployment.sfd")  # loads only if every design rule passes
    assert dep.chip.name == "loihi-like" and res["cores"] == dep.n_cores
    assert res["n_test"] == 40 and 0.0 <= res["snn_accuracy"] <= 1.0
    assert res["agreement"] >= 0.7
    # the deployment records its input code, so `simulate` reproduces the conversion's own measurement
    assert dep.provenance["encoding"] == {"kind": "regular", "ticks": 16}
    code, sim = run_json(capsys, "simulate", str(tmp_path / "out" / "deployment.sfd"), "-d", "digits",
                         "--limit", "40")
    assert code == 0 and isinstance(sim, dict)
    assert sim["accuracy"] == res["snn_accuracy"] and sim["regime"] == "sequential"
    # streaming these stateful neurons is allowed when asked for, with a one-line warning
    assert main(["simulate", str(tmp_path / "out" / "deployment.sfd"), "-d", "digits", "--limit", "40",
                 "--regime", "pipelined", "--json"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("warning: pipelined regime on a deployment whose neurons hold state between ticks")
    assert "built for" not in err
    dep.provenance["dataset"] = "fashion-mnist"
    save(dep, tmp_path / "other.sfd")
    assert main(["simulate", str(tmp_path / "other.sfd"), "-d", "digits", "--limit", "5", "--encoding", "regular",
                 "--ticks", "16", "--json"]) == 0
    assert "warning: the deployment was built for fashion-mnist; running it on digits" in " ".join(
        capsys.readouterr().err.split())
    # without a recorded encoding the one-tick default would be wrong: refused, unless one is named
    del dep.provenance["encoding"]
    save(dep, tmp_path / "bare.sfd")
    assert main(["simulate", str(tmp_path / "bare.sfd"), "-d", "digits", "--limit", "40"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "records no input encoding and takes 16 ticks per input" in err
    assert "--encoding regular --ticks 16" in err
    code, sim2 = run_json(capsys, "simulate", str(tmp_path / "bare.sfd"), "-d", "digits", "--limit", "40",
                          "--encoding", "regular", "--ticks", "16")
    assert code == 0 and isinstance(sim2, dict) and sim2["accuracy"] == res["snn_accuracy"]
    # a one-tick deployment without a recorded encoding runs on the default, and says so
    one = dataclasses.replace(dep, ticks_per_input=1)
    save(one, tmp_path / "bare1.sfd", check_rules=False)
    main(["simulate", str(tmp_path / "bare1.sfd"), "-d", "digits", "--limit", "5", "--json"])
    assert "warning: the deployment records no input encoding: encoding with the default (threshold 0.5" in " ".join(
        capsys.readouterr().err.split())


def _draws_recipe(tmp_path: Path, method: str, kind: str, *, window: int, epochs: int, ensemble: int,
                  stride: int | None = None) -> Path:
    """A small digits recipe whose copies read their own Bernoulli draws (``kind``), seed 5."""
    recipe = tmp_path / f"{kind}.toml"
    stride_line = f"stride = {stride}\n" if stride is not None else ""
    recipe.write_text(f"""name = "{kind}"
method = "{method}"
seed = 2
[data]
dataset = "digits"
max_test = 120
[network]
name = "d"
window = {window}
{stride_line}input_neurons = 32
output_neurons = 50
[train]
epochs = {epochs}
[deploy]
ensemble = {ensemble}
[encoding]
kind = "{kind}"
seed = 5
""")
    return recipe


def test_run_recipe_with_per_copy_draws_writes_its_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # an ensemble whose copies read their own Bernoulli draws (private input channels): the report draws the
    # inputs as the recipe did, so simulating the deployment on them reproduces the recipe's accuracy
    from spikeforge.report.report import report_inputs
    from spikeforge.sim import simulate

    recipe = _draws_recipe(tmp_path, "probabilistic", "bernoulli-draws", window=8, epochs=3, ensemble=3)
    code, res = run_json(capsys, "run", str(recipe), "--out", str(tmp_path / "r"))
    assert code == 0 and res["encoding"] == "bernoulli-draws" and res["test_images"] == 120
    assert (tmp_path / "r" / "index.md").exists() and (tmp_path / "r" / "raster.png").exists()
    dep = load(tmp_path / "r" / "deployment.sfd")
    assert dep.n_inputs == 3 * 64
    spikes, labels, _ = report_inputs(dep, load_recipe(str(recipe)).config, limit=120)
    assert spikes.shape == (120, 1, 192)
    # copy 1's channels are its own draw: not a copy of copy 0's
    assert not np.array_equal(spikes[:, 0, :64], spikes[:, 0, 64:128])
    acc = float(np.mean(simulate(dep, spikes).class_counts.argmax(1) == labels))
    assert acc == pytest.approx(res["accuracy"])
    # the deployment records its encoding: `spikeforge simulate` draws the same inputs by default
    assert dep.provenance["encoding"] == {"kind": "bernoulli-draws", "seed": 5}
    code, sim = run_json(capsys, "simulate", str(tmp_path / "r" / "deployment.sfd"), "-d", "digits", "--limit", "120")
    assert code == 0 and sim["accuracy"] == pytest.approx(res["accuracy"])


def test_run_recipe_with_axon_draws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # every input axon draws on its own: the stored deployment keeps per-copy pixel channels, reports and
    # `spikeforge simulate` feed it one axon at a time, exactly as the recipe measured it
    from spikeforge.data import load_dataset
    from spikeforge.data.encode import axon_draws
    from spikeforge.report.report import report_feed, report_inputs
    from spikeforge.sim import simulate

    recipe = _draws_recipe(tmp_path, "binary", "axon-draws", window=6, epochs=2, ensemble=2, stride=2)
    code, res = run_json(capsys, "run", str(recipe), "--out", str(tmp_path / "r"))
    assert code == 0 and res["encoding"] == "axon-draws" and res["test_images"] == 120
    assert (tmp_path / "r" / "index.md").exists()
    dep = load(tmp_path / "r" / "deployment.sfd")
    assert dep.n_inputs == 2 * 64 and dep.provenance["encoding"] == {"kind": "axon-draws", "seed": 5}
    fed, spikes, labels, _ = report_feed(dep, load_recipe(str(recipe)).config, limit=120)
    k = len(dep.input_channel)
    assert k > dep.n_inputs and fed.n_inputs == k and spikes.shape == (120, 1, k)  # overlapping 6x6 windows
    _, source = dep.per_axon_inputs()
    ds_x = load_dataset("digits").x_test[:120]
    np.testing.assert_array_equal(spikes, axon_draws(ds_x, source, 5))
    acc = float(np.mean(simulate(fed, spikes).class_counts.argmax(1) == labels))
    assert acc == pytest.approx(res["accuracy"])
    with pytest.raises(ValueError, match="report_feed"):
        report_inputs(dep, load_recipe(str(recipe)).config, limit=120)
    code, sim = run_json(capsys, "simulate", str(tmp_path / "r" / "deployment.sfd"), "-d", "digits", "--limit", "120")
    assert code == 0 and sim["accuracy"] == pytest.approx(res["accuracy"])
    code, sim2 = run_json(capsys, "simulate", str(tmp_path / "r" / "deployment.sfd"), "-d", "digits", "--limit", "120",
                          "--encoding", "bernoulli-draws")
    assert code == 0 and 0.0 <= sim2["accuracy"] <= 1.0  # per-copy draws of the same deployment also run


@pytest.mark.parametrize("args", [["--limit", "0"], ["--limit", "-5"], ["--batch-size", "0"], ["--limit", "x"]])
def test_simulate_rejects_non_positive_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              args: list[str]) -> None:
    main(["run", "template-digits", "--out", str(tmp_path / "r"), "--json", "--no-report"])
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:  # argparse: usage error, exit status 2
        main(["simulate", str(tmp_path / "r" / "deployment.sfd"), "-d", "digits", *args])
    assert e.value.code == 2
    assert "expected an integer >= 1" in capsys.readouterr().err


def test_stochastic_deployment_check_and_prng_seed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A deployment using TrueNorth's stochastic synapses: ``check`` names the modes, ``simulate`` draws from
    the file's seed unless ``--prng-seed`` gives another, and the same seed gives the same run."""
    main(["run", "template-digits", "--out", str(tmp_path / "r"), "--json", "--no-report"])
    capsys.readouterr()
    dep = load(tmp_path / "r" / "deployment.sfd")
    dep.stochastic_synapse[:] = True
    dep.prng_seed = 5
    path = tmp_path / "stochastic.sfd"
    save(dep, path)
    code, chk = run_json(capsys, "check", str(path))
    assert code == 0 and isinstance(chk, dict)
    assert chk["summary"]["neuron_modes"].startswith("stochastic synapses ")
    assert chk["summary"]["neuron_modes"].endswith("(PRN seed 5)")
    args = ("simulate", str(path), "-d", "digits", "--limit", "60", "--threshold", "0.3")
    runs = [run_json(capsys, *args, *extra)[1] for extra in ((), ("--prng-seed", "5"), ("--prng-seed", "6"))]
    events = [r["events_per_input"] for r in runs]  # type: ignore[index]
    assert [r["prng_seed"] for r in runs] == [5, 5, 6]  # type: ignore[index]
    assert events[0] == events[1]
    assert events[2]["spikes"] != events[0]["spikes"]
    assert main([*args, "--prng-seed", "-1"]) == 2
    assert "error: --prng-seed must be in [0, 2^32), got -1" in capsys.readouterr().err


def test_simulate_over_prng_seeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--prng-repeats K``: K runs with seeds s … s+K−1; their mean and std are those of the single runs."""
    main(["run", "template-digits", "--out", str(tmp_path / "r"), "--json", "--no-report"])
    capsys.readouterr()
    dep = load(tmp_path / "r" / "deployment.sfd")
    plain = tmp_path / "deterministic.sfd"
    save(dep, plain)
    dep.stochastic_synapse[:] = True
    dep.prng_seed = 5
    path = tmp_path / "stochastic.sfd"
    save(dep, path)
    args = ("simulate", str(path), "-d", "digits", "--limit", "60", "--threshold", "0.3")
    code, res = run_json(capsys, *args, "--prng-repeats", "3")
    assert code == 0 and isinstance(res, dict)
    assert res["seeds"] == [5, 6, 7]
    single = [run_json(capsys, *args, "--prng-seed", str(s))[1]["accuracy"] for s in (5, 6, 7)]  # type: ignore[index]
    assert res["accuracy_mean"] == pytest.approx(np.mean(single))
    assert res["accuracy_std"] == pytest.approx(np.std(single, ddof=1))
    assert [r["accuracy"] for r in res["runs"]] == single
    assert main([*args, "--prng-repeats", "3"]) == 0
    assert "± " in capsys.readouterr().out
    for bad, message in ((("--prng-repeats", "1"), "--prng-repeats must be >= 2"),
                         (("--prng-repeats", "2", "--metrics"), "do not combine")):
        assert main([*args, *bad]) == 2
        assert message in capsys.readouterr().err
    assert main(["simulate", str(plain), "-d", "digits", "--limit", "5", "--prng-repeats", "2"]) == 2
    assert "uses no stochastic mode" in capsys.readouterr().err


def test_energy_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "template-digits", "--out", str(tmp_path / "r"), "--no-report", "--json"]) == 0
    capsys.readouterr()
    png = tmp_path / "e.png"
    assert main(["energy", str(tmp_path / "r" / "deployment.sfd"), "-d", "digits", "--limit", "20",
                 "--plot", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG" and f"plot: {png}" in " ".join(capsys.readouterr().out.split())


def test_simulate_writes_a_report_for_any_deployment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "template-digits", "--out", str(tmp_path / "r"), "--no-report", "--json"]) == 0
    capsys.readouterr()
    rep = tmp_path / "rep"
    code, res = run_json(capsys, "simulate", str(tmp_path / "r" / "deployment.sfd"), "-d", "digits",
                         "--limit", "40", "--report", str(rep))
    assert code == 0 and isinstance(res, dict) and res["report"] == str(rep / "index.md")
    for f in ("index.md", "results.json", "metrics.json", "accuracy_vs_energy.png", "chip_map.png", "raster.png"):
        assert (rep / f).is_file(), f
    saved = json.loads((rep / "results.json").read_text())
    assert saved["accuracy"] == res["accuracy"] and saved["n_inputs"] == 40 and saved["split"] == "test"
    assert "# Run report: deployment.sfd on digits" in (rep / "index.md").read_text()
