"""Map an integer :class:`SpikingNet` onto TrueNorth-class cores (docs/methods/layerwise.md, "Mapping").

* Every neuron becomes a TrueNorth neuron with linear reset (γ = 1), no leak, threshold α, V0 = its bias,
  negative threshold β = threshold_max with saturation (κ = 1), delay 1 to the next stage.
* **Packing.** Each :class:`AxonSet` (neurons sharing virtual axons) is cut into chunks that fit a core's
  neurons (counting duplicates) and synaptic memory; chunks are packed next-fit into cores while the union
  of their axons fits ``n_axons``. Every core receives all virtual axons of the sets it holds.
* **Duplication.** A neuron has one destination axon; a neuron read by d (core, axon) slots of the next
  stage is placed d times on its core (copies read the same axons through the crossbar, so they spike
  identically). Stages are packed last to first so every stage knows its fan-out.
* **Placement.** Cores in stage order along :func:`spikeforge.mapping.mesh_order` of each chip.

Stateful rate-coded neurons are outside :mod:`spikeforge.mapping` (memoryless binary neurons only); this
module is the part that should move there once the compiler accepts per-neuron (α, V0, γ, β) parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeforge.deploy.deployment import Deployment
from spikeforge.hardware.spec import ChipSpec, get_chip
from spikeforge.mapping import mesh_order
from spikeforge.methods.layerwise.network import SpikingNet


class LayerwiseMappingError(ValueError):
    """The converted network does not fit the chip's cores."""


@dataclass
class _Core:
    vaxons: list[int]
    vaxon_set: set[int]
    neurons: list[tuple[int, int]]  # (neuron id, replica index)
    synapse_bits: int


def _pack_stage(net: SpikingNet, k: int, dup: np.ndarray, chip: ChipSpec) -> list[_Core]:
    st = net.stages[k]
    assert st.hw is not None
    core = chip.core
    bits_per = core.crossbar_bits
    budget = core.synapse_memory_bits
    cores: list[_Core] = []
    cur: _Core | None = None
    for aset in st.hw.sets:
        vax = [int(v) for v in aset.vaxons]
        if len(vax) > core.n_axons:
            raise LayerwiseMappingError(f"stage {st.name}: an axon set needs {len(vax)} axons > {core.n_axons}")
        nnz = np.count_nonzero(aset.crossbar, axis=1)
        # chunks of the set that fit one core
        chunk: list[int] = []
        chunk_n = 0
        chunk_bits = 0
        chunks: list[tuple[list[int], int, int, list[int]]] = []
        rows: list[int] = []
        for r, j in enumerate(aset.neurons):
            d = int(dup[j])
            b = int(nnz[r]) * bits_per * d
            if d > core.n_neurons or (budget is not None and b > budget):
                raise LayerwiseMappingError(f"stage {st.name}: neuron {j} alone does not fit a core")
            if chunk and (chunk_n + d > core.n_neurons or (budget is not None and chunk_bits + b > budget)):
                chunks.append((chunk, chunk_n, chunk_bits, rows))
                chunk, chunk_n, chunk_bits, rows = [], 0, 0, []
            chunk.append(int(j))
            rows.append(r)
            chunk_n += d
            chunk_bits += b
        if chunk:
            chunks.append((chunk, chunk_n, chunk_bits, rows))
        for neurons, n_n, n_b, rows_c in chunks:
            # a chunk needs only the axons its neurons connect to (a convolution tile's chunk reads a part)
            used = np.any(aset.crossbar[rows_c] != 0, axis=0)
            vax_c = [v for v, u in zip(vax, used, strict=True) if u]
            new_ax = [v for v in vax_c if cur is None or v not in cur.vaxon_set]
            fits = cur is not None and (
                len(cur.vaxons) + len(new_ax) <= core.n_axons
                and len(cur.neurons) + n_n <= core.n_neurons
                and (budget is None or cur.synapse_bits + n_b <= budget)
            )
            if not fits:
                cur = _Core([], set(), [], 0)
                cores.append(cur)
                new_ax = vax_c
            assert cur is not None
            cur.vaxons.extend(new_ax)
            cur.vaxon_set.update(new_ax)
            cur.neurons.extend((j, r) for j in neurons for r in range(int(dup[j])))
            cur.synapse_bits += n_b
    return cores


def build_deployment(net: SpikingNet, chip: ChipSpec | str, *, input_shape: tuple[int, ...] = (),
                     provenance: dict[str, object] | None = None) -> Deployment:
    """The :class:`Deployment` computing ``net`` spike for spike (see module docstring).

    ``provenance["encoding"]`` records the input code the network was converted for, ``{"kind": "regular",
    "ticks": net.ticks}`` (:func:`spikeforge.data.regular_encode`), unless ``provenance`` names one: what
    ``spikeforge simulate`` / ``energy`` encode a dataset with."""
    spec = get_chip(chip) if isinstance(chip, str) else chip
    if not net.integer:
        raise LayerwiseMappingError("only integer (digital) networks map onto a chip")
    if any(st.hw is None for st in net.stages):
        raise LayerwiseMappingError("a stage has no hardware encoding (e.g. a convolution): cannot map it")
    n_st = len(net.stages)
    # ---- pack last to first
    packed: list[list[_Core]] = [[] for _ in range(n_st)]
    dup = np.ones(net.stages[-1].n_out, np.int64)
    for k in range(n_st - 1, -1, -1):
        packed[k] = _pack_stage(net, k, dup, spec)
        if k > 0:
            hw = net.stages[k].hw
            assert hw is not None
            dup = np.zeros(net.stages[k - 1].n_out, np.int64)
            for c in packed[k]:
                np.add.at(dup, hw.vaxon_src[np.array(c.vaxons, np.int64)], 1)
            dup = np.maximum(dup, 1)  # an unread neuron still exists (it sends nowhere)
    offsets = np.cumsum([0] + [len(p) for p in packed])
    n_cores = int(offsets[-1])
    dep = Deployment.empty(spec, n_cores, net.n_inputs, net.n_classes, ticks_per_input=net.ticks,
                           input_shape=input_shape,
                           provenance={"encoding": {"kind": "regular", "ticks": int(net.ticks)}, **(provenance or {})})
    order = mesh_order(spec.mesh_rows, spec.mesh_cols)
    idx = np.arange(n_cores)
    dep.placement = np.stack([idx // spec.cores_per_chip, order[idx % spec.cores_per_chip, 0],
                              order[idx % spec.cores_per_chip, 1]], axis=1).astype(np.int32)
    beta = int(min(net.neg_threshold, spec.core.threshold_max))
    # slot of every replica: (stage, neuron, replica) -> (core, slot); axon of every vaxon per core
    slots: list[dict[tuple[int, int], tuple[int, int]]] = [dict() for _ in range(n_st)]
    in_ch, in_core, in_axon = [], [], []
    readers: list[list[tuple[int, int, int]]] = [[] for _ in range(n_st)]  # (src neuron, core, axon)
    for k, st in enumerate(net.stages):
        hw = st.hw
        assert hw is not None
        xb_of: dict[int, tuple[int, int]] = {}  # neuron -> (set index, row)
        for si, aset in enumerate(hw.sets):
            for r, j in enumerate(aset.neurons):
                xb_of[int(j)] = (si, r)
        for ci, c in enumerate(packed[k]):
            g = int(offsets[k]) + ci
            dep.core_labels[g] = st.name
            vax = np.array(c.vaxons, np.int64)
            pos_of = {int(v): p for p, v in enumerate(vax)}
            dep.axon_type[g, : len(vax)] = hw.vaxon_type[vax]
            for v, p in pos_of.items():
                src = int(hw.vaxon_src[v])
                if k == 0:
                    in_ch.append(src)
                    in_core.append(g)
                    in_axon.append(p)
                else:
                    readers[k].append((src, g, p))
            for s, (j, r) in enumerate(c.neurons):
                slots[k][(j, r)] = (g, s)
                si, row = xb_of[j]
                aset = hw.sets[si]
                here = np.array([int(v) in pos_of for v in aset.vaxons])
                if np.any(aset.crossbar[row][~here] != 0):
                    raise LayerwiseMappingError(f"stage {st.name}: neuron {j} lost an axon in packing")
                cols = np.array([pos_of[int(v)] for v in aset.vaxons[here]], np.int64)
                dep.crossbar[g, cols, s] = aset.crossbar[row][here]
                dep.weights[g, s, : hw.type_weights.shape[1]] = hw.type_weights[j]
                dep.threshold[g, s] = st.threshold[j]
                dep.v_init[g, s] = st.v_init[j]
                dep.leak[g, s] = 0 if st.leak is None else st.leak[j]
                dep.reset_mode[g, s] = 1
                dep.neg_threshold[g, s] = beta
                dep.floor_mode[g, s] = 1
                dep.enabled[g, s] = True
    # ---- routes: replica r of neuron j goes to the r-th reader slot of j
    for k in range(1, n_st):
        nxt: dict[int, int] = {}
        for src, g, p in readers[k]:
            r = nxt.get(src, 0)
            nxt[src] = r + 1
            sc, ss = slots[k - 1][(src, r)]
            dep.dest_core[sc, ss] = g
            dep.dest_axon[sc, ss] = p
            dep.dest_delay[sc, ss] = 1
    dep.input_channel = np.array(in_ch, np.int32)
    dep.input_core = np.array(in_core, np.int32)
    dep.input_axon = np.array(in_axon, np.int32)
    last = n_st - 1
    cls = net.classes_of_outputs()
    outs = [(slots[last][(j, 0)], int(cls[j])) for j in range(net.stages[last].n_out) if 0 <= cls[j] < net.n_classes]
    dep.output_core = np.array([c for (c, _), _ in outs], np.int32)
    dep.output_neuron = np.array([s for (_, s), _ in outs], np.int32)
    dep.output_class = np.array([k for _, k in outs], np.int32)
    return dep.normalised()
