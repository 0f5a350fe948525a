"""The report's figures, drawn with matplotlib's object API on the Agg canvas (no pyplot, no global state).

Each ``plot_*`` function writes one PNG and returns its path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from spikeforge.deploy.deployment import Deployment
from spikeforge.fileio import atomic_output
from spikeforge.metrics.layers import layer_groups

#: published accuracy / energy points drawn beside a run on the same dataset (DESIGN.md, "Energy")
REFERENCE_POINTS: dict[str, list[dict[str, Any]]] = {
    "mnist": [
        {"label": "Esser 2015, 1 network (5 cores)", "uJ_per_image": 0.268, "accuracy": 0.927,
         "source": "Esser et al., NIPS 2015"},
        {"label": "Esser 2015, 64-network ensemble", "uJ_per_image": 108.0, "accuracy": 0.9942,
         "source": "Esser et al., NIPS 2015"},
    ],
}

_DPI = 110


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=_DPI, bbox_inches="tight")
    return path


def utilisation(dep: Deployment) -> tuple[np.ndarray, np.ndarray]:
    """(C,) fraction of each core's axons that something drives (input map or a routed enabled neuron) and
    (C,) fraction of its neurons that are enabled."""
    a_n = dep.chip.core.n_axons
    used = np.zeros((dep.n_cores, a_n), bool)
    used[dep.input_core, dep.input_axon] = True
    routed = dep.enabled & (dep.dest_core >= 0)
    used[dep.dest_core[routed], dep.dest_axon[routed]] = True
    return used.mean(axis=1), dep.enabled.mean(axis=1)


def plot_chip_map(dep: Deployment, path: Path, *, max_chips: int = 4) -> Path:
    """Per-core utilisation of axons and neurons on the chip's mesh (one row of two maps per chip spanned;
    grey: no core of the deployment there; small deployments get an outline around each used core)."""
    ax_u, nu_u = utilisation(dep)
    chips = sorted(set(dep.placement[:, 0].tolist())) or [0]
    shown = chips[:max_chips]
    rows, cols = dep.chip.mesh_rows, dep.chip.mesh_cols
    fig = Figure(figsize=(10.5, 4.6 * len(shown) + 0.5), layout="constrained")
    axes = fig.subplots(len(shown), 2, squeeze=False)
    for r, chip in enumerate(shown):
        on = dep.placement[:, 0] == chip
        pr, pc = dep.placement[on, 1], dep.placement[on, 2]
        for k, (vals, what) in enumerate(((ax_u, "axons driven"), (nu_u, "neurons enabled"))):
            grid = np.full((rows, cols), np.nan)
            grid[pr, pc] = vals[on]
            ax = axes[r][k]
            ax.set_facecolor("#e3e3e3")
            im = ax.imshow(np.ma.masked_invalid(grid), vmin=0, vmax=1, cmap="viridis", interpolation="nearest")
            if on.sum() <= 64:
                side = 300 / max(rows, cols)  # a mesh cell, in points
                ax.scatter(pc, pr, s=0.8 * side**2, marker="s", facecolors="none", edgecolors="#d62728",
                           linewidths=1.0)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(f"chip {chip}: {what} ({int(on.sum())} core(s))", fontsize=10)
            ax.set_xlabel("mesh column")
            ax.set_ylabel("mesh row")
            if k == 1:
                fig.colorbar(im, ax=axes[r].tolist(), fraction=0.03, pad=0.02, label="fraction of the core used")
    more = f" ({len(chips) - len(shown)} more chips not shown)" if len(chips) > len(shown) else ""
    fig.suptitle(f"{dep.chip.name}: {dep.n_cores} core(s) on a {rows}x{cols} mesh{more}", fontsize=11)
    return _save(fig, path)


def plot_accuracy_energy(
    points: Sequence[dict[str, Any]], path: Path, *, references: Sequence[dict[str, Any]] = ()
) -> Path:
    """Accuracy against energy per image (log scale): this run's points (filled) and references (hollow).

    Each point is ``{"label", "uJ_per_image", "accuracy"}`` (accuracy as a fraction)."""
    fig = Figure(figsize=(6.4, 4.4))
    ax = fig.subplots()
    for group, ref in ((references, True), (points, False)):
        for p in group:
            e, acc = float(p["uJ_per_image"]), 100 * float(p["accuracy"])
            if ref:
                ax.scatter([e], [acc], s=60, zorder=3, marker="s", facecolors="none", edgecolors="#555555")
            else:
                ax.scatter([e], [acc], s=60, zorder=3, marker="o", color="#d62728")
            ax.annotate(str(p["label"]), (e, acc), textcoords="offset points", xytext=(7, 4), fontsize=8)
    energies = [float(p["uJ_per_image"]) for p in [*points, *references] if float(p["uJ_per_image"]) > 0]
    if energies:
        ax.set_xscale("log")
        lo, hi = min(energies), max(energies)
        ax.set_xlim(10 ** np.floor(np.log10(lo / 2)), 10 ** np.ceil(np.log10(hi * 2)))  # whole decades
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("energy per image (µJ, log scale)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title("accuracy vs energy per image", fontsize=11)
    return _save(fig, path)


def plot_pareto(rows: Sequence[dict[str, Any]], path: Path, *, title: str = "accuracy vs energy per image"
                ) -> Path:
    """Runs compared (:func:`spikeforge.report.compare.compare_runs`): accuracy against energy per image (log
    scale), Pareto-optimal runs filled and joined by the front's staircase, the others hollow."""
    fig = Figure(figsize=(6.8, 4.6))
    ax = fig.subplots()
    front = sorted((r for r in rows if r.get("pareto")), key=lambda r: r["uJ_per_image"])
    if len(front) > 1:
        xs = [float(r["uJ_per_image"]) for r in front]
        ys = [100 * float(r["accuracy"]) for r in front]
        ax.step(xs, ys, where="post", color="#d62728", alpha=0.5, lw=1.2, label="Pareto front")
    at: dict[tuple[float, float], list[str]] = {}  # runs at the same point share one label
    for r in rows:
        e, acc = float(r["uJ_per_image"]), 100 * float(r["accuracy"])
        if r.get("pareto"):
            ax.scatter([e], [acc], s=55, zorder=3, color="#d62728")
        else:
            ax.scatter([e], [acc], s=55, zorder=3, facecolors="none", edgecolors="#555555")
        at.setdefault((e, acc), []).append(str(r["label"]))
    for (e, acc), labels in at.items():
        text = ", ".join(labels[:3]) + (f" (+{len(labels) - 3} more)" if len(labels) > 3 else "")
        ax.annotate(text, (e, acc), textcoords="offset points", xytext=(7, 4), fontsize=8)
    energies = [float(r["uJ_per_image"]) for r in rows if float(r["uJ_per_image"]) > 0]
    if energies:
        ax.set_xscale("log")
        lo, hi = min(energies), max(energies)
        ax.set_xlim(10 ** np.floor(np.log10(lo / 2)), 10 ** np.ceil(np.log10(hi * 2)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("energy per image (µJ, log scale)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, which="both", alpha=0.3)
    if len(front) > 1:
        ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title, fontsize=11)
    return _save(fig, path)


def plot_energy_breakdown(breakdown_uj: dict[str, float], path: Path, *, title: str = "energy per input") -> Path:
    """Energy per input by term (:attr:`spikeforge.energy.EnergyReport.mean_breakdown_uj`), one horizontal bar
    each, static terms grey and dynamic ones coloured, with the µJ and the share written beside each bar."""
    from spikeforge.energy.constants import STATIC_TERMS

    terms = list(breakdown_uj)
    vals = np.array([breakdown_uj[t] for t in terms], dtype=float)
    total = float(vals.sum()) or 1.0
    fig = Figure(figsize=(6.4, 0.45 * len(terms) + 1.4))
    ax = fig.subplots()
    colours = ["#999999" if t in STATIC_TERMS else "#1f77b4" for t in terms]
    ax.barh(terms, vals, color=colours)
    for i, v in enumerate(vals):
        ax.annotate(f"{v:.3g} µJ ({100 * v / total:.1f} %)", (v, i), textcoords="offset points", xytext=(4, -3),
                    fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, float(vals.max()) * 1.45 if len(vals) and vals.max() > 0 else 1)
    ax.set_xlabel("µJ per input (grey: static, blue: activity)")
    ax.set_title(f"{title}: {total:.4g} µJ", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, path)


def plot_memory_totals(totals: dict[str, dict[str, float]], path: Path, *, title: str = "synaptic memory",
                       cheapest: str = "", n_layers: int | None = None) -> Path:
    """Energy per full pass of each synaptic-memory encoding (:meth:`spikeforge.energy.memory.MemoryReport.totals`):
    forward, backward and weight update stacked (µJ, one bar per encoding, cheapest for training first), the
    footprint (KiB) written on each bar; ``cheapest`` is outlined. With ``n_layers``, only encodings that
    apply to every layer are drawn (functional encodings apply to convolutions only: their totals are partial)."""
    from matplotlib.patches import Patch

    if n_layers is not None:
        totals = {k: v for k, v in totals.items() if v["layers"] == n_layers}
    order = sorted(totals, key=lambda k: totals[k]["forward_j"] + totals[k]["backward_j"] + totals[k]["update_j"])
    fig = Figure(figsize=(max(5.0, 1.1 * len(order) + 2.5), 4.4))
    ax = fig.subplots()
    bottom = np.zeros(len(order))
    passes = (("forward", "#1f77b4"), ("backward", "#ff7f0e"), ("update", "#2ca02c"))
    for name, colour in passes:
        vals = np.array([totals[k][f"{name}_j"] * 1e6 for k in order])
        ax.bar(order, vals, bottom=bottom, color=colour,
               edgecolor=["black" if k == cheapest else "none" for k in order], linewidth=1.5)
        bottom += vals
    for i, k in enumerate(order):
        ax.annotate(f"{totals[k]['footprint_bits'] / 8192:.1f} KiB", (i, bottom[i]), textcoords="offset points",
                    xytext=(0, 3), ha="center", fontsize=8)
    ax.set_ylabel("energy per full pass (µJ)")
    ax.set_ylim(0, float(bottom.max()) * 1.15 if len(bottom) else 1)
    ax.legend(handles=[Patch(color=c, label=n) for n, c in passes], fontsize=8)
    ax.tick_params(axis="x", labelrotation=20)
    ax.set_title(title + (f" (cheapest for training: {cheapest}, outlined)" if cheapest else ""), fontsize=10)
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path)


def _neuron_rows(dep: Deployment) -> tuple[dict[str, np.ndarray], list[tuple[str, np.ndarray, np.ndarray]]]:
    """Row index of every enabled neuron, grouped by layer: [(layer, cores, (c, N) row ids)]."""
    groups = layer_groups(dep)
    out = []
    offset = 0
    for name, cores in groups.items():
        en = dep.enabled[cores]
        ids = (np.cumsum(en.reshape(-1)) - 1 + offset).reshape(en.shape)
        out.append((name, cores, ids))
        offset += int(en.sum())
    return groups, out


def plot_raster(dep: Deployment, raster: np.ndarray, path: Path, *, inputs: np.ndarray | None = None,
                n_inputs: int = 4) -> Path:
    """Spike raster of the first ``n_inputs`` inputs: ``raster`` is the simulator's (ticks, C, N, B) record,
    ``inputs`` optionally the (B, T, K) input spikes, drawn above. Multi-tick runs get one tick × neuron panel
    per input; one-tick runs one input × neuron panel (a column per input). Neurons are coloured by layer."""
    ticks, _, _, b = raster.shape
    k = max(1, min(n_inputs, b))
    groups, rows = _neuron_rows(dep)
    n_rows = sum(int(dep.enabled[c].sum()) for c in groups.values())
    single = ticks == 1
    panels = 1 if single else k
    has_in = inputs is not None
    fig = Figure(figsize=(max(6.0, 0.22 * k + 3) if single else 3.1 * k + 1.2, 5.4), layout="constrained")
    axes = fig.subplots(2 if has_in else 1, panels, squeeze=False,
                        gridspec_kw={"height_ratios": [1, 3]} if has_in else None)
    for p in range(panels):
        ax = axes[-1][p]
        for i, (name, cores, ids) in enumerate(rows):
            if single:
                cc, j, bb = np.nonzero(raster[0][cores][:, :, :k])
                x = bb
            else:
                x, cc, j = np.nonzero(raster[..., p][:, cores])
            ax.scatter(x, ids[cc, j], s=5 if single else 4, color=f"C{i % 10}", marker="s" if single else "|",
                       label=name if p == 0 else None)
        span = k if single else ticks
        ax.set_xlim(-0.5, span - 0.5)
        ax.set_ylim(-1, max(n_rows, 1))
        ax.set_xlabel("input" if single else "tick")
        if not single:
            ax.set_title(f"input {p}", fontsize=10)
        if p == 0:
            ax.set_ylabel("enabled neuron (grouped by layer)")
        if has_in:
            assert inputs is not None
            top = axes[0][p]
            if single:
                bb, ch = np.nonzero(inputs[:k, 0])
            else:
                bb, ch = np.nonzero(inputs[p])
            top.scatter(bb, ch, s=5 if single else 4, color="black", marker="s" if single else "|")
            top.set_xlim(-0.5, span - 0.5)
            top.set_xticks([])
            if p == 0:
                top.set_ylabel("input channel")
    if len(groups) > 1 or next(iter(groups)) != "(unlabelled)":
        axes[-1][0].legend(fontsize=7, loc="upper right", markerscale=2, framealpha=0.9)
    what = f"first {k} inputs, one tick each" if single else f"{ticks} ticks per input"
    fig.suptitle(f"spike raster ({what})", fontsize=11)
    return _save(fig, path)


def plot_layer_activity(per_layer: dict[str, dict[str, float | None]], path: Path) -> Path:
    """Bars per layer: spikes per neuron per tick, and synaptic events per input."""
    names = list(per_layer)
    fig = Figure(figsize=(max(6.0, 1.1 * len(names) + 3), 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, key, label in ((axes[0], "rate", "spikes per neuron per tick"),
                           (axes[1], "synaptic_events", "synaptic events per input")):
        vals = [float(per_layer[n].get(key) or 0.0) for n in names]
        bars = ax.bar(range(len(names)), vals, width=0.6, color=[f"C{i % 10}" for i in range(len(names))])
        ax.bar_label(bars, labels=[f"{v:.3g}" for v in vals], fontsize=8)
        ax.set_xlim(-0.7, len(names) - 0.3)
        ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 4 else 0, ha="right" if len(names) > 4
                      else "center", fontsize=8)
        ax.set_title(label, fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("activity per layer", fontsize=11)
    return _save(fig, path)
