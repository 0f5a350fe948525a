"""spikeforge compare: rows from results files, the Pareto front, the table, JSON and the plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spikeforge.cli import main
from spikeforge.report.compare import CSV_COLUMNS, ComparisonError, compare_runs, load_run, pareto_front


def _run(folder: Path, acc: float, uj: float, **extra: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps({"accuracy": acc, "uJ_per_image": uj, "method": "m",
                                                     "dataset": "d", "cores": 5, **extra}))
    return folder


@pytest.mark.parametrize(("points", "front"), [
    ([(0.9, 1.0)], [True]),
    ([(0.9, 1.0), (0.95, 2.0), (0.93, 3.0)], [True, True, False]),     # (0.93, 3) is dominated by (0.95, 2)
    ([(0.9, 1.0), (0.9, 1.0)], [True, True]),                          # equal runs do not dominate each other
    ([(0.9, 1.0), (0.9, 2.0)], [True, False]),                         # same accuracy for more energy
    ([(0.9, 1.0), (0.91, 1.0)], [False, True]),                        # more accurate for the same energy
    ([(0.99, 100.0), (0.5, 0.1), (0.7, 0.1), (0.98, 50.0)], [True, False, True, True]),
])
def test_pareto_front_against_hand_worked_cases(points: list[tuple[float, float]], front: list[bool]) -> None:
    assert pareto_front([{"accuracy": a, "uJ_per_image": e} for a, e in points]) == front


def test_rows_are_sorted_by_energy_and_labelled_by_folder(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", 0.95, 2.0, energy={"chip": "truenorth"}, recipe_overrides=["train.epochs=3"])
    b = _run(tmp_path / "b", 0.90, 1.0)
    c = _run(tmp_path / "x" / "a", 0.80, 3.0)  # a second folder named "a"
    rows = compare_runs([a, b / "results.json", c])
    assert [r["uJ_per_image"] for r in rows] == [1.0, 2.0, 3.0]
    assert [r["pareto"] for r in rows] == [True, True, False]
    assert rows[1]["chip"] == "truenorth" and rows[1]["overrides"] == ["train.epochs=3"]
    assert rows[0]["label"] == "b" and rows[1]["label"] == str(a) and rows[2]["label"] == str(c)


def test_bad_results_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ComparisonError, match="no such results file"):
        load_run(tmp_path / "none")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ComparisonError, match="not a readable results file"):
        load_run(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"accuracy": 0.5}))
    with pytest.raises(ComparisonError, match="no uJ_per_image"):
        load_run(tmp_path / "other.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ComparisonError, match="holds a JSON object"):
        load_run(tmp_path / "list.json")
    with pytest.raises(ComparisonError, match="at least one"):
        compare_runs([])
    # a number that cannot be a measurement is named, never starred as Pareto-optimal
    for acc, uj, what in ((float("nan"), 1.0, "accuracy must be a fraction"), (1.5, 1.0, "accuracy must be"),
                          (0.9, -1.0, "uJ_per_image must be a finite number >= 0"),
                          (0.9, float("inf"), "uJ_per_image must be")):
        with pytest.raises(ComparisonError, match=what):
            load_run(_run(tmp_path / "nums", acc, uj))


def test_compare_command_table_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _run(tmp_path / "fast", 0.90, 0.3), _run(tmp_path / "good", 0.99, 100.0, dataset="other")
    png = tmp_path / "front.png"
    assert main(["compare", str(a), str(b), "--plot", str(png), "--json"]) == 0
    out = capsys.readouterr()
    rows = json.loads(out.out)
    assert [r["label"] for r in rows] == ["fast", "good"] and all(r["pareto"] for r in rows)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "different datasets (d, other)" in " ".join(out.err.split())
    assert main(["compare", str(a), str(b)]) == 0
    text = capsys.readouterr().out
    assert "* fast" in text and "2 runs by energy per image" in text
    assert main(["compare", str(tmp_path / "missing")]) == 2
    assert "no such results file" in " ".join(capsys.readouterr().err.split())  # (wrapped at the path's length)


def test_a_folder_of_runs_stands_for_the_runs_in_it(tmp_path: Path) -> None:
    _run(tmp_path / "runs" / "a", 0.9, 1.0)
    _run(tmp_path / "runs" / "b", 0.8, 2.0)
    (tmp_path / "runs" / "notes").mkdir()  # not a run: left out of the folder's runs
    rows = compare_runs([tmp_path / "runs"])
    assert [r["label"] for r in rows] == ["a", "b"]
    with pytest.raises(ComparisonError, match="neither a run folder"):
        compare_runs([tmp_path / "runs" / "notes"])
    # a sweep's folder inside runs/ is searched too, but not the inside of a run (e.g. its warm-start run)
    _run(tmp_path / "runs" / "a-sweep" / "train.epochs=5", 0.7, 0.5)
    _run(tmp_path / "runs" / "a" / "warm-start", 0.6, 0.1)
    rows = compare_runs([tmp_path / "runs"])
    assert sorted(r["label"] for r in rows) == ["a", "b", "epochs=5"]


def test_sweep_run_folders_get_short_labels(tmp_path: Path) -> None:
    _run(tmp_path / "sw" / "train.epochs=5,deploy.ensemble=4", 0.9, 1.0)
    assert compare_runs([tmp_path / "sw"])[0]["label"] == "epochs=5 ensemble=4"


def test_sweep_labels_come_from_the_recorded_settings_not_the_folder_name(tmp_path: Path) -> None:
    """A value with commas and brackets is mangled in the folder name; the label shows it as given, and the
    sweep's base changes (recorded before the combination) are left out."""
    from spikeforge.sweep import run_folder_name

    combo = ["network.windows=[16,12]", "train.lr=0.01"]
    folder = tmp_path / "sw" / run_folder_name(combo)
    assert folder.name == "network.windows=_16,12_,train.lr=0.01"
    _run(folder, 0.9, 1.0, recipe_overrides=["seed=3", *combo])
    _run(tmp_path / "sw" / "plain", 0.8, 0.5, recipe_overrides=["seed=3"])
    labels = {r["label"] for r in compare_runs([tmp_path / "sw"])}
    assert labels == {"windows=[16,12] lr=0.01", "plain"}


def test_compare_writes_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import csv

    a = _run(tmp_path / "a", 0.9, 1.0, recipe_overrides=["train.epochs=3", "seed=1"])
    b = _run(tmp_path / "b", 0.95, 2.0)
    out = tmp_path / "cmp.csv"
    assert main(["compare", str(a), str(b), "--csv", str(out)]) == 0
    assert f"csv: {out}" in " ".join(capsys.readouterr().out.split())
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [r["label"] for r in rows] == ["a", "b"] and rows[0]["overrides"] == "train.epochs=3 seed=1"
    assert float(rows[1]["accuracy"]) == 0.95 and rows[0]["pareto"] == "True" and rows[0]["fps"] == ""
