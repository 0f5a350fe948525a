"""Simulator throughput: synaptic events per second, spikeforge against snnTorch and Norse.

Run from the repository root::

    python benchmarks/sim_throughput.py            # 1000 inputs → benchmarks/results/sim_throughput.json
    python benchmarks/sim_throughput.py --quick    # 100 inputs  → benchmarks/results/quick/sim_throughput.json
    python benchmarks/sim_throughput.py --device cuda --inputs 20000   # on a GPU → sim_throughput_cuda.json

The network (identical in all three simulators, checked spike for spike in totals):

* 20 TrueNorth cores in two layers: 16 cores (layer 1) read the 4096 input channels (channel 256·k + i →
  core k, axon i); 4 cores (layer 2) read layer 1.
* Crossbar density 0.5 (seeded); axon types alternate (even axon → type 0, odd → type 1) with per-type
  weights s[0] = +1, s[1] = −1, so every synapse is +1 or −1.
* Integrate-and-fire neurons: threshold α = 1, reset to 0 (γ = 0, R = 0), no leak (λ = 0), V0 = 0,
  κ = 1 with β = 2^18 − 1 (the TrueNorth maximum; never reached: |V| ≤ 16 · 256 here) — so potentials
  are unbounded integers in practice and the peers' float32 potentials are exact.
* Routing: neuron j < 64 of layer-1 core k → layer-2 core k // 4, axon (k % 4) · 64 + j, delay 1 (each
  layer-2 axon receives exactly one neuron, so a dense weight matrix in the peers is exact). Every other
  neuron sends its spikes off-chip (dest −1); layer-2 neuron j votes for class j % 10.
* Input: Bernoulli(0.2) spikes on the 4096 channels for 16 ticks; every simulator runs 17 ticks per input
  (16 + the one-tick inter-layer delay) so layer 2 sees layer 1's last spikes.

Peers are written the way a user of those tools would: dense ``nn.Linear`` layers holding the effective
weights (layer 1: 4096 → 4096 block-diagonal, layer 2: 4096 → 1024) followed by the library's standard
neuron (snnTorch ``snn.Leaky(beta=1, threshold=0.5, reset_mechanism="zero")``; Norse ``IAFCell`` with
``v_th = 0.5, v_reset = 0``); both fire on a strict ``>``, so threshold 0.5 equals "V ≥ 1" on integers.
Layer 2 is fed the previous tick's layer-1 spikes (the delay-1 route).

Synaptic events are counted identically everywhere: Σ over spikes arriving at an axon × the synapses
connected to that axon. spikeforge counts them in its simulator; the peers add x_t · fanout per tick.
Timing covers the simulation only (the network is built/compiled beforehand): after one full warm-up run
each, the three are timed in turn ``--repeat`` times (interleaved, so that load from other processes hits all
alike) and the best time of each is reported. The same number of torch threads is used for all three: one by
default (per-core throughput; ``--threads N`` for more).

``--device cuda`` runs all three on the GPU (inputs, weights and state placed there before the timed runs;
every run ends by reading its totals back, which waits for the GPU) and writes ``sim_throughput_cuda.json``.
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

from spikeforge.benchmarking import git_commit, git_dirty, load_average, machine, result_path, write_result
from spikeforge.deploy import Deployment
from spikeforge.hardware import TRUENORTH, check
from spikeforge.sim import CompiledDeployment, simulate

N_L1, N_L2, CORE = 16, 4, 256
N_IN = N_L1 * CORE
TICKS_IN = 16
TICKS = TICKS_IN + 1  # + the inter-layer delay
ROUTED = 64  # neurons per layer-1 core routed to layer 2
TARGET = 10.0
ROOT = Path(__file__).resolve().parent.parent


def build_deployment(seed: int = 0) -> Deployment:
    """The 20-core benchmark network (see the module docstring)."""
    rng = np.random.default_rng(seed)
    c = N_L1 + N_L2
    d = Deployment.empty(TRUENORTH, c, N_IN, 10, ticks_per_input=TICKS_IN,
                         provenance={"benchmark": "sim_throughput", "seed": seed})
    d.crossbar[:] = rng.random((c, CORE, CORE)) < 0.5
    d.axon_type[:] = (np.arange(CORE) % 2)[None, :]
    d.weights[:, :, 0] = 1
    d.weights[:, :, 1] = -1
    d.threshold[:] = 1
    d.neg_threshold[:] = TRUENORTH.core.threshold_max
    d.floor_mode[:] = 1
    d.reset_mode[:] = 0
    d.reset_value[:] = 0
    d.enabled[:] = True
    for k in range(N_L1):
        d.dest_core[k, :ROUTED] = N_L1 + k // 4
        d.dest_axon[k, :ROUTED] = (k % 4) * ROUTED + np.arange(ROUTED)
        d.dest_delay[k, :ROUTED] = 1
    d.input_channel = np.arange(N_IN, dtype=np.int32)
    d.input_core = (np.arange(N_IN) // CORE).astype(np.int32)
    d.input_axon = (np.arange(N_IN) % CORE).astype(np.int32)
    d.output_core = np.repeat(np.arange(N_L1, c), CORE).astype(np.int32)
    d.output_neuron = np.tile(np.arange(CORE), N_L2).astype(np.int32)
    d.output_class = (d.output_neuron % 10).astype(np.int32)
    d = d.normalised()
    check(d)
    return d


def dense_weights(d: Deployment) -> tuple[torch.Tensor, torch.Tensor]:
    """The effective weights as the dense ``nn.Linear`` matrices (out, in) a peer user would write."""
    w = d.effective_weights().astype(np.float32)  # (C, A, N)
    w1 = np.zeros((N_IN, N_IN), np.float32)
    for k in range(N_L1):
        w1[k * CORE:(k + 1) * CORE, k * CORE:(k + 1) * CORE] = w[k].T
    w2 = np.zeros((N_L2 * CORE, N_IN), np.float32)
    for k in range(N_L1):
        m = k // 4
        axons = (k % 4) * ROUTED + np.arange(ROUTED)
        # layer-2 neuron j2 of core m gets W_eff[16+m, axon, j2] from layer-1 neuron (k, j)
        w2[m * CORE:(m + 1) * CORE, k * CORE:k * CORE + ROUTED] = w[N_L1 + m][axons].T
    return torch.from_numpy(w1), torch.from_numpy(w2)


def make_inputs(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((n, TICKS_IN, N_IN)) < 0.2).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- runners
# Each maker builds its simulator outside the timed region and returns a function that simulates all inputs
# once and returns (total spikes, total synaptic events).
Runner = Callable[[], tuple[int, int]]


def make_spikeforge(d: Deployment, x: np.ndarray, device: str = "cpu") -> tuple[Runner, dict[str, Any]]:
    sim = CompiledDeployment(d, device=device)
    xd = torch.from_numpy(x).to(sim.device)  # as the peers get theirs: already on the device

    def once() -> tuple[int, int]:
        r = simulate(sim, xd, ticks=TICKS, batch_size=len(x))
        return int(r.counts.spikes.sum()), int(r.counts.synaptic_events.sum())

    return once, {"matmul_dtype": str(sim.fdtype).removeprefix("torch.")}


def _peer_loop(step1: Any, step2: Any, w1: torch.Tensor, w2: torch.Tensor, x: torch.Tensor,
               fan1: torch.Tensor, fan2: torch.Tensor) -> tuple[int, int]:
    """One simulation: ``step1``/``step2`` map input currents to spikes and keep their own state."""
    b, dev = x.shape[0], x.device
    s1_prev = torch.zeros((b, N_IN), device=dev)
    zeros_in = torch.zeros((b, N_IN), device=dev)
    spikes = torch.zeros((), dtype=torch.float64, device=dev)
    syn = torch.zeros((), dtype=torch.float64, device=dev)
    for t in range(TICKS):
        xt = x[:, t] if t < TICKS_IN else zeros_in
        s1 = step1(torch.nn.functional.linear(xt, w1))
        s2 = step2(torch.nn.functional.linear(s1_prev, w2))  # layer 2 sees layer 1's previous tick (delay 1)
        spikes += s1.sum(dtype=torch.float64) + s2.sum(dtype=torch.float64)
        syn += (xt @ fan1).sum(dtype=torch.float64) + (s1_prev @ fan2).sum(dtype=torch.float64)
        s1_prev = s1
    return int(spikes.item()), int(syn.item())


def make_snntorch(w1: torch.Tensor, w2: torch.Tensor, xt: torch.Tensor, fan1: torch.Tensor,
                  fan2: torch.Tensor) -> tuple[Runner, dict[str, Any]]:
    """``xt``: (B, ticks, channels) float32 input spikes."""
    import snntorch as snn

    @torch.no_grad()
    def once() -> tuple[int, int]:
        lif1 = snn.Leaky(beta=1.0, threshold=0.5, reset_mechanism="zero").to(xt.device)
        lif2 = snn.Leaky(beta=1.0, threshold=0.5, reset_mechanism="zero").to(xt.device)
        state = {"m1": lif1.init_leaky(), "m2": lif2.init_leaky()}

        def step1(cur: torch.Tensor) -> torch.Tensor:
            spk, state["m1"] = lif1(cur, state["m1"])
            return spk

        def step2(cur: torch.Tensor) -> torch.Tensor:
            spk, state["m2"] = lif2(cur, state["m2"])
            return spk

        return _peer_loop(step1, step2, w1, w2, xt, fan1, fan2)

    return once, {}


def make_norse(w1: torch.Tensor, w2: torch.Tensor, xt: torch.Tensor, fan1: torch.Tensor,
               fan2: torch.Tensor) -> tuple[Runner, dict[str, Any]]:
    """``xt``: (B, ticks, channels) float32 input spikes."""
    from norse.torch import IAFCell, IAFParameters

    p = IAFParameters(v_th=torch.as_tensor(0.5, device=xt.device), v_reset=torch.as_tensor(0.0, device=xt.device))

    @torch.no_grad()
    def once() -> tuple[int, int]:
        cell1, cell2 = IAFCell(p).to(xt.device), IAFCell(p).to(xt.device)
        state: dict[str, Any] = {"s1": None, "s2": None}

        def step1(cur: torch.Tensor) -> torch.Tensor:
            z, state["s1"] = cell1(cur, state["s1"])
            return z

        def step2(cur: torch.Tensor) -> torch.Tensor:
            z, state["s2"] = cell2(cur, state["s2"])
            return z

        return _peer_loop(step1, step2, w1, w2, xt, fan1, fan2)

    return once, {}


def peer_fanouts(d: Deployment) -> tuple[torch.Tensor, torch.Tensor]:
    """Synapses per layer-1 input channel, and per layer-1 neuron (those of the layer-2 axon it drives)."""
    fanout = np.count_nonzero(d.crossbar, axis=2)  # (C, A)
    fan1 = fanout[:N_L1].reshape(-1).astype(np.float32)
    fan2 = np.zeros(N_IN, np.float32)
    for k in range(N_L1):
        fan2[k * CORE:k * CORE + ROUTED] = fanout[N_L1 + k // 4, (k % 4) * ROUTED + np.arange(ROUTED)]
    return torch.from_numpy(fan1), torch.from_numpy(fan2)


# ---------------------------------------------------------------------------------------------- output
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="100 inputs; results under benchmarks/results/quick/")
    ap.add_argument("--inputs", type=int, default=None, help="number of inputs (default 1000, quick 100)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per simulator (the best is reported)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for all three simulators (default 1: per-core throughput, which stays "
                         "reproducible on a shared machine; more threads suffer from other processes' load)")
    ap.add_argument("--device", default="cpu",
                    help="cpu (default) or cuda[:N]: all three simulators run there; results go to "
                         "sim_throughput_cuda.json")
    args = ap.parse_args(argv)
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        ap.error(f"--device {args.device}: this torch ({torch.__version__}) sees no CUDA GPU")
    n = args.inputs or (100 if args.quick else 1000)
    threads = max(1, args.threads)
    torch.set_num_threads(threads)

    commit, dirty = git_commit(ROOT), git_dirty(ROOT)
    load_before = load_average()
    d = build_deployment()
    x = make_inputs(n)
    w1, w2 = (w.to(dev) for w in dense_weights(d))
    fan1, fan2 = (f.to(dev) for f in peer_fanouts(d))
    xf = torch.from_numpy(x).float().to(dev)  # the peers' input, converted outside the timed runs
    runners = {
        "spikeforge": make_spikeforge(d, x, args.device),
        "snntorch": make_snntorch(w1, w2, xf, fan1, fan2),
        "norse": make_norse(w1, w2, xf, fan1, fan2),
    }
    results: dict[str, tuple[int, int]] = {}
    times: dict[str, list[float]] = {k: [] for k in runners}
    for impl, (once, _) in runners.items():  # one full warm-up run each (allocations, kernel selection)
        results[impl] = once()
    for _ in range(args.repeat):  # interleaved, so that load from other processes hits all three alike
        for impl, (once, _) in runners.items():
            t0 = time.perf_counter()
            got = once()
            times[impl].append(time.perf_counter() - t0)
            assert got == results[impl], f"{impl} is not deterministic"
    rows: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    for impl, (_, meta) in runners.items():
        spikes, syn = results[impl]
        best = min(times[impl])
        rows.append({"impl": impl, "events_per_s": syn / best, "spikes": spikes, "synaptic_events": syn,
                     "seconds": best, "seconds_all": times[impl]})
        if "matmul_dtype" in meta:
            extra["spikeforge_matmul_dtype"] = meta["matmul_dtype"]
        print(f"{impl:>10}: {best:8.3f} s (best of {args.repeat})  {syn / best:.3e} synaptic events/s  "
              f"spikes={spikes}  synaptic_events={syn}", flush=True)

    ref = rows[0]
    for row in rows[1:]:
        if (row["spikes"], row["synaptic_events"]) != (ref["spikes"], ref["synaptic_events"]):
            raise AssertionError(
                f"{row['impl']} disagrees with spikeforge: spikes {row['spikes']} vs {ref['spikes']}, "
                f"synaptic events {row['synaptic_events']} vs {ref['synaptic_events']}"
            )
    fastest_peer = max(r["events_per_s"] for r in rows[1:])
    speedup = ref["events_per_s"] / fastest_peer
    met = speedup >= TARGET
    print(f"spikes and synaptic events identical in all three ({ref['spikes']} spikes, "
          f"{ref['synaptic_events']} synaptic events)")
    print(f"speedup vs fastest peer: {speedup:.2f}x (target {TARGET:.0f}x): {'PASS' if met else 'FAIL'}")

    name = "sim_throughput.json" if dev.type == "cpu" else "sim_throughput_cuda.json"
    out = result_path(ROOT / "benchmarks" / "results", name, args.quick)
    write_result(out, {
        "mode": "quick" if args.quick else "full",
        "command": " ".join([Path(sys.executable).name, "benchmarks/sim_throughput.py", *(argv or sys.argv[1:])]),
        "git_commit": commit,
        "git_dirty": dirty,
        "threads": threads,
        "device": str(dev),
        "machine": machine(str(dev)),
        "inputs": n,
        "ticks_per_input": TICKS,
        "rows": rows,
        "speedup_vs_fastest_peer": speedup,
        "target_met": met,
        "target_speedup": TARGET,
        # 1-minute load average before and after: other processes on the machine distort timings
        "load_average": [load_before, load_average()],
        **extra,
    })
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
