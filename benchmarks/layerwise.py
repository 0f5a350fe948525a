"""Benchmark of issue #6: layer-wise constrained synapse optimisation (Mern et al. 2018) with node pruning,
against data-based weight normalisation + rounding, on MNIST / Fashion-MNIST.

For every dataset × network × constraint set: ANN accuracy, SNN accuracy (digital: the spikeforge simulator
on the deployment; analog / hybrid: the floating-point tick model), agreement with the ANN (% same class),
solve time; layer-wise conversion also after pruning the hidden layers to 75 / 50 / 25 %.

    python benchmarks/layerwise.py            # full run → benchmarks/results/layerwise.json (+ .png)
    python benchmarks/layerwise.py --plot-only   # redraw layerwise.png from the committed JSON
    python benchmarks/layerwise.py --quick    # CI: tiny training, MLP only → benchmarks/results/quick/layerwise.json

Targets (printed PASS / FAIL, never weakened): analog agreement ≥ 99 %; digital (TrueNorth) SNN accuracy
within 1 point of the ANN on the MLP; layer-wise beats the normalisation baseline under digital constraints;
50 % pruning costs < 1 point on the MLP (layer-wise, TrueNorth digital when run, else analog).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spikeforge.benchmarking import git_commit, git_dirty, machine, result_path, write_result
from spikeforge.data import load_dataset, regular_encode
from spikeforge.hardware import check
from spikeforge.methods.layerwise.ann import build_model, extract_layers, forward, train_model
from spikeforge.methods.layerwise.convert import ConvertOptions, convert, make_constraints
from spikeforge.methods.layerwise.deploy import build_deployment
from spikeforge.sim import simulate

ROOT = Path(__file__).resolve().parent
#: constraint settings run: (label, constraints, chip)
SETTINGS = {
    "digital-truenorth": ("digital", "truenorth"),
    "digital-loihi": ("digital", "loihi-like"),
    "analog": ("analog", None),
    "hybrid": ("hybrid", None),
}


def _load(name: str) -> Any:
    return load_dataset(name)


def _evaluate(net: Any, setting: str, spikes: np.ndarray, labels: np.ndarray, ann_pred: np.ndarray,
              sim_max: int, tick_max: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    if setting.startswith("digital"):
        dep = build_deployment(net, net.info["chip"])
        check(dep)
        n = min(sim_max, len(spikes))
        res = simulate(dep, spikes[:n], device="cpu", batch_size=250)
        pred = res.predictions()
        # The integer tick model runs on every test image; it must reproduce the simulator's class counts on
        # every simulated image, which makes its accuracy on the rest trustworthy (the pairwise targets use it).
        m = min(tick_max, len(spikes))
        tick_counts = net.class_counts(spikes[:m])
        identical = bool(np.array_equal(res.class_counts, tick_counts[:n]))
        tick_pred = tick_counts.argmax(1)
        out.update(evaluator="simulator", n_eval=n, sim_equals_tick_model=identical, cores=dep.n_cores,
                   snn_accuracy=float(np.mean(pred == labels[:n])), agreement=float(np.mean(pred == ann_pred[:n])),
                   ann_accuracy=float(np.mean(ann_pred[:n] == labels[:n])),
                   n_tick=m, tick_accuracy=float(np.mean(tick_pred == labels[:m])),
                   tick_agreement=float(np.mean(tick_pred == ann_pred[:m])))
    else:
        n = min(tick_max, len(spikes))
        pred = net.class_counts(spikes[:n]).argmax(1)
        out.update(evaluator="tick-model", n_eval=n, snn_accuracy=float(np.mean(pred == labels[:n])),
                   agreement=float(np.mean(pred == ann_pred[:n])),
                   ann_accuracy=float(np.mean(ann_pred[:n] == labels[:n])))
    out["eval_s"] = round(time.perf_counter() - t0, 2)
    return out


def _all_test(r: dict[str, Any]) -> tuple[float, float]:
    """(SNN, ANN) accuracy of a row on its largest test set: the tick model's on all test images where it
    reproduced the simulator, else the row's own."""
    if r.get("sim_equals_tick_model") and "tick_accuracy" in r:
        return r["tick_accuracy"], r["ann_accuracy_all"]
    return r["snn_accuracy"], r["ann_accuracy"]


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Left: SNN minus ANN accuracy (points) of layer-wise and normalisation conversion, unpruned, for every
    network, dataset and constraint set. Right: the pruning curves (accuracy against kept fraction of the
    hidden units) of the layer-wise conversion."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikeforge.fileio import atomic_output

    ok = [r for r in rows if r.get("snn_accuracy") is not None]
    label = lambda r: f"{r['dataset'].replace('fashion-mnist', 'fmnist')} {r['network']}\n{r['constraints']}" + (  # noqa: E731
        f" {r['chip']}" if r.get("chip") else "")
    groups = list(dict.fromkeys(label(r) for r in ok if r["kept_fraction"] == 1.0))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [2.2, 1]})
    for i, method in enumerate(("layerwise", "normalisation")):
        vals = []
        for g in groups:
            rs = [r for r in ok if label(r) == g and r["method"] == method and r["kept_fraction"] == 1.0]
            snn, ann = _all_test(rs[0]) if rs else (float("nan"), float("nan"))
            vals.append(100 * (snn - ann))
        ax.bar([k + (i - 0.5) * 0.4 for k in range(len(groups))], vals, width=0.4, label=method)
    ax.axhline(0, color="k", lw=0.8)
    ax.axhline(-1, color="grey", lw=0.8, ls=":", label="1 point below the ANN")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups, rotation=60, ha="right", rotation_mode="anchor", fontsize=7)
    ax.set_ylabel("SNN − ANN accuracy (points)")
    ax.set_title("Conversion error, unpruned (all test images)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    for key in dict.fromkeys((r["dataset"], r["constraints"], r.get("chip")) for r in ok
                             if r["method"] == "layerwise" and r["kept_fraction"] < 1.0):
        rs = sorted((r for r in ok if (r["dataset"], r["constraints"], r.get("chip")) == key
                     and r["method"] == "layerwise" and r["network"] == "mlp"), key=lambda r: r["kept_fraction"])
        if len(rs) > 1:
            bx.plot([r["kept_fraction"] for r in rs], [100 * _all_test(r)[0] for r in rs], "o-",
                    label=f"{key[0]} {key[1]}" + (f" {key[2]}" if key[2] else ""))
    bx.set_xlabel("kept fraction of hidden units")
    bx.set_ylabel("SNN accuracy (%)")
    bx.set_title("Node pruning, MLP (layer-wise, all test images)")
    bx.grid(alpha=0.3)
    bx.legend(fontsize=7)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="CI mode: tiny training, few test images, MLP only")
    p.add_argument("--datasets", nargs="+", default=None)
    p.add_argument("--networks", nargs="+", default=None, help="mlp, mlp-wide, lenet (MNIST)")
    p.add_argument("--fashion-networks", nargs="+", default=None, help="networks run on Fashion-MNIST (default mlp)")
    p.add_argument("--settings", nargs="+", default=None, choices=list(SETTINGS))
    p.add_argument("--ticks", type=int, default=None)
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None, help="ANN training epochs (MLPs; cosine learning-rate decay)")
    p.add_argument("--cnn-epochs", type=int, default=None, help="ANN training epochs of the CNN")
    p.add_argument("--n-calib", type=int, default=None)
    p.add_argument("--n-test", type=int, default=None)
    p.add_argument("--sim-max", type=int, default=None, help="test images run through the simulator (digital)")
    p.add_argument("--cnn-sim-max", type=int, default=1000, help="test images simulated for the CNN on TrueNorth")
    p.add_argument("--cnn-loihi-sim-max", type=int, default=1000,
                   help="test images simulated for the CNN on the Loihi-like preset (its 52 cores simulate at "
                        "~0.04 s per image on one thread; the committed full run used 300)")
    p.add_argument("--cnn-n-test", type=int, default=2000, help="test images of the CNN's tick-model rows")
    p.add_argument("--wide-sim-max", type=int, default=None, help="test images simulated for the wide MLP")
    p.add_argument("--prune-settings", nargs="+", default=None, choices=list(SETTINGS),
                   help="constraint settings that get the pruned rows (default: all run)")
    p.add_argument("--keep", nargs="+", type=float, default=None, help="pruning fractions (layer-wise, MLP)")
    p.add_argument("--keep-wide", nargs="*", type=float, default=None, help="pruning fractions of the wide MLP")
    p.add_argument("--workers", type=int, default=1, help="processes for per-neuron LPs (default 1)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--merge", action="store_true",
                   help="add to the rows already in the output file (same mode), replacing same-configuration rows")
    p.add_argument("--plot-only", action="store_true", help="redraw the PNG from the existing result file")
    a = p.parse_args(argv)
    if a.plot_only:
        path = a.out or result_path(ROOT / "results", "layerwise.json", a.quick)
        plot(json.loads(path.read_text())["rows"], path.with_suffix(".png"))
        print(f"wrote {path.with_suffix('.png')}")
        return 0
    torch.set_num_threads(1)
    q = a.quick
    datasets = a.datasets or (["mnist"] if q else ["mnist", "fashion-mnist"])
    networks = a.networks or (["mlp"] if q else ["mlp", "mlp-wide", "lenet"])
    fashion_networks = a.fashion_networks or ["mlp"]
    settings = a.settings or list(SETTINGS)
    ticks = a.ticks or (16 if q else 32)
    n_train = a.n_train or (5000 if q else 60000)
    epochs = a.epochs or (5 if q else 15)
    cnn_epochs = a.cnn_epochs or (5 if q else 10)
    n_calib = a.n_calib or (300 if q else 2000)
    n_test = a.n_test or (200 if q else 10000)
    sim_max = a.sim_max if a.sim_max is not None else min(n_test, 2000)
    wide_sim_max = a.wide_sim_max if a.wide_sim_max is not None else sim_max
    prune_settings = a.prune_settings or settings
    keeps = a.keep or ([0.5] if q else [0.75, 0.5, 0.25])
    keeps_wide = a.keep_wide if a.keep_wide is not None else [0.5]
    out_path = a.out or result_path(ROOT / "results", "layerwise.json", q)
    arch_of = {"mlp": "mlp" if not q else "mlp:784-100-50-10", "mlp-wide": "mlp-wide", "lenet": "lenet"}
    command = " ".join(["python", "benchmarks/layerwise.py", *(argv if argv is not None else sys.argv[1:])])
    doc: dict[str, Any] = {"mode": "quick" if q else "full", "command": command,
                           "git_commit": git_commit(ROOT), "git_dirty": git_dirty(ROOT), "machine": machine(),
                           "config": {"ticks": ticks, "n_train": n_train, "epochs": epochs,
                                      "cnn_epochs": cnn_epochs, "lr_schedule": "cosine", "n_calib": n_calib,
                                      "n_test": n_test, "sim_max": sim_max, "wide_sim_max": wide_sim_max,
                                      "cnn_sim_max": a.cnn_sim_max, "cnn_loihi_sim_max": a.cnn_loihi_sim_max,
                                      "cnn_n_test": a.cnn_n_test, "prune_settings": prune_settings,
                                      "keep": keeps, "keep_wide": keeps_wide, "encoding": "regular",
                                      "convert_options": asdict(ConvertOptions(cd_passes=1 if q else 2))},
                           "rows": []}
    rows: list[dict[str, Any]] = doc["rows"]
    old_rows: list[dict[str, Any]] = []
    if a.merge and out_path.exists():
        old = json.loads(out_path.read_text())
        if old.get("mode") == doc["mode"]:
            old_rows = old.get("rows", [])
            doc["command"] = f"{old.get('command', '')} ; {doc['command']}"
            doc["previous_configs"] = [*old.get("previous_configs", []), old.get("config")]
    key = lambda r: (r["network"], r["dataset"], r["constraints"], r.get("chip"), r["method"], r["kept_fraction"])  # noqa: E731

    def save_doc() -> None:
        new_keys = {key(r) for r in rows}
        doc_out = {**doc, "rows": [r for r in old_rows if key(r) not in new_keys] + rows}
        write_result(out_path, doc_out)
    t_start = time.perf_counter()
    for ds_name in datasets:
        ds = _load(ds_name)
        x_tr = ds.x_train[:n_train].reshape(min(n_train, len(ds.x_train)), -1) / 255.0
        y_tr = ds.y_train[:n_train]
        x_te = ds.x_test[:n_test].reshape(min(n_test, len(ds.x_test)), -1) / 255.0
        y_te = np.asarray(ds.y_test[:n_test])
        rng = np.random.default_rng(0)
        calib = x_tr[rng.choice(len(x_tr), min(n_calib, len(x_tr)), replace=False)]
        for net_name in networks if ds_name == "mnist" else fashion_networks:
            arch = arch_of[net_name]
            t0 = time.perf_counter()
            model = train_model(build_model(arch, seed=0), x_tr, y_tr, seed=0, schedule="cosine",
                                epochs=cnn_epochs if net_name == "lenet" else epochs)
            layers = extract_layers(model)
            train_s = time.perf_counter() - t0
            ann_pred = forward(layers, x_te)[-1].argmax(1)
            ann_acc = float(np.mean(ann_pred == y_te))
            print(f"[{ds_name} {net_name}] ANN accuracy {ann_acc:.4f} (trained in {train_s:.0f}s)", flush=True)
            spikes = regular_encode(x_te, ticks)
            for setting in settings:
                cname, chip = SETTINGS[setting]
                cons = make_constraints(cname, chip, ticks=ticks)
                runs = [("layerwise", 1.0), ("normalisation", 1.0)]
                if net_name != "lenet" and setting in prune_settings:
                    runs += [("layerwise", k) for k in (keeps if net_name == "mlp" else keeps_wide)]
                for method, keep in runs:
                    t1 = time.perf_counter()
                    opts = ConvertOptions(keep=keep, workers=a.workers, cd_passes=1 if q else 2)
                    try:
                        net, rep = convert(layers, calib, cons, method=method, options=opts)  # type: ignore[arg-type]
                    except Exception as e:  # record and continue: one failing configuration must not hide the rest
                        rows.append({"network": net_name, "dataset": ds_name, "constraints": cname, "chip": chip,
                                     "method": method, "kept_fraction": keep, "ann_accuracy": ann_acc,
                                     "snn_accuracy": None, "agreement": None, "solve_s": None,
                                     "error": f"{type(e).__name__}: {e}"})
                        print(f"  {setting:18s} {method:13s} keep={keep:.2f} FAILED: {e}", flush=True)
                        continue
                    solve_s = time.perf_counter() - t1
                    # simulating the CNN (~300 TrueNorth cores, or the Loihi-like preset's dense 4096 x 1024
                    # crossbars) and the wide MLP on a CPU is slow: fewer test images there (n_eval says how many)
                    n_sim = {"lenet": min(sim_max, a.cnn_loihi_sim_max if chip == "loihi-like" else a.cnn_sim_max),
                             "mlp-wide": wide_sim_max}.get(net_name, sim_max)
                    n_tick = a.cnn_n_test if net_name == "lenet" else n_test
                    ev = _evaluate(net, setting, spikes, y_te, ann_pred, n_sim, n_tick)
                    # ann_accuracy: the ANN on the same n_eval test images as the SNN; ann_accuracy_all: all n_test
                    row = {"network": net_name, "dataset": ds_name, "constraints": cname, "chip": chip,
                           "method": method, "kept_fraction": keep, "ann_accuracy": ev.pop("ann_accuracy"),
                           "ann_accuracy_all": ann_acc,
                           "snn_accuracy": ev.pop("snn_accuracy"), "agreement": ev.pop("agreement"),
                           "solve_s": round(solve_s, 2), "ticks": ticks, "arch": arch,
                           "hidden_units": [len(k) for k in rep.kept[:-1]], **ev}
                    rows.append(row)
                    print(f"  {setting:18s} {method:13s} keep={keep:.2f} snn={row['snn_accuracy']:.4f} "
                          f"agree={row['agreement']:.4f} solve={solve_s:.0f}s eval={ev['eval_s']:.0f}s", flush=True)
                    save_doc()
    doc["wall_s"] = round(time.perf_counter() - t_start, 1)
    new_keys = {key(r) for r in rows}
    all_rows = [r for r in old_rows if key(r) not in new_keys] + rows
    doc["targets"] = targets(all_rows)
    save_doc()
    plot(all_rows, out_path.with_suffix(".png"))
    print(f"wrote {out_path} and {out_path.with_suffix('.png').name}")
    ok = True
    for t in doc["targets"]:
        print(f"{t['status']:4s}  {t['target']}: {t['detail']}")
        ok &= t["status"] != "FAIL"
    return 0


def _find(rows: list[dict[str, Any]], **kw: Any) -> list[dict[str, Any]]:
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items()) and r.get("snn_accuracy") is not None]


def _paired(r: dict[str, Any], b: dict[str, Any]) -> tuple[float, float, int, str]:
    """Accuracies of two digital rows on the same, largest available test set: the integer tick model on
    every test image where it reproduced the simulator on every simulated image for both rows, else the
    simulator's own images."""
    if (r.get("sim_equals_tick_model") and b.get("sim_equals_tick_model") and "tick_accuracy" in r
            and "tick_accuracy" in b and r["n_tick"] == b["n_tick"] and r["n_tick"] > r["n_eval"]):
        return r["tick_accuracy"], b["tick_accuracy"], int(r["n_tick"]), "tick model = simulator"
    return r["snn_accuracy"], b["snn_accuracy"], int(r.get("n_eval", 0)), "simulator"


def targets(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """PASS / FAIL / N/A for each target of the issue, per dataset and network where it applies."""
    out: list[dict[str, str]] = []

    def add(name: str, ok: bool | None, detail: str) -> None:
        out.append({"target": name, "status": "N/A" if ok is None else ("PASS" if ok else "FAIL"), "detail": detail})

    for r in _find(rows, constraints="analog", method="layerwise", kept_fraction=1.0):
        add(f"analog agreement >= 99% ({r['dataset']} {r['network']})", r["agreement"] >= 0.99,
            f"agreement {r['agreement']:.4f}")
    for r in _find(rows, constraints="digital", chip="truenorth", method="layerwise", kept_fraction=1.0):
        if r["network"] == "mlp":
            gap = r["ann_accuracy"] - r["snn_accuracy"]
            add(f"TrueNorth digital within 1 point of ANN ({r['dataset']} mlp)", gap <= 0.01,
                f"ANN {r['ann_accuracy']:.4f} SNN {r['snn_accuracy']:.4f} gap {100 * gap:.2f} points")
    for r in _find(rows, constraints="digital", method="layerwise", kept_fraction=1.0):
        base = _find(rows, constraints="digital", chip=r["chip"], method="normalisation", kept_fraction=1.0,
                     dataset=r["dataset"], network=r["network"])
        if base:
            b = base[0]
            acc, acc_b, n_img, how = _paired(r, b)
            add(f"layer-wise beats normalisation, digital {r['chip']} ({r['dataset']} {r['network']})",
                acc > acc_b, f"layer-wise {acc:.4f} vs normalisation {acc_b:.4f} ({n_img} test images, {how})")
    for chip_c in (("digital", "truenorth"), ("analog", None)):
        for r in _find(rows, constraints=chip_c[0], chip=chip_c[1], method="layerwise", kept_fraction=1.0,
                       network="mlp"):
            half = _find(rows, constraints=chip_c[0], chip=chip_c[1], method="layerwise", kept_fraction=0.5,
                         network="mlp", dataset=r["dataset"])
            if half:
                cost = r["snn_accuracy"] - half[0]["snn_accuracy"]
                add(f"50% pruning costs < 1 point ({r['dataset']} mlp {chip_c[0]} {chip_c[1] or ''})".strip(),
                    cost < 0.01, f"full {r['snn_accuracy']:.4f} pruned {half[0]['snn_accuracy']:.4f}")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
