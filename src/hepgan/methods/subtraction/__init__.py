"""The subtraction GAN: samples of P_B - P_S (or any sum with signs) from samples of its inputs
(seed 003; Butter, Plehn, Winterhalder, arXiv:1912.08824).

The folder: ``model`` (:class:`SubtractionGAN`, its training task, the seed's f(c), L_class and
L_norm, ensembles), ``config`` (the run config, ``method: subtraction``), ``run`` (load the input
samples, train, evaluate), ``evaluate`` (histograms against the truth, the binned subtraction of
the same inputs, the ensemble band and its coverage, figures, report sections) and ``cli``
(``hepgan subtract``).

The public names of those modules are importable from here, imported on first use.
"""

from __future__ import annotations

from hepgan.methods import lazy_attributes

__getattr__ = lazy_attributes(__name__, ("model", "config", "run", "evaluate"))
