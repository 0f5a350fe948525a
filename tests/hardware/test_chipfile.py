"""User-defined chips: chip files, derived energy constants, deployments built for them (offline, seconds)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from helpers import random_deployment
from spikeforge.cli import main
from spikeforge.deploy import DeploymentError, load, save
from spikeforge.energy import estimate_energy
from spikeforge.energy.model import constants_for
from spikeforge.hardware import LOIHI_LIKE, TRUENORTH, ChipFileError, ChipSpec, check, get_chip, load_chip, save_chip
from spikeforge.hardware.chipfile import chip_to_toml
from spikeforge.sim import simulate

WIDE = """name = "truenorth-512"
base = "truenorth"
description = "TrueNorth with 512-axon cores"

[core]
n_axons = 512

[energy]
e_synaptic_event_j = 3.0e-11
"""


def _write(tmp_path: Path, text: str, name: str = "chip.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_a_chip_file_changes_only_what_it_names(tmp_path: Path) -> None:
    chip = load_chip(_write(tmp_path, WIDE))
    assert chip.name == "truenorth-512" and chip.base == "truenorth"
    assert chip.core == dataclasses.replace(TRUENORTH.core, n_axons=512)
    assert (chip.mesh_rows, chip.mesh_cols, chip.tick_hz, chip.max_chips) == (64, 64, 1000.0, 16)
    assert chip.energy == (("e_synaptic_event_j", 3.0e-11),)
    assert chip.description == "TrueNorth with 512-axon cores"
    assert "derived from the truenorth preset" in chip.source
    assert get_chip(str(tmp_path / "chip.toml")) == chip


def test_json_chip_files_read_the_same(tmp_path: Path) -> None:
    data = {"name": "tn-json", "base": "loihi-like", "core": {"n_neurons": 512}, "mesh_rows": 4}
    chip = load_chip(_write(tmp_path, json.dumps(data), "c.json"))
    assert chip.core == dataclasses.replace(LOIHI_LIKE.core, n_neurons=512)
    assert chip.mesh_rows == 4 and chip.cores_per_chip == 64


@pytest.mark.parametrize("chip", [TRUENORTH, LOIHI_LIKE, "wide"])
def test_chip_to_toml_round_trips(tmp_path: Path, chip: ChipSpec | str) -> None:
    spec = load_chip(_write(tmp_path, WIDE)) if chip == "wide" else chip
    assert isinstance(spec, ChipSpec)
    back = load_chip(save_chip(spec, tmp_path / "out.toml"))
    if spec.base:
        assert back == spec
    else:  # a preset is written as a new chip derived from it
        assert back.name == f"my-{spec.name}" and back.base == spec.name
        assert back.description == f"my chip, derived from the {spec.name} preset" and back.source == ""
        assert dataclasses.replace(back, name=spec.name, base="", description=spec.description,
                                   source=spec.source) == spec


@pytest.mark.parametrize(("text", "match"), [
    ('base = "truenorth"\n', "missing 'name'"),
    ('name = "truenorth"\nbase = "truenorth"\n', "name 'truenorth' is a preset's"),
    ('name = "x"\n', "'base' must name the preset"),
    ('name = "x"\nbase = "spinnaker"\n', "'base' must name the preset .* got 'spinnaker'"),
    ('name = "x"\nbase = "truenorth"\n[core]\nn_axon = 3\n',
     r"\[core\] unknown key 'n_axon' \(did you mean 'n_axons'\?\)"),
    ('name = "x"\nbase = "truenorth"\n[core]\nn_axons = "many"\n', r"\[core\] n_axons: expected an integer"),
    ('name = "x"\nbase = "truenorth"\n[energy]\ne_spike = 1e-12\n', r"did you mean 'e_spike_j'"),
    ('name = "x"\nbase = "truenorth"\n[energy]\ne_spike_j = -1.0\n', r"e_spike_j: must be finite and >= 0"),
    ('name = "x"\nbase = "truenorth"\n[energy]\ne_spike_j = nan\n', r"e_spike_j: must be finite and >= 0"),
    ('name = "x"\nbase = "truenorth"\nmesh = 3\n', r"unknown key 'mesh' \(did you mean 'mesh_rows'\?\)"),
    ('name = "x"\nbase = "truenorth"\n[core]\nleak_min = 5\nleak_max = 1\n', r"leak range is empty \(5 > 1\)"),
    ('name = "x"\nbase = "truenorth"\ntick_hz = 0\n', r"tick_hz must be a finite number > 0"),
    ('name = "x"\nbase = "truenorth"\nmesh_rows = 0\n', r"mesh_rows, mesh_cols and max_chips must be positive"),
    ('name = "x"\nbase = "truenorth"\nmesh_rows = 100000\nmesh_cols = 100000\n', r"more than 16777216 cores"),
    ('name = "x"\nbase = "truenorth"\n[core]\nreset_modes = [0, 5]\n', r"reset_modes must be a non-empty subset"),
    ('name = "x"\nbase = "truenorth"\n[core]\nthreshold_max = -1\n', r"threshold_max must be >= 0, got -1"),
    ('name = "x"\nbase = "truenorth"\n[core]\nthreshold_max = 10000000000\n',
     r"threshold range \[-10000000000, 10000000000\] exceeds the 32-bit signed integers"),
    ('name = "x"\nbase = "truenorth"\n[core]\ncrossbar_max = 100000\n',
     r"crossbar range \[0, 100000\] exceeds the 16-bit signed integers"),
    ("name = [", "not a readable chip file"),
])
def test_bad_chip_files_name_the_file_and_the_problem(tmp_path: Path, text: str, match: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ChipFileError, match=match) as err:
        load_chip(path)
    assert str(path) in str(err.value)


def test_missing_chip_file_and_unknown_preset() -> None:
    with pytest.raises(ChipFileError, match="does not exist"):
        get_chip("no/such/chip.toml")
    with pytest.raises(KeyError, match="or a chip file"):
        get_chip("truenorth2")


def test_derived_energy_constants_say_where_each_comes_from(tmp_path: Path) -> None:
    chip = load_chip(_write(tmp_path, WIDE))
    base, const = constants_for("truenorth"), constants_for(chip)
    assert const.chip == "truenorth-512"
    assert const.e_synaptic_event_j == 3.0e-11 and const.e_spike_j == base.e_spike_j
    assert const.p_static_core_w == base.p_static_core_w
    assert const.sources["e_synaptic_event_j"] == "chip file of 'truenorth-512'"
    assert const.sources["e_spike_j"].startswith("assumed equal to the truenorth preset's")
    with pytest.raises(ValueError, match="no energy constants for chip 'orphan'"):
        constants_for(ChipSpec(name="orphan"))


def test_a_deployment_for_a_derived_chip_is_checked_saved_simulated_and_costed(tmp_path: Path) -> None:
    chip = load_chip(_write(tmp_path, WIDE))
    rng = np.random.default_rng(3)
    dep = random_deployment(rng, chip, n_cores=2, n_inputs=400)
    assert dep.chip == chip and dep.crossbar.shape[1] == 512 and int(dep.input_axon.max()) >= 256  # wide cores
    check(dep)
    save(dep, tmp_path / "d.sfd")
    back = load(tmp_path / "d.sfd")  # the file carries the chip: no chip file needed to load it
    assert back.chip == chip
    x = rng.random((5, 3, dep.n_inputs)) < 0.3
    res = simulate(back, x, ticks=6)
    rep = estimate_energy(res.counts, chip, deployment=back)
    assert rep.constants.e_synaptic_event_j == 3.0e-11
    assert any("the truenorth preset's, with e_synaptic_event_j from the chip file" in a for a in rep.assumptions)
    # the same arrays claimed for TrueNorth itself are refused, naming the mismatch
    on_tn = dataclasses.replace(dep, chip=TRUENORTH)
    with pytest.raises(DeploymentError, match=r"crossbar: shape \(2, 512, 256\), expected \(2, 256, 256\)"):
        check(on_tn)


def test_recipes_and_the_cli_take_chip_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, WIDE.replace("n_axons = 512", "n_axons = 32").replace("truenorth-512", "tn-32"), "narrow.toml")
    _write(tmp_path, WIDE, "wide.toml")
    recipe = tmp_path / "r.toml"
    recipe.write_text('name = "r"\nmethod = "template"\nchip = "wide.toml"\n[data]\ndataset = "digits"\n'
                      '[encoding]\nkind = "threshold"\nticks = 1\nthreshold = 0.3\n')
    # the recipe's chip file is found beside the recipe, whatever the working directory
    assert main(["run", str(recipe), "--out", str(tmp_path / "o"), "--no-report", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert load(tmp_path / "o" / "deployment.sfd").chip.name == "truenorth-512" and res["accuracy"] > 0.6
    # a chip too narrow for the network: refused with a clear error, nothing written
    assert main(["run", "template-digits", "--set", f"chip={tmp_path / 'narrow.toml'}",
                 "--out", str(tmp_path / "n"), "--no-report"]) == 2
    assert "32 axons per core" in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "n" / "deployment.sfd").exists()
    # spikeforge chips: side by side, as JSON, and as a chip file to start from
    assert main(["chips", "truenorth", str(tmp_path / "wide.toml"), "--json"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert both["truenorth-512"]["core"]["n_axons"] == 512 and both["truenorth-512"]["base"] == "truenorth"
    assert "base" not in both["truenorth"] and "energy" not in both["truenorth"]
    assert main(["chips", "loihi-like", "--toml"]) == 0
    (tmp_path / "mine.toml").write_text(capsys.readouterr().out)
    assert load_chip(tmp_path / "mine.toml").core == LOIHI_LIKE.core
    assert main(["chips", "truenorth", "loihi-like", "--toml"]) == 2
    assert "--toml prints one chip" in capsys.readouterr().err
    assert main(["chips", str(tmp_path / "wide.toml")]) == 0
    text = capsys.readouterr().out
    assert "truenorth-512" in text and "truenorth's + 1 own" in text


def test_preset_files_are_unchanged_by_the_derived_chip_fields() -> None:
    d = TRUENORTH.to_dict()
    assert "base" not in d and "energy" not in d
    assert ChipSpec.from_dict(d) == TRUENORTH
    assert ChipSpec.from_dict(json.loads(json.dumps(LOIHI_LIKE.to_dict()))) == LOIHI_LIKE
    assert chip_to_toml(TRUENORTH).startswith("# A chip derived from the truenorth preset")
