"""spikeforge sweep: combinations, checks before running, resuming, the comparison it writes (digits, seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spikeforge.cli import main
from spikeforge.recipes import RecipeError, load_recipe
from spikeforge.sweep import combinations, run_sweep


def test_combinations_are_the_cartesian_product_first_key_slowest() -> None:
    assert combinations({"a.x": ["1", "2"], "b.y": ["p", "q", "r"]}) == [
        ["a.x=1", "b.y=p"], ["a.x=1", "b.y=q"], ["a.x=1", "b.y=r"],
        ["a.x=2", "b.y=p"], ["a.x=2", "b.y=q"], ["a.x=2", "b.y=r"]]
    with pytest.raises(RecipeError, match="at least one setting"):
        combinations({})
    with pytest.raises(RecipeError, match=r"a\.x has no values"):
        combinations({"a.x": []})
    with pytest.raises(RecipeError, match="repeats a value"):
        combinations({"a.x": ["1", "1"]})


def test_sweep_runs_each_combination_once_and_compares_them(tmp_path: Path) -> None:
    recipe = load_recipe("template-digits", ["encoding.threshold=0.3"])
    logs: list[str] = []
    rows = run_sweep(recipe, {"params.neurons_per_class": ["5", "25"]}, tmp_path / "sw", log=logs.append)
    assert len(rows) == 2 and sorted(r["label"] for r in rows) == ["neurons_per_class=25", "neurons_per_class=5"]
    by = {r["label"]: r for r in rows}
    # more class neurons: more synaptic events, more energy (and here more accuracy: both on the front)
    assert by["neurons_per_class=5"]["uJ_per_image"] < by["neurons_per_class=25"]["uJ_per_image"]
    assert by["neurons_per_class=25"]["accuracy"] > by["neurons_per_class=5"]["accuracy"]
    assert all(r["pareto"] for r in rows)
    saved = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert saved["vary"] == {"params.neurons_per_class": ["5", "25"]} and len(saved["rows"]) == 2
    assert saved["base_overrides"] == ["encoding.threshold=0.3"]
    assert (tmp_path / "sw" / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    run = json.loads((tmp_path / "sw" / "params.neurons_per_class=5" / "results.json").read_text())
    assert run["recipe_overrides"] == ["encoding.threshold=0.3", "params.neurons_per_class=5"]
    assert run["recipe_config"]["params"]["neurons_per_class"] == 5
    # a second sweep keeps the finished runs; --rerun runs them again
    logs.clear()
    again = run_sweep(recipe, {"params.neurons_per_class": ["5", "25"]}, tmp_path / "sw", log=logs.append)
    assert all("done before, kept" in line for line in logs) and len(logs) == 2
    assert [r["accuracy"] for r in again] == [r["accuracy"] for r in rows]
    logs.clear()
    run_sweep(recipe, {"params.neurons_per_class": ["5"]}, tmp_path / "sw", rerun=True, log=logs.append)
    assert "done before" not in logs[0]


def test_a_run_on_a_changed_chip_file_is_not_kept(tmp_path: Path) -> None:
    """The sweep keeps a finished run only if the files its settings name (here a chip file) are unchanged."""
    from spikeforge.hardware import get_chip
    from spikeforge.hardware.chipfile import save_chip

    chip = save_chip(get_chip("truenorth"), tmp_path / "chip.toml")
    recipe = load_recipe("template-digits", [f"chip={chip}"])
    logs: list[str] = []
    first = run_sweep(recipe, {"params.neurons_per_class": ["5"]}, tmp_path / "sw", log=logs.append)
    run = json.loads((tmp_path / "sw" / "params.neurons_per_class=5" / "results.json").read_text())
    assert list(run["input_files"]) == [str(chip)]
    logs.clear()
    run_sweep(recipe, {"params.neurons_per_class": ["5"]}, tmp_path / "sw", log=logs.append)
    assert "done before, kept" in logs[0]
    chip.write_text(chip.read_text().replace("# [energy]", "[energy]").replace("# e_synaptic_event_j = 2.5e-12",
                                                                              "e_synaptic_event_j = 1e-10"))
    logs.clear()
    again = run_sweep(recipe, {"params.neurons_per_class": ["5"]}, tmp_path / "sw", log=logs.append)
    assert "done before" not in logs[0]
    assert again[0]["uJ_per_image"] > first[0]["uJ_per_image"]  # the new constant, not the kept run


def test_a_bad_combination_stops_the_sweep_before_any_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sw"
    assert main(["sweep", "template-digits", "--vary", "params.neurons_per_class", "5", "five",
                 "--out", str(out)]) == 2
    assert "neurons_per_class: expected an integer, got str 'five'" in " ".join(capsys.readouterr().err.split())
    assert not out.exists()
    assert main(["sweep", "template-digits", "--vary", "param.x", "1", "--out", str(out)]) == 2
    assert "did you mean 'params'" in capsys.readouterr().err
    assert main(["sweep", "template-digits", "--vary", "params.neurons_per_class", "5",
                 "--vary", "params.neurons_per_class", "6", "--out", str(out)]) == 2
    assert "given twice" in capsys.readouterr().err


def test_sweep_command_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "template-digits", "--vary", "params.template_threshold", "0.1", "0.3",
                 "--out", str(tmp_path / "s"), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted(r["settings"][0] for r in rows) == ["params.template_threshold=0.1", "params.template_threshold=0.3"]
    assert main(["sweep", "template-digits", "--vary", "params.template_threshold", "0.1", "0.3",
                 "--out", str(tmp_path / "s")]) == 0
    text = capsys.readouterr().out
    assert "template_threshold=0.1" in text and "2 runs by energy per image" in text


def test_parallel_sweep_gives_the_same_runs(tmp_path: Path) -> None:
    recipe = load_recipe("template-digits")
    vary = {"params.neurons_per_class": ["5", "10"]}
    serial = run_sweep(recipe, vary, tmp_path / "a")
    parallel = run_sweep(recipe, vary, tmp_path / "b", jobs=2)
    key = [(r["label"], r["accuracy"], r["uJ_per_image"]) for r in serial]
    assert key == [(r["label"], r["accuracy"], r["uJ_per_image"]) for r in parallel]
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        run_sweep(recipe, vary, tmp_path / "c", jobs=0)


def test_sweep_values_must_be_lists_and_settings_given_once(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RecipeError, match=r"values of seed must be a list of strings, e.g. \['42'\]"):
        combinations({"seed": "42"})  # type: ignore[dict-item]
    assert main(["sweep", "template-digits", "--vary", "seed", "1", "2", "--set", "seed=3",
                 "--out", str(tmp_path / "sw")]) == 2
    assert "seed given to both --set and --vary" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "sw").exists()


def test_ctrl_c_is_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    import spikeforge.sweep

    def interrupted(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(spikeforge.sweep, "run_sweep", interrupted)
    assert main(["sweep", "template-digits", "--vary", "seed", "1", "2", "--out", str(tmp_path / "sw")]) == 130
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("interrupted (the same command again resumes") and "Traceback" not in err
