"""The ``spikeforge`` command.

    spikeforge run [RECIPE] [--set K=V ...]  whole flow on a recipe (default: the built-in default recipe)
    spikeforge recipes [NAME]                list shipped recipes, or print one recipe's TOML
    spikeforge chips                         list chip presets
    spikeforge check DEPLOYMENT              structure + design rules, all violations listed
    spikeforge simulate DEPLOYMENT -d NAME   accuracy, events and energy on a dataset
    spikeforge energy DEPLOYMENT -d NAME     energy breakdown on a dataset
    spikeforge data list|verify|download     datasets
    spikeforge convert MODEL.pt ...          trained ANN → spiking deployment by layer-wise constrained solves
    spikeforge memory DEPLOYMENT             synaptic-memory footprint and energy per pass, by encoding
    spikeforge compare RUN...                runs side by side: accuracy, µJ/image, the Pareto front
    spikeforge sweep RECIPE --vary K V...    one run per combination of settings, then compared
    spikeforge export-nir DEPLOYMENT OUT     NIR graph (exact, or --approximate with what was approximated)
    spikeforge import-nir IN.nir [--out F]   NIR graph → deployment

Every command takes ``--json`` for machine-readable output and ``--help``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from spikeforge import __version__

if TYPE_CHECKING:
    from spikeforge.data.source import Spikes
    from spikeforge.deploy import Deployment

# Piped output is not cut to 80 columns (rich's default off a terminal): tables keep their labels whole and
# messages are not hard-wrapped mid-sentence.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, soft_wrap=True)


def _emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _table(title: str, rows: list[tuple[str, Any]]) -> Table:
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    for k, v in rows:
        t.add_row(k, _fmt(v))
    return t


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v == 0 or 1e-3 <= abs(v) < 1e6:
            return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.1f}"
        return f"{v:.3e}"
    return str(v)


def _results_rows(r: dict[str, Any], split: str = "test") -> list[tuple[str, Any]]:
    ev = r.get("events_per_input", {})
    rows: list[tuple[str, Any]] = [
        ("dataset", r.get("dataset", "")),
        (f"{split} inputs", r.get("n_inputs", "")),
        ("accuracy (simulator)", f"{100 * r['accuracy']:.2f} %"),
        ("cores / chips", f"{r['cores']} / {r['chips']}"),
        ("regime", r.get("regime", "")),
        ("ticks per input / latency", f"{r['ticks_per_input']} / {r['latency_ticks']}"),
        ("synaptic events / input", ev.get("synaptic_events", 0.0)),
        ("spikes / input", ev.get("spikes", 0.0)),
        ("energy / input (µJ)", r["uJ_per_image"]),
        ("power (mW)", r["mW"]),
        ("frames / s", r["fps"]),
        ("frames / s / W", r["fps_per_W"]),
    ]
    if "ann_accuracy" in r:  # a conversion: the network it approximates, and how closely
        rows.insert(3, ("ANN accuracy (converted from)", f"{100 * r['ann_accuracy']:.2f} %"))
        if "agreement" in r:
            rows.insert(4, ("agreement with the ANN", f"{100 * r['agreement']:.2f} %"))
    if "neuron_modes" in r:
        rows.append(("neuron modes", r["neuron_modes"]))
    return rows


# ---------------------------------------------------------------------------- commands
def cmd_run(a: argparse.Namespace) -> int:
    from spikeforge.pipeline import run_recipe
    from spikeforge.recipes import apply_overrides, load_recipe, run_folder, validate_recipe

    recipe = apply_overrides(load_recipe(a.recipe), a.set or [])
    validate_recipe(recipe)  # before anything is written
    out = Path(a.out) if a.out else run_folder(recipe)
    if a.dry_run:  # the settings the run would use, checked; nothing trained or written
        plan = {"recipe": recipe.name, "method": recipe.method, "source": recipe.source,
                "overrides": list(recipe.overrides), "out": str(out), "config": recipe.config}
        if a.json:
            _emit_json(plan)
        else:
            console.print(f"[bold]{recipe.name}[/bold] ({recipe.method}) from {escape(recipe.source)}: settings "
                          f"valid; would write {escape(str(out))}")
            print(json.dumps(recipe.config, indent=2))
        return 0
    if not a.json:
        console.print(f"[bold]spikeforge run[/bold] {recipe.name} ({recipe.method}) → {out}")
        if recipe.description:
            console.print(escape(" ".join(recipe.description.split())), style="dim")  # rich re-wraps it
        if recipe.overrides:
            console.print(escape(f"settings changed: {' '.join(recipe.overrides)}"), highlight=False)
        previous = _previous_config(out / "results.json")
        if previous is not None and previous != json.loads(json.dumps(recipe.config)):
            err_console.print(escape(f"note: {out} holds a run with other settings; this run replaces it "
                                     "(--out DIR keeps both)"), style="yellow", highlight=False)
    data_dir = Path(a.data_dir) if a.data_dir else None
    results = run_recipe(recipe, out, data_dir)
    if not a.no_report:
        from spikeforge.deploy import load
        from spikeforge.fileio import write_json_atomic
        from spikeforge.report import report_feed, write_report

        dep = load(out / "deployment.sfd")
        fed, x, _, _ = report_feed(dep, recipe.config, data_dir=data_dir, limit=256)
        results["report"] = str(out / "index.md")
        write_report(out, dep, results, inputs=x, fed=fed)
        write_json_atomic(out / "results.json", results)
    if a.json:
        _emit_json(results)
    else:
        console.print(_table(f"{recipe.name}: results", _results_rows(results)))
        console.print(f"deployment: {results['deployment']}\nresults:    {out / 'results.json'}")
        if "report" in results:
            console.print(f"report:     {results['report']}")
    return 0


def _previous_config(path: Path) -> dict[str, Any] | None:
    """The ``recipe_config`` an earlier run left in ``path`` (``None`` if none or unreadable)."""
    try:
        cfg = json.loads(path.read_text(encoding="utf-8")).get("recipe_config")
    except (OSError, ValueError, AttributeError):
        return None
    return cfg if isinstance(cfg, dict) else None


def cmd_recipes(a: argparse.Namespace) -> int:
    from spikeforge.recipes import DEFAULT_RECIPE, list_recipes, load_recipe, recipe_text

    if a.name:  # one recipe: its TOML, ready to copy (`spikeforge recipes binary-small > mine.toml`)
        rec = load_recipe(a.name)
        if a.json:
            _emit_json({"name": rec.name, "method": rec.method, "source": rec.source, "summary": rec.summary,
                        "config": rec.config})
        else:
            sys.stdout.write(recipe_text(a.name))
        return 0
    rows: list[dict[str, Any]] = []
    for name in list_recipes():
        rec = load_recipe(name)
        rows.append({"name": name, "method": rec.method, "default": name == DEFAULT_RECIPE,
                     "summary": rec.summary, "description": " ".join(rec.description.split())})
    if a.json:
        _emit_json(rows)
        return 0
    t = Table(title="shipped recipes", caption="spikeforge recipes NAME prints one in full (TOML); "
              "spikeforge run NAME --set TABLE.KEY=VALUE changes a setting")
    for col in ("name", "method", "summary"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["name"] + (" (default)" if r["default"] else ""), r["method"], r["summary"])
    console.print(t)
    return 0


def cmd_chips(a: argparse.Namespace) -> int:
    from spikeforge.hardware import PRESETS, get_chip
    from spikeforge.hardware.chipfile import chip_to_toml

    chips = [get_chip(c) for c in a.chips] if a.chips else list(PRESETS.values())
    if a.toml:
        if len(chips) != 1:
            raise ValueError("--toml prints one chip: name one preset or chip file")
        if a.json:
            raise ValueError("--toml and --json are two formats: choose one")
        sys.stdout.write(chip_to_toml(chips[0]))
        return 0
    if a.json:
        _emit_json({c.name: c.to_dict() for c in chips})
        return 0
    t = Table(title="chips (every parameter: spikeforge chips --json; a chip file to edit: spikeforge chips NAME "
              "--toml)")
    t.add_column("", no_wrap=True)
    for p in chips:
        t.add_column(p.name + (f" (from {p.base})" if p.base else ""))

    def row(label: str, fn: Any) -> None:
        t.add_row(label, *(fn(p, p.core) for p in chips))

    row("cores per chip", lambda p, c: f"{p.cores_per_chip} ({p.mesh_rows} x {p.mesh_cols})")
    row("chips per board", lambda p, c: str(p.max_chips))
    row("axons x neurons", lambda p, c: f"{c.n_axons} x {c.n_neurons}")
    row("axon types", lambda p, c: str(c.n_axon_types))
    row("crossbar entry", lambda p, c: f"[{c.crossbar_min}, {c.crossbar_max}]")
    row("weight s_j[G]", lambda p, c: f"[{c.weight_min}, {c.weight_max}]")
    row("leak", lambda p, c: f"[{c.leak_min}, {c.leak_max}]")
    row("membrane", lambda p, c: f"{c.membrane_bits} bit")
    row("delay", lambda p, c: f"{c.delay_min}-{c.delay_max} ticks")
    row("tick", lambda p, c: f"{p.tick_hz:g} Hz")
    row("stochastic modes", lambda p, c: f"yes (mask <= {c.threshold_mask_bits} bit)" if c.stochastic_modes else "no")
    row("synaptic memory", lambda p, c: "dense crossbar" if c.synapse_memory_bits is None
        else f"{c.synapse_memory_bits // 8192} KiB per core")
    if any(p.base for p in chips):  # derived chips: where their energy constants come from
        row("energy constants", lambda p, c: "calibrated preset" if not p.base
            else f"{p.base}'s" + (f" + {len(p.energy)} own" if p.energy else ""))
    console.print(t)
    return 0


def cmd_check(a: argparse.Namespace) -> int:
    from spikeforge.deploy import load
    from spikeforge.hardware.rules import violations

    if a.max_rows < 0:
        raise ValueError(f"--max-rows must be >= 0, got {a.max_rows}")
    dep = load(a.deployment, check_rules=False)
    found = violations(dep)
    if a.json:
        _emit_json({"summary": dep.summary(), "ok": not found,
                    "violations": [{"rule": v.rule, "where": v.where, "value": v.value, "limit": v.limit}
                                   for v in found]})
    else:
        console.print(_table(f"{a.deployment}", [(k, v) for k, v in dep.summary().items() if k != "provenance"]))
        if dep.provenance:
            console.print("provenance: " + json.dumps(dep.provenance), style="dim")
        if found:
            t = Table(title=f"{len(found)} design-rule violation(s)", title_style="bold red")
            for col in ("rule", "where", "value", "limit"):
                t.add_column(col)
            for v in found[: a.max_rows]:
                t.add_row(v.rule, v.where, str(v.value), v.limit)
            console.print(t)
            if len(found) > a.max_rows:
                console.print(f"... {len(found) - a.max_rows} more (use --json for all)")
        else:
            console.print("[green]all design rules pass[/green]")
    return 1 if found else 0


class EncodingWarning(UserWarning):
    """A deployment without a recorded input encoding is fed with the default encoder."""


def _encoded_dataset(a: argparse.Namespace, dep: Any) -> tuple[Any, Spikes, np.ndarray, str]:
    """(deployment to simulate, spikes, labels, dataset name): ``dep`` itself, or for encoding
    ``axon-draws`` the same cores fed one axon at a time (:meth:`Deployment.per_axon_inputs`), whose spikes
    are drawn a block at a time as the simulator reads them."""
    from spikeforge.data import load_dataset
    from spikeforge.data.encode import inputs_for_deployment

    ds = load_dataset(a.dataset, Path(a.data_dir) if a.data_dir else None)
    built_for = dep.provenance.get("dataset")
    if isinstance(built_for, str) and built_for != ds.name:
        err_console.print(f"[bold yellow]warning:[/bold yellow] the deployment was built for {built_for}; "
                          f"running it on {ds.name}", highlight=False)
    x, y = (ds.x_test, ds.y_test) if a.split == "test" else (ds.x_train, ds.y_train)
    if a.limit is not None:
        x, y = x[: a.limit], y[: a.limit]
    recorded_enc = dep.provenance.get("encoding", {})
    if not isinstance(recorded_enc, dict):
        raise ValueError(f"{a.deployment}: its provenance 'encoding' is {recorded_enc!r}, not a table of encoder "
                         "settings; name the encoding (--encoding, --threshold, --ticks)")
    enc_cfg = dict(recorded_enc)
    if not enc_cfg and dep.provenance.get("private_inputs"):  # written before deployments recorded encodings
        enc_cfg = {"kind": "bernoulli-draws"}
    recorded = bool(enc_cfg)
    given = False
    if a.enc_kind in ("axon-draws", "bernoulli-draws") and a.enc_kind != enc_cfg.get("kind"):
        # draws take no threshold or levels: a recorded encoder's do not carry over to the new kind
        enc_cfg = {k: v for k, v in enc_cfg.items() if k not in ("threshold", "levels")}
    for key in ("kind", "ticks", "threshold", "seed", "levels"):
        val = getattr(a, f"enc_{key}")
        if val is not None:
            enc_cfg[key] = val
            given = True
    # errors are ValueErrors: one "error:" line on stderr and exit status 2, like every other bad input
    dep, spikes = inputs_for_deployment(x, enc_cfg, dep, default_seed=int(dep.provenance.get("seed", 0)))
    if not recorded and not given and spikes.shape[1] != dep.ticks_per_input:
        # the default encoder (threshold 0.5, one tick) would silently give a wrong answer here
        raise ValueError(
            f"the deployment records no input encoding and takes {dep.ticks_per_input} ticks per input; "
            f"the default encoding gives {spikes.shape[1]}: name one, e.g. --encoding regular --ticks "
            f"{dep.ticks_per_input}"
        )
    if not recorded and not given:
        warnings.warn("the deployment records no input encoding: encoding with the default (threshold 0.5, one "
                      "tick); if it was built for another, name it (--encoding, --threshold, --ticks)",
                      EncodingWarning, stacklevel=2)
    if spikes.shape[2] != dep.n_inputs:
        raise ValueError(
            f"dataset {ds.name} encodes to {spikes.shape[2]} channels but the deployment expects "
            f"{dep.n_inputs} inputs"
        )
    return dep, spikes, y, ds.name


def _load_with_seed(a: argparse.Namespace) -> Deployment:
    """The deployment, with ``--prng-seed`` (the stochastic modes' seed) applied when given."""
    from spikeforge.deploy import load

    dep = load(a.deployment)
    if a.prng_seed is not None:
        if not 0 <= a.prng_seed < 2**32:
            raise ValueError(f"--prng-seed must be in [0, 2^32), got {a.prng_seed}")
        if not dep.stochastic:
            warnings.warn("--prng-seed has no effect: the deployment uses no stochastic mode", stacklevel=2)
        dep.prng_seed = a.prng_seed
    return dep


def _simulate_over_seeds(a: argparse.Namespace, dep: Deployment) -> int:
    """``simulate --prng-repeats K``: one run per PRN seed, accuracy and energy as mean ± std."""
    from spikeforge.evaluate import evaluate_over_seeds

    if a.prng_repeats < 2:
        raise ValueError(f"--prng-repeats must be >= 2, got {a.prng_repeats}")
    if a.metrics:
        raise ValueError("--prng-repeats and --metrics do not combine: compute metrics on one seed")
    if not dep.stochastic:
        raise ValueError("--prng-repeats: the deployment uses no stochastic mode, so every seed gives the same run")
    fed, spikes, y, name = _encoded_dataset(a, dep)
    seeds = [(dep.prng_seed + k) % 2**32 for k in range(a.prng_repeats)]
    res = evaluate_over_seeds(fed, spikes, y, seeds, name=name, regime=a.regime, tick_hz=a.tick_hz, device=a.device,
                              batch_size=a.batch_size, progress=not a.json)
    if a.json:
        _emit_json(res)
        return 0
    rows = _results_rows(res["runs"][0], a.split)
    summary = {
        "accuracy (simulator)": f"{100 * res['accuracy_mean']:.2f} ± {100 * res['accuracy_std']:.2f} % "
                                f"over {len(seeds)} PRN seeds",
        "energy / input (µJ)": f"{res['uJ_per_image_mean']:.4g} ± {res['uJ_per_image_std']:.2g}",
    }
    rows = [(k, summary.get(k, v)) for k, v in rows]
    rows.append(("PRN seeds", f"{seeds[0]} … {seeds[-1]} (other rows: seed {seeds[0]})"))
    console.print(_table(f"{a.deployment} on {name} ({a.split})", rows))
    return 0


def cmd_simulate(a: argparse.Namespace) -> int:
    from spikeforge.evaluate import evaluate_deployment

    dep = _load_with_seed(a)
    if a.prng_repeats is not None:
        return _simulate_over_seeds(a, dep)
    fed, spikes, y, name = _encoded_dataset(a, dep)
    r = evaluate_deployment(fed, spikes, y, name=name, regime=a.regime, tick_hz=a.tick_hz, device=a.device,
                            batch_size=a.batch_size, progress=not a.json, metrics=a.metrics, replay=a.replay)
    if a.replay and not a.metrics:
        err_console.print("[bold yellow]warning:[/bold yellow] --replay has no effect without --metrics (it "
                          "replays the inputs to count the metrics' effective ACs and membrane updates exactly)",
                          highlight=False)
    if a.report:
        from spikeforge.report import write_report

        # the report's activity, metrics and raster come from (at most) the first 256 of these inputs
        prov = {k: dep.provenance[k] for k in ("method", "recipe") if isinstance(dep.provenance.get(k), str)}
        r["report"] = str(write_report(a.report, dep, {**prov, **r, "source": str(a.deployment), "split": a.split},
                                       inputs=np.asarray(spikes[:256]),
                                       title=f"{Path(a.deployment).name} on {name}", fed=fed))
    if a.json:
        _emit_json(r)
    else:
        console.print(_table(f"{a.deployment} on {name} ({a.split})", _results_rows(r, a.split)))
        if a.metrics:
            from spikeforge.metrics import metrics_rows

            console.print(_table("metrics (NeuroBench-style)", metrics_rows(r["metrics"])))
        if a.report:
            console.print(f"report: {r['report']}")
    return 0


def cmd_convert(a: argparse.Namespace) -> int:
    from spikeforge.methods.layerwise.api import convert
    from spikeforge.progress import enabled as progress_enabled

    if not 0.0 <= a.max_gap <= 100.0:
        raise ValueError(f"--max-gap must be between 0 and 100 points, got {a.max_gap:g}")

    def log(msg: str) -> None:  # progress lines on stderr (stdout stays the table or the JSON)
        err_console.print(f"[dim]{escape(msg)}[/dim]", highlight=False)

    res = convert(a.model, a.constraints, a.out, a.chip, a.ticks, dataset=a.dataset,
                  data_dir=Path(a.data_dir) if a.data_dir else None, n_calib=2000 if a.calib is None else a.calib,
                  n_test=2000 if a.test is None else a.test, keep=a.keep, method=a.method, workers=a.workers,
                  allow_pickle=a.allow_pickle, log=log if progress_enabled() else None, max_gap=a.max_gap / 100.0)
    for opt, asked, used, split in (("--calib", a.calib, res["n_calib"], "training"),
                                    ("--test", a.test, res["n_test"], "test")):
        if asked is not None and asked > used:  # asked for more images than the split has
            err_console.print(f"[bold yellow]warning:[/bold yellow] {opt} {asked}: {res['dataset']} has "
                              f"{used} {split} images; all {used} were used", highlight=False)
    if a.json:
        _emit_json(res)
        return 0
    rows: list[tuple[str, Any]] = [
        ("constraints / chip", f"{res['constraints']} / {res['chip'] or 'none (rate model)'}"),
        ("method", res["method"]),
        ("hidden units kept", res["hidden_units"]),
        ("ANN accuracy", f"{100 * res['ann_accuracy']:.2f} %"),
        ("SNN accuracy", f"{100 * res['snn_accuracy']:.2f} %"
         + (" (simulator)" if "deployment" in res else " (tick model)")),
        ("agreement with ANN", f"{100 * res['agreement']:.2f} %"),
        ("solve time (s)", res["solve_s"]),
    ]
    if "ticks_search" in res:
        rows.insert(0, ("ticks (auto)", f"{res['ticks']}: " + ", ".join(
            f"T={r['ticks']} {100 * r['val_accuracy']:.2f} %" for r in res["ticks_search"])
            + f" (held-out; ANN {100 * res['ticks_search'][0]['ann_val_accuracy']:.2f} %)"))
    if "deployment" in res:
        rows += [("cores", res["cores"]), ("energy / input (µJ)", res["uJ_per_image"]),
                 ("deployment", res["deployment"])]
    console.print(_table(f"converted {a.model}", rows))
    return 0


def _is_deployment_file(path: str) -> bool:
    """A ``.sfd`` file (read as a deployment, so a damaged one gets the deployment reader's error), or any zip
    archive holding a deployment manifest."""
    import zipfile

    if path.lower().endswith(".sfd"):
        return True
    try:
        with zipfile.ZipFile(path) as z:
            return "manifest.json" in z.namelist()
    except (zipfile.BadZipFile, IsADirectoryError):
        return False


def _memory_report_of_model(a: argparse.Namespace) -> Any:
    """``spikeforge memory MODEL.pt``: a spikeforge model file, a pickled module or a state dict."""
    from collections.abc import Mapping

    import torch
    from torch import nn

    from spikeforge.energy.memory import memory_report_module, memory_report_tensors
    from spikeforge.methods.layerwise.api import load_model, read_torch_file

    try:
        shape = tuple(int(s) for s in (a.input_shape or "1,28,28").split(","))
    except ValueError:
        raise ValueError(f"--input-shape must be integers such as 1,28,28, got {a.input_shape!r}") from None

    def module_shape(m: nn.Module) -> tuple[int, ...]:
        """--input-shape, else what a model whose first weighted layer is a Linear takes: its in_features."""
        if a.input_shape is None:
            first = next((x for x in m.modules() if isinstance(x, (nn.Linear, nn.Conv2d))), None)
            if isinstance(first, nn.Linear):
                return (first.in_features,)
        return shape

    obj = read_torch_file(a.deployment, allow_pickle=a.allow_pickle)
    if isinstance(obj, Mapping) and "arch" in obj:
        model = load_model(a.deployment, allow_pickle=a.allow_pickle)
        return memory_report_module(model, a.bits, module_shape(model))
    if isinstance(obj, nn.Module):
        return memory_report_module(obj, a.bits, module_shape(obj))
    if isinstance(obj, Mapping) and {"model", "method", "config"} <= set(obj):  # a `spikeforge run` model.pt
        dep_path = Path(a.deployment).with_name("deployment.sfd")
        raise ValueError(f"{a.deployment}: a core-network training checkpoint (the model.pt `spikeforge run` "
                         f"writes), not a network's weights; its synapses are in the run's deployment: spikeforge "
                         f"memory {dep_path}")
    sd = obj.get("state_dict", obj) if isinstance(obj, Mapping) else None
    if not isinstance(sd, Mapping) or not any(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ValueError(f"{a.deployment}: neither a deployment, a model nor a state dict of tensors")
    hw = (shape[-2], shape[-1]) if len(shape) >= 2 else (1, 1)
    rep = memory_report_tensors({str(k): v for k, v in sd.items() if isinstance(v, torch.Tensor)}, a.bits, hw)
    if not rep.layers:
        raise ValueError(f"{a.deployment}: no 2-D (Linear) or square 4-D (Conv2d) weight tensor in it")
    return rep


def cmd_memory(a: argparse.Namespace) -> int:
    from spikeforge.deploy import load
    from spikeforge.energy.memory import memory_report

    if not Path(a.deployment).is_file():
        raise FileNotFoundError(f"{a.deployment}: no such file")
    if _is_deployment_file(a.deployment):
        given = [f for f, v in (("--bits", a.bits), ("--input-shape", a.input_shape)) if v is not None]
        if given:  # a deployment's weights and layer shapes are what it stores: refuse rather than ignore
            verb = "apply" if len(given) > 1 else "applies"
            raise ValueError(f"{' and '.join(given)} {verb} to PyTorch models; {a.deployment} is a deployment "
                             "(its stored weights are analysed as they are; --source picks crossbar or effective)")
        rep = memory_report(load(a.deployment), source=a.source)
        what = a.source
    else:
        a.bits = 8 if a.bits is None else a.bits
        rep = _memory_report_of_model(a)
        what = f"{a.bits}-bit weights"
    if a.plot:
        from spikeforge.report.plots import plot_memory_totals

        plot_memory_totals(rep.totals(), Path(a.plot), title=f"{Path(a.deployment).name} ({what})",
                           cheapest=rep.cheapest("training"), n_layers=len(rep.layers))
    if a.json:
        _emit_json(rep.to_dict())
        return 0
    t = Table(title=f"synaptic memory of {a.deployment} ({what}; whole network, per full pass)")
    for col in ("encoding", "footprint (KiB)", "forward (µJ)", "backward (µJ)", "update (µJ)", "training (µJ)"):
        t.add_column(col, justify="left" if col == "encoding" else "right")
    best = rep.cheapest("training")
    for enc, tot in sorted(rep.totals().items(), key=lambda kv: kv[1]["training_j"]):
        mark = " (cheapest)" if enc == best else ""
        t.add_row(enc + mark, f"{tot['footprint_bits'] / 8192:.2f}",
                  *(f"{tot[k] * 1e6:.4g}" for k in ("forward_j", "backward_j", "update_j", "training_j")))
    console.print(t)
    console.print(f"cheapest: training {best}, inference {rep.cheapest('inference')}, "
                  f"footprint {rep.cheapest('footprint')}")
    if a.plot:
        console.print(f"plot: {a.plot}")
    return 0


def cmd_sweep(a: argparse.Namespace) -> int:
    from spikeforge.recipes import apply_overrides, load_recipe, run_folder
    from spikeforge.sweep import run_sweep

    vary: dict[str, list[str]] = {}
    for key, *values in a.vary:
        if key in vary:
            raise ValueError(f"--vary {key} given twice: list all its values after one --vary")
        vary[key] = values
    fixed = {item.partition("=")[0].strip() for item in a.set or []}
    both = sorted(fixed & set(vary))
    if both:
        raise ValueError(f"{', '.join(both)} given to both --set and --vary: the sweep would override --set; "
                         "give each setting to one of them")
    recipe = apply_overrides(load_recipe(a.recipe), a.set or [])
    out = Path(a.out) if a.out else run_folder(recipe).with_name(f"{run_folder(recipe).name}-sweep")

    def log(msg: str) -> None:
        if not a.json:
            err_console.print(escape(msg), highlight=False)

    rows = run_sweep(recipe, vary, out, Path(a.data_dir) if a.data_dir else None, rerun=a.rerun, jobs=a.jobs,
                     log=log)
    if a.json:
        _emit_json(rows)
        return 0
    t = Table(title=f"{recipe.name}: {len(rows)} runs by energy per image (* = Pareto-optimal)")
    for col in ("settings", "acc. %", "µJ/image", "cores"):
        t.add_column(col, justify="left" if col == "settings" else "right")
    for r in rows:
        t.add_row(("* " if r["pareto"] else "  ") + escape(r["label"]), f"{100 * r['accuracy']:.2f}",
                  f"{r['uJ_per_image']:.4g}", str(r["cores"] if r["cores"] is not None else ""))
    console.print(t)
    console.print(f"runs: {out}/*   table: {out / 'sweep.json'}   plot: {out / 'sweep.png'}")
    return 0


def cmd_compare(a: argparse.Namespace) -> int:
    from spikeforge.report.compare import compare_runs

    rows = compare_runs(a.runs)
    datasets = sorted({str(r["dataset"]) for r in rows})
    if len(datasets) > 1:
        err_console.print(escape(f"warning: the runs are on different datasets ({', '.join(datasets)}): their "
                                 "accuracies are not comparable"), style="yellow", highlight=False)
    if a.plot:
        from spikeforge.report.plots import plot_pareto

        plot_pareto(rows, Path(a.plot))
    if a.csv:
        from spikeforge.report.compare import rows_to_csv

        rows_to_csv(rows, Path(a.csv))
    if a.json:
        _emit_json(rows)
        return 0
    t = Table(title=f"{len(rows)} runs by energy per image (* = Pareto-optimal: none is as accurate for less; "
              "--json for ticks, FPS, settings)")
    for col, just in (("run", "left"), ("method", "left"), ("dataset", "left"), ("chip", "left"),
                      ("acc. %", "right"), ("µJ/image", "right"), ("cores", "right")):
        t.add_column(col, justify=just, no_wrap=col in ("acc. %", "µJ/image", "cores"))  # type: ignore[arg-type]
    for r in rows:
        t.add_row(("* " if r["pareto"] else "  ") + escape(str(r["label"])), str(r["method"]), str(r["dataset"]),
                  str(r["chip"]), f"{100 * r['accuracy']:.2f}", f"{r['uJ_per_image']:.4g}",
                  str(r["cores"] if r["cores"] is not None else ""))
    console.print(t)
    if a.plot:
        console.print(f"plot: {a.plot}")
    if a.csv:
        console.print(f"csv: {a.csv}")
    return 0


def cmd_export_nir(a: argparse.Namespace) -> int:
    from spikeforge.interop import export_nir_file

    info = export_nir_file(a.deployment, a.out, approximate=a.approximate, ticks=a.ticks, embed=not a.no_embed)
    if a.json:
        _emit_json(info)
        return 0
    kind = "exact" if info["exact"] else "APPROXIMATE"
    console.print(f"wrote {info['path']} ({kind}; nodes {info['nodes']}; output tick offsets {info['tick_offsets']})")
    for f in info["approximations"]:
        console.print(escape(f"- approximated: {f}"), style="yellow")
    return 0


def cmd_import_nir(a: argparse.Namespace) -> int:
    from spikeforge.interop import import_nir_file

    info = import_nir_file(a.source, a.out, chip=a.chip, approximate=a.approximate, ticks=a.ticks)
    if a.json:
        _emit_json(info)
        return 0
    console.print(_table(f"imported {a.source} → {info['path']}",
                         [(k, v) for k, v in info["summary"].items() if k != "provenance"]))
    for n in info["notes"] + [f"approximated: {x}" for x in info["approximations"]]:
        console.print(escape(f"- {n}"), style="dim")
    return 0


def cmd_energy(a: argparse.Namespace) -> int:
    from spikeforge.evaluate import evaluate_deployment

    dep = _load_with_seed(a)
    fed, spikes, y, name = _encoded_dataset(a, dep)
    r = evaluate_deployment(fed, spikes, y, name=name, regime=a.regime, tick_hz=a.tick_hz, device=a.device,
                            batch_size=a.batch_size, progress=not a.json)
    e = r["energy"]
    if a.plot:
        from spikeforge.report.plots import plot_energy_breakdown

        plot_energy_breakdown(e["breakdown_uj"], Path(a.plot), title=f"{Path(a.deployment).name} on {name}")
    if a.json:  # the report's own names, and simulate's names for the same three numbers
        _emit_json({**e, "uJ_per_image": r["uJ_per_image"], "mW": r["mW"], "fps_per_W": r["fps_per_W"]})
        return 0
    t = Table(title=f"energy per input of {a.deployment} ({e['regime']}, {e['tick_hz']:g} ticks/s)")
    t.add_column("term")
    t.add_column("µJ / input", justify="right")
    t.add_column("share", justify="right")
    total = e["energy_uj"] or 1.0
    for term, v in e["breakdown_uj"].items():
        t.add_row(term, f"{v:.4g}", f"{100 * v / total:.1f} %")
    t.add_row("[bold]total[/bold]", f"[bold]{e['energy_uj']:.4g}[/bold]", "100 %")
    console.print(t)
    console.print(_table("throughput", [("power (mW)", e["power_mw"]), ("frames / s", e["fps"]),
                                        ("frames / s / W", e["fps_per_w"])]))
    for s in e["assumptions"]:
        console.print(escape(f"- {s}"), style="dim")
    if a.plot:
        console.print(f"plot: {a.plot}")
    return 0


def cmd_data(a: argparse.Namespace) -> int:
    from spikeforge.data import download_dataset, list_datasets, load_dataset, verify_dataset

    data_dir = Path(a.data_dir) if a.data_dir else None
    if a.action == "list":
        from spikeforge.data.datasets import canonical_name

        if a.name and str(a.name).lower().endswith(".npz"):
            raise ValueError(f"data list: {a.name} is your own file; use: spikeforge data verify {a.name}")
        rows: list[dict[str, Any]] = []
        for name in [canonical_name(a.name)] if a.name else list_datasets():
            try:
                ds = load_dataset(name, data_dir)
                rows.append({"name": name, "found": True, "train": len(ds.x_train), "test": len(ds.x_test),
                             "shape": list(ds.image_shape), "classes": ds.n_classes})
            except Exception as e:
                rows.append({"name": name, "found": False, "why": str(e).splitlines()[0]})
        if a.json:
            _emit_json(rows)
            return 0
        t = Table(title="datasets")
        for col in ("name", "found", "train", "test", "shape", "classes"):
            t.add_column(col)
        for r in rows:
            if r["found"]:
                t.add_row(r["name"], "yes", str(r["train"]), str(r["test"]), "x".join(map(str, r["shape"])),
                          str(r["classes"]))
            else:
                t.add_row(r["name"], "[red]no[/red]", "", "", escape(r["why"]), "")
        console.print(t)
        return 0
    if a.name and str(a.name).lower().endswith(".npz"):  # your own dataset file: read it fully, summarise it
        if a.action != "verify":
            raise ValueError(f"data {a.action}: {a.name} is your own file; use: spikeforge data verify {a.name}")
        ds = load_dataset(a.name)
        counts = [int((ds.y_train == k).sum()) for k in range(ds.n_classes)]
        info = {"name": ds.name, "path": str(a.name), "status": "ok", "train": len(ds.x_train),
                "test": len(ds.x_test), "shape": list(ds.image_shape), "classes": list(ds.classes),
                "train_per_class": counts}
        if a.json:
            _emit_json(info)
        else:
            console.print(escape(f"{a.name}: ok — {info['train']} train / {info['test']} test images of "
                                 f"{'x'.join(map(str, ds.image_shape))}, {ds.n_classes} classes "
                                 f"({', '.join(ds.classes[:10])}{', ...' if ds.n_classes > 10 else ''}); "
                                 f"train images per class {min(counts)}-{max(counts)}"), highlight=False)
        return 0
    names = [a.name] if a.name else [n for n in list_datasets() if n != "digits"]
    if a.action == "download":
        from spikeforge.data.locate import DatasetNotFoundError

        done: list[dict[str, str]] = []
        for n in names:
            try:  # a verified copy anywhere on the search path (e.g. the Debian package) needs no download
                found = verify_dataset(n, data_dir)
            except DatasetNotFoundError:
                found = []
            if found and all(c.status == "ok" for c in found):
                done.append({"name": n, "status": "present", "path": str(Path(found[0].file).parent)})
                if not a.json:
                    console.print(escape(f"{n}: already present and verified in {done[-1]['path']}"),
                                  highlight=False)
                continue
            p = download_dataset(n, data_dir)
            done.append({"name": n, "status": "downloaded", "path": str(p)})
            if not a.json:
                console.print(escape(f"{n}: verified in {p}"), highlight=False)
        if a.json:
            _emit_json(done)
        return 0
    from spikeforge.data.locate import DatasetNotFoundError

    bad = 0
    out: dict[str, list[dict[str, Any]]] = {}
    for n in names:
        try:
            found = verify_dataset(n, data_dir)
        except DatasetNotFoundError:
            if a.name:  # the one dataset asked for: the full message (where it looked, how to fix it)
                raise
            out[n] = [{"file": f"(none: `spikeforge data verify {n}` says where it looked)", "status": "not found",
                       "sha256": None}]
            bad += 1
            continue
        out[n] = [c._asdict() for c in found]
        bad += sum(c.status != "ok" for c in found)
    if a.json:
        _emit_json(out)
    else:
        t = Table(title="dataset verification (sha256 of uncompressed content)")
        for col in ("dataset", "file", "status"):
            t.add_column(col)
        for n, entries in out.items():
            for c in entries:
                style = "green" if c["status"] == "ok" else "red"
                t.add_row(n, str(c["file"]), f"[{style}]{c['status']}[/{style}]")
        console.print(t)
    return 1 if bad else 0


# ---------------------------------------------------------------------------- parser
def _ticks_arg(text: str) -> int | str:
    """argparse type: an integer (its range is checked by the command) or ``auto``."""
    if text == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1 or 'auto', got {text!r}") from None


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spikeforge", description=__doc__.split("\n\n")[0] if __doc__ else "",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"spikeforge {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser, data: bool = False) -> None:
        sp.add_argument("--json", action="store_true", help="machine-readable JSON output")
        if data:
            sp.add_argument("--data-dir", help="dataset root (else $SPIKEFORGE_DATA, then the user cache)")

    sp = sub.add_parser("run", help="run a recipe end to end: data, train, map, check, simulate, report")
    sp.add_argument("recipe", nargs="?", help="shipped recipe name or path to a TOML file (default recipe if omitted)")
    sp.add_argument("--out", help="output folder (default runs/RECIPE; runs/STEM for a recipe file STEM.toml)")
    sp.add_argument("--no-report", action="store_true", help="skip the report folder (plots, metrics, index.md)")
    sp.add_argument("--dry-run", action="store_true",
                    help="check the recipe (with its --set changes) and print the settings; run nothing")
    sp.add_argument("--set", action="append", metavar="TABLE.KEY=VALUE",
                    help="change one recipe setting (repeatable; VALUE is read as TOML, else as text), e.g. "
                         "--set train.epochs=5 --set data.dataset=fashion-mnist")
    common(sp, data=True)
    sp.set_defaults(fn=cmd_run)

    sp = sub.add_parser("recipes", help="list shipped recipes, or print one recipe's TOML")
    sp.add_argument("name", nargs="?", help="a recipe name or TOML path: print it in full")
    common(sp)
    sp.set_defaults(fn=cmd_recipes)

    sp = sub.add_parser("chips", help="list chip presets, or compare chips / print a chip file")
    sp.add_argument("chips", nargs="*", metavar="CHIP",
                    help="presets or chip files (.toml/.json) to show side by side (default: every preset)")
    sp.add_argument("--toml", action="store_true",
                    help="print the one CHIP as a chip file, a starting point for your own (docs/chip-model.md)")
    common(sp)
    sp.set_defaults(fn=cmd_chips)

    sp = sub.add_parser("check", help="validate a deployment file and apply every design rule")
    sp.add_argument("deployment")
    sp.add_argument("--max-rows", type=int, default=40, help="violations shown in the table")
    common(sp)
    sp.set_defaults(fn=cmd_check)

    for name, fn, helptext in (("simulate", cmd_simulate, "accuracy, events and energy of a deployment on a dataset"),
                               ("energy", cmd_energy, "energy breakdown of a deployment on a dataset")):
        sp = sub.add_parser(name, help=helptext)
        sp.add_argument("deployment")
        sp.add_argument("-d", "--dataset", required=True,
                        help="mnist, fashion-mnist, digits, or your own .npz file (docs/datasets.md)")
        sp.add_argument("--split", choices=("test", "train"), default="test")
        sp.add_argument("--limit", type=_positive_int, help="use only the first N inputs")
        sp.add_argument("--regime", choices=("auto", "sequential", "pipelined"), default="auto",
                        help="auto: pipelined for layer-synchronous networks of memoryless neurons, else sequential")
        sp.add_argument("--tick-hz", type=float, help="tick rate (default: the chip's)")
        sp.add_argument("--batch-size", type=_positive_int, default=None,
                        help="inputs simulated together (default: as many as fit 2 GiB, at most 1024)")
        sp.add_argument("--device", default="auto",
                        help="where to simulate: auto (a CUDA GPU when torch sees one, else the CPU), cpu or "
                             "cuda[:N]; results are identical on every device")
        sp.add_argument("--encoding", dest="enc_kind",
                        choices=("threshold", "bernoulli", "thermometer", "regular", "bernoulli-draws",
                                 "axon-draws"),
                        help="override the deployment's recorded encoder")
        sp.add_argument("--ticks", dest="enc_ticks", type=int, help="encoder ticks")
        sp.add_argument("--threshold", dest="enc_threshold", type=float, help="threshold encoder level")
        sp.add_argument("--seed", dest="enc_seed", type=int, help="Bernoulli encoder seed")
        sp.add_argument("--prng-seed", type=int, default=None,
                        help="seed of the stochastic synapse/leak/threshold modes (default: the deployment's)")
        if name == "simulate":
            sp.add_argument("--prng-repeats", type=int, default=None, metavar="K",
                            help="stochastic deployments: K runs with PRN seeds seed … seed+K-1, accuracy and "
                                 "energy as mean ± std")
        sp.add_argument("--levels", dest="enc_levels", type=int, help="thermometer encoder levels per pixel")
        if name == "energy":
            sp.add_argument("--plot", metavar="PNG", help="also draw the energy per input by term")
        if name == "simulate":  # (energy reports the energy terms only: these would be ignored there)
            sp.add_argument("--metrics", action="store_true", help="also compute NeuroBench-style metrics")
            sp.add_argument("--replay", action="store_true",
                            help="with --metrics: re-run inputs to count effective ACs and membrane updates exactly")
            sp.add_argument("--report", metavar="DIR",
                            help="also write a run report there (index.md, plots, metrics.json), as `run` does")
        common(sp, data=True)
        sp.set_defaults(fn=fn)

    sp = sub.add_parser("convert", help="convert a trained ANN (Linear/Conv2d + ReLU) by layer-wise constrained solves")
    sp.add_argument("model", help="model file written by spikeforge.methods.layerwise.api.save_model")
    sp.add_argument("--constraints", choices=("digital", "analog", "hybrid"), default="digital")
    sp.add_argument("--chip", default="truenorth",
                    help="target for digital constraints: a preset (truenorth, loihi-like) or a chip file")
    sp.add_argument("--ticks", type=_ticks_arg, default=32,
                    help="rate-coding window T, or 'auto': the shortest of 4, 8, 16, 32, 64 whose network is within "
                         "--max-gap points of the ANN on held-out training images")
    sp.add_argument("--max-gap", type=float, default=1.0, help="with --ticks auto: accuracy gap allowed, points")
    sp.add_argument("-d", "--dataset", default="mnist", help="calibration and test data (a name or a .npz file)")
    sp.add_argument("--calib", type=int, default=None,
                    help="calibration images (default 2000, at most the training set)")
    sp.add_argument("--test", type=int, default=None, help="test images (default 2000, at most the test set)")
    sp.add_argument("--keep", type=float, default=1.0, help="fraction of hidden neurons kept (node pruning)")
    sp.add_argument("--method", choices=("layerwise", "normalisation"), default="layerwise",
                    help="normalisation: the data-based weight-normalisation baseline")
    sp.add_argument("--workers", type=int, default=1, help="parallel LP worker processes")
    sp.add_argument("--out", default="layerwise-out", help="output folder")
    sp.add_argument("--allow-pickle", action="store_true", help="allow loading a pickled nn.Sequential (trusted files)")
    common(sp, data=True)
    sp.set_defaults(fn=cmd_convert)

    sp = sub.add_parser("memory", help="synaptic-memory organisation: footprint and energy by encoding",
                        description="Footprint and energy per pass (forward, backward, update) of every synaptic "
                        "memory encoding for a deployment (one layer per core) or a PyTorch model (its Linear "
                        "and Conv2d weights, quantised to --bits), and which encoding is cheapest.")
    sp.add_argument("deployment", metavar="PATH", help="a deployment (.sfd) or a PyTorch file: a model written by "
                    "spikeforge (convert's format), a state dict, or a pickled module (--allow-pickle)")
    sp.add_argument("--source", choices=("crossbar", "effective"), default="crossbar",
                    help="deployments: store the binary crossbar (what TrueNorth holds) or the signed effective "
                    "weights")
    sp.add_argument("--bits", type=int, default=None,
                    help="PyTorch models: weight bits, 1-16 (symmetric per-tensor codes; default 8)")
    sp.add_argument("--input-shape", default=None,
                    help="PyTorch models: input shape C,H,W (gives each convolution its feature-map size; "
                    "default: a leading Linear's inputs, else 1,28,28)")
    sp.add_argument("--allow-pickle", action="store_true", help="allow loading a pickled module (trusted files)")
    sp.add_argument("--plot", metavar="PNG", help="also draw the energy per pass of every encoding")
    common(sp)
    sp.set_defaults(fn=cmd_memory)

    sp = sub.add_parser("sweep", help="run a recipe for every combination of some settings, then compare",
                        description="Runs RECIPE once per combination of the --vary values (each into its own "
                        "folder under --out), skips combinations already finished with the same settings, and "
                        "prints the runs by energy with the Pareto front; writes sweep.json and sweep.png.")
    sp.add_argument("recipe", help="shipped recipe name or path to a TOML file")
    sp.add_argument("--vary", nargs="+", action="append", required=True, metavar=("TABLE.KEY", "VALUE"),
                    help="a setting and its values, e.g. --vary train.epochs 5 10 20 (repeatable: combinations)")
    sp.add_argument("--set", action="append", metavar="TABLE.KEY=VALUE", help="a fixed change for every run")
    sp.add_argument("--out", help="sweep folder (default runs/RECIPE-sweep)")
    sp.add_argument("--rerun", action="store_true", help="run finished combinations again")
    sp.add_argument("--jobs", type=_positive_int, default=1,
                    help="combinations run at once, one process each (default 1; more than the CPU cores only "
                    "slows each run)")
    common(sp, data=True)
    sp.set_defaults(fn=cmd_sweep)

    sp = sub.add_parser("compare", help="runs side by side: accuracy, energy, the Pareto front (and a plot)")
    sp.add_argument("runs", nargs="+", metavar="RUN",
                    help="run folders (holding results.json), folders of them (e.g. runs, a sweep) or results files")
    sp.add_argument("--plot", metavar="PNG", help="also draw accuracy against energy with the Pareto front")
    sp.add_argument("--csv", metavar="FILE", help="also write the rows as CSV (for spreadsheets)")
    common(sp)
    sp.set_defaults(fn=cmd_compare)

    sp = sub.add_parser("export-nir", help="write a deployment as a NIR graph (fails on inexpressible features)")
    sp.add_argument("deployment")
    sp.add_argument("out", help="output .nir file")
    sp.add_argument("--approximate", action="store_true",
                    help="export features NIR cannot express, recording each approximation in the graph metadata")
    sp.add_argument("--ticks", type=int, help="claim exactness only for runs of this many ticks")
    sp.add_argument("--no-embed", action="store_true", help="do not embed the .sfd for bit-exact re-import")
    common(sp)
    sp.set_defaults(fn=cmd_export_nir)

    sp = sub.add_parser("import-nir", help="read a NIR graph into a deployment")
    sp.add_argument("source", help="input .nir file")
    sp.add_argument("--out", help="output .sfd (default: input with suffix .sfd)")
    sp.add_argument("--chip", help="chip preset or chip file (default: the embedded one, else truenorth)")
    sp.add_argument("--approximate", action="store_true", help="allow approximations, recorded in provenance")
    sp.add_argument("--ticks", type=int, help="exactness horizon in ticks")
    common(sp)
    sp.set_defaults(fn=cmd_import_nir)

    sp = sub.add_parser("data", help="datasets: list, verify checksums, download")
    sp.add_argument("action", choices=("list", "verify", "download"))
    sp.add_argument("name", nargs="?", help="dataset (default: all), or your own .npz file to check (verify)")
    common(sp, data=True)
    sp.set_defaults(fn=cmd_data)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spikeforge`` console script."""
    parser = build_parser()
    a = parser.parse_args(argv)
    with warnings.catch_warnings():
        # every warning as one "warning:" line, not Python's file:line form with a source line; one from a
        # library (e.g. numpy's RuntimeWarning) names its kind and where it arose
        def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
            text = str(message)
            if not (category.__module__.startswith("spikeforge") or issubclass(category, UserWarning)):
                text = f"{category.__name__}: {text} ({Path(filename).name}:{lineno})"
            err_console.print(f"[bold yellow]warning:[/bold yellow] {escape(text)}", highlight=False)

        warnings.showwarning = show
        return _run(a)


def _run(a: argparse.Namespace) -> int:
    from spikeforge.data import DatasetError
    from spikeforge.deploy import DeploymentError
    from spikeforge.hardware import DesignRuleError
    from spikeforge.interop import NIRUnavailableError
    from spikeforge.recipes import RecipeError

    try:
        return int(a.fn(a))
    except (DeploymentError, DesignRuleError, DatasetError, RecipeError, NIRUnavailableError, ValueError,
            KeyError) as e:
        msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)  # a KeyError's str() adds quotes
        err_console.print(f"[bold red]error:[/bold red] {escape(msg)}", highlight=False)
        return 2
    except BrokenPipeError:  # `spikeforge ... | head`: the reader has gone; stop quietly, as shell tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the final flush must not fail again
        return 141
    except OSError as e:  # a missing or unreadable file named on the command line
        msg = f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e)
        err_console.print(f"[bold red]error:[/bold red] {escape(msg)}", highlight=False)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback; outputs are written atomically
        resume = (" (the same command again resumes: core-network and Eedn training from its last epoch's "
                  "checkpoint, a sweep from its last finished run)") if a.fn in (cmd_run, cmd_sweep) else ""
        err_console.print(f"[bold red]interrupted[/bold red]{resume}", highlight=False)
        return 130


if __name__ == "__main__":
    sys.exit(main())
