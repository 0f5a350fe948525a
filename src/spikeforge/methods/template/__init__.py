"""A hand-built template-matching network: the smallest end-to-end pipeline, no gradient training.

It exists as a transparent baseline and fixture (the foundation issue's "deployment built by hand"): one
TrueNorth core, memoryless neurons, one tick per input. See :func:`build_template_deployment`.
"""

from spikeforge.methods.template.build import build_template_deployment, class_templates

__all__ = ["build_template_deployment", "class_templates"]
