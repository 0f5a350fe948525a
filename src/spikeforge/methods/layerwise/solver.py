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


@dataclass(frozen=True)
class HingeTargets:
    """Targets y prepared for fast hinge residuals: r(u, y) = clip(u − ȳ, lo, hi) with ȳ = clip(y, 0, 1),
    lo = 0 where y ≤ 0 (else −∞) and hi = 0 where y ≥ 1 (else +∞) — the same r as :func:`hinge_residual`
    in one pass (used in the inner loops of the level refinement)."""

    yc: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def of(cls, y: np.ndarray) -> HingeTargets:
        y = np.asarray(y, np.float64)
        return cls(np.clip(y, 0.0, 1.0), np.where(y <= 0, 0.0, -np.inf), np.where(y >= 1, 0.0, np.inf))

    def rows(self, idx: np.ndarray) -> HingeTargets:
        return HingeTargets(self.yc[idx], self.lo[idx], self.hi[idx])

    def residual(self, u: np.ndarray) -> np.ndarray:
        r = u - self.yc
        np.maximum(r, self.lo, out=r)  # two plain ufuncs: 2x faster than np.clip with array bounds
        return np.minimum(r, self.hi, out=r)

    def error(self, u: np.ndarray, norm: Norm) -> np.ndarray:
        """Per-column error of drives ``u`` (rows, J)."""
        r = self.residual(u)
        if norm == "l2":
            return np.einsum("ij,ij->j", r, r)
        return reduce_error(r, norm)


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
    iters: int = 40,
    start: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise the squared hinge error Σ r(u, y)² + λ‖ŵ − ŵ₀‖² for every neuron; returns (ŵ (J, D), b (J,)).

    λ = ``ridge`` · trace(XᵀX) / D (scale-free). ``prior`` = (ŵ₀ (J, D), b₀) centres the penalty on a
    reference solution (the ANN's normalised weights), so the fit departs from the ANN only as far as the
    calibration data supports; without it the penalty is a plain ridge (ŵ₀ = 0).

    The hinge rows are handled by auxiliary targets t (t = y inside (0, 1), t ≤ 0 where y ≤ 0, t ≥ 1 where
    y ≥ 1): the objective is min over feasible t of F(t) = min_w ‖X w − t‖² + λ‖ŵ − ŵ₀‖², whose gradient is
    2(t − X w*(t)) with Lipschitz constant 2. Plain alternation (t ← projection of X w*(t)) is projected
    gradient descent with step ½ and converges slowly (on an MNIST partial-sum block 25 sweeps left the
    error 13x above the optimum); we run its accelerated form (FISTA, Beck & Teboulle 2009) with adaptive
    restart, every step one solve with the same factorised Gram matrix for all neurons. Neurons whose
    solution leaves the box |ŵ| ≤ ``bound`` are re-solved with bounded least squares (``lsq_linear``) on
    their final targets, alternating a few times. ``start`` = (ŵ, b): a warm start (e.g. the solution for
    another ridge strength), whose auxiliary targets begin the iteration; a neuron stops iterating once its
    targets no longer move.
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
    lo, hi = y <= 0, y >= 1
    htt = HingeTargets.of(y.T)  # neuron-major (J, N)
    if start is None:
        t = htt.yc.copy()
    else:
        u0 = np.asarray(start[0], np.float64) @ x.T + np.asarray(start[1], np.float64)[:, None]
        t = u0 - htt.residual(u0)
    t_prev = t.copy()
    k = np.zeros(len(t))
    for _ in range(iters):
        s = t + (k / (k + 3.0))[:, None] * (t - t_prev)
        u = cho_solve(cf, (s @ xa).T + pr).T @ xa.T
        t_new = u - htt.residual(u)
        # adaptive restart (O'Donoghue & Candès 2015): drop the momentum where it points uphill
        k = np.where(np.einsum("jn,jn->j", s - t_new, t_new - t) > 0, 0.0, k + 1.0)
        step = float(np.abs(t_new - t).max(initial=0.0))
        t_prev, t = t, t_new
        if step < 1e-9:
            break
    sol = cho_solve(cf, (t @ xa).T + pr).T  # (J, D + 1)
    t = t.T
    w, b = sol[:, :d].copy(), sol[:, d].copy()
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


def fit_ls_each(
    x: np.ndarray,
    y: np.ndarray,
    *,
    ridge: float = 1e-3,
    prior: tuple[np.ndarray, np.ndarray] | None = None,
    iters: int = 30,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fit_ls` for neurons with *their own* few inputs: ``x`` (J, N, P) (neuron j reads x[j]),
    ``y`` (N, J). The same accelerated hinge least squares, with J small (P+1)×(P+1) systems solved at once;
    the penalty λ‖ŵ_j − ŵ₀_j‖², λ = ``ridge``·trace(X_jᵀX_j)/P, pulls towards ``prior`` = (ŵ₀ (J, P), b₀).
    Returns (ŵ (J, P), b (J,))."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    j, n, p = x.shape
    xa = np.concatenate([x, np.ones((j, n, 1))], axis=2)
    g = np.einsum("jnp,jnq->jpq", xa, xa)
    lam = ridge * np.maximum(np.trace(g[:, :p, :p], axis1=1, axis2=2) / max(p, 1), 1e-12)
    g[:, np.arange(p), np.arange(p)] += lam[:, None]
    g[:, p, p] += 1e-9 * n
    pr = np.zeros((j, p + 1))
    if prior is not None:
        pr[:, :p] = lam[:, None] * np.asarray(prior[0], np.float64)
    htt = HingeTargets.of(y.T)  # (J, N)
    ginv = np.linalg.inv(g)

    def solve(tt: np.ndarray) -> np.ndarray:
        return np.einsum("jpq,jq->jp", ginv, np.einsum("jnp,jn->jp", xa, tt) + pr)

    t = htt.yc.copy()
    t_prev = t.copy()
    k = np.zeros(j)
    for _ in range(iters):  # accelerated projected gradient on the auxiliary targets, as in fit_ls
        s = t + (k / (k + 3.0))[:, None] * (t - t_prev)
        u = np.einsum("jnp,jp->jn", xa, solve(s))
        t_new = u - htt.residual(u)
        k = np.where(np.einsum("jn,jn->j", s - t_new, t_new - t) > 0, 0.0, k + 1.0)
        step = float(np.abs(t_new - t).max(initial=0.0))
        t_prev, t = t, t_new
        if step < 1e-9:
            break
    sol = solve(t)
    return sol[:, :p].copy(), sol[:, p].copy()


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


def _snap_scale(delta: np.ndarray, spec: LevelSpec) -> tuple[np.ndarray, np.ndarray]:
    """Realisable δ for requested δ: (δ, α)."""
    if spec.scale == "integer":
        alpha = np.clip(np.round(spec.m / np.maximum(delta, 1e-12)), 1, spec.alpha_max).astype(np.int64)
        return spec.m / alpha, alpha
    top = spec.bound / spec.qabs
    return np.minimum(delta, top), np.zeros(len(delta), np.int64)


def snap_bias(b: np.ndarray, alpha: np.ndarray, spec: LevelSpec) -> np.ndarray:
    if spec.scale == "integer":
        step = 1.0 / (alpha * spec.ticks)
        return np.round(b / step) * step
    return b


def refit_bias(u0: np.ndarray, y: np.ndarray | HingeTargets, b: np.ndarray, norm: Norm, iters: int = 8) -> np.ndarray:
    """Per-neuron bias refit for drive u0 (N, J) without bias: a few Newton-like steps on the hinge error
    (L2: the mean residual of the rows where the hinge is active; L1: their median)."""
    ht = y if isinstance(y, HingeTargets) else HingeTargets.of(y)
    for _ in range(iters):
        r = ht.residual(u0 + b[None, :])
        act = r != 0
        if not act.any():
            break
        cnt = np.maximum(act.sum(axis=0), 1)
        if norm == "l2":
            step = r.sum(axis=0) / cnt
        else:  # l1: move towards the median residual of the active rows
            step = np.nan_to_num(np.nanmedian(np.where(act, r, np.nan), axis=0))
        b = b - step
    return b


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


def round_to_levels(w: np.ndarray, b: np.ndarray, spec: LevelSpec, k: float = 1.0) -> tuple[np.ndarray, ...]:
    """Plain rounding of (ŵ, b) onto the grid with δ = max|ŵ|/(k·qabs) snapped to a realisable value and the
    bias snapped to its resolution: (q, δ, α, b). k = 1 is the normalisation baseline's rounding."""
    wmax = np.maximum(np.abs(w).max(axis=1), 1e-12)
    delta, alpha = _snap_scale(wmax / (k * spec.qabs), spec)
    q = np.clip(np.round(w / delta[:, None]), spec.qmin, spec.qmax).astype(np.int64)
    return q, delta, alpha, snap_bias(np.asarray(b, np.float64), alpha, spec)


def fit_levels(
    x: np.ndarray,
    y: np.ndarray,
    spec: LevelSpec,
    *,
    relaxed: tuple[np.ndarray, np.ndarray] | None = None,
    norm: Literal["l1", "l2"] = "l2",
    cd_passes: int = 2,
    n_scales: int = 9,
    start: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> LevelResult:
    """Weights on the level grid of ``spec`` minimising the hinge error, for every neuron of a layer.

    1. *Relaxation*: the continuous optimum (``relaxed`` = (ŵ, b), default :func:`fit_ls`).
    2. *Scale search*: for each neuron, δ = max|ŵ|/(k·qabs) for ``n_scales`` values of k in [0.5, 2.5]
       (k > 1 lets the largest weights clip to widen the resolution of the rest), snapped to a realisable
       δ (integer α); q = clip(round(ŵ/δ)); the bias is refit; the δ with the smallest error is kept.
       With ``start`` = (q, δ, α, b) (a warm start, e.g. the normalised solution rounded) steps 1-2 are
       skipped and refinement begins from that grid point.
    3. *Refinement*: ``cd_passes`` sweeps of greedy coordinate descent over the inputs: change q_ij by ±1
       where that lowers the neuron's hinge error (each accepted move strictly decreases it), refitting the
       bias after each sweep. Returns the errors after each stage so the gain is visible.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    ht = HingeTargets.of(y)
    d = x.shape[1]
    j = y.shape[1]
    if start is not None:
        q0, d0, a0, b0 = start
        q, delta, best_alpha, b = q0.astype(np.int64).copy(), np.asarray(d0, np.float64), np.asarray(a0), b0.copy()
        err_relaxed = ht.error(x @ (q * delta[:, None]).T + b[None, :], norm)
        b_fit = snap_bias(refit_bias(x @ (q * delta[:, None]).T, ht, b.copy(), norm), best_alpha, spec)
        e_fit = ht.error(x @ (q * delta[:, None]).T + b_fit[None, :], norm)
        b = np.where(e_fit < err_relaxed, b_fit, b)
        err_rounded = np.minimum(e_fit, err_relaxed)
    else:
        w_rel, b_rel = relaxed if relaxed is not None else fit_ls(x, y)
        err_relaxed = ht.error(x @ w_rel.T + b_rel[None, :], norm)
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
            b = snap_bias(refit_bias(u0, ht, b_rel.copy(), norm), alpha, spec)
            err = ht.error(u0 + b[None, :], norm)
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
            ur, hr = u[rows], ht.rows(rows)
            base = hr.error(ur, norm)
            step = delta[None, :] * xi
            gain = np.zeros(j)
            choice = np.zeros(j, np.int64)
            for s in (1, -1):
                ok = (q[:, i] + s >= spec.qmin) & (q[:, i] + s <= spec.qmax)
                e = hr.error(ur + s * step, norm)
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
        b_new = snap_bias(refit_bias(u0, ht, b.copy(), norm), best_alpha, spec)
        e_old = ht.error(u, norm)
        e_new = ht.error(u0 + b_new[None, :], norm)
        b = np.where(e_new < e_old, b_new, b)
        u = u0 + b[None, :]
        if moved == 0:
            break
    err_refined = ht.error(u, norm)
    return LevelResult(q=q, delta=delta, b=b, alpha=best_alpha, err_relaxed=err_relaxed, err_rounded=err_rounded,
                       err_refined=err_refined)
