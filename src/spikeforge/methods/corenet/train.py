"""Training loop shared by the core-network methods.

Loss (documented choice): cross-entropy of ``softmax(temperature · score)`` where ``score`` is a class's
(expected, or surrogate) spike count and ``temperature`` is **fixed** (default ``12.5 / neurons per class``,
i.e. 0.5 for 25 neurons per class). A learned temperature drifted up in the probe (small score gaps → bad
sampled networks); a fixed one keeps the class-score margins large in spike units. With ``K`` copies trained
at once, the loss is the sum over copies of each copy's mean cross-entropy (independent gradients), or, with
``ensemble_loss = λ > 0``, mixed with the cross-entropy of the copies' mean score (a *coupled ensemble*,
:func:`ensemble_objective`); ``copy_views`` gives every copy its own random shift and input draw of each
image (:func:`copy_view_batch`), as the copies of a deployed input-jitter / per-copy-draw ensemble see it.

Optimiser: Adam (default; the probe found it more robust) or SGD with momentum 0.9 (the paper's), mini-batch
100, learning rate decayed geometrically per epoch from ``lr`` to ``lr * lr_final_ratio`` (a fixed schedule),
optionally followed by ``anneal_epochs`` epochs decaying on to ``lr * lr_final_ratio * anneal_ratio`` (the
large probabilistic network gains ~0.15 points of expected test accuracy from 20 such epochs to 1e-4), and
optionally by a *warm restart* (Loshchilov & Hutter 2017, SGDR): ``restart_epochs`` more epochs whose rate
jumps to ``restart_lr`` and decays back, with the optimiser's moments reset.
After every step the model's parameters are clipped (connections to [0, 1], leaks to the chip's range).
``compile = True`` runs the forward pass through ``torch.compile`` (fused elementwise kernels: the large
probabilistic network trains ≈1.5x faster on one CPU thread); it changes only floating-point rounding, and
where compilation fails (no C++ compiler) training falls back to the eager model with a logged warning.
``device = "cuda"`` (or ``"auto"``) trains on a GPU: the data augmentation and input draws still run on the CPU
from the same seeded generator (the same batches as on the CPU), the forward and backward passes on the GPU
(floating-point rounding differs, so the trained model is close to, not bit-identical with, a CPU-trained one);
the model is back on the CPU when training returns, so sampling, binarising and deployment are unchanged.
A checkpoint (model, optimiser, RNG states, epoch, history) is written after every epoch; a run started
with the same checkpoint path resumes after the last finished epoch.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from spikeforge.devices import device_problems, resolve_device
from spikeforge.fileio import torch_save_atomic
from spikeforge.methods.corenet.data import affine_batch, elastic_batch, shift_batch, train_inputs
from spikeforge.methods.corenet.torchnet import CoreNetModel
from spikeforge.recipes.schema import bounds, field_problems
from spikeforge.threads import torch_threads


@dataclass
class TrainConfig:
    """Training settings (all recipe-configurable under ``[train]``)."""

    epochs: int = field(default=20, metadata=bounds(ge=0))
    batch_size: int = field(default=100, metadata=bounds(ge=1))
    optimizer: Literal["adam", "momentum"] = "adam"
    lr: float = field(default=0.01, metadata=bounds(gt=0))
    momentum: float = field(default=0.9, metadata=bounds(ge=0, lt=1))
    lr_final_ratio: float = field(default=0.05, metadata=bounds(gt=0))
    # extra epochs after ``epochs``, lr decaying on from lr·lr_final_ratio (0 = none)
    anneal_epochs: int = field(default=0, metadata=bounds(ge=0))
    # the annealing phase ends at lr · lr_final_ratio · anneal_ratio
    anneal_ratio: float = field(default=1.0, metadata=bounds(gt=0))
    # a warm restart after the annealing phase: lr jumps to restart_lr (0 = none) ...
    restart_epochs: int = field(default=0, metadata=bounds(ge=0))
    # ... and decays geometrically back to the annealing phase's final lr
    restart_lr: float = field(default=0.002, metadata=bounds(gt=0))
    temperature: float | None = field(default=None, metadata=bounds(gt=0))  # None → 12.5 / neurons per class
    max_shift: int = field(default=0, metadata=bounds(ge=0))
    # degrees; random rotations in training (0 = off)
    max_rotate: float = field(default=0.0, metadata=bounds(ge=0, le=180))
    # random isotropic scaling by 1 ± max_scale in training (0 = off)
    max_scale: float = field(default=0.0, metadata=bounds(ge=0, lt=1))
    # elastic distortion strength in pixels (Simard 2003: 34; 0 = off)
    elastic_alpha: float = field(default=0.0, metadata=bounds(ge=0))
    # smoothing of the elastic displacement field, pixels (Simard 2003: 4)
    elastic_sigma: float = field(default=4.0, metadata=bounds(gt=0))
    train_input: Literal["intensity", "threshold", "bernoulli"] = "intensity"
    threshold: float = field(default=0.5, metadata=bounds(ge=0, le=1))
    seed: int = 0
    threads: int = field(default=1, metadata=bounds(ge=1))
    compile: bool = False  # torch.compile the forward pass (≈1.5x faster on CPU; needs a C++ compiler)
    # where the forward and backward passes run: "cpu", "cuda[:N]" or "auto" (a CUDA GPU when torch sees one)
    device: str = "cpu"
    max_train: int | None = field(default=None, metadata=bounds(ge=1))
    # weight λ of the coupled-ensemble loss on the copies' mean score (0 = independent)
    ensemble_loss: float = field(default=0.0, metadata=bounds(ge=0, le=1))
    copy_views: bool = False  # each copy sees its own random shift and input draw of the (shared) distorted image
    copy_distortions: bool = False  # with copy_views: each copy also its own rotation/scaling/elastic distortion
    teacher: str | None = None  # torch.export file: (B, n) intensities in [0, 1] → (B, classes) logits
    # weight α of the distillation term on the teacher's softened outputs (0 = off)
    distill: float = field(default=0.0, metadata=bounds(ge=0, le=1))
    # softening temperature T of teacher and student logits
    distill_temperature: float = field(default=2.0, metadata=bounds(gt=0))
    log_every_epoch: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse settings out of range (:func:`~spikeforge.recipes.schema.bounds`) or inconsistent."""
        problems = field_problems(self)
        if self.optimizer not in ("adam", "momentum"):
            problems.append(f"optimizer {self.optimizer!r} is not 'adam' or 'momentum'")
        if self.train_input not in ("intensity", "threshold", "bernoulli"):
            problems.append(f"train_input {self.train_input!r} is not 'intensity', 'threshold' or 'bernoulli'")
        if self.copy_distortions and not self.copy_views:
            problems.append("copy_distortions = true needs copy_views = true (per-copy views)")
        problems += device_problems(self.device)
        if self.distill > 0 and not self.teacher:
            problems.append("distill > 0 needs a teacher (a model file saved by torch.export.save)")
        if problems:
            raise ValueError(f"[train] {'; '.join(problems)}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown [train] setting(s) {unknown}; allowed: {sorted(known)}")
        return cls(**d)


def total_epochs(cfg: TrainConfig) -> int:
    """``epochs`` plus the annealing phase's ``anneal_epochs`` plus the warm restart's ``restart_epochs``."""
    return cfg.epochs + max(cfg.anneal_epochs, 0) + max(cfg.restart_epochs, 0)


def _lr_at(cfg: TrainConfig, epoch: int) -> float:
    """Learning rate of (0-based) ``epoch``: ``lr · r^(e/(E−1))`` over the ``E = epochs`` main epochs, then
    ``lr · r · a^((e−E+1)/A)`` over the ``A = anneal_epochs`` annealing epochs (``r = lr_final_ratio``,
    ``a = anneal_ratio``), then over the ``R = restart_epochs`` epochs of a warm restart
    ``ρ · (f/ρ)^((e−E−A)/(R−1))`` from ``ρ = restart_lr`` back down to the annealing phase's final rate
    ``f = lr · r · a`` (``lr · r`` without annealing). Each phase does not depend on the later ones, so a
    model trained with them is the same model as one trained without them, continued."""
    if epoch < cfg.epochs:
        f = epoch / max(cfg.epochs - 1, 1)
        return cfg.lr * (cfg.lr_final_ratio ** f)
    anneal = max(cfg.anneal_epochs, 0)
    if epoch < cfg.epochs + anneal:
        f = (epoch - cfg.epochs + 1) / max(anneal, 1)
        return cfg.lr * cfg.lr_final_ratio * (cfg.anneal_ratio ** f)
    end = cfg.lr * cfg.lr_final_ratio * (cfg.anneal_ratio if anneal else 1.0)
    f = (epoch - cfg.epochs - anneal) / max(cfg.restart_epochs - 1, 1)
    return cfg.restart_lr * (end / cfg.restart_lr) ** f


def copy_view_batch(x: torch.Tensor, shape: tuple[int, ...], copies: int, cfg: TrainConfig,
                    gen: torch.Generator) -> torch.Tensor:
    """The last augmentation steps: random shifts (``max_shift``, images only) and the training input encoding
    (``train_input``) of a batch ``x`` (B, n). ``copies = 0``: one view shared by all copies, (B, n).
    ``copies = K``: every copy gets its *own* shift and its own input draw of each (already distorted) image,
    (B, K, n) — what the copies of a deployed ensemble see when each reads its own translated input map and
    its own Bernoulli draw of the same image (``input-jitter`` / ``bernoulli-draws`` schemes), so a coupled
    ensemble (``ensemble_loss``) is trained on the votes it will cast. With ``cfg.copy_distortions`` the copies
    also get their own elastic distortion, rotation and scaling of each image (``x`` then undistorted): their
    training data decorrelate, as in bagging."""
    b, n = x.shape
    if copies:
        x = x.unsqueeze(1).expand(b, copies, n).reshape(b * copies, n)
    if len(shape) == 2:
        hw = (int(shape[0]), int(shape[1]))
        if copies and cfg.copy_distortions:  # every copy its own distortion too (the caller skipped the shared one)
            x = affine_batch(elastic_batch(x, hw, cfg.elastic_alpha, cfg.elastic_sigma, gen), hw, cfg.max_rotate,
                             cfg.max_scale, gen)
        x = shift_batch(x, hw, cfg.max_shift, gen)
    x = train_inputs(x, cfg.train_input, cfg.threshold, gen)
    return x.reshape(b, copies, n) if copies else x


def ensemble_objective(logits: torch.Tensor, y: torch.Tensor, ensemble_loss: float = 0.0) -> torch.Tensor:
    """Training loss of ``K`` copies' logits ``(B, K, classes)`` for labels ``y`` ``(B,)`` (or class
    probabilities ``(B, classes)``, e.g. a teacher's: ``CE`` is then the soft-target cross-entropy):
    ``(1 − λ) Σ_k CE(z_k, y) + λ K CE(mean_k z_k, y)`` (``CE`` the batch-mean cross-entropy, ``λ =
    ensemble_loss``). ``λ = 0`` trains the copies independently (each its own loss, gradients never mix);
    ``λ > 0`` couples them through the loss of their *mean* score — the score the deployed ensemble votes
    with (summed spike counts, up to the factor ``K``) — as in coupled ensembles (Dutt et al. 2018), so the
    copies learn to complement each other instead of each converging to the same network. The factor ``K``
    keeps the two terms on the same scale."""
    if not 0.0 <= ensemble_loss <= 1.0:
        raise ValueError(f"ensemble_loss must be in [0, 1], got {ensemble_loss}")
    k = logits.shape[1]
    loss = logits.new_zeros(())
    if ensemble_loss < 1.0:
        indiv = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                  y.repeat_interleave(k, dim=0))
        loss = loss + (1.0 - ensemble_loss) * k * indiv
    if ensemble_loss > 0.0:
        loss = loss + ensemble_loss * k * torch.nn.functional.cross_entropy(logits.mean(1), y)
    return loss


def distilled(loss: torch.Tensor, logits: torch.Tensor, teacher_logits: torch.Tensor,
              cfg: TrainConfig) -> torch.Tensor:
    """Knowledge distillation (Hinton, Vinyals & Dean 2015): ``(1 − α) L + α T² L_T``, where ``L`` is the
    label loss and ``L_T`` the same :func:`ensemble_objective` (coupled as set) of the student logits ``/ T``
    against the teacher's ``softmax(t / T)`` (``α = distill``, ``T = distill_temperature``; ``T²`` keeps the
    soft term's gradients on the scale of the hard one's). The soft-target cross-entropy differs from the
    KL divergence by the teacher's entropy, a constant: the same gradients."""
    t = cfg.distill_temperature
    with torch.no_grad():
        soft = torch.softmax(teacher_logits.detach().float() / t, dim=-1)
    return (1.0 - cfg.distill) * loss + cfg.distill * t * t * ensemble_objective(logits / t, soft, cfg.ensemble_loss)


def load_teacher(path: str | None, n_inputs: int, n_classes: int) -> Any:
    """The teacher of ``[train] teacher``: a model saved by ``torch.export.save`` (exported with a dynamic
    batch dimension), checked to map ``(B, n_inputs)`` intensities in [0, 1] to ``(B, n_classes)`` finite
    logits; run without gradients."""
    if not path or not Path(path).is_file():
        raise FileNotFoundError(f"[train] teacher {path!r} does not exist")
    try:
        net = torch.export.load(str(path)).module()
    except Exception as e:  # any unreadable file gets the same clear message
        raise ValueError(f"[train] teacher {path} is not a torch.export model file ({type(e).__name__}: "
                         f"{str(e)[:200]})") from None
    with torch.no_grad():
        out = net(torch.full((2, n_inputs), 0.5))
    if tuple(out.shape) != (2, n_classes) or not torch.isfinite(out).all():
        raise ValueError(f"[train] teacher {path} maps (2, {n_inputs}) inputs to {tuple(out.shape)} (non-finite: "
                         f"{not bool(torch.isfinite(out).all())}); needs (2, {n_classes}) finite logits")

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():  # exported programs specialise batch size 1: a lone image is run as a pair
            return net(x) if len(x) > 1 else net(x.expand(2, *x.shape[1:]))[:1]

    return run


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":  # the fused kernel: the same update, 4x faster per step on CPU
        params = list(model.parameters())
        fused = all(p.dtype in (torch.float32, torch.float64) and p.device.type == "cpu" for p in params)
        return torch.optim.Adam(params, lr=cfg.lr, fused=fused or None)
    if cfg.optimizer == "momentum":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; use 'adam' or 'momentum'")


@torch.no_grad()
def model_accuracy(model: CoreNetModel, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Accuracy of each copy's (eval-mode) model scores on float inputs x (N, K) — a training monitor only;
    reported accuracies always come from the simulator."""
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    correct = np.zeros(model.copies)
    for s in range(0, len(x), batch):
        sc = model(torch.from_numpy(x[s : s + batch]).to(dev))
        correct += (sc.argmax(-1).cpu().numpy() == y[s : s + batch, None]).sum(0)
    model.train(was)
    return correct / max(len(x), 1)


def _forward(forward: Any, model: CoreNetModel, xb: torch.Tensor, log: Any) -> tuple[torch.Tensor, Any]:
    """``forward(xb)`` and the forward callable to use from now on: a compiled forward that fails to compile
    (e.g. no C++ compiler on the machine) is replaced by the eager ``model``, with a warning."""
    if forward is model:
        return model(xb), model
    try:
        return forward(xb), forward
    except Exception as e:  # torch.compile raises backend-specific errors; a real error recurs eagerly
        log(f"warning: torch.compile failed ({type(e).__name__}: {str(e)[:200]}); training eagerly")
        return model(xb), model


def flush_denormal_enabled() -> bool:
    """Whether the process currently flushes denormal floats to zero (float32 1e-39 · 1 evaluates to 0)."""
    return bool((torch.tensor([1e-39], dtype=torch.float32) * 1.0).item() == 0.0)


@contextmanager
def flushing_denormals() -> Iterator[None]:
    """Flush denormal floats to zero inside the block (saturated sigmoids / erfs produce denormals that slow
    CPUs ~5x) and restore the previous mode after it: the mode is process-wide and would otherwise change
    every later floating-point computation of the process, numpy's included."""
    before = flush_denormal_enabled()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


def train(
    model: CoreNetModel,
    x_train: np.ndarray,
    y_train: np.ndarray,
    cfg: TrainConfig,
    *,
    checkpoint: Path | None = None,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    log: Any = print,
) -> dict[str, Any]:
    """Train ``model`` on float inputs ``x_train`` (N, K) in [0, 1]; returns the history.

    Resumes from ``checkpoint`` when it exists (same config assumed), and rewrites it after each epoch.
    Denormals are flushed to zero while it runs (:func:`flushing_denormals`), with ``cfg.threads`` PyTorch
    threads (the process's count is restored after it). The passes run on ``cfg.device``; the model is on
    the CPU again when this returns (or raises).
    """
    dev = resolve_device(cfg.device)
    with flushing_denormals(), torch_threads(int(cfg.threads) if cfg.threads else None):
        try:
            model.to(dev)
            return _train(model, x_train, y_train, cfg, checkpoint=checkpoint, x_val=x_val, y_val=y_val, log=log,
                          device=dev)
        finally:
            model.to("cpu")


def _train(
    model: CoreNetModel,
    x_train: np.ndarray,
    y_train: np.ndarray,
    cfg: TrainConfig,
    *,
    checkpoint: Path | None,
    x_val: np.ndarray | None,
    y_val: np.ndarray | None,
    log: Any,
    device: torch.device,
) -> dict[str, Any]:
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    if cfg.max_train:
        x_train, y_train = x_train[: cfg.max_train], y_train[: cfg.max_train]
    opt = make_optimizer(model, cfg)
    teacher = load_teacher(cfg.teacher, model.spec.n_inputs, model.spec.n_classes) if cfg.distill > 0 else None
    temp = cfg.temperature if cfg.temperature is not None else 12.5 / model.spec.neurons_per_class
    start = 0
    history: list[dict[str, float]] = []
    if checkpoint is not None and Path(checkpoint).exists():
        st = torch.load(checkpoint, weights_only=False, map_location="cpu")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        model.load_method_state(st.get("method", {}))
        gen.set_state(st["gen"])
        rng.bit_generator.state = st["rng"]
        torch.set_rng_state(st["torch_rng"])
        if device.type == "cuda" and st.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(st["cuda_rng"], device)
        start = int(st["epoch"]) + 1
        history = list(st["history"])
        log(f"resumed from {checkpoint} after epoch {start}")
    shape = model.spec.input_shape
    xt = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y_train, dtype=np.int64))
    n = len(xt)
    nb = math.ceil(n / cfg.batch_size)
    from spikeforge.progress import bar as progress_bar
    from spikeforge.progress import bars_enabled as progress_enabled

    n_epochs = total_epochs(cfg)
    if n_epochs == 0:
        warnings.warn("0 training epochs (train.epochs, anneal_epochs and restart_epochs all 0): the network is "
                      "deployed as it starts (initialised, or its warm start)", UserWarning, stacklevel=2)
    forward: Any = model
    if cfg.compile and start < n_epochs:
        forward = torch.compile(model)
    for epoch in range(start, n_epochs):
        model.train()
        model.on_epoch(min(epoch, cfg.epochs - 1), cfg.epochs)  # method schedules (e.g. slopes) end with ``epochs``
        lr = _lr_at(cfg, epoch)
        if cfg.restart_epochs > 0 and epoch == cfg.epochs + max(cfg.anneal_epochs, 0):
            opt.state.clear()  # warm restart: the optimiser's moment estimates start afresh
        for g in opt.param_groups:
            g["lr"] = lr
        perm = torch.from_numpy(rng.permutation(n))
        t0 = time.time()
        tot_loss, tot_correct, tot_ens = 0.0, 0.0, 0.0
        bar = None
        if progress_enabled():
            from rich.progress import BarColumn, TextColumn, TimeRemainingColumn

            bar = progress_bar(TextColumn("[bold]epoch {task.fields[ep]}"), BarColumn(),
                               TextColumn("{task.completed}/{task.total}"),
                               TextColumn("loss {task.fields[loss]:.3f}"), TimeRemainingColumn())
            bar.start()
            task = bar.add_task("train", total=nb, ep=f"{epoch + 1}/{n_epochs}", loss=0.0)
        for bi in range(nb):
            idx = perm[bi * cfg.batch_size : (bi + 1) * cfg.batch_size]
            xb = xt[idx]
            if len(shape) == 2 and not (cfg.copy_distortions and cfg.copy_views):
                xb = elastic_batch(xb, shape, cfg.elastic_alpha, cfg.elastic_sigma, gen)
                xb = affine_batch(xb, shape, cfg.max_rotate, cfg.max_scale, gen)
            x_teacher = xb  # the teacher sees the (shared) distorted image, before shifts and draws
            xb = copy_view_batch(xb, shape, model.copies if cfg.copy_views else 0, cfg, gen)
            yb = yt[idx]
            if device.type != "cpu":
                xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            scores, forward = _forward(forward, model, xb, log)  # (B, K, classes)
            loss = ensemble_objective(scores * temp, yb, cfg.ensemble_loss)
            if teacher is not None:
                loss = distilled(loss, scores * temp, teacher(x_teacher).to(device), cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            model.clip_()
            tot_loss += float(loss.detach()) / model.copies * len(idx)
            tot_correct += float((scores.argmax(-1) == yb[:, None]).float().mean()) * len(idx)
            tot_ens += float((scores.detach().sum(1).argmax(-1) == yb).float().sum())
            if bar is not None:
                bar.update(task, advance=1, loss=float(loss.detach()) / model.copies)
        if bar is not None:
            bar.stop()
        rec: dict[str, float] = {"epoch": epoch + 1, "lr": lr, "loss": tot_loss / n, "train_acc": tot_correct / n,
                                 "seconds": time.time() - t0}
        if model.copies > 1:  # the copies' summed score: the ensemble's (surrogate) training accuracy
            rec["train_ens_acc"] = tot_ens / n
        rec.update({k: float(v) for k, v in model.method_state().items()})
        if x_val is not None and y_val is not None:
            rec["val_model_acc"] = float(np.mean(model_accuracy(model, x_val, y_val)))
        history.append(rec)
        if cfg.log_every_epoch:
            log("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rec.items()))
        if checkpoint is not None:
            torch_save_atomic({"model": model.state_dict(), "opt": opt.state_dict(),
                               "method": model.method_state(), "gen": gen.get_state(),
                               "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                               "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                               "epoch": epoch, "history": history, "config": asdict(cfg)}, checkpoint)
    model.eval()
    return {"history": history, "temperature": temp, "config": asdict(cfg)}
