"""``spikeforge run`` entry point of the probabilistic method (Esser et al. 2015).

``[model]`` keys: ``correction`` (0.5), ``eps`` (0.1), ``init_mean`` (0.5), ``init_std`` (0.15), ``dropout`` (0).
``[deploy]`` keys: ``ensemble`` (sampled copies), ``sample_seed`` (default: the recipe seed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spikeforge.methods.corenet.build import Copy
from spikeforge.methods.corenet.pipeline import corenet_schema, run_corenet
from spikeforge.methods.corenet.topology import NetworkSpec
from spikeforge.methods.probabilistic.model import ProbabilisticCoreNet
from spikeforge.recipes.schema import Key

#: tables and keys a ``method = "probabilistic"`` recipe may hold
RECIPE_SCHEMA = corenet_schema(ProbabilisticCoreNet, {"sample_seed": Key((int,))})


def make_model(spec: NetworkSpec, copies: int, mcfg: dict[str, Any], seed: int, chip: Any) -> ProbabilisticCoreNet:
    return ProbabilisticCoreNet(spec, copies, seed=seed, leak_min=chip.core.leak_min, leak_max=chip.core.leak_max,
                                **mcfg)


def sample_copies(model: ProbabilisticCoreNet, n: int, sample_seed: int) -> list[Copy]:
    """``n`` independently sampled binary networks; copy i uses seed ``sample_seed * 100003 + i``."""
    return [model.sample(sample_seed * 100003 + i) for i in range(n)]


def run(config: dict[str, Any], out_dir: Path, data_dir: Path | str | None = None) -> dict[str, Any]:
    """Train, sample an ensemble, deploy (``out_dir/deployment.sfd``), simulate, estimate energy."""
    sseed = int(config.get("deploy", {}).get("sample_seed", config.get("seed", 0)))
    return run_corenet(
        "probabilistic", config, out_dir, data_dir, make_model,
        lambda m, n, s: sample_copies(m, n, sseed),  # type: ignore[arg-type]
        train_copies=lambda n: 1,
    )
