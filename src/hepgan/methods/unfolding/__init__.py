"""Unfolding detector effects with GANs (seeds 001 and 003; Bellagente et al., arXiv:1912.00477).

The folder: ``model`` (:class:`UnfoldingGAN`: the fully conditional GAN and the naive GAN, their
training task), ``config`` (the run config, ``method: unfolding``), ``run`` (load the matched ZW
sample, train, evaluate), ``evaluate`` (unfolded against true parton events on the full sample and
the paper's slices, calibration, the W' injection, OmniFold beside it), ``omnifold`` (the peer:
iterative classifier reweighting with scikit-learn's gradient boosting) and ``cli`` (``hepgan unfold``).

The public names of those modules are importable from here, imported on first use.
"""

from __future__ import annotations

from hepgan.methods import lazy_attributes

__getattr__ = lazy_attributes(__name__, ("model", "config", "run", "evaluate", "omnifold"))
