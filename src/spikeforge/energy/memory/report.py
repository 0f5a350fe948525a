"""Memory-organisation report for a deployment or a set of weight tensors: footprint and energy per pass
under every applicable encoding, and which encoding is cheapest.

Each layer is *stored and executed* in every encoding (:mod:`~spikeforge.energy.memory.encodings`,
:mod:`~spikeforge.energy.memory.conv`) with the convention of the published data (Schaefer et al.,
ISCAS 2020): one full forward pass (every input active), one full backward pass (every output carries
an error) and one update touching every stored weight. The counts are priced with the calibrated
constants (:data:`~spikeforge.energy.memory.model.CALIBRATED_CONSTANTS`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikeforge.energy.memory.conv import CONV_ENCODINGS
from spikeforge.energy.memory.encodings import FC_ENCODINGS, SynapticEncoding
from spikeforge.energy.memory.model import CALIBRATED_CONSTANTS, MemoryEnergyConstants, pass_energy
from spikeforge.energy.memory.sram import PassCounts

PASS_NAMES: tuple[str, ...] = ("forward", "backward", "update")


@dataclass(frozen=True)
class EncodingResult:
    """One layer under one encoding."""

    encoding: str
    footprint_bits: int
    energy_j: dict[str, float]  # per pass
    counts: dict[str, PassCounts] = field(repr=False)

    @property
    def inference_j(self) -> float:
        """Energy of one forward pass (J)."""
        return self.energy_j["forward"]

    @property
    def training_j(self) -> float:
        """Energy of one training iteration: forward + backward + update (J)."""
        return sum(self.energy_j[p] for p in PASS_NAMES)


@dataclass(frozen=True)
class LayerReport:
    """A layer, its statistics and its results under every applicable encoding."""

    name: str
    kind: str  # "fc" | "conv"
    shape: tuple[int, ...]
    bits: int
    density: float
    results: tuple[EncodingResult, ...]

    def cheapest(self, criterion: str = "training") -> str:
        """Encoding with the lowest ``training`` / ``inference`` energy or ``footprint``."""
        keys = {
            "training": lambda r: r.training_j,
            "inference": lambda r: r.inference_j,
            "footprint": lambda r: r.footprint_bits,
        }
        if criterion not in keys:
            raise ValueError(f"criterion must be one of {', '.join(keys)}, got {criterion!r}")
        return min(self.results, key=keys[criterion]).encoding


@dataclass(frozen=True)
class MemoryReport:
    """Footprint and energy per pass for each encoding, per layer and in total."""

    layers: tuple[LayerReport, ...]
    constants: MemoryEnergyConstants

    def totals(self) -> dict[str, dict[str, float]]:
        """Per encoding: footprint (bits) and energy per pass summed over the layers it applies to
        (``layers`` counts them; functional encodings apply to convolution layers only)."""
        out: dict[str, dict[str, float]] = {}
        for layer in self.layers:
            for r in layer.results:
                t = out.setdefault(r.encoding, {"layers": 0.0, "footprint_bits": 0.0, "forward_j": 0.0,
                                                "backward_j": 0.0, "update_j": 0.0})
                t["layers"] += 1
                t["footprint_bits"] += r.footprint_bits
                for p in PASS_NAMES:
                    t[f"{p}_j"] += r.energy_j[p]
        for t in out.values():
            t["training_j"] = t["forward_j"] + t["backward_j"] + t["update_j"]
        return out

    def cheapest(self, criterion: str = "training") -> str:
        """Cheapest encoding over the whole network among those applicable to every layer (``training``:
        forward + backward + update energy; ``inference``: forward; ``footprint``: bits)."""
        keys = {"training": "training_j", "inference": "forward_j", "footprint": "footprint_bits"}
        if criterion not in keys:
            raise ValueError(f"criterion must be one of {', '.join(keys)}, got {criterion!r}")
        if not self.layers:
            raise ValueError("the report has no layers: nothing to compare")
        n = len(self.layers)
        full = {k: v for k, v in self.totals().items() if v["layers"] == n}
        return min(full, key=lambda k: full[k][keys[criterion]]) if full else ""

    def to_rows(self) -> list[dict[str, Any]]:
        """One row per (layer, encoding) plus one ``TOTAL`` row per encoding, for tables."""
        rows: list[dict[str, Any]] = []
        for layer in self.layers:
            best = layer.cheapest("training")
            for r in layer.results:
                rows.append({
                    "layer": layer.name, "kind": layer.kind, "shape": "x".join(map(str, layer.shape)),
                    "bits": layer.bits, "density": round(layer.density, 4), "encoding": r.encoding,
                    "footprint_bits": r.footprint_bits, "forward_j": r.energy_j["forward"],
                    "backward_j": r.energy_j["backward"], "update_j": r.energy_j["update"],
                    "training_j": r.training_j, "cheapest": r.encoding == best,
                })
        best_total = self.cheapest("training")
        for enc, t in self.totals().items():
            rows.append({
                "layer": "TOTAL", "kind": "", "shape": "", "bits": "", "density": "", "encoding": enc,
                "footprint_bits": int(t["footprint_bits"]), "forward_j": t["forward_j"],
                "backward_j": t["backward_j"], "update_j": t["update_j"], "training_j": t["training_j"],
                "cheapest": enc == best_total,
            })
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view."""
        return {
            "constants": self.constants.to_dict(),
            "cheapest": {c: self.cheapest(c) for c in ("training", "inference", "footprint")},
            "totals": self.totals(),
            "layers": [
                {"name": layer.name, "kind": layer.kind, "shape": list(layer.shape), "bits": layer.bits,
                 "density": layer.density,
                 "cheapest": {c: layer.cheapest(c) for c in ("training", "inference", "footprint")},
                 "encodings": [{"encoding": r.encoding, "footprint_bits": r.footprint_bits,
                                "energy_j": dict(r.energy_j), "training_j": r.training_j,
                                "counts": {p: c.to_dict() for p, c in r.counts.items()}}
                               for r in layer.results]}
                for layer in self.layers
            ],
        }


def _full_passes(enc: SynapticEncoding) -> dict[str, PassCounts]:
    from spikeforge.energy.memory.calibrate import full_pass_counts

    return full_pass_counts(enc)


def _evaluate(encs: Sequence[SynapticEncoding], c: MemoryEnergyConstants) -> tuple[EncodingResult, ...]:
    out = []
    for enc in encs:
        counts = _full_passes(enc)
        out.append(EncodingResult(enc.kind, enc.footprint_bits,
                                  {p: pass_energy(counts[p], c).total for p in PASS_NAMES}, counts))
    return tuple(out)


def fc_layer_report(name: str, codes: np.ndarray, bits: int, signed: bool | None = None,
                    constants: MemoryEnergyConstants = CALIBRATED_CONSTANTS) -> LayerReport:
    """Report of one fully connected layer of integer codes ``(n_in, n_out)``."""
    codes = np.asarray(codes, dtype=np.int64)
    encs = [cls(codes, bits, signed) for cls in FC_ENCODINGS.values()]
    return LayerReport(name, "fc", tuple(codes.shape), bits, float(np.count_nonzero(codes)) / max(codes.size, 1),
                       _evaluate(encs, constants))


def conv_layer_report(name: str, codes: np.ndarray, bits: int, in_hw: tuple[int, int],
                      signed: bool | None = None,
                      constants: MemoryEnergyConstants = CALIBRATED_CONSTANTS) -> LayerReport:
    """Report of one convolution layer of integer codes ``(C_out, C_in, k, k)`` on ``in_hw`` inputs."""
    codes = np.asarray(codes, dtype=np.int64)
    encs = [cls(codes, bits, in_hw, signed) for cls in CONV_ENCODINGS.values()]
    return LayerReport(name, "conv", tuple(codes.shape), bits,
                       float(np.count_nonzero(codes)) / max(codes.size, 1), _evaluate(encs, constants))


def quantise_codes(w: np.ndarray, bits: int) -> np.ndarray:
    """Symmetric per-tensor quantisation to signed ``bits``-bit codes: ``round(w / max|w| · (2^{b−1}−1))``
    (``bits = 1``: the sign pattern ``w > 0``)."""
    a = np.asarray(w, dtype=np.float64)
    if not np.isfinite(a).all():
        bad = int(np.count_nonzero(~np.isfinite(a)))
        raise ValueError(f"{bad} of {a.size} weights are NaN or infinite; cannot quantise them")
    if bits == 1:
        return (a > 0).astype(np.int64)
    m = float(np.abs(a).max()) if a.size else 0.0
    if m == 0.0:
        return np.zeros(a.shape, np.int64)
    levels = 2 ** (bits - 1) - 1
    return np.round(a / m * levels).astype(np.int64)


def memory_report_tensors(
    tensors: Mapping[str, Any],
    bits: int,
    conv_input_hw: tuple[int, int] | Mapping[str, tuple[int, int]] = (28, 28),
    constants: MemoryEnergyConstants = CALIBRATED_CONSTANTS,
) -> MemoryReport:
    """Report for a model's weight tensors (``name → tensor``; torch tensors or arrays).

    2-D tensors are read as ``torch.nn.Linear`` weights ``(out, in)`` and stored as ``(in, out)``;
    4-D tensors as convolution kernels ``(C_out, C_in, k, k)`` evaluated on inputs of ``conv_input_hw``
    (one size for all, or per tensor name); other tensors (biases, norms) are skipped. Weights are
    quantised with :func:`quantise_codes`.
    """
    if not isinstance(tensors, Mapping):
        raise TypeError(f"memory_report_tensors: expected a mapping name → tensor (e.g. model.state_dict() or "
                        f"{{'fc': w}}), got {type(tensors).__name__}")
    if not 1 <= int(bits) <= 16:
        raise ValueError(f"bits must be in 1..16, got {bits}")
    layers = []
    for name, t in tensors.items():
        a = t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)
        if a.ndim == 4 and a.shape[2] != a.shape[3]:
            warnings.warn(f"tensor {name!r}: a {a.shape[2]}x{a.shape[3]} kernel is left out (the convolution "
                          "encodings take square kernels)", UserWarning, stacklevel=2)
            continue
        if a.ndim not in (2, 4):
            continue
        try:
            codes = quantise_codes(a, bits)
        except ValueError as e:
            raise ValueError(f"tensor {name!r}: {e}") from None
        if a.ndim == 2:
            layers.append(fc_layer_report(name, codes.T, bits, None, constants))
        else:
            hw = conv_input_hw[name] if isinstance(conv_input_hw, Mapping) else conv_input_hw
            layers.append(conv_layer_report(name, codes, bits, (int(hw[0]), int(hw[1])), None, constants))
    return MemoryReport(tuple(layers), constants)


def memory_report_module(
    model: Any,
    bits: int,
    input_shape: Sequence[int] = (1, 28, 28),
    constants: MemoryEnergyConstants = CALIBRATED_CONSTANTS,
) -> MemoryReport:
    """Report for the ``Linear`` and ``Conv2d`` layers of a ``torch.nn.Module``.

    One forward pass of a zero input of ``input_shape`` (without the batch dimension) finds every
    convolution's input size, so each kernel is priced on the feature map it really reads (the encodings
    model stride 1 and "same" padding on that map). Weights are quantised as in
    :func:`memory_report_tensors`; layers are named as in ``model.named_modules()``.
    """
    import torch
    from torch import nn

    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv2d layer")
    hw: dict[str, tuple[int, int]] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, n=n: hw.__setitem__(n, tuple(inp[0].shape[-2:])))
             for n, m in layers if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros((1, *(int(s) for s in input_shape))))
    except RuntimeError as e:
        raise ValueError(f"the model does not accept inputs of shape {tuple(input_shape)} (input_shape; "
                         f"--input-shape on the command line): {e}") from None
    finally:
        for h in hooks:
            h.remove()
    tensors = {n: m.weight for n, m in layers}
    return memory_report_tensors(tensors, bits, {n: hw.get(n, (1, 1)) for n, _ in layers}, constants)


def memory_report(
    deployment: Any,
    source: str = "crossbar",
    constants: MemoryEnergyConstants = CALIBRATED_CONSTANTS,
) -> MemoryReport:
    """Report for a :class:`~spikeforge.deploy.Deployment`, one FC layer per core.

    ``source="crossbar"`` stores each core's binary crossbar ``w_ij`` (``(A, N)``, 1-bit unsigned: what
    TrueNorth's synaptic SRAM holds; the per-type weights ``s_j[G]`` live in the neuron parameters).
    ``source="effective"`` stores ``effective_weights()`` (``w_ij·s_j[G_i]``) as signed integers with
    just enough bits for the core's largest magnitude.
    """
    if isinstance(deployment, (str, os.PathLike)):
        raise TypeError(f"memory_report takes a Deployment, not the path {str(deployment)!r}: pass "
                        "spikeforge.load(path)")
    if not hasattr(deployment, "crossbar") or not hasattr(deployment, "effective_weights"):
        raise TypeError(f"memory_report takes a Deployment, got {type(deployment).__name__} (for a model's "
                        "weights: memory_report_tensors({name: tensor}, bits) or memory_report_module(model, "
                        "bits))")
    if source not in ("crossbar", "effective"):
        raise ValueError("source must be 'crossbar' or 'effective'")
    layers = []
    if source == "crossbar":
        xb = np.asarray(deployment.crossbar)
        for c in range(xb.shape[0]):
            layers.append(fc_layer_report(f"core{c}", (xb[c] != 0).astype(np.int64), 1, False, constants))
    else:
        eff = np.asarray(deployment.effective_weights(), dtype=np.int64)
        for c in range(eff.shape[0]):
            m = int(np.abs(eff[c]).max()) if eff[c].size else 0
            bits = min(16, max(2, int(np.ceil(np.log2(m + 1))) + 1))
            layers.append(fc_layer_report(f"core{c}", eff[c], bits, True, constants))
    return MemoryReport(tuple(layers), constants)
