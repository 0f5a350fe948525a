"""Hardware encodings of dense weights: the virtual axons, axon types, per-neuron type weights and crossbar of
neurons reading a set of inputs with integer levels (TrueNorth: two's-complement bits over 4 axon copies of
types weighted (1, 2, 4, −8); a multi-bit crossbar: the levels themselves on one axon type).
"""

from __future__ import annotations

import numpy as np

from spikeforge.methods.layerwise.constraints import Constraints
from spikeforge.methods.layerwise.network import AxonSet
from spikeforge.methods.layerwise.solver import LevelSpec

_TN_TYPES = np.array([1, 2, 4, -8])


def _tn_bits(q: np.ndarray) -> np.ndarray:
    """Two's-complement bits (..., 4) of q ∈ [−8, 7] over types weighted (1, 2, 4, −8)."""
    u = np.asarray(q, np.int64) & 15
    return np.stack([(u >> g) & 1 for g in range(4)], axis=-1).astype(np.int16)


def _hw_dense(q: np.ndarray, inputs: np.ndarray, neurons: np.ndarray, cons: Constraints, spec: LevelSpec,
              vaxon_offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, AxonSet]:
    """Virtual axons and the axon set of neurons reading ``inputs`` with levels q (n, D)."""
    if cons.truenorth_types:
        src = np.repeat(inputs, 4)
        typ = np.tile(np.arange(4), len(inputs))
        xb = _tn_bits(q).reshape(len(neurons), -1)
        tw = np.broadcast_to(spec.m * _TN_TYPES, (len(neurons), 4))
    else:
        src = inputs.copy()
        typ = np.zeros(len(inputs), np.int64)
        xb = q.astype(np.int16)
        tw = np.ones((len(neurons), 1), np.int64)
    vax = vaxon_offset + np.arange(len(src))
    return src, typ, np.asarray(tw, np.int64), AxonSet(vaxons=vax, neurons=neurons, crossbar=xb)
