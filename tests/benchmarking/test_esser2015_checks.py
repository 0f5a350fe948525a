"""benchmarks/esser2015.py: the 2-hour limit is checked only on a run that trained every model itself."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def esser2015():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("esser2015")
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_time_target_counts_only_runs_that_trained_every_model(esser2015) -> None:  # type: ignore[no-untyped-def]
    fresh = {"small": {"cached": False}, "large": {"cached": False}}
    assert esser2015.time_target(7000.0, fresh, quick=False)["status"] == "PASS"
    over = esser2015.time_target(7300.0, fresh, quick=False)
    assert over["status"] == "FAIL" and over["measured"] == 7300.0
    several = {"small": {"cached": False}, "large": {"cached": False, "models": [{"cached": False}, {"cached": True}]}}
    hidden = esser2015.time_target(100.0, several, quick=False)
    assert hidden["status"] == "NOT RUN" and "1 of 3" in hidden["why"] and "measured" not in hidden
    assert esser2015.time_target(10.0, fresh, quick=True)["status"] == "NOT RUN"
    assert esser2015.time_target(10.0, {"small": {}}, quick=False)["status"] == "NOT RUN"  # unknown: not counted


def test_train_cached_says_whether_the_model_was_trained_or_loaded(tmp_path: Path) -> None:
    import numpy as np

    from spikeforge.methods.corenet.experiment import train_cached
    from spikeforge.methods.corenet.topology import small_network
    from spikeforge.methods.corenet.train import TrainConfig

    rng = np.random.default_rng(0)
    x, y = rng.random((40, 784), dtype=np.float32), rng.integers(0, 10, 40)
    tc = TrainConfig(epochs=1, batch_size=20, log_every_epoch=False)
    _, first = train_cached("probabilistic", small_network(), 1, {}, tc, tmp_path, x, y, log=lambda *a: None)
    _, again = train_cached("probabilistic", small_network(), 1, {}, tc, tmp_path, x, y, log=lambda *a: None)
    assert first["cached"] is False and again["cached"] is True
    assert again["train_seconds"] == first["train_seconds"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--pool", "large=320"], "give the run its own --out folder"),
    (["--schemes", "bernoulli-draws+jitter"], "give the run its own --out folder"),
    (["--encodings", "threshold"], "give the run its own --out folder"),
    (["--schemes", "jitter", "--out", "x"], r"unknown: \['jitter'\]"),
    (["--encodings", "poisson", "--out", "x"], r"got \['poisson'\]"),
    (["--pool", "huge=3", "--out", "x"], "--pool takes NET=N"),
    (["--pool", "large=0", "--out", "x"], "--pool takes NET=N"),
])
def test_partial_runs_need_their_own_folder_and_valid_options(esser2015, argv: list[str], message: str,  # type: ignore[no-untyped-def]
                                                               capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(esser2015.cdata, "load", lambda *a, **k: (_ for _ in ()).throw(AssertionError("ran")))
    with pytest.raises(SystemExit) as e:
        esser2015.main(argv)
    assert e.value.code == 2
    import re

    assert re.search(message, " ".join(capsys.readouterr().err.split()))
