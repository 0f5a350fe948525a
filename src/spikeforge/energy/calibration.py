"""Calibration of the TrueNorth energy constants against published measurements.

Two TrueNorth constants are not published as such: the leakage power of a core (``p_static_core_w``) and
the activity-independent energy of a core per tick (``e_core_tick_j``). :func:`calibrate_truenorth` fits
them — non-negative least squares on the *relative* errors — to nine published figures (:data:`ANCHORS`):
Esser et al. 2015 (energy per MNIST image, two networks, one tick per image at 1 kHz) and the seven
one-chip measurements of Esser et al. 2016 (power at a given core count and frame rate, one classification
per tick). Every anchor is evaluated through :func:`~spikeforge.energy.model.estimate_energy` itself, on
synthetic counters at an assumed activity (:data:`REFERENCE_ACTIVITY`, Merolla 2014's typical network:
20 Hz per neuron at 1 kHz, 128 active synapses per neuron), because the papers do not publish the
activity of their networks. The dynamic constants stay at their sourced values
(:mod:`spikeforge.energy.constants`); the fit absorbs what the assumed activity misses into the two
static constants. The model is linear in the constants, so the fit is exact and deterministic.

Merolla 2014's own full-chip figures (:data:`CHECKS`) are reported next to the model but are not fitted:
they were measured at 0.775 V, lower than the supply needed for the faster-than-real-time Esser 2016 runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from scipy.optimize import nnls

from spikeforge.energy.constants import (
    TRUENORTH_FITTED,
    EnergyConstants,
    truenorth_constants,
)
from spikeforge.energy.model import estimate_energy
from spikeforge.hardware.spec import TRUENORTH
from spikeforge.sim.counts import EventCounts

#: Relative error every required anchor must stay within.
TOLERANCE = 0.20

ESSER_2015 = "Esser et al., NIPS 28 (2015), abstract (MNIST, one tick per image, 1000 images/s)"
ESSER_2016 = "Esser et al., PNAS 113(41):11441 (2016), Table 1 (one chip, measured)"


@dataclass(frozen=True)
class ReferenceActivity:
    """Assumed activity per core-tick, for anchors whose networks' activity is not published.

    Attributes:
        rate_per_tick: spikes per enabled neuron per tick (Merolla 2014: 20 Hz at 1 kHz = 0.02).
        active_synapses: synaptic events each spike causes (Merolla 2014: 128 active synapses per neuron).
        neurons_per_core: enabled neurons per core (a full TrueNorth core: 256).
        hops_per_spike: mean router hops per spike (assumed; a neighbouring-layer destination).
    """

    rate_per_tick: float = 20.0 / 1000.0
    active_synapses: float = 128.0
    neurons_per_core: float = 256.0
    hops_per_spike: float = 10.0

    @property
    def spikes_per_core_tick(self) -> float:
        """Spikes per core per tick."""
        return self.neurons_per_core * self.rate_per_tick

    @property
    def synaptic_events_per_core_tick(self) -> float:
        """Synaptic events per core per tick."""
        return self.spikes_per_core_tick * self.active_synapses

    def describe(self) -> str:
        """One line stating the assumed activity."""
        spikes = self.spikes_per_core_tick
        return (
            f"per core-tick {self.synaptic_events_per_core_tick:g} synaptic events, {spikes:g} spikes, "
            f"{spikes * self.hops_per_spike:g} hops, {self.neurons_per_core:g} neuron updates "
            f"(Merolla 2014 typical: {self.rate_per_tick * 1000:g} Hz at 1 kHz x {self.active_synapses:g} "
            f"active synapses; {self.hops_per_spike:g} hops/spike assumed)"
        )


#: Merolla et al. 2014's "typical" network: 20 Hz mean rate at 1 kHz, 128 active synapses per neuron.
REFERENCE_ACTIVITY = ReferenceActivity()


def reference_counts(
    n_cores: int, ticks: int = 1, activity: ReferenceActivity = REFERENCE_ACTIVITY, batch: int = 1
) -> EventCounts:
    """Expected counters of ``n_cores`` full cores running ``ticks`` ticks at ``activity`` (float counts)."""
    if n_cores < 1 or ticks < 1 or batch < 1:
        raise ValueError("reference_counts: n_cores, ticks and batch must be >= 1")
    core_ticks = float(n_cores * ticks)
    spikes = activity.spikes_per_core_tick * core_ticks
    per = lambda v: np.full(batch, v, dtype=np.float64)  # noqa: E731
    return EventCounts(
        ticks=ticks,
        synaptic_events=per(activity.synaptic_events_per_core_tick * core_ticks),
        spikes=per(spikes),
        axon_events=per(spikes),
        hops=per(spikes * activity.hops_per_spike),
        chip_crossings=per(0.0),
        active_cores=per(float(n_cores)),
        core_ticks=per(core_ticks),
        neuron_updates=per(activity.neurons_per_core * core_ticks),
        n_cores=n_cores,
        core_spikes=np.zeros(n_cores),
        core_synaptic_events=np.zeros(n_cores),
    )


Quantity = Literal["energy_per_input", "power", "energy_per_synaptic_event"]
_UNITS: dict[str, str] = {
    "energy_per_input": "µJ/input",
    "power": "mW",
    "energy_per_synaptic_event": "pJ/event",
}


@dataclass(frozen=True)
class Anchor:
    """One published figure the model is compared with.

    Attributes:
        name: short label (used as the row name).
        source: publication and table.
        quantity: what is compared: energy per input (µJ), average power (mW) or total energy per synaptic
            event (pJ, Merolla's "considering total energy").
        published: the published value in :attr:`unit`.
        n_cores: cores the network occupies.
        tick_hz: tick rate (= frames per second: one input per tick, pipelined).
        required: whether the calibration must land within :data:`TOLERANCE`.
    """

    name: str
    source: str
    quantity: Quantity
    published: float
    n_cores: int
    tick_hz: float
    required: bool = True

    @property
    def unit(self) -> str:
        """Unit of :attr:`published`."""
        return _UNITS[self.quantity]


#: The nine required anchors (Esser 2015 MNIST; Esser 2016 Table 1).
ANCHORS: tuple[Anchor, ...] = (
    Anchor("Esser 2015 MNIST, 5 cores, ensemble 1", ESSER_2015 + "; 5 cores [inferred: docs/energy.md, "
           "Limitations]",
           "energy_per_input", 0.268, 5, 1000.0),
    Anchor("Esser 2015 MNIST, 64 copies, ~1920 cores", ESSER_2015 + "; 64 x ~30 cores [inferred: "
           "docs/energy.md, Limitations]",
           "energy_per_input", 108.0, 1920, 1000.0),
    Anchor("Esser 2016 CIFAR-10", ESSER_2016, "power", 204.4, 4042, 1249.0),
    Anchor("Esser 2016 CIFAR-100", ESSER_2016, "power", 207.8, 4042, 1526.0),
    Anchor("Esser 2016 SVHN", ESSER_2016, "power", 256.5, 4042, 2526.0),
    Anchor("Esser 2016 GTSRB", ESSER_2016, "power", 200.6, 4042, 1615.0),
    Anchor("Esser 2016 LOGO32", ESSER_2016, "power", 171.7, 3236, 1775.0),
    Anchor("Esser 2016 VAD", ESSER_2016, "power", 26.1, 423, 1539.0),
    Anchor("Esser 2016 TIMIT", ESSER_2016, "power", 142.6, 1943, 2610.0),
)

MEROLLA_SOURCE = (
    "Merolla et al., Science 345:668 (2014), text and Fig. 4 (0.775 V, 1 kHz, 20 Hz, 128 active synapses)"
)

#: Reported next to the model, not fitted and not required (measured at 0.775 V).
CHECKS: tuple[Anchor, ...] = (
    Anchor("Merolla 2014 full chip, 65-70 mW typical (midpoint)", MEROLLA_SOURCE, "power", 67.5, 4096, 1000.0,
           required=False),
    Anchor("Merolla 2014 total energy per synaptic event", MEROLLA_SOURCE, "energy_per_synaptic_event", 26.0,
           4096, 1000.0, required=False),
)


@dataclass(frozen=True)
class CalibrationRow:
    """The model next to one published figure."""

    anchor: str
    unit: str
    published: float
    model: float
    rel_error: float
    activity: str
    required: bool
    source: str

    @property
    def within_tolerance(self) -> bool:
        """|rel_error| ≤ :data:`TOLERANCE`."""
        return abs(self.rel_error) <= TOLERANCE

    def to_dict(self) -> dict[str, object]:
        """The benchmark's row schema: anchor, unit, published, model, rel_error, activity."""
        return {
            "anchor": self.anchor,
            "unit": self.unit,
            "published": self.published,
            "model": self.model,
            "rel_error": self.rel_error,
            "activity": self.activity,
        }


@dataclass(frozen=True)
class CalibrationResult:
    """Fitted TrueNorth constants and the anchor table."""

    constants: EnergyConstants
    rows: tuple[CalibrationRow, ...]
    activity: ReferenceActivity

    @property
    def required_rows(self) -> tuple[CalibrationRow, ...]:
        """Rows of the required anchors."""
        return tuple(r for r in self.rows if r.required)

    @property
    def max_required_error(self) -> float:
        """Largest |relative error| over the required anchors."""
        return max(abs(r.rel_error) for r in self.required_rows)

    @property
    def passed(self) -> bool:
        """Every required anchor within :data:`TOLERANCE`."""
        return all(r.within_tolerance for r in self.required_rows)


def model_value(
    anchor: Anchor, constants: EnergyConstants, activity: ReferenceActivity = REFERENCE_ACTIVITY
) -> float:
    """The model's figure for ``anchor`` (in the anchor's unit) with ``constants`` at ``activity``.

    The network is modelled as ``anchor.n_cores`` full cores, one input per tick (pipelined) at
    ``anchor.tick_hz``, static energy charged to all of its cores.
    """
    counts = reference_counts(anchor.n_cores, 1, activity)
    rep = estimate_energy(counts, TRUENORTH, regime="pipelined", tick_hz=anchor.tick_hz, constants=constants)
    if anchor.quantity == "energy_per_input":
        return rep.mean_energy_uj
    if anchor.quantity == "power":
        return rep.power_mw
    return rep.mean_energy_uj * 1e6 / float(counts.synaptic_events[0])


def _activity_text(anchor: Anchor, activity: ReferenceActivity) -> str:
    return (
        f"{anchor.n_cores} cores, pipelined, 1 tick/input at {anchor.tick_hz:g} Hz; " + activity.describe()
    )


def calibrate_truenorth(
    anchors: tuple[Anchor, ...] = ANCHORS,
    activity: ReferenceActivity = REFERENCE_ACTIVITY,
    checks: tuple[Anchor, ...] = CHECKS,
) -> CalibrationResult:
    """Fit ``p_static_core_w`` and ``e_core_tick_j`` of the TrueNorth preset to ``anchors``.

    Minimises Σ_a ((model_a − published_a) / published_a)² over the two constants, subject to both ≥ 0
    (``scipy.optimize.nnls``). The model is linear in its constants, so model_a = fixed_a + Σ_k θ_k x_ak where
    x_ak is the model evaluated with constant k = 1 and every other constant 0, and fixed_a the model with the
    sourced dynamic constants and zero static ones; the fit is then one small linear least-squares problem.
    """
    if not anchors:
        raise ValueError("calibrate_truenorth needs at least one anchor")
    base = truenorth_constants(0.0, 0.0)
    zeros: dict[str, Any] = {name: 0.0 for name in EnergyConstants.value_fields()}
    zero = replace(base, **zeros)
    pub = np.array([a.published for a in anchors])
    fixed = np.array([model_value(a, base, activity) for a in anchors])
    cols = []
    for name in TRUENORTH_FITTED:
        one: dict[str, Any] = {name: 1.0}
        unit = replace(zero, **one)
        cols.append([model_value(a, unit, activity) for a in anchors])
    design = np.array(cols).T / pub[:, None]
    target = 1.0 - fixed / pub
    scale = np.linalg.norm(design, axis=0)
    theta_scaled, _ = nnls(design / scale, target)
    theta = theta_scaled / scale
    resid = design @ theta - target
    note = (
        f"{len(anchors)} anchors, rms relative error {np.sqrt(np.mean(resid**2)):.3f}, "
        f"max {np.max(np.abs(resid)):.3f}; activity: {activity.describe()}"
    )
    fitted = dict(zip(TRUENORTH_FITTED, (float(t) for t in theta), strict=True))
    const = truenorth_constants(fitted["p_static_core_w"], fitted["e_core_tick_j"], note)
    rows = []
    for a in (*anchors, *checks):
        m = model_value(a, const, activity)
        rows.append(
            CalibrationRow(
                anchor=a.name,
                unit=a.unit,
                published=a.published,
                model=m,
                rel_error=(m - a.published) / a.published,
                activity=_activity_text(a, activity),
                required=a.required,
                source=a.source,
            )
        )
    return CalibrationResult(constants=const, rows=tuple(rows), activity=activity)


@lru_cache(maxsize=1)
def calibrated_truenorth_constants() -> EnergyConstants:
    """The TrueNorth preset's constants: the result of :func:`calibrate_truenorth` with its defaults."""
    return calibrate_truenorth().constants
