"""Training checkpoints that are safe to resume: the settings a checkpoint was written under (its *key*:
method, network layout, copies, model and training settings) are stored beside it in ``key.json``, and a
checkpoint is resumed only by a run whose settings are the same — or the same run with later training phases
(annealing, warm restart) appended, which continues it. Anything else trains afresh: resuming a checkpoint
of other settings would silently continue another run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from spikeforge.fileio import file_digest, write_text_atomic
from spikeforge.methods.corenet.topology import NetworkSpec
from spikeforge.methods.corenet.train import TrainConfig

__all__ = ["prepare_checkpoint"]


#: Training phases that continue a run (in order); a checkpoint of a run without the later ones resumes
_LATER_PHASES = (("anneal_epochs", "anneal_ratio"), ("restart_epochs", "restart_lr"))


def _resumable(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a checkpoint written under cache key ``old`` is a prefix of the run of key ``new``: equal, or
    ``new`` with its later training phases (annealing, warm restart) left out from some phase on."""
    if old == new:
        return True
    for i in range(len(_LATER_PHASES)):
        cut = json.loads(json.dumps(new))
        for fields in _LATER_PHASES[i:]:
            for f in fields:
                cut["train"].pop(f, None)
        if cut == old:
            return True
    return False


def _cache_key(method: str, spec: NetworkSpec, copies: int, mcfg: dict[str, Any], tcfg: TrainConfig,
               init: dict[str, Any] | None = None) -> dict[str, Any]:
    tkey = asdict(tcfg)
    del tkey["compile"]  # compiling changes only floating-point rounding: the same model either way
    if tcfg.device == "cpu":  # a GPU's rounding differs: its models are cached apart from the CPU's
        del tkey["device"]
    if tcfg.elastic_alpha == 0:  # settings added later are left out at their defaults: older caches stay valid
        del tkey["elastic_alpha"], tkey["elastic_sigma"]
    if tcfg.ensemble_loss == 0:
        del tkey["ensemble_loss"]
    if not tcfg.copy_views:
        del tkey["copy_views"]
    if not tcfg.copy_distortions:
        del tkey["copy_distortions"]
    if tcfg.distill == 0:
        del tkey["teacher"], tkey["distill"], tkey["distill_temperature"]
    else:  # the teacher by content, not by where its file lies
        tkey["teacher"] = file_digest(str(tcfg.teacher))
    for fields in _LATER_PHASES:
        if tkey[fields[0]] == 0:
            for f in fields:
                del tkey[f]
    key: dict[str, Any] = {"method": method, "network": spec.describe(), "copies": copies, "model": mcfg,
                           "train": tkey}
    core = [spec.n_axons, spec.n_neurons, spec.n_axon_types]
    if core != [256, 256, 4]:  # a layout for other cores (a user-defined chip): its shapes differ
        key["core"] = core
    if init is not None:
        key["init"] = init
    return key


def prepare_checkpoint(workdir: Path, key: dict[str, Any], log: Callable[..., Any] = print) -> None:
    """Make ``workdir/checkpoint.pt`` safe to resume under the training settings ``key`` (see
    :func:`_cache_key`): a checkpoint written under other settings (``workdir/key.json``; none = unknown) is
    deleted so that training starts afresh — resuming it would silently continue another run — unless it is
    the same run without its later phases, which continues. Writes ``key.json``."""
    ck, key_file = workdir / "checkpoint.pt", workdir / "key.json"
    key_json = json.dumps(key, sort_keys=True)
    if ck.exists() and (not key_file.exists()
                        or not _resumable(json.loads(key_file.read_text()), json.loads(key_json))):
        log(f"{ck} was written with other settings (or none recorded): training afresh")
        ck.unlink()
    elif ck.exists() and key_file.read_text() != key_json:
        log(f"continuing {ck} (the same run without its later phases)")
    workdir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(key_file, key_json)
