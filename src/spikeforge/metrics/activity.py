"""Workload activity the metrics are computed from: per-core and per-input event totals.

Two sources:

* :meth:`Activity.from_counts` — the simulator's :class:`~spikeforge.sim.counts.EventCounts` (any regime).
  They hold spikes, crossbar reads (synaptic events) and neuron updates; NeuroBench's *effective* synaptic
  operations (non-zero weight × active input) equal the crossbar reads exactly when every crossbar entry of
  an enabled neuron carries a non-zero weight and no crossbar entry belongs to a disabled neuron (checked);
  NeuroBench's membrane updates (potentials that changed) need the membrane, which counts do not hold.
* :meth:`Activity.replay` — replays the inputs through the core equations (sequential regime: every input on
  a drained network, as :func:`spikeforge.sim.simulate`), counting per tick and core the active axons'
  non-zero effective weights and the membranes that changed. It computes the same spikes as the simulator
  (``tests/metrics`` checks it spike for spike); it exists because the simulator does not expose axon
  activity or membrane potentials.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from spikeforge.data.source import Spikes, input_shape, read_inputs
from spikeforge.deploy.deployment import Deployment
from spikeforge.sim import prng
from spikeforge.sim.counts import EventCounts
from spikeforge.sim.neuron import NeuronTensors, StochasticSynapses, leak_fire_reset
from spikeforge.sim.topology import TopologyError, analyse


@dataclass(frozen=True, eq=False)
class Activity:
    """Event totals of one deployment on a set of inputs.

    Attributes:
        source: ``"counts"`` or ``"replay"``.
        batch: number of inputs (samples).
        ticks: ticks each input was simulated for.
        n_enabled: (C,) enabled neurons per core.
        core_spikes: (C,) spikes per core, summed over inputs.
        spikes: (B,) spikes per input.
        core_synaptic_events: (C,) crossbar reads per core (active axon × set crossbar bit), summed.
        synaptic_events: (B,) crossbar reads per input.
        core_effective_acs: (C,) active axon × non-zero effective weight of an enabled neuron, summed over
            inputs; ``None`` when not derivable.
        effective_acs: (B,) the same per input, or ``None``.
        core_membrane_updates: (C,) membrane potentials that changed in a tick (NeuroBench convention: every
            neuron counts at the first tick), summed over inputs; ``None`` without a replay.
        membrane_updates: (B,) the same per input, or ``None``.
        neuron_updates: (B,) enabled neurons × ticks (the chip updates every enabled neuron every tick).
    """

    source: str
    batch: int
    ticks: int
    n_enabled: np.ndarray
    core_spikes: np.ndarray
    spikes: np.ndarray
    core_synaptic_events: np.ndarray
    synaptic_events: np.ndarray
    core_effective_acs: np.ndarray | None
    effective_acs: np.ndarray | None
    core_membrane_updates: np.ndarray | None
    membrane_updates: np.ndarray | None
    neuron_updates: np.ndarray

    @staticmethod
    def from_counts(dep: Deployment, counts: EventCounts) -> Activity:
        """Activity from the simulator's counters; effective ACs only where they equal crossbar reads."""
        if counts.n_cores != dep.n_cores:
            raise ValueError(f"counts are for {counts.n_cores} cores, the deployment has {dep.n_cores}")
        same = reads_are_effective(dep)
        syn = np.asarray(counts.synaptic_events, np.int64)
        core_syn = np.asarray(counts.core_synaptic_events, np.int64)
        return Activity(
            source="counts",
            batch=counts.batch,
            ticks=int(counts.ticks),
            n_enabled=dep.enabled.sum(axis=1).astype(np.int64),
            core_spikes=np.asarray(counts.core_spikes, np.int64),
            spikes=np.asarray(counts.spikes, np.int64),
            core_synaptic_events=core_syn,
            synaptic_events=syn,
            core_effective_acs=core_syn if same else None,
            effective_acs=syn if same else None,
            core_membrane_updates=None,
            membrane_updates=None,
            neuron_updates=np.asarray(counts.neuron_updates, np.int64),
        )

    @staticmethod
    def replay(
        dep: Deployment,
        spikes: Spikes,
        ticks: int | None = None,
        *,
        batch_size: int = 256,
        raster: bool = False,
    ) -> Activity | tuple[Activity, np.ndarray]:
        """Replay ``spikes`` (B, T, K) — an array or a :class:`~spikeforge.data.source.SpikeSource`, read a
        batch at a time — through ``dep`` for ``ticks`` ticks per input (default: as
        :func:`spikeforge.sim.simulate`, ``max(ticks_per_input, T) + latency``).

        With ``raster=True`` also returns every neuron's spikes (ticks, C, N, B), as the simulator records them.
        """
        shape = tuple(spikes.shape)
        if len(shape) not in (2, 3) or shape[-1] != dep.n_inputs:
            raise ValueError(f"spikes must be (B, T, {dep.n_inputs}), got {shape}")
        total, t_in, _ = input_shape(spikes)
        if ticks is None:
            topo = analyse(dep)
            if not topo.acyclic:
                raise TopologyError("the routing has a cycle: pass ticks= explicitly")
            ticks = max(dep.ticks_per_input, t_in) + topo.latency

        def block(s: int) -> np.ndarray:
            x = np.asarray(read_inputs(spikes, s, min(s + batch_size, total)))
            return x[:, None, :] if x.ndim == 2 else x

        parts = [_replay_batch(dep, block(s), int(ticks), raster, s) for s in range(0, total, batch_size)]
        cat = lambda i: np.concatenate([p[i] for p in parts], axis=-1)  # noqa: E731
        spk, eff, hw, mem = cat(0), cat(1), cat(2), cat(3)  # (C, B)
        act = Activity(
            source="replay",
            batch=int(total),
            ticks=int(ticks),
            n_enabled=dep.enabled.sum(axis=1).astype(np.int64),
            core_spikes=spk.sum(axis=1),
            spikes=spk.sum(axis=0),
            core_synaptic_events=hw.sum(axis=1),
            synaptic_events=hw.sum(axis=0),
            core_effective_acs=eff.sum(axis=1),
            effective_acs=eff.sum(axis=0),
            core_membrane_updates=mem.sum(axis=1),
            membrane_updates=mem.sum(axis=0),
            neuron_updates=np.full(total, int(dep.enabled.sum()) * int(ticks), np.int64),
        )
        if raster:
            return act, np.concatenate([p[4] for p in parts], axis=3)
        return act

    def per_layer(self, groups: dict[str, np.ndarray], name: str) -> dict[str, float | None]:
        """Per-input mean of the core total ``core_<name>`` summed over each layer's cores."""
        arr = getattr(self, f"core_{name}")
        if arr is None:
            return {k: None for k in groups}
        return {k: float(arr[idx].sum()) / max(self.batch, 1) for k, idx in groups.items()}


def reads_are_effective(dep: Deployment) -> bool:
    """True when every set crossbar bit carries a non-zero effective weight into an enabled neuron, so that
    crossbar reads (synaptic events) equal NeuroBench's effective synaptic operations."""
    on = dep.crossbar != 0
    eff = (dep.effective_weights() != 0) & dep.enabled[:, None, :]
    return bool(np.array_equal(on, eff))


def _replay_batch(
    dep: Deployment, x: np.ndarray, ticks: int, want_raster: bool, first: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Replay inputs ``first`` … ``first + len(x) − 1`` (their indices key the stochastic modes' draws)."""
    core = dep.chip.core
    c_n, a_n, n_n = dep.n_cores, core.n_axons, core.n_neurons
    b = x.shape[0]
    cpu = torch.device("cpu")
    en = torch.from_numpy(dep.enabled.astype(bool))[..., None]
    w = np.where(dep.enabled[:, None, :], dep.effective_weights(), 0)
    # stochastic synapses are drawn per event (spikeforge.sim.neuron), the rest is one product
    seed = int(dep.prng_seed)
    w_det = w
    stoch_cores: list[tuple[int, StochasticSynapses]] = []
    if np.any(dep.stochastic_synapse[dep.enabled.astype(bool)]):
        cores = np.arange(c_n)[:, None]
        types = dep.axon_type.astype(np.intp)
        sto = dep.stochastic_synapse.astype(bool)[cores, :, types] & (dep.crossbar != 0) & dep.enabled[:, None, :]
        w_det = np.where(sto, 0, w)
        stoch_cores = [(int(c), StochasticSynapses(dep, int(c), seed, cpu))
                       for c in np.flatnonzero(sto.any(axis=(1, 2)))]
    w_t = torch.from_numpy(np.ascontiguousarray(w_det.transpose(0, 2, 1)).astype(np.float64))
    neuron_idx = torch.arange(n_n)
    p = NeuronTensors.of(dep, (c_n, n_n, 1), torch.float64, cpu)
    sites_c = torch.arange(c_n)[:, None, None]
    site_n = neuron_idx[None, :, None]
    leak_site = prng.site_key(seed, prng.STREAM_LEAK, sites_c, site_n) if p.any_stochastic_leak else None
    thr_site = prng.site_key(seed, prng.STREAM_THRESHOLD, sites_c, site_n) if p.any_mask else None
    inputs = torch.arange(first, first + b)
    eff_fan = torch.from_numpy(np.count_nonzero(w, axis=2).astype(np.float64))
    hw_fan = torch.from_numpy(np.count_nonzero(dep.crossbar, axis=2).astype(np.float64))
    v0 = torch.from_numpy(np.ascontiguousarray(dep.v_init).astype(np.float64))[..., None]
    routed = (dep.enabled & (dep.dest_core >= 0)).reshape(-1)
    src = np.flatnonzero(routed)
    dst = dep.dest_core.reshape(-1)[src].astype(np.int64) * a_n + dep.dest_axon.reshape(-1)[src]
    dly = dep.dest_delay.reshape(-1)[src]
    ring = int(dly.max(initial=1)) + 1
    routes = [(int(d), torch.from_numpy(src[dly == d]), torch.from_numpy(dst[dly == d])) for d in np.unique(dly)]
    in_dst = torch.from_numpy(dep.input_core.astype(np.int64) * a_n + dep.input_axon)
    in_ch = torch.from_numpy(dep.input_channel.astype(np.int64))
    xt = torch.from_numpy(x.astype(np.float64))  # (b, T, K)
    buf = torch.zeros((ring, c_n * a_n, b), dtype=torch.float64)
    v = v0.expand(c_n, n_n, b).clone()
    spk = torch.zeros((c_n, b), dtype=torch.float64)
    eff = torch.zeros_like(spk)
    hw = torch.zeros_like(spk)
    mem = torch.zeros_like(spk)
    raster = np.zeros((ticks, c_n, n_n, b), bool) if want_raster else np.zeros((0, c_n, n_n, b), bool)
    n_en = en[..., 0].sum(dim=1, dtype=torch.float64)[:, None]
    with torch.no_grad():
        for t in range(ticks):
            ax = buf[t % ring]
            if t < xt.shape[1] and len(in_dst):
                ax.index_add_(0, in_dst, xt[:, t, :].T.index_select(0, in_ch))
            ax.clamp_(max=1)
            axc = ax.view(c_n, a_n, b)
            eff += torch.einsum("ca,cab->cb", eff_fan, axc)
            hw += torch.einsum("ca,cab->cb", hw_fan, axc)
            old = v.clone()
            v = v + torch.bmm(w_t, axc)
            when = prng.time_key(inputs, t)  # (b,)
            for sc, syn in stoch_cores:
                v[sc] += syn.drive(axc[sc].T, when).T
            fire = leak_fire_reset(
                v, p, core.v_min, core.v_max,
                leak_draw=prng.draw(leak_site, when[None, None, :]) if leak_site is not None else None,
                threshold_draw=prng.draw(thr_site, when[None, None, :]) if thr_site is not None else None,
            ) & en
            v = torch.where(en, v, v0)
            mem += n_en.expand(c_n, b) if t == 0 else ((v != old) & en).sum(dim=1, dtype=torch.float64)
            spk += fire.sum(dim=1, dtype=torch.float64)
            if want_raster:
                raster[t] = fire.numpy()
            ax.zero_()
            flat = fire.to(torch.float64).view(c_n * n_n, b)
            for d, s_idx, d_idx in routes:
                buf[(t + d) % ring].index_add_(0, d_idx, flat.index_select(0, s_idx))
    to = lambda a: a.round().to(torch.int64).numpy()  # noqa: E731
    return to(spk), to(eff), to(hw), to(mem), raster
