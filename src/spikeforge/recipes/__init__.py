"""Recipes: named TOML files describing a whole run (data → train → map → check → simulate → report).

A recipe names its ``method`` (a key of :data:`spikeforge.pipeline.METHODS`) and carries the method's
settings; shipped recipes live in this folder, and users pass their own path instead of a name. Single
settings can be changed without editing a file (:func:`apply_overrides`, ``spikeforge run --set
train.epochs=5``); every recipe is checked against its method's :class:`~spikeforge.recipes.schema.RecipeSchema`
before a run starts (:func:`validate_recipe`).
"""

from __future__ import annotations

import copy
import importlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from spikeforge.recipes.schema import RecipeSchema

DEFAULT_RECIPE = "binary-small"


class RecipeError(ValueError):
    """A recipe is missing, unreadable, or lacks a required key."""


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe. ``config`` is the whole TOML document (method-specific keys included); ``summary`` is
    its one-line description; ``overrides`` the ``KEY=VALUE`` settings applied on top of the file, in order."""

    name: str
    method: str
    description: str
    source: str
    config: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    overrides: tuple[str, ...] = ()


def list_recipes() -> list[str]:
    """Names of the recipes shipped with spikeforge."""
    return sorted(p.name[:-5] for p in resources.files(__package__).iterdir() if p.name.endswith(".toml"))


def load_recipe(name_or_path: str | Path | None = None, overrides: Sequence[str] = ()) -> Recipe:
    """Load a shipped recipe by name, or a user's recipe by path (``None`` → the default recipe), with
    ``overrides`` (``"TABLE.KEY=VALUE"`` strings, see :func:`apply_overrides`) applied.

    Example: ``load_recipe("binary-small", ["data.dataset=fashion-mnist", "train.epochs=10"])``.
    """
    if isinstance(overrides, str):  # one "TABLE.KEY=VALUE", not a sequence of its characters
        overrides = [overrides]
    recipe = _load_file(name_or_path)
    return apply_overrides(recipe, overrides) if overrides else recipe


def _load_file(name_or_path: str | Path | None) -> Recipe:
    ref = str(name_or_path) if name_or_path is not None else DEFAULT_RECIPE
    path = Path(ref)
    if path.suffix == ".toml" or path.exists():
        if path.is_dir():
            raise RecipeError(f"recipe file {path} is a folder, not a TOML file")
        if not path.is_file():
            raise RecipeError(f"recipe file {path} does not exist")
        text, source = path.read_text(), str(path)
    else:
        res = resources.files(__package__).joinpath(f"{ref}.toml")
        if not res.is_file():
            raise RecipeError(f"no recipe named {ref!r}; shipped recipes: {', '.join(list_recipes())}")
        text, source = res.read_text(), f"spikeforge/recipes/{ref}.toml"
    try:
        cfg = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RecipeError(f"{source}: invalid TOML: {e}") from None
    for key in ("name", "method"):
        if key not in cfg:
            raise RecipeError(f"{source}: missing required key {key!r}")
    if not source.startswith("spikeforge/recipes/"):  # files a user's recipe names relative to itself
        _resolve_beside(cfg, ("chip",), (".toml", ".json"), Path(source).parent)
        data = cfg.get("data")
        if isinstance(data, dict):
            _resolve_beside(data, ("dataset",), (".npz",), Path(source).parent)
        train = cfg.get("train")
        if isinstance(train, dict):  # a distillation teacher beside the recipe
            _resolve_beside(train, ("teacher",), (".pt2", ".pt"), Path(source).parent)
        warm = cfg.get("warm_start")
        if isinstance(warm, dict):  # a binary recipe's probabilistic starting point
            _resolve_beside(warm, ("recipe", "model"), (".toml", ".pt"), Path(source).parent)
    description = str(cfg.get("description", ""))
    return Recipe(name=str(cfg["name"]), method=str(cfg["method"]), description=description, source=source,
                  config=cfg, summary=str(cfg.get("summary", "")) or _first_sentence(description))


def _resolve_beside(table: dict[str, Any], keys: Sequence[str], suffixes: tuple[str, ...], folder: Path) -> None:
    """Point each relative file name of ``keys`` (ending in ``suffixes``) at ``folder`` if the file is there
    (a chip file or dataset beside the recipe), else leave it relative to the working directory."""
    def beside(value: Any) -> Any:
        if isinstance(value, str) and value.lower().endswith(suffixes) and not Path(value).is_absolute():
            there = folder / value
            if there.is_file():
                return str(there)
        return value

    for key in keys:
        if key in table:  # a file name, or a list of them
            value = table[key]
            table[key] = [beside(v) for v in value] if isinstance(value, list) else beside(value)


def run_folder(recipe: Recipe) -> Path:
    """The default output folder of ``spikeforge run``: ``runs/NAME`` for a shipped recipe, ``runs/STEM`` for
    a recipe file (``mine.toml`` → ``runs/mine``: a copy of a shipped recipe keeps its ``name`` key, and its runs
    must not replace the shipped recipe's)."""
    if recipe.source.startswith("spikeforge/recipes/"):
        return Path("runs") / recipe.name
    return Path("runs") / Path(recipe.source).stem


def recipe_text(name_or_path: str | Path | None = None) -> str:
    """The TOML text of a shipped recipe (by name) or a recipe file: a starting point for one's own."""
    ref = str(name_or_path) if name_or_path is not None else DEFAULT_RECIPE
    recipe = load_recipe(ref)
    if recipe.source.startswith("spikeforge/recipes/"):
        return resources.files(__package__).joinpath(f"{ref}.toml").read_text()
    return Path(recipe.source).read_text()


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    m = re.search(r"(?<!\bal)(?<!\be\.g)(?<!\bi\.e)\.\s+(?=[A-Z])", flat)  # not after "et al." / "e.g."
    return flat if m is None else flat[: m.start() + 1]


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"TABLE.KEY=VALUE"`` → (path, value). VALUE is read as a TOML value (``5``, ``1e-3``, ``true``,
    ``[1, 2]``, ``"text"``); anything that is not valid TOML is taken as a plain string (``fashion-mnist``)."""
    key, sep, raw = item.partition("=")
    path = [p.strip() for p in key.strip().split(".")]
    if not sep or not all(path):
        raise RecipeError(f"override {item!r}: expected KEY=VALUE or TABLE.KEY=VALUE, e.g. train.epochs=5")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return path, value


def apply_overrides(recipe: Recipe, overrides: Sequence[str]) -> Recipe:
    """A copy of ``recipe`` with each ``TABLE.KEY=VALUE`` of ``overrides`` set (see :func:`parse_override`).

    Missing tables are created; a key that names a table, or a table path through a non-table value, is
    refused. Unknown keys are caught by :func:`validate_recipe`, not here.
    """
    if not overrides:
        return recipe
    if isinstance(overrides, str):
        overrides = [overrides]
    cfg = copy.deepcopy(recipe.config)
    for item in overrides:
        path, value = parse_override(item)
        node = cfg
        for i, part in enumerate(path[:-1]):
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise RecipeError(f"override {item!r}: {'.'.join(path[: i + 1])} is a value, not a table")
            node = nxt
        if isinstance(node.get(path[-1]), dict) and not isinstance(value, dict):
            raise RecipeError(f"override {item!r}: {'.'.join(path)} is a table; set one of its keys "
                              f"({', '.join(sorted(node[path[-1]]))})")
        node[path[-1]] = value
    for key in ("name", "method"):
        if not isinstance(cfg.get(key), str):
            raise RecipeError(f"override: {key} must be a string")
    return replace(recipe, name=cfg["name"], method=cfg["method"], config=cfg,
                   overrides=(*recipe.overrides, *overrides))


def recipe_schema(method: str) -> RecipeSchema:
    """The :class:`RecipeSchema` of ``method`` (its pipeline module's ``RECIPE_SCHEMA``)."""
    from spikeforge.pipeline import METHODS

    if method not in METHODS:
        raise RecipeError(f"unknown method {method!r}; known: {', '.join(sorted(METHODS))}")
    schema: RecipeSchema = importlib.import_module(METHODS[method]).RECIPE_SCHEMA
    return schema


def validate_recipe(recipe: Recipe) -> None:
    """Raise :class:`RecipeError` listing every unknown table or key and every wrongly typed value of
    ``recipe`` (with the closest allowed key), so that a typo never silently falls back to a default."""
    try:
        schema = recipe_schema(recipe.method)
    except RecipeError as e:
        raise RecipeError(f"{recipe.source}: {e}") from None
    problems = schema.problems(recipe.config)
    chip = recipe.config.get("chip")
    if isinstance(chip, str):  # an unknown preset or a bad chip file is found now, not after training
        from spikeforge.hardware import get_chip

        try:
            get_chip(chip)
        except (KeyError, ValueError) as e:
            problems.append(f"chip: {e.args[0] if isinstance(e, KeyError) and e.args else e}")
    dataset = (recipe.config.get("data") or {}).get("dataset") if isinstance(recipe.config.get("data"), dict) else None
    if isinstance(dataset, str):  # an unknown name or a missing .npz file is found now, not after set-up
        from spikeforge.data._specs import canonical_name

        if dataset.lower().endswith(".npz"):
            if not Path(dataset).is_file():
                problems.append(f"[data] dataset: no such .npz file {dataset!r}")
        else:
            try:
                canonical_name(dataset)
            except ValueError as e:
                problems.append(f"[data] dataset: {e}")
    if problems:
        where = recipe.source + (f" with --set {' '.join(recipe.overrides)}" if recipe.overrides else "")
        raise RecipeError(f"{where}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
