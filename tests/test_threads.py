"""spikeforge.threads: a training function's thread count does not leak into the rest of the process."""

import numpy as np
import pytest
import torch

from spikeforge.benchmarking import benchmark_threads
from spikeforge.threads import torch_threads


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield before
    torch.set_num_threads(before)


def test_block_runs_with_n_threads_and_restores(restore_threads):
    torch.set_num_threads(2)
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_restored_after_an_error(restore_threads):
    torch.set_num_threads(2)
    with pytest.raises(RuntimeError, match="boom"), torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2


def test_none_leaves_the_count(restore_threads):
    torch.set_num_threads(2)
    with torch_threads(None):
        assert torch.get_num_threads() == 2


@pytest.mark.parametrize("bad", [0.5, -1, True])
def test_bad_counts_refused(bad, restore_threads):
    with pytest.raises(ValueError, match="threads must be an integer"), torch_threads(bad):
        pass


def test_corenet_training_restores_the_process_count(restore_threads):
    from spikeforge.methods.corenet.experiment import make_model
    from spikeforge.methods.corenet.topology import small_network
    from spikeforge.methods.corenet.train import TrainConfig, train

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 784)).astype(np.float32), rng.integers(0, 10, 40)
    model = make_model("probabilistic", small_network(), 1, {}, 0)
    train(model, x, y, TrainConfig(epochs=1, batch_size=20, threads=1), log=lambda *a: None)
    assert torch.get_num_threads() == 2


def test_benchmark_threads(monkeypatch):
    monkeypatch.setenv("SPIKEFORGE_THREADS", "3")
    assert benchmark_threads() == 3
    monkeypatch.setenv("SPIKEFORGE_THREADS", "zero")
    with pytest.raises(ValueError, match="SPIKEFORGE_THREADS"):
        benchmark_threads()
    monkeypatch.delenv("SPIKEFORGE_THREADS")
    assert benchmark_threads() >= 1
