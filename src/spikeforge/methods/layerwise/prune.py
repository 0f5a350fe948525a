"""Node pruning: which units of a hidden layer to keep (docs/methods/layerwise.md, "Node pruning").

Keeping a subset S of layer ℓ's units, the next layer can at best reproduce its pre-activations Z (N, m)
by a least-squares refit on the kept activations H_S (plus a constant):

    R(S) = min_{V, c} ‖Z − H_S V − 1 cᵀ‖²_F.

Choosing |S| = k to minimise R is column-subset selection (NP-hard in general). We use greedy forward
selection (each step adds the unit whose orthogonalised activation column removes most of the remaining
residual energy). The residual reduction F(S) = ‖Z_c‖² − R(S) is monotone and its greedy maximisation is
within a factor (1 − e^(−γ)) of the optimum, γ the submodularity ratio of the activation columns (Das &
Kempe, ICML 2011, Thm. 3.2); γ = 1 (the (1 − 1/e) bound) when the columns are orthogonal.
The downstream layer is then re-solved on the kept units' spiking outputs by the layer-wise converter.
"""

from __future__ import annotations

import numpy as np


def residual_energy(h: np.ndarray, z: np.ndarray, sel: np.ndarray) -> float:
    """R(S): the least-squares residual of ``z`` (N, m) on columns ``sel`` of ``h`` (N, n) plus a constant."""
    a = np.hstack([h[:, sel], np.ones((len(h), 1))])
    coef, *_ = np.linalg.lstsq(a, z, rcond=None)
    return float(np.square(z - a @ coef).sum())


def select_units(h: np.ndarray, z: np.ndarray, k: int, *, eps: float = 1e-10) -> np.ndarray:
    """Greedy forward column-subset selection: ``k`` column indices of ``h`` (N, n) whose span (with a
    constant) best reconstructs ``z`` (N, m) in least squares. O(k·n·(n + m)) after forming the Gram
    matrices; each step is exact given the previous choices (rank-one updates of the projected Gram)."""
    h = np.asarray(h, np.float64)
    z = np.asarray(z, np.float64)
    n = h.shape[1]
    if not 0 < k <= n:
        raise ValueError(f"k={k} must be in [1, {n}]")
    hc = h - h.mean(axis=0)  # the constant column is always in the span: centre
    zc = z - z.mean(axis=0)
    g = hc.T @ hc  # projected Gram matrix (n, n)
    c = hc.T @ zc  # projected cross terms (n, m)
    chosen: list[int] = []
    avail = np.ones(n, bool)
    for _ in range(k):
        diag = np.diag(g).copy()
        ok = avail & (diag > eps * max(1.0, float(np.abs(diag).max())))
        if not ok.any():  # remaining columns are in the span: any of them
            chosen.extend(np.flatnonzero(avail)[: k - len(chosen)].tolist())
            break
        gain = np.where(ok, np.square(c).sum(axis=1) / np.where(ok, diag, 1.0), -np.inf)
        j = int(np.argmax(gain))
        chosen.append(j)
        avail[j] = False
        v = g[:, j] / np.sqrt(g[j, j])
        cj = c[j] / np.sqrt(g[j, j])
        g = g - np.outer(v, v)
        c = c - np.outer(v, cj)
    return np.array(chosen, np.int64)
