"""Soundness of the exactness analysis: whenever ``plan_nir`` calls a random deployment exact, the exported
graph, run with NIR's semantics (``nirtools.run_reference``), gives the simulator's output spikes."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("nir")

from nirtools import run_reference

from helpers import random_deployment, random_spikes
from spikeforge.deploy import Deployment
from spikeforge.hardware import DesignRuleError, check
from spikeforge.interop import align_to_chip, deployment_to_nir, output_tick_offsets, plan_nir
from spikeforge.sim import simulate


def tamed(seed: int) -> Deployment | None:
    """A random deployment (every mode, delays, recursion, merging) pushed part of the way to exactness."""
    rng = np.random.default_rng(seed)
    d = random_deployment(rng)
    d.v_init[:] = 0
    if rng.random() < 0.7:
        d.reset_mode[:] = 0
    if rng.random() < 0.7:
        d.weights[:] = np.abs(d.weights)
        d.leak[:] = np.abs(d.leak)
        d.reset_value[:] = np.abs(d.reset_value)
    if rng.random() < 0.7:  # feed-forward routes only
        d.dest_core[d.dest_core <= np.arange(d.n_cores)[:, None]] = -1
    if rng.random() < 0.8:  # one source per axon: inputs first, then the first neuron routed there
        _, idx = np.unique(np.stack([d.input_core, d.input_axon], 1), axis=0, return_index=True)
        d.input_channel, d.input_core, d.input_axon = d.input_channel[idx], d.input_core[idx], d.input_axon[idx]
        taken = {(int(c), int(a)) for c, a in zip(d.input_core, d.input_axon, strict=True)}
        for c, j in zip(*np.nonzero(d.enabled & (d.dest_core >= 0)), strict=True):
            key = (int(d.dest_core[c, j]), int(d.dest_axon[c, j]))
            if key in taken:
                d.dest_core[c, j] = -1
            taken.add(key)
    if rng.random() < 0.3:  # some memoryless neurons
        m = rng.random(d.enabled.shape) < 0.5
        for name in ("threshold", "neg_threshold", "reset_value", "reset_mode"):
            getattr(d, name)[m] = 0
    try:
        check(d)
    except DesignRuleError:
        return None
    if not len(d.output_core) or not d.enabled[d.output_core, d.output_neuron].any():
        return None
    return d


def test_exact_plans_are_exact() -> None:
    exact = 0
    for seed in range(120):
        d = tamed(seed)
        if d is None:
            continue
        first = int(plan_nir(d).depth[d.output_core].min())
        for ticks in (None, first + 1, 6):  # first + 1: one evaluation per neuron
            try:
                plan = plan_nir(d, ticks=ticks)
            except ValueError:  # ticks before the first output
                continue
            if not plan.exact:
                continue
            exact += 1
            horizon = 6 if ticks is None else ticks  # exactness is claimed up to `ticks` only
            graph = deployment_to_nir(d, ticks=ticks, embed=False)
            x = random_spikes(np.random.default_rng(seed), 6, 3, d.n_inputs)
            chip = simulate(d, x[:, :horizon], ticks=horizon, record_outputs=True).output_spikes
            off = output_tick_offsets(graph)
            out = run_reference(graph, x, horizon - int(off.min()))
            assert np.array_equal(align_to_chip(out, off, horizon), chip), f"seed {seed}, ticks {ticks}"
    assert exact >= 15  # the check is not vacuous
