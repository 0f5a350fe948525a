"""``spikeforge run`` entry point for the template method: data → templates → deployment → simulate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spikeforge.data import Encoder, load_dataset
from spikeforge.deploy import save
from spikeforge.evaluate import evaluate_deployment
from spikeforge.hardware import check
from spikeforge.methods.template.build import build_template_deployment, class_templates
from spikeforge.recipes.schema import Key, RecipeSchema, recipe_max_test, table_from_dataclass

#: tables and keys a ``method = "template"`` recipe may hold
RECIPE_SCHEMA = RecipeSchema(tables={
    "data": {"dataset": Key((str,)), "max_test": Key((int,), ge=1)},
    "encoding": table_from_dataclass(Encoder),
    "params": {"template_threshold": Key((int, float), ge=0, lt=1), "neurons_per_class": Key((int,), ge=1)},
})


def run(config: dict[str, Any], out_dir: Path, data_dir: Path | None = None) -> dict[str, Any]:
    """Build the template network from the training set, save it, and evaluate it on the test set."""
    enc = Encoder(**config.get("encoding", {"kind": "threshold", "ticks": 1, "threshold": 0.3}))
    if enc.ticks != 1:  # refused before anything is built or written
        raise ValueError(f"[encoding] ticks = {enc.ticks}: the template network reads one tick per input (its "
                         "threshold is a one-tick leak); use ticks = 1")
    data_cfg = config.get("data", {})
    ds = load_dataset(data_cfg.get("dataset", "digits"), data_dir)
    m = config.get("params", {})
    templates = class_templates(ds.x_train, ds.y_train, ds.n_classes, float(m.get("template_threshold", 0.2)))
    dep = build_template_deployment(
        templates,
        chip=str(config.get("chip", "truenorth")),
        neurons_per_class=m.get("neurons_per_class"),
        input_shape=ds.image_shape,
        provenance={"method": "template", "dataset": ds.name, "seed": int(config.get("seed", 0)),
                    "recipe": config.get("name", ""), "encoding": enc.to_dict()},
    )
    check(dep)
    save(dep, out_dir / "deployment.sfd")
    n = recipe_max_test(config) or len(ds.x_test)
    return evaluate_deployment(dep, enc.encode(ds.x_test[:n]), ds.y_test[:n], name=ds.name)
