"""benchmarks/energy_calibration.py: JSON schema, quick vs full paths, exit status."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from helpers import load_script
from spikeforge.energy.calibration import ANCHORS, CHECKS, CalibrationResult, CalibrationRow, model_value


def _load() -> ModuleType:
    return load_script("benchmarks/energy_calibration.py", "energy_calibration_bench")


def test_quick_writes_only_the_quick_file(tmp_path: Path) -> None:
    bench = _load()
    assert bench.main(["--quick"], results_dir=tmp_path) == 0
    quick = tmp_path / "quick" / "energy_calibration.json"
    assert quick.exists()
    assert not (tmp_path / "energy_calibration.json").exists()
    data = json.loads(quick.read_text(encoding="utf-8"))
    assert data["mode"] == "quick"
    assert data["command"] == "python benchmarks/energy_calibration.py --quick"
    assert isinstance(data["git_commit"], str) and data["git_commit"]
    assert len(data["rows"]) == 11
    for row in data["rows"]:
        assert set(row) == {"anchor", "unit", "published", "model", "rel_error", "activity"}
        assert isinstance(row["published"], float) and isinstance(row["model"], float)
    assert list(tmp_path.rglob("*.tmp*")) == []


def test_full_mode(tmp_path: Path) -> None:
    bench = _load()
    assert bench.main([], results_dir=tmp_path) == 0
    data = json.loads((tmp_path / "energy_calibration.json").read_text(encoding="utf-8"))
    assert data["mode"] == "full" and data["command"] == "python benchmarks/energy_calibration.py"


def test_exit_status_when_an_anchor_fails(tmp_path: Path, monkeypatch: object) -> None:
    bench = _load()
    real = bench.calibrate_truenorth

    def broken() -> object:
        res = real()
        c = res.constants.with_values(p_static_core_w=res.constants.p_static_core_w * 3)
        rows = []
        for a in (*ANCHORS, *CHECKS):
            m = model_value(a, c)
            rows.append(CalibrationRow(a.name, a.unit, a.published, m, (m - a.published) / a.published, "",
                                       a.required, a.source))
        return CalibrationResult(c, tuple(rows), res.activity)

    monkeypatch.setattr(bench, "calibrate_truenorth", broken)  # type: ignore[attr-defined]
    assert bench.main(["--quick"], results_dir=tmp_path) == 1
