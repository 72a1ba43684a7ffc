"""hepgan: generative adversarial networks for high-energy physics.

The public API (imported on first use, so that ``import hepgan`` stays light):

* :class:`ConditionalGAN`: data-driven background estimation (seed 002);
* :class:`EventGAN`: event generation with an MMD term (arXiv:1907.03764);
* :class:`SubtractionGAN`: samples of P_B - P_S from samples of P_B and P_S (arXiv:1912.08824);
* :class:`TableWGAN`: a WGAN-GP that scales a table of event features up (seed 004);
* :class:`UnfoldingGAN`: detector events to parton events, FCGAN or naive GAN (arXiv:1912.00477);
* :func:`load`: any hepgan model file, whatever its method.

Example:
    >>> import hepgan
    >>> hepgan.ConditionalGAN(latent_dim=8).latent_dim
    8
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "ConditionalGAN", "EventGAN", "SubtractionGAN", "TableWGAN", "UnfoldingGAN", "load"]

_LAZY = {
    "ConditionalGAN": "hepgan.methods.background.model",
    "EventGAN": "hepgan.methods.generation.model",
    "SubtractionGAN": "hepgan.methods.subtraction.model",
    "TableWGAN": "hepgan.methods.scaling.model",
    "UnfoldingGAN": "hepgan.methods.unfolding.model",
}


def load(path: str | Path, device: str = "cpu") -> Any:
    """Reads a model file written by any hepgan model's ``save``; the file's format picks the class.

    Args:
        path: the .safetensors model file (e.g. ``runs/demo/model_best.safetensors``).
        device: ``"cpu"``, ``"cuda[:N]"`` or ``"auto"``.

    Raises:
        ModelFileError: absent, corrupt or tampered files, and files that are no hepgan model.
    """
    from hepgan.exceptions import ConfigError, ModelFileError
    from hepgan.methods import estimator_class
    from hepgan.training.state import load_state

    _, meta = load_state(path)
    fmt = meta.get("format")
    try:
        cls = estimator_class(str(fmt))
    except ConfigError:
        raise ModelFileError(f"{path}: not a hepgan model file (format {fmt!r})") from None
    return cls.load(path, device=device)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hepgan' has no attribute {name!r}")
