"""Compile a network of binary neurons (:mod:`spikeforge.mapping.ir`) onto TrueNorth-class cores.

See ``docs/mapping.md``. In short:

* **Weight encoding.** On a binary crossbar, each input a core needs arrives on ``k`` axons of types
  0..k−1 (k = the layer's number of *axon copies*). Each neuron j holds per-type weights s_j[0..k−1]:
  if the neuron uses at most k distinct non-zero weight values they are s_j's entries and every input
  connects to the one axon of its value's type (trinary weights: k = 2, s = (+1, −1)); otherwise, with
  4 types, s_j = m·(1, 2, 4, −8) and an input of weight m·q connects to the axons of q's two's-complement
  bits (any integer in m·[−8, 7]). A multi-bit crossbar (Loihi-like preset) stores W directly (k = 1).
* **Splitting.** Neurons are packed greedily into cores, in an order that keeps neurons sharing inputs
  together (conv layers: group → spatial block → position → channel; several block sizes are tried and
  the one needing fewest cores kept), subject to ``neurons ≤ n_neurons`` and ``k · |inputs| ≤ n_axons``.
  Inputs with zero weight are not connected (they cost no axon).
* **Duplication.** A neuron has one destination axon, so a neuron whose output feeds a axons (over all
  destination cores and axon copies) is placed a times (copies share the same inputs, weights and
  threshold). Layers are partitioned from last to first so every layer knows how many copies to make.
* **Thresholds.** Memoryless neurons: α = 0, β = 0, κ = 1, γ = 0, R = 0, λ = −θ; the neuron spikes iff
  Σ + λ ≥ 0 ⇔ Σ ≥ θ and its potential is 0 again after every tick. θ is first clamped to
  [Σmin, Σmax + 1] (the sums the neuron can reach), which does not change its function.
* **Delays.** Every route has delay 1: layer ℓ (0-based) spikes at tick t + ℓ for an input presented at
  t; every core has one depth, so the deployment is layer-synchronous and pipelines one input per tick.
* **Placement.** Cores are numbered layer by layer and laid along a Hilbert curve of each chip's mesh
  (square power-of-two meshes; serpentine otherwise), so consecutive cores, and consecutive layers, are
  near each other; past ``cores_per_chip`` the next chip is used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from spikeforge.deploy.deployment import Deployment
from spikeforge.hardware.rules import check
from spikeforge.hardware.spec import ChipSpec, get_chip
from spikeforge.mapping.ir import Conv2d, Layer, Network, connections

__all__ = [
    "CoreCountError",
    "FanInError",
    "LayerReport",
    "MappingError",
    "MappingReport",
    "ThresholdRangeError",
    "WeightEncodingError",
    "compile_network",
    "mesh_order",
]


class MappingError(ValueError):
    """A network cannot be mapped onto the chip; ``layer`` and ``rule`` name what failed."""

    def __init__(self, layer: str, rule: str, message: str) -> None:
        self.layer = layer
        self.rule = rule
        super().__init__(f"[{rule}] layer {layer!r}: {message}")


class FanInError(MappingError):
    """A neuron needs more axons than a core has (fan-in × axon copies > n_axons)."""


class WeightEncodingError(MappingError):
    """A neuron's weights cannot be expressed with the core's axon types / weight ranges."""


class ThresholdRangeError(MappingError):
    """A threshold falls outside what a memoryless neuron can hold (λ = −θ within the leak range)."""


class CoreCountError(MappingError):
    """The network needs more cores than allowed (``max_cores`` or max_chips × cores per chip)."""


@dataclass
class LayerReport:
    """Mapping figures of one layer.

    Attributes:
        name, kind: the IR layer's name and class.
        neurons: IR neurons; placed: neurons placed on cores (copies included); duplication = placed / used
            neurons (used: neurons with at least one copy).
        cores: cores the layer occupies; first_core: index of its first core (cores are contiguous).
        axon_copies: k, axons per input per core; fan_in_max: largest number of non-zero inputs of a neuron.
        axons_used, neurons_used: summed over the layer's cores; *_utilisation = used / (cores × capacity).
        depth: tick offset of the layer's spikes relative to the input tick.
    """

    name: str
    kind: str
    neurons: int
    used_neurons: int
    placed: int
    duplication: float
    cores: int
    first_core: int
    axon_copies: int
    fan_in_max: int
    axons_used: int
    neurons_used: int
    axon_utilisation: float
    neuron_utilisation: float
    depth: int
    order: str


@dataclass
class MappingReport:
    """What :func:`compile_network` decided. ``copies[l]`` = (neuron, core, slot) int64 arrays: IR neuron
    ``neuron[p]`` of layer ``l`` is placed at neuron ``slot[p]`` of core ``core[p]`` (one row per copy)."""

    chip: str
    layers: list[LayerReport]
    cores: int
    chips: int
    latency_ticks: int
    mean_hops: float
    copies: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(repr=False, default_factory=list)

    @property
    def cores_per_layer(self) -> list[int]:
        return [lr.cores for lr in self.layers]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (without the copy tables)."""
        return {"chip": self.chip, "cores": self.cores, "chips": self.chips, "latency_ticks": self.latency_ticks,
                "mean_hops": self.mean_hops, "layers": [asdict(lr) for lr in self.layers]}

    def format(self) -> str:
        """A plain-text table, one line per layer."""
        head = (f"{'layer':<12}{'kind':<8}{'neurons':>9}{'placed':>9}{'dup':>6}{'cores':>7}{'k':>3}{'fan-in':>7}"
                f"{'axon%':>7}{'neur%':>7}{'depth':>6}")
        rows = [head]
        for lr in self.layers:
            rows.append(f"{lr.name:<12}{lr.kind:<8}{lr.neurons:>9}{lr.placed:>9}{lr.duplication:>6.2f}{lr.cores:>7}"
                        f"{lr.axon_copies:>3}{lr.fan_in_max:>7}{100 * lr.axon_utilisation:>7.1f}"
                        f"{100 * lr.neuron_utilisation:>7.1f}{lr.depth:>6}")
        rows.append(f"total: {self.cores} cores on {self.chips} chip(s) of {self.chip}, latency {self.latency_ticks} "
                    f"ticks, mean {self.mean_hops:.2f} hops per route")
        return "\n".join(rows)

    def layer_spikes(self, raster: np.ndarray, layer: int) -> np.ndarray:
        """Spikes of every copy of ``layer``'s neurons from a simulator raster (ticks, C, N, B), read at the
        layer's depth: (B, P) bool, column p = copy p of :attr:`copies` ``[layer]``."""
        _, core, slot = self.copies[layer]
        return raster[self.layers[layer].depth][core, slot].T


# ---------------------------------------------------------------------------------------------- encoding
@dataclass
class _Encoding:
    k: int  # axon copies per input
    s: np.ndarray  # (n_out, T) per-type weights
    # for every (neuron, entry f): bit mask of the axon types the entry connects to
    types: np.ndarray  # (n_out, F) uint8
    crossbar_values: np.ndarray | None  # multi-bit crossbar: (n_out, F) values; None on a binary crossbar


def _encode(layer: Layer, w: np.ndarray, chip: ChipSpec) -> _Encoding:
    core = chip.core
    n_out = w.shape[0]
    t = core.n_axon_types
    s = np.zeros((n_out, t), np.int64)
    if not core.binary_crossbar:
        bad = (w < core.crossbar_min) | (w > core.crossbar_max)
        if bad.any():
            o = int(np.argwhere(bad)[0][0])
            raise WeightEncodingError(layer.name, "CROSSBAR-RANGE",
                                      f"neuron {o} has weight {int(w[bad][0])} outside the crossbar range "
                                      f"[{core.crossbar_min}, {core.crossbar_max}]")
        s[:, 0] = 1
        if not core.weight_min <= 1 <= core.weight_max:
            raise WeightEncodingError(layer.name, "WEIGHT-RANGE", "per-type weight 1 outside the chip's range")
        return _Encoding(1, s, (w != 0).astype(np.uint8), w)
    # binary crossbar: distinct non-zero values per neuron
    srt = np.sort(np.where(w == 0, np.iinfo(np.int64).max, w), axis=1)
    valid = srt != np.iinfo(np.int64).max
    distinct = valid & np.concatenate([np.ones((n_out, 1), bool), srt[:, 1:] != srt[:, :-1]], axis=1)
    n_distinct = distinct.sum(axis=1)
    d_max = int(n_distinct.max(initial=0))
    types = np.zeros(w.shape, np.uint8)
    if d_max <= 1:  # one value per neuron (e.g. pooling): k = 1, s_j[0] = that value
        k = 1
        s[:, 0] = np.where(valid[:, 0], srt[:, 0], 1)
        types = (w != 0).astype(np.uint8)
    elif d_max == 2 and t >= 2 and np.all(np.abs(w) <= 1):  # trinary: s = (+1, −1) everywhere
        k = 2
        s[:, 0], s[:, 1] = 1, -1
        types = ((w > 0) * 1 + (w < 0) * 2).astype(np.uint8)
    elif d_max <= t:
        k = max(1, d_max)
        for o in range(n_out):
            vals = srt[o][distinct[o]]
            # conventional order: positive values first (trinary: s = (+1, −1))
            vals = np.concatenate([vals[vals > 0], vals[vals < 0][::-1]])
            s[o, : len(vals)] = vals
            if len(vals):
                pos = np.searchsorted(np.sort(vals), w[o])
                order = np.argsort(vals)
                type_of = order[np.clip(pos, 0, len(vals) - 1)]
                types[o] = np.where(w[o] != 0, 1 << type_of, 0).astype(np.uint8)
    elif t >= 4:
        k = 4
        for o in range(n_out):
            nz = w[o][w[o] != 0]
            m = int(np.gcd.reduce(np.abs(nz)))
            q = w[o] // m
            if q.min() < -8 or q.max() > 7:
                raise WeightEncodingError(
                    layer.name, "WEIGHT-LEVELS",
                    f"neuron {o} uses {int(n_distinct[o])} distinct weights, more than the {t} axon types, and "
                    f"they are not multiples of one step m within m·[-8, 7] (4 types as m·(1, 2, 4, -8)); "
                    f"values {np.unique(nz)[:12].tolist()}")
            s[o, :4] = (m, 2 * m, 4 * m, -8 * m)
            types[o] = (q % 16).astype(np.uint8)
            types[o][q == 0] = 0
    else:
        o = int(np.argmax(n_distinct))
        raise WeightEncodingError(layer.name, "WEIGHT-LEVELS",
                                  f"neuron {o} uses {int(n_distinct[o])} distinct non-zero weights but a core has "
                                  f"only {t} axon types")
    bad = (s < core.weight_min) | (s > core.weight_max)
    if bad.any():
        o = int(np.argwhere(bad)[0][0])
        raise WeightEncodingError(layer.name, "WEIGHT-RANGE",
                                  f"neuron {o} needs per-type weights {s[o].tolist()}, outside "
                                  f"[{core.weight_min}, {core.weight_max}]")
    return _Encoding(k, s, types, None)


# ---------------------------------------------------------------------------------------------- ordering
def _orders(layer: Layer, out_shape: tuple[int, ...]) -> list[tuple[str, np.ndarray]]:
    """Candidate neuron orders for greedy packing."""
    n = int(np.prod(out_shape))
    if not isinstance(layer, Conv2d):
        return [("natural", np.arange(n))]
    co, ho, wo = out_shape
    g = layer.groups
    cog = co // g
    cands: list[tuple[str, np.ndarray]] = []
    blocks = sorted({(min(b, ho), min(b, wo)) for b in (1, 2, 4, 8, max(ho, wo))})
    ids = np.arange(n).reshape(g, cog, ho, wo)
    gg, cc, yy, xx = (a.ravel() for a in np.meshgrid(np.arange(g), np.arange(cog), np.arange(ho), np.arange(wo),
                                                      indexing="ij"))
    for bh, bw in blocks:
        # key (most significant last): group, block row, block col, row in block, col in block, channel
        key = np.lexsort((cc, xx % bw, yy % bh, xx // bw, yy // bh, gg))
        cands.append((f"block{bh}x{bw}", ids.ravel()[key]))
    # channel-major inside blocks of the whole map (one filter's positions together)
    cands.append(("channel-major", np.arange(n)))
    return cands


def _pack(
    order: np.ndarray, inputs: list[np.ndarray], copies: np.ndarray, k: int, n_axons: int, n_neurons: int,
    n_in: int, layer_name: str, synapses: np.ndarray | None = None, syn_cap: int | None = None,
) -> list[tuple[list[tuple[int, int]], np.ndarray]]:
    """Greedy packing. Returns cores as ([(neuron, n_copies), ...], sorted input ids).

    ``synapses[o]``: crossbar entries one copy of neuron o uses; with ``syn_cap`` (multi-bit chips with a
    synaptic-memory budget) a core's copies may use at most ``syn_cap`` entries in total."""
    cap_in = n_axons // k
    mark = np.zeros(n_in, bool)
    cores: list[tuple[list[tuple[int, int]], np.ndarray]] = []
    cur: list[tuple[int, int]] = []
    cur_in: list[np.ndarray] = []
    n_cur_in = 0
    used = 0
    syn_used = 0

    def close() -> None:
        nonlocal cur, cur_in, n_cur_in, used, syn_used
        if cur:
            ins = np.unique(np.concatenate(cur_in)) if cur_in else np.zeros(0, np.int64)
            mark[ins] = False
            cores.append((cur, ins))
        cur, cur_in, n_cur_in, used, syn_used = [], [], 0, 0, 0

    for o in order:
        c = int(copies[o])
        if c == 0:
            continue
        s = inputs[o]
        if len(s) > cap_in:
            raise FanInError(layer_name, "FAN-IN",
                             f"neuron {int(o)} has {len(s)} non-zero inputs x {k} axon copies = {len(s) * k} axons, "
                             f"more than the {n_axons} axons of a core; split the layer into groups with a "
                             f"smaller patch (fan-in <= {cap_in})")
        syn = int(synapses[o]) if synapses is not None and syn_cap is not None else 0
        if syn_cap is not None and syn > syn_cap:
            raise FanInError(layer_name, "SYNAPSE-MEMORY",
                             f"neuron {int(o)} needs {syn} synapses, more than a core's synaptic memory holds "
                             f"({syn_cap})")
        while c > 0:
            new = s[~mark[s]]
            room = n_neurons - used
            if syn:
                room = min(room, (int(syn_cap) - syn_used) // syn)  # type: ignore[arg-type]
            if room <= 0 or n_cur_in + len(new) > cap_in:
                close()
                new = s
                room = n_neurons if not syn else min(n_neurons, int(syn_cap) // syn)  # type: ignore[arg-type]
            take = min(c, room)
            mark[new] = True
            n_cur_in += len(new)
            if len(new):
                cur_in.append(new)
            cur.append((int(o), take))
            used += take
            syn_used += take * syn
            c -= take
    close()
    return cores


# ---------------------------------------------------------------------------------------------- placement
def _hilbert_d2xy(n: int, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros_like(d)
    y = np.zeros_like(d)
    t = d.copy()
    s = 1
    while s < n:
        rx = 1 & (t // 2)
        ry = 1 & (t ^ rx)
        swap = ry == 0
        flip = swap & (rx == 1)
        x = np.where(flip, s - 1 - x, x)
        y = np.where(flip, s - 1 - y, y)
        x, y = np.where(swap, y, x), np.where(swap, x, y)
        x = x + s * rx
        y = y + s * ry
        t = t // 4
        s *= 2
    return x, y


def mesh_order(rows: int, cols: int) -> np.ndarray:
    """(rows·cols, 2) mesh positions (row, col) in placement order: a Hilbert curve when the mesh is square
    with a power-of-two side, else a serpentine; consecutive positions are always mesh neighbours."""
    if rows == cols and rows & (rows - 1) == 0:
        x, y = _hilbert_d2xy(rows, np.arange(rows * cols))
        return np.stack([y, x], axis=1).astype(np.int64)
    r = np.repeat(np.arange(rows), cols)
    c = np.tile(np.arange(cols), rows)
    c = np.where(r % 2 == 1, cols - 1 - c, c)
    return np.stack([r, c], axis=1).astype(np.int64)


# ---------------------------------------------------------------------------------------------- compiler
def compile_network(
    net: Network,
    chip: ChipSpec | str = "truenorth",
    *,
    max_cores: int | None = None,
    keep_unused: bool = False,
    provenance: dict[str, Any] | None = None,
) -> tuple[Deployment, MappingReport]:
    """Map ``net`` onto cores of ``chip``; the deployment passes every design rule.

    Args:
        net: the network (see :mod:`spikeforge.mapping.ir`).
        chip: chip preset or its name.
        max_cores: refuse (``CoreCountError``) a mapping with more cores (default: max_chips × cores per chip).
        keep_unused: also place neurons no later layer reads (and last-layer neurons with class −1), with
            no destination — so that every IR neuron can be observed in a simulator raster (tests).
        provenance: stored in the deployment.

    Raises:
        MappingError (FanInError, WeightEncodingError, ThresholdRangeError, CoreCountError) naming the layer
        and the rule; :class:`~spikeforge.hardware.rules.DesignRuleError` never (it would be a compiler bug).
    """
    spec = get_chip(chip) if isinstance(chip, str) else chip
    core = spec.core
    shapes = net.shapes()
    n_layers = len(net.layers)
    conns = [connections(layer, shapes[i]) for i, layer in enumerate(net.layers)]
    encs = [_encode(layer, conns[i][1], spec) for i, layer in enumerate(net.layers)]

    # thresholds → leak (memoryless neuron, α = 0)
    leaks: list[np.ndarray] = []
    for i, layer in enumerate(net.layers):
        w = conns[i][1]
        lo = np.where(w < 0, w, 0).sum(axis=1)
        hi = np.where(w > 0, w, 0).sum(axis=1)
        thr = layer.threshold
        if isinstance(layer, Conv2d):  # one threshold per filter, shared by its positions
            thr = np.repeat(thr, int(np.prod(shapes[i + 1][1:])))
        theta = np.clip(thr, lo, hi + 1)
        lam = -theta
        bad = (lam < core.leak_min) | (lam > core.leak_max)
        if bad.any():
            o = int(np.flatnonzero(bad)[0])
            raise ThresholdRangeError(
                layer.name, "THRESHOLD-RANGE",
                f"neuron {o} has threshold {int(thr[o])} (reachable sums [{int(lo[o])}, {int(hi[o])}]); a "
                f"memoryless neuron (α = 0) needs λ = -θ in [{core.leak_min}, {core.leak_max}] "
                f"({int(bad.sum())} neuron(s) affected)")
        leaks.append(lam.astype(np.int64))

    # per-neuron sorted non-zero inputs
    inputs: list[list[np.ndarray]] = []
    for idx, _ in conns:  # a row never lists an input twice (conv and dense alike)
        srt = np.sort(idx, axis=1)
        start = (srt < 0).sum(axis=1)
        inputs.append([srt[o, start[o] :] for o in range(len(srt))])

    # crossbar entries per copy of each neuron (for chips with a synaptic-memory budget)
    syn_cap = None if core.synapse_memory_bits is None else core.synapse_memory_bits // core.crossbar_bits
    synapses = []
    for enc in encs:
        bits = enc.types.astype(np.int64)
        pop = sum((bits >> g) & 1 for g in range(8))
        synapses.append(np.asarray(pop).sum(axis=1) if np.ndim(pop) else np.zeros(len(bits), np.int64))

    cls = net.class_of_output_neuron
    n_last = len(cls)
    copies = (cls >= 0).astype(np.int64)
    if keep_unused:
        copies = np.ones(n_last, np.int64)
    dests: list[list[list[tuple[int, int]]] | None] = [None] * n_layers  # per neuron: [(local core, axon)]
    packed: list[list[tuple[list[tuple[int, int]], np.ndarray]]] = [[] for _ in range(n_layers)]
    order_used = [""] * n_layers
    input_demands: list[list[tuple[int, int]]] = []
    for li in range(n_layers - 1, -1, -1):
        layer = net.layers[li]
        n_in = int(np.prod(shapes[li]))
        enc = encs[li]
        best: list[tuple[list[tuple[int, int]], np.ndarray]] | None = None
        for oname, order in _orders(layer, shapes[li + 1]):
            cand = _pack(order, inputs[li], copies, enc.k, core.n_axons, core.n_neurons, n_in, layer.name,
                         synapses[li], syn_cap)
            if best is None or len(cand) < len(best):
                best, order_used[li] = cand, oname
        assert best is not None
        packed[li] = best
        # demands on the layer's inputs: every (local core, axon) that needs input u
        demands: list[list[tuple[int, int]]] = [[] for _ in range(n_in)]
        for ci, (_, ins) in enumerate(best):
            for p, u in enumerate(ins.tolist()):
                for g in range(enc.k):
                    demands[u].append((ci, p * enc.k + g))
            if len(ins) == 0 and n_in:
                # a core with no synapses (its neurons are constant) still gets one input spike route, to an
                # axon with an empty crossbar row: it anchors the core at its layer's depth for pipelining
                demands[0].append((ci, 0))
        if li == 0:
            input_demands = demands
        else:
            copies = np.array([len(d) for d in demands], np.int64)
            if keep_unused:
                copies = np.maximum(copies, 1)
            dests[li - 1] = demands

    # core numbering and limits
    counts = [len(p) for p in packed]
    first = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    total = int(first[-1])
    cap = spec.cores_per_chip * spec.max_chips if max_cores is None else max_cores
    if total > cap:
        worst = int(np.argmax(counts))
        raise CoreCountError(net.layers[worst].name, "CORE-COUNT",
                             f"the network needs {total} cores (per layer: "
                             f"{dict(zip([lay.name for lay in net.layers], counts, strict=True))}), more than the "
                             f"{cap} allowed; the largest layer is named")

    prov = {"mapping": "spikeforge.mapping.compile_network", **(provenance or {})}
    dep = Deployment.empty(spec, total, net.n_inputs, net.n_classes, ticks_per_input=1,
                           input_shape=net.input_shape, provenance=prov)
    order = mesh_order(spec.mesh_rows, spec.mesh_cols)
    cidx = np.arange(total)
    per = spec.cores_per_chip
    dep.placement = np.stack([cidx // per, order[cidx % per, 0], order[cidx % per, 1]], axis=1).astype(np.int32)

    copy_tables: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    out_core: list[int] = []
    out_neuron: list[int] = []
    out_class: list[int] = []
    labels: list[str] = []
    layer_reports: list[LayerReport] = []
    for li, layer in enumerate(net.layers):
        enc = encs[li]
        idx, _ = conns[li]
        lam = leaks[li]
        k = enc.k
        n_out = idx.shape[0]
        dest_list = dests[li]
        next_copy = np.zeros(n_out, np.int64)
        tab_n: list[int] = []
        tab_c: list[int] = []
        tab_s: list[int] = []
        axons_used = 0
        for ci, (members, ins) in enumerate(packed[li]):
            c = int(first[li] + ci)
            labels.append(f"{layer.name}[{ci}]")
            pos = np.full(int(np.prod(shapes[li])), -1, np.int64)
            pos[ins] = np.arange(len(ins))
            axons_used += len(ins) * k
            for g in range(k):
                dep.axon_type[c, g : len(ins) * k : k] = g
            slot = 0
            for o, m in members:
                row = idx[o]
                nz = row >= 0
                base = pos[row[nz]] * k
                if enc.crossbar_values is not None:
                    cb_axons, cb_vals = base, enc.crossbar_values[o][nz]
                else:
                    tbits = enc.types[o][nz]
                    hits = [(tbits >> g) & 1 == 1 for g in range(k)]
                    cb_axons = np.concatenate([base[h] + g for g, h in enumerate(hits)])
                    cb_vals = np.ones(len(cb_axons), np.int64)
                slots = np.arange(slot, slot + m)
                dep.crossbar[c, cb_axons[:, None], slots[None, :]] = cb_vals[:, None]
                dep.weights[c, slot : slot + m, :] = enc.s[o]
                dep.leak[c, slot : slot + m] = lam[o]
                dep.enabled[c, slot : slot + m] = True
                if dest_list is not None:
                    avail = dest_list[o][next_copy[o] : next_copy[o] + m]
                    if avail:
                        arr = np.asarray(avail, np.int64)
                        na = len(arr)
                        dep.dest_core[c, slot : slot + na] = first[li + 1] + arr[:, 0]
                        dep.dest_axon[c, slot : slot + na] = arr[:, 1]
                        dep.dest_delay[c, slot : slot + na] = 1
                elif li == n_layers - 1 and cls[o] >= 0:
                    out_core.extend([c] * m)
                    out_neuron.extend(slots.tolist())
                    out_class.extend([int(cls[o])] * m)
                next_copy[o] += m
                tab_n.extend([o] * m)
                tab_c.extend([c] * m)
                tab_s.extend(slots.tolist())
                slot += m
        copy_tables.append((np.array(tab_n, np.int64), np.array(tab_c, np.int64), np.array(tab_s, np.int64)))
        placed = len(tab_n)
        used_neurons = len(set(tab_n))
        ncores = counts[li]
        fan = max((len(s) for s in inputs[li]), default=0)
        layer_reports.append(LayerReport(
            name=layer.name, kind=type(layer).__name__, neurons=n_out, used_neurons=used_neurons, placed=placed,
            duplication=placed / used_neurons if used_neurons else 0.0, cores=ncores, first_core=int(first[li]),
            axon_copies=k, fan_in_max=fan, axons_used=axons_used, neurons_used=placed,
            axon_utilisation=axons_used / (ncores * core.n_axons) if ncores else 0.0,
            neuron_utilisation=placed / (ncores * core.n_neurons) if ncores else 0.0,
            depth=li, order=order_used[li]))

    # input map
    ch, ic, ia = [], [], []
    for u, dl in enumerate(input_demands):
        for ci, ax in dl:
            ch.append(u)
            ic.append(int(first[0] + ci))
            ia.append(ax)
    dep.input_channel = np.array(ch, np.int32)
    dep.input_core = np.array(ic, np.int32)
    dep.input_axon = np.array(ia, np.int32)
    dep.output_core = np.array(out_core, np.int32)
    dep.output_neuron = np.array(out_neuron, np.int32)
    dep.output_class = np.array(out_class, np.int32)
    dep.core_labels = labels
    dep = dep.normalised()
    check(dep)

    routed = dep.enabled & (dep.dest_core >= 0)
    if routed.any():
        src = np.repeat(np.arange(total), core.n_neurons).reshape(total, -1)[routed]
        dst = dep.dest_core[routed]
        pl = dep.placement.astype(np.int64)
        hops = np.abs(pl[src, 1] - pl[dst, 1]) + np.abs(pl[src, 2] - pl[dst, 2])
        hops = hops + np.where(pl[src, 0] == pl[dst, 0], 0, spec.mesh_rows + spec.mesh_cols)
        mean_hops = float(hops.mean())
    else:
        mean_hops = 0.0
    report = MappingReport(chip=spec.name, layers=layer_reports, cores=total, chips=dep.n_chips,
                           latency_ticks=n_layers - 1, mean_hops=mean_hops, copies=copy_tables)
    return dep, report
