"""Models handed to the conversion: every module converted or refused by name (never skipped), non-finite
weights and state dicts that do not fit their architecture named with the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from spikeforge.methods.layerwise.ann import build_model, extract_layers
from spikeforge.methods.layerwise.api import load_model, save_model, save_network


@pytest.mark.parametrize(("module", "message"), [
    (nn.BatchNorm1d(8), r"module 2 \(BatchNorm1d\) is not supported"),
    (nn.Sigmoid(), r"module 2 \(Sigmoid\) is not supported"),
    (nn.Tanh(), r"module 2 \(Tanh\) is not supported"),
])
def test_unsupported_modules_are_refused_by_name(module: nn.Module, message: str) -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), module, nn.Linear(8, 4))
    with pytest.raises(ValueError, match=message):
        extract_layers(model, (16,))


def test_convolution_options_the_conversion_cannot_express_are_named() -> None:
    for conv, what in ((nn.Conv2d(1, 2, 3, dilation=2), "dilation"), (nn.Conv2d(2, 2, 3, groups=2), "groups"),
                       (nn.Conv2d(1, 2, 3, stride=(1, 2)), "stride"),
                       (nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"), "padding_mode")):
        with pytest.raises(ValueError, match=rf"module 0 \(Conv2d\): {what}="):
            extract_layers(nn.Sequential(conv), (conv.in_channels, 8, 8))
    with pytest.raises(ValueError, match=r"\(MaxPool2d\) is not supported"):
        extract_layers(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2)), (1, 8, 8))
    with pytest.raises(ValueError, match=r"\(AvgPool2d\): kernel_size=2, stride=1"):
        extract_layers(nn.Sequential(nn.Conv2d(1, 2, 3), nn.AvgPool2d(2, stride=1), nn.Flatten(),
                                     nn.Linear(50, 2)), (1, 8, 8))
    # Dropout and Identity are the identity in evaluation: converted as absent, the result unchanged
    plain = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4))
    padded = nn.Sequential(nn.Flatten(), plain[1], nn.Dropout(0.5), nn.ReLU(), nn.Identity(), plain[3])
    a, b = extract_layers(plain, (16,)), extract_layers(padded, (16,))
    assert [(la.w.tolist(), la.relu) for la in a] == [(la.w.tolist(), la.relu) for la in b]


def test_non_finite_weights_are_named() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4))
    last = model[3]
    assert isinstance(last, nn.Linear)
    with torch.no_grad():
        last.weight[0, :3] = float("nan")
        last.bias[1] = float("inf")
    with pytest.raises(ValueError, match=r"module 3 \(Linear\): weight holds 3 NaN or infinite value\(s\)"):
        extract_layers(model, (16,))


def test_model_files_that_do_not_fit_their_architecture(tmp_path: Path) -> None:
    good = save_model(build_model("mlp:16-8-4"), "mlp:16-8-4", tmp_path / "good.pt")
    assert isinstance(load_model(good), nn.Sequential)
    cases = {
        "missing.pt": ({"arch": "mlp:16-8-4"}, "'state_dict' is missing"),
        "empty.pt": ({"arch": "mlp:16-8-4", "state_dict": {}}, "state_dict does not fit arch 'mlp:16-8-4'"),
        "shape.pt": ({"arch": "mlp:16-8-4", "state_dict": build_model("mlp:16-9-4").state_dict()},
                     "state_dict does not fit arch 'mlp:16-8-4'.*size mismatch"),
        "arch.pt": ({"arch": "mlp:abc", "state_dict": {}}, "architecture 'mlp:abc': an MLP is 'mlp:' and two"),
        "unknown.pt": ({"arch": "resnet", "state_dict": {}}, "unknown architecture 'resnet'"),
    }
    for name, (obj, message) in cases.items():
        torch.save(obj, tmp_path / name)
        with pytest.raises(ValueError, match=rf"{name}: .*{message}"):
            load_model(tmp_path / name)


def test_save_network_leaves_no_partial_file(tmp_path: Path) -> None:
    from spikeforge.methods.layerwise.network import SpikingNet

    net = SpikingNet(stages=[], n_inputs=4, n_classes=2, ticks=8, integer=False, neg_threshold=float("inf"),
                     output_class=np.arange(2))
    save_network(net, tmp_path / "network.npz")
    with np.load(tmp_path / "network.npz") as z:
        assert int(z["ticks"]) == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["network.npz"]
