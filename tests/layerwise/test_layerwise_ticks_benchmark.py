"""benchmarks/layerwise_ticks.py: the summary fields computed from rows (exact values)."""

from __future__ import annotations

from types import ModuleType

from helpers import load_script


def _load() -> ModuleType:
    return load_script("benchmarks/layerwise_ticks.py", "layerwise_ticks_bench")


def _row(chip: str, t: int, method: str, acc: float) -> dict[str, object]:
    return {"chip": chip, "ticks": t, "method": method, "snn_accuracy": acc}


def test_summary_differences_and_smallest_ticks_within_one_point() -> None:
    bench = _load()
    rows = [_row("truenorth", 4, "layerwise", 0.950), _row("truenorth", 4, "normalisation", 0.940),
            _row("truenorth", 8, "layerwise", 0.9705), _row("truenorth", 8, "normalisation", 0.9745),
            _row("truenorth", 16, "layerwise", 0.975), _row("truenorth", 16, "normalisation", 0.976),
            _row("loihi-like", 4, "layerwise", 0.90)]  # no normalisation row at T=4: no difference reported
    s = bench.summarise(rows, ann_accuracy=0.98)
    assert s["layerwise_minus_normalisation_points"] == {"loihi-like": {}, "truenorth": {"4": 1.0, "8": -0.4,
                                                                                           "16": -0.1}}
    # within 1 point: acc >= 0.97 (0.9705 at T=8 for layer-wise; 0.9745 at T=8 for normalisation)
    assert s["min_ticks_within_1_point"] == {"loihi-like layerwise": None, "loihi-like normalisation": None,
                                             "truenorth layerwise": 8, "truenorth normalisation": 8}
    s2 = bench.summarise(rows, ann_accuracy=0.955)  # 0.950 is within 1 point, 0.940 is not
    assert s2["min_ticks_within_1_point"]["truenorth layerwise"] == 4
    assert s2["min_ticks_within_1_point"]["truenorth normalisation"] == 8
