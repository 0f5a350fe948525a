"""Values a deployment, a neuron or a chip cannot hold are refused, naming the field — never truncated,
wrapped or cast on the way to disk."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import tiny_chip
from spikeforge.deploy import Deployment, DeploymentError, load, save
from spikeforge.deploy.io import DeploymentFileError
from spikeforge.deploy.neuron import NeuronParams
from spikeforge.hardware import ChipSpec, CoreSpec


def net() -> Deployment:
    d = Deployment.empty(tiny_chip(4, 4), 1, 4, 2)
    d.crossbar[0] = np.eye(4, dtype=np.int16)
    d.set_neurons(0, slice(0, 4), NeuronParams.integrate_and_fire((1,), threshold=1))
    d.input_channel, d.input_core, d.input_axon = np.arange(4), np.zeros(4, int), np.arange(4)
    d.output_core, d.output_neuron, d.output_class = np.zeros(4, int), np.arange(4), np.arange(4) % 2
    return d


@pytest.mark.parametrize(("field", "dtype", "value", "message"), [
    ("weights", np.float64, 1.7, "weights: dtype float64 is not of kind int32"),
    ("weights", np.int64, 2**32 + 1, r"weights: values in \[0, 4294967297\] do not fit its stored type int32"),
    ("leak", np.int64, 2**32, "leak: values in"),
    ("dest_delay", np.int64, 2**32 + 1, "dest_delay: values in"),
    ("input_axon", np.int64, 2**32 + 3, "input_axon: values in"),
    ("crossbar", np.int32, 65536, r"crossbar: values in \[0, 65536\] do not fit its stored type int16"),
])
def test_save_refuses_values_its_stored_types_would_change(tmp_path: Path, field: str, dtype: type, value: float,
                                                           message: str) -> None:
    d = net()
    arr = getattr(d, field).astype(dtype)
    arr.reshape(-1)[0] = value
    setattr(d, field, arr)
    with pytest.raises(DeploymentError, match=message):
        save(d, tmp_path / "x.sfd")
    assert not list(tmp_path.iterdir())  # nothing written


def test_wider_integer_arrays_holding_storable_values_save(tmp_path: Path) -> None:
    d = net()
    d.weights = d.weights.astype(np.int64)
    np.testing.assert_array_equal(load(save(d, tmp_path / "x.sfd")).weights, d.weights)


@pytest.mark.parametrize(("field", "value"), [("ticks_per_input", 2.5), ("n_classes", 2.9), ("n_inputs", True),
                                              ("input_shape", "abc"), ("input_shape", (2, 0)),
                                              ("core_labels", "a")])
def test_scalar_fields_must_have_their_types(field: str, value: object) -> None:
    d = net()
    setattr(d, field, value)
    with pytest.raises(DeploymentError, match=field):
        d.validate()


@pytest.mark.parametrize(("key", "value"), [("n_classes", 2.9), ("ticks_per_input", "3"), ("prng_seed", 1.9),
                                            ("input_shape", "abc"), ("core_labels", "ab")])
def test_load_refuses_mistyped_manifest_values(tmp_path: Path, key: str, value: object) -> None:
    path = save(net(), tmp_path / "x.sfd")
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest[key] = value
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)
    with pytest.raises(DeploymentFileError, match=f"manifest '{key}'"):
        load(path)


def test_load_refuses_manifest_problems_by_name(tmp_path: Path) -> None:
    def edited(change: Callable[[dict[str, Any]], None]) -> Path:
        path = save(net(), tmp_path / "x.sfd")
        with zipfile.ZipFile(path) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        manifest = json.loads(members["manifest.json"])
        change(manifest)
        members["manifest.json"] = json.dumps(manifest).encode()
        with zipfile.ZipFile(path, "w") as zf:
            for n, b in members.items():
                zf.writestr(n, b)
        return path

    def no_core(m: dict[str, Any]) -> None:
        del m["chip"]["core"]

    def bad_dtype(m: dict[str, Any]) -> None:
        m["arrays"]["leak"]["dtype"] = "bogus"

    def shape_mismatch(m: dict[str, Any]) -> None:
        m["input_shape"] = [9, 9]

    with pytest.raises(DeploymentFileError, match="malformed manifest: missing key 'core'"):
        load(edited(no_core))
    with pytest.raises(DeploymentFileError, match="manifest gives array 'leak' dtype 'bogus'; this field is int32"):
        load(edited(bad_dtype))
    with pytest.raises(DeploymentFileError, match=r"input_shape \(9, 9\) has 81 values, which do not divide"):
        load(edited(shape_mismatch))


def test_save_to_a_folder_names_it(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match=f"{tmp_path} is a folder"):
        save(net(), tmp_path)


@pytest.mark.parametrize(("args", "message"), [((-1, 4, 2), "n_cores must be an integer >= 0"),
                                               ((2.5, 4, 2), "n_cores"), ((1, 4, 0), "n_classes must be")])
def test_empty_refuses_bad_counts(args: tuple[float, int, int], message: str) -> None:
    with pytest.raises(DeploymentError, match=message):
        Deployment.empty(tiny_chip(), *args)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "message"), [
    ({"weights": (2**32 + 1,)}, "weights must be 32-bit integers"),
    ({"weights": (1.7,)}, "weights must be 32-bit integers"),
    ({"leak": 1.9}, "leak must be an integer"),
    ({"threshold": 2.5}, "threshold must be an integer"),
    ({"threshold": 2**40}, "does not fit"),
    ({"stochastic_leak": "no"}, "stochastic_leak must be true or false"),
    ({"stochastic_synapse": (1,)}, "stochastic_synapse must be true/false"),
])
def test_neuron_params_refuse_what_a_neuron_cannot_hold(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NeuronParams(**kw)  # type: ignore[arg-type]


def test_set_neurons_refuses_negative_indices_and_non_integer_destinations() -> None:
    d = net()
    with pytest.raises(ValueError, match="negative indices are refused"):
        d.set_neurons(0, -1, NeuronParams.memoryless((1,)))
    with pytest.raises(ValueError, match=r"dest must be \(core, axon, delay\) integers"):
        d.set_neurons(0, 1, NeuronParams.memoryless((1,)), dest=(0, 1, 2.7))  # type: ignore[arg-type]
    d.set_neurons(0, [0, 1], NeuronParams.memoryless((np.int64(2),)))
    assert d.weights[0, :2, 0].tolist() == [2, 2]


@pytest.mark.parametrize(("kw", "message"), [
    ({"n_axons": 4.5}, "n_axons must be an integer"), ({"n_neurons": True}, "n_neurons must be an integer"),
    ({"membrane_bits": 2.5}, "membrane_bits must be an integer"),
    ({"threshold_max": float("nan")}, "threshold_max must be an integer"),
    ({"synapse_memory_bits": -1}, "synapse_memory_bits must be >= 1"),
    ({"reset_modes": (True,)}, "reset_modes must be a tuple of integers"),
    ({"stochastic_modes": 1}, "stochastic_modes must be true or false"),
])
def test_core_spec_refuses_non_integers(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CoreSpec(**kw)  # type: ignore[arg-type]


def test_core_spec_takes_a_list_of_reset_modes() -> None:
    assert CoreSpec(reset_modes=[0, 1]).reset_modes == (0, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "message"), [
    ({"name": 5}, "name must be a non-empty string"), ({"core": {}}, "core must be a CoreSpec"),
    ({"mesh_rows": 2.5}, "mesh_rows must be an integer"), ({"tick_hz": True}, "tick_hz must be a finite number"),
    ({"energy": ("e_spike_j", 1e-12)}, r"energy must be \(name, value\) pairs"),
    ({"energy": {"e_spike_j": "abc"}}, "energy constant 'e_spike_j' must be a number"),
])
def test_chip_spec_refuses_bad_values(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ChipSpec(**{"name": "x", **kw})  # type: ignore[arg-type]


def test_chip_spec_takes_numpy_tick_rates_and_energy_dicts() -> None:
    c = ChipSpec(name="x", tick_hz=np.float32(1000), energy={"e_spike_j": 1e-12})  # type: ignore[arg-type]
    assert c.tick_hz == 1000.0 and isinstance(c.tick_hz, float) and c.energy == (("e_spike_j", 1e-12),)


def test_a_binary_crossbar_file_refuses_non_bits_even_without_the_rules(tmp_path: Path) -> None:
    d = net()
    d.crossbar[0, 0, 0] = 2
    with pytest.raises(DeploymentError, match=r"crossbar: values in \[0, 2\] on a binary-crossbar chip"):
        save(d, tmp_path / "x.sfd", check_rules=False)
    assert not list(tmp_path.iterdir())


def test_non_finite_provenance_is_written_as_strict_json(tmp_path: Path) -> None:
    d = net()
    d.provenance = {"loss": float("nan"), "curve": [1.0, float("inf")], "arr": np.array([np.nan, 2.0]), "k": 3}
    path = save(d, tmp_path / "x.sfd")
    with zipfile.ZipFile(path) as zf:
        text = zf.read("manifest.json").decode()
    manifest = json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} in the manifest"))
    assert manifest["provenance"] == {"loss": "nan", "curve": [1.0, "inf"], "arr": ["nan", 2.0], "k": 3}
    assert load(path).provenance["loss"] == "nan"
