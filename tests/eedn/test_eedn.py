"""Eedn training layers, exact batch-norm folding, export to the mapping IR and the simulator readout."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import SIM_DEVICE
from spikeforge.data import Encoder, load_dataset, threshold_encode
from spikeforge.deploy import load
from spikeforge.mapping import compile_network, reference_forward
from spikeforge.methods.eedn import (
    EednNet,
    TrainConfig,
    auto_groups,
    fold_threshold,
    spike,
    train_eedn,
    trinarize,
)
from spikeforge.methods.eedn.layers import bn_predicate
from spikeforge.methods.eedn.pipeline import run, train_config
from spikeforge.recipes import load_recipe
from spikeforge.sim import simulate, simulate_pipelined

torch.set_num_threads(1)

DIGITS_LAYERS = [
    {"kind": "conv", "out": 16, "kernel": 3, "padding": 1},
    {"kind": "conv", "out": 32, "kernel": 3, "stride": 2, "padding": 1},
    {"kind": "pool", "kernel": 2},
    {"kind": "conv", "out": 40, "kernel": 2},
]


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ds = load_dataset("digits")
    enc = lambda x: threshold_encode(x, 1, 0.3)[:, 0]  # noqa: E731
    return enc(ds.x_train), ds.y_train, enc(ds.x_test), ds.y_test


@pytest.fixture(scope="module")
def trained(digits) -> EednNet:  # type: ignore[no-untyped-def]
    x, y, _, _ = digits
    model = EednNet((1, 8, 8), DIGITS_LAYERS, 10)
    train_eedn(model, x, y, TrainConfig(epochs=3, batch_size=32, lr=0.1, seed=0))
    return model


def test_trinarize_hysteresis_rule() -> None:
    w = torch.tensor([0.7, 0.55, 0.45, 0.35, -0.55, -0.7, 0.0, -0.45])
    assert trinarize(w, None, 0.1).tolist() == [1, 1, 0, 0, -1, -1, 0, 0]
    # inside the band (0.4, 0.6) the previous value is kept
    old = torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, -1.0])
    assert trinarize(w, old, 0.1).tolist() == [1, 0, 1, 0, 0, -1, 0, -1]


def test_spike_surrogate_triangle() -> None:
    r = torch.tensor([-2.0, -0.5, 0.0, 0.25, 1.5], requires_grad=True)
    y = spike(r)
    assert y.tolist() == [0, 0, 1, 1, 1]
    y.sum().backward()
    assert r.grad is not None
    np.testing.assert_allclose(r.grad.numpy(), [0, 0.5, 1, 0.75, 0])


def test_shadow_weights_clipped_and_trinary(trained: EednNet) -> None:
    for m in trained.trinary_layers():
        assert float(m.weight.detach().abs().max()) <= 1.0
        assert set(torch.unique(m.q).tolist()) <= {-1.0, 0.0, 1.0}


def test_fold_threshold_is_exact() -> None:
    rng = np.random.default_rng(0)
    n = 400
    mu = rng.normal(0, 5, n)
    a = rng.normal(0, 1, n) * (rng.random(n) < 0.9)  # some zero scales (constant neurons)
    a[:20] = -np.abs(a[:20]) - 1e-3  # negative batch-norm scales flip weight signs
    beta = rng.normal(0, 2, n)
    lo, hi = -rng.integers(0, 40, n), rng.integers(0, 40, n)
    sign, theta = fold_threshold(mu, a, beta, lo, hi)
    for c in range(n):
        s = np.arange(lo[c], hi[c] + 1)
        want = (s.astype(np.float64) - mu[c]) * a[c] + beta[c] >= 0
        got = sign[c] * s >= theta[c]
        np.testing.assert_array_equal(got, want, err_msg=f"channel {c}")


def test_export_matches_model_exactly(trained: EednNet, digits) -> None:  # type: ignore[no-untyped-def]
    _, _, xt, _ = digits
    # make some batch-norm scales negative and some shifts extreme, to exercise sign flips and constant neurons
    model = trained
    bn = model.trinary_layers()[1].bn
    with torch.no_grad():
        saved = (bn.weight.clone(), bn.bias.clone())
        bn.weight[:5] *= -1
        bn.bias[5] = 100.0
        bn.bias[6] = -100.0
    try:
        model.eval()
        net = model.to_network()
        with torch.no_grad():
            outs = model.layer_outputs(torch.from_numpy(xt.astype(np.float32)))
        ref = reference_forward(net, xt.reshape(len(xt), 1, 8, 8))
        for i, (o, r) in enumerate(zip(outs, ref, strict=True)):
            np.testing.assert_array_equal(o.numpy().astype(np.uint8), r, err_msg=f"layer {i}")
        assert (net.layers[1].weight[:5] <= 0).sum() > 0
    finally:
        with torch.no_grad():
            bn.weight.copy_(saved[0])
            bn.bias.copy_(saved[1])


def test_simulator_equals_model(trained: EednNet, digits) -> None:  # type: ignore[no-untyped-def]
    _, _, xt, yt = digits
    model = trained.eval()
    net = model.to_network()
    dep, rep = compile_network(net, "truenorth")
    x = xt[:120]
    with torch.no_grad():
        scores = model(torch.from_numpy(x.astype(np.float32))).numpy().astype(np.int64)
    res = simulate_pipelined(dep, x.reshape(len(x), 1, -1), lanes=16, device=SIM_DEVICE)
    np.testing.assert_array_equal(res.class_counts, scores)
    seq = simulate(dep, x[:8].reshape(8, 1, -1), record_spikes=True, device=SIM_DEVICE)
    assert seq.spikes is not None
    ref = reference_forward(net, x[:8].reshape(8, 1, 8, 8))
    for li in range(len(net.layers)):
        n, _, _ = rep.copies[li]
        np.testing.assert_array_equal(rep.layer_spikes(seq.spikes, li), ref[li].reshape(8, -1)[:, n].astype(bool))
    acc = float(np.mean(res.predictions() == yt[:120]))
    assert acc > 0.5  # a few epochs on 1437 digits: well above chance


def test_auto_groups() -> None:
    assert auto_groups(1, 16, 3) == 1
    assert auto_groups(64, 128, 3) == 8  # 8 channels x 9 x 2 axons = 144 <= 256
    assert auto_groups(256, 320, 4) == 32
    with pytest.raises(ValueError):
        auto_groups(256, 300, 7)


def test_bn_predicate_shape() -> None:
    bn = torch.nn.BatchNorm2d(3).eval()
    s = torch.arange(-6.0, 6.0).reshape(1, 3, 2, 2)
    assert bn_predicate(s, bn).shape == s.shape
    # the default evaluated BN is 1[s >= 0]: ties (s = 0) fire
    assert torch.equal(bn_predicate(s, bn), s >= 0)
    # by hand, per channel: 1[(s − μ)·γ/σ + β ≥ 0], ties at s = μ exact whatever σ: μ = (2, 1, −1),
    # γ = (1, −1, 0.5), β = 0 → s ≥ 2, s ≤ 1, s ≥ −1
    with torch.no_grad():
        bn.running_mean[:] = torch.tensor([2.0, 1.0, -1.0])
        bn.running_var[:] = torch.tensor([4.0, 9.0, 0.25])
        bn.weight[:] = torch.tensor([1.0, -1.0, 0.5])
        bn.bias[:] = 0.0
    grid = torch.arange(-3.0, 4.0).view(1, 1, 7).expand(1, 3, 7)
    want = torch.stack([grid[0, 0] >= 2, grid[0, 1] <= 1, grid[0, 2] >= -1])[None]
    assert torch.equal(bn_predicate(grid, bn), want)


def test_pipeline_run_on_digits(tmp_path: Path) -> None:
    config = {
        "name": "eedn-test", "method": "eedn", "seed": 1,
        "data": {"dataset": "digits", "n_test": 100},
        "encoding": {"kind": "threshold", "ticks": 1, "threshold": 0.3},
        "network": {"layers": DIGITS_LAYERS, "max_cores": 512},
        "train": {"epochs": 1, "batch_size": 32},
    }
    res = run(config, tmp_path)
    assert res["accuracy"] == res["model_accuracy"]
    assert res["regime"] == "pipelined" and res["fps"] == 1000.0
    dep = load(tmp_path / "deployment.sfd")
    assert Encoder.from_dict(dep.provenance["encoding"]).threshold == 0.3
    assert dep.n_cores == res["cores"] <= 512
    with pytest.raises(ValueError):
        run({**config, "train": {"epochs": 1, "bogus": 2}}, tmp_path)


def test_shipped_recipe_parses() -> None:
    r = load_recipe("eedn-mnist-small")
    assert r.method == "eedn"
    assert r.config["network"]["layers"] and "method" not in r.config.get("network", {})
    train_config(r.config["train"])
    model = EednNet((1, 28, 28), r.config["network"]["layers"], 10)
    assert model.out_shape[0] % 10 == 0


class _Interrupt(Exception):
    pass


def test_checkpoint_resume_equals_uninterrupted(tmp_path: Path, digits) -> None:  # type: ignore[no-untyped-def]
    x, y, _, _ = digits
    cfg = TrainConfig(epochs=2, batch_size=64, lr=0.1, seed=3, max_train=400, shift_augment=1, hflip=True)
    torch.manual_seed(0)
    straight = EednNet((1, 8, 8), DIGITS_LAYERS, 10)
    log_a = train_eedn(straight, x, y, cfg)

    def stop_after_first_epoch(msg: str) -> None:
        if msg.startswith("epoch 1/"):
            raise _Interrupt

    ckpt = tmp_path / "ck" / "eedn.pt"
    torch.manual_seed(0)
    resumed = EednNet((1, 8, 8), DIGITS_LAYERS, 10)
    with pytest.raises(_Interrupt):
        train_eedn(resumed, x, y, cfg, log=stop_after_first_epoch, checkpoint=ckpt)
    assert ckpt.exists() and not [p for p in (tmp_path / "ck").iterdir() if ".tmp" in p.name]
    fresh = EednNet((1, 8, 8), DIGITS_LAYERS, 10)  # weights come from the checkpoint, not this init
    msgs: list[str] = []
    log_b = train_eedn(fresh, x, y, cfg, log=msgs.append, checkpoint=ckpt)
    assert msgs[0].startswith("resumed from") and len(log_b.epochs) == 2
    assert [e["loss"] for e in log_b.epochs] == [e["loss"] for e in log_a.epochs]
    for (name, a), (_, b) in zip(straight.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="other settings"):
        train_eedn(EednNet((1, 8, 8), DIGITS_LAYERS, 10), x, y, TrainConfig(epochs=3, seed=3, max_train=400),
                   checkpoint=ckpt)
    # the recalibration sample is applied after the last epoch: a finished checkpoint is reused, not retrained
    again = EednNet((1, 8, 8), DIGITS_LAYERS, 10)
    msgs = []
    train_eedn(again, x, y, dataclasses.replace(cfg, bn_recalibration_batches=2), log=msgs.append, checkpoint=ckpt)
    assert len(msgs) == 1 and msgs[0].startswith("resumed from")
    for a, b in zip(straight.trinary_layers(), again.trinary_layers(), strict=True):
        assert torch.equal(a.q, b.q)
    # a key written while the recalibration sample was part of it is still recognised
    st = torch.load(ckpt, weights_only=False)
    legacy = json.loads(st["key"])
    legacy["train"]["bn_recalibration_batches"] = 50
    st["key"] = json.dumps(legacy, sort_keys=True)
    torch.save(st, ckpt)
    msgs = []
    train_eedn(EednNet((1, 8, 8), DIGITS_LAYERS, 10), x, y, cfg, log=msgs.append, checkpoint=ckpt)
    assert len(msgs) == 1 and msgs[0].startswith("resumed from")
    # a checkpoint records its data: the same settings on another dataset are not resumed
    ck2 = tmp_path / "ck2.pt"
    train_eedn(EednNet((1, 8, 8), DIGITS_LAYERS, 10), x, y, cfg, checkpoint=ck2, data={"dataset": "digits"})
    with pytest.raises(ValueError, match="other settings"):
        train_eedn(EednNet((1, 8, 8), DIGITS_LAYERS, 10), x, y, cfg, checkpoint=ck2, data={"dataset": "other"})
    msgs = []  # the keys above (written before checkpoints recorded their data) are still resumed
    train_eedn(EednNet((1, 8, 8), DIGITS_LAYERS, 10), x, y, cfg, log=msgs.append, checkpoint=ckpt,
               data={"dataset": "digits"})
    assert len(msgs) == 1 and msgs[0].startswith("resumed from")


def test_pipeline_thermometer_input_on_simulator(tmp_path: Path) -> None:
    config = {
        "name": "eedn-thermo", "method": "eedn", "seed": 2,
        "data": {"dataset": "digits", "n_test": 120},
        "encoding": {"kind": "thermometer", "ticks": 1, "levels": 3},
        "network": {"layers": DIGITS_LAYERS, "max_cores": 512},
        "train": {"epochs": 3, "batch_size": 32, "lr": 0.1},
    }
    res = run(config, tmp_path)
    dep = load(tmp_path / "deployment.sfd")
    assert dep.n_inputs == 3 * 64  # three binary channels per pixel
    assert res["accuracy"] == res["model_accuracy"] > 0.3  # simulator == model exactly; well above chance (0.1)
    enc = Encoder.from_dict(dep.provenance["encoding"])
    assert enc.kind == "thermometer" and enc.channels_per_pixel == 3
