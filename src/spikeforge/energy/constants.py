"""Sourced energy constants per chip preset.

Every number the energy model multiplies by is a :class:`Sourced` record here: its value, unit, the
publication (and table or figure) it comes from, and the arithmetic that turns the published figure into
the constant. Two constants of the ``truenorth`` preset (leakage power per core and energy per core-tick)
are not typed in at all: :func:`spikeforge.energy.calibration.calibrate_truenorth` fits them to the
published Esser 2015 / Esser 2016 measurements, and :func:`spikeforge.energy.model.constants_for` returns
the fitted set.

Terms (see ``docs/energy.md``):

* static, paid by every charged core whatever the activity:
  ``static_leakage`` = P_leak [W per core] × cores × seconds the input owns the chip, and
  ``static_tick`` = e_tick [J per core-tick] × cores × ticks the input owns the chip (clock tree, tick
  synchronisation, the neuron block's scan of its neuron slots);
* dynamic, proportional to the simulator's event counters: ``synaptic_events``, ``spikes``,
  ``neuron_updates``, ``hops``, ``chip_crossings``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

#: Energy terms in report order; the first two are static, the rest dynamic.
STATIC_TERMS: tuple[str, ...] = ("static_leakage", "static_tick")
DYNAMIC_TERMS: tuple[str, ...] = ("synaptic_events", "spikes", "neuron_updates", "hops", "chip_crossings")
TERMS: tuple[str, ...] = STATIC_TERMS + DYNAMIC_TERMS

#: The :class:`EnergyConstants` field that prices each term.
TERM_CONSTANT: Mapping[str, str] = MappingProxyType(
    {
        "static_leakage": "p_static_core_w",
        "static_tick": "e_core_tick_j",
        "synaptic_events": "e_synaptic_event_j",
        "spikes": "e_spike_j",
        "neuron_updates": "e_neuron_update_j",
        "hops": "e_hop_j",
        "chip_crossings": "e_chip_crossing_j",
    }
)


@dataclass(frozen=True)
class Sourced:
    """A constant with its provenance.

    Attributes:
        value: the number, in SI units (W or J).
        unit: ``"W"`` or ``"J"`` and what it is per (e.g. ``"J per synaptic event"``).
        source: publication, table or figure.
        arithmetic: how the published figure becomes ``value`` (and any caveat).
    """

    value: float
    unit: str
    source: str
    arithmetic: str

    def describe(self) -> str:
        """One line: value, unit, source and arithmetic."""
        return f"{self.value:.6g} {self.unit} — {self.source}; {self.arithmetic}"


@dataclass(frozen=True)
class EnergyConstants:
    """The prices of every energy term for one chip preset (SI units).

    Attributes:
        chip: preset name these constants belong to.
        p_static_core_w: leakage power of one charged core (W); paid for the wall-clock time an input owns
            the chip, so it scales with 1 / tick rate.
        e_core_tick_j: activity-independent energy of one charged core per tick (J): clock, tick
            synchronisation and the neuron block's scan of its slots.
        e_synaptic_event_j: energy per synaptic event (a set crossbar entry of axon i read because axon i
            received a spike; :class:`~spikeforge.sim.counts.EventCounts`) (J).
        e_spike_j: energy per emitted spike (fire + packet injection) (J).
        e_neuron_update_j: energy per enabled neuron per tick (J); 0 where the per-core-tick term already
            covers the neuron scan (TrueNorth).
        e_hop_j: energy per router hop of a routed spike (J).
        e_chip_crossing_j: extra energy per spike that leaves its chip (J), on top of the boundary hops
            that :class:`~spikeforge.sim.counts.EventCounts` already adds to ``hops``.
        sources: field name → provenance line (see :class:`Sourced`).
    """

    chip: str
    p_static_core_w: float
    e_core_tick_j: float
    e_synaptic_event_j: float
    e_spike_j: float
    e_neuron_update_j: float
    e_hop_j: float
    e_chip_crossing_j: float
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        for name in self.value_fields():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real):  # NumPy floats and ints included
                raise ValueError(f"EnergyConstants.{name} must be a number, got {type(v).__name__}")
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"EnergyConstants.{name} must be finite and >= 0, got {v!r}")
            object.__setattr__(self, name, float(v) if isinstance(v, float) or not isinstance(v, int) else v)
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))

    @staticmethod
    def value_fields() -> tuple[str, ...]:
        """Names of the numeric fields (every field but ``chip`` and ``sources``)."""
        return tuple(f.name for f in fields(EnergyConstants) if f.name not in ("chip", "sources"))

    def price(self, term: str) -> float:
        """The constant that prices ``term`` (one of :data:`TERMS`)."""
        return float(getattr(self, TERM_CONSTANT[term]))

    def with_values(self, **values: float) -> EnergyConstants:
        """A copy with some values replaced (sources of replaced fields are marked as overridden)."""
        src = dict(self.sources)
        for k in values:
            src[k] = "overridden by the caller"
        return replace(self, sources=src, **values)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form: values and sources."""
        d: dict[str, Any] = {"chip": self.chip}
        d.update({name: getattr(self, name) for name in self.value_fields()})
        d["sources"] = dict(self.sources)
        return d


# --------------------------------------------------------------------------------------------- TrueNorth
MEROLLA_2014 = "Merolla et al., Science 345:668 (2014)"
DAVIES_2018 = "Davies et al., IEEE Micro 38(1):82 (2018), Table 2 (pre-silicon SPICE figures, 14 nm)"
BLOUW_2019 = (
    "Blouw et al., 'Benchmarking keyword spotting efficiency on neuromorphic hardware' "
    "(arXiv:1812.01739, NICE 2019), Table 1"
)

TRUENORTH_SYNAPTIC_EVENT = Sourced(
    value=2.5e-12,
    unit="J per synaptic event",
    source=f"{MEROLLA_2014}, text and Fig. 4: 46 billion synaptic operations per second per watt (GSOPS/W) "
    "for the typical network in real time, up to ~400 GSOPS/W for highly active networks (the 400 figure as "
    "widely quoted; not checked here against the paper's text)",
    arithmetic="1 / (400e9 SOPS/W) = 2.5e-12 J. This is *total* chip energy per event at the most efficient "
    "(highly active) operating point, so it bounds the marginal cost per event from above at 0.775 V; at the "
    "higher supply of the Esser 2015/2016 runs the marginal cost is larger (∝ V²). The two biases partly "
    "cancel and the calibrated static terms absorb the rest.",
)
TRUENORTH_SPIKE = Sourced(
    value=1.7e-12,
    unit="J per spike",
    source=f"stand-in: {DAVIES_2018}, spike energy within a tile (TrueNorth publishes no per-spike figure)",
    arithmetic="1.7 pJ taken as is. At the reference activity (5.12 spikes per core-tick) this is < 0.1 % "
    "of a core-tick's energy, so the TrueNorth calibration does not depend on it.",
)
TRUENORTH_HOP = Sourced(
    value=3.5e-12,
    unit="J per router hop",
    source=f"stand-in: {DAVIES_2018}, 3.0 pJ per east-west and 4.0 pJ per north-south hop "
    "(TrueNorth publishes no per-hop figure)",
    arithmetic="(3.0 + 4.0) / 2 = 3.5 pJ: EventCounts.hops does not separate directions. At the reference "
    "activity (51.2 hops per core-tick) this is ~0.4 % of a core-tick's energy.",
)
TRUENORTH_NEURON_UPDATE = Sourced(
    value=0.0,
    unit="J per neuron update",
    source=f"{MEROLLA_2014}: the core's neuron block is time-multiplexed and scans its 256 neuron slots "
    "every tick",
    arithmetic="0: the scan costs the same whether a slot is enabled or not, so it is part of the "
    "per-core-tick term e_core_tick (fitted), not a per-enabled-neuron charge.",
)
TRUENORTH_CHIP_CROSSING = Sourced(
    value=0.0,
    unit="J per chip crossing (extra)",
    source="spikeforge.sim.counts.EventCounts convention",
    arithmetic="0 extra: a spike that leaves its chip already counts mesh_rows + mesh_cols = 128 extra hops "
    "(128 x 3.5 pJ = 448 pJ); no published TrueNorth off-chip link energy to add.",
)

#: The published figures the two fitted TrueNorth constants are calibrated against (for their docstrings;
#: the anchors themselves live in :mod:`spikeforge.energy.calibration`).
TRUENORTH_FITTED_SOURCE = (
    "fitted by spikeforge.energy.calibration.calibrate_truenorth(): non-negative least squares on the "
    "relative errors of Esser et al. NIPS 2015 (0.268 and 108 µJ/image) and Esser et al. PNAS 113:11441 "
    "(2016), Table 1 (seven one-chip power measurements), at the reference activity"
)

# --------------------------------------------------------------------------------------------- Loihi-like
LOIHI_SYNAPTIC_EVENT = Sourced(
    value=23.6e-12,
    unit="J per synaptic event",
    source=f"{DAVIES_2018}: synaptic spike operation (minimum) 23.6 pJ",
    arithmetic="23.6 pJ per synaptic op, taken as is (minimum figure: a lower bound for wide weights).",
)
LOIHI_NEURON_UPDATE = Sourced(
    value=52e-12,
    unit="J per neuron update",
    source=f"{DAVIES_2018}: neuron (compartment) update 81 pJ active / 52 pJ inactive",
    arithmetic="52 pJ for every enabled neuron per tick: EventCounts.neuron_updates does not say which "
    "updates had input ('active'); this underestimates by at most 81 − 52 = 29 pJ per active update.",
)
LOIHI_SPIKE = Sourced(
    value=1.7e-12,
    unit="J per spike",
    source=f"{DAVIES_2018}: spike energy within a tile 1.7 pJ",
    arithmetic="1.7 pJ per emitted spike.",
)
LOIHI_HOP = Sourced(
    value=3.5e-12,
    unit="J per router hop",
    source=f"{DAVIES_2018}: 3.0 pJ per east-west hop, 4.0 pJ per north-south hop",
    arithmetic="(3.0 + 4.0) / 2 = 3.5 pJ: EventCounts.hops does not separate directions.",
)
LOIHI_STATIC = Sourced(
    value=0.029 / 128,
    unit="W per core",
    source=f"{BLOUW_2019}: Loihi idle power 0.029 W (running 0.110 W, dynamic 0.081 W); Davies 2018 gives no "
    "static figure",
    arithmetic="0.029 W / 128 cores = 226.6 µW per core, charged pro rata to the cores a deployment uses. "
    "The idle figure includes the embedded x86 cores and I/O, so per neuro-core leakage is overstated.",
)
LOIHI_CORE_TICK = Sourced(
    value=0.0,
    unit="J per core-tick",
    source=f"{DAVIES_2018}: barrier synchronisation is given as a latency only",
    arithmetic="0: no published per-tick energy; the idle power above already covers the clocked chip.",
)
LOIHI_CHIP_CROSSING = Sourced(
    value=0.0,
    unit="J per chip crossing (extra)",
    source="spikeforge.sim.counts.EventCounts convention",
    arithmetic="0 extra: boundary crossings already count mesh_rows + mesh_cols extra hops; no published "
    "chip-to-chip link energy.",
)


def _build(chip: str, values: Mapping[str, Sourced]) -> EnergyConstants:
    return EnergyConstants(
        chip=chip,
        **{k: v.value for k, v in values.items()},
        sources={k: v.describe() for k, v in values.items()},
    )


#: Loihi-like preset: every constant from Davies 2018 except static power (Blouw 2019). Nothing fitted.
LOIHI_LIKE_CONSTANTS: EnergyConstants = _build(
    "loihi-like",
    {
        "p_static_core_w": LOIHI_STATIC,
        "e_core_tick_j": LOIHI_CORE_TICK,
        "e_synaptic_event_j": LOIHI_SYNAPTIC_EVENT,
        "e_spike_j": LOIHI_SPIKE,
        "e_neuron_update_j": LOIHI_NEURON_UPDATE,
        "e_hop_j": LOIHI_HOP,
        "e_chip_crossing_j": LOIHI_CHIP_CROSSING,
    },
)

#: TrueNorth's sourced (not fitted) constants; the two static ones come from the calibration.
TRUENORTH_FIXED: Mapping[str, Sourced] = MappingProxyType(
    {
        "e_synaptic_event_j": TRUENORTH_SYNAPTIC_EVENT,
        "e_spike_j": TRUENORTH_SPIKE,
        "e_neuron_update_j": TRUENORTH_NEURON_UPDATE,
        "e_hop_j": TRUENORTH_HOP,
        "e_chip_crossing_j": TRUENORTH_CHIP_CROSSING,
    }
)
#: The TrueNorth constants the calibration fits.
TRUENORTH_FITTED: tuple[str, ...] = ("p_static_core_w", "e_core_tick_j")


def truenorth_constants(p_static_core_w: float, e_core_tick_j: float, fit_note: str = "") -> EnergyConstants:
    """TrueNorth constants with the given static values and the sourced dynamic ones."""
    note = TRUENORTH_FITTED_SOURCE + (f" ({fit_note})" if fit_note else "")
    return EnergyConstants(
        chip="truenorth",
        p_static_core_w=p_static_core_w,
        e_core_tick_j=e_core_tick_j,
        **{k: v.value for k, v in TRUENORTH_FIXED.items()},
        sources={
            "p_static_core_w": f"{p_static_core_w:.6g} W per core — {note}",
            "e_core_tick_j": f"{e_core_tick_j:.6g} J per core-tick — {note}",
            **{k: v.describe() for k, v in TRUENORTH_FIXED.items()},
        },
    )
