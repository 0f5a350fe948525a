"""NeuroBench-compatible metrics of a deployment and its workload (``docs/metrics/``).

Static: :class:`Footprint`, :class:`ConnectionSparsity`. Workload: :class:`ActivationSparsity`,
:class:`SynapticOperations`, :class:`MembraneUpdates`, computed from an :class:`Activity` (the simulator's
counters or a replay of the inputs). :func:`compute_metrics` runs them all.
"""

from spikeforge.metrics.activity import Activity, reads_are_effective
from spikeforge.metrics.compute import compute_metrics, metrics_rows
from spikeforge.metrics.layers import layer_groups, layer_key
from spikeforge.metrics.static import ConnectionSparsity, Footprint, core_state_bits, core_storage_bits
from spikeforge.metrics.workload import ActivationSparsity, MembraneUpdates, SynapticOperations

__all__ = [
    "ActivationSparsity",
    "Activity",
    "ConnectionSparsity",
    "Footprint",
    "MembraneUpdates",
    "SynapticOperations",
    "compute_metrics",
    "core_state_bits",
    "core_storage_bits",
    "layer_groups",
    "layer_key",
    "metrics_rows",
    "reads_are_effective",
]
