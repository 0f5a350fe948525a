"""Weight-tied convolutions (docs/methods/layerwise.md, "Convolutions"): one problem per kernel over (sample,
position) rows (:func:`_choose_tied`); on TrueNorth the output positions are tiled so that a tile's inputs fit
one core's axons (:func:`_position_tiles`, :func:`_hw_tied`), a folded average pooling whose kernel no longer
fits becomes its own stage (:func:`_pool_stage`), and a kernel wider than the fan-in is cut into tied partial
sums with combining neurons (:func:`_restructured_conv`).
"""

from __future__ import annotations

import time

import numpy as np

from spikeforge.methods.layerwise.ann import AnnLayer
from spikeforge.methods.layerwise.choose import Chosen, SelectionTally, _choose, _realise
from spikeforge.methods.layerwise.combiners import _choose_type_weights
from spikeforge.methods.layerwise.constraints import Constraints, ConvertOptions, ConvertReport, Method
from spikeforge.methods.layerwise.hwencode import _TN_TYPES, _tn_bits
from spikeforge.methods.layerwise.network import AxonSet, Block, SpikingNet, Stage, StageHardware
from spikeforge.methods.layerwise.restructure import _combine_stage
from spikeforge.methods.layerwise.scales import _mse_scale, _scale, _use_mse_scale
from spikeforge.methods.layerwise.solver import LevelSpec
from spikeforge.methods.layerwise.stages import _add_partial_stage, _pick_info, _run_collect, _spread


def _choose_tied(
    name: str, kernel: np.ndarray, bias: np.ndarray, patch: np.ndarray, units: np.ndarray, counts: np.ndarray,
    cons: Constraints, opts: ConvertOptions, method: Method, s_prev: float, s_l: float, y_all: np.ndarray,
) -> tuple[Stage, Chosen]:
    """A convolution: one problem per output channel over (sample, position) rows; weights stay tied.
    ``kernel`` (C, D) are the ANN weights over ``patch`` (P, D) rows, ``bias`` (C,)."""
    p = patch.shape[0]
    c_out = kernel.shape[0]
    n_in = counts.shape[1]
    xr = _tied_rows(counts, patch, cons.ticks)  # (N·P, D)
    yr = y_all.reshape(len(counts), c_out, p).transpose(0, 2, 1).reshape(-1, c_out)  # (N·P, C)
    rows = np.random.default_rng(0).choice(len(xr), min(len(xr), 20000), replace=False)
    ch = _choose(xr[rows], yr[rows], cons, opts, method, (kernel * s_prev / s_l, bias / s_l))
    w_eff, thr, v0 = _realise(ch, cons)
    neuron_of = np.arange(c_out)[:, None] * p + np.arange(p)[None, :]
    w_dense = _tied_dense(w_eff, patch, neuron_of, c_out * p, n_in)
    neurons = np.arange(c_out * p)
    used = np.flatnonzero(np.any(w_dense != 0, axis=0))
    hw = None
    if cons.integer and cons.truenorth_types:
        spec = cons.level_spec()
        assert spec is not None and ch.q is not None and cons.chip is not None
        hw = _hw_tied(ch.q, patch, neuron_of, cons, spec, cons.chip.core.n_axon_types)
    elif cons.integer:  # multi-bit crossbar: the crossbar holds W (type weight 1)
        hw = StageHardware(vaxon_src=used, vaxon_type=np.zeros(len(used), np.int64),
                           type_weights=np.ones((len(neurons), 1), np.int64),
                           sets=[AxonSet(vaxons=np.arange(len(used)), neurons=neurons,
                                         crossbar=w_dense[:, used].astype(np.int16))])
    stage = Stage(name=name, kind="conv", n_in=n_in, blocks=[Block(out=neurons, inp=used, w=w_dense[:, used])],
                  threshold=np.repeat(thr, p), v_init=np.repeat(v0, p), unit=units.copy(), hw=hw)
    return stage, ch


def _position_tiles(patch: np.ndarray, max_inputs: int) -> list[np.ndarray]:
    """Group the output positions of a convolution (P = H_o·W_o, square or row-major) into rectangular tiles
    whose receptive fields together read at most ``max_inputs`` inputs; the tile shape with the most positions
    per tile (then the fewest tiles) wins. Neurons of a tile share one set of axons on a core."""
    p = patch.shape[0]
    ho = round(float(np.sqrt(p)))
    wo = p // ho if ho * (p // ho) == p else p
    if ho * wo != p:
        ho, wo = 1, p
    grid = np.arange(p).reshape(ho, wo)
    best: list[np.ndarray] | None = None
    for th in range(1, ho + 1):
        for tw in range(1, wo + 1):
            tiles = [grid[y : y + th, x : x + tw].ravel() for y in range(0, ho, th) for x in range(0, wo, tw)]
            if max(len(np.unique(patch[t][patch[t] >= 0])) for t in tiles) > max_inputs:
                break
            if best is None or (th * tw, -len(tiles)) > (max(len(t) for t in best), -len(best)):
                best = tiles
    if best is None:
        raise ValueError(f"a single position reads {int((patch[0] >= 0).sum())} inputs > {max_inputs}")
    return best


def _hw_tied(q: np.ndarray, patch: np.ndarray, neuron_of: np.ndarray, cons: Constraints, spec: LevelSpec,
             n_types: int) -> StageHardware:
    """TrueNorth encoding of a weight-tied stage: neuron ``neuron_of[c, p]`` applies kernel row q[c] (integer
    levels over the D entries of ``patch`` rows) at position p. Every input is carried by 4 axons of types
    0-3 (two's-complement bits, per-type weights m·(1, 2, 4, −8)); positions are grouped into tiles
    (:func:`_position_tiles`) whose neurons share the union of their inputs' axons, so neighbouring neurons
    read the same axons and the packer can put a tile on one core. Virtual axons are numbered per
    (input, type) over the whole stage, so tiles that read the same input share its axons when packed together."""
    fan_in = cons.fan_in
    assert fan_in is not None
    used = np.unique(patch[patch >= 0])
    rank = np.full(int(used.max()) + 1 if used.size else 1, -1, np.int64)
    rank[used] = np.arange(len(used))
    vaxon_src = np.repeat(used, 4)
    vaxon_type = np.tile(np.arange(4), len(used))
    n_out = int(neuron_of.max()) + 1
    tw = np.zeros((n_out, n_types), np.int64)
    tw[:, :4] = spec.m * _TN_TYPES
    bits = _tn_bits(q)  # (C, D, 4)
    sets: list[AxonSet] = []
    for tile in _position_tiles(patch, fan_in):
        inp = np.unique(patch[tile][patch[tile] >= 0])
        vax = (rank[inp][:, None] * 4 + np.arange(4)[None, :]).ravel()
        col = np.full(len(rank), -1, np.int64)
        col[inp] = np.arange(len(inp))
        neurons = neuron_of[:, tile].ravel()  # channel-major within the tile
        xb = np.zeros((len(neurons), len(vax)), np.int16)
        c_idx = np.repeat(np.arange(q.shape[0]), len(tile))
        p_idx = np.tile(tile, q.shape[0])
        for d in range(patch.shape[1]):
            src = patch[p_idx, d]
            ok = src >= 0
            rows = np.flatnonzero(ok)
            base = col[src[ok]] * 4
            for g in range(4):
                xb[rows, base + g] = bits[c_idx[ok], d, g]
        sets.append(AxonSet(vaxons=vax, neurons=neurons, crossbar=xb))
    return StageHardware(vaxon_src=vaxon_src, vaxon_type=vaxon_type, type_weights=tw, sets=sets)


def _tied_dense(w_eff: np.ndarray, patch: np.ndarray, neuron_of: np.ndarray, n_out: int, n_in: int) -> np.ndarray:
    """The dense (n_out, n_in) weights of a tied stage: neuron_of[c, p] applies w_eff[c] over patch[p]."""
    c_out, p = neuron_of.shape
    d = patch.shape[1]
    w_dense = np.zeros((n_out, n_in), w_eff.dtype)
    rr = np.broadcast_to(neuron_of[:, :, None], (c_out, p, d))
    cc = np.broadcast_to(patch[None], (c_out, p, d))
    vv = np.broadcast_to(w_eff[:, None, :], (c_out, p, d))
    ok = cc >= 0
    np.add.at(w_dense, (rr[ok], cc[ok]), vv[ok])
    return w_dense


def _tied_rows(counts: np.ndarray, patch: np.ndarray, ticks: int) -> np.ndarray:
    """(N·P, D) input rates of every (sample, position) row (padding reads 0)."""
    n_in = counts.shape[1]
    x_full = np.concatenate([counts / ticks, np.zeros((len(counts), 1))], axis=1)
    return x_full[:, np.where(patch >= 0, patch, n_in)].reshape(-1, patch.shape[1])


def _pool_stage(net: SpikingNet, layer: AnnLayer, raster: np.ndarray, a_prev: np.ndarray, s_prev: float,
                cons: Constraints, opts: ConvertOptions, method: Method,
                report: ConvertReport) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """A k×k average pooling as its own stage (used where the pooled convolution's fan-in does not fit a core).

    Pooled unit (c, y, x) reads the k² units of its window on one axon type with type weight m and threshold
    α: u = (m/α)·Σ x_i + b. Targets: the ANN's pooled activations over their own scale s_pool. Its gain
    g = s_prev/(k²·s_pool) is realised as m/α with m ≤ weight_max and α ≤ α_max (the largest exact-enough
    pair); layer-wise, the shared (gain, bias) of each channel is fitted on the stage's actual input counts
    like a combining neuron (hinge least squares, integer rounding, held-out guard). Returns (aligned output
    raster, counts, s_pool, the ANN's pooled activations)."""
    assert layer.pool_shape is not None and cons.chip is not None
    k = layer.pool
    c, h, w = layer.pool_shape
    ho, wo = h // k, w // k
    n_out = c * ho * wo
    cc, yy, xx = np.meshgrid(np.arange(c), np.arange(ho), np.arange(wo), indexing="ij")
    base = (cc * h * w + yy * k * w + xx * k).reshape(-1)
    offs = (np.arange(k)[:, None] * w + np.arange(k)[None, :]).reshape(-1)
    win = base[:, None] + offs[None, :]  # (n_out, k²) indices into the previous stage's units
    pooled = a_prev[:, win].mean(axis=2)
    s_pool = (_mse_scale(pooled, cons.ticks) if method == "layerwise" and _use_mse_scale(opts, cons)
              else _scale(pooled, opts.percentile))
    g = s_prev / (k * k * s_pool)
    t0 = time.perf_counter()
    # per channel: one neuron type whose input is the window sum (rows = samples × positions)
    counts_in = raster.sum(axis=1).astype(np.float64)
    win_sum = counts_in[:, win].sum(axis=2) / cons.ticks  # (N, n_out)
    per = ho * wo
    xs = win_sum.reshape(len(win_sum), c, per).transpose(1, 0, 2).reshape(c, -1, 1)  # (C, N·P, 1)
    ys = np.clip(pooled / s_pool, 0.0, 1.0).reshape(len(pooled), c, per).transpose(0, 2, 1).reshape(-1, c)
    rows = np.random.default_rng(0).choice(xs.shape[1], min(xs.shape[1], 20000), replace=False)
    core = cons.chip.core
    spec = LevelSpec(1, core.weight_max, "integer", m=1,
                     alpha_max=int(min(core.threshold_max, core.v_max // (8 * cons.ticks))), ticks=cons.ticks)
    thr_c, v0_c, tw_c, info = _choose_type_weights(xs[:, rows], ys[rows], np.full((c, 1), g), np.zeros(c), spec,
                                                   cons, opts, method)
    thr = np.repeat(thr_c, per)
    v0 = np.repeat(v0_c, per)
    tws = np.zeros((n_out, core.n_axon_types), np.int64)
    tws[:, 0] = np.repeat(tw_c[:, 0], per)
    w_dense = np.zeros((n_out, raster.shape[2]), np.int64)
    np.put_along_axis(w_dense, win, tws[:, :1], axis=1)
    # axon sets: per channel, tiles of pooled positions whose windows fit the core's axons (one axon per input)
    patch = (yy[0] * k * w + xx[0] * k).reshape(-1)[:, None] + offs[None, :]  # channel-0 windows
    vaxon_src = np.arange(raster.shape[2])
    sets = []
    for tile in _position_tiles(patch, core.n_axons):
        for ch in range(c):
            neurons = ch * per + tile
            inp = np.unique(win[neurons].ravel())
            col = {int(i): j for j, i in enumerate(inp)}
            xb = np.zeros((len(neurons), len(inp)), np.int16)
            for r, nn in enumerate(neurons):
                xb[r, [col[int(i)] for i in win[nn]]] = 1
            sets.append(AxonSet(vaxons=inp, neurons=neurons, crossbar=xb))
    hw = StageHardware(vaxon_src=vaxon_src, vaxon_type=np.zeros(len(vaxon_src), np.int64), type_weights=tws,
                       sets=sets)
    stage = Stage(name=f"{layer.name}.pool", kind="pool", n_in=raster.shape[2],
                  blocks=[Block(out=np.arange(n_out), inp=np.arange(raster.shape[2]), w=w_dense)],
                  threshold=thr, v_init=v0, unit=-np.ones(n_out, np.int64), hw=hw)
    _spread(net, stage, cons)
    net.stages.append(stage)
    report.stages.append({"stage": stage.name, "kind": "pool", "neurons": n_out, "fan_in": k * k,
                          "solve_s": round(time.perf_counter() - t0, 3), **info})
    out, cnt_out = _run_collect(net, len(net.stages) - 1, raster, opts.batch)
    return out, cnt_out, s_pool, pooled


def _restructured_conv(
    net: SpikingNet, name: str, kernel: np.ndarray, bias: np.ndarray, patch: np.ndarray, raster: np.ndarray,
    counts: np.ndarray, a_in: np.ndarray, y_all: np.ndarray, s_prev: float, s_l: float, cons: Constraints,
    spec: LevelSpec, opts: ConvertOptions, method: Method, report: ConvertReport,
) -> tuple[np.ndarray, np.ndarray]:
    """A convolution whose receptive field exceeds a core's fan-in, as partial sums + combining neurons, with
    the weights tied across positions (docs, "Fan-in: restructured layers").

    The kernel's D entries are cut into K blocks of ≤ fan-in; for output channel c, block k, position p a pair
    of partial neurons targets clip(±p_ckp/σ_c, 0, 1) (p_ckp the ANN's partial sum on its own inputs, σ_c a
    high percentile of |p_c··|); each (block, sign, channel) kernel is one problem over (sample, position)
    rows. Combining neuron (c, p) reads its 2K partials (positive on axon type 0, negative on type 1) with
    per-channel type weights, threshold and bias fitted on the partials' actual counts."""
    fan_in = cons.fan_in
    assert fan_in is not None and cons.chip is not None
    t0 = time.perf_counter()
    c_out, d = kernel.shape
    p = patch.shape[0]
    n = len(counts)
    n_in = raster.shape[2]
    n_blocks = -(-d // fan_in)
    blocks = np.array_split(np.arange(d), n_blocks)
    a_full = np.concatenate([a_in, np.zeros((n, 1))], axis=1)
    pidx = np.where(patch >= 0, patch, a_in.shape[1])
    part = [np.einsum("npd,cd->ncp", a_full[:, pidx[:, blk]], kernel[:, blk]) for blk in blocks]  # K × (N, C, P)
    sigma = np.maximum(np.percentile(np.abs(np.stack(part)), opts.percentile, axis=(0, 1, 3)), 1e-9)  # (C,)
    rows = np.random.default_rng(0).choice(n * p, min(n * p, 20000), replace=False)
    x_rows = _tied_rows(counts, patch, cons.ticks)[rows]  # (R, D)
    n_part = n_blocks * 2 * c_out * p
    thr = np.zeros(n_part, np.int64)
    v0 = np.zeros(n_part, np.int64)
    tws = np.zeros((n_part, cons.chip.core.n_axon_types), np.int64)
    part_blocks: list[Block] = []
    sets: list[AxonSet] = []
    vsrc, vtyp = [], []
    voff = 0
    tally = SelectionTally()
    for kb, blk in enumerate(blocks):
        pk = part[kb].transpose(0, 2, 1).reshape(n * p, c_out)[rows] / sigma[None, :]  # (R, C)
        yk = np.clip(np.hstack([pk, -pk]), 0.0, 1.0)
        w_an = kernel[:, blk] * s_prev / sigma[:, None]
        ch = _choose(x_rows[:, blk], yk, cons, opts, method, (np.vstack([w_an, -w_an]), np.zeros(2 * c_out)))
        tally.add(ch)
        w_eff, th, v = _realise(ch, cons)
        base = kb * 2 * c_out * p
        neuron_of = base + np.arange(2 * c_out)[:, None] * p + np.arange(p)[None, :]  # (2C, P)
        thr[neuron_of] = th[:, None]
        v0[neuron_of] = v[:, None]
        sub = patch[:, blk]
        used = np.unique(sub[sub >= 0])
        local = _tied_dense(w_eff, sub, neuron_of - base, 2 * c_out * p, n_in)
        part_blocks.append(Block(out=base + np.arange(2 * c_out * p), inp=used, w=local[:, used]))
        assert ch.q is not None
        hw_k = _hw_tied(ch.q, sub, neuron_of, cons, spec, cons.chip.core.n_axon_types)
        vsrc.append(hw_k.vaxon_src)
        vtyp.append(hw_k.vaxon_type)
        tws[neuron_of.ravel()] = hw_k.type_weights[neuron_of.ravel()]
        sets += [AxonSet(vaxons=s.vaxons + voff, neurons=s.neurons, crossbar=s.crossbar) for s in hw_k.sets]
        voff += len(hw_k.vaxon_src)
    hw = StageHardware(vaxon_src=np.concatenate(vsrc), vaxon_type=np.concatenate(vtyp), type_weights=tws,
                       sets=sets)
    st = Stage(name=f"{name}.partial", kind="partial", n_in=n_in, blocks=part_blocks, threshold=thr, v_init=v0,
               unit=-np.ones(n_part, np.int64), hw=hw)
    pc, packed = _add_partial_stage(net, st, cons, report, raster, opts.batch, {
        "neurons": n_part, "blocks": n_blocks, "fan_in": int(max(len(b) for b in blocks)), "error_l2": tally.err,
        "solve_s": round(time.perf_counter() - t0, 3), **_pick_info(tally.picks, [tally.err_va, tally.err_va_norm])})
    # ---- combining neurons (c, p): per-channel type weights over (sample, position) rows
    t1 = time.perf_counter()
    ids = np.arange(n_part).reshape(n_blocks, 2, c_out, p)
    pos = pc[:, ids[:, 0]].sum(axis=1) / cons.ticks  # (N, C, P)
    neg = pc[:, ids[:, 1]].sum(axis=1) / cons.ticks
    rows2 = np.random.default_rng(1).choice(n * p, min(n * p, 20000), replace=False)
    xs = np.stack([pos.transpose(1, 0, 2).reshape(c_out, -1), neg.transpose(1, 0, 2).reshape(c_out, -1)], axis=2)
    ys = y_all.reshape(n, c_out, p).transpose(0, 2, 1).reshape(-1, c_out)
    core = cons.chip.core
    cspec = LevelSpec(core.weight_min, core.weight_max, "integer", m=1,
                      alpha_max=int(min(core.threshold_max, core.v_max // (8 * cons.ticks))), ticks=cons.ticks)
    g = sigma / s_l
    c_thr, c_v0, c_tw, c_info = _choose_type_weights(xs[:, rows2], ys[rows2], np.stack([g, -g], axis=1), bias / s_l,
                                                     cspec, cons, opts, method)
    n_comb = c_out * p
    return _combine_stage(net, f"{name}.combine", ids.reshape(n_blocks, 2, n_comb), np.repeat(c_tw, p, axis=0),
                          np.repeat(c_thr, p), np.repeat(c_v0, p), np.arange(n_comb), packed, n_part, cons, report,
                          t1, c_info)
