"""Event generation with a GAN and an MMD term for resonances (Butter, Plehn, Winterhalder, arXiv:1907.03764).

The folder: ``model`` (:class:`EventGAN` and its training task), ``config`` (the run config,
``method: generation``), ``run`` (train -> generate -> evaluate), ``evaluate`` (peak widths,
momentum balance, figures, report sections), ``generate`` (Parquet, ROOT or LHE files) and
``cli`` (``hepgan generate``).

The public names of those modules are importable from here, imported on first use.
"""

from __future__ import annotations

from hepgan.methods import lazy_attributes

__getattr__ = lazy_attributes(__name__, ("model", "config", "run", "evaluate", "generate"))
