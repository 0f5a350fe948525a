"""``spikeforge run`` entry point of the layer-wise conversion (Mern et al. 2018; docs/methods/layerwise.md).

Recipe keys (top level ``method = "layerwise"``): ``chip``, ``seed``; ``[data]`` ``dataset``, ``n_train``;
``[ann]`` ``arch`` ("mlp", "mlp-wide", "lenet", "mlp:784-300-10"), ``epochs``, ``lr``, ``schedule``
("constant" | "cosine"); ``[layerwise]``
``constraints`` ("digital" | "analog" | "hybrid"), ``ticks`` (an integer or "auto"), ``n_calib``, ``n_test``, ``keep``,
``method`` ("layerwise" | "normalisation"), ``workers``.
Trains the ANN, converts it, writes ``out_dir/deployment.sfd`` (digital) and evaluates it on the simulator.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from spikeforge.data import load_dataset
from spikeforge.methods.layerwise.ann import build_model, train_model
from spikeforge.methods.layerwise.api import convert, save_model
from spikeforge.recipes.schema import Key, RecipeSchema, recipe_max_test

#: tables and keys a ``method = "layerwise"`` recipe may hold (see the module docstring)
RECIPE_SCHEMA = RecipeSchema(tables={
    "data": {"dataset": Key((str,)), "n_train": Key((int,), ge=1), "max_test": Key((int,), ge=1)},
    "ann": {"arch": Key((str,)), "epochs": Key((int,), ge=0), "lr": Key((int, float), gt=0),
            "schedule": Key((str,), ("constant", "cosine"))},
    "layerwise": {"constraints": Key((str,), ("digital", "analog", "hybrid")), "ticks": Key((int, str)),
                  "n_calib": Key((int,), ge=1), "n_test": Key((int,), ge=1), "keep": Key((int, float), gt=0, le=1),
                  "method": Key((str,), ("layerwise", "normalisation")), "workers": Key((int,), ge=1)},
})


def _ticks(value: Any) -> int | str:
    """A recipe's ``ticks``: an integer, or ``"auto"`` (see :func:`spikeforge.methods.layerwise.ticks.choose_ticks`)."""
    return "auto" if value == "auto" else int(value)


def _log(msg: str) -> None:
    """Progress lines go to stderr: stdout stays clean for ``spikeforge run --json``."""
    print(msg, file=sys.stderr, flush=True)


def run(config: dict[str, Any], out_dir: Path, data_dir: Path | str | None = None) -> dict[str, Any]:
    """Train → convert → deploy → simulate; returns the results (see module docstring)."""
    torch.set_num_threads(1)
    data = config.get("data", {})
    ann = config.get("ann", {})
    lw = config.get("layerwise", {})
    seed = int(config.get("seed", 0))
    ticks = lw.get("ticks", 32)  # checked before the ANN is trained
    if not (ticks == "auto" or (isinstance(ticks, int) and not isinstance(ticks, bool) and ticks >= 1)):
        raise ValueError(f"[layerwise] ticks must be an integer >= 1 or 'auto', got {ticks!r}")
    dataset = str(data.get("dataset", "mnist"))  # a name or a .npz path: convert reloads it by this
    ds = load_dataset(dataset, data_dir)
    n_train = int(data.get("n_train", len(ds.x_train)))
    arch = str(ann.get("arch", "mlp"))
    model = build_model(arch, ds.n_classes, seed=seed)
    x = ds.x_train[:n_train].reshape(min(n_train, len(ds.x_train)), -1) / 255.0
    train_model(model, x, ds.y_train[:n_train], epochs=int(ann.get("epochs", 3)), lr=float(ann.get("lr", 1e-3)),
                seed=seed, image_shape=(1, *ds.image_shape), schedule=str(ann.get("schedule", "constant")),
                log=_log)
    model_path = save_model(model, arch, Path(out_dir) / "ann.pt")
    n_test = recipe_max_test(config, ("layerwise", "n_test"), 2000) or 2000
    res = convert(model_path, str(lw.get("constraints", "digital")), out_dir, str(config.get("chip", "truenorth")),
                  _ticks(ticks), dataset=dataset, data_dir=data_dir, n_calib=int(lw.get("n_calib", 2000)),
                  n_test=n_test, keep=float(lw.get("keep", 1.0)),
                  method=str(lw.get("method", "layerwise")), workers=int(lw.get("workers", 1)), model=model,
                  log=_log)
    res["arch"] = arch
    return res
