"""Where PyTorch work runs: one resolver for the simulator's and the trainers' ``device`` settings.

``"auto"`` is a CUDA GPU when this torch sees one, else the CPU; ``"cpu"``; ``"cuda"`` / ``"cuda:N"``. An
unknown name or a GPU this torch cannot use raises ``ValueError`` naming it (never a silent CPU fallback).
"""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else must name a device this torch can use."""
    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as e:
            raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'") from e
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {str(dev)!r}: use 'auto', 'cpu' or 'cuda[:N]'")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(dev)!r} is not available: this torch ({torch.__version__}) sees no CUDA "
                             "GPU; use the CPU (--device cpu or auto; device='cpu' in Python)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(dev)!r} is not available: this machine has "
                             f"{torch.cuda.device_count()} CUDA GPU(s)")
    return dev


def device_problems(device: object) -> list[str]:
    """What is wrong with a ``device`` setting (empty if nothing): for the configs' validation messages."""
    if not isinstance(device, str):
        return [f"device must be a string ('cpu', 'cuda[:N]' or 'auto'), got {device!r}"]
    try:
        resolve_device(device)
    except ValueError as e:
        return [str(e)]
    return []
