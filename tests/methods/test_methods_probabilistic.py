"""Probabilistic (Esser 2015) layer: CLT forward pass, gradients, sampling into a deployment."""

from __future__ import annotations

import numpy as np
import torch

from helpers import SIM_DEVICE
from spikeforge.hardware import check
from spikeforge.methods.corenet import build_deployment, evaluate_binary_network, small_network
from spikeforge.methods.probabilistic.model import ProbabilisticCoreNet, clt_spike_probability
from spikeforge.sim import simulate_pipelined


def test_clt_matches_monte_carlo() -> None:
    g = torch.Generator().manual_seed(0)
    a, n, draws = 128, 16, 20000
    x = torch.rand((1, 1, 1, a), generator=g)
    c = torch.rand((1, 1, a, n), generator=g)
    s = torch.tensor([-2.0, -1.0, 1.0, 2.0])[torch.randint(0, 4, (1, a, n), generator=g)]
    b = torch.randint(-4, 5, (1, 1, n), generator=g).float()
    p = clt_spike_probability(x, c, s, b, correction=0.5, eps=0.1)[0, 0, 0]
    xin = (torch.rand((draws, a, 1), generator=g) < x[0, 0, 0][:, None]).float()
    w = (torch.rand((draws, a, n), generator=g) < c[0, 0]).float()
    u = (xin * w * s[0]).sum(1) + b[0, 0]
    mc = (u >= 0).float().mean(0)
    assert torch.max(torch.abs(p - mc)) < 0.04, (p, mc)


def test_gradcheck_float64() -> None:
    g = torch.Generator().manual_seed(1)
    a, n = 6, 3
    x = torch.rand((2, 1, 1, a), generator=g, dtype=torch.float64, requires_grad=True)
    c = torch.rand((1, 1, a, n), generator=g, dtype=torch.float64).mul(0.8).add(0.1).requires_grad_()
    s = torch.tensor([-2.0, -1.0, 1.0, 2.0], dtype=torch.float64)[torch.randint(0, 4, (1, a, n), generator=g)]
    b = torch.randn((1, 1, n), generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, c, b: clt_spike_probability(x, c, s, b), (x, c, b))


def test_model_gradients_reach_all_parameters_and_clip() -> None:
    spec = small_network()
    m = ProbabilisticCoreNet(spec, seed=0)
    x = torch.rand((4, 784), requires_grad=True)
    m(x).sum().backward()
    assert x.grad is not None and all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())
    with torch.no_grad():
        m.conn[0].add_(2.0)
        m.bias[1].sub_(1000.0)
    m.clip_()
    assert float(m.conn[0].detach().max()) <= 1.0 and float(m.bias[1].detach().min()) >= -255


def test_sampled_deployment_equals_numpy_network() -> None:
    spec = small_network()
    m = ProbabilisticCoreNet(spec, seed=2)
    with torch.no_grad():
        for b in m.bias:
            b.uniform_(-8, 4)
    copies = [m.sample(10), m.sample(11)]
    assert not np.array_equal(copies[0][0][0], copies[1][0][0])  # independent samples
    np.testing.assert_array_equal(m.sample(10)[0][0], copies[0][0][0])  # seeded
    dep = build_deployment(spec, copies)
    check(dep)
    x = (np.random.default_rng(0).random((50, 1, 784)) < 0.3).astype(np.uint8)
    got = simulate_pipelined(dep, x, lanes=50, device=SIM_DEVICE).class_counts
    np.testing.assert_array_equal(got, evaluate_binary_network(spec, copies[0], x)
                                  + evaluate_binary_network(spec, copies[1], x))


def test_dropout_deploys_leaks_scaled_by_one_over_keep() -> None:
    """Dropout p on layers ≥ 1: training inputs carry (1 − p) of the deployed drive on average, so the deployed
    leak is b / (1 − p) (layer 0 reads the undropped image: unchanged); the eval-mode model uses the same leaks
    and the training forward pass drops spikes."""
    spec = small_network()
    m = ProbabilisticCoreNet(spec, seed=2, dropout=0.5)
    with torch.no_grad():
        m.bias[0].fill_(-3.3)
        m.bias[1].fill_(-1.2)
    _, leaks = m.sample(4)
    assert set(np.unique(leaks[0])) == {-3} and set(np.unique(leaks[1])) == {-2}  # round(-1.2 / 0.5) = -2
    with torch.no_grad():
        m.bias[1].fill_(-200.0)
    assert set(np.unique(m.sample(4)[1][1])) == {-255}  # clipped to the chip's leak range
    with torch.no_grad():
        m.bias[0].fill_(0.0)
        m.bias[1].fill_(-1.2)
    x = torch.rand((8, 784))
    m.eval()
    plain = ProbabilisticCoreNet(spec, seed=2)
    with torch.no_grad():
        plain.load_state_dict(m.state_dict())
        plain.bias[1].copy_(m.deploy_bias(1))
        torch.testing.assert_close(m(x), plain.eval()(x))
    m.train()
    torch.manual_seed(0)
    _, outs = m(x, return_layers=True)
    with torch.no_grad():
        _, ref = plain.train()(x, return_layers=True)
    assert not torch.allclose(outs[1], ref[1])  # spikes were dropped in training
