"""The fast tick simulator.

Computes, bit for bit, the TrueNorth-class core semantics stated in :mod:`spikeforge.sim.reference`, for a
whole batch of inputs at once. Per tick, with state laid out (core, neuron, batch):

1. axon drive A(t) ∈ {0,1}^(C×A×B): input-map deliveries at t plus routed spikes due at t (merged by OR);
2. integrate: V ← sat(V + W_effᵀ · A(t)) with W_eff[c,i,j] = w_ij · s_j[G_i] — one batched matrix product
   over cores (``torch.bmm``), exact in float32 while Σ|W_eff| per neuron < 2^24 and in float64 otherwise;
3. leak: V ← sat(V + λ);
4. fire where V ≥ α and reset by γ; else floor at −β by κ;
5. spikes are scattered (``index_add_``) into a ring buffer of axon drives at t + delay.

Counters (synaptic events, spikes, axon events, hops, chip crossings, active cores) are accumulated per core
and per batch element as the ticks run. Runs on CUDA when available and ``device="auto"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from spikeforge.deploy.deployment import Deployment
from spikeforge.sim.counts import EventCounts
from spikeforge.sim.topology import TopologyError, analyse


@dataclass
class SimResult:
    """Outcome of simulating a batch.

    Attributes:
        class_counts: (B, n_classes) int64 spikes of each class's output neurons per input.
        counts: per-input :class:`EventCounts`.
        ticks: ticks simulated in total (sequential: per input; pipelined: for the whole stream).
        latency: input→output latency in ticks from :func:`spikeforge.sim.topology.analyse`.
        output_spikes: (B, ticks, M) uint8 output-neuron raster, when recorded (sequential mode).
        spikes: (ticks, C, N, B) bool raster of every neuron, when ``record_spikes`` (sequential mode).
    """

    class_counts: np.ndarray
    counts: EventCounts
    ticks: int
    latency: int
    output_spikes: np.ndarray | None = None
    spikes: np.ndarray | None = None

    def predictions(self) -> np.ndarray:
        """Predicted class per input: argmax of class counts (ties → lowest class index)."""
        return np.argmax(self.class_counts, axis=1)

    def accuracy(self, labels: np.ndarray) -> float:
        """Fraction of inputs whose prediction equals ``labels``."""
        labels = np.asarray(labels)
        if labels.shape != (self.class_counts.shape[0],):
            raise ValueError(f"labels shape {labels.shape} does not match batch {self.class_counts.shape[0]}")
        return float(np.mean(self.predictions() == labels))


def _device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class CompiledDeployment:
    """A deployment turned into device tensors once, then simulated many times."""

    def __init__(self, dep: Deployment, device: str | torch.device = "auto") -> None:
        dep.validate()
        self.dep = dep
        self.device = dev = _device(device)
        core = dep.chip.core
        c, a, n = dep.n_cores, core.n_axons, core.n_neurons
        self.C, self.A, self.N = c, a, n
        w_eff = dep.effective_weights()  # (C, A, N) int32
        w_eff = np.where(dep.enabled[:, None, :], w_eff, 0)
        bound = int(np.abs(w_eff).sum(axis=1).max()) if w_eff.size else 0
        bound += int(np.abs(dep.leak).max(initial=0)) + 2 ** core.membrane_bits
        self.fdtype = torch.float32 if bound < 2**24 else torch.float64
        self.w_t = torch.from_numpy(np.ascontiguousarray(w_eff.transpose(0, 2, 1))).to(dev, self.fdtype)
        self.fanout = torch.from_numpy(np.count_nonzero(dep.crossbar, axis=2).astype(np.float64)).to(dev)
        en = dep.enabled
        t64 = lambda x: torch.from_numpy(np.ascontiguousarray(x).astype(np.int64)).to(dev)[..., None]  # noqa: E731
        self.enabled = torch.from_numpy(en).to(dev)[..., None]
        self.leak = t64(np.where(en, dep.leak, 0))
        self.alpha = t64(dep.threshold)
        self.beta = t64(dep.neg_threshold)
        self.gamma = t64(dep.reset_mode)
        self.reset = t64(dep.reset_value)
        self.kappa = t64(dep.floor_mode)
        self.v0 = t64(dep.v_init)
        self.vmin, self.vmax = core.v_min, core.v_max
        self.has_leak = bool(np.any(dep.leak[en]))
        # routing, grouped by delay
        routed = (en & (dep.dest_core >= 0)).reshape(-1)
        src = np.flatnonzero(routed)
        dcore = dep.dest_core.reshape(-1)[src]
        dst = dcore * a + dep.dest_axon.reshape(-1)[src]
        dly = dep.dest_delay.reshape(-1)[src]
        self.max_delay = int(dly.max()) if dly.size else 1
        self.routes = []
        for d in np.unique(dly):
            m = dly == d
            self.routes.append((int(d), torch.from_numpy(src[m]).to(dev), torch.from_numpy(dst[m]).to(dev)))
        # hops: Manhattan distance on the mesh, chip crossings add a full mesh traversal
        pl = dep.placement.astype(np.int64)
        scores = np.repeat(np.arange(c), n)[src]
        same_chip = pl[scores, 0] == pl[dcore, 0]
        hops = np.abs(pl[scores, 1] - pl[dcore, 1]) + np.abs(pl[scores, 2] - pl[dcore, 2])
        hops = hops + np.where(same_chip, 0, dep.chip.mesh_rows + dep.chip.mesh_cols)
        hop_w = np.zeros(c * n)
        hop_w[src] = hops
        xing_w = np.zeros(c * n)
        xing_w[src] = ~same_chip
        self.hop_w = torch.from_numpy(hop_w.reshape(c, n)).to(dev)
        self.xing_w = torch.from_numpy(xing_w.reshape(c, n)).to(dev)
        # input map
        self.in_ch = torch.from_numpy(dep.input_channel.astype(np.int64)).to(dev)
        self.in_dst = torch.from_numpy(dep.input_core.astype(np.int64) * a + dep.input_axon).to(dev)
        # output map → class scatter
        self.out_flat = torch.from_numpy(dep.output_core.astype(np.int64) * n + dep.output_neuron).to(dev)
        self.out_cls = torch.from_numpy(dep.output_class.astype(np.int64)).to(dev)
        self.ticking_cores = int(np.count_nonzero(en.any(axis=1)))
        self.n_enabled = int(en.sum())
        self.topology = analyse(dep)

    # ------------------------------------------------------------------ the tick loop
    def run(
        self,
        drive: torch.Tensor,
        n_ticks: int,
        *,
        input_tick_stride: int = 0,
        record_outputs: bool = False,
        record_spikes: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Run ``n_ticks`` ticks. ``drive`` is (T_in, K, B) uint8 input-channel spikes (K = n_inputs);
        channel spikes of row t are delivered at tick t. Returns per-tick per-core counters."""
        dev, C, A, N = self.device, self.C, self.A, self.N
        t_in, _, b = drive.shape
        L = self.max_delay + 1
        buf = torch.zeros((L, C * A, b), dtype=self.fdtype, device=dev)
        v = self.v0.expand(C, N, b).clone()
        out: dict[str, torch.Tensor] = {
            "syn": torch.zeros((n_ticks, C, b), dtype=torch.float64, device=dev),
            "spk": torch.zeros((n_ticks, C, b), dtype=torch.float64, device=dev),
            "axe": torch.zeros((n_ticks, C, b), dtype=torch.float64, device=dev),
            "hop": torch.zeros((n_ticks, C, b), dtype=torch.float64, device=dev),
            "xing": torch.zeros((n_ticks, C, b), dtype=torch.float64, device=dev),
            "cls": torch.zeros((n_ticks, int(self.out_cls.max().item()) + 1 if len(self.out_cls) else 1, b),
                               dtype=torch.float64, device=dev),
        }
        if record_outputs:
            out["outs"] = torch.zeros((n_ticks, len(self.out_flat), b), dtype=torch.uint8, device=dev)
        if record_spikes:
            out["raster"] = torch.zeros((n_ticks, C, N, b), dtype=torch.bool, device=dev)
        for t in range(n_ticks):
            slot = t % L
            ax = buf[slot]
            if t < t_in and len(self.in_dst):
                ax.index_add_(0, self.in_dst, drive[t].to(self.fdtype).index_select(0, self.in_ch))
            ax.clamp_(max=1)
            axc = ax.view(C, A, b)
            out["axe"][t] = axc.sum(dim=1, dtype=torch.float64)
            out["syn"][t] = torch.einsum("ca,cab->cb", self.fanout, axc.to(torch.float64))
            cur = torch.bmm(self.w_t, axc).to(torch.int64)
            v = (v + cur).clamp_(self.vmin, self.vmax)
            if self.has_leak:
                v = (v + self.leak).clamp_(self.vmin, self.vmax)
            fire = (v >= self.alpha) & self.enabled
            v = torch.where(
                fire,
                torch.where(self.gamma == 0, self.reset, torch.where(self.gamma == 1, v - self.alpha, v)),
                v,
            )
            low = ~fire & (v < -self.beta)
            v = torch.where(low, torch.where(self.kappa == 1, -self.beta, -self.reset), v)
            v = torch.where(self.enabled, v, self.v0)
            ax.zero_()
            f = fire.to(self.fdtype)
            out["spk"][t] = fire.sum(dim=1, dtype=torch.float64)
            f64 = fire.to(torch.float64)
            out["hop"][t] = (f64 * self.hop_w[..., None]).sum(dim=1)
            out["xing"][t] = (f64 * self.xing_w[..., None]).sum(dim=1)
            flat = f.view(C * N, b)
            for d, src, dst in self.routes:
                buf[(t + d) % L].index_add_(0, dst, flat.index_select(0, src))
            if len(self.out_flat):
                o = flat.index_select(0, self.out_flat)
                out["cls"][t].index_add_(0, self.out_cls, o.to(torch.float64))
                if record_outputs:
                    out["outs"][t] = o.to(torch.uint8)
            if record_spikes:
                out["raster"][t] = fire
        return out


def _to_drive(spikes: np.ndarray | torch.Tensor, n_inputs: int, device: torch.device) -> torch.Tensor:
    if isinstance(spikes, np.ndarray) and not spikes.flags.writeable:
        spikes = spikes.copy()
    x = torch.as_tensor(spikes)
    if x.ndim == 2:  # (B, K): one tick
        x = x[:, None, :]
    if x.ndim != 3:
        raise ValueError(f"input spikes must have shape (batch, ticks, channels), got {tuple(x.shape)}")
    if x.shape[2] != n_inputs:
        raise ValueError(f"input spikes have {x.shape[2]} channels, the deployment's input map expects {n_inputs}")
    if x.dtype.is_floating_point and not bool(torch.isfinite(x).all()):
        raise ValueError("input spikes contain NaN or infinity")
    if bool(((x != 0) & (x != 1)).any()):
        raise ValueError("input spikes must be 0 or 1")
    return x.to(device=device, dtype=torch.uint8).permute(1, 2, 0).contiguous()  # (T, K, B)


def _counts(out: dict[str, torch.Tensor], sim: CompiledDeployment, ticks: int) -> EventCounts:
    get = lambda k: out[k].sum(dim=(0, 1)).round().to(torch.int64).cpu().numpy()  # noqa: E731
    active = ((out["axe"] + out["spk"]).sum(dim=0) > 0).sum(dim=0).cpu().numpy().astype(np.int64)
    b = out["spk"].shape[2]
    return EventCounts(
        ticks=ticks,
        synaptic_events=get("syn"),
        spikes=get("spk"),
        axon_events=get("axe"),
        hops=get("hop"),
        chip_crossings=get("xing"),
        active_cores=active,
        core_ticks=np.full(b, sim.ticking_cores * ticks, np.int64),
        neuron_updates=np.full(b, sim.n_enabled * ticks, np.int64),
        n_cores=sim.C,
        core_spikes=out["spk"].sum(dim=(0, 2)).round().to(torch.int64).cpu().numpy(),
        core_synaptic_events=out["syn"].sum(dim=(0, 2)).round().to(torch.int64).cpu().numpy(),
    )


def simulate(
    dep: Deployment | CompiledDeployment,
    spikes: np.ndarray | torch.Tensor,
    *,
    ticks: int | None = None,
    batch_size: int = 1024,
    device: str | torch.device = "auto",
    record_outputs: bool = False,
    record_spikes: bool = False,
    progress: bool = False,
) -> SimResult:
    """Simulate each input on a fresh network (state reset to V0, no spikes in flight): *sequential* mode.

    Args:
        dep: the deployment (or one compiled with :class:`CompiledDeployment` to reuse across calls).
        spikes: (B, T_in, K) binary input-channel spikes (T_in ≤ ticks; a 2-D (B, K) array is one tick).
        ticks: ticks per input; default ``ticks_per_input + latency`` (the network drains fully when its
            routing is acyclic; pass it explicitly for recurrent deployments).
        batch_size: inputs simulated together.
        record_outputs: keep the output-neuron raster (B, ticks, M).
        record_spikes: keep every neuron's spikes (ticks, C, N, B) — for tests and small networks.
        progress: show a progress bar over batches.
    """
    sim = dep if isinstance(dep, CompiledDeployment) else CompiledDeployment(dep, device)
    d = sim.dep
    drive_all = _to_drive(spikes, d.n_inputs, torch.device("cpu"))
    if ticks is None:
        if not sim.topology.acyclic:
            raise TopologyError("the routing has a cycle: pass ticks= explicitly for a recurrent deployment")
        ticks = max(d.ticks_per_input, drive_all.shape[0]) + sim.topology.latency
    if ticks < 1:
        raise ValueError(f"ticks must be >= 1, got {ticks}")
    total = drive_all.shape[2]
    parts: list[EventCounts] = []
    cls_parts, outs_parts, raster_parts = [], [], []
    starts = range(0, total, batch_size)
    iterator: Iterable[int] = starts
    if progress:
        from spikeforge.progress import track

        iterator = track(starts, description="simulating", total=len(starts))
    with torch.no_grad():
        for s in iterator:
            drive = drive_all[:, :, s : s + batch_size].to(sim.device)
            out = sim.run(drive, ticks, record_outputs=record_outputs, record_spikes=record_spikes)
            parts.append(_counts(out, sim, ticks))
            cls_parts.append(out["cls"].sum(dim=0).round().to(torch.int64).T.cpu().numpy())
            if record_outputs:
                outs_parts.append(out["outs"].permute(2, 0, 1).cpu().numpy())
            if record_spikes:
                raster_parts.append(out["raster"].cpu().numpy())
    cls = np.concatenate(cls_parts) if cls_parts else np.zeros((0, d.n_classes), np.int64)
    if cls.shape[1] < d.n_classes:
        cls = np.pad(cls, ((0, 0), (0, d.n_classes - cls.shape[1])))
    return SimResult(
        class_counts=cls,
        counts=EventCounts.concat(parts) if parts else _empty_counts(sim, ticks),
        ticks=ticks,
        latency=max(sim.topology.latency, 0),
        output_spikes=np.concatenate(outs_parts) if record_outputs and outs_parts else None,
        spikes=np.concatenate(raster_parts, axis=3) if record_spikes and raster_parts else None,
    )


def _empty_counts(sim: CompiledDeployment, ticks: int) -> EventCounts:
    z = np.zeros(0, np.int64)
    return EventCounts(ticks, z, z, z, z, z, z, z, z, sim.C, np.zeros(sim.C, np.int64), np.zeros(sim.C, np.int64))


def simulate_pipelined(
    dep: Deployment | CompiledDeployment,
    spikes: np.ndarray | torch.Tensor,
    *,
    lanes: int = 64,
    device: str | torch.device = "auto",
    progress: bool = False,
) -> SimResult:
    """Stream inputs through the chip without draining: input n of a lane occupies ticks
    [n·T, (n+1)·T) (T = ticks_per_input) and the network's state carries over, as on hardware.

    Requires a layer-synchronous deployment (every core at one depth, see :mod:`spikeforge.sim.topology`),
    so that activity at core c and tick t belongs to input ⌊(t − depth_c) / T⌋; class counts and event
    counters are attributed that way. ``lanes`` independent streams are simulated side by side (batch).
    """
    sim = dep if isinstance(dep, CompiledDeployment) else CompiledDeployment(dep, device)
    d, topo = sim.dep, sim.topology
    if not topo.acyclic or not topo.synchronous:
        raise TopologyError(
            "pipelined mode needs a layer-synchronous, acyclic deployment; cores reached at several depths: "
            f"{list(topo.conflicts)[:20]}"
        )
    drive_all = _to_drive(spikes, d.n_inputs, torch.device("cpu"))  # (T_in, K, B)
    T = d.ticks_per_input
    if drive_all.shape[0] > T:
        raise ValueError(f"each input has {drive_all.shape[0]} ticks but ticks_per_input is {T}")
    if drive_all.shape[0] < T:
        drive_all = torch.nn.functional.pad(drive_all, (0, 0, 0, 0, 0, T - drive_all.shape[0]))
    total = drive_all.shape[2]
    lanes = max(1, min(lanes, total))
    per_lane = -(-total // lanes)
    pad = per_lane * lanes - total
    x = torch.nn.functional.pad(drive_all, (0, pad))  # (T, K, lanes*per_lane)
    # input index i = lane * per_lane + n ; stream n occupies ticks n*T .. n*T+T-1
    x = x.view(T, -1, lanes, per_lane).permute(3, 0, 1, 2).reshape(per_lane * T, -1, lanes)
    depth = np.where(topo.depth >= 0, topo.depth, 0)
    n_ticks = per_lane * T + topo.latency
    with torch.no_grad():
        out = sim.run(x.to(sim.device), n_ticks)
    # attribute (tick, core) activity to stream positions
    ticks_idx = np.arange(n_ticks)[:, None] - depth[None, :]  # (ticks, C)
    pos = np.floor_divide(ticks_idx, T)
    valid = (ticks_idx >= 0) & (pos < per_lane)
    pos_t = torch.from_numpy(np.where(valid, pos, 0)).to(sim.device)
    valid_t = torch.from_numpy(valid).to(sim.device)

    def attribute(key: str) -> np.ndarray:
        v = out[key] * valid_t[..., None]  # (ticks, C, lanes)
        acc = torch.zeros((per_lane, lanes), dtype=torch.float64, device=sim.device)
        acc.index_add_(0, pos_t.reshape(-1), v.reshape(-1, lanes))
        flat = acc.T.reshape(-1)[:total]  # input order lane-major
        return flat.round().to(torch.int64).cpu().numpy()

    # class counts: output neurons' cores give their depth
    out_depth = depth[d.output_core] if len(d.output_core) else np.zeros(0, np.int64)
    cls = np.zeros((total, d.n_classes), np.int64)
    if len(out_depth):
        lat_by_class = {}
        for k in range(d.n_classes):
            ds = np.unique(out_depth[d.output_class == k])
            if len(ds) > 1:
                raise TopologyError(f"class {k}'s output neurons sit at different depths {ds.tolist()}")
            lat_by_class[k] = int(ds[0]) if len(ds) else 0
        cl = out["cls"]  # (ticks, classes, lanes)
        for k, lat in lat_by_class.items():
            if k >= cl.shape[1]:
                continue
            seq = cl[lat : lat + per_lane * T, k, :].reshape(per_lane, T, lanes).sum(dim=1)  # (per_lane, lanes)
            cls[:, k] = seq.T.reshape(-1)[:total].round().to(torch.int64).cpu().numpy()
    core_active = ((out["axe"] + out["spk"]) > 0).to(torch.float64)
    out["act"] = core_active
    counts = EventCounts(
        ticks=T,
        synaptic_events=attribute("syn"),
        spikes=attribute("spk"),
        axon_events=attribute("axe"),
        hops=attribute("hop"),
        chip_crossings=attribute("xing"),
        active_cores=_active_per_input(out["act"], pos_t, valid_t, per_lane, lanes, total, sim.device),
        core_ticks=np.full(total, sim.ticking_cores * T, np.int64),
        neuron_updates=np.full(total, sim.n_enabled * T, np.int64),
        n_cores=sim.C,
        core_spikes=out["spk"].sum(dim=(0, 2)).round().to(torch.int64).cpu().numpy(),
        core_synaptic_events=out["syn"].sum(dim=(0, 2)).round().to(torch.int64).cpu().numpy(),
    )
    return SimResult(class_counts=cls, counts=counts, ticks=n_ticks, latency=topo.latency)


def _active_per_input(
    act: torch.Tensor, pos_t: torch.Tensor, valid_t: torch.Tensor, per_lane: int, lanes: int, total: int,
    device: torch.device,
) -> np.ndarray:
    """Cores active for each input: a core counts once per input if active in any of its ticks."""
    c = act.shape[1]
    acc = torch.zeros((per_lane, c, lanes), dtype=torch.float64, device=device)
    idx = pos_t  # (ticks, C)
    v = act * valid_t[..., None]
    for core in range(c):
        acc[:, core, :].index_add_(0, idx[:, core], v[:, core, :])
    n_active = (acc > 0).sum(dim=1)  # (per_lane, lanes)
    return n_active.T.reshape(-1)[:total].to(torch.int64).cpu().numpy()
