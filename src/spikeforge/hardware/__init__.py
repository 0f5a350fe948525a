"""Chip specifications, presets and design rules."""

from spikeforge.hardware.chipfile import ChipFileError, load_chip, save_chip
from spikeforge.hardware.rules import DESIGN_RULES, DesignRule, DesignRuleError, Violation, check, check_simulable
from spikeforge.hardware.spec import LOIHI_LIKE, PRESETS, TRUENORTH, ChipSpec, CoreSpec, UnknownChipError, get_chip

__all__ = [
    "DESIGN_RULES",
    "LOIHI_LIKE",
    "PRESETS",
    "TRUENORTH",
    "ChipFileError",
    "ChipSpec",
    "CoreSpec",
    "DesignRule",
    "DesignRuleError",
    "UnknownChipError",
    "Violation",
    "check",
    "check_simulable",
    "get_chip",
    "load_chip",
    "save_chip",
]
