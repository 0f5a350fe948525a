"""``spikeforge.devices``: the one resolver of every ``device`` setting."""

from __future__ import annotations

import pytest
import torch

from spikeforge.devices import device_problems, resolve_device


def test_cpu_and_auto_resolve() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert device_problems("cpu") == [] and device_problems("auto") == []


@pytest.mark.parametrize(("device", "message"), [
    ("gpu", "unknown device 'gpu'"), ("meta", "unsupported device 'meta'"), ("cuda:99", "is not available"),
])
def test_bad_devices_are_named(device: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_device(device)
    assert message.split("'")[0] in device_problems(device)[0]


def test_a_non_string_setting_is_named() -> None:
    assert device_problems(0) == ["device must be a string ('cpu', 'cuda[:N]' or 'auto'), got 0"]
