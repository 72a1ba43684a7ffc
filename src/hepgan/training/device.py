"""Which torch device a run uses, from the names a config or command line accepts."""

from __future__ import annotations

import torch

from hepgan.exceptions import HepganError

__all__ = ["resolve_device"]


def resolve_device(name: str | torch.device) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when torch sees a GPU) as a torch.device.

    Raises:
        HepganError: for an unknown name, or CUDA asked for where torch sees no GPU.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise HepganError(f"device '{name}' asked for, but torch sees no CUDA GPU (use device: cpu or auto)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise HepganError(f"device '{name}': unknown device (expected cpu, cuda, cuda:N or auto)") from None
