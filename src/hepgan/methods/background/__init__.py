"""Data-driven background estimation with a conditional GAN (seed 002, Lohezic et al., arXiv:2212.03763).

The folder: ``model`` (:class:`ConditionalGAN`, its training task, :func:`fit_scan`),
``config`` (the run config, ``method: background``), ``run`` (train -> evaluate -> report),
``apply`` (generated objects in place of the failing ones, streamed), ``scan`` (grids of
configurations trained at once) and ``cli`` (``hepgan apply``, ``demo``, ``scan``).

The public names below are imported on first use (``from hepgan.methods.background import
ConditionalGAN``), so that the command line starts without importing torch.
"""

from __future__ import annotations

from hepgan.methods import Method, lazy_attributes

METHOD = Method(
    name="background",
    summary="data-driven background estimation: a conditional GAN replaces the object that fails the ID in CR events",
    config="hepgan.methods.background.config:BackgroundRunConfig",
    train="hepgan.methods.background.run:train_run",
    report="hepgan.methods.background.run:write_run_report",
    formats={"hepgan.ConditionalGAN": "hepgan.methods.background.model:ConditionalGAN"},
    commands="hepgan.methods.background.cli:COMMANDS",
)

_LAZY = {
    "ConditionalGAN": "model",
    "ConditionalGANTask": "model",
    "fit_scan": "model",
    "DERIVE": "model",
    "FEATURE_SETS": "model",
    "X_OBJECT": "model",
    "MODEL_FORMAT_VERSION": "model",
    "BackgroundRunConfig": "config",
    "train_run": "run",
    "apply_model": "apply",
    "replace_objects": "apply",
}

__all__ = ["METHOD", *_LAZY]


__getattr__ = lazy_attributes(__name__, _LAZY)
