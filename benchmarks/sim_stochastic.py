"""What TrueNorth's stochastic modes and leak reversal cost the simulator, and a check that they are exact.

Run from the repository root::

    python benchmarks/sim_stochastic.py            # 200 inputs → benchmarks/results/sim_stochastic.json
    python benchmarks/sim_stochastic.py --quick    # 20 inputs  → benchmarks/results/quick/sim_stochastic.json

The network is the 20-core one of ``benchmarks/sim_throughput.py`` (two layers, ±1 synapses, integrate-and-fire
neurons, 4096 Bernoulli(0.2) input channels for 16 ticks; 17 ticks per input). Each row switches a mode on for
every neuron, chosen where possible so that the network computes the same function, which the row checks
spike for spike against the deterministic run:

* ``stochastic synapses, s = ±255``: every synapse type stochastic with weights ±255; a stochastic synapse adds
  sgn(s) with probability (|s| + 1)/256 = 1, i.e. exactly the deterministic ±1 — but every synaptic event is
  drawn (:class:`spikeforge.sim.neuron.StochasticSynapses`);
* ``stochastic leak, λ = 0``: draws a leak PRN per neuron and tick; sgn(0) = 0 adds nothing;
* ``leak reversal, λ = 0``: takes the general neuron step; 0 · sgn(V) adds nothing;
* ``threshold mask M = 1``: α + η with η ∈ {0, 1}: a different network (spikes reported, not compared);
* ``all modes``: the four together (spikes reported).

Timing: the simulation only (compiled beforehand, one warm-up), best of ``--repeat`` runs, one torch thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sim_throughput import TICKS, build_deployment, make_inputs  # noqa: E402
from spikeforge.benchmarking import git_commit, git_dirty, load_average, machine, result_path, write_result  # noqa: E402
from spikeforge.deploy import Deployment  # noqa: E402
from spikeforge.hardware import check  # noqa: E402
from spikeforge.sim import CompiledDeployment, simulate  # noqa: E402


def _synapses(d: Deployment) -> None:
    d.stochastic_synapse[:] = True
    d.weights[:] = d.weights * 255


def _leak(d: Deployment) -> None:
    d.stochastic_leak[:] = True


def _reversal(d: Deployment) -> None:
    d.leak_reversal[:] = True


def _mask(d: Deployment) -> None:
    d.threshold_mask[:] = 1


def _all(d: Deployment) -> None:
    for f in (_synapses, _leak, _reversal, _mask):
        f(d)


#: (row name, change to the deployment, whether the spikes must equal the deterministic run's)
MODES: list[tuple[str, Callable[[Deployment], None] | None, bool]] = [
    ("deterministic", None, True),
    ("stochastic synapses, s = ±255", _synapses, True),
    ("stochastic leak, λ = 0", _leak, True),
    ("leak reversal, λ = 0", _reversal, True),
    ("threshold mask M = 1", _mask, False),
    ("all modes", _all, False),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="20 inputs; results under results/quick/")
    ap.add_argument("--inputs", type=int, default=None, help="inputs (default 200, quick 20)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each mode (the best is reported)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    n = args.inputs or (20 if args.quick else 200)
    commit, dirty = git_commit(ROOT), git_dirty(ROOT)
    load_before = load_average()
    x = make_inputs(n)
    rows: list[dict[str, Any]] = []
    base_spikes: np.ndarray | None = None
    base_s = float("nan")
    for name, change, same in MODES:
        d = build_deployment()
        if change is not None:
            change(d)
        check(d)
        sim = CompiledDeployment(d, "cpu")
        simulate(sim, x[:2], ticks=TICKS)  # warm-up
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            simulate(sim, x, ticks=TICKS, batch_size=n)
            times.append(time.perf_counter() - t0)
        r = simulate(sim, x, ticks=TICKS, batch_size=n, record_spikes=True)  # untimed: the raster to compare
        assert r.spikes is not None
        best = min(times)
        if base_spikes is None:
            base_spikes, base_s = r.spikes, best
        equal = bool(np.array_equal(r.spikes, base_spikes))
        if same and not equal:
            raise SystemExit(f"{name}: spikes differ from the deterministic run, which this mode must reproduce")
        syn = float(r.counts.synaptic_events.sum())
        rows.append({"mode": name, "seconds": best, "slowdown": best / base_s, "inputs": n,
                     "synaptic_events_per_s": syn / best, "spikes": int(r.counts.spikes.sum()),
                     "same_spikes_as_deterministic": equal if same else None})
        print(f"{name:<32} {best:8.3f} s  x{best / base_s:6.2f}  {syn / best:.3e} syn. events/s  "
              f"spikes {int(r.counts.spikes.sum())}" + ("  (= deterministic)" if same else ""), flush=True)
    out = result_path(ROOT / "benchmarks" / "results", "sim_stochastic.json", args.quick)
    write_result(out, {
        "mode": "quick" if args.quick else "full",
        "command": " ".join([Path(sys.executable).name, "benchmarks/sim_stochastic.py", *(argv or sys.argv[1:])]),
        "git_commit": commit,
        "git_dirty": dirty,
        "machine": machine(),
        "threads": 1,
        "inputs": n,
        "ticks_per_input": TICKS,
        "repeat": args.repeat,
        "rows": rows,
        "load_average": [load_before, load_average()],
    })
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
