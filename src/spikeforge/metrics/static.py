"""Static metrics: properties of the deployment alone (NeuroBench's "static metrics")."""

from __future__ import annotations

from typing import Any

import numpy as np

from spikeforge.deploy.deployment import Deployment
from spikeforge.hardware.spec import CoreSpec
from spikeforge.metrics.layers import layer_groups


def signed_bits(lo: int, hi: int) -> int:
    """Two's-complement width that holds every integer in [lo, hi]."""
    n = 1
    while lo < -(2 ** (n - 1)) or hi > 2 ** (n - 1) - 1:
        n += 1
    return n


def unsigned_bits(hi: int) -> int:
    """Width that holds every integer in [0, hi] (at least 1)."""
    return max(1, int(hi).bit_length())


def index_bits(n: int) -> int:
    """Width of an index over n items (0 for a single item)."""
    return max(0, int(n - 1).bit_length())


def core_storage_bits(core: CoreSpec, cores_addressable: int) -> dict[str, int]:
    """Bits one core stores, field by field, at the widths the core's parameter ranges need.

    ``cores_addressable`` sizes the destination core address (cores per chip × chips per board).
    """
    a, n, t = core.n_axons, core.n_neurons, core.n_axon_types
    per_neuron = {
        "weights": t * signed_bits(core.weight_min, core.weight_max),
        "leak": signed_bits(core.leak_min, core.leak_max),
        "threshold": unsigned_bits(core.threshold_max),
        "neg_threshold": unsigned_bits(core.threshold_max),
        "reset_mode": index_bits(len(core.reset_modes)),
        "reset_value": signed_bits(core.reset_value_min, core.reset_value_max),
        "floor_mode": 1,
        "v_init": core.membrane_bits,
        "enabled": 1,
        "destination": 1 + index_bits(cores_addressable) + index_bits(a)
        + index_bits(core.delay_max - core.delay_min + 1),
        "leak_reversal": 1,
    }
    if core.stochastic_modes:  # b_j^G per type, c_j, and the mask width k of M_j = 2^k − 1
        per_neuron.update({"stochastic_synapse": t, "stochastic_leak": 1,
                           "threshold_mask": unsigned_bits(core.threshold_mask_bits)})
    bits = {"crossbar": a * n * core.crossbar_bits, "axon_type": a * index_bits(t)}
    bits.update({k: n * v for k, v in per_neuron.items()})
    return bits


def core_state_bits(core: CoreSpec) -> dict[str, int]:
    """Bits of run-time state per core: membrane potentials and the axon spike scheduler (one bit per axon
    per tick of delay)."""
    return {"membrane": core.n_neurons * core.membrane_bits, "scheduler": core.n_axons * (core.delay_max + 1)}


class Footprint:
    """Memory footprint in bytes, as the chip stores it (NeuroBench ``Footprint``).

    NeuroBench sums the bytes of a PyTorch model's parameters and buffers at their element size (4 bytes per
    float32). spikeforge counts what the chip holds for every core of the deployment: the crossbar at its
    entry width (1 bit on TrueNorth), axon types, and every neuron slot's parameters at the widths the chip
    preset's ranges need (a ±255 weight is 9 bits, not 32), plus the run-time state (membrane potentials,
    spike scheduler) that NeuroBench counts as buffers. A configured core stores all its slots, used or not.
    ``float32_equivalent_bytes`` is what NeuroBench would report for the same network ported to float32
    PyTorch layers (per core: effective weights of the enabled neurons, bias, threshold, membrane).
    """

    name = "footprint"

    def __call__(self, dep: Deployment) -> dict[str, Any]:
        core = dep.chip.core
        params = core_storage_bits(core, dep.chip.cores_per_chip * dep.chip.max_chips)
        state = core_state_bits(core)
        per_core = sum(params.values()) + sum(state.values())
        n_en = dep.enabled.sum(axis=1)
        f32 = int(np.sum(4 * (core.n_axons * n_en + 3 * n_en)))
        groups = layer_groups(dep)
        return {
            "bytes": dep.n_cores * per_core // 8,
            "parameter_bytes": dep.n_cores * sum(params.values()) // 8,
            "state_bytes": dep.n_cores * sum(state.values()) // 8,
            "cores": dep.n_cores,
            "bits_per_core": {**params, **state},
            "float32_equivalent_bytes": f32,
            "per_layer_bytes": {k: len(idx) * per_core // 8 for k, idx in groups.items()},
        }


class ConnectionSparsity:
    """Fraction of zero weights (NeuroBench ``ConnectionSparsity``).

    NeuroBench counts zeros over the weight tensors of the connection layers. Here a core is a layer whose
    weight matrix is the effective weight ``W_eff[i, j] = w_ij · s_j[G_i]`` from all ``n_axons`` axons to the
    core's *enabled* neurons (disabled neuron slots are not part of the network). ``crossbar_sparsity`` is the
    hardware view: unset bits over every slot of every core's crossbar.
    """

    name = "connection_sparsity"

    def __call__(self, dep: Deployment) -> dict[str, Any]:
        w = dep.effective_weights()
        mask = np.broadcast_to(dep.enabled[:, None, :], w.shape)
        per_core_total = mask.sum(axis=(1, 2))
        per_core_zero = ((w == 0) & mask).sum(axis=(1, 2))
        total = int(per_core_total.sum())
        groups = layer_groups(dep)

        def frac(z: int, n: int) -> float | None:
            return float(z / n) if n else None

        return {
            "connection_sparsity": frac(int(per_core_zero.sum()), total),
            "weights": total,
            "zero_weights": int(per_core_zero.sum()),
            "crossbar_sparsity": frac(int(np.count_nonzero(dep.crossbar == 0)), int(dep.crossbar.size)),
            "per_layer": {k: frac(int(per_core_zero[i].sum()), int(per_core_total[i].sum()))
                          for k, i in groups.items()},
        }
