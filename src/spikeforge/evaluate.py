"""Evaluate a deployment on encoded inputs: accuracy from the simulator's spikes, events, energy.

The regime follows how the chip would run the network: a layer-synchronous, acyclic deployment of memoryless
neurons is streamed (*pipelined*: a new input every ``ticks_per_input`` ticks, as Esser et al. 2015/2016 ran
TrueNorth); any other one runs each input on a drained network (*sequential*): a cycle or a core reached at
several depths mixes inputs, and neurons that hold a potential between ticks (rate-coded integrate-and-fire,
as the layer-wise conversion makes) would carry one input's residue into the next and apply their initial
potentials V0 to the first input only. Accuracy is always computed from the
simulator's output spikes, never from a training framework's model.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import torch

from spikeforge.data.source import Spikes, as_spikes, input_shape, read_inputs
from spikeforge.deploy.deployment import Deployment
from spikeforge.energy import estimate_energy
from spikeforge.sim import CompiledDeployment, SimResult, simulate, simulate_pipelined
from spikeforge.sim.engine import StatefulPipelineWarning as StatefulPipelineWarning  # re-exported
from spikeforge.sim.engine import auto_batch_size

RegimeChoice = Literal["auto", "sequential", "pipelined"]


class InputTicksWarning(UserWarning):
    """Input spikes that span another number of ticks than the deployment takes per input."""


def choose_regime(sim: CompiledDeployment, regime: RegimeChoice = "auto") -> Literal["sequential", "pipelined"]:
    """``auto`` → pipelined when the routing is acyclic and layer-synchronous and every neuron is memoryless
    (:attr:`Deployment.memoryless`), else sequential."""
    if regime not in ("auto", "sequential", "pipelined"):
        raise ValueError(f"regime must be 'auto', 'sequential' or 'pipelined', got {regime!r}")
    if regime != "auto":
        return regime
    topo = sim.topology
    return "pipelined" if topo.acyclic and topo.synchronous and sim.dep.memoryless else "sequential"


#: Bytes one pipelined block of inputs may hold (its spikes and per-tick counters): see :func:`stream_block`.
STREAM_MEMORY_BUDGET = 2**30


def stream_block(sim: CompiledDeployment, lanes: int, channels: int, budget: int = STREAM_MEMORY_BUDGET) -> int:
    """Inputs per block when a long input set is pipelined block by block: a multiple of ``lanes`` whose
    spikes and counters fit ``budget`` bytes. Per input a block holds its ``T · channels`` spike bytes three
    times (as read, as a tensor, padded into lanes) and about eight float64 counters per core and tick (five
    event counters, the active-core flags and their per-input sums), ``T`` = ticks per input. E.g. the
    28-core MNIST network, 64 copies fed per-axon draws (262 144 channels): 3 200 inputs per GiB."""
    t = max(1, sim.dep.ticks_per_input)
    per_input = t * (3 * int(channels) + 64 * sim.C)
    return max(1, budget // max(per_input * lanes, 1)) * lanes


def run_simulation(
    dep: Deployment | CompiledDeployment,
    spikes: Spikes,
    *,
    regime: RegimeChoice = "auto",
    batch_size: int | None = None,
    block_size: int | None = None,
    progress: bool = False,
    device: str | torch.device = "auto",
) -> tuple[SimResult, Literal["sequential", "pipelined"]]:
    """Simulate in the chosen regime; returns the result and the regime used. ``batch_size=None`` picks
    :func:`auto_batch_size` (a 64-copy ensemble of 28-core networks would otherwise need ~19 GB).

    ``spikes`` is a (B, T, K) array or a :class:`~spikeforge.data.source.SpikeSource`. The sequential regime
    reads it one batch at a time. The pipelined regime streams it in blocks of ``block_size`` inputs (default
    :func:`stream_block`, memory-bounded), each a stream of its own: for the memoryless neurons this regime
    is chosen for, every input's spikes, votes and counts are those of one long stream, and the stochastic
    draws are keyed by the input's index in ``spikes`` either way.

    ``device``: where a :class:`~spikeforge.deploy.Deployment` is compiled to run (``"auto"``: a CUDA GPU when
    this torch sees one, else the CPU; ``"cpu"``; ``"cuda[:N]"``); results are identical on every device. A
    :class:`~spikeforge.sim.CompiledDeployment` runs where it was compiled."""
    sim = dep if isinstance(dep, CompiledDeployment) else CompiledDeployment(dep, device)
    used = choose_regime(sim, regime)
    spikes = as_spikes(spikes)
    total, t_in, channels = input_shape(spikes)
    if channels != sim.dep.n_inputs:  # first: un-encoded images would also trip the ticks warning below
        raise ValueError(f"input spikes have {channels} channels, the deployment's input map expects "
                         f"{sim.dep.n_inputs} (are they encoded? spikeforge.threshold_encode(images) gives "
                         "(B, T, K) spikes)")
    if total and t_in != sim.dep.ticks_per_input:
        recorded = sim.dep.provenance.get("encoding")
        rec_ticks = recorded.get("ticks", 1) if isinstance(recorded, dict) else None
        hint = (f"its recorded encoding ({recorded}) gives {rec_ticks} too: the deployment and its recorded "
                "encoding disagree" if rec_ticks == t_in else
                f"encode them as it was built for (its provenance['encoding']: {recorded or 'not recorded'})")
        warnings.warn(f"the input spikes span {t_in} tick(s) per input but the deployment takes "
                      f"{sim.dep.ticks_per_input} (ticks_per_input): {hint}", InputTicksWarning, stacklevel=3)
    if batch_size is None:
        batch_size = auto_batch_size(sim)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if used == "sequential":
        return simulate(sim, spikes, batch_size=batch_size, progress=progress), used
    block = stream_block(sim, batch_size, channels) if block_size is None else int(block_size)
    if block < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    if total <= block:
        return simulate_pipelined(sim, spikes, lanes=batch_size), used
    starts: Iterable[int] = range(0, total, block)
    if progress:
        from spikeforge.progress import track

        starts = track(starts, description="simulating", total=-(-total // block))
    parts = [simulate_pipelined(sim, read_inputs(spikes, s, min(s + block, total)), lanes=batch_size, first=s)
             for s in starts]
    return SimResult.concat(parts, pipelined=True), used


def evaluate_deployment(
    dep: Deployment,
    spikes: Spikes,
    labels: np.ndarray,
    *,
    name: str = "",
    regime: RegimeChoice = "auto",
    tick_hz: float | None = None,
    batch_size: int | None = None,
    block_size: int | None = None,
    progress: bool = False,
    metrics: bool = False,
    replay: bool = False,
    device: str | torch.device = "auto",
) -> dict[str, Any]:
    """Accuracy, event counts per input and the energy report of ``dep`` on ``spikes`` (B, T, K): an array
    or a :class:`~spikeforge.data.source.SpikeSource` (see :func:`run_simulation`, also for ``block_size``
    and ``device``).

    With ``metrics`` the result carries NeuroBench-style metrics (:func:`spikeforge.metrics.compute_metrics`);
    ``replay`` re-runs the inputs to count effective ACs and membrane updates exactly. ``name``: the dataset's
    name, recorded as ``dataset``.

    Returns a dict: ``accuracy`` (fraction of ``labels`` matched by the class with the most output votes),
    ``n_inputs``, ``dataset``, ``regime`` (the one used), ``cores``, ``chips``, ``ticks_per_input``,
    ``latency_ticks``, ``events_per_input`` (mean synaptic events, spikes, hops, ... per input),
    ``uJ_per_image`` (µJ), ``mW``, ``fps``, ``fps_per_W`` and ``energy`` (the full
    :class:`~spikeforge.energy.EnergyReport` summary, assumptions included); ``metrics`` with ``metrics``.
    """
    labels = np.asarray(labels)
    if len(spikes) == 0:
        raise ValueError("no inputs to evaluate: the batch is empty")
    if len(labels) != len(spikes):
        raise ValueError(f"{len(spikes)} inputs but {len(labels)} labels")
    result, used = run_simulation(dep, spikes, regime=regime, batch_size=batch_size, block_size=block_size,
                                  progress=progress, device=device)
    out = summarise_run(dep, result, used, labels, name=name, tick_hz=tick_hz)
    if metrics:
        from spikeforge.metrics import compute_metrics

        out["metrics"] = compute_metrics(dep, result, inputs=spikes if replay else None)
    return out


def evaluate_over_seeds(
    dep: Deployment,
    spikes: Spikes,
    labels: np.ndarray,
    seeds: list[int],
    **kw: Any,
) -> dict[str, Any]:
    """Evaluate a deployment that uses stochastic modes once per PRN seed (:attr:`Deployment.prng_seed`), so
    that its accuracy and energy are reported as mean ± standard deviation over realisations of the chip's
    pseudo-random numbers. ``kw`` go to :func:`evaluate_deployment`. Raises ``ValueError`` for a
    deterministic deployment (every run would be identical) or fewer than two seeds."""
    if not dep.stochastic:
        raise ValueError("the deployment uses no stochastic mode: every PRN seed gives the same run")
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise ValueError(f"need at least two distinct seeds, got {seeds}")
    runs = []
    for seed in seeds:
        if not 0 <= seed < 2**32:
            raise ValueError(f"PRN seed {seed} is not in [0, 2^32)")
        runs.append(evaluate_deployment(replace(dep, prng_seed=int(seed)), spikes, labels, **kw))
    acc = np.array([r["accuracy"] for r in runs])
    uj = np.array([r["uJ_per_image"] for r in runs])
    return {
        "seeds": [int(x) for x in seeds],
        "accuracy_mean": float(acc.mean()),
        "accuracy_std": float(acc.std(ddof=1)),
        "uJ_per_image_mean": float(uj.mean()),
        "uJ_per_image_std": float(uj.std(ddof=1)),
        "runs": runs,
    }


def summarise_run(dep: Deployment, result: SimResult, regime: Literal["sequential", "pipelined"],
                  labels: np.ndarray, *, name: str = "", tick_hz: float | None = None) -> dict[str, Any]:
    """The dict :func:`evaluate_deployment` returns (accuracy, events per input, energy report) for a
    simulation already run in ``regime`` — for callers that also need the :class:`SimResult` itself."""
    labels = np.asarray(labels)
    if len(labels) != result.counts.batch:
        raise ValueError(f"{result.counts.batch} simulated inputs but {len(labels)} labels")
    if labels.size and (labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= dep.n_classes):
        lo, hi = (labels.min(), labels.max()) if labels.dtype.kind in "iuf" else ("?", "?")
        raise ValueError(f"labels must be integers in [0, {dep.n_classes}) (the deployment's classes), got "
                         f"{labels.dtype} values in [{lo}, {hi}]")
    if regime not in ("sequential", "pipelined"):
        raise ValueError(f"regime must be 'sequential' or 'pipelined', got {regime!r}")
    if len(dep.output_core) == 0:
        raise ValueError("the deployment has no output neurons (empty output map): its class counts are all 0, "
                         "so every prediction would be class 0")
    used = regime
    energy = estimate_energy(result.counts, dep.chip, dep, regime=used, tick_hz=tick_hz)
    out: dict[str, Any] = {
        "dataset": name,
        "n_inputs": len(labels),
        "accuracy": result.accuracy(labels),
        "regime": used,
        "cores": dep.n_cores,
        "chips": dep.n_chips,
        "ticks_per_input": dep.ticks_per_input,
        "latency_ticks": result.latency,
        "events_per_input": result.counts.mean(),
        "uJ_per_image": energy.mean_energy_uj,
        "mW": energy.power_mw,
        "fps": energy.fps,
        "fps_per_W": energy.fps_per_w,
        "energy": energy.to_dict(),
    }
    if dep.stochastic or np.any(dep.leak_reversal[dep.enabled.astype(bool)]):
        out["neuron_modes"] = dep.mode_summary()  # which stochastic draws these numbers come from
        out["prng_seed"] = int(dep.prng_seed)
    return out
