"""Recipe pipeline shared by the probabilistic and binary methods: data → train → sample/binarise →
deployment (checked, saved) → simulate the test set → energy → results dict.

Config keys (TOML tables; every key optional except where noted):

* ``seed`` — master seed (training, initialisation, sampling).
* ``[data]`` ``dataset`` ("mnist"), ``max_test`` (evaluate on the first N test images).
* ``[network]`` ``name`` ("small" | "large"), ``signs`` ("perm2" | "pm1"), ``sign_seed``; or a custom layout
  (``window``, ``stride``, ``input_neurons``, ``hidden``, ``output_cores``, ``output_neurons``) for the
  dataset's image shape and classes, see
  :func:`~spikeforge.methods.corenet.topology.network_from_config`.
* ``[model]`` method-specific model settings (see each method's ``model`` module).
* ``[train]`` :class:`~spikeforge.methods.corenet.train.TrainConfig` fields (epochs, lr, optimizer, ...).
* ``[deploy]`` ``ensemble`` (copies on distinct cores, votes summed), ``sample_seed`` (probabilistic),
  ``input_jitter`` (bool, default false: copy k reads the image translated by ``JITTER_SHIFTS[k mod 9]``,
  an input-jitter ensemble; see :meth:`~spikeforge.methods.corenet.topology.NetworkSpec.input_sources`).
* ``[encoding]`` test-time input spikes: ``kind`` ("threshold" | "bernoulli" | "bernoulli-draws" |
  "axon-draws"), ``threshold``, ``seed``; one tick per image. ``"bernoulli-draws"`` gives every copy its own
  Bernoulli draw of the image on its own input channels (``build_deployment(..., private_inputs=True)``; copy
  k's draw is seeded by ``(seed, k, 0)``), where ``"bernoulli"`` feeds one draw to all copies.
  ``"axon-draws"`` gives every input *axon* its own draw (:func:`spikeforge.data.encode.axon_draws`): the
  deployment keeps per-copy pixel channels and is fed through
  :meth:`~spikeforge.deploy.Deployment.per_axon_inputs`.
* ``chip`` — preset name ("truenorth").
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spikeforge.data.encode import inputs_for_deployment
from spikeforge.deploy import save
from spikeforge.energy import estimate_energy
from spikeforge.evaluate import evaluate_deployment
from spikeforge.fileio import torch_save_atomic, write_json_atomic
from spikeforge.hardware import check, get_chip
from spikeforge.methods.corenet import data as cdata
from spikeforge.methods.corenet.build import Copy, build_deployment, check_fits_chip
from spikeforge.methods.corenet.checkpoints import _cache_key, prepare_checkpoint
from spikeforge.methods.corenet.topology import NetworkSpec, jitter_shifts, network_from_config
from spikeforge.methods.corenet.torchnet import CoreNetModel
from spikeforge.methods.corenet.train import TrainConfig, train
from spikeforge.recipes.schema import Key, RecipeSchema, recipe_max_test, table_from_callables, table_from_dataclass

ModelFactory = Callable[[NetworkSpec, int, dict[str, Any], int, Any], CoreNetModel]
CopyMaker = Callable[[CoreNetModel, int, int], list[Copy]]


def _log(*args: Any) -> None:
    """Training log lines go to stderr: stdout stays clean for ``spikeforge run --json``."""
    print(*args, file=sys.stderr, flush=True)


def energy_summary(dep: Any, counts: Any) -> dict[str, float]:
    """µJ/image, mW, FPS (pipelined, one image per tick) and mean per-image event counts."""
    rep = estimate_energy(counts, dep.chip, dep, regime="pipelined")
    m = counts.mean()
    return {"uJ_per_image": float(rep.mean_energy_uj), "mW": float(rep.power_mw), "fps": float(rep.fps),
            "synaptic_events_per_image": m["synaptic_events"], "spikes_per_image": m["spikes"],
            "axon_events_per_image": m["axon_events"], "hops_per_image": m["hops"]}


#: test-time encodings of the core-network recipes (one tick per image)
ENCODING_KINDS = ("threshold", "bernoulli", "bernoulli-draws", "axon-draws")


def corenet_schema(model: type[CoreNetModel], deploy: dict[str, Key] | None = None) -> RecipeSchema:
    """The recipe schema of a method built on :func:`run_corenet` with the model class ``model`` (its
    keyword settings form ``[model]``; ``seed``, ``leak_min``/``leak_max`` come from the recipe and chip)."""
    return RecipeSchema(tables={
        "data": {"dataset": Key((str,)), "max_test": Key((int,), ge=1)},
        "network": {"name": Key((str,)), "signs": Key((str,)), "sign_seed": Key((int,)),
                    "window": Key((int,), ge=1), "stride": Key((int,), ge=1), "input_neurons": Key((int,), ge=1),
                    "hidden": Key((list,)), "output_cores": Key((int,), ge=1),
                    "output_neurons": Key((int,), ge=1)},
        "train": table_from_dataclass(TrainConfig),
        "model": table_from_callables(model.__init__, CoreNetModel.__init__,
                                      exclude=("copies", "seed", "leak_min", "leak_max"),
                                      bounds={**CoreNetModel.PARAM_BOUNDS, **model.PARAM_BOUNDS}),
        "deploy": {"ensemble": Key((int,), ge=1), "input_jitter": Key((bool,)), **(deploy or {})},
        "encoding": {"kind": Key((str,), ENCODING_KINDS),
                     "threshold": Key((int, float), ge=0, le=1), "seed": Key((int,)), "ticks": Key((int,), ge=1)},
    })


#: a warm start: ``(spec, dataset, chip, out_dir) → (key, init)``, ``key`` a JSON-able record of where the
#: starting point came from (it enters the checkpoint key), ``init(model)`` sets the fresh model's parameters
WarmStart = Callable[[NetworkSpec, Any, Any, Path], tuple[dict[str, Any], Callable[[CoreNetModel], None]]]


def check_run_settings(config: dict[str, Any]) -> None:
    """Refuse, before any training, the ``[deploy]`` / ``[encoding]`` / ``[train]`` settings that could only
    fail after it."""
    TrainConfig.from_dict(dict(config.get("train", {})))
    ensemble = int(config.get("deploy", {}).get("ensemble", 1))
    if ensemble < 1:
        raise ValueError(f"[deploy] ensemble must be >= 1, got {ensemble}")
    enc = config.get("encoding", {})
    kind = enc.get("kind", "threshold")
    if kind not in ENCODING_KINDS:
        raise ValueError(f"[encoding] kind {kind!r}: use one of {', '.join(map(repr, ENCODING_KINDS))}")
    if int(enc.get("ticks", 1)) != 1:
        raise ValueError("these networks classify one image per tick: [encoding] ticks must be 1")


def recipe_network(config: dict[str, Any], ds: Any, chip: Any) -> NetworkSpec:
    """The core network a recipe's ``[network]`` table describes, for the dataset's image shape and classes."""
    img = tuple(int(v) for v in ds.x_train.shape[1:])
    return network_from_config(dict(config.get("network", {})), img, int(ds.n_classes), core=chip.core)


def train_recipe_model(
    method: str,
    config: dict[str, Any],
    out_dir: Path,
    ds: Any,
    chip: Any,
    make_model: ModelFactory,
    copies: int,
    *,
    warm_start: WarmStart | None = None,
) -> tuple[NetworkSpec, CoreNetModel, dict[str, Any]]:
    """Build the recipe's network and train ``copies`` copies of its model in ``out_dir`` (resuming
    ``out_dir/checkpoint.pt`` when it was written under the same settings), save ``out_dir/model.pt``.
    Returns ``(spec, model, history)``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = int(config.get("seed", 0))
    tcfg_d = dict(config.get("train", {}))
    tcfg_d.setdefault("seed", seed)
    tcfg = TrainConfig.from_dict(tcfg_d)
    mcfg = dict(config.get("model", {}))
    spec = recipe_network(config, ds, chip)
    check_fits_chip(spec, chip)  # before training, not after it
    init_key, init = warm_start(spec, ds, chip, out_dir) if warm_start is not None else (None, None)
    model = make_model(spec, copies, mcfg, seed, chip)
    if init is not None:
        init(model)  # a resumed checkpoint (same key, so the same starting point) overrides it
    # a checkpoint of other settings in out_dir (an edited recipe) is not resumed: training starts afresh
    key = _cache_key(method, spec, copies, mcfg, tcfg, init_key)
    data = {"dataset": ds.name}
    if ds.source:  # a user's .npz file: by content (a shipped dataset's name is its checksum-verified content)
        data["data_sha256"] = ds.fingerprint()
    prepare_checkpoint(out_dir, {**key, "chip": chip.name, **data}, _log)
    hist = train(model, cdata.to_unit(ds.x_train), ds.y_train, tcfg, checkpoint=out_dir / "checkpoint.pt", log=_log)
    torch_save_atomic({"model": model.state_dict(), "method": model.method_state(), "config": config},
                      out_dir / "model.pt")
    return spec, model, hist


def run_corenet(
    method: str,
    config: dict[str, Any],
    out_dir: Path,
    data_dir: Path | str | None,
    make_model: ModelFactory,
    make_copies: CopyMaker,
    *,
    train_copies: Callable[[int], int],
    warm_start: WarmStart | None = None,
) -> dict[str, Any]:
    """The shared pipeline (see module docstring). ``train_copies(ensemble)`` = copies trained jointly;
    ``warm_start`` sets the model's starting point (see :data:`WarmStart`)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    seed = int(config.get("seed", 0))
    dcfg = config.get("data", {})
    dep_cfg = config.get("deploy", {})
    enc = config.get("encoding", {})
    chip = get_chip(str(config.get("chip", "truenorth")))
    check_run_settings(config)  # settings that would only fail after training are checked before it
    ensemble = int(dep_cfg.get("ensemble", 1))
    kind = enc.get("kind", "threshold")

    ds = cdata.load(dcfg.get("dataset", "mnist"), data_dir)
    spec, model, hist = train_recipe_model(method, config, out_dir, ds, chip, make_model, train_copies(ensemble),
                                           warm_start=warm_start)

    copies = make_copies(model, ensemble, seed)
    jitter = bool(dep_cfg.get("input_jitter", False))
    private = kind in ("bernoulli-draws", "axon-draws")
    eseed = int(enc.get("seed", seed))
    # the test-time encoding, recorded so that `spikeforge simulate` / reports encode as this run did
    enc_rec: dict[str, Any] = {"kind": kind, "threshold": float(enc.get("threshold", 0.5))} if kind == "threshold" \
        else {"kind": kind, "seed": eseed}
    dep = build_deployment(spec, copies, chip=chip, input_shifts=jitter_shifts(len(copies)) if jitter else None,
                           private_inputs=private,
                           provenance={"method": method, "dataset": ds.name, "seed": seed,
                                       "recipe": config.get("name", ""), "ensemble": ensemble,
                                       "encoding": enc_rec})
    check(dep)
    save(dep, out_dir / "deployment.sfd")

    max_test = recipe_max_test(config)
    xte, yte = (ds.x_test, ds.y_test) if not max_test else (ds.x_test[:max_test], ds.y_test[:max_test])
    fed, spikes = inputs_for_deployment(xte, enc_rec, dep)  # exactly what the deployment records
    ev = evaluate_deployment(fed, spikes, yte, name=ds.name)  # pipelined regime: one image per tick
    m = ev["events_per_input"]
    res: dict[str, Any] = {
        "method": method, "network": spec.name, "layout": spec.describe(), "ensemble": ensemble,
        "input_jitter": jitter, "test_images": len(yte), "encoding": kind, "accuracy_source": "simulator",
        "train_seconds": sum(h["seconds"] for h in hist["history"]),
        "final_train_acc_model": hist["history"][-1]["train_acc"] if hist["history"] else None,
        "temperature": hist["temperature"],
        "synaptic_events_per_image": m["synaptic_events"], "spikes_per_image": m["spikes"],
        **ev,
    }
    res["seconds"] = time.time() - t0
    write_json_atomic(out_dir / "results.json", res)
    return res
