"""A small CNN on TrueNorth-style cores: tiled convolutions, pooling as a stage, tied partial sums."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers import SIM_DEVICE
from spikeforge.data import load_dataset, regular_encode
from spikeforge.hardware import ChipSpec, CoreSpec, check
from spikeforge.methods.layerwise.ann import extract_layers, forward, train_model
from spikeforge.methods.layerwise.convert import ConvertOptions, _position_tiles, convert, make_constraints
from spikeforge.methods.layerwise.deploy import build_deployment
from spikeforge.sim import simulate

#: 64 axons → 16 inputs per neuron at 4 axon copies: conv2 (4 channels × 3×3 = 36 entries on the pooled map,
#: 4 × 6×6 = 144 with the pooling folded in) needs pooling as a stage and tied partial sums
SMALL_TN = ChipSpec(name="small-tn", core=CoreSpec(n_axons=64, n_neurons=64), mesh_rows=16, mesh_cols=16,
                    max_chips=4)


@pytest.fixture(scope="module")
def digits_cnn():
    torch.set_num_threads(1)
    ds = load_dataset("digits")
    x = ds.x_train.reshape(len(ds.x_train), -1) / 255.0
    xt = ds.x_test.reshape(len(ds.x_test), -1) / 255.0
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(),
                          nn.Flatten(), nn.Linear(6, 10))
    train_model(model, x, ds.y_train, epochs=25, lr=3e-3, image_shape=(1, 8, 8))
    return extract_layers(model, (1, 8, 8)), x, xt[:40]


def test_pooled_kernel_reproduces_folded_layer(digits_cnn):
    layers, x, _ = digits_cnn
    conv2 = layers[1]
    assert conv2.pool == 2 and conv2.pool_shape == (4, 6, 6)
    assert conv2.kernel_pooled is not None and conv2.patch_pooled is not None
    a1 = np.maximum(forward(layers, x[:30])[0], 0.0).reshape(30, 4, 6, 6)
    pooled = a1.reshape(30, 4, 3, 2, 3, 2).mean(axis=(3, 5)).reshape(30, -1)
    z_pooled = np.stack([pooled[:, conv2.patch_pooled[p]] @ conv2.kernel_pooled.T for p in range(1)], axis=2)
    z_folded = (a1.reshape(30, -1) @ conv2.w.T + conv2.b)[:, :, None] - conv2.b.reshape(6, 1)[None]
    assert np.allclose(z_pooled, z_folded)


def test_position_tiles_respect_fan_in():
    # 5x5 kernel, stride 1, on 12x12: 4x4 output tiles read 8x8 = 64 inputs
    yy, xx = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    ky, kx = np.meshgrid(np.arange(5), np.arange(5), indexing="ij")
    patch = ((yy.reshape(-1, 1) + ky.reshape(1, -1)) * 12 + xx.reshape(-1, 1) + kx.reshape(1, -1))
    tiles = _position_tiles(patch, 64)
    assert sorted(np.concatenate(tiles).tolist()) == list(range(64))
    assert max(len(np.unique(patch[t])) for t in tiles) <= 64
    assert max(len(t) for t in tiles) == 16


@pytest.mark.parametrize("method", ["layerwise", "normalisation"])
def test_cnn_on_truenorth_cores_simulates_exactly(digits_cnn, method):
    layers, x, xt = digits_cnn
    cons = make_constraints("digital", SMALL_TN, ticks=8)
    net, rep = convert(layers, x[:150], cons, method=method, options=ConvertOptions(cd_passes=1))
    assert [s["kind"] for s in rep.stages] == ["conv", "pool", "partial", "combine", "dense"]
    dep = build_deployment(net, SMALL_TN)
    check(dep)
    spikes = regular_encode(xt[:16], 8)
    assert np.array_equal(simulate(dep, spikes, device=SIM_DEVICE).class_counts, net.class_counts(spikes))
    # the conversion still computes the task: agreement with the ANN well above chance
    ann = forward(layers, xt)[-1].argmax(1)
    pred = net.class_counts(regular_encode(xt, 8)).argmax(1)
    assert np.mean(pred == ann) >= 0.6
