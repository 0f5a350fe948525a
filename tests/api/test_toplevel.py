"""The top-level ``spikeforge`` namespace: lazy, complete, the same objects as the subpackages."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import spikeforge


@pytest.mark.parametrize("name", sorted(spikeforge._EXPORTS))
def test_each_export_is_the_subpackage_object(name: str) -> None:
    assert getattr(spikeforge, name) is getattr(importlib.import_module(spikeforge._EXPORTS[name]), name)
    assert name in dir(spikeforge) and name in spikeforge.__all__


def test_all_lists_exactly_the_exports() -> None:
    assert sorted(spikeforge.__all__) == sorted(["__version__", *spikeforge._EXPORTS])


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'simulte'"):
        spikeforge.simulte  # noqa: B018


def test_importing_spikeforge_loads_neither_torch_nor_numpy() -> None:
    code = "import sys, spikeforge; print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_docstring_example_runs(tmp_path: Path) -> None:
    import spikeforge as sf

    ds = sf.load_dataset("digits")
    recipe = sf.load_recipe("template-digits")
    sf.run_recipe(recipe, tmp_path / "r")
    dep = sf.load(tmp_path / "r" / "deployment.sfd")
    sf.check(dep)
    acc = sf.evaluate_deployment(dep, sf.threshold_encode(ds.x_test, threshold=0.3), ds.y_test)["accuracy"]
    assert acc == pytest.approx(0.725)
