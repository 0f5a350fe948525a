"""Building blocks of the reproduction benchmarks (``benchmarks/esser2015.py``,
``benchmarks/binary_vs_probabilistic.py``): cached training, member pools, simulator-measured ensemble
accuracy tables and energy rows. Accuracy and event counts always come from the simulator.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spikeforge.data.encode import axon_draws
from spikeforge.fileio import torch_save_atomic, write_text_atomic
from spikeforge.methods.corenet.build import Copy
from spikeforge.methods.corenet.checkpoints import _cache_key, prepare_checkpoint
from spikeforge.methods.corenet.evaluate import (
    ensemble_accuracy,
    ensemble_activity,
    ensemble_table,
    jitter_table,
    member_class_counts,
)
from spikeforge.methods.corenet.pipeline import energy_summary
from spikeforge.methods.corenet.topology import NetworkSpec
from spikeforge.methods.corenet.torchnet import CoreNetModel
from spikeforge.methods.corenet.train import TrainConfig, total_epochs, train


def make_model(method: str, spec: NetworkSpec, copies: int, mcfg: dict[str, Any], seed: int) -> CoreNetModel:
    if method == "probabilistic":
        from spikeforge.methods.probabilistic.model import ProbabilisticCoreNet

        return ProbabilisticCoreNet(spec, copies, seed=seed, **mcfg)
    if method == "binary":
        from spikeforge.methods.binary.model import BinaryCoreNet

        return BinaryCoreNet(spec, copies, seed=seed, **mcfg)
    raise ValueError(f"unknown method {method!r}")


def train_cached(
    method: str, spec: NetworkSpec, copies: int, mcfg: dict[str, Any], tcfg: TrainConfig, workdir: Path,
    x: np.ndarray, y: np.ndarray, log: Callable[..., Any] = print,
    init: tuple[dict[str, Any], Callable[[CoreNetModel], None]] | None = None,
) -> tuple[CoreNetModel, dict[str, Any]]:
    """Train (resuming ``workdir/checkpoint.pt`` when it was written with the same settings) or load
    ``workdir/model.pt`` if trained with the same settings. ``init = (description, fn)`` initialises a fresh
    model before training (e.g. a warm start); the description is part of the cache key.
    Retraining deletes the simulator results cached under ``workdir`` (member counts, energy rows)."""
    workdir.mkdir(parents=True, exist_ok=True)
    key = _cache_key(method, spec, copies, mcfg, tcfg, None if init is None else init[0])
    model = make_model(method, spec, copies, mcfg, tcfg.seed)
    if init is not None:
        init[1](model)
    final = workdir / "model.pt"
    if final.exists():
        st = torch.load(final, weights_only=False)
        if st.get("key") == json.loads(json.dumps(key)):
            model.load_state_dict(st["model"])
            model.load_method_state(st["method"])
            model.eval()
            log(f"loaded trained model {final}")
            return model, {**st["info"], "cached": True}
    for pattern in ("*/counts-*.npy", "*/energy-*.json", "*/jitter-*.npz"):  # simulator results of an earlier model
        for old in workdir.glob(pattern):
            old.unlink()
    prepare_checkpoint(workdir, key, log)
    t0 = time.time()
    hist = train(model, x, y, tcfg, checkpoint=workdir / "checkpoint.pt", log=log)
    info = {"train_seconds_this_run": time.time() - t0,
            "train_seconds": float(sum(h["seconds"] for h in hist["history"])),
            "final_train_acc": hist["history"][-1]["train_acc"], "temperature": hist["temperature"],
            "epochs": total_epochs(tcfg)}
    torch_save_atomic({"key": json.loads(json.dumps(key)), "model": model.state_dict(),
                       "method": model.method_state(), "info": info}, final)
    return model, {**info, "cached": False}


def members_of(method: str, model: CoreNetModel | Sequence[CoreNetModel], n: int, seed: int = 0) -> list[Copy]:
    """Probabilistic: ``n`` sampled networks; with ``K`` trained models (a list), member i is a sample of
    model ``i mod K`` (seed ``seed * 100003 + i // K``; one model: seeds ``seed * 100003 + i``). Binary: the
    model's first ``n`` trained copies, binarised."""
    models = list(model) if isinstance(model, Sequence) else [model]
    if method == "probabilistic":
        k = len(models)
        return [models[i % k].sample(seed * 100003 + i // k) for i in range(n)]  # type: ignore[operator]
    if len(models) != 1:
        raise ValueError("binary members come from one jointly trained model")
    return [models[0].binarised(j) for j in range(min(n, models[0].copies))]  # type: ignore[operator]


def cache_name(settings: dict[str, Any], network: str) -> str:
    """The name a benchmark setting's caches go by: ``settings["name"]``, else the network's."""
    name = str(settings.get("name", network))
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"bad cache name {name!r} in the settings of network {network!r}")
    return name


def pool_cache_dir(method: str, network: str, settings: dict[str, Any], workdir: Path) -> Path:
    """Where a setting's simulator results (member class counts, energy rows) are cached:
    ``{method}-{name}/sample{sample_seed}``; a pool sampled from ``K > 1`` models adds ``-models{K}-{h}``,
    ``h`` a digest of the settings the models were trained with, so retraining any of them (not only the
    first, in whose directory the cache lives) leaves the cache of the old models behind."""
    n_models = int(settings.get("models", 1))
    wd = workdir / f"{method}-{cache_name(settings, network)}"
    leaf = f"sample{settings.get('sample_seed', 1)}"
    if n_models > 1:
        what = {k: settings.get(k) for k in ("signs", "model", "train", "models")}
        if settings.get("model_train") is not None:
            what["model_train"] = settings["model_train"]
        leaf += f"-models{n_models}-" + hashlib.sha1(json.dumps(what, sort_keys=True).encode()).hexdigest()[:8]
    return wd / leaf


def model_train_overrides(settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-model ``[train]`` overrides of a K-model setting: ``settings["model_train"]``, a list of K dicts
    (``{}`` = the setting's ``train``; e.g. ``{"temperature": 0.0625}`` trains that model with another loss
    temperature, for a more diverse pool). Absent: K empty dicts."""
    k = int(settings.get("models", 1))
    over = settings.get("model_train")
    if over is None:
        return [{} for _ in range(k)]
    if not isinstance(over, list) or len(over) != k or not all(isinstance(o, dict) for o in over):
        raise ValueError(f"'model_train' must be a list of {k} dicts (one [train] override per model), got {over!r}")
    for i, o in enumerate(over):
        unknown = sorted(set(o) - set(TrainConfig.__dataclass_fields__))
        if unknown:
            raise ValueError(f"model_train[{i}]: unknown [train] setting(s) {unknown}")
    return [dict(o) for o in over]


def probabilistic_models(
    spec: NetworkSpec, network: str, settings: dict[str, Any], workdir: Path, x: np.ndarray, y: np.ndarray,
    log: Callable[..., Any] = print,
) -> tuple[list[CoreNetModel], list[dict[str, Any]]]:
    """The ``settings["models"]`` (default 1) independently trained probabilistic models of a benchmark
    setting: model k trains with seed ``train.seed + k``, cached in ``probabilistic-{name}`` (k = 0) or
    ``probabilistic-{name}-seed{train.seed + k}``, ``name = settings.get("name", network)`` (a setting
    names its cache when two settings of one network share a work directory). Returns the models and their
    training infos."""
    from dataclasses import replace

    tc = TrainConfig.from_dict(dict(settings.get("train", {})))
    mcfg = dict(settings.get("model", {}))
    name = cache_name(settings, network)
    jobs = []
    for k, over in enumerate(model_train_overrides(settings)):
        t = TrainConfig.from_dict({**asdict(replace(tc, seed=tc.seed + k)), **over})
        leaf = f"probabilistic-{name}" if k == 0 else f"probabilistic-{name}-seed{t.seed}"
        if over:  # a model trained differently from the setting's ``train`` gets its own directory
            digest = hashlib.sha1(json.dumps(over, sort_keys=True).encode()).hexdigest()[:8]
            leaf = f"probabilistic-{name}-seed{t.seed}-{digest}"
        jobs.append((workdir / leaf, t))
    workers = min(len(jobs), int(os.environ.get("SPIKEFORGE_WORKERS", os.cpu_count() or 1)))
    if workers > 1:  # train the models not yet cached side by side, one process (and one thread) each
        todo = [(wd, t) for wd, t in jobs if not _cached(wd, "probabilistic", spec, 1, mcfg, t)]
        if len(todo) > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            log(f"  training {len(todo)} probabilistic models in {min(workers, len(todo))} processes")
            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=mp.get_context("spawn")) as ex:
                for f in [ex.submit(_train_job, spec, mcfg, t, wd, x, y) for wd, t in todo]:
                    f.result()
    out, infos = [], []
    for wd, t in jobs:
        m, info = train_cached("probabilistic", spec, 1, mcfg, t, wd, x, y, log)
        out.append(m)
        infos.append(info)
    return out, infos


def _cached(workdir: Path, method: str, spec: NetworkSpec, copies: int, mcfg: dict[str, Any],
            tcfg: TrainConfig) -> bool:
    """Whether ``workdir/model.pt`` holds a model trained with exactly these settings."""
    f = workdir / "model.pt"
    if not f.exists():
        return False
    st = torch.load(f, weights_only=False)
    return bool(st.get("key") == json.loads(json.dumps(_cache_key(method, spec, copies, mcfg, tcfg))))


def _train_job(spec: NetworkSpec, mcfg: dict[str, Any], tcfg: TrainConfig, workdir: Path, x: np.ndarray,
               y: np.ndarray) -> None:
    """Worker-process body of :func:`probabilistic_models` (its log goes to ``workdir/train.log``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "train.log", "a") as fh:
        train_cached("probabilistic", spec, 1, mcfg, tcfg, workdir, x, y,
                     lambda *a: print(*a, file=fh, flush=True))


def accuracy_rows(
    spec: NetworkSpec, members: Sequence[Copy], spikes: dict[str, np.ndarray], labels: np.ndarray,
    sizes: Sequence[int], seeds: int, log: Callable[..., Any] = print, cache: Path | None = None,
    counts_out: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[int, list[float]]]:
    """encoding → size → per-seed accuracies (see :func:`ensemble_table` for the seed scheme).

    With ``cache`` (a folder), each encoding's simulated member class counts are stored and reused when the
    folder already holds them for the same number of members and images (the caller clears it on retraining).
    ``counts_out`` (a dict) receives each encoding's (members, B, classes) counts."""
    out = {}
    for enc, sp in spikes.items():
        t0 = time.time()
        f = cache / f"counts-{enc}-{len(members)}x{len(sp)}.npy" if cache is not None else None
        if f is not None and f.exists():
            counts = np.load(f)
            log(f"  loaded simulated member counts {f}")
            out[enc] = ensemble_table(counts, labels, sizes, seeds)
            if counts_out is not None:
                counts_out[enc] = counts
            continue
        counts = member_class_counts(spec, members, sp, group=8)
        if counts_out is not None:
            counts_out[enc] = counts
        if f is not None:
            f.parent.mkdir(parents=True, exist_ok=True)
            np.save(f, counts)
        out[enc] = ensemble_table(counts, labels, sizes, seeds)
        log(f"  simulated {len(members)} members x {len(sp)} images ({enc}) in {time.time() - t0:.0f} s")
    return out


def energy_row(spec: NetworkSpec, members: Sequence[Copy], spikes: np.ndarray,
               input_shifts: Sequence[tuple[int, int]] | None = None) -> dict[str, Any]:
    """Cores, events and energy of the real ``len(members)``-copy deployment on ``spikes`` (pipelined)."""
    dep, _, counts = ensemble_activity(spec, members, spikes, input_shifts=input_shifts)
    row: dict[str, Any] = {"cores": dep.n_cores}
    row.update(energy_summary(dep, counts))
    return row


def seed_scheme(pool: int, n: int, seeds: int, distinct: int | None = None) -> str:
    """How a row's ``seeds`` ensembles were formed; ``distinct``: how many of them differ (the row's seeds)."""
    if n > pool:
        return f"one ensemble: copy k = member k mod {pool}"
    if n == pool and n * seeds > pool:
        return ("the whole pool" if (distinct or 1) == 1
                else f"the whole pool of {pool}, {distinct} assignments of members to shifts")
    return "disjoint" if n * seeds <= pool else f"subsets of a pool of {pool}"


def _distinct(ensembles: list[list[tuple[int, int]]]) -> list[list[tuple[int, int]]]:
    """The ensembles that differ as multisets of (member, variant) copies, in order: two equal ones would
    read the same inputs through the same networks and give the same accuracy."""
    seen, out = set(), []
    for e in ensembles:
        if (key := tuple(sorted(e))) not in seen:
            seen.add(key)
            out.append(e)
    return out


#: Deployment schemes measured beside the plain ensembles (copies sharing the thresholded image):
#: scheme → (copies read translated input maps, copies read their own Bernoulli draw of the image).
SCHEMES: dict[str, tuple[bool, bool]] = {
    "input-jitter": (True, False),
    "bernoulli-draws": (False, True),
    "bernoulli-draws+jitter": (True, True),
    "axon-draws+jitter": (True, True),
}

#: Schemes whose draws are per input axon (:func:`spikeforge.data.encode.axon_draws`), not per copy.
PER_AXON_SCHEMES = frozenset({"axon-draws+jitter"})


def scheme_plan(scheme: str, pool: int, sizes: Sequence[int], seeds: int) -> dict[int, list[list[tuple[int, int]]]]:
    """size → per seed, the ``(member, variant)`` of each copy. Jitter schemes: variant = shift index
    (:func:`~spikeforge.methods.corenet.evaluate.jitter_ensembles`). ``bernoulli-draws``: members as in
    :func:`~spikeforge.methods.corenet.evaluate.ensemble_table` (variant 0); beyond the pool, copy k is
    member ``k mod pool`` with draw ``k // pool`` (one ensemble)."""
    from spikeforge.methods.corenet.evaluate import jitter_ensembles

    jit, _ = SCHEMES[scheme]
    sizes = [n for n in sizes if n > 1]
    if jit:
        return {n: _distinct(e) for n, e in jitter_ensembles(pool, sizes, seeds).items()}
    out: dict[int, list[list[tuple[int, int]]]] = {}
    for n in sizes:
        if n > pool:
            out[n] = [[(k % pool, k // pool) for k in range(n)]]
            continue
        ens = []
        for s in range(seeds):
            mem = (range(s * n, (s + 1) * n) if seeds * n <= pool
                   else np.random.default_rng(1000 + s).choice(pool, n, replace=False).tolist())
            ens.append([(int(m), 0) for m in mem])
        out[n] = _distinct(ens)
    return out


def scheme_rows(
    method: str, network: str, spec: NetworkSpec, members: Sequence[Copy], images: np.ndarray,
    labels: np.ndarray, plain_counts: np.ndarray | None, e_images: np.ndarray, *, scheme: str, sizes: Sequence[int],
    seeds: int, cache: Path, draw_seed: int = 7, log: Callable[..., Any] = print,
) -> list[dict[str, Any]]:
    """Rows of one deployment ``scheme`` (:data:`SCHEMES`) for ensemble sizes 2.. :

    * ``input-jitter``: copy k reads the thresholded image translated by ``JITTER_SHIFTS[k mod 9]``;
    * ``bernoulli-draws``: every copy reads its own Bernoulli draw of the image (private input channels:
      ``build_deployment(..., private_inputs=True)``; the draw of copy (member m, variant v) is seeded by
      ``(draw_seed, m, v)``);
    * ``bernoulli-draws+jitter``: both;
    * ``axon-draws+jitter``: as ``bernoulli-draws+jitter``, but every input axon of every copy draws on its
      own (:func:`~spikeforge.data.encode.axon_draws`, key ``(member, variant)``): overlapping windows read
      independent draws of a pixel.

    Accuracy from the simulator (each (member, variant) pair simulated once and cached under ``cache``);
    energy from the real N-copy deployment with its shifted / private input maps on ``e_images``.
    ``images`` / ``e_images``: uint8 test images for accuracy / energy."""
    from spikeforge.methods.corenet import data as cdata
    from spikeforge.methods.corenet.topology import JITTER_SHIFTS

    jit, private = SCHEMES[scheme]
    pool = len(members)
    plan = scheme_plan(scheme, pool, sizes, seeds)
    shift_of = (lambda v: JITTER_SHIFTS[v]) if jit else (lambda v: (0, 0))
    known = {} if private or plain_counts is None else {(m, 0): plain_counts[m] for m in range(pool)}
    tag = "jitter-threshold" if scheme == "input-jitter" else scheme.replace("+", "-")
    f = cache / f"{tag}-{pool}x{len(images)}.npz"
    if f.exists():
        z = np.load(f)
        known.update({(int(m), int(k)): c for (m, k), c in zip(z["pairs"], z["counts"], strict=True)})
    spikes = cdata.encode(images, "threshold")
    per_axon = scheme in PER_AXON_SCHEMES
    draw = (lambda pairs: cdata.private_draws(images, list(pairs), draw_seed)) if private and not per_axon else None
    adraw = (lambda pairs, src: axon_draws(images, src, draw_seed, keys=list(pairs))) if per_axon else None
    t0 = time.time()
    if jit:
        accs, allc = jitter_table(spec, members, spikes, labels, sizes, seeds, known=known, plan=plan, draw=draw,
                                  axon_draw=adraw)
    else:  # variants are draws, not shifts: every pair reads the image unshifted
        need = sorted({p for ens in plan.values() for e in ens for p in e} - set(known))
        if need:
            pdraw = None if draw is None else (lambda idx: draw([need[i] for i in idx]))
            padraw = None if adraw is None else (lambda idx, src: adraw([need[i] for i in idx], src))
            sim = member_class_counts(spec, [members[m] for m, _ in need], spikes, draw=pdraw, axon_draw=padraw)
            known.update(zip(need, sim, strict=True))
        allc = known
        accs = {n: [float(np.mean(np.sum([allc[p] for p in e], axis=0).argmax(axis=1) == labels)) for e in ens]
                for n, ens in plan.items()}
    new = sorted(p for p in allc if private or p[1] != 0)
    if new:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = f.with_name(f.stem + ".tmp.npz")
        np.savez(tmp, pairs=np.array(new, np.int64), counts=np.stack([allc[p] for p in new]))
        tmp.replace(f)
    log(f"  {scheme} ensembles: {len(allc)} (member, variant) pairs simulated/loaded ({time.time() - t0:.0f} s)")
    e_thr = cdata.encode(e_images, "threshold")
    rows = []
    for n, a in accs.items():
        ens = plan[n][0]
        row: dict[str, Any] = {"method": method, "network": network, "ensemble": n, "scheme": scheme,
                               "encoding": "bernoulli (one draw per axon)" if per_axon
                               else "bernoulli (one draw per copy)" if private else "threshold",
                               "accuracy_mean": float(np.mean(a)), "accuracy_std": float(np.std(a)),
                               "seeds": len(a), "seed_scheme": seed_scheme(pool, n, seeds, len(a)),
                               "test_images": len(labels), "distinct_networks": len({m for m, _ in ens})}
        ef = cache / f"energy-{'jitter' if scheme == 'input-jitter' else tag}-{n}x{len(e_images)}.json"
        if ef.exists():
            erow = json.loads(ef.read_text())
        else:
            shifts = [shift_of(v) for _, v in ens] if jit else None
            x = cdata.private_draws(e_images, list(ens), draw_seed) if private and not per_axon else e_thr
            ea = (lambda src, ens=ens: axon_draws(e_images, src, draw_seed, keys=list(ens))) if per_axon else None
            dep, _, counts = ensemble_activity(spec, [members[m] for m, _ in ens], x, input_shifts=shifts,
                                               private_inputs=private, axon_draw=ea)
            erow = {"cores": dep.n_cores}
            erow.update(energy_summary(dep, counts))
            cache.mkdir(parents=True, exist_ok=True)
            write_text_atomic(ef, json.dumps(erow))
        row.update(erow)
        row["energy_images"] = len(e_images)
        rows.append(row)
        log(f"  {scheme} n={n:3d}  acc {row['accuracy_mean'] * 100:.2f} ± {row['accuracy_std'] * 100:.2f} %  "
            f"cores {row['cores']}  {row['uJ_per_image']:.3f} µJ")
    return rows


def run_method_network(
    method: str,
    network: str,
    settings: dict[str, Any],
    data: Any,
    workdir: Path,
    *,
    sizes: Sequence[int],
    seeds: int,
    n_test: int,
    energy_images: int,
    encodings: Sequence[str] = ("threshold", "bernoulli"),
    log: Callable[..., Any] = print,
    schemes: Sequence[str] = tuple(SCHEMES),
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Train (cached), build the member pool, measure ensemble accuracy on the simulator and energy of the
    real N-copy deployments; also the ensembles of each deployment scheme in ``schemes`` (:data:`SCHEMES`,
    ``info["scheme_rows"]``).
    ``settings``: ``signs``, ``model`` (dict), ``train`` (TrainConfig fields), ``pool`` (probabilistic:
    sampled copies; binary: networks trained jointly), ``sample_seed``; probabilistic: ``models`` (K
    independently trained models, seeds ``train.seed + k``, optionally each with its own ``model_train[k]``
    overrides; member i is a sample of model i mod K).

    Returns (rows, info)."""
    from spikeforge.methods.corenet import data as cdata
    from spikeforge.methods.corenet.topology import get_network

    spec = get_network(network, signs=settings.get("signs", "perm2"))
    tcfg = TrainConfig.from_dict(dict(settings.get("train", {})))
    pool = int(settings["pool"])
    copies = 1 if method == "probabilistic" else pool
    log(f"[{method}/{network}] {spec.describe()}; training {copies} cop{'y' if copies == 1 else 'ies'} "
        f"for {total_epochs(tcfg)} epochs")
    xtr = cdata.to_unit(data.x_train)
    init = None
    ws = settings.get("warm_start")
    if ws is not None:  # binary networks started from samples of a trained probabilistic model
        if method != "binary":
            raise ValueError("warm_start applies to the binary method")
        pmodels, _ = probabilistic_models(spec, network, ws["probabilistic"], workdir, xtr, data.y_train, log)
        seed0 = int(ws.get("sample_seed", 7))
        nets = members_of("probabilistic", pmodels, copies, seed0)
        # the key names the trained model(s) the samples come from, not the probabilistic benchmark's pool size
        key = json.loads(json.dumps(ws))
        key["probabilistic"].pop("pool", None)
        init = (key, lambda m: m.warm_start_(nets, float(ws.get("margin", 0.1))))
        log(f"  warm start: {copies} samples (seed {seed0}) of {len(pmodels)} trained probabilistic {network} "
            f"model(s)")
    n_models = int(settings.get("models", 1))
    if method == "probabilistic":
        models, infos = probabilistic_models(spec, network, settings, workdir, xtr, data.y_train, log)
        model: CoreNetModel | list[CoreNetModel] = models
        info = dict(infos[0])
        if n_models > 1:
            info["models"] = infos
    else:
        if n_models != 1:
            raise ValueError("'models' applies to the probabilistic method (binary pools are trained jointly)")
        model, info = train_cached(method, spec, copies, dict(settings.get("model", {})), tcfg,
                                   workdir / f"{method}-{cache_name(settings, network)}", xtr, data.y_train, log,
                                   init=init)
    members = members_of(method, model, pool, int(settings.get("sample_seed", 1)))
    xte, yte = data.x_test[:n_test], data.y_test[:n_test]
    spikes = {enc: cdata.encode(xte, enc, seed=7) for enc in encodings}
    cache = pool_cache_dir(method, network, settings, workdir)
    plain: dict[str, np.ndarray] = {}
    accs = accuracy_rows(spec, members, spikes, yte, sizes, seeds, log, cache=cache, counts_out=plain)
    e_spikes = cdata.encode(data.x_test[:energy_images], "threshold")
    rows = []
    pool = len(members)
    for n in sizes:
        reuse = n > pool  # more copies than networks (a small binary pool): copy k is network k mod pool
        if reuse and encodings[0] not in plain:
            log(f"  ensemble {n} skipped: only {pool} members")
            continue
        if reuse:
            idx = [k % pool for k in range(n)]
            for enc in encodings:
                accs[enc][n] = [ensemble_accuracy(plain[enc], yte, idx)]
        t0 = time.time()
        row: dict[str, Any] = {"method": method, "network": network, "ensemble": n, "encoding": encodings[0]}
        a = accs[encodings[0]][n]
        row.update({"accuracy_mean": float(np.mean(a)), "accuracy_std": float(np.std(a)), "seeds": len(a),
                    "seed_scheme": seed_scheme(len(members), n, seeds, len(a)), "test_images": len(yte)})
        for enc in encodings[1:]:
            b = accs[enc][n]
            row[f"accuracy_{enc}_mean"] = float(np.mean(b))
            row[f"accuracy_{enc}_std"] = float(np.std(b))
        if reuse:
            row["distinct_networks"] = pool
        ef = cache / f"energy-{n}x{energy_images}.json"
        if ef.exists():
            erow = json.loads(ef.read_text())
        else:
            erow = energy_row(spec, [members[k % pool] for k in range(n)], e_spikes)
            cache.mkdir(parents=True, exist_ok=True)
            write_text_atomic(ef, json.dumps(erow))
        row.update(erow)
        row["energy_images"] = energy_images
        rows.append(row)
        log(f"  n={n:3d}  acc {row['accuracy_mean'] * 100:.2f} ± {row['accuracy_std'] * 100:.2f} %  "
            f"cores {row['cores']}  {row['uJ_per_image']:.3f} µJ  ({time.time() - t0:.0f} s energy sim)")
    info["scheme_rows"] = []
    for scheme in schemes:
        info["scheme_rows"] += scheme_rows(method, network, spec, members, xte, yte, plain.get("threshold"),
                                           data.x_test[:energy_images], scheme=scheme, sizes=sizes, seeds=seeds,
                                           cache=cache, log=log)
    info.update({"layout": spec.describe(), "pool": len(members), "settings": settings})
    return rows, info
