"""Typed chip specifications.

A chip is described by two frozen dataclasses: :class:`CoreSpec` (one neurosynaptic core) and
:class:`ChipSpec` (a mesh of identical cores, its tick rate, and how many chips a board may hold).
Other chips are parameter sets of the same model, never forks of the code: the Loihi-like preset differs
from TrueNorth only in numbers (fan-in, multi-bit synapses, memory budget, mesh size).

The neuron model every core computes (TrueNorth; Merolla et al., Science 2014; Cassidy et al., IJCNN 2013)
is stated in :mod:`spikeforge.sim.reference` and ``docs/chip-model.md``:

    V_j ← sat( V_j + Σ_i A_i(t) · w_ij · s_j[G_i] );   V_j ← sat( V_j + Ω_j · λ_j )
    spike if V_j ≥ α_j + η_j, then reset by γ_j (0: V ← R_j, 1: V ← V − (α_j + η_j), 2: V unchanged);
    else if V_j < −β_j (κ_j = 1) or V_j < −(β_j + η_j) (κ_j = 0): κ_j = 1 → V ← −β_j;
    κ_j = 0 → by γ_j: V ← −R_j, V ← V + (β_j + η_j), V unchanged,

with optional stochastic synapses, leak and threshold (η_j = ρ & M_j) and leak reversal (Ω_j = sgn V_j).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, field, fields


@dataclass(frozen=True)
class CoreSpec:
    """One neurosynaptic core.

    Attributes:
        n_axons: input lines per core (crossbar rows).
        n_neurons: neurons per core (crossbar columns).
        n_axon_types: number of axon types G_i; each neuron holds one signed weight per type.
        crossbar_min, crossbar_max: value range of a crossbar entry w_ij. TrueNorth's crossbar is binary
            (0..1); a multi-bit synapse chip stores signed integers here.
        weight_min, weight_max: range of the per-neuron, per-type weights s_j[G].
        leak_min, leak_max: range of the per-tick leak λ_j.
        threshold_max: largest positive threshold α_j (and negative threshold β_j); both are ≥ 0.
        reset_value_min, reset_value_max: range of the reset value R_j.
        membrane_bits: width of the saturating signed membrane potential; V ∈ [−2^(b−1), 2^(b−1) − 1].
        delay_min, delay_max: axonal delay range in ticks.
        reset_modes: supported reset modes γ (0 = to R, 1 = linear subtract α, 2 = none).
        synapse_memory_bits: if set, the core's synaptic memory budget: the number of non-zero crossbar
            entries times the bits per entry must fit (multi-bit chips); ``None`` for a fixed dense crossbar.
        stochastic_modes: the core supports TrueNorth's stochastic synapse, leak and threshold modes
            (Cassidy et al. 2013), driven by an 8-bit pseudo-random number ρ (see :mod:`spikeforge.sim.prng`).
        threshold_mask_bits: widest stochastic-threshold mask: M_j = 2^k − 1 with k ≤ this (0: no
            stochastic threshold).
    """

    n_axons: int = 256
    n_neurons: int = 256
    n_axon_types: int = 4
    crossbar_min: int = 0
    crossbar_max: int = 1
    weight_min: int = -255
    weight_max: int = 255
    leak_min: int = -255
    leak_max: int = 255
    threshold_max: int = 2**18 - 1
    reset_value_min: int = -(2**18)
    reset_value_max: int = 2**18 - 1
    membrane_bits: int = 20
    delay_min: int = 1
    delay_max: int = 15
    reset_modes: tuple[int, ...] = (0, 1, 2)
    synapse_memory_bits: int | None = None
    stochastic_modes: bool = True
    threshold_mask_bits: int = 18

    def __post_init__(self) -> None:
        for f in fields(self):  # integers stay integers: 4.5 axons or True neurons describe no core
            v = getattr(self, f.name)
            if f.name in ("reset_modes", "stochastic_modes") or (f.name == "synapse_memory_bits" and v is None):
                continue
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"CoreSpec: {f.name} must be an integer, got {v!r}")
        if not isinstance(self.stochastic_modes, bool):
            raise ValueError(f"CoreSpec: stochastic_modes must be true or false, got {self.stochastic_modes!r}")
        if isinstance(self.reset_modes, list):
            object.__setattr__(self, "reset_modes", tuple(self.reset_modes))
        if not isinstance(self.reset_modes, tuple) or any(
                isinstance(m, bool) or not isinstance(m, int) for m in self.reset_modes):
            raise ValueError(f"CoreSpec: reset_modes must be a tuple of integers, got {self.reset_modes!r}")
        if self.synapse_memory_bits is not None and self.synapse_memory_bits < 1:
            raise ValueError(f"CoreSpec: synapse_memory_bits must be >= 1 or None, got {self.synapse_memory_bits}")
        if self.n_axons <= 0 or self.n_neurons <= 0 or self.n_axon_types <= 0:
            raise ValueError("CoreSpec: n_axons, n_neurons and n_axon_types must be positive")
        for lo, hi, name in (
            (self.crossbar_min, self.crossbar_max, "crossbar"),
            (self.weight_min, self.weight_max, "weight"),
            (self.leak_min, self.leak_max, "leak"),
            (self.reset_value_min, self.reset_value_max, "reset_value"),
            (self.delay_min, self.delay_max, "delay"),
        ):
            if lo > hi:
                raise ValueError(f"CoreSpec: {name} range is empty ({lo} > {hi})")
        if self.delay_min < 1:
            raise ValueError("CoreSpec: delay_min must be >= 1 (a spike cannot arrive in the tick it is sent)")
        if not 2 <= self.membrane_bits <= 31:
            raise ValueError("CoreSpec: membrane_bits must be in 2..31")
        if not 0 <= self.threshold_mask_bits <= 30:
            raise ValueError("CoreSpec: threshold_mask_bits must be in 0..30")
        if not self.reset_modes or not set(self.reset_modes) <= {0, 1, 2}:
            raise ValueError(f"CoreSpec: reset_modes must be a non-empty subset of 0 (to R), 1 (linear) and "
                             f"2 (none), got {list(self.reset_modes)}")
        if self.threshold_max < 0:
            raise ValueError(f"CoreSpec: threshold_max must be >= 0, got {self.threshold_max}")
        # what a deployment file stores these in (spikeforge.deploy.deployment.ARRAY_FIELDS)
        for lo, hi, name, bits in ((self.crossbar_min, self.crossbar_max, "crossbar", 16),
                                   (self.weight_min, self.weight_max, "weight", 32),
                                   (self.leak_min, self.leak_max, "leak", 32),
                                   (-self.threshold_max, self.threshold_max, "threshold", 32),
                                   (self.reset_value_min, self.reset_value_max, "reset_value", 32)):
            if lo < -(2 ** (bits - 1)) or hi > 2 ** (bits - 1) - 1:
                raise ValueError(f"CoreSpec: the {name} range [{lo}, {hi}] exceeds the {bits}-bit signed "
                                 f"integers a deployment stores it in")
        if self.n_axon_types > 127:
            raise ValueError(f"CoreSpec: n_axon_types must be at most 127 (int8 axon types), got {self.n_axon_types}")

    @property
    def binary_crossbar(self) -> bool:
        """True when every crossbar entry is a single bit (TrueNorth)."""
        return self.crossbar_min == 0 and self.crossbar_max == 1

    @property
    def crossbar_bits(self) -> int:
        """Bits needed to store one crossbar entry."""
        span = self.crossbar_max - self.crossbar_min
        return max(1, span.bit_length())

    @property
    def v_min(self) -> int:
        """Lowest membrane potential (saturation floor)."""
        return -(2 ** (self.membrane_bits - 1))

    @property
    def v_max(self) -> int:
        """Highest membrane potential (saturation ceiling)."""
        return 2 ** (self.membrane_bits - 1) - 1


#: Most cores a chip spec may describe over all its chips (the 16-chip TrueNorth board: 65 536).
MAX_CORES = 2**24


@dataclass(frozen=True)
class ChipSpec:
    """A chip: a 2-D mesh of identical cores ticking in lock step.

    Attributes:
        name: preset name, stored in every deployment.
        core: the core every mesh position holds.
        mesh_rows, mesh_cols: the core mesh; ``cores_per_chip = mesh_rows * mesh_cols``.
        tick_hz: nominal tick rate (TrueNorth: 1 kHz real time).
        max_chips: how many chips one deployment may span (a board of tiled chips).
        description: one line for ``spikeforge`` listings.
        source: where the numbers come from.
        base: for a user-defined chip (:func:`spikeforge.hardware.load_chip`), the preset it was derived
            from: the parameters its file leaves out and its energy constants come from there; ``""`` for
            the presets themselves.
        energy: for a user-defined chip, ``(name, value)`` pairs that replace the base preset's energy
            constants (fields of :class:`spikeforge.energy.EnergyConstants`).
    """

    name: str
    core: CoreSpec = field(default_factory=CoreSpec)
    mesh_rows: int = 64
    mesh_cols: int = 64
    tick_hz: float = 1000.0
    max_chips: int = 16
    description: str = ""
    source: str = ""
    base: str = ""
    energy: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"ChipSpec: name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.core, CoreSpec):
            raise ValueError(f"ChipSpec: core must be a CoreSpec, got {type(self.core).__name__}")
        for k in ("mesh_rows", "mesh_cols", "max_chips"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"ChipSpec: {k} must be an integer, got {v!r}")
        if self.mesh_rows <= 0 or self.mesh_cols <= 0 or self.max_chips <= 0:
            raise ValueError("ChipSpec: mesh_rows, mesh_cols and max_chips must be positive")
        if self.mesh_rows * self.mesh_cols * self.max_chips > MAX_CORES:
            raise ValueError(f"ChipSpec: {self.mesh_rows} x {self.mesh_cols} cores x {self.max_chips} chip(s) is more "
                             f"than {MAX_CORES} cores (placements, routes and chip maps are sized by it)")
        hz = self.tick_hz
        if isinstance(hz, bool) or not (isinstance(hz, numbers.Real) and math.isfinite(hz) and hz > 0):
            raise ValueError(f"ChipSpec: tick_hz must be a finite number > 0, got {self.tick_hz!r}")
        object.__setattr__(self, "tick_hz", float(hz))
        energy = self.energy.items() if isinstance(self.energy, dict) else self.energy
        pairs = []
        for item in energy:
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise ValueError(f"ChipSpec: energy must be (name, value) pairs or a dict, got the entry {item!r}")
            k, v = item
            try:
                pairs.append((str(k), float(v)))
            except (TypeError, ValueError):
                raise ValueError(f"ChipSpec: energy constant {k!r} must be a number, got {v!r}") from None
        object.__setattr__(self, "energy", tuple(pairs))

    @property
    def cores_per_chip(self) -> int:
        """Number of cores on one chip."""
        return self.mesh_rows * self.mesh_cols

    def to_dict(self) -> dict[str, object]:
        """Plain-data form (JSON-serialisable)."""
        d = asdict(self)
        d["core"]["reset_modes"] = list(self.core.reset_modes)
        # a user-defined chip's extra fields only (preset files stay as they were before these fields existed)
        if not self.base:
            del d["base"]
        if self.energy:
            d["energy"] = dict(self.energy)
        else:
            del d["energy"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ChipSpec:
        """Inverse of :meth:`to_dict`."""
        core = dict(d["core"])  # type: ignore[call-overload]
        core["reset_modes"] = tuple(core["reset_modes"])
        # fields added after a file was written take the value of the preset of the same name, or of a
        # user-defined chip's base preset (else the default)
        preset = PRESETS.get(str(d.get("name"))) or PRESETS.get(str(d.get("base", "")))
        if preset is not None:
            for key, value in asdict(preset.core).items():
                core.setdefault(key, tuple(value) if key == "reset_modes" else value)
        rest = {k: v for k, v in d.items() if k != "core"}
        energy = rest.get("energy")
        if isinstance(energy, dict):
            rest["energy"] = tuple(energy.items())
        return cls(core=CoreSpec(**core), **rest)  # type: ignore[arg-type]


TRUENORTH = ChipSpec(
    name="truenorth",
    core=CoreSpec(),
    mesh_rows=64,
    mesh_cols=64,
    tick_hz=1000.0,
    max_chips=16,
    description="IBM TrueNorth: 4096 cores of 256 axons x 256 neurons, binary crossbar, 4 axon types, 1 kHz",
    source=(
        "Merolla et al., Science 345:668 (2014); Cassidy et al., IJCNN 2013 (neuron model); "
        "Akopyan et al., IEEE TCAD 34:1537 (2015) (parameter widths); NS16e board: 16 chips; "
        "the stochastic-threshold mask width (18 bits, that of α) is an assumption"
    ),
)

LOIHI_LIKE = ChipSpec(
    name="loihi-like",
    core=CoreSpec(
        n_axons=4096,
        n_neurons=1024,
        n_axon_types=1,
        crossbar_min=-255,
        crossbar_max=255,
        weight_min=-255,
        weight_max=255,
        leak_min=-(2**11),
        leak_max=2**11 - 1,
        threshold_max=2**23 - 1,
        reset_value_min=-(2**23),
        reset_value_max=2**23 - 1,
        membrane_bits=24,
        delay_min=1,
        delay_max=62,
        reset_modes=(0, 1, 2),
        synapse_memory_bits=128 * 1024 * 8,
        stochastic_modes=False,
        threshold_mask_bits=0,
    ),
    mesh_rows=8,
    mesh_cols=16,
    tick_hz=1000.0,
    max_chips=32,
    description=(
        "Loihi-like parameter set: 128 cores of up to 4096 axons x 1024 neurons, 9-bit signed synapses, "
        "128 KiB synaptic memory per core (TrueNorth neuron dynamics, deterministic modes only)"
    ),
    source="Davies et al., IEEE Micro 38(1):82 (2018): core fan-in/fan-out, 1-9 bit weights, 128 KB synaptic SRAM",
)

PRESETS: dict[str, ChipSpec] = {TRUENORTH.name: TRUENORTH, LOIHI_LIKE.name: LOIHI_LIKE}


def preset_differences(chip: ChipSpec) -> list[str]:
    """The parameters (``core.weight_max``, ``tick_hz``, ...) in which ``chip`` differs from the preset whose name
    it carries; empty when it is that preset or not named like one. Description and source texts are not
    parameters. A chip posing as a preset would be checked against rules and priced with energy constants
    that are not its own, so deployment files refuse one (:func:`spikeforge.deploy.save` / ``load``), as chip
    files do."""
    preset = PRESETS.get(chip.name)
    if preset is None:
        return []

    def flat(d: dict[str, object], prefix: str = "") -> dict[str, object]:
        out: dict[str, object] = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            elif k not in ("description", "source"):
                out[f"{prefix}{k}"] = v
        return out

    a, b = flat(chip.to_dict()), flat(preset.to_dict())
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def is_chip_file(name: str) -> bool:
    """Whether ``name`` names a chip file (``.toml`` / ``.json``) rather than a preset."""
    return str(name).lower().endswith((".toml", ".json"))


class UnknownChipError(KeyError):
    """A chip name that is neither a preset nor a chip file (a ``KeyError``, printed without quotes)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def get_chip(name: str) -> ChipSpec:
    """The preset called ``name`` (any letter case), or the user-defined chip in the file ``name`` (``.toml`` /
    ``.json``, see :func:`spikeforge.hardware.load_chip`). Raises :class:`UnknownChipError` (a ``KeyError``)
    listing the known presets for an unknown name."""
    if not isinstance(name, str):
        raise TypeError(f"a chip is named by a string (a preset or a chip file), got {type(name).__name__}")
    if name in PRESETS or name.lower() in PRESETS:
        return PRESETS[name if name in PRESETS else name.lower()]
    if is_chip_file(name):
        from spikeforge.hardware.chipfile import load_chip

        return load_chip(name)
    raise UnknownChipError(f"unknown chip preset {name!r}; known presets: {', '.join(sorted(PRESETS))} (or a chip "
                           "file name.toml / name.json, see docs/chip-model.md)")
