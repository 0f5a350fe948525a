"""memory_report on a Deployment and on tensors; the published data readers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spikeforge.deploy.deployment import Deployment
from spikeforge.energy.memory import (
    load_energy_results,
    load_frontier,
    load_pf_res,
    memory_report,
    memory_report_tensors,
    published_conv_reduction,
)


def test_memory_report_deployment() -> None:
    d = Deployment.empty("truenorth", 2, 10, 10)
    rng = np.random.default_rng(0)
    d.crossbar[:] = rng.random(d.crossbar.shape) < 0.2
    rep = memory_report(d)
    assert len(rep.layers) == 2
    assert {r.encoding for r in rep.layers[0].results} == {"Crossbar", "PB-BMP", "PB-CSR"}
    assert rep.layers[0].results[0].footprint_bits == 256 * 256  # 1-bit crossbar
    assert rep.cheapest() in {"Crossbar", "PB-BMP", "PB-CSR"}
    rows = rep.to_rows()
    assert sum(r["layer"] == "TOTAL" for r in rows) == 3
    json.dumps(rep.to_dict())
    with pytest.raises(TypeError, match=r"takes a Deployment, not the path 'x\.sfd': pass spikeforge\.load"):
        memory_report("x.sfd")


def test_memory_report_names_the_known_cheapest_encoding() -> None:
    # a full 1-bit crossbar: the dense array is the smallest and the cheapest to run (a bitmap adds the
    # values, an index the column of every synapse); one synapse on the core: the index-based layout wins
    full = Deployment.empty("truenorth", 1, 10, 10)
    full.crossbar[:] = 1
    one = Deployment.empty("truenorth", 1, 10, 10)
    one.crossbar[0, 3, 5] = 1
    for dep, want in ((full, "Crossbar"), (one, "PB-CSR")):
        rep = memory_report(dep)
        assert [rep.cheapest(c) for c in ("footprint", "training", "inference")] == [want] * 3
    assert memory_report(one).layers[0].results[0].footprint_bits == 256 * 256  # the crossbar does not shrink


def test_memory_report_tensors() -> None:
    rep = memory_report_tensors({"fc.weight": torch.randn(8, 12), "conv.weight": torch.randn(3, 1, 3, 3),
                                 "fc.bias": torch.randn(8)}, bits=4, conv_input_hw=(6, 6))
    assert [layer.kind for layer in rep.layers] == ["fc", "conv"]
    assert rep.layers[0].shape == (12, 8)
    assert rep.layers[1].cheapest() in {"PB-BMP", "PB-CSR", "Func-RowCol", "Func-BMP", "Func-Pure"}
    json.dumps(rep.to_dict())


def test_published_readers() -> None:
    er, fr = load_energy_results(), load_frontier()
    assert len(er) == 214 and len(fr) == 66
    assert abs(published_conv_reduction(load_pf_res()) - 0.577) < 0.005
    assert abs(published_conv_reduction(er) - 0.420) < 0.005
