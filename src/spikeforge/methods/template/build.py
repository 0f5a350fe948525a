"""Template matching on one core.

For each class k a binary template T_k (pixels whose class-mean intensity exceeds ``template_threshold``)
is written into the crossbar. Every pixel p drives two axons: axon p of type 0 (weight +1) and axon P + p of
type 1 (weight −1). Neuron n of class k connects to axon p where T_k[p] = 1 and to axon P + p where
T_k[p] = 0, so its input is

    I_k(x) = Σ_p x_p T_k[p] − Σ_p x_p (1 − T_k[p])      (on-pixels inside minus outside the template).

The memoryless neuron (α = β = 0, κ = 1, γ = R = 0) spikes iff I_k(x) + λ_n ≥ 0. Class k has
``neurons_per_class`` neurons with leaks λ spread evenly over [−max_leak, 0], so its spike count counts the
thresholds I_k(x) clears: a quantised readout of the template score, and the class with most spikes wins.
"""

from __future__ import annotations

import numpy as np

from spikeforge.deploy.deployment import Deployment
from spikeforge.hardware.spec import ChipSpec, get_chip


def class_templates(x: np.ndarray, y: np.ndarray, n_classes: int, template_threshold: float = 0.3) -> np.ndarray:
    """Binary templates (n_classes, P): pixels whose class-mean intensity (x scaled to [0, 1]) exceeds the threshold."""
    if not 0 <= template_threshold < 1:
        raise ValueError(f"template_threshold must be in [0, 1) (a mean intensity), got {template_threshold}")
    xf = x.reshape(len(x), -1).astype(np.float64)
    if xf.max(initial=0) > 1:
        xf = xf / 255.0
    t = np.zeros((n_classes, xf.shape[1]), bool)
    for k in range(n_classes):
        sel = xf[y == k]
        if len(sel) == 0:
            raise ValueError(f"class {k} has no training examples")
        t[k] = sel.mean(axis=0) > template_threshold
    return t


def build_template_deployment(
    templates: np.ndarray,
    *,
    chip: ChipSpec | str = "truenorth",
    neurons_per_class: int | None = None,
    max_leak: int | None = None,
    input_shape: tuple[int, ...] = (),
    provenance: dict[str, object] | None = None,
) -> Deployment:
    """One-core deployment matching ``templates`` (n_classes, P) against thresholded pixels."""
    spec = get_chip(chip) if isinstance(chip, str) else chip
    n_classes, p = templates.shape
    if 2 * p > spec.core.n_axons:
        raise ValueError(
            f"template network needs 2 axons per pixel: {2 * p} > {spec.core.n_axons} axons per core "
            f"({p} pixels); use a smaller image or a core-partitioned method"
        )
    if spec.core.n_axon_types < 2:
        raise ValueError("template network needs 2 axon types (+1 and −1)")
    if neurons_per_class is not None and neurons_per_class < 1:
        raise ValueError(f"neurons_per_class must be >= 1, got {neurons_per_class}")
    npc = spec.core.n_neurons // n_classes if neurons_per_class is None else int(neurons_per_class)
    if npc * n_classes > spec.core.n_neurons or npc < 1:
        raise ValueError(f"{npc} neurons x {n_classes} classes does not fit {spec.core.n_neurons} neurons")
    size = templates.sum(axis=1)
    top = int(max_leak if max_leak is not None else max(1, int(size.max())))
    top = min(top, -spec.core.leak_min)
    dep = Deployment.empty(spec, 1, p, n_classes, ticks_per_input=1, input_shape=input_shape,
                           provenance=dict(provenance or {"method": "template"}))
    dep.axon_type[0, :p] = 0
    dep.axon_type[0, p : 2 * p] = 1
    for k in range(n_classes):
        # thresholds spread over [0, template size]: the count reads the matched fraction of the template
        leaks = -np.round(np.linspace(0, min(int(size[k]), top), npc)).astype(np.int32)
        for m in range(npc):
            j = m * n_classes + k  # classes assigned round-robin
            dep.crossbar[0, :p, j] = templates[k]
            dep.crossbar[0, p : 2 * p, j] = ~templates[k]
            dep.weights[0, j, 0] = 1
            dep.weights[0, j, 1] = -1
            dep.leak[0, j] = leaks[m]
            dep.enabled[0, j] = True
    outs = np.flatnonzero(dep.enabled[0])
    dep.output_core = np.zeros(len(outs), np.int32)
    dep.output_neuron = outs.astype(np.int32)
    dep.output_class = (outs % n_classes).astype(np.int32)
    dep.input_channel = np.concatenate([np.arange(p), np.arange(p)]).astype(np.int32)
    dep.input_core = np.zeros(2 * p, np.int32)
    dep.input_axon = np.arange(2 * p, dtype=np.int32)
    dep.core_labels = ["template"]
    return dep.normalised()
