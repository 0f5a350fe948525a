"""Per-neuron synapse solvers of the layer-wise conversion (docs/methods/layerwise.md, "Solvers").

All solvers work in *normalised rate units*: a neuron with threshold α, integer weights w and bias
(initial potential) V0 has the linearised rate

    u = Σ_i ŵ_i x_i + b,      ŵ_i = w_i / α,   b = (V0 − ⌊α/2⌋) / (α T),   x_i = input count / T,

and its target is the ANN unit's normalised activation y = clip(a / s, 0, 1) ∈ [0, 1]. Because the rate
saturates at 0 and 1, the per-sample error is the *hinge-aware* residual

    r(u, y) = u − y            if 0 < y < 1,
              max(u, 0)        if y ≤ 0      (any non-positive drive gives rate 0: no error),
              min(u − 1, 0)    if y ≥ 1      (any drive ≥ 1 saturates: no error),

a convex upper bound of |clip(u, 0, 1) − y|. The layer error is Σ |r| (L1), Σ r² (L2) or max |r| (L∞).

* :func:`fit_ls` — squared hinge error, bounded or unbounded continuous weights (analog), all neurons at
  once by alternating least squares on one shared design matrix.
* :func:`fit_lp` — L1 or L∞ hinge error with bounded continuous weights, one HiGHS LP per neuron.
* :func:`fit_milp` — L1 / L∞ hinge error over an integer crossbar (binary on TrueNorth) with fixed per-type
  weights and threshold: exact discrete optimum by HiGHS branch and bound (small problems).
* :func:`fit_levels` — weights on a per-neuron grid δ_j·{qmin..qmax} (digital, hybrid) for large layers:
  relaxation (LS or LP), per-neuron scale search, rounding, then greedy integer coordinate descent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import Bounds, LinearConstraint, linprog, lsq_linear, milp

Norm = Literal["l1", "l2", "linf"]


# ---------------------------------------------------------------------------------------------- errors
def hinge_residual(u: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed hinge-aware residual r(u, y) (see the module docstring); broadcasts."""
    r = u - y
    r = np.where(y <= 0, np.maximum(u, 0.0), r)
    return np.where(y >= 1, np.minimum(u - 1.0, 0.0), r)


def reduce_error(r: np.ndarray, norm: Norm, axis: int = 0) -> np.ndarray:
    """Σ|r| (l1), Σr² (l2) or max|r| (linf) along ``axis``."""
    if norm == "l1":
        return np.abs(r).sum(axis=axis)
    if norm == "l2":
        return np.square(r).sum(axis=axis)
    if norm == "linf":
        return np.abs(r).max(axis=axis, initial=0.0)
    raise ValueError(f"unknown norm {norm!r}")


def layer_error(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, norm: Norm = "l1") -> np.ndarray:
    """Per-neuron error (J,) of weights ``w`` (J, D) and biases ``b`` (J,) on inputs ``x`` (N, D), targets (N, J)."""
    u = x @ w.T + b[None, :]
    return reduce_error(hinge_residual(u, y), norm, axis=0)


# ---------------------------------------------------------------------------------------------- least squares
def fit_ls(
    x: np.ndarray,
    y: np.ndarray,
    *,
    bound: float | None = None,
    ridge: float = 1e-4,
    prior: tuple[np.ndarray, np.ndarray] | None = None,
    iters: int = 25,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise the squared hinge error Σ r(u, y)² + λ‖ŵ − ŵ₀‖² for every neuron; returns (ŵ (J, D), b (J,)).

    λ = ``ridge`` · trace(XᵀX) / D (scale-free). ``prior`` = (ŵ₀ (J, D), b₀) centres the penalty on a
    reference solution (the ANN's normalised weights), so the fit departs from the ANN only as far as the
    calibration data supports; without it the penalty is a plain ridge (ŵ₀ = 0).

    Alternating least squares: the hinge rows are handled by auxiliary targets t (t = y inside (0, 1),
    t = min(u, 0) where y ≤ 0, t = max(u, 1) where y ≥ 1), so every iteration is one solve with the same
    factorised Gram matrix for all neurons; each step cannot increase the (convex) objective. Neurons whose
    solution leaves the box |ŵ| ≤ ``bound`` are re-solved with bounded least squares (``lsq_linear``) on
    their final targets, alternating a few times.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    n, d = x.shape
    xa = np.hstack([x, np.ones((n, 1))])
    g = xa.T @ xa
    lam = ridge * max(float(np.trace(g[:d, :d])) / max(d, 1), 1e-12)
    g[np.arange(d), np.arange(d)] += lam
    g[d, d] += 1e-9 * n
    cf = cho_factor(g)
    pr = np.zeros((d + 1, y.shape[1]))
    if prior is not None:
        pr[:d] = lam * np.asarray(prior[0], np.float64).T
    t = np.clip(y, 0.0, 1.0)
    lo, hi = y <= 0, y >= 1
    sol = cho_solve(cf, xa.T @ t + pr)
    for _ in range(iters):
        u = xa @ sol
        t_new = np.where(lo, np.minimum(u, 0.0), np.where(hi, np.maximum(u, 1.0), y))
        if np.allclose(t_new, t, atol=1e-9):
            break
        t = t_new
        sol = cho_solve(cf, xa.T @ t + pr)
    w, b = sol[:d].T.copy(), sol[d].copy()
    if bound is not None:
        bad = np.flatnonzero(np.abs(w).max(axis=1) > bound)
        lb = np.r_[np.full(d, -bound), -np.inf]
        ub = np.r_[np.full(d, bound), np.inf]
        for j in bad:
            tj = t[:, j]
            for _ in range(5):
                r = lsq_linear(xa, tj, bounds=(lb, ub), method="bvls" if d < 200 else "trf")
                u = xa @ r.x
                tj_new = np.where(lo[:, j], np.minimum(u, 0.0), np.where(hi[:, j], np.maximum(u, 1.0), y[:, j]))
                if np.allclose(tj_new, tj, atol=1e-9):
                    break
                tj = tj_new
            w[j], b[j] = r.x[:d], r.x[d]
    return w, b


# ---------------------------------------------------------------------------------------------- LP
@dataclass(frozen=True)
class LPResult:
    """One neuron's LP solution: weights ŵ, bias b, the optimal objective (the hinge error) and HiGHS' status."""

    w: np.ndarray
    b: float
    objective: float
    status: int
    message: str


def _hinge_rows(a_u: sp.csr_matrix, y: np.ndarray, n_e: int, linf: bool) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rows of A_ub·[vars, e] ≤ b_ub expressing e_n ≥ |r_n| for the hinge residual; ``a_u`` gives u = a_u·vars."""
    n = a_u.shape[0]
    inner = (y > 0) & (y < 1)
    up = inner | (y <= 0)  # rows with  u − e ≤ y⁺   (y⁺ = y inside, 0 where y ≤ 0)
    down = inner | (y >= 1)  # rows with −u − e ≤ −y⁻  (y⁻ = y inside, 1 where y ≥ 1)
    e_col = sp.csr_matrix((np.ones(n), (np.arange(n), np.zeros(n, int) if linf else np.arange(n))), shape=(n, n_e))
    a = sp.vstack([sp.hstack([a_u[up], -e_col[up]]), sp.hstack([-a_u[down], -e_col[down]])]).tocsr()
    rhs = np.concatenate([np.where(y <= 0, 0.0, y)[up], -np.where(y >= 1, 1.0, y)[down]])
    return a, rhs


def fit_lp(
    x: np.ndarray,
    y: np.ndarray,
    *,
    bound: float | None = None,
    bias_bound: float | None = None,
    norm: Literal["l1", "linf"] = "l1",
    time_limit: float | None = None,
) -> LPResult:
    """Minimise the L1 (Σ e_n) or L∞ (max e) hinge error of one neuron with |ŵ| ≤ ``bound``: an LP with one
    slack per sample (L1) or one shared slack (L∞), solved by HiGHS (``scipy.optimize.linprog``)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64).reshape(-1)
    n, d = x.shape
    linf = norm == "linf"
    n_e = 1 if linf else n
    a_u = sp.csr_matrix(np.hstack([x, np.ones((n, 1))]))
    a, rhs = _hinge_rows(a_u, y, n_e, linf)
    c = np.r_[np.zeros(d + 1), np.ones(n_e)]
    wb = (None, None) if bound is None else (-bound, bound)
    bb = (None, None) if bias_bound is None else (-bias_bound, bias_bound)
    bounds = [wb] * d + [bb] + [(0, None)] * n_e
    opts = {"time_limit": time_limit} if time_limit else {}
    r = linprog(c, A_ub=a, b_ub=rhs, bounds=bounds, method="highs", options=opts)
    if r.x is None:
        return LPResult(np.zeros(d), 0.0, float("inf"), int(r.status), str(r.message))
    return LPResult(r.x[:d].copy(), float(r.x[d]), float(r.fun), int(r.status), str(r.message))


# ---------------------------------------------------------------------------------------------- MILP
@dataclass(frozen=True)
class MILPResult:
    """One neuron's discrete solution: crossbar entries c (V,), integer bias β, objective, optimality flag."""

    crossbar: np.ndarray
    bias: int
    objective: float
    optimal: bool
    message: str


def effective_normalised(crossbar: np.ndarray, vaxon_src: np.ndarray, vaxon_scale: np.ndarray, d: int) -> np.ndarray:
    """ŵ (D,) from crossbar entries c (V,): ŵ_i = Σ_{a: src(a) = i} c_a · scale_a."""
    w = np.zeros(d)
    np.add.at(w, vaxon_src, crossbar * vaxon_scale)
    return w


def fit_milp(
    x: np.ndarray,
    y: np.ndarray,
    *,
    vaxon_src: np.ndarray,
    vaxon_scale: np.ndarray,
    c_range: tuple[int, int],
    bias_step: float,
    bias_range: tuple[int, int],
    norm: Literal["l1", "linf"] = "l1",
    time_limit: float = 60.0,
) -> MILPResult:
    """Exact discrete synapse choice for one neuron: minimise the L1 / L∞ hinge error of

        u_n = Σ_a x[n, src(a)] · scale_a · c_a + β · bias_step,   c_a ∈ [c_min, c_max] ∩ ℤ,  β ∈ ℤ,

    where virtual axon a carries input src(a) with per-type weight s_j[G_a] (``scale_a = s_j[G_a] / α``).
    On TrueNorth c ∈ {0, 1} are the crossbar bits; on a multi-bit crossbar c is the stored integer. Solved by
    HiGHS branch and bound (``scipy.optimize.milp``); ``optimal`` is False when the time limit stopped it
    (the incumbent is returned)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64).reshape(-1)
    n = x.shape[0]
    v = len(vaxon_src)
    linf = norm == "linf"
    n_e = 1 if linf else n
    a_u = sp.csr_matrix(np.hstack([x[:, vaxon_src] * vaxon_scale[None, :], np.full((n, 1), bias_step)]))
    a, rhs = _hinge_rows(a_u, y, n_e, linf)
    c = np.r_[np.zeros(v + 1), np.ones(n_e)]
    lb = np.r_[np.full(v, c_range[0]), bias_range[0], np.zeros(n_e)]
    ub = np.r_[np.full(v, c_range[1]), bias_range[1], np.full(n_e, np.inf)]
    integrality = np.r_[np.ones(v + 1), np.zeros(n_e)]
    r = milp(c, constraints=LinearConstraint(a, -np.inf, rhs), integrality=integrality, bounds=Bounds(lb, ub),
             options={"time_limit": time_limit})
    if r.x is None:
        return MILPResult(np.zeros(v, np.int64), 0, float("inf"), False, str(r.message))
    sol = np.round(r.x[: v + 1]).astype(np.int64)
    return MILPResult(sol[:v], int(sol[v]), float(r.fun), r.status == 0, str(r.message))


# ---------------------------------------------------------------------------------------------- levels
@dataclass(frozen=True)
class LevelSpec:
    """A per-neuron weight grid ŵ_ij = δ_j · q_ij, q ∈ [qmin, qmax] ∩ ℤ.

    Attributes:
        qmin, qmax: integer level range (TrueNorth two's complement over 4 axon types: −8..7; Loihi-like: −255..255).
        scale: ``"integer"``: δ_j = m / α_j with integer threshold α_j ∈ [1, alpha_max] (digital chips; m is
            the unit type weight); ``"free"``: δ_j any positive real with δ_j·max(|qmin|, qmax) ≤ bound (hybrid).
        m: unit per-type weight for ``"integer"``.
        alpha_max: largest threshold for ``"integer"``.
        bound: largest |ŵ| for ``"free"``.
        ticks: T, for the bias resolution 1/(α T) of ``"integer"`` (V0 is an integer).
    """

    qmin: int
    qmax: int
    scale: Literal["integer", "free"] = "integer"
    m: int = 1
    alpha_max: int = 2**12
    bound: float = 1.0
    ticks: int = 32

    @property
    def qabs(self) -> int:
        return max(abs(self.qmin), abs(self.qmax))


@dataclass
class LevelResult:
    """Solution on a level grid: q (J, D) int, δ (J,), b (J,), α (J,) int (``"integer"`` scale, else 0),
    normalised weights ŵ = δ q, and the per-neuron objective after each stage (relaxed, rounded, refined)."""

    q: np.ndarray
    delta: np.ndarray
    b: np.ndarray
    alpha: np.ndarray
    err_relaxed: np.ndarray
    err_rounded: np.ndarray
    err_refined: np.ndarray

    @property
    def w(self) -> np.ndarray:
        return self.q * self.delta[:, None]


def _snap_scale(delta: np.ndarray, spec: LevelSpec) -> tuple[np.ndarray, np.ndarray]:
    """Realisable δ for requested δ: (δ, α)."""
    if spec.scale == "integer":
        alpha = np.clip(np.round(spec.m / np.maximum(delta, 1e-12)), 1, spec.alpha_max).astype(np.int64)
        return spec.m / alpha, alpha
    top = spec.bound / spec.qabs
    return np.minimum(delta, top), np.zeros(len(delta), np.int64)


def _snap_bias(b: np.ndarray, alpha: np.ndarray, spec: LevelSpec) -> np.ndarray:
    if spec.scale == "integer":
        step = 1.0 / (alpha * spec.ticks)
        return np.round(b / step) * step
    return b


def _best_bias(u0: np.ndarray, y: np.ndarray, b: np.ndarray, norm: Norm, iters: int = 8) -> np.ndarray:
    """Per-neuron bias refit for drive u0 (N, J) without bias: a few Newton-like steps on the hinge error."""
    for _ in range(iters):
        r = hinge_residual(u0 + b[None, :], y)
        act = r != 0
        cnt = np.maximum(act.sum(axis=0), 1)
        if norm == "l2":
            step = r.sum(axis=0) / cnt
        else:  # l1: move towards the median residual of the active rows
            rr = np.where(act, r, np.nan)
            step = np.nan_to_num(np.nanmedian(rr, axis=0)) if act.any() else np.zeros_like(b)
        b = b - step
    return b


def fit_levels(
    x: np.ndarray,
    y: np.ndarray,
    spec: LevelSpec,
    *,
    relaxed: tuple[np.ndarray, np.ndarray] | None = None,
    norm: Literal["l1", "l2"] = "l2",
    cd_passes: int = 2,
    n_scales: int = 9,
) -> LevelResult:
    """Weights on the level grid of ``spec`` minimising the hinge error, for every neuron of a layer.

    1. *Relaxation*: the continuous optimum (``relaxed`` = (ŵ, b), default :func:`fit_ls`).
    2. *Scale search*: for each neuron, δ = max|ŵ|/(k·qabs) for ``n_scales`` values of k in [0.5, 2.5]
       (k > 1 lets the largest weights clip to widen the resolution of the rest), snapped to a realisable
       δ (integer α); q = clip(round(ŵ/δ)); the bias is refit; the δ with the smallest error is kept.
    3. *Refinement*: ``cd_passes`` sweeps of greedy coordinate descent over the inputs: change q_ij by ±1
       where that lowers the neuron's hinge error (each accepted move strictly decreases it), refitting the
       bias after each sweep. Returns the errors after each stage so the gain is visible.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    d = x.shape[1]
    j = y.shape[1]
    w_rel, b_rel = relaxed if relaxed is not None else fit_ls(x, y)
    err_relaxed = layer_error(x, y, w_rel, b_rel, norm)
    wmax = np.maximum(np.abs(w_rel).max(axis=1), 1e-9)
    best_err = np.full(j, np.inf)
    best_q = np.zeros((j, d), np.int64)
    best_delta = np.ones(j)
    best_b = np.zeros(j)
    best_alpha = np.zeros(j, np.int64)
    for k in np.linspace(0.5, 2.5, n_scales):
        delta, alpha = _snap_scale(wmax / (k * spec.qabs), spec)
        q = np.clip(np.round(w_rel / delta[:, None]), spec.qmin, spec.qmax).astype(np.int64)
        u0 = x @ (q * delta[:, None]).T
        b = _snap_bias(_best_bias(u0, y, b_rel.copy(), norm), alpha, spec)
        err = reduce_error(hinge_residual(u0 + b[None, :], y), norm)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        best_q[better], best_delta[better], best_b[better], best_alpha[better] = (
            q[better], delta[better], b[better], alpha[better])
    err_rounded = best_err.copy()
    q, delta, b = best_q, best_delta, best_b
    u = x @ (q * delta[:, None]).T + b[None, :]
    active = np.flatnonzero(np.abs(x).sum(axis=0) > 0)
    order = active[np.argsort(-np.abs(x[:, active]).sum(axis=0))]
    for _ in range(cd_passes):
        moved = 0
        for i in order:
            rows = np.flatnonzero(x[:, i])
            xi = x[rows, i][:, None]
            ur, yr = u[rows], y[rows]
            base = reduce_error(hinge_residual(ur, yr), norm)
            step = delta[None, :] * xi
            gain = np.zeros(j)
            choice = np.zeros(j, np.int64)
            for s in (1, -1):
                ok = (q[:, i] + s >= spec.qmin) & (q[:, i] + s <= spec.qmax)
                e = reduce_error(hinge_residual(ur + s * step, yr), norm)
                g = np.where(ok, base - e, 0.0)
                better = g > gain + 1e-12
                gain = np.where(better, g, gain)
                choice = np.where(better, s, choice)
            sel = np.flatnonzero(choice)
            if sel.size:
                q[sel, i] += choice[sel]
                u[np.ix_(rows, sel)] += choice[sel][None, :] * step[:, sel]
                moved += sel.size
        u0 = u - b[None, :]
        b_new = _snap_bias(_best_bias(u0, y, b.copy(), norm), best_alpha, spec)
        e_old = reduce_error(hinge_residual(u, y), norm)
        e_new = reduce_error(hinge_residual(u0 + b_new[None, :], y), norm)
        b = np.where(e_new < e_old, b_new, b)
        u = u0 + b[None, :]
        if moved == 0:
            break
    err_refined = reduce_error(hinge_residual(u, y), norm)
    return LevelResult(q=q, delta=delta, b=b, alpha=best_alpha, err_relaxed=err_relaxed, err_rounded=err_rounded,
                       err_refined=err_refined)
