"""Layer-wise conversion of an ANN into a rate-coded spiking network (docs/methods/layerwise.md).

For every ANN layer ℓ, in order, with the *converted* network's own spike counts of layer ℓ − 1 on the
calibration data as inputs (x = count / T), the synapses of layer ℓ's spiking neurons are chosen to
minimise the hinge-aware error between their linearised rate and the ANN unit's normalised activation
y = clip(a_ℓ / s_ℓ, 0, 1) (s_ℓ: the layer scale, :func:`_mse_scale` or a high percentile); see
:mod:`.solver`. Every neuron picks among candidate solutions (ridge strengths, the normalised weights, a
warm start from them, LPs) by its error on held-out calibration rows (:func:`_relax`, :func:`_choose`).

A layer whose fan-in does not fit one core (TrueNorth: 256 axons, 4 per input) is *restructured*: its
(selected) inputs are cut into blocks that fit; for every ANN unit j and block k a pair of partial-sum
neurons fires at the rates clip(±p_jk / σ_j, 0, 1) of the ANN's partial sums p_jk = W_j,k · a_k, and a
combining neuron adds the pairs with per-type weights (+ for positive partials, − for negative ones) and
the unit's bias. Both stages are solved layer-wise: the partials against the ANN partial sums, the combiner
against the ANN unit from the partials' *actual* spike counts, so the restructured layer as a whole
approximates the ANN layer. Convolutions keep their weight tying (one problem per kernel over (sample,
position) rows); on TrueNorth they are tiled (:func:`_position_tiles`), a folded average pooling whose kernel
no longer fits becomes its own stage (:func:`_pool_stage`), and a kernel wider than the fan-in is cut into
tied partial sums (:func:`_restructured_conv`).

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
from spikeforge.methods.layerwise.solver import (
    HingeTargets,
    LevelSpec,
    fit_levels,
    fit_lp,
    fit_ls,
    fit_ls_each,
    fit_milp,
    layer_error,
    refit_bias,
    round_to_levels,
    snap_bias,
)

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
    """Solver settings (docs/methods/layerwise.md, "The per-layer problem").

    ``solver``: "auto" (per-neuron L1 LPs join the candidates when neurons × samples × inputs ≤
    ``lp_budget``), "lp" (always), "ls" (never); ``ls_iters``: accelerated hinge least-squares iterations;
    ``scale``: how the layer scales s_ℓ are chosen for
    ``method="layerwise"`` — "mse" (:func:`_mse_scale`: least squared error of the T-step rate code),
    "percentile" (the normalisation baseline's rule, always used by it) or "auto": "mse" for analog and hybrid
    weights (floating-point neurons: the rate code is the only quantiser, as the MSE model assumes),
    "percentile" for digital chips (docs, "Layer scales and targets"); ``percentile``: that percentile of the
    layer's positive activations (and of the partial sums for σ_j);
    ``keep``: fraction of hidden units kept per hidden layer (node pruning); ``workers``: processes for
    per-neuron LPs; ``ridge_grid``: strengths of the penalty towards the normalised weights among which every
    neuron picks by held-out error (empty: the single ``ridge``, no selection; coarse level grids — fewer than
    ``COARSE_LEVELS`` levels per sign — always use the single ``ridge``); ``holdout``: fraction of the
    calibration rows held out for that selection (0: no selection, every fit on all rows)."""

    solver: Literal["auto", "lp", "ls"] = "auto"
    percentile: float = 99.9
    keep: float | list[float] = 1.0
    cd_passes: int = 2
    lp_budget: int = 1_000_000
    lp_max_samples: int = 1500
    workers: int = 1
    batch: int = 250
    input_selection: bool = True
    ridge: float = 0.05
    prior: bool = True
    output_replicas: int = 8
    milp_combiners: bool = False
    ridge_grid: tuple[float, ...] = (0.05, 0.5, 5.0, 50.0)
    holdout: float = 0.2
    ls_iters: int = 40
    scale: Literal["auto", "percentile", "mse"] = "auto"
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
    """Normalised solution for a group of neurons: ŵ (J, D), b (J,), plus integer data for digital; ``pick``
    counts the candidates the held-out selection chose, ``err_va`` / ``err_va_norm`` the held-out squared hinge
    error of the chosen solution (fitted on the training rows) and of the normalised one."""

    w: np.ndarray
    b: np.ndarray
    q: np.ndarray | None = None
    alpha: np.ndarray | None = None
    err: float = 0.0
    pick: dict[str, int] = field(default_factory=dict)
    err_va: float | None = None
    err_va_norm: float | None = None


#: level grids with fewer levels per sign are "coarse": their relaxation only seeds the level search, and
#: selecting its ridge by held-out error changed the held-out error of the final TrueNorth levels by 0.5 %
#: (an MNIST partial-sum block, 600 neurons), at 3x the solve time — they use the single ``ridge``
COARSE_LEVELS = 32


def _split(n: int, frac: float) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, held-out rows) of n calibration rows: a fixed random ``frac`` held out (none if that
    would leave fewer than 20 rows)."""
    n_va = round(frac * n)
    if n_va < 20 or n - n_va < 20:
        return np.arange(n), np.arange(0)
    perm = np.random.default_rng(0).permutation(n)
    return np.sort(perm[n_va:]), np.sort(perm[:n_va])


def _lp_one(args: tuple[np.ndarray, np.ndarray, float | None]) -> tuple[np.ndarray, float]:
    x, y, bound = args
    r = fit_lp(x, y, bound=bound)
    return r.w, r.b


def _fit_lp_all(x: np.ndarray, y: np.ndarray, boxes: np.ndarray, opts: ConvertOptions) -> tuple[np.ndarray, np.ndarray]:
    """One boxed L1 LP per neuron (column of y) on at most ``lp_max_samples`` rows."""
    if len(x) > opts.lp_max_samples:
        sel = np.random.default_rng(0).choice(len(x), opts.lp_max_samples, replace=False)
        x, y = x[sel], y[sel]
    jobs = [(x, y[:, j], float(boxes[j])) for j in range(y.shape[1])]
    if opts.workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(opts.workers) as ex:
            res = list(ex.map(_lp_one, jobs, chunksize=max(1, len(jobs) // (4 * opts.workers))))
    else:
        res = [_lp_one(a) for a in jobs]
    return np.stack([r[0] for r in res]), np.array([r[1] for r in res])


def _prior_affine(x: np.ndarray, y: np.ndarray, prior: tuple[np.ndarray, np.ndarray],
                  bound: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The normalised weights with a refitted per-neuron gain and bias: ŵ = g_j·ŵ₀_j, b_j (hinge LS on the
    one feature x·ŵ₀_j; |g ŵ₀| ≤ bound)."""
    w0, b0 = prior
    z = (x @ w0.T).T[:, :, None]  # (J, N, 1)
    g, b = fit_ls_each(z, y, ridge=1e-3, prior=(np.ones((len(w0), 1)), b0))
    g = g[:, 0]
    if bound is not None:
        top = bound / np.maximum(np.abs(w0).max(axis=1), 1e-12)
        g = np.clip(g, -top, top)
    return w0 * g[:, None], b


def _relax(x: np.ndarray, y: np.ndarray, bound: float | None, opts: ConvertOptions,
           prior: tuple[np.ndarray, np.ndarray] | None = None,
           split: tuple[np.ndarray, np.ndarray] | None = None, refit: bool = True, coarse: bool = False,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """Continuous relaxation with per-neuron model selection on held-out rows (docs, "The per-layer problem").

    Candidates, each fitted on the training rows of ``split``: hinge least squares centred on the normalised
    weights ``prior`` for every ridge strength of ``ridge_grid``; the normalised weights themselves and with
    a refitted gain and bias; where the problem is small (``solver="auto"``: J·N·D ≤ ``lp_budget``) or
    ``solver="lp"``, one boxed L1 LP per neuron (box 1.25·max|ŵ_LS|: an unboxed L1 fit puts huge weights on
    rarely active inputs). Each neuron keeps the candidate with the smallest squared hinge error on the
    held-out rows; with ``refit`` the kept kind is then refitted on all rows. Returns (ŵ, b) refitted on all
    rows (without ``refit``: the training-row fit), (ŵ, b) fitted on the training rows, and the count of each
    pick. ``coarse`` (the relaxation only seeds a coarse level grid, whose own candidates include the
    normalised weights rounded and refined): the single ``ridge``, ``ls_iters`` // 2 iterations, no gain
    candidate."""
    pri = prior if opts.prior else None
    tr, va = split if split is not None else (np.arange(len(x)), np.arange(0))
    grid = (opts.ridge,) if coarse or not opts.ridge_grid else tuple(opts.ridge_grid)
    iters = max(1, opts.ls_iters // 2) if coarse else opts.ls_iters
    j_n = y.shape[1]
    n_lp = min(len(tr), opts.lp_max_samples)
    use_lp = opts.solver == "lp" or (opts.solver == "auto" and j_n * n_lp * x.shape[1] <= opts.lp_budget)
    if len(va) == 0 and len(grid) == 1 and not use_lp:
        w, b = fit_ls(x, y, bound=bound, ridge=grid[0], prior=pri, iters=iters)
        return w, b, w, b, {f"ridge={grid[0]:g}": j_n}
    names: list[str] = []
    fits: list[tuple[np.ndarray, np.ndarray]] = []
    prev = None
    for r in sorted(grid, reverse=True):  # strongest penalty first; each fit warm-starts the next
        names.append(f"ridge={r:g}")
        prev = fit_ls(x[tr], y[tr], bound=bound, ridge=r, prior=pri, start=prev, iters=iters)
        fits.append(prev)
    grid = tuple(sorted(grid, reverse=True))
    if pri is not None:
        w0 = pri[0] if bound is None else np.clip(pri[0], -bound, bound)
        names.append("normalised")
        fits.append((w0, pri[1].copy()))
        if not coarse:
            names.append("normalised+gain")
            fits.append(_prior_affine(x[tr], y[tr], (w0, pri[1]), bound))
    if use_lp:
        ls_w = fits[0][0]
        boxes = 1.25 * np.maximum(np.abs(ls_w).max(axis=1), 1e-6)
        if bound is not None:
            boxes = np.minimum(boxes, bound)
        names.append("lp")
        fits.append(_fit_lp_all(x[tr], y[tr], boxes, opts))
    if len(va):
        errs = np.stack([layer_error(x[va], y[va], w, b, "l2") for w, b in fits])
        best = np.argmin(errs, axis=0)
    else:
        best = np.zeros(j_n, np.int64)
    w_tr = np.stack([fits[k][0][j] for j, k in enumerate(best)])
    b_tr = np.array([fits[k][1][j] for j, k in enumerate(best)])
    if len(va) == 0:
        return w_tr, b_tr, w_tr, b_tr, {names[0]: j_n}
    w_all, b_all = w_tr.copy(), b_tr.copy()
    pick: dict[str, int] = {}
    for k, name in enumerate(names):
        sel = np.flatnonzero(best == k)
        if sel.size == 0:
            continue
        pick[name] = int(sel.size)
        if not refit:
            continue
        ps = None if pri is None else (pri[0][sel], pri[1][sel])
        if name.startswith("ridge="):
            w_all[sel], b_all[sel] = fit_ls(x, y[:, sel], bound=bound, ridge=grid[k], prior=ps,
                                            start=(w_tr[sel], b_tr[sel]), iters=iters)
        elif name == "normalised+gain":
            assert ps is not None
            w0s = ps[0] if bound is None else np.clip(ps[0], -bound, bound)
            w_all[sel], b_all[sel] = _prior_affine(x, y[:, sel], (w0s, ps[1]), bound)
        elif name == "lp":
            w_all[sel], b_all[sel] = _fit_lp_all(x, y[:, sel], boxes[sel], opts)
    return w_all, b_all, w_tr, b_tr, pick


def _norm_levels(w: np.ndarray, b: np.ndarray, spec: LevelSpec) -> Chosen:
    """The normalisation baseline's rounding onto the grid (δ = max|ŵ|/q_abs, no fitting)."""
    q, delta, alpha, bq = round_to_levels(w, b, spec)
    return Chosen(q * delta[:, None], bq, q, alpha if spec.scale == "integer" else None)


def _choose(
    x: np.ndarray, y: np.ndarray, cons: Constraints, opts: ConvertOptions, method: Method,
    analytic: tuple[np.ndarray, np.ndarray],
) -> Chosen:
    """Weights for neurons with shared inputs ``x`` (N, D) and targets ``y`` (N, J).

    Normalisation: the analytic weights, clipped (analog) or rounded (discrete). Layer-wise: the selected
    relaxation (:func:`_relax`); on a discrete grid three candidates fitted on the training rows — the level
    search from the relaxation, the normalised weights rounded, and that rounding refined by the level
    search's coordinate descent (a warm start) — of which each neuron keeps the one with the smallest
    held-out error, as fitted on the training rows. A neuron therefore never takes a solution whose held-out
    error is worse than the normalisation baseline's."""
    spec = cons.level_spec()
    if method == "normalisation":
        w, b = analytic
        if spec is None:
            w = np.clip(w, -cons.bound, cons.bound)
            return Chosen(w, b.copy(), err=float(layer_error(x, y, w, b, "l2").sum()))
        ch = _norm_levels(w, b, spec)
        ch.err = float(layer_error(x, y, ch.w, ch.b, "l2").sum())
        return ch
    bound = cons.bound if cons.name == "analog" else None
    split = _split(len(x), opts.holdout)
    tr, va = split
    coarse = spec is not None and spec.qabs < COARSE_LEVELS
    w_all, b_all, w_tr, b_tr, pick = _relax(x, y, bound, opts, analytic, split, refit=spec is None, coarse=coarse)
    if spec is None:
        ch = Chosen(w_all, b_all, err=float(layer_error(x, y, w_all, b_all, "l2").sum()), pick=pick)
        if len(va):
            ch.err_va = float(layer_error(x[va], y[va], w_tr, b_tr, "l2").sum())
            w0 = np.clip(analytic[0], -cons.bound, cons.bound)
            ch.err_va_norm = float(layer_error(x[va], y[va], w0, analytic[1], "l2").sum())
        return ch
    alpha_of = (lambda r: r.alpha) if spec.scale == "integer" else (lambda r: None)
    if len(va) == 0:
        res = fit_levels(x, y, spec, relaxed=(w_all, b_all), cd_passes=opts.cd_passes)
        return Chosen(res.w, res.b, res.q, alpha_of(res), err=float(res.err_refined.sum()), pick={"levels": y.shape[1]})
    nq, nd, na, nb = round_to_levels(analytic[0], analytic[1], spec)
    cand_l = fit_levels(x[tr], y[tr], spec, relaxed=(w_tr, b_tr), cd_passes=opts.cd_passes)
    cand_w = fit_levels(x[tr], y[tr], spec, start=(nq, nd, na, nb), cd_passes=opts.cd_passes)
    errs = np.stack([layer_error(x[va], y[va], r.w, r.b, "l2") for r in (cand_l, cand_w)]
                    + [layer_error(x[va], y[va], nq * nd[:, None], nb, "l2")])
    best = np.argmin(errs, axis=0)
    q, delta, b, alpha = nq.copy(), nd.copy(), nb.copy(), na.copy()
    pick = {f"relax:{k}": v for k, v in pick.items()}
    for k, (name, r) in enumerate((("levels", cand_l), ("normalised+refined", cand_w), ("normalised", None))):
        sel = np.flatnonzero(best == k)
        pick[name] = int(sel.size)
        if r is not None and sel.size:  # the training-row solution itself: its held-out error is the one compared
            q[sel], delta[sel], b[sel], alpha[sel] = r.q[sel], r.delta[sel], r.b[sel], r.alpha[sel]
    w = q * delta[:, None]
    return Chosen(w, b, q, alpha if spec.scale == "integer" else None,
                  err=float(layer_error(x, y, w, b, "l2").sum()), pick=pick,
                  err_va=float(errs[best, np.arange(len(best))].sum()), err_va_norm=float(errs[2].sum()))


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


def _use_mse_scale(opts: ConvertOptions, cons: Constraints) -> bool:
    """Whether the layer-wise conversion takes the rate-code MSE scales (see ``ConvertOptions.scale``)."""
    return opts.scale == "mse" or (opts.scale == "auto" and not cons.integer)


def _scale(a: np.ndarray, pct: float) -> float:
    pos = a[a > 0]
    return float(np.percentile(pos, pct)) if pos.size else 1.0


#: percentiles of the positive activations tried by :func:`_mse_scale`
MSE_SCALE_PERCENTILES = (90.0, 95.0, 97.0, 98.0, 99.0, 99.5, 99.7, 99.8, 99.9, 99.95, 99.99, 100.0)


def _mse_scale(a: np.ndarray, levels: int, max_values: int = 200_000) -> float:
    """The layer scale s minimising the mean squared error of coding the layer's activations a ≥ 0 with a
    rate of ``levels`` steps: Q_s(a) = s·round(clip(a/s, 0, 1)·levels)/levels, s among percentiles of the
    positive activations (a small s clips the largest activations, a large one wastes resolution)."""
    pos = a[a > 0].astype(np.float64)
    if not pos.size:
        return 1.0
    if pos.size > max_values:
        pos = np.random.default_rng(0).choice(pos, max_values, replace=False)
    best, best_s = np.inf, float(pos.max())
    for s in np.percentile(pos, MSE_SCALE_PERCENTILES):
        if s <= 0:
            continue
        q = s * np.round(np.clip(pos / s, 0.0, 1.0) * levels) / levels
        e = float(np.mean(np.square(pos - q)))
        if e < best:
            best, best_s = e, float(s)
    return best_s


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
    picks: dict[str, int] = {}
    err_va = [0.0, 0.0]
    pair_idx = np.zeros((n_blocks, 2, n_units), np.int64)  # neuron id of (block, sign, unit)
    for kb, blk in enumerate(blocks):
        xk = x[:, blk]
        p = partial_targets[kb] / sigma[None, :]
        yk = np.clip(np.hstack([p, -p]), 0.0, 1.0)
        w_an = w_l[:, blk] * s_prev / sigma[:, None]
        an = (np.vstack([w_an, -w_an]), np.zeros(2 * n_units))
        ch = _choose(xk, yk, cons, opts, method, an)
        err += ch.err
        for key_, v_ in ch.pick.items():
            picks[key_] = picks.get(key_, 0) + v_
        if ch.err_va is not None and ch.err_va_norm is not None:
            err_va[0] += ch.err_va
            err_va[1] += ch.err_va_norm
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
                          "solve_s": round(time.perf_counter() - t0, 3), **_pick_info(picks, err_va)})
    # partial counts (the combiner's inputs); the partial raster is kept bit-packed for the combiner's run
    pc = np.zeros((len(raster), n_part))
    packed = []
    for s in range(0, len(raster), opts.batch):
        o = net.run_stage(kp, raster[s : s + opts.batch])
        pc[s : s + opts.batch] = o.sum(axis=1)
        packed.append(np.packbits(SpikingNet.shift(o), axis=2))
    # ---- combining stage: unit j reads its positive partials (type 0) and negative partials (type 1)
    t1 = time.perf_counter()
    pos = pc[:, pair_idx[:, 0, :]].sum(axis=1) / cons.ticks  # (N, J)
    neg = pc[:, pair_idx[:, 1, :]].sum(axis=1) / cons.ticks
    c_thr, c_v0, c_tw, c_info = _choose_combiners(pos, neg, y_all, sigma / s_l, layer.b[units] / s_l, cons, opts,
                                                  method)
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
                          "solve_s": round(time.perf_counter() - t1, 3), **c_info})
    outs = [net.run_stage(kc, np.unpackbits(a, axis=2, count=n_part)) for a in packed]
    o = np.concatenate(outs)
    return SpikingNet.shift(o), o.sum(axis=1).astype(np.float64)


def _each_error(xs: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-neuron squared hinge error when neuron j reads its own inputs xs[j] (J, N, P)."""
    return HingeTargets.of(y).error(np.einsum("jnp,jp->nj", xs, w) + b[None, :], "l2")


def _combiner_levels(xs: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, spec: LevelSpec,
                     n_alpha: int = 8) -> Chosen:
    """Integer type weights q = round(ŵ·α) ∈ [qmin, qmax] for per-neuron inputs xs (J, N, P): the largest
    thresholds α that keep |q| in range (finest resolution) and the n_alpha − 1 below it are tried, the bias
    refitted and snapped to 1/(αT) for each; every neuron keeps its best."""
    ht = HingeTargets.of(y)
    wmax = np.maximum(np.abs(w).max(axis=1), 1e-12)
    a_hi = np.clip(np.floor(spec.qabs / wmax), 1, spec.alpha_max).astype(np.int64)
    best = np.full(len(w), np.inf)
    q_b = np.zeros(w.shape, np.int64)
    a_b = np.ones(len(w), np.int64)
    b_b = np.zeros(len(w))
    for k in range(n_alpha):
        alpha = np.maximum(a_hi - k, 1)
        q = np.clip(np.round(w * alpha[:, None]), spec.qmin, spec.qmax).astype(np.int64)
        u0 = np.einsum("jnp,jp->nj", xs, q / alpha[:, None])
        bk = snap_bias(refit_bias(u0, ht, b.copy(), "l2"), alpha, spec)
        e = ht.error(u0 + bk[None, :], "l2")
        better = e < best
        best = np.where(better, e, best)
        q_b[better], a_b[better], b_b[better] = q[better], alpha[better], bk[better]
    return Chosen(q_b / a_b[:, None], b_b, q_b, a_b, err=float(best.sum()))


def _choose_combiners(
    pos: np.ndarray, neg: np.ndarray, y: np.ndarray, gain: np.ndarray, bias: np.ndarray, cons: Constraints,
    opts: ConvertOptions, method: Method,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Per-type weights (s⁺, s⁻), thresholds and V0 of the combining neurons, all at once: neuron j reads its
    summed positive and negative partial rates (P_j, N_j), u = (s⁺P + s⁻N)/α + b; normalised values
    s/α = (g_j, −g_j), b = bias_j (see :func:`_choose_type_weights`)."""
    core = cons.chip.core  # type: ignore[union-attr]
    spec = LevelSpec(core.weight_min, core.weight_max, "integer", m=1,
                     alpha_max=int(min(core.threshold_max, core.v_max // (8 * cons.ticks))), ticks=cons.ticks)
    xs = np.stack([pos.T, neg.T], axis=2)  # (J, N, 2)
    return _choose_type_weights(xs, y, np.stack([gain, -gain], axis=1), bias, spec, cons, opts, method)


def _choose_type_weights(
    xs: np.ndarray, y: np.ndarray, w0: np.ndarray, bias: np.ndarray, spec: LevelSpec, cons: Constraints,
    opts: ConvertOptions, method: Method,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Integer per-type weights q (J, P), thresholds α and V0 of neurons whose P inputs each arrive on their own
    axon type (combining and pooling neurons): neuron j reads xs[j] (N, P), u = Σ_p q_p x_p / α + b.

    Normalisation: ŵ = w0, b = bias, rounded (α = round(q_max / max|w0|)). Layer-wise: hinge least squares of
    (ŵ, b) on the actual input counts (P + 1 parameters per neuron, centred on the normalised values), then
    the integer rounding of :func:`_combiner_levels`; per neuron the held-out error decides between it and
    the normalised rounding, and the kept kind is refitted on all rows. ``milp_combiners``: the exact HiGHS
    MILP over (q, bias) at the chosen α, kept where its L1 error is lower."""
    n_units = y.shape[1]
    core = cons.chip.core  # type: ignore[union-attr]
    norm = _choose_with_spec(np.zeros((1, w0.shape[1])), y[:1], (w0, bias), spec)
    info: dict[str, Any] = {}
    if method == "normalisation":
        c = norm
    else:
        tr, va = _split(len(y), opts.holdout)
        if len(va) == 0:
            tr = np.arange(len(y))
        w_tr, b_tr = fit_ls_each(xs[:, tr], y[tr], ridge=1e-3, prior=(w0, bias))
        lev = _combiner_levels(xs[:, tr], y[tr], w_tr, b_tr, spec)
        use = np.ones(n_units, bool)
        if len(va):
            e_l = _each_error(xs[:, va], y[va], lev.w, lev.b)
            e_n = _each_error(xs[:, va], y[va], norm.w, norm.b)
            use = e_l <= e_n
            info = {"pick": {"levels": int(use.sum()), "normalised": int((~use).sum())},
                    "err_va": float(np.where(use, e_l, e_n).sum()), "err_va_norm": float(e_n.sum())}
        assert norm.q is not None and norm.alpha is not None
        q, alpha, b = norm.q.copy(), norm.alpha.copy(), norm.b.copy()
        sel = np.flatnonzero(use)
        if sel.size:
            w_all, b_all = fit_ls_each(xs[sel], y[:, sel], ridge=1e-3, prior=(w0[sel], bias[sel]))
            r = _combiner_levels(xs[sel], y[:, sel], w_all, b_all, spec)
            assert r.q is not None and r.alpha is not None
            q[sel], alpha[sel], b[sel] = r.q, r.alpha, r.b
            if opts.milp_combiners:
                for jj in sel:
                    cj = _milp_combiner(xs[jj], y[:, jj], Chosen(q[jj : jj + 1] / alpha[jj], b[jj : jj + 1],
                                                                 q[jj : jj + 1], alpha[jj : jj + 1]), spec, opts)
                    assert cj.q is not None
                    q[jj], b[jj] = cj.q[0], cj.b[0]
        c = Chosen(q / alpha[:, None], b, q, alpha)
    assert c.q is not None and c.alpha is not None
    v0 = np.round(c.b * c.alpha * cons.ticks).astype(np.int64) + c.alpha // 2
    v0 = np.clip(v0, -(core.v_max // 2), core.v_max // 2)
    return c.alpha.astype(np.int64), v0, c.q.astype(np.int64), info


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
    r = fit_milp(xs, ys, vaxon_src=np.arange(x.shape[1]), vaxon_scale=np.full(x.shape[1], 1.0 / alpha),
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


# ------------------------------------------------------------------------------------- convolutions on TrueNorth
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
    err = 0.0
    picks: dict[str, int] = {}
    err_va = [0.0, 0.0]
    for kb, blk in enumerate(blocks):
        pk = part[kb].transpose(0, 2, 1).reshape(n * p, c_out)[rows] / sigma[None, :]  # (R, C)
        yk = np.clip(np.hstack([pk, -pk]), 0.0, 1.0)
        w_an = kernel[:, blk] * s_prev / sigma[:, None]
        ch = _choose(x_rows[:, blk], yk, cons, opts, method, (np.vstack([w_an, -w_an]), np.zeros(2 * c_out)))
        err += ch.err
        for key_, v_ in ch.pick.items():
            picks[key_] = picks.get(key_, 0) + v_
        if ch.err_va is not None and ch.err_va_norm is not None:
            err_va[0] += ch.err_va
            err_va[1] += ch.err_va_norm
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
    _spread(net, st, cons)
    net.stages.append(st)
    kp = len(net.stages) - 1
    report.stages.append({"stage": st.name, "kind": "partial", "neurons": n_part, "blocks": n_blocks,
                          "fan_in": int(max(len(b) for b in blocks)), "error_l2": err,
                          "solve_s": round(time.perf_counter() - t0, 3), **_pick_info(picks, err_va)})
    pc = np.zeros((n, n_part))
    packed = []
    for s in range(0, n, opts.batch):
        o = net.run_stage(kp, raster[s : s + opts.batch])
        pc[s : s + opts.batch] = o.sum(axis=1)
        packed.append(np.packbits(SpikingNet.shift(o), axis=2))
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
    c_blocks, c_sets, cvsrc, cvtyp = [], [], [], []
    tw_full = np.zeros((n_comb, core.n_axon_types), np.int64)
    voff = 0
    for c in range(c_out):
        for q_ in range(p):
            j = c * p + q_
            srcs = np.r_[ids[:, 0, c, q_], ids[:, 1, c, q_]]
            typ = np.r_[np.zeros(n_blocks, np.int64), np.ones(n_blocks, np.int64)]
            c_blocks.append(Block(out=np.array([j]), inp=srcs, w=np.where(typ == 0, c_tw[c, 0], c_tw[c, 1])[None, :]))
            cvsrc.append(srcs)
            cvtyp.append(typ)
            c_sets.append(AxonSet(vaxons=voff + np.arange(len(srcs)), neurons=np.array([j]),
                                  crossbar=np.ones((1, len(srcs)), np.int16)))
            voff += len(srcs)
            tw_full[j, :2] = c_tw[c]
    comb = Stage(name=f"{name}.combine", kind="combine", n_in=n_part, blocks=c_blocks,
                 threshold=np.repeat(c_thr, p), v_init=np.repeat(c_v0, p), unit=np.arange(n_comb),
                 hw=StageHardware(vaxon_src=np.concatenate(cvsrc), vaxon_type=np.concatenate(cvtyp),
                                  type_weights=tw_full, sets=c_sets))
    _spread(net, comb, cons)
    net.stages.append(comb)
    kc = len(net.stages) - 1
    report.stages.append({"stage": comb.name, "kind": "combine", "neurons": n_comb, "fan_in": 2 * n_blocks,
                          "solve_s": round(time.perf_counter() - t1, 3), **c_info})
    outs = [net.run_stage(kc, np.unpackbits(a, axis=2, count=n_part)) for a in packed]
    o = np.concatenate(outs)
    return SpikingNet.shift(o), o.sum(axis=1).astype(np.float64)
