"""benchmarks/eedn.py: JSON schema and quick-vs-full paths, with a stubbed (fast) row runner."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from helpers import load_script

ROW_KEYS = {"dataset", "network", "accuracy", "cores", "latency_ticks", "fps", "mW", "fps_per_W"}


def _load() -> ModuleType:
    return load_script("benchmarks/eedn.py", "eedn_bench")


def _fake_row(dataset: str, network: str, mode: str, data_dir: Any, seed: int, **rest: Any) -> dict[str, Any]:
    return {"dataset": dataset, "network": network, "accuracy": 0.5, "cores": 100, "latency_ticks": 3,
            "fps": 1000.0, "mW": 5.0, "fps_per_W": 2e5}


@pytest.mark.parametrize("quick", [True, False])
def test_writes_the_right_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                               quick: bool) -> None:
    bench = _load()
    monkeypatch.setattr(bench, "run_row", _fake_row)
    argv = ["--quick"] if quick else []
    assert bench.main(argv, results_dir=tmp_path) == 0
    path = tmp_path / "quick" / "eedn.json" if quick else tmp_path / "eedn.json"
    other = tmp_path / "eedn.json" if quick else tmp_path / "quick" / "eedn.json"
    assert path.exists() and not other.exists()
    data = json.loads(path.read_text())
    assert data["mode"] == ("quick" if quick else "full")
    assert data["command"].startswith("python benchmarks/eedn.py")
    assert isinstance(data["git_commit"], str)
    assert len(data["rows"]) == 4 and all(ROW_KEYS <= set(r) for r in data["rows"])
    assert {(r["dataset"], r["network"]) for r in data["rows"]} == {
        (d, n) for d in ("mnist", "fashion-mnist") for n in ("one_chip", "small")}
    out = capsys.readouterr().out
    assert "FAIL mnist one_chip" in out and "CIFAR-10" in out
    assert list(tmp_path.rglob("*.tmp*")) == []


def test_network_budgets_and_published_rows() -> None:
    bench = _load()
    assert bench.NETWORKS["one_chip"][1] == 4096 and bench.NETWORKS["small"][1] == 512
    cifar = bench.PUBLISHED[0]
    assert cifar["cores"] == 4042 and abs(cifar["fps_per_W"] - 6111) < 1


def test_row_overrides_touch_only_their_row(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _load()
    monkeypatch.setattr(bench, "ROW_OVERRIDES", {("mnist", "one_chip"): {"layers": {8: {"out": 640}},
                                                                         "train": {"lr": 0.01}}})
    base = bench.NETWORKS["one_chip"][0]
    got = bench.row_layers("mnist", "one_chip")
    assert got[8]["out"] == 640 and base[8]["out"] == 320  # the shared definition is not mutated
    assert got[:8] == base[:8]
    assert bench.row_layers("fashion-mnist", "one_chip") == base
    assert bench.row_settings("mnist", "one_chip", "full")["lr"] == 0.01
    assert bench.row_settings("mnist", "one_chip", "full", epochs=2)["epochs"] == 2
    assert bench.row_settings("mnist", "one_chip", "quick")["lr"] == bench.TRAIN[("quick", "one_chip")]["lr"]
    assert bench.row_settings("fashion-mnist", "one_chip", "full")["shift_augment"] == 0
    assert bench.row_settings("mnist", "small", "full") == bench.TRAIN[("full", "small")]
    monkeypatch.setattr(bench, "ROW_OVERRIDES", {("mnist", "small"): {"layers": {9: {"out": 1}}}})
    with pytest.raises(ValueError, match="no layer 9"):
        bench.row_layers("mnist", "small")
