"""Binary-crossbar (Jimeno Yepes & Tang 2016) layer: straight-through estimators, deployment equivalence."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from helpers import SIM_DEVICE
from spikeforge.hardware import check
from spikeforge.methods.binary.model import BinaryCoreNet, binarise, hard_threshold_ste
from spikeforge.methods.corenet import build_deployment, small_network
from spikeforge.methods.corenet.train import TrainConfig, train
from spikeforge.sim import simulate


def test_binarise_forward_threshold_and_identity_gradient() -> None:
    h = torch.tensor([0.0, 0.3, 0.5, 0.50001, 0.9, 1.0], requires_grad=True)
    w = binarise(h)
    assert w.tolist() == [0, 0, 0, 1, 1, 1]
    g = torch.arange(6.0)
    w.backward(g)
    torch.testing.assert_close(h.grad, g)  # straight through


def test_hard_threshold_ste() -> None:
    v = torch.tensor([-3.0, -1.0, -0.5, 0.0, 2.0], requires_grad=True)
    y = hard_threshold_ste(v, 4.0)
    assert y.tolist() == [0, 0, 0, 1, 1]
    y.sum().backward()
    s = torch.sigmoid(4.0 * (v.detach() + 0.5))
    torch.testing.assert_close(v.grad, 4.0 * s * (1 - s))


@given(st.lists(st.floats(-40.0, 40.0, width=32), min_size=1, max_size=64), st.floats(0.1, 50.0))
def test_hard_threshold_ste_forward_is_exactly_0_or_1(vals: list[float], slope: float) -> None:
    v = torch.tensor(vals, dtype=torch.float32)
    torch.testing.assert_close(hard_threshold_ste(v, slope), (v >= 0).float(), rtol=0.0, atol=0.0)


def test_shadow_clipped_and_slope_annealed() -> None:
    m = BinaryCoreNet(small_network(), slope_start=0.5, slope_end=8.0)
    m.on_epoch(0, 5)
    assert m.slope == 0.5
    m.on_epoch(4, 5)
    assert abs(m.slope - 8.0) < 1e-9
    with torch.no_grad():
        m.conn[0].mul_(3).sub_(1)
    m.clip_()
    assert 0.0 <= float(m.conn[0].detach().min()) and float(m.conn[0].detach().max()) <= 1.0


def test_trained_deployment_equals_binarised_model_spike_for_spike() -> None:
    spec = small_network()
    rng = np.random.default_rng(0)
    x = (rng.random((120, 784)) < 0.3).astype(np.float32)
    y = rng.integers(0, 10, 120)
    for surrogate in ("sigmoid", "hard-ste"):
        m = BinaryCoreNet(spec, 2, surrogate=surrogate, seed=3)
        train(m, x, y, TrainConfig(epochs=2, batch_size=40, lr=0.01, log_every_epoch=False, train_input="threshold"))
        m.eval()
        with torch.no_grad():
            scores, layers = m(torch.from_numpy(x[:40]), return_layers=True)
        dep = build_deployment(spec, [m.binarised(0), m.binarised(1)])
        check(dep)
        spikes = x[:40, None, :].astype(np.uint8)
        r = simulate(dep, spikes, record_spikes=True, device=SIM_DEVICE)
        raster = r.spikes  # (ticks, C, N, B)
        for k in range(2):
            base = 5 * k
            l0 = raster[0, base : base + 4, :64, :].transpose(2, 0, 1).reshape(40, -1)
            np.testing.assert_array_equal(l0, layers[0][:, k].numpy())
            np.testing.assert_array_equal(raster[1, base + 4, :250, :].T, layers[1][:, k].numpy())
        np.testing.assert_array_equal(
            raster[1, [4, 9], :250, :].sum(0).T @ np.eye(10)[spec.output_classes], scores.sum(1).numpy()
        )


def test_warm_start_binarises_to_the_given_networks() -> None:
    import pytest

    from spikeforge.methods.probabilistic.model import ProbabilisticCoreNet

    spec = small_network()
    prob = ProbabilisticCoreNet(spec, 1, seed=3)
    nets = [prob.sample(11), prob.sample(12)]
    model = BinaryCoreNet(spec, 2, seed=0)
    model.warm_start_(nets, margin=0.1)
    for k, (xbars, leaks) in enumerate(nets):
        got_x, got_l = model.binarised(k)
        for li in range(len(spec.layers)):
            np.testing.assert_array_equal(got_x[li], xbars[li])
            np.testing.assert_array_equal(got_l[li], leaks[li])
        np.testing.assert_allclose(np.unique(model.conn[0][k].detach().numpy()), [0.4, 0.6], rtol=1e-6)
    with pytest.raises(ValueError, match="needs 2 networks"):
        model.warm_start_(nets[:1])


def test_dropout_warm_start_round_trip_and_deployed_leaks() -> None:
    """With dropout p the deployed leak of layers ≥ 1 is b / (1 − p); a warm start stores b = leak · (1 − p),
    so the binarised network is the given one again, and eval mode computes the deployed network."""
    from spikeforge.methods.corenet import evaluate_binary_network
    from spikeforge.methods.probabilistic.model import ProbabilisticCoreNet

    spec = small_network()
    nets = [ProbabilisticCoreNet(spec, 1, seed=3).sample(11)]
    model = BinaryCoreNet(spec, 1, seed=0, dropout=0.25)
    model.warm_start_(nets, margin=0.1)
    got_x, got_l = model.binarised(0)
    for li in range(len(spec.layers)):
        np.testing.assert_array_equal(got_x[li], nets[0][0][li])
        np.testing.assert_array_equal(got_l[li], nets[0][1][li])
    x = (np.random.default_rng(1).random((30, 784)) < 0.3).astype(np.float32)
    model.eval()
    with torch.no_grad():
        scores = model(torch.from_numpy(x))[:, 0].numpy()
    np.testing.assert_array_equal(scores, evaluate_binary_network(spec, nets[0], x[:, None, :].astype(np.uint8)))
