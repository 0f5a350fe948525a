"""Write a run report: one folder that can be read, copied or archived on its own.

::

    out_dir/
      index.md                 summary, tables and the figures below, tied together
      deployment.sfd           the deployment (``spikeforge check``, ``simulate``, ``export-nir`` read it)
      results.json             the run's results as given
      metrics.json             NeuroBench-compatible metrics (when activity is known)
      accuracy_vs_energy.png   this run against published points on the same dataset
      chip_map.png             per-core utilisation of axons and neurons on the chip mesh
      raster.png               spike raster of a few inputs (when inputs or a recorded raster are given)
      layer_activity.png       spike rate and synaptic events per layer (cores grouped by label)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spikeforge.deploy.deployment import Deployment
from spikeforge.fileio import write_text_atomic
from spikeforge.metrics import compute_metrics
from spikeforge.metrics.layers import layer_groups
from spikeforge.report.plots import (
    REFERENCE_POINTS,
    plot_accuracy_energy,
    plot_chip_map,
    plot_layer_activity,
    plot_raster,
    utilisation,
)
from spikeforge.sim.counts import EventCounts
from spikeforge.sim.engine import SimResult, simulate


def report_feed(
    dep: Deployment,
    config: Mapping[str, Any] | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    limit: int = 256,
    split: str = "test",
) -> tuple[Deployment, np.ndarray, np.ndarray, str]:
    """Encoded inputs for a report and the deployment they feed: the dataset and encoder of a recipe
    ``config`` (``[data] dataset``, ``[encoding]``), else those recorded in ``dep.provenance`` (``dataset``,
    ``encoding``); the first ``limit`` images of ``split``. Encoding ``"bernoulli-draws"`` (or a deployment
    with private inputs and no encoding named) gives every copy its own Bernoulli draw, seeded as the
    core-network recipes draw them (:func:`spikeforge.data.encode.copy_draws`); ``"axon-draws"`` every input
    axon its own draw, fed to :meth:`Deployment.per_axon_inputs` (the deployment returned).
    Returns (deployment to simulate, spikes (B, T, K), labels, dataset name)."""
    from spikeforge.data import load_dataset
    from spikeforge.data.encode import inputs_for_deployment

    cfg = dict(config or {})
    name = (cfg.get("data") or {}).get("dataset") or dep.provenance.get("dataset")
    if not name:
        raise ValueError("no dataset named in the recipe config or the deployment's provenance")
    ds = load_dataset(str(name), data_dir)
    x, y = (ds.x_test, ds.y_test) if split == "test" else (ds.x_train, ds.y_train)
    enc_cfg = dict(cfg.get("encoding") or dep.provenance.get("encoding") or {})
    if not enc_cfg and dep.provenance.get("private_inputs"):  # written before deployments recorded encodings
        enc_cfg = {"kind": "bernoulli-draws"}
    seed = int(cfg.get("seed", dep.provenance.get("seed", 0)))
    fed, source = inputs_for_deployment(x[:limit], enc_cfg, dep, default_seed=seed)
    spikes = np.asarray(source)  # at most ``limit`` inputs: drawn now
    if spikes.shape[2] != fed.n_inputs:
        raise ValueError(f"{ds.name} encodes to {spikes.shape[2]} channels, the deployment has {fed.n_inputs}")
    return fed, spikes, np.asarray(y[:limit]), ds.name


def report_inputs(
    dep: Deployment,
    config: Mapping[str, Any] | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    limit: int = 256,
    split: str = "test",
) -> tuple[np.ndarray, np.ndarray, str]:
    """(spikes, labels, dataset name) of :func:`report_feed` for encodings that feed ``dep`` itself; an
    ``"axon-draws"`` encoding feeds another deployment, so it is refused here: use :func:`report_feed`."""
    fed, spikes, y, name = report_feed(dep, config, data_dir=data_dir, limit=limit, split=split)
    if fed is not dep:
        raise ValueError("this encoding feeds the deployment one axon at a time (axon-draws): use report_feed(), "
                         "which also returns the deployment the spikes feed")
    return spikes, y, name


def _json(path: Path, data: Any) -> None:
    from spikeforge.fileio import write_json_atomic

    write_json_atomic(path, data)


def _provenance_value(v: Any, limit: int = 160) -> str:
    """One provenance entry as report text: scalars as they are, anything else as compact JSON (cut at
    ``limit`` characters with an ellipsis; the deployment file holds the whole entry)."""
    if isinstance(v, str | int | float | bool) or v is None:
        return str(v)
    text = json.dumps(v, sort_keys=True, separators=(",", ":"), default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e9):
            return f"{v:.{digits - 1}e}"
        return f"{v:,.0f}" if abs(v) >= 10 ** digits else f"{v:,.{digits}g}"
    return str(v)


def _layer_activity(dep: Deployment, counts: EventCounts) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    b = max(counts.batch, 1)
    for name, idx in layer_groups(dep).items():
        slots = int(dep.enabled[idx].sum()) * int(counts.ticks) * b
        out[name] = {
            "cores": float(len(idx)),
            "neurons": float(dep.enabled[idx].sum()),
            "rate": float(counts.core_spikes[idx].sum()) / slots if slots else None,
            "spikes": float(counts.core_spikes[idx].sum()) / b,
            "synaptic_events": float(counts.core_synaptic_events[idx].sum()) / b,
        }
    return out


def write_report(
    out_dir: str | os.PathLike[str],
    deployment: Deployment,
    results: Mapping[str, Any],
    sim_result: SimResult | None = None,
    *,
    inputs: np.ndarray | None = None,
    metrics: Mapping[str, Any] | None = None,
    comparisons: Sequence[Mapping[str, Any]] = (),
    n_raster: int = 4,
    title: str | None = None,
    fed: Deployment | None = None,
) -> Path:
    """Write the report folder (see the module docstring) and return the path of its ``index.md``.

    Args:
        out_dir: the folder (created; files in it with the report's names are replaced).
        deployment: the deployment the run produced.
        results: the run's results (``spikeforge.evaluate.evaluate_deployment`` / ``run_recipe`` keys:
            ``accuracy``, ``uJ_per_image``, ``dataset``, ...); missing keys are shown as n/a.
        sim_result: the simulator's result on the test inputs, if at hand: its counters give the per-layer
            activity and metrics, its raster (``record_spikes=True``) the raster plot.
        inputs: encoded inputs (B, T, K), e.g. from :func:`report_inputs`: without ``sim_result`` they are
            simulated for the activity (in the regime evaluation chooses), and the first ``n_raster``
            sequentially for the raster.
        metrics: precomputed :func:`spikeforge.metrics.compute_metrics` output (else computed from the
            counters when activity is known).
        comparisons: extra points ``{"label", "uJ_per_image", "accuracy"}`` for the accuracy/energy plot;
            published points for the dataset (:data:`~spikeforge.report.plots.REFERENCE_POINTS`) are added.
        n_raster: inputs shown in the raster.
        title: heading (default: the recipe name or the deployment's method).
        fed: the deployment ``inputs`` feed when it is not ``deployment`` itself — the same cores fed one
            axon at a time (:meth:`Deployment.per_axon_inputs`, encoding ``axon-draws``; :func:`report_feed`
            returns it): simulated and plotted, while ``deployment`` is the one saved.
    """
    from spikeforge.deploy.io import save

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save(deployment, out / "deployment.sfd", check_rules=False)
    dep = fed if fed is not None else deployment
    _json(out / "results.json", dict(results))
    title = title or str(results.get("recipe") or dep.provenance.get("method") or "spikeforge run")
    figures: list[tuple[str, str, str]] = []
    notes: list[str] = []

    # activity: the given result, else a run of the given inputs in the regime evaluation chooses (pipelined
    # for memoryless feed-forward networks), so that the metrics match `spikeforge simulate --metrics`
    counts: EventCounts | None = sim_result.counts if sim_result is not None else None
    raster: np.ndarray | None = sim_result.spikes if sim_result is not None else None
    raster_inputs = inputs
    activity = ""
    if sim_result is not None:
        regime = "sequential" if sim_result.ticks == sim_result.counts.ticks else "pipelined"
        activity = f"the simulator's {regime} run of {sim_result.counts.batch} inputs"
    elif inputs is not None:
        from spikeforge.evaluate import run_simulation

        sim_result, regime = run_simulation(dep, inputs)
        counts = sim_result.counts
        activity = f"a {regime} run of the first {counts.batch} test inputs"
    if raster is None and inputs is not None:
        k = n_raster if inputs.shape[1] > 1 or dep.ticks_per_input > 1 else max(n_raster, 32)
        raster = simulate(dep, inputs[:k], record_spikes=True).spikes
        raster_inputs = inputs[:k]
    if raster is None:
        notes.append("No raster: pass `sim_result` recorded with `record_spikes=True`, or `inputs`.")
    if counts is None:
        notes.append("No activity: pass `sim_result` or `inputs` for per-layer activity and workload metrics.")
    if metrics is None:
        metrics = compute_metrics(dep, sim_result if sim_result is not None else counts)
    elif activity:
        activity = "the metrics given; activity from " + activity
    _json(out / "metrics.json", dict(metrics))

    # figures
    acc, uj = results.get("accuracy"), results.get("uJ_per_image")
    dataset = str(results.get("dataset", ""))
    refs = REFERENCE_POINTS.get(dataset.lower(), [])
    if acc is not None and uj is not None:
        points = [{"label": title, "uJ_per_image": uj, "accuracy": acc}, *[dict(c) for c in comparisons]]
        plot_accuracy_energy(points, out / "accuracy_vs_energy.png", references=refs)
        caption = "This run (filled)" + (f" and published results on {dataset} (hollow: "
                                         + "; ".join(f"{r['label']}, {r['source']}" for r in refs) + ")"
                                         if refs else "") + "."
        figures.append(("Accuracy and energy", "accuracy_vs_energy.png", caption))
    plot_chip_map(dep, out / "chip_map.png")
    ax_u, nu_u = utilisation(dep)
    figures.append(("Chip utilisation", "chip_map.png",
                    f"{dep.n_cores} core(s) on {dep.n_chips} chip(s); mean axons driven per core "
                    f"{100 * ax_u.mean():.1f} %, neurons enabled {100 * nu_u.mean():.1f} %."))
    if raster is not None:
        shown = raster.shape[3] if raster.shape[0] == 1 else min(n_raster, raster.shape[3])
        plot_raster(dep, raster, out / "raster.png", inputs=raster_inputs, n_inputs=shown)
        figures.append(("Spike raster", "raster.png",
                        f"Every enabled neuron's spikes for the first {shown} input(s), "
                        f"{raster.shape[0]} tick(s) each (sequential run), coloured by layer."))
    per_layer = _layer_activity(dep, counts) if counts is not None else {}
    if per_layer:
        plot_layer_activity(per_layer, out / "layer_activity.png")
        figures.append(("Activity per layer", "layer_activity.png",
                        f"Cores grouped by label; {counts.batch if counts else 0} inputs, "
                        f"{counts.ticks if counts else 0} tick(s) per input."))

    index = out / "index.md"
    write_text_atomic(index, _index_md(title, dep, results, metrics, per_layer, figures, notes, activity))
    return index


def _index_md(
    title: str,
    dep: Deployment,
    results: Mapping[str, Any],
    metrics: Mapping[str, Any],
    per_layer: dict[str, dict[str, float | None]],
    figures: list[tuple[str, str, str]],
    notes: list[str],
    activity: str = "",
) -> str:
    acc = results.get("accuracy")
    rows = [
        ("dataset", f"{results.get('dataset', 'n/a')} ({results.get('n_inputs', 'n/a')} inputs)"),
        ("accuracy (simulator)", "n/a" if acc is None else f"{100 * float(acc):.2f} %"),
        *([("ANN accuracy (converted from)", f"{100 * float(results['ann_accuracy']):.2f} %")]
          if results.get("ann_accuracy") is not None else []),
        *([("agreement with the ANN", f"{100 * float(results['agreement']):.2f} %")]
          if results.get("agreement") is not None else []),
        ("chip", f"{dep.chip.name}: {dep.n_cores} core(s) on {dep.n_chips} chip(s)"),
        ("regime", str(results.get("regime", "n/a"))),
        ("ticks per input / latency", f"{dep.ticks_per_input} / {results.get('latency_ticks', 'n/a')}"),
        ("energy per image", f"{_fmt(results.get('uJ_per_image'))} µJ"),
        ("power", f"{_fmt(results.get('mW'))} mW"),
        ("frames / s", _fmt(results.get("fps"))),
        ("frames / s / W", _fmt(results.get("fps_per_W"))),
    ]
    lines = [f"# Run report: {title}", ""]
    prov = {k: _provenance_value(v) for k, v in dep.provenance.items()}
    if prov:
        lines += ["Provenance: " + ", ".join(f"{k} = `{v}`" for k, v in prov.items()), ""]
    lines += ["| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows], ""]
    for heading, png, caption in figures:
        lines += [f"## {heading}", "", f"![{heading}]({png})", "", caption, ""]
        if png == "layer_activity.png":
            lines += ["| layer | cores | neurons | spikes / input | spikes / neuron / tick | synaptic events / input |",
                      "|---|---:|---:|---:|---:|---:|"]
            for name, v in per_layer.items():
                lines.append(f"| {name} | {int(v['cores'] or 0)} | {int(v['neurons'] or 0)} | {_fmt(v['spikes'])} | "
                             f"{_fmt(v['rate'])} | {_fmt(v['synaptic_events'])} |")
            lines.append("")
    nb = metrics.get("neurobench", {})
    ops = nb.get("SynapticOperations") or {}
    lines += [
        "## Metrics (NeuroBench-compatible)", "",
        "Definitions and where spikeforge counts differently: the documentation's *Metrics* pages."
        + (f" Activity and workload metrics: {activity}." if activity else ""), "",
        "| metric | value |", "|---|---:|",
        f"| footprint (bytes, as stored on chip) | {_fmt(nb.get('Footprint'))} |",
        f"| connection sparsity | {_fmt(nb.get('ConnectionSparsity'))} |",
        f"| activation sparsity | {_fmt(nb.get('ActivationSparsity'))} |",
        f"| synaptic operations: dense / effective ACs / effective MACs per input | {_fmt(ops.get('Dense'))} / "
        f"{_fmt(ops.get('Effective_ACs'))} / {_fmt(ops.get('Effective_MACs'))} |",
        f"| membrane updates per input | {_fmt(nb.get('MembraneUpdates'))} |",
        "",
    ]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    lines += [
        "## Files", "",
        "- `deployment.sfd`: the deployment (`spikeforge check deployment.sfd`, `spikeforge simulate ...`)",
        "- `results.json`: the run's results",
        "- `metrics.json`: all metrics, per layer included",
        *[f"- `{png}`" for _, png, _ in figures],
        "",
    ]
    return "\n".join(lines)
