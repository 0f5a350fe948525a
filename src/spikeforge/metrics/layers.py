"""Group a deployment's cores into layers by their labels (``Deployment.core_labels``).

The rule (:func:`layer_key`): drop everything up to the last ``/`` (ensemble copies such as ``copy3/h[2]``
fall into one layer), then a trailing ``[index]``; labels without brackets lose a trailing run of digits
(``hidden1`` + core 0 written as ``hidden10`` cannot be told from ``hidden1``'s core 10, so label cores
``name[k]`` to keep layer names that end in digits). Unlabelled cores form the layer ``"(unlabelled)"``.
"""

from __future__ import annotations

import re

import numpy as np

from spikeforge.deploy.deployment import Deployment

_BRACKET = re.compile(r"\[[^\]]*\]$")
_DIGITS = re.compile(r"[\d_.-]+$")

UNLABELLED = "(unlabelled)"


def layer_key(label: str) -> str:
    """The layer a core label belongs to (see the module docstring)."""
    base = label.rsplit("/", 1)[-1].strip()
    if not base:
        return UNLABELLED
    if _BRACKET.search(base):
        return _BRACKET.sub("", base) or UNLABELLED
    stripped = _DIGITS.sub("", base)
    return stripped or base


def layer_groups(dep: Deployment) -> dict[str, np.ndarray]:
    """Layer name → core indices (int64), layers in order of their first core."""
    labels = list(dep.core_labels) if len(dep.core_labels) == dep.n_cores else [""] * dep.n_cores
    groups: dict[str, list[int]] = {}
    for c, label in enumerate(labels):
        groups.setdefault(layer_key(label), []).append(c)
    return {k: np.asarray(v, np.int64) for k, v in groups.items()}
