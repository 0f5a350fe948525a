from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from spikeforge.benchmarking import (
    git_commit,
    git_dirty,
    load_average,
    machine,
    result_path,
    run_in_processes,
    write_result,
)


def test_result_path_keeps_quick_apart(tmp_path: Path) -> None:
    assert result_path(tmp_path, "x.json", quick=False) == tmp_path / "x.json"
    assert result_path(tmp_path, "x.json", quick=True) == tmp_path / "quick" / "x.json"


def test_write_result_checks_keys_and_is_atomic(tmp_path: Path) -> None:
    good = {"mode": "full", "command": "python benchmarks/x.py", "git_commit": "abc", "rows": [1]}
    write_result(tmp_path / "x.json", good)
    assert json.loads((tmp_path / "x.json").read_text()) == good
    with pytest.raises(ValueError, match=r"lacks required key\(s\) \['git_commit'\]"):
        write_result(tmp_path / "y.json", {"mode": "full", "command": "c"})
    with pytest.raises(ValueError, match="mode must be"):
        write_result(tmp_path / "y.json", {**good, "mode": "fast"})
    with pytest.raises(ValueError, match="refusing to replace the full result"):
        write_result(tmp_path / "x.json", {**good, "mode": "quick"})
    assert json.loads((tmp_path / "x.json").read_text()) == good  # the full result is untouched
    write_result(tmp_path / "quick" / "x.json", {**good, "mode": "quick"})
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == [
        "quick/x.json", "x.json"]  # no temporary files left behind
    from spikeforge.benchmarking import check_quick_output

    with pytest.raises(ValueError, match="refusing to replace the full result"):  # before a quick run starts
        check_quick_output(tmp_path / "x.json")
    check_quick_output(tmp_path / "quick" / "x.json")  # a quick result may be replaced
    check_quick_output(tmp_path / "none.json")


def test_the_ensemble_benchmarks_refuse_a_wrong_out_before_running(capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    for script, name in (("esser2015.py", "esser2015"), ("binary_vs_probabilistic.py", "binary_vs_probabilistic")):
        full = root / "benchmarks" / "results" / f"{name}.json"
        if not full.exists():
            continue
        r = subprocess.run([sys.executable, str(root / "benchmarks" / script), "--quick", "--out",
                            str(full.parent)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "refusing to replace the full result" in r.stderr


def test_git_commit_and_dirty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPIKEFORGE_GIT_COMMIT", raising=False)
    assert git_commit(tmp_path) == "unknown" and git_dirty(tmp_path) is None
    monkeypatch.setenv("SPIKEFORGE_GIT_COMMIT", "abc123")  # a tree copied out of its checkout names its commit
    assert git_commit(tmp_path) == "abc123"
    run = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "f.txt").write_text("1")
    run("add", "f.txt")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert git_commit(tmp_path) == head and len(head) == 40  # a checkout's own HEAD wins
    assert git_dirty(tmp_path) is False
    # a rewritten result file or summary is not a code change
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "x.json").write_text("{}")
    (tmp_path / "BENCHMARKS.md").write_text("a")
    run("add", "benchmarks", "BENCHMARKS.md")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "r")
    (tmp_path / "benchmarks" / "results" / "x.json").write_text('{"a": 1}')
    (tmp_path / "BENCHMARKS.md").write_text("b")
    assert git_dirty(tmp_path) is False
    (tmp_path / "f.txt").write_text("2")
    assert git_dirty(tmp_path) is True


def test_machine_and_load() -> None:
    assert "logical CPUs" in machine()
    la = load_average()
    assert la is None or la >= 0


def test_run_in_processes_keeps_call_order_and_raises() -> None:
    calls = [(2, 5), (3, 2), (10, 0)]
    want = [32, 9, 1]
    assert run_in_processes(pow, calls, jobs=1) == want
    # spawned workers, submitted by priority (largest first) but returned in call order
    assert run_in_processes(pow, calls, jobs=2, priority=lambda c: c[1]) == want
    with pytest.raises(ZeroDivisionError):
        run_in_processes(divmod, [(1, 1), (1, 0)], jobs=2)
