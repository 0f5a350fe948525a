"""``spikeforge run`` entry point of the binary-crossbar method (Jimeno Yepes & Tang 2016).

``[model]`` keys: ``surrogate`` ("sigmoid" | "hard-ste" | "clt"), ``slope_start`` (0.5), ``slope_end`` (8),
``init_mean`` (0.5), ``init_std`` (0.05), ``dropout`` (0).
``[deploy]`` ``ensemble``: that many networks are trained *jointly* from independent initialisations (one
vectorised model with per-copy losses: equivalent to independent runs with different seeds, except that
they see the same mini-batch order) and deployed deterministically on distinct cores, votes summed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spikeforge.methods.binary.model import BinaryCoreNet
from spikeforge.methods.corenet.build import Copy
from spikeforge.methods.corenet.pipeline import corenet_schema, run_corenet
from spikeforge.methods.corenet.topology import NetworkSpec

#: tables and keys a ``method = "binary"`` recipe may hold
RECIPE_SCHEMA = corenet_schema(BinaryCoreNet)


def make_model(spec: NetworkSpec, copies: int, mcfg: dict[str, Any], seed: int, chip: Any) -> BinaryCoreNet:
    return BinaryCoreNet(spec, copies, seed=seed, leak_min=chip.core.leak_min, leak_max=chip.core.leak_max, **mcfg)


def binarised_copies(model: BinaryCoreNet, n: int, seed: int = 0) -> list[Copy]:
    return [model.binarised(k) for k in range(n)]


def run(config: dict[str, Any], out_dir: Path, data_dir: Path | str | None = None) -> dict[str, Any]:
    """Train ``ensemble`` binary networks, deploy them (``out_dir/deployment.sfd``), simulate, estimate energy."""
    cfg = dict(config)
    cfg.setdefault("train", {})
    cfg["train"] = {"train_input": "threshold", "lr": 0.003, **cfg["train"]}
    return run_corenet("binary", cfg, out_dir, data_dir, make_model, binarised_copies,  # type: ignore[arg-type]
                       train_copies=lambda n: n)
