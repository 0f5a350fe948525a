"""Parameter sweeps: one recipe run for every combination of a few settings, then the runs compared.

``run_sweep(recipe, {"train.epochs": ["5", "10"], "deploy.ensemble": ["1", "4"]}, out)`` runs the four
combinations into ``out/<combination>/`` (each a normal run folder), writes ``out/sweep.json`` (the
comparison rows of :func:`spikeforge.report.compare.compare_runs`, each with its settings) and
``out/sweep.png`` (accuracy against energy, the Pareto front marked). Every combination is checked against
the method's schema before the first one runs. A finished combination (its ``results.json`` records the
same settings, ``recipe_config``) is not run again, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from spikeforge.fileio import write_json_atomic
from spikeforge.recipes import Recipe, RecipeError, apply_overrides, validate_recipe

__all__ = ["combinations", "run_folder_name", "run_sweep", "short_setting"]


def combinations(vary: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Every combination of ``vary`` (setting → values) as lists of ``KEY=VALUE`` overrides, first key slowest.

    Raises:
        RecipeError: no setting, a setting without values, or a value repeated for one setting.
    """
    if not vary:
        raise RecipeError("a sweep needs at least one setting to vary")
    for key, values in vary.items():
        if isinstance(values, str):  # a bare string would be swept one character at a time
            raise RecipeError(f"sweep: the values of {key} must be a list of strings, e.g. [{values!r}], "
                              f"not the string {values!r}")
        if not values:
            raise RecipeError(f"sweep: {key} has no values")
        if len(set(values)) != len(values):
            raise RecipeError(f"sweep: {key} repeats a value ({', '.join(values)})")
    keys = list(vary)
    return [[f"{k}={v}" for k, v in zip(keys, combo, strict=True)] for combo in itertools.product(*vary.values())]


def run_folder_name(overrides: Sequence[str]) -> str:
    """A folder name for a combination: ``train.epochs=5,deploy.ensemble=4`` with unsafe characters replaced."""
    return re.sub(r"[^A-Za-z0-9._=,+-]", "_", ",".join(overrides))[:200]


def run_sweep(
    recipe: Recipe,
    vary: Mapping[str, Sequence[str]],
    out_dir: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] | None = None,
    *,
    rerun: bool = False,
    jobs: int = 1,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``recipe`` (its own ``--set`` changes kept) once per combination of ``vary``; returns the comparison
    rows (sorted by energy per image, ``pareto`` marked, ``settings`` = the combination). ``rerun`` runs
    finished combinations again; ``jobs`` > 1 runs that many combinations at once, each in its own process
    (the methods train on one thread each)."""
    from spikeforge.benchmarking import run_in_processes
    from spikeforge.pipeline import run_recipe
    from spikeforge.report.compare import compare_runs
    from spikeforge.report.plots import plot_pareto

    out = Path(out_dir)
    combos = combinations(vary)
    recipes = [apply_overrides(recipe, combo) for combo in combos]
    for r in recipes:  # every combination is checked before the first one runs
        validate_recipe(r)
    folders = [out / run_folder_name(c) for c in combos]
    if len(set(folders)) != len(folders):
        raise RecipeError("sweep: two combinations map to one folder name; use simpler values")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    pending = []
    for i, (combo, rec, folder) in enumerate(zip(combos, recipes, folders, strict=True), start=1):
        done = folder / "results.json"
        if not rerun and done.is_file() and _same_settings(done, rec):
            if log:
                log(f"[{i}/{len(combos)}] {' '.join(combo)}: done before, kept ({done})")
            continue
        if log:
            log(f"[{i}/{len(combos)}] {' '.join(combo)} → {folder}")
        pending.append((rec, folder, data_dir))
    run_in_processes(run_recipe, pending, jobs if len(pending) > 1 else 1)
    rows = compare_runs(folders)
    by_path = {str(f / "results.json"): c for f, c in zip(folders, combos, strict=True)}
    for row in rows:
        row["settings"] = by_path[row["path"]]
        row["label"] = " ".join(short_setting(item) for item in row["settings"])
    write_json_atomic(out / "sweep.json", {"recipe": recipe.name, "base_overrides": list(recipe.overrides),
                                           "vary": {k: list(v) for k, v in vary.items()}, "rows": rows})
    plot_pareto(rows, out / "sweep.png", title=f"{recipe.name}: {', '.join(vary)}")
    return rows


def short_setting(item: str) -> str:
    """``"train.epochs=5"`` → ``"epochs=5"`` (the key's last part; the value untouched)."""
    key, _, value = item.partition("=")
    return f"{key.rsplit('.', 1)[-1]}={value}"


def _same_settings(results: Path, recipe: Recipe) -> bool:
    """Whether ``results`` is a finished run of these settings on files (chip, data, models) of the same content."""
    from spikeforge.pipeline import input_file_digests

    try:
        saved = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return (isinstance(saved, dict) and saved.get("recipe_config") == json.loads(json.dumps(recipe.config))
            and saved.get("input_files", {}) == input_file_digests(recipe.config))
