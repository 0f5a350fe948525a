"""Reproduce Esser et al. 2015 (probabilistic synapses sampled into TrueNorth networks and ensembles).

For the small (5-core) and large (28-core) networks: train the probabilistic model, sample a pool of binary
networks, simulate every member on the test set (the simulator's spikes, thresholded one-tick pixels; Bernoulli
pixels reported beside), form ensembles of 1..64 copies (mean ± std over sampling seeds), and estimate energy
from the events of the real N-copy deployment (one image per tick, pipelined).

    python benchmarks/esser2015.py            # full: results/esser2015.json + esser2015.png
    python benchmarks/esser2015.py --quick    # CI: a few minutes, results/quick/
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from spikeforge.benchmarking import benchmark_threads, check_quick_output, git_commit, git_dirty, machine, write_result  # noqa: E402
from spikeforge.methods.corenet import data as cdata  # noqa: E402
from spikeforge.methods.corenet.experiment import run_method_network  # noqa: E402

SIZES = [1, 2, 4, 8, 16, 32, 64]
PUBLISHED = {  # Esser et al. 2015 (NIPS): accuracy, µJ/image, cores per copy of the network the paper ran
    ("small", 1): {"accuracy": 0.927, "uJ_per_image": 0.268, "cores": 5},
    ("large", 64): {"accuracy": 0.9942, "uJ_per_image": 108.0, "cores": 64 * 30},
}
ENERGY_TOLERANCE = 0.20
SCHEME_NOTES = {  # deployment schemes of scheme_rows (spikeforge.methods.corenet.experiment.SCHEMES)
    "input-jitter": "copy k reads the thresholded image through shift k mod 9 of JITTER_SHIFTS",
    "bernoulli-draws": "each copy reads its own Bernoulli draw of the image (private input channels)",
    "bernoulli-draws+jitter": "each copy its own Bernoulli draw, read through shift k mod 9",
    "axon-draws+jitter": "every input axon of every copy its own Bernoulli draw of its pixel (overlapping windows "
                         "draw independently), read through shift k mod 9",
}
#: The schemes this benchmark measures (binary_vs_probabilistic.py measures every scheme, axon draws too)
SCHEMES = ("input-jitter", "bernoulli-draws", "bernoulli-draws+jitter")

#: Training of the large network's main phase (80 epochs, lr 0.01 → 5e-4); FULL trains 200 epochs + 40 annealing
#: + 20 restart
LARGE_TRAIN = {"epochs": 80, "lr": 0.01, "max_shift": 2, "max_rotate": 10.0, "max_scale": 0.1, "seed": 0,
               "threads": 1}

#: The annealing phase the large models add (and the binary benchmark's warm-start models were trained with)
LARGE_ANNEAL = {"anneal_epochs": 20, "anneal_ratio": 0.2}

FULL = {
    "small": {"signs": "perm2", "pool": 320, "sample_seed": 1,
              "train": {"epochs": 30, "lr": 0.01, "seed": 0, "threads": 1}},
    # one model (seed 0, torch.compile'd, 2 threads: 1.4x faster per step than 1): 200 epochs (lr 0.01 →
    # 5e-4), 40 annealing epochs (→ 1e-4) and a 20-epoch warm restart (lr 2e-3 → 1e-4, fresh Adam moments),
    # with elastic distortions (Simard et al. 2003; alpha 20 px, sigma 4 px) on top of the shifts, rotations
    # and scalings; 320 sampled copies (5 disjoint ensembles of 64)
    "large": {"signs": "perm2", "pool": 320, "sample_seed": 1, "name": "large-elastic",
              "train": {**LARGE_TRAIN, "epochs": 200, "anneal_epochs": 40, "anneal_ratio": 0.2,
                        "restart_epochs": 20, "restart_lr": 0.002, "elastic_alpha": 20.0, "elastic_sigma": 4.0,
                        "compile": True, "threads": 2}},
}
QUICK = {
    "small": {"signs": "perm2", "pool": 64, "sample_seed": 1,
              "train": {"epochs": 1, "lr": 0.01, "seed": 0, "threads": 1, "max_train": 6000}},
    "large": {"signs": "perm2", "pool": 64, "sample_seed": 1,
              "train": {"epochs": 1, "lr": 0.01, "seed": 0, "threads": 1, "max_train": 2000}},
}


def find_data_dir(arg: str | None) -> str | None:
    if arg:
        return arg
    if os.environ.get("SPIKEFORGE_DATA"):
        return None
    shared = ROOT.parent / "shared" / "datasets"
    return str(shared) if shared.exists() else None


def scheme_targets(scheme_rows: list[dict[str, Any]], method: str = "probabilistic") -> list[dict[str, Any]]:
    """The accuracy targets checked again on each deployment scheme's ensembles of the same sizes (same bar)."""
    out = []
    by = {(r["network"], r["ensemble"], r["scheme"]): r for r in scheme_rows if r.get("method", method) == method}
    schemes = sorted({r["scheme"] for r in scheme_rows})
    for scheme in schemes:
        for (net, n), pub in PUBLISHED.items():
            r = by.get((net, n, scheme))
            if r is None:
                continue
            out.append({"target": f"{net} ensemble {n} ({scheme} deployment) mean accuracy >= "
                                  f"{pub['accuracy'] * 100:.2f} %",
                        "measured": r["accuracy_mean"], "ensembles": r["seeds"], "seed_scheme": r["seed_scheme"],
                        "status": "PASS" if r["accuracy_mean"] >= pub["accuracy"] else "FAIL"})
    return out


def targets(rows: list[dict[str, Any]], method: str = "probabilistic") -> list[dict[str, Any]]:
    """The issue's targets, checked as stated (never softened)."""
    out = []
    by = {(r["network"], r["ensemble"]): r for r in rows if r.get("method", method) == method}
    for (net, n), pub in PUBLISHED.items():
        r = by.get((net, n))
        if r is None:
            out.append({"target": f"{net} ensemble {n} accuracy >= {pub['accuracy'] * 100:.2f} %", "status": "NOT RUN"})
            out.append({"target": f"{net} ensemble {n} energy within ±20 % of {pub['uJ_per_image']} µJ (per core)",
                        "status": "NOT RUN"})
            continue
        ok = r["accuracy_mean"] >= pub["accuracy"]
        out.append({"target": f"{net} ensemble {n} mean accuracy >= {pub['accuracy'] * 100:.2f} %",
                    "measured": r["accuracy_mean"], "ensembles": r["seeds"], "seed_scheme": r["seed_scheme"],
                    "status": "PASS" if ok else "FAIL"})
        scaled = pub["uJ_per_image"] * r["cores"] / pub["cores"]
        ratio = r["uJ_per_image"] / scaled
        out.append({"target": f"{net} ensemble {n} energy within ±20 % of published {pub['uJ_per_image']} µJ "
                              f"scaled to our {r['cores']} cores (published network: {pub['cores']} cores) "
                              f"= {scaled:.3f} µJ",
                    "measured": r["uJ_per_image"], "ratio": ratio, "raw_ratio": r["uJ_per_image"] / pub["uJ_per_image"],
                    "status": "PASS" if abs(ratio - 1) <= ENERGY_TOLERANCE else "FAIL"})
    return out


#: the issue's limit on the full benchmark's wall time (training included) on 2 CPU cores
TIME_LIMIT_S = 2 * 3600


def time_target(seconds: float, infos: dict[str, dict[str, Any]], quick: bool) -> dict[str, Any]:
    """"Full benchmark finishes within 2 hours on 2 CPU cores", measured: this run's wall time counts only
    when every model was trained in this run (a model loaded from the cache hides its training time)."""
    target = f"full benchmark (training included) within {TIME_LIMIT_S / 3600:g} h on 2 CPU cores"
    if quick:
        return {"target": target, "status": "NOT RUN", "why": "--quick run"}
    models = [m for info in infos.values() for m in info.get("models", [info])]
    cached = [m for m in models if m.get("cached", True)]
    if cached:
        return {"target": target, "status": "NOT RUN",
                "why": f"{len(cached)} of {len(models)} trained models came from the cache (--workdir); "
                       "run with a fresh --workdir to time the whole benchmark"}
    return {"target": target, "measured": seconds, "status": "PASS" if seconds <= TIME_LIMIT_S else "FAIL"}


def pareto_front(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows not dominated by a row that is both cheaper (µJ/image) and at least as accurate."""
    front, best = [], -1.0
    for r in sorted(rows, key=lambda r: (r["uJ_per_image"], -r["accuracy_mean"])):
        if r["accuracy_mean"] > best:
            front.append(r)
            best = r["accuracy_mean"]
    return front


def plot(rows: list[dict[str, Any]], path: Path, title: str, published: list[tuple[str, float, float]],
         pareto: bool = False, scheme_rows: list[dict[str, Any]] | None = None,
         published_accuracy: tuple[tuple[str, float], ...] | list[tuple[str, float]] = ()) -> None:
    """Accuracy against µJ/image per (method, network, scheme), ensemble sizes labelled; ``published``:
    (label, µJ, accuracy) points; ``published_accuracy``: (label, accuracy) drawn as horizontal lines (a
    published accuracy whose energy was not published)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5))
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in [*rows, *(scheme_rows or [])]:
        groups.setdefault((r.get("method", "probabilistic"), r["network"], r.get("scheme", "")), []).append(r)
    markers = {"probabilistic": "o", "binary": "s"}
    if len(groups) > 10:  # more curves than the default colour cycle: no two curves share a colour
        ax.set_prop_cycle(color=[plt.get_cmap("tab20")(i) for i in range(20)])
    for (method, net, scheme), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["ensemble"])
        x = [r["uJ_per_image"] for r in rs]
        y = [r["accuracy_mean"] * 100 for r in rs]
        e = [r["accuracy_std"] * 100 for r in rs]
        ax.errorbar(x, y, yerr=e, marker=markers.get(method, "o"), capsize=2, ls=":" if scheme else "-",
                    mfc="none" if scheme else None, label=f"{method} / {net}" + (f" ({scheme})" if scheme else ""))
        for r, xi, yi in zip(rs, x, y, strict=True):
            ax.annotate(str(r["ensemble"]), (xi, yi), textcoords="offset points", xytext=(3, -10), fontsize=7)
    if pareto and rows:
        fr = pareto_front(rows)
        ax.plot([r["uJ_per_image"] for r in fr], [r["accuracy_mean"] * 100 for r in fr], "--", color="gray",
                lw=2, alpha=0.6, zorder=0, label="Pareto front (all rows)")
    for (label, uj, acc), mk in zip(published, ["*", "P", "X", "D"], strict=False):
        ax.scatter([uj], [acc * 100], marker=mk, s=140, zorder=5, color="black", label=label)
    for (label, acc), ls in zip(published_accuracy, ["--", "-.", ":"], strict=False):
        ax.axhline(acc * 100, color="black", lw=1, ls=ls, alpha=0.7, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("energy per image (µJ, simulator events x energy model)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)  # beside the curves
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def print_table(rows: list[dict[str, Any]], title: str = "Esser 2015 reproduction (simulator accuracy, "
                "threshold pixels)") -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for c in ("method", "network", "N", "accuracy %", "bernoulli %", "cores", "syn ev/img", "spikes/img",
              "µJ/img", "mW", "FPS", "published"):
        t.add_column(c)
    for r in rows:
        is_prob = r.get("method", "probabilistic") == "probabilistic"
        pub = PUBLISHED.get((r["network"], r["ensemble"])) if is_prob else None
        t.add_row(r.get("method", "probabilistic"), r["network"], str(r["ensemble"]),
                  f"{r['accuracy_mean'] * 100:.2f} ± {r['accuracy_std'] * 100:.2f}",
                  f"{r['accuracy_bernoulli_mean'] * 100:.2f}" if "accuracy_bernoulli_mean" in r else "-",
                  str(r["cores"]),
                  f"{r['synaptic_events_per_image']:.0f}", f"{r['spikes_per_image']:.0f}",
                  f"{r['uJ_per_image']:.3f}", f"{r['mW']:.3f}", f"{r['fps']:.0f}",
                  f"{pub['accuracy'] * 100:.2f} % / {pub['uJ_per_image']} µJ" if pub else "")
    Console(width=200).print(t)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny training and few test images (CI)")
    ap.add_argument("--networks", default="small,large")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--test-images", type=int, default=None)
    ap.add_argument("--energy-images", type=int, default=None)
    ap.add_argument("--epochs", type=str, default=None, help="override epochs, e.g. small=30,large=20")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--workdir", default=str(ROOT / "checkpoints" / "esser2015"))
    ap.add_argument("--out", default=None, metavar="DIR",
                    help="folder for esser2015.json and esser2015.png (default benchmarks/results, or its quick/)")
    ap.add_argument("--pool", default=None, metavar="NET=N[,NET=N]",
                    help="sampled copies per network (default small=320, large=320: every size up to 64 over 5 "
                    "disjoint ensembles); fewer copies measure the larger ensembles over overlapping subsets or "
                    "one ensemble; needs --out")
    ap.add_argument("--schemes", default=",".join(SCHEMES),
                    help=f"deployment schemes to measure, comma-separated (default {','.join(SCHEMES)}; '' for none)")
    ap.add_argument("--encodings", default="threshold,bernoulli",
                    help="plain-row encodings, the first being the rows' accuracy (default threshold,bernoulli)")
    args = ap.parse_args(argv)
    schemes = tuple(s for s in args.schemes.split(",") if s)
    encodings = tuple(e for e in args.encodings.split(",") if e)
    unknown = sorted(set(schemes) - set(SCHEME_NOTES))
    if unknown or not encodings or not set(encodings) <= {"threshold", "bernoulli"}:
        ap.error(f"--schemes takes {', '.join(SCHEME_NOTES)} (unknown: {unknown}); --encodings takes threshold, "
                 f"bernoulli (got {list(encodings)})")
    partial = args.pool is not None or schemes != SCHEMES or encodings != ("threshold", "bernoulli")
    if partial and not args.out:
        ap.error("--pool, --schemes and --encodings change what is measured: give the run its own --out folder, "
                 "so that it does not replace the committed results")
    commit, dirty = git_commit(ROOT), git_dirty(ROOT)  # the code that runs (a long run may outlive commits)
    torch.set_num_threads(benchmark_threads())  # training sets its own threads, then restores these
    settings = {k: json.loads(json.dumps(v)) for k, v in (QUICK if args.quick else FULL).items()}
    if args.epochs:
        for item in args.epochs.split(","):
            k, v = item.split("=")
            settings[k]["train"]["epochs"] = int(v)
    for item in (args.pool.split(",") if args.pool else []):
        k, _, v = item.partition("=")
        if k not in settings or not v.isdigit() or int(v) < 1:
            ap.error(f"--pool takes NET=N with NET in {', '.join(settings)} and N >= 1, got {item!r}")
        settings[k]["pool"] = int(v)
    n_test = args.test_images or (300 if args.quick else 10000)
    n_energy = args.energy_images or (100 if args.quick else 1000)
    out_dir = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / ("quick" if args.quick else "")
    if out_dir.suffix == ".json":
        ap.error(f"--out is a folder (esser2015.json is written into it), not a file: {out_dir}")
    if args.quick:
        try:  # refused now, not after the run
            check_quick_output(out_dir / "esser2015.json")
        except ValueError as e:
            ap.error(str(e))
    out_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(args.workdir) / ("quick" if args.quick else "full")
    data = cdata.load("mnist", find_data_dir(args.data_dir))
    t0 = time.time()
    rows: list[dict[str, Any]] = []
    jrows: list[dict[str, Any]] = []
    infos = {}
    for net in args.networks.split(","):
        r, info = run_method_network("probabilistic", net, settings[net], data, workdir, sizes=SIZES,
                                     seeds=args.seeds, n_test=n_test, energy_images=n_energy, schemes=schemes,
                                     encodings=encodings)
        rows += r
        jrows += info.pop("scheme_rows", [])
        infos[net] = info
    checks = targets(rows) + scheme_targets(jrows)
    checks.append(time_target(time.time() - t0, infos, args.quick))
    print_table(rows)
    for scheme in sorted({r["scheme"] for r in jrows}):
        print_table([r for r in jrows if r["scheme"] == scheme], f"{scheme} ensembles ({SCHEME_NOTES[scheme]})")
    for c in checks:
        print(f"{c['status']:8s} {c['target']}" + (f"  (measured {c['measured']:.4g})" if "measured" in c else "")
              + (f"  ({c['why']})" if "why" in c else ""))
    result = {
        "mode": "quick" if args.quick else "full",
        "command": " ".join(["python", "benchmarks/esser2015.py", *(argv if argv is not None else sys.argv[1:])]),
        "git_commit": commit,
        "git_dirty": dirty,
        "machine": machine(),
        "seconds": time.time() - t0,
        "encoding": "threshold (pixel > 0.5), one tick; accuracy_bernoulli_* with Bernoulli pixels",
        "published": {f"{k[0]}@{k[1]}": v for k, v in PUBLISHED.items()},
        "networks": infos,
        "targets": checks,
        "rows": rows,
        "scheme_rows": jrows,
    }
    write_result(out_dir / "esser2015.json", result)
    plot(rows, out_dir / "esser2015.png", "Esser 2015 on the simulator: accuracy vs energy",
         [("published small x1 (92.7 %, 0.268 µJ)", 0.268, 0.927),
          ("published large x64 (99.42 %, 108 µJ)", 108.0, 0.9942)], scheme_rows=jrows)
    print(f"wrote {out_dir / 'esser2015.json'} and esser2015.png in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
