"""Every named design rule fires on a deliberately broken deployment, naming the rule, the place and the value;
all violations are reported at once; a valid deployment passes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from spikeforge.deploy import Deployment
from spikeforge.hardware import DESIGN_RULES, LOIHI_LIKE, TRUENORTH, ChipSpec, DesignRuleError, Violation, check
from spikeforge.hardware.rules import violations


def valid(chip: ChipSpec = TRUENORTH, n_cores: int = 2) -> Deployment:
    """Two TrueNorth cores: core 0 neurons 0-9 relay to core 1, core 1 neurons 0-9 are outputs."""
    d = Deployment.empty(chip, n_cores, 4, 2)
    d.crossbar[:, :8, :10] = 1
    d.axon_type[:, 1::2] = 1
    d.weights[:, :, 0], d.weights[:, :, 1] = 3, -2
    d.enabled[:, :10] = True
    d.threshold[:, :10] = 2
    d.dest_core[0, :10], d.dest_axon[0, :10], d.dest_delay[0, :10] = 1, np.arange(10), 2
    d.input_channel = np.arange(4, dtype=np.int32)
    d.input_core = np.zeros(4, np.int32)
    d.input_axon = np.arange(4, dtype=np.int32)
    d.output_core = np.ones(10, np.int32)
    d.output_neuron = np.arange(10, dtype=np.int32)
    d.output_class = np.arange(10, dtype=np.int32) % 2
    return d.normalised()


def test_valid_deployment_passes() -> None:
    d = valid()
    check(d)
    assert violations(d) == []


def test_disabled_neurons_parameters_are_not_checked() -> None:
    d = valid()
    d.weights[0, 200, 0] = 10_000
    d.leak[0, 200] = -10_000
    d.threshold[0, 200] = -1
    d.reset_mode[0, 200] = 7
    check(d)


def fires(d: Deployment) -> list[Violation]:
    with pytest.raises(DesignRuleError) as e:
        check(d)
    assert e.value.violations == violations(d)
    return e.value.violations


def _set(field: str, idx: tuple[int, ...], value: object) -> Callable[[Deployment], None]:
    def f(d: Deployment) -> None:
        getattr(d, field)[idx] = value

    return f


TN = TRUENORTH.core
CASES: list[tuple[str, Callable[[Deployment], None], str, object]] = [
    ("CROSSBAR-RANGE", _set("crossbar", (0, 2, 1), 2), "core 0 axon 2 neuron 1", 2),
    ("CROSSBAR-RANGE", _set("crossbar", (1, 255, 255), -1), "core 1 axon 255 neuron 255", -1),
    ("AXON-TYPE", _set("axon_type", (0, 3), 4), "core 0 axon 3", 4),
    ("WEIGHT-RANGE", _set("weights", (0, 1, 2), 256), "core 0 neuron 1 axon-type 2", 256),
    ("LEAK-RANGE", _set("leak", (1, 2), -256), "core 1 neuron 2", -256),
    ("THRESHOLD-RANGE", _set("threshold", (0, 0), -1), "core 0 neuron 0", -1),
    ("THRESHOLD-RANGE", _set("threshold", (0, 9), TN.threshold_max + 1), "core 0 neuron 9", TN.threshold_max + 1),
    ("NEG-THRESHOLD-RANGE", _set("neg_threshold", (0, 4), TN.threshold_max + 1), "core 0 neuron 4",
     TN.threshold_max + 1),
    ("RESET-VALUE-RANGE", _set("reset_value", (1, 3), TN.reset_value_max + 1), "core 1 neuron 3",
     TN.reset_value_max + 1),
    ("MEMBRANE-RANGE", _set("v_init", (0, 5), TN.v_max + 1), "core 0 neuron 5 (v_init)", TN.v_max + 1),
    ("MEMBRANE-RANGE", _set("v_init", (0, 5), TN.v_min - 1), "core 0 neuron 5 (v_init)", TN.v_min - 1),
    ("RESET-MODE", _set("reset_mode", (0, 6), 3), "core 0 neuron 6", 3),
    ("FLOOR-MODE", _set("floor_mode", (1, 7), 2), "core 1 neuron 7", 2),
    ("THRESHOLD-MASK", _set("threshold_mask", (0, 3), 5), "core 0 neuron 3", 5),  # not 2^k − 1
    ("THRESHOLD-MASK", _set("threshold_mask", (1, 2), 2**19 - 1), "core 1 neuron 2", 2**19 - 1),  # > 18 bits
    ("THRESHOLD-MASK", _set("threshold_mask", (1, 2), -1), "core 1 neuron 2", -1),
    ("DEST-CORE", _set("dest_core", (0, 1), 2), "core 0 neuron 1", 2),
    ("DEST-CORE", _set("dest_core", (0, 1), -2), "core 0 neuron 1", -2),
    ("DEST-AXON", _set("dest_axon", (0, 8), 256), "core 0 neuron 8", 256),
    ("DELAY-RANGE", _set("dest_delay", (0, 0), 0), "core 0 neuron 0", 0),
    ("DELAY-RANGE", _set("dest_delay", (0, 0), 16), "core 0 neuron 0", 16),
    ("PLACEMENT-MESH", _set("placement", (1,), (0, 64, 0)), "core 1", (0, 64, 0)),
    ("PLACEMENT-MESH", _set("placement", (1,), (16, 0, 0)), "core 1", (16, 0, 0)),
    ("PLACEMENT-UNIQUE", _set("placement", (1,), (0, 0, 0)), "cores [0, 1]", (0, 0, 0)),
    ("INPUT-AXON", _set("input_axon", (2,), 256), "input map entry 2 (channel 2)", 256),
    ("OUTPUT-NEURON", _set("output_neuron", (3,), 256), "output map entry 3", 256),
    ("OUTPUT-OFFCORE", _set("output_core", (0,), 0), "output map entry 0 (core 0 neuron 0)", 1),
    ("OUTPUT-ENABLED", _set("enabled", (1, 4), False), "output map entry 4 (core 1 neuron 4)", False),
]


@pytest.mark.parametrize(("rule", "breaks", "where", "value"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_rule_fires_with_name_location_and_value(rule: str, breaks: Callable[[Deployment], None], where: str,
                                                 value: object) -> None:
    d = valid()
    breaks(d)
    found = fires(d)
    assert [(v.rule, v.where, v.value) for v in found] == [(rule, where, value)], found
    assert rule in str(found[0]) and where in str(found[0])
    # the violation's name is one of the names its DesignRule declares
    assert sum(rule in r.name.split("/") for r in DESIGN_RULES) == 1


def test_reset_mode_unsupported_by_the_chip() -> None:
    chip = replace(TRUENORTH, name="no-linear-reset", core=replace(TRUENORTH.core, reset_modes=(0, 2)))
    d = valid(chip)
    d.reset_mode[1, 0] = 1
    (v,) = fires(d)
    assert (v.rule, v.where, v.value, v.limit) == ("RESET-MODE", "core 1 neuron 0", 1, "one of [0, 2]")


def test_threshold_the_membrane_cannot_reach() -> None:
    chip = replace(TRUENORTH, name="narrow-membrane", core=replace(TRUENORTH.core, membrane_bits=8))
    d = valid(chip)
    d.threshold[1, 3] = 127  # the membrane's largest value: reachable
    check(d)
    d.threshold[1, 3] = 128
    d.threshold[0, 200] = 10_000  # disabled neuron: not checked
    (v,) = fires(d)
    assert (v.rule, v.where, v.value) == ("THRESHOLD-REACHABLE", "core 1 neuron 3", 128)
    assert "never fires" in v.limit


def test_stochastic_modes_on_a_chip_without_them() -> None:
    assert not LOIHI_LIKE.core.stochastic_modes and TRUENORTH.core.stochastic_modes
    chip = replace(TRUENORTH, name="deterministic",
                   core=replace(TRUENORTH.core, stochastic_modes=False, threshold_mask_bits=0))
    d = valid(chip)
    d.stochastic_synapse[0, 2, 1] = True
    d.stochastic_leak[1, 3] = True
    d.threshold_mask[1, 4] = 1
    d.leak_reversal[1, 5] = True  # deterministic: allowed
    d.stochastic_leak[1, 200] = True  # disabled neuron: not checked
    found = fires(d)
    assert [(v.rule, v.where, v.value) for v in found] == [
        ("STOCHASTIC-MODE", "core 0 neuron 2 axon-type 1", "stochastic synapse"),
        ("STOCHASTIC-MODE", "core 1 neuron 3", "stochastic leak"),
        ("THRESHOLD-MASK", "core 1 neuron 4", 1),
    ]
    assert found[2].limit == "a mask 2^k - 1 with 0 <= k <= 0"
    # the same on TrueNorth passes
    t = valid()
    t.stochastic_synapse[0, 2, 1] = t.stochastic_leak[1, 3] = True
    t.threshold_mask[1, 4] = 1
    check(t)


def test_core_count() -> None:
    chip = replace(TRUENORTH, name="two-core-board", mesh_rows=1, mesh_cols=2, max_chips=1)
    d = valid(chip, n_cores=3)  # row-major placement puts core 2 on chip 1, outside the board too
    found = fires(d)
    rules = {v.rule: v for v in found}
    assert rules["CORE-COUNT"].where == "deployment" and rules["CORE-COUNT"].value == 3
    assert "at most 2 cores" in rules["CORE-COUNT"].limit
    assert rules["PLACEMENT-MESH"].where == "core 2"


def test_loihi_like_synapse_memory() -> None:
    # 128 KiB = 1,048,576 bits per core; a 9-bit synapse (crossbar range -255..255) → at most 116,508 synapses
    core = LOIHI_LIKE.core
    assert core.crossbar_bits == 9 and core.synapse_memory_bits == 1_048_576
    d = Deployment.empty(LOIHI_LIKE, 2, 1, 1)
    flat = d.crossbar.reshape(2, -1)
    flat[0, :116_508] = -255  # fits exactly: 1,048,572 bits
    flat[1, :116_509] = 255  # one synapse too many: 1,048,581 bits
    (v,) = fires(d)
    assert (v.rule, v.where, v.value) == ("SYNAPSE-MEMORY", "core 1", 116_509 * 9)
    assert "1048576 bits" in v.limit
    flat[1, 116_508] = 0
    check(d)


def test_truenorth_has_no_synapse_memory_rule() -> None:
    d = valid()
    d.crossbar[:] = 1  # a full 256 x 256 crossbar is what the hardware holds
    check(d)


def test_every_violation_is_reported_at_once() -> None:
    d = valid()
    d.weights[0, 0, 0] = 300
    d.weights[0, 1, 0] = -300
    d.leak[1, 2] = 1000
    d.dest_delay[0, 3] = 20
    d.input_axon[0] = -1
    with pytest.raises(DesignRuleError) as e:
        check(d)
    got = sorted((v.rule, v.where) for v in e.value.violations)
    assert got == sorted([
        ("WEIGHT-RANGE", "core 0 neuron 0 axon-type 0"),
        ("WEIGHT-RANGE", "core 0 neuron 1 axon-type 0"),
        ("LEAK-RANGE", "core 1 neuron 2"),
        ("DELAY-RANGE", "core 0 neuron 3"),
        ("INPUT-AXON", "input map entry 0 (channel 0)"),
    ])
    msg = str(e.value)
    assert msg.startswith("5 design-rule violation(s) for chip 'truenorth'")
    assert "WEIGHT-RANGE x2" in msg and "LEAK-RANGE x1" in msg
    assert "core 1 neuron 2: value 1000 violates leak λ in [-255, 255]" in msg


def test_long_reports_are_truncated_but_complete_in_violations() -> None:
    d = valid()
    d.weights[:, :10, 0] = 999
    with pytest.raises(DesignRuleError) as e:
        check(d)
    assert len(e.value.violations) == 20
    d.enabled[:, :] = True
    d.weights[:, :, 0] = 999
    d.output_core = d.output_neuron = d.output_class = np.zeros(0, np.int32)
    with pytest.raises(DesignRuleError) as e:
        check(d)
    assert len(e.value.violations) == 512
    assert "... and 462 more" in str(e.value)


def rule_names() -> set[str]:
    """Every name a violation can carry (a rule that checks several things lists their names with '/')."""
    return {name for r in DESIGN_RULES for name in r.name.split("/")}


def test_every_rule_name_is_tested_here_and_documented() -> None:
    tested = {c[0] for c in CASES} | {"CORE-COUNT", "SYNAPSE-MEMORY", "RESET-MODE", "STOCHASTIC-MODE",
                                      "THRESHOLD-REACHABLE"}
    assert rule_names() == tested
    doc = (Path(__file__).resolve().parents[2] / "docs" / "chip-model.md").read_text()
    missing = [n for n in sorted(rule_names()) if f"`{n}`" not in doc]
    assert not missing, f"docs/chip-model.md does not list {missing}"
