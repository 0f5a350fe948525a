"""Design rules: named checks that a deployment fits its chip preset.

Each rule is a :class:`DesignRule` with a stable name (e.g. ``"TN-WEIGHT-RANGE"``), a one-line statement
and a vectorised check that yields every :class:`Violation` it finds. :func:`check` runs all rules and
raises :class:`DesignRuleError` listing every violation at once, not just the first.
Modelled on Rockpool's list of named checks and sinabs' per-chip typed exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from spikeforge.deploy.deployment import Deployment


@dataclass(frozen=True)
class Violation:
    """One broken rule at one place.

    Attributes:
        rule: the rule's name.
        where: the place, e.g. ``"core 3 neuron 17"`` or ``"input map entry 5"``.
        value: the offending value.
        limit: the allowed range or condition, as text.
    """

    rule: str
    where: str
    value: object
    limit: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.where}: value {self.value} violates {self.limit}"


class DesignRuleError(ValueError):
    """Raised when a deployment breaks one or more design rules; ``.violations`` holds all of them and
    ``.source`` the file it was read from, if any (the message then starts with it)."""

    def __init__(self, violations: list[Violation], chip: str, *, source: str | None = None) -> None:
        self.violations = violations
        self.source = source
        by_rule: dict[str, int] = {}
        for v in violations:
            by_rule[v.rule] = by_rule.get(v.rule, 0) + 1
        head = f"{len(violations)} design-rule violation(s) for chip {chip!r}: " + ", ".join(
            f"{k} x{n}" for k, n in by_rule.items()
        )
        shown = "\n  ".join(str(v) for v in violations[:50])
        more = f"\n  ... and {len(violations) - 50} more" if len(violations) > 50 else ""
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{head}\n  {shown}{more}")


@dataclass(frozen=True)
class DesignRule:
    """A named check. ``fn(deployment)`` yields violations."""

    name: str
    statement: str
    fn: Callable[[Deployment], Iterator[Violation]]


def _range_rule(
    name: str, field: str, lo: Callable[[Deployment], int], hi: Callable[[Deployment], int], what: str
) -> DesignRule:
    def fn(d: Deployment) -> Iterator[Violation]:
        arr = getattr(d, field)
        low, high = lo(d), hi(d)
        mask = (arr < low) | (arr > high)
        if field in ("weights", "leak", "threshold", "neg_threshold", "reset_value", "v_init", "reset_mode",
                     "floor_mode"):
            # parameters of disabled neurons are never used by the hardware
            en = d.enabled if arr.ndim == 2 else d.enabled[..., None]
            mask &= en
        for idx in zip(*np.nonzero(mask), strict=True):
            yield Violation(name, _where(field, idx), arr[idx].item(), f"{what} in [{low}, {high}]")

    return DesignRule(name, f"{what} must lie in the chip's range", fn)


def _where(field: str, idx: tuple[np.intp, ...]) -> str:
    i = [int(x) for x in idx]
    if field == "crossbar":
        return f"core {i[0]} axon {i[1]} neuron {i[2]}"
    if field == "axon_type":
        return f"core {i[0]} axon {i[1]}"
    if field == "weights":
        return f"core {i[0]} neuron {i[1]} axon-type {i[2]}"
    return f"core {i[0]} neuron {i[1]}"


def _rule_reset_mode(d: Deployment) -> Iterator[Violation]:
    allowed = np.array(d.chip.core.reset_modes)
    mask = ~np.isin(d.reset_mode, allowed) & d.enabled
    for c, j in zip(*np.nonzero(mask), strict=True):
        yield Violation("RESET-MODE", f"core {c} neuron {j}", int(d.reset_mode[c, j]), f"one of {allowed.tolist()}")


def _rule_floor_mode(d: Deployment) -> Iterator[Violation]:
    mask = ~np.isin(d.floor_mode, (0, 1)) & d.enabled
    for c, j in zip(*np.nonzero(mask), strict=True):
        yield Violation("FLOOR-MODE", f"core {c} neuron {j}", int(d.floor_mode[c, j]), "one of [0, 1]")


def _rule_stochastic(d: Deployment) -> Iterator[Violation]:
    if d.chip.core.stochastic_modes:
        return
    en = d.enabled.astype(bool)
    for c, j, g in zip(*np.nonzero(d.stochastic_synapse & en[..., None]), strict=True):
        yield Violation("STOCHASTIC-MODE", f"core {c} neuron {j} axon-type {g}", "stochastic synapse",
                        "deterministic synapses (the chip has no stochastic modes)")
    for c, j in zip(*np.nonzero(d.stochastic_leak & en), strict=True):
        yield Violation("STOCHASTIC-MODE", f"core {c} neuron {j}", "stochastic leak",
                        "a deterministic leak (the chip has no stochastic modes)")


def _rule_threshold_mask(d: Deployment) -> Iterator[Violation]:
    k = d.chip.core.threshold_mask_bits if d.chip.core.stochastic_modes else 0
    m = d.threshold_mask.astype(np.int64)
    bad = d.enabled.astype(bool) & ((m < 0) | (m > (1 << k) - 1) | ((m & (m + 1)) != 0))
    for c, j in zip(*np.nonzero(bad), strict=True):
        yield Violation("THRESHOLD-MASK", f"core {c} neuron {j}", int(m[c, j]),
                        f"a mask 2^k - 1 with 0 <= k <= {k}")


def _rule_destination(d: Deployment) -> Iterator[Violation]:
    core = d.chip.core
    routed = d.enabled & (d.dest_core >= 0)
    bad_core = d.enabled & ((d.dest_core < -1) | (d.dest_core >= d.n_cores))
    for c, j in zip(*np.nonzero(bad_core), strict=True):
        yield Violation("DEST-CORE", f"core {c} neuron {j}", int(d.dest_core[c, j]),
                        f"-1 (off-core) or in [0, {d.n_cores})")
    bad_axon = routed & ((d.dest_axon < 0) | (d.dest_axon >= core.n_axons))
    for c, j in zip(*np.nonzero(bad_axon), strict=True):
        yield Violation("DEST-AXON", f"core {c} neuron {j}", int(d.dest_axon[c, j]), f"in [0, {core.n_axons})")
    bad_delay = routed & ((d.dest_delay < core.delay_min) | (d.dest_delay > core.delay_max))
    for c, j in zip(*np.nonzero(bad_delay), strict=True):
        yield Violation("DELAY-RANGE", f"core {c} neuron {j}", int(d.dest_delay[c, j]),
                        f"delay in [{core.delay_min}, {core.delay_max}] ticks")


def _rule_placement(d: Deployment) -> Iterator[Violation]:
    chip = d.chip
    p = d.placement
    bad = (p[:, 0] < 0) | (p[:, 0] >= chip.max_chips) | (p[:, 1] < 0) | (p[:, 1] >= chip.mesh_rows) | (
        p[:, 2] < 0) | (p[:, 2] >= chip.mesh_cols)
    for c in np.flatnonzero(bad):
        yield Violation("PLACEMENT-MESH", f"core {c}", tuple(int(x) for x in p[c]),
                        f"chip in [0, {chip.max_chips}), row in [0, {chip.mesh_rows}), col in [0, {chip.mesh_cols})")
    if len(p):
        _, first, counts = np.unique(p, axis=0, return_index=True, return_counts=True)
        for k in np.flatnonzero(counts > 1):
            dup = np.flatnonzero((p == p[first[k]]).all(axis=1))
            yield Violation("PLACEMENT-UNIQUE", f"cores {dup.tolist()}", tuple(int(x) for x in p[first[k]]),
                            "one core per mesh position")


def _rule_core_count(d: Deployment) -> Iterator[Violation]:
    cap = d.chip.cores_per_chip * d.chip.max_chips
    if d.n_cores > cap:
        yield Violation("CORE-COUNT", "deployment", d.n_cores,
                        f"at most {cap} cores ({d.chip.max_chips} chips x {d.chip.cores_per_chip})")


def _rule_input_map(d: Deployment) -> Iterator[Violation]:
    n_ax = d.chip.core.n_axons
    bad = (d.input_axon < 0) | (d.input_axon >= n_ax)
    for k in np.flatnonzero(bad):
        yield Violation("INPUT-AXON", f"input map entry {k} (channel {int(d.input_channel[k])})",
                        int(d.input_axon[k]), f"axon in [0, {n_ax})")


def _rule_output_map(d: Deployment) -> Iterator[Violation]:
    n_n = d.chip.core.n_neurons
    bad = (d.output_neuron < 0) | (d.output_neuron >= n_n)
    for k in np.flatnonzero(bad):
        yield Violation("OUTPUT-NEURON", f"output map entry {k}", int(d.output_neuron[k]), f"neuron in [0, {n_n})")
    ok = ~bad
    cores, neurons = d.output_core[ok], d.output_neuron[ok]
    routed = d.dest_core[cores, neurons] >= 0
    for k in np.flatnonzero(ok)[routed]:
        yield Violation("OUTPUT-OFFCORE", f"output map entry {k} (core {int(d.output_core[k])} neuron "
                        f"{int(d.output_neuron[k])})", int(d.dest_core[d.output_core[k], d.output_neuron[k]]),
                        "an output neuron sends its one spike destination off-core (dest_core = -1)")
    dis = ~d.enabled[cores, neurons]
    for k in np.flatnonzero(ok)[dis]:
        yield Violation("OUTPUT-ENABLED", f"output map entry {k} (core {int(d.output_core[k])} neuron "
                        f"{int(d.output_neuron[k])})", False, "an output neuron must be enabled")


def _rule_threshold_reachable(d: Deployment) -> Iterator[Violation]:
    core = d.chip.core
    mask = d.enabled & (d.threshold > core.v_max)
    for c, j in zip(*np.nonzero(mask), strict=True):
        yield Violation("THRESHOLD-REACHABLE", f"core {c} neuron {j}", int(d.threshold[c, j]),
                        f"α <= {core.v_max}, the {core.membrane_bits}-bit membrane's largest value (a neuron whose "
                        "threshold its potential cannot reach never fires: disable it instead)")


def _rule_synapse_memory(d: Deployment) -> Iterator[Violation]:
    budget = d.chip.core.synapse_memory_bits
    if budget is None:
        return
    bits = np.count_nonzero(d.crossbar, axis=(1, 2)) * d.chip.core.crossbar_bits
    for c in np.flatnonzero(bits > budget):
        yield Violation("SYNAPSE-MEMORY", f"core {c}", int(bits[c]), f"at most {budget} bits of synaptic memory")


def _rule_membrane_range(d: Deployment) -> Iterator[Violation]:
    core = d.chip.core
    for field in ("v_init", "reset_value"):
        arr = getattr(d, field)
        mask = d.enabled & ((arr < core.v_min) | (arr > core.v_max))
        for c, j in zip(*np.nonzero(mask), strict=True):
            yield Violation("MEMBRANE-RANGE", f"core {c} neuron {j} ({field})", int(arr[c, j]),
                            f"{core.membrane_bits}-bit membrane [{core.v_min}, {core.v_max}]")


_c = lambda attr: (lambda d: getattr(d.chip.core, attr))  # noqa: E731
_k = lambda v: (lambda d: v)  # noqa: E731

DESIGN_RULES: tuple[DesignRule, ...] = (
    DesignRule("CORE-COUNT", "the deployment uses at most max_chips x cores_per_chip cores", _rule_core_count),
    DesignRule("PLACEMENT-MESH/PLACEMENT-UNIQUE", "every core sits inside a chip's mesh, one core per mesh position",
               _rule_placement),
    _range_rule("CROSSBAR-RANGE", "crossbar", _c("crossbar_min"), _c("crossbar_max"), "crossbar entry"),
    _range_rule("AXON-TYPE", "axon_type", _k(0), lambda d: d.chip.core.n_axon_types - 1, "axon type"),
    _range_rule("WEIGHT-RANGE", "weights", _c("weight_min"), _c("weight_max"), "per-type weight s_j[G]"),
    _range_rule("LEAK-RANGE", "leak", _c("leak_min"), _c("leak_max"), "leak λ"),
    _range_rule("THRESHOLD-RANGE", "threshold", _k(0), _c("threshold_max"), "positive threshold α"),
    _range_rule("NEG-THRESHOLD-RANGE", "neg_threshold", _k(0), _c("threshold_max"), "negative threshold β"),
    _range_rule("RESET-VALUE-RANGE", "reset_value", _c("reset_value_min"), _c("reset_value_max"), "reset value R"),
    DesignRule("MEMBRANE-RANGE", "initial potential and reset value fit the membrane width", _rule_membrane_range),
    DesignRule("THRESHOLD-REACHABLE", "an enabled neuron's threshold α is a value its membrane can reach",
               _rule_threshold_reachable),
    DesignRule("RESET-MODE", "reset mode γ is supported by the chip", _rule_reset_mode),
    DesignRule("FLOOR-MODE", "negative-floor mode κ is 0 or 1", _rule_floor_mode),
    DesignRule("STOCHASTIC-MODE", "stochastic synapses and leaks only on chips with stochastic modes",
               _rule_stochastic),
    DesignRule("THRESHOLD-MASK", "the stochastic-threshold mask M_j is 2^k − 1 within the chip's mask width",
               _rule_threshold_mask),
    DesignRule("DEST-CORE/DEST-AXON/DELAY-RANGE", "each neuron has one valid destination and delay", _rule_destination),
    DesignRule("INPUT-AXON", "the input map targets existing axons", _rule_input_map),
    DesignRule("OUTPUT-NEURON/OUTPUT-OFFCORE/OUTPUT-ENABLED", "output neurons exist, route off-core and are enabled",
               _rule_output_map),
    DesignRule("SYNAPSE-MEMORY", "synapses fit the core's synaptic memory (multi-bit chips)", _rule_synapse_memory),
)
# MEMBRANE-RANGE fires on v_init/reset_value; the two _range_rule checks for them above are covered by it.


def _rule_simulable(d: Deployment) -> Iterator[Violation]:
    """The references every simulation needs in range, whatever the chip's other limits: axon types,
    destinations (a delay of at least one tick), input axons and output neurons."""
    core = d.chip.core
    bad = (d.axon_type < 0) | (d.axon_type >= core.n_axon_types)
    for c, a in zip(*np.nonzero(bad), strict=True):
        yield Violation("AXON-TYPE", f"core {c} axon {a}", int(d.axon_type[c, a]),
                        f"axon type in [0, {core.n_axon_types - 1}]")
    en = d.enabled.astype(bool)
    for c, j in zip(*np.nonzero(en & ((d.dest_core < -1) | (d.dest_core >= d.n_cores))), strict=True):
        yield Violation("DEST-CORE", f"core {c} neuron {j}", int(d.dest_core[c, j]),
                        f"-1 (off-core) or in [0, {d.n_cores})")
    routed = en & (d.dest_core >= 0)
    for c, j in zip(*np.nonzero(routed & ((d.dest_axon < 0) | (d.dest_axon >= core.n_axons))), strict=True):
        yield Violation("DEST-AXON", f"core {c} neuron {j}", int(d.dest_axon[c, j]), f"in [0, {core.n_axons})")
    for c, j in zip(*np.nonzero(routed & (d.dest_delay < 1)), strict=True):
        yield Violation("DELAY-RANGE", f"core {c} neuron {j}", int(d.dest_delay[c, j]),
                        "a delay of at least 1 tick (a spike cannot arrive in the tick it is sent)")
    yield from _rule_input_map(d)
    bad_n = (d.output_neuron < 0) | (d.output_neuron >= core.n_neurons)
    for k in np.flatnonzero(bad_n):
        yield Violation("OUTPUT-NEURON", f"output map entry {k}", int(d.output_neuron[k]),
                        f"neuron in [0, {core.n_neurons})")


def check_simulable(d: Deployment) -> None:
    """Raise :class:`DesignRuleError` if a reference the simulator follows is out of range (axon type,
    destination core / axon, a delay below one tick, input axon, output neuron) — the part of the design
    rules that even a simulation beyond the chip's other limits (``CompiledDeployment(check_rules=False)``)
    needs."""
    d.validate()
    found = list(_rule_simulable(d))
    if found:
        raise DesignRuleError(found, d.chip.name)


def violations(d: Deployment) -> list[Violation]:
    """Every violation of every rule (empty when the deployment fits its chip)."""
    from spikeforge.deploy.deployment import require_deployment

    require_deployment(d, "check")
    d.validate()
    out: list[Violation] = []
    for rule in DESIGN_RULES:
        out.extend(rule.fn(d))
    return out


def check(d: Deployment) -> None:
    """Raise :class:`DesignRuleError` with all violations if the deployment breaks any design rule
    (:data:`DESIGN_RULES`, each named). A structurally malformed deployment (wrong shapes or dtypes, an output
    class out of range, ...) raises :class:`~spikeforge.deploy.DeploymentError` first; anything but a
    deployment, ``TypeError``."""
    found = violations(d)
    if found:
        raise DesignRuleError(found, d.chip.name)
