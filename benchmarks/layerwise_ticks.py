"""Latency / accuracy / energy of ANN → SNN conversion against the rate code's length T (issue #6 companion).

The layer-wise benchmark (``layerwise.py``) converts at one code length, T = 32 ticks. How many ticks a
rate-coded network needs is the first question a user of a conversion method asks: every tick costs
latency and energy. This sweep converts the same trained MNIST MLP (784-300-100-10, the layer-wise
benchmark's training: 60 000 images, 15 epochs, Adam with cosine decay, seed 0) with both methods —
layer-wise constrained solves and data-based normalisation + rounding — under the digital constraints of
each chip preset, for T in 4 … 64, and measures for each deployment:

* ``snn_accuracy`` / ``agreement`` (with the ANN's class) on all ``n_test`` test images from the integer
  tick model, which must reproduce the simulator's class counts on every simulated image
  (``sim_equals_tick_model``; the run fails otherwise);
* ``uJ_per_image``, ``mW``, ``fps``, ``latency_ticks``, synaptic events and spikes per image, and the
  simulator's accuracy on the first ``n_sim`` images (``sim_accuracy``), from the spikeforge simulator
  and energy model (sequential regime: every input on a drained network, T + L ticks);
* ``solve_s``, ``cores``.

    python benchmarks/layerwise_ticks.py            # full → results/layerwise_ticks.json + layerwise_ticks.png
    python benchmarks/layerwise_ticks.py --quick    # CI: small ANN, T = 4, 8 → results/quick/

No target of its own: the issue's targets are checked at T = 32 by ``layerwise.py``. The result file
states, per chip and T, layer-wise minus normalisation accuracy and the smallest T within 1 point of the ANN.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from spikeforge.benchmarking import git_commit, git_dirty, machine, result_path, write_result  # noqa: E402
from spikeforge.data import load_dataset, regular_encode  # noqa: E402
from spikeforge.energy import estimate_energy  # noqa: E402
from spikeforge.evaluate import run_simulation  # noqa: E402
from spikeforge.hardware import check  # noqa: E402
from spikeforge.methods.layerwise.ann import build_model, extract_layers, forward, train_model  # noqa: E402
from spikeforge.methods.layerwise.convert import ConvertOptions, convert, make_constraints  # noqa: E402
from spikeforge.methods.layerwise.deploy import build_deployment  # noqa: E402

METHODS = ("layerwise", "normalisation")


def summarise(rows: list[dict[str, Any]], ann_accuracy: float) -> dict[str, Any]:
    """Per chip: layer-wise minus normalisation accuracy at each T (points), and per chip and method the
    smallest T whose accuracy is within 1 point of the ANN (None if none is)."""
    out: dict[str, Any] = {"layerwise_minus_normalisation_points": {}, "min_ticks_within_1_point": {}}
    for chip in sorted({r["chip"] for r in rows}):
        diff: dict[str, float] = {}
        for t in sorted({r["ticks"] for r in rows if r["chip"] == chip}):
            acc = {r["method"]: r["snn_accuracy"] for r in rows if r["chip"] == chip and r["ticks"] == t}
            if set(METHODS) <= set(acc):
                diff[str(t)] = round(100 * (acc["layerwise"] - acc["normalisation"]), 2)
        out["layerwise_minus_normalisation_points"][chip] = diff
        for m in METHODS:
            ok = sorted(r["ticks"] for r in rows
                        if r["chip"] == chip and r["method"] == m and ann_accuracy - r["snn_accuracy"] <= 0.01 + 1e-9)
            out["min_ticks_within_1_point"][f"{chip} {m}"] = ok[0] if ok else None
    return out


def plot(rows: list[dict[str, Any]], ann_accuracy: float, path: Path) -> None:
    """Accuracy against µJ/image, one panel per chip, one line per method, points labelled with T."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chips = sorted({r["chip"] for r in rows}, key=lambda c: (c != "truenorth", c))
    fig, axes = plt.subplots(1, len(chips), figsize=(5.5 * len(chips), 4.2), squeeze=False)
    for ax, chip in zip(axes[0], chips, strict=True):
        for m, style in zip(METHODS, ("o-", "s--"), strict=True):
            rs = sorted((r for r in rows if r["chip"] == chip and r["method"] == m), key=lambda r: r["ticks"])
            xs = [r["uJ_per_image"] for r in rs]
            ys = [100 * r["snn_accuracy"] for r in rs]
            ax.plot(xs, ys, style, label=m)
            if m == METHODS[0]:  # both methods share each T's energy (same cores, same ticks): label once
                for r, x, y in zip(rs, xs, ys, strict=True):
                    ax.annotate(f"T={r['ticks']}", (x, y), textcoords="offset points", xytext=(4, 6), fontsize=7)
        ax.axhline(100 * ann_accuracy, color="grey", lw=0.8, ls=":", label="ANN")
        ax.set_xscale("log")
        ax.set_xlabel("µJ / image (energy model, simulated activity)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"MNIST MLP 784-300-100-10 on {chip}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CI mode: small ANN, few ticks and images")
    p.add_argument("--ticks", nargs="+", type=int, default=None, help="code lengths T (default 4 8 16 32 64)")
    p.add_argument("--chips", nargs="+", default=["truenorth", "loihi-like"])
    p.add_argument("--n-test", type=int, default=None, help="test images of the tick model (default 10000)")
    p.add_argument("--n-sim", type=int, default=None, help="test images simulated for energy (default 1000)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--plot-only", action="store_true", help="redraw the PNG from the existing result file")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    q = a.quick
    ticks = a.ticks or ([4, 8] if q else [4, 8, 16, 32, 64])
    if any(t < 1 for t in ticks):
        p.error("--ticks must be >= 1")
    n_train, epochs, n_calib = (5000, 5, 300) if q else (60000, 15, 2000)
    n_test = a.n_test or (200 if q else 10000)
    n_sim = a.n_sim or (50 if q else 1000)
    arch = "mlp:784-64-32-10" if q else "mlp"
    out_path = a.out or result_path(ROOT / "benchmarks" / "results", "layerwise_ticks.json", q)
    if a.plot_only:
        doc = json.loads(out_path.read_text())
        plot(doc["rows"], doc["ann_accuracy"], out_path.with_suffix(".png"))
        print(f"wrote {out_path.with_suffix('.png')}")
        return 0
    command = " ".join(["python", "benchmarks/layerwise_ticks.py", *(argv if argv is not None else sys.argv[1:])])
    t_start = time.perf_counter()
    commit, dirty = git_commit(ROOT), git_dirty(ROOT)  # the code that runs, not what HEAD is when it ends

    ds = load_dataset("mnist")
    x_tr = ds.x_train[:n_train].reshape(min(n_train, len(ds.x_train)), -1) / 255.0
    x_te = ds.x_test[:n_test].reshape(min(n_test, len(ds.x_test)), -1) / 255.0
    y_te = np.asarray(ds.y_test[:n_test])
    calib = x_tr[np.random.default_rng(0).choice(len(x_tr), min(n_calib, len(x_tr)), replace=False)]
    model = train_model(build_model(arch, seed=0), x_tr, ds.y_train[:n_train], seed=0, schedule="cosine",
                        epochs=epochs)
    layers = extract_layers(model)
    ann_pred = forward(layers, x_te)[-1].argmax(1)
    ann_acc = float(np.mean(ann_pred == y_te))
    print(f"ANN {arch}: test accuracy {ann_acc:.4f} on {len(y_te)} images", flush=True)

    rows: list[dict[str, Any]] = []
    for t in ticks:
        spikes = regular_encode(x_te, t)
        for chip in a.chips:
            cons = make_constraints("digital", chip, ticks=t)
            for method in METHODS:
                t1 = time.perf_counter()
                net, _ = convert(layers, calib, cons, method=method,  # type: ignore[arg-type]
                                 options=ConvertOptions(cd_passes=1 if q else 2))
                solve_s = time.perf_counter() - t1
                dep = build_deployment(net, chip)
                check(dep)
                n = min(n_sim, len(spikes))
                res, _ = run_simulation(dep, spikes[:n], regime="sequential")
                energy = estimate_energy(res.counts, dep.chip, dep, regime="sequential")
                counts = net.class_counts(spikes)
                if not np.array_equal(res.class_counts, counts[:n]):
                    raise RuntimeError(f"T={t} {chip} {method}: the tick model's class counts differ from the "
                                       "simulator's; its accuracy on the other test images would not be trusted")
                pred = counts.argmax(1)
                ev = res.counts.mean()
                row = {"chip": chip, "ticks": t, "method": method, "ann_accuracy": ann_acc,
                       "snn_accuracy": float(np.mean(pred == y_te)), "agreement": float(np.mean(pred == ann_pred)),
                       "n_test": len(y_te), "sim_accuracy": res.accuracy(y_te[:n]), "n_sim": n,
                       "sim_equals_tick_model": True, "cores": dep.n_cores, "latency_ticks": res.latency,
                       "uJ_per_image": energy.mean_energy_uj, "mW": energy.power_mw, "fps": energy.fps,
                       "synaptic_events_per_image": ev["synaptic_events"], "spikes_per_image": ev["spikes"],
                       "solve_s": round(solve_s, 2)}
                rows.append(row)
                print(f"  T={t:3d} {chip:10s} {method:13s} acc={row['snn_accuracy']:.4f} "
                      f"agree={row['agreement']:.4f} {row['uJ_per_image']:.3g} uJ solve={solve_s:.0f}s", flush=True)
    doc = {"mode": "quick" if q else "full", "command": command, "git_commit": commit,
           "git_dirty": dirty, "machine": machine(), "wall_s": round(time.perf_counter() - t_start, 1),
           "config": {"arch": arch, "n_train": n_train, "epochs": epochs, "lr_schedule": "cosine",
                      "n_calib": n_calib, "n_test": len(y_te), "n_sim": n_sim, "encoding": "regular",
                      "constraints": "digital", "regime": "sequential"},
           "ann_accuracy": ann_acc, **summarise(rows, ann_acc), "rows": rows}
    write_result(out_path, doc)
    plot(rows, ann_acc, out_path.with_suffix(".png"))
    print(f"wrote {out_path} and {out_path.with_suffix('.png').name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
