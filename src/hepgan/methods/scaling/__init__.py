"""Dataset scaling with a WGAN-GP (seed 004): many events from a small sample, for pseudo-experiments.

The folder: ``model`` (:class:`TableWGAN` and its training task), ``config`` (the run config,
``method: scaling``), ``run`` (load the sample, train, evaluate against held-out events), ``evaluate``
(per-feature W1 over spread, classifier AUC against the AUC of two MC halves, correlations, the worth of
a generated event in MC events) and ``cli`` (``hepgan lee``: the look-elsewhere chain of
:mod:`hepgan.lee`, whose pseudo-experiments a TableWGAN draws).

The public names of those modules are importable from here, imported on first use.
"""

from __future__ import annotations

from hepgan.methods import lazy_attributes

__getattr__ = lazy_attributes(__name__, ("model", "config", "run", "evaluate"))
