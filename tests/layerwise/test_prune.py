"""Node pruning: every greedy step is the best single addition; pruned conversion keeps the requested sizes."""

from __future__ import annotations

import itertools

import numpy as np

from spikeforge.methods.layerwise.convert import ConvertOptions, convert, make_constraints
from spikeforge.methods.layerwise.prune import residual_energy, select_units


def test_greedy_steps_are_exact_best_additions():
    rng = np.random.default_rng(0)
    h = np.maximum(rng.normal(size=(120, 9)) @ rng.normal(size=(9, 9)), 0)
    z = h @ rng.normal(size=(9, 4)) + rng.normal(0, 0.1, (120, 4))
    sel = select_units(h, z, 5)
    assert len(set(sel.tolist())) == 5
    for step in range(5):
        prefix = sel[:step].tolist()
        energies = {j: residual_energy(h, z, np.array([*prefix, j])) for j in range(9) if j not in prefix}
        assert energies[int(sel[step])] <= min(energies.values()) + 1e-8


def test_greedy_matches_brute_force_on_orthogonal_columns():
    # orthogonal (centred) columns: the greedy choice is optimal
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(60, 6)))
    q -= q.mean(axis=0)
    z = q @ rng.normal(size=(6, 3))
    sel = select_units(q, z, 3)
    best = min(residual_energy(q, z, np.array(s)) for s in itertools.combinations(range(6), 3))
    assert residual_energy(q, z, sel) <= best + 1e-8


def test_pruned_conversion_sizes(digits_mlp):
    layers, x, *_ = digits_mlp
    cons = make_constraints("analog", ticks=16)
    net, rep = convert(layers, x[:200], cons, options=ConvertOptions(keep=0.5))
    assert [st.n_out for st in net.stages[:-1]] == [12, 6]
    assert [len(k) for k in rep.kept] == [12, 6, 10]
