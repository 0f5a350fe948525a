"""``spikeforge run`` entry point of the Eedn method: data → train → export (BN folded) → map → check →
save → simulate → energy.

Recipe keys (method-specific tables, never ``[method]``, which is the method name):

* ``[data]`` ``dataset`` (``"mnist"``, ``"fashion-mnist"``, ``"digits"``), ``n_test`` (optional subset);
* ``[encoding]`` an :class:`~spikeforge.data.Encoder` with ``ticks = 1`` (one tick per image, the Eedn regime:
  one classification per tick): ``kind = "threshold"`` (one binary channel per pixel) or
  ``kind = "thermometer"``, ``levels = L`` (L binary input channels per pixel);
* ``[network]`` ``layers`` (list of layer tables, see :mod:`spikeforge.methods.eedn.model`), ``eta``
  (hysteresis), ``max_cores`` (refuse a bigger mapping);
* ``[train]`` the fields of :class:`~spikeforge.methods.eedn.train.TrainConfig`;
* ``chip`` (top level, default ``"truenorth"``), ``seed``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spikeforge.data import Dataset, Encoder, load_dataset
from spikeforge.deploy import Deployment, save
from spikeforge.evaluate import evaluate_deployment
from spikeforge.hardware import check
from spikeforge.hardware.spec import get_chip
from spikeforge.mapping import MappingReport, compile_network
from spikeforge.methods.eedn.model import EednNet
from spikeforge.methods.eedn.train import TrainConfig, TrainLog, train_eedn
from spikeforge.recipes.schema import Key, RecipeSchema, recipe_max_test, table_from_dataclass

#: tables and keys a ``method = "eedn"`` recipe may hold (the layer tables are checked by the model builder)
RECIPE_SCHEMA = RecipeSchema(tables={
    "data": {"dataset": Key((str,)), "max_test": Key((int,), ge=1), "n_test": Key((int,), ge=1)},
    "encoding": table_from_dataclass(Encoder),
    "network": {"layers": Key((list,)), "eta": Key((int, float), ge=0, lt=0.5), "max_cores": Key((int,), ge=1)},
    "train": table_from_dataclass(TrainConfig),
})


def train_config(table: dict[str, Any], seed: int = 0) -> TrainConfig:
    """A :class:`TrainConfig` from a recipe table, rejecting unknown keys."""
    allowed = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ValueError(f"unknown [train] setting(s) {unknown}; allowed: {sorted(allowed)}")
    return TrainConfig(**{"seed": seed, **table})


def build_and_deploy(
    ds: Dataset,
    layers: list[dict[str, Any]],
    train: TrainConfig,
    *,
    encoder: Encoder,
    chip: str = "truenorth",
    eta: float = 0.1,
    max_cores: int | None = None,
    n_test: int | None = None,
    lanes: int = 64,
    provenance: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    checkpoint: Path | str | None = None,
) -> tuple[EednNet, Deployment, MappingReport, dict[str, Any], TrainLog]:
    """Train an Eedn network on ``ds``, map it, and evaluate the deployment on the simulator.

    Returns (model, deployment, mapping report, evaluation dict of :func:`evaluate_deployment` plus
    ``model_accuracy`` — the torch model's accuracy on the same inputs, equal by construction —, train log).
    ``checkpoint``: per-epoch training checkpoint to resume from / write (see :func:`train_eedn`).
    """
    if encoder.ticks != 1:
        raise ValueError("Eedn networks classify one image per tick: use an encoder with ticks = 1")
    spec = get_chip(chip)
    h, w = ds.image_shape
    x_train = encoder.encode(ds.x_train)[:, 0]
    model = EednNet((encoder.channels_per_pixel, h, w), layers, ds.n_classes, eta=eta, n_axons=spec.core.n_axons)
    data = {"dataset": ds.name, **({"sha256": ds.fingerprint()} if ds.source else {})}
    tlog = train_eedn(model, x_train, ds.y_train, train, log=log, checkpoint=checkpoint, data=data)
    net = model.to_network(name=f"eedn-{ds.name}")
    dep, report = compile_network(net, spec, max_cores=max_cores,
                                  provenance={"method": "eedn", "dataset": ds.name, "encoding": encoder.to_dict(),
                                              "layers": model.spec, **(provenance or {})})
    check(dep)
    if log:
        log(report.format())
    n = len(ds.x_test) if n_test is None else min(n_test, len(ds.x_test))
    x_test = encoder.encode(ds.x_test[:n])
    y_test = ds.y_test[:n]
    model.eval()
    with torch.no_grad():
        pred = np.concatenate([model(torch.from_numpy(x_test[s : s + 1000, 0].astype(np.float32))).argmax(1).numpy()
                               for s in range(0, n, 1000)])
    res = evaluate_deployment(dep, x_test, y_test, name=ds.name, batch_size=lanes)
    res["model_accuracy"] = float(np.mean(pred == y_test))
    res["mapping"] = report.to_dict()
    res["train_seconds"] = tlog.seconds
    res["train_log"] = tlog.epochs
    return model, dep, report, res, tlog


def run(config: dict[str, Any], out_dir: Path, data_dir: Path | str | None = None) -> dict[str, Any]:
    """Train, map, save ``out_dir/deployment.sfd`` and evaluate on the simulator (see module docstring)."""
    seed = int(config.get("seed", 0))
    data_cfg = config.get("data", {})
    ds = load_dataset(str(data_cfg.get("dataset", "mnist")), data_dir)
    encoder = Encoder.from_dict(config.get("encoding", {"kind": "threshold", "ticks": 1, "threshold": 0.5}))
    net_cfg = dict(config.get("network", {}))
    layers = net_cfg.pop("layers", None)
    if not layers:
        raise ValueError("recipe needs [network] layers = [...] (see spikeforge.methods.eedn.model)")
    eta = float(net_cfg.pop("eta", 0.1))
    max_cores = net_cfg.pop("max_cores", None)
    if net_cfg:
        raise ValueError(f"unknown [network] setting(s) {sorted(net_cfg)}; allowed: layers, eta, max_cores")
    train = train_config(dict(config.get("train", {})), seed)
    torch.manual_seed(seed)
    _, dep, _, res, _ = build_and_deploy(
        ds, list(layers), train, encoder=encoder, chip=str(config.get("chip", "truenorth")), eta=eta,
        max_cores=None if max_cores is None else int(max_cores), n_test=recipe_max_test(config, ("data", "n_test")),
        provenance={"seed": seed, "recipe": config.get("name", "")}, checkpoint=Path(out_dir) / "checkpoint.pt",
        log=lambda msg: print(msg, file=sys.stderr, flush=True))  # stdout stays clean for --json
    save(dep, Path(out_dir) / "deployment.sfd")
    return res
