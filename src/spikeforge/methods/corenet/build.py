"""From trained (or sampled) binary crossbars and integer leaks to a :class:`~spikeforge.deploy.Deployment`.

Both methods end here: the probabilistic method samples ``w ~ Bernoulli(c)`` per copy, the binary method
binarises its shadow connections; either way each *copy* of the network is a list of per-layer binary
crossbars ``(cores, n_axons, neurons)`` and integer leaks ``(cores, neurons)``. Copies go on distinct cores
of one deployment (copy-major, then layer, then core), all reading the same input channels (or, with
``input_shifts``, each copy its own translation of the image: an input-jitter ensemble), and their output
neurons vote into the same classes, so the simulator's class counts of the deployment are the ensemble's
summed votes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spikeforge.deploy.deployment import Deployment
from spikeforge.hardware.spec import ChipSpec, get_chip
from spikeforge.methods.corenet.topology import NetworkSpec

#: One copy: (crossbars per layer (cores, A, neurons) in {0,1}, leaks per layer (cores, neurons) ints).
Copy = tuple[Sequence[np.ndarray], Sequence[np.ndarray]]


def layer_offsets(spec: NetworkSpec) -> list[int]:
    """Index of each layer's first core within one copy."""
    offs, o = [], 0
    for lay in spec.layers:
        offs.append(o)
        o += lay.n_cores
    return offs


def check_fits_chip(spec: NetworkSpec, chip: ChipSpec) -> None:
    """Refuse a network laid out for larger cores (or more axon types) than ``chip`` has."""
    core = chip.core
    if core.n_axons < spec.n_axons or core.n_neurons < spec.n_neurons or core.n_axon_types < spec.n_axon_types:
        raise ValueError(f"network {spec.name} is laid out for {spec.n_axons}x{spec.n_neurons} cores with "
                         f"{spec.n_axon_types} axon types; chip {chip.name}'s cores are {core.n_axons}x"
                         f"{core.n_neurons} with {core.n_axon_types}: lay it out for them with a custom [network] "
                         "(a new name and window, stride, input_neurons, hidden, output_cores, output_neurons: "
                         "it is built for the recipe's chip; docs/your-own-task.md)")


def build_deployment(
    spec: NetworkSpec,
    copies: Sequence[Copy],
    *,
    chip: ChipSpec | str = "truenorth",
    provenance: dict[str, Any] | None = None,
    input_shifts: Sequence[tuple[int, int]] | None = None,
    private_inputs: bool = False,
) -> Deployment:
    """One deployment holding every copy on its own cores; memoryless neurons, delay 1, one tick per input.

    Leaks are rounded and clipped to the chip's leak range; crossbars must be 0/1 and match the layer shapes.
    ``input_shifts`` (one ``(dy, dx)`` per copy) gives each copy its own translated input map
    (:meth:`NetworkSpec.input_sources`); default: every copy reads the image as is.
    ``private_inputs``: copy k reads its own block of input channels ``[k·n, (k+1)·n)`` (``n`` =
    ``spec.n_inputs``; input shape ``(copies, *spec.input_shape)``) instead of all copies sharing channels
    ``[0, n)`` — e.g. so that each copy receives its own Bernoulli draw of the image
    (:func:`spikeforge.methods.corenet.data.private_draws`).
    """
    chip_spec = get_chip(chip) if isinstance(chip, str) else chip
    check_fits_chip(spec, chip_spec)
    core = chip_spec.core
    a_sp, n_sp, t_sp = spec.n_axons, spec.n_neurons, spec.n_axon_types  # larger cores: the rest stays unused
    if not copies:
        raise ValueError("need at least one copy")
    per = spec.n_cores
    n_copies = len(copies)
    if input_shifts is not None and len(input_shifts) != n_copies:
        raise ValueError(f"input_shifts has {len(input_shifts)} entries for {n_copies} copies")
    prov: dict[str, Any] = {"network": spec.name, "layout": spec.describe(), "copies": n_copies}
    if input_shifts is not None and any(tuple(sh) != (0, 0) for sh in input_shifts):
        prov["input_shifts"] = [[int(v) for v in sh] for sh in input_shifts]
    if private_inputs:
        prov["private_inputs"] = True
    prov.update(provenance or {})
    n_in = spec.n_inputs * (n_copies if private_inputs else 1)
    in_shape = (n_copies, *spec.input_shape) if private_inputs else spec.input_shape
    dep = Deployment.empty(chip_spec, per * n_copies, n_in, spec.n_classes, ticks_per_input=1,
                           input_shape=in_shape, provenance=prov)
    offs = layer_offsets(spec)
    in_ch, in_core, in_ax = [], [], []
    out_core, out_neu, out_cls = [], [], []
    labels: list[str] = []
    for ci, (xbars, leaks) in enumerate(copies):
        if len(xbars) != len(spec.layers) or len(leaks) != len(spec.layers):
            raise ValueError(f"copy {ci}: expected {len(spec.layers)} layers")
        base = ci * per
        for li, lay in enumerate(spec.layers):
            xb = np.asarray(xbars[li])
            lk = np.asarray(leaks[li])
            n = lay.neurons
            if xb.shape != (lay.n_cores, spec.n_axons, n) or lk.shape != (lay.n_cores, n):
                raise ValueError(f"copy {ci} layer {lay.name}: crossbar {xb.shape} / leak {lk.shape} do not match "
                                 f"({lay.n_cores}, {spec.n_axons}, {n})")
            if xb.size and not np.isin(xb, (0, 1)).all():
                raise ValueError(f"copy {ci} layer {lay.name}: crossbar entries must be 0 or 1")
            g = base + offs[li] + np.arange(lay.n_cores)
            used = lay.sources >= 0  # (C, A)
            dep.crossbar[g, :a_sp, :n] = (xb * used[:, :, None]).astype(np.int16)
            dep.axon_type[g, :a_sp] = spec.axon_types[li]
            dep.weights[g, :n_sp, :t_sp] = spec.type_weights[li]
            lk_int = np.clip(np.round(lk), core.leak_min, core.leak_max).astype(np.int32)
            dep.leak[g, :n] = lk_int
            dep.enabled[g, :n] = True
            labels += [f"copy{ci}/{lay.name}[{k}]" for k in range(lay.n_cores)]
            kk, aa = np.nonzero(used)
            src = lay.sources[kk, aa]
            if li == 0:
                shifted = spec.input_sources(input_shifts[ci] if input_shifts is not None else (0, 0))
                k0, a0 = np.nonzero(shifted >= 0)
                in_ch.append(shifted[k0, a0] + (ci * spec.n_inputs if private_inputs else 0))
                in_core.append(g[k0])
                in_ax.append(a0)
            else:
                prev = spec.layers[li - 1]
                up_core = base + offs[li - 1] + src // prev.neurons
                up_neu = src % prev.neurons
                dep.dest_core[up_core, up_neu] = g[kk]
                dep.dest_axon[up_core, up_neu] = aa
                dep.dest_delay[up_core, up_neu] = 1
            if li == len(spec.layers) - 1:
                j = np.tile(np.arange(n), lay.n_cores)
                out_core.append(np.repeat(g, n))
                out_neu.append(j)
                out_cls.append(j % spec.n_classes)
    cat = lambda xs: np.concatenate(xs).astype(np.int32)  # noqa: E731
    dep.input_channel, dep.input_core, dep.input_axon = cat(in_ch), cat(in_core), cat(in_ax)
    dep.output_core, dep.output_neuron, dep.output_class = cat(out_core), cat(out_neu), cat(out_cls)
    dep.core_labels = labels
    return dep.normalised()


def evaluate_binary_network(
    spec: NetworkSpec, copy: Copy, spikes: np.ndarray, *, return_layers: bool = False,
    shift: tuple[int, int] = (0, 0),
) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
    """Direct numpy evaluation of one binary copy on one-tick inputs (B, K) or (B, 1, K) in {0, 1}
    (read through the input map translated by ``shift``).

    Returns (B, n_classes) class spike counts (and, with ``return_layers``, each layer's (B, cores*neurons)
    spikes). This is the reference the tests hold the simulator against.
    """
    x = np.asarray(spikes)
    if x.ndim == 3:
        x = x[:, 0, :]
    x = x.astype(np.int64)
    xbars, leaks = copy
    outs = []
    for li, lay in enumerate(spec.layers):
        s = spec.signs_for(li).astype(np.int64)  # (C, A, n)
        w = np.asarray(xbars[li]).astype(np.int64) * s
        xp = np.concatenate([x, np.zeros((x.shape[0], 1), np.int64)], axis=1)
        src = spec.input_sources(shift) if li == 0 else lay.sources
        g = xp[:, np.where(src >= 0, src, x.shape[1])]  # (B, C, A)
        u = np.einsum("bca,can->bcn", g, w) + np.round(np.asarray(leaks[li])).astype(np.int64)[None]
        x = (u >= 0).astype(np.int64).reshape(x.shape[0], -1)
        outs.append(x)
    cls = np.zeros((x.shape[0], spec.n_classes), np.int64)
    np.add.at(cls.T, spec.output_classes, x.T)
    return (cls, outs) if return_layers else cls
