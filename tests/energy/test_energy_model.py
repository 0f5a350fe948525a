"""The energy model on hand-computable counters: exact energies, static/dynamic separation, throughput."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikeforge.deploy.deployment import Deployment
from spikeforge.energy import (
    DYNAMIC_TERMS,
    LOIHI_LIKE_CONSTANTS,
    STATIC_TERMS,
    TERMS,
    EnergyConstants,
    constants_for,
    estimate_energy,
)
from spikeforge.hardware.spec import LOIHI_LIKE, TRUENORTH
from spikeforge.sim.counts import EventCounts

# Round constants so every energy below can be checked by hand.
K = EnergyConstants(
    chip="truenorth",
    p_static_core_w=1e-6,  # 1 µW per core
    e_core_tick_j=2e-9,  # 2 nJ per core-tick
    e_synaptic_event_j=3e-12,
    e_spike_j=5e-12,
    e_neuron_update_j=7e-12,
    e_hop_j=11e-12,
    e_chip_crossing_j=13e-12,
)


def counts(scale: float = 1.0, *, ticks: int = 4, n_cores: int = 3, dtype: type = np.int64) -> EventCounts:
    """Two inputs: the first active, the second silent (neuron updates only)."""

    def a(x: list[float]) -> np.ndarray:
        return (np.array(x, dtype=np.float64) * scale).astype(dtype)

    return EventCounts(
        ticks=ticks,
        synaptic_events=a([100, 0]),
        spikes=a([10, 0]),
        axon_events=a([12, 0]),
        hops=a([20, 0]),
        chip_crossings=a([1, 0]),
        active_cores=np.array([2, 0], np.int64),
        core_ticks=np.array([n_cores * ticks] * 2, np.int64),
        neuron_updates=np.array([40, 40], np.int64),
        n_cores=n_cores,
        core_spikes=np.zeros(n_cores, np.int64),
        core_synaptic_events=np.zeros(n_cores, np.int64),
    )


def test_hand_computed_sequential() -> None:
    rep = estimate_energy(counts(), TRUENORTH, constants=K, tick_hz=1000.0)
    # static: 3 cores x 4 ticks; leakage 1 µW x 3 x 4 ms = 12 nJ; per-tick 2 nJ x 3 x 4 = 24 nJ
    assert rep.breakdown_uj["static_leakage"] == pytest.approx([0.012, 0.012], rel=1e-12)
    assert rep.breakdown_uj["static_tick"] == pytest.approx([0.024, 0.024], rel=1e-12)
    # dynamic, input 0: 100x3 + 10x5 + 40x7 + 20x11 + 1x13 = 863 pJ; input 1: 40x7 = 280 pJ
    assert rep.breakdown_uj["synaptic_events"] == pytest.approx([300e-6, 0.0], rel=1e-12)
    assert rep.breakdown_uj["spikes"] == pytest.approx([50e-6, 0.0], rel=1e-12)
    assert rep.breakdown_uj["neuron_updates"] == pytest.approx([280e-6, 280e-6], rel=1e-12)
    assert rep.breakdown_uj["hops"] == pytest.approx([220e-6, 0.0], rel=1e-12)
    assert rep.breakdown_uj["chip_crossings"] == pytest.approx([13e-6, 0.0], rel=1e-12)
    assert rep.energy_uj == pytest.approx([0.036863, 0.03628], rel=1e-12)
    assert rep.dynamic_uj == pytest.approx([863e-6, 280e-6], rel=1e-12)
    assert rep.static_uj == pytest.approx([0.036, 0.036], rel=1e-12)
    assert rep.fps == pytest.approx(250.0)  # 1000 Hz / 4 ticks
    assert rep.ticks_per_input == 4
    assert rep.power_mw == pytest.approx(0.0365715e-6 * 250 * 1e3, rel=1e-12)
    assert rep.fps_per_w == pytest.approx(250.0 / (0.0365715e-6 * 250), rel=1e-12)
    assert tuple(rep.breakdown_uj) == TERMS
    assert rep.batch == 2 and rep.mean_energy_uj == pytest.approx(0.0365715, rel=1e-12)


def test_hand_computed_pipelined_with_deployment_and_tick_override() -> None:
    dep = Deployment.empty(TRUENORTH, 3, n_inputs=1, n_classes=1, ticks_per_input=1)
    rep = estimate_energy(counts(), TRUENORTH, dep, regime="pipelined", tick_hz=2000.0, constants=K)
    # one tick per input at 2 kHz: leakage 1 µW x 3 x 0.5 ms = 1.5 nJ; per-tick 2 nJ x 3 = 6 nJ
    assert rep.static_uj == pytest.approx([0.0075, 0.0075], rel=1e-12)
    assert rep.dynamic_uj == pytest.approx([863e-6, 280e-6], rel=1e-12)  # regime-independent
    assert rep.fps == pytest.approx(2000.0)  # one classification per tick
    assert rep.tick_hz == 2000.0
    assert rep.seconds_per_input == pytest.approx(0.5e-3)


def test_pipelined_without_deployment_uses_counts_ticks() -> None:
    rep = estimate_energy(counts(ticks=1), TRUENORTH, regime="pipelined", constants=K)
    assert rep.fps == pytest.approx(TRUENORTH.tick_hz)


def test_zero_activity_is_static_only() -> None:
    rep = estimate_energy(counts(0.0), TRUENORTH, constants=K.with_values(e_neuron_update_j=0.0))
    for t in DYNAMIC_TERMS:
        assert np.all(rep.breakdown_uj[t] == 0.0)
    assert np.all(rep.dynamic_uj == 0.0)
    assert rep.energy_uj == pytest.approx(rep.static_uj, rel=1e-15)
    assert np.all(rep.static_uj > 0)


def test_doubling_events_doubles_dynamic_only() -> None:
    one = estimate_energy(counts(1.0), TRUENORTH, constants=K.with_values(e_neuron_update_j=0.0))
    two = estimate_energy(counts(2.0), TRUENORTH, constants=K.with_values(e_neuron_update_j=0.0))
    assert two.dynamic_uj == pytest.approx(2 * one.dynamic_uj, rel=1e-12)
    assert two.static_uj == pytest.approx(one.static_uj, rel=1e-12)
    for t in STATIC_TERMS:
        assert two.breakdown_uj[t] == pytest.approx(one.breakdown_uj[t], rel=1e-12)
    assert np.all(two.energy_uj >= one.energy_uj)


@pytest.mark.parametrize("chip", [TRUENORTH, LOIHI_LIKE])
def test_fps_per_watt_is_fps_over_watts(chip: object) -> None:
    rep = estimate_energy(counts(), chip)  # type: ignore[arg-type]
    assert rep.fps_per_w == pytest.approx(rep.fps / (rep.power_mw / 1e3), rel=1e-12)
    assert rep.fps_per_w == pytest.approx(1.0 / (rep.mean_energy_uj * 1e-6), rel=1e-12)
    d = rep.to_dict()
    assert d["fps_per_w"] == rep.fps_per_w and d["chip"] == chip.name  # type: ignore[attr-defined]
    assert d["static_uj"] + d["dynamic_uj"] == pytest.approx(d["energy_uj"], rel=1e-12)


def test_static_core_policies() -> None:
    dep = Deployment.empty(TRUENORTH, 3, n_inputs=1, n_classes=1)
    k = K.with_values(e_core_tick_j=0.0)
    base = estimate_energy(counts(), TRUENORTH, dep, constants=k)
    active = estimate_energy(counts(), TRUENORTH, dep, constants=k, static_cores="active")
    chip = estimate_energy(counts(), TRUENORTH, dep, constants=k, static_cores="chip")
    assert base.charged_cores.tolist() == [3.0, 3.0]
    assert active.charged_cores.tolist() == [2.0, 0.0]
    assert chip.charged_cores.tolist() == [4096.0, 4096.0]
    # leakage 1 µW x 4 ms = 4 nJ per charged core
    assert active.breakdown_uj["static_leakage"] == pytest.approx([0.008, 0.0], rel=1e-12)
    assert chip.breakdown_uj["static_leakage"] == pytest.approx([4096 * 0.004] * 2, rel=1e-12)
    assert any("all 3 deployment cores" in a for a in base.assumptions)
    # "chip" charges the chips the placement spans: cores on chips 0 and 2 span 2 chips (8192 cores), not the
    # 3 chips up to the highest index; without a deployment, the chips the core count needs
    spread = Deployment.empty(TRUENORTH, 3, n_inputs=1, n_classes=1)
    spread.placement[:, 0] = [0, 2, 2]
    spread.placement[:, 1:] = [[0, 0], [0, 0], [0, 1]]
    two = estimate_energy(counts(), TRUENORTH, spread, constants=k, static_cores="chip")
    assert two.charged_cores.tolist() == [8192.0, 8192.0]
    many = estimate_energy(counts(n_cores=4097), TRUENORTH, constants=k, static_cores="chip")
    assert many.charged_cores.tolist() == [8192.0, 8192.0]


def test_float_expected_counts_accepted() -> None:
    rep = estimate_energy(counts(0.5, dtype=np.float64), TRUENORTH, constants=K)
    assert rep.breakdown_uj["synaptic_events"][0] == pytest.approx(150e-6, rel=1e-12)


def test_preset_constants_and_sources() -> None:
    for c in (constants_for("truenorth"), constants_for(LOIHI_LIKE), LOIHI_LIKE_CONSTANTS):
        assert set(c.sources) == set(EnergyConstants.value_fields())
        assert all(len(s) > 20 for s in c.sources.values())
    loihi = constants_for("loihi-like")
    assert loihi.e_synaptic_event_j == pytest.approx(23.6e-12)
    assert loihi.e_neuron_update_j == pytest.approx(52e-12)
    assert loihi.e_spike_j == pytest.approx(1.7e-12)
    assert loihi.e_hop_j == pytest.approx(3.5e-12)
    assert loihi.p_static_core_w == pytest.approx(0.029 / 128)
    tn = constants_for(TRUENORTH)
    assert tn.e_synaptic_event_j == pytest.approx(2.5e-12)
    with pytest.raises(ValueError, match="no energy constants"):
        constants_for("not-a-chip")


# ------------------------------------------------------------------------------------------- bad input
def _with(**kw: object) -> EventCounts:
    c = counts()
    for k, v in kw.items():
        setattr(c, k, v)
    return c


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"synaptic_events": np.array([-1, 0])}, "negative"),
        ({"spikes": np.array([np.nan, 0.0])}, "NaN"),
        ({"hops": np.array([np.inf, 0.0])}, "NaN or infinity"),
        ({"neuron_updates": np.array([1, 2, 3])}, "differ in length"),
        ({"ticks": 0}, "ticks must be >= 1"),
        ({"ticks": 2.5}, "ticks must be an integer"),
        ({"n_cores": 0}, "n_cores must be >= 1"),
        ({"spikes": np.array(["a", "b"])}, "numeric"),
        ({"spikes": np.zeros((2, 2))}, "1-D"),
    ],
)
def test_bad_counts_raise(bad: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        estimate_energy(_with(**bad), TRUENORTH, constants=K)


def test_empty_batch_raises() -> None:
    z = np.zeros(0, np.int64)
    c = EventCounts(1, z, z, z, z, z, z, z, z, 1, np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match="no inputs"):
        estimate_energy(c, TRUENORTH, constants=K)


@pytest.mark.parametrize("hz", [0.0, -1000.0, math.nan, math.inf, True, "1000"])
def test_bad_tick_rate_raises(hz: object) -> None:
    with pytest.raises(ValueError, match="tick_hz"):
        estimate_energy(counts(), TRUENORTH, tick_hz=hz, constants=K)  # type: ignore[arg-type]


def test_bad_options_raise() -> None:
    with pytest.raises(ValueError, match="regime"):
        estimate_energy(counts(), TRUENORTH, regime="batch", constants=K)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="static_cores"):
        estimate_energy(counts(), TRUENORTH, static_cores="some", constants=K)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="deployment has 5"):
        estimate_energy(counts(), TRUENORTH, Deployment.empty(TRUENORTH, 5, 1, 1), constants=K)
    with pytest.raises(ValueError, match="not 'truenorth'"):
        estimate_energy(counts(), TRUENORTH, Deployment.empty(LOIHI_LIKE, 3, 1, 1), constants=K)


@pytest.mark.parametrize("value", [-1e-12, math.nan, math.inf])
def test_bad_constants_raise(value: float) -> None:
    with pytest.raises(ValueError, match="e_spike_j"):
        K.with_values(e_spike_j=value)


def test_a_chip_posing_as_a_preset_is_warned_about() -> None:
    from dataclasses import replace

    from spikeforge.energy.model import constants_for
    from spikeforge.hardware import TRUENORTH

    with pytest.warns(UserWarning, match="differs from the preset of that name"):
        constants_for(replace(TRUENORTH, core=replace(TRUENORTH.core, n_axons=128)))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        constants_for(TRUENORTH)
        constants_for(replace(TRUENORTH, name="tn-128", base="truenorth",
                              core=replace(TRUENORTH.core, n_axons=128)))


def test_energy_constants_take_numpy_numbers() -> None:
    from dataclasses import replace

    from spikeforge.energy.constants import LOIHI_LIKE_CONSTANTS

    c = replace(LOIHI_LIKE_CONSTANTS, e_spike_j=np.float32(2e-12), e_hop_j=np.int64(0))
    assert isinstance(c.e_spike_j, float) and c.e_spike_j == pytest.approx(2e-12) and c.e_hop_j == 0.0
    with pytest.raises(ValueError, match="must be a number"):
        replace(LOIHI_LIKE_CONSTANTS, e_spike_j=np.bool_(True))
