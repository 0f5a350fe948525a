"""The hand-built template network (`template-digits`): its settings are checked, not silently replaced."""

from __future__ import annotations

import numpy as np
import pytest

from spikeforge.methods.template.build import build_template_deployment, class_templates


def test_templates_and_their_settings() -> None:
    x = np.array([[0, 255, 0, 255], [255, 0, 255, 0], [0, 200, 0, 255]], np.uint8)
    y = np.array([0, 1, 0])
    t = class_templates(x, y, 2, template_threshold=0.5)
    np.testing.assert_array_equal(t, [[False, True, False, True], [True, False, True, False]])
    for bad in (1.0, 2, -0.1):
        with pytest.raises(ValueError, match="template_threshold must be in \\[0, 1\\)"):
            class_templates(x, y, 2, template_threshold=bad)
    dep = build_template_deployment(t, neurons_per_class=3)
    assert int(dep.enabled.sum()) == 6  # 3 per class, not the default fill of the core
    assert int(build_template_deployment(t).enabled.sum()) == 256  # default: the whole core (128 per class)
    for bad in (0, -5):
        with pytest.raises(ValueError, match=f"neurons_per_class must be >= 1, got {bad}"):
            build_template_deployment(t, neurons_per_class=bad)
