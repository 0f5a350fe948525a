"""Choosing the code length T (ticks="auto"): the shortest candidate within the gap, else the most accurate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spikeforge.methods.layerwise.convert import convert, make_constraints
from spikeforge.methods.layerwise.ticks import choose_ticks, points


def _rule(search: list[dict[str, float]], max_gap: float) -> int:
    """The choice recomputed from the recorded search."""
    for r in search:
        if r["gap"] <= max_gap + 1e-9:
            return int(r["ticks"])
    return int(max(search, key=lambda r: (r["val_accuracy"], -r["ticks"]))["ticks"])


def test_choose_ticks_follows_its_rule(digits_mlp) -> None:
    layers, x, y, _, _ = digits_mlp
    cons = lambda t: make_constraints("digital", "truenorth", ticks=t)  # noqa: E731
    lines: list[str] = []
    # a generous gap: the first candidate is taken, nothing longer is converted
    c = choose_ticks(layers, x[:150], x[150:450], y[150:450], cons, convert, max_gap=1.0, candidates=(8, 2, 4),
                     log=lines.append)
    assert c.ticks == 2 and c.within_gap and [r["ticks"] for r in c.search] == [2]
    assert lines[0].startswith("T = 2: ") and c.net.ticks == 2
    # no gap allowed: every candidate is tried unless one matches the ANN exactly; the choice follows the rule
    c0 = choose_ticks(layers, x[:150], x[150:450], y[150:450], cons, convert, max_gap=0.0, candidates=(2, 4, 8))
    assert c0.ticks == _rule(c0.search, 0.0) and c0.net.ticks == c0.ticks
    assert [r["ticks"] for r in c0.search] == [2, 4, 8][: len(c0.search)]
    for r in c0.search:
        assert r["gap"] == pytest.approx(r["ann_val_accuracy"] - r["val_accuracy"])
    # the chosen network's score is the recorded one (tick model on the validation images)
    from spikeforge.data import regular_encode

    acc = float(np.mean(c0.net.class_counts(regular_encode(x[150:450], c0.ticks)).argmax(1) == y[150:450]))
    assert acc == next(r["val_accuracy"] for r in c0.search if r["ticks"] == c0.ticks)


@pytest.mark.parametrize(("kw", "message"), [({"candidates": ()}, "candidate code lengths"),
                                             ({"candidates": (0, 4)}, "candidate code lengths"),
                                             ({"max_gap": 2.0}, "max_gap must be a fraction")])
def test_choose_ticks_rejects_bad_settings(digits_mlp, kw, message) -> None:
    layers, x, y, _, _ = digits_mlp
    with pytest.raises(ValueError, match=message):
        choose_ticks(layers, x[:50], x[50:60], y[50:60], lambda t: make_constraints("analog", None, ticks=t),
                     convert, **kw)


def test_points() -> None:
    assert points(0.01) == "1 point" and points(0.005) == "0.5 points" and points(0.02) == "2 points"


def test_convert_api_auto_ticks(tmp_path) -> None:
    import torch

    from spikeforge.data import load_dataset
    from spikeforge.deploy import load
    from spikeforge.methods.layerwise.ann import build_model, train_model
    from spikeforge.methods.layerwise.api import convert as convert_api
    from spikeforge.methods.layerwise.api import save_model

    torch.set_num_threads(1)
    ds = load_dataset("digits")
    model = build_model("mlp:64-16-10", seed=0)
    train_model(model, ds.x_train.reshape(len(ds.x_train), -1) / 255.0, ds.y_train, epochs=15, lr=3e-3,
                image_shape=(64,), seed=0)
    path = save_model(model, "mlp:64-16-10", tmp_path / "ann.pt")
    res = convert_api(path, "digital", tmp_path / "o", chip="loihi-like", ticks="auto", dataset="digits",
                      n_calib=150, n_test=40, n_val=300, max_gap=0.02)
    assert res["ticks"] == _rule(res["ticks_search"], 0.02)
    assert res["ticks_rule"].startswith("shortest of [4, 8, 16, 32, 64] within 2 points of the ANN on 300")
    dep = load(tmp_path / "o" / "deployment.sfd")
    assert dep.ticks_per_input == res["ticks"] and dep.provenance["encoding"]["ticks"] == res["ticks"]
    assert json.loads((tmp_path / "o" / "results.json").read_text())["ticks_search"] == res["ticks_search"]
    with pytest.raises(ValueError, match="ticks must be an integer >= 1 or 'auto'"):
        convert_api(path, "digital", tmp_path / "p", ticks="short", dataset="digits")  # type: ignore[arg-type]


def test_a_gap_of_exactly_max_gap_is_within_it(digits_mlp) -> None:
    """ANN 936 / 1 000 right, SNN 926: 0.936 − 0.926 is 0.010000000000000009 in floating point, and 10 of
    1 000 images must still count as within 1 point."""
    from spikeforge.methods.layerwise.ann import forward
    from spikeforge.methods.layerwise.constraints import ConvertReport

    layers, x, _, _, _ = digits_mlp
    xv = np.repeat(x[:10], 100, axis=0)
    ann_pred = forward(layers, xv)[-1].argmax(1)
    yv = np.where(np.arange(1000) < 936, ann_pred, (ann_pred + 1) % 10)  # the ANN: 936 right
    snn_pred = np.where(np.arange(1000) < 926, ann_pred, (ann_pred + 2) % 10)  # the SNN: 926 right

    class Net:
        ticks = 4

        def class_counts(self, spikes: np.ndarray) -> np.ndarray:
            return np.eye(10)[snn_pred]

    c = choose_ticks(layers, x[:10], xv, yv, lambda t: make_constraints("analog", None, ticks=t),
                     lambda *a, **k: (Net(), ConvertReport()), max_gap=0.01, candidates=(4, 8))
    assert c.search[0]["gap"] > 0.01  # the floating-point difference itself
    assert c.ticks == 4 and c.within_gap and len(c.search) == 1
