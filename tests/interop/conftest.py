"""Make this folder's ``nirtools`` importable and build the template deployment once."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def digits_template() -> tuple[object, np.ndarray]:
    """The default recipe's deployment (one-core template matcher on scikit-learn's digits) and 120 encoded
    test images."""
    from spikeforge.data import load_dataset, threshold_encode
    from spikeforge.methods.template.build import build_template_deployment, class_templates

    ds = load_dataset("digits")
    dep = build_template_deployment(class_templates(ds.x_train, ds.y_train, ds.n_classes, 0.2),
                                    input_shape=ds.image_shape)
    return dep, threshold_encode(ds.x_test[:120], threshold=0.3)
