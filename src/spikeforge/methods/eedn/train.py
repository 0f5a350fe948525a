"""Training loop for :class:`~spikeforge.methods.eedn.model.EednNet` (CPU-friendly, deterministic per seed).

Loss: softmax cross-entropy over the class population counts scaled by ``logit_scale / neurons per class``
(the count itself is the deployed score). Adam on shadow weights (``lr``) and batch-norm parameters
(``bn_lr``), cosine learning-rate decay; after every step shadow weights are clipped to [−1, 1] and the trinary weights
updated with hysteresis (:func:`spikeforge.methods.eedn.layers.trinarize`). Batch-norm running statistics
are re-estimated at the end on training data with the final trinary weights (so the folded thresholds
match the deployed weights).

With ``checkpoint`` set, the model, optimiser, scheduler, RNG states and log are written atomically after
every epoch; a run started with the same checkpoint path (and the same settings, checked) resumes after the
last finished epoch and ends with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from spikeforge.devices import device_problems, resolve_device
from spikeforge.fileio import torch_save_atomic
from spikeforge.methods.eedn.model import EednNet
from spikeforge.recipes.schema import bounds, field_problems
from spikeforge.threads import torch_threads


@dataclass
class TrainConfig:
    """Training settings (the recipe's ``[train]`` table)."""

    epochs: int = field(default=10, metadata=bounds(ge=0))
    batch_size: int = field(default=64, metadata=bounds(ge=1))
    lr: float = field(default=0.05, metadata=bounds(gt=0))
    bn_lr: float = field(default=0.01, metadata=bounds(ge=0))
    weight_decay: float = field(default=0.0, metadata=bounds(ge=0))
    logit_scale: float = field(default=8.0, metadata=bounds(gt=0))
    seed: int = 0
    max_train: int | None = field(default=None, metadata=bounds(ge=1))
    # 19 200 images at batch 64 (see recalibrate_bn)
    bn_recalibration_batches: int = field(default=300, metadata=bounds(ge=0))
    shift_augment: int = field(default=0, metadata=bounds(ge=0))  # random translation by up to this many pixels
    hflip: bool = False  # random horizontal flips (for datasets whose classes are mirror-symmetric)
    threads: int | None = field(default=1, metadata=bounds(ge=1))
    # where the forward and backward passes run: "cpu", "cuda[:N]" or "auto" (a CUDA GPU when torch sees one)
    device: str = "cpu"

    def __post_init__(self) -> None:
        problems = field_problems(self)
        problems += device_problems(self.device)
        if problems:
            raise ValueError(f"[train] {'; '.join(problems)}")


@dataclass
class TrainLog:
    epochs: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def _shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    if max_shift <= 0:
        return x
    b = x.shape[0]
    dy = torch.randint(-max_shift, max_shift + 1, (b,), generator=gen)
    dx = torch.randint(-max_shift, max_shift + 1, (b,), generator=gen)
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    for i in range(b):
        sy, sx = int(dy[i]), int(dx[i])
        ys, yd = (slice(0, h - sy), slice(sy, h)) if sy >= 0 else (slice(-sy, h), slice(0, h + sy))
        xs, xd = (slice(0, w - sx), slice(sx, w)) if sx >= 0 else (slice(-sx, w), slice(0, w + sx))
        out[i, :, yd, xd] = x[i, :, ys, xs]
    return out


def _settings_key(cfg: TrainConfig, model: EednNet, n: int, data: dict[str, Any] | None = None) -> str:
    """What a checkpoint must match to be resumed: training settings, network, data size and (``data``) the
    dataset. Threads, the device and the batch-norm recalibration sample (applied after the last epoch, not
    checkpointed) may differ."""
    tc = {k: v for k, v in asdict(cfg).items() if k not in ("threads", "device", "bn_recalibration_batches")}
    key: dict[str, Any] = {"train": tc, "layers": model.spec, "input": list(model.input_shape), "n": n}
    if data is not None:
        key["data"] = data
    return json.dumps(key, sort_keys=True)


def _same_settings(stored: object, key: str) -> bool:
    """Whether a checkpoint's stored key matches ``key``, ignoring fields outside the key (also in keys written
    before they were dropped from it)."""
    if not isinstance(stored, str):
        return False
    try:
        got = json.loads(stored)
        for k in ("threads", "device", "bn_recalibration_batches"):
            got.get("train", {}).pop(k, None)
    except (json.JSONDecodeError, AttributeError):
        return False
    want = json.loads(key)
    if "data" not in got:  # written before checkpoints recorded their dataset
        want.pop("data", None)
    return bool(got == want)


def train_eedn(model: EednNet, x: np.ndarray, y: np.ndarray, cfg: TrainConfig,
               log: Callable[[str], None] | None = None, checkpoint: Path | str | None = None,
               data: dict[str, Any] | None = None) -> TrainLog:
    """Train in place on binary inputs ``x`` (N, C, H, W) or (N, C·H·W) and labels ``y`` (N,).

    ``checkpoint``: resume from / write to this file after every epoch (see the module docstring); a
    checkpoint written with other settings, or (``data``: e.g. the dataset's name, and a user file's
    fingerprint) for other data, raises ``ValueError`` rather than being silently mixed in. Runs with
    ``cfg.threads`` PyTorch threads and restores the process's count after. The passes run on ``cfg.device``
    (augmentation on the CPU from the same seeded generator); the model is on the CPU again when this returns.
    """
    dev = resolve_device(cfg.device)
    with torch_threads(cfg.threads or None):
        try:
            model.to(dev)
            return _train_eedn(model, x, y, cfg, log, checkpoint, data, dev)
        finally:
            model.to("cpu")


def _train_eedn(model: EednNet, x: np.ndarray, y: np.ndarray, cfg: TrainConfig,
                log: Callable[[str], None] | None, checkpoint: Path | str | None,
                data: dict[str, Any] | None, device: torch.device) -> TrainLog:
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = len(x) if cfg.max_train is None else min(len(x), cfg.max_train)
    xt = torch.from_numpy(np.asarray(x[:n], np.float32)).reshape(n, *model.input_shape)
    yt = torch.from_numpy(np.asarray(y[:n], np.int64))
    shadow = [m.weight for m in model.trinary_layers()]
    ids = {id(p) for p in shadow}
    rest = [p for p in model.parameters() if id(p) not in ids]
    opt = torch.optim.Adam([{"params": shadow, "lr": cfg.lr}, {"params": rest, "lr": cfg.bn_lr}],
                           weight_decay=cfg.weight_decay)
    steps = max(1, cfg.epochs * math.ceil(n / cfg.batch_size))  # 0 epochs: no step is taken
    if cfg.epochs == 0:
        warnings.warn("train.epochs = 0: the network is deployed untrained", UserWarning, stacklevel=2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    per_class = len(model.classes) / model.n_classes
    scale = cfg.logit_scale / per_class
    out = TrainLog()
    t0 = time.perf_counter()
    key = _settings_key(cfg, model, n, data)
    start = 0
    if checkpoint is not None and Path(checkpoint).exists():
        st = torch.load(checkpoint, weights_only=False, map_location="cpu")
        if not _same_settings(st.get("key"), key):
            raise ValueError(f"checkpoint {checkpoint} was written with other settings; delete it to start afresh")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        gen.set_state(st["gen"])
        torch.set_rng_state(st["torch_rng"])
        if device.type == "cuda" and st.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(st["cuda_rng"], device)
        out.epochs = list(st["epochs"])
        start = int(st["epoch"])
        t0 -= float(st["seconds"])
        if log:
            log(f"resumed from {checkpoint} after epoch {start}")
    for ep in range(start, cfg.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        tot_loss, tot_ok = 0.0, 0
        for s in range(0, n, cfg.batch_size):
            idx = perm[s : s + cfg.batch_size]
            xb = _shift(xt[idx], cfg.shift_augment, gen)
            if cfg.hflip:
                flip = torch.rand(len(idx), generator=gen) < 0.5
                xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
            yb = yt[idx]
            if device.type != "cpu":
                xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            scores = model(xb)
            loss = F.cross_entropy(scores * scale, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            model.update_trinary()
            tot_loss += float(loss.detach()) * len(idx)
            tot_ok += int((scores.argmax(1) == yb).sum())
        rec = {"epoch": ep + 1, "loss": tot_loss / n, "train_acc": tot_ok / n, "s": time.perf_counter() - t0}
        out.epochs.append(rec)
        if checkpoint is not None:
            _save_checkpoint(Path(checkpoint), {
                "key": key, "model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                "gen": gen.get_state(), "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None, "epochs": out.epochs,
                "epoch": ep + 1, "seconds": rec["s"]})
        if log:
            log(f"epoch {ep + 1}/{cfg.epochs} loss {rec['loss']:.4f} train acc {rec['train_acc']:.4f} "
                f"({rec['s']:.0f} s)")
    recalibrate_bn(model, xt, cfg.batch_size, cfg.bn_recalibration_batches, gen)
    out.seconds = time.perf_counter() - t0
    return out


def _save_checkpoint(path: Path, state: dict[str, object]) -> None:
    """torch.save to a temporary file in the same folder, then ``os.replace`` (never a half-written file)."""
    torch_save_atomic(state, path)


@torch.no_grad()
def recalibrate_bn(model: EednNet, x: torch.Tensor, batch_size: int, batches: int, gen: torch.Generator) -> None:
    """Re-estimate batch-norm running statistics with the final trinary weights, layer by layer: each layer's
    statistics (cumulative average over ``batches`` mini-batches) are taken on the outputs of the layers
    before it as they will be evaluated (running statistics, already recalibrated).

    The sample size matters: each channel's folded integer threshold comes from these estimates. On the
    20-epoch Fashion-MNIST one-chip network, three draws of 50 batches (3 200 images) gave 88.58-88.97 % test
    accuracy (the benchmark's own draw 88.33 %), 300 batches 88.80 %; hence the default of 300."""
    model.eval()
    dev = next(model.parameters()).device
    perm = torch.randperm(len(x), generator=gen)
    chunks = [perm[b * batch_size : (b + 1) * batch_size] for b in range(batches)]
    chunks = [c for c in chunks if len(c)]
    if not chunks:
        return
    for target in model.trinary_layers():
        target.bn.reset_running_stats()
        target.bn.momentum = None
        for idx in chunks:
            cur = x[idx].to(dev)
            for m in model.layers:
                if m is target:
                    target.bn.train()
                    target.bn(target.preactivation(cur))
                    target.bn.eval()
                    break
                cur = m(cur)
        target.bn.momentum = 0.1
    model.eval()
