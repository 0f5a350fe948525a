"""Per-type integer weights, thresholds and initial potentials of neurons whose inputs each arrive on their own
axon type — the combining neurons of restructured layers and the pooling neurons (docs/methods/layerwise.md,
"Fan-in: restructured layers"): hinge least squares on the actual input counts, integer rounding over a
range of thresholds, a held-out guard against the normalised rounding, optionally an exact MILP.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikeforge.methods.layerwise.choose import Chosen, _split
from spikeforge.methods.layerwise.constraints import Constraints, ConvertOptions, Method
from spikeforge.methods.layerwise.solver import (
    HingeTargets,
    LevelSpec,
    fit_ls_each,
    fit_milp,
    layer_error,
    refit_bias,
    snap_bias,
)


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
