"""All metrics of a deployment on a workload, as one JSON-ready dict."""

from __future__ import annotations

from typing import Any

import numpy as np

from spikeforge.data.source import Spikes
from spikeforge.deploy.deployment import Deployment
from spikeforge.metrics.activity import Activity
from spikeforge.metrics.static import ConnectionSparsity, Footprint
from spikeforge.metrics.workload import ActivationSparsity, MembraneUpdates, SynapticOperations
from spikeforge.sim.counts import EventCounts
from spikeforge.sim.engine import SimResult


def compute_metrics(
    dep: Deployment,
    result: SimResult | EventCounts | None = None,
    *,
    inputs: Spikes | None = None,
    ticks: int | None = None,
    batch_size: int = 256,
) -> dict[str, Any]:
    """Static and workload metrics of ``dep`` (``docs/metrics/``).

    Args:
        dep: the deployment.
        result: the simulator's output on the workload (:class:`~spikeforge.sim.SimResult` or its
            :class:`~spikeforge.sim.counts.EventCounts`). Workload metrics come from its counters unless
            ``inputs`` is given. ``None`` with no ``inputs``: static metrics only.
        inputs: the encoded inputs (B, T, K) the result was produced from (an array or a
            :class:`~spikeforge.data.source.SpikeSource`). When given, the inputs are replayed
            (sequential regime) to count NeuroBench's effective synaptic operations and membrane updates
            exactly; the replay's spikes are checked against ``result`` where the result is sequential.
        ticks: ticks per input for the replay (default: the result's, if sequential, else the simulator's
            default ``max(ticks_per_input, T) + latency``).
        batch_size: inputs replayed together.

    Returns:
        ``{"source", "samples", "ticks_per_sample", "footprint", "connection_sparsity", "activation_sparsity",
        "synaptic_operations", "membrane_updates", "neurobench"}``; ``neurobench`` holds the headline values
        under NeuroBench's metric names. Values that cannot be derived from what was given are ``None``.

    Raises:
        RuntimeError: the replay's spikes disagree with the simulator's (a bug in one of them).
    """
    out: dict[str, Any] = {
        "footprint": Footprint()(dep),
        "connection_sparsity": ConnectionSparsity()(dep),
    }
    counts = result.counts if isinstance(result, SimResult) else result
    sequential = isinstance(result, SimResult) and result.counts.ticks == result.ticks
    act: Activity | None = None
    if inputs is not None:
        if ticks is None and sequential:
            assert isinstance(result, SimResult)
            ticks = result.ticks
        want_raster = isinstance(result, SimResult) and result.spikes is not None and sequential
        rep = Activity.replay(dep, inputs, ticks, batch_size=batch_size, raster=want_raster)
        if isinstance(rep, tuple):
            act, raster = rep
            assert isinstance(result, SimResult)
            if result.spikes is None or not np.array_equal(raster, result.spikes):
                raise RuntimeError("metrics replay and simulator disagree on the spike raster")
        else:
            act = rep
        if sequential and counts is not None and not np.array_equal(act.spikes, counts.spikes):
            raise RuntimeError("metrics replay and simulator disagree on the spikes per input")
    elif counts is not None:
        act = Activity.from_counts(dep, counts)
    if act is None:
        out.update({"source": None, "samples": 0, "ticks_per_sample": None, "activation_sparsity": None,
                    "synaptic_operations": None, "membrane_updates": None})
    else:
        out.update({
            "source": act.source,
            "samples": act.batch,
            "ticks_per_sample": act.ticks,
            "activation_sparsity": ActivationSparsity()(dep, act),
            "synaptic_operations": SynapticOperations()(dep, act),
            "membrane_updates": MembraneUpdates()(dep, act),
        })
    ops = out["synaptic_operations"] or {}
    out["neurobench"] = {
        "Footprint": out["footprint"]["bytes"],
        "ConnectionSparsity": out["connection_sparsity"]["connection_sparsity"],
        "ActivationSparsity": (out["activation_sparsity"] or {}).get("activation_sparsity"),
        "SynapticOperations": {k: ops.get(k) for k in ("Effective_MACs", "Effective_ACs", "Dense")} if ops else None,
        "MembraneUpdates": (out["membrane_updates"] or {}).get("membrane_updates"),
    }
    return out


def metrics_rows(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) rows of the headline metrics, for a two-column table (``n/a`` where not derivable)."""
    nb = metrics.get("neurobench", {})
    ops = nb.get("SynapticOperations") or {}

    def v(x: Any) -> Any:
        return "n/a" if x is None else x

    return [
        ("footprint (bytes on chip)", v(nb.get("Footprint"))),
        ("connection sparsity", v(nb.get("ConnectionSparsity"))),
        ("activation sparsity", v(nb.get("ActivationSparsity"))),
        ("synaptic ops / input: dense", v(ops.get("Dense"))),
        ("synaptic ops / input: effective ACs", v(ops.get("Effective_ACs"))),
        ("synaptic ops / input: effective MACs", v(ops.get("Effective_MACs"))),
        ("membrane updates / input", v(nb.get("MembraneUpdates"))),
    ]
