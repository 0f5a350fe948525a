"""The trainers' ``device`` setting: validated up front; on a CUDA GPU (skipped without one) training runs
there, hands the model back on the CPU, stays close to CPU training, and resumes a GPU checkpoint on the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from spikeforge.methods.binary.model import BinaryCoreNet
from spikeforge.methods.corenet import build_deployment, small_network
from spikeforge.methods.corenet.checkpoints import _cache_key
from spikeforge.methods.corenet.train import TrainConfig, train
from spikeforge.methods.eedn import EednNet, train_eedn
from spikeforge.methods.eedn import TrainConfig as EednConfig
from spikeforge.methods.probabilistic.model import ProbabilisticCoreNet

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
LAYERS = [{"kind": "conv", "out": 8, "kernel": 3, "padding": 1}, {"kind": "conv", "out": 20, "kernel": 2}]


@pytest.mark.parametrize("config", [TrainConfig, EednConfig])
@pytest.mark.parametrize(("device", "message"), [("gpu", "unknown device 'gpu'"), ("meta", "unsupported device"),
                                                 (3, "device must be a string")])
def test_bad_device_is_refused_with_the_setting_named(config: type, device: object, message: str) -> None:
    with pytest.raises(ValueError, match=rf"\[train\] .*{message}"):
        config(device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_gpu_this_machine_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match="'cuda' is not available"):
        TrainConfig(device="cuda")


def test_cpu_models_keep_their_cache_key_and_a_gpu_model_gets_its_own() -> None:
    spec = small_network()
    cpu = _cache_key("probabilistic", spec, 1, {}, TrainConfig())
    assert "device" not in cpu["train"]  # caches written before the setting existed stay valid
    assert _cache_key("probabilistic", spec, 1, {}, TrainConfig(device="auto"))["train"]["device"] == "auto"


def _data(n: int = 80) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, 784)).astype(np.float32), rng.integers(0, 10, n)


@cuda
@pytest.mark.parametrize("model_cls", [ProbabilisticCoreNet, BinaryCoreNet])
def test_corenet_trains_on_cuda_close_to_cpu(model_cls: type, tmp_path: Path) -> None:
    x, y = _data()
    cfg = dict(epochs=2, batch_size=20, seed=5, log_every_epoch=False, max_shift=1, train_input="bernoulli")
    a, b = model_cls(small_network(), seed=1), model_cls(small_network(), seed=1)
    ha = train(a, x, y, TrainConfig(**cfg))
    hb = train(b, x, y, TrainConfig(**cfg, device="cuda"), checkpoint=tmp_path / "ck.pt")
    assert all(p.device.type == "cpu" for p in b.parameters())  # handed back on the CPU
    # the same batches, only rounding differs (a binarised shadow at the 0.5 border may flip and move a few more)
    pairs = zip(a.parameters(), b.parameters(), strict=True)
    diff = torch.cat([(pa - pb).detach().abs().flatten() for pa, pb in pairs])
    assert float((diff > 1e-3).float().mean()) < 0.01 and float(diff.median()) < 1e-5
    assert abs(ha["history"][-1]["loss"] - hb["history"][-1]["loss"]) < 1e-3
    # a GPU checkpoint resumes on the CPU (one more epoch)
    c = model_cls(small_network(), seed=1)
    hist = train(c, x, y, TrainConfig(**{**cfg, "epochs": 3}), checkpoint=tmp_path / "ck.pt", log=lambda *_: None)
    assert len(hist["history"]) == 3 and all(p.device.type == "cpu" for p in c.parameters())
    copy = c.sample(0) if isinstance(c, ProbabilisticCoreNet) else c.binarised(0)
    assert build_deployment(small_network(), [copy]).n_cores == 5


@cuda
def test_eedn_trains_on_cuda_close_to_cpu() -> None:
    rng = np.random.default_rng(0)
    x, y = (rng.random((128, 1, 8, 8)) < 0.3).astype(np.float32), rng.integers(0, 10, 128)
    cfg = dict(epochs=2, batch_size=32, lr=0.05, seed=0, shift_augment=1, bn_recalibration_batches=2)
    a, b = EednNet((1, 8, 8), LAYERS, 10), EednNet((1, 8, 8), LAYERS, 10)
    b.load_state_dict(a.state_dict())
    la = train_eedn(a, x, y, EednConfig(**cfg))
    lb = train_eedn(b, x, y, EednConfig(**cfg, device="cuda"))
    assert all(t.device.type == "cpu" for t in b.state_dict().values())
    assert abs(la.epochs[-1]["loss"] - lb.epochs[-1]["loss"]) < 1e-2
    qa, qb = [m.q for m in a.trinary_layers()], [m.q for m in b.trinary_layers()]
    flips = sum(int((pa != pb).sum()) for pa, pb in zip(qa, qb, strict=True))
    total = sum(p.numel() for p in qa)
    assert flips <= 0.02 * total  # trinary weights: at most a few rounding-borderline flips
