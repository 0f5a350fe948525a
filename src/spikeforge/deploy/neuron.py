"""One TrueNorth neuron's parameters as a typed value, with named configurations, for building networks by hand.

:class:`NeuronParams` holds every per-neuron field of a :class:`~spikeforge.deploy.deployment.Deployment`
(Cassidy et al., IJCNN 2013; semantics in ``docs/chip-model.md``); :meth:`Deployment.set_neurons` writes it
into one or more neuron slots of a core and enables them. The classmethods name the configurations the
methods and the documentation use:

==========================  ===================================================================================
``memoryless``              α = β = 0, γ = 0, R = 0, κ = 1: spikes iff input + λ ≥ 0, keeps no state
                            (Esser et al. 2015, Jimeno Yepes & Tang 2016)
``integrate_and_fire``      fires at V ≥ α and subtracts α (γ = 1), floored at 0 — a rate-coded IF unit
``stochastic_rate``         a stochastic leak λ > 0 with α = 1: fires each tick with probability (λ + 1)/256
``leaky_integrator``        leak reversal: |λ| per tick toward 0 (λ < 0), the decay of a leaky neuron
==========================  ===================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from spikeforge.deploy.deployment import Deployment


@dataclass(frozen=True)
class NeuronParams:
    """Every parameter of one neuron slot (symbols of ``docs/chip-model.md``).

    Attributes:
        weights: s_j[G], one signed weight per axon type (missing types: 0).
        leak: λ_j, added every tick (times sgn V with ``leak_reversal``).
        threshold: α_j ≥ 0: the neuron fires when V ≥ α_j (+ η with a threshold mask).
        neg_threshold: β_j ≥ 0.
        reset_mode: γ_j: 0 → V ← R, 1 → V ← V − α, 2 → unchanged.
        reset_value: R_j.
        floor_mode: κ_j: 1 → saturate at −β; 0 → below −β reset by γ (−R, V + β, V).
        v_init: V0_j, the potential at the start of every input.
        stochastic_synapse: b_j^G per axon type (missing types: deterministic).
        stochastic_leak: c_j.
        leak_reversal: ε_j.
        threshold_mask_bits: k of the threshold mask M_j = 2^k − 1 (0: deterministic threshold).
    """

    weights: tuple[int, ...] = ()
    leak: int = 0
    threshold: int = 0
    neg_threshold: int = 0
    reset_mode: int = 0
    reset_value: int = 0
    floor_mode: int = 1
    v_init: int = 0
    stochastic_synapse: tuple[bool, ...] = field(default=())
    stochastic_leak: bool = False
    leak_reversal: bool = False
    threshold_mask_bits: int = 0

    def __post_init__(self) -> None:
        def integer(x: object) -> bool:
            return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))

        for name in ("weights", "stochastic_synapse"):  # sequences are kept as tuples (the params are hashable)
            v = getattr(self, name)
            if isinstance(v, str | bytes) or not hasattr(v, "__iter__"):
                raise ValueError(f"{name} must be a sequence with one entry per axon type, e.g. (1, -1), got {v!r}")
            object.__setattr__(self, name, tuple(v))

        for name in ("leak", "threshold", "neg_threshold", "reset_mode", "reset_value", "floor_mode", "v_init",
                     "threshold_mask_bits"):
            v = getattr(self, name)
            if not integer(v):
                raise ValueError(f"{name} must be an integer, got {v!r}")
            if not -(2**31) <= int(v) < 2**31:
                raise ValueError(f"{name} {v} does not fit a deployment's 32-bit parameters")
        for name in ("stochastic_leak", "leak_reversal"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not all(integer(w) and -(2**31) <= int(w) < 2**31 for w in self.weights):
            raise ValueError(f"weights must be 32-bit integers, got {self.weights!r}")
        if not all(isinstance(b, (bool, np.bool_)) for b in self.stochastic_synapse):
            raise ValueError(f"stochastic_synapse must be true/false flags, got {self.stochastic_synapse!r}")
        if self.threshold < 0 or self.neg_threshold < 0:
            raise ValueError(f"thresholds must be >= 0, got α={self.threshold}, β={self.neg_threshold}")
        if self.reset_mode not in (0, 1, 2):
            raise ValueError(f"reset_mode must be 0, 1 or 2, got {self.reset_mode}")
        if self.floor_mode not in (0, 1):
            raise ValueError(f"floor_mode must be 0 or 1, got {self.floor_mode}")
        if not 0 <= self.threshold_mask_bits <= 30:
            raise ValueError(f"threshold_mask_bits must be in 0..30, got {self.threshold_mask_bits}")

    # ------------------------------------------------------------------ named configurations
    @classmethod
    def memoryless(cls, weights: tuple[int, ...], leak: int = 0, **kw: object) -> NeuronParams:
        """Spikes iff Σ_i A_i W_ij + λ ≥ 0 and keeps no state (α = β = 0, γ = 0, R = 0, κ = 1)."""
        return cls(weights=weights, leak=leak, **kw)  # type: ignore[arg-type]

    @classmethod
    def integrate_and_fire(cls, weights: tuple[int, ...], threshold: int, leak: int = 0,
                           **kw: object) -> NeuronParams:
        """Integrates, fires at V ≥ α and subtracts α (γ = 1, linear reset), floored at 0 (β = 0, κ = 1): its
        spike count over T ticks is ⌊Σ drive / α⌋ for non-negative drive."""
        return cls(weights=weights, leak=leak, threshold=threshold, reset_mode=1, **kw)  # type: ignore[arg-type]

    @classmethod
    def stochastic_rate(cls, leak: int, **kw: object) -> NeuronParams:
        """With no input, fires each tick with probability (λ + 1)/256 (stochastic leak λ ∈ [0, 255], α = 1,
        reset to 0): a Bernoulli spike source on chip."""
        if not 0 <= leak <= 255:
            raise ValueError(f"a stochastic rate neuron needs 0 <= leak <= 255, got {leak}")
        return cls(leak=leak, threshold=1, stochastic_leak=True, **kw)  # type: ignore[arg-type]

    @classmethod
    def leaky_integrator(cls, weights: tuple[int, ...], threshold: int, decay: int, **kw: object) -> NeuronParams:
        """Integrates and leaks ``decay`` per tick toward 0 (leak reversal with λ = −decay), fires at V ≥ α and
        resets to 0 (floored at 0 unless ``neg_threshold`` / ``floor_mode`` say otherwise)."""
        if decay < 0:
            raise ValueError(f"decay must be >= 0, got {decay}")
        return cls(weights=weights, leak=-decay, threshold=threshold, leak_reversal=True, **kw)  # type: ignore[arg-type]


def set_neurons(dep: Deployment, core: int, neurons: int | slice | np.ndarray | list[int], params: NeuronParams,
                *, dest: tuple[int, int, int] | None = None) -> None:
    """Enable ``neurons`` of ``core`` and give them ``params``; ``dest`` = (core, axon, delay) routes their
    spikes (default: off-core, −1, e.g. output neurons). Raises ``ValueError`` naming what does not fit the
    deployment's core (more weights or stochastic flags than axon types, a core out of range)."""
    t = dep.chip.core.n_axon_types
    if not 0 <= core < dep.n_cores:
        raise ValueError(f"core {core} is not in [0, {dep.n_cores})")
    for name in ("weights", "stochastic_synapse"):
        if len(getattr(params, name)) > t:
            raise ValueError(f"{name} has {len(getattr(params, name))} entries but the chip's cores have "
                             f"{t} axon types")
    j = neurons
    n = dep.chip.core.n_neurons
    idx = np.arange(n)[j] if isinstance(j, slice) else np.asarray(j)
    if idx.dtype.kind == "b":
        raise ValueError("neurons must be indices or a slice, not a boolean mask")
    if idx.dtype.kind not in "iu" or (idx.size and (idx.min() < 0 or idx.max() >= n)):
        raise ValueError(f"neurons {neurons!r} are not indices in [0, {n}) (negative indices are refused: they "
                         "would silently name the last neurons)")
    if dest is not None:
        if len(dest) != 3 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in dest):
            raise ValueError(f"dest must be (core, axon, delay) integers, got {dest!r}")
    dep.enabled[core, j] = True
    w = np.zeros(t, np.int64)
    w[: len(params.weights)] = params.weights
    dep.weights[core, j] = w
    sto = np.zeros(t, bool)
    sto[: len(params.stochastic_synapse)] = params.stochastic_synapse
    dep.stochastic_synapse[core, j] = sto
    for name in ("leak", "threshold", "neg_threshold", "reset_mode", "reset_value", "floor_mode", "v_init",
                 "stochastic_leak", "leak_reversal"):
        getattr(dep, name)[core, j] = getattr(params, name)
    dep.threshold_mask[core, j] = (1 << params.threshold_mask_bits) - 1
    if dest is None:
        dep.dest_core[core, j] = -1
    else:
        dep.dest_core[core, j], dep.dest_axon[core, j], dep.dest_delay[core, j] = dest
