"""Reference simulator: a plain loop over ticks, cores, axons and neurons.

Slow by design; it is the executable statement of the core semantics (DESIGN.md; Merolla et al. 2014;
Cassidy et al. 2013) that the fast engine must match spike for spike and count for count. For each input,
the network starts from V = V0 with no spikes in flight; each tick t, for every core and enabled neuron j:

1. integrate: V ← sat(V + Σ_i A_i(t) · w_ij · σ_ij), A_i(t) = 1 if any spike reached axon i at t, with
              σ_ij = s_j[G_i], or sgn(s_j[G_i]) · [|s_j[G_i]| ≥ ρ] for a stochastic synapse type (b_j^G);
2. leak:      V ← sat(V + Ω · ℓ), Ω = sgn(V) with leak reversal (ε_j) else 1, ℓ = λ_j, or
              sgn(λ_j) · [|λ_j| ≥ ρ] for a stochastic leak (c_j);
3. fire:      η = ρ & M_j; if V ≥ α_j + η: spike, and γ=0: V ← R_j; γ=1: V ← V − (α_j + η); γ=2: V unchanged;
4. floor:     else if κ=1 and V < −β_j: V ← −β_j;
              else if κ=0 and V < −(β_j + η): γ=0: V ← −R_j; γ=1: V ← V + (β_j + η); γ=2: V unchanged;
5. route:     a spike at t reaches (dest core, dest axon) at t + delay; off-core spikes leave the chip.

(Cassidy et al., IJCNN 2013, eqs. 1-4 and the reset table.) sat() clamps to the membrane width
[−2^(b−1), 2^(b−1) − 1]. Disabled neurons never change or fire. An input channel spiking at tick t reaches
its mapped axons at tick t. Each ρ is a fresh draw of :func:`spikeforge.sim.prng.rho` keyed by the seed,
the input's index in ``spikes``, the tick, the core, the neuron (and the axon for a synapse).
"""

from __future__ import annotations

import numpy as np

from spikeforge.deploy.deployment import Deployment
from spikeforge.sim.counts import EventCounts
from spikeforge.sim.prng import STREAM_LEAK, STREAM_SYNAPSE, STREAM_THRESHOLD, prn8, rho


def _sgn(x: int) -> int:
    return (x > 0) - (x < 0)


def simulate_reference(
    dep: Deployment, spikes: np.ndarray, ticks: int, *, seed: int | None = None
) -> tuple[np.ndarray, EventCounts, np.ndarray]:
    """Simulate each input of ``spikes`` (B, T_in, K) for ``ticks`` ticks (``seed``: the PRN seed of the
    stochastic modes, default ``dep.prng_seed``).

    Returns (class_counts (B, n_classes), counts, raster (ticks, C, N, B) bool).
    """
    seed = int(dep.prng_seed if seed is None else seed)
    core = dep.chip.core
    c_n, a_n, n_n = dep.n_cores, core.n_axons, core.n_neurons
    spikes = np.asarray(spikes)
    if spikes.ndim == 2:
        spikes = spikes[:, None, :]
    b_n = spikes.shape[0]
    cls = np.zeros((b_n, dep.n_classes), np.int64)
    raster = np.zeros((ticks, c_n, n_n, b_n), bool)
    fields = {k: np.zeros(b_n, np.int64) for k in ("syn", "spk", "axe", "hop", "xing", "act")}
    core_spk = np.zeros(c_n, np.int64)
    core_syn = np.zeros(c_n, np.int64)
    out_of: dict[tuple[int, int], list[int]] = {}  # every output-map entry is one vote
    for c, j, k in zip(dep.output_core, dep.output_neuron, dep.output_class, strict=True):
        out_of.setdefault((int(c), int(j)), []).append(int(k))
    pl = dep.placement
    for b in range(b_n):
        v = dep.v_init.astype(np.int64).copy()
        pending: dict[int, set[tuple[int, int]]] = {}
        active = np.zeros(c_n, bool)
        for t in range(ticks):
            arrive = pending.pop(t, set())
            if t < spikes.shape[1]:
                for ch, c, i in zip(dep.input_channel, dep.input_core, dep.input_axon, strict=True):
                    if spikes[b, t, ch]:
                        arrive.add((int(c), int(i)))
            for c, i in arrive:
                fields["axe"][b] += 1
                n_syn = int(np.count_nonzero(dep.crossbar[c, i]))
                fields["syn"][b] += n_syn
                core_syn[c] += n_syn
                active[c] = True
            for c in range(c_n):
                for j in range(n_n):
                    if not dep.enabled[c, j]:
                        continue
                    total = 0
                    for i in range(a_n):
                        if (c, i) in arrive and dep.crossbar[c, i, j]:
                            g_i = int(dep.axon_type[c, i])
                            s_ = int(dep.weights[c, j, g_i])
                            if dep.stochastic_synapse[c, j, g_i]:
                                hit = abs(s_) >= prn8(rho(seed, STREAM_SYNAPSE, b, t, c, j, i))
                                total += int(dep.crossbar[c, i, j]) * _sgn(s_) * int(hit)
                            else:
                                total += int(dep.crossbar[c, i, j]) * s_
                    vj = min(max(int(v[c, j]) + total, core.v_min), core.v_max)
                    lam = int(dep.leak[c, j])
                    if dep.stochastic_leak[c, j]:
                        lam = _sgn(lam) * int(abs(lam) >= prn8(rho(seed, STREAM_LEAK, b, t, c, j)))
                    omega = _sgn(vj) if dep.leak_reversal[c, j] else 1
                    vj = min(max(vj + omega * lam, core.v_min), core.v_max)
                    eta = 0
                    if dep.threshold_mask[c, j]:
                        eta = rho(seed, STREAM_THRESHOLD, b, t, c, j) & int(dep.threshold_mask[c, j])
                    alpha = int(dep.threshold[c, j]) + eta
                    beta = int(dep.neg_threshold[c, j])
                    r = int(dep.reset_value[c, j])
                    g = int(dep.reset_mode[c, j])
                    if vj >= alpha:
                        raster[t, c, j, b] = True
                        fields["spk"][b] += 1
                        core_spk[c] += 1
                        active[c] = True
                        vj = r if g == 0 else (vj - alpha if g == 1 else vj)
                        dc = int(dep.dest_core[c, j])
                        if dc >= 0:
                            due = t + int(dep.dest_delay[c, j])
                            pending.setdefault(due, set()).add((dc, int(dep.dest_axon[c, j])))
                            if pl[c, 0] == pl[dc, 0]:
                                fields["hop"][b] += abs(int(pl[c, 1] - pl[dc, 1])) + abs(int(pl[c, 2] - pl[dc, 2]))
                            else:
                                fields["xing"][b] += 1
                                fields["hop"][b] += (abs(int(pl[c, 1] - pl[dc, 1])) + abs(int(pl[c, 2] - pl[dc, 2]))
                                                     + dep.chip.mesh_rows + dep.chip.mesh_cols)
                        for k in out_of.get((c, j), ()):
                            cls[b, k] += 1
                    elif int(dep.floor_mode[c, j]) == 1:
                        if vj < -beta:
                            vj = -beta
                    elif vj < -(beta + eta):
                        vj = -r if g == 0 else (vj + beta + eta if g == 1 else vj)
                    v[c, j] = vj
        fields["act"][b] = int(active.sum())
    ticking = int(np.count_nonzero(dep.enabled.any(axis=1)))
    counts = EventCounts(
        ticks=ticks,
        synaptic_events=fields["syn"],
        spikes=fields["spk"],
        axon_events=fields["axe"],
        hops=fields["hop"],
        chip_crossings=fields["xing"],
        active_cores=fields["act"],
        core_ticks=np.full(b_n, ticking * ticks, np.int64),
        neuron_updates=np.full(b_n, int(dep.enabled.sum()) * ticks, np.int64),
        n_cores=c_n,
        core_spikes=core_spk,
        core_synaptic_events=core_syn,
    )
    return cls, counts, raster
