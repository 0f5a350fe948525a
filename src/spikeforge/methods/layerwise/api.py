"""Python entry points: convert a saved PyTorch model (``spikeforge convert``) and run the whole flow.

:func:`convert` loads ``MODEL.pt``, converts it layer by layer under the chosen constraint set with
calibration images of a dataset, writes the result into ``out`` and evaluates it on the test split:

* digital: ``deployment.sfd`` (design-rule checked) and its simulator accuracy;
* analog / hybrid (no integer chip runs them): ``network.npz`` (effective weights, thresholds, V0 per
  stage) and the floating-point tick model's accuracy;
* always ``results.json`` with ANN accuracy, SNN accuracy, agreement with the ANN and solve time.

A model file is either ``torch.save({"arch": "mlp" | "mlp-wide" | "lenet" | "mlp:784-300-10",
"state_dict": ...})`` (what :func:`save_model` writes) or a whole pickled ``nn.Sequential``
(``allow_pickle=True``; only for files you trust).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from spikeforge.data import load_dataset
from spikeforge.data.encode import regular_encode
from spikeforge.deploy import save
from spikeforge.fileio import torch_save_atomic, write_json_atomic
from spikeforge.hardware import check
from spikeforge.methods.layerwise.ann import build_model, extract_layers, forward
from spikeforge.methods.layerwise.convert import ConvertOptions, make_constraints
from spikeforge.methods.layerwise.convert import convert as convert_layers
from spikeforge.methods.layerwise.deploy import build_deployment
from spikeforge.methods.layerwise.network import SpikingNet
from spikeforge.methods.layerwise.ticks import CANDIDATE_TICKS, choose_ticks, points
from spikeforge.progress import enabled as progress_enabled


def save_model(model: nn.Module, arch: str, path: str | Path) -> Path:
    """Write ``{"arch", "state_dict"}`` (loadable without pickle)."""
    p = Path(path)
    torch_save_atomic({"arch": arch, "state_dict": model.state_dict()}, p)
    return p


def read_torch_file(path: str | Path, *, allow_pickle: bool = False) -> Any:
    """``torch.load`` on the CPU, with errors that name the file: :class:`FileNotFoundError` if it is
    missing, :class:`ValueError` if it is not a PyTorch file or (without ``allow_pickle``) needs pickled
    code to load."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(2, "no such file", str(p))
    import zipfile

    if not zipfile.is_zipfile(p):
        with p.open("rb") as f:
            head = f.read(1)
        if head != b"\x80":  # neither torch.save's zip archive nor a legacy (pickle protocol 2+) file
            raise ValueError(f"{p}: not a PyTorch file (torch.save writes a zip archive; this is "
                             f"{'empty' if not head else 'something else'})")
    try:
        return torch.load(p, map_location="cpu", weights_only=not allow_pickle)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, KeyError... for foreign files
        first = (str(e).strip().splitlines() or [""])[0][:200]
        if not allow_pickle and "Unsupported global" in str(e):
            raise ValueError(f"{p}: holds pickled code (e.g. a whole module); load it with allow_pickle / "
                             f"--allow-pickle only if you trust the file") from None
        raise ValueError(f"{p}: not a readable PyTorch file: {type(e).__name__}: {first}") from None


def load_model(path: str | Path, *, allow_pickle: bool = False) -> nn.Sequential:
    """Load a model written by :func:`save_model` (or, with ``allow_pickle``, a pickled ``nn.Sequential``)."""
    obj = read_torch_file(path, allow_pickle=allow_pickle)
    if isinstance(obj, dict) and "arch" in obj:
        if not isinstance(obj.get("state_dict"), dict):
            raise ValueError(f"{path}: a saved model holds 'arch' and 'state_dict'; 'state_dict' is missing")
        try:
            model = build_model(str(obj["arch"]))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        try:
            model.load_state_dict(obj["state_dict"])
        except RuntimeError as e:
            detail = " ".join(str(e).split())[:400]
            raise ValueError(f"{path}: state_dict does not fit arch {obj['arch']!r}: {detail}") from None
    elif isinstance(obj, nn.Sequential):
        model = obj
    else:
        raise ValueError(f"{path}: expected {{'arch', 'state_dict'}} or an nn.Sequential, got {type(obj).__name__}")
    model.eval()
    return model


def save_network(net: SpikingNet, path: Path) -> None:
    """Effective weights, thresholds and initial potentials of every stage (npz)."""
    arrays: dict[str, np.ndarray] = {"ticks": np.array(net.ticks), "output_class": net.classes_of_outputs()}
    for k, st in enumerate(net.stages):
        arrays[f"stage{k}_weight"] = st.dense_weight()
        arrays[f"stage{k}_threshold"] = st.threshold
        arrays[f"stage{k}_v_init"] = st.v_init
    from spikeforge.fileio import atomic_output

    with atomic_output(path) as tmp, open(tmp, "wb") as f:  # never a half-written file
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]


def convert(
    model_path: str | Path,
    constraints: str = "digital",
    out: str | Path = "layerwise-out",
    chip: str = "truenorth",
    ticks: int | str = 32,
    *,
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    n_calib: int = 2000,
    n_test: int = 2000,
    keep: float = 1.0,
    method: str = "layerwise",
    workers: int = 1,
    allow_pickle: bool = False,
    model: nn.Sequential | None = None,
    log: Any = None,
    max_gap: float = 0.01,
    n_val: int = 1000,
) -> dict[str, Any]:
    """``spikeforge convert MODEL.pt --constraints digital|analog|hybrid --chip truenorth|loihi-like
    --ticks T|auto --dataset mnist --calib N --test N --keep F --method layerwise|normalisation --workers W
    --out DIR``: convert, write, evaluate (see module docstring). Returns the results dict.

    Args:
        model_path: a file written by :func:`save_model` (or a pickled ``nn.Sequential`` with ``allow_pickle``);
            only named in messages when ``model`` is given.
        constraints: ``"digital"`` (integer weights of ``chip``; a checked ``deployment.sfd`` is written and
            simulated), ``"analog"`` (bounded real weights) or ``"hybrid"`` (real magnitudes on a few levels);
            the last two are evaluated on the tick model.
        out: folder for ``results.json`` (+ ``deployment.sfd`` or ``network.npz``).
        chip: preset name or chip file for ``"digital"``.
        ticks: the rate-coding window T, or ``"auto"`` (see below).
        dataset, data_dir: calibration and test data (a name or a ``.npz`` file; see :func:`load_dataset`).
        n_calib: training images drawn (seed 0) as calibration data (at most the training set).
        n_test: the first test images evaluated (at most the test set).
        keep: fraction of every hidden layer's neurons kept (node pruning).
        method: ``"layerwise"`` (the solves) or ``"normalisation"`` (the data-based weight-normalisation
            baseline, rounded onto the same constraints).
        workers: processes for the per-neuron LPs.
        model: an ``nn.Sequential`` to convert instead of reading ``model_path``.
        log: called with one progress line at a time (``None``: silent).
        max_gap: with ``ticks="auto"``, the accuracy gap to the ANN allowed (a fraction).
        n_val: with ``ticks="auto"``, held-out training images the gap is measured on.

    ``ticks="auto"`` picks the shortest code of :data:`~spikeforge.methods.layerwise.ticks.CANDIDATE_TICKS`
    whose network is within ``max_gap`` (a fraction) of the ANN on ``n_val`` training images that are not
    calibration images (:func:`~spikeforge.methods.layerwise.ticks.choose_ticks`); the results record the
    search (``ticks_search``)."""
    torch.set_num_threads(1)
    auto = ticks == "auto"
    if not auto and (isinstance(ticks, bool) or not isinstance(ticks, int)):
        raise ValueError(f"ticks must be an integer >= 1 or 'auto', got {ticks!r}")
    t_check = 1 if auto else int(ticks)
    for name, value, ok, want in (("ticks", ticks, t_check >= 1, ">= 1"),
                                  ("max_gap", max_gap, 0.0 <= max_gap <= 1.0, "a fraction in [0, 1]"),
                                  ("n_val", n_val, n_val >= 1, ">= 1"),
                                  ("n_calib (--calib)", n_calib, n_calib >= 1, ">= 1"),
                                  ("n_test (--test)", n_test, n_test >= 1, ">= 1"),
                                  ("keep", keep, 0.0 < keep <= 1.0, "a fraction in (0, 1]"),
                                  ("workers", workers, workers >= 1, ">= 1")):
        if not ok:
            raise ValueError(f"{name} must be {want}, got {value}")
    if Path(out).exists() and not Path(out).is_dir():  # before any work: the results go into a folder
        raise ValueError(f"out (--out) {out} is a file; name a folder for the conversion's results")
    if method not in ("layerwise", "normalisation"):
        raise ValueError(f"method must be 'layerwise' or 'normalisation', got {method!r}")
    mdl = model if model is not None else load_model(model_path, allow_pickle=allow_pickle)
    ds = load_dataset(dataset, data_dir)
    shape = (1, *ds.image_shape)
    try:
        with torch.no_grad():
            mdl(torch.zeros((1, *shape)))
    except RuntimeError as e:
        raise ValueError(f"{model_path}: the model does not accept {dataset} images (shape {shape}): "
                         f"{(str(e).splitlines() or [''])[0]}") from None
    try:
        layers = extract_layers(mdl, shape)
    except ValueError as e:
        raise ValueError(f"{model_path}: {e}") from None
    out_dir = Path(out)
    x_tr = ds.x_train.reshape(len(ds.x_train), -1) / 255.0
    rng = np.random.default_rng(0)
    calib_idx = rng.choice(len(x_tr), min(n_calib, len(x_tr)), replace=False)
    calib = x_tr[calib_idx]
    x_te = ds.x_test[:n_test].reshape(-1, x_tr.shape[1]) / 255.0
    y_te = np.asarray(ds.y_test[:n_test])
    say = log or (lambda s: None)
    opts = ConvertOptions(keep=keep, workers=workers)
    integer = constraints == "digital"
    what = f"{len(layers)} layers ({method}, {constraints}{' ' + chip if integer else ''}"
    t0 = time.perf_counter()
    search: dict[str, Any] = {}
    if auto:
        rest = np.setdiff1d(np.arange(len(x_tr)), calib_idx)
        if len(rest) == 0:
            raise ValueError(f"ticks='auto' needs training images beyond the calibration images: {ds.name} has "
                             f"{len(x_tr)} training images and --calib takes {len(calib_idx)} of them (n_calib = "
                             f"{n_calib}); lower --calib")
        val_idx = np.random.default_rng(1).choice(rest, min(n_val, len(rest)), replace=False)
        say(f"choosing T for {what}): shortest of {list(CANDIDATE_TICKS)} within {points(max_gap)} of "
            f"the ANN on {len(val_idx)} held-out training images")
        choice = choose_ticks(layers, calib, x_tr[val_idx], np.asarray(ds.y_train)[val_idx],
                              lambda t: make_constraints(constraints, chip, ticks=t), convert_layers,
                              method=method, options=opts, max_gap=max_gap, log=say)  # type: ignore[arg-type]
        ticks, net, rep = choice.ticks, choice.net, choice.report
        search = {"ticks_search": choice.search, "ticks_within_gap": choice.within_gap,
                  "ticks_rule": f"shortest of {list(CANDIDATE_TICKS)} within {points(max_gap)} of the ANN "
                                f"on {len(val_idx)} held-out training images"}
        cons = make_constraints(constraints, chip, ticks=ticks)
    else:
        ticks = int(ticks)
        cons = make_constraints(constraints, chip, ticks=ticks)
        say(f"converting {what}, T = {ticks}) on {len(calib)} calibration images")
        net, rep = convert_layers(layers, calib, cons, method=method, options=opts, log=say)  # type: ignore[arg-type]
    solve_s = time.perf_counter() - t0
    out_dir.mkdir(parents=True, exist_ok=True)  # only now: a refused or failed conversion writes nothing
    ann_pred = forward(layers, x_te)[-1].argmax(1)
    spikes = regular_encode(x_te, ticks)
    res: dict[str, Any] = {"model": str(model_path), "constraints": constraints, "chip": cons.chip.name if cons.chip
                           else None, "method": method, "ticks": ticks, "dataset": ds.name, "n_calib": len(calib),
                           "n_test": len(y_te), "kept_fraction": keep, "hidden_units": [len(k) for k in rep.kept[:-1]],
                           "ann_accuracy": float(np.mean(ann_pred == y_te)), "solve_s": round(solve_s, 2),
                           "stages": rep.stages, **search}
    if cons.integer:
        from spikeforge.evaluate import run_simulation, summarise_run

        dep = build_deployment(net, cons.chip, input_shape=tuple(ds.image_shape),  # type: ignore[arg-type]
                               provenance={"method": "layerwise", "constraints": constraints, "dataset": ds.name,
                                           "model": str(model_path)})
        check(dep)
        save(dep, out_dir / "deployment.sfd")
        say(f"simulating the deployment ({dep.n_cores} cores) on {len(y_te)} test images")
        # sequential regime: biases live in V0, which the chip restores per input (see docs)
        result, used = run_simulation(dep, spikes, regime="sequential", progress=progress_enabled())
        ev = summarise_run(dep, result, used, y_te, name=ds.name)
        pred = result.predictions()
        res.update(ev)
        res["snn_accuracy"] = ev["accuracy"]
        res["agreement"] = float(np.mean(pred == ann_pred))
        res["deployment"] = str(out_dir / "deployment.sfd")
    else:
        pred = net.class_counts(spikes).argmax(1)
        save_network(net, out_dir / "network.npz")
        res["snn_accuracy"] = float(np.mean(pred == y_te))
        res["agreement"] = float(np.mean(pred == ann_pred))
        res["evaluator"] = "tick-model"
    write_json_atomic(out_dir / "results.json", res)
    return res
