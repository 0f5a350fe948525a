"""Recipe schemas, ``--set`` overrides and ``spikeforge recipes NAME`` (offline, seconds)."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from spikeforge.cli import main
from spikeforge.pipeline import METHODS, run_recipe
from spikeforge.recipes import (
    RecipeError,
    apply_overrides,
    list_recipes,
    load_recipe,
    parse_override,
    recipe_schema,
    recipe_text,
    validate_recipe,
)
from spikeforge.recipes.schema import Key, RecipeSchema, key_from_hint, table_from_callables, table_from_dataclass


@pytest.mark.parametrize("name", list_recipes())
def test_every_shipped_recipe_matches_its_method_schema(name: str) -> None:
    rec = load_recipe(name)
    validate_recipe(rec)
    assert rec.summary and len(rec.summary) <= 110 and "\n" not in rec.summary


def test_every_method_declares_a_schema_that_accepts_its_own_defaults() -> None:
    from spikeforge.methods.binary.pipeline import RECIPE_SCHEMA as binary
    from spikeforge.methods.corenet.train import TrainConfig

    for method in METHODS:
        assert isinstance(recipe_schema(method), RecipeSchema)
    # the [train] table is read from TrainConfig itself, so each of its defaults passes its own check
    defaults = {k: v for k, v in vars(TrainConfig()).items() if v is not None}
    assert binary.problems({"train": defaults}) == []
    assert set(binary.tables["train"]) == set(TrainConfig.__dataclass_fields__)
    assert set(binary.tables["model"]) == {"surrogate", "slope_start", "slope_end", "init_mean", "init_std",
                                           "dropout"}


@pytest.mark.parametrize(("config", "expected"), [
    ({"data": {"datset": "fashion-mnist"}}, "[data] unknown key 'datset' (did you mean 'dataset'?)"),
    ({"train": {"epoch": 3}}, "[train] unknown key 'epoch' (did you mean 'epochs'?)"),
    ({"train": {"epochs": "5"}}, "[train] epochs: expected an integer, got str '5'"),
    ({"train": {"epochs": 2.5}}, "[train] epochs: expected an integer, got float 2.5"),
    ({"train": {"epochs": True}}, "[train] epochs: expected an integer, got a boolean (True)"),
    ({"train": {"lr": "fast"}}, "[train] lr: expected a number, got str 'fast'"),
    ({"model": {"surrogate": "sigmod"}}, "[model] surrogate: 'sigmod' is not one of 'sigmoid', 'hard-ste', 'clt'"),
    ({"deploy": {"input_jitter": 1}}, "[deploy] input_jitter: expected true/false, got int 1"),
    ({"seeds": 2}, "unknown key 'seeds' (did you mean 'seed'?)"),
    ({"trian": {"epochs": 2}}, "unknown table 'trian' (did you mean 'train'?)"),
    ({"seed": "0"}, "seed: expected an integer, got str '0'"),
    ({"train": 5}, "[train] must be a table, got int 5"),
    ({"train": {"epochs": -1}}, "[train] epochs: must be >= 0, got -1"),
    ({"train": {"batch_size": 0}}, "[train] batch_size: must be >= 1, got 0"),
    ({"train": {"threads": 0}}, "[train] threads: must be >= 1, got 0"),
    ({"train": {"max_train": 0}}, "[train] max_train: must be >= 1, got 0"),
    ({"train": {"temperature": 0}}, "[train] temperature: must be > 0, got 0"),
    ({"train": {"momentum": 1.0}}, "[train] momentum: must be < 1, got 1.0"),
    ({"train": {"lr": float("nan")}}, "[train] lr: must be a number, got NaN"),
    ({"train": {"lr": float("inf")}}, "[train] lr: must be a finite number, got inf"),
    ({"train": {"lr_final_ratio": float("inf")}}, "[train] lr_final_ratio: must be a finite number, got inf"),
    ({"model": {"slope_start": -1}}, "[model] slope_start: must be > 0, got -1"),
    ({"model": {"slope_end": 0}}, "[model] slope_end: must be > 0, got 0"),
    ({"model": {"dropout": 1.0}}, "[model] dropout: must be < 1, got 1.0"),
    ({"train": {"optimizer": "sgd"}}, "[train] optimizer: 'sgd' is not one of 'adam', 'momentum'"),
    ({"data": {"max_test": 0}}, "[data] max_test: must be >= 1, got 0"),
    ({"deploy": {"ensemble": 0}}, "[deploy] ensemble: must be >= 1, got 0"),
    ({"encoding": {"threshold": 1.5}}, "[encoding] threshold: must be <= 1, got 1.5"),
    ({"encoding": {"ticks": 0}}, "[encoding] ticks: must be >= 1, got 0"),
])
def test_schema_names_the_table_the_key_and_the_fix(config: dict[str, Any], expected: str) -> None:
    problems = recipe_schema("binary").problems({"name": "x", "method": "binary", **config})
    assert len(problems) == 1
    assert problems[0].startswith(expected), problems[0]


@pytest.mark.parametrize(("method", "config", "expected"), [
    ("template", {"params": {"neurons_per_class": 0}}, "[params] neurons_per_class: must be >= 1, got 0"),
    ("template", {"params": {"template_threshold": 2}}, "[params] template_threshold: must be < 1, got 2"),
    ("template", {"encoding": {"ticks": -2}}, "[encoding] ticks: must be >= 1, got -2"),
    ("eedn", {"train": {"batch_size": 0}}, "[train] batch_size: must be >= 1, got 0"),
    ("eedn", {"network": {"eta": 0.5}}, "[network] eta: must be < 0.5, got 0.5"),
    ("layerwise", {"layerwise": {"keep": 1.5}}, "[layerwise] keep: must be <= 1, got 1.5"),
    ("layerwise", {"ann": {"lr": 0}}, "[ann] lr: must be > 0, got 0"),
])
def test_every_method_bounds_its_numbers(method: str, config: dict[str, Any], expected: str) -> None:
    assert recipe_schema(method).problems({"name": "x", "method": method, **config}) == [expected]


def test_config_dataclasses_refuse_numbers_out_of_range() -> None:
    """Built in Python, not from a recipe, the training configs check the same bounds."""
    from spikeforge.methods.corenet.train import TrainConfig
    from spikeforge.methods.eedn.train import TrainConfig as EednTrain
    from spikeforge.recipes.schema import bounds, field_problems

    with pytest.raises(ValueError, match=r"\[train\] epochs must be >= 0, got -1; threads must be >= 1, got 0"):
        TrainConfig(epochs=-1, threads=0)
    with pytest.raises(ValueError, match="train_input 'pixels' is not"):
        TrainConfig(train_input="pixels")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="copy_distortions = true needs copy_views"):
        TrainConfig(copy_distortions=True)
    with pytest.raises(ValueError, match="max_train must be >= 1, got 0"):
        EednTrain(max_train=0)
    assert TrainConfig(max_train=None, temperature=None).max_train is None  # None means "unset", not a number

    @dataclass
    class C:
        a: float = field(default=0.5, metadata=bounds(gt=0, lt=1))
        b: int = 0

    assert field_problems(C(a=0.5)) == []
    assert field_problems(C(a=1.0)) == ["a must be < 1, got 1.0"]
    assert field_problems(C(a=0)) == ["a must be > 0, got 0"]
    assert Key((int,), ge=1).problem(True) is not None and Key((int,), ge=1).problem("x") is not None


def test_every_problem_is_reported_at_once() -> None:
    rec = apply_overrides(load_recipe("binary-small"), ["data.datset=x", "train.epoch=1", "deploy.ensemble=two"])
    with pytest.raises(RecipeError) as err:
        validate_recipe(rec)
    msg = str(err.value)
    assert "3 problem(s)" in msg and "--set data.datset=x train.epoch=1 deploy.ensemble=two" in msg
    assert "'datset'" in msg and "'epoch'" in msg and "ensemble: expected an integer" in msg


def test_a_float_setting_takes_integers_and_an_integer_setting_refuses_floats() -> None:
    assert Key((int, float)).problem(3) is None
    assert Key((int, float)).problem(0.5) is None
    assert Key((int,)).problem(0.5) is not None
    assert Key().problem(object()) is None


def test_key_from_hint_covers_the_hint_forms_configs_use() -> None:
    assert key_from_hint(int) == Key((int,))
    assert key_from_hint(float) == Key((int, float))
    assert key_from_hint(int | None) == Key((int,))
    assert key_from_hint(Literal["a", "b"]) == Key((str,), ("a", "b"))
    assert key_from_hint(Literal["a"] | None) == Key((str,), ("a",))
    assert key_from_hint(list[int]) == Key((list,))
    assert key_from_hint(tuple[int, ...]) == Key((list,))
    assert key_from_hint(dict[str, Any]) == Key((dict,))
    assert key_from_hint(Any) == Key()
    assert key_from_hint(int | Any) == Key()
    assert Key((str,), ("a", "b")).problem("c") == "'c' is not one of 'a', 'b'"
    assert Key((int,), (1, 2)).problem(True) is not None  # TOML true is not the integer 1


@dataclass
class _Cfg:
    n: int = 1
    rate: float = 0.5
    mode: Literal["x", "y"] = "x"
    skip: str = ""


def _fn(a: int, *args: Any, b: float = 1.0, c: str | None = None, **kw: Any) -> None:
    del a, args, b, c, kw


def test_tables_are_read_from_dataclasses_and_signatures() -> None:
    t = table_from_dataclass(_Cfg, exclude=("skip",))
    assert t == {"n": Key((int,)), "rate": Key((int, float)), "mode": Key((str,), ("x", "y"))}
    assert table_from_callables(_fn) == {"b": Key((int, float)), "c": Key((str,))}


@pytest.mark.parametrize(("item", "path", "value"), [
    ("train.epochs=5", ["train", "epochs"], 5),
    ("train.lr=1e-3", ["train", "lr"], 0.001),
    ("deploy.input_jitter=true", ["deploy", "input_jitter"], True),
    ("data.dataset=fashion-mnist", ["data", "dataset"], "fashion-mnist"),
    ('data.dataset="mnist"', ["data", "dataset"], "mnist"),
    ("network.hidden=[[8, 128]]", ["network", "hidden"], [[8, 128]]),
    (" seed = 3 ", ["seed"], 3),
    ("layerwise.ticks=auto", ["layerwise", "ticks"], "auto"),
    ("data.dataset=", ["data", "dataset"], ""),
])
def test_parse_override_reads_toml_values_else_text(item: str, path: list[str], value: Any) -> None:
    assert parse_override(item) == (path, value)


@pytest.mark.parametrize(("item", "match"), [
    ("epochs", "expected KEY=VALUE"),
    ("=5", "expected KEY=VALUE"),
    ("train..epochs=5", "expected KEY=VALUE"),
    ("train=5", "train is a table; set one of its keys"),
    ("seed.x=1", "seed is a value, not a table"),
    ("name=3", "name must be a string"),
])
def test_bad_overrides_are_refused(item: str, match: str) -> None:
    with pytest.raises(RecipeError, match=match):
        apply_overrides(load_recipe("binary-small"), [item])


def test_overrides_change_a_copy_and_are_recorded() -> None:
    base = load_recipe("binary-small")
    rec = apply_overrides(base, ["train.epochs=3", "data.dataset=fashion-mnist", "deploy.ensemble=2",
                                 "data.max_test=100", "train.epochs=4"])
    assert rec.config["train"]["epochs"] == 4  # the last one wins
    assert rec.config["data"] == {"dataset": "fashion-mnist", "max_test": 100}
    assert base.config["train"]["epochs"] == 30 and base.config["data"] == {"dataset": "mnist"}
    assert rec.overrides == ("train.epochs=3", "data.dataset=fashion-mnist", "deploy.ensemble=2",
                             "data.max_test=100", "train.epochs=4")
    validate_recipe(rec)
    new_table = apply_overrides(load_recipe("template-digits"), ["params.neurons_per_class=5"])
    assert new_table.config["params"]["neurons_per_class"] == 5
    assert apply_overrides(base, []) is base


def test_run_with_overrides_uses_them_and_records_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "template-digits", "--out", str(tmp_path / "a"), "--no-report", "--json"])
    assert code == 0
    plain = json.loads(capsys.readouterr().out)
    code = main(["run", "template-digits", "--out", str(tmp_path / "b"), "--no-report", "--json",
                 "--set", "params.neurons_per_class=5"])
    assert code == 0
    changed = json.loads(capsys.readouterr().out)
    assert changed["recipe_overrides"] == ["params.neurons_per_class=5"] and "recipe_overrides" not in plain
    assert changed["recipe_config"]["params"]["neurons_per_class"] == 5 and "logical CPUs" in changed["machine"]
    assert json.loads((tmp_path / "b" / "results.json").read_text())["recipe_overrides"] == \
        ["params.neurons_per_class=5"]
    from spikeforge.deploy import load

    # 10 classes x 5 neurons instead of the recipe's 25
    assert len(load(tmp_path / "b" / "deployment.sfd").output_class) == 50 < \
        len(load(tmp_path / "a" / "deployment.sfd").output_class)


def test_a_mistyped_setting_stops_the_run_before_anything_is_written(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never"
    assert main(["run", "template-digits", "--out", str(out), "--set", "param.template_threshold=0.3"]) == 2
    err = capsys.readouterr().err
    assert "unknown table 'param' (did you mean 'params'?)" in err
    assert not out.exists()
    bad = tmp_path / "bad.toml"
    text = recipe_text("template-digits")
    assert 'dataset = "digits"' in text
    bad.write_text(text.replace('dataset = "digits"', 'datset = "digits"'))
    with pytest.raises(RecipeError, match=r"\[data\] unknown key 'datset'"):
        run_recipe(load_recipe(bad), tmp_path / "also-never")
    assert not (tmp_path / "also-never").exists()
    # brackets in a message are printed, not swallowed as console markup
    assert main(["run", str(bad), "--out", str(out)]) == 2
    assert "[data] unknown key 'datset'" in capsys.readouterr().err


def test_recipes_name_prints_the_toml_and_the_table_shows_summaries(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recipes", "binary-small"]) == 0
    text = capsys.readouterr().out
    assert tomllib.loads(text) == load_recipe("binary-small").config
    mine = tmp_path / "mine.toml"
    mine.write_text(text)
    assert main(["recipes", str(mine), "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one["name"] == "binary-small" and one["config"]["train"]["epochs"] == 30
    assert main(["recipes", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(list_recipes())
    assert all(r["summary"] == load_recipe(r["name"]).summary for r in rows)
    assert main(["recipes", "no-such"]) == 2
    assert "no recipe named 'no-such'" in capsys.readouterr().err


def test_a_recipe_without_summary_shows_its_first_sentence(tmp_path: Path) -> None:
    p = tmp_path / "r.toml"
    p.write_text('name = "r"\nmethod = "template"\ndescription = """Esser et al. 2015 style. Second sentence."""\n')
    assert load_recipe(p).summary == "Esser et al. 2015 style."


def test_load_recipe_applies_overrides() -> None:
    rec = load_recipe("binary-small", ["train.epochs=2"])
    assert rec.config["train"]["epochs"] == 2 and rec.overrides == ("train.epochs=2",)
    assert load_recipe("binary-small").overrides == ()


def test_dry_run_checks_and_prints_the_settings_without_running(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never"
    assert main(["run", "binary-small", "--set", "train.epochs=3", "--out", str(out), "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["config"]["train"]["epochs"] == 3 and plan["overrides"] == ["train.epochs=3"]
    assert plan["out"] == str(out) and plan["method"] == "binary" and not out.exists()
    assert main(["run", "binary-small", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "settings valid" in text and '"epochs": 30' in text
    assert main(["run", "binary-small", "--set", "train.epoch=3", "--dry-run"]) == 2
    assert "did you mean 'epochs'" in capsys.readouterr().err


def test_an_unknown_chip_or_a_bad_chip_file_is_found_before_the_run(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="chip: unknown chip preset 'truenorht'"):
        validate_recipe(apply_overrides(load_recipe("binary-small"), ["chip=truenorht"]))
    bad = tmp_path / "c.toml"
    bad.write_text('name = "c"\nbase = "truenorth"\n[core]\nn_axon = 3\n')
    with pytest.raises(RecipeError, match=r"chip: .*c\.toml: 1 problem\(s\)"):
        validate_recipe(apply_overrides(load_recipe("binary-small"), [f"chip={bad}"]))
    with pytest.raises(RecipeError, match=r"chip file .* does not exist"):
        validate_recipe(apply_overrides(load_recipe("binary-small"), [f"chip={tmp_path / 'none.toml'}"]))


def test_rerunning_into_a_folder_with_other_settings_says_so(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "r")
    assert main(["run", "template-digits", "--out", out, "--no-report"]) == 0
    assert "holds a run with other settings" not in capsys.readouterr().err
    assert main(["run", "template-digits", "--out", out, "--no-report"]) == 0  # the same settings: quiet
    assert "holds a run with other settings" not in capsys.readouterr().err
    assert main(["run", "template-digits", "--out", out, "--no-report", "--set", "params.neurons_per_class=5"]) == 0
    assert "holds a run with other settings" in " ".join(capsys.readouterr().err.split())


def test_every_method_reads_the_test_subset_from_data_max_test() -> None:
    from spikeforge.recipes.schema import recipe_max_test

    assert recipe_max_test({"data": {"max_test": 50}}) == 50
    assert recipe_max_test({}) is None and recipe_max_test({}, ("layerwise", "n_test"), 2000) == 2000
    assert recipe_max_test({"layerwise": {"n_test": 40}}, ("layerwise", "n_test"), 2000) == 40  # the older name
    assert recipe_max_test({"data": {"max_test": 40, "n_test": 40}}, ("data", "n_test")) == 40
    with pytest.raises(ValueError, match=r"\[data\] max_test = 50 and \[layerwise\] n_test = 40 .* disagree"):
        recipe_max_test({"data": {"max_test": 50}, "layerwise": {"n_test": 40}}, ("layerwise", "n_test"))
    for name in list_recipes():  # the key is allowed in every shipped method's recipes
        load_recipe(name, ["data.max_test=10"])
