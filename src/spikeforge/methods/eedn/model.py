"""An Eedn network: a chain of trinary grouped convolutions (spatial, 1x1 and strided) and OR pools, read out
by class populations; exported to the mapping IR with batch norm folded into integer thresholds.

A network is described by a list of layer dicts (TOML-friendly, the recipe's ``[network] layers``):

* ``{kind = "conv", out = 64, kernel = 3, stride = 1, padding = 1, groups = "auto"}`` — ``groups = "auto"``
  picks the fewest groups (dividing in and out channels) whose patch ``kernel² x in/groups`` times the
  2 axons of a trinary input fits a core's 256 axons (see :func:`auto_groups`);
* ``{kind = "pool", kernel = 2, stride = 2}`` — OR pooling;

The last layer must be a conv layer: its filters are assigned to classes round-robin (filter f → class
f mod n_classes) and a class's score is the number of its output neurons that spike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from spikeforge.mapping.ir import Conv2d, Network, or_pool, round_robin_classes
from spikeforge.methods.eedn.layers import OrPool2d, TrinaryConv2d, bn_scale_shift, fold_threshold

#: axons per input of a trinary layer on TrueNorth (one +1-type and one −1-type axon)
TRINARY_AXON_COPIES = 2


def auto_groups(c_in: int, c_out: int, kernel: int, n_axons: int = 256, copies: int = TRINARY_AXON_COPIES) -> int:
    """Fewest groups g (dividing c_in and c_out) with kernel² · (c_in / g) · copies ≤ n_axons."""
    for g in range(1, c_in + 1):
        if c_in % g == 0 and c_out % g == 0 and kernel * kernel * (c_in // g) * copies <= n_axons:
            return g
    raise ValueError(f"no grouping of a {kernel}x{kernel} conv {c_in}->{c_out} fits {n_axons} axons "
                     f"({copies} axons per input): use a smaller kernel")


class EednNet(nn.Module):
    """The trainable network. ``forward(x)`` returns class scores (population spike counts, float)."""

    classes: torch.Tensor

    def __init__(self, input_shape: Sequence[int], layers: Sequence[dict[str, Any]], n_classes: int,
                 *, eta: float = 0.1, n_axons: int = 256) -> None:
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.n_classes = n_classes
        self.spec = [dict(layer) for layer in layers]
        mods: list[nn.Module] = []
        c, h, w = self.input_shape
        for i, ls in enumerate(self.spec):
            kind = ls.get("kind", "conv")
            k = int(ls.get("kernel", 3))
            stride = int(ls.get("stride", 1 if kind == "conv" else k))
            if kind == "conv":
                out = int(ls["out"])
                pad = int(ls.get("padding", 0))
                g = ls.get("groups", "auto")
                g = auto_groups(c, out, k, n_axons) if g == "auto" else int(g)
                ls["groups"] = g
                mods.append(TrinaryConv2d(c, out, k, stride, pad, g, eta=eta))
                c = out
                h, w = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
            elif kind == "pool":
                mods.append(OrPool2d(k, stride))
                h, w = (h - k) // stride + 1, (w - k) // stride + 1
            else:
                raise ValueError(f"layer {i}: unknown kind {kind!r} (conv | pool)")
            if h < 1 or w < 1:
                raise ValueError(f"layer {i} ({kind}) leaves an empty feature map")
        if not isinstance(mods[-1], TrinaryConv2d):
            raise ValueError("the last layer must be a conv layer (the class populations)")
        self.layers = nn.ModuleList(mods)
        self.out_shape = (c, h, w)
        self.register_buffer("classes", torch.from_numpy(round_robin_classes(0, n_classes, c, h * w)))

    def trinary_layers(self) -> list[TrinaryConv2d]:
        return [m for m in self.layers if isinstance(m, TrinaryConv2d)]

    def update_trinary(self) -> None:
        for m in self.trinary_layers():
            m.update_trinary()

    def layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's binary output; x (B, C, H, W) or (B, C·H·W) of 0/1."""
        cur = x.reshape(x.shape[0], *self.input_shape).float()
        outs = []
        for m in self.layers:
            cur = m(cur)
            outs.append(cur)
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.layer_outputs(x)[-1].flatten(1)
        scores = torch.zeros(y.shape[0], self.n_classes, dtype=y.dtype, device=y.device)
        return scores.index_add_(1, self.classes, y)

    @torch.no_grad()
    def to_network(self, name: str = "eedn") -> Network:
        """Export to the mapping IR: trinary weights, batch norm folded into integer thresholds (and weight
        signs where the batch-norm scale is negative). Exact: see :func:`fold_threshold`."""
        layers: list[Conv2d] = []
        for i, m in enumerate(self.layers):
            if isinstance(m, OrPool2d):
                c = layers[-1].n_out_channels if layers else self.input_shape[0]
                layers.append(or_pool(c, m.kernel, m.stride, name=f"pool{i}"))
                continue
            assert isinstance(m, TrinaryConv2d)
            q = m.q.detach().cpu().numpy().astype(np.int64)
            mu, a, beta = (t.cpu().numpy() for t in bn_scale_shift(m.bn))
            flat = q.reshape(q.shape[0], -1)
            s_min = -(flat < 0).sum(axis=1)
            s_max = (flat > 0).sum(axis=1)
            sign, theta = fold_threshold(mu, a, beta, s_min, s_max)
            wq = q * sign[:, None, None, None]
            layers.append(Conv2d(wq, theta, stride=(m.stride, m.stride), padding=(m.padding, m.padding),
                                 groups=m.groups, name=f"conv{i}"))
        return Network(self.input_shape, tuple(layers), self.n_classes, self.classes.cpu().numpy(), name=name,
                       metadata={"method": "eedn", "spec": self.spec})
