"""Data-driven background estimation with a conditional GAN (seed 002, Lohezic et al., arXiv:2212.03763).

The folder: ``model`` (:class:`ConditionalGAN`, its training task, :func:`fit_scan`),
``config`` (the run config, ``method: background``), ``run`` (train -> evaluate -> report),
``apply`` (generated objects in place of the failing ones, streamed), ``scan`` (grids of
configurations trained at once), ``search`` (Optuna studies, one run per trial) and ``cli``
(``hepgan apply``, ``demo``, ``scan``, ``search``, ``export``).

The public names of those modules are importable from here (``from hepgan.methods.background
import ConditionalGAN``), imported on first use.
"""

from __future__ import annotations

from hepgan.methods import lazy_attributes

__getattr__ = lazy_attributes(__name__, ("model", "config", "run", "apply", "scan", "search"))
