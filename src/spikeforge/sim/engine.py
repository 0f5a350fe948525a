"""The fast tick simulator.

Computes, bit for bit, the TrueNorth-class core semantics stated in :mod:`spikeforge.sim.reference`, for a
whole batch of inputs at once. Axon drives, membrane state and spikes are held core-major — (C, B, A) and
(C, B, N) — so that the crossbar product is one contiguous batched matrix product. Per tick:

1. axon drive A(t) ∈ {0,1}: input-map deliveries at t plus routed spikes due at t (merged by OR; clamped
   only when some axon has more than one possible source);
2. integrate: V ← sat(V + A(t) · W_eff) with W_eff[c,i,j] = w_ij · s_j[G_i] — one batched matrix product
   over cores (``torch.bmm``) in the cheapest float format that is exact for the deployment: bfloat16 when
   every Σ_i |W_eff[i,j]| ≤ 256 (e.g. binary/ternary weights on 256 axons) and the device multiplies
   bfloat16 fast, float32 below 2^24, float64 otherwise (see :class:`CompiledDeployment`). Extra columns
   of the same product count axon events and synaptic events. Cores that use only their leading axons
   (those any input or route can reach) and leading neurons (the enabled ones) are multiplied over just
   those, in runs of consecutive cores of similar size (:func:`_segments`) — e.g. 4.5x faster on a
   LeNet converted for the Loihi-like preset, whose 4096 x 1024 cores are mostly partly used;
3. leak: V ← sat(V + λ);
4. fire where V ≥ α; the others floor at −β by κ; the fired ones reset by γ;
5. spikes go into a ring buffer of axon drives at t + delay (slice copies for runs of consecutive neurons
   wired to consecutive axons, scatter otherwise).

TrueNorth's stochastic modes and leak reversal (Cassidy et al. 2013): stochastic synapses leave the product
and each active one is drawn per synaptic event (:class:`~spikeforge.sim.neuron.StochasticSynapses`); a
deployment with leak reversal, a stochastic leak or threshold, or κ = 0 with γ ≠ 0 replaces steps 3-5 by the
general neuron step (:func:`~spikeforge.sim.neuron.leak_fire_reset`). Draws come from
:mod:`spikeforge.sim.prng`, keyed by input and tick, so they do not depend on batching or regime.

The membrane is held in float32 (float64 when |V| could pass 2^24), where integer arithmetic is exact; the
saturation and floor steps are skipped in ticks where a running bound on |V| proves they cannot act. Every
per-tick buffer is allocated once. Spikes, hops, chip crossings and class votes are counted by one small
batched product of the spikes with per-neuron count vectors.
Runs on CUDA when available and ``device="auto"``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from spikeforge.data.source import Spikes, as_spikes, input_shape, read_inputs
from spikeforge.deploy.deployment import Deployment
from spikeforge.devices import resolve_device
from spikeforge.sim import prng
from spikeforge.sim.counts import EventCounts
from spikeforge.sim.neuron import NeuronTensors, StochasticSynapses, leak_fire_reset
from spikeforge.sim.topology import TopologyError, analyse


@dataclass(eq=False)
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

    def __repr__(self) -> str:
        rasters = [f"{k}={tuple(v.shape)}" for k, v in (("output_spikes", self.output_spikes),
                                                          ("spikes", self.spikes)) if v is not None]
        return (f"SimResult(batch={len(self.class_counts)}, classes={self.class_counts.shape[1]}, ticks={self.ticks}, "
                f"latency={self.latency}{''.join(', ' + r for r in rasters)}, counts={self.counts!r})")

    def predictions(self) -> np.ndarray:
        """Predicted class per input: argmax of class counts (ties → lowest class index)."""
        return np.argmax(self.class_counts, axis=1)

    def accuracy(self, labels: np.ndarray) -> float:
        """Fraction of inputs whose prediction equals ``labels``."""
        labels = np.asarray(labels)
        if labels.shape != (self.class_counts.shape[0],):
            raise ValueError(f"labels shape {labels.shape} does not match batch {self.class_counts.shape[0]}")
        n_classes = self.class_counts.shape[1]
        if labels.size and (labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= n_classes):
            lo, hi = (labels.min(), labels.max()) if labels.dtype.kind in "iuf" else ("?", "?")
            raise ValueError(f"labels must be integers in [0, {n_classes}) (the deployment's classes), got "
                             f"{labels.dtype} values in [{lo}, {hi}]")
        return float(np.mean(self.predictions() == labels))

    @staticmethod
    def concat(parts: list[SimResult], *, pipelined: bool) -> SimResult:
        """Join the results of consecutive blocks of inputs simulated one after another (in the same regime).
        Per-input arrays are concatenated; ``ticks`` is the per-input window of a sequential run and the sum of
        the blocks' streams for pipelined ones (each block is a stream of its own that drains at its end)."""
        if not parts:
            raise ValueError("SimResult.concat needs at least one part")

        def cat(name: str, axis: int = 0) -> np.ndarray | None:
            arrays = [getattr(p, name) for p in parts]
            if any(a is None for a in arrays):
                return None
            return np.concatenate(arrays, axis=axis)

        return SimResult(
            class_counts=np.concatenate([p.class_counts for p in parts]),
            counts=EventCounts.concat([p.counts for p in parts]),
            ticks=sum(p.ticks for p in parts) if pipelined else parts[0].ticks,
            latency=parts[0].latency,
            output_spikes=cat("output_spikes"),
            spikes=cat("spikes", axis=3),
        )


#: largest integer magnitude up to which every integer is exact in each float format
_EXACT_INT = {torch.bfloat16: 2**8, torch.float16: 2**11, torch.float32: 2**24, torch.float64: 2**53}
_BF16_FAST: dict[str, bool] = {}


def _bf16_is_fast(device: torch.device) -> bool:
    """Whether a bfloat16 batched matrix product beats float32 by 2x here (measured once per device type).
    CUDA: always; CPU: only with native bfloat16 matrix units (AVX512-BF16 / AMX), else emulation is slower."""
    if device.type not in _BF16_FAST:
        fast = device.type == "cuda"
        if device.type == "cpu":
            try:
                if torch.ops.mkldnn._is_mkldnn_bf16_supported():
                    x = torch.ones((8, 256, 256))

                    def best(dt: torch.dtype) -> float:
                        a, o = x.to(dt), torch.empty((8, 256, 256), dtype=dt)
                        times = []
                        for _ in range(4):
                            t0 = time.perf_counter()
                            torch.bmm(a, a, out=o)
                            times.append(time.perf_counter() - t0)
                        return min(times[1:])

                    fast = best(torch.bfloat16) < 0.5 * best(torch.float32)
            except (RuntimeError, AttributeError):
                fast = False
        _BF16_FAST[device.type] = fast
    return _BF16_FAST[device.type]


_device = resolve_device


class CompiledDeployment:
    """A deployment turned into device tensors once, then simulated many times."""

    def __init__(
        self, dep: Deployment, device: str | torch.device = "auto", *, matmul_dtype: torch.dtype | None = None,
        check_rules: bool = True,
    ) -> None:
        """Compile ``dep`` for ``device``. ``matmul_dtype`` forces the dtype of the crossbar product (default:
        the fastest exact one — bfloat16 when every |Σ_i W_ij| ≤ 256 and bfloat16 is fast here, else float32
        below 2^24, else float64); a dtype that could round raises ``ValueError``.

        The deployment is validated and, unless ``check_rules=False``, checked against its chip's design rules
        (:func:`spikeforge.hardware.check` raises :class:`~spikeforge.hardware.DesignRuleError` naming every
        violation): the simulator models the chip, and a deployment the chip cannot hold (an axon type or a
        destination out of range, a delay of 0 ticks, ...) has no defined behaviour on it. ``check_rules=False``
        simulates such a deployment anyway, for experiments beyond the chip's limits, as long as every
        reference it follows is in range (:func:`spikeforge.hardware.rules.check_simulable`)."""
        from spikeforge.deploy.deployment import require_deployment
        from spikeforge.hardware.rules import check, check_simulable

        require_deployment(dep, "simulate")

        dep.validate()
        if dep.n_cores == 0:
            raise ValueError("the deployment has no cores: there is nothing to simulate")
        (check if check_rules else check_simulable)(dep)
        self.dep = dep
        self.device = dev = _device(device)
        core = dep.chip.core
        c, a, n = dep.n_cores, core.n_axons, core.n_neurons
        self.C, self.A, self.N = c, a, n
        en = dep.enabled
        w_eff = dep.effective_weights()  # (C, A, N) int32, a fresh array
        w_eff *= en[:, None, :]  # disabled neurons receive nothing
        w_abs = np.abs(w_eff)
        # Exactness bounds (integers are exact in a float format up to 2^(mantissa bits + 1)):
        # |Σ_i A_i W_ij| ≤ drive_bound, and every value the membrane takes or is compared with ≤ state_bound.
        # (A stochastic synapse or leak adds at most 1 ≤ |s|, |λ|, so the bounds hold for them too.)
        self.drive_bound = drive_bound = int(w_abs.sum(axis=1, dtype=np.int64).max(initial=0))
        self.leak_bound = leak_bound = int(np.abs(dep.leak[en]).max(initial=0))
        amax = lambda x: int(np.abs(x[en]).astype(np.int64).max(initial=0))  # noqa: E731
        mask_bound = amax(dep.threshold_mask)
        v_start = max(2 ** (core.membrane_bits - 1), amax(dep.neg_threshold) + mask_bound, amax(dep.reset_value),
                      amax(dep.v_init))
        state_bound = max(v_start + drive_bound + leak_bound, amax(dep.threshold) + mask_bound)
        self._init_stochastic(dep, w_eff)  # takes stochastic synapses out of the deterministic product
        if state_bound >= _EXACT_INT[torch.float64]:
            raise ValueError(
                f"weights/parameters too large for exact simulation (|V| can reach {state_bound} >= 2^53)"
            )
        self.sdtype = sd = torch.float32 if state_bound < _EXACT_INT[torch.float32] else torch.float64
        # The crossbar product also counts axon events and synaptic events: W is extended by a column of ones
        # and the synapses-per-axon (fan-out) column — split into bit columns in bfloat16, so that every
        # column's sum stays ≤ 256 and exact.
        fanout = np.count_nonzero(dep.crossbar, axis=2).astype(np.int64)  # (C, A) synapses per axon
        fbits = max(1, int(fanout.max(initial=0)).bit_length())

        def exact(dt: torch.dtype) -> bool:
            cols = max(drive_bound, a) if dt == torch.bfloat16 else max(drive_bound, a * max(n, 1))
            return cols <= _EXACT_INT[dt]

        if matmul_dtype is None:
            if exact(torch.bfloat16) and _bf16_is_fast(dev):
                matmul_dtype = torch.bfloat16
            else:
                matmul_dtype = torch.float32 if exact(torch.float32) else torch.float64
        elif not exact(matmul_dtype):
            raise ValueError(f"matmul_dtype {matmul_dtype} is not exact for input sums up to {drive_bound} "
                             f"on {a} axons")
        self.fdtype = md = matmul_dtype
        if md == torch.bfloat16:
            extra = [np.ones_like(fanout)] + [(fanout >> k) & 1 for k in range(fbits)]
            coef = np.zeros((1 + fbits, 2))
            coef[0, 0], coef[1:, 1] = 1, 2.0 ** np.arange(fbits)
        else:
            extra, coef = [np.ones_like(fanout), fanout], np.eye(2)
        self.n_extra = len(extra)
        w_extra = np.stack(extra, axis=2).astype(np.int32)  # (C, A, extra): the counting columns
        self.w_absmax = max(int(w_abs.max(initial=0)), int(w_extra.max(initial=0)))
        del w_abs
        self.stat_coef = torch.from_numpy(coef).to(dev)  # extra columns → (axon events, synaptic events), float64

        def col(x: np.ndarray, fill: float = 0) -> torch.Tensor:
            """Per-neuron parameter as a (C, 1, N) state-dtype tensor; ``fill`` for disabled neurons."""
            return torch.from_numpy(np.asarray(np.where(en, x, fill), np.float64)).to(dev, sd)[:, None, :]

        self.leak = col(dep.leak)
        self.alpha = col(dep.threshold, np.inf)  # a disabled neuron never reaches +inf
        self.neg_beta = col(-dep.neg_threshold.astype(np.int64))
        self.v0 = col(dep.v_init)
        g, k = dep.reset_mode, dep.floor_mode
        r = dep.reset_value.astype(np.int64)
        # reset as V ← V + fire · (am1 · V + c):  γ=0 → R;  γ=1 → V − α;  γ=2 → V
        self.reset_am1 = col(np.where(g == 0, -1, 0))
        self.reset_c = col(np.where(g == 0, r, np.where(g == 1, -dep.threshold.astype(np.int64), 0)))
        self.floor_val = col(np.where(k == 1, -dep.neg_threshold.astype(np.int64), -r))
        self.reset_kind = ("none" if np.all(g[en] == 2) else
                           "zero" if np.all((g[en] == 0) & (r[en] == 0)) else "general")
        self.floor_all_saturate = bool(np.all(k[en] == 1))
        self.beta_min = int(dep.neg_threshold[en].min()) if en.any() else 0
        self.floor_bound = max(amax(np.where(k == 1, dep.neg_threshold, 0)), amax(np.where(k == 0, r, 0)))
        self.reset_bound = amax(np.where(g == 0, r, 0))
        self.v0_bound = amax(dep.v_init)
        self.vmin, self.vmax = core.v_min, core.v_max
        self.has_leak = bool(np.any(dep.leak[en]))
        # the general neuron step (leak reversal, stochastic leak or threshold, κ = 0 with γ ≠ 0)
        k_ = en & (k == 0) & (g != 0)
        self.general = bool(self.leak_reversal_any or self.stoch_leak_any or self.mask_any or k_.any())
        self.neuron = NeuronTensors.of(dep, (c, 1, n), sd, dev) if self.general else None
        # routing, grouped by delay
        routed = (en & (dep.dest_core >= 0)).reshape(-1)
        src = np.flatnonzero(routed)
        dcore = dep.dest_core.reshape(-1)[src]
        dst = dcore * a + dep.dest_axon.reshape(-1)[src]
        dly = dep.dest_delay.reshape(-1)[src]
        self.max_delay = int(dly.max()) if dly.size else 1
        # Runs of ≥ 8 consecutive neurons of one core sending, with one delay, to consecutive axons (the usual
        # layer-to-layer wiring) are routed as slice copies; so are runs whose source neurons advance by a
        # constant stride (interleaved wiring: neuron j → core j mod k); the rest by scatter, grouped by delay.
        # (delay, source core, first neuron, length, destination core, first axon, source stride, rows): row r
        # sends neurons j0 + r + k·stride (k < length) to axons a0 + k of destination core + r
        blocks: list[tuple[int, int, int, int, int, int, int]] = []
        order = np.lexsort((src, dly))
        s_o, d_o, l_o = src[order], dst[order], dly[order]
        cont = (l_o[1:] == l_o[:-1]) & (s_o[1:] == s_o[:-1] + 1) & (s_o[1:] % n != 0) & (d_o[1:] == d_o[:-1] + 1)
        starts = np.flatnonzero(np.concatenate([[True], ~cont])) if len(s_o) else np.zeros(0, np.int64)
        ends = np.append(starts[1:], len(s_o)) if len(s_o) else starts
        rest = np.ones(len(s_o), bool)
        for st, e in zip(starts, ends, strict=True):
            if e - st >= 8:
                rest[st:e] = False
                pos = int(st)
                while pos < e:  # one piece per destination core
                    ln = min(int(e) - pos, a - int(d_o[pos]) % a)
                    blocks.append((int(l_o[pos]), int(s_o[pos] // n), int(s_o[pos] % n), ln,
                                   int(d_o[pos]) // a, int(d_o[pos]) % a, 1))
                    pos += ln
        for run, step in _strided_runs(s_o, d_o, l_o, rest, n, a):
            rest[run] = False
            p0 = int(run[0])
            blocks.append((int(l_o[p0]), int(s_o[p0] // n), int(s_o[p0] % n), len(run),
                           int(d_o[p0]) // a, int(d_o[p0]) % a, step))
        self.route_blocks = _stack_blocks(blocks)
        self.routes = []  # (delay, source core, source neuron, destination core, destination axon)
        for d in np.unique(l_o[rest]):
            sel = rest & (l_o == d)
            t_ = lambda x: torch.from_numpy(np.ascontiguousarray(x)).to(dev)  # noqa: E731
            self.routes.append((int(d), t_(s_o[sel] // n), t_(s_o[sel] % n), t_(d_o[sel] // a)[:, None],
                                t_(d_o[sel] % a)[:, None]))
        # an axon with at most one possible source never needs its merged drive clamped to 1
        in_dst = dep.input_core.astype(np.int64) * a + dep.input_axon
        sources = np.bincount(np.concatenate([in_dst, dst]).astype(np.int64), minlength=c * a)
        self.may_merge = bool(sources.max(initial=0) > 1)
        # Crossbar segments: runs of consecutive cores multiplied over the leading axons that can receive a
        # spike and the leading neurons that are enabled (a core of a large preset rarely uses all of them).
        recv = np.zeros((c, a), bool)
        recv[dep.input_core.astype(np.int64), dep.input_axon.astype(np.int64)] = True
        recv.reshape(-1)[dst] = True
        a_used = np.where(recv.any(axis=1), a - np.argmax(recv[:, ::-1], axis=1), 1)
        n_used = np.where(en.any(axis=1), n - np.argmax(en[:, ::-1], axis=1), 1)
        self.segments = _segments(a_used, n_used, self.n_extra)
        self.w_segs = []
        for c0, c1, ag, ng in self.segments:  # (cores, axons, used neurons + extra) in the product's dtype
            seg = torch.empty((c1 - c0, ag, ng + self.n_extra), dtype=md)
            seg[:, :, :ng].copy_(torch.from_numpy(w_eff[c0:c1, :ag, :ng]))
            seg[:, :, ng:].copy_(torch.from_numpy(w_extra[c0:c1, :ag]))
            self.w_segs.append(seg.to(dev))
        del w_eff, w_extra
        self._w64: list[torch.Tensor] | None = None
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
        # (C, N, 3 + classes): per core Σ spikes, Σ spikes x hops, Σ spikes x chip crossings and, for up to 64
        # classes, Σ spikes x votes for each class (an output-map entry is one vote)
        self.n_cls = int(dep.output_class.max()) + 1 if len(dep.output_class) else 1
        self.cls_in_stats = self.n_cls <= 64
        n_stats = np.zeros((c, n, 3 + (self.n_cls if self.cls_in_stats else 0)))
        n_stats[:, :, 0], n_stats[:, :, 1], n_stats[:, :, 2] = 1, hop_w.reshape(c, n), xing_w.reshape(c, n)
        if self.cls_in_stats:
            np.add.at(n_stats, (dep.output_core, dep.output_neuron, 3 + dep.output_class), 1)
        self.n_stats = torch.from_numpy(n_stats).to(dev, sd)
        # input map
        self.in_ch = torch.from_numpy(dep.input_channel.astype(np.int64)).to(dev)
        self.in_dst = torch.from_numpy(in_dst).to(dev)
        # Common case: channels ch0.. ch0+m-1 drive flat axons lo.. lo+m-1 in order → slice copies per tick:
        # (first channel, first core, first axon, cores, axons per core) pieces within whole or single cores.
        n_in = len(in_dst)
        self.in_slices: list[tuple[int, int, int, int, int]] | None = None
        if n_in and np.array_equal(in_dst, in_dst[0] + np.arange(n_in)) and np.array_equal(
                dep.input_channel, dep.input_channel[0] + np.arange(n_in)):
            self.in_slices = []
            ch, flat, end = int(dep.input_channel[0]), int(in_dst[0]), int(in_dst[0]) + n_in
            while flat < end:
                if flat % a == 0 and end - flat >= a:  # a run of whole cores
                    n_cores = (end - flat) // a
                    self.in_slices.append((ch, flat // a, 0, n_cores, a))
                    ln = n_cores * a
                else:
                    ln = min(end - flat, a - flat % a)
                    self.in_slices.append((ch, flat // a, flat % a, 1, ln))
                ch, flat = ch + ln, flat + ln
        self.in_unique = bool(n_in == len(np.unique(in_dst)))
        # When every axon has one source that rewrites it every tick (input slices and routed runs, no
        # merging, no scattered routes), the ring buffer needs no zeroing: only an input region whose inputs
        # have ended is cleared, once.
        covered = np.zeros(c * a, bool)
        if self.in_slices:
            for _, c0, a0, k_, ln_ in self.in_slices:
                for cc in range(c0, c0 + k_):
                    covered[cc * a + a0 : cc * a + a0 + ln_] = True
        for _, _, _, ln_, dc_, a0, _, rows_ in self.route_blocks:
            for r_ in range(rows_):
                covered[(dc_ + r_) * a + a0 : (dc_ + r_) * a + a0 + ln_] = True
        self.full_cover = bool(not self.may_merge and not self.routes and (self.in_slices or n_in == 0)
                               and covered.all())
        # output map → class scatter
        self.out_flat = torch.from_numpy(dep.output_core.astype(np.int64) * n + dep.output_neuron).to(dev)
        self.out_core = torch.from_numpy(dep.output_core.astype(np.int64)).to(dev)
        self.out_neuron = torch.from_numpy(dep.output_neuron.astype(np.int64)).to(dev)
        self.out_cls = torch.from_numpy(dep.output_class.astype(np.int64)).to(dev)
        self.ticking_cores = int(np.count_nonzero(en.any(axis=1)))
        self.n_enabled = int(en.sum())
        self.topology = analyse(dep)

    def _init_stochastic(self, dep: Deployment, w_eff: np.ndarray) -> None:
        """Stochastic synapses (b_j^G = 1) leave the deterministic crossbar product ``w_eff`` (zeroed in place)
        and are drawn per event each tick; record which neurons use the other stochastic modes."""
        en = dep.enabled.astype(bool)
        self.stoch_cores = np.zeros(0, np.int64)
        self._stoch_syn: tuple[int, list[StochasticSynapses]] | None = None  # (seed, per stochastic core)
        if np.any(dep.stochastic_synapse[en]):
            cores = np.arange(dep.n_cores)[:, None]
            types = dep.axon_type.astype(np.intp)
            sto = np.asarray(dep.stochastic_synapse, bool)[cores, :, types] & (dep.crossbar != 0) & en[:, None, :]
            self.stoch_cores = np.flatnonzero(sto.any(axis=(1, 2)))
            w_eff[sto] = 0
        self.stoch_leak_any = bool(np.any(dep.stochastic_leak[en]))
        self.leak_reversal_any = bool(np.any(dep.leak_reversal[en]))
        self.mask_any = bool(np.any(dep.threshold_mask[en]))
        self.stochastic = bool(self.stoch_cores.size or self.stoch_leak_any or self.mask_any)

    def _sites(self, seed: int) -> dict[str, object]:
        """Site keys (:func:`spikeforge.sim.prng.site_key`) of every stochastic draw for ``seed``."""
        dev, N = self.device, self.N
        out: dict[str, object] = {}
        neuron = torch.arange(N, device=dev)[None, None, :]
        core = torch.arange(self.C, device=dev)[:, None, None]
        if self.stoch_leak_any:
            out["leak"] = prng.site_key(seed, prng.STREAM_LEAK, core, neuron)
        if self.mask_any:
            out["threshold"] = prng.site_key(seed, prng.STREAM_THRESHOLD, core, neuron)
        if self.stoch_cores.size:
            if self._stoch_syn is None or self._stoch_syn[0] != seed:
                self._stoch_syn = (seed, [StochasticSynapses(self.dep, int(c), seed, dev) for c in self.stoch_cores])
            out["synapse"] = self._stoch_syn[1]
        return out

    def _weights_for_run(self) -> list[torch.Tensor]:
        """The weights to multiply with, one tensor per segment: on CUDA, a float32 product may run in TF32
        (10-bit mantissa), which is exact only for |W| ≤ 2048; use float64 then."""
        if (self.device.type == "cuda" and self.fdtype == torch.float32 and self.w_absmax > 2048
                and torch.backends.cuda.matmul.allow_tf32):
            if self._w64 is None:
                self._w64 = [w.to(torch.float64) for w in self.w_segs]
            return self._w64
        return self.w_segs

    # ------------------------------------------------------------------ the tick loop
    def run(
        self,
        drive: torch.Tensor,
        n_ticks: int,
        *,
        input_tick_stride: int = 0,
        record_outputs: bool = False,
        record_spikes: bool = False,
        seed: int | None = None,
        when: Callable[[int], torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Run ``n_ticks`` ticks. ``drive`` is (B, T_in, K) uint8 input-channel spikes (K = n_inputs);
        channel spikes of column t are delivered at tick t. Returns per-tick per-core counters.

        Layout: axon drives, membrane state and spikes are core-major (C, B, ·), so the crossbar product is one
        contiguous ``bmm``; axon drives are kept in the product's dtype. Every per-tick buffer is allocated
        once and updated in place. Saturation and the negative floor are skipped in ticks where a running
        bound on |V| proves they cannot act; results are identical either way.

        Stochastic modes draw from :mod:`spikeforge.sim.prng` with ``seed`` (default the deployment's
        ``prng_seed``); ``when(t)`` gives the time keys (:func:`~spikeforge.sim.prng.time_key`) of tick ``t``
        as a (1 or C, B) int64 tensor, by default those of inputs 0 … B−1 at tick t.
        """
        dev, C, A, N = self.device, self.C, self.A, self.N
        b, t_in, _ = drive.shape
        L = self.max_delay + 1
        sd = self.sdtype
        w_segs = self._weights_for_run()
        md = w_segs[0].dtype
        ne = N + self.n_extra
        buf = torch.zeros((L, C, b, A), dtype=md, device=dev)  # axon drives due at t, t+1, ... (ring)
        v = self.v0.expand(C, b, N).clone(memory_format=torch.contiguous_format)  # never a view of v0
        # zeros: columns of neurons beyond a segment's last enabled one are never written
        cur = torch.zeros((C, b, ne), dtype=md, device=dev)
        whole = len(self.segments) == 1 and self.segments[0][2:] == (A, N)
        seg_out = [] if whole else [torch.empty((c1 - c0, b, ng + self.n_extra), dtype=md, device=dev)
                                    for c0, c1, _, ng in self.segments]
        cur_s = torch.empty((C, b, ne), dtype=sd, device=dev) if md != sd else cur
        fire = torch.empty((C, b, N), dtype=sd, device=dev)
        tmp = torch.empty((C, b, N), dtype=sd, device=dev) if self.reset_kind == "general" else None
        axs_in = torch.empty((C, b, self.n_extra), dtype=torch.float64, device=dev)
        axs = torch.empty((C, b, 2), dtype=torch.float64, device=dev)
        nss = torch.empty((C, b, self.n_stats.shape[2]), dtype=sd, device=dev)
        n_cls = self.n_cls
        cls_t = torch.empty((b, n_cls), dtype=sd, device=dev)
        stats = torch.zeros((5, n_ticks, C, b), dtype=torch.float64, device=dev)
        out: dict[str, torch.Tensor] = {
            "axe": stats[0], "syn": stats[1], "spk": stats[2], "hop": stats[3], "xing": stats[4],
            "cls": torch.zeros((n_ticks, n_cls, b), dtype=torch.float64, device=dev),
        }
        if record_outputs:
            out["outs"] = torch.zeros((n_ticks, len(self.out_flat), b), dtype=torch.uint8, device=dev)
        if record_spikes:
            out["raster"] = torch.zeros((n_ticks, C, N, b), dtype=torch.bool, device=dev)
        in_gather = self.in_ch.expand(b, -1) if len(self.in_ch) else None
        # general input maps go through a batch-major (b, C·A) scratch row (zero where no input lands)
        in_tmp = torch.zeros((b, C * A), dtype=md, device=dev) if in_gather is not None and not self.in_slices else None
        batch_idx = torch.arange(b, device=dev)[None, :]
        # each route block's source neurons as a (rows, b, length) view of ``fire`` (C, b, N)
        block_src = [fire.as_strided((rows, b, ln), (1, N, step), fire.storage_offset() + c * b * N + j0)
                     for _, c, j0, ln, _, _, step, rows in self.route_blocks]
        vmax = self.vmax
        bound = float(self.v0_bound)  # |V| ≤ bound for every enabled neuron
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or not 0 <= int(seed) < 2**32):
            raise ValueError(f"seed must be an integer in [0, 2^32), got {seed!r}")
        sites = self._sites(int(self.dep.prng_seed if seed is None else seed)) if self.stochastic else {}
        if when is None:
            idx = torch.arange(b, device=dev)[None, :]
            when = lambda t_: prng.time_key(idx, t_)  # noqa: E731
        for t in range(n_ticks):
            tk = when(t) if self.stochastic else None
            ax = buf[t % L]  # (C, b, A)
            if t < t_in and in_gather is not None:
                xt = drive[:, t, :]
                if self.in_slices:
                    for ch, c0, a0, k, ln in self.in_slices:
                        src = xt[:, ch : ch + k * ln].view(b, k, ln).transpose(0, 1)
                        if self.may_merge:
                            ax[c0 : c0 + k, :, a0 : a0 + ln].add_(src.to(md))
                        else:  # these axons have no other source: nothing to merge with
                            ax[c0 : c0 + k, :, a0 : a0 + ln].copy_(src)
                else:
                    assert in_tmp is not None
                    vals = torch.gather(xt, 1, in_gather).to(md)
                    if self.in_unique:  # the same positions every tick: overwrite
                        in_tmp.index_copy_(1, self.in_dst, vals)
                    else:
                        in_tmp.zero_()
                        in_tmp.index_add_(1, self.in_dst, vals)
                    ax.add_(in_tmp.view(b, C, A).transpose(0, 1))
            if self.may_merge:
                ax.clamp_(max=1)
            # 1. integrate: V ← V + A(t)·W_eff (the extra columns count axon and synaptic events)
            if whole:
                torch.bmm(ax, w_segs[0], out=cur)
            else:
                for (c0, c1, ag, ng), wg, og in zip(self.segments, w_segs, seg_out, strict=True):
                    torch.bmm(ax[c0:c1, :, :ag], wg, out=og)
                    cur[c0:c1, :, :ng].copy_(og[:, :, :ng])
                    cur[c0:c1, :, N:].copy_(og[:, :, ng:])
            if self.stoch_cores.size:  # stochastic synapses: each active one adds sgn(s) iff |s| ≥ ρ (drawn per event)
                assert tk is not None
                self._stochastic_synapses(v, ax, tk, sites["synapse"])  # type: ignore[arg-type]
            if not self.full_cover:
                ax.zero_()
            elif self.in_slices and t < t_in <= t + L:  # the inputs will not overwrite this slot again
                for _, c0, a0, k, ln in self.in_slices:
                    ax[c0 : c0 + k, :, a0 : a0 + ln].zero_()
            if cur_s is not cur:
                cur_s.copy_(cur)
            axs_in.copy_(cur_s[:, :, N:])
            torch.matmul(axs_in, self.stat_coef, out=axs)
            stats[0:2, t].copy_(axs.permute(2, 0, 1))
            v.add_(cur_s[:, :, :N])
            bound += self.drive_bound
            if bound > vmax:
                v.clamp_(self.vmin, vmax)
                bound = vmax + 1.0
            if self.general:  # 2-4 with leak reversal, stochastic leak / threshold, κ = 0 resets by γ
                assert tk is not None or not self.stochastic
                self._general_neuron_step(v, fire, tk, sites)
                bound = vmax + 1.0
            # 2. leak
            elif self.has_leak:
                v.add_(self.leak)
                bound += self.leak_bound
                if bound > vmax:
                    v.clamp_(self.vmin, vmax)
                    bound = vmax + 1.0
            if not self.general:
                # 3. fire (1.0 / 0.0)
                torch.ge(v, self.alpha, out=fire)
                # 4. floor, for neurons that did not fire (a firing neuron has V ≥ α ≥ 0 ≥ −β: never below −β)
                if bound > self.beta_min:
                    if self.floor_all_saturate:
                        torch.maximum(v, self.neg_beta, out=v)
                    else:
                        torch.where(v < self.neg_beta, self.floor_val, v, out=v)
                    bound = max(bound, float(self.floor_bound))
                # 3'. reset the neurons that fired: V ← V + fire · (am1 · V + c)
                if self.reset_kind == "zero":
                    v.addcmul_(v, fire, value=-1)
                elif self.reset_kind == "general":
                    assert tmp is not None
                    torch.addcmul(self.reset_c, v, self.reset_am1, out=tmp)
                    v.addcmul_(tmp, fire)
                    bound = max(bound, float(self.reset_bound))
            # 5. count and route the spikes
            torch.bmm(fire, self.n_stats, out=nss)
            stats[2:5, t].copy_(nss[:, :, :3].permute(2, 0, 1))
            for (d, _, _, ln, dc, a0, _, rows), src_block in zip(self.route_blocks, block_src, strict=True):
                dst_block = buf[(t + d) % L][dc : dc + rows, :, a0 : a0 + ln]
                if self.may_merge:
                    dst_block.add_(src_block)
                else:  # these axons have no other source: nothing to merge with
                    dst_block.copy_(src_block)
            for d, sc, sj, dc_, da in self.routes:
                buf[(t + d) % L].index_put_((dc_, batch_idx, da), fire[sc, :, sj].to(md), accumulate=True)
            if len(self.out_flat):
                if self.cls_in_stats:
                    torch.sum(nss[:, :, 3:], dim=0, out=cls_t)
                    out["cls"][t].copy_(cls_t.t())
                else:
                    out["cls"][t].index_add_(0, self.out_cls, fire[self.out_core, :, self.out_neuron].to(torch.float64))
                if record_outputs:
                    out["outs"][t].copy_(fire[self.out_core, :, self.out_neuron])
            if record_spikes:
                out["raster"][t].copy_(fire.transpose(1, 2))
        return out

    def _stochastic_synapses(self, v: torch.Tensor, ax: torch.Tensor, tk: torch.Tensor,
                             syns: list[StochasticSynapses]) -> None:
        """V[c] += the drive of each core's stochastic synapses (:class:`~spikeforge.sim.neuron.StochasticSynapses`)."""
        b = v.shape[1]
        for c, syn in zip(self.stoch_cores, syns, strict=True):
            keys = tk[c if tk.shape[0] > 1 else 0]  # (b,)
            step = max(1, _STOCH_CHUNK // max(1, len(syn.neuron)))
            for b0 in range(0, b, step):
                v[c, b0 : b0 + step].add_(syn.drive(ax[c, b0 : b0 + step], keys[b0 : b0 + step]).to(v.dtype))

    def _general_neuron_step(self, v: torch.Tensor, fire: torch.Tensor, tk: torch.Tensor | None,
                             sites: dict[str, object]) -> None:
        """Steps 2-4 in full (:func:`~spikeforge.sim.neuron.leak_fire_reset`); writes ``fire`` (1.0 / 0.0)."""
        assert self.neuron is not None
        when = tk[:, :, None] if tk is not None else None  # (1 or C, b, 1) against sites (C, 1, N)
        leak_draw = prng.draw(sites["leak"], when) if self.stoch_leak_any else None
        thr_draw = prng.draw(sites["threshold"], when) if self.mask_any else None
        fired = leak_fire_reset(v, self.neuron, self.vmin, self.vmax, leak_draw=leak_draw, threshold_draw=thr_draw)
        fire.copy_(fired)


#: Most (inputs x stochastic synapses) of one core drawn at once.
_STOCH_CHUNK = 2**22


#: Cost, in multiply-adds per batch element, charged for each extra crossbar segment (a product call and
#: two copies); a run of cores is split where the split saves more than this.
_SEGMENT_OVERHEAD = 16384
_MAX_SEGMENTS = 64


def _stack_blocks(blocks: list[tuple[int, int, int, int, int, int, int]]) -> list[tuple[int, ...]]:
    """Merge route blocks ``(delay, source core, j0, length, destination core, a0, stride)`` that differ only
    by +r in the first neuron and the destination core (interleaved wiring: neuron j → core j mod k) into
    one block of ``rows`` such rows: ``(..., stride, rows)``, copied as one (rows, batch, length) view."""
    key = lambda bl: (bl[0], bl[1], bl[3], bl[5], bl[6], bl[4], bl[2])  # noqa: E731
    out: list[tuple[int, ...]] = []
    for bl in sorted(blocks, key=key):
        if out:
            d, c, j0, ln, dc, a0, st, rows = out[-1]
            if (bl[0], bl[1], bl[3], bl[5], bl[6]) == (d, c, ln, a0, st) and bl[4] == dc + rows and bl[2] == j0 + rows:
                out[-1] = (d, c, j0, ln, dc, a0, st, rows + 1)
                continue
        out.append((*bl, 1))
    return out


def _strided_runs(src: np.ndarray, dst: np.ndarray, delay: np.ndarray, free: np.ndarray, n: int, a: int,
                  min_len: int = 8) -> list[tuple[np.ndarray, int]]:
    """Strided route runs among the routes ``k`` with ``free[k]`` (flat source neuron ``src[k]``, flat
    destination axon ``dst[k]``, delay ``delay[k]``): maximal runs, of at least ``min_len`` routes, of one
    delay whose destinations are consecutive axons of one core and whose sources are neurons ``j0, j0 + s,
    j0 + 2s, ...`` of one core (stride ``s > 1``). Returns ``(route indices in destination order, s)``."""
    idx = np.flatnonzero(free)
    if idx.size < min_len:
        return []
    o = idx[np.lexsort((dst[idx], delay[idx]))]  # by delay, then destination
    s, d, dl = src[o], dst[o], delay[o]
    step = np.diff(s)
    link = (dl[1:] == dl[:-1]) & (d[1:] == d[:-1] + 1) & (d[1:] % a != 0) & (s[1:] // n == s[:-1] // n) & (step > 1)
    runs: list[tuple[np.ndarray, int]] = []
    i, m = 0, len(o)
    while i < m - 1:
        if not link[i]:
            i += 1
            continue
        j = i + 1  # routes i..j form a run while the links continue with the same stride
        while j < m - 1 and link[j] and step[j] == step[i]:
            j += 1
        if j - i + 1 >= min_len:
            runs.append((o[i : j + 1], int(step[i])))
        i = j + 1
    return runs


def _segments(a_used: np.ndarray, n_used: np.ndarray, n_extra: int) -> list[tuple[int, int, int, int]]:
    """Split the cores into runs ``(first core, end core, axons, neurons)`` whose crossbar product covers
    each run's largest used axon and neuron counts, greedily: core k joins the current run unless starting a
    new run costs fewer multiply-adds (Σ cores·axons·(neurons + extra) plus ``_SEGMENT_OVERHEAD`` per run).
    More than ``_MAX_SEGMENTS`` runs collapse into one over the largest counts."""
    c = len(a_used)
    segs: list[list[int]] = [[0, 1, int(a_used[0]), int(n_used[0])]]
    for k in range(1, c):
        c0, c1, ag, ng = segs[-1]
        a2, n2 = max(ag, int(a_used[k])), max(ng, int(n_used[k]))
        merged = (c1 - c0 + 1) * a2 * (n2 + n_extra)
        split = (c1 - c0) * ag * (ng + n_extra) + int(a_used[k]) * (int(n_used[k]) + n_extra) + _SEGMENT_OVERHEAD
        if merged <= split:
            segs[-1] = [c0, k + 1, a2, n2]
        else:
            segs.append([k, k + 1, int(a_used[k]), int(n_used[k])])
    if len(segs) > _MAX_SEGMENTS:
        segs = [[0, c, int(a_used.max()), int(n_used.max())]]
    return [(s[0], s[1], s[2], s[3]) for s in segs]


def _to_drive(spikes: np.ndarray | torch.Tensor, n_inputs: int, device: torch.device) -> torch.Tensor:
    """Validate input spikes and return them as a contiguous (B, T_in, K) uint8 tensor."""
    if isinstance(spikes, np.ndarray) and not spikes.flags.writeable:
        spikes = spikes.copy()
    x = torch.as_tensor(spikes)
    if x.ndim == 2:  # (B, K): one tick
        x = x[:, None, :]
    if x.ndim != 3:
        raise ValueError(f"input spikes must have shape (batch, ticks, channels), got {tuple(x.shape)}")
    if x.shape[2] != n_inputs:
        raise ValueError(f"input spikes have {x.shape[2]} channels, the deployment's input map expects {n_inputs}")
    if x.dtype.is_complex:
        raise ValueError(f"input spikes must be real 0/1 values, got a {x.dtype} array")
    if x.numel():
        if x.dtype.is_floating_point:
            if not bool(torch.isfinite(x).all()):
                raise ValueError("input spikes contain NaN or infinity")
            if not bool(((x == 0) | (x == 1)).all()):
                raise ValueError("input spikes must be 0 or 1")
        elif x.dtype != torch.bool:
            if x.dtype in (torch.uint16, torch.uint32, torch.uint64):  # aminmax has no kernel for these
                x = x.to(torch.int64)  # (a uint64 above 2^63 becomes negative: refused below)
            lo, hi = torch.aminmax(x)
            if int(lo) < 0 or int(hi) > 1:
                raise ValueError("input spikes must be 0 or 1")
    return x.to(device=device, dtype=torch.uint8).contiguous()


class StatefulPipelineWarning(UserWarning):
    """Inputs streamed (pipelined) through neurons that carry state from one input to the next."""


def _check_inputs(spikes: Spikes, n_inputs: int, first: int) -> tuple[int, int, int]:
    """(inputs, ticks, channels) of ``spikes`` (as :func:`~spikeforge.data.source.as_spikes` takes them),
    checked against the deployment's input channels."""
    shape = input_shape(spikes)
    if shape[2] != n_inputs:
        raise ValueError(f"input spikes have {shape[2]} channels, the deployment's input map expects {n_inputs}")
    if isinstance(first, bool) or not isinstance(first, (int, np.integer)) or first < 0:
        raise ValueError(f"first must be a non-negative input index, got {first!r}")
    return shape


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


#: Memory the simulator's batch state may take when the batch size is chosen automatically (bytes).
SIM_MEMORY_BUDGET = 2 * 2**30

#: Most inputs (sequential) or lanes (pipelined) simulated together when the batch size is automatic.
MAX_AUTO_BATCH = 1024


def auto_batch_size(sim: CompiledDeployment, budget: int = SIM_MEMORY_BUDGET) -> int:
    """Inputs simulated together so that the batch state fits ``budget`` bytes: per input the simulator
    holds about five arrays of cores x (axons + neurons) values (axon drives, potentials, spikes, the delay
    buffer, the input scratch row) — measured: 19.3 GB resident for 1792 cores of 256 x 256 at 1024 inputs,
    20.5 bytes per core-slot and input. Between 1 and :data:`MAX_AUTO_BATCH`."""
    per_input = 5 * sim.C * (sim.A + sim.N) * torch.finfo(sim.sdtype).bits // 8
    return int(max(1, min(MAX_AUTO_BATCH, budget // max(per_input, 1))))


def simulate(
    dep: Deployment | CompiledDeployment,
    spikes: Spikes,
    *,
    ticks: int | None = None,
    batch_size: int | None = None,
    device: str | torch.device = "auto",
    record_outputs: bool = False,
    record_spikes: bool = False,
    progress: bool = False,
    seed: int | None = None,
    first: int = 0,
) -> SimResult:
    """Simulate each input on a fresh network (state reset to V0, no spikes in flight): *sequential* mode.

    Args:
        dep: the deployment (or one compiled with :class:`CompiledDeployment` to reuse across calls).
        spikes: (B, T_in, K) binary input-channel spikes (T_in ≤ ticks; a 2-D (B, K) array is one tick), or a
            :class:`~spikeforge.data.source.SpikeSource`, read one batch at a time.
        ticks: ticks per input; default ``max(ticks_per_input, T_in) + latency`` (the network drains fully
            when its routing is acyclic; pass it explicitly for recurrent deployments).
        batch_size: inputs simulated together; default :func:`auto_batch_size` (memory-bounded).
        record_outputs: keep the output-neuron raster (B, ticks, M).
        record_spikes: keep every neuron's spikes (ticks, C, N, B) — for tests and small networks.
        progress: show a progress bar over batches.
        seed: seed of the stochastic modes' pseudo-random numbers (default: the deployment's ``prng_seed``);
            input k of ``spikes`` draws the same numbers whatever the batch size.
        first: index of ``spikes``' first input in a longer stream of inputs (its stochastic draws are those
            of input ``first + k``), for simulating a long input set block by block.
    """
    sim = dep if isinstance(dep, CompiledDeployment) else CompiledDeployment(dep, device)
    d = sim.dep
    spikes = as_spikes(spikes)
    total, t_in, _ = _check_inputs(spikes, d.n_inputs, first)
    if ticks is None:
        if not sim.topology.acyclic:
            raise TopologyError("the routing has a cycle: pass ticks= explicitly for a recurrent deployment")
        ticks = max(d.ticks_per_input, t_in) + sim.topology.latency
    if isinstance(ticks, bool) or not isinstance(ticks, (int, np.integer)) or ticks < 1:
        raise ValueError(f"ticks must be an integer >= 1, got {ticks!r}")
    if ticks < t_in:
        raise ValueError(f"ticks={ticks} is shorter than the inputs' {t_in} ticks: their last {t_in - ticks} "
                         "tick(s) would never be delivered")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    parts: list[EventCounts] = []
    cls_parts, outs_parts, raster_parts = [], [], []
    if batch_size is None:
        batch_size = auto_batch_size(sim)
    starts = range(0, total, batch_size)
    iterator: Iterable[int] = starts
    if progress:
        from spikeforge.progress import track

        iterator = track(starts, description="simulating", total=len(starts))
    with torch.no_grad():
        for s in iterator:
            drive = _to_drive(read_inputs(spikes, s, min(s + batch_size, total)), d.n_inputs, sim.device)
            out = sim.run(drive, ticks, record_outputs=record_outputs, record_spikes=record_spikes, seed=seed,
                          when=_sequential_keys(first + s, drive.shape[0], sim.device))
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


def _sequential_keys(first: int, b: int, device: torch.device) -> Callable[[int], torch.Tensor]:
    """Time keys of inputs ``first`` … ``first + b − 1`` at each tick (same for every core), (1, b)."""
    idx = torch.arange(first, first + b, device=device)[None, :]
    return lambda t: prng.time_key(idx, t)


def _empty_counts(sim: CompiledDeployment, ticks: int) -> EventCounts:
    z = np.zeros(0, np.int64)
    return EventCounts(ticks, z, z, z, z, z, z, z, z, sim.C, np.zeros(sim.C, np.int64), np.zeros(sim.C, np.int64))


def simulate_pipelined(
    dep: Deployment | CompiledDeployment,
    spikes: Spikes,
    *,
    lanes: int = 64,
    device: str | torch.device = "auto",
    progress: bool = False,
    seed: int | None = None,
    first: int = 0,
) -> SimResult:
    """Stream inputs through the chip without draining: input n of a lane occupies ticks
    [n·T, (n+1)·T) (T = ticks_per_input) and the network's state carries over, as on hardware.

    Requires a layer-synchronous deployment (every core at one depth, see :mod:`spikeforge.sim.topology`),
    so that activity at core c and tick t belongs to input ⌊(t − depth_c) / T⌋; class counts and event
    counters are attributed that way. ``lanes`` independent streams are simulated side by side (batch).

    The stochastic modes draw the numbers a sequential run would (:mod:`spikeforge.sim.prng`): core c at
    tick t draws as input ⌊(t − depth_c) / T⌋ at its tick t − ⌊(t − depth_c) / T⌋·T (offset by ``first``,
    as in :func:`simulate`). The whole stream is simulated at once, so a
    :class:`~spikeforge.data.source.SpikeSource` is read whole: :func:`spikeforge.evaluate.run_simulation`
    streams long input sets block by block.
    """
    sim = dep if isinstance(dep, CompiledDeployment) else CompiledDeployment(dep, device)
    d, topo = sim.dep, sim.topology
    if not topo.acyclic or not topo.synchronous:
        raise TopologyError(
            "pipelined mode needs a layer-synchronous, acyclic deployment; cores reached at several depths: "
            f"{list(topo.conflicts)[:20]}"
        )
    spikes = as_spikes(spikes)
    total, _, _ = _check_inputs(spikes, d.n_inputs, first)
    if isinstance(lanes, bool) or not isinstance(lanes, (int, np.integer)) or lanes < 1:
        raise ValueError(f"lanes must be an integer >= 1, got {lanes!r}")
    if not d.memoryless:
        warnings.warn("pipelined regime on a deployment whose neurons hold state between ticks: each input "
                      "starts from the potentials the previous one left and the initial potentials V0 apply to "
                      "the first input of each lane only (regime='sequential' runs every input on a fresh "
                      "network)", StatefulPipelineWarning, stacklevel=2)
    drive_all = _to_drive(read_inputs(spikes, 0, total), d.n_inputs, torch.device("cpu"))  # (B, T_in, K)
    T = d.ticks_per_input
    if drive_all.shape[1] > T:
        raise ValueError(f"each input has {drive_all.shape[1]} ticks but ticks_per_input is {T}")
    if drive_all.shape[1] < T:
        drive_all = torch.nn.functional.pad(drive_all, (0, 0, 0, T - drive_all.shape[1]))
    total = drive_all.shape[0]
    if total == 0:
        return SimResult(class_counts=np.zeros((0, d.n_classes), np.int64), counts=_empty_counts(sim, T),
                         ticks=0, latency=topo.latency)
    lanes = min(int(lanes), total)
    per_lane = -(-total // lanes)
    pad = per_lane * lanes - total
    x = torch.nn.functional.pad(drive_all, (0, 0, 0, 0, 0, pad))  # (lanes*per_lane, T, K)
    # input index i = lane * per_lane + n ; stream n occupies ticks n*T .. n*T+T-1 of its lane
    x = x.reshape(lanes, per_lane * T, -1)
    depth = np.where(topo.depth >= 0, topo.depth, 0)
    n_ticks = per_lane * T + topo.latency
    depth_t = torch.from_numpy(depth.astype(np.int64)).to(sim.device)[:, None]  # (C, 1)
    lane_base = first + torch.arange(lanes, device=sim.device)[None, :] * per_lane  # (1, lanes)

    def when(t: int) -> torch.Tensor:
        pos = torch.div(t - depth_t, T, rounding_mode="floor")  # the input each core works on at tick t
        return prng.time_key(lane_base + pos, t - pos * T)

    with torch.no_grad():
        out = sim.run(x.to(sim.device), n_ticks, seed=seed, when=when)
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
    # per-core totals: only (tick, core, lane) cells that belong to a real input — not the start-up ticks before
    # a core's first input, the drain after its last, or the zero inputs padding the last lanes (neurons that
    # fire on silence would count spikes there that no input caused)
    lane_of = torch.arange(lanes, device=sim.device)[None, None, :]
    real = valid_t[..., None] & (lane_of * per_lane + pos_t[..., None] < total)  # (ticks, C, lanes)

    def per_core(key: str) -> np.ndarray:
        return (out[key] * real).sum(dim=(0, 2)).round().to(torch.int64).cpu().numpy()

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
        core_spikes=per_core("spk"),
        core_synaptic_events=per_core("syn"),
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
