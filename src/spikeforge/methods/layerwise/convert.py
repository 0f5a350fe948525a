"""Layer-wise conversion of an ANN into a rate-coded spiking network (docs/methods/layerwise.md).

For every ANN layer ℓ, in order, with the *converted* network's own spike counts of layer ℓ − 1 on the
calibration data as inputs (x = count / T), the synapses of layer ℓ's spiking neurons are chosen to
minimise the hinge-aware error between their linearised rate and the ANN unit's normalised activation
y = clip(a_ℓ / s_ℓ, 0, 1) (s_ℓ: a high percentile of the layer's activations); see :mod:`.solver`.

A layer whose fan-in does not fit one core (TrueNorth: 256 axons, 4 per input) is *restructured*: its
(selected) inputs are cut into blocks that fit; for every ANN unit j and block k a pair of partial-sum
neurons fires at the rates clip(±p_jk / σ_j, 0, 1) of the ANN's partial sums p_jk = W_j,k · a_k, and a
combining neuron adds the pairs with per-type weights (+ for positive partials, − for negative ones) and
the unit's bias. Both stages are solved layer-wise: the partials against the ANN partial sums, the combiner
against the ANN unit from the partials' *actual* spike counts, so the restructured layer as a whole
approximates the ANN layer.

``method="normalisation"`` is the baseline: data-based weight normalisation (ŵ = W·s_{ℓ−1}/s_ℓ,
b̂ = b/s_ℓ; Diehl 2015, Rueckauer 2017; snn_toolbox / SpikingJelly ann2snn) followed by rounding onto the
same constraints and the same restructuring, without any fitting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from spikeforge.hardware.spec import ChipSpec, get_chip
from spikeforge.methods.layerwise.ann import AnnLayer, forward
from spikeforge.methods.layerwise.network import (
    AxonSet,
    Block,
    SpikingNet,
    Stage,
    StageHardware,
    regular_encode,
    spread_bias,
)
from spikeforge.methods.layerwise.prune import select_units
from spikeforge.methods.layerwise.solver import LevelSpec, fit_levels, fit_lp, fit_ls, fit_milp, layer_error

ConstraintName = Literal["digital", "analog", "hybrid"]
Method = Literal["layerwise", "normalisation"]


@dataclass(frozen=True)
class Constraints:
    """A constraint set. ``digital``: integer weights realisable on ``chip`` (TrueNorth: 4 axon types with
    per-neuron weights m·(1, 2, 4, −8), each input on 4 axons → q ∈ [−8, 7]; Loihi-like: a 9-bit crossbar
    → q ∈ [−255, 255]); ``analog``: continuous weights |ŵ| ≤ ``bound``; ``hybrid``: per-neuron continuous
    magnitude δ_j with ``hybrid_levels`` integer levels q ∈ [−L, L] (|δ q| ≤ bound)."""

    name: ConstraintName
    ticks: int = 32
    chip: ChipSpec | None = None
    bound: float = 1.0
    hybrid_levels: int = 3
    unit_weight: int = 31

    @property
    def integer(self) -> bool:
        return self.name == "digital"

    @property
    def truenorth_types(self) -> bool:
        """Binary crossbar with ≥ 4 axon types: the two's-complement encoding over 4 axon copies."""
        return self.chip is not None and self.chip.core.binary_crossbar

    @property
    def copies(self) -> int:
        return 4 if self.integer and self.truenorth_types else 1

    @property
    def fan_in(self) -> int | None:
        """Inputs one neuron may read on one core (None: unlimited, no chip)."""
        if not self.integer or self.chip is None:
            return None
        return self.chip.core.n_axons // self.copies

    def level_spec(self) -> LevelSpec | None:
        if self.name == "analog":
            return None
        if self.name == "hybrid":
            return LevelSpec(-self.hybrid_levels, self.hybrid_levels, "free", bound=self.bound, ticks=self.ticks)
        assert self.chip is not None
        core = self.chip.core
        alpha_max = int(min(core.threshold_max, core.v_max // (8 * self.ticks)))
        if self.truenorth_types:
            if core.n_axon_types < 4:
                raise ValueError("the TrueNorth encoding needs 4 axon types")
            m = min(self.unit_weight, core.weight_max // 8)
            return LevelSpec(-8, 7, "integer", m=m, alpha_max=alpha_max, ticks=self.ticks)
        return LevelSpec(max(core.crossbar_min, -core.crossbar_max), core.crossbar_max, "integer", m=1,
                         alpha_max=alpha_max, ticks=self.ticks)


def make_constraints(name: str, chip: str | ChipSpec | None = "truenorth", ticks: int = 32, **kw: Any) -> Constraints:
    """Constraints by name; analog and hybrid ignore the chip (they run on the floating-point tick model)."""
    if name not in ("digital", "analog", "hybrid"):
        raise ValueError(f"constraints must be digital, analog or hybrid, got {name!r}")
    spec = (get_chip(chip) if isinstance(chip, str) else chip) if name == "digital" else None
    if name == "digital" and spec is None:
        raise ValueError("digital constraints need a chip")
    return Constraints(name=name, ticks=ticks, chip=spec, **kw)  # type: ignore[arg-type]


@dataclass
class ConvertOptions:
    """Solver settings. ``solver``: "auto" (per-neuron L1 LPs when neurons × samples × inputs ≤
    ``lp_budget``, else least squares), "lp", "ls"; ``percentile``: activation percentile of the layer
    scales s_ℓ; ``keep``: fraction
    of hidden units kept per hidden layer (node pruning); ``workers``: processes for per-neuron LPs."""

    solver: Literal["auto", "lp", "ls"] = "auto"
    percentile: float = 99.9
    keep: float | list[float] = 1.0
    cd_passes: int = 2
    lp_budget: int = 2_000_000
    lp_max_samples: int = 1500
    workers: int = 1
    batch: int = 250
    input_selection: bool = True
    ridge: float = 0.05
    prior: bool = True
    output_replicas: int = 8
    milp_combiners: bool = False
    ridge_grid: tuple[float, ...] = ()
    milp_time_limit: float = 5.0
    leak_bias: bool = True


@dataclass
class ConvertReport:
    """What the conversion did: per stage timings and errors, kept units, layer scales."""

    stages: list[dict[str, Any]] = field(default_factory=list)
    kept: list[list[int]] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    solve_s: float = 0.0


# ---------------------------------------------------------------------------------------------- choosing weights
@dataclass
class Chosen:
    """Normalised solution for a group of neurons: ŵ (J, D), b (J,), plus integer data for digital."""

    w: np.ndarray
    b: np.ndarray
    q: np.ndarray | None = None
    alpha: np.ndarray | None = None
    err: float = 0.0


def _lp_one(args: tuple[np.ndarray, np.ndarray, float | None]) -> tuple[np.ndarray, float]:
    x, y, bound = args
    r = fit_lp(x, y, bound=bound)
    return r.w, r.b


def _relax(x: np.ndarray, y: np.ndarray, bound: float | None, opts: ConvertOptions,
           prior: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Continuous relaxation: alternating least squares for all neurons; then, where the problem is small
    (``solver="auto"``: J·N·D ≤ ``lp_budget``) or ``solver="lp"``, one L1 LP per neuron, its weights boxed to
    1.25·max|ŵ_LS| (an unregularised L1 fit puts huge weights on rarely active inputs)."""
    pri = prior if opts.prior else None
    if opts.ridge_grid:
        w, b = _ls_select(x, y, bound, pri, opts.ridge_grid)
    else:
        w, b = fit_ls(x, y, bound=bound, ridge=opts.ridge, prior=pri)
    n = min(len(x), opts.lp_max_samples)
    use_lp = opts.solver == "lp" or (opts.solver == "auto" and y.shape[1] * n * x.shape[1] <= opts.lp_budget)
    if not use_lp:
        return w, b
    if len(x) > n:
        sel = np.random.default_rng(0).choice(len(x), n, replace=False)
        x, y = x[sel], y[sel]
    boxes = 1.25 * np.maximum(np.abs(w).max(axis=1), 1e-6)
    if bound is not None:
        boxes = np.minimum(boxes, bound)
    jobs = [(x, y[:, j], float(boxes[j])) for j in range(y.shape[1])]
    if opts.workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(opts.workers) as ex:
            res = list(ex.map(_lp_one, jobs, chunksize=max(1, len(jobs) // (4 * opts.workers))))
    else:
        res = [_lp_one(a) for a in jobs]
    return np.stack([r[0] for r in res]), np.array([r[1] for r in res])


def _ls_select(x: np.ndarray, y: np.ndarray, bound: float | None, prior: tuple[np.ndarray, np.ndarray] | None,
               grid: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron choice of the prior strength by hold-out: fit on 80 % of the calibration rows for every
    ridge of ``grid``, keep for each neuron the ridge with the smallest squared hinge error on the other 20 %,
    then refit on all rows."""
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(x))
    cut = int(0.8 * len(x))
    tr, va = perm[:cut], perm[cut:]
    errs, fits = [], []
    for r in grid:
        w, b = fit_ls(x[tr], y[tr], bound=bound, ridge=r, prior=prior)
        errs.append(layer_error(x[va], y[va], w, b, "l2"))
        fits.append(fit_ls(x, y, bound=bound, ridge=r, prior=prior))
    best = np.argmin(np.stack(errs), axis=0)
    w = np.stack([fits[k][0][j] for j, k in enumerate(best)])
    b = np.array([fits[k][1][j] for j, k in enumerate(best)])
    return w, b


def _choose(
    x: np.ndarray, y: np.ndarray, cons: Constraints, opts: ConvertOptions, method: Method,
    analytic: tuple[np.ndarray, np.ndarray],
) -> Chosen:
    """Weights for neurons with shared inputs ``x`` (N, D) and targets ``y`` (N, J)."""
    spec = cons.level_spec()
    if method == "normalisation":
        w, b = analytic
        if spec is None:
            w = np.clip(w, -cons.bound, cons.bound)
            return Chosen(w, b.copy(), err=float(layer_error(x, y, w, b, "l2").sum()))
        wmax = np.maximum(np.abs(w).max(axis=1), 1e-12)
        delta = wmax / spec.qabs
        alpha = None
        if spec.scale == "integer":
            alpha = np.clip(np.round(spec.m / delta), 1, spec.alpha_max).astype(np.int64)
            delta = spec.m / alpha
            bq = np.round(b * alpha * spec.ticks) / (alpha * spec.ticks)
        else:
            delta = np.minimum(delta, spec.bound / spec.qabs)
            bq = b.copy()
        q = np.clip(np.round(w / delta[:, None]), spec.qmin, spec.qmax).astype(np.int64)
        wq = q * delta[:, None]
        return Chosen(wq, bq, q, alpha, err=float(layer_error(x, y, wq, bq, "l2").sum()))
    bound = cons.bound if cons.name == "analog" else None
    w, b = _relax(x, y, bound, opts, analytic)
    if spec is None:
        return Chosen(w, b, err=float(layer_error(x, y, w, b, "l2").sum()))
    res = fit_levels(x, y, spec, relaxed=(w, b), cd_passes=opts.cd_passes)
    return Chosen(res.w, res.b, res.q, res.alpha if spec.scale == "integer" else None,
                  err=float(res.err_refined.sum()))


def _realise(ch: Chosen, cons: Constraints) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(effective weights, threshold, V0) of a stage for chosen normalised weights.

    Digital: W = m·q, α integer, V0 = round(b·α·T) + ⌊α/2⌋ (the ½ turns the rate model's floor into rounding).
    Analog / hybrid: W = ŵ, α = 1, V0 = b·T + ½."""
    t = cons.ticks
    if cons.integer:
        spec = cons.level_spec()
        assert spec is not None and ch.q is not None and ch.alpha is not None
        core = cons.chip.core  # type: ignore[union-attr]
        w = ch.q * spec.m
        v0 = np.round(ch.b * ch.alpha * t).astype(np.int64) + ch.alpha // 2
        v0 = np.clip(v0, -(core.v_max // 2), core.v_max // 2)
        return w.astype(np.int64), ch.alpha.astype(np.int64), v0
    return ch.w.copy(), np.ones(len(ch.b)), ch.b * t + 0.5


# ---------------------------------------------------------------------------------------------- hardware encodings
_TN_TYPES = np.array([1, 2, 4, -8])


def _tn_bits(q: np.ndarray) -> np.ndarray:
    """Two's-complement bits (..., 4) of q ∈ [−8, 7] over types weighted (1, 2, 4, −8)."""
    u = np.asarray(q, np.int64) & 15
    return np.stack([(u >> g) & 1 for g in range(4)], axis=-1).astype(np.int16)


def _hw_dense(q: np.ndarray, inputs: np.ndarray, neurons: np.ndarray, cons: Constraints, spec: LevelSpec,
              vaxon_offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, AxonSet]:
    """Virtual axons and the axon set of neurons reading ``inputs`` with levels q (n, D)."""
    if cons.truenorth_types:
        src = np.repeat(inputs, 4)
        typ = np.tile(np.arange(4), len(inputs))
        xb = _tn_bits(q).reshape(len(neurons), -1)
        tw = np.broadcast_to(spec.m * _TN_TYPES, (len(neurons), 4))
    else:
        src = inputs.copy()
        typ = np.zeros(len(inputs), np.int64)
        xb = q.astype(np.int16)
        tw = np.ones((len(neurons), 1), np.int64)
    vax = vaxon_offset + np.arange(len(src))
    return src, typ, np.asarray(tw, np.int64), AxonSet(vaxons=vax, neurons=neurons, crossbar=xb)


# ---------------------------------------------------------------------------------------------- conversion
def _scale(a: np.ndarray, pct: float) -> float:
    pos = a[a > 0]
    return float(np.percentile(pos, pct)) if pos.size else 1.0


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
    scales = [_scale(acts[li][:, kept[li]], opts.percentile) for li in range(len(layers))]
    report.scales = scales
    # ---- plan stages (restructuring)
    fan_in = cons.fan_in
    in_active = np.flatnonzero(x_calib.max(axis=0) > 0) if opts.input_selection else np.arange(x_calib.shape[1])
    plan: list[bool] = []
    n_in_prev = len(in_active)
    for li, layer in enumerate(layers):
        if layer.tied and fan_in is not None and layer.kernel is not None and layer.kernel.shape[1] > fan_in:
            raise ValueError(f"{layer.name}: kernel fan-in {layer.kernel.shape[1]} exceeds {fan_in}")
        plan.append(fan_in is not None and not layer.tied and n_in_prev > fan_in)
        n_in_prev = len(kept[li])
    n_stages = sum(2 if p else 1 for p in plan)
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
        if not plan[li]:
            if layer.tied:
                stage = _choose_tied(layer, units, counts, cons, opts, method, s_prev, s_l, y_all, src_idx)
                report.stages.append({"stage": layer.name, "kind": "conv", "neurons": stage.n_out,
                                      "fan_in": int(layer.kernel.shape[1]) if layer.kernel is not None else 0,
                                      "solve_s": round(time.perf_counter() - t0, 3)})
            else:
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
                                      "solve_s": round(time.perf_counter() - t0, 3)})
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


def _run_collect(net: SpikingNet, k: int, raster: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Run stage k over the aligned raster; returns (aligned output raster for the next stage, counts)."""
    outs = []
    for s in range(0, len(raster), batch):
        outs.append(net.run_stage(k, raster[s : s + batch]))
    o = np.concatenate(outs)
    return SpikingNet.shift(o), o.sum(axis=1).astype(np.float64)


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
    err = 0.0
    pair_idx = np.zeros((n_blocks, 2, n_units), np.int64)  # neuron id of (block, sign, unit)
    for kb, blk in enumerate(blocks):
        xk = x[:, blk]
        p = partial_targets[kb] / sigma[None, :]
        yk = np.clip(np.hstack([p, -p]), 0.0, 1.0)
        w_an = w_l[:, blk] * s_prev / sigma[:, None]
        an = (np.vstack([w_an, -w_an]), np.zeros(2 * n_units))
        ch = _choose(xk, yk, cons, opts, method, an)
        err += ch.err
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
    _spread(net, part, cons)
    net.stages.append(part)
    kp = len(net.stages) - 1
    report.stages.append({"stage": part.name, "kind": "partial", "neurons": n_part, "blocks": n_blocks,
                          "fan_in": int(max(len(b) for b in blocks)), "error_l2": err,
                          "solve_s": round(time.perf_counter() - t0, 3)})
    # partial counts (the combiner's inputs), without keeping the big raster
    pc = np.zeros((len(raster), n_part))
    for s in range(0, len(raster), opts.batch):
        pc[s : s + opts.batch] = net.run_stage(kp, raster[s : s + opts.batch]).sum(axis=1)
    # ---- combining stage: unit j reads its positive partials (type 0) and negative partials (type 1)
    t1 = time.perf_counter()
    pos = pc[:, pair_idx[:, 0, :]].sum(axis=1) / cons.ticks  # (N, J)
    neg = pc[:, pair_idx[:, 1, :]].sum(axis=1) / cons.ticks
    comb = _choose_combiners(pos, neg, y_all, sigma / s_l, layer.b[units] / s_l, cons, opts, method)
    c_thr, c_v0, c_tw = comb
    c_blocks, c_sets, cvsrc, cvtyp = [], [], [], []
    voff = 0
    for j in range(n_units):
        srcs = np.r_[pair_idx[:, 0, j], pair_idx[:, 1, j]]
        typ = np.r_[np.zeros(n_blocks, np.int64), np.ones(n_blocks, np.int64)]
        wrow = np.where(typ == 0, c_tw[j, 0], c_tw[j, 1])[None, :]
        c_blocks.append(Block(out=np.array([j]), inp=srcs, w=wrow.astype(np.int64)))
        cvsrc.append(srcs)
        cvtyp.append(typ)
        c_sets.append(AxonSet(vaxons=voff + np.arange(len(srcs)), neurons=np.array([j]),
                              crossbar=np.ones((1, len(srcs)), np.int16)))
        voff += len(srcs)
    tw_full = np.zeros((n_units, n_types), np.int64)
    tw_full[:, :2] = c_tw
    comb_stage = Stage(name=f"{layer.name}.combine", kind="combine", n_in=n_part, blocks=c_blocks,
                       threshold=c_thr, v_init=c_v0, unit=units.copy(),
                       hw=StageHardware(vaxon_src=np.concatenate(cvsrc), vaxon_type=np.concatenate(cvtyp),
                                        type_weights=tw_full, sets=c_sets))
    _spread(net, comb_stage, cons)
    net.stages.append(comb_stage)
    kc = len(net.stages) - 1
    report.stages.append({"stage": comb_stage.name, "kind": "combine", "neurons": n_units, "fan_in": 2 * n_blocks,
                          "solve_s": round(time.perf_counter() - t1, 3)})
    outs = []
    for s in range(0, len(raster), opts.batch):
        a = SpikingNet.shift(net.run_stage(kp, raster[s : s + opts.batch]))
        outs.append(net.run_stage(kc, a))
    o = np.concatenate(outs)
    return SpikingNet.shift(o), o.sum(axis=1).astype(np.float64)


def _choose_combiners(
    pos: np.ndarray, neg: np.ndarray, y: np.ndarray, gain: np.ndarray, bias: np.ndarray, cons: Constraints,
    opts: ConvertOptions, method: Method,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-type weights (s⁺, s⁻), thresholds and V0 of the combining neurons (integers, one LP each)."""
    n_units = y.shape[1]
    thr = np.zeros(n_units, np.int64)
    v0 = np.zeros(n_units, np.int64)
    tw = np.zeros((n_units, 2), np.int64)
    core = cons.chip.core  # type: ignore[union-attr]
    spec = LevelSpec(core.weight_min, core.weight_max, "integer", m=1,
                     alpha_max=int(min(core.threshold_max, core.v_max // (8 * cons.ticks))), ticks=cons.ticks)
    for j in range(n_units):
        xj = np.stack([pos[:, j], neg[:, j]], axis=1)
        an = (np.array([[gain[j], -gain[j]]]), np.array([bias[j]]))
        if method == "normalisation":
            c = _choose_with_spec(xj, y[:, j : j + 1], an, spec)
        else:
            w, b = _relax(xj, y[:, j : j + 1], None, opts, (an[0], an[1]))
            r = fit_levels(xj, y[:, j : j + 1], spec, relaxed=(w, b), cd_passes=opts.cd_passes)
            c = Chosen(r.w, r.b, r.q, r.alpha)
            if opts.milp_combiners:
                c = _milp_combiner(xj, y[:, j], c, spec, opts)
        assert c.q is not None and c.alpha is not None
        tw[j] = c.q[0]
        thr[j] = c.alpha[0]
        v0[j] = int(np.round(c.b[0] * c.alpha[0] * cons.ticks)) + c.alpha[0] // 2
    v0 = np.clip(v0, -(core.v_max // 2), core.v_max // 2)
    return thr, v0, tw


def _milp_combiner(x: np.ndarray, y: np.ndarray, c: Chosen, spec: LevelSpec, opts: ConvertOptions) -> Chosen:
    """Exact L1 choice of a combiner's two integer type weights and integer bias at the threshold α found by
    the level search (HiGHS MILP, ``opts.milp_time_limit`` s); kept only if its L1 hinge error is lower."""
    assert c.q is not None and c.alpha is not None
    alpha = int(c.alpha[0])
    n = min(len(x), opts.lp_max_samples)
    sel = np.random.default_rng(0).choice(len(x), n, replace=False) if len(x) > n else np.arange(len(x))
    xs, ys = x[sel], y[sel]
    step = 1.0 / (alpha * spec.ticks)
    beta0 = int(np.round(c.b[0] / step))
    span = 4 * alpha * spec.ticks
    r = fit_milp(xs, ys, vaxon_src=np.array([0, 1]), vaxon_scale=np.full(2, 1.0 / alpha),
                 c_range=(spec.qmin, spec.qmax), bias_step=step, bias_range=(beta0 - span, beta0 + span),
                 time_limit=opts.milp_time_limit)
    old = layer_error(xs, ys[:, None], c.w, c.b, "l1")[0]
    if not np.isfinite(r.objective) or r.objective >= old:
        return c
    q = r.crossbar[None, :]
    return Chosen(q / alpha, np.array([r.bias * step]), q, c.alpha.copy())


def _choose_with_spec(x: np.ndarray, y: np.ndarray, an: tuple[np.ndarray, np.ndarray], spec: LevelSpec) -> Chosen:
    """Normalisation baseline: round the analytic weights onto ``spec`` (integer scale)."""
    w, b = an
    wmax = np.maximum(np.abs(w).max(axis=1), 1e-12)
    alpha = np.clip(np.round(spec.m / (wmax / spec.qabs)), 1, spec.alpha_max).astype(np.int64)
    delta = spec.m / alpha
    q = np.clip(np.round(w / delta[:, None]), spec.qmin, spec.qmax).astype(np.int64)
    bq = np.round(b * alpha * spec.ticks) / (alpha * spec.ticks)
    return Chosen(q * delta[:, None], bq, q, alpha)


def _choose_tied(
    layer: AnnLayer, units: np.ndarray, counts: np.ndarray, cons: Constraints, opts: ConvertOptions, method: Method,
    s_prev: float, s_l: float, y_all: np.ndarray, src_idx: np.ndarray,
) -> Stage:
    """A convolution: one problem per output channel over all (sample, position) rows; weights stay tied."""
    assert layer.patch_idx is not None and layer.kernel is not None
    patch = layer.patch_idx
    p, d = patch.shape
    c_out = layer.kernel.shape[0]
    x_full = np.concatenate([counts / cons.ticks, np.zeros((len(counts), 1))], axis=1)
    n_in = counts.shape[1]
    pidx = np.where(patch >= 0, patch, n_in)
    xr = x_full[:, pidx].reshape(-1, d)  # (N·P, D)
    yr = y_all.reshape(len(counts), c_out, p).transpose(0, 2, 1).reshape(-1, c_out)  # (N·P, C)
    # subsample rows for the solve
    rng = np.random.default_rng(0)
    rows = rng.choice(len(xr), min(len(xr), 20000), replace=False)
    b_an = layer.b.reshape(c_out, p)[:, 0] / s_l
    ch = _choose(xr[rows], yr[rows], cons, opts, method, (layer.kernel * s_prev / s_l, b_an))
    w_eff, thr, v0 = _realise(ch, cons)
    w_dense = np.zeros((c_out * p, n_in), w_eff.dtype)
    rr = (np.arange(c_out)[:, None, None] * p + np.arange(p)[None, :, None]).repeat(d, axis=2)
    cc = np.broadcast_to(patch[None], (c_out, p, d))
    vv = np.broadcast_to(w_eff[:, None, :], (c_out, p, d))
    ok = cc >= 0
    np.add.at(w_dense, (rr[ok], cc[ok]), vv[ok])
    neurons = np.arange(c_out * p)
    hw = None
    if cons.integer and not cons.truenorth_types:  # multi-bit crossbar: the crossbar holds W (type weight 1)
        used = np.flatnonzero(np.any(w_dense != 0, axis=0))
        hw = StageHardware(vaxon_src=used, vaxon_type=np.zeros(len(used), np.int64),
                           type_weights=np.ones((len(neurons), 1), np.int64),
                           sets=[AxonSet(vaxons=np.arange(len(used)), neurons=neurons,
                                         crossbar=w_dense[:, used].astype(np.int16))])
        w_dense = w_dense[:, used]
        return Stage(name=layer.name, kind="dense", n_in=n_in, blocks=[Block(out=neurons, inp=used, w=w_dense)],
                     threshold=np.repeat(thr, p), v_init=np.repeat(v0, p), unit=units.copy(), hw=hw)
    return Stage(name=layer.name, kind="dense", n_in=n_in, blocks=[Block(out=neurons, inp=np.arange(n_in),
                 w=w_dense)], threshold=np.repeat(thr, p), v_init=np.repeat(v0, p), unit=units.copy())
