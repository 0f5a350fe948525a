"""CLI behaviour a new user meets (found by a walkthrough of the docs): output streams, exit codes, messages
that name the command-line fix, folders of runs, and options that cannot apply."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spikeforge.cli import main
from spikeforge.deploy import load, save


@pytest.fixture(scope="module")
def template_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "template-digits"
    assert main(["run", "template-digits", "--out", str(out), "--no-report", "--json"]) == 0
    return out


def one_line(err: str) -> str:
    return " ".join(err.split())


def test_compare_skips_results_it_cannot_compare_inside_a_folder(template_run: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    (runs / "a").mkdir(parents=True)
    (runs / "a" / "results.json").write_text((template_run / "results.json").read_text())
    (runs / "conv-an").mkdir()  # what `convert --constraints analog` writes: no chip, so no energy
    (runs / "conv-an" / "results.json").write_text(json.dumps({"constraints": "analog", "snn_accuracy": 0.9}))
    capsys.readouterr()
    assert main(["compare", str(runs), "--json"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [r["label"] for r in rows] == ["a"]
    assert one_line(captured.err).startswith("warning: left out ")
    assert "an analog or hybrid conversion: no chip, so no energy per image" in one_line(captured.err)
    # named explicitly, the same file is an error (exit 2); a run named twice is one row
    assert main(["compare", str(runs / "conv-an"), str(runs / "a")]) == 2
    assert "no accuracy or uJ_per_image" in capsys.readouterr().err
    assert main(["compare", str(runs / "a"), str(runs / "a" / "results.json"), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_draws_encoding_override_drops_the_recorded_threshold(template_run: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    dep = str(template_run / "deployment.sfd")
    for kind in ("axon-draws", "bernoulli-draws"):
        assert main(["simulate", dep, "-d", "digits", "--limit", "20", "--encoding", kind, "--json"]) == 0, kind
        assert json.loads(capsys.readouterr().out)["n_inputs"] == 20
    # a threshold given on the command line still does not apply to draws: refused by name
    assert main(["simulate", dep, "-d", "digits", "--limit", "20", "--encoding", "axon-draws",
                 "--threshold", "0.3"]) == 2
    assert "unknown setting(s) ['threshold']" in capsys.readouterr().err


def test_python_warnings_print_as_one_line(template_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(template_run / "deployment.sfd"), "-d", "digits", "--limit", "5",
                 "--prng-seed", "5", "--json"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: --prng-seed has no effect") and "UserWarning" not in err and "cli.py" not in err


def test_replay_without_metrics_is_named(template_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(template_run / "deployment.sfd"), "-d", "digits", "--limit", "5", "--replay",
                 "--json"]) == 0
    assert "--replay has no effect without --metrics" in one_line(capsys.readouterr().err)


def test_simulate_report_records_method_and_recipe(template_run: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(template_run / "deployment.sfd"), "-d", "digits", "--limit", "10", "--report",
                 str(tmp_path / "rep"), "--json"]) == 0
    saved = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert saved["method"] == "template" and saved["recipe"] == "template-digits"


def test_broken_pipe_stops_quietly(template_run: Path) -> None:
    env = {**os.environ, "SPIKEFORGE_PROGRESS": "0"}
    # output far beyond a pipe's buffer, so that the writer is still writing when the reader leaves
    code = ("import sys; import spikeforge.cli as c; "
            "c.cmd_recipes = lambda a: (c._emit_json(list(range(300000))), 0)[1]; "
            "sys.exit(c.main(['recipes', '--json']))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(1)
    proc.stdout.close()  # the reader goes away, as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Broken pipe" not in err and "Traceback" not in err


def test_data_commands_follow_their_name_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    code = main(["data", "list", "digits", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["name"] for r in rows] == ["digits"] and rows[0]["found"]
    assert main(["data", "list", "nosuch"]) == 2
    assert "unknown dataset 'nosuch'" in capsys.readouterr().err
    # verify (all): a dataset that is not found is a row, the others are still verified; exit status 1
    monkeypatch.delenv("SPIKEFORGE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fashion = Path("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").is_file()
    code = main(["data", "verify", "--data-dir", str(tmp_path / "empty"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["mnist"][0]["status"] == "not found"
    if fashion:  # the Debian package's copy is on the search path
        assert {c["status"] for c in out["fashion-mnist"]} == {"ok"}
    # verify NAME keeps the full message (where it looked, how to fix it), naming the command that downloads
    assert main(["data", "verify", "mnist", "--data-dir", str(tmp_path / "empty")]) == 2
    err = one_line(capsys.readouterr().err)
    assert "spikeforge data download mnist" in err and "--data-dir ROOT" in err


def test_data_download_json_when_present(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = os.environ.get("SPIKEFORGE_DATA")
    if not root or not (Path(root) / "mnist").is_dir():
        pytest.skip("MNIST not available")
    assert main(["data", "download", "mnist", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"name": "mnist", "status": "present", "path": str(Path(root) / "mnist")}]


def test_chips_refuses_two_formats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chips", "truenorth", "--toml", "--json"]) == 2
    assert "--toml and --json are two formats" in capsys.readouterr().err


def test_output_path_that_is_a_folder_is_named(template_run: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-nir", str(template_run / "deployment.sfd"), str(tmp_path)]) == 2
    err = one_line(capsys.readouterr().err)
    assert err == f"error: {tmp_path}: is a folder, not a file to write (name a file, e.g. one inside it)"
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_nir_import_names_the_command_line_options(template_run: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    nir_path = tmp_path / "t.nir"
    assert main(["export-nir", str(template_run / "deployment.sfd"), str(nir_path), "--no-embed", "--ticks",
                 "1"]) == 0
    capsys.readouterr()
    assert main(["import-nir", str(nir_path), "--out", str(tmp_path / "t.sfd")]) == 2
    err = one_line(capsys.readouterr().err)
    assert "--approximate / approximate=True" in err and "--ticks N / ticks=N" in err
    assert main(["import-nir", str(nir_path), "--out", str(tmp_path / "t.sfd"), "--ticks", "1"]) == 0


def test_memory_on_a_training_checkpoint_points_at_the_deployment(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    torch.save({"model": {"w": torch.zeros(2, 2)}, "method": {"slope": 0.5}, "config": {}}, tmp_path / "model.pt")
    assert main(["memory", str(tmp_path / "model.pt"), "--allow-pickle"]) == 2
    err = one_line(capsys.readouterr().err)
    assert "a core-network training checkpoint" in err
    assert f"spikeforge memory {tmp_path / 'deployment.sfd'}" in err


def test_template_recipe_refuses_more_than_one_tick_before_writing(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x"
    assert main(["run", "template-digits", "--set", "encoding.ticks=4", "--out", str(out)]) == 2
    assert "reads one tick per input" in one_line(capsys.readouterr().err)
    assert not (out / "deployment.sfd").exists()


def test_input_ticks_warning_when_the_recorded_encoding_disagrees(template_run: Path) -> None:
    from spikeforge.data import load_dataset
    from spikeforge.data.encode import Encoder
    from spikeforge.evaluate import InputTicksWarning, evaluate_deployment

    dep = load(template_run / "deployment.sfd")
    dep.provenance["encoding"] = {"kind": "threshold", "ticks": 2, "threshold": 0.3}
    x = load_dataset("digits").x_test[:4]
    with pytest.warns(InputTicksWarning, match="the deployment and its recorded encoding disagree"), \
            pytest.raises(ValueError, match="each input has 2 ticks but ticks_per_input is 1"):
        evaluate_deployment(dep, Encoder(kind="threshold", ticks=2, threshold=0.3).encode(x), np.arange(4))


def test_run_folder_of_a_recipe_file_is_its_stem(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from spikeforge.recipes import load_recipe, recipe_text, run_folder

    (tmp_path / "mine.toml").write_text(recipe_text("template-digits"))  # keeps name = "template-digits"
    assert run_folder(load_recipe("template-digits")) == Path("runs/template-digits")
    assert run_folder(load_recipe(tmp_path / "mine.toml")) == Path("runs/mine")
    monkeypatch.chdir(tmp_path)
    code = main(["run", "mine.toml", "--dry-run", "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["out"] == str(Path("runs/mine"))


def test_zero_epochs_warn_and_train_nothing() -> None:
    import torch

    from spikeforge.data import load_dataset
    from spikeforge.data.encode import threshold_encode
    from spikeforge.methods.corenet import small_network
    from spikeforge.methods.corenet.train import TrainConfig, train
    from spikeforge.methods.eedn.model import EednNet
    from spikeforge.methods.eedn.train import TrainConfig as EednConfig
    from spikeforge.methods.eedn.train import train_eedn
    from spikeforge.methods.probabilistic.model import ProbabilisticCoreNet

    ds = load_dataset("digits")
    x8, y = threshold_encode(ds.x_train[:32], 1, 0.3)[:, 0], ds.y_train[:32]
    eedn = EednNet((1, 8, 8), [{"kind": "conv", "out": 16, "kernel": 3, "padding": 1}], 10)
    before = [p.detach().clone() for p in eedn.parameters()]
    with pytest.warns(UserWarning, match="deployed untrained"):  # the cosine schedule no longer divides by 0
        train_eedn(eedn, x8, y, EednConfig(epochs=0, bn_recalibration_batches=0))
    assert all(torch.equal(a, b) for a, b in zip(before, eedn.parameters(), strict=True))
    model = ProbabilisticCoreNet(small_network(), seed=0)
    x = np.random.default_rng(0).random((20, 784)).astype(np.float32)
    with pytest.warns(UserWarning, match="0 training epochs"):
        train(model, x, np.arange(20) % 10, TrainConfig(epochs=0, batch_size=10, log_every_epoch=False))


def test_progress_bars_draw_on_stderr_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from spikeforge import progress

    monkeypatch.delenv("SPIKEFORGE_PROGRESS", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert progress.enabled() and not progress.bars_enabled()
    monkeypatch.setenv("SPIKEFORGE_PROGRESS", "0")
    assert not progress.enabled() and not progress.bars_enabled()
    monkeypatch.setenv("SPIKEFORGE_PROGRESS", "1")
    assert progress.bars_enabled()
    assert list(progress.track(range(3), "counting")) == [0, 1, 2]
    bar = progress.bar()
    with bar:
        task = bar.add_task("x", total=2)
        bar.advance(task, 2)
    out = capsys.readouterr().out
    assert out == ""  # nothing on stdout: the table or the JSON stays clean
    assert progress.console().stderr


def test_bad_values_from_files_and_options_are_named(template_run: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.toml").mkdir()
    assert main(["run", str(tmp_path / "r.toml")]) == 2
    assert "is a folder, not a TOML file" in capsys.readouterr().err
    dep = load(template_run / "deployment.sfd")
    dep.provenance["encoding"] = "threshold"
    save(dep, tmp_path / "enc.sfd")
    assert main(["simulate", str(tmp_path / "enc.sfd"), "-d", "digits", "--limit", "5"]) == 2
    assert "its provenance 'encoding' is 'threshold', not a table" in one_line(capsys.readouterr().err)
    assert main(["simulate", str(template_run / "deployment.sfd"), "-d", "digits", "--limit", "5", "--encoding",
                 "bernoulli", "--seed", "-5"]) == 2
    assert "encoder seed (--seed) must be >= 0, got -5" in capsys.readouterr().err
    (tmp_path / "out").write_text("")
    assert main(["convert", str(tmp_path / "none.pt"), "--out", str(tmp_path / "out")]) == 2
    assert "is a file; name a folder" in one_line(capsys.readouterr().err)


def test_library_warnings_are_one_line_too(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import spikeforge.cli as cli

    def noisy(a: object) -> int:
        np.array([1.0]) / np.array([0.0])  # numpy: RuntimeWarning, divide by zero
        return 0

    monkeypatch.setattr(cli, "cmd_chips", noisy)
    with np.errstate(divide="warn"):
        assert main(["chips"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: RuntimeWarning: divide by zero") and err.count("\n") == 1
