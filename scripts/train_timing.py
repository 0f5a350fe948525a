"""Seconds per training epoch of two shipped networks on a device — to decide where to train.

    python scripts/train_timing.py --device cuda --threads 16 [--max-train N] [--json OUT.json]

* ``probabilistic-large``: the 28-core network of the ``esser2015-large`` recipe (probabilistic synapses, the
  recipe's augmentation: shifts, rotations, scalings, elastic distortions), eager forward pass, batch 100;
* ``eedn-mnist-small``: the trinary convolutional network of the ``eedn-mnist-small`` recipe, batch 64.

Each is trained for ``--epochs`` epochs (default 1) on the first ``--max-train`` MNIST training images (default
all 60 000) after one warm-up epoch on 1 000 images (allocations, kernel selection); the best epoch is
reported. The data augmentation runs on the CPU in every case (``--threads`` torch threads).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def _corenet(x: np.ndarray, y: np.ndarray, device: str, threads: int, epochs: int) -> dict[str, Any]:
    from spikeforge.methods.corenet import large_network
    from spikeforge.methods.corenet.train import TrainConfig, train
    from spikeforge.methods.probabilistic.model import ProbabilisticCoreNet
    from spikeforge.recipes import load_recipe

    table = {k: v for k, v in load_recipe("esser2015-large").config["train"].items()
             if k not in ("epochs", "anneal_epochs", "restart_epochs", "threads", "compile")}
    model = ProbabilisticCoreNet(large_network(), seed=0)
    warm = TrainConfig(**{**table, "epochs": 1}, threads=threads, device=device, log_every_epoch=False,
                       max_train=1000)
    train(model, x, y, warm, log=lambda *_: None)
    cfg = TrainConfig(**{**table, "epochs": epochs}, threads=threads, device=device, log_every_epoch=False)
    hist = train(ProbabilisticCoreNet(large_network(), seed=0), x, y, cfg, log=lambda *_: None)["history"]
    return {"network": "probabilistic-large", "epoch_s": min(h["seconds"] for h in hist),
            "train_acc": hist[-1]["train_acc"]}


def _eedn(x: np.ndarray, y: np.ndarray, device: str, threads: int, epochs: int) -> dict[str, Any]:
    from spikeforge.data import thermometer_encode
    from spikeforge.methods.eedn import EednNet, TrainConfig, train_eedn
    from spikeforge.recipes import load_recipe

    r = load_recipe("eedn-mnist-small").config
    xb = thermometer_encode(x, 1, 3)[:, 0].reshape(len(x), 3, 28, 28).astype(np.float32)
    table = {k: v for k, v in r["train"].items() if k not in ("epochs", "threads")}
    layers = r["network"]["layers"]
    train_eedn(EednNet((3, 28, 28), layers, 10), xb, y,
               TrainConfig(**{**table, "epochs": 1, "max_train": 1000, "bn_recalibration_batches": 1},
                           threads=threads, device=device))
    log = train_eedn(EednNet((3, 28, 28), layers, 10), xb, y,
                     TrainConfig(**{**table, "epochs": epochs, "bn_recalibration_batches": 1}, threads=threads,
                                 device=device))
    per = [log.epochs[0]["s"]] + [b["s"] - a["s"] for a, b in zip(log.epochs, log.epochs[1:], strict=False)]
    return {"network": "eedn-mnist-small", "epoch_s": min(per), "train_acc": log.epochs[-1]["train_acc"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--device", default="cpu", help="cpu, cuda[:N] or auto")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (augmentation, and CPU training)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-train", type=int, default=None, help="first N training images (default all)")
    ap.add_argument("--only", choices=("probabilistic-large", "eedn-mnist-small"), default=None)
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from spikeforge.benchmarking import machine
    from spikeforge.data import load_dataset

    ds = load_dataset("mnist")
    n = a.max_train or len(ds.x_train)
    x = ds.x_train[:n].reshape(n, -1).astype(np.float32)
    x = x / 255.0 if x.max() > 1 else x
    y = ds.y_train[:n]
    rows = []
    for name, fn in (("probabilistic-large", _corenet), ("eedn-mnist-small", _eedn)):
        if a.only not in (None, name):
            continue
        t0 = time.perf_counter()
        row = {**fn(x, y, a.device, a.threads, a.epochs), "device": a.device, "threads": a.threads,
               "images": n, "wall_s": time.perf_counter() - t0}
        print(json.dumps(row), flush=True)
        rows.append(row)
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": machine(a.device), "torch": torch.__version__,
                                            "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
