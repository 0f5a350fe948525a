"""Builders shared by the sim, hardware and deploy tests: tiny chips, hand-wired cores, random deployments.

Every random deployment built here satisfies its chip's design rules (``spikeforge.hardware.check``), so it
can be saved, loaded and simulated; tests that need a broken one break it explicitly.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from hypothesis import strategies as st

from spikeforge.deploy import Deployment
from spikeforge.hardware import ChipSpec, CoreSpec, check

#: the device the simulator tests run on: ``cpu`` unless ``SPIKEFORGE_TEST_DEVICE`` names another (``cuda``),
#: so the same spike-for-spike checks against the plain-loop reference run on a GPU where one is lent
SIM_DEVICE = os.environ.get("SPIKEFORGE_TEST_DEVICE", "cpu")

#: the neuron that holds no state: spikes iff input + leak ≥ 0 (Esser 2015, Jimeno Yepes 2016)
MEMORYLESS = {"threshold": 0, "neg_threshold": 0, "floor_mode": 1, "reset_mode": 0, "reset_value": 0}


def tiny_chip(
    n_axons: int = 4, n_neurons: int = 4, *, mesh: tuple[int, int] = (2, 2), max_chips: int = 2, **core: Any
) -> ChipSpec:
    """A small chip with TrueNorth-style cores (binary crossbar, 4 axon types unless overridden)."""
    return ChipSpec(
        name="tiny",
        core=CoreSpec(n_axons=n_axons, n_neurons=n_neurons, **core),
        mesh_rows=mesh[0],
        mesh_cols=mesh[1],
        max_chips=max_chips,
    )


def blank(chip: ChipSpec, n_cores: int = 1, n_inputs: int = 1, n_classes: int = 1, **kw: Any) -> Deployment:
    """``Deployment.empty`` with the neurons' parameters ready to be set by hand."""
    return Deployment.empty(chip, n_cores, n_inputs, n_classes, **kw)


def neuron(d: Deployment, core: int, j: int, **params: Any) -> None:
    """Enable neuron ``j`` of ``core`` and set its parameters (``weights`` as a per-type list)."""
    d.enabled[core, j] = True
    for name, value in params.items():
        if name == "weights":
            d.weights[core, j, : len(value)] = value
        elif name == "dest":
            dc, da, dd = value
            d.dest_core[core, j], d.dest_axon[core, j], d.dest_delay[core, j] = dc, da, dd
        else:
            getattr(d, name)[core, j] = value


def inputs(d: Deployment, *entries: tuple[int, int, int]) -> None:
    """Set the input map: (channel, core, axon) entries."""
    arr = np.array(entries, dtype=np.int32).reshape(-1, 3)
    d.input_channel, d.input_core, d.input_axon = arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy()


def outputs(d: Deployment, *entries: tuple[int, int, int]) -> None:
    """Set the output map: (core, neuron, class) entries."""
    arr = np.array(entries, dtype=np.int32).reshape(-1, 3)
    d.output_core, d.output_neuron, d.output_class = arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy()


def raster(*rows: str) -> np.ndarray:
    """``"0110"``-style strings (one per input, one character per tick) → (B, ticks) bool."""
    return np.array([[c == "1" for c in r] for r in rows], dtype=bool)


def spikes_of(rows: list[str]) -> np.ndarray:
    """Per-tick input spikes for a single input: ``["10", "01"]`` = tick 0 channel 0, tick 1 channel 1 →
    (1, ticks, channels) uint8."""
    return np.array([[[int(c) for c in r] for r in rows]], dtype=np.uint8)


# ------------------------------------------------------------------------------------------ random networks
def random_chip(rng: np.random.Generator, *, multibit: bool | None = None) -> ChipSpec:
    """A random small chip spec: core sizes, axon types, membrane width, delay range, mesh, crossbar kind."""
    if multibit is None:
        multibit = bool(rng.random() < 0.3)
    bits = int(rng.integers(4, 12))
    vmax = 2 ** (bits - 1) - 1
    wmax = int(rng.integers(1, 40))
    core = CoreSpec(
        n_axons=int(rng.integers(1, 9)),
        n_neurons=int(rng.integers(1, 9)),
        n_axon_types=int(rng.integers(1, 5)),
        crossbar_min=-3 if multibit else 0,
        crossbar_max=3 if multibit else 1,
        weight_min=-wmax,
        weight_max=wmax,
        leak_min=-int(rng.integers(0, 6)),
        leak_max=int(rng.integers(0, 6)),
        threshold_max=int(rng.integers(0, 2 * vmax + 2)),
        reset_value_min=-vmax - 1,
        reset_value_max=vmax,
        membrane_bits=bits,
        delay_min=1,
        delay_max=int(rng.integers(1, 5)),
    )
    return ChipSpec(name="random", core=core, mesh_rows=int(rng.integers(1, 3)), mesh_cols=int(rng.integers(1, 3)),
                    max_chips=3)


def random_deployment(
    rng: np.random.Generator,
    chip: ChipSpec | None = None,
    *,
    n_cores: int | None = None,
    n_inputs: int | None = None,
    n_classes: int | None = None,
    stochastic: bool = False,
) -> Deployment:
    """A random deployment that passes its chip's design rules: every reset and floor mode, leaks, delays,
    recurrent routes, merging inputs, disabled neurons, and cores spread over several chips (so routed spikes
    cross chips). With ``stochastic``: also leak reversal and, where the chip has them, stochastic synapses,
    leaks and thresholds (drawn after everything else, so the rest is the same network)."""
    chip = chip or random_chip(rng)
    core = chip.core
    slots = chip.cores_per_chip * chip.max_chips
    c = n_cores if n_cores is not None else int(rng.integers(1, min(4, slots) + 1))
    a, n, t = core.n_axons, core.n_neurons, core.n_axon_types
    k = n_inputs if n_inputs is not None else int(rng.integers(1, 6))
    ncls = n_classes if n_classes is not None else int(rng.integers(1, 4))
    d = Deployment.empty(chip, c, k, ncls, ticks_per_input=int(rng.integers(1, 4)),
                         provenance={"builder": "tests.helpers.random_deployment"})
    vmin, vmax = core.v_min, core.v_max
    d.crossbar[:] = rng.integers(core.crossbar_min, core.crossbar_max + 1, (c, a, n)) * (rng.random((c, a, n)) < 0.6)
    d.axon_type[:] = rng.integers(0, t, (c, a))
    d.weights[:] = rng.integers(core.weight_min, core.weight_max + 1, (c, n, t))
    d.leak[:] = rng.integers(core.leak_min, core.leak_max + 1, (c, n))
    d.threshold[:] = rng.integers(0, min(core.threshold_max, core.v_max, 3 * max(core.weight_max, 1)) + 1, (c, n))
    d.neg_threshold[:] = rng.integers(0, core.threshold_max + 1, (c, n))
    d.reset_mode[:] = rng.choice(np.array(core.reset_modes), (c, n))
    d.reset_value[:] = rng.integers(max(core.reset_value_min, vmin), min(core.reset_value_max, vmax) + 1, (c, n))
    d.floor_mode[:] = rng.integers(0, 2, (c, n))
    d.v_init[:] = rng.integers(vmin, vmax + 1, (c, n)) // int(rng.choice([1, 4]))
    d.enabled[:] = rng.random((c, n)) < 0.85
    d.dest_core[:] = np.where(rng.random((c, n)) < 0.6, rng.integers(0, c, (c, n)), -1)
    d.dest_axon[:] = rng.integers(0, a, (c, n))
    d.dest_delay[:] = rng.integers(core.delay_min, core.delay_max + 1, (c, n))
    # distinct mesh positions, possibly on several chips
    pos = rng.permutation(slots)[:c]
    per = chip.cores_per_chip
    d.placement[:] = np.stack([pos // per, (pos % per) // chip.mesh_cols, (pos % per) % chip.mesh_cols], axis=1)
    m = int(rng.integers(1, 2 * k + 2))
    d.input_channel = rng.integers(0, k, m).astype(np.int32)
    d.input_core = rng.integers(0, c, m).astype(np.int32)
    d.input_axon = rng.integers(0, a, m).astype(np.int32)
    outs = np.argwhere(d.enabled & (d.dest_core < 0))
    outs = outs[rng.random(len(outs)) < 0.8]
    d.output_core = outs[:, 0].astype(np.int32)
    d.output_neuron = outs[:, 1].astype(np.int32)
    d.output_class = rng.integers(0, ncls, len(outs)).astype(np.int32)
    d.core_labels = [f"core{i}" for i in range(c)]
    if stochastic:
        d.leak_reversal[:] = rng.random((c, n)) < 0.3
        d.prng_seed = int(rng.integers(0, 2**32))
        if core.stochastic_modes:
            d.stochastic_synapse[:] = rng.random((c, n, t)) < 0.4
            d.stochastic_leak[:] = rng.random((c, n)) < 0.4
            bits = rng.integers(0, min(core.threshold_mask_bits, 8) + 1, (c, n))
            d.threshold_mask[:] = np.where(rng.random((c, n)) < 0.4, (1 << bits) - 1, 0)
    return d.normalised()


def random_spikes(rng: np.random.Generator, batch: int, ticks: int, channels: int, p: float = 0.4) -> np.ndarray:
    """(batch, ticks, channels) uint8 Bernoulli(p) spikes."""
    return (rng.random((batch, ticks, channels)) < p).astype(np.uint8)


#: hypothesis strategy for a numpy seed (a failing example then reports a seed to replay)
seeds = st.integers(0, 2**32 - 1)


def assert_counts_equal(a: Any, b: Any) -> None:
    """Every per-input and per-core counter of two :class:`EventCounts` is identical."""
    assert a.ticks == b.ticks
    assert a.n_cores == b.n_cores
    for name in ("synaptic_events", "spikes", "axon_events", "hops", "chip_crossings", "active_cores",
                 "core_ticks", "neuron_updates", "core_spikes", "core_synaptic_events"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


#: the repository root (benchmarks/ and scripts/ are not packages)
ROOT = Path(__file__).resolve().parents[1]


def load_script(relpath: str, name: str) -> ModuleType:
    """Import a script of the repository (e.g. ``"benchmarks/eedn.py"``) as module ``name``."""
    spec = importlib.util.spec_from_file_location(name, ROOT / relpath)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def run_checked(d: Deployment, x: np.ndarray, ticks: int, seed: int | None = None, **kw: Any) -> Any:
    """Simulate ``d`` on ``x`` for ``ticks`` ticks on the fast engine (CPU, every spike recorded), check it
    against the plain-loop reference spike for spike and count for count (``seed``: the stochastic modes'
    PRN seed, default the deployment's; ``kw`` go to :func:`~spikeforge.sim.simulate`), and return the engine's
    :class:`~spikeforge.sim.SimResult`."""
    from spikeforge.hardware import check
    from spikeforge.sim import simulate, simulate_reference

    d = d.normalised()
    check(d)
    r = simulate(d, x, ticks=ticks, record_spikes=True, device=SIM_DEVICE, seed=seed, **kw)
    cls, counts, ras = simulate_reference(d, x, ticks, seed=seed)
    assert r.spikes is not None
    np.testing.assert_array_equal(r.spikes, ras)
    np.testing.assert_array_equal(r.class_counts, cls)
    assert_counts_equal(r.counts, counts)
    return r


def feedforward(rng: np.random.Generator, ticks_per_input: int) -> Deployment:
    """Three layers of memoryless neurons on 4 cores: cores 0, 1 (inputs, depth 0) → core 2 (delay 2, depth 2)
    → core 3 (delay 1, depth 3); classes 0-1 read core 3, class 2 reads core 2. Leaks are ≤ -1 so no neuron
    fires without input (otherwise drain ticks would add spikes that a pipeline never sees)."""
    a = n = 6
    d = blank(tiny_chip(a, n, membrane_bits=10, mesh=(2, 2), max_chips=1), n_cores=4, n_inputs=8, n_classes=3,
              ticks_per_input=ticks_per_input)
    d.crossbar[:] = rng.random(d.crossbar.shape) < 0.6
    d.axon_type[:] = rng.integers(0, 4, d.axon_type.shape)
    for c in range(4):
        for j in range(n):
            neuron(d, c, j, weights=rng.integers(-3, 6, 4).tolist(), leak=int(rng.integers(-3, 0)), **MEMORYLESS)
    for c in (0, 1):
        for j in range(n):
            d.dest_core[c, j], d.dest_axon[c, j], d.dest_delay[c, j] = 2, (j + 3 * c) % a, 2
    for j in range(n):
        if j < 4:
            d.dest_core[2, j], d.dest_axon[2, j], d.dest_delay[2, j] = 3, j, 1
    ch = np.arange(8)
    inputs(d, *[(int(k), int(k % 2), int(k % a)) for k in ch], (0, 1, 5))
    outputs(d, *[(3, j, j % 2) for j in range(n)], (2, 4, 2), (2, 5, 2))
    d = d.normalised()
    check(d)
    return d
