"""Recipe schemas: which tables and keys a method's recipe may hold, and of which TOML types.

A recipe is free-form TOML, so a typo (``[data] datset = "fashion-mnist"``) would otherwise be ignored and the
run would silently use the default. Each method's pipeline module declares a :class:`RecipeSchema`; the
recipe is checked against it before any work starts (:func:`spikeforge.pipeline.run_recipe`), and every
problem is reported at once, naming the table, the key and the closest allowed key.

Schemas are derived from the code they configure where possible — :func:`table_from_dataclass` reads a
config dataclass's fields and type hints, :func:`table_from_callables` a constructor's keyword parameters —
so a new setting is accepted by the schema as soon as it exists.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union

__all__ = [
    "COMMON_KEYS",
    "Key",
    "RecipeSchema",
    "bounds",
    "field_problems",
    "key_from_hint",
    "table_from_callables",
    "table_from_dataclass",
]


@dataclass(frozen=True)
class Key:
    """One allowed recipe key: the TOML value types it accepts (empty: any), optionally its choices, and for
    numbers optional bounds: ``ge`` ≤ value, ``gt`` < value, value ≤ ``le``, value < ``lt``."""

    types: tuple[type, ...] = ()
    choices: tuple[Any, ...] = ()
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable, or ``None`` if it is."""
        why = self._type_problem(value)
        return why if why is not None else self.range_problem(value)

    def range_problem(self, value: Any) -> str | None:
        """Why a number is outside the bounds (or NaN or infinite), or ``None``; anything else (e.g. ``None``)
        passes."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if math.isnan(value):
            return "must be a number, got NaN"
        if math.isinf(value):
            return f"must be a finite number, got {value!r}"
        for bound, bad, word in ((self.ge, value < (self.ge or 0), ">="), (self.gt, value <= (self.gt or 0), ">"),
                                 (self.le, value > (self.le or 0), "<="), (self.lt, value >= (self.lt or 0), "<")):
            if bound is not None and bad:
                return f"must be {word} {bound:g}, got {value!r}"
        return None

    def _type_problem(self, value: Any) -> str | None:
        if self.choices:
            if value in self.choices and type(value) in {type(c) for c in self.choices}:
                return None
            return f"{value!r} is not one of {', '.join(repr(c) for c in self.choices)}"
        if not self.types:
            return None
        if isinstance(value, bool) and bool not in self.types:  # TOML true/false is not a number here
            return f"expected {self.describe()}, got a boolean ({value!r})"
        if isinstance(value, self.types):
            return None
        return f"expected {self.describe()}, got {type(value).__name__} {value!r}"

    def describe(self) -> str:
        names = {int: "an integer", float: "a number", str: "a string", bool: "true/false", list: "an array",
                 dict: "a table"}
        seen = [names.get(t, t.__name__) for t in self.types if not (t is int and float in self.types)]
        return " or ".join(seen)


def key_from_hint(hint: Any) -> Key:
    """The :class:`Key` a type hint allows: ``float`` also takes integers; ``X | None`` takes ``X`` (TOML has no
    null); ``Literal[...]`` takes exactly its values; ``list``/``tuple`` take arrays; ``dict`` takes tables."""
    if hint is Any or hint is object:
        return Key()
    origin = typing.get_origin(hint)
    if origin is Literal:
        vals = typing.get_args(hint)
        return Key(tuple(dict.fromkeys(type(v) for v in vals)), tuple(vals))
    if origin is Union or origin is types.UnionType:
        parts = [key_from_hint(a) for a in typing.get_args(hint) if a is not type(None)]
        if any(not p.types for p in parts):
            return Key()
        choices: tuple[Any, ...] = ()
        if all(p.choices for p in parts):
            choices = tuple(c for p in parts for c in p.choices)
        return Key(tuple(dict.fromkeys(t for p in parts for t in p.types)), choices)
    base = origin or hint
    if base in (list, tuple, set, frozenset) or (isinstance(base, type) and issubclass(base, (list, tuple))):
        return Key((list,))
    if base is dict or (isinstance(base, type) and issubclass(base, Mapping)):
        return Key((dict,))
    if base is float:
        return Key((int, float))
    if base in (int, str, bool):
        return Key((base,))
    return Key()


def bounds(*, ge: float | None = None, gt: float | None = None, le: float | None = None,
           lt: float | None = None) -> dict[str, Any]:
    """Field metadata that bounds a config dataclass's number, e.g. ``epochs: int = field(default=20,
    metadata=bounds(ge=0))``: :func:`table_from_dataclass` puts the bounds on the recipe key (so a recipe is
    refused before any work, ``--dry-run`` included) and :func:`field_problems` checks an instance."""
    given = {"ge": ge, "gt": gt, "le": le, "lt": lt}
    return {"bounds": {k: v for k, v in given.items() if v is not None}}


def field_problems(obj: Any) -> list[str]:
    """``"name: why"`` for every field of the dataclass instance ``obj`` outside its :func:`bounds`."""
    out = []
    for f in dataclasses.fields(obj):
        b = f.metadata.get("bounds")
        if b and (why := Key(**b).range_problem(getattr(obj, f.name))) is not None:
            out.append(f"{f.name} {why}")
    return out


def table_from_dataclass(cls: type, *, exclude: Iterable[str] = ()) -> dict[str, Key]:
    """Keys of a config dataclass: its field names, typed by their hints and bounded by their :func:`bounds`."""
    hints = typing.get_type_hints(cls)
    skip = set(exclude)
    return {f.name: dataclasses.replace(key_from_hint(hints.get(f.name, Any)), **f.metadata.get("bounds", {}))
            for f in dataclasses.fields(cls) if f.name not in skip}


def table_from_callables(*fns: Callable[..., Any], exclude: Iterable[str] = (),
                         bounds: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Key]:
    """Keys of the named parameters with defaults of ``fns`` (e.g. a constructor and the base constructor its
    ``**kw`` reaches), typed by their hints and bounded by ``bounds`` (name → ``{"gt": 0}`` etc.);
    positional-only, ``*args``/``**kw`` and excluded names are left out."""
    skip = set(exclude)
    out: dict[str, Key] = {}
    for fn in fns:
        hints = typing.get_type_hints(fn)
        for name, p in inspect.signature(fn).parameters.items():
            if name in skip or name == "self" or p.default is inspect.Parameter.empty:
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
                continue
            b = (bounds or {}).get(name, {})
            out.setdefault(name, dataclasses.replace(key_from_hint(hints.get(name, Any)), ge=b.get("ge"),
                                                     gt=b.get("gt"), le=b.get("le"), lt=b.get("lt")))
    return out


#: top-level keys every recipe may carry
COMMON_KEYS: dict[str, Key] = {
    "name": Key((str,)),
    "method": Key((str,)),
    "summary": Key((str,)),
    "description": Key((str,)),
    "seed": Key((int,)),
    "chip": Key((str,)),
}


@dataclass(frozen=True)
class RecipeSchema:
    """What a method's recipe may hold: ``tables`` (table name → key → :class:`Key`) and top-level ``keys``
    beyond ``common`` (:data:`COMMON_KEYS` for recipes). A table mapped to ``None`` is free-form (checked by
    the method itself). Chip files (:mod:`spikeforge.hardware.chipfile`) use the same checks."""

    tables: Mapping[str, Mapping[str, Key] | None]
    keys: Mapping[str, Key] = field(default_factory=dict)
    common: Mapping[str, Key] = field(default_factory=lambda: dict(COMMON_KEYS))

    def problems(self, config: Mapping[str, Any]) -> list[str]:
        """Every unknown table, unknown key and wrongly typed value in ``config``, one message each."""
        top = {**self.common, **self.keys}
        out: list[str] = []
        for name, value in config.items():
            if name in self.tables:
                spec = self.tables[name]
                if not isinstance(value, dict):
                    out.append(f"[{name}] must be a table, got {type(value).__name__} {value!r}")
                elif spec is not None:
                    for key, v in value.items():
                        if key not in spec:
                            out.append(f"[{name}] unknown key {key!r}{_hint(key, spec)}; allowed: "
                                       f"{', '.join(sorted(spec))}")
                        elif (why := spec[key].problem(v)) is not None:
                            out.append(f"[{name}] {key}: {why}")
            elif name in top:
                if (why := top[name].problem(value)) is not None:
                    out.append(f"{name}: {why}")
            else:
                kind = "table" if isinstance(value, dict) else "key"
                allowed = [*sorted(top), *(f"[{t}]" for t in sorted(self.tables))]
                out.append(f"unknown {kind} {name!r}{_hint(name, [*top, *self.tables])}; allowed: "
                           f"{', '.join(allowed)}")
        return out


def _hint(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def recipe_max_test(config: dict[str, Any], legacy: tuple[str, str] | None = None,
                    default: int | None = None) -> int | None:
    """The recipe's test subset, ``[data] max_test`` (the first N test inputs; every method reads this key),
    or the method's older name for it (``legacy = (table, key)``, e.g. ``("layerwise", "n_test")``), else
    ``default`` (``None``: the whole test split). Both set to different values is refused."""
    new = config.get("data", {}).get("max_test")
    old = config.get(legacy[0], {}).get(legacy[1]) if legacy else None
    if legacy is not None and new is not None and old is not None and new != old:
        raise ValueError(f"[data] max_test = {new} and [{legacy[0]}] {legacy[1]} = {old} (its older name) "
                         "disagree: set one")
    value = new if new is not None else old if old is not None else default
    return None if value is None else int(value)
