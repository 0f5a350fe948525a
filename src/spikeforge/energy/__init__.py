"""Energy and throughput model: µJ per input (static + dynamic terms), mW, FPS and FPS/W from the
simulator's :class:`~spikeforge.sim.counts.EventCounts`, with sourced constants per chip preset and a
reproducible calibration of the TrueNorth preset against published measurements (``docs/energy.md``)."""

from spikeforge.energy.calibration import (
    ANCHORS,
    CHECKS,
    REFERENCE_ACTIVITY,
    TOLERANCE,
    Anchor,
    CalibrationResult,
    CalibrationRow,
    ReferenceActivity,
    calibrate_truenorth,
    calibrated_truenorth_constants,
    reference_counts,
)
from spikeforge.energy.constants import (
    DYNAMIC_TERMS,
    LOIHI_LIKE_CONSTANTS,
    STATIC_TERMS,
    TERMS,
    EnergyConstants,
    Sourced,
)
from spikeforge.energy.model import EnergyReport, constants_for, estimate_energy

__all__ = [
    "ANCHORS",
    "CHECKS",
    "DYNAMIC_TERMS",
    "LOIHI_LIKE_CONSTANTS",
    "REFERENCE_ACTIVITY",
    "STATIC_TERMS",
    "TERMS",
    "TOLERANCE",
    "Anchor",
    "CalibrationResult",
    "CalibrationRow",
    "EnergyConstants",
    "EnergyReport",
    "ReferenceActivity",
    "Sourced",
    "calibrate_truenorth",
    "calibrated_truenorth_constants",
    "constants_for",
    "estimate_energy",
    "reference_counts",
]
