"""scripts/side_by_side.py: rows gathered from result files, the best configuration per energy budget."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from helpers import load_script


def _load() -> ModuleType:
    return load_script("scripts/side_by_side.py", "side_by_side")


def _corenet(method: str, ens: int, acc: float, uj: float, scheme: str | None = None) -> dict[str, object]:
    r: dict[str, object] = {"method": method, "network": "small", "ensemble": ens, "accuracy_mean": acc,
                            "uJ_per_image": uj, "cores": 5 * ens, "fps": 1000.0}
    if scheme:
        r["scheme"] = scheme
    return r


def test_rows_and_budgets(tmp_path: Path) -> None:
    sbs = _load()
    (tmp_path / "binary_vs_probabilistic.json").write_text(json.dumps({
        "mode": "full",
        "rows": [_corenet("binary", 1, 0.96, 0.28), _corenet("probabilistic", 1, 0.95, 0.27)],
        "scheme_rows": [_corenet("probabilistic", 2, 0.97, 0.55, "input-jitter")]}))
    (tmp_path / "eedn.json").write_text(json.dumps({"mode": "full", "rows": [
        {"dataset": "mnist", "network": "one_chip", "accuracy": 0.994, "uJ_per_image": 228.0, "cores": 3350,
         "fps": 1000.0},
        {"dataset": "fashion-mnist", "network": "one_chip", "accuracy": 0.9, "uJ_per_image": 1.0, "cores": 1,
         "fps": 1.0}]}))  # another dataset: left out
    (tmp_path / "layerwise_ticks.json").write_text(json.dumps({"mode": "quick", "rows": [{}]}))  # quick: ignored
    table = sbs.rows(tmp_path)
    assert [(r["method"], r["configuration"]) for r in table] == [
        ("binary", "small x1"), ("probabilistic", "small x1"), ("probabilistic", "small x2, input-jitter"),
        ("eedn", "one_chip network")]
    assert table[0]["accuracy_pct"] == 96.0 and table[3]["cores"] == 3350
    assert sbs.best_within(table, 0.2) is None
    assert sbs.best_within(table, 0.3)["method"] == "binary"  # 96.0 % beats 95.0 % within 0.3 µJ
    assert sbs.best_within(table, 1.0)["configuration"] == "small x2, input-jitter"
    assert sbs.best_within(table, 300.0)["method"] == "eedn"
    md = sbs.markdown(table).splitlines()
    assert len(md) == 2 + 7  # header, rule, one line per budget 0.3 … 300 (each has a configuration within it)
    assert md[2].startswith("| ≤ 0.3 | binary |") and md[-1].startswith("| ≤ 300 | eedn |")
    sbs.plot(table, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 0
