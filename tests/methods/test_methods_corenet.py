"""Core-network topology and deployment builder."""

from __future__ import annotations

import json
import shutil
from typing import Any

import numpy as np
import pytest
import torch

from helpers import SIM_DEVICE
from spikeforge.hardware import check, get_chip
from spikeforge.methods.corenet import build_deployment, evaluate_binary_network, large_network, small_network
from spikeforge.methods.corenet.topology import CoreLayer, NetworkSpec, interleaved_sources
from spikeforge.methods.corenet.train import TrainConfig, train
from spikeforge.methods.probabilistic.model import ProbabilisticCoreNet
from spikeforge.sim import simulate, simulate_pipelined


def test_small_and_large_layouts() -> None:
    s = small_network()
    assert s.n_cores == 5 and [lay.n_cores for lay in s.layers] == [4, 1]
    assert (s.layers[1].sources >= 0).sum() == 256  # all 4 x 64 input neurons reach the output core
    assert np.bincount(s.output_classes).tolist() == [25] * 10
    big = large_network()
    assert big.n_cores == 28 and 3800 <= big.n_neurons_used <= 4100
    for li in range(1, len(big.layers)):
        src = big.layers[li].sources
        used = src[src >= 0]
        assert used.size == np.unique(used).size == big.layers[li - 1].n_outputs  # one destination each


def test_one_destination_rule_enforced() -> None:
    s = small_network()
    dup = s.layers[1].sources.copy()
    dup[0, 1] = dup[0, 0]
    with pytest.raises(ValueError, match="one destination"):
        NetworkSpec("bad", (28, 28), 10, (s.layers[0], CoreLayer("output", dup, 250)))
    with pytest.raises(ValueError, match="axons"):
        interleaved_sources(4, 128, 1)


def _random_copy(spec: NetworkSpec, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    xb = [(rng.random((lay.n_cores, spec.n_axons, lay.neurons)) < 0.3).astype(np.int16) for lay in spec.layers]
    lk = [rng.integers(-6, 3, (lay.n_cores, lay.neurons)).astype(np.int32) for lay in spec.layers]
    return xb, lk


def test_deployment_matches_numpy_evaluation_spike_for_spike() -> None:
    spec = small_network(signs="pm1")
    copies = [_random_copy(spec, 1), _random_copy(spec, 2)]
    dep = build_deployment(spec, copies)
    check(dep)
    assert dep.n_cores == 10 and dep.ticks_per_input == 1
    x = (np.random.default_rng(3).random((64, 1, 784)) < 0.25).astype(np.uint8)
    want = sum(evaluate_binary_network(spec, c, x) for c in copies)
    got = simulate_pipelined(dep, x, lanes=64, device=SIM_DEVICE).class_counts
    np.testing.assert_array_equal(got, want)
    # every layer, spike for spike, from the simulator's raster (layer l fires at tick l)
    raster = simulate(dep, x, record_spikes=True, device=SIM_DEVICE).spikes  # (ticks, C, N, B)
    _, layers = evaluate_binary_network(spec, copies[0], x, return_layers=True)
    np.testing.assert_array_equal(raster[0, :4, :64, :].transpose(2, 0, 1).reshape(64, -1), layers[0])
    np.testing.assert_array_equal(raster[1, 4, :250, :].T, layers[1])


def test_layouts_for_other_core_shapes_and_padding_onto_larger_cores() -> None:
    """A custom layout is built for the chip's core shape; a layout is placed on cores at least as large (the
    rest unused) and refused on smaller ones; either way the simulator equals the numpy evaluation."""
    import dataclasses

    from spikeforge.hardware import TRUENORTH
    from spikeforge.methods.corenet.checkpoints import _cache_key
    from spikeforge.methods.corenet.topology import network_from_config

    small_core = dataclasses.replace(TRUENORTH.core, n_axons=64, n_neurons=64)
    cfg = {"name": "tiny", "window": 8, "input_neurons": 64, "output_neurons": 50}
    spec = network_from_config(cfg, (8, 8), 2, core=small_core)
    assert (spec.n_axons, spec.n_neurons, spec.n_axon_types) == (64, 64, 4)
    assert spec.layers[0].sources.shape == (1, 64) and spec.layers[1].sources.shape == (1, 64)
    with pytest.raises(ValueError, match=r"250 neurons per core not in 1\.\.64"):
        network_from_config({**cfg, "output_neurons": 250}, (8, 8), 2, core=small_core)
    x = (np.random.default_rng(4).random((32, 1, 64)) < 0.4).astype(np.uint8)
    copy = _random_copy(spec, 5)
    small_chip = dataclasses.replace(TRUENORTH, name="tn-64", core=small_core, base="truenorth")
    big_chip = dataclasses.replace(TRUENORTH, name="tn-512", core=dataclasses.replace(TRUENORTH.core, n_axons=512),
                                   base="truenorth")
    want = evaluate_binary_network(spec, copy, x)
    for chip in (small_chip, big_chip):
        dep = build_deployment(spec, [copy], chip=chip)
        check(dep)
        np.testing.assert_array_equal(simulate_pipelined(dep, x, lanes=32, device=SIM_DEVICE).class_counts, want)
    wide = small_network(signs="pm1")
    dep = build_deployment(wide, [_random_copy(wide, 1)], chip=big_chip)  # 256-axon layout on 512-axon cores
    assert dep.crossbar.shape == (5, 512, 256) and not dep.crossbar[:, 256:].any()
    with pytest.raises(ValueError, match=r"laid out for 256x256 cores .* tn-64's cores are 64x64"):
        build_deployment(wide, [_random_copy(wide, 1)], chip=small_chip)
    # training caches keep apart layouts that differ only in the core shape
    tc = TrainConfig()
    assert "core" not in _cache_key("binary", wide, 1, {}, tc)
    assert _cache_key("binary", spec, 1, {}, tc)["core"] == [64, 64, 4]


def test_checkpoint_resume_reproduces_uninterrupted_run(tmp_path) -> None:
    spec = small_network()
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 784)).astype(np.float32), rng.integers(0, 10, 60)
    cfg = TrainConfig(epochs=2, batch_size=20, seed=5, log_every_epoch=False)
    a = ProbabilisticCoreNet(spec, seed=1)
    train(a, x, y, cfg)
    b = ProbabilisticCoreNet(spec, seed=1)
    ck = tmp_path / "ck.pt"
    train(b, x, y, TrainConfig(epochs=1, batch_size=20, seed=5, log_every_epoch=False), checkpoint=ck)
    c = ProbabilisticCoreNet(spec, seed=1)
    hist = train(c, x, y, cfg, checkpoint=ck, log=lambda *_: None)
    assert len(hist["history"]) == 2
    for pa, pc in zip(a.parameters(), c.parameters(), strict=True):
        torch.testing.assert_close(pa, pc)


def test_annealing_phase_schedule_and_continuation(tmp_path) -> None:
    """The annealing epochs continue the main schedule: lr·r^(e/(E−1)) for e < E, then lr·r·a^((e−E+1)/A);
    a run with annealing equals the run without it, resumed from its checkpoint and annealed."""
    from spikeforge.methods.corenet.experiment import _cache_key
    from spikeforge.methods.corenet.train import _lr_at, total_epochs

    main = TrainConfig(epochs=3, lr=0.01, lr_final_ratio=0.25, batch_size=20, seed=5, log_every_epoch=False)
    ann = TrainConfig(**{**main.__dict__, "anneal_epochs": 2, "anneal_ratio": 0.04})
    assert total_epochs(main) == 3 and total_epochs(ann) == 5
    lrs = [_lr_at(ann, e) for e in range(5)]
    np.testing.assert_allclose(lrs, [0.01, 0.005, 0.0025, 0.0025 * 0.2, 0.0025 * 0.04])
    assert [_lr_at(main, e) for e in range(3)] == lrs[:3]
    spec = small_network()
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 784)).astype(np.float32), rng.integers(0, 10, 60)
    a = ProbabilisticCoreNet(spec, seed=1)
    hist = train(a, x, y, ann)
    np.testing.assert_allclose([h["lr"] for h in hist["history"]], lrs)
    ck = tmp_path / "ck.pt"
    train(ProbabilisticCoreNet(spec, seed=1), x, y, main, checkpoint=ck)
    c = ProbabilisticCoreNet(spec, seed=1)
    assert len(train(c, x, y, ann, checkpoint=ck, log=lambda *_: None)["history"]) == 5
    for pa, pc in zip(a.parameters(), c.parameters(), strict=True):
        torch.testing.assert_close(pa, pc)
    # caches of settings without annealing keep their keys; annealing changes the key
    k_main, k_ann = (_cache_key("probabilistic", spec, 1, {}, t)["train"] for t in (main, ann))
    assert "anneal_epochs" not in k_main and k_ann["anneal_epochs"] == 2


@pytest.mark.parametrize("method", ["probabilistic", "binary"])
def test_pipeline_entry_point_end_to_end(tmp_path, method: str) -> None:
    """The recipe entry point on a sliver of MNIST (skipped where MNIST is not installed)."""
    import importlib
    import os
    from pathlib import Path

    from spikeforge.data import DatasetNotFoundError
    from spikeforge.deploy import load
    from spikeforge.recipes import load_recipe

    shared = Path(__file__).resolve().parents[3] / "shared" / "datasets"
    data_dir = None if os.environ.get("SPIKEFORGE_DATA") or not shared.exists() else shared
    try:
        from spikeforge.data import load_dataset

        load_dataset("mnist", data_dir)
    except DatasetNotFoundError:
        pytest.skip("MNIST not installed")
    cfg = load_recipe("esser2015-small" if method == "probabilistic" else "binary-small").config
    cfg["train"].update(epochs=1, max_train=300)
    cfg["data"]["max_test"] = 100
    cfg["deploy"]["ensemble"] = 2
    run = importlib.import_module(f"spikeforge.methods.{method}.pipeline").run
    from spikeforge.data.encode import encode_for_deployment
    from spikeforge.sim import simulate

    mnist = load_dataset("mnist", data_dir)

    def simulated_accuracy() -> float:  # the saved deployment on the 100 test images, as recorded
        d = load(tmp_path / "deployment.sfd")
        x = encode_for_deployment(mnist.x_test[:100], d.provenance["encoding"], d.n_inputs,
                                  default_seed=int(d.provenance.get("seed", 0)))
        return simulate(d, x).accuracy(mnist.y_test[:100])

    res = run(cfg, tmp_path, data_dir)
    assert res["cores"] == 10 and res["ensemble"] == 2
    # the reported accuracy is the saved deployment's on the simulator; one epoch on 300 images is above
    # chance (measured: 25 % probabilistic, 42 % binary)
    assert res["accuracy"] == simulated_accuracy() and res["accuracy"] > 0.15
    assert res["uJ_per_image"] > 0 and res["fps"] == pytest.approx(1000.0)
    dep = load(tmp_path / "deployment.sfd")
    assert dep.n_cores == 10 and dep.provenance["method"] == method
    assert "input_shifts" not in dep.provenance and res["input_jitter"] is False
    # resuming a finished run does not retrain
    res2 = run(cfg, tmp_path, data_dir)
    assert res2["accuracy"] == res["accuracy"]
    # the same copies as an input-jitter ensemble: copy 1 reads the image shifted one pixel right
    cfg["deploy"]["input_jitter"] = True
    res3 = run(cfg, tmp_path, data_dir)
    assert res3["input_jitter"] is True and res3["cores"] == 10
    assert load(tmp_path / "deployment.sfd").provenance["input_shifts"] == [[0, 0], [0, 1]]
    assert res3["accuracy"] == simulated_accuracy()
    # ... and each copy reading its own Bernoulli draw on its own input channels
    cfg["encoding"] = {"kind": "bernoulli-draws", "seed": 3}
    res4 = run(cfg, tmp_path, data_dir)
    dep4 = load(tmp_path / "deployment.sfd")
    assert res4["encoding"] == "bernoulli-draws" and dep4.n_inputs == 2 * 784 and dep4.provenance["private_inputs"]
    assert res4["accuracy"] == simulated_accuracy()
    cfg["encoding"] = {"kind": "poisson"}
    with pytest.raises(ValueError, match="bernoulli-draws"):
        run(cfg, tmp_path, data_dir)


def _translate(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """(B, 1, 784) images translated by (dy, dx) with zero fill (content moves down/right)."""
    img = x.reshape(len(x), 28, 28)
    out = np.zeros_like(img)
    h, w = 28, 28
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out.reshape(x.shape)


def test_input_sources_translate_the_window() -> None:
    spec = small_network()
    src = spec.layers[0].sources
    sh = spec.input_sources((1, -2))
    # core 0 reads the window at (0, 0): axon 16*r + c reads pixel (r, c) → now pixel (r - 1, c + 2)
    assert sh[0, 16 * 3 + 5] == (3 - 1) * 28 + (5 + 2)
    assert sh[0, 5] == -1  # row 0 looks above the image
    assert (sh[3, 16 * 5 + 14:16 * 5 + 16] == -1).all()  # core 3 (window at (12, 12)): cols 26, 27 + 2 leave
    np.testing.assert_array_equal(spec.input_sources((0, 0)), src)


@pytest.mark.parametrize("shift", [(1, 0), (-1, 1), (2, -2)])
def test_shifted_input_map_equals_network_on_translated_image(shift: tuple[int, int]) -> None:
    spec = small_network(signs="pm1")
    copies = [_random_copy(spec, 4), _random_copy(spec, 5)]
    x = (np.random.default_rng(6).random((48, 1, 784)) < 0.3).astype(np.uint8)
    dep = build_deployment(spec, copies, input_shifts=[(0, 0), shift])
    check(dep)
    assert dep.provenance["input_shifts"] == [[0, 0], list(shift)]
    got = simulate_pipelined(dep, x, lanes=48, device=SIM_DEVICE).class_counts
    plain = evaluate_binary_network(spec, copies[0], x)
    moved = evaluate_binary_network(spec, copies[1], _translate(x, *shift))
    np.testing.assert_array_equal(got, plain + moved)
    np.testing.assert_array_equal(evaluate_binary_network(spec, copies[1], x, shift=shift), moved)
    assert not np.array_equal(moved, evaluate_binary_network(spec, copies[1], x))
    with pytest.raises(ValueError, match="input_shifts has 1 entries for 2 copies"):
        build_deployment(spec, copies, input_shifts=[shift])


def test_private_inputs_give_each_copy_its_own_draw() -> None:
    from spikeforge.methods.corenet.data import private_draws

    spec = small_network(signs="pm1")
    copies = [_random_copy(spec, 7), _random_copy(spec, 8), _random_copy(spec, 9)]
    img = np.random.default_rng(1).integers(0, 256, (40, 784)).astype(np.uint8)
    keys = [(0, 0), (1, 0), (1, 3)]
    x = private_draws(img, keys, seed=5)
    assert x.shape == (40, 1, 3 * 784) and x.dtype == np.uint8
    # a copy's draw depends only on its key, and is a Bernoulli(intensity) draw
    np.testing.assert_array_equal(private_draws(img, [(1, 3)], seed=5)[..., :784], x[..., 2 * 784:])
    ref = np.random.default_rng([5, 1, 0]).random((40, 784), dtype=np.float32) < img.astype(np.float32) / 255
    np.testing.assert_array_equal(x[:, 0, 784:1568], ref)
    assert not np.array_equal(x[..., :784], x[..., 784:1568])
    dep = build_deployment(spec, copies, input_shifts=[(0, 0), (0, 0), (1, -1)], private_inputs=True)
    check(dep)
    assert dep.n_inputs == 3 * 784 and dep.input_shape == (3, 28, 28) and dep.provenance["private_inputs"]
    got = simulate_pipelined(dep, x, lanes=40, device=SIM_DEVICE).class_counts
    want = (evaluate_binary_network(spec, copies[0], x[..., :784])
            + evaluate_binary_network(spec, copies[1], x[..., 784:1568])
            + evaluate_binary_network(spec, copies[2], x[..., 1568:], shift=(1, -1)))
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="at least one key"):
        private_draws(img, [], seed=5)


def test_axon_draws_feed_every_input_axon_its_own_draw() -> None:
    from spikeforge.data.encode import AxonDraws, axon_draws, encode_for_deployment, inputs_for_deployment
    from spikeforge.evaluate import evaluate_deployment

    spec = small_network(signs="pm1")  # four 16x16 windows at offsets 0 and 12: pixels 12-15 read by two
    copies = [_random_copy(spec, 7), _random_copy(spec, 8)]
    img = np.random.default_rng(1).integers(0, 256, (40, 784)).astype(np.uint8)
    dep = build_deployment(spec, copies, input_shifts=[(0, 0), (1, -1)], private_inputs=True)
    fed, source = dep.per_axon_inputs()
    check(fed)
    k = len(dep.input_channel)
    assert fed.n_inputs == k == len(source) and fed.input_shape == (k,)
    np.testing.assert_array_equal(source, dep.input_channel)
    np.testing.assert_array_equal(fed.input_core, dep.input_core)
    assert fed.crossbar is dep.crossbar and dep.n_inputs == 2 * 784  # cores shared, the original untouched
    # fed the channel each entry reads, the per-axon deployment is the original one, spike for spike
    x = private_draws_for_test(img, 2)
    np.testing.assert_array_equal(simulate_pipelined(fed, x[..., source], lanes=40, device=SIM_DEVICE).class_counts,
                                  simulate_pipelined(dep, x, lanes=40, device=SIM_DEVICE).class_counts)
    # per-axon draws: block b (copy b) drawn from rng([seed, *key_b, 1]), entry e with P(spike) = its pixel
    keys = [(3, 0), (4, 2)]
    a = axon_draws(img, source, seed=5, keys=keys)
    assert a.shape == (40, 1, k) and a.dtype == np.uint8
    for b, key in enumerate(keys):
        e = np.flatnonzero(source // 784 == b)
        ref = (np.random.default_rng([5, *key, 1]).random((40, len(e)), dtype=np.float32)
               < img[:, source[e] % 784].astype(np.float32) / 255)
        np.testing.assert_array_equal(a[:, 0, e], ref)
    # two axons reading the same pixel draw independently (a per-copy draw would give them equal spikes)
    same = [np.flatnonzero(source == c) for c in np.unique(source)]
    pairs = [(i[0], i[1]) for i in same if len(i) > 1]
    assert pairs and any(not np.array_equal(a[:, 0, i], a[:, 0, j]) for i, j in pairs)
    # the encoding table route: default key (b,), seed from the table
    got_dep, got = inputs_for_deployment(img, {"kind": "axon-draws", "seed": 5}, dep)
    assert isinstance(got, AxonDraws)  # drawn a block at a time as the simulator reads it
    np.testing.assert_array_equal(np.asarray(got), axon_draws(img, source, 5))
    assert got_dep.n_inputs == k
    # simulated from the source, block by block, the result is that of the whole array
    ref = evaluate_deployment(got_dep, axon_draws(img, source, 5), np.zeros(40, np.int64))
    for block in (7, None):
        r = evaluate_deployment(got_dep, got, np.zeros(40, np.int64), batch_size=4, block_size=block)
        assert (r["accuracy"], r["events_per_input"]) == (ref["accuracy"], ref["events_per_input"])
    shared = build_deployment(spec, copies)  # both copies on the same 784 channels: one block, key (0,)
    sfed, sx = inputs_for_deployment(img, {"kind": "axon-draws", "seed": 5}, shared)
    assert sx.shape == (40, 1, len(shared.input_channel)) and sfed.n_inputs == sx.shape[2]
    np.testing.assert_array_equal(sx, axon_draws(img, shared.input_channel, 5))
    same_dep, thr = inputs_for_deployment(img, {"kind": "threshold"}, dep.normalised())
    assert thr.shape[2] == 784 and same_dep.n_inputs == 2 * 784
    with pytest.raises(ValueError, match="inputs_for_deployment"):
        encode_for_deployment(img, {"kind": "axon-draws"}, dep.n_inputs)
    with pytest.raises(ValueError, match="one tick per image"):
        inputs_for_deployment(img, {"kind": "axon-draws", "ticks": 2}, dep)
    with pytest.raises(ValueError, match="unknown setting"):
        inputs_for_deployment(img, {"kind": "axon-draws", "levels": 4}, dep)
    with pytest.raises(ValueError, match="multiple of 64"):
        inputs_for_deployment(img[:, :64], {"kind": "axon-draws"}, dep)
    with pytest.raises(ValueError, match="2 keys for 3 blocks"):
        axon_draws(img, np.array([0, 784, 1568]), keys=[(0,), (1,)])


def private_draws_for_test(img: np.ndarray, copies: int) -> np.ndarray:
    from spikeforge.methods.corenet.data import private_draws

    return private_draws(img, [(c, 0) for c in range(copies)], seed=3)


def test_scheme_rows_sum_simulated_members(tmp_path) -> None:
    """Each scheme's ensemble accuracy equals that of the real N-copy deployment on the same inputs."""
    from spikeforge.data.encode import axon_draws
    from spikeforge.methods.corenet import data as cdata
    from spikeforge.methods.corenet.evaluate import ensemble_activity
    from spikeforge.methods.corenet.experiment import scheme_plan, scheme_rows
    from spikeforge.methods.corenet.topology import JITTER_SHIFTS

    plan = scheme_plan("bernoulli-draws", 3, [1, 2, 3, 5], seeds=2)
    assert sorted(plan) == [2, 3, 5]
    # within the pool: 2 seeds of n distinct members, each read through draw 0 ...
    assert len(plan[2]) == 2 and all(len({m for m, _ in e}) == 2 and {v for _, v in e} == {0} for e in plan[2])
    assert plan[3] == [[(0, 0), (1, 0), (2, 0)]] or sorted(plan[3][0]) == [(0, 0), (1, 0), (2, 0)]
    assert len(plan[3]) == 1  # ... but the whole pool is one ensemble, however often it is drawn
    jit = scheme_plan("input-jitter", 3, [3], seeds=5)[3]  # there, each draw assigns the shifts anew
    assert 1 < len(jit) <= 5 and len({tuple(sorted(e)) for e in jit}) == len(jit)
    assert scheme_plan("bernoulli-draws", 4, [2], seeds=2)[2] == [[(0, 0), (1, 0)], [(2, 0), (3, 0)]]  # disjoint
    assert plan[5] == [[(0, 0), (1, 0), (2, 0), (0, 1), (1, 1)]]  # beyond the pool: new draws of old members
    spec = small_network(signs="pm1")
    members = [_random_copy(spec, 20 + i) for i in range(3)]
    rng = np.random.default_rng(2)
    img = (rng.random((30, 28, 28)) * 255).astype(np.uint8)
    labels = rng.integers(0, 10, 30)
    for scheme in ("bernoulli-draws", "bernoulli-draws+jitter", "input-jitter", "axon-draws+jitter"):
        rows = scheme_rows("binary", "small", spec, members, img, labels, None, img[:10], scheme=scheme,
                           sizes=[1, 2, 5], seeds=1, cache=tmp_path / scheme, log=lambda *_: None)
        assert [r["ensemble"] for r in rows] == [2, 5] and all(r["scheme"] == scheme for r in rows)
        ens = scheme_plan(scheme, 3, [5], 1)[5][0]
        jit, private = scheme != "bernoulli-draws", scheme != "input-jitter"
        axon = scheme.startswith("axon")
        x = cdata.private_draws(img, ens, 7) if private else cdata.encode(img, "threshold")
        adraw = (lambda src, ens=ens: axon_draws(img, src, 7, keys=list(ens))) if axon else None
        _, cls, _ = ensemble_activity(spec, [members[m] for m, _ in ens], x, private_inputs=private,
                                      input_shifts=[JITTER_SHIFTS[v] for _, v in ens] if jit else None,
                                      axon_draw=adraw)
        assert rows[1]["accuracy_mean"] == float(np.mean(cls.argmax(1) == labels))
        again = scheme_rows("binary", "small", spec, members, img, labels, None, img[:10], scheme=scheme,
                            sizes=[1, 2, 5], seeds=1, cache=tmp_path / scheme, log=lambda *_: None)
        assert again == rows  # reloaded from the cache


def test_jitter_ensemble_plan() -> None:
    from spikeforge.methods.corenet.evaluate import jitter_ensembles

    plan = jitter_ensembles(4, [2, 4, 16, 36, 64], seeds=2)
    assert plan[2] == [[(0, 0), (1, 1)], [(2, 0), (3, 1)]]  # disjoint members, copy k → shift k mod 9
    assert len(plan[4]) == 2 and [k for _, k in plan[4][0]] == [0, 1, 2, 3]
    assert len(plan[16]) == 1 and plan[16][0][:6] == [(0, 0), (1, 1), (2, 2), (3, 3), (0, 4), (1, 5)]
    assert len(set(plan[36][0])) == 36  # gcd(4, 9) = 1: every (member, shift) pair once
    assert 64 not in plan  # more copies than distinct (member, shift) pairs


def test_elastic_augmentation_is_a_smooth_seeded_displacement() -> None:
    from spikeforge.methods.corenet.data import _gaussian_kernel, elastic_batch

    k = _gaussian_kernel(4.0)
    assert len(k) == 25 and abs(float(k.sum()) - 1.0) < 1e-6 and int(k.argmax()) == 12
    x = torch.zeros(3, 28, 28)
    x[:, 6:22, 12:16] = 1.0  # a vertical bar
    flat = x.reshape(3, -1)
    gen = torch.Generator().manual_seed(0)
    assert elastic_batch(flat, (28, 28), 0.0, 4.0, gen) is flat  # off: untouched
    tiny = elastic_batch(flat, (28, 28), 1e-6, 4.0, gen)
    assert torch.allclose(tiny, flat, atol=1e-5)  # a vanishing field samples each pixel at its own centre
    a = elastic_batch(flat, (28, 28), 34.0, 4.0, torch.Generator().manual_seed(3))
    b = elastic_batch(flat, (28, 28), 34.0, 4.0, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)  # seeded
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert not torch.allclose(a, flat, atol=0.1)  # it did distort
    assert torch.allclose(a.sum(1), flat.sum(1), rtol=0.4)  # a smooth field stretches the stroke only locally
    img = a.reshape(3, 28, 28)
    assert float(img[:, :, :6].sum()) == 0.0 and float(img[:, :, 22:].sum()) == 0.0  # displacements of a few px
    with pytest.raises(ValueError, match="sigma"):
        elastic_batch(flat, (28, 28), 34.0, 0.0, gen)


@pytest.mark.parametrize(("h", "w", "sigma"), [(28, 28, 4.0), (20, 9, 2.5), (5, 7, 4.0)])
def test_elastic_smoothing_matrices_are_the_zero_padded_gaussian_convolution(h: int, w: int, sigma: float) -> None:
    """The displacement field's smoothing as matrix products equals the separable convolution with zero
    padding, including kernels wider than the image."""
    from spikeforge.methods.corenet.data import _gaussian_kernel, _smoothing_matrix

    f = torch.rand(6, 1, h, w, generator=torch.Generator().manual_seed(1)) * 2 - 1
    k = _gaussian_kernel(sigma)
    r = (len(k) - 1) // 2
    ref = torch.nn.functional.conv2d(torch.nn.functional.pad(f, (r, r, 0, 0)), k.view(1, 1, 1, -1))
    ref = torch.nn.functional.conv2d(torch.nn.functional.pad(ref, (0, 0, r, r)), k.view(1, 1, -1, 1))
    got = _smoothing_matrix(h, sigma) @ f.view(6, h, w) @ _smoothing_matrix(w, sigma).T
    assert got.shape == (6, h, w) and torch.allclose(got, ref.view(6, h, w), atol=1e-6)


def test_adam_is_the_fused_kernel_with_the_plain_update() -> None:
    from spikeforge.methods.corenet.train import TrainConfig, make_optimizer

    torch.manual_seed(0)
    a, b = torch.nn.Linear(30, 20), torch.nn.Linear(30, 20)
    b.load_state_dict(a.state_dict())
    oa = make_optimizer(a, TrainConfig(lr=0.01))
    ob = torch.optim.Adam(b.parameters(), lr=0.01)
    assert oa.param_groups[0]["fused"] is True
    x = torch.rand(8, 30)
    for _ in range(5):
        for m, o in ((a, oa), (b, ob)):
            o.zero_grad()
            m(x).pow(2).sum().backward()
            o.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa, pb, atol=1e-6)


def test_affine_augmentation_is_a_rotation_about_the_centre() -> None:
    from spikeforge.methods.corenet.data import affine_batch

    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(4, 28, 28)
    x[:, 13:15, 4:24] = 1.0  # a horizontal bar through the centre
    flat = x.reshape(4, -1)
    assert affine_batch(flat, (28, 28), 0.0, 0.0, gen) is flat  # off: untouched, no random draws
    y = affine_batch(flat, (28, 28), 30.0, 0.0, gen).reshape(4, 28, 28)
    assert (y[:, 13:15, 13:15] > 0.8).all()  # the centre stays put (bilinear blur at the corners)
    assert torch.allclose(y.sum((1, 2)), x.sum((1, 2)), rtol=0.08)  # area kept (bar stays inside)
    assert not torch.allclose(y, x, atol=0.1)  # it did rotate
    ys = affine_batch(flat, (28, 28), 0.0, 0.2, gen).reshape(4, 28, 28)
    assert float(ys.min()) >= 0.0 and float(ys.max()) <= 1.0
    rows = ys.sum(2)  # a pure scaling keeps the bar horizontal: mass stays in rows 12..15
    assert torch.allclose(rows[:, 12:16].sum(1), ys.sum((1, 2)), rtol=1e-4)


def test_members_round_robin_over_independent_models() -> None:
    from spikeforge.methods.corenet.experiment import members_of

    spec = small_network()
    a, b = ProbabilisticCoreNet(spec, seed=1), ProbabilisticCoreNet(spec, seed=2)
    got = members_of("probabilistic", [a, b], 5, seed=3)
    want = [a.sample(300009), b.sample(300009), a.sample(300010), b.sample(300010), a.sample(300011)]
    for g, w in zip(got, want, strict=True):
        for gl, wl in zip(g[0], w[0], strict=True):
            np.testing.assert_array_equal(gl, wl)
    one = members_of("probabilistic", a, 2, seed=3)  # one model: the single-model seeds
    np.testing.assert_array_equal(one[1][0][0], a.sample(300010)[0][0])
    with pytest.raises(ValueError, match="jointly trained"):
        members_of("binary", [a, b], 2)


def test_independent_models_train_in_parallel_as_in_series(tmp_path, monkeypatch) -> None:
    from spikeforge.methods.corenet.experiment import probabilistic_models

    spec = small_network()
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 784)).astype(np.float32), rng.integers(0, 10, 40)
    settings = {"models": 2, "train": {"epochs": 1, "batch_size": 20, "seed": 4, "threads": 1,
                                       "log_every_epoch": False}}
    monkeypatch.setenv("SPIKEFORGE_WORKERS", "2")
    par, infos = probabilistic_models(spec, "small", settings, tmp_path / "par", x, y, log=lambda *_: None)
    assert (tmp_path / "par" / "probabilistic-small-seed5" / "model.pt").exists() and len(infos) == 2
    monkeypatch.setenv("SPIKEFORGE_WORKERS", "1")
    ser, _ = probabilistic_models(spec, "small", settings, tmp_path / "ser", x, y, log=lambda *_: None)
    for p, s in zip(par, ser, strict=True):
        for a, b in zip(p.parameters(), s.parameters(), strict=True):
            torch.testing.assert_close(a, b)
    assert not torch.equal(par[0].conn[0], par[1].conn[0])  # seeds 4 and 5: different models


def test_named_settings_and_pool_caches_are_kept_apart(tmp_path) -> None:
    """A setting's ``name`` names its model directories; a multi-model pool's simulator cache carries a digest
    of the training settings, so new models never read the counts of older ones."""
    from spikeforge.methods.corenet.experiment import cache_name, pool_cache_dir, probabilistic_models

    spec = small_network()
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 784)).astype(np.float32), rng.integers(0, 10, 40)
    tr = {"epochs": 1, "batch_size": 20, "seed": 0, "threads": 1, "log_every_epoch": False}
    named = {"models": 2, "name": "small-x", "train": tr}
    probabilistic_models(spec, "small", named, tmp_path, x, y, log=lambda *_: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probabilistic-small-x", "probabilistic-small-x-seed1"]
    assert cache_name({}, "large") == "large" and cache_name(named, "small") == "small-x"
    with pytest.raises(ValueError, match="cache name"):
        cache_name({"name": "../x"}, "small")
    one = pool_cache_dir("probabilistic", "small", {"train": tr}, tmp_path)
    assert one == tmp_path / "probabilistic-small" / "sample1"
    a = pool_cache_dir("probabilistic", "small", named, tmp_path)
    b = pool_cache_dir("probabilistic", "small", {**named, "train": {**tr, "anneal_epochs": 2}}, tmp_path)
    assert a.parent == b.parent == tmp_path / "probabilistic-small-x" and a.name.startswith("sample1-models2-")
    assert a != b and a == pool_cache_dir("probabilistic", "small", dict(named), tmp_path)


@pytest.mark.skipif(not (shutil.which("g++") or shutil.which("c++")), reason="torch.compile needs a C++ compiler")
def test_compiled_training_matches_eager_and_shares_the_cache_key() -> None:
    """``compile=True`` runs the same computation through torch.compile: after a few steps the parameters
    agree with eager training to float rounding, and the cache key ignores the flag."""
    from spikeforge.methods.corenet.experiment import _cache_key

    spec = small_network()
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 784)).astype(np.float32), rng.integers(0, 10, 40)
    cfg = TrainConfig(epochs=1, batch_size=20, seed=3, log_every_epoch=False)
    ccfg = TrainConfig(**{**cfg.__dict__, "compile": True})
    a, b = ProbabilisticCoreNet(spec, seed=1), ProbabilisticCoreNet(spec, seed=1)
    logged: list[str] = []
    train(a, x, y, cfg)
    train(b, x, y, ccfg, log=logged.append)
    assert not any("torch.compile failed" in m for m in logged)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):  # Adam amplifies rounding of ~0 gradients
        torch.testing.assert_close(pa, pb, rtol=0, atol=1e-3)
        assert float((pa - pb).detach().abs().mean()) < 1e-6
    with torch.no_grad():  # the compiled forward computes the same scores
        torch.testing.assert_close(torch.compile(a)(torch.from_numpy(x)), a(torch.from_numpy(x)), rtol=1e-5, atol=1e-5)
    assert _cache_key("probabilistic", spec, 1, {}, cfg) == _cache_key("probabilistic", spec, 1, {}, ccfg)


def test_compile_failure_falls_back_to_eager_with_a_warning(monkeypatch) -> None:
    spec = small_network()
    rng = np.random.default_rng(0)
    x, y = rng.random((20, 784)).astype(np.float32), rng.integers(0, 10, 20)

    def broken(model):
        def f(_x):
            raise RuntimeError("no C++ compiler")
        return f

    monkeypatch.setattr(torch, "compile", broken)
    logged: list[str] = []
    a, b = ProbabilisticCoreNet(spec, seed=1), ProbabilisticCoreNet(spec, seed=1)
    cfg = TrainConfig(epochs=1, batch_size=10, seed=3, log_every_epoch=False)
    train(a, x, y, TrainConfig(**{**cfg.__dict__, "compile": True}), log=logged.append)
    train(b, x, y, cfg)
    assert sum("torch.compile failed (RuntimeError: no C++ compiler)" in m for m in logged) == 1
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)


def test_per_model_training_overrides(tmp_path) -> None:
    """``model_train[k]`` overrides model k's [train] settings; such a model gets its own directory (digest of
    the overrides), the others keep theirs; the pool cache digest changes with the overrides."""
    from spikeforge.methods.corenet.experiment import model_train_overrides, pool_cache_dir, probabilistic_models

    spec = small_network()
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 784)).astype(np.float32), rng.integers(0, 10, 40)
    tr = {"epochs": 1, "batch_size": 20, "seed": 0, "threads": 1, "log_every_epoch": False}
    s = {"models": 2, "name": "o", "train": tr, "model_train": [{}, {"temperature": 0.25, "seed": 0}]}
    models, infos = probabilistic_models(spec, "small", s, tmp_path, x, y, log=lambda *_: None)
    dirs = sorted(p.name for p in tmp_path.iterdir())
    assert dirs[0] == "probabilistic-o" and dirs[1].startswith("probabilistic-o-seed0-") and len(dirs) == 2
    assert infos[0]["temperature"] == 0.5 and infos[1]["temperature"] == 0.25
    assert not torch.equal(models[0].conn[0], models[1].conn[0])  # same seed, other loss: another model
    # model 1 equals a model trained directly with the overridden settings
    direct = ProbabilisticCoreNet(spec, seed=0)
    train(direct, x, y, TrainConfig(**{**tr, "temperature": 0.25}))
    torch.testing.assert_close(direct.conn[0], models[1].conn[0])
    plain = {k: v for k, v in s.items() if k != "model_train"}
    assert pool_cache_dir("probabilistic", "small", s, tmp_path) != pool_cache_dir("probabilistic", "small", plain,
                                                                                    tmp_path)
    assert model_train_overrides(plain) == [{}, {}]
    with pytest.raises(ValueError, match="list of 2 dicts"):
        model_train_overrides({**s, "model_train": [{}]})
    with pytest.raises(ValueError, match=r"model_train\[1\]: unknown"):
        model_train_overrides({**s, "model_train": [{}, {"temp": 1}]})


def test_warm_restart_schedule_and_cached_continuation(tmp_path) -> None:
    """A warm restart after the annealing phase: lr jumps to restart_lr and decays back to the annealing
    phase's final rate, Adam's moments reset; a cached run of the earlier phases is continued, not retrained."""
    from spikeforge.methods.corenet.checkpoints import _resumable
    from spikeforge.methods.corenet.experiment import train_cached
    from spikeforge.methods.corenet.train import _lr_at, total_epochs

    base = {"epochs": 2, "lr": 0.01, "lr_final_ratio": 0.25, "batch_size": 20, "seed": 5, "log_every_epoch": False}
    ann = TrainConfig(**{**base, "anneal_epochs": 1, "anneal_ratio": 0.2})
    full = TrainConfig(**{**base, "anneal_epochs": 1, "anneal_ratio": 0.2, "restart_epochs": 3, "restart_lr": 0.004})
    assert total_epochs(full) == 6
    np.testing.assert_allclose([_lr_at(full, e) for e in range(6)],
                               [0.01, 0.0025, 0.0005, 0.004, 0.004 * (0.0005 / 0.004) ** 0.5, 0.0005])
    no_anneal = TrainConfig(**{**base, "restart_epochs": 2, "restart_lr": 0.004})
    assert [_lr_at(no_anneal, e) for e in (2, 3)] == pytest.approx([0.004, 0.0025])
    spec = small_network()
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 784)).astype(np.float32), rng.integers(0, 10, 60)
    direct = ProbabilisticCoreNet(spec, seed=5)
    hist = train(direct, x, y, full)
    np.testing.assert_allclose([h["lr"] for h in hist["history"]], [_lr_at(full, e) for e in range(6)])
    # continuing a cached annealed run: same parameters as the uninterrupted run
    logs: list[str] = []
    train_cached("probabilistic", spec, 1, {}, ann, tmp_path, x, y, log=lambda *_: None)
    cont, info = train_cached("probabilistic", spec, 1, {}, full, tmp_path, x, y, log=lambda *a: logs.append(str(a[0])))
    assert any("continuing" in m for m in logs) and info["epochs"] == 6
    for pa, pc in zip(direct.parameters(), cont.parameters(), strict=True):
        torch.testing.assert_close(pa, pc)
    # the restart resets Adam: after it, the moments have seen only the restart's 3 epochs x 3 batches
    st = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert {int(v["step"]) for v in st["opt"]["state"].values()} == {9}
    key = {"train": {"epochs": 2, "anneal_epochs": 1, "anneal_ratio": 0.2}}
    assert _resumable(key, {"train": {**key["train"], "restart_epochs": 3, "restart_lr": 0.004}})
    assert _resumable({"train": {"epochs": 2}}, {"train": {**key["train"], "restart_epochs": 3, "restart_lr": 0.1}})
    assert not _resumable({"train": {"epochs": 2, "anneal_epochs": 2, "anneal_ratio": 0.2}},
                          {"train": {**key["train"], "restart_epochs": 3, "restart_lr": 0.004}})
    assert not _resumable({"train": {"epochs": 3}}, {"train": {**key["train"]}})


def test_network_from_config_presets_and_custom_layouts() -> None:
    from spikeforge.methods.corenet.topology import build_network, grid_offsets, network_from_config

    # a preset by name is the preset
    big = network_from_config({"name": "large", "sign_seed": 3})
    ref = large_network(sign_seed=3)
    assert big.describe() == ref.describe()
    assert all(np.array_equal(a.sources, b.sources) for a, b in zip(big.layers, ref.layers, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(big.type_weights, ref.type_weights, strict=True))
    # a custom layout: 25 windows at stride 3, two hidden layers
    cfg = {"name": "wide", "stride": 3, "input_neurons": 80, "hidden": [[8, 128], [8, 128]], "output_cores": 4}
    net = network_from_config(cfg)
    assert net.describe() == "wide: 25x80 -> 8x128 -> 8x128 -> 4x250 (45 cores, 5048 neurons, perm2)"
    assert net.layers[0].sources[1, 0] == 3  # the second window starts at column 3
    # unset keys take the small network's values, for the dataset's image shape and classes
    tiny = network_from_config({"name": "digits", "window": 8, "input_neurons": 32, "output_neurons": 40},
                               (8, 8), 4)
    assert tiny.describe() == "digits: 1x32 -> 1x40 (2 cores, 72 neurons, perm2)"
    assert np.bincount(tiny.output_classes).tolist() == [10] * 4
    assert sorted(tiny.layers[0].sources[0, :64].tolist()) == list(range(64))
    # non-square images: windows along each axis, the last one at the edge
    assert grid_offsets((20, 28), 16, 12) == [(0, 0), (0, 12), (4, 0), (4, 12)]
    flat = build_network("r", input_shape=(20, 28), window=16, stride=12, input_neurons=64)
    assert flat.layers[0].sources[2, 0] == 4 * 28  # third window: row 4, column 0


@pytest.mark.parametrize(("cfg", "shape", "match"), [
    ({"name": "large", "layers": 3}, (28, 28), r"unknown key\(s\) \['layers'\]"),
    ({"name": "large", "stride": 3}, (28, 28), "is a preset"),
    ({"name": "x", "window": 20}, (28, 28), "needs 400 axons"),
    ({"name": "x", "window": 10}, (8, 8), "larger than the 8x8 image"),
    ({"name": "x", "input_neurons": 128, "stride": 4}, (28, 28), "would need 2048 axons > 256"),
    ({"name": "x", "hidden": [[8]]}, (28, 28), "list of \\[cores, neurons\\] pairs"),
    ({"name": "x", "stride": 0}, (28, 28), "stride must be a positive integer"),
    ({"name": "x", "output_neurons": 5}, (28, 28), "at least one neuron per class"),
    ({"name": "small"}, (8, 8), "the preset reads 28x28 images"),
    ({"name": "x", "window": 4}, (32, 32, 3), "2-D images"),
])
def test_network_from_config_names_the_problem(cfg, shape, match) -> None:
    from spikeforge.methods.corenet.topology import network_from_config

    with pytest.raises(ValueError, match=match):
        network_from_config(cfg, shape, 10)


def test_pipeline_with_a_custom_layout_on_digits(tmp_path) -> None:
    """A recipe's custom ``[network]`` layout for the bundled 8x8 digits: trained, deployed, simulated."""
    from spikeforge.deploy import load
    from spikeforge.methods.probabilistic.pipeline import run

    cfg = {"seed": 0, "data": {"dataset": "digits"},
           "network": {"name": "digits-2core", "window": 8, "input_neurons": 128, "output_neurons": 250},
           "train": {"epochs": 30, "threads": 1}, "deploy": {"ensemble": 2}}
    res = run(cfg, tmp_path, None)
    assert res["layout"] == "digits-2core: 1x128 -> 1x250 (2 cores, 378 neurons, perm2)"
    assert res["cores"] == 4 and res["accuracy_source"] == "simulator"
    assert res["accuracy"] > 0.6  # 10 classes: chance is 0.1
    dep = load(tmp_path / "deployment.sfd")
    check(dep)
    assert dep.n_inputs == 64 and dep.n_cores == 4


def test_pipeline_does_not_resume_a_checkpoint_of_other_settings(tmp_path, capsys) -> None:
    """An edited recipe rerun into the same folder trains afresh (and says so) instead of continuing the old
    checkpoint; the same recipe rerun resumes the finished run without training."""
    from spikeforge.methods.binary.pipeline import run

    cfg = {"seed": 1, "data": {"dataset": "digits", "max_test": 60},
           "network": {"name": "d", "window": 8, "input_neurons": 32, "output_neurons": 50},
           "train": {"epochs": 2, "threads": 1, "train_input": "threshold"}}
    first = run(cfg, tmp_path / "a", None)
    again = run(cfg, tmp_path / "a", None)
    assert again["train_seconds"] == first["train_seconds"] and again["accuracy"] == first["accuracy"]
    assert "training afresh" not in capsys.readouterr().err
    edited = {**cfg, "network": {**cfg["network"], "input_neurons": 48}, "train": {**cfg["train"], "epochs": 3}}
    res = run(edited, tmp_path / "a", None)  # the old checkpoint has other shapes and 2 of 3 epochs
    assert "training afresh" in capsys.readouterr().err
    fresh = run(edited, tmp_path / "b", None)
    assert res["layout"] == fresh["layout"] == "d: 1x48 -> 1x50 (2 cores, 98 neurons, perm2)"
    for k in ("accuracy", "final_train_acc_model", "synaptic_events_per_image", "spikes_per_image"):
        assert res[k] == fresh[k], k


def test_shipped_core_network_recipes_are_valid() -> None:
    # every shipped probabilistic / binary recipe parses: known [train] keys, a buildable [network]
    from spikeforge.methods.corenet.topology import network_from_config
    from spikeforge.recipes import list_recipes, load_recipe

    seen = []
    for name in list_recipes():
        cfg = load_recipe(name).config
        if cfg.get("method") not in ("probabilistic", "binary"):
            continue
        TrainConfig.from_dict(dict(cfg.get("train", {})))
        net = network_from_config(dict(cfg.get("network", {})))
        assert cfg["deploy"]["ensemble"] * net.n_cores <= 4096  # the copies fit one chip
        seen.append(name)
    assert {"esser2015-small", "esser2015-large", "binary-small"} <= set(seen)


@pytest.mark.parametrize("before", [False, True])
def test_training_restores_the_denormal_mode(before: bool) -> None:
    # training flushes denormals (speed), but the mode is process-wide: afterwards it is as it was
    from spikeforge.methods.corenet.train import flush_denormal_enabled

    torch.set_flush_denormal(before)
    try:
        rng = np.random.default_rng(0)
        model = ProbabilisticCoreNet(small_network(), 1, seed=0)
        train(model, rng.random((40, 784), dtype=np.float32), rng.integers(0, 10, 40),
              TrainConfig(epochs=1, batch_size=20, log_every_epoch=False), log=lambda *a: None)
        assert flush_denormal_enabled() is before
    finally:
        torch.set_flush_denormal(False)


@pytest.mark.parametrize(("change", "match"), [
    ({"encoding": {"ticks": 2}}, r"\[encoding\] ticks must be 1"),
    ({"encoding": {"kind": "thermometer"}}, r"\[encoding\] kind:? 'thermometer'"),
    ({"deploy": {"ensemble": 0}}, r"\[deploy\] ensemble:? must be >= 1"),
])
def test_settings_that_cannot_deploy_fail_before_training(tmp_path, change, match) -> None:
    from spikeforge.methods.binary.pipeline import run

    cfg = {"seed": 0, "data": {"dataset": "digits"},
           "network": {"name": "d", "window": 8, "input_neurons": 32, "output_neurons": 50},
           "train": {"epochs": 1, "threads": 1}, **change}
    with pytest.raises(ValueError, match=match):
        run(cfg, tmp_path, None)
    assert not (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "model.pt").exists()
    # through run_recipe, a refused run leaves no empty output folder behind
    from spikeforge.pipeline import run_recipe
    from spikeforge.recipes import Recipe

    with pytest.raises(ValueError, match=match):
        run_recipe(Recipe("r", "binary", "", "test", {"name": "r", "method": "binary", **cfg}), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_layout_too_big_for_the_chips_cores_fails_before_training(tmp_path) -> None:
    import dataclasses

    from spikeforge.hardware import TRUENORTH
    from spikeforge.hardware.chipfile import save_chip
    from spikeforge.methods.binary.pipeline import run

    small = dataclasses.replace(TRUENORTH, name="tn-128", base="truenorth",
                                core=dataclasses.replace(TRUENORTH.core, n_axons=128, n_neurons=128))
    chip = save_chip(small, tmp_path / "tn-128.toml")
    rng = np.random.default_rng(0)  # 28x28 images: the `small` preset's input
    np.savez(tmp_path / "d28.npz", x_train=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
             y_train=np.arange(20) % 10, x_test=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
             y_test=np.arange(10))
    cfg = {"seed": 0, "chip": str(chip), "data": {"dataset": str(tmp_path / "d28.npz")}, "network": {"name": "small"},
           "train": {"epochs": 1, "threads": 1}}
    with pytest.raises(ValueError, match=r"laid out for 256x256 cores .* tn-128's cores are 128x128 .* window, stride"):
        run(cfg, tmp_path / "o", None)
    assert not (tmp_path / "o" / "checkpoint.pt").exists() and not (tmp_path / "o" / "model.pt").exists()


def test_ensemble_objective_independent_coupled_and_mixed() -> None:
    from spikeforge.methods.corenet.checkpoints import _cache_key
    from spikeforge.methods.corenet.train import ensemble_objective

    torch.manual_seed(3)
    z = torch.randn(5, 3, 4, requires_grad=True)  # (batch, copies, classes)
    y = torch.tensor([0, 3, 1, 2, 3])
    ce = torch.nn.functional.cross_entropy
    indep = sum(ce(z[:, k], y) for k in range(3))
    coupled = 3 * ce(z.mean(1), y)
    assert torch.allclose(ensemble_objective(z, y, 0.0), indep)
    assert torch.allclose(ensemble_objective(z, y, 1.0), coupled)
    assert torch.allclose(ensemble_objective(z, y, 0.25), 0.75 * indep + 0.25 * coupled)
    # independent: copy 0's gradient does not depend on the other copies' logits; coupled: it does
    for lam, mixes in ((0.0, False), (0.5, True)):
        g = []
        for other in (0.0, 5.0):
            zz = z.detach().clone()
            zz[:, 1:, 0] += other  # raise the other copies' score for class 0
            zz.requires_grad_(True)
            ensemble_objective(zz, y, lam).backward()
            g.append(zz.grad[:, 0].clone())
        assert torch.allclose(g[0], g[1]) is not mixes
    with pytest.raises(ValueError, match="ensemble_loss"):
        ensemble_objective(z, y, 1.5)
    # the setting enters the cache key only when used: caches trained before it existed stay valid
    spec = small_network()
    assert "ensemble_loss" not in _cache_key("binary", spec, 2, {}, TrainConfig())["train"]
    assert _cache_key("binary", spec, 2, {}, TrainConfig(ensemble_loss=0.5))["train"]["ensemble_loss"] == 0.5


def test_copy_views_give_each_copy_its_own_shift_and_draw() -> None:
    from spikeforge.methods.corenet.data import shift_batch, train_inputs
    from spikeforge.methods.corenet.train import copy_view_batch

    x = torch.rand(6, 28 * 28)
    cfg = TrainConfig(max_shift=2, train_input="bernoulli")
    # shared (copies = 0): exactly the former sequence, shift then draw, from the same generator
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    ref = train_inputs(shift_batch(x, (28, 28), 2, g1), "bernoulli", 0.5, g1)
    assert torch.equal(copy_view_batch(x, (28, 28), 0, cfg, g2), ref)
    # per copy: (B, K, n) binary views; every copy is a translated draw of the same image
    v = copy_view_batch(x, (28, 28), 5, cfg, torch.Generator().manual_seed(4))
    assert v.shape == (6, 5, 784) and set(v.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(v[:, 0], v[:, 1])
    assert torch.equal(v, copy_view_batch(x, (28, 28), 5, cfg, torch.Generator().manual_seed(4)))
    th = copy_view_batch(x, (28, 28), 5, TrainConfig(max_shift=0, train_input="threshold"), torch.Generator())
    assert torch.equal(th, (x > 0.5).float().unsqueeze(1).expand(6, 5, 784))  # no shift, no draw: one view


def test_copy_distortions_give_each_copy_its_own_distortion() -> None:
    from spikeforge.methods.corenet.checkpoints import _cache_key
    from spikeforge.methods.corenet.data import affine_batch, elastic_batch
    from spikeforge.methods.corenet.train import copy_view_batch

    x = torch.rand(4, 28 * 28)
    cfg = TrainConfig(elastic_alpha=20.0, max_rotate=10.0, max_scale=0.1, train_input="intensity",
                      copy_views=True, copy_distortions=True)
    v = copy_view_batch(x, (28, 28), 3, cfg, torch.Generator().manual_seed(1))
    # = elastic then affine distortion of the image repeated once per copy, from the same generator
    g = torch.Generator().manual_seed(1)
    rep = x.unsqueeze(1).expand(4, 3, 784).reshape(12, 784)
    ref = affine_batch(elastic_batch(rep, (28, 28), 20.0, 4.0, g), (28, 28), 10.0, 0.1, g).reshape(4, 3, 784)
    assert torch.equal(v, ref)
    assert not torch.allclose(v[:, 0], v[:, 1])  # the copies' distortions differ
    # without copy_distortions the copies share the (caller's) distortion: intensities, no shift → equal views
    shared = copy_view_batch(x, (28, 28), 3, TrainConfig(copy_views=True), torch.Generator().manual_seed(1))
    assert torch.equal(shared[:, 0], shared[:, 2])
    with pytest.raises(ValueError, match="copy_distortions = true needs copy_views"):
        TrainConfig.from_dict({"copy_distortions": True})
    spec = small_network()
    assert "copy_distortions" not in _cache_key("binary", spec, 2, {}, TrainConfig(copy_views=True))["train"]
    assert _cache_key("binary", spec, 2, {}, cfg)["train"]["copy_distortions"] is True
    # training runs with it (per-copy inputs through the whole step)
    from spikeforge.methods.binary.model import BinaryCoreNet

    rng = np.random.default_rng(0)
    m = BinaryCoreNet(spec, copies=2, seed=0)
    tc = TrainConfig(epochs=1, batch_size=10, elastic_alpha=10.0, max_shift=1, train_input="bernoulli",
                     copy_views=True, copy_distortions=True, ensemble_loss=1.0, log_every_epoch=False)
    hist = train(m, rng.random((20, 784), dtype=np.float32), rng.integers(0, 10, 20), tc, log=lambda *a: None)
    assert np.isfinite(hist["history"][0]["loss"])


def test_per_copy_inputs_are_each_copys_own_input() -> None:
    from spikeforge.methods.binary.model import BinaryCoreNet

    spec = small_network(signs="pm1")
    m = BinaryCoreNet(spec, copies=3, seed=2).eval()
    x = (torch.rand(7, 3, 784) < 0.3).float()
    got = m(x)
    for k in range(3):
        assert torch.equal(got[:, k], m(x[:, k])[:, k])
    with pytest.raises(ValueError, match="per-copy inputs"):
        m(x[:, :2])


def _toml(cfg: dict[str, Any]) -> str:
    """A recipe dict as TOML (scalars at the top, then one table per dict; strings JSON-quoted)."""
    top = [f"{k} = {json.dumps(v)}" for k, v in cfg.items() if not isinstance(v, dict)]
    tables = [f"[{k}]\n" + "\n".join(f"{kk} = {json.dumps(vv)}" for kk, vv in v.items())
              for k, v in cfg.items() if isinstance(v, dict)]
    return "\n".join(top) + "\n\n" + "\n\n".join(tables) + "\n"


def _digits_recipe(method: str, **extra: Any) -> dict[str, Any]:
    return {"name": f"d-{method}", "method": method, "seed": 3, "data": {"dataset": "digits", "max_test": 80},
            "network": {"name": "d", "window": 8, "input_neurons": 32, "output_neurons": 50},
            "train": {"epochs": 2, "threads": 1, "batch_size": 50}, **extra}


def test_binary_recipe_warm_starts_from_a_probabilistic_recipe_or_its_model(tmp_path) -> None:
    """``[warm_start]``: the binary networks start on samples of a trained probabilistic model. Untrained
    (0 epochs), the deployment is exactly those samples; naming the recipe (trained in OUT/warm-start) and
    naming the model.pt it saved give the same networks; the source enters the checkpoint key."""
    from spikeforge.deploy import load
    from spikeforge.methods.binary.pipeline import run as run_binary
    from spikeforge.methods.corenet.topology import network_from_config
    from spikeforge.methods.probabilistic.pipeline import make_model, sample_copies
    from spikeforge.methods.probabilistic.pipeline import run as run_prob
    from spikeforge.recipes import load_recipe

    prob = _digits_recipe("probabilistic")
    (tmp_path / "prob.toml").write_text(_toml(prob))
    binary = _digits_recipe("binary", deploy={"ensemble": 3},
                            warm_start={"recipe": str(tmp_path / "prob.toml"), "sample_seed": 5, "margin": 0.2})
    binary["train"] = {**binary["train"], "epochs": 0}
    run_binary(binary, tmp_path / "a", None)
    saved = torch.load(tmp_path / "a" / "warm-start" / "model.pt", weights_only=False)
    assert saved["config"]["method"] == "probabilistic"
    # the probabilistic recipe run on its own trains the same model
    run_prob(prob, tmp_path / "p", None)
    alone = torch.load(tmp_path / "p" / "model.pt", weights_only=False)
    for k, v in saved["model"].items():
        torch.testing.assert_close(v, alone["model"][k])
    # untrained binary networks = the probabilistic model's samples with sample_seed 5
    spec = network_from_config(prob["network"], (8, 8), 10)
    pm = make_model(spec, 1, {}, 3, get_chip("truenorth"))
    pm.load_state_dict(alone["model"])
    want = sample_copies(pm, 3, 5)
    dep = load(tmp_path / "a" / "deployment.sfd")
    ref = build_deployment(spec, want, chip=get_chip("truenorth"))
    np.testing.assert_array_equal(dep.crossbar, ref.crossbar)
    np.testing.assert_array_equal(dep.leak, ref.leak)
    # the same start from the saved model.pt
    by_model = {**binary, "warm_start": {"model": str(tmp_path / "p" / "model.pt"), "sample_seed": 5, "margin": 0.2}}
    run_binary(by_model, tmp_path / "b", None)
    dep_b = load(tmp_path / "b" / "deployment.sfd")
    np.testing.assert_array_equal(dep.crossbar, dep_b.crossbar)
    # a user's recipe names the probabilistic recipe relative to itself; the key records the source model
    (tmp_path / "bin.toml").write_text(_toml({**binary, "warm_start": {"recipe": "prob.toml"}}))
    assert load_recipe(str(tmp_path / "bin.toml")).config["warm_start"]["recipe"] == str(tmp_path / "prob.toml")
    (tmp_path / "t.pt2").write_bytes(b"")  # so is a distillation teacher
    (tmp_path / "bin2.toml").write_text(_toml({**binary, "train": {"teacher": "t.pt2", "distill": 0.5}}))
    assert load_recipe(str(tmp_path / "bin2.toml")).config["train"]["teacher"] == str(tmp_path / "t.pt2")
    key = json.loads((tmp_path / "a" / "key.json").read_text())
    assert key["init"]["sample_seed"] == 5 and key["init"]["margin"] == 0.2 and len(key["init"]["model_sha"]) == 16
    # trained on from the warm start: a few bits move, the deployment still passes the design rules
    trained = {**binary, "train": {**binary["train"], "epochs": 1}}
    run_binary(trained, tmp_path / "a", None)  # other settings: the untrained checkpoint is not resumed
    check(load(tmp_path / "a" / "deployment.sfd"))


def test_binary_warm_start_from_several_probabilistic_models(tmp_path) -> None:
    """``models = 2``: the probabilistic recipe is trained with seeds 3 and 4 (OUT/warm-start, OUT/warm-start-1)
    and network i starts on sample ``5 * 100003 + i // 2`` of model ``i mod 2``; listing the two saved
    model.pt files gives the same networks; the key records both source models."""
    from spikeforge.deploy import load
    from spikeforge.methods.binary.pipeline import run as run_binary
    from spikeforge.methods.binary.pipeline import warm_start_samples
    from spikeforge.methods.corenet.topology import network_from_config
    from spikeforge.methods.probabilistic.pipeline import make_model, sample_copies
    from spikeforge.methods.probabilistic.pipeline import run as run_prob

    prob = _digits_recipe("probabilistic")
    prob["train"] = {**prob["train"], "epochs": 1}
    (tmp_path / "prob.toml").write_text(_toml(prob))
    binary = _digits_recipe("binary", deploy={"ensemble": 5},
                            warm_start={"recipe": str(tmp_path / "prob.toml"), "models": 2, "sample_seed": 5})
    binary["train"] = {**binary["train"], "epochs": 0}
    run_binary(binary, tmp_path / "a", None)
    spec = network_from_config(prob["network"], (8, 8), 10)
    pms = []
    for k, seed in enumerate((3, 4)):
        run_prob({**prob, "seed": seed}, tmp_path / f"p{k}", None)
        alone = torch.load(tmp_path / f"p{k}" / "model.pt", weights_only=False)
        saved = torch.load(tmp_path / "a" / ("warm-start" if k == 0 else "warm-start-1") / "model.pt",
                           weights_only=False)
        for name, v in saved["model"].items():
            torch.testing.assert_close(v, alone["model"][name])
        pm = make_model(spec, 1, {}, seed, get_chip("truenorth"))
        pm.load_state_dict(alone["model"])
        pms.append(pm)
    want = warm_start_samples(pms, 5, 5)
    for i, net in enumerate(want):  # network i: sample 5 * 100003 + i // 2 of model i mod 2
        ref = pms[i % 2].sample(5 * 100003 + i // 2)
        for a, b in zip([*net[0], *net[1]], [*ref[0], *ref[1]], strict=True):  # crossbars, leaks
            np.testing.assert_array_equal(a, b)
    for x, y in zip(warm_start_samples(pms[:1], 3, 5), sample_copies(pms[0], 3, 5), strict=True):  # K = 1
        for a, b in zip([*x[0], *x[1]], [*y[0], *y[1]], strict=True):
            np.testing.assert_array_equal(a, b)
    dep = load(tmp_path / "a" / "deployment.sfd")
    ref_dep = build_deployment(spec, want, chip=get_chip("truenorth"))
    np.testing.assert_array_equal(dep.crossbar, ref_dep.crossbar)
    np.testing.assert_array_equal(dep.leak, ref_dep.leak)
    one = build_deployment(spec, warm_start_samples(pms[:1], 5, 5), chip=get_chip("truenorth"))
    assert not np.array_equal(dep.crossbar, one.crossbar)  # the second model's samples are really there
    key = json.loads((tmp_path / "a" / "key.json").read_text())
    assert isinstance(key["init"]["model_sha"], list) and len(set(key["init"]["model_sha"])) == 2
    by_files = {**binary, "warm_start": {"model": [str(tmp_path / "p0" / "model.pt"),
                                                   str(tmp_path / "p1" / "model.pt")], "sample_seed": 5}}
    run_binary(by_files, tmp_path / "b", None)
    np.testing.assert_array_equal(load(tmp_path / "b" / "deployment.sfd").crossbar, dep.crossbar)
    # a user's recipe lists the model files relative to itself
    (tmp_path / "bin.toml").write_text(_toml({**binary, "warm_start": {"model": ["p0/model.pt", "p1/model.pt"]}}))
    from spikeforge.recipes import load_recipe
    assert load_recipe(str(tmp_path / "bin.toml")).config["warm_start"]["model"] == [
        str(tmp_path / "p0" / "model.pt"), str(tmp_path / "p1" / "model.pt")]


@pytest.mark.parametrize(("warm", "match"), [
    ({}, "exactly one of 'recipe'"),
    ({"recipe": "x", "model": "y"}, "exactly one of 'recipe'"),
    ({"recipe": "binary-small"}, "is a 'binary' recipe"),
    ({"recipe": "esser2015-small", "margin": 0.7}, r"margin must be in \(0, 0.5\]"),
    ({"recipe": "esser2015-small"}, "is for dataset 'mnist', this recipe for 'digits'"),
    ({"model": "missing.pt"}, "missing.pt does not exist"),
    ({"model": ["missing.pt"]}, "missing.pt does not exist"),
    ({"model": []}, "non-empty list"),
    ({"model": ["a.pt", 3]}, "non-empty list"),
    ({"model": "a.pt", "models": 2}, "list the model files instead"),
    ({"recipe": "esser2015-small", "models": 0}, "models must be a positive integer"),
])
def test_binary_warm_start_settings_are_refused_before_training(tmp_path, warm, match) -> None:
    from spikeforge.methods.binary.pipeline import run as run_binary

    cfg = _digits_recipe("binary", warm_start=warm)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        run_binary(cfg, tmp_path / "o", None)
    assert not (tmp_path / "o" / "checkpoint.pt").exists()


def test_binary_warm_start_refuses_another_layout_or_a_foreign_file(tmp_path) -> None:
    from spikeforge.methods.binary.pipeline import run as run_binary

    prob = _digits_recipe("probabilistic")
    prob["network"] = {**prob["network"], "input_neurons": 48}
    (tmp_path / "prob.toml").write_text(_toml(prob))
    cfg = _digits_recipe("binary", warm_start={"recipe": str(tmp_path / "prob.toml")})
    with pytest.raises(ValueError, match=r"has the network d: 1x48 .*; this recipe d: 1x32"):
        run_binary(cfg, tmp_path / "o", None)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    cfg = _digits_recipe("binary", warm_start={"model": str(tmp_path / "junk.pt")})
    with pytest.raises(ValueError, match=r"is not a model\.pt saved by `spikeforge run`"):
        run_binary(cfg, tmp_path / "o2", None)


class _Centroids(torch.nn.Module):
    """A teacher: nearest class mean, its labels rotated by ``roll`` (a teacher that
    disagrees with the labels, so that what the student learns shows where it learned it from)."""

    def __init__(self, means: torch.Tensor, roll: int) -> None:
        super().__init__()
        self.register_buffer("means", means)
        self.roll = roll

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        return torch.roll(-d, self.roll, dims=1)


def _digits_teacher(tmp_path, roll: int = 1):  # type: ignore[no-untyped-def]
    from spikeforge.methods.corenet import data as cdata

    ds = cdata.load("digits", None)
    x = cdata.to_unit(ds.x_train).reshape(len(ds.x_train), -1).astype(np.float32)
    means = torch.stack([torch.from_numpy(x[ds.y_train == c].mean(0)) for c in range(10)])
    path = tmp_path / "teacher.pt2"
    batch = torch.export.Dim("batch")
    ep = torch.export.export(_Centroids(means, roll), (torch.zeros(4, 64),), dynamic_shapes=({0: batch},))
    torch.export.save(ep, str(path))
    return ds, x, path


def test_distillation_loss_closed_forms() -> None:
    from spikeforge.methods.corenet.train import distilled, ensemble_objective

    torch.manual_seed(0)
    z = torch.randn(6, 3, 5)
    y = torch.tensor([0, 4, 1, 2, 3, 3])
    onehot = torch.nn.functional.one_hot(y, 5).float()
    for lam in (0.0, 0.5, 1.0):  # soft targets that are one-hot = hard labels
        torch.testing.assert_close(ensemble_objective(z, onehot, lam), ensemble_objective(z, y, lam))
    t = torch.randn(6, 5)
    cfg = TrainConfig(teacher="x", distill=0.3, distill_temperature=2.0, ensemble_loss=1.0)
    hard = ensemble_objective(z, y, 1.0)
    soft = torch.softmax(t / 2.0, -1)
    want = 0.7 * hard - 0.3 * 4.0 * 3 * (soft * torch.log_softmax(z.mean(1) / 2.0, -1)).sum(-1).mean()
    torch.testing.assert_close(distilled(hard, z, t, cfg), want)


def test_a_distilled_student_learns_its_teacher(tmp_path) -> None:
    """α = 1: the labels do not enter the loss — a student of a teacher whose labels are rotated by one class
    predicts the rotated labels; α = 0 ignores the teacher."""
    from spikeforge.methods.corenet.checkpoints import _cache_key
    from spikeforge.methods.corenet.topology import network_from_config

    ds, x, path = _digits_teacher(tmp_path)
    spec = network_from_config({"name": "d", "window": 8, "input_neurons": 64, "output_neurons": 100}, (8, 8), 10)
    accs = {}
    for alpha in (1.0, 0.0):
        m = ProbabilisticCoreNet(spec, 1, seed=0)
        cfg = TrainConfig(epochs=6, lr=0.02, batch_size=50, teacher=str(path), distill=alpha,
                          distill_temperature=1.0, log_every_epoch=False)
        train(m, x, ds.y_train, cfg, log=lambda *a: None)
        m.eval()
        with torch.no_grad():
            pred = m(torch.from_numpy(x)).reshape(len(x), -1).argmax(-1).numpy()
        accs[alpha] = (float(np.mean(pred == ds.y_train)), float(np.mean(pred == (ds.y_train + 1) % 10)))
    assert accs[1.0][1] > 0.6 and accs[1.0][0] < 0.2  # follows the teacher, not the labels
    assert accs[0.0][0] > 0.6 and accs[0.0][1] < 0.2
    # the teacher enters the cache key by content
    key = _cache_key("probabilistic", spec, 1, {}, TrainConfig(teacher=str(path), distill=0.5))["train"]
    assert key["teacher"] == file_sha(path) and key["distill"] == 0.5
    assert "teacher" not in _cache_key("probabilistic", spec, 1, {}, TrainConfig())["train"]


def file_sha(path) -> str:  # type: ignore[no-untyped-def]
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def test_bad_teachers_are_refused(tmp_path) -> None:
    from spikeforge.methods.corenet.train import load_teacher

    with pytest.raises(ValueError, match="distill > 0 needs a teacher"):
        TrainConfig.from_dict({"distill": 0.5})
    with pytest.raises(ValueError, match=r"distill must be <= 1, got 1.5"):
        TrainConfig.from_dict({"distill": 1.5, "teacher": "t.pt"})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_teacher(str(tmp_path / "none.pt"), 64, 10)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"is not a torch\.export model file"):
        load_teacher(str(tmp_path / "junk.pt"), 64, 10)
    _, _, path = _digits_teacher(tmp_path)
    with pytest.raises(ValueError, match=r"needs \(2, 7\) finite logits"):
        load_teacher(str(path), 64, 7)
    t = load_teacher(str(path), 64, 10)
    x = torch.rand(3, 64)
    torch.testing.assert_close(t(x[:1]), t(x)[:1])  # a lone image (batch size 1 is specialised by export)


def test_rows_count_distinct_ensembles_not_draws_of_the_same_one() -> None:
    """At ensemble size = pool size every random subset is the whole pool: one ensemble, reported as one
    (it was reported as 5 seeds with a standard deviation of 0)."""
    from spikeforge.methods.corenet.evaluate import ensemble_table
    from spikeforge.methods.corenet.experiment import seed_scheme

    rng = np.random.default_rng(0)
    counts = rng.integers(0, 5, (4, 30, 10))  # 4 members, 30 images, 10 classes
    labels = rng.integers(0, 10, 30)
    t = ensemble_table(counts, labels, [1, 2, 4], seeds=5)
    assert len(t[1]) == 4 and len(t[4]) == 1  # 4 distinct singletons; the whole pool once
    assert 2 <= len(t[2]) <= 5
    assert seed_scheme(4, 4, 5, 1) == "the whole pool"
    assert seed_scheme(4, 4, 5, 3) == "the whole pool of 4, 3 assignments of members to shifts"
    assert seed_scheme(64, 8, 5) == "disjoint" and seed_scheme(64, 16, 5) == "subsets of a pool of 64"
    assert seed_scheme(16, 32, 5) == "one ensemble: copy k = member k mod 16"
