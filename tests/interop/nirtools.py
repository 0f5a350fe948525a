"""Builders and peer runners for the NIR tests (imported by the test modules of this folder)."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings

import numpy as np

from spikeforge.deploy import Deployment
from spikeforge.hardware import ChipSpec, CoreSpec

CHIP = ChipSpec(name="nir-test", core=CoreSpec(n_axons=32, n_neurons=16), mesh_rows=4, mesh_cols=4, max_chips=1)


def layered_if_deployment(seed: int, *, reset_value: int = 0, k_inputs: int = 12) -> Deployment:
    """A random layer-synchronous network of integrate-and-fire neurons that NIR states exactly.

    Cores 0 and 1 (depth 0) read the input; core 2 (depth 1) reads both (a join); core 3 (depth 2) reads core
    2. Output neurons sit on core 2 (offset 1) and core 3 (offset 2). Weights are non-negative, leaks 0 past
    depth 0, every axon has one source, reset to ``reset_value`` — so no floor, no merge, no rest activity.
    """
    rng = np.random.default_rng(seed)
    a_n, n_n = CHIP.core.n_axons, CHIP.core.n_neurons
    d = Deployment.empty(CHIP, 4, k_inputs, 6, ticks_per_input=3)
    d.core_labels = ["l0[0]", "l0[1]", "l1[0]", "l2[0]"]
    for c in range(4):
        d.enabled[c] = True
        d.axon_type[c] = rng.integers(0, 4, a_n)
        d.weights[c] = rng.integers(0, 4, (n_n, 4))
        d.crossbar[c] = rng.random((a_n, n_n)) < 0.3
        d.threshold[c] = rng.integers(1, 7, n_n)
        d.reset_value[c] = reset_value
        d.floor_mode[c] = rng.integers(0, 2, n_n)
        d.neg_threshold[c] = rng.integers(max(0, -reset_value), 5, n_n)
    d.leak[:2] = rng.integers(0, 2, (2, n_n))
    # input map: each of the first 24 axons of cores 0-1 gets one channel (channels fan out)
    ch = rng.integers(0, k_inputs, 2 * 16)
    d.input_channel = ch.astype(np.int32)
    d.input_core = np.repeat([0, 1], 16).astype(np.int32)
    d.input_axon = np.tile(np.arange(16), 2).astype(np.int32)
    # cores 0, 1 → core 2 (32 distinct axons); core 2 → core 3 (16 distinct axons)
    perm = rng.permutation(a_n)
    d.dest_core[0], d.dest_axon[0] = 2, perm[:16]
    d.dest_core[1], d.dest_axon[1] = 2, perm[16:]
    d.dest_core[2], d.dest_axon[2] = 3, rng.permutation(a_n)[:16]
    d.dest_core[3] = -1
    d.dest_core[2, [3, 7, 11]] = -1  # output neurons send their one spike off-core
    outs = [(3, j, j % 6) for j in range(12)] + [(2, j, j % 6) for j in (3, 7, 11)]
    arr = np.array(outs, np.int32)
    d.output_core, d.output_neuron, d.output_class = arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy()
    return d


def chain_if_deployment(seed: int, *, n_layers: int = 3, k_inputs: int = 12) -> Deployment:
    """A random chain of integrate-and-fire cores (core i feeds core i + 1; outputs on the last core), exactly
    expressible in NIR; its graph has no branch or join (the only shape Norse's importer executes right)."""
    rng = np.random.default_rng(seed)
    a_n, n_n = CHIP.core.n_axons, CHIP.core.n_neurons
    d = Deployment.empty(CHIP, n_layers, k_inputs, 4, ticks_per_input=4)
    d.core_labels = [f"layer{c}" for c in range(n_layers)]
    for c in range(n_layers):
        d.enabled[c] = True
        d.axon_type[c] = rng.integers(0, 4, a_n)
        d.weights[c] = rng.integers(0, 4, (n_n, 4))
        d.crossbar[c] = rng.random((a_n, n_n)) < 0.35
        d.threshold[c] = rng.integers(1, 6, n_n)
        d.floor_mode[c] = rng.integers(0, 2, n_n)
        d.neg_threshold[c] = rng.integers(0, 5, n_n)
        if c + 1 < n_layers:
            d.dest_core[c], d.dest_axon[c] = c + 1, rng.permutation(a_n)[:n_n]
            d.dest_delay[c] = rng.integers(1, 4)  # one delay per route keeps the chain layer-synchronous
    d.leak[0] = rng.integers(0, 2, n_n)
    d.input_channel = rng.integers(0, k_inputs, 20).astype(np.int32)
    d.input_core = np.zeros(20, np.int32)
    d.input_axon = rng.permutation(a_n)[:20].astype(np.int32)
    last = n_layers - 1
    d.output_core = np.full(n_n, last, np.int32)
    d.output_neuron = np.arange(n_n, dtype=np.int32)
    d.output_class = (np.arange(n_n) % 4).astype(np.int32)
    return d


def random_inputs(seed: int, batch: int, ticks: int, k_inputs: int = 12, p: float = 0.4) -> np.ndarray:
    """(B, T, K) uint8 random input spikes."""
    return (np.random.default_rng(seed).random((batch, ticks, k_inputs)) < p).astype(np.uint8)


def _quiet() -> contextlib.AbstractContextManager[object]:
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    stack.callback(logging.disable, logging.NOTSET)
    return stack


def _drive(module: object, x: np.ndarray, steps: int) -> np.ndarray:
    import torch

    xt = torch.from_numpy(np.asarray(x, np.float32))
    state = None
    outs = []
    with torch.no_grad():
        for t in range(steps):
            inp = xt[:, t] if t < xt.shape[1] else torch.zeros_like(xt[:, 0])
            out, state = module(inp, state)  # type: ignore[operator]
            if isinstance(out, tuple):  # snnTorch's Leaky returns (spikes, membrane)
                out = out[0]
            outs.append(out.numpy())
    return np.stack(outs, axis=1)


def run_norse(graph: object, x: np.ndarray, steps: int) -> np.ndarray:
    """Run ``graph`` for ``steps`` steps through Norse's own importer; (B, steps, M)."""
    import norse.torch

    with _quiet():
        module = norse.torch.from_nir(graph)
        return _drive(module, x, steps)


def run_snntorch(graph: object, x: np.ndarray, steps: int) -> np.ndarray:
    """Run ``graph`` for ``steps`` steps through snnTorch's own importer; (B, steps, M)."""
    from snntorch.import_nir import import_from_nir

    with _quiet():
        module = import_from_nir(graph)
        return _drive(module, x, steps)


def run_nirtorch(graph: object, x: np.ndarray, steps: int) -> np.ndarray:
    """Run ``graph`` with nirtorch's graph interpreter (``nir_to_torch``), NIR's own PyTorch execution of a
    graph, given modules that implement ``IF`` and ``Threshold`` exactly as the NIR specification states."""
    import nir
    import nirtorch
    import torch

    class ExactIF(torch.nn.Module):
        def __init__(self, node: nir.IF) -> None:
            super().__init__()
            self.r = torch.as_tensor(np.asarray(node.r, np.float32))
            self.thr = torch.as_tensor(np.asarray(node.v_threshold, np.float32))
            self.reset = torch.as_tensor(np.asarray(node.v_reset, np.float32))

        def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
            v = (torch.zeros_like(x) if state is None else state) + self.r * x
            z = v > self.thr
            return z.to(x.dtype), torch.where(z, self.reset.expand_as(v), v)

    class Heaviside(torch.nn.Module):
        def __init__(self, node: nir.Threshold) -> None:
            super().__init__()
            self.thr = torch.as_tensor(np.asarray(node.threshold, np.float32))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x > self.thr).to(x.dtype)

    def affine(node: nir.Affine) -> torch.nn.Linear:
        # nirtorch 2.6's default Affine mapping assigns the bias to ``weight.bias`` and keeps nn.Linear's random
        # bias: map it here (snnTorch and Norse bring their own Affine mapping)
        lin = torch.nn.Linear(node.weight.shape[1], node.weight.shape[0])
        lin.weight.data = torch.as_tensor(np.asarray(node.weight, np.float32))
        lin.bias.data = torch.as_tensor(np.asarray(node.bias, np.float32))
        return lin

    with _quiet():
        module = nirtorch.nir_to_torch(graph, {nir.IF: ExactIF, nir.Threshold: Heaviside, nir.Affine: affine})
        return _drive(module, x, steps)


def run_reference(graph: object, x: np.ndarray, steps: int) -> np.ndarray:
    """NIR's semantics in numpy, as the specification states them: nodes in dependency order each step, the
    edges into a node summed, ``IF``: v ← v + r·I, spike when v > θ, then v ← v_reset; ``Threshold``: spike
    when I > θ. (B, steps, M)."""
    import nir

    nodes, edges = graph.nodes, graph.edges  # type: ignore[attr-defined]
    preds: dict[str, list[str]] = {k: [s for s, d in edges if d == k] for k in nodes}
    order: list[str] = []

    def visit(k: str) -> None:
        if k not in order:
            for p in preds[k]:
                visit(p)
            order.append(k)

    for k in nodes:
        visit(k)
    state: dict[str, np.ndarray] = {}
    outs = []
    for t in range(steps):
        val: dict[str, np.ndarray] = {}
        for k in order:
            n = nodes[k]
            if isinstance(n, nir.Input):
                val[k] = x[:, t].astype(np.float64) if t < x.shape[1] else np.zeros(x[:, 0].shape)
                continue
            inp = sum(val[p] for p in preds[k])
            if isinstance(n, nir.Linear):
                val[k] = inp @ np.asarray(n.weight, np.float64).T
            elif isinstance(n, nir.Affine):
                val[k] = inp @ np.asarray(n.weight, np.float64).T + n.bias
            elif isinstance(n, nir.IF):
                v = state.get(k, 0.0) + n.r * inp
                z = v > n.v_threshold
                state[k] = np.where(z, n.v_reset, v)
                val[k] = z.astype(np.float64)
            elif isinstance(n, nir.Threshold):
                val[k] = (inp > n.threshold).astype(np.float64)
            else:  # Output
                val[k] = inp
        outs.append(val["output"])
    return np.stack(outs, axis=1)
