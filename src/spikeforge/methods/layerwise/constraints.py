"""What a layer-wise conversion is asked to do: the constraint sets (digital / analog / hybrid weights and the
chip they must fit), the solver options, and the report of what the conversion did (docs/methods/layerwise.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from spikeforge.hardware.spec import ChipSpec, get_chip
from spikeforge.methods.layerwise.solver import LevelSpec

ConstraintName = Literal["digital", "analog", "hybrid"]
Method = Literal["layerwise", "normalisation"]


@dataclass(frozen=True)
class Constraints:
    """A constraint set. ``digital``: integer weights realisable on ``chip`` (TrueNorth: 4 axon types with
    per-neuron weights m·(1, 2, 4, −8), each input on 4 axons → q ∈ [−8, 7]; Loihi-like: a 9-bit crossbar
    → q ∈ [−255, 255]); ``analog``: continuous weights |ŵ| ≤ ``bound``; ``hybrid``: per-neuron continuous
    magnitude δ_j with ``hybrid_levels`` integer levels q ∈ [−L, L] (|δ q| ≤ bound)."""

    name: ConstraintName
    ticks: int = 32
    chip: ChipSpec | None = None
    bound: float = 1.0
    hybrid_levels: int = 3
    unit_weight: int = 31

    @property
    def integer(self) -> bool:
        return self.name == "digital"

    @property
    def truenorth_types(self) -> bool:
        """Binary crossbar with ≥ 4 axon types: the two's-complement encoding over 4 axon copies."""
        return self.chip is not None and self.chip.core.binary_crossbar

    @property
    def copies(self) -> int:
        return 4 if self.integer and self.truenorth_types else 1

    @property
    def fan_in(self) -> int | None:
        """Inputs one neuron may read on one core (None: unlimited, no chip)."""
        if not self.integer or self.chip is None:
            return None
        return self.chip.core.n_axons // self.copies

    def level_spec(self) -> LevelSpec | None:
        if self.name == "analog":
            return None
        if self.name == "hybrid":
            return LevelSpec(-self.hybrid_levels, self.hybrid_levels, "free", bound=self.bound, ticks=self.ticks)
        assert self.chip is not None
        core = self.chip.core
        alpha_max = int(min(core.threshold_max, core.v_max // (8 * self.ticks)))
        if self.truenorth_types:
            if core.n_axon_types < 4:
                raise ValueError("the TrueNorth encoding needs 4 axon types")
            m = min(self.unit_weight, core.weight_max // 8, -core.weight_min // 8)
            if m < 1:
                raise ValueError(
                    f"chip {self.chip.name!r}: digital weights are 4-bit codes in [-8, 7] made of the axon-type "
                    f"weights m, 2m, 4m, -8m with a unit m >= 1 (this conversion uses m = weight_max // 8, at most "
                    f"{self.unit_weight}), so the chip needs weight_max >= 8 and weight_min <= -8; its weight range "
                    f"is [{core.weight_min}, {core.weight_max}]")
            return LevelSpec(-8, 7, "integer", m=m, alpha_max=alpha_max, ticks=self.ticks)
        return LevelSpec(max(core.crossbar_min, -core.crossbar_max), core.crossbar_max, "integer", m=1,
                         alpha_max=alpha_max, ticks=self.ticks)


def make_constraints(name: str, chip: str | ChipSpec | None = "truenorth", ticks: int = 32, **kw: Any) -> Constraints:
    """Constraints by name; analog and hybrid ignore the chip (they run on the floating-point tick model)."""
    if name not in ("digital", "analog", "hybrid"):
        raise ValueError(f"constraints must be digital, analog or hybrid, got {name!r}")
    spec = (get_chip(chip) if isinstance(chip, str) else chip) if name == "digital" else None
    if name == "digital" and spec is None:
        raise ValueError("digital constraints need a chip")
    return Constraints(name=name, ticks=ticks, chip=spec, **kw)  # type: ignore[arg-type]


@dataclass
class ConvertOptions:
    """Solver settings (docs/methods/layerwise.md, "The per-layer problem").

    ``solver``: "auto" (per-neuron L1 LPs join the candidates when neurons × samples × inputs ≤
    ``lp_budget``), "lp" (always), "ls" (never); ``ls_iters``: accelerated hinge least-squares iterations;
    ``scale``: how the layer scales s_ℓ are chosen for
    ``method="layerwise"`` — "mse" (:func:`.scales._mse_scale`: least squared error of the T-step rate code),
    "percentile" (the normalisation baseline's rule, always used by it) or "auto": "mse" for analog and hybrid
    weights (floating-point neurons: the rate code is the only quantiser, as the MSE model assumes),
    "percentile" for digital chips (docs, "Layer scales and targets"); ``percentile``: that percentile of the
    layer's positive activations (and of the partial sums for σ_j);
    ``keep``: fraction of hidden units kept per hidden layer (node pruning); ``workers``: processes for
    per-neuron LPs; ``ridge_grid``: strengths of the penalty towards the normalised weights among which every
    neuron picks by held-out error (empty: the single ``ridge``, no selection; coarse level grids — fewer than
    ``COARSE_LEVELS`` levels per sign — always use the single ``ridge``); ``holdout``: fraction of the
    calibration rows held out for that selection (0: no selection, every fit on all rows)."""

    solver: Literal["auto", "lp", "ls"] = "auto"
    percentile: float = 99.9
    keep: float | list[float] = 1.0
    cd_passes: int = 2
    lp_budget: int = 1_000_000
    lp_max_samples: int = 1500
    workers: int = 1
    batch: int = 250
    input_selection: bool = True
    ridge: float = 0.05
    prior: bool = True
    output_replicas: int = 8
    milp_combiners: bool = False
    ridge_grid: tuple[float, ...] = (0.05, 0.5, 5.0, 50.0)
    holdout: float = 0.2
    ls_iters: int = 40
    scale: Literal["auto", "percentile", "mse"] = "auto"
    milp_time_limit: float = 5.0
    leak_bias: bool = True


@dataclass
class ConvertReport:
    """What the conversion did: per stage timings and errors, kept units, layer scales."""

    stages: list[dict[str, Any]] = field(default_factory=list)
    kept: list[list[int]] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    solve_s: float = 0.0
