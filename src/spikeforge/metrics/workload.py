"""Workload metrics: properties of the deployment running on inputs (NeuroBench's "workload metrics")."""

from __future__ import annotations

from typing import Any

import numpy as np

from spikeforge.deploy.deployment import Deployment
from spikeforge.metrics.activity import Activity
from spikeforge.metrics.layers import layer_groups
from spikeforge.sim.counts import EventCounts
from spikeforge.sim.engine import SimResult


def _activity(dep: Deployment, act: Activity | EventCounts | SimResult, metric: str) -> Activity:
    """``act`` as an :class:`Activity`: a simulator result or its counters are read through
    :meth:`Activity.from_counts`; anything else is refused by name."""
    if isinstance(act, Activity):
        return act
    if isinstance(act, SimResult):
        act = act.counts
    if isinstance(act, EventCounts):
        return Activity.from_counts(dep, act)
    raise TypeError(f"{metric}: expected an Activity, a SimResult or its EventCounts, got {type(act).__name__}")


def _mean(x: np.ndarray | None) -> float | None:
    return None if x is None else float(np.mean(x)) if len(x) else 0.0


class ActivationSparsity:
    """Fraction of neuron outputs that are zero (NeuroBench ``ActivationSparsity``).

    As NeuroBench: zero activations over all activations, over all spiking layers, ticks and samples. An
    activation is one enabled neuron in one tick of one input (disabled slots are not neurons of the network);
    a spike is a non-zero activation. ``per_layer`` applies the same ratio to each layer's cores.
    """

    name = "activation_sparsity"

    def __call__(self, dep: Deployment, act: Activity | EventCounts | SimResult) -> dict[str, Any]:
        act = _activity(dep, act, type(self).__name__)
        slots = act.n_enabled * act.ticks * act.batch
        groups = layer_groups(dep)

        def sparsity(idx: np.ndarray) -> float | None:
            n = int(slots[idx].sum())
            return 1.0 - float(act.core_spikes[idx].sum()) / n if n else None

        return {
            "activation_sparsity": sparsity(np.arange(dep.n_cores)),
            "spikes_per_sample": _mean(act.spikes),
            "activations_per_sample": int(act.n_enabled.sum()) * act.ticks,
            "per_layer": {k: sparsity(idx) for k, idx in groups.items()},
        }


class SynapticOperations:
    """Synaptic operations per sample, split as NeuroBench ``SynapticOperations`` does.

    NeuroBench counts, per connection layer and timestep: ``Dense`` — every weight times every input
    (zeros included); effective operations — non-zero weight × non-zero input, which are accumulates (ACs)
    when the layer's inputs are spikes and multiply-accumulates (MACs) otherwise. On the chip every core input
    is an axon spike, so all effective operations are ACs (``Effective_MACs = 0``): a binary or ternary weight
    is never a 32-bit MAC. Per tick and core, ``Dense`` = ``n_axons`` × enabled neurons; ``Effective_ACs`` =
    Σ over active axons of the non-zero effective weights into enabled neurons. ``synaptic_events`` is the
    hardware count the energy model prices: crossbar bits read by active axons (equal to ``Effective_ACs``
    unless some set bit carries a zero weight or feeds a disabled neuron).
    """

    name = "synaptic_operations"

    def __call__(self, dep: Deployment, act: Activity | EventCounts | SimResult) -> dict[str, Any]:
        act = _activity(dep, act, type(self).__name__)
        ticking = dep.enabled.any(axis=1)
        dense = int(np.sum(dep.chip.core.n_axons * act.n_enabled[ticking])) * act.ticks
        groups = layer_groups(dep)
        return {
            "Effective_MACs": 0.0,
            "Effective_ACs": _mean(act.effective_acs),
            "Dense": float(dense),
            "synaptic_events": _mean(act.synaptic_events),
            "per_layer_effective_acs": act.per_layer(groups, "effective_acs"),
        }


class MembraneUpdates:
    """Membrane-potential updates per sample (NeuroBench ``MembraneUpdates``).

    NeuroBench counts, per sample, the neurons whose membrane potential changed in a timestep, counting every
    neuron at the first timestep. spikeforge does the same from a replay of the inputs
    (:meth:`~spikeforge.metrics.activity.Activity.replay`); from counters alone it is ``None``.
    ``neuron_updates`` is what the chip does: it updates every enabled neuron every tick, changed or not.
    """

    name = "membrane_updates"

    def __call__(self, dep: Deployment, act: Activity | EventCounts | SimResult) -> dict[str, Any]:
        act = _activity(dep, act, type(self).__name__)
        groups = layer_groups(dep)
        return {
            "membrane_updates": _mean(act.membrane_updates),
            "neuron_updates": _mean(act.neuron_updates),
            "per_layer": act.per_layer(groups, "membrane_updates"),
        }
