"""Adding stages to the spiking network under construction: bias → leak spreading (:func:`_spread`), running
a new stage over the aligned raster of its inputs (:func:`_run_collect`), the report fields of a stage's
held-out selection (:func:`_pick_info`), and the staggered replicas of the output neurons
(:func:`replicate_outputs`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikeforge.methods.layerwise.constraints import Constraints, ConvertReport
from spikeforge.methods.layerwise.network import AxonSet, Block, SpikingNet, Stage, StageHardware, spread_bias


def replicate_outputs(st: Stage, r: int, integer: bool) -> Stage:
    """R copies of every output neuron with initial potentials staggered by α/R. By Hermite's identity
    Σ_k ⌊x + k/R⌋ = ⌊R·x⌋, the copies' summed count is ⌊R·S/α⌋ (rate model): R times the resolution of one
    neuron, so close classes tie less often. Copies read the same axons (free on a crossbar)."""
    n = st.n_out
    ids = lambda o: (np.asarray(o)[:, None] * r + np.arange(r)[None, :]).ravel()  # noqa: E731
    blocks = [Block(out=ids(b.out), inp=b.inp, w=np.repeat(b.w, r, axis=0)) for b in st.blocks]
    thr = np.repeat(st.threshold, r)
    k = np.tile(np.arange(r), n)
    base = st.v_init - (st.threshold // 2 if integer else st.threshold / 2)  # undo the single neuron's ½
    if integer:
        v0 = np.repeat(base, r) + ((2 * k + 1) * thr) // (2 * r)
    else:
        v0 = np.repeat(base, r) + (2 * k + 1) * thr / (2 * r)
    hw = None
    if st.hw is not None:
        sets = [AxonSet(vaxons=s.vaxons, neurons=ids(s.neurons), crossbar=np.repeat(s.crossbar, r, axis=0))
                for s in st.hw.sets]
        hw = StageHardware(vaxon_src=st.hw.vaxon_src, vaxon_type=st.hw.vaxon_type,
                           type_weights=np.repeat(st.hw.type_weights, r, axis=0), sets=sets)
    return Stage(name=st.name, kind=st.kind, n_in=st.n_in, blocks=blocks, threshold=thr, v_init=v0,
                 unit=np.repeat(st.unit, r), hw=hw, leak=None if st.leak is None else np.repeat(st.leak, r))


def _spread(net: SpikingNet, st: Stage, cons: Constraints) -> None:
    """Bias → leak for a stage about to become stage ``len(net.stages)`` (see :func:`spread_bias`)."""
    if not net.info.get("leak_bias", True):
        return
    core = cons.chip.core if cons.integer and cons.chip else None
    rng = (float(core.leak_min), float(core.leak_max)) if core else (-np.inf, np.inf)
    lim = float(core.v_max // 2) if core else np.inf
    spread_bias(st, len(net.stages), cons.ticks, int(net.info["n_stages"]) - 1, cons.integer, rng, lim)


def _pick_info(picks: dict[str, int], err_va: list[float]) -> dict[str, Any]:
    """Report fields of a stage's held-out selection (empty for the normalisation baseline)."""
    if not picks:
        return {}
    return {"pick": picks, "err_va": round(err_va[0], 6), "err_va_norm": round(err_va[1], 6)}


def _run_collect(net: SpikingNet, k: int, raster: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Run stage k over the aligned raster; returns (aligned output raster for the next stage, counts)."""
    outs = []
    for s in range(0, len(raster), batch):
        outs.append(net.run_stage(k, raster[s : s + batch]))
    o = np.concatenate(outs)
    return SpikingNet.shift(o), o.sum(axis=1).astype(np.float64)


def _run_partials(net: SpikingNet, k: int, raster: np.ndarray, batch: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Run partial-sum stage k over the aligned raster; returns its per-neuron spike counts (N, n_part) and the
    aligned output raster, bit-packed along the neuron axis per batch (the combining stage's input)."""
    counts, packed = [], []
    for s in range(0, len(raster), batch):
        o = net.run_stage(k, raster[s : s + batch])
        counts.append(o.sum(axis=1).astype(np.float64))
        packed.append(np.packbits(SpikingNet.shift(o), axis=2))
    return np.concatenate(counts), packed


def _add_partial_stage(net: SpikingNet, st: Stage, cons: Constraints, report: ConvertReport, raster: np.ndarray,
                       batch: int, info: dict[str, Any]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Spread partial-sum stage ``st`` over cores, append it to ``net``, record it in ``report`` (``info``: its
    neurons, blocks, fan-in, error and solve time) and run it: returns :func:`_run_partials`'s counts and
    packed raster (the combining stage's inputs)."""
    _spread(net, st, cons)
    net.stages.append(st)
    report.stages.append({"stage": st.name, "kind": "partial", **info})
    return _run_partials(net, len(net.stages) - 1, raster, batch)
