"""The floating-point ANNs this method converts, and their extraction into affine layers.

:func:`extract_layers` turns a trained ``torch.nn.Sequential`` of Linear / Conv2d / ReLU / AvgPool2d /
Flatten modules into :class:`AnnLayer` s: dense affine maps (``w`` (out, in), ``b``) on the flattened
(C, H, W) activations, each followed by ReLU except the last. Average pooling is linear and is folded
into the next affine layer; a convolution keeps its weight-tying structure (``patch_idx``, ``kernel``) so
the converter can solve one problem per output channel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class AnnLayer:
    """One affine layer y = w·x + b (then ReLU if ``relu``). For a convolution, output neuron (c, p) (index
    c·P + p) reads inputs ``patch_idx[p]`` (−1 = zero padding) with weights ``kernel[c]``."""

    w: np.ndarray
    b: np.ndarray
    relu: bool
    name: str = ""
    patch_idx: np.ndarray | None = None
    kernel: np.ndarray | None = None
    #: a convolution with average pooling folded in: the pooling factor k, the (C, H, W) shape of the map
    #: before pooling, and the convolution on the pooled map (``patch_pooled`` indexes the pooled map
    #: (C, H/k, W/k), ``kernel_pooled`` its weights) — for converters that must pool in a separate stage
    pool: int = 0
    pool_shape: tuple[int, int, int] | None = None
    patch_pooled: np.ndarray | None = None
    kernel_pooled: np.ndarray | None = None

    @property
    def n_out(self) -> int:
        return int(self.w.shape[0])

    @property
    def n_in(self) -> int:
        return int(self.w.shape[1])

    @property
    def tied(self) -> bool:
        return self.kernel is not None


def mlp(sizes: tuple[int, ...]) -> nn.Sequential:
    """Linear-ReLU stack, e.g. (784, 300, 100, 10)."""
    mods: list[nn.Module] = [nn.Flatten()]
    for i in range(len(sizes) - 1):
        mods.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def lenet(n_classes: int = 10) -> nn.Sequential:
    """LeNet-5-style CNN on 1x28x28: conv5(6)-ReLU-avgpool2-conv5(16)-ReLU-avgpool2-fc120-fc84-fc."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, n_classes),
    )


def build_model(arch: str, n_classes: int = 10, *, seed: int | None = 0) -> nn.Sequential:
    """``"mlp"`` (784-300-100-10), ``"mlp-wide"`` (784-800-400-10), ``"lenet"``, or ``"mlp:784-64-10"``.

    The initial weights are drawn from ``seed`` (without touching the global torch RNG), so that a model
    does not depend on what ran before it; ``seed=None`` draws them from the global RNG."""
    if seed is None:
        return _build(arch, n_classes)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _build(arch, n_classes)


def _build(arch: str, n_classes: int) -> nn.Sequential:
    if arch == "mlp":
        return mlp((784, 300, 100, n_classes))
    if arch == "mlp-wide":
        return mlp((784, 800, 400, n_classes))
    if arch == "lenet":
        return lenet(n_classes)
    if arch.startswith("mlp:"):
        try:
            sizes = tuple(int(s) for s in arch[4:].split("-"))
        except ValueError:
            sizes = ()
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"architecture {arch!r}: an MLP is 'mlp:' and two or more layer sizes >= 1 joined by "
                             "'-', e.g. 'mlp:784-64-10'")
        return mlp(sizes)
    raise ValueError(f"unknown architecture {arch!r} (known: mlp, mlp-wide, lenet, mlp:N-N-...)")


def train_model(
    model: nn.Sequential,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 3,
    batch: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    image_shape: tuple[int, ...] = (1, 28, 28),
    schedule: str = "constant",
    log: Callable[[str], None] | None = None,
) -> nn.Sequential:
    """Adam training on intensities ``x`` (N, ...) in [0, 1]; deterministic for a seed (one CPU thread).
    ``schedule``: "constant" learning rate or "cosine" (decayed per step from ``lr`` to 0 over all epochs);
    ``log``: gets one line per epoch (mean training loss, seconds)."""
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be constant or cosine, got {schedule!r}")
    torch.manual_seed(seed)
    xt = torch.as_tensor(np.asarray(x, np.float32).reshape(len(x), *image_shape))
    yt = torch.as_tensor(np.asarray(y, np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    steps = epochs * (-(-len(xt) // batch))
    step = 0
    model.train()
    for epoch in range(epochs):
        t0, total = time.perf_counter(), 0.0
        perm = torch.randperm(len(xt), generator=g)
        for s in range(0, len(xt), batch):
            if schedule == "cosine":
                for grp in opt.param_groups:
                    grp["lr"] = 0.5 * lr * (1.0 + np.cos(np.pi * step / steps))
            step += 1
            idx = perm[s : s + batch]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        if log is not None:
            log(f"ANN epoch {epoch + 1}/{epochs}  loss={total / max(len(xt), 1):.4f}  "
                f"seconds={time.perf_counter() - t0:.1f}")
    model.eval()
    return model


def predict(model: nn.Sequential, x: np.ndarray, image_shape: tuple[int, ...] = (1, 28, 28)) -> np.ndarray:
    """Logits (N, classes) of the torch model."""
    with torch.no_grad():
        xt = torch.as_tensor(np.asarray(x, np.float32).reshape(len(x), *image_shape))
        return torch.cat([model(xt[s : s + 1024]) for s in range(0, len(xt), 1024)]).double().numpy()


def _conv_patches(in_shape: tuple[int, int, int], kh: int, kw: int, stride: int, pad: int) -> np.ndarray:
    """(P, C·kh·kw) flat input indices of every output position's receptive field (−1 = padding)."""
    c, h, w = in_shape
    ho, wo = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    oy, ox = np.meshgrid(np.arange(ho), np.arange(wo), indexing="ij")
    ch, ky, kx = np.meshgrid(np.arange(c), np.arange(kh), np.arange(kw), indexing="ij")
    iy = oy.reshape(-1, 1) * stride - pad + ky.reshape(1, -1)
    ix = ox.reshape(-1, 1) * stride - pad + kx.reshape(1, -1)
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    idx = ch.reshape(1, -1) * h * w + iy * w + ix
    return np.where(ok, idx, -1)


def _dense_from_tied(patch_idx: np.ndarray, kernel: np.ndarray, n_in: int) -> np.ndarray:
    c_out, d = kernel.shape
    p = patch_idx.shape[0]
    w = np.zeros((c_out * p, n_in))
    rows = (np.arange(c_out)[:, None, None] * p + np.arange(p)[None, :, None]).repeat(d, axis=2)
    cols = np.broadcast_to(patch_idx[None], (c_out, p, d))
    vals = np.broadcast_to(kernel[:, None, :], (c_out, p, d))
    ok = cols >= 0
    np.add.at(w, (rows[ok], cols[ok]), vals[ok])
    return w


#: the modules :func:`extract_layers` converts (anything else is refused, never skipped)
SUPPORTED_MODULES = "Linear, Conv2d (groups 1, no dilation, square stride and zero padding), ReLU, AvgPool2d " \
    "(stride = kernel, no padding), Flatten, Dropout, Identity"


def _check_supported(i: int, m: nn.Module) -> None:
    """Refuse a module the conversion cannot express (naming it), and non-finite weights."""
    where = f"module {i} ({type(m).__name__})"
    if isinstance(m, nn.Conv2d):
        bad = [f"{k}={v}" for k, v, ok in (
            ("groups", m.groups, m.groups == 1), ("dilation", m.dilation, all(d == 1 for d in m.dilation)),
            ("stride", m.stride, m.stride[0] == m.stride[1]),
            ("padding", m.padding, isinstance(m.padding, tuple) and m.padding[0] == m.padding[1]),
            ("kernel_size", m.kernel_size, m.kernel_size[0] == m.kernel_size[1]),
            ("padding_mode", m.padding_mode, m.padding_mode == "zeros")) if not ok]
        if bad:
            raise ValueError(f"{where}: {', '.join(bad)} not supported; supported: {SUPPORTED_MODULES}")
    elif isinstance(m, nn.AvgPool2d):
        k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
        ks = m.kernel_size if isinstance(m.kernel_size, tuple) else (k, k)
        st = m.stride if m.stride is not None else ks
        st = st if isinstance(st, tuple) else (st, st)
        pad = m.padding if isinstance(m.padding, tuple) else (m.padding, m.padding)
        if ks[0] != ks[1] or tuple(st) != tuple(ks) or any(pad) or m.ceil_mode:
            raise ValueError(f"{where}: kernel_size={m.kernel_size}, stride={m.stride}, padding={m.padding}, "
                             f"ceil_mode={m.ceil_mode} not supported; supported: {SUPPORTED_MODULES}")
    elif not isinstance(m, nn.Linear | nn.ReLU | nn.Flatten | nn.Dropout | nn.Identity):
        raise ValueError(f"{where} is not supported (it would be converted as if absent); supported: "
                         f"{SUPPORTED_MODULES}")
    for name, t in m.named_parameters(recurse=False):
        bad_n = int((~torch.isfinite(t.detach())).sum())
        if bad_n:
            raise ValueError(f"{where}: {name} holds {bad_n} NaN or infinite value(s)")


def extract_layers(model: nn.Sequential, input_shape: tuple[int, ...] = (1, 28, 28)) -> list[AnnLayer]:
    """Affine layers of ``model`` with average pooling folded into the next layer (see module docstring)."""
    shape: tuple[int, ...] = tuple(input_shape)
    layers: list[AnnLayer] = []
    pending_pool: tuple[int, tuple[int, ...]] | None = None  # (kernel, shape before pooling)
    mods = [m for m in model.modules() if not isinstance(m, nn.Sequential)]
    for i, m in enumerate(mods):
        _check_supported(i, m)
        if isinstance(m, nn.Flatten | nn.Dropout | nn.Identity):  # Dropout is the identity in evaluation
            continue
        if isinstance(m, nn.ReLU):
            if layers:
                layers[-1].relu = True
            continue
        if isinstance(m, nn.AvgPool2d):
            k = int(m.kernel_size) if isinstance(m.kernel_size, int) else int(m.kernel_size[0])
            if pending_pool is not None:
                raise ValueError("two pooling layers in a row are not supported")
            pending_pool = (k, shape)
            c, h, w = shape
            shape = (c, h // k, w // k)
            continue
        if isinstance(m, nn.Linear):
            if m.in_features != int(np.prod(shape)):
                raise ValueError(f"module {i} (Linear) takes {m.in_features} inputs but receives {int(np.prod(shape))} "
                                 f"(input_shape {tuple(input_shape)}; the features reaching it have shape {shape})")
            wt = m.weight.detach().double().numpy()
            bt = m.bias.detach().double().numpy() if m.bias is not None else np.zeros(wt.shape[0])
            pool = _pool_matrix(pending_pool) if pending_pool else None
            w_mat = wt @ pool if pool is not None else wt
            layers.append(AnnLayer(w=w_mat, b=bt, relu=False, name=f"fc{len(layers) + 1}"))
            shape = (wt.shape[0],)
        elif isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            stride, pad = int(m.stride[0]), int(m.padding[0])
            kern = m.weight.detach().double().numpy()
            bt = m.bias.detach().double().numpy() if m.bias is not None else np.zeros(kern.shape[0])
            pool_info: dict[str, object] = {}
            if pending_pool:
                k, pre = pending_pool
                pool_info = {"pool": k, "pool_shape": (int(pre[0]), int(pre[1]), int(pre[2])),
                             "patch_pooled": _conv_patches(shape, kh, kw, stride, pad),  # type: ignore[arg-type]
                             "kernel_pooled": kern.reshape(kern.shape[0], -1).copy()}
                # avgpool(k) then conv(kh, stride s) == conv(kh·k, stride s·k) with each weight spread over k×k / k²
                kern = np.repeat(np.repeat(kern, k, axis=2), k, axis=3) / (k * k)
                in_shape = (pre[0], pre[1] // k * k, pre[2] // k * k)
                patch = _conv_patches(in_shape, kh * k, kw * k, stride * k, pad * k)
                patch = _remap_cropped(patch, in_shape, pre)
                n_in = int(np.prod(pre))
            else:
                patch = _conv_patches(shape, kh, kw, stride, pad)  # type: ignore[arg-type]
                n_in = int(np.prod(shape))
            kflat = kern.reshape(kern.shape[0], -1)
            p = patch.shape[0]
            ho = round(float(np.sqrt(p)))
            w_conv = _dense_from_tied(patch, kflat, n_in)
            layers.append(AnnLayer(w=w_conv, b=np.repeat(bt, p), relu=False, name=f"conv{len(layers) + 1}",
                                   patch_idx=patch, kernel=kflat, **pool_info))  # type: ignore[arg-type]
            shape = (kern.shape[0], ho, p // ho)
        pending_pool = None
    if pending_pool is not None:
        raise ValueError("a pooling layer at the end of the network is not supported")
    return layers


def _remap_cropped(patch: np.ndarray, cropped: tuple[int, int, int], full: tuple[int, ...]) -> np.ndarray:
    """Indices into a (C, h', w') crop → indices into the full (C, H, W) map."""
    _, h, w = cropped
    _, hf, wf = full
    ch, rem = np.divmod(np.where(patch >= 0, patch, 0), h * w)
    yy, xx = np.divmod(rem, w)
    return np.where(patch >= 0, ch * hf * wf + yy * wf + xx, -1)


def _pool_matrix(pool: tuple[int, tuple[int, ...]]) -> np.ndarray:
    """(C·(H/k)·(W/k), C·H·W) average-pooling matrix."""
    k, (c, h, w) = pool
    ho, wo = h // k, w // k
    m = np.zeros((c * ho * wo, c * h * w))
    for ch in range(c):
        for y in range(ho):
            for x in range(wo):
                r = ch * ho * wo + y * wo + x
                for dy in range(k):
                    for dx in range(k):
                        m[r, ch * h * w + (y * k + dy) * w + x * k + dx] = 1.0 / (k * k)
    return m


def forward(layers: list[AnnLayer], x: np.ndarray) -> list[np.ndarray]:
    """Pre-activations z_ℓ (N, n_out) of every layer on flat inputs ``x`` (N, n_in), in float64."""
    a = np.asarray(x, np.float64).reshape(len(x), -1)
    zs = []
    for layer in layers:
        z = a @ layer.w.T + layer.b
        zs.append(z)
        a = np.maximum(z, 0.0) if layer.relu else z
    return zs
