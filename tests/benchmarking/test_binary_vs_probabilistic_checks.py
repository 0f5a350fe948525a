"""benchmarks/binary_vs_probabilistic.py: energy at equal accuracy and the 4x energy target."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bvp():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("binary_vs_probabilistic")
    finally:
        sys.path.remove(str(BENCHMARKS))


def _row(method: str, n: int, acc: float, uj: float, scheme: str | None = None) -> dict:
    r = {"method": method, "network": "large", "ensemble": n, "accuracy_mean": acc, "uJ_per_image": uj}
    if scheme:
        r["scheme"] = scheme
    return r


ROWS = [_row("probabilistic", 1, 0.97, 1.0), _row("probabilistic", 4, 0.98, 4.0),
        _row("probabilistic", 16, 0.99, 16.0), _row("binary", 1, 0.98, 1.0), _row("binary", 4, 0.985, 4.0)]
SCHEMES = [_row("probabilistic", 4, 0.985, 4.0, "input-jitter"), _row("binary", 4, 0.995, 4.0, "input-jitter")]


def test_energy_at_equal_accuracy_interpolates_log_linearly(bvp) -> None:  # type: ignore[no-untyped-def]
    eq = bvp.energy_at_equal_accuracy(ROWS, SCHEMES)
    plain = {e["binary_ensemble"]: e for e in eq if e["deployment"] == "plain"}
    assert plain[1]["probabilistic_uJ_at_same_accuracy"] == pytest.approx(4.0)  # 0.98 reached exactly at 4
    # 0.985 halfway between 0.98 (4 µJ) and 0.99 (16 µJ) in accuracy → geometric mean 8 µJ
    assert plain[4]["probabilistic_uJ_at_same_accuracy"] == pytest.approx(8.0)
    assert plain[4]["energy_ratio_prob_over_binary"] == pytest.approx(2.0)
    best = {e["binary_ensemble"]: e for e in eq if e["deployment"] == "best"}
    assert best[4]["scheme"] == "input-jitter" and best[4]["accuracy"] == 0.995
    assert best[4]["probabilistic_uJ_at_same_accuracy"] is None  # the probabilistic curve tops out at 0.99
    # the best probabilistic curve uses its jitter row at 4 copies: 0.98 lies between 0.97 @1 and 0.985 @4
    assert best[1]["probabilistic_uJ_at_same_accuracy"] == pytest.approx(4.0 ** (10 / 15))


def test_energy_ratio_target_reports_a_lower_bound_when_never_reached(bvp) -> None:  # type: ignore[no-untyped-def]
    t = bvp.energy_ratio_target(SCHEMES[1], ROWS, SCHEMES)
    assert t["bound"] and t["measured"] == pytest.approx(16.0 / 4.0) and t["status"] == "PASS"
    t = bvp.energy_ratio_target(ROWS[4], ROWS, SCHEMES)  # binary 0.985 @ 4 µJ; probabilistic jitter 0.985 @ 4 µJ
    assert not t["bound"] and t["measured"] == pytest.approx(1.0) and t["status"] == "FAIL"
    assert bvp.energy_ratio_target(None, ROWS, SCHEMES)["status"] == "NOT RUN"
    checks = bvp.targets(ROWS, SCHEMES)
    assert checks[-2]["best_scheme"] == "input-jitter" and checks[-1]["status"] == "PASS"


def test_the_binary_large_recipe_trains_what_the_benchmark_measures(bvp) -> None:  # type: ignore[no-untyped-def]
    # `spikeforge run binary-large` = the benchmark's BINARY_FULL["large"], warm-started from esser2015-large =
    # esser2015.FULL["large"] (thread counts aside: they change only the floating-point rounding)
    from spikeforge.recipes import load_recipe

    esser = importlib.import_module("esser2015")
    rec = load_recipe("binary-large").config
    full = bvp.BINARY_FULL["large"]
    assert rec["model"] == full["model"] and rec["network"]["signs"] == full["signs"]
    assert rec["deploy"]["ensemble"] == full["pool"] and rec["seed"] == full["train"]["seed"]
    assert {k: v for k, v in rec["warm_start"].items() if k != "recipe"} == {
        k: v for k, v in full["warm_start"].items() if k != "probabilistic"}
    drop = ("threads", "seed")
    assert {k: v for k, v in rec["train"].items() if k not in drop} == {
        k: v for k, v in full["train"].items() if k not in drop}
    prob = load_recipe(rec["warm_start"]["recipe"]).config
    pfull = esser.FULL["large"]["train"]
    defaults = {"lr_final_ratio": 0.05, "train_input": "intensity"}
    assert {k: v for k, v in prob["train"].items() if k not in drop} == {
        k: v for k, v in {**defaults, **pfull}.items() if k not in drop}


def test_replot_redraws_the_png_from_the_json_only(bvp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    rows = [{**r, "accuracy_std": 0.001} for r in ROWS]
    (tmp_path / "binary_vs_probabilistic.json").write_text(json.dumps({"rows": rows, "scheme_rows": []}))
    assert bvp.main(["--replot", "--out", str(tmp_path)]) == 0
    png = tmp_path / "binary_vs_probabilistic.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["binary_vs_probabilistic.json", png.name]


def test_replot_without_a_result_names_the_missing_file(bvp, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        bvp.main(["--replot", "--out", str(tmp_path)])
    assert "binary_vs_probabilistic.json" in capsys.readouterr().err
