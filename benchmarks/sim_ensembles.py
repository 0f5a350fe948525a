"""Simulator cost on the deployments the methods really produce: N-copy ensembles of the core networks.

For the small (5-core) and large (28-core) networks of Esser et al. 2015 at several ensemble sizes, one
sampled probabilistic model (seed 0, untrained: connection probabilities drawn at initialisation, so the
activity is generic, not tuned) is deployed as N copies on one chip and run on thresholded MNIST test
images, one tick per image. Measured, each the best of ``--repeat`` runs on one torch thread:

* ``compile_s``: :class:`~spikeforge.sim.engine.CompiledDeployment` (device tensors, routing plan);
* ``sequential_s``: :func:`~spikeforge.sim.simulate` (every input on a fresh network, drained);
* ``pipelined_s``: :func:`~spikeforge.sim.simulate_pipelined` (one input per tick, as on the chip);
* ``images_per_s`` (pipelined) and ``synaptic_events_per_s`` (pipelined).

    python benchmarks/sim_ensembles.py            # full: 1000 images, 1-64 copies → results/sim_ensembles.json
    python benchmarks/sim_ensembles.py --quick    # CI: 100 images, 1-4 copies → results/quick/
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from spikeforge.benchmarking import git_commit, git_dirty, load_average, machine, result_path, write_result  # noqa: E402
from spikeforge.data import load_dataset, threshold_encode  # noqa: E402
from spikeforge.methods.corenet.build import build_deployment  # noqa: E402
from spikeforge.methods.corenet.experiment import make_model, members_of  # noqa: E402
from spikeforge.methods.corenet.topology import get_network  # noqa: E402
from spikeforge.sim import simulate, simulate_pipelined  # noqa: E402
from spikeforge.sim.engine import CompiledDeployment  # noqa: E402

FULL = {"small": [1, 8, 64], "large": [1, 16, 64]}
QUICK = {"small": [1, 4], "large": [1, 4]}


def best_of(repeat: int, fn: Any) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls of ``fn`` and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="100 images, 1-4 copies; results under results/quick/")
    ap.add_argument("--images", type=int, default=None, help="MNIST test images (default 1000, quick 100)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each step (the best is reported)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    n = args.images or (100 if args.quick else 1000)
    commit, dirty = git_commit(ROOT), git_dirty(ROOT)
    load_before = load_average()
    ds = load_dataset("mnist")
    x = threshold_encode(ds.x_test[:n], threshold=0.5)  # (n, 1, 784)
    rows: list[dict[str, Any]] = []
    for name, sizes in (QUICK if args.quick else FULL).items():
        spec = get_network(name)
        copies = members_of("probabilistic", make_model("probabilistic", spec, 1, {}, 0), max(sizes), seed=0)
        for k in sizes:
            dep = build_deployment(spec, copies[:k])
            t_compile, sim = best_of(args.repeat, lambda dep=dep: CompiledDeployment(dep, "cpu"))
            simulate_pipelined(sim, x[: min(n, 32)])  # warm-up (allocations, kernel selection)
            t_seq, _ = best_of(args.repeat, lambda sim=sim: simulate(sim, x))
            t_pipe, r_pipe = best_of(args.repeat, lambda sim=sim: simulate_pipelined(sim, x))
            syn = float(r_pipe.counts.synaptic_events.sum())
            row = {"network": name, "copies": k, "cores": dep.n_cores, "images": n, "compile_s": t_compile,
                   "sequential_s": t_seq, "pipelined_s": t_pipe, "images_per_s": n / t_pipe,
                   "synaptic_events_per_s": syn / t_pipe, "synaptic_events": syn}
            rows.append(row)
            print(f"{name:>5} x{k:<3} {dep.n_cores:5d} cores: compile {t_compile:6.3f} s  sequential {t_seq:7.3f} s  "
                  f"pipelined {t_pipe:7.3f} s  ({n / t_pipe:8.0f} images/s, {syn / t_pipe:.3e} syn. events/s)",
                  flush=True)
    out = result_path(ROOT / "benchmarks" / "results", "sim_ensembles.json", args.quick)
    write_result(out, {
        "mode": "quick" if args.quick else "full",
        "command": " ".join([Path(sys.executable).name, "benchmarks/sim_ensembles.py", *(argv or sys.argv[1:])]),
        "git_commit": commit,
        "git_dirty": dirty,
        "machine": machine(),
        "threads": 1,
        "images": n,
        "repeat": args.repeat,
        "encoding": "threshold (pixel > 0.5), one tick per image",
        "rows": rows,
        "load_average": [load_before, load_average()],
    })
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
