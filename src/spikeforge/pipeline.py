"""Run a recipe end to end: dispatch to the method's pipeline, write results, return them.

Every method exposes ``run(config, out_dir, data_dir) -> dict`` in ``spikeforge.methods.<method>.pipeline``;
it loads data, trains, maps, design-rule checks and saves ``out_dir/deployment.sfd``, then evaluates the
deployment on the simulator (:func:`spikeforge.evaluate.evaluate_deployment`).
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path
from typing import Any

from spikeforge import __version__
from spikeforge.benchmarking import machine
from spikeforge.fileio import file_digest, write_json_atomic
from spikeforge.recipes import Recipe, RecipeError, validate_recipe

#: method name → module holding its ``run`` entry point
METHODS: dict[str, str] = {
    "template": "spikeforge.methods.template.pipeline",
    "probabilistic": "spikeforge.methods.probabilistic.pipeline",
    "binary": "spikeforge.methods.binary.pipeline",
    "eedn": "spikeforge.methods.eedn.pipeline",
    "layerwise": "spikeforge.methods.layerwise.pipeline",
}


#: suffixes of the files a recipe may name (a chip, a dataset, a trained model, a teacher)
INPUT_FILE_SUFFIXES = (".toml", ".npz", ".pt", ".pt2", ".pth")


def input_file_digests(config: Any) -> dict[str, str]:
    """sha256 (first 16 hex digits) of every file a recipe's settings name (a string value ending in one of
    :data:`INPUT_FILE_SUFFIXES` that is a file), by the name as given: a run records them, so that a sweep
    does not keep the result of a run whose chip or data file has changed since."""
    out: dict[str, str] = {}

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str) and v.lower().endswith(INPUT_FILE_SUFFIXES) and Path(v).is_file():
            out[v] = file_digest(v)

    walk(config)
    return out


def run_recipe(recipe: Recipe, out_dir: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None,
               ) -> dict[str, Any]:
    """Run ``recipe``, writing ``deployment.sfd`` and ``results.json`` into ``out_dir``.

    The recipe is first checked against its method's schema (:func:`spikeforge.recipes.validate_recipe`):
    an unknown or mistyped setting stops the run before anything is trained or written.

    Returns the results (also written as ``results.json``): the method's own keys plus ``accuracy`` (fraction
    of the test inputs), ``uJ_per_image`` (µJ), ``mW``, ``fps``, ``fps_per_W``, ``events_per_input``,
    ``cores``, ``chips``, ``regime``, ``ticks_per_input``, ``latency_ticks``, ``n_inputs``, ``dataset``,
    ``energy`` (the energy report as a dict), ``deployment`` (its path) and provenance (``recipe``,
    ``method``, ``recipe_source``, ``recipe_overrides`` when ``--set`` changed it, ``recipe_config``,
    ``spikeforge_version``, ``machine``, ``wall_s``).
    """
    if not isinstance(recipe, Recipe):
        hint = f"; load it first: spikeforge.load_recipe({recipe!r})" if isinstance(recipe, str | Path) else ""
        raise TypeError(f"run_recipe: expected a Recipe, got {type(recipe).__name__}{hint}")
    out_dir = Path(out_dir)
    data_dir = None if data_dir is None else Path(data_dir)
    if recipe.method not in METHODS:
        raise RecipeError(f"{recipe.source}: unknown method {recipe.method!r}; known: {', '.join(sorted(METHODS))}")
    validate_recipe(recipe)
    module = importlib.import_module(METHODS[recipe.method])
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = input_file_digests(recipe.config)  # before the run reads them
    t0 = time.perf_counter()
    try:
        results: dict[str, Any] = module.run(recipe.config, out_dir, data_dir)
    except BaseException:
        if created and not any(out_dir.iterdir()):  # refused before writing anything: leave no empty folder
            out_dir.rmdir()
        raise
    results = {
        "recipe": recipe.name,
        "recipe_source": recipe.source,
        **({"recipe_overrides": list(recipe.overrides)} if recipe.overrides else {}),
        "recipe_config": recipe.config,  # the settings as run (file + overrides): the run is self-describing
        **({"input_files": inputs} if inputs else {}),  # the content of the files those settings name
        "machine": machine(),  # CPU, OS and torch version, for comparing times and reproducing numbers
        "method": recipe.method,
        "spikeforge_version": __version__,
        "wall_s": round(time.perf_counter() - t0, 2),
        **results,
        "deployment": str(out_dir / "deployment.sfd"),
    }
    write_json_atomic(out_dir / "results.json", results)
    return results
