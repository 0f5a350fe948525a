"""Choosing the rate code's length T: the shortest code whose converted network stays close to the ANN.

Every tick costs latency and, on a chip whose energy is mostly static, energy in proportion (the
``layerwise_ticks`` benchmark: 74 µJ at T = 16 against 131 µJ at T = 32 for the TrueNorth MLP). The error of
a rate-coded network shrinks with T, at a rate that depends on the constraints (TrueNorth's 4-level weights
need longer codes than 8-bit weights). :func:`choose_ticks` converts for T = 4, 8, 16, … in turn and keeps
the first T whose network is within ``max_gap`` of the ANN's accuracy on held-out *training* images, so the
test set plays no part in the choice. When no candidate is close enough it keeps the most accurate one
(the shorter on ties) and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from spikeforge.data.encode import regular_encode
from spikeforge.methods.layerwise.ann import AnnLayer, forward
from spikeforge.methods.layerwise.constraints import Constraints, ConvertOptions, ConvertReport
from spikeforge.methods.layerwise.network import SpikingNet

#: code lengths tried by ``ticks="auto"``, shortest first
CANDIDATE_TICKS: tuple[int, ...] = (4, 8, 16, 32, 64)


def points(gap: float) -> str:
    """A fraction as accuracy points: 0.01 → "1 point", 0.005 → "0.5 points"."""
    p = 100 * gap
    return f"{p:g} point" + ("" if p == 1 else "s")


@dataclass
class TicksChoice:
    """The chosen code length, its converted network and report, and every candidate's validation score
    (``search``: ``{"ticks", "val_accuracy", "ann_val_accuracy", "gap", "solve_s"}`` per T tried)."""

    ticks: int
    net: SpikingNet
    report: ConvertReport
    within_gap: bool
    search: list[dict[str, Any]] = field(default_factory=list)


def choose_ticks(
    layers: list[AnnLayer],
    x_calib: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    constraints_for: Callable[[int], Constraints],
    convert_fn: Callable[..., tuple[SpikingNet, ConvertReport]],
    *,
    method: Literal["layerwise", "normalisation"] = "layerwise",
    options: ConvertOptions | None = None,
    max_gap: float = 0.01,
    candidates: Sequence[int] = CANDIDATE_TICKS,
    log: Callable[[str], None] | None = None,
) -> TicksChoice:
    """Convert for each T of ``candidates`` (ascending) and return the first whose validation accuracy
    (integer / floating tick model on ``x_val``, intensities in [0, 1]) is at least the ANN's minus
    ``max_gap`` (a fraction: 0.01 = 1 point); if none is, the most accurate (shorter on ties).

    ``constraints_for(T)`` builds the constraint set for code length T; ``convert_fn`` is
    :func:`spikeforge.methods.layerwise.convert.convert`.
    """
    ts = sorted({int(t) for t in candidates})
    if not ts or ts[0] < 1:
        raise ValueError(f"candidate code lengths must be integers >= 1, got {list(candidates)}")
    if not 0.0 <= max_gap <= 1.0:
        raise ValueError(f"max_gap must be a fraction in [0, 1], got {max_gap}")
    y_val = np.asarray(y_val)
    if len(x_val) == 0 or len(x_val) != len(y_val):
        raise ValueError(f"need validation images with labels, got {len(x_val)} images and {len(y_val)} labels")
    say = log or (lambda s: None)
    ann_acc = float(np.mean(forward(layers, np.asarray(x_val, np.float64))[-1].argmax(1) == y_val))
    search: list[dict[str, Any]] = []
    best: tuple[float, int, SpikingNet, ConvertReport] | None = None
    for t in ts:
        net, rep = convert_fn(layers, x_calib, constraints_for(t), method=method, options=options)
        acc = float(np.mean(net.class_counts(regular_encode(x_val, t)).argmax(1) == y_val))
        gap = ann_acc - acc
        search.append({"ticks": t, "val_accuracy": acc, "ann_val_accuracy": ann_acc, "gap": gap,
                       "solve_s": round(rep.solve_s, 2)})
        say(f"T = {t}: {100 * acc:.2f} % on {len(y_val)} held-out training images (ANN {100 * ann_acc:.2f} %)")
        if gap <= max_gap + 1e-9:  # a gap of exactly max_gap (e.g. 10 of 1 000 images for 1 point) is within it
            return TicksChoice(t, net, rep, True, search)
        if best is None or acc > best[0]:
            best = (acc, t, net, rep)
    assert best is not None
    say(f"no code length within {points(max_gap)} of the ANN; keeping the most accurate, T = {best[1]}")
    return TicksChoice(best[1], best[2], best[3], False, search)
