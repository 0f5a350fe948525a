"""User-defined chips: a chip is a parameter set, so a new one is a small file, not a fork.

A chip file (TOML or JSON) names the preset it derives from and changes what differs::

    name = "truenorth-512"
    base = "truenorth"                 # every parameter not given here, and the energy constants, come from it
    description = "TrueNorth with 512-axon cores"
    source = "design-space study; not a fabricated chip"

    [core]                             # any CoreSpec field
    n_axons = 512

    [energy]                           # optional: any EnergyConstants value, replacing the base preset's
    e_synaptic_event_j = 3.2e-11

Every name accepted where a chip preset is (recipes' ``chip = ...``, ``get_chip``, ``--chip``) also accepts
such a file's path. The chip's full parameters travel inside every deployment built for it, so the file is
needed only to build deployments, not to load, simulate or cost them. Energy: constants not given in
``[energy]`` are the base preset's, an assumption that each estimate states
(:func:`spikeforge.energy.constants_for`).
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from spikeforge.hardware.spec import PRESETS, ChipSpec, CoreSpec

__all__ = ["ChipFileError", "chip_from_mapping", "chip_to_toml", "load_chip", "save_chip"]

_TOP = ("name", "base", "description", "source", "mesh_rows", "mesh_cols", "tick_hz", "max_chips")


class ChipFileError(ValueError):
    """A chip file is unreadable, or names an unknown or invalid parameter; the message names the file."""


def load_chip(path: str | os.PathLike[str]) -> ChipSpec:
    """Read a chip file (``.toml`` or ``.json``; see the module docstring) into a :class:`ChipSpec`.

    Raises:
        ChipFileError: the file is missing or unreadable, lacks ``name`` or ``base``, uses a preset's name,
            names an unknown table, parameter or energy constant (with the closest known one), gives a value
            of the wrong type, or describes an impossible core (an empty range, ...).
    """
    p = Path(path)
    if not p.is_file():
        raise ChipFileError(f"chip file {p} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise ChipFileError(f"{p}: not a readable chip file: {e}") from None
    if not isinstance(data, dict):
        raise ChipFileError(f"{p}: a chip file holds a table of parameters, got {type(data).__name__}")
    return chip_from_mapping(data, source=str(p))


def chip_from_mapping(data: dict[str, Any], source: str = "chip") -> ChipSpec:
    """A :class:`ChipSpec` from a chip file's parsed contents (see :func:`load_chip`); ``source`` names the
    file in error messages."""
    from spikeforge.energy.constants import EnergyConstants
    from spikeforge.recipes.schema import Key, RecipeSchema, table_from_dataclass

    top = table_from_dataclass(ChipSpec, exclude=("core", "energy"))
    schema = RecipeSchema(
        tables={"core": table_from_dataclass(CoreSpec),
                "energy": {k: Key((int, float)) for k in EnergyConstants.value_fields()}},
        keys=top,
        common={},
    )
    problems = schema.problems(data)
    for k, v in data.get("energy", {}).items() if isinstance(data.get("energy"), dict) else ():
        if isinstance(v, int | float) and not isinstance(v, bool) and not (0 <= v < float("inf")):
            problems.append(f"[energy] {k}: must be finite and >= 0, got {v!r}")
    if problems:
        raise ChipFileError(f"{source}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    name, base = data.get("name"), data.get("base")
    if not name:
        raise ChipFileError(f"{source}: missing 'name' (the chip's name, stored in every deployment)")
    if name in PRESETS:
        raise ChipFileError(f"{source}: name {name!r} is a preset's; give the derived chip a name of its own")
    if base not in PRESETS:
        raise ChipFileError(f"{source}: 'base' must name the preset the chip derives from "
                            f"({', '.join(sorted(PRESETS))}), got {base!r}")
    preset = PRESETS[base]
    core = {**asdict(preset.core), **data.get("core", {})}
    core["reset_modes"] = tuple(core["reset_modes"])
    energy = data.get("energy", {})
    chip_fields = {f.name for f in fields(ChipSpec)} - {"core", "energy"}
    rest = {k: getattr(preset, k) for k in chip_fields}
    rest.update({k: data[k] for k in chip_fields if k in data})
    rest["source"] = data.get("source", f"derived from the {base} preset ({source})")
    rest["description"] = data.get("description", f"{name}: derived from {base}")
    try:
        return ChipSpec(core=CoreSpec(**core), energy=tuple(energy.items()), **rest)
    except (TypeError, ValueError) as e:
        raise ChipFileError(f"{source}: {e}") from None


def chip_to_toml(chip: ChipSpec) -> str:
    """A chip file listing every parameter of ``chip``; reading it back gives ``chip`` again. For a preset
    it is a starting point for a new chip: named ``my-PRESET``, with the preset as its ``base``."""
    head = []
    values = {**{k: getattr(chip, k) for k in _TOP}, "base": chip.base or chip.name}
    if not chip.base:
        values.update(name=f"my-{chip.name}", description=f"my chip, derived from the {chip.name} preset",
                      source="")
        head = [f"# A chip derived from the {chip.name} preset: change what differs and delete the rest (it comes",
                "# from base). Load it with spikeforge.hardware.load_chip, or name this file wherever a chip is",
                "# asked for (recipes' chip = ..., --chip). See docs/chip-model.md.", ""]
    lines = [*head, *(f"{k} = {_toml_value(values[k])}" for k in _TOP), "", "[core]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in asdict(chip.core).items() if v is not None]
    if chip.energy:
        lines += ["", "[energy]"] + [f"{k} = {_toml_value(v)}" for k, v in chip.energy]
    elif not chip.base:  # the base's energy constants, commented out: uncomment the ones your chip changes
        from spikeforge.energy import constants_for

        c = constants_for(chip)
        lines += ["", f"# [energy]  # the {chip.name} preset's constants; uncomment and change those that differ"]
        lines += [f"# {k} = {_toml_value(getattr(c, k))}" for k in c.value_fields()]
    return "\n".join(lines) + "\n"


def save_chip(chip: ChipSpec, path: str | os.PathLike[str]) -> Path:
    """Write ``chip`` as a TOML chip file (:func:`chip_to_toml`) atomically; returns the path."""
    from spikeforge.fileio import write_text_atomic

    write_text_atomic(path, chip_to_toml(chip))
    return Path(path)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)  # a JSON string is a valid TOML basic string
