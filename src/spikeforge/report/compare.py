"""Side-by-side comparison of runs: accuracy against energy, and which runs are Pareto-optimal.

Reads the ``results.json`` a run writes (``spikeforge run``, ``spikeforge simulate --json`` saved to a file,
:func:`spikeforge.evaluate.evaluate_deployment`), one row per run. A run is on the *Pareto front* when no other
run is at least as accurate at no more energy per image, and strictly better in one of the two.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["CSV_COLUMNS", "ComparisonError", "SkippedRunWarning", "compare_runs", "load_run", "pareto_front",
           "rows_to_csv"]

#: the columns :func:`rows_to_csv` writes, in order
CSV_COLUMNS = ("label", "pareto", "method", "recipe", "dataset", "chip", "accuracy", "uJ_per_image", "cores",
               "ticks_per_input", "fps", "n_inputs", "overrides", "path")


class ComparisonError(ValueError):
    """A results file is missing, unreadable, or lacks the accuracy or the energy per image."""


def load_run(path: str | os.PathLike[str]) -> dict[str, Any]:
    """One comparison row from a ``results.json`` (or a run folder holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    if not p.is_file():
        raise ComparisonError(f"{p}: no such results file (a run folder holds results.json)")
    try:
        r = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ComparisonError(f"{p}: not a readable results file ({e})") from None
    if not isinstance(r, dict):
        raise ComparisonError(f"{p}: a results file holds a JSON object, got {type(r).__name__}")
    missing = [k for k in ("accuracy", "uJ_per_image") if not isinstance(r.get(k), int | float)]
    if missing:
        why = ("an analog or hybrid conversion: no chip, so no energy per image"
               if r.get("constraints") in ("analog", "hybrid") else "not the results of a simulated deployment")
        raise ComparisonError(f"{p}: no {' or '.join(missing)} ({why})")
    acc, uj = float(r["accuracy"]), float(r["uJ_per_image"])
    if not (math.isfinite(acc) and 0.0 <= acc <= 1.0):
        raise ComparisonError(f"{p}: accuracy must be a fraction in [0, 1], got {r['accuracy']}")
    if not (math.isfinite(uj) and uj >= 0.0):
        raise ComparisonError(f"{p}: uJ_per_image must be a finite number >= 0, got {r['uJ_per_image']}")
    energy: dict[str, Any] = r["energy"] if isinstance(r.get("energy"), dict) else {}
    overrides = [str(o) for o in r.get("recipe_overrides", [])]
    label = _sweep_label(p.parent.name, overrides) or p.parent.name or str(p)
    if "=" in label and not overrides:  # a sweep's run folder from a results file without its settings
        label = " ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, _, v in (i.partition("=") for i in label.split(",")))
    return {
        "label": label,
        "path": str(p),
        "method": r.get("method", ""),
        "recipe": r.get("recipe", ""),
        "dataset": r.get("dataset", ""),
        "chip": energy.get("chip", r.get("chip", "")),
        "accuracy": float(r["accuracy"]),
        "uJ_per_image": float(r["uJ_per_image"]),
        "cores": r.get("cores"),
        "ticks_per_input": r.get("ticks_per_input"),
        "fps": r.get("fps"),
        "n_inputs": r.get("n_inputs", r.get("test_images")),
        "overrides": overrides,
    }


def _sweep_label(folder: str, overrides: Sequence[str]) -> str | None:
    """The label of a sweep's run folder: the combination the folder was named after (the run's last ``k``
    recorded ``--set`` changes, those after the sweep's own base changes), keys shortened,
    ``"train.epochs=5,deploy.ensemble=4"`` → ``"epochs=5 ensemble=4"``; values are taken from the run's
    results, not parsed from the folder name (a value may hold commas). None: not a sweep's run folder."""
    from spikeforge.sweep import run_folder_name, short_setting

    for k in range(1, len(overrides) + 1):
        if run_folder_name(overrides[-k:]) == folder:
            return " ".join(short_setting(o) for o in overrides[-k:])
    return None


def pareto_front(rows: Sequence[dict[str, Any]]) -> list[bool]:
    """For each row, whether no other row dominates it (≥ accuracy at ≤ µJ/image, one of them strictly)."""
    out = []
    for r in rows:
        a, e = r["accuracy"], r["uJ_per_image"]
        out.append(not any(o["accuracy"] >= a and o["uJ_per_image"] <= e
                           and (o["accuracy"] > a or o["uJ_per_image"] < e) for o in rows))
    return out


def _run_folders(p: Path) -> list[Path]:
    """Run folders (holding ``results.json``) in ``p`` at any depth, in path order, not looking inside a run."""
    if (p / "results.json").is_file():
        return [p]
    return [r for d in sorted(p.iterdir()) if d.is_dir() for r in _run_folders(d)]


class SkippedRunWarning(UserWarning):
    """A results file found inside a folder of runs cannot be compared (no accuracy or energy); it is left out."""


def _expand(paths: Sequence[str | os.PathLike[str]]) -> list[tuple[Path, bool]]:
    """Run folders and results files as given; any other folder (a sweep's, or ``runs/`` holding runs and
    sweeps) stands for every run folder in it, at any depth. Each with whether it was named (True) or found
    inside a named folder (False); a results file reached twice is kept once."""
    out: list[tuple[Path, bool]] = []
    seen: set[Path] = set()

    def add(p: Path, named: bool) -> None:
        key = (p / "results.json" if p.is_dir() else p).resolve()
        if key not in seen:
            seen.add(key)
            out.append((p, named))

    for given in paths:
        p = Path(given)
        if p.is_dir() and not (p / "results.json").is_file():
            runs = _run_folders(p)
            if not runs:
                raise ComparisonError(f"{p}: neither a run folder (no results.json) nor a folder of run folders")
            for r in runs:
                add(r, False)
        else:
            add(p, True)
    return out


def compare_runs(paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Rows for ``paths`` (results files, run folders, or folders of run folders such as a sweep's), sorted by
    energy per image, each with ``pareto``.
    Labels are the run folders' names, made unique by their paths where two coincide. A run is Pareto-optimal
    when no other is at least as accurate for no more energy per image (:func:`pareto_front`). One path
    (a string) is a list of one."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if not paths:
        raise ComparisonError("name at least one results file or run folder")
    rows = []
    for p, named in _expand(paths):
        try:
            rows.append(load_run(p))
        except ComparisonError as e:
            if named:
                raise
            warnings.warn(f"left out {e}", SkippedRunWarning, stacklevel=2)
    if not rows:
        raise ComparisonError("no comparable run (every results file found lacks accuracy or energy per image)")
    labels = [r["label"] for r in rows]
    for r in rows:
        if labels.count(r["label"]) > 1:
            r["label"] = str(Path(r["path"]).parent)
    for r, front in zip(rows, pareto_front(rows), strict=True):
        r["pareto"] = front
    return sorted(rows, key=lambda r: (r["uJ_per_image"], -r["accuracy"]))


def rows_to_csv(rows: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write comparison rows as CSV (:data:`CSV_COLUMNS`; accuracy as a fraction, overrides joined by spaces),
    atomically; returns the path."""
    from spikeforge.fileio import write_text_atomic

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow(["" if r.get(c) is None else " ".join(r[c]) if c == "overrides" else r[c] for c in CSV_COLUMNS])
    write_text_atomic(path, buf.getvalue())
    return Path(path)
