"""Energy and throughput of a deployment from the simulator's event counters.

For input b (``docs/energy.md`` states the same with sources)::

    ticks_in   = counts.ticks                   (sequential: the input owns its whole window, drain included)
               = deployment.ticks_per_input     (pipelined: a new input enters every ticks_per_input ticks;
                                                 counts.ticks when no deployment is given)
    t_in       = ticks_in / tick_hz                (seconds the input owns the chip)
    N_b        = cores charged for static energy   (policy ``static_cores``, default: all deployment cores)

    E_b = P_leak · N_b · t_in                      static_leakage
        + e_tick · N_b · ticks_in                  static_tick
        + e_syn  · synaptic_events_b               dynamic
        + e_spk  · spikes_b
        + e_nu   · neuron_updates_b
        + e_hop  · hops_b
        + e_chip · chip_crossings_b

    FPS   = tick_hz / ticks_in
    P     = mean_b(E_b) · FPS                      (average power)
    FPS/W = FPS / P  (= 1 / mean energy per input)

Static energy is charged to **every core of the deployment**, not only to the cores an input happens to
excite: a configured core leaks and is clocked every tick whether or not a spike reaches it, and the
published TrueNorth measurements scale with the cores a network occupies (Esser 2016: 423 cores → 26 mW,
4042 cores → 200-257 mW), not with the chip's 4096 cores nor with per-input activity.
``static_cores="active"`` (cores active for that input) and ``"chip"`` (every core of every chip spanned,
no power gating) are offered as what-if bounds.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from spikeforge.deploy.deployment import Deployment
from spikeforge.energy.constants import (
    DYNAMIC_TERMS,
    LOIHI_LIKE_CONSTANTS,
    STATIC_TERMS,
    TERMS,
    EnergyConstants,
)
from spikeforge.hardware.spec import ChipSpec, get_chip
from spikeforge.sim.counts import EventCounts

Regime = Literal["sequential", "pipelined"]
StaticCores = Literal["deployment", "active", "chip"]

_PER_INPUT = ("synaptic_events", "spikes", "axon_events", "hops", "chip_crossings", "active_cores",
              "core_ticks", "neuron_updates")


@dataclass(frozen=True, eq=False)
class EnergyReport:
    """Energy per input, its breakdown by term, power and throughput.

    Attributes:
        chip: preset name.
        regime: ``"sequential"`` or ``"pipelined"``.
        tick_hz: tick rate used.
        ticks_per_input: ticks each input owns the chip for (``ticks_in`` in the module docstring).
        static_cores: the static-charge policy (``"deployment"``, ``"active"`` or ``"chip"``).
        charged_cores: (B,) cores charged static energy for each input.
        energy_uj: (B,) total energy per input, µJ.
        breakdown_uj: term → (B,) energy per input, µJ; keys are :data:`~spikeforge.energy.constants.TERMS`.
        power_mw: average power, mW (mean energy per input × FPS).
        fps: inputs classified per second.
        fps_per_w: FPS / power in W.
        constants: the constants used (with their sources).
        assumptions: the choices behind the numbers, one sentence each.
    """

    chip: str
    regime: str
    tick_hz: float
    ticks_per_input: int
    static_cores: str
    charged_cores: np.ndarray
    energy_uj: np.ndarray
    breakdown_uj: Mapping[str, np.ndarray]
    power_mw: float
    fps: float
    fps_per_w: float
    constants: EnergyConstants
    assumptions: tuple[str, ...]

    def __repr__(self) -> str:  # the headline numbers, not every input's breakdown
        return (f"EnergyReport(chip={self.chip!r}, regime={self.regime!r}, batch={self.batch}, "
                f"mean_energy_uj={self.mean_energy_uj:.4g}, power_mw={self.power_mw:.4g}, fps={self.fps:.4g}, "
                f"fps_per_w={self.fps_per_w:.4g})")

    @property
    def batch(self) -> int:
        """Number of inputs."""
        return int(self.energy_uj.shape[0])

    @property
    def mean_energy_uj(self) -> float:
        """Mean energy per input, µJ."""
        return float(np.mean(self.energy_uj))

    @property
    def static_uj(self) -> np.ndarray:
        """(B,) static energy per input (leakage + per-core-tick), µJ."""
        return np.sum([self.breakdown_uj[t] for t in STATIC_TERMS], axis=0)

    @property
    def dynamic_uj(self) -> np.ndarray:
        """(B,) dynamic (activity) energy per input, µJ."""
        return np.sum([self.breakdown_uj[t] for t in DYNAMIC_TERMS], axis=0)

    @property
    def mean_breakdown_uj(self) -> dict[str, float]:
        """Mean energy per input of every term, µJ."""
        return {t: float(np.mean(v)) for t, v in self.breakdown_uj.items()}

    @property
    def seconds_per_input(self) -> float:
        """Wall-clock time each input owns the chip."""
        return self.ticks_per_input / self.tick_hz

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (means over the batch)."""
        return {
            "chip": self.chip,
            "regime": self.regime,
            "tick_hz": self.tick_hz,
            "ticks_per_input": self.ticks_per_input,
            "static_cores": self.static_cores,
            "batch": self.batch,
            "mean_charged_cores": float(np.mean(self.charged_cores)),
            "energy_uj": self.mean_energy_uj,
            "static_uj": float(np.mean(self.static_uj)),
            "dynamic_uj": float(np.mean(self.dynamic_uj)),
            "breakdown_uj": self.mean_breakdown_uj,
            "power_mw": self.power_mw,
            "fps": self.fps,
            "fps_per_w": self.fps_per_w,
            "constants": self.constants.to_dict(),
            "assumptions": list(self.assumptions),
        }


def constants_for(chip: ChipSpec | str) -> EnergyConstants:
    """The energy constants of a chip (``truenorth``: calibrated; ``loihi-like``: from Davies 2018).

    A user-defined chip (:func:`spikeforge.hardware.load_chip`) takes its base preset's constants with its
    chip file's ``[energy]`` values replacing theirs; each inherited constant's source says that it is
    assumed equal to the base preset's.

    Raises:
        ValueError: no constants for that chip (pass ``constants=`` to :func:`estimate_energy`), or a
            user-defined chip names an unknown constant.
    """
    name = chip if isinstance(chip, str) else chip.name
    if isinstance(chip, ChipSpec) and not chip.base:
        from spikeforge.hardware.spec import PRESETS

        preset = PRESETS.get(name)
        if preset is not None and (preset.core, preset.mesh_rows, preset.mesh_cols, preset.tick_hz) != (
                chip.core, chip.mesh_rows, chip.mesh_cols, chip.tick_hz):
            warnings.warn(f"chip {name!r} differs from the preset of that name, yet takes its energy constants; "
                          f"derive it in a chip file (base = {name!r}, its own name) to say which constants apply",
                          stacklevel=2)
    if name == "truenorth":
        from spikeforge.energy.calibration import calibrated_truenorth_constants

        return calibrated_truenorth_constants()
    if name == LOIHI_LIKE_CONSTANTS.chip:
        return LOIHI_LIKE_CONSTANTS
    if isinstance(chip, ChipSpec) and chip.base in ("truenorth", LOIHI_LIKE_CONSTANTS.chip):
        base = constants_for(chip.base)
        given = dict(chip.energy)
        unknown = sorted(set(given) - set(EnergyConstants.value_fields()))
        if unknown:
            raise ValueError(f"chip {chip.name!r}: unknown energy constant(s) {unknown}; "
                             f"known: {', '.join(EnergyConstants.value_fields())}")
        sources = {k: (f"chip file of {chip.name!r}" if k in given else
                       f"assumed equal to the {chip.base} preset's: {base.sources.get(k, '')}")
                   for k in EnergyConstants.value_fields()}
        return replace(base, chip=chip.name, sources=sources, **given)
    raise ValueError(
        f"no energy constants for chip {name!r} (known: truenorth, loihi-like, and chips derived from them); "
        "pass constants=EnergyConstants(...) explicitly"
    )


def _per_input(counts: EventCounts, name: str) -> np.ndarray:
    arr = np.asarray(getattr(counts, name))
    if arr.ndim != 1:
        raise ValueError(f"EventCounts.{name} must be a 1-D per-input array, got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"EventCounts.{name} must be numeric, got dtype {arr.dtype}")
    a = arr.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"EventCounts.{name} contains NaN or infinity")
    if np.any(a < 0):
        raise ValueError(f"EventCounts.{name} contains negative counts (min {a.min():g})")
    return a


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def estimate_energy(
    counts: EventCounts,
    chip: ChipSpec | str,
    deployment: Deployment | None = None,
    *,
    regime: Regime = "sequential",
    tick_hz: float | None = None,
    static_cores: StaticCores = "deployment",
    constants: EnergyConstants | None = None,
) -> EnergyReport:
    """Energy per input, power and throughput of a deployment from its event counters.

    Args:
        counts: the simulator's per-input counters (expected, non-integer counts are accepted too).
        chip: the chip preset (or its name); selects the constants unless ``constants`` is given.
        deployment: the deployment the counts come from: its core count (must match ``counts.n_cores``),
            chips spanned and ``ticks_per_input`` (pipelined regime). Optional.
        regime: ``"sequential"``: each input owns ``counts.ticks`` ticks (FPS = tick_hz / ticks);
            ``"pipelined"``: a new input enters every ``ticks_per_input`` ticks (one classification per tick
            for the one-tick networks of Esser 2015/2016: FPS = tick_hz).
        tick_hz: tick rate; defaults to ``chip.tick_hz`` (1 kHz). The Esser 2016 measurements ran the chip
            faster (1249-2610 ticks/s): pass their FPS here.
        static_cores: which cores pay static energy: ``"deployment"`` (all of the deployment's cores,
            default), ``"active"`` (``counts.active_cores`` of each input), ``"chip"`` (every core of every
            chip the deployment spans).
        constants: override the preset's constants.

    Raises:
        ValueError: negative, NaN or infinite counts, a non-positive or non-finite tick rate, an unknown
            regime or policy, an empty batch, or counts that do not match the deployment.
        TypeError: ``counts`` is not an :class:`EventCounts` (a ``SimResult``: pass its ``.counts``).
    """
    if not isinstance(counts, EventCounts):
        hint = "; pass its .counts" if isinstance(getattr(counts, "counts", None), EventCounts) else ""
        raise TypeError(f"estimate_energy: counts must be EventCounts, got {type(counts).__name__}{hint}")
    spec = get_chip(chip) if isinstance(chip, str) else chip
    if not isinstance(spec, ChipSpec):
        raise ValueError(f"chip must be a ChipSpec or a preset name, got {type(chip).__name__}")
    if regime not in ("sequential", "pipelined"):
        raise ValueError(f"regime must be 'sequential' or 'pipelined', got {regime!r}")
    if static_cores not in ("deployment", "active", "chip"):
        raise ValueError(f"static_cores must be 'deployment', 'active' or 'chip', got {static_cores!r}")
    hz = spec.tick_hz if tick_hz is None else tick_hz
    if isinstance(hz, bool) or not isinstance(hz, int | float | np.integer | np.floating):
        raise ValueError(f"tick_hz must be a number, got {hz!r}")
    hz = float(hz)
    if not math.isfinite(hz) or hz <= 0:
        raise ValueError(f"tick_hz must be finite and > 0, got {hz!r}")
    const = constants_for(spec) if constants is None else constants
    if not isinstance(const, EnergyConstants):
        raise ValueError(f"constants must be EnergyConstants, got {type(const).__name__}")

    ticks = _check_int(counts.ticks, "EventCounts.ticks", 1)
    n_cores = _check_int(counts.n_cores, "EventCounts.n_cores", 1)
    arrays = {name: _per_input(counts, name) for name in _PER_INPUT}
    batch = arrays["spikes"].shape[0]
    if batch == 0:
        raise ValueError("EventCounts holds no inputs (batch 0): nothing to cost")
    bad = [n for n, a in arrays.items() if a.shape[0] != batch]
    if bad:
        raise ValueError(f"EventCounts arrays differ in length from spikes ({batch}): {', '.join(bad)}")

    if deployment is not None:
        if deployment.n_cores != n_cores:
            raise ValueError(
                f"counts are for {n_cores} cores but the deployment has {deployment.n_cores}"
            )
        if deployment.chip.name != spec.name:
            raise ValueError(f"deployment is for chip {deployment.chip.name!r}, not {spec.name!r}")

    if regime == "sequential":
        ticks_in = ticks
    else:
        ticks_in = _check_int(deployment.ticks_per_input, "ticks_per_input", 1) if deployment else ticks

    if static_cores == "deployment":
        charged = np.full(batch, float(n_cores))
    elif static_cores == "active":
        charged = arrays["active_cores"]
    else:
        # the chips the deployment spans: distinct chip indices of its cores' placement (not the largest + 1)
        n_chips = (len(np.unique(deployment.placement[:, 0])) if deployment is not None
                   else -(-n_cores // spec.cores_per_chip))
        charged = np.full(batch, float(n_chips * spec.cores_per_chip))

    seconds = ticks_in / hz
    joules = {
        "static_leakage": const.p_static_core_w * charged * seconds,
        "static_tick": const.e_core_tick_j * charged * ticks_in,
        "synaptic_events": const.e_synaptic_event_j * arrays["synaptic_events"],
        "spikes": const.e_spike_j * arrays["spikes"],
        "neuron_updates": const.e_neuron_update_j * arrays["neuron_updates"],
        "hops": const.e_hop_j * arrays["hops"],
        "chip_crossings": const.e_chip_crossing_j * arrays["chip_crossings"],
    }
    joules = {t: joules[t] for t in TERMS}  # report order
    total = np.sum(list(joules.values()), axis=0)
    fps = hz / ticks_in
    power_w = float(np.mean(total)) * fps
    fps_per_w = fps / power_w if power_w > 0 else math.inf

    policy = {
        "deployment": f"static energy charged to all {n_cores} deployment cores every tick (configured cores "
        "leak and are clocked whether or not an input excites them)",
        "active": "static energy charged only to the cores active for each input (lower bound: idle "
        "configured cores are assumed power-gated)",
        "chip": "static energy charged to every core of every chip spanned (upper bound: no power gating of "
        "unused cores)",
    }[static_cores]
    regime_text = (
        f"sequential: each input owns its {ticks_in}-tick window (drain included), FPS = tick_hz / {ticks_in}"
        if regime == "sequential"
        else f"pipelined: a new input every {ticks_in} tick(s), FPS = tick_hz / {ticks_in}; dynamic energy "
        "is each input's own events wherever they occur in the pipeline"
    )
    assumptions = (
        regime_text,
        f"tick rate {hz:g} Hz" + (" (chip default)" if tick_hz is None else " (override)"),
        policy,
        f"constants for {const.chip!r}" + (
            " (caller-supplied)" if constants is not None
            else " (preset)" if not spec.base
            else f" (the {spec.base} preset's" + (f", with {', '.join(k for k, _ in spec.energy)} from the chip "
                                                  "file)" if spec.energy else "; assumed to carry over)")),
        "axon events are not priced separately: on a crossbar their cost is in the synaptic events they "
        "cause",
    )
    return EnergyReport(
        chip=spec.name,
        regime=regime,
        tick_hz=hz,
        ticks_per_input=ticks_in,
        static_cores=static_cores,
        charged_cores=charged,
        energy_uj=total * 1e6,
        breakdown_uj={t: v * 1e6 for t, v in joules.items()},
        power_mw=power_w * 1e3,
        fps=fps,
        fps_per_w=fps_per_w,
        constants=const,
        assumptions=assumptions,
    )
