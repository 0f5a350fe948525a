"""Static analysis of a deployment's routing: core depths and input→output latency.

The *depth* of a core is the tick offset, relative to the tick an input is presented, at which that input's
activity reaches the core: input-map cores have depth 0 and a route c → c' with delay d gives
depth(c') = depth(c) + d. A deployment is *layer-synchronous* when every core has one depth over all routes
(the condition for pipelining one input per tick without mixing inputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeforge.deploy.deployment import Deployment


class TopologyError(ValueError):
    """The routing graph does not allow the requested analysis (cycle, inconsistent depths)."""


@dataclass(frozen=True)
class Topology:
    """Depth of each core (−1 for cores no input reaches), latency and synchrony.

    Attributes:
        depth: (C,) int64 tick offset of each core, −1 where unreachable from the input map.
        latency: largest depth of a core holding an output neuron: an input presented at tick t produces its
            last output spikes at tick t + ticks_per_input − 1 + latency.
        synchronous: every core has a single depth over all routes.
        acyclic: the core graph has no cycle reachable from the inputs.
        conflicts: cores reached at more than one depth (empty when synchronous).
    """

    depth: np.ndarray
    latency: int
    synchronous: bool
    acyclic: bool
    conflicts: tuple[int, ...]


def analyse(dep: Deployment) -> Topology:
    """Compute core depths by relaxation over the core graph (Bellman-Ford style, longest path)."""
    c = dep.n_cores
    routed = dep.enabled & (dep.dest_core >= 0)
    src = np.repeat(np.arange(c), dep.chip.core.n_neurons).reshape(c, -1)[routed]
    dst = dep.dest_core[routed]
    dly = dep.dest_delay[routed]
    edges = np.unique(np.stack([src, dst, dly], axis=1), axis=0) if src.size else np.zeros((0, 3), np.int64)
    lo = np.full(c, np.iinfo(np.int64).max, np.int64)
    hi = np.full(c, -1, np.int64)
    starts = np.unique(dep.input_core)
    lo[starts] = 0
    hi[starts] = 0
    acyclic = True
    for it in range(c + 1):
        reach = hi[edges[:, 0]] >= 0 if len(edges) else np.zeros(0, bool)
        e = edges[reach]
        new_hi = hi.copy()
        new_lo = lo.copy()
        if len(e):
            np.maximum.at(new_hi, e[:, 1], hi[e[:, 0]] + e[:, 2])
            np.minimum.at(new_lo, e[:, 1], lo[e[:, 0]] + e[:, 2])
        if np.array_equal(new_hi, hi) and np.array_equal(new_lo, lo):
            break
        hi, lo = new_hi, new_lo
        if it == c:
            acyclic = False
    if not acyclic:
        return Topology(depth=np.where(hi >= 0, -2, -1), latency=-1, synchronous=False, acyclic=False,
                        conflicts=())
    conflicts = tuple(int(i) for i in np.flatnonzero((hi >= 0) & (lo != hi)))
    out_depth = hi[dep.output_core] if len(dep.output_core) else np.zeros(1, np.int64)
    latency = int(out_depth.max()) if out_depth.size else 0
    return Topology(depth=hi, latency=max(latency, 0), synchronous=not conflicts, acyclic=True,
                    conflicts=conflicts)
