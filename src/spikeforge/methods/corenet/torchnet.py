"""PyTorch skeleton of a core-structured network, shared by the probabilistic and binary methods.

:class:`CoreNetModel` holds, for every layer, the axon → source gather index, the fixed effective signs
``s_ij`` and the trainable per-synapse connection variable (``conn``: a probability c_ij for the
probabilistic method, a shadow value for the binary method) and per-neuron bias (the leak b_j), for ``K``
independent copies of the network at once (``K`` > 1 trains an ensemble of independently initialised copies
in one vectorised pass: each copy has its own loss term, so their gradients never mix).

A subclass implements :meth:`CoreNetModel.layer` — the map from a layer's gathered inputs ``(B, K, C, A)``
to its outputs ``(B, K, C, n)`` — and optionally :meth:`clip_` and :meth:`on_epoch`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from spikeforge.methods.corenet.topology import NetworkSpec


class CoreNetModel(nn.Module, ABC):
    """``K`` copies of a :class:`NetworkSpec`; forward returns class scores ``(B, K, n_classes)``.

    Args:
        spec: topology.
        copies: number of independent copies ``K``.
        init_mean, init_std: initial ``conn`` ~ N(mean, std), clipped to [0, 1].
        leak_min, leak_max: range the bias is clipped to (the chip's leak range).
        seed: initialisation seed.
    """

    #: bounds of the keyword settings a recipe's ``[model]`` table may give (checked before anything runs)
    PARAM_BOUNDS: ClassVar[dict[str, dict[str, float]]] = {"init_std": {"ge": 0}, "dropout": {"ge": 0, "lt": 1}}

    def __init__(self, spec: NetworkSpec, copies: int = 1, *, init_mean: float = 0.5, init_std: float = 0.15,
                 leak_min: float = -255, leak_max: float = 255, seed: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        self.spec = spec
        self.copies = copies
        self.leak_min, self.leak_max = float(leak_min), float(leak_max)
        self.dropout = float(dropout)
        gen = torch.Generator().manual_seed(seed)
        self.conn = nn.ParameterList()
        self.bias = nn.ParameterList()
        prev = spec.n_inputs
        for li, lay in enumerate(spec.layers):
            src = np.where(lay.sources >= 0, lay.sources, prev)  # pad index → a constant-0 column
            self.register_buffer(f"src{li}", torch.from_numpy(src.astype(np.int64)))
            self.register_buffer(f"sign{li}", torch.from_numpy(spec.signs_for(li)))
            c = torch.randn((copies, lay.n_cores, spec.n_axons, lay.neurons), generator=gen) * init_std + init_mean
            self.conn.append(nn.Parameter(c.clamp_(0.0, 1.0)))
            self.bias.append(nn.Parameter(torch.zeros((copies, lay.n_cores, lay.neurons))))
            prev = lay.n_outputs
        self.register_buffer("out_cls", torch.from_numpy(spec.output_classes))

    # ---------------------------------------------------------------- helpers
    def src(self, li: int) -> torch.Tensor:
        return getattr(self, f"src{li}")

    def sign(self, li: int) -> torch.Tensor:
        return getattr(self, f"sign{li}")

    def gather(self, li: int, h: torch.Tensor) -> torch.Tensor:
        """h: (B, K, n_prev) → (B, K, C, A), unused axons read 0."""
        b, k, _ = h.shape
        hp = torch.cat([h, h.new_zeros((b, k, 1))], dim=2)
        idx = self.src(li)
        return hp[:, :, idx]

    @abstractmethod
    def layer(self, li: int, g: torch.Tensor) -> torch.Tensor:
        """Layer ``li``'s output for gathered axon inputs ``g`` (B, K, C, A); defined by each method."""

    def forward(self, x: torch.Tensor, return_layers: bool = False) -> Any:
        """x: (B, n_inputs) input spike probabilities / spikes shared by all copies, or (B, K, n_inputs) one
        input per copy. Returns class scores (B, K, n_classes)."""
        b = x.shape[0]
        if x.dim() == 3:
            if x.shape[1] != self.copies:
                raise ValueError(f"per-copy inputs of shape {tuple(x.shape)} for {self.copies} copies")
            h = x
        else:
            h = x.reshape(b, 1, -1).expand(b, self.copies, x.shape[-1])
        outs = []
        for li, _lay in enumerate(self.spec.layers):
            if self.training and self.dropout > 0 and li > 0:  # eval/deployment: see deploy_bias
                h = h * (torch.rand_like(h) >= self.dropout).to(h.dtype)
            y = self.layer(li, self.gather(li, h))  # (B, K, C, n)
            h = y.reshape(b, self.copies, -1)
            outs.append(h)
        scores = h.new_zeros((b, self.copies, self.spec.n_classes))
        scores.index_add_(2, self.out_cls, h)  # type: ignore[arg-type]
        return (scores, outs) if return_layers else scores

    def deploy_bias(self, li: int) -> torch.Tensor:
        """Layer ``li``'s leaks as deployed (before rounding). With dropout ``p`` on the spikes entering layer
        ``li ≥ 1`` a training input carries on average ``(1 − p)`` of its deployed drive, and the neuron's test
        ``Σ w x + b ≥ 0`` is scale-free, so the deployed leak is ``b / (1 − p)``: the exact counterpart of
        inverted dropout's rescaling for a binary synapse that cannot be scaled (clipped to the leak range)."""
        b = self.bias[li]
        if self.dropout > 0 and li > 0:
            b = (b / (1.0 - self.dropout)).clamp(self.leak_min, self.leak_max)
        return b

    @torch.no_grad()
    def clip_(self) -> None:
        """Project parameters back to their ranges after an optimiser step."""
        for c in self.conn:
            c.clamp_(0.0, 1.0)
        for b in self.bias:
            b.clamp_(self.leak_min, self.leak_max)

    def on_epoch(self, epoch: int, epochs: int) -> None:
        """Called before each epoch (e.g. surrogate slope annealing)."""

    def method_state(self) -> dict[str, Any]:
        """Extra state to checkpoint (e.g. the current surrogate slope)."""
        return {}

    def load_method_state(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`method_state`."""
