"""Recipes: named TOML files describing a whole run (data → train → map → check → simulate → report).

A recipe names its ``method`` (a key of :data:`spikeforge.pipeline.METHODS`) and carries the method's
settings; shipped recipes live in this folder, and users pass their own path instead of a name.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_RECIPE = "binary-small"


class RecipeError(ValueError):
    """A recipe is missing, unreadable, or lacks a required key."""


@dataclass(frozen=True)
class Recipe:
    """A parsed recipe. ``config`` is the whole TOML document (method-specific keys included)."""

    name: str
    method: str
    description: str
    source: str
    config: dict[str, Any] = field(default_factory=dict)


def list_recipes() -> list[str]:
    """Names of the recipes shipped with spikeforge."""
    return sorted(p.name[:-5] for p in resources.files(__package__).iterdir() if p.name.endswith(".toml"))


def load_recipe(name_or_path: str | Path | None = None) -> Recipe:
    """Load a shipped recipe by name, or a user's recipe by path (``None`` → the default recipe)."""
    ref = str(name_or_path) if name_or_path is not None else DEFAULT_RECIPE
    path = Path(ref)
    if path.suffix == ".toml" or path.exists():
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
    return Recipe(name=str(cfg["name"]), method=str(cfg["method"]), description=str(cfg.get("description", "")),
                  source=source, config=cfg)
