"""Solver checks: the MILP's optimum equals brute force, the LP's reported error equals the recomputed one."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from spikeforge.methods.layerwise.solver import (
    LevelSpec,
    effective_normalised,
    fit_levels,
    fit_lp,
    fit_ls,
    fit_milp,
    hinge_residual,
    layer_error,
    reduce_error,
)


def _tiny(seed: int, n: int = 14, d: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 9, size=(n, d)) / 8.0
    y = np.clip(rng.normal(0.3, 0.5, size=n), 0, 1)  # includes exact 0s and 1s (hinge rows)
    return x, y


def _brute(x, y, src, scale, c_range, bias_step, bias_range, norm):
    best = np.inf
    vals = range(c_range[0], c_range[1] + 1)
    for c in itertools.product(vals, repeat=len(src)):
        w = effective_normalised(np.array(c), src, scale, x.shape[1])
        u0 = x @ w
        for beta in range(bias_range[0], bias_range[1] + 1):
            e = reduce_error(hinge_residual(u0 + beta * bias_step, y), norm)
            best = min(best, float(e))
    return best


@pytest.mark.parametrize("norm", ["l1", "linf"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_milp_truenorth_bits_equal_brute_force(seed, norm):
    # 2 inputs, each on 2 axons of types 0 and 1; per-type weights s = (+3, −2), threshold α = 4, T = 8
    x, y = _tiny(seed)
    src = np.array([0, 0, 1, 1])
    alpha, ticks = 4, 8
    scale = np.array([3, -2, 3, -2]) / alpha
    kw = dict(vaxon_src=src, vaxon_scale=scale, c_range=(0, 1), bias_step=1 / (alpha * ticks), bias_range=(-40, 40))
    r = fit_milp(x, y, norm=norm, **kw)
    assert r.optimal
    brute = _brute(x, y, src, scale, (0, 1), 1 / (alpha * ticks), (-40, 40), norm)
    assert r.objective == pytest.approx(brute, abs=1e-7)
    # the reported objective is the error of the returned crossbar
    w = effective_normalised(r.crossbar, src, scale, 2)
    e = reduce_error(hinge_residual(x @ w + r.bias / (alpha * ticks), y), norm)
    assert float(e) == pytest.approx(r.objective, abs=1e-7)


def test_milp_multibit_crossbar_equal_brute_force():
    x, y = _tiny(5, d=3)
    src = np.arange(3)
    scale = np.full(3, 1 / 5)  # Loihi-like: one type, weight 1, α = 5; crossbar integers in [−3, 3]
    r = fit_milp(x, y, vaxon_src=src, vaxon_scale=scale, c_range=(-3, 3), bias_step=1 / 20, bias_range=(-10, 10))
    brute = _brute(x, y, src, scale, (-3, 3), 1 / 20, (-10, 10), "l1")
    assert r.optimal
    assert r.objective == pytest.approx(brute, abs=1e-7)


@pytest.mark.parametrize("norm", ["l1", "linf"])
def test_lp_reported_error_equals_recomputed(norm):
    rng = np.random.default_rng(3)
    x = rng.random((60, 7))
    y = np.clip(x @ rng.normal(0, 0.5, 7) + 0.1 + rng.normal(0, 0.05, 60), 0, 1)
    r = fit_lp(x, y, bound=0.4, norm=norm)
    assert r.status == 0
    assert np.abs(r.w).max() <= 0.4 + 1e-9
    e = layer_error(x, y[:, None], r.w[None], np.array([r.b]), norm)[0]
    assert e == pytest.approx(r.objective, rel=1e-7, abs=1e-8)


def test_lp_is_optimal_against_least_squares():
    # the L1 LP optimum can only beat any other point on the L1 objective, e.g. the LS solution
    rng = np.random.default_rng(4)
    x = rng.random((80, 5))
    y = np.clip(x @ rng.normal(0, 0.6, 5) + rng.normal(0, 0.1, 80), 0, 1)
    r = fit_lp(x, y)
    w, b = fit_ls(x, y[:, None], ridge=0.0)
    assert r.objective <= layer_error(x, y[:, None], w, b, "l1")[0] + 1e-9


def test_ls_hinge_zero_for_realisable_relu_targets():
    # targets produced by a clipped linear map are fit exactly, including the saturated rows
    rng = np.random.default_rng(6)
    x = rng.random((200, 4))
    w_true = np.array([[0.9, -0.7, 0.5, 0.3]])
    y = np.clip(x @ w_true.T - 0.2, 0, 1)
    w, b = fit_ls(x, y, ridge=0.0, iters=200)
    assert layer_error(x, y, w, b, "l2")[0] < 1e-8


def test_fit_levels_stays_on_grid_and_refinement_helps():
    rng = np.random.default_rng(7)
    x = (rng.random((300, 12)) < 0.4).astype(float)
    y = np.clip(x @ rng.normal(0, 0.3, (12, 5)) + 0.1, 0, 1)
    spec = LevelSpec(-8, 7, "integer", m=31, alpha_max=2047, ticks=32)
    r = fit_levels(x, y, spec, cd_passes=3)
    assert r.q.min() >= -8 and r.q.max() <= 7
    assert np.allclose(r.delta, 31 / r.alpha)
    assert np.all(r.err_refined <= r.err_rounded + 1e-12)
    # the bias is realisable: an integer number of 1/(α T) steps
    steps = r.b * r.alpha * 32
    assert np.allclose(steps, np.round(steps))
    e = layer_error(x, y, r.w, r.b, "l2")
    assert np.allclose(e, r.err_refined)


def _hinge_ridge_objective(x, y, w, b, lam, w0):
    u = x @ w + b
    return float(np.sum(hinge_residual(u, y) ** 2) + lam * np.sum((w - w0) ** 2))


def test_ls_reaches_the_squared_hinge_optimum():
    # the accelerated solver's objective matches an independent L-BFGS solve of the same convex problem
    from scipy.optimize import minimize

    rng = np.random.default_rng(8)
    x = (rng.random((400, 10)) < 0.5) * rng.random((400, 10))
    w_true = rng.normal(0, 0.6, (10, 3))
    y = np.clip(x @ w_true + rng.normal(0, 0.05, (400, 3)), 0, 1)
    w0 = rng.normal(0, 0.3, (3, 10))
    ridge = 0.05
    w, b = fit_ls(x, y, ridge=ridge, prior=(w0, np.zeros(3)), iters=200)
    lam = ridge * float(np.trace(x.T @ x)) / 10
    for j in range(3):
        def f(v, j=j):
            return _hinge_ridge_objective(x, y[:, j], v[:10], v[10], lam, w0[j])
        ref = minimize(f, np.r_[w0[j], 0.0], method="L-BFGS-B", options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10})
        assert f(np.r_[w[j], b[j]]) <= ref.fun * (1 + 1e-6) + 1e-9


def test_ls_each_matches_shared_design_solver():
    # per-neuron inputs: with every neuron given the same inputs, fit_ls_each equals fit_ls
    from spikeforge.methods.layerwise.solver import fit_ls_each

    rng = np.random.default_rng(9)
    x = rng.random((300, 2))
    y = np.clip(x @ rng.normal(0, 0.8, (2, 4)) + 0.1, 0, 1)
    w0 = rng.normal(0, 0.5, (4, 2))
    w1, b1 = fit_ls(x, y, ridge=0.01, prior=(w0, np.zeros(4)), iters=300)
    w2, b2 = fit_ls_each(np.broadcast_to(x, (4, 300, 2)), y, ridge=0.01, prior=(w0, np.zeros(4)), iters=300)
    assert np.allclose(w1, w2, atol=1e-6) and np.allclose(b1, b2, atol=1e-6)
