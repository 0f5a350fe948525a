"""Chip specifications, presets and design rules."""

from spikeforge.hardware.rules import DESIGN_RULES, DesignRule, DesignRuleError, Violation, check
from spikeforge.hardware.spec import LOIHI_LIKE, PRESETS, TRUENORTH, ChipSpec, CoreSpec, get_chip

__all__ = [
    "DESIGN_RULES",
    "LOIHI_LIKE",
    "PRESETS",
    "TRUENORTH",
    "ChipSpec",
    "CoreSpec",
    "DesignRule",
    "DesignRuleError",
    "Violation",
    "check",
    "get_chip",
]
