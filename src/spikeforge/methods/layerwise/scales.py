"""Layer scales s_ℓ (docs/methods/layerwise.md, "Layer scales and targets"): a high percentile of a layer's
positive activations (the normalisation baseline's rule) or the scale with the least squared error of the
T-step rate code (:func:`_mse_scale`), and which of the two a conversion takes.
"""

from __future__ import annotations

import numpy as np

from spikeforge.methods.layerwise.constraints import Constraints, ConvertOptions


def _use_mse_scale(opts: ConvertOptions, cons: Constraints) -> bool:
    """Whether the layer-wise conversion takes the rate-code MSE scales (see ``ConvertOptions.scale``)."""
    return opts.scale == "mse" or (opts.scale == "auto" and not cons.integer)


def _scale(a: np.ndarray, pct: float) -> float:
    pos = a[a > 0]
    return float(np.percentile(pos, pct)) if pos.size else 1.0


#: percentiles of the positive activations tried by :func:`_mse_scale`
MSE_SCALE_PERCENTILES = (90.0, 95.0, 97.0, 98.0, 99.0, 99.5, 99.7, 99.8, 99.9, 99.95, 99.99, 100.0)


def _mse_scale(a: np.ndarray, levels: int, max_values: int = 200_000) -> float:
    """The layer scale s minimising the mean squared error of coding the layer's activations a ≥ 0 with a
    rate of ``levels`` steps: Q_s(a) = s·round(clip(a/s, 0, 1)·levels)/levels, s among percentiles of the
    positive activations (a small s clips the largest activations, a large one wastes resolution)."""
    pos = a[a > 0].astype(np.float64)
    if not pos.size:
        return 1.0
    if pos.size > max_values:
        pos = np.random.default_rng(0).choice(pos, max_values, replace=False)
    best, best_s = np.inf, float(pos.max())
    for s in np.percentile(pos, MSE_SCALE_PERCENTILES):
        if s <= 0:
            continue
        q = s * np.round(np.clip(pos / s, 0.0, 1.0) * levels) / levels
        e = float(np.mean(np.square(pos - q)))
        if e < best:
            best, best_s = e, float(s)
    return best_s
