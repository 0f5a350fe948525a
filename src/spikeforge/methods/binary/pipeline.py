"""``spikeforge run`` entry point of the binary-crossbar method (Jimeno Yepes & Tang 2016).

``[model]`` keys: ``surrogate`` ("sigmoid" | "hard-ste" | "clt"), ``slope_start`` (0.5), ``slope_end`` (8),
``init_mean`` (0.5), ``init_std`` (0.05), ``dropout`` (0).
``[deploy]`` ``ensemble``: that many networks are trained *jointly* from independent initialisations (one
vectorised model with per-copy losses: equivalent to independent runs with different seeds, except that
they see the same mini-batch order) and deployed deterministically on distinct cores, votes summed.

``[warm_start]`` (optional): start the ``ensemble`` networks from samples of a trained *probabilistic* model
(Esser et al. 2015) instead of random shadows — copy k starts on the bits of sample k (shadow ``0.5 ± margin``)
and that sample's integer leaks (:meth:`~spikeforge.methods.binary.model.BinaryCoreNet.warm_start_`):

* ``recipe`` — a probabilistic recipe (shipped name or TOML path, relative to this recipe's folder or the
  working directory); its model is trained in ``OUT/warm-start/`` first (resumed if interrupted, reused if
  finished). ``models = K`` (default 1) trains it ``K`` times, model k with the recipe's seeds raised by k,
  in ``OUT/warm-start-k/`` (k >= 1); or
* ``model`` — the ``model.pt`` a ``spikeforge run`` of a probabilistic recipe saved, or a list of them;
* ``sample_seed`` (default: the recipe seed) — with ``K`` models, network i starts on sample
  ``sample_seed * 100003 + i // K`` of model ``i mod K`` (:func:`warm_start_samples`; one model: the
  probabilistic method's own :func:`~spikeforge.methods.probabilistic.pipeline.sample_copies`);
  ``margin`` (0.1).

The probabilistic model must have this recipe's network layout, chip and dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from spikeforge.methods.binary.model import BinaryCoreNet
from spikeforge.methods.corenet.build import Copy
from spikeforge.methods.corenet.pipeline import (
    WarmStart,
    check_run_settings,
    corenet_schema,
    recipe_network,
    run_corenet,
    train_recipe_model,
)
from spikeforge.methods.corenet.topology import NetworkSpec
from spikeforge.methods.corenet.torchnet import CoreNetModel
from spikeforge.recipes.schema import Key, RecipeSchema

#: tables and keys a ``method = "binary"`` recipe may hold
RECIPE_SCHEMA = RecipeSchema(tables={
    **corenet_schema(BinaryCoreNet).tables,
    "warm_start": {"recipe": Key((str,)), "model": Key((str, list)), "models": Key((int,)),
                   "sample_seed": Key((int,)), "margin": Key((int, float))},
})


def make_model(spec: NetworkSpec, copies: int, mcfg: dict[str, Any], seed: int, chip: Any) -> BinaryCoreNet:
    return BinaryCoreNet(spec, copies, seed=seed, leak_min=chip.core.leak_min, leak_max=chip.core.leak_max, **mcfg)


def binarised_copies(model: BinaryCoreNet, n: int, seed: int = 0) -> list[Copy]:
    return [model.binarised(k) for k in range(n)]


def warm_start_from(ws: dict[str, Any], config: dict[str, Any]) -> WarmStart:
    """The warm start a ``[warm_start]`` table describes (see the module docstring). The table's settings are
    checked here, before anything is trained; the probabilistic recipe (if named) is loaded and validated."""
    from spikeforge.methods.probabilistic import pipeline as prob
    from spikeforge.recipes import load_recipe, validate_recipe

    if ("recipe" in ws) == ("model" in ws):
        raise ValueError("[warm_start] needs exactly one of 'recipe' (a probabilistic recipe to train) and "
                         "'model' (a trained probabilistic model.pt, or a list of them)")
    margin = float(ws.get("margin", 0.1))
    if not 0.0 < margin <= 0.5:
        raise ValueError(f"[warm_start] margin must be in (0, 0.5], got {margin}")
    sample_seed = int(ws.get("sample_seed", config.get("seed", 0)))
    chip_name = str(config.get("chip", "truenorth"))
    dataset = str(config.get("data", {}).get("dataset", "mnist"))
    # the K source models: K seeds of one probabilistic recipe, or K saved model files
    sources: list[tuple[dict[str, Any], str, dict[str, Any] | None]] = []  # (recipe config, where, state)
    if "recipe" in ws:
        n_models = ws.get("models", 1)
        if isinstance(n_models, bool) or not isinstance(n_models, int) or n_models < 1:
            raise ValueError(f"[warm_start] models must be a positive integer, got {n_models!r}")
        rec = load_recipe(str(ws["recipe"]))
        if rec.method != "probabilistic":
            raise ValueError(f"[warm_start] recipe {rec.source} is a {rec.method!r} recipe; a warm start samples a "
                             "'probabilistic' one")
        validate_recipe(rec)
        check_run_settings(rec.config)
        sources = [(_reseeded(rec.config, k), rec.source if k == 0 else f"{rec.source} (seed + {k})", None)
                   for k in range(n_models)]
    else:
        if "models" in ws:
            raise ValueError("[warm_start] 'models' trains several seeds of a 'recipe'; with 'model', list the "
                             "model files instead: model = [\"a/model.pt\", \"b/model.pt\"]")
        paths = ws["model"] if isinstance(ws["model"], list) else [ws["model"]]
        if not paths or not all(isinstance(v, str) for v in paths):
            raise ValueError(f"[warm_start] model must be a model.pt path or a non-empty list of them, got "
                             f"{ws['model']!r}")
        for v in paths:
            pcfg, state = _load_probabilistic(Path(v))
            sources.append((pcfg, v, state))
    for pcfg, where, _ in sources:
        for what, mine, theirs in (("chip", chip_name, str(pcfg.get("chip", "truenorth"))),
                                   ("dataset", dataset, str(pcfg.get("data", {}).get("dataset", "mnist")))):
            if mine != theirs:
                raise ValueError(f"[warm_start] {where} is for {what} {theirs!r}, this recipe for {mine!r}")
    ensemble = int(config.get("deploy", {}).get("ensemble", 1))

    def prepare(spec: NetworkSpec, ds: Any, chip: Any, out_dir: Path
                ) -> tuple[dict[str, Any], Any]:
        pmodels = []
        for k, (pcfg, where, state) in enumerate(sources):
            theirs = recipe_network(pcfg, ds, chip)
            if theirs.describe() != spec.describe():
                raise ValueError(f"[warm_start] {where} has the network {theirs.describe()}; this recipe "
                                 f"{spec.describe()}")
            if state is None:  # a recipe: model k trains in OUT/warm-start (k = 0) or OUT/warm-start-k
                _, pmodel, _ = train_recipe_model("probabilistic", pcfg, out_dir / _warm_dir(k), ds, chip,
                                                  prob.make_model, 1)
            else:
                pmodel = prob.make_model(theirs, 1, dict(pcfg.get("model", {})), int(pcfg.get("seed", 0)), chip)
                try:
                    pmodel.load_state_dict(state)
                except RuntimeError as e:
                    raise ValueError(f"[warm_start] model {where} does not fit its own recipe's network: "
                                     f"{e}") from None
            pmodels.append(pmodel)
        nets = warm_start_samples(pmodels, ensemble, sample_seed)

        def init(model: CoreNetModel) -> None:
            model.warm_start_(nets, margin)  # type: ignore[operator]

        digests = [_state_digest(m) for m in pmodels]
        return {"model_sha": digests[0] if len(digests) == 1 else digests, "sample_seed": sample_seed,
                "margin": margin}, init

    return prepare


def warm_start_samples(models: list[Any], n: int, sample_seed: int) -> list[Copy]:
    """The ``n`` networks a warm start begins from: with ``K`` probabilistic models, network i is a sample of
    model ``i mod K`` with seed ``sample_seed * 100003 + i // K`` — for one model exactly
    :func:`~spikeforge.methods.probabilistic.pipeline.sample_copies`, and the benchmarks' pools of ``K``
    models (``members_of``) otherwise."""
    k = len(models)
    if k < 1:
        raise ValueError("a warm start needs at least one probabilistic model")
    return [models[i % k].sample(sample_seed * 100003 + i // k) for i in range(n)]


def _warm_dir(k: int) -> str:
    return "warm-start" if k == 0 else f"warm-start-{k}"


def _reseeded(config: dict[str, Any], k: int) -> dict[str, Any]:
    """Model ``k`` of a several-model warm start: the recipe with its seed (and its ``[train]`` seed, where
    set) raised by ``k``; model 0 is the recipe itself."""
    if k == 0:
        return config
    out = {**config, "seed": int(config.get("seed", 0)) + k}
    train = dict(config.get("train", {}))
    if "seed" in train:
        train["seed"] = int(train["seed"]) + k
    out["train"] = train
    return out


def _load_probabilistic(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The recipe config and parameters of a probabilistic ``model.pt`` saved by ``spikeforge run``."""
    if not path.is_file():
        raise FileNotFoundError(f"[warm_start] model {path} does not exist")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
        pcfg, state = dict(saved["config"]), saved["model"]
    except Exception as e:  # any unreadable file gets the same clear message
        raise ValueError(f"[warm_start] model {path} is not a model.pt saved by `spikeforge run` "
                         f"({type(e).__name__}: {e})") from None
    if pcfg.get("method", "probabilistic") != "probabilistic":
        raise ValueError(f"[warm_start] model {path} was trained by the {pcfg.get('method')!r} method; a warm "
                         "start samples a 'probabilistic' one")
    return pcfg, state


def _state_digest(model: torch.nn.Module) -> str:
    """A content hash of a model's parameters (identifies a warm start's source model in the checkpoint key)."""
    import hashlib

    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def run(config: dict[str, Any], out_dir: Path, data_dir: Path | str | None = None) -> dict[str, Any]:
    """Train ``ensemble`` binary networks, deploy them (``out_dir/deployment.sfd``), simulate, estimate energy."""
    cfg = dict(config)
    cfg.setdefault("train", {})
    cfg["train"] = {"train_input": "threshold", "lr": 0.003, **cfg["train"]}
    ws = cfg.get("warm_start")
    warm = warm_start_from(dict(ws), cfg) if ws is not None else None
    return run_corenet("binary", cfg, out_dir, data_dir, make_model, binarised_copies,  # type: ignore[arg-type]
                       train_copies=lambda n: n, warm_start=warm)
