"""Export deployments to NIR and import NIR graphs as deployments (``docs/nir.md``).

NIR (Pedersen et al., Nature Communications 15:8122, 2024) describes a spiking network as a graph of
primitives. A spikeforge deployment becomes, per core::

    input ──Linear (A×K, 0/1 input map)──┐
    other core ──Linear (A×n, 0/1 route)─┼──▶ Affine (n×A: W_eff = w_ij·s_j[G_i], bias λ) ──▶ IF or Threshold
                                          ┘
and the output map becomes a 0/1 ``Linear`` into the graph's ``Output`` node (one element per output-map
entry, so a step's output is the output neurons' spikes; ``Output.metadata["output_class"]`` gives each
element's class).

**Time.** One NIR step is one chip tick (``dt = 1``; ``IF``: ``v ← v + r·I`` with ``r = 1``). NIR edges
carry no delay — every NIR executor (snnTorch, Norse, nirtorch) evaluates a feed-forward graph within one
step — while a chip route takes ``delay`` ticks. For an acyclic, layer-synchronous deployment (every core one
depth, :mod:`spikeforge.sim.topology`) this is a fixed shift per core: the chip's core at depth ``d`` does at
tick ``t + d`` what the NIR node does at step ``t``. ``Output.metadata["tick_offset"]`` holds the shift of
each output element; :func:`align_to_chip` applies it.

**Neurons.** The chip fires when ``V ≥ α`` on integers; NIR's ``IF`` and ``Threshold`` fire when
``v > θ``; on integers ``V ≥ α ⇔ V > α − ½``, so ``θ = α − ½`` (exact in float32 for ``|α| < 2²³``).
Two kinds of neuron are exactly expressible for runs of any length:

* the *memoryless* neuron (``α = β = 0``, ``γ = 0``, ``R = 0``, ``V0 = 0``, either ``κ``): its potential is 0
  after every tick, so it is a stateless ``Threshold(θ = −½)`` on ``W_eff·a + λ``;
* the *integrate-and-fire* neuron whose floor can never act: ``γ = 0``, ``V0 = 0``, no negative effective
  weight from a driven axon, ``λ ≥ 0`` and ``R ≥ −β`` (so ``V`` never drops below ``−β``), and no possible
  saturation (``max(α − 1, R, 0) + Σ max(W, 0) + λ ≤ V_max``): ``IF(r = 1, θ = α − ½, v_reset = R)``.

Everything else — linear reset (γ = 1), no reset (γ = 2), a floor that negative inputs can reach, saturation,
``V0 ≠ 0``, several sources on one axon (the chip ORs them, NIR sums), unequal path delays, recursion, and
activity of later cores before the input reaches them — is reported as a :class:`Feature` naming the cores
that use it: :func:`export_nir` refuses, or with ``approximate=True`` writes the closest graph and records
every approximation in the graph's metadata. So are TrueNorth's stochastic synapse, leak and threshold
modes and leak reversal, which NIR's deterministic primitives cannot state (the approximate graph keeps the
deterministic weights and leak).

**Short runs.** With ``ticks=`` given, exactness is claimed only for sequential runs of at most that many
ticks per input. When that leaves every neuron a single evaluation after its input arrives (``ticks −
depth of the first output core = 1``, e.g. the one-tick-per-image networks of Esser et al. 2015), reset,
floor and state cannot show, and every neuron is written as an ``IF``.

**Import.** A graph written here carries the deployment itself (``metadata["spikeforge_deployment"]``, the
``.sfd`` bytes); :func:`import_nir` returns it unchanged when the graph's primitives still equal what the
deployment exports to. Any other graph of ``Input``, ``Output``, ``Affine``, ``Linear``, ``Flatten``,
``IF`` and ``Threshold`` nodes is mapped onto cores: each neuron node is cut into cores of ``n_neurons``,
its incoming linear maps are folded into one integer matrix per source, and axons and axon types are
assigned so that ``w_ij·s_j[G_i]`` reproduces it.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spikeforge import __version__
from spikeforge.deploy.deployment import Deployment
from spikeforge.fileio import atomic_output
from spikeforge.hardware.spec import ChipSpec, get_chip
from spikeforge.sim.topology import analyse

if TYPE_CHECKING:
    import nir as nir_t

#: ``NIRPlan.kind`` values
OMITTED, IF_NODE, THRESHOLD_NODE = 0, 1, 2

FORMAT_NAME = "spikeforge-nir"
FORMAT_VERSION = 1

SEMANTICS = (
    "one NIR step = one chip tick (dt = 1); IF: v <- v + r*I, spike when v > v_threshold, then v <- v_reset; "
    "Threshold: spike when input > threshold; chip thresholds alpha map to alpha - 0.5 (integer potentials); "
    "edges carry no delay: output element m at step s is the chip's output at tick s + tick_offset[m]"
)

#: provenance entries an export records in ``metadata["spikeforge_feed"]`` (JSON) and an import restores: what
#: the graph must be fed (the input encoding) and on what data, also when the deployment is not embedded
FEED_PROVENANCE = ("encoding", "dataset")


def _feed(meta: dict[str, Any]) -> dict[str, Any]:
    """The ``FEED_PROVENANCE`` entries a graph's metadata records (none if absent or unreadable)."""
    try:
        feed = json.loads(str(meta.get("spikeforge_feed", "{}")))
    except json.JSONDecodeError:
        return {}
    return {k: feed[k] for k in FEED_PROVENANCE if isinstance(feed, dict) and k in feed}


#: feature name → (what it is, what ``approximate=True`` writes instead)
FEATURES: dict[str, tuple[str, str]] = {
    "recurrent-routing": (
        "routes form a cycle reached by the input; NIR executors give a feedback edge one step of delay and a "
        "forward edge none, the chip gives every route its delay",
        "edges written as they are (timing inside the loop differs)",
    ),
    "unequal-path-delays": (
        "cores reached at several depths (not layer-synchronous): NIR edges have no delay, so paths of "
        "different total delay would arrive together",
        "all route delays dropped (zero-delay edges)",
    ),
    "axon-merging": (
        "several sources drive one axon: the chip ORs their spikes into one, NIR sums them",
        "sources summed",
    ),
    "activity-before-input": (
        "neurons on cores at depth >= 1 fire or change potential on leak alone before the input reaches them; "
        "NIR evaluates every node from the first step",
        "the activity before the input arrives is dropped",
    ),
    "unreachable-activity": (
        "neurons on cores that no input reaches fire or change potential on leak alone",
        "driven from step 0 with zero-delay edges (their timing relative to the outputs differs)",
    ),
    "initial-potential": ("V0 != 0: NIR neurons start at v = 0", "V0 dropped (start at 0)"),
    "linear-reset": (
        "reset mode 1 (V <- V - alpha): NIR's IF resets to a value",
        "reset to 0 (exact when V = alpha at every spike)",
    ),
    "no-reset": (
        "reset mode 2 (V unchanged after a spike): NIR's IF resets to a value",
        "reset to alpha (exact when V = alpha at every spike)",
    ),
    "negative-floor": (
        "negative weights, leak or reset value can take V below -beta, where the chip floors it (kappa=1: "
        "V <- -beta, kappa=0: by gamma, V <- -R, V + beta or V); NIR's IF has no floor",
        "floor dropped (exact while V >= -beta)",
    ),
    "stochastic-modes": (
        "stochastic synapses, leak or threshold (TrueNorth's pseudo-random modes): NIR's primitives are "
        "deterministic",
        "each stochastic synapse or leak written with its deterministic weight s or leak lambda; the threshold "
        "mask dropped",
    ),
    "leak-reversal": (
        "leak reversal (the leak is multiplied by sgn V): NIR's leak does not depend on the potential's sign",
        "the leak written without reversal",
    ),
    "saturation": (
        "V can leave the membrane's range, where the chip saturates it; NIR's IF is unbounded",
        "saturation dropped",
    ),
}


class NIRExportError(ValueError):
    """A deployment uses features NIR cannot express exactly; ``.features`` lists them."""

    def __init__(self, features: list[Feature], *, action: str = "export") -> None:
        self.features = features
        lines = "\n  ".join(str(f) for f in features)
        super().__init__(
            f"NIR {action} is not exact: {len(features)} feature(s) have no exact NIR equivalent:\n  {lines}\n"
            "(--approximate / approximate=True writes the closest graph and records every approximation in its "
            "metadata; a horizon, --ticks N / ticks=N, asks for exactness over the first N ticks only, which some "
            "features allow)"
        )


class NIRImportWarning(UserWarning):
    """An import that goes ahead on a reading the user should know about (e.g. an embedded deployment ignored)."""


class NIRImportError(ValueError):
    """A NIR graph cannot be mapped onto the chip (unsupported node, non-integer weights, fan-out, ...)."""


class NIRUnavailableError(ImportError):
    """The ``nir`` package is not installed."""


def _nir() -> Any:
    try:
        import nir
    except ImportError as e:
        raise NIRUnavailableError(
            f"NIR export/import needs the 'nir' package (pip install nir==1.0.8): {e}"
        ) from None
    return nir


@dataclass(frozen=True)
class Feature:
    """One deployment feature without an exact NIR equivalent.

    Attributes:
        name: key of :data:`FEATURES` (``"linear-reset"``, ``"negative-floor"``, ...).
        description: what the feature is and why NIR cannot state it.
        approximation: what ``approximate=True`` writes instead.
        cores: the cores that use it.
        neurons: how many neurons use it (0 for core-level features).
    """

    name: str
    description: str
    approximation: str
    cores: tuple[int, ...]
    neurons: int = 0

    def __str__(self) -> str:
        who = f"core(s) {_fmt_list(self.cores)}" + (f", {self.neurons} neuron(s)" if self.neurons else "")
        return f"{self.name} [{who}]: {self.description}"

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (stored in the graph's metadata)."""
        return {"feature": self.name, "cores": list(self.cores), "neurons": self.neurons,
                "description": self.description, "approximation": self.approximation}


@dataclass(frozen=True, eq=False)
class NIRPlan:
    """How a deployment maps onto NIR: node kind per neuron, the features that are not exact, the offsets.

    Attributes:
        kind: (C, N) int8: 0 not written (disabled), 1 ``IF``, 2 ``Threshold``.
        features: features without an exact NIR equivalent (empty: the graph is exact).
        depth: (C,) core depths (:func:`spikeforge.sim.topology.analyse`; 0 where unknown).
        ticks: the run length exactness is claimed for (``None``: any length).
        steps: NIR steps observed within ``ticks`` (``None``: unbounded).
    """

    kind: np.ndarray
    features: tuple[Feature, ...]
    depth: np.ndarray
    ticks: int | None
    steps: int | None

    @property
    def exact(self) -> bool:
        """True when no feature needs approximating."""
        return not self.features

    def describe(self) -> list[str]:
        """One line per feature, with its approximation."""
        return [f"{f} -> approximated: {f.approximation}" for f in self.features]


def _fmt_list(xs: tuple[int, ...], limit: int = 12) -> str:
    head = ", ".join(str(x) for x in xs[:limit])
    return head + (f", ... ({len(xs)} in all)" if len(xs) > limit else "")


# ---------------------------------------------------------------------------------------------- planning
def _sources_per_axon(dep: Deployment) -> np.ndarray:
    """(C, A) number of distinct sources (input channels, enabled routed neurons) driving each axon."""
    c_n, a_n = dep.n_cores, dep.chip.core.n_axons
    count = np.zeros((c_n, a_n), np.int64)
    if len(dep.input_channel):
        pairs = np.unique(np.stack([dep.input_channel, dep.input_core, dep.input_axon], axis=1), axis=0)
        np.add.at(count, (pairs[:, 1], pairs[:, 2]), 1)
    routed = dep.enabled & (dep.dest_core >= 0)
    cc, jj = np.nonzero(routed)
    if cc.size:
        np.add.at(count, (dep.dest_core[cc, jj], dep.dest_axon[cc, jj]), 1)
    return count


def _rest_quiescent(dep: Deployment) -> np.ndarray:
    """(C, N) True where a neuron with no input neither fires nor changes potential in a tick from V0."""
    core = dep.chip.core
    v0 = dep.v_init.astype(np.int64)
    omega = np.where(dep.leak_reversal, np.sign(v0), 1)
    v = np.clip(v0 + omega * dep.leak, core.v_min, core.v_max)
    fires = v >= dep.threshold
    beta = dep.neg_threshold.astype(np.int64)
    low = ~fires & (v < -beta)
    kappa0 = np.where(dep.reset_mode == 0, -dep.reset_value.astype(np.int64),
                      np.where(dep.reset_mode == 1, v + beta, v))
    after = np.where(low, np.where(dep.floor_mode == 1, -beta, kappa0), v)
    return ~fires & (after == v0)


def plan_nir(dep: Deployment, ticks: int | None = None) -> NIRPlan:
    """Decide how every neuron of ``dep`` becomes a NIR node and list what NIR cannot state exactly.

    Args:
        dep: the deployment.
        ticks: claim exactness only for sequential runs of at most this many ticks per input (``None``: for
            runs of any length). See the module docstring.

    Raises:
        ValueError: ``ticks`` ends before the first output core is reached.
    """
    dep.validate()
    core = dep.chip.core
    c_n = dep.n_cores
    en = dep.enabled.astype(bool)
    topo = analyse(dep)
    found: dict[str, tuple[set[int], int]] = {}

    def flag(name: str, mask: np.ndarray | None = None, cores: Any = None) -> None:
        if mask is not None:
            if not mask.any():
                return
            cs, n = set(np.flatnonzero(mask.any(axis=1)).tolist()), int(mask.sum())
        else:
            cs, n = {int(c) for c in cores}, 0
            if not cs:
                return
        old = found.get(name, (set(), 0))
        found[name] = (old[0] | cs, old[1] + n)

    live: np.ndarray = np.asarray(en.any(axis=1), bool)
    src = _sources_per_axon(dep)
    flag("axon-merging", cores=np.flatnonzero(live & (src > 1).any(axis=1)))
    w = dep.effective_weights().astype(np.int64) * (src > 0)[:, :, None]
    pos = np.clip(w, 0, None).sum(axis=1)
    neg = np.clip(w, None, 0).sum(axis=1)
    lam = dep.leak.astype(np.int64)
    alpha = dep.threshold.astype(np.int64)
    beta = dep.neg_threshold.astype(np.int64)
    gamma = dep.reset_mode.astype(np.int64)
    reset = dep.reset_value.astype(np.int64)
    v0 = dep.v_init.astype(np.int64)

    if topo.acyclic:
        depth = np.asarray(topo.depth, np.int64)
        if not topo.synchronous:
            flag("unequal-path-delays", cores=[c for c in topo.conflicts if live[c]])
    else:
        depth = np.zeros(c_n, np.int64)
        cyc = np.asarray(topo.depth) == -2
        flag("recurrent-routing", cores=np.flatnonzero(live & cyc))

    steps: int | None = None
    if ticks is not None:
        if int(ticks) < 1:
            raise ValueError(f"ticks must be >= 1, got {ticks}")
        first = int(depth[dep.output_core].clip(min=0).min()) if len(dep.output_core) else 0
        steps = int(ticks) - first
        if steps < 1:
            raise ValueError(f"ticks={ticks} ends before the first output core (depth {first}) is reached")

    stoch = dep.stochastic_leak | (dep.threshold_mask != 0) | (dep.stochastic_synapse & (w != 0).any(axis=1)[:, :, None]
                                                                  ).any(axis=2)
    flag("stochastic-modes", en & stoch)
    flag("leak-reversal", en & dep.leak_reversal.astype(bool) & (lam != 0))
    once_ok = (np.maximum(pos, pos + lam) <= core.v_max) & (np.minimum(neg, neg + lam) >= core.v_min)
    kind = np.zeros(en.shape, np.int8)
    flag("initial-potential", en & (v0 != 0))
    if steps == 1:
        kind[en] = IF_NODE
        flag("saturation", en & ~once_ok)
    else:
        memoryless = en & dep.memoryless_neurons()
        stateful = en & ~memoryless
        kind[memoryless] = THRESHOLD_NODE
        kind[stateful] = IF_NODE
        flag("linear-reset", stateful & (gamma == 1))
        flag("no-reset", stateful & (gamma == 2))
        flag("negative-floor", stateful & ~((neg == 0) & (lam >= 0) & (reset >= -beta)))
        top = np.maximum(np.maximum(alpha - 1, reset), 0) + pos + np.maximum(lam, 0)
        flag("saturation", (memoryless & ~once_ok) | (stateful & (top > core.v_max)))
    if topo.acyclic:
        restless = en & ~_rest_quiescent(dep)
        flag("activity-before-input", restless & (depth >= 1)[:, None])
        flag("unreachable-activity", restless & (depth < 0)[:, None])

    order = list(FEATURES)
    feats = tuple(
        Feature(name, FEATURES[name][0], FEATURES[name][1], tuple(sorted(found[name][0])), found[name][1])
        for name in sorted(found, key=order.index)
    )
    return NIRPlan(kind=kind, features=feats, depth=np.where(depth >= 0, depth, 0), ticks=ticks, steps=steps)


# ---------------------------------------------------------------------------------------------- export
def _f(x: np.ndarray) -> np.ndarray:
    """float32 when every value is exact in it, else float64."""
    x = np.asarray(x, np.float64)
    return x.astype(np.float32) if (np.abs(x) < 2**23).all() else x


@dataclass
class _Population:
    name: str
    core: int
    kind: int
    idx: np.ndarray


def _populations(dep: Deployment, plan: NIRPlan) -> list[_Population]:
    pops = []
    for c in range(dep.n_cores):
        for k, suffix in ((IF_NODE, ""), (THRESHOLD_NODE, "_thr")):
            idx = np.flatnonzero(plan.kind[c] == k)
            if idx.size:
                pops.append(_Population(f"core{c}{suffix}", c, k, idx))
    return pops


def _deployment_bytes(dep: Deployment) -> np.ndarray:
    from spikeforge.deploy.io import save

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "embedded.sfd"
        save(dep, p, check_rules=False)
        return np.frombuffer(p.read_bytes(), np.uint8).copy()


def _deployment_from_bytes(blob: np.ndarray) -> Deployment:
    from spikeforge.deploy.io import load

    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "embedded.sfd"
        p.write_bytes(np.asarray(blob, np.uint8).tobytes())
        return load(p, check_rules=False)


def deployment_to_nir(
    dep: Deployment, *, approximate: bool = False, ticks: int | None = None, embed: bool = True
) -> nir_t.NIRGraph:
    """Build the NIR graph of ``dep`` (see the module docstring for the mapping).

    Args:
        dep: the deployment.
        approximate: write features without an exact NIR equivalent approximately (recorded in
            ``graph.metadata["approximations"]``) instead of raising.
        ticks: claim exactness only for sequential runs of at most this many ticks (see :func:`plan_nir`).
        embed: store the deployment's ``.sfd`` bytes in the metadata, so that :func:`import_nir` can return
            it losslessly.

    Raises:
        DesignRuleError: the deployment breaks its chip's design rules.
        NIRExportError: the deployment uses features NIR cannot express and ``approximate`` is false.
        ValueError: no output neuron is enabled, or ``ticks`` is too short.
    """
    return _build(dep, approximate=approximate, ticks=ticks, embed=embed)[0]


def _build(dep: Deployment, *, approximate: bool, ticks: int | None, embed: bool) -> tuple[nir_t.NIRGraph, NIRPlan]:
    from spikeforge.hardware.rules import check

    nir = _nir()
    check(dep)  # a graph of a deployment its chip cannot hold would describe no chip

    plan = plan_nir(dep, ticks)
    if plan.features and not approximate:
        raise NIRExportError(list(plan.features))
    core = dep.chip.core
    a_n, k_n = core.n_axons, dep.n_inputs
    pops = _populations(dep, plan)
    pop_of = np.full(plan.kind.shape, -1, np.int64)
    pos_of = np.full(plan.kind.shape, -1, np.int64)
    for p, pop in enumerate(pops):
        pop_of[pop.core, pop.idx] = p
        pos_of[pop.core, pop.idx] = np.arange(pop.idx.size)
    by_core: dict[int, list[_Population]] = defaultdict(list)
    for pop in pops:
        by_core[pop.core].append(pop)

    w_eff = dep.effective_weights()
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([k_n])})}
    edges: list[tuple[str, str]] = []
    for pop in pops:
        c, idx = pop.core, pop.idx
        nodes[f"{pop.name}_syn"] = nir.Affine(weight=_f(w_eff[c][:, idx].T), bias=_f(dep.leak[c, idx]))
        alpha = dep.threshold[c, idx].astype(np.float64)
        if pop.kind == THRESHOLD_NODE:
            nodes[pop.name] = nir.Threshold(threshold=_f(alpha - 0.5))
        else:
            g = dep.reset_mode[c, idx]
            v_reset = np.where(g == 0, dep.reset_value[c, idx], np.where(g == 1, 0, dep.threshold[c, idx]))
            nodes[pop.name] = nir.IF(r=np.ones(idx.size, np.float32), v_threshold=_f(alpha - 0.5),
                                     v_reset=_f(v_reset))
        edges.append((f"{pop.name}_syn", pop.name))
    # input map and routes, into every population of the destination core
    for d, dpops in by_core.items():
        targets = [f"{p.name}_syn" for p in dpops]
        fed = False
        sel = dep.input_core == d
        routes_in = [p for p in pops if np.any(dep.dest_core[p.core, p.idx] == d)]
        if sel.any() or not routes_in:
            m = np.zeros((a_n, k_n), np.float32)
            m[dep.input_axon[sel], dep.input_channel[sel]] = 1
            name = f"input_to_core{d}"
            nodes[name] = nir.Linear(weight=m)
            edges.append(("input", name))
            edges += [(name, t) for t in targets]
            fed = True
        for src in routes_in:
            dc = dep.dest_core[src.core, src.idx]
            cols = np.flatnonzero(dc == d)
            m = np.zeros((a_n, src.idx.size), np.float32)
            m[dep.dest_axon[src.core, src.idx[cols]], cols] = 1
            name = f"{src.name}_to_core{d}"
            nodes[name] = nir.Linear(weight=m)
            edges.append((src.name, name))
            edges += [(name, t) for t in targets]
            fed = True
        assert fed
    # output map
    m_n = len(dep.output_core)
    opop = pop_of[dep.output_core, dep.output_neuron] if m_n else np.zeros(0, np.int64)
    opos = pos_of[dep.output_core, dep.output_neuron] if m_n else np.zeros(0, np.int64)
    if m_n == 0 or (opop < 0).all():
        raise ValueError("the deployment has no enabled output neuron: nothing for the NIR Output node to read")
    sources = {e[0] for e in edges}
    # pops that feed the Output, plus pops whose spikes go nowhere (NIR would give each leaf node an Output
    # of its own): those get an all-zero Linear into it
    feeding = [p for p in range(len(pops)) if np.any(opop == p) or pops[p].name not in sources]
    # one edge into Output: executors (nirtorch) return each input of Output separately instead of summing
    sink = "output" if len(feeding) == 1 else "output_sum"
    if sink != "output":
        nodes[sink] = nir.Linear(weight=np.eye(m_n, dtype=np.float32))
        edges.append((sink, "output"))
    for p in feeding:
        pop = pops[p]
        rows = np.flatnonzero(opop == p)
        if rows.size == m_n == pop.idx.size and np.array_equal(opos, np.arange(m_n)):
            edges.append((pop.name, "output"))
            continue
        m = np.zeros((m_n, pop.idx.size), np.float32)
        m[rows, opos[rows]] = 1
        name = f"{pop.name}_to_output"
        nodes[name] = nir.Linear(weight=m)
        edges += [(pop.name, name), (name, sink)]
    offsets = plan.depth[dep.output_core].astype(np.int64)
    nodes["output"] = nir.Output(
        output_type={"output": np.array([m_n])},
        metadata={"output_class": dep.output_class.astype(np.int64), "n_classes": np.int64(dep.n_classes),
                  "tick_offset": offsets},
    )
    meta: dict[str, Any] = {
        "generator": f"spikeforge {__version__}",
        "format": FORMAT_NAME,
        "format_version": np.int64(FORMAT_VERSION),
        "semantics": SEMANTICS,
        "chip": dep.chip.name,
        "exact": np.int64(plan.exact),
        "exact_for_ticks": np.int64(-1 if ticks is None else ticks),
        "latency": np.int64(offsets.max(initial=0)),
        "approximations": json.dumps([f.to_dict() for f in plan.features]),
        "spikeforge_export": json.dumps({"approximate": bool(approximate), "ticks": ticks}),
    }
    feed = {k: dep.provenance[k] for k in FEED_PROVENANCE if k in dep.provenance}
    if feed:  # how to feed the graph: the input encoding (and dataset) the deployment was built for
        meta["spikeforge_feed"] = json.dumps(feed)
    if embed:
        meta["spikeforge_deployment"] = _deployment_bytes(dep)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta), plan


def export_nir(
    dep: Deployment,
    path: str | os.PathLike[str],
    approximate: bool = False,
    *,
    ticks: int | None = None,
    embed: bool = True,
) -> NIRPlan:
    """Write ``dep`` as a NIR graph (HDF5) to ``path``, atomically; returns the :class:`NIRPlan` (whose
    ``features`` are the approximations made, empty when the graph is exact).

    Raises:
        NIRExportError: a feature has no exact NIR equivalent and ``approximate`` is false; the message names
            each feature and the cores that use it.
    """
    nir = _nir()

    graph, plan = _build(dep, approximate=approximate, ticks=ticks, embed=embed)
    path = Path(path)
    with atomic_output(path) as tmp:
        nir.write(tmp, graph)
    return plan


# ---------------------------------------------------------------------------------------------- helpers
def output_tick_offsets(graph: nir_t.NIRGraph) -> np.ndarray:
    """(M,) tick offset of each element of the graph's ``Output`` node (zeros if the graph does not say)."""
    nir = _nir()

    outs = [n for n in graph.nodes.values() if isinstance(n, nir.Output)]
    if len(outs) != 1:
        raise NIRImportError(f"expected one Output node, found {len(outs)}")
    size = int(np.prod(next(iter(outs[0].output_type.values()))))
    off = (outs[0].metadata or {}).get("tick_offset")
    return np.zeros(size, np.int64) if off is None else np.asarray(off, np.int64).reshape(-1)


def align_to_chip(nir_output: np.ndarray, offsets: np.ndarray, ticks: int) -> np.ndarray:
    """Shift a NIR run's output (B, S, M) onto the chip's tick axis: (B, ticks, M), element m of step s
    landing on tick ``s + offsets[m]`` (ticks before the offset stay 0, steps beyond ``ticks`` are dropped).

    Compare the result with :attr:`spikeforge.sim.SimResult.output_spikes` of a sequential run."""
    x = np.asarray(nir_output)
    b, s_n, m_n = x.shape
    out = np.zeros((b, ticks, m_n), x.dtype)
    for m in range(m_n):
        o = int(offsets[m])
        n = max(0, min(s_n, ticks - o))
        out[:, o : o + n, m] = x[:, :n, m]
    return out


# ---------------------------------------------------------------------------------------------- import
def _same_graph(a: nir_t.NIRGraph, b: nir_t.NIRGraph) -> bool:
    """Primitives and edges equal (metadata of the graph ignored; Output's class map compared)."""
    if set(a.nodes) != set(b.nodes) or set(map(tuple, a.edges)) != set(map(tuple, b.edges)):
        return False
    for name, na in a.nodes.items():
        nb = b.nodes[name]
        if type(na) is not type(nb):
            return False
        for attr in ("weight", "bias", "r", "v_threshold", "v_reset", "threshold"):
            va, vb = getattr(na, attr, None), getattr(nb, attr, None)
            if (va is None) != (vb is None):
                return False
            if va is not None and vb is not None and not np.array_equal(np.asarray(va, np.float64),
                                                                        np.asarray(vb, np.float64)):
                return False
        ma, mb = (na.metadata or {}).get("output_class"), (nb.metadata or {}).get("output_class")
        if (ma is None) != (mb is None) or (ma is not None and mb is not None and not np.array_equal(ma, mb)):
            return False
    return True


def _check_finite(graph: nir_t.NIRGraph) -> None:
    """Refuse a graph whose nodes hold NaN or infinite parameters, naming the node and the parameter: not even
    ``approximate=True`` can turn them into a chip's integers."""
    for name, node in graph.nodes.items():
        for attr, value in vars(node).items():
            if attr in ("input_type", "output_type", "metadata") or not isinstance(value, np.ndarray):
                continue
            if value.dtype.kind in "fc" and not np.isfinite(value).all():
                raise NIRImportError(f"node {name!r}: {attr} holds {int(np.sum(~np.isfinite(value)))} NaN or "
                                     "infinite value(s)")


def _int_array(x: np.ndarray, what: str, approximate: bool, notes: list[str]) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if not np.isfinite(x).all():  # not even approximate=True makes a number of NaN or infinity
        raise NIRImportError(f"{what} hold {int(np.sum(~np.isfinite(x)))} NaN or infinite value(s)")
    r = np.round(x)
    if not np.allclose(x, r, rtol=0, atol=1e-6):
        if not approximate:
            raise NIRImportError(f"{what} are not integers (the chip stores integers); --approximate / "
                                 "approximate=True rounds them")
        notes.append(f"{what} rounded to integers (max change {float(np.max(np.abs(x - r))):.3g})")
    return r.astype(np.int64)


_Expr = tuple[dict[str, np.ndarray], np.ndarray]


def _add(exprs: list[_Expr]) -> _Expr:
    terms: dict[str, np.ndarray] = {}
    bias: np.ndarray | None = None
    for t, b in exprs:
        for k, v in t.items():
            terms[k] = terms[k] + v if k in terms else v
        bias = b if bias is None else bias + b
    assert bias is not None
    return terms, bias



def _colour(
    lines: list[tuple[tuple[Any, ...], np.ndarray, bool]], s: np.ndarray, sset: np.ndarray, t_n: int,
    budget: int = 20000,
) -> list[int] | None:
    """Depth-first search for one axon type per line such that every neuron sees one value per type; fills
    ``s``/``sset`` and returns the types, or ``None`` if none is found within ``budget`` steps. Candidate types
    are tried best match first, so graphs that come from a chip (a valid typing exists) rarely backtrack."""
    cols = [(np.flatnonzero(col), col[np.flatnonzero(col)]) for _, col, _ in lines]
    choice: list[int] = []
    undo: list[np.ndarray] = []
    options: list[list[int]] = []
    steps = 0

    def candidates(i: int) -> list[int]:
        j, v = cols[i]
        ok = [t for t in range(t_n) if np.all(~sset[j, t] | (s[j, t] == v))]
        return sorted(ok, key=lambda t: (-int(np.sum(sset[j, t] & (s[j, t] == v))), t))

    if lines:
        options.append(candidates(0))
    while len(choice) < len(lines):
        steps += 1
        if steps > budget:
            return None
        i = len(choice)
        if not options[i]:
            options.pop()
            if not choice:
                return None
            t_prev = choice.pop()
            j_prev, _ = cols[len(choice)]
            new_rows = undo.pop()
            sset[j_prev[new_rows], t_prev] = False
            continue
        t = options[i].pop(0)
        j, v = cols[i]
        new_rows = ~sset[j, t]
        s[j, t], sset[j, t] = v, True
        choice.append(t)
        undo.append(new_rows)
        if len(choice) < len(lines):
            options.append(candidates(len(choice)))
    return choice


def _assign_types(
    lines: list[tuple[tuple[Any, ...], np.ndarray, bool]], n_rows: int, t_n: int, a_max: int, label: str
) -> tuple[np.ndarray, list[tuple[int, np.ndarray, tuple[Any, ...]]]]:
    """Give every input line of a core axons and axon types so that ``w_ij·s_j[G_i]`` reproduces its column.

    ``lines`` are (reference, column over the core's neurons, splittable). An unsplittable line (a neuron's
    one destination, or an explicit axon) takes one axon of one type: for every neuron it reaches, that type's
    weight must equal the column's value. A splittable line (an input channel, which the input map may fan
    out) takes one axon per type its values need. Greedy: unsplittable lines first, each on the type that
    already matches most of its values. Returns the (n_rows, T) per-type weights and (type, neurons, ref) per
    axon in axon order.
    """
    s = np.zeros((n_rows, t_n), np.int64)
    sset = np.zeros((n_rows, t_n), bool)
    fixed = sorted((x for x in lines if not x[2]), key=lambda x: -int(np.count_nonzero(x[1])))
    choice = _colour(fixed, s, sset, t_n)
    if choice is None:
        raise NIRImportError(
            f"cannot give the lines into {label} one axon type each: the neurons' weights need more than {t_n} "
            "distinct per-type values"
        )
    axons: list[tuple[int, np.ndarray, tuple[Any, ...]]] = [
        (t, np.flatnonzero(col), ref) for (ref, col, _), t in zip(fixed, choice, strict=True)
    ]
    for ref, col, _ in (x for x in lines if x[2]):
        j = np.flatnonzero(col)
        v = col[j]
        slot = np.empty(j.size, np.int64)
        for i, (jj, vv) in enumerate(zip(j, v, strict=True)):
            hit = np.flatnonzero(sset[jj] & (s[jj] == vv))
            if hit.size:
                slot[i] = hit[0]
                continue
            free = np.flatnonzero(~sset[jj])
            if not free.size:
                raise NIRImportError(f"neuron {jj} of {label} needs more than {t_n} distinct weight values")
            slot[i] = free[0]
            s[jj, free[0]], sset[jj, free[0]] = vv, True
        axons += [(int(t), j[slot == t], ref) for t in np.unique(slot)]
    if len(axons) > a_max:
        raise NIRImportError(f"{label} needs {len(axons)} axons, more than the core's {a_max}")
    return s, axons


def _assign_multibit(
    lines: list[tuple[tuple[Any, ...], np.ndarray, bool]], n_rows: int, core: Any, label: str
) -> tuple[np.ndarray, list[tuple[int, np.ndarray, tuple[Any, ...]]], list[np.ndarray]]:
    """On a multi-bit crossbar (e.g. the Loihi-like preset) every input line takes one axon of type 0 whose
    crossbar entries hold the column's values, with per-type weight s_j[0] = 1: ``w_ij·s_j[0]`` is the value
    itself. Returns the per-type weights, (type, neurons, ref) per axon and each axon's crossbar values."""
    s = np.zeros((n_rows, core.n_axon_types), np.int64)
    s[:, 0] = 1
    if core.weight_min > 1 or core.weight_max < 1:
        raise NIRImportError(f"{label}: the chip's per-type weights [{core.weight_min}, {core.weight_max}] "
                             "cannot hold 1, which a multi-bit crossbar's weights are scaled by")
    axons, values = [], []
    for ref, col, _ in lines:
        j = np.flatnonzero(col)
        v = np.asarray(col[j], np.int64)
        bad = (v < core.crossbar_min) | (v > core.crossbar_max)
        if bad.any():
            raise NIRImportError(f"{label}: weight {int(v[bad][0])} of neuron {int(j[bad][0])} is outside the "
                                 f"chip's crossbar range [{core.crossbar_min}, {core.crossbar_max}]")
        axons.append((0, j, ref))
        values.append(v)
    if len(axons) > core.n_axons:
        raise NIRImportError(f"{label} needs {len(axons)} axons, more than the core's {core.n_axons}")
    return s, axons, values


def _within(where: str, what: str, values: np.ndarray, lo: int, hi: int, chip: str) -> None:
    """Raise :class:`NIRImportError` if an integer parameter lies outside the chip's ``[lo, hi]``."""
    bad = (values < lo) | (values > hi)
    if bad.any():
        k = int(np.flatnonzero(bad.reshape(-1))[0])
        raise NIRImportError(f"{where}: {what} {int(values.reshape(-1)[k])} (entry {k}) is outside the range "
                             f"[{lo}, {hi}] of chip {chip!r}")


def nir_to_deployment(
    graph: nir_t.NIRGraph,
    chip: ChipSpec | str | None = None,
    *,
    approximate: bool = False,
    ticks: int | None = None,
    use_embedded: bool = True,
    source: str = "",
) -> Deployment:
    """Map a NIR graph onto a chip; see :func:`import_nir`."""
    nir = _nir()

    _check_finite(graph)
    meta = dict(graph.metadata or {})
    blob = meta.get("spikeforge_deployment")
    note: list[str] = []
    if use_embedded and blob is not None:
        from spikeforge.deploy import DeploymentFileError

        try:
            dep = _deployment_from_bytes(blob)
        except DeploymentFileError as e:  # name the graph, not the temporary file it was unpacked to
            detail = str(e).split(": ", 1)[-1]
            raise NIRImportError(f"{source or 'the graph'}: its embedded spikeforge deployment is unreadable "
                                 f"({detail}); the file is corrupt (import_nir(..., use_embedded=False) reads the "
                                 "graph's primitives alone)") from None
        if chip is None or (get_chip(chip) if isinstance(chip, str) else chip) == dep.chip:
            opts = json.loads(str(meta.get("spikeforge_export", "{}")))
            try:
                again = deployment_to_nir(dep, approximate=bool(opts.get("approximate")), ticks=opts.get("ticks"),
                                          embed=False)
            except (NIRExportError, ValueError):
                again = None
            if again is not None and _same_graph(graph, again):
                from spikeforge.hardware.rules import check

                check(dep)  # an embedded deployment obeys the same rules as an imported one
                return dep
            note.append("embedded deployment ignored: the graph's primitives differ from it (edited after export?)")
            warnings.warn(f"{source or 'the graph'}: the graph's primitives differ from the deployment embedded at "
                          "export, which is ignored: the graph was edited after export, or the file is corrupt (an "
                          "HDF5 file carries no checksum); importing the primitives", NIRImportWarning, stacklevel=3)
        else:
            note.append("embedded deployment ignored: a different chip was requested")
    spec = get_chip(chip or "truenorth") if not isinstance(chip, ChipSpec) else chip
    core = spec.core
    nodes, edges = graph.nodes, [tuple(e) for e in graph.edges]
    supported = (nir.Input, nir.Output, nir.Affine, nir.Linear, nir.Flatten, nir.IF, nir.Threshold)
    for name, node in nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise NIRImportError(f"node {name!r} is a sub-graph: flatten the graph before importing")
        if not isinstance(node, supported):
            raise NIRImportError(
                f"node {name!r} is a {type(node).__name__}: the chip's neuron has no equivalent; supported: "
                + ", ".join(t.__name__ for t in supported)
            )
    ins = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    outs = [k for k, v in nodes.items() if isinstance(v, nir.Output)]
    if len(ins) != 1 or len(outs) != 1:
        raise NIRImportError(
            f"expected one Input and one Output node, found {len(ins)} ({', '.join(ins)}) and {len(outs)} "
            f"({', '.join(outs)}); NIR gives a node with no incoming or no outgoing edge an Input or Output of its "
            "own, so an extra one usually means a missing edge")
    in_name, out_name = ins[0], outs[0]
    in_shape = tuple(int(s) for s in np.asarray(next(iter(nodes[in_name].input_type.values()))).reshape(-1))
    k_n = int(np.prod(in_shape)) if in_shape else 0
    preds: dict[str, list[str]] = defaultdict(list)
    for s, d in edges:
        if s not in nodes or d not in nodes:
            raise NIRImportError(f"edge {s!r} -> {d!r} names a missing node")
        preds[d].append(s)
    neuron_names = [k for k, v in nodes.items() if isinstance(v, nir.IF | nir.Threshold)]

    def size(name: str) -> int:
        node = nodes[name]
        arr = node.r if isinstance(node, nir.IF) else node.threshold
        return int(np.asarray(arr).size)

    # Linear nodes that only select input channels (0/1, at most one 1 per row): their rows are axons, kept
    # as such ("explicit" mode) so that an exported graph re-imports with its axon structure
    line_nodes: dict[str, np.ndarray] = {}
    for name, node in nodes.items():
        if isinstance(node, nir.Linear) and preds[name] == [in_name]:
            w = np.asarray(node.weight, np.float64)
            if w.ndim == 2 and np.isin(w, (0, 1)).all() and (w.sum(axis=1) <= 1).all():
                line_nodes[name] = np.where(w.any(axis=1), w.argmax(axis=1), -1)
    memo: dict[tuple[str, bool], _Expr] = {}

    def expr(name: str, stack: tuple[str, ...], explicit: bool) -> _Expr:
        node = nodes[name]
        if isinstance(node, nir.Input):
            return {name: np.eye(k_n)}, np.zeros(k_n)
        if isinstance(node, nir.IF | nir.Threshold):
            n = size(name)
            return {name: np.eye(n)}, np.zeros(n)
        if explicit and name in line_nodes:
            rows = line_nodes[name].size
            return {f"{name}#lines": np.eye(rows)}, np.zeros(rows)
        if (name, explicit) in memo:
            return memo[(name, explicit)]
        if name in stack:
            raise NIRImportError(f"cycle through linear nodes at {name!r}")
        terms, bias = input_of(name, (*stack, name), explicit)
        if isinstance(node, nir.Linear | nir.Affine):
            w = np.asarray(node.weight, np.float64)
            if w.ndim != 2:
                raise NIRImportError(f"node {name!r}: only 2-D weights are supported, got shape {w.shape}")
            terms = {k: w @ v for k, v in terms.items()}
            bias = w @ bias
            if isinstance(node, nir.Affine) and node.bias is not None:
                bias = bias + np.asarray(node.bias, np.float64).reshape(-1)
        memo[(name, explicit)] = (terms, bias)
        return memo[(name, explicit)]

    def input_of(name: str, stack: tuple[str, ...] = (), explicit: bool = False) -> _Expr:
        if not preds[name]:
            raise NIRImportError(f"node {name!r} has no input edge")
        return _add([expr(p, stack, explicit) for p in preds[name]])

    notes: list[str] = list(note)
    # neuron parameters
    inputs_of: dict[str, dict[str, np.ndarray]] = {}
    explicit_of: dict[str, dict[str, np.ndarray] | None] = {}
    par: dict[str, dict[str, np.ndarray]] = {}
    for name in neuron_names:
        node = nodes[name]
        n = size(name)
        terms, bias = input_of(name)
        eterms = input_of(name, explicit=True)[0] if line_nodes else None
        if isinstance(node, nir.IF):
            r = np.broadcast_to(np.asarray(node.r, np.float64).reshape(-1), (n,))
            terms = {k: r[:, None] * v for k, v in terms.items()}
            eterms = None if eterms is None else {k: r[:, None] * v for k, v in eterms.items()}
            bias = r * bias
        iterms = {k: _int_array(v, f"weights into {name!r} from {k!r}", approximate, notes) for k, v in terms.items()}
        if eterms is not None and all(np.allclose(v, np.round(v), rtol=0, atol=1e-6) for v in eterms.values()):
            explicit_of[name] = {k: np.round(v).astype(np.int64) for k, v in eterms.items()}
        else:
            explicit_of[name] = None
        lam = _int_array(bias, f"biases of {name!r}", approximate, notes)
        theta = np.asarray(node.v_threshold if isinstance(node, nir.IF) else node.threshold, np.float64).reshape(-1)
        if not np.isfinite(theta).all():
            raise NIRImportError(f"node {name!r} has {int(np.sum(~np.isfinite(theta)))} NaN or infinite threshold(s)")
        alpha = np.floor(np.broadcast_to(theta, (n,))).astype(np.int64) + 1  # v > θ ⇔ v ≥ ⌊θ⌋ + 1 on integers
        if isinstance(node, nir.IF):
            v_reset = np.broadcast_to(np.asarray(node.v_reset, np.float64).reshape(-1), (n,))
            rv = _int_array(v_reset, f"reset values of {name!r}", approximate, notes)
            if (alpha < 0).any():
                raise NIRImportError(f"IF node {name!r} has thresholds below -1: chip thresholds are >= 0")
            nonneg = lam >= 0
            for v in iterms.values():
                nonneg = nonneg & (v >= 0).all(axis=1)
            beta = np.where(nonneg, np.maximum(0, -rv), core.threshold_max)
            par[name] = {"alpha": alpha, "beta": beta, "gamma": np.zeros(n, np.int64), "reset": rv, "leak": lam}
        else:
            z = np.zeros(n, np.int64)
            par[name] = {"alpha": z, "beta": z, "gamma": z, "reset": z, "leak": lam - alpha}
        inputs_of[name] = iterms
    # order and cut into cores
    done: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise NIRImportError(f"recurrent graph (cycle through {name!r}): import supports feed-forward graphs")
        visiting.add(name)
        for src in inputs_of[name]:
            if src != in_name:
                visit(src)
        visiting.discard(name)
        done.append(name)

    for name in neuron_names:
        visit(name)
    n_per = core.n_neurons
    first_core: dict[str, int] = {}
    total = 0
    for name in done:
        first_core[name] = total
        total += -(-size(name) // n_per)
    if total == 0:
        raise NIRImportError("the graph has no IF or Threshold node")
    o_terms, o_bias = input_of(out_name)
    if in_name in o_terms or np.any(o_bias != 0):
        raise NIRImportError("the Output node reads the input or a bias directly; it must read neuron spikes")
    out_meta = dict(nodes[out_name].metadata or {})
    m_n = int(np.prod(next(iter(nodes[out_name].output_type.values()))))
    try:
        classes = np.asarray(out_meta.get("output_class", np.arange(m_n)), np.int64).reshape(-1)
        n_classes = int(out_meta.get("n_classes", int(classes.max(initial=-1)) + 1))
    except (TypeError, ValueError) as e:
        raise NIRImportError(f"the Output node's metadata 'output_class' / 'n_classes' are not integers: {e}") from None
    if classes.size != m_n:
        raise NIRImportError(f"the Output node's metadata 'output_class' has {classes.size} entries for its {m_n} "
                             "outputs")
    for q, t_mat in o_terms.items():
        if t_mat.shape[0] != m_n:
            raise NIRImportError(f"the Output node declares {m_n} outputs but reads {t_mat.shape[0]} from {q!r}")
    dep = Deployment.empty(spec, total, k_n, max(1, n_classes), ticks_per_input=1,
                           input_shape=in_shape if len(in_shape) > 1 else (),
                           provenance={"method": "nir-import", "source": source,
                                       "generator": str(meta.get("generator", "unknown")), **_feed(meta)})
    labels = []
    for name in done:
        n_cores = -(-size(name) // n_per)
        labels += [name if n_cores == 1 else f"{name}[{i}]" for i in range(n_cores)]
    dep.core_labels = labels

    def where(name: str, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return first_core[name] + j // n_per, j % n_per

    bounds = {"alpha": (0, core.threshold_max, "threshold"), "beta": (0, core.threshold_max, "negative threshold"),
              "reset": (core.reset_value_min, core.reset_value_max, "reset value"),
              "leak": (core.leak_min, core.leak_max, "leak (bias)")}
    for name in done:
        n = size(name)
        cs_, ss_ = where(name, np.arange(n))
        p = par[name]
        for key, (lo, hi, what) in bounds.items():  # in int64, before the chip's int32 arrays could wrap them
            _within(f"node {name!r}", what, np.asarray(p[key], np.int64), lo, hi, spec.name)
        dep.enabled[cs_, ss_] = True
        dep.threshold[cs_, ss_] = p["alpha"]
        dep.neg_threshold[cs_, ss_] = p["beta"]
        dep.reset_mode[cs_, ss_] = p["gamma"]
        dep.reset_value[cs_, ss_] = p["reset"]
        dep.leak[cs_, ss_] = p["leak"]
        dep.floor_mode[cs_, ss_] = 1
    # destinations: each source neuron may drive neurons of one core only
    dest_of: dict[str, np.ndarray] = {}
    for q in done:
        dest = np.full(size(q), -1, np.int64)
        for name in done:
            t = inputs_of[name].get(q)
            if t is None:
                continue
            rows_core = first_core[name] + np.arange(t.shape[0]) // n_per
            for col in np.flatnonzero((t != 0).any(axis=0)):
                cs = np.unique(rows_core[t[:, col] != 0])
                if cs.size > 1 or (dest[col] >= 0 and dest[col] != cs[0]):
                    raise NIRImportError(
                        f"neuron {col} of {q!r} drives neurons on more than one core; a chip neuron has one "
                        "destination (map the network with spikeforge's mapping, which inserts splitters)"
                    )
                dest[col] = cs[0]
        dest_of[q] = dest
    in_ch: list[int] = []
    in_core: list[int] = []
    in_ax: list[int] = []
    neuron_set = set(done)
    for name in done:
        n = size(name)
        for ci in range(-(-n // n_per)):
            c = first_core[name] + ci
            rows = np.arange(ci * n_per, min(n, (ci + 1) * n_per))
            attempts = [t for t in (explicit_of[name], inputs_of[name]) if t is not None]
            for i, terms in enumerate(attempts):
                lines: list[tuple[tuple[Any, ...], np.ndarray, bool]] = []
                for src, t_mat in terms.items():
                    block = t_mat[rows]
                    for col in np.flatnonzero((block != 0).any(axis=0)):
                        if src in neuron_set:
                            lines.append((("neuron", src, int(col)), block[:, col], False))
                        elif src == in_name:
                            lines.append((("channel", int(col)), block[:, col], True))
                        else:  # explicit input line: an axon reading one channel
                            ch = int(line_nodes[src.split("#")[0]][col])
                            if ch >= 0:
                                lines.append((("channel", ch), block[:, col], False))
                try:
                    if core.binary_crossbar:
                        s_tab, axons = _assign_types(lines, rows.size, core.n_axon_types, core.n_axons,
                                                     f"{name!r} (core {c})")
                        values = [np.ones(len(m), np.int64) for _, m, _ in axons]
                    else:
                        s_tab, axons, values = _assign_multibit(lines, rows.size, core, f"{name!r} (core {c})")
                    break
                except NIRImportError:
                    if i == len(attempts) - 1:
                        raise
            _within(f"node {name!r} (core {c})", "synaptic weight", np.asarray(s_tab, np.int64), core.weight_min,
                    core.weight_max, spec.name)
            dep.weights[c, : rows.size] = s_tab
            for ax, ((typ, members, ref), vals) in enumerate(zip(axons, values, strict=True)):
                dep.crossbar[c, ax, members] = vals
                dep.axon_type[c, ax] = typ
                if ref[0] == "neuron":
                    qc, qs = where(ref[1], np.array([ref[2]]))
                    dep.dest_core[qc, qs], dep.dest_axon[qc, qs], dep.dest_delay[qc, qs] = c, ax, 1
                else:
                    in_ch.append(int(ref[1]))
                    in_core.append(c)
                    in_ax.append(ax)
    dep.input_channel = np.asarray(in_ch, np.int32)
    dep.input_core = np.asarray(in_core, np.int32)
    dep.input_axon = np.asarray(in_ax, np.int32)
    entries: list[tuple[int, int, int, int]] = []
    for q, t_mat in o_terms.items():
        if not np.isin(t_mat, (0, 1)).all():
            raise NIRImportError(f"the Output node reads {q!r} with weights other than 0/1")
        for m, col in zip(*np.nonzero(t_mat), strict=True):
            qc, qs = where(q, np.array([col]))
            entries.append((int(m), int(qc[0]), int(qs[0]), int(classes[m])))
    entries.sort()
    out_arr = np.array(entries, np.int64).reshape(-1, 4)
    dep.output_core = out_arr[:, 1].astype(np.int32)
    dep.output_neuron = out_arr[:, 2].astype(np.int32)
    dep.output_class = out_arr[:, 3].astype(np.int32)
    dep = dep.normalised()
    dep.validate()
    from spikeforge.hardware.rules import check

    check(dep)
    plan = plan_nir(dep, ticks)
    if plan.features and not approximate:
        raise NIRExportError(list(plan.features), action="import")
    dep.provenance["nir_import"] = {"approximations": [f.to_dict() for f in plan.features], "notes": notes,
                                    "ticks": ticks}
    return dep


def import_nir(
    source: str | os.PathLike[str] | nir_t.NIRGraph,
    chip: ChipSpec | str | None = None,
    *,
    approximate: bool = False,
    ticks: int | None = None,
    use_embedded: bool = True,
) -> Deployment:
    """Read a NIR graph (file or ``nir.NIRGraph``) as a deployment.

    A graph written by :func:`export_nir` whose primitives are unchanged gives back the exported deployment
    exactly. Any other graph is mapped onto ``chip`` (default: the embedded deployment's chip, else
    ``"truenorth"``) as the module docstring describes, with route delays of 1 tick.

    Args:
        source: path of a ``.nir`` file or a graph.
        chip: chip preset (name or :class:`~spikeforge.hardware.spec.ChipSpec`).
        approximate: accept non-integer parameters (rounded) and graphs the chip reproduces only
            approximately (e.g. an ``IF`` fed negative weights, which the chip's floor can clip); recorded in
            ``provenance["nir_import"]``.
        ticks: claim exactness only for runs of at most this many ticks (as for :func:`export_nir`).
        use_embedded: return the embedded deployment when the graph still matches it.

    Raises:
        NIRImportError: unsupported nodes, non-integer values, fan-out to several cores, too many axons or
            weight values per neuron.
        NIRExportError: the chip would not reproduce the graph exactly and ``approximate`` is false.
        spikeforge.hardware.DesignRuleError: parameters outside the chip's ranges.
    """
    nir = _nir()

    if isinstance(source, nir.NIRGraph):
        return nir_to_deployment(source, chip, approximate=approximate, ticks=ticks, use_embedded=use_embedded)
    path = Path(source)
    if not path.is_file():
        raise NIRImportError(f"{path}: no such NIR file")
    from spikeforge.nirread import NIRReadError, read_graph

    try:
        graph = read_graph(path)  # in a child process: a damaged HDF5 file can hang the library
    except NIRReadError as e:
        raise NIRImportError(str(e)) from None
    return nir_to_deployment(graph, chip, approximate=approximate, ticks=ticks, use_embedded=use_embedded,
                             source=str(path))


# ---------------------------------------------------------------------------------------------- command helpers
def export_nir_file(
    deployment: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    approximate: bool = False,
    ticks: int | None = None,
    embed: bool = True,
) -> dict[str, Any]:
    """``spikeforge export-nir``: read a ``.sfd`` file, write ``out`` and return a JSON-ready summary
    (``path``, ``exact``, ``exact_for_ticks``, ``approximations``, ``nodes``, ``tick_offsets``)."""
    from spikeforge.deploy.io import load

    dep = load(deployment)
    plan = export_nir(dep, out, approximate=approximate, ticks=ticks, embed=embed)
    offsets = plan.depth[dep.output_core] if len(dep.output_core) else np.zeros(0, np.int64)
    return {
        "path": str(out),
        "exact": plan.exact,
        "exact_for_ticks": ticks,
        "approximations": [f.to_dict() for f in plan.features],
        "nodes": {"IF": int((plan.kind == IF_NODE).sum()), "Threshold": int((plan.kind == THRESHOLD_NODE).sum())},
        "tick_offsets": sorted({int(o) for o in offsets}),
    }


def import_nir_file(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    chip: str | None = None,
    approximate: bool = False,
    ticks: int | None = None,
) -> dict[str, Any]:
    """``spikeforge import-nir``: read a NIR file, save the deployment to ``out`` (default: the input with the
    suffix ``.sfd``) and return a JSON-ready summary (``path``, ``summary``, ``from_embedded``, ``notes``,
    ``approximations``)."""
    from spikeforge.deploy.io import save

    dep = import_nir(source, chip, approximate=approximate, ticks=ticks)
    path = Path(out) if out is not None else Path(source).with_suffix(".sfd")
    save(dep, path)
    info = dep.provenance.get("nir_import", {})
    return {
        "path": str(path),
        "summary": dep.summary(),
        "from_embedded": not (dep.provenance.get("method") == "nir-import"
                              and dep.provenance.get("source") == str(source)),
        "notes": list(info.get("notes", [])),
        "approximations": list(info.get("approximations", [])),
    }
