"""Shared fixtures: a tiny MLP trained on scikit-learn's 8x8 digits (seconds, one CPU thread)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikeforge.data import load_dataset
from spikeforge.methods.layerwise.ann import build_model, extract_layers, train_model


@pytest.fixture(scope="session")
def digits_mlp():
    torch.set_num_threads(1)
    ds = load_dataset("digits")
    x = ds.x_train.reshape(len(ds.x_train), -1) / 255.0
    xt = ds.x_test.reshape(len(ds.x_test), -1) / 255.0
    model = build_model("mlp:64-24-12-10")
    train_model(model, x, ds.y_train, epochs=30, image_shape=(64,), lr=3e-3)
    return extract_layers(model, (64,)), x, ds.y_train, xt[:60], np.asarray(ds.y_test[:60])
