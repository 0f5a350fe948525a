"""Layer-wise conversion of an ANN into a rate-coded spiking network (docs/methods/layerwise.md): the
orchestration — node pruning, layer scales, the plan of stages, and layer by layer the stage(s) that realise
each ANN layer.

For every ANN layer ℓ, in order, with the *converted* network's own spike counts of layer ℓ − 1 on the
calibration data as inputs (x = count / T), the synapses of layer ℓ's spiking neurons are chosen to
minimise the hinge-aware error between their linearised rate and the ANN unit's normalised activation
y = clip(a_ℓ / s_ℓ, 0, 1) (s_ℓ: the layer scale, :func:`.scales._mse_scale` or a high percentile); see
:mod:`.solver`. Every neuron picks among candidate solutions (ridge strengths, the normalised weights, a
warm start from them, LPs) by its error on held-out calibration rows (:func:`.choose._relax`,
:func:`.choose._choose`).

A layer whose fan-in does not fit one core (TrueNorth: 256 axons, 4 per input) is *restructured*
(:mod:`.restructure`): its (selected) inputs are cut into blocks that fit; for every ANN unit j and block k
a pair of partial-sum neurons fires at the rates clip(±p_jk / σ_j, 0, 1) of the ANN's partial sums
p_jk = W_j,k · a_k, and a combining neuron adds the pairs with per-type weights (+ for positive partials, −
for negative ones) and the unit's bias (:mod:`.combiners`). Both stages are solved layer-wise: the partials
against the ANN partial sums, the combiner against the ANN unit from the partials' *actual* spike counts, so
the restructured layer as a whole approximates the ANN layer. Convolutions keep their weight tying (one
problem per kernel over (sample, position) rows; :mod:`.conv`); on TrueNorth they are tiled
(:func:`.conv._position_tiles`), a folded average pooling whose kernel no longer fits becomes its own stage
(:func:`.conv._pool_stage`), and a kernel wider than the fan-in is cut into tied partial sums
(:func:`.conv._restructured_conv`).

``method="normalisation"`` is the baseline: data-based weight normalisation (ŵ = W·s_{ℓ−1}/s_ℓ,
b̂ = b/s_ℓ; Diehl 2015, Rueckauer 2017; snn_toolbox / SpikingJelly ann2snn) followed by rounding onto the
same constraints and the same restructuring, without any fitting.

The modules of the conversion: :mod:`.constraints` (constraint sets, options, report), :mod:`.choose`
(weight choice), :mod:`.combiners` (per-type weights of combining and pooling neurons), :mod:`.hwencode`
(hardware encodings of dense weights), :mod:`.scales` (layer scales), :mod:`.stages` (adding and running
stages), :mod:`.restructure` (fan-in restructuring), :mod:`.conv` (convolutions). The names callers import
from here are re-exported.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from spikeforge.data.encode import regular_encode
from spikeforge.methods.layerwise.ann import AnnLayer, forward
from spikeforge.methods.layerwise.choose import COARSE_LEVELS, Chosen, _choose, _realise
from spikeforge.methods.layerwise.constraints import (
    ConstraintName,
    Constraints,
    ConvertOptions,
    ConvertReport,
    Method,
    make_constraints,
)
from spikeforge.methods.layerwise.conv import _choose_tied, _pool_stage, _position_tiles, _restructured_conv
from spikeforge.methods.layerwise.hwencode import _hw_dense
from spikeforge.methods.layerwise.network import Block, SpikingNet, Stage, StageHardware
from spikeforge.methods.layerwise.prune import select_units
from spikeforge.methods.layerwise.restructure import _restructured
from spikeforge.methods.layerwise.scales import MSE_SCALE_PERCENTILES, _mse_scale, _scale, _use_mse_scale
from spikeforge.methods.layerwise.stages import _pick_info, _run_collect, _spread, replicate_outputs

__all__ = [
    "COARSE_LEVELS",
    "MSE_SCALE_PERCENTILES",
    "Chosen",
    "ConstraintName",
    "Constraints",
    "ConvertOptions",
    "ConvertReport",
    "Method",
    "_choose",
    "_mse_scale",
    "_position_tiles",
    "convert",
    "make_constraints",
    "replicate_outputs",
]


#: stages each plan kind of :func:`_plan` creates
_PLAN_STAGES = {"dense": 1, "split": 2, "conv": 1, "conv-split": 2, "pool+conv": 2, "pool+conv-split": 3}


def _plan(layers: list[AnnLayer], kept: list[np.ndarray], n_inputs: int, fan_in: int | None) -> list[str]:
    """How every layer becomes stages: "dense"; "split" (partial sums + combining neurons, fan-in > a core's);
    "conv" (weight-tied); "conv-split" (tied partial sums + combining neurons); "pool+conv" / "pool+conv-split"
    (a convolution whose folded pooling makes its receptive field too large: pooling as its own stage, then
    the convolution on the pooled map)."""
    plan: list[str] = []
    n_in_prev = n_inputs
    for li, layer in enumerate(layers):
        if layer.tied:
            assert layer.kernel is not None
            if fan_in is None or layer.kernel.shape[1] <= fan_in:
                plan.append("conv")
            elif layer.pool and layer.kernel_pooled is not None:
                plan.append("pool+conv" if layer.kernel_pooled.shape[1] <= fan_in else "pool+conv-split")
            else:
                plan.append("conv-split")
        else:
            plan.append("split" if fan_in is not None and n_in_prev > fan_in else "dense")
        n_in_prev = len(kept[li])
    return plan


def _keep_list(keep: float | list[float], n_hidden: int) -> list[float]:
    if isinstance(keep, int | float):
        return [float(keep)] * n_hidden
    if len(keep) != n_hidden:
        raise ValueError(f"keep has {len(keep)} entries for {n_hidden} hidden layers")
    return [float(k) for k in keep]


def convert(
    layers: list[AnnLayer],
    x_calib: np.ndarray,
    cons: Constraints,
    *,
    method: Method = "layerwise",
    options: ConvertOptions | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[SpikingNet, ConvertReport]:
    """Convert ANN ``layers`` into a :class:`SpikingNet` under ``cons`` using calibration inputs ``x_calib``
    (N, n_inputs) intensities in [0, 1]. Returns the network and a report (see module docstring)."""
    opts = options or ConvertOptions()
    say = log or (lambda s: None)
    x_calib = np.asarray(x_calib, np.float64).reshape(len(x_calib), -1)
    n_hidden = len(layers) - 1
    keep = _keep_list(opts.keep, n_hidden)
    zs = forward(layers, x_calib)
    acts = [np.maximum(z, 0.0) if la.relu else z for z, la in zip(zs, layers, strict=True)]
    report = ConvertReport()
    # ---- node pruning: choose the units of every hidden layer (on the ANN's activations)
    kept: list[np.ndarray] = []
    for li, layer in enumerate(layers):
        if li < n_hidden and keep[li] < 1.0:
            if layer.tied:
                raise ValueError("node pruning of convolutional layers is not supported")
            k = max(1, round(keep[li] * layer.n_out))
            z_next = zs[li + 1] / _scale(np.maximum(zs[li + 1], 0), opts.percentile)
            kept.append(np.sort(select_units(acts[li], z_next, k)))
        else:
            kept.append(np.arange(layer.n_out))
    report.kept = [k.tolist() for k in kept]
    # ---- layer scales (original ANN activations of the kept units)
    if method == "layerwise" and _use_mse_scale(opts, cons):
        scales = [_mse_scale(acts[li][:, kept[li]], cons.ticks * (opts.output_replicas if li == n_hidden else 1))
                  for li in range(len(layers))]
    else:
        scales = [_scale(acts[li][:, kept[li]], opts.percentile) for li in range(len(layers))]
    report.scales = scales
    # ---- plan stages (restructuring)
    fan_in = cons.fan_in
    in_active = np.flatnonzero(x_calib.max(axis=0) > 0) if opts.input_selection else np.arange(x_calib.shape[1])
    plan = _plan(layers, kept, len(in_active), fan_in)
    n_stages = sum(_PLAN_STAGES[p] for p in plan)
    spec = cons.level_spec()
    net = SpikingNet(stages=[], n_inputs=x_calib.shape[1], n_classes=layers[-1].n_out, ticks=cons.ticks,
                     integer=cons.integer,
                     neg_threshold=float(cons.chip.core.threshold_max) if cons.integer and cons.chip else np.inf,
                     v_min=float(cons.chip.core.v_min) if cons.integer and cons.chip else -np.inf,
                     v_max=float(cons.chip.core.v_max) if cons.integer and cons.chip else np.inf,
                     info={"method": method, "constraints": cons.name,
                           "chip": cons.chip.name if cons.chip else None, "n_stages": n_stages,
                           "leak_bias": opts.leak_bias})
    run_ticks = cons.ticks + n_stages - 1
    # rasters of the current layer boundary, aligned (row t = what reaches the next stage's axons at t)
    raster = np.zeros((len(x_calib), run_ticks, x_calib.shape[1]), np.uint8)
    raster[:, : cons.ticks] = regular_encode(x_calib, cons.ticks)
    counts = raster.sum(axis=1).astype(np.float64)
    t_total = time.perf_counter()
    s_prev = 1.0
    src_idx = in_active  # input indices (into the raster) of the current layer's inputs
    src_units = np.arange(layers[0].n_in)[in_active]  # their ANN unit ids (columns of w)
    for li, layer in enumerate(layers):
        units = kept[li]
        s_l = scales[li]
        # target rates: the ANN unit's activation (hidden: ReLU output; last layer: the logit) over s_ℓ, clipped
        y_all = np.clip(zs[li][:, units] / s_l, 0.0, 1.0)
        x = counts[:, src_idx] / cons.ticks
        w_an = layer.w[np.ix_(units, src_units)] * s_prev / s_l
        b_an = layer.b[units] / s_l
        n_in = raster.shape[2]
        t0 = time.perf_counter()
        if layer.tied:
            assert layer.kernel is not None and layer.patch_idx is not None
            kernel, patch, a_in, s_in = layer.kernel, layer.patch_idx, x_calib if li == 0 else acts[li - 1], s_prev
            bias_c = layer.b.reshape(kernel.shape[0], -1)[:, 0]
            if plan[li].startswith("pool+"):
                assert layer.kernel_pooled is not None and layer.patch_pooled is not None
                raster, counts, s_in, a_in = _pool_stage(net, layer, raster, a_in, s_prev, cons, opts, method, report)
                kernel, patch = layer.kernel_pooled, layer.patch_pooled
            if plan[li].endswith("conv-split"):
                assert spec is not None
                raster, counts = _restructured_conv(net, layer.name, kernel, bias_c, patch, raster, counts, a_in, y_all,
                                                    s_in, s_l, cons, spec, opts, method, report)
            else:
                stage, ch_t = _choose_tied(layer.name, kernel, bias_c, patch, units, counts, cons, opts, method, s_in,
                                           s_l, y_all)
                report.stages.append({"stage": layer.name, "kind": "conv", "neurons": stage.n_out,
                                      "fan_in": int(kernel.shape[1]), "error_l2": ch_t.err,
                                      "solve_s": round(time.perf_counter() - t0, 3),
                                      **_pick_info(ch_t.pick, [ch_t.err_va or 0.0, ch_t.err_va_norm or 0.0])})
                _spread(net, stage, cons)
                net.stages.append(stage)
                raster, counts = _run_collect(net, len(net.stages) - 1, raster, opts.batch)
        elif plan[li] == "dense":
            ch_d = _choose(x, y_all, cons, opts, method, (w_an, b_an))
            w_eff, thr, v0 = _realise(ch_d, cons)
            neurons = np.arange(len(units))
            hw = None
            if cons.integer:
                assert spec is not None and ch_d.q is not None
                src, typ, tw, aset = _hw_dense(ch_d.q, src_idx, neurons, cons, spec, 0)
                hw = StageHardware(vaxon_src=src, vaxon_type=typ, type_weights=tw, sets=[aset])
            stage = Stage(name=layer.name, kind="dense", n_in=n_in,
                          blocks=[Block(out=neurons, inp=src_idx, w=w_eff)], threshold=thr, v_init=v0,
                          unit=units.copy(), hw=hw)
            report.stages.append({"stage": layer.name, "kind": "dense", "neurons": len(units),
                                  "fan_in": len(src_idx), "error_l2": ch_d.err,
                                  "solve_s": round(time.perf_counter() - t0, 3),
                                  **_pick_info(ch_d.pick, [ch_d.err_va or 0.0, ch_d.err_va_norm or 0.0])})
            _spread(net, stage, cons)
            net.stages.append(stage)
            k = len(net.stages) - 1
            out, cnt = _run_collect(net, k, raster, opts.batch)
            raster, counts = out, cnt
        else:
            assert fan_in is not None and spec is not None
            raster, counts = _restructured(net, layer, li, units, raster, counts, src_idx, src_units, x, y_all,
                                           x_calib if li == 0 else acts[li - 1], s_prev, s_l, cons, spec, opts,
                                           method, report)
        say(f"{layer.name}: {len(units)} units, stage(s) done in {time.perf_counter() - t0:.1f}s")
        s_prev = s_l
        src_idx = np.arange(len(units))
        src_units = units
    if opts.output_replicas > 1:
        net.stages[-1] = replicate_outputs(net.stages[-1], opts.output_replicas, cons.integer)
        net.output_class = np.repeat(kept[-1], opts.output_replicas)
    report.solve_s = time.perf_counter() - t_total
    net.info["scales"] = scales
    return net, report
