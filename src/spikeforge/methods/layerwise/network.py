"""The converted spiking network: stages of rate-coded integrate-and-fire neurons, its exact tick model and
its rate model (docs/methods/layerwise.md, "Neuron model").

A :class:`SpikingNet` is a chain of :class:`Stage` s. Stage ℓ's neurons integrate the spikes of stage ℓ − 1
(stage 0: the input channels) with effective weights W (one-tick axonal delay between stages, as on the
chip). Every neuron is a TrueNorth neuron with linear reset (γ = 1), no leak (λ = 0), bias in its initial
potential V0, threshold α and a floor far below zero (β large, κ = 1). Per tick t:

    V ← sat(V + Σ_i W_i A_i(t));   spike iff V ≥ α, then V ← V − α;   else if V < −β: V ← −β.

:meth:`SpikingNet.run` computes this tick by tick, bit for bit like :func:`spikeforge.sim.simulate` on the
deployment built by :func:`spikeforge.methods.layerwise.deploy.build_deployment` (integer nets), or in
floating point for the analog and hybrid constraint sets, which no integer chip runs.

The *rate model* (:meth:`SpikingNet.rate_counts`) is the transfer function the solvers linearise: with S the
total drive V0 + Σ_i W_i C_i over the input counts C,

    count = clip(⌊S / α⌋, 0, ticks_run),

exact when the potential never falls below 0 and rises by at most α per tick (then 0 ≤ V < α after every
tick and S = α·count + V); in general the count is ⌊max_t S_t / α⌋ for the running sums S_t, which can
differ when negative input arrives after positive input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp


@dataclass
class AxonSet:
    """Neurons of a stage that share one set of virtual axons (they can sit on one core, or on several cores
    that each receive all these axons). ``crossbar`` (n_neurons, n_vaxons) holds their crossbar entries."""

    vaxons: np.ndarray
    neurons: np.ndarray
    crossbar: np.ndarray


@dataclass
class StageHardware:
    """How a stage is realised on a TrueNorth-class core: virtual axon a carries source ``vaxon_src[a]`` (a
    neuron of the previous stage or an input channel) with axon type ``vaxon_type[a]``; neuron j applies
    per-type weight ``type_weights[j, G]``; ``sets`` give the crossbar entries."""

    vaxon_src: np.ndarray
    vaxon_type: np.ndarray
    type_weights: np.ndarray
    sets: list[AxonSet]

    def effective_weight(self, n_out: int, n_in: int) -> np.ndarray:
        """W (n_out, n_in) int64: W[j, i] = Σ_{a: src(a) = i} crossbar[j, a] · s_j[G_a]."""
        w = np.zeros((n_out, n_in), np.int64)
        for s in self.sets:
            contrib = s.crossbar.astype(np.int64) * self.type_weights[s.neurons][:, self.vaxon_type[s.vaxons]]
            blk = np.zeros((len(s.neurons), n_in), np.int64)
            for col, src in enumerate(self.vaxon_src[s.vaxons]):
                blk[:, src] += contrib[:, col]
            w[s.neurons] += blk
        return w


@dataclass
class Block:
    """A dense block of a stage's weights: neurons ``out`` read inputs ``inp`` with weights ``w`` (n_out, n_in)."""

    out: np.ndarray
    inp: np.ndarray
    w: np.ndarray


@dataclass
class Stage:
    """One stage of neurons. ``kind``: "dense" (a whole ANN layer), "partial" (partial sums of a restructured
    layer, ± pairs) or "combine" (the restructured layer's output neurons). ``unit`` maps each neuron to its
    ANN unit (−1 when none)."""

    name: str
    kind: str
    n_in: int
    blocks: list[Block]
    threshold: np.ndarray
    v_init: np.ndarray
    unit: np.ndarray
    hw: StageHardware | None = None
    leak: np.ndarray | None = None

    @property
    def n_out(self) -> int:
        return len(self.threshold)

    def dense_weight(self) -> np.ndarray:
        """The full effective weight matrix (n_out, n_in)."""
        w = np.zeros((self.n_out, self.n_in), np.result_type(*[b.w.dtype for b in self.blocks], np.int64))
        for b in self.blocks:
            w[np.ix_(b.out, b.inp)] += b.w
        return w

    def drive(self, a: np.ndarray) -> np.ndarray:
        """Input current (rows, n_out) for axon activity ``a`` (rows, n_in): float32 for integer weights whose
        per-neuron Σ|w| < 2^24 (exact), float64 otherwise."""
        rows = a.shape[0]
        exact32 = all(b.w.dtype.kind in "iu" and np.abs(b.w).sum(axis=1).max(initial=0) < 2**24 for b in self.blocks)
        dt = np.float32 if exact32 else np.float64
        out = np.zeros((rows, self.n_out), dt)
        if len(self.blocks) <= 64:
            af = a.astype(dt)
            for b in self.blocks:
                cols = af[:, b.inp] if len(b.inp) < a.shape[1] or np.any(b.inp != np.arange(len(b.inp))) else af
                prod = cols @ b.w.T.astype(dt)
                o = b.out
                if len(o) and o[-1] - o[0] == len(o) - 1 and np.all(np.diff(o) == 1):
                    out[:, o[0] : o[-1] + 1] += prod
                else:
                    out[:, o] += prod
            return out
        r, c, v = [], [], []
        for b in self.blocks:
            rr, cc = np.meshgrid(b.out, b.inp, indexing="ij")
            r.append(rr.ravel())
            c.append(cc.ravel())
            v.append(b.w.ravel().astype(dt))
        m = sp.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(self.n_out, self.n_in))
        return np.asarray((m @ a.T.astype(dt)).T)


@dataclass
class SpikingNet:
    """A converted network. ``integer``: integer weights/thresholds/potentials with the chip's saturating
    membrane [v_min, v_max] (digital); otherwise floating point (analog, hybrid). The last stage's neuron k
    votes for class k. ``ticks`` is the presentation length T; a run lasts ``ticks + len(stages) − 1`` ticks."""

    stages: list[Stage]
    n_inputs: int
    n_classes: int
    ticks: int
    integer: bool
    neg_threshold: float
    v_min: float = -np.inf
    v_max: float = np.inf
    info: dict[str, Any] = field(default_factory=dict)
    output_class: np.ndarray | None = None

    def classes_of_outputs(self) -> np.ndarray:
        """Class of every last-stage neuron (default: neuron k → class k)."""
        if self.output_class is not None:
            return self.output_class
        return np.arange(self.stages[-1].n_out)

    @property
    def run_ticks(self) -> int:
        return self.ticks + len(self.stages) - 1

    # ------------------------------------------------------------------ tick model
    def run_stage(self, k: int, a_in: np.ndarray) -> np.ndarray:
        """Spikes (B, ticks_run, n_out) uint8 of stage k for axon activity ``a_in`` (B, ticks_run, n_in)
        (activity already aligned: row t is what reaches the axons at tick t)."""
        st = self.stages[k]
        b, tt, n_in = a_in.shape
        cur = st.drive(a_in.reshape(b * tt, n_in)).reshape(b, tt, st.n_out)
        out = np.zeros((b, tt, st.n_out), np.uint8)
        if self.integer:
            it = np.int32 if max(abs(self.v_min), abs(self.v_max)) < 2**30 else np.int64
            cur_i = np.rint(cur).astype(it)
            v = np.broadcast_to(st.v_init.astype(it), (b, st.n_out)).copy()
            if st.leak is not None:
                cur_i += st.leak.astype(it)[None, None, :]
            alpha = st.threshold.astype(it)
            big = 2**62 if it is np.int64 else 2**30
            beta = it(min(self.neg_threshold, big))
            lo, hi = it(max(self.v_min, -big)), it(min(self.v_max, big))
            for t in range(tt):
                v += cur_i[:, t]
                np.clip(v, lo, hi, out=v)
                fire = v >= alpha
                v -= alpha * fire
                np.maximum(v, -beta, out=v)  # the floor (κ = 1): below −β → −β (never reached by a firing neuron)
                out[:, t] = fire
        else:
            vf = np.broadcast_to(st.v_init.astype(np.float64), (b, st.n_out)).copy()
            if st.leak is not None:
                cur = cur + st.leak[None, None, :]
            alf = st.threshold.astype(np.float64)
            bf = float(self.neg_threshold)
            for t in range(tt):
                vf = vf + cur[:, t]
                fire = vf >= alf
                vf = np.where(fire, vf - alf, vf)
                vf = np.where(~fire & (vf < -bf), -bf, vf)
                out[:, t] = fire
        return out

    @staticmethod
    def shift(spikes: np.ndarray) -> np.ndarray:
        """Spikes at tick t arrive at the next stage at t + 1."""
        a = np.zeros_like(spikes)
        a[:, 1:] = spikes[:, :-1]
        return a

    def pad_input(self, spikes: np.ndarray) -> np.ndarray:
        """(B, T_in, K) input spikes padded with silent ticks to the run length."""
        b, t_in, k = spikes.shape
        out = np.zeros((b, self.run_ticks, k), np.uint8)
        out[:, : min(t_in, self.run_ticks)] = spikes[:, : self.run_ticks]
        return out

    def run(self, spikes: np.ndarray, *, batch: int = 256, keep: bool = False) -> list[np.ndarray]:
        """Tick model on input spikes (B, T_in, K): spike counts (B, n_out) of every stage (``keep``) or of the
        last stage only (a one-element list)."""
        res: list[list[np.ndarray]] = [[] for _ in self.stages]
        for s in range(0, len(spikes), batch):
            a = self.pad_input(np.asarray(spikes[s : s + batch], np.uint8))
            for k in range(len(self.stages)):
                o = self.run_stage(k, a)
                if keep or k == len(self.stages) - 1:
                    res[k].append(o.sum(axis=1, dtype=np.int64))
                a = self.shift(o)
        if keep:
            return [np.concatenate(r) for r in res]
        return [np.concatenate(res[-1])]

    def class_counts(self, spikes: np.ndarray, *, batch: int = 256) -> np.ndarray:
        """Class scores (B, n_classes) from the tick model: spikes of each class's output neurons."""
        return self.scores(self.run(spikes, batch=batch)[0])

    def scores(self, last_counts: np.ndarray) -> np.ndarray:
        """Sum last-stage counts (B, n_out) into class scores (B, n_classes)."""
        out = np.zeros((len(last_counts), self.n_classes), last_counts.dtype)
        cls = self.classes_of_outputs()
        ok = (cls >= 0) & (cls < self.n_classes)
        np.add.at(out.T, cls[ok], last_counts[:, ok].T)
        return out

    # ------------------------------------------------------------------ rate model
    def rate_counts(self, input_counts: np.ndarray) -> list[np.ndarray]:
        """Rate model: counts of every stage from input counts (B, K): count = clip(⌊S/α⌋, 0, ticks_run) with
        S = V0 + λ·(d + T) + max(λ, 0)·(L − d) + Σ_i W_i C_i (stage depth d, L = stages − 1: a negative leak
        after the input window cannot undo spikes, a positive one adds drive)."""
        c = np.asarray(input_counts, np.float64)
        outs = []
        n_l = len(self.stages) - 1
        for d, st in enumerate(self.stages):
            s = st.drive(c) + st.v_init[None, :]
            if st.leak is not None:
                s = s + st.leak * (d + self.ticks) + np.maximum(st.leak, 0) * (n_l - d)
            c = np.clip(np.floor(s / st.threshold[None, :]), 0, self.run_ticks)
            outs.append(c)
        return outs


def spread_bias(st: Stage, depth: int, ticks: int, n_later: int, integer: bool,
                leak_range: tuple[float, float] = (-np.inf, np.inf), v_limit: float = np.inf) -> None:
    """Move a stage's bias from its initial potential into a per-tick leak, in place.

    On entry ``v_init`` = B + ½α (B the bias over the T-tick window). A bias held in V0 is delivered before
    any input arrives, so a positive one fires spikes that later inhibition cannot take back. Spread as a
    leak λ instead: for B > 0, λ = B/(T + L) over the whole run (the count is set by the final sum); for
    B < 0, λ = B/(T + d) over the ticks up to the end of the stage's window (later decline does not matter);
    the remainder (rounding, leak range) stays in V0. Either way the sum that sets the count is unchanged."""
    half = st.threshold // 2 if integer else st.threshold / 2
    b = st.v_init - half
    den = np.where(b > 0, ticks + n_later, ticks + depth)
    lam = b / den
    lam = np.clip(np.round(lam) if integer else lam, *leak_range)
    v0 = half + b - lam * den
    v0 = np.clip(v0, -v_limit, v_limit)
    st.leak = lam.astype(np.int64) if integer else lam
    st.v_init = v0.astype(np.int64) if integer else v0
