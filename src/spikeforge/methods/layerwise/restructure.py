"""Fan-in restructuring of a dense layer whose inputs do not fit one core (docs/methods/layerwise.md, "Fan-in:
restructured layers"): a stage of partial-sum neuron pairs over input blocks that fit, then a stage of
combining neurons that add each unit's pairs with per-type weights and the unit's bias
(:func:`_restructured`). :func:`_combine_stage` builds and runs the combining stage; the weight-tied
convolutions (:mod:`.conv`) use it too.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from spikeforge.methods.layerwise.ann import AnnLayer
from spikeforge.methods.layerwise.choose import SelectionTally, _choose, _realise
from spikeforge.methods.layerwise.combiners import _choose_combiners
from spikeforge.methods.layerwise.constraints import Constraints, ConvertOptions, ConvertReport, Method
from spikeforge.methods.layerwise.hwencode import _hw_dense
from spikeforge.methods.layerwise.network import AxonSet, Block, SpikingNet, Stage, StageHardware
from spikeforge.methods.layerwise.solver import LevelSpec
from spikeforge.methods.layerwise.stages import _add_partial_stage, _pick_info, _spread


def _restructured(
    net: SpikingNet, layer: AnnLayer, li: int, units: np.ndarray, raster: np.ndarray, counts: np.ndarray,
    src_idx: np.ndarray, src_units: np.ndarray, x: np.ndarray, y_all: np.ndarray, a_ann: np.ndarray,
    s_prev: float, s_l: float, cons: Constraints, spec: LevelSpec, opts: ConvertOptions, method: Method,
    report: ConvertReport,
) -> tuple[np.ndarray, np.ndarray]:
    """Partial-sum stage + combining stage for a layer whose fan-in exceeds one core."""
    fan_in = cons.fan_in
    assert fan_in is not None
    t0 = time.perf_counter()
    n_units = len(units)
    n_blocks = -(-len(src_idx) // fan_in)
    blocks = np.array_split(np.arange(len(src_idx)), n_blocks)
    # ANN partial sums on the ANN's own inputs (the intensities for layer 1, a_{ℓ−1} otherwise)
    a_in = a_ann[:, src_units]
    w_l = layer.w[np.ix_(units, src_units)]  # (J, D) ANN weights
    partial_targets = [a_in[:, blk] @ w_l[:, blk].T for blk in blocks]  # K x (N, J)
    # σ_j: per unit, a high percentile of |p_jk| over blocks and samples
    stack = np.abs(np.stack(partial_targets))  # (K, N, J)
    sigma = np.array([max(np.percentile(stack[:, :, j], opts.percentile), 1e-9) for j in range(n_units)])
    # ---- partial stage
    n_part = 2 * n_units * n_blocks
    thr = np.zeros(n_part, np.int64)
    v0 = np.zeros(n_part, np.int64)
    part_blocks: list[Block] = []
    sets: list[AxonSet] = []
    vsrc, vtyp, tws = [], [], np.zeros((n_part, 4), np.int64)
    voff = 0
    tally = SelectionTally()
    pair_idx = np.zeros((n_blocks, 2, n_units), np.int64)  # neuron id of (block, sign, unit)
    for kb, blk in enumerate(blocks):
        xk = x[:, blk]
        p = partial_targets[kb] / sigma[None, :]
        yk = np.clip(np.hstack([p, -p]), 0.0, 1.0)
        w_an = w_l[:, blk] * s_prev / sigma[:, None]
        an = (np.vstack([w_an, -w_an]), np.zeros(2 * n_units))
        ch = _choose(xk, yk, cons, opts, method, an)
        tally.add(ch)
        w_eff, th, v = _realise(ch, cons)
        ids = kb * 2 * n_units + np.arange(2 * n_units)
        pair_idx[kb, 0], pair_idx[kb, 1] = ids[:n_units], ids[n_units:]
        thr[ids], v0[ids] = th, v
        part_blocks.append(Block(out=ids, inp=src_idx[blk], w=w_eff))
        assert ch.q is not None
        src, typ, tw, aset = _hw_dense(ch.q, src_idx[blk], ids, cons, spec, voff)
        voff += len(src)
        vsrc.append(src)
        vtyp.append(typ)
        tws[ids, : tw.shape[1]] = tw
        sets.append(aset)
    n_types = cons.chip.core.n_axon_types  # type: ignore[union-attr]
    hw = StageHardware(vaxon_src=np.concatenate(vsrc), vaxon_type=np.concatenate(vtyp),
                       type_weights=tws[:, :n_types], sets=sets)
    part = Stage(name=f"{layer.name}.partial", kind="partial", n_in=raster.shape[2], blocks=part_blocks,
                 threshold=thr, v_init=v0, unit=np.tile(np.r_[units, units], n_blocks), hw=hw)
    # partial counts (the combiner's inputs); the partial raster is kept bit-packed for the combiner's run
    pc, packed = _add_partial_stage(net, part, cons, report, raster, opts.batch, {
        "neurons": n_part, "blocks": n_blocks, "fan_in": int(max(len(b) for b in blocks)), "error_l2": tally.err,
        "solve_s": round(time.perf_counter() - t0, 3), **_pick_info(tally.picks, [tally.err_va, tally.err_va_norm])})
    # ---- combining stage: unit j reads its positive partials (type 0) and negative partials (type 1)
    t1 = time.perf_counter()
    pos = pc[:, pair_idx[:, 0, :]].sum(axis=1) / cons.ticks  # (N, J)
    neg = pc[:, pair_idx[:, 1, :]].sum(axis=1) / cons.ticks
    c_thr, c_v0, c_tw, c_info = _choose_combiners(pos, neg, y_all, sigma / s_l, layer.b[units] / s_l, cons, opts,
                                                  method)
    return _combine_stage(net, f"{layer.name}.combine", pair_idx, c_tw, c_thr, c_v0, units.copy(), packed, n_part,
                          cons, report, t1, c_info)


def _combine_stage(
    net: SpikingNet, name: str, pair_idx: np.ndarray, type_w: np.ndarray, thr: np.ndarray, v0: np.ndarray,
    unit: np.ndarray, packed: list[np.ndarray], n_part: int, cons: Constraints, report: ConvertReport,
    t_start: float, info: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """The combining stage of a restructured layer, appended to ``net`` and run.

    Combining neuron j reads its K positive partials ``pair_idx[:, 0, j]`` on axon type 0 and its K negative
    partials ``pair_idx[:, 1, j]`` on axon type 1 (``pair_idx`` (K, 2, J): partial-stage neuron ids), each on
    its own axon, with type weights ``type_w[j]`` (J, 2), threshold ``thr[j]``, V0 ``v0[j]``, ANN unit
    ``unit[j]``. ``packed``: the partial stage's aligned output raster in batches, bit-packed along its
    ``n_part`` neurons; ``t_start``: when the combiners' solve began (the report's ``solve_s``), ``info``:
    their report fields. Returns (aligned output raster for the next stage, counts)."""
    assert cons.chip is not None
    n_blocks, _, n_comb = pair_idx.shape
    c_blocks, c_sets, cvsrc, cvtyp = [], [], [], []
    voff = 0
    for j in range(n_comb):
        srcs = np.r_[pair_idx[:, 0, j], pair_idx[:, 1, j]]
        typ = np.r_[np.zeros(n_blocks, np.int64), np.ones(n_blocks, np.int64)]
        wrow = np.where(typ == 0, type_w[j, 0], type_w[j, 1])[None, :]
        c_blocks.append(Block(out=np.array([j]), inp=srcs, w=wrow.astype(np.int64)))
        cvsrc.append(srcs)
        cvtyp.append(typ)
        c_sets.append(AxonSet(vaxons=voff + np.arange(len(srcs)), neurons=np.array([j]),
                              crossbar=np.ones((1, len(srcs)), np.int16)))
        voff += len(srcs)
    tw_full = np.zeros((n_comb, cons.chip.core.n_axon_types), np.int64)
    tw_full[:, :2] = type_w
    comb = Stage(name=name, kind="combine", n_in=n_part, blocks=c_blocks, threshold=thr, v_init=v0, unit=unit,
                 hw=StageHardware(vaxon_src=np.concatenate(cvsrc), vaxon_type=np.concatenate(cvtyp),
                                  type_weights=tw_full, sets=c_sets))
    _spread(net, comb, cons)
    net.stages.append(comb)
    kc = len(net.stages) - 1
    report.stages.append({"stage": comb.name, "kind": "combine", "neurons": n_comb, "fan_in": 2 * n_blocks,
                          "solve_s": round(time.perf_counter() - t_start, 3), **info})
    outs = [net.run_stage(kc, np.unpackbits(a, axis=2, count=n_part)) for a in packed]
    o = np.concatenate(outs)
    return SpikingNet.shift(o), o.sum(axis=1).astype(np.float64)
