"""A small typed IR for trained networks of binary neurons, and its numpy reference forward pass.

Every layer is a set of memoryless binary neurons over the previous layer's binary outputs:

    y_o = 1[ Σ_i W_oi · x_i ≥ θ_o ]      (integer W and θ, x ∈ {0, 1})

* :class:`Dense` — ``weight`` (out, in), ``threshold`` (out,). Its input is the previous layer's output
  flattened in C order (channel, row, column).
* :class:`Conv2d` — ``weight`` (out, in/groups, kh, kw), ``threshold`` (out,), ``stride``, ``padding``
  (zeros: padded positions never spike), ``groups``. Input and output are (channels, height, width).
* Pooling is a binary-neuron layer too: :func:`or_pool` builds the grouped convolution with weight 1 and
  threshold 1 (max pooling of binary maps = OR); ``threshold=k`` gives a "at least k of the window" pool.

A :class:`Network` holds the input shape ((C, H, W) or (n,)), the layers, the number of classes and
``class_of_output_neuron`` (one entry per neuron of the last layer, flattened in C order; −1 = not an
output). The class score is the number of output neurons of that class that spike.

:func:`reference_forward` evaluates the network exactly in integers (numpy, written independently of the
compiler's connectivity code so that it can serve as a test oracle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Conv2d", "Dense", "IRError", "Layer", "Network", "connections", "or_pool", "reference_forward",
    "round_robin_classes",
]


class IRError(ValueError):
    """A network description is malformed (shapes, dtypes, groups, kernel larger than its input)."""


def _int_array(a: Any, what: str, ndim: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise IRError(f"{what}: expected integers, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise IRError(f"{what}: expected {ndim} dimensions, got shape {arr.shape}")
    return np.ascontiguousarray(arr.astype(np.int64))


def _pair(v: int | tuple[int, int] | list[int], what: str) -> tuple[int, int]:
    if isinstance(v, int | np.integer):
        return int(v), int(v)
    t = tuple(int(x) for x in v)
    if len(t) != 2:
        raise IRError(f"{what}: expected an int or a pair, got {v!r}")
    return t[0], t[1]


@dataclass(frozen=True, eq=False)
class Dense:
    """Fully connected binary-neuron layer: ``y = 1[W x ≥ θ]`` with ``W`` (out, in), ``θ`` (out,)."""

    weight: np.ndarray
    threshold: np.ndarray
    name: str = ""

    def __post_init__(self) -> None:
        w = _int_array(self.weight, f"Dense {self.name!r} weight", 2)
        t = _int_array(self.threshold, f"Dense {self.name!r} threshold", 1)
        if t.shape[0] != w.shape[0]:
            raise IRError(f"Dense {self.name!r}: {w.shape[0]} neurons but {t.shape[0]} thresholds")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "threshold", t)

    @property
    def n_out(self) -> int:
        return int(self.weight.shape[0])

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        n_in = int(np.prod(in_shape))
        if n_in != self.weight.shape[1]:
            raise IRError(f"Dense {self.name!r}: weight has {self.weight.shape[1]} inputs, its input has {n_in} "
                          f"(shape {in_shape})")
        return (self.n_out,)


@dataclass(frozen=True, eq=False)
class Conv2d:
    """Grouped 2-D convolution of binary neurons: weight (out, in/groups, kh, kw), threshold (out,)."""

    weight: np.ndarray
    threshold: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    groups: int = 1
    name: str = ""

    def __post_init__(self) -> None:
        w = _int_array(self.weight, f"Conv2d {self.name!r} weight", 4)
        t = _int_array(self.threshold, f"Conv2d {self.name!r} threshold", 1)
        if t.shape[0] != w.shape[0]:
            raise IRError(f"Conv2d {self.name!r}: {w.shape[0]} filters but {t.shape[0]} thresholds")
        stride = _pair(self.stride, f"Conv2d {self.name!r} stride")
        padding = _pair(self.padding, f"Conv2d {self.name!r} padding")
        if min(stride) < 1 or min(padding) < 0:
            raise IRError(f"Conv2d {self.name!r}: stride must be >= 1 and padding >= 0, got {stride}, {padding}")
        g = int(self.groups)
        if g < 1 or w.shape[0] % g:
            raise IRError(f"Conv2d {self.name!r}: groups={g} must be >= 1 and divide out_channels={w.shape[0]}")
        object.__setattr__(self, "weight", w)
        object.__setattr__(self, "threshold", t)
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "padding", padding)
        object.__setattr__(self, "groups", g)

    @property
    def n_out_channels(self) -> int:
        return int(self.weight.shape[0])

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(in_shape) != 3:
            raise IRError(f"Conv2d {self.name!r}: needs a (channels, height, width) input, got shape {in_shape}")
        c, h, w = in_shape
        if c != self.weight.shape[1] * self.groups:
            raise IRError(f"Conv2d {self.name!r}: input has {c} channels, weight expects "
                          f"{self.weight.shape[1]} x groups {self.groups} = {self.weight.shape[1] * self.groups}")
        kh, kw = self.weight.shape[2:]
        ho = (h + 2 * self.padding[0] - kh) // self.stride[0] + 1
        wo = (w + 2 * self.padding[1] - kw) // self.stride[1] + 1
        if ho < 1 or wo < 1:
            raise IRError(f"Conv2d {self.name!r}: kernel {kh}x{kw} larger than its padded input {in_shape}")
        return (self.n_out_channels, int(ho), int(wo))


Layer = Dense | Conv2d


def or_pool(channels: int, kernel: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
            padding: int | tuple[int, int] = 0, *, threshold: int = 1, name: str = "") -> Conv2d:
    """Pooling as binary neurons: each output is 1 iff at least ``threshold`` inputs of its window spike
    (``threshold=1``: OR, i.e. max pooling of binary maps). Depthwise: one group per channel."""
    kh, kw = _pair(kernel, "or_pool kernel")
    st = _pair(stride if stride is not None else (kh, kw), "or_pool stride")
    return Conv2d(np.ones((channels, 1, kh, kw), np.int64), np.full(channels, threshold, np.int64),
                  stride=st, padding=_pair(padding, "or_pool padding"), groups=channels, name=name)


@dataclass(frozen=True, eq=False)
class Network:
    """A feed-forward chain of binary-neuron layers.

    Attributes:
        input_shape: (C, H, W) for image input, or (n,); input channel k of a deployment is element k of
            the input flattened in C order (as :mod:`spikeforge.data.encode` flattens images).
        layers: the layers, first to last.
        n_classes: number of classes.
        class_of_output_neuron: (n_out_last,) int, class of each last-layer neuron (flattened in C order),
            −1 for neurons that are not read out.
        name: free text.
    """

    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]
    n_classes: int
    class_of_output_neuron: np.ndarray
    name: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))
        object.__setattr__(self, "layers", tuple(self.layers))
        if not self.layers:
            raise IRError("a network needs at least one layer")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Dense | Conv2d):
                raise IRError(f"layer {i}: expected Dense or Conv2d, got {type(layer).__name__}")
            if not layer.name:
                object.__setattr__(layer, "name", f"layer{i}")
        cls = _int_array(self.class_of_output_neuron, "class_of_output_neuron", 1)
        object.__setattr__(self, "class_of_output_neuron", cls)
        shapes = self.shapes()
        n_last = int(np.prod(shapes[-1]))
        if cls.shape[0] != n_last:
            raise IRError(f"class_of_output_neuron has {cls.shape[0]} entries, the last layer {n_last} neurons")
        if self.n_classes < 1 or (cls.size and (cls.min() < -1 or cls.max() >= self.n_classes)):
            raise IRError(f"class_of_output_neuron must lie in [-1, {self.n_classes}) with n_classes >= 1")

    def shapes(self) -> list[tuple[int, ...]]:
        """The input shape followed by every layer's output shape."""
        out = [self.input_shape]
        for layer in self.layers:
            out.append(layer.output_shape(out[-1]))
        return out

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.input_shape))


def round_robin_classes(n_out: int, n_classes: int, channels: int | None = None,
                        positions: int = 1) -> np.ndarray:
    """Eedn's readout: filter (channel) c belongs to class c mod n_classes; for a conv output of
    ``channels`` x ``positions`` neurons (C order) every position of a filter shares its class."""
    if channels is None:
        return np.arange(n_out, dtype=np.int64) % n_classes
    return np.repeat(np.arange(channels, dtype=np.int64) % n_classes, positions)


def connections(layer: Layer, in_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Connectivity of a layer: ``idx`` (n_out, F) int64 flat input index (−1 = padding or zero weight) and
    ``w`` (n_out, F) int64 weights (0 where idx = −1); neurons in C order of the output shape."""
    out_shape = layer.output_shape(in_shape)
    if isinstance(layer, Dense):
        n_out, n_in = layer.weight.shape
        idx = np.broadcast_to(np.arange(n_in, dtype=np.int64), (n_out, n_in)).copy()
        w = layer.weight.copy()
    else:
        _, h, wd = in_shape
        co, ho, wo = out_shape
        cig, kh, kw = layer.weight.shape[1:]
        cog = co // layer.groups
        sh, sw = layer.stride
        ph, pw = layer.padding
        oc = np.arange(co)[:, None, None, None, None, None]
        oy = np.arange(ho)[None, :, None, None, None, None]
        ox = np.arange(wo)[None, None, :, None, None, None]
        ic = np.arange(cig)[None, None, None, :, None, None]
        ky = np.arange(kh)[None, None, None, None, :, None]
        kx = np.arange(kw)[None, None, None, None, None, :]
        iy = oy * sh - ph + ky
        ix = ox * sw - pw + kx
        ch = (oc // cog) * cig + ic
        inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < wd)
        flat = (ch * h + iy) * wd + ix
        shape = (co, ho, wo, cig, kh, kw)
        idx = np.where(inside, flat, -1)
        idx = np.broadcast_to(idx, shape).reshape(co * ho * wo, cig * kh * kw).astype(np.int64)
        wfull = np.broadcast_to(layer.weight[:, None, None], shape)
        w = np.where(np.broadcast_to(inside, shape), wfull, 0).reshape(co * ho * wo, cig * kh * kw)
        w = np.ascontiguousarray(w, dtype=np.int64)
    idx = np.where(w != 0, idx, -1)
    return idx, w


def _conv_forward(layer: Conv2d, x: np.ndarray) -> np.ndarray:
    """Integer pre-activations of a grouped convolution; x (B, C, H, W) int64 → (B, Co, Ho, Wo)."""
    b = x.shape[0]
    ph, pw = layer.padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    co, cig, kh, kw = layer.weight.shape
    g = layer.groups
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))  # (B, C, H', W', kh, kw)
    win = win[:, :, :: layer.stride[0], :: layer.stride[1]]
    _, _, ho, wo, _, _ = win.shape
    win = win.reshape(b, g, cig, ho, wo, kh, kw)
    wg = layer.weight.reshape(g, co // g, cig, kh, kw)
    out = np.einsum("bgchwyx,gocyx->bgohw", win, wg, optimize=True)
    return out.reshape(b, co, ho, wo)


def reference_forward(net: Network, x: np.ndarray) -> list[np.ndarray]:
    """Exact binary forward pass. ``x``: (B, *input_shape) or (B, n_inputs) of 0/1.

    Returns one uint8 array per layer, shaped (B, *layer output shape).
    """
    x = np.asarray(x)
    b = x.shape[0]
    if int(np.prod(x.shape[1:])) != net.n_inputs:
        raise IRError(f"input has {int(np.prod(x.shape[1:]))} values per sample, the network {net.n_inputs}")
    if np.any((x != 0) & (x != 1)):
        raise IRError("input must be binary (0/1)")
    cur = x.reshape(b, *net.input_shape).astype(np.int64)
    outs: list[np.ndarray] = []
    for layer in net.layers:
        if isinstance(layer, Dense):
            pre = cur.reshape(b, -1) @ layer.weight.T
            y = pre >= layer.threshold[None, :]
        else:
            if cur.ndim != 4:
                raise IRError(f"Conv2d {layer.name!r} needs (C, H, W) input, got shape {cur.shape[1:]}")
            pre = _conv_forward(layer, cur)
            y = pre >= layer.threshold[None, :, None, None]
        outs.append(y.astype(np.uint8))
        cur = y.astype(np.int64)
    return outs
