"""Choosing the synapses of a group of neurons with shared inputs (docs/methods/layerwise.md, "The per-layer
problem"): the continuous relaxation with per-neuron held-out model selection among ridge strengths, the
normalised weights and LPs (:func:`_relax`); on a discrete grid the level search, the normalised weights
rounded and refined (:func:`_choose`); and the realisation of a choice as effective weights, thresholds and
initial potentials (:func:`_realise`).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from spikeforge.methods.layerwise.constraints import Constraints, ConvertOptions, Method
from spikeforge.methods.layerwise.solver import (
    LevelSpec,
    fit_levels,
    fit_lp,
    fit_ls,
    fit_ls_each,
    layer_error,
    round_to_levels,
)


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


@dataclass
class SelectionTally:
    """Running totals over the blocks of a restructured layer: the fit error, how many neurons took each
    candidate, and the held-out squared hinge errors of the chosen and of the normalised solutions."""

    err: float = 0.0
    picks: dict[str, int] = field(default_factory=dict)
    err_va: float = 0.0
    err_va_norm: float = 0.0

    def add(self, ch: Chosen) -> None:
        """Add one block's choice."""
        self.err += ch.err
        for key, n in ch.pick.items():
            self.picks[key] = self.picks.get(key, 0) + n
        if ch.err_va is not None and ch.err_va_norm is not None:
            self.err_va += ch.err_va
            self.err_va_norm += ch.err_va_norm


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
