"""Event counters produced by the simulator and consumed by the energy model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)
class EventCounts:
    """Activity of a deployment on a batch of inputs, counted per input.

    All per-input arrays have shape ``(B,)`` and are int64.

    Attributes:
        ticks: ticks simulated per input (the window each input owns: the longer of ``ticks_per_input`` and
            the input's own ticks, plus drain ticks, in sequential mode; ``ticks_per_input`` in pipelined
            mode).
        synaptic_events: Σ over ticks of (spike arriving at axon i of core c) × (crossbar entries of axon i
            that are set), i.e. crossbar reads — including entries whose type weight is 0 and entries into
            disabled neurons, which the chip reads just the same (effective ACs, which add to a membrane,
            are :mod:`spikeforge.metrics`' replay count).
        spikes: neuron spikes emitted (all neurons, output neurons included).
        axon_events: spikes delivered to axons (input-map deliveries plus routed spikes, after merging).
        hops: Σ over routed spikes of the Manhattan mesh distance from source to destination core
            (chip boundary crossings count ``mesh_rows + mesh_cols`` extra hops).
        chip_crossings: routed spikes whose destination is on another chip.
        active_cores: cores that received an axon event or emitted a spike while processing the input.
        core_ticks: Σ over ticks of the number of cores with any enabled neuron (the cores that tick).
        neuron_updates: Σ over ticks of the number of enabled neurons updated.
        n_cores: cores in the deployment.
        core_spikes: (C,) spikes per core summed over the batch (for utilisation maps).
        core_synaptic_events: (C,) synaptic events per core summed over the batch.
    """

    ticks: int
    synaptic_events: np.ndarray
    spikes: np.ndarray
    axon_events: np.ndarray
    hops: np.ndarray
    chip_crossings: np.ndarray
    active_cores: np.ndarray
    core_ticks: np.ndarray
    neuron_updates: np.ndarray
    n_cores: int
    core_spikes: np.ndarray
    core_synaptic_events: np.ndarray

    @property
    def batch(self) -> int:
        """Number of inputs counted."""
        return int(self.spikes.shape[0])

    def __repr__(self) -> str:  # per-input means, not every input's numbers
        m = self.mean() if self.batch else {}
        means = ", ".join(f"{k}={m[k]:.4g}" for k in ("synaptic_events", "spikes", "hops", "active_cores") if k in m)
        return (f"EventCounts(batch={self.batch}, n_cores={self.n_cores}, ticks={self.ticks}"
                f"{', mean per input: ' + means if means else ''})")

    def mean(self) -> dict[str, float]:
        """Per-input means of every per-input counter (plus ``ticks``)."""
        out = {"ticks": float(self.ticks)}
        for name in ("synaptic_events", "spikes", "axon_events", "hops", "chip_crossings", "active_cores",
                     "core_ticks", "neuron_updates"):
            out[name] = float(np.mean(getattr(self, name))) if self.batch else 0.0
        return out

    @staticmethod
    def concat(parts: list[EventCounts]) -> EventCounts:
        """Join counts of consecutive batches of the same deployment."""
        if not parts:
            raise ValueError("EventCounts.concat needs at least one part")
        first = parts[0]
        cat = lambda n: np.concatenate([getattr(p, n) for p in parts])  # noqa: E731
        add = lambda n: np.sum([getattr(p, n) for p in parts], axis=0)  # noqa: E731
        return EventCounts(
            ticks=first.ticks,
            synaptic_events=cat("synaptic_events"),
            spikes=cat("spikes"),
            axon_events=cat("axon_events"),
            hops=cat("hops"),
            chip_crossings=cat("chip_crossings"),
            active_cores=cat("active_cores"),
            core_ticks=cat("core_ticks"),
            neuron_updates=cat("neuron_updates"),
            n_cores=first.n_cores,
            core_spikes=add("core_spikes"),
            core_synaptic_events=add("core_synaptic_events"),
        )
