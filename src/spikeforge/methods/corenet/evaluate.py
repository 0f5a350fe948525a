"""Simulator-based evaluation of core-network ensembles.

Accuracy is always computed from the simulator's output spikes. For speed, the members of an ensemble are
simulated in *groups*: a probe deployment holds ``group`` copies on distinct cores, and copy g's output
neurons vote into classes ``g * n_classes + k`` so each member's class counts can be read separately. An
ensemble's class counts are then the sums of its members' simulated counts — exactly what the N-copy
deployment (copies on distinct cores, all voting into the same classes) produces, since copies share no
cores, routes or axons. Event counts for energy are measured on the real N-copy deployment
(:func:`ensemble_activity`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from spikeforge.deploy.deployment import Deployment
from spikeforge.hardware.rules import check
from spikeforge.methods.corenet.build import Copy, build_deployment
from spikeforge.methods.corenet.topology import NetworkSpec
from spikeforge.sim import EventCounts, simulate_pipelined


def simulate_deployment(dep: Deployment, spikes: np.ndarray, chunk: int | None = None, per_lane: int = 16
                        ) -> tuple[np.ndarray, EventCounts]:
    """Stream one-tick inputs through ``dep`` (pipelined: one input per tick, as on the chip), in chunks of
    ``chunk`` inputs (default: sized to keep the simulator's axon buffer small), each chunk as
    ``chunk / per_lane`` lanes of ``per_lane`` back-to-back inputs (memoryless layer-synchronous networks give
    the same spikes as one input per lane; pipelining keeps every layer busy every tick, ~3x cheaper).
    Returns (class counts (B, classes), per-input event counts)."""
    from spikeforge.sim import CompiledDeployment

    sim = CompiledDeployment(dep, "auto")
    if chunk is None:
        chunk = int(max(32, min(1000, 4e8 // max(dep.n_cores * dep.chip.core.n_axons, 1))))
    cls, parts = [], []
    for s in range(0, len(spikes), chunk):
        part = spikes[s : s + chunk]
        # a real stream: each lane carries `per_lane` consecutive inputs, one per tick (all layers busy)
        r = simulate_pipelined(sim, part, lanes=max(1, len(part) // per_lane))
        cls.append(r.class_counts)
        parts.append(r.counts)
    return np.concatenate(cls), EventCounts.concat(parts)


def member_class_counts(
    spec: NetworkSpec,
    members: Sequence[Copy],
    spikes: np.ndarray,
    *,
    chip: str = "truenorth",
    group: int = 8,
    chunk: int | None = None,
    progress: Callable[[int], Any] | None = None,
    shifts: Sequence[tuple[int, int]] | None = None,
    draw: Callable[[list[int]], np.ndarray] | None = None,
    axon_draw: Callable[[list[int], np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """(n_members, B, n_classes) class spike counts of every member, from the simulator; member i reads the
    input through the map translated by ``shifts[i]`` when given.

    ``draw``: private inputs — ``draw(idx)`` returns the (B, 1, len(idx) · K) spikes of members ``idx`` side
    by side (e.g. :func:`~spikeforge.methods.corenet.data.private_draws`), each member reading its own block
    (``build_deployment(..., private_inputs=True)``); ``spikes`` is then unused.
    ``axon_draw``: private inputs addressed one axon at a time — the group's deployment is fed through
    :meth:`~spikeforge.deploy.Deployment.per_axon_inputs` and ``axon_draw(idx, source)`` returns its
    (B, 1, len(source)) spikes (e.g. :func:`~spikeforge.data.encode.axon_draws`); ``spikes`` is then unused."""
    if shifts is not None and len(shifts) != len(members):
        raise ValueError(f"{len(shifts)} shifts for {len(members)} members")
    if draw is not None and axon_draw is not None:
        raise ValueError("give draw or axon_draw, not both")
    private = draw is not None or axon_draw is not None
    out = []
    for s in range(0, len(members), group):
        grp = list(members[s : s + group])
        sh = list(shifts[s : s + group]) if shifts is not None else None
        dep = build_deployment(spec, grp, chip=chip, input_shifts=sh, private_inputs=private)
        check(dep)
        n = len(grp)
        copy_of_output = np.repeat(np.arange(n), len(dep.output_core) // n)
        dep.output_class = (dep.output_class + copy_of_output * spec.n_classes).astype(np.int32)
        dep.n_classes = spec.n_classes * n
        idx = list(range(s, s + n))
        if axon_draw is not None:
            dep, source = dep.per_axon_inputs()
            x = axon_draw(idx, source)
        else:
            x = draw(idx) if draw is not None else spikes
        cls, _ = simulate_deployment(dep, x, chunk)
        out.append(cls.reshape(len(x), n, spec.n_classes).transpose(1, 0, 2))
        if progress is not None:
            progress(n)
    return np.concatenate(out)


def ensemble_accuracy(counts: np.ndarray, labels: np.ndarray, members: Sequence[int]) -> float:
    """Accuracy of the ensemble whose class counts are the sum over ``members`` (ties → lowest class)."""
    summed = counts[list(members)].sum(axis=0)
    return float(np.mean(summed.argmax(axis=1) == labels))


def ensemble_table(
    counts: np.ndarray, labels: np.ndarray, sizes: Sequence[int], seeds: int
) -> dict[int, list[float]]:
    """For each size n: up to ``seeds`` accuracies. Seed s uses members [s·n, (s+1)·n) when the pool holds
    ``seeds · n`` members (independent ensembles); otherwise a random n-subset of the pool drawn with
    seed s (ensembles then share members, and the spread underestimates the true seed-to-seed spread).
    A subset drawn before is not evaluated again: at n = pool size there is one ensemble, one accuracy."""
    pool = counts.shape[0]
    out: dict[int, list[float]] = {}
    for n in sizes:
        if n > pool:
            continue
        accs, seen = [], set()
        for s in range(seeds):
            if seeds * n <= pool:
                mem = list(range(s * n, (s + 1) * n))
            else:
                mem = np.random.default_rng(1000 + s).choice(pool, n, replace=False).tolist()
            if (key := frozenset(mem)) in seen:
                continue
            seen.add(key)
            accs.append(ensemble_accuracy(counts, labels, mem))
        out[n] = accs
    return out


def jitter_ensembles(pool: int, sizes: Sequence[int], seeds: int) -> dict[int, list[list[tuple[int, int]]]]:
    """The input-jitter ensembles to measure: size → per seed, the ``(member, shift index)`` of each copy.

    Copy k of an n-copy jitter ensemble reads the input translated by ``JITTER_SHIFTS[k mod 9]``. Its member
    is chosen as in :func:`ensemble_table` when the pool holds n members (seed s: members s·n + k if
    ``seeds · n ≤ pool``, else a random n-subset drawn with seed s); when the pool is smaller than n (e.g. a
    few trained binary networks), copy k is member ``k mod pool`` (one ensemble, seed 0 only) — with
    ``gcd(pool, 9) = 1`` all of the first ``9 · pool`` (member, shift) pairs are distinct."""
    from spikeforge.methods.corenet.topology import JITTER_SHIFTS

    j = len(JITTER_SHIFTS)
    out: dict[int, list[list[tuple[int, int]]]] = {}
    for n in sizes:
        if n > pool:
            if n > j * pool:
                continue
            out[n] = [[(k % pool, k % j) for k in range(n)]]
            continue
        ens = []
        for s in range(seeds):
            if seeds * n <= pool:
                mem = list(range(s * n, (s + 1) * n))
            else:
                mem = np.random.default_rng(1000 + s).choice(pool, n, replace=False).tolist()
            ens.append([(int(m), k % j) for k, m in enumerate(mem)])
        out[n] = ens
    return out


def jitter_table(
    spec: NetworkSpec,
    members: Sequence[Copy],
    spikes: np.ndarray,
    labels: np.ndarray,
    sizes: Sequence[int],
    seeds: int,
    *,
    known: dict[tuple[int, int], np.ndarray] | None = None,
    chip: str = "truenorth",
    plan: dict[int, list[list[tuple[int, int]]]] | None = None,
    draw: Callable[[list[tuple[int, int]]], np.ndarray] | None = None,
    axon_draw: Callable[[list[tuple[int, int]], np.ndarray], np.ndarray] | None = None,
) -> tuple[dict[int, list[float]], dict[tuple[int, int], np.ndarray]]:
    """Simulator accuracy of input-jitter ensembles (:func:`jitter_ensembles`, or the given ``plan``):
    size → per-seed accuracies.

    Each needed (member, shift) pair is simulated once (``known`` may supply pairs already simulated, e.g.
    the unshifted members); returns the accuracies and every pair's (B, n_classes) class counts.
    ``draw``: private inputs per pair — ``draw(pairs)`` returns their (B, 1, len(pairs) · K) spikes side by
    side (see :func:`member_class_counts`); ``spikes`` is then unused. ``axon_draw``: per-axon draws,
    ``axon_draw(pairs, source)`` (see :func:`member_class_counts`)."""
    from spikeforge.methods.corenet.topology import JITTER_SHIFTS

    if plan is None:
        plan = jitter_ensembles(len(members), sizes, seeds)
    counts = dict(known or {})
    need = sorted({p for ens in plan.values() for e in ens for p in e} - set(counts))
    if need:
        pdraw = None if draw is None else (lambda idx: draw([need[i] for i in idx]))
        padraw = None if axon_draw is None else (lambda idx, src: axon_draw([need[i] for i in idx], src))
        sim = member_class_counts(spec, [members[m] for m, _ in need], spikes, chip=chip,
                                  shifts=[JITTER_SHIFTS[k] for _, k in need], draw=pdraw, axon_draw=padraw)
        counts.update(zip(need, sim, strict=True))
    accs = {n: [float(np.mean(sum(counts[p] for p in e).argmax(axis=1) == labels)) for e in ens]
            for n, ens in plan.items()}
    return accs, counts


def ensemble_activity(
    spec: NetworkSpec, members: Sequence[Copy], spikes: np.ndarray, *, chip: str = "truenorth",
    provenance: dict[str, Any] | None = None, input_shifts: Sequence[tuple[int, int]] | None = None,
    private_inputs: bool = False,
    axon_draw: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[Deployment, np.ndarray, EventCounts]:
    """Build the real N-copy deployment, design-rule check it, and simulate ``spikes`` on it (with
    ``private_inputs``, ``spikes`` holds every copy's own block of channels side by side). ``axon_draw``
    (with ``private_inputs``): the deployment is fed one axon at a time
    (:meth:`~spikeforge.deploy.Deployment.per_axon_inputs`), ``axon_draw(source)`` giving the spikes;
    ``spikes`` is then unused. The deployment returned is the one built (its input channels per pixel)."""
    dep = build_deployment(spec, list(members), chip=chip, provenance=provenance, input_shifts=input_shifts,
                           private_inputs=private_inputs)
    check(dep)
    if axon_draw is not None:
        if not private_inputs:
            raise ValueError("axon_draw needs private_inputs=True")
        fed, source = dep.per_axon_inputs()
        cls, counts = simulate_deployment(fed, axon_draw(source))
    else:
        cls, counts = simulate_deployment(dep, spikes)
    return dep, cls, counts
