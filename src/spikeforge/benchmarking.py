"""Shared plumbing of the benchmark scripts (``benchmarks/*.py``): where a result goes, what it records about
the code and the machine, and writing it without ever leaving a half-written file.

Every benchmark result is a JSON object with at least

* ``mode`` — ``"full"`` (committed under ``benchmarks/results/NAME``) or ``"quick"`` (the CI smoke run, under
  ``benchmarks/results/quick/NAME``; :func:`write_result` refuses to let a quick result replace a full one);
* ``command`` — the command line that produced it;
* ``git_commit`` — the commit of the code that ran, taken when the run **starts** (a long run may outlive
  later commits); ``git_dirty`` says whether tracked files differed from it.

:func:`write_result` checks those keys and writes atomically (temporary file in the same folder, then
``os.replace``).
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing as mp
import os
import platform
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from spikeforge.fileio import write_json_atomic

__all__ = ["REQUIRED_KEYS", "git_commit", "git_dirty", "load_average", "machine", "result_path", "write_result"]

#: top-level keys every benchmark result must carry
REQUIRED_KEYS = ("mode", "command", "git_commit")


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit(root: Path | str) -> str:
    """``git rev-parse HEAD`` in ``root``; outside a git checkout (e.g. a copy of the tree sent to a GPU
    machine) the commit named by ``SPIKEFORGE_GIT_COMMIT``, else ``"unknown"``."""
    out = _git(Path(root), "rev-parse", "HEAD")
    if out and out.strip():
        return out.strip()
    return os.environ.get("SPIKEFORGE_GIT_COMMIT", "").strip() or "unknown"


#: Paths whose edits do not make a result "dirty": the benchmark outputs and their summary, which other
#: benchmark runs rewrite while this one runs (the code that produced a result is what ``git_dirty`` is about).
RESULT_PATHS: tuple[str, ...] = ("benchmarks/results", "BENCHMARKS.md")


def git_dirty(root: Path | str) -> bool | None:
    """Whether tracked files other than :data:`RESULT_PATHS` differ from HEAD (``None`` outside a git
    checkout)."""
    excludes = [f":(exclude){p}" for p in RESULT_PATHS]
    out = _git(Path(root), "status", "--porcelain", "--untracked-files=no", "--", ".", *excludes)
    return None if out is None else bool(out.strip())


def machine(device: str = "cpu") -> str:
    """One line naming the CPU model, logical CPUs, OS and torch version, and the GPU when ``device`` is a
    CUDA device."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        tv = f"; torch {torch.__version__}"
        if device.startswith("cuda") and torch.cuda.is_available():
            tv += f"; GPU {torch.cuda.get_device_name(torch.device(device))}, CUDA {torch.version.cuda}"
    except ImportError:  # pragma: no cover - torch is a dependency
        tv = ""
    return f"{cpu}; {os.cpu_count()} logical CPUs; {platform.system()} {platform.release()}{tv}"


def benchmark_threads() -> int:
    """PyTorch threads for a benchmark's simulations: ``SPIKEFORGE_THREADS`` when set, else every CPU this
    process may run on (2 on the CI machines the time limits are stated for)."""
    env = os.environ.get("SPIKEFORGE_THREADS")
    if env is not None:
        if not env.strip().isdigit() or int(env) < 1:
            raise ValueError(f"SPIKEFORGE_THREADS must be an integer >= 1, got {env!r}")
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def load_average() -> float | None:
    """The 1-minute load average (other work competing for the CPUs), or ``None`` where unavailable."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def result_path(results_dir: Path | str, name: str, quick: bool) -> Path:
    """``results_dir/NAME`` for a full run, ``results_dir/quick/NAME`` for a quick one."""
    base = Path(results_dir)
    return base / "quick" / name if quick else base / name


def write_result(path: Path | str, payload: Mapping[str, Any]) -> None:
    """Check the required keys (see the module docstring) and write ``payload`` atomically as JSON.

    Raises
    ------
    ValueError
        If a required key is missing, ``mode`` is not ``"full"``/``"quick"``, or a quick result would
        replace a full one.
    """
    missing = [k for k in REQUIRED_KEYS if k not in payload]
    if missing:
        raise ValueError(f"benchmark result for {path} lacks required key(s) {missing}")
    mode = payload["mode"]
    if mode not in ("full", "quick"):
        raise ValueError(f"benchmark result mode must be 'full' or 'quick', got {mode!r}")
    p = Path(path)
    if mode == "quick":
        check_quick_output(p)
    write_json_atomic(p, dict(payload))


def check_quick_output(path: Path | str) -> None:
    """Raise ``ValueError`` if ``path`` holds a full result, which a quick run must never replace: call it
    before a quick run starts, so that a wrong ``--out`` is refused at once rather than after the run."""
    p = Path(path)
    if not p.exists():
        return
    try:
        old_mode = json.loads(p.read_text(encoding="utf-8")).get("mode")
    except (OSError, ValueError, AttributeError):
        old_mode = None
    if old_mode == "full":
        raise ValueError(f"refusing to replace the full result {p} with a quick one (quick runs go under quick/)")


def run_in_processes(fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], jobs: int,
                     priority: Callable[[tuple[Any, ...]], float] | None = None) -> list[Any]:
    """``[fn(*c) for c in calls]``, computed in ``jobs`` worker processes (``jobs <= 1``: in this process).

    Workers are *spawned* (a fresh interpreter each, so no forked torch/OpenMP state) and must be able to
    import ``fn`` (a module-level function, also of a script run as ``__main__``). Calls are submitted in
    decreasing ``priority`` (e.g. expected run time, so the longest start first); results come back in the
    order of ``calls``. An exception in a worker is raised here.
    """
    if jobs <= 1:
        return [fn(*c) for c in calls]
    order = sorted(range(len(calls)), key=lambda i: -priority(calls[i]) if priority else 0)
    out: list[Any] = [None] * len(calls)
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        futs = {pool.submit(fn, *calls[i]): i for i in order}
        for f in cf.as_completed(futs):
            out[futs[f]] = f.result()
    return out
